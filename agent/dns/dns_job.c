/* A change of DNS records as a short chain of exchanges (dns_job.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "proto/error.h"
#include "agent/core/loop.h"
#include "dns_job.h"
#include "dns_tcp.h"

/* Transport failures are tried again after 1 s, then 2 s. */
#define DNS_JOB_RETRY_MS 1000
#define DNS_JOB_TEST_NAME "_kith-test"
#define DNS_JOB_TEST_TTL 60

enum step {
	STEP_SWAP,    /* the compare-and-swap UPDATE */
	STEP_CHECK,   /* after NXRRSET: what the name holds now */
	STEP_TXT_ADD, /* test: the TXT record added */
	STEP_TXT_DEL, /* test: and deleted */
};

struct dns_job {
	struct loop *loop;
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
		if (r->result != DNS_RESULT_NXRRSET)
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

static void on_reply(struct dns_tcp *x, void *arg, int err, const uint8_t *reply, size_t len)
{
	struct dns_job *j = arg;
	struct dns_reply r;
	char why[DNS_WHY_MAX];
	int rc;

	(void)x;
	if (err) {
		if (++j->tries < DNS_JOB_TRIES &&
		    loop_timer_start(j->loop, &j->retry, (uint64_t)DNS_JOB_RETRY_MS * j->tries) ==
		        0)
			return;
		snprintf(why, sizeof(why), "no answer from the DNS server after %u tries: %s",
		         j->tries,
		         err == KITH_ETRUNC ? "it closed the connection" : strerror(-err));
		return finish(j, err, false, DNS_RESULT_OK, why);
	}
	rc = dns_reply_parse(&r, &j->req, &j->cred, reply, len);
	if (rc)
		return finish(j, rc, false, r.result, r.why);
	j->tries = 0;
	on_answer(j, &r);
}

/* Builds the current step's message and sends it. */
static void step_start(struct dns_job *j)
{
	int family = j->to.family;
	int rc;

	dns_request_clear(&j->req);
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

static int job_new(struct dns_job **out, struct loop *l, const struct dns_cred *cred,
                   const char *zone, const char *name, dns_job_fn fn, void *arg)
{
	struct dns_job *j;

	*out = NULL;
	if (cred->provider != DNS_PROVIDER_RFC2136 || strlen(zone) > DNS_NAME_TEXT_MAX ||
	    strlen(name) > DNS_NAME_TEXT_MAX)
		return KITH_EVALUE;
	j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	j->loop = l;
	j->cred = *cred;
	snprintf(j->zone, sizeof(j->zone), "%s", zone);
	snprintf(j->name, sizeof(j->name), "%s", name);
	j->fn = fn;
	j->arg = arg;
	/* The first step starts from the loop, never from here: the caller
	 * gets its job before any callback. */
	loop_timer_init(&j->retry, on_retry, j);
	if (loop_timer_start(l, &j->retry, 0) != 0) {
		dns_job_free(&j);
		return -ENOMEM;
	}
	*out = j;
	return 0;
}

int dns_job_swap(struct dns_job **out, struct loop *l, const struct dns_cred *cred,
                 const char *zone, const char *name, const struct dns_addrs *from,
                 const struct dns_addrs *to, uint32_t ttl, dns_job_fn fn, void *arg)
{
	int rc;

	if (to->n < 1 || to->n > DNS_ADDRS_MAX || from->n > DNS_ADDRS_MAX ||
	    (to->family != AF_INET && to->family != AF_INET6) ||
	    (from->n && from->family != to->family))
		return KITH_EVALUE;
	rc = job_new(out, l, cred, zone, name, fn, arg);
	if (rc)
		return rc;
	(*out)->from = *from;
	(*out)->from.family = to->family;
	(*out)->to = *to;
	(*out)->ttl = ttl;
	(*out)->step = STEP_SWAP;
	return 0;
}

int dns_job_test(struct dns_job **out, struct loop *l, const struct dns_cred *cred,
                 const char *zone, dns_job_fn fn, void *arg)
{
	char name[DNS_NAME_TEXT_MAX + 16];
	uint8_t nonce[8];
	char hex[2 * sizeof(nonce) + 1];
	int rc;

	snprintf(name, sizeof(name), "%s.%s", DNS_JOB_TEST_NAME, zone);
	if (strlen(name) > DNS_NAME_TEXT_MAX)
		return KITH_EVALUE;
	rc = job_new(out, l, cred, zone, name, fn, arg);
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
	loop_timer_stop(j->loop, &j->retry);
	dns_request_clear(&j->req);
	sodium_memzero(&j->cred, sizeof(j->cred));
	free(j);
	*job = NULL;
}
