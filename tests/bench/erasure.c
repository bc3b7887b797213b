/* Erasure coding: encode and decode throughput against memcpy.
 *
 * For each code (4+2 and 8+3), cuts N MiB of random data into stripes of
 * k shards of S KiB and measures, over the same bytes:
 *   (a) erasure_encode() of every stripe;
 *   (b) erasure_decode() of every stripe with data shards 0 and 1 lost,
 *       into buffers of their own (the tables are computed on the first
 *       stripe and reused, as in a restore);
 * and (c) memcpy() of the N MiB into another buffer, the floor any pass
 * over the data costs on this machine. Throughput is in MB/s (10^6 bytes)
 * of data, parity not counted; each figure is the median of T trials, and
 * the ratios are to the median memcpy. The decoded shards are checked
 * against the originals after the timings.
 *
 * bench_erasure [-n MiB] [-s shard KiB] [-t trials] */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backup/erasure.h"
#include "../unit/rng.h"
#include "bench.h"

#define TRIALS_MAX 101
#define N_MAX (ERASURE_K_MAX + ERASURE_M_MAX)

struct options {
	size_t total; /* bytes of data */
	size_t shard; /* bytes per shard */
	int trials;
};

/* One code over the whole data: stripe s's shard i is at shards[s][i]. */
struct run {
	struct erasure *e;
	unsigned k, m;
	size_t stripes;
	uint8_t *data, *parity, *rebuilt;
	uint8_t *(*shards)[N_MAX]; /* for decode: lost data shards point into rebuilt */
};

static void *xmalloc(size_t n)
{
	void *p = malloc(n);

	if (!p) {
		fprintf(stderr, "bench_erasure: out of memory (%zu bytes)\n", n);
		exit(1);
	}
	memset(p, 0, n); /* fault the pages in before any timing */
	return p;
}

/* The same bytes on every call: the sequence starts afresh. */
static void fill_random(uint8_t *p, size_t n)
{
	rng_seed(RNG_SEED);
	rng_fill(p, n);
}

static int parse_options(int argc, char **argv, struct options *o)
{
	int c;

	o->total = (size_t)64 << 20;
	o->shard = (size_t)1 << 20;
	o->trials = 3;
	while ((c = getopt(argc, argv, "n:s:t:")) != -1) {
		switch (c) {
		case 'n':
			o->total = (size_t)strtoul(optarg, NULL, 10) << 20;
			break;
		case 's':
			o->shard = (size_t)strtoul(optarg, NULL, 10) << 10;
			break;
		case 't':
			o->trials = atoi(optarg);
			break;
		default:
			return -1;
		}
	}
	if (!o->total || !o->shard || o->trials < 1 || o->trials > TRIALS_MAX)
		return -1;
	return 0;
}

static int run_init(struct run *r, const struct options *o, unsigned k, unsigned m)
{
	if (erasure_new(&r->e, k, m))
		return -1;
	r->k = k;
	r->m = m;
	r->stripes = o->total / (k * o->shard);
	if (!r->stripes)
		return -1;
	r->data = xmalloc(r->stripes * k * o->shard);
	r->parity = xmalloc(r->stripes * m * o->shard);
	r->rebuilt = xmalloc(r->stripes * 2 * o->shard);
	r->shards = xmalloc(r->stripes * sizeof(*r->shards));
	fill_random(r->data, r->stripes * k * o->shard);
	for (size_t s = 0; s < r->stripes; s++) {
		for (unsigned i = 0; i < k; i++)
			r->shards[s][i] = r->data + (s * k + i) * o->shard;
		for (unsigned p = 0; p < m; p++)
			r->shards[s][k + p] = r->parity + (s * m + p) * o->shard;
	}
	return 0;
}

static void run_free(struct run *r)
{
	erasure_free(&r->e);
	free(r->data);
	free(r->parity);
	free(r->rebuilt);
	free(r->shards);
}

static double time_encode(struct run *r, size_t shard)
{
	double t0 = bench_clock_s();

	for (size_t s = 0; s < r->stripes; s++)
		erasure_encode(r->e, (const uint8_t *const *)r->shards[s], r->shards[s] + r->k,
		               shard);
	return bench_clock_s() - t0;
}

/* Data shards 0 and 1 of every stripe lost, rebuilt into r->rebuilt. */
static double time_decode(struct run *r, size_t shard)
{
	bool present[N_MAX];
	uint8_t *shards[N_MAX];
	double t0;

	for (unsigned i = 0; i < r->k + r->m; i++)
		present[i] = i >= 2;
	memset(r->rebuilt, 0, r->stripes * 2 * shard);
	t0 = bench_clock_s();
	for (size_t s = 0; s < r->stripes; s++) {
		memcpy(shards, r->shards[s], sizeof(shards));
		shards[0] = r->rebuilt + s * 2 * shard;
		shards[1] = shards[0] + shard;
		if (erasure_decode(r->e, shards, present, shard))
			return -1;
	}
	return bench_clock_s() - t0;
}

static bool decode_correct(const struct run *r, size_t shard)
{
	for (size_t s = 0; s < r->stripes; s++)
		if (memcmp(r->rebuilt + s * 2 * shard, r->shards[s][0], shard) ||
		    memcmp(r->rebuilt + s * 2 * shard + shard, r->shards[s][1], shard))
			return false;
	return true;
}

static double time_memcpy(uint8_t *dst, const uint8_t *src, size_t n)
{
	double t0 = bench_clock_s();

	memcpy(dst, src, n);
	return bench_clock_s() - t0;
}

static double memcpy_mbs(const struct options *o)
{
	uint8_t *src = xmalloc(o->total), *dst = xmalloc(o->total);
	double t[TRIALS_MAX], mbs;

	fill_random(src, o->total);
	for (int i = 0; i < o->trials; i++)
		t[i] = (double)o->total / 1e6 / time_memcpy(dst, src, o->total);
	mbs = bench_median(t, o->trials);
	/* Read dst so the copy cannot be optimised away. */
	if (memcmp(src, dst, o->total))
		mbs = -1;
	free(src);
	free(dst);
	return mbs;
}

static int bench_code(const struct options *o, unsigned k, unsigned m, double copy)
{
	struct run r = {0};
	double enc[TRIALS_MAX], dec[TRIALS_MAX], mb, e, d;

	if (run_init(&r, o, k, m)) {
		fprintf(stderr, "bench_erasure: %u+%u does not fit the options\n", k, m);
		return -1;
	}
	mb = (double)(r.stripes * k * o->shard) / 1e6;
	for (int i = 0; i < o->trials; i++) {
		enc[i] = mb / time_encode(&r, o->shard);
		dec[i] = mb / time_decode(&r, o->shard);
	}
	if (!decode_correct(&r, o->shard)) {
		fprintf(stderr, "bench_erasure: %u+%u decoded wrong bytes\n", k, m);
		run_free(&r);
		return -1;
	}
	e = bench_median(enc, o->trials);
	d = bench_median(dec, o->trials);
	printf("%u+%u  %4zu stripes  encode %8.0f MB/s (%.2fx memcpy)  "
	       "decode, 2 data lost %8.0f MB/s (%.2fx memcpy)\n",
	       k, m, r.stripes, e, e / copy, d, d / copy);
	run_free(&r);
	return 0;
}

int main(int argc, char **argv)
{
	struct options o;
	double copy;

	if (parse_options(argc, argv, &o)) {
		fprintf(stderr, "usage: bench_erasure [-n MiB] [-s shard KiB] [-t trials]\n");
		return 2;
	}
	copy = memcpy_mbs(&o);
	if (copy <= 0)
		return 1;
	printf("%zu MiB of data, shards of %zu KiB, median of %d trials, MB = 10^6 bytes\n",
	       o.total >> 20, o.shard >> 10, o.trials);
	printf("memcpy %8.0f MB/s\n", copy);
	if (bench_code(&o, 4, 2, copy) || bench_code(&o, 8, 3, copy))
		return 1;
	return 0;
}
