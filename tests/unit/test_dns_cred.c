/* The credential of a dns:ZONE grant (dns/cred.c): the three providers
 * with their defaults, the syntax the admin may use, and for every error
 * the line it names and what it says to fix; a refused text leaves nothing
 * of a secret behind, in the struct or in the message. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "dns/cred.h"
#include "proto/error.h"
#include "tap.h"

/* 32 bytes, as tsig-keygen makes them. */
#define SECRET "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTEyMzQ="

static struct dns_cred cred;
static char why[512];

static int parse(const char *text)
{
	return dns_cred_parse(&cred, text, strlen(text), why, sizeof(why));
}

/* Parses text, expecting rc and a message that starts with want. */
static void refused(const char *text, int rc, const char *want, const char *what)
{
	int got = parse(text);
	int same = got == rc && strncmp(why, want, strlen(want)) == 0;

	if (!ok(same, what))
		printf("#   rc %d, why \"%s\", wanted \"%s\"\n", got, why, want);
}

static bool all_zero(const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

static void test_rfc2136(void)
{
	const struct sockaddr_in *v4 = (const struct sockaddr_in *)&cred.server;
	const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)&cred.server;
	uint8_t want6[16];

	is(parse("provider = rfc2136\nserver = 192.0.2.53:5353\nkey = kith-update\n"
	         "secret = " SECRET "\n"),
	   0, "rfc2136: accepted");
	is(cred.provider, DNS_PROVIDER_RFC2136, "provider");
	ok(v4->sin_family == AF_INET && ntohs(v4->sin_port) == 5353 &&
	       v4->sin_addr.s_addr == htonl(0xc0000235),
	   "IPv4 server and port");
	is(cred.server_len, sizeof(struct sockaddr_in), "IPv4 address length");
	ok(!strcmp(cred.key, "kith-update"), "key name");
	is(cred.algorithm, DNS_TSIG_HMAC_SHA256, "algorithm defaults to hmac-sha256");
	ok(!strcmp(cred.secret, SECRET), "secret kept as base64");
	is(cred.secret_len, 32, "secret length");
	ok(why[0] == '\0', "no message on success");

	is(parse("# the zone's primary\r\n\r\n  provider=rfc2136  \r\n\tserver =192.0.2.53\r\n"
	         "key= Kith-Update.example. \r\nalgorithm = HMAC-SHA512\r\n"
	         "secret = c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTEyMzQ"),
	   0, "comments, CRLF, blanks around '=', unpadded base64, no final newline");
	is(ntohs(v4->sin_port), DNS_CRED_PORT_DEFAULT, "port defaults to 53");
	ok(!strcmp(cred.key, "Kith-Update.example"), "key without its final dot");
	is(cred.algorithm, DNS_TSIG_HMAC_SHA512, "algorithm case-insensitive");
	ok(!strcmp(cred.secret, SECRET), "unpadded secret kept padded");

	is(parse("provider = rfc2136\nserver = [2001:db8::53]:53\nkey = k\nalgorithm = hmac-sha1\n"
	         "secret = " SECRET "\n"),
	   0, "IPv6 server");
	inet_pton(AF_INET6, "2001:db8::53", want6);
	ok(v6->sin6_family == AF_INET6 && ntohs(v6->sin6_port) == 53 &&
	       !memcmp(&v6->sin6_addr, want6, 16) && cred.server_len == sizeof(*v6),
	   "IPv6 address and port");
	is(cred.algorithm, DNS_TSIG_HMAC_SHA1, "hmac-sha1");
	is(parse("provider = rfc2136\nserver = [::1]\nkey = k\nsecret = " SECRET "\n"), 0,
	   "IPv6 without a port");
	is(ntohs(v6->sin6_port), 53, "IPv6 default port");
}

static void test_http(void)
{
	is(parse("provider = pdns\nurl = http://127.0.0.1:8081/\ntoken = abc123\n"), 0,
	   "pdns: accepted");
	ok(!strcmp(cred.url, "http://127.0.0.1:8081"), "url without its final '/'");
	ok(!strcmp(cred.token, "abc123"), "token");
	ok(!strcmp(cred.server_id, "localhost"), "server_id defaults to localhost");
	is(parse("provider = pdns\nurl = https://ns.example/api\ntoken = t\nserver_id = ns1\n"), 0,
	   "pdns with server_id");
	ok(!strcmp(cred.server_id, "ns1") && !strcmp(cred.url, "https://ns.example/api"),
	   "server_id and url");
	is(parse("provider = desec\ntoken = 4b1d\n"), 0, "desec: accepted");
	ok(!strcmp(cred.url, "https://desec.io/api/v1") && !strcmp(cred.token, "4b1d"),
	   "desec url default");
	is(parse("provider = desec\ntoken = x\nurl = https://desec.example/api/v1\n"), 0,
	   "desec with url");
	ok(!strcmp(cred.url, "https://desec.example/api/v1"), "desec url");
}

static void test_errors(void)
{
	char big[DNS_CRED_TEXT_MAX + 2];
	char line[DNS_CRED_LINE_MAX + 64];

	refused("provider = rfc2136\nserver = 192.0.2.53\nsever = 1\n", KITH_EVALUE,
	        "line 3: unknown key \"sever\" (expected provider, server, key, algorithm, "
	        "secret)",
	        "unknown key names its line and the keys expected");
	refused("provider = rfc2136\nserver = 192.0.2.53\nkey = k\n\nsecret = not*base64\n",
	        KITH_EVALUE, "line 5: secret is not base64", "bad base64");
	refused("provider = rfc2136\nserver = 192.0.2.53\nkey = k\n", KITH_EMISSING,
	        "missing \"secret\" (the TSIG key's base64 secret)", "missing secret");
	refused("provider = rfc2136\nkey = k\nsecret = " SECRET "\n", KITH_EMISSING,
	        "missing \"server\" (the DNS server's IP address and port", "missing server");
	refused("server = 192.0.2.53\n", KITH_EMISSING,
	        "missing \"provider\" (rfc2136, pdns or desec)", "missing provider");
	refused("", KITH_EMISSING, "missing \"provider\"", "empty text");
	refused("provider = bind\n", KITH_EVALUE,
	        "line 1: unknown provider \"bind\" (expected rfc2136, pdns or desec)",
	        "unknown provider");
	refused("# x\nprovider = rfc2136\nprovider = pdns\n", KITH_EVALUE,
	        "line 3: provider given twice (first on line 2)", "duplicate provider");
	refused("provider = rfc2136\nkey = a\nkey = b\n", KITH_EVALUE,
	        "line 3: key given twice (first on line 2)", "duplicate key");
	refused("provider = rfc2136\nserver\n", KITH_EVALUE, "line 2: expected \"key = value\"",
	        "a line without '='");
	refused("provider = rfc2136\n = x\n", KITH_EVALUE, "line 2: expected \"key = value\"",
	        "a line without a key");
	refused("provider = rfc2136\nkey =\n", KITH_EVALUE, "line 2: key has no value",
	        "empty value");
	refused("provider = rfc2136\ntoken = x\n", KITH_EVALUE,
	        "line 2: unknown key \"token\" (expected provider, server, key, algorithm, secret)",
	        "a key of another provider");
	refused("provider = pdns\nsecret = x\n", KITH_EVALUE,
	        "line 2: unknown key \"secret\" (expected provider, url, token, server_id)",
	        "pdns lists its own keys");
	refused("provider = desec\nserver_id = x\n", KITH_EVALUE,
	        "line 2: unknown key \"server_id\" (expected provider, url, token)",
	        "desec lists its own keys");
	refused("provider = rfc2136\nserver = ns.example.org:53\n", KITH_EVALUE,
	        "line 2: server is not an IP address (kith does not resolve names)", "a host name");
	refused("provider = rfc2136\nserver = 2001:db8::1\n", KITH_EVALUE,
	        "line 2: server looks like an IPv6 address without brackets", "bare IPv6");
	refused("provider = rfc2136\nserver = 192.0.2.1:0\n", KITH_EVALUE,
	        "line 2: server has a bad port", "port 0");
	refused("provider = rfc2136\nserver = 192.0.2.1:65536\n", KITH_EVALUE,
	        "line 2: server has a bad port", "port 65536");
	refused("provider = rfc2136\nserver = [::1\n", KITH_EVALUE,
	        "line 2: server has '[' without ']'", "unclosed bracket");
	refused("provider = rfc2136\nserver = [192.0.2.1]\n", KITH_EVALUE,
	        "line 2: server is not an IPv6 address", "IPv4 in brackets");
	refused("provider = rfc2136\nkey = kith..update\n", KITH_EVALUE,
	        "line 2: key is not a domain name", "empty label");
	refused("provider = rfc2136\nalgorithm = hmac-sha384\n", KITH_EVALUE,
	        "line 2: algorithm hmac-sha384 cannot be used: ldns does not sign with it",
	        "hmac-sha384 refused with the reason");
	refused("provider = rfc2136\nalgorithm = hmac-md5\n", KITH_EVALUE,
	        "line 2: unknown algorithm \"hmac-md5\" (expected hmac-sha1, hmac-sha256 or "
	        "hmac-sha512)",
	        "unknown algorithm");
	refused("provider = rfc2136\nsecret = c2hvcnQ=\n", KITH_EVALUE,
	        "line 2: secret is 5 bytes once decoded, expected 16 to 128", "short secret");
	refused("provider = pdns\nurl = http://admin:pw@127.0.0.1:8081\n", KITH_EVALUE,
	        "line 2: url must not carry credentials", "credentials in a url");
	refused("provider = pdns\nurl = ftp://x\n", KITH_EVALUE,
	        "line 2: url must be an http:// or https:// address", "ftp url");
	refused("provider = pdns\nurl = https://\n", KITH_EVALUE, "line 2: url has no host",
	        "url without a host");
	refused("provider = pdns\ntoken = a b\n", KITH_EVALUE, "line 2: token contains a space",
	        "token with a space");
	refused("provider = pdns\nserver_id = a/b\n", KITH_EVALUE, "line 2: server_id must be",
	        "bad server_id");
	refused("provider = pdns\nurl = http://x\n", KITH_EMISSING,
	        "missing \"token\" (the PowerDNS API key)", "pdns without a token");
	refused("provider = desec\n", KITH_EMISSING, "missing \"token\" (the deSEC API token)",
	        "desec without a token");

	/* Bytes no line may hold. */
	is(dns_cred_parse(&cred, "provider = rfc2136\nkey = a\0b\n", 28, why, sizeof(why)),
	   KITH_EVALUE, "a NUL byte");
	ok(!strncmp(why, "line 2: contains a NUL byte", 27), "the NUL byte's line");
	refused("provider = rfc2136\nkey = a\x07"
	        "b\n",
	        KITH_EVALUE, "line 2: contains the control character 0x07 (column 8)",
	        "a control character");
	refused("provider = rfc2136\nkey = caf\xc3\xa9\n", KITH_EVALUE,
	        "line 2: contains the non-ASCII byte 0xc3", "a non-ASCII byte");
	memset(line, 'a', sizeof(line));
	memcpy(line, "provider = rfc2136\nkey = ", 25);
	line[25 + DNS_CRED_LINE_MAX] = '\0';
	refused(line, KITH_EVALUE, "line 2: longer than 1024 bytes", "an over-long line");
	memset(big, '\n', sizeof(big));
	memcpy(big, "provider = desec\ntoken = x\n", 27);
	is(dns_cred_parse(&cred, big, DNS_CRED_TEXT_MAX, why, sizeof(why)), 0,
	   "DNS_CRED_TEXT_MAX bytes accepted");
	is(dns_cred_parse(&cred, big, DNS_CRED_TEXT_MAX + 1, why, sizeof(why)), KITH_EVALUE,
	   "one byte more refused");
	ok(!strcmp(why, "the credential is 4001 bytes, more than 4000"), "says how long");

	/* Errors come in line order: a bad line before the provider's. */
	refused("sever = x\nprovider = rfc2136\n", KITH_EVALUE, "line 1: unknown key \"sever\"",
	        "keys before the provider line are judged by it");
	refused("provider = rfc2136\nx\x01\nsever = 1\n", KITH_EVALUE, "line 2: contains",
	        "the first bad line is the one named");
}

static void test_secrets(void)
{
	char small[8];

	parse("provider = rfc2136\nserver = 192.0.2.53\nkey = k\nsecret = " SECRET
	      "\nalgorithm = x\n");
	ok(all_zero(&cred, sizeof(cred)), "a refused text leaves the struct zeroed");
	refused("provider = rfc2136\nc2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTEyMzQ=\n", KITH_EVALUE,
	        "line 2: not a key name before '='", "a secret alone on a line");
	ok(!strstr(why, "c2Vj"), "its text is not quoted");
	refused("provider = desec\ntoken = a b c\n", KITH_EVALUE, "line 2: token contains a space",
	        "a bad token");
	ok(!strstr(why, "a b c"), "the token is not quoted");
	refused("provider = c2VjcmV0LXNlY3JldA==\n", KITH_EVALUE, "line 1: unknown provider (",
	        "an odd provider value is not quoted");
	is(dns_cred_parse(&cred, "# c", 3, small, sizeof(small)), KITH_EMISSING,
	   "short why buffer");
	ok(strlen(small) == sizeof(small) - 1, "message cut to the buffer");
	is(dns_cred_parse(&cred, "# c", 3, NULL, 0), KITH_EMISSING, "no why buffer");
	parse("provider = rfc2136\nserver = 192.0.2.53\nkey = k\nsecret = " SECRET "\n");
	dns_cred_wipe(&cred);
	ok(all_zero(&cred, sizeof(cred)), "dns_cred_wipe zeroes");
	dns_cred_wipe(NULL);
	ok(!strcmp(dns_tsig_alg_name(DNS_TSIG_HMAC_SHA512), "hmac-sha512") &&
	       dns_tsig_alg_mac_len(DNS_TSIG_HMAC_SHA1) == 20 &&
	       !strcmp(dns_provider_name(DNS_PROVIDER_PDNS), "pdns"),
	   "names");
}

int main(void)
{
	test_rfc2136();
	test_http();
	test_errors();
	test_secrets();
	return tap_done();
}
