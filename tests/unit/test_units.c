/* Durations and sizes: what admins type, and every way to get it wrong. */
#include <string.h>

#include "proto/error.h"
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

int main(void)
{
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
	ok(dur("5 s") == UINT64_MAX, "no space inside");
	ok(dur("-5s") == UINT64_MAX, "no sign");
	ok(dur("5w") == UINT64_MAX, "unknown unit");
	ok(dur("99999999999999999999s") == UINT64_MAX, "overflowing digits");
	ok(dur("18446744073709552d") == UINT64_MAX, "overflowing product");
	is(proto_duration_parse("5x", 2, &v, &why), KITH_EVALUE, "error code");
	ok(why && strstr(why, "ms, s, m, h or d"), "message lists the units");

	is(size("50G"), 50ull << 30, "50G");
	is(size("1T"), 1ull << 40, "1T");
	is(size("4096"), 4096, "bare bytes");
	is(size("10K"), 10240, "10K");
	ok(size("0") == UINT64_MAX, "zero size refused");
	ok(size("5GB") == UINT64_MAX, "GB is not a unit here");
	is(size("3k"), 3072, "lower-case suffix");
	ok(size("") == UINT64_MAX, "empty refused");
	ok(size("16777216T") == UINT64_MAX, "overflowing size refused");
	is(proto_size_parse("0G", 2, &v, &why), KITH_EVALUE, "zero: error code");
	ok(why && strstr(why, "zero"), "zero: message");

	ok(fmt_is(proto_duration_format, 90000, "90s"), "format 90s");
	ok(fmt_is(proto_duration_format, 3600000, "1h"), "format 1h");
	ok(fmt_is(proto_duration_format, 1500, "1500ms"), "format 1500ms");
	ok(fmt_is(proto_duration_format, 0, "0ms"), "format 0");
	ok(fmt_is(proto_size_format, 50ull << 30, "50G"), "format 50G");
	ok(fmt_is(proto_size_format, 1536, "1536"), "format 1536 bytes");
	{
		char small[3];
		is(proto_size_format(50ull << 30, small, sizeof(small)), KITH_ETOOBIG,
		   "short buffer");
	}
	return tap_done();
}
