/* Who is in the trust network and what each member may do, from the
 * records in the store. Every agent computes the same answer from the same
 * records, whatever order they arrived in.
 *
 * The network has one founder (ourselves after kith init; the inviter's
 * founder after kith join). Trust records are replayed in the order of
 * their issue time:
 *   - an admission by A of S makes S a member if A is a member and an
 *     admitter at that time: the founder, or the subject of an unrevoked,
 *     unexpired grant with the admit scope from an admitter;
 *   - a member revocation by an admitter ejects M (never the founder): M
 *     and every admission M ever made stop counting, so members who came in
 *     only through M go too (re-admit those you still want);
 *   - grants give scopes from their issuer to their subject between
 *     not_before and their record's expiry, until their issuer revokes
 *     them.
 * For each member the module keeps its CURVE key (for the ZAP handler),
 * its display name and the endpoint to dial: the first endpoint of its own
 * member record, else the one of the admission that let it in. No I/O:
 * the agent feeds it every record the store accepted. */
#ifndef KITH_AGENT_TRUST_TRUST_H
#define KITH_AGENT_TRUST_TRUST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/body.h"
#include "proto/limits.h"
#include "proto/scope.h"

struct proto_record;
struct store;

struct trust_ops {
	/* peer became a member (also for each member found at load, us too). */
	void (*added)(void *arg, const uint8_t peer[PROTO_KEY_LEN]);
	/* peer is no member any more: ejected, or admitted only through an
	 * ejected member. */
	void (*removed)(void *arg, const uint8_t peer[PROTO_KEY_LEN]);
	/* peer's endpoint changed (its member record, or its admission). */
	void (*endpoint)(void *arg, const uint8_t peer[PROTO_KEY_LEN], const char *endpoint);
};

struct trust_member {
	uint8_t peer[PROTO_KEY_LEN];
	uint8_t curve[PROTO_KEY_LEN];
	char name[PROTO_MEMBER_NAME_MAX + 1];  /* "" until its member record arrives */
	char endpoint[PROTO_ENDPOINT_MAX + 1]; /* "" when unknown */
	bool endpoint_from_member;             /* from its own record, not an admission */
	uint8_t admitted_by[PROTO_KEY_LEN];    /* zero for the founder */
	bool member;                           /* in the network now */
	bool ejected;                          /* revoked by an admitter */
};

/* A grant record, as the trust layer keeps it. */
struct trust_grant {
	uint8_t issuer[PROTO_KEY_LEN];
	uint8_t subject[PROTO_KEY_LEN];
	char id[PROTO_GRANT_ID_MAX + 1];
	uint32_t n_scopes;
	struct proto_scope *scopes; /* n_scopes of them, owned by the trust module */
	uint64_t issued, not_before, expires;
	uint64_t revoked_at; /* issue time of its revocation, 0: none */
};

struct trust;

/* How far ahead of our clock trust_clock() may go, in seconds; well
 * inside PROTO_CLOCK_SKEW. */
#define TRUST_CLOCK_LEAD 60

/* self, founder, ops and arg are borrowed. On success *out is owned by the
 * caller (trust_free()). */
int trust_new(struct trust **out, const uint8_t self[PROTO_KEY_LEN],
              const uint8_t founder[PROTO_KEY_LEN], const struct trust_ops *ops, void *arg);
void trust_free(struct trust **t);

/* Reads every trust and member record of s. */
int trust_load(struct trust *t, struct store *s);
/* A record the store just accepted (borrowed). Returns 0 or the decode
 * error of its body (the record is then ignored). */
int trust_on_record(struct trust *t, const struct proto_record *rec);
/* Changes the founder (after joining a network) and recomputes. */
void trust_set_founder(struct trust *t, const uint8_t founder[PROTO_KEY_LEN]);
const uint8_t *trust_founder(const struct trust *t);

/* The queries recompute first when records changed since the last one,
 * and report the changes through the ops. */
bool trust_is_member(struct trust *t, const uint8_t peer[PROTO_KEY_LEN]);
/* May peer admit or invite others now? */
bool trust_is_admitter(struct trust *t, const uint8_t peer[PROTO_KEY_LEN], uint64_t now);
/* The issue time for a trust record we sign at now: never before the
 * newest trust record that counted, so that a partner's clock running a
 * little ahead of ours cannot put our admission before the grant or the
 * admission it rests on. Leads now by at most TRUST_CLOCK_LEAD seconds, so
 * a member with a clock far ahead cannot push our records out of the
 * others' skew tolerance. */
uint64_t trust_clock(struct trust *t, uint64_t now);
/* The member whose CURVE key is curve, or NULL. */
const struct trust_member *trust_by_curve(struct trust *t, const uint8_t curve[PROTO_KEY_LEN]);
/* Any peer the records name (member, ejected, or not yet in), or NULL;
 * valid until the next call that changes t. */
const struct trust_member *trust_get(struct trust *t, const uint8_t peer[PROTO_KEY_LEN]);
size_t trust_count(struct trust *t);
/* Calls fn for each member (us included), or for every peer known when
 * all is set (ejected ones too). */
void trust_each(struct trust *t, bool all, void (*fn)(void *arg, const struct trust_member *m),
                void *arg);

/* The grant by which issuer lets subject do what want says at time now:
 * for PROTO_SCOPE_BACKUP the grant with the largest quota, for
 * PROTO_SCOPE_DNS one naming want->zone. Returns 0 and sets *out (valid
 * until the next change) and *scope, or the best explanation of a refusal:
 * KITH_EREVOKED (there was one, revoked), KITH_EEXPIRED (there was one,
 * expired or not yet valid), KITH_ENOGRANT (never one). */
int trust_grant_check(struct trust *t, const uint8_t issuer[PROTO_KEY_LEN],
                      const uint8_t subject[PROTO_KEY_LEN], const struct proto_scope *want,
                      uint64_t now, const struct trust_grant **out,
                      const struct proto_scope **scope);
/* Why a grant check refused, for the peer refused: "no SCOPE grant from
 * this agent", or that it was revoked or expired (code from
 * trust_grant_check()). The text is static, valid until the next call. */
const char *trust_refusal(int code, const char *scope_name);
/* Calls fn for every grant the records hold. */
void trust_grants_each(struct trust *t, void (*fn)(void *arg, const struct trust_grant *g),
                       void *arg);
/* The grant issuer published under id, or NULL. */
const struct trust_grant *trust_grant_get(struct trust *t, const uint8_t issuer[PROTO_KEY_LEN],
                                          const char *id);

#endif
