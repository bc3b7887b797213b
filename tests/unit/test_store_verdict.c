/* The verdict history: transitions only, times clamped forward, a walk
 * that starts with the state at its start, pruning that keeps that state,
 * the cap per series, dropping a series or an owner, persistence, a few
 * hundred random operations against a model, damaged entries skipped with
 * -EIO and removed by prune, and the upgrade of a version-4 store. */
#define _XOPEN_SOURCE 700 /* nftw() */
#include <errno.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <lmdb.h>

#include "proto/error.h"
#include "store/store.h"
#include "rng.h"
#include "tap.h"

#define PATH_LEN 512
#define UP 1
#define DEGRADED 2
#define DOWN 3
#define ALL SIZE_MAX

static char dir[] = "/tmp/kith-test-store-verdict-XXXXXX";
static const uint8_t owner_a[PROTO_KEY_LEN] = {0x0a};
static const uint8_t owner_b[PROTO_KEY_LEN] = {0x0b};

#include "store_raw.h"

/* ---- helpers ---- */

/* A series as read back. */
struct got {
	size_t n;
	struct store_verdict v[STORE_VERDICT_SERIES_MAX + 8];
	int rc;
};

static struct got *got_read(struct store *s, const uint8_t owner[PROTO_KEY_LEN],
                            const char *service, uint64_t from)
{
	static struct got g;

	memset(&g, 0, sizeof(g));
	g.rc =
	    store_verdicts_read(s, owner, service, from, g.v, sizeof(g.v) / sizeof(g.v[0]), &g.n);
	return &g;
}

/* Does the series from from read exactly as the n pairs (at, verdict)? */
static bool series_is(struct store *s, const uint8_t owner[PROTO_KEY_LEN], const char *service,
                      uint64_t from, size_t n, const uint64_t *pairs)
{
	struct got *g = got_read(s, owner, service, from);

	if (g->rc != 0 || g->n != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (g->v[i].at != pairs[2 * i] || g->v[i].verdict != pairs[2 * i + 1])
			return false;
	return true;
}

static int append(struct store *s, const uint8_t owner[PROTO_KEY_LEN], const char *service,
                  uint64_t at, uint8_t verdict, bool *changed)
{
	return store_verdict_append(s, owner, service, at, verdict, changed);
}

/* The raw key of (owner, service, at) into key; returns its length. */
static size_t raw_key(uint8_t *key, const uint8_t owner[PROTO_KEY_LEN], const char *service,
                      uint64_t at)
{
	size_t n = strlen(service);

	memcpy(key, owner, PROTO_KEY_LEN);
	memcpy(key + PROTO_KEY_LEN, service, n);
	key[PROTO_KEY_LEN + n] = 0;
	for (int i = 0; i < 8; i++)
		key[PROTO_KEY_LEN + n + 1 + i] = (uint8_t)(at >> (56 - 8 * i));
	return PROTO_KEY_LEN + n + 9;
}

/* Writes schema version and deletes database drop (NULL: none). */
static int raw_rewind(const char *data, uint8_t version, const char *drop)
{
	const uint8_t v[4] = {0, 0, 0, version};
	struct raw r;
	MDB_dbi dbi;
	MDB_val k = {6, "schema"}, d = {4, (void *)v};
	int rc = raw_begin(&r, data);

	if (rc == 0 && drop) {
		rc = mdb_dbi_open(r.txn, drop, 0, &dbi);
		if (rc == 0)
			rc = mdb_drop(r.txn, dbi, 1);
	}
	if (rc == 0)
		rc = mdb_dbi_open(r.txn, "meta", 0, &dbi);
	if (rc == 0)
		rc = mdb_put(r.txn, dbi, &k, &d, 0);
	return raw_end(&r, rc == 0) || rc;
}

/* Entries in the verdicts database, or -1. */
static long raw_count(const char *data)
{
	struct raw r;
	MDB_dbi dbi;
	MDB_stat st;
	long n = -1;
	int rc = raw_begin(&r, data);

	if (rc == 0)
		rc = mdb_dbi_open(r.txn, "verdicts", 0, &dbi);
	if (rc == 0 && mdb_stat(r.txn, dbi, &st) == 0)
		n = (long)st.ms_entries;
	raw_end(&r, 0);
	return n;
}

/* ---- the API, one case at a time ---- */

static void test_append(struct store *s)
{
	char long_name[PROTO_SERVICE_NAME_MAX + 2];
	bool changed = true;

	is(append(s, owner_a, "web", 1000, 0, &changed), 0, "unknown on an empty series");
	ok(!changed, "is a no-op: the state before the first transition is unknown");
	ok(series_is(s, owner_a, "web", 0, 0, NULL), "nothing stored");
	is(append(s, owner_a, "web", 1000, UP, &changed), 0, "up at 1000");
	ok(changed, "a change");
	is(append(s, owner_a, "web", 1100, UP, &changed), 0, "up again at 1100");
	ok(!changed, "no change: a no-op");
	is(append(s, owner_a, "web", 1200, DOWN, &changed), 0, "down at 1200");
	ok(changed, "a change");
	ok(series_is(s, owner_a, "web", 0, 2, (const uint64_t[]){1000, UP, 1200, DOWN}),
	   "the transitions only, in order");

	is(append(s, owner_a, "web", 1150, DEGRADED, &changed), 0,
	   "a time before the last transition is accepted");
	ok(changed, "as a change");
	is(append(s, owner_a, "web", 1201, UP, &changed), 0, "and one at the clamped time");
	ok(series_is(s, owner_a, "web", 0, 4,
	             (const uint64_t[]){1000, UP, 1200, DOWN, 1201, DEGRADED, 1202, UP}),
	   "each clamped to a second after the last: order kept, keys unique");
	is(append(s, owner_a, "web", 1500, UP, &changed), 0, "the last verdict again, later");
	ok(!changed, "no-op");
	is(append(s, owner_a, "web", 1100, UP, &changed), 0, "and earlier");
	ok(!changed, "no-op too: the check comes before the clamp");

	is(append(s, owner_a, "web2", 1000, DOWN, NULL), 0, "web2: a series of its own");
	is(append(s, owner_a, "we", 1000, DEGRADED, NULL), 0, "we: another");
	is(append(s, owner_b, "web", 900, UP, NULL), 0, "web of another owner: another");
	ok(series_is(s, owner_a, "web2", 0, 1, (const uint64_t[]){1000, DOWN}), "web2 apart");
	ok(series_is(s, owner_a, "we", 0, 1, (const uint64_t[]){1000, DEGRADED}), "we apart");
	ok(series_is(s, owner_b, "web", 0, 1, (const uint64_t[]){900, UP}), "b's web apart");
	is(got_read(s, owner_a, "web", 0)->n, 4, "a's web unchanged by its neighbours");

	is(append(s, owner_a, "Web", 1, UP, NULL), KITH_EVALUE, "an upper-case name: KITH_EVALUE");
	is(append(s, owner_a, "", 1, UP, NULL), KITH_EVALUE, "an empty name: KITH_EVALUE");
	is(append(s, owner_a, "a/b", 1, UP, NULL), KITH_EVALUE, "a slash: KITH_EVALUE");
	memset(long_name, 'x', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = 0;
	is(append(s, owner_a, long_name, 1, UP, NULL), KITH_EVALUE, "64 characters: KITH_EVALUE");
	long_name[PROTO_SERVICE_NAME_MAX] = 0;
	is(append(s, owner_a, long_name, 1, UP, NULL), 0, "63 characters: the longest name");
	ok(series_is(s, owner_a, long_name, 0, 1, (const uint64_t[]){1, UP}), "read back");
	is(append(s, owner_a, "web", 2000, STORE_VERDICT_MAX + 1, NULL), KITH_EVALUE,
	   "a verdict past STORE_VERDICT_MAX: KITH_EVALUE");
	is(store_verdicts_since(s, owner_a, "no such", 0, NULL, NULL), KITH_EVALUE,
	   "a walk of a bad name: KITH_EVALUE");

	is(append(s, owner_b, "late", UINT64_MAX, UP, NULL), 0, "a transition at UINT64_MAX");
	is(append(s, owner_b, "late", 5, DOWN, &changed), KITH_EVALUE,
	   "nothing can come after it: KITH_EVALUE");
	ok(!changed, "not changed");
	ok(series_is(s, owner_b, "late", 0, 1, (const uint64_t[]){UINT64_MAX, UP}), "unchanged");
}

static int stop_at_second(void *arg, const struct store_verdict *v)
{
	int *calls = arg;

	(void)v;
	return ++*calls == 2 ? 7 : 0;
}

static void test_since(struct store *s)
{
	const uint64_t all[] = {100, UP, 200, DOWN, 300, UP};
	struct store_verdict out[2];
	size_t n = 9;
	int calls = 0;

	append(s, owner_a, "api", 100, UP, NULL);
	append(s, owner_a, "api", 200, DOWN, NULL);
	append(s, owner_a, "api", 300, UP, NULL);
	ok(series_is(s, owner_a, "api", 0, 3, all), "from 0: all");
	ok(series_is(s, owner_a, "api", 99, 3, all), "from before the first: all");
	ok(series_is(s, owner_a, "api", 100, 3, all), "from the first: all");
	ok(series_is(s, owner_a, "api", 150, 3, all), "from 150: the state at 150 (up, 100) first");
	ok(series_is(s, owner_a, "api", 200, 2, all + 2), "from 200: it gives the state itself");
	ok(series_is(s, owner_a, "api", 250, 2, all + 2), "from 250: down since 200, then up");
	ok(series_is(s, owner_a, "api", 1000, 1, all + 4), "from after the last: the last");
	ok(series_is(s, owner_a, "nothing", 0, 0, NULL), "an unknown series: empty");
	is(store_verdicts_since(s, owner_a, "api", 0, stop_at_second, &calls), 7,
	   "a callback's return stops the walk");
	is(calls, 2, "at the second transition");
	is(store_verdicts_read(s, owner_a, "api", 0, out, 2, &n), KITH_ETOOBIG,
	   "three into two: KITH_ETOOBIG");
	ok(n == 2 && out[0].at == 100 && out[1].at == 200, "the first two");
}

/* In a store of its own: prune goes over every series. */
static void test_prune(void)
{
	static const uint8_t o[PROTO_KEY_LEN] = {0x0d};
	char data[PATH_LEN];
	struct store *s = NULL;
	uint64_t removed = 9;
	bool more = true;

	if (open_fresh(&s, "prune", data) != 0) {
		ok(0, "open");
		return;
	}
	append(s, o, "p1", 100, UP, NULL);
	append(s, o, "p1", 200, DOWN, NULL);
	append(s, o, "p1", 300, UP, NULL);
	append(s, o, "p1", 400, DOWN, NULL);
	append(s, o, "p2", 150, UP, NULL);
	append(s, o, "p3", 500, UP, NULL);

	is(store_verdicts_prune(s, 350, 1, &removed, &more), 0, "prune before 350, one at most");
	is(removed, 1, "one removed");
	ok(more, "more due");
	is(store_verdicts_prune(s, 350, ALL, &removed, &more), 0, "prune the rest");
	is(removed, 1, "one more");
	ok(!more, "no more");
	ok(series_is(s, o, "p1", 0, 2, (const uint64_t[]){300, UP, 400, DOWN}),
	   "p1 keeps 300, the state at 350, and what follows");
	ok(series_is(s, o, "p2", 0, 1, (const uint64_t[]){150, UP}),
	   "p2's only transition gives its state: kept");
	ok(series_is(s, o, "p3", 0, 1, (const uint64_t[]){500, UP}), "p3 is later: kept");
	is(store_verdicts_prune(s, 350, ALL, &removed, &more), 0, "prune again");
	is(removed, 0, "nothing");
	is(store_verdicts_prune(s, 400, ALL, &removed, NULL), 0, "prune before 400");
	ok(removed >= 1, "300 goes: 400 gives the state at 400");
	ok(series_is(s, o, "p1", 0, 1, (const uint64_t[]){400, DOWN}), "p1 keeps 400");
	is(store_verdicts_prune(s, 350, 0, &removed, &more), 0, "max 0");
	is(removed, 0, "removes nothing");
	store_close(&s);
}

static void test_cap(struct store *s)
{
	const size_t extra = 10;
	size_t total = STORE_VERDICT_SERIES_MAX + extra;
	struct got *g;
	bool ok_all = true;

	for (size_t i = 0; i < total; i++)
		ok_all &= append(s, owner_a, "flap", 10000 + i, i % 2 ? DOWN : UP, NULL) == 0;
	ok(ok_all, "a flapping service: every append works");
	g = got_read(s, owner_a, "flap", 0);
	is(g->rc, 0, "read");
	is(g->n, STORE_VERDICT_SERIES_MAX, "the series holds STORE_VERDICT_SERIES_MAX");
	is(g->v[0].at, 10000 + extra, "the oldest went first");
	is(g->v[g->n - 1].at, 10000 + total - 1, "the newest is there");
	ok(series_is(s, owner_a, "web2", 0, 1, (const uint64_t[]){1000, DOWN}),
	   "the neighbouring series is untouched");
}

static void test_drop(struct store *s)
{
	uint64_t removed = 0;
	bool more = false;
	static const uint8_t o[PROTO_KEY_LEN] = {0x0e};

	append(s, o, "x1", 10, UP, NULL);
	append(s, o, "x1", 20, DOWN, NULL);
	append(s, o, "x2", 10, UP, NULL);
	append(s, o, "x3", 10, DOWN, NULL);
	is(store_verdict_drop(s, o, "x1", &removed), 0, "drop one series");
	is(removed, 2, "its two entries");
	ok(series_is(s, o, "x1", 0, 0, NULL), "gone");
	ok(series_is(s, o, "x2", 0, 1, (const uint64_t[]){10, UP}), "x2 stays");
	is(store_verdict_drop(s, o, "x1", &removed), 0, "drop it again");
	is(removed, 0, "nothing");
	is(store_verdict_drop(s, o, "X", &removed), KITH_EVALUE, "a bad name: KITH_EVALUE");
	is(store_verdicts_drop(s, o, 1, &removed, &more), 0, "drop the owner, one at a time");
	ok(removed == 1 && more, "one, more left");
	is(store_verdicts_drop(s, o, ALL, &removed, &more), 0, "the rest");
	ok(removed == 1 && !more, "the last one");
	ok(series_is(s, o, "x3", 0, 0, NULL), "the owner has no series left");
	ok(series_is(s, owner_b, "web", 0, 1, (const uint64_t[]){900, UP}),
	   "another owner keeps its own");
	is(store_verdicts_drop(s, o, ALL, &removed, &more), 0, "an owner with nothing");
	ok(removed == 0 && !more, "removes nothing");
}

static void test_api(void)
{
	char data[PATH_LEN];
	struct store *s = NULL;
	struct store_stats st;

	if (open_fresh(&s, "api", data) != 0) {
		ok(0, "open");
		return;
	}
	test_append(s);
	test_since(s);
	test_cap(s);
	test_drop(s);
	is(store_stats_get(s, &st), 0, "statistics");
	ok(st.used_bytes > 0, "count the verdicts' pages too");
	store_close(&s);

	is(store_open(&s, data, NULL), 0, "reopen");
	ok(series_is(s, owner_a, "web", 0, 4,
	             (const uint64_t[]){1000, UP, 1200, DOWN, 1201, DEGRADED, 1202, UP}),
	   "the history survived");
	is(got_read(s, owner_a, "flap", 0)->n, STORE_VERDICT_SERIES_MAX, "the capped one too");
	store_close(&s);
	is(store_open(&s, data, &(struct store_options){.read_only = true}), 0, "open read-only");
	ok(series_is(s, owner_b, "web", 0, 1, (const uint64_t[]){900, UP}), "a reader reads it");
	is(append(s, owner_b, "web", 2000, DOWN, NULL), -EROFS, "and cannot write: -EROFS");
	store_close(&s);
}

/* ---- random operations against a model ---- */

#define MODEL_SERIES 3
#define MODEL_MAX 512

struct model {
	size_t n;
	struct store_verdict v[MODEL_MAX];
};

static void model_append(struct model *m, uint64_t at, uint8_t verdict)
{
	uint8_t last = m->n ? m->v[m->n - 1].verdict : 0;

	if (verdict == last)
		return;
	if (m->n && at <= m->v[m->n - 1].at)
		at = m->v[m->n - 1].at + 1;
	if (m->n < MODEL_MAX)
		m->v[m->n++] = (struct store_verdict){at, verdict};
}

static void model_prune(struct model *m, uint64_t before)
{
	size_t keep = 0;

	/* the last transition at or before before, and all after it */
	while (keep + 1 < m->n && m->v[keep + 1].at <= before)
		keep++;
	memmove(m->v, m->v + keep, (m->n - keep) * sizeof(m->v[0]));
	m->n -= keep;
}

static bool model_matches(struct store *s, const char *name, const struct model *m, uint64_t from)
{
	struct got *g = got_read(s, owner_a, name, from);
	size_t start = 0;

	while (start + 1 < m->n && m->v[start + 1].at <= from)
		start++;
	if (m->n && m->v[start].at > from)
		start = 0; /* the series starts after from: all of it */
	if (g->rc != 0 || g->n != m->n - start)
		return false;
	for (size_t i = 0; i < g->n; i++)
		if (g->v[i].at != m->v[start + i].at || g->v[i].verdict != m->v[start + i].verdict)
			return false;
	return true;
}

static void test_model(void)
{
	static const char *const names[MODEL_SERIES] = {"m", "m1", "m-2"};
	static struct model model[MODEL_SERIES];
	char data[PATH_LEN];
	struct store *s = NULL;
	uint64_t clock = 1000000;
	bool good = true;
	size_t i;

	if (open_fresh(&s, "model", data) != 0) {
		ok(0, "open");
		return;
	}
	for (i = 0; i < 400 && good; i++) {
		size_t k = rng_next() % MODEL_SERIES;
		uint64_t r = rng_next() % 100;

		/* mostly forward, sometimes within the same second, sometimes
		 * back (a clock stepped back) */
		if (r < 70)
			clock += rng_next() % 600;
		else if (r >= 85 && r < 92)
			clock -= rng_next() % 300;
		if (r < 92) {
			uint8_t v = (uint8_t)(rng_next() % 4);

			good = append(s, owner_a, names[k], clock, v, NULL) == 0;
			model_append(&model[k], clock, v);
		} else {
			uint64_t before = clock - rng_next() % 20000;

			good = store_verdicts_prune(s, before, ALL, NULL, NULL) == 0;
			for (size_t j = 0; j < MODEL_SERIES; j++)
				model_prune(&model[j], before);
		}
		for (size_t j = 0; j < MODEL_SERIES && good; j++)
			good = model_matches(s, names[j], &model[j], 0) &&
			       model_matches(s, names[j], &model[j], clock - rng_next() % 5000);
	}
	ok(good, "400 random appends and prunes agree with the model");
	if (!good)
		printf("#   diverged at step %zu\n", i);
	store_close(&s);
}

/* ---- damage ---- */

static void test_damaged(void)
{
	uint8_t key[PROTO_KEY_LEN + PROTO_SERVICE_NAME_MAX + 9];
	char data[PATH_LEN];
	struct store *s = NULL;
	struct got *g;
	uint64_t removed = 0;
	bool changed = false;
	size_t n;

	if (open_fresh(&s, "damaged", data) != 0) {
		ok(0, "open");
		return;
	}
	append(s, owner_a, "svc", 100, UP, NULL);
	append(s, owner_a, "svc", 200, DOWN, NULL);
	append(s, owner_a, "svc", 400, UP, NULL);
	store_close(&s);
	n = raw_key(key, owner_a, "svc", 300);
	raw_put(data, "verdicts", key, n, "\x01\x02", 2); /* two bytes */
	n = raw_key(key, owner_a, "svc", 350);
	raw_put(data, "verdicts", key, n, "\x09", 1); /* no such verdict */
	n = raw_key(key, owner_a, "svc", 500);
	raw_put(data, "verdicts", key, n, "", 0); /* empty, and the last */
	n = raw_key(key, owner_a, "svc", 0);
	raw_put(data, "verdicts", key, n - 3, "\x01", 1); /* a key cut short */
	raw_put(data, "verdicts", "junk", 4, "\x01", 1);  /* not a series' key */
	is(raw_count(data), 8, "three good entries and five damaged ones");

	if (store_open(&s, data, NULL) != 0) {
		ok(0, "reopen");
		return;
	}
	g = got_read(s, owner_a, "svc", 0);
	is(g->rc, -EIO, "a walk over damage: -EIO");
	ok(g->n == 3 && g->v[0].at == 100 && g->v[1].at == 200 && g->v[2].at == 400,
	   "after handing out the good entries, in order");
	g = got_read(s, owner_a, "svc", 360);
	is(g->rc, -EIO, "from 360: -EIO");
	ok(g->n == 2 && g->v[0].at == 200 && g->v[0].verdict == DOWN && g->v[1].at == 400,
	   "the state at 360 from the last good entry before it (200: down)");
	g = got_read(s, owner_a, "svc", 450);
	ok(g->rc == -EIO && g->n == 1 && g->v[0].at == 400,
	   "from 450: 400, the damaged 500 skipped");

	is(append(s, owner_a, "svc", 600, UP, &changed), 0, "append over a damaged last entry");
	ok(!changed, "up is the last good verdict: a no-op");
	is(append(s, owner_a, "svc", 450, DOWN, &changed), 0, "down at 450");
	ok(changed, "a change");
	g = got_read(s, owner_a, "svc", 0);
	ok(g->n == 4 && g->v[3].at == 501 && g->v[3].verdict == DOWN,
	   "clamped past the damaged entry's time");

	is(store_verdicts_prune(s, 0, ALL, &removed, NULL), 0, "prune before 0");
	is(removed, 5, "removes the five damaged entries, nothing good");
	g = got_read(s, owner_a, "svc", 0);
	is(g->rc, 0, "the walk is clean again");
	ok(g->n == 4 && g->v[0].at == 100 && g->v[1].at == 200 && g->v[2].at == 400 &&
	       g->v[3].at == 501,
	   "with every good entry");
	store_close(&s);
}

/* ---- the upgrade from version 4 ---- */

static void test_upgrade_v4(void)
{
	static const uint8_t d[3] = {1, 2, 3};
	char data[PATH_LEN];
	struct store *s = NULL;
	uint8_t *got = NULL;
	size_t len = 0;

	if (open_fresh(&s, "upgrade-v4", data) != 0) {
		ok(0, "open for the upgrade test");
		return;
	}
	is(STORE_SCHEMA_VERSION, 5, "the current version is 5");
	store_shard_put(s, owner_a, "old", d, 3, UINT64_MAX, UINT64_MAX, NULL);
	store_hold_reserve(s, owner_a, "held", 10, UINT64_MAX, UINT64_MAX, 1, NULL);
	store_close(&s);
	is(raw_rewind(data, 4, "verdicts"), 0, "rewind it to the version-4 layout");
	is(raw_count(data), -1, "no verdicts database");
	is(store_open(&s, data, &(struct store_options){.read_only = true}), KITH_ESCHEMA,
	   "a reader refuses it (only kithd upgrades)");
	is(raw_schema(data), 4, "and leaves it at version 4");
	is(store_open(&s, data, NULL), 0, "open the version-4 store");
	is(raw_schema(data), 5, "it is version 5 now");
	is(raw_count(data), 0, "with an empty verdicts database");
	is(store_shard_get(s, owner_a, "old", &got, &len), 0, "the shard is there");
	ok(got && len == 3 && memcmp(got, d, 3) == 0, "unchanged");
	ok(store_hold_get(s, owner_a, "held", &(struct store_hold){0}) == 0, "the hold too");
	is(append(s, owner_a, "web", 10, UP, NULL), 0, "a verdict can be recorded");
	store_close(&s);
	is(store_open(&s, data, &(struct store_options){.read_only = true}), 0,
	   "a reader opens the version-5 store");
	ok(series_is(s, owner_a, "web", 0, 1, (const uint64_t[]){10, UP}), "and reads it");
	store_close(&s);

	/* A version-4 store cannot have verdicts: one that does is damaged,
	 * and the upgrade leaves it alone. */
	is(raw_rewind(data, 4, NULL), 0, "version 4 with verdicts left over");
	is(store_open(&s, data, NULL), -EIO, "open: -EIO");
	ok(s == NULL, "no store");
	is(raw_schema(data), 4, "still version 4: the upgrade was not committed");

	/* A version-5 store without verdicts is damaged too. */
	is(raw_rewind(data, 5, "verdicts"), 0, "version 5 without verdicts");
	is(store_open(&s, data, NULL), -EIO, "open: -EIO");
	is(store_open(&s, data, &(struct store_options){.read_only = true}), -EIO,
	   "read-only: -EIO");

	/* Back to version 4 (verdicts dropped above): upgraded again. */
	is(raw_rewind(data, 4, NULL), 0, "version 4 again");
	is(store_open(&s, data, NULL), 0, "upgrades");
	is(raw_schema(data), 5, "version 5");
	store_close(&s);
	free(got);
}

int main(void)
{
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	test_api();
	test_prune();
	test_model();
	test_damaged();
	test_upgrade_v4();
	rm_tree(dir);
	return tap_done();
}
