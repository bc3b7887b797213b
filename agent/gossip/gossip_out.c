/* Building RECORDS messages (see gossip_out.h). */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proto/error.h"
#include "proto/wire.h"
#include "agent/core/log.h"
#include "gossip_out.h"

void gossip_out_init(struct gossip_out *o, struct proto_block *blocks, size_t cap_blocks,
                     struct proto_recref *recs, size_t cap_recs)
{
	memset(o, 0, sizeof(*o));
	o->blocks = blocks;
	o->cap_blocks = cap_blocks;
	o->recs = recs;
	o->cap_recs = cap_recs;
}

void gossip_out_reset(struct gossip_out *o, size_t budget, size_t limit, bool copy)
{
	o->n_blocks = 0;
	o->n_recs = 0;
	o->size = GOSSIP_OUT_MSG_OVERHEAD;
	o->budget = budget < limit ? budget : limit;
	o->limit = limit;
	o->block_open = false;
	o->copy = copy;
	o->arena_len = 0;
}

void gossip_out_free(struct gossip_out *o)
{
	free(o->arena);
	o->arena = NULL;
	o->arena_cap = 0;
	o->arena_len = 0;
}

void gossip_out_close(struct gossip_out *o)
{
	if (o->block_open && o->blocks[o->n_blocks - 1].n_records == 0)
		o->n_blocks--;
	o->block_open = false;
}

bool gossip_out_block(struct gossip_out *o, const uint8_t author[PROTO_KEY_LEN], uint64_t after)
{
	struct proto_block *b;

	gossip_out_close(o);
	if (o->n_blocks == o->cap_blocks)
		return false;
	b = &o->blocks[o->n_blocks++];
	memcpy(b->author, author, PROTO_KEY_LEN);
	b->after = after;
	b->first = (uint32_t)o->n_recs;
	b->n_records = 0;
	o->block_open = true;
	return true;
}

/* Copies a record into the arena, which grows geometrically; its total
 * stays under the message limit (at most PROTO_MSG_MAX). */
static int arena_append(struct gossip_out *o, const uint8_t *buf, size_t len)
{
	if (len > o->arena_cap - o->arena_len) {
		size_t cap = o->arena_cap ? o->arena_cap : 65536;
		uint8_t *grown;

		while (cap - o->arena_len < len)
			cap *= 2;
		grown = realloc(o->arena, cap);
		if (!grown)
			return -ENOMEM;
		o->arena = grown;
		o->arena_cap = cap;
	}
	memcpy(o->arena + o->arena_len, buf, len);
	o->arena_len += len;
	return 0;
}

enum gossip_out_add gossip_out_add(struct gossip_out *o, const uint8_t *buf, size_t len)
{
	const size_t alone =
	    GOSSIP_OUT_MSG_OVERHEAD + GOSSIP_OUT_BLOCK_OVERHEAD + GOSSIP_OUT_RECORD_OVERHEAD;
	struct proto_block *b;
	size_t cost;

	assert(o->block_open);
	b = &o->blocks[o->n_blocks - 1];
	if (o->limit < alone || len > o->limit - alone || len > PROTO_RECORD_MAX)
		return GOSSIP_OUT_TOOBIG;
	if (o->n_recs == o->cap_recs)
		return GOSSIP_OUT_FULL;
	cost =
	    GOSSIP_OUT_RECORD_OVERHEAD + len + (b->n_records == 0 ? GOSSIP_OUT_BLOCK_OVERHEAD : 0);
	/* The first record of a message goes in whatever the budget: a
	 * record bigger than the budget must still travel. */
	if (o->size + cost > o->budget && o->n_recs > 0)
		return GOSSIP_OUT_FULL;
	if (o->copy && arena_append(o, buf, len) < 0)
		return GOSSIP_OUT_NOMEM;
	o->recs[o->n_recs].buf = o->copy ? NULL : buf; /* copies are pointed at when sent */
	o->recs[o->n_recs].len = len;
	o->n_recs++;
	b->n_records++;
	o->size += cost;
	return GOSSIP_OUT_ADDED;
}

size_t gossip_out_send(struct gossip_out *o, gossip_out_send_fn send, void *arg,
                       const uint8_t (*peers)[PROTO_KEY_LEN], size_t n)
{
	struct mp_buf buf = {0};
	size_t sent = 0;
	int rc;

	gossip_out_close(o);
	if (o->n_recs == 0 || n == 0)
		goto reset;
	if (o->copy) {
		/* The arena is final now: point at the copies, in order. */
		size_t off = 0;
		for (size_t i = 0; i < o->n_recs; i++) {
			o->recs[i].buf = o->arena + off;
			off += o->recs[i].len;
		}
	}
	rc = proto_records_encode(&buf, o->blocks, o->n_blocks, o->recs);
	if (rc == 0 && buf.len > o->limit)
		rc = KITH_ETOOBIG; /* the overheads of gossip_out.h are wrong */
	if (rc < 0) {
		log_warnx("gossip: cannot encode %zu records: %s", o->n_recs, proto_strerror(rc));
		goto reset;
	}
	for (size_t i = 0; i < n; i++)
		if (send(arg, peers[i], buf.data, buf.len) == 0)
			sent += o->n_recs;
reset:
	mp_buf_free(&buf);
	gossip_out_reset(o, o->budget, o->limit, o->copy);
	return sent;
}
