/* Unit tests of the signed record envelope. */
#include <stdlib.h>
#include <string.h>

#include "proto/error.h"
#include "proto/identity.h"
#include "proto/record.h"
#include "tap.h"

#define NOW 1700000000ULL

static struct proto_identity *id, *other;
static uint8_t body_bytes[PROTO_BODY_MAX + 1];

/* Every field of a signed array, so that tests can break one at a time. */
struct raw {
	uint64_t format;
	uint32_t fields; /* array header; extra fields are nil */
	const uint8_t *author;
	size_t author_len;
	uint64_t kind;
	bool kind_as_str;
	const char *name;
	size_t name_len;
	uint64_t seq, issued, expires;
	size_t body_len;
	size_t sig_len;
	bool inner_trail; /* a byte after the signed array, inside the bin */
	bool no_domain;   /* sign without PROTO_RECORD_DOMAIN */
};

static struct raw good(void)
{
	struct raw w = {
	    .format = 1,
	    .fields = 8,
	    .author = id->pk,
	    .author_len = PROTO_KEY_LEN,
	    .kind = PROTO_KIND_SERVICE,
	    .name = "cloud",
	    .name_len = 5,
	    .seq = 7,
	    .issued = NOW,
	    .expires = NOW + 3600,
	    .body_len = 10,
	    .sig_len = PROTO_SIG_LEN,
	};
	return w;
}

/* Encodes w as a record signed by id, bypassing proto_record_sign()'s
 * checks so that the decoder sees what a hostile peer could send. */
static void build(struct mp_buf *out, const struct raw *w)
{
	struct mp_buf sb = {0};
	msgpack_packer pk;
	uint8_t sig[PROTO_SIG_LEN + 8] = {0};
	mp_buf_packer(&sb, &pk);
	msgpack_pack_array(&pk, w->fields);
	msgpack_pack_uint64(&pk, w->format);
	if (w->fields > 1)
		mp_pack_bin(&pk, w->author, w->author_len);
	if (w->fields > 2) {
		if (w->kind_as_str)
			mp_pack_cstr(&pk, "service");
		else
			msgpack_pack_uint64(&pk, w->kind);
	}
	if (w->fields > 3)
		mp_pack_str(&pk, w->name, w->name_len);
	if (w->fields > 4)
		msgpack_pack_uint64(&pk, w->seq);
	if (w->fields > 5)
		msgpack_pack_uint64(&pk, w->issued);
	if (w->fields > 6)
		msgpack_pack_uint64(&pk, w->expires);
	if (w->fields > 7)
		mp_pack_bin(&pk, body_bytes, w->body_len);
	for (uint32_t i = 8; i < w->fields; i++)
		msgpack_pack_nil(&pk);
	if (w->inner_trail)
		msgpack_pack_nil(&pk);
	proto_identity_sign(id, sig, PROTO_RECORD_DOMAIN,
	                    w->no_domain ? 0 : PROTO_RECORD_DOMAIN_LEN, sb.data, sb.len);
	mp_buf_packer(out, &pk);
	msgpack_pack_array(&pk, 2);
	mp_pack_bin(&pk, sb.data, sb.len);
	mp_pack_bin(&pk, sig, w->sig_len);
	mp_buf_free(&sb);
}

static int decode_raw(const struct raw *w, struct proto_record *rec)
{
	struct mp_buf b = {0};
	build(&b, w);
	int rc = proto_record_decode(rec, b.data, b.len);
	mp_buf_free(&b);
	return rc;
}

static int open_raw(const struct raw *w)
{
	struct mp_buf b = {0};
	struct proto_record rec;
	build(&b, w);
	int rc = proto_record_open(&rec, b.data, b.len, NOW);
	mp_buf_free(&b);
	return rc;
}

/* A record signed through the public API. */
static int sign(struct mp_buf *out, uint8_t kind, const char *name, size_t body_len)
{
	struct proto_record in = {
	    .kind = kind,
	    .seq = 1,
	    .issued = NOW,
	    .expires = NOW + 60,
	    .body = body_bytes,
	    .body_len = body_len,
	};
	snprintf(in.name, sizeof(in.name), "%s", name);
	return proto_record_sign(out, id, &in);
}

static void test_round_trip(void)
{
	struct mp_buf b = {0};
	struct proto_record in = {
	    .kind = PROTO_KIND_OBSERVATION,
	    .seq = 42,
	    .issued = NOW,
	    .expires = NOW + 600,
	    .body = body_bytes,
	    .body_len = 300,
	};
	struct proto_record rec;
	strcpy(in.name, "peer/caf\xc3\xa9");
	is(proto_record_sign(&b, id, &in), 0, "sign");
	is(proto_record_decode(&rec, b.data, b.len), 0, "decode");
	ok(memcmp(rec.author, id->pk, PROTO_KEY_LEN) == 0, "author is the signer");
	is(rec.kind, PROTO_KIND_OBSERVATION, "kind");
	ok(strcmp(rec.name, in.name) == 0, "name");
	is(rec.seq, 42, "seq");
	ok(rec.issued == NOW && rec.expires == NOW + 600, "times");
	ok(rec.body_len == 300 && memcmp(rec.body, body_bytes, 300) == 0, "body");
	ok(rec.body >= b.data && rec.body + rec.body_len <= b.data + b.len, "body is borrowed");
	ok(rec.signed_bytes > b.data && rec.sig > rec.signed_bytes,
	   "signed bytes and sig borrowed");
	is(proto_record_verify(&rec), 0, "verify");
	is(proto_record_check_time(&rec, NOW), 0, "check time");
	is(proto_record_open(&rec, b.data, b.len, NOW + 100), 0, "open");
	mp_buf_free(&b);

	is(sign(&b, PROTO_KIND_MEMBER, "", 0), 0, "sign a tombstone with an empty name");
	is(proto_record_open(&rec, b.data, b.len, NOW), 0, "open the tombstone");
	ok(rec.body_len == 0 && rec.name[0] == '\0', "empty body and name");
	mp_buf_free(&b);

	is(sign(&b, PROTO_KIND_BACKUP, "x", PROTO_BODY_MAX), 0, "sign a body of PROTO_BODY_MAX");
	ok(b.len <= PROTO_RECORD_MAX, "which fits in PROTO_RECORD_MAX");
	is(proto_record_open(&rec, b.data, b.len, NOW), 0, "open it");
	mp_buf_free(&b);

	struct raw w = good();
	w.kind = 200;
	is(decode_raw(&w, &rec), 0, "an unknown kind decodes (it is relayed)");
	is(rec.kind, 200, "unknown kind kept");
	is(open_raw(&w), 0, "and opens");
}

static void test_kinds(void)
{
	static const char *const names[] = {"member",     "service", "observation", "grant",
	                                    "revocation", "backup",  "dns-change",  "admission"};
	int good_names = 1;
	for (unsigned k = 1; k <= 8; k++) {
		uint8_t back = 0;
		const char *n = proto_kind_name(k);
		if (!n || strcmp(n, names[k - 1]) || proto_kind_parse(n, &back) || back != k)
			good_names = 0;
	}
	ok(good_names, "the eight kinds name and parse");
	ok(proto_kind_name(0) == NULL, "kind 0 has no name");
	ok(proto_kind_name(9) == NULL, "kind 9 has no name");
	ok(proto_kind_name(255) == NULL, "kind 255 has no name");
	ok(proto_kind_name(100000) == NULL, "kind 100000 has no name");
	uint8_t k;
	is(proto_kind_parse("Member", &k), KITH_EVALUE, "kind names are lower case");
	is(proto_kind_parse("", &k), KITH_EVALUE, "empty kind name");
}

static void test_truncated(void)
{
	struct mp_buf b = {0};
	struct proto_record rec;
	int not_trunc = 0;
	sign(&b, PROTO_KIND_SERVICE, "cloud", 20);
	for (size_t cut = 0; cut < b.len; cut++) {
		uint8_t *copy = malloc(cut ? cut : 1); /* exact size: ASan sees overreads */
		memcpy(copy, b.data, cut);
		if (proto_record_decode(&rec, copy, cut) != KITH_ETRUNC)
			not_trunc++;
		free(copy);
	}
	is(not_trunc, 0, "a record cut at every byte offset gives KITH_ETRUNC");
	mp_buf_free(&b);
}

static void test_bit_flips(void)
{
	struct mp_buf b = {0};
	struct proto_record rec;
	int opened = 0, sig_not_badsig = 0, badsig = 0;
	sign(&b, PROTO_KIND_GRANT, "g1", 16);
	size_t sig_at = b.len - PROTO_SIG_LEN;
	for (size_t i = 0; i < b.len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			b.data[i] ^= (uint8_t)(1u << bit);
			int rc = proto_record_open(&rec, b.data, b.len, NOW);
			b.data[i] ^= (uint8_t)(1u << bit);
			if (rc == 0)
				opened++;
			if (rc == KITH_EBADSIG)
				badsig++;
			if (i >= sig_at && rc != KITH_EBADSIG)
				sig_not_badsig++;
		}
	}
	is(opened, 0, "no single bit flip anywhere leaves a record that opens");
	is(sig_not_badsig, 0, "every flip in the signature gives KITH_EBADSIG");
	ok(badsig > PROTO_SIG_LEN * 8, "flips in the signed bytes give KITH_EBADSIG too");
	is(proto_record_open(&rec, b.data, b.len, NOW), 0, "the unflipped record still opens");
	mp_buf_free(&b);
}

/* The acceptance: tampered, truncated and oversize records are
 * told apart by their error codes. */
static void test_distinct_errors(void)
{
	struct mp_buf b = {0};
	struct proto_record rec;
	sign(&b, PROTO_KIND_SERVICE, "cloud", 20);

	b.data[b.len - 1] ^= 0x01;
	int tampered = proto_record_open(&rec, b.data, b.len, NOW);
	b.data[b.len - 1] ^= 0x01;
	int truncated = proto_record_open(&rec, b.data, b.len - 1, NOW);
	uint8_t *big = calloc(1, PROTO_RECORD_MAX + 1);
	memcpy(big, b.data, b.len);
	int oversize = proto_record_open(&rec, big, PROTO_RECORD_MAX + 1, NOW);
	free(big);

	is(tampered, KITH_EBADSIG, "tampered: KITH_EBADSIG");
	is(truncated, KITH_ETRUNC, "truncated: KITH_ETRUNC");
	is(oversize, KITH_ETOOBIG, "oversize: KITH_ETOOBIG");
	ok(tampered != truncated && truncated != oversize && tampered != oversize,
	   "tampered, truncated and oversize give three distinct codes");

	uint8_t *trail = malloc(b.len + 1);
	memcpy(trail, b.data, b.len);
	trail[b.len] = 0xc0;
	is(proto_record_decode(&rec, trail, b.len + 1), KITH_ETRAIL, "trailing byte: KITH_ETRAIL");
	free(trail);
	mp_buf_free(&b);
}

static void test_decode_rules(void)
{
	struct proto_record rec;
	struct raw w;
	char name[PROTO_NAME_MAX + 2];
	memset(name, 'n', sizeof(name));

	w = good(), w.format = 2;
	is(decode_raw(&w, &rec), KITH_EVERSION, "format 2");
	w.fields = 3;
	is(decode_raw(&w, &rec), KITH_EVERSION, "format 2 of another shape");
	w = good(), w.format = 0;
	is(decode_raw(&w, &rec), KITH_EVERSION, "format 0");
	w = good(), w.fields = 7;
	is(decode_raw(&w, &rec), KITH_EVALUE, "7 fields");
	w = good(), w.fields = 9;
	is(decode_raw(&w, &rec), KITH_EVALUE, "9 fields");
	w = good(), w.author_len = 31;
	is(decode_raw(&w, &rec), KITH_EVALUE, "author of 31 bytes");
	w = good(), w.kind = 0;
	is(decode_raw(&w, &rec), KITH_EVALUE, "kind 0");
	w = good(), w.kind = 256;
	is(decode_raw(&w, &rec), KITH_EVALUE, "kind 256");
	w = good(), w.kind_as_str = true;
	is(decode_raw(&w, &rec), KITH_ETYPE, "kind as a string");
	w = good(), w.name = "a\nb", w.name_len = 3;
	is(decode_raw(&w, &rec), KITH_EVALUE, "name with a newline");
	w = good(), w.name = "a\0b", w.name_len = 3;
	is(decode_raw(&w, &rec), KITH_EVALUE, "name with a NUL");
	w = good(), w.name = name, w.name_len = PROTO_NAME_MAX;
	is(decode_raw(&w, &rec), 0, "name of PROTO_NAME_MAX");
	is(strlen(rec.name), PROTO_NAME_MAX, "long name kept whole");
	w.name_len = PROTO_NAME_MAX + 1;
	is(decode_raw(&w, &rec), KITH_ETOOBIG, "name over PROTO_NAME_MAX");
	w = good(), w.seq = 0;
	is(decode_raw(&w, &rec), KITH_EVALUE, "seq 0");
	w = good(), w.expires = w.issued - 1;
	is(decode_raw(&w, &rec), KITH_EVALUE, "expires before issued");
	w = good(), w.expires = w.issued;
	is(decode_raw(&w, &rec), 0, "expires equal to issued");
	w = good(), w.body_len = PROTO_BODY_MAX + 1;
	is(decode_raw(&w, &rec), KITH_ETOOBIG, "body over PROTO_BODY_MAX");
	w = good(), w.sig_len = 63;
	is(decode_raw(&w, &rec), KITH_EVALUE, "signature of 63 bytes");
	w = good(), w.sig_len = 65;
	is(decode_raw(&w, &rec), KITH_EVALUE, "signature of 65 bytes");
	w = good(), w.inner_trail = true;
	is(decode_raw(&w, &rec), KITH_ETRAIL, "trailing byte inside the signed bytes");
	w = good(), w.author = other->pk;
	is(decode_raw(&w, &rec), 0, "someone else's author decodes");
	is(open_raw(&w), KITH_EBADSIG, "but does not verify");
	w = good(), w.no_domain = true;
	is(open_raw(&w), KITH_EBADSIG, "a signature without the domain prefix fails");
	w = good();
	is(open_raw(&w), 0, "the good raw record opens");
}

static void test_shape(void)
{
	struct proto_record rec;
	static const uint8_t huge_array[] = {0xdd, 0xff, 0xff, 0xff, 0xff, 0xc4, 0x00};
	static const uint8_t three[] = {0x93, 0xc4, 0x00, 0xc4, 0x00, 0xc4, 0x00};
	static const uint8_t one[] = {0x91, 0xc4, 0x00};
	static const uint8_t map[] = {0x82, 0x01, 0x02, 0x03, 0x04};
	static const uint8_t str_signed[] = {0x92, 0xa1, 'x', 0xc4, 0x00};
	static const uint8_t malformed[] = {0xc1};
	/* signed bytes that are an array32 claiming 2^32-1 items */
	uint8_t inner_huge[1 + 2 + 5 + 2 + PROTO_SIG_LEN] = {0x92, 0xc4, 0x05, 0xdd, 0xff,
	                                                     0xff, 0xff, 0xff, 0xc4, PROTO_SIG_LEN};
	is(proto_record_decode(&rec, huge_array, sizeof(huge_array)), KITH_ETOOBIG,
	   "outer array claiming 2^32-1 items");
	is(proto_record_decode(&rec, inner_huge, sizeof(inner_huge)), KITH_ETOOBIG,
	   "signed array claiming 2^32-1 items");
	is(proto_record_decode(&rec, three, sizeof(three)), KITH_ETOOBIG, "outer array of 3");
	is(proto_record_decode(&rec, one, sizeof(one)), KITH_EVALUE, "outer array of 1");
	is(proto_record_decode(&rec, map, sizeof(map)), KITH_ETYPE, "a map, not an array");
	is(proto_record_decode(&rec, str_signed, sizeof(str_signed)), KITH_ETYPE,
	   "signed bytes as str");
	is(proto_record_decode(&rec, malformed, sizeof(malformed)), KITH_EMALFORMED, "0xc1");
	is(proto_record_decode(&rec, NULL, 0), KITH_ETRUNC, "empty input");
}

static void test_time(void)
{
	struct proto_record r = {.issued = NOW, .expires = NOW + 100};
	is(proto_record_check_time(&r, NOW - PROTO_CLOCK_SKEW), 0, "issued at the skew limit");
	is(proto_record_check_time(&r, NOW - PROTO_CLOCK_SKEW - 1), KITH_EFUTURE, "future");
	is(proto_record_check_time(&r, NOW + 100 + PROTO_CLOCK_SKEW), 0,
	   "expiry at the skew limit");
	is(proto_record_check_time(&r, NOW + 100 + PROTO_CLOCK_SKEW + 1), KITH_EEXPIRED, "expired");
	r.issued = UINT64_MAX, r.expires = UINT64_MAX;
	is(proto_record_check_time(&r, 0), KITH_EFUTURE, "far future without overflow");
	is(proto_record_check_time(&r, UINT64_MAX), 0, "UINT64_MAX now and expiry");
	r.issued = 0, r.expires = 0;
	is(proto_record_check_time(&r, UINT64_MAX), KITH_EEXPIRED, "expired long ago");
	is(proto_record_check_time(&r, 0), 0, "zero times at zero");

	struct raw w = good();
	w.issued = NOW + PROTO_CLOCK_SKEW + 1, w.expires = w.issued + 10;
	is(open_raw(&w), KITH_EFUTURE, "open a future record");
	w = good(), w.issued = NOW - 1000, w.expires = NOW - PROTO_CLOCK_SKEW - 1;
	is(open_raw(&w), KITH_EEXPIRED, "open an expired record");
}

static void test_sign_checks(void)
{
	struct mp_buf b = {0};
	struct proto_record in = {
	    .kind = 1,
	    .seq = 1,
	    .issued = NOW,
	    .expires = NOW,
	    .body = body_bytes,
	    .body_len = 1,
	};
	struct proto_record bad;
	bad = in, bad.seq = 0;
	is(proto_record_sign(&b, id, &bad), KITH_EVALUE, "sign refuses seq 0");
	bad = in, bad.kind = 0;
	is(proto_record_sign(&b, id, &bad), KITH_EVALUE, "sign refuses kind 0");
	bad = in, bad.expires = NOW - 1;
	is(proto_record_sign(&b, id, &bad), KITH_EVALUE, "sign refuses expires < issued");
	bad = in, strcpy(bad.name, "tab\there");
	is(proto_record_sign(&b, id, &bad), KITH_EVALUE, "sign refuses a control character");
	bad = in, memset(bad.name, 'x', sizeof(bad.name));
	is(proto_record_sign(&b, id, &bad), KITH_ETOOBIG, "sign refuses an unterminated name");
	bad = in, bad.body_len = PROTO_BODY_MAX + 1;
	is(proto_record_sign(&b, id, &bad), KITH_ETOOBIG, "sign refuses a big body");
	bad = in, bad.body = NULL;
	is(proto_record_sign(&b, id, &bad), KITH_EVALUE, "sign refuses a missing body");
	is(b.len, 0, "nothing written by refused signs");
	is(proto_record_sign(&b, id, &in), 0, "the good one signs");
	mp_buf_free(&b);
}

int main(void)
{
	for (size_t i = 0; i < sizeof(body_bytes); i++)
		body_bytes[i] = (uint8_t)(i * 7 + 3);
	if (proto_identity_generate(&id) || proto_identity_generate(&other)) {
		printf("Bail out! cannot generate identities\n");
		return 1;
	}
	test_round_trip();
	test_kinds();
	test_truncated();
	test_bit_flips();
	test_distinct_errors();
	test_decode_rules();
	test_shape();
	test_time();
	test_sign_checks();
	proto_identity_free(&id);
	proto_identity_free(&other);
	return tap_done();
}
