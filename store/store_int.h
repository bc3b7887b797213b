/* Internals shared by the store's source files; not part of the API.
 *
 * store.c opens the environment, sizes and grows the map, and owns the
 * transaction helpers, the LMDB error mapping and the statistics;
 * store_schema.c creates, checks and upgrades the databases; store_put.c
 * writes records; store_author.c keeps what each author's records cost;
 * store_prune.c removes records; store_read.c reads them and keeps the
 * counters; store_local.c keeps the founder and the invitations;
 * store_shard.c keeps partners' shards and their usage; store_hold.c keeps
 * the index of the shards partners keep with us as files, in the same
 * usage; store_verdict.c keeps the history of services' verdicts. */
#ifndef KITH_STORE_STORE_INT_H
#define KITH_STORE_STORE_INT_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lmdb.h>

#include "store.h"

/* records key: author || kind || name (no NUL). */
#define STORE_RECORD_KEY_MAX (PROTO_KEY_LEN + 1 + PROTO_NAME_MAX)
/* byseq key: author || seq BE. */
#define STORE_SEQ_KEY_LEN (PROTO_KEY_LEN + 8)
/* records value: seq BE || encoded record. */
#define STORE_VALUE_SEQ_LEN 8
/* expiry key: expires BE || author || seq BE. */
#define STORE_EXPIRY_KEY_LEN (8 + PROTO_KEY_LEN + 8)

struct store {
	MDB_env *env;
	MDB_dbi main; /* LMDB's own, which holds the named ones: for the statistics */
	MDB_dbi meta;
	MDB_dbi records;
	MDB_dbi byseq;
	MDB_dbi heads;
	MDB_dbi authors; /* store_author.c */
	MDB_dbi expiry;  /* store_prune.c */
	MDB_dbi invites; /* store_local.c */
	MDB_dbi shards;  /* store_shard.c, with usage */
	MDB_dbi usage;
	MDB_dbi holds;    /* store_hold.c */
	MDB_dbi verdicts; /* store_verdict.c */
	/* One read transaction handle, reset between reads and renewed for
	 * the next: renewing is much cheaper than beginning. */
	MDB_txn *rtxn;
	/* Reads started while a walk's callback runs share the walk's
	 * snapshot instead of opening a second transaction in this thread. */
	unsigned read_depth;
	int lmdb_err;       /* the last LMDB failure, for store_lmdb_error() */
	size_t map_max;     /* what writes that may use the reserve grow the map to */
	size_t map_adds;    /* what adding writes grow it to: map_max less the reserve */
	char dir[PATH_MAX]; /* the environment's directory, to tell a full disk */
	bool read_only;     /* opened with MDB_RDONLY: writes are -EROFS */
};

/* Maps an LMDB return code to 0, -errno or a KITH_E* code, and remembers a
 * failure for store_lmdb_error(). */
int store_mdb_error(struct store *s, int rc);

/* Read transactions nest: every successful store_read_begin() is matched
 * by one store_read_end(). */
int store_read_begin(struct store *s, MDB_txn **txn);
void store_read_end(struct store *s);

/* A read walk's visitor: 0 goes on, anything else stops the walk and is
 * its result. k and v are valid during the call only. */
typedef int (*store_visit_fn)(void *arg, MDB_txn *txn, const MDB_val *k, const MDB_val *v);
/* Visits the entries of dbi in key order, in one read snapshot: every one
 * when from is NULL, else from key *from on, and while prefix_len is not 0
 * only those whose key starts with the first prefix_len bytes of *from (a
 * shorter key is damage: -EIO). Returns 0, the visitor's result or a store
 * error. */
int store_walk(struct store *s, MDB_dbi dbi, const MDB_val *from, size_t prefix_len,
               store_visit_fn visit, void *arg);

/* The whole of one write: fn makes every change in txn and returns 0 to
 * commit or a negative code to abort (that code is returned). fn may run
 * more than once: when the map is full the transaction is aborted, the map
 * grows and fn runs again in a new one, so fn starts from its inputs every
 * time and sets each of its outputs in arg. fn returns store_mdb_error()'s
 * codes for LMDB failures (KITH_ENOSPACE is how a full map is seen). */
typedef int (*store_write_fn)(struct store *s, MDB_txn *txn, void *arg);
enum store_write_kind {
	STORE_WRITE_ADD,     /* adds data: stops short of the reserve */
	STORE_WRITE_RESERVE, /* removes data or rewrites in place: may use the reserve */
};
/* Runs fn in a synced write transaction; -EBUSY inside a walk (LMDB allows
 * one transaction per thread). Returns 0, fn's code or a store error:
 * KITH_ENOSPACE once the map cannot grow further for this kind of write. */
int store_write(struct store *s, enum store_write_kind kind, store_write_fn fn, void *arg);

/* Opens, creates or upgrades the databases in txn (store_schema.c);
 * *created says whether the environment was new. */
int store_schema_open(struct store *s, MDB_txn *txn, bool *created);
/* The same for a store opened read-only (txn: a read transaction): the
 * databases of this schema version, or KITH_ESCHEMA for any other. */
int store_schema_open_ro(struct store *s, MDB_txn *txn);

void store_be64_put(uint8_t out[8], uint64_t v);
uint64_t store_be64_get(const uint8_t in[8]);

/* Writes the records key of (author, kind, name) into key, which holds
 * STORE_RECORD_KEY_MAX bytes, and returns its length. name_len must be at
 * most PROTO_NAME_MAX. */
size_t store_record_key(uint8_t *key, const uint8_t author[PROTO_KEY_LEN], uint8_t kind,
                        const char *name, size_t name_len);
/* Writes the byseq key of (author, seq). */
void store_seq_key(uint8_t key[STORE_SEQ_KEY_LEN], const uint8_t author[PROTO_KEY_LEN],
                   uint64_t seq);
/* Writes the expiry key of (expires, author, seq). */
void store_expiry_key(uint8_t key[STORE_EXPIRY_KEY_LEN], uint64_t expires,
                      const uint8_t author[PROTO_KEY_LEN], uint64_t seq);

/* ---- what records cost (store_author.c) ---- */

/* Records and bytes, of an author's authors entry or of a change to it. */
struct store_cost {
	uint64_t records;
	uint64_t bytes;
};

/* The cost of one record of encoded length len whose name is name_len
 * bytes long. */
uint64_t store_record_cost(size_t len, size_t name_len);
/* The expiry of a stored records value v (seq || record), decoded without
 * a signature check; -EIO when it does not decode. */
int store_value_expires(const MDB_val *v, uint64_t *expires);
/* author's entry within txn: zero when it has none; -EIO when it is short
 * or counts bytes without a record. */
int store_author_read(struct store *s, MDB_txn *txn, const uint8_t author[PROTO_KEY_LEN],
                      struct store_cost *c);
/* Writes author's entry; one of zero records is removed. */
int store_author_write(struct store *s, MDB_txn *txn, const uint8_t author[PROTO_KEY_LEN],
                       const struct store_cost *c);
/* Takes the cost of records that left out of *c: -EIO when *c cannot have
 * counted them. */
int store_cost_take(struct store_cost *c, const struct store_cost *gone);
/* Adds the expiry entry of (expires, author, seq). */
int store_expiry_put(struct store *s, MDB_txn *txn, uint8_t kind, uint64_t expires,
                     const uint8_t author[PROTO_KEY_LEN], uint64_t seq);
/* Is a record of kind pruned when it expires (not in STORE_KINDS_KEPT)? */
bool store_kind_expires(uint8_t kind);

/* Raises the author's head to seq if it is lower (store_put.c). */
int store_head_raise(struct store *s, MDB_txn *txn, const uint8_t author[PROTO_KEY_LEN],
                     uint64_t seq);

/* Counts and indexes every stored record into authors and expiry, which
 * must be empty: the schema upgrade (store_author.c). */
int store_authors_rebuild(struct store *s, MDB_txn *txn);
/* Recounts every owner's usage from its shards (store_shard.c): the
 * upgrade to version 3, before holds existed. */
int store_usage_rebuild(struct store *s, MDB_txn *txn);

/* ---- what owners' shards and holds cost (store_shard.c) ---- */

/* shards and holds key: owner || name (no NUL). */
#define STORE_SHARD_KEY_MAX (PROTO_KEY_LEN + STORE_SHARD_NAME_MAX)

/* An owner's usage entry, or a change to it. */
struct store_usage {
	uint64_t bytes;
	uint64_t count;
};

/* Checks name (KITH_EVALUE empty, KITH_ETOOBIG too long) and writes the
 * shards and holds key of (owner, name) into key; k points into key. */
int store_shard_key(uint8_t key[STORE_SHARD_KEY_MAX], MDB_val *k,
                    const uint8_t owner[PROTO_KEY_LEN], const char *name);
/* The cost in usage of a shard or hold of size bytes named by a key of
 * length klen (size is at most STORE_HOLD_SIZE_MAX: it cannot overflow). */
uint64_t store_shard_cost(uint64_t size, size_t klen);
/* Owner's usage within txn: zero when it has none; -EIO when the entry is
 * short, or counts bytes without an entry. */
int store_usage_read(struct store *s, MDB_txn *txn, const uint8_t owner[PROTO_KEY_LEN],
                     struct store_usage *u);
/* Writes owner's usage; one of count 0 is removed. */
int store_usage_write(struct store *s, MDB_txn *txn, const uint8_t owner[PROTO_KEY_LEN],
                      const struct store_usage *u);
/* Takes n entries costing bytes out of *u: -EIO when *u cannot have
 * counted them. */
int store_usage_take(struct store_usage *u, uint64_t n, uint64_t bytes);
/* Whether the shards entry k exists (*found). */
int store_shard_exists(struct store *s, MDB_txn *txn, const MDB_val *k, bool *found);

/* Whether the holds entry k exists (*found) (store_hold.c). */
int store_hold_exists(struct store *s, MDB_txn *txn, const MDB_val *k, bool *found);
/* Deletes every holds entry of owner; adds their cost to *freed (a damaged
 * entry is deleted, its cost unknown). */
int store_holds_delete(struct store *s, MDB_txn *txn, const uint8_t owner[PROTO_KEY_LEN],
                       uint64_t *freed);

#endif
