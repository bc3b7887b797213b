/* Holds, the index of shards kept as files: quota reserved before bytes
 * flow, commit, release, one usage shared with the old shards and exact
 * through a few hundred random operations checked against a model, the
 * reserved holds of a crashed put dropped at start, grace periods and
 * their end, damaged values ending in -EIO and drop repairing, and the
 * upgrade of a version-3 store to the current version. */
#define _XOPEN_SOURCE 700 /* nftw() */
#include <errno.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <lmdb.h>

#include "proto/error.h"
#include "store/store.h"
#include "rng.h"
#include "tap.h"

#define PATH_LEN 512
#define COST(len, name) ((uint64_t)(len) + strlen(name) + STORE_SHARD_OVERHEAD)
#define NO_LIMIT UINT64_MAX

static char dir[] = "/tmp/kith-test-store-hold-XXXXXX";
static uint64_t now;
static const uint8_t owner_a[PROTO_KEY_LEN] = {0x0a};
static const uint8_t owner_b[PROTO_KEY_LEN] = {0x0b};
static const uint8_t owner_c[PROTO_KEY_LEN] = {0x0c};
static const uint8_t hash1[STORE_HOLD_HASH_LEN] = {1, 2, 3, 4};

#include "store_raw.h"

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

/* ---- checks ---- */

static bool usage_is(struct store *s, const uint8_t owner[PROTO_KEY_LEN], uint64_t bytes,
                     uint64_t count)
{
	uint64_t b = 1, c = 1;

	return store_shard_usage(s, owner, &b, &c) == 0 && b == bytes && c == count;
}

static bool hold_is(struct store *s, const uint8_t owner[PROTO_KEY_LEN], const char *name,
                    enum store_hold_state state, uint64_t size)
{
	struct store_hold h;

	return store_hold_get(s, owner, name, &h) == 0 && h.state == state && h.size == size;
}

/* What a walk saw. */
struct seen {
	unsigned n;
	char names[16][STORE_SHARD_NAME_MAX + 1];
	uint8_t owners[16][PROTO_KEY_LEN];
	struct store_hold holds[16];
	int stop_at; /* stop (return 7) at this call; 0: never */
};

static int see(void *arg, const uint8_t owner[PROTO_KEY_LEN], const char *name,
               const struct store_hold *h)
{
	struct seen *w = arg;

	if (w->n < 16) {
		snprintf(w->names[w->n], sizeof(w->names[0]), "%s", name);
		memcpy(w->owners[w->n], owner, PROTO_KEY_LEN);
		w->holds[w->n] = *h;
	}
	w->n++;
	return w->stop_at && (int)w->n == w->stop_at ? 7 : 0;
}

/* ---- the API, one case at a time ---- */

static void test_reserve(struct store *s)
{
	static const uint8_t data[10] = {0};
	const uint64_t quota = COST(1000, "h1") + COST(500, "h2");
	struct store_hold h;
	uint64_t used = 0;

	is(store_hold_reserve(s, owner_a, "h1", 1000, quota, NO_LIMIT, now, &used), 0,
	   "reserve within quota");
	is(used, COST(1000, "h1"), "its size, name and overhead used");
	is(store_hold_get(s, owner_a, "h1", &h), 0, "get");
	ok(h.state == STORE_HOLD_RESERVED && h.size == 1000 && h.created == now &&
	       h.grace_until == 0,
	   "reserved, with its size and time");
	ok(h.hash[0] == 0 && h.hash[31] == 0, "no hash yet");
	ok(usage_is(s, owner_a, COST(1000, "h1"), 1), "usage counts it before any byte");

	is(store_hold_reserve(s, owner_a, "h2", 501, quota, NO_LIMIT, now, &used), KITH_EQUOTA,
	   "one byte over quota: KITH_EQUOTA");
	is(used, COST(1000, "h1"), "used says what is used");
	is(store_hold_get(s, owner_a, "h2", &h), -ENOENT, "nothing reserved");
	ok(usage_is(s, owner_a, COST(1000, "h1"), 1), "usage untouched");
	is(store_hold_reserve(s, owner_a, "h2", 500, quota, NO_LIMIT, now, &used), 0,
	   "exactly up to quota");
	is(used, quota, "the quota is used up");
	is(store_hold_reserve(s, owner_a, "h3", 0, quota, NO_LIMIT, now, &used), KITH_EQUOTA,
	   "even an empty one costs its name and overhead");

	is(store_hold_reserve(s, owner_a, "h1", 1, UINT64_MAX, NO_LIMIT, now, &used), -EEXIST,
	   "a reserved name: -EEXIST");
	is(store_hold_commit(s, owner_a, "h1", hash1), 0, "commit h1");
	is(store_hold_reserve(s, owner_a, "h1", 1, UINT64_MAX, NO_LIMIT, now, &used), -EEXIST,
	   "a kept name: -EEXIST");
	is(store_shard_put(s, owner_a, "legacy", data, 10, UINT64_MAX, NO_LIMIT, NULL), 0,
	   "an old-style shard");
	is(store_hold_reserve(s, owner_a, "legacy", 1, UINT64_MAX, NO_LIMIT, now, &used), -EEXIST,
	   "a hold named as a shard: -EEXIST");
	is(store_shard_put(s, owner_a, "h2", data, 10, UINT64_MAX, NO_LIMIT, NULL), -EEXIST,
	   "a shard named as a hold: -EEXIST");
	ok(usage_is(s, owner_a, quota + COST(10, "legacy"), 3), "one usage counts both kinds");
	is(store_hold_reserve(s, owner_b, "h1", 1, UINT64_MAX, NO_LIMIT, now, &used), 0,
	   "the same name of another owner is another hold");

	is(store_hold_reserve(s, owner_a, "", 1, UINT64_MAX, NO_LIMIT, now, &used), KITH_EVALUE,
	   "empty name: KITH_EVALUE");
	char long_name[STORE_SHARD_NAME_MAX + 2];
	memset(long_name, 'x', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = 0;
	is(store_hold_reserve(s, owner_a, long_name, 1, UINT64_MAX, NO_LIMIT, now, &used),
	   KITH_ETOOBIG, "name one byte too long: KITH_ETOOBIG");
	long_name[STORE_SHARD_NAME_MAX] = 0;
	is(store_hold_reserve(s, owner_c, long_name, 1, UINT64_MAX, NO_LIMIT, now, &used), 0,
	   "the longest name");
	is(used, COST(1, long_name), "costs its length");
	is(store_hold_reserve(s, owner_c, "huge", STORE_HOLD_SIZE_MAX + 1, UINT64_MAX, NO_LIMIT,
	                      now, &used),
	   KITH_ETOOBIG, "a size over STORE_HOLD_SIZE_MAX: KITH_ETOOBIG");
	is(store_hold_reserve(s, owner_c, "huge", STORE_HOLD_SIZE_MAX, UINT64_MAX, NO_LIMIT, now,
	                      &used),
	   0, "STORE_HOLD_SIZE_MAX under an unlimited quota");
	is(store_hold_reserve(s, owner_c, "more", STORE_HOLD_SIZE_MAX, UINT64_MAX, NO_LIMIT, now,
	                      &used),
	   KITH_EQUOTA, "twice that passes even UINT64_MAX, without overflow");
	is(store_hold_release(s, owner_c, "huge", &used), 0, "release it");
	is(used, COST(1, long_name), "back to the long name's cost");
}

static void test_count(struct store *s)
{
	static const uint8_t data[4] = {0};
	uint64_t used = 0;

	is(store_shard_put(s, owner_b, "k1", data, 4, NO_LIMIT, 3, NULL), 0,
	   "b: a shard beside its hold");
	is(store_hold_reserve(s, owner_b, "k2", 4, NO_LIMIT, 3, now, &used), 0,
	   "b: a third entry within a count of 3");
	is(store_hold_reserve(s, owner_b, "k3", 4, NO_LIMIT, 3, now, &used), KITH_ETOOMANY,
	   "a fourth hold: KITH_ETOOMANY");
	is(used, COST(1, "h1") + COST(4, "k1") + COST(4, "k2"), "used says what is used");
	is(store_shard_put(s, owner_b, "k3", data, 4, NO_LIMIT, 3, NULL), KITH_ETOOMANY,
	   "a fourth shard: the holds count too");
	is(store_shard_put(s, owner_b, "k1", data, 2, NO_LIMIT, 3, NULL), 0,
	   "replacing a shard is not refused for the count");
	is(store_hold_reserve(s, owner_b, "k3", 4, NO_LIMIT, 0, now, &used), KITH_ETOOMANY,
	   "max_count 0: none allowed");
	ok(usage_is(s, owner_b, COST(1, "h1") + COST(2, "k1") + COST(4, "k2"), 3), "b exact");
}

static void test_commit_release(struct store *s)
{
	static const uint8_t other[STORE_HOLD_HASH_LEN] = {9};
	struct store_hold h;
	uint64_t used = 0, before, count;

	is(store_hold_get(s, owner_a, "h1", &h), 0, "get the committed h1");
	ok(h.state == STORE_HOLD_KEPT && memcmp(h.hash, hash1, sizeof(hash1)) == 0,
	   "kept with its hash");
	is(store_hold_commit(s, owner_a, "h1", other), KITH_EVALUE,
	   "commit of a kept hold: KITH_EVALUE");
	is(store_hold_get(s, owner_a, "h1", &h), 0, "get again");
	ok(memcmp(h.hash, hash1, sizeof(hash1)) == 0, "the hash did not change");
	is(store_hold_commit(s, owner_a, "nope", hash1), -ENOENT, "commit of nothing: -ENOENT");
	is(store_hold_commit(s, owner_a, "legacy", hash1), -ENOENT,
	   "commit of a shard's name: -ENOENT");
	is(store_hold_commit(s, owner_a, "", hash1), KITH_EVALUE, "commit, empty name");

	store_shard_usage(s, owner_a, &before, &count);
	is(store_hold_release(s, owner_a, "h2", &used), 0, "release a reserved hold");
	is(used, before - COST(500, "h2"), "its cost is freed");
	is(store_hold_get(s, owner_a, "h2", &h), -ENOENT, "it is gone");
	is(store_hold_release(s, owner_a, "h1", &used), 0, "release a kept hold");
	is(used, COST(10, "legacy"), "only the shard is left");
	ok(usage_is(s, owner_a, COST(10, "legacy"), 1), "usage exact");
	is(store_hold_release(s, owner_a, "h1", &used), -ENOENT, "release twice: -ENOENT");
	is(store_hold_release(s, owner_a, "legacy", &used), -ENOENT,
	   "release of a shard's name: -ENOENT");
	ok(usage_is(s, owner_a, COST(10, "legacy"), 1), "usage still exact");
	is(store_shard_del(s, owner_a, "legacy", &used), 0, "delete the shard");
	ok(usage_is(s, owner_a, 0, 0), "a uses nothing");
	is(store_hold_reserve(s, owner_a, "h2", 7, 1000, NO_LIMIT, now, &used), 0,
	   "a released name can be reserved again");
	is(store_hold_release(s, owner_a, "h2", NULL), 0, "and released; used may be NULL");
}

static void test_each(struct store *s)
{
	struct seen w = {0};

	store_hold_reserve(s, owner_a, "b", 2, NO_LIMIT, NO_LIMIT, now, NULL);
	store_hold_reserve(s, owner_a, "a", 1, NO_LIMIT, NO_LIMIT, now, NULL);
	store_hold_commit(s, owner_a, "b", hash1);
	is(store_holds_each(s, owner_a, see, &w), 0, "walk a's holds");
	ok(w.n == 2 && !strcmp(w.names[0], "a") && !strcmp(w.names[1], "b"), "in name order");
	ok(w.holds[0].state == STORE_HOLD_RESERVED && w.holds[1].state == STORE_HOLD_KEPT &&
	       w.holds[1].size == 2,
	   "with their values");
	memset(&w, 0, sizeof(w));
	is(store_holds_each(s, NULL, see, &w), 0, "walk every owner's");
	ok(w.n == 5 && !memcmp(w.owners[0], owner_a, PROTO_KEY_LEN) &&
	       !memcmp(w.owners[2], owner_b, PROTO_KEY_LEN) &&
	       !memcmp(w.owners[4], owner_c, PROTO_KEY_LEN),
	   "a's, b's (h1, k2), then c's");
	memset(&w, 0, sizeof(w));
	w.stop_at = 2;
	is(store_holds_each(s, NULL, see, &w), 7, "a non-zero return stops the walk");
	is(w.n, 2, "after two");
	memset(&w, 0, sizeof(w));
	is(store_holds_each(s, (const uint8_t[PROTO_KEY_LEN]){0x0d}, see, &w), 0,
	   "an owner with none");
	is(w.n, 0, "nothing seen");
}

static void test_grace(struct store *s)
{
	struct seen w = {0};
	uint64_t marked = 9, used;
	struct store_hold h;

	is(store_hold_grace(s, owner_a, now + 100, &marked), 0, "a's grant ended: grace");
	is(marked, 2, "both of a's holds marked (the reserved one too)");
	is(store_hold_get(s, owner_a, "b", &h), 0, "get b");
	ok(h.grace_until == now + 100 && h.state == STORE_HOLD_KEPT &&
	       !memcmp(h.hash, hash1, sizeof(hash1)),
	   "b kept until then, hash unchanged");
	ok(hold_is(s, owner_b, "h1", STORE_HOLD_RESERVED, 1), "b's holds untouched");
	is(store_hold_get(s, owner_b, "h1", &h), 0, "get b's h1");
	is(h.grace_until, 0, "not in grace");
	is(store_hold_grace(s, owner_a, now + 100, &marked), 0, "grace again, same time");
	is(marked, 0, "nothing changed");
	is(store_hold_commit(s, owner_a, "a", hash1), 0, "a put in flight commits");
	is(store_hold_get(s, owner_a, "a", &h), 0, "get a");
	ok(h.state == STORE_HOLD_KEPT && h.grace_until == now + 100, "into the grace period");

	is(store_holds_expired(s, now + 100, see, &w), 0, "expired at the end of grace");
	is(w.n, 0, "none yet (until is still inside)");
	is(store_holds_expired(s, now + 101, see, &w), 0, "expired after it");
	ok(w.n == 2 && !strcmp(w.names[0], "a") && !strcmp(w.names[1], "b") &&
	       !memcmp(w.owners[0], owner_a, PROTO_KEY_LEN),
	   "a's two holds, by name");
	memset(&w, 0, sizeof(w));
	w.stop_at = 1;
	is(store_holds_expired(s, now + 101, see, &w), 7, "the walk stops on request");

	is(store_hold_grace(s, owner_a, 0, &marked), 0, "a new grant: grace ends");
	is(marked, 2, "both cleared");
	memset(&w, 0, sizeof(w));
	is(store_holds_expired(s, UINT64_MAX, see, &w), 0, "expired, any time");
	is(w.n, 0, "none");
	is(store_hold_grace(s, owner_c, now + 5, NULL), 0, "c in grace; marked may be NULL");
	memset(&w, 0, sizeof(w));
	store_holds_expired(s, now + 6, see, &w);
	ok(w.n == 1 && !memcmp(w.owners[0], owner_c, PROTO_KEY_LEN), "c's one hold expires");
	is(store_hold_release(s, owner_c, w.names[0], &used), 0, "released after its grace");
	ok(usage_is(s, owner_c, 0, 0), "c uses nothing");
}

static void test_api(void)
{
	char data[PATH_LEN];
	struct store *s = NULL;

	if (open_fresh(&s, "api", data) != 0) {
		ok(0, "open for the API tests");
		return;
	}
	test_reserve(s);
	test_count(s);
	test_commit_release(s);
	test_each(s);
	test_grace(s);
	store_close(&s);
	is(store_open(&s, data, &(struct store_options){.read_only = true}), 0, "open read-only");
	ok(hold_is(s, owner_a, "b", STORE_HOLD_KEPT, 2), "a reader reads holds");
	is(store_hold_reserve(s, owner_a, "z", 1, NO_LIMIT, NO_LIMIT, now, NULL), -EROFS,
	   "but never writes them");
	is(store_holds_drop_reserved(s, NULL), -EROFS, "nor drops them");
	store_close(&s);
}

/* ---- the crash of a put ---- */

static void test_crash(void)
{
	char data[PATH_LEN];
	struct store *s = NULL;
	uint64_t released = 9, used;
	struct store_hold h;
	static const uint8_t d[3] = {1, 2, 3};

	if (open_fresh(&s, "crash", data) != 0) {
		ok(0, "open for the crash test");
		return;
	}
	store_shard_put(s, owner_a, "old", d, 3, NO_LIMIT, NO_LIMIT, NULL);
	store_hold_reserve(s, owner_a, "kept", 100, NO_LIMIT, NO_LIMIT, now, NULL);
	store_hold_commit(s, owner_a, "kept", hash1);
	store_hold_reserve(s, owner_a, "cut", 5000, NO_LIMIT, NO_LIMIT, now, NULL);
	store_hold_reserve(s, owner_a, "cut2", 7, NO_LIMIT, NO_LIMIT, now, NULL);
	store_hold_reserve(s, owner_b, "cut", 50, NO_LIMIT, NO_LIMIT, now, NULL);
	store_hold_reserve(s, owner_c, "kept", 1, NO_LIMIT, NO_LIMIT, now, NULL);
	store_hold_commit(s, owner_c, "kept", hash1);
	/* the process dies here: no commit, no release */
	store_close(&s);
	is(store_open(&s, data, NULL), 0, "reopen after the crash");
	ok(usage_is(s, owner_a,
	            COST(3, "old") + COST(100, "kept") + COST(5000, "cut") + COST(7, "cut2"), 4),
	   "the cut puts still count");
	is(store_holds_drop_reserved(s, &released), 0, "drop the reserved holds");
	is(released, 3, "three of them, of two owners");
	ok(usage_is(s, owner_a, COST(3, "old") + COST(100, "kept"), 2), "a exact");
	ok(usage_is(s, owner_b, 0, 0), "b uses nothing, its entry gone");
	ok(usage_is(s, owner_c, COST(1, "kept"), 1), "c untouched");
	ok(hold_is(s, owner_a, "kept", STORE_HOLD_KEPT, 100), "kept holds stay");
	is(store_hold_get(s, owner_a, "cut", &h), -ENOENT, "cut is gone");
	is(store_holds_drop_reserved(s, &released), 0, "again");
	is(released, 0, "nothing left to drop");
	is(store_hold_reserve(s, owner_a, "cut", 10, NO_LIMIT, NO_LIMIT, now, &used), 0,
	   "the put is run again");
	is(used, COST(3, "old") + COST(100, "kept") + COST(10, "cut"), "counted once");
	store_close(&s);
}

/* ---- usage exact against a model ---- */

#define M_OWNERS 3
#define M_NAMES 8
#define M_QUOTA 6000
#define M_COUNT 6
#define M_OPS 600

enum m_kind { M_NONE, M_SHARD, M_RESERVED, M_KEPT };

struct m_entry {
	enum m_kind kind;
	uint64_t size;
};

static struct m_entry model[M_OWNERS][M_NAMES];
/* How often each refusal came up, to show the walk reached them all. */
static unsigned m_quota, m_toomany, m_exist, m_value, m_noent;

static const uint8_t *m_owner(unsigned o)
{
	static const uint8_t *const owners[M_OWNERS] = {owner_a, owner_b, owner_c};
	return owners[o];
}

static void m_name(char out[4], unsigned n)
{
	snprintf(out, 4, "n%u", n);
}

static void m_usage(unsigned o, uint64_t *bytes, uint64_t *count)
{
	char name[4];

	*bytes = *count = 0;
	for (unsigned n = 0; n < M_NAMES; n++) {
		m_name(name, n);
		if (model[o][n].kind == M_NONE)
			continue;
		*bytes += COST(model[o][n].size, name);
		(*count)++;
	}
}

/* The result the model expects of adding (replace: a shard replacing
 * model[o][n]) an entry costing cost. */
static int m_admit(unsigned o, unsigned n, uint64_t cost, bool replace)
{
	uint64_t bytes, count, old = 0;
	char name[4];

	m_name(name, n);
	m_usage(o, &bytes, &count);
	if (replace) {
		old = COST(model[o][n].size, name);
		count--;
	}
	if (!replace && count >= M_COUNT)
		return KITH_ETOOMANY;
	return bytes - old + cost > M_QUOTA ? KITH_EQUOTA : 0;
}

/* One random operation on store and model; false when they disagree. */
static bool m_step(struct store **s, const char *data)
{
	unsigned o = (unsigned)(rng_next() % M_OWNERS), n = (unsigned)(rng_next() % M_NAMES);
	unsigned op = (unsigned)(rng_next() % 100);
	uint64_t size = rng_next() % 1500, released, want_rel = 0;
	struct m_entry *e = &model[o][n];
	static uint8_t buf[1500];
	char name[4];
	int rc, want;

	m_name(name, n);
	if (op < 20) { /* old-style shard put */
		want = e->kind == M_RESERVED || e->kind == M_KEPT
		           ? -EEXIST
		           : m_admit(o, n, COST(size, name), e->kind == M_SHARD);
		rc = store_shard_put(*s, m_owner(o), name, buf, size, M_QUOTA, M_COUNT, NULL);
		if (rc == 0)
			*e = (struct m_entry){M_SHARD, size};
	} else if (op < 30) {
		want = e->kind == M_SHARD ? 0 : -ENOENT;
		rc = store_shard_del(*s, m_owner(o), name, NULL);
		if (rc == 0)
			e->kind = M_NONE;
	} else if (op < 60) {
		size *= 3;
		want = e->kind != M_NONE ? -EEXIST : m_admit(o, n, COST(size, name), false);
		rc = store_hold_reserve(*s, m_owner(o), name, size, M_QUOTA, M_COUNT, now, NULL);
		if (rc == 0)
			*e = (struct m_entry){M_RESERVED, size};
	} else if (op < 78) {
		want = e->kind == M_RESERVED ? 0 : e->kind == M_KEPT ? KITH_EVALUE : -ENOENT;
		rc = store_hold_commit(*s, m_owner(o), name, hash1);
		if (rc == 0)
			e->kind = M_KEPT;
	} else if (op < 94) {
		want = e->kind == M_RESERVED || e->kind == M_KEPT ? 0 : -ENOENT;
		rc = store_hold_release(*s, m_owner(o), name, NULL);
		if (rc == 0)
			e->kind = M_NONE;
	} else if (op < 97) { /* a crash and a restart */
		store_close(s);
		rc = store_open(s, data, NULL);
		if (rc == 0)
			rc = store_holds_drop_reserved(*s, &released);
		for (unsigned i = 0; i < M_OWNERS * M_NAMES; i++) {
			struct m_entry *x = &model[i / M_NAMES][i % M_NAMES];
			if (x->kind == M_RESERVED) {
				x->kind = M_NONE;
				want_rel++;
			}
		}
		want = 0;
		if (rc == 0 && released != want_rel)
			return false;
	} else {
		want = 0;
		rc = store_shards_drop(*s, m_owner(o), NULL);
		for (unsigned i = 0; i < M_NAMES; i++)
			model[o][i].kind = M_NONE;
	}
	m_quota += rc == KITH_EQUOTA;
	m_toomany += rc == KITH_ETOOMANY;
	m_exist += rc == -EEXIST;
	m_value += rc == KITH_EVALUE;
	m_noent += rc == -ENOENT;
	return rc == want;
}

static bool m_agrees(struct store *s)
{
	uint64_t bytes, count;

	for (unsigned o = 0; o < M_OWNERS; o++) {
		m_usage(o, &bytes, &count);
		if (!usage_is(s, m_owner(o), bytes, count))
			return false;
	}
	return true;
}

static void test_model(void)
{
	char data[PATH_LEN];
	struct store *s = NULL;
	int bad_op = -1, bad_usage = -1;

	if (open_fresh(&s, "model", data) != 0) {
		ok(0, "open for the model test");
		return;
	}
	for (int i = 0; i < M_OPS && s; i++) {
		if (!m_step(&s, data) && bad_op < 0)
			bad_op = i;
		if (s && !m_agrees(s) && bad_usage < 0)
			bad_usage = i;
	}
	ok(s != NULL, "the store stayed open");
	is(bad_op, -1, "every operation did what the model says");
	is(bad_usage, -1, "usage exact after every one");
	ok(m_quota && m_toomany && m_exist && m_value && m_noent,
	   "over quota, over count, names taken, commits twice, absent names all came up");
	printf("# %u over quota, %u over count, %u taken, %u committed twice, %u absent\n", m_quota,
	       m_toomany, m_exist, m_value, m_noent);
	store_close(&s);
}

/* ---- damage ---- */

static void test_damaged(void)
{
	static const uint8_t count_zero[16] = {0, 0, 0, 0, 0, 0, 0, 5};
	/* 10 bytes in 2 entries, where each costs more */
	static const uint8_t too_few[16] = {0, 0, 0, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0, 0, 0, 2};
	uint8_t key[PROTO_KEY_LEN + 3];
	char data[PATH_LEN];
	struct store *s = NULL;
	struct seen w = {0};
	uint64_t used, freed = 0, released;
	struct store_hold h;

	if (open_fresh(&s, "damaged", data) != 0) {
		ok(0, "open for the damage test");
		return;
	}
	store_hold_reserve(s, owner_a, "h1", 50, 1000, NO_LIMIT, now, NULL);
	store_hold_commit(s, owner_a, "h1", hash1);
	store_hold_reserve(s, owner_a, "r1", 20, 1000, NO_LIMIT, now, NULL);
	store_hold_reserve(s, owner_b, "h1", 60, 1000, NO_LIMIT, now, NULL);
	store_close(&s);
	raw_put(data, "usage", owner_a, PROTO_KEY_LEN, "\x01\x02\x03", 3);
	if (store_open(&s, data, NULL) != 0) {
		ok(0, "reopen");
		return;
	}
	is(store_hold_reserve(s, owner_a, "h2", 5, 1000, NO_LIMIT, now, &used), -EIO,
	   "reserve with a short usage: -EIO");
	is(store_hold_release(s, owner_a, "h1", &used), -EIO, "release with it: -EIO");
	is(store_holds_drop_reserved(s, &released), -EIO, "drop_reserved with it: -EIO");
	ok(hold_is(s, owner_a, "r1", STORE_HOLD_RESERVED, 20) &&
	       hold_is(s, owner_b, "h1", STORE_HOLD_RESERVED, 60),
	   "nothing dropped, of any owner");
	ok(hold_is(s, owner_a, "h1", STORE_HOLD_KEPT, 50), "a's hold untouched");
	store_close(&s);

	raw_put(data, "usage", owner_a, PROTO_KEY_LEN, too_few, sizeof(too_few));
	if (store_open(&s, data, NULL) != 0) {
		ok(0, "reopen");
		return;
	}
	ok(usage_is(s, owner_a, 10, 2), "a usage smaller than its holds reads");
	is(store_hold_release(s, owner_a, "h1", &used), -EIO, "but releasing one: -EIO");
	is(store_holds_drop_reserved(s, &released), -EIO, "dropping the reserved one: -EIO");
	store_close(&s);

	raw_put(data, "usage", owner_a, PROTO_KEY_LEN, count_zero, sizeof(count_zero));
	if (store_open(&s, data, NULL) != 0) {
		ok(0, "reopen");
		return;
	}
	is(store_hold_reserve(s, owner_a, "h2", 5, 1000, NO_LIMIT, now, &used), -EIO,
	   "bytes in 0 entries: -EIO");
	is(store_shards_drop(s, owner_a, &freed), 0, "drop repairs a");
	is(freed, COST(50, "h1") + COST(20, "r1"), "freeing what the holds cost");
	ok(usage_is(s, owner_a, 0, 0), "a uses nothing");
	is(store_hold_get(s, owner_a, "h1", &h), -ENOENT, "its holds are gone");
	is(store_hold_reserve(s, owner_a, "h1", 5, 1000, NO_LIMIT, now, &used), 0,
	   "and it can reserve again");
	is(store_holds_drop_reserved(s, &released), 0, "drop_reserved works again");
	is(released, 2, "a's new one and b's");
	ok(usage_is(s, owner_a, 0, 0) && usage_is(s, owner_b, 0, 0), "both exact");
	store_close(&s);

	/* A holds value that is not one. */
	memcpy(key, owner_c, PROTO_KEY_LEN);
	memcpy(key + PROTO_KEY_LEN, "bad", 3);
	raw_put(data, "holds", key, sizeof(key), "\x02\x00", 2);
	if (store_open(&s, data, NULL) != 0) {
		ok(0, "reopen");
		return;
	}
	is(store_hold_get(s, owner_c, "bad", &h), -EIO, "a short value: -EIO");
	is(store_holds_each(s, NULL, see, &w), -EIO, "a walk: -EIO");
	is(store_hold_commit(s, owner_c, "bad", hash1), -EIO, "commit: -EIO");
	is(store_hold_grace(s, owner_c, now, NULL), -EIO, "grace: -EIO");
	is(store_shards_drop(s, owner_c, &freed), 0, "drop removes it");
	is(freed, 0, "its cost unknown");
	w.n = 0;
	is(store_holds_each(s, NULL, see, &w), 0, "the walk works again");
	store_close(&s);
}

/* ---- the upgrade from version 3 ---- */

static void test_upgrade_v3(void)
{
	static const uint8_t d[5] = {1, 2, 3, 4, 5};
	char data[PATH_LEN];
	struct store *s = NULL;
	uint8_t *got = NULL;
	size_t len = 0;
	uint64_t first = 0, used = 0;

	if (open_fresh(&s, "upgrade-v3", data) != 0) {
		ok(0, "open for the upgrade test");
		return;
	}
	is(raw_schema(data), STORE_SCHEMA_VERSION, "a new store has the current version");
	is(STORE_SCHEMA_VERSION, 5, "which is 5");
	store_shard_put(s, owner_a, "old", d, 5, NO_LIMIT, NO_LIMIT, NULL);
	store_seq_reserve(s, 5, &first);
	store_close(&s);
	is(raw_rewind(data, 3, "holds"), 0, "rewind it to the version-3 layout");
	is(raw_schema(data), 3, "schema 3");
	is(store_open(&s, data, &(struct store_options){.read_only = true}), KITH_ESCHEMA,
	   "a reader refuses it (only kithd upgrades)");
	is(raw_schema(data), 3, "and leaves it at version 3");
	is(store_open(&s, data, NULL), 0, "open the version-3 store");
	is(raw_schema(data), STORE_SCHEMA_VERSION, "it is the current version now");
	ok(usage_is(s, owner_a, COST(5, "old"), 1), "the shard's usage as it was");
	is(store_shard_get(s, owner_a, "old", &got, &len), 0, "the shard is there");
	ok(got && len == 5 && memcmp(got, d, 5) == 0, "unchanged");
	is(store_seq_reserve(s, 1, &first), 0, "reserve");
	is(first, 6, "the counter went on");
	is(store_hold_reserve(s, owner_a, "new", 10, NO_LIMIT, NO_LIMIT, now, &used), 0,
	   "a hold can be reserved");
	is(used, COST(5, "old") + COST(10, "new"), "beside the shard, in one usage");
	store_close(&s);
	is(store_open(&s, data, &(struct store_options){.read_only = true}), 0,
	   "a reader opens the upgraded store");
	ok(hold_is(s, owner_a, "new", STORE_HOLD_RESERVED, 10), "and reads the hold");
	store_close(&s);

	/* A version-3 store cannot hold holds: one that does is damaged, and
	 * the upgrade leaves it alone. */
	is(raw_rewind(data, 3, NULL), 0, "version 3 with holds left over");
	is(store_open(&s, data, NULL), -EIO, "open: -EIO");
	ok(s == NULL, "no store");
	is(raw_schema(data), 3, "still version 3: the upgrade was not committed");

	/* A store of the current version without holds is damaged too. */
	is(raw_rewind(data, STORE_SCHEMA_VERSION, "holds"), 0, "the current version without holds");
	is(store_open(&s, data, NULL), -EIO, "open: -EIO");
	is(store_open(&s, data, &(struct store_options){.read_only = true}), -EIO,
	   "read-only: -EIO");

	/* Back to version 3 without holds: upgraded again. */
	is(raw_rewind(data, 3, NULL), 0, "schema 3 again");
	is(store_open(&s, data, NULL), 0, "the version-3 layout (holds dropped above) opens");
	is(raw_schema(data), STORE_SCHEMA_VERSION, "the current version");
	store_close(&s);
	is(raw_rewind(data, STORE_SCHEMA_VERSION + 1, NULL), 0, "a version from the future");
	is(store_open(&s, data, NULL), KITH_ESCHEMA, "a later version: KITH_ESCHEMA");
	is(raw_schema(data), STORE_SCHEMA_VERSION + 1, "left as it was");
	free(got);
}

int main(void)
{
	now = (uint64_t)time(NULL);
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	test_api();
	test_crash();
	test_model();
	test_damaged();
	test_upgrade_v3();
	rm_tree(dir);
	return tap_done();
}
