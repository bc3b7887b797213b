/* Fuzz target: the PowerDNS API's answers (dns/pdns.h), untrusted JSON.
 * Each input is read as
 *  1. a GET of the zone, for the A and the AAAA set at DNS_FUZZ_NAME:
 *     0 with at most DNS_ADDRS_MAX distinct addresses, or KITH_ETOOBIG /
 *     KITH_EMALFORMED with none; a set read is written back as a PATCH
 *     body (dns_pdns_replace()), which must read as the same set;
 *  2. the body of an HTTP answer: as a 422 and under a status its length
 *     picks, dns_pdns_status() gives the result of the status and a
 *     printable sentence that fits, empty for 2xx only. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <netinet/in.h>

#include "dns/pdns.h"
#include "proto/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Shared with dns_pdns_seeds() in seeds.c. */
#define DNS_FUZZ_ZONE "example.test"
#define DNS_FUZZ_NAME "www.example.test"

static bool same(const struct dns_addrs *a, const struct dns_addrs *b)
{
	size_t size = a->family == AF_INET ? 4 : 16;

	if (a->family != b->family || a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (memcmp(a->addr[i], b->addr[i], size))
			return false;
	return true;
}

static void check_set(int rc, const struct dns_addrs *out, uint32_t ttl, int family)
{
	size_t size = family == AF_INET ? 4 : 16;

	if (rc != 0 && rc != KITH_ETOOBIG && rc != KITH_EMALFORMED)
		abort();
	if (out->family != family || out->n > DNS_ADDRS_MAX || (rc && (out->n || ttl)))
		abort();
	for (size_t i = 0; i < out->n; i++)
		for (size_t j = i + 1; j < out->n; j++)
			if (!memcmp(out->addr[i], out->addr[j], size))
				abort();
}

/* Writes the set read back as a PATCH body and reads that. */
static void round_trip(const struct dns_addrs *set, uint32_t ttl)
{
	static struct dns_addrs again;
	uint32_t ttl_again;
	char *body;
	size_t len;

	if (set->n == 0 || ttl > DNS_TTL_MAX)
		return;
	if (dns_pdns_replace(&body, &len, DNS_FUZZ_NAME, set, ttl))
		abort();
	if (dns_pdns_read(body, len, DNS_FUZZ_NAME, set->family, &again, &ttl_again) ||
	    !same(set, &again) || ttl_again != ttl)
		abort();
	free(body);
}

static void read_as(const uint8_t *data, size_t size, int family)
{
	static struct dns_addrs out;
	uint32_t ttl = 0;
	int rc = dns_pdns_read((const char *)data, size, DNS_FUZZ_NAME, family, &out, &ttl);

	check_set(rc, &out, ttl, family);
	if (!rc)
		round_trip(&out, ttl);
}

static enum dns_result expected(long status)
{
	if (status >= 200 && status <= 299)
		return DNS_RESULT_OK;
	if (status == 401 || status == 403)
		return DNS_RESULT_REFUSED;
	return status == 404 ? DNS_RESULT_NOTZONE : DNS_RESULT_OTHER;
}

static void status_as(const uint8_t *data, size_t size, long status, size_t n)
{
	static char why[DNS_WHY_MAX];
	enum dns_result r;
	size_t len;

	memset(why, 'Z', sizeof(why));
	r = dns_pdns_status(status, (const char *)data, size, DNS_FUZZ_ZONE, why, n);
	if (r != expected(status) || !memchr(why, '\0', n))
		abort();
	len = strlen(why);
	if (len >= n || (r == DNS_RESULT_OK) != (len == 0))
		abort();
	for (size_t i = 0; i < len; i++)
		if (why[i] < ' ' || why[i] > '~')
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const long statuses[] = {200, 204, 301, 400, 401, 403, 404, 409, 500, 503, 0, -7};

	read_as(data, size, AF_INET);
	read_as(data, size, AF_INET6);
	status_as(data, size, 422, DNS_WHY_MAX);
	status_as(data, size, statuses[size % (sizeof(statuses) / sizeof(statuses[0]))],
	          size % 2 ? DNS_WHY_MAX : 40);
	return 0;
}
