/* The audit behind kith backup ls, verify, prune and repair: which packs
 * our snapshots name, and what their holders say they keep of them
 * (hold.list), or, read back whole, do keep (backup_audit.c). Internal to
 * the backup commands. */
#ifndef KITH_TOOLS_BACKUP_AUDIT_H
#define KITH_TOOLS_BACKUP_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backup.h"

/* What a holder listed for one shard, keyed by BLAKE2b-256(peer || name). */
struct held {
	uint64_t size;
	uint8_t hash[PROTO_HOLD_HASH_LEN];
	enum proto_hold_state state;
};

struct audit {
	struct bk *b;
	struct fetch *f;
	struct bk_set packs;     /* every pack the snapshots name */
	struct snap_pack *place; /* by index in packs */
	struct bk_set holders;   /* every holder they name (peer keys) */
	struct bk_set listed;    /* shards the holders listed */
	struct held *held;       /* by index in listed */
	bool *unreachable;       /* by index in holders: dead, or no list */
	char err[400];
};

enum shard_health { SHARD_GOOD, SHARD_GRACE, SHARD_MISSING, SHARD_WRONG, SHARD_UNREACHABLE };

/* The packs one snapshot names, as indexes into the audit's packs. */
struct snap_packs {
	uint32_t *idx;
	size_t n, cap;
};

struct health {
	uint64_t held, total;
	long losses; /* the fewest spare shards of any pack: < 0, not restorable */
};

/* Opens an audit (the members kithd sees dead are read around). Returns 0
 * or -ENOMEM; audit_free() either way. */
int audit_open(struct audit *a, struct bk *b);
void audit_free(struct audit *a);
/* Collects the packs of every snapshot of r and lists their holders; *sps
 * gets one snap_packs per snapshot (r->n, heap: audit_sps_free()).
 * Returns CLI_OK or CLI_FAIL after one line. */
int audit_roots(struct audit *a, const struct bk_roots *r, struct snap_packs **sps);
void audit_sps_free(struct snap_packs *sps, size_t n);

/* What the holder of shard i of p says of it (SHARD_GOOD and SHARD_GRACE
 * count as held), and its words for it. */
enum shard_health audit_shard_health(const struct audit *a, const struct snap_pack *p, unsigned i);
extern const char *const audit_health_text[];
/* Reads shard i of p back whole and hashes it: 0 when the bytes check,
 * KITH_ECHECKSUM when they do not, another code when unreadable. */
int audit_read_shard(struct audit *a, const struct snap_pack *p, unsigned i);
size_t audit_shard_len(const struct snap_pack *p);
/* The health of the packs sp names, and one line for it. */
struct health audit_health(const struct audit *a, const struct snap_packs *sp);
void audit_health_line(char *buf, size_t n, const struct health *h);
/* Grows *arr to cap elements of size bytes: 0 or -ENOMEM. */
int audit_grow(void **arr, size_t cap, size_t size);

#endif
