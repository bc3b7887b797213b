/* The history of services' verdicts.
 *
 * verdicts maps owner (32) || service || 0x00 || at (8 BE) to the verdict
 * byte from at on. A series' entries share the prefix owner || service ||
 * 0x00 and come in time order; service names have no 0x00, so one series'
 * prefix never starts another's. Only changes are stored, and times only
 * go forward within a series (store_verdict_append() clamps), so reading
 * the state over a period is one range of keys.
 *
 * A key that is not owner || a valid name || 0x00 || 8 bytes, or a value
 * that is not one verdict byte, is damage: it is never handed out, the
 * readers say -EIO once done, and prune and drop remove it. The history
 * is for display: a damaged entry costs a bar on a status page, not the
 * store. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "../proto/body.h"
#include "../proto/error.h"
#include "store_int.h"

/* owner || service || 0x00, then at (8 BE). */
#define PREFIX_MAX (PROTO_KEY_LEN + PROTO_SERVICE_NAME_MAX + 1)
#define KEY_MAX (PREFIX_MAX + 8)
#define KEY_MIN (PROTO_KEY_LEN + 1 + 1 + 8)

/* One series' key: its prefix, and room for a time after it. */
struct series {
	uint8_t key[KEY_MAX];
	size_t plen;
};

/* KITH_EVALUE for a name that is not a service's. */
static int series_init(struct series *se, const uint8_t owner[PROTO_KEY_LEN], const char *service)
{
	size_t len = strnlen(service, PROTO_SERVICE_NAME_MAX + 1);

	if (!proto_service_name_ok(service, len))
		return KITH_EVALUE;
	memcpy(se->key, owner, PROTO_KEY_LEN);
	memcpy(se->key + PROTO_KEY_LEN, service, len);
	se->key[PROTO_KEY_LEN + len] = 0;
	se->plen = PROTO_KEY_LEN + len + 1;
	return 0;
}

/* The key of the series' entry at at (it points into se). */
static MDB_val series_key(struct series *se, uint64_t at)
{
	store_be64_put(se->key + se->plen, at);
	return (MDB_val){se->plen + 8, se->key};
}

/* Does k start with the series' prefix (a good or a damaged entry of it)? */
static bool in_series(const MDB_val *k, const struct series *se)
{
	return k->mv_size >= se->plen && memcmp(k->mv_data, se->key, se->plen) == 0;
}

/* The entry (k, v), known to start with a prefix of plen bytes, into *e:
 * false when it is damaged. */
static bool entry_decode(struct store_verdict *e, const MDB_val *k, const MDB_val *v, size_t plen)
{
	const uint8_t *d = v->mv_data;

	if (k->mv_size != plen + 8 || v->mv_size != 1 || d[0] > STORE_VERDICT_MAX)
		return false;
	e->at = store_be64_get((const uint8_t *)k->mv_data + plen);
	e->verdict = d[0];
	return true;
}

/* The prefix length of any entry (k, v) of the database, with the entry in
 * *e, or 0 when it is damaged. */
static size_t entry_check(struct store_verdict *e, const MDB_val *k, const MDB_val *v)
{
	const uint8_t *p = k->mv_data;
	size_t plen;

	if (k->mv_size < KEY_MIN || k->mv_size > KEY_MAX)
		return 0;
	plen = k->mv_size - 8;
	if (p[plen - 1] != 0 ||
	    !proto_service_name_ok((const char *)p + PROTO_KEY_LEN, plen - PROTO_KEY_LEN - 1))
		return 0;
	return entry_decode(e, k, v, plen) ? plen : 0;
}

/* The series' last time and verdict. */
struct last {
	bool any;        /* the series has an entry with a time */
	uint64_t at;     /* the last entry's time, good or not */
	uint8_t verdict; /* the last good entry's verdict; unknown (0) without one */
};

static int series_last(struct store *s, MDB_cursor *cur, struct series *se, struct last *l)
{
	struct store_verdict e;
	MDB_val k, v;
	int rc;

	*l = (struct last){.any = false};
	/* The first key past the series: its prefix with 0x01 for the 0x00,
	 * which no entry of the series reaches and every later series
	 * passes (a name byte is above 0x01). */
	se->key[se->plen - 1] = 1;
	k = (MDB_val){se->plen, se->key};
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	se->key[se->plen - 1] = 0;
	if (rc != 0 && rc != MDB_NOTFOUND)
		return store_mdb_error(s, rc);
	rc = mdb_cursor_get(cur, &k, &v, rc == 0 ? MDB_PREV : MDB_LAST);
	for (; rc == 0 && in_series(&k, se); rc = mdb_cursor_get(cur, &k, &v, MDB_PREV)) {
		if (k.mv_size != se->plen + 8)
			continue; /* a damaged key has no time */
		if (!l->any) {
			l->any = true;
			l->at = store_be64_get((const uint8_t *)k.mv_data + se->plen);
		}
		if (entry_decode(&e, &k, &v, se->plen)) {
			l->verdict = e.verdict;
			return 0;
		}
	}
	return rc == 0 || rc == MDB_NOTFOUND ? 0 : store_mdb_error(s, rc);
}

/* Deletes the series' oldest entries while it holds more than
 * STORE_VERDICT_SERIES_MAX. A count from the start: at most one more than
 * the cap, since every append keeps it. */
static int series_cap(struct store *s, MDB_cursor *cur, struct series *se)
{
	MDB_val k = {se->plen, se->key}, v;
	size_t n = 0;
	int rc;

	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0 && in_series(&k, se);
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
		n++;
	if (rc != 0 && rc != MDB_NOTFOUND)
		return store_mdb_error(s, rc);
	if (n <= STORE_VERDICT_SERIES_MAX)
		return 0;
	k = (MDB_val){se->plen, se->key};
	/* After mdb_cursor_del() the cursor stands on the next entry, and
	 * MDB_NEXT knows not to step over it. */
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	     rc == 0 && n > STORE_VERDICT_SERIES_MAX && in_series(&k, se);
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		rc = mdb_cursor_del(cur, 0);
		if (rc != 0)
			break;
		n--;
	}
	return rc == 0 || rc == MDB_NOTFOUND ? 0 : store_mdb_error(s, rc);
}

struct append {
	struct series se;
	uint64_t at;
	uint8_t verdict;
	bool changed; /* out */
};

static int append_write(struct store *s, MDB_txn *txn, void *arg)
{
	struct append *a = arg;
	MDB_cursor *cur = NULL;
	struct last l;
	uint64_t at = a->at;
	MDB_val k, v = {1, &a->verdict};
	int rc = store_mdb_error(s, mdb_cursor_open(txn, s->verdicts, &cur));

	a->changed = false;
	if (rc < 0)
		return rc;
	rc = series_last(s, cur, &a->se, &l);
	if (rc < 0 || a->verdict == l.verdict)
		goto out; /* no change, or an unknown verdict for an empty series */
	if (l.any && at <= l.at) {
		if (l.at == UINT64_MAX) {
			rc = KITH_EVALUE;
			goto out;
		}
		at = l.at + 1;
	}
	k = series_key(&a->se, at);
	rc = store_mdb_error(s, mdb_cursor_put(cur, &k, &v, 0));
	if (rc == 0)
		rc = series_cap(s, cur, &a->se);
	a->changed = rc == 0;
out:
	mdb_cursor_close(cur);
	return rc;
}

int store_verdict_append(struct store *s, const uint8_t owner[PROTO_KEY_LEN], const char *service,
                         uint64_t at, uint8_t verdict, bool *changed)
{
	struct append a = {.at = at, .verdict = verdict};
	int rc = series_init(&a.se, owner, service);

	if (changed)
		*changed = false;
	if (rc < 0)
		return rc;
	if (verdict > STORE_VERDICT_MAX)
		return KITH_EVALUE;
	rc = store_write(s, STORE_WRITE_ADD, append_write, &a);
	if (changed)
		*changed = rc == 0 && a.changed;
	return rc;
}

/* Puts cur on the entry that gives the state at from: the good one at
 * from, else the last good one before it, else the first entry after
 * from (rc MDB_NOTFOUND or an entry past the series when there is none).
 * *damaged is set when damage was stepped over on the way back. */
static int since_start(MDB_cursor *cur, struct series *se, uint64_t from, MDB_val *k, MDB_val *v,
                       bool *damaged)
{
	struct store_verdict e;
	int rc;

	*k = series_key(se, from);
	rc = mdb_cursor_get(cur, k, v, MDB_SET_RANGE);
	if (rc == 0 && in_series(k, se) && entry_decode(&e, k, v, se->plen) && e.at == from)
		return 0;
	if (rc != 0 && rc != MDB_NOTFOUND)
		return rc;
	for (rc = mdb_cursor_get(cur, k, v, rc == 0 ? MDB_PREV : MDB_LAST);
	     rc == 0 && in_series(k, se); rc = mdb_cursor_get(cur, k, v, MDB_PREV)) {
		if (entry_decode(&e, k, v, se->plen))
			return 0;
		*damaged = true;
	}
	if (rc != 0 && rc != MDB_NOTFOUND)
		return rc;
	*k = series_key(se, from);
	return mdb_cursor_get(cur, k, v, MDB_SET_RANGE);
}

int store_verdicts_since(struct store *s, const uint8_t owner[PROTO_KEY_LEN], const char *service,
                         uint64_t from, store_verdict_fn fn, void *arg)
{
	struct series se;
	struct store_verdict e;
	MDB_cursor *cur = NULL;
	MDB_txn *txn;
	MDB_val k, v;
	bool damaged = false;
	int rc = series_init(&se, owner, service);

	if (rc < 0)
		return rc;
	rc = store_read_begin(s, &txn);
	if (rc < 0)
		return rc;
	rc = store_mdb_error(s, mdb_cursor_open(txn, s->verdicts, &cur));
	if (rc < 0)
		goto out;
	for (rc = since_start(cur, &se, from, &k, &v, &damaged); rc == 0 && in_series(&k, &se);
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (!entry_decode(&e, &k, &v, se.plen)) {
			damaged = true;
			continue;
		}
		rc = fn(arg, &e);
		if (rc != 0)
			goto out;
	}
	if (rc != 0 && rc != MDB_NOTFOUND)
		rc = store_mdb_error(s, rc);
	else
		rc = damaged ? -EIO : 0;
out:
	if (cur)
		mdb_cursor_close(cur);
	store_read_end(s);
	return rc;
}

struct collect {
	struct store_verdict *out;
	size_t max, n;
};

static int collect_one(void *arg, const struct store_verdict *v)
{
	struct collect *c = arg;

	if (c->n == c->max)
		return KITH_ETOOBIG;
	c->out[c->n++] = *v;
	return 0;
}

int store_verdicts_read(struct store *s, const uint8_t owner[PROTO_KEY_LEN], const char *service,
                        uint64_t from, struct store_verdict *out, size_t max, size_t *n)
{
	struct collect c = {.out = out, .max = max};
	int rc = store_verdicts_since(s, owner, service, from, collect_one, &c);

	*n = c.n;
	return rc;
}

struct prune {
	uint64_t before;
	size_t max;
	uint64_t removed; /* out */
	bool more;        /* out */
};

/* One walk of the whole database. pending is the prefix of the entry just
 * before the cursor when it is good and at or before p->before: once the
 * next entry of its series is at or before p->before too, pending no
 * longer says anything about the state at p->before and goes (the cursor
 * steps back onto it, deletes it and so stands on the entry again, which
 * becomes pending in turn). Damage goes as it is met, so the entry before
 * the cursor is always the last one looked at. */
static int prune_write(struct store *s, MDB_txn *txn, void *arg)
{
	struct prune *p = arg;
	uint8_t pending[PREFIX_MAX];
	size_t pending_len = 0, plen;
	struct store_verdict e;
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	int rc = store_mdb_error(s, mdb_cursor_open(txn, s->verdicts, &cur));

	p->removed = 0;
	p->more = false;
	if (rc < 0)
		return rc;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		plen = entry_check(&e, &k, &v);
		if (plen != 0 && (e.at > p->before || pending_len != plen ||
		                  memcmp(pending, k.mv_data, plen) != 0)) {
			pending_len = e.at <= p->before ? plen : 0;
			memcpy(pending, k.mv_data, pending_len);
			continue;
		}
		/* damage, or the pending entry has gone stale */
		if (p->removed >= p->max) {
			p->more = true;
			break;
		}
		if (plen != 0) {
			rc = mdb_cursor_get(cur, &k, &v, MDB_PREV);
			if (rc != 0)
				break;
			pending_len = 0;
		}
		rc = mdb_cursor_del(cur, 0);
		if (rc != 0)
			break;
		p->removed++;
	}
	mdb_cursor_close(cur);
	return rc == 0 || rc == MDB_NOTFOUND ? 0 : store_mdb_error(s, rc);
}

int store_verdicts_prune(struct store *s, uint64_t before, size_t max, uint64_t *removed,
                         bool *more)
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
	const uint8_t *prefix;
	size_t plen, max;
	uint64_t removed; /* out */
	bool more;        /* out */
};

/* Deletes up to d->max entries whose key starts with d->prefix. */
static int drop_write(struct store *s, MDB_txn *txn, void *arg)
{
	struct drop *d = arg;
	MDB_val k = {d->plen, (void *)d->prefix}, v;
	MDB_cursor *cur = NULL;
	int rc = store_mdb_error(s, mdb_cursor_open(txn, s->verdicts, &cur));

	d->removed = 0;
	d->more = false;
	if (rc < 0)
		return rc;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size < d->plen || memcmp(k.mv_data, d->prefix, d->plen) != 0)
			break;
		if (d->removed >= d->max) {
			d->more = true;
			break;
		}
		rc = mdb_cursor_del(cur, 0);
		if (rc != 0)
			break;
		d->removed++;
	}
	mdb_cursor_close(cur);
	return rc == 0 || rc == MDB_NOTFOUND ? 0 : store_mdb_error(s, rc);
}

int store_verdict_drop(struct store *s, const uint8_t owner[PROTO_KEY_LEN], const char *service,
                       uint64_t *removed)
{
	struct series se;
	struct drop d = {.max = SIZE_MAX};
	int rc = series_init(&se, owner, service);

	if (rc == 0) {
		d.prefix = se.key;
		d.plen = se.plen;
		rc = store_write(s, STORE_WRITE_RESERVE, drop_write, &d);
	}
	if (removed)
		*removed = rc == 0 ? d.removed : 0;
	return rc;
}

int store_verdicts_drop(struct store *s, const uint8_t owner[PROTO_KEY_LEN], size_t max,
                        uint64_t *removed, bool *more)
{
	struct drop d = {.prefix = owner, .plen = PROTO_KEY_LEN, .max = max};
	int rc = store_write(s, STORE_WRITE_RESERVE, drop_write, &d);

	if (removed)
		*removed = rc == 0 ? d.removed : 0;
	if (more)
		*more = rc == 0 && d.more;
	return rc;
}
