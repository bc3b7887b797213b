/* Invitation tokens: text form, checksum, payload codec, and the hashes
 * built on the secret (see token.h and docs/protocol.md, section 9).
 *
 * The text is parsed in stages, each with its own answer for the admin:
 * the prefix (is this a kith invitation at all?), the characters (which
 * one is wrong), the base32 length and the checksum (is the copy whole
 * and unchanged?), then the payload as a bounded msgpack decode whose
 * value rules (token_check()) are the ones the formatter applies first.
 *
 * The checksum catches accidents, not forgeries: anyone can recompute it.
 * What protects an invitation is its secret, which only the issuer and
 * the holder of the token know. Buffers that held the secret are wiped. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "body.h"
#include "codec.h"
#include "error.h"
#include "mp.h"
#include "token.h"

#define TOKEN_VERSION 1
#define TOKEN_ITEMS 7 /* [version, founder, issuer, endpoints, secret, scopes, expires] */
#define CHECK_LEN 4   /* checksum bytes after the payload */
#define PREFIX_LEN (sizeof(PROTO_TOKEN_PREFIX) - 1)
/* Bytes the longest accepted text can hold, checksum included. */
#define DATA_MAX ((PROTO_TOKEN_TEXT_MAX - PREFIX_LEN) * 5 / 8)

/* Hash domains, each hashed with its NUL before the data, so that no
 * hash of one kind can be taken for another. */
static const char check_domain[] = "kith-invite-v1";
static const char id_domain[] = "kith-invite-id";
static const char proof_domain[] = "kith-join-v1";

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

static const char damaged[] = "the invitation is damaged or incomplete: copy the whole line";

/* Writes the reason into why (when given) and returns err. */
__attribute__((format(printf, 4, 5))) static int explain(int err, char *why, size_t n,
                                                         const char *fmt, ...)
{
	va_list ap;
	if (why && n) {
		va_start(ap, fmt);
		vsnprintf(why, n, fmt, ap);
		va_end(ap);
	}
	return err;
}

/* ---- hashes ---- */

/* BLAKE2b-256 over check_domain (NUL included) || payload; the first
 * CHECK_LEN bytes are the checksum. */
static void checksum(uint8_t out[CHECK_LEN], const uint8_t *payload, size_t len)
{
	crypto_generichash_state st;
	uint8_t h[crypto_generichash_BYTES];
	crypto_generichash_init(&st, NULL, 0, sizeof(h));
	crypto_generichash_update(&st, (const uint8_t *)check_domain, sizeof(check_domain));
	crypto_generichash_update(&st, payload, len);
	crypto_generichash_final(&st, h, sizeof(h));
	memcpy(out, h, CHECK_LEN);
}

void proto_token_id(uint8_t id[PROTO_TOKEN_ID_LEN], const uint8_t secret[PROTO_TOKEN_SECRET_LEN])
{
	crypto_generichash_state st;
	crypto_generichash_init(&st, NULL, 0, PROTO_TOKEN_ID_LEN);
	crypto_generichash_update(&st, (const uint8_t *)id_domain, sizeof(id_domain));
	crypto_generichash_update(&st, secret, PROTO_TOKEN_SECRET_LEN);
	crypto_generichash_final(&st, id, PROTO_TOKEN_ID_LEN);
	sodium_memzero(&st, sizeof(st));
}

void proto_join_proof(uint8_t proof[PROTO_JOIN_PROOF_LEN],
                      const uint8_t secret[PROTO_TOKEN_SECRET_LEN],
                      const uint8_t joiner[PROTO_KEY_LEN], const uint8_t issuer[PROTO_KEY_LEN])
{
	crypto_generichash_state st;
	crypto_generichash_init(&st, secret, PROTO_TOKEN_SECRET_LEN, PROTO_JOIN_PROOF_LEN);
	crypto_generichash_update(&st, (const uint8_t *)proof_domain, sizeof(proof_domain));
	crypto_generichash_update(&st, joiner, PROTO_KEY_LEN);
	crypto_generichash_update(&st, issuer, PROTO_KEY_LEN);
	crypto_generichash_final(&st, proof, PROTO_JOIN_PROOF_LEN);
	sodium_memzero(&st, sizeof(st));
}

/* ---- value rules ---- */

/* The issuer will grant these scopes: two of one kind (two dns scopes for
 * one zone) would make a grant the grant codec refuses. */
static bool same_scope_kind(const struct proto_scope *a, const struct proto_scope *b)
{
	if (a->type != b->type)
		return false;
	return a->type != PROTO_SCOPE_DNS || strcmp(a->zone, b->zone) == 0;
}

static int token_check(const struct proto_token *t)
{
	if (t->n_endpoints > PROTO_TOKEN_ENDPOINTS_MAX || t->n_scopes > PROTO_SCOPES_MAX)
		return KITH_ETOOBIG;
	if (t->n_endpoints == 0)
		return KITH_EVALUE; /* the joiner must be able to reach the issuer */
	for (uint32_t i = 0; i < t->n_endpoints; i++) {
		int rc = check_text(t->endpoints[i], sizeof(t->endpoints[i]), 1);
		if (rc)
			return rc;
		if (!proto_endpoint_ok(t->endpoints[i]))
			return KITH_EVALUE;
	}
	for (uint32_t i = 0; i < t->n_scopes; i++) {
		if (proto_scope_check(&t->scopes[i], NULL))
			return KITH_EVALUE;
		for (uint32_t j = 0; j < i; j++)
			if (same_scope_kind(&t->scopes[i], &t->scopes[j]))
				return KITH_EVALUE;
	}
	return 0;
}

/* ---- formatting ---- */

static void write_payload(struct mp_buf *out, const struct proto_token *t)
{
	msgpack_packer pk;
	char text[PROTO_SCOPE_MAX + 1];
	mp_buf_packer(out, &pk);
	msgpack_pack_array(&pk, TOKEN_ITEMS);
	msgpack_pack_uint64(&pk, TOKEN_VERSION);
	mp_pack_bin(&pk, t->founder, PROTO_KEY_LEN);
	mp_pack_bin(&pk, t->issuer, PROTO_KEY_LEN);
	msgpack_pack_array(&pk, t->n_endpoints);
	for (uint32_t i = 0; i < t->n_endpoints; i++)
		mp_pack_cstr(&pk, t->endpoints[i]);
	mp_pack_bin(&pk, t->secret, PROTO_TOKEN_SECRET_LEN);
	msgpack_pack_array(&pk, t->n_scopes);
	for (uint32_t i = 0; i < t->n_scopes; i++) {
		proto_scope_format(&t->scopes[i], text, sizeof(text)); /* checked before */
		mp_pack_cstr(&pk, text);
	}
	msgpack_pack_uint64(&pk, t->expires);
}

/* Characters of base32 (no padding) for len bytes. */
static size_t base32_len(size_t len)
{
	return (len * 8 + 4) / 5;
}

/* Writes base32 of data[0..len) at out (no NUL). */
static void base32_write(char *out, const uint8_t *data, size_t len)
{
	unsigned acc = 0, bits = 0;
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		acc = (acc << 8 | data[i]) & 0xfff; /* at most 4 + 8 bits are pending */
		bits += 8;
		while (bits >= 5) {
			bits -= 5;
			out[o++] = alphabet[(acc >> bits) & 0x1f];
		}
	}
	if (bits)
		out[o++] = alphabet[(acc << (5 - bits)) & 0x1f];
}

int proto_token_format(const struct proto_token *t, char *out, size_t n)
{
	uint8_t data[DATA_MAX];
	struct mp_buf b = {0};
	size_t len = 0;
	int rc = token_check(t);
	if (rc)
		return rc;
	write_payload(&b, t);
	rc = b.err;
	if (!rc && b.len + CHECK_LEN > DATA_MAX)
		rc = KITH_ETOOBIG; /* its text would be over PROTO_TOKEN_TEXT_MAX */
	if (!rc) {
		len = b.len + CHECK_LEN;
		memcpy(data, b.data, b.len);
		checksum(data + b.len, b.data, b.len);
		if (PREFIX_LEN + base32_len(len) >= n)
			rc = KITH_ETOOBIG;
	}
	if (!rc) {
		memcpy(out, PROTO_TOKEN_PREFIX, PREFIX_LEN);
		base32_write(out + PREFIX_LEN, data, len);
		out[PREFIX_LEN + base32_len(len)] = '\0';
	}
	sodium_memzero(data, sizeof(data));
	if (b.data)
		sodium_memzero(b.data, b.cap);
	mp_buf_free(&b);
	return rc;
}

/* ---- parsing ---- */

/* Characters a mail client or a terminal may insert into a long line. */
static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static char upper(char c)
{
	return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

static int base32_value(char c)
{
	c = upper(c);
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= '2' && c <= '7')
		return 26 + (c - '2');
	return -1;
}

/* The decoded bytes of the text after its prefix. */
struct unpacked {
	uint8_t data[DATA_MAX];
	size_t len;
	unsigned acc, bits; /* bits not yet making a byte */
	size_t chars;       /* base32 characters read */
};

static int bad_char(const char *text, size_t at, char *why, size_t n)
{
	unsigned char u = (unsigned char)text[at];
	if (u < 0x20 || u >= 0x7f)
		return explain(KITH_EVALUE, why, n,
		               "character %zu (byte 0x%02x) cannot be in an invitation "
		               "(A-Z and 2-7 after kith-invite-)",
		               at + 1, u);
	return explain(KITH_EVALUE, why, n,
	               "character %zu ('%c') cannot be in an invitation "
	               "(A-Z and 2-7 after kith-invite-)",
	               at + 1, u);
}

/* Reads text into u: the prefix, then base32 characters, blanks skipped
 * anywhere. The checks run in the order of the text, so the first wrong
 * character is the one reported. */
static int unpack_text(struct unpacked *u, const char *text, char *why, size_t n)
{
	size_t prefix = 0, total = 0;
	u->len = u->acc = u->bits = u->chars = 0;
	for (size_t i = 0; text[i]; i++) {
		if (is_blank(text[i]))
			continue;
		if (++total > PROTO_TOKEN_TEXT_MAX)
			return explain(KITH_ETOOBIG, why, n,
			               "the invitation is longer than %d characters: "
			               "not a kith invitation",
			               PROTO_TOKEN_TEXT_MAX);
		if (prefix < PREFIX_LEN) {
			if (upper(text[i]) != upper(PROTO_TOKEN_PREFIX[prefix]))
				break;
			prefix++;
			continue;
		}
		int v = base32_value(text[i]);
		if (v < 0)
			return bad_char(text, i, why, n);
		u->acc = (u->acc << 5 | (unsigned)v) & 0xfff;
		u->bits += 5;
		u->chars++;
		if (u->bits >= 8) {
			u->bits -= 8;
			u->data[u->len++] = (uint8_t)(u->acc >> u->bits);
		}
	}
	if (prefix < PREFIX_LEN)
		return explain(KITH_EVALUE, why, n,
		               "not a kith invitation: it must start with " PROTO_TOKEN_PREFIX);
	return 0;
}

/* Whole base32 text, unchanged checksum. A count of characters no byte
 * length gives, or padding bits that are not zero, are damage too. */
static int verify_checksum(const struct unpacked *u, char *why, size_t n)
{
	uint8_t want[CHECK_LEN];
	if (u->len <= CHECK_LEN || base32_len(u->len) != u->chars ||
	    (u->acc & ((1u << u->bits) - 1)) != 0)
		return explain(KITH_ECHECKSUM, why, n, "%s", damaged);
	checksum(want, u->data, u->len - CHECK_LEN);
	if (memcmp(want, u->data + u->len - CHECK_LEN, CHECK_LEN) != 0)
		return explain(KITH_ECHECKSUM, why, n, "%s", damaged);
	return 0;
}

static int read_endpoints(struct mp_reader *r, struct proto_token *t)
{
	if (mp_read_array(r, &t->n_endpoints, PROTO_TOKEN_ENDPOINTS_MAX))
		return r->err;
	for (uint32_t i = 0; i < t->n_endpoints && !r->err; i++)
		mp_read_text(r, t->endpoints[i], PROTO_ENDPOINT_MAX);
	return r->err;
}

/* A scope the parser refuses is KITH_EVALUE with the parser's reason in
 * why, and *explained set. */
static int read_scopes(struct mp_reader *r, struct proto_token *t, char *why, size_t n,
                       bool *explained)
{
	char text[PROTO_SCOPE_MAX + 1];
	const char *scope_why = NULL;
	if (mp_read_array(r, &t->n_scopes, PROTO_SCOPES_MAX))
		return r->err;
	for (uint32_t i = 0; i < t->n_scopes; i++) {
		if (mp_read_text(r, text, PROTO_SCOPE_MAX))
			return r->err;
		if (proto_scope_parse(&t->scopes[i], text, strlen(text), &scope_why)) {
			*explained = true;
			return mp_fail(r, explain(KITH_EVALUE, why, n,
			                          "the invitation offers a scope kith cannot "
			                          "read: %s",
			                          scope_why));
		}
	}
	return 0;
}

/* The payload; the version is read before the item count is judged, so a
 * later format of another shape gets KITH_EVERSION. */
static int read_payload(struct proto_token *t, const uint8_t *buf, size_t len, char *why, size_t n)
{
	struct mp_reader r;
	uint32_t count = 0;
	uint64_t version;
	bool explained = false;
	mp_reader_init(&r, buf, len);
	mp_read_array(&r, &count, PROTO_ARRAY_MAX);
	if (!mp_read_uint(&r, &version) && version != TOKEN_VERSION)
		return explain(KITH_EVERSION, why, n,
		               "the invitation was made by a newer kith (format %llu): "
		               "upgrade kith to use it",
		               (unsigned long long)version);
	if (!r.err && count != TOKEN_ITEMS)
		mp_fail(&r, KITH_EVALUE);
	mp_read_bin_exact(&r, t->founder, PROTO_KEY_LEN);
	mp_read_bin_exact(&r, t->issuer, PROTO_KEY_LEN);
	read_endpoints(&r, t);
	mp_read_bin_exact(&r, t->secret, PROTO_TOKEN_SECRET_LEN);
	if (!r.err)
		read_scopes(&r, t, why, n, &explained);
	mp_read_uint(&r, &t->expires);
	int rc = mp_finish(&r);
	if (!rc)
		rc = token_check(t);
	if (rc && !explained)
		explain(rc, why, n, "the invitation is whole but its content is invalid (%s)",
		        proto_strerror(rc));
	return rc;
}

int proto_token_parse(struct proto_token *out, const char *text, char *why, size_t n)
{
	struct unpacked u;
	int rc;
	memset(out, 0, sizeof(*out));
	rc = unpack_text(&u, text, why, n);
	if (!rc)
		rc = verify_checksum(&u, why, n);
	if (!rc)
		rc = read_payload(out, u.data, u.len - CHECK_LEN, why, n);
	sodium_memzero(&u, sizeof(u));
	if (rc)
		sodium_memzero(out, sizeof(*out));
	return rc;
}
