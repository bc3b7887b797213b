/* Unit tests of the RECORDS message builder (agent/gossip/gossip_out.c)
 * alone: blocks per author, the budget and the limit, what gossip_out_add()
 * refuses, borrowed and copied records, and what gossip_out_send() hands
 * to the transport, decoded back with proto_records_decode(). */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/log.h"
#include "agent/gossip/gossip_out.h"
#include "proto/limits.h"
#include "proto/wire.h"
#include "tap.h"

/* The cost of a message holding one record of len bytes. */
#define ALONE (GOSSIP_OUT_MSG_OVERHEAD + GOSSIP_OUT_BLOCK_OVERHEAD + GOSSIP_OUT_RECORD_OVERHEAD)
#define PEERS_MAX 4

static struct proto_block blocks[PROTO_BLOCKS_MAX + 8];
static struct proto_recref recs[PROTO_MSG_RECORDS_MAX + 8];

/* What the fake transport saw: the last message, per peer. */
struct wire {
	size_t calls;
	uint8_t peers[PEERS_MAX][PROTO_KEY_LEN];
	uint8_t *msg[PEERS_MAX];
	size_t len[PEERS_MAX];
	int fail_peer; /* send to this peer index (by first key byte) fails; -1: none */
	/* The last message decoded */
	struct proto_block blocks[64];
	struct proto_recref recs[256];
	size_t n_blocks, n_recs;
};

static struct wire wire;

static void wire_clear(void)
{
	for (size_t i = 0; i < PEERS_MAX; i++)
		free(wire.msg[i]);
	memset(&wire, 0, sizeof(wire));
	wire.fail_peer = -1;
}

static int fake_send(void *arg, const uint8_t peer[PROTO_KEY_LEN], const uint8_t *buf, size_t len)
{
	struct wire *w = arg;
	size_t i = w->calls++;

	if (i >= PEERS_MAX)
		return -1;
	memcpy(w->peers[i], peer, PROTO_KEY_LEN);
	w->msg[i] = malloc(len);
	if (w->msg[i])
		memcpy(w->msg[i], buf, len);
	w->len[i] = len;
	return peer[0] == w->fail_peer ? -EIO : 0;
}

/* Decodes the message peer i got into wire.blocks and wire.recs. */
static int wire_decode(size_t i)
{
	return proto_records_decode(wire.blocks, 64, &wire.n_blocks, wire.recs, 256, &wire.n_recs,
	                            wire.msg[i], wire.len[i]);
}

static void key(uint8_t k[PROTO_KEY_LEN], uint8_t fill)
{
	memset(k, fill, PROTO_KEY_LEN);
}

/* peers[i] is all i + 1 (so fail_peer matches by index + 1). */
static uint8_t peers[PEERS_MAX][PROTO_KEY_LEN];

static size_t send_to(struct gossip_out *o, size_t n)
{
	return gossip_out_send(o, fake_send, &wire, (const uint8_t(*)[PROTO_KEY_LEN])peers, n);
}

static bool rec_is(size_t i, const uint8_t *buf, size_t len)
{
	return wire.recs[i].len == len && (len == 0 || !memcmp(wire.recs[i].buf, buf, len));
}

static void test_init_reset(void)
{
	struct gossip_out o;

	gossip_out_init(&o, blocks, 10, recs, 20);
	ok(o.blocks == blocks && o.recs == recs, "init: arrays borrowed as given");
	is(o.cap_blocks, 10, "init: cap_blocks");
	is(o.cap_recs, 20, "init: cap_recs");
	ok(o.n_blocks == 0 && o.n_recs == 0 && !o.block_open && !o.arena, "init: empty, no arena");

	gossip_out_reset(&o, 5000, 1000, true);
	is(o.budget, 1000, "reset: budget capped at limit");
	is(o.limit, 1000, "reset: limit");
	is(o.size, GOSSIP_OUT_MSG_OVERHEAD, "reset: size is the message overhead");
	ok(o.copy, "reset: copy mode");
	gossip_out_reset(&o, 300, 1000, false);
	is(o.budget, 300, "reset: a budget under limit is kept");
	ok(!o.copy, "reset: borrow mode");

	gossip_out_close(&o); /* nothing open: harmless */
	is(o.n_blocks, 0, "close without a block does nothing");
	gossip_out_free(&o);
	gossip_out_free(&o);
	ok(!o.arena, "free without an arena, twice, is harmless");
}

static void test_blocks(void)
{
	struct gossip_out o;
	uint8_t a[PROTO_KEY_LEN], b[PROTO_KEY_LEN], c[PROTO_KEY_LEN];
	const uint8_t r1[] = "one", r2[] = "two!", r3[] = "three";
	size_t sent;

	key(a, 0xa1);
	key(b, 0xb2);
	key(c, 0xc3);
	wire_clear();
	gossip_out_init(&o, blocks, 8, recs, 8);
	gossip_out_reset(&o, 4096, 4096, false);

	ok(gossip_out_block(&o, a, 5), "block of a opens");
	is(gossip_out_add(&o, r1, sizeof(r1)), GOSSIP_OUT_ADDED, "a: first record");
	is(gossip_out_add(&o, r2, sizeof(r2)), GOSSIP_OUT_ADDED, "a: second record");
	is(o.size,
	   GOSSIP_OUT_MSG_OVERHEAD + GOSSIP_OUT_BLOCK_OVERHEAD + 2 * GOSSIP_OUT_RECORD_OVERHEAD +
	       sizeof(r1) + sizeof(r2),
	   "size: the block overhead is paid once per block");
	ok(gossip_out_block(&o, b, 0), "block of b opens (closing a's)");
	ok(gossip_out_block(&o, c, 7), "block of c opens (b's, empty, is dropped)");
	is(o.n_blocks, 2, "an empty block takes no slot");
	is(o.size,
	   GOSSIP_OUT_MSG_OVERHEAD + GOSSIP_OUT_BLOCK_OVERHEAD + 2 * GOSSIP_OUT_RECORD_OVERHEAD +
	       sizeof(r1) + sizeof(r2),
	   "an empty block costs nothing");
	is(gossip_out_add(&o, r3, sizeof(r3)), GOSSIP_OUT_ADDED, "c: a record");
	ok(gossip_out_block(&o, a, 9), "a second block of a opens");
	gossip_out_close(&o);
	is(o.n_blocks, 2, "close drops the open block when empty");
	ok(!o.block_open, "close: no block open");

	sent = send_to(&o, 2);
	is(sent, 6, "send: 3 records, counted per peer");
	is(wire.calls, 2, "send: once per peer");
	ok(!memcmp(wire.peers[0], peers[0], PROTO_KEY_LEN) &&
	       !memcmp(wire.peers[1], peers[1], PROTO_KEY_LEN),
	   "send: to the peers given, in order");
	ok(wire.len[0] == wire.len[1] && !memcmp(wire.msg[0], wire.msg[1], wire.len[0]),
	   "send: every peer gets the same bytes");
	is(wire_decode(0), 0, "the message decodes");
	is(wire.n_blocks, 2, "two blocks on the wire");
	is(wire.n_recs, 3, "three records on the wire");
	ok(!memcmp(wire.blocks[0].author, a, PROTO_KEY_LEN) && wire.blocks[0].after == 5 &&
	       wire.blocks[0].n_records == 2,
	   "block 0: a, after 5, two records");
	ok(!memcmp(wire.blocks[1].author, c, PROTO_KEY_LEN) && wire.blocks[1].after == 7 &&
	       wire.blocks[1].n_records == 1,
	   "block 1: c, after 7, one record");
	ok(rec_is(wire.blocks[0].first, r1, sizeof(r1)) &&
	       rec_is(wire.blocks[0].first + 1, r2, sizeof(r2)) &&
	       rec_is(wire.blocks[1].first, r3, sizeof(r3)),
	   "records in the order added");
	ok(wire.len[0] <= 4096, "under the limit");

	ok(o.n_blocks == 0 && o.n_recs == 0 && !o.block_open, "send empties the builder");
	ok(o.budget == 4096 && o.limit == 4096 && !o.copy, "send keeps budget, limit and mode");
	is(o.size, GOSSIP_OUT_MSG_OVERHEAD, "send resets the size");
	wire_clear();
}

static void test_block_cap(void)
{
	struct gossip_out o;
	uint8_t a[PROTO_KEY_LEN];
	const uint8_t r[] = "x";

	key(a, 1);
	gossip_out_init(&o, blocks, 2, recs, 8);
	gossip_out_reset(&o, 4096, 4096, false);
	ok(gossip_out_block(&o, a, 0), "block 1 of 2");
	gossip_out_add(&o, r, sizeof(r));
	ok(gossip_out_block(&o, a, 1), "block 2 of 2");
	ok(gossip_out_block(&o, a, 2), "an empty last block is reopened in its place");
	gossip_out_add(&o, r, sizeof(r));
	ok(!gossip_out_block(&o, a, 3), "no third block");
	ok(!o.block_open, "nothing open after a refused block");
	is(o.n_blocks, 2, "blocks kept");
}

static void test_record_cap(void)
{
	struct gossip_out o;
	uint8_t a[PROTO_KEY_LEN];
	const uint8_t r[] = "x";
	size_t size;

	key(a, 1);
	gossip_out_init(&o, blocks, 8, recs, 2);
	gossip_out_reset(&o, 4096, 4096, false);
	gossip_out_block(&o, a, 0);
	is(gossip_out_add(&o, r, sizeof(r)), GOSSIP_OUT_ADDED, "record 1 of 2");
	is(gossip_out_add(&o, r, sizeof(r)), GOSSIP_OUT_ADDED, "record 2 of 2");
	size = o.size;
	is(gossip_out_add(&o, r, sizeof(r)), GOSSIP_OUT_FULL, "no room for a third record: FULL");
	ok(o.n_recs == 2 && o.size == size && o.blocks[0].n_records == 2, "FULL changes nothing");
}

static void test_budget(void)
{
	struct gossip_out o;
	uint8_t a[PROTO_KEY_LEN], b[PROTO_KEY_LEN];
	static uint8_t big[2000];
	const size_t rec_cost = GOSSIP_OUT_RECORD_OVERHEAD + 100;
	/* Room for exactly two 100-byte records in one block. */
	const size_t budget = GOSSIP_OUT_MSG_OVERHEAD + GOSSIP_OUT_BLOCK_OVERHEAD + 2 * rec_cost;

	key(a, 1);
	key(b, 2);
	wire_clear();
	gossip_out_init(&o, blocks, 8, recs, 8);
	gossip_out_reset(&o, 500, 10000, false);
	gossip_out_block(&o, a, 0);
	is(gossip_out_add(&o, big, sizeof(big)), GOSSIP_OUT_ADDED,
	   "a first record over the budget still goes");
	is(gossip_out_add(&o, big, 1), GOSSIP_OUT_FULL, "nothing follows it past the budget");
	is(o.n_recs, 1, "one record");
	is(send_to(&o, 1), 1, "it is sent");
	is(wire_decode(0), 0, "and decodes");
	ok(wire.n_recs == 1 && rec_is(0, big, sizeof(big)), "the big record travels alone");
	wire_clear();

	gossip_out_reset(&o, budget, 10000, false);
	gossip_out_block(&o, a, 0);
	is(gossip_out_add(&o, big, 100), GOSSIP_OUT_ADDED, "budget: first");
	is(gossip_out_add(&o, big, 100), GOSSIP_OUT_ADDED, "budget: a record filling it exactly");
	is(o.size, budget, "size is the budget");
	is(gossip_out_add(&o, big, 0), GOSSIP_OUT_FULL, "budget: not a byte more");

	gossip_out_reset(&o, budget, 10000, false);
	gossip_out_block(&o, a, 0);
	gossip_out_add(&o, big, 100);
	gossip_out_block(&o, b, 0);
	is(gossip_out_add(&o, big, 100), GOSSIP_OUT_FULL,
	   "budget: a new block's record pays the block overhead");
	gossip_out_block(&o, a, 1);
	is(gossip_out_add(&o, big, 100 - GOSSIP_OUT_BLOCK_OVERHEAD), GOSSIP_OUT_ADDED,
	   "budget: a record that fits with its block overhead");

	/* The relay pattern: FULL, send, reopen the block, add again. */
	gossip_out_reset(&o, budget, 10000, false);
	gossip_out_block(&o, a, 0);
	gossip_out_add(&o, big, 100);
	gossip_out_add(&o, big, 100);
	is(gossip_out_add(&o, big, 100), GOSSIP_OUT_FULL, "full");
	is(send_to(&o, 1), 2, "send what is there");
	gossip_out_block(&o, a, 2);
	is(gossip_out_add(&o, big, 100), GOSSIP_OUT_ADDED, "after a send the record goes");
	wire_clear();
}

static void test_too_big(void)
{
	struct gossip_out o;
	uint8_t a[PROTO_KEY_LEN];
	static uint8_t big[PROTO_RECORD_MAX + 1];
	size_t size;

	key(a, 1);
	gossip_out_init(&o, blocks, 8, recs, 8);

	gossip_out_reset(&o, 1000, 1000, false);
	gossip_out_block(&o, a, 0);
	is(gossip_out_add(&o, big, 1000 - ALONE + 1), GOSSIP_OUT_TOOBIG,
	   "a record over limit alone is TOOBIG, even as the first");
	is(o.n_recs, 0, "TOOBIG adds nothing");
	is(gossip_out_add(&o, big, 1000 - ALONE), GOSSIP_OUT_ADDED,
	   "a record filling limit exactly goes");
	size = o.size;
	is(size, 1000, "its message is at the limit");
	is(gossip_out_add(&o, big, 1000), GOSSIP_OUT_TOOBIG, "TOOBIG before FULL");
	is(gossip_out_add(&o, big, 1), GOSSIP_OUT_FULL, "a small one is FULL");
	is(o.size, size, "neither changes the size");

	gossip_out_reset(&o, ALONE - 1, ALONE - 1, false);
	gossip_out_block(&o, a, 0);
	is(gossip_out_add(&o, big, 0), GOSSIP_OUT_TOOBIG, "a limit under one record's overheads");

	gossip_out_reset(&o, PROTO_MSG_MAX, PROTO_MSG_MAX, false);
	gossip_out_block(&o, a, 0);
	is(gossip_out_add(&o, big, PROTO_RECORD_MAX + 1), GOSSIP_OUT_TOOBIG,
	   "over PROTO_RECORD_MAX is TOOBIG whatever the limit");
	is(gossip_out_add(&o, big, PROTO_RECORD_MAX), GOSSIP_OUT_ADDED, "PROTO_RECORD_MAX goes");
}

static void test_borrow_copy(void)
{
	struct gossip_out o;
	uint8_t a[PROTO_KEY_LEN];
	static uint8_t want[3][30000];
	uint8_t *src;

	key(a, 1);
	wire_clear();
	gossip_out_init(&o, blocks, 8, recs, 8);

	/* Borrowed: the message holds what the buffer holds when it is sent. */
	src = malloc(16);
	memset(src, 'a', 16);
	gossip_out_reset(&o, 4096, 4096, false);
	gossip_out_block(&o, a, 0);
	gossip_out_add(&o, src, 16);
	ok(o.recs[0].buf == src, "borrow: the record points at the caller's buffer");
	ok(!o.arena && o.arena_len == 0, "borrow: no copy");
	memset(src, 'b', 16);
	send_to(&o, 1);
	memset(want[0], 'b', 16);
	ok(wire_decode(0) == 0 && rec_is(0, want[0], 16), "borrow: sent as the buffer is then");
	wire_clear();

	/* Copied: the caller's buffer may change or go right after the add. */
	gossip_out_reset(&o, PROTO_MSG_MAX, PROTO_MSG_MAX, true);
	gossip_out_block(&o, a, 0);
	for (int i = 0; i < 3; i++) {
		uint8_t *tmp = malloc(sizeof(want[i]));

		memset(want[i], 'x' + i, sizeof(want[i]));
		memcpy(tmp, want[i], sizeof(want[i]));
		is(gossip_out_add(&o, tmp, sizeof(want[i])), GOSSIP_OUT_ADDED, "copy: added");
		memset(tmp, 0, sizeof(want[i]));
		free(tmp); /* a store walk's buffer is gone after the callback */
	}
	ok(o.recs[0].buf == NULL, "copy: records point nowhere until sent");
	is(o.arena_len, 3 * sizeof(want[0]), "copy: the arena holds the copies");
	ok(o.arena_cap >= o.arena_len && o.arena_cap > 65536, "copy: the arena grew past 64 KiB");
	is(send_to(&o, 1), 3, "copy: sent");
	ok(wire_decode(0) == 0 && wire.n_recs == 3 && rec_is(0, want[0], sizeof(want[0])) &&
	       rec_is(1, want[1], sizeof(want[1])) && rec_is(2, want[2], sizeof(want[2])),
	   "copy: the copies travel, in order");
	ok(o.copy && o.arena_len == 0 && o.arena, "copy: emptied, the arena kept for reuse");
	wire_clear();

	gossip_out_free(&o);
	ok(!o.arena && o.arena_cap == 0, "free releases the arena");
	gossip_out_reset(&o, 4096, 4096, true);
	gossip_out_block(&o, a, 0);
	is(gossip_out_add(&o, src, 16), GOSSIP_OUT_ADDED, "usable again after free");
	is(send_to(&o, 1), 1, "and sends");
	ok(wire_decode(0) == 0 && rec_is(0, src, 16), "with the bytes given");
	gossip_out_free(&o);
	free(src);
	wire_clear();
}

static void test_send(void)
{
	struct gossip_out o;
	uint8_t a[PROTO_KEY_LEN];
	const uint8_t r[] = "rec";

	key(a, 1);
	wire_clear();
	gossip_out_init(&o, blocks, 8, recs, 8);
	gossip_out_reset(&o, 4096, 4096, false);
	is(send_to(&o, 3), 0, "an empty message is not sent");
	is(wire.calls, 0, "no call for an empty message");
	gossip_out_block(&o, a, 0);
	is(send_to(&o, 3), 0, "a message of one empty block is not sent");
	is(wire.calls, 0, "no call for it");

	gossip_out_block(&o, a, 0);
	gossip_out_add(&o, r, sizeof(r));
	is(send_to(&o, 0), 0, "to no peer: nothing sent");
	is(wire.calls, 0, "no call without peers");
	is(o.n_recs, 0, "the builder is emptied all the same");

	gossip_out_block(&o, a, 0);
	gossip_out_add(&o, r, sizeof(r));
	gossip_out_add(&o, r, sizeof(r));
	wire.fail_peer = 2; /* peers[1] */
	is(send_to(&o, 3), 4, "records counted only for peers the send reached");
	is(wire.calls, 3, "every peer is tried");
	wire_clear();
}

/* More blocks than the wire allows: the encoder refuses, nothing goes. */
static void test_encode_error(void)
{
	struct gossip_out o;
	uint8_t a[PROTO_KEY_LEN];
	const uint8_t r[] = "r";

	key(a, 1);
	wire_clear();
	gossip_out_init(&o, blocks, PROTO_BLOCKS_MAX + 1, recs, PROTO_BLOCKS_MAX + 1);
	gossip_out_reset(&o, PROTO_MSG_MAX, PROTO_MSG_MAX, false);
	for (size_t i = 0; i <= PROTO_BLOCKS_MAX; i++) {
		gossip_out_block(&o, a, i);
		gossip_out_add(&o, r, sizeof(r));
	}
	is(o.n_blocks, PROTO_BLOCKS_MAX + 1, "one block too many built");
	is(send_to(&o, 1), 0, "an encoding error sends nothing");
	is(wire.calls, 0, "no call");
	ok(o.n_recs == 0 && o.n_blocks == 0 && o.limit == PROTO_MSG_MAX, "and empties the builder");
	wire_clear();
}

/* The size the builder counts bounds the encoded message, whatever the
 * lengths (each msgpack bin header size) and the after values. */
static void test_size_bound(void)
{
	static const size_t lens[] = {0, 1, 31, 32, 255, 256, 65535, PROTO_RECORD_MAX};
	static const uint64_t afters[] = {0, 127, 128, 65536, UINT64_MAX};
	static uint8_t buf[PROTO_RECORD_MAX];
	struct gossip_out o;
	uint8_t a[PROTO_KEY_LEN];
	bool bounded = true, decoded = true;
	size_t size;

	gossip_out_init(&o, blocks, 64, recs, 256);
	for (size_t ai = 0; ai < sizeof(afters) / sizeof(afters[0]); ai++) {
		gossip_out_reset(&o, PROTO_MSG_MAX, PROTO_MSG_MAX, false);
		for (size_t li = 0; li < sizeof(lens) / sizeof(lens[0]); li++) {
			key(a, (uint8_t)li);
			gossip_out_block(&o, a, afters[ai]);
			gossip_out_add(&o, buf, lens[li]);
			gossip_out_add(&o, buf, lens[li]);
		}
		size = o.size;
		wire_clear();
		send_to(&o, 1);
		bounded = bounded && wire.calls == 1 && wire.len[0] <= size;
		decoded = decoded && wire_decode(0) == 0 && wire.n_recs == 16;
	}
	ok(bounded, "the encoded message is never over the size counted");
	ok(decoded, "and always decodes");
	wire_clear();
}

int main(void)
{
	log_init("test_gossip_out", LOG_LEVEL_ERROR, false);
	for (size_t i = 0; i < PEERS_MAX; i++)
		key(peers[i], (uint8_t)(i + 1));
	test_init_reset();
	test_blocks();
	test_block_cap();
	test_record_cap();
	test_budget();
	test_too_big();
	test_borrow_copy();
	test_send();
	test_encode_error();
	test_size_bound();
	wire_clear();
	return tap_done();
}
