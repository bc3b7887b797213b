/* Opening and closing the LMDB environment, the map's size, transactions,
 * error mapping and statistics. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "../proto/error.h"
#include "store_int.h"

#define STORE_NDBS 11
#define MIB ((size_t)1 << 20)
/* LMDB reports a write the filesystem cut short as EIO: with less room
 * than this left, the disk is taken to be full (see disk_full()). */
#define DISK_FULL_SLACK MIB

_Static_assert(SIZE_MAX / 2 >= STORE_MAP_MAX_DEFAULT, "the default limit fits in a size_t");

/* Whether the filesystem of dir has (next to) no room left for us. LMDB
 * turns a short write into EIO ("short write, filesystem full?"), which
 * is also what a failing device gives: the free space tells them apart.
 * Root may write into the blocks reserved for it; others may not. */
static bool disk_full(const char *dir)
{
	struct statvfs sv;
	uint64_t blocks;

	if (dir[0] == 0 || statvfs(dir, &sv) != 0)
		return false;
	blocks = geteuid() == 0 ? sv.f_bfree : sv.f_bavail;
	return blocks < DISK_FULL_SLACK / (sv.f_frsize ? sv.f_frsize : 1);
}

/* A system error as we report it: a full filesystem or quota is one code,
 * "disk full", whatever the call that ran into it. */
static int sys_error(int err)
{
	return err == ENOSPC || err == EDQUOT ? KITH_EDISKFULL : -err;
}

static int mdb_to_kith(int rc)
{
	if (rc > 0)
		return sys_error(rc); /* LMDB passes system errors through as errno values */
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
	if (rc == EIO && s && disk_full(s->dir))
		return KITH_EDISKFULL;
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

void store_expiry_key(uint8_t key[STORE_EXPIRY_KEY_LEN], uint64_t expires,
                      const uint8_t author[PROTO_KEY_LEN], uint64_t seq)
{
	store_be64_put(key, expires);
	memcpy(key + 8, author, PROTO_KEY_LEN);
	store_be64_put(key + 8 + PROTO_KEY_LEN, seq);
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

/* The part of a map of max bytes kept for writes that remove. */
static size_t map_reserve(size_t max)
{
	size_t r = max / 32;

	if (r < MIB)
		r = MIB;
	if (r > 64 * MIB)
		r = 64 * MIB;
	return r > max / 4 ? max / 4 : r;
}

/* Sets the map to size, with no transaction of ours open (the read handle
 * is reset between reads and writes are refused inside walks, so that
 * holds whenever no write runs). LMDB never maps less than the file
 * holds. If the new map cannot be made, the old one is put back. */
static int map_set(struct store *s, size_t size, size_t old)
{
	int rc = mdb_env_set_mapsize(s->env, size);

	if (rc != 0 && mdb_env_set_mapsize(s->env, old) != 0)
		return -EIO;
	return store_mdb_error(s, rc);
}

/* Grows the map after a write of kind found it full: doubles it up to the
 * kind's limit, or KITH_ENOSPACE when it is there. A removing write may
 * always go one reserve past what the file holds, so a store opened over
 * its limit can still be pruned. */
static int map_grow(struct store *s, enum store_write_kind kind)
{
	size_t limit = kind == STORE_WRITE_ADD ? s->map_adds : s->map_max, size;
	MDB_envinfo info;
	MDB_stat st;
	int rc = mdb_env_info(s->env, &info);

	if (rc == 0)
		rc = mdb_env_stat(s->env, &st);
	if (rc != 0)
		return store_mdb_error(s, rc);
	if (kind == STORE_WRITE_RESERVE) {
		size_t held = (info.me_last_pgno + 1) * (size_t)st.ms_psize;
		size_t past = held + map_reserve(s->map_max);

		if (past > limit)
			limit = past;
	}
	if (info.me_mapsize >= limit)
		return KITH_ENOSPACE;
	size = info.me_mapsize > limit / 2 ? limit : info.me_mapsize * 2;
	return map_set(s, size, info.me_mapsize);
}

/* After a write that may have grown the map into the reserve, brings it
 * back to what adding writes may use, or to what the file holds if that
 * is more (LMDB would not map less: no remap then). */
static void map_fit(struct store *s)
{
	MDB_envinfo info;
	MDB_stat st;
	size_t target;

	if (mdb_env_info(s->env, &info) != 0 || mdb_env_stat(s->env, &st) != 0)
		return;
	target = (info.me_last_pgno + 1) * (size_t)st.ms_psize;
	if (target < s->map_adds)
		target = s->map_adds;
	if (info.me_mapsize > target)
		map_set(s, target, info.me_mapsize);
}

/* One try of a write; frees txn either way. */
static int write_once(struct store *s, store_write_fn fn, void *arg)
{
	MDB_txn *txn = NULL;
	int rc = txn_begin(s, 0, &txn);

	if (rc < 0)
		return rc;
	rc = fn(s, txn, arg);
	if (rc < 0) {
		mdb_txn_abort(txn);
		return rc;
	}
	/* The commit is synced (no MDB_NOSYNC): 0 means on disk. It can
	 * find the map full too, when it writes the free list. */
	return store_mdb_error(s, mdb_txn_commit(txn));
}

int store_write(struct store *s, enum store_write_kind kind, store_write_fn fn, void *arg)
{
	int rc;

	if (s->read_only)
		return -EROFS;
	/* LMDB allows one transaction per thread: no writes from inside a
	 * walk's callback. */
	if (s->read_depth > 0)
		return -EBUSY;
	for (;;) {
		rc = write_once(s, fn, arg);
		if (rc != KITH_ENOSPACE)
			break;
		rc = map_grow(s, kind);
		if (rc < 0)
			break;
	}
	if (kind == STORE_WRITE_RESERVE)
		map_fit(s);
	return rc;
}

static int dir_fsync(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = 0;

	if (fd < 0)
		return sys_error(errno);
	if (fsync(fd) < 0)
		rc = sys_error(errno);
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
	return errno == EEXIST ? 0 : sys_error(errno);
}

/* Sets the limits from opt (NULL: defaults) and returns the initial map. */
static size_t map_limits(struct store *s, const struct store_options *opt)
{
	size_t initial = opt && opt->map_size ? opt->map_size : STORE_MAP_SIZE_DEFAULT;

	s->map_max = opt && opt->map_max ? opt->map_max : STORE_MAP_MAX_DEFAULT;
	if (s->map_max < initial)
		s->map_max = initial;
	s->map_adds = s->map_max - map_reserve(s->map_max);
	return initial;
}

/* LMDB opens an existing file with the map it was last grown to; we take
 * the larger of that and the initial size, as far as adding writes may
 * go. LMDB keeps it at least as large as the data. */
static int map_initial(struct store *s, size_t initial)
{
	MDB_envinfo info;
	size_t size;
	int rc = mdb_env_info(s->env, &info);

	if (rc != 0)
		return store_mdb_error(s, rc);
	size = info.me_mapsize > initial ? info.me_mapsize : initial;
	if (size > s->map_adds)
		size = s->map_adds;
	return store_mdb_error(s, mdb_env_set_mapsize(s->env, size));
}

static int env_open(struct store *s, const char *path, const struct store_options *opt)
{
	size_t initial = map_limits(s, opt);
	int rc = mdb_env_create(&s->env);

	if (rc != 0) {
		s->env = NULL;
		return store_mdb_error(s, rc);
	}
	rc = mdb_env_set_maxdbs(s->env, STORE_NDBS);
	/* Default flags: every commit is synced (no MDB_NOSYNC, no
	 * MDB_NOMETASYNC), which is what "put returned 0" promises. No map
	 * size yet: LMDB then opens a file with the size it recorded. */
	if (rc == 0)
		rc = mdb_env_open(s->env, path, 0, 0600);
	if (rc == 0) {
		/* Free the reader slots of processes killed while reading, or
		 * the pages they pinned could never be reused. */
		int dead;
		rc = mdb_reader_check(s->env, &dead);
	}
	if (rc != 0)
		return store_mdb_error(s, rc);
	return map_initial(s, initial);
}

static int schema_write_fn(struct store *s, MDB_txn *txn, void *arg)
{
	return store_schema_open(s, txn, arg);
}

/* A store opened to read only: it must exist, with this schema. The
 * databases' handles come from a read transaction, committed so that they
 * stay valid. */
static int open_read_only(struct store *s, const char *data_dir, const struct store_options *opt)
{
	MDB_txn *txn = NULL;
	int n = snprintf(s->dir, sizeof(s->dir), "%s/%s", data_dir, STORE_DIR);
	int rc;

	if (n < 0 || (size_t)n >= sizeof(s->dir))
		return -ENAMETOOLONG;
	s->read_only = true;
	map_limits(s, opt);
	rc = mdb_env_create(&s->env);
	if (rc != 0) {
		s->env = NULL;
		return store_mdb_error(s, rc);
	}
	rc = mdb_env_set_maxdbs(s->env, STORE_NDBS);
	if (rc == 0)
		rc = mdb_env_open(s->env, s->dir, MDB_RDONLY, 0600);
	if (rc == 0)
		rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
	if (rc != 0)
		return store_mdb_error(s, rc);
	rc = store_schema_open_ro(s, txn);
	if (rc < 0) {
		mdb_txn_abort(txn);
		return rc;
	}
	return store_mdb_error(s, mdb_txn_commit(txn));
}

int store_open(struct store **out, const char *data_dir, const struct store_options *opt)
{
	char path[PATH_MAX];
	struct store *s = NULL;
	bool dir_created, dbs_created = false;
	int rc;

	*out = NULL;
	if (opt && opt->read_only) {
		s = calloc(1, sizeof(*s));
		if (!s)
			return -ENOMEM;
		rc = open_read_only(s, data_dir, opt);
		if (rc < 0)
			store_close(&s);
		*out = s;
		return rc;
	}
	rc = store_dir_make(path, sizeof(path), data_dir, &dir_created);
	if (rc < 0)
		return rc;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	memcpy(s->dir, path, sizeof(s->dir));
	rc = env_open(s, path, opt);
	/* The databases are opened in a write transaction, so the handles
	 * stay valid for the life of the environment. A schema mismatch
	 * aborts it: the file is left as it was. */
	if (rc == 0)
		rc = store_write(s, STORE_WRITE_ADD, schema_write_fn, &dbs_created);
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

/* Pages in use by dbi: its branch, leaf and overflow pages. */
static int db_pages(MDB_txn *txn, MDB_dbi dbi, uint64_t *pages, uint64_t *entries)
{
	MDB_stat st;
	int rc = mdb_stat(txn, dbi, &st);

	if (rc == 0) {
		*pages += st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages;
		*entries = st.ms_entries;
	}
	return rc;
}

int store_stats_get(struct store *s, struct store_stats *out)
{
	MDB_dbi dbis[] = {s->main,   s->meta,    s->records, s->byseq, s->heads, s->authors,
	                  s->expiry, s->invites, s->shards,  s->usage, s->holds, s->verdicts};
	uint64_t entries[sizeof(dbis) / sizeof(dbis[0])], pages = 2; /* the meta pages */
	MDB_envinfo info;
	MDB_stat st;
	MDB_txn *txn;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = store_read_begin(s, &txn);
	if (rc < 0)
		return rc;
	rc = mdb_env_info(s->env, &info);
	if (rc == 0)
		rc = mdb_env_stat(s->env, &st);
	for (size_t i = 0; i < sizeof(dbis) / sizeof(dbis[0]) && rc == 0; i++)
		rc = db_pages(txn, dbis[i], &pages, &entries[i]);
	store_read_end(s);
	if (rc != 0)
		return store_mdb_error(s, rc);
	out->used_bytes = pages * st.ms_psize;
	out->map_bytes = info.me_mapsize;
	out->map_max = s->map_max;
	out->map_adds = s->map_adds;
	out->records = entries[2];
	out->authors = entries[5];
	return 0;
}
