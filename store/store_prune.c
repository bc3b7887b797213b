/* Removing records: those past their expiry, and an ejected author's.
 *
 * A record goes with all its entries (records, byseq, expiry) and its
 * cost leaves its author's authors entry, in one transaction. Heads stay
 * when records expire, so anti-entropy never fetches them again; they go
 * when an author's records are dropped, so a key that became a member
 * again would be fetched from its start. Both run in slices of at most
 * max records, each one synced transaction, so the agent's loop is never
 * held long. An index entry without its record, or a record that holds
 * another seq, is damage: -EIO. */
#include <errno.h>
#include <string.h>

#include "../proto/error.h"
#include "store_int.h"

/* Looks up the records entry that the byseq entry (author, seq) -> kv
 * indexes: its key into rkey and *rk, its value into *v. */
static int indexed_get(struct store *s, MDB_txn *txn, const uint8_t author[PROTO_KEY_LEN],
                       uint64_t seq, const MDB_val *kv, uint8_t rkey[STORE_RECORD_KEY_MAX],
                       MDB_val *rk, MDB_val *v)
{
	int rc;

	if (kv->mv_size < 1 || kv->mv_size > 1 + PROTO_NAME_MAX)
		return -EIO;
	memcpy(rkey, author, PROTO_KEY_LEN);
	memcpy(rkey + PROTO_KEY_LEN, kv->mv_data, kv->mv_size);
	*rk = (MDB_val){PROTO_KEY_LEN + kv->mv_size, rkey};
	rc = mdb_get(txn, s->records, rk, v);
	if (rc == MDB_NOTFOUND)
		return -EIO; /* an index entry without its record */
	if (rc != 0)
		return store_mdb_error(s, rc);
	if (v->mv_size <= STORE_VALUE_SEQ_LEN || store_be64_get(v->mv_data) != seq)
		return -EIO;
	return 0;
}

/* The cost of the record that byseq entry (author, seq) -> kv indexes. */
static int indexed_cost(struct store *s, MDB_txn *txn, const uint8_t author[PROTO_KEY_LEN],
                        uint64_t seq, const MDB_val *kv, uint64_t *cost)
{
	uint8_t rkey[STORE_RECORD_KEY_MAX];
	MDB_val rk, v;
	int rc = indexed_get(s, txn, author, seq, kv, rkey, &rk, &v);

	*cost = rc == 0 ? store_record_cost(v.mv_size - STORE_VALUE_SEQ_LEN, kv->mv_size - 1) : 0;
	return rc;
}

/* Deletes the record that byseq entry (author, seq) -> kv indexes from
 * records and expiry (its expiry is *expires, or read from the record
 * when expires is NULL); *cost receives its cost. The byseq entry is the
 * caller's to delete. kv must not point into the map: writes move it. */
static int record_delete(struct store *s, MDB_txn *txn, const uint8_t author[PROTO_KEY_LEN],
                         uint64_t seq, const MDB_val *kv, const uint64_t *expires, uint64_t *cost)
{
	uint8_t rkey[STORE_RECORD_KEY_MAX], ekey[STORE_EXPIRY_KEY_LEN];
	MDB_val rk, v, ek = {sizeof(ekey), ekey};
	uint64_t when = expires ? *expires : 0;
	int rc = indexed_get(s, txn, author, seq, kv, rkey, &rk, &v);

	*cost = 0;
	if (rc == 0 && !expires)
		rc = store_value_expires(&v, &when);
	if (rc < 0)
		return rc;
	*cost = store_record_cost(v.mv_size - STORE_VALUE_SEQ_LEN, kv->mv_size - 1);
	store_expiry_key(ekey, when, author, seq);
	rc = mdb_del(txn, s->records, &rk, NULL);
	if (rc == 0 && store_kind_expires(((const uint8_t *)kv->mv_data)[0]))
		rc = mdb_del(txn, s->expiry, &ek, NULL);
	return store_mdb_error(s, rc);
}

/* Takes gone out of author's authors entry. */
static int author_take(struct store *s, MDB_txn *txn, const uint8_t author[PROTO_KEY_LEN],
                       const struct store_cost *gone)
{
	struct store_cost c;
	int rc = store_author_read(s, txn, author, &c);

	if (rc == 0)
		rc = store_cost_take(&c, gone);
	return rc < 0 ? rc : store_author_write(s, txn, author, &c);
}

/* Removes the record of the expiry key ekey (a copy, not the map's). */
static int prune_one(struct store *s, MDB_txn *txn, const uint8_t ekey[STORE_EXPIRY_KEY_LEN])
{
	const uint8_t *author = ekey + 8;
	uint64_t expires = store_be64_get(ekey), seq = store_be64_get(ekey + 8 + PROTO_KEY_LEN);
	uint8_t skey[STORE_SEQ_KEY_LEN], kind_name[1 + PROTO_NAME_MAX];
	MDB_val sk = {sizeof(skey), skey}, sv, kv;
	uint64_t cost;
	int rc;

	store_seq_key(skey, author, seq);
	rc = mdb_get(txn, s->byseq, &sk, &sv);
	if (rc == MDB_NOTFOUND)
		return -EIO; /* an expiry entry without its record */
	if (rc != 0)
		return store_mdb_error(s, rc);
	if (sv.mv_size < 1 || sv.mv_size > sizeof(kind_name))
		return -EIO;
	memcpy(kind_name, sv.mv_data, sv.mv_size);
	kv = (MDB_val){sv.mv_size, kind_name};
	rc = record_delete(s, txn, author, seq, &kv, &expires, &cost);
	if (rc == 0)
		rc = store_mdb_error(s, mdb_del(txn, s->byseq, &sk, NULL));
	return rc < 0 ? rc : author_take(s, txn, author, &(struct store_cost){1, cost});
}

struct prune {
	uint64_t before;
	size_t max;
	uint64_t removed; /* out */
	bool more;        /* out */
};

/* Removes the records of the first expiry entries, one at a time: each
 * removal takes the first entry away, so the next is first again. */
static int prune_write(struct store *s, MDB_txn *txn, void *arg)
{
	struct prune *p = arg;
	uint8_t ekey[STORE_EXPIRY_KEY_LEN];
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	int rc = mdb_cursor_open(txn, s->expiry, &cur);

	p->removed = 0;
	p->more = false;
	if (rc != 0)
		return store_mdb_error(s, rc);
	while ((rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST)) == 0) {
		if (k.mv_size != STORE_EXPIRY_KEY_LEN) {
			rc = -EIO;
			goto out;
		}
		if (store_be64_get(k.mv_data) >= p->before)
			break;
		if (p->removed == p->max) {
			p->more = true;
			break;
		}
		memcpy(ekey, k.mv_data, sizeof(ekey));
		rc = prune_one(s, txn, ekey);
		if (rc < 0)
			goto out;
		p->removed++;
	}
	rc = rc == 0 || rc == MDB_NOTFOUND ? 0 : store_mdb_error(s, rc);
out:
	mdb_cursor_close(cur);
	return rc;
}

int store_records_prune(struct store *s, uint64_t before, size_t max, uint64_t *removed, bool *more)
{
	struct prune p = {.before = before, .max = max};
	int rc = store_write(s, STORE_WRITE_RESERVE, prune_write, &p);

	if (removed)
		*removed = rc == 0 ? p.removed : 0;
	if (more)
		*more = rc == 0 && p.more;
	return rc;
}

struct drop {
	const uint8_t *author;
	uint32_t keep_kinds;
	size_t max;
	struct store_cost gone; /* removed so far */
	struct store_cost kept; /* kept so far */
	bool more;              /* out */
};

static bool kind_kept(uint32_t keep_kinds, uint8_t kind)
{
	return kind < 32 && (keep_kinds & (1u << kind)) != 0;
}

/* Handles one byseq entry of the author (seq -> kv) under cur: counts it
 * when kept, else removes it, unless the slice is full (d->more). */
static int drop_one(struct store *s, MDB_txn *txn, MDB_cursor *cur, struct drop *d, uint64_t seq,
                    const MDB_val *sv)
{
	uint8_t kind_name[1 + PROTO_NAME_MAX];
	MDB_val kv = {sv->mv_size, kind_name};
	uint64_t cost;
	int rc;

	if (sv->mv_size < 1 || sv->mv_size > sizeof(kind_name))
		return -EIO;
	memcpy(kind_name, sv->mv_data, sv->mv_size);
	if (kind_kept(d->keep_kinds, kind_name[0])) {
		rc = indexed_cost(s, txn, d->author, seq, &kv, &cost);
		d->kept.records++;
		d->kept.bytes += cost;
		return rc;
	}
	if (d->gone.records == d->max) {
		d->more = true;
		return 0;
	}
	rc = record_delete(s, txn, d->author, seq, &kv, NULL, &cost);
	if (rc == 0)
		rc = store_mdb_error(s, mdb_cursor_del(cur, 0));
	d->gone.records++;
	d->gone.bytes += cost;
	return rc;
}

/* Once the author has nothing but kept records its head goes, and its
 * authors entry is what the walk counted; before that, the slice's
 * removals are taken out of it. */
static int drop_account(struct store *s, MDB_txn *txn, const struct drop *d)
{
	MDB_val k = {PROTO_KEY_LEN, (void *)d->author};
	int rc;

	if (d->more)
		return author_take(s, txn, d->author, &d->gone);
	rc = mdb_del(txn, s->heads, &k, NULL);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return store_mdb_error(s, rc);
	return store_author_write(s, txn, d->author, &d->kept);
}

/* Walks the author's byseq entries in seq order. After mdb_cursor_del()
 * the cursor already stands on the next entry, and MDB_NEXT knows not to
 * step over it. */
static int drop_write(struct store *s, MDB_txn *txn, void *arg)
{
	struct drop *d = arg;
	uint8_t start[STORE_SEQ_KEY_LEN];
	MDB_val k = {sizeof(start), start}, v;
	MDB_cursor *cur = NULL;
	int rc = mdb_cursor_open(txn, s->byseq, &cur);

	d->gone = d->kept = (struct store_cost){0, 0};
	d->more = false;
	if (rc != 0)
		return store_mdb_error(s, rc);
	store_seq_key(start, d->author, 0);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size < PROTO_KEY_LEN || memcmp(k.mv_data, d->author, PROTO_KEY_LEN) != 0)
			break; /* past the author's entries */
		if (k.mv_size != STORE_SEQ_KEY_LEN) {
			rc = -EIO;
			goto out;
		}
		rc = drop_one(s, txn, cur, d, store_be64_get((uint8_t *)k.mv_data + PROTO_KEY_LEN),
		              &v);
		if (rc < 0)
			goto out;
		if (d->more)
			break;
	}
	rc = rc == 0 || rc == MDB_NOTFOUND ? drop_account(s, txn, d) : store_mdb_error(s, rc);
out:
	mdb_cursor_close(cur);
	return rc;
}

int store_author_drop(struct store *s, const uint8_t author[PROTO_KEY_LEN], uint32_t keep_kinds,
                      size_t max, uint64_t *removed, bool *more)
{
	struct drop d = {.author = author, .keep_kinds = keep_kinds, .max = max};
	int rc = store_write(s, STORE_WRITE_RESERVE, drop_write, &d);

	if (removed)
		*removed = rc == 0 ? d.gone.records : 0;
	if (more)
		*more = rc == 0 && d.more;
	return rc;
}
