/* Content-defined chunking: where a backup's byte stream is cut into
 * chunks, so that an edit changes only the chunks around it and the next
 * backup sends only those (a chunk is sent when its ID is new).
 *
 * FastCDC (Xia et al., USENIX ATC 2016) with normalized chunking, written
 * here by hand: Debian 12 packages no C library for content-defined
 * chunking. A gear rolling hash h = (h << 1) + gear[byte] looks at the
 * last 64 bytes; the first min bytes of a chunk are skipped unhashed; a
 * chunk ends after the byte whose hash has its top bits zero, a harder
 * test (more bits) before avg bytes and an easier one after, which
 * gathers chunk sizes near avg; a chunk is cut at max bytes whatever its
 * content.
 *
 * The gear table is derived from the owner's chunker key (backup_keys,
 * keys.h), so two owners cut the same file at different places, and the
 * chunk sizes that every holder of the shards sees cannot be matched
 * against those of known files by whoever lacks the key. (They are not
 * a perfect secret: someone who could make the owner back up data of
 * their choosing and then watch the sizes could learn about the table.)
 *
 * Boundaries depend only on the key, the parameters and the bytes, never
 * on how the input is split into calls, nor on the machine (the table is
 * read little-endian from the key stream). They matter for dedup only: a
 * restore concatenates chunks and never needs to know how they were cut,
 * so the defaults may change without breaking old backups (at the cost of
 * one backup that deduplicates badly against the previous one). */
#ifndef KITH_BACKUP_CHUNKER_H
#define KITH_BACKUP_CHUNKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keys.h"

#define CHUNKER_KEY_LEN BACKUP_KEY_LEN

/* Limits on the parameters (chunker_params_check()). */
#define CHUNKER_MIN_LOWEST 64          /* the hash's window */
#define CHUNKER_AVG_LOWEST 256         /* 2^8 */
#define CHUNKER_AVG_HIGHEST (1u << 22) /* 4 MiB */
#define CHUNKER_MAX_HIGHEST (8u << 20) /* 8 MiB: what one chunk may cost in memory */

/* The defaults: the largest chunks that keep the goal "a daily dump with
 * 1% of its bytes changed in ~100 scattered edits sends at most 5% of
 * them" with a margin. Every edit costs about the chunks around it, so the
 * bytes sent grow with the chunk size: for 64 MiB and 100 edits,
 * min/avg/max = 2K/8K/64K sends 2.9%, 4K/8K/64K 3.1%, 4K/16K/128K 5.0%,
 * 16K/64K/512K 15.5%, and restic's 512K/1M/8M 89% (mean of 5 runs, text
 * and random data alike; tests/bench/chunker.c --sweep). The mean chunk
 * is ~11 KiB: ~100 000 chunks per GiB. tests/unit/test_chunker.c checks
 * the goal. */
#define CHUNKER_MIN_DEFAULT (4u << 10)  /* 4 KiB */
#define CHUNKER_AVG_DEFAULT (8u << 10)  /* 8 KiB */
#define CHUNKER_MAX_DEFAULT (64u << 10) /* 64 KiB */

struct chunker_params {
	uint32_t min; /* no chunk but the last is shorter */
	uint32_t avg; /* a power of two: where the easier test starts */
	uint32_t max; /* no chunk is longer */
};

/* The defaults above. */
struct chunker_params chunker_params_default(void);
/* Returns 0 when CHUNKER_MIN_LOWEST <= min < avg < max <=
 * CHUNKER_MAX_HIGHEST and avg is a power of two between
 * CHUNKER_AVG_LOWEST and CHUNKER_AVG_HIGHEST, else KITH_EVALUE. */
int chunker_params_check(const struct chunker_params *p);

struct chunker;

/* Makes a chunker for one owner: key (CHUNKER_KEY_LEN bytes, borrowed,
 * backup_keys.chunker) seeds the gear table; p (borrowed, copied) gives
 * the sizes, NULL for the defaults. On success *out is the caller's, to
 * be released with chunker_free(); the table lives in sodium_malloc()
 * memory, wiped on free. Returns 0, KITH_EVALUE (bad parameters) or
 * -ENOMEM. */
int chunker_new(struct chunker **out, const uint8_t key[CHUNKER_KEY_LEN],
                const struct chunker_params *p);
/* Wipes and frees *c and sets it to NULL; does nothing for NULL. */
void chunker_free(struct chunker **c);

/* Feeds the next len bytes of the stream (buf borrowed, any len, 0
 * included, buf may then be NULL; cut must not be NULL). Returns how
 * many of them, from the start of buf, belong to the current chunk; *cut
 * is true when the chunk ends after them, and the next call starts a new
 * chunk. When *cut is false all len bytes were taken. So a caller loops
 * until buf is used up:
 *
 *     while (len) {
 *             size_t n = chunker_next(c, buf, len, &cut);
 *             append(buf, n); if (cut) emit_chunk();
 *             buf += n, len -= n;
 *     }
 *     if (chunker_finish(c)) emit_chunk();
 */
size_t chunker_next(struct chunker *c, const uint8_t *buf, size_t len, bool *cut);
/* Ends the stream: returns the length of its last chunk, the bytes fed
 * since the last cut (0 when there are none: the stream was empty or ended
 * on a cut; the last chunk may be shorter than min), and makes c ready
 * for a new stream. */
size_t chunker_finish(struct chunker *c);
/* Bytes of the current chunk fed so far. */
size_t chunker_pending(const struct chunker *c);

#endif
