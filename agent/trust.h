/* Who is in the trust network, from the records in the store.
 *
 * The members are the agent itself and, transitively, every subject of an
 * admission record whose author is a member. For each member the module
 * keeps its CURVE key (for the ZAP handler), its display name and the
 * endpoint to dial: the first endpoint of its own member record, else the
 * one given by the latest admission naming it. It reads no I/O of its own:
 * the agent feeds it every record the store accepted. */
#ifndef KITH_AGENT_TRUST_H
#define KITH_AGENT_TRUST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/body.h"
#include "proto/limits.h"

struct proto_record;
struct store;

struct trust_ops {
	/* peer became a member (also called for each member found by
	 * trust_load(), and for us). */
	void (*added)(void *arg, const uint8_t peer[PROTO_KEY_LEN]);
	/* peer's endpoint changed (its member record, or a new admission). */
	void (*endpoint)(void *arg, const uint8_t peer[PROTO_KEY_LEN], const char *endpoint);
};

struct trust_member {
	uint8_t peer[PROTO_KEY_LEN];
	uint8_t curve[PROTO_KEY_LEN];
	char name[PROTO_MEMBER_NAME_MAX + 1];  /* "" until its member record arrives */
	char endpoint[PROTO_ENDPOINT_MAX + 1]; /* "" when unknown */
	bool endpoint_from_member;             /* from its own record, not an admission */
	uint8_t admitted_by[PROTO_KEY_LEN];    /* zero for us */
};

struct trust;

/* self, ops and arg are borrowed. On success *out is owned by the caller
 * (trust_free()). We are a member from the start. */
int trust_new(struct trust **out, const uint8_t self[PROTO_KEY_LEN], const struct trust_ops *ops,
              void *arg);
void trust_free(struct trust **t);

/* Reads every admission and member record of s. */
int trust_load(struct trust *t, struct store *s);
/* A record the store just accepted (borrowed). */
int trust_on_record(struct trust *t, const struct proto_record *rec);

bool trust_is_member(const struct trust *t, const uint8_t peer[PROTO_KEY_LEN]);
/* The member whose CURVE key is curve, or NULL. */
const struct trust_member *trust_by_curve(const struct trust *t,
                                          const uint8_t curve[PROTO_KEY_LEN]);
/* The member peer, or NULL; valid until the next call that changes t. */
const struct trust_member *trust_get(const struct trust *t, const uint8_t peer[PROTO_KEY_LEN]);
size_t trust_count(const struct trust *t);
/* Calls fn for each member, us included. */
void trust_each(const struct trust *t, void (*fn)(void *arg, const struct trust_member *m),
                void *arg);

#endif
