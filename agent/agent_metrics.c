/* GET /metrics: the agent's figures in the Prometheus text format (0.0.4),
 * made whole on each scrape from the counters the modules keep (the same
 * as kith status) and the monitor's views: members by state, records,
 * messages and rejections by reason, checks, every service's verdict and
 * its observers' latencies, the backup shards held per owner and the
 * quota each one granted us, DNS changes, and the process's own memory
 * and CPU.
 *
 * A scrape costs one walk of the monitor's services and one usage read
 * per member; no store walk. Label values from peers (member names) are
 * escaped as the format says, and bytes that are not UTF-8 replaced. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto/error.h"
#include "proto/identity.h"
#include "proto/peerid.h"
#include "store/store.h"
#include "agent_int.h"
#include "agent/core/httpd.h"
#include "agent/core/log.h"
#include "agent/gossip/gossip.h"
#include "agent/member/member.h"
#include "agent/monitor/health.h"
#include "agent/monitor/monitor.h"
#include "agent/net/backlog.h"
#include "agent/net/net.h"

/* A scrape of a network of a thousand members with a few services each is
 * well under this; past it the answer is an error, not a cut text. */
#define METRICS_MAX (16u << 20)

struct text {
	char *data;
	size_t len, cap;
	int err;
};

static void add(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void add(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->err)
		return;
	for (;;) {
		size_t room = t->cap - t->len;
		va_start(ap, fmt);
		n = vsnprintf(t->data ? t->data + t->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0) {
			t->err = -EINVAL;
			return;
		}
		if ((size_t)n < room) {
			t->len += (size_t)n;
			return;
		}
		size_t cap = t->cap ? t->cap * 2 : 64 * 1024;
		while (cap < t->len + (size_t)n + 1)
			cap *= 2;
		char *p = cap <= METRICS_MAX ? realloc(t->data, cap) : NULL;
		if (!p) {
			t->err = cap > METRICS_MAX ? KITH_ETOOBIG : -ENOMEM;
			return;
		}
		t->data = p;
		t->cap = cap;
	}
}

/* A label value as the format wants it: \, " and newline escaped, other
 * control characters and bytes that are not UTF-8 as U+FFFD. */
static void label_value(char *out, size_t n, const char *in)
{
	size_t o = 0;

	for (const unsigned char *p = (const unsigned char *)in; *p && o + 4 < n;) {
		size_t len = 0;
		if (*p < 0x80)
			len = 1;
		else if (*p >= 0xc2 && *p <= 0xdf)
			len = 2;
		else if (*p >= 0xe0 && *p <= 0xef)
			len = 3;
		else if (*p >= 0xf0 && *p <= 0xf4)
			len = 4;
		for (size_t i = 1; i < len; i++)
			if ((p[i] & 0xc0) != 0x80)
				len = 0;
		if (len == 1 && (*p == '\\' || *p == '"' || *p == '\n')) {
			out[o++] = '\\';
			out[o++] = *p == '\n' ? 'n' : (char)*p;
		} else if (len == 1 && (*p < 0x20 || *p == 0x7f)) {
			len = 0;
		} else if (len && o + len < n) {
			memcpy(out + o, p, len);
			o += len;
		}
		if (!len) {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			len = 1;
		}
		p += len;
	}
	out[o] = '\0';
}

static void family(struct text *t, const char *name, const char *type, const char *help)
{
	add(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void one(struct text *t, const char *name, const char *type, const char *help,
                uint64_t value)
{
	family(t, name, type, help);
	add(t, "%s %" PRIu64 "\n", name, value);
}

/* ---- the process ---- */

/* RSS and CPU from /proc/self/stat (fields 14, 15 and 24). */
static void process(struct text *t, struct agent *a)
{
	char buf[1024], *p;
	unsigned long utime = 0, stime = 0;
	long rss = 0;
	ssize_t len;
	int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);

	len = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
	if (fd >= 0)
		close(fd);
	if (len <= 0)
		return;
	buf[len] = '\0';
	/* The command name may hold spaces and parentheses: fields count
	 * from the last ')'. */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2,
	                 "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %*d %*d %*d %*d "
	                 "%*d %*d %*u %*u %ld",
	                 &utime, &stime, &rss) != 3)
		return;
	family(t, "process_cpu_seconds_total", "counter", "CPU time of kithd, user and system.");
	add(t, "process_cpu_seconds_total %.2f\n",
	    (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK));
	one(t, "process_resident_memory_bytes", "gauge", "Resident memory of kithd.",
	    (uint64_t)rss * (uint64_t)sysconf(_SC_PAGESIZE));
	one(t, "process_start_time_seconds", "gauge", "When kithd started, Unix seconds.",
	    loop_wall_s() - (loop_now_ms(a->loop) - a->started_ms) / 1000);
}

/* ---- members ---- */

static void members(struct text *t, struct agent *a)
{
	struct agent_census c;

	agent_census(a, &c);
	family(t, "kith_members", "gauge", "Other members of the network by state, as seen here.");
	for (int s = PROTO_STATE_ALIVE; s <= PROTO_STATE_LEFT; s++)
		add(t, "kith_members{state=\"%s\"} %" PRIu64 "\n",
		    proto_member_state_name((enum proto_member_state)s), c.by_state[s]);
}

/* ---- counters of the modules ---- */

static void traffic(struct text *t, struct agent *a)
{
	struct net_stats ns;
	struct gossip_stats gs;
	struct member_stats ms;
	struct backlog_stats bs;
	struct health_stats hs;
	uint64_t records = 0;
	const struct {
		const char *reason;
		uint64_t value;
	} rejected[] = {
	    {"records_over_budget", 0}, {"messages_busy", 0},          {"malformed_messages", 0},
	    {"requests_refused", 0},    {"joins_refused", 0},          {"guest_messages", 0},
	    {"handshakes_refused", 0},  {"records_nonmember", 0},      {"records_bad_signature", 0},
	    {"records_invalid", 0},     {"membership_updates_bad", 0},
	};
	uint64_t values[sizeof(rejected) / sizeof(rejected[0])];

	net_get_stats(a->net, &ns);
	gossip_get_stats(a->gossip, &gs);
	member_get_stats(a->member, &ms);
	backlog_get_stats(a->backlog, &bs);
	store_record_count(a->store, &records);
	health_get_stats(a->health, &hs);

	one(t, "kith_records_held", "gauge", "Records in the store, every member's.", records);
	one(t, "kith_messages_received_total", "counter", "Messages received from peers.",
	    ns.received);
	one(t, "kith_records_received_total", "counter", "Records received and stored.",
	    gs.records_stored);
	one(t, "kith_records_stale_total", "counter",
	    "Records received that were not newer than the ones held.", gs.stale);
	values[0] = gs.rej_budget;
	values[1] = bs.refused;
	values[2] = ns.malformed;
	values[3] = a->refused_requests;
	values[4] = a->refused_joins;
	values[5] = a->guest_dropped;
	values[6] = ns.zap_refused;
	values[7] = gs.rej_nonmember;
	values[8] = gs.rej_signature;
	values[9] = gs.rej_invalid;
	values[10] = ms.bad_updates;
	family(t, "kith_rejected_total", "counter", "What was refused from peers, by reason.");
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++)
		add(t, "kith_rejected_total{reason=\"%s\"} %" PRIu64 "\n", rejected[i].reason,
		    values[i]);
	one(t, "kith_sync_summaries_received_total", "counter",
	    "Anti-entropy summaries received from peers.", gs.summaries_received);
	one(t, "kith_sync_summaries_differed_total", "counter",
	    "Summaries received that differed from ours: a digest exchange followed.",
	    gs.summaries_differ);
	one(t, "kith_peers_banned_total", "counter", "Peers banned for bad messages.", ns.bans);
	one(t, "kith_connections", "gauge", "Inbound connections.", ns.conns);
	one(t, "kith_swim_probes_total", "counter", "SWIM probes sent.", ms.probes);
	one(t, "kith_swim_suspicions_total", "counter", "Members suspected.", ms.suspicions);
	one(t, "kith_swim_deaths_total", "counter", "Members declared dead.", ms.deaths);
	one(t, "kith_swim_local_health", "gauge",
	    "Lifeguard local health: 0 is healthy, higher is slower to suspect.", ms.health);
	one(t, "kith_checks_total", "counter", "Checks run for partners.", hs.checks);
	one(t, "kith_checks_deferred_total", "counter",
	    "Checks started late: too many were in flight.", hs.deferred);
	one(t, "kith_checks_watched", "gauge", "Services this agent checks.", hs.watched);
	one(t, "kith_dns_changes_total", "counter",
	    "Record sets (A, AAAA) this agent pointed elsewhere (failover DNS).", a->dns_changed);
	one(t, "kith_dns_change_failures_total", "counter",
	    "Changes of record sets this agent tried and could not make.", a->dns_failed);
}

/* ---- services ---- */

struct services {
	struct agent *a;
	struct text *t;
	int pass; /* 0: up, 1: verdict, 2: latency, 3: since */
};

static void service_labels(struct agent *a, const struct monitor_view *v, char *out, size_t n)
{
	char id[PROTO_PEERID_TEXT_LEN + 1], name[3 * PROTO_NAME_MAX + 8];
	const struct trust_member *m = trust_get(a->trust, v->owner);

	proto_peerid_format(id, v->owner);
	label_value(name, sizeof(name), m ? m->name : "");
	/* Service names are of a-z 0-9 - _ . only (proto_service_name_ok). */
	snprintf(out, n, "owner=\"%s\",owner_name=\"%s\",service=\"%s\"", id, name, v->name);
}

static void each_service(void *arg, const struct monitor_view *v)
{
	struct services *s = arg;
	char labels[PROTO_PEERID_TEXT_LEN + 3 * PROTO_NAME_MAX + PROTO_SERVICE_NAME_MAX + 64];
	char observer[PROTO_PEERID_TEXT_LEN + 1];

	service_labels(s->a, v, labels, sizeof(labels));
	switch (s->pass) {
	case 0:
		if (v->verdict != VERDICT_UNKNOWN)
			add(s->t, "kith_service_up{%s} %d\n", labels, v->verdict != VERDICT_DOWN);
		break;
	case 1:
		for (enum verdict k = VERDICT_UNKNOWN; k <= VERDICT_DOWN; k++)
			add(s->t, "kith_service_verdict{%s,verdict=\"%s\"} %d\n", labels,
			    verdict_name(k), v->verdict == k);
		break;
	case 2:
		for (size_t i = 0; i < v->n_obs; i++) {
			proto_peerid_format(observer, v->obs[i].observer);
			add(s->t, "kith_service_latency_seconds{%s,observer=\"%s\"} %.3f\n", labels,
			    observer, v->obs[i].latency_ms / 1000.0);
		}
		break;
	default:
		if (v->since)
			add(s->t, "kith_service_verdict_since_seconds{%s} %" PRIu64 "\n", labels,
			    v->since);
	}
}

static void services(struct text *t, struct agent *a)
{
	static const char *const names[][3] = {
	    {"kith_service_up", "gauge",
	     "1 when the partners' quorum finds the service up or degraded, 0 when down; absent "
	     "while unknown."},
	    {"kith_service_verdict", "gauge", "The service's verdict, one series per state."},
	    {"kith_service_latency_seconds", "gauge",
	     "Latency of each observer's latest check of the service."},
	    {"kith_service_verdict_since_seconds", "gauge",
	     "When the verdict last changed, Unix seconds."},
	};
	struct services s = {a, t, 0};

	for (s.pass = 0; s.pass < 4; s.pass++) {
		family(t, names[s.pass][0], names[s.pass][1], names[s.pass][2]);
		monitor_each(a->monitor, each_service, &s);
	}
}

/* ---- backups ---- */

struct holding {
	struct agent *a;
	struct text *t;
};

static void each_owner(void *arg, const struct trust_member *m)
{
	struct holding *h = arg;
	char id[PROTO_PEERID_TEXT_LEN + 1];
	uint64_t bytes = 0, count = 0;

	if (store_shard_usage(h->a->store, m->peer, &bytes, &count) != 0 || !count)
		return;
	proto_peerid_format(id, m->peer);
	add(h->t, "kith_backup_held_bytes{owner=\"%s\"} %" PRIu64 "\n", id, bytes);
	add(h->t, "kith_backup_held_shards{owner=\"%s\"} %" PRIu64 "\n", id, count);
}

static void each_grant(void *arg, const struct trust_grant *g)
{
	struct holding *h = arg;
	char issuer[PROTO_PEERID_TEXT_LEN + 1];

	if (memcmp(g->subject, h->a->id->pk, PROTO_KEY_LEN) || g->revoked_at ||
	    g->expires <= loop_wall_s())
		return;
	proto_peerid_format(issuer, g->issuer);
	for (uint32_t i = 0; i < g->n_scopes; i++)
		if (g->scopes[i].type == PROTO_SCOPE_BACKUP)
			add(h->t,
			    "kith_backup_quota_bytes{owner=\"%s\",grant=\"%s\"} %" PRIu64 "\n",
			    issuer, g->id, g->scopes[i].quota);
}

static void backups(struct text *t, struct agent *a)
{
	struct holding h = {a, t};

	family(t, "kith_backup_held_bytes", "gauge",
	       "Bytes of each owner's backup shards kept here.");
	family(t, "kith_backup_held_shards", "gauge", "Each owner's backup shards kept here.");
	trust_each(a->trust, false, each_owner, &h);
	family(t, "kith_backup_quota_bytes", "gauge",
	       "What each owner's backup grant lets it keep here (0: no byte limit).");
	trust_grants_each(a->trust, each_grant, &h);
}

int agent_metrics(struct agent *a, char **out, size_t *len)
{
	struct text t = {0};
	char id[PROTO_PEERID_TEXT_LEN + 1];
	struct httpd_stats hs = {0};

	proto_peerid_format(id, a->id->pk);
	family(&t, "kith_info", "gauge", "This agent: its version and peer ID.");
	add(&t, "kith_info{version=\"%s\",peer_id=\"%s\"} 1\n", KITH_VERSION, id);
	process(&t, a);
	members(&t, a);
	traffic(&t, a);
	services(&t, a);
	backups(&t, a);
	if (a->httpd)
		httpd_get_stats(a->httpd, &hs);
	one(&t, "kith_http_requests_total", "counter", "Requests to this HTTP listener.",
	    hs.requests);
	if (t.err) {
		free(t.data);
		return t.err;
	}
	*out = t.data;
	*len = t.len;
	return 0;
}
