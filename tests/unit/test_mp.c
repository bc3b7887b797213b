/* Unit tests of the bounded msgpack reader, the mp_buf writer and the
 * self-counting mp_map builder. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/error.h"
#include "proto/limits.h"
#include "proto/mp.h"
#include "tap.h"

#define BYTES(...) ((const uint8_t[]){__VA_ARGS__}), sizeof((const uint8_t[]){__VA_ARGS__})

/* Reads one uint from b and checks nothing is left. */
static int uint_of(const uint8_t *b, size_t n, uint64_t *v)
{
	struct mp_reader r;
	mp_reader_init(&r, b, n);
	mp_read_uint(&r, v);
	return mp_finish(&r);
}

static int skip_of(const uint8_t *b, size_t n, unsigned depth)
{
	struct mp_reader r;
	mp_reader_init(&r, b, n);
	mp_skip(&r, depth);
	return mp_finish(&r);
}

static void test_uint(void)
{
	uint64_t v = 0;
	is(uint_of(BYTES(0x00), &v), 0, "fixint 0");
	is(uint_of(BYTES(0x7f), &v), 0, "fixint 127");
	is(v, 127, "fixint 127 value");
	is(uint_of(BYTES(0xcc, 0xff), &v), 0, "uint8");
	is(v, 255, "uint8 value");
	is(uint_of(BYTES(0xcd, 0x12, 0x34), &v), 0, "uint16");
	is(v, 0x1234, "uint16 value");
	is(uint_of(BYTES(0xce, 0xde, 0xad, 0xbe, 0xef), &v), 0, "uint32");
	is(v, 0xdeadbeef, "uint32 value");
	is(uint_of(BYTES(0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe), &v), 0, "uint64");
	ok(v == UINT64_MAX - 1, "uint64 value");
	is(uint_of(BYTES(0xd1, 0x01, 0x00), &v), 0, "int16 holding 256 is accepted");
	is(v, 256, "int16 value");
	is(uint_of(BYTES(0xff), &v), KITH_ETYPE, "negative fixint is refused");
	is(uint_of(BYTES(0xd0, 0x80), &v), KITH_ETYPE, "negative int8 is refused");
	is(uint_of(BYTES(0xd3, 0xff, 0, 0, 0, 0, 0, 0, 0), &v), KITH_ETYPE, "negative int64");
	is(uint_of(BYTES(0xc0), &v), KITH_ETYPE, "nil is not a uint");
	is(uint_of(BYTES(0xa1, 'x'), &v), KITH_ETYPE, "str is not a uint");
	is(uint_of(BYTES(0xc1), &v), KITH_EMALFORMED, "0xc1 is malformed");
	is(uint_of(BYTES(0xcd, 0x12), &v), KITH_ETRUNC, "truncated uint16");
	is(uint_of(BYTES(0xd2, 0x00), &v), KITH_ETRUNC, "truncated int32");
	is(uint_of(NULL, 0, &v), KITH_ETRUNC, "empty input");
	is(uint_of(BYTES(0x01, 0x02), &v), KITH_ETRAIL, "trailing byte");
}

static void test_sticky(void)
{
	struct mp_reader r;
	uint64_t v;
	bool b;
	mp_reader_init(&r, BYTES(0xc3, 0xc2, 0x05));
	is(mp_read_uint(&r, &v), KITH_ETYPE, "bool read as uint fails");
	is(mp_read_bool(&r, &b), KITH_ETYPE, "the error sticks for the next read");
	is(mp_fail(&r, KITH_EVALUE), KITH_ETYPE, "mp_fail keeps the first error");
	is(mp_finish(&r), KITH_ETYPE, "finish reports the first error");

	mp_reader_init(&r, BYTES(0xc3, 0xc2));
	is(mp_read_bool(&r, &b), 0, "true");
	ok(b, "true value");
	is(mp_read_bool(&r, &b), 0, "false");
	ok(!b, "false value");
	is(mp_finish(&r), 0, "nothing left");
}

static void test_str(void)
{
	struct mp_reader r;
	const char *s = NULL;
	size_t n = 0;
	mp_reader_init(&r, BYTES(0xa3, 'a', 'b', 'c'));
	is(mp_read_str(&r, &s, &n, 3), 0, "fixstr at its max");
	ok(n == 3 && memcmp(s, "abc", 3) == 0, "fixstr content, in place");
	mp_reader_init(&r, BYTES(0xa3, 'a', 'b', 'c'));
	is(mp_read_str(&r, &s, &n, 2), KITH_ETOOBIG, "fixstr over max");
	mp_reader_init(&r, BYTES(0xd9, 0x02, 'h', 'i'));
	is(mp_read_str(&r, &s, &n, 10), 0, "str8");
	is(n, 2, "str8 length");
	mp_reader_init(&r, BYTES(0xda, 0x00, 0x01, 'x'));
	is(mp_read_str(&r, &s, &n, 10), 0, "str16");
	mp_reader_init(&r, BYTES(0xdb, 0x00, 0x00, 0x00, 0x01, 'x'));
	is(mp_read_str(&r, &s, &n, 10), 0, "str32");
	mp_reader_init(&r, BYTES(0xdb, 0xff, 0xff, 0xff, 0xff, 'x'));
	is(mp_read_str(&r, &s, &n, 10), KITH_ETOOBIG, "str32 of 4 GiB over max");
	mp_reader_init(&r, BYTES(0xdb, 0xff, 0xff, 0xff, 0xff, 'x'));
	is(mp_read_str(&r, &s, &n, SIZE_MAX), KITH_ETRUNC, "str32 of 4 GiB in 6 bytes");
	mp_reader_init(&r, BYTES(0xa5, 'x'));
	is(mp_read_str(&r, &s, &n, 10), KITH_ETRUNC, "fixstr cut short");
	mp_reader_init(&r, BYTES(0xd9));
	is(mp_read_str(&r, &s, &n, 10), KITH_ETRUNC, "str8 without length");
	mp_reader_init(&r, BYTES(0xc4, 0x01, 'x'));
	is(mp_read_str(&r, &s, &n, 10), KITH_ETYPE, "bin is not str");
}

static void test_bin(void)
{
	struct mp_reader r;
	const uint8_t *b = NULL;
	uint8_t out[4];
	size_t n = 0;
	mp_reader_init(&r, BYTES(0xc4, 0x02, 0xaa, 0xbb));
	is(mp_read_bin(&r, &b, &n, 2), 0, "bin8");
	ok(n == 2 && b[0] == 0xaa && b[1] == 0xbb, "bin8 content");
	mp_reader_init(&r, BYTES(0xc5, 0x00, 0x01, 0xcc));
	is(mp_read_bin(&r, &b, &n, 2), 0, "bin16");
	mp_reader_init(&r, BYTES(0xc6, 0x00, 0x00, 0x00, 0x01, 0xcc));
	is(mp_read_bin(&r, &b, &n, 2), 0, "bin32");
	mp_reader_init(&r, BYTES(0xc6, 0xff, 0xff, 0xff, 0xff));
	is(mp_read_bin(&r, &b, &n, 100), KITH_ETOOBIG, "bin32 over max");
	mp_reader_init(&r, BYTES(0xc6, 0x00, 0x00, 0x00, 0x09, 0x01));
	is(mp_read_bin(&r, &b, &n, 100), KITH_ETRUNC, "bin32 cut short");
	mp_reader_init(&r, BYTES(0xa1, 'x'));
	is(mp_read_bin(&r, &b, &n, 100), KITH_ETYPE, "str is not bin");
	mp_reader_init(&r, BYTES(0xc4, 0x04, 1, 2, 3, 4));
	is(mp_read_bin_exact(&r, out, 4), 0, "bin exact");
	ok(out[0] == 1 && out[3] == 4, "bin exact copied");
	mp_reader_init(&r, BYTES(0xc4, 0x03, 1, 2, 3));
	is(mp_read_bin_exact(&r, out, 4), KITH_EVALUE, "bin of the wrong length");
}

static int text_of(const uint8_t *b, size_t n, char *out, size_t max)
{
	struct mp_reader r;
	mp_reader_init(&r, b, n);
	return mp_read_text(&r, out, max);
}

static void test_text(void)
{
	char out[8];
	memset(out, 'z', sizeof(out));
	is(text_of(BYTES(0xa3, 'a', 'b', 'c'), out, 7), 0, "text");
	ok(strcmp(out, "abc") == 0, "text NUL-terminated");
	is(text_of(BYTES(0xa0), out, 7), 0, "empty text");
	ok(out[0] == '\0', "empty text NUL-terminated");
	is(text_of(BYTES(0xa3, 'a', 0, 'c'), out, 7), KITH_EVALUE, "embedded NUL");
	is(text_of(BYTES(0xa2, 'a', '\n'), out, 7), KITH_EVALUE, "newline");
	is(text_of(BYTES(0xa2, 'a', 0x1b), out, 7), KITH_EVALUE, "escape");
	is(text_of(BYTES(0xa1, 0x7f), out, 7), KITH_EVALUE, "DEL");
	is(text_of(BYTES(0xa2, 0xc2, 0x9b), out, 7), KITH_EVALUE, "C1 CSI");
	is(text_of(BYTES(0xa2, 0xc3, 0xa9), out, 7), 0, "UTF-8 e acute");
	is(text_of(BYTES(0xa4, 0xf0, 0x9f, 0x98, 0x80), out, 7), 0, "UTF-8 4 bytes");
	is(text_of(BYTES(0xa1, 0xe9), out, 7), KITH_EVALUE, "Latin-1 byte");
	is(text_of(BYTES(0xa2, 0xc0, 0xaf), out, 7), KITH_EVALUE, "overlong slash");
	is(text_of(BYTES(0xa3, 0xed, 0xa0, 0x80), out, 7), KITH_EVALUE, "surrogate");
	is(text_of(BYTES(0xa4, 0xf4, 0x90, 0x80, 0x80), out, 7), KITH_EVALUE, "past U+10FFFF");
	is(text_of(BYTES(0xa2, 0xe2, 0x82), out, 7), KITH_EVALUE, "cut sequence");
	is(text_of(BYTES(0xa4, 'a', 'b', 'c', 'd'), out, 3), KITH_ETOOBIG, "text over max");
	ok(mp_text_ok("plain", 5), "mp_text_ok on plain text");
	ok(!mp_text_ok("a\tb", 3), "mp_text_ok refuses a tab");
}

static void test_containers(void)
{
	struct mp_reader r;
	uint32_t n = 0;
	mp_reader_init(&r, BYTES(0x92, 0x01, 0x02));
	is(mp_read_array(&r, &n, 2), 0, "fixarray");
	is(n, 2, "fixarray count");
	mp_reader_init(&r, BYTES(0xdc, 0x00, 0x01, 0x01));
	is(mp_read_array(&r, &n, 2), 0, "array16");
	mp_reader_init(&r, BYTES(0xdd, 0x00, 0x00, 0x00, 0x01, 0x01));
	is(mp_read_array(&r, &n, 2), 0, "array32");
	mp_reader_init(&r, BYTES(0x93, 0x01, 0x02, 0x03));
	is(mp_read_array(&r, &n, 2), KITH_ETOOBIG, "array over max");
	mp_reader_init(&r, BYTES(0xdd, 0xff, 0xff, 0xff, 0xff, 0x01));
	is(mp_read_array(&r, &n, UINT32_MAX), KITH_ETRUNC,
	   "array32 of 2^32-1 items in 6 bytes: refused at the header");
	mp_reader_init(&r, BYTES(0xdd, 0xff, 0xff, 0xff, 0xff, 0x01));
	is(mp_read_array(&r, &n, PROTO_ARRAY_MAX), KITH_ETOOBIG, "array32 over the limit");
	mp_reader_init(&r, BYTES(0x81, 0x01, 0x02));
	is(mp_read_map(&r, &n, 4), 0, "fixmap");
	is(n, 1, "fixmap count");
	mp_reader_init(&r, BYTES(0xde, 0x00, 0x01, 0x01, 0x02));
	is(mp_read_map(&r, &n, 4), 0, "map16");
	mp_reader_init(&r, BYTES(0xdf, 0x00, 0x00, 0x00, 0x01, 0x01, 0x02));
	is(mp_read_map(&r, &n, 4), 0, "map32");
	mp_reader_init(&r, BYTES(0x82, 0x01, 0x02, 0x03));
	is(mp_read_map(&r, &n, 4), KITH_ETRUNC, "map with too few bytes for its entries");
	mp_reader_init(&r, BYTES(0xdf, 0xff, 0xff, 0xff, 0xff));
	is(mp_read_map(&r, &n, UINT32_MAX), KITH_ETRUNC, "map32 of 2^32-1 entries");
	mp_reader_init(&r, BYTES(0x91, 0x01));
	is(mp_read_map(&r, &n, 4), KITH_ETYPE, "array is not a map");
}

static void test_skip_types(void)
{
	is(skip_of(BYTES(0xc0), 0), 0, "skip nil");
	is(skip_of(BYTES(0xc2), 0), 0, "skip false");
	is(skip_of(BYTES(0x05), 0), 0, "skip fixint");
	is(skip_of(BYTES(0xe0), 0), 0, "skip negative fixint");
	is(skip_of(BYTES(0xd0, 0x80), 0), 0, "skip int8");
	is(skip_of(BYTES(0xd3, 1, 2, 3, 4, 5, 6, 7, 8), 0), 0, "skip int64");
	is(skip_of(BYTES(0xcf, 1, 2, 3, 4, 5, 6, 7, 8), 0), 0, "skip uint64");
	is(skip_of(BYTES(0xca, 1, 2, 3, 4), 0), 0, "skip float32");
	is(skip_of(BYTES(0xcb, 1, 2, 3, 4, 5, 6, 7, 8), 0), 0, "skip float64");
	is(skip_of(BYTES(0xa2, 'h', 'i'), 0), 0, "skip fixstr");
	is(skip_of(BYTES(0xd9, 1, 'x'), 0), 0, "skip str8");
	is(skip_of(BYTES(0xda, 0, 1, 'x'), 0), 0, "skip str16");
	is(skip_of(BYTES(0xdb, 0, 0, 0, 1, 'x'), 0), 0, "skip str32");
	is(skip_of(BYTES(0xc4, 1, 'x'), 0), 0, "skip bin8");
	is(skip_of(BYTES(0xc5, 0, 1, 'x'), 0), 0, "skip bin16");
	is(skip_of(BYTES(0xc6, 0, 0, 0, 1, 'x'), 0), 0, "skip bin32");
	is(skip_of(BYTES(0xd4, 7, 1), 0), 0, "skip fixext1");
	is(skip_of(BYTES(0xd5, 7, 1, 2), 0), 0, "skip fixext2");
	is(skip_of(BYTES(0xd6, 7, 1, 2, 3, 4), 0), 0, "skip fixext4");
	is(skip_of(BYTES(0xd7, 7, 1, 2, 3, 4, 5, 6, 7, 8), 0), 0, "skip fixext8");
	is(skip_of(BYTES(0xd8, 7, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16), 0), 0,
	   "skip fixext16");
	is(skip_of(BYTES(0xc7, 2, 7, 1, 2), 0), 0, "skip ext8");
	is(skip_of(BYTES(0xc8, 0, 2, 7, 1, 2), 0), 0, "skip ext16");
	is(skip_of(BYTES(0xc9, 0, 0, 0, 2, 7, 1, 2), 0), 0, "skip ext32");
	is(skip_of(BYTES(0xc7, 2, 7, 1), 0), KITH_ETRUNC, "skip ext8 cut short");
	is(skip_of(BYTES(0xc9, 0xff, 0xff, 0xff, 0xff, 7), 0), KITH_ETRUNC, "skip ext32 huge");
	is(skip_of(BYTES(0xdb, 0xff, 0xff, 0xff, 0xff), 0), KITH_ETRUNC, "skip str32 huge");
	is(skip_of(BYTES(0xc1), 0), KITH_EMALFORMED, "skip 0xc1");
	is(skip_of(BYTES(0x92, 0x01, 0xc1), 1), KITH_EMALFORMED, "skip 0xc1 inside an array");
	is(skip_of(BYTES(0x93, 0x01, 0xa1, 'x', 0x82, 0x01, 0xc0, 0x02, 0x90), 3), 0,
	   "skip nested array and map");
	is(skip_of(BYTES(0x93, 0x01, 0xa1, 'x', 0x82, 0x01, 0xc0, 0x02, 0x90), 2), KITH_EDEPTH,
	   "the same with one level too few");
	is(skip_of(BYTES(0x91, 0x01), 0), KITH_EDEPTH, "depth 0 refuses an array");
	is(skip_of(BYTES(0x80), 1), 0, "skip an empty map");
	is(skip_of(BYTES(0xdd, 0xff, 0xff, 0xff, 0xff, 0x01), 1), KITH_ETOOBIG,
	   "skip an array claiming 2^32-1 items");
	is(skip_of(BYTES(0x92, 0x01), 1), KITH_ETRUNC, "skip an array missing an item");
	is(skip_of(BYTES(0x01, 0x02), 0), KITH_ETRAIL, "one value skipped, the next stays");
}

/* n levels of single-item arrays around a 0. */
static size_t nested(uint8_t *buf, unsigned n)
{
	memset(buf, 0x91, n);
	buf[n] = 0x00;
	return n + 1;
}

static void test_skip_depth(void)
{
	uint8_t buf[64];
	size_t n = nested(buf, PROTO_DEPTH_MAX);
	is(skip_of(buf, n, PROTO_DEPTH_MAX), 0, "PROTO_DEPTH_MAX levels are skipped");
	n = nested(buf, PROTO_DEPTH_MAX + 1);
	is(skip_of(buf, n, PROTO_DEPTH_MAX + 1), KITH_EDEPTH, "one more is too deep");
	n = nested(buf, 40);
	is(skip_of(buf, n, 1000), KITH_EDEPTH, "a depth over PROTO_DEPTH_MAX is capped");
}

/* Every type in one array, cut at every length: only errors, no crash. */
static void test_skip_truncated(void)
{
	const uint8_t all[] = {0xdc, 0x00, 0x11, 0xc0, 0xc3, 0x7f, 0xe0, 0xcc, 1, 0xcd, 1,    2,
	                       0xd2, 1,    2,    3,    4,    0xca, 1,    2,    3, 4,    0xa1, 'x',
	                       0xd9, 1,    'y',  0xc4, 1,    'z',  0xc7, 1,    5, 'e',  0xd4, 5,
	                       1,    0x81, 0x01, 0x91, 0x02, 0xcb, 1,    2,    3, 4,    5,    6,
	                       7,    8,    0xc5, 0,    0,    0xda, 0,    0};
	int bad = 0;
	is(skip_of(all, sizeof(all), 3), 0, "the whole array skips");
	for (size_t cut = 0; cut < sizeof(all); cut++) {
		uint8_t *copy = malloc(cut ? cut : 1); /* ASan sees any overread */
		memcpy(copy, all, cut);
		if (skip_of(copy, cut, 3) != KITH_ETRUNC)
			bad++;
		free(copy);
	}
	is(bad, 0, "every cut gives KITH_ETRUNC");
}

static void test_writer(void)
{
	struct mp_buf buf = {0};
	msgpack_packer pk;
	struct mp_reader r;
	uint64_t v;
	const char *s;
	const uint8_t *b;
	size_t n;
	uint32_t count;
	static const uint64_t values[] = {
	    0,         1, 127, 128, 255, 256, 65535, 65536, UINT32_MAX, (uint64_t)UINT32_MAX + 1,
	    UINT64_MAX};
	const size_t nv = sizeof(values) / sizeof(values[0]);
	uint8_t big[1000];
	memset(big, 0x5a, sizeof(big));

	mp_buf_free(&buf); /* harmless on a zeroed buffer */
	mp_buf_packer(&buf, &pk);
	msgpack_pack_array(&pk, (uint32_t)nv + 4);
	for (size_t i = 0; i < nv; i++)
		msgpack_pack_uint64(&pk, values[i]);
	mp_pack_cstr(&pk, "hello");
	mp_pack_str(&pk, NULL, 0);
	mp_pack_bin(&pk, big, sizeof(big));
	mp_pack_bin(&pk, NULL, 0);
	is(buf.err, 0, "packing succeeds");
	ok(buf.cap >= buf.len && buf.len > sizeof(big), "buffer grew");

	mp_reader_init(&r, buf.data, buf.len);
	mp_read_array(&r, &count, 100);
	is(count, nv + 4, "array count round trip");
	int same = 1;
	for (size_t i = 0; i < nv; i++)
		if (mp_read_uint(&r, &v) || v != values[i])
			same = 0;
	ok(same, "integers at every size boundary round trip");
	ok(!mp_read_str(&r, &s, &n, 10) && n == 5 && memcmp(s, "hello", 5) == 0, "str round trip");
	ok(!mp_read_str(&r, &s, &n, 10) && n == 0, "empty str round trip");
	ok(!mp_read_bin(&r, &b, &n, 1000) && n == 1000 && memcmp(b, big, 1000) == 0,
	   "bin16 round trip");
	ok(!mp_read_bin(&r, &b, &n, 10) && n == 0, "empty bin round trip");
	is(mp_finish(&r), 0, "nothing left after the round trip");

	mp_buf_free(&buf);
	ok(buf.data == NULL && buf.len == 0 && buf.cap == 0, "free resets the buffer");
	mp_buf_free(&buf);
	mp_buf_free(NULL);
	ok(1, "free twice and free(NULL) are harmless");

	/* A sticky -ENOMEM: later writes do nothing. */
	buf.err = -ENOMEM;
	mp_buf_packer(&buf, &pk);
	msgpack_pack_uint64(&pk, 1);
	ok(buf.len == 0 && buf.err == -ENOMEM, "writes after an error do nothing");
	mp_buf_free(&buf);
}

/* Packs the same map by hand (msgpack_pack_map with the count) and with
 * struct mp_map: the bytes must be the same. */
static void test_map_counts(void)
{
	struct mp_buf want = {0}, got = {0};
	msgpack_packer pk;
	struct mp_map m;
	int same = 1;

	/* 0, 1, 15 (fixmap), 16 and 300 (map16) entries: every header form up
	 * to map16, with every value helper. */
	static const uint32_t sizes[] = {0, 1, 15, 16, 300};
	for (size_t t = 0; t < sizeof(sizes) / sizeof(sizes[0]); t++) {
		uint32_t n = sizes[t];
		mp_buf_packer(&want, &pk);
		msgpack_pack_map(&pk, n);
		mp_map_begin(&m);
		for (uint32_t i = 0; i < n; i++) {
			char key[16];
			snprintf(key, sizeof(key), "k%u", i);
			mp_pack_cstr(&pk, key);
			switch (i % 5) {
			case 0:
				mp_pack_cstr(&pk, "v");
				mp_map_str(&m, key, "v");
				break;
			case 1:
				msgpack_pack_uint64(&pk, (uint64_t)i << 33);
				mp_map_uint(&m, key, (uint64_t)i << 33);
				break;
			case 2:
				msgpack_pack_true(&pk);
				mp_map_bool(&m, key, true);
				break;
			case 3:
				msgpack_pack_false(&pk);
				mp_map_bool(&m, key, false);
				break;
			default:
				mp_pack_bin(&pk, (const uint8_t *)"\x00\x01", 2);
				mp_map_bin(&m, key, (const uint8_t *)"\x00\x01", 2);
				break;
			}
		}
		is(m.count, n, "the map counted its entries");
		mp_buf_packer(&got, &pk);
		is(mp_map_end(&m, &pk), 0, "end succeeds");
		if (got.err || want.err || got.len != want.len ||
		    memcmp(got.data, want.data, got.len))
			same = 0;
		mp_buf_free(&want);
		mp_buf_free(&got);
	}
	ok(same, "same bytes as a hand-counted map of 0, 1, 15, 16 and 300 entries");

	/* The empty map is the one byte 0x80, and reads back as 0 entries. */
	mp_buf_packer(&got, &pk);
	mp_map_begin(&m);
	is(mp_map_end(&m, &pk), 0, "empty map");
	ok(got.len == 1 && got.data[0] == 0x80, "empty map is fixmap 0");
	mp_buf_free(&got);

	/* A value packed through mp_map_key(): an array. */
	mp_buf_packer(&got, &pk);
	mp_map_begin(&m);
	msgpack_packer *list = mp_map_key(&m, "list");
	msgpack_pack_array(list, 2);
	msgpack_pack_uint64(list, 1);
	msgpack_pack_uint64(list, 2);
	mp_map_end(&m, &pk);
	ok(got.len == 9 && !memcmp(got.data, "\x81\xa4list\x92\x01\x02", 9),
	   "an array value through mp_map_key");
	mp_buf_free(&got);

	/* Ending frees the entries, and the map may be begun again. */
	mp_map_begin(&m);
	mp_map_str(&m, "a", "b");
	mp_map_free(&m);
	ok(m.buf.data == NULL && m.count == 0, "free drops the entries");
	mp_map_free(&m);
	mp_map_free(NULL);
	ok(1, "free twice and free(NULL) are harmless");
}

static void test_map_nested(void)
{
	struct mp_buf out = {0};
	struct mp_reader r;
	msgpack_packer pk;
	struct mp_map m, child, empty;
	uint32_t n = 0;
	uint64_t v = 0;
	char key[16];
	bool b = false;

	mp_map_begin(&m);
	mp_map_str(&m, "id", "x");
	mp_map_begin(&child);
	mp_map_uint(&child, "a", 1);
	mp_map_bool(&child, "b", true);
	mp_map_map(&m, "child", &child);
	ok(child.buf.data == NULL, "the child's buffer is freed when packed");
	mp_map_begin(&empty);
	mp_map_map(&m, "empty", &empty);
	mp_map_uint(&m, "last", 7);
	is(m.count, 4, "a nested map counts once in its parent");
	mp_buf_packer(&out, &pk);
	is(mp_map_end(&m, &pk), 0, "nested map packs");

	mp_reader_init(&r, out.data, out.len);
	mp_read_map(&r, &n, 10);
	is(n, 4, "outer map of 4");
	mp_read_text(&r, key, 15);
	mp_read_text(&r, key, 15);
	ok(!strcmp(key, "x"), "first entry");
	mp_read_text(&r, key, 15);
	ok(!strcmp(key, "child"), "child key");
	mp_read_map(&r, &n, 10);
	is(n, 2, "child map of 2");
	mp_read_text(&r, key, 15);
	mp_read_uint(&r, &v);
	mp_read_text(&r, key, 15);
	mp_read_bool(&r, &b);
	ok(v == 1 && b, "child values");
	mp_read_text(&r, key, 15);
	mp_read_map(&r, &n, 10);
	ok(!strcmp(key, "empty") && n == 0, "empty child map");
	mp_read_text(&r, key, 15);
	mp_read_uint(&r, &v);
	ok(!strcmp(key, "last") && v == 7, "entry after the children");
	is(mp_finish(&r), 0, "nothing left");
	mp_buf_free(&out);
}

/* Out of memory, as a failed allocation leaves it: the sticky -ENOMEM
 * of the map's buffer. */
static void test_map_nomem(void)
{
	struct mp_buf out = {0};
	msgpack_packer pk;
	struct mp_map m, child;

	mp_map_begin(&m);
	mp_map_str(&m, "a", "b");
	m.buf.err = -ENOMEM;
	mp_map_uint(&m, "c", 1);
	mp_buf_packer(&out, &pk);
	is(mp_map_end(&m, &pk), -ENOMEM, "end reports the map's -ENOMEM");
	is(out.len, 0, "nothing is written");
	is(out.err, -ENOMEM, "the error sticks in the output mp_buf");
	ok(m.buf.data == NULL, "the entries are freed anyway");
	mp_buf_free(&out);

	/* A child's error reaches its parent, then the output. */
	mp_map_begin(&m);
	mp_map_begin(&child);
	mp_map_uint(&child, "x", 1);
	child.buf.err = -ENOMEM;
	mp_map_map(&m, "child", &child);
	is(m.buf.err, -ENOMEM, "a child's -ENOMEM becomes its parent's");
	mp_map_uint(&m, "after", 2);
	mp_buf_packer(&out, &pk);
	is(mp_map_end(&m, &pk), -ENOMEM, "the parent reports it");
	is(out.err, -ENOMEM, "and the output has it");
	mp_buf_free(&out);

	/* An output that failed before keeps its own error. */
	mp_map_begin(&m);
	mp_map_uint(&m, "x", 1);
	out.err = -ENOMEM;
	mp_buf_packer(&out, &pk);
	is(mp_map_end(&m, &pk), 0, "the map itself is fine");
	ok(out.len == 0 && out.err == -ENOMEM, "a failed output stays failed and empty");
	mp_buf_free(&out);
}

int main(void)
{
	test_uint();
	test_sticky();
	test_str();
	test_bin();
	test_text();
	test_containers();
	test_skip_types();
	test_skip_depth();
	test_skip_truncated();
	test_writer();
	test_map_counts();
	test_map_nested();
	test_map_nomem();
	return tap_done();
}
