/* Unit tests of scope text parsing and formatting. */
#include <stdint.h>
#include <string.h>

#include "proto/error.h"
#include "proto/scope.h"
#include "tap.h"

static int parse(struct proto_scope *s, const char *text, const char **why)
{
	return proto_scope_parse(s, text, strlen(text), why);
}

/* Parses text and formats it back; returns the canonical form (static). */
static const char *canonical(const char *text)
{
	static char buf[PROTO_SCOPE_MAX + 1];
	struct proto_scope s;
	if (parse(&s, text, NULL) || proto_scope_format(&s, buf, sizeof(buf)))
		return "(error)";
	return buf;
}

static void test_valid(void)
{
	struct proto_scope s;
	is(parse(&s, "monitor", NULL), 0, "monitor");
	is(s.type, PROTO_SCOPE_MONITOR, "monitor type");
	is(parse(&s, "admit", NULL), 0, "admit");
	is(s.type, PROTO_SCOPE_ADMIT, "admit type");
	is(parse(&s, "backup:50G", NULL), 0, "backup:50G");
	is(s.type, PROTO_SCOPE_BACKUP, "backup type");
	ok(s.quota == 50ULL << 30, "50G is 50 * 2^30 bytes");
	is(parse(&s, "backup:1", NULL), 0, "backup:1");
	is(s.quota, 1, "one byte");
	is(parse(&s, "backup:3k", NULL), 0, "lower-case suffix");
	is(s.quota, 3072, "3k");
	is(parse(&s, "backup:16777215T", NULL), 0, "largest T that fits");
	ok(s.quota == 16777215ULL << 40, "16777215T value");
	is(parse(&s, "backup:18446744073709551615", NULL), 0, "UINT64_MAX bytes");
	ok(s.quota == UINT64_MAX, "UINT64_MAX value");
	is(parse(&s, "dns:Example.ORG.", NULL), 0, "dns with capitals and final dot");
	is(s.type, PROTO_SCOPE_DNS, "dns type");
	ok(strcmp(s.zone, "example.org") == 0, "zone lowered, final dot removed");
	is(parse(&s, "dns:a-1.b2.c", NULL), 0, "digits and inner hyphen");
	is(parse(&s, "dns:org", NULL), 0, "one-label zone");

	char zone[300] = "dns:";
	memset(zone + 4, 'a', 253); /* labels of 63, 63, 63 and 61 */
	zone[4 + 63] = zone[4 + 127] = zone[4 + 191] = '.';
	zone[4 + 253] = '\0';
	is(parse(&s, zone, NULL), 0, "zone of exactly 253 bytes");
	is(strlen(s.zone), 253, "its length");
	char label63[80] = "dns:";
	memset(label63 + 4, 'a', 63);
	label63[67] = '\0';
	is(parse(&s, label63, NULL), 0, "label of 63");
	label63[67] = 'a';
	label63[68] = '\0';
	is(parse(&s, label63, NULL), KITH_ESCOPE, "label of 64");

	/* text need not be NUL-terminated */
	is(proto_scope_parse(&s, "admitXYZ", 5, NULL), 0, "length-bounded text");
}

static void test_format(void)
{
	char buf[32];
	struct proto_scope s = {.type = PROTO_SCOPE_BACKUP, .quota = 1536};
	ok(strcmp(canonical("backup:1024"), "backup:1K") == 0, "1024 is 1K");
	ok(strcmp(canonical("backup:1536"), "backup:1536") == 0, "1536 stays in bytes");
	ok(strcmp(canonical("backup:1536K"), "backup:1536K") == 0, "1536K stays in K");
	ok(strcmp(canonical("backup:2048M"), "backup:2G") == 0, "2048M is 2G");
	ok(strcmp(canonical("backup:1048576T"), "backup:1048576T") == 0, "no suffix past T");
	ok(strcmp(canonical("backup:50g"), "backup:50G") == 0, "suffix upper-cased");
	ok(strcmp(canonical("monitor"), "monitor") == 0, "monitor formats");
	ok(strcmp(canonical("admit"), "admit") == 0, "admit formats");
	ok(strcmp(canonical("dns:A.B."), "dns:a.b") == 0, "dns formats canonical");
	is(proto_scope_format(&s, buf, sizeof(buf)), 0, "format fits");
	is(proto_scope_format(&s, buf, 12), 0, "format in exactly enough room");
	is(proto_scope_format(&s, buf, 11), KITH_ETOOBIG, "format one byte short");
	is(proto_scope_format(&s, buf, 0), KITH_ETOOBIG, "format into nothing");
	s.quota = 0;
	is(proto_scope_format(&s, buf, sizeof(buf)), KITH_EVALUE, "zero quota");
	s.type = (enum proto_scope_type)9;
	is(proto_scope_format(&s, buf, sizeof(buf)), KITH_EVALUE, "unknown type");
}

/* Parses text, expects KITH_ESCOPE and a message containing part. */
static void refused(const char *text, const char *part)
{
	struct proto_scope s;
	const char *why = NULL;
	char what[200];
	snprintf(what, sizeof(what), "'%s' refused saying '%s'", text, part);
	int rc = parse(&s, text, &why);
	ok(rc == KITH_ESCOPE && why && strstr(why, part), what);
	if (why && !strstr(why, part))
		printf("#   why: %s\n", why);
}

static void test_invalid(void)
{
	refused("monitr",
	        "unknown scope 'monitr' (expected monitor, admit, backup:SIZE or dns:ZONE)");
	refused("", "empty scope");
	refused("Monitor", "unknown scope 'Monitor'");
	refused("monitor:x", "monitor takes no argument");
	refused("admit:", "admit takes no argument");
	refused("backup", "backup needs a size");
	refused("backup:", "backup needs a size");
	refused("backup:0", "must not be zero");
	refused("backup:0K", "must not be zero");
	refused("backup:10X", "unit must be K, M, G or T");
	refused("backup:10KB", "unit must be K, M, G or T");
	refused("backup:K", "must start with a number");
	refused("backup:-5", "must start with a number");
	refused("backup: 5", "must start with a number");
	refused("backup:5.5G", "unit must be K, M, G or T");
	refused("backup:18446744073709551616", "too large");
	refused("backup:16777216T", "too large");
	refused("backup:99999999999999999999999", "too large");
	refused("dns", "dns needs a zone");
	refused("dns:", "dns needs a zone");
	refused("dns:.", "dns needs a zone");
	refused("dns:a..b", "empty label");
	refused("dns:.a", "empty label");
	refused("dns:a..", "empty label");
	refused("dns:ex_ample.org", "character outside a-z, 0-9 and '-'");
	refused("dns:exa mple.org", "character outside");
	refused("dns:-a.org", "starts or ends with '-'");
	refused("dns:a-.org", "starts or ends with '-'");
	refused("dns:\x1b[31m.org", "'?[31m'");

	char zone[300] = "dns:";
	memset(zone + 4, 'a', 254);
	zone[258] = '\0';
	refused(zone, "longer than 253");
	char longer[320];
	memset(longer, 'x', 301);
	longer[301] = '\0';
	refused(longer, "longer than 300 bytes");

	struct proto_scope s;
	is(proto_scope_parse(&s, "admit\0", 6, NULL), KITH_ESCOPE, "embedded NUL");
	is(parse(&s, "monitr", NULL), KITH_ESCOPE, "why may be NULL");
}

int main(void)
{
	test_valid();
	test_format();
	test_invalid();
	return tap_done();
}
