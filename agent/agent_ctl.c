/* The control commands of kithd: status, members, admit. Each packs one
 * value, the "data" of the reply (see ctl.h); peer IDs travel as text so
 * that kith can print them or pass them through as JSON unchanged. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "proto/error.h"
#include "proto/identity.h"
#include "proto/peerid.h"
#include "proto/record.h"
#include "proto/wire.h"
#include "store/store.h"
#include "agent_int.h"
#include "agent/monitor/health.h"
#include "agent/core/log.h"

static void pack_kv_str(msgpack_packer *pk, const char *key, const char *value)
{
	mp_pack_cstr(pk, key);
	mp_pack_cstr(pk, value);
}

static void pack_kv_uint(msgpack_packer *pk, const char *key, uint64_t value)
{
	mp_pack_cstr(pk, key);
	msgpack_pack_uint64(pk, value);
}

struct census {
	uint64_t by_state[5];
};

static void count_member(void *arg, const struct member_info *info)
{
	struct census *c = arg;

	if (!info->self && (unsigned)info->state < 5)
		c->by_state[info->state]++;
}

/* The checks we run for partners: how many, how fast, what they found. */
static void pack_checks(struct agent *a, msgpack_packer *pk)
{
	struct health_stats hs = {0};

	if (a->health)
		health_get_stats(a->health, &hs);
	mp_pack_cstr(pk, "checks");
	msgpack_pack_map(pk, 7);
	pack_kv_uint(pk, "services", hs.watched);
	pack_kv_uint(pk, "run", hs.checks);
	pack_kv_uint(pk, "last_minute", hs.last_minute);
	pack_kv_uint(pk, "up", hs.up);
	pack_kv_uint(pk, "degraded", hs.degraded);
	pack_kv_uint(pk, "down", hs.down);
	pack_kv_uint(pk, "deferred", hs.deferred);
}

/* What bounds the cost of peers to this agent, and what it spent: the
 * store against its limit, inbound connections closed, heavy messages
 * that waited, log lines held back. */
static void pack_limits(struct agent *a, msgpack_packer *pk, const struct net_stats *ns,
                        const struct gossip_stats *gs, const struct backlog_stats *bs)
{
	struct agent_upkeep_stats us;

	agent_upkeep_get_stats(a, &us);
	mp_pack_cstr(pk, "store");
	msgpack_pack_map(pk, 6);
	pack_kv_uint(pk, "used_bytes", us.store.used_bytes);
	pack_kv_uint(pk, "map_bytes", us.store.map_bytes);
	pack_kv_uint(pk, "limit_bytes", us.store.map_max);
	mp_pack_cstr(pk, "near_full");
	us.near_full ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
	pack_kv_uint(pk, "pruned", us.pruned);
	pack_kv_uint(pk, "dropped_ejected", us.dropped);
	mp_pack_cstr(pk, "connections");
	msgpack_pack_map(pk, 4);
	pack_kv_uint(pk, "inbound", ns->conns);
	pack_kv_uint(pk, "closed_silent", ns->cut_silent);
	pack_kv_uint(pk, "closed_guest", ns->cut_guest);
	pack_kv_uint(pk, "closed_routing_id", ns->cut_routing_id);
	mp_pack_cstr(pk, "work");
	msgpack_pack_map(pk, 5);
	pack_kv_uint(pk, "handled", bs->handled);
	pack_kv_uint(pk, "deferred", bs->deferred);
	pack_kv_uint(pk, "waiting", bs->waiting);
	pack_kv_uint(pk, "records_messages_cut_short", gs->cut_short);
	pack_kv_uint(pk, "log_lines_held", log_tally_held());
}

static int cmd_status(void *arg, const struct ctl_request *req, msgpack_packer *pk, char *err,
                      size_t n)
{
	struct agent *a = arg;
	const struct trust_member *self = trust_get(a->trust, a->id->pk);
	char id[PROTO_PEERID_TEXT_LEN + 1], founder[PROTO_PEERID_TEXT_LEN + 1];
	struct census census = {{0}};
	struct net_stats ns;
	struct gossip_stats gs;
	struct member_stats ms;
	struct backlog_stats bs;
	uint64_t records = 0;

	(void)req;
	(void)err;
	(void)n;
	proto_peerid_format(id, a->id->pk);
	member_each(a->member, count_member, &census);
	net_get_stats(a->net, &ns);
	gossip_get_stats(a->gossip, &gs);
	member_get_stats(a->member, &ms);
	backlog_get_stats(a->backlog, &bs);
	store_record_count(a->store, &records);

	msgpack_pack_map(pk, 16);
	pack_kv_str(pk, "id", id);
	pack_kv_str(pk, "name", self ? self->name : "");
	pack_kv_str(pk, "version", KITH_VERSION);
	pack_kv_uint(pk, "uptime", (loop_now_ms(a->loop) - a->started_ms) / 1000);
	pack_kv_uint(pk, "incarnation", a->incarnation);
	pack_kv_str(pk, "listen", a->conf.listen);
	pack_kv_str(pk, "advertise", agent_advertised(a));
	pack_kv_uint(pk, "records", records);
	proto_peerid_format(founder, trust_founder(a->trust));
	pack_kv_str(pk, "founder", founder);
	mp_pack_cstr(pk, "members");
	msgpack_pack_map(pk, 4);
	for (int s = PROTO_STATE_ALIVE; s <= PROTO_STATE_LEFT; s++)
		pack_kv_uint(pk, proto_member_state_name((enum proto_member_state)s),
		             census.by_state[s]);
	mp_pack_cstr(pk, "received");
	msgpack_pack_map(pk, 3);
	pack_kv_uint(pk, "messages", ns.received);
	pack_kv_uint(pk, "records_stored", gs.records_stored);
	pack_kv_uint(pk, "records_stale", gs.stale);
	mp_pack_cstr(pk, "rejected");
	msgpack_pack_map(pk, 12);
	pack_kv_uint(pk, "records_over_budget", gs.rej_budget);
	pack_kv_uint(pk, "messages_busy", bs.refused);
	pack_kv_uint(pk, "malformed_messages", ns.malformed);
	pack_kv_uint(pk, "requests_refused", a->refused_requests);
	pack_kv_uint(pk, "joins_refused", a->refused_joins);
	pack_kv_uint(pk, "guest_messages", a->guest_dropped);
	pack_kv_uint(pk, "handshakes_refused", ns.zap_refused);
	pack_kv_uint(pk, "peers_banned", ns.bans);
	pack_kv_uint(pk, "records_nonmember", gs.rej_nonmember);
	pack_kv_uint(pk, "records_bad_signature", gs.rej_signature);
	pack_kv_uint(pk, "records_invalid", gs.rej_invalid);
	pack_kv_uint(pk, "membership_updates", ms.bad_updates);
	pack_checks(a, pk);
	pack_limits(a, pk, &ns, &gs, &bs);
	return 0;
}

struct member_list {
	struct agent *a;
	msgpack_packer *pk;
};

static void pack_member(void *arg, const struct member_info *info)
{
	struct member_list *ml = arg;
	const struct trust_member *m = trust_get(ml->a->trust, info->peer);
	char id[PROTO_PEERID_TEXT_LEN + 1];

	proto_peerid_format(id, info->peer);
	msgpack_pack_map(ml->pk, 8);
	pack_kv_str(ml->pk, "id", id);
	pack_kv_str(ml->pk, "name", m ? m->name : "");
	pack_kv_str(ml->pk, "state", proto_member_state_name(info->state));
	pack_kv_str(ml->pk, "endpoint",
	            info->self ? agent_advertised(ml->a) : (m ? m->endpoint : ""));
	pack_kv_uint(ml->pk, "incarnation", info->incarnation);
	pack_kv_uint(ml->pk, "last_seen", info->last_seen);
	pack_kv_uint(ml->pk, "since", info->since);
	mp_pack_cstr(ml->pk, "self");
	(info->self ? msgpack_pack_true : msgpack_pack_false)(ml->pk);
}

static void count_all(void *arg, const struct member_info *info)
{
	(void)info;
	(*(uint32_t *)arg)++;
}

/* Ejected members are no longer tracked by the membership module: they
 * are listed from the trust layer, with state "revoked". */
static void count_ejected(void *arg, const struct trust_member *m)
{
	if (m->ejected)
		(*(uint32_t *)arg)++;
}

static void pack_ejected(void *arg, const struct trust_member *m)
{
	struct member_list *ml = arg;
	char id[PROTO_PEERID_TEXT_LEN + 1];

	if (!m->ejected)
		return;
	proto_peerid_format(id, m->peer);
	msgpack_pack_map(ml->pk, 8);
	pack_kv_str(ml->pk, "id", id);
	pack_kv_str(ml->pk, "name", m->name);
	pack_kv_str(ml->pk, "state", "revoked");
	pack_kv_str(ml->pk, "endpoint", m->endpoint);
	pack_kv_uint(ml->pk, "incarnation", 0);
	pack_kv_uint(ml->pk, "last_seen", 0);
	pack_kv_uint(ml->pk, "since", 0);
	mp_pack_cstr(ml->pk, "self");
	msgpack_pack_false(ml->pk);
}

static int cmd_members(void *arg, const struct ctl_request *req, msgpack_packer *pk, char *err,
                       size_t n)
{
	struct agent *a = arg;
	struct member_list ml = {a, pk};
	uint32_t count = 0;

	(void)req;
	(void)err;
	(void)n;
	member_each(a->member, count_all, &count);
	trust_each(a->trust, true, count_ejected, &count);
	msgpack_pack_array(pk, count);
	member_each(a->member, pack_member, &ml);
	trust_each(a->trust, true, pack_ejected, &ml);
	return 0;
}

int agent_fail(char *err, size_t n, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, n, fmt, ap);
	va_end(ap);
	return code;
}

int agent_arg_peer(const struct ctl_request *req, const char *key, uint8_t peer[PROTO_KEY_LEN],
                   char *err, size_t n)
{
	char text[128], why[160];

	if (ctl_arg_text(req, key, text, sizeof(text)) != 0)
		return agent_fail(err, n, KITH_EMISSING, "a peer ID is needed");
	if (proto_peerid_parse(peer, text, why, sizeof(why)) != 0)
		return agent_fail(err, n, KITH_EVALUE, "%s", why);
	return 0;
}

static int cmd_admit(void *arg, const struct ctl_request *req, msgpack_packer *pk, char *err,
                     size_t n)
{
	struct agent *a = arg;
	char text[PROTO_PEERID_TEXT_LEN + 1], endpoint[PROTO_ENDPOINT_MAX + 1] = "";
	char who[PROTO_PEERID_SHORT_LEN + 1];
	const struct trust_member *m;
	const char *problem;
	uint8_t peer[PROTO_KEY_LEN];
	int rc = agent_arg_peer(req, "peer", peer, err, n);

	if (rc)
		return rc;
	if (!memcmp(peer, a->id->pk, PROTO_KEY_LEN))
		return agent_fail(err, n, KITH_EVALUE, "that is this agent's own peer ID");
	if (!agent_may_admit(a))
		return agent_fail(err, n, KITH_ENOGRANT,
		                  "only the founder or a member holding admit may admit");
	m = trust_get(a->trust, peer);
	if (m && m->ejected)
		return agent_fail(err, n, KITH_EREVOKED, "that peer was ejected from the network");
	rc = ctl_arg_text(req, "endpoint", endpoint, sizeof(endpoint));
	if (rc && rc != -ENOENT)
		return agent_fail(err, n, rc, "endpoint too long");
	if (endpoint[0] && conf_endpoint_check(endpoint, &problem) != 0)
		return agent_fail(err, n, KITH_EVALUE, "endpoint %s", problem);
	rc = agent_admit(a, peer, endpoint);
	if (rc)
		return agent_fail(err, n, rc, "cannot publish the admission: %s",
		                  proto_strerror(rc));
	proto_peerid_short(who, peer);
	log_info("admitted %s", who);
	proto_peerid_format(text, peer);
	msgpack_pack_map(pk, 2);
	pack_kv_str(pk, "id", text);
	pack_kv_str(pk, "endpoint", endpoint);
	return 0;
}

/* kith record import beside a running agent: the record is checked and
 * applied as one from gossip (a member's, within its budget), so that
 * trust and monitoring hear of it at once and partners get it. */
static int cmd_record_import(void *arg, const struct ctl_request *req, msgpack_packer *pk,
                             char *err, size_t n)
{
	struct agent *a = arg;
	const struct ctl_arg *rec_arg = NULL;
	enum store_put_result result;
	struct proto_record rec;
	char author[PROTO_PEERID_TEXT_LEN + 1];
	int rc;

	for (size_t i = 0; i < req->n_args; i++)
		if (!strcmp(req->args[i].key, "record") && req->args[i].type == CTL_ARG_BIN)
			rec_arg = &req->args[i];
	if (!rec_arg)
		return agent_fail(err, n, KITH_EMISSING, "no record given");
	rc = proto_record_open(&rec, rec_arg->bin, rec_arg->len, (uint64_t)time(NULL));
	if (rc)
		return agent_fail(err, n, rc, "the record is refused: %s", proto_strerror(rc));
	if (!trust_is_member(a->trust, rec.author))
		return agent_fail(err, n, KITH_ENOGRANT,
		                  "its author is not a member of the network (see kith members)");
	rc = gossip_import(a->gossip, rec_arg->bin, rec_arg->len, &result);
	if (rc == KITH_EQUOTA)
		return agent_fail(err, n, rc, "its author is over its budget in this store");
	if (rc)
		return agent_fail(err, n, rc, "the record is refused: %s", proto_strerror(rc));
	proto_peerid_format(author, rec.author);
	msgpack_pack_map(pk, 4);
	pack_kv_str(pk, "author", author);
	pack_kv_str(pk, "kind", proto_kind_name(rec.kind) ? proto_kind_name(rec.kind) : "unknown");
	pack_kv_uint(pk, "seq", rec.seq);
	pack_kv_str(pk, "result", result == STORE_PUT_STALE ? "already held" : "stored");
	return 0;
}

const struct control_command agent_ctl_commands[] = {
    {"status", cmd_status},
    {"members", cmd_members},
    {"admit", cmd_admit},
    {"invite", agent_ctl_invite},
    {"join", agent_ctl_join},
    {"grant", agent_ctl_grant},
    {"grants", agent_ctl_grants},
    {"revoke", agent_ctl_revoke},
    {"dns.check", agent_ctl_dns_check},
    {"shard", agent_ctl_shard},
    {"shard.drop", agent_ctl_shard_drop},
    {"services", agent_ctl_services},
    {"service.add", agent_ctl_service_add},
    {"service.rm", agent_ctl_service_rm},
    {"service.ls", agent_ctl_service_ls},
    {"health", agent_ctl_health},
    {"contact", agent_ctl_contact},
    {"record.import", cmd_record_import},
};
const size_t agent_ctl_n_commands = sizeof(agent_ctl_commands) / sizeof(agent_ctl_commands[0]);
