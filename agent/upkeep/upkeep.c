#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/error.h"
#include "proto/peerid.h"
#include "proto/record.h"
#include "proto/units.h"
#include "agent/core/conf.h"
#include "agent/core/log.h"
#include "agent/core/loop.h"
#include "upkeep.h"

#define UPKEEP_MS 2000     /* the timer, when nothing is due */
#define UPKEEP_BUSY_MS 100 /* when a slice left more to do */
#define TRUST_BUDGET_MULT 2

struct upkeep {
	const struct upkeep_env *env;
	struct loop *loop;
	struct store *store;
	struct loop_timer timer;
	uint8_t drops[UPKEEP_DROPS_MAX][PROTO_KEY_LEN];
	size_t n_drops;
	bool near_full;
	struct store_stats last; /* as of the last tick */
	struct upkeep_stats stats;
	struct store_budget normal, trust; /* what upkeep_budget() returns */
};

static bool trust_kind(uint8_t kind)
{
	return kind == PROTO_KIND_ADMISSION || kind == PROTO_KIND_GRANT ||
	       kind == PROTO_KIND_REVOCATION || kind == PROTO_KIND_MEMBER;
}

const struct store_budget *upkeep_budget(struct upkeep *u, const uint8_t author[PROTO_KEY_LEN],
                                         uint8_t kind, const char **why)
{
	static const struct store_budget none = {0, 0};
	const struct conf *c = u->env->conf;

	if (!memcmp(author, u->env->self, PROTO_KEY_LEN))
		return NULL; /* our own: the admin's to bound */
	u->normal = (struct store_budget){c->author_records, c->author_bytes};
	u->trust = (struct store_budget){(uint64_t)c->author_records * TRUST_BUDGET_MULT,
	                                 c->author_bytes * TRUST_BUDGET_MULT};
	if (trust_kind(kind)) {
		*why = "over its budget for trust records ([limits] author_records, author_bytes)";
		return &u->trust;
	}
	if (u->near_full) {
		*why = "our store is near full: only trust records are taken";
		return &none;
	}
	*why = "over its budget ([limits] author_records, author_bytes)";
	return &u->normal;
}

bool upkeep_near_full(const struct upkeep *u)
{
	return u->near_full;
}

void upkeep_drop(struct upkeep *u, const uint8_t author[PROTO_KEY_LEN])
{
	if (!memcmp(author, u->env->self, PROTO_KEY_LEN))
		return;
	for (size_t i = 0; i < u->n_drops; i++)
		if (!memcmp(u->drops[i], author, PROTO_KEY_LEN))
			return;
	if (u->n_drops == UPKEEP_DROPS_MAX)
		return;
	memcpy(u->drops[u->n_drops++], author, PROTO_KEY_LEN);
	loop_timer_start(u->loop, &u->timer, 0);
}

/* One slice of the first ejected author's records. Returns true when
 * more is due. */
static bool drop_slice(struct upkeep *u)
{
	const uint32_t keep =
	    1u << PROTO_KIND_GRANT | 1u << PROTO_KIND_REVOCATION | 1u << PROTO_KIND_ADMISSION;
	char who[PROTO_PEERID_SHORT_LEN + 1];
	uint64_t removed = 0;
	bool more = false;
	int rc;

	if (!u->n_drops)
		return false;
	rc = store_author_drop(u->store, u->drops[0], keep, UPKEEP_SLICE, &removed, &more);
	u->stats.dropped += removed;
	if (!rc && !more) {
		/* Its services' verdict history goes with its records. */
		uint64_t gone = 0;
		rc = store_verdicts_drop(u->store, u->drops[0], UPKEEP_SLICE, &gone, &more);
	}
	if (rc || !more) {
		proto_peerid_short(who, u->drops[0]);
		if (rc)
			log_warnx("cannot remove the records of %s: %s", who, proto_strerror(rc));
		else
			log_info("removed the records of %s, ejected (its trust records stay)",
			         who);
		memmove(u->drops[0], u->drops[1], (u->n_drops - 1) * PROTO_KEY_LEN);
		u->n_drops--;
	}
	return u->n_drops > 0;
}

static bool prune_slice(struct upkeep *u)
{
	uint64_t now = loop_wall_s(), removed = 0;
	bool more = false;
	int rc;

	/* Expired by every member's clock: what the skew still allows
	 * stays a while. */
	if (now <= PROTO_CLOCK_SKEW)
		return false;
	rc = store_records_prune(u->store, now - PROTO_CLOCK_SKEW, UPKEEP_SLICE, &removed, &more);
	if (rc) {
		log_tally(LOG_LEVEL_WARN, "upkeep: failed", 1, "prune", "of expired records",
		          proto_strerror(rc));
		return false;
	}
	u->stats.pruned += removed;
	return more;
}

static void check_full(struct upkeep *u)
{
	struct store_stats st;
	bool near;
	char used[32], max[32];

	if (store_stats_get(u->store, &st) != 0)
		return;
	u->last = st;
	near = st.used_bytes >= st.map_adds / 100 * UPKEEP_NEAR_FULL_PERCENT;
	if (near == u->near_full)
		return;
	u->near_full = near;
	proto_size_format(st.used_bytes, used, sizeof(used));
	proto_size_format(st.map_max, max, sizeof(max));
	if (near)
		log_warnx("the store is near full (%s of %s, [store] map_max): refusing records "
		          "other than trust records, and new shards",
		          used, max);
	else
		log_info("the store is no longer near full (%s of %s)", used, max);
	if (u->env->near_full_changed)
		u->env->near_full_changed(u->env->arg, near, &st);
}

static void tick(struct loop *l, void *arg)
{
	struct upkeep *u = arg;
	bool more = drop_slice(u);

	more = prune_slice(u) || more;
	check_full(u);
	log_tally_flush();
	loop_timer_start(l, &u->timer, more ? UPKEEP_BUSY_MS : UPKEEP_MS);
}

int upkeep_new(struct upkeep **out, struct loop *l, struct store *s, const struct upkeep_env *env)
{
	struct upkeep *u = calloc(1, sizeof(*u));
	int rc;

	if (!u)
		return -ENOMEM;
	u->env = env;
	u->loop = l;
	u->store = s;
	loop_timer_init(&u->timer, tick, u);
	check_full(u);
	rc = loop_timer_start(l, &u->timer, 0);
	if (rc) {
		free(u);
		return rc;
	}
	*out = u;
	return 0;
}

void upkeep_free(struct upkeep **up)
{
	if (!*up)
		return;
	loop_timer_stop((*up)->loop, &(*up)->timer);
	free(*up);
	*up = NULL;
}

void upkeep_get_stats(const struct upkeep *u, struct upkeep_stats *out)
{
	*out = u->stats;
	out->store = u->last;
	out->near_full = u->near_full;
}
