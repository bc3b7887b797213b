/* Arguments and results of the requests members make of each other
 * (PROTO_MSG_REQUEST / RESPONSE in wire.h), one small codec per op. Each is
 * a msgpack map with small integer keys, read with the same rules as record
 * bodies (unknown keys skipped, repeated keys, wrong types and trailing
 * bytes refused) but without a version key: an op whose arguments change
 * gets a new name. Decoders take buf borrowed, refuse one over
 * PROTO_MSG_MAX before parsing, and return 0 or a KITH_E* code; encoders
 * append to out (owned by the caller) after checking the decoder's rules,
 * and leave it as it was on error. docs/protocol.md, section 8.
 *
 *   op              grant needed         args               result
 *   "shard.put"     backup:SIZE          name, data         usage
 *   "shard.get"     backup:SIZE          name               name, data
 *   "shard.del"     backup:SIZE          name               usage
 *   "services.get"  monitor              (none)             services
 *
 *   "hold.open"     backup:SIZE[:COUNT]  hold_open          usage
 *   "hold.write"    backup:SIZE[:COUNT]  hold_write         hold_written
 *   "hold.commit"   backup:SIZE[:COUNT]  hold_name          hold_receipt
 *   "hold.read"     backup:SIZE[:COUNT]  hold_read          hold_data
 *   "hold.del"      backup:SIZE[:COUNT]  hold_name          usage
 *   "hold.list"     backup:SIZE[:COUNT]  hold_list_args     hold_list
 *
 * The grant is one the receiver (the issuer) gave the sender (the
 * subject): the sender stores its shards with us, or checks our services.
 *
 * hold.* move a shard of any size (<= PROTO_HOLD_SIZE_MAX) in pieces: open
 * declares its name, size and BLAKE2b-256 (the holder reserves the quota
 * then, before any byte flows), writes carry pieces in order and answer the
 * bytes received so far (the sender's flow control counts on it), commit
 * makes the file durable and answers a signed receipt, read fetches a
 * piece back, list pages through what is held. The codecs check what one
 * message can: names, bounds, lengths; whether an offset is the next one
 * or within the shard is the holder's rule. */
#ifndef KITH_PROTO_OPS_H
#define KITH_PROTO_OPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "body.h"
#include "limits.h"
#include "mp.h"

#define PROTO_OP_SHARD_PUT "shard.put"
#define PROTO_OP_SHARD_GET "shard.get"
#define PROTO_OP_SHARD_DEL "shard.del"
#define PROTO_OP_SERVICES_GET "services.get"

#define PROTO_SHARD_NAME_MAX 128
#define PROTO_SHARD_MAX (4 << 20) /* bytes in one shard */
#define PROTO_SERVICES_MAX 100    /* services of one owner */

#define PROTO_OP_HOLD_OPEN "hold.open"
#define PROTO_OP_HOLD_WRITE "hold.write"
#define PROTO_OP_HOLD_COMMIT "hold.commit"
#define PROTO_OP_HOLD_READ "hold.read"
#define PROTO_OP_HOLD_DEL "hold.del"
#define PROTO_OP_HOLD_LIST "hold.list"

/* A held shard's name becomes a file name at the holder
 * (agent/backup/shardfile.h, whose SHARDFILE_NAME_MAX it equals). */
#define PROTO_HOLD_NAME_MAX 128
/* Bytes in one held shard: 4 GiB, the holder's SHARDFILE_SIZE_MAX. */
#define PROTO_HOLD_SIZE_MAX ((uint64_t)4 << 30)
/* Bytes in one hold.write piece or hold.read answer: 256 KiB. Small enough
 * that one message never holds an event loop long (hashing and writing it
 * to the page cache take well under a millisecond, and a few in flight per
 * holder keep both sides' memory in the low MiB, far under max_message), large
 * enough that the per-message costs (a ZeroMQ frame, CURVE box, msgpack
 * header, request id and grant lookup, a few hundred bytes and a few
 * microseconds) stay under 1% of the bytes moved. Under the holder's
 * SHARDFILE_PIECE_MAX and SHARDFILE_READ_MAX (1 MiB). */
#define PROTO_HOLD_PIECE_MAX ((size_t)256 << 10)
/* BLAKE2b-256 of a shard's bytes (unkeyed), as the holder checks at
 * commit (SHARDFILE_HASH_LEN). */
#define PROTO_HOLD_HASH_LEN 32
/* Entries in one hold.list answer. An entry is at most 179 bytes encoded
 * (a 128-byte name, size, hash, state, keys), so an answer stays under
 * 46 KiB: one message whatever max_message says, and 256 requests list a
 * million shards. */
#define PROTO_HOLD_LIST_MAX 256

/* Domain of a holder's receipt signature; the NUL is part of it. */
#define PROTO_HOLD_RECEIPT_DOMAIN "kith hold receipt v1"
#define PROTO_HOLD_RECEIPT_DOMAIN_LEN 21

/* shard.* args and shard.get result: name (text, 1..128 bytes, no control
 * characters) and, for put and in get's result, data (borrowed from the
 * decoder's buf; empty data is still data). Without has_data the decoder
 * leaves data NULL and len 0 and the encoder ignores them: which ops need
 * data is the caller's rule. */
struct proto_shard {
	char name[PROTO_SHARD_NAME_MAX + 1];
	const uint8_t *data;
	size_t len;
	bool has_data;
};

/* shard.put and shard.del result: bytes the sender now keeps with us under
 * the grant, and the grant's quota. */
struct proto_usage {
	uint64_t used;
	uint64_t quota;
};

/* services.get result: the owner's services with their check details,
 * each name once; spec travels as a service record body, read and
 * written by proto_service_decode()/encode(). */
struct proto_service_entry {
	char name[PROTO_SERVICE_NAME_MAX + 1];
	struct proto_service spec;
};

/* hold.open args: the shard the sender is about to write, name valid
 * (proto_hold_name_ok()), size <= PROTO_HOLD_SIZE_MAX (0 is a shard), and
 * the BLAKE2b-256 its bytes must have at commit. Result: struct
 * proto_usage, the quota now reserved included. */
struct proto_hold_open {
	char name[PROTO_HOLD_NAME_MAX + 1];
	uint64_t size;
	uint8_t hash[PROTO_HOLD_HASH_LEN];
};

/* hold.write args: the piece data[0..len) (borrowed from the decoder's buf;
 * 1..PROTO_HOLD_PIECE_MAX bytes) at offset, offset + len <=
 * PROTO_HOLD_SIZE_MAX. */
struct proto_hold_write {
	char name[PROTO_HOLD_NAME_MAX + 1];
	uint64_t offset;
	const uint8_t *data;
	size_t len;
};

/* hold.write result: bytes of the shard the holder has received so far,
 * <= PROTO_HOLD_SIZE_MAX. */
struct proto_hold_written {
	uint64_t written;
};

/* hold.commit and hold.del args: just the name. */
struct proto_hold_name {
	char name[PROTO_HOLD_NAME_MAX + 1];
};

/* hold.commit result: the holder's Ed25519 signature over the statement of
 * proto_hold_receipt_sign(), and the time (Unix seconds, the holder's
 * clock) it states. */
struct proto_hold_receipt {
	uint8_t sig[PROTO_SIG_LEN];
	uint64_t time;
};

/* hold.read args: len (1..PROTO_HOLD_PIECE_MAX) bytes from offset (<=
 * PROTO_HOLD_SIZE_MAX). */
struct proto_hold_read {
	char name[PROTO_HOLD_NAME_MAX + 1];
	uint64_t offset;
	uint32_t len;
};

/* hold.read result: data[0..len) (borrowed from the decoder's buf;
 * 0..PROTO_HOLD_PIECE_MAX bytes, fewer than asked at the end of the shard)
 * and the shard's whole size (<= PROTO_HOLD_SIZE_MAX, >= len). */
struct proto_hold_data {
	const uint8_t *data;
	size_t len;
	uint64_t size;
};

/* hold.list args: names strictly greater (bytewise) than after, a valid
 * name, when has_after; else from the first. */
struct proto_hold_list_args {
	char after[PROTO_HOLD_NAME_MAX + 1];
	bool has_after;
};

enum proto_hold_state {
	PROTO_HOLD_KEPT = 0,  /* committed: durable, hash checked */
	PROTO_HOLD_OPEN = 1,  /* opened, not committed: quota reserved, bytes partial */
	PROTO_HOLD_GRACE = 2, /* grant ended: kept read-only until the grace period ends */
};
#define PROTO_HOLD_STATE_MAX PROTO_HOLD_GRACE

struct proto_hold_entry {
	char name[PROTO_HOLD_NAME_MAX + 1];
	uint64_t size;
	uint8_t hash[PROTO_HOLD_HASH_LEN];
	enum proto_hold_state state;
};

/* hold.list result: entries[0..n), names strictly increasing (bytewise),
 * and more when the holder has names after the last one (then n >= 1:
 * the next request asks after entries[n - 1].name). About 47 KiB: the
 * caller allocates it (static or heap), not on a small stack. */
struct proto_hold_list {
	struct proto_hold_entry entries[PROTO_HOLD_LIST_MAX];
	size_t n;
	bool more;
};

int proto_shard_decode(struct proto_shard *out, const uint8_t *buf, size_t len);
int proto_shard_encode(struct mp_buf *out, const struct proto_shard *in);
int proto_usage_decode(struct proto_usage *out, const uint8_t *buf, size_t len);
int proto_usage_encode(struct mp_buf *out, const struct proto_usage *in);
/* entries[0..cap), *n of them. */
int proto_services_decode(struct proto_service_entry *entries, size_t cap, size_t *n,
                          const uint8_t *buf, size_t len);
int proto_services_encode(struct mp_buf *out, const struct proto_service_entry *entries, size_t n);

/* Whether name[0..len) is a held shard name: 1..PROTO_HOLD_NAME_MAX of
 * [0-9a-z._-], not starting with '.', without "..": it becomes a file name
 * at the holder (agent/backup/shardfile.h checks it with this too); name
 * may be NULL when len is 0. */
bool proto_hold_name_ok(const char *name, size_t len);

/* The hold.* codecs, one pair per struct above. */
int proto_hold_open_decode(struct proto_hold_open *out, const uint8_t *buf, size_t len);
int proto_hold_open_encode(struct mp_buf *out, const struct proto_hold_open *in);
int proto_hold_write_decode(struct proto_hold_write *out, const uint8_t *buf, size_t len);
int proto_hold_write_encode(struct mp_buf *out, const struct proto_hold_write *in);
int proto_hold_written_decode(struct proto_hold_written *out, const uint8_t *buf, size_t len);
int proto_hold_written_encode(struct mp_buf *out, const struct proto_hold_written *in);
int proto_hold_name_decode(struct proto_hold_name *out, const uint8_t *buf, size_t len);
int proto_hold_name_encode(struct mp_buf *out, const struct proto_hold_name *in);
int proto_hold_receipt_decode(struct proto_hold_receipt *out, const uint8_t *buf, size_t len);
int proto_hold_receipt_encode(struct mp_buf *out, const struct proto_hold_receipt *in);
int proto_hold_read_decode(struct proto_hold_read *out, const uint8_t *buf, size_t len);
int proto_hold_read_encode(struct mp_buf *out, const struct proto_hold_read *in);
int proto_hold_data_decode(struct proto_hold_data *out, const uint8_t *buf, size_t len);
int proto_hold_data_encode(struct mp_buf *out, const struct proto_hold_data *in);
int proto_hold_list_args_decode(struct proto_hold_list_args *out, const uint8_t *buf, size_t len);
int proto_hold_list_args_encode(struct mp_buf *out, const struct proto_hold_list_args *in);
int proto_hold_list_decode(struct proto_hold_list *out, const uint8_t *buf, size_t len);
int proto_hold_list_encode(struct mp_buf *out, const struct proto_hold_list *in);

struct proto_identity;

/* The receipt a holder gives at commit, once the shard is durable: out->sig
 * is holder's Ed25519 signature over PROTO_HOLD_RECEIPT_DOMAIN (with its
 * NUL) followed by
 *   owner (32) || holder's key (32) || name length (1) || name ||
 *   size (8, big-endian) || hash (32) || time (8, big-endian),
 * and out->time is time. All arguments are borrowed. Returns 0,
 * KITH_EVALUE (name not valid) or KITH_ETOOBIG (size over the max), or
 * -ENOMEM; on error *out is zeroed. */
int proto_hold_receipt_sign(struct proto_hold_receipt *out, const struct proto_identity *holder,
                            const uint8_t owner[PROTO_KEY_LEN], const char *name, uint64_t size,
                            const uint8_t hash[PROTO_HOLD_HASH_LEN], uint64_t time);
/* Checks that receipt (borrowed) is holder's over owner's shard name of
 * size bytes hashing to hash, at receipt->time. Returns 0, KITH_EBADSIG,
 * KITH_EVALUE or KITH_ETOOBIG (what sign would refuse), or -ENOMEM. */
int proto_hold_receipt_verify(const struct proto_hold_receipt *receipt,
                              const uint8_t holder[PROTO_KEY_LEN],
                              const uint8_t owner[PROTO_KEY_LEN], const char *name, uint64_t size,
                              const uint8_t hash[PROTO_HOLD_HASH_LEN]);

#endif
