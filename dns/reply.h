/* The reading of a DNS server's reply to a message of dns/update.h:
 * untrusted bytes, at most DNS_MSG_MAX, checked to answer that request
 * (ID, opcode, question), authenticated with the request's TSIG key, and
 * turned into a result and one plain sentence saying what to fix, for
 * kithd's log and `kith dns test`.
 *
 * Before ldns sees the bytes, a bounded walk checks the message's layout:
 * every section's records in bounds, no byte after the last, at most one
 * TSIG and only as the last record, where RFC 8945 puts it. ldns reads
 * none of that strictly (it ignores trailing bytes and stops short of
 * records after a TSIG), and its TSIG check assumes it. */
#ifndef KITH_DNS_REPLY_H
#define KITH_DNS_REPLY_H

#include <stddef.h>
#include <stdint.h>

#include "cred.h"
#include "update.h"

#define DNS_WHY_MAX 768

/* What a reply says. The TSIG results (BADSIG, BADKEY, BADTIME) come from
 * the TSIG RR's error field with rcode NOTAUTH; NOTAUTH is one without. */
enum dns_result {
	DNS_RESULT_OK = 0,
	DNS_RESULT_FORMERR,
	DNS_RESULT_SERVFAIL,
	DNS_RESULT_NXDOMAIN,
	DNS_RESULT_NOTIMP,
	DNS_RESULT_REFUSED,
	DNS_RESULT_YXDOMAIN,
	DNS_RESULT_YXRRSET,
	DNS_RESULT_NXRRSET,
	DNS_RESULT_NOTAUTH,
	DNS_RESULT_NOTZONE,
	DNS_RESULT_BADSIG,
	DNS_RESULT_BADKEY,
	DNS_RESULT_BADTIME,
	DNS_RESULT_OTHER,    /* another rcode or TSIG error */
	DNS_RESULT_TOOMANY,  /* a QUERY's answer over DNS_ADDRS_MAX */
	DNS_RESULT_UNSIGNED, /* no TSIG on a reply to a signed request */
	DNS_RESULT_FORGED,   /* a TSIG that does not verify */
	DNS_RESULT_MISMATCH, /* not a reply to this request */
	DNS_RESULT_MALFORMED,
};

struct dns_reply {
	enum dns_result result;
	uint16_t rcode;      /* the RCODE, with EDNS's upper bits */
	uint16_t tsig_error; /* the reply TSIG's error field, 0 without one */
	/* One plain sentence saying what is wrong and what to fix; "" for
	 * DNS_RESULT_OK. Names the name, zone and key, never the secret. */
	char why[DNS_WHY_MAX];
	/* A QUERY's answer when result is OK: the records of type req->rtype
	 * owned by req->name (none for NODATA or NXDOMAIN), and the smallest
	 * of their TTLs. */
	struct dns_addrs addrs;
	uint32_t ttl;
};

/* Reads msg[0..len) (borrowed, untrusted; the message without its TCP
 * length prefix) as the reply to req (borrowed), whose TSIG key cred
 * (borrowed) holds the secret of (NULL for an unsigned req). Fills *out
 * whatever the bytes, and returns:
 *   0             the reply answers req and is authenticated (or req was
 *                 unsigned): out->result says what it says. The one
 *                 exception is NOTAUTH with TSIG error BADSIG or BADKEY,
 *                 which a server cannot sign (RFC 8945 5.3.2) and which is
 *                 taken unsigned: a forged one can only make an update
 *                 fail, which a forger could as well by dropping it.
 *   KITH_EBADSIG  UNSIGNED, FORGED, or a signed reply whose time is over
 *                 DNS_TSIG_FUDGE from the request's (result BADTIME)
 *   KITH_EVALUE   MISMATCH: another ID, opcode or question; or cred is not
 *                 the key req was signed with (the caller's mistake)
 *   KITH_ETRUNC, KITH_ETRAIL, KITH_ETOOBIG, KITH_EMALFORMED   MALFORMED
 *   -ENOMEM
 * out->why says what to fix for every result but OK. */
int dns_reply_parse(struct dns_reply *out, const struct dns_request *req,
                    const struct dns_cred *cred, const uint8_t *msg, size_t len);

/* "NOERROR", "NXRRSET", ..., "MALFORMED". */
const char *dns_result_name(enum dns_result r);

#endif
