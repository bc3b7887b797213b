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

struct proto_identity;
struct relay;

/* Requests in flight per holder: enough to keep a loopback or LAN link
 * busy (4 pieces of 256 KiB), few enough that a holder's agent and its
 * disk set the pace (the holder answers a write once it took the piece). */
#define BK_WINDOW 4

struct bk {
	const char *data_dir;         /* borrowed */
	struct proto_identity *id;    /* owned */
	struct backup_keys *keys;     /* owned, sodium_malloc() */
	struct relay *relay;          /* owned */
	struct place_holder *holders; /* n_holders, owned: what place.h reads */
	bool *failed;                 /* n_holders, owned: a request failed, do not use it */
	unsigned *in_flight;          /* n_holders, owned */
	size_t n_holders;
	bool progress;     /* stderr is a terminal: show a progress line */
	uint64_t sent;     /* shard bytes acknowledged by holders */
	uint64_t received; /* shard bytes read back */
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
/* Runs the relay until every request in flight ended. Returns 0 or the
 * relay's error. */
int bk_drain(struct bk *b);
/* Shard i of pack id: "<64 hex>.<i>". */
void bk_shard_name(char out[PROTO_HOLD_NAME_MAX + 1], const uint8_t id[PACK_ID_LEN], unsigned i);
/* Human-readable bytes ("12.3 MiB") into buf. */
const char *bk_bytes(char *buf, size_t n, uint64_t bytes);

/* ---- shipping one pack (backup_ship.c) ---- */

/* One pack at a time: its k + m shards are opened, written in pieces with
 * BK_WINDOW in flight per holder, committed, and the receipts checked; a
 * holder that fails gets its shard moved to another (place_repair()). */
struct ship;
int ship_new(struct ship **out, struct bk *b, unsigned k, unsigned m);
void ship_free(struct ship **s);
/* Copies pack[0..len) (ID id), codes, hashes and places its shards and
 * starts sending them. Returns 0, or a negative code with one line in
 * ship_error() (too few holders with room). */
int ship_start(struct ship *s, const uint8_t *pack, size_t len, const uint8_t id[PACK_ID_LEN]);
/* Whether a pack is being shipped. */
bool ship_busy(const struct ship *s);
/* Sends what the windows allow; call after each relay_wait(). Returns 0,
 * or a negative code once the pack cannot be shipped (ship_error()). */
int ship_pump(struct ship *s);
/* Pumps until the pack is shipped; *out gets its placement. Returns 0 or
 * the error. */
int ship_wait(struct ship *s, struct snap_pack *out);
const char *ship_error(const struct ship *s);

/* ---- reading a range of a pack (backup_fetch.c) ---- */

/* Reads pack bytes [off, off + len) of p (len <= FETCH_MAX) into out, from
 * the data shards, or, where a holder fails, from any k shards decoded.
 * Asynchronous: fetch_start() sends, fetch_pump() moves on; done when
 * fetch_done(). */
#define FETCH_MAX ((size_t)1 << 20)
struct fetch;
int fetch_new(struct fetch **out, struct bk *b);
void fetch_free(struct fetch **f);
int fetch_start(struct fetch *f, const struct snap_pack *p, uint64_t off, size_t len, uint8_t *out);
int fetch_pump(struct fetch *f);
bool fetch_done(const struct fetch *f);
/* The failure, once fetch_pump() returned one. */
const char *fetch_error(const struct fetch *f);
/* Whether a request to peer failed in this run; marks one as failed (it
 * is then read around). */
bool fetch_peer_failed(const struct fetch *f, const uint8_t peer[PROTO_KEY_LEN]);
void fetch_mark_failed(struct fetch *f, const uint8_t peer[PROTO_KEY_LEN]);
/* Reads a whole range synchronously (any length): fetch_start + pump. */
int fetch_range(struct fetch *f, const struct snap_pack *p, uint64_t off, size_t len, uint8_t *out);

/* ---- the commands ---- */

int backup_put(struct bk *b, const char *name, const char *path, unsigned k, unsigned m, bool json);
int backup_get(struct bk *b, const char *name, const char *snapshot, const char *out, bool json);
int backup_ls(struct bk *b, const char *name, bool json);

#endif
