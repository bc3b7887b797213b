/* Shards partners keep with us, and what each owner uses.
 *
 * shards maps owner (32) || name to the shard's bytes; usage maps owner to
 * bytes (8 BE) || count (8 BE) of its shards and its holds (store_hold.c),
 * where each one's bytes are its cost: its length + its name's length +
 * STORE_SHARD_OVERHEAD. Every change to an owner's shards or holds
 * rewrites its usage entry in the same write transaction, so they never
 * disagree on disk and a quota check is one read, not a walk. An owner
 * with neither has no usage entry. When they do disagree (a file damaged
 * or edited behind our back) the change is refused with -EIO: an owner
 * must never get more room than its grant allows because a counter went
 * wrong. store_shards_drop() is the way out. The schema upgrade to
 * version 3 recounts every owner (store_usage_rebuild()). A name is
 * either a shard or a hold of its owner, never both. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "../proto/error.h"
#include "store_int.h"

#define SHARD_KEY_MAX STORE_SHARD_KEY_MAX
#define USAGE_VALUE_LEN 16

/* *len = the length of a valid name; KITH_EVALUE or KITH_ETOOBIG. */
static int name_check(const char *name, size_t *len)
{
	*len = strnlen(name, STORE_SHARD_NAME_MAX + 1);
	if (*len == 0)
		return KITH_EVALUE;
	return *len > STORE_SHARD_NAME_MAX ? KITH_ETOOBIG : 0;
}

int store_shard_key(uint8_t key[STORE_SHARD_KEY_MAX], MDB_val *k,
                    const uint8_t owner[PROTO_KEY_LEN], const char *name)
{
	size_t len;
	int rc = name_check(name, &len);

	if (rc < 0)
		return rc;
	memcpy(key, owner, PROTO_KEY_LEN);
	memcpy(key + PROTO_KEY_LEN, name, len);
	*k = (MDB_val){PROTO_KEY_LEN + len, key};
	return 0;
}

int store_usage_read(struct store *s, MDB_txn *txn, const uint8_t owner[PROTO_KEY_LEN],
                     struct store_usage *u)
{
	MDB_val k = {PROTO_KEY_LEN, (void *)owner}, v;
	int rc = mdb_get(txn, s->usage, &k, &v);

	*u = (struct store_usage){0, 0};
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc != 0)
		return store_mdb_error(s, rc);
	if (v.mv_size != USAGE_VALUE_LEN)
		return -EIO;
	u->bytes = store_be64_get(v.mv_data);
	u->count = store_be64_get((const uint8_t *)v.mv_data + 8);
	if (u->count == 0) {
		*u = (struct store_usage){0, 0};
		return -EIO; /* an entry is removed with the last shard or hold */
	}
	return 0;
}

int store_usage_write(struct store *s, MDB_txn *txn, const uint8_t owner[PROTO_KEY_LEN],
                      const struct store_usage *u)
{
	uint8_t buf[USAGE_VALUE_LEN];
	MDB_val k = {PROTO_KEY_LEN, (void *)owner}, v = {sizeof(buf), buf};
	int rc;

	if (u->count == 0) {
		rc = mdb_del(txn, s->usage, &k, NULL);
		return rc == MDB_NOTFOUND ? 0 : store_mdb_error(s, rc);
	}
	store_be64_put(buf, u->bytes);
	store_be64_put(buf + 8, u->count);
	return store_mdb_error(s, mdb_put(txn, s->usage, &k, &v, 0));
}

uint64_t store_shard_cost(uint64_t size, size_t klen)
{
	return size + (klen - PROTO_KEY_LEN) + STORE_SHARD_OVERHEAD;
}

/* Looks up the shard k: *found, and its cost in *cost. */
static int shard_lookup(struct store *s, MDB_txn *txn, MDB_val *k, bool *found, uint64_t *cost)
{
	MDB_val v;
	int rc = mdb_get(txn, s->shards, k, &v);

	*found = rc == 0;
	*cost = rc == 0 ? store_shard_cost(v.mv_size, k->mv_size) : 0;
	return rc == 0 || rc == MDB_NOTFOUND ? 0 : store_mdb_error(s, rc);
}

int store_shard_exists(struct store *s, MDB_txn *txn, const MDB_val *k, bool *found)
{
	uint64_t cost;

	return shard_lookup(s, txn, (MDB_val *)k, found, &cost);
}

int store_usage_take(struct store_usage *u, uint64_t n, uint64_t bytes)
{
	if (u->count < n || u->bytes < bytes)
		return -EIO;
	u->count -= n;
	u->bytes -= bytes;
	if (u->count == 0 && u->bytes != 0)
		return -EIO; /* bytes counted for entries that are not there */
	return 0;
}

/* Owner's usage within txn before (*now) and after (*without) shard k is
 * taken out, and whether k exists (*found). */
static int usage_without(struct store *s, MDB_txn *txn, const uint8_t owner[PROTO_KEY_LEN],
                         MDB_val *k, struct store_usage *now, struct store_usage *without,
                         bool *found)
{
	uint64_t old;
	int rc = store_usage_read(s, txn, owner, now);

	*without = *now;
	if (rc == 0)
		rc = shard_lookup(s, txn, k, found, &old);
	if (rc == 0 && *found)
		rc = store_usage_take(without, 1, old);
	return rc;
}

struct shard_put {
	const uint8_t *owner;
	MDB_val k, v;
	uint64_t quota, max_shards;
	uint64_t used; /* out */
};

/* Refuses the shard when its name is a hold, or it would be one too many
 * or pass the quota (p->used then says what is used), else stores it. */
static int shard_put_write(struct store *s, MDB_txn *txn, void *arg)
{
	struct shard_put *p = arg;
	uint64_t cost = store_shard_cost(p->v.mv_size, p->k.mv_size);
	struct store_usage now, base, after;
	bool found = false, held = false; /* found: gcc -O3 cannot see usage_without() sets it */
	int rc = usage_without(s, txn, p->owner, &p->k, &now, &base, &found);

	p->used = now.bytes;
	if (rc == 0)
		rc = store_hold_exists(s, txn, &p->k, &held);
	if (rc < 0)
		return rc;
	if (held)
		return -EEXIST;
	if (!found && base.count >= p->max_shards)
		return KITH_ETOOMANY;
	/* base.bytes + cost <= quota, written so that it cannot overflow */
	if (cost > p->quota || base.bytes > p->quota - cost)
		return KITH_EQUOTA;
	after = (struct store_usage){base.bytes + cost, base.count + 1};
	rc = store_mdb_error(s, mdb_put(txn, s->shards, &p->k, &p->v, 0));
	if (rc == 0)
		rc = store_usage_write(s, txn, p->owner, &after);
	if (rc == 0)
		p->used = after.bytes;
	return rc;
}

int store_shard_put(struct store *s, const uint8_t owner[PROTO_KEY_LEN], const char *name,
                    const uint8_t *data, size_t len, uint64_t quota, uint64_t max_shards,
                    uint64_t *used)
{
	static const uint8_t empty[1];
	uint8_t key[SHARD_KEY_MAX];
	struct shard_put p = {.owner = owner, .quota = quota, .max_shards = max_shards};
	int rc;

	if (used)
		*used = 0;
	rc = store_shard_key(key, &p.k, owner, name);
	if (rc < 0)
		return rc;
	if (!data && len > 0)
		return -EINVAL;
	p.v = (MDB_val){len, (void *)(data ? data : empty)};
	rc = store_write(s, STORE_WRITE_ADD, shard_put_write, &p);
	if (used && (rc == 0 || rc == KITH_EQUOTA || rc == KITH_ETOOMANY))
		*used = p.used;
	return rc;
}

int store_shard_get(struct store *s, const uint8_t owner[PROTO_KEY_LEN], const char *name,
                    uint8_t **data, size_t *len)
{
	uint8_t key[SHARD_KEY_MAX];
	MDB_val k, v;
	MDB_txn *txn;
	int rc;

	*data = NULL;
	*len = 0;
	rc = store_shard_key(key, &k, owner, name);
	if (rc < 0)
		return rc;
	rc = store_read_begin(s, &txn);
	if (rc < 0)
		return rc;
	rc = mdb_get(txn, s->shards, &k, &v);
	if (rc != 0) {
		rc = rc == MDB_NOTFOUND ? -ENOENT : store_mdb_error(s, rc);
		goto out;
	}
	*data = malloc(v.mv_size ? v.mv_size : 1); /* an empty shard still gets a buffer */
	if (!*data) {
		rc = -ENOMEM;
		goto out;
	}
	memcpy(*data, v.mv_data, v.mv_size);
	*len = v.mv_size;
out:
	store_read_end(s);
	return rc;
}

struct shard_del {
	const uint8_t *owner;
	MDB_val k;
	uint64_t used; /* out */
};

static int shard_del_write(struct store *s, MDB_txn *txn, void *arg)
{
	struct shard_del *d = arg;
	struct store_usage now, u;
	bool found;
	int rc = usage_without(s, txn, d->owner, &d->k, &now, &u, &found);

	if (rc == 0 && !found)
		rc = -ENOENT;
	if (rc == 0)
		rc = store_mdb_error(s, mdb_del(txn, s->shards, &d->k, NULL));
	if (rc == 0)
		rc = store_usage_write(s, txn, d->owner, &u);
	d->used = u.bytes;
	return rc;
}

int store_shard_del(struct store *s, const uint8_t owner[PROTO_KEY_LEN], const char *name,
                    uint64_t *used)
{
	uint8_t key[SHARD_KEY_MAX];
	struct shard_del d = {.owner = owner};
	int rc;

	if (used)
		*used = 0;
	rc = store_shard_key(key, &d.k, owner, name);
	if (rc == 0)
		rc = store_write(s, STORE_WRITE_RESERVE, shard_del_write, &d);
	if (rc == 0 && used)
		*used = d.used;
	return rc;
}

int store_shard_usage(struct store *s, const uint8_t owner[PROTO_KEY_LEN], uint64_t *bytes,
                      uint64_t *count)
{
	struct store_usage u = {0, 0};
	MDB_txn *txn;
	int rc;

	rc = store_read_begin(s, &txn);
	if (rc == 0) {
		rc = store_usage_read(s, txn, owner, &u);
		store_read_end(s);
	}
	*bytes = u.bytes;
	*count = u.count;
	return rc;
}

/* Deletes every shards entry that starts with owner, through cur; adds
 * their cost to *freed. */
static int shards_delete(struct store *s, MDB_cursor *cur, const uint8_t owner[PROTO_KEY_LEN],
                         uint64_t *freed)
{
	MDB_val k = {PROTO_KEY_LEN, (void *)owner}, v;
	int rc;

	/* After mdb_cursor_del() the cursor already stands on the next
	 * entry, and MDB_NEXT knows not to step over it. */
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size < PROTO_KEY_LEN || memcmp(k.mv_data, owner, PROTO_KEY_LEN) != 0)
			return 0; /* past owner's entries */
		*freed += store_shard_cost(v.mv_size, k.mv_size);
		rc = mdb_cursor_del(cur, 0);
		if (rc != 0)
			break;
	}
	return rc == MDB_NOTFOUND ? 0 : store_mdb_error(s, rc);
}

struct shards_drop {
	const uint8_t *owner;
	uint64_t freed; /* out */
};

static int shards_drop_write(struct store *s, MDB_txn *txn, void *arg)
{
	static const struct store_usage none = {0, 0};
	struct shards_drop *d = arg;
	MDB_cursor *cur = NULL;
	int rc = store_mdb_error(s, mdb_cursor_open(txn, s->shards, &cur));

	d->freed = 0;
	if (rc == 0)
		rc = shards_delete(s, cur, d->owner, &d->freed);
	if (cur)
		mdb_cursor_close(cur);
	if (rc == 0)
		rc = store_holds_delete(s, txn, d->owner, &d->freed);
	/* The usage entry goes without being read: drop repairs it. */
	return rc < 0 ? rc : store_usage_write(s, txn, d->owner, &none);
}

int store_shards_drop(struct store *s, const uint8_t owner[PROTO_KEY_LEN], uint64_t *freed)
{
	struct shards_drop d = {.owner = owner};
	int rc = store_write(s, STORE_WRITE_RESERVE, shards_drop_write, &d);

	if (freed)
		*freed = rc == 0 ? d.freed : 0;
	return rc;
}

/* Counts one shards entry (k, v) into its owner's total *u, first writing
 * the total of the owner before it when k starts another. */
static int rebuild_step(struct store *s, MDB_txn *txn, const MDB_val *k, const MDB_val *v,
                        uint8_t owner[PROTO_KEY_LEN], struct store_usage *u)
{
	int rc = 0;

	if (k->mv_size <= PROTO_KEY_LEN || k->mv_size > SHARD_KEY_MAX)
		return -EIO;
	if (u->count > 0 && memcmp(owner, k->mv_data, PROTO_KEY_LEN) != 0) {
		rc = store_usage_write(s, txn, owner, u);
		*u = (struct store_usage){0, 0};
	}
	memcpy(owner, k->mv_data, PROTO_KEY_LEN);
	u->bytes += store_shard_cost(v->mv_size, k->mv_size);
	u->count++;
	return rc;
}

/* Empties usage and counts it again from the shards, which are in owner
 * order: each owner's entry is written when the walk moves past it. */
int store_usage_rebuild(struct store *s, MDB_txn *txn)
{
	uint8_t owner[PROTO_KEY_LEN];
	struct store_usage u = {0, 0};
	MDB_cursor *cur = NULL;
	MDB_cursor_op op = MDB_FIRST;
	MDB_val k, v;
	int rc = mdb_drop(txn, s->usage, 0);

	if (rc == 0)
		rc = mdb_cursor_open(txn, s->shards, &cur);
	if (rc != 0)
		return store_mdb_error(s, rc);
	while ((rc = mdb_cursor_get(cur, &k, &v, op)) == 0) {
		op = MDB_NEXT;
		rc = rebuild_step(s, txn, &k, &v, owner, &u);
		if (rc < 0)
			goto out;
	}
	if (rc != MDB_NOTFOUND)
		rc = store_mdb_error(s, rc);
	else
		rc = u.count > 0 ? store_usage_write(s, txn, owner, &u) : 0;
out:
	mdb_cursor_close(cur);
	return rc;
}
