/* Grant scopes: what a peer may do for (or with) the issuer.
 *
 * Text forms, as on the command line and inside grant records:
 *   monitor        may check the issuer's services and read their details
 *   admit          may invite others into the network
 *   backup:SIZE    may store up to SIZE of the issuer's shards; SIZE is a
 *                  positive integer with an optional K, M, G or T suffix
 *                  (powers of 1024), e.g. backup:50G
 *   dns:ZONE       may change records of ZONE (a DNS name) during failover */
#ifndef KITH_PROTO_SCOPE_H
#define KITH_PROTO_SCOPE_H

#include <stddef.h>
#include <stdint.h>

#include "limits.h"

enum proto_scope_type {
	PROTO_SCOPE_MONITOR = 1,
	PROTO_SCOPE_ADMIT = 2,
	PROTO_SCOPE_BACKUP = 3,
	PROTO_SCOPE_DNS = 4,
};

#define PROTO_ZONE_MAX 253

struct proto_scope {
	enum proto_scope_type type;
	uint64_t quota;                /* bytes, for PROTO_SCOPE_BACKUP */
	char zone[PROTO_ZONE_MAX + 1]; /* lower case, no final dot, for PROTO_SCOPE_DNS */
};

/* Parses text[0..len) (borrowed; need not be NUL-terminated). Returns 0 or
 * KITH_ESCOPE; when why is not NULL it receives a phrase saying what is
 * wrong, which may quote the text, e.g. "unknown scope 'monitr' (expected
 * monitor, admit, backup:SIZE or dns:ZONE)". *why points to static,
 * per-thread storage that the next call may overwrite: print or copy it
 * before parsing again. */
int proto_scope_parse(struct proto_scope *out, const char *text, size_t len, const char **why);
/* Writes the canonical text form into buf (NUL-terminated): backup sizes
 * use the largest of K, M, G, T that divides them exactly. Returns 0,
 * KITH_ETOOBIG when n is too small, or KITH_EVALUE for an unknown type or
 * a zero quota. */
int proto_scope_format(const struct proto_scope *s, char *buf, size_t n);

#endif
