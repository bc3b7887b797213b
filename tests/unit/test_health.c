/* Health checks against real servers on 127.0.0.1: a tiny HTTP/1.1 server
 * driven by the same loop as the checks (status, body, delay, silence),
 * closed ports, openssl s_server for TLS. Also web.c on its own, and the
 * certificate date parser. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "agent/monitor/health.h"
#include "agent/core/loop.h"
#include "agent/core/web.h"
#include "proto/error.h"
#include "tap.h"

/* A tiny HTTP/1.1 server ------------------------------------------------- */

struct srv;

struct conn {
	struct srv *s;
	int fd;
	char in[8192];
	size_t in_len;
	char *out;
	size_t out_len, out_off;
	struct loop_timer delay;
	struct conn *next;
};

struct srv {
	struct loop *l;
	int fd;
	uint16_t port;
	int status;
	const char *body;
	size_t body_len;
	uint32_t delay_ms;
	bool silent; /* reads requests, never answers */
	unsigned accepts, requests;
	char last_request[1024];
	struct conn *conns;
};

static void conn_close(struct conn *c)
{
	struct srv *s = c->s;

	for (struct conn **p = &s->conns; *p; p = &(*p)->next)
		if (*p == c) {
			*p = c->next;
			break;
		}
	loop_unwatch(s->l, NULL, c->fd);
	loop_timer_stop(s->l, &c->delay);
	close(c->fd);
	free(c->out);
	free(c);
}

/* Returns false when c was closed. */
static bool conn_write(struct conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			loop_watch_events(c->s->l, NULL, c->fd, ZMQ_POLLIN | ZMQ_POLLOUT);
			return true;
		}
		if (n <= 0) {
			conn_close(c);
			return false;
		}
		c->out_off += (size_t)n;
	}
	free(c->out);
	c->out = NULL;
	c->out_len = c->out_off = 0;
	loop_watch_events(c->s->l, NULL, c->fd, ZMQ_POLLIN);
	return true;
}

static void conn_respond(struct conn *c)
{
	struct srv *s = c->s;
	char head[256];
	int n =
	    snprintf(head, sizeof(head),
	             "HTTP/1.1 %d Test\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n\r\n",
	             s->status, s->body_len);

	c->out = malloc((size_t)n + s->body_len);
	if (!c->out) {
		conn_close(c);
		return;
	}
	memcpy(c->out, head, (size_t)n);
	memcpy(c->out + n, s->body, s->body_len);
	c->out_len = (size_t)n + s->body_len;
	c->out_off = 0;
	conn_write(c);
}

static void on_delay(struct loop *l, void *arg)
{
	(void)l;
	conn_respond(arg);
}

static void on_conn(struct loop *l, void *arg, short revents)
{
	struct conn *c = arg;
	struct srv *s = c->s;
	ssize_t n;

	(void)l;
	if ((revents & ZMQ_POLLOUT) && c->out && !conn_write(c))
		return;
	if (!(revents & (ZMQ_POLLIN | ZMQ_POLLERR)))
		return;
	n = recv(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len, 0);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return;
	if (n <= 0 || c->in_len + (size_t)n == sizeof(c->in)) {
		conn_close(c);
		return;
	}
	c->in_len += (size_t)n;
	c->in[c->in_len] = '\0';
	if (!strstr(c->in, "\r\n\r\n"))
		return;
	s->requests++;
	{
		size_t keep =
		    c->in_len < sizeof(s->last_request) ? c->in_len : sizeof(s->last_request) - 1;
		memcpy(s->last_request, c->in, keep);
		s->last_request[keep] = '\0';
	}
	c->in_len = 0; /* one request at a time: no pipelining here */
	if (s->silent)
		return;
	if (s->delay_ms)
		loop_timer_start(s->l, &c->delay, s->delay_ms);
	else
		conn_respond(c);
}

static void on_accept(struct loop *l, void *arg, short revents)
{
	struct srv *s = arg;

	(void)revents;
	for (int i = 0; i < 64; i++) {
		int fd = accept(s->fd, NULL, NULL);
		struct conn *c;
		if (fd < 0)
			return;
		fcntl(fd, F_SETFL, O_NONBLOCK);
		c = calloc(1, sizeof(*c));
		if (!c || loop_watch(l, NULL, fd, ZMQ_POLLIN, on_conn, c)) {
			free(c);
			close(fd);
			continue;
		}
		c->s = s;
		c->fd = fd;
		c->next = s->conns;
		loop_timer_init(&c->delay, on_delay, c);
		s->conns = c;
		s->accepts++;
	}
}

/* A socket bound to a free port of 127.0.0.1. */
static int bound_socket(uint16_t *port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) ||
	    getsockname(fd, (struct sockaddr *)&a, &len)) {
		close(fd);
		return -1;
	}
	*port = ntohs(a.sin_port);
	return fd;
}

/* A port nobody listens on (connections are refused). */
static uint16_t closed_port(void)
{
	uint16_t port = 0;
	int fd = bound_socket(&port);

	if (fd >= 0)
		close(fd);
	return port;
}

static int srv_start(struct srv *s, struct loop *l, int status, const char *body, size_t body_len)
{
	*s = (struct srv){.l = l, .status = status, .body = body, .body_len = body_len};
	s->fd = bound_socket(&s->port);
	if (s->fd < 0 || listen(s->fd, 128) || fcntl(s->fd, F_SETFL, O_NONBLOCK))
		return -1;
	return loop_watch(l, NULL, s->fd, ZMQ_POLLIN, on_accept, s);
}

static void srv_stop(struct srv *s)
{
	while (s->conns)
		conn_close(s->conns);
	if (s->fd >= 0) {
		loop_unwatch(s->l, NULL, s->fd);
		close(s->fd);
		s->fd = -1;
	}
}

static void url_of(char *out, size_t len, const char *scheme, uint16_t port)
{
	snprintf(out, len, "%s://127.0.0.1:%u/", scheme, port);
}

/* Results ---------------------------------------------------------------- */

struct got {
	char service[PROTO_SERVICE_NAME_MAX + 1];
	struct health_result r; /* the last one */
	unsigned n;
};

struct sink {
	struct got g[128];
	size_t n;
	unsigned long total;
	struct health *unwatch_h; /* when set, unwatch on "selfstop" results */
};

static struct got *got_find(struct sink *k, const char *service)
{
	for (size_t i = 0; i < k->n; i++)
		if (strcmp(k->g[i].service, service) == 0)
			return &k->g[i];
	return NULL;
}

static unsigned got_count(struct sink *k, const char *service)
{
	struct got *g = got_find(k, service);
	return g ? g->n : 0;
}

static void on_result(void *arg, const uint8_t owner[PROTO_KEY_LEN], const char *service,
                      const struct health_result *r)
{
	struct sink *k = arg;
	char name[PROTO_SERVICE_NAME_MAX + 1];
	struct got *g;

	/* A DNS plan's addresses report as "name#target". */
	snprintf(name, sizeof(name), r->target ? "%s#%u" : "%s", service, r->target);
	g = got_find(k, name);
	if (!g && k->n < 128) {
		g = &k->g[k->n++];
		snprintf(g->service, sizeof(g->service), "%s", name);
	}
	k->total++;
	if (g) {
		g->r = *r;
		g->n++;
	}
	/* A callback may unwatch the service it reports. */
	if (k->unwatch_h && strcmp(service, "selfstop") == 0)
		health_unwatch(k->unwatch_h, owner, service);
}

static const uint8_t owner_a[PROTO_KEY_LEN] = {1, 2, 3};
static const uint8_t owner_b[PROTO_KEY_LEN] = {9, 8, 7};

static int watch(struct health *h, const uint8_t *owner, const char *name, const char *url,
                 uint32_t status, const char *body, uint32_t interval_s, uint32_t timeout_s,
                 uint32_t tls_warn_s)
{
	struct proto_service s = {.expect_status = status,
	                          .interval_s = interval_s,
	                          .timeout_s = timeout_s,
	                          .tls_warn_s = tls_warn_s};

	snprintf(s.url, sizeof(s.url), "%s", url);
	snprintf(s.expect_body, sizeof(s.expect_body), "%s", body);
	return health_watch(h, owner, name, &s);
}

/* Runs the loop until every name in names (NULL-terminated) has at least
 * min results, or max_ms pass. Returns true when they all have. */
static bool run_until(struct loop *l, struct sink *k, const char *const *names, unsigned min,
                      uint64_t max_ms)
{
	uint64_t end = loop_clock_ms() + max_ms;

	while (loop_clock_ms() < end) {
		bool all = true;
		for (size_t i = 0; names[i]; i++)
			all = all && got_count(k, names[i]) >= min;
		if (all)
			return true;
		loop_once(l, 20);
	}
	return false;
}

static void run_for(struct loop *l, uint64_t ms)
{
	uint64_t end = loop_clock_ms() + ms;

	while (loop_clock_ms() < end)
		loop_once(l, 20);
}

static bool has(const struct got *g, const char *text)
{
	return g && strstr(g->r.error, text);
}

static void diag(struct sink *k, const char *name)
{
	struct got *g = got_find(k, name);

	if (g)
		printf("# %-10s n=%u status=%d latency=%u ms error=\"%s\"\n", name, g->n,
		       (int)g->r.status, g->r.latency_ms, g->r.error);
	else
		printf("# %-10s no result\n", name);
}

/* A 1 ms timer that notes the longest gap between its runs: the loop is
 * never blocked for longer than that. */
struct ticker {
	struct loop_timer t;
	uint64_t last_ms, max_gap_ms;
	unsigned long fires;
	struct web *w;
	unsigned long max_in_flight; /* seen at the ticks */
};

static void on_tick(struct loop *l, void *arg)
{
	struct ticker *t = arg;
	uint64_t now = loop_clock_ms();
	struct web_stats ws;

	if (t->last_ms && now - t->last_ms > t->max_gap_ms)
		t->max_gap_ms = now - t->last_ms;
	t->last_ms = now;
	t->fires++;
	if (t->w) {
		web_get_stats(t->w, &ws);
		if (ws.in_flight > t->max_in_flight)
			t->max_in_flight = ws.in_flight;
	}
	loop_timer_start(l, &t->t, 1);
}

/* Tests ----------------------------------------------------------------- */

static char big_miss[200 * 1024], big_hit[200 * 1024];

static void fill_big(void)
{
	memset(big_miss, 'a', sizeof(big_miss));
	memcpy(big_miss + 100 * 1024, "needle", 6); /* past the 64 KiB kept */
	memset(big_hit, 'b', sizeof(big_hit));
	/* Across a 16 KiB boundary, where libcurl's reads are likely cut. */
	memcpy(big_hit + 3 * 16384 - 3, "needle", 6);
}

static void test_outcomes(struct loop *l, struct web *w)
{
	static const char body[] = "hello kith world";
	struct srv ok_srv, busy_srv, hang_srv, slow_srv, miss_srv, hit_srv, reuse_srv;
	struct health *h = NULL, *hp = NULL;
	struct sink k = {0};
	char url[128];
	uint16_t closed = closed_port();
	const char *const names[] = {
	    "ok",    "missing", "any",     "s503",   "s503any", "refused",  "timeout", "slow",
	    "tcpup", "tcpdown", "bigmiss", "bighit", "private", "private2", "byname",  NULL};
	const char *const reuse[] = {"reuse", NULL};
	struct got *g;
	uint64_t t0;
	bool done;

	fill_big();
	is(srv_start(&ok_srv, l, 200, body, strlen(body)), 0, "server 200 starts");
	is(srv_start(&busy_srv, l, 503, "busy", 4), 0, "server 503 starts");
	is(srv_start(&hang_srv, l, 200, body, strlen(body)), 0, "silent server starts");
	hang_srv.silent = true;
	is(srv_start(&slow_srv, l, 200, body, strlen(body)), 0, "slow server starts");
	slow_srv.delay_ms = 650;
	is(srv_start(&miss_srv, l, 200, big_miss, sizeof(big_miss)), 0, "big body server starts");
	is(srv_start(&hit_srv, l, 200, big_hit, sizeof(big_hit)), 0, "big body server 2 starts");
	is(srv_start(&reuse_srv, l, 200, body, strlen(body)), 0, "keep-alive server starts");
	is(health_new(&h, l, w, on_result, &k), 0, "health_new");
	is(health_new(&hp, l, w, on_result, &k), 0, "health_new (refusing private addresses)");
	health_set_refuse_private(hp, true);

	url_of(url, sizeof(url), "http", ok_srv.port);
	is(watch(h, owner_a, "ok", url, 200, "kith", 1, 1, 0), 0, "watch ok");
	is(watch(h, owner_a, "missing", url, 200, "absent text", 1, 1, 0), 0, "watch missing");
	is(watch(h, owner_a, "any", url, 0, "", 1, 1, 0), 0, "watch any");
	snprintf(url, sizeof(url), "http://localhost:%u/", ok_srv.port);
	is(watch(h, owner_a, "byname", url, 0, "kith", 1, 1, 0), 0, "watch by host name");
	url_of(url, sizeof(url), "http", ok_srv.port);
	is(watch(hp, owner_a, "private", url, 0, "", 1, 1, 0), 0, "watch private");
	url_of(url, sizeof(url), "http", closed);
	is(watch(hp, owner_a, "private2", url, 0, "", 1, 1, 0), 0, "watch private, new connection");
	url_of(url, sizeof(url), "tcp", ok_srv.port);
	is(watch(h, owner_a, "tcpup", url, 0, "", 1, 1, 0), 0, "watch tcp up");
	url_of(url, sizeof(url), "http", busy_srv.port);
	is(watch(h, owner_a, "s503", url, 200, "", 1, 1, 0), 0, "watch 503");
	is(watch(h, owner_a, "s503any", url, 0, "", 1, 1, 0), 0, "watch 503 any");
	url_of(url, sizeof(url), "http", closed);
	is(watch(h, owner_a, "refused", url, 0, "", 1, 1, 0), 0, "watch closed port");
	url_of(url, sizeof(url), "tcp", closed);
	is(watch(h, owner_a, "tcpdown", url, 0, "", 1, 1, 0), 0, "watch tcp closed port");
	url_of(url, sizeof(url), "http", hang_srv.port);
	is(watch(h, owner_a, "timeout", url, 0, "", 1, 1, 0), 0, "watch silent server");
	url_of(url, sizeof(url), "http", slow_srv.port);
	is(watch(h, owner_a, "slow", url, 0, "", 1, 1, 0), 0, "watch slow server");
	url_of(url, sizeof(url), "http", miss_srv.port);
	is(watch(h, owner_a, "bigmiss", url, 0, "needle", 1, 1, 0), 0, "watch big body");
	url_of(url, sizeof(url), "http", hit_srv.port);
	is(watch(h, owner_a, "bighit", url, 0, "needle", 1, 1, 0), 0, "watch big body 2");
	url_of(url, sizeof(url), "http", reuse_srv.port);
	is(watch(h, owner_a, "reuse", url, 200, "world", 1, 1, 0), 0, "watch keep-alive");

	t0 = loop_clock_ms();
	done = run_until(l, &k, names, 1, 6000);
	ok(done, "every service has a result within 6 s");
	printf("# first results of %zu services after %llu ms\n", k.n,
	       (unsigned long long)(loop_clock_ms() - t0));
	for (size_t i = 0; names[i]; i++)
		diag(&k, names[i]);

	g = got_find(&k, "ok");
	ok(g && g->r.status == PROTO_STATUS_UP && !g->r.error[0], "200 with the body: up");
	ok(g && g->r.latency_ms < 500 && g->r.checked_at > 1600000000, "latency and time set");
	ok(g && g->r.tls_expires == 0, "no certificate over http");
	ok(strstr(ok_srv.last_request, "User-Agent: kith-health/") != NULL,
	   "requests say User-Agent: kith-health/VERSION");
	g = got_find(&k, "any");
	ok(g && g->r.status == PROTO_STATUS_UP, "200 with nothing expected: up");
	g = got_find(&k, "byname");
	ok(g && g->r.status == PROTO_STATUS_UP, "by host name (libcurl's resolver thread): up");
	g = got_find(&k, "missing");
	ok(g && g->r.status == PROTO_STATUS_DOWN &&
	       has(g, "expected text not found in the first 64 KiB"),
	   "body without the text: down, says so");
	g = got_find(&k, "s503");
	ok(g && g->r.status == PROTO_STATUS_DOWN && has(g, "HTTP 503 (expected 200)"),
	   "503 when 200 expected: down, \"HTTP 503 (expected 200)\"");
	g = got_find(&k, "s503any");
	ok(g && g->r.status == PROTO_STATUS_DOWN && has(g, "HTTP 503 (expected 2xx or 3xx)"),
	   "503 when any 2xx/3xx expected: down");
	g = got_find(&k, "refused");
	ok(g && g->r.status == PROTO_STATUS_DOWN && has(g, "onnect"),
	   "closed port: down with libcurl's message");
	g = got_find(&k, "timeout");
	ok(g && g->r.status == PROTO_STATUS_DOWN && has(g, "timed out"),
	   "server that never answers: down, timed out");
	ok(g && g->r.latency_ms >= 900 && g->r.latency_ms < 1500,
	   "... after about the 1 s timeout");
	g = got_find(&k, "slow");
	ok(g && g->r.status == PROTO_STATUS_DEGRADED && has(g, "slow: ") &&
	       has(g, "ms of a 1000 ms timeout"),
	   "answer after 650 ms of a 1 s timeout: degraded, slow");
	ok(g && g->r.latency_ms >= 600, "... its latency counts the wait");
	g = got_find(&k, "tcpup");
	ok(g && g->r.status == PROTO_STATUS_UP, "tcp:// to a listening port: up");
	g = got_find(&k, "tcpdown");
	ok(g && g->r.status == PROTO_STATUS_DOWN && g->r.error[0], "tcp:// to a closed port: down");
	g = got_find(&k, "bigmiss");
	ok(g && g->r.status == PROTO_STATUS_DOWN &&
	       has(g, "expected text not found in the first 64 KiB"),
	   "text past 64 KiB of a 200 KiB body: not found");
	g = got_find(&k, "bighit");
	ok(g && g->r.status == PROTO_STATUS_UP,
	   "text across a chunk boundary within 64 KiB of a 200 KiB body: up");
	g = got_find(&k, "private");
	ok(g && g->r.status == PROTO_STATUS_DOWN &&
	       has(g, "not checked: 127.0.0.1 is a private address"),
	   "refusing private addresses: 127.0.0.1 is not checked");
	g = got_find(&k, "private2");
	ok(g && g->r.status == PROTO_STATUS_DOWN &&
	       has(g, "not checked: 127.0.0.1 is a private address"),
	   "... neither when no connection to reuse is open");

	ok(run_until(l, &k, reuse, 3, 4000), "three checks of the keep-alive server");
	is(reuse_srv.accepts, 1, "... all over one connection");
	ok(reuse_srv.requests >= 3, "... three requests");

	health_free(&h);
	health_free(&hp);
	ok(h == NULL && hp == NULL, "health_free clears the pointer");
	srv_stop(&ok_srv);
	srv_stop(&busy_srv);
	srv_stop(&hang_srv);
	srv_stop(&slow_srv);
	srv_stop(&miss_srv);
	srv_stop(&hit_srv);
	srv_stop(&reuse_srv);
}

static void test_unwatch(struct loop *l, struct web *w)
{
	struct srv ok_srv, hang_srv;
	struct health *h = NULL;
	struct sink k = {0};
	struct health_stats st;
	struct web_stats ws;
	char url[128];
	const char *const stop[] = {"stop", "selfstop", NULL};
	uint64_t end;

	srv_start(&ok_srv, l, 200, "fine", 4);
	srv_start(&hang_srv, l, 200, "fine", 4);
	hang_srv.silent = true;
	health_new(&h, l, w, on_result, &k);
	k.unwatch_h = h;
	url_of(url, sizeof(url), "http", ok_srv.port);
	watch(h, owner_a, "stop", url, 0, "", 1, 1, 0);
	watch(h, owner_a, "selfstop", url, 0, "", 1, 1, 0);
	watch(h, owner_b, "other", url, 0, "", 1, 1, 0);
	url_of(url, sizeof(url), "http", hang_srv.port);
	watch(h, owner_b, "hang", url, 0, "", 5, 5, 0);
	health_get_stats(h, &st);
	is(st.watched, 4, "four services watched");

	ok(run_until(l, &k, stop, 1, 3000), "first results");
	health_unwatch(h, owner_a, "stop");
	health_get_stats(h, &st);
	is(st.watched, 2, "unwatched by the caller and by the callback itself");
	/* The hanging check: wait until its request reached the server. */
	end = loop_clock_ms() + 6000;
	while (hang_srv.requests == 0 && loop_clock_ms() < end)
		loop_once(l, 20);
	ok(hang_srv.requests > 0, "a check of the silent server is under way");
	health_unwatch_owner(h, owner_b);
	health_get_stats(h, &st);
	is(st.watched, 0, "unwatch_owner drops that owner's services");
	web_get_stats(w, &ws);
	is(ws.in_flight, 0, "the transfer under way was cancelled");
	k.total = 0;
	run_for(l, 1500);
	is(k.total, 0, "no result after unwatching");
	is(got_count(&k, "stop"), 1, "\"stop\" reported once");
	is(got_count(&k, "selfstop"), 1, "\"selfstop\" reported once");
	is(got_count(&k, "hang"), 0, "the abandoned check never reported");
	health_get_stats(h, &st);
	/* How many ran depends on the machine's load; that all of them were
	 * in the last minute does not. */
	ok(st.checks > 0 && st.last_minute == st.checks,
	   "last_minute counts every check of the last minute");

	health_free(&h);
	srv_stop(&ok_srv);
	srv_stop(&hang_srv);
}

static void test_many(struct loop *l, struct web *w)
{
	struct srv ok_srv;
	struct health *h = NULL;
	struct sink k = {0};
	struct ticker t = {.w = w};
	struct health_stats st;
	char url[128], name[32];
	unsigned min = ~0u, max = 0;
	uint64_t t0;

	srv_start(&ok_srv, l, 200, "all good", 8);
	health_new(&h, l, w, on_result, &k);
	url_of(url, sizeof(url), "http", ok_srv.port);
	for (int i = 0; i < 50; i++) {
		snprintf(name, sizeof(name), "svc%02d", i);
		watch(h, owner_a, name, url, 200, "good", 1, 1, 0);
	}
	loop_timer_init(&t.t, on_tick, &t);
	loop_timer_start(l, &t.t, 1);
	t0 = loop_clock_ms();
	run_for(l, 3500);
	loop_timer_stop(l, &t.t);
	for (size_t i = 0; i < k.n; i++) {
		if (k.g[i].n < min)
			min = k.g[i].n;
		if (k.g[i].n > max)
			max = k.g[i].n;
	}
	health_get_stats(h, &st);
	printf("# 50 services, 1 s interval, %llu ms: %lu results (%u to %u each), "
	       "%llu up, %u connections; 1 ms timer: %lu fires, longest gap %llu ms\n",
	       (unsigned long long)(loop_clock_ms() - t0), k.total, min, max,
	       (unsigned long long)st.up, ok_srv.accepts, t.fires,
	       (unsigned long long)t.max_gap_ms);
	is(k.n, 50, "every one of 50 services reported");
	ok(k.total >= 140 && k.total <= 210, "about 3.5 results each in 3.5 s");
	ok(min >= 2 && max <= 5, "each service checked about once a second");
	is(st.up, st.checks, "all up");
	ok(t.fires >= 1000, "a 1 ms timer kept firing during the checks");
	/* A blocking connect or resolve would stall it for a timeout (1 s);
	 * the margin is for busy test machines. */
	ok(t.max_gap_ms < 250, "the loop never stalled 250 ms");
	health_free(&h);
	srv_stop(&ok_srv);
}

static void test_deferred(struct loop *l, struct web *w)
{
	struct srv slow_srv;
	struct health *h = NULL;
	struct sink k = {0};
	struct ticker t = {.w = w};
	struct health_stats st;
	char url[128];
	static char names_buf[12][16];
	const char *names[13];

	srv_start(&slow_srv, l, 200, "late", 4);
	slow_srv.delay_ms = 400;
	health_new(&h, l, w, on_result, &k);
	web_set_max_in_flight(w, 3);
	url_of(url, sizeof(url), "http", slow_srv.port);
	for (int i = 0; i < 12; i++) {
		snprintf(names_buf[i], sizeof(names_buf[i]), "d%02d", i);
		names[i] = names_buf[i];
		watch(h, owner_a, names_buf[i], url, 0, "", 1, 1, 0);
	}
	names[12] = NULL;
	loop_timer_init(&t.t, on_tick, &t);
	loop_timer_start(l, &t.t, 1);
	ok(run_until(l, &k, names, 1, 6000), "12 slow services, 3 at a time: all reported");
	loop_timer_stop(l, &t.t);
	health_get_stats(h, &st);
	printf("# deferred %llu, most in flight %lu\n", (unsigned long long)st.deferred,
	       t.max_in_flight);
	ok(st.deferred > 0, "checks beyond max_in_flight were deferred");
	ok(t.max_in_flight <= 3, "never more than 3 in flight");
	web_set_max_in_flight(w, 256);
	health_free(&h);
	srv_stop(&slow_srv);
}

/* web.c on its own: done callbacks that cancel and submit. */
struct web_case {
	struct web *w;
	CURL *a, *b, *c;
	int done_a, done_b, done_c;
	CURLcode result_a, result_c;
};

static void on_web_done(void *arg, CURL *easy, CURLcode result)
{
	struct web_case *wc = arg;

	if (easy == wc->a) {
		wc->done_a++;
		wc->result_a = result;
		web_cancel(wc->w, wc->b);
		web_submit(wc->w, wc->c, on_web_done, wc);
	} else if (easy == wc->b) {
		wc->done_b++;
	} else if (easy == wc->c) {
		wc->done_c++;
		wc->result_c = result;
	}
}

static size_t discard(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return size * n;
}

static CURL *easy_for(uint16_t port)
{
	CURL *e = curl_easy_init();
	char url[64];

	url_of(url, sizeof(url), "http", port);
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 3000L);
	return e;
}

static void test_web(struct loop *l)
{
	struct srv ok_srv, hang_srv;
	struct web *w = NULL;
	struct web_case wc = {0};
	struct web_stats ws;
	CURL *d, *e;
	uint64_t end;

	srv_start(&ok_srv, l, 200, "x", 1);
	srv_start(&hang_srv, l, 200, "x", 1);
	hang_srv.silent = true;
	is(web_new(&w, l), 0, "web_new");
	wc.w = w;
	wc.a = easy_for(ok_srv.port);
	wc.b = easy_for(hang_srv.port);
	wc.c = easy_for(ok_srv.port);
	is(web_submit(w, wc.b, on_web_done, &wc), 0, "submit b (never answered)");
	is(web_submit(w, wc.a, on_web_done, &wc), 0, "submit a");
	is(web_submit(w, wc.a, on_web_done, &wc), -EINVAL, "a handle submitted twice: -EINVAL");
	end = loop_clock_ms() + 3000;
	while (!wc.done_c && loop_clock_ms() < end)
		loop_once(l, 20);
	is(wc.done_a, 1, "a done once");
	is(wc.result_a, CURLE_OK, "a succeeded");
	is(wc.done_c, 1, "c, submitted from a's callback, done");
	is(wc.result_c, CURLE_OK, "c succeeded");
	is(wc.done_b, 0, "b, cancelled from a's callback, never done");
	web_get_stats(w, &ws);
	ok(ws.submitted == 3 && ws.completed == 2 && ws.in_flight == 0,
	   "stats: 3 submitted, 2 completed, none in flight");

	web_set_max_in_flight(w, 1);
	d = easy_for(hang_srv.port);
	e = easy_for(hang_srv.port);
	is(web_submit(w, d, on_web_done, &wc), 0, "submit within the limit");
	is(web_submit(w, e, on_web_done, &wc), -EBUSY, "beyond max_in_flight: -EBUSY");
	run_for(l, 100);
	/* d is still running: web_free() aborts it without a callback. */
	web_free(&w);
	ok(w == NULL, "web_free clears the pointer");
	curl_easy_cleanup(d);
	curl_easy_cleanup(e);
	curl_easy_cleanup(wc.a);
	curl_easy_cleanup(wc.b);
	curl_easy_cleanup(wc.c);
	srv_stop(&ok_srv);
	srv_stop(&hang_srv);
}

static void test_refused_urls(struct loop *l, struct web *w)
{
	static const char *const bad[] = {"file:///etc/passwd",
	                                  "scp://host/etc/passwd",
	                                  "telnet://127.0.0.1:23/",
	                                  "ldap://127.0.0.1/",
	                                  "gopher://127.0.0.1/",
	                                  "tcp://127.0.0.1",
	                                  "no scheme",
	                                  "",
	                                  NULL};
	static const char *const good[] = {"ftp://127.0.0.1/", "smtps://mail.example.org:465/",
	                                   "tcp://[::1]:22", "HTTPS://example.org/", NULL};
	struct health *h = NULL;
	struct sink k = {0};
	struct health_stats st;
	struct proto_service s = {.interval_s = 1, .timeout_s = 1};
	char longname[80];
	bool all_bad = true, all_good = true;

	health_new(&h, l, w, on_result, &k);
	for (size_t i = 0; bad[i]; i++) {
		int err = watch(h, owner_a, "x", bad[i], 0, "", 60, 10, 0);
		if (err != KITH_EVALUE) {
			all_bad = false;
			printf("# %s: %d\n", bad[i], err);
		}
	}
	ok(all_bad, "file, scp, telnet, ldap, gopher, tcp without port, junk: KITH_EVALUE");
	for (size_t i = 0; good[i]; i++)
		all_good = all_good && watch(h, owner_a, good[i], good[i], 0, "", 60, 10, 0) == 0;
	ok(all_good, "ftp, smtps, tcp to IPv6, upper-case scheme: accepted");
	memset(longname, 'n', sizeof(longname));
	longname[sizeof(longname) - 1] = '\0';
	is(watch(h, owner_a, longname, "http://127.0.0.1/", 0, "", 60, 10, 0), KITH_EVALUE,
	   "service name too long: KITH_EVALUE");
	snprintf(s.url, sizeof(s.url), "http://127.0.0.1/");
	s.interval_s = 0;
	is(health_watch(h, owner_a, "zero", &s), KITH_EVALUE, "interval 0: KITH_EVALUE");
	s.interval_s = 5;
	s.timeout_s = 6;
	is(health_watch(h, owner_a, "zero", &s), KITH_EVALUE, "timeout over interval: KITH_EVALUE");
	is(watch(h, owner_a, "same", "http://127.0.0.1/a", 0, "", 60, 10, 0), 0, "watch");
	is(watch(h, owner_a, "same", "http://127.0.0.1/b", 0, "", 60, 10, 0), 0, "watch again");
	health_get_stats(h, &st);
	is(st.watched, 5, "a second watch of a pair updates it");
	health_free(&h);
}

static void test_cert_time(void)
{
	static const struct {
		const char *text;
		uint64_t want;
	} good[] = {
	    {"Jan  1 00:00:00 1970 GMT", 0},          {"Feb 29 12:00:00 2024 GMT", 1709208000},
	    {"Mar  1 00:00:00 2100 GMT", 4107542400}, {"Dec 31 23:59:59 2099 GMT", 4102444799},
	    {"Nov 26 20:26:22 2026 GMT", 1795724782}, {"Jan 17 10:09:24.123 2025 GMT", 1737108564},
	    {"Jul 4 01:02:03 2000 GMT", 962672523},
	};
	static const char *const bad[] = {"Feb 29 12:00:00 2023 GMT",
	                                  "Foo  1 00:00:00 2025 GMT",
	                                  "Jan  1 00:00:00 2025",
	                                  "Jan  1 00:00:00 2025 GMT junk",
	                                  "Jan 32 00:00:00 2025 GMT",
	                                  "Jan  1 24:00:00 2025 GMT",
	                                  "Jan  1 00:00:00 1969 GMT",
	                                  "Jan  1 0:00:00 2025 GMT",
	                                  "",
	                                  "Jan",
	                                  NULL};
	bool all_good = true, all_bad = true;
	uint64_t t;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		t = 1;
		if (health_cert_time(good[i].text, &t) != 0 || t != good[i].want) {
			all_good = false;
			printf("# %s: got %llu\n", good[i].text, (unsigned long long)t);
		}
	}
	ok(all_good, "certificate dates: epoch, leap days, 2100, fractions, unpadded day");
	for (size_t i = 0; bad[i]; i++)
		if (health_cert_time(bad[i], &t) != KITH_EVALUE) {
			all_bad = false;
			printf("# accepted: %s\n", bad[i]);
		}
	ok(all_bad, "bad dates refused: no Feb 29 2023, no hour 24, no trailing text");
}

/* HTTPS with openssl s_server and a self-signed certificate --------------- */

static int run_quiet(const char *cmd)
{
	int rc = system(cmd);
	return rc == 0 ? 0 : -1;
}

static pid_t spawn_s_server(const char *dir, uint16_t port)
{
	char accept[32], cert[256], key[256];
	pid_t pid;

	snprintf(accept, sizeof(accept), "127.0.0.1:%u", port);
	snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
	snprintf(key, sizeof(key), "%s/key.pem", dir);
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		execlp("openssl", "openssl", "s_server", "-quiet", "-www", "-accept", accept,
		       "-cert", cert, "-key", key, (char *)NULL);
		_exit(127);
	}
	return pid;
}

static bool port_open(uint16_t port)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
	                        .sin_port = htons(port),
	                        .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	bool open_ = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;

	if (fd >= 0)
		close(fd);
	return open_;
}

static void test_https(struct loop *l, struct web *w)
{
	char dir[] = "/tmp/kith-health-XXXXXX";
	char cmd[1024], path[256], url[128], line[128] = "";
	struct health *h_sys = NULL, *h_ca = NULL;
	struct sink k = {0};
	const char *const names[] = {"tls-sys", "tls-warn", "tls-nowarn", NULL};
	uint64_t want = 0, now = (uint64_t)time(NULL);
	uint16_t port = closed_port();
	pid_t pid;
	FILE *f;
	struct got *g;

	if (run_quiet("command -v openssl >/dev/null 2>&1") || !mkdtemp(dir)) {
		printf("ok %d - # SKIP no openssl binary\n", ++tap_count);
		return;
	}
	snprintf(cmd, sizeof(cmd),
	         "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
	         "-days 3 -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1 "
	         "-keyout %s/key.pem -out %s/cert.pem >/dev/null 2>&1",
	         dir, dir);
	is(run_quiet(cmd), 0, "openssl makes a self-signed certificate for 3 days");
	snprintf(cmd, sizeof(cmd), "openssl x509 -enddate -noout -in %s/cert.pem", dir);
	f = popen(cmd, "r");
	if (f) {
		if (!fgets(line, sizeof(line), f))
			line[0] = '\0';
		pclose(f);
	}
	line[strcspn(line, "\n")] = '\0';
	ok(strncmp(line, "notAfter=", 9) == 0 && health_cert_time(line + 9, &want) == 0,
	   "its notAfter parses");
	pid = spawn_s_server(dir, port);
	for (int i = 0; i < 100 && !port_open(port); i++)
		nanosleep(&(struct timespec){.tv_nsec = 20000000}, NULL);
	ok(pid > 0 && port_open(port), "openssl s_server listens");

	health_new(&h_sys, l, w, on_result, &k);
	health_new(&h_ca, l, w, on_result, &k);
	snprintf(path, sizeof(path), "%s/cert.pem", dir);
	is(health_set_ca_file(h_ca, path), 0, "health_set_ca_file");
	url_of(url, sizeof(url), "https", port);
	/* 3 s: the first handshake (loading the CA store) is slow under
	 * valgrind. */
	watch(h_sys, owner_a, "tls-sys", url, 200, "", 3, 3, 0);
	watch(h_ca, owner_a, "tls-warn", url, 200, "", 3, 3, 14 * 86400);
	watch(h_ca, owner_a, "tls-nowarn", url, 200, "", 3, 3, 0);
	ok(run_until(l, &k, names, 1, 7000), "the TLS checks reported");
	for (size_t i = 0; names[i]; i++)
		diag(&k, names[i]);
	g = got_find(&k, "tls-sys");
	ok(g && g->r.status == PROTO_STATUS_DOWN && has(g, "certificate"),
	   "self-signed against the system CAs: down with libcurl's message");
	g = got_find(&k, "tls-warn");
	/* 3 days from its making, less the seconds since: 2 days, or 3 when
	 * checked within the same second. */
	snprintf(line, sizeof(line), "certificate expires in %llu days",
	         g ? (unsigned long long)((want - g->r.checked_at) / 86400) : 0ULL);
	ok(g && g->r.status == PROTO_STATUS_DEGRADED && has(g, line),
	   "trusted, expiring in 3 days with a 14-day warning: degraded, in N days");
	ok(g && g->r.tls_expires == want && want > now + 2 * 86400,
	   "tls_expires is the certificate's notAfter");
	g = got_find(&k, "tls-nowarn");
	ok(g && g->r.status == PROTO_STATUS_UP && g->r.tls_expires == want,
	   "no warning asked: up, expiry still read");
	ok(run_until(l, &k, names, 2, 7000), "two rounds of TLS checks");
	g = got_find(&k, "tls-nowarn");
	ok(g && g->r.status == PROTO_STATUS_UP && g->r.tls_expires == want,
	   "the expiry is kept on later checks (resumed sessions, reused connections)");

	health_free(&h_sys);
	health_free(&h_ca);
	if (pid > 0) {
		kill(pid, SIGTERM);
		waitpid(pid, NULL, 0);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	run_quiet(cmd);
}

/* A service with a DNS plan is checked at its addresses (CONNECT_TO), its
 * URL's name (resolving nowhere) kept for the Host header. */
static void test_plan(struct loop *l, struct web *w)
{
	struct srv srv;
	struct health *h = NULL;
	struct sink k = {0};
	struct health_stats st;
	struct proto_service s = {.interval_s = 1, .timeout_s = 1};
	char primary[32], standby[32];
	const char *const both[] = {primary, standby, NULL}, *const plain[] = {"plan", NULL};

	snprintf(primary, sizeof(primary), "plan#%u", HEALTH_TARGET_PRIMARY);
	snprintf(standby, sizeof(standby), "plan#%u", HEALTH_TARGET_STANDBY);
	srv_start(&srv, l, 200, "fine", 4);
	health_new(&h, l, w, on_result, &k);
	snprintf(s.url, sizeof(s.url), "http://www.example.test:%u/", srv.port);
	strcpy(s.expect_body, "fine");
	strcpy(s.dns.name, "www.example.test");
	strcpy(s.dns.zone, "example.test");
	s.dns.n_primary = s.dns.n_standby = 1;
	s.dns.primary[0] = (struct proto_ip){4, {127, 0, 0, 1}};
	s.dns.standby[0] = (struct proto_ip){4, {127, 0, 0, 2}}; /* nobody listens there */
	s.dns.ttl_s = 60;
	is(health_watch(h, owner_a, "plan", &s), 0, "a service with a DNS plan is watched");
	health_get_stats(h, &st);
	is(st.watched, 2, "as its two addresses");
	ok(run_until(l, &k, both, 1, 4000), "both addresses report");
	ok(got_count(&k, primary) && got_find(&k, primary)->r.status == PROTO_STATUS_UP,
	   "the primary address answers, through a name that resolves nowhere");
	ok(got_count(&k, standby) && got_find(&k, standby)->r.status == PROTO_STATUS_DOWN,
	   "the standby address, where nothing listens, is down");
	ok(srv.requests > 0 && !got_count(&k, "plan"), "no check went through the name");

	memset(&s.dns, 0, sizeof(s.dns));
	snprintf(s.url, sizeof(s.url), "http://127.0.0.1:%u/", srv.port);
	is(health_watch(h, owner_a, "plan", &s), 0, "the plan dropped");
	health_get_stats(h, &st);
	is(st.watched, 1, "the URL alone is checked then");
	ok(run_until(l, &k, plain, 1, 4000) && got_find(&k, "plan")->r.status == PROTO_STATUS_UP,
	   "through the URL");
	health_unwatch(h, owner_a, "plan");
	health_get_stats(h, &st);
	is(st.watched, 0, "unwatched");
	health_free(&h);
	srv_stop(&srv);
}

int main(void)
{
	struct loop *l = NULL;
	struct web *w = NULL;

	if (loop_new(&l) || web_new(&w, l)) {
		printf("Bail out! cannot make a loop and a web\n");
		return 1;
	}
	test_cert_time();
	test_refused_urls(l, w);
	test_web(l);
	test_outcomes(l, w);
	test_unwatch(l, w);
	test_plan(l, w);
	test_many(l, w);
	test_deferred(l, w);
	test_https(l, w);
	web_free(&w);
	loop_free(&l);
	return tap_done();
}
