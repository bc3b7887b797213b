/* Storing verified records.
 *
 * Verification (an Ed25519 check per record) is the expensive part, so it
 * runs before the write transaction opens: the writer lock is held only
 * for the B-tree updates and the commit. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "../proto/error.h"
#include "../proto/record.h"
#include "store_int.h"

/* The seq stored for a records key: *found is false when there is none. */
static int stored_seq(struct store *s, MDB_txn *txn, MDB_val *key, uint64_t *seq, int *found)
{
	MDB_val v;
	int rc = mdb_get(txn, s->records, key, &v);

	*found = 0;
	*seq = 0;
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc != 0)
		return store_mdb_error(s, rc);
	if (v.mv_size <= STORE_VALUE_SEQ_LEN)
		return -EIO;
	*found = 1;
	*seq = store_be64_get(v.mv_data);
	return 0;
}

/* Raises the author's head to seq if it is lower. */
static int head_raise(struct store *s, MDB_txn *txn, const uint8_t author[PROTO_KEY_LEN],
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

/* Stores one verified record. A refusal of this record alone goes to
 * item->err; the return value is 0 or an error of the store. */
static int put_one(struct store *s, MDB_txn *txn, const struct proto_record *rec,
                   struct store_item *item)
{
	uint8_t rkey[STORE_RECORD_KEY_MAX], skey[STORE_SEQ_KEY_LEN], old_skey[STORE_SEQ_KEY_LEN];
	uint8_t sval[1 + PROTO_NAME_MAX];
	size_t name_len = strnlen(rec->name, PROTO_NAME_MAX + 1);
	MDB_val rk, sk, sv;
	uint64_t old_seq;
	int found, rc;

	if (name_len > PROTO_NAME_MAX) {
		item->err = KITH_ETOOBIG; /* proto promised otherwise: refuse, never overflow */
		return 0;
	}
	rk.mv_size = store_record_key(rkey, rec->author, rec->kind, rec->name, name_len);
	rk.mv_data = rkey;
	rc = stored_seq(s, txn, &rk, &old_seq, &found);
	if (rc < 0)
		return rc;
	if (found && rec->seq <= old_seq) {
		item->result = STORE_PUT_STALE;
		return 0;
	}

	/* An author that signed two different records with one seq: the
	 * first one stored keeps the seq, the other is refused, so byseq
	 * stays a one-to-one index of the current records. */
	store_seq_key(skey, rec->author, rec->seq);
	sval[0] = rec->kind;
	memcpy(sval + 1, rec->name, name_len);
	sk = (MDB_val){sizeof(skey), skey};
	sv = (MDB_val){1 + name_len, sval};
	rc = mdb_put(txn, s->byseq, &sk, &sv, MDB_NOOVERWRITE);
	if (rc == MDB_KEYEXIST) {
		item->err = -EEXIST;
		return 0;
	}
	if (rc != 0)
		return store_mdb_error(s, rc);

	if (found) {
		store_seq_key(old_skey, rec->author, old_seq);
		sk = (MDB_val){sizeof(old_skey), old_skey};
		rc = mdb_del(txn, s->byseq, &sk, NULL);
		/* Already missing is what we want; anything else is not. */
		if (rc != 0 && rc != MDB_NOTFOUND)
			return store_mdb_error(s, rc);
	}
	rc = record_write(s, txn, &rk, rec->seq, item->buf, item->len);
	if (rc == 0)
		rc = head_raise(s, txn, rec->author, rec->seq);
	if (rc == 0)
		item->result = found ? STORE_PUT_REPLACED : STORE_PUT_NEW;
	return rc;
}

/* Writes the verified items (err == 0) of items[0..n) in one transaction;
 * recs[i] is the decoded items[i]. */
static int write_verified(struct store *s, struct store_item *items,
                          const struct proto_record *recs, size_t n)
{
	MDB_txn *txn = NULL;
	size_t i, verified = 0;
	int rc;

	for (i = 0; i < n; i++)
		verified += items[i].err == 0;
	if (verified == 0)
		return 0;
	rc = store_write_begin(s, &txn);
	if (rc < 0)
		return rc;
	for (i = 0; i < n && rc == 0; i++)
		if (items[i].err == 0)
			rc = put_one(s, txn, &recs[i], &items[i]);
	if (rc < 0) {
		mdb_txn_abort(txn);
		return rc;
	}
	return store_write_commit(s, txn);
}

int store_record_put(struct store *s, const uint8_t *buf, size_t len, uint64_t now,
                     enum store_put_result *result)
{
	struct store_item item = {.buf = buf, .len = len};
	struct proto_record rec;
	int rc;

	rc = proto_record_open(&rec, buf, len, now);
	if (rc < 0)
		return rc;
	rc = write_verified(s, &item, &rec, 1);
	if (rc < 0)
		return rc;
	if (item.err < 0)
		return item.err;
	if (result)
		*result = item.result;
	return 0;
}

/* Decodes every item (checking its signature when verify is set) and
 * writes those that pass in one transaction. */
static int put_batch(struct store *s, struct store_item *items, size_t n, uint64_t now, bool verify)
{
	struct proto_record *recs;
	int rc;

	if (n == 0)
		return 0;
	if (n > SIZE_MAX / sizeof(*recs))
		return -ENOMEM;
	recs = malloc(n * sizeof(*recs));
	if (!recs)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		items[i].result = 0;
		items[i].err = proto_record_decode(&recs[i], items[i].buf, items[i].len);
		if (!items[i].err && verify)
			items[i].err = proto_record_verify(&recs[i]);
		if (!items[i].err)
			items[i].err = proto_record_check_time(&recs[i], now);
	}
	rc = write_verified(s, items, recs, n);
	free(recs);
	return rc;
}

int store_records_put(struct store *s, struct store_item *items, size_t n, uint64_t now)
{
	return put_batch(s, items, n, now, true);
}

int store_records_put_verified(struct store *s, struct store_item *items, size_t n, uint64_t now)
{
	return put_batch(s, items, n, now, false);
}
