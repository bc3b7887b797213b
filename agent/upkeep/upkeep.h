/* The store's upkeep: what each author may keep here, records that expired
 * or whose author was ejected, and a store near full.
 *
 * Budgets. Every author (but us) may hold author_records records and
 * author_bytes bytes in our store ([limits], kithd.conf); trust records
 * (admissions, grants, revocations, member records) twice that, so that a
 * member that filled its budget with observations can still be ejected,
 * revoke a grant or move. A record over its author's budget is passed over
 * (store.h): not kept, not relayed, never asked for again.
 *
 * Near full. Once the store uses UPKEEP_NEAR_FULL_PERCENT of what records may use
 * (map_max less the store's reserve), records other than trust records are
 * refused the same way, and so are new shards, until pruning brings it
 * down: the network's trust keeps working when everything else is
 * refused. The change is logged, and reported to the agent (kith status,
 * our own contacts) once each way.
 *
 * Pruning. Expired records go (store_records_prune(), but for the trust
 * history the replay reads), and so do an ejected member's records (but
 * its grants, revocations and admissions), in slices of UPKEEP_SLICE each
 * turn of the timer, so the loop is never held long. */
#ifndef KITH_AGENT_UPKEEP_UPKEEP_H
#define KITH_AGENT_UPKEEP_UPKEEP_H

#include <stdbool.h>
#include <stdint.h>

#include "proto/limits.h"
#include "store/store.h"

struct conf;
struct loop;

#define UPKEEP_SLICE 256            /* records removed per synced transaction */
#define UPKEEP_DROPS_MAX 64         /* ejected authors waiting for their records to go */
#define UPKEEP_NEAR_FULL_PERCENT 90 /* of map_adds */

/* What the upkeep needs from the agent; every pointer is borrowed and must
 * outlive the upkeep. */
struct upkeep_env {
	void *arg;               /* passed to the callback */
	const uint8_t *self;     /* our peer key: our records have no budget */
	const struct conf *conf; /* [limits] author_records, author_bytes */
	/* The store became near full (near is true) or no longer is; st as of
	 * now. For the admin's contacts. May be NULL. */
	void (*near_full_changed)(void *arg, bool near, const struct store_stats *st);
};

struct upkeep_stats {
	uint64_t pruned;  /* expired records removed */
	uint64_t dropped; /* records of ejected members removed */
	bool near_full;
	struct store_stats store; /* as of the last check (every 2 s) */
};

struct upkeep;

/* Checks the store now and starts the timer in l. l, s and env are
 * borrowed and must outlive the upkeep. On success *out is owned by the
 * caller (upkeep_free()). */
int upkeep_new(struct upkeep **out, struct loop *l, struct store *s, const struct upkeep_env *env);
void upkeep_free(struct upkeep **u);
/* The budget a record of author of kind gets in our store (NULL: none,
 * our own); *why says what a refusal under it means. Valid until the
 * next call. */
const struct store_budget *upkeep_budget(struct upkeep *u, const uint8_t author[PROTO_KEY_LEN],
                                         uint8_t kind, const char **why);
bool upkeep_near_full(const struct upkeep *u);
/* Removes author's records (but its trust records) in slices: ejected. At
 * most UPKEEP_DROPS_MAX wait at once; the others are left for the next
 * start, which is told every ejected member again. */
void upkeep_drop(struct upkeep *u, const uint8_t author[PROTO_KEY_LEN]);
void upkeep_get_stats(const struct upkeep *u, struct upkeep_stats *out);

#endif
