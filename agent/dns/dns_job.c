/* A change of DNS records as a short chain of exchanges (dns_job.h): DNS
 * messages over TCP for rfc2136, HTTP requests for the PowerDNS API. */
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
#include "dns/pdns.h"
#include "dns_job.h"
#include "dns_tcp.h"

/* Transport failures are tried again after 1 s, then 2 s. */
#define DNS_JOB_RETRY_MS 1000
#define DNS_JOB_TEST_NAME "_kith-test"
#define DNS_JOB_TEST_TTL 60

enum step {
	STEP_SWAP,    /* the compare-and-swap UPDATE; pdns: the write */
	STEP_CHECK,   /* after NXRRSET: what the name holds now; pdns: first */
	STEP_TXT_ADD, /* test: the TXT record added */
	STEP_TXT_DEL, /* test: and deleted */
};

/* An HTTP exchange with the PowerDNS API. */
struct http {
	CURL *easy;
	struct curl_slist *headers;
	char url[DNS_PDNS_URL_MAX];
	char *answer; /* the answer's body, DNS_PDNS_ANSWER_MAX at most */
	size_t len, cap;
	bool over; /* the answer was longer */
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
	char txt[64];
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
	struct dns_job_result r = {.rc = rc, .changed = changed, .result = result};

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

/* ---- the PowerDNS API ---- */

static size_t on_http_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct http *h = arg;
	size_t n = size * nmemb;

	if (h->len + n > DNS_PDNS_ANSWER_MAX) {
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

static void on_http_done(void *arg, CURL *easy, CURLcode result)
{
	struct dns_job *j = arg;
	struct http *h = &j->http;
	struct dns_reply r = {0};
	long status = 0;
	int rc;

	h->running = false;
	if (result != CURLE_OK && !h->over)
		return transport_failed(j, -EIO,
		                        h->guard.refused[0]
		                            ? "its address is private (refuse_private)"
		                            : curl_easy_strerror(result));
	if (h->over)
		return finish(
		    j, KITH_ETOOBIG, false, DNS_RESULT_OTHER,
		    "the PowerDNS API's answer is over 4 MiB: is the url that of its API?");
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
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

/* Sends the current step of a pdns job: the GET of the zone, or a PATCH. */
static int http_start(struct dns_job *j)
{
	struct http *h = &j->http;
	char key[DNS_CRED_TOKEN_MAX + 16], *body = NULL;
	size_t len = 0;
	int rc = 0;

	if (!h->easy && (web_ready(j->web) != 0 || !(h->easy = curl_easy_init())))
		return -ENOMEM;
	h->len = 0;
	h->over = false;
	if (j->step == STEP_SWAP)
		rc = dns_pdns_replace(&body, &len, j->name, &j->to, j->ttl);
	else if (j->step != STEP_CHECK)
		rc = dns_pdns_txt(&body, &len, j->name, j->step == STEP_TXT_ADD ? j->txt : NULL,
		                  DNS_JOB_TEST_TTL);
	if (!rc)
		rc = dns_pdns_zone_url(h->url, sizeof(h->url), &j->cred, j->zone);
	snprintf(key, sizeof(key), "X-API-Key: %s", j->cred.token);
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
	if (j->cred.provider == DNS_PROVIDER_PDNS) {
		rc = http_start(j);
		if (rc == -EBUSY)
			return transport_failed(j, rc, "too many transfers at once");
		if (rc) {
			char why[DNS_WHY_MAX];
			snprintf(why, sizeof(why), "cannot call the PowerDNS API: %s",
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
		rc = dns_update_txt_add(&j->req, &j->cred, j->zone, j->name, j->txt,
		                        DNS_JOB_TEST_TTL);
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
	struct dns_job *j;

	*out = NULL;
	if ((cred->provider != DNS_PROVIDER_RFC2136 &&
	     (cred->provider != DNS_PROVIDER_PDNS || !env->web)) ||
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
	/* pdns reads the zone first: the API has no prerequisite. */
	(*out)->step = cred->provider == DNS_PROVIDER_PDNS ? STEP_CHECK : STEP_SWAP;
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
	(*out)->step = STEP_TXT_ADD;
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
