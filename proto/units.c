#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "units.h"

struct unit {
	const char *suffix;
	uint64_t factor;
};

static const struct unit durations[] = {
    {"d", 86400000}, {"h", 3600000}, {"m", 60000}, {"s", 1000}, {"ms", 1},
};
static const struct unit sizes[] = {
    {"T", (uint64_t)1 << 40},
    {"G", (uint64_t)1 << 30},
    {"M", (uint64_t)1 << 20},
    {"K", (uint64_t)1 << 10},
    /* lower case is read too, never written: formatting picks the first */
    {"t", (uint64_t)1 << 40},
    {"g", (uint64_t)1 << 30},
    {"m", (uint64_t)1 << 20},
    {"k", (uint64_t)1 << 10},
    {"", 1},
};

#define N_UNITS(a) (sizeof(a) / sizeof((a)[0]))

/* The messages below name the limits. */
static_assert(PROTO_DURATION_MAX_MS == 3650ULL * 86400000, "durations: at most 3650d");
static_assert(PROTO_SIZE_MAX == 1024ULL << 40, "sizes: at most 1024T");

/* Reads the leading decimal digits of text[0..len) into *value; a number
 * past 64 bits reads as UINT64_MAX, which every limit refuses. Returns how
 * many digits there were. */
static size_t read_digits(const char *text, size_t len, uint64_t *value)
{
	uint64_t v = 0;
	size_t i = 0;

	for (; i < len && text[i] >= '0' && text[i] <= '9'; i++) {
		unsigned d = (unsigned)(text[i] - '0');
		v = v > (UINT64_MAX - d) / 10 ? UINT64_MAX : v * 10 + d;
	}
	*value = v;
	return i;
}

static int fail(const char **why, const char *text)
{
	if (why)
		*why = text;
	return KITH_EVALUE;
}

/* number then one of units; the unit "" is allowed only if it is listed.
 * The result is at most max, which no unit's factor can push past 64 bits:
 * value <= max / factor is checked before multiplying. */
static int parse(const char *text, size_t len, const struct unit *units, size_t n_units,
                 uint64_t max, uint64_t *out, const char **why, const char *unit_help,
                 const char *too_large)
{
	uint64_t value;
	size_t digits = read_digits(text, len, &value);

	if (digits == 0)
		return fail(why, "must start with a number");
	for (size_t i = 0; i < n_units; i++) {
		if (strlen(units[i].suffix) != len - digits ||
		    memcmp(units[i].suffix, text + digits, len - digits) != 0)
			continue;
		if (value > max / units[i].factor)
			return fail(why, too_large);
		*out = value * units[i].factor;
		return 0;
	}
	return fail(why, unit_help);
}

int proto_duration_parse(const char *text, size_t len, uint64_t *ms, const char **why)
{
	return parse(text, len, durations, N_UNITS(durations), PROTO_DURATION_MAX_MS, ms, why,
	             "needs a unit: ms, s, m, h or d", "too long: at most 3650d (10 years)");
}

int proto_size_parse(const char *text, size_t len, uint64_t *bytes, const char **why)
{
	int err =
	    parse(text, len, sizes, N_UNITS(sizes), PROTO_SIZE_MAX, bytes, why,
	          "unit must be K, M, G or T (powers of 1024)", "too large: at most 1024T (1 PiB)");

	if (!err && *bytes == 0)
		return fail(why, "must not be zero");
	return err;
}

/* value in the largest unit that divides it exactly. */
static int format(uint64_t value, const struct unit *units, size_t n_units, char *buf, size_t n)
{
	for (size_t i = 0; i < n_units; i++) {
		if (value % units[i].factor != 0 || (value == 0 && units[i].factor != 1))
			continue;
		int len =
		    snprintf(buf, n, "%" PRIu64 "%s", value / units[i].factor, units[i].suffix);
		return len < 0 || (size_t)len >= n ? KITH_ETOOBIG : 0;
	}
	return KITH_EVALUE; /* unreachable: the last unit has factor 1 */
}

int proto_duration_format(uint64_t ms, char *buf, size_t n)
{
	return format(ms, durations, N_UNITS(durations), buf, n);
}

int proto_size_format(uint64_t bytes, char *buf, size_t n)
{
	return format(bytes, sizes, N_UNITS(sizes), buf, n);
}
