/* Reed-Solomon erasure coding of a pack's shards, on Intel ISA-L.
 *
 * A pack is cut into k data shards of equal length (erasure_shard_len());
 * erasure_encode() computes m parity shards from them, and any k of the
 * k + m shards rebuild all the others (erasure_decode()), so a pack
 * survives the loss of any m of the holders keeping its shards.
 *
 * The code is systematic: the data shards are the pack's own bytes. Parity
 * shard p (0 <= p < m) is row k + p of ISA-L's gf_gen_cauchy1_matrix(),
 * the coefficient on data shard j being 1 / ((k + p) XOR j) in GF(2^8)
 * with the polynomial 0x11d. Every square submatrix of a Cauchy matrix is
 * invertible, so every choice of k shards decodes. That matrix is part of
 * the backup format: shards written today are decoded years later, so it
 * must never change (test_erasure.c recomputes it without ISA-L). With
 * k = 1 every shard alone holds the pack: the first parity shard is a
 * copy of the data, the others the data times a constant.
 *
 * This module owns its coding tables only: shard buffers always belong to
 * the caller. It does no I/O, starts no thread and takes no lock. Encode
 * only reads *e; decode keeps the tables of the last erasure pattern in *e
 * (repair and restore decode many stripes with the same shards missing),
 * so an erasure object decodes in one thread at a time: give each thread
 * its own. Nothing is allocated after erasure_new(). */
#ifndef KITH_BACKUP_ERASURE_H
#define KITH_BACKUP_ERASURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Every shard of a stripe goes to a distinct holder, and a network of
 * small collectives counts tens of members, not hundreds: 32 + 16 shards
 * already ask for 48 holders with room. Past that, shards only get
 * smaller and more numerous (more files, receipts and audits per pack)
 * for no gain in safety: 16 parity shards survive the loss of 16
 * holders at once. These bounds keep k + m far below the 255 that
 * GF(2^8) Cauchy codes allow, the decode tables at 16 KiB, and a stripe's
 * shard set in one 64-bit mask. */
#define ERASURE_K_MAX 32
#define ERASURE_M_MAX 16

struct erasure;

/* Creates a k + m code (k in 1..ERASURE_K_MAX, m in 0..ERASURE_M_MAX) and
 * computes its encode tables. On success *out is the caller's, freed by
 * erasure_free(). Returns 0, KITH_EVALUE for k or m out of range (or a
 * NULL out), or -ENOMEM. */
int erasure_new(struct erasure **out, unsigned k, unsigned m);
/* Frees *e and sets it to NULL; does nothing when e or *e is NULL. */
void erasure_free(struct erasure **e);

unsigned erasure_k(const struct erasure *e);
unsigned erasure_m(const struct erasure *e);

/* The length of each shard of a pack of n bytes: ceil(n / k). The pack is
 * cut in order: data shard i holds the pack's bytes [i * s, i * s + s)
 * for s = erasure_shard_len(e, n), and the bytes past n, all at the end
 * of the stripe (the tail of the last data shard holding pack bytes, and
 * any data shard after it), are padding the caller sets to zero. Shards
 * carry no length: the caller keeps n (in the snapshot index) to cut the
 * padding off after a decode. */
size_t erasure_shard_len(const struct erasure *e, size_t n);
/* How many of data shard i's bytes (i < k) are pack bytes for a pack of n
 * bytes; the remaining erasure_shard_len() - that are padding. */
size_t erasure_shard_fill(const struct erasure *e, size_t n, unsigned i);

/* Computes the m parity shards of k data shards, each of len bytes.
 * data[0..k-1] are borrowed and only read; parity[0..m-1] are the
 * caller's buffers of len bytes, overwritten, and must not overlap the
 * data. Cannot fail. */
void erasure_encode(const struct erasure *e, const uint8_t *const *data, uint8_t *const *parity,
                    size_t len);

/* Rebuilds every missing shard of a stripe. shards[0..k+m-1] are the k
 * data then the m parity shards, each a caller's buffer of len bytes;
 * present[i] says whether shards[i] holds its bytes. At least k must be
 * present: the first k present are read, and every shard not present
 * (data or parity: a repair re-creates lost parity too) is overwritten
 * with its bytes. Present shards are never written. Returns 0, or
 * KITH_EMISSING when fewer than k are present, in which case no buffer
 * has been touched. The tables for the pattern are computed once and
 * reused while the same shards are missing (see the top of the file). */
int erasure_decode(struct erasure *e, uint8_t *const *shards, const bool *present, size_t len);

#endif
