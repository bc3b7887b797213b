/* The status pages: what each page must hold, hostile text cleaned and
 * escaped (markup, quotes, control characters, invalid UTF-8, bidi
 * overrides, fields without a NUL), the 90-day bar with a rect per day in
 * the right state, JSON that jansson parses and that gives back the
 * model's figures, and the size cap. With KITH_PAGE_OUT set to a
 * directory, the example pages are written there to be looked at. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "agent/http/page.h"
#include "agent/http/page_int.h"
#include "proto/error.h"
#include "proto/utf8.h"
#include "rng.h"
#include "tap.h"

#define DAY UPTIME_DAY_S
/* 2026-12-04 14:30:00 UTC */
#define NOW ((uint64_t)20791 * DAY + 14 * 3600 + 1800)
#define TODAY (NOW / DAY * DAY)

#define ID_A "AAAAAAA-BBBBBBB-CCCCCCC-DDDDDDD-EEEEEEE-FFFFFFF-GGGGGGG-HHHHHHH"
#define ID_B "BBBBBBB-BBBBBBB-CCCCCCC-DDDDDDD-EEEEEEE-FFFFFFF-GGGGGGG-HHHHHHH"
#define ID_H "HHHHHHH-BBBBBBB-CCCCCCC-DDDDDDD-EEEEEEE-FFFFFFF-GGGGGGG-HHHHHHH"
#define ID_O1 "OOOOOOO-BBBBBBB-CCCCCCC-DDDDDDD-EEEEEEE-FFFFFFF-GGGGGGG-HHHHHHH"
#define ID_O2 "PPPPPPP-BBBBBBB-CCCCCCC-DDDDDDD-EEEEEEE-FFFFFFF-GGGGGGG-HHHHHHH"

/* Markup, quotes, an ampersand, a control character, a byte that is not
 * UTF-8, a right-to-left override and a line break. */
#define HOSTILE "<script>alert(\"x\")</script>&'\x01\xff\xe2\x80\xaegnp.exe\n"
#define HOSTILE_HTML                                                                               \
	"&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;\xef\xbf\xbd\xef\xbf\xbd"      \
	"\xef\xbf\xbdgnp.exe "
/* The same as JSON decodes it. */
#define HOSTILE_CLEAN "<script>alert(\"x\")</script>&'\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdgnp.exe "

/* ---- the model ---- */

static struct page_site site;
static struct page_observer obs_web[3], obs_hostile[1];
static struct uptime up_web, up_mail;
static struct page_service svc_a[2], svc_h[1];
static struct page_member members[3];

static void model(void)
{
	/* web: up for 60 days, degraded yesterday afternoon, down since 10:00 */
	const struct uptime_transition web[] = {
	    {TODAY - 60 * DAY, VERDICT_UP},
	    {TODAY - DAY + 15 * 3600, VERDICT_DEGRADED},
	    {TODAY - DAY + 16 * 3600, VERDICT_UP},
	    {TODAY + 10 * 3600, VERDICT_DOWN},
	};
	const struct uptime_transition mail[] = {{TODAY - 3 * DAY + 7200, VERDICT_UP}};

	site = (struct page_site){.now = NOW, .peer_id = ID_B, .name = "bob"};
	uptime_compute(&up_web, web, 4, NOW);
	uptime_compute(&up_mail, mail, 1, NOW);
	obs_web[0] = (struct page_observer){ID_B, "bob",    PROTO_STATUS_DOWN,
	                                    5012, NOW - 40, "connect: connection refused"};
	obs_web[1] =
	    (struct page_observer){ID_H, HOSTILE, PROTO_STATUS_DOWN, 30000, NOW - 300, HOSTILE};
	obs_web[2] = (struct page_observer){ID_O2, "", 0, 0, 0, ""};
	obs_hostile[0] = (struct page_observer){ID_O1, "carol", PROTO_STATUS_UP, 12, NOW + 30, ""};
	svc_a[0] =
	    (struct page_service){"web", VERDICT_DOWN, TODAY + 10 * 3600, &up_web, 3, obs_web};
	svc_a[1] =
	    (struct page_service){"mail", VERDICT_UP, TODAY - 3 * DAY + 7200, &up_mail, 0, NULL};
	svc_h[0] = (struct page_service){"a\"b<c>", VERDICT_DEGRADED, 0, NULL, 1, obs_hostile};
	members[0] = (struct page_member){ID_A, "alice", PROTO_STATE_ALIVE, 2, svc_a};
	members[1] = (struct page_member){ID_B, "bob", PROTO_STATE_DEAD, 0, NULL};
	members[2] = (struct page_member){ID_H, HOSTILE, PROTO_STATE_SUSPECT, 1, svc_h};
}

/* ---- helpers ---- */

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0, len = strlen(needle);

	for (const char *p = strstr(hay, needle); p; p = strstr(p + len, needle))
		n++;
	return n;
}

static bool has(const char *hay, const char *needle)
{
	return strstr(hay, needle) != NULL;
}

/* Valid UTF-8 with no control character but \n, no bidi override. */
static bool clean_text(const char *s, size_t len)
{
	const uint8_t *p = (const uint8_t *)s;

	for (size_t i = 0; i < len;) {
		uint32_t c;
		size_t n = proto_utf8_seq(p + i, len - i, &c);

		if (n == 0 || (c < 0x20 && c != '\n') || c == 0x7f || (c >= 0x80 && c < 0xa0) ||
		    (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069))
			return false;
		i += n;
	}
	return true;
}

/* An event handler attribute: " on" letters "=". */
static bool has_handler(const char *s)
{
	for (const char *p = strstr(s, " on"); p; p = strstr(p + 1, " on")) {
		const char *q = p + 3;

		while (*q >= 'a' && *q <= 'z')
			q++;
		if (q > p + 3 && *q == '=')
			return true;
	}
	return false;
}

/* Nothing that runs or loads: no script, no handler, no external URL. */
static bool inert(const char *s)
{
	static const char *const bad[] = {
	    "<script", "javascript:", "http:", "https:", "src=", "<link", "url(", "@import"};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (strstr(s, bad[i])) {
			printf("#   found %s\n", bad[i]);
			return false;
		}
	return !has_handler(s);
}

/* Runs page_text() on s and compares with want. */
static bool text_is(const char *s, size_t size, enum page_esc esc, const char *want)
{
	struct page_buf b = {0};
	bool good;

	page_begin(&b);
	page_text(&b, s, size, esc);
	good = page_end(&b) == 0 && strcmp(b.data, want) == 0;
	if (!good)
		printf("#   got \"%s\"\n", b.data ? b.data : "(null)");
	page_buf_free(&b);
	return good;
}

static void write_example(const char *name, const struct page_buf *b)
{
	const char *dir = getenv("KITH_PAGE_OUT");
	char path[512];
	FILE *f;

	if (!dir)
		return;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (f) {
		fwrite(b->data, 1, b->len, f);
		fclose(f);
		printf("# wrote %s\n", path);
	}
}

/* ---- escaping ---- */

static void test_escaping(void)
{
	const char full[4] = {'a', 'b', 'c', 'd'}; /* no NUL */
	struct page_buf b = {0};

	ok(text_is("a<b>&\"'c", 64, PAGE_ESC_HTML, "a&lt;b&gt;&amp;&quot;&#39;c"), "HTML: markup");
	ok(text_is("caf\xc3\xa9 \xe6\x97\xa5\xf0\x9f\x98\x80", 64, PAGE_ESC_HTML,
	           "caf\xc3\xa9 \xe6\x97\xa5\xf0\x9f\x98\x80"),
	   "HTML: valid UTF-8 passes");
	ok(text_is("a\x01"
	           "b\x7f"
	           "c\xc2\x85"
	           "d",
	           64, PAGE_ESC_HTML,
	           "a\xef\xbf\xbd"
	           "b\xef\xbf\xbd"
	           "c\xef\xbf\xbd"
	           "d"),
	   "C0, DEL and C1 controls: U+FFFD");
	ok(text_is("a\tb\nc\rd", 64, PAGE_ESC_HTML, "a b c d"), "tab, LF, CR: spaces");
	ok(text_is("\xff|\xc3|\xc0\xaf|\xed\xa0\x80|\xf4\x90\x80\x80", 64, PAGE_ESC_HTML,
	           "\xef\xbf\xbd|\xef\xbf\xbd|\xef\xbf\xbd\xef\xbf\xbd|"
	           "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd|"
	           "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"),
	   "invalid, cut, overlong, surrogate, past U+10FFFF: U+FFFD per byte");
	ok(text_is("a\xe2\x80\xae"
	           "b\xe2\x81\xa6"
	           "c\xe2\x80\x8f",
	           64, PAGE_ESC_HTML,
	           "a\xef\xbf\xbd"
	           "b\xef\xbf\xbd"
	           "c\xe2\x80\x8f"),
	   "bidi override and isolate replaced; a plain RLM mark kept");
	ok(text_is("caf\xc3\xa9", 4, PAGE_ESC_HTML, "caf\xef\xbf\xbd"),
	   "a character cut by the field's end: U+FFFD");
	ok(text_is(full, sizeof(full), PAGE_ESC_HTML, "abcd"),
	   "a field without a NUL ends at its size");
	ok(text_is("a\"b\\c</script>&\xe2\x80\xa8", 64, PAGE_ESC_JSON,
	           "a\\\"b\\\\c\\u003c/script\\u003e\\u0026\\u2028"),
	   "JSON: quotes, backslash, < > &, U+2028");
	ok(text_is("\x01\xff", 64, PAGE_ESC_JSON, "\xef\xbf\xbd\xef\xbf\xbd"),
	   "JSON: controls and bad bytes cleaned the same way");

	page_begin(&b);
	page_url(&b, "AB-c d/\xc3\xa9\"", 64);
	ok(page_end(&b) == 0 && strcmp(b.data, "AB-c%20d%2F%C3%A9%22") == 0,
	   "a URL segment percent-encodes all but A-Z a-z 0-9 -");
	page_begin(&b);
	page_id(&b, "web.v2_x-Y <\"", 64);
	ok(page_end(&b) == 0 && strcmp(b.data, "web.v2_x-Y___") == 0, "an id keeps its characters");
	page_buf_free(&b);
}

/* Random bytes, mostly ASCII with markup and high bytes mixed in: the
 * HTML never holds a raw < > " ' or a bare &, and the JSON string always
 * parses, both as clean UTF-8. */
static void test_random_text(void)
{
	static const char pool[] =
	    "<>&\"'\\/\n\t\x01\x7f\x80\xc3\xa9\xe2\x80\xae\xf0\x9f\x98\x80\xff";
	struct page_buf h = {0}, j = {0};
	bool good = true;

	for (int round = 0; round < 2000 && good; round++) {
		char s[64];
		size_t n = rng_next() % sizeof(s);
		json_t *v;

		for (size_t i = 0; i < n; i++)
			s[i] = rng_next() % 3 ? (char)(' ' + rng_next() % 95)
			                      : pool[rng_next() % (sizeof(pool) - 1)];
		page_begin(&h);
		page_text(&h, s, n, PAGE_ESC_HTML);
		page_begin(&j);
		page_puts(&j, "\"");
		page_text(&j, s, n, PAGE_ESC_JSON);
		page_puts(&j, "\"");
		if (page_end(&h) != 0 || page_end(&j) != 0)
			break;
		v = json_loads(j.data, JSON_DECODE_ANY, NULL);
		good = clean_text(h.data, h.len) && clean_text(j.data, j.len) && v &&
		       !strpbrk(h.data, "<>\"'") && !strpbrk(j.data, "<>&");
		for (const char *a = strchr(h.data, '&'); good && a; a = strchr(a + 1, '&'))
			good = !strncmp(a, "&amp;", 5) || !strncmp(a, "&lt;", 4) ||
			       !strncmp(a, "&gt;", 4) || !strncmp(a, "&quot;", 6) ||
			       !strncmp(a, "&#39;", 5);
		json_decref(v);
	}
	ok(good, "2000 random texts: clean, escaped HTML and parsing JSON");
	page_buf_free(&h);
	page_buf_free(&j);
}

/* ---- HTML ---- */

static void test_network_html(void)
{
	struct page_buf b = {0};

	is(page_network_html(&b, &site, members, 3), 0, "network page");
	if (!b.data)
		return;
	ok(b.len == strlen(b.data), "its length, and no NUL inside");
	ok(!strncmp(b.data, "<!DOCTYPE html>\n<html lang=\"en\">", 32), "a document in English");
	ok(has(b.data, "<meta name=\"viewport\""), "sized for phones");
	ok(has(b.data, "Content-Security-Policy\" content=\"default-src 'none'"), "with a CSP");
	ok(has(b.data, "<body data-page=\"network\" data-generated=\"1796394600\">"),
	   "body says which page and when");
	ok(has(b.data, "<h1>Network status</h1>"), "a heading");
	ok(has(b.data, "3 members, 1 alive, 1 suspect, 1 dead. 3 services, 1 up, 1 degraded, "
	               "1 down."),
	   "a summary");
	ok(has(b.data, "<th scope=\"col\">Member</th>"), "a table with column headers");
	ok(has(b.data, "<tr class=\"member\" id=\"member-" ID_A "\" data-peer=\"" ID_A
	               "\" data-state=\"alive\">"),
	   "alice's row, alive");
	ok(has(b.data, "<a href=\"/member/" ID_A "\"><bdi>alice</bdi></a>"), "links to her page");
	ok(has(b.data, "data-peer=\"" ID_B "\" data-state=\"dead\""), "bob, dead");
	ok(has(b.data, "<li class=\"service\" data-service=\"web\" data-verdict=\"down\">"
	               "<a href=\"/member/" ID_A "#service-web\">"),
	   "alice's web, down, linking to its section");
	ok(has(b.data, "data-service=\"mail\" data-verdict=\"up\""), "alice's mail, up");
	ok(has(b.data, "<span class=\"badge v-down\">down</span>"), "a verdict badge");
	ok(has(b.data, "<bdi>" HOSTILE_HTML "</bdi>"), "the hostile name escaped and cleaned");
	ok(has(b.data, "data-service=\"a&quot;b&lt;c&gt;\" data-verdict=\"degraded\""),
	   "a hostile service name escaped in its attribute");
	ok(has(b.data, "#service-a_b_c_\""), "and made an id");
	ok(inert(b.data), "nothing runs, nothing loads");
	ok(clean_text(b.data, b.len), "valid UTF-8, no control character, no bidi override");
	ok(has(b.data, "Served by <bdi>bob</bdi>"), "says who serves it");
	write_example("network.html", &b);
	page_buf_free(&b);

	is(page_network_html(&b, &site, NULL, 0), 0, "a network with no member");
	ok(b.data && has(b.data, "No member is known yet."), "says so");
	page_buf_free(&b);
}

/* The rects of the section of service name, in order: their data-day and
 * data-state checked against u. */
static bool bar_matches(const char *page, const char *name, const struct uptime *u)
{
	char start[96], date[16], state[16];
	const char *p, *end;
	size_t i = 0;

	snprintf(start, sizeof(start), "<section class=\"service\" id=\"service-%s\"", name);
	p = strstr(page, start);
	end = p ? strstr(p, "</svg>") : NULL;
	if (!p || !end)
		return false;
	for (p = strstr(p, "<rect class=\"day"); p && p < end;
	     p = strstr(p + 1, "<rect class=\"day"), i++) {
		struct page_time t;
		const char *d = strstr(p, "data-day=\""), *s = strstr(p, "data-state=\"");

		if (i >= UPTIME_DAYS || !d || !s ||
		    sscanf(d, "data-day=\"%10[0-9-]\"", date) != 1 ||
		    sscanf(s, "data-state=\"%15[a-z]\"", state) != 1)
			return false;
		page_day(&t, u->days[i].start);
		if (strcmp(date, t.date) != 0 ||
		    strcmp(state, verdict_name(uptime_day_worst(&u->days[i]))) != 0) {
			printf("#   rect %zu: %s %s\n", i, date, state);
			return false;
		}
	}
	return i == UPTIME_DAYS;
}

static void test_member_html(void)
{
	struct page_buf b = {0};
	const char *svg;

	is(page_member_html(&b, &site, &members[0]), 0, "alice's page");
	if (!b.data)
		return;
	ok(has(b.data, "<title>alice \xc2\xb7 kith</title>"), "titled with her name");
	ok(has(b.data, "<a href=\"/\">"), "a way back to the network");
	ok(has(b.data, "<h1><bdi>alice</bdi></h1>"), "her name as the heading");
	ok(has(b.data, "<span class=\"badge st-alive\">alive</span> <code class=\"peer-id\">" ID_A
	               "</code>"),
	   "her state and peer ID");
	ok(has(b.data, "<section class=\"service\" id=\"service-web\" "
	               "aria-labelledby=\"service-web-title\" data-service=\"web\" "
	               "data-verdict=\"down\" data-since=\"1796378400\">"),
	   "web's section: its verdict and since when");
	ok(has(b.data, "<h2 id=\"service-web-title\"><bdi>web</bdi> "
	               "<span class=\"badge v-down\">down</span></h2>"),
	   "a heading per service");
	ok(has(b.data, "Down since <time datetime=\"2026-12-04T10:00:00Z\">2026-12-04 10:00:00 "
	               "UTC</time>"),
	   "since as an absolute UTC time");
	is(count(b.data, "<rect class=\"day"), 2 * UPTIME_DAYS, "90 rects per service");
	is(count(b.data, "</title></rect>"), 2 * UPTIME_DAYS, "each with a tooltip");
	ok(bar_matches(b.data, "web", &up_web), "web's rects: every day's date and worst state");
	ok(bar_matches(b.data, "mail", &up_mail), "mail's too");
	ok(has(b.data, "data-day=\"2026-12-04\" data-state=\"down\"><title>2026-12-04 (today, so "
	               "far): up 10h, down 4h 30m</title>"),
	   "today: down, with its figures so far");
	ok(has(b.data, "data-day=\"2026-12-03\" data-state=\"degraded\"><title>2026-12-03: up 23h, "
	               "degraded 1h</title>"),
	   "yesterday: degraded");
	ok(has(b.data, "data-state=\"unknown\"><title>2026-10-04: no data</title>"),
	   "a day before the history: no data");
	svg = strstr(b.data, "<svg class=\"bar\"");
	ok(svg && has(svg, "role=\"img\" aria-label=\"web, last 90 days: 59 up all day, "
	                   "1 degraded, 1 down, 29 without data\">"),
	   "the bar is an image with a label that says it all");
	ok(has(b.data, "<p class=\"uptime\" data-uptime=\"0.996219\" data-up-s=\"5216400\" "
	               "data-known-s=\"5236200\">Uptime over 90 days: <strong>99.62%</strong>"),
	   "web's uptime, rounded down");
	ok(has(b.data, "<ul class=\"legend\""), "a legend");
	ok(has(b.data, "<th scope=\"col\">Observer</th>"), "the observers' table");
	ok(has(b.data, "<tr class=\"observer\" data-peer=\"" ID_B "\" data-status=\"down\">"),
	   "bob's view: down");
	ok(has(b.data, "data-ms=\"5012\">5012 ms</td>"), "with its latency");
	ok(has(b.data, "<time datetime=\"2026-12-04T14:29:20Z\">2026-12-04 14:29:20 UTC</time> "
	               "<span class=\"muted\">(40s ago)</span>"),
	   "when it checked");
	ok(has(b.data, "<bdi>connect: connection refused</bdi>"), "and its error");
	ok(has(b.data, "<th scope=\"row\"><bdi>" HOSTILE_HTML "</bdi>"),
	   "a hostile observer name escaped");
	ok(has(b.data, "class=\"error\"><bdi>" HOSTILE_HTML "</bdi>"), "a hostile error escaped");
	ok(has(b.data, "data-status=\"unknown\">\n<th scope=\"row\"><span class=\"muted\">unnamed"
	               "</span>"),
	   "an observer with no word and no name");
	ok(has(b.data, "<p class=\"muted\">No observer has reported on this service yet.</p>"),
	   "mail has no observer");
	ok(inert(b.data), "nothing runs, nothing loads");
	ok(clean_text(b.data, b.len), "valid UTF-8, no control character");
	write_example("member.html", &b);

	is(page_member_html(&b, &site, &members[2]), 0, "the hostile member's page, same buffer");
	ok(has(b.data, "<title>" HOSTILE_HTML " \xc2\xb7 kith</title>"), "the title escaped");
	ok(has(b.data, "id=\"service-a_b_c_\""), "the service's id");
	ok(has(b.data, "Degraded since: unknown"), "since 0: unknown");
	ok(has(b.data, "data-uptime=\"\">Uptime over 90 days: <span class=\"muted\">no data yet"),
	   "no history: no uptime");
	is(count(b.data, "<rect class=\"day d-unknown"), UPTIME_DAYS, "90 days without data");
	ok(has(b.data, "(in the future)"), "a check from a clock ahead of ours");
	ok(inert(b.data), "nothing runs");
	ok(clean_text(b.data, b.len), "clean text");
	page_buf_free(&b);

	is(page_member_html(&b, &site, &members[1]), 0, "a member without services");
	ok(b.data && has(b.data, "This member has no service known here."), "says so");
	ok(has(b.data, "<span class=\"badge st-dead\">dead</span>"), "dead");
	page_buf_free(&b);
}

/* ---- JSON ---- */

static const char *jstr_of(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static long long jint_of(json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

static void test_network_json(void)
{
	struct page_buf b = {0};
	json_error_t err;
	json_t *root, *ms, *h;

	is(page_network_json(&b, &site, members, 3), 0, "network JSON");
	root = b.data ? json_loads(b.data, 0, &err) : NULL;
	ok(root != NULL, "parses");
	if (!root) {
		printf("#   %s\n", err.text);
		page_buf_free(&b);
		return;
	}
	is(jint_of(root, "generated_at"), NOW, "generated_at");
	ok(!strcmp(jstr_of(json_object_get(root, "self"), "name"), "bob"), "self");
	ms = json_object_get(root, "members");
	is(json_array_size(ms), 3, "three members");
	ok(!strcmp(jstr_of(json_array_get(ms, 0), "peer_id"), ID_A), "alice's peer ID");
	ok(!strcmp(jstr_of(json_array_get(ms, 0), "state"), "alive"), "alive");
	ok(!strcmp(jstr_of(json_array_get(json_object_get(json_array_get(ms, 0), "services"), 0),
	                   "verdict"),
	           "down"),
	   "web down");
	is(jint_of(json_array_get(json_object_get(json_array_get(ms, 0), "services"), 0), "since"),
	   TODAY + 10 * 3600, "since, in Unix seconds");
	h = json_array_get(ms, 2);
	ok(!strcmp(jstr_of(h, "name"), HOSTILE_CLEAN), "the hostile name, cleaned");
	ok(json_is_null(
	       json_object_get(json_array_get(json_object_get(h, "services"), 0), "since")),
	   "an unknown since is null");
	ok(!has(b.data, "<") && !has(b.data, ">") && !has(b.data, "&"),
	   "no < > & in the bytes: inert inside HTML too");
	ok(clean_text(b.data, b.len), "valid UTF-8, no control character");
	json_decref(root);
	page_buf_free(&b);
}

/* Does the JSON uptime u_json give back u? */
static bool uptime_round_trips(json_t *uj, const struct uptime *u)
{
	json_t *days = json_object_get(uj, "days");

	if (json_number_value(json_object_get(uj, "ratio")) != u->ratio ||
	    jint_of(uj, "up_s") != (long long)u->up_s ||
	    jint_of(uj, "down_s") != (long long)u->down_s ||
	    jint_of(uj, "degraded_s") != (long long)u->degraded_s ||
	    jint_of(uj, "unknown_s") != (long long)u->unknown_s ||
	    json_array_size(days) != UPTIME_DAYS)
		return false;
	for (size_t i = 0; i < UPTIME_DAYS; i++) {
		json_t *d = json_array_get(days, i);
		const struct uptime_day *ud = &u->days[i];
		struct page_time t;

		page_day(&t, ud->start);
		if (jint_of(d, "start") != (long long)ud->start ||
		    strcmp(jstr_of(d, "date"), t.date) || jint_of(d, "up") != ud->up ||
		    jint_of(d, "degraded") != ud->degraded || jint_of(d, "down") != ud->down ||
		    jint_of(d, "unknown") != ud->unknown ||
		    strcmp(jstr_of(d, "state"), verdict_name(uptime_day_worst(ud))))
			return false;
	}
	return true;
}

static void test_member_json(void)
{
	struct page_buf b = {0};
	json_error_t err;
	json_t *root, *m, *web, *obs;

	is(page_member_json(&b, &site, &members[0]), 0, "alice's JSON");
	root = b.data ? json_loads(b.data, 0, &err) : NULL;
	ok(root != NULL, "parses");
	if (!root) {
		printf("#   %s\n", err.text);
		page_buf_free(&b);
		return;
	}
	m = json_object_get(root, "member");
	ok(!strcmp(jstr_of(m, "name"), "alice"), "her name");
	web = json_array_get(json_object_get(m, "services"), 0);
	ok(!strcmp(jstr_of(web, "name"), "web") && !strcmp(jstr_of(web, "verdict"), "down"),
	   "web, down");
	ok(uptime_round_trips(json_object_get(web, "uptime"), &up_web),
	   "web's 90 days and ratio round-trip exactly");
	ok(uptime_round_trips(
	       json_object_get(json_array_get(json_object_get(m, "services"), 1), "uptime"),
	       &up_mail),
	   "mail's too");
	obs = json_object_get(web, "observers");
	is(json_array_size(obs), 3, "three observers");
	ok(!strcmp(jstr_of(json_array_get(obs, 0), "status"), "down"), "bob says down");
	is(jint_of(json_array_get(obs, 0), "latency_ms"), 5012, "latency");
	is(jint_of(json_array_get(obs, 0), "checked_at"), NOW - 40, "checked_at");
	ok(!strcmp(jstr_of(json_array_get(obs, 0), "error"), "connect: connection refused"),
	   "the error");
	ok(!strcmp(jstr_of(json_array_get(obs, 1), "error"), HOSTILE_CLEAN),
	   "a hostile error, cleaned");
	ok(json_is_null(json_object_get(json_array_get(obs, 2), "latency_ms")) &&
	       json_is_null(json_object_get(json_array_get(obs, 2), "checked_at")),
	   "no word: null latency and time");
	json_decref(root);

	is(page_member_json(&b, &site, &members[2]), 0, "the hostile member's JSON");
	root = b.data ? json_loads(b.data, 0, &err) : NULL;
	ok(root != NULL, "parses");
	m = json_object_get(root, "member");
	web = json_array_get(json_object_get(m, "services"), 0);
	ok(!strcmp(jstr_of(web, "name"), "a\"b<c>"), "the service name back as it was");
	ok(json_is_null(json_object_get(web, "uptime")), "no history: null");
	json_decref(root);
	page_buf_free(&b);
}

/* ---- the cap ---- */

static void test_cap(void)
{
	enum { N_SVC = 24, N_OBS = 256 };
	static struct page_observer many[N_OBS];
	static struct page_service svcs[N_SVC];
	struct page_member big = {ID_A, "big", PROTO_STATE_ALIVE, N_SVC, svcs};
	struct page_buf b = {.max = 1000};

	is(page_member_html(&b, &site, &members[0]), KITH_ETOOBIG, "a page over max: KITH_ETOOBIG");
	ok(b.data == NULL && b.len == 0 && b.cap == 0, "refused whole: nothing left in the buffer");
	is(b.max, 1000, "the cap stays");
	is(page_member_json(&b, &site, &members[0]), KITH_ETOOBIG, "JSON too");
	b.max = 0;
	is(page_member_html(&b, &site, &members[0]), 0, "the default cap is larger");
	page_buf_free(&b);

	for (size_t i = 0; i < N_OBS; i++) {
		many[i] = (struct page_observer){ID_B, "", PROTO_STATUS_DOWN, 1, NOW, ""};
		memset(many[i].name, '<', PROTO_MEMBER_NAME_MAX);
		memset(many[i].error, '<', PROTO_ERRTEXT_MAX);
	}
	for (size_t i = 0; i < N_SVC; i++)
		svcs[i] = (struct page_service){"web", VERDICT_DOWN, NOW, &up_web, N_OBS, many};
	is(page_member_html(&b, &site, &big), KITH_ETOOBIG,
	   "24 services of 256 observers with long hostile texts: over 4 MiB, refused");
	ok(b.data == NULL && b.len == 0, "nothing half-written");
	is(page_member_json(&b, &site, &big), KITH_ETOOBIG, "as JSON too");
	big.n_services = 1;
	is(page_member_html(&b, &site, &big), 0, "one such service fits");
	ok(b.len > 256 * 1000 && b.len <= PAGE_SIZE_MAX, "at over 256 kB");
	page_buf_free(&b);
	page_buf_free(&b);
	ok(b.data == NULL, "page_buf_free twice is harmless");
}

int main(void)
{
	model();
	test_escaping();
	test_random_text();
	test_network_html();
	test_member_html();
	test_network_json();
	test_member_json();
	test_cap();
	return tap_done();
}
