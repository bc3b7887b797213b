/* The store tests' fixture: data directories under a temporary dir (the
 * including file defines `static char dir[]` and PATH_LEN before
 * including this), and the LMDB environment opened behind the store's
 * back to read or damage what it wrote. */
#ifndef KITH_TESTS_STORE_RAW_H
#define KITH_TESTS_STORE_RAW_H

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <lmdb.h>

#include "store/store.h"
#include "rm_tree.h"

/* out = a/b; exits on an over-long path, which only a broken TMPDIR makes. */
static char *join(char out[PATH_LEN], const char *a, const char *b)
{
	int n = snprintf(out, PATH_LEN, "%s/%s", a, b);
	if (n < 0 || n >= PATH_LEN) {
		fprintf(stderr, "path too long: %s/%s\n", a, b);
		exit(1);
	}
	return out;
}

/* A fresh data directory dir/name with an open store in *s. */
static int open_fresh(struct store **s, const char *name, char data[PATH_LEN])
{
	join(data, dir, name);
	mkdir(data, 0700);
	return store_open(s, data, NULL);
}

/* The environment at data/STORE_DIR opened with plain LMDB, and one write
 * transaction in it, to damage or rewind the store behind its back. */
struct raw {
	MDB_env *env;
	MDB_txn *txn;
};

static int raw_begin(struct raw *r, const char *data)
{
	char path[PATH_LEN];
	int rc = mdb_env_create(&r->env);

	r->txn = NULL;
	join(path, data, STORE_DIR);
	if (rc == 0)
		rc = mdb_env_set_maxdbs(r->env, 16);
	if (rc == 0)
		rc = mdb_env_open(r->env, path, 0, 0600);
	if (rc == 0)
		rc = mdb_txn_begin(r->env, NULL, 0, &r->txn);
	return rc;
}

/* Commits (commit != 0) or aborts, and closes the environment. */
static int raw_end(struct raw *r, int commit)
{
	int rc = 0;

	if (r->txn && commit)
		rc = mdb_txn_commit(r->txn);
	else if (r->txn)
		mdb_txn_abort(r->txn);
	mdb_env_close(r->env);
	return rc;
}

static int raw_put(const char *data, const char *db, const void *key, size_t klen, const void *val,
                   size_t vlen)
{
	struct raw r;
	MDB_dbi dbi;
	MDB_val k = {klen, (void *)key}, v = {vlen, (void *)val};
	int rc = raw_begin(&r, data);

	if (rc == 0)
		rc = mdb_dbi_open(r.txn, db, MDB_CREATE, &dbi);
	if (rc == 0)
		rc = mdb_put(r.txn, dbi, &k, &v, 0);
	return raw_end(&r, rc == 0) || rc;
}

/* The schema version written in meta, or -1. */
static long raw_schema(const char *data)
{
	struct raw r;
	MDB_dbi dbi;
	MDB_val k = {6, "schema"}, v;
	long version = -1;
	int rc = raw_begin(&r, data);

	if (rc == 0)
		rc = mdb_dbi_open(r.txn, "meta", 0, &dbi);
	if (rc == 0)
		rc = mdb_get(r.txn, dbi, &k, &v);
	if (rc == 0 && v.mv_size == 4) {
		const uint8_t *p = v.mv_data;
		version = (long)p[0] << 24 | (long)p[1] << 16 | (long)p[2] << 8 | p[3];
	}
	raw_end(&r, 0);
	return version;
}

#endif
