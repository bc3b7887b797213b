/* Failover DNS, wired: the credential of a dns:ZONE grant opened with our
 * key (kith dns check), proved against the DNS server (kith dns test), and
 * used when a verdict changes: a service with a DNS plan found down, its
 * standby up, has its name pointed at the standby by the one holder of
 * the zone's grant that every agent elects alike; found up again, back at
 * its primary. The records change by compare-and-swap (agent/dns/
 * dns_job.h), so two holders acting at once make one change, and a name a
 * human edited is left alone. */
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
#include "agent/monitor/alert.h"
#include "agent/monitor/election.h"
#include "agent/monitor/monitor.h"
#include "dns/cred.h"

/* A job in flight: a kith dns test, or one family of a failover. */
struct dns_work {
	struct agent *a;
	struct dns_job *job;
	struct control_pending *pending; /* kith dns test */
	/* A failover: the service, its plan, the way, the family under way. */
	uint8_t owner[PROTO_KEY_LEN];
	char service[PROTO_SERVICE_NAME_MAX + 1];
	struct proto_dns_plan plan;
	bool to_standby;
	int family;
	struct dns_cred cred;
	struct dns_work *next;
};

struct agent_dns {
	struct dns_work *works;
};

/* ---- the credential ---- */

/* Opens the credential of the dns:zone grant issuer gave us into *cred
 * (wipe it after use); *g gets the grant. Returns 0 or a ctl_fail() code
 * with one line in err. */
static int open_credential(struct agent *a, const uint8_t issuer[PROTO_KEY_LEN], const char *zone,
                           struct dns_cred *cred, const struct trust_grant **g, char *err, size_t n)
{
	struct proto_scope want = {.type = PROTO_SCOPE_DNS};
	const struct proto_scope *scope;
	struct proto_record rec;
	struct proto_grant *body = NULL;
	uint8_t *buf = NULL, *secret = NULL;
	char why[DNS_WHY_MAX];
	size_t len = 0;
	int rc;

	snprintf(want.zone, sizeof(want.zone), "%s", zone);
	rc = trust_grant_check(a->trust, issuer, a->id->pk, &want, loop_wall_s(), g, &scope);
	if (rc)
		return ctl_fail(err, n, rc, "refused: %s", trust_refusal(rc, "dns"));
	rc = store_record_get(a->store, issuer, PROTO_KIND_GRANT, (*g)->id, &buf, &len);
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
		ctl_fail(err, n, rc, "the grant's credential cannot be opened by this agent");
	else if ((rc = dns_cred_parse(cred, (const char *)secret,
	                              body->sealed_len - crypto_box_SEALBYTES, why, sizeof(why))))
		ctl_fail(err, n, rc, "the grant's credential is not usable: %s", why);
	if (secret)
		sodium_free(secret);
	if (body)
		sodium_memzero(body, sizeof(*body));
	free(body);
	free(buf);
	return rc;
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
		rc = open_credential(a, issuer, zone, &cred, &g, err, n);
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
		mp_map_str(&m, CTL_REPLY_ZONE, w->plan.zone);
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
	snprintf(w->plan.zone, sizeof(w->plan.zone), "%s", zone);
	rc = open_credential(a, issuer, zone, &w->cred, &g, err, n);
	if (!rc && w->cred.provider != DNS_PROVIDER_RFC2136)
		rc = ctl_fail(err, n, KITH_EVALUE,
		              "kith speaks only rfc2136 to DNS servers yet, not %s",
		              dns_provider_name(w->cred.provider));
	if (!rc && (rc = dns_job_test(&w->job, a->loop, &w->cred, zone, test_done, w)))
		ctl_fail(err, n, rc, "cannot start the test: %s", proto_strerror(rc));
	if (!rc && !(w->pending = control_defer(a->ctl)))
		rc = ctl_fail(err, n, -ENOMEM, "out of memory");
	if (rc) {
		work_free(a, w);
		return rc;
	}
	return CONTROL_DEFERRED;
}

/* ---- telling the owner ---- */

/* Tells the owner's contacts what a failover did or could not do: every
 * change, and every refusal (they alone can fix a credential, an ACL, a
 * standby). state: "standby", "primary", "failed" or "no failover". */
static void tell_owner(struct agent *a, const uint8_t owner[PROTO_KEY_LEN], const char *service,
                       const char *state, const char *subject, const char *text)
{
	char contacts[PROTO_CONTACTS_MAX][PROTO_CONTACT_MAX + 1], id[PROTO_PEERID_TEXT_LEN + 1];
	const struct trust_member *m = trust_get(a->trust, owner);
	struct alert_message msg = {.subject = subject,
	                            .text = text,
	                            .kind = "dns",
	                            .owner = id,
	                            .owner_name = m ? m->name : "",
	                            .service = service,
	                            .state = state,
	                            .previous = "",
	                            .since = loop_wall_s()};
	size_t n = agent_contacts(a, owner, contacts, PROTO_CONTACTS_MAX);

	proto_peerid_format(id, owner);
	for (size_t i = 0; i < n; i++)
		alert_send(a->alert, contacts[i], &msg,
		           memcmp(owner, a->id->pk, PROTO_KEY_LEN) != 0);
}

/* ---- the dns-change records ---- */

/* dns-change records are kept three months: the history of a year's
 * outages would be too many for the author's budget, and what is older
 * is in the logs. */
#define DNS_CHANGE_TTL (90 * 24 * 3600)

static uint32_t plan_ips(struct proto_ip *out, const struct proto_ip *list, uint32_t n, int family)
{
	uint32_t k = 0;

	for (uint32_t i = 0; i < n; i++)
		if (list[i].len == (family == AF_INET ? 4 : 16))
			out[k++] = list[i];
	return k;
}

/* Signs a dns-change record of what w did to its family (result
 * PROTO_DNS_CHANGED or PROTO_DNS_FAILED, why for a failure): the history
 * every member keeps (kith dns history). */
static void record_change(struct dns_work *w, uint32_t result, const char *why)
{
	struct proto_dns_change c = {0};
	const struct proto_dns_plan *p = &w->plan;
	char name[PROTO_NAME_MAX + 1], owner[17];
	struct mp_buf body = {0};
	int rc;

	memcpy(c.owner, w->owner, PROTO_KEY_LEN);
	snprintf(c.service, sizeof(c.service), "%s", w->service);
	snprintf(c.name, sizeof(c.name), "%s", p->name);
	snprintf(c.zone, sizeof(c.zone), "%s", p->zone);
	c.rtype = w->family == AF_INET ? PROTO_DNS_TYPE_A : PROTO_DNS_TYPE_AAAA;
	c.n_from = plan_ips(c.from, w->to_standby ? p->primary : p->standby,
	                    w->to_standby ? p->n_primary : p->n_standby, w->family);
	c.n_to = plan_ips(c.to, w->to_standby ? p->standby : p->primary,
	                  w->to_standby ? p->n_standby : p->n_primary, w->family);
	c.verdict = w->to_standby ? PROTO_STATUS_DOWN : PROTO_STATUS_UP;
	c.result = result;
	snprintf(c.why, sizeof(c.why), "%s", why);
	/* The owner by its first 8 bytes: the full key is in the body, and the
	 * name must stay within PROTO_NAME_MAX. */
	sodium_bin2hex(owner, sizeof(owner), w->owner, 8);
	snprintf(name, sizeof(name), "%s/%s/%" PRIu64 "/%s", owner, w->service, loop_wall_s(),
	         c.rtype == PROTO_DNS_TYPE_A ? "A" : "AAAA");
	rc = proto_dns_change_encode(&body, &c);
	if (!rc)
		rc = agent_publish(w->a, PROTO_KIND_DNS_CHANGE, name, body.data, body.len,
		                   DNS_CHANGE_TTL);
	if (rc)
		log_warnx("dns: cannot record the change of %s: %s", p->name, proto_strerror(rc));
	mp_buf_free(&body);
}

/* ---- kith dns history ---- */

struct history {
	struct agent *a;
	msgpack_packer *pk;
	uint32_t count;
	bool packing;
};

static void pack_ips(struct mp_map *m, const char *key, const struct proto_ip *list, uint32_t n)
{
	msgpack_packer *pk = mp_map_key(m, key);
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
	pack_ips(&m, CTL_REPLY_FROM, c.from, c.n_from);
	pack_ips(&m, CTL_REPLY_TO, c.to, c.n_to);
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

/* ---- failover ---- */

/* The plan's addresses of one family, for dns_job_swap(). */
static void addrs_of(struct dns_addrs *out, const struct proto_ip *list, uint32_t n, int family)
{
	size_t len = family == AF_INET ? 4 : 16;

	memset(out, 0, sizeof(*out));
	out->family = family;
	for (uint32_t i = 0; i < n; i++)
		if (list[i].len == len)
			memcpy(out->addr[out->n++], list[i].addr, len);
}

static void swap_done(void *arg, struct dns_job *job, const struct dns_job_result *r);

/* Starts the swap of w's family; false when the plan has none of it. */
static bool swap_start(struct dns_work *w)
{
	const struct proto_dns_plan *p = &w->plan;
	struct dns_addrs primary, standby;
	int rc;

	addrs_of(&primary, p->primary, p->n_primary, w->family);
	addrs_of(&standby, p->standby, p->n_standby, w->family);
	if (!primary.n)
		return false;
	rc = dns_job_swap(&w->job, w->a->loop, &w->cred, p->zone, p->name,
	                  w->to_standby ? &primary : &standby, w->to_standby ? &standby : &primary,
	                  p->ttl_s, swap_done, w);
	if (rc)
		log_warnx("dns: cannot start the change of %s: %s", p->name, proto_strerror(rc));
	return rc == 0;
}

/* The next family of w, or its end. */
static void swap_next(struct dns_work *w)
{
	while (w->family == AF_INET) {
		w->family = AF_INET6;
		if (swap_start(w))
			return;
	}
	work_free(w->a, w);
}

static void swap_done(void *arg, struct dns_job *job, const struct dns_job_result *r)
{
	struct dns_work *w = arg;
	const char *type = w->family == AF_INET ? "A" : "AAAA";
	const char *where = w->to_standby ? "standby" : "primary";
	char subject[PROTO_ZONE_MAX + 100], text[DNS_WHY_MAX + PROTO_ZONE_MAX + 200];

	dns_job_free(&job);
	w->job = NULL;
	if (r->rc) {
		log_warnx("dns: %s %s not pointed at its %s: %s", w->plan.name, type, where,
		          r->why);
		record_change(w, PROTO_DNS_FAILED, r->why);
		snprintf(subject, sizeof(subject), "[kith] %s could not be pointed at its %s",
		         w->plan.name, where);
		snprintf(text, sizeof(text),
		         "Service %s is %s; its partner's update of %s %s failed:\n%s\n",
		         w->service, w->to_standby ? "down" : "up again", w->plan.name, type,
		         r->why);
		tell_owner(w->a, w->owner, w->service, "failed", subject, text);
	} else if (r->changed) {
		log_info("dns: %s %s pointed at its %s (service %s)", w->plan.name, type, where,
		         w->service);
		record_change(w, PROTO_DNS_CHANGED, "");
		snprintf(subject, sizeof(subject), "[kith] %s now points at its %s", w->plan.name,
		         where);
		snprintf(text, sizeof(text),
		         "Service %s is %s: a partner pointed %s %s at its %s addresses.\n",
		         w->service, w->to_standby ? "down" : "up again", w->plan.name, type,
		         where);
		tell_owner(w->a, w->owner, w->service, where, subject, text);
	} else {
		log_info("dns: %s %s already at its %s", w->plan.name, type, where);
	}
	swap_next(w);
}

struct holders {
	struct agent *a;
	const uint8_t *owner;
	const char *zone;
	uint8_t (*keys)[PROTO_KEY_LEN];
	size_t n, cap;
};

static void add_holder(void *arg, const struct trust_grant *g)
{
	struct holders *h = arg;
	struct proto_scope want = {.type = PROTO_SCOPE_DNS};
	const struct trust_grant *valid;
	const struct proto_scope *scope;

	if (memcmp(g->issuer, h->owner, PROTO_KEY_LEN) || h->n == h->cap)
		return;
	snprintf(want.zone, sizeof(want.zone), "%s", h->zone);
	if (trust_grant_check(h->a->trust, g->issuer, g->subject, &want, loop_wall_s(), &valid,
	                      &scope) != 0)
		return;
	for (size_t i = 0; i < h->n; i++)
		if (!memcmp(h->keys[i], g->subject, PROTO_KEY_LEN))
			return;
	memcpy(h->keys[h->n++], g->subject, PROTO_KEY_LEN);
}

/* Are we the live holder of owner's dns:zone that every agent elects for
 * this service? */
static bool elected(struct agent *a, const uint8_t owner[PROTO_KEY_LEN], const char *service,
                    const char *zone)
{
	uint8_t keys[PROTO_READERS_MAX][PROTO_KEY_LEN], topic[ELECTION_TOPIC_LEN];
	struct holders h = {a, owner, zone, keys, 0, PROTO_READERS_MAX};
	crypto_generichash_state st;

	trust_grants_each(a->trust, add_holder, &h);
	crypto_generichash_init(&st, NULL, 0, sizeof(topic));
	crypto_generichash_update(&st, (const uint8_t *)"dns", 3);
	crypto_generichash_update(&st, owner, PROTO_KEY_LEN);
	crypto_generichash_update(&st, (const uint8_t *)service, strlen(service));
	crypto_generichash_final(&st, topic, sizeof(topic));
	return election_won(a->id->pk, (const uint8_t(*)[PROTO_KEY_LEN])keys, h.n, topic,
	                    agent_alive, a);
}

static void on_verdict(void *arg, const struct monitor_event *ev)
{
	struct agent *a = arg;
	struct proto_service spec;
	struct proto_record rec;
	const struct trust_grant *g;
	struct dns_work *w;
	char err[400], who[PROTO_PEERID_SHORT_LEN + 1];
	uint8_t *buf = NULL;
	size_t len = 0;
	enum verdict standby;
	int rc;

	if (ev->type != MONITOR_VERDICT ||
	    (ev->current != VERDICT_DOWN && ev->current != VERDICT_UP))
		return;
	rc = store_record_get(a->store, ev->peer, PROTO_KIND_SERVICE, ev->service, &buf, &len);
	if (!rc)
		rc = proto_record_decode(&rec, buf, len);
	/* Only holders of the zone's grant are sealed the plan. */
	if (!rc)
		rc = agent_service_open(a, rec.body, rec.body_len, &spec);
	free(buf);
	if (rc || !spec.dns.name[0] || !elected(a, ev->peer, ev->service, spec.dns.zone))
		return;
	proto_peerid_short(who, ev->peer);
	standby = monitor_standby_verdict(a->monitor, ev->peer, ev->service);
	if (ev->current == VERDICT_DOWN && standby != VERDICT_UP) {
		char subject[PROTO_ZONE_MAX + 100], text[PROTO_ZONE_MAX + 300];
		log_warnx("dns: %s of %s is down, but its standby is %s: %s stays on its primary",
		          ev->service, who, verdict_name(standby), spec.dns.name);
		snprintf(subject, sizeof(subject), "[kith] no failover of %s: its standby is %s",
		         spec.dns.name, verdict_name(standby));
		snprintf(text, sizeof(text),
		         "Service %s is down, and its standby addresses are %s in its partners' "
		         "checks: %s stays on its primary addresses.\n",
		         ev->service, verdict_name(standby), spec.dns.name);
		tell_owner(a, ev->peer, ev->service, "no failover", subject, text);
		return;
	}
	w = work_new(a);
	if (!w)
		return;
	memcpy(w->owner, ev->peer, PROTO_KEY_LEN);
	snprintf(w->service, sizeof(w->service), "%s", ev->service);
	w->plan = spec.dns;
	w->to_standby = ev->current == VERDICT_DOWN;
	if (open_credential(a, ev->peer, spec.dns.zone, &w->cred, &g, err, sizeof(err)) != 0) {
		char subject[PROTO_ZONE_MAX + 100], text[sizeof(err) + 200];
		log_warnx("dns: %s of %s: %s", ev->service, who, err);
		snprintf(subject, sizeof(subject), "[kith] %s could not be changed", spec.dns.name);
		snprintf(text, sizeof(text),
		         "Service %s is %s; its partner cannot use the dns grant: %s\n",
		         ev->service, verdict_name(ev->current), err);
		tell_owner(a, ev->peer, ev->service, "failed", subject, text);
		w->family = proto_ip_families(spec.dns.primary, spec.dns.n_primary) & 1 ? AF_INET
		                                                                        : AF_INET6;
		record_change(w, PROTO_DNS_FAILED, err);
		work_free(a, w);
		return;
	}
	log_info("dns: %s of %s is %s: pointing %s at its %s", ev->service, who,
	         verdict_name(ev->current), spec.dns.name, w->to_standby ? "standby" : "primary");
	w->family = AF_INET;
	if (!swap_start(w))
		swap_next(w);
}

int agent_dns_new(struct agent *a)
{
	a->dns = calloc(1, sizeof(*a->dns));
	if (!a->dns)
		return -ENOMEM;
	return monitor_subscribe(a->monitor, on_verdict, a);
}

void agent_dns_free(struct agent *a)
{
	if (!a->dns)
		return;
	while (a->dns->works)
		work_free(a, a->dns->works);
	free(a->dns);
	a->dns = NULL;
}
