/* Grant scopes: text form parsing and canonical formatting (see scope.h). */
#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "scope.h"
#include "units.h"

#define EXPECTED "(expected monitor, admit, backup:SIZE[:COUNT] or dns:ZONE)"
#define LABEL_MAX 63
/* The message of parse_count() names the limit. */
static_assert(PROTO_BACKUP_COUNT_MAX == 268435456, "backup count: at most 268435456");

/* Input quoted in a message is cut to this many bytes. */
#define QUOTE_MAX 40

/* Messages quote the input, so they are built in a per-thread buffer that
 * the next call overwrites (the agent is single-threaded; the CLI prints
 * the message at once). */
static _Thread_local char why_buf[160];

/* Copies at most QUOTE_MAX bytes of s[0..len) into out, printable ASCII
 * only: scope text may come from a peer's record and must not steer a
 * terminal. */
static void quote(char out[QUOTE_MAX + 4], const char *s, size_t len)
{
	size_t n = len > QUOTE_MAX ? QUOTE_MAX : len;
	for (size_t i = 0; i < n; i++)
		out[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
	strcpy(out + n, len > n ? "..." : "");
}

/* Sets *why (when wanted) to the constant msg; returns KITH_ESCOPE. */
static int fail(const char **why, const char *msg)
{
	if (why)
		*why = msg;
	return KITH_ESCOPE;
}

/* Sets *why (when wanted) to before 'quoted s[0..len)' after; returns
 * KITH_ESCOPE. */
static int fail_quoting(const char **why, const char *before, const char *s, size_t len,
                        const char *after)
{
	char q[QUOTE_MAX + 4];

	if (why) {
		quote(q, s, len);
		snprintf(why_buf, sizeof(why_buf), "%s'%s'%s", before, q, after);
		*why = why_buf;
	}
	return KITH_ESCOPE;
}

static bool has_prefix(const char *s, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);
	return len >= n && memcmp(s, prefix, n) == 0;
}

/* SIZE as proto_size_parse() reads it. */
static int parse_size(uint64_t *out, const char *s, size_t len, const char **why)
{
	const char *problem;

	if (len == 0)
		return fail(why, "backup needs a size, e.g. backup:50G");
	if (proto_size_parse(s, len, out, &problem) == 0)
		return 0;
	if (why) {
		char q[QUOTE_MAX + 4];
		quote(q, s, len);
		snprintf(why_buf, sizeof(why_buf), "backup size '%s': %s", q, problem);
		*why = why_buf;
	}
	return KITH_ESCOPE;
}

uint32_t proto_scope_backup_default_count(uint64_t quota)
{
	uint64_t n = quota / PROTO_BACKUP_SHARD_BYTES;

	if (n < PROTO_BACKUP_COUNT_FLOOR)
		return PROTO_BACKUP_COUNT_FLOOR;
	return n > PROTO_BACKUP_COUNT_MAX ? PROTO_BACKUP_COUNT_MAX : (uint32_t)n;
}

uint32_t proto_scope_backup_count(const struct proto_scope *s)
{
	if (s->type != PROTO_SCOPE_BACKUP)
		return 0;
	return s->count ? s->count : proto_scope_backup_default_count(s->quota);
}

/* COUNT: 1*DIGIT, from 1 to PROTO_BACKUP_COUNT_MAX. Written by hand: strtoul()
 * wants a NUL-terminated string, skips blanks and takes signs. */
static int parse_count(uint32_t *out, const char *s, size_t len, const char **why)
{
	uint64_t v = 0;

	if (len == 0)
		return fail(why, "backup count is empty: write backup:SIZE or backup:SIZE:COUNT");
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return fail_quoting(why, "backup count ", s, len,
			                    " must be a whole number (shards, no unit)");
		/* Stop growing past the limit: no digit string overflows. */
		if (v <= PROTO_BACKUP_COUNT_MAX)
			v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v == 0 || v > PROTO_BACKUP_COUNT_MAX)
		return fail_quoting(why, "backup count ", s, len,
		                    " must be from 1 to 268435456 shards");
	*out = (uint32_t)v;
	return 0;
}

/* SIZE[:COUNT] after "backup:". A COUNT equal to the default is stored as
 * 0, as if absent: see struct proto_scope. */
static int parse_backup(struct proto_scope *out, const char *s, size_t len, const char **why)
{
	const char *colon = memchr(s, ':', len);
	size_t size_len = colon ? (size_t)(colon - s) : len;
	int rc = parse_size(&out->quota, s, size_len, why);

	if (rc || !colon)
		return rc;
	rc = parse_count(&out->count, colon + 1, len - size_len - 1, why);
	if (!rc && out->count == proto_scope_backup_default_count(out->quota))
		out->count = 0;
	return rc;
}

static bool zone_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

/* Checks one label s[0..len) (already lower case). */
static int check_label(const char *s, size_t len, const char **why)
{
	if (len == 0)
		return fail(why, "a DNS name has an empty label (two dots in a row, or a "
		                 "leading dot?)");
	if (len > LABEL_MAX)
		return fail_quoting(why, "DNS label ", s, len, " is longer than 63 characters");
	for (size_t i = 0; i < len; i++)
		if (!zone_char_ok(s[i]))
			return fail_quoting(why, "DNS label ", s, len,
			                    " has a character outside a-z, 0-9 and '-'");
	if (s[0] == '-' || s[len - 1] == '-')
		return fail_quoting(why, "DNS label ", s, len, " starts or ends with '-'");
	return 0;
}

int proto_dns_name_parse(char out[PROTO_ZONE_MAX + 1], const char *s, size_t len, const char **why)
{
	if (len > 0 && s[len - 1] == '.')
		len--;
	if (len == 0)
		return fail(why, "empty DNS name");
	if (len > PROTO_ZONE_MAX)
		return fail_quoting(why, "DNS name ", s, len, " is longer than 253 characters");
	for (size_t i = 0; i < len; i++)
		out[i] = s[i] >= 'A' && s[i] <= 'Z' ? (char)(s[i] - 'A' + 'a') : s[i];
	out[len] = '\0';
	size_t start = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && out[i] != '.')
			continue;
		int rc = check_label(out + start, i - start, why);
		if (rc)
			return rc;
		start = i + 1;
	}
	return 0;
}

bool proto_dns_name_in_zone(const char *name, const char *zone)
{
	size_t n = strlen(name), z = strlen(zone);

	if (z == 0 || n < z || strcmp(name + n - z, zone) != 0)
		return false;
	return n == z || name[n - z - 1] == '.';
}

int proto_scope_parse(struct proto_scope *out, const char *text, size_t len, const char **why)
{
	memset(out, 0, sizeof(*out));
	if (len == 0)
		return fail(why, "empty scope " EXPECTED);
	if (len > PROTO_SCOPE_MAX)
		return fail_quoting(why, "scope ", text, len, " is longer than 300 bytes");
	if (len == 7 && memcmp(text, "monitor", 7) == 0) {
		out->type = PROTO_SCOPE_MONITOR;
		return 0;
	}
	if (len == 5 && memcmp(text, "admit", 5) == 0) {
		out->type = PROTO_SCOPE_ADMIT;
		return 0;
	}
	if (has_prefix(text, len, "backup:")) {
		out->type = PROTO_SCOPE_BACKUP;
		return parse_backup(out, text + 7, len - 7, why);
	}
	if (has_prefix(text, len, "dns:")) {
		out->type = PROTO_SCOPE_DNS;
		if (len == 4 || (len == 5 && text[4] == '.'))
			return fail(why, "dns needs a zone, e.g. dns:example.org");
		return proto_dns_name_parse(out->zone, text + 4, len - 4, why);
	}
	if (len == 6 && memcmp(text, "backup", 6) == 0)
		return fail(why, "backup needs a size, e.g. backup:50G");
	if (len == 3 && memcmp(text, "dns", 3) == 0)
		return fail(why, "dns needs a zone, e.g. dns:example.org");
	if (has_prefix(text, len, "monitor:"))
		return fail(why, "monitor takes no argument: write just 'monitor'");
	if (has_prefix(text, len, "admit:"))
		return fail(why, "admit takes no argument: write just 'admit'");
	return fail_quoting(why, "unknown scope ", text, len, " " EXPECTED);
}

static int format_backup(const struct proto_scope *s, char *buf, size_t n)
{
	char size[32];
	int len;

	if (s->quota == 0 || s->quota > PROTO_SIZE_MAX || s->count > PROTO_BACKUP_COUNT_MAX)
		return KITH_EVALUE;
	if (proto_size_format(s->quota, size, sizeof(size)) != 0)
		return KITH_EVALUE; /* cannot happen: 1024T fits */
	if (s->count && s->count != proto_scope_backup_default_count(s->quota))
		len = snprintf(buf, n, "backup:%s:%" PRIu32, size, s->count);
	else
		len = snprintf(buf, n, "backup:%s", size);
	return len < 0 || (size_t)len >= n ? KITH_ETOOBIG : 0;
}

int proto_scope_format(const struct proto_scope *s, char *buf, size_t n)
{
	int len;
	switch (s->type) {
	case PROTO_SCOPE_MONITOR:
		len = snprintf(buf, n, "monitor");
		break;
	case PROTO_SCOPE_ADMIT:
		len = snprintf(buf, n, "admit");
		break;
	case PROTO_SCOPE_BACKUP:
		return format_backup(s, buf, n);
	case PROTO_SCOPE_DNS:
		len = snprintf(buf, n, "dns:%.*s", PROTO_ZONE_MAX, s->zone);
		break;
	default:
		return KITH_EVALUE;
	}
	if (len < 0 || (size_t)len >= n)
		return KITH_ETOOBIG;
	return 0;
}

int proto_scope_check(const struct proto_scope *s, char text[PROTO_SCOPE_MAX + 1])
{
	char own[PROTO_SCOPE_MAX + 1];
	struct proto_scope back;

	text = text ? text : own;
	if (proto_scope_format(s, text, PROTO_SCOPE_MAX + 1) ||
	    proto_scope_parse(&back, text, strlen(text), NULL))
		return KITH_EVALUE;
	/* strncmp(): the zone of a struct built in memory may lack its NUL. */
	if (back.type != s->type || back.quota != s->quota ||
	    proto_scope_backup_count(&back) != proto_scope_backup_count(s) ||
	    (s->type == PROTO_SCOPE_DNS && strncmp(back.zone, s->zone, sizeof(s->zone)) != 0))
		return KITH_EVALUE;
	return 0;
}

int proto_scope_list_parse(const char *text, struct proto_scope *out, uint32_t max, uint32_t *n,
                           const char **why)
{
	const char *p = text;

	*n = 0;
	while (*p) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		if (*n == max) {
			if (why)
				*why = "too many scopes";
			return KITH_ETOOBIG;
		}
		if (proto_scope_parse(&out[*n], p, len, why) != 0)
			return KITH_ESCOPE;
		(*n)++;
		p += len;
		if (*p == ',')
			p++;
	}
	return 0;
}
