/* Checks of partners' services through libcurl (agent/core/web.h).
 *
 * Each watched (owner, service) is a struct check in a keymap under
 * BLAKE2b(owner || service), with its own easy handle kept from check to
 * check (its TLS session cache; connections live in the multi handle's
 * cache) and a loop timer for its next check. A check that web refuses
 * (too many in flight) is counted as deferred and waits in line: checks
 * that come due while others wait join the line's end, and a slot freed
 * goes to its head, so that with more checks due than slots every service
 * still gets its turn (random retries let some lose for seconds).
 *
 * What libcurl may do is bounded, as URLs come from peers: only the
 * protocols of check_protocols, no redirects, at most HEALTH_BODY_KEEP
 * bytes read, a timeout on every transfer. */
#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <sodium.h>

#include "proto/error.h"
#include "agent/core/keymap.h"
#include "agent/core/log.h"
#include "agent/core/loop.h"
#include "health.h"
#include "agent/core/web.h"

#ifndef KITH_VERSION
#define KITH_VERSION "0"
#endif

/* The body is searched for expect_body in its first 64 KiB; the transfer
 * stops there, so a huge answer costs no more than a small one. */
#define HEALTH_BODY_KEEP (64 * 1024)
/* A check refused for lack of room waits 50 to 150 ms before trying again. */
#define HEALTH_BUSY_RETRY_MS 50
#define HEALTH_BUSY_RETRY_SPREAD_MS 100
/* Checks completed are counted per second over this many seconds, for
 * the rate that kith status shows. */
#define HEALTH_RATE_WINDOW_S 60
/* How long a certificate expiry read from a handshake is trusted. */
#define HEALTH_CERT_REREAD_MS (24 * 3600 * 1000ULL)

/* Schemes a check may use: none reads local files or needs local secrets
 * (file, scp, sftp), none waits on stdin (telnet), and ldap is left out as
 * libldap reads its own config files and may block. A redirect is never
 * followed, so these are the only ones ever spoken. */
static const char *const check_protocols[] = {"http",  "https", "ftp",   "ftps", "imap",
                                              "imaps", "pop3",  "pop3s", "smtp", "smtps"};
#define CHECK_PROTOCOLS_STR "http,https,ftp,ftps,imap,imaps,pop3,pop3s,smtp,smtps"

enum check_kind {
	CHECK_TCP,   /* tcp://: connect only */
	CHECK_HTTP,  /* http(s)://: status and body */
	CHECK_OTHER, /* any other allowed scheme: the transfer succeeds */
};

/* The URL libcurl fetches: the service's, or http://host:port/ for tcp. */
struct target {
	char url[PROTO_URL_MAX + 1];
	enum check_kind kind;
	bool tls; /* implicit TLS: the certificate's expiry is read */
};

struct check {
	struct health *h;
	uint8_t key[PROTO_KEY_LEN]; /* BLAKE2b(owner || service || target_no) */
	uint8_t owner[PROTO_KEY_LEN];
	char service[PROTO_SERVICE_NAME_MAX + 1];
	struct proto_service spec;
	struct target target;
	unsigned target_no;            /* HEALTH_TARGET_* */
	struct proto_ip addr;          /* target_no > 0: where to connect */
	struct curl_slist *connect_to; /* its CURLOPT_CONNECT_TO, owned */
	CURL *easy;
	struct loop_timer timer; /* next check, or retry when deferred */
	uint64_t next_due_ms;    /* when the check after the running one is due */
	bool in_flight;
	bool deferred; /* counted once per refused check */
	bool waiting;  /* in the line of deferred checks */
	struct check *wait_next;
	char *body; /* the body's first bytes, when expect_body is set */
	size_t body_len, body_cap;
	bool body_full;        /* stopped reading at HEALTH_BODY_KEEP */
	uint64_t tls_expires;  /* last certificate expiry seen for target */
	uint64_t cert_read_ms; /* when it was seen (loop clock), 0: never */
	char errbuf[CURL_ERROR_SIZE];
	struct web_guard guard; /* with refuse_private */
};

/* Checks completed in one second of the loop clock. */
struct rate_slot {
	uint64_t second;
	uint32_t count;
};

struct health {
	struct loop *loop;
	struct web *web;
	health_result_fn fn;
	void *arg;
	struct keymap checks;                /* key -> struct check */
	struct check *wait_head, *wait_tail; /* deferred checks, oldest first */
	char *ca_file;
	bool refuse_private;
	struct health_stats stats;
	struct rate_slot rate[HEALTH_RATE_WINDOW_S]; /* by second modulo the window */
	struct log_limit warn_limit;
};

int health_new(struct health **out, struct loop *l, struct web *w, health_result_fn fn, void *arg)
{
	struct health *h;

	if (sodium_init() < 0)
		return -ENOMEM;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->loop = l;
	h->web = w;
	h->fn = fn;
	h->arg = arg;
	keymap_init(&h->checks);
	h->warn_limit = (struct log_limit){.burst = 5, .interval_ms = 60000};
	*out = h;
	return 0;
}

/* ---- the line of deferred checks ---- */

static void wait_push(struct health *h, struct check *c)
{
	c->waiting = true;
	c->wait_next = NULL;
	if (h->wait_tail)
		h->wait_tail->wait_next = c;
	else
		h->wait_head = c;
	h->wait_tail = c;
}

static void wait_remove(struct health *h, struct check *c)
{
	struct check **p = &h->wait_head, *prev = NULL;

	if (!c->waiting)
		return;
	while (*p && *p != c) {
		prev = *p;
		p = &(*p)->wait_next;
	}
	if (*p)
		*p = c->wait_next;
	if (h->wait_tail == c)
		h->wait_tail = prev;
	c->waiting = false;
	c->wait_next = NULL;
}

/* A slot may be free: the head of the line tries at once. Slots freed by
 * other users of web (alerts, DNS) are found by the head's retry timer. */
static void wait_wake(struct health *h)
{
	if (h->wait_head)
		loop_timer_start(h->loop, &h->wait_head->timer, 0);
}

static void check_free(struct health *h, struct check *c)
{
	wait_remove(h, c);
	if (c->in_flight)
		web_cancel(h->web, c->easy);
	loop_timer_stop(h->loop, &c->timer);
	curl_easy_cleanup(c->easy);
	curl_slist_free_all(c->connect_to);
	free(c->body);
	free(c);
}

void health_free(struct health **hp)
{
	struct health *h = hp ? *hp : NULL;
	const uint8_t *key;
	void *value;

	if (!h)
		return;
	for (size_t pos = 0; keymap_next(&h->checks, &pos, &key, &value);)
		check_free(h, value);
	keymap_free(&h->checks);
	free(h->ca_file);
	free(h);
	*hp = NULL;
}

int health_set_ca_file(struct health *h, const char *path)
{
	char *copy = NULL;

	if (path && !(copy = strdup(path)))
		return -ENOMEM;
	free(h->ca_file);
	h->ca_file = copy;
	return 0;
}

void health_set_refuse_private(struct health *h, bool refuse)
{
	h->refuse_private = refuse;
}

static void rate_count(struct health *h)
{
	uint64_t second = loop_now_ms(h->loop) / 1000;
	struct rate_slot *slot = &h->rate[second % HEALTH_RATE_WINDOW_S];

	if (slot->second != second)
		*slot = (struct rate_slot){.second = second};
	slot->count++;
}

void health_get_stats(const struct health *h, struct health_stats *out)
{
	uint64_t second = loop_now_ms(h->loop) / 1000;

	*out = h->stats;
	out->watched = (uint32_t)h->checks.count;
	out->last_minute = 0;
	for (size_t i = 0; i < HEALTH_RATE_WINDOW_S; i++)
		if (h->rate[i].second + HEALTH_RATE_WINDOW_S > second)
			out->last_minute += h->rate[i].count;
}

/* Certificate dates ------------------------------------------------------ */

/* Days from 1970-01-01 to y-m-d of the proleptic Gregorian calendar (Howard
 * Hinnant's days_from_civil): timegm() is not POSIX. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static unsigned days_in_month(unsigned y, unsigned m)
{
	static const unsigned char days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return days[m - 1] + (m == 2 && leap);
}

/* Reads min..max decimal digits at *p into *out and moves *p past them. */
static bool read_digits(const char **p, int min, int max, unsigned *out)
{
	unsigned v = 0;
	int n = 0;

	while (n < max && (*p)[n] >= '0' && (*p)[n] <= '9') {
		v = v * 10 + (unsigned)((*p)[n] - '0');
		n++;
	}
	if (n < min)
		return false;
	*p += n;
	*out = v;
	return true;
}

static bool read_char(const char **p, char c)
{
	if (**p != c)
		return false;
	(*p)++;
	return true;
}

int health_cert_time(const char *text, uint64_t *out)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	const char *p = text;
	unsigned mon = 0, day, hh, mm, ss, year, frac;

	for (unsigned i = 0; i < 12 && !mon; i++)
		if (strncmp(p, months + 3 * i, 3) == 0)
			mon = i + 1;
	if (!mon)
		return KITH_EVALUE;
	p += 3;
	if (!read_char(&p, ' '))
		return KITH_EVALUE;
	while (*p == ' ') /* the day is padded with a space: "Jan  7" */
		p++;
	if (!read_digits(&p, 1, 2, &day) || !read_char(&p, ' ') || !read_digits(&p, 2, 2, &hh) ||
	    !read_char(&p, ':') || !read_digits(&p, 2, 2, &mm) || !read_char(&p, ':') ||
	    !read_digits(&p, 2, 2, &ss))
		return KITH_EVALUE;
	/* OpenSSL prints the fraction of a GeneralizedTime's seconds. */
	if (read_char(&p, '.') && !read_digits(&p, 1, 9, &frac))
		return KITH_EVALUE;
	if (!read_char(&p, ' ') || !read_digits(&p, 4, 4, &year) || strcmp(p, " GMT") != 0)
		return KITH_EVALUE;
	if (year < 1970 || day < 1 || day > days_in_month(year, mon) || hh > 23 || mm > 59 ||
	    ss > 60)
		return KITH_EVALUE;
	*out = (uint64_t)days_from_civil(year, mon, day) * 86400 + hh * 3600 + mm * 60 + ss;
	return 0;
}

/* Targets -------------------------------------------------------------- */

static bool protocol_allowed(const char *scheme)
{
	for (size_t i = 0; i < sizeof(check_protocols) / sizeof(check_protocols[0]); i++)
		if (strcasecmp(scheme, check_protocols[i]) == 0)
			return true;
	return false;
}

/* Parses url with libcurl's own parser, so that what passes here is what
 * libcurl will fetch. Returns 0, KITH_EVALUE or -ENOMEM. */
static int target_parse(struct target *t, const char *url)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL;
	int err = KITH_EVALUE;
	int n;

	if (!u)
		return -ENOMEM;
	if (strlen(url) > PROTO_URL_MAX ||
	    curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK)
		goto cleanup;
	if (strcasecmp(scheme, "tcp") == 0) {
		/* libcurl has no TCP scheme: an http URL with CONNECT_ONLY
		 * makes it connect and stop there. */
		if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
		    curl_url_get(u, CURLUPART_PORT, &port, 0) != CURLUE_OK)
			goto cleanup;
		n = snprintf(t->url, sizeof(t->url), "http://%s:%s/", host, port);
		if (n < 0 || (size_t)n >= sizeof(t->url))
			goto cleanup;
		t->kind = CHECK_TCP;
		t->tls = false;
	} else {
		if (!protocol_allowed(scheme))
			goto cleanup;
		memcpy(t->url, url, strlen(url) + 1);
		t->kind = strncasecmp(scheme, "http", 4) == 0 ? CHECK_HTTP : CHECK_OTHER;
		t->tls = scheme[strlen(scheme) - 1] == 's' || scheme[strlen(scheme) - 1] == 'S';
	}
	err = 0;
cleanup:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return err;
}

/* One check ------------------------------------------------------------ */

/* Keeps the body's first bytes for the expect_body search; past
 * HEALTH_BODY_KEEP it stops the transfer (libcurl's CURLE_WRITE_ERROR,
 * which evaluate() does not hold against the service). */
static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct check *c = arg;
	size_t n = size * nmemb;
	size_t take = n < HEALTH_BODY_KEEP - c->body_len ? n : HEALTH_BODY_KEEP - c->body_len;

	if (take && c->spec.expect_body[0]) {
		if (c->body_len + take > c->body_cap) {
			size_t cap = c->body_cap ? c->body_cap : 4096;
			char *p;
			while (cap < c->body_len + take)
				cap *= 2;
			if (cap > HEALTH_BODY_KEEP)
				cap = HEALTH_BODY_KEEP;
			p = realloc(c->body, cap);
			if (!p)
				return 0;
			c->body = p;
			c->body_cap = cap;
		}
		memcpy(c->body + c->body_len, data, take);
	}
	c->body_len += take;
	if (take < n)
		c->body_full = true;
	return take;
}

static bool body_holds(const struct check *c)
{
	size_t need = strlen(c->spec.expect_body);

	if (!need)
		return true;
	for (size_t i = 0; i + need <= c->body_len; i++)
		if (c->body[i] == c->spec.expect_body[0] &&
		    memcmp(c->body + i, c->spec.expect_body, need) == 0)
			return true;
	return false;
}

static int check_setup(struct check *c)
{
	CURL *e = c->easy;
	long timeout_ms = (long)c->spec.timeout_s * 1000;
	bool tcp = c->target.kind == CHECK_TCP;
	const char *ca = c->h->ca_file;

	/* From scratch each time (options of an earlier spec go), keeping the
	 * handle's caches. */
	curl_easy_reset(e);
	c->errbuf[0] = '\0';
	c->guard.refused[0] = '\0';
	c->body_len = 0;
	c->body_full = false;
	if (curl_easy_setopt(e, CURLOPT_URL, c->target.url) ||
	    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, tcp ? "http" : CHECK_PROTOCOLS_STR) ||
	    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms) ||
	    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms) ||
	    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) ||
	    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L) ||
	    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L) ||
	    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L) ||
	    curl_easy_setopt(e, CURLOPT_USERAGENT, "kith-health/" KITH_VERSION) ||
	    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, c->errbuf) ||
	    /* A check given up while its name resolves must not wait for the
	     * resolver thread (which would block the loop): it is left to
	     * finish and free itself. */
	    curl_easy_setopt(e, CURLOPT_QUICK_EXIT, 1L) ||
	    curl_easy_setopt(e, CURLOPT_CERTINFO, c->target.tls ? 1L : 0L) ||
	    (ca && curl_easy_setopt(e, CURLOPT_CAINFO, ca)) ||
	    /* The service as the network sees it, not through a proxy the
	     * environment may name. */
	    curl_easy_setopt(e, CURLOPT_PROXY, "") ||
	    (c->connect_to && curl_easy_setopt(e, CURLOPT_CONNECT_TO, c->connect_to)) ||
	    (c->h->refuse_private && web_guard_public(e, &c->guard) != 0))
		return KITH_EVALUE;
	/* A reused connection shows no certificate: once a day (and first)
	 * the check makes a new one to read it. */
	if (c->target.tls &&
	    (!c->cert_read_ms ||
	     loop_now_ms(c->h->loop) - c->cert_read_ms > HEALTH_CERT_REREAD_MS) &&
	    curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L))
		return KITH_EVALUE;
	if (tcp) {
		/* A fresh connection each time: an old one proves nothing. */
		if (curl_easy_setopt(e, CURLOPT_CONNECT_ONLY, 1L) ||
		    curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L) ||
		    curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L))
			return KITH_EVALUE;
		return 0;
	}
	if (curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body) ||
	    curl_easy_setopt(e, CURLOPT_WRITEDATA, c))
		return KITH_EVALUE;
	return 0;
}

/* The first certificate's "Expire date", as libcurl's OpenSSL backend
 * lists it: "Expire date:Jan  7 12:00:00 2030 GMT". */
static void read_cert_expiry(struct check *c)
{
	struct curl_certinfo *ci = NULL;
	uint64_t t;

	if (curl_easy_getinfo(c->easy, CURLINFO_CERTINFO, &ci) != CURLE_OK || !ci ||
	    ci->num_of_certs < 1)
		return; /* a reused connection: keep what the last handshake said */
	for (struct curl_slist *s = ci->certinfo[0]; s; s = s->next)
		if (strncmp(s->data, "Expire date:", 12) == 0 &&
		    health_cert_time(s->data + 12, &t) == 0) {
			c->tls_expires = t;
			c->cert_read_ms = loop_now_ms(c->h->loop);
		}
}

static uint32_t latency_ms(const struct check *c)
{
	curl_off_t us = 0;
	CURLINFO what =
	    c->target.kind == CHECK_TCP ? CURLINFO_CONNECT_TIME_T : CURLINFO_TOTAL_TIME_T;

	if (curl_easy_getinfo(c->easy, what, &us) != CURLE_OK || us < 0)
		return 0;
	return us / 1000 > UINT32_MAX ? UINT32_MAX : (uint32_t)(us / 1000);
}

#define set_error(r, ...) snprintf((r)->error, sizeof((r)->error), __VA_ARGS__)

/* Down when the transfer failed or the answer is not the expected one. */
static bool answer_fails(struct check *c, CURLcode result, struct health_result *r)
{
	long code = 0;

	if (result == CURLE_WRITE_ERROR && c->body_full)
		result = CURLE_OK; /* we stopped reading */
	if (result != CURLE_OK && c->guard.refused[0]) {
		set_error(r, "not checked: %s is a private address", c->guard.refused);
		return true;
	}
	if (result != CURLE_OK) {
		set_error(r, "%s", c->errbuf[0] ? c->errbuf : curl_easy_strerror(result));
		return true;
	}
	if (c->target.kind == CHECK_TCP)
		return false;
	if (c->target.kind == CHECK_HTTP) {
		curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &code);
		if (c->spec.expect_status && code != (long)c->spec.expect_status) {
			set_error(r, "HTTP %ld (expected %u)", code, c->spec.expect_status);
			return true;
		}
		if (!c->spec.expect_status && (code < 200 || code > 399)) {
			set_error(r, "HTTP %ld (expected 2xx or 3xx)", code);
			return true;
		}
	}
	if (!body_holds(c)) {
		set_error(r, "expected text not found in the first %d KiB",
		          HEALTH_BODY_KEEP / 1024);
		return true;
	}
	return false;
}

static void evaluate(struct check *c, CURLcode result, struct health_result *r)
{
	uint64_t now = loop_wall_s();
	uint64_t warn = c->spec.tls_warn_s;
	uint64_t timeout_ms = (uint64_t)c->spec.timeout_s * 1000;

	*r = (struct health_result){.checked_at = now, .latency_ms = latency_ms(c)};
	if (c->target.tls)
		read_cert_expiry(c);
	r->tls_expires = c->tls_expires;
	if (answer_fails(c, result, r)) {
		r->status = PROTO_STATUS_DOWN;
		return;
	}
	r->status = PROTO_STATUS_DEGRADED;
	if (warn && r->tls_expires && r->tls_expires <= now + warn) {
		uint64_t left = r->tls_expires > now ? r->tls_expires - now : 0;
		if (left >= 86400)
			set_error(r, "certificate expires in %llu days",
			          (unsigned long long)(left / 86400));
		else
			set_error(r, "certificate expires in %llu hours",
			          (unsigned long long)(left / 3600));
		return;
	}
	if ((uint64_t)r->latency_ms * 2 > timeout_ms) {
		set_error(r, "slow: %u ms of a %llu ms timeout", r->latency_ms,
		          (unsigned long long)timeout_ms);
		return;
	}
	r->status = PROTO_STATUS_UP;
}

/* interval_ms with up to 10% jitter either way. */
static uint64_t jittered(uint64_t interval_ms)
{
	return interval_ms - interval_ms / 10 +
	       randombytes_uniform((uint32_t)(interval_ms / 5) + 1);
}

/* When the check after the one starting now (due at c->next_due_ms) is
 * due: an interval after this one was due, not after it started, so that
 * a busy loop, a little late with its timers, does not stretch every
 * interval (by 1% at 1000 checks a second). A check that started later
 * than a tenth of its interval, or had to wait for room among the checks
 * in flight, counts its interval from now: under overload a check must not
 * be due again as soon as it ends, taking the room from those waiting. */
static uint64_t next_due(const struct check *c, uint64_t now, bool waited)
{
	uint64_t interval = (uint64_t)c->spec.interval_s * 1000;
	uint64_t base = !waited && now <= c->next_due_ms + interval / 10 ? c->next_due_ms : now;

	return base + jittered(interval);
}

/* Arms the timer for the check after the one that ended (or was dropped):
 * at its due time, or at once when that has passed. */
static void schedule_next(struct check *c)
{
	uint64_t now = loop_now_ms(c->h->loop);

	if (loop_timer_start(c->h->loop, &c->timer,
	                     c->next_due_ms > now ? c->next_due_ms - now : 0))
		log_warnx("health: %s: out of memory, no more checks", c->service);
}

static void report(struct check *c, const struct health_result *r)
{
	struct health *h = c->h;
	uint8_t owner[PROTO_KEY_LEN];
	char service[sizeof(c->service)];

	h->stats.checks++;
	rate_count(h);
	if (r->status == PROTO_STATUS_UP)
		h->stats.up++;
	else if (r->status == PROTO_STATUS_DEGRADED)
		h->stats.degraded++;
	else
		h->stats.down++;
	/* The callback may unwatch c: hand it copies. */
	memcpy(owner, c->owner, sizeof(owner));
	memcpy(service, c->service, sizeof(service));
	h->fn(h->arg, owner, service, r);
}

static void on_done(void *arg, CURL *easy, CURLcode result)
{
	struct check *c = arg;
	struct health_result r;

	(void)easy;
	evaluate(c, result, &r);
	r.target = c->target_no;
	c->in_flight = false;
	free(c->body);
	c->body = NULL;
	c->body_cap = c->body_len = 0;
	schedule_next(c);
	wait_wake(c->h);
	report(c, &r); /* last: c may be gone after it */
}

static void on_check_due(struct loop *l, void *arg)
{
	struct check *c = arg;
	struct health *h = c->h;
	int err;

	if (c->in_flight)
		return;
	/* Behind the checks already waiting, if any. */
	err = h->wait_head && h->wait_head != c ? -EBUSY : check_setup(c);
	if (!err)
		err = web_submit(h->web, c->easy, on_done, c);
	if (err == -EBUSY) {
		if (!c->deferred)
			h->stats.deferred++;
		c->deferred = true;
		if (!c->waiting)
			wait_push(h, c);
		loop_timer_start(l, &c->timer,
		                 HEALTH_BUSY_RETRY_MS +
		                     randombytes_uniform(HEALTH_BUSY_RETRY_SPREAD_MS));
		return;
	}
	if (c->waiting) {
		wait_remove(h, c);
		wait_wake(h); /* the next may fit too */
	}
	c->next_due_ms = next_due(c, loop_now_ms(l), c->deferred);
	c->deferred = false;
	if (err) {
		/* Our failure, not the service's: no result, try next time. */
		if (log_allow(&h->warn_limit, loop_now_ms(l)))
			log_warnx("health: cannot start a check of %s: %s", c->service,
			          proto_strerror(err));
		schedule_next(c);
		return;
	}
	c->in_flight = true;
}

/* Watches -------------------------------------------------------------- */

static void check_key(uint8_t key[PROTO_KEY_LEN], const uint8_t owner[PROTO_KEY_LEN],
                      const char *service, unsigned target_no)
{
	crypto_generichash_state st;
	uint8_t t = (uint8_t)target_no;

	crypto_generichash_init(&st, NULL, 0, PROTO_KEY_LEN);
	crypto_generichash_update(&st, owner, PROTO_KEY_LEN);
	crypto_generichash_update(&st, (const uint8_t *)service, strlen(service));
	/* A service name never holds a NUL: the target cannot be confused
	 * with the name's last byte. */
	crypto_generichash_update(&st, &t, 1);
	crypto_generichash_final(&st, key, PROTO_KEY_LEN);
}

/* The address target_no of spec's DNS plan into *addr; false when spec
 * does not check it (without a plan only the URL is checked, with one
 * only the addresses). */
static bool target_addr(const struct proto_service *spec, unsigned target_no, struct proto_ip *addr)
{
	const struct proto_dns_plan *d = &spec->dns;

	*addr = (struct proto_ip){0};
	if (!d->name[0])
		return target_no == HEALTH_TARGET_URL;
	if (target_no >= HEALTH_TARGET_PRIMARY && target_no - HEALTH_TARGET_PRIMARY < d->n_primary)
		*addr = d->primary[target_no - HEALTH_TARGET_PRIMARY];
	else if (target_no >= HEALTH_TARGET_STANDBY &&
	         target_no - HEALTH_TARGET_STANDBY < d->n_standby)
		*addr = d->standby[target_no - HEALTH_TARGET_STANDBY];
	return addr->len != 0;
}

/* "::ADDR:" for CURLOPT_CONNECT_TO: any host and port of the URL go to
 * ADDR at the URL's port. NULL for the URL's own host, or out of memory
 * (then *rc is -ENOMEM). */
static struct curl_slist *connect_to(const struct proto_ip *addr, int *rc)
{
	char text[INET6_ADDRSTRLEN], entry[INET6_ADDRSTRLEN + 8];
	struct curl_slist *l;

	*rc = 0;
	if (!addr->len)
		return NULL;
	if (!inet_ntop(addr->len == 4 ? AF_INET : AF_INET6, addr->addr, text, sizeof(text))) {
		*rc = KITH_EVALUE;
		return NULL;
	}
	snprintf(entry, sizeof(entry), addr->len == 4 ? "::%s:" : "::[%s]:", text);
	l = curl_slist_append(NULL, entry);
	if (!l)
		*rc = -ENOMEM;
	return l;
}

static bool spec_ok(const struct proto_service *s)
{
	return s->interval_s >= 1 && s->interval_s <= 86400 && s->timeout_s >= 1 &&
	       s->timeout_s <= s->interval_s && memchr(s->url, '\0', sizeof(s->url)) &&
	       memchr(s->expect_body, '\0', sizeof(s->expect_body)) &&
	       s->dns.n_primary <= PROTO_DNS_ADDRS_MAX && s->dns.n_standby <= PROTO_DNS_ADDRS_MAX;
}

static bool spec_equal(const struct proto_service *a, const struct proto_service *b)
{
	return strcmp(a->url, b->url) == 0 && a->expect_status == b->expect_status &&
	       strcmp(a->expect_body, b->expect_body) == 0 && a->interval_s == b->interval_s &&
	       a->timeout_s == b->timeout_s && a->tls_warn_s == b->tls_warn_s;
}

/* A watch changed while its check runs: that check answers the old spec,
 * so it is dropped and the next one keeps its time. */
static int check_update(struct check *c, const struct proto_service *spec, const struct target *t,
                        const struct proto_ip *addr)
{
	bool moved = c->addr.len != addr->len || memcmp(c->addr.addr, addr->addr, addr->len);
	int rc = 0;

	if (spec_equal(&c->spec, spec) && !moved)
		return 0;
	if (strcmp(c->target.url, t->url) != 0 || moved) {
		c->tls_expires = 0;
		c->cert_read_ms = 0;
	}
	if (moved) {
		curl_slist_free_all(c->connect_to);
		c->connect_to = connect_to(addr, &rc);
		c->addr = *addr;
	}
	c->spec = *spec;
	c->target = *t;
	if (c->in_flight) {
		web_cancel(c->h->web, c->easy);
		c->in_flight = false;
		schedule_next(c);
	}
	return rc;
}

static void unwatch_one(struct health *h, const uint8_t owner[PROTO_KEY_LEN], const char *service,
                        unsigned target_no)
{
	uint8_t key[PROTO_KEY_LEN];
	struct check *c;

	check_key(key, owner, service, target_no);
	c = keymap_del(&h->checks, key);
	if (c)
		check_free(h, c);
}

static int watch_one(struct health *h, const uint8_t owner[PROTO_KEY_LEN], const char *service,
                     const struct proto_service *spec, const struct target *t, unsigned target_no,
                     const struct proto_ip *addr)
{
	uint8_t key[PROTO_KEY_LEN];
	struct check *c;
	int err = 0;

	check_key(key, owner, service, target_no);
	c = keymap_get(&h->checks, key);
	if (c)
		return check_update(c, spec, t, addr);
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	*c = (struct check){
	    .h = h, .spec = *spec, .target = *t, .target_no = target_no, .addr = *addr};
	memcpy(c->key, key, sizeof(key));
	memcpy(c->owner, owner, PROTO_KEY_LEN);
	memcpy(c->service, service, strlen(service) + 1);
	loop_timer_init(&c->timer, on_check_due, c);
	c->connect_to = connect_to(addr, &err);
	c->easy = !err && web_ready(h->web) == 0 ? curl_easy_init() : NULL;
	if (!c->easy || keymap_put(&h->checks, key, c)) {
		curl_easy_cleanup(c->easy);
		curl_slist_free_all(c->connect_to);
		free(c);
		return err ? err : -ENOMEM;
	}
	/* The first check at a random point of the first interval, so that
	 * services watched together are not checked together. */
	c->next_due_ms = loop_now_ms(h->loop) + randombytes_uniform(spec->interval_s * 1000);
	schedule_next(c);
	return 0;
}

int health_watch(struct health *h, const uint8_t owner[PROTO_KEY_LEN], const char *service,
                 const struct proto_service *spec)
{
	struct target t;
	struct proto_ip addr;
	size_t len = strlen(service);
	int err;

	if (!len || len > PROTO_SERVICE_NAME_MAX || !spec_ok(spec))
		return KITH_EVALUE;
	err = target_parse(&t, spec->url);
	for (unsigned i = 0; !err && i < HEALTH_TARGETS; i++) {
		if (target_addr(spec, i, &addr))
			err = watch_one(h, owner, service, spec, &t, i, &addr);
		else
			unwatch_one(h, owner, service, i);
	}
	if (err)
		health_unwatch(h, owner, service);
	return err;
}

void health_unwatch(struct health *h, const uint8_t owner[PROTO_KEY_LEN], const char *service)
{
	for (unsigned i = 0; i < HEALTH_TARGETS; i++)
		unwatch_one(h, owner, service, i);
}

void health_unwatch_owner(struct health *h, const uint8_t owner[PROTO_KEY_LEN])
{
	const uint8_t *key;
	void *value;

	for (size_t pos = 0; keymap_next(&h->checks, &pos, &key, &value);) {
		struct check *c = value;
		if (memcmp(c->owner, owner, PROTO_KEY_LEN) != 0)
			continue;
		keymap_del(&h->checks, c->key);
		check_free(h, c);
	}
}
