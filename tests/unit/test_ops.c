/* Unit tests of the request op codecs (proto/ops.c): shard, usage,
 * services and the hold.* args and results, their round trips, every
 * refusal, truncation at every offset, and hold receipts. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/error.h"
#include "proto/identity.h"
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

/* ---- hold.* ---- */

static struct proto_hold_open hopen;
static struct proto_hold_write hwrite;
static struct proto_hold_written hwritten;
static struct proto_hold_name hname;
static struct proto_hold_receipt hreceipt;
static struct proto_hold_read hread;
static struct proto_hold_data hdata;
static struct proto_hold_list_args hargs;
static struct proto_hold_list hlist, hlist_in;
static uint8_t piece[PROTO_HOLD_PIECE_MAX + 1];
static char name129[PROTO_HOLD_NAME_MAX + 2];

static int hold_open_rc(const uint8_t *buf, size_t len)
{
	return proto_hold_open_decode(&hopen, buf, len);
}
static int hold_write_rc(const uint8_t *buf, size_t len)
{
	return proto_hold_write_decode(&hwrite, buf, len);
}
static int hold_written_rc(const uint8_t *buf, size_t len)
{
	return proto_hold_written_decode(&hwritten, buf, len);
}
static int hold_name_rc(const uint8_t *buf, size_t len)
{
	return proto_hold_name_decode(&hname, buf, len);
}
static int hold_receipt_rc(const uint8_t *buf, size_t len)
{
	return proto_hold_receipt_decode(&hreceipt, buf, len);
}
static int hold_read_rc(const uint8_t *buf, size_t len)
{
	return proto_hold_read_decode(&hread, buf, len);
}
static int hold_data_rc(const uint8_t *buf, size_t len)
{
	return proto_hold_data_decode(&hdata, buf, len);
}
static int hold_args_rc(const uint8_t *buf, size_t len)
{
	return proto_hold_list_args_decode(&hargs, buf, len);
}
static int hold_list_rc(const uint8_t *buf, size_t len)
{
	return proto_hold_list_decode(&hlist, buf, len);
}

/* Every bad name, through a decoder reading name at key 1 with the other
 * keys packed by rest(). */
static void bad_names(int (*decode)(const uint8_t *, size_t), void (*rest)(void), uint32_t keys,
                      const char *what)
{
	static const struct {
		const char *name;
		size_t len;
		int rc;
	} bad[] = {
	    {"", 0, KITH_EVALUE},     {"..", 2, KITH_EVALUE},  {"a..b", 4, KITH_EVALUE},
	    {".x", 2, KITH_EVALUE},   {"A", 1, KITH_EVALUE},   {"a/b", 3, KITH_EVALUE},
	    {"a\0b", 3, KITH_EVALUE}, {"a b", 3, KITH_EVALUE}, {"caf\xc3\xa9", 5, KITH_EVALUE},
	    {"a\nb", 3, KITH_EVALUE}, {"x~", 2, KITH_EVALUE},  {"a+b", 3, KITH_EVALUE},
	};
	char label[160];
	size_t wrong = 0;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		raw_begin(keys), pack_key(1), mp_pack_str(&pk, bad[i].name, bad[i].len);
		rest();
		wrong += decode(raw.data, raw.len) != bad[i].rc;
	}
	snprintf(label, sizeof(label),
	         "%s: names \"\", \"..\", \".x\", \"A\", '/', NUL, ... refused", what);
	is(wrong, 0, label);
	raw_begin(keys), pack_key(1), mp_pack_str(&pk, name129, PROTO_HOLD_NAME_MAX + 1);
	rest();
	snprintf(label, sizeof(label), "%s: name of 129 bytes", what);
	is(decode(raw.data, raw.len), KITH_ETOOBIG, label);
	raw_begin(keys), pack_key(1), mp_pack_str(&pk, name129, PROTO_HOLD_NAME_MAX);
	rest();
	snprintf(label, sizeof(label), "%s: name of 128 bytes", what);
	is(decode(raw.data, raw.len), 0, label);
	raw_begin(keys), pack_key(1), mp_pack_bin(&pk, (const uint8_t *)"abc", 3);
	rest();
	snprintf(label, sizeof(label), "%s: name as bin", what);
	is(decode(raw.data, raw.len), KITH_ETYPE, label);
}

static const uint8_t hash32[PROTO_HOLD_HASH_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9};

static void rest_open(void)
{
	pack_key(2), msgpack_pack_uint64(&pk, 10), pack_key(3), mp_pack_bin(&pk, hash32, 32);
}
static void rest_write(void)
{
	pack_key(2), msgpack_pack_uint64(&pk, 0), pack_key(3), mp_pack_bin(&pk, piece, 1);
}
static void rest_none(void)
{
}
static void rest_read(void)
{
	pack_key(2), msgpack_pack_uint64(&pk, 0), pack_key(3), msgpack_pack_uint64(&pk, 1);
}

static void test_hold_name_ok(void)
{
	ok(proto_hold_name_ok("p-0007.s3", 9) && proto_hold_name_ok("a", 1) &&
	       proto_hold_name_ok("a.b_c-9", 7) && proto_hold_name_ok("a.", 2),
	   "hold name: valid names");
	ok(!proto_hold_name_ok(NULL, 0) && !proto_hold_name_ok("", 0) &&
	       !proto_hold_name_ok("..", 2) && !proto_hold_name_ok("a..", 3) &&
	       !proto_hold_name_ok(".x", 2) && !proto_hold_name_ok("A", 1) &&
	       !proto_hold_name_ok("a\0", 2) && !proto_hold_name_ok("a/b", 3),
	   "hold name: \"\", \"..\", \".x\", \"A\", NUL and '/' refused");
	ok(proto_hold_name_ok(name129, PROTO_HOLD_NAME_MAX) &&
	       !proto_hold_name_ok(name129, PROTO_HOLD_NAME_MAX + 1),
	   "hold name: 128 bytes, not 129");
}

static void test_hold_open(void)
{
	struct proto_hold_open in = {.name = "p-0007.s3", .size = PROTO_HOLD_SIZE_MAX};
	struct mp_buf b = {0};
	memcpy(in.hash, hash32, sizeof(in.hash));
	is(proto_hold_open_encode(&b, &in), 0, "hold.open: encodes");
	is(hold_open_rc(b.data, b.len), 0, "hold.open: decodes");
	ok(strcmp(hopen.name, in.name) == 0 && hopen.size == in.size &&
	       memcmp(hopen.hash, in.hash, sizeof(in.hash)) == 0,
	   "hold.open: same name, size and hash");
	truncations(&b, hold_open_rc, "hold.open: truncated at every offset");
	mp_buf_free(&b);
	in.size = 0;
	is(proto_hold_open_encode(&b, &in), 0, "hold.open: size 0 encodes");
	is(hold_open_rc(b.data, b.len), 0, "hold.open: size 0 decodes");
	mp_buf_free(&b);

	in.size = PROTO_HOLD_SIZE_MAX + 1;
	is(proto_hold_open_encode(&b, &in), KITH_ETOOBIG, "hold.open encode: size over max");
	in.size = 1;
	strcpy(in.name, "a..b");
	is(proto_hold_open_encode(&b, &in), KITH_EVALUE, "hold.open encode: name with ..");
	memset(in.name, 'a', sizeof(in.name));
	is(proto_hold_open_encode(&b, &in), KITH_ETOOBIG, "hold.open encode: name without NUL");
	is(b.len, 0, "hold.open encode: refusals appended nothing");

	bad_names(hold_open_rc, rest_open, 3, "hold.open");
	raw_begin(3), pack_key(1), mp_pack_cstr(&pk, "a"), pack_key(2);
	msgpack_pack_uint64(&pk, PROTO_HOLD_SIZE_MAX + 1), pack_key(3),
	    mp_pack_bin(&pk, hash32, 32);
	is(RAW(hold_open_rc), KITH_ETOOBIG, "hold.open: size over max");
	raw_begin(3), pack_key(1), mp_pack_cstr(&pk, "a"), pack_key(2);
	msgpack_pack_uint64(&pk, 1), pack_key(3), mp_pack_bin(&pk, hash32, 31);
	is(RAW(hold_open_rc), KITH_EVALUE, "hold.open: hash of 31 bytes");
	raw_begin(3), pack_key(1), mp_pack_cstr(&pk, "a"), pack_key(2);
	msgpack_pack_uint64(&pk, 1), pack_key(3), mp_pack_bin(&pk, piece, 33);
	is(RAW(hold_open_rc), KITH_EVALUE, "hold.open: hash of 33 bytes");
	raw_begin(3), pack_key(1), mp_pack_cstr(&pk, "a"), pack_key(2);
	msgpack_pack_uint64(&pk, 1), pack_key(3), mp_pack_str(&pk, (const char *)hash32, 32);
	is(RAW(hold_open_rc), KITH_ETYPE, "hold.open: hash as str");
	raw_begin(3), pack_key(1), mp_pack_cstr(&pk, "a"), pack_key(2);
	msgpack_pack_int64(&pk, -1), pack_key(3), mp_pack_bin(&pk, hash32, 32);
	is(RAW(hold_open_rc), KITH_ETYPE, "hold.open: negative size");
	raw_begin(2), pack_key(1), mp_pack_cstr(&pk, "a"), pack_key(2);
	msgpack_pack_uint64(&pk, 1);
	is(RAW(hold_open_rc), KITH_EMISSING, "hold.open: hash missing");
	raw_begin(2), pack_key(1), mp_pack_cstr(&pk, "a"), pack_key(3),
	    mp_pack_bin(&pk, hash32, 32);
	is(RAW(hold_open_rc), KITH_EMISSING, "hold.open: size missing");
	raw_begin(2), pack_key(2), msgpack_pack_uint64(&pk, 1), pack_key(3);
	mp_pack_bin(&pk, hash32, 32);
	is(RAW(hold_open_rc), KITH_EMISSING, "hold.open: name missing");
	raw_begin(4), pack_key(1), mp_pack_cstr(&pk, "a"), rest_open(), pack_key(2);
	msgpack_pack_uint64(&pk, 1);
	is(RAW(hold_open_rc), KITH_EDUPKEY, "hold.open: size twice");
	raw_begin(3), pack_key(1), mp_pack_cstr(&pk, "a"), rest_open();
	msgpack_pack_nil(&pk);
	is(RAW(hold_open_rc), KITH_ETRAIL, "hold.open: trailing byte");
	raw_begin(4), pack_key(1), mp_pack_cstr(&pk, "a"), rest_open(), pack_key(9);
	msgpack_pack_array(&pk, 1), msgpack_pack_nil(&pk);
	is(RAW(hold_open_rc), 0, "hold.open: unknown key skipped");
}

static void test_hold_write(void)
{
	struct proto_hold_write in = {
	    .name = "p-0007.s3", .offset = 7, .data = piece, .len = PROTO_HOLD_PIECE_MAX};
	struct proto_hold_written w = {PROTO_HOLD_SIZE_MAX};
	struct mp_buf b = {0};
	for (size_t i = 0; i < sizeof(piece); i++)
		piece[i] = (uint8_t)(i * 13);
	is(proto_hold_write_encode(&b, &in), 0, "hold.write: 256 KiB piece encodes");
	is(hold_write_rc(b.data, b.len), 0, "hold.write: decodes");
	ok(strcmp(hwrite.name, in.name) == 0 && hwrite.offset == 7 &&
	       hwrite.len == PROTO_HOLD_PIECE_MAX &&
	       memcmp(hwrite.data, piece, PROTO_HOLD_PIECE_MAX) == 0 && hwrite.data > b.data &&
	       hwrite.data + hwrite.len <= b.data + b.len,
	   "hold.write: same piece, borrowed from the buffer");
	mp_buf_free(&b);
	in.len = 3;
	in.offset = PROTO_HOLD_SIZE_MAX - 3;
	is(proto_hold_write_encode(&b, &in), 0, "hold.write: last 3 bytes of the largest shard");
	truncations(&b, hold_write_rc, "hold.write: truncated at every offset");
	mp_buf_free(&b);

	in.offset = PROTO_HOLD_SIZE_MAX - 2;
	is(proto_hold_write_encode(&b, &in), KITH_ETOOBIG, "hold.write encode: past the max size");
	in.offset = UINT64_MAX;
	is(proto_hold_write_encode(&b, &in), KITH_ETOOBIG, "hold.write encode: offset 2^64-1");
	in.offset = 0;
	in.len = 0;
	is(proto_hold_write_encode(&b, &in), KITH_EVALUE, "hold.write encode: piece of 0");
	in.len = PROTO_HOLD_PIECE_MAX + 1;
	is(proto_hold_write_encode(&b, &in), KITH_ETOOBIG, "hold.write encode: piece over max");
	in.len = 1;
	in.data = NULL;
	is(proto_hold_write_encode(&b, &in), KITH_EVALUE, "hold.write encode: NULL data");
	in.data = piece;
	strcpy(in.name, ".x");
	is(proto_hold_write_encode(&b, &in), KITH_EVALUE, "hold.write encode: name .x");
	is(b.len, 0, "hold.write encode: refusals appended nothing");

	bad_names(hold_write_rc, rest_write, 3, "hold.write");
	raw_begin(3), pack_key(1), mp_pack_cstr(&pk, "a"), pack_key(2), msgpack_pack_uint64(&pk, 0);
	pack_key(3), mp_pack_bin(&pk, piece, 0);
	is(RAW(hold_write_rc), KITH_EVALUE, "hold.write: piece of 0");
	raw_begin(3), pack_key(1), mp_pack_cstr(&pk, "a"), pack_key(2), msgpack_pack_uint64(&pk, 0);
	pack_key(3), mp_pack_bin(&pk, piece, PROTO_HOLD_PIECE_MAX + 1);
	is(RAW(hold_write_rc), KITH_ETOOBIG, "hold.write: piece over max");
	raw_begin(3), pack_key(1), mp_pack_cstr(&pk, "a"), pack_key(2);
	msgpack_pack_uint64(&pk, PROTO_HOLD_SIZE_MAX), pack_key(3), mp_pack_bin(&pk, piece, 1);
	is(RAW(hold_write_rc), KITH_ETOOBIG, "hold.write: offset + len over the max size");
	raw_begin(3), pack_key(1), mp_pack_cstr(&pk, "a"), pack_key(2);
	msgpack_pack_uint64(&pk, UINT64_MAX), pack_key(3), mp_pack_bin(&pk, piece, 1);
	is(RAW(hold_write_rc), KITH_ETOOBIG, "hold.write: offset 2^64-1");
	raw_begin(3), pack_key(1), mp_pack_cstr(&pk, "a"), pack_key(2), msgpack_pack_uint64(&pk, 0);
	pack_key(3), mp_pack_cstr(&pk, "data");
	is(RAW(hold_write_rc), KITH_ETYPE, "hold.write: data as str");
	raw_begin(2), pack_key(1), mp_pack_cstr(&pk, "a"), pack_key(3), mp_pack_bin(&pk, piece, 1);
	is(RAW(hold_write_rc), KITH_EMISSING, "hold.write: offset missing");
	raw_begin(4), pack_key(1), mp_pack_cstr(&pk, "a"), rest_write(), pack_key(3);
	mp_pack_bin(&pk, piece, 1);
	is(RAW(hold_write_rc), KITH_EDUPKEY, "hold.write: data twice");

	is(proto_hold_written_encode(&b, &w), 0, "hold.write result: encodes");
	is(hold_written_rc(b.data, b.len), 0, "hold.write result: decodes");
	is(hwritten.written, PROTO_HOLD_SIZE_MAX, "hold.write result: same count");
	truncations(&b, hold_written_rc, "hold.write result: truncated at every offset");
	mp_buf_free(&b);
	w.written++;
	is(proto_hold_written_encode(&b, &w), KITH_ETOOBIG, "hold.write result encode: over max");
	is(b.len, 0, "hold.write result encode: appended nothing");
	raw_begin(1), pack_key(1), msgpack_pack_uint64(&pk, PROTO_HOLD_SIZE_MAX + 1);
	is(RAW(hold_written_rc), KITH_ETOOBIG, "hold.write result: over max");
	raw_begin(0);
	is(RAW(hold_written_rc), KITH_EMISSING, "hold.write result: empty");
	raw_begin(1), pack_key(1), msgpack_pack_true(&pk);
	is(RAW(hold_written_rc), KITH_ETYPE, "hold.write result: bool");
	raw_begin(2), pack_key(1), msgpack_pack_uint64(&pk, 1), pack_key(1);
	msgpack_pack_uint64(&pk, 2);
	is(RAW(hold_written_rc), KITH_EDUPKEY, "hold.write result: twice");
}

static void test_hold_name(void)
{
	struct proto_hold_name in = {.name = "p-0007.s3"};
	struct mp_buf b = {0};
	is(proto_hold_name_encode(&b, &in), 0, "hold name args: encode");
	is(hold_name_rc(b.data, b.len), 0, "hold name args: decode");
	ok(strcmp(hname.name, in.name) == 0, "hold name args: same name");
	truncations(&b, hold_name_rc, "hold name args: truncated at every offset");
	mp_buf_free(&b);
	strcpy(in.name, "A");
	is(proto_hold_name_encode(&b, &in), KITH_EVALUE, "hold name args encode: \"A\"");
	is(b.len, 0, "hold name args encode: appended nothing");
	bad_names(hold_name_rc, rest_none, 1, "hold name args");
	raw_begin(0);
	is(RAW(hold_name_rc), KITH_EMISSING, "hold name args: empty");
	raw_begin(2), pack_key(1), mp_pack_cstr(&pk, "a"), pack_key(1), mp_pack_cstr(&pk, "b");
	is(RAW(hold_name_rc), KITH_EDUPKEY, "hold name args: name twice");
}

static void test_hold_read(void)
{
	struct proto_hold_read in = {
	    .name = "p-0007.s3", .offset = PROTO_HOLD_SIZE_MAX, .len = PROTO_HOLD_PIECE_MAX};
	struct proto_hold_data d = {.data = piece, .len = PROTO_HOLD_PIECE_MAX, .size = 1ULL << 32};
	struct mp_buf b = {0};
	is(proto_hold_read_encode(&b, &in), 0, "hold.read: encodes");
	is(hold_read_rc(b.data, b.len), 0, "hold.read: decodes");
	ok(strcmp(hread.name, in.name) == 0 && hread.offset == in.offset && hread.len == in.len,
	   "hold.read: same name, offset, len");
	truncations(&b, hold_read_rc, "hold.read: truncated at every offset");
	mp_buf_free(&b);
	in.len = 0;
	is(proto_hold_read_encode(&b, &in), KITH_EVALUE, "hold.read encode: len 0");
	in.len = PROTO_HOLD_PIECE_MAX + 1;
	is(proto_hold_read_encode(&b, &in), KITH_ETOOBIG, "hold.read encode: len over max");
	in.len = 1;
	in.offset = PROTO_HOLD_SIZE_MAX + 1;
	is(proto_hold_read_encode(&b, &in), KITH_ETOOBIG, "hold.read encode: offset over max");
	is(b.len, 0, "hold.read encode: refusals appended nothing");
	bad_names(hold_read_rc, rest_read, 3, "hold.read");
	raw_begin(3), pack_key(1), mp_pack_cstr(&pk, "a"), pack_key(2), msgpack_pack_uint64(&pk, 0);
	pack_key(3), msgpack_pack_uint64(&pk, 0);
	is(RAW(hold_read_rc), KITH_EVALUE, "hold.read: len 0");
	raw_begin(3), pack_key(1), mp_pack_cstr(&pk, "a"), pack_key(2), msgpack_pack_uint64(&pk, 0);
	pack_key(3), msgpack_pack_uint64(&pk, PROTO_HOLD_PIECE_MAX + 1);
	is(RAW(hold_read_rc), KITH_ETOOBIG, "hold.read: len over max");
	raw_begin(3), pack_key(1), mp_pack_cstr(&pk, "a"), pack_key(2), msgpack_pack_uint64(&pk, 0);
	pack_key(3), msgpack_pack_uint64(&pk, (1ULL << 32) + 1);
	is(RAW(hold_read_rc), KITH_ETOOBIG, "hold.read: len 2^32+1");
	raw_begin(3), pack_key(1), mp_pack_cstr(&pk, "a"), pack_key(2);
	msgpack_pack_uint64(&pk, PROTO_HOLD_SIZE_MAX + 1), pack_key(3), msgpack_pack_uint64(&pk, 1);
	is(RAW(hold_read_rc), KITH_ETOOBIG, "hold.read: offset over max");
	raw_begin(3), pack_key(1), mp_pack_cstr(&pk, "a"), pack_key(2), msgpack_pack_uint64(&pk, 0);
	pack_key(3), mp_pack_cstr(&pk, "1");
	is(RAW(hold_read_rc), KITH_ETYPE, "hold.read: len as str");
	raw_begin(2), pack_key(1), mp_pack_cstr(&pk, "a"), pack_key(2), msgpack_pack_uint64(&pk, 0);
	is(RAW(hold_read_rc), KITH_EMISSING, "hold.read: len missing");
	raw_begin(4), pack_key(1), mp_pack_cstr(&pk, "a"), rest_read(), pack_key(2);
	msgpack_pack_uint64(&pk, 0);
	is(RAW(hold_read_rc), KITH_EDUPKEY, "hold.read: offset twice");

	is(proto_hold_data_encode(&b, &d), 0, "hold.read result: 256 KiB encodes");
	is(hold_data_rc(b.data, b.len), 0, "hold.read result: decodes");
	ok(hdata.len == d.len && hdata.size == d.size && memcmp(hdata.data, piece, d.len) == 0 &&
	       hdata.data > b.data && hdata.data + hdata.len <= b.data + b.len,
	   "hold.read result: same data and size, borrowed");
	mp_buf_free(&b);
	d.len = 0;
	d.size = 0;
	is(proto_hold_data_encode(&b, &d), 0,
	   "hold.read result: empty at the end of a 0-byte shard");
	is(hold_data_rc(b.data, b.len), 0, "hold.read result: empty decodes");
	ok(hdata.len == 0 && hdata.size == 0, "hold.read result: empty, size 0");
	truncations(&b, hold_data_rc, "hold.read result: truncated at every offset");
	mp_buf_free(&b);
	d.len = 5;
	d.size = 4;
	is(proto_hold_data_encode(&b, &d), KITH_EVALUE, "hold.read result encode: data over size");
	d.size = PROTO_HOLD_SIZE_MAX + 1;
	is(proto_hold_data_encode(&b, &d), KITH_ETOOBIG, "hold.read result encode: size over max");
	d.size = 9;
	d.len = PROTO_HOLD_PIECE_MAX + 1;
	is(proto_hold_data_encode(&b, &d), KITH_ETOOBIG, "hold.read result encode: data over max");
	is(b.len, 0, "hold.read result encode: refusals appended nothing");
	raw_begin(2), pack_key(1), mp_pack_bin(&pk, piece, 5), pack_key(2);
	msgpack_pack_uint64(&pk, 4);
	is(RAW(hold_data_rc), KITH_EVALUE, "hold.read result: data over size");
	raw_begin(2), pack_key(1), mp_pack_bin(&pk, piece, PROTO_HOLD_PIECE_MAX + 1), pack_key(2);
	msgpack_pack_uint64(&pk, PROTO_HOLD_SIZE_MAX);
	is(RAW(hold_data_rc), KITH_ETOOBIG, "hold.read result: data over max");
	raw_begin(2), pack_key(1), mp_pack_bin(&pk, piece, 1), pack_key(2);
	msgpack_pack_uint64(&pk, PROTO_HOLD_SIZE_MAX + 1);
	is(RAW(hold_data_rc), KITH_ETOOBIG, "hold.read result: size over max");
	raw_begin(1), pack_key(1), mp_pack_bin(&pk, piece, 1);
	is(RAW(hold_data_rc), KITH_EMISSING, "hold.read result: size missing");
	raw_begin(2), pack_key(1), mp_pack_cstr(&pk, "x"), pack_key(2), msgpack_pack_uint64(&pk, 1);
	is(RAW(hold_data_rc), KITH_ETYPE, "hold.read result: data as str");
	raw_begin(3), pack_key(1), mp_pack_bin(&pk, piece, 1), pack_key(2);
	msgpack_pack_uint64(&pk, 1), pack_key(1), mp_pack_bin(&pk, piece, 1);
	is(RAW(hold_data_rc), KITH_EDUPKEY, "hold.read result: data twice");
}

static void fill_list(size_t n)
{
	memset(&hlist_in, 0, sizeof(hlist_in));
	for (size_t i = 0; i < n; i++) {
		struct proto_hold_entry *e = &hlist_in.entries[i];
		snprintf(e->name, sizeof(e->name), "p-%05zu.s%zu", i, i % 6);
		e->size = i == 0 ? PROTO_HOLD_SIZE_MAX : (uint64_t)i * 1000;
		memset(e->hash, (int)i, sizeof(e->hash));
		e->state = (enum proto_hold_state)(i % 3);
	}
	hlist_in.n = n;
}

static void pack_entry(const char *name, uint64_t size, size_t hash_len)
{
	msgpack_pack_map(&pk, 3);
	pack_key(1), mp_pack_cstr(&pk, name);
	pack_key(2), msgpack_pack_uint64(&pk, size);
	pack_key(3), mp_pack_bin(&pk, piece, hash_len);
}

static void test_hold_list(void)
{
	struct proto_hold_list_args a = {.after = "p-0006.s1", .has_after = true};
	struct mp_buf b = {0};
	is(proto_hold_list_args_encode(&b, &a), 0, "hold.list args: after encodes");
	is(hold_args_rc(b.data, b.len), 0, "hold.list args: after decodes");
	ok(hargs.has_after && strcmp(hargs.after, a.after) == 0, "hold.list args: same after");
	truncations(&b, hold_args_rc, "hold.list args: truncated at every offset");
	mp_buf_free(&b);
	a.has_after = false;
	is(proto_hold_list_args_encode(&b, &a), 0, "hold.list args: none encodes");
	is(hold_args_rc(b.data, b.len), 0, "hold.list args: none decodes");
	ok(!hargs.has_after && b.len == 1 && b.data[0] == 0x80, "hold.list args: an empty map");
	mp_buf_free(&b);
	a.has_after = true;
	strcpy(a.after, "..");
	is(proto_hold_list_args_encode(&b, &a), KITH_EVALUE, "hold.list args encode: after \"..\"");
	is(b.len, 0, "hold.list args encode: appended nothing");
	bad_names(hold_args_rc, rest_none, 1, "hold.list args");
	raw_begin(2), pack_key(1), mp_pack_cstr(&pk, "a"), pack_key(1), mp_pack_cstr(&pk, "b");
	is(RAW(hold_args_rc), KITH_EDUPKEY, "hold.list args: after twice");

	fill_list(3);
	hlist_in.more = true;
	is(proto_hold_list_encode(&b, &hlist_in), 0, "hold.list: 3 entries and more encode");
	is(hold_list_rc(b.data, b.len), 0, "hold.list: decodes");
	ok(hlist.n == 3 && hlist.more &&
	       memcmp(hlist.entries, hlist_in.entries, 3 * sizeof(hlist.entries[0])) == 0,
	   "hold.list: same entries (states kept, open, grace) and more");
	truncations(&b, hold_list_rc, "hold.list: truncated at every offset");
	mp_buf_free(&b);
	fill_list(PROTO_HOLD_LIST_MAX);
	for (size_t i = 0; i < PROTO_HOLD_LIST_MAX; i++)
		memset(hlist_in.entries[i].name + 9, 'z', PROTO_HOLD_NAME_MAX - 9);
	hlist_in.entries[0].size = PROTO_HOLD_SIZE_MAX;
	is(proto_hold_list_encode(&b, &hlist_in), 0, "hold.list: 256 entries of 128-byte names");
	is(hold_list_rc(b.data, b.len), 0, "hold.list: 256 decode");
	ok(hlist.n == PROTO_HOLD_LIST_MAX && !hlist.more, "hold.list: 256, no more");
	ok(b.len <= 46 * 1024, "hold.list: the largest answer is under 46 KiB");
	mp_buf_free(&b);
	hlist_in.n = 0;
	is(proto_hold_list_encode(&b, &hlist_in), 0, "hold.list: empty encodes");
	ok(b.len == 1 && b.data[0] == 0x80, "hold.list: empty is an empty map");
	is(hold_list_rc(b.data, b.len), 0, "hold.list: empty decodes");
	mp_buf_free(&b);

	/* encoder refusals */
	hlist_in.more = true;
	is(proto_hold_list_encode(&b, &hlist_in), KITH_EVALUE,
	   "hold.list encode: more without entries");
	fill_list(PROTO_HOLD_LIST_MAX);
	hlist_in.n = PROTO_HOLD_LIST_MAX + 1;
	is(proto_hold_list_encode(&b, &hlist_in), KITH_ETOOBIG, "hold.list encode: 257 entries");
	fill_list(3);
	strcpy(hlist_in.entries[2].name, hlist_in.entries[1].name);
	is(proto_hold_list_encode(&b, &hlist_in), KITH_EVALUE, "hold.list encode: name twice");
	fill_list(3);
	strcpy(hlist_in.entries[0].name, "z");
	is(proto_hold_list_encode(&b, &hlist_in), KITH_EVALUE, "hold.list encode: out of order");
	fill_list(3);
	hlist_in.entries[1].state = (enum proto_hold_state)3;
	is(proto_hold_list_encode(&b, &hlist_in), KITH_EVALUE, "hold.list encode: state 3");
	fill_list(3);
	hlist_in.entries[1].size = PROTO_HOLD_SIZE_MAX + 1;
	is(proto_hold_list_encode(&b, &hlist_in), KITH_ETOOBIG, "hold.list encode: size over max");
	fill_list(3);
	strcpy(hlist_in.entries[1].name, "p-00001.S1");
	is(proto_hold_list_encode(&b, &hlist_in), KITH_EVALUE, "hold.list encode: bad name");
	is(b.len, 0, "hold.list encode: refusals appended nothing");

	/* decoder refusals */
	raw_begin(1), pack_key(1), msgpack_pack_array(&pk, PROTO_HOLD_LIST_MAX + 1);
	for (int i = 0; i < PROTO_HOLD_LIST_MAX + 1; i++) {
		char nm[16];
		snprintf(nm, sizeof(nm), "n%04d", i);
		pack_entry(nm, 1, 32);
	}
	is(RAW(hold_list_rc), KITH_ETOOBIG, "hold.list: 257 entries");
	ok(hlist.n == 0 && !hlist.more, "hold.list: nothing left on refusal");
	raw_begin(1), pack_key(1), msgpack_pack_array(&pk, PROTO_HOLD_LIST_MAX);
	is(RAW(hold_list_rc), KITH_ETRUNC, "hold.list: 256 claimed in no bytes");
	raw_begin(1), pack_key(1), msgpack_pack_array(&pk, 2), pack_entry("a", 1, 32);
	pack_entry("a", 2, 32);
	is(RAW(hold_list_rc), KITH_EVALUE, "hold.list: name twice");
	raw_begin(1), pack_key(1), msgpack_pack_array(&pk, 2), pack_entry("b", 1, 32);
	pack_entry("a", 2, 32);
	is(RAW(hold_list_rc), KITH_EVALUE, "hold.list: out of order");
	raw_begin(1), pack_key(1), msgpack_pack_array(&pk, 1), pack_entry("a..b", 1, 32);
	is(RAW(hold_list_rc), KITH_EVALUE, "hold.list: entry name with ..");
	raw_begin(1), pack_key(1), msgpack_pack_array(&pk, 1), pack_entry("a", 1, 31);
	is(RAW(hold_list_rc), KITH_EVALUE, "hold.list: hash of 31 bytes");
	raw_begin(1), pack_key(1), msgpack_pack_array(&pk, 1);
	pack_entry("a", PROTO_HOLD_SIZE_MAX + 1, 32);
	is(RAW(hold_list_rc), KITH_ETOOBIG, "hold.list: size over max");
	raw_begin(1), pack_key(1), msgpack_pack_array(&pk, 1), msgpack_pack_map(&pk, 2);
	pack_key(1), mp_pack_cstr(&pk, "a"), pack_key(2), msgpack_pack_uint64(&pk, 1);
	is(RAW(hold_list_rc), KITH_EMISSING, "hold.list: entry without hash");
	raw_begin(1), pack_key(1), msgpack_pack_array(&pk, 1), msgpack_pack_map(&pk, 4);
	pack_key(1), mp_pack_cstr(&pk, "a"), pack_key(2), msgpack_pack_uint64(&pk, 1);
	pack_key(3), mp_pack_bin(&pk, piece, 32), pack_key(4), msgpack_pack_uint64(&pk, 3);
	is(RAW(hold_list_rc), KITH_EVALUE, "hold.list: state 3");
	raw_begin(1), pack_key(1), msgpack_pack_array(&pk, 1), msgpack_pack_map(&pk, 4);
	pack_key(1), mp_pack_cstr(&pk, "a"), pack_key(2), msgpack_pack_uint64(&pk, 1);
	pack_key(3), mp_pack_bin(&pk, piece, 32), pack_key(2), msgpack_pack_uint64(&pk, 1);
	is(RAW(hold_list_rc), KITH_EDUPKEY, "hold.list: size twice in an entry");
	raw_begin(1), pack_key(1), msgpack_pack_array(&pk, 1), msgpack_pack_array(&pk, 3);
	is(RAW(hold_list_rc), KITH_ETYPE, "hold.list: entry as an array");
	raw_begin(1), pack_key(2), msgpack_pack_true(&pk);
	is(RAW(hold_list_rc), KITH_EVALUE, "hold.list: more without entries");
	raw_begin(2), pack_key(1), msgpack_pack_array(&pk, 1), pack_entry("a", 1, 32);
	pack_key(2), msgpack_pack_uint64(&pk, 1);
	is(RAW(hold_list_rc), KITH_ETYPE, "hold.list: more as uint");
	raw_begin(2), pack_key(1), msgpack_pack_array(&pk, 0), pack_key(1);
	msgpack_pack_array(&pk, 0);
	is(RAW(hold_list_rc), KITH_EDUPKEY, "hold.list: entries twice");
	raw_begin(2), pack_key(1), msgpack_pack_array(&pk, 1), pack_entry("a", 1, 32);
	pack_key(2), msgpack_pack_false(&pk);
	is(RAW(hold_list_rc), 0, "hold.list: explicit more false");
	/* unknown keys in an entry: up to 5 levels inside it */
	raw_begin(1), pack_key(1), msgpack_pack_array(&pk, 1), msgpack_pack_map(&pk, 4);
	pack_key(1), mp_pack_cstr(&pk, "a"), pack_key(2), msgpack_pack_uint64(&pk, 1);
	pack_key(3), mp_pack_bin(&pk, piece, 32), pack_key(9);
	for (int i = 0; i < 5; i++)
		msgpack_pack_array(&pk, 1);
	msgpack_pack_nil(&pk);
	is(RAW(hold_list_rc), 0, "hold.list: unknown entry key 5 levels deep skipped");
	raw_begin(1), pack_key(1), msgpack_pack_array(&pk, 1), msgpack_pack_map(&pk, 4);
	pack_key(1), mp_pack_cstr(&pk, "a"), pack_key(2), msgpack_pack_uint64(&pk, 1);
	pack_key(3), mp_pack_bin(&pk, piece, 32), pack_key(9);
	for (int i = 0; i < 6; i++)
		msgpack_pack_array(&pk, 1);
	msgpack_pack_nil(&pk);
	is(RAW(hold_list_rc), KITH_EDEPTH, "hold.list: unknown entry key 6 levels deep");
}

static void test_hold_receipt(void)
{
	struct proto_identity *holder = NULL, *other = NULL;
	struct proto_hold_receipt rcpt, bad;
	uint8_t owner[PROTO_KEY_LEN], hash[PROTO_HOLD_HASH_LEN];
	const char *name = "p-0007.s3";
	const uint64_t size = 3ULL << 30, when = 1700000000;
	struct mp_buf b = {0};
	if (proto_identity_generate(&holder) || proto_identity_generate(&other))
		abort();
	memset(owner, 0x42, sizeof(owner));
	memset(hash, 0x5a, sizeof(hash));

	is(proto_hold_receipt_sign(&rcpt, holder, owner, name, size, hash, when), 0,
	   "receipt: signs");
	is(rcpt.time, when, "receipt: states the time");
	is(proto_hold_receipt_verify(&rcpt, holder->pk, owner, name, size, hash), 0,
	   "receipt: verifies");
	is(proto_hold_receipt_encode(&b, &rcpt), 0, "receipt: encodes");
	is(hold_receipt_rc(b.data, b.len), 0, "receipt: decodes");
	ok(memcmp(&hreceipt, &rcpt, sizeof(rcpt)) == 0, "receipt: same signature and time");
	is(proto_hold_receipt_verify(&hreceipt, holder->pk, owner, name, size, hash), 0,
	   "receipt: the decoded one verifies");
	truncations(&b, hold_receipt_rc, "receipt: truncated at every offset");
	mp_buf_free(&b);

	/* any changed field, or another holder's key, is refused */
	uint8_t owner2[PROTO_KEY_LEN], hash2[PROTO_HOLD_HASH_LEN];
	memcpy(owner2, owner, sizeof(owner));
	owner2[31] ^= 1;
	memcpy(hash2, hash, sizeof(hash));
	hash2[0] ^= 0x80;
	is(proto_hold_receipt_verify(&rcpt, other->pk, owner, name, size, hash), KITH_EBADSIG,
	   "receipt verify: another holder's key");
	is(proto_hold_receipt_verify(&rcpt, owner, owner, name, size, hash), KITH_EBADSIG,
	   "receipt verify: the owner's key as holder");
	is(proto_hold_receipt_verify(&rcpt, holder->pk, owner2, name, size, hash), KITH_EBADSIG,
	   "receipt verify: another owner");
	is(proto_hold_receipt_verify(&rcpt, holder->pk, owner, "p-0007.s4", size, hash),
	   KITH_EBADSIG, "receipt verify: another name");
	is(proto_hold_receipt_verify(&rcpt, holder->pk, owner, "p-0007.s", size, hash),
	   KITH_EBADSIG, "receipt verify: a shorter name");
	is(proto_hold_receipt_verify(&rcpt, holder->pk, owner, name, size + 1, hash), KITH_EBADSIG,
	   "receipt verify: another size");
	is(proto_hold_receipt_verify(&rcpt, holder->pk, owner, name, size, hash2), KITH_EBADSIG,
	   "receipt verify: another hash");
	bad = rcpt;
	bad.time++;
	is(proto_hold_receipt_verify(&bad, holder->pk, owner, name, size, hash), KITH_EBADSIG,
	   "receipt verify: another time");
	bad = rcpt;
	bad.sig[10] ^= 4;
	is(proto_hold_receipt_verify(&bad, holder->pk, owner, name, size, hash), KITH_EBADSIG,
	   "receipt verify: a flipped signature bit");
	is(proto_hold_receipt_sign(&bad, other, owner, name, size, hash, when), 0,
	   "receipt: another holder signs the same");
	ok(memcmp(bad.sig, rcpt.sig, sizeof(bad.sig)) != 0 &&
	       proto_hold_receipt_verify(&bad, holder->pk, owner, name, size, hash) == KITH_EBADSIG,
	   "receipt verify: its receipt is not the first holder's");

	/* what the decoders refuse is neither signed nor verified */
	is(proto_hold_receipt_sign(&bad, holder, owner, "a..b", size, hash, when), KITH_EVALUE,
	   "receipt sign: name with ..");
	ok(bad.time == 0 && bad.sig[0] == 0 && bad.sig[63] == 0, "receipt sign: zeroed on error");
	is(proto_hold_receipt_sign(&bad, holder, owner, NULL, size, hash, when), KITH_EVALUE,
	   "receipt sign: NULL name");
	is(proto_hold_receipt_sign(&bad, holder, owner, name129, size, hash, when), KITH_ETOOBIG,
	   "receipt sign: name of 129 bytes");
	is(proto_hold_receipt_sign(&bad, holder, owner, name, PROTO_HOLD_SIZE_MAX + 1, hash, when),
	   KITH_ETOOBIG, "receipt sign: size over max");
	is(proto_hold_receipt_verify(&rcpt, holder->pk, owner, ".x", size, hash), KITH_EVALUE,
	   "receipt verify: name .x");
	name129[PROTO_HOLD_NAME_MAX] = '\0';
	is(proto_hold_receipt_sign(&bad, holder, owner, name129, PROTO_HOLD_SIZE_MAX, hash,
	                           UINT64_MAX),
	   0, "receipt sign: longest name, largest size, last time");
	is(proto_hold_receipt_verify(&bad, holder->pk, owner, name129, PROTO_HOLD_SIZE_MAX, hash),
	   0, "receipt verify: longest name, largest size, last time");
	name129[PROTO_HOLD_NAME_MAX] = 'n';

	/* decoder refusals */
	raw_begin(2), pack_key(1), mp_pack_bin(&pk, piece, 63), pack_key(2);
	msgpack_pack_uint64(&pk, 1);
	is(RAW(hold_receipt_rc), KITH_EVALUE, "receipt: signature of 63 bytes");
	raw_begin(2), pack_key(1), mp_pack_bin(&pk, piece, 65), pack_key(2);
	msgpack_pack_uint64(&pk, 1);
	is(RAW(hold_receipt_rc), KITH_EVALUE, "receipt: signature of 65 bytes");
	raw_begin(1), pack_key(1), mp_pack_bin(&pk, piece, 64);
	is(RAW(hold_receipt_rc), KITH_EMISSING, "receipt: time missing");
	raw_begin(1), pack_key(2), msgpack_pack_uint64(&pk, 1);
	is(RAW(hold_receipt_rc), KITH_EMISSING, "receipt: signature missing");
	raw_begin(2), pack_key(1), mp_pack_bin(&pk, piece, 64), pack_key(2);
	msgpack_pack_int64(&pk, -5);
	is(RAW(hold_receipt_rc), KITH_ETYPE, "receipt: negative time");
	raw_begin(3), pack_key(1), mp_pack_bin(&pk, piece, 64), pack_key(2);
	msgpack_pack_uint64(&pk, 1), pack_key(2), msgpack_pack_uint64(&pk, 1);
	is(RAW(hold_receipt_rc), KITH_EDUPKEY, "receipt: time twice");
	raw_begin(2), pack_key(1), mp_pack_bin(&pk, piece, 64), pack_key(2);
	msgpack_pack_uint64(&pk, 1);
	msgpack_pack_nil(&pk);
	is(RAW(hold_receipt_rc), KITH_ETRAIL, "receipt: trailing byte");
	proto_identity_free(&holder);
	proto_identity_free(&other);
}

static void test_hold(void)
{
	memset(name129, 'n', sizeof(name129) - 1);
	test_hold_name_ok();
	test_hold_open();
	test_hold_write();
	test_hold_name();
	test_hold_read();
	test_hold_list();
	test_hold_receipt();
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
	is(hold_open_rc(huge, (size_t)PROTO_MSG_MAX + 1), KITH_ETOOBIG,
	   "over PROTO_MSG_MAX: hold.open");
	is(hold_write_rc(huge, (size_t)PROTO_MSG_MAX + 1), KITH_ETOOBIG,
	   "over PROTO_MSG_MAX: hold.write");
	is(hold_written_rc(huge, (size_t)PROTO_MSG_MAX + 1), KITH_ETOOBIG,
	   "over PROTO_MSG_MAX: hold written");
	is(hold_name_rc(huge, (size_t)PROTO_MSG_MAX + 1), KITH_ETOOBIG,
	   "over PROTO_MSG_MAX: hold name");
	is(hold_receipt_rc(huge, (size_t)PROTO_MSG_MAX + 1), KITH_ETOOBIG,
	   "over PROTO_MSG_MAX: hold receipt");
	is(hold_read_rc(huge, (size_t)PROTO_MSG_MAX + 1), KITH_ETOOBIG,
	   "over PROTO_MSG_MAX: hold.read");
	is(hold_data_rc(huge, (size_t)PROTO_MSG_MAX + 1), KITH_ETOOBIG,
	   "over PROTO_MSG_MAX: hold data");
	is(hold_args_rc(huge, (size_t)PROTO_MSG_MAX + 1), KITH_ETOOBIG,
	   "over PROTO_MSG_MAX: hold.list args");
	is(hold_list_rc(huge, (size_t)PROTO_MSG_MAX + 1), KITH_ETOOBIG,
	   "over PROTO_MSG_MAX: hold.list");
	is(proto_services_decode(entries2, 8, &n, huge, PROTO_MSG_MAX), KITH_ETRAIL,
	   "exactly PROTO_MSG_MAX is parsed");
	free(huge);
}

int main(void)
{
	test_shard();
	test_usage();
	test_services();
	test_hold();
	test_max();
	mp_buf_free(&raw);
	return tap_done();
}
