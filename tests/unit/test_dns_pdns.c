/* The PowerDNS API (dns/pdns.c): the zone's URL from a credential, the
 * reading of zone JSON shaped as PowerDNS 4.7 sends it (and of everything
 * that is not), the PATCH bodies read back field by field with jansson,
 * and the sentence for every kind of HTTP status. */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "dns/pdns.h"
#include "proto/error.h"
#include "tap.h"

#define TOKEN "tok-3f9a1c-secret"

/* A GET of example.test. from PowerDNS 4.7.3 (gsqlite3), with records
 * added: a disabled A, a TXT and an MX at www, names in mixed case. */
static const char zone_json[] =
    "{\"account\": \"\", \"api_rectify\": false, \"catalog\": \"\", \"dnssec\": false, "
    "\"edited_serial\": 2026120501, \"id\": \"example.test.\", \"kind\": \"Native\", "
    "\"last_check\": 0, \"master_tsig_key_ids\": [], \"masters\": [], \"name\": "
    "\"example.test.\", \"notified_serial\": 0, \"nsec3narrow\": false, \"nsec3param\": \"\", "
    "\"rrsets\": ["
    "{\"comments\": [], \"name\": \"www.example.test.\", \"records\": [{\"content\": "
    "\"2001:db8::1\", \"disabled\": false}], \"ttl\": 120, \"type\": \"AAAA\"}, "
    "{\"comments\": [], \"name\": \"WWW.Example.test.\", \"records\": [{\"content\": "
    "\"127.0.0.2\", \"disabled\": false}, {\"content\": \"127.0.0.9\", \"disabled\": true}, "
    "{\"content\": \"127.0.0.3\", \"disabled\": false}], \"ttl\": 60, \"type\": \"A\"}, "
    "{\"comments\": [], \"name\": \"www.example.test.\", \"records\": [{\"content\": "
    "\"\\\"kith dns test abc\\\"\", \"disabled\": false}], \"ttl\": 60, \"type\": \"TXT\"}, "
    "{\"comments\": [], \"name\": \"www.example.test.\", \"records\": [{\"content\": "
    "\"10 mail.example.test.\", \"disabled\": false}], \"ttl\": 60, \"type\": \"MX\"}, "
    "{\"comments\": [], \"name\": \"example.test.\", \"records\": [{\"content\": "
    "\"a.misconfigured.dns.server.invalid. hostmaster.example.test. 2026120501 10800 3600 "
    "604800 3600\", \"disabled\": false}], \"ttl\": 3600, \"type\": \"SOA\"}, "
    "{\"comments\": [], \"name\": \"example.test.\", \"records\": [{\"content\": "
    "\"ns1.example.test.\", \"disabled\": false}], \"ttl\": 3600, \"type\": \"NS\"}], "
    "\"serial\": 2026120501, \"slave_tsig_key_ids\": [], \"soa_edit\": \"\", "
    "\"soa_edit_api\": \"DEFAULT\", \"url\": \"/api/v1/servers/localhost/zones/example.test.\"}";

static struct dns_addrs got;
static uint32_t ttl;

static int read_json(const char *json, const char *name, int family)
{
	return dns_pdns_read(json, strlen(json), name, family, &got, &ttl);
}

static bool has4(const char *text)
{
	uint8_t a[4];

	inet_pton(AF_INET, text, a);
	for (size_t i = 0; i < got.n; i++)
		if (!memcmp(got.addr[i], a, 4))
			return true;
	return false;
}

/* A zone of one A set at www holding n records 127.0.0.i, the last one
 * disabled when last_disabled. */
static char *a_zone(unsigned n, bool last_disabled)
{
	static char buf[4096];
	size_t at = (size_t)snprintf(buf, sizeof(buf),
	                             "{\"rrsets\": [{\"name\": "
	                             "\"www.example.test.\", \"type\": \"A\", "
	                             "\"ttl\": 30, \"records\": [");

	for (unsigned i = 0; i < n; i++)
		at += (size_t)snprintf(
		    buf + at, sizeof(buf) - at, "%s{\"content\": \"127.0.0.%u\", \"disabled\": %s}",
		    i ? ", " : "", i + 1, last_disabled && i == n - 1 ? "true" : "false");
	snprintf(buf + at, sizeof(buf) - at, "]}]}");
	return buf;
}

static void test_url(void)
{
	static const char text[] = "provider = pdns\nurl = http://127.0.0.1:8081/\ntoken = " TOKEN;
	struct dns_cred cred;
	char url[DNS_PDNS_URL_MAX], why[200];
	const char *want = "http://127.0.0.1:8081/api/v1/servers/localhost/zones/example.test.";

	is(dns_cred_parse(&cred, text, strlen(text), why, sizeof(why)), 0, "a pdns credential");
	is(dns_pdns_zone_url(url, sizeof(url), &cred, "example.test"), 0, "zone URL");
	ok(!strcmp(url, want), "default server_id, the url's final '/' gone, the zone's dot");
	ok(!strstr(url, TOKEN), "no token in the URL");
	is(dns_pdns_zone_url(url, sizeof(url), &cred, "example.test."), 0, "zone with final dot");
	ok(!strcmp(url, want), "one final dot");
	is(dns_pdns_zone_url(url, strlen(want) + 1, &cred, "example.test"), 0, "exact fit");
	is(dns_pdns_zone_url(url, strlen(want), &cred, "example.test"), KITH_ETOOBIG,
	   "one byte short");
	ok(url[0] == '\0', "nothing left in a short buffer");
	is(dns_pdns_zone_url(NULL, 0, &cred, "example.test"), KITH_EVALUE, "no buffer");

	snprintf(cred.url, sizeof(cred.url), "https://ns.example.net/pdns//");
	snprintf(cred.server_id, sizeof(cred.server_id), "ns1_b.example");
	is(dns_pdns_zone_url(url, sizeof(url), &cred, "Example.TEST"), 0, "hand-filled url");
	ok(!strcmp(url, "https://ns.example.net/pdns/api/v1/servers/ns1_b.example/zones/"
	                "Example.TEST."),
	   "url path kept, slashes dropped, server_id and zone as given");
	cred.server_id[0] = '\0';
	is(dns_pdns_zone_url(url, sizeof(url), &cred, "example.test"), 0, "empty server_id");
	ok(strstr(url, "/servers/localhost/"), "means localhost");

	is(dns_pdns_zone_url(url, sizeof(url), &cred, "bad..zone"), KITH_EVALUE, "bad zone");
	is(dns_pdns_zone_url(url, sizeof(url), &cred, "*.example.test"), KITH_EVALUE, "wildcard");
	is(dns_pdns_zone_url(url, sizeof(url), &cred, ""), KITH_EVALUE, "empty zone");
	is(dns_pdns_zone_url(url, sizeof(url), &cred, NULL), KITH_EVALUE, "no zone");
	snprintf(cred.server_id, sizeof(cred.server_id), "..");
	is(dns_pdns_zone_url(url, sizeof(url), &cred, "example.test"), KITH_EVALUE,
	   "server_id \"..\"");
	snprintf(cred.server_id, sizeof(cred.server_id), "a/b");
	is(dns_pdns_zone_url(url, sizeof(url), &cred, "example.test"), KITH_EVALUE,
	   "server_id with '/'");
	cred.server_id[0] = '\0';
	snprintf(cred.url, sizeof(cred.url), "http://a b");
	is(dns_pdns_zone_url(url, sizeof(url), &cred, "example.test"), KITH_EVALUE,
	   "url with a space");
	snprintf(cred.url, sizeof(cred.url), "/");
	is(dns_pdns_zone_url(url, sizeof(url), &cred, "example.test"), KITH_EVALUE, "empty url");
	cred.provider = DNS_PROVIDER_DESEC;
	snprintf(cred.url, sizeof(cred.url), "https://desec.io/api/v1");
	is(dns_pdns_zone_url(url, sizeof(url), &cred, "example.test"), KITH_EVALUE,
	   "a desec credential");
	dns_cred_wipe(&cred);
}

static void test_read(void)
{
	uint8_t six[16];

	is(read_json(zone_json, "www.example.test", AF_INET), 0, "A set read");
	is(got.family, AF_INET, "family");
	is(got.n, 2, "two enabled records, the disabled one skipped");
	ok(has4("127.0.0.2") && has4("127.0.0.3") && !has4("127.0.0.9"), "their addresses");
	is(ttl, 60, "its TTL");
	is(read_json(zone_json, "Www.EXAMPLE.test.", AF_INET), 0, "name case and final dot");
	is(got.n, 2, "same set");

	is(read_json(zone_json, "www.example.test", AF_INET6), 0, "AAAA set read");
	inet_pton(AF_INET6, "2001:db8::1", six);
	ok(got.family == AF_INET6 && got.n == 1 && !memcmp(got.addr[0], six, 16),
	   "2001:db8::1 as bytes");
	is(ttl, 120, "its TTL");

	is(read_json(zone_json, "mail.example.test", AF_INET), 0, "no such name");
	ok(got.n == 0 && ttl == 0, "no addresses, TTL 0");
	is(read_json(zone_json, "example.test", AF_INET), 0, "apex: SOA and NS only");
	ok(got.n == 0 && ttl == 0, "no A set there");
	is(read_json("{\"rrsets\": []}", "www.example.test", AF_INET), 0, "empty zone");
	ok(got.n == 0, "nothing");

	is(read_json(a_zone(16, false), "www.example.test", AF_INET), 0, "16 addresses");
	is(got.n, 16, "all of them");
	is(read_json(a_zone(17, false), "www.example.test", AF_INET), KITH_ETOOBIG, "17 addresses");
	ok(got.n == 0 && ttl == 0, "nothing kept");
	is(read_json(a_zone(17, true), "www.example.test", AF_INET), 0, "17 records, one disabled");
	is(got.n, 16, "16 addresses");
	is(read_json("{\"rrsets\": [{\"name\": \"www.example.test.\", \"type\": \"A\", \"ttl\": 5, "
	             "\"records\": [{\"content\": \"192.0.2.1\"}, {\"content\": \"192.0.2.1\", "
	             "\"disabled\": false}]}]}",
	             "www.example.test", AF_INET),
	   0, "a repeated address, \"disabled\" absent");
	ok(got.n == 1 && has4("192.0.2.1") && ttl == 5, "read once");
	is(read_json("{\"rrsets\": [{\"name\": \"www.example.test.\", \"type\": \"A\", \"ttl\": 5, "
	             "\"records\": [{\"content\": \"192.0.2.1\", \"disabled\": true}]}]}",
	             "www.example.test", AF_INET),
	   0, "a set of disabled records");
	ok(got.n == 0 && ttl == 5, "no addresses, the set's TTL");
	is(read_json("{\"rrsets\": [{\"name\": \"www.example.test.\", \"type\": \"a\", \"ttl\": "
	             "4294967295, \"records\": [{\"content\": \"192.0.2.1\"}]}]}",
	             "www.example.test", AF_INET),
	   0, "type in lower case, the largest TTL");
	ok(got.n == 1 && ttl == 4294967295u, "read");
	is(read_json("{\"rrsets\": [{\"name\": \"www.example.test\", \"type\": \"A\", \"ttl\": 5, "
	             "\"records\": [{\"content\": \"192.0.2.1\"}]}]}",
	             "www.example.test", AF_INET),
	   0, "a name without its final dot");
	is(got.n, 0, "is another name");
}

/* Each of these must read as KITH_EMALFORMED for the A set at www. */
static const struct {
	const char *json, *what;
} malformed[] = {
    {"", "empty"},
    {"Unauthorized", "plain text"},
    {"{\"rrsets\": []", "cut short"},
    {"{\"rrsets\": []} x", "trailing bytes"},
    {"{\"rrsets\": [], \"rrsets\": []}", "duplicate key at the top"},
    {"{\"rrsets\": [{\"name\": \"www.example.test.\", \"type\": \"A\", \"ttl\": 5, "
     "\"records\": [{\"content\": \"192.0.2.1\", \"content\": \"192.0.2.2\"}]}]}",
     "duplicate key in a record"},
    {"[]", "an array"},
    {"{}", "no rrsets"},
    {"{\"rrsets\": {}}", "rrsets an object"},
    {"{\"rrsets\": [\"www\"]}", "an rrset a string"},
    {"{\"rrsets\": [{\"type\": \"A\", \"records\": []}]}", "an rrset without a name"},
    {"{\"rrsets\": [{\"name\": 1, \"type\": \"A\", \"records\": []}]}", "a number as name"},
    {"{\"rrsets\": [{\"name\": \"x.\", \"type\": \"NS\", \"records\": {}}]}",
     "records an object, in another set"},
    {"{\"rrsets\": [{\"name\": \"x.\", \"records\": []}]}", "another set without a type"},
    {"{\"rrsets\": [{\"name\": \"www.example.test.\", \"type\": \"A\", \"records\": []}]}",
     "the set without a ttl"},
    {"{\"rrsets\": [{\"name\": \"www.example.test.\", \"type\": \"A\", \"ttl\": \"60\", "
     "\"records\": []}]}",
     "a ttl string"},
    {"{\"rrsets\": [{\"name\": \"www.example.test.\", \"type\": \"A\", \"ttl\": -1, "
     "\"records\": []}]}",
     "a negative ttl"},
    {"{\"rrsets\": [{\"name\": \"www.example.test.\", \"type\": \"A\", \"ttl\": 4294967296, "
     "\"records\": []}]}",
     "a ttl over 32 bits"},
    {"{\"rrsets\": [{\"name\": \"www.example.test.\", \"type\": \"A\", \"ttl\": 6.5, "
     "\"records\": []}]}",
     "a real ttl"},
    {"{\"rrsets\": [{\"name\": \"www.example.test.\", \"type\": \"A\", \"ttl\": 5, "
     "\"records\": [{\"content\": 3232235521}]}]}",
     "a number as content"},
    {"{\"rrsets\": [{\"name\": \"www.example.test.\", \"type\": \"A\", \"ttl\": 5, "
     "\"records\": [{\"disabled\": false}]}]}",
     "a record without content"},
    {"{\"rrsets\": [{\"name\": \"www.example.test.\", \"type\": \"A\", \"ttl\": 5, "
     "\"records\": [{\"content\": \"192.0.2.1\", \"disabled\": \"false\"}]}]}",
     "disabled a string"},
    {"{\"rrsets\": [{\"name\": \"www.example.test.\", \"type\": \"A\", \"ttl\": 5, "
     "\"records\": [\"192.0.2.1\"]}]}",
     "a record a string"},
    {"{\"rrsets\": [{\"name\": \"www.example.test.\", \"type\": \"A\", \"ttl\": 5, "
     "\"records\": [{\"content\": \"2001:db8::1\"}]}]}",
     "an IPv6 address in an A set"},
    {"{\"rrsets\": [{\"name\": \"www.example.test.\", \"type\": \"A\", \"ttl\": 5, "
     "\"records\": [{\"content\": \"127.1\"}]}]}",
     "a short IPv4 form"},
    {"{\"rrsets\": [{\"name\": \"www.example.test.\", \"type\": \"A\", \"ttl\": 5, "
     "\"records\": [{\"content\": \"192.0.2.1\", \"disabled\": true}, {\"content\": "
     "\"x\", \"disabled\": true}]}]}",
     "a bad address in a disabled record"},
    {"{\"rrsets\": [{\"name\": \"www.example.test.\", \"type\": \"A\", \"ttl\": 5, "
     "\"records\": [{\"content\": \"192.0.2.1\\u0000\"}]}]}",
     "a NUL in a string"},
    {"{\"rrsets\": [{\"name\": \"www.example.test.\", \"type\": \"A\", \"ttl\": 5, "
     "\"records\": []}, {\"name\": \"WWW.example.test.\", \"type\": \"A\", \"ttl\": 5, "
     "\"records\": []}]}",
     "two A sets at the name"},
    {"{\"rrsets\": [], \"serial\": 99999999999999999999999}", "an integer over 64 bits"},
    {"{\"rrsets\": [], \"x\": \"\xff\"}", "a string that is not UTF-8"},
};

static void test_malformed(void)
{
	char *big, *deep;
	size_t depth = 100000;

	for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
		got.n = 3;
		ttl = 3;
		is(read_json(malformed[i].json, "www.example.test", AF_INET), KITH_EMALFORMED,
		   malformed[i].what);
		if (got.n || ttl)
			ok(0, "nothing kept");
	}
	is(dns_pdns_read(NULL, 0, "www.example.test", AF_INET, &got, &ttl), KITH_EMALFORMED,
	   "no answer");

	big = malloc(DNS_PDNS_ANSWER_MAX + 1);
	if (!big)
		abort();
	memset(big, ' ', DNS_PDNS_ANSWER_MAX + 1);
	memcpy(big, "{\"rrsets\": []}", 14);
	is(dns_pdns_read(big, DNS_PDNS_ANSWER_MAX, "www.example.test", AF_INET, &got, &ttl), 0,
	   "DNS_PDNS_ANSWER_MAX bytes are read");
	is(dns_pdns_read(big, DNS_PDNS_ANSWER_MAX + 1, "www.example.test", AF_INET, &got, &ttl),
	   KITH_ETOOBIG, "one more byte is refused");
	free(big);

	deep = malloc(depth);
	if (!deep)
		abort();
	memset(deep, '[', depth);
	is(dns_pdns_read(deep, depth, "www.example.test", AF_INET, &got, &ttl), KITH_EMALFORMED,
	   "100000 nested arrays");
	free(deep);

	is(read_json(zone_json, "www..example.test", AF_INET), KITH_EVALUE, "a bad name");
	is(read_json(zone_json, "www.example.test/", AF_INET), KITH_EVALUE, "a bad character");
	is(read_json(zone_json, NULL, AF_INET), KITH_EVALUE, "no name");
	is(read_json(zone_json, "www.example.test", AF_UNIX), KITH_EVALUE, "a bad family");
	is(dns_pdns_read(zone_json, strlen(zone_json), "www.example.test", AF_INET, NULL, &ttl),
	   KITH_EVALUE, "no out");
}

/* Parses body and returns its single rrset after checking the envelope. */
static json_t *rrset_of(json_t **root, const char *body, size_t len)
{
	json_t *rrsets;

	*root = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
	rrsets = json_object_get(*root, "rrsets");
	if (!ok(json_is_object(*root) && json_object_size(*root) == 1 &&
	            json_array_size(rrsets) == 1 && strlen(body) == len,
	        "a JSON object of one rrset, its length right"))
		return NULL;
	return json_array_get(rrsets, 0);
}

static const char *str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "(none)";
}

static void test_replace(void)
{
	struct dns_addrs to = {.family = AF_INET, .n = 2};
	json_t *root, *set, *r;
	char *body = NULL;
	size_t len;

	inet_pton(AF_INET, "127.0.0.3", to.addr[0]);
	inet_pton(AF_INET, "192.0.2.10", to.addr[1]);
	is(dns_pdns_replace(&body, &len, "www.example.test", &to, 60), 0, "A replace body");
	if ((set = rrset_of(&root, body, len))) {
		ok(json_object_size(set) == 5, "five keys");
		ok(!strcmp(str(set, "name"), "www.example.test."), "name with its dot");
		ok(!strcmp(str(set, "type"), "A"), "type A");
		ok(!strcmp(str(set, "changetype"), "REPLACE"), "changetype REPLACE");
		is(json_integer_value(json_object_get(set, "ttl")), 60, "ttl");
		r = json_object_get(set, "records");
		is(json_array_size(r), 2, "two records");
		ok(!strcmp(str(json_array_get(r, 0), "content"), "127.0.0.3") &&
		       !strcmp(str(json_array_get(r, 1), "content"), "192.0.2.10"),
		   "contents");
		ok(json_is_false(json_object_get(json_array_get(r, 0), "disabled")) &&
		       json_is_false(json_object_get(json_array_get(r, 1), "disabled")) &&
		       json_object_size(json_array_get(r, 0)) == 2,
		   "enabled");
	}
	json_decref(root);
	is(dns_pdns_read(body, len, "www.example.test", AF_INET, &got, &ttl), 0,
	   "read back as a zone");
	ok(got.n == 2 && has4("127.0.0.3") && has4("192.0.2.10") && ttl == 60, "same set");
	free(body);

	to.n = 1;
	is(dns_pdns_replace(&body, &len, "www.example.test.", &to, 60), 0, "one address");
	ok(!strcmp(body, "{\"rrsets\":[{\"name\":\"www.example.test.\",\"type\":\"A\",\"ttl\":60,"
	                 "\"changetype\":\"REPLACE\",\"records\":[{\"content\":\"127.0.0.3\","
	                 "\"disabled\":false}]}]}"),
	   "compact, as PowerDNS's documentation writes it");
	free(body);

	to.family = AF_INET6;
	inet_pton(AF_INET6, "2001:db8::1", to.addr[0]);
	is(dns_pdns_replace(&body, &len, "WWW.example.test", &to, DNS_TTL_MAX), 0, "AAAA body");
	if ((set = rrset_of(&root, body, len))) {
		ok(!strcmp(str(set, "type"), "AAAA") &&
		       !strcmp(str(set, "name"), "WWW.example.test."),
		   "type AAAA, the name as given");
		ok(!strcmp(str(json_array_get(json_object_get(set, "records"), 0), "content"),
		           "2001:db8::1"),
		   "address text");
		is(json_integer_value(json_object_get(set, "ttl")), DNS_TTL_MAX, "largest TTL");
	}
	json_decref(root);
	free(body);

	to.n = 0;
	is(dns_pdns_replace(&body, &len, "www.example.test", &to, 60), 0, "delete body");
	if ((set = rrset_of(&root, body, len))) {
		ok(json_object_size(set) == 3, "three keys");
		ok(!strcmp(str(set, "name"), "www.example.test.") &&
		       !strcmp(str(set, "type"), "AAAA") &&
		       !strcmp(str(set, "changetype"), "DELETE"),
		   "name, type, DELETE");
	}
	json_decref(root);
	free(body);
}

static void test_replace_refused(void)
{
	struct dns_addrs to = {.family = AF_INET, .n = 1};
	char *body = (char *)"x";
	size_t len = 9;

	is(dns_pdns_replace(&body, &len, "www..example.test", &to, 60), KITH_EVALUE, "bad name");
	ok(body == NULL && len == 0, "no body");
	is(dns_pdns_replace(&body, &len, NULL, &to, 60), KITH_EVALUE, "no name");
	is(dns_pdns_replace(&body, &len, "www.example.test", &to, DNS_TTL_MAX + 1), KITH_EVALUE,
	   "TTL over 31 bits");
	to.family = AF_UNIX;
	is(dns_pdns_replace(&body, &len, "www.example.test", &to, 60), KITH_EVALUE, "bad family");
	to.family = AF_INET;
	to.n = DNS_ADDRS_MAX + 1;
	is(dns_pdns_replace(&body, &len, "www.example.test", &to, 60), KITH_EVALUE, "17 addresses");
	to.n = 2;
	is(dns_pdns_replace(&body, &len, "www.example.test", &to, 60), KITH_EVALUE,
	   "an address twice");
	is(dns_pdns_replace(&body, &len, "www.example.test", NULL, 60), KITH_EVALUE, "no set");
	is(dns_pdns_replace(NULL, &len, "www.example.test", &to, 60), KITH_EVALUE, "no out");
}

static void test_txt(void)
{
	char text[DNS_TXT_MAX + 2], *body = NULL;
	json_t *root, *set, *r;
	size_t len;

	is(dns_pdns_txt(&body, &len, "_kith-test.example.test", "kith dns test abc", 60), 0,
	   "TXT body");
	if ((set = rrset_of(&root, body, len))) {
		ok(!strcmp(str(set, "name"), "_kith-test.example.test.") &&
		       !strcmp(str(set, "type"), "TXT") &&
		       !strcmp(str(set, "changetype"), "REPLACE"),
		   "name, type TXT, REPLACE");
		is(json_integer_value(json_object_get(set, "ttl")), 60, "ttl");
		r = json_object_get(set, "records");
		ok(json_array_size(r) == 1 &&
		       !strcmp(str(json_array_get(r, 0), "content"), "\"kith dns test abc\"") &&
		       json_is_false(json_object_get(json_array_get(r, 0), "disabled")),
		   "content in zone-file quotes, enabled");
	}
	json_decref(root);
	free(body);

	is(dns_pdns_txt(&body, &len, "_kith-test.example.test", "say \"hi\" \\o/", 60), 0,
	   "quote and backslash");
	if ((set = rrset_of(&root, body, len)))
		ok(!strcmp(str(json_array_get(json_object_get(set, "records"), 0), "content"),
		           "\"say \\\"hi\\\" \\\\o/\""),
		   "escaped as zone-file syntax wants");
	json_decref(root);
	free(body);

	memset(text, '"', DNS_TXT_MAX);
	text[DNS_TXT_MAX] = '\0';
	is(dns_pdns_txt(&body, &len, "_kith-test.example.test", text, 60), 0,
	   "255 quotes, all escaped");
	if ((set = rrset_of(&root, body, len)))
		is(strlen(str(json_array_get(json_object_get(set, "records"), 0), "content")),
		   2 + 2 * DNS_TXT_MAX, "content length");
	json_decref(root);
	free(body);

	is(dns_pdns_txt(&body, &len, "_kith-test.example.test", NULL, 60), 0, "TXT delete");
	if ((set = rrset_of(&root, body, len)))
		ok(json_object_size(set) == 3 && !strcmp(str(set, "type"), "TXT") &&
		       !strcmp(str(set, "changetype"), "DELETE"),
		   "DELETE of the TXT set");
	json_decref(root);
	free(body);

	text[DNS_TXT_MAX] = 'x';
	text[DNS_TXT_MAX + 1] = '\0';
	is(dns_pdns_txt(&body, &len, "_kith-test.example.test", text, 60), KITH_EVALUE,
	   "256 bytes");
	ok(body == NULL, "no body");
	is(dns_pdns_txt(&body, &len, "_kith-test.example.test", "a\nb", 60), KITH_EVALUE,
	   "a control character");
	is(dns_pdns_txt(&body, &len, "_kith-test.example.test", "caf\xc3\xa9", 60), KITH_EVALUE,
	   "UTF-8");
	is(dns_pdns_txt(&body, &len, "_kith test.example.test", "x", 60), KITH_EVALUE, "bad name");
	is(dns_pdns_txt(&body, &len, "_kith-test.example.test", "x", DNS_TTL_MAX + 1), KITH_EVALUE,
	   "TTL over 31 bits");
}

static char why[DNS_WHY_MAX];

static bool printable(const char *s)
{
	for (; *s; s++)
		if (*s < ' ' || *s > '~')
			return false;
	return true;
}

/* dns_pdns_status() on body, expecting result r and a sentence holding
 * each of the (up to two) fragments. */
static void status(long code, const char *body, enum dns_result r, const char *a, const char *b,
                   const char *what)
{
	enum dns_result got_r =
	    dns_pdns_status(code, body, body ? strlen(body) : 0, "example.test", why, sizeof(why));

	if (!ok(got_r == r && printable(why) && strstr(why, a) && (!b || strstr(why, b)) &&
	            (r == DNS_RESULT_OK || strstr(why, "example.test")),
	        what))
		printf("#   result %s, why \"%s\"\n", dns_result_name(got_r), why);
}

static void test_status(void)
{
	char body[2000], small[24];

	status(200, "{}", DNS_RESULT_OK, "", NULL, "200");
	ok(why[0] == '\0', "no sentence");
	status(204, "", DNS_RESULT_OK, "", NULL, "204 No Content");
	status(401, "Unauthorized", DNS_RESULT_REFUSED,
	       "the PowerDNS API refuses the token for zone example.test (HTTP 401): check token "
	       "(its api-key)",
	       NULL, "401");
	status(403, "{\"error\": \"Forbidden\"}", DNS_RESULT_REFUSED, "(HTTP 403)",
	       "(PowerDNS says: Forbidden)", "403 with an error");
	status(404, "Not Found", DNS_RESULT_NOTZONE,
	       "PowerDNS does not serve zone example.test under the credential's server_id (or "
	       "the url is not its API)",
	       "check the zone, server_id and url", "404");
	status(422,
	       "{\"error\": \"RRset www.example.test. IN CNAME: Conflicts with pre-existing "
	       "RRset\"}",
	       DNS_RESULT_OTHER,
	       "PowerDNS refused the change to zone example.test: RRset www.example.test. IN "
	       "CNAME: Conflicts with pre-existing RRset",
	       NULL, "422 quotes its error");
	status(422, "{\"error\": \"bad\\n\\u00e9\\u0007x\"}", DNS_RESULT_OTHER, ": bad????x", NULL,
	       "422: control and UTF-8 bytes made '?'");
	status(422, "not json", DNS_RESULT_OTHER, "(HTTP 422): see its log", NULL,
	       "422 without an error");
	status(422, "{\"error\": 5}", DNS_RESULT_OTHER, "(HTTP 422)", NULL, "422, error a number");
	status(422, "{\"error\": \"a\", \"error\": \"b\"}", DNS_RESULT_OTHER, "(HTTP 422)", NULL,
	       "422, error twice");
	status(500, "{\"error\": \"Backend error\"}", DNS_RESULT_OTHER,
	       "PowerDNS failed (HTTP 500) on zone example.test (PowerDNS says: Backend error): "
	       "see its log",
	       NULL, "500");
	status(503, NULL, DNS_RESULT_OTHER, "PowerDNS failed (HTTP 503)", NULL, "503, no body");
	status(301, "", DNS_RESULT_OTHER, "redirects (HTTP 301)", "kith follows no redirect",
	       "301");
	status(400, "Bad Request", DNS_RESULT_OTHER, "could not read kith's request", "(HTTP 400)",
	       "400");
	status(418, "", DNS_RESULT_OTHER, "answered HTTP 418", "is url its API?", "418");
	status(101, "", DNS_RESULT_OTHER, "answered HTTP 101", NULL, "101");
	status(0, "", DNS_RESULT_OTHER, "no valid HTTP status (0)", NULL, "0");
	status(-1, "", DNS_RESULT_OTHER, "no valid HTTP status (-1)", NULL, "-1");
	status(1000, "", DNS_RESULT_OTHER, "no valid HTTP status (1000)", NULL, "1000");

	snprintf(body, sizeof(body), "{\"error\": \"%01500d\"}", 7);
	status(422, body, DNS_RESULT_OTHER, "0000...", NULL, "a long error is cut, with \"...\"");
	ok(strlen(why) < 400 && strlen(why) > 300, "to a few hundred bytes");

	is(dns_pdns_status(422, "{\"error\": \"x\"}", 14, "example.test", small, sizeof(small)),
	   DNS_RESULT_OTHER, "a small why");
	ok(strlen(small) == sizeof(small) - 1, "cut to fit");
	is(dns_pdns_status(401, "", 0, "example.test", NULL, 0), DNS_RESULT_REFUSED, "no why");
	is(dns_pdns_status(404, NULL, 0, NULL, why, sizeof(why)), DNS_RESULT_NOTZONE, "no zone");
	ok(printable(why) && why[0], "still a sentence");
	dns_pdns_status(500, NULL, 0, "bad\nzone", why, sizeof(why));
	ok(printable(why) && strstr(why, "zone bad?zone"), "a zone made printable");
}

int main(void)
{
	test_url();
	test_read();
	test_malformed();
	test_replace();
	test_replace_refused();
	test_txt();
	test_status();
	return tap_done();
}
