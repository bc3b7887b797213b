/* Records: sign, verify, store.
 *
 * Generates N records signed by several identities (bodies of 150-250
 * bytes) and measures, in one run and over the same records:
 *   (a) raw crypto_sign_verify_detached() over the exact signed messages
 *       (domain prefix || signed bytes): the floor set by Ed25519 alone;
 *   (b) store_records_put() in batches into a fresh store: decode, verify,
 *       time check and LMDB writes with a synced commit per batch;
 *   (c) proto_record_sign().
 * Each is repeated and the median printed; (b)/(a) says what the store
 * costs on top of the signature checks. docs/benchmarks.md has figures.
 *
 * bench_records [-n records] [-t trials] [-b batch] [-a authors] [-d dir] */
#define _XOPEN_SOURCE 700 /* nftw() */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "proto/error.h"
#include "proto/identity.h"
#include "proto/record.h"
#include "store/store.h"
#include "bench.h"
#include "../unit/rm_tree.h"

#define TRIALS_MAX 101
#define PATH_LEN 512

struct options {
	size_t n;
	int trials;
	size_t batch;
	size_t authors;
	const char *tmp;
};

struct corpus {
	struct proto_identity **ids;
	struct mp_buf *recs; /* encoded records */
	uint8_t **msgs;      /* domain || signed bytes, for (a) */
	size_t *msg_lens;
	const uint8_t **sigs; /* into recs */
	const uint8_t **pks;  /* into ids */
	uint64_t now;
	size_t body_bytes;
};

static int usage(void)
{
	fprintf(stderr, "usage: bench_records [-n records] [-t trials] [-b batch] [-a authors] "
	                "[-d tmpdir]\n");
	return 2;
}

static int parse_options(struct options *o, int argc, char **argv)
{
	int c;

	*o = (struct options){.n = 20000, .trials = 5, .batch = 1000, .authors = 8};
	o->tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	while ((c = getopt(argc, argv, "n:t:b:a:d:")) != -1) {
		switch (c) {
		case 'n':
			o->n = strtoul(optarg, NULL, 10);
			break;
		case 't':
			o->trials = atoi(optarg);
			break;
		case 'b':
			o->batch = strtoul(optarg, NULL, 10);
			break;
		case 'a':
			o->authors = strtoul(optarg, NULL, 10);
			break;
		case 'd':
			o->tmp = optarg;
			break;
		default:
			return usage();
		}
	}
	if (o->n == 0 || o->trials < 1 || o->trials > TRIALS_MAX || o->batch == 0 ||
	    o->authors == 0 || optind != argc)
		return usage();
	return 0;
}

/* The fields of record i; the body comes from a pseudo-random pool. */
static void record_fields(struct proto_record *in, const struct corpus *c, size_t i, size_t authors,
                          const uint8_t *pool)
{
	*in = (struct proto_record){.kind = (uint8_t)(1 + i % 7), .seq = i / authors + 1};
	snprintf(in->name, sizeof(in->name), "bench-%zu", i);
	in->issued = c->now;
	in->expires = c->now + 86400;
	in->body = pool + (i * 37) % 256;
	in->body_len = 150 + (i * 7919) % 101;
}

/* (c): signs every record; keeps them for (a) and (b). */
static int sign_all(struct corpus *c, const struct options *o, const uint8_t *pool, double *rate)
{
	struct proto_record in;
	double t0 = bench_clock_s();
	int rc;

	c->body_bytes = 0;
	for (size_t i = 0; i < o->n; i++) {
		record_fields(&in, c, i, o->authors, pool);
		c->recs[i].len = 0;
		rc = proto_record_sign(&c->recs[i], c->ids[i % o->authors], &in);
		if (rc)
			return rc;
		c->body_bytes += in.body_len;
	}
	*rate = (double)o->n / (bench_clock_s() - t0);
	return 0;
}

/* Builds the messages raw verification checks: what the record signs. */
static int prepare_raw(struct corpus *c, const struct options *o)
{
	struct proto_record rec;

	for (size_t i = 0; i < o->n; i++) {
		int rc = proto_record_decode(&rec, c->recs[i].data, c->recs[i].len);
		if (rc)
			return rc;
		free(c->msgs[i]);
		c->msg_lens[i] = PROTO_RECORD_DOMAIN_LEN + rec.signed_len;
		c->msgs[i] = malloc(c->msg_lens[i]);
		if (!c->msgs[i])
			return -ENOMEM;
		memcpy(c->msgs[i], PROTO_RECORD_DOMAIN, PROTO_RECORD_DOMAIN_LEN);
		memcpy(c->msgs[i] + PROTO_RECORD_DOMAIN_LEN, rec.signed_bytes, rec.signed_len);
		c->sigs[i] = rec.sig;
		c->pks[i] = c->ids[i % o->authors]->pk;
	}
	return 0;
}

/* (a) */
static int verify_raw(const struct corpus *c, size_t n, double *rate)
{
	double t0 = bench_clock_s();

	for (size_t i = 0; i < n; i++)
		if (crypto_sign_verify_detached(c->sigs[i], c->msgs[i], c->msg_lens[i],
		                                c->pks[i]) != 0)
			return KITH_EBADSIG;
	*rate = (double)n / (bench_clock_s() - t0);
	return 0;
}

/* Stores one batch and checks every record went in as new. */
static int put_batch(struct store *s, const struct corpus *c, size_t from, size_t n,
                     struct store_item *items)
{
	int rc;

	for (size_t i = 0; i < n; i++)
		items[i] = (struct store_item){.buf = c->recs[from + i].data,
		                               .len = c->recs[from + i].len};
	rc = store_records_put(s, items, n, c->now);
	for (size_t i = 0; i < n && rc == 0; i++)
		if (items[i].err || items[i].result != STORE_PUT_NEW)
			rc = items[i].err ? items[i].err : -EINVAL;
	return rc;
}

/* (b): into a fresh store, so every trial does the same work. */
static int store_all(const struct corpus *c, const struct options *o, double *rate)
{
	char dir[PATH_LEN];
	struct store_item *items = calloc(o->batch, sizeof(*items));
	struct store *s = NULL;
	double t0;
	int rc;

	if (!items)
		return -ENOMEM;
	if (snprintf(dir, sizeof(dir), "%s/kith-bench-XXXXXX", o->tmp) >= (int)sizeof(dir) ||
	    !mkdtemp(dir)) {
		free(items);
		return -errno;
	}
	rc = store_open(&s, dir, NULL);
	t0 = bench_clock_s();
	for (size_t i = 0; i < o->n && rc == 0; i += o->batch)
		rc = put_batch(s, c, i, o->n - i < o->batch ? o->n - i : o->batch, items);
	*rate = (double)o->n / (bench_clock_s() - t0);
	store_close(&s);
	rm_tree(dir);
	free(items);
	return rc;
}

static int corpus_init(struct corpus *c, const struct options *o)
{
	c->now = (uint64_t)time(NULL);
	c->ids = calloc(o->authors, sizeof(*c->ids));
	c->recs = calloc(o->n, sizeof(*c->recs));
	c->msgs = calloc(o->n, sizeof(*c->msgs));
	c->msg_lens = calloc(o->n, sizeof(*c->msg_lens));
	c->sigs = calloc(o->n, sizeof(*c->sigs));
	c->pks = calloc(o->n, sizeof(*c->pks));
	if (!c->ids || !c->recs || !c->msgs || !c->msg_lens || !c->sigs || !c->pks)
		return -ENOMEM;
	for (size_t i = 0; i < o->authors; i++) {
		int rc = proto_identity_generate(&c->ids[i]);
		if (rc)
			return rc;
	}
	return 0;
}

static void corpus_free(struct corpus *c, const struct options *o)
{
	for (size_t i = 0; c->ids && i < o->authors; i++)
		proto_identity_free(&c->ids[i]);
	for (size_t i = 0; i < o->n; i++) {
		if (c->recs)
			mp_buf_free(&c->recs[i]);
		if (c->msgs)
			free(c->msgs[i]);
	}
	free(c->ids);
	free(c->recs);
	free(c->msgs);
	free(c->msg_lens);
	free(c->sigs);
	free(c->pks);
}

static void print_table(const struct options *o, const struct corpus *c, double a, double b,
                        double sign, double ratio)
{
	printf("records: n=%zu, %zu authors, bodies 150-250 bytes (mean %.0f), "
	       "batch %zu, median of %d trials\n",
	       o->n, o->authors, (double)c->body_bytes / (double)o->n, o->batch, o->trials);
	printf("%-44s %12s %10s\n", "step", "records/s", "us/record");
	printf("%-44s %12.0f %10.2f\n", "(a) crypto_sign_verify_detached (raw)", a, 1e6 / a);
	printf("%-44s %12.0f %10.2f\n", "(b) store_records_put (decode+verify+store)", b, 1e6 / b);
	printf("%-44s %12.0f %10.2f\n", "(c) proto_record_sign", sign, 1e6 / sign);
	printf("ratio (b)/(a): %.1f%% of the medians, %.1f%% median of the trials' ratios\n",
	       100.0 * b / a, 100.0 * ratio);
}

int main(int argc, char **argv)
{
	static double a[TRIALS_MAX], b[TRIALS_MAX], sign[TRIALS_MAX], ratio[TRIALS_MAX];
	struct options o;
	struct corpus c = {0};
	uint8_t pool[512];
	int rc;

	rc = parse_options(&o, argc, argv);
	if (rc)
		return rc;
	if (sodium_init() < 0)
		return 1;
	randombytes_buf(pool, sizeof(pool));
	rc = corpus_init(&c, &o);
	for (int t = 0; t < o.trials && rc == 0; t++) {
		rc = sign_all(&c, &o, pool, &sign[t]);
		if (rc == 0)
			rc = prepare_raw(&c, &o);
		if (rc == 0)
			rc = verify_raw(&c, o.n, &a[t]);
		if (rc == 0)
			rc = store_all(&c, &o, &b[t]);
		if (rc == 0) {
			ratio[t] = b[t] / a[t];
			printf("trial %d: (a) %.0f/s  (b) %.0f/s  (c) %.0f/s  (b)/(a) %.1f%%\n",
			       t + 1, a[t], b[t], sign[t], 100.0 * ratio[t]);
		}
	}
	if (rc == 0)
		print_table(&o, &c, bench_median(a, o.trials), bench_median(b, o.trials),
		            bench_median(sign, o.trials), bench_median(ratio, o.trials));
	else
		fprintf(stderr, "bench_records: %s\n", proto_strerror(rc));
	corpus_free(&c, &o);
	return rc ? 1 : 0;
}
