/* The PowerDNS HTTP API through jansson: URLs, PATCH bodies, and the
 * reading of its answers. jansson bounds the nesting it parses
 * (JSON_PARSER_MAX_DEPTH), refuses a NUL inside a string (no
 * JSON_ALLOW_NUL) and, with JSON_REJECT_DUPLICATES, a key given twice, so
 * that what kith reads is what PowerDNS meant. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <jansson.h>

#include "json_common.h"
#include "pdns.h"
#include "proto/error.h"

/* An error answer is a line: a longer body is not searched for one. */
#define ERROR_BODY_MAX 65536
/* Characters of PowerDNS's "error" a sentence quotes; room for "..." too. */
#define ERROR_QUOTE_MAX 300

/* Whether a server_id keeps to what dns/cred.h accepts, and is no "." or
 * ".." path segment that an HTTP client would fold away. */
static bool server_id_ok(const char *id)
{
	size_t n = strnlen(id, DNS_CRED_SERVER_ID_MAX + 1);

	if (n == 0 || n > DNS_CRED_SERVER_ID_MAX || !strcmp(id, ".") || !strcmp(id, ".."))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.",
		            id[i]))
			return false;
	return true;
}

int dns_pdns_zone_url(char *out, size_t n, const struct dns_cred *cred, const char *zone)
{
	char z[DNS_NAME_DOT_MAX];
	const char *id;
	size_t url_len;
	int len;

	if (out && n)
		out[0] = '\0';
	if (!out || !cred || cred->provider != DNS_PROVIDER_PDNS || dns_name_copy(z, zone, true))
		return KITH_EVALUE;
	url_len = strnlen(cred->url, sizeof(cred->url));
	if (url_len == sizeof(cred->url))
		return KITH_EVALUE;
	/* dns_cred_parse() strips it; a struct filled by hand may not. */
	while (url_len > 0 && cred->url[url_len - 1] == '/')
		url_len--;
	for (size_t i = 0; i < url_len; i++)
		if (cred->url[i] <= ' ' || cred->url[i] > '~')
			return KITH_EVALUE;
	id = cred->server_id[0] ? cred->server_id : DNS_CRED_PDNS_SERVER_ID;
	if (url_len == 0 || !server_id_ok(id))
		return KITH_EVALUE;
	len = snprintf(out, n, "%.*s/api/v1/servers/%s/zones/%s", (int)url_len, cred->url, id, z);
	if (len < 0 || (size_t)len >= n) {
		if (n)
			out[0] = '\0';
		return KITH_ETOOBIG;
	}
	return 0;
}

/* Adds the address of record r (an object with a string "content" and
 * maybe a boolean "disabled") to out unless disabled or there already. */
static int read_record(json_t *r, int family, struct dns_addrs *out)
{
	json_t *disabled = json_object_get(r, "disabled");
	uint8_t addr[16];
	int rc;

	if (disabled && !json_is_boolean(disabled))
		return KITH_EMALFORMED;
	if ((rc = dns_json_address(addr, family, json_object_get(r, "content"))))
		return rc;
	if (json_is_true(disabled))
		return 0;
	return dns_json_addrs_add(out, addr);
}

/* Reads the set's TTL and its records' addresses (out->family is
 * family). */
static int read_set(json_t *set, int family, struct dns_addrs *out, uint32_t *ttl)
{
	json_t *r;
	size_t i;
	int rc;

	if ((rc = dns_json_ttl(ttl, json_object_get(set, "ttl"))))
		return rc;
	json_array_foreach(json_object_get(set, "records"), i, r)
	{
		if ((rc = read_record(r, family, out)))
			return rc;
	}
	return 0;
}

/* Finds in rrsets the set of type at owner (*set NULL when there is
 * none), checking every element's shape on the way. Two such sets would
 * make the answer ambiguous: KITH_EMALFORMED. */
static int find_set(json_t *rrsets, const char *owner, const char *type, json_t **set)
{
	json_t *s;
	size_t i;

	*set = NULL;
	json_array_foreach(rrsets, i, s)
	{
		json_t *name = json_object_get(s, "name"), *t = json_object_get(s, "type");

		if (!json_is_string(name) || !json_is_string(t) ||
		    !json_is_array(json_object_get(s, "records")))
			return KITH_EMALFORMED;
		if (!dns_json_same_text(json_string_value(t), json_string_length(t), type) ||
		    !dns_json_same_text(json_string_value(name), json_string_length(name), owner))
			continue;
		if (*set)
			return KITH_EMALFORMED;
		*set = s;
	}
	return 0;
}

int dns_pdns_read(const char *json, size_t len, const char *name, int family, struct dns_addrs *out,
                  uint32_t *ttl)
{
	char owner[DNS_NAME_DOT_MAX];
	json_t *root = NULL, *rrsets, *set;
	int rc;

	if (out) {
		memset(out, 0, sizeof(*out));
		out->family = family;
	}
	if (ttl)
		*ttl = 0;
	if (!out || !ttl || (family != AF_INET && family != AF_INET6) ||
	    dns_name_copy(owner, name, true))
		return KITH_EVALUE;
	if (len > DNS_PDNS_ANSWER_MAX)
		return KITH_ETOOBIG;
	if (!json)
		return KITH_EMALFORMED;
	root = json_loadb(json, len, JSON_REJECT_DUPLICATES, NULL);
	rrsets = json_object_get(root, "rrsets");
	if (!json_is_object(root) || !json_is_array(rrsets)) {
		rc = KITH_EMALFORMED;
		goto cleanup;
	}
	rc = find_set(rrsets, owner, family == AF_INET ? "A" : "AAAA", &set);
	if (!rc && set)
		rc = read_set(set, family, out, ttl);
cleanup:
	json_decref(root);
	if (rc) {
		memset(out->addr, 0, sizeof(out->addr));
		out->n = 0;
		*ttl = 0;
	}
	return rc;
}

static json_t *delete_body(const char *owner, const char *type)
{
	return json_pack("{s:[{s:s, s:s, s:s}]}", "rrsets", "name", owner, "type", type,
	                 "changetype", "DELETE");
}

/* The body replacing the set of type at owner with records (stolen). */
static json_t *replace_body(const char *owner, const char *type, uint32_t ttl, json_t *records)
{
	return json_pack("{s:[{s:s, s:s, s:I, s:s, s:o}]}", "rrsets", "name", owner, "type", type,
	                 "ttl", (json_int_t)ttl, "changetype", "REPLACE", "records", records);
}

int dns_pdns_replace(char **out, size_t *len, const char *name, const struct dns_addrs *to,
                     uint32_t ttl)
{
	char owner[DNS_NAME_DOT_MAX];
	const char *type;
	json_t *records;
	int rc;

	if (out)
		*out = NULL;
	if (len)
		*len = 0;
	if (!out || !len || !to || dns_name_copy(owner, name, true) || !dns_json_addrs_ok(to) ||
	    ttl > DNS_TTL_MAX)
		return KITH_EVALUE;
	type = to->family == AF_INET ? "A" : "AAAA";
	if (to->n == 0)
		return dns_json_dump(delete_body(owner, type), out, len);
	if ((rc = dns_json_address_records(&records, to, DNS_JSON_RECORD_CONTENT)))
		return rc;
	return dns_json_dump(replace_body(owner, type, ttl, records), out, len);
}

int dns_pdns_txt(char **out, size_t *len, const char *name, const char *text, uint32_t ttl)
{
	char owner[DNS_NAME_DOT_MAX], content[DNS_JSON_TXT_CONTENT_MAX];
	json_t *records;

	if (out)
		*out = NULL;
	if (len)
		*len = 0;
	if (!out || !len || dns_name_copy(owner, name, true) || ttl > DNS_TTL_MAX)
		return KITH_EVALUE;
	if (!text)
		return dns_json_dump(delete_body(owner, "TXT"), out, len);
	if (dns_json_txt_content(content, text))
		return KITH_EVALUE;
	records = json_pack("[{s:s, s:b}]", "content", content, "disabled", 0);
	if (!records)
		return -ENOMEM;
	return dns_json_dump(replace_body(owner, "TXT", ttl, records), out, len);
}

/* PowerDNS's "error" in body[0..len), if it is JSON with one, made
 * printable and cut at ERROR_QUOTE_MAX; "" otherwise (401 and 404 come
 * as plain text). */
static void error_quote(char q[ERROR_QUOTE_MAX + 4], const char *body, size_t len)
{
	json_t *root, *e;

	q[0] = '\0';
	if (!body || len == 0 || len > ERROR_BODY_MAX)
		return;
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
	e = json_object_get(root, "error");
	if (json_is_string(e))
		dns_json_printable(q, json_string_value(e), json_string_length(e), ERROR_QUOTE_MAX);
	json_decref(root);
}

/* The sentence for a status that is no 2xx, 401, 403 or 404: z is the
 * zone, q PowerDNS's error ("" without one) and says the same as a
 * parenthesis ("" without one). */
static void say_other(char *why, size_t n, long status, const char *z, const char *q,
                      const char *says)
{
	if (status == 422 && q[0])
		dns_json_say(why, n, "PowerDNS refused the change to zone %s: %s", z, q);
	else if (status == 422)
		dns_json_say(why, n,
		             "PowerDNS refused the change to zone %s (HTTP 422): see its log", z);
	else if (status >= 500 && status <= 599)
		dns_json_say(why, n, "PowerDNS failed (HTTP %ld) on zone %s%s: see its log", status,
		             z, says);
	else if (status >= 300 && status <= 399)
		dns_json_say(why, n,
		             "the PowerDNS API redirects (HTTP %ld) for zone %s: set url to the "
		             "API's own address (kith follows no redirect)",
		             status, z);
	else if (status == 400)
		dns_json_say(why, n,
		             "PowerDNS could not read kith's request for zone %s (HTTP 400)%s: is "
		             "url its API?",
		             z, says);
	else if (status >= 100 && status <= 599)
		dns_json_say(why, n,
		             "the PowerDNS API answered HTTP %ld for zone %s%s: is url its API?",
		             status, z, says);
	else
		dns_json_say(
		    why, n,
		    "the PowerDNS API gave no valid HTTP status (%ld) for zone %s: is url its API?",
		    status, z);
}

enum dns_result dns_pdns_status(long status, const char *body, size_t len, const char *zone,
                                char *why, size_t n)
{
	char q[ERROR_QUOTE_MAX + 4], says[ERROR_QUOTE_MAX + 24], z[DNS_NAME_TEXT_MAX + 8];

	if (status >= 200 && status <= 299) {
		dns_json_say(why, n, "%s", "");
		return DNS_RESULT_OK;
	}
	/* The caller's zone, but the sentence is printable whatever it is. */
	zone = zone ? zone : "(none)";
	dns_json_printable(z, zone, strnlen(zone, DNS_NAME_TEXT_MAX + 2), DNS_NAME_TEXT_MAX + 1);
	error_quote(q, body, len);
	snprintf(says, sizeof(says), q[0] ? " (PowerDNS says: %s)" : "%s", q);
	if (status == 401 || status == 403) {
		dns_json_say(why, n,
		             "the PowerDNS API refuses the token for zone %s (HTTP %ld)%s: check "
		             "token (its api-key)",
		             z, status, says);
		return DNS_RESULT_REFUSED;
	}
	if (status == 404) {
		dns_json_say(why, n,
		             "PowerDNS does not serve zone %s under the credential's server_id (or "
		             "the url is not its API)%s: check the zone, server_id and url",
		             z, says);
		return DNS_RESULT_NOTZONE;
	}
	say_other(why, n, status, z, q, says);
	return DNS_RESULT_OTHER;
}
