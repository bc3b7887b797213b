/* Invitation tokens: the one line an admin sends to a collective it
 * invites.
 *
 * The token carries the network's founder, the issuer's peer key and
 * endpoints, a one-time secret, the scopes the issuer will grant, and the
 * invitation's expiry. Its text is "kith-invite-" followed by base32
 * (RFC 4648 alphabet, no padding) of the msgpack payload and a 4-byte
 * BLAKE2b checksum of it, so a truncated or mistyped copy is caught before
 * anything is sent. The parser ignores case, spaces and line breaks (mail
 * clients wrap long lines).
 *
 * The secret never travels between agents: a JOIN names the
 * invitation by its ID, a hash of the secret, and proves knowledge of the
 * secret with a MAC keyed by it and bound to both keys, so a proof
 * overheard (it never is: CURVE) could not serve another key. The issuer
 * files the invitation under its ID and keeps the secret to check that MAC
 * (store.h). docs/protocol.md, section 9, has the byte layout. */
#ifndef KITH_PROTO_TOKEN_H
#define KITH_PROTO_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#include "limits.h"
#include "scope.h"

#define PROTO_TOKEN_PREFIX "kith-invite-"
#define PROTO_TOKEN_SECRET_LEN 32
#define PROTO_TOKEN_ID_LEN 16
#define PROTO_TOKEN_ENDPOINTS_MAX 4
#define PROTO_TOKEN_TEXT_MAX 4096
#define PROTO_JOIN_PROOF_LEN 32

struct proto_token {
	uint8_t founder[PROTO_KEY_LEN];
	uint8_t issuer[PROTO_KEY_LEN];
	uint32_t n_endpoints; /* 1..PROTO_TOKEN_ENDPOINTS_MAX */
	char endpoints[PROTO_TOKEN_ENDPOINTS_MAX][PROTO_ENDPOINT_MAX + 1];
	uint8_t secret[PROTO_TOKEN_SECRET_LEN];
	uint32_t n_scopes; /* 0..PROTO_SCOPES_MAX */
	struct proto_scope scopes[PROTO_SCOPES_MAX];
	uint64_t expires; /* Unix seconds */
};

/* Writes the token line into out (n bytes, NUL-terminated; at most
 * PROTO_TOKEN_TEXT_MAX characters, so n = PROTO_TOKEN_TEXT_MAX + 1 always
 * suffices). Scopes are written in canonical form. Returns 0, KITH_EVALUE
 * for a field the parser would refuse (no endpoint, an endpoint that is
 * not a URI with "//", an invalid scope, two scopes of one kind),
 * KITH_ETOOBIG for a count over its limit, a text over
 * PROTO_TOKEN_TEXT_MAX or one that does not fit n, or -ENOMEM. */
int proto_token_format(const struct proto_token *t, char *out, size_t n);
/* Parses a token line (text borrowed, NUL-terminated; spaces, tabs, CR
 * and LF ignored anywhere, case ignored). Returns 0 or KITH_EVALUE (not a
 * kith token, bad character), KITH_ETOOBIG (over PROTO_TOKEN_TEXT_MAX
 * characters, blanks aside), KITH_ECHECKSUM (damaged or cut short), or a
 * decode error (KITH_EVERSION for a newer format); why (n bytes, may be
 * NULL) says which in one sentence for the admin. On error *out is
 * wiped. */
int proto_token_parse(struct proto_token *out, const char *text, char *why, size_t n);

/* The invitation's ID: BLAKE2b-128 over "kith-invite-id" NUL || secret.
 * The issuer files the invitation under it; a JOIN names it. */
void proto_token_id(uint8_t id[PROTO_TOKEN_ID_LEN], const uint8_t secret[PROTO_TOKEN_SECRET_LEN]);
/* The joiner's proof: BLAKE2b-256 keyed with the secret over
 * "kith-join-v1" NUL || joiner's key || issuer's key. */
void proto_join_proof(uint8_t proof[PROTO_JOIN_PROOF_LEN],
                      const uint8_t secret[PROTO_TOKEN_SECRET_LEN],
                      const uint8_t joiner[PROTO_KEY_LEN], const uint8_t issuer[PROTO_KEY_LEN]);

#endif
