/* Applying a RECORDS message (see gossip.h).
 *
 * A block is applied only when its author is a member and we hold
 * everything up to its after. Its records are checked in order (author,
 * increasing seq, signature, time) up to the first refused one, which
 * ends the block: had the records after a forged one been stored, our head
 * would pass the forged seq and the genuine record there would never be
 * asked for again. The check here decides where a block ends, which the
 * store, judging each record alone, cannot; the store is then told the
 * signatures were checked (store_records_put_verified()). Records at or
 * under our head are already held (or superseded) and are not verified at
 * all.
 *
 * The records that pass are stored in one batch per message, cut before a
 * block whose author already had a block in the batch (it must see the
 * head the earlier block left). What is new to us is handed to
 * ops->stored and relayed to push_fanout members in blocks that follow
 * our head from before the records arrived. */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "proto/error.h"
#include "proto/peerid.h"
#include "proto/record.h"
#include "proto/wire.h"
#include "store/store.h"
#include "agent/core/log.h"
#include "gossip_int.h"
#include "gossip_out.h"

/* Passes over the blocks of one RECORDS message: the first, then retries of
 * blocks whose author was not a member, in case an admission stored by an
 * earlier pass made it one. */
#define PASSES 4
/* Signatures checked per RECORDS message (~50 us each): what a message
 * holds past that is left for the next exchange, so that one message of
 * max_message bytes never holds the loop for long. */
#define VERIFY_MAX 1024

/* Per-block state while a RECORDS message is applied. */
enum block_state {
	BLOCK_TODO = 0,
	BLOCK_DONE = 1,
	BLOCK_NONMEMBER = 2, /* author not a member (yet): retried */
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

/* One RECORDS message being applied. */
struct recv {
	const uint8_t *from; /* borrowed */
	uint64_t now;
	size_t n_blocks;
	size_t n_items; /* records waiting in g->items for the store */
	size_t stored;  /* records new to us, this pass */
	/* Relays: the members they go to, picked at the first one. */
	uint8_t (*targets)[PROTO_KEY_LEN];
	size_t n_targets;
	bool picked;
	size_t relay_block;  /* in_blocks index of the open relay block, SIZE_MAX if none */
	size_t relay_broken; /* a block whose relay stopped at an unsendable record */
	uint64_t relay_seq;  /* what the next relayed record of relay_block follows */
	size_t verified;     /* signatures checked for this message */
	bool cut_short;      /* the budget ran out: what is left comes again */
};

int gossip_recv_alloc(struct gossip *g)
{
	g->in_blocks = calloc(PROTO_BLOCKS_MAX, sizeof(*g->in_blocks));
	g->in_state = calloc(PROTO_BLOCKS_MAX, sizeof(*g->in_state));
	g->in_sorted = calloc(PROTO_BLOCKS_MAX, sizeof(*g->in_sorted));
	g->in_recs = calloc(PROTO_MSG_RECORDS_MAX, sizeof(*g->in_recs));
	g->items = calloc(PROTO_MSG_RECORDS_MAX, sizeof(*g->items));
	g->item_block = calloc(PROTO_MSG_RECORDS_MAX, sizeof(*g->item_block));
	g->item_why = calloc(PROTO_MSG_RECORDS_MAX, sizeof(*g->item_why));
	if (!g->in_blocks || !g->in_state || !g->in_sorted || !g->in_recs || !g->items ||
	    !g->item_block || !g->item_why)
		return -ENOMEM;
	return 0;
}

void gossip_recv_free(struct gossip *g)
{
	free(g->in_blocks);
	free(g->in_state);
	free(g->in_sorted);
	free(g->in_recs);
	free(g->items);
	free(g->item_block);
	free(g->item_why);
}

/* Logs at level (warn or info), one line per cause per LOG_TALLY_MS, a
 * record of author refused from peer from; why is borrowed. */
static void log_refused(enum log_level level, const uint8_t from[PROTO_KEY_LEN],
                        const uint8_t author[PROTO_KEY_LEN], const char *why)
{
	char who[2 * PROTO_PEERID_SHORT_LEN + 16];

	/* By author and sender: a flood is one line per 10 s, with its count. */
	memcpy(who, "of ", 3);
	proto_peerid_short(who + 3, author);
	if (memcmp(from, author, PROTO_KEY_LEN) != 0) {
		size_t at = strlen(who);
		memcpy(who + at, " from ", 6);
		proto_peerid_short(who + at + 6, from);
	}
	log_tally(level, "gossip: refused", 1, "record", who, why);
}

static int author_ref_cmp(const void *a, const void *b)
{
	const struct gossip_author_ref *x = a, *y = b;
	int c = memcmp(x->author, y->author, PROTO_KEY_LEN);

	if (c)
		return c;
	return (x->index > y->index) - (x->index < y->index);
}

/* Resets the block states and flags every block whose author has an
 * earlier block in the message. */
static void mark_repeats(struct gossip *g, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		g->in_state[i] = (struct gossip_in_block){.state = BLOCK_TODO};
		g->in_sorted[i] = (struct gossip_author_ref){g->in_blocks[i].author, (uint32_t)i};
	}
	qsort(g->in_sorted, n, sizeof(*g->in_sorted), author_ref_cmp);
	for (size_t i = 1; i < n; i++)
		if (!memcmp(g->in_sorted[i - 1].author, g->in_sorted[i].author, PROTO_KEY_LEN))
			g->in_state[g->in_sorted[i].index].repeat = true;
}

/* ---- relays ---- */

static void relay_send(struct gossip *g, struct recv *r)
{
	g->stats.records_sent +=
	    gossip_out_send(&g->out, g->ops->send, g->arg,
	                    (const uint8_t(*)[PROTO_KEY_LEN])r->targets, r->n_targets);
}

/* Up to gossip_fanout() live members other than the sender (and us). */
static void relay_pick(struct gossip *g, struct recv *r)
{
	uint8_t cand[GOSSIP_FANOUT_MAX + 1][PROTO_KEY_LEN];
	size_t want, n;

	r->picked = true;
	n = g->ops->pick(g->arg, cand, GOSSIP_FANOUT_MAX + 1);
	want = gossip_fanout_of(g, n);
	for (size_t i = 0; i < n && r->n_targets < want; i++)
		if (memcmp(cand[i], r->from, PROTO_KEY_LEN) != 0 &&
		    memcmp(cand[i], g->self, PROTO_KEY_LEN) != 0)
			memcpy(r->targets[r->n_targets++], cand[i], PROTO_KEY_LEN);
}

/* Queues a record of block bi, new to us, for the relay message; a full
 * message goes out and the block goes on in the next one, after the last
 * seq relayed. */
static void relay_add(struct gossip *g, struct recv *r, size_t bi, const uint8_t *buf, size_t len,
                      uint64_t seq)
{
	const struct proto_block *b = &g->in_blocks[bi];
	struct gossip_out *o = &g->out;
	enum gossip_out_add res;

	if (!r->picked)
		relay_pick(g, r);
	if (r->n_targets == 0 || r->relay_broken == bi)
		return;
	if (r->relay_block != bi) {
		r->relay_block = bi;
		r->relay_seq = g->in_state[bi].head_before;
		if (!gossip_out_block(o, b->author, r->relay_seq)) {
			relay_send(g, r);
			gossip_out_block(o, b->author, r->relay_seq);
		}
	}
	res = gossip_out_add(o, buf, len);
	if (res == GOSSIP_OUT_FULL) {
		relay_send(g, r);
		gossip_out_block(o, b->author, r->relay_seq);
		res = gossip_out_add(o, buf, len);
	}
	if (res != GOSSIP_OUT_ADDED) {
		/* What follows may not be relayed without it: anti-entropy
		 * will carry the block instead. */
		gossip_out_close(o);
		r->relay_broken = bi;
		return;
	}
	r->relay_seq = seq;
}

/* ---- storing ---- */

/* One line per record new to us, for an admin following what arrives (and
 * for tests/bench/gossip.py, which times arrivals by it). The name passed
 * the decoder's text check: no control characters. */
static void log_stored(const struct recv *r, const struct proto_record *rec)
{
	char a[PROTO_PEERID_SHORT_LEN + 1], f[PROTO_PEERID_SHORT_LEN + 1];
	const char *kind = proto_kind_name(rec->kind);

	if (log_get_level() < LOG_LEVEL_DEBUG)
		return;
	proto_peerid_short(a, rec->author);
	proto_peerid_short(f, r->from);
	log_debug("gossip: stored %s record %s/%" PRIu64 " '%s' from %s", kind ? kind : "unknown",
	          a, rec->seq, rec->name, f);
}

/* The outcome of one record of the batch. */
static void batch_result(struct gossip *g, struct recv *r, size_t i)
{
	const struct store_item *it = &g->items[i];
	size_t bi = g->item_block[i];
	struct proto_record rec;

	if (proto_record_decode(&rec, it->buf, it->len) < 0)
		return; /* cannot be: it was decoded before it was queued */
	if (it->err == KITH_EQUOTA) {
		/* Over its author's budget: passed over, as an expired one. */
		g->stats.rej_budget++;
		log_refused(LOG_LEVEL_WARN, r->from, g->in_blocks[bi].author,
		            g->item_why[i] ? g->item_why[i] : proto_strerror(it->err));
		return;
	}
	if (it->err < 0) {
		/* Passed our checks, refused by the store: an author that
		 * signed two records with one seq (-EEXIST), or a record that
		 * expired meanwhile. A record stands at that seq either way. */
		if (it->err == KITH_EBADSIG)
			g->stats.rej_signature++;
		else
			g->stats.rej_invalid++;
		log_refused(LOG_LEVEL_WARN, r->from, g->in_blocks[bi].author,
		            it->err == -EEXIST ? "another record has its seq"
		                               : proto_strerror(it->err));
		return;
	}
	if (it->result == STORE_PUT_STALE) {
		g->stats.stale++;
		return;
	}
	g->stats.records_stored++;
	r->stored++;
	log_stored(r, &rec);
	g->ops->stored(g->arg, &rec);
	relay_add(g, r, bi, it->buf, it->len, rec.seq);
}

/* Stores the records waiting in g->items. Returns 0 or a store error. */
static int flush(struct gossip *g, struct recv *r)
{
	size_t n = r->n_items;
	int rc;

	r->n_items = 0;
	if (n == 0)
		return 0;
	rc = store_records_put_verified(g->store, g->items, n, r->now);
	if (rc < 0) {
		log_tally(LOG_LEVEL_WARN, "gossip: could not store", n, "record", "of a batch",
		          proto_strerror(rc));
		return rc;
	}
	for (size_t i = 0; i < n; i++)
		batch_result(g, r, i);
	return 0;
}

/* ---- checking ---- */

/* Checks one record of block bi (head: ours before the block) and queues
 * it for the store. Returns false when the block ends at it. */
static bool take_record(struct gossip *g, struct recv *r, size_t bi, const struct proto_recref *ref,
                        uint64_t head, uint64_t *prev)
{
	const struct proto_block *b = &g->in_blocks[bi];
	struct proto_record rec;
	int rc = proto_record_decode(&rec, ref->buf, ref->len);

	if (rc < 0) {
		g->stats.rej_invalid++;
		log_refused(LOG_LEVEL_WARN, r->from, b->author, proto_strerror(rc));
		return false;
	}
	if (proto_block_check(b, &rec, prev) < 0) {
		g->stats.rej_invalid++;
		log_refused(LOG_LEVEL_WARN, r->from, b->author,
		            "another author's, or out of seq order in its block");
		return false;
	}
	if (rec.seq <= head || (g->resync && !memcmp(rec.author, g->self, PROTO_KEY_LEN) &&
	                        rec.seq >= g->resync_floor)) {
		g->stats.stale++; /* held, or superseded by what we hold */
		return true;
	}
	/* A message's work is bounded: the rest of it waits for the next
	 * exchange, which our heads digest will ask for. */
	if (r->verified == VERIFY_MAX) {
		r->cut_short = true;
		return false;
	}
	r->verified++;
	rc = proto_record_verify(&rec);
	if (rc < 0) {
		g->stats.rej_signature++;
		log_refused(LOG_LEVEL_WARN, r->from, b->author, proto_strerror(rc));
		return false;
	}
	rc = proto_record_check_time(&rec, r->now);
	if (rc < 0) {
		g->stats.rej_invalid++;
		log_refused(LOG_LEVEL_WARN, r->from, b->author, proto_strerror(rc));
		/* An expired record is genuine (signed) and would never be
		 * stored: going past it misses nothing. One from the future
		 * will be good later: the block waits for it. */
		return rc == KITH_EEXPIRED;
	}
	if (g->resync && !memcmp(rec.author, g->self, PROTO_KEY_LEN)) {
		g->resync_seq = rec.seq; /* blocks come in seq order */
		g->resync_got++;
		g->resync_quiet = 0;
	}
	g->items[r->n_items] = (struct store_item){.buf = ref->buf, .len = ref->len};
	if (g->ops->budget)
		g->items[r->n_items].budget =
		    g->ops->budget(g->arg, rec.author, rec.kind, &g->item_why[r->n_items]);
	g->item_block[r->n_items] = (uint32_t)bi;
	r->n_items++;
	return true;
}

/* Applies block bi, or marks it as waiting for its author's membership.
 * Returns 0 or a store error. */
static int apply_block(struct gossip *g, struct recv *r, size_t bi)
{
	const struct proto_block *b = &g->in_blocks[bi];
	struct gossip_in_block *st = &g->in_state[bi];
	uint64_t head, prev = b->after;
	int rc;

	if (!g->ops->accept(g->arg, b->author)) {
		st->state = BLOCK_NONMEMBER;
		return 0;
	}
	st->state = BLOCK_DONE;
	rc = store_head_get(g->store, b->author, &head);
	if (rc < 0) {
		log_warnx("gossip: reading a head: %s", proto_strerror(rc));
		return rc;
	}
	if (g->resync && !memcmp(b->author, g->self, PROTO_KEY_LEN))
		head = g->resync_seq; /* gossip_resync_own() */
	if (head < b->after) {
		g->stats.blocks_skipped++; /* we lack (head, after]: anti-entropy will fill it */
		return 0;
	}
	st->head_before = head;
	for (uint32_t i = 0; i < b->n_records; i++)
		if (!take_record(g, r, bi, &g->in_recs[b->first + i], head, &prev))
			break;
	return 0;
}

/* Counts and logs the blocks still refused for their author. */
static void refuse_nonmembers(struct gossip *g, struct recv *r)
{
	for (size_t i = 0; i < r->n_blocks; i++) {
		const struct proto_block *b = &g->in_blocks[i];

		if (g->in_state[i].state != BLOCK_NONMEMBER || b->n_records == 0)
			continue;
		g->stats.rej_nonmember += b->n_records;
		log_refused(LOG_LEVEL_INFO, r->from, b->author, "author is not a member");
	}
}

/* One pass over the blocks in state want; returns 0 or a store error. */
static int apply_pass(struct gossip *g, struct recv *r, uint8_t want)
{
	int rc = 0;

	r->stored = 0;
	for (size_t i = 0; i < r->n_blocks && rc == 0 && !r->cut_short; i++) {
		if (g->in_state[i].state != want)
			continue;
		if (g->in_state[i].repeat)
			rc = flush(g, r);
		if (rc == 0)
			rc = apply_block(g, r, i);
	}
	if (rc == 0)
		rc = flush(g, r);
	return rc;
}

static bool any_nonmember(const struct gossip *g, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (g->in_state[i].state == BLOCK_NONMEMBER)
			return true;
	return false;
}

int gossip_on_records(struct gossip *g, const uint8_t from[PROTO_KEY_LEN], const uint8_t *buf,
                      size_t len)
{
	uint8_t targets[GOSSIP_FANOUT_MAX][PROTO_KEY_LEN];
	struct recv r = {
	    .from = from,
	    .now = loop_wall_s(),
	    .targets = targets,
	    .relay_block = SIZE_MAX,
	    .relay_broken = SIZE_MAX,
	};
	size_t n_recs;
	int rc;

	rc = proto_records_decode(g->in_blocks, PROTO_BLOCKS_MAX, &r.n_blocks, g->in_recs,
	                          PROTO_MSG_RECORDS_MAX, &n_recs, buf, len);
	if (rc < 0)
		return rc;
	mark_repeats(g, r.n_blocks);
	gossip_out_reset(&g->out, gossip_max_message(g), gossip_max_message(g), false);

	/* An admission stored by one pass can make the author of a block
	 * refused in it a member: retry those while passes store something. */
	rc = apply_pass(g, &r, BLOCK_TODO);
	for (int pass = 1; pass < PASSES && rc == 0 && r.stored > 0; pass++) {
		if (!any_nonmember(g, r.n_blocks))
			break;
		rc = apply_pass(g, &r, BLOCK_NONMEMBER);
	}
	refuse_nonmembers(g, &r);
	if (r.stored)
		g->resync_quiet = 0; /* gossip_resync_own(): still catching up */
	relay_send(g, &r);
	if (r.cut_short)
		g->stats.cut_short++;
	/* A store failure is ours, not the sender's: it is logged, and the
	 * records not stored will come again. */
	return 0;
}
