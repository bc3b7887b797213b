/* Durations and sizes: what admins type, and every way to get it wrong,
 * up to and across the limits of proto/limits.h in every unit. */
#include <stdio.h>
#include <string.h>

#include "proto/error.h"
#include "proto/limits.h"
#include "proto/units.h"
#include "tap.h"

static uint64_t dur(const char *text)
{
	uint64_t ms = 12345;
	return proto_duration_parse(text, strlen(text), &ms, NULL) == 0 ? ms : UINT64_MAX;
}

static uint64_t size(const char *text)
{
	uint64_t b = 12345;
	return proto_size_parse(text, strlen(text), &b, NULL) == 0 ? b : UINT64_MAX;
}

static int fmt_is(int (*fmt)(uint64_t, char *, size_t), uint64_t v, const char *want)
{
	char buf[32];
	return fmt(v, buf, sizeof(buf)) == 0 && strcmp(buf, want) == 0;
}

struct unit_case {
	const char *suffix;
	uint64_t factor;
};

/* For each unit: the largest number accepted gives the limit (or the
 * largest multiple of the unit under it), one more is refused, and so are
 * numbers that overflow 64 bits before or after the multiplication. */
static void test_edges(int (*parse)(const char *, size_t, uint64_t *, const char **), uint64_t max,
                       const struct unit_case *units, size_t n, const char *what)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t top = max / units[i].factor, v = 0;
		const char *why = NULL;
		char text[64], label[96];

		snprintf(text, sizeof(text), "%llu%s", (unsigned long long)top, units[i].suffix);
		snprintf(label, sizeof(label), "%s: %s is the largest accepted", what, text);
		ok(parse(text, strlen(text), &v, NULL) == 0 && v == top * units[i].factor, label);
		snprintf(text, sizeof(text), "%llu%s", (unsigned long long)top + 1,
		         units[i].suffix);
		snprintf(label, sizeof(label), "%s: %s is refused", what, text);
		ok(parse(text, strlen(text), &v, &why) == KITH_EVALUE && why &&
		       strstr(why, "at most"),
		   label);
		/* The product overflows 64 bits for every factor above 1. */
		snprintf(text, sizeof(text), "%llu%s", (unsigned long long)(UINT64_MAX / 1024 + 1),
		         units[i].suffix);
		snprintf(label, sizeof(label), "%s: %s is refused", what, text);
		ok(parse(text, strlen(text), &v, NULL) == KITH_EVALUE, label);
		snprintf(text, sizeof(text), "18446744073709551615%s", units[i].suffix);
		snprintf(label, sizeof(label), "%s: UINT64_MAX%s is refused", what,
		         units[i].suffix);
		ok(parse(text, strlen(text), &v, NULL) == KITH_EVALUE, label);
		snprintf(text, sizeof(text), "18446744073709551616%s", units[i].suffix);
		snprintf(label, sizeof(label), "%s: 2^64%s is refused", what, units[i].suffix);
		ok(parse(text, strlen(text), &v, NULL) == KITH_EVALUE, label);
		snprintf(text, sizeof(text), "000000000000000000000000000001%s", units[i].suffix);
		snprintf(label, sizeof(label), "%s: leading zeros in 1%s", what, units[i].suffix);
		ok(parse(text, strlen(text), &v, NULL) == 0 && v == units[i].factor, label);
	}
}

static void test_durations(void)
{
	static const struct unit_case units[] = {
	    {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000},
	};
	const char *why = NULL;
	uint64_t v;

	is(dur("500ms"), 500, "500ms");
	is(dur("5s"), 5000, "5s");
	is(dur("2m"), 120000, "2m");
	is(dur("1h"), 3600000, "1h");
	is(dur("7d"), 7ull * 86400000, "7d");
	is(dur("0s"), 0, "0s is a duration");
	ok(dur("5") == UINT64_MAX, "a bare number needs a unit");
	ok(dur("s") == UINT64_MAX, "a unit alone is refused");
	ok(dur("") == UINT64_MAX, "empty refused");
	ok(dur("5 s") == UINT64_MAX, "no space inside");
	ok(dur("-5s") == UINT64_MAX, "no sign");
	ok(dur("+5s") == UINT64_MAX, "no plus sign");
	ok(dur("5w") == UINT64_MAX, "unknown unit");
	ok(dur("5S") == UINT64_MAX, "units are lower case");
	ok(dur("5sx") == UINT64_MAX, "nothing after the unit");
	ok(dur("99999999999999999999s") == UINT64_MAX, "overflowing digits");
	ok(dur("18446744073709552d") == UINT64_MAX, "overflowing product");
	ok(dur("99999999999d") == UINT64_MAX, "--expires 99999999999d");
	is(dur("3650d"), PROTO_DURATION_MAX_MS, "3650d is the limit");
	ok(dur("3651d") == UINT64_MAX, "3651d is over it");
	is(proto_duration_parse("3651d", 5, &v, &why), KITH_EVALUE, "over the limit: error code");
	ok(why && strstr(why, "3650d"), "over the limit: message names it");
	is(proto_duration_parse("5x", 2, &v, &why), KITH_EVALUE, "error code");
	ok(why && strstr(why, "ms, s, m, h or d"), "message lists the units");
	{
		/* 100000 digits: no overflow of the value or of the count. */
		static char many[100002];
		memset(many, '9', 100000);
		memcpy(many + 100000, "s", 2);
		ok(dur(many) == UINT64_MAX, "100000 digits refused");
		memset(many, '0', 100000);
		ok(dur(many) == 0, "100000 zeros are 0s");
	}
	ok(proto_duration_parse("7d\0", 3, &v, NULL) == KITH_EVALUE, "a NUL after the unit");
	test_edges(proto_duration_parse, PROTO_DURATION_MAX_MS, units,
	           sizeof(units) / sizeof(units[0]), "duration");
}

static void test_sizes(void)
{
	static const struct unit_case units[] = {
	    {"", 1},           {"K", 1ull << 10}, {"M", 1ull << 20},
	    {"G", 1ull << 30}, {"T", 1ull << 40}, {"k", 1ull << 10},
	    {"m", 1ull << 20}, {"g", 1ull << 30}, {"t", 1ull << 40},
	};
	const char *why = NULL;
	uint64_t v;

	is(size("50G"), 50ull << 30, "50G");
	is(size("1T"), 1ull << 40, "1T");
	is(size("4096"), 4096, "bare bytes");
	is(size("10K"), 10240, "10K");
	ok(size("0") == UINT64_MAX, "zero size refused");
	ok(size("0T") == UINT64_MAX, "zero in a unit refused");
	ok(size("5GB") == UINT64_MAX, "GB is not a unit here");
	ok(size("1P") == UINT64_MAX, "no P unit: say 1024T");
	is(size("3k"), 3072, "lower-case suffix");
	ok(size("") == UINT64_MAX, "empty refused");
	ok(size("16777216T") == UINT64_MAX, "overflowing size refused");
	is(size("1024T"), PROTO_SIZE_MAX, "1024T is the limit");
	ok(size("1025T") == UINT64_MAX, "1025T is over it");
	is(proto_size_parse("1125899906842625", 16, &v, &why), KITH_EVALUE,
	   "one byte over: error code");
	ok(why && strstr(why, "1024T"), "over the limit: message names it");
	is(proto_size_parse("0G", 2, &v, &why), KITH_EVALUE, "zero: error code");
	ok(why && strstr(why, "zero"), "zero: message");
	test_edges(proto_size_parse, PROTO_SIZE_MAX, units, sizeof(units) / sizeof(units[0]),
	           "size");
}

static void test_format(void)
{
	ok(fmt_is(proto_duration_format, 90000, "90s"), "format 90s");
	ok(fmt_is(proto_duration_format, 3600000, "1h"), "format 1h");
	ok(fmt_is(proto_duration_format, 1500, "1500ms"), "format 1500ms");
	ok(fmt_is(proto_duration_format, 0, "0ms"), "format 0");
	ok(fmt_is(proto_duration_format, PROTO_DURATION_MAX_MS, "3650d"), "format the limit");
	ok(fmt_is(proto_size_format, 50ull << 30, "50G"), "format 50G");
	ok(fmt_is(proto_size_format, 1536, "1536"), "format 1536 bytes");
	ok(fmt_is(proto_size_format, PROTO_SIZE_MAX, "1024T"), "format the limit");
	{
		char small[3];
		is(proto_size_format(50ull << 30, small, sizeof(small)), KITH_ETOOBIG,
		   "short buffer");
	}
}

int main(void)
{
	test_durations();
	test_sizes();
	test_format();
	return tap_done();
}
