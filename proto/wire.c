/* Messages between agents (see wire.h and docs/protocol.md, section 7).
 *
 * Every message is the array [type, fields]; the decoders share the
 * opening (size, outer array, type) and the walk over the fields map
 * (integer keys, none twice, unknown ones skipped), and each reads its own
 * keys. The value rules live in *_check() functions that the encoders run
 * on their input and the decoders on what they read, so what kith sends
 * and what it accepts cannot drift apart. The shared reading and writing
 * is in codec.h; JOIN, JOIN_REPLY, REQUEST and RESPONSE in wire_join.c. */
#include <string.h>

#include "codec.h"
#include "error.h"
#include "identity.h"
#include "record.h"
#include "wire.h"

/* Items of the fixed-shape arrays. */
#define UPDATE_ITEMS 4 /* [state, peer, incarnation, signature or accuser] */
#define HEAD_ITEMS 2   /* [author, seq] */
#define BLOCK_ITEMS 3  /* [author, after, records] */

/* What proto_update_sign() signs after the domain: peer, state,
 * incarnation. */
#define UPDATE_SIGNED_LEN (PROTO_KEY_LEN + 1 + 8)

enum probe_key {
	PROBE_SEQ = 1,     /* uint32; required but in GOSSIP */
	PROBE_TARGET = 2,  /* bin 32; required in PING_REQ, allowed in PING */
	PROBE_UPDATES = 3, /* array (<= PROTO_UPDATES_MAX) of updates */
};

enum sync_key {
	SYNC_HEADS = 1, /* array (<= PROTO_DIGEST_MAX) of [author, seq], sorted */
	SYNC_REPLY = 2, /* bool */
};

enum summary_key {
	SUMMARY_SUM = 1, /* bin 16; required */
};

enum records_key {
	RECORDS_BLOCKS = 1, /* array (<= PROTO_BLOCKS_MAX) of blocks */
};

/* ---- probes and membership updates ---- */

static bool is_probe(unsigned type)
{
	return type >= PROTO_MSG_PING && type <= PROTO_MSG_GOSSIP;
}

/* alive and left carry their subject's signature; suspect and dead name
 * an accuser. */
static bool is_signed_state(unsigned state)
{
	return state == PROTO_STATE_ALIVE || state == PROTO_STATE_LEFT;
}

static bool is_state(unsigned state)
{
	return state >= PROTO_STATE_ALIVE && state <= PROTO_STATE_LEFT;
}

/* The rules on target and updates, for decoder and encoder alike. */
static int probe_check(unsigned type, const struct proto_probe *p)
{
	if (!is_probe(type))
		return KITH_EVALUE;
	if (p->n_updates > PROTO_UPDATES_MAX)
		return KITH_ETOOBIG;
	if (type == PROTO_MSG_PING_REQ && !p->has_target)
		return KITH_EMISSING;
	if (p->has_target && type != PROTO_MSG_PING && type != PROTO_MSG_PING_REQ)
		return KITH_EVALUE;
	for (uint32_t i = 0; i < p->n_updates; i++)
		if (!is_state(p->updates[i].state))
			return KITH_EVALUE;
	return 0;
}

/* The state is read first: it says what the last item is. */
static int read_update(struct mp_reader *r, struct proto_update *u)
{
	uint64_t state;
	if (read_tuple(r, UPDATE_ITEMS) || mp_read_uint(r, &state))
		return r->err;
	if (!is_state(state))
		return mp_fail(r, KITH_EVALUE);
	u->state = (enum proto_member_state)state;
	mp_read_bin_exact(r, u->peer, PROTO_KEY_LEN);
	mp_read_uint(r, &u->incarnation);
	if (is_signed_state(u->state))
		return mp_read_bin_exact(r, u->sig, PROTO_SIG_LEN);
	return mp_read_bin_exact(r, u->accuser, PROTO_KEY_LEN);
}

static int read_updates(struct mp_reader *r, struct proto_probe *p)
{
	if (mp_read_array(r, &p->n_updates, PROTO_UPDATES_MAX))
		return r->err;
	for (uint32_t i = 0; i < p->n_updates && !r->err; i++)
		read_update(r, &p->updates[i]);
	return r->err;
}

int proto_probe_decode(struct proto_probe *out, uint8_t *type, const uint8_t *buf, size_t len)
{
	struct mp_reader r;
	struct fields f;
	uint64_t key;
	memset(out, 0, sizeof(*out));
	if (read_type(&r, buf, len, type))
		return r.err;
	if (!is_probe(*type))
		return KITH_EVALUE;
	fields_open(&r, &f);
	while (fields_next(&r, &f, &key)) {
		switch (key) {
		case PROBE_SEQ:
			read_u32(&r, &out->seq);
			break;
		case PROBE_TARGET:
			mp_read_bin_exact(&r, out->target, PROTO_KEY_LEN);
			out->has_target = true;
			break;
		case PROBE_UPDATES:
			read_updates(&r, out);
			break;
		default:
			mp_skip(&r, MSG_SKIP_DEPTH);
		}
	}
	if (mp_finish(&r))
		return r.err;
	if (*type != PROTO_MSG_GOSSIP && !fields_have(&f, PROBE_SEQ))
		return KITH_EMISSING;
	return probe_check(*type, out);
}

static void write_update(msgpack_packer *pk, const struct proto_update *u)
{
	msgpack_pack_array(pk, UPDATE_ITEMS);
	msgpack_pack_uint64(pk, u->state);
	mp_pack_bin(pk, u->peer, PROTO_KEY_LEN);
	msgpack_pack_uint64(pk, u->incarnation);
	if (is_signed_state(u->state))
		mp_pack_bin(pk, u->sig, PROTO_SIG_LEN);
	else
		mp_pack_bin(pk, u->accuser, PROTO_KEY_LEN);
}

int proto_probe_encode(struct mp_buf *out, uint8_t type, const struct proto_probe *in)
{
	msgpack_packer pk;
	size_t start = out->len;
	bool with_seq = type != PROTO_MSG_GOSSIP || in->seq != 0;
	int rc = probe_check(type, in);
	if (rc)
		return rc;
	write_begin(&pk, out, type, (uint32_t)with_seq + in->has_target + (in->n_updates > 0));
	if (with_seq) {
		msgpack_pack_uint64(&pk, PROBE_SEQ);
		msgpack_pack_uint64(&pk, in->seq);
	}
	if (in->has_target) {
		msgpack_pack_uint64(&pk, PROBE_TARGET);
		mp_pack_bin(&pk, in->target, PROTO_KEY_LEN);
	}
	if (in->n_updates > 0) {
		msgpack_pack_uint64(&pk, PROBE_UPDATES);
		msgpack_pack_array(&pk, in->n_updates);
		for (uint32_t i = 0; i < in->n_updates; i++)
			write_update(&pk, &in->updates[i]);
	}
	return write_end(out, start);
}

/* The bytes signed after the domain. */
static void update_signed(uint8_t msg[UPDATE_SIGNED_LEN], const struct proto_update *u)
{
	memcpy(msg, u->peer, PROTO_KEY_LEN);
	msg[PROTO_KEY_LEN] = (uint8_t)u->state;
	for (int i = 0; i < 8; i++)
		msg[PROTO_KEY_LEN + 1 + i] = (uint8_t)(u->incarnation >> (56 - 8 * i));
}

int proto_update_sign(struct proto_update *u, const struct proto_identity *id)
{
	uint8_t msg[UPDATE_SIGNED_LEN];
	if (!is_signed_state(u->state))
		return KITH_EVALUE;
	memcpy(u->peer, id->pk, PROTO_KEY_LEN);
	memset(u->accuser, 0, sizeof(u->accuser));
	update_signed(msg, u);
	return proto_identity_sign(id, u->sig, PROTO_MEMBER_DOMAIN, PROTO_MEMBER_DOMAIN_LEN, msg,
	                           sizeof(msg));
}

int proto_update_verify(const struct proto_update *u)
{
	uint8_t msg[UPDATE_SIGNED_LEN];
	if (!is_state(u->state))
		return KITH_EVALUE;
	if (!is_signed_state(u->state))
		return 0;
	update_signed(msg, u);
	return proto_sig_verify(u->peer, u->sig, PROTO_MEMBER_DOMAIN, PROTO_MEMBER_DOMAIN_LEN, msg,
	                        sizeof(msg));
}

/* ---- SYNC ---- */

static int heads_check(const struct proto_head *heads, size_t n)
{
	if (n > PROTO_DIGEST_MAX)
		return KITH_ETOOBIG;
	for (size_t i = 1; i < n; i++)
		if (memcmp(heads[i - 1].author, heads[i].author, PROTO_KEY_LEN) >= 0)
			return KITH_EVALUE;
	return 0;
}

static int read_heads(struct mp_reader *r, struct proto_head *heads, size_t cap, uint32_t *n)
{
	if (mp_read_array(r, n, (uint32_t)min_size(cap, PROTO_DIGEST_MAX)))
		return r->err;
	for (uint32_t i = 0; i < *n && !r->err; i++) {
		read_tuple(r, HEAD_ITEMS);
		mp_read_bin_exact(r, heads[i].author, PROTO_KEY_LEN);
		mp_read_uint(r, &heads[i].seq);
	}
	return r->err;
}

int proto_sync_decode(bool *reply, struct proto_head *heads, size_t cap, size_t *n,
                      const uint8_t *buf, size_t len)
{
	struct mp_reader r;
	struct fields f;
	uint64_t key;
	uint32_t count = 0;
	*reply = false;
	*n = 0;
	if (read_type_is(&r, buf, len, PROTO_MSG_SYNC))
		return r.err;
	fields_open(&r, &f);
	while (fields_next(&r, &f, &key)) {
		if (key == SYNC_HEADS)
			read_heads(&r, heads, cap, &count);
		else if (key == SYNC_REPLY)
			mp_read_bool(&r, reply);
		else
			mp_skip(&r, MSG_SKIP_DEPTH);
	}
	if (mp_finish(&r))
		return r.err;
	int rc = heads_check(heads, count);
	if (!rc)
		*n = count;
	return rc;
}

int proto_sync_encode(struct mp_buf *out, bool reply, const struct proto_head *heads, size_t n)
{
	msgpack_packer pk;
	size_t start = out->len;
	int rc = heads_check(heads, n);
	if (rc)
		return rc;
	write_begin(&pk, out, PROTO_MSG_SYNC, (uint32_t)(n > 0) + reply);
	if (n > 0) {
		msgpack_pack_uint64(&pk, SYNC_HEADS);
		msgpack_pack_array(&pk, (uint32_t)n);
		for (size_t i = 0; i < n; i++) {
			msgpack_pack_array(&pk, HEAD_ITEMS);
			mp_pack_bin(&pk, heads[i].author, PROTO_KEY_LEN);
			msgpack_pack_uint64(&pk, heads[i].seq);
		}
	}
	if (reply) {
		msgpack_pack_uint64(&pk, SYNC_REPLY);
		msgpack_pack_true(&pk);
	}
	return write_end(out, start);
}

/* ---- SUMMARY ---- */

int proto_summary_decode(uint8_t sum[PROTO_SUMMARY_LEN], const uint8_t *buf, size_t len)
{
	struct mp_reader r;
	struct fields f;
	uint64_t key;
	if (read_type_is(&r, buf, len, PROTO_MSG_SUMMARY))
		return r.err;
	fields_open(&r, &f);
	while (fields_next(&r, &f, &key)) {
		if (key == SUMMARY_SUM)
			mp_read_bin_exact(&r, sum, PROTO_SUMMARY_LEN);
		else
			mp_skip(&r, MSG_SKIP_DEPTH);
	}
	if (mp_finish(&r))
		return r.err;
	return fields_have(&f, SUMMARY_SUM) ? 0 : KITH_EMISSING;
}

int proto_summary_encode(struct mp_buf *out, const uint8_t sum[PROTO_SUMMARY_LEN])
{
	msgpack_packer pk;
	size_t start = out->len;
	write_begin(&pk, out, PROTO_MSG_SUMMARY, 1);
	msgpack_pack_uint64(&pk, SUMMARY_SUM);
	mp_pack_bin(&pk, sum, PROTO_SUMMARY_LEN);
	return write_end(out, start);
}

/* ---- RECORDS ---- */

/* Output arrays of the decoder and how full they are. */
struct records_out {
	struct proto_block *blocks;
	size_t cap_blocks;
	uint32_t n_blocks;
	struct proto_recref *recs;
	size_t cap_recs;
	uint32_t n_recs;
};

/* One block; its records are appended to o->recs. */
static int read_block(struct mp_reader *r, struct records_out *o, struct proto_block *b)
{
	uint32_t k;
	size_t room = min_size(o->cap_recs, PROTO_MSG_RECORDS_MAX) - o->n_recs;
	read_tuple(r, BLOCK_ITEMS);
	mp_read_bin_exact(r, b->author, PROTO_KEY_LEN);
	mp_read_uint(r, &b->after);
	if (mp_read_array(r, &k, (uint32_t)room))
		return r->err;
	b->first = o->n_recs;
	b->n_records = k;
	for (uint32_t i = 0; i < k && !r->err; i++) {
		struct proto_recref *ref = &o->recs[o->n_recs++];
		mp_read_bin(r, &ref->buf, &ref->len, PROTO_RECORD_MAX);
	}
	return r->err;
}

static int read_blocks(struct mp_reader *r, struct records_out *o)
{
	uint32_t n;
	if (mp_read_array(r, &n, (uint32_t)min_size(o->cap_blocks, PROTO_BLOCKS_MAX)))
		return r->err;
	for (o->n_blocks = 0; o->n_blocks < n && !r->err; o->n_blocks++)
		read_block(r, o, &o->blocks[o->n_blocks]);
	return r->err;
}

int proto_records_decode(struct proto_block *blocks, size_t cap_blocks, size_t *n_blocks,
                         struct proto_recref *recs, size_t cap_recs, size_t *n_recs,
                         const uint8_t *buf, size_t len)
{
	struct records_out o = {blocks, cap_blocks, 0, recs, cap_recs, 0};
	struct mp_reader r;
	struct fields f;
	uint64_t key;
	*n_blocks = 0;
	*n_recs = 0;
	if (read_type_is(&r, buf, len, PROTO_MSG_RECORDS))
		return r.err;
	fields_open(&r, &f);
	while (fields_next(&r, &f, &key)) {
		if (key == RECORDS_BLOCKS)
			read_blocks(&r, &o);
		else
			mp_skip(&r, MSG_SKIP_DEPTH);
	}
	if (mp_finish(&r))
		return r.err;
	*n_blocks = o.n_blocks;
	*n_recs = o.n_recs;
	return 0;
}

/* Counts and indexes first, over every block, so that recs is read only
 * where the blocks say records are. */
static int blocks_check(const struct proto_block *blocks, size_t n_blocks,
                        const struct proto_recref *recs)
{
	uint64_t total = 0;
	if (n_blocks > PROTO_BLOCKS_MAX)
		return KITH_ETOOBIG;
	for (size_t i = 0; i < n_blocks; i++) {
		total += blocks[i].n_records;
		if ((uint64_t)blocks[i].first + blocks[i].n_records > (uint64_t)UINT32_MAX + 1)
			return KITH_EVALUE;
	}
	if (total > PROTO_MSG_RECORDS_MAX)
		return KITH_ETOOBIG;
	for (size_t i = 0; i < n_blocks; i++) {
		for (uint32_t j = 0; j < blocks[i].n_records; j++) {
			const struct proto_recref *ref = &recs[blocks[i].first + j];
			if (ref->len > PROTO_RECORD_MAX)
				return KITH_ETOOBIG;
			if (ref->len && !ref->buf)
				return KITH_EVALUE;
		}
	}
	return 0;
}

int proto_records_encode(struct mp_buf *out, const struct proto_block *blocks, size_t n_blocks,
                         const struct proto_recref *recs)
{
	msgpack_packer pk;
	size_t start = out->len;
	int rc = blocks_check(blocks, n_blocks, recs);
	if (rc)
		return rc;
	write_begin(&pk, out, PROTO_MSG_RECORDS, n_blocks > 0);
	if (n_blocks > 0) {
		msgpack_pack_uint64(&pk, RECORDS_BLOCKS);
		msgpack_pack_array(&pk, (uint32_t)n_blocks);
	}
	for (size_t i = 0; i < n_blocks && !out->err; i++) {
		const struct proto_block *b = &blocks[i];
		msgpack_pack_array(&pk, BLOCK_ITEMS);
		mp_pack_bin(&pk, b->author, PROTO_KEY_LEN);
		msgpack_pack_uint64(&pk, b->after);
		msgpack_pack_array(&pk, b->n_records);
		for (uint32_t j = 0; j < b->n_records; j++)
			mp_pack_bin(&pk, recs[b->first + j].buf, recs[b->first + j].len);
	}
	return write_end(out, start);
}

int proto_block_check(const struct proto_block *b, const struct proto_record *rec,
                      uint64_t *prev_seq)
{
	if (memcmp(rec->author, b->author, PROTO_KEY_LEN) != 0)
		return KITH_EVALUE;
	if (rec->seq <= b->after || rec->seq <= *prev_seq)
		return KITH_EVALUE;
	*prev_seq = rec->seq;
	return 0;
}

/* ---- any message ---- */

int proto_msg_type(const uint8_t *buf, size_t len, uint8_t *type)
{
	struct mp_reader r;
	return read_type(&r, buf, len, type);
}

const char *proto_member_state_name(enum proto_member_state s)
{
	static const char *const names[] = {"unknown", "alive", "suspect", "dead", "left"};

	return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "unknown";
}
