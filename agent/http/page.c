/* The HTML pages. Our markup is written as is; every text of the model
 * goes through page_text() (or page_url(), page_id()), names inside
 * <bdi> so that a right-to-left name cannot reorder the text around it.
 * Colours are CSS variables with a dark variant; each bar's rect also
 * carries its fill, so the bar reads without the style sheet. */
#include <stdio.h>
#include <string.h>

#include "page_int.h"

#define BAR_W 5 /* a day's slot in the bar's viewBox: 4 of rect, 1 of gap */
#define BAR_H 30

static const char CSS[] =
    ":root{color-scheme:light dark;--fg:#1f2328;--bg:#fff;--muted:#59636e;--line:#d1d9e0;"
    "--up:#1a7f37;--degraded:#9a6700;--down:#cf222e;--unknown:#6e7781}"
    "@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--bg:#0d1117;--muted:#9198a1;"
    "--line:#3d444d}}"
    "*{box-sizing:border-box}"
    "body{margin:0 auto;max-width:64rem;padding:1rem;color:var(--fg);background:var(--bg);"
    "font:16px/1.5 system-ui,-apple-system,\"Segoe UI\",Roboto,sans-serif}"
    "h1{font-size:1.6rem;margin:.25rem 0}h2{font-size:1.2rem;margin:0 0 .25rem}"
    "a{color:inherit}nav a{text-decoration:none}"
    "code{font:.85em ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;"
    "overflow-wrap:anywhere}"
    ".muted,figcaption,footer,caption{color:var(--muted)}"
    "caption{text-align:left;padding:.25rem 0;font-size:.9rem}"
    ".badge{display:inline-block;padding:0 .55em;border-radius:1em;color:#fff;font-size:.8rem;"
    "font-weight:600;line-height:1.6;vertical-align:.1em}"
    ".v-up,.st-alive{background:var(--up)}.v-degraded,.st-suspect{background:var(--degraded)}"
    ".v-down,.st-dead{background:var(--down)}.v-unknown,.st-left,.st-unknown"
    "{background:var(--unknown)}"
    ".d-up{fill:var(--up)}.d-degraded{fill:var(--degraded)}.d-down{fill:var(--down)}"
    ".d-unknown{fill:var(--unknown);opacity:.35}"
    "table{border-collapse:collapse;width:100%}"
    "th,td{text-align:left;vertical-align:top;padding:.45rem .5rem;"
    "border-bottom:1px solid var(--line)}"
    "thead th{font-size:.85rem;color:var(--muted)}"
    ".scroll{overflow-x:auto}"
    "ul.services{list-style:none;margin:0;padding:0}ul.services li{margin:.1rem 0}"
    "ul.services a{text-decoration:none}"
    "section.service{border:1px solid var(--line);border-radius:.5rem;padding:1rem;"
    "margin:1rem 0}"
    "section.service p{margin:.25rem 0}"
    "figure{margin:.75rem 0}svg.bar{display:block;width:100%;height:2.25rem}"
    "figcaption{display:flex;justify-content:space-between;font-size:.8rem}"
    ".legend{display:flex;flex-wrap:wrap;gap:.25rem 1rem;list-style:none;padding:0;"
    "font-size:.9rem}"
    ".swatch{display:inline-block;width:.8em;height:.8em;border-radius:2px;"
    "margin-right:.35em;vertical-align:-.05em}"
    ".error{overflow-wrap:anywhere}"
    "@media (max-width:40rem){body{padding:.75rem}"
    "table.observers thead{display:none}"
    "table.observers tr{display:block;padding:.4rem 0;border-bottom:1px solid var(--line)}"
    "table.observers th,table.observers td{display:block;border:0;padding:.1rem 0}"
    "table.observers td::before{content:attr(data-label) \": \";color:var(--muted)}}";

/* Fills matching the CSS, for the bar without it. */
static const char *fill_of(enum verdict v)
{
	switch (v) {
	case VERDICT_UP:
		return "#1a7f37";
	case VERDICT_DEGRADED:
		return "#9a6700";
	case VERDICT_DOWN:
		return "#cf222e";
	case VERDICT_UNKNOWN:
		break;
	}
	return "#d1d9e0";
}

static void html(struct page_buf *b, const char *s, size_t size)
{
	page_text(b, s, size, PAGE_ESC_HTML);
}

/* A name from the model inside <bdi>, or fallback when it is empty. */
static void put_name(struct page_buf *b, const char *name, size_t size, const char *fallback)
{
	if (strnlen(name, size) == 0) {
		page_putf(b, "<span class=\"muted\">%s</span>", fallback);
		return;
	}
	page_puts(b, "<bdi>");
	html(b, name, size);
	page_puts(b, "</bdi>");
}

/* <span class="badge PREFIX-WORD">WORD</span> */
static void badge(struct page_buf *b, const char *prefix, const char *word)
{
	page_putf(b, "<span class=\"badge %s-%s\">%s</span>", prefix, word, word);
}

static void put_time(struct page_buf *b, uint64_t at)
{
	struct page_time t;

	if (page_time(&t, at))
		page_putf(b, "<time datetime=\"%s\">%s</time>", t.iso, t.text);
	else
		page_puts(b, "unknown");
}

/* The document up to the title's text, which the caller writes. */
static void doc_open(struct page_buf *b)
{
	page_puts(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	             "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	             "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
	             "style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
	             "form-action 'none'\">\n"
	             "<meta name=\"referrer\" content=\"no-referrer\">\n<title>");
}

/* From the end of the title to the opening of <body>. */
static void doc_body(struct page_buf *b, const struct page_site *site, const char *kind)
{
	page_puts(b, " \xc2\xb7 kith</title>\n<style>");
	page_puts(b, CSS);
	page_putf(b, "</style>\n</head>\n<body data-page=\"%s\" data-generated=\"%llu\">\n", kind,
	          (unsigned long long)site->now);
}

static void doc_close(struct page_buf *b, const struct page_site *site)
{
	page_puts(b, "<footer>\n<p>Served by ");
	put_name(b, site->name, sizeof(site->name), "this agent");
	page_puts(b, " <code class=\"peer-id\">");
	html(b, site->peer_id, sizeof(site->peer_id));
	page_puts(b, "</code> at ");
	put_time(b, site->now);
	page_puts(b, ". Every time on this page is UTC.</p>\n</footer>\n</body>\n</html>\n");
}

/* ---- the network page ---- */

/* "N members: a alive, s suspect... M services: u up..." */
static void network_summary(struct page_buf *b, const struct page_member *members, size_t n)
{
	static const char *const states[] = {"unknown", "alive", "suspect", "dead", "left"};
	static const char *const verdicts[] = {"unknown", "up", "degraded", "down"};
	size_t by_state[5] = {0}, by_verdict[4] = {0}, services = 0;

	for (size_t i = 0; i < n; i++) {
		const struct page_member *m = &members[i];

		by_state[(unsigned)m->state < 5 ? m->state : 0]++;
		for (size_t j = 0; j < m->n_services; j++, services++)
			by_verdict[(unsigned)m->services[j].verdict < 4 ? m->services[j].verdict
			                                                : 0]++;
	}
	/* index 0, unknown, comes last: i % 5 runs 1, 2, 3, 4, 0 */
	page_putf(b, "<p class=\"summary\">%zu member%s", n, n == 1 ? "" : "s");
	for (size_t i = 1; i <= 5; i++)
		if (by_state[i % 5])
			page_putf(b, ", %zu %s", by_state[i % 5], states[i % 5]);
	page_putf(b, ". %zu service%s", services, services == 1 ? "" : "s");
	for (size_t i = 1; i <= 4; i++)
		if (by_verdict[i % 4])
			page_putf(b, ", %zu %s", by_verdict[i % 4], verdicts[i % 4]);
	page_puts(b, ".</p>\n");
}

static void service_item(struct page_buf *b, const struct page_member *m,
                         const struct page_service *svc)
{
	const char *word = verdict_name(svc->verdict);

	page_puts(b, "<li class=\"service\" data-service=\"");
	html(b, svc->name, sizeof(svc->name));
	page_putf(b, "\" data-verdict=\"%s\"><a href=\"/member/", word);
	page_url(b, m->peer_id, sizeof(m->peer_id));
	page_puts(b, "#service-");
	page_id(b, svc->name, sizeof(svc->name));
	page_puts(b, "\">");
	badge(b, "v", word);
	page_puts(b, " <bdi>");
	html(b, svc->name, sizeof(svc->name));
	page_puts(b, "</bdi></a></li>\n");
}

static void member_row(struct page_buf *b, const struct page_member *m)
{
	const char *state = proto_member_state_name(m->state);

	page_puts(b, "<tr class=\"member\" id=\"member-");
	page_id(b, m->peer_id, sizeof(m->peer_id));
	page_puts(b, "\" data-peer=\"");
	html(b, m->peer_id, sizeof(m->peer_id));
	page_putf(b, "\" data-state=\"%s\">\n<th scope=\"row\"><a href=\"/member/", state);
	page_url(b, m->peer_id, sizeof(m->peer_id));
	page_puts(b, "\">");
	put_name(b, m->name, sizeof(m->name), "unnamed member");
	page_puts(b, "</a><br><code class=\"peer-id\">");
	html(b, m->peer_id, sizeof(m->peer_id));
	page_puts(b, "</code></th>\n<td>");
	badge(b, "st", state);
	page_puts(b, "</td>\n<td>");
	if (m->n_services == 0)
		page_puts(b, "<span class=\"muted\">none</span>");
	else
		page_puts(b, "<ul class=\"services\">\n");
	for (size_t i = 0; i < m->n_services; i++)
		service_item(b, m, &m->services[i]);
	page_puts(b, m->n_services ? "</ul></td>\n</tr>\n" : "</td>\n</tr>\n");
}

int page_network_html(struct page_buf *out, const struct page_site *site,
                      const struct page_member *members, size_t n)
{
	page_begin(out);
	doc_open(out);
	page_puts(out, "Network status");
	doc_body(out, site, "network");
	page_puts(out, "<header>\n<h1>Network status</h1>\n");
	network_summary(out, members, n);
	page_puts(out, "</header>\n<main>\n");
	if (n == 0)
		page_puts(out, "<p class=\"muted\">No member is known yet.</p>\n");
	else
		page_puts(out, "<div class=\"scroll\">\n<table class=\"members\" id=\"members\">\n"
		               "<caption>Members, their state and their services' verdicts"
		               "</caption>\n<thead><tr><th scope=\"col\">Member</th>"
		               "<th scope=\"col\">State</th><th scope=\"col\">Services</th></tr>"
		               "</thead>\n<tbody>\n");
	for (size_t i = 0; i < n; i++)
		member_row(out, &members[i]);
	if (n)
		page_puts(out, "</tbody>\n</table>\n</div>\n");
	page_puts(out, "</main>\n");
	doc_close(out, site);
	return page_end(out);
}

/* ---- one member's page ---- */

static void legend(struct page_buf *b)
{
	static const enum verdict order[] = {VERDICT_UP, VERDICT_DEGRADED, VERDICT_DOWN,
	                                     VERDICT_UNKNOWN};
	static const char *const what[] = {"up all day", "degraded at some time",
	                                   "down at some time", "no data"};

	page_puts(b, "<ul class=\"legend\" aria-label=\"Legend of the 90-day bars\">\n");
	for (size_t i = 0; i < 4; i++)
		page_putf(b,
		          "<li data-state=\"%s\"><span class=\"swatch\" style=\"background:%s\">"
		          "</span>%s</li>\n",
		          verdict_name(order[i]), fill_of(order[i]), what[i]);
	page_puts(b, "</ul>\n");
}

static void since_line(struct page_buf *b, const struct page_service *svc)
{
	static const char *const title[] = {"Unknown", "Up", "Degraded", "Down"};
	const char *word = title[(unsigned)svc->verdict < 4 ? svc->verdict : 0];
	struct page_time t;

	if (!page_time(&t, svc->since)) {
		page_putf(b, "<p class=\"since\">%s since: unknown</p>\n", word);
		return;
	}
	page_putf(b, "<p class=\"since\">%s since <time datetime=\"%s\">%s</time></p>\n", word,
	          t.iso, t.text);
}

static uint64_t known_s(const struct uptime *u)
{
	return u->up_s + u->degraded_s + u->down_s;
}

static void uptime_line(struct page_buf *b, const struct uptime *u)
{
	uint64_t known = u ? known_s(u) : 0;
	double ratio;
	unsigned long long hundredths;

	if (known == 0) {
		page_puts(b, "<p class=\"uptime\" data-uptime=\"\">Uptime over 90 days: "
		             "<span class=\"muted\">no data yet</span></p>\n");
		return;
	}
	ratio = (double)u->up_s / (double)known;
	/* rounded down: 99.996% must not read as 100% */
	hundredths = (unsigned long long)(ratio * 10000);
	if (hundredths > 10000)
		hundredths = 10000;
	page_putf(b,
	          "<p class=\"uptime\" data-uptime=\"%.6f\" data-up-s=\"%llu\" "
	          "data-known-s=\"%llu\">Uptime over 90 days: <strong>%llu.%02llu%%</strong>"
	          " <span class=\"muted\">(of the time with a verdict)</span></p>\n",
	          ratio, (unsigned long long)u->up_s, (unsigned long long)known, hundredths / 100,
	          hundredths % 100);
}

/* ": up 23h 10m, down 50m, no data for 1h" into the rect's <title>. */
static void day_figures(struct page_buf *b, const struct uptime_day *d)
{
	const uint32_t secs[] = {d->up, d->degraded, d->down, d->unknown};
	static const char *const what[] = {"up", "degraded", "down", "no data for"};
	const char *sep = ": ";
	char dur[48];

	if (!d->up && !d->degraded && !d->down) {
		page_puts(b, d->unknown ? ": no data" : ": no data yet");
		return;
	}
	for (size_t i = 0; i < 4; i++) {
		if (!secs[i])
			continue;
		page_duration(dur, sizeof(dur), secs[i]);
		page_putf(b, "%s%s %s", sep, what[i], dur);
		sep = ", ";
	}
}

static void day_rect(struct page_buf *b, const struct uptime_day *d, size_t i, bool today)
{
	enum verdict worst = uptime_day_worst(d);
	const char *word = verdict_name(worst);
	struct page_time t;

	page_day(&t, d->start);
	page_putf(b,
	          "<rect class=\"day d-%s\" x=\"%zu\" y=\"0\" width=\"%d\" height=\"%d\" rx=\"1\" "
	          "fill=\"%s\" data-day=\"%s\" data-state=\"%s\"><title>%s%s",
	          word, i * BAR_W, BAR_W - 1, BAR_H, fill_of(worst), t.date, word, t.date,
	          today ? " (today, so far)" : "");
	day_figures(b, d);
	page_puts(b, "</title></rect>\n");
}

static void history_bar(struct page_buf *b, const struct page_service *svc, const struct uptime *u)
{
	size_t worst[4] = {0};

	for (size_t i = 0; i < UPTIME_DAYS; i++)
		worst[uptime_day_worst(&u->days[i])]++;
	page_putf(b,
	          "<figure>\n<svg class=\"bar\" viewBox=\"0 0 %d %d\" preserveAspectRatio=\"none\" "
	          "role=\"img\" aria-label=\"",
	          UPTIME_DAYS * BAR_W - 1, BAR_H);
	html(b, svc->name, sizeof(svc->name));
	page_putf(b,
	          ", last %d days: %zu up all day, %zu degraded, %zu down, %zu without data\">\n",
	          UPTIME_DAYS, worst[VERDICT_UP], worst[VERDICT_DEGRADED], worst[VERDICT_DOWN],
	          worst[VERDICT_UNKNOWN]);
	for (size_t i = 0; i < UPTIME_DAYS; i++)
		day_rect(b, &u->days[i], i, i == UPTIME_DAYS - 1);
	page_putf(b,
	          "</svg>\n<figcaption><span>%d days ago</span><span>today</span></figcaption>\n"
	          "</figure>\n",
	          UPTIME_DAYS - 1);
}

static void observer_row(struct page_buf *b, const struct page_site *site,
                         const struct page_observer *o)
{
	const char *word = proto_status_name(o->status);
	struct page_time t;
	char age[32];

	page_puts(b, "<tr class=\"observer\" data-peer=\"");
	html(b, o->peer_id, sizeof(o->peer_id));
	page_putf(b, "\" data-status=\"%s\">\n<th scope=\"row\">", word);
	put_name(b, o->name, sizeof(o->name), "unnamed");
	page_puts(b, " <code class=\"peer-id\" title=\"");
	html(b, o->peer_id, sizeof(o->peer_id));
	page_puts(b, "\">");
	html(b, o->peer_id, PROTO_PEERID_SHORT_LEN);
	page_puts(b, "</code></th>\n<td data-label=\"Status\">");
	badge(b, "v", word);
	if (o->status)
		page_putf(b, "</td>\n<td data-label=\"Latency\" data-ms=\"%lu\">%lu ms</td>\n",
		          (unsigned long)o->latency_ms, (unsigned long)o->latency_ms);
	else
		page_puts(b, "</td>\n<td data-label=\"Latency\" data-ms=\"\">\xe2\x80\x94</td>\n");
	page_putf(b, "<td data-label=\"Checked\" data-at=\"%llu\">",
	          (unsigned long long)o->checked_at);
	put_time(b, o->checked_at);
	if (page_time(&t, o->checked_at)) {
		page_age(age, sizeof(age), site->now, o->checked_at);
		page_putf(b, " <span class=\"muted\">(%s)</span>", age);
	}
	page_puts(b, "</td>\n<td data-label=\"Error\" class=\"error\">");
	if (strnlen(o->error, sizeof(o->error)))
		put_name(b, o->error, sizeof(o->error), "");
	else
		page_puts(b, "<span class=\"muted\">\xe2\x80\x94</span>");
	page_puts(b, "</td>\n</tr>\n");
}

static void observers_table(struct page_buf *b, const struct page_site *site,
                            const struct page_service *svc)
{
	if (svc->n_observers == 0) {
		page_puts(b,
		          "<p class=\"muted\">No observer has reported on this service yet.</p>\n");
		return;
	}
	page_puts(b, "<div class=\"scroll\">\n<table class=\"observers\">\n"
	             "<caption>What each observer sees</caption>\n<thead><tr>"
	             "<th scope=\"col\">Observer</th><th scope=\"col\">Status</th>"
	             "<th scope=\"col\">Latency</th><th scope=\"col\">Checked</th>"
	             "<th scope=\"col\">Error</th></tr></thead>\n<tbody>\n");
	for (size_t i = 0; i < svc->n_observers; i++)
		observer_row(b, site, &svc->observers[i]);
	page_puts(b, "</tbody>\n</table>\n</div>\n");
}

static void service_section(struct page_buf *b, const struct page_site *site,
                            const struct page_service *svc)
{
	const char *word = verdict_name(svc->verdict);
	const struct uptime *u = svc->uptime;
	struct page_time t;
	struct uptime none;

	page_puts(b, "<section class=\"service\" id=\"service-");
	page_id(b, svc->name, sizeof(svc->name));
	page_puts(b, "\" aria-labelledby=\"service-");
	page_id(b, svc->name, sizeof(svc->name));
	page_puts(b, "-title\" data-service=\"");
	html(b, svc->name, sizeof(svc->name));
	page_putf(b, "\" data-verdict=\"%s\" data-since=\"", word);
	if (page_time(&t, svc->since))
		page_putf(b, "%llu", (unsigned long long)svc->since);
	page_puts(b, "\">\n<h2 id=\"service-");
	page_id(b, svc->name, sizeof(svc->name));
	page_puts(b, "-title\"><bdi>");
	html(b, svc->name, sizeof(svc->name));
	page_puts(b, "</bdi> ");
	badge(b, "v", word);
	page_puts(b, "</h2>\n");
	since_line(b, svc);
	uptime_line(b, u);
	/* Without a history the bar still has its 90 days, all without data. */
	if (!u && uptime_compute(&none, NULL, 0, site->now) == 0)
		u = &none;
	if (u)
		history_bar(b, svc, u);
	observers_table(b, site, svc);
	page_puts(b, "</section>\n");
}

static void member_header(struct page_buf *b, const struct page_member *m)
{
	const char *state = proto_member_state_name(m->state);

	page_puts(b, "<header>\n<nav aria-label=\"Breadcrumb\"><a href=\"/\">\xe2\x86\x90 Network"
	             "</a></nav>\n<h1>");
	put_name(b, m->name, sizeof(m->name), "Unnamed member");
	page_puts(b, "</h1>\n<p class=\"member-meta\">");
	badge(b, "st", state);
	page_puts(b, " <code class=\"peer-id\">");
	html(b, m->peer_id, sizeof(m->peer_id));
	page_putf(b, "</code> \xc2\xb7 %zu service%s</p>\n</header>\n", m->n_services,
	          m->n_services == 1 ? "" : "s");
}

int page_member_html(struct page_buf *out, const struct page_site *site,
                     const struct page_member *m)
{
	page_begin(out);
	doc_open(out);
	if (strnlen(m->name, sizeof(m->name)))
		html(out, m->name, sizeof(m->name));
	else
		page_puts(out, "Unnamed member");
	doc_body(out, site, "member");
	member_header(out, m);
	page_puts(out, "<main class=\"member\" data-peer=\"");
	html(out, m->peer_id, sizeof(m->peer_id));
	page_putf(out, "\" data-state=\"%s\">\n", proto_member_state_name(m->state));
	if (m->n_services == 0)
		page_puts(out, "<p class=\"muted\">This member has no service known here.</p>\n");
	else
		legend(out);
	for (size_t i = 0; i < m->n_services; i++)
		service_section(out, site, &m->services[i]);
	page_puts(out, "</main>\n");
	doc_close(out, site);
	return page_end(out);
}
