/* Unit tests of invitation tokens (proto/token.c): text form, checksum,
 * payload rules, invitation ID and join proof. The format is rebuilt here
 * from docs/protocol.md (section 9) with libsodium and a base32 of the
 * test's own, so the code is checked against the document, not itself. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "proto/error.h"
#include "proto/mp.h"
#include "proto/token.h"
#include "tap.h"

#define PREFIX_LEN 12
#define TEXT_SIZE (PROTO_TOKEN_TEXT_MAX + 1)

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

static struct proto_token tok, back;
static char text[TEXT_SIZE], why[200];

/* ---- the format, rebuilt from the document ---- */

/* base32 of data, bit by bit, appended to out at *at. */
static void base32(char *out, size_t *at, const uint8_t *data, size_t len)
{
	size_t bits = len * 8;
	for (size_t b = 0; b < bits; b += 5) {
		unsigned v = 0;
		for (size_t k = 0; k < 5; k++) {
			size_t bit = b + k;
			unsigned one = bit < bits ? (data[bit / 8] >> (7 - bit % 8)) & 1 : 0;
			v = v << 1 | one;
		}
		out[(*at)++] = alphabet[v];
	}
	out[*at] = '\0';
}

/* A token text carrying payload[0..len) with a correct checksum:
 * BLAKE2b-256 of "kith-invite-v1" NUL || payload, first 4 bytes. */
static void make_text(char *out, const uint8_t *payload, size_t len)
{
	static uint8_t data[8192];
	static const uint8_t domain[] = "kith-invite-v1";
	uint8_t h[32];
	size_t at = PREFIX_LEN;
	crypto_generichash_state st;
	crypto_generichash_init(&st, NULL, 0, sizeof(h));
	crypto_generichash_update(&st, domain, sizeof(domain));
	crypto_generichash_update(&st, payload, len);
	crypto_generichash_final(&st, h, sizeof(h));
	memcpy(data, payload, len);
	memcpy(data + len, h, 4);
	memcpy(out, "kith-invite-", PREFIX_LEN);
	base32(out, &at, data, len + 4);
}

/* ---- raw payloads, built without the formatter's checks ---- */

static struct mp_buf raw;
static msgpack_packer pk;

static msgpack_packer *raw_begin(uint32_t items, uint64_t version)
{
	mp_buf_free(&raw);
	mp_buf_packer(&raw, &pk);
	msgpack_pack_array(&pk, items);
	msgpack_pack_uint64(&pk, version);
	return &pk;
}

static void pack_fill(uint8_t fill, size_t len)
{
	uint8_t k[64];
	memset(k, fill, sizeof(k));
	mp_pack_bin(&pk, k, len);
}

/* The fixture's fields after the version, with endpoints and scopes
 * given as texts. */
static void pack_rest(const char *const *endpoints, uint32_t n_ep, const char *const *scopes,
                      uint32_t n_sc)
{
	pack_fill(0x11, 32);
	pack_fill(0x22, 32);
	msgpack_pack_array(&pk, n_ep);
	for (uint32_t i = 0; i < n_ep; i++)
		mp_pack_cstr(&pk, endpoints[i]);
	pack_fill(0x33, 32);
	msgpack_pack_array(&pk, n_sc);
	for (uint32_t i = 0; i < n_sc; i++)
		mp_pack_cstr(&pk, scopes[i]);
	msgpack_pack_uint64(&pk, 1700086400);
}

static const char *const one_ep[] = {"tcp://issuer.example:7707"};

static int parse_raw(void)
{
	static char t[2 * TEXT_SIZE];
	make_text(t, raw.data, raw.len);
	return proto_token_parse(&back, t, why, sizeof(why));
}

/* ---- fixtures ---- */

static void fill_token(struct proto_token *t)
{
	memset(t, 0, sizeof(*t));
	memset(t->founder, 0x11, PROTO_KEY_LEN);
	memset(t->issuer, 0x22, PROTO_KEY_LEN);
	t->n_endpoints = 2;
	strcpy(t->endpoints[0], "tcp://issuer.example:7707");
	strcpy(t->endpoints[1], "tcp://[2001:db8::1]:7707");
	for (int i = 0; i < PROTO_TOKEN_SECRET_LEN; i++)
		t->secret[i] = (uint8_t)i;
	t->n_scopes = 3;
	t->scopes[0].type = PROTO_SCOPE_MONITOR;
	t->scopes[1].type = PROTO_SCOPE_BACKUP;
	t->scopes[1].quota = 50ULL << 30;
	t->scopes[2].type = PROTO_SCOPE_DNS;
	strcpy(t->scopes[2].zone, "example.org");
	t->expires = 1700086400;
}

static int format_fixture(void)
{
	fill_token(&tok);
	return proto_token_format(&tok, text, sizeof(text));
}

/* ---- tests ---- */

static void test_round_trip(void)
{
	is(format_fixture(), 0, "format: fixture");
	ok(strncmp(text, "kith-invite-", PREFIX_LEN) == 0, "format: starts with kith-invite-");
	bool upper = true;
	for (const char *c = text + PREFIX_LEN; *c; c++)
		upper = upper && strchr(alphabet, *c) != NULL;
	ok(upper, "format: then only A-Z and 2-7");
	is(proto_token_parse(&back, text, why, sizeof(why)), 0, "parse: fixture");
	ok(memcmp(&tok, &back, sizeof(tok)) == 0, "parse: same token");

	/* the payload of the document, byte for byte */
	raw_begin(7, 1);
	static const char *const eps[] = {"tcp://issuer.example:7707", "tcp://[2001:db8::1]:7707"};
	static const char *const scs[] = {"monitor", "backup:50G", "dns:example.org"};
	pack_fill(0x11, 32);
	pack_fill(0x22, 32);
	msgpack_pack_array(&pk, 2);
	mp_pack_cstr(&pk, eps[0]), mp_pack_cstr(&pk, eps[1]);
	uint8_t secret[32];
	for (int i = 0; i < 32; i++)
		secret[i] = (uint8_t)i;
	mp_pack_bin(&pk, secret, 32);
	msgpack_pack_array(&pk, 3);
	for (int i = 0; i < 3; i++)
		mp_pack_cstr(&pk, scs[i]);
	msgpack_pack_uint64(&pk, 1700086400);
	static char want[TEXT_SIZE];
	make_text(want, raw.data, raw.len);
	is(strcmp(text, want), 0, "format: payload, checksum and base32 as documented");
	is(strlen(text), 12 + ((raw.len + 4) * 8 + 4) / 5, "format: length as documented");

	/* the smallest: one endpoint, no scope, expires 0 */
	memset(&tok, 0, sizeof(tok));
	tok.n_endpoints = 1;
	strcpy(tok.endpoints[0], "a://b");
	is(proto_token_format(&tok, text, sizeof(text)), 0, "format: minimal token");
	is(proto_token_parse(&back, text, NULL, 0), 0, "parse: minimal token, why NULL");
	ok(memcmp(&tok, &back, sizeof(tok)) == 0, "parse: same minimal token");
}

/* The largest token that fits PROTO_TOKEN_TEXT_MAX, and one that does not. */
static void test_sizes(void)
{
	static char small[64];
	size_t len;
	memset(&tok, 0, sizeof(tok));
	tok.n_endpoints = PROTO_TOKEN_ENDPOINTS_MAX;
	for (int i = 0; i < PROTO_TOKEN_ENDPOINTS_MAX; i++) {
		memset(tok.endpoints[i], 'a' + i, PROTO_ENDPOINT_MAX);
		memcpy(tok.endpoints[i], "tcp://", 6);
	}
	tok.n_scopes = PROTO_SCOPES_MAX;
	tok.scopes[0].type = PROTO_SCOPE_MONITOR;
	tok.scopes[1].type = PROTO_SCOPE_ADMIT;
	tok.scopes[2].type = PROTO_SCOPE_BACKUP;
	/* the longest backup scope text: backup:1125899906842623:268435455 (the largest
	 * count is the default of this quota, so left out) */
	tok.scopes[2].quota = PROTO_SIZE_MAX - 1;
	tok.scopes[2].count = PROTO_BACKUP_COUNT_MAX - 1;
	for (int i = 3; i < PROTO_SCOPES_MAX; i++) {
		tok.scopes[i].type = PROTO_SCOPE_DNS;
		snprintf(tok.scopes[i].zone, sizeof(tok.scopes[i].zone), "zone-%d.example.org", i);
	}
	tok.expires = UINT64_MAX;
	is(proto_token_format(&tok, text, sizeof(text)), 0, "format: 4 long endpoints, 16 scopes");
	len = strlen(text);
	ok(len <= PROTO_TOKEN_TEXT_MAX, "format: within PROTO_TOKEN_TEXT_MAX");
	is(proto_token_parse(&back, text, why, sizeof(why)), 0, "parse: the large token");
	ok(memcmp(&tok, &back, sizeof(tok)) == 0, "parse: same large token");
	is(proto_token_format(&tok, text, len + 1), 0, "format: out of exactly its size");
	is(proto_token_format(&tok, text, len), KITH_ETOOBIG, "format: out one byte short");
	is(proto_token_format(&tok, small, sizeof(small)), KITH_ETOOBIG, "format: small out");
	is(proto_token_format(&tok, NULL, 0), KITH_ETOOBIG, "format: no out at all");

	/* long zones fill 16 scopes with ~250 bytes each: over 4096 characters */
	for (int i = 3; i < PROTO_SCOPES_MAX; i++) {
		memset(tok.scopes[i].zone, 'a' + i, 240);
		snprintf(tok.scopes[i].zone + 240, 14, ".example.org");
		tok.scopes[i].zone[0] = (char)('a' + i);
		for (int k = 60; k < 240; k += 60)
			tok.scopes[i].zone[k] = '.';
	}
	is(proto_token_format(&tok, text, sizeof(text)), KITH_ETOOBIG,
	   "format: text over PROTO_TOKEN_TEXT_MAX");
}

static void test_format_refusals(void)
{
	fill_token(&tok);
	tok.n_endpoints = 0;
	is(proto_token_format(&tok, text, sizeof(text)), KITH_EVALUE, "format: no endpoint");
	tok.n_endpoints = PROTO_TOKEN_ENDPOINTS_MAX + 1;
	is(proto_token_format(&tok, text, sizeof(text)), KITH_ETOOBIG, "format: 5 endpoints");
	fill_token(&tok);
	strcpy(tok.endpoints[1], "issuer.example:7707");
	is(proto_token_format(&tok, text, sizeof(text)), KITH_EVALUE, "format: endpoint not a URI");
	strcpy(tok.endpoints[1], "tcp:issuer");
	is(proto_token_format(&tok, text, sizeof(text)), KITH_EVALUE,
	   "format: endpoint without //");
	strcpy(tok.endpoints[1], "tcp://a\tb");
	is(proto_token_format(&tok, text, sizeof(text)), KITH_EVALUE,
	   "format: endpoint with a tab");
	strcpy(tok.endpoints[1], "");
	is(proto_token_format(&tok, text, sizeof(text)), KITH_EVALUE, "format: empty endpoint");
	memset(tok.endpoints[1], 'a', sizeof(tok.endpoints[1]));
	is(proto_token_format(&tok, text, sizeof(text)), KITH_ETOOBIG,
	   "format: endpoint without its NUL");
	fill_token(&tok);
	tok.n_scopes = PROTO_SCOPES_MAX + 1;
	is(proto_token_format(&tok, text, sizeof(text)), KITH_ETOOBIG, "format: 17 scopes");
	fill_token(&tok);
	tok.scopes[1].quota = 0;
	is(proto_token_format(&tok, text, sizeof(text)), KITH_EVALUE, "format: backup of 0 bytes");
	fill_token(&tok);
	tok.scopes[0].type = (enum proto_scope_type)9;
	is(proto_token_format(&tok, text, sizeof(text)), KITH_EVALUE, "format: scope type 9");
	fill_token(&tok);
	strcpy(tok.scopes[2].zone, "Example.org");
	is(proto_token_format(&tok, text, sizeof(text)), KITH_EVALUE,
	   "format: zone not lower case");
	fill_token(&tok);
	tok.scopes[2].type = PROTO_SCOPE_BACKUP;
	tok.scopes[2].quota = 1;
	is(proto_token_format(&tok, text, sizeof(text)), KITH_EVALUE, "format: two backup scopes");
	fill_token(&tok);
	tok.scopes[0] = tok.scopes[2];
	is(proto_token_format(&tok, text, sizeof(text)), KITH_EVALUE,
	   "format: two dns scopes of one zone");
	strcpy(tok.scopes[0].zone, "example.net");
	is(proto_token_format(&tok, text, sizeof(text)), 0, "format: dns scopes of two zones");
}

/* Line breaks, spaces, tabs and case, as mail clients and terminals
 * leave them. */
static void test_wrapped(void)
{
	static char wrapped[3 * TEXT_SIZE];
	size_t o = 0;
	format_fixture();
	for (size_t i = 0; text[i]; i++) {
		if (i > 0 && i % 60 == 0) {
			wrapped[o++] = '\r';
			wrapped[o++] = '\n';
		}
		char c = text[i];
		wrapped[o++] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
	}
	wrapped[o++] = '\n';
	wrapped[o] = '\0';
	is(proto_token_parse(&back, wrapped, why, sizeof(why)), 0,
	   "parse: lower case, CRLF every 60 characters");
	ok(memcmp(&tok, &back, sizeof(tok)) == 0, "parse: same token from the wrapped text");

	o = 0;
	wrapped[o++] = ' ';
	wrapped[o++] = '\t';
	for (size_t i = 0; text[i]; i++) {
		wrapped[o++] = text[i];
		if (i % 7 == 3)
			wrapped[o++] = i % 2 ? ' ' : '\t';
		if (i % 50 == 49)
			wrapped[o++] = '\n';
	}
	wrapped[o++] = ' ';
	wrapped[o] = '\0';
	is(proto_token_parse(&back, wrapped, why, sizeof(why)), 0,
	   "parse: spaces and tabs anywhere, prefix included");
	ok(memcmp(&tok, &back, sizeof(tok)) == 0, "parse: same token from the spaced text");

	/* blanks do not count against the length limit */
	memset(wrapped, ' ', 2 * TEXT_SIZE);
	strcpy(wrapped + 2 * TEXT_SIZE, text);
	is(proto_token_parse(&back, wrapped, why, sizeof(why)), 0,
	   "parse: 8194 spaces before the token");
	memcpy(wrapped, "KITH-INVITE-", PREFIX_LEN);
	strcpy(wrapped + PREFIX_LEN, text + PREFIX_LEN);
	is(proto_token_parse(&back, wrapped, why, sizeof(why)), 0, "parse: prefix in upper case");
}

static void test_text_refusals(void)
{
	static char bad[3 * TEXT_SIZE];
	static const char prefix_why[] = "not a kith invitation: it must start with kith-invite-";
	static const char damaged_why[] =
	    "the invitation is damaged or incomplete: copy the whole line";

	is(proto_token_parse(&back, "", why, sizeof(why)), KITH_EVALUE, "parse: empty text");
	is(strcmp(why, prefix_why), 0, "parse: empty text, why names the prefix");
	is(proto_token_parse(&back, "hello", why, sizeof(why)), KITH_EVALUE, "parse: hello");
	is(proto_token_parse(&back, "kith-invitx-AAAA", why, sizeof(why)), KITH_EVALUE,
	   "parse: wrong prefix");
	is(proto_token_parse(&back, "kith-invite", why, sizeof(why)), KITH_EVALUE,
	   "parse: prefix without its dash");
	is(proto_token_parse(&back, "kith-invite-", why, sizeof(why)), KITH_ECHECKSUM,
	   "parse: prefix alone");
	is(strcmp(why, damaged_why), 0, "parse: prefix alone, why says damaged");
	is(proto_token_parse(&back, "AOQQPP7-TZYIL4Q-HLQ3UMO", why, sizeof(why)), KITH_EVALUE,
	   "parse: a peer ID is not an invitation");

	format_fixture();
	strcpy(bad, text);
	bad[20] = '1';
	is(proto_token_parse(&back, bad, why, sizeof(why)), KITH_EVALUE, "parse: '1'");
	ok(strstr(why, "character 21 ('1')") != NULL, "parse: why gives the position and char");
	bad[0] = ' '; /* positions count every byte of the text, blanks too */
	strcpy(bad + 1, text);
	bad[21] = '@';
	is(proto_token_parse(&back, bad, why, sizeof(why)), KITH_EVALUE, "parse: '@'");
	ok(strstr(why, "character 22 ('@')") != NULL, "parse: position counts blanks");
	strcpy(bad, text);
	bad[30] = (char)0xc3;
	is(proto_token_parse(&back, bad, why, sizeof(why)), KITH_EVALUE, "parse: byte 0xc3");
	ok(strstr(why, "character 31 (byte 0xc3)") != NULL, "parse: why shows the byte in hex");
	strcpy(bad, text);
	bad[25] = '=';
	is(proto_token_parse(&back, bad, why, sizeof(why)), KITH_EVALUE, "parse: padding '='");
	strcpy(bad, text);
	strcat(bad, "A");
	is(proto_token_parse(&back, bad, why, sizeof(why)), KITH_ECHECKSUM,
	   "parse: one character more");
	strcpy(bad, text);
	strcat(bad, "AAAAAAAA");
	is(proto_token_parse(&back, bad, why, sizeof(why)), KITH_ECHECKSUM,
	   "parse: eight characters (5 bytes) more");

	/* PROTO_TOKEN_TEXT_MAX characters, blanks aside */
	memcpy(bad, "kith-invite-", PREFIX_LEN);
	memset(bad + PREFIX_LEN, 'A', PROTO_TOKEN_TEXT_MAX - PREFIX_LEN);
	bad[PROTO_TOKEN_TEXT_MAX] = '\0';
	is(proto_token_parse(&back, bad, why, sizeof(why)), KITH_ECHECKSUM,
	   "parse: 4096 characters are read");
	bad[PROTO_TOKEN_TEXT_MAX] = 'A';
	bad[PROTO_TOKEN_TEXT_MAX + 1] = '\0';
	is(proto_token_parse(&back, bad, why, sizeof(why)), KITH_ETOOBIG,
	   "parse: 4097 characters are too many");
	ok(strstr(why, "longer than 4096") != NULL, "parse: why says too long");

	/* a short why buffer is cut, not overrun */
	char tiny[8];
	memset(tiny, 'x', sizeof(tiny));
	is(proto_token_parse(&back, "nope", tiny, 5), KITH_EVALUE, "parse: why of 5 bytes");
	ok(tiny[4] == '\0' && tiny[5] == 'x', "parse: why cut at its size");
}

/* Every single change, adjacent swap and cut of one token is refused:
 * measured over all positions. */
static void test_damage(void)
{
	static char bad[TEXT_SIZE];
	size_t len, changes = 0, change_sums = 0, swaps = 0, swap_sums = 0, cuts = 0, cut_sums = 0;
	size_t accepted = 0, wrong_code = 0;
	format_fixture();
	len = strlen(text);

	for (size_t i = 0; i < len; i++) {
		for (size_t a = 0; a < 32; a++) {
			char c = alphabet[a];
			if (c == text[i] || (i < PREFIX_LEN && (c | 0x20) == text[i]))
				continue; /* the same character, perhaps in another case */
			strcpy(bad, text);
			bad[i] = c;
			int rc = proto_token_parse(&back, bad, why, sizeof(why));
			changes++;
			change_sums += rc == KITH_ECHECKSUM;
			accepted += rc == 0;
			wrong_code += rc != (i < PREFIX_LEN ? KITH_EVALUE : KITH_ECHECKSUM);
		}
	}
	for (size_t i = 0; i + 1 < len; i++) {
		if ((text[i] | 0x20) == (text[i + 1] | 0x20))
			continue;
		strcpy(bad, text);
		bad[i] = text[i + 1];
		bad[i + 1] = text[i];
		int rc = proto_token_parse(&back, bad, why, sizeof(why));
		swaps++;
		swap_sums += rc == KITH_ECHECKSUM;
		accepted += rc == 0;
		/* a swap that touches the prefix breaks the prefix */
		wrong_code += rc != (i < PREFIX_LEN ? KITH_EVALUE : KITH_ECHECKSUM);
	}
	for (size_t k = 0; k < len; k++) {
		memcpy(bad, text, k);
		bad[k] = '\0';
		int rc = proto_token_parse(&back, bad, why, sizeof(why));
		cuts++;
		cut_sums += rc == KITH_ECHECKSUM;
		accepted += rc == 0;
		wrong_code += rc != (k < PREFIX_LEN ? KITH_EVALUE : KITH_ECHECKSUM);
	}
	printf("# token of %zu characters: %zu/%zu changes, %zu/%zu swaps, %zu/%zu cuts "
	       "refused with ECHECKSUM (the rest: EVALUE, in the prefix)\n",
	       len, change_sums, changes, swap_sums, swaps, cut_sums, cuts);
	is(accepted, 0, "damage: no changed, swapped or cut copy is accepted");
	is(wrong_code, 0, "damage: ECHECKSUM after the prefix, EVALUE inside it");
	ok(changes > 31 * (len - PREFIX_LEN) && swaps > len / 2 && cuts == len,
	   "damage: every position tried");
}

static void test_payload_refusals(void)
{
	static const char *const five[] = {"a://1", "a://2", "a://3", "a://4", "a://5"};
	static const char *const scopes17[] = {
	    "monitor",   "admit",     "backup:1",  "dns:a.org", "dns:b.org", "dns:c.org",
	    "dns:d.org", "dns:e.org", "dns:f.org", "dns:g.org", "dns:h.org", "dns:i.org",
	    "dns:j.org", "dns:k.org", "dns:l.org", "dns:m.org", "dns:n.org"};
	static char long_ep[300];

	raw_begin(7, 1);
	pack_rest(one_ep, 1, NULL, 0);
	is(parse_raw(), 0, "payload: minimal raw payload");
	raw_begin(7, 2);
	pack_rest(one_ep, 1, NULL, 0);
	is(parse_raw(), KITH_EVERSION, "payload: version 2");
	ok(strstr(why, "newer kith (format 2)") != NULL, "payload: why says newer kith");
	raw_begin(3, 2);
	msgpack_pack_nil(&pk), msgpack_pack_nil(&pk);
	is(parse_raw(), KITH_EVERSION, "payload: version 2 of another shape");
	raw_begin(6, 1);
	pack_rest(one_ep, 1, NULL, 0);
	is(parse_raw(), KITH_EVALUE, "payload: 6 items claimed");
	raw_begin(8, 1);
	pack_rest(one_ep, 1, NULL, 0);
	msgpack_pack_uint64(&pk, 0);
	is(parse_raw(), KITH_EVALUE, "payload: 8 items");
	raw_begin(7, 1);
	pack_rest(one_ep, 1, NULL, 0);
	msgpack_pack_nil(&pk);
	is(parse_raw(), KITH_ETRAIL, "payload: trailing byte");
	ok(strstr(why, "content is invalid") != NULL, "payload: why says the content is bad");
	raw_begin(7, 1);
	pack_rest(one_ep, 1, NULL, 0);
	raw.len--;
	is(parse_raw(), KITH_ETRUNC, "payload: cut, with a checksum of its own");
	raw_begin(7, 1);
	pack_fill(0x11, 31);
	is(parse_raw(), KITH_EVALUE, "payload: founder of 31 bytes");
	raw_begin(7, 1);
	mp_pack_cstr(&pk, "founder");
	is(parse_raw(), KITH_ETYPE, "payload: founder as text");
	raw_begin(7, 1);
	for (int i = 0; i < 8; i++) /* room for the 7 items the header claims */
		msgpack_pack_nil(&pk);
	raw.data[raw.len - 8] = 0xc1;
	is(parse_raw(), KITH_EMALFORMED, "payload: 0xc1");
	mp_buf_free(&raw);
	mp_buf_packer(&raw, &pk);
	msgpack_pack_map(&pk, 0);
	is(parse_raw(), KITH_ETYPE, "payload: a map");
	raw_begin(7, 1);
	pack_rest(NULL, 0, NULL, 0);
	is(parse_raw(), KITH_EVALUE, "payload: no endpoint");
	raw_begin(7, 1);
	pack_rest(five, 5, NULL, 0);
	is(parse_raw(), KITH_ETOOBIG, "payload: 5 endpoints");
	raw_begin(7, 1);
	pack_rest(five, 4, NULL, 0);
	is(parse_raw(), 0, "payload: 4 endpoints");
	raw_begin(7, 1);
	pack_rest((const char *const[]){"issuer:7707"}, 1, NULL, 0);
	is(parse_raw(), KITH_EVALUE, "payload: endpoint without //");
	memset(long_ep, 'a', 256);
	memcpy(long_ep, "tcp://", 6);
	raw_begin(7, 1);
	pack_rest((const char *const[]){long_ep}, 1, NULL, 0);
	is(parse_raw(), KITH_ETOOBIG, "payload: endpoint of 256 bytes");
	long_ep[255] = '\0';
	raw_begin(7, 1);
	pack_rest((const char *const[]){long_ep}, 1, NULL, 0);
	is(parse_raw(), 0, "payload: endpoint of 255 bytes");
	raw_begin(7, 1);
	pack_rest(one_ep, 1, (const char *const[]){"monitr"}, 1);
	is(parse_raw(), KITH_EVALUE, "payload: unknown scope");
	ok(strstr(why, "scope kith cannot read: unknown scope 'monitr'") != NULL,
	   "payload: why quotes the scope parser");
	raw_begin(7, 1);
	pack_rest(one_ep, 1, scopes17, 17);
	is(parse_raw(), KITH_ETOOBIG, "payload: 17 scopes");
	raw_begin(7, 1);
	pack_rest(one_ep, 1, scopes17, 16);
	is(parse_raw(), 0, "payload: 16 scopes");
	raw_begin(7, 1);
	pack_rest(one_ep, 1, (const char *const[]){"backup:1G", "backup:2G"}, 2);
	is(parse_raw(), KITH_EVALUE, "payload: two backup scopes");
	raw_begin(7, 1);
	pack_rest(one_ep, 1, (const char *const[]){"backup:2048M", "dns:Example.ORG."}, 2);
	is(parse_raw(), 0, "payload: scopes in non-canonical forms");
	ok(back.scopes[0].quota == 2ULL << 30 && strcmp(back.scopes[1].zone, "example.org") == 0,
	   "payload: read as the parser reads them");
	is(proto_token_format(&back, text, sizeof(text)), 0, "payload: formats again");
	is(proto_token_parse(&tok, text, why, sizeof(why)), 0, "payload: canonical text parses");
	ok(memcmp(&tok, &back, sizeof(tok)) == 0, "payload: to the same token");

	/* a payload of nothing but its checksum */
	raw_begin(7, 1);
	raw.len = 0;
	is(parse_raw(), KITH_ECHECKSUM, "payload: empty");
}

static void test_id(void)
{
	static const uint8_t domain[] = "kith-invite-id";
	uint8_t secret[PROTO_TOKEN_SECRET_LEN], msg[15 + PROTO_TOKEN_SECRET_LEN];
	uint8_t id[PROTO_TOKEN_ID_LEN], id2[PROTO_TOKEN_ID_LEN], want[PROTO_TOKEN_ID_LEN];
	for (int i = 0; i < PROTO_TOKEN_SECRET_LEN; i++)
		secret[i] = (uint8_t)(0xa0 + i);
	proto_token_id(id, secret);
	memcpy(msg, domain, 15);
	memcpy(msg + 15, secret, sizeof(secret));
	crypto_generichash(want, sizeof(want), msg, sizeof(msg), NULL, 0);
	ok(memcmp(id, want, sizeof(id)) == 0, "id: BLAKE2b-128 of the domain and the secret");
	bool inside = false;
	for (size_t at = 0; at + PROTO_TOKEN_ID_LEN <= PROTO_TOKEN_SECRET_LEN; at++)
		inside = inside || memcmp(id, secret + at, PROTO_TOKEN_ID_LEN) == 0;
	ok(!inside, "id: not any 16 bytes of the secret");
	crypto_generichash(want, sizeof(want), secret, sizeof(secret), NULL, 0);
	ok(memcmp(id, want, sizeof(id)) != 0, "id: not the plain hash of the secret");
	secret[31] ^= 1;
	proto_token_id(id2, secret);
	ok(memcmp(id, id2, sizeof(id)) != 0, "id: changes with one bit of the secret");
	proto_token_id(want, secret);
	ok(memcmp(id2, want, sizeof(id)) == 0, "id: the same secret gives the same ID");
}

static void test_proof(void)
{
	static const uint8_t domain[] = "kith-join-v1";
	uint8_t secret[32], joiner[32], issuer[32], msg[13 + 64];
	uint8_t proof[32], other[32], want[32];
	memset(secret, 0x5e, sizeof(secret));
	memset(joiner, 0x10, sizeof(joiner));
	memset(issuer, 0x20, sizeof(issuer));
	proto_join_proof(proof, secret, joiner, issuer);
	memcpy(msg, domain, 13);
	memcpy(msg + 13, joiner, 32);
	memcpy(msg + 45, issuer, 32);
	crypto_generichash(want, sizeof(want), msg, sizeof(msg), secret, sizeof(secret));
	ok(memcmp(proof, want, 32) == 0, "proof: BLAKE2b-256 keyed with the secret, as documented");
	proto_join_proof(other, secret, joiner, issuer);
	ok(memcmp(proof, other, 32) == 0, "proof: deterministic");
	joiner[0] ^= 1;
	proto_join_proof(other, secret, joiner, issuer);
	ok(memcmp(proof, other, 32) != 0, "proof: changes with the joiner's key");
	joiner[0] ^= 1;
	issuer[31] ^= 0x80;
	proto_join_proof(other, secret, joiner, issuer);
	ok(memcmp(proof, other, 32) != 0, "proof: changes with the issuer's key");
	issuer[31] ^= 0x80;
	secret[7] ^= 4;
	proto_join_proof(other, secret, joiner, issuer);
	ok(memcmp(proof, other, 32) != 0, "proof: changes with the secret");
	secret[7] ^= 4;
	proto_join_proof(other, secret, issuer, joiner);
	ok(memcmp(proof, other, 32) != 0, "proof: joiner and issuer are not interchangeable");
	uint8_t id[PROTO_TOKEN_ID_LEN];
	proto_token_id(id, secret);
	ok(memcmp(proof, id, sizeof(id)) != 0, "proof: does not start with the invitation ID");
}

/* The example of docs/protocol.md, section 9.5, with its invitation ID and
 * the proof of joiner 33...33 (cross-checked with Python's base64 and
 * hashlib). */
static void test_example(void)
{
	static const char want[] =
	    "kith-invite-S4A4IIARCEIRCEIRCEIRCEIRCEIRCEIRCEIRCEIRCEIRCEIRCEIRCEIRCHCCAIRCEIRCE"
	    "IRCEIRCEIRCEIRCEIRCEIRCEIRCEIRCEIRCEIRCEIRCSG4XIY3QHIXS62LTON2WK4ROMV4GC3LQNRSTUNZ"
	    "XGA34IIAAAEBAGBAFAYDQQCIKBMGA2DQPCAIREEYUCULBOGAZDINRYHI6D6I2O3LPNZUXI33SZZSVKQUAI"
	    "3XFDPQ";
	static const uint8_t want_id[PROTO_TOKEN_ID_LEN] = {0xcf, 0xa1, 0xc7, 0x67, 0x52, 0xf3,
	                                                    0x5f, 0xfe, 0x13, 0x12, 0xa4, 0x9d,
	                                                    0xe0, 0x75, 0xa9, 0xa8};
	static const uint8_t want_proof[PROTO_JOIN_PROOF_LEN] = {
	    0x27, 0x4d, 0x8c, 0xa1, 0x22, 0xae, 0x1f, 0x7d, 0x72, 0x2e, 0x06,
	    0x6a, 0x35, 0xbb, 0xca, 0xca, 0x84, 0x4e, 0x16, 0x30, 0x81, 0xdb,
	    0x91, 0xfd, 0xa6, 0x00, 0x03, 0x80, 0x87, 0xdf, 0x90, 0x15};
	uint8_t id[PROTO_TOKEN_ID_LEN], proof[PROTO_JOIN_PROOF_LEN], joiner[PROTO_KEY_LEN];
	fill_token(&tok);
	tok.n_endpoints = 1;
	memset(tok.endpoints[1], 0, sizeof(tok.endpoints[1]));
	tok.n_scopes = 1;
	memset(&tok.scopes[1], 0, 2 * sizeof(tok.scopes[1]));
	is(proto_token_format(&tok, text, sizeof(text)), 0, "example: formats");
	is(strcmp(text, want), 0, "example: the documented text");
	is(proto_token_parse(&back, want, why, sizeof(why)), 0, "example: parses");
	ok(memcmp(&tok, &back, sizeof(tok)) == 0, "example: to the documented fields");
	proto_token_id(id, tok.secret);
	ok(memcmp(id, want_id, sizeof(id)) == 0, "example: the documented invitation ID");
	memset(joiner, 0x33, sizeof(joiner));
	proto_join_proof(proof, tok.secret, joiner, tok.issuer);
	ok(memcmp(proof, want_proof, sizeof(proof)) == 0, "example: the documented proof");
}

int main(void)
{
	if (sodium_init() < 0) {
		printf("Bail out! sodium_init failed\n");
		return 1;
	}
	test_round_trip();
	test_sizes();
	test_format_refusals();
	test_wrapped();
	test_text_refusals();
	test_damage();
	test_payload_refusals();
	test_id();
	test_proof();
	test_example();
	mp_buf_free(&raw);
	return tap_done();
}
