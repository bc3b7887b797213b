#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <ldns/ldns.h>
#include <sodium.h>

#include "proto/error.h"
#include "update.h"

/* A message being built: the ldns packet, owned until it is written out,
 * and the name of its records' owner as a dname. */
struct build {
	ldns_pkt *pkt;
	ldns_rdf *owner;
};

void dns_request_clear(struct dns_request *req)
{
	if (!req)
		return;
	free(req->wire);
	memset(req, 0, sizeof(*req));
}

static int start(struct build *b, struct dns_request *req, const struct dns_cred *cred,
                 uint8_t opcode, const char *qname, uint16_t qtype)
{
	ldns_rr *q = NULL;
	ldns_rdf *qdname = NULL;

	if (cred && (cred->provider != DNS_PROVIDER_RFC2136 || !cred->key[0] || !cred->secret[0]))
		return KITH_EVALUE;
	if (sodium_init() < 0)
		return -EIO;
	b->pkt = ldns_pkt_new();
	b->owner = ldns_dname_new_frm_str(req->name);
	qdname = ldns_dname_new_frm_str(qname);
	q = ldns_rr_new();
	if (!b->pkt || !b->owner || !qdname || !q)
		goto nomem;
	ldns_rr_set_owner(q, qdname);
	qdname = NULL;
	ldns_rr_set_question(q, true);
	ldns_rr_set_type(q, qtype);
	ldns_rr_set_class(q, LDNS_RR_CLASS_IN);
	if (!ldns_pkt_push_rr(b->pkt, LDNS_SECTION_QUESTION, q))
		goto nomem;
	randombytes_buf(&req->id, sizeof(req->id));
	ldns_pkt_set_id(b->pkt, req->id);
	ldns_pkt_set_opcode(b->pkt, opcode);
	req->opcode = opcode;
	req->qtype = qtype;
	return 0;
nomem:
	ldns_rr_free(q);
	ldns_rdf_deep_free(qdname);
	return -ENOMEM;
}

/* Adds to section a record of the owner with class, TTL and rdata
 * data[0..len) of rdf type rdf_type (no rdata when data is NULL). */
static int add_rr(struct build *b, ldns_pkt_section section, uint16_t type, uint16_t cls,
                  uint32_t ttl, ldns_rdf_type rdf_type, const uint8_t *data, size_t len)
{
	ldns_rr *rr = ldns_rr_new();
	ldns_rdf *owner = ldns_rdf_clone(b->owner);
	ldns_rdf *rd = data ? ldns_rdf_new_frm_data(rdf_type, len, data) : NULL;

	if (!rr || !owner || (data && !rd))
		goto nomem;
	ldns_rr_set_owner(rr, owner);
	owner = NULL;
	ldns_rr_set_type(rr, type);
	ldns_rr_set_class(rr, cls);
	ldns_rr_set_ttl(rr, ttl);
	if (rd && !ldns_rr_push_rdf(rr, rd))
		goto nomem;
	rd = NULL;
	if (!ldns_pkt_push_rr(b->pkt, section, rr))
		goto nomem;
	return 0;
nomem:
	ldns_rr_free(rr);
	ldns_rdf_deep_free(owner);
	ldns_rdf_deep_free(rd);
	return -ENOMEM;
}

/* Signs the packet with cred's key and keeps the MAC and time in req. */
static int sign(struct build *b, struct dns_request *req, const struct dns_cred *cred)
{
	const ldns_rr *tsig;
	const ldns_rdf *mac, *when;

	if (ldns_pkt_tsig_sign(b->pkt, cred->key, cred->secret, DNS_TSIG_FUDGE,
	                       dns_tsig_alg_name(cred->algorithm), NULL) != LDNS_STATUS_OK)
		return -EIO;
	tsig = ldns_pkt_tsig(b->pkt);
	mac = tsig && ldns_rr_rd_count(tsig) == 7 ? ldns_rr_rdf(tsig, 3) : NULL;
	when = tsig && ldns_rr_rd_count(tsig) == 7 ? ldns_rr_rdf(tsig, 1) : NULL;
	if (!mac || ldns_rdf_size(mac) < 2 || ldns_rdf_size(mac) - 2 > DNS_MAC_MAX || !when ||
	    ldns_rdf_size(when) != 6)
		return -EIO;
	req->mac_len = ldns_rdf_size(mac) - 2;
	memcpy(req->mac, ldns_rdf_data(mac) + 2, req->mac_len);
	req->time_signed = 0;
	for (size_t i = 0; i < 6; i++)
		req->time_signed = req->time_signed << 8 | ldns_rdf_data(when)[i];
	req->tsig = true;
	req->alg = cred->algorithm;
	memcpy(req->key, cred->key, sizeof(req->key));
	return 0;
}

/* Signs (with cred) and writes the packet into req->wire, then frees b. */
static int finish(struct build *b, struct dns_request *req, const struct dns_cred *cred, int rc)
{
	uint8_t *wire = NULL;
	size_t len = 0;

	if (!rc && cred)
		rc = sign(b, req, cred);
	if (!rc && ldns_pkt2wire(&wire, b->pkt, &len) != LDNS_STATUS_OK)
		rc = -ENOMEM;
	if (!rc && len > DNS_MSG_MAX)
		rc = KITH_ETOOBIG;
	if (!rc && !(req->wire = malloc(len + 2)))
		rc = -ENOMEM;
	if (!rc) {
		req->wire[0] = (uint8_t)(len >> 8);
		req->wire[1] = (uint8_t)len;
		memcpy(req->wire + 2, wire, len);
		req->wire_len = len + 2;
	}
	free(wire);
	ldns_pkt_free(b->pkt);
	ldns_rdf_deep_free(b->owner);
	if (rc)
		dns_request_clear(req);
	return rc;
}

/* Whether a (the caller's) is a set the update may carry. */
static bool addrs_ok(const struct dns_addrs *a, size_t min)
{
	size_t len = a->family == AF_INET ? 4 : 16;

	if ((a->family != AF_INET && a->family != AF_INET6) || a->n < min || a->n > DNS_ADDRS_MAX)
		return false;
	for (size_t i = 0; i < a->n; i++)
		for (size_t j = 0; j < i; j++)
			if (memcmp(a->addr[i], a->addr[j], len) == 0)
				return false;
	return true;
}

static int add_addrs(struct build *b, ldns_pkt_section section, const struct dns_addrs *a,
                     uint32_t ttl)
{
	bool v4 = a->family == AF_INET;
	int rc = 0;

	for (size_t i = 0; i < a->n && !rc; i++)
		rc = add_rr(b, section, v4 ? DNS_TYPE_A : DNS_TYPE_AAAA, LDNS_RR_CLASS_IN, ttl,
		            v4 ? LDNS_RDF_TYPE_A : LDNS_RDF_TYPE_AAAA, a->addr[i], v4 ? 4 : 16);
	return rc;
}

/* Starts *req afresh with its names (zone NULL for a QUERY). */
static int names(struct dns_request *req, const char *zone, const char *name, bool update)
{
	memset(req, 0, sizeof(*req));
	if ((update && dns_name_copy(req->zone, zone, false)) ||
	    dns_name_copy(req->name, name, false))
		return KITH_EVALUE;
	return 0;
}

/* What every builder returns: a failed one leaves *req zeroed. */
static int done(struct dns_request *req, int rc)
{
	if (rc)
		dns_request_clear(req);
	return rc;
}

static int update_replace(struct dns_request *req, const struct dns_cred *cred, const char *zone,
                          const char *name, const struct dns_addrs *expect,
                          const struct dns_addrs *next, uint32_t ttl)
{
	struct build b = {0};
	uint16_t type;
	int rc;

	if ((rc = names(req, zone, name, true)))
		return rc;
	if (!addrs_ok(next, 1) || !addrs_ok(expect, 0) || expect->family != next->family ||
	    ttl > DNS_TTL_MAX)
		return KITH_EVALUE;
	type = next->family == AF_INET ? DNS_TYPE_A : DNS_TYPE_AAAA;
	req->rtype = type;
	req->cas_empty = expect->n == 0;
	if ((rc = start(&b, req, cred, DNS_OPCODE_UPDATE, req->zone, DNS_TYPE_SOA)))
		return finish(&b, req, NULL, rc);
	/* Prerequisites go in the answer section, updates in the authority
	 * section (RFC 2136 2.2). */
	if (expect->n == 0)
		rc = add_rr(&b, LDNS_SECTION_ANSWER, type, LDNS_RR_CLASS_NONE, 0, 0, NULL, 0);
	else
		rc = add_addrs(&b, LDNS_SECTION_ANSWER, expect, 0);
	if (!rc)
		rc = add_rr(&b, LDNS_SECTION_AUTHORITY, type, LDNS_RR_CLASS_ANY, 0, 0, NULL, 0);
	if (!rc)
		rc = add_addrs(&b, LDNS_SECTION_AUTHORITY, next, ttl);
	return finish(&b, req, cred, rc);
}

int dns_update_replace(struct dns_request *req, const struct dns_cred *cred, const char *zone,
                       const char *name, const struct dns_addrs *expect,
                       const struct dns_addrs *next, uint32_t ttl)
{
	return done(req, update_replace(req, cred, zone, name, expect, next, ttl));
}

/* A TXT rdata of text (one string), or KITH_EVALUE. */
static int txt_rdata(uint8_t out[1 + DNS_TXT_MAX], size_t *len, const char *text)
{
	size_t n;

	if (!text || (n = strnlen(text, DNS_TXT_MAX + 1)) > DNS_TXT_MAX)
		return KITH_EVALUE;
	for (size_t i = 0; i < n; i++)
		if (text[i] < 0x20 || text[i] > 0x7e)
			return KITH_EVALUE;
	out[0] = (uint8_t)n;
	memcpy(out + 1, text, n);
	*len = n + 1;
	return 0;
}

static int update_txt(struct dns_request *req, const struct dns_cred *cred, const char *zone,
                      const char *name, const char *text, bool add, uint32_t ttl)
{
	uint8_t rdata[1 + DNS_TXT_MAX];
	struct build b = {0};
	size_t len;
	int rc;

	if ((rc = names(req, zone, name, true)))
		return rc;
	if (txt_rdata(rdata, &len, text) || ttl > DNS_TTL_MAX)
		return KITH_EVALUE;
	req->rtype = DNS_TYPE_TXT;
	if ((rc = start(&b, req, cred, DNS_OPCODE_UPDATE, req->zone, DNS_TYPE_SOA)))
		return finish(&b, req, NULL, rc);
	/* A deletion of one record: class NONE, TTL 0 (RFC 2136 2.5.4). */
	rc = add_rr(&b, LDNS_SECTION_AUTHORITY, DNS_TYPE_TXT,
	            add ? LDNS_RR_CLASS_IN : LDNS_RR_CLASS_NONE, add ? ttl : 0, LDNS_RDF_TYPE_STR,
	            rdata, len);
	return finish(&b, req, cred, rc);
}

int dns_update_txt_add(struct dns_request *req, const struct dns_cred *cred, const char *zone,
                       const char *name, const char *text, uint32_t ttl)
{
	return done(req, update_txt(req, cred, zone, name, text, true, ttl));
}

int dns_update_txt_delete(struct dns_request *req, const struct dns_cred *cred, const char *zone,
                          const char *name, const char *text)
{
	return done(req, update_txt(req, cred, zone, name, text, false, 0));
}

int dns_query_addrs(struct dns_request *req, const struct dns_cred *cred, const char *name,
                    int family)
{
	struct build b = {0};
	uint16_t type = family == AF_INET ? DNS_TYPE_A : DNS_TYPE_AAAA;
	int rc;

	if ((rc = names(req, NULL, name, false)) || (family != AF_INET && family != AF_INET6))
		return done(req, rc ? rc : KITH_EVALUE);
	req->rtype = type;
	rc = start(&b, req, cred, DNS_OPCODE_QUERY, req->name, type);
	return done(req, finish(&b, req, cred, rc));
}
