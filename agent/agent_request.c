/* Requests between members: a member asks another to act for it (keep a
 * shard, show its services), under a grant the receiver gave it. The
 * receiver checks the grant at that moment; kith makes such requests on
 * the admin's behalf and waits for the answer. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/error.h"
#include "proto/identity.h"
#include "proto/ops.h"
#include "proto/peerid.h"
#include "proto/record.h"
#include "proto/units.h"
#include "proto/wire.h"
#include "store/store.h"
#include "agent_int.h"
#include "agent/core/log.h"

/* ---- serving requests ---- */

void agent_respond(struct agent *a, const struct net_from *to, uint32_t id,
                   enum proto_response_status status, const char *reason,
                   const struct mp_buf *result)
{
	struct proto_response r = {.id = id, .status = status};
	struct mp_buf out = {0};
	int rc;

	snprintf(r.reason, sizeof(r.reason), "%s", reason ? reason : "");
	if (result) {
		r.result = result->data;
		r.result_len = result->len;
	}
	rc = proto_response_encode(&out, &r);
	if (!rc)
		rc = net_reply(a->net, to, out.data, out.len);
	if (rc)
		log_debug("cannot answer request %u: %s", id, proto_strerror(rc));
	mp_buf_free(&out);
}

/* Checks that we granted from the scope of type; refuses and logs when
 * not. Returns the scope on success. */
static const struct proto_scope *granted(struct agent *a, const struct net_from *from,
                                         const struct proto_request *req,
                                         enum proto_scope_type type, const char *name)
{
	struct proto_scope want = {.type = type};
	const struct trust_grant *g;
	const struct proto_scope *scope;
	int rc =
	    trust_grant_check(a->trust, a->id->pk, from->peer, &want, loop_wall_s(), &g, &scope);

	if (rc == 0)
		return scope;
	agent_refuse_request(a, from, req, rc, name);
	return NULL;
}

void agent_refuse_request(struct agent *a, const struct net_from *from,
                          const struct proto_request *req, int rc, const char *scope_name)
{
	char why[PROTO_OP_MAX + 160];

	a->refused_requests++;
	snprintf(why, sizeof(why), "%s: %s", req->op, trust_refusal(rc, scope_name));
	net_log_refused(from, "request", why);
	agent_respond(a, from, req->id, PROTO_RESPONSE_REFUSED, trust_refusal(rc, scope_name),
	              NULL);
}

void agent_respond_usage(struct agent *a, const struct net_from *from, uint32_t id, uint64_t used,
                         uint64_t quota)
{
	struct proto_usage u = {used, quota};
	struct mp_buf out = {0};

	if (proto_usage_encode(&out, &u) == 0)
		agent_respond(a, from, id, PROTO_RESPONSE_OK, NULL, &out);
	else
		agent_respond(a, from, id, PROTO_RESPONSE_ERROR, "cannot encode the result", NULL);
	mp_buf_free(&out);
}

static void serve_shard(struct agent *a, const struct net_from *from,
                        const struct proto_request *req)
{
	const struct proto_scope *scope = granted(a, from, req, PROTO_SCOPE_BACKUP, "backup");
	struct proto_shard s, back = {0};
	struct mp_buf out = {0};
	char have[32], quota[32], msg[128];
	uint8_t *data = NULL;
	size_t len = 0;
	uint64_t used = 0, count = 0;
	int rc;

	if (!scope)
		return;
	if (proto_shard_decode(&s, req->args, req->args_len) != 0) {
		agent_respond(a, from, req->id, PROTO_RESPONSE_INVALID, "malformed shard arguments",
		              NULL);
		return;
	}
	if (!strcmp(req->op, PROTO_OP_SHARD_PUT)) {
		rc = s.has_data
		         ? store_shard_put(a->store, from->peer, s.name, s.data, s.len,
		                           scope->quota, proto_scope_backup_count(scope), &used)
		         : KITH_EMISSING;
	} else if (!strcmp(req->op, PROTO_OP_SHARD_DEL)) {
		rc = store_shard_del(a->store, from->peer, s.name, &used);
	} else {
		rc = store_shard_get(a->store, from->peer, s.name, &data, &len);
		if (!rc) {
			snprintf(back.name, sizeof(back.name), "%s", s.name);
			back.data = data;
			back.len = len;
			back.has_data = true;
			rc = proto_shard_encode(&out, &back);
		}
		if (!rc)
			agent_respond(a, from, req->id, PROTO_RESPONSE_OK, NULL, &out);
	}
	if (rc == KITH_ETOOMANY) {
		snprintf(msg, sizeof(msg), "over your backup grant's %llu shards",
		         (unsigned long long)proto_scope_backup_count(scope));
		agent_respond(a, from, req->id, PROTO_RESPONSE_QUOTA, msg, NULL);
	} else if (rc == KITH_EQUOTA) {
		store_shard_usage(a->store, from->peer, &used, &count);
		proto_size_format(used ? used : 1, have, sizeof(have));
		proto_size_format(scope->quota, quota, sizeof(quota));
		snprintf(msg, sizeof(msg), "over your backup quota of %s (%s used)", quota,
		         used ? have : "0");
		agent_respond(a, from, req->id, PROTO_RESPONSE_QUOTA, msg, NULL);
	} else if (rc == -ENOENT) {
		agent_respond(a, from, req->id, PROTO_RESPONSE_NOT_FOUND, "no shard by that name",
		              NULL);
	} else if (rc) {
		agent_respond(a, from, req->id, PROTO_RESPONSE_ERROR, proto_strerror(rc), NULL);
	} else if (strcmp(req->op, PROTO_OP_SHARD_GET)) {
		agent_respond_usage(a, from, req->id, used, scope->quota);
	}
	mp_buf_free(&out);
	free(data);
}

struct service_walk {
	struct agent *a;
	struct proto_service_entry *entries;
	size_t n;
};

static int collect_service(void *arg, const uint8_t *buf, size_t len)
{
	struct service_walk *w = arg;
	struct proto_record rec;

	if (w->n == PROTO_SERVICES_MAX || proto_record_decode(&rec, buf, len) != 0 ||
	    rec.kind != PROTO_KIND_SERVICE || rec.body_len == 0 ||
	    !proto_service_name_ok(rec.name, strlen(rec.name)))
		return 0;
	/* Our own records hold the details sealed: we are one reader. */
	if (agent_service_open(w->a, rec.body, rec.body_len, &w->entries[w->n].spec) == 0) {
		/* proto_service_name_ok() bounded the length. */
		memcpy(w->entries[w->n].name, rec.name, strlen(rec.name) + 1);
		w->n++;
	}
	return 0;
}

static void serve_services(struct agent *a, const struct net_from *from,
                           const struct proto_request *req)
{
	struct service_walk w = {.a = a};
	struct mp_buf out = {0};
	int rc;

	if (!granted(a, from, req, PROTO_SCOPE_MONITOR, "monitor"))
		return;
	w.entries = calloc(PROTO_SERVICES_MAX, sizeof(*w.entries));
	rc = w.entries ? store_records_since(a->store, a->id->pk, 0, collect_service, &w) : -ENOMEM;
	if (!rc)
		rc = proto_services_encode(&out, w.entries, w.n);
	if (rc)
		agent_respond(a, from, req->id, PROTO_RESPONSE_ERROR, proto_strerror(rc), NULL);
	else
		agent_respond(a, from, req->id, PROTO_RESPONSE_OK, NULL, &out);
	mp_buf_free(&out);
	free(w.entries);
}

void agent_on_request(struct agent *a, const struct net_from *from, const uint8_t *buf, size_t len)
{
	struct proto_request req;
	int rc = proto_request_decode(&req, buf, len);

	if (rc) {
		net_penalize(a->net, from, proto_strerror(rc));
		return;
	}
	if (!strcmp(req.op, PROTO_OP_SHARD_PUT) || !strcmp(req.op, PROTO_OP_SHARD_GET) ||
	    !strcmp(req.op, PROTO_OP_SHARD_DEL))
		serve_shard(a, from, &req);
	else if (!strcmp(req.op, PROTO_OP_SERVICES_GET))
		serve_services(a, from, &req);
	else if (agent_hold_serves(req.op))
		agent_hold_serve(a, from, &req);
	else
		agent_respond(a, from, req.id, PROTO_RESPONSE_UNKNOWN, "unknown request", NULL);
}

void agent_request_busy(struct agent *a, const struct net_from *from, const uint8_t *buf,
                        size_t len)
{
	struct proto_request req;

	if (proto_request_decode(&req, buf, len) == 0)
		agent_respond(a, from, req.id, PROTO_RESPONSE_BUSY, "busy: try again in a moment",
		              NULL);
}

/* ---- making requests for kith ---- */

static void call_finish(struct agent *a, struct agent_call *c, int rc, const char *err,
                        const struct mp_buf *data)
{
	struct agent_call **at = &a->calls;

	while (*at && *at != c)
		at = &(*at)->next;
	if (*at) {
		*at = c->next;
		a->n_calls--;
	}
	control_finish(a->ctl, c->pending, rc, err, data);
	free(c);
}

static void calls_tick(struct loop *l, void *arg)
{
	struct agent *a = arg;
	uint64_t now = loop_now_ms(l);
	char err[200], who[PROTO_PEERID_SHORT_LEN + 1];

	for (struct agent_call *c = a->calls, *next; c; c = next) {
		next = c->next;
		if (c->deadline_ms > now)
			continue;
		proto_peerid_short(who, c->peer);
		snprintf(err, sizeof(err), "no answer from %s within %d s: is its kithd running?",
		         who, AGENT_REPLY_WAIT_MS / 1000);
		call_finish(a, c, -ETIMEDOUT, err, NULL);
	}
	if (a->calls)
		loop_timer_start(l, &a->calls_timer, 1000);
}

void agent_init_calls(struct agent *a)
{
	loop_timer_init(&a->calls_timer, calls_tick, a);
}

void agent_calls_cancel(struct agent *a)
{
	while (a->calls)
		call_finish(a, a->calls, -ECANCELED, "kithd is stopping", NULL);
}

int agent_call_peer(struct agent *a, const uint8_t peer[PROTO_KEY_LEN], const char *op,
                    const struct mp_buf *args,
                    int (*done)(struct agent *, const struct proto_response *, struct mp_buf *,
                                char *, size_t),
                    char *err, size_t n)
{
	struct agent_call *c;
	struct proto_request req = {0};
	struct mp_buf out = {0};
	int rc;

	if (!trust_is_member(a->trust, peer))
		return ctl_fail(err, n, KITH_EVALUE, "that peer is not a member");
	if (a->n_calls >= AGENT_CALLS_MAX)
		return ctl_fail(err, n, -EBUSY, "%d requests to members in flight already",
		                AGENT_CALLS_MAX);
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->id = ++a->next_call_id;
	memcpy(c->peer, peer, PROTO_KEY_LEN);
	snprintf(c->op, sizeof(c->op), "%s", op);
	c->done = done;
	c->deadline_ms = loop_now_ms(a->loop) + AGENT_REPLY_WAIT_MS;
	req.id = c->id;
	snprintf(req.op, sizeof(req.op), "%s", op);
	req.args = args ? args->data : NULL;
	req.args_len = args ? args->len : 0;
	rc = proto_request_encode(&out, &req);
	if (!rc)
		rc = agent_send(a, peer, out.data, out.len);
	mp_buf_free(&out);
	if (!rc && !(c->pending = control_defer(a->ctl)))
		rc = -ENOMEM;
	if (rc) {
		free(c);
		return ctl_fail(err, n, rc, "cannot send the request: %s", proto_strerror(rc));
	}
	c->next = a->calls;
	a->calls = c;
	a->n_calls++;
	if (!loop_timer_active(&a->calls_timer))
		loop_timer_start(a->loop, &a->calls_timer, 1000);
	return CONTROL_DEFERRED;
}

void agent_on_response(struct agent *a, const struct net_from *from, const uint8_t *buf, size_t len)
{
	struct proto_response r;
	struct agent_call *c;
	struct mp_buf data = {0};
	char err[400] = "", who[PROTO_PEERID_SHORT_LEN + 1];
	int rc = proto_response_decode(&r, buf, len);

	if (rc) {
		net_penalize(a->net, from, proto_strerror(rc));
		return;
	}
	for (c = a->calls; c; c = c->next)
		if (c->id == r.id && !memcmp(c->peer, from->peer, PROTO_KEY_LEN))
			break;
	if (!c)
		return; /* late, after the deadline */
	proto_peerid_short(who, from->peer);
	if (r.status != PROTO_RESPONSE_OK) {
		snprintf(err, sizeof(err), "%s refused: %s", who,
		         r.reason[0] ? r.reason : "no reason given");
		rc = r.status == PROTO_RESPONSE_NOT_FOUND ? -ENOENT
		     : r.status == PROTO_RESPONSE_QUOTA   ? KITH_EQUOTA
		     : r.status == PROTO_RESPONSE_BUSY    ? -EAGAIN
		     : r.status == PROTO_RESPONSE_REFUSED ? KITH_ENOGRANT
		                                          : KITH_EVALUE;
	} else {
		rc = c->done(a, &r, &data, err, sizeof(err));
	}
	call_finish(a, c, rc, err, &data);
	mp_buf_free(&data);
}

/* ---- renderers ---- */

static int done_usage(struct agent *a, const struct proto_response *r, struct mp_buf *data,
                      char *err, size_t n)
{
	struct proto_usage u;
	struct mp_map m;
	msgpack_packer pk;

	(void)a;
	if (proto_usage_decode(&u, r->result, r->result_len) != 0)
		return ctl_fail(err, n, KITH_EMALFORMED, "unreadable answer");
	mp_buf_packer(data, &pk);
	mp_map_begin(&m);
	mp_map_uint(&m, CTL_REPLY_USED, u.used);
	mp_map_uint(&m, CTL_REPLY_QUOTA, u.quota);
	mp_map_end(&m, &pk);
	return 0;
}

static int done_shard(struct agent *a, const struct proto_response *r, struct mp_buf *data,
                      char *err, size_t n)
{
	struct proto_shard s;
	struct mp_map m;
	msgpack_packer pk;

	(void)a;
	if (proto_shard_decode(&s, r->result, r->result_len) != 0 || !s.has_data)
		return ctl_fail(err, n, KITH_EMALFORMED, "unreadable answer");
	mp_buf_packer(data, &pk);
	mp_map_begin(&m);
	mp_map_str(&m, CTL_REPLY_NAME, s.name);
	mp_map_bin(&m, CTL_REPLY_SHARD_DATA, s.data, s.len);
	mp_map_end(&m, &pk);
	return 0;
}

static int done_services(struct agent *a, const struct proto_response *r, struct mp_buf *data,
                         char *err, size_t n)
{
	struct proto_service_entry *e = calloc(PROTO_SERVICES_MAX, sizeof(*e));
	struct mp_map m;
	msgpack_packer pk;
	size_t count = 0;

	(void)a;
	if (!e)
		return -ENOMEM;
	if (proto_services_decode(e, PROTO_SERVICES_MAX, &count, r->result, r->result_len) != 0) {
		free(e);
		return ctl_fail(err, n, KITH_EMALFORMED, "unreadable answer");
	}
	mp_buf_packer(data, &pk);
	msgpack_pack_array(&pk, (uint32_t)count);
	for (size_t i = 0; i < count; i++) {
		mp_map_begin(&m);
		mp_map_str(&m, CTL_REPLY_NAME, e[i].name);
		mp_map_str(&m, CTL_REPLY_URL, e[i].spec.url);
		mp_map_uint(&m, CTL_REPLY_INTERVAL_S, e[i].spec.interval_s);
		mp_map_uint(&m, CTL_REPLY_TIMEOUT_S, e[i].spec.timeout_s);
		mp_map_end(&m, &pk);
	}
	free(e);
	return 0;
}

int agent_ctl_shard(void *arg, const struct ctl_request *req, msgpack_packer *pk, char *err,
                    size_t n)
{
	struct agent *a = arg;
	struct proto_shard s = {0};
	struct mp_buf args = {0};
	uint8_t peer[PROTO_KEY_LEN];
	char action[8];
	const char *op;
	bool get = false;
	int rc = ctl_arg_peer(req, CTL_KEY_PEER, peer, err, n);

	(void)pk;
	if (rc)
		return rc;
	if (ctl_arg_text(req, CTL_KEY_ACTION, action, sizeof(action)) != 0)
		return ctl_fail(err, n, KITH_EMISSING, "say put, get or rm");
	if (ctl_arg_text(req, CTL_KEY_NAME, s.name, sizeof(s.name)) != 0 || !s.name[0])
		return ctl_fail(err, n, KITH_EVALUE, "give a shard name of 1 to %d bytes",
		                PROTO_SHARD_NAME_MAX);
	if (!strcmp(action, CTL_SHARD_PUT)) {
		const struct ctl_arg *data = ctl_arg_bin(req, CTL_KEY_DATA);
		op = PROTO_OP_SHARD_PUT;
		if (data) {
			s.data = data->bin;
			s.len = data->len;
			s.has_data = true;
		}
		if (!s.has_data)
			return ctl_fail(err, n, KITH_EMISSING, "put needs the shard's data");
		if (s.len > PROTO_SHARD_MAX)
			return ctl_fail(err, n, KITH_ETOOBIG, "a shard holds at most %d bytes",
			                PROTO_SHARD_MAX);
	} else if (!strcmp(action, CTL_SHARD_GET)) {
		op = PROTO_OP_SHARD_GET;
		get = true;
	} else if (!strcmp(action, CTL_SHARD_RM)) {
		op = PROTO_OP_SHARD_DEL;
	} else {
		return ctl_fail(err, n, KITH_EVALUE, "unknown action '%s' (put, get or rm)",
		                action);
	}
	rc = proto_shard_encode(&args, &s);
	if (rc)
		rc = ctl_fail(err, n, rc, "bad shard: %s", proto_strerror(rc));
	else
		rc = agent_call_peer(a, peer, op, &args, get ? done_shard : done_usage, err, n);
	mp_buf_free(&args);
	return rc;
}

int agent_ctl_services(void *arg, const struct ctl_request *req, msgpack_packer *pk, char *err,
                       size_t n)
{
	struct agent *a = arg;
	uint8_t peer[PROTO_KEY_LEN];
	int rc = ctl_arg_peer(req, CTL_KEY_PEER, peer, err, n);

	(void)pk;
	if (rc)
		return rc;
	return agent_call_peer(a, peer, PROTO_OP_SERVICES_GET, NULL, done_services, err, n);
}

/* kith shard drop: frees the shards a peer keeps with us (after its
 * backup grant was revoked, say). Local: nothing is asked of the peer. */
int agent_ctl_shard_drop(void *arg, const struct ctl_request *req, msgpack_packer *pk, char *err,
                         size_t n)
{
	struct agent *a = arg;
	uint8_t peer[PROTO_KEY_LEN];
	char who[PROTO_PEERID_SHORT_LEN + 1];
	uint64_t freed = 0;
	struct mp_map m;
	int rc = ctl_arg_peer(req, CTL_KEY_PEER, peer, err, n);

	if (rc)
		return rc;
	rc = store_shards_drop(a->store, peer, &freed);
	if (rc)
		return ctl_fail(err, n, rc, "cannot drop the shards: %s", proto_strerror(rc));
	proto_peerid_short(who, peer);
	log_info("dropped %llu bytes of shards kept for %s", (unsigned long long)freed, who);
	mp_map_begin(&m);
	mp_map_uint(&m, CTL_REPLY_FREED, freed);
	mp_map_end(&m, pk);
	return 0;
}
