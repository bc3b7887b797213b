/* Messages between agents: SWIM probes and membership updates, the
 * anti-entropy exchange of records, joining, and requests between members
 * (wire.c; JOIN, JOIN_REPLY, REQUEST and RESPONSE in wire_join.c).
 *
 * A message is one ZeroMQ frame holding the msgpack array [type, fields],
 * fields a map with small integer keys (unknown keys are skipped, an
 * unknown type is ignored by the receiver). The sender is never named in a
 * message: it is the CURVE key ZAP authenticated. docs/protocol.md has the
 * byte layout.
 *
 * Decoders copy fixed-size fields into the caller's structs and return
 * records as pointers into the message buffer (borrowed); they allocate
 * nothing. They refuse a message over PROTO_MSG_MAX before parsing it
 * (KITH_ETOOBIG), a repeated key, known or not (KITH_EDUPKEY), a value of
 * the wrong type (KITH_ETYPE), bytes after the message (KITH_ETRAIL), a
 * count over its limit (KITH_ETOOBIG), a required field missing
 * (KITH_EMISSING) and any other bad value (KITH_EVALUE), and skip unknown
 * keys. On error the outputs are unspecified.
 *
 * Encoders append one message to out (owned by the caller: mp_buf_free())
 * after checking their input by the decoder's rules, so kith never sends
 * what it would refuse; on error out is left as it was (its err aside). */
#ifndef KITH_PROTO_WIRE_H
#define KITH_PROTO_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "limits.h"
#include "mp.h"

struct proto_identity;
struct proto_record;

enum proto_msg_type {
	PROTO_MSG_PING = 1,       /* are you alive? (seq, target, updates) */
	PROTO_MSG_ACK = 2,        /* yes (seq, updates) */
	PROTO_MSG_PING_REQ = 3,   /* please probe target for me (seq, target, updates) */
	PROTO_MSG_NACK = 4,       /* I probed target for you and heard nothing (seq, updates) */
	PROTO_MSG_GOSSIP = 5,     /* membership updates only (updates) */
	PROTO_MSG_SYNC = 6,       /* my heads digest; reply with what I lack (heads, reply) */
	PROTO_MSG_RECORDS = 7,    /* records, in blocks per author (blocks) */
	PROTO_MSG_JOIN = 8,       /* a guest asks in (invitation, proof, member record) */
	PROTO_MSG_JOIN_REPLY = 9, /* welcome or refusal (status, reason, founder, records) */
	PROTO_MSG_REQUEST = 10,   /* a member asks us to act for it (id, op, args) */
	PROTO_MSG_RESPONSE = 11,  /* the answer to a request (id, status, reason, result) */
	PROTO_MSG_SUMMARY = 12,   /* a hash of my heads: send me your digest if yours differ */
};

enum proto_member_state {
	PROTO_STATE_ALIVE = 1,
	PROTO_STATE_SUSPECT = 2,
	PROTO_STATE_DEAD = 3,
	PROTO_STATE_LEFT = 4,
};

/* "alive", "suspect", "dead", "left", or "unknown" for any other value. */
const char *proto_member_state_name(enum proto_member_state s);

/* Domain of the signature an agent puts on its own alive and left
 * updates, so that only a peer itself can refute a suspicion or leave. */
#define PROTO_MEMBER_DOMAIN "kith-member-v1"
#define PROTO_MEMBER_DOMAIN_LEN 15

/* One piggybacked membership update. alive and left carry the subject's
 * signature over (PROTO_MEMBER_DOMAIN, peer, state, incarnation); suspect
 * and dead name the accuser instead. The decoder leaves the field the
 * state does not use zeroed, and the encoder does not write it. */
struct proto_update {
	enum proto_member_state state;
	uint8_t peer[PROTO_KEY_LEN];
	uint64_t incarnation;
	uint8_t sig[PROTO_SIG_LEN];     /* alive, left */
	uint8_t accuser[PROTO_KEY_LEN]; /* suspect, dead */
};

/* PING, ACK, PING_REQ, NACK and GOSSIP share one shape. */
struct proto_probe {
	uint32_t seq;    /* required in every type but GOSSIP (optional there, default 0) */
	bool has_target; /* required in PING_REQ, allowed in PING, refused elsewhere */
	uint8_t target[PROTO_KEY_LEN];
	uint32_t n_updates; /* <= PROTO_UPDATES_MAX */
	struct proto_update updates[PROTO_UPDATES_MAX];
};

/* One entry of a heads digest: the highest seq held for author. */
struct proto_head {
	uint8_t author[PROTO_KEY_LEN];
	uint64_t seq;
};

/* A record inside a message, borrowed from the message buffer. */
struct proto_recref {
	const uint8_t *buf;
	size_t len;
};

/* Records of one author with seq > after, in increasing seq order, and
 * with no record of that author in (after, first seq) left out: the
 * receiver applies a block only when it already holds everything up to
 * after. Its records are recs[first .. first + n_records). */
struct proto_block {
	uint8_t author[PROTO_KEY_LEN];
	uint64_t after;
	uint32_t first;
	uint32_t n_records;
};

/* The type (1..255) of a message, checking only the outer array [type,
 * fields] and not the map nor trailing bytes: a type this version does not
 * know is for the caller to ignore. Returns 0, KITH_ETOOBIG (over
 * PROTO_MSG_MAX) or a decode error. */
int proto_msg_type(const uint8_t *buf, size_t len, uint8_t *type);

/* Decodes a PING, ACK, PING_REQ, NACK or GOSSIP (buf borrowed) and its
 * type; another type is KITH_EVALUE. Checks the shape of the updates, not
 * their signatures (proto_update_verify()). */
int proto_probe_decode(struct proto_probe *out, uint8_t *type, const uint8_t *buf, size_t len);
int proto_probe_encode(struct mp_buf *out, uint8_t type, const struct proto_probe *in);

/* Signs an alive or left update about id itself: sets u->peer to id's key
 * and u->sig from u->state and u->incarnation. Another state is
 * KITH_EVALUE. The signature is Ed25519 over PROTO_MEMBER_DOMAIN (NUL
 * included) || peer || state (1 byte) || incarnation (8 bytes, big-endian). */
int proto_update_sign(struct proto_update *u, const struct proto_identity *id);
/* 0 if an alive or left update carries its subject's signature, else
 * KITH_EBADSIG; suspect and dead always pass (they are claims); a state
 * outside 1..4 is KITH_EVALUE. */
int proto_update_verify(const struct proto_update *u);

/* Decodes a SYNC into heads[0..cap); *n entries. A digest longer than cap
 * or PROTO_DIGEST_MAX is KITH_ETOOBIG; authors must be in strictly
 * increasing byte order (memcmp), so each appears once (KITH_EVALUE). */
int proto_sync_decode(bool *reply, struct proto_head *heads, size_t cap, size_t *n,
                      const uint8_t *buf, size_t len);
int proto_sync_encode(struct mp_buf *out, bool reply, const struct proto_head *heads, size_t n);

/* A SUMMARY: a hash of the sender's whole heads digest, so that agents
 * holding the same records learn it in a few bytes (see gossip.h). */
#define PROTO_SUMMARY_LEN 16
int proto_summary_decode(uint8_t sum[PROTO_SUMMARY_LEN], const uint8_t *buf, size_t len);
int proto_summary_encode(struct mp_buf *out, const uint8_t sum[PROTO_SUMMARY_LEN]);

/* Decodes a RECORDS message into blocks[0..cap_blocks) and
 * recs[0..cap_recs); the records of block i are recs[blocks[i].first ..
 * + n_records), one block after the other. Checks the shape only: each
 * record's author and seq order are checked when the records are decoded
 * (proto_block_check()). More blocks than cap_blocks or PROTO_BLOCKS_MAX,
 * or more records than cap_recs or PROTO_MSG_RECORDS_MAX: KITH_ETOOBIG. */
int proto_records_decode(struct proto_block *blocks, size_t cap_blocks, size_t *n_blocks,
                         struct proto_recref *recs, size_t cap_recs, size_t *n_recs,
                         const uint8_t *buf, size_t len);
/* Writes blocks[0..n_blocks), block i with recs[first .. first + n_records)
 * (recs borrowed; blocks need not be contiguous in recs). */
int proto_records_encode(struct mp_buf *out, const struct proto_block *blocks, size_t n_blocks,
                         const struct proto_recref *recs);

/* What a receiver checks on each record of a block once it has decoded it
 * (proto_record_decode()): rec has the block's author and a seq above
 * b->after and above *prev_seq, the seq of the block's previous record.
 * Start with *prev_seq = b->after; on success it becomes rec->seq.
 * Returns 0 or KITH_EVALUE (the block is bad from this record on):
 *
 *	uint64_t prev = b->after;
 *	for (uint32_t i = 0; i < b->n_records; i++) {
 *		struct proto_recref *ref = &recs[b->first + i];
 *		if (proto_record_decode(&rec, ref->buf, ref->len) ||
 *		    proto_block_check(b, &rec, &prev))
 *			break;
 *		...
 *	}
 */
int proto_block_check(const struct proto_block *b, const struct proto_record *rec,
                      uint64_t *prev_seq);

/* ---- joining ---- */

#define PROTO_INVITE_ID_LEN 16
#define PROTO_PROOF_LEN 32
#define PROTO_REASON_TEXT_MAX 255

/* JOIN, sent by a guest on the connection it opened to the issuer. Without
 * an invitation it asks to join by ID: the issuer must already have
 * admitted the joiner. member_record is the joiner's own signed member
 * record (borrowed): it names the joiner's key, which must be the one its
 * CURVE key derives from. */
struct proto_join {
	bool has_invite;
	uint8_t invite_id[PROTO_INVITE_ID_LEN];
	uint8_t proof[PROTO_PROOF_LEN];
	const uint8_t *member_record;
	size_t member_record_len;
};

enum proto_join_status {
	PROTO_JOIN_OK = 0,
	PROTO_JOIN_REFUSED = 1, /* unknown, used, expired or forged invitation; not admitted */
	PROTO_JOIN_BUSY = 2,    /* try again later (rate limit) */
	PROTO_JOIN_ERROR = 3,   /* the issuer failed */
};

/* JOIN_REPLY: on success the network's founder and the records that say
 * who its members are (admissions, grants, revocations, member records),
 * so the joiner can compute the membership before any gossip. */
struct proto_join_reply {
	enum proto_join_status status;
	char reason[PROTO_REASON_TEXT_MAX + 1]; /* for the admin, may be empty on success */
	uint8_t founder[PROTO_KEY_LEN];         /* when status is OK */
};

int proto_join_decode(struct proto_join *out, const uint8_t *buf, size_t len);
int proto_join_encode(struct mp_buf *out, const struct proto_join *in);
/* Records go to recs[0..cap) (borrowed from buf), *n of them. */
int proto_join_reply_decode(struct proto_join_reply *out, struct proto_recref *recs, size_t cap,
                            size_t *n, const uint8_t *buf, size_t len);
int proto_join_reply_encode(struct mp_buf *out, const struct proto_join_reply *in,
                            const struct proto_recref *recs, size_t n);

/* ---- requests between members ---- */

#define PROTO_OP_MAX 31

enum proto_response_status {
	PROTO_RESPONSE_OK = 0,
	PROTO_RESPONSE_REFUSED = 1,   /* no valid grant: none, expired or revoked */
	PROTO_RESPONSE_QUOTA = 2,     /* over the grant's quota */
	PROTO_RESPONSE_NOT_FOUND = 3, /* nothing under that name */
	PROTO_RESPONSE_INVALID = 4,   /* the request itself is wrong */
	PROTO_RESPONSE_ERROR = 5,     /* we failed */
	PROTO_RESPONSE_UNKNOWN = 6,   /* unknown op */
	PROTO_RESPONSE_BUSY = 7,      /* no time for it now: send it again in a moment */
};

/* REQUEST: op names what to do ("shard.put", "services.get"...); args is
 * the op's own msgpack, borrowed. */
struct proto_request {
	uint32_t id;
	char op[PROTO_OP_MAX + 1];
	const uint8_t *args;
	size_t args_len;
};

/* RESPONSE to request id; result is the op's own msgpack, borrowed. */
struct proto_response {
	uint32_t id;
	enum proto_response_status status;
	char reason[PROTO_REASON_TEXT_MAX + 1];
	const uint8_t *result;
	size_t result_len;
};

int proto_request_decode(struct proto_request *out, const uint8_t *buf, size_t len);
int proto_request_encode(struct mp_buf *out, const struct proto_request *in);
int proto_response_decode(struct proto_response *out, const uint8_t *buf, size_t len);
int proto_response_encode(struct mp_buf *out, const struct proto_response *in);

#endif
