/* Holds: the index of the shards partners keep with us as files.
 *
 * holds maps owner (32) || name to a fixed value: state (1) || size (8 BE)
 * || hash (32) || created (8 BE) || grace_until (8 BE). A hold's cost is
 * in its owner's usage entry (store_shard.c) beside its shards', changed
 * in the transaction that adds or removes the hold; commit and grace
 * rewrite the value in place and leave usage alone. A value of another
 * length or an unknown state is damage: -EIO. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "../proto/error.h"
#include "store_int.h"

#define HOLD_VALUE_LEN (1 + 8 + STORE_HOLD_HASH_LEN + 8 + 8)
#define OFF_SIZE 1
#define OFF_HASH (OFF_SIZE + 8)
#define OFF_CREATED (OFF_HASH + STORE_HOLD_HASH_LEN)
#define OFF_GRACE (OFF_CREATED + 8)

_Static_assert(OFF_GRACE + 8 == HOLD_VALUE_LEN, "the value's fields fill it");

static void hold_encode(uint8_t v[HOLD_VALUE_LEN], const struct store_hold *h)
{
	v[0] = (uint8_t)h->state;
	store_be64_put(v + OFF_SIZE, h->size);
	memcpy(v + OFF_HASH, h->hash, STORE_HOLD_HASH_LEN);
	store_be64_put(v + OFF_CREATED, h->created);
	store_be64_put(v + OFF_GRACE, h->grace_until);
}

/* -EIO for a value that is not a hold's. */
static int hold_decode(struct store_hold *h, const MDB_val *v)
{
	const uint8_t *p = v->mv_data;

	memset(h, 0, sizeof(*h));
	if (v->mv_size != HOLD_VALUE_LEN)
		return -EIO;
	if (p[0] != STORE_HOLD_RESERVED && p[0] != STORE_HOLD_KEPT)
		return -EIO;
	h->state = (enum store_hold_state)p[0];
	h->size = store_be64_get(p + OFF_SIZE);
	memcpy(h->hash, p + OFF_HASH, STORE_HOLD_HASH_LEN);
	h->created = store_be64_get(p + OFF_CREATED);
	h->grace_until = store_be64_get(p + OFF_GRACE);
	return h->size > STORE_HOLD_SIZE_MAX ? -EIO : 0;
}

static int hold_write(struct store *s, MDB_txn *txn, const MDB_val *k, const struct store_hold *h)
{
	uint8_t buf[HOLD_VALUE_LEN];
	MDB_val v = {sizeof(buf), buf};

	hold_encode(buf, h);
	return store_mdb_error(s, mdb_put(txn, s->holds, (MDB_val *)k, &v, 0));
}

/* The hold k within txn: *found, and when found its value in *h. */
static int hold_lookup(struct store *s, MDB_txn *txn, const MDB_val *k, struct store_hold *h,
                       bool *found)
{
	MDB_val v;
	int rc = mdb_get(txn, s->holds, (MDB_val *)k, &v);

	*found = false;
	memset(h, 0, sizeof(*h));
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc != 0)
		return store_mdb_error(s, rc);
	*found = true;
	return hold_decode(h, &v);
}

int store_hold_exists(struct store *s, MDB_txn *txn, const MDB_val *k, bool *found)
{
	MDB_val v;
	int rc = mdb_get(txn, s->holds, (MDB_val *)k, &v);

	*found = rc == 0;
	return rc == 0 || rc == MDB_NOTFOUND ? 0 : store_mdb_error(s, rc);
}

struct hold_reserve {
	const uint8_t *owner;
	MDB_val k;
	struct store_hold h;
	uint64_t quota, max_count;
	uint64_t used; /* out */
};

/* Refuses a name taken by a shard or a hold, one too many, or a cost past
 * the quota (r->used then says what is used); else reserves. */
static int reserve_write(struct store *s, MDB_txn *txn, void *arg)
{
	struct hold_reserve *r = arg;
	uint64_t cost = store_shard_cost(r->h.size, r->k.mv_size);
	struct store_usage u, after;
	bool held = false, shard = false;
	int rc = store_usage_read(s, txn, r->owner, &u);

	r->used = u.bytes;
	if (rc == 0)
		rc = store_hold_exists(s, txn, &r->k, &held);
	if (rc == 0)
		rc = store_shard_exists(s, txn, &r->k, &shard);
	if (rc < 0)
		return rc;
	if (held || shard)
		return -EEXIST;
	if (u.count >= r->max_count)
		return KITH_ETOOMANY;
	/* u.bytes + cost <= quota, written so that it cannot overflow */
	if (cost > r->quota || u.bytes > r->quota - cost)
		return KITH_EQUOTA;
	after = (struct store_usage){u.bytes + cost, u.count + 1};
	rc = hold_write(s, txn, &r->k, &r->h);
	if (rc == 0)
		rc = store_usage_write(s, txn, r->owner, &after);
	if (rc == 0)
		r->used = after.bytes;
	return rc;
}

int store_hold_reserve(struct store *s, const uint8_t owner[PROTO_KEY_LEN], const char *name,
                       uint64_t size, uint64_t quota, uint64_t max_count, uint64_t now,
                       uint64_t *used)
{
	uint8_t key[STORE_SHARD_KEY_MAX];
	struct hold_reserve r = {.owner = owner, .quota = quota, .max_count = max_count};
	int rc;

	if (used)
		*used = 0;
	rc = store_shard_key(key, &r.k, owner, name);
	if (rc < 0)
		return rc;
	if (size > STORE_HOLD_SIZE_MAX)
		return KITH_ETOOBIG;
	r.h = (struct store_hold){.state = STORE_HOLD_RESERVED, .size = size, .created = now};
	rc = store_write(s, STORE_WRITE_ADD, reserve_write, &r);
	if (used && (rc == 0 || rc == KITH_EQUOTA || rc == KITH_ETOOMANY))
		*used = r.used;
	return rc;
}

struct hold_commit {
	MDB_val k;
	const uint8_t *hash;
};

static int commit_write(struct store *s, MDB_txn *txn, void *arg)
{
	struct hold_commit *c = arg;
	struct store_hold h;
	bool found;
	int rc = hold_lookup(s, txn, &c->k, &h, &found);

	if (rc < 0)
		return rc;
	if (!found)
		return -ENOENT;
	if (h.state != STORE_HOLD_RESERVED)
		return KITH_EVALUE;
	h.state = STORE_HOLD_KEPT;
	memcpy(h.hash, c->hash, STORE_HOLD_HASH_LEN);
	return hold_write(s, txn, &c->k, &h);
}

int store_hold_commit(struct store *s, const uint8_t owner[PROTO_KEY_LEN], const char *name,
                      const uint8_t hash[STORE_HOLD_HASH_LEN])
{
	uint8_t key[STORE_SHARD_KEY_MAX];
	struct hold_commit c = {.hash = hash};
	int rc = store_shard_key(key, &c.k, owner, name);

	/* A rewrite in place: it may use the reserve, so that a file made
	 * durable is not left unindexed by a full map. */
	return rc < 0 ? rc : store_write(s, STORE_WRITE_RESERVE, commit_write, &c);
}

struct hold_release {
	const uint8_t *owner;
	MDB_val k;
	uint64_t used; /* out */
};

static int release_write(struct store *s, MDB_txn *txn, void *arg)
{
	struct hold_release *r = arg;
	struct store_usage u;
	struct store_hold h;
	bool found = false;
	int rc = store_usage_read(s, txn, r->owner, &u);

	if (rc == 0)
		rc = hold_lookup(s, txn, &r->k, &h, &found);
	if (rc == 0 && !found)
		rc = -ENOENT;
	if (rc == 0)
		rc = store_usage_take(&u, 1, store_shard_cost(h.size, r->k.mv_size));
	if (rc == 0)
		rc = store_mdb_error(s, mdb_del(txn, s->holds, &r->k, NULL));
	if (rc == 0)
		rc = store_usage_write(s, txn, r->owner, &u);
	r->used = u.bytes;
	return rc;
}

int store_hold_release(struct store *s, const uint8_t owner[PROTO_KEY_LEN], const char *name,
                       uint64_t *used)
{
	uint8_t key[STORE_SHARD_KEY_MAX];
	struct hold_release r = {.owner = owner};
	int rc;

	if (used)
		*used = 0;
	rc = store_shard_key(key, &r.k, owner, name);
	if (rc == 0)
		rc = store_write(s, STORE_WRITE_RESERVE, release_write, &r);
	if (rc == 0 && used)
		*used = r.used;
	return rc;
}

int store_hold_get(struct store *s, const uint8_t owner[PROTO_KEY_LEN], const char *name,
                   struct store_hold *out)
{
	uint8_t key[STORE_SHARD_KEY_MAX];
	MDB_val k;
	MDB_txn *txn;
	bool found = false;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = store_shard_key(key, &k, owner, name);
	if (rc < 0)
		return rc;
	rc = store_read_begin(s, &txn);
	if (rc < 0)
		return rc;
	rc = hold_lookup(s, txn, &k, out, &found);
	store_read_end(s);
	if (rc == 0 && !found)
		rc = -ENOENT;
	if (rc < 0)
		memset(out, 0, sizeof(*out));
	return rc;
}

/* The name of holds key k, NUL-terminated, into name: -EIO for a key too
 * short or too long, or with a NUL inside. */
static int key_name(const MDB_val *k, char name[STORE_SHARD_NAME_MAX + 1])
{
	size_t len = k->mv_size - PROTO_KEY_LEN;

	if (k->mv_size <= PROTO_KEY_LEN || k->mv_size > STORE_SHARD_KEY_MAX)
		return -EIO;
	memcpy(name, (const uint8_t *)k->mv_data + PROTO_KEY_LEN, len);
	name[len] = 0;
	return strlen(name) == len ? 0 : -EIO;
}

struct hold_walk {
	store_hold_fn fn;
	void *arg;
	uint64_t expired_before; /* 0: every hold; else only those whose grace ended */
};

static int holds_visit(void *arg, MDB_txn *txn, const MDB_val *k, const MDB_val *v)
{
	struct hold_walk *w = arg;
	char name[STORE_SHARD_NAME_MAX + 1];
	struct store_hold h;
	int rc = key_name(k, name);

	(void)txn;
	if (rc == 0)
		rc = hold_decode(&h, v);
	if (rc < 0)
		return rc;
	if (w->expired_before && (h.grace_until == 0 || h.grace_until >= w->expired_before))
		return 0;
	return w->fn(w->arg, k->mv_data, name, &h);
}

int store_holds_each(struct store *s, const uint8_t owner[PROTO_KEY_LEN], store_hold_fn fn,
                     void *arg)
{
	struct hold_walk w = {.fn = fn, .arg = arg};
	MDB_val from = {PROTO_KEY_LEN, (void *)owner};

	return store_walk(s, s->holds, owner ? &from : NULL, owner ? PROTO_KEY_LEN : 0, holds_visit,
	                  &w);
}

int store_holds_expired(struct store *s, uint64_t now, store_hold_fn fn, void *arg)
{
	struct hold_walk w = {.fn = fn, .arg = arg, .expired_before = now};

	/* now 0: nothing ended before it */
	return now == 0 ? 0 : store_walk(s, s->holds, NULL, 0, holds_visit, &w);
}

struct hold_grace {
	const uint8_t *owner;
	uint64_t until;
	uint64_t marked; /* out */
};

static int grace_write(struct store *s, MDB_txn *txn, void *arg)
{
	struct hold_grace *g = arg;
	uint8_t buf[HOLD_VALUE_LEN];
	MDB_val k = {PROTO_KEY_LEN, (void *)g->owner}, v, nv = {sizeof(buf), buf};
	MDB_cursor *cur = NULL;
	struct store_hold h;
	int rc = store_mdb_error(s, mdb_cursor_open(txn, s->holds, &cur));

	g->marked = 0;
	if (rc < 0)
		return rc;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size < PROTO_KEY_LEN || memcmp(k.mv_data, g->owner, PROTO_KEY_LEN) != 0)
			break; /* past owner's holds */
		rc = hold_decode(&h, &v);
		if (rc < 0)
			goto out;
		if (h.grace_until == g->until)
			continue;
		h.grace_until = g->until;
		hold_encode(buf, &h);
		rc = mdb_cursor_put(cur, &k, &nv, MDB_CURRENT);
		if (rc != 0)
			break;
		g->marked++;
	}
	rc = rc == MDB_NOTFOUND || rc == 0 ? 0 : store_mdb_error(s, rc);
out:
	mdb_cursor_close(cur);
	return rc;
}

int store_hold_grace(struct store *s, const uint8_t owner[PROTO_KEY_LEN], uint64_t until,
                     uint64_t *marked)
{
	struct hold_grace g = {.owner = owner, .until = until};
	int rc = store_write(s, STORE_WRITE_RESERVE, grace_write, &g);

	if (marked)
		*marked = rc == 0 ? g.marked : 0;
	return rc;
}

/* Reserved holds of one owner, taken out together from its usage. */
struct owner_run {
	uint8_t owner[PROTO_KEY_LEN];
	uint64_t n, bytes;
};

/* Takes the run's holds out of its owner's usage. */
static int run_flush(struct store *s, MDB_txn *txn, struct owner_run *r)
{
	struct store_usage u;
	int rc;

	if (r->n == 0)
		return 0;
	rc = store_usage_read(s, txn, r->owner, &u);
	if (rc == 0)
		rc = store_usage_take(&u, r->n, r->bytes);
	if (rc == 0)
		rc = store_usage_write(s, txn, r->owner, &u);
	r->n = r->bytes = 0;
	return rc;
}

/* Deletes the holds entry under cur if it is RESERVED, counting it into
 * the run of its owner, whose holds come together in key order. */
static int drop_step(struct store *s, MDB_txn *txn, MDB_cursor *cur, const MDB_val *k,
                     const MDB_val *v, struct owner_run *r, uint64_t *released)
{
	struct store_hold h;
	uint64_t cost;
	int rc = hold_decode(&h, v);

	if (rc == 0 && (k->mv_size <= PROTO_KEY_LEN || k->mv_size > STORE_SHARD_KEY_MAX))
		rc = -EIO;
	if (rc < 0 || h.state != STORE_HOLD_RESERVED)
		return rc;
	if (memcmp(r->owner, k->mv_data, PROTO_KEY_LEN) != 0) {
		rc = run_flush(s, txn, r);
		memcpy(r->owner, k->mv_data, PROTO_KEY_LEN);
	}
	cost = store_shard_cost(h.size, k->mv_size);
	r->n++;
	/* saturated: a sum no usage can hold is damage, found by the take */
	r->bytes = r->bytes > UINT64_MAX - cost ? UINT64_MAX : r->bytes + cost;
	(*released)++;
	return rc < 0 ? rc : store_mdb_error(s, mdb_cursor_del(cur, 0));
}

struct drop_reserved {
	uint64_t released; /* out */
};

static int drop_reserved_write(struct store *s, MDB_txn *txn, void *arg)
{
	struct drop_reserved *d = arg;
	struct owner_run r = {.n = 0};
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	int rc = store_mdb_error(s, mdb_cursor_open(txn, s->holds, &cur));

	d->released = 0;
	if (rc < 0)
		return rc;
	/* After mdb_cursor_del() the cursor stands on the next entry, and
	 * MDB_NEXT knows not to step over it. */
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		rc = drop_step(s, txn, cur, &k, &v, &r, &d->released);
		if (rc < 0)
			goto out;
	}
	rc = rc == MDB_NOTFOUND ? run_flush(s, txn, &r) : store_mdb_error(s, rc);
out:
	mdb_cursor_close(cur);
	return rc;
}

int store_holds_drop_reserved(struct store *s, uint64_t *released)
{
	struct drop_reserved d = {0};
	int rc = store_write(s, STORE_WRITE_RESERVE, drop_reserved_write, &d);

	if (released)
		*released = rc == 0 ? d.released : 0;
	return rc;
}

int store_holds_delete(struct store *s, MDB_txn *txn, const uint8_t owner[PROTO_KEY_LEN],
                       uint64_t *freed)
{
	MDB_val k = {PROTO_KEY_LEN, (void *)owner}, v;
	MDB_cursor *cur = NULL;
	struct store_hold h;
	int rc = mdb_cursor_open(txn, s->holds, &cur);

	if (rc != 0)
		return store_mdb_error(s, rc);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size < PROTO_KEY_LEN || memcmp(k.mv_data, owner, PROTO_KEY_LEN) != 0)
			break; /* past owner's holds */
		if (hold_decode(&h, &v) == 0 && k.mv_size <= STORE_SHARD_KEY_MAX)
			*freed += store_shard_cost(h.size, k.mv_size);
		rc = mdb_cursor_del(cur, 0);
		if (rc != 0)
			break;
	}
	mdb_cursor_close(cur);
	return rc == 0 || rc == MDB_NOTFOUND ? 0 : store_mdb_error(s, rc);
}
