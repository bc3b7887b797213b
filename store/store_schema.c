/* The databases of each schema version, and the upgrades between them.
 *
 * Version 1 (issues 1-3) had meta, records, byseq and heads; version 2
 * added invites, shards and usage; version 3 added authors and expiry and
 * counts each shard's name and overhead in usage; version 4 added holds,
 * the index of the shards kept as files; version 5 added verdicts, the
 * history of services' verdicts. An older store is
 * upgraded in the open's write transaction, so a crash leaves either the
 * old version or a complete new one; any other version is refused and
 * left untouched. */
#include <errno.h>
#include <string.h>

#include "../proto/error.h"
#include "store_int.h"

#define META_SCHEMA "schema"
#define META_SEQ "seq"
#define STORE_SCHEMA_V1 1
#define STORE_SCHEMA_V2 2
#define STORE_SCHEMA_V3 3
#define STORE_SCHEMA_V4 4

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

/* Opens the databases of version 1; flags is MDB_CREATE when they are
 * being made, 0 when the schema says they exist. */
static int v1_dbs_open(struct store *s, MDB_txn *txn, unsigned flags)
{
	int rc = mdb_dbi_open(txn, "records", flags, &s->records);
	if (rc == 0)
		rc = mdb_dbi_open(txn, "byseq", flags, &s->byseq);
	if (rc == 0)
		rc = mdb_dbi_open(txn, "heads", flags, &s->heads);
	return rc;
}

/* The databases version 2 added: issue 4's local state. */
static int v2_dbs_open(struct store *s, MDB_txn *txn, unsigned flags)
{
	int rc = mdb_dbi_open(txn, "invites", flags, &s->invites);
	if (rc == 0)
		rc = mdb_dbi_open(txn, "shards", flags, &s->shards);
	if (rc == 0)
		rc = mdb_dbi_open(txn, "usage", flags, &s->usage);
	return rc;
}

/* The databases version 3 added: what authors' records cost, and when
 * they expire. */
static int v3_dbs_open(struct store *s, MDB_txn *txn, unsigned flags)
{
	int rc = mdb_dbi_open(txn, "authors", flags, &s->authors);
	if (rc == 0)
		rc = mdb_dbi_open(txn, "expiry", flags, &s->expiry);
	return rc;
}

/* The database version 4 added: the index of shards kept as files. */
static int v4_dbs_open(struct store *s, MDB_txn *txn, unsigned flags)
{
	return mdb_dbi_open(txn, "holds", flags, &s->holds);
}

/* The database version 5 added: the history of services' verdicts. */
static int v5_dbs_open(struct store *s, MDB_txn *txn, unsigned flags)
{
	return mdb_dbi_open(txn, "verdicts", flags, &s->verdicts);
}

/* A new environment: create the databases, the schema version and the own
 * counter. An environment that holds other data is not ours. */
static int dbs_create(struct store *s, MDB_txn *txn)
{
	MDB_stat st;
	int rc = mdb_stat(txn, s->main, &st);

	if (rc != 0)
		return store_mdb_error(s, rc);
	if (st.ms_entries != 0)
		return KITH_ESCHEMA;
	rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &s->meta);
	if (rc == 0)
		rc = v1_dbs_open(s, txn, MDB_CREATE);
	if (rc == 0)
		rc = v2_dbs_open(s, txn, MDB_CREATE);
	if (rc == 0)
		rc = v3_dbs_open(s, txn, MDB_CREATE);
	if (rc == 0)
		rc = v4_dbs_open(s, txn, MDB_CREATE);
	if (rc == 0)
		rc = v5_dbs_open(s, txn, MDB_CREATE);
	if (rc == 0)
		rc = schema_write(txn, s->meta, STORE_SCHEMA_VERSION);
	if (rc == 0)
		rc = meta_put_u64(txn, s->meta, META_SEQ, 0);
	return store_mdb_error(s, rc);
}

/* Databases an upgrade creates must be empty: nothing of the older
 * version wrote them, so one that holds entries means the file is not
 * what its version says. */
static int dbs_empty(struct store *s, MDB_txn *txn, const MDB_dbi *dbis, size_t n)
{
	MDB_stat st;

	for (size_t i = 0; i < n; i++) {
		int rc = mdb_stat(txn, dbis[i], &st);

		if (rc != 0)
			return store_mdb_error(s, rc);
		if (st.ms_entries != 0)
			return -EIO;
	}
	return 0;
}

/* Version 1 -> 2: add issue 4's databases. */
static int upgrade_v1(struct store *s, MDB_txn *txn)
{
	int rc = v2_dbs_open(s, txn, MDB_CREATE);

	if (rc != 0)
		return store_mdb_error(s, rc);
	return dbs_empty(s, txn, (MDB_dbi[]){s->invites, s->shards, s->usage}, 3);
}

/* Version 2 -> 3: count and index every record into authors and expiry,
 * and recount every owner's usage with names and overhead. */
static int upgrade_v2(struct store *s, MDB_txn *txn)
{
	int rc = v3_dbs_open(s, txn, MDB_CREATE);

	if (rc != 0)
		return store_mdb_error(s, rc);
	rc = dbs_empty(s, txn, (MDB_dbi[]){s->authors, s->expiry}, 2);
	if (rc == 0)
		rc = store_authors_rebuild(s, txn);
	if (rc == 0)
		rc = store_usage_rebuild(s, txn);
	return rc;
}

/* Version 3 -> 4: add holds. Usage stays as it is: it counts shards,
 * and there is no hold yet. */
static int upgrade_v3(struct store *s, MDB_txn *txn)
{
	int rc = v4_dbs_open(s, txn, MDB_CREATE);

	if (rc != 0)
		return store_mdb_error(s, rc);
	return dbs_empty(s, txn, (MDB_dbi[]){s->holds}, 1);
}

/* Version 4 -> 5: add verdicts. The history starts empty: the agent
 * records the next change of each verdict. */
static int upgrade_v4(struct store *s, MDB_txn *txn)
{
	int rc = v5_dbs_open(s, txn, MDB_CREATE);

	if (rc != 0)
		return store_mdb_error(s, rc);
	return dbs_empty(s, txn, (MDB_dbi[]){s->verdicts}, 1);
}

/* Each step in turn, from version on. */
static int schema_upgrade(struct store *s, MDB_txn *txn, uint32_t version)
{
	int rc = version == STORE_SCHEMA_V1 ? upgrade_v1(s, txn) : 0;

	if (rc == 0 && version <= STORE_SCHEMA_V2)
		rc = upgrade_v2(s, txn);
	if (rc == 0 && version <= STORE_SCHEMA_V3)
		rc = upgrade_v3(s, txn);
	if (rc == 0 && version <= STORE_SCHEMA_V4)
		rc = upgrade_v4(s, txn);
	if (rc == 0)
		rc = store_mdb_error(s, schema_write(txn, s->meta, STORE_SCHEMA_VERSION));
	return rc;
}

/* The schema version in meta: KITH_ESCHEMA when there is none. */
static int schema_read(struct store *s, MDB_txn *txn, uint32_t *version)
{
	MDB_val k = {strlen(META_SCHEMA), META_SCHEMA};
	MDB_val d;
	const uint8_t *v;
	int rc = mdb_get(txn, s->meta, &k, &d);

	if (rc == MDB_NOTFOUND)
		return KITH_ESCHEMA;
	if (rc != 0)
		return store_mdb_error(s, rc);
	if (d.mv_size != 4)
		return -EIO;
	v = d.mv_data;
	*version = (uint32_t)v[0] << 24 | (uint32_t)v[1] << 16 | (uint32_t)v[2] << 8 | v[3];
	return 0;
}

/* An existing environment: check its schema version before anything else,
 * and upgrade an older store. */
static int dbs_check(struct store *s, MDB_txn *txn)
{
	uint32_t version = 0;
	int rc = schema_read(s, txn, &version);

	if (rc < 0)
		return rc;
	if (version < STORE_SCHEMA_V1 || version > STORE_SCHEMA_VERSION)
		return KITH_ESCHEMA;
	rc = v1_dbs_open(s, txn, 0);
	if (rc == 0 && version >= STORE_SCHEMA_V2)
		rc = v2_dbs_open(s, txn, 0);
	if (rc == 0 && version >= STORE_SCHEMA_V3)
		rc = v3_dbs_open(s, txn, 0);
	if (rc == 0 && version >= STORE_SCHEMA_V4)
		rc = v4_dbs_open(s, txn, 0);
	if (rc == 0 && version == STORE_SCHEMA_VERSION)
		rc = v5_dbs_open(s, txn, 0);
	if (rc == MDB_NOTFOUND)
		return -EIO; /* the schema says they exist */
	if (rc != 0)
		return store_mdb_error(s, rc);
	return version < STORE_SCHEMA_VERSION ? schema_upgrade(s, txn, version) : 0;
}

int store_schema_open_ro(struct store *s, MDB_txn *txn)
{
	uint32_t version = 0;
	int rc = mdb_dbi_open(txn, NULL, 0, &s->main);

	if (rc == 0)
		rc = mdb_dbi_open(txn, "meta", 0, &s->meta);
	if (rc == MDB_NOTFOUND)
		return KITH_ESCHEMA; /* nothing made it a store yet */
	if (rc != 0)
		return store_mdb_error(s, rc);
	rc = schema_read(s, txn, &version);
	if (rc < 0)
		return rc;
	if (version != STORE_SCHEMA_VERSION)
		return KITH_ESCHEMA; /* kithd upgrades it, not a reader */
	rc = v1_dbs_open(s, txn, 0);
	if (rc == 0)
		rc = v2_dbs_open(s, txn, 0);
	if (rc == 0)
		rc = v3_dbs_open(s, txn, 0);
	if (rc == 0)
		rc = v4_dbs_open(s, txn, 0);
	if (rc == 0)
		rc = v5_dbs_open(s, txn, 0);
	if (rc == MDB_NOTFOUND)
		return -EIO; /* the schema says they exist */
	return store_mdb_error(s, rc);
}

int store_schema_open(struct store *s, MDB_txn *txn, bool *created)
{
	int rc = mdb_dbi_open(txn, NULL, 0, &s->main);

	*created = false;
	if (rc != 0)
		return store_mdb_error(s, rc);
	rc = mdb_dbi_open(txn, "meta", 0, &s->meta);
	if (rc == MDB_NOTFOUND) {
		rc = dbs_create(s, txn);
		*created = rc == 0;
		return rc;
	}
	return rc == 0 ? dbs_check(s, txn) : store_mdb_error(s, rc);
}
