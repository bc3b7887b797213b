/* Arguments and results of the requests between members (see ops.h and
 * docs/protocol.md, section 8).
 *
 * Each is one map with small integer keys, walked with the field reader
 * of the agent messages (codec.h): a repeated key, known or not, is
 * refused, unknown keys are skipped, and nothing may follow the map. There
 * is no version key: an op whose arguments change gets a new name. The
 * value rules live in *_check() functions shared by encoder and decoder;
 * a service's check details are the service record body, read and written
 * by its own codec (body.c).
 *
 * Most structs are flat: a table of their fields (struct op_field) drives
 * one decoder and one encoder, as struct body_kind does in body.c, so that
 * an op is its keys, its table and its check. The lists (services,
 * hold.list) walk their arrays by hand, each entry's fields through the
 * same table reader. */
#include <assert.h>
#include <stddef.h>
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

/* ---- the field tables ---- */

/* How a field is read, written and kept in its struct. */
enum op_field_type {
	FIELD_UINT, /* uint64_t */
	/* uint32_t. Any uint is read, one over max kept as max + 1, so that
	 * the check refuses it alike whatever its width. */
	FIELD_U32,
	FIELD_TEXT,      /* char[max + 1], NUL-terminated */
	FIELD_BIN,       /* 0..max bytes: const uint8_t * (borrowed from buf), size_t at len_at */
	FIELD_BIN_EXACT, /* uint8_t[max], exactly max bytes */
};

struct op_field {
	uint64_t key;
	enum op_field_type type;
	size_t max;
	size_t at;     /* offsetof() the value in its struct */
	size_t len_at; /* FIELD_BIN: offsetof() its length */
	/* Required fields are always written. An optional one is written when
	 * the bool at has_at says it is there, and the decoder sets that bool
	 * once the key was met. */
	bool required;
	size_t has_at;
};

#define FIELD(s, k, t, m, mx)                                                                      \
	{                                                                                          \
		.key = (k), .type = (t), .max = (mx), .at = offsetof(s, m), .required = true       \
	}
/* A struct's data and len. */
#define FIELD_DATA(s, k, mx)                                                                       \
	{                                                                                          \
		.key = (k), .type = FIELD_BIN, .max = (mx), .at = offsetof(s, data),               \
		.len_at = offsetof(s, len), .required = true                                       \
	}
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* A flat op: its fields in the order they are written, and its value
 * rules (NULL for none beyond the fields' own), shared with the encoder. */
struct op_kind {
	const struct op_field *fields;
	size_t n;
	size_t size; /* of the struct */
	int (*check)(const void *op);
};

#define OP_KIND(s, fields, check)                                                                  \
	{                                                                                          \
		fields, COUNT(fields), sizeof(s), check                                            \
	}

static const struct op_field *field_find(const struct op_field *tab, size_t n, uint64_t key)
{
	for (size_t i = 0; i < n; i++)
		if (tab[i].key == key)
			return &tab[i];
	return NULL;
}

/* Reads the value of key into obj, false (nothing read) for a key tab
 * does not hold. Errors stay in the reader. */
static bool read_field(struct mp_reader *r, const struct op_field *tab, size_t n, uint64_t key,
                       void *obj)
{
	const struct op_field *f = field_find(tab, n, key);
	char *base = obj;
	void *p;
	uint64_t v = 0;
	if (!f)
		return false;
	p = base + f->at;
	switch (f->type) {
	case FIELD_UINT:
		mp_read_uint(r, p);
		break;
	case FIELD_U32:
		if (!mp_read_uint(r, &v))
			*(uint32_t *)p = v > f->max ? (uint32_t)f->max + 1 : (uint32_t)v;
		break;
	case FIELD_TEXT:
		mp_read_text(r, p, f->max);
		break;
	case FIELD_BIN:
		mp_read_bin(r, p, (size_t *)(base + f->len_at), f->max);
		break;
	case FIELD_BIN_EXACT:
		mp_read_bin_exact(r, p, f->max);
		break;
	}
	if (!f->required)
		*(bool *)(base + f->has_at) = true;
	return true;
}

/* Whether a required key of tab is not among those read. */
static bool field_missing(const struct fields *f, const struct op_field *tab, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (tab[i].required && !fields_have(f, tab[i].key))
			return true;
	return false;
}

static bool field_present(const struct op_field *f, const void *obj)
{
	return f->required || *(const bool *)((const char *)obj + f->has_at);
}

/* The entries pack_fields() writes, for the map's header. */
static uint32_t count_fields(const struct op_field *tab, size_t n, const void *obj)
{
	uint32_t count = 0;
	for (size_t i = 0; i < n; i++)
		count += field_present(&tab[i], obj);
	return count;
}

/* Keys and values of obj's fields, in tab's order; integers in their
 * smallest width (msgpack_pack_uint64()). */
static void pack_fields(msgpack_packer *pk, const struct op_field *tab, size_t n, const void *obj)
{
	const char *base = obj;
	for (size_t i = 0; i < n; i++) {
		const struct op_field *f = &tab[i];
		const void *p = base + f->at;
		if (!field_present(f, obj))
			continue;
		msgpack_pack_uint64(pk, f->key);
		switch (f->type) {
		case FIELD_UINT:
			msgpack_pack_uint64(pk, *(const uint64_t *)p);
			break;
		case FIELD_U32:
			msgpack_pack_uint64(pk, *(const uint32_t *)p);
			break;
		case FIELD_TEXT:
			mp_pack_cstr(pk, p);
			break;
		case FIELD_BIN:
			mp_pack_bin(pk, *(const uint8_t *const *)p,
			            *(const size_t *)(base + f->len_at));
			break;
		case FIELD_BIN_EXACT:
			mp_pack_bin(pk, p, f->max);
			break;
		}
	}
}

/* ---- one decoder, one encoder ---- */

/* Opens the op's map, refusing before parsing what no message could
 * carry. */
static int open_map(struct mp_reader *r, struct fields *f, const uint8_t *buf, size_t len)
{
	mp_reader_init(r, buf, len);
	if (len > PROTO_MSG_MAX)
		return mp_fail(r, KITH_ETOOBIG);
	return fields_open(r, f);
}

/* Ends a decoder: the reader's error, then tab's required keys. */
static int finish(struct mp_reader *r, const struct fields *f, const struct op_field *tab, size_t n)
{
	if (mp_finish(r))
		return r->err;
	return field_missing(f, tab, n) ? KITH_EMISSING : 0;
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

/* The reader's error, then the required keys, then the value rules. */
static int decode(const struct op_kind *kind, void *out, const uint8_t *buf, size_t len)
{
	struct mp_reader r;
	struct fields f;
	uint64_t key;
	memset(out, 0, kind->size);
	open_map(&r, &f, buf, len);
	while (fields_next(&r, &f, &key))
		if (!read_field(&r, kind->fields, kind->n, key, out))
			mp_skip(&r, OP_SKIP_DEPTH);
	int rc = finish(&r, &f, kind->fields, kind->n);
	if (!rc && kind->check)
		rc = kind->check(out);
	return rc;
}

static int encode(struct mp_buf *out, const struct op_kind *kind, const void *in)
{
	msgpack_packer pk;
	size_t start = out->len;
	int rc = kind->check ? kind->check(in) : 0;
	if (rc)
		return rc;
	mp_buf_packer(out, &pk);
	msgpack_pack_map(&pk, count_fields(kind->fields, kind->n, in));
	pack_fields(&pk, kind->fields, kind->n, in);
	return close_encoding(out, start, 0);
}

/* ---- shard ---- */

/* Without data the decoder leaves data NULL and len 0, and the encoder
 * writes neither. */
static int shard_check(const void *op)
{
	const struct proto_shard *s = op;
	int rc = check_text(s->name, sizeof(s->name), 1);
	if (rc)
		return rc;
	if (!s->has_data)
		return 0;
	if (s->len > PROTO_SHARD_MAX)
		return KITH_ETOOBIG;
	return s->len && !s->data ? KITH_EVALUE : 0;
}

static const struct op_field shard_fields[] = {
    FIELD(struct proto_shard, SHARD_NAME, FIELD_TEXT, name, PROTO_SHARD_NAME_MAX),
    {.key = SHARD_DATA,
     .type = FIELD_BIN,
     .max = PROTO_SHARD_MAX,
     .at = offsetof(struct proto_shard, data),
     .len_at = offsetof(struct proto_shard, len),
     .has_at = offsetof(struct proto_shard, has_data)},
};
static const struct op_kind shard_kind = OP_KIND(struct proto_shard, shard_fields, shard_check);

int proto_shard_decode(struct proto_shard *out, const uint8_t *buf, size_t len)
{
	return decode(&shard_kind, out, buf, len);
}

int proto_shard_encode(struct mp_buf *out, const struct proto_shard *in)
{
	return encode(out, &shard_kind, in);
}

/* ---- usage ---- */

/* used may be above quota: a quota can be lowered under what is kept. */
static const struct op_field usage_fields[] = {
    FIELD(struct proto_usage, USAGE_USED, FIELD_UINT, used, 0),
    FIELD(struct proto_usage, USAGE_QUOTA, FIELD_UINT, quota, 0),
};
static const struct op_kind usage_kind = OP_KIND(struct proto_usage, usage_fields, NULL);

int proto_usage_decode(struct proto_usage *out, const uint8_t *buf, size_t len)
{
	return decode(&usage_kind, out, buf, len);
}

int proto_usage_encode(struct mp_buf *out, const struct proto_usage *in)
{
	return encode(out, &usage_kind, in);
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

/* hold.open */

static int hold_open_check(const void *op)
{
	const struct proto_hold_open *h = op;
	int rc = name_check(h->name);
	return rc ? rc : size_check(h->size);
}

static const struct op_field hold_open_fields[] = {
    FIELD(struct proto_hold_open, HOLD_NAME, FIELD_TEXT, name, PROTO_HOLD_NAME_MAX),
    FIELD(struct proto_hold_open, HOLD_OPEN_SIZE, FIELD_UINT, size, 0),
    FIELD(struct proto_hold_open, HOLD_OPEN_HASH, FIELD_BIN_EXACT, hash, PROTO_HOLD_HASH_LEN),
};
static const struct op_kind hold_open_kind =
    OP_KIND(struct proto_hold_open, hold_open_fields, hold_open_check);

int proto_hold_open_decode(struct proto_hold_open *out, const uint8_t *buf, size_t len)
{
	return decode(&hold_open_kind, out, buf, len);
}

int proto_hold_open_encode(struct mp_buf *out, const struct proto_hold_open *in)
{
	return encode(out, &hold_open_kind, in);
}

/* hold.write */

/* offset <= PROTO_HOLD_SIZE_MAX is checked first, so the sum cannot wrap. */
static int hold_write_check(const void *op)
{
	const struct proto_hold_write *h = op;
	int rc = name_check(h->name);
	if (!rc)
		rc = piece_check(h->data, h->len, false);
	if (!rc && (size_check(h->offset) || h->len > PROTO_HOLD_SIZE_MAX - h->offset))
		rc = KITH_ETOOBIG;
	return rc;
}

static const struct op_field hold_write_fields[] = {
    FIELD(struct proto_hold_write, HOLD_NAME, FIELD_TEXT, name, PROTO_HOLD_NAME_MAX),
    FIELD(struct proto_hold_write, HOLD_WRITE_OFFSET, FIELD_UINT, offset, 0),
    FIELD_DATA(struct proto_hold_write, HOLD_WRITE_DATA, PROTO_HOLD_PIECE_MAX),
};
static const struct op_kind hold_write_kind =
    OP_KIND(struct proto_hold_write, hold_write_fields, hold_write_check);

int proto_hold_write_decode(struct proto_hold_write *out, const uint8_t *buf, size_t len)
{
	return decode(&hold_write_kind, out, buf, len);
}

int proto_hold_write_encode(struct mp_buf *out, const struct proto_hold_write *in)
{
	return encode(out, &hold_write_kind, in);
}

/* hold.write result */

static int hold_written_check(const void *op)
{
	const struct proto_hold_written *h = op;
	return size_check(h->written);
}

static const struct op_field hold_written_fields[] = {
    FIELD(struct proto_hold_written, HOLD_WRITTEN, FIELD_UINT, written, 0),
};
static const struct op_kind hold_written_kind =
    OP_KIND(struct proto_hold_written, hold_written_fields, hold_written_check);

int proto_hold_written_decode(struct proto_hold_written *out, const uint8_t *buf, size_t len)
{
	return decode(&hold_written_kind, out, buf, len);
}

int proto_hold_written_encode(struct mp_buf *out, const struct proto_hold_written *in)
{
	return encode(out, &hold_written_kind, in);
}

/* hold.commit and hold.del args */

static int hold_name_check(const void *op)
{
	const struct proto_hold_name *h = op;
	return name_check(h->name);
}

static const struct op_field hold_name_fields[] = {
    FIELD(struct proto_hold_name, HOLD_NAME, FIELD_TEXT, name, PROTO_HOLD_NAME_MAX),
};
static const struct op_kind hold_name_kind =
    OP_KIND(struct proto_hold_name, hold_name_fields, hold_name_check);

int proto_hold_name_decode(struct proto_hold_name *out, const uint8_t *buf, size_t len)
{
	return decode(&hold_name_kind, out, buf, len);
}

int proto_hold_name_encode(struct mp_buf *out, const struct proto_hold_name *in)
{
	return encode(out, &hold_name_kind, in);
}

/* hold.commit result: whether the signature holds is the caller's check
 * (proto_hold_receipt_verify()). */

static const struct op_field hold_receipt_fields[] = {
    FIELD(struct proto_hold_receipt, HOLD_RECEIPT_SIG, FIELD_BIN_EXACT, sig, PROTO_SIG_LEN),
    FIELD(struct proto_hold_receipt, HOLD_RECEIPT_TIME, FIELD_UINT, time, 0),
};
static const struct op_kind hold_receipt_kind =
    OP_KIND(struct proto_hold_receipt, hold_receipt_fields, NULL);

int proto_hold_receipt_decode(struct proto_hold_receipt *out, const uint8_t *buf, size_t len)
{
	return decode(&hold_receipt_kind, out, buf, len);
}

int proto_hold_receipt_encode(struct mp_buf *out, const struct proto_hold_receipt *in)
{
	return encode(out, &hold_receipt_kind, in);
}

/* hold.read */

static int hold_read_check(const void *op)
{
	const struct proto_hold_read *h = op;
	int rc = name_check(h->name);
	if (!rc)
		rc = size_check(h->offset);
	if (!rc && h->len > PROTO_HOLD_PIECE_MAX)
		rc = KITH_ETOOBIG;
	if (!rc && h->len == 0)
		rc = KITH_EVALUE;
	return rc;
}

static const struct op_field hold_read_fields[] = {
    FIELD(struct proto_hold_read, HOLD_NAME, FIELD_TEXT, name, PROTO_HOLD_NAME_MAX),
    FIELD(struct proto_hold_read, HOLD_READ_OFFSET, FIELD_UINT, offset, 0),
    FIELD(struct proto_hold_read, HOLD_READ_LEN, FIELD_U32, len, PROTO_HOLD_PIECE_MAX),
};
static const struct op_kind hold_read_kind =
    OP_KIND(struct proto_hold_read, hold_read_fields, hold_read_check);

int proto_hold_read_decode(struct proto_hold_read *out, const uint8_t *buf, size_t len)
{
	return decode(&hold_read_kind, out, buf, len);
}

int proto_hold_read_encode(struct mp_buf *out, const struct proto_hold_read *in)
{
	return encode(out, &hold_read_kind, in);
}

/* hold.read result */

static int hold_data_check(const void *op)
{
	const struct proto_hold_data *h = op;
	int rc = piece_check(h->data, h->len, true);
	if (!rc)
		rc = size_check(h->size);
	if (!rc && h->len > h->size)
		rc = KITH_EVALUE;
	return rc;
}

static const struct op_field hold_data_fields[] = {
    FIELD_DATA(struct proto_hold_data, HOLD_DATA_DATA, PROTO_HOLD_PIECE_MAX),
    FIELD(struct proto_hold_data, HOLD_DATA_SIZE, FIELD_UINT, size, 0),
};
static const struct op_kind hold_data_kind =
    OP_KIND(struct proto_hold_data, hold_data_fields, hold_data_check);

int proto_hold_data_decode(struct proto_hold_data *out, const uint8_t *buf, size_t len)
{
	return decode(&hold_data_kind, out, buf, len);
}

int proto_hold_data_encode(struct mp_buf *out, const struct proto_hold_data *in)
{
	return encode(out, &hold_data_kind, in);
}

/* hold.list args */

static int hold_list_args_check(const void *op)
{
	const struct proto_hold_list_args *h = op;
	return h->has_after ? name_check(h->after) : 0;
}

static const struct op_field hold_list_args_fields[] = {
    {.key = HOLD_AFTER,
     .type = FIELD_TEXT,
     .max = PROTO_HOLD_NAME_MAX,
     .at = offsetof(struct proto_hold_list_args, after),
     .has_at = offsetof(struct proto_hold_list_args, has_after)},
};
static const struct op_kind hold_list_args_kind =
    OP_KIND(struct proto_hold_list_args, hold_list_args_fields, hold_list_args_check);

int proto_hold_list_args_decode(struct proto_hold_list_args *out, const uint8_t *buf, size_t len)
{
	return decode(&hold_list_args_kind, out, buf, len);
}

int proto_hold_list_args_encode(struct mp_buf *out, const struct proto_hold_list_args *in)
{
	return encode(out, &hold_list_args_kind, in);
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

/* An entry's fields but its state: an enum, written only when not
 * PROTO_HOLD_KEPT, whose bound is checked once the map is read. */
static const struct op_field hold_entry_fields[] = {
    FIELD(struct proto_hold_entry, HOLD_ENTRY_NAME, FIELD_TEXT, name, PROTO_HOLD_NAME_MAX),
    FIELD(struct proto_hold_entry, HOLD_ENTRY_SIZE, FIELD_UINT, size, 0),
    FIELD(struct proto_hold_entry, HOLD_ENTRY_HASH, FIELD_BIN_EXACT, hash, PROTO_HOLD_HASH_LEN),
};

static int read_hold_entry(struct mp_reader *r, struct proto_hold_entry *e)
{
	struct fields f;
	uint64_t key, state = PROTO_HOLD_KEPT;
	memset(e, 0, sizeof(*e));
	fields_open(r, &f);
	while (fields_next(r, &f, &key)) {
		if (key == HOLD_ENTRY_STATE)
			mp_read_uint(r, &state);
		else if (!read_field(r, hold_entry_fields, COUNT(hold_entry_fields), key, e))
			mp_skip(r, ENTRY_SKIP_DEPTH);
	}
	if (r->err)
		return r->err;
	if (field_missing(&f, hold_entry_fields, COUNT(hold_entry_fields)))
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
	int rc = finish(&r, &f, NULL, 0);
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
		bool kept = e->state == PROTO_HOLD_KEPT;
		msgpack_pack_map(&pk, count_fields(hold_entry_fields, COUNT(hold_entry_fields), e) +
		                          !kept);
		pack_fields(&pk, hold_entry_fields, COUNT(hold_entry_fields), e);
		if (!kept) {
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
