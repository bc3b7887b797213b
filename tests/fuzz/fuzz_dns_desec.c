/* Fuzz target: deSEC's API answers (dns/desec.h), untrusted JSON. Each
 * input is read as
 *  1. the GET of a set, the A and the AAAA set at DNS_FUZZ_NAME and the
 *     AAAA set at the apex: 0 with at most DNS_ADDRS_MAX distinct
 *     addresses, or KITH_ETOOBIG / KITH_EMALFORMED with none; a set read
 *     is written back as a bulk PATCH body (dns_desec_replace()), whose
 *     one item, given the read-only fields deSEC adds, must read as the
 *     same set;
 *  2. the GET of the domain: 0 with a minimum TTL of 1 to
 *     DNS_DESEC_TTL_MAX, or KITH_ETOOBIG / KITH_EMALFORMED with 0;
 *  3. the body of an HTTP answer: as a 400 and under a status its length
 *     picks, dns_desec_status() gives the result of the status and a
 *     printable sentence that fits, empty for 2xx only. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <netinet/in.h>

#include "dns/desec.h"
#include "proto/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Shared with dns_desec_seeds() in seeds.c. */
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

/* Writes the set read back as a PATCH body, makes its item the object a
 * GET would give, and reads that. */
static void round_trip(const char *name, const char *sub, const struct dns_addrs *set, uint32_t ttl)
{
	static struct dns_addrs again;
	uint32_t ttl_again;
	json_t *root, *item;
	char *body, *get;
	size_t len;

	if (set->n == 0 || ttl > DNS_TTL_MAX)
		return;
	if (dns_desec_replace(&body, &len, DNS_FUZZ_ZONE, name, set, ttl))
		abort();
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
	item = json_array_get(root, 0);
	if (json_array_size(root) != 1 || !json_is_string(json_object_get(item, "subname")) ||
	    strcmp(json_string_value(json_object_get(item, "subname")), sub))
		abort();
	if (json_object_set_new(item, "domain", json_string(DNS_FUZZ_ZONE)) ||
	    json_object_set_new(item, "name",
	                        json_string(sub[0] ? DNS_FUZZ_NAME "." : DNS_FUZZ_ZONE ".")) ||
	    !(get = json_dumps(item, JSON_COMPACT)))
		abort();
	if (dns_desec_read(get, strlen(get), DNS_FUZZ_ZONE, name, set->family, &again,
	                   &ttl_again) ||
	    !same(set, &again) || ttl_again != ttl)
		abort();
	free(get);
	json_decref(root);
	free(body);
}

static void read_as(const uint8_t *data, size_t size, const char *name, const char *sub, int family)
{
	static struct dns_addrs out;
	uint32_t ttl = 0;
	int rc = dns_desec_read((const char *)data, size, DNS_FUZZ_ZONE, name, family, &out, &ttl);

	check_set(rc, &out, ttl, family);
	if (!rc)
		round_trip(name, sub, &out, ttl);
}

static void domain_as(const uint8_t *data, size_t size)
{
	uint32_t min = 7;
	int rc = dns_desec_read_domain((const char *)data, size, DNS_FUZZ_ZONE, &min);

	if (rc != 0 && rc != KITH_ETOOBIG && rc != KITH_EMALFORMED)
		abort();
	if (rc ? min != 0 : (min < 1 || min > DNS_DESEC_TTL_MAX))
		abort();
}

static enum dns_result expected(long status)
{
	if (status >= 200 && status <= 299)
		return DNS_RESULT_OK;
	if (status == 401 || status == 403)
		return DNS_RESULT_REFUSED;
	return status == 404 ? DNS_RESULT_NOTZONE : DNS_RESULT_OTHER;
}

static void status_as(const uint8_t *data, size_t size, long status, long retry_after, size_t n)
{
	static char why[DNS_WHY_MAX];
	enum dns_result r;
	size_t len;

	memset(why, 'Z', sizeof(why));
	r = dns_desec_status(status, (const char *)data, size, retry_after, DNS_FUZZ_ZONE, why, n);
	if (r != expected(status) || !memchr(why, '\0', n))
		abort();
	len = strlen(why);
	if (len >= n || (r == DNS_RESULT_OK) != (len == 0))
		abort();
	for (size_t i = 0; i < len; i++)
		if (why[i] < ' ' || why[i] > '~')
			abort();
	if (dns_desec_wait_ms(status, retry_after) > DNS_DESEC_WAIT_MAX * 1000u)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const long statuses[] = {200, 204, 301, 401, 403, 404, 405, 429, 500, 503, 0, -7};
	static const long waits[] = {0, 1, 10, 11, 3600, -1};

	read_as(data, size, DNS_FUZZ_NAME, "www", AF_INET);
	read_as(data, size, DNS_FUZZ_NAME, "www", AF_INET6);
	read_as(data, size, DNS_FUZZ_ZONE, "", AF_INET6);
	domain_as(data, size);
	status_as(data, size, 400, 0, DNS_WHY_MAX);
	status_as(data, size, statuses[size % (sizeof(statuses) / sizeof(statuses[0]))],
	          waits[size % (sizeof(waits) / sizeof(waits[0]))], size % 2 ? DNS_WHY_MAX : 40);
	return 0;
}
