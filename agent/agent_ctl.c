/* The control commands of kithd: status, members, admit, record import,
 * and the table of all commands. Each packs one value, the "data" of the
 * reply, whose keys are named in proto/ctl.h; peer IDs travel as text so
 * that kith can print them or pass them through as JSON unchanged. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/error.h"
#include "proto/identity.h"
#include "proto/peerid.h"
#include "proto/record.h"
#include "proto/wire.h"
#include "store/store.h"
#include "agent_int.h"
#include "agent/monitor/health.h"
#include "agent/core/log.h"

static void count_member(void *arg, const struct member_info *info)
{
	struct agent_census *c = arg;

	if (!info->self && (unsigned)info->state < 5)
		c->by_state[info->state]++;
}

void agent_census(struct agent *a, struct agent_census *c)
{
	memset(c, 0, sizeof(*c));
	member_each(a->member, count_member, c);
}

/* The checks we run for partners: how many, how fast, what they found. */
static void pack_checks(struct agent *a, struct mp_map *status)
{
	struct health_stats hs = {0};
	struct mp_map m;

	if (a->health)
		health_get_stats(a->health, &hs);
	mp_map_begin(&m);
	mp_map_uint(&m, CTL_REPLY_SERVICES, hs.watched);
	mp_map_uint(&m, CTL_REPLY_RUN, hs.checks);
	mp_map_uint(&m, CTL_REPLY_LAST_MINUTE, hs.last_minute);
	mp_map_uint(&m, CTL_REPLY_UP, hs.up);
	mp_map_uint(&m, CTL_REPLY_DEGRADED, hs.degraded);
	mp_map_uint(&m, CTL_REPLY_DOWN, hs.down);
	mp_map_uint(&m, CTL_REPLY_DEFERRED, hs.deferred);
	mp_map_map(status, CTL_REPLY_CHECKS, &m);
}

/* What bounds the cost of peers to this agent, and what it spent: the
 * store against its limit, inbound connections closed, heavy messages
 * that waited, log lines held back. */
static void pack_limits(struct agent *a, struct mp_map *status, const struct net_stats *ns,
                        const struct gossip_stats *gs, const struct backlog_stats *bs)
{
	struct upkeep_stats us;
	struct mp_map m;

	upkeep_get_stats(a->upkeep, &us);
	mp_map_begin(&m);
	mp_map_uint(&m, CTL_REPLY_USED_BYTES, us.store.used_bytes);
	mp_map_uint(&m, CTL_REPLY_MAP_BYTES, us.store.map_bytes);
	mp_map_uint(&m, CTL_REPLY_LIMIT_BYTES, us.store.map_max);
	mp_map_bool(&m, CTL_REPLY_NEAR_FULL, us.near_full);
	mp_map_uint(&m, CTL_REPLY_PRUNED, us.pruned);
	mp_map_uint(&m, CTL_REPLY_DROPPED_EJECTED, us.dropped);
	mp_map_map(status, CTL_REPLY_STORE, &m);

	mp_map_begin(&m);
	mp_map_uint(&m, CTL_REPLY_INBOUND, ns->conns);
	mp_map_uint(&m, CTL_REPLY_CLOSED_SILENT, ns->cut_silent);
	mp_map_uint(&m, CTL_REPLY_CLOSED_GUEST, ns->cut_guest);
	mp_map_uint(&m, CTL_REPLY_CLOSED_ROUTING_ID, ns->cut_routing_id);
	mp_map_map(status, CTL_REPLY_CONNECTIONS, &m);

	mp_map_begin(&m);
	mp_map_uint(&m, CTL_REPLY_HANDLED, bs->handled);
	mp_map_uint(&m, CTL_REPLY_DEFERRED, bs->deferred);
	mp_map_uint(&m, CTL_REPLY_WAITING, bs->waiting);
	mp_map_uint(&m, CTL_REPLY_RECORDS_MESSAGES_CUT_SHORT, gs->cut_short);
	mp_map_uint(&m, CTL_REPLY_LOG_LINES_HELD, log_tally_held());
	mp_map_map(status, CTL_REPLY_WORK, &m);
}

static int cmd_status(void *arg, const struct ctl_request *req, msgpack_packer *pk, char *err,
                      size_t n)
{
	struct agent *a = arg;
	const struct trust_member *self = trust_get(a->trust, a->id->pk);
	char id[PROTO_PEERID_TEXT_LEN + 1], founder[PROTO_PEERID_TEXT_LEN + 1];
	struct agent_census census;
	struct net_stats ns;
	struct gossip_stats gs;
	struct member_stats ms;
	struct backlog_stats bs;
	struct mp_map m, sub;
	uint64_t records = 0;

	(void)req;
	(void)err;
	(void)n;
	proto_peerid_format(id, a->id->pk);
	agent_census(a, &census);
	net_get_stats(a->net, &ns);
	gossip_get_stats(a->gossip, &gs);
	member_get_stats(a->member, &ms);
	backlog_get_stats(a->backlog, &bs);
	store_record_count(a->store, &records);

	mp_map_begin(&m);
	mp_map_str(&m, CTL_REPLY_ID, id);
	mp_map_str(&m, CTL_REPLY_NAME, self ? self->name : "");
	mp_map_str(&m, CTL_REPLY_VERSION, KITH_VERSION);
	mp_map_uint(&m, CTL_REPLY_UPTIME, (loop_now_ms(a->loop) - a->started_ms) / 1000);
	mp_map_uint(&m, CTL_REPLY_INCARNATION, a->incarnation);
	mp_map_str(&m, CTL_REPLY_LISTEN, a->conf.listen);
	mp_map_str(&m, CTL_REPLY_ADVERTISE, agent_advertised(a));
	mp_map_uint(&m, CTL_REPLY_RECORDS, records);
	proto_peerid_format(founder, trust_founder(a->trust));
	mp_map_str(&m, CTL_REPLY_FOUNDER, founder);

	mp_map_begin(&sub);
	for (int s = PROTO_STATE_ALIVE; s <= PROTO_STATE_LEFT; s++)
		mp_map_uint(&sub, proto_member_state_name((enum proto_member_state)s),
		            census.by_state[s]);
	mp_map_map(&m, CTL_REPLY_MEMBERS, &sub);

	mp_map_begin(&sub);
	mp_map_uint(&sub, CTL_REPLY_PROBES, ms.probes);
	mp_map_uint(&sub, CTL_REPLY_ACKS, ms.acks);
	mp_map_uint(&sub, CTL_REPLY_INDIRECT_PROBES, ms.indirect_probes);
	mp_map_uint(&sub, CTL_REPLY_SUSPICIONS, ms.suspicions);
	mp_map_uint(&sub, CTL_REPLY_REFUTATIONS, ms.refutations);
	mp_map_uint(&sub, CTL_REPLY_DEATHS, ms.deaths);
	mp_map_uint(&sub, CTL_REPLY_LOCAL_HEALTH, ms.health);
	mp_map_map(&m, CTL_REPLY_SWIM, &sub);

	mp_map_begin(&sub);
	mp_map_uint(&sub, CTL_REPLY_MESSAGES, ns.received);
	mp_map_uint(&sub, CTL_REPLY_RECORDS_STORED, gs.records_stored);
	mp_map_uint(&sub, CTL_REPLY_RECORDS_STALE, gs.stale);
	mp_map_map(&m, CTL_REPLY_RECEIVED, &sub);

	mp_map_begin(&sub);
	mp_map_uint(&sub, CTL_REPLY_RECORDS_OVER_BUDGET, gs.rej_budget);
	mp_map_uint(&sub, CTL_REPLY_MESSAGES_BUSY, bs.refused);
	mp_map_uint(&sub, CTL_REPLY_MALFORMED_MESSAGES, ns.malformed);
	mp_map_uint(&sub, CTL_REPLY_REQUESTS_REFUSED, a->refused_requests);
	mp_map_uint(&sub, CTL_REPLY_JOINS_REFUSED, a->refused_joins);
	mp_map_uint(&sub, CTL_REPLY_GUEST_MESSAGES, a->guest_dropped);
	mp_map_uint(&sub, CTL_REPLY_HANDSHAKES_REFUSED, ns.zap_refused);
	mp_map_uint(&sub, CTL_REPLY_PEERS_BANNED, ns.bans);
	mp_map_uint(&sub, CTL_REPLY_RECORDS_NONMEMBER, gs.rej_nonmember);
	mp_map_uint(&sub, CTL_REPLY_RECORDS_BAD_SIGNATURE, gs.rej_signature);
	mp_map_uint(&sub, CTL_REPLY_RECORDS_INVALID, gs.rej_invalid);
	mp_map_uint(&sub, CTL_REPLY_MEMBERSHIP_UPDATES, ms.bad_updates);
	mp_map_map(&m, CTL_REPLY_REJECTED, &sub);

	pack_checks(a, &m);
	pack_limits(a, &m, &ns, &gs, &bs);
	/* An allocation failure reaches the reply's buffer: ctl_reply_pack()
	 * answers with an error then. */
	mp_map_end(&m, pk);
	return 0;
}

struct member_list {
	struct agent *a;
	msgpack_packer *pk;
};

/* One entry of kith members; ejected members come from the trust layer
 * (info NULL), with state "revoked". */
static void pack_one_member(struct member_list *ml, const uint8_t peer[PROTO_KEY_LEN],
                            const struct member_info *info, const struct trust_member *m)
{
	char id[PROTO_PEERID_TEXT_LEN + 1];
	struct mp_map e;

	proto_peerid_format(id, peer);
	mp_map_begin(&e);
	mp_map_str(&e, CTL_REPLY_ID, id);
	mp_map_str(&e, CTL_REPLY_NAME, m ? m->name : "");
	mp_map_str(&e, CTL_REPLY_STATE, info ? proto_member_state_name(info->state) : "revoked");
	mp_map_str(&e, CTL_REPLY_ENDPOINT,
	           info && info->self ? agent_advertised(ml->a) : (m ? m->endpoint : ""));
	mp_map_uint(&e, CTL_REPLY_INCARNATION, info ? info->incarnation : 0);
	mp_map_uint(&e, CTL_REPLY_LAST_SEEN, info ? info->last_seen : 0);
	mp_map_uint(&e, CTL_REPLY_SINCE, info ? info->since : 0);
	mp_map_bool(&e, CTL_REPLY_SELF, info && info->self);
	mp_map_end(&e, ml->pk);
}

static void pack_member(void *arg, const struct member_info *info)
{
	struct member_list *ml = arg;

	pack_one_member(ml, info->peer, info, trust_get(ml->a->trust, info->peer));
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
	if (m->ejected)
		pack_one_member(arg, m->peer, NULL, m);
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
	/* The trust network first: settling it after a change (an admission
	 * just published) adds members to the membership module, which must
	 * be done before they are counted, or the array would hold more
	 * entries than its header says. */
	trust_each(a->trust, true, count_ejected, &count);
	member_each(a->member, count_all, &count);
	msgpack_pack_array(pk, count);
	member_each(a->member, pack_member, &ml);
	trust_each(a->trust, true, pack_ejected, &ml);
	return 0;
}

/* What forbids admitting peer at endpoint, checked for every peer of a
 * request before any admission is published. */
static int admit_check(struct agent *a, const uint8_t peer[PROTO_KEY_LEN], const char *endpoint,
                       char *err, size_t n)
{
	const struct trust_member *member;
	const char *problem;

	if (!memcmp(peer, a->id->pk, PROTO_KEY_LEN))
		return ctl_fail(err, n, KITH_EVALUE, "that is this agent's own peer ID");
	member = trust_get(a->trust, peer);
	if (member && member->ejected)
		return ctl_fail(err, n, KITH_EREVOKED, "that peer was ejected from the network");
	if (endpoint[0] && conf_endpoint_check(endpoint, &problem) != 0)
		return ctl_fail(err, n, KITH_EVALUE, "endpoint %s", problem);
	return 0;
}

/* {id, endpoint} of an admitted peer, as the reply has it. */
static void pack_admitted(msgpack_packer *pk, const uint8_t peer[PROTO_KEY_LEN],
                          const char *endpoint)
{
	char text[PROTO_PEERID_TEXT_LEN + 1];
	struct mp_map m;

	proto_peerid_format(text, peer);
	mp_map_begin(&m);
	mp_map_str(&m, CTL_REPLY_ID, text);
	mp_map_str(&m, CTL_REPLY_ENDPOINT, endpoint);
	mp_map_end(&m, pk);
}

/* The admissions of entries e[0..count), checked already, with one clock
 * for all (agent_admit_many()); each admitted peer is logged, also when
 * a later one fails, since those before it stay admitted. */
static int admit_all(struct agent *a, const struct ctl_admit_entry *e, size_t count, char *err,
                     size_t n)
{
	char who[PROTO_PEERID_SHORT_LEN + 1];
	size_t done = 0;
	int rc = agent_admit_many(a, e, count, &done);

	for (size_t i = 0; i < done; i++) {
		proto_peerid_short(who, e[i].peer);
		log_info("admitted %s", who);
	}
	if (!rc)
		return 0;
	if (count == 1)
		return ctl_fail(err, n, rc, "cannot publish the admission: %s", proto_strerror(rc));
	proto_peerid_short(who, e[done].peer);
	return ctl_fail(err, n, rc,
	                "admitted %zu of %zu, then could not publish the admission of "
	                "peer %zu (%s): %s",
	                done, count, done + 1, who, proto_strerror(rc));
}

/* kith admit with a list (CTL_KEY_PEERS): every entry is checked before
 * the first admission is published, so that a bad one admits none. */
static int admit_list(struct agent *a, const struct ctl_arg *list, msgpack_packer *pk, char *err,
                      size_t n)
{
	struct ctl_admit_entry *e = calloc(CTL_ADMIT_MAX, sizeof(*e));
	char who[PROTO_PEERID_SHORT_LEN + 1], why[200];
	size_t count = 0;
	int rc;

	if (!e)
		return ctl_fail(err, n, -ENOMEM, "out of memory");
	rc = ctl_admit_list_decode(e, CTL_ADMIT_MAX, &count, list->bin, list->len, err, n);
	for (size_t i = 0; !rc && i < count; i++) {
		rc = admit_check(a, e[i].peer, e[i].endpoint, why, sizeof(why));
		if (rc) {
			proto_peerid_short(who, e[i].peer);
			ctl_fail(err, n, rc, "peer %zu of %zu (%s): %s", i + 1, count, who, why);
		}
	}
	if (!rc)
		rc = admit_all(a, e, count, err, n);
	if (!rc) {
		msgpack_pack_array(pk, (uint32_t)count);
		for (size_t i = 0; i < count; i++)
			pack_admitted(pk, e[i].peer, e[i].endpoint);
	}
	free(e);
	return rc;
}

static int cmd_admit(void *arg, const struct ctl_request *req, msgpack_packer *pk, char *err,
                     size_t n)
{
	struct agent *a = arg;
	const struct ctl_arg *list = ctl_arg_bin(req, CTL_KEY_PEERS);
	struct ctl_admit_entry e = {0};
	int rc;

	if (!agent_may_admit(a))
		return ctl_fail(err, n, KITH_ENOGRANT,
		                "only the founder or a member holding admit may admit");
	if (ctl_arg_has(req, CTL_KEY_PEERS)) {
		if (!list)
			return ctl_fail(err, n, KITH_ETYPE, "the list of peers must be a binary");
		/* A list entry carries its own endpoint: the others are
		 * refused rather than silently ignored. */
		if (ctl_arg_has(req, CTL_KEY_PEER) || ctl_arg_has(req, CTL_KEY_ENDPOINT))
			return ctl_fail(err, n, KITH_EVALUE,
			                "give one peer and its endpoint, or a list of peers");
		return admit_list(a, list, pk, err, n);
	}
	rc = ctl_arg_peer(req, CTL_KEY_PEER, e.peer, err, n);
	if (rc)
		return rc;
	rc = ctl_arg_text(req, CTL_KEY_ENDPOINT, e.endpoint, sizeof(e.endpoint));
	if (rc && rc != -ENOENT)
		return ctl_fail(err, n, rc, "endpoint too long");
	rc = admit_check(a, e.peer, e.endpoint, err, n);
	if (!rc)
		rc = admit_all(a, &e, 1, err, n);
	if (!rc)
		pack_admitted(pk, e.peer, e.endpoint);
	return rc;
}

/* kith record import beside a running agent: the record is checked and
 * applied as one from gossip (a member's, within its budget), so that
 * trust and monitoring hear of it at once and partners get it. */
static int cmd_record_import(void *arg, const struct ctl_request *req, msgpack_packer *pk,
                             char *err, size_t n)
{
	struct agent *a = arg;
	const struct ctl_arg *rec_arg = ctl_arg_bin(req, CTL_KEY_RECORD);
	enum store_put_result result;
	struct mp_map m;
	struct proto_record rec;
	char author[PROTO_PEERID_TEXT_LEN + 1];
	int rc;

	if (!rec_arg)
		return ctl_fail(err, n, KITH_EMISSING, "no record given");
	rc = proto_record_open(&rec, rec_arg->bin, rec_arg->len, loop_wall_s());
	if (rc)
		return ctl_fail(err, n, rc, "the record is refused: %s", proto_strerror(rc));
	if (!trust_is_member(a->trust, rec.author))
		return ctl_fail(err, n, KITH_ENOGRANT,
		                "its author is not a member of the network (see kith members)");
	rc = gossip_import(a->gossip, rec_arg->bin, rec_arg->len, &result);
	if (rc == KITH_EQUOTA)
		return ctl_fail(err, n, rc, "its author is over its budget in this store");
	if (rc)
		return ctl_fail(err, n, rc, "the record is refused: %s", proto_strerror(rc));
	proto_peerid_format(author, rec.author);
	mp_map_begin(&m);
	mp_map_str(&m, CTL_REPLY_AUTHOR, author);
	mp_map_str(&m, CTL_REPLY_KIND,
	           proto_kind_name(rec.kind) ? proto_kind_name(rec.kind) : "unknown");
	mp_map_uint(&m, CTL_REPLY_SEQ, rec.seq);
	mp_map_str(&m, CTL_REPLY_RESULT,
	           result == STORE_PUT_STALE ? CTL_IMPORT_HELD : CTL_IMPORT_STORED);
	mp_map_end(&m, pk);
	return 0;
}

const struct control_command agent_ctl_commands[] = {
    {CTL_CMD_STATUS, cmd_status},
    {CTL_CMD_MEMBERS, cmd_members},
    {CTL_CMD_ADMIT, cmd_admit},
    {CTL_CMD_INVITE, agent_ctl_invite},
    {CTL_CMD_JOIN, agent_ctl_join},
    {CTL_CMD_GRANT, agent_ctl_grant},
    {CTL_CMD_GRANTS, agent_ctl_grants},
    {CTL_CMD_REVOKE, agent_ctl_revoke},
    {CTL_CMD_DNS_CHECK, agent_ctl_dns_check},
    {CTL_CMD_DNS_TEST, agent_ctl_dns_test},
    {CTL_CMD_DNS_HISTORY, agent_ctl_dns_history},
    {CTL_CMD_DNS_PIN, agent_ctl_dns_pin},
    {CTL_CMD_DNS_STATUS, agent_ctl_dns_status},
    {CTL_CMD_SHARD, agent_ctl_shard},
    {CTL_CMD_SHARD_DROP, agent_ctl_shard_drop},
    {CTL_CMD_SERVICES, agent_ctl_services},
    {CTL_CMD_SERVICE_ADD, agent_ctl_service_add},
    {CTL_CMD_SERVICE_SET, agent_ctl_service_set},
    {CTL_CMD_SERVICE_RM, agent_ctl_service_rm},
    {CTL_CMD_SERVICE_LS, agent_ctl_service_ls},
    {CTL_CMD_HEALTH, agent_ctl_health},
    {CTL_CMD_CONTACT, agent_ctl_contact},
    {CTL_CMD_RECORD_IMPORT, cmd_record_import},
    {CTL_CMD_BACKUP_HOLDERS, agent_ctl_backup_holders},
    {CTL_CMD_HOLD, agent_ctl_hold},
    {CTL_CMD_BACKUP_PUBLISH, agent_ctl_backup_publish},
};
const size_t agent_ctl_n_commands = sizeof(agent_ctl_commands) / sizeof(agent_ctl_commands[0]);
