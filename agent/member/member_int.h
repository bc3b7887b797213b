/* Inside the membership module: shared by member.c (the member table and
 * the rules for updates), member_probe.c (probes, indirect probes,
 * suspicion, gossip rounds) and member_queue.c (the broadcast queue). Not
 * for other modules: they use member.h. */
#ifndef KITH_AGENT_MEMBER_MEMBER_INT_H
#define KITH_AGENT_MEMBER_MEMBER_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/core/keymap.h"
#include "agent/core/log.h"
#include "agent/core/loop.h"
#include "member.h"

/* PING_REQs we carry out for others at one time. An honest member has at
 * most one probe at a time and asks indirect_checks of us, so a few dozen
 * cover any network; more are refused rather than let a peer grow us. */
#define MEMBER_RELAYS_MAX 64
/* Lifeguard's ceiling on the local health score. */
#define MEMBER_HEALTH_MAX 8
/* indirect_checks is at most 16 in conf.c's schema. */
#define MEMBER_HELPERS_MAX 16

/* One member, us included. Owned by struct member (nodes and map hold the
 * same pointer); it stays in place while its timer runs. */
struct member_node {
	struct member *m;
	uint8_t key[PROTO_KEY_LEN];
	enum proto_member_state state;
	uint64_t incarnation;
	uint64_t last_seen;  /* Unix seconds */
	uint64_t since;      /* Unix seconds of the last state change */
	uint64_t changed_ms; /* loop time of the last state change (dead_forget) */
	bool self;
	/* Its latest signed word (alive or left) we took, state 0: none; for
	 * a member whose view of it is behind (see member_on_message()). */
	struct proto_update word;
	size_t index;  /* position in m->nodes */
	size_t queued; /* position in m->queue + 1; 0: nothing queued about it */
	/* Lifeguard suspicion, while state is SUSPECT. */
	struct loop_timer suspicion;
	uint64_t suspect_start_ms, suspect_min_ms, suspect_max_ms;
	uint32_t suspect_k;                 /* confirmations expected */
	uint32_t suspect_n;                 /* confirmations received */
	uint8_t (*accusers)[PROTO_KEY_LEN]; /* suspect_k + 1, owned; [0] the first */
};

/* One update waiting to be piggybacked. */
struct member_queued {
	struct proto_update update;
	struct member_node *node; /* its subject (borrowed from the table) */
	uint32_t transmits;
	uint64_t id; /* newer updates go first among equal transmits */
};

/* A PING_REQ we carry out: we ping target with our own seq and answer the
 * requester with its seq. */
struct member_relay {
	struct member *m;
	bool active;
	uint32_t seq;       /* ours, on the PING to target */
	uint32_t their_seq; /* the requester's */
	uint8_t requester[PROTO_KEY_LEN];
	uint8_t target[PROTO_KEY_LEN];
	struct loop_timer timer;
};

/* Our own probe in flight. */
struct member_probe {
	bool active;
	uint32_t seq;
	uint8_t target[PROTO_KEY_LEN];
	uint32_t n_helpers; /* members asked by PING_REQ */
	uint32_t n_nacks;
	uint64_t indirect_deadline_ms; /* when the helpers' answers are due */
	bool waiting;                  /* the probe interval is over: only helpers are awaited */
	uint8_t helpers[MEMBER_HELPERS_MAX][PROTO_KEY_LEN];
	bool nacked[MEMBER_HELPERS_MAX];
};

struct member {
	struct loop *loop;
	const struct proto_identity *id;
	const struct conf *conf;
	const struct member_ops *ops;
	void *arg;

	struct keymap map;          /* key -> struct member_node * */
	struct member_node **nodes; /* the same nodes, in probe order */
	size_t n_nodes, cap_nodes;
	size_t probe_index; /* nodes[0 .. probe_index) were probed in this pass */
	struct member_node *self;

	uint32_t seq;
	struct member_probe probe;
	struct loop_timer probe_tick;    /* ends the probe in flight, starts the next */
	struct loop_timer probe_timeout; /* no ack yet: time for indirect probes */
	struct loop_timer gossip_tick;
	struct member_relay relays[MEMBER_RELAYS_MAX];

	struct member_queued *queue;
	size_t n_queue, cap_queue;
	uint64_t queue_ids;
	/* Our latest signed word about ourselves (alive or left), which every
	 * ACK carries: see member_send(). */
	struct proto_update self_word;
	bool has_self_word;

	uint32_t health;
	struct member_stats stats;
	bool started, leaving;
};

/* ---- member.c ---- */
struct member_node *member_node_get(const struct member *m, const uint8_t key[PROTO_KEY_LEN]);
/* Puts a new state on node: since, changed_ms, ops->changed. */
void member_node_set_state(struct member *m, struct member_node *node,
                           enum proto_member_state state);
/* Applies one received update by memberlist's precedence rules. */
void member_apply(struct member *m, const struct proto_update *u);
/* Number of members, us and the dead included (memberlist's estimate). */
size_t member_count(const struct member *m);
/* Reshuffles the probe order (Fisher-Yates). */
void member_shuffle(struct member *m);
/* Up to n random non-self members passing keep(), into out; reservoir
 * sampling, one pass. */
size_t member_sample(struct member *m, struct member_node **out, size_t n,
                     bool (*keep)(const struct member *m, const struct member_node *node,
                                  const void *arg),
                     const void *arg);
uint32_t member_next_seq(struct member *m);
uint64_t member_unix_now(void);

/* ---- member_probe.c ---- */
void member_probe_init(struct member *m);
void member_probe_start(struct member *m);
void member_probe_stop(struct member *m);
/* Forgets whatever probe or relay involves node (being removed). */
void member_probe_forget(struct member *m, const struct member_node *node);
void member_on_ack(struct member *m, const struct member_node *from, uint32_t seq);
void member_on_nack(struct member *m, const struct member_node *from, uint32_t seq);
void member_on_ping_req(struct member *m, struct member_node *from, const struct proto_probe *msg);
/* Sends type to node: msg's seq, target and updates as given, then the
 * buddy update when node is suspect or dead, our word on an ACK, and what
 * room is left filled from the queue. */
void member_send(struct member *m, struct member_node *node, uint8_t type, struct proto_probe *msg);
/* Lifeguard suspicion timers. */
void member_suspicion_start(struct member *m, struct member_node *node,
                            const uint8_t accuser[PROTO_KEY_LEN]);
/* True when accuser is a new independent confirmation (the timer shrinks). */
bool member_suspicion_confirm(struct member *m, struct member_node *node,
                              const uint8_t accuser[PROTO_KEY_LEN]);
void member_suspicion_stop(struct member *m, struct member_node *node);
void member_health_add(struct member *m, int delta);

/* ---- member_queue.c ---- */
/* Queues u (copied) about node, replacing what was queued about it. */
int member_queue_put(struct member *m, struct member_node *node, const struct proto_update *u);
/* Removes what is queued about node. */
void member_queue_drop(struct member *m, struct member_node *node);
/* Appends up to PROTO_UPDATES_MAX - msg->n_updates queued updates to msg,
 * fewest transmits first; those sent often enough leave the queue. */
void member_queue_fill(struct member *m, struct proto_probe *msg);
void member_queue_free(struct member *m);

#endif
