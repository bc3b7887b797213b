/* JOIN, JOIN_REPLY, REQUEST and RESPONSE (see wire.h and docs/protocol.md,
 * sections 7.6 and 7.7), written as wire.c writes the other messages: the
 * shared opening and field walk of codec.h, each decoder reading its own
 * keys, and the value rules in *_check() functions that the encoders run
 * on their input and the decoders on what they read. */
#include <string.h>

#include "codec.h"
#include "wire.h"

enum join_key {
	JOIN_INVITE_ID = 1,     /* bin 16; present with proof or not at all */
	JOIN_PROOF = 2,         /* bin 32; present with invite_id or not at all */
	JOIN_MEMBER_RECORD = 3, /* bin 1..PROTO_RECORD_MAX, required */
};

enum join_reply_key {
	JOIN_REPLY_STATUS = 1,  /* uint 0..3, required */
	JOIN_REPLY_REASON = 2,  /* text 0..255 */
	JOIN_REPLY_FOUNDER = 3, /* bin 32; required with status OK, refused otherwise */
	JOIN_REPLY_RECORDS = 4, /* array (<= PROTO_MSG_RECORDS_MAX) of bin; status OK only */
};

enum request_key {
	REQUEST_ID = 1,   /* uint32, required */
	REQUEST_OP = 2,   /* text 1..31 of a-z and '.', required */
	REQUEST_ARGS = 3, /* bin 1..PROTO_MSG_MAX */
};

enum response_key {
	RESPONSE_ID = 1,     /* uint32, required */
	RESPONSE_STATUS = 2, /* uint 0..6, required */
	RESPONSE_REASON = 3, /* text 0..255 */
	RESPONSE_RESULT = 4, /* bin 1..PROTO_MSG_MAX */
};

/* ---- shared value rules ---- */

/* An unsigned integer of at most max. */
static int read_status(struct mp_reader *r, unsigned max, unsigned *out)
{
	uint64_t v;
	if (mp_read_uint(r, &v))
		return r->err;
	if (v > max)
		return mp_fail(r, KITH_EVALUE);
	*out = (unsigned)v;
	return 0;
}

/* An optional bin: absent is the one way to say none, so an empty one is
 * refused and the struct's len 0 means absent. */
static int read_optional_bin(struct mp_reader *r, const uint8_t **b, size_t *len, size_t max)
{
	if (mp_read_bin(r, b, len, max))
		return r->err;
	return *len ? 0 : mp_fail(r, KITH_EVALUE);
}

/* Borrowed bytes of len (0: none) of at most max. */
static int check_bytes(const uint8_t *b, size_t len, size_t max)
{
	if (len > max)
		return KITH_ETOOBIG;
	return len && !b ? KITH_EVALUE : 0;
}

static bool op_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || c == '.';
}

/* An op name: 1..PROTO_OP_MAX characters of a-z and '.'. */
static int check_op(const char *op, size_t size)
{
	size_t len = strnlen(op, size);
	if (len == size)
		return KITH_ETOOBIG;
	if (len == 0)
		return KITH_EVALUE;
	for (size_t i = 0; i < len; i++)
		if (!op_char_ok(op[i]))
			return KITH_EVALUE;
	return 0;
}

/* ---- JOIN ---- */

static int join_check(const struct proto_join *j)
{
	if (j->member_record_len > PROTO_RECORD_MAX)
		return KITH_ETOOBIG;
	if (!j->member_record || j->member_record_len == 0)
		return KITH_EMISSING;
	return 0;
}

int proto_join_decode(struct proto_join *out, const uint8_t *buf, size_t len)
{
	struct mp_reader r;
	struct fields f;
	uint64_t key;
	memset(out, 0, sizeof(*out));
	if (read_type_is(&r, buf, len, PROTO_MSG_JOIN))
		return r.err;
	fields_open(&r, &f);
	while (fields_next(&r, &f, &key)) {
		switch (key) {
		case JOIN_INVITE_ID:
			mp_read_bin_exact(&r, out->invite_id, PROTO_INVITE_ID_LEN);
			break;
		case JOIN_PROOF:
			mp_read_bin_exact(&r, out->proof, PROTO_PROOF_LEN);
			break;
		case JOIN_MEMBER_RECORD:
			read_optional_bin(&r, &out->member_record, &out->member_record_len,
			                  PROTO_RECORD_MAX);
			break;
		default:
			mp_skip(&r, MSG_SKIP_DEPTH);
		}
	}
	if (mp_finish(&r))
		return r.err;
	out->has_invite = fields_have(&f, JOIN_INVITE_ID);
	if (out->has_invite != fields_have(&f, JOIN_PROOF))
		return KITH_EMISSING; /* an invitation needs its proof, a proof its invitation */
	return join_check(out);
}

int proto_join_encode(struct mp_buf *out, const struct proto_join *in)
{
	msgpack_packer pk;
	size_t start = out->len;
	int rc = join_check(in);
	if (rc)
		return rc;
	write_begin(&pk, out, PROTO_MSG_JOIN, 1 + 2 * (uint32_t)in->has_invite);
	if (in->has_invite) {
		msgpack_pack_uint64(&pk, JOIN_INVITE_ID);
		mp_pack_bin(&pk, in->invite_id, PROTO_INVITE_ID_LEN);
		msgpack_pack_uint64(&pk, JOIN_PROOF);
		mp_pack_bin(&pk, in->proof, PROTO_PROOF_LEN);
	}
	msgpack_pack_uint64(&pk, JOIN_MEMBER_RECORD);
	mp_pack_bin(&pk, in->member_record, in->member_record_len);
	return write_end(out, start);
}

/* ---- JOIN_REPLY ---- */

/* The founder is judged by the decoder from the keys it saw; in the
 * struct it is simply ignored unless the status is OK. */
static int join_reply_check(const struct proto_join_reply *in, const struct proto_recref *recs,
                            size_t n)
{
	int rc;
	if ((unsigned)in->status > PROTO_JOIN_ERROR)
		return KITH_EVALUE;
	rc = check_text(in->reason, sizeof(in->reason), 0);
	if (rc)
		return rc;
	if (n > PROTO_MSG_RECORDS_MAX)
		return KITH_ETOOBIG;
	if (n > 0 && in->status != PROTO_JOIN_OK)
		return KITH_EVALUE; /* records come with a welcome only */
	for (size_t i = 0; i < n; i++) {
		rc = check_bytes(recs[i].buf, recs[i].len, PROTO_RECORD_MAX);
		if (rc)
			return rc;
	}
	return 0;
}

static int read_reply_records(struct mp_reader *r, struct proto_recref *recs, size_t cap,
                              uint32_t *n)
{
	if (mp_read_array(r, n, (uint32_t)min_size(cap, PROTO_MSG_RECORDS_MAX)))
		return r->err;
	for (uint32_t i = 0; i < *n && !r->err; i++)
		mp_read_bin(r, &recs[i].buf, &recs[i].len, PROTO_RECORD_MAX);
	return r->err;
}

int proto_join_reply_decode(struct proto_join_reply *out, struct proto_recref *recs, size_t cap,
                            size_t *n, const uint8_t *buf, size_t len)
{
	struct mp_reader r;
	struct fields f;
	uint64_t key;
	uint32_t count = 0;
	unsigned status = 0;
	memset(out, 0, sizeof(*out));
	*n = 0;
	if (read_type_is(&r, buf, len, PROTO_MSG_JOIN_REPLY))
		return r.err;
	fields_open(&r, &f);
	while (fields_next(&r, &f, &key)) {
		switch (key) {
		case JOIN_REPLY_STATUS:
			read_status(&r, PROTO_JOIN_ERROR, &status);
			break;
		case JOIN_REPLY_REASON:
			mp_read_text(&r, out->reason, PROTO_REASON_TEXT_MAX);
			break;
		case JOIN_REPLY_FOUNDER:
			mp_read_bin_exact(&r, out->founder, PROTO_KEY_LEN);
			break;
		case JOIN_REPLY_RECORDS:
			read_reply_records(&r, recs, cap, &count);
			break;
		default:
			mp_skip(&r, MSG_SKIP_DEPTH);
		}
	}
	if (mp_finish(&r))
		return r.err;
	out->status = (enum proto_join_status)status;
	if (!fields_have(&f, JOIN_REPLY_STATUS))
		return KITH_EMISSING;
	if (fields_have(&f, JOIN_REPLY_FOUNDER) != (out->status == PROTO_JOIN_OK))
		return out->status == PROTO_JOIN_OK ? KITH_EMISSING : KITH_EVALUE;
	int rc = join_reply_check(out, recs, count);
	if (!rc)
		*n = count;
	return rc;
}

int proto_join_reply_encode(struct mp_buf *out, const struct proto_join_reply *in,
                            const struct proto_recref *recs, size_t n)
{
	msgpack_packer pk;
	size_t start = out->len;
	bool ok = in->status == PROTO_JOIN_OK;
	int rc = join_reply_check(in, recs, n);
	if (rc)
		return rc;
	write_begin(&pk, out, PROTO_MSG_JOIN_REPLY,
	            1 + (uint32_t)(in->reason[0] != '\0') + (uint32_t)ok + (uint32_t)(n > 0));
	msgpack_pack_uint64(&pk, JOIN_REPLY_STATUS);
	msgpack_pack_uint64(&pk, (uint64_t)in->status);
	if (in->reason[0]) {
		msgpack_pack_uint64(&pk, JOIN_REPLY_REASON);
		mp_pack_cstr(&pk, in->reason);
	}
	if (ok) {
		msgpack_pack_uint64(&pk, JOIN_REPLY_FOUNDER);
		mp_pack_bin(&pk, in->founder, PROTO_KEY_LEN);
	}
	if (n > 0) {
		msgpack_pack_uint64(&pk, JOIN_REPLY_RECORDS);
		msgpack_pack_array(&pk, (uint32_t)n);
		for (size_t i = 0; i < n; i++)
			mp_pack_bin(&pk, recs[i].buf, recs[i].len);
	}
	return write_end(out, start);
}

/* ---- REQUEST ---- */

static int request_check(const struct proto_request *in)
{
	int rc = check_op(in->op, sizeof(in->op));
	if (!rc)
		rc = check_bytes(in->args, in->args_len, PROTO_MSG_MAX);
	return rc;
}

int proto_request_decode(struct proto_request *out, const uint8_t *buf, size_t len)
{
	struct mp_reader r;
	struct fields f;
	uint64_t key;
	memset(out, 0, sizeof(*out));
	if (read_type_is(&r, buf, len, PROTO_MSG_REQUEST))
		return r.err;
	fields_open(&r, &f);
	while (fields_next(&r, &f, &key)) {
		switch (key) {
		case REQUEST_ID:
			read_u32(&r, &out->id);
			break;
		case REQUEST_OP:
			mp_read_text(&r, out->op, PROTO_OP_MAX);
			break;
		case REQUEST_ARGS:
			read_optional_bin(&r, &out->args, &out->args_len, PROTO_MSG_MAX);
			break;
		default:
			mp_skip(&r, MSG_SKIP_DEPTH);
		}
	}
	if (mp_finish(&r))
		return r.err;
	if (!fields_have(&f, REQUEST_ID) || !fields_have(&f, REQUEST_OP))
		return KITH_EMISSING;
	return request_check(out);
}

int proto_request_encode(struct mp_buf *out, const struct proto_request *in)
{
	msgpack_packer pk;
	size_t start = out->len;
	int rc = request_check(in);
	if (rc)
		return rc;
	write_begin(&pk, out, PROTO_MSG_REQUEST, 2 + (uint32_t)(in->args_len > 0));
	msgpack_pack_uint64(&pk, REQUEST_ID);
	msgpack_pack_uint64(&pk, in->id);
	msgpack_pack_uint64(&pk, REQUEST_OP);
	mp_pack_cstr(&pk, in->op);
	if (in->args_len) {
		msgpack_pack_uint64(&pk, REQUEST_ARGS);
		mp_pack_bin(&pk, in->args, in->args_len);
	}
	return write_end(out, start);
}

/* ---- RESPONSE ---- */

static int response_check(const struct proto_response *in)
{
	if ((unsigned)in->status > PROTO_RESPONSE_BUSY)
		return KITH_EVALUE;
	int rc = check_text(in->reason, sizeof(in->reason), 0);
	if (!rc)
		rc = check_bytes(in->result, in->result_len, PROTO_MSG_MAX);
	return rc;
}

int proto_response_decode(struct proto_response *out, const uint8_t *buf, size_t len)
{
	struct mp_reader r;
	struct fields f;
	uint64_t key;
	unsigned status = 0;
	memset(out, 0, sizeof(*out));
	if (read_type_is(&r, buf, len, PROTO_MSG_RESPONSE))
		return r.err;
	fields_open(&r, &f);
	while (fields_next(&r, &f, &key)) {
		switch (key) {
		case RESPONSE_ID:
			read_u32(&r, &out->id);
			break;
		case RESPONSE_STATUS:
			read_status(&r, PROTO_RESPONSE_BUSY, &status);
			break;
		case RESPONSE_REASON:
			mp_read_text(&r, out->reason, PROTO_REASON_TEXT_MAX);
			break;
		case RESPONSE_RESULT:
			read_optional_bin(&r, &out->result, &out->result_len, PROTO_MSG_MAX);
			break;
		default:
			mp_skip(&r, MSG_SKIP_DEPTH);
		}
	}
	if (mp_finish(&r))
		return r.err;
	out->status = (enum proto_response_status)status;
	if (!fields_have(&f, RESPONSE_ID) || !fields_have(&f, RESPONSE_STATUS))
		return KITH_EMISSING;
	return response_check(out);
}

int proto_response_encode(struct mp_buf *out, const struct proto_response *in)
{
	msgpack_packer pk;
	size_t start = out->len;
	int rc = response_check(in);
	if (rc)
		return rc;
	write_begin(&pk, out, PROTO_MSG_RESPONSE,
	            2 + (uint32_t)(in->reason[0] != '\0') + (uint32_t)(in->result_len > 0));
	msgpack_pack_uint64(&pk, RESPONSE_ID);
	msgpack_pack_uint64(&pk, in->id);
	msgpack_pack_uint64(&pk, RESPONSE_STATUS);
	msgpack_pack_uint64(&pk, (uint64_t)in->status);
	if (in->reason[0]) {
		msgpack_pack_uint64(&pk, RESPONSE_REASON);
		mp_pack_cstr(&pk, in->reason);
	}
	if (in->result_len) {
		msgpack_pack_uint64(&pk, RESPONSE_RESULT);
		mp_pack_bin(&pk, in->result, in->result_len);
	}
	return write_end(out, start);
}
