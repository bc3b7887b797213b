/* Fuzz target: the credential text of a dns:ZONE grant (dns/cred.h).
 * Whatever the bytes, parsing ends in 0 or KITH_EVALUE / KITH_EMISSING
 * with a one-line message. An accepted credential names a provider and
 * holds what it requires, every string NUL-terminated within its field; a
 * refused one leaves the struct zeroed (no secret behind). */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <netinet/in.h>

#include "dns/cred.h"
#include "proto/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool terminated(const char *s, size_t cap)
{
	return memchr(s, '\0', cap) != NULL;
}

static bool zeroed(const struct dns_cred *c)
{
	const uint8_t *b = (const uint8_t *)c;
	for (size_t i = 0; i < sizeof(*c); i++)
		if (b[i])
			return false;
	return true;
}

static bool rfc2136_ok(const struct dns_cred *c)
{
	int fam = c->server.ss_family;
	return ((fam == AF_INET && c->server_len == sizeof(struct sockaddr_in)) ||
	        (fam == AF_INET6 && c->server_len == sizeof(struct sockaddr_in6))) &&
	       dns_name_valid(c->key, strlen(c->key)) && c->secret_len >= DNS_CRED_SECRET_MIN &&
	       c->secret_len <= DNS_CRED_SECRET_MAX && c->secret[0];
}

static bool accepted_ok(const struct dns_cred *c, const char *why)
{
	if (why[0] || !terminated(c->key, sizeof(c->key)) ||
	    !terminated(c->secret, sizeof(c->secret)) || !terminated(c->url, sizeof(c->url)) ||
	    !terminated(c->token, sizeof(c->token)) ||
	    !terminated(c->server_id, sizeof(c->server_id)))
		return false;
	switch (c->provider) {
	case DNS_PROVIDER_RFC2136:
		return rfc2136_ok(c);
	case DNS_PROVIDER_PDNS:
		return !strncmp(c->url, "http", 4) && c->token[0] && c->server_id[0];
	case DNS_PROVIDER_DESEC:
		return !strncmp(c->url, "http", 4) && c->token[0];
	default:
		return false;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct dns_cred c;
	char why[256];
	int rc = dns_cred_parse(&c, (const char *)data, size, why, sizeof(why));

	if (!terminated(why, sizeof(why)))
		abort();
	if (rc == 0 && !accepted_ok(&c, why))
		abort();
	if (rc && ((rc != KITH_EVALUE && rc != KITH_EMISSING) || !why[0] || !zeroed(&c)))
		abort();
	dns_cred_wipe(&c);
	return 0;
}
