/* The reading of a credential's lines and keys; each value's check is
 * cred_value.c's. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "cred.h"
#include "cred_int.h"
#include "proto/error.h"

/* One "key = value" line; key_len 0 for a blank or comment line. */
struct line {
	const char *key, *val;
	size_t key_len, val_len;
	unsigned no;
};

#define MSG_MAX DNS_CRED_MSG_MAX

typedef int (*set_fn)(struct dns_cred *c, const char *v, size_t n, char msg[MSG_MAX]);

struct key_def {
	const char *name;
	unsigned providers; /* mask of 1 << enum dns_provider */
	bool required;
	const char *what; /* says what the value is, for a missing key */
	set_fn set;
};

#define P_RFC2136 (1u << DNS_PROVIDER_RFC2136)
#define P_PDNS (1u << DNS_PROVIDER_PDNS)
#define P_DESEC (1u << DNS_PROVIDER_DESEC)

/* In the order the "expected" lists name them. provider is read first,
 * by find_provider(), and its absence said there. */
static const struct key_def keys[] = {
    {"provider", P_RFC2136 | P_PDNS | P_DESEC, false, NULL, NULL},
    {"server", P_RFC2136, true, "the DNS server's IP address and port, e.g. 192.0.2.53:53",
     dns_cred_set_server},
    {"key", P_RFC2136, true, "the TSIG key's name", dns_cred_set_key},
    {"algorithm", P_RFC2136, false, NULL, dns_cred_set_algorithm},
    {"secret", P_RFC2136, true, "the TSIG key's base64 secret", dns_cred_set_secret},
    {"url", P_PDNS, true, "the PowerDNS API's address, e.g. http://127.0.0.1:8081",
     dns_cred_set_url},
    {"url", P_DESEC, false, NULL, dns_cred_set_url},
    {"token", P_PDNS, true, "the PowerDNS API key", dns_cred_set_token},
    {"token", P_DESEC, true, "the deSEC API token", dns_cred_set_token},
    {"server_id", P_PDNS, false, NULL, dns_cred_set_server_id},
};
#define N_KEYS (sizeof(keys) / sizeof(keys[0]))

static void say(char *why, size_t why_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void say(char *why, size_t why_len, const char *fmt, ...)
{
	va_list ap;

	if (!why || why_len == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(why, why_len, fmt, ap);
	va_end(ap);
}

static bool eq(const char *s, size_t n, const char *lit)
{
	return strlen(lit) == n && memcmp(s, lit, n) == 0;
}

static bool blank(char ch)
{
	return ch == ' ' || ch == '\t';
}

/* Refuses a byte no line may hold; *msg says which and where. */
static int check_bytes(const char *s, size_t n, char msg[MSG_MAX])
{
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch == 0) {
			snprintf(msg, MSG_MAX, "contains a NUL byte (column %zu)", i + 1);
			return KITH_EVALUE;
		}
		if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
			snprintf(msg, MSG_MAX, "contains the control character 0x%02x (column %zu)",
			         ch, i + 1);
			return KITH_EVALUE;
		}
		if (ch > 0x7f) {
			snprintf(msg, MSG_MAX,
			         "contains the non-ASCII byte 0x%02x (column %zu): "
			         "values are ASCII",
			         ch, i + 1);
			return KITH_EVALUE;
		}
	}
	return 0;
}

static void trim(const char **s, size_t *n)
{
	while (*n > 0 && blank(**s)) {
		(*s)++;
		(*n)--;
	}
	while (*n > 0 && blank((*s)[*n - 1]))
		(*n)--;
}

/* Splits s[0..n), one line without its "\n", into ln. */
static int split_line(struct line *ln, const char *s, size_t n, char msg[MSG_MAX])
{
	const char *eqs;
	int rc;

	if (n > 0 && s[n - 1] == '\r')
		n--;
	if (n > DNS_CRED_LINE_MAX) {
		snprintf(msg, MSG_MAX, "longer than %d bytes", DNS_CRED_LINE_MAX);
		return KITH_EVALUE;
	}
	if ((rc = check_bytes(s, n, msg)))
		return rc;
	trim(&s, &n);
	ln->key_len = 0;
	if (n == 0 || s[0] == '#')
		return 0;
	eqs = memchr(s, '=', n);
	if (!eqs) {
		snprintf(msg, MSG_MAX, "expected \"key = value\"");
		return KITH_EVALUE;
	}
	ln->key = s;
	ln->key_len = (size_t)(eqs - s);
	ln->val = eqs + 1;
	ln->val_len = n - ln->key_len - 1;
	trim(&ln->key, &ln->key_len);
	trim(&ln->val, &ln->val_len);
	if (ln->key_len == 0) {
		snprintf(msg, MSG_MAX, "expected \"key = value\", found no key before '='");
		return KITH_EVALUE;
	}
	return 0;
}

/* Reads the line starting at *pos of text[0..len) into ln and moves *pos
 * past it. Returns 1 at the end of the text, 0 or KITH_EVALUE. */
static int next_line(struct line *ln, const char *text, size_t len, size_t *pos, char msg[MSG_MAX])
{
	const char *s = text + *pos, *nl;
	size_t n;

	if (*pos >= len)
		return 1;
	nl = memchr(s, '\n', len - *pos);
	n = nl ? (size_t)(nl - s) : len - *pos;
	*pos += n + (nl ? 1 : 0);
	ln->no++;
	return split_line(ln, s, n, msg);
}

static const struct key_def *find_key(enum dns_provider p, const char *k, size_t n)
{
	for (size_t i = 0; i < N_KEYS; i++)
		if ((keys[i].providers & (1u << p)) && eq(k, n, keys[i].name))
			return &keys[i];
	return NULL;
}

/* "provider, server, key, algorithm, secret" for p. */
static void expected_keys(enum dns_provider p, char *out, size_t cap)
{
	size_t at = 0;

	out[0] = '\0';
	for (size_t i = 0; i < N_KEYS && at < cap; i++) {
		if (!(keys[i].providers & (1u << p)))
			continue;
		int w = snprintf(out + at, cap - at, "%s%s", at ? ", " : "", keys[i].name);
		if (w < 0)
			break;
		at += (size_t)w;
	}
}

static int parse_provider(const char *v, size_t n, enum dns_provider *p, char msg[MSG_MAX])
{
	char q[32];

	if (eq(v, n, "rfc2136"))
		*p = DNS_PROVIDER_RFC2136;
	else if (eq(v, n, "pdns"))
		*p = DNS_PROVIDER_PDNS;
	else if (eq(v, n, "desec"))
		*p = DNS_PROVIDER_DESEC;
	else {
		snprintf(msg, MSG_MAX, "unknown provider%s (expected rfc2136, pdns or desec)",
		         dns_cred_quote(q, v, n));
		return KITH_EVALUE;
	}
	return 0;
}

/* Finds the provider line, leniently: the keys each provider takes are
 * known before the lines are read in order. Returns 0 with *p set (NONE
 * when no line names one) or KITH_EVALUE for a provider line's value. */
static int find_provider(enum dns_provider *p, unsigned *p_line, const char *text, size_t len,
                         char msg[MSG_MAX])
{
	struct line ln = {0};
	size_t pos = 0;
	int rc;

	*p = DNS_PROVIDER_NONE;
	while ((rc = next_line(&ln, text, len, &pos, msg)) != 1) {
		if (rc || !eq(ln.key, ln.key_len, "provider"))
			continue;
		*p_line = ln.no;
		return parse_provider(ln.val, ln.val_len, p, msg);
	}
	return 0;
}

/* Applies one line to c, in line order. seen[] holds the line each key
 * was first given on. */
static int apply_line(struct dns_cred *c, const struct line *ln, unsigned seen[N_KEYS],
                      char msg[MSG_MAX])
{
	const struct key_def *k = find_key(c->provider, ln->key, ln->key_len);
	char list[128], q[32];
	size_t i;

	if (!k) {
		expected_keys(c->provider, list, sizeof(list));
		if (dns_cred_quotable(ln->key, ln->key_len))
			snprintf(msg, MSG_MAX, "unknown key%s (expected %s)",
			         dns_cred_quote(q, ln->key, ln->key_len), list);
		else
			snprintf(msg, MSG_MAX, "not a key name before '=' (expected %s)", list);
		return KITH_EVALUE;
	}
	i = (size_t)(k - keys);
	if (seen[i]) {
		snprintf(msg, MSG_MAX, "%s given twice (first on line %u)", k->name, seen[i]);
		return KITH_EVALUE;
	}
	seen[i] = ln->no;
	if (!k->set)
		return 0;
	if (ln->val_len == 0) {
		snprintf(msg, MSG_MAX, "%s has no value", k->name);
		return KITH_EVALUE;
	}
	return k->set(c, ln->val, ln->val_len, msg);
}

/* Checks the required keys of c->provider were given, and applies the
 * defaults of those that were not. */
static int finish(struct dns_cred *c, const unsigned seen[N_KEYS], char *why, size_t why_len)
{
	for (size_t i = 0; i < N_KEYS; i++) {
		if (!(keys[i].providers & (1u << c->provider)) || seen[i])
			continue;
		if (keys[i].required) {
			say(why, why_len, "missing \"%s\" (%s)", keys[i].name, keys[i].what);
			return KITH_EMISSING;
		}
	}
	if (c->provider == DNS_PROVIDER_DESEC && !c->url[0])
		snprintf(c->url, sizeof(c->url), "%s", DNS_CRED_DESEC_URL);
	if (c->provider == DNS_PROVIDER_PDNS && !c->server_id[0])
		snprintf(c->server_id, sizeof(c->server_id), "%s", DNS_CRED_PDNS_SERVER_ID);
	return 0;
}

/* Reads every line in order against c->provider (NONE: syntax only). */
static int read_lines(struct dns_cred *c, const char *text, size_t len, char *why, size_t why_len)
{
	unsigned seen[N_KEYS] = {0};
	struct line ln = {0};
	char msg[MSG_MAX];
	size_t pos = 0;
	int rc;

	while ((rc = next_line(&ln, text, len, &pos, msg)) != 1) {
		if (!rc && ln.key_len && c->provider != DNS_PROVIDER_NONE)
			rc = apply_line(c, &ln, seen, msg);
		if (rc) {
			say(why, why_len, "line %u: %s", ln.no, msg);
			return rc;
		}
	}
	if (c->provider == DNS_PROVIDER_NONE) {
		say(why, why_len, "missing \"provider\" (rfc2136, pdns or desec)");
		return KITH_EMISSING;
	}
	return finish(c, seen, why, why_len);
}

int dns_cred_parse(struct dns_cred *out, const char *text, size_t len, char *why, size_t why_len)
{
	char msg[MSG_MAX];
	unsigned p_line = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	say(why, why_len, "%s", "");
	if (len > DNS_CRED_TEXT_MAX) {
		say(why, why_len, "the credential is %zu bytes, more than %d", len,
		    DNS_CRED_TEXT_MAX);
		return KITH_EVALUE;
	}
	rc = find_provider(&out->provider, &p_line, text, len, msg);
	if (rc)
		say(why, why_len, "line %u: %s", p_line, msg);
	else
		rc = read_lines(out, text, len, why, why_len);
	if (rc)
		dns_cred_wipe(out);
	return rc;
}

void dns_cred_wipe(struct dns_cred *c)
{
	if (c)
		sodium_memzero(c, sizeof(*c));
}

const char *dns_provider_name(enum dns_provider p)
{
	switch (p) {
	case DNS_PROVIDER_RFC2136:
		return "rfc2136";
	case DNS_PROVIDER_PDNS:
		return "pdns";
	case DNS_PROVIDER_DESEC:
		return "desec";
	default:
		return "none";
	}
}
