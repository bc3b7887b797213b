/* Replication of records: Scuttlebutt-style anti-entropy plus a push of
 * what is new.
 *
 * Every sync interval we send one random live member a SUMMARY: a hash
 * of our heads digest (author -> highest seq held, over the authors
 * ops->accept() takes). When its own differs, it sends us its digest in a
 * SYNC asking for a reply; we answer with the records it lacks, in seq
 * order per author, within sync_budget bytes, and with our own digest, to
 * which it answers with what we lack. Agents that hold the same records,
 * which is nearly always, so exchange a few bytes a second whatever the
 * number of members; a digest costs 48 bytes per author.
 * Records travel in blocks per author that say which seq they follow, and
 * a block is applied only by an agent that holds everything up to there,
 * so every agent holds, for every author, all current records up to its
 * head: the digest alone says what is missing. New records (our own, or
 * new to us) are pushed at once to gossip_fanout() live members (push_fanout,
 * or ln(N + 1) + 2 of N when it is auto) in the same
 * block form, so news spreads in O(log N) rounds while anti-entropy
 * guarantees completeness.
 *
 * Every record is decoded, signature-checked and time-checked by the store
 * before it is kept; records of authors that are not members (ops->accept)
 * are refused. Within a block, the first refused record stops the block:
 * a forged record cannot make us skip the genuine one at its seq (an
 * expired one, being genuine, is passed over). Blocks refused for their
 * author are retried, up to 3 times, when the same message admitted it.
 *
 * Bounds: no message over max_message is built; a record too big for any
 * message is logged and not sent, nor the records of its author after it.
 * A digest holds what fits in max_message and at most PROTO_DIGEST_MAX
 * authors; with more, successive digests are windows over our authors
 * that move on each time, and a peer sends the authors missing from a
 * digest from their start (stale for us: wasted bytes, never a wrong
 * state). Replies serve authors from a point that moves every reply, so a
 * small budget is shared over rounds. We offer only records of authors
 * ops->accept() takes. */
#ifndef KITH_AGENT_GOSSIP_GOSSIP_H
#define KITH_AGENT_GOSSIP_GOSSIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/limits.h"
#include "proto/record.h"
#include "store/store.h"

struct conf;
struct loop;
struct store;
struct store_budget;

/* The callbacks run inside gossip calls. send must not call back into
 * this module (queue the message); stored may call gossip_publish() and
 * gossip_sync_with(), not gossip_on_message(). */
struct gossip_ops {
	/* Sends an encoded message (buf borrowed for the call) to peer.
	 * Returns 0 or a negative code. */
	int (*send)(void *arg, const uint8_t peer[PROTO_KEY_LEN], const uint8_t *buf, size_t len);
	/* Up to n random live members other than us, in random order;
	 * returns how many. */
	size_t (*pick)(void *arg, uint8_t (*out)[PROTO_KEY_LEN], size_t n);
	/* How many live members there are besides us, for the fan-out (may be
	 * NULL: the fan-out is then reckoned from what pick gives, at most
	 * GOSSIP_FANOUT_MAX + 1). */
	size_t (*live)(void *arg);
	/* May records of author be stored (a current member)? */
	bool (*accept)(void *arg, const uint8_t author[PROTO_KEY_LEN]);
	/* rec (borrowed) was stored, new or replacing an older one: one from
	 * a peer, or one of gossip_publish(). */
	void (*stored)(void *arg, const struct proto_record *rec);
	/* The budget a record of author of kind from a peer gets in the store
	 * (NULL: none; see store_item), and in *why what a refusal under it
	 * means, for the log. May be NULL: no budgets. */
	const struct store_budget *(*budget)(void *arg, const uint8_t author[PROTO_KEY_LEN],
	                                     uint8_t kind, const char **why);
	/* gossip_resync_own() is over (may be NULL). */
	void (*resynced)(void *arg);
};

struct gossip_stats {
	uint64_t summaries_sent, summaries_received;
	uint64_t summaries_differ; /* received, ours differed: our digest went back */
	uint64_t syncs_sent, syncs_received;
	uint64_t records_sent;   /* counted once per peer sent to */
	uint64_t records_stored; /* from peers, new to us */
	uint64_t stale;          /* already held: not an error */
	uint64_t rej_nonmember;  /* author not a member */
	uint64_t rej_signature;  /* bad signature */
	uint64_t rej_invalid;    /* malformed, expired, from the future, conflicting */
	uint64_t rej_budget; /* over the author's budget (or the store near full): passed over */
	uint64_t blocks_skipped; /* blocks following a seq we do not hold yet */
	uint64_t cut_short;      /* messages with more to check than one message may ask */
};

struct gossip;

/* s, c, self, ops and arg are borrowed and must outlive the module (c is
 * read at each use). On success *out is owned by the caller
 * (gossip_free()); it holds about 1.4 MB of buffers for the largest
 * messages. */
int gossip_new(struct gossip **out, struct loop *l, struct store *s, const struct conf *c,
               const uint8_t self[PROTO_KEY_LEN], const struct gossip_ops *ops, void *arg);
void gossip_free(struct gossip **g);
/* Starts the anti-entropy timer. */
int gossip_start(struct gossip *g);
/* Our store was restored empty from the recovery kit: our records made
 * before (seqs below floor, the first we drew since) live only at our
 * partners, and a heads digest cannot ask for records below our own head.
 * Until GOSSIP_RESYNC_QUIET digests in a row are followed by nothing stored
 * at all, our digests give as our own head the highest of those received
 * so far (0 at first), and our records below floor are taken from peers
 * in seq order; then ops->resynced. */
#define GOSSIP_RESYNC_QUIET 8
void gossip_resync_own(struct gossip *g, uint64_t floor);

/* The set of authors ops->accept() takes changed (a member came or
 * went): the summary of our heads is made again. The caller must call it
 * whenever an answer of ops->accept() may change, or peers that differ
 * only in such an author would not see it until the store changes. */
void gossip_authors_changed(struct gossip *g);

/* A SUMMARY, SYNC or RECORDS message from member from. Returns 0, or the decode
 * error of a malformed message (the caller penalizes the sender). Refused
 * records are counted, not errors. */
int gossip_on_message(struct gossip *g, const uint8_t from[PROTO_KEY_LEN], uint8_t type,
                      const uint8_t *buf, size_t len);

/* Stores a record we made (buf borrowed), calls ops->stored, and pushes it
 * to gossip_fanout() live members at once. A record not newer than the one
 * stored is a no-op. Returns 0, the decode error or the store's error. */
int gossip_publish(struct gossip *g, const uint8_t *buf, size_t len);
/* The same, pushing to every live member (up to GOSSIP_URGENT_FANOUT)
 * rather than push_fanout: for revocations, which must take effect
 * everywhere at once. */
#define GOSSIP_URGENT_FANOUT 1024
int gossip_publish_urgent(struct gossip *g, const uint8_t *buf, size_t len);
/* A record of another member that the admin hands us (kith record
 * import), checked and applied as one from a peer: its author must be a
 * member (else KITH_ENOGRANT) and it must fit its author's budget
 * (KITH_EQUOTA: passed over); stored, it goes to ops->stored and is pushed
 * like ours. *result says whether it was new. Returns 0 or a negative
 * code (decode, signature, time, store). */
int gossip_import(struct gossip *g, const uint8_t *buf, size_t len, enum store_put_result *result);
/* Starts an exchange with peer now (a member that just came alive). */
void gossip_sync_with(struct gossip *g, const uint8_t peer[PROTO_KEY_LEN]);

void gossip_get_stats(const struct gossip *g, struct gossip_stats *out);

#endif
