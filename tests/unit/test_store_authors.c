/* What authors' records cost, budgets, pruning and dropping: authors
 * always equals the sum over each author's records, whatever puts,
 * replacements, tombstones, prunes and drops did; a record over its
 * budget is refused and passed over; pruning removes exactly the expired
 * records in slices; dropping keeps the kept kinds and forgets the head
 * when done. */
#define _XOPEN_SOURCE 700 /* nftw() */
#include <errno.h>
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
#include "rm_tree.h"

#define PATH_LEN 512
#define NO_LIMIT ((struct store_budget){UINT64_MAX, UINT64_MAX})

static char dir[] = "/tmp/kith-test-store-authors-XXXXXX";
static struct proto_identity *alice, *bob;
static uint64_t now;

/* A signed record of id with a body of body_len bytes (0: a tombstone);
 * *out is reset first. */
static int make(struct mp_buf *out, const struct proto_identity *id, uint8_t kind, const char *name,
                uint64_t seq, uint64_t expires, size_t body_len)
{
	static uint8_t body[4096];
	struct proto_record in = {.kind = kind, .seq = seq, .issued = now, .expires = expires};

	/* a msgpack map {1: bin} of the right total size */
	memset(body, 0, sizeof(body));
	body[0] = 0x81;
	body[1] = 0x01;
	body[2] = 0xc5;
	body[3] = (uint8_t)((body_len - 5) >> 8);
	body[4] = (uint8_t)(body_len - 5);
	snprintf(in.name, sizeof(in.name), "%s", name);
	in.body = body;
	in.body_len = body_len;
	out->len = 0;
	return proto_record_sign(out, id, &in);
}

/* A service record of alice expiring in a day with a body of size. */
static int make_a(struct mp_buf *out, const char *name, uint64_t seq, size_t size)
{
	return make(out, alice, PROTO_KIND_SERVICE, name, seq, now + 86400, size);
}

static int put(struct store *s, const struct mp_buf *b, const struct store_budget *budget)
{
	return store_record_put_budget(s, b->data, b->len, now, budget, NULL);
}

/* What a record costs. */
static uint64_t cost(const struct mp_buf *b, const char *name)
{
	return b->len + strlen(name) + STORE_RECORD_OVERHEAD;
}

/* The sum over one author's current records, from a walk. */
struct tally {
	const uint8_t *author;
	uint64_t records, bytes;
};

static int tally_one(void *arg, const uint8_t *buf, size_t len)
{
	struct tally *t = arg;
	struct proto_record rec;

	if (proto_record_decode(&rec, buf, len) != 0)
		return -1;
	if (memcmp(rec.author, t->author, PROTO_KEY_LEN) == 0) {
		t->records++;
		t->bytes += len + strlen(rec.name) + STORE_RECORD_OVERHEAD;
	}
	return 0;
}

/* Whether author's authors entry, its records and its byseq index agree. */
static int agrees(struct store *s, const uint8_t *author)
{
	struct tally all = {author, 0, 0}, byseq = {author, 0, 0};
	uint64_t records = 99, bytes = 99;

	if (store_records_each(s, tally_one, &all) != 0 ||
	    store_records_since(s, author, 0, tally_one, &byseq) != 0 ||
	    store_author_usage(s, author, &records, &bytes) != 0)
		return 0;
	if (records != all.records || bytes != all.bytes || byseq.records != all.records ||
	    byseq.bytes != all.bytes) {
		printf("# usage %llu/%llu, records %llu/%llu, byseq %llu/%llu\n",
		       (unsigned long long)records, (unsigned long long)bytes,
		       (unsigned long long)all.records, (unsigned long long)all.bytes,
		       (unsigned long long)byseq.records, (unsigned long long)byseq.bytes);
		return 0;
	}
	return 1;
}

static int usage_is(struct store *s, const uint8_t *author, uint64_t records, uint64_t bytes)
{
	uint64_t r = 99, b = 99;

	return store_author_usage(s, author, &r, &b) == 0 && r == records && b == bytes;
}

static uint64_t head(struct store *s, const uint8_t *author)
{
	uint64_t seq = 99;

	return store_head_get(s, author, &seq) == 0 ? seq : 99;
}

static int exists(struct store *s, const struct proto_identity *id, uint8_t kind, const char *name)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc = store_record_get(s, id->pk, kind, name, &buf, &len);

	free(buf);
	return rc == 0;
}

static int open_fresh(struct store **s, const char *name)
{
	char data[PATH_LEN];

	snprintf(data, sizeof(data), "%s/%s", dir, name);
	mkdir(data, 0700);
	return store_open(s, data, NULL);
}

static void test_usage(void)
{
	struct store *s = NULL;
	struct mp_buf b = {0}, t = {0};
	struct store_item items[3];
	uint64_t r = 0, c = 0;

	is(open_fresh(&s, "usage"), 0, "open");
	ok(usage_is(s, alice->pk, 0, 0), "an unknown author costs nothing");
	make_a(&b, "web", 1, 100);
	is(put(s, &b, NULL), 0, "a new record");
	ok(usage_is(s, alice->pk, 1, cost(&b, "web")), "costs its length, name and overhead");
	make_a(&b, "web", 2, 900);
	is(put(s, &b, NULL), 0, "a bigger replacement");
	ok(usage_is(s, alice->pk, 1, cost(&b, "web")), "costs only itself");
	make_a(&b, "web", 1, 10);
	is(put(s, &b, NULL), 0, "a stale one");
	ok(agrees(s, alice->pk), "changes nothing");
	make_a(&t, "mail", 3, 50);
	put(s, &t, NULL);
	make_a(&t, "mail", 4, 0);
	is(put(s, &t, NULL), 0, "a tombstone replaces it");
	ok(agrees(s, alice->pk), "and costs what it occupies");
	is(store_author_usage(s, alice->pk, &r, &c), 0, "usage");
	is(r, 2, "two records");
	make(&b, bob, PROTO_KIND_OBSERVATION, "o1", 1, now + 600, 20);
	make(&t, bob, PROTO_KIND_OBSERVATION, "o2", 2, now + 600, 30);
	items[0] = (struct store_item){.buf = b.data, .len = b.len};
	items[1] = (struct store_item){.buf = t.data, .len = t.len};
	make_a(&b, "ftp", 5, 70);
	items[2] = (struct store_item){.buf = b.data, .len = b.len};
	is(store_records_put(s, items, 3, now), 0, "a batch of two authors");
	ok(agrees(s, alice->pk) && agrees(s, bob->pk), "both counted");
	store_close(&s);
	mp_buf_free(&b);
	mp_buf_free(&t);
}

struct author_list {
	uint64_t n, records, bytes;
};

static int list_author(void *arg, const uint8_t author[PROTO_KEY_LEN], uint64_t records,
                       uint64_t bytes)
{
	struct author_list *l = arg;

	(void)author;
	l->n++;
	l->records += records;
	l->bytes += bytes;
	return 0;
}

static int stop_author(void *arg, const uint8_t author[PROTO_KEY_LEN], uint64_t records,
                       uint64_t bytes)
{
	(void)arg;
	(void)author;
	(void)records;
	(void)bytes;
	return 9;
}

static void test_each_stats(void)
{
	struct store *s = NULL;
	struct author_list l = {0};
	struct store_stats st;
	uint64_t ra = 0, ba = 0, rb = 0, bb = 0;

	is(open_fresh(&s, "usage"), 0, "reopen the usage store");
	is(store_authors_each(s, list_author, &l), 0, "walk authors");
	store_author_usage(s, alice->pk, &ra, &ba);
	store_author_usage(s, bob->pk, &rb, &bb);
	ok(l.n == 2 && l.records == ra + rb && l.bytes == ba + bb, "two authors, as counted");
	is(store_authors_each(s, stop_author, NULL), 9, "a non-zero return stops the walk");
	is(store_stats_get(s, &st), 0, "stats");
	ok(st.records == ra + rb && st.authors == 2, "records and authors");
	ok(st.used_bytes > 0 && st.used_bytes % 4096 == 0 && st.used_bytes < st.map_bytes,
	   "used bytes: whole pages, within the map");
	ok(st.map_bytes == STORE_MAP_SIZE_DEFAULT && st.map_max == STORE_MAP_MAX_DEFAULT,
	   "the default map and limit");
	store_close(&s);
}

/* Records over a budget of records or bytes are refused and passed over;
 * replacements that do not grow always pass; NULL is no limit. */
static void test_budget(void)
{
	struct store_budget three = {3, UINT64_MAX}, tight;
	struct store *s = NULL;
	struct mp_buf b = {0};
	uint64_t r = 0, bytes = 0;
	enum store_put_result res = 0;

	is(open_fresh(&s, "budget"), 0, "open");
	for (unsigned i = 1; i <= 3; i++) {
		char name[8];
		snprintf(name, sizeof(name), "n%u", i);
		make_a(&b, name, i, 100);
		put(s, &b, &three);
	}
	ok(usage_is(s, alice->pk, 3, 3 * cost(&b, "n1")), "three records within a budget of three");
	make_a(&b, "n4", 10, 100);
	is(put(s, &b, &three), KITH_EQUOTA, "a fourth: KITH_EQUOTA");
	ok(!exists(s, alice, PROTO_KIND_SERVICE, "n4"), "not stored");
	is(head(s, alice->pk), 10, "its seq is passed over");
	ok(agrees(s, alice->pk) && usage_is(s, alice->pk, 3, 3 * cost(&b, "n1")),
	   "usage as it was");
	make_a(&b, "n1", 11, 200);
	is(store_record_put_budget(s, b.data, b.len, now, &three, &res), 0,
	   "a replacement keeps the count: within a budget of records");
	is(res, STORE_PUT_REPLACED, "replaced");
	store_author_usage(s, alice->pk, &r, &bytes);

	tight = (struct store_budget){UINT64_MAX, bytes + 10};
	make_a(&b, "n2", 12, 100 + 11);
	is(put(s, &b, &tight), KITH_EQUOTA, "a replacement 1 byte over the bytes: KITH_EQUOTA");
	is(head(s, alice->pk), 12, "passed over");
	make_a(&b, "n2", 13, 100 + 10);
	is(put(s, &b, &tight), 0, "one up to exactly the bytes is stored");
	ok(usage_is(s, alice->pk, 3, tight.bytes), "the bytes are used up");

	tight = (struct store_budget){1, 100};
	make_a(&b, "n3", 14, 100);
	is(put(s, &b, &tight), 0, "a replacement of the same size passes a lowered budget");
	make_a(&b, "n3", 15, 60);
	is(put(s, &b, &tight), 0, "and so does a shrinking one");
	make_a(&b, "n3", 16, 61);
	is(put(s, &b, &tight), KITH_EQUOTA, "a growing one does not");
	make_a(&b, "n5", 17, 10);
	is(put(s, &b, &tight), KITH_EQUOTA, "nor a new one");
	make_a(&b, "n5", 5, 10);
	is(put(s, &b, &tight), KITH_EQUOTA, "a refused seq below the head");
	is(head(s, alice->pk), 17, "leaves the head where it is");

	/* The way out for a member that filled its budget: a later record
	 * with the larger budget the caller gives it (a revocation, say). */
	make(&b, alice, PROTO_KIND_REVOCATION, "rv", 18, now + 600, 50);
	is(put(s, &b, &NO_LIMIT), 0, "a later record with a larger budget gets through");
	make_a(&b, "n6", 19, 3000);
	is(put(s, &b, NULL), 0, "a NULL budget is no limit");
	ok(agrees(s, alice->pk), "usage agrees with the records");
	store_close(&s);
	mp_buf_free(&b);
}

/* Budgets travel per item in a batch; a refused one does not stop the
 * others, and the refusals are committed with them. */
static void test_budget_batch(void)
{
	struct store_budget one = {1, UINT64_MAX};
	struct store *s = NULL;
	struct mp_buf b[4] = {{0}};
	struct store_item items[4];

	is(open_fresh(&s, "budget-batch"), 0, "open");
	make_a(&b[0], "a", 1, 100);
	make_a(&b[1], "b", 2, 100);                                   /* a second: refused */
	make(&b[2], bob, PROTO_KIND_SERVICE, "x", 3, now + 600, 100); /* bob: his first */
	make_a(&b[3], "c", 4, 100);                                   /* without budget */
	for (size_t i = 0; i < 4; i++)
		items[i] = (struct store_item){.buf = b[i].data, .len = b[i].len, .budget = &one};
	items[3].budget = NULL;
	is(store_records_put(s, items, 4, now), 0, "a batch with budgets");
	ok(items[0].err == 0 && items[0].result == STORE_PUT_NEW, "the first fits");
	is(items[1].err, KITH_EQUOTA, "the second is over: KITH_EQUOTA");
	ok(items[2].err == 0 && items[3].err == 0,
	   "another author's, and one without budget, pass");
	ok(usage_is(s, alice->pk, 2, cost(&b[0], "a") + cost(&b[3], "c")), "alice: two");
	is(head(s, alice->pk), 4, "alice's head");
	store_close(&s);
	is(open_fresh(&s, "budget-batch"), 0, "reopen");
	ok(!exists(s, alice, PROTO_KIND_SERVICE, "b") && agrees(s, alice->pk) && agrees(s, bob->pk),
	   "committed as reported");
	store_close(&s);
	for (size_t i = 0; i < 4; i++)
		mp_buf_free(&b[i]);
}

/* Six records of alice expiring at now + 100 * k (k = 1..6), named e1..e6,
 * and one of bob at now + 350. */
static void prune_fill(struct store *s)
{
	struct mp_buf b = {0};
	char name[8];

	for (unsigned k = 1; k <= 6; k++) {
		snprintf(name, sizeof(name), "e%u", k);
		make(&b, alice, PROTO_KIND_OBSERVATION, name, k, now + 100 * k, 40 + k);
		put(s, &b, NULL);
	}
	make(&b, bob, PROTO_KIND_OBSERVATION, "b1", 1, now + 350, 40);
	put(s, &b, NULL);
	mp_buf_free(&b);
}

static void test_prune(void)
{
	struct store *s = NULL;
	struct mp_buf b = {0};
	uint64_t removed = 99, count = 0;
	bool more = false;

	is(open_fresh(&s, "prune"), 0, "open");
	prune_fill(s);
	/* e2 is replaced by a record that expires later: its old expiry
	 * must not prune the replacement */
	make(&b, alice, PROTO_KIND_OBSERVATION, "e2", 7, now + 1000, 30);
	put(s, &b, NULL);
	is(store_records_prune(s, now + 100, 10, &removed, &more), 0, "prune before now + 100");
	ok(removed == 0 && !more, "nothing expired before it (expires < before)");
	is(store_records_prune(s, now + 401, 2, &removed, &more), 0, "prune before now + 401, 2");
	ok(removed == 2 && more, "a slice of two, more due");
	is(store_records_prune(s, now + 401, 2, &removed, &more), 0, "again");
	ok(removed == 2 && !more, "the last two due, none more");
	ok(!exists(s, alice, PROTO_KIND_OBSERVATION, "e1") &&
	       !exists(s, alice, PROTO_KIND_OBSERVATION, "e3") &&
	       !exists(s, alice, PROTO_KIND_OBSERVATION, "e4") &&
	       !exists(s, bob, PROTO_KIND_OBSERVATION, "b1"),
	   "e1, e3, e4 and bob's b1 are gone");
	ok(exists(s, alice, PROTO_KIND_OBSERVATION, "e2") &&
	       exists(s, alice, PROTO_KIND_OBSERVATION, "e5") &&
	       exists(s, alice, PROTO_KIND_OBSERVATION, "e6"),
	   "the replaced e2, e5 and e6 stay");
	is(head(s, alice->pk), 7, "alice's head stays");
	is(head(s, bob->pk), 1, "bob's too, with no record left");
	ok(agrees(s, alice->pk) && usage_is(s, bob->pk, 0, 0), "usage follows");
	make(&b, bob, PROTO_KIND_OBSERVATION, "b1", 1, now + 350, 40);
	is(put(s, &b, NULL), 0, "a pruned record offered again");
	store_record_count(s, &count);
	is(count, 4, "is stored again: the head is gossip's guard, not the store's");
	is(store_records_prune(s, UINT64_MAX, 0, &removed, &more), 0, "max 0");
	ok(removed == 0 && more, "removes nothing, says more are due");
	/* a grant that expired: the trust replay still reads it */
	make(&b, bob, PROTO_KIND_GRANT, "g-1", 2, now + 10, 40);
	is(put(s, &b, NULL), 0, "bob's grant");
	is(store_records_prune(s, UINT64_MAX, SIZE_MAX, NULL, NULL), 0,
	   "prune all; outs may be NULL");
	store_record_count(s, &count);
	is(count, 1, "nothing left but the grant");
	ok(exists(s, bob, PROTO_KIND_GRANT, "g-1"), "grants stay past their expiry");
	ok(usage_is(s, alice->pk, 0, 0) && agrees(s, bob->pk), "no cost left but the grant's");
	store_close(&s);
	mp_buf_free(&b);
}

/* Kinds 1..7 of alice, one record each, then bob's. */
static void drop_fill(struct store *s)
{
	struct mp_buf b = {0};

	for (uint8_t kind = 1; kind <= 7; kind++) {
		make(&b, alice, kind, "k", kind, now + 600, 30 + kind);
		put(s, &b, NULL);
	}
	make(&b, alice, PROTO_KIND_SERVICE, "web", 8, now + 600, 30);
	put(s, &b, NULL);
	make(&b, bob, PROTO_KIND_SERVICE, "web", 1, now + 600, 30);
	put(s, &b, NULL);
	mp_buf_free(&b);
}

static void test_drop(void)
{
	const uint32_t keep = 1u << PROTO_KIND_GRANT | 1u << PROTO_KIND_REVOCATION;
	struct store *s = NULL;
	uint64_t removed = 0, total = 0, r = 0, bytes = 0;
	bool more = true;
	int calls = 0;

	is(open_fresh(&s, "drop"), 0, "open");
	drop_fill(s);
	while (more && calls < 10) {
		is(store_author_drop(s, alice->pk, keep, 2, &removed, &more), 0, "drop a slice");
		total += removed;
		ok(agrees(s, alice->pk), "usage agrees after each slice");
		if (more)
			is(head(s, alice->pk), 8, "the head stays while records are left");
		calls++;
	}
	is(calls, 3, "six records in slices of two");
	is(total, 6, "all but the grant and the revocation");
	ok(exists(s, alice, PROTO_KIND_GRANT, "k") && exists(s, alice, PROTO_KIND_REVOCATION, "k"),
	   "the kept kinds are there");
	ok(!exists(s, alice, PROTO_KIND_SERVICE, "web") &&
	       !exists(s, alice, PROTO_KIND_MEMBER, "k"),
	   "the others are gone");
	is(head(s, alice->pk), 0, "the head went with the last slice");
	is(store_author_usage(s, alice->pk, &r, &bytes), 0, "usage");
	is(r, 2, "the kept records stay counted");
	ok(agrees(s, bob->pk) && exists(s, bob, PROTO_KIND_SERVICE, "web") && head(s, bob->pk) == 1,
	   "bob untouched");
	is(store_author_drop(s, alice->pk, keep, 2, &removed, &more), 0, "drop again");
	ok(removed == 0 && !more, "nothing to do");
	is(store_author_drop(s, alice->pk, 0, 0, &removed, &more), 0, "keeping nothing, max 0");
	ok(removed == 0 && more, "says records are left");
	is(store_author_drop(s, alice->pk, 0, SIZE_MAX, NULL, NULL), 0, "keeping nothing");
	ok(usage_is(s, alice->pk, 0, 0), "no entry left");
	is(store_author_drop(s, (const uint8_t[PROTO_KEY_LEN]){7}, keep, 5, &removed, &more), 0,
	   "an author with nothing");
	ok(removed == 0 && !more, "has nothing to drop");
	store_close(&s);
}

/* A damaged authors entry refuses changes (-EIO), and a whole drop that
 * keeps everything recounts it. */
static void test_damaged(void)
{
	char path[PATH_LEN];
	struct store *s = NULL;
	struct mp_buf b = {0};
	MDB_env *env = NULL;
	MDB_txn *txn = NULL;
	MDB_dbi dbi;
	MDB_val k = {PROTO_KEY_LEN, alice->pk}, v = {3, "bad"};
	bool more = true;

	is(open_fresh(&s, "damaged"), 0, "open");
	make_a(&b, "web", 1, 50);
	put(s, &b, NULL);
	store_close(&s);
	snprintf(path, sizeof(path), "%s/damaged/%s", dir, STORE_DIR);
	ok(mdb_env_create(&env) == 0 && mdb_env_set_maxdbs(env, 16) == 0 &&
	       mdb_env_open(env, path, 0, 0600) == 0 && mdb_txn_begin(env, NULL, 0, &txn) == 0 &&
	       mdb_dbi_open(txn, "authors", 0, &dbi) == 0 && mdb_put(txn, dbi, &k, &v, 0) == 0 &&
	       mdb_txn_commit(txn) == 0,
	   "damage alice's authors entry");
	mdb_env_close(env);
	is(open_fresh(&s, "damaged"), 0, "reopen");
	make_a(&b, "web", 2, 50);
	is(put(s, &b, NULL), -EIO, "a replacement: -EIO");
	make_a(&b, "mail", 3, 50);
	is(put(s, &b, NULL), -EIO, "a new record: -EIO");
	is(store_author_drop(s, alice->pk, UINT32_MAX, SIZE_MAX, NULL, &more), 0,
	   "a drop that keeps every kind");
	ok(!more && agrees(s, alice->pk), "recounts the entry");
	is(put(s, &b, NULL), 0, "and puts work again");
	store_close(&s);
	mp_buf_free(&b);
}

static int write_inside(void *arg, const uint8_t *buf, size_t len)
{
	struct store *s = arg;

	(void)buf;
	(void)len;
	return store_records_prune(s, UINT64_MAX, 1, NULL, NULL);
}

static void test_busy(void)
{
	struct store *s = NULL;
	struct mp_buf b = {0};

	is(open_fresh(&s, "busy"), 0, "open");
	make_a(&b, "web", 1, 50);
	put(s, &b, NULL);
	is(store_records_each(s, write_inside, s), -EBUSY, "pruning inside a walk: -EBUSY");
	store_close(&s);
	mp_buf_free(&b);
}

int main(void)
{
	now = (uint64_t)time(NULL);
	if (!mkdtemp(dir) || proto_identity_generate(&alice) || proto_identity_generate(&bob)) {
		perror("setup");
		return 1;
	}
	test_usage();
	test_each_stats();
	test_budget();
	test_budget_batch();
	test_prune();
	test_drop();
	test_damaged();
	test_busy();
	proto_identity_free(&alice);
	proto_identity_free(&bob);
	rm_tree(dir);
	return tap_done();
}
