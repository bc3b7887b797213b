/* Grant scopes: what a peer may do for (or with) the issuer.
 *
 * Text forms, as on the command line and inside grant records:
 *   monitor        may check the issuer's services and read their details
 *   admit          may invite others into the network
 *   backup:SIZE[:COUNT]
 *                  may store up to SIZE bytes in up to COUNT of its shards
 *                  with the issuer; SIZE is a positive integer with an
 *                  optional K, M, G or T suffix (powers of 1024), at most
 *                  1024T; COUNT a positive integer, at most
 *                  PROTO_BACKUP_COUNT_MAX, by default SIZE / 64K but at
 *                  least 1000 (proto_scope_backup_count()), e.g. backup:50G
 *                  or backup:50G:2000
 *   dns:ZONE       may change records of ZONE (a DNS name) during failover */
#ifndef KITH_PROTO_SCOPE_H
#define KITH_PROTO_SCOPE_H

#include <stdbool.h>
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

/* The default shard count of a backup scope: one shard per
 * PROTO_BACKUP_SHARD_BYTES of its quota, at least PROTO_BACKUP_COUNT_FLOOR
 * and at most PROTO_BACKUP_COUNT_MAX (proto/limits.h). Why these numbers:
 * a holder pays a file and an index entry (about 1 KiB of disk and
 * metadata) per shard whatever its size, so a partner that may send
 * 1-byte shards could use a thousand times its quota; at 64 KiB per shard
 * that overhead stays under 2% of the quota, while real shards (pieces of
 * erasure-coded packs, around 1 to 4 MiB) leave 16 to 64 times that room.
 * The floor lets a small quota (backup:10M) still hold a thousand small
 * shards. Changing these changes what existing grants mean. */
#define PROTO_BACKUP_SHARD_BYTES 65536
#define PROTO_BACKUP_COUNT_FLOOR 1000

struct proto_scope {
	enum proto_scope_type type;
	uint64_t quota; /* bytes, for PROTO_SCOPE_BACKUP */
	/* Shards, for PROTO_SCOPE_BACKUP: 0 when the text gave no COUNT or
	 * gave the default (the parser stores 0 then, so that a scope has one
	 * form in memory as in text); read it with proto_scope_backup_count(). */
	uint32_t count;
	char zone[PROTO_ZONE_MAX + 1]; /* lower case, no final dot, for PROTO_SCOPE_DNS */
};

/* Parses text[0..len) (borrowed; need not be NUL-terminated). Returns 0 or
 * KITH_ESCOPE; when why is not NULL it receives a phrase saying what is
 * wrong, which may quote the text, e.g. "unknown scope 'monitr' (expected
 * monitor, admit, backup:SIZE or dns:ZONE)". *why points to static,
 * per-thread storage that the next call may overwrite: print or copy it
 * before parsing again. */
int proto_scope_parse(struct proto_scope *out, const char *text, size_t len, const char **why);

/* A DNS host or zone name s[0..len) (borrowed): labels of a-z, 0-9 and
 * '-', lowered into out without its final dot. Returns 0 or KITH_ESCOPE
 * with *why as for proto_scope_parse(). */
int proto_dns_name_parse(char out[PROTO_ZONE_MAX + 1], const char *s, size_t len, const char **why);
/* Whether name is zone or a name under it (both in proto_dns_name_parse()'s
 * form). */
bool proto_dns_name_in_zone(const char *name, const char *zone);
/* Writes the canonical text form into buf (NUL-terminated): backup sizes
 * use the largest of K, M, G, T that divides them exactly, and COUNT only
 * when it is not the default. Returns 0, KITH_ETOOBIG when n is too small,
 * or KITH_EVALUE for an unknown type, a quota of 0 or over PROTO_SIZE_MAX,
 * or a count over PROTO_BACKUP_COUNT_MAX. */
int proto_scope_format(const struct proto_scope *s, char *buf, size_t n);

/* The most shards a backup scope lets its holder keep: s->count, or when
 * that is 0 the default for s->quota (see PROTO_BACKUP_SHARD_BYTES). 0 for
 * a scope of another type. */
uint32_t proto_scope_backup_count(const struct proto_scope *s);
/* Parses a comma-separated list of scopes ("monitor,backup:50G") into
 * out[0..max) and *n (0 for an empty text). Returns 0, KITH_ETOOBIG (more
 * than max) or KITH_ESCOPE with *why (may be NULL; static text) naming
 * what is wrong with the bad one. */
int proto_scope_list_parse(const char *text, struct proto_scope *out, uint32_t max, uint32_t *n,
                           const char **why);
/* Is s (built in memory, or decoded) what the parser makes of its own
 * canonical text? That applies the parser's rules to every scope a record
 * or token carries. The text is written into text when it is not NULL.
 * Returns 0 or KITH_EVALUE. */
int proto_scope_check(const struct proto_scope *s, char text[PROTO_SCOPE_MAX + 1]);
/* The default count for a quota of quota bytes. */
uint32_t proto_scope_backup_default_count(uint64_t quota);

#endif
