/* Local state that is never replicated: the network's founder and the
 * invitations this agent issued.
 *
 * An invitations value is created (8 BE) || expires (8 BE) || uses_left
 * (4 BE) || secret (32) || n_scopes (1), then each scope as its length
 * (2 BE) and its text. Values are checked field by field when read back:
 * a damaged one ends in -EIO. Using an invitation reads, checks,
 * decrements and commits in one write transaction, so two joiners (or a
 * joiner and a crash) can never both get its last use. Our own copies of
 * a secret are wiped before they go out of scope. */
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "../proto/error.h"
#include "../proto/token.h"
#include "store_int.h"

#define META_FOUNDER "founder"

_Static_assert(STORE_INVITE_ID_LEN == PROTO_TOKEN_ID_LEN, "invitation IDs are token IDs");
_Static_assert(STORE_INVITE_SECRET_LEN == PROTO_TOKEN_SECRET_LEN, "and keep a token's secret");

#define INVITE_SECRET_OFF (8 + 8 + 4)
#define INVITE_NSCOPES_OFF (INVITE_SECRET_OFF + STORE_INVITE_SECRET_LEN)
#define INVITE_FIXED_LEN (INVITE_NSCOPES_OFF + 1)
#define INVITE_VALUE_MAX (INVITE_FIXED_LEN + PROTO_SCOPES_MAX * (2 + PROTO_SCOPE_MAX))

int store_founder_get(struct store *s, uint8_t founder[PROTO_KEY_LEN])
{
	MDB_val k = {strlen(META_FOUNDER), META_FOUNDER}, v;
	MDB_txn *txn;
	int rc;

	rc = store_read_begin(s, &txn);
	if (rc < 0)
		return rc;
	rc = mdb_get(txn, s->meta, &k, &v);
	if (rc == MDB_NOTFOUND)
		rc = -ENOENT;
	else if (rc != 0)
		rc = store_mdb_error(s, rc);
	else if (v.mv_size != PROTO_KEY_LEN)
		rc = -EIO;
	else
		memcpy(founder, v.mv_data, PROTO_KEY_LEN);
	store_read_end(s);
	return rc;
}

static int founder_write(struct store *s, MDB_txn *txn, void *arg)
{
	MDB_val k = {strlen(META_FOUNDER), META_FOUNDER};
	MDB_val v = {PROTO_KEY_LEN, arg};

	return store_mdb_error(s, mdb_put(txn, s->meta, &k, &v, 0));
}

int store_founder_set(struct store *s, const uint8_t founder[PROTO_KEY_LEN])
{
	return store_write(s, STORE_WRITE_RESERVE, founder_write, (void *)founder);
}

static void be32_put(uint8_t out[4], uint32_t v)
{
	out[0] = (uint8_t)(v >> 24);
	out[1] = (uint8_t)(v >> 16);
	out[2] = (uint8_t)(v >> 8);
	out[3] = (uint8_t)v;
}

static uint32_t be32_get(const uint8_t in[4])
{
	return (uint32_t)in[0] << 24 | (uint32_t)in[1] << 16 | (uint32_t)in[2] << 8 | in[3];
}

/* What the caller hands us is checked before anything is written. */
static int invite_check(const struct store_invite *inv)
{
	if (inv->uses_left == 0 || inv->expires < inv->created)
		return KITH_EVALUE;
	if (inv->n_scopes > PROTO_SCOPES_MAX)
		return KITH_ETOOBIG;
	for (uint32_t i = 0; i < inv->n_scopes; i++) {
		size_t len = strnlen(inv->scopes[i], sizeof(inv->scopes[i]));

		if (len == 0)
			return KITH_EVALUE;
		if (len > PROTO_SCOPE_MAX)
			return KITH_ETOOBIG; /* not NUL-terminated within its array */
	}
	return 0;
}

/* Writes the value of a checked invitation into buf (INVITE_VALUE_MAX
 * bytes) and returns its length. */
static size_t invite_encode(uint8_t *buf, const struct store_invite *inv)
{
	size_t off = INVITE_FIXED_LEN;

	store_be64_put(buf, inv->created);
	store_be64_put(buf + 8, inv->expires);
	be32_put(buf + 16, inv->uses_left);
	memcpy(buf + INVITE_SECRET_OFF, inv->secret, STORE_INVITE_SECRET_LEN);
	buf[INVITE_NSCOPES_OFF] = (uint8_t)inv->n_scopes;
	for (uint32_t i = 0; i < inv->n_scopes; i++) {
		size_t len = strlen(inv->scopes[i]);

		buf[off] = (uint8_t)(len >> 8);
		buf[off + 1] = (uint8_t)len;
		memcpy(buf + off + 2, inv->scopes[i], len);
		off += 2 + len;
	}
	return off;
}

/* Reads one scope at *off of the value v into out; -EIO if it does not fit. */
static int scope_decode(char out[PROTO_SCOPE_MAX + 1], const uint8_t *v, size_t size, size_t *off)
{
	size_t len;

	if (size - *off < 2)
		return -EIO;
	len = (size_t)v[*off] << 8 | v[*off + 1];
	*off += 2;
	if (len == 0 || len > PROTO_SCOPE_MAX || len > size - *off ||
	    memchr(v + *off, 0, len) != NULL)
		return -EIO;
	memcpy(out, v + *off, len);
	out[len] = 0;
	*off += len;
	return 0;
}

/* Decodes the invitation stored under key k with value v; -EIO unless
 * every field is there, within its limits, and nothing follows. */
static int invite_decode(struct store_invite *out, const MDB_val *k, const MDB_val *v)
{
	const uint8_t *p = v->mv_data;
	size_t off = INVITE_FIXED_LEN;

	memset(out, 0, sizeof(*out));
	if (k->mv_size != STORE_INVITE_ID_LEN || v->mv_size < INVITE_FIXED_LEN)
		return -EIO;
	memcpy(out->id, k->mv_data, STORE_INVITE_ID_LEN);
	out->created = store_be64_get(p);
	out->expires = store_be64_get(p + 8);
	out->uses_left = be32_get(p + 16);
	memcpy(out->secret, p + INVITE_SECRET_OFF, STORE_INVITE_SECRET_LEN);
	out->n_scopes = p[INVITE_NSCOPES_OFF];
	if (out->n_scopes > PROTO_SCOPES_MAX)
		return -EIO;
	for (uint32_t i = 0; i < out->n_scopes; i++) {
		if (scope_decode(out->scopes[i], p, v->mv_size, &off) < 0)
			return -EIO;
	}
	return off == v->mv_size ? 0 : -EIO;
}

/* An encoded invitation to write under its id. */
struct invite_value {
	MDB_val k, v;
};

static int invite_put_write(struct store *s, MDB_txn *txn, void *arg)
{
	struct invite_value *iv = arg;

	/* MDB_KEYEXIST: -EEXIST */
	return store_mdb_error(s, mdb_put(txn, s->invites, &iv->k, &iv->v, MDB_NOOVERWRITE));
}

int store_invite_put(struct store *s, const struct store_invite *inv)
{
	uint8_t buf[INVITE_VALUE_MAX];
	struct invite_value iv = {{STORE_INVITE_ID_LEN, (void *)inv->id}, {0, buf}};
	int rc = invite_check(inv);

	if (rc < 0)
		return rc;
	iv.v.mv_size = invite_encode(buf, inv);
	rc = store_write(s, STORE_WRITE_ADD, invite_put_write, &iv);
	sodium_memzero(buf, sizeof(buf));
	return rc;
}

/* Reads invitation id within txn; out is zeroed on failure (-ENOENT when
 * unknown). */
static int invite_read(struct store *s, MDB_txn *txn, const uint8_t id[STORE_INVITE_ID_LEN],
                       struct store_invite *out)
{
	MDB_val k = {STORE_INVITE_ID_LEN, (void *)id}, v;
	int rc = mdb_get(txn, s->invites, &k, &v);

	if (rc == 0)
		rc = invite_decode(out, &k, &v);
	else
		rc = rc == MDB_NOTFOUND ? -ENOENT : store_mdb_error(s, rc);
	if (rc < 0)
		memset(out, 0, sizeof(*out));
	return rc;
}

int store_invite_get(struct store *s, const uint8_t id[STORE_INVITE_ID_LEN],
                     struct store_invite *out)
{
	MDB_txn *txn;
	int rc;

	rc = store_read_begin(s, &txn);
	if (rc < 0) {
		memset(out, 0, sizeof(*out));
		return rc;
	}
	rc = invite_read(s, txn, id, out);
	store_read_end(s);
	return rc;
}

struct invite_use {
	const uint8_t *id;
	uint64_t now;
	struct store_invite *out;
	uint8_t buf[INVITE_VALUE_MAX]; /* holds a secret: wiped after the write */
};

/* Reads, checks and decrements in one transaction, so two joiners (or a
 * joiner and a crash) can never both get the last use. */
static int invite_use_write(struct store *s, MDB_txn *txn, void *arg)
{
	struct invite_use *u = arg;
	MDB_val k = {STORE_INVITE_ID_LEN, (void *)u->id}, v = {0, u->buf};
	int rc = invite_read(s, txn, u->id, u->out);

	if (rc == 0 && u->out->uses_left == 0)
		rc = KITH_EUSED;
	else if (rc == 0 && u->out->expires < u->now)
		rc = KITH_EEXPIRED;
	if (rc < 0)
		return rc;
	u->out->uses_left--; /* encode it as it will be, return it as it was */
	v.mv_size = invite_encode(u->buf, u->out);
	u->out->uses_left++;
	return store_mdb_error(s, mdb_put(txn, s->invites, &k, &v, 0));
}

int store_invite_use(struct store *s, const uint8_t id[STORE_INVITE_ID_LEN], uint64_t now,
                     struct store_invite *out)
{
	struct invite_use u = {.id = id, .now = now, .out = out};
	int rc;

	memset(out, 0, sizeof(*out));
	/* Synced before we return: the use is spent even if we crash now. */
	rc = store_write(s, STORE_WRITE_RESERVE, invite_use_write, &u);
	sodium_memzero(u.buf, sizeof(u.buf));
	return rc;
}

struct invite_walk {
	int (*fn)(void *arg, const struct store_invite *inv);
	void *arg;
	struct store_invite inv; /* holds a secret: wiped after the walk */
};

static int invites_visit(void *arg, MDB_txn *txn, const MDB_val *k, const MDB_val *v)
{
	struct invite_walk *w = arg;
	int rc = invite_decode(&w->inv, k, v);

	(void)txn;
	return rc ? rc : w->fn(w->arg, &w->inv);
}

int store_invites_each(struct store *s, int (*fn)(void *arg, const struct store_invite *inv),
                       void *arg)
{
	struct invite_walk w = {.fn = fn, .arg = arg};
	int rc = store_walk(s, s->invites, NULL, 0, invites_visit, &w);

	sodium_memzero(&w.inv, sizeof(w.inv));
	return rc;
}

struct invites_prune {
	uint64_t now;
	uint64_t removed;        /* out */
	struct store_invite inv; /* holds a secret: wiped after the write */
};

static int invites_prune_write(struct store *s, MDB_txn *txn, void *arg)
{
	struct invites_prune *p = arg;
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	int rc = store_mdb_error(s, mdb_cursor_open(txn, s->invites, &cur));

	p->removed = 0;
	if (rc < 0)
		return rc;
	/* After mdb_cursor_del() the cursor already stands on the next
	 * entry, and MDB_NEXT knows not to step over it. */
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		rc = invite_decode(&p->inv, &k, &v);
		if (rc < 0)
			goto out;
		if (p->inv.expires >= p->now)
			continue;
		rc = store_mdb_error(s, mdb_cursor_del(cur, 0));
		if (rc < 0)
			goto out;
		p->removed++;
	}
	rc = rc == MDB_NOTFOUND ? 0 : store_mdb_error(s, rc);
out:
	mdb_cursor_close(cur);
	return rc;
}

int store_invites_prune(struct store *s, uint64_t now, uint64_t *removed)
{
	struct invites_prune p = {.now = now};
	int rc = store_write(s, STORE_WRITE_RESERVE, invites_prune_write, &p);

	sodium_memzero(&p.inv, sizeof(p.inv));
	if (removed)
		*removed = rc == 0 ? p.removed : 0;
	return rc;
}
