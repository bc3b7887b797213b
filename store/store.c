/* Opening and closing the LMDB environment, transactions, error mapping. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../proto/error.h"
#include "store_int.h"

#define STORE_NDBS 7
#define META_SCHEMA "schema"
#define META_SEQ "seq"

/* Version 1 (issues 1-3) had meta, records, byseq and heads; version 2
 * added invites, shards and usage. A version-1 store is upgraded in place
 * when it is opened: see schema_upgrade(). */
#define STORE_SCHEMA_V1 1

static int mdb_to_kith(int rc)
{
	if (rc > 0)
		return -rc; /* LMDB passes system errors through as errno values */
	switch (rc) {
	case 0:
		return 0;
	case MDB_MAP_FULL:
		return KITH_ENOSPACE;
	case MDB_NOTFOUND:
		return -ENOENT;
	case MDB_KEYEXIST:
		return -EEXIST;
	case MDB_VERSION_MISMATCH:
	case MDB_INCOMPATIBLE:
		/* written by another LMDB version, or a name used as another
		 * kind of entry: not a file this schema can read */
		return KITH_ESCHEMA;
	case MDB_READERS_FULL:
	case MDB_MAP_RESIZED:
		return -EAGAIN;
	case MDB_BAD_RSLOT:
		return -EBUSY;
	case MDB_TXN_FULL:
	case MDB_CURSOR_FULL:
	case MDB_PAGE_FULL:
		return -E2BIG;
	case MDB_BAD_VALSIZE:
		return -EINVAL;
	default:
		/* MDB_CORRUPTED, MDB_PAGE_NOTFOUND, MDB_INVALID, MDB_PANIC... */
		return -EIO;
	}
}

int store_mdb_error(struct store *s, int rc)
{
	if (rc != 0 && s)
		s->lmdb_err = rc;
	return mdb_to_kith(rc);
}

const char *store_lmdb_error(const struct store *s)
{
	if (!s || s->lmdb_err == 0)
		return NULL;
	return mdb_strerror(s->lmdb_err);
}

void store_be64_put(uint8_t out[8], uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		out[i] = (uint8_t)v;
		v >>= 8;
	}
}

uint64_t store_be64_get(const uint8_t in[8])
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = (v << 8) | in[i];
	return v;
}

size_t store_record_key(uint8_t *key, const uint8_t author[PROTO_KEY_LEN], uint8_t kind,
                        const char *name, size_t name_len)
{
	memcpy(key, author, PROTO_KEY_LEN);
	key[PROTO_KEY_LEN] = kind;
	memcpy(key + PROTO_KEY_LEN + 1, name, name_len);
	return PROTO_KEY_LEN + 1 + name_len;
}

void store_seq_key(uint8_t key[STORE_SEQ_KEY_LEN], const uint8_t author[PROTO_KEY_LEN],
                   uint64_t seq)
{
	memcpy(key, author, PROTO_KEY_LEN);
	store_be64_put(key + PROTO_KEY_LEN, seq);
}

/* Begins a transaction; when another process grew the map beyond ours,
 * adopts its size and tries once more. */
static int txn_begin(struct store *s, unsigned flags, MDB_txn **txn)
{
	int rc = mdb_txn_begin(s->env, NULL, flags, txn);
	if (rc == MDB_MAP_RESIZED && s->read_depth == 0) {
		rc = mdb_env_set_mapsize(s->env, 0);
		if (rc == 0)
			rc = mdb_txn_begin(s->env, NULL, flags, txn);
	}
	return store_mdb_error(s, rc);
}

int store_read_begin(struct store *s, MDB_txn **txn)
{
	int rc;

	if (s->read_depth > 0) {
		s->read_depth++;
		*txn = s->rtxn;
		return 0;
	}
	if (s->rtxn && mdb_txn_renew(s->rtxn) != 0) {
		mdb_txn_abort(s->rtxn);
		s->rtxn = NULL;
	}
	if (!s->rtxn) {
		rc = txn_begin(s, MDB_RDONLY, &s->rtxn);
		if (rc < 0) {
			s->rtxn = NULL;
			return rc;
		}
	}
	s->read_depth = 1;
	*txn = s->rtxn;
	return 0;
}

void store_read_end(struct store *s)
{
	if (--s->read_depth == 0)
		mdb_txn_reset(s->rtxn);
}

int store_walk(struct store *s, MDB_dbi dbi, const MDB_val *from, size_t prefix_len,
               store_visit_fn visit, void *arg)
{
	MDB_val k = from ? *from : (MDB_val){0, NULL}, v;
	MDB_cursor *cur = NULL;
	MDB_txn *txn;
	int rc;

	rc = store_read_begin(s, &txn);
	if (rc < 0)
		return rc;
	rc = store_mdb_error(s, mdb_cursor_open(txn, dbi, &cur));
	if (rc < 0)
		goto out;
	for (rc = mdb_cursor_get(cur, &k, &v, from ? MDB_SET_RANGE : MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (from && prefix_len) {
			if (k.mv_size < prefix_len) {
				rc = -EIO;
				goto out;
			}
			if (memcmp(k.mv_data, from->mv_data, prefix_len) != 0)
				break; /* past the prefix */
		}
		rc = visit(arg, txn, &k, &v);
		if (rc != 0)
			goto out;
	}
	rc = rc == MDB_NOTFOUND ? 0 : store_mdb_error(s, rc);
out:
	if (cur)
		mdb_cursor_close(cur);
	store_read_end(s);
	return rc;
}

int store_write_begin(struct store *s, MDB_txn **txn)
{
	/* LMDB allows one transaction per thread: no writes from inside a
	 * walk's callback. */
	if (s->read_depth > 0)
		return -EBUSY;
	return txn_begin(s, 0, txn);
}

int store_write_commit(struct store *s, MDB_txn *txn)
{
	return store_mdb_error(s, mdb_txn_commit(txn));
}

static int dir_fsync(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

/* Writes data_dir/STORE_DIR into path and creates the directory (0700) if
 * it is missing; *created says whether it did. */
static int store_dir_make(char *path, size_t size, const char *data_dir, bool *created)
{
	int n = snprintf(path, size, "%s/%s", data_dir, STORE_DIR);

	*created = false;
	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	if (mkdir(path, 0700) == 0) {
		*created = true;
		return 0;
	}
	return errno == EEXIST ? 0 : -errno;
}

static int env_open(struct store *s, const char *path, size_t map_size)
{
	int rc = mdb_env_create(&s->env);
	if (rc != 0) {
		s->env = NULL;
		return store_mdb_error(s, rc);
	}
	rc = mdb_env_set_maxdbs(s->env, STORE_NDBS);
	if (rc == 0)
		rc = mdb_env_set_mapsize(s->env, map_size ? map_size : STORE_MAP_SIZE_DEFAULT);
	/* Default flags: every commit is synced (no MDB_NOSYNC, no
	 * MDB_NOMETASYNC), which is what "put returned 0" promises. */
	if (rc == 0)
		rc = mdb_env_open(s->env, path, 0, 0600);
	if (rc == 0) {
		/* Free the reader slots of processes killed while reading, or
		 * the pages they pinned could never be reused. */
		int dead;
		rc = mdb_reader_check(s->env, &dead);
	}
	return store_mdb_error(s, rc);
}

static int meta_put_u64(MDB_txn *txn, MDB_dbi dbi, const char *key, uint64_t v)
{
	uint8_t buf[8];
	MDB_val k = {strlen(key), (void *)key};
	MDB_val d = {sizeof(buf), buf};

	store_be64_put(buf, v);
	return mdb_put(txn, dbi, &k, &d, 0);
}

static int schema_write(MDB_txn *txn, MDB_dbi meta, uint32_t version)
{
	uint8_t buf[4] = {(uint8_t)(version >> 24), (uint8_t)(version >> 16),
	                  (uint8_t)(version >> 8), (uint8_t)version};
	MDB_val k = {strlen(META_SCHEMA), META_SCHEMA};
	MDB_val d = {sizeof(buf), buf};

	return mdb_put(txn, meta, &k, &d, 0);
}

/* Opens the databases of issue 4's local state; flags is MDB_CREATE when
 * they are being made, 0 when the schema says they exist. */
static int local_dbs_open(struct store *s, MDB_txn *txn, unsigned flags)
{
	int rc = mdb_dbi_open(txn, "invites", flags, &s->invites);
	if (rc == 0)
		rc = mdb_dbi_open(txn, "shards", flags, &s->shards);
	if (rc == 0)
		rc = mdb_dbi_open(txn, "usage", flags, &s->usage);
	return rc;
}

/* A new environment: create the databases, the schema version and the own
 * counter. An environment that holds other data is not ours. */
static int dbs_create(struct store *s, MDB_txn *txn)
{
	MDB_dbi main_dbi;
	MDB_stat st;
	int rc;

	rc = mdb_dbi_open(txn, NULL, 0, &main_dbi);
	if (rc == 0)
		rc = mdb_stat(txn, main_dbi, &st);
	if (rc != 0)
		return store_mdb_error(s, rc);
	if (st.ms_entries != 0)
		return KITH_ESCHEMA;
	rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &s->meta);
	if (rc == 0)
		rc = mdb_dbi_open(txn, "records", MDB_CREATE, &s->records);
	if (rc == 0)
		rc = mdb_dbi_open(txn, "byseq", MDB_CREATE, &s->byseq);
	if (rc == 0)
		rc = mdb_dbi_open(txn, "heads", MDB_CREATE, &s->heads);
	if (rc == 0)
		rc = local_dbs_open(s, txn, MDB_CREATE);
	if (rc == 0)
		rc = schema_write(txn, s->meta, STORE_SCHEMA_VERSION);
	if (rc == 0)
		rc = meta_put_u64(txn, s->meta, META_SEQ, 0);
	return store_mdb_error(s, rc);
}

/* Version 1 -> 2: add the new databases and write the new version, in the
 * open's write transaction, so a crash leaves either a version-1 store or
 * a complete version-2 one. A version-1 store cannot hold them already
 * (nothing of version 1 wrote them): if one is there and not empty, the
 * file is not what its version says. */
static int schema_upgrade(struct store *s, MDB_txn *txn)
{
	MDB_dbi dbis[3];
	MDB_stat st;
	int rc = local_dbs_open(s, txn, MDB_CREATE);

	if (rc != 0)
		return store_mdb_error(s, rc);
	dbis[0] = s->invites;
	dbis[1] = s->shards;
	dbis[2] = s->usage;
	for (int i = 0; i < 3; i++) {
		rc = mdb_stat(txn, dbis[i], &st);
		if (rc != 0)
			return store_mdb_error(s, rc);
		if (st.ms_entries != 0)
			return -EIO;
	}
	return store_mdb_error(s, schema_write(txn, s->meta, STORE_SCHEMA_VERSION));
}

/* An existing environment: check its schema version before anything else,
 * and upgrade a version-1 store. */
static int dbs_check(struct store *s, MDB_txn *txn)
{
	MDB_val k = {strlen(META_SCHEMA), META_SCHEMA};
	MDB_val d;
	const uint8_t *v;
	uint32_t version;
	int rc;

	rc = mdb_get(txn, s->meta, &k, &d);
	if (rc == MDB_NOTFOUND)
		return KITH_ESCHEMA;
	if (rc != 0)
		return store_mdb_error(s, rc);
	if (d.mv_size != 4)
		return -EIO;
	v = d.mv_data;
	version = (uint32_t)v[0] << 24 | (uint32_t)v[1] << 16 | (uint32_t)v[2] << 8 | v[3];
	if (version != STORE_SCHEMA_VERSION && version != STORE_SCHEMA_V1)
		return KITH_ESCHEMA;
	rc = mdb_dbi_open(txn, "records", 0, &s->records);
	if (rc == 0)
		rc = mdb_dbi_open(txn, "byseq", 0, &s->byseq);
	if (rc == 0)
		rc = mdb_dbi_open(txn, "heads", 0, &s->heads);
	if (rc == 0 && version == STORE_SCHEMA_VERSION)
		rc = local_dbs_open(s, txn, 0);
	if (rc == MDB_NOTFOUND)
		return -EIO; /* the schema says they exist */
	if (rc != 0)
		return store_mdb_error(s, rc);
	return version == STORE_SCHEMA_V1 ? schema_upgrade(s, txn) : 0;
}

/* Opens the databases in one write transaction, so the handles stay valid
 * for the life of the environment. A schema mismatch aborts it: the file
 * is left as it was. */
static int dbs_open(struct store *s, bool *created)
{
	MDB_txn *txn = NULL;
	int rc;

	*created = false;
	rc = store_write_begin(s, &txn);
	if (rc < 0)
		return rc;
	rc = mdb_dbi_open(txn, "meta", 0, &s->meta);
	if (rc == MDB_NOTFOUND) {
		rc = dbs_create(s, txn);
		*created = rc == 0;
	} else if (rc == 0) {
		rc = dbs_check(s, txn);
	} else {
		rc = store_mdb_error(s, rc);
	}
	if (rc < 0) {
		mdb_txn_abort(txn);
		return rc;
	}
	return store_write_commit(s, txn);
}

int store_open(struct store **out, const char *data_dir, const struct store_options *opt)
{
	char path[PATH_MAX];
	struct store *s = NULL;
	bool dir_created, dbs_created;
	int rc;

	*out = NULL;
	rc = store_dir_make(path, sizeof(path), data_dir, &dir_created);
	if (rc < 0)
		return rc;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	rc = env_open(s, path, opt ? opt->map_size : 0);
	if (rc == 0)
		rc = dbs_open(s, &dbs_created);
	/* A new file's directory entries must reach the disk too, or a
	 * power loss could take the whole store with it. */
	if (rc == 0 && dbs_created)
		rc = dir_fsync(path);
	if (rc == 0 && dir_created)
		rc = dir_fsync(data_dir);
	if (rc < 0) {
		store_close(&s);
		return rc;
	}
	*out = s;
	return 0;
}

void store_close(struct store **s)
{
	if (!s || !*s)
		return;
	if ((*s)->rtxn)
		mdb_txn_abort((*s)->rtxn);
	if ((*s)->env)
		mdb_env_close((*s)->env);
	free(*s);
	*s = NULL;
}
