/* The recovery kit: everything a collective needs to come back after the
 * loss of its server and disks, on one page of text meant for paper.
 *
 *     # comments, for people (ignored)
 *     kith-recovery-kit 1
 *     name coop-example
 *     peer  AAAAAAA-...            the collective's peer ID
 *     secret AAAAAAA-...           its identity's 32-byte seed
 *     founder AAAAAAA-...          the network's founder
 *     partner AAAAAAA-... tcp://partner.example.org:7707 partner-name
 *
 * The secret is written like a peer ID (proto/peerid.h: 56 characters in
 * groups, a check character per block), so a typo made copying it by hand
 * is caught, and named. Whoever holds the secret is the collective to its
 * network. Partners (at most PROTO_KIT_PARTNERS_MAX) are members to rejoin
 * through: a peer ID, an endpoint (tcp://HOST:PORT) and a name.
 *
 * The parser is strict, as for anything read from outside: the first line
 * that is not blank or a comment must be the header; each key once but
 * partner; an unknown key, a bad peer ID or a text over its limit is an
 * error that names the line. */
#ifndef KITH_PROTO_KIT_H
#define KITH_PROTO_KIT_H

#include <stddef.h>
#include <stdint.h>

#include "identity.h"
#include "limits.h"

/* The file kith init --restore leaves in the data directory, and kithd
 * removes once its records made before the loss came back from its
 * partners (agent/gossip/gossip.h: gossip_resync_own()). */
#define PROTO_KIT_RESYNC_FILE "resync-own-records"

#define PROTO_KIT_HEADER "kith-recovery-kit 1"
#define PROTO_KIT_PARTNERS_MAX 8
/* A kit never needs more: the text of 8 partners with the longest
 * endpoints and names. */
#define PROTO_KIT_TEXT_MAX 8192

struct proto_kit_partner {
	uint8_t peer[PROTO_KEY_LEN];
	char endpoint[PROTO_ENDPOINT_MAX + 1];
	char name[PROTO_MEMBER_NAME_MAX + 1];
};

struct proto_kit {
	char name[PROTO_MEMBER_NAME_MAX + 1];
	uint8_t peer[PROTO_KEY_LEN];
	uint8_t seed[PROTO_SEED_LEN]; /* the secret: wipe it (sodium_memzero) */
	uint8_t founder[PROTO_KEY_LEN];
	size_t n_partners;
	struct proto_kit_partner partners[PROTO_KIT_PARTNERS_MAX];
};

/* Writes kit as text into out (n bytes, NUL-terminated), preceded by the
 * warning for whoever holds it. Returns the length, or KITH_ETOOBIG when n
 * is too small (PROTO_KIT_TEXT_MAX always suffices), or KITH_EVALUE for a
 * name or endpoint with a control character or a space where none may be. */
int proto_kit_format(const struct proto_kit *kit, char *out, size_t n);

/* Parses text (len bytes, borrowed; need not be NUL-terminated) into *out.
 * Returns 0, or KITH_ETOOBIG (over PROTO_KIT_TEXT_MAX, a field over its
 * limit, more than PROTO_KIT_PARTNERS_MAX partners), KITH_EVERSION (not a
 * kit, or another version), KITH_EMISSING (peer, secret or founder
 * absent), KITH_EDUPKEY, KITH_EVALUE (anything else malformed); why (may
 * be NULL) receives one sentence naming the line. On error *out holds no
 * secret. */
int proto_kit_parse(struct proto_kit *out, const char *text, size_t len, char *why, size_t why_len);

#endif
