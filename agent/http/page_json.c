/* The JSON pages: the HTML pages' model, written by hand into the same
 * capped buffer. jansson would do the encoding, but it refuses invalid
 * UTF-8 where the pages clean it, and builds the whole tree before the
 * cap could refuse it. */
#include <stdio.h>
#include <string.h>

#include "page_int.h"

/* A JSON string of the untrusted text s. */
static void jstr(struct page_buf *b, const char *s, size_t size)
{
	page_puts(b, "\"");
	page_text(b, s, size, PAGE_ESC_JSON);
	page_puts(b, "\"");
}

/* A time: Unix seconds, or null when unknown. */
static void jtime(struct page_buf *b, uint64_t at)
{
	struct page_time t;

	if (page_time(&t, at))
		page_putf(b, "%llu", (unsigned long long)at);
	else
		page_puts(b, "null");
}

static void self(struct page_buf *b, const struct page_site *site)
{
	page_puts(b, "{\"generated_at\":");
	jtime(b, site->now);
	page_puts(b, ",\"self\":{\"peer_id\":");
	jstr(b, site->peer_id, sizeof(site->peer_id));
	page_puts(b, ",\"name\":");
	jstr(b, site->name, sizeof(site->name));
	page_puts(b, "}");
}

/* "name", "verdict" and "since" of a service, without the braces. */
static void service_head(struct page_buf *b, const struct page_service *svc)
{
	page_puts(b, "\"name\":");
	jstr(b, svc->name, sizeof(svc->name));
	page_putf(b, ",\"verdict\":\"%s\",\"since\":", verdict_name(svc->verdict));
	jtime(b, svc->since);
}

/* "peer_id", "name" and "state" of a member, without the braces. */
static void member_head(struct page_buf *b, const struct page_member *m)
{
	page_puts(b, "\"peer_id\":");
	jstr(b, m->peer_id, sizeof(m->peer_id));
	page_puts(b, ",\"name\":");
	jstr(b, m->name, sizeof(m->name));
	page_putf(b, ",\"state\":\"%s\"", proto_member_state_name(m->state));
}

static void network_member(struct page_buf *b, const struct page_member *m)
{
	page_puts(b, "{");
	member_head(b, m);
	page_puts(b, ",\"services\":[");
	for (size_t i = 0; i < m->n_services; i++) {
		page_puts(b, i ? ",{" : "{");
		service_head(b, &m->services[i]);
		page_puts(b, "}");
	}
	page_puts(b, "]}");
}

int page_network_json(struct page_buf *out, const struct page_site *site,
                      const struct page_member *members, size_t n)
{
	page_begin(out);
	self(out, site);
	page_puts(out, ",\"members\":[");
	for (size_t i = 0; i < n; i++) {
		if (i)
			page_puts(out, ",");
		network_member(out, &members[i]);
	}
	page_puts(out, "]}\n");
	return page_end(out);
}

static void day(struct page_buf *b, const struct uptime_day *d)
{
	struct page_time t;

	page_day(&t, d->start);
	page_putf(b,
	          "{\"date\":\"%s\",\"start\":%llu,\"state\":\"%s\",\"up\":%lu,\"degraded\":%lu,"
	          "\"down\":%lu,\"unknown\":%lu}",
	          t.date, (unsigned long long)d->start, verdict_name(uptime_day_worst(d)),
	          (unsigned long)d->up, (unsigned long)d->degraded, (unsigned long)d->down,
	          (unsigned long)d->unknown);
}

static void uptime(struct page_buf *b, const struct uptime *u)
{
	uint64_t known;

	if (!u) {
		page_puts(b, "null");
		return;
	}
	known = u->up_s + u->degraded_s + u->down_s;
	if (known)
		page_putf(b, "{\"ratio\":%.17g", (double)u->up_s / (double)known);
	else
		page_puts(b, "{\"ratio\":null");
	page_putf(
	    b, ",\"up_s\":%llu,\"degraded_s\":%llu,\"down_s\":%llu,\"unknown_s\":%llu,\"days\":[",
	    (unsigned long long)u->up_s, (unsigned long long)u->degraded_s,
	    (unsigned long long)u->down_s, (unsigned long long)u->unknown_s);
	for (size_t i = 0; i < UPTIME_DAYS; i++) {
		if (i)
			page_puts(b, ",");
		day(b, &u->days[i]);
	}
	page_puts(b, "]}");
}

static void observer(struct page_buf *b, const struct page_observer *o)
{
	page_puts(b, "{\"peer_id\":");
	jstr(b, o->peer_id, sizeof(o->peer_id));
	page_puts(b, ",\"name\":");
	jstr(b, o->name, sizeof(o->name));
	page_putf(b, ",\"status\":\"%s\",\"latency_ms\":", proto_status_name(o->status));
	if (o->status)
		page_putf(b, "%lu", (unsigned long)o->latency_ms);
	else
		page_puts(b, "null");
	page_puts(b, ",\"checked_at\":");
	jtime(b, o->checked_at);
	page_puts(b, ",\"error\":");
	jstr(b, o->error, sizeof(o->error));
	page_puts(b, "}");
}

static void member_service(struct page_buf *b, const struct page_service *svc)
{
	page_puts(b, "{");
	service_head(b, svc);
	page_puts(b, ",\"uptime\":");
	uptime(b, svc->uptime);
	page_puts(b, ",\"observers\":[");
	for (size_t i = 0; i < svc->n_observers; i++) {
		if (i)
			page_puts(b, ",");
		observer(b, &svc->observers[i]);
	}
	page_puts(b, "]}");
}

int page_member_json(struct page_buf *out, const struct page_site *site,
                     const struct page_member *m)
{
	page_begin(out);
	self(out, site);
	page_puts(out, ",\"member\":{");
	member_head(out, m);
	page_puts(out, ",\"services\":[");
	for (size_t i = 0; i < m->n_services; i++) {
		if (i)
			page_puts(out, ",");
		member_service(out, &m->services[i]);
	}
	page_puts(out, "]}}\n");
	return page_end(out);
}
