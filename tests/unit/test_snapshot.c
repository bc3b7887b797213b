/* Unit tests of snapshots (backup/snapshot.c). The bytes are also built
 * by hand here, from the layouts the header documents, and roots sealed
 * with libsodium directly, so that the decoders are checked against the
 * document rather than against the encoders, and so that the tests can
 * craft what a bug or a key holder might write: fields out of range,
 * repeated holders, truncations, trailing bytes. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "backup/snapshot.h"
#include "proto/error.h"
#include "rng.h"
#include "tap.h"

static struct backup_keys keys, other;
static uint8_t author[PROTO_KEY_LEN], stranger[PROTO_KEY_LEN];
static uint8_t *buf, *buf2; /* SNAP_ROOT_SEALED_MAX + 64 bytes each */
#define BUF_LEN (SNAP_ROOT_SEALED_MAX + 64)

/* ---- the format, rebuilt from the header ---- */

static void le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Holder i of pack seed: distinct for distinct i within a pack. */
static void holder_of(uint8_t peer[32], unsigned seed, unsigned i)
{
	memset(peer, (int)(seed & 0xff), 32);
	peer[0] = (uint8_t)i;
	peer[31] = 0xa5;
}

/* A valid placement with code k + m, its fields derived from seed. */
static void make_pack(struct snap_pack *p, unsigned k, unsigned m, unsigned seed)
{
	memset(p, 0, sizeof(*p));
	memset(p->id, (int)(seed * 7 + 1), sizeof(p->id));
	p->len = 1000 + seed;
	p->k = (uint8_t)k;
	p->m = (uint8_t)m;
	for (unsigned i = 0; i < k + m; i++) {
		holder_of(p->holder[i], seed, i);
		memset(p->hash[i], (int)(i * 3 + seed), 32);
	}
}

/* The same placement as bytes, written from the layout; returns its size. */
static size_t hand_pack(uint8_t *out, unsigned k, unsigned m, unsigned seed, uint32_t len)
{
	uint8_t *q = out + 38;
	memset(out, (int)(seed * 7 + 1), 32);
	le32(out + 32, len);
	out[36] = (uint8_t)k;
	out[37] = (uint8_t)m;
	for (unsigned i = 0; i < k + m; i++, q += 64) {
		holder_of(q, seed, i);
		memset(q + 32, (int)(i * 3 + seed), 32);
	}
	return (size_t)(q - out);
}

static size_t hand_chunk(uint8_t *out, uint32_t pack, uint32_t off, uint32_t sealed, uint32_t plain,
                         uint8_t idbyte)
{
	out[0] = 'C';
	le32(out + 1, pack);
	le32(out + 5, off);
	le32(out + 9, sealed);
	le32(out + 13, plain);
	memset(out + 17, idbyte, 32);
	return 49;
}

/* A root's plaintext from the layout: name, n_index (as written) and the
 * placements of packs[0..have). Returns its size. */
static size_t hand_root(uint8_t *out, uint8_t version, const char *name, size_t name_n,
                        uint16_t n_index, unsigned have, unsigned k, unsigned m)
{
	uint8_t *p = out;
	*p++ = version;
	*p++ = (uint8_t)name_n;
	memcpy(p, name, name_n);
	p += name_n;
	for (int i = 0; i < 16; i++)
		*p++ = (uint8_t)(0xe0 + i);
	le64(p, 1700000000);
	le64(p + 8, 123456789012ULL);
	le64(p + 16, 11111);
	le64(p + 24, 5555555);
	le16(p + 32, n_index);
	p += 34;
	for (unsigned i = 0; i < have; i++)
		p += hand_pack(p, k, m, i, 2000 + i);
	return (size_t)(p - out);
}

/* Seals plaintext pt[0..n) by hand as the body of record rname by auth,
 * under key. Returns the body's size. */
static size_t hand_seal(uint8_t *out, const uint8_t *pt, size_t n, const uint8_t *key,
                        const uint8_t *auth, const char *rname)
{
	uint8_t ad[20 + 32 + 128];
	size_t rn = strlen(rname);
	memcpy(ad, "kith backup root v1", 20); /* with its NUL */
	memcpy(ad + 20, auth, 32);
	memcpy(ad + 52, rname, rn);
	randombytes_buf(out, 24);
	crypto_aead_xchacha20poly1305_ietf_encrypt(out + 24, NULL, pt, n, ad, 52 + rn, NULL, out,
	                                           key);
	return n + 40;
}

static bool is_zero(const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

static bool documented(int rc)
{
	return rc == KITH_ETRUNC || rc == KITH_EMALFORMED || rc == KITH_EVALUE ||
	       rc == KITH_EDUPKEY || rc == KITH_EVERSION || rc == KITH_ETRAIL ||
	       rc == KITH_EBADSIG || rc == KITH_ETOOBIG;
}

/* A root of n packs with code k + m, name name. */
static struct snap_root *make_root(const char *name, unsigned n, unsigned k, unsigned m)
{
	struct snap_root *r = calloc(1, sizeof(*r));
	if (!r)
		abort();
	snprintf(r->name, sizeof(r->name), "%s", name);
	for (int i = 0; i < 16; i++)
		r->id[i] = (uint8_t)(0xe0 + i);
	r->time = 1700000000;
	r->size = 123456789012ULL;
	r->chunks = 11111;
	r->bytes_new = 5555555;
	r->n_index = n;
	for (unsigned i = 0; i < n; i++) {
		make_pack(&r->index[i], k, m, i);
		r->index[i].len = 2000 + i;
	}
	return r;
}

/* ---- tests ---- */

static void test_sizes(void)
{
	is(snap_pack_len(1, 0), 102, "a 1+0 placement is 102 bytes");
	is(snap_pack_len(4, 2), 422, "a 4+2 placement is 422 bytes");
	is(snap_pack_len(ERASURE_K_MAX, ERASURE_M_MAX), 3110, "a 32+16 placement is 3110 bytes");
	is(SNAP_PACK_LEN_MAX, 3110, "the largest placement");
	is(SNAP_ENTRY_MAX, 3115, "the largest entry");
	is(SNAP_CHUNK_ENTRY_LEN, 49, "a chunk entry is 49 bytes");
	is(SNAP_INDEX_PACKS_MAX, 19, "19 index packs per root");
	ok(SNAP_ROOT_SEALED_MAX <= PROTO_BODY_MAX, "the largest root fits a record body");
	ok(SNAP_ROOT_SEALED_MAX + SNAP_PACK_LEN_MAX > PROTO_BODY_MAX, "one more pack would not");
	is(SNAP_RECORD_NAME_LEN, 72, "record names are 72 bytes");
	ok(SNAP_RECORD_NAME_LEN <= PROTO_NAME_MAX, "within PROTO_NAME_MAX");
}

static void test_names(void)
{
	char n64[65], n65[66];
	memset(n64, 'x', 64);
	n64[64] = '\0';
	memset(n65, 'x', 65);
	n65[65] = '\0';
	ok(snap_name_ok("a", 1), "one letter");
	ok(snap_name_ok("my-backup_1.0", 13), "letters, digits, . _ -");
	ok(snap_name_ok("-x", 2) && snap_name_ok("x.", 2), "- first, . last");
	ok(snap_name_ok(n64, 64), "64 bytes");
	ok(!snap_name_ok(n65, 65), "65 bytes refused");
	ok(!snap_name_ok("", 0), "empty refused");
	ok(!snap_name_ok(".hidden", 7) && !snap_name_ok("..", 2), ". first refused");
	ok(!snap_name_ok("a/b", 3) && !snap_name_ok("a b", 3) && !snap_name_ok("a:b", 3),
	   "/, space and : refused");
	ok(!snap_name_ok("caf\xc3\xa9", 5), "non-ASCII refused");
	ok(!snap_name_ok("ab\0c", 4), "an embedded NUL refused");
	ok(!snap_name_ok(NULL, 3), "NULL refused");
}

static void pack_round_trip(unsigned k, unsigned m, const char *what)
{
	struct snap_entry e, d;
	uint8_t hand[SNAP_ENTRY_MAX];
	size_t len = 0, used = 0, hn;
	bool good;

	memset(&e, 0, sizeof(e));
	e.type = SNAP_ENTRY_PACK;
	e.ordinal = 0x01020304;
	make_pack(&e.pack, k, m, 9);
	hand[0] = 'P';
	hand[1] = 4, hand[2] = 3, hand[3] = 2, hand[4] = 1; /* the ordinal, little-endian */
	hn = 5 + hand_pack(hand + 5, k, m, 9, 1009);
	good = snap_entry_encode(buf, BUF_LEN, &e, &len) == 0 && len == hn &&
	       len == 5 + snap_pack_len(k, m) && !memcmp(buf, hand, hn);
	good = good && snap_entry_decode(&d, buf, len, &used) == 0 && used == len &&
	       !memcmp(&d, &e, sizeof(d));
	ok(good, what);
}

static void test_entries(void)
{
	struct snap_entry e, d;
	uint8_t hand[64];
	size_t len = 0, used = 0, at = 0;
	bool good = true;

	pack_round_trip(1, 0, "pack entry 1+0: layout and round trip");
	pack_round_trip(4, 2, "pack entry 4+2: layout and round trip");
	pack_round_trip(ERASURE_K_MAX, ERASURE_M_MAX, "pack entry 32+16: layout and round trip");
	pack_round_trip(1, ERASURE_M_MAX, "pack entry 1+16: layout and round trip");

	memset(&e, 0, sizeof(e));
	e.type = SNAP_ENTRY_CHUNK;
	e.chunk = (struct snap_chunk){7, 4096, 1042, 1000, {0}};
	memset(e.chunk.id, 0xcc, SEAL_ID_LEN);
	hand_chunk(hand, 7, 4096, 1042, 1000, 0xcc);
	ok(snap_entry_encode(buf, BUF_LEN, &e, &len) == 0 && len == 49 && !memcmp(buf, hand, 49),
	   "chunk entry: layout");
	ok(snap_entry_decode(&d, buf, len, &used) == 0 && used == 49 && !memcmp(&d, &e, sizeof(d)),
	   "chunk entry: round trip");

	/* Edges that are allowed. */
	struct snap_chunk edges[] = {
	    {0, 0, SEAL_OVERHEAD, 0, {0}},
	    {UINT32_MAX, 0, (uint32_t)seal_max_len(PACK_CHUNK_MAX), PACK_CHUNK_MAX, {0}},
	    {1, PACK_SIZE_MAX - SEAL_OVERHEAD, SEAL_OVERHEAD, 0, {0}},
	};
	for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++) {
		e.chunk = edges[i];
		good = good && !snap_entry_encode(buf, BUF_LEN, &e, &len) &&
		       !snap_entry_decode(&d, buf, len, &used) && !memcmp(&d, &e, sizeof(d));
	}
	ok(good, "chunk edges: empty chunk, largest chunk, ending at PACK_SIZE_MAX");

	/* A stream: pack, chunks, pack, chunks; read back entry by entry. */
	at = 0;
	for (unsigned i = 0; i < 6; i++) {
		memset(&e, 0, sizeof(e));
		if (i % 3 == 0) {
			e.type = SNAP_ENTRY_PACK;
			e.ordinal = i / 3;
			make_pack(&e.pack, 4, 2, i);
		} else {
			e.type = SNAP_ENTRY_CHUNK;
			e.chunk = (struct snap_chunk){i / 3, 100 * i, 50, 8, {0}};
		}
		if (snap_entry_encode(buf + at, BUF_LEN - at, &e, &len))
			good = false;
		at += len;
	}
	unsigned packs = 0, chunks = 0;
	for (size_t off = 0; off < at; off += used) {
		if (snap_entry_decode(&d, buf + off, at - off, &used)) {
			good = false;
			break;
		}
		packs += d.type == SNAP_ENTRY_PACK;
		chunks += d.type == SNAP_ENTRY_CHUNK;
		if ((d.type == SNAP_ENTRY_CHUNK && d.chunk.pack != packs - 1) ||
		    (d.type == SNAP_ENTRY_PACK && d.ordinal != packs - 1))
			good = false;
	}
	ok(good && packs == 2 && chunks == 4, "a stream of 6 entries read back in order");
}

/* Decodes b[0..n) and checks the code and that nothing is given out. */
static bool entry_refused(const uint8_t *b, size_t n, int want)
{
	struct snap_entry d;
	size_t used = 99;
	int rc;
	memset(&d, 0xee, sizeof(d));
	rc = snap_entry_decode(&d, b, n, &used);
	if (rc != want)
		printf("#   got %d (%s), expected %d\n", rc, proto_strerror(rc), want);
	return rc == want && used == 0 && is_zero(&d, sizeof(d));
}

static void test_entry_refusals(void)
{
	uint8_t b[SNAP_ENTRY_MAX + 8] = {0};
	size_t n;
	bool all;

	ok(entry_refused(b, 0, KITH_ETRUNC), "nothing: truncated");
	b[0] = 'X';
	ok(entry_refused(b, 50, KITH_EMALFORMED), "type 'X': malformed");
	b[0] = 'p';
	ok(entry_refused(b, 50, KITH_EMALFORMED), "type 'p': malformed");
	b[0] = 0;
	ok(entry_refused(b, 50, KITH_EMALFORMED), "type 0: malformed");

	/* Pack entries. */
	b[0] = 'P'; /* ordinal 0 in b[1..4] */
	n = 5 + hand_pack(b + 5, 4, 2, 1, 5000);
	all = true;
	for (size_t i = 0; i < n; i++)
		all = all && entry_refused(b, i, KITH_ETRUNC);
	ok(all, "pack entry: every prefix truncated");
	n = 5 + hand_pack(b + 5, 0, 2, 1, 5000);
	ok(entry_refused(b, n + 200, KITH_EVALUE), "k = 0 refused");
	n = 5 + hand_pack(b + 5, ERASURE_K_MAX + 1, 0, 1, 5000);
	ok(entry_refused(b, n, KITH_EVALUE), "k = 33 refused");
	n = 5 + hand_pack(b + 5, 4, ERASURE_M_MAX + 1, 1, 5000);
	ok(entry_refused(b, n, KITH_EVALUE), "m = 17 refused");
	n = 5 + hand_pack(b + 5, 4, 2, 1, 5000);
	ok(entry_refused(b, 43, KITH_ETRUNC), "a good k, m but no shards: truncated");
	b[41] = 0;
	ok(entry_refused(b, 43, KITH_EVALUE), "a bad k is found before the truncation");
	n = 5 + hand_pack(b + 5, 4, 2, 1, 0);
	ok(entry_refused(b, n, KITH_EVALUE), "pack length 0 refused");
	n = 5 + hand_pack(b + 5, 4, 2, 1, PACK_SIZE_MAX + 1);
	ok(entry_refused(b, n, KITH_EVALUE), "pack length PACK_SIZE_MAX + 1 refused");
	n = 5 + hand_pack(b + 5, 4, 2, 1, UINT32_MAX);
	ok(entry_refused(b, n, KITH_EVALUE), "pack length 2^32 - 1 refused");
	n = 5 + hand_pack(b + 5, 4, 2, 1, PACK_SIZE_MAX);
	{
		struct snap_entry d;
		size_t used;
		ok(snap_entry_decode(&d, b, n, &used) == 0 && d.pack.len == PACK_SIZE_MAX,
		   "pack length PACK_SIZE_MAX accepted");
	}
	memcpy(b + 5 + 38 + 5 * 64, b + 5 + 38, 32); /* last holder = first */
	ok(entry_refused(b, n, KITH_EDUPKEY), "first and last holder the same: refused");
	n = 5 + hand_pack(b + 5, ERASURE_K_MAX, ERASURE_M_MAX, 1, 5000);
	memcpy(b + 5 + 38 + 20 * 64, b + 5 + 38 + 19 * 64, 32);
	ok(entry_refused(b, n, KITH_EDUPKEY), "two neighbours in 32+16 the same: refused");
	n = 5 + hand_pack(b + 5, 4, 2, 1, 5000);
	memcpy(b + 5 + 38 + 64 + 32, b + 5 + 38 + 32, 32); /* same hash: allowed */
	{
		struct snap_entry d;
		size_t used;
		ok(snap_entry_decode(&d, b, n, &used) == 0, "two shards with one hash: allowed");
	}

	/* Chunk entries. */
	n = hand_chunk(b, 0, 0, 100, 58, 1);
	all = true;
	for (size_t i = 0; i < n; i++)
		all = all && entry_refused(b, i, KITH_ETRUNC);
	ok(all, "chunk entry: every prefix truncated");
	hand_chunk(b, 0, 0, SEAL_OVERHEAD - 1, 0, 1);
	ok(entry_refused(b, 49, KITH_EVALUE), "sealed length under SEAL_OVERHEAD refused");
	hand_chunk(b, 0, 0, 100 + SEAL_OVERHEAD + 1, 100, 1);
	ok(entry_refused(b, 49, KITH_EVALUE), "sealed length over seal_max_len() refused");
	hand_chunk(b, 0, 0, 1000, PACK_CHUNK_MAX + 1, 1);
	ok(entry_refused(b, 49, KITH_EVALUE), "plain length over PACK_CHUNK_MAX refused");
	hand_chunk(b, 0, 0, 1000, UINT32_MAX, 1);
	ok(entry_refused(b, 49, KITH_EVALUE), "plain length 2^32 - 1 refused");
	hand_chunk(b, 0, PACK_SIZE_MAX - SEAL_OVERHEAD + 1, SEAL_OVERHEAD, 0, 1);
	ok(entry_refused(b, 49, KITH_EVALUE), "ending past PACK_SIZE_MAX refused");
	hand_chunk(b, 0, UINT32_MAX, 100, 58, 1);
	ok(entry_refused(b, 49, KITH_EVALUE), "offset 2^32 - 1 (would wrap) refused");
}

static void test_encode_refusals(void)
{
	struct snap_entry e;
	size_t len = 99;
	uint8_t small[SNAP_ENTRY_MAX];

	memset(&e, 0, sizeof(e));
	e.type = 0;
	is(snap_entry_encode(buf, BUF_LEN, &e, &len), KITH_EVALUE, "type 0 refused");
	ok(len == 0, "no length given");
	e.type = SNAP_ENTRY_PACK;
	make_pack(&e.pack, 4, 2, 3);
	e.pack.k = 0;
	is(snap_entry_encode(buf, BUF_LEN, &e, &len), KITH_EVALUE, "k = 0 refused");
	e.pack.k = 4;
	e.pack.m = ERASURE_M_MAX + 1;
	is(snap_entry_encode(buf, BUF_LEN, &e, &len), KITH_EVALUE, "m = 17 refused");
	e.pack.m = 2;
	e.pack.len = 0;
	is(snap_entry_encode(buf, BUF_LEN, &e, &len), KITH_EVALUE, "length 0 refused");
	e.pack.len = PACK_SIZE_MAX + 1;
	is(snap_entry_encode(buf, BUF_LEN, &e, &len), KITH_EVALUE, "length over max refused");
	e.pack.len = 10;
	memcpy(e.pack.holder[5], e.pack.holder[2], 32);
	is(snap_entry_encode(buf, BUF_LEN, &e, &len), KITH_EDUPKEY, "a holder twice refused");
	make_pack(&e.pack, 4, 2, 3);
	memcpy(e.pack.holder[6], e.pack.holder[0], 32); /* past k + m: unused */
	is(snap_entry_encode(buf, BUF_LEN, &e, &len), 0, "unused slots are not looked at");
	memset(small, 0x77, sizeof(small));
	is(snap_entry_encode(small, 4 + snap_pack_len(4, 2), &e, &len), KITH_ETOOBIG,
	   "cap one byte short: too big");
	ok(len == 0 && small[0] == 0x77, "nothing written");
	is(snap_entry_encode(small, 5 + snap_pack_len(4, 2), &e, &len), 0, "exact cap");

	e.type = SNAP_ENTRY_CHUNK;
	e.chunk = (struct snap_chunk){0, 0, SEAL_OVERHEAD - 1, 0, {0}};
	is(snap_entry_encode(buf, BUF_LEN, &e, &len), KITH_EVALUE, "sealed under overhead refused");
	e.chunk = (struct snap_chunk){0, 0, 100, 57, {0}};
	is(snap_entry_encode(buf, BUF_LEN, &e, &len), KITH_EVALUE, "sealed over max refused");
	e.chunk = (struct snap_chunk){0, 0, 100, PACK_CHUNK_MAX + 1, {0}};
	is(snap_entry_encode(buf, BUF_LEN, &e, &len), KITH_EVALUE, "plain over max refused");
	e.chunk = (struct snap_chunk){0, UINT32_MAX - 10, 100, 60, {0}};
	is(snap_entry_encode(buf, BUF_LEN, &e, &len), KITH_EVALUE, "end past the limit refused");
	e.chunk = (struct snap_chunk){0, 0, 100, 60, {0}};
	is(snap_entry_encode(small, 48, &e, &len), KITH_ETOOBIG, "chunk, cap 48: too big");
	is(snap_entry_encode(small, 49, &e, &len), 0, "chunk, cap 49");
}

static void test_chunk_check(void)
{
	struct snap_pack p;
	struct snap_chunk c = {0, 900, 100, 58, {0}};
	make_pack(&p, 4, 2, 0);
	p.len = 1000;
	is(snap_chunk_check(&c, &p), 0, "a chunk ending at the pack's end");
	c.offset = 901;
	is(snap_chunk_check(&c, &p), KITH_EVALUE, "one byte past refused");
	c.offset = UINT32_MAX;
	is(snap_chunk_check(&c, &p), KITH_EVALUE, "an offset that would wrap refused");
}

static void test_record_names(void)
{
	static const uint8_t id[SNAP_ID_LEN] = {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
	                                        0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0xff};
	struct backup_keys fixed;
	char a[SNAP_RECORD_NAME_LEN + 1], b[SNAP_RECORD_NAME_LEN + 1];
	char pa[SNAP_RECORD_PREFIX_LEN + 1], pb[SNAP_RECORD_PREFIX_LEN + 1];
	char n64[65], n65[66];
	bool hex = true;

	memset(&fixed, 0, sizeof(fixed));
	memset(fixed.name, 0x42, sizeof(fixed.name));
	is(snap_record_name(a, &fixed, "home", id), 0, "record name of \"home\"");
	/* BLAKE2b-128 keyed by 32 bytes 0x42 over "home", from another
	 * implementation (Python's hashlib.blake2b). */
	ok(!strcmp(a, "backup/3f4084979be5f4e3dfd6522f02a61068/000102030405060708090a0b0c0d0eff"),
	   "known answer");
	is(strlen(a), SNAP_RECORD_NAME_LEN, "72 bytes");
	for (size_t i = 7; i < SNAP_RECORD_NAME_LEN; i++)
		if (i != 39 && !strchr("0123456789abcdef", a[i]))
			hex = false;
	ok(hex && !strncmp(a, "backup/", 7) && a[39] == '/', "backup/<hex>/<hex>, lowercase");
	is(snap_record_prefix(pa, &fixed, "home"), 0, "prefix of \"home\"");
	ok(strlen(pa) == SNAP_RECORD_PREFIX_LEN && !strncmp(a, pa, SNAP_RECORD_PREFIX_LEN),
	   "the prefix starts the record name");
	snap_record_name(b, &fixed, "home", id);
	ok(!strcmp(a, b), "stable");
	snap_record_prefix(pb, &fixed, "Home");
	ok(!strcmp(pb, "backup/df7354389ff16de7ce75c095b6347b35/"), "known answer, \"Home\"");
	snap_record_prefix(pb, &keys, "home");
	ok(strcmp(pa, pb), "another key, another prefix");
	snap_record_name(b, &fixed, "home", (const uint8_t *)"0123456789abcdef");
	ok(!strncmp(a, b, SNAP_RECORD_PREFIX_LEN) && strcmp(a, b),
	   "another snapshot: same prefix, another name");

	memset(n64, 'y', 64);
	n64[64] = '\0';
	memset(n65, 'y', 65);
	n65[65] = '\0';
	is(snap_record_name(a, &fixed, n64, id), 0, "a 64-byte name");
	a[0] = 'x';
	is(snap_record_name(a, &fixed, n65, id), KITH_EVALUE, "a 65-byte name refused");
	ok(a[0] == '\0', "out is empty");
	is(snap_record_name(a, &fixed, "", id), KITH_EVALUE, "empty name refused");
	is(snap_record_name(a, &fixed, ".x", id), KITH_EVALUE, ". first refused");
	is(snap_record_prefix(pa, &fixed, "a/b"), KITH_EVALUE, "/ refused by the prefix too");
	is(snap_record_prefix(pa, &fixed, NULL), KITH_EVALUE, "NULL refused");
}

static void root_round_trip(const char *name, unsigned n, unsigned k, unsigned m, size_t want_len,
                            const char *what)
{
	struct snap_root *r = make_root(name, n, k, m), *o = malloc(sizeof(*o));
	char rn[SNAP_RECORD_NAME_LEN + 1];
	size_t len = 0, pl = 0, hl;
	uint8_t *hand = malloc(BUF_LEN);
	bool good;

	snap_record_name(rn, &keys, name, r->id);
	hl = hand_root(hand, 1, name, strlen(name), (uint16_t)n, n, k, m);
	good = snap_root_encode(buf2, BUF_LEN, &pl, r) == 0 && pl == hl && !memcmp(buf2, hand, hl);
	good = good && snap_root_seal(buf, BUF_LEN, &len, r, &keys, author, rn) == 0 &&
	       len == want_len && len == pl + SNAP_ROOT_OVERHEAD;
	good = good && snap_root_open(o, buf, len, &keys, author, rn) == 0 &&
	       !memcmp(o, r, sizeof(*r));
	ok(good, what);
	free(r);
	free(o);
	free(hand);
}

static void test_root_round_trips(void)
{
	char n64[65];
	memset(n64, 'z', 64);
	n64[64] = '\0';
	root_round_trip("home", 3, 4, 2, 40 + 52 + 4 + 3 * 422, "root, 3 packs of 4+2");
	root_round_trip("a", 1, 1, 0, SNAP_ROOT_SEALED_MIN, "the smallest root");
	root_round_trip(n64, SNAP_INDEX_PACKS_MAX, ERASURE_K_MAX, ERASURE_M_MAX,
	                SNAP_ROOT_SEALED_MAX, "the largest root, within PROTO_BODY_MAX");

	/* Sealed by hand from the document: the AD is as described. */
	struct snap_root *o = malloc(sizeof(*o)), *r = make_root("home", 2, 8, 4);
	size_t pl = hand_root(buf2, 1, "home", 4, 2, 2, 8, 4);
	size_t len = hand_seal(buf, buf2, pl, keys.root, author, "backup/x/y");
	ok(snap_root_open(o, buf, len, &keys, author, "backup/x/y") == 0 &&
	       !memcmp(o, r, sizeof(*r)),
	   "a root sealed by hand from the header opens");
	free(o);
	free(r);
}

/* Parses p[0..n) and checks the code and that *out is zeroed. */
static bool parse_refused(const uint8_t *p, size_t n, int want)
{
	struct snap_root *o = malloc(sizeof(*o));
	int rc;
	bool good;
	memset(o, 0xee, sizeof(*o));
	rc = snap_root_parse(o, p, n);
	if (rc != want)
		printf("#   got %d (%s), expected %d\n", rc, proto_strerror(rc), want);
	good = rc == want && is_zero(o, sizeof(*o));
	free(o);
	return good;
}

/* As parse_refused(), through a body sealed by hand under the right key. */
static bool open_refused(const uint8_t *p, size_t n, int want)
{
	struct snap_root *o = malloc(sizeof(*o));
	uint8_t *body = malloc(n + 40);
	size_t len = hand_seal(body, p, n, keys.root, author, "r");
	int rc;
	bool good;
	memset(o, 0xee, sizeof(*o));
	rc = snap_root_open(o, body, len, &keys, author, "r");
	good = rc == want && is_zero(o, sizeof(*o));
	free(o);
	free(body);
	return good;
}

static bool parses(const uint8_t *p, size_t n)
{
	struct snap_root *o = malloc(sizeof(*o));
	bool good = snap_root_parse(o, p, n) == 0;
	free(o);
	return good;
}

static bool opens(const uint8_t *p, size_t n)
{
	struct snap_root *o = malloc(sizeof(*o));
	uint8_t *body = malloc(n + 40);
	size_t len = hand_seal(body, p, n, keys.root, author, "r");
	bool good = snap_root_open(o, body, len, &keys, author, "r") == 0;
	free(o);
	free(body);
	return good;
}

static void test_root_refusals(void)
{
	uint8_t *p = buf2;
	size_t n;
	bool all = true;
	char n65[66];

	n = hand_root(p, 1, "home", 4, 2, 2, 4, 2);
	ok(parses(p, n) && opens(p, n), "the base plaintext parses, and opens sealed");
	for (size_t i = 0; i < n; i++)
		all = all && parse_refused(p, i, KITH_ETRUNC);
	ok(all, "every prefix of a root truncated");
	p[n] = 0;
	ok(parse_refused(p, n + 1, KITH_ETRAIL), "a byte after the last pack: trailing");
	ok(open_refused(p, n + 1, KITH_ETRAIL), "the same, sealed: trailing");
	n = hand_root(p, 1, "home", 4, 3, 2, 4, 2);
	ok(parse_refused(p, n, KITH_ETRUNC), "n_index 3 with 2 packs: truncated");
	n = hand_root(p, 0, "home", 4, 2, 2, 4, 2);
	ok(parse_refused(p, n, KITH_EVERSION), "version 0 refused");
	p[0] = 3;
	ok(parse_refused(p, n, KITH_EVERSION), "version 3 refused");
	ok(parse_refused(p, 1, KITH_EVERSION), "version 3 alone: version");
	ok(open_refused(p, n, KITH_EVERSION), "version 3, sealed: version");
	p[0] = 2;
	ok(parse_refused(p, 1, KITH_ETRUNC), "version 2 alone: truncated");
	{
		struct snap_root *r2 = malloc(sizeof(*r2));
		uint8_t *again = malloc(SNAP_ROOT_PLAIN_MAX);
		size_t len = 0;
		ok(r2 && again && snap_root_parse(r2, p, n) == 0 && r2->level == 1,
		   "version 2: an indirect root (level 1)");
		ok(r2 && again && snap_root_encode(again, SNAP_ROOT_PLAIN_MAX, &len, r2) == 0 &&
		       len == n && !memcmp(again, p, n),
		   "an indirect root encodes to the same bytes");
		if (r2) {
			r2->level = 2;
			ok(snap_root_encode(again, SNAP_ROOT_PLAIN_MAX, &len, r2) == KITH_EVALUE,
			   "level 2 refused by the encoder");
		}
		free(r2);
		free(again);
	}
	n = hand_root(p, 1, "", 0, 2, 2, 4, 2);
	ok(parse_refused(p, n, KITH_EVALUE), "name length 0 refused");
	memset(n65, 'x', 65);
	n = hand_root(p, 1, n65, 65, 2, 2, 4, 2);
	ok(parse_refused(p, n, KITH_EVALUE), "name length 65 refused");
	n = hand_root(p, 1, "a/b", 3, 2, 2, 4, 2);
	ok(parse_refused(p, n, KITH_EVALUE), "name with / refused");
	n = hand_root(p, 1, ".ab", 3, 2, 2, 4, 2);
	ok(parse_refused(p, n, KITH_EVALUE), "name starting with . refused");
	n = hand_root(p, 1, "a\0b", 3, 2, 2, 4, 2);
	ok(parse_refused(p, n, KITH_EVALUE), "name with a NUL refused");
	ok(open_refused(p, n, KITH_EVALUE), "the same, sealed");
	n = hand_root(p, 1, "home", 4, 0, 0, 4, 2);
	ok(parse_refused(p, n, KITH_EVALUE), "n_index 0 refused");
	n = hand_root(p, 1, "home", 4, SNAP_INDEX_PACKS_MAX + 1, SNAP_INDEX_PACKS_MAX + 1, 1, 0);
	ok(parse_refused(p, n, KITH_EVALUE), "n_index 20 refused, though the packs are there");
	n = hand_root(p, 1, "home", 4, UINT16_MAX, 1, 1, 0);
	ok(parse_refused(p, n, KITH_EVALUE), "n_index 65535 refused");
	n = hand_root(p, 1, "home", 4, 2, 2, 0, 2);
	ok(parse_refused(p, n, KITH_EVALUE), "an index pack with k = 0 refused");
	n = hand_root(p, 1, "home", 4, 2, 2, 4, ERASURE_M_MAX + 1);
	ok(parse_refused(p, n, KITH_EVALUE), "an index pack with m = 17 refused");
	n = hand_root(p, 1, "home", 4, 2, 2, 4, 2);
	le32(p + 2 + 4 + 50 + 422 + 32, 0); /* second pack's length */
	ok(parse_refused(p, n, KITH_EVALUE), "an index pack of length 0 refused");
	n = hand_root(p, 1, "home", 4, 2, 2, 4, 2);
	memcpy(p + 2 + 4 + 50 + 422 + 38 + 64, p + 2 + 4 + 50 + 422 + 38, 32);
	ok(parse_refused(p, n, KITH_EDUPKEY), "an index pack with a holder twice refused");
	ok(open_refused(p, n, KITH_EDUPKEY), "the same, sealed");
	n = hand_root(p, 1, "home", 4, 1, 1, 4, 2);
	ok(parses(p, n) && opens(p, n), "one index pack parses and opens");
}

static void test_seal_refusals(void)
{
	struct snap_root *r = make_root("home", 2, 4, 2);
	size_t len = 99, full;
	char n65[66];

	is(snap_root_seal(buf, BUF_LEN, &len, r, &keys, author, "r"), 0, "seals");
	full = len;
	is(snap_root_seal(buf, full - 1, &len, r, &keys, author, "r"), KITH_ETOOBIG,
	   "cap one byte short: too big");
	ok(len == 0, "no length");
	is(snap_root_seal(buf, 10, &len, r, &keys, author, "r"), KITH_ETOOBIG, "cap 10: too big");
	is(snap_root_seal(buf, full, &len, r, &keys, author, "r"), 0, "exact cap");
	memset(n65, 'x', 65);
	n65[65] = '\0';
	is(snap_root_seal(buf, BUF_LEN, &len, r, &keys, author, ""), KITH_EVALUE,
	   "empty record name refused");
	{
		char long_name[PROTO_NAME_MAX + 2];
		memset(long_name, 'r', sizeof(long_name) - 1);
		long_name[PROTO_NAME_MAX + 1] = '\0';
		is(snap_root_seal(buf, BUF_LEN, &len, r, &keys, author, long_name), KITH_EVALUE,
		   "record name over PROTO_NAME_MAX refused");
		struct snap_root *o = malloc(sizeof(*o));
		is(snap_root_open(o, buf, full, &keys, author, long_name), KITH_EVALUE,
		   "and by the opener");
		free(o);
	}
	memcpy(r->name, n65, sizeof(r->name) - 1);
	r->name[SNAP_NAME_MAX] = 'x'; /* no NUL in the array */
	is(snap_root_seal(buf, BUF_LEN, &len, r, &keys, author, "r"), KITH_EVALUE,
	   "an unterminated name refused");
	strcpy(r->name, ".x");
	is(snap_root_seal(buf, BUF_LEN, &len, r, &keys, author, "r"), KITH_EVALUE,
	   "a bad name refused");
	is(snap_root_seal(buf, 0, &len, r, &keys, author, "r"), KITH_EVALUE,
	   "a bad root with no room: the root's error first");
	strcpy(r->name, "home");
	r->n_index = 0;
	is(snap_root_seal(buf, BUF_LEN, &len, r, &keys, author, "r"), KITH_EVALUE,
	   "no index pack refused");
	r->n_index = SNAP_INDEX_PACKS_MAX + 1;
	is(snap_root_seal(buf, BUF_LEN, &len, r, &keys, author, "r"), KITH_EVALUE,
	   "20 index packs refused");
	r->n_index = 2;
	r->index[1].k = 0;
	is(snap_root_seal(buf, BUF_LEN, &len, r, &keys, author, "r"), KITH_EVALUE,
	   "a bad index pack refused");
	r->index[1].k = 4;
	memcpy(r->index[1].holder[3], r->index[1].holder[1], 32);
	is(snap_root_seal(buf, BUF_LEN, &len, r, &keys, author, "r"), KITH_EDUPKEY,
	   "a holder twice refused");
	is(snap_root_encode(buf, BUF_LEN, &len, r), KITH_EDUPKEY, "by the plain encoder too");
	free(r);
}

static void test_open_refusals(void)
{
	struct snap_root *r = make_root("home", 3, 4, 2), *o = malloc(sizeof(*o));
	char rn[SNAP_RECORD_NAME_LEN + 1], rn2[SNAP_RECORD_NAME_LEN + 1];
	size_t len;
	bool all = true;

	snap_record_name(rn, &keys, "home", r->id);
	snap_root_seal(buf, BUF_LEN, &len, r, &keys, author, rn);
	is(snap_root_open(o, buf, len, &keys, author, rn), 0, "opens");
	for (size_t i = 0; i < len; i++) {
		for (int bit = 0; bit < 8; bit += 7) {
			buf[i] ^= (uint8_t)(1u << bit);
			memset(o, 0xee, sizeof(*o));
			all = all &&
			      snap_root_open(o, buf, len, &keys, author, rn) == KITH_EBADSIG &&
			      is_zero(o, sizeof(*o));
			buf[i] ^= (uint8_t)(1u << bit);
		}
	}
	ok(all, "every byte flipped (bits 0 and 7): does not authenticate, nothing out");
	all = true;
	for (size_t i = 0; i < len; i++) {
		uint8_t was = buf[i];
		buf[i] = (uint8_t)(was + 1 + (rng_next() % 255));
		all = all && snap_root_open(o, buf, len, &keys, author, rn) == KITH_EBADSIG;
		buf[i] = was;
	}
	ok(all, "every byte replaced by another value: refused");
	is(snap_root_open(o, buf, len - 1, &keys, author, rn), KITH_EBADSIG, "one byte short");
	buf[len] = 0;
	is(snap_root_open(o, buf, len + 1, &keys, author, rn), KITH_EBADSIG, "one byte more");
	is(snap_root_open(o, buf, len, &other, author, rn), KITH_EBADSIG, "another owner's key");
	is(snap_root_open(o, buf, len, &keys, stranger, rn), KITH_EBADSIG, "another author");
	snap_record_name(rn2, &keys, "home", (const uint8_t *)"0123456789abcdef");
	is(snap_root_open(o, buf, len, &keys, author, rn2), KITH_EBADSIG,
	   "another snapshot's record name");
	snap_record_name(rn2, &keys, "work", r->id);
	is(snap_root_open(o, buf, len, &keys, author, rn2), KITH_EBADSIG,
	   "another backup's record name");
	rn[SNAP_RECORD_NAME_LEN - 1] = '\0';
	is(snap_root_open(o, buf, len, &keys, author, rn), KITH_EBADSIG, "a record name cut short");
	is(snap_root_open(o, buf, 0, &keys, author, rn), KITH_ETRUNC, "nothing: truncated");
	is(snap_root_open(o, buf, SNAP_ROOT_SEALED_MIN - 1, &keys, author, rn), KITH_ETRUNC,
	   "under the smallest root: truncated");
	is(snap_root_open(o, buf, SNAP_ROOT_SEALED_MAX + 1, &keys, author, rn), KITH_ETOOBIG,
	   "over the largest root: too big");
	is(snap_root_open(o, buf, len, &keys, author, NULL), KITH_EVALUE, "no record name");
	free(r);
	free(o);
}

/* Random bytes, and random bytes behind a plausible start, never crash;
 * whatever is accepted encodes back to the same bytes. */
static void test_garbage(void)
{
	struct snap_root *o = malloc(sizeof(*o));
	struct snap_entry d;
	bool codes = true, back = true;
	unsigned accepted = 0;

	for (int round = 0; round < 20000; round++) {
		size_t n = (size_t)(rng_next() % 4000), used, len;
		int rc;
		rng_fill(buf2, n);
		if (n && round % 4 == 1)
			buf2[0] = round & 8 ? 'P' : 'C';
		if (n > 40 && round % 4 == 1 && buf2[0] == 'P') {
			buf2[37] = (uint8_t)(1 + rng_next() % 32);
			buf2[38] = (uint8_t)(rng_next() % 17);
			le32(buf2 + 33, (uint32_t)(1 + rng_next() % PACK_SIZE_MAX));
		}
		if (n > 40 && round % 4 == 1 && buf2[0] == 'C') {
			uint32_t plain = (uint32_t)(rng_next() % 1000);
			le32(buf2 + 5, (uint32_t)(rng_next() % 1000));
			le32(buf2 + 9, plain + 42 - (uint32_t)(rng_next() % 2));
			le32(buf2 + 13, plain);
		}
		if (n > 2 && round % 4 == 2) {
			buf2[0] = 1;
			buf2[1] = (uint8_t)(rng_next() % 8);
		}
		rc = snap_entry_decode(&d, buf2, n, &used);
		codes = codes && (rc == 0 || documented(rc));
		if (!rc) {
			accepted++;
			back = back && !snap_entry_encode(buf, BUF_LEN, &d, &len) && len == used &&
			       !memcmp(buf, buf2, len);
		}
		rc = snap_root_parse(o, buf2, n);
		codes = codes && (rc == 0 || documented(rc));
		if (!rc)
			back = back && !snap_root_encode(buf, BUF_LEN, &len, o) && len == n &&
			       !memcmp(buf, buf2, n);
		rc = snap_root_open(o, buf2, n, &keys, author, "r");
		codes = codes && (rc == KITH_ETRUNC || rc == KITH_EBADSIG);
	}
	ok(codes, "20 000 random inputs: only documented refusals");
	ok(back, "what was accepted encodes back to the same bytes");
	ok(accepted > 0, "some random entries were accepted");
	free(o);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	randombytes_buf(&keys, sizeof(keys));
	randombytes_buf(&other, sizeof(other));
	randombytes_buf(author, sizeof(author));
	randombytes_buf(stranger, sizeof(stranger));
	buf = malloc(BUF_LEN);
	buf2 = malloc(BUF_LEN);
	if (!buf || !buf2)
		return 1;

	test_sizes();
	test_names();
	test_entries();
	test_entry_refusals();
	test_encode_refusals();
	test_chunk_check();
	test_record_names();
	test_root_round_trips();
	test_root_refusals();
	test_seal_refusals();
	test_open_refusals();
	test_garbage();

	free(buf);
	free(buf2);
	return tap_done();
}
