/* Bounded msgpack reader and mp_buf writer (see mp.h).
 *
 * Every read first looks at the type byte without consuming it, then checks
 * each length against the caller's limit (KITH_ETOOBIG) and the bytes left
 * (KITH_ETRUNC) before touching the data. The first error sticks. */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "limits.h"
#include "mp.h"
#include "utf8.h"

void mp_reader_init(struct mp_reader *r, const uint8_t *buf, size_t len)
{
	r->p = buf;
	r->end = buf ? buf + len : buf;
	r->err = 0;
}

int mp_fail(struct mp_reader *r, int err)
{
	if (!r->err)
		r->err = err;
	return r->err;
}

static size_t left(const struct mp_reader *r)
{
	return (size_t)(r->end - r->p);
}

/* Consumes n bytes and returns where they start, or NULL (KITH_ETRUNC). */
static const uint8_t *take(struct mp_reader *r, size_t n)
{
	if (r->err)
		return NULL;
	if (n > left(r)) {
		mp_fail(r, KITH_ETRUNC);
		return NULL;
	}
	const uint8_t *at = r->p;
	r->p += n;
	return at;
}

/* Big-endian unsigned integer of n (1, 2, 4 or 8) bytes; 0 after an error. */
static uint64_t take_be(struct mp_reader *r, size_t n)
{
	const uint8_t *b = take(r, n);
	uint64_t v = 0;
	if (!b)
		return 0;
	for (size_t i = 0; i < n; i++)
		v = v << 8 | b[i];
	return v;
}

/* The next type byte without consuming it; sets KITH_ETRUNC at the end. */
static int peek(struct mp_reader *r, uint8_t *type)
{
	if (r->err)
		return r->err;
	if (r->p == r->end)
		return mp_fail(r, KITH_ETRUNC);
	*type = *r->p;
	return 0;
}

enum mp_kind mp_peek_kind(struct mp_reader *r)
{
	uint8_t t;

	if (peek(r, &t))
		return MP_KIND_NONE;
	if (t <= 0x7f || (t >= 0xcc && t <= 0xcf))
		return MP_KIND_UINT;
	if ((t >= 0xa0 && t <= 0xbf) || (t >= 0xd9 && t <= 0xdb))
		return MP_KIND_STR;
	if (t >= 0xc4 && t <= 0xc6)
		return MP_KIND_BIN;
	if (t == 0xc2 || t == 0xc3)
		return MP_KIND_BOOL;
	return MP_KIND_OTHER;
}

/* A type byte the caller did not expect: 0xc1 is never valid msgpack. */
static int wrong_type(struct mp_reader *r, uint8_t type)
{
	return mp_fail(r, type == 0xc1 ? KITH_EMALFORMED : KITH_ETYPE);
}

int mp_read_uint(struct mp_reader *r, uint64_t *out)
{
	uint8_t t;
	if (peek(r, &t))
		return r->err;
	if (t <= 0x7f) {
		r->p++;
		*out = t;
		return 0;
	}
	if (t >= 0xcc && t <= 0xcf) {
		r->p++;
		uint64_t v = take_be(r, (size_t)1 << (t - 0xcc));
		if (!r->err)
			*out = v;
		return r->err;
	}
	/* Signed formats are accepted when they hold a value >= 0: another
	 * encoder may pick them, and the value is the same number. */
	if (t >= 0xd0 && t <= 0xd3) {
		size_t n = (size_t)1 << (t - 0xd0);
		if (left(r) < 1 + n)
			return mp_fail(r, KITH_ETRUNC);
		if (r->p[1] & 0x80)
			return mp_fail(r, KITH_ETYPE);
		r->p++;
		*out = take_be(r, n);
		return 0;
	}
	return wrong_type(r, t); /* negative fixint lands here too */
}

int mp_read_bool(struct mp_reader *r, bool *out)
{
	uint8_t t;
	if (peek(r, &t))
		return r->err;
	if (t != 0xc2 && t != 0xc3)
		return wrong_type(r, t);
	r->p++;
	*out = t == 0xc3;
	return 0;
}

/* Consumes a str/bin header whose length field is n_len bytes, checks the
 * length against max, then against the bytes left, and takes the data. */
static const uint8_t *take_sized(struct mp_reader *r, size_t n_len, size_t *len, size_t max)
{
	r->p++;
	uint64_t n = take_be(r, n_len);
	if (r->err)
		return NULL;
	if (n > max) {
		mp_fail(r, KITH_ETOOBIG);
		return NULL;
	}
	const uint8_t *b = take(r, (size_t)n);
	if (b)
		*len = (size_t)n;
	return b;
}

int mp_read_str(struct mp_reader *r, const char **s, size_t *len, size_t max)
{
	uint8_t t;
	const uint8_t *b;
	if (peek(r, &t))
		return r->err;
	if (t >= 0xa0 && t <= 0xbf) {
		size_t n = t & 0x1f;
		if (n > max)
			return mp_fail(r, KITH_ETOOBIG);
		r->p++;
		b = take(r, n);
		if (b)
			*len = n;
	} else if (t >= 0xd9 && t <= 0xdb) {
		b = take_sized(r, (size_t)1 << (t - 0xd9), len, max);
	} else {
		return wrong_type(r, t);
	}
	if (b)
		*s = (const char *)b;
	return r->err;
}

int mp_read_bin(struct mp_reader *r, const uint8_t **b, size_t *len, size_t max)
{
	uint8_t t;
	if (peek(r, &t))
		return r->err;
	if (t < 0xc4 || t > 0xc6)
		return wrong_type(r, t);
	const uint8_t *at = take_sized(r, (size_t)1 << (t - 0xc4), len, max);
	if (at)
		*b = at;
	return r->err;
}

int mp_read_bin_exact(struct mp_reader *r, uint8_t *out, size_t len)
{
	const uint8_t *b;
	size_t n;
	if (mp_read_bin(r, &b, &n, SIZE_MAX))
		return r->err;
	if (n != len)
		return mp_fail(r, KITH_EVALUE);
	if (n)
		memcpy(out, b, n);
	return 0;
}

bool mp_text_ok(const char *s, size_t len)
{
	const uint8_t *u = (const uint8_t *)s;
	size_t i = 0;
	while (i < len) {
		uint32_t cp;
		size_t n = proto_utf8_seq(u + i, len - i, &cp);
		/* C0, DEL and C1 controls could steer a terminal or a log. */
		if (!n || cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
			return false;
		i += n;
	}
	return true;
}

int mp_read_text(struct mp_reader *r, char *out, size_t max)
{
	const char *s;
	size_t n;
	if (mp_read_str(r, &s, &n, max))
		return r->err;
	if (!mp_text_ok(s, n))
		return mp_fail(r, KITH_EVALUE);
	if (n)
		memcpy(out, s, n);
	out[n] = '\0';
	return 0;
}

/* Container header: fixed form in [fix_lo, fix_lo + 15], 16-bit at t16 and
 * 32-bit at t16 + 1. */
static int read_container(struct mp_reader *r, uint8_t fix_lo, uint8_t t16, uint32_t *count,
                          uint32_t max, size_t bytes_per_item)
{
	uint8_t t;
	uint64_t n;
	if (peek(r, &t))
		return r->err;
	if (t >= fix_lo && t <= fix_lo + 15) {
		r->p++;
		n = t & 0x0f;
	} else if (t == t16 || t == t16 + 1) {
		r->p++;
		n = take_be(r, t == t16 ? 2 : 4);
		if (r->err)
			return r->err;
	} else {
		return wrong_type(r, t);
	}
	if (n > max)
		return mp_fail(r, KITH_ETOOBIG);
	/* Each item takes at least one byte: a count the bytes left cannot
	 * hold is found out now, before a caller loops over it. */
	if (n > left(r) / bytes_per_item)
		return mp_fail(r, KITH_ETRUNC);
	*count = (uint32_t)n;
	return 0;
}

int mp_read_array(struct mp_reader *r, uint32_t *count, uint32_t max)
{
	return read_container(r, 0x90, 0xdc, count, max, 1);
}

int mp_read_map(struct mp_reader *r, uint32_t *count, uint32_t max)
{
	return read_container(r, 0x80, 0xde, count, max, 2);
}

/* Scalar formats 0xc4..0xdb: size of the length field (0: none), then the
 * bytes that follow besides the length-counted data. */
static const struct {
	uint8_t len_bytes;
	uint8_t fixed;
} scalar_formats[] = {
    {1, 0}, {2, 0}, {4, 0},                  /* bin 8/16/32 */
    {1, 1}, {2, 1}, {4, 1},                  /* ext 8/16/32: the type byte, then data */
    {0, 4}, {0, 8},                          /* float 32/64 */
    {0, 1}, {0, 2}, {0, 4}, {0, 8},          /* uint 8..64 */
    {0, 1}, {0, 2}, {0, 4}, {0, 8},          /* int 8..64 */
    {0, 2}, {0, 3}, {0, 5}, {0, 9}, {0, 17}, /* fixext 1..16: type byte + data */
    {1, 0}, {2, 0}, {4, 0},                  /* str 8/16/32 */
};
static_assert(sizeof(scalar_formats) / sizeof(scalar_formats[0]) == 0xdb - 0xc4 + 1,
              "one entry per format from 0xc4 to 0xdb");

/* Skips one scalar (anything but an array or map) whose type byte is t. */
static int skip_scalar(struct mp_reader *r, uint8_t t)
{
	size_t n = 0;
	/* fixint, negative fixint, nil, false, true */
	if (t <= 0x7f || t >= 0xe0 || t == 0xc0 || t == 0xc2 || t == 0xc3) {
		r->p++;
		return 0;
	}
	if (t >= 0xa0 && t <= 0xbf) { /* fixstr */
		r->p++;
		take(r, t & 0x1f);
		return r->err;
	}
	if (t < 0xc4 || t > 0xdb) /* 0xc1, or a container the caller handles */
		return mp_fail(r, KITH_EMALFORMED);
	r->p++;
	if (scalar_formats[t - 0xc4].len_bytes) {
		uint64_t len = take_be(r, scalar_formats[t - 0xc4].len_bytes);
		if (!r->err && len > left(r))
			return mp_fail(r, KITH_ETRUNC);
		n = (size_t)len; /* <= left(r), so adding fixed cannot wrap */
	}
	take(r, n + scalar_formats[t - 0xc4].fixed);
	return r->err;
}

/* Iterative, so untrusted nesting never grows the C stack: todo[d] counts
 * the values still to skip inside the container open at level d. */
int mp_skip(struct mp_reader *r, unsigned depth)
{
	uint64_t todo[PROTO_DEPTH_MAX + 1];
	unsigned level = 0;
	if (depth > PROTO_DEPTH_MAX)
		depth = PROTO_DEPTH_MAX;
	todo[0] = 1;
	while (!r->err) {
		while (level > 0 && todo[level] == 0)
			level--;
		if (todo[level] == 0)
			break; /* level 0 done: the one value is skipped */
		todo[level]--;
		uint8_t t;
		if (peek(r, &t))
			break;
		bool is_array = (t >= 0x90 && t <= 0x9f) || t == 0xdc || t == 0xdd;
		bool is_map = (t >= 0x80 && t <= 0x8f) || t == 0xde || t == 0xdf;
		if (!is_array && !is_map) {
			skip_scalar(r, t);
			continue;
		}
		if (level >= depth)
			return mp_fail(r, KITH_EDEPTH);
		uint32_t n;
		if (is_array)
			mp_read_array(r, &n, PROTO_ARRAY_MAX);
		else
			mp_read_map(r, &n, PROTO_MAP_MAX);
		if (r->err)
			break;
		todo[++level] = is_map ? 2 * (uint64_t)n : n;
	}
	return r->err;
}

int mp_finish(struct mp_reader *r)
{
	if (!r->err && r->p != r->end)
		mp_fail(r, KITH_ETRAIL);
	return r->err;
}

/* ---- writer ---- */

/* msgpack-c write callback: appends to the struct mp_buf in data. */
static int buf_write(void *data, const char *bytes, size_t len)
{
	struct mp_buf *b = data;
	if (b->err)
		return -1;
	if (len == 0)
		return 0;
	if (len > SIZE_MAX / 2 - b->len) {
		b->err = -ENOMEM;
		return -1;
	}
	if (b->len + len > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + len)
			cap *= 2; /* geometric: packing n bytes costs O(n) copies */
		uint8_t *grown = realloc(b->data, cap);
		if (!grown) {
			b->err = -ENOMEM;
			return -1;
		}
		b->data = grown;
		b->cap = cap;
	}
	memcpy(b->data + b->len, bytes, len);
	b->len += len;
	return 0;
}

void mp_buf_packer(struct mp_buf *buf, msgpack_packer *pk)
{
	msgpack_packer_init(pk, buf, buf_write);
}

void mp_buf_free(struct mp_buf *buf)
{
	if (!buf)
		return;
	free(buf->data);
	buf->data = NULL;
	buf->len = 0;
	buf->cap = 0;
	buf->err = 0;
}

void mp_pack_str(msgpack_packer *pk, const char *s, size_t len)
{
	msgpack_pack_str(pk, len);
	msgpack_pack_str_body(pk, s, len);
}

void mp_pack_cstr(msgpack_packer *pk, const char *s)
{
	mp_pack_str(pk, s, strlen(s));
}

void mp_pack_bin(msgpack_packer *pk, const uint8_t *b, size_t len)
{
	msgpack_pack_bin(pk, len);
	msgpack_pack_bin_body(pk, b, len);
}

/* ---- maps that count their entries ---- */

void mp_map_begin(struct mp_map *m)
{
	memset(m, 0, sizeof(*m));
	mp_buf_packer(&m->buf, &m->pk);
}

msgpack_packer *mp_map_key(struct mp_map *m, const char *key)
{
	m->count++;
	mp_pack_cstr(&m->pk, key);
	return &m->pk;
}

void mp_map_str(struct mp_map *m, const char *key, const char *value)
{
	mp_pack_cstr(mp_map_key(m, key), value);
}

void mp_map_uint(struct mp_map *m, const char *key, uint64_t value)
{
	msgpack_pack_uint64(mp_map_key(m, key), value);
}

void mp_map_bool(struct mp_map *m, const char *key, bool value)
{
	msgpack_packer *pk = mp_map_key(m, key);

	if (value)
		msgpack_pack_true(pk);
	else
		msgpack_pack_false(pk);
}

void mp_map_bin(struct mp_map *m, const char *key, const uint8_t *b, size_t len)
{
	mp_pack_bin(mp_map_key(m, key), b, len);
}

void mp_map_map(struct mp_map *m, const char *key, struct mp_map *child)
{
	mp_map_end(child, mp_map_key(m, key));
}

int mp_map_end(struct mp_map *m, msgpack_packer *pk)
{
	int rc = m->buf.err;

	if (rc) {
		/* Our own packers write into a struct mp_buf: make the loss
		 * stick there, where the caller will look. */
		if (pk->callback == buf_write && !((struct mp_buf *)pk->data)->err)
			((struct mp_buf *)pk->data)->err = rc;
	} else {
		msgpack_pack_map(pk, m->count);
		if (m->buf.len)
			pk->callback(pk->data, (const char *)m->buf.data, m->buf.len);
	}
	mp_map_free(m);
	return rc;
}

void mp_map_free(struct mp_map *m)
{
	if (!m)
		return;
	mp_buf_free(&m->buf);
	m->count = 0;
}
