/* Internals shared by the store's source files; not part of the API.
 *
 * store.c opens the environment and owns the transaction helpers and the
 * LMDB error mapping; store_put.c writes records; store_read.c reads them
 * and keeps the own seq counter; store_local.c keeps the founder and the
 * invitations; store_shard.c keeps partners' shards and their usage. */
#ifndef KITH_STORE_STORE_INT_H
#define KITH_STORE_STORE_INT_H

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

struct store {
	MDB_env *env;
	MDB_dbi meta;
	MDB_dbi records;
	MDB_dbi byseq;
	MDB_dbi heads;
	MDB_dbi invites; /* store_local.c */
	MDB_dbi shards;  /* store_shard.c, with usage */
	MDB_dbi usage;
	/* One read transaction handle, reset between reads and renewed for
	 * the next: renewing is much cheaper than beginning. */
	MDB_txn *rtxn;
	/* Reads started while a walk's callback runs share the walk's
	 * snapshot instead of opening a second transaction in this thread. */
	unsigned read_depth;
	int lmdb_err; /* the last LMDB failure, for store_lmdb_error() */
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

/* A write transaction; -EBUSY while a walk is running. Commit it with
 * store_write_commit() (which frees it either way) or mdb_txn_abort(). */
int store_write_begin(struct store *s, MDB_txn **txn);
int store_write_commit(struct store *s, MDB_txn *txn);

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

#endif
