/* deSEC's HTTP API through jansson: URLs, bulk PATCH bodies, and the
 * reading of its answers. As in pdns.c, jansson bounds the nesting it
 * parses (JSON_PARSER_MAX_DEPTH), refuses a NUL inside a string (no
 * JSON_ALLOW_NUL) and, with JSON_REJECT_DUPLICATES, a key given twice, so
 * that what kith reads is what deSEC meant. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <jansson.h>

#include "desec.h"
#include "json_common.h"
#include "proto/error.h"

/* An error answer is a few lines: a longer body is not searched for one. */
#define ERROR_BODY_MAX 65536
/* Characters of deSEC's message a sentence quotes; room for "..." too. */
#define ERROR_QUOTE_MAX 300
/* How deep a message may sit in an error answer: [{"records": {"0":
 * ["..."]}}] is four levels. */
#define ERROR_DEPTH_MAX 6

/* Where a set is, as deSEC names it: all in lower case. */
struct where {
	char zone[DNS_NAME_TEXT_MAX + 1]; /* without a final dot */
	char sub[DNS_NAME_TEXT_MAX + 1];  /* the subname, "" at the apex */
	char fqdn[DNS_NAME_DOT_MAX];      /* the name with its final dot */
};

static bool is_text(json_t *v, const char *want)
{
	return json_is_string(v) &&
	       dns_json_same_text(json_string_value(v), json_string_length(v), want);
}

/* Copies name into out (DNS_NAME_TEXT_MAX + 1 bytes) without its final
 * dot and in lower case. */
static int lower_name(char *out, const char *name)
{
	if (dns_name_copy(out, name, false))
		return KITH_EVALUE;
	for (; *out; out++)
		*out = dns_json_lower(*out);
	return 0;
}

/* Fills *w for name in zone; KITH_EVALUE for a bad name or one outside
 * the zone. */
static int where_of(struct where *w, const char *zone, const char *name)
{
	char full[DNS_NAME_TEXT_MAX + 1];
	size_t zl, nl;

	if (lower_name(w->zone, zone) || lower_name(full, name))
		return KITH_EVALUE;
	zl = strlen(w->zone);
	nl = strlen(full);
	if (nl == zl && !memcmp(full, w->zone, zl)) {
		w->sub[0] = '\0';
	} else if (nl > zl + 1 && full[nl - zl - 1] == '.' &&
	           !memcmp(full + nl - zl, w->zone, zl)) {
		memcpy(w->sub, full, nl - zl - 1);
		w->sub[nl - zl - 1] = '\0';
	} else {
		return KITH_EVALUE;
	}
	snprintf(w->fqdn, sizeof(w->fqdn), "%s.", full);
	return 0;
}

static const char *type_of(int family)
{
	return family == AF_INET ? "A" : family == AF_INET6 ? "AAAA" : NULL;
}

/* ---- URLs ---- */

/* The length of cred's url without final '/'s, or 0 when cred is no
 * desec credential or its url no printable text without spaces. */
static size_t base_len(const struct dns_cred *cred)
{
	size_t len;

	if (!cred || cred->provider != DNS_PROVIDER_DESEC)
		return 0;
	len = strnlen(cred->url, sizeof(cred->url));
	if (len == sizeof(cred->url))
		return 0;
	/* dns_cred_parse() strips it; a struct filled by hand may not. */
	while (len > 0 && cred->url[len - 1] == '/')
		len--;
	for (size_t i = 0; i < len; i++)
		if (cred->url[i] <= ' ' || cred->url[i] > '~')
			return 0;
	return len;
}

/* Writes "<url>/domains/<zone>/<tail>" into out. */
static int make_url(char *out, size_t n, const struct dns_cred *cred, const char *zone,
                    const char *tail)
{
	size_t base = base_len(cred);
	int len;

	len = snprintf(out, n, "%.*s/domains/%s/%s", (int)base, cred->url, zone, tail);
	if (len < 0 || (size_t)len >= n) {
		out[0] = '\0';
		return KITH_ETOOBIG;
	}
	return 0;
}

/* Checks what every URL needs; *z gets the zone as deSEC names it. */
static int url_start(char *out, size_t n, const struct dns_cred *cred, const char *zone,
                     char z[DNS_NAME_TEXT_MAX + 1])
{
	if (out && n)
		out[0] = '\0';
	if (!out || n == 0 || base_len(cred) == 0 || lower_name(z, zone))
		return KITH_EVALUE;
	return 0;
}

int dns_desec_domain_url(char *out, size_t n, const struct dns_cred *cred, const char *zone)
{
	char z[DNS_NAME_TEXT_MAX + 1];
	int rc = url_start(out, n, cred, zone, z);

	return rc ? rc : make_url(out, n, cred, z, "");
}

int dns_desec_rrsets_url(char *out, size_t n, const struct dns_cred *cred, const char *zone)
{
	char z[DNS_NAME_TEXT_MAX + 1];
	int rc = url_start(out, n, cred, zone, z);

	return rc ? rc : make_url(out, n, cred, z, "rrsets/");
}

int dns_desec_rrset_url(char *out, size_t n, const struct dns_cred *cred, const char *zone,
                        const char *name, int family)
{
	char z[DNS_NAME_TEXT_MAX + 1], tail[DNS_NAME_TEXT_MAX + 32];
	struct where w;
	int rc = url_start(out, n, cred, zone, z);

	if (rc)
		return rc;
	if (!type_of(family) || where_of(&w, zone, name))
		return KITH_EVALUE;
	/* "rrsets//A/" would be folded to "rrsets/A/": deSEC names the
	 * apex "@" in URLs. */
	snprintf(tail, sizeof(tail), "rrsets/%s/%s/", w.sub[0] ? w.sub : "@", type_of(family));
	return make_url(out, n, cred, w.zone, tail);
}

/* ---- answers ---- */

/* Parses json[0..len) into *root, refusing what dns_desec_read() and
 * dns_desec_read_domain() refuse before looking at it. */
static int load(json_t **root, const char *json, size_t len)
{
	*root = NULL;
	if (len > DNS_DESEC_ANSWER_MAX)
		return KITH_ETOOBIG;
	if (!json)
		return KITH_EMALFORMED;
	*root = json_loadb(json, len, JSON_REJECT_DUPLICATES, NULL);
	return json_is_object(*root) ? 0 : KITH_EMALFORMED;
}

/* Checks that root is the RRset object of w and family, then reads it
 * (out->family is family): each record is an address as a string. */
static int read_set(json_t *root, const struct where *w, int family, struct dns_addrs *out,
                    uint32_t *ttl)
{
	json_t *records = json_object_get(root, "records"), *r;
	uint8_t addr[16];
	size_t i;
	int rc;

	if (!is_text(json_object_get(root, "domain"), w->zone) ||
	    !is_text(json_object_get(root, "subname"), w->sub) ||
	    !is_text(json_object_get(root, "name"), w->fqdn) ||
	    !is_text(json_object_get(root, "type"), type_of(family)) || !json_is_array(records))
		return KITH_EMALFORMED;
	if ((rc = dns_json_ttl(ttl, json_object_get(root, "ttl"))))
		return rc;
	json_array_foreach(records, i, r)
	{
		if ((rc = dns_json_address(addr, family, r)) ||
		    (rc = dns_json_addrs_add(out, addr)))
			return rc;
	}
	return 0;
}

int dns_desec_read(const char *json, size_t len, const char *zone, const char *name, int family,
                   struct dns_addrs *out, uint32_t *ttl)
{
	json_t *root = NULL;
	struct where w;
	int rc;

	if (out) {
		memset(out, 0, sizeof(*out));
		out->family = family;
	}
	if (ttl)
		*ttl = 0;
	if (!out || !ttl || !type_of(family) || where_of(&w, zone, name))
		return KITH_EVALUE;
	rc = load(&root, json, len);
	if (!rc)
		rc = read_set(root, &w, family, out, ttl);
	json_decref(root);
	if (rc) {
		memset(out->addr, 0, sizeof(out->addr));
		out->n = 0;
		*ttl = 0;
	}
	return rc;
}

int dns_desec_read_domain(const char *json, size_t len, const char *zone, uint32_t *minimum_ttl)
{
	char z[DNS_NAME_TEXT_MAX + 1];
	json_t *root = NULL, *t;
	int rc;

	if (minimum_ttl)
		*minimum_ttl = 0;
	if (!minimum_ttl || lower_name(z, zone))
		return KITH_EVALUE;
	rc = load(&root, json, len);
	t = json_object_get(root, "minimum_ttl");
	if (!rc &&
	    (!is_text(json_object_get(root, "name"), z) || !json_is_integer(t) ||
	     json_integer_value(t) < 1 || json_integer_value(t) > (json_int_t)DNS_DESEC_TTL_MAX))
		rc = KITH_EMALFORMED;
	if (!rc)
		*minimum_ttl = (uint32_t)json_integer_value(t);
	json_decref(root);
	return rc;
}

/* ---- bodies ---- */

/* The one-set bulk body: records (stolen) with ttl, or with records
 * empty a deletion, which carries no ttl. */
static json_t *set_body(const struct where *w, const char *type, json_t *records, uint32_t ttl)
{
	if (records && json_array_size(records) == 0)
		return json_pack("[{s:s, s:s, s:o}]", "subname", w->sub, "type", type, "records",
		                 records);
	return json_pack("[{s:s, s:s, s:I, s:o}]", "subname", w->sub, "type", type, "ttl",
	                 (json_int_t)ttl, "records", records);
}

int dns_desec_replace(char **out, size_t *len, const char *zone, const char *name,
                      const struct dns_addrs *to, uint32_t ttl)
{
	json_t *records;
	struct where w;
	int rc;

	if (out)
		*out = NULL;
	if (len)
		*len = 0;
	if (!out || !len || !to || where_of(&w, zone, name) || !dns_json_addrs_ok(to) ||
	    ttl > DNS_TTL_MAX)
		return KITH_EVALUE;
	if ((rc = dns_json_address_records(&records, to, DNS_JSON_RECORD_TEXT)))
		return rc;
	return dns_json_dump(set_body(&w, type_of(to->family), records, ttl), out, len);
}

int dns_desec_txt(char **out, size_t *len, const char *zone, const char *name, const char *text,
                  uint32_t ttl)
{
	char content[DNS_JSON_TXT_CONTENT_MAX];
	json_t *records;
	struct where w;

	if (out)
		*out = NULL;
	if (len)
		*len = 0;
	if (!out || !len || where_of(&w, zone, name) || ttl > DNS_TTL_MAX ||
	    (text && dns_json_txt_content(content, text)))
		return KITH_EVALUE;
	records = text ? json_pack("[s]", content) : json_array();
	if (!records)
		return -ENOMEM;
	return dns_json_dump(set_body(&w, "TXT", records, ttl), out, len);
}

/* ---- error answers ---- */

/* What deSEC said in an error answer: its first message, the field it is
 * about ("" for none, "detail" or "non_field_errors"), and for a TTL the
 * bound it named ("" if none). */
struct said {
	char text[ERROR_QUOTE_MAX + 4];
	char field[32];
	char bound[12];
	bool at_least; /* the bound is a minimum (else a maximum) */
};

/* The first non-empty string in v, depth levels deep at most, in the
 * answer's order; *key gets the key of the outermost object it is under
 * (NULL if none). DRF writes {"detail": "..."}, {"field": ["..."]}, and
 * a list of those for a bulk request. */
static json_t *first_message(json_t *v, int depth, const char **key)
{
	const char *k;
	json_t *e, *m;
	size_t i;

	if (json_is_string(v))
		return json_string_length(v) ? v : NULL;
	if (depth == 0)
		return NULL;
	json_array_foreach(v, i, e)
	{
		if ((m = first_message(e, depth - 1, key)))
			return m;
	}
	json_object_foreach(v, k, e)
	{
		if ((m = first_message(e, depth - 1, key))) {
			*key = k;
			return m;
		}
	}
	return NULL;
}

/* The number after "phrase" in text, 1 to 9 digits, into out (12
 * bytes); "" (and false) if there is none. */
static bool bound_after(char out[12], const char *text, const char *phrase)
{
	const char *p = strstr(text, phrase);
	size_t n = 0;

	out[0] = '\0';
	if (!p)
		return false;
	p += strlen(phrase);
	while (n < 10 && p[n] >= '0' && p[n] <= '9')
		n++;
	if (n == 0 || n == 10)
		return false;
	memcpy(out, p, n);
	out[n] = '\0';
	return true;
}

/* Reads deSEC's message from body[0..len), if it is JSON with one. */
static void read_said(struct said *s, const char *body, size_t len)
{
	const char *key = NULL;
	json_t *root, *m;

	memset(s, 0, sizeof(*s));
	if (!body || len == 0 || len > ERROR_BODY_MAX)
		return;
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
	m = first_message(root, ERROR_DEPTH_MAX, &key);
	if (m) {
		dns_json_printable(s->text, json_string_value(m), json_string_length(m),
		                   ERROR_QUOTE_MAX);
		if (key && strcmp(key, "detail") && strcmp(key, "non_field_errors"))
			dns_json_printable(s->field, key, strlen(key), sizeof(s->field) - 4);
		/* MinValueValidator's and max_value's words. */
		if (key && !strcmp(key, "ttl")) {
			if (bound_after(s->bound, s->text, "greater than or equal to "))
				s->at_least = true;
			else
				bound_after(s->bound, s->text, "less than or equal to ");
		}
	}
	json_decref(root);
}

/* The sentence for a 400: a TTL out of deSEC's bounds, or another
 * refusal. */
static void say_400(char *why, size_t n, const char *z, const struct said *s)
{
	if (s->bound[0] && s->at_least)
		dns_json_say(why, n,
		             "deSEC refuses a TTL under the minimum of zone %s, %s seconds (HTTP "
		             "400): set the plan's TTL (--ttl) to at least %s, or ask deSEC's "
		             "support for a lower minimum",
		             z, s->bound, s->bound);
	else if (s->bound[0])
		dns_json_say(why, n,
		             "deSEC refuses a TTL over its maximum of %s seconds for zone %s (HTTP "
		             "400): lower the plan's TTL (--ttl)",
		             s->bound, z);
	else if (s->text[0])
		dns_json_say(why, n, "deSEC refused the change to zone %s (HTTP 400): %s%s%s", z,
		             s->field, s->field[0] ? ": " : "", s->text);
	else
		dns_json_say(why, n,
		             "deSEC could not read kith's request for zone %s (HTTP 400): is url "
		             "deSEC's API?",
		             z);
}

/* The sentence for a status that is no 2xx, 401, 403 or 404: z is the
 * zone and says deSEC's message as a parenthesis ("" without one). */
static void say_other(char *why, size_t n, long status, long retry_after, const char *z,
                      const struct said *s, const char *says)
{
	if (status == 400)
		say_400(why, n, z, s);
	else if (status == 429 && retry_after > 0)
		dns_json_say(why, n,
		             "deSEC throttles requests for zone %s (HTTP 429)%s: it allows a few "
		             "changes per domain each minute and hour; try again in %ld seconds",
		             z, says, retry_after);
	else if (status == 429)
		dns_json_say(why, n,
		             "deSEC throttles requests for zone %s (HTTP 429)%s: it allows a few "
		             "changes per domain each minute and hour; try again later",
		             z, says);
	else if (status >= 500 && status <= 599)
		dns_json_say(why, n, "deSEC failed (HTTP %ld) on zone %s%s: try again later",
		             status, z, says);
	else if (status >= 300 && status <= 399)
		dns_json_say(
		    why, n,
		    "the deSEC API redirects (HTTP %ld) for zone %s: set url to the API's own "
		    "address, such as https://desec.io/api/v1 (kith follows no redirect)",
		    status, z);
	else if (status >= 100 && status <= 599)
		dns_json_say(why, n,
		             "the deSEC API answered HTTP %ld for zone %s%s: is url deSEC's API?",
		             status, z, says);
	else
		dns_json_say(why, n,
		             "the deSEC API gave no valid HTTP status (%ld) for zone %s: is url "
		             "deSEC's API?",
		             status, z);
}

enum dns_result dns_desec_status(long status, const char *body, size_t len, long retry_after,
                                 const char *zone, char *why, size_t n)
{
	char says[ERROR_QUOTE_MAX + 64], z[DNS_NAME_TEXT_MAX + 8];
	struct said s;

	if (status >= 200 && status <= 299) {
		dns_json_say(why, n, "%s", "");
		return DNS_RESULT_OK;
	}
	/* The caller's zone, but the sentence is printable whatever it is. */
	zone = zone ? zone : "(none)";
	dns_json_printable(z, zone, strnlen(zone, DNS_NAME_TEXT_MAX + 2), DNS_NAME_TEXT_MAX + 1);
	read_said(&s, body, len);
	snprintf(says, sizeof(says), s.text[0] ? " (deSEC says: %s%s%s)" : "%s%s%s", s.field,
	         s.field[0] ? ": " : "", s.text);
	if (status == 401) {
		dns_json_say(
		    why, n,
		    "deSEC refuses the token for zone %s (HTTP 401)%s: check token, an API token "
		    "of the deSEC account holding the zone, and that it has not expired",
		    z, says);
		return DNS_RESULT_REFUSED;
	}
	if (status == 403) {
		dns_json_say(why, n,
		             "deSEC's token may not make this change in zone %s (HTTP 403)%s: give "
		             "it write permission (a token policy with perm_write) on the records "
		             "kith changes, and let this host in (allowed_subnets)",
		             z, says);
		return DNS_RESULT_REFUSED;
	}
	if (status == 404) {
		dns_json_say(why, n,
		             "deSEC has no domain %s in the token's account (HTTP 404)%s: check "
		             "the zone, the token and url",
		             z, says);
		return DNS_RESULT_NOTZONE;
	}
	say_other(why, n, status, retry_after, z, &s, says);
	return DNS_RESULT_OTHER;
}

uint32_t dns_desec_wait_ms(long status, long retry_after)
{
	if (status != 429 || retry_after < 0 || retry_after > DNS_DESEC_WAIT_MAX)
		return 0;
	return (uint32_t)(retry_after ? retry_after : 1) * 1000u;
}
