/* Scoped access: kith grant, kith grants, kith revoke, and the checks the
 * agent makes before acting for a peer. */
#include <errno.h>
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
#include "proto/units.h"
#include "store/store.h"
#include "agent_int.h"
#include "agent/core/log.h"

static uint64_t now_s(void)
{
	return (uint64_t)time(NULL);
}

/* ---- refusals ---- */

/* The last refusal logged for a peer. */
void agent_log_refusal(const struct net_from *from, const char *unit, const char *why)
{
	char who[NET_ADDR_MAX + 24];

	/* Guests' keys are free: their lines go by address. */
	if (from->guest) {
		snprintf(who, sizeof(who), "to a guest at %s", from->addr[0] ? from->addr : "?");
	} else {
		memcpy(who, "to ", 3);
		proto_peerid_short(who + 3, from->peer);
	}
	log_tally(LOG_LEVEL_WARN, "refused", 1, unit, who, why);
}

const char *agent_grant_refusal(int code, const char *scope_name)
{
	static char text[128];

	switch (code) {
	case KITH_EREVOKED:
		snprintf(text, sizeof(text), "your %s grant from this agent was revoked",
		         scope_name);
		break;
	case KITH_EEXPIRED:
		snprintf(text, sizeof(text), "your %s grant from this agent has expired",
		         scope_name);
		break;
	default:
		snprintf(text, sizeof(text), "no %s grant from this agent", scope_name);
	}
	return text;
}

/* ---- kith grant ---- */

/* Parses "monitor,dns:example.org" into g's scopes. */
static int parse_scopes(struct proto_grant *g, const char *text, char *err, size_t n)
{
	const char *why = NULL;
	int rc = proto_scope_list_parse(text, g->scopes, PROTO_SCOPES_MAX, &g->n_scopes, &why);

	if (rc == KITH_ETOOBIG)
		return agent_fail(err, n, rc, "more than %d scopes", PROTO_SCOPES_MAX);
	if (rc)
		return agent_fail(err, n, rc, "%s", why);
	if (g->n_scopes == 0)
		return agent_fail(err, n, KITH_EMISSING, "give at least one scope");
	return 0;
}

static bool has_scope(const struct proto_grant *g, enum proto_scope_type type)
{
	for (uint32_t i = 0; i < g->n_scopes; i++)
		if (g->scopes[i].type == type)
			return true;
	return false;
}

/* Seals the credential in the request to the subject's CURVE key. */
static int seal_secret(struct proto_grant *g, const struct ctl_request *req, char *err, size_t n)
{
	const struct ctl_arg *secret = NULL;
	uint8_t curve[PROTO_KEY_LEN];

	for (size_t i = 0; i < req->n_args; i++)
		if (!strcmp(req->args[i].key, "secret") && req->args[i].type == CTL_ARG_BIN)
			secret = &req->args[i];
	if (!secret || secret->len == 0)
		return has_scope(g, PROTO_SCOPE_DNS)
		           ? agent_fail(err, n, KITH_EMISSING,
		                        "a dns scope needs the zone's update credential "
		                        "(--secret-file)")
		           : 0;
	if (!has_scope(g, PROTO_SCOPE_DNS))
		return agent_fail(err, n, KITH_EVALUE, "--secret-file goes with a dns scope only");
	if (secret->len + crypto_box_SEALBYTES > PROTO_SEALED_MAX)
		return agent_fail(err, n, KITH_ETOOBIG, "the credential is larger than %d bytes",
		                  PROTO_SEALED_MAX - crypto_box_SEALBYTES);
	if (proto_curve_pk(curve, g->subject) != 0 ||
	    crypto_box_seal(g->sealed, secret->bin, secret->len, curve) != 0)
		return agent_fail(err, n, KITH_EVALUE, "cannot seal the credential to that peer");
	g->sealed_len = secret->len + crypto_box_SEALBYTES;
	return 0;
}

int agent_ctl_grant(void *arg, const struct ctl_request *req, msgpack_packer *pk, char *err,
                    size_t n)
{
	struct agent *a = arg;
	struct proto_grant *g = calloc(1, sizeof(*g));
	struct mp_buf body = {0};
	char scopes[PROTO_SCOPES_MAX * (PROTO_SCOPE_MAX + 1)] = "", id[20];
	char subject[PROTO_PEERID_TEXT_LEN + 1], expires[32];
	const char *why = NULL;
	uint64_t ttl_ms = (uint64_t)AGENT_GRANT_TTL * 1000;
	uint8_t rnd[8];
	int rc;

	if (!g)
		return -ENOMEM;
	rc = agent_arg_peer(req, "peer", g->subject, err, n);
	if (!rc && !trust_is_member(a->trust, g->subject))
		rc = agent_fail(err, n, KITH_EVALUE,
		                "that peer is not a member of the network (see kith members)");
	if (!rc && !memcmp(g->subject, a->id->pk, PROTO_KEY_LEN))
		rc = agent_fail(err, n, KITH_EVALUE, "a grant to this agent itself means nothing");
	if (!rc && (rc = ctl_arg_text(req, "scopes", scopes, sizeof(scopes))) != 0)
		rc = rc == KITH_ETOOBIG
		         ? agent_fail(err, n, rc, "more than %d scopes, or too long",
		                      PROTO_SCOPES_MAX)
		         : agent_fail(err, n, KITH_EMISSING, "give at least one scope");
	if (!rc)
		rc = parse_scopes(g, scopes, err, n);
	if (!rc && ctl_arg_text(req, "expires", expires, sizeof(expires)) == 0 &&
	    (proto_duration_parse(expires, strlen(expires), &ttl_ms, &why) != 0 || ttl_ms < 1000))
		rc = agent_fail(err, n, KITH_EVALUE, "--expires: %s", why ? why : "too short");
	if (!rc && has_scope(g, PROTO_SCOPE_ADMIT) && !agent_may_admit(a))
		rc = agent_fail(err, n, KITH_ENOGRANT,
		                "only the founder or a member holding admit may grant admit");
	if (!rc)
		rc = seal_secret(g, req, err, n);
	if (!rc)
		rc = proto_grant_encode(&body, g);
	if (!rc) {
		randombytes_buf(rnd, sizeof(rnd));
		memcpy(id, "g-", 2);
		sodium_bin2hex(id + 2, sizeof(id) - 2, rnd, sizeof(rnd));
		rc = agent_publish(a, PROTO_KIND_GRANT, id, body.data, body.len, ttl_ms / 1000);
		if (rc)
			agent_fail(err, n, rc, "cannot publish the grant: %s", proto_strerror(rc));
	}
	if (!rc) {
		proto_peerid_format(subject, g->subject);
		log_info("granted %s to %.7s as %s", scopes, subject, id);
		msgpack_pack_map(pk, 3);
		mp_pack_cstr(pk, "id");
		mp_pack_cstr(pk, id);
		mp_pack_cstr(pk, "subject");
		mp_pack_cstr(pk, subject);
		mp_pack_cstr(pk, "expires");
		msgpack_pack_uint64(pk, now_s() + ttl_ms / 1000);
	}
	mp_buf_free(&body);
	sodium_memzero(g, sizeof(*g));
	free(g);
	return rc;
}

/* ---- kith grants ---- */

static const char *grant_state(struct agent *a, const struct trust_grant *g, uint64_t now)
{
	const struct trust_member *issuer = trust_get(a->trust, g->issuer);
	const struct trust_member *subject = trust_get(a->trust, g->subject);

	/* A grant to or from an ejected member is void with it. */
	if (g->revoked_at || (issuer && issuer->ejected) || (subject && subject->ejected))
		return "revoked";
	if (now > g->expires || now < g->not_before)
		return "expired";
	return "active";
}

struct grant_list {
	struct agent *a;
	msgpack_packer *pk;
	bool all;
	uint32_t count;
	bool packing;
};

static bool listed(const struct grant_list *gl, const struct trust_grant *g)
{
	const uint8_t *self = gl->a->id->pk;

	return gl->all || !memcmp(g->issuer, self, PROTO_KEY_LEN) ||
	       !memcmp(g->subject, self, PROTO_KEY_LEN);
}

static void pack_grant(void *arg, const struct trust_grant *g)
{
	struct grant_list *gl = arg;
	char issuer[PROTO_PEERID_TEXT_LEN + 1], subject[PROTO_PEERID_TEXT_LEN + 1];
	char scope[PROTO_SCOPE_MAX + 1];
	msgpack_packer *pk = gl->pk;

	if (!listed(gl, g))
		return;
	if (!gl->packing) {
		gl->count++;
		return;
	}
	proto_peerid_format(issuer, g->issuer);
	proto_peerid_format(subject, g->subject);
	msgpack_pack_map(pk, 9);
	mp_pack_cstr(pk, "id");
	mp_pack_cstr(pk, g->id);
	mp_pack_cstr(pk, "issuer");
	mp_pack_cstr(pk, issuer);
	mp_pack_cstr(pk, "subject");
	mp_pack_cstr(pk, subject);
	mp_pack_cstr(pk, "direction");
	mp_pack_cstr(pk, !memcmp(g->issuer, gl->a->id->pk, PROTO_KEY_LEN)    ? "issued"
	                 : !memcmp(g->subject, gl->a->id->pk, PROTO_KEY_LEN) ? "received"
	                                                                     : "other");
	mp_pack_cstr(pk, "scopes");
	msgpack_pack_array(pk, g->n_scopes);
	for (uint32_t i = 0; i < g->n_scopes; i++) {
		if (proto_scope_format(&g->scopes[i], scope, sizeof(scope)) != 0)
			snprintf(scope, sizeof(scope), "?");
		mp_pack_cstr(pk, scope);
	}
	mp_pack_cstr(pk, "issued");
	msgpack_pack_uint64(pk, g->issued);
	mp_pack_cstr(pk, "expires");
	msgpack_pack_uint64(pk, g->expires);
	mp_pack_cstr(pk, "revoked");
	msgpack_pack_uint64(pk, g->revoked_at);
	mp_pack_cstr(pk, "state");
	mp_pack_cstr(pk, grant_state(gl->a, g, now_s()));
}

int agent_ctl_grants(void *arg, const struct ctl_request *req, msgpack_packer *pk, char *err,
                     size_t n)
{
	struct grant_list gl = {.a = arg, .pk = pk, .all = ctl_arg_flag(req, "all")};

	(void)err;
	(void)n;
	trust_grants_each(gl.a->trust, pack_grant, &gl);
	msgpack_pack_array(pk, gl.count);
	gl.packing = true;
	trust_grants_each(gl.a->trust, pack_grant, &gl);
	return 0;
}

/* ---- kith revoke ---- */

static int publish_revocation(struct agent *a, const struct proto_revocation *r, const char *name)
{
	struct mp_buf body = {0};
	int rc = proto_revocation_encode(&body, r);

	/* Revocations spread with priority: pushed to every live member. */
	if (!rc)
		rc = agent_publish_urgent(a, PROTO_KIND_REVOCATION, name, body.data, body.len,
		                          AGENT_ADMISSION_TTL);
	mp_buf_free(&body);
	return rc;
}

static int revoke_grant(struct agent *a, const struct trust_grant *g, const char *reason)
{
	struct proto_revocation r = {.target = PROTO_REVOKE_GRANT};
	char name[PROTO_NAME_MAX + 1];

	snprintf(r.grant_id, sizeof(r.grant_id), "%s", g->id);
	snprintf(r.reason, sizeof(r.reason), "%s", reason);
	snprintf(name, sizeof(name), "grant:%s", g->id);
	return publish_revocation(a, &r, name);
}

static int revoke_member(struct agent *a, const uint8_t peer[PROTO_KEY_LEN], const char *reason,
                         msgpack_packer *pk, char *err, size_t n)
{
	struct proto_revocation r = {.target = PROTO_REVOKE_MEMBER};
	char name[PROTO_NAME_MAX + 1], id[PROTO_PEERID_TEXT_LEN + 1];
	const struct trust_member *m = trust_get(a->trust, peer);
	int rc;

	if (!agent_may_admit(a))
		return agent_fail(err, n, KITH_ENOGRANT,
		                  "only the founder or a member holding admit may eject members");
	if (!memcmp(peer, trust_founder(a->trust), PROTO_KEY_LEN))
		return agent_fail(err, n, KITH_EVALUE, "the founder cannot be ejected");
	if (!memcmp(peer, a->id->pk, PROTO_KEY_LEN))
		return agent_fail(err, n, KITH_EVALUE, "an agent cannot eject itself");
	if (!m || (!m->member && !m->ejected))
		return agent_fail(err, n, KITH_EVALUE, "that peer is not a member");
	memcpy(r.member, peer, PROTO_KEY_LEN);
	snprintf(r.reason, sizeof(r.reason), "%s", reason);
	memcpy(name, "member:", 7);
	sodium_bin2hex(name + 7, sizeof(name) - 7, peer, PROTO_KEY_LEN);
	rc = publish_revocation(a, &r, name);
	if (rc)
		return agent_fail(err, n, rc, "cannot publish the revocation: %s",
		                  proto_strerror(rc));
	proto_peerid_format(id, peer);
	log_info("ejected %.7s from the network", id);
	msgpack_pack_map(pk, 1);
	mp_pack_cstr(pk, "ejected");
	mp_pack_cstr(pk, id);
	return 0;
}

struct revoke_ctx {
	struct agent *a;
	const uint8_t *subject; /* all our active grants to it */
	const char *id;         /* or this grant of ours */
	const char *reason;
	const struct trust_grant *found[64];
	size_t n;
};

static void collect(void *arg, const struct trust_grant *g)
{
	struct revoke_ctx *rc = arg;

	/* Only what is in force: an expired grant stays shown as expired. */
	if (memcmp(g->issuer, rc->a->id->pk, PROTO_KEY_LEN) || g->revoked_at || rc->n == 64 ||
	    strcmp(grant_state(rc->a, g, now_s()), "active"))
		return;
	if (rc->subject ? !memcmp(g->subject, rc->subject, PROTO_KEY_LEN) : !strcmp(g->id, rc->id))
		rc->found[rc->n++] = g;
}

int agent_ctl_revoke(void *arg, const struct ctl_request *req, msgpack_packer *pk, char *err,
                     size_t n)
{
	struct agent *a = arg;
	struct revoke_ctx ctx = {.a = a};
	char target[128], reason[PROTO_REASON_MAX + 1] = "", ids[64][PROTO_GRANT_ID_MAX + 1];
	uint8_t peer[PROTO_KEY_LEN];
	bool is_peer;
	int rc;

	if (ctl_arg_text(req, "target", target, sizeof(target)) != 0)
		return agent_fail(err, n, KITH_EMISSING, "give a peer ID or a grant ID");
	if (ctl_arg_text(req, "reason", reason, sizeof(reason)) == KITH_ETOOBIG)
		return agent_fail(err, n, KITH_ETOOBIG, "reason longer than %d bytes",
		                  PROTO_REASON_MAX);
	is_peer = proto_peerid_parse(peer, target, NULL, 0) == 0;
	if (ctl_arg_flag(req, "member")) {
		if (!is_peer)
			return agent_fail(err, n, KITH_EVALUE, "--member needs a peer ID");
		return revoke_member(a, peer, reason, pk, err, n);
	}
	ctx.reason = reason;
	if (is_peer)
		ctx.subject = peer;
	else
		ctx.id = target;
	trust_grants_each(a->trust, collect, &ctx);
	if (ctx.n == 0)
		return agent_fail(err, n, -ENOENT,
		                  is_peer ? "this agent has no active grant to that peer"
		                          : "this agent issued no active grant with that ID "
		                            "(a peer ID with a typo?)");
	/* Publishing changes the trust state the pointers live in: copy the
	 * IDs first. */
	for (size_t i = 0; i < ctx.n; i++)
		snprintf(ids[i], sizeof(ids[i]), "%s", ctx.found[i]->id);
	msgpack_pack_map(pk, 1);
	mp_pack_cstr(pk, "revoked");
	msgpack_pack_array(pk, (uint32_t)ctx.n);
	for (size_t i = 0; i < ctx.n; i++) {
		const struct trust_grant *g = trust_grant_get(a->trust, a->id->pk, ids[i]);
		rc = g ? revoke_grant(a, g, reason) : -ENOENT;
		if (rc)
			return agent_fail(err, n, rc, "cannot revoke %s: %s", ids[i],
			                  proto_strerror(rc));
		log_info("revoked grant %s", ids[i]);
		mp_pack_cstr(pk, ids[i]);
	}
	return 0;
}

/* ---- kith dns check: may this agent update a partner's zone? ---- */

int agent_ctl_dns_check(void *arg, const struct ctl_request *req, msgpack_packer *pk, char *err,
                        size_t n)
{
	struct agent *a = arg;
	struct proto_scope want = {.type = PROTO_SCOPE_DNS};
	const struct trust_grant *g;
	const struct proto_scope *scope;
	struct proto_record rec;
	struct proto_grant *body = NULL;
	uint8_t issuer[PROTO_KEY_LEN], *buf = NULL, *secret = NULL;
	char zone[PROTO_ZONE_MAX + 1];
	const char *why;
	size_t len = 0;
	int rc = agent_arg_peer(req, "peer", issuer, err, n);

	if (rc)
		return rc;
	if (ctl_arg_text(req, "zone", zone, sizeof(zone)) != 0)
		return agent_fail(err, n, KITH_EMISSING, "give the zone");
	/* The zone as a scope gets its canonical form (lower case, no dot). */
	{
		char text[PROTO_ZONE_MAX + 8];
		snprintf(text, sizeof(text), "dns:%s", zone);
		if (proto_scope_parse(&want, text, strlen(text), &why) != 0)
			return agent_fail(err, n, KITH_ESCOPE, "%s", why);
	}
	rc = trust_grant_check(a->trust, issuer, a->id->pk, &want, now_s(), &g, &scope);
	if (rc)
		return agent_fail(err, n, rc, "refused: %s", agent_grant_refusal(rc, "dns"));
	/* The credential must open with our key, or the grant is useless. */
	rc = store_record_get(a->store, issuer, PROTO_KIND_GRANT, g->id, &buf, &len);
	body = malloc(sizeof(*body));
	if (!rc && !body)
		rc = -ENOMEM;
	if (!rc)
		rc = proto_record_decode(&rec, buf, len);
	if (!rc)
		rc = proto_grant_decode(body, rec.body, rec.body_len);
	if (!rc && (body->sealed_len <= crypto_box_SEALBYTES ||
	            !(secret = sodium_malloc(body->sealed_len)) ||
	            crypto_box_seal_open(secret, body->sealed, body->sealed_len, a->id->curve_pk,
	                                 a->id->curve_sk) != 0))
		rc = KITH_EVALUE;
	if (rc)
		agent_fail(err, n, rc, "the grant's credential cannot be opened by this agent");
	else {
		msgpack_pack_map(pk, 4);
		mp_pack_cstr(pk, "zone");
		mp_pack_cstr(pk, want.zone);
		mp_pack_cstr(pk, "grant");
		mp_pack_cstr(pk, g->id);
		mp_pack_cstr(pk, "expires");
		msgpack_pack_uint64(pk, g->expires);
		mp_pack_cstr(pk, "credential_bytes");
		msgpack_pack_uint64(pk, body->sealed_len - crypto_box_SEALBYTES);
	}
	sodium_free(secret);
	if (body)
		sodium_memzero(body, sizeof(*body));
	free(body);
	free(buf);
	return rc;
}
