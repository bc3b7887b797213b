/* The recovery kit: what kith recovery-kit writes, kith init --restore
 * reads back whole; the identity comes back from its secret; a typo, a
 * missing line, a second secret, a kit of another version or anything
 * unknown is refused with the line named, and leaves no secret behind. */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "proto/error.h"
#include "proto/identity.h"
#include "proto/kit.h"
#include "tap.h"

static struct proto_kit kit, back;
static char text[PROTO_KIT_TEXT_MAX], edited[PROTO_KIT_TEXT_MAX + 64], why[200];

static int parse(const char *t)
{
	return proto_kit_parse(&back, t, strlen(t), why, sizeof(why));
}

/* text with the line starting with key replaced by line ("" drops it). */
static const char *with_line(const char *key, const char *line)
{
	char nl_key[40];
	const char *at, *end;

	snprintf(nl_key, sizeof(nl_key), "\n%s", key);
	at = strstr(text, nl_key);
	if (!at)
		return text;
	at++;
	end = strchr(at, '\n') + 1;
	snprintf(edited, sizeof(edited), "%.*s%s%s", (int)(at - text), text, line, end);
	return edited;
}

static int seed_wiped(void)
{
	static const uint8_t zero[PROTO_SEED_LEN];

	return !memcmp(back.seed, zero, sizeof(zero));
}

int main(void)
{
	struct proto_identity *id = NULL, *again = NULL;
	uint8_t seed[PROTO_SEED_LEN];
	int len;

	if (sodium_init() < 0)
		return 1;
	ok(proto_identity_generate(&id) == 0, "an identity");
	proto_identity_seed(id, seed);
	ok(proto_identity_from_seed(&again, seed) == 0 &&
	       !memcmp(again->pk, id->pk, PROTO_KEY_LEN) &&
	       !memcmp(again->curve_pk, id->curve_pk, PROTO_KEY_LEN) &&
	       !memcmp(again->sk, id->sk, 64),
	   "its seed gives back the same identity, CURVE keys included");

	snprintf(kit.name, sizeof(kit.name), "coop ex\xc3\xa9mple");
	memcpy(kit.peer, id->pk, PROTO_KEY_LEN);
	memcpy(kit.seed, seed, PROTO_SEED_LEN);
	memset(kit.founder, 0x33, PROTO_KEY_LEN);
	kit.n_partners = 2;
	for (int i = 0; i < 2; i++) {
		memset(kit.partners[i].peer, 0x44 + i, PROTO_KEY_LEN);
		snprintf(kit.partners[i].endpoint, sizeof(kit.partners[i].endpoint),
		         "tcp://p%d.example.org:7707", i);
		snprintf(kit.partners[i].name, sizeof(kit.partners[i].name), i ? "" : "two words");
	}
	len = proto_kit_format(&kit, text, sizeof(text));
	ok(len > 0 && strstr(text, "IS this collective"), "formatted, with the warning");
	is(parse(text), 0, "and parsed back");
	ok(!memcmp(&kit, &back, sizeof(kit)), "to the same kit");

	{
		char crlf[PROTO_KIT_TEXT_MAX * 2], *o = crlf;
		for (const char *p = text; *p; p++) {
			if (*p == '\n')
				*o++ = '\r';
			*o++ = *p;
		}
		*o = '\0';
		ok(parse(crlf) == 0 && !memcmp(&kit, &back, sizeof(kit)),
		   "CRLF line ends, as from a Windows editor, are fine");
	}
	{
		char *secret = strstr(text, "\nsecret ") + 8;
		char saved = *secret;
		*secret = saved == 'A' ? 'B' : 'A';
		is(parse(text), KITH_EVALUE, "a typo in the secret is refused");
		ok(strstr(why, "secret") && strstr(why, "line"), "naming the secret and its line");
		ok(seed_wiped(), "and nothing of the secret is left");
		*secret = saved;
	}
	is(parse(with_line("secret ", "")), KITH_EMISSING, "no secret: refused");
	ok(strstr(why, "secret") != NULL, "saying so");
	is(parse(with_line("founder ", "")), KITH_EMISSING, "no founder: refused");
	is(parse(with_line("peer ", "")), KITH_EMISSING, "no peer ID: refused");
	{
		char twice[PROTO_KIT_TEXT_MAX + 200];
		const char *line = strstr(text, "\nsecret ") + 1;
		snprintf(twice, sizeof(twice), "%s%.*s", text, (int)(strchr(line, '\n') - line + 1),
		         line);
		is(parse(twice), KITH_EDUPKEY, "a second secret: refused");
		ok(seed_wiped(), "leaving no secret behind");
	}
	is(parse(with_line("kith-recovery-kit", "kith-recovery-kit 2\n")), KITH_EVERSION,
	   "another version: refused");
	is(parse("hello\n"), KITH_EVERSION, "not a kit: refused");
	is(parse("# only comments\n\n"), KITH_EVERSION, "an empty kit: refused");
	is(parse(with_line("name ", "colour blue\n")), KITH_EVALUE, "an unknown key: refused");
	ok(strstr(why, "colour") != NULL, "naming it");
	is(parse(with_line("name ", "name \x01x\n")), KITH_EVALUE,
	   "a control character in the name: refused");
	is(parse(with_line("partner ", "partner AAAA http://x\n")), KITH_EVALUE,
	   "a malformed partner: refused");
	{
		const char *p0 = strstr(text, "\npartner ") + 1;
		char line[400], many[PROTO_KIT_TEXT_MAX + 4096];
		size_t at;
		snprintf(line, sizeof(line), "%.*s", (int)(strchr(p0, '\n') - p0 + 1), p0);
		at = (size_t)snprintf(many, sizeof(many), "%s", text);
		for (int i = 0; i < PROTO_KIT_PARTNERS_MAX - 2; i++)
			at += (size_t)snprintf(many + at, sizeof(many) - at, "%s", line);
		is(proto_kit_parse(&back, many, at, why, sizeof(why)), 0, "8 partners are fine");
		at += (size_t)snprintf(many + at, sizeof(many) - at, "%s", line);
		is(proto_kit_parse(&back, many, at, why, sizeof(why)), KITH_ETOOBIG,
		   "a 9th partner: refused");
	}
	{
		char nul[64] = PROTO_KIT_HEADER "\nname a";
		size_t n = strlen(nul) + 3;
		is(proto_kit_parse(&back, nul, n, why, sizeof(why)), KITH_EVALUE,
		   "a NUL byte: refused");
	}
	is(proto_kit_parse(&back, text, PROTO_KIT_TEXT_MAX + 1, why, sizeof(why)), KITH_ETOOBIG,
	   "past the size limit: refused before reading");

	snprintf(kit.name, sizeof(kit.name), "tab\there");
	is(proto_kit_format(&kit, text, sizeof(text)), KITH_EVALUE,
	   "format refuses a name with a control character");
	memset(kit.name, 0, sizeof(kit.name));
	kit.n_partners = 0;
	memset(kit.partners, 0, sizeof(kit.partners));
	len = proto_kit_format(&kit, text, sizeof(text));
	ok(len > 0 && parse(text) == 0 && !memcmp(&kit, &back, sizeof(kit)),
	   "a kit without name or partner round-trips");
	is(proto_kit_format(&kit, text, 100), KITH_ETOOBIG, "a buffer too small: refused");

	sodium_memzero(seed, sizeof(seed));
	proto_identity_free(&id);
	proto_identity_free(&again);
	return tap_done();
}
