/* Internals shared by gossip.c (digests, replies, pushes, the timer) and
 * gossip_recv.c (applying RECORDS); not part of the API. */
#ifndef KITH_AGENT_GOSSIP_GOSSIP_INT_H
#define KITH_AGENT_GOSSIP_GOSSIP_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/wire.h"
#include "store/store.h"
#include "gossip.h"
#include "agent/core/log.h"
#include "agent/core/loop.h"

/* Upper bounds of the msgpack bytes the encoders of proto/wire.c put
 * around each part of a message (they write at most 9, 49, 5 and 44), so
 * that a message is sized before it is encoded and never over its limit. */
#define GOSSIP_MSG_OVERHEAD 16   /* [type, {blocks: [...]}] or [type, {heads, reply}] */
#define GOSSIP_BLOCK_OVERHEAD 64 /* [author, after, [...]] */
#define GOSSIP_RECORD_OVERHEAD 8 /* bin header of one record */
#define GOSSIP_HEAD_SIZE 48      /* one [author, seq] of a digest */

/* conf->push_fanout is at most 64; a larger value is clamped to this. */
#define GOSSIP_FANOUT_MAX 64
/* Passes over the blocks of one RECORDS message: the first, then retries of
 * blocks whose author was not a member, in case an admission stored by an
 * earlier pass made it one. */
#define GOSSIP_PASSES 4
/* Signatures checked per RECORDS message (~50 us each): what a message
 * holds past that is left for the next exchange, so that one message of
 * max_message bytes never holds the loop for long. */
#define GOSSIP_VERIFY_MAX 1024

/* A RECORDS message being built, within a size budget. Records are
 * borrowed (copy false) or copied into arena (copy true: store walks lend
 * them only for the duration of a callback). */
struct gossip_out {
	struct proto_block *blocks; /* cap_blocks entries, borrowed */
	struct proto_recref *recs;  /* cap_recs entries, borrowed */
	size_t cap_blocks, cap_recs;
	size_t n_blocks, n_recs;
	size_t size;   /* upper bound of the encoded message */
	size_t budget; /* no record is added past it, except the message's first */
	size_t limit;  /* nothing is added past it: the largest message we send */
	bool block_open;
	bool copy;
	uint8_t *arena; /* owned: record copies in copy mode, grown as needed */
	size_t arena_len, arena_cap;
};

enum gossip_add {
	GOSSIP_ADDED = 0,
	GOSSIP_FULL = 1,   /* the message is full: send it first */
	GOSSIP_TOOBIG = 2, /* the record alone is over limit: it can never be sent */
	GOSSIP_NOMEM = 3,
};

/* Per-block state while a RECORDS message is applied. */
enum gossip_block_state {
	GOSSIP_BLOCK_TODO = 0,
	GOSSIP_BLOCK_DONE = 1,
	GOSSIP_BLOCK_NONMEMBER = 2, /* author not a member (yet): retried */
};

struct gossip_in_block {
	uint8_t state;
	bool repeat;          /* an earlier block of the message has the same author */
	uint64_t head_before; /* our head for the author before the block was stored */
};

/* For sorting block authors to find repeats. */
struct gossip_author_ref {
	const uint8_t *author;
	uint32_t index;
};

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
	size_t reply_rotor;  /* first author served by the next reply */

	/* Our heads digest, refreshed before each use. */
	struct proto_head *heads;
	size_t n_heads, cap_heads;
	/* A peer's digest (PROTO_DIGEST_MAX). */
	struct proto_head *peer_heads;

	/* A RECORDS message being applied (PROTO_BLOCKS_MAX blocks,
	 * PROTO_MSG_RECORDS_MAX records) and the batch for the store. */
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

/* Wall clock, Unix seconds: what records' issued and expires are judged by. */
uint64_t gossip_wall_now(void);
/* The largest message we send: conf->max_message, capped at PROTO_MSG_MAX. */
size_t gossip_max_message(const struct gossip *g);
/* Peers a new record is pushed to: conf->push_fanout, capped. */
/* How many of live members news is pushed to: push_fanout, or when it is
 * auto ceil(ln(live + 1)) + 2; never more than live or GOSSIP_FANOUT_MAX. */
size_t gossip_fanout(const struct gossip *g, size_t live);

/* Builder of a RECORDS message (see struct gossip_out). */
void gossip_out_init(struct gossip_out *o, struct proto_block *blocks, size_t cap_blocks,
                     struct proto_recref *recs, size_t cap_recs);
/* Empties o; copy says whether records added from now on are copied. */
void gossip_out_reset(struct gossip_out *o, size_t budget, size_t limit, bool copy);
/* Frees o's arena. */
void gossip_out_free(struct gossip_out *o);
/* Opens a block (author borrowed, copied); false when no block fits. */
bool gossip_out_block(struct gossip_out *o, const uint8_t author[PROTO_KEY_LEN], uint64_t after);
/* Adds a record to the open block. */
enum gossip_add gossip_out_add(struct gossip_out *o, const uint8_t *buf, size_t len);
/* Closes the open block, dropping it when it holds no record. */
void gossip_out_close(struct gossip_out *o);
/* Encodes the message (closing its block) and sends it to peers[0..n);
 * the builder is then empty again, with the same budget and limit. */
void gossip_out_send(struct gossip *g, struct gossip_out *o, const uint8_t (*peers)[PROTO_KEY_LEN],
                     size_t n);

/* Logs at level (warn or info), one line per cause per LOG_TALLY_MS, a
 * record of author refused from peer from; why is borrowed. */
void gossip_log_refused(enum log_level level, const uint8_t from[PROTO_KEY_LEN],
                        const uint8_t author[PROTO_KEY_LEN], const char *why);

/* Applies a RECORDS message from peer from (gossip_recv.c). */
int gossip_on_records(struct gossip *g, const uint8_t from[PROTO_KEY_LEN], const uint8_t *buf,
                      size_t len);

#endif
