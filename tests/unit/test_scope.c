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
	is(parse(&s, "backup:1024T", NULL), 0, "the largest quota, 1024T");
	ok(s.quota == PROTO_SIZE_MAX, "1024T value");
	is(parse(&s, "backup:1125899906842624", NULL), 0, "1 PiB in bytes");
	ok(s.quota == PROTO_SIZE_MAX, "1 PiB value");
	is(s.count, 0, "no count given");
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
	ok(strcmp(canonical("backup:1024T"), "backup:1024T") == 0, "no suffix past T");
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
	refused("monitr", "unknown scope 'monitr' (expected monitor, admit, backup:SIZE[:COUNT] or "
	                  "dns:ZONE)");
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
	refused("backup:1025T", "at most 1024T");
	refused("backup:1125899906842625", "at most 1024T");
	refused("backup:18446744073709551615", "too large");
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

/* backup:SIZE[:COUNT]: the default count, its canonical form, and bad
 * counts. */
static void test_count(void)
{
	struct proto_scope s;
	char buf[PROTO_SCOPE_MAX + 1];

	is(proto_scope_backup_default_count(1), PROTO_BACKUP_COUNT_FLOOR, "floor for 1 byte");
	is(proto_scope_backup_default_count(10ULL << 20), 1000, "floor for 10M");
	is(proto_scope_backup_default_count(1000ULL * 65536), 1000, "1000 shards of 64K");
	is(proto_scope_backup_default_count(1001ULL * 65536), 1001, "past the floor");
	is(proto_scope_backup_default_count(50ULL << 30), 819200, "50G: 819200 shards");
	is(proto_scope_backup_default_count(16ULL << 40), PROTO_BACKUP_COUNT_MAX,
	   "16T: 2^28 shards");
	is(proto_scope_backup_default_count(PROTO_SIZE_MAX), PROTO_BACKUP_COUNT_MAX,
	   "1024T: capped at 2^28");
	is(proto_scope_backup_default_count(UINT64_MAX), PROTO_BACKUP_COUNT_MAX,
	   "any quota: capped");

	is(parse(&s, "backup:50G", NULL), 0, "old text without count");
	ok(s.quota == 50ULL << 30 && s.count == 0, "count 0: the default");
	is(proto_scope_backup_count(&s), 819200, "default count of 50G");
	is(parse(&s, "backup:50G:2000", NULL), 0, "backup:50G:2000");
	ok(s.quota == 50ULL << 30 && s.count == 2000, "count 2000");
	is(proto_scope_backup_count(&s), 2000, "effective count 2000");
	ok(strcmp(canonical("backup:50G:2000"), "backup:50G:2000") == 0, "count kept in text");
	is(parse(&s, "backup:50G:819200", NULL), 0, "the default count written out");
	is(s.count, 0, "stored as 0");
	ok(strcmp(canonical("backup:50G:819200"), "backup:50G") == 0, "and left out of the text");
	ok(strcmp(canonical("backup:51200M:819200"), "backup:50G") == 0, "same in other units");
	ok(strcmp(canonical("backup:10M:1000"), "backup:10M") == 0, "the floor left out");
	ok(strcmp(canonical("backup:10M:999"), "backup:10M:999") == 0, "under the floor kept");
	ok(strcmp(canonical("backup:10M:1"), "backup:10M:1") == 0, "one shard");
	ok(strcmp(canonical("backup:1:0001"), "backup:1:1") == 0, "leading zeros dropped");
	ok(strcmp(canonical("backup:1024T:268435456"), "backup:1024T") == 0,
	   "largest count is the default of the largest quota");
	ok(strcmp(canonical("backup:1G:268435456"), "backup:1G:268435456") == 0,
	   "largest count on a small quota");
	ok(strcmp(canonical("backup:1536:5"), "backup:1536:5") == 0, "bytes and a count");
	is(parse(&s, "backup:1024T:1", NULL), 0, "largest quota, one shard");
	is(proto_scope_backup_count(&s), 1, "its count");

	s = (struct proto_scope){.type = PROTO_SCOPE_MONITOR, .count = 5};
	is(proto_scope_backup_count(&s), 0, "no count for monitor");
	s = (struct proto_scope){.type = PROTO_SCOPE_BACKUP, .quota = 50ULL << 30, .count = 7};
	is(proto_scope_format(&s, buf, sizeof(buf)), 0, "format a count");
	ok(strcmp(buf, "backup:50G:7") == 0, "backup:50G:7");
	is(proto_scope_format(&s, buf, 13), 0, "exactly enough room");
	is(proto_scope_format(&s, buf, 12), KITH_ETOOBIG, "one byte short");
	s.count = 819200;
	is(proto_scope_format(&s, buf, sizeof(buf)), 0, "a default count set in memory");
	ok(strcmp(buf, "backup:50G") == 0, "formats without it");
	s.count = PROTO_BACKUP_COUNT_MAX + 1;
	is(proto_scope_format(&s, buf, sizeof(buf)), KITH_EVALUE, "count over the limit");
	s.count = 0;
	s.quota = PROTO_SIZE_MAX + 1;
	is(proto_scope_format(&s, buf, sizeof(buf)), KITH_EVALUE, "quota over the limit");

	refused("backup:50G:", "backup count is empty");
	refused("backup:50G:0", "must be from 1 to 268435456");
	refused("backup:50G:000", "must be from 1 to 268435456");
	refused("backup:50G:268435457", "must be from 1 to 268435456");
	refused("backup:50G:99999999999999999999999999", "must be from 1 to 268435456");
	refused("backup:50G:-1", "must be a whole number");
	refused("backup:50G:+1", "must be a whole number");
	refused("backup:50G: 1", "must be a whole number");
	refused("backup:50G:1K", "must be a whole number");
	refused("backup:50G:1:2", "must be a whole number");
	refused("backup:50G:1.5", "must be a whole number");
	refused("backup::100", "backup needs a size");
	refused("backup:0:100", "must not be zero");
	refused("backup:50X:100", "unit must be K, M, G or T");
	is(proto_scope_parse(&s, "backup:5:12", 10, NULL), 0, "length-bounded count");
	is(s.count, 1, "only the bytes given are read");
}

static void test_list(void)
{
	struct proto_scope out[4];
	const char *why = NULL;
	uint32_t n = 99;

	is(proto_scope_list_parse("", out, 4, &n, &why), 0, "list: empty text");
	is(n, 0, "list: no scope");
	is(proto_scope_list_parse("monitor,backup:50G:2000,dns:example.org", out, 4, &n, &why), 0,
	   "list: three scopes");
	ok(n == 3 && out[0].type == PROTO_SCOPE_MONITOR && out[1].quota == 50ULL << 30 &&
	       proto_scope_backup_count(&out[1]) == 2000 && !strcmp(out[2].zone, "example.org"),
	   "list: each parsed");
	is(proto_scope_list_parse("monitor,", out, 4, &n, &why), 0, "list: a trailing comma");
	is(n, 1, "list: ends the list");
	is(proto_scope_list_parse("monitor,admit,monitor,admit,monitor", out, 4, &n, &why),
	   KITH_ETOOBIG, "list: more than max");
	why = NULL;
	is(proto_scope_list_parse("monitor,backup", out, 4, &n, &why), KITH_ESCOPE,
	   "list: a bad one");
	ok(why && strstr(why, "size"), "list: says why");
	is(proto_scope_list_parse("monitor,,admit", out, 4, &n, NULL), KITH_ESCOPE,
	   "list: an empty scope, why may be NULL");
}

int main(void)
{
	test_list();
	test_valid();
	test_format();
	test_invalid();
	test_count();
	return tap_done();
}
