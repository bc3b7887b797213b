/* One change of DNS records through a dns grant's credential, as a few
 * exchanges on the event loop: DNS messages over TCP (dns_tcp.h) for an
 * rfc2136 credential, HTTP requests (agent/core/web.h) to the PowerDNS API
 * (dns/pdns.h) for a pdns one, to deSEC's (dns/desec.h) for a desec one:
 *
 *   swap   points name's A or AAAA set from `from` to `to`. rfc2136: an
 *          UPDATE whose prerequisite is that the set is exactly `from`
 *          (dns/update.h's compare-and-swap); NXRRSET (YXRRSET when `from` is
 *          empty) means it is not: a
 *          QUERY then tells whether it already is `to` (another partner
 *          was first, or an earlier try of ours went through: nothing to
 *          do) or something else (a human changed it: left alone, and said
 *          so). pdns: the zone read first, then the same three cases, the
 *          write a PATCH (the API has no prerequisite: a race within one
 *          round trip is not caught). desec: the same with the set read
 *          first (a GET of it; when deSEC says 404 and `from` is not
 *          empty, a GET of the domain tells a set that is not there, left
 *          alone, from a domain that is not, NOTZONE), the write a bulk
 *          PATCH (deSEC has no conditional write either).
 *   test   adds a TXT record at _kith-test.ZONE, then deletes it: proves the
 *          credential works end to end and changes nothing for good. desec:
 *          the domain read first, the record's TTL its minimum_ttl (deSEC
 *          refuses shorter ones) when over 60 s.
 *
 * A transport failure (refused, reset, timeout) is tried again twice, 1 and
 * 2 seconds later; a DNS answer is never retried: it says what to fix. The
 * exception is deSEC's throttling (HTTP 429): a Retry-After of at most
 * DNS_DESEC_WAIT_MAX seconds is waited out, within the same three tries.
 *
 * A job copies what it is given (the credential too, wiped when the job is
 * freed). Its callback runs once, from the loop, as the job's last act:
 * the callback may free it. dns_job_free() before that cancels it (no
 * callback). */
#ifndef KITH_AGENT_DNS_DNS_JOB_H
#define KITH_AGENT_DNS_DNS_JOB_H

#include <stdbool.h>
#include <stdint.h>

#include "dns/cred.h"
#include "dns/reply.h"
#include "dns/update.h"

struct loop;
struct web;
struct dns_job;

/* Where a job runs: the loop, libcurl's multi handle in it (for pdns and
 * desec; NULL refuses their credentials), and whether it must keep off
 * private addresses (as checks do on wan: the server and the url are the
 * grant issuer's; the job then fails with -EACCES and says why). Read at the
 * call; loop and web must outlive the job. */
struct dns_job_env {
	struct loop *loop;
	struct web *web;
	bool refuse_private;
};

/* How a job ended. rc is 0 when it did what it was for (changed says
 * whether records changed: a swap finding `to` in place changed nothing),
 * else a negative code with result (DNS_RESULT_OK for a transport
 * failure) and why, one sentence for the log and the admin. min_ttl is
 * the shortest TTL deSEC takes in the zone when the job read it (a desec
 * test, or a swap that found no set), else 0: a plan's TTL under it will
 * be refused. */
struct dns_job_result {
	int rc;
	bool changed;
	enum dns_result result;
	char why[DNS_WHY_MAX];
	uint32_t min_ttl;
};

typedef void (*dns_job_fn)(void *arg, struct dns_job *job, const struct dns_job_result *r);

/* Per exchange; three tries at most. */
#define DNS_JOB_TIMEOUT_MS 5000
#define DNS_JOB_TRIES 3

/* Both return 0 with *out the caller's (dns_job_free()), or a negative
 * code (KITH_EVALUE: a pdns or desec credential without env->web, a bad
 * name or address set; -ENOMEM) with nothing started. from and to have
 * the same family; to has 1..DNS_ADDRS_MAX addresses, from 0 (no set
 * expected) or more. */
int dns_job_swap(struct dns_job **out, const struct dns_job_env *env, const struct dns_cred *cred,
                 const char *zone, const char *name, const struct dns_addrs *from,
                 const struct dns_addrs *to, uint32_t ttl, dns_job_fn fn, void *arg);
int dns_job_test(struct dns_job **out, const struct dns_job_env *env, const struct dns_cred *cred,
                 const char *zone, dns_job_fn fn, void *arg);
/* Cancels a job under way (no callback) and frees it; harmless on NULL. */
void dns_job_free(struct dns_job **job);

#endif
