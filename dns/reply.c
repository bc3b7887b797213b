#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <ldns/ldns.h>

#include "proto/error.h"
#include "reply.h"

#define HEADER_LEN 12
#define TYPE_TSIG 250
#define RCODE_NOTAUTH 9
#define TSIG_BADSIG 16
#define TSIG_BADKEY 17
#define TSIG_BADTIME 18
/* A name of 255 bytes has at most 127 labels and its end. */
#define NAME_LABELS_MAX 128

/* A bounded read cursor over the reply. */
struct cur {
	const uint8_t *p;
	size_t len, at;
};

static const char *const result_names[] = {
    [DNS_RESULT_OK] = "NOERROR",        [DNS_RESULT_FORMERR] = "FORMERR",
    [DNS_RESULT_SERVFAIL] = "SERVFAIL", [DNS_RESULT_NXDOMAIN] = "NXDOMAIN",
    [DNS_RESULT_NOTIMP] = "NOTIMP",     [DNS_RESULT_REFUSED] = "REFUSED",
    [DNS_RESULT_YXDOMAIN] = "YXDOMAIN", [DNS_RESULT_YXRRSET] = "YXRRSET",
    [DNS_RESULT_NXRRSET] = "NXRRSET",   [DNS_RESULT_NOTAUTH] = "NOTAUTH",
    [DNS_RESULT_NOTZONE] = "NOTZONE",   [DNS_RESULT_BADSIG] = "BADSIG",
    [DNS_RESULT_BADKEY] = "BADKEY",     [DNS_RESULT_BADTIME] = "BADTIME",
    [DNS_RESULT_OTHER] = "OTHER",       [DNS_RESULT_TOOMANY] = "TOOMANY",
    [DNS_RESULT_UNSIGNED] = "UNSIGNED", [DNS_RESULT_FORGED] = "FORGED",
    [DNS_RESULT_MISMATCH] = "MISMATCH", [DNS_RESULT_MALFORMED] = "MALFORMED",
};

const char *dns_result_name(enum dns_result r)
{
	if ((size_t)r < sizeof(result_names) / sizeof(result_names[0]) && result_names[r])
		return result_names[r];
	return "UNKNOWN";
}

static int say(struct dns_reply *out, enum dns_result r, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Sets the result and its sentence; returns rc. */
static int say(struct dns_reply *out, enum dns_result r, int rc, const char *fmt, ...)
{
	va_list ap;

	out->result = r;
	va_start(ap, fmt);
	vsnprintf(out->why, sizeof(out->why), fmt, ap);
	va_end(ap);
	return rc;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Moves past a name: labels up to the root label or a compression
 * pointer. Where a pointer leads is ldns's to check. */
static int skip_name(struct cur *c)
{
	for (unsigned i = 0; i < NAME_LABELS_MAX; i++) {
		uint8_t b;
		if (c->at >= c->len)
			return KITH_ETRUNC;
		b = c->p[c->at];
		if ((b & 0xc0) == 0xc0) {
			if (c->len - c->at < 2)
				return KITH_ETRUNC;
			c->at += 2;
			return 0;
		}
		if (b & 0xc0)
			return KITH_EMALFORMED; /* extended label types (RFC 6891) */
		if (c->len - c->at < 1u + b)
			return KITH_ETRUNC;
		c->at += 1u + b;
		if (b == 0)
			return 0;
	}
	return KITH_EMALFORMED;
}

/* Checks the layout of msg: every record within bounds, nothing after the
 * last, and a TSIG only as the very last record, in the additional
 * section. */
static int walk(const uint8_t *msg, size_t len)
{
	struct cur c = {msg, len, HEADER_LEN};
	size_t qd, rrs, first_ar;
	int rc;

	if (len < HEADER_LEN)
		return KITH_ETRUNC;
	qd = get16(msg + 4);
	first_ar = (size_t)get16(msg + 6) + get16(msg + 8);
	rrs = first_ar + get16(msg + 10);
	for (size_t i = 0; i < qd; i++) {
		if ((rc = skip_name(&c)))
			return rc;
		if (c.len - c.at < 4)
			return KITH_ETRUNC;
		c.at += 4;
	}
	for (size_t i = 0; i < rrs; i++) {
		size_t rdlen;
		if ((rc = skip_name(&c)))
			return rc;
		if (c.len - c.at < 10)
			return KITH_ETRUNC;
		if (get16(c.p + c.at) == TYPE_TSIG && (i + 1 != rrs || i < first_ar))
			return KITH_EMALFORMED;
		rdlen = get16(c.p + c.at + 8);
		c.at += 10;
		if (c.len - c.at < rdlen)
			return KITH_ETRUNC;
		c.at += rdlen;
	}
	return c.at == len ? 0 : KITH_ETRAIL;
}

static bool same_name(const ldns_rdf *a, const char *text)
{
	ldns_rdf *b = ldns_dname_new_frm_str(text);
	bool same =
	    a && b && ldns_rdf_get_type(a) == LDNS_RDF_TYPE_DNAME && ldns_dname_compare(a, b) == 0;

	ldns_rdf_deep_free(b);
	return same;
}

/* Whether pkt is a response to req: ID, opcode, and the question when
 * there is one (a server may leave it out of an error reply). */
static bool answers(const ldns_pkt *pkt, const struct dns_request *req)
{
	const ldns_rr_list *q = ldns_pkt_question(pkt);
	const ldns_rr *rr;

	if (!ldns_pkt_qr(pkt) || ldns_pkt_id(pkt) != req->id ||
	    ldns_pkt_get_opcode(pkt) != req->opcode)
		return false;
	if (ldns_rr_list_rr_count(q) == 0)
		return ldns_pkt_get_rcode(pkt) != LDNS_RCODE_NOERROR;
	if (ldns_rr_list_rr_count(q) != 1)
		return false;
	rr = ldns_rr_list_rr(q, 0);
	return ldns_rr_get_type(rr) == req->qtype && ldns_rr_get_class(rr) == LDNS_RR_CLASS_IN &&
	       same_name(ldns_rr_owner(rr),
	                 req->opcode == DNS_OPCODE_UPDATE ? req->zone : req->name);
}

static const char *type_name(uint16_t type)
{
	switch (type) {
	case DNS_TYPE_A:
		return "A";
	case DNS_TYPE_AAAA:
		return "AAAA";
	case DNS_TYPE_TXT:
		return "TXT";
	default:
		return "records";
	}
}

/* The sentence for an authenticated result r; returns rc. */
static int explain(struct dns_reply *out, const struct dns_request *req, enum dns_result r, int rc)
{
	bool up = req->opcode == DNS_OPCODE_UPDATE;
	const char *n = req->name, *t = type_name(req->rtype);

	switch (r) {
	case DNS_RESULT_OK:
		return say(out, r, rc, "%s", "");
	case DNS_RESULT_NXRRSET:
		return say(out, r, rc,
		           "the record %s %s no longer holds the expected value: "
		           "someone changed it",
		           n, t);
	case DNS_RESULT_YXRRSET:
		return say(out, r, rc,
		           "the record %s %s exists where the update expected none: someone "
		           "created it",
		           n, t);
	case DNS_RESULT_NXDOMAIN:
		return say(out, r, rc, "%s does not exist on the server", n);
	case DNS_RESULT_YXDOMAIN:
		return say(out, r, rc,
		           "the server says a name exists that the update expected absent "
		           "(YXDOMAIN)");
	case DNS_RESULT_NOTAUTH:
		if (up)
			return say(out, r, rc,
			           "the server is not authoritative for zone %s: check the zone's "
			           "name, and that this server is its primary",
			           req->zone);
		return say(out, r, rc, "the server is not authoritative for %s", n);
	case DNS_RESULT_BADSIG:
		return say(out, r, rc,
		           "the server rejects the key's signature: the secret of key %s differs "
		           "from the server's",
		           req->key);
	case DNS_RESULT_BADKEY:
		if (up)
			return say(out, r, rc,
			           "the server does not know the key named %s, or its ACL does not "
			           "let that key update %s %s",
			           req->key, n, t);
		return say(out, r, rc, "the server does not know the key named %s", req->key);
	case DNS_RESULT_BADTIME:
		return say(out, r, rc,
		           "clocks differ by more than the allowed fudge (%d s): check NTP on "
		           "this host and on the server",
		           DNS_TSIG_FUDGE);
	case DNS_RESULT_REFUSED:
		if (up)
			return say(out, r, rc,
			           "the server's update ACL refuses this key for %s %s (or its "
			           "policy refuses the change)",
			           n, t);
		return say(out, r, rc, "the server refuses to answer for %s", n);
	case DNS_RESULT_NOTZONE:
		return say(out, r, rc, "%s is not in zone %s served there", n, req->zone);
	case DNS_RESULT_SERVFAIL:
		return say(out, r, rc,
		           "the server failed to process the request (SERVFAIL): see its log");
	case DNS_RESULT_FORMERR:
		return say(out, r, rc,
		           "the server could not parse the request (FORMERR): see its log");
	case DNS_RESULT_NOTIMP:
		return say(out, r, rc, "the server does not implement %s (NOTIMP)",
		           up ? "dynamic updates" : "this query");
	default:
		return say(out, DNS_RESULT_OTHER, rc,
		           "the server answered with rcode %u, TSIG error %u: see its log",
		           out->rcode, out->tsig_error);
	}
}

/* The result the rcode and TSIG error of out say. */
static enum dns_result classify(const struct dns_reply *out)
{
	static const enum dns_result by_rcode[] = {
	    DNS_RESULT_OK,      DNS_RESULT_FORMERR, DNS_RESULT_SERVFAIL, DNS_RESULT_NXDOMAIN,
	    DNS_RESULT_NOTIMP,  DNS_RESULT_REFUSED, DNS_RESULT_YXDOMAIN, DNS_RESULT_YXRRSET,
	    DNS_RESULT_NXRRSET, DNS_RESULT_NOTAUTH, DNS_RESULT_NOTZONE,
	};

	if (out->tsig_error == TSIG_BADSIG && out->rcode == RCODE_NOTAUTH)
		return DNS_RESULT_BADSIG;
	if (out->tsig_error == TSIG_BADKEY && out->rcode == RCODE_NOTAUTH)
		return DNS_RESULT_BADKEY;
	if (out->tsig_error == TSIG_BADTIME && out->rcode == RCODE_NOTAUTH)
		return DNS_RESULT_BADTIME;
	if (out->tsig_error || out->rcode >= sizeof(by_rcode) / sizeof(by_rcode[0]))
		return DNS_RESULT_OTHER;
	return by_rcode[out->rcode];
}

static uint64_t get48(const ldns_rdf *rd)
{
	uint64_t v = 0;

	for (size_t i = 0; i < 6; i++)
		v = v << 8 | ldns_rdf_data(rd)[i];
	return v;
}

/* Verifies the reply's MAC over msg and req's MAC with cred's secret. */
static bool mac_ok(ldns_pkt *pkt, const struct dns_request *req, const struct dns_cred *cred,
                   const uint8_t *msg, size_t len)
{
	ldns_rr *tsig = ldns_pkt_tsig(pkt);
	uint8_t buf[2 + DNS_MAC_MAX];
	ldns_rdf *req_mac;
	bool ok;

	if (req->mac_len > DNS_MAC_MAX)
		return false;
	buf[0] = (uint8_t)(req->mac_len >> 8);
	buf[1] = (uint8_t)req->mac_len;
	memcpy(buf + 2, req->mac, req->mac_len);
	req_mac = ldns_rdf_new_frm_data(LDNS_RDF_TYPE_INT16_DATA, 2 + req->mac_len, buf);
	if (!req_mac)
		return false;
	ok = ldns_pkt_tsig_verify(pkt, msg, len, req->key, cred->secret, req_mac);
	/* ldns 1.8 takes the TSIG out of pkt while it computes, and leaves
	 * it out when that fails: put it back for ldns_pkt_free(). */
	if (ldns_pkt_tsig(pkt) != tsig)
		ldns_pkt_set_tsig(pkt, tsig);
	ldns_rdf_deep_free(req_mac);
	return ok;
}

/* Checks the TSIG of a reply to a signed req; sets out->tsig_error.
 * Returns 0 when the reply is authentic or one of the two errors a server
 * cannot sign, else a negative code with out's result set. */
static int check_tsig(struct dns_reply *out, ldns_pkt *pkt, const struct dns_request *req,
                      const struct dns_cred *cred, const uint8_t *msg, size_t len)
{
	const ldns_rr *tsig = ldns_pkt_tsig(pkt);
	const ldns_rdf *when, *mac, *err;
	uint64_t t;

	if (!tsig)
		return say(out, DNS_RESULT_UNSIGNED, KITH_EBADSIG, "unsigned");
	if (ldns_rr_rd_count(tsig) != 7 || ldns_rdf_size(ldns_rr_rdf(tsig, 1)) != 6 ||
	    ldns_rdf_size(ldns_rr_rdf(tsig, 3)) < 2 || ldns_rdf_size(ldns_rr_rdf(tsig, 5)) != 2)
		return say(out, DNS_RESULT_MALFORMED, KITH_EMALFORMED,
		           "the reply's TSIG record is malformed");
	when = ldns_rr_rdf(tsig, 1);
	mac = ldns_rr_rdf(tsig, 3);
	err = ldns_rr_rdf(tsig, 5);
	out->tsig_error = get16(ldns_rdf_data(err));
	if (!same_name(ldns_rr_owner(tsig), req->key) ||
	    !same_name(ldns_rr_rdf(tsig, 0), dns_tsig_alg_name(req->alg)))
		return say(out, DNS_RESULT_FORGED, KITH_EBADSIG,
		           "the reply is signed with another key or algorithm than %s (%s)",
		           req->key, dns_tsig_alg_name(req->alg));
	if ((out->tsig_error == TSIG_BADSIG || out->tsig_error == TSIG_BADKEY) &&
	    ldns_rdf_size(mac) == 2 && ldns_pkt_get_rcode(pkt) == RCODE_NOTAUTH)
		return 0;
	if (!mac_ok(pkt, req, cred, msg, len))
		return say(out, DNS_RESULT_FORGED, KITH_EBADSIG,
		           "the reply's signature does not verify with key %s: it was altered or "
		           "forged on the way",
		           req->key);
	t = get48(when);
	if (t + DNS_TSIG_FUDGE < req->time_signed || t > req->time_signed + DNS_TSIG_FUDGE)
		return say(out, DNS_RESULT_BADTIME, KITH_EBADSIG,
		           "the reply is signed %lld s away from the request: clocks differ by "
		           "more than the allowed fudge (%d s): check NTP on this host and on "
		           "the server",
		           (long long)t - (long long)req->time_signed, DNS_TSIG_FUDGE);
	return 0;
}

/* Copies the answer's req->rtype records of req->name into out. */
static int take_addrs(struct dns_reply *out, const ldns_pkt *pkt, const struct dns_request *req)
{
	const ldns_rr_list *an = ldns_pkt_answer(pkt);
	size_t want = req->rtype == DNS_TYPE_A ? 4 : 16;
	ldns_rdf *owner = ldns_dname_new_frm_str(req->name);

	if (!owner)
		return -ENOMEM;
	out->addrs.family = req->rtype == DNS_TYPE_A ? AF_INET : AF_INET6;
	for (size_t i = 0; i < ldns_rr_list_rr_count(an); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(an, i);
		const ldns_rdf *rd = ldns_rr_rdf(rr, 0);
		if (ldns_rr_get_type(rr) != req->rtype ||
		    ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN ||
		    ldns_dname_compare(ldns_rr_owner(rr), owner) != 0)
			continue;
		if (ldns_rr_rd_count(rr) != 1 || ldns_rdf_size(rd) != want) {
			ldns_rdf_deep_free(owner);
			out->addrs.n = 0;
			return say(out, DNS_RESULT_MALFORMED, KITH_EMALFORMED,
			           "the reply holds a malformed %s record", type_name(req->rtype));
		}
		if (out->addrs.n == DNS_ADDRS_MAX) {
			ldns_rdf_deep_free(owner);
			out->addrs.n = 0;
			return say(out, DNS_RESULT_TOOMANY, 0,
			           "%s has more than %d %s records: kith handles at most %d",
			           req->name, DNS_ADDRS_MAX, type_name(req->rtype), DNS_ADDRS_MAX);
		}
		memcpy(out->addrs.addr[out->addrs.n++], ldns_rdf_data(rd), want);
		if (out->addrs.n == 1 || ldns_rr_ttl(rr) < out->ttl)
			out->ttl = ldns_rr_ttl(rr);
	}
	ldns_rdf_deep_free(owner);
	return 0;
}

/* Reads an authenticated reply (or one taken unsigned) into out. */
static int read_result(struct dns_reply *out, const ldns_pkt *pkt, const struct dns_request *req)
{
	enum dns_result r = classify(out);
	int rc = 0;

	if (req->opcode == DNS_OPCODE_QUERY && (r == DNS_RESULT_OK || r == DNS_RESULT_NXDOMAIN))
		rc = take_addrs(out, pkt, req);
	if (rc || out->result == DNS_RESULT_TOOMANY)
		return rc;
	return explain(out, req, r, 0);
}

static int parse(struct dns_reply *out, ldns_pkt **pkt, const struct dns_request *req,
                 const struct dns_cred *cred, const uint8_t *msg, size_t len)
{
	ldns_status st;
	int rc;

	if (req->tsig && (!cred || !cred->secret[0] || strcmp(cred->key, req->key) != 0))
		return say(out, DNS_RESULT_MISMATCH, KITH_EVALUE,
		           "the credential is not the key the request was signed with");
	if (len > DNS_MSG_MAX)
		return say(out, DNS_RESULT_MALFORMED, KITH_ETOOBIG,
		           "the reply is longer than a DNS message can be");
	if ((rc = walk(msg, len)))
		return say(out, DNS_RESULT_MALFORMED, rc,
		           "the reply is not a well-formed DNS message (%s): is a DNS server "
		           "listening at that address?",
		           proto_strerror(rc));
	st = ldns_wire2pkt(pkt, msg, len);
	if (st == LDNS_STATUS_MEM_ERR)
		return say(out, DNS_RESULT_MALFORMED, -ENOMEM, "out of memory");
	if (st != LDNS_STATUS_OK)
		return say(out, DNS_RESULT_MALFORMED, KITH_EMALFORMED,
		           "the reply is not a well-formed DNS message (%s)",
		           ldns_get_errorstr_by_id(st));
	if (!answers(*pkt, req))
		return say(out, DNS_RESULT_MISMATCH, KITH_EVALUE,
		           "the reply does not answer this request (another ID, opcode or "
		           "question)");
	out->rcode =
	    (uint16_t)(ldns_pkt_get_rcode(*pkt) |
	               (ldns_pkt_edns(*pkt) ? ldns_pkt_edns_extended_rcode(*pkt) << 4 : 0));
	if (req->tsig && (rc = check_tsig(out, *pkt, req, cred, msg, len)))
		return rc;
	return read_result(out, *pkt, req);
}

int dns_reply_parse(struct dns_reply *out, const struct dns_request *req,
                    const struct dns_cred *cred, const uint8_t *msg, size_t len)
{
	ldns_pkt *pkt = NULL;
	char claim[DNS_WHY_MAX];
	int rc;

	memset(out, 0, sizeof(*out));
	rc = parse(out, &pkt, req, cred, msg, len);
	if (out->result == DNS_RESULT_UNSIGNED) {
		/* Say what the unsigned reply claims, for the admin to judge. */
		struct dns_reply claimed = *out;
		read_result(&claimed, pkt, req);
		memcpy(claim, claimed.why, sizeof(claim));
		say(out, DNS_RESULT_UNSIGNED, rc,
		    "the reply is not signed, so it cannot be trusted; it says %s%s%.400s",
		    dns_result_name(claimed.result), claim[0] ? ": " : "", claim);
	}
	ldns_pkt_free(pkt);
	return rc;
}
