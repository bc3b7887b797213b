/* Forged DNS replies, for test_dns_update.c, fuzz_dns_reply.c and the
 * seeds of the latter: a message written byte by byte, and a TSIG
 * appended by hand as RFC 8945 4.3 says, with libsodium's HMAC-SHA-256 or
 * HMAC-SHA-512: a signer that shares no code with the ldns dns/ uses, so
 * that the tests check ldns against the RFC and not against itself.
 *
 * A struct forge is a buffer of FORGE_MAX bytes; writes past it set
 * overflow and are dropped. Static functions: include it in one file. */
#ifndef KITH_TESTS_DNS_FORGE_H
#define KITH_TESTS_DNS_FORGE_H

#include <ctype.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "dns/update.h"

#define FORGE_MAX (65535 + 1024)
#define FORGE_TYPE_CNAME 5
#define FORGE_TYPE_TSIG 250
#define FORGE_CLASS_IN 1
#define FORGE_CLASS_ANY 255

struct forge {
	uint8_t buf[FORGE_MAX];
	size_t len;
	bool overflow;
};

static inline void forge_put(struct forge *f, const void *p, size_t n)
{
	if (n == 0)
		return;
	if (n > FORGE_MAX - f->len) {
		f->overflow = true;
		return;
	}
	memcpy(f->buf + f->len, p, n);
	f->len += n;
}

static inline void forge_u16(struct forge *f, uint16_t v)
{
	uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
	forge_put(f, b, 2);
}

static inline void forge_u32(struct forge *f, uint32_t v)
{
	forge_u16(f, (uint16_t)(v >> 16));
	forge_u16(f, (uint16_t)v);
}

static inline void forge_u48(struct forge *f, uint64_t v)
{
	forge_u16(f, (uint16_t)(v >> 32));
	forge_u32(f, (uint32_t)v);
}

/* A dotted name as labels and the root label; lowercased when canon (the
 * canonical form the TSIG MAC covers). */
static inline void forge_name(struct forge *f, const char *text, bool canon)
{
	while (*text && *text != '.') {
		size_t n = strcspn(text, ".");
		uint8_t label[64];
		label[0] = (uint8_t)(n > 63 ? 63 : n);
		for (size_t i = 0; i < label[0]; i++)
			label[1 + i] =
			    canon ? (uint8_t)tolower((unsigned char)text[i]) : (uint8_t)text[i];
		forge_put(f, label, 1u + label[0]);
		text += n;
		if (*text == '.')
			text++;
	}
	forge_put(f, "", 1);
}

static inline void forge_count_add(struct forge *f, int section)
{
	size_t at = 4 + 2 * (size_t)section; /* 0 question, 1 answer, 2 authority, 3 additional */
	uint16_t v = (uint16_t)(f->buf[at] << 8 | f->buf[at + 1]);

	v++;
	f->buf[at] = (uint8_t)(v >> 8);
	f->buf[at + 1] = (uint8_t)v;
}

/* Starts a response (QR, AA) with id, opcode and rcode, and one question
 * (qname, qtype, IN) unless qname is NULL. */
static inline void forge_reply(struct forge *f, uint16_t id, uint8_t opcode, uint8_t rcode,
                               const char *qname, uint16_t qtype)
{
	f->len = 0;
	f->overflow = false;
	forge_u16(f, id);
	forge_u16(f, (uint16_t)(0x8000 | (opcode & 0xf) << 11 | 0x0400 | (rcode & 0xf)));
	forge_u16(f, 0);
	forge_u16(f, 0);
	forge_u16(f, 0);
	forge_u16(f, 0);
	if (qname) {
		forge_name(f, qname, false);
		forge_u16(f, qtype);
		forge_u16(f, FORGE_CLASS_IN);
		forge_count_add(f, 0);
	}
}

/* The reply to req with rcode: its ID, opcode and question. */
static inline void forge_reply_to(struct forge *f, const struct dns_request *req, uint8_t rcode)
{
	forge_reply(f, req->id, req->opcode, rcode,
	            req->opcode == DNS_OPCODE_UPDATE ? req->zone : req->name, req->qtype);
}

/* Appends a record to section (1 answer, 2 authority, 3 additional). */
static inline void forge_rr(struct forge *f, int section, const char *owner, uint16_t type,
                            uint32_t ttl, const void *rdata, size_t rdlen)
{
	forge_name(f, owner, false);
	forge_u16(f, type);
	forge_u16(f, FORGE_CLASS_IN);
	forge_u32(f, ttl);
	forge_u16(f, (uint16_t)rdlen);
	forge_put(f, rdata, rdlen);
	forge_count_add(f, section);
}

/* HMAC state for the two algorithms libsodium has. */
struct forge_hmac {
	bool sha512;
	crypto_auth_hmacsha256_state s256;
	crypto_auth_hmacsha512_state s512;
};

static inline void forge_hmac_update(struct forge_hmac *h, const void *p, size_t n)
{
	if (h->sha512)
		crypto_auth_hmacsha512_update(&h->s512, p, n);
	else
		crypto_auth_hmacsha256_update(&h->s256, p, n);
}

/* Appends a TSIG of key (name key, algorithm alg: "hmac-sha256" or
 * "hmac-sha512", base64 secret) over the message so far, as a response to
 * a request whose MAC is req_mac[0..req_mac_len) (none when req_mac_len
 * is 0), signed at time_signed with TSIG error. With empty_mac, the MAC
 * is left empty, as a server answers BADSIG and BADKEY. Returns 0, or -1
 * for a secret that is not base64 or another algorithm. */
static inline int forge_tsig(struct forge *f, const char *key, const char *alg, const char *secret,
                             const uint8_t *req_mac, size_t req_mac_len, uint64_t time_signed,
                             uint16_t error, bool empty_mac)
{
	uint8_t k[256], mac[64];
	size_t klen = 0, mac_len = 0;
	struct forge_hmac h = {.sha512 = strcmp(alg, "hmac-sha512") == 0};
	static struct forge vars; /* the TSIG variables */
	size_t rdlen_at;
	uint16_t id;

	if (f->len < 12 || (!h.sha512 && strcmp(alg, "hmac-sha256") != 0) ||
	    sodium_base642bin(k, sizeof(k), secret, strlen(secret), NULL, &klen, NULL,
	                      sodium_base64_VARIANT_ORIGINAL))
		return -1;
	id = (uint16_t)(f->buf[0] << 8 | f->buf[1]);
	if (!empty_mac) {
		if (h.sha512)
			crypto_auth_hmacsha512_init(&h.s512, k, klen);
		else
			crypto_auth_hmacsha256_init(&h.s256, k, klen);
		if (req_mac_len) {
			uint8_t l[2] = {(uint8_t)(req_mac_len >> 8), (uint8_t)req_mac_len};
			forge_hmac_update(&h, l, 2);
			forge_hmac_update(&h, req_mac, req_mac_len);
		}
		forge_hmac_update(&h, f->buf, f->len);
		vars.len = 0;
		forge_name(&vars, key, true);
		forge_u16(&vars, FORGE_CLASS_ANY);
		forge_u32(&vars, 0);
		forge_name(&vars, alg, true);
		forge_u48(&vars, time_signed);
		forge_u16(&vars, DNS_TSIG_FUDGE);
		forge_u16(&vars, error);
		forge_u16(&vars, 0);
		forge_hmac_update(&h, vars.buf, vars.len);
		if (h.sha512)
			crypto_auth_hmacsha512_final(&h.s512, mac);
		else
			crypto_auth_hmacsha256_final(&h.s256, mac);
		mac_len = h.sha512 ? 64 : 32;
	}
	forge_name(f, key, false);
	forge_u16(f, FORGE_TYPE_TSIG);
	forge_u16(f, FORGE_CLASS_ANY);
	forge_u32(f, 0);
	rdlen_at = f->len;
	forge_u16(f, 0);
	forge_name(f, alg, false);
	forge_u48(f, time_signed);
	forge_u16(f, DNS_TSIG_FUDGE);
	forge_u16(f, (uint16_t)mac_len);
	forge_put(f, mac, mac_len);
	forge_u16(f, id);
	forge_u16(f, error);
	forge_u16(f, 0);
	if (!f->overflow) {
		size_t rdlen = f->len - rdlen_at - 2;
		f->buf[rdlen_at] = (uint8_t)(rdlen >> 8);
		f->buf[rdlen_at + 1] = (uint8_t)rdlen;
		forge_count_add(f, 3);
	}
	sodium_memzero(k, sizeof(k));
	return 0;
}

/* Signs the reply with cred's key as the answer to req (its MAC and
 * time). */
static inline int forge_sign_for(struct forge *f, const struct dns_request *req,
                                 const struct dns_cred *cred, uint16_t error, bool empty_mac)
{
	return forge_tsig(f, cred->key, dns_tsig_alg_name(cred->algorithm), cred->secret, req->mac,
	                  req->mac_len, req->time_signed, error, empty_mac);
}

#endif
