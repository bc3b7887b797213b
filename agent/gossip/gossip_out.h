/* Building a RECORDS message within a size budget, then encoding and
 * sending it (used by gossip.c for replies and pushes, and by
 * gossip_recv.c for relays).
 *
 * A message holds blocks, one author each, of records in the order they
 * are added. Its encoded size is bounded before it is encoded, from upper
 * bounds of the encoder's overheads, so that nothing larger than the
 * message limit is ever built: the caller learns that a message is full
 * (send it, then go on in a new one) or that a record can never be sent.
 *
 * The builder owns only its arena (record copies); the block and record
 * arrays are the caller's. It knows nothing of peers or the transport:
 * gossip_out_send() hands the encoded bytes to a function of the
 * caller's. */
#ifndef KITH_AGENT_GOSSIP_GOSSIP_OUT_H
#define KITH_AGENT_GOSSIP_GOSSIP_OUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/limits.h"
#include "proto/wire.h"

/* Upper bounds of the msgpack bytes proto_records_encode() puts around
 * each part of a message (it writes at most 9, 49 and 5), so that a
 * message is sized before it is encoded and never over its limit. */
#define GOSSIP_OUT_MSG_OVERHEAD 16   /* [type, {blocks: [...]}] */
#define GOSSIP_OUT_BLOCK_OVERHEAD 64 /* [author, after, [...]] */
#define GOSSIP_OUT_RECORD_OVERHEAD 8 /* bin header of one record */

/* A RECORDS message being built. Records are borrowed (copy false: they
 * must stay alive and unchanged until the message is sent or reset) or
 * copied into arena (copy true: store walks lend them only for the
 * duration of a callback). Fields are read-only outside gossip_out.c. */
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

enum gossip_out_add {
	GOSSIP_OUT_ADDED = 0,
	GOSSIP_OUT_FULL = 1,   /* the message is full: send it first */
	GOSSIP_OUT_TOOBIG = 2, /* the record alone is over limit: it can never be sent */
	GOSSIP_OUT_NOMEM = 3,  /* no room to copy it: nothing added */
};

/* Sends an encoded message (buf borrowed for the call) to peer; returns 0
 * or a negative code. The signature of gossip_ops.send. */
typedef int (*gossip_out_send_fn)(void *arg, const uint8_t peer[PROTO_KEY_LEN], const uint8_t *buf,
                                  size_t len);

/* Sets o up over blocks[0..cap_blocks) and recs[0..cap_recs), borrowed
 * (they must outlive o), with no arena yet. o is empty with budget and
 * limit 0 until gossip_out_reset(); gossip_out_free() releases it. */
void gossip_out_init(struct gossip_out *o, struct proto_block *blocks, size_t cap_blocks,
                     struct proto_recref *recs, size_t cap_recs);
/* Empties o (its arena is kept for reuse) for a message of at most limit
 * bytes that takes no record past budget (capped at limit) except its
 * first; copy says whether records added from now on are copied. */
void gossip_out_reset(struct gossip_out *o, size_t budget, size_t limit, bool copy);
/* Frees o's arena; o can be reset and used again. */
void gossip_out_free(struct gossip_out *o);
/* Closes the open block and opens one of author (copied) following seq
 * after. Returns false when the message has no room for another block:
 * nothing is open then. */
bool gossip_out_block(struct gossip_out *o, const uint8_t author[PROTO_KEY_LEN], uint64_t after);
/* Adds buf[0..len) to the open block (one must be open), borrowed or
 * copied as o's mode says. A record over the budget is refused as FULL
 * unless it would be the message's first; one that no message within
 * limit (or PROTO_RECORD_MAX) can hold is TOOBIG, even as a first. Only
 * ADDED changes o. */
enum gossip_out_add gossip_out_add(struct gossip_out *o, const uint8_t *buf, size_t len);
/* Closes the open block, dropping it when it holds no record. */
void gossip_out_close(struct gossip_out *o);
/* Closes the open block, encodes the message and passes it to
 * send(arg, peers[i], ...) for each of peers[0..n) (borrowed). Nothing is
 * sent when o holds no record or n is 0; an encoding error is logged.
 * Then o is empty again, with the same budget, limit and mode. Returns
 * the records sent, counted once per peer for which send returned 0. */
size_t gossip_out_send(struct gossip_out *o, gossip_out_send_fn send, void *arg,
                       const uint8_t (*peers)[PROTO_KEY_LEN], size_t n);

#endif
