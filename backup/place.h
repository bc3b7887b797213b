/* Where a pack's shards go: one distinct holder per shard, chosen among
 * the partners that granted the owner `backup:SIZE[:COUNT]`, are alive and
 * have room for one more shard.
 *
 * Weighted rendezvous (highest-random-weight) hashing. Every (holder,
 * pack, shard index) gets a score; shard 0 takes the best-scored holder,
 * shard 1 the best of the others, and so on, so the answer depends only
 * on the pack ID, the code and the holders (not on their order in the
 * array): a re-run of an interrupted put sends each shard to the holder
 * of the first run, and only what is missing goes out again. Adding a
 * holder moves about (k + m) / (n + 1) of a pack's shards, nearly all of
 * them to the newcomer; removing one moves the shards it held and, in
 * about one pack in ten (n = 20, 4 + 2), one more, because the holder
 * that replaces it may have held a later shard of the same pack (no
 * stateless choice of distinct holders avoids that entirely; a repair,
 * place_repair(), moves the lost shards and nothing else).
 *
 * HRW is Thaler and Ravishankar's ("Using name-based mappings to increase
 * hit rates", IEEE/ACM ToN 6(1), 1998). Weights follow the "logarithmic
 * method" of Schindelhauer and Schomaker ("Weighted distributed hash
 * tables", SPAA 2005), the same draw as Ceph's straw2 buckets: with h a
 * uniform hash in (0, 1), holder x scores -ln(h) / weight(x) and the
 * lowest wins, which makes it win with probability weight(x) / (sum of
 * the weights) (the minimum of exponential variables of rates w_x). The
 * choice of shard after shard is weighted sampling without replacement.
 * As in straw2 the logarithm is computed in fixed point with integers
 * (place.c), so that every machine computes the same placement; no libm.
 *
 * The weight should be the grant's SIZE, not the free room: shards then
 * fill every holder at the rate of its quota, so they all fill up together
 * (what weighting by free room aims for), and the weight does not change
 * as shards arrive, which would make the placement of an interrupted put
 * move when it is re-run. The free room only decides whether a holder can
 * take one more shard. With quotas of 1:2:3 on 30 holders, 8 + 4 packs are
 * refused only once 95% of all the quota is used (85% with equal weights;
 * weights that follow the free room would reach 99.7%, at the price above;
 * test_place.c).
 *
 * A holder keeps at most one shard of a pack, so its share of the shards
 * follows its weight only while k + m is small against the number of
 * holders: as k + m nears n, every holder must take a shard of nearly
 * every pack and shares flatten (with 12 holders and 4 + 2, twice the
 * weight gets about 1.5 times the shards; with 50 holders, 1.9 times).
 *
 * The module keeps no state, allocates nothing and does no I/O: a call
 * uses under 8 KiB of stack and draws once per eligible holder and shard
 * (SipHash-2-4, libsodium's crypto_shorthash, under a key derived from the
 * pack ID, then a fixed-point logarithm): about 30 000 placements a second
 * for 4 + 2 on 50 holders, 200 for 32 + 16 on PLACE_HOLDERS_MAX, on one
 * core of the 2-core test machine. All pointers are borrowed for the
 * call. */
#ifndef KITH_BACKUP_PLACE_H
#define KITH_BACKUP_PLACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "erasure.h"

#define PLACE_PEER_LEN 32 /* a peer's Ed25519 public key */
#define PLACE_PACK_ID_LEN 32
/* Holders given to one call: far above the tens of members of a network
 * of small collectives, low enough that a call costs at most
 * PLACE_SHARDS_MAX hashes of each and its tables fit on the stack. */
#define PLACE_HOLDERS_MAX 1024
#define PLACE_SHARDS_MAX (ERASURE_K_MAX + ERASURE_M_MAX)
/* out[] of a shard that has (or needs) no new holder. */
#define PLACE_NONE SIZE_MAX

/* One partner that granted the owner backup quota, as the caller sees it. */
struct place_holder {
	uint8_t peer[PLACE_PEER_LEN];
	uint64_t weight;     /* the grant's SIZE (see above); 0: never chosen */
	uint64_t free_bytes; /* quota left to this owner at this holder */
	uint32_t free_count; /* shards left under COUNT; UINT32_MAX without one */
	bool alive;          /* not suspected, dead or ejected */
};

/* What a call needed and found: enough for place_explain()'s line. */
struct place_count {
	unsigned k, m;
	uint64_t shard_len;
	bool repair;    /* from place_repair() */
	unsigned need;  /* distinct holders needed: k + m, or the lost shards */
	unsigned have;  /* eligible: alive, weight > 0, room for one shard of
	                 * shard_len bytes (free_bytes >= shard_len, free_count >=
	                 * 1) and, for a repair, keeping no shard of the pack */
	unsigned alive; /* alive with weight > 0, room or not */
};

/* Places the k + m shards of pack pack_id (PLACE_PACK_ID_LEN bytes), each
 * of shard_len bytes, on holders[0..n) (n <= PLACE_HOLDERS_MAX; the peers
 * must be distinct): out[i] (k + m entries) gets the index in holders of
 * the holder of shard i (data shards first, as in erasure.h); no index
 * appears twice. holders is only read: before placing the next pack, take
 * the room this one uses off the holders (place_commit()). count, when not
 * NULL, gets the counts whatever the result. Returns 0, or:
 *   KITH_EQUOTA   fewer than k + m holders are eligible (count says how
 *                 many): out[] is all PLACE_NONE
 *   KITH_EVALUE   k or m out of erasure.h's range, or a NULL pointer
 *   KITH_ETOOBIG  n over PLACE_HOLDERS_MAX
 *   KITH_EDUPKEY  two holders with the same peer
 * On the last three out[] is untouched and count zeroed. */
int place_pack(const uint8_t *pack_id, unsigned k, unsigned m, uint64_t shard_len,
               const struct place_holder *holders, size_t n, size_t *out,
               struct place_count *count);

/* Chooses new holders for the lost shards of pack pack_id, moving nothing
 * else. current[i] (k + m entries) is the peer keeping shard i, as the
 * index records it; lost[i] says it must move (its holder is dead too
 * long, ejected, out of grant, or failed an audit). A lost shard takes the
 * best-scored eligible holder, in the order place_pack() uses, among those
 * keeping no shard of the pack (lost or not) and not taken by an earlier
 * lost shard: out[i] gets its index in holders[0..n); out[i] is
 * PLACE_NONE for every shard not lost. When there are fewer eligible
 * holders than lost shards, the first lost shards (by index) still get
 * one, the others PLACE_NONE, and the call returns KITH_EQUOTA: the
 * partial repair is worth making (each shard rebuilt is one more loss
 * survived). Other returns and count as place_pack(), count.need being
 * the number of lost shards. */
int place_repair(const uint8_t *pack_id, unsigned k, unsigned m, uint64_t shard_len,
                 const struct place_holder *holders, size_t n,
                 const uint8_t (*current)[PLACE_PEER_LEN], const bool *lost, size_t *out,
                 struct place_count *count);

/* Takes shard_len bytes and one shard off the room of each holder that
 * out[0..shards) names (PLACE_NONE entries skipped), as place_pack() or
 * place_repair() filled it, so that the next pack of the same put sees
 * the room left. The weights stay. A re-run of an interrupted put places
 * a pack as the first run did when each holder is given the room it had
 * then: add back what it already keeps of the pack. */
void place_commit(struct place_holder *holders, const size_t *out, unsigned shards,
                  uint64_t shard_len);

/* One line, without newline, for the command's error: "4+2 needs 6
 * holders with room for 4.0 MiB; 5 have it (7 alive)", or for a repair
 * "repairing 2 shards of 4+2 needs 2 more holders with room for 4.0 MiB;
 * 1 has it (7 alive)". Writes at most cap bytes, NUL included. Returns 0,
 * or KITH_ETOOBIG when the line was cut (cap under 128 may cut it). */
int place_explain(const struct place_count *c, char *buf, size_t cap);

#endif
