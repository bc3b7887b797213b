/* What the HTTP API modules, dns/pdns.c and dns/desec.c, share: comparing
 * names and types, reading addresses and TTLs from an answer, writing
 * address sets, TXT content and bodies with jansson, and making untrusted
 * text printable for a sentence. Pure functions with no state and no I/O;
 * every buffer is the caller's, every pointer argument borrowed unless
 * said otherwise. Private to dns/. */
#ifndef KITH_DNS_JSON_COMMON_H
#define KITH_DNS_JSON_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "update.h"

/* A TXT string in zone-file syntax: two quotes, every byte escaped at
 * worst, a NUL. */
#define DNS_JSON_TXT_CONTENT_MAX (2 + 2 * DNS_TXT_MAX + 1)

/* How dns_json_address_records() writes each address. */
enum dns_json_record {
	DNS_JSON_RECORD_TEXT,    /* "ADDRESS" (deSEC) */
	DNS_JSON_RECORD_CONTENT, /* {"content": "ADDRESS", "disabled": false} (PowerDNS) */
};

/* c in ASCII lower case, whatever the locale. */
char dns_json_lower(char c);

/* Whether s[0..n) (any bytes) and the C string want are equal without
 * regard to ASCII case: DNS names and type mnemonics ignore case,
 * whatever the locale. */
bool dns_json_same_text(const char *s, size_t n, const char *want);

/* Reads v, a string (untrusted), as an address of family (AF_INET or
 * AF_INET6) into addr (4 or 16 bytes written). Returns 0, or
 * KITH_EMALFORMED when v is no string or no such address. */
int dns_json_address(uint8_t addr[16], int family, const json_t *v);

/* Adds addr (4 bytes for out->family AF_INET, 16 otherwise) to out unless
 * it is there already. Returns 0 (added or there), or KITH_ETOOBIG when
 * out already holds DNS_ADDRS_MAX others. */
int dns_json_addrs_add(struct dns_addrs *out, const uint8_t *addr);

/* Reads v (untrusted) as a TTL, an integer from 0 to UINT32_MAX, into
 * *ttl. Returns 0, or KITH_EMALFORMED (*ttl untouched). */
int dns_json_ttl(uint32_t *ttl, const json_t *v);

/* Whether to holds a valid set for a body: family AF_INET or AF_INET6,
 * at most DNS_ADDRS_MAX addresses, each once (PowerDNS refuses a
 * duplicate with 422, deSEC with 400). */
bool dns_json_addrs_ok(const struct dns_addrs *to);

/* The JSON array of the addresses of to (a set dns_json_addrs_ok()
 * accepts), each written as form says, into *records: a new reference the
 * caller owns (json_decref(), or steal it with json_pack()'s "o"); NULL on
 * error. Returns 0 or -ENOMEM. */
int dns_json_address_records(json_t **records, const struct dns_addrs *to,
                             enum dns_json_record form);

/* Writes text (printable ASCII, at most DNS_TXT_MAX bytes) into out as one
 * zone-file character string, which is what both APIs take as a TXT
 * record's content: in double quotes, '"' and '\' escaped. Returns 0, or
 * KITH_EVALUE for a longer text or another byte (out then unspecified). */
int dns_json_txt_content(char out[DNS_JSON_TXT_CONTENT_MAX], const char *text);

/* Writes body compactly into *out, malloc'd by jansson's default
 * allocator (the caller frees it with free()), *len its length without
 * the NUL. Takes body's reference (drops it) whatever happens; a NULL
 * body, what a failed json_pack() gives, is -ENOMEM. Returns 0 or -ENOMEM;
 * on error *len is untouched and *out untouched or NULL, so callers set
 * both first. */
int dns_json_dump(json_t *body, char **out, size_t *len);

/* Copies src[0..n) (any bytes) into dst as printable ASCII ('?' for any
 * other byte), cut at max bytes with "..." (dst holds max + 4). */
void dns_json_printable(char *dst, const char *src, size_t n, size_t max);

/* vsnprintf() into why (n bytes, cut to fit); nothing when why is NULL or
 * n is 0. */
void dns_json_say(char *why, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
