/* The durable state of one agent: an LMDB environment in DATA/store/.
 *
 * Named databases:
 *   meta     "schema" -> version (4 bytes BE), "seq" -> the last seq of the
 *            agent's own counter handed out (8 bytes BE, 0 at creation)
 *   records  (author, kind, name) -> seq (8 bytes BE) || encoded record;
 *            the highest seq wins
 *   byseq    (author, seq BE) -> (kind, name): the current records of an
 *            author in publication order, for "what did A publish after s"
 *   heads    author -> highest seq stored: the heads digest
 *   invites  invitation id -> created, expires, uses left, secret, scopes
 *   shards   (owner, name) -> the shard's bytes
 *   usage    owner -> bytes (8 BE) || count (8 BE) of its shards, changed in
 *            the transaction of every shard change, so always exact
 * meta also holds "founder" -> 32 bytes and the named counters.
 *
 * Every record is decoded, signature-checked and time-checked (proto) before
 * it is written. A record whose seq is not higher than the stored one for
 * its (author, kind, name) is a no-op, not an error.
 *
 * A struct store is used from one thread; a process opens a given store
 * once (LMDB's rule) and does not fork with it open. Other processes may
 * open it at the same time. No network, no policy: which authors are
 * members is the agent's business.
 *
 * Errors: LMDB's own codes are mapped to KITH_ENOSPACE (map full),
 * KITH_ESCHEMA (a file this version cannot read), -EIO (corruption, or a
 * damaged value found while reading) or another -errno; the LMDB message of
 * the last failure is kept for store_lmdb_error(). */
#ifndef KITH_STORE_STORE_H
#define KITH_STORE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "../proto/limits.h"

#define STORE_DIR "store"
/* 2 since issue 4 added invites, shards and usage; a version-1 store is
 * upgraded in place, in one transaction, by store_open(). */
#define STORE_SCHEMA_VERSION 2
#define STORE_MAP_SIZE_DEFAULT ((size_t)1 << 32) /* 4 GiB, sparse */

struct store;

struct store_options {
	size_t map_size; /* 0: STORE_MAP_SIZE_DEFAULT */
};

/* Opens (creating if needed) the store under data_dir/STORE_DIR. data_dir
 * and opt (NULL for defaults) are borrowed. On success *out is owned by the
 * caller: close it with store_close(). A store of schema version 1 gets
 * the databases of version 2 and becomes version 2 (a process built for
 * version 1 then refuses it). Returns 0, -errno, KITH_ESCHEMA (another
 * schema version, or not a kith store: the file is left as it was) or
 * another negative code. */
int store_open(struct store **out, const char *data_dir, const struct store_options *opt);
/* Closes *s and sets it to NULL; harmless on NULL. */
void store_close(struct store **s);

enum store_put_result {
	STORE_PUT_NEW = 1,      /* first record for its (author, kind, name) */
	STORE_PUT_REPLACED = 2, /* replaced a record with a lower seq */
	STORE_PUT_STALE = 3,    /* seq not higher than the stored one: nothing done */
};

/* Verifies the encoded record buf (borrowed) at time now and stores it.
 * *result (may be NULL) says what happened. Returns 0 or the decode,
 * signature or time error (nothing stored), -EEXIST when its author already
 * has a different current record with the same seq (nothing stored: the
 * first one keeps the seq), or a store error. When 0 is returned the record
 * is on disk (the commit is synced). */
int store_record_put(struct store *s, const uint8_t *buf, size_t len, uint64_t now,
                     enum store_put_result *result);

/* One record of a batch. */
struct store_item {
	const uint8_t *buf; /* borrowed */
	size_t len;
	int err;                      /* out: 0 or why this record was refused */
	enum store_put_result result; /* out: when err == 0 */
};

/* Verifies and stores n records in one transaction: every record is
 * verified first, then one write transaction stores those that passed. A
 * record that fails verification (or is refused with -EEXIST as above)
 * only sets its own err; the return value is 0 or an error of the store
 * itself, in which case nothing of the batch is stored. */
int store_records_put(struct store *s, struct store_item *items, size_t n, uint64_t now);

/* store_records_put() for records whose signatures the caller has just
 * checked (proto_record_verify() returned 0 for each): they are decoded
 * and time-checked again, not verified twice. Gossip checks signatures
 * itself to know where a block of records ends. */
int store_records_put_verified(struct store *s, struct store_item *items, size_t n, uint64_t now);

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

/* Called once per author with the highest seq stored for it. */
typedef int (*store_head_fn)(void *arg, const uint8_t author[PROTO_KEY_LEN], uint64_t seq);
/* Walks the heads digest in author order. */
int store_heads_each(struct store *s, store_head_fn fn, void *arg);
/* *seq = highest seq stored for author, 0 if none. */
int store_head_get(struct store *s, const uint8_t author[PROTO_KEY_LEN], uint64_t *seq);

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
 * allows them). Names are 1..STORE_SHARD_NAME_MAX bytes: every function
 * refuses an empty name with KITH_EVALUE and a longer one with
 * KITH_ETOOBIG. A shard may be empty (data NULL, len 0): it counts. */
#define STORE_SHARD_NAME_MAX 128

/* Stores (or replaces) owner's shard name if the owner's bytes after the
 * change (used - old size + len) stay within quota: KITH_EQUOTA otherwise,
 * and nothing changes. data is borrowed. *used (may be NULL) receives the
 * owner's bytes after the call (on 0 and on KITH_EQUOTA). */
int store_shard_put(struct store *s, const uint8_t owner[PROTO_KEY_LEN], const char *name,
                    const uint8_t *data, size_t len, uint64_t quota, uint64_t *used);
/* Copies the shard into a malloc()ed buffer the caller owns; -ENOENT. */
int store_shard_get(struct store *s, const uint8_t owner[PROTO_KEY_LEN], const char *name,
                    uint8_t **data, size_t *len);
/* Removes it; -ENOENT when absent. *used as for put. */
int store_shard_del(struct store *s, const uint8_t owner[PROTO_KEY_LEN], const char *name,
                    uint64_t *used);
/* Bytes and shards owner keeps with us (0 and 0 for an owner with none). */
int store_shard_usage(struct store *s, const uint8_t owner[PROTO_KEY_LEN], uint64_t *bytes,
                      uint64_t *count);
/* Removes every shard of owner (its grant was revoked and the admin asked
 * to drop them); *freed (may be NULL) receives the bytes freed. It counts
 * the shards themselves and removes owner's usage entry without reading
 * it, so it is also how an owner whose usage was found damaged (-EIO) is
 * repaired. */
int store_shards_drop(struct store *s, const uint8_t owner[PROTO_KEY_LEN], uint64_t *freed);

/* Number of current records. */
int store_record_count(struct store *s, uint64_t *count);

/* LMDB's message for the last LMDB failure of s (a static string), or NULL
 * if there was none: the detail behind a mapped error code, for the
 * caller's log. */
const char *store_lmdb_error(const struct store *s);

#endif
