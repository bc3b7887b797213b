/* madvise(): MADV_DONTNEED, which posix_madvise() ignores on Linux. */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <lmdb.h>

#include "proto/error.h"
#include "backup_cache.h"

/* Virtual address space only: LMDB's file grows with what is written. A
 * chunk costs ~100 bytes with LMDB's overhead, ~10 MiB per GiB backed
 * up, so this holds ~400 GiB of distinct data. */
#define CACHE_MAP_SIZE ((size_t)4 << 30)
#define CHUNK_VALUE_LEN (PACK_ID_LEN + 12)

/* Lookups or inserts between two trims of the map. Each reads a leaf of
 * both trees through it, and the kernel maps up to 64 KiB around every
 * page fault from the page cache ("fault-around"), whatever madvise()
 * says: 64 of them hold at most ~4 MiB in RSS, whatever the cache's size,
 * for one madvise() per 64 chunks. */
#define CACHE_TRIM_OPS 64

struct cache {
	MDB_env *env;
	MDB_dbi chunks, packs;
	void *map; /* LMDB's map of data.mdb, NULL when not found */
	size_t map_len;
	unsigned ops;    /* since the last trim */
	char path[4200]; /* DATA/backup-cache */
};

static int lmdb_rc(int rc)
{
	return rc == 0 ? 0 : rc == MDB_NOTFOUND ? -ENOENT : rc > 0 ? -rc : KITH_EVALUE;
}

/* LMDB reads through a shared read-only map of data.mdb: every page a
 * lookup or an insert touched stays in kith's RSS until unmapped, and
 * LMDB does not say where its map is (mdb_env_info() gives it only with
 * MDB_FIXEDMAP). /proc/self/maps does: the mapping of data.mdb's device
 * and inode. Without it (no /proc), trims close and reopen the
 * environment instead. */
static void find_map(struct cache *c)
{
	char line[4400], file[4300];
	unsigned long start, end, ino, major, minor;
	struct stat st;
	FILE *f;

	c->map = NULL;
	snprintf(file, sizeof(file), "%s/data.mdb", c->path);
	if (stat(file, &st) != 0 || !(f = fopen("/proc/self/maps", "re")))
		return;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx-%lx %*s %*x %lx:%lx %lu", &start, &end, &major, &minor,
		           &ino) == 5 &&
		    ino == st.st_ino && makedev(major, minor) == st.st_dev) {
			c->map = (void *)start;
			c->map_len = end - start;
			break;
		}
	fclose(f);
}

/* Opens (creating) the environment at c->path. */
static int env_open(struct cache *c)
{
	MDB_txn *txn = NULL;
	int rc = mdb_env_create(&c->env);

	if (!rc)
		rc = mdb_env_set_mapsize(c->env, CACHE_MAP_SIZE);
	if (!rc)
		rc = mdb_env_set_maxdbs(c->env, 2);
	/* NORDAHEAD: lookups are random; reading ahead would only fill the
	 * page cache (and kith's RSS) with pages nobody asked for. */
	if (!rc)
		rc = mdb_env_open(c->env, c->path, MDB_NORDAHEAD, 0600);
	if (!rc)
		rc = mdb_txn_begin(c->env, NULL, 0, &txn);
	if (!rc)
		rc = mdb_dbi_open(txn, "chunks", MDB_CREATE, &c->chunks);
	if (!rc)
		rc = mdb_dbi_open(txn, "packs", MDB_CREATE, &c->packs);
	if (!rc)
		rc = mdb_txn_commit(txn);
	else if (txn)
		mdb_txn_abort(txn);
	if (rc && c->env) {
		mdb_env_close(c->env);
		c->env = NULL;
	}
	if (!rc)
		find_map(c);
	return lmdb_rc(rc);
}

int cache_open(struct cache **out, const char *data_dir)
{
	struct cache *c = calloc(1, sizeof(*c));
	int rc;

	*out = NULL;
	if (!c)
		return -ENOMEM;
	snprintf(c->path, sizeof(c->path), "%s/backup-cache", data_dir);
	if (mkdir(c->path, 0700) != 0 && errno != EEXIST) {
		free(c);
		return -errno;
	}
	rc = env_open(c);
	if (rc) {
		free(c);
		return rc;
	}
	*out = c;
	return 0;
}

void cache_close(struct cache **c)
{
	if (!c || !*c)
		return;
	if ((*c)->env)
		mdb_env_close((*c)->env);
	free(*c);
	*c = NULL;
}

static uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16),
	p[3] = (uint8_t)(v >> 24);
}

/* Drops the pages of the map from kith's page tables (they stay in the
 * page cache, and fault in again when read). Harmless inside a write
 * transaction: its dirty pages are in LMDB's own memory, and what the map
 * shows does not change. */
static void unmap_pages(struct cache *c)
{
	c->ops = 0;
	if (c->map)
		madvise(c->map, c->map_len, MADV_DONTNEED);
}

void cache_trim(struct cache *c)
{
	unmap_pages(c);
	if (c->map || !c->env)
		return;
	/* No map found: closing and opening the environment unmaps it (no
	 * transaction is open here: each call ends its own), once per pack.
	 * A failure leaves the cache closed: puts go on without it. */
	mdb_env_close(c->env);
	c->env = NULL;
	env_open(c);
}

int cache_chunk_get(struct cache *c, const uint8_t id[SEAL_ID_LEN], struct snap_pack *pack,
                    struct pack_entry *entry)
{
	MDB_txn *txn;
	MDB_val k = {SEAL_ID_LEN, (void *)id}, v;
	struct snap_entry e;
	size_t used;
	int rc = c->env ? mdb_txn_begin(c->env, NULL, MDB_RDONLY, &txn) : MDB_NOTFOUND;

	if (rc)
		return lmdb_rc(rc);
	rc = mdb_get(txn, c->chunks, &k, &v);
	if (!rc && v.mv_size != CHUNK_VALUE_LEN)
		rc = MDB_NOTFOUND; /* damaged: as if absent */
	if (!rc) {
		const uint8_t *b = v.mv_data;
		memcpy(entry->id, id, SEAL_ID_LEN);
		entry->offset = get_u32(b + PACK_ID_LEN);
		entry->sealed_len = get_u32(b + PACK_ID_LEN + 4);
		entry->plain_len = get_u32(b + PACK_ID_LEN + 8);
		k = (MDB_val){PACK_ID_LEN, v.mv_data};
		rc = mdb_get(txn, c->packs, &k, &v);
	}
	if (!rc && (snap_entry_decode(&e, v.mv_data, v.mv_size, &used) != 0 ||
	            e.type != SNAP_ENTRY_PACK || used != v.mv_size))
		rc = MDB_NOTFOUND;
	if (!rc)
		*pack = e.pack;
	mdb_txn_abort(txn);
	if (++c->ops >= CACHE_TRIM_OPS)
		unmap_pages(c);
	return lmdb_rc(rc);
}

int cache_pack_put(struct cache *c, const struct snap_pack *p, const struct pack_entry *entries,
                   size_t n)
{
	struct snap_entry e = {.type = SNAP_ENTRY_PACK, .pack = *p};
	uint8_t buf[SNAP_ENTRY_MAX], value[CHUNK_VALUE_LEN];
	MDB_txn *txn;
	MDB_val k, v;
	size_t len;
	int rc = snap_entry_encode(buf, sizeof(buf), &e, &len);

	if (rc)
		return rc;
	if (!c->env)
		return -EIO;
	rc = mdb_txn_begin(c->env, NULL, 0, &txn);
	if (rc)
		return lmdb_rc(rc);
	k = (MDB_val){PACK_ID_LEN, (void *)p->id};
	v = (MDB_val){len, buf};
	rc = mdb_put(txn, c->packs, &k, &v, 0);
	memcpy(value, p->id, PACK_ID_LEN);
	for (size_t i = 0; !rc && i < n; i++) {
		put_u32(value + PACK_ID_LEN, entries[i].offset);
		put_u32(value + PACK_ID_LEN + 4, entries[i].sealed_len);
		put_u32(value + PACK_ID_LEN + 8, entries[i].plain_len);
		k = (MDB_val){SEAL_ID_LEN, (void *)entries[i].id};
		v = (MDB_val){sizeof(value), value};
		rc = mdb_put(txn, c->chunks, &k, &v, 0);
		if (++c->ops >= CACHE_TRIM_OPS)
			unmap_pages(c);
	}
	if (rc) {
		mdb_txn_abort(txn);
		return lmdb_rc(rc);
	}
	return lmdb_rc(mdb_txn_commit(txn));
}

int cache_pack_del(struct cache *c, const uint8_t id[PACK_ID_LEN])
{
	MDB_txn *txn;
	MDB_val k = {PACK_ID_LEN, (void *)id};
	int rc = c->env ? mdb_txn_begin(c->env, NULL, 0, &txn) : EIO;

	if (rc)
		return lmdb_rc(rc);
	rc = mdb_del(txn, c->packs, &k, NULL);
	if (rc && rc != MDB_NOTFOUND) {
		mdb_txn_abort(txn);
		return lmdb_rc(rc);
	}
	return lmdb_rc(mdb_txn_commit(txn));
}
