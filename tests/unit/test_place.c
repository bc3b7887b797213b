/* Shard placement (backup/place.c): every shard of a pack on a distinct
 * eligible holder, the same answer for the same inputs whatever their
 * order, a clear count when holders are too few, little movement when a
 * holder comes or goes, an even spread that follows the weights, and
 * repairs that move the lost shards only. With equal weights the choice
 * is recomputed here from place.c's description (the highest SipHash
 * wins), with libsodium directly. All data is from a fixed-seed generator:
 * every figure below is the same on every run. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "backup/place.h"
#include "proto/error.h"
#include "rng.h"
#include "tap.h"

#define SHARDS_MAX PLACE_SHARDS_MAX
#define MIB ((uint64_t)1 << 20)

/* n live holders with weight 1 and room for anything. */
static void holders_init(struct place_holder *h, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		rng_fill(h[i].peer, PLACE_PEER_LEN);
		h[i].weight = 1;
		h[i].free_bytes = UINT64_MAX;
		h[i].free_count = UINT32_MAX;
		h[i].alive = true;
	}
}

static void pack_id_of(uint8_t id[PLACE_PACK_ID_LEN], unsigned p)
{
	memset(id, 0, PLACE_PACK_ID_LEN);
	memcpy(id, &p, sizeof(p));
	crypto_generichash(id, PLACE_PACK_ID_LEN, id, PLACE_PACK_ID_LEN, NULL, 0);
}

static bool all_distinct(const size_t *out, unsigned shards)
{
	for (unsigned i = 0; i < shards; i++)
		for (unsigned j = i + 1; j < shards; j++)
			if (out[i] == out[j])
				return false;
	return true;
}

static size_t find_peer(const struct place_holder *h, size_t n, const uint8_t *peer)
{
	for (size_t i = 0; i < n; i++)
		if (!memcmp(h[i].peer, peer, PLACE_PEER_LEN))
			return i;
	return PLACE_NONE;
}

/* ---- the reference, from place.c's comments, for equal weights ---- */

/* With equal weights the lowest -log2(h) is the highest h: shard i goes
 * to the free holder with the highest SipHash-2-4(peer || i) under
 * BLAKE2b-128(pack ID) keyed by "kith shard placement v1". */
static void ref_place(const uint8_t *pack_id, unsigned shards, const struct place_holder *h,
                      size_t n, size_t *out)
{
	static const char domain[] = "kith shard placement v1";
	uint8_t key[crypto_shorthash_KEYBYTES], msg[PLACE_PEER_LEN + 1], d[8];
	bool used[64] = {false};

	crypto_generichash(key, sizeof(key), pack_id, PLACE_PACK_ID_LEN, (const uint8_t *)domain,
	                   sizeof(domain) - 1);
	for (unsigned i = 0; i < shards; i++) {
		uint64_t top = 0;

		out[i] = PLACE_NONE;
		for (size_t j = 0; j < n; j++) {
			uint64_t v = 0;

			if (used[j])
				continue;
			memcpy(msg, h[j].peer, PLACE_PEER_LEN);
			msg[PLACE_PEER_LEN] = (uint8_t)i;
			crypto_shorthash(d, msg, sizeof(msg), key);
			for (int b = 7; b >= 0; b--)
				v = v << 8 | d[b];
			v |= 1;
			if (out[i] == PLACE_NONE || v > top) {
				top = v;
				out[i] = j;
			}
		}
		used[out[i]] = true;
	}
}

static void test_reference(void)
{
	struct place_holder h[48]; /* k + m + 29 at most */
	uint8_t id[PLACE_PACK_ID_LEN];
	size_t out[SHARDS_MAX], ref[SHARDS_MAX];
	unsigned same = 0, runs = 500;

	holders_init(h, 48);
	for (unsigned p = 0; p < runs; p++) {
		unsigned k = 1 + p % 8, m = p % 5;
		size_t n = k + m + p % 30;

		pack_id_of(id, p);
		if (place_pack(id, k, m, 1, h, n, out, NULL))
			continue;
		ref_place(id, k + m, h, n, ref);
		same += !memcmp(out, ref, (k + m) * sizeof(out[0]));
	}
	is(same, runs,
	   "equal weights: each shard takes the free holder of highest hash, as documented");
}

/* ---- arguments ---- */

static void test_args(void)
{
	static struct place_holder h[PLACE_HOLDERS_MAX + 1];
	uint8_t id[PLACE_PACK_ID_LEN] = {1};
	size_t out[SHARDS_MAX] = {7};
	uint8_t cur[SHARDS_MAX][PLACE_PEER_LEN] = {{0}};
	bool lost[SHARDS_MAX] = {false};
	struct place_count c;

	holders_init(h, PLACE_HOLDERS_MAX + 1);
	is(place_pack(id, 0, 2, 1, h, 10, out, &c), KITH_EVALUE, "k = 0 refused");
	is(place_pack(id, ERASURE_K_MAX + 1, 0, 1, h, 10, out, &c), KITH_EVALUE, "k over the max");
	is(place_pack(id, 1, ERASURE_M_MAX + 1, 1, h, 10, out, &c), KITH_EVALUE, "m over the max");
	is(place_pack(NULL, 4, 2, 1, h, 10, out, &c), KITH_EVALUE, "no pack ID");
	is(place_pack(id, 4, 2, 1, NULL, 10, out, &c), KITH_EVALUE, "no holders");
	is(place_pack(id, 4, 2, 1, h, 10, NULL, &c), KITH_EVALUE, "no out");
	is(place_repair(id, 4, 2, 1, h, 10, NULL, lost, out, &c), KITH_EVALUE,
	   "repair: no current");
	is(place_repair(id, 4, 2, 1, h, 10, cur, NULL, out, &c), KITH_EVALUE, "repair: no lost");
	is(out[0], 7, "out untouched on argument errors");
	is(c.need, 0, "count zeroed on argument errors");
	is(place_pack(id, 4, 2, 1, h, PLACE_HOLDERS_MAX + 1, out, &c), KITH_ETOOBIG,
	   "more than PLACE_HOLDERS_MAX holders refused");
	is(place_pack(id, ERASURE_K_MAX, ERASURE_M_MAX, 1, h, PLACE_HOLDERS_MAX, out, &c), 0,
	   "the largest code on PLACE_HOLDERS_MAX holders");
	ok(all_distinct(out, ERASURE_K_MAX + ERASURE_M_MAX), "... on distinct holders");

	/* A duplicate is refused even when it would not be chosen: dead. */
	memcpy(h[900].peer, h[3].peer, PLACE_PEER_LEN);
	h[900].alive = false;
	is(place_pack(id, 4, 2, 1, h, 1000, out, &c), KITH_EDUPKEY, "a peer listed twice refused");
	is(place_repair(id, 4, 2, 1, h, 1000, cur, lost, out, &c), KITH_EDUPKEY,
	   "... by repair too");
	/* Peers equal in their first 8 bytes (the dup table's hash) are not
	 * duplicates. */
	memcpy(h[900].peer, h[3].peer, 8);
	h[900].peer[31] ^= 1;
	is(place_pack(id, 4, 2, 1, h, 1000, out, &c), 0, "peers sharing a prefix are distinct");
	is(place_pack(id, 1, 0, 1, h, 0, out, &c), KITH_EQUOTA, "no holders at all: too few");
}

/* ---- distinct, eligible, deterministic ---- */

/* Random holders: about a third dead, full, out of count or of weight 0. */
static void holders_mixed(struct place_holder *h, size_t n, uint64_t shard_len)
{
	holders_init(h, n);
	for (size_t i = 0; i < n; i++) {
		switch (rng_next() % 12) {
		case 0:
			h[i].alive = false;
			break;
		case 1:
			h[i].free_bytes = shard_len - 1;
			break;
		case 2:
			h[i].free_count = 0;
			break;
		case 3:
			h[i].weight = 0;
			break;
		case 4: /* exactly room for one shard: eligible */
			h[i].free_bytes = shard_len;
			h[i].free_count = 1;
			break;
		default:
			h[i].weight = 1 + rng_next() % 1000;
			h[i].free_bytes = shard_len + rng_next() % 1000;
		}
	}
}

static bool eligible(const struct place_holder *h, uint64_t shard_len)
{
	return h->alive && h->weight && h->free_bytes >= shard_len && h->free_count;
}

static void test_distinct_eligible(void)
{
	struct place_holder h[80];
	uint8_t id[PLACE_PACK_ID_LEN];
	size_t out[SHARDS_MAX], again[SHARDS_MAX];
	unsigned bad_distinct = 0, bad_eligible = 0, bad_again = 0, placed = 0, refused = 0;
	unsigned bad_count = 0, edge_used = 0;
	uint64_t len = 4 * MIB;

	for (unsigned p = 0; p < 3000; p++) {
		unsigned k = 1 + (unsigned)(rng_next() % ERASURE_K_MAX);
		unsigned m = (unsigned)(rng_next() % (ERASURE_M_MAX + 1));
		size_t n = rng_next() % 81, have = 0;
		struct place_count c;
		int err;

		holders_mixed(h, n, len);
		for (size_t i = 0; i < n; i++)
			have += eligible(&h[i], len);
		pack_id_of(id, p);
		err = place_pack(id, k, m, len, h, n, out, &c);
		bad_count += c.need != k + m || c.have != have;
		if (err) {
			refused += err == KITH_EQUOTA && have < k + m && out[0] == PLACE_NONE;
			continue;
		}
		placed++;
		bad_distinct += !all_distinct(out, k + m);
		for (unsigned i = 0; i < k + m; i++) {
			bad_eligible += out[i] >= n || !eligible(&h[out[i]], len);
			edge_used += out[i] < n && h[out[i]].free_bytes == len;
		}
		place_pack(id, k, m, len, h, n, again, NULL);
		bad_again += !!memcmp(out, again, (k + m) * sizeof(out[0]));
	}
	printf("# %u packs placed, %u refused\n", placed, refused);
	ok(placed > 500 && refused > 500, "both outcomes exercised");
	is(placed + refused, 3000, "refused only with fewer eligible holders than k + m");
	is(bad_count, 0, "count.need and count.have right every time");
	is(bad_distinct, 0, "every pack's shards on distinct holders");
	is(bad_eligible, 0, "never a dead, full, out-of-count or weightless holder");
	ok(edge_used > 0, "a holder with room for exactly one shard is used");
	is(bad_again, 0, "same inputs, same placement");
}

/* The same peers, in any order and among any ineligible extras. */
static void test_order(void)
{
	struct place_holder h[60], shuffled[90];
	uint8_t id[PLACE_PACK_ID_LEN];
	size_t a[SHARDS_MAX], b[SHARDS_MAX];
	unsigned bad = 0;

	for (unsigned p = 0; p < 300; p++) {
		size_t n = 10 + p % 50, ns = 0;

		holders_mixed(h, n, 100);
		memcpy(shuffled, h, n * sizeof(h[0]));
		ns = n;
		for (size_t i = n - 1; i > 0; i--) {
			size_t j = rng_next() % (i + 1);
			struct place_holder t = shuffled[i];

			shuffled[i] = shuffled[j];
			shuffled[j] = t;
		}
		holders_init(shuffled + ns, 30);
		for (size_t i = ns; i < ns + 30; i++) {
			/* dead, or alive without room */
			shuffled[i].alive = i % 2;
			shuffled[i].free_bytes = i % 2 ? 99 : 1000;
		}
		ns += 30;
		pack_id_of(id, p);
		if (place_pack(id, 4, 2, 100, h, n, a, NULL))
			continue;
		if (place_pack(id, 4, 2, 100, shuffled, ns, b, NULL)) {
			bad++;
			continue;
		}
		for (unsigned i = 0; i < 6; i++)
			bad += memcmp(h[a[i]].peer, shuffled[b[i]].peer, PLACE_PEER_LEN) != 0;
	}
	is(bad, 0, "same peers chosen whatever the holders' order and ineligible extras");
}

/* ---- too few ---- */

static void test_too_few(void)
{
	struct place_holder h[9];
	uint8_t id[PLACE_PACK_ID_LEN] = {42};
	size_t out[SHARDS_MAX];
	struct place_count c;
	char line[160];

	holders_init(h, 9);
	for (size_t i = 0; i < 9; i++)
		h[i].free_bytes = 4 * MIB;
	h[0].alive = false;            /* dead: not counted as alive */
	h[1].free_bytes = 4 * MIB - 1; /* full */
	h[2].free_count = 0;           /* out of count */
	h[3].weight = 0;               /* no grant: not counted */
	is(place_pack(id, 4, 2, 4 * MIB, h, 9, out, &c), KITH_EQUOTA, "4+2 on 5 eligible: too few");
	is(c.need, 6, "need 6");
	is(c.have, 5, "have 5");
	is(c.alive, 7, "7 alive");
	ok(out[0] == PLACE_NONE && out[5] == PLACE_NONE, "out all PLACE_NONE");
	is(place_explain(&c, line, sizeof(line)), 0, "explained");
	ok(!strcmp(line, "4+2 needs 6 holders with room for 4.0 MiB; 5 have it (7 alive)"), line);
	is(place_explain(&c, line, 20), KITH_ETOOBIG, "a short buffer says the line was cut");
	is(strlen(line), 19, "... and is still a string");
	is(place_pack(id, 3, 2, 4 * MIB, h, 9, out, &c), 0, "3+2 fits the 5");
	ok(all_distinct(out, 5), "... on all five");
	is(place_pack(id, 4, 2, 4 * MIB + 1, h, 9, out, &c), KITH_EQUOTA, "one byte more: none");
	is(c.have, 0, "have 0");
}

/* ---- stability ---- */

#define STAB_PACKS 1000
#define STAB_N 20

/* Adding a 21st holder: about 6/21 of the shards move, nearly all to it. */
static void test_add(void)
{
	struct place_holder h[STAB_N + 1];
	uint8_t id[PLACE_PACK_ID_LEN];
	size_t a[SHARDS_MAX], b[SHARDS_MAX];
	unsigned moves = 0, to_new = 0, err = 0;
	double expected = STAB_PACKS * 6.0 / (STAB_N + 1);
	char what[120];

	holders_init(h, STAB_N + 1);
	for (unsigned p = 0; p < STAB_PACKS; p++) {
		pack_id_of(id, p);
		err += place_pack(id, 4, 2, 1, h, STAB_N, a, NULL) != 0;
		err += place_pack(id, 4, 2, 1, h, STAB_N + 1, b, NULL) != 0;
		for (unsigned i = 0; i < 6; i++) {
			moves += a[i] != b[i];
			to_new += b[i] == STAB_N;
		}
	}
	is(err, 0, "placed");
	snprintf(what, sizeof(what),
	         "adding 1 holder to 20 moved %u of 6000 shards (%.0f expected), %u to it", moves,
	         expected, to_new);
	ok(moves > 0 && moves <= 1.3 * expected, what);
	ok(to_new >= 0.85 * expected && to_new <= 1.15 * expected,
	   "the newcomer takes its share, (k + m) / (n + 1)");
	ok(to_new >= 0.85 * moves, "nearly every move goes to the newcomer");
}

/* Removing one of 20: the shards it held move, and few others. A repair of
 * those shards picks what the fresh placement picks whenever it moved
 * nothing else. */
static void test_remove(void)
{
	struct place_holder h[STAB_N];
	uint8_t id[PLACE_PACK_ID_LEN];
	uint8_t cur[SHARDS_MAX][PLACE_PEER_LEN];
	size_t a[SHARDS_MAX], b[SHARDS_MAX], r[SHARDS_MAX];
	unsigned own = 0, other = 0, clean = 0, repair_same = 0, gone = 7;
	char what[120];

	holders_init(h, STAB_N);
	for (unsigned p = 0; p < STAB_PACKS; p++) {
		struct place_holder without[STAB_N];
		bool lost[SHARDS_MAX] = {false}, extra = false, held = false;

		pack_id_of(id, p);
		place_pack(id, 4, 2, 1, h, STAB_N, a, NULL);
		memcpy(without, h, sizeof(h));
		without[gone] = without[STAB_N - 1]; /* gone removed, the last in its place */
		place_pack(id, 4, 2, 1, without, STAB_N - 1, b, NULL);
		for (unsigned i = 0; i < 6; i++) {
			size_t now = find_peer(h, STAB_N, without[b[i]].peer);

			memcpy(cur[i], h[a[i]].peer, PLACE_PEER_LEN);
			if (a[i] == gone) {
				own++, held = true, lost[i] = true;
			} else if (now != a[i]) {
				other++, extra = true;
			}
		}
		if (!held || extra)
			continue;
		clean++;
		place_repair(id, 4, 2, 1, without, STAB_N - 1, cur, lost, r, NULL);
		for (unsigned i = 0; i < 6; i++)
			if (lost[i])
				repair_same += r[i] == b[i];
	}
	snprintf(what, sizeof(what), "removing 1 of 20 moved its %u shards and %u others", own,
	         other);
	ok(own > 0 && other <= own / 5, what);
	snprintf(what, sizeof(what), "repair chose the fresh placement's holder in %u of %u packs",
	         repair_same, clean);
	ok(clean > 0 && repair_same == clean, what);
}

/* ---- spread and weights ---- */

static void test_spread(void)
{
	struct place_holder h[12];
	uint8_t id[PLACE_PACK_ID_LEN];
	size_t out[SHARDS_MAX];
	unsigned total[12] = {0}, first[12] = {0}, lo = UINT32_MAX, hi = 0, flo = UINT32_MAX,
	         fhi = 0;
	double mean = 10000 * 6 / 12.0;
	char what[120];

	holders_init(h, 12);
	for (unsigned p = 0; p < 10000; p++) {
		pack_id_of(id, p);
		place_pack(id, 4, 2, 1, h, 12, out, NULL);
		for (unsigned i = 0; i < 6; i++)
			total[out[i]]++;
		first[out[0]]++;
	}
	for (unsigned i = 0; i < 12; i++) {
		lo = total[i] < lo ? total[i] : lo;
		hi = total[i] > hi ? total[i] : hi;
		flo = first[i] < flo ? first[i] : flo;
		fhi = first[i] > fhi ? first[i] : fhi;
	}
	snprintf(what, sizeof(what),
	         "10000 packs of 4+2 on 12 equal holders: %u to %u shards each, mean %.0f", lo, hi,
	         mean);
	ok(lo >= 0.95 * mean && hi <= 1.05 * mean, what);
	snprintf(what, sizeof(what), "data shard 0 alone: %u to %u each, mean %.0f", flo, fhi,
	         10000 / 12.0);
	ok(flo >= 0.85 * 10000 / 12.0 && fhi <= 1.15 * 10000 / 12.0, what);
}

/* Holder 0 has weight 2, the others 1: its share over the mean of theirs. */
static double heavy_ratio(size_t n, unsigned k, unsigned m, unsigned packs)
{
	struct place_holder h[64];
	uint8_t id[PLACE_PACK_ID_LEN];
	size_t out[SHARDS_MAX];
	unsigned heavy = 0, light = 0;

	holders_init(h, n);
	h[0].weight = 2;
	for (unsigned p = 0; p < packs; p++) {
		pack_id_of(id, p);
		place_pack(id, k, m, 1, h, n, out, NULL);
		for (unsigned i = 0; i < k + m; i++)
			out[i] ? light++ : heavy++;
	}
	return heavy / ((double)light / (double)(n - 1));
}

static void test_weights(void)
{
	char what[120];
	double r1 = heavy_ratio(12, 1, 0, 20000), r50 = heavy_ratio(50, 4, 2, 20000);
	double r12 = heavy_ratio(12, 4, 2, 20000);

	snprintf(what, sizeof(what),
	         "twice the weight, 1 shard a pack on 12: %.2f times the shards", r1);
	ok(r1 >= 1.85 && r1 <= 2.15, what);
	snprintf(what, sizeof(what), "twice the weight, 4+2 on 50: %.2f times the shards", r50);
	ok(r50 >= 1.7 && r50 <= 2.1, what);
	/* One shard per pack per holder caps the share: documented in place.h. */
	snprintf(what, sizeof(what), "twice the weight, 4+2 on 12: %.2f times (shares flatten)",
	         r12);
	ok(r12 >= 1.3 && r12 < r50, what);
}

/* Holders with quotas of 300, 600 and 900 MiB, weighted by quota or all
 * alike: places 8+4 packs of 1 MiB shards, taking the room off after each
 * (place_commit()), until a pack finds too few holders with room; returns
 * the permille of all quota then used. */
static unsigned fill_until_refused(bool by_quota)
{
	struct place_holder h[30];
	uint8_t id[PLACE_PACK_ID_LEN];
	size_t out[SHARDS_MAX];
	uint64_t quota = 0, left = 0;

	holders_init(h, 30);
	for (size_t i = 0; i < 30; i++) {
		h[i].free_bytes = (1 + i % 3) * 300 * MIB;
		h[i].weight = by_quota ? h[i].free_bytes : 1;
		quota += h[i].free_bytes;
	}
	/* 18000 MiB of quota hold at most 1500 packs. */
	for (unsigned p = 0; p < 2000; p++) {
		pack_id_of(id, p);
		if (place_pack(id, 8, 4, MIB, h, 30, out, NULL))
			break;
		place_commit(h, out, 12, MIB);
	}
	for (size_t i = 0; i < 30; i++)
		left += h[i].free_bytes;
	return (unsigned)((quota - left) * 1000 / quota);
}

/* Weights = quotas (place.h): every holder fills at the rate of its
 * quota, so a put is refused only when nearly all the room is used. */
static void test_fill(void)
{
	unsigned weighted = fill_until_refused(true), equal = fill_until_refused(false);
	char what[160];

	snprintf(what, sizeof(what),
	         "quotas 1:2:3, 8+4 on 30: %.1f%% of the room used when a pack is refused "
	         "(%.1f%% with equal weights)",
	         weighted / 10.0, equal / 10.0);
	ok(weighted >= 940 && weighted > equal + 50, what);
}

/* ---- repair ---- */

static void test_repair(void)
{
	struct place_holder h[STAB_N];
	uint8_t id[PLACE_PACK_ID_LEN], cur[SHARDS_MAX][PLACE_PEER_LEN];
	size_t a[SHARDS_MAX], r[SHARDS_MAX], again[SHARDS_MAX];
	unsigned bad_kept = 0, bad_target = 0, bad_again = 0, moved = 0;

	holders_init(h, STAB_N);
	for (unsigned p = 0; p < STAB_PACKS; p++) {
		bool lost[SHARDS_MAX] = {false};
		struct place_holder now[STAB_N];

		pack_id_of(id, p);
		place_pack(id, 8, 4, 1, h, STAB_N, a, NULL);
		memcpy(now, h, sizeof(h));
		for (unsigned i = 0; i < 12; i++) {
			memcpy(cur[i], h[a[i]].peer, PLACE_PEER_LEN);
			lost[i] = rng_next() % 4 == 0;
			/* Failed audit but alive with room, dead, or gone from the list. */
			if (lost[i] && i % 3 == 1)
				now[a[i]].alive = false;
			else if (lost[i] && i % 3 == 2)
				rng_fill(now[a[i]].peer, PLACE_PEER_LEN);
		}
		if (place_repair(id, 8, 4, 1, now, STAB_N, cur, lost, r, NULL))
			continue;
		for (unsigned i = 0; i < 12; i++) {
			if (!lost[i]) {
				bad_kept += r[i] != PLACE_NONE;
				continue;
			}
			moved++;
			bad_target += r[i] >= STAB_N || !now[r[i]].alive;
			for (unsigned j = 0; j < 12; j++)
				bad_target += !memcmp(now[r[i]].peer, cur[j], PLACE_PEER_LEN) ||
				              (j != i && r[j] == r[i]);
		}
		place_repair(id, 8, 4, 1, now, STAB_N, cur, lost, again, NULL);
		bad_again += !!memcmp(r, again, sizeof(r[0]) * 12);
	}
	ok(moved > 1000, "repairs made");
	is(bad_kept, 0, "a shard not lost is never moved");
	is(bad_target, 0,
	   "a lost shard goes to a live holder keeping nothing of the pack, one each");
	is(bad_again, 0, "repair is deterministic");
}

static void test_repair_short(void)
{
	struct place_holder h[8];
	uint8_t id[PLACE_PACK_ID_LEN] = {9}, cur[SHARDS_MAX][PLACE_PEER_LEN];
	bool lost[SHARDS_MAX] = {false};
	size_t out[SHARDS_MAX];
	struct place_count c;
	char line[200];

	/* 4+2 on holders 0..5, plus 6 and 7; holders 1, 3 and 4 are lost. */
	holders_init(h, 8);
	for (unsigned i = 0; i < 6; i++)
		memcpy(cur[i], h[i].peer, PLACE_PEER_LEN);
	lost[1] = lost[3] = lost[4] = true;
	h[1].alive = h[3].alive = false;
	is(place_repair(id, 4, 2, 4 * MIB, h, 8, cur, lost, out, &c), KITH_EQUOTA,
	   "3 lost, 2 holders free: too few");
	ok(out[1] != PLACE_NONE && out[3] != PLACE_NONE && out[4] == PLACE_NONE,
	   "the first two lost shards placed all the same");
	ok(out[1] >= 6 && out[3] >= 6 && out[1] != out[3], "on the two holders keeping nothing");
	ok(out[0] == PLACE_NONE && out[2] == PLACE_NONE && out[5] == PLACE_NONE, "others stay");
	ok(c.need == 3 && c.have == 2 && c.alive == 6, "counted: need 3, have 2, 6 alive");
	place_explain(&c, line, sizeof(line));
	ok(!strcmp(line, "repairing 3 shards of 4+2 needs 3 more holders with room for 4.0 MiB; "
	                 "2 have it (6 alive)"),
	   line);
	memset(lost, 0, sizeof(lost));
	is(place_repair(id, 4, 2, 4 * MIB, h, 8, cur, lost, out, &c), 0, "nothing lost: nothing");
	ok(c.need == 0 && out[0] == PLACE_NONE && out[5] == PLACE_NONE, "... moves");
}

/* ---- commit ---- */

static void test_commit(void)
{
	struct place_holder h[3];
	size_t out[4] = {0, 2, PLACE_NONE, 1};

	holders_init(h, 3);
	h[0].free_bytes = 10, h[0].free_count = 2;
	h[1].free_bytes = 3, h[1].free_count = 1;
	place_commit(h, out, 4, 5);
	ok(h[0].free_bytes == 5 && h[0].free_count == 1, "room taken off");
	ok(h[1].free_bytes == 0 && h[1].free_count == 0, "never below zero");
	ok(h[2].free_bytes == UINT64_MAX - 5 && h[2].free_count == UINT32_MAX,
	   "no COUNT stays no COUNT");
	is(h[0].weight, 1, "weights stay");
}

/* ---- speed ---- */

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Placements a second of k + m shards on n holders, best of 3 passes. */
static double rate(size_t n, unsigned k, unsigned m, unsigned runs)
{
	static struct place_holder h[PLACE_HOLDERS_MAX];
	uint8_t id[PLACE_PACK_ID_LEN];
	size_t out[SHARDS_MAX];
	double best = 0;
	unsigned bad = 0;

	holders_init(h, n);
	for (unsigned t = 0; t < 3; t++) {
		double t0 = now_s(), r;

		for (unsigned p = 0; p < runs; p++) {
			pack_id_of(id, p);
			bad += place_pack(id, k, m, 1, h, n, out, NULL) != 0;
		}
		r = runs / (now_s() - t0);
		best = r > best ? r : best;
	}
	return bad ? 0 : best;
}

static void bench(void)
{
	double common = rate(50, 4, 2, 2000), worst = rate(PLACE_HOLDERS_MAX, 32, 16, 10);

	printf("# speed: %.0f placements/s for 4+2 on 50 holders, %.0f for 32+16 on %u\n", common,
	       worst, PLACE_HOLDERS_MAX);
	ok(common > 0 && worst > 0, "timed placements all succeeded");
}

int main(void)
{
	if (sodium_init() < 0) {
		printf("Bail out! sodium_init\n");
		return 1;
	}
	test_reference();
	test_args();
	test_distinct_eligible();
	test_order();
	test_too_few();
	test_add();
	test_remove();
	test_spread();
	test_weights();
	test_fill();
	test_repair();
	test_repair_short();
	test_commit();
	bench();
	return tap_done();
}
