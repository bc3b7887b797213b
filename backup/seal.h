/* Sealed chunks: what leaves the owner's machine for each chunk of a
 * backup, and the check of what comes back.
 *
 * A chunk's ID is BLAKE2b-256 of its plaintext keyed with keys->chunk_id:
 * equal plaintexts of one owner get one ID (dedup), and a holder, who has
 * no key, cannot confirm a guess of the content from the ID.
 *
 * Sealing compresses the plaintext with zstd (kept raw when that does not
 * make it shorter) and encrypts it with XChaCha20-Poly1305 (IETF) under
 * keys->chunk, with a fresh random nonce. Sealed layout, version 1:
 *
 *   offset  size  field
 *   0       1     version: SEAL_VERSION (1)
 *   1       1     flags: SEAL_FLAG_ZSTD when the payload is one zstd frame
 *                 (with its content size), 0 when it is the raw plaintext;
 *                 no other bit is defined in version 1
 *   2       24    nonce, random
 *   26      n+16  ciphertext of the payload (n bytes), then the 16-byte tag
 *
 * The associated data is bytes 0..2 (version, flags) followed by the
 * chunk's 32-byte ID, so a holder can neither change a flag nor answer a
 * request for one chunk with another chunk of the same owner. The payload
 * is never longer than the plaintext (a frame that does not shrink it is
 * not used), so a sealed chunk of len bytes takes at most
 * seal_max_len(len) = len + SEAL_OVERHEAD bytes.
 *
 * struct seal owns a zstd compression context, a decompression context and
 * a scratch buffer of chunk_max bytes, all allocated by seal_new(): sealing
 * or opening any number of chunks allocates nothing more (zstd sizes its
 * compression workspace on the first chunk at a given level and reuses it).
 * One struct seal per thread: it is not safe to share. Keys are borrowed
 * on every call and never copied. */
#ifndef KITH_BACKUP_SEAL_H
#define KITH_BACKUP_SEAL_H

#include <stddef.h>
#include <stdint.h>

#include "keys.h"

#define SEAL_VERSION 1
#define SEAL_FLAG_ZSTD 0x01
#define SEAL_ID_LEN 32
#define SEAL_NONCE_LEN 24
#define SEAL_TAG_LEN 16
#define SEAL_HEADER_LEN (2 + SEAL_NONCE_LEN)
#define SEAL_OVERHEAD (SEAL_HEADER_LEN + SEAL_TAG_LEN)
/* The largest chunk_max seal_new() accepts: far above any chunk the
 * chunker makes, low enough that no size computed here can overflow. */
#define SEAL_CHUNK_LIMIT ((size_t)64 << 20)
/* zstd levels: 0 asks for the default, SEAL_LEVEL_OFF for none; others
 * are clamped to
 * [SEAL_LEVEL_MIN, SEAL_LEVEL_MAX]. Levels from 16 up (btopt, btultra)
 * cost several times the CPU for a few percent, and would make a backup
 * CPU-bound far below the network. */
#define SEAL_LEVEL_DEFAULT 3
/* No compression: the chunk goes raw (for a stream a caller saw does not
 * compress, where zstd would spend its time for nothing). */
#define SEAL_LEVEL_OFF (-1)
#define SEAL_LEVEL_MIN 1
#define SEAL_LEVEL_MAX 15

struct seal;

/* Largest sealed size of a chunk of n plaintext bytes (n <=
 * SEAL_CHUNK_LIMIT): the buffer to give seal_chunk(), and the most a
 * holder may return for such a chunk. */
static inline size_t seal_max_len(size_t n)
{
	return n + SEAL_OVERHEAD;
}

/* Creates *out for chunks of at most chunk_max bytes (1..SEAL_CHUNK_LIMIT).
 * The caller owns *out and frees it with seal_free(). Returns 0,
 * KITH_EVALUE (chunk_max out of range) or -ENOMEM. */
int seal_new(struct seal **out, size_t chunk_max);
/* Frees *s (wiping its scratch buffer) and sets *s to NULL; NULL or *s ==
 * NULL does nothing. */
void seal_free(struct seal **s);
/* The chunk_max *s was created with. */
size_t seal_chunk_max(const struct seal *s);
/* Bytes *s holds now (contexts and scratch): constant once it has sealed a
 * chunk at the highest level it will be asked for. */
size_t seal_memory(const struct seal *s);
/* The zstd level seal_chunk() uses when asked for level (see above). */
int seal_level(int level);

/* id = BLAKE2b-256 of in[0..len), keyed with keys->chunk_id. */
void seal_chunk_id(uint8_t id[SEAL_ID_LEN], const struct backup_keys *keys, const uint8_t *in,
                   size_t len);

/* Seals in[0..len) (len <= seal_chunk_max(s)) whose ID id the caller has
 * computed with seal_chunk_id() (to look it up for dedup first, without
 * hashing twice; a wrong ID makes a chunk seal_open() refuses, and Debug
 * builds assert it), at zstd level (see seal_level()), into out (cap
 * bytes, at least seal_max_len(len)); *out_len gets the sealed size. All
 * arguments are borrowed; in and out must not overlap. Returns 0,
 * KITH_ETOOBIG (len over chunk_max, or cap too small) or -ENOMEM (zstd
 * could not allocate its workspace). */
int seal_chunk(struct seal *s, const struct backup_keys *keys, int level,
               const uint8_t id[SEAL_ID_LEN], const uint8_t *in, size_t len, uint8_t *out,
               size_t cap, size_t *out_len);

/* Opens in[0..len), bytes from a holder, trusted in nothing, as the chunk
 * whose ID is id, into out (cap bytes, at least seal_chunk_max(s): never
 * more is written, whatever the bytes claim); *out_len gets the plaintext
 * size. All arguments are borrowed; in and out must not overlap. Returns 0
 * only when the bytes authenticate under keys->chunk with this ID and the
 * plaintext hashes to id. Otherwise out holds no plaintext (untouched, or
 * zeroed where it was written), *out_len is 0, and the return value is:
 *   KITH_ETRUNC    shorter than SEAL_OVERHEAD
 *   KITH_ETOOBIG   longer than seal_max_len(chunk_max), or a frame that
 *                  declares or expands to more than chunk_max bytes
 *   KITH_EVERSION  a version other than SEAL_VERSION
 *   KITH_EBADSIG   does not authenticate: wrong key, wrong ID, any byte
 *                  changed after the version (an unknown flag too: in
 *                  version 1 it can only be damage)
 *   KITH_EMALFORMED  authenticated but not one well-formed zstd frame
 *   KITH_ECHECKSUM   authenticated but the plaintext does not hash to id
 *   KITH_EVALUE    cap below seal_chunk_max(s) (the caller's mistake)
 * The last three can only come from someone holding keys->chunk. */
int seal_open(struct seal *s, const struct backup_keys *keys, const uint8_t id[SEAL_ID_LEN],
              const uint8_t *in, size_t len, uint8_t *out, size_t cap, size_t *out_len);

#endif
