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
 * Near full. Once the store uses NEAR_FULL_PERCENT of what records may use
 * (map_max less the store's reserve), records other than trust records are
 * refused the same way, and so are new shards, until pruning brings it
 * down: the network's trust keeps working when everything else is
 * refused. The change is logged, shown by kith status, and told to our own
 * contacts once each way.
 *
 * Pruning. Expired records go (store_records_prune(), but for the trust
 * history the replay reads), and so do an ejected member's records (but
 * its grants, revocations and admissions), in slices of UPKEEP_SLICE each
 * turn of the timer, so the loop is never held long. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proto/error.h"
#include "proto/identity.h"
#include "proto/peerid.h"
#include "proto/record.h"
#include "proto/units.h"
#include "store/store.h"
#include "agent_int.h"
#include "agent/monitor/alert.h"
#include "agent/core/log.h"

#define UPKEEP_MS 2000       /* the timer, when nothing is due */
#define UPKEEP_BUSY_MS 100   /* when a slice left more to do */
#define UPKEEP_SLICE 256     /* records removed per synced transaction */
#define UPKEEP_DROPS_MAX 64  /* ejected authors waiting for their records to go */
#define NEAR_FULL_PERCENT 90 /* of map_adds */
#define TRUST_BUDGET_MULT 2

struct agent_upkeep {
	struct loop_timer timer;
	uint8_t drops[UPKEEP_DROPS_MAX][PROTO_KEY_LEN];
	size_t n_drops;
	bool near_full;
	struct store_stats last; /* as of the last tick */
	struct agent_upkeep_stats stats;
};

static bool trust_kind(uint8_t kind)
{
	return kind == PROTO_KIND_ADMISSION || kind == PROTO_KIND_GRANT ||
	       kind == PROTO_KIND_REVOCATION || kind == PROTO_KIND_MEMBER;
}

const struct store_budget *agent_upkeep_budget(struct agent *a, const uint8_t author[PROTO_KEY_LEN],
                                               uint8_t kind, const char **why)
{
	static struct store_budget normal, trust;
	static const struct store_budget none = {0, 0};
	struct agent_upkeep *u = a->upkeep;

	if (!memcmp(author, a->id->pk, PROTO_KEY_LEN))
		return NULL; /* our own: the admin's to bound */
	normal = (struct store_budget){a->conf.author_records, a->conf.author_bytes};
	trust = (struct store_budget){(uint64_t)a->conf.author_records * TRUST_BUDGET_MULT,
	                              a->conf.author_bytes * TRUST_BUDGET_MULT};
	if (trust_kind(kind)) {
		*why = "over its budget for trust records ([limits] author_records, author_bytes)";
		return &trust;
	}
	if (u && u->near_full) {
		*why = "our store is near full: only trust records are taken";
		return &none;
	}
	*why = "over its budget ([limits] author_records, author_bytes)";
	return &normal;
}

bool agent_upkeep_near_full(const struct agent *a)
{
	return a->upkeep && a->upkeep->near_full;
}

void agent_upkeep_drop(struct agent *a, const uint8_t author[PROTO_KEY_LEN])
{
	struct agent_upkeep *u = a->upkeep;

	if (!u || !memcmp(author, a->id->pk, PROTO_KEY_LEN))
		return;
	for (size_t i = 0; i < u->n_drops; i++)
		if (!memcmp(u->drops[i], author, PROTO_KEY_LEN))
			return;
	/* More ejections at once than this: the rest wait for the next
	 * start, which schedules every ejected member again. */
	if (u->n_drops == UPKEEP_DROPS_MAX)
		return;
	memcpy(u->drops[u->n_drops++], author, PROTO_KEY_LEN);
	loop_timer_start(a->loop, &u->timer, 0);
}

/* One slice of the first ejected author's records. Returns true when
 * more is due. */
static bool drop_slice(struct agent *a, struct agent_upkeep *u)
{
	const uint32_t keep =
	    1u << PROTO_KIND_GRANT | 1u << PROTO_KIND_REVOCATION | 1u << PROTO_KIND_ADMISSION;
	char who[PROTO_PEERID_SHORT_LEN + 1];
	uint64_t removed = 0;
	bool more = false;
	int rc;

	if (!u->n_drops)
		return false;
	rc = store_author_drop(a->store, u->drops[0], keep, UPKEEP_SLICE, &removed, &more);
	u->stats.dropped += removed;
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

static bool prune_slice(struct agent *a, struct agent_upkeep *u)
{
	uint64_t now = (uint64_t)time(NULL), removed = 0;
	bool more = false;
	int rc;

	/* Expired by every member's clock: what the skew still allows
	 * stays a while. */
	if (now <= PROTO_CLOCK_SKEW)
		return false;
	rc = store_records_prune(a->store, now - PROTO_CLOCK_SKEW, UPKEEP_SLICE, &removed, &more);
	if (rc) {
		log_tally(LOG_LEVEL_WARN, "upkeep: failed", 1, "prune", "of expired records",
		          proto_strerror(rc));
		return false;
	}
	u->stats.pruned += removed;
	return more;
}

/* Tells our own contacts that the store became near full, or is no more. */
static void tell_contacts(struct agent *a, const struct store_stats *st)
{
	char contacts[PROTO_CONTACTS_MAX][PROTO_CONTACT_MAX + 1];
	char id[PROTO_PEERID_TEXT_LEN + 1], used[32], max[32], subject[200], text[600];
	struct alert_message m = {.kind = "store", .service = "", .since = (uint64_t)time(NULL)};
	size_t n = agent_contacts(a, a->id->pk, contacts, PROTO_CONTACTS_MAX);

	proto_peerid_format(id, a->id->pk);
	proto_size_format(st->used_bytes, used, sizeof(used));
	proto_size_format(st->map_max, max, sizeof(max));
	snprintf(subject, sizeof(subject), "kith: the store of %s is %s", id,
	         a->upkeep->near_full ? "near full" : "no longer near full");
	snprintf(text, sizeof(text),
	         "The store of kithd %s uses %s of its %s limit ([store] map_max).\n%s", id, used,
	         max,
	         a->upkeep->near_full
	             ? "Records other than trust records, and new shards, are refused until "
	               "records expire or the limit is raised in kithd.conf."
	             : "Records and shards are taken again.");
	m.subject = subject;
	m.text = text;
	m.owner = id;
	m.owner_name = "";
	m.state = a->upkeep->near_full ? "near-full" : "ok";
	m.previous = a->upkeep->near_full ? "ok" : "near-full";
	for (size_t i = 0; i < n; i++)
		alert_send(a->alert, contacts[i], &m, false);
}

static void check_full(struct agent *a, struct agent_upkeep *u)
{
	struct store_stats st;
	bool near;
	char used[32], max[32];

	if (store_stats_get(a->store, &st) != 0)
		return;
	u->last = st;
	near = st.used_bytes >= st.map_adds / 100 * NEAR_FULL_PERCENT;
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
	tell_contacts(a, &st);
}

static void tick(struct loop *l, void *arg)
{
	struct agent *a = arg;
	struct agent_upkeep *u = a->upkeep;
	bool more = drop_slice(a, u);

	more = prune_slice(a, u) || more;
	check_full(a, u);
	log_tally_flush();
	loop_timer_start(l, &u->timer, more ? UPKEEP_BUSY_MS : UPKEEP_MS);
}

static void schedule_ejected(void *arg, const struct trust_member *m)
{
	if (m->ejected)
		agent_upkeep_drop(arg, m->peer);
}

int agent_upkeep_new(struct agent *a)
{
	struct agent_upkeep *u = calloc(1, sizeof(*u));

	if (!u)
		return -ENOMEM;
	loop_timer_init(&u->timer, tick, a);
	a->upkeep = u;
	check_full(a, u);
	trust_each(a->trust, true, schedule_ejected, a);
	loop_timer_start(a->loop, &u->timer, 0);
	return 0;
}

void agent_upkeep_free(struct agent *a)
{
	if (!a->upkeep)
		return;
	loop_timer_stop(a->loop, &a->upkeep->timer);
	free(a->upkeep);
	a->upkeep = NULL;
}

void agent_upkeep_get_stats(const struct agent *a, struct agent_upkeep_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (!a->upkeep)
		return;
	*out = a->upkeep->stats;
	out->store = a->upkeep->last;
	out->near_full = a->upkeep->near_full;
}
