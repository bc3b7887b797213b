/* Scoped access: kith grant, kith grants, kith revoke, and the checks the
 * agent makes before acting for a peer. */
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
#include "proto/units.h"
#include "store/store.h"
#include "agent_int.h"
#include "dns/cred.h"
#include "dns/reply.h"
#include "agent/core/log.h"

/* ---- kith grant ---- */

/* Parses "monitor,dns:example.org" into g's scopes. */
static int parse_scopes(struct proto_grant *g, const char *text, char *err, size_t n)
{
	const char *why = NULL;
	int rc = proto_scope_list_parse(text, g->scopes, PROTO_SCOPES_MAX, &g->n_scopes, &why);

	if (rc == KITH_ETOOBIG)
		return ctl_fail(err, n, rc, "more than %d scopes", PROTO_SCOPES_MAX);
	if (rc)
		return ctl_fail(err, n, rc, "%s", why);
	if (g->n_scopes == 0)
		return ctl_fail(err, n, KITH_EMISSING, "give at least one scope");
	return 0;
}

static bool has_scope(const struct proto_grant *g, enum proto_scope_type type)
{
	for (uint32_t i = 0; i < g->n_scopes; i++)
		if (g->scopes[i].type == type)
			return true;
	return false;
}

/* Seals the credential in the request to the subject's CURVE key, and to
 * ours: this agent points the name back itself (agent_failover.c), and
 * the copy in the network outlives the loss of our server. */
static int seal_secret(struct agent *a, struct proto_grant *g, const struct ctl_request *req,
                       char *err, size_t n)
{
	const struct ctl_arg *secret = ctl_arg_bin(req, CTL_KEY_SECRET);
	uint8_t curve[PROTO_KEY_LEN];

	if (!secret || secret->len == 0)
		return has_scope(g, PROTO_SCOPE_DNS)
		           ? ctl_fail(err, n, KITH_EMISSING,
		                      "a dns scope needs the zone's update credential "
		                      "(--secret-file)")
		           : 0;
	if (!has_scope(g, PROTO_SCOPE_DNS))
		return ctl_fail(err, n, KITH_EVALUE, "--secret-file goes with a dns scope only");
	{
		/* The grantee cannot read it back to us: a mistake is caught now. */
		struct dns_cred cred;
		char why[DNS_WHY_MAX];
		int rc =
		    dns_cred_parse(&cred, (const char *)secret->bin, secret->len, why, sizeof(why));
		dns_cred_wipe(&cred);
		if (rc)
			return ctl_fail(err, n, rc, "the credential (--secret-file): %s", why);
	}
	if (secret->len + crypto_box_SEALBYTES > PROTO_SEALED_MAX)
		return ctl_fail(err, n, KITH_ETOOBIG, "the credential is larger than %d bytes",
		                PROTO_SEALED_MAX - crypto_box_SEALBYTES);
	if (proto_curve_pk(curve, g->subject) != 0 ||
	    crypto_box_seal(g->sealed, secret->bin, secret->len, curve) != 0)
		return ctl_fail(err, n, KITH_EVALUE, "cannot seal the credential to that peer");
	g->sealed_len = secret->len + crypto_box_SEALBYTES;
	if (crypto_box_seal(g->issuer_sealed, secret->bin, secret->len, a->id->curve_pk) != 0)
		return ctl_fail(err, n, KITH_EVALUE, "cannot seal the credential to this agent");
	g->issuer_sealed_len = g->sealed_len;
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
	struct mp_map m;
	uint64_t ttl_ms = (uint64_t)AGENT_GRANT_TTL * 1000;
	uint8_t rnd[8];
	int rc;

	if (!g)
		return -ENOMEM;
	rc = ctl_arg_peer(req, CTL_KEY_PEER, g->subject, err, n);
	if (!rc && !trust_is_member(a->trust, g->subject))
		rc = ctl_fail(err, n, KITH_EVALUE,
		              "that peer is not a member of the network (see kith members)");
	if (!rc && !memcmp(g->subject, a->id->pk, PROTO_KEY_LEN))
		rc = ctl_fail(err, n, KITH_EVALUE, "a grant to this agent itself means nothing");
	if (!rc && (rc = ctl_arg_text(req, CTL_KEY_SCOPES, scopes, sizeof(scopes))) != 0)
		rc =
		    rc == KITH_ETOOBIG
		        ? ctl_fail(err, n, rc, "more than %d scopes, or too long", PROTO_SCOPES_MAX)
		        : ctl_fail(err, n, KITH_EMISSING, "give at least one scope");
	if (!rc)
		rc = parse_scopes(g, scopes, err, n);
	if (!rc && ctl_arg_text(req, CTL_KEY_EXPIRES, expires, sizeof(expires)) == 0 &&
	    (proto_duration_parse(expires, strlen(expires), &ttl_ms, &why) != 0 || ttl_ms < 1000))
		rc = ctl_fail(err, n, KITH_EVALUE, "--expires: %s", why ? why : "too short");
	if (!rc && has_scope(g, PROTO_SCOPE_ADMIT) && !agent_may_admit(a))
		rc = ctl_fail(err, n, KITH_ENOGRANT,
		              "only the founder or a member holding admit may grant admit");
	if (!rc)
		rc = seal_secret(a, g, req, err, n);
	if (!rc)
		rc = proto_grant_encode(&body, g);
	if (!rc) {
		randombytes_buf(rnd, sizeof(rnd));
		memcpy(id, "g-", 2);
		sodium_bin2hex(id + 2, sizeof(id) - 2, rnd, sizeof(rnd));
		rc = agent_publish(a, PROTO_KIND_GRANT, id, body.data, body.len, ttl_ms / 1000);
		if (rc)
			ctl_fail(err, n, rc, "cannot publish the grant: %s", proto_strerror(rc));
	}
	if (!rc) {
		proto_peerid_format(subject, g->subject);
		log_info("granted %s to %.7s as %s", scopes, subject, id);
		mp_map_begin(&m);
		mp_map_str(&m, CTL_REPLY_ID, id);
		mp_map_str(&m, CTL_REPLY_SUBJECT, subject);
		mp_map_uint(&m, CTL_REPLY_EXPIRES, loop_wall_s() + ttl_ms / 1000);
		mp_map_end(&m, pk);
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
	msgpack_packer *scopes;
	struct mp_map m;

	if (!listed(gl, g))
		return;
	if (!gl->packing) {
		gl->count++;
		return;
	}
	proto_peerid_format(issuer, g->issuer);
	proto_peerid_format(subject, g->subject);
	mp_map_begin(&m);
	mp_map_str(&m, CTL_REPLY_ID, g->id);
	mp_map_str(&m, CTL_REPLY_ISSUER, issuer);
	mp_map_str(&m, CTL_REPLY_SUBJECT, subject);
	mp_map_str(&m, CTL_REPLY_DIRECTION,
	           !memcmp(g->issuer, gl->a->id->pk, PROTO_KEY_LEN)    ? "issued"
	           : !memcmp(g->subject, gl->a->id->pk, PROTO_KEY_LEN) ? "received"
	                                                               : "other");
	scopes = mp_map_key(&m, CTL_REPLY_SCOPES);
	msgpack_pack_array(scopes, g->n_scopes);
	for (uint32_t i = 0; i < g->n_scopes; i++) {
		if (proto_scope_format(&g->scopes[i], scope, sizeof(scope)) != 0)
			snprintf(scope, sizeof(scope), "?");
		mp_pack_cstr(scopes, scope);
	}
	mp_map_uint(&m, CTL_REPLY_ISSUED, g->issued);
	mp_map_uint(&m, CTL_REPLY_EXPIRES, g->expires);
	mp_map_uint(&m, CTL_REPLY_REVOKED, g->revoked_at);
	mp_map_str(&m, CTL_REPLY_STATE, grant_state(gl->a, g, loop_wall_s()));
	mp_map_end(&m, gl->pk);
}

int agent_ctl_grants(void *arg, const struct ctl_request *req, msgpack_packer *pk, char *err,
                     size_t n)
{
	struct grant_list gl = {.a = arg, .pk = pk, .all = ctl_arg_flag(req, CTL_KEY_ALL)};

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
	struct mp_map reply;
	int rc;

	if (!agent_may_admit(a))
		return ctl_fail(err, n, KITH_ENOGRANT,
		                "only the founder or a member holding admit may eject members");
	if (!memcmp(peer, trust_founder(a->trust), PROTO_KEY_LEN))
		return ctl_fail(err, n, KITH_EVALUE, "the founder cannot be ejected");
	if (!memcmp(peer, a->id->pk, PROTO_KEY_LEN))
		return ctl_fail(err, n, KITH_EVALUE, "an agent cannot eject itself");
	if (!m || (!m->member && !m->ejected))
		return ctl_fail(err, n, KITH_EVALUE, "that peer is not a member");
	memcpy(r.member, peer, PROTO_KEY_LEN);
	snprintf(r.reason, sizeof(r.reason), "%s", reason);
	memcpy(name, "member:", 7);
	sodium_bin2hex(name + 7, sizeof(name) - 7, peer, PROTO_KEY_LEN);
	rc = publish_revocation(a, &r, name);
	if (rc)
		return ctl_fail(err, n, rc, "cannot publish the revocation: %s",
		                proto_strerror(rc));
	proto_peerid_format(id, peer);
	log_info("ejected %.7s from the network", id);
	mp_map_begin(&reply);
	mp_map_str(&reply, CTL_REPLY_EJECTED, id);
	mp_map_end(&reply, pk);
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
	    strcmp(grant_state(rc->a, g, loop_wall_s()), "active"))
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
	struct mp_map reply;
	msgpack_packer *revoked;
	bool is_peer;
	int rc;

	if (ctl_arg_text(req, CTL_KEY_TARGET, target, sizeof(target)) != 0)
		return ctl_fail(err, n, KITH_EMISSING, "give a peer ID or a grant ID");
	if (ctl_arg_text(req, CTL_KEY_REASON, reason, sizeof(reason)) == KITH_ETOOBIG)
		return ctl_fail(err, n, KITH_ETOOBIG, "reason longer than %d bytes",
		                PROTO_REASON_MAX);
	is_peer = proto_peerid_parse(peer, target, NULL, 0) == 0;
	if (ctl_arg_flag(req, CTL_KEY_MEMBER)) {
		if (!is_peer)
			return ctl_fail(err, n, KITH_EVALUE, "--member needs a peer ID");
		return revoke_member(a, peer, reason, pk, err, n);
	}
	ctx.reason = reason;
	if (is_peer)
		ctx.subject = peer;
	else
		ctx.id = target;
	trust_grants_each(a->trust, collect, &ctx);
	if (ctx.n == 0)
		return ctl_fail(err, n, -ENOENT,
		                is_peer ? "this agent has no active grant to that peer"
		                        : "this agent issued no active grant with that ID "
		                          "(a peer ID with a typo?)");
	/* Publishing changes the trust state the pointers live in: copy the
	 * IDs first. */
	for (size_t i = 0; i < ctx.n; i++)
		snprintf(ids[i], sizeof(ids[i]), "%s", ctx.found[i]->id);
	mp_map_begin(&reply);
	revoked = mp_map_key(&reply, CTL_REPLY_REVOKED);
	msgpack_pack_array(revoked, (uint32_t)ctx.n);
	for (size_t i = 0; i < ctx.n; i++) {
		const struct trust_grant *g = trust_grant_get(a->trust, a->id->pk, ids[i]);
		rc = g ? revoke_grant(a, g, reason) : -ENOENT;
		if (rc) {
			mp_map_free(&reply);
			return ctl_fail(err, n, rc, "cannot revoke %s: %s", ids[i],
			                proto_strerror(rc));
		}
		log_info("revoked grant %s", ids[i]);
		mp_pack_cstr(revoked, ids[i]);
	}
	mp_map_end(&reply, pk);
	return 0;
}
