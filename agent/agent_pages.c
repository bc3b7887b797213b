/* The status pages (agent/http/page.h renders them): the model filled from
 * what this agent knows (members and their states, the monitor's services
 * and observations, the verdict history in the store), and that history
 * kept: every verdict change is a transition in the store, pruned after 90
 * days.
 *
 *   /                          the network, HTML
 *   /member/PEER_ID            one member, HTML
 *   /api/network.json          the network, JSON
 *   /api/member/PEER_ID.json   one member, JSON
 *
 * A page costs one walk of the monitor's services, and for a member's page
 * one read of each of its services' history (at most
 * STORE_VERDICT_SERIES_MAX transitions each). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/error.h"
#include "proto/identity.h"
#include "proto/peerid.h"
#include "store/store.h"
#include "agent_int.h"
#include "agent/core/httpd.h"
#include "agent/core/log.h"
#include "agent/http/page.h"
#include "agent/member/member.h"
#include "agent/monitor/monitor.h"
#include "agent/monitor/uptime.h"

/* The history a page shows, and how long it is kept (a day more, so the
 * oldest day of the bar is whole). */
#define HISTORY_DAYS UPTIME_DAYS
#define HISTORY_KEEP_S ((uint64_t)(HISTORY_DAYS + 1) * 86400)

/* ---- the history ---- */

static void on_event(void *arg, const struct monitor_event *ev)
{
	struct agent *a = arg;
	uint64_t started = loop_wall_s() - (loop_now_ms(a->loop) - a->started_ms) / 1000;
	int rc = 0;

	if (ev->type != MONITOR_VERDICT)
		return;
	/* After a restart, what the agent did not know until this verdict is
	 * unknown, not the verdict it had before it stopped. */
	if (ev->previous == VERDICT_UNKNOWN && ev->since > started)
		rc = store_verdict_append(a->store, ev->peer, ev->service, started,
		                          (uint8_t)VERDICT_UNKNOWN, NULL);
	if (!rc)
		rc = store_verdict_append(a->store, ev->peer, ev->service, ev->since,
		                          (uint8_t)ev->current, NULL);
	if (rc)
		log_tally(LOG_LEVEL_WARN, "could not keep", 1, "verdict", "in the history",
		          proto_strerror(rc));
}

int agent_pages_start(struct agent *a)
{
	return monitor_subscribe(a->monitor, on_event, a);
}

void agent_pages_upkeep(struct agent *a)
{
	uint64_t now = loop_wall_s(), removed = 0;
	bool more = false;
	int rc;

	if (now <= HISTORY_KEEP_S)
		return;
	/* A slice an hour: the history of a year's outages is small. */
	rc = store_verdicts_prune(a->store, now - HISTORY_KEEP_S, 4096, &removed, &more);
	if (rc)
		log_warnx("cannot prune the verdict history: %s", proto_strerror(rc));
}

/* ---- the model ---- */

/* A service as the monitor shows it, with its owner. */
struct item {
	uint8_t owner[PROTO_KEY_LEN];
	struct page_service s;
	struct page_observer *obs; /* owned, s.observers */
	struct uptime *uptime;     /* owned, s.uptime */
};

struct model {
	struct agent *a;
	const uint8_t *only; /* one owner's services, NULL: all */
	bool observers;      /* copy each observer's word */
	struct item *items;
	size_t n, cap;
	int err;
};

static void fill_observer(struct agent *a, struct page_observer *o, const struct monitor_obs *m)
{
	const struct trust_member *t = trust_get(a->trust, m->observer);

	memset(o, 0, sizeof(*o));
	proto_peerid_format(o->peer_id, m->observer);
	if (t)
		snprintf(o->name, sizeof(o->name), "%s", t->name);
	o->status = m->status;
	o->latency_ms = m->latency_ms;
	o->checked_at = m->checked_at;
	snprintf(o->error, sizeof(o->error), "%s", m->error);
}

static void collect(void *arg, const struct monitor_view *v)
{
	struct model *m = arg;
	struct item *it;

	if (m->err || (m->only && memcmp(m->only, v->owner, PROTO_KEY_LEN)))
		return;
	if (m->n == m->cap) {
		size_t cap = m->cap ? 2 * m->cap : 64;
		struct item *grown = realloc(m->items, cap * sizeof(*grown));
		if (!grown) {
			m->err = -ENOMEM;
			return;
		}
		m->items = grown;
		m->cap = cap;
	}
	it = &m->items[m->n];
	memset(it, 0, sizeof(*it));
	memcpy(it->owner, v->owner, PROTO_KEY_LEN);
	snprintf(it->s.name, sizeof(it->s.name), "%s", v->name);
	it->s.verdict = v->verdict;
	it->s.since = v->since;
	if (m->observers && v->n_obs) {
		it->obs = calloc(v->n_obs, sizeof(*it->obs));
		if (!it->obs) {
			m->err = -ENOMEM;
			return;
		}
		for (size_t i = 0; i < v->n_obs; i++)
			fill_observer(m->a, &it->obs[i], &v->obs[i]);
		it->s.observers = it->obs;
		it->s.n_observers = v->n_obs;
	}
	m->n++;
}

static int by_owner_then_name(const void *x, const void *y)
{
	const struct item *a = x, *b = y;
	int c = memcmp(a->owner, b->owner, PROTO_KEY_LEN);

	return c ? c : strcmp(a->s.name, b->s.name);
}

/* The last 90 days of it's history into it->uptime (none when unread). */
static void history_of(struct agent *a, struct item *it, uint64_t now)
{
	struct store_verdict *v = malloc(STORE_VERDICT_SERIES_MAX * sizeof(*v));
	struct uptime_transition *t = malloc(STORE_VERDICT_SERIES_MAX * sizeof(*t));
	uint64_t from = now / 86400 * 86400 - (uint64_t)(HISTORY_DAYS - 1) * 86400;
	size_t n = 0;
	int rc = v && t ? 0 : -ENOMEM;

	if (!rc)
		rc = store_verdicts_read(a->store, it->owner, it->s.name, from, v,
		                         STORE_VERDICT_SERIES_MAX, &n);
	/* A damaged entry is skipped (-EIO): the others still tell. */
	if ((!rc || rc == -EIO) && (it->uptime = malloc(sizeof(*it->uptime)))) {
		for (size_t i = 0; i < n; i++)
			t[i] = (struct uptime_transition){v[i].at, (enum verdict)v[i].verdict};
		if (uptime_compute(it->uptime, t, n, now) == 0) {
			it->s.uptime = it->uptime;
		} else {
			free(it->uptime);
			it->uptime = NULL;
		}
	}
	free(v);
	free(t);
}

static void model_free(struct model *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->items[i].obs);
		free(m->items[i].uptime);
	}
	free(m->items);
}

static void fill_member(struct agent *a, struct page_member *pm, const uint8_t key[PROTO_KEY_LEN],
                        const char *name)
{
	struct member_info info;

	memset(pm, 0, sizeof(*pm));
	proto_peerid_format(pm->peer_id, key);
	snprintf(pm->name, sizeof(pm->name), "%s", name);
	if (!memcmp(key, a->id->pk, PROTO_KEY_LEN))
		pm->state = PROTO_STATE_ALIVE;
	else if (member_get(a->member, key, &info) == 0)
		pm->state = info.state;
}

static void fill_site(struct agent *a, struct page_site *site)
{
	const struct trust_member *self = trust_get(a->trust, a->id->pk);

	memset(site, 0, sizeof(*site));
	site->now = loop_wall_s();
	proto_peerid_format(site->peer_id, a->id->pk);
	if (self)
		snprintf(site->name, sizeof(site->name), "%s", self->name);
}

/* ---- the network ---- */

/* A member of the page, with the key its services are sorted by. */
struct entry {
	uint8_t key[PROTO_KEY_LEN];
	struct page_member pm;
};

struct roster {
	struct agent *a;
	struct entry *entries;
	size_t n, cap;
};

static void add_member(void *arg, const struct trust_member *t)
{
	struct roster *r = arg;
	struct entry *e;

	if (r->n == r->cap)
		return;
	e = &r->entries[r->n++];
	memcpy(e->key, t->peer, PROTO_KEY_LEN);
	fill_member(r->a, &e->pm, t->peer, t->name);
}

static int by_name_then_id(const void *x, const void *y)
{
	const struct entry *a = x, *b = y;
	int c = strcmp(a->pm.name, b->pm.name);

	return c ? c : strcmp(a->pm.peer_id, b->pm.peer_id);
}

/* The first of items[0..n) (sorted by owner) whose owner is not below key. */
static size_t first_of(const struct item *items, size_t n, const uint8_t key[PROTO_KEY_LEN])
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (memcmp(items[mid].owner, key, PROTO_KEY_LEN) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int network(struct agent *a, bool json, struct page_buf *out)
{
	struct model m = {.a = a};
	struct roster r = {.a = a, .cap = trust_count(a->trust)};
	struct page_member *members = NULL;
	struct page_service *services = NULL;
	struct page_site site;
	int rc;

	monitor_each(a->monitor, collect, &m);
	r.entries = calloc(r.cap ? r.cap : 1, sizeof(*r.entries));
	members = calloc(r.cap ? r.cap : 1, sizeof(*members));
	services = calloc(m.n ? m.n : 1, sizeof(*services));
	rc = m.err ? m.err : r.entries && members && services ? 0 : -ENOMEM;
	if (!rc) {
		trust_each(a->trust, false, add_member, &r);
		qsort(r.entries, r.n, sizeof(*r.entries), by_name_then_id);
		/* Each member's services: its slice of the items sorted by
		 * owner. */
		qsort(m.items, m.n, sizeof(*m.items), by_owner_then_name);
		for (size_t i = 0; i < m.n; i++)
			services[i] = m.items[i].s;
		for (size_t i = 0; i < r.n; i++) {
			size_t j = first_of(m.items, m.n, r.entries[i].key), k = j;
			while (k < m.n &&
			       !memcmp(m.items[k].owner, r.entries[i].key, PROTO_KEY_LEN))
				k++;
			members[i] = r.entries[i].pm;
			members[i].services = services + j;
			members[i].n_services = k - j;
		}
		fill_site(a, &site);
		rc = json ? page_network_json(out, &site, members, r.n)
		          : page_network_html(out, &site, members, r.n);
	}
	free(services);
	free(members);
	free(r.entries);
	model_free(&m);
	return rc;
}

/* ---- one member ---- */

static int member(struct agent *a, const uint8_t key[PROTO_KEY_LEN], bool json,
                  struct page_buf *out)
{
	const struct trust_member *t = trust_get(a->trust, key);
	struct model m = {.a = a, .only = key, .observers = true};
	struct page_service *services = NULL;
	struct page_member pm;
	struct page_site site;
	int rc;

	if (!t || !trust_is_member(a->trust, key))
		return -ENOENT;
	fill_site(a, &site);
	fill_member(a, &pm, key, t->name);
	monitor_each(a->monitor, collect, &m);
	rc = m.err;
	if (!rc && m.n && !(services = calloc(m.n, sizeof(*services))))
		rc = -ENOMEM;
	if (!rc) {
		qsort(m.items, m.n, sizeof(*m.items), by_owner_then_name);
		for (size_t i = 0; i < m.n; i++) {
			history_of(a, &m.items[i], site.now);
			services[i] = m.items[i].s;
		}
		pm.services = services;
		pm.n_services = m.n;
		rc = json ? page_member_json(out, &site, &pm) : page_member_html(out, &site, &pm);
	}
	free(services);
	model_free(&m);
	return rc;
}

/* ---- routing ---- */

/* The peer ID in path between prefix and suffix, into key. */
static bool peer_in(const char *path, const char *prefix, const char *suffix,
                    uint8_t key[PROTO_KEY_LEN])
{
	size_t lp = strlen(prefix), ls = strlen(suffix), len = strlen(path);
	char text[PROTO_PEERID_TEXT_LEN + 8], why[80];

	if (len <= lp + ls || strncmp(path, prefix, lp) || strcmp(path + len - ls, suffix) ||
	    len - lp - ls >= sizeof(text))
		return false;
	memcpy(text, path + lp, len - lp - ls);
	text[len - lp - ls] = '\0';
	return proto_peerid_parse(key, text, why, sizeof(why)) == 0;
}

void agent_pages(struct agent *a, const char *path, struct httpd_reply *r)
{
	struct page_buf out = {0};
	uint8_t key[PROTO_KEY_LEN];
	bool json = false;
	int rc;

	if (!strcmp(path, "/"))
		rc = network(a, false, &out);
	else if ((json = !strcmp(path, "/api/network.json")))
		rc = network(a, true, &out);
	else if (peer_in(path, "/member/", "", key))
		rc = member(a, key, false, &out);
	else if ((json = peer_in(path, "/api/member/", ".json", key)))
		rc = member(a, key, true, &out);
	else
		return; /* 404 */
	if (rc == -ENOENT) {
		page_buf_free(&out);
		return;
	}
	if (rc) {
		log_warnx("status page %s: %s", path, proto_strerror(rc));
		page_buf_free(&out);
		r->status = rc == KITH_ETOOBIG ? 503 : 500;
		r->body = strdup("the page could not be made: see the agent's log\n");
		r->len = r->body ? strlen(r->body) : 0;
		return;
	}
	r->status = 200;
	r->content_type = json ? "application/json" : "text/html; charset=utf-8";
	r->body = out.data; /* handed over: the listener frees it */
	r->len = out.len;
}
