/* The store's local state: the founder, invitations (each use taken once,
 * expired ones refused and pruned), shards accounted exactly against a
 * quota, damaged values ending in -EIO, and the upgrade of a version-1
 * store to version 2. */
#define _XOPEN_SOURCE 700 /* nftw() */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <lmdb.h>

#include "proto/error.h"
#include "proto/identity.h"
#include "proto/record.h"
#include "store/store.h"
#include "tap.h"

#define PATH_LEN 512

static char dir[] = "/tmp/kith-test-store-local-XXXXXX";
static uint64_t now;
static const uint8_t owner_a[PROTO_KEY_LEN] = {0x0a};
static const uint8_t owner_b[PROTO_KEY_LEN] = {0x0b};
static const uint8_t owner_c[PROTO_KEY_LEN] = {0x0c};

/* out = a/b; exits on an over-long path, which only a broken TMPDIR makes. */
static char *join(char out[PATH_LEN], const char *a, const char *b)
{
	int n = snprintf(out, PATH_LEN, "%s/%s", a, b);
	if (n < 0 || n >= PATH_LEN) {
		fprintf(stderr, "path too long: %s/%s\n", a, b);
		exit(1);
	}
	return out;
}

/* A fresh data directory dir/name with an open store in *s. */
static int open_fresh(struct store **s, const char *name, char data[PATH_LEN])
{
	join(data, dir, name);
	mkdir(data, 0700);
	return store_open(s, data, NULL);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* The environment at data/STORE_DIR opened with plain LMDB, and one write
 * transaction in it, to damage or rewind the store behind its back. */
struct raw {
	MDB_env *env;
	MDB_txn *txn;
};

static int raw_begin(struct raw *r, const char *data)
{
	char path[PATH_LEN];
	int rc = mdb_env_create(&r->env);

	r->txn = NULL;
	join(path, data, STORE_DIR);
	if (rc == 0)
		rc = mdb_env_set_maxdbs(r->env, 8);
	if (rc == 0)
		rc = mdb_env_open(r->env, path, 0, 0600);
	if (rc == 0)
		rc = mdb_txn_begin(r->env, NULL, 0, &r->txn);
	return rc;
}

/* Commits (commit != 0) or aborts, and closes the environment. */
static int raw_end(struct raw *r, int commit)
{
	int rc = 0;

	if (r->txn && commit)
		rc = mdb_txn_commit(r->txn);
	else if (r->txn)
		mdb_txn_abort(r->txn);
	mdb_env_close(r->env);
	return rc;
}

static int raw_put(const char *data, const char *db, const void *key, size_t klen, const void *val,
                   size_t vlen)
{
	struct raw r;
	MDB_dbi dbi;
	MDB_val k = {klen, (void *)key}, v = {vlen, (void *)val};
	int rc = raw_begin(&r, data);

	if (rc == 0)
		rc = mdb_dbi_open(r.txn, db, MDB_CREATE, &dbi);
	if (rc == 0)
		rc = mdb_put(r.txn, dbi, &k, &v, 0);
	return raw_end(&r, rc == 0) || rc;
}

/* The schema version written in meta, or -1. */
static long raw_schema(const char *data)
{
	struct raw r;
	MDB_dbi dbi;
	MDB_val k = {6, "schema"}, v;
	long version = -1;
	int rc = raw_begin(&r, data);

	if (rc == 0)
		rc = mdb_dbi_open(r.txn, "meta", 0, &dbi);
	if (rc == 0)
		rc = mdb_get(r.txn, dbi, &k, &v);
	if (rc == 0 && v.mv_size == 4) {
		const uint8_t *p = v.mv_data;
		version = (long)p[0] << 24 | (long)p[1] << 16 | (long)p[2] << 8 | p[3];
	}
	raw_end(&r, 0);
	return version;
}

/* Turns a version-2 store back into the version-1 layout: schema 1 and
 * no invites, shards or usage database. drop_usage 0 keeps usage. */
static int raw_to_v1(const char *data, int drop_usage)
{
	static const char *const names[] = {"invites", "shards", "usage"};
	static const uint8_t v1[4] = {0, 0, 0, 1};
	struct raw r;
	MDB_dbi dbi;
	MDB_val k = {6, "schema"}, v = {4, (void *)v1};
	int rc = raw_begin(&r, data);

	for (int i = 0; i < (drop_usage ? 3 : 2) && rc == 0; i++) {
		rc = mdb_dbi_open(r.txn, names[i], 0, &dbi);
		if (rc == 0)
			rc = mdb_drop(r.txn, dbi, 1);
	}
	if (rc == 0)
		rc = mdb_dbi_open(r.txn, "meta", 0, &dbi);
	if (rc == 0)
		rc = mdb_put(r.txn, dbi, &k, &v, 0);
	return raw_end(&r, rc == 0) || rc;
}

static void test_founder(void)
{
	char data[PATH_LEN];
	struct store *s = NULL;
	uint8_t got[PROTO_KEY_LEN];

	is(open_fresh(&s, "founder", data), 0, "open");
	is(store_founder_get(s, got), -ENOENT, "no founder yet: -ENOENT");
	is(store_founder_set(s, owner_a), 0, "set the founder");
	is(store_founder_get(s, got), 0, "get it");
	ok(memcmp(got, owner_a, PROTO_KEY_LEN) == 0, "same key back");
	is(store_founder_set(s, owner_b), 0, "set another");
	store_close(&s);
	is(store_open(&s, data, NULL), 0, "reopen");
	memset(got, 0, sizeof(got));
	is(store_founder_get(s, got), 0, "get after reopen");
	ok(memcmp(got, owner_b, PROTO_KEY_LEN) == 0, "the last one set survived");
	store_close(&s);
	raw_put(data, "meta", "founder", 7, "short", 5);
	is(store_open(&s, data, NULL), 0, "reopen");
	is(store_founder_get(s, got), -EIO, "short founder: -EIO");
	store_close(&s);
}

static struct store_invite invite(uint8_t id, uint32_t uses, uint64_t expires)
{
	struct store_invite inv = {.created = now - 10, .expires = expires, .uses_left = uses};

	memset(inv.id, id, sizeof(inv.id));
	for (size_t i = 0; i < sizeof(inv.secret); i++)
		inv.secret[i] = (uint8_t)(id * 7 + i);
	inv.n_scopes = 2;
	snprintf(inv.scopes[0], sizeof(inv.scopes[0]), "monitor");
	snprintf(inv.scopes[1], sizeof(inv.scopes[1]), "backup:50G");
	return inv;
}

static int same_invite(const struct store_invite *a, const struct store_invite *b)
{
	if (memcmp(a->id, b->id, sizeof(a->id)) || a->created != b->created ||
	    a->expires != b->expires || a->uses_left != b->uses_left ||
	    memcmp(a->secret, b->secret, sizeof(a->secret)) || a->n_scopes != b->n_scopes)
		return 0;
	for (uint32_t i = 0; i < a->n_scopes; i++)
		if (strcmp(a->scopes[i], b->scopes[i]) != 0)
			return 0;
	return 1;
}

static void test_invite_refused(struct store *s)
{
	struct store_invite inv = invite(9, 1, now + 60), got;

	inv.uses_left = 0;
	is(store_invite_put(s, &inv), KITH_EVALUE, "no use: KITH_EVALUE");
	inv = invite(9, 1, now - 20);
	is(store_invite_put(s, &inv), KITH_EVALUE, "expires before created: KITH_EVALUE");
	inv = invite(9, 1, now + 60);
	inv.n_scopes = PROTO_SCOPES_MAX + 1;
	is(store_invite_put(s, &inv), KITH_ETOOBIG, "too many scopes: KITH_ETOOBIG");
	inv = invite(9, 1, now + 60);
	memset(inv.scopes[1], 'x', sizeof(inv.scopes[1]));
	is(store_invite_put(s, &inv), KITH_ETOOBIG, "unterminated scope: KITH_ETOOBIG");
	inv.scopes[1][0] = 0;
	is(store_invite_put(s, &inv), KITH_EVALUE, "empty scope: KITH_EVALUE");
	is(store_invite_get(s, inv.id, &got), -ENOENT, "nothing refused was stored");

	/* The largest invitation fits. */
	inv.n_scopes = PROTO_SCOPES_MAX;
	for (uint32_t i = 0; i < inv.n_scopes; i++) {
		memset(inv.scopes[i], 'a' + (int)i, PROTO_SCOPE_MAX);
		inv.scopes[i][PROTO_SCOPE_MAX] = 0;
	}
	is(store_invite_put(s, &inv), 0, "the most and longest scopes are stored");
	is(store_invite_get(s, inv.id, &got), 0, "and read back");
	ok(same_invite(&inv, &got), "whole");
	inv = invite(8, 1, now + 60);
	inv.n_scopes = 0;
	is(store_invite_put(s, &inv), 0, "no scope at all is fine");
	is(store_invite_get(s, inv.id, &got), 0, "read back");
	ok(same_invite(&inv, &got), "with no scope");
}

static void test_invite_use(struct store *s)
{
	struct store_invite inv = invite(1, 3, now + 3600), got, dup = invite(1, 9, now + 60);
	uint8_t unknown[STORE_INVITE_ID_LEN] = {0x77};

	is(store_invite_put(s, &inv), 0, "put an invitation with 3 uses");
	is(store_invite_put(s, &dup), -EEXIST, "same id again: -EEXIST");
	is(store_invite_get(s, inv.id, &got), 0, "get");
	ok(same_invite(&inv, &got), "every field back, not the duplicate's");
	for (uint32_t i = 0; i < 3; i++) {
		memset(&got, 0xff, sizeof(got));
		is(store_invite_use(s, inv.id, now, &got), 0, "use");
		is(got.uses_left, 3 - i, "returns the uses left before this one");
		ok(memcmp(got.secret, inv.secret, sizeof(got.secret)) == 0, "and its secret");
	}
	is(store_invite_use(s, inv.id, now, &got), KITH_EUSED, "fourth use: KITH_EUSED");
	is(got.uses_left, 0, "out shows it used up");
	inv.uses_left = 0;
	ok(same_invite(&got, &inv), "and still describes it, secret and all");
	is(store_invite_get(s, inv.id, &got), 0, "a used-up invitation stays");
	is(got.uses_left, 0, "with no use left");

	inv = invite(2, 2, now + 100);
	is(store_invite_put(s, &inv), 0, "put one expiring in 100 s");
	is(store_invite_use(s, inv.id, now + 100, &got), 0, "usable at its expiry second");
	is(store_invite_use(s, inv.id, now + 101, &got), KITH_EEXPIRED,
	   "after its expiry: KITH_EEXPIRED");
	is(got.uses_left, 1, "out shows the invitation");
	is(store_invite_get(s, inv.id, &got), 0, "get");
	is(got.uses_left, 1, "the refused use was not taken");

	memset(&got, 0xff, sizeof(got));
	is(store_invite_use(s, unknown, now, &got), -ENOENT, "unknown id: -ENOENT");
	ok(got.uses_left == 0 && got.n_scopes == 0, "out zeroed");
	is(store_invite_get(s, unknown, &got), -ENOENT, "get unknown: -ENOENT");
}

struct walk {
	struct store *s;
	unsigned n;
	unsigned stop_at;
	int write_rc;
	uint8_t last_id[STORE_INVITE_ID_LEN];
	int ordered;
};

static int walk_invite(void *arg, const struct store_invite *inv)
{
	struct walk *w = arg;
	struct store_invite again;

	if (w->n > 0 && memcmp(w->last_id, inv->id, sizeof(inv->id)) >= 0)
		w->ordered = 0;
	memcpy(w->last_id, inv->id, sizeof(inv->id));
	w->n++;
	if (w->s) {
		again = *inv;
		again.id[0] ^= 0x40;
		again.uses_left = 1;
		w->write_rc = store_invite_put(w->s, &again);
	}
	return w->n == w->stop_at ? 7 : 0;
}

static void test_invite_each_prune(struct store *s)
{
	struct store_invite inv;
	struct walk w = {.ordered = 1};
	uint64_t removed = 99;

	/* So far: ids 9 and 8 (expire now + 60), 1 (now + 3600), 2 (now + 100). */
	is(store_invites_each(s, walk_invite, &w), 0, "walk");
	is(w.n, 4, "four invitations");
	ok(w.ordered, "in id order");
	w = (struct walk){.stop_at = 2, .ordered = 1};
	is(store_invites_each(s, walk_invite, &w), 7, "a non-zero return stops the walk");
	is(w.n, 2, "after two");
	w = (struct walk){.s = s, .stop_at = 1, .ordered = 1};
	is(store_invites_each(s, walk_invite, &w), 7, "walk that writes");
	is(w.write_rc, -EBUSY, "writing from the callback: -EBUSY");

	is(store_invites_prune(s, now + 60, &removed), 0, "prune at now + 60");
	is(removed, 0, "nothing expired yet");
	is(store_invites_prune(s, now + 61, &removed), 0, "prune at now + 61");
	is(removed, 2, "ids 8 and 9 went");
	is(store_invite_get(s, (uint8_t[STORE_INVITE_ID_LEN]){8}, &inv), -ENOENT,
	   "a pruned invitation is gone");
	w = (struct walk){.ordered = 1};
	store_invites_each(s, walk_invite, &w);
	is(w.n, 2, "two left");
	is(store_invites_prune(s, now + 3601, NULL), 0, "prune all; removed may be NULL");
	w = (struct walk){.ordered = 1};
	store_invites_each(s, walk_invite, &w);
	is(w.n, 0, "none left");
}

static void test_invite_persist(void)
{
	char data[PATH_LEN];
	struct store *s = NULL;
	struct store_invite inv = invite(5, 5, now + 60), got;

	is(open_fresh(&s, "invite-persist", data), 0, "open");
	store_invite_put(s, &inv);
	store_invite_use(s, inv.id, now, &got);
	store_invite_use(s, inv.id, now, &got);
	store_close(&s);
	is(store_open(&s, data, NULL), 0, "reopen");
	is(store_invite_get(s, inv.id, &got), 0, "get");
	is(got.uses_left, 3, "both uses survived the reopen");
	store_close(&s);
}

/* The fixed part of an invitations value: created 1, expires far ahead,
 * 1 use, a secret of 0x55, n_scopes. */
#define FIXED_LEN (8 + 8 + 4 + STORE_INVITE_SECRET_LEN + 1)

static void fixed_part(uint8_t val[FIXED_LEN], uint8_t n_scopes)
{
	memset(val, 0, FIXED_LEN);
	val[7] = 1;
	val[12] = 0x7f;
	val[19] = 1;
	memset(val + 20, 0x55, STORE_INVITE_SECRET_LEN);
	val[FIXED_LEN - 1] = n_scopes;
}

static void test_invite_damaged(void)
{
	static const struct {
		const char *what;
		const char *tail;
		size_t tail_len;
		size_t fixed_len;
	} cases[] = {
	    {"short value", "", 0, FIXED_LEN - 1},
	    {"scope length past the end", "\x00\x09mon", 5, FIXED_LEN},
	    {"empty scope", "\x00\x00", 2, FIXED_LEN},
	    {"NUL inside a scope", "\x00\x03m\x00n", 5, FIXED_LEN},
	    {"a trailing byte", "\x00\x01mX", 4, FIXED_LEN},
	    {"scope cut in its length", "\x00", 1, FIXED_LEN},
	};
	char data[PATH_LEN], what[96];
	uint8_t val[FIXED_LEN + 16], id[STORE_INVITE_ID_LEN] = {0x31};
	struct store *s = NULL;
	struct store_invite got;
	struct walk w = {.ordered = 1};

	is(open_fresh(&s, "invite-damaged", data), 0, "open");
	store_close(&s);
	fixed_part(val, 1);
	memcpy(val + FIXED_LEN, "\x00\x01m", 3);
	raw_put(data, "invites", id, sizeof(id), val, FIXED_LEN + 3);
	is(store_open(&s, data, NULL), 0, "reopen with a hand-written invitation");
	is(store_invite_get(s, id, &got), 0, "a well-formed hand-written value reads");
	ok(got.created == 1 && got.uses_left == 1 && got.secret[0] == 0x55 &&
	       got.secret[STORE_INVITE_SECRET_LEN - 1] == 0x55 && got.n_scopes == 1 &&
	       strcmp(got.scopes[0], "m") == 0,
	   "as written");
	store_close(&s);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fixed_part(val, 1);
		memcpy(val + cases[i].fixed_len, cases[i].tail, cases[i].tail_len);
		raw_put(data, "invites", id, sizeof(id), val,
		        cases[i].fixed_len + cases[i].tail_len);
		store_open(&s, data, NULL);
		snprintf(what, sizeof(what), "%s: get -EIO", cases[i].what);
		is(store_invite_get(s, id, &got), -EIO, what);
		snprintf(what, sizeof(what), "%s: use -EIO", cases[i].what);
		is(store_invite_use(s, id, 0, &got), -EIO, what);
		store_close(&s);
	}
	fixed_part(val, PROTO_SCOPES_MAX + 1);
	raw_put(data, "invites", id, sizeof(id), val, FIXED_LEN);
	store_open(&s, data, NULL);
	is(store_invite_get(s, id, &got), -EIO, "too many scopes: -EIO");
	is(store_invites_each(s, walk_invite, &w), -EIO, "walk over it: -EIO");
	is(store_invites_prune(s, UINT64_MAX, NULL), -EIO, "prune over it: -EIO");
	store_close(&s);
	fixed_part(val, 0);
	raw_put(data, "invites", id, sizeof(id), val, FIXED_LEN); /* repaired */
	raw_put(data, "invites", "short-id", 8, val, FIXED_LEN);
	store_open(&s, data, NULL);
	is(store_invites_each(s, walk_invite, &w), -EIO, "an id of the wrong length: -EIO");
	store_close(&s);
}

static void test_invites(void)
{
	char data[PATH_LEN];
	struct store *s = NULL;

	if (open_fresh(&s, "invites", data) != 0) {
		ok(0, "open for the invitation tests");
		return;
	}
	test_invite_refused(s);
	test_invite_use(s);
	test_invite_each_prune(s);
	store_close(&s);
	test_invite_persist();
	test_invite_damaged();
}

/* Fills buf[0..len) with a pattern of tag. */
static uint8_t *pattern(uint8_t *buf, size_t len, unsigned tag)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(tag * 31 + i);
	return buf;
}

/* Whether owner's shard name holds len bytes of tag's pattern. */
static int holds(struct store *s, const uint8_t *owner, const char *name, size_t len, unsigned tag)
{
	static uint8_t want[4096];
	uint8_t *got = NULL;
	size_t got_len = 0;
	int same = store_shard_get(s, owner, name, &got, &got_len) == 0 && got_len == len &&
	           memcmp(got, pattern(want, len, tag), len) == 0;

	free(got);
	return same;
}

static int usage_is(struct store *s, const uint8_t *owner, uint64_t bytes, uint64_t count)
{
	uint64_t b = 99, c = 99;
	return store_shard_usage(s, owner, &b, &c) == 0 && b == bytes && c == count;
}

static void test_shard_put_replace(struct store *s)
{
	static uint8_t buf[4096];
	uint8_t *got = (uint8_t *)"x";
	size_t len = 7;
	uint64_t used = 0;

	ok(usage_is(s, owner_a, 0, 0), "an unknown owner uses nothing");
	is(store_shard_put(s, owner_a, "s1", pattern(buf, 300, 1), 300, 1000, &used), 0, "put s1");
	is(used, 300, "300 bytes used");
	ok(holds(s, owner_a, "s1", 300, 1), "s1 reads back");
	is(store_shard_put(s, owner_a, "s2", pattern(buf, 500, 2), 500, 1000, &used), 0, "put s2");
	is(used, 800, "800 used");
	ok(usage_is(s, owner_a, 800, 2), "usage: 800 bytes, 2 shards");
	/* 800 - 300 + 500 = 1000: exactly the quota, allowed only because the
	 * old s1 no longer counts */
	is(store_shard_put(s, owner_a, "s1", pattern(buf, 500, 3), 500, 1000, &used), 0,
	   "replace s1 up to exactly the quota");
	is(used, 1000, "1000 used");
	ok(holds(s, owner_a, "s1", 500, 3), "the new s1 reads back");
	ok(usage_is(s, owner_a, 1000, 2), "usage exact after the replacement");
	is(store_shard_put(s, owner_a, "s1", pattern(buf, 100, 4), 100, 1000, NULL), 0,
	   "replace with a smaller one; used may be NULL");
	ok(usage_is(s, owner_a, 600, 2), "usage shrank with it");
	is(store_shard_put(s, owner_a, "empty", NULL, 0, 1000, &used), 0, "an empty shard");
	ok(usage_is(s, owner_a, 600, 3), "counts as a shard of 0 bytes");
	is(store_shard_get(s, owner_a, "empty", &got, &len), 0, "get the empty shard");
	ok(got != NULL && len == 0, "a buffer of 0 bytes");
	free(got);
	is(store_shard_get(s, owner_a, "nope", &got, &len), -ENOENT, "absent: -ENOENT");
	ok(got == NULL && len == 0, "nothing returned");
	is(store_shard_put(s, owner_a, "s9", NULL, 5, 1000, &used), -EINVAL, "NULL data: -EINVAL");
}

static void test_shard_quota(struct store *s)
{
	static uint8_t buf[4096];
	uint64_t used = 0;

	/* owner_a: s1 100, s2 500, empty 0 */
	is(store_shard_put(s, owner_a, "s3", pattern(buf, 401, 5), 401, 1000, &used), KITH_EQUOTA,
	   "one byte over: KITH_EQUOTA");
	is(used, 600, "used says what is used");
	is(store_shard_put(s, owner_a, "s2", pattern(buf, 901, 6), 901, 1000, &used), KITH_EQUOTA,
	   "a replacement one byte over: KITH_EQUOTA");
	ok(holds(s, owner_a, "s2", 500, 2), "the old s2 is untouched");
	ok(usage_is(s, owner_a, 600, 3), "usage untouched");
	is(store_shard_get(s, owner_a, "s3", &(uint8_t *){NULL}, &(size_t){0}), -ENOENT,
	   "the refused shard was not stored");
	is(store_shard_put(s, owner_a, "s3", pattern(buf, 2000, 7), 2000, 1000, NULL), KITH_EQUOTA,
	   "a shard bigger than the quota");
	is(store_shard_put(s, owner_a, "s3", pattern(buf, 10, 7), 10, UINT64_MAX, &used), 0,
	   "an unlimited quota does not overflow");
	is(used, 610, "610 used");
	is(store_shard_put(s, owner_a, "s4", pattern(buf, 1, 8), 1, 100, &used), KITH_EQUOTA,
	   "a quota lowered below the use refuses growth");
	is(store_shard_put(s, owner_a, "s2", pattern(buf, 5, 9), 5, 100, &used), KITH_EQUOTA,
	   "and even a shrinking replacement that stays over it");
	ok(usage_is(s, owner_a, 610, 4), "usage untouched");
}

static void test_shard_names(struct store *s)
{
	char name[STORE_SHARD_NAME_MAX + 2];
	uint8_t *got = NULL;
	size_t len = 0;
	uint64_t used;

	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = 0;
	is(store_shard_put(s, owner_a, name, (const uint8_t *)"x", 1, 1000, &used), KITH_ETOOBIG,
	   "a name one byte too long: KITH_ETOOBIG");
	is(store_shard_get(s, owner_a, name, &got, &len), KITH_ETOOBIG, "get: KITH_ETOOBIG");
	is(store_shard_del(s, owner_a, name, &used), KITH_ETOOBIG, "del: KITH_ETOOBIG");
	name[STORE_SHARD_NAME_MAX] = 0;
	is(store_shard_put(s, owner_a, name, (const uint8_t *)"x", 1, 1000, &used), 0,
	   "a name of STORE_SHARD_NAME_MAX bytes is fine");
	is(store_shard_del(s, owner_a, name, &used), 0, "and deleted");
	is(store_shard_put(s, owner_a, "", (const uint8_t *)"x", 1, 1000, &used), KITH_EVALUE,
	   "an empty name: KITH_EVALUE");
	is(store_shard_get(s, owner_a, "", &got, &len), KITH_EVALUE, "get: KITH_EVALUE");
	ok(usage_is(s, owner_a, 610, 4), "usage untouched");
}

static void test_shard_owners_del(struct store *s)
{
	static uint8_t buf[4096];
	uint64_t used = 99;

	is(store_shard_put(s, owner_b, "s1", pattern(buf, 700, 10), 700, 700, &used), 0,
	   "owner b's s1, the same name as a's");
	ok(usage_is(s, owner_b, 700, 1), "b is accounted on its own");
	ok(usage_is(s, owner_a, 610, 4), "a is unchanged");
	ok(holds(s, owner_a, "s1", 100, 4), "a's s1 is still a's");
	is(store_shard_del(s, owner_a, "s2", &used), 0, "delete a's s2");
	is(used, 110, "110 left");
	is(store_shard_del(s, owner_a, "s2", &used), -ENOENT, "again: -ENOENT");
	is(store_shard_del(s, owner_c, "s1", &used), -ENOENT, "an owner with nothing: -ENOENT");
	ok(usage_is(s, owner_a, 110, 3), "usage exact after the delete");
	ok(usage_is(s, owner_b, 700, 1), "b untouched");
	is(store_shard_del(s, owner_b, "s1", &used), 0, "delete b's only shard");
	is(used, 0, "nothing left");
	ok(usage_is(s, owner_b, 0, 0), "b uses nothing");
	is(store_shard_put(s, owner_b, "s1", pattern(buf, 700, 11), 700, 700, &used), 0,
	   "b can fill its quota again");
}

/* Owner b between a and c, with enough shards to span many pages. */
static void test_shard_drop(struct store *s)
{
	static uint8_t buf[4096];
	char name[32];
	uint64_t freed = 0, total = 700, used;
	int stored = 0;

	for (unsigned i = 0; i < 400; i++) {
		size_t len = 1 + (i * 37) % 2000;
		snprintf(name, sizeof(name), "bulk-%03u", i);
		stored += store_shard_put(s, owner_b, name, pattern(buf, len, i), len, UINT64_MAX,
		                          NULL) == 0;
		total += len;
	}
	is(stored, 400, "400 more shards for b");
	store_shard_put(s, owner_c, "c1", pattern(buf, 50, 12), 50, 1000, NULL);
	ok(usage_is(s, owner_b, total, 401), "b's usage is the sum of its shards");
	is(store_shards_drop(s, owner_b, &freed), 0, "drop b");
	is(freed, total, "freed all of b's bytes");
	ok(usage_is(s, owner_b, 0, 0), "b uses nothing");
	is(store_shard_get(s, owner_b, "bulk-123", &(uint8_t *){NULL}, &(size_t){0}), -ENOENT,
	   "b's shards are gone");
	ok(usage_is(s, owner_a, 110, 3) && holds(s, owner_a, "s1", 100, 4),
	   "a before it is untouched");
	ok(usage_is(s, owner_c, 50, 1) && holds(s, owner_c, "c1", 50, 12),
	   "c after it is untouched");
	is(store_shards_drop(s, owner_b, &freed), 0, "drop b again");
	is(freed, 0, "nothing to free");
	is(store_shards_drop(s, owner_c, NULL), 0, "drop c; freed may be NULL");
	ok(usage_is(s, owner_c, 0, 0), "c uses nothing");
	is(store_shard_put(s, owner_b, "s1", pattern(buf, 10, 13), 10, 10, &used), 0,
	   "b starts over");
	is(used, 10, "from zero");
}

/* Usage values damaged or out of step with the shards: -EIO, nothing
 * changes, and drop repairs the owner. */
static void test_shard_damaged(void)
{
	static const uint8_t count_zero[16] = {0, 0, 0, 0, 0, 0, 0, 5};
	/* 10 bytes in 1 shard, where the shard holds 50 */
	static const uint8_t too_few[16] = {0, 0, 0, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0, 0, 0, 1};
	static uint8_t buf[100];
	char data[PATH_LEN];
	struct store *s = NULL;
	uint64_t bytes, count, used, freed;

	is(open_fresh(&s, "shard-damaged", data), 0, "open");
	store_shard_put(s, owner_a, "s1", pattern(buf, 50, 1), 50, 1000, NULL);
	store_shard_put(s, owner_b, "s1", pattern(buf, 60, 2), 60, 1000, NULL);
	store_close(&s);
	raw_put(data, "usage", owner_a, PROTO_KEY_LEN, "\x01\x02\x03", 3);
	store_open(&s, data, NULL);
	is(store_shard_usage(s, owner_a, &bytes, &count), -EIO, "short usage: -EIO");
	is(store_shard_put(s, owner_a, "s2", pattern(buf, 5, 3), 5, 1000, &used), -EIO,
	   "put with a short usage: -EIO");
	is(store_shard_put(s, owner_a, "s1", pattern(buf, 5, 3), 5, 1000, &used), -EIO,
	   "replace with a short usage: -EIO");
	is(store_shard_del(s, owner_a, "s1", &used), -EIO, "del with a short usage: -EIO");
	ok(holds(s, owner_a, "s1", 50, 1), "a's shard untouched");
	ok(usage_is(s, owner_b, 60, 1), "b is not affected");
	store_close(&s);

	raw_put(data, "usage", owner_a, PROTO_KEY_LEN, too_few, sizeof(too_few));
	store_open(&s, data, NULL);
	ok(usage_is(s, owner_a, 10, 1), "a usage smaller than a shard reads");
	is(store_shard_put(s, owner_a, "s1", pattern(buf, 5, 3), 5, 1000, &used), -EIO,
	   "but replacing that shard: -EIO");
	is(store_shard_del(s, owner_a, "s1", &used), -EIO, "deleting it: -EIO");
	ok(holds(s, owner_a, "s1", 50, 1), "a's shard untouched");
	store_close(&s);

	raw_put(data, "usage", owner_a, PROTO_KEY_LEN, count_zero, sizeof(count_zero));
	store_open(&s, data, NULL);
	is(store_shard_usage(s, owner_a, &bytes, &count), -EIO, "bytes in 0 shards: -EIO");
	is(store_shards_drop(s, owner_a, &freed), 0, "drop repairs a");
	is(freed, 50, "freeing what the shards held");
	ok(usage_is(s, owner_a, 0, 0), "a uses nothing");
	is(store_shard_put(s, owner_a, "s1", pattern(buf, 20, 4), 20, 1000, &used), 0,
	   "and can store again");
	ok(usage_is(s, owner_a, 20, 1) && usage_is(s, owner_b, 60, 1), "both exact");
	store_close(&s);
}

static void test_shards(void)
{
	char data[PATH_LEN];
	struct store *s = NULL;
	uint64_t used;

	if (open_fresh(&s, "shards", data) != 0) {
		ok(0, "open for the shard tests");
		return;
	}
	test_shard_put_replace(s);
	test_shard_quota(s);
	test_shard_names(s);
	test_shard_owners_del(s);
	test_shard_drop(s);
	store_close(&s);
	is(store_open(&s, data, NULL), 0, "reopen");
	ok(usage_is(s, owner_a, 110, 3) && holds(s, owner_a, "s1", 100, 4),
	   "shards and usage survive the reopen");
	is(store_shard_del(s, owner_a, "s1", &used), 0, "delete after the reopen");
	is(used, 10, "usage still exact");
	store_close(&s);
	test_shard_damaged();
}

/* A version-1 store (schema 1; meta, records, byseq, heads only) becomes
 * version 2 in place; its records and counters stay. */
static void test_upgrade(void)
{
	struct proto_identity *id = NULL;
	struct proto_record in = {.kind = PROTO_KIND_SERVICE, .seq = 4};
	struct mp_buf b = {0};
	struct store_invite inv = invite(3, 1, now + 60), got;
	char data[PATH_LEN];
	struct store *s = NULL;
	uint8_t *rec = NULL;
	size_t len = 0;
	uint64_t first = 0, count = 0;

	snprintf(in.name, sizeof(in.name), "web");
	in.issued = now;
	in.expires = now + 60;
	in.body = (const uint8_t *)"\x80";
	in.body_len = 1;
	if (proto_identity_generate(&id) || proto_record_sign(&b, id, &in)) {
		ok(0, "a signed record for the upgrade test");
		return;
	}
	is(open_fresh(&s, "upgrade", data), 0, "open");
	is(raw_schema(data), STORE_SCHEMA_VERSION, "a new store has the current version");
	is(STORE_SCHEMA_VERSION, 2, "which is 2");
	store_record_put(s, b.data, b.len, now, NULL);
	store_seq_reserve(s, 7, &first);
	store_close(&s);
	is(raw_to_v1(data, 1), 0, "rewind it to the version-1 layout");
	is(raw_schema(data), 1, "schema 1");
	is(store_open(&s, data, NULL), 0, "open a version-1 store");
	is(raw_schema(data), 2, "it is version 2 now");
	is(store_record_get(s, id->pk, PROTO_KIND_SERVICE, "web", &rec, &len), 0,
	   "its record is there");
	ok(rec && len == b.len && memcmp(rec, b.data, len) == 0, "unchanged");
	is(store_seq_reserve(s, 1, &first), 0, "reserve");
	is(first, 8, "its counter went on");
	is(store_invite_put(s, &inv), 0, "an invitation can be stored");
	is(store_shard_put(s, owner_a, "s", (const uint8_t *)"x", 1, 10, NULL), 0, "and a shard");
	store_close(&s);
	is(store_open(&s, data, NULL), 0, "reopen the upgraded store");
	is(store_invite_get(s, inv.id, &got), 0, "the invitation survived");
	ok(usage_is(s, owner_a, 1, 1), "the shard's usage too");
	is(store_record_count(s, &count), 0, "count");
	is(count, 1, "one record");
	store_close(&s);

	/* A version-1 store cannot hold shard data: one that does is damaged,
	 * and the upgrade leaves it alone. */
	is(raw_to_v1(data, 0), 0, "version 1 with a usage database left over");
	is(store_open(&s, data, NULL), -EIO, "open: -EIO");
	ok(s == NULL, "no store");
	is(raw_schema(data), 1, "still version 1: the upgrade was not committed");

	/* A version-2 store without its new databases is damaged too. */
	join(data, dir, "v2-missing");
	mkdir(data, 0700);
	is(store_open(&s, data, NULL), 0, "a fresh store");
	store_close(&s);
	is(raw_to_v1(data, 1), 0, "drop the new databases");
	raw_put(data, "meta", "schema", 6, "\x00\x00\x00\x02", 4);
	is(store_open(&s, data, NULL), -EIO, "version 2 without them: -EIO");
	free(rec);
	mp_buf_free(&b);
	proto_identity_free(&id);
}

int main(void)
{
	now = (uint64_t)time(NULL);
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	test_founder();
	test_invites();
	test_shards();
	test_upgrade();
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return tap_done();
}
