/* deSEC's API (dns/desec.c): the URLs from a credential, the reading of
 * RRset and domain objects shaped as deSEC's documentation shows them
 * (desec.readthedocs.io, dns/rrsets and dns/domains) and of everything
 * that is not, the bulk PATCH bodies read back with jansson, the sentence
 * for every kind of HTTP status (error bodies as Django REST framework,
 * which deSEC runs, writes them), and the wait after throttling. No deSEC
 * server is involved: these are recorded answers. */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "dns/desec.h"
#include "proto/error.h"
#include "tap.h"

#define TOKEN "4pnk7u-NHvrEkFzrhFDRTjGFyX_S"
#define ZONE "example.test"
#define WWW "www.example.test"

/* The GET of www's A set, as the documentation's RRset object. */
static const char www_a[] =
    "{\n    \"created\": \"2019-09-18T16:32:16.510368Z\",\n    \"domain\": \"example.test\",\n"
    "    \"subname\": \"www\",\n    \"name\": \"www.example.test.\",\n    \"type\": \"A\",\n"
    "    \"records\": [\n        \"127.0.0.1\",\n        \"127.0.0.2\"\n    ],\n"
    "    \"ttl\": 3600,\n    \"touched\": \"2020-04-06T09:24:09.987436Z\"\n}";

/* The apex's AAAA set. */
static const char apex_aaaa[] =
    "{\"created\": \"2019-09-18T16:32:16.510368Z\", \"domain\": \"example.test\", \"subname\": "
    "\"\", \"name\": \"example.test.\", \"type\": \"AAAA\", \"records\": [\"2001:db8::1\", "
    "\"2001:db8::2\"], \"ttl\": 86400, \"touched\": \"2020-04-06T09:24:09.987436Z\"}";

/* The GET of the domain, as the documentation's domain object. */
static const char domain_json[] =
    "{\n    \"created\": \"2018-09-18T16:36:16.510368Z\",\n    \"keys\": [\n        {\n"
    "            \"dnskey\": \"257 3 13 WFRl60...\",\n            \"ds\": [\n"
    "                \"6006 13 2 f34b75...\",\n                \"6006 13 4 2fdcf8...\"\n"
    "            ],\n            \"flags\": 257,\n            \"keytype\": \"csk\",\n"
    "            \"managed\": true\n        }\n    ],\n    \"minimum_ttl\": 3600,\n"
    "    \"name\": \"example.test\",\n    \"published\": \"2018-09-18T17:21:38.348112Z\",\n"
    "    \"touched\": \"2018-09-18T17:21:38.348112Z\"\n}";

static struct dns_addrs got;
static uint32_t ttl;

static int read_json(const char *json, const char *name, int family)
{
	return dns_desec_read(json, strlen(json), ZONE, name, family, &got, &ttl);
}

static bool has(int family, const char *text)
{
	uint8_t a[16];

	inet_pton(family, text, a);
	for (size_t i = 0; i < got.n; i++)
		if (!memcmp(got.addr[i], a, family == AF_INET ? 4 : 16))
			return true;
	return false;
}

/* An A set at www of n records 192.0.2.i, record `extra` appended raw
 * (NULL for none). */
static char *a_set(unsigned n, const char *extra)
{
	static char buf[8192];
	size_t at = (size_t)snprintf(buf, sizeof(buf),
	                             "{\"domain\": \"example.test\", \"subname\": \"www\", "
	                             "\"name\": \"www.example.test.\", \"type\": \"A\", "
	                             "\"ttl\": 3600, \"records\": [");

	for (unsigned i = 0; i < n; i++)
		at += (size_t)snprintf(buf + at, sizeof(buf) - at, "%s\"192.0.2.%u\"",
		                       i ? ", " : "", i + 1);
	if (extra)
		at += (size_t)snprintf(buf + at, sizeof(buf) - at, "%s%s", n ? ", " : "", extra);
	snprintf(buf + at, sizeof(buf) - at, "]}");
	return buf;
}

static struct dns_cred cred;

static void test_url(void)
{
	static const char text[] = "provider = desec\ntoken = " TOKEN "\n";
	char url[DNS_DESEC_URL_MAX], why[200];
	const char *want = "https://desec.io/api/v1/domains/example.test/rrsets/www/A/";

	is(dns_cred_parse(&cred, text, strlen(text), why, sizeof(why)), 0, "a desec credential");
	is(dns_desec_rrset_url(url, sizeof(url), &cred, ZONE, WWW, AF_INET), 0, "set URL");
	ok(!strcmp(url, want), "the default url, the subname, the type, a final '/'");
	ok(!strstr(url, TOKEN), "no token in the URL");
	is(dns_desec_rrset_url(url, sizeof(url), &cred, "Example.TEST.", "WWW.example.test.",
	                       AF_INET6),
	   0, "names in capitals, with final dots");
	ok(!strcmp(url, "https://desec.io/api/v1/domains/example.test/rrsets/www/AAAA/"),
	   "lower case, no dots, AAAA");
	is(dns_desec_rrset_url(url, sizeof(url), &cred, ZONE, ZONE, AF_INET), 0, "the apex");
	ok(!strcmp(url, "https://desec.io/api/v1/domains/example.test/rrsets/@/A/"),
	   "named \"@\", not an empty segment");
	is(dns_desec_rrset_url(url, sizeof(url), &cred, ZONE, "_kith-test.a.b.example.test",
	                       AF_INET),
	   0, "a subname of several labels");
	ok(!strcmp(url, "https://desec.io/api/v1/domains/example.test/rrsets/_kith-test.a.b/A/"),
	   "kept whole");
	is(dns_desec_domain_url(url, sizeof(url), &cred, "EXAMPLE.test"), 0, "domain URL");
	ok(!strcmp(url, "https://desec.io/api/v1/domains/example.test/"), "the domain's");
	is(dns_desec_rrsets_url(url, sizeof(url), &cred, ZONE), 0, "bulk URL");
	ok(!strcmp(url, "https://desec.io/api/v1/domains/example.test/rrsets/"), "its rrsets/");

	is(dns_desec_rrset_url(url, strlen(want) + 1, &cred, ZONE, WWW, AF_INET), 0, "exact fit");
	is(dns_desec_rrset_url(url, strlen(want), &cred, ZONE, WWW, AF_INET), KITH_ETOOBIG,
	   "one byte short");
	ok(url[0] == '\0', "nothing left in a short buffer");
	is(dns_desec_domain_url(NULL, 0, &cred, ZONE), KITH_EVALUE, "no buffer");

	is(dns_desec_rrset_url(url, sizeof(url), &cred, ZONE, "www.example.org", AF_INET),
	   KITH_EVALUE, "a name outside the zone");
	ok(url[0] == '\0', "no URL");
	is(dns_desec_rrset_url(url, sizeof(url), &cred, ZONE, "wwwexample.test", AF_INET),
	   KITH_EVALUE, "a name that only ends like the zone");
	is(dns_desec_rrset_url(url, sizeof(url), &cred, "www.example.test", ZONE, AF_INET),
	   KITH_EVALUE, "the zone's parent");
	is(dns_desec_rrset_url(url, sizeof(url), &cred, ZONE, WWW, AF_UNIX), KITH_EVALUE,
	   "a bad family");
	is(dns_desec_rrset_url(url, sizeof(url), &cred, ZONE, "*.example.test", AF_INET),
	   KITH_EVALUE, "a wildcard");
	is(dns_desec_rrset_url(url, sizeof(url), &cred, ZONE, NULL, AF_INET), KITH_EVALUE,
	   "no name");
	is(dns_desec_domain_url(url, sizeof(url), &cred, "bad..zone"), KITH_EVALUE, "a bad zone");
	is(dns_desec_domain_url(url, sizeof(url), &cred, "a/b"), KITH_EVALUE, "a zone with '/'");

	snprintf(cred.url, sizeof(cred.url), "http://127.0.0.1:8000/api/v1//");
	is(dns_desec_domain_url(url, sizeof(url), &cred, ZONE), 0, "a hand-filled url");
	ok(!strcmp(url, "http://127.0.0.1:8000/api/v1/domains/example.test/"), "slashes dropped");
	snprintf(cred.url, sizeof(cred.url), "http://a b");
	is(dns_desec_domain_url(url, sizeof(url), &cred, ZONE), KITH_EVALUE, "url with a space");
	snprintf(cred.url, sizeof(cred.url), "/");
	is(dns_desec_domain_url(url, sizeof(url), &cred, ZONE), KITH_EVALUE, "empty url");
	snprintf(cred.url, sizeof(cred.url), "%s", DNS_CRED_DESEC_URL);
	cred.provider = DNS_PROVIDER_PDNS;
	is(dns_desec_domain_url(url, sizeof(url), &cred, ZONE), KITH_EVALUE, "a pdns credential");
	cred.provider = DNS_PROVIDER_DESEC;
	is(dns_desec_rrsets_url(url, sizeof(url), NULL, ZONE), KITH_EVALUE, "no credential");
}

static void test_read(void)
{
	is(read_json(www_a, WWW, AF_INET), 0, "the documentation's A set");
	ok(got.family == AF_INET && got.n == 2 && has(AF_INET, "127.0.0.1") &&
	       has(AF_INET, "127.0.0.2"),
	   "its two addresses");
	is(ttl, 3600, "its TTL");
	is(read_json(www_a, "WWW.Example.TEST.", AF_INET), 0, "name in capitals, final dot");
	is(got.n, 2, "same set");
	is(dns_desec_read(www_a, strlen(www_a), "EXAMPLE.test.", WWW, AF_INET, &got, &ttl), 0,
	   "zone in capitals");

	is(read_json(apex_aaaa, ZONE, AF_INET6), 0, "an AAAA set at the apex");
	ok(got.family == AF_INET6 && got.n == 2 && has(AF_INET6, "2001:db8::1") &&
	       has(AF_INET6, "2001:db8::2") && ttl == 86400,
	   "its addresses and TTL");

	is(read_json(a_set(16, NULL), WWW, AF_INET), 0, "16 addresses");
	is(got.n, 16, "all of them");
	is(read_json(a_set(17, NULL), WWW, AF_INET), KITH_ETOOBIG, "17 addresses");
	ok(got.n == 0 && ttl == 0, "nothing kept");
	is(read_json(a_set(1, "\"192.0.2.1\""), WWW, AF_INET), 0, "an address twice");
	ok(got.n == 1, "read once");
	is(read_json(a_set(0, NULL), WWW, AF_INET), 0, "no records");
	ok(got.n == 0 && ttl == 3600, "no addresses, the TTL");
	is(read_json("{\"domain\": \"EXAMPLE.test\", \"subname\": \"WWW\", \"name\": "
	             "\"www.EXAMPLE.test.\", \"type\": \"a\", \"ttl\": 4294967295, \"records\": "
	             "[\"192.0.2.1\"], \"extra\": {\"nested\": [1, 2, {\"x\": null}]}}",
	             WWW, AF_INET),
	   0, "capitals, the largest TTL, an unknown key");
	ok(got.n == 1 && ttl == 4294967295u, "read");
}

/* Each of these must read as KITH_EMALFORMED for the A set at www. */
static const struct {
	const char *json, *what;
} malformed[] = {
    {"", "empty"},
    {"Not Found", "plain text"},
    {"<html><body>502 Bad Gateway</body></html>", "a proxy's HTML"},
    {"{\"detail\": \"Not found.\"}", "an error object"},
    {"[{\"domain\": \"example.test\", \"subname\": \"www\", \"name\": \"www.example.test.\", "
     "\"type\": \"A\", \"ttl\": 3600, \"records\": [\"192.0.2.1\"]}]",
     "a list of sets (the rrsets/ endpoint's answer)"},
    {"null", "null"},
    {"\"192.0.2.1\"", "a string"},
    {"{\"domain\": \"example.test\", \"subname\": \"www\", \"name\": \"www.example.test.\", "
     "\"type\": \"A\", \"ttl\": 3600, \"records\": []",
     "cut short"},
    {"{\"domain\": \"example.test\", \"subname\": \"www\", \"name\": \"www.example.test.\", "
     "\"type\": \"A\", \"ttl\": 3600, \"records\": []} {}",
     "trailing bytes"},
    {"{\"domain\": \"example.test\", \"subname\": \"www\", \"name\": \"www.example.test.\", "
     "\"type\": \"A\", \"ttl\": 3600, \"ttl\": 60, \"records\": []}",
     "a key twice"},
    {"{\"subname\": \"www\", \"name\": \"www.example.test.\", \"type\": \"A\", \"ttl\": 3600, "
     "\"records\": []}",
     "no domain"},
    {"{\"domain\": \"example.test\", \"name\": \"www.example.test.\", \"type\": \"A\", "
     "\"ttl\": 3600, \"records\": []}",
     "no subname"},
    {"{\"domain\": \"example.test\", \"subname\": \"www\", \"type\": \"A\", \"ttl\": 3600, "
     "\"records\": []}",
     "no name"},
    {"{\"domain\": \"example.test\", \"subname\": \"www\", \"name\": \"www.example.test.\", "
     "\"ttl\": 3600, \"records\": []}",
     "no type"},
    {"{\"domain\": \"example.test\", \"subname\": \"www\", \"name\": \"www.example.test.\", "
     "\"type\": \"A\", \"records\": []}",
     "no ttl"},
    {"{\"domain\": \"example.test\", \"subname\": \"www\", \"name\": \"www.example.test.\", "
     "\"type\": \"A\", \"ttl\": 3600}",
     "no records"},
    {"{\"domain\": \"example.org\", \"subname\": \"www\", \"name\": \"www.example.test.\", "
     "\"type\": \"A\", \"ttl\": 3600, \"records\": []}",
     "another domain"},
    {"{\"domain\": \"example.test\", \"subname\": \"mail\", \"name\": \"www.example.test.\", "
     "\"type\": \"A\", \"ttl\": 3600, \"records\": []}",
     "another subname"},
    {"{\"domain\": \"example.test\", \"subname\": \"www\", \"name\": \"www.example.test\", "
     "\"type\": \"A\", \"ttl\": 3600, \"records\": []}",
     "a name without its final dot"},
    {"{\"domain\": \"example.test\", \"subname\": \"www\", \"name\": \"www.example.test.\", "
     "\"type\": \"AAAA\", \"ttl\": 3600, \"records\": []}",
     "the AAAA set"},
    {"{\"domain\": \"example.test\", \"subname\": \"www\", \"name\": \"www.example.test.\", "
     "\"type\": \"CNAME\", \"ttl\": 3600, \"records\": [\"example.test.\"]}",
     "a CNAME"},
    {"{\"domain\": \"example.test\", \"subname\": [\"www\"], \"name\": \"www.example.test.\", "
     "\"type\": \"A\", \"ttl\": 3600, \"records\": []}",
     "subname an array"},
    {"{\"domain\": \"example.test\", \"subname\": \"www\", \"name\": \"www.example.test.\", "
     "\"type\": 1, \"ttl\": 3600, \"records\": []}",
     "type a number"},
    {"{\"domain\": \"example.test\", \"subname\": \"www\", \"name\": \"www.example.test.\", "
     "\"type\": \"A\", \"ttl\": \"3600\", \"records\": []}",
     "ttl a string"},
    {"{\"domain\": \"example.test\", \"subname\": \"www\", \"name\": \"www.example.test.\", "
     "\"type\": \"A\", \"ttl\": null, \"records\": []}",
     "ttl null"},
    {"{\"domain\": \"example.test\", \"subname\": \"www\", \"name\": \"www.example.test.\", "
     "\"type\": \"A\", \"ttl\": -1, \"records\": []}",
     "a negative ttl"},
    {"{\"domain\": \"example.test\", \"subname\": \"www\", \"name\": \"www.example.test.\", "
     "\"type\": \"A\", \"ttl\": 4294967296, \"records\": []}",
     "a ttl over 32 bits"},
    {"{\"domain\": \"example.test\", \"subname\": \"www\", \"name\": \"www.example.test.\", "
     "\"type\": \"A\", \"ttl\": 3600.0, \"records\": []}",
     "a real ttl"},
    {"{\"domain\": \"example.test\", \"subname\": \"www\", \"name\": \"www.example.test.\", "
     "\"type\": \"A\", \"ttl\": 99999999999999999999999, \"records\": []}",
     "a ttl over 64 bits"},
    {"{\"domain\": \"example.test\", \"subname\": \"www\", \"name\": \"www.example.test.\", "
     "\"type\": \"A\", \"ttl\": 3600, \"records\": {\"0\": \"192.0.2.1\"}}",
     "records an object"},
    {"{\"domain\": \"example.test\", \"subname\": \"www\", \"name\": \"www.example.test.\", "
     "\"type\": \"A\", \"ttl\": 3600, \"records\": \"192.0.2.1\"}",
     "records a string"},
    {"{\"domain\": \"example.test\", \"subname\": \"www\", \"name\": \"www.example.test.\", "
     "\"type\": \"A\", \"ttl\": 3600, \"records\": [3221225985]}",
     "a record a number"},
    {"{\"domain\": \"example.test\", \"subname\": \"www\", \"name\": \"www.example.test.\", "
     "\"type\": \"A\", \"ttl\": 3600, \"records\": [[\"192.0.2.1\"]]}",
     "a record an array"},
    {"{\"domain\": \"example.test\", \"subname\": \"www\", \"name\": \"www.example.test.\", "
     "\"type\": \"A\", \"ttl\": 3600, \"records\": [{\"content\": \"192.0.2.1\"}]}",
     "a record an object (PowerDNS's shape)"},
    {"{\"domain\": \"example.test\", \"subname\": \"www\", \"name\": \"www.example.test.\", "
     "\"type\": \"A\", \"ttl\": 3600, \"records\": [null]}",
     "a record null"},
    {"{\"domain\": \"example.test\", \"subname\": \"www\", \"name\": \"www.example.test.\", "
     "\"type\": \"A\", \"ttl\": 3600, \"records\": [\"2001:db8::1\"]}",
     "an IPv6 address in an A set"},
    {"{\"domain\": \"example.test\", \"subname\": \"www\", \"name\": \"www.example.test.\", "
     "\"type\": \"A\", \"ttl\": 3600, \"records\": [\"127.1\"]}",
     "a short IPv4 form"},
    {"{\"domain\": \"example.test\", \"subname\": \"www\", \"name\": \"www.example.test.\", "
     "\"type\": \"A\", \"ttl\": 3600, \"records\": [\" 192.0.2.1\"]}",
     "an address after a space"},
    {"{\"domain\": \"example.test\", \"subname\": \"www\", \"name\": \"www.example.test.\", "
     "\"type\": \"A\", \"ttl\": 3600, \"records\": [\"192.0.2.1/32\"]}",
     "a prefix"},
    {"{\"domain\": \"example.test\", \"subname\": \"www\", \"name\": \"www.example.test.\", "
     "\"type\": \"A\", \"ttl\": 3600, \"records\": [\"www.example.org.\"]}",
     "a name as record"},
    {"{\"domain\": \"example.test\", \"subname\": \"www\", \"name\": \"www.example.test.\", "
     "\"type\": \"A\", \"ttl\": 3600, \"records\": [\"\"]}",
     "an empty record"},
    {"{\"domain\": \"example.test\", \"subname\": \"www\", \"name\": \"www.example.test.\", "
     "\"type\": \"A\", \"ttl\": 3600, \"records\": [\"192.0.2.1\\u0000\"]}",
     "a NUL in a record"},
    {"{\"domain\": \"example.test\", \"subname\": \"www\", \"name\": \"www.example.test.\", "
     "\"type\": \"A\", \"ttl\": 3600, \"records\": [], \"x\": \"\xff\"}",
     "a string that is not UTF-8"},
};

static void test_malformed(void)
{
	char *big, *deep;
	size_t depth = 100000;

	for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
		got.n = 3;
		ttl = 3;
		is(read_json(malformed[i].json, WWW, AF_INET), KITH_EMALFORMED, malformed[i].what);
		if (got.n || ttl)
			ok(0, "nothing kept");
	}
	is(read_json(a_set(3, "\"not an address\""), WWW, AF_INET), KITH_EMALFORMED,
	   "a record that is not an address after good ones");
	ok(got.n == 0 && ttl == 0, "nothing kept");
	is(read_json(a_set(16, "\"x\""), WWW, AF_INET), KITH_EMALFORMED,
	   "16 addresses, then a record that is not one");
	is(dns_desec_read(NULL, 0, ZONE, WWW, AF_INET, &got, &ttl), KITH_EMALFORMED, "no answer");

	big = malloc(DNS_DESEC_ANSWER_MAX + 1);
	if (!big)
		abort();
	memset(big, ' ', DNS_DESEC_ANSWER_MAX + 1);
	memcpy(big, www_a, strlen(www_a));
	is(dns_desec_read(big, DNS_DESEC_ANSWER_MAX, ZONE, WWW, AF_INET, &got, &ttl), 0,
	   "DNS_DESEC_ANSWER_MAX bytes are read");
	is(dns_desec_read(big, DNS_DESEC_ANSWER_MAX + 1, ZONE, WWW, AF_INET, &got, &ttl),
	   KITH_ETOOBIG, "one more byte is refused");
	ok(got.n == 0 && ttl == 0, "nothing kept");
	is(dns_desec_read_domain(big, DNS_DESEC_ANSWER_MAX + 1, ZONE, &ttl), KITH_ETOOBIG,
	   "a domain answer too");
	free(big);

	deep = malloc(depth);
	if (!deep)
		abort();
	memset(deep, '[', depth);
	is(dns_desec_read(deep, depth, ZONE, WWW, AF_INET, &got, &ttl), KITH_EMALFORMED,
	   "100000 nested arrays");
	memset(deep, '{', depth);
	is(dns_desec_read_domain(deep, depth, ZONE, &ttl), KITH_EMALFORMED,
	   "100000 open objects, as a domain");
	free(deep);

	is(read_json(www_a, "www..example.test", AF_INET), KITH_EVALUE, "a bad name");
	is(read_json(www_a, "www.example.org", AF_INET), KITH_EVALUE, "a name outside the zone");
	is(read_json(www_a, NULL, AF_INET), KITH_EVALUE, "no name");
	is(read_json(www_a, WWW, AF_UNIX), KITH_EVALUE, "a bad family");
	is(dns_desec_read(www_a, strlen(www_a), NULL, WWW, AF_INET, &got, &ttl), KITH_EVALUE,
	   "no zone");
	is(dns_desec_read(www_a, strlen(www_a), ZONE, WWW, AF_INET, NULL, &ttl), KITH_EVALUE,
	   "no out");
	is(dns_desec_read(www_a, strlen(www_a), ZONE, WWW, AF_INET, &got, NULL), KITH_EVALUE,
	   "no ttl");
}

static int read_domain(const char *json)
{
	return dns_desec_read_domain(json, strlen(json), ZONE, &ttl);
}

static void test_domain(void)
{
	is(read_domain(domain_json), 0, "the documentation's domain");
	is(ttl, 3600, "its minimum TTL");
	is(read_domain("{\"name\": \"EXAMPLE.test\", \"minimum_ttl\": 60}"), 0,
	   "in capitals, a lowered minimum");
	is(ttl, 60, "60");
	is(dns_desec_read_domain(domain_json, strlen(domain_json), "Example.Test.", &ttl), 0,
	   "the zone in capitals with its dot");
	is(read_domain("{\"name\": \"example.test\", \"minimum_ttl\": 604800}"), 0,
	   "the largest minimum");

	static const char *const bad[][2] = {
	    {"", "empty"},
	    {"[]", "an array (the domains/ list)"},
	    {"{\"detail\": \"Not found.\"}", "an error"},
	    {"{\"name\": \"example.test\"}", "no minimum_ttl"},
	    {"{\"minimum_ttl\": 3600}", "no name"},
	    {"{\"name\": \"example.org\", \"minimum_ttl\": 3600}", "another domain"},
	    {"{\"name\": \"sub.example.test\", \"minimum_ttl\": 3600}", "a subdomain"},
	    {"{\"name\": \"example.test.\", \"minimum_ttl\": 3600}", "the name with a dot"},
	    {"{\"name\": null, \"minimum_ttl\": 3600}", "name null"},
	    {"{\"name\": \"example.test\", \"minimum_ttl\": \"3600\"}", "minimum_ttl a string"},
	    {"{\"name\": \"example.test\", \"minimum_ttl\": 0}", "minimum_ttl 0"},
	    {"{\"name\": \"example.test\", \"minimum_ttl\": -3600}", "minimum_ttl negative"},
	    {"{\"name\": \"example.test\", \"minimum_ttl\": 604801}", "minimum_ttl over a week"},
	    {"{\"name\": \"example.test\", \"minimum_ttl\": 3600.5}", "minimum_ttl real"},
	    {"{\"name\": \"example.test\", \"minimum_ttl\": 3600, \"minimum_ttl\": 60}",
	     "minimum_ttl twice"},
	    {"{\"name\": \"example.test\", \"minimum_ttl\": 3600} x", "trailing bytes"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ttl = 7;
		is(read_domain(bad[i][0]), KITH_EMALFORMED, bad[i][1]);
		if (ttl)
			ok(0, "minimum_ttl 0 after an error");
	}
	is(dns_desec_read_domain(NULL, 0, ZONE, &ttl), KITH_EMALFORMED, "no answer");
	is(dns_desec_read_domain(domain_json, strlen(domain_json), "bad..zone", &ttl), KITH_EVALUE,
	   "a bad zone");
	is(dns_desec_read_domain(domain_json, strlen(domain_json), ZONE, NULL), KITH_EVALUE,
	   "no out");
}

/* Parses body and returns its single RRset after checking the envelope:
 * a JSON array of one object, its length right. */
static json_t *set_of(json_t **root, const char *body, size_t len)
{
	*root = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
	if (!ok(json_is_array(*root) && json_array_size(*root) == 1 &&
	            json_is_object(json_array_get(*root, 0)) && strlen(body) == len,
	        "a JSON array of one set, its length right"))
		return NULL;
	return json_array_get(*root, 0);
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
	is(dns_desec_replace(&body, &len, ZONE, WWW, &to, 3600), 0, "A replace body");
	if ((set = set_of(&root, body, len))) {
		ok(json_object_size(set) == 4, "four keys");
		ok(!strcmp(str(set, "subname"), "www") && !strcmp(str(set, "type"), "A"),
		   "subname www, type A");
		is(json_integer_value(json_object_get(set, "ttl")), 3600, "ttl");
		r = json_object_get(set, "records");
		ok(json_array_size(r) == 2 &&
		       !strcmp(json_string_value(json_array_get(r, 0)), "127.0.0.3") &&
		       !strcmp(json_string_value(json_array_get(r, 1)), "192.0.2.10"),
		   "records as text");
	}
	json_decref(root);
	free(body);

	to.n = 1;
	is(dns_desec_replace(&body, &len, "EXAMPLE.test.", "Www.Example.Test.", &to, 60), 0,
	   "one address, names in capitals");
	ok(!strcmp(body, "[{\"subname\":\"www\",\"type\":\"A\",\"ttl\":60,\"records\":"
	                 "[\"127.0.0.3\"]}]"),
	   "compact, in lower case, as deSEC's documentation writes it");
	free(body);

	to.family = AF_INET6;
	inet_pton(AF_INET6, "2001:db8:0:0::1", to.addr[0]);
	is(dns_desec_replace(&body, &len, ZONE, ZONE, &to, DNS_TTL_MAX), 0, "AAAA at the apex");
	ok(!strcmp(body, "[{\"subname\":\"\",\"type\":\"AAAA\",\"ttl\":2147483647,\"records\":"
	                 "[\"2001:db8::1\"]}]"),
	   "the empty subname (the bulk endpoint takes no \"@\"), the address canonical");
	free(body);

	to.n = 0;
	is(dns_desec_replace(&body, &len, ZONE, WWW, &to, 3600), 0, "delete body");
	ok(!strcmp(body, "[{\"subname\":\"www\",\"type\":\"AAAA\",\"records\":[]}]"),
	   "empty records, no ttl");
	free(body);
}

static void test_replace_refused(void)
{
	struct dns_addrs to = {.family = AF_INET, .n = 1};
	char *body = (char *)"x";
	size_t len = 9;

	is(dns_desec_replace(&body, &len, ZONE, "www..example.test", &to, 60), KITH_EVALUE,
	   "bad name");
	ok(body == NULL && len == 0, "no body");
	is(dns_desec_replace(&body, &len, ZONE, "www.example.org", &to, 60), KITH_EVALUE,
	   "a name outside the zone");
	is(dns_desec_replace(&body, &len, NULL, WWW, &to, 60), KITH_EVALUE, "no zone");
	is(dns_desec_replace(&body, &len, ZONE, NULL, &to, 60), KITH_EVALUE, "no name");
	is(dns_desec_replace(&body, &len, ZONE, WWW, &to, DNS_TTL_MAX + 1), KITH_EVALUE,
	   "TTL over 31 bits");
	to.family = AF_UNIX;
	is(dns_desec_replace(&body, &len, ZONE, WWW, &to, 60), KITH_EVALUE, "bad family");
	to.family = AF_INET;
	to.n = DNS_ADDRS_MAX + 1;
	is(dns_desec_replace(&body, &len, ZONE, WWW, &to, 60), KITH_EVALUE, "17 addresses");
	to.n = 2;
	is(dns_desec_replace(&body, &len, ZONE, WWW, &to, 60), KITH_EVALUE, "an address twice");
	is(dns_desec_replace(&body, &len, ZONE, WWW, NULL, 60), KITH_EVALUE, "no set");
	is(dns_desec_replace(NULL, &len, ZONE, WWW, &to, 60), KITH_EVALUE, "no out");
}

static void test_txt(void)
{
	char text[DNS_TXT_MAX + 2], *body = NULL;
	json_t *root, *set;
	size_t len;

	is(dns_desec_txt(&body, &len, ZONE, "_kith-test.example.test", "kith dns test abc", 3600),
	   0, "TXT body");
	ok(!strcmp(body, "[{\"subname\":\"_kith-test\",\"type\":\"TXT\",\"ttl\":3600,\"records\":"
	                 "[\"\\\"kith dns test abc\\\"\"]}]"),
	   "the record in zone-file quotes, as the documentation's TXT example");
	free(body);

	is(dns_desec_txt(&body, &len, ZONE, "_kith-test.example.test", "say \"hi\" \\o/", 3600), 0,
	   "quote and backslash");
	if ((set = set_of(&root, body, len)))
		ok(!strcmp(json_string_value(json_array_get(json_object_get(set, "records"), 0)),
		           "\"say \\\"hi\\\" \\\\o/\""),
		   "escaped as zone-file syntax wants");
	json_decref(root);
	free(body);

	memset(text, '"', DNS_TXT_MAX);
	text[DNS_TXT_MAX] = '\0';
	is(dns_desec_txt(&body, &len, ZONE, "_kith-test.example.test", text, 3600), 0,
	   "255 quotes, all escaped");
	if ((set = set_of(&root, body, len)))
		is(strlen(json_string_value(json_array_get(json_object_get(set, "records"), 0))),
		   2 + 2 * DNS_TXT_MAX, "record length");
	json_decref(root);
	free(body);

	is(dns_desec_txt(&body, &len, ZONE, "_kith-test.example.test", NULL, 3600), 0,
	   "TXT delete");
	ok(!strcmp(body, "[{\"subname\":\"_kith-test\",\"type\":\"TXT\",\"records\":[]}]"),
	   "empty records deletes the TXT set");
	free(body);

	text[DNS_TXT_MAX] = 'x';
	text[DNS_TXT_MAX + 1] = '\0';
	is(dns_desec_txt(&body, &len, ZONE, "_kith-test.example.test", text, 60), KITH_EVALUE,
	   "256 bytes");
	ok(body == NULL, "no body");
	is(dns_desec_txt(&body, &len, ZONE, "_kith-test.example.test", "a\nb", 60), KITH_EVALUE,
	   "a control character");
	is(dns_desec_txt(&body, &len, ZONE, "_kith-test.example.test", "caf\xc3\xa9", 60),
	   KITH_EVALUE, "UTF-8");
	is(dns_desec_txt(&body, &len, ZONE, "_kith test.example.test", "x", 60), KITH_EVALUE,
	   "bad name");
	is(dns_desec_txt(&body, &len, ZONE, "_kith-test.example.org", "x", 60), KITH_EVALUE,
	   "outside the zone");
	is(dns_desec_txt(&body, &len, ZONE, "_kith-test.example.test", "x", DNS_TTL_MAX + 1),
	   KITH_EVALUE, "TTL over 31 bits");
}

static char why[DNS_WHY_MAX];

static bool printable(const char *s)
{
	for (; *s; s++)
		if (*s < ' ' || *s > '~')
			return false;
	return true;
}

/* dns_desec_status() on body, expecting result r and a sentence holding
 * each of the (up to two) fragments. */
static void status(long code, const char *body, long retry_after, enum dns_result r, const char *a,
                   const char *b, const char *what)
{
	enum dns_result got_r = dns_desec_status(code, body, body ? strlen(body) : 0, retry_after,
	                                         ZONE, why, sizeof(why));

	if (!ok(got_r == r && printable(why) && strstr(why, a) && (!b || strstr(why, b)) &&
	            (r == DNS_RESULT_OK || strstr(why, ZONE)) && !strstr(why, TOKEN),
	        what))
		printf("#   result %s, why \"%s\"\n", dns_result_name(got_r), why);
}

static void test_status(void)
{
	char body[2000], small[24];

	status(200, www_a, 0, DNS_RESULT_OK, "", NULL, "200");
	ok(why[0] == '\0', "no sentence");
	status(201, "[]", 0, DNS_RESULT_OK, "", NULL, "201");
	status(204, "", 0, DNS_RESULT_OK, "", NULL, "204 No Content (a deletion)");
	status(401, "{\"detail\": \"Invalid token.\"}", 0, DNS_RESULT_REFUSED,
	       "deSEC refuses the token for zone example.test (HTTP 401) (deSEC says: Invalid "
	       "token.): check token",
	       NULL, "401: a bad token");
	status(401, "{\"detail\": \"Authentication credentials were not provided.\"}", 0,
	       DNS_RESULT_REFUSED, "(HTTP 401)", "were not provided", "401 without credentials");
	status(403, "{\"detail\": \"You do not have permission to perform this action.\"}", 0,
	       DNS_RESULT_REFUSED, "deSEC's token may not make this change in zone example.test",
	       "perm_write", "403: a token without the right");
	status(404, "{\"detail\": \"Not found.\"}", 0, DNS_RESULT_NOTZONE,
	       "deSEC has no domain example.test in the token's account (HTTP 404)",
	       "check the zone", "404: no such domain");
	status(400, "[{\"ttl\": [\"Ensure this value is greater than or equal to 3600.\"]}]", 0,
	       DNS_RESULT_OTHER,
	       "deSEC refuses a TTL under the minimum of zone example.test, 3600 seconds (HTTP "
	       "400)",
	       "--ttl) to at least 3600", "400: a TTL under the minimum, in a bulk answer");
	status(400, "{\"ttl\": [\"Ensure this value is greater than or equal to 300.\"]}", 0,
	       DNS_RESULT_OTHER, "minimum of zone example.test, 300 seconds", NULL,
	       "400: the same from the set's endpoint");
	status(400, "[{\"ttl\": [\"Ensure this value is less than or equal to 604800.\"]}]", 0,
	       DNS_RESULT_OTHER, "deSEC refuses a TTL over its maximum of 604800 seconds",
	       "lower the plan's TTL", "400: a TTL over the maximum");
	status(400,
	       "[{\"non_field_errors\": [\"Duplicate: records must be semantically unique\"]}]", 0,
	       DNS_RESULT_OTHER,
	       "deSEC refused the change to zone example.test (HTTP 400): Duplicate: records "
	       "must be semantically unique",
	       NULL, "400: a non-field error, quoted");
	status(400, "[{}, {\"records\": {\"0\": [\"Must be a string.\"]}}]", 0, DNS_RESULT_OTHER,
	       "(HTTP 400): records: Must be a string.", NULL,
	       "400: the first message found, with its field");
	status(400, "[{\"ttl\": [\"A valid integer is required.\"]}]", 0, DNS_RESULT_OTHER,
	       "(HTTP 400): ttl: A valid integer is required.", NULL,
	       "400: another ttl error is quoted");
	status(400,
	       "[{\"ttl\": [\"Ensure this value is greater than or equal to "
	       "99999999999.\"]}]",
	       0, DNS_RESULT_OTHER, "ttl: Ensure this value", NULL,
	       "400: a bound of 11 digits is quoted, not read");
	status(400, "Bad Request", 0, DNS_RESULT_OTHER,
	       "deSEC could not read kith's request for zone example.test (HTTP 400)",
	       "is url deSEC's API?", "400 without JSON");
	status(429, "{\"detail\": \"Request was throttled. Expected available in 2 seconds.\"}", 2,
	       DNS_RESULT_OTHER, "deSEC throttles requests for zone example.test (HTTP 429)",
	       "try again in 2 seconds", "429 with Retry-After");
	status(429, "", 0, DNS_RESULT_OTHER, "(HTTP 429)", "try again later",
	       "429 without Retry-After");
	status(500, "<h1>Server Error (500)</h1>", 0, DNS_RESULT_OTHER,
	       "deSEC failed (HTTP 500) on zone example.test: try again later", NULL,
	       "500 in HTML: not quoted");
	status(503, NULL, 0, DNS_RESULT_OTHER, "deSEC failed (HTTP 503)", NULL, "503, no body");
	status(301, "", 0, DNS_RESULT_OTHER, "redirects (HTTP 301)", "kith follows no redirect",
	       "301");
	status(418, "", 0, DNS_RESULT_OTHER, "answered HTTP 418", "is url deSEC's API?", "418");
	status(0, "", 0, DNS_RESULT_OTHER, "no valid HTTP status (0)", NULL, "0");
	status(-1, "", 0, DNS_RESULT_OTHER, "no valid HTTP status (-1)", NULL, "-1");

	status(400, "{\"detail\": \"bad\\n\\u00e9\\u0007x\"}", 0, DNS_RESULT_OTHER, ": bad????x",
	       NULL, "control and UTF-8 bytes made '?'");
	status(401, "{\"detail\": 5}", 0, DNS_RESULT_REFUSED, "(HTTP 401): check", NULL,
	       "detail a number: nothing quoted");
	status(401, "{\"detail\": \"a\", \"detail\": \"b\"}", 0, DNS_RESULT_REFUSED,
	       "(HTTP 401): check", NULL, "detail twice: nothing quoted");
	status(400, "[[[[[[[[[[\"deep\"]]]]]]]]]]", 0, DNS_RESULT_OTHER, "could not read", NULL,
	       "a message nested too deep is not looked for");
	snprintf(body, sizeof(body), "{\"detail\": \"%01500d\"}", 7);
	status(403, body, 0, DNS_RESULT_REFUSED, "0000...)", NULL,
	       "a long message is cut, with \"...\"");
	ok(strlen(why) < 600, "to a few hundred bytes");
	status(400, "{\"a_very_long_field_name_that_goes_on_and_on\": [\"x\"]}", 0,
	       DNS_RESULT_OTHER, "a_very_long_field_name_that_...: x", NULL, "a long field is cut");

	is(dns_desec_status(400, "{\"detail\": \"x\"}", 15, 0, ZONE, small, sizeof(small)),
	   DNS_RESULT_OTHER, "a small why");
	ok(strlen(small) == sizeof(small) - 1, "cut to fit");
	is(dns_desec_status(401, "", 0, 0, ZONE, NULL, 0), DNS_RESULT_REFUSED, "no why");
	is(dns_desec_status(404, NULL, 0, 0, NULL, why, sizeof(why)), DNS_RESULT_NOTZONE,
	   "no zone");
	ok(printable(why) && why[0], "still a sentence");
	dns_desec_status(500, NULL, 0, 0, "bad\nzone", why, sizeof(why));
	ok(printable(why) && strstr(why, "zone bad?zone"), "a zone made printable");
}

static void test_wait(void)
{
	is(dns_desec_wait_ms(429, 2), 2000, "429, Retry-After 2: 2 s");
	is(dns_desec_wait_ms(429, 0), 1000, "429 without Retry-After: 1 s");
	is(dns_desec_wait_ms(429, DNS_DESEC_WAIT_MAX), DNS_DESEC_WAIT_MAX * 1000,
	   "the longest wait");
	is(dns_desec_wait_ms(429, DNS_DESEC_WAIT_MAX + 1), 0, "longer: no retry");
	is(dns_desec_wait_ms(429, 3600), 0, "an hour: no retry");
	is(dns_desec_wait_ms(429, -1), 0, "a negative wait: no retry");
	is(dns_desec_wait_ms(503, 2), 0, "503 with Retry-After: no retry");
	is(dns_desec_wait_ms(200, 1), 0, "200: nothing to retry");
}

int main(void)
{
	test_url();
	test_read();
	test_malformed();
	test_domain();
	test_replace();
	test_replace_refused();
	test_txt();
	test_status();
	test_wait();
	dns_cred_wipe(&cred);
	return tap_done();
}
