/* Storing verified records, their index entries and what they cost.
 *
 * Verification (an Ed25519 check per record) is the expensive part, so it
 * runs before the write transaction opens: the writer lock is held only
 * for the B-tree updates and the commit. Each record stored, replaced or
 * refused for its budget changes records, byseq, expiry, authors and
 * heads together, in the batch's one transaction. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "../proto/error.h"
#include "../proto/record.h"
#include "store_int.h"

/* The current record of a records key, looked up before anything is
 * written: LMDB's pointer into the map is good only until the first
 * write. */
struct stored {
	bool found;
	uint64_t seq;
	uint64_t cost;    /* what it costs its author */
	uint64_t expires; /* once stored_expires() read it */
	MDB_val value;
};

static int stored_get(struct store *s, MDB_txn *txn, MDB_val *key, size_t name_len,
                      struct stored *old)
{
	int rc = mdb_get(txn, s->records, key, &old->value);

	old->found = false;
	old->seq = 0;
	old->cost = 0;
	old->expires = 0;
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc != 0)
		return store_mdb_error(s, rc);
	if (old->value.mv_size <= STORE_VALUE_SEQ_LEN)
		return -EIO;
	old->found = true;
	old->seq = store_be64_get(old->value.mv_data);
	old->cost = store_record_cost(old->value.mv_size - STORE_VALUE_SEQ_LEN, name_len);
	return 0;
}

int store_head_raise(struct store *s, MDB_txn *txn, const uint8_t author[PROTO_KEY_LEN],
                     uint64_t seq)
{
	uint8_t buf[8];
	MDB_val k = {PROTO_KEY_LEN, (void *)author};
	MDB_val v;
	int rc = mdb_get(txn, s->heads, &k, &v);

	if (rc == 0 && v.mv_size != 8)
		return -EIO;
	if (rc == 0 && store_be64_get(v.mv_data) >= seq)
		return 0;
	if (rc != 0 && rc != MDB_NOTFOUND)
		return store_mdb_error(s, rc);
	store_be64_put(buf, seq);
	v.mv_size = sizeof(buf);
	v.mv_data = buf;
	return store_mdb_error(s, mdb_put(txn, s->heads, &k, &v, 0));
}

/* Writes seq || buf as the records value of key, without a second copy. */
static int record_write(struct store *s, MDB_txn *txn, MDB_val *key, uint64_t seq,
                        const uint8_t *buf, size_t len)
{
	MDB_val v = {STORE_VALUE_SEQ_LEN + len, NULL};
	int rc = mdb_put(txn, s->records, key, &v, MDB_RESERVE);

	if (rc != 0)
		return store_mdb_error(s, rc);
	store_be64_put(v.mv_data, seq);
	memcpy((uint8_t *)v.mv_data + STORE_VALUE_SEQ_LEN, buf, len);
	return 0;
}

/* Reads old's expiry, while its value is still where stored_get() found
 * it (the first write moves it), and the author's cost once a record
 * costing cost is stored over old: -EIO when the stored cost cannot be
 * right. */
static int cost_after(struct store *s, MDB_txn *txn, const uint8_t author[PROTO_KEY_LEN],
                      struct stored *old, uint64_t cost, struct store_cost *after)
{
	int rc = old->found ? store_value_expires(&old->value, &old->expires) : 0;

	if (rc == 0)
		rc = store_author_read(s, txn, author, after);
	if (rc == 0 && old->found)
		rc = store_cost_take(after, &(struct store_cost){1, old->cost});
	if (rc < 0)
		return rc;
	if (after->bytes > UINT64_MAX - cost)
		return -EIO; /* a damaged count must not wrap into room */
	after->records++;
	after->bytes += cost;
	return 0;
}

/* Whether budget (NULL: none) allows the author's cost to become after by
 * storing a record costing cost over old. */
static bool within_budget(const struct store_budget *budget, const struct stored *old,
                          uint64_t cost, const struct store_cost *after)
{
	if (!budget || (old->found && cost <= old->cost))
		return true; /* no limit, or a replacement that does not grow */
	if (!old->found && after->records > budget->records)
		return false;
	return after->bytes <= budget->bytes;
}

/* Takes rec's seq in byseq. An author that signed two different records
 * with one seq: the first one stored keeps the seq, the other is refused
 * (*taken false), so byseq stays a one-to-one index of the current
 * records. */
static int seq_claim(struct store *s, MDB_txn *txn, const struct proto_record *rec, size_t name_len,
                     bool *taken)
{
	uint8_t skey[STORE_SEQ_KEY_LEN], sval[1 + PROTO_NAME_MAX];
	MDB_val sk = {sizeof(skey), skey}, sv = {1 + name_len, sval};
	int rc;

	store_seq_key(skey, rec->author, rec->seq);
	sval[0] = rec->kind;
	memcpy(sval + 1, rec->name, name_len);
	rc = mdb_put(txn, s->byseq, &sk, &sv, MDB_NOOVERWRITE);
	*taken = rc == MDB_KEYEXIST;
	return rc == MDB_KEYEXIST ? 0 : store_mdb_error(s, rc);
}

/* Removes the index entries of the replaced record old of author.
 * Already missing is what we want; anything else is not. */
static int unindex_old(struct store *s, MDB_txn *txn, const uint8_t author[PROTO_KEY_LEN],
                       const struct stored *old)
{
	uint8_t skey[STORE_SEQ_KEY_LEN], ekey[STORE_EXPIRY_KEY_LEN];
	MDB_val sk = {sizeof(skey), skey}, ek = {sizeof(ekey), ekey};
	int rc;

	store_seq_key(skey, author, old->seq);
	rc = mdb_del(txn, s->byseq, &sk, NULL);
	if (rc == 0 || rc == MDB_NOTFOUND) {
		store_expiry_key(ekey, old->expires, author, old->seq);
		rc = mdb_del(txn, s->expiry, &ek, NULL);
	}
	return rc == MDB_NOTFOUND ? 0 : store_mdb_error(s, rc);
}

/* Writes rec (item's bytes) over old with its index entries and cost. */
static int record_store(struct store *s, MDB_txn *txn, const struct proto_record *rec,
                        const struct store_item *item, MDB_val *rk, const struct stored *old,
                        const struct store_cost *after)
{
	int rc = old->found ? unindex_old(s, txn, rec->author, old) : 0;

	if (rc == 0)
		rc = record_write(s, txn, rk, rec->seq, item->buf, item->len);
	if (rc == 0)
		rc = store_expiry_put(s, txn, rec->kind, rec->expires, rec->author, rec->seq);
	if (rc == 0)
		rc = store_author_write(s, txn, rec->author, after);
	if (rc == 0)
		rc = store_head_raise(s, txn, rec->author, rec->seq);
	return rc;
}

/* Stores one verified record. A refusal of this record alone goes to
 * item->err; the return value is 0 or an error of the store. */
static int put_one(struct store *s, MDB_txn *txn, const struct proto_record *rec,
                   struct store_item *item)
{
	uint8_t rkey[STORE_RECORD_KEY_MAX];
	size_t name_len = strnlen(rec->name, PROTO_NAME_MAX + 1);
	uint64_t cost = store_record_cost(item->len, name_len);
	struct store_cost after;
	struct stored old;
	MDB_val rk;
	bool taken;
	int rc;

	if (name_len > PROTO_NAME_MAX) {
		item->err = KITH_ETOOBIG; /* proto promised otherwise: refuse, never overflow */
		return 0;
	}
	rk.mv_size = store_record_key(rkey, rec->author, rec->kind, rec->name, name_len);
	rk.mv_data = rkey;
	rc = stored_get(s, txn, &rk, name_len, &old);
	if (rc < 0)
		return rc;
	if (old.found && rec->seq <= old.seq) {
		item->result = STORE_PUT_STALE;
		return 0;
	}
	rc = cost_after(s, txn, rec->author, &old, cost, &after);
	if (rc < 0)
		return rc;
	if (!within_budget(item->budget, &old, cost, &after)) {
		item->err = KITH_EQUOTA; /* passed over: see store.h */
		return store_head_raise(s, txn, rec->author, rec->seq);
	}
	rc = seq_claim(s, txn, rec, name_len, &taken);
	if (rc == 0 && taken)
		item->err = -EEXIST;
	if (rc < 0 || taken)
		return rc;
	rc = record_store(s, txn, rec, item, &rk, &old, &after);
	if (rc == 0)
		item->result = old.found ? STORE_PUT_REPLACED : STORE_PUT_NEW;
	return rc;
}

/* A batch's records, decoded (rec) and judged (err: 0 or why the record
 * is refused before the store sees it). */
struct checked {
	struct proto_record rec;
	int err;
};

struct batch {
	struct store_item *items;
	const struct checked *checked;
	size_t n;
};

/* Stores the records that passed their checks. It may run again after
 * the map grew, so every item's outcome starts over from its check. */
static int batch_write(struct store *s, MDB_txn *txn, void *arg)
{
	const struct batch *b = arg;
	int rc = 0;

	for (size_t i = 0; i < b->n && rc == 0; i++) {
		b->items[i].err = b->checked[i].err;
		b->items[i].result = 0;
		if (b->checked[i].err == 0)
			rc = put_one(s, txn, &b->checked[i].rec, &b->items[i]);
	}
	return rc;
}

/* Decodes every item (checking its signature when verify is set) and
 * writes those that pass in one transaction. */
static int put_batch(struct store *s, struct store_item *items, size_t n, uint64_t now, bool verify)
{
	struct batch b = {items, NULL, n};
	struct checked *c;
	size_t passed = 0;
	int rc = 0;

	if (n == 0)
		return 0;
	if (n > SIZE_MAX / sizeof(*c))
		return -ENOMEM;
	c = malloc(n * sizeof(*c));
	if (!c)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		items[i].result = 0;
		c[i].err = proto_record_decode(&c[i].rec, items[i].buf, items[i].len);
		if (!c[i].err && verify)
			c[i].err = proto_record_verify(&c[i].rec);
		if (!c[i].err)
			c[i].err = proto_record_check_time(&c[i].rec, now);
		items[i].err = c[i].err;
		passed += c[i].err == 0;
	}
	b.checked = c;
	if (passed > 0)
		rc = store_write(s, STORE_WRITE_ADD, batch_write, &b);
	free(c);
	return rc;
}

int store_record_put_budget(struct store *s, const uint8_t *buf, size_t len, uint64_t now,
                            const struct store_budget *budget, enum store_put_result *result)
{
	struct store_item item = {.buf = buf, .len = len, .budget = budget};
	int rc = put_batch(s, &item, 1, now, true);

	if (rc < 0)
		return rc;
	if (item.err < 0)
		return item.err;
	if (result)
		*result = item.result;
	return 0;
}

int store_record_put(struct store *s, const uint8_t *buf, size_t len, uint64_t now,
                     enum store_put_result *result)
{
	return store_record_put_budget(s, buf, len, now, NULL, result);
}

int store_records_put(struct store *s, struct store_item *items, size_t n, uint64_t now)
{
	return put_batch(s, items, n, now, true);
}

int store_records_put_verified(struct store *s, struct store_item *items, size_t n, uint64_t now)
{
	return put_batch(s, items, n, now, false);
}
