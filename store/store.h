/* The durable state of one agent: an LMDB environment in DATA/store/.
 *
 * Named databases:
 *   meta     "schema" -> version (4 bytes BE), "seq" -> the last seq of the
 *            agent's own counter handed out (8 bytes BE, 0 at creation)
 *   records  (author, kind, name) -> seq (8 bytes BE) || encoded record;
 *            the highest seq wins
 *   byseq    (author, seq BE) -> (kind, name): the current records of an
 *            author in publication order, for "what did A publish after s"
 *   heads    author -> highest seq stored or passed over: the heads digest
 *   authors  author -> records (8 BE) || bytes (8 BE) its current records
 *            cost (STORE_RECORD_OVERHEAD each included)
 *   expiry   (expires BE, author, seq BE) -> empty: the current records in
 *            expiry order, for pruning, but for the kinds in
 *            STORE_KINDS_KEPT, never pruned
 *   invites  invitation id -> created, expires, uses left, secret, scopes
 *   shards   (owner, name) -> the shard's bytes (kith shard: the old way)
 *   holds    (owner, name) -> state (1) || size (8 BE) || hash (32) ||
 *            created (8 BE) || grace_until (8 BE): the index of the
 *            shards kept as files (agent/backup/shardfile.h)
 *   usage    owner -> bytes (8 BE) || count (8 BE) of its shards and
 *            holds together (STORE_SHARD_OVERHEAD and the name included)
 *   verdicts owner (32) || service (1..63) || 0x00 || at (8 BE) -> the
 *            verdict from at on (1 byte): the transitions of each
 *            (owner, service) series, for the status page's history. The
 *            0x00 ends the name (a service name has none), so no series'
 *            keys start with another's and each series is one key range,
 *            in time order.
 * meta also holds "founder" -> 32 bytes and the named counters. authors,
 * expiry and usage change in the transaction of every change they count,
 * so they are always exact: a budget or quota check is one read.
 *
 * Every record is decoded, signature-checked and time-checked (proto) before
 * it is written. A record whose seq is not higher than the stored one for
 * its (author, kind, name) is a no-op, not an error.
 *
 * A struct store is used from one thread; a process opens a given store
 * once (LMDB's rule) and does not fork with it open. Other processes may
 * open it at the same time. No network, no policy: which authors are
 * members, and what budget each gets, is the agent's business.
 *
 * The map starts small and grows: a write that finds the map full is
 * undone, the map doubles (up to the limit) and the write is done again,
 * so callers never see a half-done write. Adding writes stop short of the
 * limit by a reserve (see struct store_options) that only writes that
 * remove or rewrite in place may use: a full store can still be pruned.
 *
 * Errors: LMDB's own codes are mapped to KITH_ENOSPACE (the map is at its
 * limit), KITH_EDISKFULL (the filesystem is full: ENOSPC or EDQUOT, or the
 * EIO LMDB makes of a write the filesystem cut short, told from a failing
 * device by the filesystem having under 1 MiB left), KITH_ESCHEMA (a file
 * this version cannot read), -EIO (corruption, a damaged value found while
 * reading, or an I/O error) or another -errno; the LMDB message of the
 * last failure is kept for store_lmdb_error(). A write that fails leaves
 * nothing of itself behind. */
#ifndef KITH_STORE_STORE_H
#define KITH_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../proto/limits.h"

#define STORE_DIR "store"
/* 2 since issue 4 added invites, shards and usage; 3 added authors and
 * expiry and counts names and overhead in usage; 4 added holds; 5 added
 * verdicts. An older store is upgraded in place, in one transaction, by
 * store_open(). */
#define STORE_SCHEMA_VERSION 5
#define STORE_MAP_SIZE_DEFAULT ((size_t)256 << 20) /* 256 MiB */
#define STORE_MAP_MAX_DEFAULT ((size_t)8 << 30)    /* 8 GiB */

/* Kinds whose records stay past their expiry: grants (4), revocations (5)
 * and admissions (8). The trust replay reads them as history: an admission
 * made under an admit grant stands after the grant expired, which only the
 * grant's record can show. Their number is bounded by the budget the agent
 * gives trust records. */
#define STORE_KINDS_KEPT ((1u << 4) | (1u << 5) | (1u << 8))

struct store;

/* The map is address space, not disk: the file grows only with what is
 * stored. The last 1/32 of map_max (at least 1 MiB, at most 64 MiB and a
 * quarter of map_max) is the reserve: writes that add data (records,
 * shards, invitations, the schema upgrade) get KITH_ENOSPACE when they
 * would need it; pruning, dropping, deleting, counters, the founder and
 * taking an invitation's use may grow into it. */
struct store_options {
	size_t map_size; /* initial map; 0: STORE_MAP_SIZE_DEFAULT */
	size_t map_max;  /* the most it may grow to; 0: STORE_MAP_MAX_DEFAULT; raised to map_size */
	/* Open to read only (kith beside a running kithd): nothing is created,
	 * upgraded or written (every write: -EROFS); a store of another
	 * schema version than this one's is KITH_ESCHEMA. */
	bool read_only;
};

/* Opens (creating if needed) the store under data_dir/STORE_DIR. data_dir
 * and opt (NULL for defaults) are borrowed. On success *out is owned by the
 * caller: close it with store_close(). The map starts at the larger of
 * opt->map_size and the size the file was last grown to, within the
 * limits above (never below what the file holds). A store of schema
 * version 1 to 4 is upgraded to version 5 in the open's write transaction
 * (a process built for an older version then refuses it). Returns 0,
 * -errno, KITH_ESCHEMA (another schema version, or not a kith store: the
 * file is left as it was), -EIO (a damaged store, also left as it was),
 * KITH_EDISKFULL or another negative code. */
int store_open(struct store **out, const char *data_dir, const struct store_options *opt);
/* Closes *s and sets it to NULL; harmless on NULL. */
void store_close(struct store **s);

enum store_put_result {
	STORE_PUT_NEW = 1,      /* first record for its (author, kind, name) */
	STORE_PUT_REPLACED = 2, /* replaced a record with a lower seq */
	STORE_PUT_STALE = 3,    /* seq not higher than the stored one: nothing done */
};

/* What the current records of one author may cost, as counted in
 * authors: each record costs its encoded length + its name's length +
 * STORE_RECORD_OVERHEAD (the index entries it takes), so a flood of tiny
 * records costs what it occupies. */
#define STORE_RECORD_OVERHEAD 128
struct store_budget {
	uint64_t records;
	uint64_t bytes;
};

/* Budgets. A record that would take its author past budget (a new record:
 * records + 1 and bytes + its cost; a replacement: bytes - the old cost +
 * the new one) is not stored: its err is KITH_EQUOTA and its author's head
 * is raised to its seq if lower. The record is passed over, as gossip
 * passes over an expired one: the agent holds everything up to a head but
 * what it refused on purpose, so anti-entropy does not fetch it again, and
 * a later record of the author (a revocation, say, put with the larger
 * budget the caller gives trust records) still gets through. A replacement
 * that costs no more than the record it replaces is always stored, even
 * over a budget lowered meanwhile. A NULL budget is no limit. */

/* Verifies the encoded record buf (borrowed) at time now and stores it,
 * without budget. *result (may be NULL) says what happened. Returns 0 or
 * the decode, signature or time error (nothing stored), -EEXIST when its
 * author already has a different current record with the same seq
 * (nothing stored: the first one keeps the seq), or a store error. When 0
 * is returned the record is on disk (the commit is synced). */
int store_record_put(struct store *s, const uint8_t *buf, size_t len, uint64_t now,
                     enum store_put_result *result);
/* store_record_put() within budget (borrowed; NULL: none): KITH_EQUOTA
 * when refused for it, the head passed over committed all the same. */
int store_record_put_budget(struct store *s, const uint8_t *buf, size_t len, uint64_t now,
                            const struct store_budget *budget, enum store_put_result *result);

/* One record of a batch. */
struct store_item {
	const uint8_t *buf; /* borrowed */
	size_t len;
	const struct store_budget *budget; /* borrowed; NULL: none */
	int err;                           /* out: 0 or why this record was refused */
	enum store_put_result result;      /* out: when err == 0 */
};

/* Verifies and stores n records in one transaction: every record is
 * verified first, then one write transaction stores those that passed. A
 * record that fails verification (or is refused with -EEXIST or
 * KITH_EQUOTA as above) only sets its own err; the return value is 0 or an
 * error of the store itself, in which case nothing of the batch is stored
 * and the items' err and result mean nothing. */
int store_records_put(struct store *s, struct store_item *items, size_t n, uint64_t now);

/* store_records_put() for records whose signatures the caller has just
 * checked (proto_record_verify() returned 0 for each): they are decoded
 * and time-checked again, not verified twice. Gossip checks signatures
 * itself to know where a block of records ends. */
int store_records_put_verified(struct store *s, struct store_item *items, size_t n, uint64_t now);

/* What author's current records cost (0 and 0 for an author with none). */
int store_author_usage(struct store *s, const uint8_t author[PROTO_KEY_LEN], uint64_t *records,
                       uint64_t *bytes);
/* Called once per author that has current records. */
typedef int (*store_author_fn)(void *arg, const uint8_t author[PROTO_KEY_LEN], uint64_t records,
                               uint64_t bytes);
/* Walks authors in author order; a non-zero return from fn stops the walk
 * and is returned. fn may read the store, not write (-EBUSY). */
int store_authors_each(struct store *s, store_author_fn fn, void *arg);

/* Removes up to max current records that expired before before (expires <
 * before), oldest expiry first, in one synced transaction, but never those
 * of STORE_KINDS_KEPT; heads stay, so
 * a pruned record is never fetched again. *removed (may be NULL) counts
 * them; *more (may be NULL) says whether more are due. Meant to be called
 * often with a small max, so that no call holds the caller long. LMDB
 * reuses the pages a commit frees from the second write after it on. */
int store_records_prune(struct store *s, uint64_t before, size_t max, uint64_t *removed,
                        bool *more);

/* Removes up to max current records of author (an ejected member), in
 * publication order, in one synced transaction, but keeps those whose kind
 * k is below 32 with bit (1u << k) set in keep_kinds; kept records stay
 * counted in authors. *removed (may be NULL) counts the removed; *more
 * (may be NULL) says whether records to remove are left. When none is
 * left the author's heads entry goes too, so that were the key ever a
 * member again anti-entropy would fetch its records from the start, and
 * its authors entry is recounted from what is kept, so a drop that
 * finishes in one call (max SIZE_MAX) repairs a damaged entry. */
int store_author_drop(struct store *s, const uint8_t author[PROTO_KEY_LEN], uint32_t keep_kinds,
                      size_t max, uint64_t *removed, bool *more);

/* Copies the current record for (author, kind, name) into a malloc()ed
 * buffer: on success the caller owns *buf. Returns 0 or -ENOENT. */
int store_record_get(struct store *s, const uint8_t author[PROTO_KEY_LEN], uint8_t kind,
                     const char *name, uint8_t **buf, size_t *len);

/* Called once per record; buf is valid only during the call. A non-zero
 * return stops the walk and is returned by the walking function. The
 * callback may read the store (it sees the walk's snapshot) but not write
 * to it: writes return -EBUSY until the walk is over. */
typedef int (*store_record_fn)(void *arg, const uint8_t *buf, size_t len);

/* Calls fn for each current record of author with seq > after, in seq order. */
int store_records_since(struct store *s, const uint8_t author[PROTO_KEY_LEN], uint64_t after,
                        store_record_fn fn, void *arg);
/* Calls fn for every current record, ordered by (author, kind, name). */
int store_records_each(struct store *s, store_record_fn fn, void *arg);
/* Calls fn for author's current records of kind, by name: a range of the
 * records database, whatever else the store holds. */
int store_records_of_kind(struct store *s, const uint8_t author[PROTO_KEY_LEN], uint8_t kind,
                          store_record_fn fn, void *arg);

/* Called once per author with the highest seq stored for it. */
typedef int (*store_head_fn)(void *arg, const uint8_t author[PROTO_KEY_LEN], uint64_t seq);
/* Walks the heads digest in author order. */
int store_heads_each(struct store *s, store_head_fn fn, void *arg);
/* *seq = highest seq stored for author, 0 if none. */
int store_head_get(struct store *s, const uint8_t author[PROTO_KEY_LEN], uint64_t *seq);
/* A number that changes whenever anything is committed to the store, by
 * this process or another (LMDB's last transaction ID): a cache of what
 * the store holds is valid while it stays the same. 0 when it cannot be
 * read: cache nothing. */
uint64_t store_generation(struct store *s);

/* Reserves n (>= 1) consecutive seqs of the agent's own counter; *first
 * receives the first (the first ever is 1). The counter is committed to disk before this returns,
 * so a seq is never handed out twice, even across a crash. */
int store_seq_reserve(struct store *s, uint64_t n, uint64_t *first);

/* The general form: reserves n consecutive values of the durable counter
 * name (a short ASCII name, e.g. "incarnation"; "seq" is the own seq
 * counter), starting above both its last value and floor. *first receives
 * the first. Committed to disk before it returns. */
int store_counter_next(struct store *s, const char *name, uint64_t n, uint64_t floor,
                       uint64_t *first);

/* ---- local state: never replicated ----
 *
 * Every change below is one synced write transaction: when 0 is returned
 * it is on disk. A value read back that is short or does not add up ends
 * in -EIO. The walks' callbacks may read the store but not write to it
 * (-EBUSY), as for store_records_each(). */

/* The network's founder: ourselves after kith init, the inviter's founder
 * after joining. -ENOENT when unset. */
int store_founder_get(struct store *s, uint8_t founder[PROTO_KEY_LEN]);
int store_founder_set(struct store *s, const uint8_t founder[PROTO_KEY_LEN]);

#define STORE_INVITE_ID_LEN 16     /* PROTO_TOKEN_ID_LEN */
#define STORE_INVITE_SECRET_LEN 32 /* PROTO_TOKEN_SECRET_LEN */

/* An invitation we issued, keyed by its ID (a hash of its secret). The
 * secret is kept too: a joiner's proof is a MAC keyed with it
 * (proto_join_proof()), which only the secret can check. It lives in the
 * 0700 store directory; whoever copies a struct store_invite wipes the
 * copy when done (sodium_memzero()). */
struct store_invite {
	uint8_t id[STORE_INVITE_ID_LEN];
	uint64_t created;   /* Unix seconds */
	uint64_t expires;   /* Unix seconds */
	uint32_t uses_left; /* 0: used up */
	uint8_t secret[STORE_INVITE_SECRET_LEN];
	uint32_t n_scopes;
	char scopes[PROTO_SCOPES_MAX][PROTO_SCOPE_MAX + 1]; /* as offered, canonical text */
};

/* Stores a new invitation (-EEXIST if its id is taken). KITH_EVALUE for
 * uses_left 0, expires before created or an empty scope; KITH_ETOOBIG for
 * more than PROTO_SCOPES_MAX scopes or one longer than PROTO_SCOPE_MAX
 * (each must be NUL-terminated within its array). */
int store_invite_put(struct store *s, const struct store_invite *inv);
/* Reads invitation id into *out; -ENOENT when unknown. */
int store_invite_get(struct store *s, const uint8_t id[STORE_INVITE_ID_LEN],
                     struct store_invite *out);
/* Takes one use of invitation id at time now, durably, and returns it as
 * it was before in *out. -ENOENT unknown, KITH_EUSED no use left,
 * KITH_EEXPIRED past its expiry (expires < now; checked in that order);
 * nothing changes then, and *out still shows the invitation (zeroed for
 * -ENOENT). A used-up invitation stays until it expires and is pruned, so
 * a second use says KITH_EUSED. */
int store_invite_use(struct store *s, const uint8_t id[STORE_INVITE_ID_LEN], uint64_t now,
                     struct store_invite *out);
/* Calls fn for every invitation, in id order (inv valid during the call
 * only); a non-zero return from fn stops the walk and is returned. */
int store_invites_each(struct store *s, int (*fn)(void *arg, const struct store_invite *inv),
                       void *arg);
/* Removes invitations expired before now (expires < now); *removed (may
 * be NULL) counts. */
int store_invites_prune(struct store *s, uint64_t now, uint64_t *removed);

/* Shards partners keep with us, accounted per owner (the peer whose grant
 * allows them): as LMDB values (store_shard_*, kith shard) or as files
 * indexed here (store_hold*, below). One usage per owner counts both, so
 * one quota and one count cover both. Names are 1..STORE_SHARD_NAME_MAX
 * bytes: every function refuses an empty name with KITH_EVALUE and a
 * longer one with KITH_ETOOBIG. A shard may be empty (data NULL, len 0):
 * it counts. An owner's bytes are what its shards and holds cost: for
 * each, its length + its name's length + STORE_SHARD_OVERHEAD (the
 * entries it takes), so many tiny shards cost what they occupy. */
#define STORE_SHARD_NAME_MAX 128
#define STORE_SHARD_OVERHEAD 64

/* Stores (or replaces) owner's shard name if the owner's bytes after the
 * change (used - the old shard's cost + the new one's) stay within quota
 * (KITH_EQUOTA otherwise) and, for a new shard, if owner has fewer than
 * max_shards shards and holds (KITH_ETOOMANY otherwise; a replacement is
 * never refused for the count); -EEXIST when name is one of owner's holds;
 * nothing changes when refused. data is borrowed. *used
 * (may be NULL) receives the owner's bytes after the call (on 0, on
 * KITH_EQUOTA and on KITH_ETOOMANY). */
int store_shard_put(struct store *s, const uint8_t owner[PROTO_KEY_LEN], const char *name,
                    const uint8_t *data, size_t len, uint64_t quota, uint64_t max_shards,
                    uint64_t *used);
/* Copies the shard into a malloc()ed buffer the caller owns; -ENOENT. */
int store_shard_get(struct store *s, const uint8_t owner[PROTO_KEY_LEN], const char *name,
                    uint8_t **data, size_t *len);
/* Removes it; -ENOENT when absent. *used as for put. */
int store_shard_del(struct store *s, const uint8_t owner[PROTO_KEY_LEN], const char *name,
                    uint64_t *used);
/* What owner's shards and holds cost, and how many it keeps with us (0
 * and 0 for an owner with none): its usage entry. */
int store_shard_usage(struct store *s, const uint8_t owner[PROTO_KEY_LEN], uint64_t *bytes,
                      uint64_t *count);
/* Removes every shard and every hold of owner (kith shard drop: its grant
 * was revoked and the admin asked to drop them); *freed (may be NULL)
 * receives the cost freed. It counts the entries themselves and removes
 * owner's usage entry without reading it, so it is also how an owner
 * whose usage was found damaged (-EIO) is repaired, and the only way
 * then (a damaged holds value is removed too, its cost unknown). The
 * files of the holds are the caller's: remove DATA/shards/<owner hex>
 * (or walk store_holds_each() first); files the index no longer names
 * are what the agent's check at start removes. */
int store_shards_drop(struct store *s, const uint8_t owner[PROTO_KEY_LEN], uint64_t *freed);

/* ---- holds: the index of the shards kept as files ----
 *
 * The bytes are files (agent/backup/shardfile.h); each has an entry here,
 * made before any byte flows: a put reserves its whole cost in usage
 * (RESERVED), the file's commit turns it KEPT with its content hash, and
 * an abort, a deletion or the end of a grace period releases it. A
 * RESERVED entry found at start is a put a crash cut short:
 * store_holds_drop_reserved() releases them all, so usage is exact after
 * kill -9 at any moment. Names are as for shards (the agent checks their
 * characters with shardfile_name_ok(); here only the length), and a name
 * is a shard or a hold of its owner, never both. A hold costs its size +
 * its name's length + STORE_SHARD_OVERHEAD, as a shard of that size.
 * Every change is one synced write transaction; -EIO as for shards when
 * an owner's usage cannot count what is taken out of it, or an entry does
 * not decode. */
#define STORE_HOLD_HASH_LEN 32 /* SHARDFILE_HASH_LEN: BLAKE2b-256 of the bytes */
/* The largest size a hold may have, so that costs never overflow. */
#define STORE_HOLD_SIZE_MAX (UINT64_MAX / 2)

enum store_hold_state {
	STORE_HOLD_RESERVED = 1, /* quota taken, bytes on their way */
	STORE_HOLD_KEPT = 2,     /* the file is durable under its name */
};

struct store_hold {
	enum store_hold_state state;
	uint64_t size;                     /* bytes of the file */
	uint8_t hash[STORE_HOLD_HASH_LEN]; /* all zero while RESERVED */
	uint64_t created;                  /* Unix seconds, when reserved */
	uint64_t grace_until;              /* Unix seconds; 0: not in a grace period */
};

/* Reserves owner's hold name of size bytes at time now: adds a RESERVED
 * entry and its cost to owner's usage if the usage after stays within
 * quota (KITH_EQUOTA otherwise) and owner has fewer than max_count shards
 * and holds (KITH_ETOOMANY otherwise; UINT64_MAX: no limit, as for
 * store_shard_put()). -EEXIST when owner already has a shard or a hold of
 * that name (whatever its state), KITH_ETOOBIG for a size over
 * STORE_HOLD_SIZE_MAX; nothing changes when refused. *used (may be NULL)
 * receives the owner's bytes after the call (on 0, KITH_EQUOTA and
 * KITH_ETOOMANY). */
int store_hold_reserve(struct store *s, const uint8_t owner[PROTO_KEY_LEN], const char *name,
                       uint64_t size, uint64_t quota, uint64_t max_count, uint64_t now,
                       uint64_t *used);
/* RESERVED -> KEPT with the file's content hash (borrowed): called once
 * the file is durable (shardfile_commit()'s callback). -ENOENT when there
 * is no such hold, KITH_EVALUE when it is not RESERVED. Usage does not
 * change. */
int store_hold_commit(struct store *s, const uint8_t owner[PROTO_KEY_LEN], const char *name,
                      const uint8_t hash[STORE_HOLD_HASH_LEN]);
/* Removes the hold whatever its state (a put aborted, a deletion, the end
 * of a grace period) and takes its cost off owner's usage; -ENOENT when
 * absent. *used (may be NULL) receives the owner's bytes after it (on
 * 0). The file is the caller's to remove. */
int store_hold_release(struct store *s, const uint8_t owner[PROTO_KEY_LEN], const char *name,
                       uint64_t *used);
/* Reads the hold into *out; -ENOENT. */
int store_hold_get(struct store *s, const uint8_t owner[PROTO_KEY_LEN], const char *name,
                   struct store_hold *out);

/* Called once per hold; owner, name and h are valid during the call only.
 * A non-zero return stops the walk and is returned. The callback may read
 * the store, not write (-EBUSY): collect, then release. */
typedef int (*store_hold_fn)(void *arg, const uint8_t owner[PROTO_KEY_LEN], const char *name,
                             const struct store_hold *h);
/* Calls fn for every hold of owner (NULL: of every owner), in key order
 * (owner, then name bytes), read-only. */
int store_holds_each(struct store *s, const uint8_t owner[PROTO_KEY_LEN], store_hold_fn fn,
                     void *arg);

/* Sets grace_until to until on every hold of owner (its grant was revoked
 * or expired: they stay, read-only, until then; the agent refuses new
 * puts itself). RESERVED holds are marked too, so that a put still in
 * flight commits into the grace period rather than out of it. until 0
 * ends the grace period (a new grant came). *marked (may be NULL) counts
 * the holds changed. */
int store_hold_grace(struct store *s, const uint8_t owner[PROTO_KEY_LEN], uint64_t until,
                     uint64_t *marked);
/* Calls fn, as store_holds_each(), for every hold whose grace period
 * ended before now (0 < grace_until < now), whatever its owner: what to
 * delete (shardfile_remove(), then store_hold_release()). A walk of every
 * hold: meant for a timer of minutes, not per message. */
int store_holds_expired(struct store *s, uint64_t now, store_hold_fn fn, void *arg);

/* Releases every RESERVED hold, of every owner, in one transaction: at the
 * agent's start, when they can only be puts a crash cut short (call it
 * with shardfile_dir_open(), which removes their temporary files).
 * *released (may be NULL) counts them. -EIO when an owner's usage cannot
 * count them: nothing changes then (store_shards_drop() repairs the
 * owner). */
int store_holds_drop_reserved(struct store *s, uint64_t *released);

/* ---- verdict history: local state, never replicated ----
 *
 * The transitions of each service's quorum verdict as this agent computed
 * them, so that a status page can draw the last 90 days after a restart.
 * A series is one (owner, service); it holds the times its verdict
 * changed, each with the verdict from then on, and nothing for the time
 * between. The state before a series' first transition is unknown.
 *
 * Verdicts are bytes 0..STORE_VERDICT_MAX, the values of enum verdict
 * (agent/monitor/verdict.h: unknown, up, degraded, down); the store knows
 * no more of them. Service names are checked with proto_service_name_ok()
 * (KITH_EVALUE otherwise). A series keeps at most STORE_VERDICT_SERIES_MAX
 * transitions: a flapping service costs a bounded size, its oldest
 * transitions going first. An entry read back with a value that is not
 * one verdict byte, or a key that is not a series' key, is damage: readers
 * skip it and return -EIO once done; prune and drop remove it. */
#define STORE_VERDICT_MAX 3
#define STORE_VERDICT_SERIES_MAX 2048

/* One transition: the verdict from at (Unix seconds) on. */
struct store_verdict {
	uint64_t at;
	uint8_t verdict;
};

/* Records that owner's service has verdict from at on, in one synced
 * write. A no-op (*changed false) when it is the series' last verdict
 * (unknown for an empty series). A time not after the last transition's
 * (a clock stepped back, or two changes within one second) is clamped to
 * one second after it, not refused: refusing would leave the series
 * saying the old verdict until the next change, while clamping keeps the
 * current state right and only misplaces this change by as much as the
 * clock went back; keys stay unique and in time order. KITH_EVALUE for a
 * bad name or verdict, or when the last transition is at UINT64_MAX.
 * When the series then holds more than STORE_VERDICT_SERIES_MAX
 * transitions the oldest go in the same write. *changed may be NULL. */
int store_verdict_append(struct store *s, const uint8_t owner[PROTO_KEY_LEN], const char *service,
                         uint64_t at, uint8_t verdict, bool *changed);

/* Called once per transition, in time order; v is valid during the call
 * only. A non-zero return stops the walk and is returned. The callback may
 * read the store, not write (-EBUSY). */
typedef int (*store_verdict_fn)(void *arg, const struct store_verdict *v);
/* Calls fn for the transition that gives the state at from (the last one
 * at or before from; none when the series starts later, the state then
 * being unknown) and for every later one, read-only. Damaged entries are
 * skipped: fn sees only good ones, and -EIO is returned after the walk
 * (what fn received is still in order and right). KITH_EVALUE for a bad
 * name; an unknown series is an empty walk. */
int store_verdicts_since(struct store *s, const uint8_t owner[PROTO_KEY_LEN], const char *service,
                         uint64_t from, store_verdict_fn fn, void *arg);
/* store_verdicts_since() into out[0..max) (borrowed); *n receives how
 * many were written. KITH_ETOOBIG when more than max were due (out then
 * holds the first max); -EIO as above, with out filled. max >=
 * STORE_VERDICT_SERIES_MAX is always enough. */
int store_verdicts_read(struct store *s, const uint8_t owner[PROTO_KEY_LEN], const char *service,
                        uint64_t from, struct store_verdict *out, size_t max, size_t *n);

/* Removes from every series the transitions that say nothing about the
 * time from before on: each one followed by another at or before before
 * (the last transition at or before before stays: it gives the state at
 * before), and every damaged entry whatever its time: up to max entries,
 * in one synced transaction. *removed (may be NULL) counts them; *more
 * (may be NULL) says whether more are due. Every call reads the keys of
 * the whole database (only keys: cheap, but meant for a timer of hours,
 * with a max that keeps each write short). */
int store_verdicts_prune(struct store *s, uint64_t before, size_t max, uint64_t *removed,
                         bool *more);
/* Removes one series (a service its owner removed); *removed (may be
 * NULL) counts its entries. 0 for an unknown series. */
int store_verdict_drop(struct store *s, const uint8_t owner[PROTO_KEY_LEN], const char *service,
                       uint64_t *removed);
/* Removes up to max entries of every series of owner (a member removed),
 * in key order, in one synced transaction; *removed and *more (may be
 * NULL) as for prune. */
int store_verdicts_drop(struct store *s, const uint8_t owner[PROTO_KEY_LEN], size_t max,
                        uint64_t *removed, bool *more);

/* Number of current records. */
int store_record_count(struct store *s, uint64_t *count);

/* How full the store is, without a walk. */
struct store_stats {
	uint64_t
	    used_bytes;     /* pages of our databases (branch, leaf, overflow) and the meta pages */
	uint64_t map_bytes; /* the map now */
	uint64_t map_max;   /* what it may grow to (adding writes stop a reserve short) */
	uint64_t map_adds;  /* where adding writes stop: map_max less the reserve */
	uint64_t records;   /* current records */
	uint64_t authors;   /* authors with current records */
};
/* Fills *out; used_bytes / map_max is how near the store is to full. */
int store_stats_get(struct store *s, struct store_stats *out);

/* LMDB's message for the last LMDB failure of s (a static string), or NULL
 * if there was none: the detail behind a mapped error code, for the
 * caller's log. */
const char *store_lmdb_error(const struct store *s);

#endif
