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
#include <assert.h>
#include <string.h>

#include "codec.h"
#include "identity.h"
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

/* hold.*: each struct's keys; all required unless said. */
enum hold_key {
	HOLD_NAME = 1,         /* open, write, name, read: text, a valid name */
	HOLD_OPEN_SIZE = 2,    /* uint <= PROTO_HOLD_SIZE_MAX */
	HOLD_OPEN_HASH = 3,    /* bin 32 */
	HOLD_WRITE_OFFSET = 2, /* uint, offset + len <= PROTO_HOLD_SIZE_MAX */
	HOLD_WRITE_DATA = 3,   /* bin 1..PROTO_HOLD_PIECE_MAX */
	HOLD_WRITTEN = 1,      /* uint <= PROTO_HOLD_SIZE_MAX */
	HOLD_RECEIPT_SIG = 1,  /* bin 64 */
	HOLD_RECEIPT_TIME = 2, /* uint */
	HOLD_READ_OFFSET = 2,  /* uint <= PROTO_HOLD_SIZE_MAX */
	HOLD_READ_LEN = 3,     /* uint 1..PROTO_HOLD_PIECE_MAX */
	HOLD_DATA_DATA = 1,    /* bin 0..PROTO_HOLD_PIECE_MAX */
	HOLD_DATA_SIZE = 2,    /* uint <= PROTO_HOLD_SIZE_MAX, >= the data's length */
	HOLD_AFTER = 1,        /* text, a valid name; optional */
	HOLD_LIST = 1,         /* array of entry maps, <= PROTO_HOLD_LIST_MAX; default empty */
	HOLD_LIST_MORE = 2,    /* bool, default false; true only after an entry */
	HOLD_ENTRY_NAME = 1,   /* in an entry map: text, a valid name */
	HOLD_ENTRY_SIZE = 2,   /* uint <= PROTO_HOLD_SIZE_MAX */
	HOLD_ENTRY_HASH = 3,   /* bin 32 */
	HOLD_ENTRY_STATE = 4,  /* uint <= PROTO_HOLD_STATE_MAX; default PROTO_HOLD_KEPT */
};

/* Unknown values sit inside the op's map, which is one level already. */
#define OP_SKIP_DEPTH (PROTO_DEPTH_MAX - 1)
/* ...and inside a hold.list entry: op map, list array, entry map. */
#define ENTRY_SKIP_DEPTH (PROTO_DEPTH_MAX - 3)

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

/* ---- hold ---- */

bool proto_hold_name_ok(const char *name, size_t len)
{
	if (!name || len == 0 || len > PROTO_HOLD_NAME_MAX || name[0] == '.')
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || c == '.' ||
		          c == '_' || c == '-';
		if (!ok || (c == '.' && i + 1 < len && name[i + 1] == '.'))
			return false;
	}
	return true;
}

/* A name in an array of PROTO_HOLD_NAME_MAX + 1 bytes, which may lack its
 * NUL: KITH_ETOOBIG then, as the decoder says of 129 bytes. */
static int name_check(const char *name)
{
	size_t len = strnlen(name, PROTO_HOLD_NAME_MAX + 1);
	if (len > PROTO_HOLD_NAME_MAX)
		return KITH_ETOOBIG;
	return proto_hold_name_ok(name, len) ? 0 : KITH_EVALUE;
}

static int size_check(uint64_t size)
{
	return size > PROTO_HOLD_SIZE_MAX ? KITH_ETOOBIG : 0;
}

/* A piece of len bytes at data, 1..max of them (0 allowed with empty_ok). */
static int piece_check(const uint8_t *data, size_t len, bool empty_ok)
{
	if (len > PROTO_HOLD_PIECE_MAX)
		return KITH_ETOOBIG;
	if (!len)
		return empty_ok ? 0 : KITH_EVALUE;
	return data ? 0 : KITH_EVALUE;
}

/* Ends a decoder: the reader's error, then the required keys (req, a bit
 * per key), then the value rules (rc of the struct's check). */
static int finish(struct mp_reader *r, const struct fields *f, unsigned req)
{
	if (mp_finish(r))
		return r->err;
	for (uint64_t key = 1; req >> key; key++)
		if ((req >> key & 1) && !fields_have(f, key))
			return KITH_EMISSING;
	return 0;
}

#define KEY(k) (1u << (k))

/* hold.open */

static int hold_open_check(const struct proto_hold_open *h)
{
	int rc = name_check(h->name);
	return rc ? rc : size_check(h->size);
}

int proto_hold_open_decode(struct proto_hold_open *out, const uint8_t *buf, size_t len)
{
	struct mp_reader r;
	struct fields f;
	uint64_t key;
	memset(out, 0, sizeof(*out));
	open_map(&r, &f, buf, len);
	while (fields_next(&r, &f, &key)) {
		if (key == HOLD_NAME)
			mp_read_text(&r, out->name, PROTO_HOLD_NAME_MAX);
		else if (key == HOLD_OPEN_SIZE)
			mp_read_uint(&r, &out->size);
		else if (key == HOLD_OPEN_HASH)
			mp_read_bin_exact(&r, out->hash, PROTO_HOLD_HASH_LEN);
		else
			mp_skip(&r, OP_SKIP_DEPTH);
	}
	int rc = finish(&r, &f, KEY(HOLD_NAME) | KEY(HOLD_OPEN_SIZE) | KEY(HOLD_OPEN_HASH));
	return rc ? rc : hold_open_check(out);
}

int proto_hold_open_encode(struct mp_buf *out, const struct proto_hold_open *in)
{
	msgpack_packer pk;
	size_t start = out->len;
	int rc = hold_open_check(in);
	if (rc)
		return rc;
	mp_buf_packer(out, &pk);
	msgpack_pack_map(&pk, 3);
	msgpack_pack_uint64(&pk, HOLD_NAME);
	mp_pack_cstr(&pk, in->name);
	msgpack_pack_uint64(&pk, HOLD_OPEN_SIZE);
	msgpack_pack_uint64(&pk, in->size);
	msgpack_pack_uint64(&pk, HOLD_OPEN_HASH);
	mp_pack_bin(&pk, in->hash, PROTO_HOLD_HASH_LEN);
	return close_encoding(out, start, 0);
}

/* hold.write */

/* offset <= PROTO_HOLD_SIZE_MAX is checked first, so the sum cannot wrap. */
static int hold_write_check(const struct proto_hold_write *h)
{
	int rc = name_check(h->name);
	if (!rc)
		rc = piece_check(h->data, h->len, false);
	if (!rc && (size_check(h->offset) || h->len > PROTO_HOLD_SIZE_MAX - h->offset))
		rc = KITH_ETOOBIG;
	return rc;
}

int proto_hold_write_decode(struct proto_hold_write *out, const uint8_t *buf, size_t len)
{
	struct mp_reader r;
	struct fields f;
	uint64_t key;
	memset(out, 0, sizeof(*out));
	open_map(&r, &f, buf, len);
	while (fields_next(&r, &f, &key)) {
		if (key == HOLD_NAME)
			mp_read_text(&r, out->name, PROTO_HOLD_NAME_MAX);
		else if (key == HOLD_WRITE_OFFSET)
			mp_read_uint(&r, &out->offset);
		else if (key == HOLD_WRITE_DATA)
			mp_read_bin(&r, &out->data, &out->len, PROTO_HOLD_PIECE_MAX);
		else
			mp_skip(&r, OP_SKIP_DEPTH);
	}
	int rc = finish(&r, &f, KEY(HOLD_NAME) | KEY(HOLD_WRITE_OFFSET) | KEY(HOLD_WRITE_DATA));
	return rc ? rc : hold_write_check(out);
}

int proto_hold_write_encode(struct mp_buf *out, const struct proto_hold_write *in)
{
	msgpack_packer pk;
	size_t start = out->len;
	int rc = hold_write_check(in);
	if (rc)
		return rc;
	mp_buf_packer(out, &pk);
	msgpack_pack_map(&pk, 3);
	msgpack_pack_uint64(&pk, HOLD_NAME);
	mp_pack_cstr(&pk, in->name);
	msgpack_pack_uint64(&pk, HOLD_WRITE_OFFSET);
	msgpack_pack_uint64(&pk, in->offset);
	msgpack_pack_uint64(&pk, HOLD_WRITE_DATA);
	mp_pack_bin(&pk, in->data, in->len);
	return close_encoding(out, start, 0);
}

/* hold.write result */

int proto_hold_written_decode(struct proto_hold_written *out, const uint8_t *buf, size_t len)
{
	struct mp_reader r;
	struct fields f;
	uint64_t key;
	memset(out, 0, sizeof(*out));
	open_map(&r, &f, buf, len);
	while (fields_next(&r, &f, &key)) {
		if (key == HOLD_WRITTEN)
			mp_read_uint(&r, &out->written);
		else
			mp_skip(&r, OP_SKIP_DEPTH);
	}
	int rc = finish(&r, &f, KEY(HOLD_WRITTEN));
	return rc ? rc : size_check(out->written);
}

int proto_hold_written_encode(struct mp_buf *out, const struct proto_hold_written *in)
{
	msgpack_packer pk;
	size_t start = out->len;
	int rc = size_check(in->written);
	if (rc)
		return rc;
	mp_buf_packer(out, &pk);
	msgpack_pack_map(&pk, 1);
	msgpack_pack_uint64(&pk, HOLD_WRITTEN);
	msgpack_pack_uint64(&pk, in->written);
	return close_encoding(out, start, 0);
}

/* hold.commit and hold.del args */

int proto_hold_name_decode(struct proto_hold_name *out, const uint8_t *buf, size_t len)
{
	struct mp_reader r;
	struct fields f;
	uint64_t key;
	memset(out, 0, sizeof(*out));
	open_map(&r, &f, buf, len);
	while (fields_next(&r, &f, &key)) {
		if (key == HOLD_NAME)
			mp_read_text(&r, out->name, PROTO_HOLD_NAME_MAX);
		else
			mp_skip(&r, OP_SKIP_DEPTH);
	}
	int rc = finish(&r, &f, KEY(HOLD_NAME));
	return rc ? rc : name_check(out->name);
}

int proto_hold_name_encode(struct mp_buf *out, const struct proto_hold_name *in)
{
	msgpack_packer pk;
	size_t start = out->len;
	int rc = name_check(in->name);
	if (rc)
		return rc;
	mp_buf_packer(out, &pk);
	msgpack_pack_map(&pk, 1);
	msgpack_pack_uint64(&pk, HOLD_NAME);
	mp_pack_cstr(&pk, in->name);
	return close_encoding(out, start, 0);
}

/* hold.commit result */

int proto_hold_receipt_decode(struct proto_hold_receipt *out, const uint8_t *buf, size_t len)
{
	struct mp_reader r;
	struct fields f;
	uint64_t key;
	memset(out, 0, sizeof(*out));
	open_map(&r, &f, buf, len);
	while (fields_next(&r, &f, &key)) {
		if (key == HOLD_RECEIPT_SIG)
			mp_read_bin_exact(&r, out->sig, PROTO_SIG_LEN);
		else if (key == HOLD_RECEIPT_TIME)
			mp_read_uint(&r, &out->time);
		else
			mp_skip(&r, OP_SKIP_DEPTH);
	}
	return finish(&r, &f, KEY(HOLD_RECEIPT_SIG) | KEY(HOLD_RECEIPT_TIME));
}

int proto_hold_receipt_encode(struct mp_buf *out, const struct proto_hold_receipt *in)
{
	msgpack_packer pk;
	size_t start = out->len;
	mp_buf_packer(out, &pk);
	msgpack_pack_map(&pk, 2);
	msgpack_pack_uint64(&pk, HOLD_RECEIPT_SIG);
	mp_pack_bin(&pk, in->sig, PROTO_SIG_LEN);
	msgpack_pack_uint64(&pk, HOLD_RECEIPT_TIME);
	msgpack_pack_uint64(&pk, in->time);
	return close_encoding(out, start, 0);
}

/* hold.read */

static int hold_read_check(const struct proto_hold_read *h)
{
	int rc = name_check(h->name);
	if (!rc)
		rc = size_check(h->offset);
	if (!rc && h->len > PROTO_HOLD_PIECE_MAX)
		rc = KITH_ETOOBIG;
	if (!rc && h->len == 0)
		rc = KITH_EVALUE;
	return rc;
}

int proto_hold_read_decode(struct proto_hold_read *out, const uint8_t *buf, size_t len)
{
	struct mp_reader r;
	struct fields f;
	uint64_t key, n = 0;
	memset(out, 0, sizeof(*out));
	open_map(&r, &f, buf, len);
	while (fields_next(&r, &f, &key)) {
		if (key == HOLD_NAME)
			mp_read_text(&r, out->name, PROTO_HOLD_NAME_MAX);
		else if (key == HOLD_READ_OFFSET)
			mp_read_uint(&r, &out->offset);
		else if (key == HOLD_READ_LEN)
			mp_read_uint(&r, &n);
		else
			mp_skip(&r, OP_SKIP_DEPTH);
	}
	/* Anything over the piece is refused below, whatever its width. */
	out->len = n > PROTO_HOLD_PIECE_MAX ? PROTO_HOLD_PIECE_MAX + 1 : (uint32_t)n;
	int rc = finish(&r, &f, KEY(HOLD_NAME) | KEY(HOLD_READ_OFFSET) | KEY(HOLD_READ_LEN));
	return rc ? rc : hold_read_check(out);
}

int proto_hold_read_encode(struct mp_buf *out, const struct proto_hold_read *in)
{
	msgpack_packer pk;
	size_t start = out->len;
	int rc = hold_read_check(in);
	if (rc)
		return rc;
	mp_buf_packer(out, &pk);
	msgpack_pack_map(&pk, 3);
	msgpack_pack_uint64(&pk, HOLD_NAME);
	mp_pack_cstr(&pk, in->name);
	msgpack_pack_uint64(&pk, HOLD_READ_OFFSET);
	msgpack_pack_uint64(&pk, in->offset);
	msgpack_pack_uint64(&pk, HOLD_READ_LEN);
	msgpack_pack_uint64(&pk, in->len);
	return close_encoding(out, start, 0);
}

/* hold.read result */

static int hold_data_check(const struct proto_hold_data *h)
{
	int rc = piece_check(h->data, h->len, true);
	if (!rc)
		rc = size_check(h->size);
	if (!rc && h->len > h->size)
		rc = KITH_EVALUE;
	return rc;
}

int proto_hold_data_decode(struct proto_hold_data *out, const uint8_t *buf, size_t len)
{
	struct mp_reader r;
	struct fields f;
	uint64_t key;
	memset(out, 0, sizeof(*out));
	open_map(&r, &f, buf, len);
	while (fields_next(&r, &f, &key)) {
		if (key == HOLD_DATA_DATA)
			mp_read_bin(&r, &out->data, &out->len, PROTO_HOLD_PIECE_MAX);
		else if (key == HOLD_DATA_SIZE)
			mp_read_uint(&r, &out->size);
		else
			mp_skip(&r, OP_SKIP_DEPTH);
	}
	int rc = finish(&r, &f, KEY(HOLD_DATA_DATA) | KEY(HOLD_DATA_SIZE));
	return rc ? rc : hold_data_check(out);
}

int proto_hold_data_encode(struct mp_buf *out, const struct proto_hold_data *in)
{
	msgpack_packer pk;
	size_t start = out->len;
	int rc = hold_data_check(in);
	if (rc)
		return rc;
	mp_buf_packer(out, &pk);
	msgpack_pack_map(&pk, 2);
	msgpack_pack_uint64(&pk, HOLD_DATA_DATA);
	mp_pack_bin(&pk, in->data, in->len);
	msgpack_pack_uint64(&pk, HOLD_DATA_SIZE);
	msgpack_pack_uint64(&pk, in->size);
	return close_encoding(out, start, 0);
}

/* hold.list args */

static int hold_list_args_check(const struct proto_hold_list_args *h)
{
	return h->has_after ? name_check(h->after) : 0;
}

int proto_hold_list_args_decode(struct proto_hold_list_args *out, const uint8_t *buf, size_t len)
{
	struct mp_reader r;
	struct fields f;
	uint64_t key;
	memset(out, 0, sizeof(*out));
	open_map(&r, &f, buf, len);
	while (fields_next(&r, &f, &key)) {
		if (key == HOLD_AFTER) {
			mp_read_text(&r, out->after, PROTO_HOLD_NAME_MAX);
			out->has_after = true;
		} else {
			mp_skip(&r, OP_SKIP_DEPTH);
		}
	}
	int rc = finish(&r, &f, 0);
	return rc ? rc : hold_list_args_check(out);
}

int proto_hold_list_args_encode(struct mp_buf *out, const struct proto_hold_list_args *in)
{
	msgpack_packer pk;
	size_t start = out->len;
	int rc = hold_list_args_check(in);
	if (rc)
		return rc;
	mp_buf_packer(out, &pk);
	msgpack_pack_map(&pk, in->has_after);
	if (in->has_after) {
		msgpack_pack_uint64(&pk, HOLD_AFTER);
		mp_pack_cstr(&pk, in->after);
	}
	return close_encoding(out, start, 0);
}

/* hold.list result */

/* Names strictly increasing, so none twice and the next page is after the
 * last; more only with an entry to go on from. */
static int hold_list_check(const struct proto_hold_list *h)
{
	if (h->n > PROTO_HOLD_LIST_MAX)
		return KITH_ETOOBIG;
	if (h->more && h->n == 0)
		return KITH_EVALUE;
	for (size_t i = 0; i < h->n; i++) {
		const struct proto_hold_entry *e = &h->entries[i];
		int rc = name_check(e->name);
		if (!rc)
			rc = size_check(e->size);
		if (rc)
			return rc;
		if ((unsigned)e->state > PROTO_HOLD_STATE_MAX)
			return KITH_EVALUE;
		if (i > 0 && strcmp(h->entries[i - 1].name, e->name) >= 0)
			return KITH_EVALUE;
	}
	return 0;
}

static int read_hold_entry(struct mp_reader *r, struct proto_hold_entry *e)
{
	struct fields f;
	uint64_t key, state = PROTO_HOLD_KEPT;
	memset(e, 0, sizeof(*e));
	fields_open(r, &f);
	while (fields_next(r, &f, &key)) {
		if (key == HOLD_ENTRY_NAME)
			mp_read_text(r, e->name, PROTO_HOLD_NAME_MAX);
		else if (key == HOLD_ENTRY_SIZE)
			mp_read_uint(r, &e->size);
		else if (key == HOLD_ENTRY_HASH)
			mp_read_bin_exact(r, e->hash, PROTO_HOLD_HASH_LEN);
		else if (key == HOLD_ENTRY_STATE)
			mp_read_uint(r, &state);
		else
			mp_skip(r, ENTRY_SKIP_DEPTH);
	}
	if (r->err)
		return r->err;
	if (!fields_have(&f, HOLD_ENTRY_NAME) || !fields_have(&f, HOLD_ENTRY_SIZE) ||
	    !fields_have(&f, HOLD_ENTRY_HASH))
		return mp_fail(r, KITH_EMISSING);
	if (state > PROTO_HOLD_STATE_MAX)
		return mp_fail(r, KITH_EVALUE);
	e->state = (enum proto_hold_state)state;
	return 0;
}

int proto_hold_list_decode(struct proto_hold_list *out, const uint8_t *buf, size_t len)
{
	struct mp_reader r;
	struct fields f;
	uint64_t key;
	uint32_t n = 0;
	out->n = 0;
	out->more = false;
	open_map(&r, &f, buf, len);
	while (fields_next(&r, &f, &key)) {
		if (key == HOLD_LIST) {
			if (mp_read_array(&r, &n, PROTO_HOLD_LIST_MAX))
				break;
			for (uint32_t i = 0; i < n && !r.err; i++)
				read_hold_entry(&r, &out->entries[i]);
		} else if (key == HOLD_LIST_MORE) {
			mp_read_bool(&r, &out->more);
		} else {
			mp_skip(&r, OP_SKIP_DEPTH);
		}
	}
	out->n = n;
	int rc = finish(&r, &f, 0);
	if (!rc)
		rc = hold_list_check(out);
	if (rc) {
		out->n = 0;
		out->more = false;
	}
	return rc;
}

int proto_hold_list_encode(struct mp_buf *out, const struct proto_hold_list *in)
{
	msgpack_packer pk;
	size_t start = out->len;
	int rc = hold_list_check(in);
	if (rc)
		return rc;
	mp_buf_packer(out, &pk);
	msgpack_pack_map(&pk, (uint32_t)(in->n > 0) + in->more);
	if (in->n > 0) {
		msgpack_pack_uint64(&pk, HOLD_LIST);
		msgpack_pack_array(&pk, (uint32_t)in->n);
	}
	for (size_t i = 0; i < in->n; i++) {
		const struct proto_hold_entry *e = &in->entries[i];
		msgpack_pack_map(&pk, 3 + (e->state != PROTO_HOLD_KEPT));
		msgpack_pack_uint64(&pk, HOLD_ENTRY_NAME);
		mp_pack_cstr(&pk, e->name);
		msgpack_pack_uint64(&pk, HOLD_ENTRY_SIZE);
		msgpack_pack_uint64(&pk, e->size);
		msgpack_pack_uint64(&pk, HOLD_ENTRY_HASH);
		mp_pack_bin(&pk, e->hash, PROTO_HOLD_HASH_LEN);
		if (e->state != PROTO_HOLD_KEPT) {
			msgpack_pack_uint64(&pk, HOLD_ENTRY_STATE);
			msgpack_pack_uint64(&pk, (uint64_t)e->state);
		}
	}
	if (in->more) {
		msgpack_pack_uint64(&pk, HOLD_LIST_MORE);
		msgpack_pack_true(&pk);
	}
	return close_encoding(out, start, 0);
}

/* ---- hold receipt ---- */

static_assert(sizeof(PROTO_HOLD_RECEIPT_DOMAIN) == PROTO_HOLD_RECEIPT_DOMAIN_LEN,
              "the signature domain includes its NUL");

/* owner, holder, name length, name, size, hash, time. */
#define STATEMENT_MAX (2 * PROTO_KEY_LEN + 1 + PROTO_HOLD_NAME_MAX + 8 + PROTO_HOLD_HASH_LEN + 8)

static void put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

/* Writes the signed statement into out and its length into *len, after
 * the rules the decoders apply to the name and size. The name's length
 * byte keeps the fields apart: no two statements share their bytes. */
static int statement(uint8_t out[STATEMENT_MAX], size_t *len, const uint8_t owner[PROTO_KEY_LEN],
                     const uint8_t holder[PROTO_KEY_LEN], const char *name, uint64_t size,
                     const uint8_t hash[PROTO_HOLD_HASH_LEN], uint64_t time)
{
	size_t n = name ? strnlen(name, PROTO_HOLD_NAME_MAX + 1) : 0;
	uint8_t *p = out;
	if (n > PROTO_HOLD_NAME_MAX)
		return KITH_ETOOBIG;
	if (!proto_hold_name_ok(name, n))
		return KITH_EVALUE;
	if (size_check(size))
		return KITH_ETOOBIG;
	memcpy(p, owner, PROTO_KEY_LEN), p += PROTO_KEY_LEN;
	memcpy(p, holder, PROTO_KEY_LEN), p += PROTO_KEY_LEN;
	*p++ = (uint8_t)n;
	memcpy(p, name, n), p += n;
	put_be64(p, size), p += 8;
	memcpy(p, hash, PROTO_HOLD_HASH_LEN), p += PROTO_HOLD_HASH_LEN;
	put_be64(p, time), p += 8;
	*len = (size_t)(p - out);
	return 0;
}

int proto_hold_receipt_sign(struct proto_hold_receipt *out, const struct proto_identity *holder,
                            const uint8_t owner[PROTO_KEY_LEN], const char *name, uint64_t size,
                            const uint8_t hash[PROTO_HOLD_HASH_LEN], uint64_t time)
{
	uint8_t msg[STATEMENT_MAX];
	size_t len;
	memset(out, 0, sizeof(*out));
	int rc = statement(msg, &len, owner, holder->pk, name, size, hash, time);
	if (!rc)
		rc = proto_identity_sign(holder, out->sig, PROTO_HOLD_RECEIPT_DOMAIN,
		                         PROTO_HOLD_RECEIPT_DOMAIN_LEN, msg, len);
	if (rc)
		memset(out, 0, sizeof(*out));
	else
		out->time = time;
	return rc;
}

int proto_hold_receipt_verify(const struct proto_hold_receipt *receipt,
                              const uint8_t holder[PROTO_KEY_LEN],
                              const uint8_t owner[PROTO_KEY_LEN], const char *name, uint64_t size,
                              const uint8_t hash[PROTO_HOLD_HASH_LEN])
{
	uint8_t msg[STATEMENT_MAX];
	size_t len;
	int rc = statement(msg, &len, owner, holder, name, size, hash, receipt->time);
	if (rc)
		return rc;
	return proto_sig_verify(holder, receipt->sig, PROTO_HOLD_RECEIPT_DOMAIN,
	                        PROTO_HOLD_RECEIPT_DOMAIN_LEN, msg, len);
}
