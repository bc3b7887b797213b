/* What each author's current records cost, and the expiry index.
 *
 * authors maps author to records (8 BE) || bytes (8 BE). Every change to
 * an author's records rewrites its entry in the same write transaction,
 * so a budget check is one read, never a walk. An author with no record
 * has no entry. When an entry cannot be right (short, or counting bytes
 * without a record, or less than what leaves) the change is refused with
 * -EIO: no author gets more room than its budget because a counter went
 * wrong. store_author_drop() recounts an author, which repairs it. */
#include <errno.h>
#include <string.h>

#include "../proto/error.h"
#include "../proto/record.h"
#include "store_int.h"

#define AUTHOR_VALUE_LEN 16

uint64_t store_record_cost(size_t len, size_t name_len)
{
	return (uint64_t)len + name_len + STORE_RECORD_OVERHEAD;
}

int store_value_expires(const MDB_val *v, uint64_t *expires)
{
	struct proto_record rec;
	const uint8_t *p = v->mv_data;

	*expires = 0;
	if (v->mv_size <= STORE_VALUE_SEQ_LEN)
		return -EIO;
	if (proto_record_decode(&rec, p + STORE_VALUE_SEQ_LEN, v->mv_size - STORE_VALUE_SEQ_LEN) <
	        0 ||
	    rec.seq != store_be64_get(p))
		return -EIO;
	*expires = rec.expires;
	return 0;
}

int store_author_read(struct store *s, MDB_txn *txn, const uint8_t author[PROTO_KEY_LEN],
                      struct store_cost *c)
{
	MDB_val k = {PROTO_KEY_LEN, (void *)author}, v;
	int rc = mdb_get(txn, s->authors, &k, &v);

	*c = (struct store_cost){0, 0};
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc != 0)
		return store_mdb_error(s, rc);
	if (v.mv_size != AUTHOR_VALUE_LEN)
		return -EIO;
	c->records = store_be64_get(v.mv_data);
	c->bytes = store_be64_get((const uint8_t *)v.mv_data + 8);
	if (c->records == 0) {
		*c = (struct store_cost){0, 0};
		return -EIO; /* an entry is removed with the last record */
	}
	return 0;
}

int store_author_write(struct store *s, MDB_txn *txn, const uint8_t author[PROTO_KEY_LEN],
                       const struct store_cost *c)
{
	uint8_t buf[AUTHOR_VALUE_LEN];
	MDB_val k = {PROTO_KEY_LEN, (void *)author}, v = {sizeof(buf), buf};
	int rc;

	if (c->records == 0) {
		rc = mdb_del(txn, s->authors, &k, NULL);
		return rc == MDB_NOTFOUND ? 0 : store_mdb_error(s, rc);
	}
	store_be64_put(buf, c->records);
	store_be64_put(buf + 8, c->bytes);
	return store_mdb_error(s, mdb_put(txn, s->authors, &k, &v, 0));
}

int store_cost_take(struct store_cost *c, const struct store_cost *gone)
{
	if (c->records < gone->records || c->bytes < gone->bytes)
		return -EIO;
	c->records -= gone->records;
	c->bytes -= gone->bytes;
	return c->records == 0 && c->bytes != 0 ? -EIO : 0;
}

bool store_kind_expires(uint8_t kind)
{
	return kind >= 32 || (STORE_KINDS_KEPT & (1u << kind)) == 0;
}

int store_expiry_put(struct store *s, MDB_txn *txn, uint8_t kind, uint64_t expires,
                     const uint8_t author[PROTO_KEY_LEN], uint64_t seq)
{
	uint8_t key[STORE_EXPIRY_KEY_LEN];
	MDB_val k = {sizeof(key), key}, v = {0, key};

	if (!store_kind_expires(kind))
		return 0;
	store_expiry_key(key, expires, author, seq);
	return store_mdb_error(s, mdb_put(txn, s->expiry, &k, &v, 0));
}

int store_author_usage(struct store *s, const uint8_t author[PROTO_KEY_LEN], uint64_t *records,
                       uint64_t *bytes)
{
	struct store_cost c = {0, 0};
	MDB_txn *txn;
	int rc = store_read_begin(s, &txn);

	if (rc == 0) {
		rc = store_author_read(s, txn, author, &c);
		store_read_end(s);
	}
	*records = c.records;
	*bytes = c.bytes;
	return rc;
}

struct author_walk {
	store_author_fn fn;
	void *arg;
};

static int authors_visit(void *arg, MDB_txn *txn, const MDB_val *k, const MDB_val *v)
{
	const struct author_walk *w = arg;
	uint64_t records;

	(void)txn;
	if (k->mv_size != PROTO_KEY_LEN || v->mv_size != AUTHOR_VALUE_LEN)
		return -EIO;
	records = store_be64_get(v->mv_data);
	if (records == 0)
		return -EIO;
	return w->fn(w->arg, k->mv_data, records, store_be64_get((const uint8_t *)v->mv_data + 8));
}

int store_authors_each(struct store *s, store_author_fn fn, void *arg)
{
	struct author_walk w = {fn, arg};

	return store_walk(s, s->authors, NULL, 0, authors_visit, &w);
}

/* Counts one records entry (k, v) into *c and indexes its expiry. */
static int rebuild_one(struct store *s, MDB_txn *txn, const MDB_val *k, const MDB_val *v,
                       struct store_cost *c)
{
	uint64_t expires;
	int rc;

	if (k->mv_size <= PROTO_KEY_LEN + 1 || k->mv_size > STORE_RECORD_KEY_MAX)
		return -EIO;
	rc = store_value_expires(v, &expires);
	if (rc == 0)
		rc = store_expiry_put(s, txn, ((const uint8_t *)k->mv_data)[PROTO_KEY_LEN], expires,
		                      k->mv_data, store_be64_get(v->mv_data));
	if (rc < 0)
		return rc;
	c->records++;
	c->bytes +=
	    store_record_cost(v->mv_size - STORE_VALUE_SEQ_LEN, k->mv_size - PROTO_KEY_LEN - 1);
	return 0;
}

/* Counts one records entry (k, v) into the author's total *c, first
 * writing the total of the author before it when k starts another. */
static int rebuild_step(struct store *s, MDB_txn *txn, const MDB_val *k, const MDB_val *v,
                        uint8_t author[PROTO_KEY_LEN], struct store_cost *c)
{
	int rc = 0;

	if (k->mv_size < PROTO_KEY_LEN)
		return -EIO;
	if (c->records > 0 && memcmp(author, k->mv_data, PROTO_KEY_LEN) != 0) {
		rc = store_author_write(s, txn, author, c);
		*c = (struct store_cost){0, 0};
	}
	memcpy(author, k->mv_data, PROTO_KEY_LEN);
	return rc < 0 ? rc : rebuild_one(s, txn, k, v, c);
}

/* records is in author order: each author's entry is written when the
 * walk moves past its last record. */
int store_authors_rebuild(struct store *s, MDB_txn *txn)
{
	uint8_t author[PROTO_KEY_LEN];
	struct store_cost c = {0, 0};
	MDB_cursor *cur = NULL;
	MDB_cursor_op op = MDB_FIRST;
	MDB_val k, v;
	int rc = mdb_cursor_open(txn, s->records, &cur);

	if (rc != 0)
		return store_mdb_error(s, rc);
	while ((rc = mdb_cursor_get(cur, &k, &v, op)) == 0) {
		op = MDB_NEXT;
		rc = rebuild_step(s, txn, &k, &v, author, &c);
		if (rc < 0)
			goto out;
	}
	if (rc != MDB_NOTFOUND)
		rc = store_mdb_error(s, rc);
	else
		rc = c.records > 0 ? store_author_write(s, txn, author, &c) : 0;
out:
	mdb_cursor_close(cur);
	return rc;
}
