/* RFC 2136 messages and replies without a server (dns/update.c,
 * dns/reply.c): the built packets read back with ldns, section by
 * section; the refusal of bad arguments; and replies forged by hand
 * (dns_forge.h, a TSIG signer of its own): every rcode and TSIG error
 * with its sentence, a wrong ID, another key's signature, an unsigned
 * reply, a reply signed too far from the request's time, a QUERY's
 * addresses, and bytes that are not a DNS message at all. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include <ldns/ldns.h>

#include "dns/cred.h"
#include "dns/reply.h"
#include "dns/update.h"
#include "dns_forge.h"
#include "proto/error.h"
#include "tap.h"

#define SECRET "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTEyMzQ="
#define OTHER_SECRET "b3RoZXItb3RoZXItb3RoZXItb3RoZXItb3RoZXItMTI="
#define ZONE "example.test"
#define NAME "www.example.test"
/* rr_is() of a question, which has no TTL */
#define ANY_TTL UINT32_MAX

static struct dns_cred cred, other;
static struct forge f;

static void setup(void)
{
	char why[256];

	if (dns_cred_parse(&cred,
	                   "provider = rfc2136\nserver = 127.0.0.1\nkey = kith-update\n"
	                   "secret = " SECRET "\n",
	                   strlen("provider = rfc2136\nserver = 127.0.0.1\nkey = kith-update\n"
	                          "secret = " SECRET "\n"),
	                   why, sizeof(why)))
		printf("# cred: %s\n", why);
	other = cred;
	snprintf(other.secret, sizeof(other.secret), "%s", OTHER_SECRET);
}

/* n addresses from 192.0.2.first (n may claim more than the array holds). */
static struct dns_addrs v4(size_t n, uint8_t first)
{
	struct dns_addrs a = {.family = AF_INET, .n = n};
	for (size_t i = 0; i < n && i < DNS_ADDRS_MAX; i++) {
		uint8_t b[4] = {192, 0, 2, (uint8_t)(first + i)};
		memcpy(a.addr[i], b, 4);
	}
	return a;
}

/* Reads req's wire back with ldns, after checking its length prefix. */
static ldns_pkt *read_back(const struct dns_request *req)
{
	ldns_pkt *p = NULL;

	if (req->wire_len < 14 || (size_t)(req->wire[0] << 8 | req->wire[1]) != req->wire_len - 2)
		return NULL;
	if (ldns_wire2pkt(&p, req->wire + 2, req->wire_len - 2) != LDNS_STATUS_OK)
		return NULL;
	return p;
}

static bool rr_is(const ldns_rr *rr, const char *owner, uint16_t type, uint16_t cls, uint32_t ttl,
                  size_t rdfs)
{
	ldns_rdf *o = ldns_dname_new_frm_str(owner);
	bool same = rr && o && ldns_dname_compare(ldns_rr_owner(rr), o) == 0 &&
	            ldns_rr_get_type(rr) == type && ldns_rr_get_class(rr) == cls &&
	            (ttl == ANY_TTL || ldns_rr_ttl(rr) == ttl) && ldns_rr_rd_count(rr) == rdfs;
	ldns_rdf_deep_free(o);
	return same;
}

static bool a_is(const ldns_rr *rr, uint8_t last)
{
	const ldns_rdf *rd = ldns_rr_rdf(rr, 0);
	return rd && ldns_rdf_size(rd) == 4 && ldns_rdf_data(rd)[3] == last;
}

static void test_replace(void)
{
	struct dns_request req = {0};
	struct dns_addrs old = v4(2, 10), next = v4(3, 20);
	const ldns_rr_list *pr, *up;
	ldns_pkt *p;

	is(dns_update_replace(&req, &cred, ZONE ".", NAME, &old, &next, 60), 0, "replace built");
	p = read_back(&req);
	ok(p != NULL, "ldns reads it back, length prefix right");
	if (!p)
		return;
	ok(ldns_pkt_get_opcode(p) == LDNS_PACKET_UPDATE && ldns_pkt_id(p) == req.id &&
	       !ldns_pkt_qr(p) && !ldns_pkt_rd(p),
	   "opcode UPDATE, our ID, no flags");
	ok(ldns_pkt_qdcount(p) == 1 && rr_is(ldns_rr_list_rr(ldns_pkt_question(p), 0), ZONE,
	                                     LDNS_RR_TYPE_SOA, LDNS_RR_CLASS_IN, ANY_TTL, 0),
	   "zone section: example.test SOA IN");
	pr = ldns_pkt_answer(p);
	ok(ldns_rr_list_rr_count(pr) == 2 &&
	       rr_is(ldns_rr_list_rr(pr, 0), NAME, LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, 0, 1) &&
	       a_is(ldns_rr_list_rr(pr, 0), 10) && a_is(ldns_rr_list_rr(pr, 1), 11),
	   "prerequisites: the expected A RRset, class IN, TTL 0 (value dependent)");
	up = ldns_pkt_authority(p);
	ok(ldns_rr_list_rr_count(up) == 4 &&
	       rr_is(ldns_rr_list_rr(up, 0), NAME, LDNS_RR_TYPE_A, LDNS_RR_CLASS_ANY, 0, 0),
	   "update: first delete the A RRset (class ANY, no rdata)");
	ok(rr_is(ldns_rr_list_rr(up, 1), NAME, LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, 60, 1) &&
	       a_is(ldns_rr_list_rr(up, 1), 20) && a_is(ldns_rr_list_rr(up, 3), 22),
	   "update: then add the new records with their TTL");
	ok(ldns_pkt_tsig(p) && ldns_pkt_arcount(p) == 0 && req.tsig && req.mac_len == 32,
	   "signed with TSIG, MAC kept");
	ok(req.time_signed > 1600000000 && !strcmp(req.key, "kith-update") &&
	       !strcmp(req.zone, ZONE) && !strcmp(req.name, NAME) && req.rtype == DNS_TYPE_A,
	   "request keeps time, key and names");
	ldns_pkt_free(p);
	dns_request_clear(&req);
	ok(req.wire == NULL && req.id == 0, "cleared");
	dns_request_clear(&req);
	dns_request_clear(NULL);
}

static void test_replace_more(void)
{
	struct dns_request req = {0};
	struct dns_addrs none = {.family = AF_INET6}, next = {.family = AF_INET6, .n = 1};
	ldns_pkt *p;
	uint16_t ids[8];
	bool differ = false;

	next.addr[0][0] = 0x20;
	next.addr[0][1] = 0x01;
	is(dns_update_replace(&req, NULL, ZONE, NAME, &none, &next, 30), 0, "AAAA from nothing");
	p = read_back(&req);
	ok(p && ldns_rr_list_rr_count(ldns_pkt_answer(p)) == 1 &&
	       rr_is(ldns_rr_list_rr(ldns_pkt_answer(p), 0), NAME, LDNS_RR_TYPE_AAAA,
	             LDNS_RR_CLASS_NONE, 0, 0),
	   "prerequisite: the AAAA RRset does not exist (class NONE)");
	ok(p && !ldns_pkt_tsig(p) && !req.tsig, "unsigned without a credential");
	ok(p && ldns_rr_list_rr_count(ldns_pkt_authority(p)) == 2 &&
	       ldns_rdf_size(ldns_rr_rdf(ldns_rr_list_rr(ldns_pkt_authority(p), 1), 0)) == 16,
	   "AAAA record added");
	ldns_pkt_free(p);
	dns_request_clear(&req);
	for (int i = 0; i < 8; i++) {
		struct dns_addrs a = v4(1, 1);
		dns_update_replace(&req, &cred, ZONE, NAME, &a, &a, 1);
		ids[i] = req.id;
		differ |= i > 0 && ids[i] != ids[0];
		dns_request_clear(&req);
	}
	ok(differ, "message IDs are random");
}

static void test_refused_args(void)
{
	struct dns_request req = {0};
	struct dns_addrs one = v4(1, 1), dup = v4(2, 1), many = v4(17, 1), none = v4(0, 1);
	struct dns_addrs six = {.family = AF_INET6, .n = 1}, bad = {.family = 99, .n = 1};
	struct dns_cred pdns = {.provider = DNS_PROVIDER_PDNS};
	char long_name[300], txt[300];

	memcpy(dup.addr[1], dup.addr[0], 4);
	is(dns_update_replace(&req, &cred, ZONE, "bad..name", &one, &one, 1), KITH_EVALUE,
	   "bad name");
	is(dns_update_replace(&req, &cred, "", NAME, &one, &one, 1), KITH_EVALUE, "empty zone");
	is(dns_update_replace(&req, &cred, NULL, NAME, &one, &one, 1), KITH_EVALUE, "no zone");
	is(dns_update_replace(&req, &cred, ZONE, NAME, &one, &dup, 1), KITH_EVALUE,
	   "duplicate new address");
	is(dns_update_replace(&req, &cred, ZONE, NAME, &dup, &one, 1), KITH_EVALUE,
	   "duplicate expected address");
	is(dns_update_replace(&req, &cred, ZONE, NAME, &one, &many, 1), KITH_EVALUE,
	   "17 addresses");
	is(dns_update_replace(&req, &cred, ZONE, NAME, &one, &none, 1), KITH_EVALUE,
	   "an empty new set");
	is(dns_update_replace(&req, &cred, ZONE, NAME, &six, &one, 1), KITH_EVALUE,
	   "families differ");
	is(dns_update_replace(&req, &cred, ZONE, NAME, &bad, &bad, 1), KITH_EVALUE,
	   "unknown family");
	is(dns_update_replace(&req, &cred, ZONE, NAME, &one, &one, DNS_TTL_MAX + 1u), KITH_EVALUE,
	   "TTL over 2^31-1");
	is(dns_update_replace(&req, &pdns, ZONE, NAME, &one, &one, 1), KITH_EVALUE,
	   "a pdns credential");
	ok(req.wire == NULL && req.name[0] == '\0', "refused: request left zeroed");
	memset(long_name, 'a', sizeof(long_name));
	long_name[sizeof(long_name) - 1] = '\0';
	is(dns_query_addrs(&req, &cred, long_name, AF_INET), KITH_EVALUE, "name too long");
	is(dns_query_addrs(&req, &cred, NAME, AF_UNIX), KITH_EVALUE, "query of another family");
	memset(txt, 'x', sizeof(txt));
	txt[DNS_TXT_MAX + 1] = '\0';
	is(dns_update_txt_add(&req, &cred, ZONE, NAME, txt, 1), KITH_EVALUE, "TXT of 256 bytes");
	is(dns_update_txt_add(&req, &cred, ZONE, NAME, "a\nb", 1), KITH_EVALUE, "TXT newline");
	txt[DNS_TXT_MAX] = '\0';
	is(dns_update_txt_add(&req, &cred, ZONE, NAME, txt, 1), 0, "TXT of 255 bytes");
	dns_request_clear(&req);
}

static void test_txt_query(void)
{
	struct dns_request req = {0};
	const ldns_rr *rr;
	ldns_pkt *p;

	is(dns_update_txt_add(&req, &cred, ZONE, "_kith-test." ZONE, "kith 1", 5), 0, "TXT add");
	p = read_back(&req);
	rr = p ? ldns_rr_list_rr(ldns_pkt_authority(p), 0) : NULL;
	ok(p && ldns_pkt_ancount(p) == 0 &&
	       rr_is(rr, "_kith-test." ZONE, LDNS_RR_TYPE_TXT, LDNS_RR_CLASS_IN, 5, 1) &&
	       ldns_rdf_size(ldns_rr_rdf(rr, 0)) == 7 &&
	       !memcmp(ldns_rdf_data(ldns_rr_rdf(rr, 0)), "\x06kith 1", 7),
	   "TXT add: one record, class IN, no prerequisite");
	ldns_pkt_free(p);
	dns_request_clear(&req);
	is(dns_update_txt_delete(&req, &cred, ZONE, "_kith-test." ZONE, "kith 1"), 0, "TXT delete");
	p = read_back(&req);
	rr = p ? ldns_rr_list_rr(ldns_pkt_authority(p), 0) : NULL;
	ok(p && rr_is(rr, "_kith-test." ZONE, LDNS_RR_TYPE_TXT, LDNS_RR_CLASS_NONE, 0, 1),
	   "TXT delete: that record, class NONE, TTL 0");
	ldns_pkt_free(p);
	dns_request_clear(&req);

	is(dns_query_addrs(&req, &cred, NAME, AF_INET), 0, "query built");
	p = read_back(&req);
	ok(p && ldns_pkt_get_opcode(p) == LDNS_PACKET_QUERY && !ldns_pkt_rd(p) &&
	       ldns_pkt_id(p) == req.id &&
	       rr_is(ldns_rr_list_rr(ldns_pkt_question(p), 0), NAME, LDNS_RR_TYPE_A,
	             LDNS_RR_CLASS_IN, ANY_TTL, 0) &&
	       ldns_pkt_tsig(p),
	   "query: A of the name, no recursion, signed");
	ldns_pkt_free(p);
	dns_request_clear(&req);
}

/* Parses f as the reply to req; returns the return value. */
static int reply(struct dns_reply *out, const struct dns_request *req, const struct dns_cred *c)
{
	return dns_reply_parse(out, req, c, f.buf, f.len);
}

/* A reply of rcode (and TSIG error, signed unless empty_mac) to req. */
static void check_rcode(const struct dns_request *req, uint8_t rcode, uint16_t tsig_error,
                        bool empty_mac, enum dns_result want, const char *sentence,
                        const char *what)
{
	struct dns_reply r;
	int rc;

	forge_reply_to(&f, req, rcode);
	forge_sign_for(&f, req, &cred, tsig_error, empty_mac);
	rc = reply(&r, req, &cred);
	if (!ok(rc == 0 && r.result == want && strstr(r.why, sentence), what))
		printf("#   rc %d, result %s, why \"%s\"\n", rc, dns_result_name(r.result), r.why);
}

/* Each algorithm the credential accepts is one ldns signs with; a reply
 * signed with hmac-sha512 by dns_forge.h verifies. */
static void test_algorithms(void)
{
	static const enum dns_tsig_alg algs[] = {DNS_TSIG_HMAC_SHA1, DNS_TSIG_HMAC_SHA256,
	                                         DNS_TSIG_HMAC_SHA512};
	struct dns_cred c = cred;
	struct dns_request req = {0};
	struct dns_reply r;
	bool all = true;

	for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
		c.algorithm = algs[i];
		all &= dns_query_addrs(&req, &c, NAME, AF_INET) == 0 &&
		       req.mac_len == dns_tsig_alg_mac_len(algs[i]) && req.alg == algs[i];
		dns_request_clear(&req);
	}
	ok(all, "hmac-sha1, hmac-sha256 and hmac-sha512 sign, MACs of their length");
	dns_query_addrs(&req, &c, NAME, AF_INET);
	forge_reply_to(&f, &req, 0);
	forge_sign_for(&f, &req, &c, 0, false);
	is(dns_reply_parse(&r, &req, &c, f.buf, f.len), 0, "an hmac-sha512 reply verifies");
	dns_request_clear(&req);
}

static void test_results(void)
{
	struct dns_request req = {0};
	struct dns_addrs a = v4(1, 1);
	struct dns_reply r;

	dns_update_replace(&req, &cred, ZONE, NAME, &a, &a, 60);
	check_rcode(&req, 0, 0, false, DNS_RESULT_OK, "", "NOERROR");
	forge_reply_to(&f, &req, 0);
	forge_sign_for(&f, &req, &cred, 0, false);
	reply(&r, &req, &cred);
	ok(r.why[0] == '\0' && r.rcode == 0 && r.tsig_error == 0, "NOERROR says nothing");
	check_rcode(&req, 8, 0, false, DNS_RESULT_NXRRSET,
	            "the record www.example.test A no longer holds the expected value: someone "
	            "changed it",
	            "NXRRSET");
	check_rcode(&req, 7, 0, false, DNS_RESULT_YXRRSET, "exists where the update expected none",
	            "YXRRSET");
	check_rcode(&req, 9, 16, true, DNS_RESULT_BADSIG,
	            "the server rejects the key's signature: the secret of key kith-update "
	            "differs from the server's",
	            "BADSIG, unsigned as servers send it");
	check_rcode(&req, 9, 17, true, DNS_RESULT_BADKEY,
	            "the server does not know the key named kith-update", "BADKEY, unsigned");
	check_rcode(&req, 9, 18, false, DNS_RESULT_BADTIME,
	            "clocks differ by more than the allowed fudge (300 s): check NTP",
	            "BADTIME, signed");
	check_rcode(&req, 5, 0, false, DNS_RESULT_REFUSED,
	            "the server's update ACL refuses this key for www.example.test A", "REFUSED");
	check_rcode(&req, 10, 0, false, DNS_RESULT_NOTZONE,
	            "www.example.test is not in zone example.test served there", "NOTZONE");
	check_rcode(&req, 9, 0, false, DNS_RESULT_NOTAUTH,
	            "the server is not authoritative for zone example.test", "NOTAUTH");
	check_rcode(&req, 2, 0, false, DNS_RESULT_SERVFAIL, "(SERVFAIL): see its log", "SERVFAIL");
	check_rcode(&req, 1, 0, false, DNS_RESULT_FORMERR, "(FORMERR)", "FORMERR");
	check_rcode(&req, 4, 0, false, DNS_RESULT_NOTIMP, "dynamic updates (NOTIMP)", "NOTIMP");
	check_rcode(&req, 3, 0, false, DNS_RESULT_NXDOMAIN, "does not exist", "NXDOMAIN");
	check_rcode(&req, 6, 0, false, DNS_RESULT_YXDOMAIN, "(YXDOMAIN)", "YXDOMAIN");
	check_rcode(&req, 15, 0, false, DNS_RESULT_OTHER, "rcode 15", "another rcode");
	check_rcode(&req, 9, 22, false, DNS_RESULT_OTHER, "TSIG error 22", "another TSIG error");
	dns_request_clear(&req);
}

static void test_forged(void)
{
	struct dns_cred renamed;
	struct dns_request req = {0}, plain = {0};
	struct dns_addrs a = v4(1, 1);
	struct dns_reply r;
	int rc;

	dns_update_replace(&req, &cred, ZONE, NAME, &a, &a, 60);
	forge_reply(&f, (uint16_t)(req.id + 1), DNS_OPCODE_UPDATE, 0, ZONE, DNS_TYPE_SOA);
	forge_sign_for(&f, &req, &cred, 0, false);
	is(reply(&r, &req, &cred), KITH_EVALUE, "a reply with another ID");
	is(r.result, DNS_RESULT_MISMATCH, "mismatch");
	forge_reply(&f, req.id, DNS_OPCODE_QUERY, 0, ZONE, DNS_TYPE_SOA);
	forge_sign_for(&f, &req, &cred, 0, false);
	is(reply(&r, &req, &cred), KITH_EVALUE, "another opcode");
	forge_reply(&f, req.id, DNS_OPCODE_UPDATE, 0, "other.test", DNS_TYPE_SOA);
	forge_sign_for(&f, &req, &cred, 0, false);
	is(reply(&r, &req, &cred), KITH_EVALUE, "another question");
	forge_reply(&f, req.id, DNS_OPCODE_UPDATE, 0, "EXAMPLE.Test", DNS_TYPE_SOA);
	forge_sign_for(&f, &req, &cred, 0, false);
	is(reply(&r, &req, &cred), 0, "the question in other case");
	forge_reply(&f, req.id, DNS_OPCODE_UPDATE, 0, NULL, 0);
	forge_sign_for(&f, &req, &cred, 0, false);
	is(reply(&r, &req, &cred), KITH_EVALUE, "NOERROR without a question");
	forge_reply(&f, req.id, DNS_OPCODE_UPDATE, 2, NULL, 0);
	forge_sign_for(&f, &req, &cred, 0, false);
	is(reply(&r, &req, &cred), 0, "an error reply without a question");
	f.buf[2] &= 0x7f; /* QR off */
	is(reply(&r, &req, &cred), KITH_EVALUE, "a query, not a response");

	forge_reply_to(&f, &req, 0);
	forge_sign_for(&f, &req, &other, 0, false);
	rc = reply(&r, &req, &cred);
	ok(rc == KITH_EBADSIG && r.result == DNS_RESULT_FORGED &&
	       strstr(r.why, "does not verify with key kith-update"),
	   "a reply signed with another secret: forged");
	forge_reply_to(&f, &req, 0);
	forge_tsig(&f, "kith-other", "hmac-sha256", SECRET, req.mac, req.mac_len, req.time_signed,
	           0, false);
	rc = reply(&r, &req, &cred);
	ok(rc == KITH_EBADSIG && r.result == DNS_RESULT_FORGED &&
	       strstr(r.why, "another key or algorithm"),
	   "signed under another key name");
	forge_reply_to(&f, &req, 0);
	forge_tsig(&f, "kith-update", "hmac-sha512", SECRET, req.mac, req.mac_len, req.time_signed,
	           0, false);
	is(reply(&r, &req, &cred), KITH_EBADSIG, "signed with another algorithm");
	forge_reply_to(&f, &req, 0);
	forge_tsig(&f, "kith-update", "hmac-sha256", SECRET, NULL, 0, req.time_signed, 0, false);
	is(reply(&r, &req, &cred), KITH_EBADSIG, "signed without the request MAC");
	forge_reply_to(&f, &req, 8);
	forge_sign_for(&f, &req, &cred, 16, true);
	is(reply(&r, &req, &cred), KITH_EBADSIG, "an empty MAC is only taken with NOTAUTH");

	forge_reply_to(&f, &req, 5);
	rc = reply(&r, &req, &cred);
	ok(rc == KITH_EBADSIG && r.result == DNS_RESULT_UNSIGNED && strstr(r.why, "not signed") &&
	       strstr(r.why, "it says REFUSED: the server's update"),
	   "an unsigned reply: refused, and what it claims is said");
	forge_reply_to(&f, &req, 0);
	rc = reply(&r, &req, &cred);
	ok(rc == KITH_EBADSIG && r.result == DNS_RESULT_UNSIGNED && strstr(r.why, "NOERROR") &&
	       !strstr(r.why, "NOERROR:"),
	   "an unsigned NOERROR");

	forge_reply_to(&f, &req, 0);
	forge_tsig(&f, "kith-update", "hmac-sha256", SECRET, req.mac, req.mac_len,
	           req.time_signed + DNS_TSIG_FUDGE + 1, 0, false);
	rc = reply(&r, &req, &cred);
	ok(rc == KITH_EBADSIG && r.result == DNS_RESULT_BADTIME && strstr(r.why, "301 s away"),
	   "signed 301 s after the request: refused");
	forge_reply_to(&f, &req, 0);
	forge_tsig(&f, "kith-update", "hmac-sha256", SECRET, req.mac, req.mac_len,
	           req.time_signed - DNS_TSIG_FUDGE, 0, false);
	is(reply(&r, &req, &cred), 0, "signed 300 s before: within the fudge");
	renamed = cred;
	snprintf(renamed.key, sizeof(renamed.key), "kith-other");
	is(reply(&r, &req, &renamed), KITH_EVALUE, "a credential of another key");
	is(reply(&r, &req, NULL), KITH_EVALUE, "a signed request needs its credential");

	dns_update_replace(&plain, NULL, ZONE, NAME, &a, &a, 60);
	forge_reply_to(&f, &plain, 8);
	is(reply(&r, &plain, NULL), 0, "unsigned request: an unsigned reply is taken");
	is(r.result, DNS_RESULT_NXRRSET, "and read");
	forge_reply_to(&f, &plain, 0);
	forge_sign_for(&f, &req, &other, 0, false);
	is(reply(&r, &plain, NULL), 0, "unsigned request: a TSIG on the reply is ignored");
	dns_request_clear(&plain);
	dns_request_clear(&req);
}

static void test_query_answer(void)
{
	struct dns_request req = {0};
	struct dns_reply r;
	uint8_t a[4] = {192, 0, 2, 7}, b[4] = {192, 0, 2, 8}, six[16] = {0x20, 0x01};
	int rc;

	dns_query_addrs(&req, &cred, NAME, AF_INET);
	forge_reply_to(&f, &req, 0);
	forge_rr(&f, 1, NAME, DNS_TYPE_A, 300, a, 4);
	forge_rr(&f, 1, "WWW.example.test", DNS_TYPE_A, 60, b, 4);
	forge_rr(&f, 1, "other.example.test", DNS_TYPE_A, 5, a, 4);
	forge_rr(&f, 1, NAME, DNS_TYPE_AAAA, 5, six, 16);
	forge_rr(&f, 3, "ns.example.test", DNS_TYPE_A, 5, a, 4);
	forge_sign_for(&f, &req, &cred, 0, false);
	rc = reply(&r, &req, &cred);
	ok(rc == 0 && r.result == DNS_RESULT_OK && r.addrs.family == AF_INET && r.addrs.n == 2 &&
	       !memcmp(r.addrs.addr[0], a, 4) && !memcmp(r.addrs.addr[1], b, 4) && r.ttl == 60,
	   "query: the name's A records only, the smallest TTL");
	forge_reply_to(&f, &req, 3);
	forge_sign_for(&f, &req, &cred, 0, false);
	rc = reply(&r, &req, &cred);
	ok(rc == 0 && r.result == DNS_RESULT_NXDOMAIN && r.addrs.n == 0 &&
	       strstr(r.why, "www.example.test does not exist"),
	   "query: NXDOMAIN, no addresses");
	forge_reply_to(&f, &req, 0);
	for (uint8_t i = 0; i < DNS_ADDRS_MAX + 1; i++) {
		a[3] = i;
		forge_rr(&f, 1, NAME, DNS_TYPE_A, 300, a, 4);
	}
	forge_sign_for(&f, &req, &cred, 0, false);
	rc = reply(&r, &req, &cred);
	ok(rc == 0 && r.result == DNS_RESULT_TOOMANY && r.addrs.n == 0 &&
	       strstr(r.why, "more than 16 A records"),
	   "query: 17 records refused whole");
	forge_reply_to(&f, &req, 0);
	forge_rr(&f, 1, NAME, DNS_TYPE_A, 300, a, 3);
	forge_sign_for(&f, &req, &cred, 0, false);
	rc = reply(&r, &req, &cred);
	ok(rc < 0 && r.result == DNS_RESULT_MALFORMED, "query: a 3-byte A record");
	dns_request_clear(&req);
}

static void test_garbage(void)
{
	struct dns_request req = {0};
	struct dns_addrs a = v4(1, 1);
	struct dns_reply r;
	size_t full;
	bool all = true;
	uint8_t junk[64];
	int rc;

	dns_update_replace(&req, &cred, ZONE, NAME, &a, &a, 60);
	forge_reply_to(&f, &req, 0);
	forge_sign_for(&f, &req, &cred, 0, false);
	full = f.len;
	for (size_t n = 0; n < full; n++) {
		rc = dns_reply_parse(&r, &req, &cred, f.buf, n);
		all &= rc < 0 && r.result != DNS_RESULT_OK && r.why[0];
	}
	ok(all, "every truncation of a good reply is refused, with a sentence");
	f.buf[f.len++] = 0;
	is(reply(&r, &req, &cred), KITH_ETRAIL, "a byte after the last record");
	is(r.result, DNS_RESULT_MALFORMED, "malformed");
	f.len = full;
	is(reply(&r, &req, &cred), 0, "the reply without it is good");
	forge_rr(&f, 3, "x.example.test", DNS_TYPE_A, 1, "abcd", 4);
	is(reply(&r, &req, &cred), KITH_EMALFORMED, "a record after the TSIG");
	forge_reply_to(&f, &req, 0);
	forge_sign_for(&f, &req, &cred, 0, false);
	forge_sign_for(&f, &req, &cred, 0, false);
	is(reply(&r, &req, &cred), KITH_EMALFORMED, "two TSIGs");
	forge_reply_to(&f, &req, 0);
	forge_sign_for(&f, &req, &cred, 0, false);
	f.buf[7] = 1; /* the TSIG counted as an answer */
	f.buf[11] = 0;
	is(reply(&r, &req, &cred), KITH_EMALFORMED, "a TSIG outside the additional section");
	memset(junk, 0xc0, sizeof(junk));
	rc = dns_reply_parse(&r, &req, &cred, junk, sizeof(junk));
	ok(rc < 0 && r.result == DNS_RESULT_MALFORMED &&
	       strstr(r.why, "not a well-formed DNS message"),
	   "junk");
	is(dns_reply_parse(&r, &req, &cred, f.buf, DNS_MSG_MAX + 1), KITH_ETOOBIG, "over 65535");
	ok(!strcmp(dns_result_name(DNS_RESULT_NXRRSET), "NXRRSET") &&
	       !strcmp(dns_result_name((enum dns_result)99), "UNKNOWN"),
	   "result names");
	dns_request_clear(&req);
}

int main(void)
{
	setup();
	test_replace();
	test_replace_more();
	test_refused_args();
	test_txt_query();
	test_algorithms();
	test_results();
	test_forged();
	test_query_answer();
	test_garbage();
	return tap_done();
}
