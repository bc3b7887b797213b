/* Peer monitoring, the agent's side: which services exist (service
 * records), which of them we check (those whose owner granted us monitor
 * and sealed us their details), our observations as records, every
 * service's quorum verdict from all observers' records, and the alerts a
 * verdict change or a long-dead member causes. Every agent keeps the same
 * index and computes the same verdicts; the owner, or when it is down one
 * observer chosen the same way by everybody, sends the alert. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "proto/body.h"
#include "proto/error.h"
#include "proto/identity.h"
#include "proto/peerid.h"
#include "proto/record.h"
#include "store/store.h"
#include "agent_int.h"
#include "agent/monitor/alert.h"
#include "agent/monitor/health.h"
#include "agent/core/log.h"
#include "agent/monitor/verdict.h"
#include "agent/core/web.h"

/* How often the index is swept: verdicts, re-seals, watch changes. */
#define MON_TICK_MS 1000
/* Observations a service keeps, one per observer. */
#define MON_OBSERVERS_MAX 256
/* Observation records live a day past their last heartbeat. */
#define MON_OBSERVATION_TTL (24 * 3600)

struct mon_obs {
	uint8_t observer[PROTO_KEY_LEN];
	enum proto_status status;
	uint32_t latency_ms;
	uint64_t checked_at;
	char error[PROTO_ERRTEXT_MAX + 1];
};

/* A service some member registered. */
struct mon_service {
	uint8_t owner[PROTO_KEY_LEN];
	char name[PROTO_SERVICE_NAME_MAX + 1];
	uint32_t interval_s;
	bool gone;    /* tombstoned by its owner */
	bool watched; /* we check it */
	struct verdict_state verdict;
	uint64_t next_eval;
	struct mon_obs *obs;
	uint32_t n_obs;
	/* What we last published about it, for change and heartbeat. */
	enum proto_status sent_status;
	uint64_t sent_at;
	bool alert_due; /* a transition not yet dealt with */
	enum verdict alert_previous;
};

/* A member whose death we announced, so its return is announced too. */
struct mon_dead {
	uint64_t dead_since;
	bool announced;
};

struct agent_monitor {
	struct keymap services; /* hash(owner, name) -> struct mon_service */
	struct keymap dead;     /* peer -> struct mon_dead */
	struct loop_timer tick;
	bool resync; /* grants or services changed: re-decide what we watch */
	uint64_t last_resync;
	uint64_t published, alerts_sent;
};

static uint64_t now_s(void)
{
	return (uint64_t)time(NULL);
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

static struct mon_service *service_get(struct agent *a, const uint8_t owner[PROTO_KEY_LEN],
                                       const char *name, bool create)
{
	uint8_t key[PROTO_KEY_LEN];
	struct mon_service *s;

	service_key(key, owner, name);
	s = keymap_get(&a->mon->services, key);
	if (s || !create)
		return s;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	memcpy(s->owner, owner, PROTO_KEY_LEN);
	snprintf(s->name, sizeof(s->name), "%s", name);
	if (keymap_put(&a->mon->services, key, s) != 0) {
		free(s);
		return NULL;
	}
	return s;
}

/* ---- what arrives ---- */

static void on_service(struct agent *a, const struct proto_record *rec)
{
	struct proto_service_record *body;
	struct mon_service *s;

	if (!proto_service_name_ok(rec->name, strlen(rec->name)))
		return;
	s = service_get(a, rec->author, rec->name, true);
	if (!s)
		return;
	a->mon->resync = true;
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

static void on_observation(struct agent *a, const struct proto_record *rec)
{
	struct proto_observation o;
	struct mon_service *s;
	struct mon_obs *slot = NULL;

	if (rec->body_len == 0 || proto_observation_decode(&o, rec->body, rec->body_len) != 0)
		return;
	s = service_get(a, o.owner, o.service, true);
	if (!s)
		return;
	for (uint32_t i = 0; i < s->n_obs && !slot; i++)
		if (!memcmp(s->obs[i].observer, rec->author, PROTO_KEY_LEN))
			slot = &s->obs[i];
	if (!slot) {
		struct mon_obs *grown;
		if (s->n_obs == MON_OBSERVERS_MAX)
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
	slot->latency_ms = o.latency_ms;
	slot->checked_at = o.checked_at;
	snprintf(slot->error, sizeof(slot->error), "%s", o.error);
	s->next_eval = 0; /* judge again at the next tick */
}

void agent_monitor_on_record(struct agent *a, const struct proto_record *rec)
{
	if (!a->mon)
		return;
	switch (rec->kind) {
	case PROTO_KIND_SERVICE:
		on_service(a, rec);
		break;
	case PROTO_KIND_OBSERVATION:
		on_observation(a, rec);
		break;
	case PROTO_KIND_GRANT:
	case PROTO_KIND_REVOCATION:
	case PROTO_KIND_ADMISSION:
		a->mon->resync = true;
		break;
	}
}

/* ---- what we check ---- */

static bool may_monitor(struct agent *a, const uint8_t owner[PROTO_KEY_LEN])
{
	struct proto_scope want = {.type = PROTO_SCOPE_MONITOR};
	const struct trust_grant *g;
	const struct proto_scope *scope;

	return trust_grant_check(a->trust, owner, a->id->pk, &want, now_s(), &g, &scope) == 0;
}

/* Starts or stops checking s as its record and our grants say. */
static void rewatch(struct agent *a, struct mon_service *s)
{
	struct proto_service spec;
	uint8_t *buf = NULL;
	size_t len = 0;
	struct proto_record rec;
	bool want =
	    !s->gone && memcmp(s->owner, a->id->pk, PROTO_KEY_LEN) != 0 && may_monitor(a, s->owner);

	if (want &&
	    store_record_get(a->store, s->owner, PROTO_KIND_SERVICE, s->name, &buf, &len) == 0 &&
	    proto_record_decode(&rec, buf, len) == 0 &&
	    agent_service_open(a, rec.body, rec.body_len, &spec) == 0 &&
	    health_watch(a->health, s->owner, s->name, &spec) == 0) {
		s->watched = true;
	} else if (s->watched) {
		health_unwatch(a->health, s->owner, s->name);
		s->watched = false;
	}
	free(buf);
}

static void resync(struct agent *a)
{
	const uint8_t *key;
	void *value;

	a->mon->resync = false;
	a->mon->last_resync = now_s();
	for (size_t pos = 0; keymap_next(&a->mon->services, &pos, &key, &value);)
		rewatch(a, value);
	agent_services_reseal(a);
}

/* A check's result: published when it changed, and as a heartbeat. */
static void on_result(void *arg, const uint8_t owner[PROTO_KEY_LEN], const char *service,
                      const struct health_result *r)
{
	struct agent *a = arg;
	struct mon_service *s = service_get(a, owner, service, false);
	struct proto_observation o = {0};
	struct mp_buf body = {0};
	char name[PROTO_NAME_MAX + 1];
	int rc;

	if (!s || !s->watched)
		return;
	if (r->status == s->sent_status && s->sent_at + a->conf.heartbeat_ms / 1000 > r->checked_at)
		return;
	memcpy(o.owner, owner, PROTO_KEY_LEN);
	snprintf(o.service, sizeof(o.service), "%s", service);
	o.status = r->status;
	o.latency_ms = r->latency_ms;
	o.checked_at = r->checked_at ? r->checked_at : now_s();
	snprintf(o.error, sizeof(o.error), "%s", r->error);
	o.tls_expires = r->tls_expires;
	sodium_bin2hex(name, sizeof(name), owner, PROTO_KEY_LEN);
	snprintf(name + 2 * PROTO_KEY_LEN, sizeof(name) - 2 * PROTO_KEY_LEN, "/%s", service);
	rc = proto_observation_encode(&body, &o);
	if (!rc)
		rc = agent_publish(a, PROTO_KIND_OBSERVATION, name, body.data, body.len,
		                   MON_OBSERVATION_TTL);
	mp_buf_free(&body);
	if (rc) {
		log_warnx("cannot publish an observation of %s: %s", service, proto_strerror(rc));
		return;
	}
	s->sent_status = r->status;
	s->sent_at = o.checked_at;
	a->mon->published++;
}

/* ---- verdicts and alerts ---- */

size_t agent_contacts(struct agent *a, const uint8_t peer[PROTO_KEY_LEN],
                      char (*out)[PROTO_CONTACT_MAX + 1], size_t max)
{
	struct proto_member *m = malloc(sizeof(*m));
	struct proto_record rec;
	uint8_t *buf = NULL;
	size_t len = 0, n = 0;

	if (m && store_record_get(a->store, peer, PROTO_KIND_MEMBER, "", &buf, &len) == 0 &&
	    proto_record_decode(&rec, buf, len) == 0 &&
	    proto_member_decode(m, rec.body, rec.body_len) == 0)
		for (; n < m->n_contacts && n < max; n++)
			memcpy(out[n], m->contacts[n], sizeof(out[n]));
	free(buf);
	free(m);
	return n;
}

/* Is peer alive in our view? We always are. */
static bool alive(struct agent *a, const uint8_t peer[PROTO_KEY_LEN])
{
	struct member_info info;

	return !memcmp(peer, a->id->pk, PROTO_KEY_LEN) ||
	       (member_get(a->member, peer, &info) == 0 && info.state == PROTO_STATE_ALIVE);
}

/* The live candidate every agent picks the same way: the smallest
 * hash(candidate, topic). */
static void rank(uint8_t out[32], const uint8_t peer[PROTO_KEY_LEN], const uint8_t topic[32])
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, 32);
	crypto_generichash_update(&st, peer, PROTO_KEY_LEN);
	crypto_generichash_update(&st, topic, 32);
	crypto_generichash_final(&st, out, 32);
}

/* Are we the one who speaks for topic among candidates? */
static bool we_are_chosen(struct agent *a, const uint8_t (*candidates)[PROTO_KEY_LEN], size_t n,
                          const uint8_t topic[32])
{
	uint8_t best[32], mine[32], r[32];
	bool found = false;

	rank(mine, a->id->pk, topic);
	for (size_t i = 0; i < n; i++) {
		if (!alive(a, candidates[i]))
			continue;
		rank(r, candidates[i], topic);
		if (!found || memcmp(r, best, 32) < 0)
			memcpy(best, r, 32);
		found = true;
	}
	return found && !memcmp(best, mine, 32);
}

static void send_to_contacts(struct agent *a, const uint8_t owner[PROTO_KEY_LEN],
                             const struct alert_message *m)
{
	char(*contacts)[PROTO_CONTACT_MAX + 1] = calloc(PROTO_CONTACTS_MAX, sizeof(*contacts));
	size_t n = contacts ? agent_contacts(a, owner, contacts, PROTO_CONTACTS_MAX) : 0;

	if (n == 0)
		log_info("alert for %s: no contact to tell (kith contact add)", m->owner_name);
	for (size_t i = 0; i < n; i++)
		if (alert_send(a->alert, contacts[i], m,
		               memcmp(owner, a->id->pk, PROTO_KEY_LEN) != 0) == 0)
			a->mon->alerts_sent++;
	free(contacts);
}

/* Decides, once per transition, whether we send its alert, and sends. */
static void maybe_alert(struct agent *a, struct mon_service *s)
{
	const struct trust_member *owner = trust_get(a->trust, s->owner);
	uint8_t(*observers)[PROTO_KEY_LEN], topic[32];
	char id[PROTO_PEERID_TEXT_LEN + 1], subject[200], text[600];
	struct alert_message m;
	bool mine = !memcmp(s->owner, a->id->pk, PROTO_KEY_LEN);

	s->alert_due = false;
	/* Starting to know a service is no news. */
	if (s->alert_previous == VERDICT_UNKNOWN && s->verdict.current != VERDICT_DOWN)
		return;
	if (!mine) {
		if (alive(a, s->owner))
			return; /* the owner tells its own people */
		observers = calloc(s->n_obs + 1, sizeof(*observers));
		if (!observers)
			return;
		for (uint32_t i = 0; i < s->n_obs; i++)
			memcpy(observers[i], s->obs[i].observer, PROTO_KEY_LEN);
		service_key(topic, s->owner, s->name);
		mine =
		    we_are_chosen(a, (const uint8_t(*)[PROTO_KEY_LEN])observers, s->n_obs, topic);
		free(observers);
		if (!mine)
			return;
	}
	proto_peerid_format(id, s->owner);
	snprintf(subject, sizeof(subject), "[kith] %s of %s is %s", s->name,
	         owner && owner->name[0] ? owner->name : id, verdict_name(s->verdict.current));
	snprintf(text, sizeof(text),
	         "Service %s of %s went from %s to %s, as seen by its partners' checks.\n"
	         "Run kith health for each observer's view.\n",
	         s->name, owner && owner->name[0] ? owner->name : id,
	         verdict_name(s->alert_previous), verdict_name(s->verdict.current));
	m = (struct alert_message){.subject = subject,
	                           .text = text,
	                           .kind = "verdict",
	                           .owner = id,
	                           .owner_name = owner ? owner->name : "",
	                           .service = s->name,
	                           .state = verdict_name(s->verdict.current),
	                           .previous = verdict_name(s->alert_previous),
	                           .since = s->verdict.since};
	send_to_contacts(a, s->owner, &m);
}

/* Only observers that the owner granted monitor count. */
static void evaluate(struct agent *a, struct mon_service *s, uint64_t now)
{
	struct verdict_params p = {
	    .quorum = a->conf.quorum,
	    .down_after = a->conf.down_after,
	    .recovery_s = a->conf.recovery_ms / 1000,
	    .fresh_s = a->conf.heartbeat_ms / 1000 + 3 * (uint64_t)s->interval_s,
	};
	struct verdict_obs *v = calloc(s->n_obs + 1, sizeof(*v));
	struct proto_scope want = {.type = PROTO_SCOPE_MONITOR};
	const struct trust_grant *g;
	const struct proto_scope *scope;
	enum verdict before = s->verdict.current;
	size_t n = 0;

	if (!v)
		return;
	for (uint32_t i = 0; i < s->n_obs; i++) {
		if (trust_grant_check(a->trust, s->owner, s->obs[i].observer, &want, now, &g,
		                      &scope) != 0)
			continue;
		memcpy(v[n].observer, s->obs[i].observer, PROTO_KEY_LEN);
		v[n].status = s->obs[i].status;
		v[n++].checked_at = s->obs[i].checked_at;
	}
	if (verdict_evaluate(&s->verdict, &p, v, n, now)) {
		char who[PROTO_PEERID_SHORT_LEN + 1];
		proto_peerid_short(who, s->owner);
		log_info("verdict: %s of %s is %s (was %s)", s->name, who,
		         verdict_name(s->verdict.current), verdict_name(before));
		s->alert_due = true;
		s->alert_previous = before;
	}
	free(v);
	if (s->alert_due)
		maybe_alert(a, s);
	s->next_eval = now + (s->interval_s ? s->interval_s : 30);
}

/* ---- dead members ---- */

void agent_monitor_member_changed(struct agent *a, const uint8_t peer[PROTO_KEY_LEN],
                                  enum proto_member_state state)
{
	struct mon_dead *d;

	if (!a->mon)
		return;
	d = keymap_get(&a->mon->dead, peer);
	if (state == PROTO_STATE_DEAD && !d) {
		d = calloc(1, sizeof(*d));
		if (!d || keymap_put(&a->mon->dead, peer, d) != 0) {
			free(d);
			return;
		}
		d->dead_since = now_s();
	} else if (state == PROTO_STATE_DEAD && d && !d->dead_since) {
		d->dead_since = now_s(); /* died again before its return was told */
	} else if (state != PROTO_STATE_DEAD && d) {
		if (d->announced && state == PROTO_STATE_ALIVE) {
			/* Those told it died are told it is back (check_dead). */
			d->dead_since = 0;
			return;
		}
		keymap_del(&a->mon->dead, peer);
		free(d);
	}
}

struct alive_list {
	struct agent *a;
	uint8_t (*peers)[PROTO_KEY_LEN];
	size_t n, cap;
};

static void collect_alive(void *arg, const struct member_info *info)
{
	struct alive_list *l = arg;

	if (info->state == PROTO_STATE_ALIVE && l->n < l->cap)
		memcpy(l->peers[l->n++], info->peer, PROTO_KEY_LEN);
}

/* Tells a member's contacts it has been dead too long, or is back. */
static void member_alert(struct agent *a, const uint8_t peer[PROTO_KEY_LEN], bool back,
                         uint64_t since)
{
	const struct trust_member *m = trust_get(a->trust, peer);
	char id[PROTO_PEERID_TEXT_LEN + 1], subject[200], text[400];
	struct alert_message msg;

	proto_peerid_format(id, peer);
	snprintf(subject, sizeof(subject), "[kith] the kith agent of %s %s",
	         m && m->name[0] ? m->name : id, back ? "is back" : "is down");
	snprintf(text, sizeof(text),
	         back ? "The kith agent of %s answers its partners again.\n"
	              : "The kith agent of %s has not answered its partners for a while: its "
	                "server may be down.\n",
	         m && m->name[0] ? m->name : id);
	msg = (struct alert_message){.subject = subject,
	                             .text = text,
	                             .kind = "member",
	                             .owner = id,
	                             .owner_name = m ? m->name : "",
	                             .service = "",
	                             .state = back ? "alive" : "dead",
	                             .previous = back ? "dead" : "alive",
	                             .since = since};
	send_to_contacts(a, peer, &msg);
}

static void check_dead(struct agent *a, uint64_t now)
{
	struct alive_list l = {.a = a};
	const uint8_t *key;
	void *value;

	if (a->mon->dead.count == 0)
		return;
	l.cap = trust_count(a->trust) + 1;
	l.peers = calloc(l.cap, sizeof(*l.peers));
	if (!l.peers)
		return;
	member_each(a->member, collect_alive, &l);
	for (size_t pos = 0; keymap_next(&a->mon->dead, &pos, &key, &value);) {
		struct mon_dead *d = value;
		uint8_t topic[32];
		bool back = d->dead_since == 0;
		if (!back && (d->announced || d->dead_since + a->conf.dead_alert_ms / 1000 > now))
			continue;
		crypto_generichash(topic, sizeof(topic), key, PROTO_KEY_LEN, NULL, 0);
		if (we_are_chosen(a, (const uint8_t(*)[PROTO_KEY_LEN])l.peers, l.n, topic))
			member_alert(a, key, back, back ? now : d->dead_since);
		if (back) {
			keymap_del(&a->mon->dead, key);
			free(d);
		} else {
			d->announced = true;
		}
	}
	free(l.peers);
}

/* ---- the sweep ---- */

static void tick(struct loop *l, void *arg)
{
	struct agent *a = arg;
	uint64_t now = now_s();
	const uint8_t *key;
	void *value;

	/* Grants expire with time, not only with records: re-decide now and
	 * then even when nothing arrived. */
	if (a->mon->resync || now >= a->mon->last_resync + 60)
		resync(a);
	for (size_t pos = 0; keymap_next(&a->mon->services, &pos, &key, &value);) {
		struct mon_service *s = value;
		if (!s->gone && s->interval_s && s->next_eval <= now)
			evaluate(a, s, now);
	}
	check_dead(a, now);
	loop_timer_start(l, &a->mon->tick, MON_TICK_MS);
}

static int load_one(void *arg, const uint8_t *buf, size_t len)
{
	struct proto_record rec;

	if (proto_record_decode(&rec, buf, len) == 0 &&
	    (rec.kind == PROTO_KIND_SERVICE || rec.kind == PROTO_KIND_OBSERVATION))
		agent_monitor_on_record(arg, &rec);
	return 0;
}

int agent_monitor_new(struct agent *a)
{
	int rc;

	a->mon = calloc(1, sizeof(*a->mon));
	if (!a->mon)
		return -ENOMEM;
	keymap_init(&a->mon->services);
	keymap_init(&a->mon->dead);
	loop_timer_init(&a->mon->tick, tick, a);
	rc = web_new(&a->web, a->loop);
	if (!rc) {
		web_set_max_in_flight(a->web, a->conf.max_checks);
		rc = health_new(&a->health, a->loop, a->web, on_result, a);
	}
	/* A partner's URL must not turn our checks against our own network. */
	if (!rc)
		health_set_refuse_private(a->health, a->conf.refuse_private != 0);
	if (!rc)
		rc = alert_new(&a->alert, a->loop, a->web, &a->conf);
	if (!rc)
		rc = store_records_each(a->store, load_one, a);
	if (!rc) {
		a->mon->resync = true;
		rc = loop_timer_start(a->loop, &a->mon->tick, MON_TICK_MS);
	}
	return rc;
}

void agent_monitor_free(struct agent *a)
{
	const uint8_t *key;
	void *value;

	if (a->mon) {
		loop_timer_stop(a->loop, &a->mon->tick);
		for (size_t pos = 0; keymap_next(&a->mon->services, &pos, &key, &value);) {
			free(((struct mon_service *)value)->obs);
			free(value);
		}
		for (size_t pos = 0; keymap_next(&a->mon->dead, &pos, &key, &value);)
			free(value);
		keymap_free(&a->mon->services);
		keymap_free(&a->mon->dead);
		free(a->mon);
		a->mon = NULL;
	}
	health_free(&a->health);
	alert_free(&a->alert);
	web_free(&a->web);
}

/* ---- kith health ---- */

static void pack_observer(struct agent *a, msgpack_packer *pk, const struct mon_obs *o,
                          uint64_t now)
{
	char id[PROTO_PEERID_TEXT_LEN + 1];

	(void)a;
	proto_peerid_format(id, o->observer);
	msgpack_pack_map(pk, 5);
	mp_pack_cstr(pk, "id");
	mp_pack_cstr(pk, id);
	mp_pack_cstr(pk, "status");
	mp_pack_cstr(pk, o->status == PROTO_STATUS_UP         ? "up"
	                 : o->status == PROTO_STATUS_DEGRADED ? "degraded"
	                                                      : "down");
	mp_pack_cstr(pk, "latency_ms");
	msgpack_pack_uint32(pk, o->latency_ms);
	mp_pack_cstr(pk, "age");
	msgpack_pack_uint64(pk, now > o->checked_at ? now - o->checked_at : 0);
	mp_pack_cstr(pk, "error");
	mp_pack_cstr(pk, o->error);
}

int agent_ctl_health(void *arg, const struct ctl_request *req, msgpack_packer *pk, char *err,
                     size_t n)
{
	struct agent *a = arg;
	const uint8_t *key;
	void *value;
	uint32_t count = 0;
	uint64_t now = now_s();

	(void)req;
	(void)err;
	(void)n;
	for (size_t pos = 0; keymap_next(&a->mon->services, &pos, &key, &value);)
		count += !((struct mon_service *)value)->gone &&
		         ((struct mon_service *)value)->interval_s;
	msgpack_pack_array(pk, count);
	for (size_t pos = 0; keymap_next(&a->mon->services, &pos, &key, &value);) {
		struct mon_service *s = value;
		const struct trust_member *m = trust_get(a->trust, s->owner);
		char id[PROTO_PEERID_TEXT_LEN + 1];
		if (s->gone || !s->interval_s)
			continue;
		proto_peerid_format(id, s->owner);
		msgpack_pack_map(pk, 7);
		mp_pack_cstr(pk, "owner");
		mp_pack_cstr(pk, id);
		mp_pack_cstr(pk, "owner_name");
		mp_pack_cstr(pk, m ? m->name : "");
		mp_pack_cstr(pk, "service");
		mp_pack_cstr(pk, s->name);
		mp_pack_cstr(pk, "verdict");
		mp_pack_cstr(pk, verdict_name(s->verdict.current));
		mp_pack_cstr(pk, "since");
		msgpack_pack_uint64(pk, s->verdict.since);
		mp_pack_cstr(pk, "checked_here");
		(s->watched ? msgpack_pack_true : msgpack_pack_false)(pk);
		mp_pack_cstr(pk, "observers");
		msgpack_pack_array(pk, s->n_obs);
		for (uint32_t i = 0; i < s->n_obs; i++)
			pack_observer(a, pk, &s->obs[i], now);
	}
	return 0;
}
