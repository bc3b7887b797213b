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
 * Writing uses msgpack-c's packer into a struct mp_buf; struct mp_map
 * builds a map whose header counts its entries itself. */
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

/* A map that counts its own entries, so that no caller counts by hand the
 * entries it packs (some conditional, some added later) in a header it
 * writes first. Entries are packed into the map's own buffer; mp_map_end()
 * then writes the header with the count, followed by the entries: the
 * bytes are those of msgpack_pack_map(pk, count) and the same entries, at
 * the cost of one copy.
 *
 *	struct mp_map m;
 *	mp_map_begin(&m);
 *	mp_map_str(&m, "id", id);
 *	if (endpoint)
 *		mp_map_str(&m, "endpoint", endpoint);
 *	mp_map_end(&m, pk);
 *
 * The buffer is the map's until mp_map_end(), or mp_map_free() on a path
 * that packs nothing. A failed allocation sticks in buf.err as in any
 * struct mp_buf: later entries do nothing and mp_map_end() reports it. */
struct mp_map {
	struct mp_buf buf; /* the entries packed so far (owned) */
	msgpack_packer pk; /* packs into buf */
	uint32_t count;
};

void mp_map_begin(struct mp_map *m);
/* Packs key and counts one entry; returns the packer the caller packs the
 * entry's one value with (any msgpack_pack_*() or mp_pack_*(), an array,
 * or a map: for a map prefer mp_map_map()). The packer is m's: valid
 * until mp_map_end(). */
msgpack_packer *mp_map_key(struct mp_map *m, const char *key);
/* One entry whose value is text, an unsigned integer, a boolean or a
 * binary. */
void mp_map_str(struct mp_map *m, const char *key, const char *value);
void mp_map_uint(struct mp_map *m, const char *key, uint64_t value);
void mp_map_bool(struct mp_map *m, const char *key, bool value);
void mp_map_bin(struct mp_map *m, const char *key, const uint8_t *b, size_t len);
/* One entry whose value is the map child: ends child (mp_map_end()) into
 * m. An error of child's becomes m's. */
void mp_map_map(struct mp_map *m, const char *key, struct mp_map *child);
/* Writes the map with pk: its header with the count, then the entries.
 * Frees m's buffer (m may be begun again). Returns 0, or m's error
 * (-ENOMEM): then nothing is written and, when pk writes into a struct
 * mp_buf (mp_buf_packer()), that buffer's err is set too, so that a caller
 * checking only that buffer at the end still sees the loss. */
int mp_map_end(struct mp_map *m, msgpack_packer *pk);
/* Drops m's entries without writing them; harmless on a zeroed, ended or
 * already freed map. */
void mp_map_free(struct mp_map *m);

#endif
