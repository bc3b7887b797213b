/* Snapshots: how one backup run is described, so that a restore that has
 * only the owner's keys and one record can find every byte again.
 *
 * A snapshot is three layers, each small enough for the one above:
 *
 *  - its root, one signed record (at most PROTO_BODY_MAX bytes) whose body
 *    is sealed under keys->root: the backup's name, a random snapshot ID,
 *    times and sizes, and where the index packs are;
 *  - its index, a byte stream of entries (below) cut by the caller into
 *    index chunks of whole entries, sealed and stored in PACK_KIND_INDEX
 *    packs, which the root lists in stream order;
 *  - the data packs the index's chunk entries point into.
 *
 * All integers are little-endian. Layouts, version 1:
 *
 * Pack placement (struct snap_pack), snap_pack_len(k, m) = 38 + 64 (k + m)
 * bytes:
 *
 *   +0      32    pack ID (pack_id() of the pack's bytes)
 *   +32     4     pack length, u32, 1..PACK_SIZE_MAX
 *   +36     1     k, 1..ERASURE_K_MAX
 *   +37     1     m, 0..ERASURE_M_MAX
 *   +38     64 s  for each shard i of the k + m (data shards first):
 *                 the holder's peer key (32), then BLAKE2b-256 (unkeyed)
 *                 of the shard's bytes, padding included (32)
 *
 * No holder appears twice in one pack: a holder keeps at most one shard of
 * a pack (place.h), so a repeat is damage, and would let one holder's loss
 * cost two shards.
 *
 * Index entries, one type byte then the body:
 *
 *   'P' (0x50)  a pack: its ordinal (u32), then its snap_pack encoding.
 *   'C' (0x43)  a chunk, 48 bytes:
 *                 +0  4   pack ordinal, u32
 *                 +4  4   offset of the sealed chunk in that pack, u32
 *                 +8  4   sealed length, u32, SEAL_OVERHEAD..
 *                         seal_max_len(plain length)
 *                 +12 4   plaintext length, u32, 0..PACK_CHUNK_MAX
 *                 +16 32  chunk ID (seal_chunk_id())
 *               offset + sealed length <= PACK_SIZE_MAX.
 *
 * The stream's chunks, in order, opened and concatenated, are the
 * backed-up bytes. Each pack the stream uses has one pack entry, the
 * ordinals of n packs being 0..n-1 in any order: a pack being filled gets
 * its ordinal when it starts, but its placement (hence its entry) only
 * once its shards are stored, while chunks deduplicated against older
 * packs bring those packs' entries in meanwhile. So a reader collects the
 * pack entries first (a walk of the index), then reads the chunks, and
 * checks each against its pack (snap_chunk_check()).
 *
 * Root plaintext:
 *
 *   +0      1     version: SNAP_ROOT_VERSION (1), or
 *                 SNAP_ROOT_VERSION_INDIRECT (2) when the packs below are
 *                 those of the index's index (level 1)
 *   +1      1     name length, 1..SNAP_NAME_MAX
 *   +2      n     the backup's name (snap_name_ok())
 *   +2+n    16    snapshot ID, random
 *   +18+n   8     time, u64: Unix seconds the snapshot was taken
 *   +26+n   8     size, u64: plaintext bytes of the backed-up stream
 *   +34+n   8     chunks, u64: chunk entries in its index
 *   +42+n   8     bytes_new, u64: sealed bytes this snapshot added
 *   +50+n   2     n_index, u16, 1..SNAP_INDEX_PACKS_MAX
 *   +52+n   ...   n_index snap_pack encodings, the index packs in order
 *
 * and nothing after. A root lists at most SNAP_INDEX_PACKS_MAX packs (one
 * record body); an index with more packs gets an index of its own (level
 * 1): a stream like the index, in index chunks and PACK_KIND_INDEX packs,
 * of pack entries only, one per index pack in stream order, ordinals
 * 0..n-1 in that order; the root, of version 2, then lists the packs of
 * that stream. The sealed body is
 *
 *   +0      24    nonce, random
 *   +24     p+16  XChaCha20-Poly1305 (IETF) ciphertext of the p plaintext
 *                 bytes, then the tag
 *
 * under keys->root, with associated data "kith backup root v1" and its
 * NUL, the author's public key (32) and the record's name: a holder
 * cannot move a root to another name or another author's records, and a
 * key holder cannot pass off one owner's root as another's.
 *
 * Record names: "backup/" + 32 hex of BLAKE2b-128 keyed by keys->name over
 * the backup's name + "/" + 32 hex of the snapshot ID (lowercase): a holder
 * reads neither the name nor can link the same name across owners, while
 * all snapshots of one name share a prefix the owner can list.
 *
 * The fields are fixed binary layouts, not msgpack, for pack.h's reasons:
 * the sizes are known before writing (an index chunk is cut between
 * entries, a root is bounded), and only the owner's key authenticates
 * what is parsed. Bytes are still trusted in nothing: a bug, or whoever
 * holds the keys, may have written anything, and every decoder checks
 * every field.
 *
 * The module does no I/O and keeps no global state; every pointer is
 * borrowed for the call. Sealing draws the nonce from libsodium
 * (sodium_init() first). */
#ifndef KITH_BACKUP_SNAPSHOT_H
#define KITH_BACKUP_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "erasure.h"
#include "keys.h"
#include "pack.h"
#include "place.h"
#include "seal.h"
#include "proto/limits.h"

#define SNAP_ROOT_VERSION 1
/* The same layout, its packs being those of the index's index (level 1). */
#define SNAP_ROOT_VERSION_INDIRECT 2
/* Backup names: what the user types (`kith backup put NAME`), short
 * enough to stay a word and safe in a path or a log line. */
#define SNAP_NAME_MAX 64
#define SNAP_ID_LEN 16
#define SNAP_NAME_HASH_LEN 16 /* BLAKE2b-128 of the name in record names */

#define SNAP_PACK_FIXED_LEN (PACK_ID_LEN + 4 + 1 + 1)
#define SNAP_SHARD_LEN (PLACE_PEER_LEN + 32)
#define SNAP_PACK_LEN_MAX (SNAP_PACK_FIXED_LEN + PLACE_SHARDS_MAX * SNAP_SHARD_LEN)

#define SNAP_ENTRY_PACK 'P'
#define SNAP_ENTRY_CHUNK 'C'
#define SNAP_CHUNK_BODY_LEN (4 + 4 + 4 + 4 + SEAL_ID_LEN)
#define SNAP_CHUNK_ENTRY_LEN (1 + SNAP_CHUNK_BODY_LEN)
/* The largest entry: a pack entry with k + m = PLACE_SHARDS_MAX (3 115). */
#define SNAP_ENTRY_MAX (1 + 4 + SNAP_PACK_LEN_MAX)

/* Root plaintext without name and packs, and the sealed body's overhead. */
#define SNAP_ROOT_FIXED_LEN (1 + 1 + SNAP_ID_LEN + 8 + 8 + 8 + 8 + 2)
#define SNAP_ROOT_NONCE_LEN 24
#define SNAP_ROOT_TAG_LEN 16
#define SNAP_ROOT_OVERHEAD (SNAP_ROOT_NONCE_LEN + SNAP_ROOT_TAG_LEN)
/* Index packs in one root: as many as fit one record body when every one
 * has k + m = PLACE_SHARDS_MAX (3 110 bytes each), so that any root the
 * writer accepts can be stored: (61 440 - 40 - 116) / 3 110 = 19
 * (snapshot.c asserts it is the most that fits). With kith's index packs
 * of 8 MiB (BK_INDEX_PACK_TARGET, tools/backup.h) and 49 bytes per chunk
 * entry that is ~3.2 million chunks, ~35 GiB of data in chunks of ~11 KiB;
 * past that the index gets an index (level 1), whose one 8 MiB pack names
 * ~19 000 index packs at 4+2: some 30 TiB. */
#define SNAP_INDEX_PACKS_MAX 19
#define SNAP_ROOT_PLAIN_MIN (SNAP_ROOT_FIXED_LEN + 1 + SNAP_PACK_FIXED_LEN + SNAP_SHARD_LEN)
#define SNAP_ROOT_PLAIN_MAX                                                                        \
	(SNAP_ROOT_FIXED_LEN + SNAP_NAME_MAX + SNAP_INDEX_PACKS_MAX * SNAP_PACK_LEN_MAX)
#define SNAP_ROOT_SEALED_MIN (SNAP_ROOT_OVERHEAD + SNAP_ROOT_PLAIN_MIN)
#define SNAP_ROOT_SEALED_MAX (SNAP_ROOT_OVERHEAD + SNAP_ROOT_PLAIN_MAX)

/* "backup/" 32 hex "/" 32 hex, and its first part "backup/" 32 hex "/". */
#define SNAP_RECORD_PREFIX_LEN (7 + 2 * SNAP_NAME_HASH_LEN + 1)
#define SNAP_RECORD_NAME_LEN (SNAP_RECORD_PREFIX_LEN + 2 * SNAP_ID_LEN)

/* Where one pack is: its ID, length, code and the holder and hash of each
 * shard. Slots past k + m are unused (zero when decoded). */
struct snap_pack {
	uint8_t id[PACK_ID_LEN];                          /* pack_id() of the pack's bytes */
	uint32_t len;                                     /* pack bytes, 1..PACK_SIZE_MAX */
	uint8_t k, m;                                     /* 1..ERASURE_K_MAX, 0..ERASURE_M_MAX */
	uint8_t holder[PLACE_SHARDS_MAX][PLACE_PEER_LEN]; /* peer keeping shard i (data first) */
	uint8_t hash[PLACE_SHARDS_MAX][32]; /* BLAKE2b-256 of shard i's bytes, padding included */
};

/* One chunk of the backed-up stream. */
struct snap_chunk {
	uint32_t pack;       /* ordinal of the pack entry holding it */
	uint32_t offset;     /* of its sealed bytes in that pack */
	uint32_t sealed_len; /* SEAL_OVERHEAD..seal_max_len(plain_len) */
	uint32_t plain_len;  /* 0..PACK_CHUNK_MAX */
	uint8_t id[SEAL_ID_LEN];
};

struct snap_entry {
	int type;         /* SNAP_ENTRY_PACK or SNAP_ENTRY_CHUNK */
	uint32_t ordinal; /* SNAP_ENTRY_PACK: the ordinal chunks name it by */
	union {
		struct snap_pack pack;
		struct snap_chunk chunk;
	};
};

/* A snapshot's root. About 58 KiB: callers allocate it on the heap. */
struct snap_root {
	char name[SNAP_NAME_MAX + 1]; /* NUL-terminated, snap_name_ok() */
	uint8_t id[SNAP_ID_LEN];      /* random snapshot ID */
	uint64_t time;                /* Unix seconds the snapshot was taken */
	uint64_t size;                /* plaintext bytes of the backed-up stream */
	uint64_t chunks;              /* chunk entries in its index */
	uint64_t bytes_new;           /* sealed bytes this snapshot added (for ls) */
	uint32_t n_index;             /* 1..SNAP_INDEX_PACKS_MAX */
	uint8_t level; /* 0: index lists the index packs; 1: those of the index's index */
	struct snap_pack index[SNAP_INDEX_PACKS_MAX]; /* in stream order */
};

/* The encoded size of a pack placement with this code (k + m <=
 * PLACE_SHARDS_MAX). */
static inline size_t snap_pack_len(unsigned k, unsigned m)
{
	return SNAP_PACK_FIXED_LEN + (size_t)(k + m) * SNAP_SHARD_LEN;
}

/* Whether s[0..len) is a backup name: 1..SNAP_NAME_MAX bytes of
 * [A-Za-z0-9._-], the first not '.' (no hidden or relative names). */
bool snap_name_ok(const char *s, size_t len);

/* ---- index entries ---- */

/* Writes entry *e into out[0..cap); *len gets its size (at most
 * SNAP_ENTRY_MAX). Returns 0, or writes nothing and returns:
 *   KITH_EVALUE   an unknown type, or a field snap_entry_decode() would
 *                 refuse
 *   KITH_EDUPKEY  a pack with one holder twice
 *   KITH_ETOOBIG  cap below the entry's size */
int snap_entry_encode(uint8_t *out, size_t cap, const struct snap_entry *e, size_t *len);

/* Decodes the entry at buf[0..len) (authenticated bytes, trusted in
 * nothing) into *out (copied: nothing points into buf); *used gets its
 * size, the offset of the next entry. Returns 0, or:
 *   KITH_EMALFORMED  an unknown type byte
 *   KITH_ETRUNC      buf ends inside the entry
 *   KITH_EVALUE      a field out of its range (above)
 *   KITH_EDUPKEY     a pack with one holder twice
 * A pack entry's k and m, then its length, are checked before the rest is
 * known to be there. Whether a chunk's pack ordinal names a pack seen
 * before is the caller's check, then snap_chunk_check(). */
int snap_entry_decode(struct snap_entry *out, const uint8_t *buf, size_t len, size_t *used);

/* Whether chunk c lies inside pack p, the pack its ordinal names: 0, or
 * KITH_EVALUE when offset + sealed_len passes p->len. */
int snap_chunk_check(const struct snap_chunk *c, const struct snap_pack *p);

/* ---- the root ---- */

/* Writes r's plaintext (layout above) into out[0..cap); *len gets its
 * size, at most SNAP_ROOT_PLAIN_MAX. Returns 0, KITH_EVALUE or
 * KITH_EDUPKEY for a root snap_root_parse() would refuse, or KITH_ETOOBIG
 * when cap is short. */
int snap_root_encode(uint8_t *out, size_t cap, size_t *len, const struct snap_root *r);

/* Parses a root's plaintext p[0..len) into *out (copied). Returns 0, or,
 * with *out zeroed:
 *   KITH_EVERSION  a version other than SNAP_ROOT_VERSION(_INDIRECT)
 *   KITH_ETRUNC    p ends inside a field
 *   KITH_EVALUE    a bad name, n_index 0 or over SNAP_INDEX_PACKS_MAX, a
 *                  pack field out of range
 *   KITH_EDUPKEY   an index pack with one holder twice
 *   KITH_ETRAIL    bytes after the last pack
 * Fields are checked in order, the first bad one deciding the code. */
int snap_root_parse(struct snap_root *out, const uint8_t *p, size_t len);

/* Seals root r as the body of record record_name (NUL-terminated, at most
 * PROTO_NAME_MAX bytes: snap_record_name()'s) written by author (its
 * Ed25519 public key) under keys->root, with a fresh random nonce, into
 * out[0..cap) (SNAP_ROOT_SEALED_MAX is always enough); *out_len gets the
 * body's size. Returns 0, or writes no body and returns KITH_EVALUE or
 * KITH_EDUPKEY (as snap_root_encode(); KITH_EVALUE too for a bad
 * record_name) or KITH_ETOOBIG (cap short). */
int snap_root_seal(uint8_t *out, size_t cap, size_t *out_len, const struct snap_root *r,
                   const struct backup_keys *keys, const uint8_t author[PROTO_KEY_LEN],
                   const char *record_name);

/* Opens the body body[0..len) of record record_name by author (bytes from
 * a holder) into *out. Returns 0, or, with *out zeroed:
 *   KITH_ETRUNC    shorter than SNAP_ROOT_SEALED_MIN
 *   KITH_ETOOBIG   longer than SNAP_ROOT_SEALED_MAX
 *   KITH_EBADSIG   does not authenticate: another key, author or record
 *                  name, or any byte changed
 *   KITH_EVALUE    record_name over PROTO_NAME_MAX (the caller's mistake)
 *   -ENOMEM        no room for the plaintext (up to SNAP_ROOT_PLAIN_MAX
 *                  bytes, allocated for the call and wiped)
 *   or snap_root_parse()'s codes, which only a key holder can cause. */
int snap_root_open(struct snap_root *out, const uint8_t *body, size_t len,
                   const struct backup_keys *keys, const uint8_t author[PROTO_KEY_LEN],
                   const char *record_name);

/* Writes "backup/<32 hex>/" (SNAP_RECORD_PREFIX_LEN bytes and a NUL), the
 * part of the record name every snapshot of backup name (NUL-terminated)
 * shares under these keys: to list them. Returns 0, or KITH_EVALUE for a
 * bad name (out then holds ""). */
int snap_record_prefix(char out[SNAP_RECORD_PREFIX_LEN + 1], const struct backup_keys *keys,
                       const char *name);
/* Writes the record name of snapshot id of backup name:
 * "backup/<32 hex>/<32 hex of id>" (SNAP_RECORD_NAME_LEN bytes and a NUL).
 * Returns 0, or KITH_EVALUE for a bad name (out then holds ""). */
int snap_record_name(char out[SNAP_RECORD_NAME_LEN + 1], const struct backup_keys *keys,
                     const char *name, const uint8_t id[SNAP_ID_LEN]);

#endif
