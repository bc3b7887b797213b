/* Peer monitoring's state (monitor.h): the index of services and their
 * observers, the observations we publish, the verdicts and the dead
 * members, all turned into events for the subscribers. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "proto/body.h"
#include "proto/error.h"
#include "proto/peerid.h"
#include "proto/record.h"
#include "agent/core/conf.h"
#include "agent/core/keymap.h"
#include "agent/core/log.h"
#include "agent/core/loop.h"
#include "agent/core/web.h"
#include "health.h"
#include "monitor.h"
#include "verdict.h"

/* A service some member registered, or that observations name. */
struct mon_service {
	uint8_t owner[PROTO_KEY_LEN];
	char name[PROTO_SERVICE_NAME_MAX + 1];
	uint32_t interval_s; /* 0 until its record is known */
	bool gone;           /* tombstoned by its owner */
	bool watched;        /* we check it */
	struct verdict_state verdict;
	struct verdict_state standby; /* of its DNS plan's standby */
	struct proto_dns_plan plan;   /* as we watch it; name "" without */
	uint64_t next_eval;
	struct monitor_obs *obs;
	uint32_t n_obs;
	/* With a DNS plan, the latest status of each address we check
	 * (health.h's targets; 0: none yet), and the error of the latest
	 * primary address found not up. */
	uint8_t target_status[HEALTH_TARGETS];
	char primary_error[PROTO_ERRTEXT_MAX + 1];
	/* What we last published about it, for change and heartbeat. */
	enum proto_status sent_status, sent_standby;
	uint64_t sent_at;
};

/* A member dead, so its death is announced once and its return too. */
struct mon_dead {
	uint64_t dead_since; /* 0: back, its return not yet announced */
	bool announced;
};

struct subscriber {
	monitor_event_fn fn;
	void *arg;
};

struct monitor {
	const struct monitor_env *env;
	struct loop *loop;
	struct health *health;
	struct keymap services; /* hash(owner, name) -> struct mon_service */
	struct keymap dead;     /* peer -> struct mon_dead */
	struct loop_timer tick;
	bool resync; /* grants or services changed: re-decide what we watch */
	uint64_t last_resync;
	struct subscriber subs[MONITOR_SUBSCRIBERS_MAX];
	size_t n_subs;
};

static void emit(struct monitor *m, const struct monitor_event *ev)
{
	for (size_t i = 0; i < m->n_subs; i++)
		m->subs[i].fn(m->subs[i].arg, ev);
}

int monitor_subscribe(struct monitor *m, monitor_event_fn fn, void *arg)
{
	if (m->n_subs == MONITOR_SUBSCRIBERS_MAX)
		return -ENOSPC;
	m->subs[m->n_subs++] = (struct subscriber){fn, arg};
	return 0;
}

static void service_key(uint8_t key[PROTO_KEY_LEN], const uint8_t owner[PROTO_KEY_LEN],
                        const char *name)
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, PROTO_KEY_LEN);
	crypto_generichash_update(&st, owner, PROTO_KEY_LEN);
	crypto_generichash_update(&st, (const uint8_t *)name, strlen(name) + 1);
	crypto_generichash_final(&st, key, PROTO_KEY_LEN);
}

static struct mon_service *service_get(struct monitor *m, const uint8_t owner[PROTO_KEY_LEN],
                                       const char *name, bool create)
{
	uint8_t key[PROTO_KEY_LEN];
	struct mon_service *s;

	service_key(key, owner, name);
	s = keymap_get(&m->services, key);
	if (s || !create)
		return s;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	memcpy(s->owner, owner, PROTO_KEY_LEN);
	snprintf(s->name, sizeof(s->name), "%s", name);
	if (keymap_put(&m->services, key, s) != 0) {
		free(s);
		return NULL;
	}
	return s;
}

static bool is_self(const struct monitor *m, const uint8_t peer[PROTO_KEY_LEN])
{
	return !memcmp(peer, m->env->self, PROTO_KEY_LEN);
}

/* ---- what arrives ---- */

static void on_service(struct monitor *m, const struct proto_record *rec)
{
	struct proto_service_record *body;
	struct mon_service *s;

	if (!proto_service_name_ok(rec->name, strlen(rec->name)))
		return;
	s = service_get(m, rec->author, rec->name, true);
	if (!s)
		return;
	m->resync = true;
	if (rec->body_len == 0) {
		s->gone = true;
		return;
	}
	body = malloc(sizeof(*body));
	if (body && proto_service_record_decode(body, rec->body, rec->body_len) == 0) {
		s->gone = false;
		s->interval_s = body->interval_s;
	}
	free(body);
}

static void on_observation(struct monitor *m, const struct proto_record *rec)
{
	struct proto_observation o;
	struct mon_service *s;
	struct monitor_obs *slot = NULL;

	if (rec->body_len == 0 || proto_observation_decode(&o, rec->body, rec->body_len) != 0)
		return;
	s = service_get(m, o.owner, o.service, true);
	if (!s)
		return;
	for (uint32_t i = 0; i < s->n_obs && !slot; i++)
		if (!memcmp(s->obs[i].observer, rec->author, PROTO_KEY_LEN))
			slot = &s->obs[i];
	if (!slot) {
		struct monitor_obs *grown;
		if (s->n_obs == MONITOR_OBSERVERS_MAX)
			return;
		grown = realloc(s->obs, (s->n_obs + 1) * sizeof(*s->obs));
		if (!grown)
			return;
		s->obs = grown;
		slot = &s->obs[s->n_obs++];
	} else if (slot->checked_at > o.checked_at) {
		return; /* an older word than the one held */
	}
	memcpy(slot->observer, rec->author, PROTO_KEY_LEN);
	slot->status = o.status;
	slot->standby = o.standby;
	slot->latency_ms = o.latency_ms;
	slot->checked_at = o.checked_at;
	snprintf(slot->error, sizeof(slot->error), "%s", o.error);
	s->next_eval = 0; /* judge again at the next tick */
}

void monitor_on_record(struct monitor *m, const struct proto_record *rec)
{
	switch (rec->kind) {
	case PROTO_KIND_SERVICE:
		on_service(m, rec);
		break;
	case PROTO_KIND_OBSERVATION:
		on_observation(m, rec);
		break;
	case PROTO_KIND_GRANT:
	case PROTO_KIND_REVOCATION:
	case PROTO_KIND_ADMISSION:
		m->resync = true;
		break;
	}
}

/* ---- what we check ---- */

/* Starts or stops checking s as its record and our grants say. */
static void rewatch(struct monitor *m, struct mon_service *s)
{
	const struct monitor_env *env = m->env;
	struct proto_service spec;
	bool want = !s->gone && !is_self(m, s->owner) &&
	            env->granted(env->arg, s->owner, env->self, loop_wall_s());

	if (want && env->details(env->arg, s->owner, s->name, &spec) == 0 &&
	    health_watch(m->health, s->owner, s->name, &spec) == 0) {
		/* The plan may have changed: every address reports anew. */
		if (!s->watched || memcmp(&s->plan, &spec.dns, sizeof(spec.dns))) {
			memset(s->target_status, 0, sizeof(s->target_status));
			s->plan = spec.dns;
		}
		s->watched = true;
	} else if (s->watched) {
		health_unwatch(m->health, s->owner, s->name);
		s->watched = false;
	}
}

static void resync(struct monitor *m)
{
	const uint8_t *key;
	void *value;

	m->resync = false;
	m->last_resync = loop_wall_s();
	for (size_t pos = 0; keymap_next(&m->services, &pos, &key, &value);)
		rewatch(m, value);
	if (m->env->resynced)
		m->env->resynced(m->env->arg);
}

/* The best status among targets [from, from + n) that reported, 0 when
 * none did. */
static enum proto_status best_of(const struct mon_service *s, unsigned from, unsigned n)
{
	unsigned best = 0;

	for (unsigned i = from; i < from + n; i++)
		if (s->target_status[i] && (!best || s->target_status[i] < best))
			best = s->target_status[i];
	return (enum proto_status)best;
}

/* One address of a DNS plan reported: what the service's observation says
 * now, into o (status and error of the primary side, standby), or false
 * while no primary address has reported. */
static bool plan_result(struct mon_service *s, const struct health_result *r,
                        struct proto_observation *o)
{
	bool primary = r->target < HEALTH_TARGET_STANDBY;

	s->target_status[r->target] = (uint8_t)r->status;
	if (primary && r->status != PROTO_STATUS_UP)
		snprintf(s->primary_error, sizeof(s->primary_error), "%s", r->error);
	o->status = best_of(s, HEALTH_TARGET_PRIMARY, s->plan.n_primary);
	o->standby = best_of(s, HEALTH_TARGET_STANDBY, s->plan.n_standby);
	if (o->status != PROTO_STATUS_UP)
		snprintf(o->error, sizeof(o->error), "%s", s->primary_error);
	if (primary)
		o->latency_ms = r->latency_ms, o->tls_expires = r->tls_expires;
	return o->status != 0;
}

/* A check's result: published when it changed, and as a heartbeat. */
static void on_result(void *arg, const uint8_t owner[PROTO_KEY_LEN], const char *service,
                      const struct health_result *r)
{
	struct monitor *m = arg;
	struct mon_service *s = service_get(m, owner, service, false);
	struct proto_observation o = {0};
	struct mp_buf body = {0};
	char name[PROTO_NAME_MAX + 1];
	int rc;

	if (!s || !s->watched || r->target >= HEALTH_TARGETS)
		return;
	if (r->target == HEALTH_TARGET_URL) {
		o.status = r->status;
		o.latency_ms = r->latency_ms;
		o.tls_expires = r->tls_expires;
		snprintf(o.error, sizeof(o.error), "%s", r->error);
	} else if (!plan_result(s, r, &o)) {
		return;
	}
	if (o.status == s->sent_status && o.standby == s->sent_standby &&
	    s->sent_at + m->env->conf->heartbeat_ms / 1000 > r->checked_at)
		return;
	memcpy(o.owner, owner, PROTO_KEY_LEN);
	snprintf(o.service, sizeof(o.service), "%s", service);
	o.checked_at = r->checked_at ? r->checked_at : loop_wall_s();
	sodium_bin2hex(name, sizeof(name), owner, PROTO_KEY_LEN);
	snprintf(name + 2 * PROTO_KEY_LEN, sizeof(name) - 2 * PROTO_KEY_LEN, "/%s", service);
	rc = proto_observation_encode(&body, &o);
	if (!rc)
		rc = m->env->publish(m->env->arg, name, body.data, body.len,
		                     MONITOR_OBSERVATION_TTL);
	mp_buf_free(&body);
	if (rc) {
		log_warnx("cannot publish an observation of %s: %s", service, proto_strerror(rc));
		return;
	}
	s->sent_status = o.status;
	s->sent_standby = o.standby;
	s->sent_at = o.checked_at;
}

/* ---- verdicts ---- */

static void verdict_changed(struct monitor *m, struct mon_service *s, enum verdict before)
{
	uint8_t(*observers)[PROTO_KEY_LEN] = calloc(s->n_obs + 1, sizeof(*observers));
	char who[PROTO_PEERID_SHORT_LEN + 1];
	struct monitor_event ev = {
	    .type = MONITOR_VERDICT,
	    .peer = s->owner,
	    .service = s->name,
	    .previous = before,
	    .current = s->verdict.current,
	    .since = s->verdict.since,
	};

	proto_peerid_short(who, s->owner);
	log_info("verdict: %s of %s is %s (was %s)", s->name, who, verdict_name(s->verdict.current),
	         verdict_name(before));
	if (!observers)
		return;
	for (uint32_t i = 0; i < s->n_obs; i++)
		memcpy(observers[i], s->obs[i].observer, PROTO_KEY_LEN);
	ev.observers = (const uint8_t(*)[PROTO_KEY_LEN])observers;
	ev.n_observers = s->n_obs;
	emit(m, &ev);
	free(observers);
}

/* Only observers that the owner granted monitor count. */
static void evaluate(struct monitor *m, struct mon_service *s, uint64_t now)
{
	const struct monitor_env *env = m->env;
	struct verdict_params p = {
	    .quorum = env->conf->quorum,
	    .down_after = env->conf->down_after,
	    .recovery_s = env->conf->recovery_ms / 1000,
	    .fresh_s = env->conf->heartbeat_ms / 1000 + 3 * (uint64_t)s->interval_s,
	};
	struct verdict_obs *v = calloc(s->n_obs + 1, sizeof(*v));
	struct verdict_obs *sb = calloc(s->n_obs + 1, sizeof(*sb));
	enum verdict before = s->verdict.current, standby_before = s->standby.current;
	size_t n = 0, n_sb = 0;

	if (!v || !sb) {
		free(v);
		free(sb);
		return;
	}
	for (uint32_t i = 0; i < s->n_obs; i++) {
		const struct monitor_obs *o = &s->obs[i];
		if (!env->granted(env->arg, s->owner, o->observer, now))
			continue;
		memcpy(v[n].observer, o->observer, PROTO_KEY_LEN);
		v[n].status = o->status;
		v[n++].checked_at = o->checked_at;
		if (o->standby) {
			sb[n_sb] = v[n - 1];
			sb[n_sb++].status = o->standby;
		}
	}
	if (verdict_evaluate(&s->verdict, &p, v, n, now))
		verdict_changed(m, s, before);
	/* The standby's verdict, by the same rules: what a failover would
	 * point the name at. */
	if (verdict_evaluate(&s->standby, &p, sb, n_sb, now))
		log_info("verdict: the standby of %s is %s (was %s)", s->name,
		         verdict_name(s->standby.current), verdict_name(standby_before));
	free(v);
	free(sb);
	s->next_eval = now + (s->interval_s ? s->interval_s : 30);
}

/* ---- dead members ---- */

void monitor_member_changed(struct monitor *m, const uint8_t peer[PROTO_KEY_LEN],
                            enum proto_member_state state)
{
	struct mon_dead *d = keymap_get(&m->dead, peer);

	if (state == PROTO_STATE_DEAD && !d) {
		d = calloc(1, sizeof(*d));
		if (!d || keymap_put(&m->dead, peer, d) != 0) {
			free(d);
			return;
		}
		d->dead_since = loop_wall_s();
	} else if (state == PROTO_STATE_DEAD && d && !d->dead_since) {
		d->dead_since = loop_wall_s(); /* died again before its return was told */
	} else if (state != PROTO_STATE_DEAD && d) {
		if (d->announced && state == PROTO_STATE_ALIVE) {
			/* Those told it died are told it is back (check_dead). */
			d->dead_since = 0;
			return;
		}
		keymap_del(&m->dead, peer);
		free(d);
	}
}

static void check_dead(struct monitor *m, uint64_t now)
{
	const uint8_t *key;
	void *value;

	for (size_t pos = 0; keymap_next(&m->dead, &pos, &key, &value);) {
		struct mon_dead *d = value;
		bool back = d->dead_since == 0;
		struct monitor_event ev = {.peer = key, .service = ""};

		if (!back &&
		    (d->announced || d->dead_since + m->env->conf->dead_alert_ms / 1000 > now))
			continue;
		ev.type = back ? MONITOR_MEMBER_BACK : MONITOR_MEMBER_DEAD;
		ev.since = back ? now : d->dead_since;
		emit(m, &ev);
		if (back) {
			keymap_del(&m->dead, key);
			free(d);
		} else {
			d->announced = true;
		}
	}
}

/* ---- the sweep ---- */

static void tick(struct loop *l, void *arg)
{
	struct monitor *m = arg;
	uint64_t now = loop_wall_s();
	const uint8_t *key;
	void *value;

	/* Grants expire with time, not only with records: re-decide now and
	 * then even when nothing arrived. */
	if (m->resync || now >= m->last_resync + 60)
		resync(m);
	for (size_t pos = 0; keymap_next(&m->services, &pos, &key, &value);) {
		struct mon_service *s = value;
		if (!s->gone && s->interval_s && s->next_eval <= now)
			evaluate(m, s, now);
	}
	check_dead(m, now);
	loop_timer_start(l, &m->tick, MONITOR_TICK_MS);
}

int monitor_new(struct monitor **out, struct loop *l, struct web *w, const struct monitor_env *env)
{
	struct monitor *m = calloc(1, sizeof(*m));
	int rc;

	if (!m)
		return -ENOMEM;
	m->env = env;
	m->loop = l;
	keymap_init(&m->services);
	keymap_init(&m->dead);
	loop_timer_init(&m->tick, tick, m);
	rc = health_new(&m->health, l, w, on_result, m);
	if (rc) {
		monitor_free(&m);
		return rc;
	}
	/* A partner's URL must not turn our checks against our own network. */
	health_set_refuse_private(m->health, env->conf->refuse_private != 0);
	m->resync = true;
	rc = loop_timer_start(l, &m->tick, MONITOR_TICK_MS);
	if (rc) {
		monitor_free(&m);
		return rc;
	}
	*out = m;
	return 0;
}

void monitor_free(struct monitor **mp)
{
	struct monitor *m = *mp;
	const uint8_t *key;
	void *value;

	if (!m)
		return;
	loop_timer_stop(m->loop, &m->tick);
	for (size_t pos = 0; keymap_next(&m->services, &pos, &key, &value);) {
		free(((struct mon_service *)value)->obs);
		free(value);
	}
	for (size_t pos = 0; keymap_next(&m->dead, &pos, &key, &value);)
		free(value);
	keymap_free(&m->services);
	keymap_free(&m->dead);
	health_free(&m->health);
	free(m);
	*mp = NULL;
}

struct health *monitor_health(struct monitor *m)
{
	return m->health;
}

enum verdict monitor_verdict(struct monitor *m, const uint8_t owner[PROTO_KEY_LEN],
                             const char *service, enum verdict *standby)
{
	const struct mon_service *s = service_get(m, owner, service, false);

	*standby = s ? s->standby.current : VERDICT_UNKNOWN;
	return s ? s->verdict.current : VERDICT_UNKNOWN;
}

void monitor_each(const struct monitor *m, void (*fn)(void *arg, const struct monitor_view *v),
                  void *arg)
{
	const uint8_t *key;
	void *value;

	for (size_t pos = 0; keymap_next(&m->services, &pos, &key, &value);) {
		const struct mon_service *s = value;
		struct monitor_view v = {
		    .owner = s->owner,
		    .name = s->name,
		    .verdict = s->verdict.current,
		    .since = s->verdict.since,
		    .standby = s->standby.current,
		    .checked_here = s->watched,
		    .obs = s->obs,
		    .n_obs = s->n_obs,
		};
		if (!s->gone && s->interval_s)
			fn(arg, &v);
	}
}
