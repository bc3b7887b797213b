/* A change of DNS records as a short chain of exchanges (dns_job.h): DNS
 * messages over TCP for rfc2136, HTTP requests for the PowerDNS and deSEC
 * APIs. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <sodium.h>

#include "proto/error.h"
#include "agent/core/addr.h"
#include "agent/core/loop.h"
#include "agent/core/web.h"
#include "dns/desec.h"
#include "dns/pdns.h"
#include "dns_job.h"
#include "dns_tcp.h"

/* Transport failures are tried again after 1 s, then 2 s. */
#define DNS_JOB_RETRY_MS 1000
#define DNS_JOB_TEST_NAME "_kith-test"
#define DNS_JOB_TEST_TTL 60

enum step {
	STEP_SWAP,    /* the compare-and-swap UPDATE; pdns, desec: the write */
	STEP_CHECK,   /* after NXRRSET: what the name holds now; pdns, desec: first */
	STEP_TXT_ADD, /* test: the TXT record added */
	STEP_TXT_DEL, /* test: and deleted */
	STEP_ZONE,    /* desec: the domain read (test: first; swap: after a 404) */
};

/* An HTTP exchange with the PowerDNS or the deSEC API. */
struct http {
	CURL *easy;
	struct curl_slist *headers;
	char url[DNS_PDNS_URL_MAX > DNS_DESEC_URL_MAX ? DNS_PDNS_URL_MAX : DNS_DESEC_URL_MAX];
	char *answer;         /* the answer's body, max bytes at most */
	size_t len, cap, max; /* max: DNS_PDNS_ANSWER_MAX or DNS_DESEC_ANSWER_MAX */
	bool over;            /* the answer was longer */
	struct web_guard guard;
	bool running;
};

struct dns_job {
	struct loop *loop;
	struct web *web;
	bool refuse_private;
	struct http http;
	struct dns_cred cred;
	char zone[DNS_NAME_TEXT_MAX + 1];
	char name[DNS_NAME_TEXT_MAX + 1];
	struct dns_addrs from, to;
	uint32_t ttl;
	char txt[64];     /* test: the TXT record's text */
	uint32_t txt_ttl; /* and its TTL: desec, the domain's minimum at least */
	uint32_t min_ttl; /* desec: the domain's minimum TTL, once read */
	enum step step;
	unsigned tries; /* of this step */
	struct dns_request req;
	struct dns_tcp tcp;
	struct loop_timer retry;
	dns_job_fn fn;
	void *arg;
};

static void step_start(struct dns_job *j);
static void on_answer(struct dns_job *j, const struct dns_reply *r);

static void finish(struct dns_job *j, int rc, bool changed, enum dns_result result, const char *why)
{
	struct dns_job_result r = {
	    .rc = rc, .changed = changed, .result = result, .min_ttl = j->min_ttl};

	snprintf(r.why, sizeof(r.why), "%s", why);
	dns_request_clear(&j->req);
	j->fn(j->arg, j, &r); /* last: it may free j */
}

static bool same_set(const struct dns_addrs *a, const struct dns_addrs *b)
{
	size_t len = a->family == AF_INET ? 4 : 16;

	if (a->family != b->family || a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++) {
		size_t k = 0;
		while (k < b->n && memcmp(a->addr[i], b->addr[k], len))
			k++;
		if (k == b->n)
			return false;
	}
	return true;
}

/* What an answer means for the step that asked it. */
static void on_answer(struct dns_job *j, const struct dns_reply *r)
{
	switch (j->step) {
	case STEP_SWAP:
		if (r->result == DNS_RESULT_OK)
			return finish(j, 0, true, r->result, "");
		/* The prerequisite failed: NXRRSET for "the set is from",
		 * YXRRSET for "there is no set" (from empty). */
		if (r->result != DNS_RESULT_NXRRSET &&
		    !(r->result == DNS_RESULT_YXRRSET && j->from.n == 0))
			return finish(j, KITH_EVALUE, false, r->result, r->why);
		j->step = STEP_CHECK;
		return step_start(j);
	case STEP_CHECK:
		if (r->result != DNS_RESULT_OK)
			return finish(j, KITH_EVALUE, false, r->result, r->why);
		if (same_set(&r->addrs, &j->to))
			return finish(j, 0, false, r->result, "");
		{
			char why[DNS_WHY_MAX];
			snprintf(why, sizeof(why),
			         "%s holds neither the addresses kith expected nor the ones it "
			         "would set: someone changed it, so kith leaves it alone",
			         j->name);
			return finish(j, KITH_EVALUE, false, DNS_RESULT_NXRRSET, why);
		}
	case STEP_TXT_ADD:
		if (r->result != DNS_RESULT_OK)
			return finish(j, KITH_EVALUE, false, r->result, r->why);
		j->step = STEP_TXT_DEL;
		return step_start(j);
	case STEP_TXT_DEL:
		if (r->result != DNS_RESULT_OK)
			return finish(j, KITH_EVALUE, false, r->result, r->why);
		return finish(j, 0, false, r->result, "");
	case STEP_ZONE: /* desec: the domain is there */
		if (r->result != DNS_RESULT_OK)
			return finish(j, KITH_EVALUE, false, r->result, r->why);
		if (j->txt[0]) {
			j->step = STEP_TXT_ADD;
			return step_start(j);
		}
		/* A swap's set was not there, but the domain is: the set
		 * read as empty. */
		j->step = STEP_CHECK;
		return on_answer(j, r);
	}
}

static void on_retry(struct loop *l, void *arg)
{
	(void)l;
	step_start(arg);
}

/* A transport failure (what says what): tried again, or the end. */
static void transport_failed(struct dns_job *j, int err, const char *what)
{
	char why[DNS_WHY_MAX];

	if (++j->tries < DNS_JOB_TRIES &&
	    loop_timer_start(j->loop, &j->retry, (uint64_t)DNS_JOB_RETRY_MS * j->tries) == 0)
		return;
	snprintf(why, sizeof(why), "no answer from the DNS server after %u tries: %s", j->tries,
	         what);
	finish(j, err, false, DNS_RESULT_OK, why);
}

static void on_reply(struct dns_tcp *x, void *arg, int err, const uint8_t *reply, size_t len)
{
	struct dns_job *j = arg;
	struct dns_reply r;
	int rc;

	(void)x;
	if (err)
		return transport_failed(
		    j, err, err == KITH_ETRUNC ? "it closed the connection" : strerror(-err));
	rc = dns_reply_parse(&r, &j->req, &j->cred, reply, len);
	if (rc)
		return finish(j, rc, false, r.result, r.why);
	j->tries = 0;
	on_answer(j, &r);
}

/* ---- the PowerDNS and deSEC APIs ---- */

static bool is_http(const struct dns_job *j)
{
	return j->cred.provider == DNS_PROVIDER_PDNS || j->cred.provider == DNS_PROVIDER_DESEC;
}

/* For sentences: "the PowerDNS API" or "the deSEC API". */
static const char *api_name(const struct dns_job *j)
{
	return j->cred.provider == DNS_PROVIDER_DESEC ? "the deSEC API" : "the PowerDNS API";
}

static size_t on_http_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct http *h = arg;
	size_t n = size * nmemb;

	if (h->len + n > h->max) {
		h->over = true;
		return 0; /* libcurl ends the transfer */
	}
	if (h->len + n + 1 > h->cap) {
		size_t cap = h->cap ? h->cap : 16384;
		char *p;
		while (cap < h->len + n + 1)
			cap *= 2;
		if (!(p = realloc(h->answer, cap)))
			return 0;
		h->answer = p;
		h->cap = cap;
	}
	memcpy(h->answer + h->len, data, n);
	h->len += n;
	h->answer[h->len] = '\0';
	return n;
}

/* A pdns answer of status: the zone read before the write, then as
 * on_answer() says. */
static void pdns_done(struct dns_job *j, long status)
{
	struct http *h = &j->http;
	struct dns_reply r = {0};
	int rc;

	r.result = dns_pdns_status(status, h->answer ? h->answer : "", h->len, j->zone, r.why,
	                           sizeof(r.why));
	if (r.result != DNS_RESULT_OK)
		return finish(j, KITH_EVALUE, false, r.result, r.why);
	if (j->step == STEP_CHECK) {
		rc = dns_pdns_read(h->answer ? h->answer : "", h->len, j->name, j->to.family,
		                   &r.addrs, &r.ttl);
		if (rc)
			return finish(j, rc, false, DNS_RESULT_MALFORMED,
			              "the PowerDNS API's answer is not a zone kith can read");
		r.addrs.family = j->to.family;
		/* Before the write: in place already, as expected, or else. */
		if (!same_set(&r.addrs, &j->to) && same_set(&r.addrs, &j->from)) {
			j->tries = 0;
			j->step = STEP_SWAP;
			return step_start(j);
		}
	}
	j->tries = 0;
	on_answer(j, &r);
}

/* The desec set read, r->addrs (none when absent): before the write, as
 * for pdns. But a set kith expected and did not find may be a domain
 * that is not there (deSEC answers 404 for both): the domain's GET then
 * tells which, and on_answer() goes on from STEP_ZONE. */
static void desec_checked(struct dns_job *j, const struct dns_reply *r, bool absent)
{
	j->tries = 0;
	if (!same_set(&r->addrs, &j->to) && same_set(&r->addrs, &j->from)) {
		j->step = STEP_SWAP;
		return step_start(j);
	}
	if (absent) {
		j->step = STEP_ZONE;
		return step_start(j);
	}
	on_answer(j, r);
}

/* A desec answer of status: a short throttling waited out, the set or
 * the domain read, then as on_answer() says. */
static void desec_done(struct dns_job *j, long status, long retry_after)
{
	struct http *h = &j->http;
	const char *body = h->answer ? h->answer : "";
	uint32_t wait = dns_desec_wait_ms(status, retry_after), min_ttl;
	struct dns_reply r = {0};
	int rc;

	/* 429 with a short Retry-After: the same request once it is over. */
	if (wait && ++j->tries < DNS_JOB_TRIES && loop_timer_start(j->loop, &j->retry, wait) == 0)
		return;
	r.addrs.family = j->to.family;
	if (j->step == STEP_CHECK && status == 404)
		return desec_checked(j, &r, true);
	r.result =
	    dns_desec_status(status, body, h->len, retry_after, j->zone, r.why, sizeof(r.why));
	if (r.result != DNS_RESULT_OK)
		return finish(j, KITH_EVALUE, false, r.result, r.why);
	if (j->step == STEP_CHECK) {
		rc = dns_desec_read(body, h->len, j->zone, j->name, j->to.family, &r.addrs, &r.ttl);
		if (rc)
			return finish(j, rc, false, DNS_RESULT_MALFORMED,
			              "the deSEC API's answer is not a record set kith can read");
		r.addrs.family = j->to.family;
		return desec_checked(j, &r, false);
	}
	if (j->step == STEP_ZONE) {
		rc = dns_desec_read_domain(body, h->len, j->zone, &min_ttl);
		if (rc)
			return finish(j, rc, false, DNS_RESULT_MALFORMED,
			              "the deSEC API's answer is not a domain kith can read");
		/* deSEC refuses a TTL under the domain's minimum. */
		j->min_ttl = min_ttl;
		if (min_ttl > j->txt_ttl)
			j->txt_ttl = min_ttl;
	}
	j->tries = 0;
	on_answer(j, &r);
}

static void on_http_done(void *arg, CURL *easy, CURLcode result)
{
	struct dns_job *j = arg;
	struct http *h = &j->http;
	curl_off_t retry_after = 0;
	char why[DNS_WHY_MAX];
	long status = 0;

	h->running = false;
	if (result != CURLE_OK && !h->over)
		return transport_failed(j, -EIO,
		                        h->guard.refused[0]
		                            ? "its address is private (refuse_private)"
		                            : curl_easy_strerror(result));
	if (h->over) {
		snprintf(why, sizeof(why),
		         "%s's answer is over %zu KiB: is the url that of its API?", api_name(j),
		         h->max >> 10);
		return finish(j, KITH_ETOOBIG, false, DNS_RESULT_OTHER, why);
	}
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
	if (j->cred.provider != DNS_PROVIDER_DESEC)
		return pdns_done(j, status);
	/* Seconds, 0 without a Retry-After; a day at most in a sentence. */
	if (curl_easy_getinfo(easy, CURLINFO_RETRY_AFTER, &retry_after) != CURLE_OK ||
	    retry_after < 0)
		retry_after = 0;
	desec_done(j, status, retry_after > 86400 ? 86400L : (long)retry_after);
}

/* The current step's request to the PowerDNS API: the GET of the zone, or
 * a PATCH of it with *body (malloc'd). */
static int pdns_request(struct dns_job *j, char **body, size_t *len)
{
	int rc = 0;

	if (j->step == STEP_SWAP)
		rc = dns_pdns_replace(body, len, j->name, &j->to, j->ttl);
	else if (j->step != STEP_CHECK)
		rc = dns_pdns_txt(body, len, j->name, j->step == STEP_TXT_ADD ? j->txt : NULL,
		                  j->txt_ttl);
	return rc ? rc : dns_pdns_zone_url(j->http.url, sizeof(j->http.url), &j->cred, j->zone);
}

/* The current step's request to the deSEC API: the GET of the domain or
 * of the set, or the bulk PATCH of the domain's sets with *body
 * (malloc'd), which creates, replaces or deletes one (dns/desec.h). */
static int desec_request(struct dns_job *j, char **body, size_t *len)
{
	struct http *h = &j->http;
	int rc;

	switch (j->step) {
	case STEP_ZONE:
		return dns_desec_domain_url(h->url, sizeof(h->url), &j->cred, j->zone);
	case STEP_CHECK:
		return dns_desec_rrset_url(h->url, sizeof(h->url), &j->cred, j->zone, j->name,
		                           j->to.family);
	case STEP_SWAP:
		rc = dns_desec_replace(body, len, j->zone, j->name, &j->to, j->ttl);
		break;
	default:
		rc = dns_desec_txt(body, len, j->zone, j->name,
		                   j->step == STEP_TXT_ADD ? j->txt : NULL, j->txt_ttl);
		break;
	}
	return rc ? rc : dns_desec_rrsets_url(h->url, sizeof(h->url), &j->cred, j->zone);
}

/* Sends the current step of a pdns or desec job: a GET, or a PATCH. */
static int http_start(struct dns_job *j)
{
	struct http *h = &j->http;
	bool desec = j->cred.provider == DNS_PROVIDER_DESEC;
	char key[DNS_CRED_TOKEN_MAX + 32], *body = NULL;
	size_t len = 0;
	int rc;

	if (!h->easy && (web_ready(j->web) != 0 || !(h->easy = curl_easy_init())))
		return -ENOMEM;
	h->len = 0;
	h->over = false;
	h->max = desec ? DNS_DESEC_ANSWER_MAX : DNS_PDNS_ANSWER_MAX;
	rc = desec ? desec_request(j, &body, &len) : pdns_request(j, &body, &len);
	snprintf(key, sizeof(key), desec ? "Authorization: Token %s" : "X-API-Key: %s",
	         j->cred.token);
	curl_slist_free_all(h->headers);
	h->headers = NULL;
	if (!rc && (!(h->headers = curl_slist_append(NULL, key)) ||
	            !curl_slist_append(h->headers, "Content-Type: application/json") ||
	            !curl_slist_append(h->headers, "Accept: application/json")))
		rc = -ENOMEM;
	sodium_memzero(key, sizeof(key));
	curl_easy_reset(h->easy);
	if (!rc && (curl_easy_setopt(h->easy, CURLOPT_URL, h->url) ||
	            curl_easy_setopt(h->easy, CURLOPT_PROTOCOLS_STR, "http,https") ||
	            curl_easy_setopt(h->easy, CURLOPT_HTTPHEADER, h->headers) ||
	            curl_easy_setopt(h->easy, CURLOPT_TIMEOUT_MS, (long)DNS_JOB_TIMEOUT_MS) ||
	            curl_easy_setopt(h->easy, CURLOPT_NOSIGNAL, 1L) ||
	            curl_easy_setopt(h->easy, CURLOPT_QUICK_EXIT, 1L) ||
	            curl_easy_setopt(h->easy, CURLOPT_FOLLOWLOCATION, 0L) ||
	            curl_easy_setopt(h->easy, CURLOPT_PROXY, "") ||
	            curl_easy_setopt(h->easy, CURLOPT_USERAGENT, "kith-dns") ||
	            curl_easy_setopt(h->easy, CURLOPT_WRITEFUNCTION, on_http_body) ||
	            curl_easy_setopt(h->easy, CURLOPT_WRITEDATA, h) ||
	            (body && (curl_easy_setopt(h->easy, CURLOPT_CUSTOMREQUEST, "PATCH") ||
	                      curl_easy_setopt(h->easy, CURLOPT_POSTFIELDSIZE, (long)len) ||
	                      curl_easy_setopt(h->easy, CURLOPT_COPYPOSTFIELDS, body))) ||
	            (j->refuse_private && web_guard_public(h->easy, &h->guard) != 0)))
		rc = KITH_EVALUE;
	free(body);
	if (!rc)
		rc = web_submit(j->web, h->easy, on_http_done, j);
	h->running = rc == 0;
	return rc;
}

static void http_free(struct dns_job *j)
{
	struct http *h = &j->http;

	if (h->running)
		web_cancel(j->web, h->easy);
	if (h->easy)
		curl_easy_cleanup(h->easy);
	curl_slist_free_all(h->headers); /* holds the token: libcurl's copy */
	free(h->answer);
	memset(h, 0, sizeof(*h));
}

/* Builds the current step's message and sends it. */
static void step_start(struct dns_job *j)
{
	int family = j->to.family;
	int rc;

	dns_request_clear(&j->req);
	if (is_http(j)) {
		rc = http_start(j);
		if (rc == -EBUSY)
			return transport_failed(j, rc, "too many transfers at once");
		if (rc) {
			char why[DNS_WHY_MAX];
			snprintf(why, sizeof(why), "cannot call %s: %s", api_name(j),
			         proto_strerror(rc));
			finish(j, rc, false, DNS_RESULT_OK, why);
		}
		return;
	}
	if (j->refuse_private &&
	    !addr_is_public((const struct sockaddr *)&j->cred.server, j->cred.server_len)) {
		finish(j, -EACCES, false, DNS_RESULT_REFUSED,
		       "the DNS server's address is private, and this agent keeps off private "
		       "addresses (refuse_private, the wan default): give a public one");
		return;
	}
	switch (j->step) {
	case STEP_SWAP:
		rc = dns_update_replace(&j->req, &j->cred, j->zone, j->name, &j->from, &j->to,
		                        j->ttl);
		break;
	case STEP_CHECK:
		rc = dns_query_addrs(&j->req, &j->cred, j->name, family);
		break;
	case STEP_TXT_ADD:
		rc = dns_update_txt_add(&j->req, &j->cred, j->zone, j->name, j->txt, j->txt_ttl);
		break;
	default:
		rc = dns_update_txt_delete(&j->req, &j->cred, j->zone, j->name, j->txt);
		break;
	}
	if (!rc)
		rc = dns_tcp_start(&j->tcp, j->loop, &j->cred.server, j->req.wire, j->req.wire_len,
		                   DNS_JOB_TIMEOUT_MS, on_reply, j);
	if (rc) {
		char why[DNS_WHY_MAX];
		snprintf(why, sizeof(why), "cannot send to the DNS server: %s", proto_strerror(rc));
		finish(j, rc, false, DNS_RESULT_OK, why);
	}
}

static int job_new(struct dns_job **out, const struct dns_job_env *env, const struct dns_cred *cred,
                   const char *zone, const char *name, dns_job_fn fn, void *arg)
{
	bool http = cred->provider == DNS_PROVIDER_PDNS || cred->provider == DNS_PROVIDER_DESEC;
	struct dns_job *j;

	*out = NULL;
	if ((cred->provider != DNS_PROVIDER_RFC2136 && !(http && env->web)) ||
	    strlen(zone) > DNS_NAME_TEXT_MAX || strlen(name) > DNS_NAME_TEXT_MAX)
		return KITH_EVALUE;
	j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	j->loop = env->loop;
	j->web = env->web;
	j->refuse_private = env->refuse_private;
	j->cred = *cred;
	snprintf(j->zone, sizeof(j->zone), "%s", zone);
	snprintf(j->name, sizeof(j->name), "%s", name);
	j->fn = fn;
	j->arg = arg;
	/* The first step starts from the loop, never from here: the caller
	 * gets its job before any callback. */
	loop_timer_init(&j->retry, on_retry, j);
	if (loop_timer_start(j->loop, &j->retry, 0) != 0) {
		dns_job_free(&j);
		return -ENOMEM;
	}
	*out = j;
	return 0;
}

int dns_job_swap(struct dns_job **out, const struct dns_job_env *env, const struct dns_cred *cred,
                 const char *zone, const char *name, const struct dns_addrs *from,
                 const struct dns_addrs *to, uint32_t ttl, dns_job_fn fn, void *arg)
{
	int rc;

	if (to->n < 1 || to->n > DNS_ADDRS_MAX || from->n > DNS_ADDRS_MAX ||
	    (to->family != AF_INET && to->family != AF_INET6) ||
	    (from->n && from->family != to->family))
		return KITH_EVALUE;
	rc = job_new(out, env, cred, zone, name, fn, arg);
	if (rc)
		return rc;
	(*out)->from = *from;
	(*out)->from.family = to->family;
	(*out)->to = *to;
	(*out)->ttl = ttl;
	/* pdns and desec read first: their APIs have no prerequisite. */
	(*out)->step = is_http(*out) ? STEP_CHECK : STEP_SWAP;
	return 0;
}

int dns_job_test(struct dns_job **out, const struct dns_job_env *env, const struct dns_cred *cred,
                 const char *zone, dns_job_fn fn, void *arg)
{
	char name[DNS_NAME_TEXT_MAX + 16];
	uint8_t nonce[8];
	char hex[2 * sizeof(nonce) + 1];
	int rc;

	snprintf(name, sizeof(name), "%s.%s", DNS_JOB_TEST_NAME, zone);
	if (strlen(name) > DNS_NAME_TEXT_MAX)
		return KITH_EVALUE;
	rc = job_new(out, env, cred, zone, name, fn, arg);
	if (rc)
		return rc;
	randombytes_buf(nonce, sizeof(nonce));
	sodium_bin2hex(hex, sizeof(hex), nonce, sizeof(nonce));
	snprintf((*out)->txt, sizeof((*out)->txt), "kith dns test %s", hex);
	(*out)->txt_ttl = DNS_JOB_TEST_TTL;
	/* desec: the domain first, whose minimum TTL the record needs. */
	(*out)->step = cred->provider == DNS_PROVIDER_DESEC ? STEP_ZONE : STEP_TXT_ADD;
	return 0;
}

void dns_job_free(struct dns_job **job)
{
	struct dns_job *j = job ? *job : NULL;

	if (!j)
		return;
	dns_tcp_cancel(&j->tcp);
	http_free(j);
	loop_timer_stop(j->loop, &j->retry);
	dns_request_clear(&j->req);
	sodium_memzero(&j->cred, sizeof(j->cred));
	free(j);
	*job = NULL;
}
