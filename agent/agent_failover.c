/* Failover DNS, acting: a service with a DNS plan found down, its standby
 * up, has its name pointed at the standby by the one live holder of the
 * zone's dns grant that every agent elects alike; found up again, back at
 * its primary, by the owner's own agent while it is alive and holds the
 * credential (the plan's owner_acts), else by that elected holder. Each
 * change is a compare-and-swap (agent/dns/dns_job.h): two agents acting
 * at once make one change, and a name a human edited is left alone.
 *
 * The owner and every holder keep a small state per such service, and
 * the one who acts works towards what the verdicts ask, one change at a
 * time: whenever a verdict changes, a member comes or goes, a change ends,
 * a wait ends, or another agent's dns-change record arrives. It waits when
 * the name changed less than [dns] min_interval ago, and pauses when it
 * changed flap_max times within flap_window (the owner is told once),
 * counting the changes every agent made; then it looks again at what the
 * verdicts ask then. Every change and every failure is a signed dns-change
 * record and an alert to the owner's contacts. */
#include <arpa/inet.h>
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
#include "agent/core/keymap.h"
#include "agent/core/log.h"
#include "agent/dns/dns_job.h"
#include "agent/monitor/alert.h"
#include "agent/monitor/election.h"
#include "agent/monitor/monitor.h"
#include "dns/cred.h"

/* dns-change records are kept three months: the history of a year's
 * outages would be too many for the author's budget, and what is older
 * is in the logs. */
#define DNS_CHANGE_TTL (90 * 24 * 3600)

/* Plans kith dns status lists at most (those it can read: ours, and those
 * of the owners whose dns grants we hold). */
#define DNS_STATUS_MAX 256

enum where { WHERE_UNKNOWN, WHERE_PRIMARY, WHERE_STANDBY };

/* A service with a DNS plan that we may act on: ours, or one whose zone's
 * grant we hold. */
struct fo_service {
	struct agent *a;
	uint8_t key[PROTO_KEY_LEN];
	uint8_t owner[PROTO_KEY_LEN];
	char service[PROTO_SERVICE_NAME_MAX + 1];
	struct proto_dns_plan plan; /* of the change under way */
	enum where where;           /* where our last change left the name */
	/* The change under way: its way, the family being changed, whether
	 * every family went well so far. */
	struct dns_job *job;
	struct dns_cred cred;
	bool to_standby;
	int family;
	bool ok;
	bool changed; /* a family of the change under way was changed */
	/* After a failed change, the same change is tried again only once the
	 * verdict changed, or at retry_at (Unix seconds). */
	int failed_way; /* 0, or 1 + to_standby of the change that failed */
	uint64_t retry_at;
	/* The owner's agent failed to point the name back: its partners do
	 * until then (Unix seconds). */
	uint64_t owner_failed_until;
	/* Unix seconds of the name's latest changes, by any agent, oldest
	 * first, each counted once for all its families: the latest other
	 * agent's change counted. */
	uint64_t changes[DNS_FLAP_MAX_MAX];
	unsigned n_changes;
	uint8_t other_by[PROTO_KEY_LEN];
	uint64_t other_at;
	enum proto_status other_verdict;
	bool told_paused, told_no_standby;
	struct loop_timer later; /* look again after a wait */
};

struct agent_failover {
	struct keymap services; /* key -> struct fo_service */
};

static void reconcile(struct fo_service *fs);

static bool is_owner(const struct fo_service *fs)
{
	return !memcmp(fs->owner, fs->a->id->pk, PROTO_KEY_LEN);
}

/* ---- telling the owner ---- */

/* Tells the owner's contacts what a failover did or could not do: every
 * change, and every refusal (they alone can fix a credential, an ACL, a
 * standby). state: "standby", "primary", "failed", "no failover" or
 * "paused". */
static void tell_owner(struct fo_service *fs, const char *state, const char *subject,
                       const char *text)
{
	struct agent *a = fs->a;
	char contacts[PROTO_CONTACTS_MAX][PROTO_CONTACT_MAX + 1], id[PROTO_PEERID_TEXT_LEN + 1];
	const struct trust_member *m = trust_get(a->trust, fs->owner);
	struct alert_message msg = {.subject = subject,
	                            .text = text,
	                            .kind = "dns",
	                            .owner = id,
	                            .owner_name = m ? m->name : "",
	                            .service = fs->service,
	                            .state = state,
	                            .previous = "",
	                            .since = loop_wall_s()};
	size_t n = agent_contacts(a, fs->owner, contacts, PROTO_CONTACTS_MAX);

	proto_peerid_format(id, fs->owner);
	for (size_t i = 0; i < n; i++)
		alert_send(a->alert, contacts[i], &msg,
		           memcmp(fs->owner, a->id->pk, PROTO_KEY_LEN) != 0);
}

/* ---- the dns-change records ---- */

static uint32_t plan_ips(struct proto_ip *out, const struct proto_ip *list, uint32_t n, int family)
{
	uint32_t k = 0;

	for (uint32_t i = 0; i < n; i++)
		if (list[i].len == (family == AF_INET ? 4 : 16))
			out[k++] = list[i];
	return k;
}

static uint64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Signs a dns-change record of what fs did to its family (result
 * PROTO_DNS_CHANGED or PROTO_DNS_FAILED, why for a failure): the history
 * every member keeps (kith dns history). */
static void record_change(struct fo_service *fs, uint32_t result, const char *why)
{
	struct proto_dns_change c = {0};
	const struct proto_dns_plan *p = &fs->plan;
	char name[PROTO_NAME_MAX + 1], owner[17];
	struct mp_buf body = {0};
	int rc;

	memcpy(c.owner, fs->owner, PROTO_KEY_LEN);
	snprintf(c.service, sizeof(c.service), "%s", fs->service);
	snprintf(c.name, sizeof(c.name), "%s", p->name);
	snprintf(c.zone, sizeof(c.zone), "%s", p->zone);
	c.rtype = fs->family == AF_INET ? PROTO_DNS_TYPE_A : PROTO_DNS_TYPE_AAAA;
	c.n_from = plan_ips(c.from, fs->to_standby ? p->primary : p->standby,
	                    fs->to_standby ? p->n_primary : p->n_standby, fs->family);
	c.n_to = plan_ips(c.to, fs->to_standby ? p->standby : p->primary,
	                  fs->to_standby ? p->n_standby : p->n_primary, fs->family);
	c.verdict = fs->to_standby ? PROTO_STATUS_DOWN : PROTO_STATUS_UP;
	c.result = result;
	snprintf(c.why, sizeof(c.why), "%s", why);
	c.at_ms = wall_ms();
	if (result == PROTO_DNS_CHANGED)
		fs->a->dns_changed++;
	else
		fs->a->dns_failed++;
	/* The owner by its first 8 bytes: the full key is in the body, and the
	 * name must stay within PROTO_NAME_MAX. */
	sodium_bin2hex(owner, sizeof(owner), fs->owner, 8);
	snprintf(name, sizeof(name), "%s/%s/%" PRIu64 "/%s", owner, fs->service, loop_wall_s(),
	         c.rtype == PROTO_DNS_TYPE_A ? "A" : "AAAA");
	rc = proto_dns_change_encode(&body, &c);
	if (!rc)
		rc = agent_publish(fs->a, PROTO_KIND_DNS_CHANGE, name, body.data, body.len,
		                   DNS_CHANGE_TTL);
	if (rc)
		log_warnx("dns: cannot record the change of %s: %s", p->name, proto_strerror(rc));
	mp_buf_free(&body);
}

/* ---- one change, family by family ---- */

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

/* Starts the swap of fs's family; false when the plan has none of it. */
static bool swap_start(struct fo_service *fs)
{
	const struct proto_dns_plan *p = &fs->plan;
	struct dns_job_env env = {fs->a->loop, fs->a->web, fs->a->conf.refuse_private != 0};
	struct dns_addrs primary, standby;
	int rc;

	addrs_of(&primary, p->primary, p->n_primary, fs->family);
	addrs_of(&standby, p->standby, p->n_standby, fs->family);
	if (!primary.n)
		return false;
	rc = dns_job_swap(&fs->job, &env, &fs->cred, p->zone, p->name,
	                  fs->to_standby ? &primary : &standby,
	                  fs->to_standby ? &standby : &primary, p->ttl_s, swap_done, fs);
	if (rc) {
		char why[200], subject[PROTO_ZONE_MAX + 100];
		snprintf(why, sizeof(why), "cannot start the change: %s", proto_strerror(rc));
		log_warnx("dns: %s: %s", p->name, why);
		record_change(fs, PROTO_DNS_FAILED, why);
		snprintf(subject, sizeof(subject), "[kith] %s could not be changed", p->name);
		tell_owner(fs, "failed", subject, why);
		fs->ok = false;
	}
	return rc == 0;
}

/* A change failed: where the name is is unknown, and the same change waits
 * for the verdict to change, or for a while (its reason, a credential or
 * an ACL say, is for the owner to fix: each try is a record and an
 * alert). */
static void changed_failed(struct fo_service *fs)
{
	uint64_t wait_s = 10 * fs->a->conf.dns_min_interval_ms / 1000;

	fs->where = WHERE_UNKNOWN;
	fs->failed_way = 1 + fs->to_standby;
	fs->retry_at = loop_wall_s() + (wait_s > 600 ? wait_s : 600);
}

/* Counts a change of the name made at t (Unix seconds), in order. */
static void count_change(struct fo_service *fs, uint64_t t)
{
	unsigned i = fs->n_changes;

	while (i && fs->changes[i - 1] > t)
		i--;
	if (fs->n_changes == DNS_FLAP_MAX_MAX) {
		if (i == 0)
			return; /* older than all we keep */
		memmove(fs->changes, fs->changes + 1, sizeof(fs->changes[0]) * --fs->n_changes);
		i--;
	}
	memmove(fs->changes + i + 1, fs->changes + i, sizeof(fs->changes[0]) * (fs->n_changes - i));
	fs->changes[i] = t;
	fs->n_changes++;
}

/* The next family of fs, or the change's end. */
static void swap_next(struct fo_service *fs)
{
	while (fs->family == AF_INET) {
		fs->family = AF_INET6;
		if (swap_start(fs))
			return;
	}
	dns_cred_wipe(&fs->cred);
	if (fs->changed)
		count_change(fs, loop_wall_s());
	if (fs->ok) {
		fs->where = fs->to_standby ? WHERE_STANDBY : WHERE_PRIMARY;
		fs->failed_way = 0;
	} else {
		changed_failed(fs);
	}
	reconcile(fs); /* the verdicts may have moved meanwhile */
}

static void swap_done(void *arg, struct dns_job *job, const struct dns_job_result *r)
{
	struct fo_service *fs = arg;
	const char *type = fs->family == AF_INET ? "A" : "AAAA";
	const char *where = fs->to_standby ? "standby" : "primary";
	const char *now = fs->to_standby ? "down" : "up again";
	char subject[PROTO_ZONE_MAX + 100], text[DNS_WHY_MAX + PROTO_ZONE_MAX + 200];

	dns_job_free(&job);
	fs->job = NULL;
	if (r->rc) {
		log_warnx("dns: %s %s not pointed at its %s: %s", fs->plan.name, type, where,
		          r->why);
		record_change(fs, PROTO_DNS_FAILED, r->why);
		snprintf(subject, sizeof(subject), "[kith] %s could not be pointed at its %s",
		         fs->plan.name, where);
		snprintf(text, sizeof(text), "Service %s is %s; %s update of %s %s failed:\n%s\n",
		         fs->service, now, is_owner(fs) ? "its own agent's" : "its partner's",
		         fs->plan.name, type, r->why);
		tell_owner(fs, "failed", subject, text);
		fs->ok = false;
	} else if (r->changed) {
		log_info("dns: %s %s pointed at its %s (service %s)", fs->plan.name, type, where,
		         fs->service);
		record_change(fs, PROTO_DNS_CHANGED, "");
		snprintf(subject, sizeof(subject), "[kith] %s now points at its %s", fs->plan.name,
		         where);
		snprintf(text, sizeof(text),
		         "Service %s is %s: %s pointed %s %s at its %s addresses.\n", fs->service,
		         now, is_owner(fs) ? "its own agent" : "a partner", fs->plan.name, type,
		         where);
		tell_owner(fs, where, subject, text);
		fs->changed = true;
	} else {
		log_info("dns: %s %s already at its %s", fs->plan.name, type, where);
	}
	swap_next(fs);
}

/* ---- who acts ---- */

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

/* What is elected for: the failover of owner's service. */
static void election_topic(uint8_t topic[ELECTION_TOPIC_LEN], const uint8_t owner[PROTO_KEY_LEN],
                           const char *service)
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, ELECTION_TOPIC_LEN);
	crypto_generichash_update(&st, (const uint8_t *)"dns", 3);
	crypto_generichash_update(&st, owner, PROTO_KEY_LEN);
	crypto_generichash_update(&st, (const uint8_t *)service, strlen(service));
	crypto_generichash_final(&st, topic, ELECTION_TOPIC_LEN);
}

/* Who points owner's name which way, the same on every agent: back at
 * the primary, the owner's agent while it is alive, holds the credential
 * (owner_acts) and did not just fail to (until owner_failed_until);
 * else, and always towards the standby, the live holder of owner's
 * dns:zone that every agent elects for this service. Into out; false when
 * none is alive. */
static bool actor(struct agent *a, const uint8_t owner[PROTO_KEY_LEN], const char *service,
                  const struct proto_dns_plan *plan, bool to_standby, uint64_t owner_failed_until,
                  uint8_t out[PROTO_KEY_LEN])
{
	uint8_t keys[PROTO_READERS_MAX][PROTO_KEY_LEN], topic[ELECTION_TOPIC_LEN];
	struct holders h = {a, owner, plan->zone, keys, 0, PROTO_READERS_MAX};
	size_t chosen;

	if (!to_standby && plan->owner_acts && loop_wall_s() >= owner_failed_until &&
	    agent_alive(a, owner)) {
		memcpy(out, owner, PROTO_KEY_LEN);
		return true;
	}
	trust_grants_each(a->trust, add_holder, &h);
	election_topic(topic, owner, service);
	if (election_pick((const uint8_t(*)[PROTO_KEY_LEN])keys, h.n, topic, agent_alive, a,
	                  &chosen) != 0)
		return false;
	memcpy(out, keys[chosen], PROTO_KEY_LEN);
	return true;
}

/* Is it for us to change fs's name that way now? */
static bool we_act(struct fo_service *fs, bool to_standby)
{
	uint8_t who[PROTO_KEY_LEN];

	return actor(fs->a, fs->owner, fs->service, &fs->plan, to_standby, fs->owner_failed_until,
	             who) &&
	       !memcmp(who, fs->a->id->pk, PROTO_KEY_LEN);
}

/* May we ever act on owner's plan: are we its owner holding the
 * credential, or a holder of the zone's grant? */
static bool may_act(struct agent *a, const uint8_t owner[PROTO_KEY_LEN],
                    const struct proto_dns_plan *plan)
{
	struct proto_scope want = {.type = PROTO_SCOPE_DNS};
	const struct trust_grant *g;
	const struct proto_scope *scope;

	if (!memcmp(owner, a->id->pk, PROTO_KEY_LEN))
		return plan->owner_acts != 0;
	snprintf(want.zone, sizeof(want.zone), "%s", plan->zone);
	return trust_grant_check(a->trust, owner, a->id->pk, &want, loop_wall_s(), &g, &scope) == 0;
}

/* The plan of owner's service as sealed to us, when it has one. */
static bool plan_of(struct agent *a, const uint8_t owner[PROTO_KEY_LEN], const char *service,
                    struct proto_dns_plan *plan)
{
	struct proto_service spec;

	/* Only holders of the zone's grant and monitors are sealed the plan. */
	if (agent_service_read(a, owner, service, &spec) != 0 || !spec.dns.name[0])
		return false;
	*plan = spec.dns;
	return true;
}

/* ---- deciding ---- */

static void on_later(struct loop *l, void *arg)
{
	(void)l;
	reconcile(arg);
}

/* Waits until at, then looks again. */
static void wait_until_s(struct fo_service *fs, uint64_t at)
{
	uint64_t now = loop_wall_s();

	loop_timer_start(fs->a->loop, &fs->later, at > now ? (at - now) * 1000 : 0);
}

/* A change now would be one too many: false, with a wait armed. */
static bool must_wait(struct fo_service *fs)
{
	const struct conf *c = &fs->a->conf;
	uint64_t now = loop_wall_s(), min_s = c->dns_min_interval_ms / 1000,
	         window_s = c->dns_flap_window_ms / 1000;
	char subject[PROTO_ZONE_MAX + 100], text[PROTO_ZONE_MAX + 300];
	unsigned old = 0;

	while (old < fs->n_changes && fs->changes[old] + window_s <= now)
		old++;
	memmove(fs->changes, fs->changes + old, sizeof(fs->changes[0]) * (fs->n_changes - old));
	fs->n_changes -= old;
	if (fs->n_changes && fs->changes[fs->n_changes - 1] + min_s > now) {
		wait_until_s(fs, fs->changes[fs->n_changes - 1] + min_s);
		return true;
	}
	if (fs->n_changes < c->dns_flap_max) {
		fs->told_paused = false;
		return false;
	}
	wait_until_s(fs, fs->changes[0] + window_s);
	if (!fs->told_paused) {
		log_warnx("dns: %s changed %u times within %" PRIu64 " s: no change before %" PRIu64
		          " s from now",
		          fs->plan.name, fs->n_changes, window_s, fs->changes[0] + window_s - now);
		snprintf(subject, sizeof(subject), "[kith] failover of %s paused: it flaps",
		         fs->plan.name);
		snprintf(text, sizeof(text),
		         "%s changed %u times within %" PRIu64 " seconds: its partners make no "
		         "more change for a while, whatever the checks say. Look at service %s.\n",
		         fs->plan.name, fs->n_changes, window_s, fs->service);
		tell_owner(fs, "paused", subject, text);
		fs->told_paused = true;
	}
	return true;
}

/* Starts the change of fs's name towards the standby or the primary. */
static void change(struct fo_service *fs, bool to_standby)
{
	const struct trust_grant *g;
	char err[400], subject[PROTO_ZONE_MAX + 100], text[sizeof(err) + 200];

	fs->to_standby = to_standby;
	fs->family = AF_INET;
	fs->ok = true;
	fs->changed = false;
	if (agent_dns_credential(fs->a, fs->owner, fs->plan.zone, &fs->cred, &g, err,
	                         sizeof(err)) != 0) {
		log_warnx("dns: %s: %s", fs->plan.name, err);
		snprintf(subject, sizeof(subject), "[kith] %s could not be changed", fs->plan.name);
		snprintf(text, sizeof(text), "Service %s is %s; %s cannot use the dns grant: %s\n",
		         fs->service, to_standby ? "down" : "up",
		         is_owner(fs) ? "its own agent" : "its partner", err);
		tell_owner(fs, "failed", subject, text);
		if (!(proto_ip_families(fs->plan.primary, fs->plan.n_primary) & 1))
			fs->family = AF_INET6;
		record_change(fs, PROTO_DNS_FAILED, err);
		changed_failed(fs);
		return;
	}
	log_info("dns: %s is %s: pointing %s at its %s", fs->service,
	         fs->plan.pin ? "pinned"
	         : to_standby ? "down"
	                      : "up",
	         fs->plan.name, to_standby ? "standby" : "primary");
	if (!swap_start(fs))
		swap_next(fs);
}

/* Works towards what the verdicts ask now, if we are still the one to. */
static void reconcile(struct fo_service *fs)
{
	struct agent *a = fs->a;
	enum verdict verdict, standby;
	char subject[PROTO_ZONE_MAX + 100], text[PROTO_ZONE_MAX + 300];

	if (fs->job || !plan_of(a, fs->owner, fs->service, &fs->plan))
		return;
	if (fs->plan.pin) {
		/* The owner's word, whatever the checks: no wait either. */
		bool to_standby = fs->plan.pin == PROTO_DNS_PIN_STANDBY;
		if (!we_act(fs, to_standby)) {
			fs->where = WHERE_UNKNOWN; /* another agent may change it */
			return;
		}
		if (fs->where != (to_standby ? WHERE_STANDBY : WHERE_PRIMARY) &&
		    !(fs->failed_way == 1 + to_standby && loop_wall_s() < fs->retry_at))
			change(fs, to_standby);
		return;
	}
	verdict = monitor_verdict(a->monitor, fs->owner, fs->service, &standby);
	if (verdict != VERDICT_DOWN && verdict != VERDICT_UP)
		return;
	if (!we_act(fs, verdict == VERDICT_DOWN)) {
		fs->where = WHERE_UNKNOWN;
		return;
	}
	if (verdict != VERDICT_DOWN || standby == VERDICT_UP)
		fs->told_no_standby = false;
	if (verdict == VERDICT_DOWN && standby != VERDICT_UP) {
		if (fs->where == WHERE_STANDBY || fs->told_no_standby)
			return;
		log_warnx("dns: %s is down, but its standby is %s: %s stays on its primary",
		          fs->service, verdict_name(standby), fs->plan.name);
		snprintf(subject, sizeof(subject), "[kith] no failover of %s: its standby is %s",
		         fs->plan.name, verdict_name(standby));
		snprintf(text, sizeof(text),
		         "Service %s is down, and its standby addresses are %s in its partners' "
		         "checks: %s stays on its primary addresses.\n",
		         fs->service, verdict_name(standby), fs->plan.name);
		tell_owner(fs, "no failover", subject, text);
		fs->told_no_standby = true;
		return;
	}
	if ((verdict == VERDICT_DOWN && fs->where == WHERE_STANDBY) ||
	    (verdict == VERDICT_UP && fs->where == WHERE_PRIMARY))
		return;
	if (fs->failed_way == 1 + (verdict == VERDICT_DOWN) && loop_wall_s() < fs->retry_at) {
		wait_until_s(fs, fs->retry_at);
		return;
	}
	if (!must_wait(fs))
		change(fs, verdict == VERDICT_DOWN);
}

static void state_key(uint8_t key[PROTO_KEY_LEN], const uint8_t owner[PROTO_KEY_LEN],
                      const char *service)
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, PROTO_KEY_LEN);
	crypto_generichash_update(&st, owner, PROTO_KEY_LEN);
	crypto_generichash_update(&st, (const uint8_t *)service, strlen(service));
	crypto_generichash_final(&st, key, PROTO_KEY_LEN);
}

/* Our state for owner's service; NULL when we have none. */
static struct fo_service *find_state(struct agent *a, const uint8_t owner[PROTO_KEY_LEN],
                                     const char *service)
{
	uint8_t key[PROTO_KEY_LEN];

	state_key(key, owner, service);
	return keymap_get(&a->failover->services, key);
}

/* Our state for owner's service, made when new; NULL when out of memory. */
static struct fo_service *service_state(struct agent *a, const uint8_t owner[PROTO_KEY_LEN],
                                        const char *service)
{
	struct fo_service *fs = find_state(a, owner, service);
	uint8_t key[PROTO_KEY_LEN];

	if (fs)
		return fs;
	state_key(key, owner, service);
	fs = calloc(1, sizeof(*fs));
	if (!fs)
		return NULL;
	fs->a = a;
	memcpy(fs->key, key, sizeof(key));
	memcpy(fs->owner, owner, PROTO_KEY_LEN);
	snprintf(fs->service, sizeof(fs->service), "%s", service);
	loop_timer_init(&fs->later, on_later, fs);
	if (keymap_put(&a->failover->services, key, fs) != 0) {
		free(fs);
		return NULL;
	}
	return fs;
}

static void on_verdict(void *arg, const struct monitor_event *ev)
{
	struct agent *a = arg;
	struct proto_dns_plan plan;
	struct fo_service *fs;

	if (ev->type != MONITOR_VERDICT ||
	    (ev->current != VERDICT_DOWN && ev->current != VERDICT_UP))
		return;
	/* A state only for services whose plan we read and may act on. */
	if (!plan_of(a, ev->peer, ev->service, &plan) || !may_act(a, ev->peer, &plan))
		return;
	fs = service_state(a, ev->peer, ev->service);
	if (!fs)
		return;
	fs->failed_way = 0; /* a new verdict: a failed change may be tried again */
	reconcile(fs);
}

/* ---- kith dns status ---- */

/* Who would change this name now, as a peer ID ("" when none is
 * alive): towards the standby while the service is down, else back. */
static void acting(struct agent *a, const uint8_t owner[PROTO_KEY_LEN], const char *service,
                   const struct proto_dns_plan *plan, enum verdict verdict,
                   char out[PROTO_PEERID_TEXT_LEN + 1])
{
	bool to_standby = plan->pin ? plan->pin == PROTO_DNS_PIN_STANDBY : verdict == VERDICT_DOWN;
	struct fo_service *fs = find_state(a, owner, service);
	uint8_t who[PROTO_KEY_LEN];

	out[0] = '\0';
	if (actor(a, owner, service, plan, to_standby, fs ? fs->owner_failed_until : 0, who))
		proto_peerid_format(out, who);
}

/* The plans kith dns status shows, and the last change of each. */
struct status_item {
	uint8_t owner[PROTO_KEY_LEN];
	char service[PROTO_SERVICE_NAME_MAX + 1];
	struct proto_dns_plan plan;
	uint64_t last_time; /* 0: no dns-change record */
	uint64_t last_ms;   /* its time to the millisecond, what orders them */
	uint8_t last_by[PROTO_KEY_LEN];
	struct proto_dns_change last;
};

struct status_list {
	struct agent *a;
	/* Collected first, the store's walk holding its buffers. */
	struct status_item *items;
	size_t n, cap;
};

static int collect_plan(void *arg, const uint8_t *buf, size_t len)
{
	struct status_list *l = arg;
	struct proto_service spec;
	struct proto_record rec;

	if (l->n == l->cap || proto_record_decode(&rec, buf, len) != 0 ||
	    rec.kind != PROTO_KIND_SERVICE || !rec.body_len ||
	    !proto_service_name_ok(rec.name, strlen(rec.name)) ||
	    agent_service_open(l->a, rec.body, rec.body_len, &spec) != 0 || !spec.dns.name[0])
		return 0;
	memset(&l->items[l->n], 0, sizeof(l->items[l->n]));
	memcpy(l->items[l->n].owner, rec.author, PROTO_KEY_LEN);
	memcpy(l->items[l->n].service, rec.name, strlen(rec.name) + 1);
	l->items[l->n++].plan = spec.dns;
	return 0;
}

/* One walk for every plan's last change: dns-change records are few. */
static int collect_last(void *arg, const uint8_t *buf, size_t len)
{
	struct status_list *l = arg;
	struct proto_dns_change c;
	struct proto_record rec;

	if (proto_record_decode(&rec, buf, len) != 0 || rec.kind != PROTO_KIND_DNS_CHANGE ||
	    proto_dns_change_decode(&c, rec.body, rec.body_len) != 0)
		return 0;
	for (size_t i = 0; i < l->n; i++) {
		struct status_item *it = &l->items[i];
		uint64_t ms = c.at_ms ? c.at_ms : rec.issued * 1000;
		if (ms >= it->last_ms && !memcmp(c.owner, it->owner, PROTO_KEY_LEN) &&
		    !strcmp(c.service, it->service)) {
			it->last_time = rec.issued;
			it->last_ms = ms;
			it->last = c;
			memcpy(it->last_by, rec.author, PROTO_KEY_LEN);
		}
	}
	return 0;
}

static void pack_status(struct agent *a, const struct status_item *it, msgpack_packer *pk)
{
	static const char *const pins[] = {"", "primary", "standby"};
	char owner[PROTO_PEERID_TEXT_LEN + 1], who[PROTO_PEERID_TEXT_LEN + 1];
	enum verdict standby,
	    verdict = monitor_verdict(a->monitor, it->owner, it->service, &standby);
	struct mp_map m, c;

	proto_peerid_format(owner, it->owner);
	acting(a, it->owner, it->service, &it->plan, verdict, who);
	mp_map_begin(&m);
	mp_map_str(&m, CTL_REPLY_OWNER, owner);
	mp_map_str(&m, CTL_REPLY_SERVICE, it->service);
	mp_map_str(&m, CTL_REPLY_DNS_NAME, it->plan.name);
	mp_map_str(&m, CTL_REPLY_ZONE, it->plan.zone);
	agent_pack_ips(mp_map_key(&m, CTL_REPLY_PRIMARY), it->plan.primary, it->plan.n_primary);
	agent_pack_ips(mp_map_key(&m, CTL_REPLY_STANDBY), it->plan.standby, it->plan.n_standby);
	mp_map_uint(&m, CTL_REPLY_TTL, it->plan.ttl_s);
	mp_map_str(&m, CTL_REPLY_PIN, pins[it->plan.pin <= 2 ? it->plan.pin : 0]);
	mp_map_str(&m, CTL_REPLY_VERDICT, verdict_name(verdict));
	mp_map_str(&m, CTL_REPLY_STANDBY_VERDICT, verdict_name(standby));
	mp_map_str(&m, CTL_REPLY_ACTING, who);
	if (it->last_time) {
		proto_peerid_format(who, it->last_by);
		mp_map_begin(&c);
		mp_map_uint(&c, CTL_REPLY_TIME, it->last_time);
		mp_map_str(&c, CTL_REPLY_BY, who);
		mp_map_str(&c, CTL_REPLY_TYPE, it->last.rtype == PROTO_DNS_TYPE_A ? "A" : "AAAA");
		agent_pack_ips(mp_map_key(&c, CTL_REPLY_TO), it->last.to, it->last.n_to);
		mp_map_str(&c, CTL_REPLY_RESULT,
		           it->last.result == PROTO_DNS_CHANGED ? "changed" : "failed");
		mp_map_map(&m, CTL_REPLY_LAST_CHANGE, &c);
	}
	mp_map_end(&m, pk);
}

int agent_ctl_dns_status(void *arg, const struct ctl_request *req, msgpack_packer *pk, char *err,
                         size_t n)
{
	struct status_list l = {.a = arg, .cap = DNS_STATUS_MAX};

	(void)req;
	l.items = calloc(l.cap, sizeof(*l.items));
	if (!l.items)
		return ctl_fail(err, n, -ENOMEM, "out of memory");
	store_records_each(l.a->store, collect_plan, &l);
	store_records_each(l.a->store, collect_last, &l);
	msgpack_pack_array(pk, l.n);
	for (size_t i = 0; i < l.n; i++)
		pack_status(l.a, &l.items[i], pk);
	free(l.items);
	return 0;
}

/* Another agent's change, or failure, of a name we may change: the name
 * may be elsewhere than our last change left it, the change counts
 * towards the flap cap, and a failure of the owner's agent to point it
 * back is for its partners to make good. */
static void on_dns_change(struct agent *a, const struct proto_record *rec)
{
	struct proto_dns_change c;
	struct proto_dns_plan plan;
	struct fo_service *fs;

	if (!memcmp(rec->author, a->id->pk, PROTO_KEY_LEN) ||
	    proto_dns_change_decode(&c, rec->body, rec->body_len) != 0 ||
	    !plan_of(a, c.owner, c.service, &plan) || !may_act(a, c.owner, &plan) ||
	    !(fs = service_state(a, c.owner, c.service)))
		return;
	if (c.result == PROTO_DNS_CHANGED) {
		/* A change's A and AAAA records: one author, one way, within a
		 * second or so. */
		bool again = !memcmp(fs->other_by, rec->author, PROTO_KEY_LEN) &&
		             c.verdict == fs->other_verdict && rec->issued <= fs->other_at + 2 &&
		             fs->other_at <= rec->issued + 2;
		fs->where = WHERE_UNKNOWN;
		if (!again)
			count_change(fs, rec->issued);
		memcpy(fs->other_by, rec->author, PROTO_KEY_LEN);
		fs->other_at = rec->issued;
		fs->other_verdict = c.verdict;
	} else if (!memcmp(rec->author, c.owner, PROTO_KEY_LEN) && c.verdict == PROTO_STATUS_UP) {
		/* From its time: an old record (a restart's sync) asks nothing. */
		uint64_t wait_s = 10 * a->conf.dns_min_interval_ms / 1000,
		         until = rec->issued + (wait_s > 600 ? wait_s : 600);
		if (until > fs->owner_failed_until)
			fs->owner_failed_until = until;
	}
	reconcile(fs);
}

void agent_failover_on_record(struct agent *a, const struct proto_record *rec)
{
	struct proto_dns_plan plan;
	struct fo_service *fs;

	if (!a->failover)
		return;
	if (rec->kind == PROTO_KIND_DNS_CHANGE) {
		on_dns_change(a, rec);
		return;
	}
	if (rec->kind != PROTO_KIND_SERVICE || !plan_of(a, rec->author, rec->name, &plan) ||
	    !may_act(a, rec->author, &plan))
		return;
	fs = service_state(a, rec->author, rec->name);
	if (fs) {
		fs->failed_way = 0;
		reconcile(fs);
	}
}

void agent_failover_member_changed(struct agent *a)
{
	const uint8_t *key;
	void *value;

	if (!a->failover)
		return;
	/* Who acts may have changed with who is alive. */
	for (size_t pos = 0; keymap_next(&a->failover->services, &pos, &key, &value);)
		reconcile(value);
}

int agent_failover_new(struct agent *a)
{
	a->failover = calloc(1, sizeof(*a->failover));
	if (!a->failover)
		return -ENOMEM;
	keymap_init(&a->failover->services);
	return monitor_subscribe(a->monitor, on_verdict, a);
}

void agent_failover_free(struct agent *a)
{
	const uint8_t *key;
	void *value;

	if (!a->failover)
		return;
	for (size_t pos = 0; keymap_next(&a->failover->services, &pos, &key, &value);) {
		struct fo_service *fs = value;
		dns_job_free(&fs->job);
		dns_cred_wipe(&fs->cred);
		loop_timer_stop(a->loop, &fs->later);
		free(fs);
	}
	keymap_free(&a->failover->services);
	free(a->failover);
	a->failover = NULL;
}
