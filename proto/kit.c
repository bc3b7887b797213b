#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "error.h"
#include "kit.h"
#include "peerid.h"
#include "utf8.h"

/* ---- writing ---- */

/* A text of at most max bytes, valid UTF-8, without control characters;
 * without a blank either when one_word. */
static bool text_ok(const char *s, size_t max, bool one_word)
{
	size_t len = strnlen(s, max + 1);

	if (len > max)
		return false;
	for (size_t i = 0; i < len;) {
		size_t n = proto_utf8_seq((const uint8_t *)s + i, len - i, NULL);
		if (n == 0 || (uint8_t)s[i] < 0x20 || s[i] == 0x7f || (one_word && s[i] == ' '))
			return false;
		i += n;
	}
	return true;
}

int proto_kit_format(const struct proto_kit *kit, char *out, size_t n)
{
	char peer[PROTO_PEERID_TEXT_LEN + 1], secret[PROTO_PEERID_TEXT_LEN + 1],
	    founder[PROTO_PEERID_TEXT_LEN + 1];
	size_t len = 0;
	int w;

	if (!text_ok(kit->name, PROTO_MEMBER_NAME_MAX, false) ||
	    kit->n_partners > PROTO_KIT_PARTNERS_MAX)
		return KITH_EVALUE;
	proto_peerid_format(peer, kit->peer);
	proto_peerid_format(secret, kit->seed);
	proto_peerid_format(founder, kit->founder);
	w = snprintf(out, n,
	             "# The kith recovery kit of %s\n"
	             "#\n"
	             "# Whoever holds this page IS this collective to its kith network: they\n"
	             "# can sign as it, read its backups and use every grant its partners gave\n"
	             "# it. Keep it on paper, somewhere safe; never in a mail or a chat.\n"
	             "#\n"
	             "# To come back on a new machine: kith init --restore FILE (- to type\n"
	             "# it in), start kithd, then rejoin through a partner below:\n"
	             "#   kith join PARTNER --endpoint ENDPOINT\n"
	             "%s\n%s%s%speer %s\nsecret %s\nfounder %s\n",
	             kit->name[0] ? kit->name : peer, PROTO_KIT_HEADER, kit->name[0] ? "name " : "",
	             kit->name, kit->name[0] ? "\n" : "", peer, secret, founder);
	sodium_memzero(secret, sizeof(secret));
	if (w < 0 || (size_t)w >= n)
		return KITH_ETOOBIG;
	len = (size_t)w;
	for (size_t i = 0; i < kit->n_partners; i++) {
		const struct proto_kit_partner *p = &kit->partners[i];
		if (!text_ok(p->endpoint, PROTO_ENDPOINT_MAX, true) || !p->endpoint[0] ||
		    !text_ok(p->name, PROTO_MEMBER_NAME_MAX, false))
			return KITH_EVALUE;
		proto_peerid_format(peer, p->peer);
		w = snprintf(out + len, n - len, "partner %s %s%s%s\n", peer, p->endpoint,
		             p->name[0] ? " " : "", p->name);
		if (w < 0 || (size_t)w >= n - len)
			return KITH_ETOOBIG;
		len += (size_t)w;
	}
	return (int)len;
}

/* ---- reading ---- */

struct parse {
	struct proto_kit *kit;
	unsigned line;
	bool header, have_peer, have_secret, have_founder, have_name;
	char *why;
	size_t why_len;
};

__attribute__((format(printf, 3, 4))) static int fail(struct parse *p, int code, const char *fmt,
                                                      ...)
{
	va_list ap;
	int w;

	if (p->why && p->why_len) {
		w = p->line ? snprintf(p->why, p->why_len, "line %u: ", p->line) : 0;
		if (w >= 0 && (size_t)w < p->why_len) {
			va_start(ap, fmt);
			vsnprintf(p->why + w, p->why_len - (size_t)w, fmt, ap);
			va_end(ap);
		}
	}
	return code;
}

/* Copies the next blank-separated word of *s (at most max bytes) into out
 * and moves *s past it and the blanks after it. */
static int word(const char **s, char *out, size_t max)
{
	size_t len = strcspn(*s, " \t");

	if (len == 0 || len > max)
		return len ? KITH_ETOOBIG : KITH_EMISSING;
	memcpy(out, *s, len);
	out[len] = '\0';
	*s += len;
	*s += strspn(*s, " \t");
	return 0;
}

static int peer_id(struct parse *p, const char *what, const char *text, uint8_t out[32])
{
	char why[160];

	if (proto_peerid_parse(out, text, why, sizeof(why)) != 0)
		return fail(p, KITH_EVALUE, "the %s: %s", what, why);
	return 0;
}

/* A key that may come once: *seen says whether it came before. */
static int once(struct parse *p, bool *seen, const char *key)
{
	if (*seen)
		return fail(p, KITH_EDUPKEY, "a second '%s'", key);
	*seen = true;
	return 0;
}

static int partner(struct parse *p, const char *rest)
{
	struct proto_kit_partner *pp;
	char id[PROTO_PEERID_TEXT_LEN + 1];

	if (p->kit->n_partners == PROTO_KIT_PARTNERS_MAX)
		return fail(p, KITH_ETOOBIG, "more than %d partners", PROTO_KIT_PARTNERS_MAX);
	pp = &p->kit->partners[p->kit->n_partners];
	if (word(&rest, id, PROTO_PEERID_TEXT_LEN) != 0 ||
	    word(&rest, pp->endpoint, PROTO_ENDPOINT_MAX) != 0)
		return fail(p, KITH_EVALUE,
		            "a partner is 'partner PEER-ID tcp://HOST:PORT [NAME]'");
	if (peer_id(p, "partner's peer ID", id, pp->peer) != 0)
		return KITH_EVALUE;
	if (strncmp(pp->endpoint, "tcp://", 6) != 0 ||
	    !text_ok(pp->endpoint, PROTO_ENDPOINT_MAX, true))
		return fail(p, KITH_EVALUE, "a partner's endpoint is tcp://HOST:PORT");
	if (!text_ok(rest, PROTO_MEMBER_NAME_MAX, false))
		return fail(p, KITH_EVALUE, "a partner's name is at most %d bytes of text",
		            PROTO_MEMBER_NAME_MAX);
	snprintf(pp->name, sizeof(pp->name), "%s", rest);
	p->kit->n_partners++;
	return 0;
}

/* One line without its end, NUL-terminated, leading blanks skipped. */
static int line(struct parse *p, const char *s)
{
	char key[16];

	if (!*s || *s == '#')
		return 0;
	if (!p->header) {
		if (!strcmp(s, PROTO_KIT_HEADER)) {
			p->header = true;
			return 0;
		}
		return fail(p, KITH_EVERSION,
		            strncmp(s, "kith-recovery-kit ", 18)
		                ? "not a kith recovery kit (it starts with '" PROTO_KIT_HEADER "')"
		                : "a recovery kit of another version");
	}
	if (word(&s, key, sizeof(key) - 1) != 0)
		return fail(p, KITH_EVALUE, "unknown line");
	if (!strcmp(key, "partner"))
		return partner(p, s);
	if (!strcmp(key, "name")) {
		if (once(p, &p->have_name, key))
			return KITH_EDUPKEY;
		if (!*s || !text_ok(s, PROTO_MEMBER_NAME_MAX, false))
			return fail(p, KITH_EVALUE, "the name is 1 to %d bytes of text",
			            PROTO_MEMBER_NAME_MAX);
		snprintf(p->kit->name, sizeof(p->kit->name), "%s", s);
		return 0;
	}
	if (!strcmp(key, "peer"))
		return once(p, &p->have_peer, key) ? KITH_EDUPKEY
		                                   : peer_id(p, "peer ID", s, p->kit->peer);
	if (!strcmp(key, "secret"))
		return once(p, &p->have_secret, key) ? KITH_EDUPKEY
		                                     : peer_id(p, "secret", s, p->kit->seed);
	if (!strcmp(key, "founder"))
		return once(p, &p->have_founder, key) ? KITH_EDUPKEY
		                                      : peer_id(p, "founder", s, p->kit->founder);
	return fail(p, KITH_EVALUE, "unknown key '%s'", key);
}

static int parse_lines(struct parse *p, const char *text, size_t len)
{
	char buf[PROTO_KIT_TEXT_MAX + 1];
	char *s = buf;
	int rc = 0;

	memcpy(buf, text, len);
	buf[len] = '\0';
	if (strlen(buf) != len)
		return fail(p, KITH_EVALUE, "a NUL byte");
	while (s && !rc) {
		char *end = strchr(s, '\n'), *next = end ? end + 1 : NULL;
		size_t n = end ? (size_t)(end - s) : strlen(s);
		p->line++;
		while (n && (s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
			n--;
		s[n] = '\0';
		rc = line(p, s + strspn(s, " \t"));
		s = next;
	}
	sodium_memzero(buf, sizeof(buf));
	if (rc)
		return rc;
	if (!p->header)
		return fail(p, KITH_EVERSION, "not a kith recovery kit: it is empty");
	if (!p->have_peer || !p->have_secret || !p->have_founder)
		return fail(p, KITH_EMISSING, "the kit lacks its %s",
		            !p->have_peer     ? "peer ID"
		            : !p->have_secret ? "secret"
		                              : "founder");
	return 0;
}

int proto_kit_parse(struct proto_kit *out, const char *text, size_t len, char *why, size_t why_len)
{
	struct parse p = {.kit = out, .why = why, .why_len = why_len};
	int rc;

	memset(out, 0, sizeof(*out));
	if (why && why_len)
		why[0] = '\0';
	if (len > PROTO_KIT_TEXT_MAX)
		return fail(&p, KITH_ETOOBIG, "a kit is at most %d bytes", PROTO_KIT_TEXT_MAX);
	rc = parse_lines(&p, text, len);
	if (rc)
		sodium_memzero(out, sizeof(*out));
	return rc;
}
