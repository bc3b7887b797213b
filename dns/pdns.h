/* The PowerDNS HTTP API (provider = pdns in dns/cred.h), with no I/O: the
 * URLs and bodies kith sends, and the reading of PowerDNS's answers
 * (untrusted JSON, parsed with jansson). Sending is agent/dns's, through
 * libcurl in the event loop.
 *
 * An address change is a read then a write: GET the zone, find the name's
 * set (dns_pdns_read()), compare it with what kith expects, then PATCH it
 * (changetype REPLACE, dns_pdns_replace()). The API has no prerequisite
 * like RFC 2136's, so two writers racing between the read and the write
 * are not caught: the window is one round trip (docs/dns.md).
 *
 * Names are dns/name.h text without a final dot; the API's names end with
 * one, which these functions add. Every buffer is the caller's. */
#ifndef KITH_DNS_PDNS_H
#define KITH_DNS_PDNS_H

#include <stddef.h>
#include <stdint.h>

#include "cred.h"
#include "reply.h"
#include "update.h"

/* The most of a zone kith reads: a GET answer longer than this is refused
 * (KITH_ETOOBIG) rather than parsed. */
#define DNS_PDNS_ANSWER_MAX ((size_t)4 << 20)
/* Enough for any URL made from a credential's url (DNS_CRED_URL_MAX), its
 * server_id and a zone. */
#define DNS_PDNS_URL_MAX 1024

/* The zone's URL: "<url>/api/v1/servers/<server_id>/zones/<zone>." into
 * out (n bytes; "" on error). cred (borrowed) is a pdns credential; an
 * empty server_id means DNS_CRED_PDNS_SERVER_ID, a final '/' of its url is
 * dropped. Returns 0, KITH_EVALUE (not a pdns credential, a bad url,
 * server_id or zone) or KITH_ETOOBIG (n short). */
int dns_pdns_zone_url(char *out, size_t n, const struct dns_cred *cred, const char *zone);

/* Reads a GET answer of the zone, json[0..len) (untrusted), for the set of
 * type family (AF_INET: A, AF_INET6: AAAA) at name (names compared without
 * regard to case): *out gets family and the set's distinct addresses,
 * those of records not disabled (none when the name has no such set), and
 * *ttl its TTL (0 without a set). Returns 0, or KITH_EVALUE (a bad name or
 * family: the caller's mistake), KITH_ETOOBIG (over DNS_PDNS_ANSWER_MAX,
 * or over DNS_ADDRS_MAX addresses), or KITH_EMALFORMED (not JSON, a key
 * twice in an object, or not the shape of a zone: an object with an
 * "rrsets" array of objects with string "name" and "type" and a "records"
 * array; two sets of the type at name; in the set, a "ttl" that is not a
 * 32-bit count, a record's "content" that is not an address of the type
 * or a "disabled" that is not a boolean). On error *out holds no address
 * and *ttl is 0. */
int dns_pdns_read(const char *json, size_t len, const char *name, int family, struct dns_addrs *out,
                  uint32_t *ttl);

/* The PATCH body that replaces the set of to->family's type at name with
 * to (1..DNS_ADDRS_MAX distinct addresses) and TTL ttl (at most
 * DNS_TTL_MAX), or with to->n == 0, deletes it (changetype DELETE); for
 * TXT, dns_pdns_txt(). *out is malloc'd compact JSON, NUL-terminated,
 * *len its length without the NUL: the caller frees it with free(). On
 * error *out is NULL. Returns 0, KITH_EVALUE (a bad name, family, address
 * set or TTL) or -ENOMEM. */
int dns_pdns_replace(char **out, size_t *len, const char *name, const struct dns_addrs *to,
                     uint32_t ttl);
/* The PATCH body that sets the TXT record "text" (printable ASCII, at most
 * DNS_TXT_MAX bytes) at name with TTL ttl, replacing the TXT set there, or
 * with text NULL deletes that set: kith dns test's round trip. The content
 * is the zone-file string the API wants: text in double quotes, '"' and
 * '\' escaped. As dns_pdns_replace(). */
int dns_pdns_txt(char **out, size_t *len, const char *name, const char *text, uint32_t ttl);

/* What an HTTP answer of the API about zone means: DNS_RESULT_OK for a
 * 2xx status (why ""), otherwise a result (DNS_RESULT_REFUSED for 401 and
 * 403, DNS_RESULT_NOTZONE for 404, DNS_RESULT_OTHER else) and in why (n
 * bytes, cut to fit; may be NULL when n is 0) one sentence of printable
 * ASCII saying what to fix, quoting PowerDNS's "error" field from
 * body[0..len) (untrusted, may be anything: JSON for 422, plain text for
 * 401 and 404) when there is one, made printable and cut to a few
 * hundred bytes; never the token. */
enum dns_result dns_pdns_status(long status, const char *body, size_t len, const char *zone,
                                char *why, size_t n);

#endif
