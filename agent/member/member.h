/* Membership and failure detection: SWIM with Lifeguard's refinements, as
 * memberlist and Serf do it.
 *
 * Every probe interval (scaled by the local health multiplier) one member
 * is pinged, round-robin over a shuffled list; without an ack within the
 * probe timeout, indirect_checks others are asked to ping it (PING_REQ) and
 * answer with an ACK or a NACK; still nothing, and the member becomes
 * suspect. A suspicion times out after a period that starts at
 * suspicion_max_mult times the minimum and shrinks with each independent
 * confirmation (another accuser) down to the probe interval times
 * suspicion_mult * max(1, log10(N)), as in memberlist; then the member is
 * dead. A member refutes a suspicion about itself with a higher
 * incarnation, in an alive update only it can sign. Dead members stay
 * listed and are forgotten by the gossip after dead_forget (one of them
 * still gets a ping per probe pass, so that a healed partition heals).
 *
 * memberlist heals views that fell behind (a refutation missed) by a full
 * state exchange every 30 s or so; here the member that is behind is told
 * when it shows it: a claim older than the signed word we hold of its
 * subject gets that word back at once, and a member we suspect (or hold
 * dead) that sends us anything hears our claim at once, so that it
 * refutes, and its refutation comes straight back.
 *
 * Which peers are members is not this module's business: the trust layer
 * adds and removes them. This module does no I/O of its own: it hands
 * messages to ops->send (the agent encodes and sends them) and receives
 * decoded ones through member_on_message(), so tests can run many members
 * in one process over a simulated network. */
#ifndef KITH_AGENT_MEMBER_MEMBER_H
#define KITH_AGENT_MEMBER_MEMBER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/limits.h"
#include "proto/wire.h"

struct conf;
struct loop;
struct proto_identity;

struct member_ops {
	/* Sends msg (borrowed) of the given type to peer; delivery is not
	 * guaranteed and failures are not reported. */
	void (*send)(void *arg, const uint8_t peer[PROTO_KEY_LEN], uint8_t type,
	             const struct proto_probe *msg);
	/* peer's state changed (never called about us). It runs inside the
	 * module: it must not call member_remove() nor member_free(). */
	void (*changed)(void *arg, const uint8_t peer[PROTO_KEY_LEN],
	                enum proto_member_state state);
};

struct member_info {
	uint8_t peer[PROTO_KEY_LEN];
	enum proto_member_state state;
	uint64_t incarnation;
	uint64_t last_seen; /* Unix seconds of the last message from it, 0: never */
	uint64_t since;     /* Unix seconds of the last state change */
	bool self;
};

struct member_stats {
	uint64_t probes, acks, indirect_probes, suspicions, refutations, deaths;
	uint64_t bad_updates; /* updates with a bad signature or about strangers */
	uint32_t health;      /* Lifeguard local health score, 0 (best) to 8 */
};

struct member;

/* id, c, ops and arg are borrowed and must outlive the module. incarnation
 * is ours at start (the agent persists it and passes a higher one at each
 * start). On success *out is owned by the caller (member_free()). */
int member_new(struct member **out, struct loop *l, const struct proto_identity *id,
               const struct conf *c, uint64_t incarnation, const struct member_ops *ops, void *arg);
void member_free(struct member **m);

/* Starts the probe and gossip timers and announces us (signed alive) to
 * every known member. */
int member_start(struct member *m);
/* Announces that we leave (signed left update) to a few members; the
 * caller runs the loop a little longer to let it out, then frees. */
void member_leave(struct member *m);

/* A peer the trust layer now accepts: it enters as alive with incarnation
 * 0 and is probed like the others; once we run, it is also sent a PING
 * with our alive at once, whose ACK brings its incarnation. Adding a known
 * peer does nothing. */
int member_add(struct member *m, const uint8_t peer[PROTO_KEY_LEN]);
/* A peer no longer trusted: forgotten at once, never probed again, and
 * updates about it are ignored. */
void member_remove(struct member *m, const uint8_t peer[PROTO_KEY_LEN]);

/* A decoded PING, ACK, PING_REQ, NACK or GOSSIP from member from (the
 * transport authenticated it). Updates with a bad signature, or about
 * peers not added, are ignored and counted. */
void member_on_message(struct member *m, const uint8_t from[PROTO_KEY_LEN], uint8_t type,
                       const struct proto_probe *msg);

/* State of one peer (or of us); -ENOENT when unknown. */
int member_get(const struct member *m, const uint8_t peer[PROTO_KEY_LEN], struct member_info *out);
/* Calls fn for every known member, us included. */
void member_each(const struct member *m, void (*fn)(void *arg, const struct member_info *info),
                 void *arg);
/* Up to n random members that are alive (not us), into out in random
 * order (any prefix is a random choice); returns how many. For the gossip
 * of records. */
size_t member_pick_alive(struct member *m, uint8_t (*out)[PROTO_KEY_LEN], size_t n);
/* How many members are alive, us not counted. */
size_t member_alive_count(const struct member *m);
void member_get_stats(const struct member *m, struct member_stats *out);

#endif
