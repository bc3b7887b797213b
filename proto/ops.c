/* Arguments and results of the requests between members (see ops.h and
 * docs/protocol.md, section 8).
 *
 * Each is one map with small integer keys, walked with the field reader
 * of the agent messages (codec.h): a repeated key, known or not, is
 * refused, unknown keys are skipped, and nothing may follow the map. There
 * is no version key: an op whose arguments change gets a new name. The
 * value rules live in *_check() functions shared by encoder and decoder;
 * a service's check details are the service record body, read and written
 * by its own codec (body.c). */
#include <string.h>

#include "codec.h"
#include "ops.h"

enum shard_key {
	SHARD_NAME = 1, /* text 1..128, required */
	SHARD_DATA = 2, /* bin 0..PROTO_SHARD_MAX */
};

enum usage_key {
	USAGE_USED = 1,  /* uint, required */
	USAGE_QUOTA = 2, /* uint, required */
};

enum services_key {
	SERVICES_LIST = 1, /* array (<= PROTO_SERVICES_MAX) of entries, default empty */
};

#define ENTRY_ITEMS 2 /* [name, service body] */

/* Unknown values sit inside the op's map, which is one level already. */
#define OP_SKIP_DEPTH (PROTO_DEPTH_MAX - 1)

/* Opens the op's map, refusing before parsing what no message could
 * carry. */
static int open_map(struct mp_reader *r, struct fields *f, const uint8_t *buf, size_t len)
{
	mp_reader_init(r, buf, len);
	if (len > PROTO_MSG_MAX)
		return mp_fail(r, KITH_ETOOBIG);
	return fields_open(r, f);
}

/* Ends an encoding begun at out->data[start]: on error nothing stays. */
static int close_encoding(struct mp_buf *out, size_t start, int rc)
{
	if (!rc)
		rc = out->err;
	if (rc)
		out->len = start;
	return rc;
}

/* ---- shard ---- */

/* Without data the decoder leaves data NULL and len 0, and the encoder
 * writes neither. */
static int shard_check(const struct proto_shard *s)
{
	int rc = check_text(s->name, sizeof(s->name), 1);
	if (rc)
		return rc;
	if (!s->has_data)
		return 0;
	if (s->len > PROTO_SHARD_MAX)
		return KITH_ETOOBIG;
	return s->len && !s->data ? KITH_EVALUE : 0;
}

int proto_shard_decode(struct proto_shard *out, const uint8_t *buf, size_t len)
{
	struct mp_reader r;
	struct fields f;
	uint64_t key;
	memset(out, 0, sizeof(*out));
	open_map(&r, &f, buf, len);
	while (fields_next(&r, &f, &key)) {
		if (key == SHARD_NAME) {
			mp_read_text(&r, out->name, PROTO_SHARD_NAME_MAX);
		} else if (key == SHARD_DATA) {
			mp_read_bin(&r, &out->data, &out->len, PROTO_SHARD_MAX);
			out->has_data = true;
		} else {
			mp_skip(&r, OP_SKIP_DEPTH);
		}
	}
	if (mp_finish(&r))
		return r.err;
	if (!fields_have(&f, SHARD_NAME))
		return KITH_EMISSING;
	return shard_check(out);
}

int proto_shard_encode(struct mp_buf *out, const struct proto_shard *in)
{
	msgpack_packer pk;
	size_t start = out->len;
	int rc = shard_check(in);
	if (rc)
		return rc;
	mp_buf_packer(out, &pk);
	msgpack_pack_map(&pk, 1 + (uint32_t)in->has_data);
	msgpack_pack_uint64(&pk, SHARD_NAME);
	mp_pack_cstr(&pk, in->name);
	if (in->has_data) {
		msgpack_pack_uint64(&pk, SHARD_DATA);
		mp_pack_bin(&pk, in->data, in->len);
	}
	return close_encoding(out, start, 0);
}

/* ---- usage ---- */

/* used may be above quota: a quota can be lowered under what is kept. */
int proto_usage_decode(struct proto_usage *out, const uint8_t *buf, size_t len)
{
	struct mp_reader r;
	struct fields f;
	uint64_t key;
	memset(out, 0, sizeof(*out));
	open_map(&r, &f, buf, len);
	while (fields_next(&r, &f, &key)) {
		if (key == USAGE_USED)
			mp_read_uint(&r, &out->used);
		else if (key == USAGE_QUOTA)
			mp_read_uint(&r, &out->quota);
		else
			mp_skip(&r, OP_SKIP_DEPTH);
	}
	if (mp_finish(&r))
		return r.err;
	if (!fields_have(&f, USAGE_USED) || !fields_have(&f, USAGE_QUOTA))
		return KITH_EMISSING;
	return 0;
}

int proto_usage_encode(struct mp_buf *out, const struct proto_usage *in)
{
	msgpack_packer pk;
	size_t start = out->len;
	mp_buf_packer(out, &pk);
	msgpack_pack_map(&pk, 2);
	msgpack_pack_uint64(&pk, USAGE_USED);
	msgpack_pack_uint64(&pk, in->used);
	msgpack_pack_uint64(&pk, USAGE_QUOTA);
	msgpack_pack_uint64(&pk, in->quota);
	return close_encoding(out, start, 0);
}

/* ---- services ---- */

/* The count and the names; each spec is checked by the service body codec
 * as it is read or written. A name twice would leave its check details to
 * the reader's choice. */
static int services_check(const struct proto_service_entry *entries, size_t n)
{
	if (n > PROTO_SERVICES_MAX)
		return KITH_ETOOBIG;
	for (size_t i = 0; i < n; i++) {
		int rc = check_text(entries[i].name, sizeof(entries[i].name), 1);
		if (rc)
			return rc;
		if (!proto_service_name_ok(entries[i].name, strlen(entries[i].name)))
			return KITH_EVALUE;
		for (size_t j = 0; j < i; j++)
			if (strcmp(entries[i].name, entries[j].name) == 0)
				return KITH_EVALUE;
	}
	return 0;
}

static int read_entry(struct mp_reader *r, struct proto_service_entry *e)
{
	const uint8_t *body;
	size_t len;
	memset(e, 0, sizeof(*e));
	read_tuple(r, ENTRY_ITEMS);
	mp_read_text(r, e->name, PROTO_SERVICE_NAME_MAX);
	if (mp_read_bin(r, &body, &len, PROTO_BODY_MAX))
		return r->err;
	int rc = proto_service_decode(&e->spec, body, len);
	return rc ? mp_fail(r, rc) : 0;
}

static int read_entries(struct mp_reader *r, struct proto_service_entry *entries, size_t cap,
                        uint32_t *n)
{
	if (mp_read_array(r, n, (uint32_t)min_size(cap, PROTO_SERVICES_MAX)))
		return r->err;
	for (uint32_t i = 0; i < *n && !r->err; i++)
		read_entry(r, &entries[i]);
	return r->err;
}

int proto_services_decode(struct proto_service_entry *entries, size_t cap, size_t *n,
                          const uint8_t *buf, size_t len)
{
	struct mp_reader r;
	struct fields f;
	uint64_t key;
	uint32_t count = 0;
	*n = 0;
	open_map(&r, &f, buf, len);
	while (fields_next(&r, &f, &key)) {
		if (key == SERVICES_LIST)
			read_entries(&r, entries, cap, &count);
		else
			mp_skip(&r, OP_SKIP_DEPTH);
	}
	if (mp_finish(&r))
		return r.err;
	int rc = services_check(entries, count);
	if (!rc)
		*n = count;
	return rc;
}

/* Each body goes through the service encoder into one scratch buffer,
 * then into out as a bin. */
int proto_services_encode(struct mp_buf *out, const struct proto_service_entry *entries, size_t n)
{
	msgpack_packer pk;
	struct mp_buf body = {0};
	size_t start = out->len;
	int rc = services_check(entries, n);
	if (rc)
		return rc;
	mp_buf_packer(out, &pk);
	msgpack_pack_map(&pk, n > 0);
	if (n > 0) {
		msgpack_pack_uint64(&pk, SERVICES_LIST);
		msgpack_pack_array(&pk, (uint32_t)n);
	}
	for (size_t i = 0; i < n && !rc; i++) {
		body.len = 0;
		rc = proto_service_encode(&body, &entries[i].spec);
		if (rc)
			break;
		msgpack_pack_array(&pk, ENTRY_ITEMS);
		mp_pack_cstr(&pk, entries[i].name);
		mp_pack_bin(&pk, body.data, body.len);
	}
	mp_buf_free(&body);
	return close_encoding(out, start, rc);
}
