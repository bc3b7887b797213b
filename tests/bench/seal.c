/* bench_seal: throughput of sealed chunks (backup/seal.c), in MB/s of
 * plaintext (10^6 bytes a second), against the primitives it is made of,
 * measured in the same run on the same bytes: BLAKE2b-256 keyed (the
 * chunk ID), zstd alone (one reused context, as seal does) and
 * XChaCha20-Poly1305 alone. "seal" is seal_chunk_id() + seal_chunk(), what
 * a backup does for each new chunk; "open" is seal_open(), which checks
 * the ID too.
 *
 *   bench_seal [-m MIB] [-r REPS]
 *
 * MIB of random and of text-like (a generated SQL dump) data, default 64;
 * each figure is the median of REPS passes (default 3). Every pass that
 * opens checks that the bytes came back. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>
#include <zstd.h>

#include "backup/seal.h"
#include "bench.h"

#define REPS_MAX 15

static int failed;

struct run {
	const uint8_t *plain; /* total bytes, chunk by chunk */
	size_t total, chunk;
	int level;
	uint8_t *sealed; /* chunk i at i * seal_max_len(chunk) */
	size_t *sealed_len;
	uint8_t *out; /* total bytes */
	uint8_t (*ids)[SEAL_ID_LEN];
	struct seal *s;
	ZSTD_CCtx *cctx;
	ZSTD_DCtx *dctx;
	const struct backup_keys *keys;
};

static size_t chunks(const struct run *r)
{
	return r->total / r->chunk;
}

static uint8_t *slot(const struct run *r, size_t i)
{
	return r->sealed + i * seal_max_len(r->chunk);
}

/* ---- the passes: each returns false on a failure ---- */

static bool pass_seal(struct run *r)
{
	for (size_t i = 0; i < chunks(r); i++) {
		const uint8_t *p = r->plain + i * r->chunk;
		seal_chunk_id(r->ids[i], r->keys, p, r->chunk);
		if (seal_chunk(r->s, r->keys, r->level, r->ids[i], p, r->chunk, slot(r, i),
		               seal_max_len(r->chunk), &r->sealed_len[i]))
			return false;
	}
	return true;
}

static bool pass_open(struct run *r)
{
	size_t n;
	for (size_t i = 0; i < chunks(r); i++)
		if (seal_open(r->s, r->keys, r->ids[i], slot(r, i), r->sealed_len[i],
		              r->out + i * r->chunk, r->chunk, &n) ||
		    n != r->chunk)
			return false;
	return true;
}

static bool pass_hash(struct run *r)
{
	for (size_t i = 0; i < chunks(r); i++)
		seal_chunk_id(r->ids[i], r->keys, r->plain + i * r->chunk, r->chunk);
	return true;
}

static bool pass_zstd_c(struct run *r)
{
	ZSTD_CCtx_setParameter(r->cctx, ZSTD_c_compressionLevel, r->level);
	for (size_t i = 0; i < chunks(r); i++) {
		size_t n = ZSTD_compress2(r->cctx, slot(r, i), seal_max_len(r->chunk),
		                          r->plain + i * r->chunk, r->chunk);
		if (ZSTD_isError(n))
			return false;
		r->sealed_len[i] = n;
	}
	return true;
}

static bool pass_zstd_d(struct run *r)
{
	for (size_t i = 0; i < chunks(r); i++)
		if (ZSTD_decompressDCtx(r->dctx, r->out + i * r->chunk, r->chunk, slot(r, i),
		                        r->sealed_len[i]) != r->chunk)
			return false;
	return true;
}

static bool pass_aead_enc(struct run *r)
{
	for (size_t i = 0; i < chunks(r); i++) {
		uint8_t *c = slot(r, i);
		unsigned long long n;
		randombytes_buf(c, 24);
		crypto_aead_xchacha20poly1305_ietf_encrypt(c + 24, &n, r->plain + i * r->chunk,
		                                           r->chunk, r->ids[i], SEAL_ID_LEN, NULL,
		                                           c, r->keys->chunk);
		r->sealed_len[i] = (size_t)n + 24;
	}
	return true;
}

static bool pass_aead_dec(struct run *r)
{
	for (size_t i = 0; i < chunks(r); i++) {
		const uint8_t *c = slot(r, i);
		if (crypto_aead_xchacha20poly1305_ietf_decrypt(
		        r->out + i * r->chunk, NULL, NULL, c + 24, r->sealed_len[i] - 24, r->ids[i],
		        SEAL_ID_LEN, c, r->keys->chunk))
			return false;
	}
	return true;
}

/* ---- timing ---- */

/* Median MB/s of reps passes; each decoding pass must give the plaintext
 * back. Returns a negative figure on a failure. */
static double measure(struct run *r, bool (*pass)(struct run *), bool decodes, int reps)
{
	double mbs[REPS_MAX];
	for (int k = 0; k < reps; k++) {
		if (decodes)
			memset(r->out, 0, r->total);
		double t0 = bench_clock_s();
		if (!pass(r))
			goto fail;
		mbs[k] = (double)r->total / 1e6 / (bench_clock_s() - t0);
		if (decodes && memcmp(r->out, r->plain, r->total))
			goto fail;
	}
	bench_sort(mbs, (size_t)reps);
	return mbs[reps / 2];
fail:
	failed = 1;
	return -1;
}

static size_t sealed_total(const struct run *r)
{
	size_t t = 0;
	for (size_t i = 0; i < chunks(r); i++)
		t += r->sealed_len[i];
	return t;
}

/* ---- data ---- */

/* Text like a SQL dump: a few tables, names, dates, amounts. */
static void make_text(uint8_t *buf, size_t len)
{
	static const char *const names[] = {"alice",   "bob",   "carol",  "dave",  "erin",
	                                    "frank",   "grace", "heidi",  "ivan",  "judy",
	                                    "mallory", "niaj",  "olivia", "peggy", "rupert"};
	static const char *const cities[] = {"Lyon", "Gent", "Porto", "Turku", "Graz", "Brno"};
	uint32_t x = 2463534242u;
	size_t at = 0;
	char line[256];
	while (at < len) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		int n = snprintf(line, sizeof(line),
		                 "INSERT INTO orders VALUES (%u, '%s', '%s', '2023-%02u-%02u', "
		                 "%u.%02u, '%08x');\n",
		                 x >> 4, names[x % 15], cities[(x >> 8) % 6], 1 + (x >> 12) % 12,
		                 1 + (x >> 16) % 28, (x >> 3) % 5000, x % 100, x * 2654435761u);
		for (int i = 0; i < n && at < len; i++)
			buf[at++] = (uint8_t)line[i];
	}
}

static int usage(void)
{
	fprintf(stderr, "usage: bench_seal [-m MIB] [-r REPS]\n");
	return 2;
}

static void report(struct run *r, const char *kind, int reps)
{
	double seal = measure(r, pass_seal, false, reps);
	double ratio = (double)sealed_total(r) / (double)r->total;
	double open = measure(r, pass_open, true, reps);
	double zc = measure(r, pass_zstd_c, false, reps);
	double zd = measure(r, pass_zstd_d, true, reps);
	printf("%-6s %5zuK %3d %8.0f %8.0f %6.3f %8.0f %8.0f\n", kind, r->chunk >> 10, r->level,
	       seal, open, ratio, zc, zd);
}

static void report_base(struct run *r, const char *kind, int reps)
{
	double h = measure(r, pass_hash, false, reps);
	double e = measure(r, pass_aead_enc, false, reps);
	double d = measure(r, pass_aead_dec, true, reps);
	printf("%-6s %5zuK   - %8s %8s %6s %8s %8s  blake2b %5.0f  xchacha enc %5.0f dec %5.0f\n",
	       kind, r->chunk >> 10, "-", "-", "-", "-", "-", h, e, d);
}

int main(int argc, char **argv)
{
	size_t mib = 64, sizes[] = {64 << 10, 1 << 20};
	int reps = 3, levels[] = {1, 3}, opt;
	struct backup_keys keys;
	struct run r = {0};
	uint8_t *data[2];
	const char *kinds[] = {"random", "text"};

	while ((opt = getopt(argc, argv, "m:r:")) != -1) {
		if (opt == 'm' && atoi(optarg) >= 1)
			mib = (size_t)atoi(optarg);
		else if (opt == 'r' && atoi(optarg) >= 1 && atoi(optarg) <= REPS_MAX)
			reps = atoi(optarg);
		else
			return usage();
	}
	if (sodium_init() < 0)
		return 1;
	randombytes_buf(&keys, sizeof(keys));
	r.keys = &keys;
	r.total = mib << 20;
	data[0] = malloc(r.total);
	data[1] = malloc(r.total);
	r.out = malloc(r.total);
	r.sealed = malloc(r.total / sizes[0] * seal_max_len(sizes[0]));
	r.sealed_len = calloc(r.total / sizes[0], sizeof(size_t));
	r.ids = calloc(r.total / sizes[0], SEAL_ID_LEN);
	r.cctx = ZSTD_createCCtx();
	r.dctx = ZSTD_createDCtx();
	if (!data[0] || !data[1] || !r.out || !r.sealed || !r.sealed_len || !r.ids || !r.cctx ||
	    !r.dctx)
		return 1;
	randombytes_buf(data[0], r.total);
	make_text(data[1], r.total);
	printf("bench_seal: %zu MiB each, MB/s of plaintext, median of %d\n", mib, reps);
	printf("%-6s %6s %3s %8s %8s %6s %8s %8s\n", "data", "chunk", "lvl", "seal", "open",
	       "ratio", "zstd-c", "zstd-d");
	for (int k = 0; k < 2; k++) {
		r.plain = data[k];
		for (int c = 0; c < 2; c++) {
			r.chunk = sizes[c];
			if (seal_new(&r.s, r.chunk))
				return 1;
			for (int l = 0; l < 2; l++) {
				r.level = levels[l];
				report(&r, kinds[k], reps);
			}
			report_base(&r, kinds[k], reps);
			seal_free(&r.s);
		}
	}
	ZSTD_freeCCtx(r.cctx);
	ZSTD_freeDCtx(r.dctx);
	free(data[0]);
	free(data[1]);
	free(r.out);
	free(r.sealed);
	free(r.sealed_len);
	free(r.ids);
	if (failed)
		fprintf(stderr, "bench_seal: a pass failed (negative figure above)\n");
	return failed;
}
