/* Internals shared by gossip.c (digests, replies, pushes, the timer) and
 * gossip_recv.c (applying RECORDS, relaying what is new); not part of the
 * API. */
#ifndef KITH_AGENT_GOSSIP_GOSSIP_INT_H
#define KITH_AGENT_GOSSIP_GOSSIP_INT_H

#include <stddef.h>
#include <stdint.h>

#include "proto/limits.h"
#include "proto/wire.h"
#include "gossip.h"
#include "gossip_out.h"
#include "agent/core/log.h"
#include "agent/core/loop.h"

/* conf->push_fanout is at most 64; a larger value is clamped to this. */
#define GOSSIP_FANOUT_MAX 64

/* Defined in gossip_recv.c, which alone uses them. */
struct gossip_in_block;
struct gossip_author_ref;

struct gossip {
	struct loop *loop;
	struct store *store;
	const struct conf *conf;
	const struct gossip_ops *ops;
	void *arg;
	uint8_t self[PROTO_KEY_LEN];
	struct loop_timer timer;
	struct gossip_stats stats;
	struct log_limit size_log; /* records too big to send */

	size_t digest_rotor; /* first author of the next digest when it must be cut */

	/* The summary of our heads, valid while the store's generation and
	 * authors_gen (gossip_authors_changed()) are those it was made at. */
	uint8_t sum[PROTO_SUMMARY_LEN];
	bool sum_valid;
	uint64_t sum_store_gen, sum_authors_gen, authors_gen;

	/* gossip_resync_own(): our records below resync_floor come back from
	 * peers, resync_seq the highest so far. */
	bool resync;
	uint64_t resync_floor, resync_seq, resync_got;
	unsigned resync_quiet; /* digests sent since a record (ours or not) was stored */
	size_t reply_rotor;    /* first author served by the next reply */

	/* Our heads digest, refreshed before each use. */
	struct proto_head *heads;
	size_t n_heads, cap_heads;
	/* A peer's digest (PROTO_DIGEST_MAX). */
	struct proto_head *peer_heads;

	/* A RECORDS message being applied (PROTO_BLOCKS_MAX blocks,
	 * PROTO_MSG_RECORDS_MAX records) and the batch for the store:
	 * gossip_recv_alloc() and gossip_recv_free(). */
	struct proto_block *in_blocks;
	struct proto_recref *in_recs;
	struct gossip_in_block *in_state;
	struct gossip_author_ref *in_sorted;
	struct store_item *items;
	uint32_t *item_block;  /* the in_blocks index of each item */
	const char **item_why; /* what a budget refusal of each item means */

	/* The message being built: a reply, or relays. */
	struct proto_block *out_blocks;
	struct proto_recref *out_recs;
	struct gossip_out out;
};

/* The largest message we send: conf->max_message, capped at PROTO_MSG_MAX. */
size_t gossip_max_message(const struct gossip *g);
/* How many of live members news is pushed to: push_fanout, or when it is
 * auto ceil(ln(live + 1)) + 2; never more than live or GOSSIP_FANOUT_MAX. */
size_t gossip_fanout(const struct gossip *g, size_t live);
/* The fan-out for news, when pick gave picked members: from ops->live
 * when there is one, never more than picked. */
size_t gossip_fanout_of(const struct gossip *g, size_t picked);

/* Allocates g's scratch for applying RECORDS (the in_* and item* fields,
 * owned by g). Returns 0 or -ENOMEM, leaving what it allocated for
 * gossip_recv_free(). */
int gossip_recv_alloc(struct gossip *g);
/* Frees that scratch; fields never allocated must be NULL. */
void gossip_recv_free(struct gossip *g);
/* Applies a RECORDS message from peer from (gossip_recv.c). */
int gossip_on_records(struct gossip *g, const uint8_t from[PROTO_KEY_LEN], const uint8_t *buf,
                      size_t len);

#endif
