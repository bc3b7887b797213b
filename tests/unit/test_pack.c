/* Unit tests of packs (backup/pack.c). Packs are built two ways: by
 * struct pack_writer from chunks sealed by seal_chunk(), and by hand here,
 * from the layout the header documents, with libsodium directly, so that
 * the tests can seal under the right key the tables a broken or malicious
 * writer would make (entries outside the chunk area, overlapping, out of
 * order, twice the same ID) and check the reader against the document,
 * not against the writer. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "backup/pack.h"
#include "backup/seal.h"
#include "proto/error.h"
#include "tap.h"

static struct backup_keys keys, other;
static struct seal *s;
static uint8_t *plain, *sealed, *opened;

/* ---- the format, rebuilt from the header ---- */

struct hand_entry {
	uint8_t id[SEAL_ID_LEN];
	uint32_t offset, sealed_len, plain_len;
};

static void le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Seals table plaintext tp[0..tn) as a pack's table behind data_len
 * filler bytes, with this trailer's version and kind, under key; returns
 * the pack's length. dst must hold it. */
static size_t hand_seal(uint8_t *dst, size_t data_len, const uint8_t *tp, size_t tn,
                        uint8_t version, uint8_t kind, const uint8_t *key)
{
	uint8_t *nonce = dst + data_len, *trailer = nonce + 24 + tn + 16;
	memset(dst, 0x5a, data_len);
	memcpy(trailer, "KITHPACK", 8);
	trailer[8] = version;
	trailer[9] = kind;
	le32(trailer + 10, (uint32_t)(24 + tn + 16));
	randombytes_buf(nonce, 24);
	crypto_aead_xchacha20poly1305_ietf_encrypt(nonce + 24, NULL, tp, tn, trailer, 14, NULL,
	                                           nonce, key);
	return data_len + 24 + tn + 16 + 14;
}

/* A pack whose table lists e[0..n), behind data_len bytes. */
static size_t hand_pack(uint8_t *dst, const struct hand_entry *e, size_t n, size_t data_len,
                        uint8_t kind)
{
	uint8_t *tp = malloc(n * 44 + 1);
	size_t len;
	for (size_t i = 0; i < n; i++) {
		memcpy(tp + 44 * i, e[i].id, 32);
		le32(tp + 44 * i + 32, e[i].offset);
		le32(tp + 44 * i + 36, e[i].sealed_len);
		le32(tp + 44 * i + 40, e[i].plain_len);
	}
	len = hand_seal(dst, data_len, tp, n * 44, 1, kind, keys.index);
	free(tp);
	return len;
}

/* ---- helpers ---- */

static void fill(uint8_t *p, size_t n, uint32_t seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (uint8_t)(seed >> 16);
	}
}

/* Text-like bytes that compress. */
static void fill_text(uint8_t *p, size_t n, uint32_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)("INSERT INTO t VALUES (1, 'kith');\n"[(i + seed) % 35]);
}

/* Opens bytes that must be refused with want (0: with any error); checks
 * that nothing usable comes out. */
static bool refused(const uint8_t *b, size_t len, const struct backup_keys *k, int want)
{
	struct pack_table *sentinel = (struct pack_table *)&sentinel, *t = sentinel;
	int rc = pack_open_table(b, len, k, &t);
	bool cleared = !t;
	if (t != sentinel)
		pack_table_free(&t);
	if (want)
		return rc == want && cleared;
	return rc < 0 && cleared;
}

static int open_rc(const uint8_t *b, size_t len)
{
	struct pack_table *t = NULL;
	int rc = pack_open_table(b, len, &keys, &t);
	pack_table_free(&t);
	return rc;
}

/* Seals plain[0..n) with its real ID into sealed; returns the sealed size. */
static size_t seal_one(const uint8_t *p, size_t n, uint8_t id[SEAL_ID_LEN])
{
	size_t out = 0;
	seal_chunk_id(id, &keys, p, n);
	if (seal_chunk(s, &keys, 3, id, p, n, sealed, seal_max_len(PACK_CHUNK_MAX), &out))
		return 0;
	return out;
}

/* A writer's small pack of n real chunks, copied to a new buffer (the
 * caller frees it); *data_len gets the chunk area's length. */
static uint8_t *small_pack(size_t n, size_t *len, size_t *data_len)
{
	struct pack_writer *w = NULL;
	const uint8_t *p;
	uint8_t id[SEAL_ID_LEN], pid[PACK_ID_LEN], *copy = NULL;
	*len = 0;
	if (pack_writer_new(&w, PACK_KIND_DATA, 0))
		return NULL;
	for (size_t i = 0; i < n; i++) {
		fill(plain, 60 + i, (uint32_t)i);
		size_t sl = seal_one(plain, 60 + i, id);
		if (!sl || pack_writer_add(w, id, sealed, sl, 60 + i))
			goto out;
	}
	*data_len =
	    pack_writer_size(w) - PACK_TABLE_OVERHEAD - n * PACK_ENTRY_LEN - PACK_TRAILER_LEN;
	if (!pack_writer_finish(w, &keys, &p, len, pid) && (copy = malloc(*len)))
		memcpy(copy, p, *len);
out:
	pack_writer_free(&w);
	return copy;
}

/* ---- tests ---- */

static void test_params(void)
{
	struct pack_writer *w = (struct pack_writer *)&w;
	is(pack_writer_new(&w, 0, 0), KITH_EVALUE, "kind 0 refused");
	ok(!w, "nothing made");
	is(pack_writer_new(&w, 3, 0), KITH_EVALUE, "unknown kind refused");
	is(pack_writer_new(&w, PACK_KIND_DATA, PACK_TARGET_MIN - 1), KITH_EVALUE,
	   "target below min refused");
	is(pack_writer_new(&w, PACK_KIND_DATA, PACK_TARGET_MAX + 1), KITH_EVALUE,
	   "target above max refused");
	is(pack_writer_new(&w, PACK_KIND_INDEX, 0), 0, "default target");
	is(pack_writer_size(w), PACK_TABLE_OVERHEAD + PACK_TRAILER_LEN, "empty size is 54 bytes");
	pack_writer_free(&w);
	ok(!w, "free clears the pointer");
	pack_writer_free(&w);
	pack_writer_free(NULL);
}

static void test_empty(void)
{
	struct pack_writer *w = NULL;
	const uint8_t *p = (const uint8_t *)"x";
	size_t len = 1;
	uint8_t pid[PACK_ID_LEN], buf[256];
	pack_writer_new(&w, PACK_KIND_DATA, 0);
	is(pack_writer_finish(w, &keys, &p, &len, pid), KITH_EVALUE, "empty pack: not finished");
	ok(!p && len == 0, "no bytes given out");
	pack_writer_free(&w);
	/* An empty table sealed with the right key. */
	len = hand_pack(buf, NULL, 0, 0, PACK_KIND_DATA);
	ok(refused(buf, len, &keys, KITH_EMALFORMED), "empty table refused by the reader");
}

/* Checks the bytes of pack[0..len) against the header's layout: the
 * trailer's fields, the table decrypted by hand with the trailer as AD,
 * the entries tiling the chunk area. Returns the entry count or -1. */
static long check_layout(const uint8_t *pack, size_t len, uint8_t kind)
{
	const uint8_t *tr = pack + len - 14;
	uint32_t tl = rd32(tr + 10);
	size_t data_len = len - 14 - tl, at = 0, n = (tl - 40) / 44;
	uint8_t *tp = malloc(tl);
	long rc = -1;
	if (memcmp(tr, "KITHPACK", 8) || tr[8] != 1 || tr[9] != kind || (tl - 40) % 44)
		goto out;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(
	        tp, NULL, NULL, pack + data_len + 24, tl - 24, tr, 14, pack + data_len, keys.index))
		goto out;
	for (size_t i = 0; i < n; i++) {
		if (rd32(tp + 44 * i + 32) != at)
			goto out;
		at += rd32(tp + 44 * i + 36);
	}
	rc = at == data_len ? (long)n : -1;
out:
	free(tp);
	return rc;
}

/* Writes n chunks of varied sizes and kinds into one pack, then reads
 * every one back through the table and seal_open(). */
static void round_trip(size_t n, size_t size_max, const char *what)
{
	struct pack_writer *w = NULL;
	struct pack_table *t = NULL;
	const uint8_t *p, *cs;
	uint8_t(*ids)[SEAL_ID_LEN] = calloc(n, SEAL_ID_LEN);
	uint8_t pid[PACK_ID_LEN], pid2[PACK_ID_LEN];
	size_t *lens = calloc(n, sizeof(size_t)), len, cl, got, idx;
	bool good = true, found = true;
	char msg[160];

	pack_writer_new(&w, PACK_KIND_DATA, 0);
	for (size_t i = 0; i < n; i++) {
		lens[i] = (i * 7919 + 13) % size_max;
		(i % 2 ? fill : fill_text)(plain, lens[i], (uint32_t)i);
		size_t sl = seal_one(plain, lens[i], ids[i]);
		good &= pack_writer_fits(w, sl) && !pack_writer_add(w, ids[i], sealed, sl, lens[i]);
	}
	snprintf(msg, sizeof(msg), "%s: every chunk added", what);
	ok(good && pack_writer_count(w) == n, msg);
	size_t want = pack_writer_size(w);
	snprintf(msg, sizeof(msg), "%s: finished", what);
	ok(!pack_writer_finish(w, &keys, &p, &len, pid) && len == want, msg);
	pack_id(pid2, p, len);
	snprintf(msg, sizeof(msg), "%s: pack ID is BLAKE2b-256 of the bytes", what);
	ok(!memcmp(pid, pid2, PACK_ID_LEN) &&
	       (crypto_generichash(pid2, 32, p, len, NULL, 0), !memcmp(pid, pid2, 32)),
	   msg);
	snprintf(msg, sizeof(msg), "%s: bytes laid out as documented", what);
	is(check_layout(p, len, PACK_KIND_DATA), (long)n, msg);
	snprintf(msg, sizeof(msg), "%s: table opens", what);
	ok(!pack_open_table(p, len, &keys, &t) && pack_table_count(t) == n &&
	       pack_table_kind(t) == PACK_KIND_DATA,
	   msg);
	good = t != NULL;
	for (size_t i = 0; t && i < n; i++) {
		const struct pack_entry *e = pack_table_entry(t, i);
		good &= e && !memcmp(e->id, ids[i], SEAL_ID_LEN) && e->plain_len == lens[i];
		good &=
		    !pack_table_chunk(t, i, &cs, &cl) && cs == p + e->offset && cl == e->sealed_len;
		good &= !seal_open(s, &keys, e->id, cs, cl, opened, PACK_CHUNK_MAX, &got) &&
		        got == lens[i];
		(i % 2 ? fill : fill_text)(plain, lens[i], (uint32_t)i);
		good &= !memcmp(opened, plain, got);
		found &= !pack_table_find(t, ids[i], &idx) && idx == i;
	}
	snprintf(msg, sizeof(msg), "%s: every chunk opens to its plaintext", what);
	ok(good, msg);
	snprintf(msg, sizeof(msg), "%s: every ID found at its index", what);
	ok(found, msg);
	if (t) {
		uint8_t none[SEAL_ID_LEN] = {0};
		ok(pack_table_find(t, none, &idx) == KITH_EMISSING, "an unknown ID is missing");
		ok(!pack_table_entry(t, n) && pack_table_chunk(t, n, &cs, &cl) == KITH_EVALUE,
		   "no entry past the count");
	}
	pack_table_free(&t);
	pack_writer_free(&w);
	free(ids);
	free(lens);
}

static void test_big_chunk(void)
{
	struct pack_writer *w = NULL;
	struct pack_table *t = NULL;
	const uint8_t *p, *cs;
	uint8_t id[SEAL_ID_LEN], pid[PACK_ID_LEN];
	size_t n = 2 << 20, len, cl, got;

	pack_writer_new(&w, PACK_KIND_DATA, PACK_TARGET_MIN);
	fill(plain, n, 77); /* incompressible: sealed > target */
	size_t sl = seal_one(plain, n, id);
	ok(sl > PACK_TARGET_MIN, "the sealed chunk is larger than the target");
	ok(pack_writer_fits(w, sl), "an empty pack takes it");
	is(pack_writer_add(w, id, sealed, sl, n), 0, "added");
	ok(!pack_writer_fits(w, SEAL_OVERHEAD), "then the pack is full");
	fill(plain, 10, 1);
	uint8_t id2[SEAL_ID_LEN];
	size_t sl2 = seal_one(plain, 10, id2);
	is(pack_writer_add(w, id2, sealed, sl2, 10), KITH_ETOOBIG, "a second chunk refused");
	ok(!pack_writer_finish(w, &keys, &p, &len, pid) && len > PACK_TARGET_MIN,
	   "finished past the target");
	ok(!pack_open_table(p, len, &keys, &t) && pack_table_count(t) == 1, "its table opens");
	fill(plain, n, 77);
	ok(t && !pack_table_chunk(t, 0, &cs, &cl) &&
	       !seal_open(s, &keys, id, cs, cl, opened, PACK_CHUNK_MAX, &got) && got == n &&
	       !memcmp(opened, plain, n),
	   "the big chunk opens");
	ok(pack_writer_memory(w) <= pack_writer_memory_max(PACK_TARGET_MIN), "memory bounded");
	pack_table_free(&t);
	pack_writer_free(&w);
}

/* Fake sealed chunks of sl bytes (the writer does not open them) until
 * the writer says full; checks the signal is right each time. */
static void test_full_by_size(void)
{
	struct pack_writer *w = NULL;
	const uint8_t *p;
	uint8_t id[SEAL_ID_LEN] = {0}, pid[PACK_ID_LEN];
	size_t sl = 10000, len, n = 0, mem = 0;
	bool within = true;

	pack_writer_new(&w, PACK_KIND_DATA, PACK_TARGET_MIN);
	fill(sealed, sl, 5);
	for (int round = 0; round < 2; round++) {
		n = 0;
		while (pack_writer_fits(w, sl) && n < 1000) {
			le32(id, (uint32_t)n++);
			within &= !pack_writer_add(w, id, sealed, sl, sl);
			within &= pack_writer_size(w) <= PACK_TARGET_MIN;
		}
		ok(within, "each add kept the pack within the target");
		ok(pack_writer_size(w) + sl + PACK_ENTRY_LEN > PACK_TARGET_MIN,
		   "full exactly when the next chunk would pass the target");
		is(pack_writer_add(w, id, sealed, sl, sl), KITH_ETOOBIG, "add when full refused");
		size_t room = PACK_TARGET_MIN - pack_writer_size(w) - PACK_ENTRY_LEN;
		ok(room < SEAL_OVERHEAD ||
		       (pack_writer_fits(w, room) && !pack_writer_fits(w, room + 1)),
		   "a chunk that just fits does, one byte more does not");
		ok(!pack_writer_finish(w, &keys, &p, &len, pid) && len <= PACK_TARGET_MIN &&
		       open_rc(p, len) == 0,
		   "finished within the target, and opens");
		if (round == 0)
			mem = pack_writer_memory(w);
		pack_writer_reset(w);
	}
	is(pack_writer_memory(w), mem, "a second pack allocates nothing more");
	ok(mem <= pack_writer_memory_max(PACK_TARGET_MIN), "memory within the documented bound");
	pack_writer_free(&w);
}

/* PACK_CHUNKS_MAX chunks of SEAL_OVERHEAD bytes (empty plaintexts) fill a
 * pack by count long before the target. */
static void test_full_by_count(void)
{
	struct pack_writer *w = NULL;
	struct pack_table *t = NULL;
	const uint8_t *p;
	uint8_t id[SEAL_ID_LEN] = {0}, pid[PACK_ID_LEN];
	size_t len, n = 0, idx;
	bool good = true;

	pack_writer_new(&w, PACK_KIND_INDEX, PACK_TARGET_MAX);
	memset(sealed, 0x42, SEAL_OVERHEAD);
	while (pack_writer_fits(w, SEAL_OVERHEAD) && n <= PACK_CHUNKS_MAX) {
		le32(id, (uint32_t)n++);
		good &= !pack_writer_add(w, id, sealed, SEAL_OVERHEAD, 0);
	}
	ok(good, "every add accepted while it fits");
	is(n, PACK_CHUNKS_MAX, "full at PACK_CHUNKS_MAX entries");
	le32(id, (uint32_t)n);
	is(pack_writer_add(w, id, sealed, SEAL_OVERHEAD, 0), KITH_ETOOMANY, "one more refused");
	ok(pack_writer_memory(w) <= pack_writer_memory_max(PACK_TARGET_MAX),
	   "memory within the documented bound");
	ok(!pack_writer_finish(w, &keys, &p, &len, pid) && !pack_open_table(p, len, &keys, &t),
	   "the fullest table opens");
	ok(t && pack_table_count(t) == PACK_CHUNKS_MAX && pack_table_kind(t) == PACK_KIND_INDEX,
	   "with every entry, as an index pack");
	le32(id, 54321);
	ok(t && !pack_table_find(t, id, &idx) && idx == 54321, "found by ID among 65536");
	pack_table_free(&t);
	pack_writer_free(&w);
}

static void test_writer_refusals(void)
{
	struct pack_writer *w = NULL;
	const uint8_t *p;
	uint8_t id[SEAL_ID_LEN] = {1}, id2[SEAL_ID_LEN] = {2}, pid[PACK_ID_LEN];
	size_t len;

	pack_writer_new(&w, PACK_KIND_DATA, 0);
	memset(sealed, 7, 200);
	is(pack_writer_add(w, id, sealed, SEAL_OVERHEAD - 1, 0), KITH_EVALUE,
	   "sealed shorter than the seal overhead");
	is(pack_writer_add(w, id, sealed, 100, 100 - SEAL_OVERHEAD - 1), KITH_EVALUE,
	   "sealed longer than seal_max_len(plain)");
	is(pack_writer_add(w, id, sealed, 100, PACK_CHUNK_MAX + 1), KITH_EVALUE,
	   "plaintext over PACK_CHUNK_MAX");
	is(pack_writer_count(w), 0, "nothing added");
	ok(!pack_writer_has(w, id), "not has before");
	is(pack_writer_add(w, id, sealed, 100, 100), 0, "added");
	ok(pack_writer_has(w, id) && !pack_writer_has(w, id2), "has after");
	is(pack_writer_add(w, id, sealed, 100, 100), KITH_EDUPKEY, "the same ID twice refused");
	is(pack_writer_count(w), 1, "the pack unchanged");
	is(pack_writer_finish(w, &keys, &p, &len, pid), 0, "finished");
	is(pack_writer_add(w, id2, sealed, 100, 100), KITH_EVALUE, "add after finish refused");
	ok(!pack_writer_fits(w, 100), "a finished pack fits nothing");
	is(pack_writer_finish(w, &keys, &p, &len, pid), KITH_EVALUE, "finish twice refused");
	pack_writer_reset(w);
	ok(pack_writer_count(w) == 0 && !pack_writer_has(w, id), "reset empties the pack");
	is(pack_writer_add(w, id, sealed, 100, 100), 0, "the ID is new again in the next pack");
	pack_writer_free(&w);
}

/* Every byte of the table and trailer changed, two ways: refused. A byte
 * of the chunk area changed: the table still opens (the chunk checks
 * itself), but that chunk does not open and the pack ID changes. */
static void test_flips(void)
{
	size_t len, data_len, got;
	uint8_t *p = small_pack(5, &len, &data_len);
	uint8_t id0[PACK_ID_LEN], id1[PACK_ID_LEN];
	bool table = true, idchg = true, chunk = true;

	if (!p) {
		ok(0, "small pack");
		return;
	}
	pack_id(id0, p, len);
	for (size_t i = 0; i < len; i++) {
		for (int m = 0; m < 2; m++) {
			p[i] ^= m ? 0x80 : 0x01;
			pack_id(id1, p, len);
			idchg &= memcmp(id0, id1, PACK_ID_LEN) != 0;
			if (i >= data_len) {
				table &= refused(p, len, &keys, 0);
			} else if (m == 0) {
				struct pack_table *t = NULL;
				const uint8_t *cs;
				size_t cl, k = 0;
				chunk &= !pack_open_table(p, len, &keys, &t);
				while (t && k + 1 < pack_table_count(t) &&
				       pack_table_entry(t, k + 1)->offset <= i)
					k++;
				chunk &= t && !pack_table_chunk(t, k, &cs, &cl) &&
				         seal_open(s, &keys, pack_table_entry(t, k)->id, cs, cl,
				                   opened, PACK_CHUNK_MAX, &got) < 0;
				pack_table_free(&t);
			}
			p[i] ^= m ? 0x80 : 0x01;
		}
	}
	ok(table, "every flip of the table or trailer refused");
	ok(chunk, "a flip in the chunk area: table opens, that chunk does not");
	ok(idchg, "the pack ID changes with any byte");
	pack_id(id1, p, len);
	ok(!memcmp(id0, id1, PACK_ID_LEN), "and is the same for the same bytes");
	ok(refused(p, len, &other, KITH_EBADSIG), "wrong key refused");
	free(p);
}

/* Every proper prefix, and every proper suffix taken as a whole pack,
 * refused. */
static void test_truncated(void)
{
	size_t len, data_len;
	uint8_t *p = small_pack(4, &len, &data_len);
	bool pre = true, suf = true;
	if (!p) {
		ok(0, "small pack");
		return;
	}
	for (size_t l = 0; l < len; l++) {
		uint8_t *copy = malloc(l ? l : 1); /* exact size: ASan sees overreads */
		memcpy(copy, p, l);
		pre &= refused(copy, l, &keys, 0);
		memcpy(copy, p + len - l, l);
		suf &= refused(copy, l, &keys, 0);
		free(copy);
	}
	ok(pre, "truncated at every length: refused");
	ok(suf, "the front cut off at every length: refused");
	ok(!refused(p, len, &keys, 0), "whole: opens");
	free(p);
}

static void test_tail(void)
{
	struct pack_table *t = NULL, *w = NULL;
	size_t len, data_len, need = 1, cl;
	const uint8_t *cs;
	uint8_t *p = small_pack(6, &len, &data_len);
	bool same = true;
	if (!p) {
		ok(0, "small pack");
		return;
	}
	is(pack_tail_len(p + len - PACK_TRAILER_LEN, PACK_TRAILER_LEN, len, &need), 0,
	   "the trailer alone gives the tail length");
	is(need, len - data_len, "the tail is the table and the trailer");
	is(pack_tail_len(p + len - 13, 13, len, &need), KITH_ETRUNC, "13 bytes are not a trailer");
	is(pack_tail_len(p, len, len - 1, &need), KITH_EVALUE, "tail longer than the pack");
	is(pack_tail_len(p, len, PACK_SIZE_MAX + 1, &need), KITH_ETOOBIG, "pack over the maximum");
	need = len - data_len;
	is(pack_open_tail(p + len - need, need, len, &keys, &t), 0, "the tail alone opens");
	pack_open_table(p, len, &keys, &w);
	same = t && w && pack_table_count(t) == pack_table_count(w) &&
	       pack_table_data_len(t) == data_len && pack_table_data_len(w) == data_len;
	for (size_t i = 0; same && i < pack_table_count(w); i++)
		same = !memcmp(pack_table_entry(t, i), pack_table_entry(w, i),
		               sizeof(struct pack_entry));
	ok(same, "the same table as from the whole pack");
	is(t ? pack_table_chunk(t, 0, &cs, &cl) : 0, KITH_EMISSING, "but no chunk bytes");
	pack_table_free(&t);
	pack_table_free(&w);
	is(pack_open_tail(p + len - need + 1, need - 1, len, &keys, &t), KITH_ETRUNC,
	   "one byte short: refused");
	ok(!t, "nothing given");
	is(pack_open_tail(p + len - need, need, len + 1, &keys, &t), KITH_EVALUE,
	   "a wrong pack length (longer) refused");
	is(pack_open_tail(p + len - need, need, len - 1, &keys, &t), KITH_EVALUE,
	   "a wrong pack length (shorter) refused");
	is(pack_open_tail(p + len - need, need, need - 1, &keys, &t), KITH_EVALUE,
	   "a pack length under the tail refused");
	free(p);
}

/* Tables sealed with the right key that break the rules. */
static void test_hand_tables(void)
{
	uint8_t *b = malloc(1 << 20);
	struct hand_entry e[3];
	size_t len;
	for (int i = 0; i < 3; i++) {
		memset(e[i].id, 'a' + i, SEAL_ID_LEN);
		e[i].offset = 100u * (uint32_t)i;
		e[i].sealed_len = 100;
		e[i].plain_len = 100;
	}
#define HAND(what, data_len, kind, want)                                                           \
	do {                                                                                       \
		len = hand_pack(b, e, 3, (data_len), (kind));                                      \
		is(open_rc(b, len), (want), what);                                                 \
	} while (0)
	HAND("control: a valid hand-made pack opens", 300, PACK_KIND_DATA, 0);
	HAND("an index pack too", 300, PACK_KIND_INDEX, 0);
	HAND("unknown kind refused, though sealed", 300, 3, KITH_EVALUE);
	HAND("kind 0 refused", 300, 0, KITH_EVALUE);
	HAND("a gap at the end of the chunk area", 305, PACK_KIND_DATA, KITH_EVALUE);
	HAND("entries past the chunk area", 295, PACK_KIND_DATA, KITH_EVALUE);
	e[2].offset = 305;
	HAND("a gap between chunks", 405, PACK_KIND_DATA, KITH_EVALUE);
	e[2].offset = 1000;
	HAND("an offset outside the chunk area", 300, PACK_KIND_DATA, KITH_EVALUE);
	e[2].offset = 150;
	HAND("overlapping chunks", 300, PACK_KIND_DATA, KITH_EVALUE);
	e[2].offset = 0;
	e[0].offset = 200;
	HAND("out of order", 300, PACK_KIND_DATA, KITH_EVALUE);
	e[0].offset = 0;
	e[2].offset = 200;
	e[1].sealed_len = SEAL_OVERHEAD - 1;
	e[2].offset = 100 + SEAL_OVERHEAD - 1;
	HAND("a sealed length under the seal overhead", 200 + SEAL_OVERHEAD - 1, PACK_KIND_DATA,
	     KITH_EVALUE);
	e[1].sealed_len = 100;
	e[2].offset = 200;
	e[1].plain_len = 100 - SEAL_OVERHEAD - 1;
	HAND("a sealed length over seal_max_len(plain)", 300, PACK_KIND_DATA, KITH_EVALUE);
	e[1].plain_len = PACK_CHUNK_MAX + 1;
	HAND("a plaintext over PACK_CHUNK_MAX", 300, PACK_KIND_DATA, KITH_EVALUE);
	e[1].plain_len = PACK_CHUNK_MAX;
	HAND("a plaintext of PACK_CHUNK_MAX is fine", 300, PACK_KIND_DATA, 0);
	memcpy(e[2].id, e[0].id, SEAL_ID_LEN);
	HAND("the same ID twice", 300, PACK_KIND_DATA, KITH_EDUPKEY);
	memset(e[2].id, 'c', SEAL_ID_LEN);
	e[2].id[31] ^= 1;
	HAND("IDs differing in one bit are distinct", 300, PACK_KIND_DATA, 0);
#undef HAND
	uint8_t tp[45] = {0};
	len = hand_seal(b, 0, tp, 45, 1, PACK_KIND_DATA, keys.index);
	is(open_rc(b, len), KITH_EMALFORMED, "a table of 45 bytes: no whole number of entries");
	len = hand_seal(b, 42, tp, 44, 2, PACK_KIND_DATA, keys.index);
	is(open_rc(b, len), KITH_EVERSION, "version 2 refused, though sealed");
	len = hand_seal(b, 42, tp, 44, 1, PACK_KIND_DATA, keys.index);
	le32(tp + 36, 42);
	len = hand_seal(b, 42, tp, 44, 1, PACK_KIND_DATA, keys.index);
	is(open_rc(b, len), 0, "control: one empty chunk opens");
	b[len - 14] = 'k';
	is(open_rc(b, len), KITH_EMALFORMED, "bad magic refused");
	b[len - 14] = 'K';
	le32(b + len - 4, PACK_TABLE_MAX + PACK_ENTRY_LEN);
	is(open_rc(b, len), KITH_ETOOBIG, "a table over PACK_TABLE_MAX refused");
	le32(b + len - 4, (uint32_t)(PACK_TABLE_OVERHEAD + PACK_ENTRY_LEN * 100));
	is(open_rc(b, len), KITH_ETRUNC, "a table longer than the pack refused");
	free(b);
}

int main(void)
{
	if (sodium_init() < 0 || seal_new(&s, PACK_CHUNK_MAX))
		return 1;
	randombytes_buf(&keys, sizeof(keys));
	other = keys;
	randombytes_buf(other.index, sizeof(other.index));
	plain = malloc(PACK_CHUNK_MAX);
	sealed = malloc(seal_max_len(PACK_CHUNK_MAX));
	opened = malloc(PACK_CHUNK_MAX);
	if (!plain || !sealed || !opened)
		return 1;

	test_params();
	test_empty();
	round_trip(1, 5000, "one chunk");
	round_trip(700, 40000, "700 chunks");
	test_big_chunk();
	test_full_by_size();
	test_full_by_count();
	test_writer_refusals();
	test_flips();
	test_truncated();
	test_tail();
	test_hand_tables();

	seal_free(&s);
	free(plain);
	free(sealed);
	free(opened);
	return tap_done();
}
