/* The store's local state: the founder, invitations (each use taken once,
 * expired ones refused and pruned), shards accounted exactly against a
 * quota with names and overhead and a bound on their number, damaged
 * values ending in -EIO, and the upgrade of version-1 and version-2 stores
 * to the current version (test_store_hold.c: version 3 to 4). */
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

#include "store_raw.h"

/* Turns a store back into an older layout: writes schema version and
 * deletes the databases named in drop (n of them). */
static int raw_rewind(const char *data, uint8_t version, const char *const *drop, size_t n)
{
	const uint8_t v[4] = {0, 0, 0, version};
	struct raw r;
	MDB_dbi dbi;
	MDB_val k = {6, "schema"}, d = {4, (void *)v};
	int rc = raw_begin(&r, data);

	for (size_t i = 0; i < n && rc == 0; i++) {
		rc = mdb_dbi_open(r.txn, drop[i], 0, &dbi);
		if (rc == 0)
			rc = mdb_drop(r.txn, dbi, 1);
	}
	if (rc == 0)
		rc = mdb_dbi_open(r.txn, "meta", 0, &dbi);
	if (rc == 0)
		rc = mdb_put(r.txn, dbi, &k, &d, 0);
	return raw_end(&r, rc == 0) || rc;
}

/* The databases of versions 2 and 3 that version 1 did not have; usage
 * last, so that rewinding with n = 4 leaves it over. */
static const char *const v1_missing[] = {"invites", "shards", "authors", "expiry", "usage"};
/* The databases version 3 added. */
static const char *const v2_missing[] = {"authors", "expiry"};

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

/* What a shard of len bytes named name (a string literal) costs. */
#define COST(len, name) ((uint64_t)(len) + sizeof(name) - 1 + STORE_SHARD_OVERHEAD)
#define NO_LIMIT UINT64_MAX
/* owner_a's quota in the tests below: two shards of 500 named s1 and s2. */
#define QUOTA_A (COST(500, "s1") + COST(500, "s2"))

static void test_shard_put_replace(struct store *s)
{
	static uint8_t buf[4096];
	uint8_t *got = (uint8_t *)"x";
	size_t len = 7;
	uint64_t used = 0;

	ok(usage_is(s, owner_a, 0, 0), "an unknown owner uses nothing");
	is(store_shard_put(s, owner_a, "s1", pattern(buf, 300, 1), 300, QUOTA_A, NO_LIMIT, &used),
	   0, "put s1");
	is(used, COST(300, "s1"), "its bytes, name and overhead used");
	ok(holds(s, owner_a, "s1", 300, 1), "s1 reads back");
	is(store_shard_put(s, owner_a, "s2", pattern(buf, 500, 2), 500, QUOTA_A, NO_LIMIT, &used),
	   0, "put s2");
	is(used, COST(300, "s1") + COST(500, "s2"), "both used");
	ok(usage_is(s, owner_a, COST(300, "s1") + COST(500, "s2"), 2), "usage: both, 2 shards");
	/* exactly the quota, allowed only because the old s1 no longer
	 * counts */
	is(store_shard_put(s, owner_a, "s1", pattern(buf, 500, 3), 500, QUOTA_A, NO_LIMIT, &used),
	   0, "replace s1 up to exactly the quota");
	is(used, QUOTA_A, "the quota used");
	ok(holds(s, owner_a, "s1", 500, 3), "the new s1 reads back");
	ok(usage_is(s, owner_a, QUOTA_A, 2), "usage exact after the replacement");
	is(store_shard_put(s, owner_a, "s1", pattern(buf, 100, 4), 100, QUOTA_A, NO_LIMIT, NULL), 0,
	   "replace with a smaller one; used may be NULL");
	ok(usage_is(s, owner_a, COST(100, "s1") + COST(500, "s2"), 2), "usage shrank with it");
	is(store_shard_put(s, owner_a, "empty", NULL, 0, QUOTA_A, NO_LIMIT, &used), 0,
	   "an empty shard");
	ok(usage_is(s, owner_a, COST(100, "s1") + COST(500, "s2") + COST(0, "empty"), 3),
	   "costs its name and overhead");
	is(store_shard_get(s, owner_a, "empty", &got, &len), 0, "get the empty shard");
	ok(got != NULL && len == 0, "a buffer of 0 bytes");
	free(got);
	is(store_shard_get(s, owner_a, "nope", &got, &len), -ENOENT, "absent: -ENOENT");
	ok(got == NULL && len == 0, "nothing returned");
	is(store_shard_put(s, owner_a, "s9", NULL, 5, QUOTA_A, NO_LIMIT, &used), -EINVAL,
	   "NULL data: -EINVAL");
}

/* owner_a after test_shard_put_replace. */
#define USED_A (COST(100, "s1") + COST(500, "s2") + COST(0, "empty"))

static void test_shard_quota(struct store *s)
{
	static uint8_t buf[4096];
	size_t over = QUOTA_A - USED_A - COST(0, "s3") + 1;
	uint64_t used = 0;

	is(store_shard_put(s, owner_a, "s3", pattern(buf, over, 5), over, QUOTA_A, NO_LIMIT, &used),
	   KITH_EQUOTA, "one byte over: KITH_EQUOTA");
	is(used, USED_A, "used says what is used");
	over = QUOTA_A - (USED_A - COST(500, "s2")) - COST(0, "s2") + 1;
	is(store_shard_put(s, owner_a, "s2", pattern(buf, over, 6), over, QUOTA_A, NO_LIMIT, &used),
	   KITH_EQUOTA, "a replacement one byte over: KITH_EQUOTA");
	ok(holds(s, owner_a, "s2", 500, 2), "the old s2 is untouched");
	ok(usage_is(s, owner_a, USED_A, 3), "usage untouched");
	is(store_shard_get(s, owner_a, "s3", &(uint8_t *){NULL}, &(size_t){0}), -ENOENT,
	   "the refused shard was not stored");
	is(store_shard_put(s, owner_a, "s3", pattern(buf, 2000, 7), 2000, 1000, NO_LIMIT, NULL),
	   KITH_EQUOTA, "a shard bigger than the quota");
	is(store_shard_put(s, owner_a, "s3", pattern(buf, 10, 7), 10, UINT64_MAX, NO_LIMIT, &used),
	   0, "an unlimited quota does not overflow");
	is(used, USED_A + COST(10, "s3"), "s3 counted");
	is(store_shard_put(s, owner_a, "s4", pattern(buf, 1, 8), 1, 100, NO_LIMIT, &used),
	   KITH_EQUOTA, "a quota lowered below the use refuses growth");
	is(store_shard_put(s, owner_a, "s2", pattern(buf, 5, 9), 5, 100, NO_LIMIT, &used),
	   KITH_EQUOTA, "and even a shrinking replacement that stays over it");
	ok(usage_is(s, owner_a, USED_A + COST(10, "s3"), 4), "usage untouched");
}

#undef USED_A
/* owner_a from test_shard_quota on. */
#define USED_A (COST(100, "s1") + COST(500, "s2") + COST(0, "empty") + COST(10, "s3"))

static void test_shard_names(struct store *s)
{
	char name[STORE_SHARD_NAME_MAX + 2];
	uint8_t *got = NULL;
	size_t len = 0;
	uint64_t used;

	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = 0;
	is(store_shard_put(s, owner_a, name, (const uint8_t *)"x", 1, NO_LIMIT, NO_LIMIT, &used),
	   KITH_ETOOBIG, "a name one byte too long: KITH_ETOOBIG");
	is(store_shard_get(s, owner_a, name, &got, &len), KITH_ETOOBIG, "get: KITH_ETOOBIG");
	is(store_shard_del(s, owner_a, name, &used), KITH_ETOOBIG, "del: KITH_ETOOBIG");
	name[STORE_SHARD_NAME_MAX] = 0;
	is(store_shard_put(s, owner_a, name, (const uint8_t *)"x", 1, NO_LIMIT, NO_LIMIT, &used), 0,
	   "a name of STORE_SHARD_NAME_MAX bytes is fine");
	is(used, USED_A + 1 + STORE_SHARD_NAME_MAX + STORE_SHARD_OVERHEAD,
	   "and its whole length counts");
	is(store_shard_del(s, owner_a, name, &used), 0, "and deleted");
	is(store_shard_put(s, owner_a, "", (const uint8_t *)"x", 1, NO_LIMIT, NO_LIMIT, &used),
	   KITH_EVALUE, "an empty name: KITH_EVALUE");
	is(store_shard_get(s, owner_a, "", &got, &len), KITH_EVALUE, "get: KITH_EVALUE");
	ok(usage_is(s, owner_a, USED_A, 4), "usage untouched");
}

static void test_shard_owners_del(struct store *s)
{
	static uint8_t buf[4096];
	uint64_t used = 99;

	is(store_shard_put(s, owner_b, "s1", pattern(buf, 700, 10), 700, COST(700, "s1"), NO_LIMIT,
	                   &used),
	   0, "owner b's s1, the same name as a's");
	ok(usage_is(s, owner_b, COST(700, "s1"), 1), "b is accounted on its own");
	ok(usage_is(s, owner_a, USED_A, 4), "a is unchanged");
	ok(holds(s, owner_a, "s1", 100, 4), "a's s1 is still a's");
	is(store_shard_del(s, owner_a, "s2", &used), 0, "delete a's s2");
	is(used, USED_A - COST(500, "s2"), "the rest left");
	is(store_shard_del(s, owner_a, "s2", &used), -ENOENT, "again: -ENOENT");
	is(store_shard_del(s, owner_c, "s1", &used), -ENOENT, "an owner with nothing: -ENOENT");
	ok(usage_is(s, owner_a, USED_A - COST(500, "s2"), 3), "usage exact after the delete");
	ok(usage_is(s, owner_b, COST(700, "s1"), 1), "b untouched");
	is(store_shard_del(s, owner_b, "s1", &used), 0, "delete b's only shard");
	is(used, 0, "nothing left");
	ok(usage_is(s, owner_b, 0, 0), "b uses nothing");
	is(store_shard_put(s, owner_b, "s1", pattern(buf, 700, 11), 700, COST(700, "s1"), NO_LIMIT,
	                   &used),
	   0, "b can fill its quota again");
}

#undef USED_A
/* owner_a from test_shard_owners_del on: s1 100, empty, s3 10. */
#define USED_A (COST(100, "s1") + COST(0, "empty") + COST(10, "s3"))

/* Owner b between a and c, with enough shards to span many pages. */
static void test_shard_drop(struct store *s)
{
	static uint8_t buf[4096];
	char name[32];
	uint64_t freed = 0, total = COST(700, "s1"), used;
	int stored = 0;

	for (unsigned i = 0; i < 400; i++) {
		size_t len = 1 + (i * 37) % 2000;
		snprintf(name, sizeof(name), "bulk-%03u", i);
		stored += store_shard_put(s, owner_b, name, pattern(buf, len, i), len, UINT64_MAX,
		                          NO_LIMIT, NULL) == 0;
		total += COST(len, "bulk-000");
	}
	is(stored, 400, "400 more shards for b");
	store_shard_put(s, owner_c, "c1", pattern(buf, 50, 12), 50, 1000, NO_LIMIT, NULL);
	ok(usage_is(s, owner_b, total, 401), "b's usage is the sum of its shards");
	is(store_shards_drop(s, owner_b, &freed), 0, "drop b");
	is(freed, total, "freed all of b's bytes");
	ok(usage_is(s, owner_b, 0, 0), "b uses nothing");
	is(store_shard_get(s, owner_b, "bulk-123", &(uint8_t *){NULL}, &(size_t){0}), -ENOENT,
	   "b's shards are gone");
	ok(usage_is(s, owner_a, USED_A, 3) && holds(s, owner_a, "s1", 100, 4),
	   "a before it is untouched");
	ok(usage_is(s, owner_c, COST(50, "c1"), 1) && holds(s, owner_c, "c1", 50, 12),
	   "c after it is untouched");
	is(store_shards_drop(s, owner_b, &freed), 0, "drop b again");
	is(freed, 0, "nothing to free");
	is(store_shards_drop(s, owner_c, NULL), 0, "drop c; freed may be NULL");
	ok(usage_is(s, owner_c, 0, 0), "c uses nothing");
	is(store_shard_put(s, owner_b, "s1", pattern(buf, 10, 13), 10, COST(10, "s1"), NO_LIMIT,
	                   &used),
	   0, "b starts over");
	is(used, COST(10, "s1"), "from zero");
}

/* The count bound: a new shard past max_shards is refused, a replacement
 * never is; bytes stay bounded by the quota. */
static void test_shard_count(struct store *s)
{
	static uint8_t buf[64];
	uint64_t used = 0;

	is(store_shard_put(s, owner_c, "k1", pattern(buf, 10, 1), 10, NO_LIMIT, 2, &used), 0,
	   "first of two");
	is(store_shard_put(s, owner_c, "k2", pattern(buf, 10, 2), 10, NO_LIMIT, 2, &used), 0,
	   "second of two");
	is(store_shard_put(s, owner_c, "k3", pattern(buf, 10, 3), 10, NO_LIMIT, 2, &used),
	   KITH_ETOOMANY, "a third: KITH_ETOOMANY");
	is(used, 2 * COST(10, "k1"), "used still says what is used");
	is(store_shard_get(s, owner_c, "k3", &(uint8_t *){NULL}, &(size_t){0}), -ENOENT,
	   "the refused shard was not stored");
	is(store_shard_put(s, owner_c, "k2", pattern(buf, 20, 4), 20, NO_LIMIT, 2, &used), 0,
	   "replacing one at the bound is fine");
	is(store_shard_put(s, owner_c, "k1", pattern(buf, 5, 5), 5, NO_LIMIT, 1, &used), 0,
	   "even with the bound lowered below the count");
	ok(usage_is(s, owner_c, COST(5, "k1") + COST(20, "k2"), 2), "usage exact");
	is(store_shard_del(s, owner_c, "k1", &used), 0, "delete one");
	is(store_shard_put(s, owner_c, "k3", pattern(buf, 10, 3), 10, NO_LIMIT, 2, &used), 0,
	   "and there is room for another");
	is(store_shard_put(s, owner_c, "k4", pattern(buf, 10, 6), 10, NO_LIMIT, 0, &used),
	   KITH_ETOOMANY, "a bound of 0 takes nothing new");
	is(store_shards_drop(s, owner_c, NULL), 0, "drop c");
}

/* The attack that made names and overhead count: a flood of empty shards
 * with the longest names. Each costs 192 bytes, so a 1 MiB quota holds
 * 5461 of them, not an unbounded number. */
static void test_shard_flood(void)
{
	char data[PATH_LEN], name[STORE_SHARD_NAME_MAX + 1];
	const uint64_t quota = 1 << 20, each = STORE_SHARD_NAME_MAX + STORE_SHARD_OVERHEAD;
	struct store *s = NULL;
	uint64_t used = 0, stored = 0;
	int rc = 0;

	is(open_fresh(&s, "shard-flood", data), 0, "open");
	memset(name, 'f', STORE_SHARD_NAME_MAX);
	name[STORE_SHARD_NAME_MAX] = 0;
	for (unsigned i = 0; i < 6000 && rc == 0; i++) {
		snprintf(name, sizeof(name), "%08u", i);
		name[8] = 'f'; /* snprintf ended it there: the name stays 128 bytes */
		rc = store_shard_put(s, owner_a, name, NULL, 0, quota, NO_LIMIT, &used);
		stored += rc == 0;
	}
	is(rc, KITH_EQUOTA, "empty shards run into the quota");
	is(stored, quota / each, "once their names and overhead pass it");
	is(used, stored * each, "used counts what they occupy");
	ok(usage_is(s, owner_a, stored * each, stored), "usage agrees");
	store_close(&s);
}

/* Usage values damaged or out of step with the shards: -EIO, nothing
 * changes, and drop repairs the owner. */
static void test_shard_damaged(void)
{
	static const uint8_t count_zero[16] = {0, 0, 0, 0, 0, 0, 0, 5};
	/* 10 bytes in 1 shard, where the shard costs 116 */
	static const uint8_t too_few[16] = {0, 0, 0, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0, 0, 0, 1};
	static uint8_t buf[100];
	char data[PATH_LEN];
	struct store *s = NULL;
	uint64_t bytes, count, used, freed;

	is(open_fresh(&s, "shard-damaged", data), 0, "open");
	store_shard_put(s, owner_a, "s1", pattern(buf, 50, 1), 50, 1000, NO_LIMIT, NULL);
	store_shard_put(s, owner_b, "s1", pattern(buf, 60, 2), 60, 1000, NO_LIMIT, NULL);
	store_close(&s);
	raw_put(data, "usage", owner_a, PROTO_KEY_LEN, "\x01\x02\x03", 3);
	store_open(&s, data, NULL);
	is(store_shard_usage(s, owner_a, &bytes, &count), -EIO, "short usage: -EIO");
	is(store_shard_put(s, owner_a, "s2", pattern(buf, 5, 3), 5, 1000, NO_LIMIT, &used), -EIO,
	   "put with a short usage: -EIO");
	is(store_shard_put(s, owner_a, "s1", pattern(buf, 5, 3), 5, 1000, NO_LIMIT, &used), -EIO,
	   "replace with a short usage: -EIO");
	is(store_shard_del(s, owner_a, "s1", &used), -EIO, "del with a short usage: -EIO");
	ok(holds(s, owner_a, "s1", 50, 1), "a's shard untouched");
	ok(usage_is(s, owner_b, COST(60, "s1"), 1), "b is not affected");
	store_close(&s);

	raw_put(data, "usage", owner_a, PROTO_KEY_LEN, too_few, sizeof(too_few));
	store_open(&s, data, NULL);
	ok(usage_is(s, owner_a, 10, 1), "a usage smaller than a shard reads");
	is(store_shard_put(s, owner_a, "s1", pattern(buf, 5, 3), 5, 1000, NO_LIMIT, &used), -EIO,
	   "but replacing that shard: -EIO");
	is(store_shard_del(s, owner_a, "s1", &used), -EIO, "deleting it: -EIO");
	ok(holds(s, owner_a, "s1", 50, 1), "a's shard untouched");
	store_close(&s);

	raw_put(data, "usage", owner_a, PROTO_KEY_LEN, count_zero, sizeof(count_zero));
	store_open(&s, data, NULL);
	is(store_shard_usage(s, owner_a, &bytes, &count), -EIO, "bytes in 0 shards: -EIO");
	is(store_shards_drop(s, owner_a, &freed), 0, "drop repairs a");
	is(freed, COST(50, "s1"), "freeing what the shards cost");
	ok(usage_is(s, owner_a, 0, 0), "a uses nothing");
	is(store_shard_put(s, owner_a, "s1", pattern(buf, 20, 4), 20, 1000, NO_LIMIT, &used), 0,
	   "and can store again");
	ok(usage_is(s, owner_a, COST(20, "s1"), 1) && usage_is(s, owner_b, COST(60, "s1"), 1),
	   "both exact");
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
	test_shard_count(s);
	store_close(&s);
	is(store_open(&s, data, NULL), 0, "reopen");
	ok(usage_is(s, owner_a, USED_A, 3) && holds(s, owner_a, "s1", 100, 4),
	   "shards and usage survive the reopen");
	is(store_shard_del(s, owner_a, "s1", &used), 0, "delete after the reopen");
	is(used, USED_A - COST(100, "s1"), "usage still exact");
	store_close(&s);
	test_shard_damaged();
	test_shard_flood();
}

/* A version-1 store (schema 1; meta, records, byseq, heads only) becomes
 * the current version in place; its records and counters stay, and are counted. */
static void test_upgrade_v1(void)
{
	struct proto_identity *id = NULL;
	struct proto_record in = {.kind = PROTO_KIND_SERVICE, .seq = 4};
	struct mp_buf b = {0};
	struct store_invite inv = invite(3, 1, now + 60), got;
	char data[PATH_LEN];
	struct store *s = NULL;
	uint8_t *rec = NULL;
	size_t len = 0;
	uint64_t first = 0, count = 0, records = 0, bytes = 0;

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
	is(STORE_SCHEMA_VERSION, 5, "which is 5");
	store_record_put(s, b.data, b.len, now, NULL);
	store_seq_reserve(s, 7, &first);
	store_close(&s);
	is(raw_rewind(data, 1, v1_missing, 5), 0, "rewind it to the version-1 layout");
	is(raw_schema(data), 1, "schema 1");
	is(store_open(&s, data, NULL), 0, "open a version-1 store");
	is(raw_schema(data), STORE_SCHEMA_VERSION, "it is the current version now");
	is(store_record_get(s, id->pk, PROTO_KIND_SERVICE, "web", &rec, &len), 0,
	   "its record is there");
	ok(rec && len == b.len && memcmp(rec, b.data, len) == 0, "unchanged");
	is(store_author_usage(s, id->pk, &records, &bytes), 0, "author usage");
	ok(records == 1 && bytes == b.len + 3 + STORE_RECORD_OVERHEAD, "counted by the upgrade");
	is(store_seq_reserve(s, 1, &first), 0, "reserve");
	is(first, 8, "its counter went on");
	is(store_invite_put(s, &inv), 0, "an invitation can be stored");
	is(store_shard_put(s, owner_a, "s", (const uint8_t *)"x", 1, 100, NO_LIMIT, NULL), 0,
	   "and a shard");
	store_close(&s);
	is(store_open(&s, data, NULL), 0, "reopen the upgraded store");
	is(store_invite_get(s, inv.id, &got), 0, "the invitation survived");
	ok(usage_is(s, owner_a, COST(1, "s"), 1), "the shard's usage too");
	is(store_record_count(s, &count), 0, "count");
	is(count, 1, "one record");
	store_close(&s);

	/* A version-1 store cannot hold shard data: one that does is damaged,
	 * and the upgrade leaves it alone. */
	is(raw_rewind(data, 1, v1_missing, 4), 0, "version 1 with a usage database left over");
	is(store_open(&s, data, NULL), -EIO, "open: -EIO");
	ok(s == NULL, "no store");
	is(raw_schema(data), 1, "still version 1: the upgrade was not committed");
	free(rec);
	mp_buf_free(&b);
	proto_identity_free(&id);
}

/* A store of version 2 or 3 without the databases its version says it
 * has is damaged, and left alone. */
static void test_upgrade_missing(void)
{
	char data[PATH_LEN];
	struct store *s = NULL;

	is(open_fresh(&s, "v2-missing", data), 0, "a fresh store");
	store_close(&s);
	is(raw_rewind(data, 2, v1_missing, 5), 0, "version 2 without invites, shards, usage");
	is(store_open(&s, data, NULL), -EIO, "version 2 without them: -EIO");
	is(raw_schema(data), 2, "left at version 2");

	is(open_fresh(&s, "v3-missing", data), 0, "another fresh store");
	store_close(&s);
	is(raw_rewind(data, 3, v2_missing, 2), 0, "version 3 without authors and expiry");
	is(store_open(&s, data, NULL), -EIO, "version 3 without them: -EIO");
}

/* A version-2 store written from nothing with plain LMDB, as issue 4's
 * code laid it out (docs/architecture.md): records with byseq and heads,
 * an invitation, and shards whose usage counts their data bytes only. */
struct v2_store {
	const struct mp_buf *recs;
	size_t n_recs;
	uint64_t seq; /* the own counter */
};

static int raw_v2_put(struct raw *r, const char *db, const void *key, size_t klen, const void *val,
                      size_t vlen)
{
	MDB_dbi dbi;
	MDB_val k = {klen, (void *)key}, v = {vlen, (void *)val};
	int rc = mdb_dbi_open(r->txn, db, MDB_CREATE, &dbi);

	return rc ? rc : mdb_put(r->txn, dbi, &k, &v, 0);
}

/* One record: its records, byseq and heads entries (the heads entry of a
 * later seq of the same author wins, as the caller orders them). */
static int raw_v2_record(struct raw *r, const struct mp_buf *b)
{
	struct proto_record rec;
	uint8_t key[PROTO_KEY_LEN + 1 + PROTO_NAME_MAX], skey[PROTO_KEY_LEN + 8];
	uint8_t val[8 + 1024], seq[8];
	size_t name_len;
	int rc = proto_record_decode(&rec, b->data, b->len);

	if (rc != 0 || b->len > 1024)
		return -1;
	name_len = strlen(rec.name);
	for (int i = 0; i < 8; i++)
		seq[i] = (uint8_t)(rec.seq >> (56 - 8 * i));
	memcpy(key, rec.author, PROTO_KEY_LEN);
	key[PROTO_KEY_LEN] = rec.kind;
	memcpy(key + PROTO_KEY_LEN + 1, rec.name, name_len);
	memcpy(val, seq, 8);
	memcpy(val + 8, b->data, b->len);
	memcpy(skey, rec.author, PROTO_KEY_LEN);
	memcpy(skey + PROTO_KEY_LEN, seq, 8);
	rc = raw_v2_put(r, "records", key, PROTO_KEY_LEN + 1 + name_len, val, 8 + b->len);
	if (rc == 0)
		rc = raw_v2_put(r, "byseq", skey, sizeof(skey), key + PROTO_KEY_LEN, 1 + name_len);
	if (rc == 0)
		rc = raw_v2_put(r, "heads", rec.author, PROTO_KEY_LEN, seq, 8);
	return rc;
}

static int raw_v2_store(const char *data, const struct v2_store *v2)
{
	static const uint8_t version[4] = {0, 0, 0, 2};
	/* owner_a: 10 + 20 bytes in 2 shards, owner_b: 0 bytes in 1, as
	 * version 2 counted them */
	static const uint8_t usage_a[16] = {0, 0, 0, 0, 0, 0, 0, 30, 0, 0, 0, 0, 0, 0, 0, 2};
	static const uint8_t usage_b[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
	uint8_t seq[8], key[PROTO_KEY_LEN + 8], buf[20] = {0};
	struct raw r;
	int rc = raw_begin(&r, data);

	for (int i = 0; i < 8; i++)
		seq[i] = (uint8_t)(v2->seq >> (56 - 8 * i));
	if (rc == 0)
		rc = raw_v2_put(&r, "meta", "schema", 6, version, 4);
	if (rc == 0)
		rc = raw_v2_put(&r, "meta", "seq", 3, seq, 8);
	for (size_t i = 0; i < v2->n_recs && rc == 0; i++)
		rc = raw_v2_record(&r, &v2->recs[i]);
	if (rc == 0)
		rc = raw_v2_put(&r, "invites", "0123456789abcdef", 16, "", 0);
	memcpy(key, owner_a, PROTO_KEY_LEN);
	memcpy(key + PROTO_KEY_LEN, "sh1", 3);
	if (rc == 0)
		rc = raw_v2_put(&r, "shards", key, PROTO_KEY_LEN + 3, buf, 10);
	memcpy(key + PROTO_KEY_LEN, "shard-2", 7);
	if (rc == 0)
		rc = raw_v2_put(&r, "shards", key, PROTO_KEY_LEN + 7, buf, 20);
	memcpy(key, owner_b, PROTO_KEY_LEN);
	if (rc == 0)
		rc = raw_v2_put(&r, "shards", key, PROTO_KEY_LEN + 1, buf, 0);
	if (rc == 0)
		rc = raw_v2_put(&r, "usage", owner_a, PROTO_KEY_LEN, usage_a, 16);
	if (rc == 0)
		rc = raw_v2_put(&r, "usage", owner_b, PROTO_KEY_LEN, usage_b, 16);
	return raw_end(&r, rc == 0) || rc;
}

/* Signs a service record name of id at seq expiring at expires. */
static int sign(struct mp_buf *b, const struct proto_identity *id, const char *name, uint64_t seq,
                uint64_t expires)
{
	struct proto_record in = {.kind = PROTO_KIND_SERVICE, .seq = seq, .issued = now};

	snprintf(in.name, sizeof(in.name), "%s", name);
	in.expires = expires;
	in.body = (const uint8_t *)"\x81\x01\xa2hi";
	in.body_len = 5;
	b->len = 0;
	return proto_record_sign(b, id, &in);
}

/* Which of a's four records of the v2 test are gone: an expiry walk, as
 * the upgrade built it, prunes them in expiry order. */
static void v2_check_expiry(struct store *s, const struct proto_identity *a)
{
	uint64_t removed = 0, records = 0, bytes = 0, head = 0;
	uint8_t *got = NULL;
	size_t len = 0;
	bool more = true;

	is(store_records_prune(s, now + 150, 10, &removed, &more), 0, "prune before now + 150");
	ok(removed == 2 && !more, "the two records expiring at now + 100 went, a's and b's");
	is(store_record_get(s, a->pk, PROTO_KIND_SERVICE, "r1", &got, &len), -ENOENT, "r1 is gone");
	is(store_records_prune(s, now + 350, 1, &removed, &more), 0, "prune before now + 350");
	ok(removed == 1 && more, "one at a time: one more is due");
	is(store_records_prune(s, now + 350, 1, &removed, &more), 0, "again");
	ok(removed == 1 && !more, "the second, then no more");
	is(store_author_usage(s, a->pk, &records, &bytes), 0, "a's usage after pruning");
	is(records, 1, "one record left");
	is(store_head_get(s, a->pk, &head), 0, "head");
	is(head, 4, "the head stays where it was");
}

static void test_upgrade_v2(void)
{
	struct proto_identity *a = NULL, *b = NULL;
	struct mp_buf recs[5] = {{0}};
	char data[PATH_LEN], path[PATH_LEN];
	struct store *s = NULL;
	uint64_t records = 0, bytes = 0, first = 0, want_a = 0;

	if (proto_identity_generate(&a) || proto_identity_generate(&b) ||
	    sign(&recs[0], a, "r1", 1, now + 100) || sign(&recs[1], a, "r2", 2, now + 300) ||
	    sign(&recs[2], a, "r3", 3, now + 200) || sign(&recs[3], a, "long-name", 4, now + 900) ||
	    sign(&recs[4], b, "r1", 7, now + 100)) {
		ok(0, "identities and records for the version-2 test");
		return;
	}
	mkdir(join(data, dir, "v2"), 0700);
	mkdir(join(path, data, STORE_DIR), 0700);
	is(raw_v2_store(data, &(struct v2_store){recs, 5, 9}), 0, "write a version-2 store");
	is(store_open(&s, data, &(struct store_options){.read_only = true}), KITH_ESCHEMA,
	   "a reader refuses it (only kithd upgrades)");
	ok(s == NULL, "nothing is returned");
	is(raw_schema(data), 2, "and leaves it at version 2");
	is(store_open(&s, data, NULL), 0, "open it");
	is(raw_schema(data), STORE_SCHEMA_VERSION, "the current version now");
	for (size_t i = 0; i < 4; i++)
		want_a += recs[i].len + (i == 3 ? 9 : 2) + STORE_RECORD_OVERHEAD;
	is(store_author_usage(s, a->pk, &records, &bytes), 0, "a's usage");
	ok(records == 4 && bytes == want_a, "counted from a's four records");
	is(store_author_usage(s, b->pk, &records, &bytes), 0, "b's usage");
	ok(records == 1 && bytes == recs[4].len + 2 + STORE_RECORD_OVERHEAD, "and b's one");
	ok(usage_is(s, owner_a, COST(10, "sh1") + COST(20, "shard-2"), 2),
	   "a's shard usage recounted with names and overhead");
	ok(usage_is(s, owner_b, 1 + STORE_SHARD_OVERHEAD, 1), "b's empty shard costs too");
	is(store_seq_reserve(s, 1, &first), 0, "reserve");
	is(first, 10, "the counter went on");
	store_close(&s);
	is(store_open(&s, data, &(struct store_options){.read_only = true}), 0,
	   "a reader opens the version-3 store");
	is(store_author_usage(s, a->pk, &records, &bytes), 0, "and reads it");
	is(store_seq_reserve(s, 1, &first), -EROFS, "but never writes it");
	store_close(&s);
	is(store_open(&s, data, NULL), 0, "a version-3 store reopens");
	v2_check_expiry(s, a);
	is(store_author_usage(s, b->pk, &records, &bytes), 0, "b's usage");
	is(records, 0, "b's record expired at now + 100 too and went in the first prune");
	store_close(&s);
	for (size_t i = 0; i < 5; i++)
		mp_buf_free(&recs[i]);
	proto_identity_free(&a);
	proto_identity_free(&b);
}

/* A version-2 store whose records cannot be counted (one does not decode)
 * or that already holds a version-3 database stays as it was. */
static void test_upgrade_v2_damaged(void)
{
	struct proto_identity *a = NULL;
	struct mp_buf rec = {0};
	uint8_t key[PROTO_KEY_LEN + 1 + 3];
	char data[PATH_LEN], path[PATH_LEN];
	struct store *s = NULL;

	if (proto_identity_generate(&a) || sign(&rec, a, "r1", 1, now + 100)) {
		ok(0, "a record for the damaged version-2 test");
		return;
	}
	mkdir(join(data, dir, "v2-damaged"), 0700);
	mkdir(join(path, data, STORE_DIR), 0700);
	is(raw_v2_store(data, &(struct v2_store){&rec, 1, 1}), 0, "write a version-2 store");
	raw_put(data, "authors", owner_a, PROTO_KEY_LEN, "x", 1);
	is(store_open(&s, data, NULL), -EIO, "one that holds authors already: -EIO");
	is(raw_schema(data), 2, "left at version 2");
	raw_rewind(data, 2, v2_missing, 1);
	memcpy(key, a->pk, PROTO_KEY_LEN);
	key[PROTO_KEY_LEN] = PROTO_KIND_SERVICE;
	memcpy(key + PROTO_KEY_LEN + 1, "bad", 3);
	raw_put(data, "records", key, sizeof(key), "\0\0\0\0\0\0\0\1\x92", 9);
	is(store_open(&s, data, NULL), -EIO, "one with a record that does not decode: -EIO");
	is(raw_schema(data), 2, "left at version 2");
	mp_buf_free(&rec);
	proto_identity_free(&a);
}

/* Versions this build does not know are refused and left untouched. */
static void test_versions(void)
{
	static const uint8_t versions[][4] = {{0, 0, 0, 0}, {0, 0, 0, 6}, {0, 0, 1, 5}};
	char data[PATH_LEN], what[64];
	struct store *s = NULL;

	is(open_fresh(&s, "versions", data), 0, "a fresh store");
	store_close(&s);
	for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
		long v = (long)versions[i][2] << 8 | versions[i][3];

		raw_put(data, "meta", "schema", 6, versions[i], 4);
		snprintf(what, sizeof(what), "version %ld: KITH_ESCHEMA", v);
		is(store_open(&s, data, NULL), KITH_ESCHEMA, what);
		snprintf(what, sizeof(what), "version %ld left as it was", v);
		is(raw_schema(data), v, what);
	}
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
	test_upgrade_v1();
	test_upgrade_missing();
	test_upgrade_v2();
	test_upgrade_v2_damaged();
	test_versions();
	rm_tree(dir);
	return tap_done();
}
