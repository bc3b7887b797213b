/* Joining the trust network: kith invite makes a token, kith join spends
 * it (or joins by ID once a member has admitted us), and the issuer
 * checks the token, admits the newcomer, grants what the token offered and
 * hands it the records that make it a member everywhere. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "proto/body.h"
#include "proto/error.h"
#include "proto/identity.h"
#include "proto/peerid.h"
#include "proto/record.h"
#include "proto/token.h"
#include "proto/units.h"
#include "proto/wire.h"
#include "store/store.h"
#include "agent_int.h"
#include "agent/core/log.h"

/* ---- kith invite ---- */

/* Parses "monitor,backup:50G" into scopes; err names the bad one. dns
 * scopes need a credential sealed to the grantee, which cannot exist
 * before the grantee joins: they are granted afterwards. */
static int parse_scope_list(const char *text, struct proto_scope *scopes, uint32_t *n, char *err,
                            size_t errn)
{
	const char *why = NULL;
	int rc = proto_scope_list_parse(text, scopes, PROTO_SCOPES_MAX, n, &why);

	if (rc == KITH_ETOOBIG)
		return ctl_fail(err, errn, rc, "more than %d scopes", PROTO_SCOPES_MAX);
	if (rc)
		return ctl_fail(err, errn, rc, "%s", why);
	for (uint32_t i = 0; i < *n; i++)
		if (scopes[i].type == PROTO_SCOPE_DNS)
			return ctl_fail(err, errn, KITH_ESCOPE,
			                "dns scopes carry a credential: grant them with kith "
			                "grant once the peer has joined");
	return 0;
}

/* Reads an optional duration argument; def when absent. */
static int arg_duration(const struct ctl_request *req, const char *key, uint64_t def,
                        uint64_t *seconds, char *err, size_t n)
{
	char text[32];
	const char *why = NULL;
	uint64_t ms;
	int rc = ctl_arg_text(req, key, text, sizeof(text));

	if (rc == -ENOENT) {
		*seconds = def;
		return 0;
	}
	if (rc || proto_duration_parse(text, strlen(text), &ms, &why) != 0 || ms < 1000)
		return ctl_fail(err, n, KITH_EVALUE, "--%s: %s", key,
		                why ? why : "must be at least 1s");
	*seconds = ms / 1000;
	return 0;
}

int agent_ctl_invite(void *arg, const struct ctl_request *req, msgpack_packer *pk, char *err,
                     size_t n)
{
	struct agent *a = arg;
	struct proto_token *t = calloc(1, sizeof(*t));
	struct store_invite inv = {0};
	char scopes[PROTO_SCOPES_MAX * (PROTO_SCOPE_MAX + 1)] = "";
	char token[PROTO_TOKEN_TEXT_MAX + 1], idhex[2 * STORE_INVITE_ID_LEN + 1];
	uint64_t ttl = AGENT_INVITE_TTL, uses = 1, now = loop_wall_s();
	const char *endpoint = agent_advertised(a);
	struct mp_map m;
	msgpack_packer *list;
	int rc;

	if (!t)
		return -ENOMEM;
	rc = arg_duration(req, CTL_KEY_EXPIRES, AGENT_INVITE_TTL, &ttl, err, n);
	if (!rc && ctl_arg_uint(req, CTL_KEY_USES, &uses) == 0 && (uses < 1 || uses > 1000))
		rc = ctl_fail(err, n, KITH_EVALUE, "--uses must be 1 to 1000");
	if (!rc && ctl_arg_text(req, CTL_KEY_SCOPES, scopes, sizeof(scopes)) == KITH_ETOOBIG)
		rc = ctl_fail(err, n, KITH_ETOOBIG, "scope list too long");
	if (!rc)
		rc = parse_scope_list(scopes, t->scopes, &t->n_scopes, err, n);
	if (!rc && !agent_may_admit(a))
		rc = ctl_fail(err, n, KITH_ENOGRANT,
		              "only the founder or a member holding admit may invite");
	if (!rc && !endpoint[0])
		rc = ctl_fail(err, n, KITH_EVALUE,
		              "set advertise in kithd.conf: invitees must know where to reach "
		              "this agent");
	if (rc)
		goto out;
	memcpy(t->founder, trust_founder(a->trust), PROTO_KEY_LEN);
	memcpy(t->issuer, a->id->pk, PROTO_KEY_LEN);
	t->n_endpoints = 1;
	snprintf(t->endpoints[0], sizeof(t->endpoints[0]), "%s", endpoint);
	randombytes_buf(t->secret, sizeof(t->secret));
	t->expires = now + ttl;

	proto_token_id(inv.id, t->secret);
	memcpy(inv.secret, t->secret, sizeof(inv.secret));
	inv.created = now;
	inv.expires = t->expires;
	inv.uses_left = (uint32_t)uses;
	inv.n_scopes = t->n_scopes;
	for (uint32_t i = 0; i < t->n_scopes; i++)
		proto_scope_format(&t->scopes[i], inv.scopes[i], sizeof(inv.scopes[i]));
	rc = proto_token_format(t, token, sizeof(token));
	if (!rc)
		rc = store_invite_put(a->store, &inv);
	if (rc) {
		rc = ctl_fail(err, n, rc, "cannot make the invitation: %s", proto_strerror(rc));
		goto out;
	}
	/* The ID is a hash of the secret: safe to log. */
	sodium_bin2hex(idhex, sizeof(idhex), inv.id, 4);
	log_info("made invitation %s: %llu use(s), %u scope(s), expires in %llus", idhex,
	         (unsigned long long)uses, t->n_scopes, (unsigned long long)ttl);
	mp_map_begin(&m);
	mp_map_str(&m, CTL_REPLY_TOKEN, token);
	mp_map_uint(&m, CTL_REPLY_EXPIRES, t->expires);
	mp_map_uint(&m, CTL_REPLY_USES, uses);
	list = mp_map_key(&m, CTL_REPLY_SCOPES);
	msgpack_pack_array(list, inv.n_scopes);
	for (uint32_t i = 0; i < inv.n_scopes; i++)
		mp_pack_cstr(list, inv.scopes[i]);
	mp_map_end(&m, pk);
out:
	sodium_memzero(t, sizeof(*t));
	sodium_memzero(&inv, sizeof(inv));
	free(t);
	return rc;
}

/* ---- kith join (the newcomer's side) ---- */

bool agent_join_waits_for(const struct agent *a, const uint8_t peer[PROTO_KEY_LEN])
{
	return a->join.pending && !memcmp(a->join.issuer, peer, PROTO_KEY_LEN);
}

static void join_finish(struct agent *a, int rc, const char *err, const struct mp_buf *data)
{
	struct control_pending *p = a->join.pending;

	loop_timer_stop(a->loop, &a->join.timeout);
	a->join.pending = NULL;
	/* The issuer takes one JOIN per connection: the next join, or the
	 * member we now are, dials afresh. */
	if (p)
		net_disconnect(a->net, a->join.issuer);
	if (p)
		control_finish(a->ctl, p, rc, err, data);
}

static void join_timeout(struct loop *l, void *arg)
{
	struct agent *a = arg;
	char err[400];

	(void)l;
	snprintf(err, sizeof(err),
	         "no answer from the issuer at %s within %d s: is its kithd running and the "
	         "address reachable?",
	         a->join.endpoint, AGENT_REPLY_WAIT_MS / 1000);
	join_finish(a, -ETIMEDOUT, err, NULL);
}

void agent_join_init(struct agent *a)
{
	loop_timer_init(&a->join.timeout, join_timeout, a);
}

void agent_join_cancel(struct agent *a)
{
	join_finish(a, -ECANCELED, "kithd is stopping", NULL);
}

/* May we join? Alone in a network of our own, as kith init left us; or
 * restored from a recovery kit (kith init --restore): the network's
 * founder is known but we are no member in our own eyes yet, as none of
 * the network's records has reached us. */
static bool fresh(struct agent *a)
{
	if (!memcmp(trust_founder(a->trust), a->id->pk, PROTO_KEY_LEN))
		return trust_count(a->trust) == 1;
	return !trust_is_member(a->trust, a->id->pk);
}

/* Sends JOIN to issuer at endpoint, with an invitation when secret is set. */
static int send_join(struct agent *a, const uint8_t issuer[PROTO_KEY_LEN], const char *endpoint,
                     const uint8_t *secret, char *err, size_t n)
{
	struct proto_join j = {0};
	struct mp_buf out = {0};
	uint8_t *member = NULL;
	size_t member_len = 0;
	int rc = store_record_get(a->store, a->id->pk, PROTO_KIND_MEMBER, "", &member, &member_len);

	if (rc)
		return ctl_fail(err, n, rc, "our member record is missing: %s", proto_strerror(rc));
	if (secret) {
		j.has_invite = true;
		proto_token_id(j.invite_id, secret);
		proto_join_proof(j.proof, secret, a->id->pk, issuer);
	}
	j.member_record = member;
	j.member_record_len = member_len;
	rc = proto_join_encode(&out, &j);
	if (!rc)
		rc = net_send(a->net, issuer, endpoint, out.data, out.len);
	if (rc)
		rc = ctl_fail(err, n, rc, "cannot send the join request to %s: %s", endpoint,
		              proto_strerror(rc));
	mp_buf_free(&out);
	free(member);
	return rc;
}

int agent_ctl_join(void *arg, const struct ctl_request *req, msgpack_packer *pk, char *err,
                   size_t n)
{
	struct agent *a = arg;
	struct proto_token *t = NULL;
	char text[PROTO_TOKEN_TEXT_MAX + 1], why[200];
	uint8_t issuer[PROTO_KEY_LEN];
	const char *problem;
	int rc;

	(void)pk;
	if (a->join.pending)
		return ctl_fail(err, n, -EALREADY, "a join is already under way");
	if (!fresh(a))
		return ctl_fail(err, n, -EISCONN,
		                "this agent already belongs to a network: a new collective "
		                "joins from a freshly initialised agent");
	if (!agent_advertised(a)[0])
		return ctl_fail(err, n, KITH_EVALUE,
		                "set advertise in kithd.conf first: members must be able to "
		                "reach this agent");
	rc = ctl_arg_text(req, CTL_KEY_TOKEN, text, sizeof(text));
	if (rc == 0) {
		t = calloc(1, sizeof(*t));
		if (!t)
			return -ENOMEM;
		/* Expiry is the issuer's to judge (its clock, its log). */
		rc = proto_token_parse(t, text, why, sizeof(why));
		if (!rc && !memcmp(t->issuer, a->id->pk, PROTO_KEY_LEN)) {
			rc = KITH_EVALUE;
			snprintf(why, sizeof(why), "this invitation is our own");
		}
		if (rc) {
			free(t);
			return ctl_fail(err, n, rc, "%s", why);
		}
		memcpy(issuer, t->issuer, PROTO_KEY_LEN);
		snprintf(a->join.endpoint, sizeof(a->join.endpoint), "%s", t->endpoints[0]);
		rc = send_join(a, issuer, a->join.endpoint, t->secret, err, n);
		sodium_memzero(t, sizeof(*t));
		free(t);
	} else {
		rc = ctl_arg_peer(req, CTL_KEY_PEER, issuer, err, n);
		if (rc)
			return ctl_fail(err, n, rc,
			                "give an invitation, or a peer ID and its "
			                "endpoint");
		if (ctl_arg_text(req, CTL_KEY_ENDPOINT, a->join.endpoint,
		                 sizeof(a->join.endpoint)) ||
		    conf_endpoint_check(a->join.endpoint, &problem) != 0)
			return ctl_fail(err, n, KITH_EVALUE,
			                "joining by peer ID needs --endpoint tcp://HOST:PORT");
		rc = send_join(a, issuer, a->join.endpoint, NULL, err, n);
	}
	if (rc)
		return rc;
	a->join.pending = control_defer(a->ctl);
	if (!a->join.pending)
		return -ENOMEM;
	memcpy(a->join.issuer, issuer, PROTO_KEY_LEN);
	loop_timer_start(a->loop, &a->join.timeout, AGENT_REPLY_WAIT_MS);
	log_info("asked to join through %s", a->join.endpoint);
	return CONTROL_DEFERRED;
}

/* Stores the records of the reply and adopts founder. Returns how many
 * records were new, or a negative code. */
static int adopt(struct agent *a, const uint8_t founder[PROTO_KEY_LEN], struct proto_recref *recs,
                 size_t n)
{
	struct store_item *items = calloc(n ? n : 1, sizeof(*items));
	int stored = 0, rc;

	if (!items)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		items[i] = (struct store_item){.buf = recs[i].buf, .len = recs[i].len};
	rc = store_records_put(a->store, items, n, loop_wall_s());
	if (!rc)
		rc = store_founder_set(a->store, founder);
	if (rc) {
		free(items);
		return rc;
	}
	trust_set_founder(a->trust, founder);
	for (size_t i = 0; i < n; i++) {
		struct proto_record rec;
		if (items[i].err || items[i].result == STORE_PUT_STALE ||
		    proto_record_decode(&rec, items[i].buf, items[i].len) != 0)
			continue;
		trust_on_record(a->trust, &rec);
		stored++;
	}
	free(items);
	return stored;
}

void agent_on_join_reply(struct agent *a, const struct net_from *from, const uint8_t *buf,
                         size_t len)
{
	struct proto_join_reply reply;
	struct proto_recref *recs = calloc(PROTO_MSG_RECORDS_MAX, sizeof(*recs));
	char founder[PROTO_PEERID_TEXT_LEN + 1], msg[400];
	struct mp_buf data = {0};
	struct mp_map m;
	msgpack_packer pk;
	size_t n = 0;
	int rc;

	if (!recs) {
		join_finish(a, -ENOMEM, NULL, NULL);
		return;
	}
	rc = proto_join_reply_decode(&reply, recs, PROTO_MSG_RECORDS_MAX, &n, buf, len);
	if (rc) {
		net_penalize(a->net, from, proto_strerror(rc));
		snprintf(msg, sizeof(msg), "the issuer sent an unreadable answer: %s",
		         proto_strerror(rc));
		join_finish(a, rc, msg, NULL);
	} else if (reply.status != PROTO_JOIN_OK) {
		snprintf(msg, sizeof(msg), "the issuer refused: %s",
		         reply.reason[0] ? reply.reason : "no reason given");
		join_finish(a, KITH_ENOGRANT, msg, NULL);
	} else if ((rc = adopt(a, reply.founder, recs, n)) < 0) {
		snprintf(msg, sizeof(msg), "cannot store the network's records: %s",
		         proto_strerror(rc));
		join_finish(a, rc, msg, NULL);
	} else if (!trust_is_member(a->trust, a->id->pk)) {
		join_finish(a, KITH_ENOGRANT, "the issuer's answer does not make us a member",
		            NULL);
	} else {
		proto_peerid_format(founder, reply.founder);
		log_info("joined the network of %.7s: %zu members", founder, trust_count(a->trust));
		agent_refresh_member(a);
		gossip_sync_with(a->gossip, from->peer);
		mp_buf_packer(&data, &pk);
		mp_map_begin(&m);
		mp_map_str(&m, CTL_REPLY_FOUNDER, founder);
		mp_map_uint(&m, CTL_REPLY_MEMBERS, trust_count(a->trust));
		mp_map_end(&m, &pk);
		join_finish(a, 0, NULL, &data);
		mp_buf_free(&data);
	}
	free(recs);
}

/* ---- JOIN (the issuer's side) ---- */

/* What a JOIN_REPLY carries: every admission, grant, revocation and member
 * record we hold, as long as they fit in one message. They are read by
 * author and kind (ranges of the records database), so the cost of a JOIN
 * does not grow with the observations and services the store holds. */
struct gather {
	struct store *store;
	struct mp_buf *bufs;
	struct proto_recref *recs;
	size_t n, bytes, max_bytes;
};

static int gather_one(void *arg, const uint8_t *buf, size_t len)
{
	struct gather *g = arg;

	if (g->n == PROTO_MSG_RECORDS_MAX || g->bytes + len + 16 > g->max_bytes)
		return 0; /* the rest comes by gossip */
	/* buf is valid during the walk only: keep a copy. */
	g->bufs[g->n] = (struct mp_buf){0};
	g->bufs[g->n].data = malloc(len);
	if (!g->bufs[g->n].data)
		return -ENOMEM;
	memcpy(g->bufs[g->n].data, buf, len);
	g->bufs[g->n].len = g->bufs[g->n].cap = len;
	g->recs[g->n] = (struct proto_recref){g->bufs[g->n].data, len};
	g->n++;
	g->bytes += len + 16;
	return 0;
}

static int gather_author(void *arg, const uint8_t author[PROTO_KEY_LEN], uint64_t records,
                         uint64_t bytes)
{
	static const uint8_t kinds[] = {PROTO_KIND_MEMBER, PROTO_KIND_ADMISSION, PROTO_KIND_GRANT,
	                                PROTO_KIND_REVOCATION};
	struct gather *g = arg;
	int rc = 0;

	(void)records;
	(void)bytes;
	for (size_t i = 0; i < sizeof(kinds) && !rc; i++)
		rc = store_records_of_kind(g->store, author, kinds[i], gather_one, g);
	return rc;
}

static void send_join_reply(struct agent *a, const struct net_from *to,
                            enum proto_join_status status, const char *reason)
{
	struct proto_join_reply reply = {.status = status};
	struct gather g = {0};
	struct mp_buf out = {0};
	int rc = 0;

	snprintf(reply.reason, sizeof(reply.reason), "%s", reason);
	if (status == PROTO_JOIN_OK) {
		memcpy(reply.founder, trust_founder(a->trust), PROTO_KEY_LEN);
		g.bufs = calloc(PROTO_MSG_RECORDS_MAX, sizeof(*g.bufs));
		g.recs = calloc(PROTO_MSG_RECORDS_MAX, sizeof(*g.recs));
		g.max_bytes = a->conf.max_message - 4096;
		g.store = a->store;
		rc = g.bufs && g.recs ? store_authors_each(a->store, gather_author, &g) : -ENOMEM;
	}
	if (!rc)
		rc = proto_join_reply_encode(&out, &reply, g.recs, g.n);
	if (!rc)
		rc = net_reply(a->net, to, out.data, out.len);
	if (rc)
		log_tally(LOG_LEVEL_WARN, "could not answer", 1, "join request",
		          "(the joiner left?)", proto_strerror(rc));
	for (size_t i = 0; i < g.n; i++)
		mp_buf_free(&g.bufs[i]);
	free(g.bufs);
	free(g.recs);
	mp_buf_free(&out);
}

static void refuse(struct agent *a, const struct net_from *from, enum proto_join_status status,
                   const char *reason)
{
	a->refused_joins++;
	net_log_refused(from, "join request", reason);
	send_join_reply(a, from, status, reason);
}

/* Checks the invitation and takes one use of it. Returns NULL when the
 * joiner may come in, else the reason to give it. */
static const char *spend_invitation(struct agent *a, const struct proto_join *j,
                                    const uint8_t joiner[PROTO_KEY_LEN], struct store_invite *inv)
{
	uint8_t proof[PROTO_JOIN_PROOF_LEN];
	int rc = store_invite_get(a->store, j->invite_id, inv);

	if (rc == -ENOENT)
		return "unknown invitation";
	if (rc)
		return "the issuer cannot read its invitations";
	proto_join_proof(proof, inv->secret, joiner, a->id->pk);
	if (sodium_memcmp(proof, j->proof, sizeof(proof)) != 0)
		return "forged invitation: the proof does not match";
	if (!agent_may_admit(a))
		return "the issuer may no longer admit members";
	rc = store_invite_use(a->store, j->invite_id, loop_wall_s(), inv);
	if (rc == KITH_EEXPIRED)
		return "this invitation has expired";
	if (rc == KITH_EUSED)
		return "this invitation has already been used";
	if (rc)
		return "the issuer cannot update its invitations";
	return NULL;
}

/* Publishes the grant an invitation offered. */
static int grant_offered(struct agent *a, const uint8_t subject[PROTO_KEY_LEN],
                         const struct store_invite *inv)
{
	struct proto_grant *g = calloc(1, sizeof(*g));
	struct mp_buf body = {0};
	uint8_t rnd[8];
	char id[20];
	int rc = 0;

	if (!g)
		return -ENOMEM;
	memcpy(g->subject, subject, PROTO_KEY_LEN);
	for (uint32_t i = 0; i < inv->n_scopes && !rc; i++)
		rc = proto_scope_parse(&g->scopes[g->n_scopes++], inv->scopes[i],
		                       strlen(inv->scopes[i]), NULL);
	if (!rc)
		rc = proto_grant_encode(&body, g);
	if (!rc) {
		randombytes_buf(rnd, sizeof(rnd));
		memcpy(id, "g-", 2);
		sodium_bin2hex(id + 2, sizeof(id) - 2, rnd, sizeof(rnd));
		rc = agent_publish(a, PROTO_KIND_GRANT, id, body.data, body.len, AGENT_GRANT_TTL);
	}
	mp_buf_free(&body);
	free(g);
	return rc;
}

/* Decides on a join request. Returns NULL when the joiner is in (its
 * admission published when it came with an invitation), else the reason
 * to refuse it; *status says which refusal. */
static const char *decide(struct agent *a, const struct net_from *from, const struct proto_join *j,
                          const struct proto_record *rec, const struct proto_member *m,
                          enum proto_join_status *status)
{
	const struct trust_member *known;
	struct store_invite inv;
	uint8_t curve[PROTO_KEY_LEN];
	const char *why;
	int rc;

	*status = PROTO_JOIN_REFUSED;
	/* The record must be the guest's own: its key gives the guest's
	 * CURVE key, which ZAP authenticated. */
	if (proto_curve_pk(curve, rec->author) != 0 ||
	    memcmp(from->guest ? curve : rec->author, from->peer, PROTO_KEY_LEN) != 0)
		return "the member record is not the sender's own";
	known = trust_get(a->trust, rec->author);
	if (known && known->ejected)
		return "this key was ejected from the network";
	if (!j->has_invite)
		return trust_is_member(a->trust, rec->author)
		           ? NULL
		           : "not admitted: a member must first run kith admit with this "
		             "peer ID, or send an invitation";
	why = spend_invitation(a, j, rec->author, &inv);
	sodium_memzero(inv.secret, sizeof(inv.secret));
	if (why)
		return why;
	rc = agent_admit(a, rec->author, m->n_endpoints ? m->endpoints[0] : "");
	if (!rc && inv.n_scopes)
		rc = grant_offered(a, rec->author, &inv);
	if (rc) {
		log_warnx("cannot admit a joiner: %s", proto_strerror(rc));
		*status = PROTO_JOIN_ERROR;
		return "the issuer could not publish the admission";
	}
	return NULL;
}

void agent_on_join(struct agent *a, const struct net_from *from, const uint8_t *buf, size_t len)
{
	enum proto_join_status status = PROTO_JOIN_REFUSED;
	struct proto_join j;
	struct proto_record rec;
	struct proto_member m;
	char who[PROTO_PEERID_SHORT_LEN + 1];
	const char *why;
	int rc = proto_join_decode(&j, buf, len);

	if (rc) {
		net_penalize(a->net, from, proto_strerror(rc));
		return;
	}
	rc = proto_record_open(&rec, j.member_record, j.member_record_len, loop_wall_s());
	if (rc || rec.kind != PROTO_KIND_MEMBER ||
	    proto_member_decode(&m, rec.body, rec.body_len) != 0) {
		refuse(a, from, PROTO_JOIN_REFUSED, "invalid member record");
		return;
	}
	why = decide(a, from, &j, &rec, &m, &status);
	if (why) {
		refuse(a, from, status, why);
		return;
	}
	/* The joiner's own record travels with the others. */
	if (store_record_put(a->store, j.member_record, j.member_record_len, loop_wall_s(), NULL) ==
	    0)
		trust_on_record(a->trust, &rec);
	proto_peerid_short(who, rec.author);
	log_info("%s (%s) joined%s", who, m.name, j.has_invite ? " by invitation" : " by ID");
	send_join_reply(a, from, PROTO_JOIN_OK, "");
}
