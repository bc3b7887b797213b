/* Packs: the files partners keep. A backup's sealed chunks (seal.h) are
 * gathered into packs of about PACK_TARGET_DEFAULT bytes; each pack is then
 * erasure-coded into k + m shards (erasure.h). A partner so keeps a few
 * large files rather than ~100 000 tiny ones per GiB, and each pack
 * describes itself: after the loss of everything but the keys, the packs
 * alone say which chunk is where (as restic's pack files do).
 *
 * Layout, version 1 (all integers little-endian):
 *
 *   offset          size     field
 *   0               D        the chunk area: the sealed chunks back to
 *                            back, in the table's order, no gap
 *   D               T        the sealed table (below)
 *   D + T           14       the trailer:
 *     +0            8          magic "KITHPACK"
 *     +8            1          version: PACK_VERSION (1)
 *     +9            1          kind: PACK_KIND_DATA (1) or PACK_KIND_INDEX (2)
 *     +10           4          T, the sealed table's length, u32
 *
 * The sealed table is XChaCha20-Poly1305 (IETF) under keys->index:
 *
 *   +0              24       nonce, random
 *   +24             44 n     ciphertext of the n entries
 *   +24 + 44 n      16       tag
 *
 * so T = PACK_TABLE_OVERHEAD + PACK_ENTRY_LEN * n. Its associated data is
 * the whole 14-byte trailer: the magic separates it from any other use of
 * keys->index, and the version, the kind and T cannot be changed without
 * the table being refused. Each entry in the plaintext, one per chunk in
 * the order of the chunk area:
 *
 *   +0              32       the chunk's ID (seal_chunk_id())
 *   +32             4        offset of its sealed bytes in the pack, u32
 *   +36             4        sealed length, u32
 *   +40             4        plaintext length, u32 (a reader allocates by
 *                            it; a restore checks seal_open() against it)
 *
 * A valid table has 1..PACK_CHUNKS_MAX entries (an empty pack holds
 * nothing worth a file), every sealed length between SEAL_OVERHEAD and
 * seal_max_len() of its plaintext length, every plaintext length at most
 * PACK_CHUNK_MAX, each offset where the previous chunk ends (the first at
 * 0), the last chunk ending at D, and no ID twice. The chunk area being
 * exactly tiled, the table accounts for every byte of the pack.
 *
 * The table is a fixed binary layout, not msgpack: its entries are all the
 * same size, so the writer knows the finished pack's size to the byte
 * before it adds a chunk (the target bounds the whole pack, hence each
 * shard), the count is T's arithmetic and not a claim to check, and the
 * decoder reads only bytes that authenticated under the owner's key,
 * where msgpack's type tags would add per-entry bytes and branches for
 * nothing.
 *
 * What authenticates what: the table and trailer authenticate under
 * keys->index; each sealed chunk authenticates itself (seal_open() with
 * the ID from the table); the pack ID (pack_id()) covers every byte, so a
 * holder, who has no key, can check what it keeps.
 *
 * Overhead: 54 bytes per pack (trailer 14, table nonce and tag 40) and 44
 * per chunk (its entry), on top of SEAL_OVERHEAD (42) per sealed chunk.
 *
 * The trailer being at the end and of fixed size, the table can be read
 * from the pack's tail alone: pack_tail_len() on the last PACK_TRAILER_LEN
 * bytes says how many tail bytes the table needs, and pack_open_tail()
 * opens them given the pack's total length. Since a pack's bytes are the
 * data shards in order, the tail is the end of the last data shards.
 *
 * The module does no I/O and keeps no global state. */
#ifndef KITH_BACKUP_PACK_H
#define KITH_BACKUP_PACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chunker.h"
#include "keys.h"
#include "seal.h"

#define PACK_VERSION 1
#define PACK_KIND_DATA 1  /* chunks of backed-up streams */
#define PACK_KIND_INDEX 2 /* chunks of snapshot indexes */
#define PACK_MAGIC "KITHPACK"
#define PACK_MAGIC_LEN 8
#define PACK_ID_LEN 32
#define PACK_TRAILER_LEN (PACK_MAGIC_LEN + 1 + 1 + 4)
#define PACK_ENTRY_LEN (SEAL_ID_LEN + 4 + 4 + 4)
#define PACK_NONCE_LEN 24
#define PACK_TAG_LEN 16
#define PACK_TABLE_OVERHEAD (PACK_NONCE_LEN + PACK_TAG_LEN)

/* The largest chunk plaintext a pack may list: the largest any chunker
 * parameters make. A reader may allocate this much for one chunk. */
#define PACK_CHUNK_MAX CHUNKER_MAX_HIGHEST
/* Entries in one pack. A 16 MiB pack of typical ~11 KiB chunks holds
 * ~1 500; compressible data sealed small can reach tens of thousands. This
 * keeps the table under 3 MiB (what a rebuild reads per pack) and the
 * writer's and reader's per-entry memory bounded. */
#define PACK_CHUNKS_MAX 65536
#define PACK_TABLE_MAX (PACK_TABLE_OVERHEAD + PACK_ENTRY_LEN * PACK_CHUNKS_MAX)

/* Pack size targets. The default, 16 MiB, gives 4 MiB shards with k = 4
 * (PROTO_SHARD_MAX) and ~64 packs per GiB (384 shard files at 4+2 rather
 * than 100 000 chunk files), while one pack being filled plus its m parity
 * shards (24 MiB at 4+2) stays well inside the 64 MiB RSS a backup may
 * use. Below 1 MiB the per-pack costs (a file, a receipt and audits at
 * each of k + m holders) dominate; above 32 MiB a pack and its parity no
 * longer leave room for the rest of the process. */
#define PACK_TARGET_MIN ((size_t)1 << 20)
#define PACK_TARGET_DEFAULT ((size_t)16 << 20)
#define PACK_TARGET_MAX ((size_t)32 << 20)
/* The largest pack any writer makes, so the largest a reader accepts: a
 * pack never passes its target, except a lone chunk larger than the
 * target, which is smaller than this anyway. */
#define PACK_SIZE_MAX PACK_TARGET_MAX

/* pack ID = BLAKE2b-256 of pack[0..len), unkeyed: a holder can verify what
 * it keeps, and learns nothing from it since the bytes are encrypted. */
void pack_id(uint8_t id[PACK_ID_LEN], const uint8_t *pack, size_t len);

/* ---- writing ---- */

struct pack_writer;

/* Makes a writer of packs of the given kind (PACK_KIND_*) that keeps each
 * finished pack at most target bytes (0 for PACK_TARGET_DEFAULT, else
 * PACK_TARGET_MIN..PACK_TARGET_MAX), table and trailer included. On
 * success *out is the caller's, released with pack_writer_free(). Returns
 * 0, KITH_EVALUE (kind or target out of range) or -ENOMEM.
 *
 * Memory: the writer owns the pack being built (grown by doubling, never
 * past the largest pack it can make: max(target, one lone chunk of
 * PACK_CHUNK_MAX with its table and trailer)), the table's entries (44
 * bytes each, grown by doubling) and a hash set of their IDs (two 4-byte
 * slots per entry of that capacity), at most pack_writer_memory_max(). Its
 * buffers are kept across packs (pack_writer_reset()), so a backup
 * allocates nothing per chunk and, once the first packs are full, nothing
 * per pack. */
int pack_writer_new(struct pack_writer **out, int kind, size_t target);
/* Frees *w and sets it to NULL; does nothing for NULL or *w == NULL. */
void pack_writer_free(struct pack_writer **w);

/* Whether a sealed chunk of sealed_len bytes may be added now: true when
 * the pack, finished with it, would stay within the target and under
 * PACK_CHUNKS_MAX entries, and always when the pack is empty (a chunk
 * larger than the target gets a pack of its own). False once finished.
 * When false, finish this pack (pack_writer_finish()), ship it, reset the
 * writer and add the chunk to the next one. Lengths themselves are checked
 * by pack_writer_add(). */
bool pack_writer_fits(const struct pack_writer *w, size_t sealed_len);
/* Whether a chunk with this ID is already in the pack being built (a
 * stream may repeat a chunk before the pack holding it is shipped). */
bool pack_writer_has(const struct pack_writer *w, const uint8_t id[SEAL_ID_LEN]);
/* The entry of the chunk with this ID in the pack being built, copied into
 * *out (offset, lengths): 0, or KITH_EMISSING when it is not there or the
 * pack is finished. A stream that repeats a chunk refers to it there. */
struct pack_entry;
int pack_writer_find(const struct pack_writer *w, const uint8_t id[SEAL_ID_LEN],
                     struct pack_entry *out);
/* Entry i of the pack being built or just finished (valid until
 * pack_writer_reset()), in pack order: 0, or KITH_EVALUE when i >=
 * pack_writer_count(). */
int pack_writer_entry(const struct pack_writer *w, size_t i, struct pack_entry *out);
/* Appends one sealed chunk (sealed[0..sealed_len) as seal_chunk() made it
 * from plain_len bytes, with its ID; all borrowed and copied). Returns 0,
 * or, leaving the pack unchanged:
 *   KITH_EVALUE   sealed_len outside SEAL_OVERHEAD..seal_max_len(plain_len),
 *                 plain_len over PACK_CHUNK_MAX, or the pack is finished
 *   KITH_ETOOBIG  the pack is full by size (pack_writer_fits() is false)
 *   KITH_ETOOMANY the pack already has PACK_CHUNKS_MAX entries
 *   KITH_EDUPKEY  a chunk with this ID is in the pack already
 *   -ENOMEM */
int pack_writer_add(struct pack_writer *w, const uint8_t id[SEAL_ID_LEN], const uint8_t *sealed,
                    size_t sealed_len, size_t plain_len);
/* Seals the table with keys->index (borrowed) and appends it and the
 * trailer. *pack and *len get the finished pack, which stays the writer's:
 * valid until pack_writer_reset() or pack_writer_free(); id, unless NULL,
 * gets its pack ID (a caller that codes the pack into shards may name it
 * from their hashes instead, and save hashing it once more). Returns 0,
 * or KITH_EVALUE when the pack is empty or already finished (then *pack
 * is NULL and *len 0). */
int pack_writer_finish(struct pack_writer *w, const struct backup_keys *keys, const uint8_t **pack,
                       size_t *len, uint8_t id[PACK_ID_LEN]);
/* Starts a new, empty pack of the same kind and target, keeping the
 * buffers. */
void pack_writer_reset(struct pack_writer *w);
/* Chunks in the pack, and the size it has (finished) or would have if
 * finished now (0 entries: PACK_TABLE_OVERHEAD + PACK_TRAILER_LEN). */
size_t pack_writer_count(const struct pack_writer *w);
size_t pack_writer_size(const struct pack_writer *w);
/* Bytes the writer holds now, and the most it may ever hold for target
 * (0 for the default). */
size_t pack_writer_memory(const struct pack_writer *w);
size_t pack_writer_memory_max(size_t target);

/* ---- reading: bytes from a holder, trusted in nothing ---- */

/* One chunk of a pack, as its table lists it. */
struct pack_entry {
	uint8_t id[SEAL_ID_LEN];
	uint32_t offset;     /* of its sealed bytes, from the start of the pack */
	uint32_t sealed_len; /* SEAL_OVERHEAD..seal_max_len(plain_len) */
	uint32_t plain_len;  /* 0..PACK_CHUNK_MAX */
};

/* A pack's authenticated, validated table. Owns its entries and ID set;
 * may borrow the pack's bytes (pack_open_table()). */
struct pack_table;

/* Opens the table of a whole pack, pack[0..len) (borrowed, and kept:
 * pack_table_chunk() points into it, so keep it alive and unchanged while
 * *out is used), with keys->index (borrowed). On success *out is the
 * caller's, freed with pack_table_free(); it holds the entries (44 bytes
 * each) and a hash set of their IDs (at most 8 bytes per entry): at most
 * 3.4 MiB for PACK_CHUNKS_MAX entries. On failure *out is NULL and the
 * return value is one of:
 *   KITH_ETRUNC     shorter than its trailer, or than the table it claims
 *   KITH_ETOOBIG    longer than PACK_SIZE_MAX, or a table over PACK_TABLE_MAX
 *   KITH_EMALFORMED no magic, or a table length that is no whole number
 *                   (1 or more) of entries
 *   KITH_EVERSION   a version other than PACK_VERSION
 *   KITH_EVALUE     an unknown kind; or, authenticated, entries that break
 *                   the rules above (out of the chunk area, out of order,
 *                   overlapping, leaving a gap, bad lengths)
 *   KITH_EBADSIG    the table does not authenticate (wrong key, or any
 *                   byte of the table or trailer changed)
 *   KITH_EDUPKEY    authenticated, but an ID listed twice
 *   -ENOMEM
 * Bytes of the chunk area are not checked here: each sealed chunk is
 * checked by seal_open(), the whole pack by its ID. */
int pack_open_table(const uint8_t *pack, size_t len, const struct backup_keys *keys,
                    struct pack_table **out);

/* The number of tail bytes pack_open_tail() needs for a pack of pack_len
 * bytes whose last tail_len bytes (tail_len >= PACK_TRAILER_LEN; only the
 * last PACK_TRAILER_LEN are read) are tail[0..tail_len): its table and
 * trailer. Returns 0 with *need set, or the trailer's error as above
 * (KITH_ETRUNC, KITH_ETOOBIG, KITH_EMALFORMED, KITH_EVERSION,
 * KITH_EVALUE), or KITH_EVALUE for tail_len > pack_len. Unauthenticated:
 * it only says how much to read. */
int pack_tail_len(const uint8_t *tail, size_t tail_len, size_t pack_len, size_t *need);
/* As pack_open_table() for a pack of pack_len bytes of which only the last
 * tail_len are given, tail[0..tail_len) (borrowed, not kept), at least
 * pack_tail_len()'s need (else KITH_ETRUNC). The table binds the chunk
 * area's length, so a wrong pack_len is refused (KITH_EVALUE). The table
 * has no chunk bytes: pack_table_chunk() returns KITH_EMISSING; read
 * entries' ranges from the shards instead. */
int pack_open_tail(const uint8_t *tail, size_t tail_len, size_t pack_len,
                   const struct backup_keys *keys, struct pack_table **out);

/* Frees *t and sets it to NULL; does nothing for NULL or *t == NULL. */
void pack_table_free(struct pack_table **t);
int pack_table_kind(const struct pack_table *t);
size_t pack_table_count(const struct pack_table *t);
/* D, the length of the chunk area (offset of the sealed table). */
size_t pack_table_data_len(const struct pack_table *t);
/* Entry i (owned by t), in pack order, or NULL when i >= count. */
const struct pack_entry *pack_table_entry(const struct pack_table *t, size_t i);
/* The index of the entry with this ID: 0 with *index set, or
 * KITH_EMISSING. */
int pack_table_find(const struct pack_table *t, const uint8_t id[SEAL_ID_LEN], size_t *index);
/* The sealed bytes of entry i, pointing into the pack given to
 * pack_open_table(): 0, KITH_EVALUE (i >= count) or KITH_EMISSING (the
 * table was opened from a tail). Give them to seal_open() with the
 * entry's ID. */
int pack_table_chunk(const struct pack_table *t, size_t i, const uint8_t **sealed, size_t *len);

#endif
