/* The signed record envelope (see record.h and docs/protocol.md). */
#include <assert.h>
#include <errno.h>
#include <string.h>

#include "error.h"
#include "identity.h"
#include "record.h"

/* Elements of the signed array in format 1. */
#define SIGNED_FIELDS 8

static const char *const kind_names[] = {
    [PROTO_KIND_MEMBER] = "member",           [PROTO_KIND_SERVICE] = "service",
    [PROTO_KIND_OBSERVATION] = "observation", [PROTO_KIND_GRANT] = "grant",
    [PROTO_KIND_REVOCATION] = "revocation",   [PROTO_KIND_BACKUP] = "backup",
    [PROTO_KIND_DNS_CHANGE] = "dns-change",   [PROTO_KIND_ADMISSION] = "admission",
};

#define N_KIND_NAMES (sizeof(kind_names) / sizeof(kind_names[0]))

const char *proto_kind_name(unsigned kind)
{
	return kind < N_KIND_NAMES ? kind_names[kind] : NULL;
}

int proto_kind_parse(const char *name, uint8_t *kind)
{
	for (unsigned k = 1; k < N_KIND_NAMES; k++) {
		if (kind_names[k] && strcmp(name, kind_names[k]) == 0) {
			*kind = (uint8_t)k;
			return 0;
		}
	}
	return KITH_EVALUE;
}

/* Reads an unsigned integer and checks it lies in [lo, hi]. */
static int read_ranged(struct mp_reader *r, uint64_t *out, uint64_t lo, uint64_t hi)
{
	if (mp_read_uint(r, out))
		return r->err;
	if (*out < lo || *out > hi)
		return mp_fail(r, KITH_EVALUE);
	return 0;
}

/* Parses the signed array; the version is read before the element count
 * is judged, so a later format with another shape gets KITH_EVERSION. */
static int decode_signed(struct proto_record *out, const uint8_t *buf, size_t len)
{
	struct mp_reader r;
	uint32_t n = 0;
	uint64_t format, kind;
	mp_reader_init(&r, buf, len);
	mp_read_array(&r, &n, PROTO_ARRAY_MAX);
	if (mp_read_uint(&r, &format))
		return r.err;
	if (format != PROTO_RECORD_FORMAT)
		return mp_fail(&r, KITH_EVERSION);
	if (n != SIGNED_FIELDS)
		return mp_fail(&r, KITH_EVALUE);
	mp_read_bin_exact(&r, out->author, PROTO_KEY_LEN);
	read_ranged(&r, &kind, 1, UINT8_MAX);
	mp_read_text(&r, out->name, PROTO_NAME_MAX);
	read_ranged(&r, &out->seq, 1, UINT64_MAX);
	mp_read_uint(&r, &out->issued);
	read_ranged(&r, &out->expires, out->issued, UINT64_MAX);
	mp_read_bin(&r, &out->body, &out->body_len, PROTO_BODY_MAX);
	out->kind = (uint8_t)kind;
	return mp_finish(&r);
}

int proto_record_decode(struct proto_record *out, const uint8_t *buf, size_t len)
{
	struct mp_reader r;
	uint32_t n = 0;
	size_t sig_len = 0;
	memset(out, 0, sizeof(*out));
	if (len > PROTO_RECORD_MAX)
		return KITH_ETOOBIG;
	mp_reader_init(&r, buf, len);
	if (mp_read_array(&r, &n, 2))
		return r.err;
	if (n != 2)
		return KITH_EVALUE;
	mp_read_bin(&r, &out->signed_bytes, &out->signed_len, PROTO_RECORD_MAX);
	mp_read_bin(&r, &out->sig, &sig_len, PROTO_RECORD_MAX);
	if (mp_finish(&r))
		return r.err;
	if (sig_len != PROTO_SIG_LEN)
		return KITH_EVALUE;
	return decode_signed(out, out->signed_bytes, out->signed_len);
}

int proto_record_verify(const struct proto_record *rec)
{
	return proto_sig_verify(rec->author, rec->sig, PROTO_RECORD_DOMAIN, PROTO_RECORD_DOMAIN_LEN,
	                        rec->signed_bytes, rec->signed_len);
}

/* Written as differences so that no sum can wrap around UINT64_MAX. */
int proto_record_check_time(const struct proto_record *rec, uint64_t now)
{
	if (rec->issued > now && rec->issued - now > PROTO_CLOCK_SKEW)
		return KITH_EFUTURE;
	if (rec->expires < now && now - rec->expires > PROTO_CLOCK_SKEW)
		return KITH_EEXPIRED;
	return 0;
}

int proto_record_open(struct proto_record *out, const uint8_t *buf, size_t len, uint64_t now)
{
	int rc = proto_record_decode(out, buf, len);
	if (!rc)
		rc = proto_record_verify(out);
	if (!rc)
		rc = proto_record_check_time(out, now);
	return rc;
}

/* The decoder's rules, applied to what we are about to sign. */
static int check_fields(const struct proto_record *in)
{
	size_t name_len = strnlen(in->name, sizeof(in->name));
	if (name_len > PROTO_NAME_MAX)
		return KITH_ETOOBIG;
	if (in->body_len > PROTO_BODY_MAX)
		return KITH_ETOOBIG;
	if (in->kind == 0 || in->seq == 0 || in->expires < in->issued)
		return KITH_EVALUE;
	if (!mp_text_ok(in->name, name_len) || (in->body_len && !in->body))
		return KITH_EVALUE;
	return 0;
}

static void pack_signed(struct mp_buf *buf, const uint8_t author[PROTO_KEY_LEN],
                        const struct proto_record *in)
{
	msgpack_packer pk;
	mp_buf_packer(buf, &pk);
	msgpack_pack_array(&pk, SIGNED_FIELDS);
	msgpack_pack_uint64(&pk, PROTO_RECORD_FORMAT);
	mp_pack_bin(&pk, author, PROTO_KEY_LEN);
	msgpack_pack_uint64(&pk, in->kind);
	mp_pack_cstr(&pk, in->name);
	msgpack_pack_uint64(&pk, in->seq);
	msgpack_pack_uint64(&pk, in->issued);
	msgpack_pack_uint64(&pk, in->expires);
	mp_pack_bin(&pk, in->body, in->body_len);
}

int proto_record_sign(struct mp_buf *out, const struct proto_identity *id,
                      const struct proto_record *in)
{
	struct mp_buf signed_buf = {0};
	uint8_t sig[PROTO_SIG_LEN];
	msgpack_packer pk;
	size_t start = out->len;
	int rc = check_fields(in);
	if (rc)
		return rc;
	pack_signed(&signed_buf, id->pk, in);
	rc = signed_buf.err;
	if (!rc)
		rc = proto_identity_sign(id, sig, PROTO_RECORD_DOMAIN, PROTO_RECORD_DOMAIN_LEN,
		                         signed_buf.data, signed_buf.len);
	if (rc)
		goto cleanup;
	mp_buf_packer(out, &pk);
	msgpack_pack_array(&pk, 2);
	mp_pack_bin(&pk, signed_buf.data, signed_buf.len);
	mp_pack_bin(&pk, sig, sizeof(sig));
	rc = out->err;
	/* A full-size body plus the envelope can pass PROTO_RECORD_MAX: the
	 * decoder would refuse it, so it is never handed out. */
	if (!rc && out->len - start > PROTO_RECORD_MAX) {
		out->len = start;
		rc = KITH_ETOOBIG;
	}
cleanup:
	mp_buf_free(&signed_buf);
	return rc;
}

static_assert(sizeof(PROTO_RECORD_DOMAIN) == PROTO_RECORD_DOMAIN_LEN,
              "the signature domain includes its NUL");

uint64_t proto_seq_floor(uint64_t now)
{
	return now > UINT64_MAX / 1000 ? UINT64_MAX / 1000 : now * 1000;
}
