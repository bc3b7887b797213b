/* The signed record envelope: the unit of replicated state.
 *
 * Encoded record = msgpack array [signed: bin, sig: bin 64], where signed is
 * the msgpack array [format 1, author bin 32, kind, name, seq, issued,
 * expires, body bin]. The Ed25519 signature covers PROTO_RECORD_DOMAIN
 * followed by the signed bytes exactly as received: records are never
 * re-encoded to be verified or relayed. docs/protocol.md has the details. */
#ifndef KITH_PROTO_RECORD_H
#define KITH_PROTO_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "limits.h"
#include "mp.h"

struct proto_identity;

/* Domain-separation prefix of record signatures, NUL included. */
#define PROTO_RECORD_DOMAIN "kith-record-v1"
#define PROTO_RECORD_DOMAIN_LEN 15
#define PROTO_RECORD_FORMAT 1

enum proto_kind {
	PROTO_KIND_MEMBER = 1,
	PROTO_KIND_SERVICE = 2,
	PROTO_KIND_OBSERVATION = 3,
	PROTO_KIND_GRANT = 4,
	PROTO_KIND_REVOCATION = 5,
	PROTO_KIND_BACKUP = 6,
	PROTO_KIND_DNS_CHANGE = 7,
	PROTO_KIND_ADMISSION = 8,
};

/* A decoded record. body, signed_bytes and sig point into the buffer that
 * was decoded (borrowed): the struct is valid as long as that buffer is.
 * An empty body (body_len == 0) is a tombstone. */
struct proto_record {
	uint8_t author[PROTO_KEY_LEN];
	uint8_t kind; /* 1..255; kinds this version does not know are kept and relayed */
	char name[PROTO_NAME_MAX + 1];
	uint64_t seq;     /* >= 1 */
	uint64_t issued;  /* Unix seconds */
	uint64_t expires; /* Unix seconds, >= issued */
	const uint8_t *body;
	size_t body_len;
	const uint8_t *signed_bytes;
	size_t signed_len;
	const uint8_t *sig; /* PROTO_SIG_LEN bytes */
};

/* The least seq an author draws at now (Unix seconds): the wall clock in
 * milliseconds, so that an author restored from its recovery kit signs
 * above every seq it used before (docs/protocol.md, "Choosing seq"). */
uint64_t proto_seq_floor(uint64_t now);

/* Parses buf (borrowed) into *out without checking the signature or time.
 * Returns 0, or KITH_ETOOBIG, KITH_ETRUNC, KITH_ETRAIL, KITH_ETYPE,
 * KITH_EMALFORMED, KITH_EVERSION or KITH_EVALUE. */
int proto_record_decode(struct proto_record *out, const uint8_t *buf, size_t len);
/* 0 if the signature is the author's over the signed bytes, else KITH_EBADSIG. */
int proto_record_verify(const struct proto_record *rec);
/* 0 if rec is valid at now (Unix seconds) within PROTO_CLOCK_SKEW, else
 * KITH_EEXPIRED or KITH_EFUTURE. */
int proto_record_check_time(const struct proto_record *rec, uint64_t now);
/* decode + verify + check_time. */
int proto_record_open(struct proto_record *out, const uint8_t *buf, size_t len, uint64_t now);

/* Encodes and signs a record with id, taking author from id and the other
 * fields from *in (its signed_bytes and sig are ignored). The encoded
 * record is written to *out, which the caller owns (mp_buf_free()).
 * Returns 0, KITH_EVALUE or KITH_ETOOBIG for bad fields, or -ENOMEM. */
int proto_record_sign(struct mp_buf *out, const struct proto_identity *id,
                      const struct proto_record *in);

/* "member", "service", ... or NULL for a kind this version does not know. */
const char *proto_kind_name(unsigned kind);
/* Parses a kind name; returns 0 or KITH_EVALUE. */
int proto_kind_parse(const char *name, uint8_t *kind);

#endif
