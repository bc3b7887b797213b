/* RFC 2136 messages for an rfc2136 credential (dns/cred.h): the UPDATEs
 * kith sends and the QUERY that reads a name's addresses first; their
 * replies are dns/reply.h's. Packets only, built with ldns; sending them is
 * agent/dns's (never ldns's resolver).
 *
 * The address update is a compare-and-swap: its prerequisite (RFC 2136
 * 2.4.2, "RRset exists, value dependent") is the exact set of addresses
 * the updater read, then it deletes the RRset and adds the new one. Two
 * updaters acting at once make one change (the second gets NXRRSET), and a
 * record someone edited by hand is left alone.
 *
 * Every message is signed with the credential's TSIG key (RFC 8945, fudge
 * DNS_TSIG_FUDGE) when one is given, under a random message ID. struct
 * dns_request keeps the wire bytes and what the reply must match: the ID,
 * the opcode, the question and the request MAC the reply's TSIG covers. */
#ifndef KITH_DNS_UPDATE_H
#define KITH_DNS_UPDATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cred.h"
#include "name.h"

/* Addresses kith reads or writes at one name: enough for any failover
 * set; a larger RRset is refused rather than half replaced. */
#define DNS_ADDRS_MAX 16
/* Seconds a TSIG's time may differ from the verifier's clock (RFC 8945
 * recommends 300). */
#define DNS_TSIG_FUDGE 300
/* The largest DNS message over TCP (the 2-byte length prefix). */
#define DNS_MSG_MAX 65535
/* Bytes of one TXT string. */
#define DNS_TXT_MAX 255
/* The largest MAC of an algorithm of dns/cred.h (hmac-sha512). */
#define DNS_MAC_MAX 64
/* TTLs are 31-bit (RFC 2181 8). */
#define DNS_TTL_MAX 2147483647u

#define DNS_OPCODE_QUERY 0
#define DNS_OPCODE_UPDATE 5
#define DNS_TYPE_A 1
#define DNS_TYPE_SOA 6
#define DNS_TYPE_TXT 16
#define DNS_TYPE_AAAA 28

/* A set of addresses of one family, in network byte order: addr[i] holds
 * 4 bytes for AF_INET, 16 for AF_INET6. */
struct dns_addrs {
	int family; /* AF_INET or AF_INET6 */
	size_t n;   /* 0..DNS_ADDRS_MAX */
	uint8_t addr[DNS_ADDRS_MAX][16];
};

/* A message built here. It owns wire (malloc'd): free it with
 * dns_request_clear(). Everything else is plain data. */
struct dns_request {
	uint8_t *wire;   /* 2-byte big-endian length, then the message */
	size_t wire_len; /* 2 + the message's length */
	uint16_t id;
	uint8_t opcode;                   /* DNS_OPCODE_QUERY or DNS_OPCODE_UPDATE */
	uint16_t qtype;                   /* SOA for an UPDATE; A or AAAA for a QUERY */
	uint16_t rtype;                   /* the type of the records changed or asked for */
	char zone[DNS_NAME_TEXT_MAX + 1]; /* UPDATE only; no final dot */
	char name[DNS_NAME_TEXT_MAX + 1]; /* the records' owner; no final dot */
	bool cas_empty;                   /* the UPDATE expects no RRset */
	bool tsig;                        /* signed with the key below */
	enum dns_tsig_alg alg;
	char key[DNS_NAME_TEXT_MAX + 1];
	uint64_t time_signed; /* Unix seconds, from the request's TSIG */
	size_t mac_len;
	uint8_t mac[DNS_MAC_MAX]; /* the request's MAC, which the reply's covers */
};

/* Frees req->wire and zeroes *req; harmless on a zeroed struct or NULL. */
void dns_request_clear(struct dns_request *req);

/* The builders below share their contract. cred (borrowed) is an rfc2136
 * credential whose key signs the message, or NULL for an unsigned one
 * (for servers that take updates by address only, and for tests). Names
 * are text (see dns/name.h), borrowed. On success *req (which must not
 * hold a message: zeroed or cleared) holds the message and returns 0; the
 * caller owns it and frees it with dns_request_clear(). Otherwise *req is
 * left zeroed and the return value is KITH_EVALUE (a bad name, address
 * set, TTL or text, or a credential of another provider), KITH_ETOOBIG
 * (over DNS_MSG_MAX), -ENOMEM, or -EIO (ldns could not sign). The name is
 * not checked to be in the zone: the server says NOTZONE. */

/* An UPDATE of zone replacing the RRset of name, of next->family's type (A
 * or AAAA), with next (1..DNS_ADDRS_MAX distinct addresses, TTL ttl) if
 * and only if it now holds exactly expect (same family, distinct): with
 * expect->n == 0, if the name has no RRset of that type (prerequisite
 * "RRset does not exist", RFC 2136 2.4.3). */
int dns_update_replace(struct dns_request *req, const struct dns_cred *cred, const char *zone,
                       const char *name, const struct dns_addrs *expect,
                       const struct dns_addrs *next, uint32_t ttl);

/* An UPDATE of zone adding the TXT record "text" (printable ASCII, at
 * most DNS_TXT_MAX bytes) at name, with TTL ttl; no prerequisite. */
int dns_update_txt_add(struct dns_request *req, const struct dns_cred *cred, const char *zone,
                       const char *name, const char *text, uint32_t ttl);
/* An UPDATE of zone deleting that one TXT record (RFC 2136 2.5.4), other
 * TXT records of name untouched; no prerequisite. */
int dns_update_txt_delete(struct dns_request *req, const struct dns_cred *cred, const char *zone,
                          const char *name, const char *text);

/* A QUERY (no recursion wanted) for the A (family AF_INET) or AAAA
 * (AF_INET6) records of name. */
int dns_query_addrs(struct dns_request *req, const struct dns_cred *cred, const char *name,
                    int family);

#endif
