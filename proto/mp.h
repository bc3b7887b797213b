/* Bounded msgpack reading and msgpack-c based writing.
 *
 * The reader is written by hand on purpose: msgpack-c's unpacker sizes its
 * allocations from the counts it reads (an array header claiming 2^32
 * items costs a huge allocation before the data is found missing) and has
 * no limit on depth or string length. struct mp_reader reads in place,
 * allocates nothing, checks every length against the bytes left and the
 * caller's limit, and keeps the first error (sticky, as Knot's wire_ctx):
 * after an error every read fails with the same code, so a decoder may
 * check once at the end.
 *
 * Writing uses msgpack-c's packer into a struct mp_buf. */
#ifndef KITH_PROTO_MP_H
#define KITH_PROTO_MP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

struct mp_reader {
	const uint8_t *p;   /* next byte; borrowed from the caller's buffer */
	const uint8_t *end; /* one past the last byte */
	int err;            /* first error seen, 0 if none */
};

/* buf is borrowed and must outlive the reader and every pointer it returns. */
void mp_reader_init(struct mp_reader *r, const uint8_t *buf, size_t len);

/* Each read returns 0 or the reader's (sticky) error: KITH_ETRUNC,
 * KITH_ETYPE, KITH_ETOOBIG, KITH_EMALFORMED. Strings and binaries come back
 * as pointers into the reader's buffer (no copy). */
int mp_read_uint(struct mp_reader *r, uint64_t *out);
int mp_read_bool(struct mp_reader *r, bool *out);
int mp_read_str(struct mp_reader *r, const char **s, size_t *len, size_t max);
int mp_read_bin(struct mp_reader *r, const uint8_t **b, size_t *len, size_t max);
/* Binary of exactly len bytes, copied to out (KITH_EVALUE if the length
 * differs). */
int mp_read_bin_exact(struct mp_reader *r, uint8_t *out, size_t len);
/* Text copied into out[0..max] and NUL-terminated; refuses embedded NUL and
 * control characters (KITH_EVALUE). out must hold max + 1 bytes. */
int mp_read_text(struct mp_reader *r, char *out, size_t max);
/* The rule mp_read_text() applies, for encoders to check their input: true
 * when s[0..len) is valid UTF-8 without NUL, C0, DEL or C1 controls. */
bool mp_text_ok(const char *s, size_t len);
int mp_read_array(struct mp_reader *r, uint32_t *count, uint32_t max);
int mp_read_map(struct mp_reader *r, uint32_t *count, uint32_t max);
/* Skips one value of any type holding at most depth levels of arrays and
 * maps (0: scalars only; capped at PROTO_DEPTH_MAX), else KITH_EDEPTH.
 * Iterative: untrusted nesting never grows the C stack. */
int mp_skip(struct mp_reader *r, unsigned depth);
enum mp_kind {
	MP_KIND_NONE, /* nothing left, or the reader failed */
	MP_KIND_UINT, /* positive integer formats only */
	MP_KIND_STR,
	MP_KIND_BIN,
	MP_KIND_BOOL,
	MP_KIND_OTHER, /* anything else: nil, negative, float, array, map, ext */
};

/* What the next value is, without consuming it. */
enum mp_kind mp_peek_kind(struct mp_reader *r);
/* KITH_ETRAIL if bytes are left, else the sticky error. */
int mp_finish(struct mp_reader *r);
/* Records err as the sticky error unless one is set; returns the sticky error. */
int mp_fail(struct mp_reader *r, int err);

/* Growable output buffer. data is owned by the buffer; mp_buf_free()
 * releases it and is harmless on a zeroed or already freed buffer. */
struct mp_buf {
	uint8_t *data;
	size_t len;
	size_t cap;
	int err; /* -ENOMEM once an allocation failed; later writes do nothing */
};

/* A packer writing into buf (borrowed). Pack with msgpack-c's
 * msgpack_pack_*() and check buf->err at the end. */
void mp_buf_packer(struct mp_buf *buf, msgpack_packer *pk);
void mp_buf_free(struct mp_buf *buf);
/* Shorthands for packing strings and binaries in one call. */
void mp_pack_str(msgpack_packer *pk, const char *s, size_t len);
void mp_pack_cstr(msgpack_packer *pk, const char *s);
void mp_pack_bin(msgpack_packer *pk, const uint8_t *b, size_t len);

#endif
