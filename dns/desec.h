/* deSEC's HTTP API (provider = desec in dns/cred.h), with no I/O: the URLs
 * and bodies kith sends, and the reading of deSEC's answers (untrusted
 * JSON, parsed with jansson). Sending is agent/dns's, through libcurl in
 * the event loop, with "Authorization: Token <token>".
 *
 * Written to deSEC's documentation (desec.readthedocs.io: dns/rrsets,
 * dns/domains, rate-limits) and tested against answers shaped as it shows
 * them, not against deSEC's servers.
 *
 * What kith asks of the API, under the credential's url (by default
 * https://desec.io/api/v1):
 *   GET   /domains/ZONE/                     the domain: is it the token's
 *                                            account's, its minimum TTL
 *   GET   /domains/ZONE/rrsets/SUB/TYPE/     one set: 200 with it, 404
 *                                            when there is none (or no
 *                                            such domain: the GET above
 *                                            tells which); SUB "@" at the
 *                                            apex
 *   PATCH /domains/ZONE/rrsets/              the write: a one-set bulk
 *                                            PATCH, [{"subname", "type",
 *                                            "ttl", "records"}], which
 *                                            creates the set or replaces
 *                                            it, or with "records": []
 *                                            deletes it
 * The write goes to the bulk endpoint because PUT and PATCH on
 * /rrsets/SUB/TYPE/ only change a set that exists (404 otherwise): kith
 * must also create one (a swap from no set, kith dns test's TXT record).
 *
 * An address change is a read then a write, as for PowerDNS: GET the set
 * (dns_desec_read()), compare it with what kith expects, then PATCH it
 * (dns_desec_replace()). deSEC has no conditional write (no prerequisite,
 * no If-Match), so two writers racing between the read and the write are
 * not caught: the window is one round trip (docs/dns.md).
 *
 * deSEC keeps names in lower case: zones and subnames are sent in lower
 * case, and compared without regard to case. Names are dns/name.h text;
 * a final dot is ignored. The name must be the zone or under it. Every
 * buffer is the caller's. */
#ifndef KITH_DNS_DESEC_H
#define KITH_DNS_DESEC_H

#include <stddef.h>
#include <stdint.h>

#include "cred.h"
#include "reply.h"
#include "update.h"

/* The most of an answer kith reads: a set is at most 64,000 bytes of
 * records (deSEC's limit), a domain a few keys. A longer answer is
 * refused (KITH_ETOOBIG) rather than parsed. */
#define DNS_DESEC_ANSWER_MAX ((size_t)256 << 10)
/* Enough for any URL made from a credential's url (DNS_CRED_URL_MAX), a
 * zone and a subname. */
#define DNS_DESEC_URL_MAX 1024
/* The longest TTL deSEC takes (one week); the shortest is the domain's
 * minimum_ttl (3600 for most accounts). */
#define DNS_DESEC_TTL_MAX 604800u
/* Seconds of a 429's Retry-After that a job waits before it tries again;
 * a longer wait fails the change (with dns_desec_status()'s sentence). */
#define DNS_DESEC_WAIT_MAX 10

/* The URLs, into out (n bytes; "" on error), from cred (borrowed, a desec
 * credential; a final '/' of its url is dropped) and zone (borrowed):
 *   dns_desec_domain_url()   <url>/domains/<zone>/
 *   dns_desec_rrsets_url()   <url>/domains/<zone>/rrsets/
 *   dns_desec_rrset_url()    <url>/domains/<zone>/rrsets/<sub>/<type>/
 * the last for name (borrowed; the zone itself gives sub "@") and the
 * type of family (AF_INET: A, AF_INET6: AAAA). Each returns 0,
 * KITH_EVALUE (not a desec credential, a bad url, zone, name, a name
 * outside the zone, or a bad family) or KITH_ETOOBIG (n short). */
int dns_desec_domain_url(char *out, size_t n, const struct dns_cred *cred, const char *zone);
int dns_desec_rrsets_url(char *out, size_t n, const struct dns_cred *cred, const char *zone);
int dns_desec_rrset_url(char *out, size_t n, const struct dns_cred *cred, const char *zone,
                        const char *name, int family);

/* Reads a 200 answer to the GET of name's set of type family (AF_INET:
 * A, AF_INET6: AAAA) in zone, json[0..len) (untrusted): *out gets family
 * and the set's distinct addresses, *ttl its TTL. (A 404 answer to that
 * GET means no set: the caller reads no body then.) Returns 0, or
 * KITH_EVALUE (a bad zone, name or family, a name outside the zone: the
 * caller's mistake), KITH_ETOOBIG (over DNS_DESEC_ANSWER_MAX, or over
 * DNS_ADDRS_MAX addresses), or KITH_EMALFORMED (not JSON, a key twice in
 * an object, or not one RRset object as deSEC documents it: string
 * "domain", "subname", "name" and "type" naming that zone, name and type
 * (without regard to case; "name" with its final dot), a "ttl" that is a
 * 32-bit count, and a "records" array of strings each an address of the
 * type, written as inet_pton() reads it). On error *out holds no address
 * and *ttl is 0. */
int dns_desec_read(const char *json, size_t len, const char *zone, const char *name, int family,
                   struct dns_addrs *out, uint32_t *ttl);

/* Reads a 200 answer to the GET of zone's domain, json[0..len)
 * (untrusted): *minimum_ttl gets the shortest TTL deSEC takes in it.
 * Returns 0, KITH_EVALUE (a bad zone), KITH_ETOOBIG (over
 * DNS_DESEC_ANSWER_MAX) or KITH_EMALFORMED (not JSON, a key twice, not an
 * object with a string "name" that is zone and an integer "minimum_ttl"
 * of 1 to DNS_DESEC_TTL_MAX); *minimum_ttl is 0 on error. */
int dns_desec_read_domain(const char *json, size_t len, const char *zone, uint32_t *minimum_ttl);

/* The body of the bulk PATCH (to dns_desec_rrsets_url()) that replaces
 * the set of to->family's type at name in zone with to (1..DNS_ADDRS_MAX
 * distinct addresses: deSEC refuses a duplicate) and TTL ttl (at most
 * DNS_TTL_MAX: deSEC itself refuses one under the domain's minimum or over
 * DNS_DESEC_TTL_MAX, which dns_desec_status() says), creating the set if
 * there is none; or with to->n == 0, deletes it ("records": [], no ttl).
 * *out is malloc'd compact JSON, NUL-terminated, *len its length without
 * the NUL: the caller frees it with free(). On error *out is NULL.
 * Returns 0, KITH_EVALUE (a bad zone, name, family, address set or TTL, a
 * name outside the zone) or -ENOMEM. */
int dns_desec_replace(char **out, size_t *len, const char *zone, const char *name,
                      const struct dns_addrs *to, uint32_t ttl);
/* The bulk PATCH body that sets the TXT record "text" (printable ASCII,
 * at most DNS_TXT_MAX bytes) at name with TTL ttl, replacing the TXT set
 * there, or with text NULL deletes that set: kith dns test's round trip,
 * whose TTL must be at least the domain's minimum_ttl
 * (dns_desec_read_domain()). The record is the zone-file string deSEC
 * wants: text in double quotes, '"' and '\' escaped. As
 * dns_desec_replace(). */
int dns_desec_txt(char **out, size_t *len, const char *zone, const char *name, const char *text,
                  uint32_t ttl);

/* What an HTTP answer of the API about zone means: DNS_RESULT_OK for a
 * 2xx status (why ""), otherwise a result (DNS_RESULT_REFUSED for 401, a
 * token deSEC does not take, and 403, a token without the right;
 * DNS_RESULT_NOTZONE for 404, no such domain in the token's account;
 * DNS_RESULT_OTHER else: a TTL under the domain's minimum or over the
 * maximum (400), another refusal (400), throttling (429), a failure (5xx)
 * or a url that is not deSEC's API) and in why (n bytes, cut to fit; may
 * be NULL when n is 0) one sentence of printable ASCII saying what to
 * fix, quoting deSEC's message from body[0..len) (untrusted, may be
 * anything; JSON {"detail": ...}, {"field": [...]} or a list of those)
 * made printable and cut to a few hundred bytes; never the token.
 * retry_after is the answer's Retry-After in seconds (0 without one),
 * which a 429's sentence gives. A 404 to the GET of a set is no set, not
 * an error: see dns_desec_read(). */
enum dns_result dns_desec_status(long status, const char *body, size_t len, long retry_after,
                                 const char *zone, char *why, size_t n);

/* How long to wait before trying a request again, in milliseconds: for a
 * 429 whose Retry-After (retry_after seconds, 0 without one: 1 s then)
 * is at most DNS_DESEC_WAIT_MAX, that wait; 0 (do not try again: the
 * answer stands) for any other status or a longer wait. */
uint32_t dns_desec_wait_ms(long status, long retry_after);

#endif
