/* Messages between agents: SWIM probes and membership updates, and the
 * anti-entropy exchange of records.
 *
 * A message is one ZeroMQ frame holding the msgpack array [type, fields],
 * fields a map with small integer keys (unknown keys are skipped, an
 * unknown type is ignored by the receiver). The sender is never named in a
 * message: it is the CURVE key ZAP authenticated. docs/protocol.md has the
 * byte layout.
 *
 * Decoders copy fixed-size fields into the caller's structs and return
 * records as pointers into the message buffer (borrowed). */
#ifndef KITH_PROTO_WIRE_H
#define KITH_PROTO_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "limits.h"
#include "mp.h"

struct proto_identity;

enum proto_msg_type {
	PROTO_MSG_PING = 1,     /* are you alive? (seq, target, updates) */
	PROTO_MSG_ACK = 2,      /* yes (seq, updates) */
	PROTO_MSG_PING_REQ = 3, /* please probe target for me (seq, target, updates) */
	PROTO_MSG_NACK = 4,     /* I probed target for you and heard nothing (seq) */
	PROTO_MSG_GOSSIP = 5,   /* membership updates only (updates) */
	PROTO_MSG_SYNC = 6,     /* my heads digest; reply with what I lack (heads, reply) */
	PROTO_MSG_RECORDS = 7,  /* records, in blocks per author (blocks) */
};

enum proto_member_state {
	PROTO_STATE_ALIVE = 1,
	PROTO_STATE_SUSPECT = 2,
	PROTO_STATE_DEAD = 3,
	PROTO_STATE_LEFT = 4,
};

/* Domain of the signature an agent puts on its own alive and left
 * updates, so that only a peer itself can refute a suspicion or leave. */
#define PROTO_MEMBER_DOMAIN "kith-member-v1"
#define PROTO_MEMBER_DOMAIN_LEN 15

/* One piggybacked membership update. alive and left carry the subject's
 * signature over (PROTO_MEMBER_DOMAIN, peer, state, incarnation); suspect
 * and dead name the accuser instead. */
struct proto_update {
	enum proto_member_state state;
	uint8_t peer[PROTO_KEY_LEN];
	uint64_t incarnation;
	uint8_t sig[PROTO_SIG_LEN];     /* alive, left */
	uint8_t accuser[PROTO_KEY_LEN]; /* suspect, dead */
};

/* PING, ACK, PING_REQ, NACK and GOSSIP share one shape. */
struct proto_probe {
	uint32_t seq;
	bool has_target;
	uint8_t target[PROTO_KEY_LEN];
	uint32_t n_updates;
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

/* The type of a message, checking only its outer shape. Returns 0,
 * KITH_ETOOBIG (over PROTO_MSG_MAX) or a decode error. */
int proto_msg_type(const uint8_t *buf, size_t len, uint8_t *type);

/* Decodes a PING, ACK, PING_REQ, NACK or GOSSIP (buf borrowed). Checks the
 * shape of the updates, not their signatures (proto_update_verify()). */
int proto_probe_decode(struct proto_probe *out, uint8_t *type, const uint8_t *buf, size_t len);
int proto_probe_encode(struct mp_buf *out, uint8_t type, const struct proto_probe *in);

/* Signs an alive or left update about id itself. */
int proto_update_sign(struct proto_update *u, const struct proto_identity *id);
/* 0 if an alive or left update carries its subject's signature, else
 * KITH_EBADSIG; suspect and dead always pass (they are claims). */
int proto_update_verify(const struct proto_update *u);

/* Decodes a SYNC into heads[0..cap); *n entries. A digest longer than cap
 * or PROTO_DIGEST_MAX is KITH_ETOOBIG. */
int proto_sync_decode(bool *reply, struct proto_head *heads, size_t cap, size_t *n,
                      const uint8_t *buf, size_t len);
int proto_sync_encode(struct mp_buf *out, bool reply, const struct proto_head *heads, size_t n);

/* Decodes a RECORDS message into blocks[0..cap_blocks) and
 * recs[0..cap_recs). Checks the shape only: each record's author and seq
 * order are checked when the records are decoded (proto_block_check()). */
int proto_records_decode(struct proto_block *blocks, size_t cap_blocks, size_t *n_blocks,
                         struct proto_recref *recs, size_t cap_recs, size_t *n_recs,
                         const uint8_t *buf, size_t len);
int proto_records_encode(struct mp_buf *out, const struct proto_block *blocks, size_t n_blocks,
                         const struct proto_recref *recs);

#endif
