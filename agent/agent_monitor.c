/* Peer monitoring, wired: the monitor (agent/monitor/monitor.h) gets the
 * store, trust and membership through callbacks, and its events go to the
 * alerts (notify.h). kith health reads the monitor's index. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proto/body.h"
#include "proto/error.h"
#include "proto/identity.h"
#include "proto/peerid.h"
#include "proto/record.h"
#include "store/store.h"
#include "agent/core/web.h"
#include "agent/monitor/alert.h"
#include "agent/monitor/health.h"
#include "agent/monitor/monitor.h"
#include "agent/monitor/notify.h"
#include "agent_int.h"

/* ---- what the monitor and the alerts ask of the agent ---- */

static int publish_observation(void *arg, const char *name, const uint8_t *body, size_t len,
                               uint64_t ttl)
{
	return agent_publish(arg, PROTO_KIND_OBSERVATION, name, body, len, ttl);
}

static bool granted_monitor(void *arg, const uint8_t owner[PROTO_KEY_LEN],
                            const uint8_t observer[PROTO_KEY_LEN], uint64_t now)
{
	struct agent *a = arg;
	struct proto_scope want = {.type = PROTO_SCOPE_MONITOR};
	const struct trust_grant *g;
	const struct proto_scope *scope;

	return trust_grant_check(a->trust, owner, observer, &want, now, &g, &scope) == 0;
}

static int service_details(void *arg, const uint8_t owner[PROTO_KEY_LEN], const char *name,
                           struct proto_service *spec)
{
	return agent_service_read(arg, owner, name, spec);
}

static void resynced(void *arg)
{
	agent_services_reseal(arg);
}

bool agent_alive(void *arg, const uint8_t peer[PROTO_KEY_LEN])
{
	struct agent *a = arg;
	struct member_info info;

	return !memcmp(peer, a->id->pk, PROTO_KEY_LEN) ||
	       (member_get(a->member, peer, &info) == 0 && info.state == PROTO_STATE_ALIVE);
}

struct alive_list {
	uint8_t (*peers)[PROTO_KEY_LEN];
	size_t n, cap;
};

static void collect_alive(void *arg, const struct member_info *info)
{
	struct alive_list *l = arg;

	if (info->state == PROTO_STATE_ALIVE && l->n < l->cap)
		memcpy(l->peers[l->n++], info->peer, PROTO_KEY_LEN);
}

static size_t live_members(void *arg, uint8_t (*out)[PROTO_KEY_LEN], size_t max)
{
	struct agent *a = arg;
	struct alive_list l = {.peers = out, .cap = max};

	member_each(a->member, collect_alive, &l);
	return l.n;
}

static size_t members_max(void *arg)
{
	struct agent *a = arg;

	return trust_count(a->trust);
}

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

static size_t contacts(void *arg, const uint8_t peer[PROTO_KEY_LEN],
                       char (*out)[PROTO_CONTACT_MAX + 1], size_t max)
{
	return agent_contacts(arg, peer, out, max);
}

static const char *member_name(void *arg, const uint8_t peer[PROTO_KEY_LEN])
{
	struct agent *a = arg;
	const struct trust_member *m = trust_get(a->trust, peer);

	return m ? m->name : "";
}

static int send_alert(void *arg, const char *contact, const struct alert_message *m, bool for_other)
{
	struct agent *a = arg;

	return alert_send(a->alert, contact, m, for_other);
}

/* ---- life cycle ---- */

static int load_one(void *arg, const uint8_t *buf, size_t len)
{
	struct proto_record rec;

	if (proto_record_decode(&rec, buf, len) == 0 &&
	    (rec.kind == PROTO_KIND_SERVICE || rec.kind == PROTO_KIND_OBSERVATION))
		monitor_on_record(arg, &rec);
	return 0;
}

int agent_monitor_new(struct agent *a)
{
	int rc;

	a->monitor_env = (struct monitor_env){
	    .arg = a,
	    .self = a->id->pk,
	    .conf = &a->conf,
	    .publish = publish_observation,
	    .granted = granted_monitor,
	    .details = service_details,
	    .resynced = resynced,
	};
	a->notify_env = (struct notify_env){
	    .arg = a,
	    .self = a->id->pk,
	    .alive = agent_alive,
	    .live_members = live_members,
	    .contacts = contacts,
	    .name = member_name,
	    .members_max = members_max,
	    .send = send_alert,
	};
	rc = web_new(&a->web, a->loop);
	if (!rc) {
		web_set_max_in_flight(a->web, a->conf.max_checks);
		rc = alert_new(&a->alert, a->loop, a->web, &a->conf);
	}
	if (!rc)
		rc = notify_new(&a->notify, &a->notify_env);
	if (!rc)
		rc = monitor_new(&a->monitor, a->loop, a->web, &a->monitor_env);
	if (!rc) {
		a->health = monitor_health(a->monitor);
		rc = monitor_subscribe(a->monitor, notify_on_event, a->notify);
	}
	if (!rc)
		rc = store_records_each(a->store, load_one, a->monitor);
	return rc;
}

void agent_monitor_free(struct agent *a)
{
	monitor_free(&a->monitor);
	a->health = NULL;
	notify_free(&a->notify);
	alert_free(&a->alert);
	web_free(&a->web);
}

void agent_monitor_on_record(struct agent *a, const struct proto_record *rec)
{
	if (a->monitor)
		monitor_on_record(a->monitor, rec);
	agent_failover_on_record(a, rec);
}

void agent_monitor_member_changed(struct agent *a, const uint8_t peer[PROTO_KEY_LEN],
                                  enum proto_member_state state)
{
	if (a->monitor)
		monitor_member_changed(a->monitor, peer, state);
	agent_failover_member_changed(a);
}

/* ---- kith health ---- */

static void pack_observer(msgpack_packer *pk, const struct monitor_obs *o, uint64_t now)
{
	char id[PROTO_PEERID_TEXT_LEN + 1];
	struct mp_map m;

	proto_peerid_format(id, o->observer);
	mp_map_begin(&m);
	mp_map_str(&m, CTL_REPLY_ID, id);
	mp_map_str(&m, CTL_REPLY_STATUS, proto_status_name(o->status));
	if (o->standby)
		mp_map_str(&m, CTL_REPLY_STANDBY, proto_status_name(o->standby));
	mp_map_uint(&m, CTL_REPLY_LATENCY_MS, o->latency_ms);
	mp_map_uint(&m, CTL_REPLY_AGE, now > o->checked_at ? now - o->checked_at : 0);
	mp_map_str(&m, CTL_REPLY_OBS_ERROR, o->error);
	mp_map_end(&m, pk);
}

struct health_list {
	struct agent *a;
	msgpack_packer *pk;
	uint32_t count;
	uint64_t now;
};

static void count_service(void *arg, const struct monitor_view *v)
{
	(void)v;
	((struct health_list *)arg)->count++;
}

static void pack_service(void *arg, const struct monitor_view *v)
{
	struct health_list *l = arg;
	char id[PROTO_PEERID_TEXT_LEN + 1];
	msgpack_packer *observers;
	struct mp_map m;

	proto_peerid_format(id, v->owner);
	mp_map_begin(&m);
	mp_map_str(&m, CTL_REPLY_OWNER, id);
	mp_map_str(&m, CTL_REPLY_OWNER_NAME, member_name(l->a, v->owner));
	mp_map_str(&m, CTL_REPLY_SERVICE, v->name);
	mp_map_str(&m, CTL_REPLY_VERDICT, verdict_name(v->verdict));
	mp_map_uint(&m, CTL_REPLY_SINCE, v->since);
	/* A DNS plan shows in its observers' words, the owner's own agent
	 * not checking it. */
	for (size_t i = 0; i < v->n_obs; i++)
		if (v->obs[i].standby) {
			mp_map_str(&m, CTL_REPLY_STANDBY, verdict_name(v->standby));
			break;
		}
	mp_map_bool(&m, CTL_REPLY_CHECKED_HERE, v->checked_here);
	observers = mp_map_key(&m, CTL_REPLY_OBSERVERS);
	msgpack_pack_array(observers, (uint32_t)v->n_obs);
	for (size_t i = 0; i < v->n_obs; i++)
		pack_observer(observers, &v->obs[i], l->now);
	mp_map_end(&m, l->pk);
}

int agent_ctl_health(void *arg, const struct ctl_request *req, msgpack_packer *pk, char *err,
                     size_t n)
{
	struct health_list l = {.a = arg, .pk = pk, .now = loop_wall_s()};

	(void)req;
	(void)err;
	(void)n;
	monitor_each(l.a->monitor, count_service, &l);
	msgpack_pack_array(pk, l.count);
	monitor_each(l.a->monitor, pack_service, &l);
	return 0;
}
