/* Pieces shared by the agent message codecs (wire.c, wire_join.c) and the
 * request op codecs (ops.c). Private to proto/: not part of its API.
 *
 * Reading: fixed-shape arrays, 32-bit integers, the opening of a message
 * (size, outer array, type) and the walk over a map with small integer
 * keys, none twice, unknown ones left for the caller to skip. Writing: the
 * opening and closing of a message. Everything works on the caller's
 * reader or buffer (borrowed) and allocates nothing itself. */
#ifndef KITH_PROTO_CODEC_H
#define KITH_PROTO_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "error.h"
#include "limits.h"
#include "mp.h"

/* A message is the array [type, fields]. */
#define MSG_ITEMS 2
/* Unknown values sit inside the fields map, inside the message array. */
#define MSG_SKIP_DEPTH (PROTO_DEPTH_MAX - 2)

static inline size_t min_size(size_t a, size_t b)
{
	return a < b ? a : b;
}

/* An array of exactly n items: more is KITH_ETOOBIG, fewer KITH_EVALUE,
 * as for the record envelope. */
static inline int read_tuple(struct mp_reader *r, uint32_t n)
{
	uint32_t count;
	if (mp_read_array(r, &count, n))
		return r->err;
	return count == n ? 0 : mp_fail(r, KITH_EVALUE);
}

static inline int read_u32(struct mp_reader *r, uint32_t *out)
{
	uint64_t v;
	if (mp_read_uint(r, &v))
		return r->err;
	if (v > UINT32_MAX)
		return mp_fail(r, KITH_EVALUE);
	*out = (uint32_t)v;
	return 0;
}

/* Opens a message in buf: its size, the outer array and the type. */
static inline int read_type(struct mp_reader *r, const uint8_t *buf, size_t len, uint8_t *type)
{
	uint64_t t;
	*type = 0; /* whatever the failure, never left unset */
	mp_reader_init(r, buf, len);
	/* Before parsing: no claimed count or length gets looked at. */
	if (len > PROTO_MSG_MAX)
		return mp_fail(r, KITH_ETOOBIG);
	if (read_tuple(r, MSG_ITEMS) || mp_read_uint(r, &t))
		return r->err;
	if (t < 1 || t > UINT8_MAX)
		return mp_fail(r, KITH_EVALUE);
	*type = (uint8_t)t;
	return 0;
}

/* Opens a message that must be of type want (another is KITH_EVALUE). */
static inline int read_type_is(struct mp_reader *r, const uint8_t *buf, size_t len, uint8_t want)
{
	uint8_t type;
	if (read_type(r, buf, len, &type))
		return r->err;
	return type == want ? 0 : mp_fail(r, KITH_EVALUE);
}

/* Walk over a map with integer keys. keys[] holds every key read so far,
 * known or not, so that a repeated one is refused wherever it stands. */
struct fields {
	uint32_t n, i;
	uint64_t keys[PROTO_MAP_MAX];
};

static inline int fields_open(struct mp_reader *r, struct fields *f)
{
	f->i = 0;
	f->n = 0;
	return mp_read_map(r, &f->n, PROTO_MAP_MAX);
}

/* Reads the next key into *key; false at the end of the map or on error
 * (KITH_EDUPKEY for a key seen before). */
static inline bool fields_next(struct mp_reader *r, struct fields *f, uint64_t *key)
{
	if (r->err || f->i == f->n || mp_read_uint(r, key))
		return false;
	for (uint32_t j = 0; j < f->i; j++) {
		if (f->keys[j] == *key) {
			mp_fail(r, KITH_EDUPKEY);
			return false;
		}
	}
	f->keys[f->i++] = *key;
	return true;
}

static inline bool fields_have(const struct fields *f, uint64_t key)
{
	for (uint32_t j = 0; j < f->i; j++)
		if (f->keys[j] == key)
			return true;
	return false;
}

/* A NUL-terminated text in an array of size bytes (which may lack its
 * NUL), of at least min bytes, that mp_read_text() would accept. */
static inline int check_text(const char *s, size_t size, size_t min)
{
	size_t len = strnlen(s, size);
	if (len == size)
		return KITH_ETOOBIG;
	if (len < min || !mp_text_ok(s, len))
		return KITH_EVALUE;
	return 0;
}

/* Starts a message of type with a fields map of n keys. */
static inline void write_begin(msgpack_packer *pk, struct mp_buf *out, uint8_t type, uint32_t n)
{
	mp_buf_packer(out, pk);
	msgpack_pack_array(pk, MSG_ITEMS);
	msgpack_pack_uint64(pk, type);
	msgpack_pack_map(pk, n);
}

/* Ends the message begun at out->data[start]: one the decoder would
 * refuse for its size is taken back. */
static inline int write_end(struct mp_buf *out, size_t start)
{
	int rc = out->err;
	if (!rc && out->len - start > PROTO_MSG_MAX)
		rc = KITH_ETOOBIG;
	if (rc)
		out->len = start;
	return rc;
}

#endif
