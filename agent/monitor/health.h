/* Checks of partners' services, through agent/core/web.h: never blocking.
 *
 * The agent hands this module the services it may check (those of owners
 * that granted it monitor); each runs every interval (with up to 10%
 * jitter so checks of many services spread out), with its timeout, TLS
 * verification on, and connections kept between checks:
 *   http(s)://  GET; up when the status is expect_status (any 2xx or 3xx
 *               when 0) and the body holds expect_body; the certificate's
 *               expiry is read for https
 *   tcp://H:P   up when a TCP connection opens
 *   other URLs  ftp(s), imap(s), pop3(s), smtp(s): up when the transfer
 *               succeeds and its first 64 KiB hold expect_body; the
 *               certificate's expiry is read for the implicit-TLS ones
 * Schemes that read local files or need local secrets (file, scp, sftp),
 * telnet, ldap and the rest are refused; redirects are not followed; at
 * most 64 KiB of an answer is read.
 * A result is degraded rather than up when the certificate expires within
 * tls_warn_s, or the answer took more than half the timeout. Every result
 * goes to the callback; deciding what to publish is the agent's business. */
#ifndef KITH_AGENT_MONITOR_HEALTH_H
#define KITH_AGENT_MONITOR_HEALTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/body.h"
#include "proto/limits.h"

struct loop;
struct web;

/* What a check connects to: the URL's host, or for a service with a DNS
 * plan one of its addresses, primary i at HEALTH_TARGET_PRIMARY + i and
 * standby j at HEALTH_TARGET_STANDBY + j (the URL's host name still the
 * Host header and the TLS name: libcurl's CONNECT_TO). */
#define HEALTH_TARGET_URL 0
#define HEALTH_TARGET_PRIMARY 1
#define HEALTH_TARGET_STANDBY (HEALTH_TARGET_PRIMARY + PROTO_DNS_ADDRS_MAX)
#define HEALTH_TARGETS (HEALTH_TARGET_STANDBY + PROTO_DNS_ADDRS_MAX)

struct health_result {
	unsigned target; /* HEALTH_TARGET_* */
	enum proto_status status;
	uint32_t latency_ms;
	uint64_t checked_at;               /* Unix seconds */
	char error[PROTO_ERRTEXT_MAX + 1]; /* why not up; "" when up */
	uint64_t tls_expires;              /* certificate notAfter, 0: unknown */
};

/* owner and service are borrowed for the call; r too. The callback may
 * watch and unwatch services, the one reported included. */
typedef void (*health_result_fn)(void *arg, const uint8_t owner[PROTO_KEY_LEN], const char *service,
                                 const struct health_result *r);

struct health_stats {
	uint64_t checks, up, degraded, down;
	uint64_t deferred; /* started late: too many checks in flight */
	uint32_t watched;
	uint32_t last_minute; /* checks completed in the last 60 seconds */
};

struct health;

/* l and w are borrowed and must outlive the module. On success *out is
 * owned by the caller (health_free()). */
int health_new(struct health **out, struct loop *l, struct web *w, health_result_fn fn, void *arg);
void health_free(struct health **h);

/* Checks (owner, service) with spec from now on (spec copied; a watch of
 * the same pair is updated, its next check keeping its time). The first
 * check runs within one interval, spread at random. A service with a DNS
 * plan is checked at each of its primary and standby addresses, never
 * through its name (which points at the standby after a failover), each
 * target reporting its own results. Returns 0, -ENOMEM or
 * KITH_EVALUE (a URL libcurl cannot parse, a scheme not allowed, tcp://
 * without a port, a service name or spec out of range). */
int health_watch(struct health *h, const uint8_t owner[PROTO_KEY_LEN], const char *service,
                 const struct proto_service *spec);
/* Stops checking (owner, service); a check under way is abandoned. */
void health_unwatch(struct health *h, const uint8_t owner[PROTO_KEY_LEN], const char *service);
/* Stops every check of owner's services. */
void health_unwatch_owner(struct health *h, const uint8_t owner[PROTO_KEY_LEN]);
void health_get_stats(const struct health *h, struct health_stats *out);

/* Verifies certificates against the CA bundle in path (copied) instead of
 * the system's, from the next check on; NULL: the system's again. For tests
 * and private CAs. Returns 0 or -ENOMEM. */
int health_set_ca_file(struct health *h, const char *path);
/* When refuse is true, checks do not connect to loopback, private,
 * link-local, CGNAT or multicast addresses (IPv4 and IPv6), nor send a
 * request over a reused connection to one, so that a peer's URL cannot make
 * the agent probe its own host or network; such a check is down with "not
 * checked: ADDRESS is a private address". Off by default. */
void health_set_refuse_private(struct health *h, bool refuse);

/* Parses a certificate date as libcurl's OpenSSL backend prints it in
 * CURLINFO_CERTINFO ("Jan  7 12:00:00 2030 GMT", an optional fraction of
 * the second allowed) into Unix seconds. text is borrowed. Returns 0 or
 * KITH_EVALUE. Exposed for tests. */
int health_cert_time(const char *text, uint64_t *out);

#endif
