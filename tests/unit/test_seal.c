/* Unit tests of sealed chunks (backup/seal.c). The layout is rebuilt here
 * from the header's description with libsodium and libzstd directly, so
 * that the tests can hand-seal what a malicious holder or a broken sealer
 * would send (a zstd bomb under the right key, a chunk under another
 * chunk's ID) and check the code against the document, not against
 * itself. */
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <zstd.h>

#include "backup/seal.h"
#include "proto/error.h"
#include "tap.h"

#define CHUNK_MAX (256 * 1024)
#define SENTINEL 0xa5

static struct backup_keys keys, other;
static struct seal *s;
static uint8_t *plain, *sealed, *out, *frame;

/* ---- the format, rebuilt from the header ---- */

/* Seals payload[0..n) as the header describes, with the given flags and
 * ID, whatever they are; returns the sealed size. */
static size_t hand_seal(uint8_t *dst, const struct backup_keys *k, uint8_t flags, const uint8_t *id,
                        const uint8_t *payload, size_t n)
{
	uint8_t ad[2 + SEAL_ID_LEN];
	dst[0] = SEAL_VERSION;
	dst[1] = flags;
	randombytes_buf(dst + 2, SEAL_NONCE_LEN);
	memcpy(ad, dst, 2);
	memcpy(ad + 2, id, SEAL_ID_LEN);
	crypto_aead_xchacha20poly1305_ietf_encrypt(dst + 2 + SEAL_NONCE_LEN, NULL, payload, n, ad,
	                                           sizeof(ad), NULL, dst + 2, k->chunk);
	return 2 + SEAL_NONCE_LEN + n + 16;
}

/* Decrypts a sealed chunk by hand into payload; returns its size or -1. */
static long hand_open(uint8_t *payload, const uint8_t *id, const uint8_t *in, size_t len)
{
	uint8_t ad[2 + SEAL_ID_LEN];
	unsigned long long n;
	memcpy(ad, in, 2);
	memcpy(ad + 2, id, SEAL_ID_LEN);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(payload, &n, NULL, in + 26, len - 26, ad,
	                                               sizeof(ad), in + 2, keys.chunk))
		return -1;
	return (long)n;
}

/* ---- data ---- */

/* Text like a SQL dump: compresses about 4:1 at level 3. */
static void make_text(uint8_t *buf, size_t len, uint32_t seed)
{
	static const char *const names[] = {"alice", "bob", "carol", "dave", "erin", "frank"};
	char line[128];
	size_t at = 0;
	while (at < len) {
		seed = seed * 1103515245u + 12345u;
		int n = snprintf(line, sizeof(line), "INSERT INTO users VALUES (%u, '%s', %u);\n",
		                 seed >> 8, names[(seed >> 4) % 6], seed % 1000);
		for (int i = 0; i < n && at < len; i++)
			buf[at++] = (uint8_t)line[i];
	}
}

static bool all_byte(const uint8_t *p, size_t n, uint8_t b)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != b)
			return false;
	return true;
}

/* No plaintext in out: each byte is the sentinel (untouched) or 0. */
static bool no_plaintext(void)
{
	for (size_t i = 0; i < CHUNK_MAX; i++)
		if (out[i] != SENTINEL && out[i] != 0)
			return false;
	return true;
}

/* Seals plain[0..len) with its ID into sealed; returns the sealed size. */
static size_t seal_plain(size_t len, int level, uint8_t id[SEAL_ID_LEN])
{
	size_t n = 0;
	seal_chunk_id(id, &keys, plain, len);
	if (seal_chunk(s, &keys, level, id, plain, len, sealed, seal_max_len(len), &n))
		return 0;
	return n;
}

/* Opens sealed[0..len) as id into out (filled with the sentinel first). */
static int open_sealed(const uint8_t *in, size_t len, const uint8_t *id, size_t *n)
{
	memset(out, SENTINEL, CHUNK_MAX);
	return seal_open(s, &keys, id, in, len, out, CHUNK_MAX, n);
}

/* ---- tests ---- */

static void test_new(void)
{
	static int dummy;
	struct seal *t = (struct seal *)&dummy;
	is(seal_new(&t, 0), KITH_EVALUE, "chunk_max 0 refused");
	ok(t == NULL, "and nothing returned");
	is(seal_new(&t, SEAL_CHUNK_LIMIT + 1), KITH_EVALUE, "chunk_max over the limit refused");
	is(seal_new(&t, 1), 0, "chunk_max 1 accepted");
	is(seal_chunk_max(t), 1, "and kept");
	seal_free(&t);
	ok(t == NULL, "seal_free sets NULL");
	seal_free(&t);
	seal_free(NULL);
	ok(1, "seal_free(NULL) is harmless");
}

/* Seals plain[0..len), checks size and flag, opens it back. */
static void round_trip(const char *what, size_t len, bool compressible)
{
	char msg[160];
	uint8_t id[SEAL_ID_LEN];
	size_t n = seal_plain(len, SEAL_LEVEL_DEFAULT, id), got = 1;
	int rc;

	snprintf(msg, sizeof(msg), "%s: sealed within seal_max_len", what);
	ok(n >= SEAL_OVERHEAD && n <= seal_max_len(len), msg);
	snprintf(msg, sizeof(msg), "%s: %s", what,
	         compressible ? "compressed (flag set, shorter)" : "kept raw (no flag)");
	ok(compressible ? sealed[1] == SEAL_FLAG_ZSTD && n < len
	                : sealed[1] == 0 && n == len + SEAL_OVERHEAD,
	   msg);
	ok(sealed[0] == SEAL_VERSION, "version byte first");
	rc = open_sealed(sealed, n, id, &got);
	snprintf(msg, sizeof(msg), "%s: opens", what);
	is(rc, 0, msg);
	snprintf(msg, sizeof(msg), "%s: same bytes back", what);
	ok(got == len && !memcmp(out, plain, len), msg);
}

static void test_round_trips(void)
{
	round_trip("empty", 0, false);
	plain[0] = 'x';
	round_trip("1 byte", 1, false);
	make_text(plain, 4096, 1);
	round_trip("text 4 KiB", 4096, true);
	randombytes_buf(plain, 4096);
	round_trip("random 4 KiB", 4096, false);
	make_text(plain, CHUNK_MAX, 2);
	round_trip("text, maximum size", CHUNK_MAX, true);
	randombytes_buf(plain, CHUNK_MAX);
	round_trip("random, maximum size", CHUNK_MAX, false);
}

static void test_id(void)
{
	uint8_t a[SEAL_ID_LEN], b[SEAL_ID_LEN], c[SEAL_ID_LEN], plain_hash[SEAL_ID_LEN];
	struct backup_keys same_id_key = other;
	size_t n1, n2;

	make_text(plain, 1000, 3);
	seal_chunk_id(a, &keys, plain, 1000);
	seal_chunk_id(b, &keys, plain, 1000);
	ok(!memcmp(a, b, SEAL_ID_LEN), "ID is deterministic");
	seal_chunk_id(c, &other, plain, 1000);
	ok(memcmp(a, c, SEAL_ID_LEN), "another owner's key gives another ID");
	memcpy(same_id_key.chunk_id, keys.chunk_id, BACKUP_KEY_LEN);
	seal_chunk_id(c, &same_id_key, plain, 1000);
	ok(!memcmp(a, c, SEAL_ID_LEN), "the ID depends on keys.chunk_id alone");
	crypto_generichash(plain_hash, sizeof(plain_hash), plain, 1000, NULL, 0);
	ok(memcmp(a, plain_hash, SEAL_ID_LEN),
	   "the ID is not the unkeyed hash a holder could test");
	plain[999] ^= 1;
	seal_chunk_id(c, &keys, plain, 1000);
	ok(memcmp(a, c, SEAL_ID_LEN), "one bit of plaintext changes the ID");
	plain[999] ^= 1;

	n1 = seal_plain(1000, 3, a);
	memcpy(frame, sealed, n1);
	n2 = seal_plain(1000, 3, b);
	ok(n1 == n2 && memcmp(frame + 2, sealed + 2, n1 - 2), "same chunk sealed twice: new nonce");
}

/* Runs the level clamp through seal_chunk and reads back the frame. */
static long frame_at(int level, uint8_t *dst, size_t len)
{
	uint8_t id[SEAL_ID_LEN];
	size_t n = seal_plain(len, level, id);
	return n ? hand_open(dst, id, sealed, n) : -1;
}

static void test_level(void)
{
	const size_t len = 64 * 1024;
	uint8_t *f15 = malloc(len), *f19 = malloc(len);
	long n15, n_high, n19;

	is(seal_level(0), SEAL_LEVEL_DEFAULT, "level 0 is the default");
	is(seal_level(SEAL_LEVEL_DEFAULT), 3, "the default is 3");
	is(seal_level(16), 15, "16 clamped to 15");
	is(seal_level(22), 15, "22 clamped to 15");
	is(seal_level(1000), 15, "1000 clamped to 15");
	is(seal_level(-7), 1, "negative clamped to 1");
	is(seal_level(9), 9, "9 kept");
	{
		uint8_t id[SEAL_ID_LEN];
		size_t n, got = 0;
		make_text(plain, len, 4);
		n = seal_plain(len, SEAL_LEVEL_OFF, id);
		ok(n == seal_max_len(len) && sealed[1] == 0,
		   "SEAL_LEVEL_OFF: text that compresses goes raw");
		ok(open_sealed(sealed, n, id, &got) == 0 && got == len && !memcmp(out, plain, len),
		   "and opens to the same bytes");
	}

	make_text(plain, len, 4);
	n15 = frame_at(15, f15, len);
	n_high = frame_at(22, frame, len);
	ok(n15 > 0 && n_high == n15 && !memcmp(f15, frame, (size_t)n15),
	   "sealed at 22: the very frame of level 15");
	n19 = (long)ZSTD_compress(f19, len, plain, len, 19);
	ok(n15 > 0 && !ZSTD_isError((size_t)n19) && (n19 != n15 || memcmp(f15, f19, (size_t)n15)),
	   "while zstd's own level 19 frame differs (the check can fail)");
	n_high = frame_at(INT_MAX, frame, len);
	ok(n15 > 0 && n_high == n15 && !memcmp(f15, frame, (size_t)n15), "INT_MAX: level 15 too");
	free(f15);
	free(f19);
}

/* Every single-bit flip of sealed[0..n) as id is refused, without
 * plaintext in out. */
static void flip_all_bits(const char *what, size_t n, const uint8_t *id)
{
	char msg[160];
	size_t bad_code = 0, leaked = 0, accepted = 0, got;

	for (size_t bit = 0; bit < n * 8; bit++) {
		sealed[bit / 8] ^= (uint8_t)(1u << bit % 8);
		int rc = open_sealed(sealed, n, id, &got);
		int want = bit < 8 ? KITH_EVERSION : KITH_EBADSIG;
		sealed[bit / 8] ^= (uint8_t)(1u << bit % 8);
		accepted += rc == 0;
		bad_code += rc != want;
		leaked += got != 0 || !no_plaintext();
	}
	snprintf(msg, sizeof(msg), "%s: all %zu bit flips refused", what, n * 8);
	is(accepted, 0, msg);
	snprintf(msg, sizeof(msg), "%s: EVERSION in the version byte, EBADSIG elsewhere", what);
	is(bad_code, 0, msg);
	snprintf(msg, sizeof(msg), "%s: no plaintext in out after any of them", what);
	is(leaked, 0, msg);
	is(open_sealed(sealed, n, id, &got), 0, "and unflipped, it still opens");
}

static void test_bit_flips(void)
{
	uint8_t id[SEAL_ID_LEN];
	size_t n;

	memcpy(plain, "a small raw chunk of 40 plaintext bytes", 40);
	n = seal_plain(40, 3, id);
	ok(sealed[1] == 0, "small chunk: raw");
	flip_all_bits("raw chunk", n, id);
	make_text(plain, 600, 5);
	n = seal_plain(600, 3, id);
	ok(sealed[1] == SEAL_FLAG_ZSTD, "text chunk: compressed");
	flip_all_bits("compressed chunk", n, id);
}

static void test_truncation(void)
{
	uint8_t id[SEAL_ID_LEN];
	size_t n, got, bad = 0, leaked = 0;

	make_text(plain, 600, 6);
	n = seal_plain(600, 3, id);
	for (size_t len = 0; len < n; len++) {
		int rc = open_sealed(sealed, len, id, &got);
		bad += rc != (len < SEAL_OVERHEAD ? KITH_ETRUNC : KITH_EBADSIG);
		leaked += got != 0 || !no_plaintext();
	}
	is(bad, 0, "cut at every length: ETRUNC under the overhead, EBADSIG above");
	is(leaked, 0, "and no plaintext in out");
	sealed[n] = 0;
	is(open_sealed(sealed, n + 1, id, &got), KITH_EBADSIG, "one byte appended: refused");
	is(open_sealed(sealed, seal_max_len(CHUNK_MAX) + 1, id, &got), KITH_ETOOBIG,
	   "longer than seal_max_len(chunk_max): refused before reading");
	ok(all_byte(out, CHUNK_MAX, SENTINEL), "out untouched");
}

static void test_wrong_key_id(void)
{
	uint8_t id[SEAL_ID_LEN], wrong[SEAL_ID_LEN];
	size_t n, got;
	struct backup_keys half = keys;

	make_text(plain, 5000, 7);
	n = seal_plain(5000, 3, id);
	memcpy(wrong, id, SEAL_ID_LEN);
	wrong[31] ^= 0x80;
	is(open_sealed(sealed, n, wrong, &got), KITH_EBADSIG, "asked as another ID: refused");
	ok(got == 0 && no_plaintext(), "no plaintext");
	memset(out, SENTINEL, CHUNK_MAX);
	is(seal_open(s, &other, id, sealed, n, out, CHUNK_MAX, &got), KITH_EBADSIG,
	   "another owner's keys: refused");
	ok(got == 0 && no_plaintext(), "no plaintext");
	/* The right ID key but another encryption key: the ID alone opens
	 * nothing. */
	memcpy(half.chunk, other.chunk, BACKUP_KEY_LEN);
	memset(out, SENTINEL, CHUNK_MAX);
	is(seal_open(s, &half, id, sealed, n, out, CHUNK_MAX, &got), KITH_EBADSIG,
	   "right ID key, wrong chunk key: refused");
	ok(all_byte(out, CHUNK_MAX, SENTINEL), "compressed path: out untouched");

	/* Swap: a valid chunk of ID B returned for ID A. */
	uint8_t id_b[SEAL_ID_LEN];
	make_text(plain, 5000, 8);
	n = seal_plain(5000, 3, id_b);
	is(open_sealed(sealed, n, id, &got), KITH_EBADSIG, "another chunk for this ID: refused");

	randombytes_buf(plain, 3000);
	n = seal_plain(3000, 3, id);
	memcpy(wrong, id, SEAL_ID_LEN);
	wrong[0] ^= 1;
	is(open_sealed(sealed, n, wrong, &got), KITH_EBADSIG, "raw chunk, wrong ID: refused");
	ok(got == 0 && no_plaintext(), "no plaintext (raw path decrypts into out)");
}

/* A frame of `zeros` zero bytes at level 19, with or without its size. */
static size_t zero_frame(size_t zeros, bool with_size)
{
	ZSTD_CCtx *c = ZSTD_createCCtx();
	uint8_t *z = calloc(1, zeros);
	size_t n;
	ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, 19);
	ZSTD_CCtx_setParameter(c, ZSTD_c_contentSizeFlag, with_size);
	n = ZSTD_compress2(c, frame, CHUNK_MAX, z, zeros);
	free(z);
	ZSTD_freeCCtx(c);
	return ZSTD_isError(n) ? 0 : n;
}

/* Rewrites the content size a frame declares (RFC 8878, 3.1.1.1); returns
 * false when the field is not 4 bytes. */
static bool forge_size(uint8_t *f, uint32_t size)
{
	uint8_t fhd = f[4];
	size_t at = 5 + !(fhd & 0x20) + (size_t)((const uint8_t[]){0, 1, 2, 4}[fhd & 3]);
	if (fhd >> 6 != 2)
		return false;
	f[at] = (uint8_t)size;
	f[at + 1] = (uint8_t)(size >> 8);
	f[at + 2] = (uint8_t)(size >> 16);
	f[at + 3] = (uint8_t)(size >> 24);
	return true;
}

/* Seals frame[0..n) by hand under the ID of `zeros` zeros (the honest ID
 * of what it expands to) and opens it. */
static int open_bomb(size_t n, size_t zeros, size_t *got)
{
	uint8_t id[SEAL_ID_LEN];
	uint8_t *z = calloc(1, zeros);
	size_t len;
	seal_chunk_id(id, &keys, z, zeros);
	free(z);
	len = hand_seal(sealed, &keys, SEAL_FLAG_ZSTD, id, frame, n);
	return open_sealed(sealed, len, id, got);
}

static void test_bomb(void)
{
	const size_t big = 64 * CHUNK_MAX; /* 16 MiB of zeros */
	size_t n, got, before;
	int rc;

	before = seal_memory(s);
	n = zero_frame(big, true);
	ok(n > 0 && n < 4096, "16 MiB of zeros in a frame of a few hundred bytes");
	rc = open_bomb(n, big, &got);
	is(rc, KITH_ETOOBIG, "authentic frame declaring 64x the bound: refused");
	ok(got == 0 && all_byte(out, CHUNK_MAX, SENTINEL),
	   "out untouched: refused on the declared size, before decompressing");

	n = zero_frame(big, false);
	rc = open_bomb(n, big, &got);
	is(rc, KITH_EMALFORMED, "authentic frame without its size: refused");
	ok(got == 0 && no_plaintext(), "out holds nothing");

	/* The frame lies: it says CHUNK_MAX / 2 and expands to 64x the bound.
	 * out is exactly CHUNK_MAX bytes from malloc: a write past it is a
	 * sanitizer error. */
	n = zero_frame(big, true);
	ok(forge_size(frame, CHUNK_MAX / 2), "frame's content size rewritten");
	rc = open_bomb(n, big, &got);
	ok(rc == KITH_ETOOBIG || rc == KITH_EMALFORMED,
	   "lying frame expanding past bound: refused");
	ok(got == 0 && no_plaintext(), "out wiped");

	/* Just over and exactly at the bound. */
	n = zero_frame(CHUNK_MAX + 1, true);
	is(open_bomb(n, CHUNK_MAX + 1, &got), KITH_ETOOBIG, "one byte over the bound: refused");
	ok(all_byte(out, CHUNK_MAX, SENTINEL), "before decompressing");
	n = zero_frame(CHUNK_MAX, true);
	is(open_bomb(n, CHUNK_MAX, &got), 0, "exactly the bound: opens");
	ok(got == CHUNK_MAX && all_byte(out, CHUNK_MAX, 0), "to its zeros");

	/* Two frames of half the bound each: one frame is the format. */
	n = zero_frame(CHUNK_MAX / 2, true);
	memcpy(frame + n, frame, n);
	is(open_bomb(2 * n, CHUNK_MAX, &got), KITH_EMALFORMED, "two frames: refused");
	ok(all_byte(out, CHUNK_MAX, SENTINEL), "before decompressing");
	ok(seal_memory(s) == before, "no context grew for any of them");
}

/* Hand-sealed under an ID whose plaintext is something else: passes
 * authentication (the sealer held the key), fails the hash. */
static void test_id_mismatch(void)
{
	uint8_t id[SEAL_ID_LEN];
	size_t len, got, n;

	make_text(plain, 8000, 9);
	seal_chunk_id(id, &keys, plain, 8000);
	plain[0] ^= 1;
	len = hand_seal(sealed, &keys, 0, id, plain, 8000);
	is(open_sealed(sealed, len, id, &got), KITH_ECHECKSUM,
	   "raw plaintext not hashing to its ID: refused");
	ok(got == 0 && all_byte(out, 8000, 0), "the decrypted bytes wiped from out");
	n = ZSTD_compress(frame, CHUNK_MAX, plain, 8000, 3);
	len = hand_seal(sealed, &keys, SEAL_FLAG_ZSTD, id, frame, n);
	is(open_sealed(sealed, len, id, &got), KITH_ECHECKSUM, "compressed: refused too");
	ok(got == 0 && no_plaintext(), "the decompressed bytes wiped");

	/* The layout as documented: a hand-sealed honest frame opens. */
	plain[0] ^= 1;
	n = ZSTD_compress(frame, CHUNK_MAX, plain, 8000, 7);
	len = hand_seal(sealed, &keys, SEAL_FLAG_ZSTD, id, frame, n);
	ok(open_sealed(sealed, len, id, &got) == 0 && got == 8000 && !memcmp(out, plain, 8000),
	   "a chunk sealed by hand from the header's layout opens");
	/* Undefined flags, even authentic ones, are refused. */
	len = hand_seal(sealed, &keys, SEAL_FLAG_ZSTD | 0x80, id, frame, n);
	is(open_sealed(sealed, len, id, &got), KITH_EBADSIG, "flag 0x80, authentic: refused");
	ok(all_byte(out, CHUNK_MAX, SENTINEL), "out untouched");
	sealed[0] = 2;
	is(open_sealed(sealed, len, id, &got), KITH_EVERSION, "version 2: refused");
}

static void test_caller_limits(void)
{
	uint8_t id[SEAL_ID_LEN];
	size_t n = 99, got = 99;

	make_text(plain, CHUNK_MAX, 10);
	seal_chunk_id(id, &keys, plain, 100);
	is(seal_chunk(s, &keys, 3, id, plain, 100, sealed, seal_max_len(100) - 1, &n), KITH_ETOOBIG,
	   "seal: out one byte short of seal_max_len refused");
	is(n, 0, "*out_len 0");
	is(seal_chunk(s, &keys, 3, id, plain, CHUNK_MAX + 1, sealed, seal_max_len(CHUNK_MAX + 1),
	              &n),
	   KITH_ETOOBIG, "seal: over chunk_max refused");
	n = seal_plain(100, 3, id);
	memset(out, SENTINEL, CHUNK_MAX);
	is(seal_open(s, &keys, id, sealed, n, out, CHUNK_MAX - 1, &got), KITH_EVALUE,
	   "open: out smaller than chunk_max refused");
	ok(got == 0 && all_byte(out, CHUNK_MAX, SENTINEL), "out untouched");
}

/* After one chunk of each kind, sealing and opening more allocates
 * nothing: the contexts keep their size. */
static void test_no_growth(void)
{
	uint8_t id[SEAL_ID_LEN];
	size_t before, got, n, fails = 0;

	make_text(plain, CHUNK_MAX, 11);
	n = seal_plain(CHUNK_MAX, 3, id);
	open_sealed(sealed, n, id, &got);
	before = seal_memory(s);
	for (unsigned i = 0; i < 64; i++) {
		if (i % 2)
			randombytes_buf(plain, CHUNK_MAX);
		else
			make_text(plain, CHUNK_MAX, i);
		n = seal_plain(CHUNK_MAX, 3, id);
		fails += !n || open_sealed(sealed, n, id, &got) || got != CHUNK_MAX ||
		         memcmp(out, plain, CHUNK_MAX);
	}
	is(fails, 0, "64 maximum chunks, text and random: all round trip");
	is(seal_memory(s), before, "memory held unchanged");
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	randombytes_buf(&keys, sizeof(keys));
	randombytes_buf(&other, sizeof(other));
	plain = malloc(CHUNK_MAX + 1);
	sealed = malloc(seal_max_len(CHUNK_MAX) + 1);
	out = malloc(CHUNK_MAX);
	frame = malloc(CHUNK_MAX);
	if (!plain || !sealed || !out || !frame || seal_new(&s, CHUNK_MAX))
		return 1;
	test_new();
	test_round_trips();
	test_id();
	test_level();
	test_bit_flips();
	test_truncation();
	test_wrong_key_id();
	test_bomb();
	test_id_mismatch();
	test_caller_limits();
	test_no_growth();
	seal_free(&s);
	free(plain);
	free(sealed);
	free(out);
	free(frame);
	return tap_done();
}
