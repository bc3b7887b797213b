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

/* Reads the leading decimal digits of text[0..len) into *value. Returns the
 * number of digits, 0 when there is none, or -1 on overflow. */
static int read_digits(const char *text, size_t len, uint64_t *value)
{
	uint64_t v = 0;
	size_t i = 0;

	for (; i < len && text[i] >= '0' && text[i] <= '9'; i++) {
		unsigned d = (unsigned)(text[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*value = v;
	return (int)i;
}

static int fail(const char **why, const char *text)
{
	if (why)
		*why = text;
	return KITH_EVALUE;
}

/* number then one of units; the unit "" is allowed only if it is listed. */
static int parse(const char *text, size_t len, const struct unit *units, size_t n_units,
                 uint64_t *out, const char **why, const char *unit_help)
{
	uint64_t value;
	int digits = read_digits(text, len, &value);
	const char *suffix = text + (digits > 0 ? digits : 0);
	size_t suffix_len = len - (size_t)(digits > 0 ? digits : 0);

	if (digits < 0)
		return fail(why, "number too large");
	if (digits == 0)
		return fail(why, "must start with a number");
	for (size_t i = 0; i < n_units; i++) {
		if (strlen(units[i].suffix) != suffix_len ||
		    memcmp(units[i].suffix, suffix, suffix_len) != 0)
			continue;
		if (value > UINT64_MAX / units[i].factor)
			return fail(why, "number too large");
		*out = value * units[i].factor;
		return 0;
	}
	return fail(why, unit_help);
}

int proto_duration_parse(const char *text, size_t len, uint64_t *ms, const char **why)
{
	return parse(text, len, durations, N_UNITS(durations), ms, why,
	             "needs a unit: ms, s, m, h or d");
}

int proto_size_parse(const char *text, size_t len, uint64_t *bytes, const char **why)
{
	int err = parse(text, len, sizes, N_UNITS(sizes), bytes, why,
	                "unit must be K, M, G or T (powers of 1024)");

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
