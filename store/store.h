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
#define STORE_SCHEMA_VERSION 1
#define STORE_MAP_SIZE_DEFAULT ((size_t)1 << 32) /* 4 GiB, sparse */

struct store;

struct store_options {
	size_t map_size; /* 0: STORE_MAP_SIZE_DEFAULT */
};

/* Opens (creating if needed) the store under data_dir/STORE_DIR. data_dir
 * and opt (NULL for defaults) are borrowed. On success *out is owned by the
 * caller: close it with store_close(). Returns 0, -errno, KITH_ESCHEMA
 * (created by another schema version) or another negative code. */
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

/* Number of current records. */
int store_record_count(struct store *s, uint64_t *count);

/* LMDB's message for the last LMDB failure of s (a static string), or NULL
 * if there was none: the detail behind a mapped error code, for the
 * caller's log. */
const char *store_lmdb_error(const struct store *s);

#endif
