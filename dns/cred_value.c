/* The check of each key's value of a credential (dns/cred.h), and the
 * TSIG algorithms' names. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "cred.h"
#include "cred_int.h"
#include "proto/error.h"

#define MSG_MAX DNS_CRED_MSG_MAX

static const char *const alg_names[] = {
    [DNS_TSIG_HMAC_SHA256] = "hmac-sha256",
    [DNS_TSIG_HMAC_SHA1] = "hmac-sha1",
    [DNS_TSIG_HMAC_SHA512] = "hmac-sha512",
};

static bool blank(char ch)
{
	return ch == ' ' || ch == '\t';
}

bool dns_cred_quotable(const char *s, size_t n)
{
	if (n == 0 || n > 20)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || s[i] == '_' || s[i] == '-' ||
		      (i > 0 && s[i] >= '0' && s[i] <= '9')))
			return false;
	return true;
}

const char *dns_cred_quote(char out[32], const char *s, size_t n)
{
	if (!dns_cred_quotable(s, n))
		return "";
	snprintf(out, 32, " \"%.*s\"", (int)n, s);
	return out;
}

const char *dns_tsig_alg_name(enum dns_tsig_alg a)
{
	if ((size_t)a < sizeof(alg_names) / sizeof(alg_names[0]))
		return alg_names[a];
	return "hmac-sha256";
}

size_t dns_tsig_alg_mac_len(enum dns_tsig_alg a)
{
	switch (a) {
	case DNS_TSIG_HMAC_SHA1:
		return 20;
	case DNS_TSIG_HMAC_SHA512:
		return 64;
	default:
		return 32;
	}
}

/* Copies v[0..n) into dst (cap bytes with the NUL); 0 or KITH_EVALUE. */
static int copy_value(char *dst, size_t cap, const char *v, size_t n)
{
	if (n >= cap)
		return KITH_EVALUE;
	memcpy(dst, v, n);
	dst[n] = '\0';
	return 0;
}

static int parse_port(const char *s, size_t n, uint16_t *port)
{
	unsigned long v = 0;

	if (n == 0 || n > 5)
		return KITH_EVALUE;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return KITH_EVALUE;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v == 0 || v > 65535)
		return KITH_EVALUE;
	*port = (uint16_t)v;
	return 0;
}

static int bad_server(char msg[MSG_MAX], const char *detail)
{
	snprintf(msg, MSG_MAX,
	         "server %s: write an IP address with an optional port, "
	         "192.0.2.53:53 or [2001:db8::1]:53",
	         detail);
	return KITH_EVALUE;
}

/* An IPv6 server is only ever written in brackets: without them,
 * 2001:db8::1:53 would silently be an address whose port is 53. */
int dns_cred_set_server(struct dns_cred *c, const char *v, size_t n, char msg[MSG_MAX])
{
	char host[INET6_ADDRSTRLEN];
	const char *port = NULL, *end = v + n, *h = v, *colon;
	uint16_t port_no = DNS_CRED_PORT_DEFAULT;
	size_t hn;
	bool v6 = v[0] == '[';

	if (v6) {
		const char *rb = memchr(v, ']', n);
		if (!rb)
			return bad_server(msg, "has '[' without ']'");
		h = v + 1;
		hn = (size_t)(rb - h);
		if (rb + 1 < end && rb[1] != ':')
			return bad_server(msg, "has text after ']'");
		port = rb + 1 < end ? rb + 2 : NULL;
	} else {
		colon = memchr(v, ':', n);
		if (colon && memchr(colon + 1, ':', (size_t)(end - colon - 1)))
			return bad_server(msg, "looks like an IPv6 address without brackets");
		hn = colon ? (size_t)(colon - v) : n;
		port = colon ? colon + 1 : NULL;
	}
	if (port && parse_port(port, (size_t)(end - port), &port_no))
		return bad_server(msg, "has a bad port (1 to 65535)");
	if (hn == 0 || copy_value(host, sizeof(host), h, hn))
		return bad_server(msg, "is not an IP address");
	memset(&c->server, 0, sizeof(c->server));
	if (v6) {
		struct sockaddr_in6 *sa = (struct sockaddr_in6 *)&c->server;
		if (inet_pton(AF_INET6, host, &sa->sin6_addr) != 1)
			return bad_server(msg, "is not an IPv6 address");
		sa->sin6_family = AF_INET6;
		sa->sin6_port = htons(port_no);
		c->server_len = sizeof(*sa);
	} else {
		struct sockaddr_in *sa = (struct sockaddr_in *)&c->server;
		if (inet_pton(AF_INET, host, &sa->sin_addr) != 1)
			return bad_server(msg,
			                  "is not an IP address (kith does not resolve names)");
		sa->sin_family = AF_INET;
		sa->sin_port = htons(port_no);
		c->server_len = sizeof(*sa);
	}
	return 0;
}

int dns_cred_set_key(struct dns_cred *c, const char *v, size_t n, char msg[MSG_MAX])
{
	if (!dns_name_valid(v, n)) {
		snprintf(msg, MSG_MAX,
		         "key is not a domain name (labels of letters, digits, '-' or '_', "
		         "at most %d characters)",
		         DNS_NAME_TEXT_MAX);
		return KITH_EVALUE;
	}
	if (v[n - 1] == '.')
		n--;
	return copy_value(c->key, sizeof(c->key), v, n);
}

int dns_cred_set_algorithm(struct dns_cred *c, const char *v, size_t n, char msg[MSG_MAX])
{
	char q[32];

	for (size_t i = 0; i < sizeof(alg_names) / sizeof(alg_names[0]); i++) {
		if (strlen(alg_names[i]) == n && strncasecmp(v, alg_names[i], n) == 0) {
			c->algorithm = (enum dns_tsig_alg)i;
			return 0;
		}
	}
	if ((n == 11 && strncasecmp(v, "hmac-sha224", n) == 0) ||
	    (n == 11 && strncasecmp(v, "hmac-sha384", n) == 0))
		snprintf(msg, MSG_MAX,
		         "algorithm %.*s cannot be used: ldns does not sign with it "
		         "(make the key hmac-sha256 or hmac-sha512)",
		         (int)n, v);
	else
		snprintf(msg, MSG_MAX,
		         "unknown algorithm%s (expected hmac-sha1, hmac-sha256 or hmac-sha512)",
		         dns_cred_quote(q, v, n));
	return KITH_EVALUE;
}

/* Decodes padded base64, or unpadded as some tools write it, and keeps it
 * re-encoded in canonical form: ldns takes the secret as base64 text. */
int dns_cred_set_secret(struct dns_cred *c, const char *v, size_t n, char msg[MSG_MAX])
{
	unsigned char bin[DNS_CRED_LINE_MAX * 3 / 4 + 3];
	size_t len = 0;
	const char *end = NULL;
	int rc = KITH_EVALUE;

	if (sodium_base642bin(bin, sizeof(bin), v, n, NULL, &len, &end,
	                      sodium_base64_VARIANT_ORIGINAL) ||
	    end != v + n) {
		if (sodium_base642bin(bin, sizeof(bin), v, n, NULL, &len, &end,
		                      sodium_base64_VARIANT_ORIGINAL_NO_PADDING) ||
		    end != v + n) {
			snprintf(msg, MSG_MAX, "secret is not base64");
			goto cleanup;
		}
	}
	if (len < DNS_CRED_SECRET_MIN || len > DNS_CRED_SECRET_MAX) {
		snprintf(msg, MSG_MAX,
		         "secret is %zu bytes once decoded, expected %d to %d "
		         "(tsig-keygen and keymgr make 32 or 64)",
		         len, DNS_CRED_SECRET_MIN, DNS_CRED_SECRET_MAX);
		goto cleanup;
	}
	sodium_bin2base64(c->secret, sizeof(c->secret), bin, len, sodium_base64_VARIANT_ORIGINAL);
	c->secret_len = len;
	rc = 0;
cleanup:
	sodium_memzero(bin, sizeof(bin));
	return rc;
}

static bool has_space(const char *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (blank(v[i]))
			return true;
	return false;
}

int dns_cred_set_url(struct dns_cred *c, const char *v, size_t n, char msg[MSG_MAX])
{
	size_t skip = 0, host;

	if (n >= 7 && strncmp(v, "http://", 7) == 0)
		skip = 7;
	else if (n >= 8 && strncmp(v, "https://", 8) == 0)
		skip = 8;
	if (!skip || has_space(v, n)) {
		snprintf(msg, MSG_MAX, "url must be an http:// or https:// address without spaces");
		return KITH_EVALUE;
	}
	for (host = 0; skip + host < n; host++)
		if (strchr("/?#", v[skip + host]))
			break;
	if (memchr(v + skip, '@', host)) {
		snprintf(msg, MSG_MAX,
		         "url must not carry credentials (user:password@): "
		         "give the API key as token");
		return KITH_EVALUE;
	}
	if (host == 0) {
		snprintf(msg, MSG_MAX, "url has no host");
		return KITH_EVALUE;
	}
	while (n > skip + host && v[n - 1] == '/')
		n--;
	if (copy_value(c->url, sizeof(c->url), v, n)) {
		snprintf(msg, MSG_MAX, "url is longer than %d bytes", DNS_CRED_URL_MAX);
		return KITH_EVALUE;
	}
	return 0;
}

int dns_cred_set_token(struct dns_cred *c, const char *v, size_t n, char msg[MSG_MAX])
{
	if (has_space(v, n)) {
		snprintf(msg, MSG_MAX, "token contains a space");
		return KITH_EVALUE;
	}
	if (copy_value(c->token, sizeof(c->token), v, n)) {
		snprintf(msg, MSG_MAX, "token is longer than %d bytes", DNS_CRED_TOKEN_MAX);
		return KITH_EVALUE;
	}
	return 0;
}

int dns_cred_set_server_id(struct dns_cred *c, const char *v, size_t n, char msg[MSG_MAX])
{
	for (size_t i = 0; i < n; i++) {
		char ch = v[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.'))
			n = 0; /* refused below */
	}
	if (n == 0 || copy_value(c->server_id, sizeof(c->server_id), v, n)) {
		snprintf(msg, MSG_MAX,
		         "server_id must be 1 to %d letters, digits, '-', '_' or '.' "
		         "(PowerDNS says localhost)",
		         DNS_CRED_SERVER_ID_MAX);
		return KITH_EVALUE;
	}
	return 0;
}
