/* Reading records and heads, counting, and the agent's own seq counter.
 *
 * Every value read back is length-checked before use: a damaged file ends
 * in -EIO, never in a read past a buffer. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../proto/error.h"
#include "store_int.h"

#define META_SEQ "seq"

/* A records value holds the seq and at least one byte of record. */
static int record_value_check(const MDB_val *v)
{
	return v->mv_size > STORE_VALUE_SEQ_LEN ? 0 : -EIO;
}

int store_record_get(struct store *s, const uint8_t author[PROTO_KEY_LEN], uint8_t kind,
                     const char *name, uint8_t **buf, size_t *len)
{
	uint8_t key[STORE_RECORD_KEY_MAX];
	size_t name_len = strnlen(name, PROTO_NAME_MAX + 1);
	MDB_val k, v;
	MDB_txn *txn;
	int rc;

	*buf = NULL;
	*len = 0;
	if (name_len > PROTO_NAME_MAX)
		return -ENOENT; /* no record can have that name */
	k.mv_size = store_record_key(key, author, kind, name, name_len);
	k.mv_data = key;
	rc = store_read_begin(s, &txn);
	if (rc < 0)
		return rc;
	rc = mdb_get(txn, s->records, &k, &v);
	if (rc == MDB_NOTFOUND) {
		rc = -ENOENT;
		goto out;
	}
	rc = rc ? store_mdb_error(s, rc) : record_value_check(&v);
	if (rc < 0)
		goto out;
	*len = v.mv_size - STORE_VALUE_SEQ_LEN;
	*buf = malloc(*len);
	if (!*buf) {
		*len = 0;
		rc = -ENOMEM;
		goto out;
	}
	memcpy(*buf, (uint8_t *)v.mv_data + STORE_VALUE_SEQ_LEN, *len);
out:
	store_read_end(s);
	return rc;
}

/* What a records walk hands each record to. */
struct record_walk {
	struct store *s;
	store_record_fn fn;
	void *arg;
};

/* Follows one byseq entry (key sk, value sv) to its record and hands the
 * record to the walk's fn. The two databases must agree on the seq. */
static int since_visit(void *arg, MDB_txn *txn, const MDB_val *sk, const MDB_val *sv)
{
	const struct record_walk *w = arg;
	const uint8_t *kind_name = sv->mv_data;
	uint8_t rkey[STORE_RECORD_KEY_MAX];
	MDB_val rk, rv;
	int rc;

	if (sk->mv_size != STORE_SEQ_KEY_LEN || sv->mv_size < 1 || sv->mv_size > 1 + PROTO_NAME_MAX)
		return -EIO;
	memcpy(rkey, sk->mv_data, PROTO_KEY_LEN);
	memcpy(rkey + PROTO_KEY_LEN, kind_name, sv->mv_size);
	rk = (MDB_val){PROTO_KEY_LEN + sv->mv_size, rkey};
	rc = mdb_get(txn, w->s->records, &rk, &rv);
	if (rc == MDB_NOTFOUND)
		return -EIO; /* an index entry without its record */
	if (rc != 0)
		return store_mdb_error(w->s, rc);
	if (record_value_check(&rv) < 0 ||
	    store_be64_get(rv.mv_data) !=
	        store_be64_get((const uint8_t *)sk->mv_data + PROTO_KEY_LEN))
		return -EIO;
	return w->fn(w->arg, (const uint8_t *)rv.mv_data + STORE_VALUE_SEQ_LEN,
	             rv.mv_size - STORE_VALUE_SEQ_LEN);
}

int store_records_since(struct store *s, const uint8_t author[PROTO_KEY_LEN], uint64_t after,
                        store_record_fn fn, void *arg)
{
	struct record_walk w = {s, fn, arg};
	uint8_t start[STORE_SEQ_KEY_LEN];
	MDB_val from = {sizeof(start), start};

	if (after == UINT64_MAX)
		return 0;
	store_seq_key(start, author, after + 1);
	return store_walk(s, s->byseq, &from, PROTO_KEY_LEN, since_visit, &w);
}

static int records_visit(void *arg, MDB_txn *txn, const MDB_val *k, const MDB_val *v)
{
	const struct record_walk *w = arg;

	(void)txn;
	(void)k;
	if (record_value_check(v) < 0)
		return -EIO;
	return w->fn(w->arg, (const uint8_t *)v->mv_data + STORE_VALUE_SEQ_LEN,
	             v->mv_size - STORE_VALUE_SEQ_LEN);
}

int store_records_each(struct store *s, store_record_fn fn, void *arg)
{
	struct record_walk w = {s, fn, arg};

	return store_walk(s, s->records, NULL, 0, records_visit, &w);
}

int store_records_of_kind(struct store *s, const uint8_t author[PROTO_KEY_LEN], uint8_t kind,
                          store_record_fn fn, void *arg)
{
	struct record_walk w = {s, fn, arg};
	uint8_t start[PROTO_KEY_LEN + 1];
	MDB_val from = {sizeof(start), start};

	memcpy(start, author, PROTO_KEY_LEN);
	start[PROTO_KEY_LEN] = kind;
	return store_walk(s, s->records, &from, sizeof(start), records_visit, &w);
}

struct head_walk {
	store_head_fn fn;
	void *arg;
};

static int heads_visit(void *arg, MDB_txn *txn, const MDB_val *k, const MDB_val *v)
{
	const struct head_walk *w = arg;

	(void)txn;
	if (k->mv_size != PROTO_KEY_LEN || v->mv_size != 8)
		return -EIO;
	return w->fn(w->arg, k->mv_data, store_be64_get(v->mv_data));
}

int store_heads_each(struct store *s, store_head_fn fn, void *arg)
{
	struct head_walk w = {fn, arg};

	return store_walk(s, s->heads, NULL, 0, heads_visit, &w);
}

int store_head_get(struct store *s, const uint8_t author[PROTO_KEY_LEN], uint64_t *seq)
{
	MDB_val k = {PROTO_KEY_LEN, (void *)author}, v;
	MDB_txn *txn;
	int rc;

	*seq = 0;
	rc = store_read_begin(s, &txn);
	if (rc < 0)
		return rc;
	rc = mdb_get(txn, s->heads, &k, &v);
	if (rc == 0 && v.mv_size == 8)
		*seq = store_be64_get(v.mv_data);
	else if (rc == 0)
		rc = -EIO;
	else if (rc == MDB_NOTFOUND)
		rc = 0;
	else
		rc = store_mdb_error(s, rc);
	store_read_end(s);
	return rc;
}

int store_record_count(struct store *s, uint64_t *count)
{
	MDB_stat st;
	MDB_txn *txn;
	int rc;

	*count = 0;
	rc = store_read_begin(s, &txn);
	if (rc < 0)
		return rc;
	rc = store_mdb_error(s, mdb_stat(txn, s->records, &st));
	if (rc == 0)
		*count = st.ms_entries;
	store_read_end(s);
	return rc;
}

struct counter {
	MDB_val k;
	uint64_t n, floor;
	uint64_t first; /* out */
};

/* A meta counter holds the last value handed out (0 before the first; a
 * counter never written reads as 0). */
static int counter_write(struct store *s, MDB_txn *txn, void *arg)
{
	struct counter *c = arg;
	uint8_t buf[8];
	MDB_val v;
	uint64_t last = 0;
	int rc = mdb_get(txn, s->meta, &c->k, &v);

	c->first = 0;
	if (rc == 0 && v.mv_size != 8)
		return -EIO;
	if (rc == 0)
		last = store_be64_get(v.mv_data);
	else if (rc != MDB_NOTFOUND)
		return store_mdb_error(s, rc);
	if (last < c->floor)
		last = c->floor;
	if (c->n > UINT64_MAX - last)
		return -EOVERFLOW;
	store_be64_put(buf, last + c->n);
	v = (MDB_val){sizeof(buf), buf};
	c->first = last + 1;
	return store_mdb_error(s, mdb_put(txn, s->meta, &c->k, &v, 0));
}

int store_counter_next(struct store *s, const char *name, uint64_t n, uint64_t floor,
                       uint64_t *first)
{
	struct counter c = {{strlen(name), (void *)name}, n, floor, 0};
	int rc;

	*first = 0;
	if (n == 0 || c.k.mv_size == 0)
		return -EINVAL;
	/* Counters may use the map's reserve: a full store still hands out
	 * incarnations. The commit is synced: the values are ours even
	 * after a crash. */
	rc = store_write(s, STORE_WRITE_RESERVE, counter_write, &c);
	if (rc == 0)
		*first = c.first;
	return rc;
}

int store_seq_reserve(struct store *s, uint64_t n, uint64_t *first)
{
	return store_counter_next(s, META_SEQ, n, 0, first);
}

uint64_t store_generation(struct store *s)
{
	MDB_envinfo info;

	if (mdb_env_info(s->env, &info) != 0)
		return 0;
	return (uint64_t)info.me_last_txnid;
}
