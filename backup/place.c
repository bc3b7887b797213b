/* Weighted rendezvous placement of shards (see place.h for the method and
 * its sources).
 *
 * A holder x draws, for shard i of a pack, E = -log2(h) with h in (0, 1)
 * the SipHash-2-4 of (x's peer, i) under a key derived from the pack ID;
 * E / weight(x) is its score and the lowest wins (ties, which need
 * hashes within about 2^-32 of each other, go to the lower peer ID). log2
 * rather than ln: the two differ by a constant factor, which changes no
 * comparison.
 *
 * Everything is integer arithmetic: E in fixed point, and the scores
 * compared by cross-multiplication (E_a * w_b < E_b * w_a) on 128 bits,
 * so that placement is the same on every machine and compiler, whatever
 * its libm or floating-point quirks, and no division rounds. Written by
 * hand: no packaged library does weighted rendezvous hashing in C, and
 * the hashing itself is libsodium's. */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "proto/error.h"
#include "place.h"

/* Fraction bits of E: steps of 2^-32 against a winner's E of about 1/n,
 * far finer than any weight an admin writes (E is within 2e-9 of libm's
 * -log2(h) over 10^7 random draws, checked when this was written). */
#define FRAC_BITS 32
/* The duplicate check's open-addressing table: twice PLACE_HOLDERS_MAX
 * slots, so probes stay short. */
#define DUP_SLOTS (2 * PLACE_HOLDERS_MAX)
#define DUP_BITS 11

_Static_assert(DUP_SLOTS == 1 << DUP_BITS, "DUP_BITS must match DUP_SLOTS");
_Static_assert(PLACE_HOLDERS_MAX < UINT16_MAX, "holder indexes are kept in uint16_t");
_Static_assert(PLACE_SHARDS_MAX <= 256, "the shard index is hashed as one byte");

/* Keys BLAKE2b (hence at least 16 bytes) to derive a pack's SipHash key
 * from its ID. Only a put and its re-runs must agree on placement (the
 * index records the holders, nobody recomputes them to find shards), but
 * the version lets a later scheme change it without ambiguity. */
static const char key_domain[] = "kith shard placement v1";

/* A candidate's score, kept as its two factors. */
struct score {
	uint64_t e; /* -log2(h), FRAC_BITS fraction bits, > 0 */
	uint64_t w; /* weight, > 0 */
};

/* ---- arithmetic ---- */

static uint64_t load64_le(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* -log2(x / 2^64) for x in [1, 2^64), with FRAC_BITS fraction bits: the
 * integer part from the top bit, the fraction bit by bit by squaring the
 * mantissa (Q1.31, so its square fits 64 bits). */
static uint64_t neg_log2(uint64_t x)
{
	unsigned e = 63 - (unsigned)__builtin_clzll(x); /* x in [2^e, 2^(e+1)) */
	uint64_t m = e >= 31 ? x >> (e - 31) : x << (31 - e);
	uint64_t frac = 0;

	/* Branch-free: the bits are coin flips, and a mispredicted branch
	 * per bit tripled the cost. */
	for (unsigned b = 0; b < FRAC_BITS; b++) {
		uint64_t bit;

		m = (m * m) >> 31; /* in [2^31, 2^33): 1 <= m^2 < 4 */
		bit = m >> 32;
		m >>= bit;
		frac = frac << 1 | bit;
	}
	/* log2(x / 2^64) = e + frac - 64, and frac < 1. */
	return ((uint64_t)(64 - e) << FRAC_BITS) - frac;
}

/* a * b as a 128-bit (hi, lo) pair, in 32-bit halves. */
static void mul128(uint64_t a, uint64_t b, uint64_t *hi, uint64_t *lo)
{
	uint64_t a0 = a & 0xffffffffu, a1 = a >> 32, b0 = b & 0xffffffffu, b1 = b >> 32;
	uint64_t p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
	uint64_t mid = (p00 >> 32) + (p01 & 0xffffffffu) + (p10 & 0xffffffffu);

	*lo = (mid << 32) | (p00 & 0xffffffffu);
	*hi = p11 + (p01 >> 32) + (p10 >> 32) + (mid >> 32);
}

/* -1, 0 or 1 as a.e / a.w is below, equal to or above b.e / b.w. */
static int score_cmp(struct score a, struct score b)
{
	uint64_t ah, al, bh, bl;

	mul128(a.e, b.w, &ah, &al);
	mul128(b.e, a.w, &bh, &bl);
	if (ah != bh)
		return ah < bh ? -1 : 1;
	if (al != bl)
		return al < bl ? -1 : 1;
	return 0;
}

/* ---- draws ---- */

static void pack_key(uint8_t key[crypto_shorthash_KEYBYTES], const uint8_t *pack_id)
{
	crypto_generichash(key, crypto_shorthash_KEYBYTES, pack_id, PLACE_PACK_ID_LEN,
	                   (const uint8_t *)key_domain, sizeof(key_domain) - 1);
}

static struct score draw(const uint8_t *key, const struct place_holder *h, unsigned shard)
{
	uint8_t msg[PLACE_PEER_LEN + 1], out[crypto_shorthash_BYTES];

	memcpy(msg, h->peer, PLACE_PEER_LEN);
	msg[PLACE_PEER_LEN] = (uint8_t)shard;
	crypto_shorthash(out, msg, sizeof(msg), key);
	/* | 1: h = 0 would have no logarithm; the bias is 2^-64. */
	return (struct score){neg_log2(load64_le(out) | 1), h->weight};
}

/* The position in cand[0..nc) (nc > 0) of the best holder for shard. */
static size_t best(const uint8_t *key, const struct place_holder *holders, const uint16_t *cand,
                   size_t nc, unsigned shard)
{
	size_t win = 0;
	struct score top = draw(key, &holders[cand[0]], shard);

	for (size_t j = 1; j < nc; j++) {
		struct score s = draw(key, &holders[cand[j]], shard);
		int c = score_cmp(s, top);

		/* The peer breaks ties, so the array's order never matters. */
		if (c < 0 || (c == 0 && memcmp(holders[cand[j]].peer, holders[cand[win]].peer,
		                               PLACE_PEER_LEN) < 0)) {
			win = j;
			top = s;
		}
	}
	return win;
}

/* Gives shard its best holder among cand[0..*nc), and takes that holder
 * out of cand (the order of cand does not matter). */
static size_t take(const uint8_t *key, const struct place_holder *holders, uint16_t *cand,
                   size_t *nc, unsigned shard)
{
	size_t pos = best(key, holders, cand, *nc, shard), idx = cand[pos];

	cand[pos] = cand[--*nc];
	return idx;
}

/* ---- arguments and candidates ---- */

/* Whether the n peers are distinct: an open-addressing set of indexes
 * (+ 1, 0 being empty), at most half full. */
static bool distinct(const struct place_holder *holders, size_t n)
{
	uint16_t slot[DUP_SLOTS] = {0};

	for (size_t i = 0; i < n; i++) {
		/* Fibonacci hashing of the peer's first bytes: peers are public
		 * keys, and a crafted collision costs only probes. */
		size_t s =
		    (size_t)((load64_le(holders[i].peer) * 0x9e3779b97f4a7c15u) >> (64 - DUP_BITS));

		for (; slot[s]; s = (s + 1) & (DUP_SLOTS - 1))
			if (!memcmp(holders[slot[s] - 1].peer, holders[i].peer, PLACE_PEER_LEN))
				return false;
		slot[s] = (uint16_t)(i + 1);
	}
	return true;
}

static int check_args(const uint8_t *pack_id, unsigned k, unsigned m,
                      const struct place_holder *holders, size_t n, const size_t *out)
{
	if (!pack_id || !out || (n && !holders))
		return KITH_EVALUE;
	if (k < 1 || k > ERASURE_K_MAX || m > ERASURE_M_MAX)
		return KITH_EVALUE;
	if (n > PLACE_HOLDERS_MAX)
		return KITH_ETOOBIG;
	return distinct(holders, n) ? 0 : KITH_EDUPKEY;
}

static bool keeps_shard(const uint8_t *peer, const uint8_t (*current)[PLACE_PEER_LEN],
                        unsigned shards)
{
	for (unsigned i = 0; i < shards; i++)
		if (!memcmp(peer, current[i], PLACE_PEER_LEN))
			return true;
	return false;
}

/* Puts the indexes of the eligible holders in cand and returns how many;
 * counts the live ones in c->alive. Holders keeping a shard listed in
 * current[0..shards) (NULL: none) are not eligible. */
static size_t gather(const struct place_holder *holders, size_t n, uint64_t shard_len,
                     const uint8_t (*current)[PLACE_PEER_LEN], unsigned shards, uint16_t *cand,
                     struct place_count *c)
{
	size_t nc = 0;

	for (size_t i = 0; i < n; i++) {
		const struct place_holder *h = &holders[i];

		if (!h->alive || !h->weight)
			continue;
		c->alive++;
		if (h->free_bytes < shard_len || !h->free_count)
			continue;
		if (current && keeps_shard(h->peer, current, shards))
			continue;
		cand[nc++] = (uint16_t)i;
	}
	c->have = (unsigned)nc;
	return nc;
}

static void count_init(struct place_count *c, unsigned k, unsigned m, uint64_t shard_len,
                       bool repair)
{
	*c = (struct place_count){.k = k, .m = m, .shard_len = shard_len, .repair = repair};
}

static void fill_none(size_t *out, unsigned shards)
{
	for (unsigned i = 0; i < shards; i++)
		out[i] = PLACE_NONE;
}

/* ---- the API ---- */

int place_pack(const uint8_t *pack_id, unsigned k, unsigned m, uint64_t shard_len,
               const struct place_holder *holders, size_t n, size_t *out, struct place_count *count)
{
	uint8_t key[crypto_shorthash_KEYBYTES];
	uint16_t cand[PLACE_HOLDERS_MAX];
	struct place_count c = {0};
	size_t nc;
	int err = check_args(pack_id, k, m, holders, n, out);

	if (err)
		goto done;
	count_init(&c, k, m, shard_len, false);
	c.need = k + m;
	nc = gather(holders, n, shard_len, NULL, 0, cand, &c);
	fill_none(out, k + m);
	if (nc < c.need) {
		err = KITH_EQUOTA;
		goto done;
	}
	pack_key(key, pack_id);
	for (unsigned i = 0; i < k + m; i++)
		out[i] = take(key, holders, cand, &nc, i);
done:
	if (count)
		*count = c;
	return err;
}

int place_repair(const uint8_t *pack_id, unsigned k, unsigned m, uint64_t shard_len,
                 const struct place_holder *holders, size_t n,
                 const uint8_t (*current)[PLACE_PEER_LEN], const bool *lost, size_t *out,
                 struct place_count *count)
{
	uint8_t key[crypto_shorthash_KEYBYTES];
	uint16_t cand[PLACE_HOLDERS_MAX];
	struct place_count c = {0};
	size_t nc;
	int err = check_args(pack_id, k, m, holders, n, out);

	if (!err && (!current || !lost))
		err = KITH_EVALUE;
	if (err)
		goto done;
	count_init(&c, k, m, shard_len, true);
	for (unsigned i = 0; i < k + m; i++)
		c.need += lost[i];
	nc = gather(holders, n, shard_len, current, k + m, cand, &c);
	fill_none(out, k + m);
	pack_key(key, pack_id);
	/* Shard by shard, in place_pack()'s order, while holders last. */
	for (unsigned i = 0; i < k + m && nc; i++)
		if (lost[i])
			out[i] = take(key, holders, cand, &nc, i);
	if (c.have < c.need)
		err = KITH_EQUOTA;
done:
	if (count)
		*count = c;
	return err;
}

void place_commit(struct place_holder *holders, const size_t *out, unsigned shards,
                  uint64_t shard_len)
{
	for (unsigned i = 0; i < shards; i++) {
		struct place_holder *h;

		if (out[i] == PLACE_NONE)
			continue;
		h = &holders[out[i]];
		h->free_bytes = h->free_bytes > shard_len ? h->free_bytes - shard_len : 0;
		if (h->free_count && h->free_count != UINT32_MAX)
			h->free_count--;
	}
}

/* "512 B", "4.0 MiB": binary units, one decimal. */
static void human_size(uint64_t bytes, char *buf, size_t cap)
{
	static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
	double v = (double)bytes;
	unsigned u = 0;

	if (bytes < 1024) {
		snprintf(buf, cap, "%u B", (unsigned)bytes);
		return;
	}
	for (; v >= 1024 && u < 6; u++)
		v /= 1024;
	snprintf(buf, cap, "%.1f %s", v, unit[u]);
}

int place_explain(const struct place_count *c, char *buf, size_t cap)
{
	char size[32], what[64] = "";
	int len;

	if (!c || !buf || !cap)
		return KITH_EVALUE;
	human_size(c->shard_len, size, sizeof(size));
	if (c->repair)
		snprintf(what, sizeof(what), "repairing %u shard%s of ", c->need,
		         c->need == 1 ? "" : "s");
	len =
	    snprintf(buf, cap, "%s%u+%u needs %u %sholder%s with room for %s; %u %s it (%u alive)",
	             what, c->k, c->m, c->need, c->repair ? "more " : "", c->need == 1 ? "" : "s",
	             size, c->have, c->have == 1 ? "has" : "have", c->alive);
	return len < 0 || (size_t)len >= cap ? KITH_ETOOBIG : 0;
}
