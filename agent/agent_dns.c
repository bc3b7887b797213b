/* The commands of failover DNS: the credential of a dns:ZONE grant opened
 * with our key (kith dns check, and agent_failover.c when it acts),
 * proved against the DNS server (kith dns test), and the history of the
 * changes made (kith dns history). */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "proto/body.h"
#include "proto/error.h"
#include "proto/identity.h"
#include "proto/peerid.h"
#include "proto/record.h"
#include "store/store.h"
#include "agent_int.h"
#include "agent/core/control.h"
#include "agent/core/log.h"
#include "agent/dns/dns_job.h"
#include "dns/cred.h"

/* A kith dns test under way. */
struct dns_work {
	struct agent *a;
	struct dns_job *job;
	struct control_pending *pending;
	char zone[PROTO_ZONE_MAX + 1];
	struct dns_cred cred;
	struct dns_work *next;
};

struct agent_dns {
	struct dns_work *works;
};

/* ---- the credential ---- */

/* Opens the credential in grant record (issuer, id): the subject's copy,
 * or the issuer's own (issuer_copy). */
static int open_grant_credential(struct agent *a, const uint8_t issuer[PROTO_KEY_LEN],
                                 const char *id, bool issuer_copy, struct dns_cred *cred, char *err,
                                 size_t n)
{
	struct proto_record rec;
	struct proto_grant *body = NULL;
	uint8_t *buf = NULL, *secret = NULL;
	const uint8_t *sealed = NULL;
	size_t len = 0, sealed_len = 0;
	char why[DNS_WHY_MAX];
	int rc = store_record_get(a->store, issuer, PROTO_KIND_GRANT, id, &buf, &len);

	body = malloc(sizeof(*body));
	if (!rc && !body)
		rc = -ENOMEM;
	if (!rc)
		rc = proto_record_decode(&rec, buf, len);
	if (!rc)
		rc = proto_grant_decode(body, rec.body, rec.body_len);
	if (!rc) {
		sealed = issuer_copy ? body->issuer_sealed : body->sealed;
		sealed_len = issuer_copy ? body->issuer_sealed_len : body->sealed_len;
	}
	if (!rc && (sealed_len <= crypto_box_SEALBYTES || !(secret = sodium_malloc(sealed_len)) ||
	            crypto_box_seal_open(secret, sealed, sealed_len, a->id->curve_pk,
	                                 a->id->curve_sk) != 0))
		rc = KITH_EVALUE;
	if (rc)
		ctl_fail(err, n, rc,
		         issuer_copy ? "grant %s holds no copy of the credential for this agent "
		                       "(one given by an older kith does not: give it again)"
		                     : "grant %s: its credential cannot be opened by this agent",
		         id);
	else if ((rc = dns_cred_parse(cred, (const char *)secret, sealed_len - crypto_box_SEALBYTES,
	                              why, sizeof(why))))
		ctl_fail(err, n, rc, "the grant's credential is not usable: %s", why);
	if (secret)
		sodium_free(secret);
	if (body)
		sodium_memzero(body, sizeof(*body));
	free(body);
	free(buf);
	return rc;
}

/* Our own copy of a credential we gave with a dns:zone grant in force. */
struct own_credential {
	struct agent *a;
	const char *zone;
	struct dns_cred *cred;
	const struct trust_grant *found;
	char *err;
	size_t n;
};

static void try_own_grant(void *arg, const struct trust_grant *g)
{
	struct own_credential *o = arg;
	struct proto_scope want = {.type = PROTO_SCOPE_DNS};
	const struct trust_grant *valid;
	const struct proto_scope *scope;

	if (o->found || memcmp(g->issuer, o->a->id->pk, PROTO_KEY_LEN))
		return;
	snprintf(want.zone, sizeof(want.zone), "%s", o->zone);
	if (trust_grant_check(o->a->trust, g->issuer, g->subject, &want, loop_wall_s(), &valid,
	                      &scope) != 0 ||
	    valid != g)
		return;
	if (open_grant_credential(o->a, g->issuer, g->id, true, o->cred, o->err, o->n) == 0)
		o->found = g;
}

int agent_dns_credential(struct agent *a, const uint8_t issuer[PROTO_KEY_LEN], const char *zone,
                         struct dns_cred *cred, const struct trust_grant **g, char *err, size_t n)
{
	struct proto_scope want = {.type = PROTO_SCOPE_DNS};
	const struct proto_scope *scope;
	int rc;

	if (!memcmp(issuer, a->id->pk, PROTO_KEY_LEN)) {
		struct own_credential o = {a, zone, cred, NULL, err, n};
		ctl_fail(err, n, KITH_ENOGRANT, "this agent gave no dns:%s grant in force", zone);
		trust_grants_each(a->trust, try_own_grant, &o);
		*g = o.found;
		return o.found ? 0 : KITH_ENOGRANT;
	}
	snprintf(want.zone, sizeof(want.zone), "%s", zone);
	rc = trust_grant_check(a->trust, issuer, a->id->pk, &want, loop_wall_s(), g, &scope);
	if (rc)
		return ctl_fail(err, n, rc, "refused: %s", trust_refusal(rc, "dns"));
	return open_grant_credential(a, issuer, (*g)->id, false, cred, err, n);
}

bool agent_dns_owner_can_act(struct agent *a, const char *zone)
{
	const struct trust_grant *g;
	struct dns_cred cred;
	char err[300];
	bool ok = agent_dns_credential(a, a->id->pk, zone, &cred, &g, err, sizeof(err)) == 0;

	if (ok)
		dns_cred_wipe(&cred);
	return ok;
}

/* The canonical form of the zone argument. */
static int zone_arg(const struct ctl_request *req, char zone[PROTO_ZONE_MAX + 1], char *err,
                    size_t n)
{
	char text[PROTO_ZONE_MAX + 8];
	const char *why;

	if (ctl_arg_text(req, CTL_KEY_ZONE, text, sizeof(text)) != 0)
		return ctl_fail(err, n, KITH_EMISSING, "give the zone");
	if (proto_dns_name_parse(zone, text, strlen(text), &why) != 0)
		return ctl_fail(err, n, KITH_ESCOPE, "%s", why);
	return 0;
}

static void server_text(const struct dns_cred *c, char *out, size_t n)
{
	char host[INET6_ADDRSTRLEN] = "?";
	const struct sockaddr_in *v4 = (const struct sockaddr_in *)&c->server;
	const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)&c->server;

	if (c->provider != DNS_PROVIDER_RFC2136) {
		snprintf(out, n, "%s", c->url);
		return;
	}
	if (c->server.ss_family == AF_INET)
		inet_ntop(AF_INET, &v4->sin_addr, host, sizeof(host));
	else
		inet_ntop(AF_INET6, &v6->sin6_addr, host, sizeof(host));
	snprintf(out, n, c->server.ss_family == AF_INET ? "%s:%u" : "[%s]:%u", host,
	         ntohs(c->server.ss_family == AF_INET ? v4->sin_port : v6->sin6_port));
}

/* ---- kith dns check ---- */

int agent_ctl_dns_check(void *arg, const struct ctl_request *req, msgpack_packer *pk, char *err,
                        size_t n)
{
	struct agent *a = arg;
	const struct trust_grant *g;
	struct dns_cred cred;
	uint8_t issuer[PROTO_KEY_LEN];
	char zone[PROTO_ZONE_MAX + 1], server[DNS_CRED_URL_MAX + 1];
	struct mp_map m;
	int rc = ctl_arg_peer(req, CTL_KEY_PEER, issuer, err, n);

	if (!rc)
		rc = zone_arg(req, zone, err, n);
	if (!rc)
		rc = agent_dns_credential(a, issuer, zone, &cred, &g, err, n);
	if (rc)
		return rc;
	server_text(&cred, server, sizeof(server));
	mp_map_begin(&m);
	mp_map_str(&m, CTL_REPLY_ZONE, zone);
	mp_map_str(&m, CTL_REPLY_GRANT, g->id);
	mp_map_uint(&m, CTL_REPLY_EXPIRES, g->expires);
	mp_map_str(&m, CTL_REPLY_PROVIDER, dns_provider_name(cred.provider));
	mp_map_str(&m, CTL_REPLY_SERVER, server);
	mp_map_end(&m, pk);
	dns_cred_wipe(&cred);
	return 0;
}

/* ---- jobs ---- */

static void work_free(struct agent *a, struct dns_work *w)
{
	struct agent_dns *d = a->dns;

	for (struct dns_work **p = &d->works; *p; p = &(*p)->next)
		if (*p == w) {
			*p = w->next;
			break;
		}
	dns_job_free(&w->job);
	dns_cred_wipe(&w->cred);
	free(w);
}

static struct dns_work *work_new(struct agent *a)
{
	struct dns_work *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->a = a;
	w->next = a->dns->works;
	a->dns->works = w;
	return w;
}

/* ---- kith dns test ---- */

static void test_done(void *arg, struct dns_job *job, const struct dns_job_result *r)
{
	struct dns_work *w = arg;
	struct mp_buf data = {0};
	msgpack_packer pk;
	struct mp_map m;

	(void)job;
	if (r->rc) {
		control_finish(w->a->ctl, w->pending, r->rc, r->why, NULL);
	} else {
		mp_buf_packer(&data, &pk);
		mp_map_begin(&m);
		mp_map_str(&m, CTL_REPLY_ZONE, w->zone);
		mp_map_end(&m, &pk);
		control_finish(w->a->ctl, w->pending, 0, "", &data);
		mp_buf_free(&data);
	}
	work_free(w->a, w);
}

int agent_ctl_dns_test(void *arg, const struct ctl_request *req, msgpack_packer *pk, char *err,
                       size_t n)
{
	struct agent *a = arg;
	struct dns_job_env env = {a->loop, a->web, a->conf.refuse_private != 0};
	const struct trust_grant *g;
	struct dns_work *w;
	uint8_t issuer[PROTO_KEY_LEN];
	char zone[PROTO_ZONE_MAX + 1];
	int rc = ctl_arg_peer(req, CTL_KEY_PEER, issuer, err, n);

	(void)pk;
	if (!rc)
		rc = zone_arg(req, zone, err, n);
	if (rc)
		return rc;
	w = work_new(a);
	if (!w)
		return ctl_fail(err, n, -ENOMEM, "out of memory");
	snprintf(w->zone, sizeof(w->zone), "%s", zone);
	rc = agent_dns_credential(a, issuer, zone, &w->cred, &g, err, n);
	if (!rc && (rc = dns_job_test(&w->job, &env, &w->cred, zone, test_done, w)))
		ctl_fail(err, n, rc, "cannot start the test: %s", proto_strerror(rc));
	if (!rc && !(w->pending = control_defer(a->ctl)))
		rc = ctl_fail(err, n, -ENOMEM, "out of memory");
	if (rc) {
		work_free(a, w);
		return rc;
	}
	return CONTROL_DEFERRED;
}

/* ---- kith dns history ---- */

struct history {
	struct agent *a;
	msgpack_packer *pk;
	uint32_t count;
	bool packing;
};

void agent_pack_ips(msgpack_packer *pk, const struct proto_ip *list, uint32_t n)
{
	char text[INET6_ADDRSTRLEN];

	msgpack_pack_array(pk, n);
	for (uint32_t i = 0; i < n; i++) {
		if (!inet_ntop(list[i].len == 4 ? AF_INET : AF_INET6, list[i].addr, text,
		               sizeof(text)))
			text[0] = '\0';
		mp_pack_cstr(pk, text);
	}
}

static int history_one(void *arg, const uint8_t *buf, size_t len)
{
	struct history *h = arg;
	struct proto_dns_change c;
	struct proto_record rec;
	char author[PROTO_PEERID_TEXT_LEN + 1], owner[PROTO_PEERID_TEXT_LEN + 1];
	struct mp_map m;

	if (proto_record_decode(&rec, buf, len) != 0 || rec.kind != PROTO_KIND_DNS_CHANGE ||
	    proto_dns_change_decode(&c, rec.body, rec.body_len) != 0)
		return 0;
	if (!h->packing) {
		h->count++;
		return 0;
	}
	proto_peerid_format(author, rec.author);
	proto_peerid_format(owner, c.owner);
	mp_map_begin(&m);
	mp_map_uint(&m, CTL_REPLY_TIME, rec.issued);
	mp_map_str(&m, CTL_REPLY_BY, author);
	mp_map_str(&m, CTL_REPLY_OWNER, owner);
	mp_map_str(&m, CTL_REPLY_SERVICE, c.service);
	mp_map_str(&m, CTL_REPLY_DNS_NAME, c.name);
	mp_map_str(&m, CTL_REPLY_ZONE, c.zone);
	mp_map_str(&m, CTL_REPLY_TYPE, c.rtype == PROTO_DNS_TYPE_A ? "A" : "AAAA");
	agent_pack_ips(mp_map_key(&m, CTL_REPLY_FROM), c.from, c.n_from);
	agent_pack_ips(mp_map_key(&m, CTL_REPLY_TO), c.to, c.n_to);
	mp_map_str(&m, CTL_REPLY_VERDICT, c.verdict == PROTO_STATUS_DOWN ? "down" : "up");
	mp_map_str(&m, CTL_REPLY_RESULT, c.result == PROTO_DNS_CHANGED ? "changed" : "failed");
	mp_map_str(&m, CTL_REPLY_WHY, c.why);
	mp_map_end(&m, h->pk);
	return 0;
}

int agent_ctl_dns_history(void *arg, const struct ctl_request *req, msgpack_packer *pk, char *err,
                          size_t n)
{
	struct history h = {.a = arg, .pk = pk};

	(void)req;
	(void)err;
	(void)n;
	store_records_each(h.a->store, history_one, &h);
	msgpack_pack_array(pk, h.count);
	h.packing = true;
	store_records_each(h.a->store, history_one, &h);
	return 0;
}

int agent_dns_new(struct agent *a)
{
	a->dns = calloc(1, sizeof(*a->dns));
	return a->dns ? agent_failover_new(a) : -ENOMEM;
}

void agent_dns_free(struct agent *a)
{
	agent_failover_free(a);
	if (!a->dns)
		return;
	while (a->dns->works)
		work_free(a, a->dns->works);
	free(a->dns);
	a->dns = NULL;
}
