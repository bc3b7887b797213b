/* The LMDB store: records are verified before they are written, the
 * highest seq wins, byseq and heads follow every replacement, damaged
 * values end in -EIO, a store of another schema is left untouched, and
 * the map grows up to its limit, where adding stops and pruning goes on. */
#define _XOPEN_SOURCE 700 /* nftw() */
#include <errno.h>
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

static char dir[] = "/tmp/kith-test-store-XXXXXX";
static struct proto_identity *alice, *bob;
static uint64_t now;

/* A signed record of id; *out is reset first. Returns 0 or the sign error. */
static int make(struct mp_buf *out, const struct proto_identity *id, uint8_t kind, const char *name,
                uint64_t seq, uint64_t issued, uint64_t expires)
{
	static const uint8_t body[] = {0x81, 0x01, 0xa3, 'a', 'b', 'c'};
	struct proto_record in = {.kind = kind, .seq = seq, .issued = issued, .expires = expires};

	snprintf(in.name, sizeof(in.name), "%s", name);
	in.body = body;
	in.body_len = sizeof(body);
	out->len = 0;
	return proto_record_sign(out, id, &in);
}

/* A current record of alice: issued now, expires in a day. */
static int make_a(struct mp_buf *out, const char *name, uint64_t seq)
{
	return make(out, alice, PROTO_KIND_SERVICE, name, seq, now, now + 86400);
}

static int put(struct store *s, const struct mp_buf *b, enum store_put_result *res)
{
	return store_record_put(s, b->data, b->len, now, res);
}

#define PATH_LEN 512

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

/* Writes key -> val into the named database db of the LMDB environment at
 * path, behind the store's back. */
static int raw_put(const char *path, const char *db, const void *key, size_t klen, const void *val,
                   size_t vlen)
{
	MDB_env *env = NULL;
	MDB_txn *txn = NULL;
	MDB_dbi dbi;
	MDB_val k = {klen, (void *)key}, v = {vlen, (void *)val};
	int rc = mdb_env_create(&env);

	if (rc == 0)
		rc = mdb_env_set_maxdbs(env, 8);
	if (rc == 0)
		rc = mdb_env_open(env, path, 0, 0600);
	if (rc == 0)
		rc = mdb_txn_begin(env, NULL, 0, &txn);
	if (rc == 0)
		rc = mdb_dbi_open(txn, db, MDB_CREATE, &dbi);
	if (rc == 0)
		rc = mdb_put(txn, dbi, &k, &v, 0);
	if (rc == 0) {
		rc = mdb_txn_commit(txn);
		txn = NULL;
	}
	if (txn)
		mdb_txn_abort(txn);
	mdb_env_close(env);
	return rc;
}

static int read_file(const char *path, uint8_t **data, size_t *len)
{
	FILE *f = fopen(path, "rb");
	long n;

	*data = NULL;
	if (!f)
		return -1;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	*data = malloc(n > 0 ? (size_t)n : 1);
	*len = *data ? fread(*data, 1, (size_t)n, f) : 0;
	fclose(f);
	return *len == (size_t)n ? 0 : -1;
}

static void test_open_reopen(void)
{
	char path[PATH_LEN];
	struct store *s = NULL;
	struct stat st;
	uint64_t first = 0, count = 1;

	is(store_open(&s, join(path, dir, "a"), NULL), -ENOENT, "missing data dir: -ENOENT");
	ok(s == NULL, "no store on failure");
	is(store_open(&s, dir, NULL), 0, "create");
	ok(stat(join(path, dir, STORE_DIR), &st) == 0 && (st.st_mode & 0777) == 0700,
	   "store dir is 0700");
	is(store_record_count(s, &count), 0, "count");
	is(count, 0, "new store is empty");
	is(store_seq_reserve(s, 1, &first), 0, "reserve");
	is(first, 1, "first seq is 1");
	is(store_seq_reserve(s, 3, &first), 0, "reserve 3");
	is(first, 2, "then 2");
	is(store_seq_reserve(s, 0, &first), -EINVAL, "reserve 0 is refused");
	store_close(&s);
	ok(s == NULL, "close clears the pointer");
	store_close(&s);
	store_close(NULL);
	ok(1, "close is harmless on NULL");
	is(store_open(&s, dir, NULL), 0, "reopen");
	is(store_seq_reserve(s, 1, &first), 0, "reserve after reopen");
	is(first, 5, "counter survived the reopen");
	ok(store_lmdb_error(s) == NULL, "no LMDB failure so far");
	is(store_counter_next(s, "incarnation", 1, 0, &first), 0, "a new counter");
	is(first, 1, "a new counter starts at 1");
	is(store_counter_next(s, "incarnation", 1, 41, &first), 0, "counter with a floor");
	is(first, 42, "the floor lifts the counter");
	is(store_counter_next(s, "incarnation", 1, 7, &first), 0, "a lower floor");
	is(first, 43, "a lower floor changes nothing");
	is(store_seq_reserve(s, 1, &first), 0, "the seq counter is separate");
	is(first, 6, "seq went on from 5");
	store_close(&s);
	is(store_open(&s, dir, NULL), 0, "reopen again");
	is(store_counter_next(s, "incarnation", 1, 0, &first), 0, "counter after reopen");
	is(first, 44, "named counter survived the reopen");
	store_close(&s);
}

static void test_put_get(struct store *s)
{
	struct mp_buf b = {0};
	enum store_put_result res = 0;
	uint8_t *got = NULL;
	size_t len = 0;
	uint64_t head = 0, count = 0;

	make_a(&b, "web", 10);
	is(put(s, &b, &res), 0, "put new");
	is(res, STORE_PUT_NEW, "new");
	is(store_record_get(s, alice->pk, PROTO_KIND_SERVICE, "web", &got, &len), 0, "get");
	ok(got && len == b.len && memcmp(got, b.data, len) == 0, "same bytes back");
	free(got);
	is(put(s, &b, &res), 0, "duplicate is not an error");
	is(res, STORE_PUT_STALE, "duplicate is stale");
	make_a(&b, "web", 9);
	is(put(s, &b, &res), 0, "lower seq");
	is(res, STORE_PUT_STALE, "lower seq is stale");
	make_a(&b, "web", 12);
	is(put(s, &b, &res), 0, "higher seq");
	is(res, STORE_PUT_REPLACED, "replaced");
	is(store_record_get(s, alice->pk, PROTO_KIND_SERVICE, "web", &got, &len), 0, "get again");
	ok(got && len == b.len && memcmp(got, b.data, len) == 0, "the replacement is stored");
	free(got);
	is(put(s, &b, NULL), 0, "result may be NULL");
	is(store_head_get(s, alice->pk, &head), 0, "head");
	is(head, 12, "head is the highest seq");
	is(store_head_get(s, bob->pk, &head), 0, "head of an unknown author");
	is(head, 0, "is 0");
	is(store_record_count(s, &count), 0, "count");
	is(count, 1, "one current record");
	is(store_record_get(s, alice->pk, PROTO_KIND_MEMBER, "web", &got, &len), -ENOENT,
	   "other kind: -ENOENT");
	ok(got == NULL && len == 0, "nothing returned");
	is(store_record_get(s, bob->pk, PROTO_KIND_SERVICE, "web", &got, &len), -ENOENT,
	   "other author: -ENOENT");
	{
		char long_name[PROTO_NAME_MAX + 8];
		memset(long_name, 'x', sizeof(long_name) - 1);
		long_name[sizeof(long_name) - 1] = 0;
		is(store_record_get(s, alice->pk, PROTO_KIND_SERVICE, long_name, &got, &len),
		   -ENOENT, "over-long name: -ENOENT");
	}
	mp_buf_free(&b);
}

static void test_refused(struct store *s)
{
	struct mp_buf b = {0};
	uint8_t garbage[] = {0x92, 0xc4, 0x05, 1, 2};
	uint8_t *got = NULL;
	size_t len = 0;
	uint64_t count = 0, head = 0;

	make_a(&b, "web", 20);
	b.data[b.len - 5] ^= 0x01; /* inside the signature */
	is(put(s, &b, NULL), KITH_EBADSIG, "flipped signature byte: KITH_EBADSIG");
	make_a(&b, "web", 20);
	b.data[b.len - PROTO_SIG_LEN - 3] ^= 0x20; /* inside the body */
	is(put(s, &b, NULL), KITH_EBADSIG, "flipped body byte: KITH_EBADSIG");
	is(store_record_get(s, alice->pk, PROTO_KIND_SERVICE, "web", &got, &len), 0, "get");
	ok(got && len > 0, "the old record is still there");
	{
		struct proto_record rec;
		ok(got && proto_record_decode(&rec, got, len) == 0 && rec.seq == 12,
		   "with its old seq");
	}
	free(got);
	is(store_head_get(s, alice->pk, &head), 0, "head");
	is(head, 12, "head unchanged by refused records");

	make(&b, alice, PROTO_KIND_SERVICE, "old", 21, now - 7200, now - 3600);
	is(put(s, &b, NULL), KITH_EEXPIRED, "expired: KITH_EEXPIRED");
	make(&b, alice, PROTO_KIND_SERVICE, "new", 22, now + 3600, now + 7200);
	is(put(s, &b, NULL), KITH_EFUTURE, "from the future: KITH_EFUTURE");
	ok(store_record_put(s, garbage, sizeof(garbage), now, NULL) < 0, "garbage refused");
	ok(store_record_put(s, garbage, 0, now, NULL) < 0, "empty refused");
	is(store_record_count(s, &count), 0, "count");
	is(count, 1, "nothing refused was stored");
	mp_buf_free(&b);
}

struct seqs {
	uint64_t seq[16];
	size_t n;
	struct store *s; /* for callbacks that touch the store */
	int inner_rc;
};

static int collect(void *arg, const uint8_t *buf, size_t len)
{
	struct seqs *c = arg;
	struct proto_record rec;

	if (proto_record_decode(&rec, buf, len) != 0 || c->n == 16)
		return -1;
	c->seq[c->n++] = rec.seq;
	return 0;
}

static int stop_at_two(void *arg, const uint8_t *buf, size_t len)
{
	struct seqs *c = arg;
	collect(arg, buf, len);
	return c->n == 2 ? 42 : 0;
}

/* Reads from inside a walk, then tries to write. */
static int nested(void *arg, const uint8_t *buf, size_t len)
{
	struct seqs *c = arg;
	uint8_t *got = NULL;
	size_t got_len = 0;
	uint64_t first;

	c->inner_rc = store_record_get(c->s, alice->pk, PROTO_KIND_MEMBER, "n3", &got, &got_len);
	free(got);
	if (c->inner_rc == 0)
		c->inner_rc = store_seq_reserve(c->s, 1, &first);
	(void)buf;
	(void)len;
	return 1;
}

static int since(struct store *s, uint64_t after, struct seqs *c)
{
	c->n = 0;
	return store_records_since(s, alice->pk, after, collect, c);
}

static void test_byseq(struct store *s)
{
	static const uint64_t order[] = {103, 101, 105, 102, 104};
	struct mp_buf b = {0};
	struct seqs c = {.s = s};
	enum store_put_result res;
	char name[16];

	for (size_t i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "n%u", (unsigned)(order[i] - 100));
		make(&b, alice, PROTO_KIND_MEMBER, name, order[i], now, now + 60);
		put(s, &b, NULL);
	}
	is(since(s, 100, &c), 0, "since 100");
	ok(c.n == 5 && c.seq[0] == 101 && c.seq[1] == 102 && c.seq[2] == 103 && c.seq[3] == 104 &&
	       c.seq[4] == 105,
	   "in seq order, whatever the order of arrival");
	is(since(s, 0, &c), 0, "since 0");
	ok(c.n == 6 && c.seq[0] == 12, "includes the earlier record of another kind");
	is(since(s, 103, &c), 0, "since 103");
	ok(c.n == 2 && c.seq[0] == 104 && c.seq[1] == 105, "only the later ones");
	is(since(s, 105, &c), 0, "since the head");
	is(c.n, 0, "nothing");
	is(since(s, UINT64_MAX, &c), 0, "since UINT64_MAX");
	is(c.n, 0, "nothing");

	make(&b, alice, PROTO_KIND_MEMBER, "n2", 106, now, now + 60);
	is(put(s, &b, &res), 0, "replace n2");
	is(res, STORE_PUT_REPLACED, "replaced");
	is(since(s, 100, &c), 0, "since 100 after the replacement");
	ok(c.n == 5 && c.seq[0] == 101 && c.seq[1] == 103 && c.seq[4] == 106,
	   "the old seq is gone, the new one is last");

	make(&b, alice, PROTO_KIND_MEMBER, "other", 104, now, now + 60);
	is(put(s, &b, &res), -EEXIST, "another record with a used seq: -EEXIST");
	is(since(s, 103, &c), 0, "since 103");
	ok(c.n == 3 && c.seq[0] == 104, "still one record per seq");
	{
		uint8_t *got = NULL;
		size_t len;
		is(store_record_get(s, alice->pk, PROTO_KIND_MEMBER, "other", &got, &len), -ENOENT,
		   "the equivocating record was not stored");
	}

	c.n = 0;
	is(store_records_since(s, alice->pk, 0, stop_at_two, &c), 42,
	   "a callback's non-zero return stops the walk and is returned");
	is(c.n, 2, "after two records");
	is(store_records_since(s, alice->pk, 0, nested, &c), 1, "nested walk");
	is(c.inner_rc, -EBUSY, "reads work inside a walk, writes get -EBUSY");
	{
		uint64_t first;
		ok(store_seq_reserve(s, 1, &first) == 0, "writes work again after the walk");
	}
	mp_buf_free(&b);
}

struct heads {
	uint8_t author[4][PROTO_KEY_LEN];
	uint64_t seq[4];
	size_t n;
};

static int collect_head(void *arg, const uint8_t author[PROTO_KEY_LEN], uint64_t seq)
{
	struct heads *h = arg;
	if (h->n == 4)
		return -1;
	memcpy(h->author[h->n], author, PROTO_KEY_LEN);
	h->seq[h->n++] = seq;
	return 0;
}

static void test_heads(struct store *s)
{
	struct mp_buf b = {0};
	struct heads h = {0};
	int a_first = memcmp(alice->pk, bob->pk, PROTO_KEY_LEN) < 0;
	size_t ai = a_first ? 0 : 1, bi = 1 - ai;

	make(&b, bob, PROTO_KIND_OBSERVATION, "x", 7, now, now + 60);
	put(s, &b, NULL);
	make(&b, bob, PROTO_KIND_OBSERVATION, "y", 3, now, now + 60);
	put(s, &b, NULL);
	is(store_heads_each(s, collect_head, &h), 0, "heads walk");
	is(h.n, 2, "two authors");
	ok(memcmp(h.author[ai], alice->pk, PROTO_KEY_LEN) == 0 &&
	       memcmp(h.author[bi], bob->pk, PROTO_KEY_LEN) == 0,
	   "in author order");
	is(h.seq[ai], 106, "alice's head");
	is(h.seq[bi], 7, "bob's head is his highest, not his latest");
	mp_buf_free(&b);
}

static int count_each(void *arg, const uint8_t *buf, size_t len)
{
	struct proto_record rec;
	(void)buf;
	(*(uint64_t *)arg) += proto_record_open(&rec, buf, len, now) == 0;
	return 0;
}

static void test_batch(struct store *s)
{
	struct mp_buf b[7] = {{0}};
	struct store_item items[7];
	uint64_t before = 0, after = 0, walked = 0;

	store_record_count(s, &before);
	make_a(&b[0], "batch-1", 200); /* new */
	make_a(&b[1], "batch-2", 201); /* tampered */
	b[1].data[b[1].len - 1] ^= 0x80;
	make(&b[2], alice, PROTO_KIND_SERVICE, "batch-3", 202, 1, 2);     /* expired */
	make_a(&b[3], "web", 203);                                        /* replaces */
	make_a(&b[4], "web", 11);                                         /* stale */
	make_a(&b[5], "batch-1", 204);                                    /* replaces [0] */
	make(&b[6], bob, PROTO_KIND_OBSERVATION, "z", 30, now, now + 60); /* truncated */
	for (size_t i = 0; i < 7; i++)
		items[i] = (struct store_item){.buf = b[i].data, .len = b[i].len, .err = 99};
	items[6].len -= 1; /* truncated */
	is(store_records_put(s, items, 7, now), 0, "batch with bad items: 0");
	is(items[0].err, 0, "good item accepted");
	is(items[0].result, STORE_PUT_NEW, "as new");
	is(items[1].err, KITH_EBADSIG, "tampered item: KITH_EBADSIG");
	{
		uint8_t *got = NULL;
		size_t len;
		is(store_record_get(s, alice->pk, PROTO_KIND_SERVICE, "batch-2", &got, &len),
		   -ENOENT, "the tampered item was not stored");
	}
	is(items[2].err, KITH_EEXPIRED, "expired item: KITH_EEXPIRED");
	is(items[3].result, STORE_PUT_REPLACED, "replacement");
	is(items[4].err, 0, "stale is not an error");
	is(items[4].result, STORE_PUT_STALE, "stale");
	is(items[5].result, STORE_PUT_REPLACED, "a later item replaces an earlier one");
	ok(items[6].err < 0, "truncated item refused");
	store_record_count(s, &after);
	is(after, before + 1, "one new record");
	is(store_records_put(s, items, 0, now), 0, "empty batch");
	is(store_records_each(s, count_each, &walked), 0, "walk every record");
	is(walked, after, "every current record is walked and verifies");
	for (size_t i = 0; i < 7; i++)
		mp_buf_free(&b[i]);

	/* The caller-verified form still decodes and judges time. */
	make_a(&b[0], "checked-1", 300);
	make(&b[1], alice, PROTO_KIND_SERVICE, "checked-2", 301, 1, 2); /* expired */
	make_a(&b[2], "checked-3", 302);
	for (size_t i = 0; i < 3; i++)
		items[i] = (struct store_item){.buf = b[i].data, .len = b[i].len, .err = 99};
	items[2].len = 3;
	is(store_records_put_verified(s, items, 3, now), 0, "verified batch: 0");
	ok(items[0].err == 0 && items[0].result == STORE_PUT_NEW, "verified item stored");
	is(items[1].err, KITH_EEXPIRED, "verified batch still refuses the expired");
	ok(items[2].err < 0, "verified batch still refuses the malformed");
	for (size_t i = 0; i < 3; i++)
		mp_buf_free(&b[i]);
}

static void test_schema(void)
{
	char path[PATH_LEN], file[PATH_LEN];
	struct store *s = NULL;
	uint8_t v2[4] = {0, 0, 0, STORE_SCHEMA_VERSION + 1};
	uint8_t *before = NULL, *after = NULL;
	size_t blen = 0, alen = 0;

	join(path, dir, STORE_DIR);
	join(file, path, "data.mdb");
	is(raw_put(path, "meta", "schema", 6, v2, sizeof(v2)), 0, "write another schema version");
	read_file(file, &before, &blen);
	is(store_open(&s, dir, NULL), KITH_ESCHEMA, "open: KITH_ESCHEMA");
	ok(s == NULL, "no store");
	read_file(file, &after, &alen);
	ok(before && after && blen == alen && memcmp(before, after, blen) == 0,
	   "the file is unchanged");
	free(before);
	free(after);
}

static void test_foreign(void)
{
	char data[PATH_LEN], path[PATH_LEN];
	struct store *s = NULL;

	join(data, dir, "foreign");
	mkdir(data, 0700);
	join(path, data, STORE_DIR);
	mkdir(path, 0700);
	raw_put(path, "other", "k", 1, "v", 1);
	is(store_open(&s, data, NULL), KITH_ESCHEMA, "someone else's LMDB file: KITH_ESCHEMA");
}

static int noop(void *arg, const uint8_t *buf, size_t len)
{
	(void)arg;
	(void)buf;
	(void)len;
	return 0;
}

static int stop(void *arg, const uint8_t *buf, size_t len)
{
	(void)arg;
	(void)buf;
	(void)len;
	return 1;
}

static int noop_head(void *arg, const uint8_t author[PROTO_KEY_LEN], uint64_t seq)
{
	(void)arg;
	(void)author;
	(void)seq;
	return 0;
}

/* Short and missing values written behind the store's back: -EIO, no crash. */
static void test_damaged(void)
{
	char data[PATH_LEN], path[PATH_LEN];
	uint8_t key[PROTO_KEY_LEN + 1 + 3], skey[PROTO_KEY_LEN + 8] = {0};
	struct store *s = NULL;
	struct mp_buf b = {0};
	uint8_t *got = NULL;
	size_t len;
	uint64_t head, first;

	join(data, dir, "damaged");
	mkdir(data, 0700);
	is(store_open(&s, data, NULL), 0, "open a fresh store");
	make_a(&b, "ok", 5);
	put(s, &b, NULL);
	store_close(&s);
	join(path, data, STORE_DIR);
	memcpy(key, alice->pk, PROTO_KEY_LEN);
	key[PROTO_KEY_LEN] = PROTO_KIND_SERVICE;
	memcpy(key + PROTO_KEY_LEN + 1, "bad", 3);
	raw_put(path, "records", key, sizeof(key), "\0\0\0", 3);
	memcpy(skey, alice->pk, PROTO_KEY_LEN);
	skey[PROTO_KEY_LEN + 7] = 9; /* seq 9 -> a record that does not exist */
	raw_put(path, "byseq", skey, sizeof(skey), "\x02zz", 3);
	raw_put(path, "heads", bob->pk, PROTO_KEY_LEN, "\x01", 1);
	raw_put(path, "meta", "seq", 3, "\x01\x02", 2);

	is(store_open(&s, data, NULL), 0, "reopen");
	is(store_record_get(s, alice->pk, PROTO_KIND_SERVICE, "bad", &got, &len), -EIO,
	   "short records value: -EIO");
	is(store_records_each(s, noop, NULL), -EIO, "walk over a short value: -EIO");
	is(store_records_since(s, alice->pk, 6, noop, NULL), -EIO,
	   "byseq entry without its record: -EIO");
	is(store_records_since(s, alice->pk, 0, stop, NULL), 1,
	   "a walk that stops before the damage is fine");
	is(store_head_get(s, bob->pk, &head), -EIO, "short head: -EIO");
	is(store_heads_each(s, noop_head, NULL), -EIO, "heads walk: -EIO");
	is(store_seq_reserve(s, 1, &first), -EIO, "short counter: -EIO");
	make_a(&b, "bad", 6);
	is(put(s, &b, NULL), -EIO, "replacing a short value: -EIO");
	is(store_record_get(s, alice->pk, PROTO_KIND_SERVICE, "ok", &got, &len), 0,
	   "good records still readable");
	free(got);
	store_close(&s);
	mp_buf_free(&b);
}

static int count_own(void *arg, const uint8_t *buf, size_t len)
{
	struct proto_record rec;

	if (proto_record_decode(&rec, buf, len) != 0)
		return -1;
	*(uint64_t *)arg += len + strlen(rec.name) + STORE_RECORD_OVERHEAD;
	return 0;
}

/* Puts a batch of n records of 8000-byte bodies named big-<seq>, seqs
 * from *seq on; on 0 *seq moves past them. */
static int put_big(struct store *s, uint64_t *seq, size_t n)
{
	static uint8_t body[8000];
	struct proto_record in = {
	    .kind = PROTO_KIND_BACKUP, .body = body, .body_len = sizeof(body)};
	struct mp_buf b[16] = {{0}};
	struct store_item items[16];
	int rc = 0;

	in.issued = now;
	in.expires = now + 60;
	for (size_t i = 0; i < n && i < 16; i++) {
		in.seq = *seq + i;
		snprintf(in.name, sizeof(in.name), "big-%llu", (unsigned long long)in.seq);
		proto_record_sign(&b[i], alice, &in);
		items[i] = (struct store_item){.buf = b[i].data, .len = b[i].len};
	}
	rc = store_records_put(s, items, n, now);
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = items[i].err;
	if (rc == 0)
		*seq += n;
	for (size_t i = 0; i < n && i < 16; i++)
		mp_buf_free(&b[i]);
	return rc;
}

/* Whether alice's authors entry, records, count and head say the same:
 * seqs 1..last, nothing more. */
static int whole(struct store *s, uint64_t last)
{
	uint64_t count = 0, records = 0, bytes = 0, walked = 0, h = 0;

	return store_record_count(s, &count) == 0 && count == last &&
	       store_author_usage(s, alice->pk, &records, &bytes) == 0 && records == last &&
	       store_records_each(s, count_own, &walked) == 0 && walked == bytes &&
	       store_head_get(s, alice->pk, &h) == 0 && h == last;
}

/* A small map grows, by doubling, up to its limit less the reserve; there
 * writes get KITH_ENOSPACE and leave nothing half-written; removing writes
 * still work in the reserve. Returns the next seq. */
static uint64_t test_map_growth(const char *data)
{
	struct store_options opt = {.map_size = 1 << 20, .map_max = 8 << 20};
	struct store_stats st;
	struct store *s = NULL;
	uint64_t seq = 1, removed = 0, grew_at = 0;
	int rc = 0;

	is(store_open(&s, data, &opt), 0, "open a 1 MiB store that may grow to 8 MiB");
	is(store_stats_get(s, &st), 0, "stats");
	ok(st.map_bytes == 1 << 20 && st.map_max == 8 << 20, "1 MiB now, 8 MiB at most");
	while (rc == 0 && seq < 5000) {
		rc = put_big(s, &seq, 4);
		if (rc == 0 && grew_at == 0 && store_stats_get(s, &st) == 0 &&
		    st.map_bytes > 1 << 20)
			grew_at = seq;
	}
	ok(grew_at > 0 && grew_at < 200, "the map grew once the first MiB was used");
	is(rc, KITH_ENOSPACE, "at its limit: KITH_ENOSPACE");
	ok(store_lmdb_error(s) && strstr(store_lmdb_error(s), "MDB_MAP_FULL"),
	   "LMDB's message is kept");
	is(store_stats_get(s, &st), 0, "stats");
	is(st.map_bytes, 7 << 20, "the map stopped at 8 MiB less its 1 MiB reserve");
	ok(st.used_bytes > 6 << 20 && st.used_bytes <= st.map_bytes, "and is nearly all used");
	ok(whole(s, seq - 1), "the refused batch left nothing: records, usage and head agree");
	is(put_big(s, &seq, 1), KITH_ENOSPACE, "a single record: KITH_ENOSPACE too");
	is(store_records_prune(s, UINT64_MAX, 20, &removed, NULL), 0, "pruning still works");
	is(removed, 20, "20 removed");
	/* LMDB reuses the pages a commit freed from the second transaction
	 * after it on: the last snapshot keeps them until then. */
	is(store_seq_reserve(s, 1, &(uint64_t){0}), 0, "a counter may use the reserve");
	is(put_big(s, &seq, 4), 0, "and then the pruned room takes new records");
	store_close(&s);
	return seq;
}

/* The store of test_map_growth (records 21..seq-1) opened with a limit
 * below what its file holds: readable, the map never grows, adding stops
 * once the room inside the file is gone, pruning still works. */
static void test_map_over_limit(const char *data, uint64_t seq)
{
	struct store_options opt = {.map_size = 1 << 20, .map_max = 2 << 20};
	uint64_t count = 0, walked = 0, records = 0, bytes = 0, removed = 0, map = 0;
	struct store_stats st;
	struct store *s = NULL;
	int rc = 0;

	is(store_open(&s, data, &opt), 0, "reopen with a limit below what the file holds");
	ok(store_record_count(s, &count) == 0 && count == seq - 1 - 20 &&
	       store_records_each(s, count_own, &walked) == 0 &&
	       store_author_usage(s, alice->pk, &records, &bytes) == 0 && records == count &&
	       walked == bytes,
	   "everything is readable and agrees");
	if (store_stats_get(s, &st) == 0)
		map = st.map_bytes;
	for (int i = 0; i < 100 && rc == 0; i++)
		rc = put_big(s, &seq, 1);
	is(rc, KITH_ENOSPACE, "adding fills the room pruning freed, then KITH_ENOSPACE");
	ok(store_stats_get(s, &st) == 0 && st.map_bytes == map, "the map did not grow");
	is(store_records_prune(s, UINT64_MAX, 10, &removed, NULL), 0, "pruning works");
	is(removed, 10, "10 removed");
	store_close(&s);
}

/* Opening with a map smaller than the file, with the defaults, and with a
 * limit below the initial size. */
static void test_map_reopen(const char *data)
{
	struct store_options opt = {.map_size = 1 << 20, .map_max = 8 << 20};
	struct store_stats st = {0};
	struct store *s = NULL;
	uint64_t seq = 1, removed = 0;

	is(store_open(&s, data, &opt), 0, "reopen with a map smaller than the file");
	is(store_stats_get(s, &st), 0, "stats");
	ok(st.map_bytes >= 7 << 20, "the map is as large as the file's data");
	is(store_records_prune(s, UINT64_MAX, SIZE_MAX, &removed, NULL), 0, "prune everything");
	is(put_big(s, &seq, 4), 0, "and write again");
	store_close(&s);
	is(store_open(&s, data, NULL), 0, "reopen with the defaults");
	store_stats_get(s, &st);
	ok(st.map_bytes == STORE_MAP_SIZE_DEFAULT && st.map_max == STORE_MAP_MAX_DEFAULT,
	   "256 MiB, up to 8 GiB");
	store_close(&s);
	opt = (struct store_options){.map_size = 4 << 20, .map_max = 2 << 20};
	is(store_open(&s, data, &opt), 0, "a limit below the initial size");
	store_stats_get(s, &st);
	is(st.map_max, 4 << 20, "is raised to it");
	store_close(&s);
}

static void test_map(void)
{
	char data[PATH_LEN];

	join(data, dir, "growth");
	mkdir(data, 0700);
	test_map_over_limit(data, test_map_growth(data));
	test_map_reopen(data);
}

int main(void)
{
	struct store *s = NULL;

	now = (uint64_t)time(NULL);
	if (!mkdtemp(dir) || proto_identity_generate(&alice) || proto_identity_generate(&bob)) {
		perror("setup");
		return 1;
	}
	test_open_reopen();
	if (store_open(&s, dir, NULL) == 0) {
		test_put_get(s);
		test_refused(s);
		test_byseq(s);
		test_heads(s);
		test_batch(s);
		store_close(&s);
	} else {
		ok(0, "open for the record tests");
	}
	test_schema();
	test_foreign();
	test_damaged();
	test_map();
	proto_identity_free(&alice);
	proto_identity_free(&bob);
	rm_tree(dir);
	return tap_done();
}
