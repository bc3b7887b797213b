/* The chunker's speed, and the trade-off that fixed its sizes.
 *
 *   bench_chunker [-m MiB]        MB/s of chunking alone over random and
 *                                 text-like data (default 256 MiB each),
 *                                 fed 1 MiB at a time as a backup reads a
 *                                 file; median of 3 runs
 *   bench_chunker --sweep [-s N] [-m MiB]
 *                                 for several sizes, the share of a new
 *                                 version's bytes in chunks the old one
 *                                 lacks, after 1% of its bytes changed in
 *                                 ~100 scattered edits (default 64 MiB),
 *                                 mean and worst of N seeds (default 3)
 *
 * The data are those of tests/unit/test_chunker.c: lines of an SQL dump
 * from a fixed pseudo-random sequence, or the sequence itself. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "backup/chunker.h"
#include "bench.h"

#define MIB (1024u * 1024u)
#define FEED MIB
#define RUNS 3
#define EDITS 100

/* ---- data (same generator as tests/unit/test_chunker.c) ---- */

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static const char *const words[] = {
    "alpha",  "bravo",  "charlie", "delta", "echo",    "foxtrot",  "golf",    "hotel",
    "india",  "juliet", "kilo",    "lima",  "mike",    "november", "oscar",   "papa",
    "quebec", "romeo",  "sierra",  "tango", "uniform", "victor",   "whiskey", "xray",
    "yankee", "zulu",   "red",     "green", "blue",    "amber",    "violet",  "ochre",
};

/* Fills buf with lines "INSERT INTO t VALUES (id, 'w w w', n);\n", ids
 * counting from *id, the last line cut at n bytes. */
static void text_fill(uint8_t *buf, size_t n, uint64_t *rng, uint64_t *id)
{
	char line[160];
	size_t at = 0;

	while (at < n) {
		uint64_t r = splitmix(rng);
		int k =
		    snprintf(line, sizeof(line), "INSERT INTO t VALUES (%llu, '%s %s %s', %llu);\n",
		             (unsigned long long)(*id)++, words[r & 31], words[(r >> 5) & 31],
		             words[(r >> 10) & 31], (unsigned long long)((r >> 15) % 1000000));
		size_t m = (size_t)k < n - at ? (size_t)k : n - at;
		memcpy(buf + at, line, m);
		at += m;
	}
}

static void random_fill(uint8_t *buf, size_t n, uint64_t *rng)
{
	for (size_t i = 0; i < n; i += 8) {
		uint64_t r = splitmix(rng);
		memcpy(buf + i, &r, n - i < 8 ? n - i : 8);
	}
}

static void fill(bool text, uint8_t *buf, size_t n, uint64_t *rng, uint64_t *id)
{
	if (text)
		text_fill(buf, n, rng, id);
	else
		random_fill(buf, n, rng);
}

/* Makes *out (malloc'd, length *out_len) from old by EDITS edits at
 * scattered places, replacing, inserting or deleting, changing 1% of
 * old's bytes in all. */
static uint8_t *edit(bool text, const uint8_t *old, size_t len, size_t *out_len, uint64_t seed)
{
	uint64_t rng = seed, id = 1u << 30;
	size_t at = 0, o = 0;
	uint8_t *out = malloc(len + len / 50);
	size_t pos[EDITS], size[EDITS], budget = len / 100, wsum = 0;

	if (!out)
		return NULL;
	/* sizes in proportion to random weights 1..1000, adding up to budget */
	for (size_t i = 0; i < EDITS; i++) {
		pos[i] = splitmix(&rng) % len;
		size[i] = 1 + splitmix(&rng) % 1000;
		wsum += size[i];
	}
	for (size_t i = 0, left = budget; i < EDITS; i++) {
		size[i] = i + 1 < EDITS ? budget * size[i] / wsum : left;
		left -= size[i];
	}
	for (size_t i = 0; i < EDITS; i++) /* sort: EDITS is small */
		for (size_t j = i + 1; j < EDITS; j++)
			if (pos[j] < pos[i]) {
				size_t t = pos[i];
				pos[i] = pos[j];
				pos[j] = t;
			}
	for (size_t i = 0; i < EDITS && at < len; i++) {
		uint64_t r = splitmix(&rng);
		size_t n = size[i], p = pos[i] < at ? at : pos[i];
		unsigned kind = r % 3; /* 0 replace, 1 insert, 2 delete */

		if (kind != 1 && n > len - p)
			n = len - p;
		memcpy(out + o, old + at, p - at);
		o += p - at;
		at = p;
		if (kind != 2) {
			fill(text, out + o, n, &rng, &id);
			o += n;
		}
		if (kind != 1)
			at += n;
	}
	memcpy(out + o, old + at, len - at);
	*out_len = o + len - at;
	return out;
}

/* ---- chunking ---- */

struct chunk {
	uint8_t id[16];
	size_t len;
};

static int chunk_cmp(const void *a, const void *b)
{
	return memcmp(((const struct chunk *)a)->id, ((const struct chunk *)b)->id, 16);
}

/* Cuts buf into chunks, fed FEED bytes at a time; returns how many,
 * their IDs and lengths in *out (malloc'd) when out is not NULL. */
static size_t cut(struct chunker *c, const uint8_t *buf, size_t len, struct chunk **out)
{
	size_t n = 0, cap = 0, start = 0;
	struct chunk *v = NULL;
	bool last = false;

	for (size_t at = 0; !last;) {
		bool is_cut = false;

		if (at < len) {
			at += chunker_next(c, buf + at, len - at < FEED ? len - at : FEED, &is_cut);
		} else {
			last = true;
			is_cut = chunker_finish(c) > 0;
		}
		if (!is_cut)
			continue;
		if (out) {
			if (n == cap &&
			    !(v = realloc(v, (cap = cap ? 2 * cap : 1024) * sizeof(*v))))
				exit(1);
			crypto_generichash(v[n].id, 16, buf + start, at - start, NULL, 0);
			v[n].len = at - start;
		}
		n++;
		start = at;
	}
	if (out)
		*out = v;
	return n;
}

static int speed(const uint8_t key[CHUNKER_KEY_LEN], size_t size)
{
	uint8_t *buf = malloc(size);
	struct chunker *c = NULL;

	if (!buf || chunker_new(&c, key, NULL))
		return 1;
	for (int text = 0; text < 2; text++) {
		uint64_t rng = 1, id = 1;
		double mbs[RUNS];
		size_t n = 0;

		fill(text, buf, size, &rng, &id);
		for (int r = 0; r < RUNS; r++) {
			double t = bench_clock_s();
			n = cut(c, buf, size, NULL);
			mbs[r] = (double)size / 1e6 / (bench_clock_s() - t);
		}
		bench_sort(mbs, RUNS);
		printf(
		    "%-6s %zu MiB: %zu chunks, mean %zu B, %.0f MB/s (median of %d; runs %.0f %.0f "
		    "%.0f)\n",
		    text ? "text" : "random", size / MIB, n, size / n, mbs[RUNS / 2], RUNS, mbs[0],
		    mbs[1], mbs[2]);
	}
	chunker_free(&c);
	free(buf);
	return 0;
}

/* The share of new's bytes in chunks that old lacks (each counted once). */
static double sent(struct chunker *c, const uint8_t *old, size_t old_len, const uint8_t *new,
                   size_t new_len, size_t *n_new)
{
	struct chunk *a = NULL, *b = NULL;
	size_t na = cut(c, old, old_len, &a), nb = cut(c, new, new_len, &b), bytes = 0;

	qsort(a, na, sizeof(*a), chunk_cmp);
	qsort(b, nb, sizeof(*b), chunk_cmp);
	for (size_t i = 0; i < nb; i++)
		if ((i == 0 || chunk_cmp(&b[i], &b[i - 1])) &&
		    !bsearch(&b[i], a, na, sizeof(*a), chunk_cmp))
			bytes += b[i].len;
	*n_new = nb;
	free(a);
	free(b);
	return 100.0 * (double)bytes / (double)new_len;
}

/* Prints, for each set of sizes, the chunk count and the share sent for
 * text and random data, as the mean and the worst over seeds pairs of
 * versions. */
static int sweep(const uint8_t key[CHUNKER_KEY_LEN], size_t size, unsigned seeds)
{
	static const struct chunker_params ps[] = {
	    {1024, 4096, 32768},
	    {2048, 8192, 65536},
	    {4096, 8192, 65536},
	    {6144, 8192, 65536},
	    {2048, 16384, 131072},
	    {4096, 16384, 131072},
	    {8192, 32768, 262144},
	    {16384, 65536, 524288},
	    {32768, 131072, 1048576},
	    {65536, 262144, 2097152},
	    {512 * 1024, 1024 * 1024, 8 * 1024 * 1024},
	};
	uint8_t *old = malloc(size);

	if (!old)
		return 1;
	printf("%zu MiB, %d edits changing 1%% of the bytes, %u seeds; sent = bytes of new "
	       "chunks / size, mean (worst)\n",
	       size / MIB, EDITS, seeds);
	printf("%-7s %-7s %-7s | %-7s %-16s | %-16s\n", "min", "avg", "max", "chunks", "text sent",
	       "random sent");
	for (size_t i = 0; i < sizeof(ps) / sizeof(ps[0]); i++) {
		struct chunker *c = NULL;
		double sum[2] = {0, 0}, worst[2] = {0, 0};
		size_t nchunks = 0;

		if (chunker_new(&c, key, &ps[i]))
			return 1;
		for (unsigned seed = 0; seed < seeds; seed++)
			for (int text = 1; text >= 0; text--) {
				uint64_t rng = 7 + seed, id = 1;
				size_t new_len;
				uint8_t *new;
				double pct;

				fill(text, old, size, &rng, &id);
				if (!(new = edit(text, old, size, &new_len, 99 + seed)))
					return 1;
				pct = sent(c, old, size, new, new_len, &nchunks);
				sum[text] += pct;
				worst[text] = pct > worst[text] ? pct : worst[text];
				free(new);
			}
		printf("%-7u %-7u %-7u | %-7zu %5.2f%% (%5.2f%%) | %5.2f%% (%5.2f%%)\n", ps[i].min,
		       ps[i].avg, ps[i].max, nchunks, sum[1] / seeds, worst[1], sum[0] / seeds,
		       worst[0]);
		fflush(stdout);
		chunker_free(&c);
	}
	free(old);
	return 0;
}

int main(int argc, char **argv)
{
	uint8_t key[CHUNKER_KEY_LEN];
	bool do_sweep = false;
	size_t mib = 0;
	unsigned seeds = 3;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--sweep"))
			do_sweep = true;
		else if (!strcmp(argv[i], "-m") && i + 1 < argc)
			mib = strtoul(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "-s") && i + 1 < argc)
			seeds = (unsigned)strtoul(argv[++i], NULL, 10);
		else {
			fprintf(stderr, "usage: bench_chunker [--sweep [-s seeds]] [-m MiB]\n");
			return 2;
		}
	}
	if (sodium_init() < 0)
		return 1;
	memset(key, 0x5a, sizeof(key));
	if (do_sweep)
		return sweep(key, (mib ? mib : 64) * MIB, seeds ? seeds : 1);
	return speed(key, (mib ? mib : 256) * MIB);
}
