/* Erasure coding: parity matches an independent GF(2^8) computation of
 * the documented Cauchy code (the backup format), any k of k + m shards
 * rebuild every other one byte for byte, too few shards are refused with
 * nothing written, and the layout helpers cut a pack without losing a
 * byte. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backup/erasure.h"
#include "proto/error.h"
#include "rng.h"
#include "tap.h"

#define N_MAX (ERASURE_K_MAX + ERASURE_M_MAX)
#define JUNK 0xa5

/* GF(2^8) with the polynomial x^8 + x^4 + x^3 + x^2 + 1 (0x11d), written
 * here by hand, shift and add, so the reference shares no code with ISA-L. */
static uint8_t ref_mul(uint8_t a, uint8_t b)
{
	unsigned p = 0, x = a;

	for (; b; b >>= 1) {
		if (b & 1)
			p ^= x;
		x <<= 1;
		if (x & 0x100)
			x ^= 0x11d;
	}
	return (uint8_t)p;
}

static uint8_t ref_inv(uint8_t a)
{
	for (unsigned b = 1; b < 256; b++)
		if (ref_mul(a, (uint8_t)b) == 1)
			return (uint8_t)b;
	return 0;
}

/* parity[p] = sum over j of data[j] / ((k + p) XOR j), as erasure.h says. */
static void ref_encode(unsigned k, unsigned m, uint8_t *const *data, uint8_t *const *parity,
                       size_t len)
{
	for (unsigned p = 0; p < m; p++) {
		memset(parity[p], 0, len);
		for (unsigned j = 0; j < k; j++) {
			uint8_t c = ref_inv((uint8_t)((k + p) ^ j));

			for (size_t i = 0; i < len; i++)
				parity[p][i] ^= ref_mul(c, data[j][i]);
		}
	}
}

/* One stripe: the original shards, and a working copy handed to decode. */
struct stripe {
	unsigned k, m;
	size_t len;
	uint8_t *orig[N_MAX];
	uint8_t *work[N_MAX];
};

static void stripe_init(struct stripe *s, struct erasure *e, size_t len)
{
	s->k = erasure_k(e);
	s->m = erasure_m(e);
	s->len = len;
	for (unsigned i = 0; i < s->k + s->m; i++) {
		s->orig[i] = malloc(len);
		s->work[i] = malloc(len);
	}
	for (unsigned j = 0; j < s->k; j++)
		rng_fill(s->orig[j], len);
	erasure_encode(e, (const uint8_t *const *)s->orig, s->orig + s->k, len);
}

static void stripe_free(struct stripe *s)
{
	for (unsigned i = 0; i < s->k + s->m; i++) {
		free(s->orig[i]);
		free(s->work[i]);
	}
}

/* Copies the present shards, fills the others with junk, decodes, and
 * says whether every shard came back byte-identical. */
static bool decodes(struct erasure *e, struct stripe *s, const bool *present)
{
	for (unsigned i = 0; i < s->k + s->m; i++) {
		if (present[i])
			memcpy(s->work[i], s->orig[i], s->len);
		else
			memset(s->work[i], JUNK, s->len);
	}
	if (erasure_decode(e, s->work, present, s->len) != 0)
		return false;
	for (unsigned i = 0; i < s->k + s->m; i++)
		if (memcmp(s->work[i], s->orig[i], s->len))
			return false;
	return true;
}

static void mask_to_present(uint64_t mask, unsigned n, bool *present)
{
	for (unsigned i = 0; i < n; i++)
		present[i] = mask >> i & 1;
}

/* Every set of at least k present shards, for a small code. */
static void test_every_pattern(unsigned k, unsigned m, size_t len)
{
	struct erasure *e = NULL;
	struct stripe s;
	bool present[N_MAX];
	unsigned n = k + m, tried = 0, exactly_k = 0, bad = 0;
	char what[96];

	erasure_new(&e, k, m);
	stripe_init(&s, e, len);
	for (uint64_t mask = 0; mask < (uint64_t)1 << n; mask++) {
		unsigned have = (unsigned)__builtin_popcountll(mask);

		if (have < k)
			continue;
		mask_to_present(mask, n, present);
		tried++;
		exactly_k += have == k;
		bad += !decodes(e, &s, present);
	}
	snprintf(what, sizeof(what),
	         "%u+%u: every pattern of >= %u present rebuilds all (%u tried)", k, m, k, tried);
	is(bad, 0, what);
	snprintf(what, sizeof(what), "%u+%u: of which every subset of exactly %u", k, m, k);
	is(exactly_k, k == 4 ? 15 : 84, what);
	stripe_free(&s);
	erasure_free(&e);
}

/* A random set of n - lost present shards. */
static void random_pattern(unsigned n, unsigned lost, bool *present)
{
	for (unsigned i = 0; i < n; i++)
		present[i] = true;
	while (lost) {
		unsigned i = (unsigned)(rng_next() % n);

		if (present[i]) {
			present[i] = false;
			lost--;
		}
	}
}

static void test_random_patterns(unsigned k, unsigned m, unsigned rounds)
{
	struct erasure *e = NULL;
	struct stripe s;
	bool present[N_MAX];
	unsigned bad = 0;
	char what[96];

	erasure_new(&e, k, m);
	stripe_init(&s, e, 4096 + 17);
	for (unsigned r = 0; r < rounds; r++) {
		random_pattern(k + m, 1 + (unsigned)(rng_next() % m), present);
		bad += !decodes(e, &s, present);
	}
	snprintf(what, sizeof(what), "%u+%u: %u random patterns of 1..%u lost rebuild all", k, m,
	         rounds, m);
	is(bad, 0, what);
	random_pattern(k + m, m, present);
	snprintf(what, sizeof(what), "%u+%u: %u lost at once", k, m, m);
	ok(decodes(e, &s, present), what);
	stripe_free(&s);
	erasure_free(&e);
}

/* Parity against the hand-written reference, for several codes and
 * lengths, including the odd tails ISA-L's SIMD paths treat apart. */
static void test_reference(unsigned k, unsigned m, size_t len)
{
	struct erasure *e = NULL;
	struct stripe s;
	uint8_t *ref[ERASURE_M_MAX];
	bool same = true;
	char what[96];

	erasure_new(&e, k, m);
	stripe_init(&s, e, len);
	for (unsigned p = 0; p < m; p++)
		ref[p] = malloc(len);
	ref_encode(k, m, s.orig, ref, len);
	for (unsigned p = 0; p < m; p++)
		same = same && !memcmp(ref[p], s.orig[k + p], len);
	snprintf(what, sizeof(what), "%u+%u, %zu bytes: parity equals the reference Cauchy code", k,
	         m, len);
	ok(same, what);
	for (unsigned p = 0; p < m; p++)
		free(ref[p]);
	stripe_free(&s);
	erasure_free(&e);
}

/* The lengths of the brief, each encoded, checked, and decoded with two
 * data shards lost, and with one data and one parity shard lost. */
static void test_lengths(void)
{
	static const size_t lens[] = {1, 31, 32, 33, 4097, 1 << 20};
	struct erasure *e = NULL;
	bool two_data[6] = {false, true, false, true, true, true};
	bool mixed[6] = {true, true, true, false, true, false};
	char what[96];

	erasure_new(&e, 4, 2);
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		struct stripe s;

		test_reference(4, 2, lens[i]);
		stripe_init(&s, e, lens[i]);
		snprintf(what, sizeof(what), "4+2, %zu bytes: data shards 0 and 2 rebuilt",
		         lens[i]);
		ok(decodes(e, &s, two_data), what);
		snprintf(what, sizeof(what), "4+2, %zu bytes: data 3 and parity 1 rebuilt",
		         lens[i]);
		ok(decodes(e, &s, mixed), what);
		stripe_free(&s);
	}
	erasure_free(&e);
}

/* The cached tables follow the pattern: a second stripe with the same
 * shards missing, then another pattern, then the first again. */
static void test_cache(void)
{
	struct erasure *e = NULL;
	struct stripe a, b;
	bool p1[9], p2[9];

	erasure_new(&e, 6, 3);
	stripe_init(&a, e, 999);
	stripe_init(&b, e, 999);
	mask_to_present(0x1f6, 9, p1); /* shards 0 and 3 lost */
	mask_to_present(0x0bf, 9, p2); /* shards 6 and 8 lost */
	ok(decodes(e, &a, p1), "cache: first stripe");
	ok(decodes(e, &b, p1), "cache: second stripe, same pattern, other data");
	ok(decodes(e, &a, p2), "cache: another pattern");
	ok(decodes(e, &b, p1), "cache: back to the first pattern");
	stripe_free(&a);
	stripe_free(&b);
	erasure_free(&e);
}

static bool all_bytes(const uint8_t *p, size_t len, uint8_t v)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != v)
			return false;
	return true;
}

static void test_too_few(void)
{
	struct erasure *e = NULL;
	struct stripe s;
	bool present[6] = {true, false, true, false, false, true};
	bool none[6] = {false};

	erasure_new(&e, 4, 2);
	stripe_init(&s, e, 100);
	for (unsigned i = 0; i < 6; i++)
		memset(s.work[i], JUNK, 100);
	is(erasure_decode(e, s.work, present, 100), KITH_EMISSING, "4+2 with 3 present: refused");
	ok(all_bytes(s.work[1], 100, JUNK) && all_bytes(s.work[3], 100, JUNK) &&
	       all_bytes(s.work[4], 100, JUNK),
	   "and nothing written");
	is(erasure_decode(e, s.work, none, 100), KITH_EMISSING, "4+2 with none present: refused");
	stripe_free(&s);
	erasure_free(&e);
}

static void test_no_parity(void)
{
	struct erasure *e = NULL;
	struct stripe s;
	bool all[3] = {true, true, true}, one_lost[3] = {true, false, true};

	is(erasure_new(&e, 3, 0), 0, "3+0: accepted");
	stripe_init(&s, e, 64);
	erasure_encode(e, (const uint8_t *const *)s.orig, NULL, 64);
	ok(decodes(e, &s, all), "3+0: all present decodes to itself");
	memset(s.work[1], JUNK, 64);
	is(erasure_decode(e, s.work, one_lost, 64), KITH_EMISSING, "3+0: one lost is an error");
	ok(all_bytes(s.work[1], 64, JUNK), "3+0: and the lost one untouched");
	stripe_free(&s);
	erasure_free(&e);
}

/* k = 1: each shard alone holds the data. */
static void test_replication(void)
{
	struct erasure *e = NULL;
	struct stripe s;
	bool present[4];
	unsigned bad = 0;

	is(erasure_new(&e, 1, 3), 0, "1+3: accepted");
	stripe_init(&s, e, 4097);
	ok(!memcmp(s.orig[0], s.orig[1], 4097), "1+3: the first parity is a copy of the data");
	for (unsigned i = 0; i < 4; i++) {
		mask_to_present((uint64_t)1 << i, 4, present);
		bad += !decodes(e, &s, present);
	}
	is(bad, 0, "1+3: any one shard alone rebuilds the other three");
	stripe_free(&s);
	erasure_free(&e);
}

static void test_params(void)
{
	struct erasure *e = (struct erasure *)&e;

	is(erasure_new(&e, 0, 2), KITH_EVALUE, "k = 0 refused");
	ok(e == NULL, "and *out is NULL");
	is(erasure_new(&e, ERASURE_K_MAX + 1, 2), KITH_EVALUE, "k over the maximum refused");
	is(erasure_new(&e, 4, ERASURE_M_MAX + 1), KITH_EVALUE, "m over the maximum refused");
	is(erasure_new(NULL, 4, 2), KITH_EVALUE, "no out pointer refused");
	is(erasure_new(&e, ERASURE_K_MAX, ERASURE_M_MAX), 0, "the largest code accepted");
	is(erasure_k(e), ERASURE_K_MAX, "its k");
	is(erasure_m(e), ERASURE_M_MAX, "its m");
	erasure_free(&e);
	ok(e == NULL, "free sets the pointer to NULL");
	erasure_free(&e);
	erasure_free(NULL);
	ok(1, "freeing NULL twice is harmless");
}

/* A pack of n bytes cut with the helpers, coded, decoded with shards
 * lost, and put back together from the fills: the same n bytes. */
static bool pack_round_trip(struct erasure *e, size_t n)
{
	unsigned k = erasure_k(e), m = erasure_m(e);
	size_t len = erasure_shard_len(e, n), off = 0;
	uint8_t *pack = malloc(n + 1), *back = malloc(n + 1), *shards[N_MAX];
	bool present[N_MAX], same;

	rng_fill(pack, n);
	for (unsigned i = 0; i < k + m; i++)
		shards[i] = calloc(1, len + 1);
	for (unsigned j = 0; j < k; j++) {
		size_t fill = erasure_shard_fill(e, n, j);

		memcpy(shards[j], pack + off, fill);
		off += fill;
	}
	erasure_encode(e, (const uint8_t *const *)shards, shards + k, len);
	random_pattern(k + m, m, present);
	for (unsigned i = 0; i < k + m; i++)
		if (!present[i])
			memset(shards[i], JUNK, len);
	same = off == n && erasure_decode(e, shards, present, len) == 0;
	off = 0;
	for (unsigned j = 0; j < k && same; j++) {
		size_t fill = erasure_shard_fill(e, n, j);

		same = all_bytes(shards[j] + fill, len - fill, 0);
		memcpy(back + off, shards[j], fill);
		off += fill;
	}
	same = same && off == n && !memcmp(pack, back, n);
	for (unsigned i = 0; i < k + m; i++)
		free(shards[i]);
	free(pack);
	free(back);
	return same;
}

static void test_layout(void)
{
	struct erasure *e4 = NULL, *e7 = NULL;
	unsigned bad = 0;

	erasure_new(&e4, 4, 2);
	erasure_new(&e7, 7, 3);
	is(erasure_shard_len(e4, 0), 0, "an empty pack has empty shards");
	is(erasure_shard_len(e4, 8), 2, "8 bytes in 4 shards: 2 each");
	is(erasure_shard_len(e4, 9), 3, "9 bytes in 4 shards: 3 each");
	is(erasure_shard_len(e4, SIZE_MAX), SIZE_MAX / 4 + 1, "no overflow near SIZE_MAX");
	is(erasure_shard_fill(e4, 5, 0), 2, "5 bytes: shard 0 full");
	is(erasure_shard_fill(e4, 5, 2), 1, "5 bytes: shard 2 holds the last byte");
	is(erasure_shard_fill(e4, 5, 3), 0, "5 bytes: shard 3 is all padding");
	is(erasure_shard_fill(e4, 5, 4), 0, "a parity shard holds no pack bytes");
	for (size_t n = 1; n <= 200; n++)
		bad += !pack_round_trip(n % 2 ? e4 : e7, n);
	bad += !pack_round_trip(e7, 100003);
	is(bad, 0, "packs of 1..200 and 100003 bytes cut, coded, decoded and joined unchanged");
	erasure_free(&e4);
	erasure_free(&e7);
}

int main(void)
{
	test_params();
	test_reference(1, 2, 1000);
	test_reference(6, 3, 777);
	test_reference(10, 4, 4096);
	test_reference(16, 8, 1000);
	test_reference(ERASURE_K_MAX, ERASURE_M_MAX, 515);
	test_every_pattern(4, 2, 1000);
	test_every_pattern(6, 3, 333);
	test_random_patterns(10, 4, 300);
	test_random_patterns(16, 8, 300);
	test_random_patterns(ERASURE_K_MAX, ERASURE_M_MAX, 50);
	test_lengths();
	test_cache();
	test_too_few();
	test_no_parity();
	test_replication();
	test_layout();
	return tap_done();
}
