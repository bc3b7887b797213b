/* The owner's chunk cache: which chunk IDs its partners already keep, and
 * where, so that a put sends only chunks that are new (restic and borg
 * keep the same kind of cache). An LMDB file of its own under
 * DATA/backup-cache, written by kith only (never by kithd):
 *
 *   chunks: chunk ID (32) -> pack ID (32) | offset u32 | sealed u32 |
 *           plain u32 (little-endian)
 *   packs:  pack ID (32)  -> the pack's placement (snap_entry_encode()
 *           of a pack entry, ordinal 0)
 *
 * A pack and its chunks are entered in one transaction once every shard
 * of the pack is committed at its holder, so the cache never names bytes
 * that are not stored. A chunk whose pack is gone from packs (pruned) is
 * not found. The cache is only an optimisation: without it (a machine
 * restored from its recovery kit) the next put sends everything again. */
#ifndef KITH_TOOLS_BACKUP_CACHE_H
#define KITH_TOOLS_BACKUP_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "backup/pack.h"
#include "backup/snapshot.h"

struct cache;

/* Opens (creating) the cache of data_dir (borrowed). Returns 0 or a
 * negative code; *out is the caller's (cache_close()). */
int cache_open(struct cache **out, const char *data_dir);
void cache_close(struct cache **c);

/* Where chunk id is: 0 with *pack (its placement) and *entry filled, or
 * -ENOENT. */
int cache_chunk_get(struct cache *c, const uint8_t id[SEAL_ID_LEN], struct snap_pack *pack,
                    struct pack_entry *entry);
/* Enters stored pack p and its chunks entries[0..n) (all borrowed). */
int cache_pack_put(struct cache *c, const struct snap_pack *p, const struct pack_entry *entries,
                   size_t n);
/* Lets go of the cache's pages kith has mapped (they count in its RSS),
 * between lookups: a put calls it after each pack. */
void cache_trim(struct cache *c);
/* Forgets pack id (pruned): its chunks are no longer found. */
int cache_pack_del(struct cache *c, const uint8_t id[PACK_ID_LEN]);

#endif
