/* Fuzz target: a DNS server's reply (dns/reply.h), untrusted bytes read
 * against a request whose ID, MAC and time are fixed here (the seeds in
 * seeds.c use the same constants). Each input is used three ways:
 *  1. as the reply to an unsigned QUERY for the A records of DNS_FUZZ_NAME:
 *     the layout walk, ldns's reading, the match with the request, the
 *     rcode and the extraction of the answer's addresses;
 *  2. as the reply to an UPDATE signed with the fuzz key: the TSIG checks,
 *     where mutated bytes never verify;
 *  3. as a reply body (at least a header) signed here with the fuzz key as
 *     the answer to the signed UPDATE when its opcode says so, else to
 *     the signed QUERY for A or AAAA records; its last byte picks the
 *     TSIG error (none, BADSIG or BADKEY with an empty MAC, BADTIME), the
 *     AAAA query, and a time signed past the fudge: what only the key's
 *     holder could send, past the verification mutations never reach.
 * Every outcome must be a documented one: 0 for authenticated results
 * only, a sentence for every result but NOERROR, at most DNS_ADDRS_MAX
 * addresses. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <netinet/in.h>

#include "../unit/dns_forge.h"
#include "dns/cred.h"
#include "dns/reply.h"
#include "proto/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Shared with dns_reply_seeds() in seeds.c. */
#define DNS_FUZZ_KEY "kith-fuzz"
#define DNS_FUZZ_SECRET "WlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlo="
#define DNS_FUZZ_ZONE "example.test"
#define DNS_FUZZ_NAME "www.example.test"
#define DNS_FUZZ_QUERY_ID 0x4b1d
#define DNS_FUZZ_UPDATE_ID 0x4b1e
#define DNS_FUZZ_TIME 1700000000u
#define DNS_FUZZ_MAC 0x33

static struct dns_cred cred;
static struct dns_request query, query6, update, plain;

static void request(struct dns_request *r, uint16_t id, uint8_t opcode, bool tsig)
{
	memset(r, 0, sizeof(*r));
	r->id = id;
	r->opcode = opcode;
	r->qtype = opcode == DNS_OPCODE_UPDATE ? DNS_TYPE_SOA : DNS_TYPE_A;
	r->rtype = DNS_TYPE_A;
	strcpy(r->zone, DNS_FUZZ_ZONE);
	strcpy(r->name, DNS_FUZZ_NAME);
	r->tsig = tsig;
	r->alg = DNS_TSIG_HMAC_SHA256;
	strcpy(r->key, DNS_FUZZ_KEY);
	r->time_signed = DNS_FUZZ_TIME;
	r->mac_len = tsig ? 32 : 0;
	memset(r->mac, DNS_FUZZ_MAC, r->mac_len);
}

static void setup(void)
{
	static bool done;
	static const char text[] = "provider = rfc2136\nserver = 127.0.0.1\nkey = " DNS_FUZZ_KEY
	                           "\nsecret = " DNS_FUZZ_SECRET "\n";
	char why[200];

	if (done)
		return;
	if (sodium_init() < 0 || dns_cred_parse(&cred, text, sizeof(text) - 1, why, sizeof(why)))
		abort();
	request(&query, DNS_FUZZ_QUERY_ID, DNS_OPCODE_QUERY, true);
	request(&update, DNS_FUZZ_UPDATE_ID, DNS_OPCODE_UPDATE, true);
	request(&plain, DNS_FUZZ_QUERY_ID, DNS_OPCODE_QUERY, false);
	request(&query6, DNS_FUZZ_QUERY_ID, DNS_OPCODE_QUERY, true);
	query6.qtype = query6.rtype = DNS_TYPE_AAAA;
	done = true;
}

static bool refused_result(enum dns_result r)
{
	return r == DNS_RESULT_UNSIGNED || r == DNS_RESULT_FORGED || r == DNS_RESULT_MISMATCH ||
	       r == DNS_RESULT_MALFORMED;
}

static void check(int rc, const struct dns_reply *out)
{
	if (!memchr(out->why, '\0', sizeof(out->why)) || out->addrs.n > DNS_ADDRS_MAX)
		abort();
	if ((out->result == DNS_RESULT_OK) != (out->why[0] == '\0'))
		abort();
	if (out->addrs.n && out->result != DNS_RESULT_OK && out->result != DNS_RESULT_NXDOMAIN)
		abort();
	switch (rc) {
	case 0:
		if (refused_result(out->result))
			abort();
		break;
	case KITH_EBADSIG:
		if (out->result != DNS_RESULT_UNSIGNED && out->result != DNS_RESULT_FORGED &&
		    out->result != DNS_RESULT_BADTIME)
			abort();
		break;
	case KITH_EVALUE:
		if (out->result != DNS_RESULT_MISMATCH)
			abort();
		break;
	case KITH_ETRUNC:
	case KITH_ETRAIL:
	case KITH_ETOOBIG:
	case KITH_EMALFORMED:
	case -ENOMEM:
		if (out->result != DNS_RESULT_MALFORMED)
			abort();
		break;
	default:
		abort();
	}
	dns_result_name(out->result);
}

/* Way 3: data signed here as the answer to the request its opcode says. */
static void signed_here(const uint8_t *data, size_t size)
{
	static const uint16_t errors[] = {0, 16, 17, 18};
	static struct forge f;
	static struct dns_reply out;
	const struct dns_request *req;
	uint8_t last;
	uint16_t error;
	uint64_t when;

	if (size < 12 || size > DNS_MSG_MAX)
		return;
	last = data[size - 1];
	if ((data[2] >> 3 & 0xf) == DNS_OPCODE_UPDATE)
		req = &update;
	else
		req = last & 8 ? &query6 : &query;
	error = errors[last & 3];
	when = DNS_FUZZ_TIME + (last & 4 ? DNS_TSIG_FUDGE + 1 : 0);
	f.len = 0;
	f.overflow = false;
	forge_put(&f, data, size);
	if (forge_tsig(&f, DNS_FUZZ_KEY, "hmac-sha256", DNS_FUZZ_SECRET, req->mac, req->mac_len,
	               when, error, error == 16 || error == 17) ||
	    f.overflow)
		abort();
	check(dns_reply_parse(&out, req, &cred, f.buf, f.len), &out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct dns_reply out;

	setup();
	check(dns_reply_parse(&out, &plain, NULL, data, size), &out);
	check(dns_reply_parse(&out, &update, &cred, data, size), &out);
	signed_here(data, size);
	return 0;
}
