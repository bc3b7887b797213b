/* Unit tests of the request op codecs (proto/ops.c): shard, usage and
 * services, their round trips, every refusal, and truncation at every
 * offset. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/error.h"
#include "proto/ops.h"
#include "tap.h"

static struct proto_shard shard;
static struct proto_usage usage;
static struct proto_service_entry entries[PROTO_SERVICES_MAX + 8], entries2[PROTO_SERVICES_MAX + 8];

/* ---- raw maps, built without the encoders' checks ---- */

static struct mp_buf raw;
static msgpack_packer pk;

static msgpack_packer *raw_begin(uint32_t n)
{
	mp_buf_free(&raw);
	mp_buf_packer(&raw, &pk);
	msgpack_pack_map(&pk, n);
	return &pk;
}

static void pack_key(uint64_t key)
{
	msgpack_pack_uint64(&pk, key);
}

static int shard_rc(const uint8_t *buf, size_t len)
{
	return proto_shard_decode(&shard, buf, len);
}

static int usage_rc(const uint8_t *buf, size_t len)
{
	return proto_usage_decode(&usage, buf, len);
}

static int services_rc(const uint8_t *buf, size_t len)
{
	size_t n;
	return proto_services_decode(entries2, PROTO_SERVICES_MAX + 8, &n, buf, len);
}

#define RAW(fn) fn(raw.data, raw.len)

/* A service body by its own encoder. */
static void pack_body(const struct proto_service *s)
{
	struct mp_buf b = {0};
	if (proto_service_encode(&b, s))
		abort(); /* our own fixture: a bug in the test */
	mp_pack_bin(&pk, b.data, b.len);
	mp_buf_free(&b);
}

static void fill_entry(struct proto_service_entry *e, int i)
{
	memset(e, 0, sizeof(*e));
	snprintf(e->name, sizeof(e->name), "svc-%03d", i);
	proto_service_defaults(&e->spec);
	snprintf(e->spec.url, sizeof(e->spec.url), "https://s%d.example.org/health", i);
	e->spec.expect_status = i % 2 ? 200 : 0;
	e->spec.interval_s = 30 + (uint32_t)i;
}

/* True when the bytes of needle appear in hay. */
static bool contains(const struct mp_buf *hay, const struct mp_buf *needle)
{
	for (size_t at = 0; at + needle->len <= hay->len; at++)
		if (memcmp(hay->data + at, needle->data, needle->len) == 0)
			return true;
	return false;
}

/* Every proper prefix is KITH_ETRUNC, read from a buffer of exactly that
 * size so that ASan sees any read past it. */
static void truncations(const struct mp_buf *b, int (*decode)(const uint8_t *, size_t),
                        const char *what)
{
	size_t bad = 0;
	for (size_t k = 0; k < b->len; k++) {
		uint8_t *cut = malloc(k ? k : 1);
		if (!cut)
			abort();
		memcpy(cut, b->data, k);
		bad += decode(cut, k) != KITH_ETRUNC;
		free(cut);
	}
	is(bad, 0, what);
}

/* ---- shard ---- */

static void test_shard(void)
{
	static uint8_t big[PROTO_SHARD_MAX + 1];
	struct proto_shard in = {0};
	struct mp_buf b = {0};
	strcpy(in.name, "2024-06-01/seg-0007.k3");
	is(proto_shard_encode(&b, &in), 0, "shard: name only encodes");
	is(proto_shard_decode(&shard, b.data, b.len), 0, "shard: name only decodes");
	ok(strcmp(shard.name, in.name) == 0 && !shard.has_data && !shard.data && shard.len == 0,
	   "shard: same name, no data");
	mp_buf_free(&b);

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7);
	in.data = big;
	in.len = 1000;
	in.has_data = true;
	is(proto_shard_encode(&b, &in), 0, "shard: with data encodes");
	is(proto_shard_decode(&shard, b.data, b.len), 0, "shard: with data decodes");
	ok(shard.has_data && shard.len == 1000 && memcmp(shard.data, big, 1000) == 0 &&
	       shard.data > b.data && shard.data + shard.len <= b.data + b.len,
	   "shard: same data, borrowed from the buffer");
	truncations(&b, shard_rc, "shard: truncated at every offset");
	mp_buf_free(&b);

	in.len = 0;
	is(proto_shard_encode(&b, &in), 0, "shard: empty data encodes");
	is(proto_shard_decode(&shard, b.data, b.len), 0, "shard: empty data decodes");
	ok(shard.has_data && shard.len == 0, "shard: empty data is data");
	mp_buf_free(&b);

	in.len = PROTO_SHARD_MAX;
	memset(in.name, 'n', PROTO_SHARD_NAME_MAX);
	in.name[PROTO_SHARD_NAME_MAX] = '\0';
	is(proto_shard_encode(&b, &in), 0, "shard: 4 MiB, name of 128 bytes");
	is(proto_shard_decode(&shard, b.data, b.len), 0, "shard: 4 MiB decodes");
	ok(shard.len == PROTO_SHARD_MAX && memcmp(shard.data, big, PROTO_SHARD_MAX) == 0,
	   "shard: 4 MiB same bytes");
	mp_buf_free(&b);

	/* encoder refusals append nothing */
	in.len = PROTO_SHARD_MAX + 1;
	is(proto_shard_encode(&b, &in), KITH_ETOOBIG, "shard encode: 4 MiB + 1");
	in.len = 5;
	in.data = NULL;
	is(proto_shard_encode(&b, &in), KITH_EVALUE, "shard encode: NULL data of 5 bytes");
	in.has_data = false;
	is(proto_shard_encode(&b, &in), 0, "shard encode: data ignored without has_data");
	is(proto_shard_decode(&shard, b.data, b.len), 0, "shard: ...and not written");
	ok(!shard.has_data, "shard: no data read");
	mp_buf_free(&b);
	memset(in.name, 'n', sizeof(in.name));
	is(proto_shard_encode(&b, &in), KITH_ETOOBIG, "shard encode: name without its NUL");
	in.name[0] = '\0';
	is(proto_shard_encode(&b, &in), KITH_EVALUE, "shard encode: empty name");
	strcpy(in.name, "a\nb");
	is(proto_shard_encode(&b, &in), KITH_EVALUE, "shard encode: name with a line feed");
	is(b.len, 0, "shard encode: refusals appended nothing");

	/* decoder refusals */
	raw_begin(0);
	is(RAW(shard_rc), KITH_EMISSING, "shard: empty map");
	raw_begin(1), pack_key(2), mp_pack_bin(&pk, big, 3);
	is(RAW(shard_rc), KITH_EMISSING, "shard: data without name");
	raw_begin(1), pack_key(1), mp_pack_cstr(&pk, "");
	is(RAW(shard_rc), KITH_EVALUE, "shard: empty name");
	raw_begin(1), pack_key(1), mp_pack_str(&pk, (const char *)big + 1, 3);
	is(RAW(shard_rc), KITH_EVALUE, "shard: name with control characters");
	raw_begin(1), pack_key(1), mp_pack_str(&pk, "\xc3\x28", 2);
	is(RAW(shard_rc), KITH_EVALUE, "shard: name not UTF-8");
	memset(big, 'x', PROTO_SHARD_NAME_MAX + 1);
	raw_begin(1), pack_key(1), mp_pack_str(&pk, (const char *)big, PROTO_SHARD_NAME_MAX + 1);
	is(RAW(shard_rc), KITH_ETOOBIG, "shard: name of 129 bytes");
	raw_begin(1), pack_key(1), mp_pack_bin(&pk, big, 3);
	is(RAW(shard_rc), KITH_ETYPE, "shard: name as bin");
	raw_begin(2), pack_key(1), mp_pack_cstr(&pk, "s"), pack_key(2), mp_pack_cstr(&pk, "d");
	is(RAW(shard_rc), KITH_ETYPE, "shard: data as str");
	raw_begin(2), pack_key(1), mp_pack_cstr(&pk, "s");
	pack_key(2), mp_pack_bin(&pk, big, PROTO_SHARD_MAX + 1);
	is(RAW(shard_rc), KITH_ETOOBIG, "shard: data of 4 MiB + 1");
	raw_begin(2), pack_key(1), mp_pack_cstr(&pk, "s"), pack_key(1), mp_pack_cstr(&pk, "t");
	is(RAW(shard_rc), KITH_EDUPKEY, "shard: name twice");
	raw_begin(3), pack_key(1), mp_pack_cstr(&pk, "s");
	pack_key(9), msgpack_pack_nil(&pk), pack_key(9), msgpack_pack_nil(&pk);
	is(RAW(shard_rc), KITH_EDUPKEY, "shard: unknown key twice");
	raw_begin(1), mp_pack_cstr(&pk, "name"), mp_pack_cstr(&pk, "s");
	is(RAW(shard_rc), KITH_ETYPE, "shard: string key");
	raw_begin(1), pack_key(1), mp_pack_cstr(&pk, "s");
	msgpack_pack_nil(&pk);
	is(RAW(shard_rc), KITH_ETRAIL, "shard: trailing byte");
	raw_begin(1), pack_key(1);
	raw.data[raw.len++] = 0xc1;
	is(RAW(shard_rc), KITH_EMALFORMED, "shard: 0xc1 as a value");
	mp_buf_free(&raw);
	mp_buf_packer(&raw, &pk);
	msgpack_pack_array(&pk, 0);
	is(RAW(shard_rc), KITH_ETYPE, "shard: an array");
	raw_begin(65);
	is(RAW(shard_rc), KITH_ETOOBIG, "shard: map of 65 keys");

	/* unknown keys are skipped, up to 7 levels inside the map */
	raw_begin(3), pack_key(1), mp_pack_cstr(&pk, "s");
	pack_key(99);
	for (int i = 0; i < 7; i++)
		msgpack_pack_array(&pk, 1);
	msgpack_pack_double(&pk, 1.5);
	pack_key(98), msgpack_pack_int64(&pk, -3);
	is(RAW(shard_rc), 0, "shard: unknown keys skipped");
	ok(strcmp(shard.name, "s") == 0, "shard: name read beside unknown keys");
	raw_begin(2), pack_key(1), mp_pack_cstr(&pk, "s");
	pack_key(99);
	for (int i = 0; i < 8; i++)
		msgpack_pack_array(&pk, 1);
	msgpack_pack_nil(&pk);
	is(RAW(shard_rc), KITH_EDEPTH, "shard: unknown value 8 levels deep");
}

/* ---- usage ---- */

static void test_usage(void)
{
	struct proto_usage in = {UINT64_MAX, 50ULL << 30};
	struct mp_buf b = {0};
	static const uint8_t example[] = {0x82, 0x01, 0xcd, 0x04, 0x00, 0x02,
	                                  0xce, 0x00, 0x10, 0x00, 0x00};
	is(proto_usage_encode(&b, &in), 0, "usage: encodes");
	is(proto_usage_decode(&usage, b.data, b.len), 0, "usage: decodes");
	ok(usage.used == UINT64_MAX && usage.quota == 50ULL << 30, "usage: same values");
	truncations(&b, usage_rc, "usage: truncated at every offset");
	mp_buf_free(&b);
	in = (struct proto_usage){1024, 1 << 20};
	is(proto_usage_encode(&b, &in), 0, "usage: example encodes");
	ok(b.len == sizeof(example) && memcmp(b.data, example, b.len) == 0,
	   "usage: example bytes as documented");
	mp_buf_free(&b);
	in = (struct proto_usage){9, 3};
	is(proto_usage_encode(&b, &in), 0, "usage: used above quota encodes");
	is(proto_usage_decode(&usage, b.data, b.len), 0, "usage: used above quota decodes");
	mp_buf_free(&b);

	raw_begin(1), pack_key(2), msgpack_pack_uint64(&pk, 5);
	is(RAW(usage_rc), KITH_EMISSING, "usage: used missing");
	raw_begin(1), pack_key(1), msgpack_pack_uint64(&pk, 5);
	is(RAW(usage_rc), KITH_EMISSING, "usage: quota missing");
	raw_begin(2), pack_key(1), msgpack_pack_int64(&pk, -1), pack_key(2);
	msgpack_pack_uint64(&pk, 5);
	is(RAW(usage_rc), KITH_ETYPE, "usage: negative used");
	raw_begin(2), pack_key(1), msgpack_pack_uint64(&pk, 1), pack_key(2);
	msgpack_pack_double(&pk, 5);
	is(RAW(usage_rc), KITH_ETYPE, "usage: quota as a float");
	raw_begin(3), pack_key(1), msgpack_pack_uint64(&pk, 1), pack_key(2);
	msgpack_pack_uint64(&pk, 5), pack_key(2), msgpack_pack_uint64(&pk, 5);
	is(RAW(usage_rc), KITH_EDUPKEY, "usage: quota twice");
	raw_begin(2), pack_key(1), msgpack_pack_uint64(&pk, 1), pack_key(2);
	msgpack_pack_uint64(&pk, 5);
	msgpack_pack_uint64(&pk, 5);
	is(RAW(usage_rc), KITH_ETRAIL, "usage: trailing byte");
}

/* ---- services ---- */

static void test_services(void)
{
	struct mp_buf b = {0}, body = {0};
	size_t n = 99;

	is(proto_services_encode(&b, NULL, 0), 0, "services: none encodes");
	is(proto_services_decode(entries2, 8, &n, b.data, b.len), 0, "services: none decodes");
	ok(n == 0 && b.len == 1 && b.data[0] == 0x80, "services: none is an empty map");
	mp_buf_free(&b);

	for (int i = 0; i < PROTO_SERVICES_MAX + 1; i++)
		fill_entry(&entries[i], i);
	strcpy(entries[1].spec.expect_body, "ok");
	entries[1].spec.timeout_s = 3;
	entries[1].spec.tls_warn_s = 0;
	is(proto_services_encode(&b, entries, 3), 0, "services: 3 encode");
	is(proto_services_decode(entries2, 3, &n, b.data, b.len), 0, "services: 3 decode");
	ok(n == 3 && memcmp(entries, entries2, 3 * sizeof(entries[0])) == 0,
	   "services: same names and check details");
	is(proto_services_decode(entries2, 2, &n, b.data, b.len), KITH_ETOOBIG,
	   "services: over the caller's cap");
	truncations(&b, services_rc, "services: truncated at every offset");
	/* the body inside is the service body codec's, byte for byte */
	is(proto_service_encode(&body, &entries[1].spec), 0, "services: body encodes alone");
	ok(body.len > 0 && contains(&b, &body), "services: the entry carries that very body");
	mp_buf_free(&body);
	mp_buf_free(&b);

	is(proto_services_encode(&b, entries, PROTO_SERVICES_MAX), 0, "services: 100 encode");
	is(services_rc(b.data, b.len), 0, "services: 100 decode");
	is(proto_services_encode(&b, entries, PROTO_SERVICES_MAX + 1), KITH_ETOOBIG,
	   "services encode: 101");
	mp_buf_free(&b);

	/* encoder refusals append nothing */
	strcpy(entries[1].name, "Web");
	is(proto_services_encode(&b, entries, 3), KITH_EVALUE, "services encode: upper-case name");
	strcpy(entries[1].name, "");
	is(proto_services_encode(&b, entries, 3), KITH_EVALUE, "services encode: empty name");
	memset(entries[1].name, 'a', sizeof(entries[1].name));
	is(proto_services_encode(&b, entries, 3), KITH_ETOOBIG,
	   "services encode: name without its NUL");
	strcpy(entries[1].name, entries[2].name);
	is(proto_services_encode(&b, entries, 3), KITH_EVALUE, "services encode: name twice");
	fill_entry(&entries[1], 1);
	entries[2].spec.interval_s = 0;
	is(proto_services_encode(&b, entries, 3), KITH_EVALUE, "services encode: interval 0");
	entries[2].spec.interval_s = 60;
	entries[2].spec.url[0] = '\0';
	is(proto_services_encode(&b, entries, 3), KITH_EVALUE, "services encode: empty url");
	is(b.len, 0, "services encode: refusals appended nothing");
	mp_buf_free(&b);
	fill_entry(&entries[2], 2);

	/* decoder refusals */
	struct proto_service spec;
	memset(&spec, 0, sizeof(spec));
	proto_service_defaults(&spec);
	strcpy(spec.url, "https://a.example/");
	raw_begin(1), pack_key(1), msgpack_pack_array(&pk, 2);
	msgpack_pack_array(&pk, 2), mp_pack_cstr(&pk, "web"), pack_body(&spec);
	msgpack_pack_array(&pk, 2), mp_pack_cstr(&pk, "web"), pack_body(&spec);
	is(RAW(services_rc), KITH_EVALUE, "services: name twice");
	raw_begin(1), pack_key(1), msgpack_pack_array(&pk, 1);
	msgpack_pack_array(&pk, 2), mp_pack_cstr(&pk, "Web"), pack_body(&spec);
	is(RAW(services_rc), KITH_EVALUE, "services: upper-case name");
	raw_begin(1), pack_key(1), msgpack_pack_array(&pk, 1);
	msgpack_pack_array(&pk, 2), mp_pack_cstr(&pk, ""), pack_body(&spec);
	is(RAW(services_rc), KITH_EVALUE, "services: empty name");
	raw_begin(1), pack_key(1), msgpack_pack_array(&pk, 1);
	msgpack_pack_array(&pk, 2),
	    mp_pack_str(&pk, "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijkl",
	                64);
	pack_body(&spec);
	is(RAW(services_rc), KITH_ETOOBIG, "services: name of 64 bytes");
	raw_begin(1), pack_key(1), msgpack_pack_array(&pk, 1);
	msgpack_pack_array(&pk, 1), mp_pack_cstr(&pk, "web");
	is(RAW(services_rc), KITH_EVALUE, "services: entry of 1 item");
	raw_begin(1), pack_key(1), msgpack_pack_array(&pk, 1);
	msgpack_pack_array(&pk, 3);
	is(RAW(services_rc), KITH_ETOOBIG, "services: entry of 3 items");
	raw_begin(1), pack_key(1), msgpack_pack_array(&pk, 1);
	msgpack_pack_array(&pk, 2), mp_pack_cstr(&pk, "web"), mp_pack_cstr(&pk, "body");
	is(RAW(services_rc), KITH_ETYPE, "services: body as str");
	raw_begin(1), pack_key(1), msgpack_pack_array(&pk, 1);
	msgpack_pack_array(&pk, 2), mp_pack_cstr(&pk, "web");
	mp_pack_bin(&pk, (const uint8_t[]){0x81, 0x00, 0x01}, 3);
	is(RAW(services_rc), KITH_EMISSING, "services: body without url (the body codec's rule)");
	raw_begin(1), pack_key(1), msgpack_pack_array(&pk, 1);
	msgpack_pack_array(&pk, 2), mp_pack_cstr(&pk, "web");
	mp_pack_bin(&pk, (const uint8_t[]){0x81, 0x00, 0x02}, 3);
	is(RAW(services_rc), KITH_EVERSION, "services: body of version 2");
	raw_begin(1), pack_key(1), msgpack_pack_array(&pk, 1);
	msgpack_pack_array(&pk, 2), mp_pack_cstr(&pk, "web");
	static uint8_t huge[PROTO_BODY_MAX + 1];
	mp_pack_bin(&pk, huge, sizeof(huge));
	is(RAW(services_rc), KITH_ETOOBIG, "services: body over PROTO_BODY_MAX");
	raw_begin(1), pack_key(1), msgpack_pack_array(&pk, PROTO_SERVICES_MAX + 1);
	for (int i = 0; i < PROTO_SERVICES_MAX + 1; i++) {
		msgpack_pack_array(&pk, 2), mp_pack_cstr(&pk, entries[i].name);
		pack_body(&entries[i].spec);
	}
	is(RAW(services_rc), KITH_ETOOBIG, "services: 101 entries");
	raw_begin(1), pack_key(1), msgpack_pack_array(&pk, PROTO_SERVICES_MAX);
	is(RAW(services_rc), KITH_ETRUNC, "services: 100 claimed in no bytes");
	raw_begin(1), pack_key(1), msgpack_pack_map(&pk, 0);
	is(RAW(services_rc), KITH_ETYPE, "services: list as a map");
	raw_begin(2), pack_key(1), msgpack_pack_array(&pk, 0), pack_key(1);
	msgpack_pack_array(&pk, 0);
	is(RAW(services_rc), KITH_EDUPKEY, "services: list twice");
	raw_begin(1), pack_key(7), mp_pack_cstr(&pk, "later");
	is(RAW(services_rc), 0, "services: unknown key skipped");
}

/* The whole-input limit, judged before parsing. */
static void test_max(void)
{
	uint8_t *huge = calloc(1, (size_t)PROTO_MSG_MAX + 1);
	size_t n;
	if (!huge)
		return;
	huge[0] = 0x80; /* an empty map, then zeros */
	is(proto_shard_decode(&shard, huge, (size_t)PROTO_MSG_MAX + 1), KITH_ETOOBIG,
	   "over PROTO_MSG_MAX: shard");
	is(proto_usage_decode(&usage, huge, (size_t)PROTO_MSG_MAX + 1), KITH_ETOOBIG,
	   "over PROTO_MSG_MAX: usage");
	is(proto_services_decode(entries2, 8, &n, huge, (size_t)PROTO_MSG_MAX + 1), KITH_ETOOBIG,
	   "over PROTO_MSG_MAX: services");
	is(proto_services_decode(entries2, 8, &n, huge, PROTO_MSG_MAX), KITH_ETRAIL,
	   "exactly PROTO_MSG_MAX is parsed");
	free(huge);
}

int main(void)
{
	test_shard();
	test_usage();
	test_services();
	test_max();
	mp_buf_free(&raw);
	return tap_done();
}
