/* kith backup: the owner's side of backups, run in the kith command so
 * that the CPU work (chunking, sealing, erasure coding, hashing) never
 * runs in kithd's event loop. kithd relays the hold.* requests
 * (tools/relay.h) and publishes the root record; the formats are
 * backup/snapshot.h, backup/pack.h and backup/seal.h.
 *
 * One struct bk per command: the identity and the keys derived from it,
 * the relay to kithd, and the partners that keep our shards with the room
 * each has left. */
#ifndef KITH_TOOLS_BACKUP_H
#define KITH_TOOLS_BACKUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "backup/erasure.h"
#include "backup/keys.h"
#include "backup/pack.h"
#include "backup/place.h"
#include "backup/snapshot.h"
#include "proto/ops.h"
#include "relay.h"

struct proto_identity;

/* Index chunks: an 8-byte sequence number (little-endian, from 0), then
 * whole index entries (backup/snapshot.h). The number makes every index
 * chunk distinct (a stream of zeros repeats one entry) and lets a reader
 * check their order. Index packs are smaller than data packs: a restore
 * reads each whole. */
#define BK_INDEX_CHUNK_MAX ((size_t)64 << 10)
#define BK_INDEX_SEQ_LEN 8
#define BK_INDEX_PACK_TARGET ((size_t)8 << 20)
/* Data packs: 8 MiB, 2 MiB shards at 4+2. A put holds the pack being
 * filled, the one being shipped with its parity (1.5 times) and the index
 * pack being filled: 8 + 12 + 8 MiB, with zstd's context, ZeroMQ's queues
 * and the read buffer about 45 MiB, under the 64 MiB a backup may take
 * (12 MiB packs came to 50 to 64). */
#define BK_DATA_PACK_TARGET ((size_t)8 << 20)

/* Requests in flight per holder: enough to keep a loopback or LAN link
 * busy (4 pieces of 256 KiB), few enough that a holder's agent and its
 * disk set the pace (the holder answers a write once it took the piece). */
#define BK_WINDOW 4
/* A holder that answers busy (its backlog holds a message of ours
 * already) is asked again after BK_BUSY_WAIT_MS, up to BK_BUSY_TRIES
 * times in a row (10 s) before it counts as failed. */
#define BK_BUSY_WAIT_MS 20
#define BK_BUSY_TRIES 500

struct bk {
	const char *data_dir;         /* borrowed */
	struct proto_identity *id;    /* owned */
	struct backup_keys *keys;     /* owned, sodium_malloc() */
	struct relay *relay;          /* owned */
	struct place_holder *holders; /* n_holders, owned: what place.h reads */
	bool *failed;                 /* n_holders, owned: a request failed, do not use it */
	size_t n_holders;
	bool progress;     /* stderr is a terminal: show a progress line */
	uint64_t sent;     /* shard bytes acknowledged by holders */
	uint64_t received; /* shard bytes read back */
	/* Index packs: their size, how many a root lists before the index gets
	 * an index, and the index chunks' zstd level (BK_INDEX_PACK_TARGET,
	 * SNAP_INDEX_PACKS_MAX, 0; the environment's KITH_BACKUP_SMALL_INDEX=1
	 * makes packs as small as can be, one per root and no compression, so
	 * that tests reach the index's index with a backup of a few hundred
	 * MiB). */
	size_t index_pack_target;
	uint32_t index_direct_max;
	int index_level;
};

/* Loads the identity, derives the keys and connects to kithd; with
 * holders, also asks kithd which partners hold for us and each of them
 * how much it keeps already. Returns CLI_OK or CLI_FAIL after one line;
 * bk_close() either way. */
int bk_open(struct bk *b, const char *data_dir, bool holders);
void bk_close(struct bk *b);
/* The index of peer among the holders, or -1. */
long bk_holder(const struct bk *b, const uint8_t peer[PROTO_KEY_LEN]);
/* A holder that failed a request: no more requests go to it in this run. */
void bk_holder_failed(struct bk *b, size_t i);
/* One request, waited for: done() runs once with its outcome, after as
 * many busy answers as BK_BUSY_TRIES allows. Returns 0 or the relay's
 * error (then done() did not run). */
int bk_call(struct bk *b, const uint8_t peer[PROTO_KEY_LEN], const char *op,
            const struct mp_buf *args, relay_done done, void *arg);
/* Monotonic milliseconds. */
uint64_t bk_now_ms(void);
/* Runs the relay until every request in flight ended. Returns 0 or the
 * relay's error. */
int bk_drain(struct bk *b);
/* Pages through what peer keeps for us (hold.list), calling fn for each
 * shard (entry borrowed for the call; a non-zero return stops and is
 * returned). Returns 0 or a negative code with one line in err. */
typedef int (*bk_list_fn)(void *arg, const struct proto_hold_entry *e);
int bk_list(struct bk *b, const uint8_t peer[PROTO_KEY_LEN], bk_list_fn fn, void *arg, char *err,
            size_t n);
/* Parses a shard name of ours ("<64 hex>.<i>"): true with id and shard. */
bool bk_shard_parse(const char *name, uint8_t id[PACK_ID_LEN], unsigned *shard);
/* A stored pack's ID: BLAKE2b-256 of its length (8 bytes, little-endian),
 * k, m and its k + m shard hashes, which name its bytes (the data shards
 * are the pack) and its code. Shipping hashes every shard anyway; naming
 * the pack from those hashes saves hashing its bytes once more. p's id is
 * not read. */
void bk_pack_name(uint8_t id[PACK_ID_LEN], const struct snap_pack *p);
/* Shard i of pack id: "<64 hex>.<i>". */
void bk_shard_name(char out[PROTO_HOLD_NAME_MAX + 1], const uint8_t id[PACK_ID_LEN], unsigned i);
/* The first failure of a piece of work: unless *rc is set already, *rc
 * gets code and err (n bytes) the line for the admin. Returns *rc.
 * BK_FAIL(x, code, fmt, ...) for a struct x with members rc and err[]. */
__attribute__((format(printf, 5, 6))) int bk_fail(int *rc, char *err, size_t n, int code,
                                                  const char *fmt, ...);
#define BK_FAIL(x, code, ...) bk_fail(&(x)->rc, (x)->err, sizeof((x)->err), (code), __VA_ARGS__)
/* Human-readable bytes ("12.3 MiB") into buf. */
const char *bk_bytes(char *buf, size_t n, uint64_t bytes);

/* ---- a set of pack IDs (backup_bk.c) ---- */

/* IDs in the order added (ids[0..n)), found by hash: a caller keeps what
 * it knows of each in arrays of its own, by the same index. */
struct bk_set {
	uint8_t (*ids)[PACK_ID_LEN];
	size_t n, cap;
	uint32_t *slots; /* 2 * cap of them: index + 1, 0 for none */
};
/* The index of id: found (true) or added (false). Returns 0 or -ENOMEM. */
int bk_set_add(struct bk_set *s, const uint8_t id[PACK_ID_LEN], size_t *index, bool *found);
/* The index of id, or -1. */
long bk_set_find(const struct bk_set *s, const uint8_t id[PACK_ID_LEN]);
void bk_set_free(struct bk_set *s);

/* ---- shipping one pack (backup_ship.c) ---- */

/* One pack at a time: its k + m shards are opened, written in pieces with
 * BK_WINDOW in flight per holder, committed, and the receipts checked; a
 * holder that fails gets its shard moved to another (place_repair()). */
struct ship;
int ship_new(struct ship **out, struct bk *b, unsigned k, unsigned m);
void ship_free(struct ship **s);
/* Copies pack[0..len), codes, hashes, names (bk_pack_name()) and places
 * its shards and starts sending them. Returns 0, or a negative code with
 * one line in ship_error() (too few holders with room). */
int ship_start(struct ship *s, const uint8_t *pack, size_t len);
/* Moves the shards of stored pack old marked lost (k + m flags) to new
 * holders (place_repair()), from the pack's bytes pack[0..len), which must
 * make exactly the shards old names (KITH_ECHECKSUM otherwise); ship_wait()
 * then gives the new placement. */
int ship_start_repair(struct ship *s, const uint8_t *pack, size_t len, const struct snap_pack *old,
                      const bool *lost);
/* The pack being (or last) shipped, with the holders its shards were
 * sent to so far (zero keys for the others). */
const struct snap_pack *ship_placed(const struct ship *s);
/* The code it ships with. */
unsigned ship_k(const struct ship *s);
unsigned ship_m(const struct ship *s);
/* Whether a pack is being shipped. */
bool ship_busy(const struct ship *s);
/* Sends what the windows allow; call after each relay_wait(). Returns 0,
 * or a negative code once the pack cannot be shipped (ship_error()). */
int ship_pump(struct ship *s);
/* Pumps until the pack is shipped; *out gets its placement. Returns 0 or
 * the error. */
int ship_wait(struct ship *s, struct snap_pack *out);
const char *ship_error(const struct ship *s);

/* ---- writing a snapshot's index (backup_index.c) ---- */

/* Entries go into index chunks and index packs, shipped through ship
 * (the caller's, which may ship data packs too), whose placements are
 * appended to root->index (emptied first); root->chunks counts the chunk
 * entries. Past b->index_direct_max index packs, their placements go to
 * an index of the index instead, written at ixw_finish() (as one pack,
 * snapshot.h's level 1), whose placement the root then lists. Before
 * an index pack is shipped, drain(arg) must leave the ship idle (NULL when
 * the caller ships nothing else); when the caller's own wait on the ship
 * ends a pack of ours (ixw_ships()), it hands the placement to
 * ixw_shipped(). All pointers are borrowed and must outlive *out. */
struct ixw;
int ixw_new(struct ixw **out, struct bk *b, struct ship *ship, struct snap_root *root,
            int (*drain)(void *arg), void *arg);
void ixw_free(struct ixw **w);
int ixw_add(struct ixw *w, const struct snap_entry *e);
bool ixw_ships(const struct ixw *w);
int ixw_shipped(struct ixw *w, const struct snap_pack *placement);
/* Flushes the last chunk and pack and waits until they are stored. */
int ixw_finish(struct ixw *w);
const char *ixw_error(const struct ixw *w);

/* ---- reading a range of a pack (backup_fetch.c) ---- */

/* Reads pack bytes from the data shards, or, where a holder fails, from
 * any k shards decoded. One struct fetch per command: the holders that
 * failed in this run, and the reads made through it. FETCH_MAX is the
 * size of the reads fetch_range() keeps in flight, and a good size for a
 * caller's. */
#define FETCH_MAX ((size_t)1 << 20)
struct fetch;
int fetch_new(struct fetch **out, struct bk *b);
/* Frees f and every read made through it (waiting for their answers). */
void fetch_free(struct fetch **f);
/* Several ranges at once: a struct fetch_read reads one range at a time,
 * and any number are in flight together, moved on by fetch_pump() (call it
 * after each relay_wait()). fetch_read_start() reads pack bytes [off, off
 * + len) of p into out (p and out borrowed until the read is done), the
 * read being done or new; fetch_read_done() says when out holds them. */
struct fetch_read;
int fetch_read_new(struct fetch *f, struct fetch_read **out);
/* Waits for the answers to r's requests in flight (bk_drain()), if any. */
void fetch_read_free(struct fetch_read **r);
int fetch_read_start(struct fetch_read *r, const struct snap_pack *p, uint64_t off, size_t len,
                     uint8_t *out);
bool fetch_read_done(const struct fetch_read *r);
/* Whether r's bytes of data shard i came from its own holder, not decoded
 * from others (false when r's range is not in that shard). */
bool fetch_read_direct(const struct fetch_read *r, unsigned shard);
/* Sends what waits, decodes what is read. Returns 0 or the first failure
 * of any read (fetch_error()); a failure stays until fetch_range() starts
 * anew. */
int fetch_pump(struct fetch *f);
/* The failure, once fetch_pump() returned one. */
const char *fetch_error(const struct fetch *f);
/* Whether a request to peer failed in this run; marks one as failed (it
 * is then read around). */
bool fetch_peer_failed(const struct fetch *f, const uint8_t peer[PROTO_KEY_LEN]);
void fetch_mark_failed(struct fetch *f, const uint8_t peer[PROTO_KEY_LEN]);
/* Reads a whole range (any length) and waits for it, with several reads
 * in flight. */
int fetch_range(struct fetch *f, const struct snap_pack *p, uint64_t off, size_t len, uint8_t *out);

/* ---- snapshots and their indexes (backup_walk.c) ---- */

/* Our snapshots, opened: list[0..n), sorted by name, then time, then
 * record seq (two puts within a second), all heap. */
struct bk_roots {
	struct snap_root *list;
	uint64_t *seq; /* each one's record seq: a later snapshot has a higher one */
	size_t n, cap;
	size_t unreadable; /* backup records our keys do not open */
};
/* Loads our snapshots of name (NULL: of every name) from the store.
 * Returns CLI_OK or CLI_FAIL after one line; bk_roots_free() either way. */
int bk_roots_load(struct bk *b, const char *name, struct bk_roots *r);
void bk_roots_free(struct bk_roots *r);
/* The newest snapshot whose ID starts with the hex prefix id (NULL: the
 * newest), or NULL. */
const struct snap_root *bk_roots_pick(const struct bk_roots *r, const char *id);

/* Walks root's index in order: reads each index pack whole through f
 * (those of the index's index first, for a root of level 1), opens its
 * chunks and calls fn for every entry of the index, and index_fn (when not
 * NULL) for every index pack of either level before reading it; a
 * non-zero return of either stops the walk and is returned. Returns 0 or a
 * negative code with one line in err (n bytes). */
typedef int (*bk_entry_fn)(void *arg, const struct snap_entry *e);
typedef int (*bk_index_fn)(void *arg, const struct snap_pack *p);
int bk_walk(struct bk *b, struct fetch *f, const struct snap_root *root, bk_entry_fn fn,
            bk_index_fn index_fn, void *arg, char *err, size_t n);
/* Calls fn for every member kithd knows, with its state ("alive",
 * "suspect", "dead", "left", "revoked") and since when (Unix seconds).
 * Returns CLI_OK, or CLI_FAIL after one line when kithd did not answer. */
typedef void (*bk_member_fn)(void *arg, const uint8_t peer[PROTO_KEY_LEN], const char *state,
                             uint64_t since);
int bk_members_each(struct bk *b, bk_member_fn fn, void *arg);
/* Marks in f the members kithd sees not alive, so that reads go around
 * them at once rather than wait for each to time out. */
void bk_skip_dead(struct bk *b, struct fetch *f);

/* ---- the commands ---- */

int backup_put(struct bk *b, const char *name, const char *path, unsigned k, unsigned m, bool json);
int backup_get(struct bk *b, const char *name, const char *snapshot, const char *out, bool json);
int backup_ls(struct bk *b, const char *name, bool json);
/* read_percent: the share of shards read back whole and hashed (0..100). */
int backup_verify(struct bk *b, const char *name, unsigned read_percent, bool json);
/* What forget keeps of a name's snapshots: the last n, and the newest of
 * each of the last n days, ISO weeks and months (as restic's forget). */
struct bk_keep {
	unsigned last, daily, weekly, monthly;
};
int backup_forget(struct bk *b, const char *name, const struct bk_keep *k, bool json);
int backup_prune(struct bk *b, bool json);
/* read_percent as for verify: shards read back that do not check are
 * moved too. A holder that does not answer loses its shards only once
 * kithd has seen it dead for dead_for_s (0: at once). */
int backup_repair(struct bk *b, unsigned read_percent, uint64_t dead_for_s, bool json);

/* Whether kithd is still getting our records back after a restore from
 * the recovery kit (proto/kit.h: PROTO_KIT_RESYNC_FILE): the store may
 * not know every snapshot yet. */
bool bk_resyncing(const struct bk *b);
/* Puts and prunes exclude each other (a prune would take a running put's
 * new packs, which no snapshot names yet, for garbage): put takes
 * DATA/backup.lock shared, prune exclusive, neither waits. Returns CLI_OK
 * with *fd (close it to let go) or CLI_FAIL after one line. */
int bk_lock(struct bk *b, bool exclusive, int *fd);

#endif
