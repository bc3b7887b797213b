/* Private to dns/cred.c (the reading of lines and keys) and
 * dns/cred_value.c (the check of each key's value). */
#ifndef KITH_DNS_CRED_INT_H
#define KITH_DNS_CRED_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "cred.h"

/* What a value check says is wrong: the rest of "line N: ...". */
#define DNS_CRED_MSG_MAX 200

/* Each sets its key in c from the value v[0..n): printable ASCII, trimmed,
 * not empty, borrowed. Returns 0, or KITH_EVALUE with msg saying what to
 * fix, never quoting a secret or a token. */
int dns_cred_set_server(struct dns_cred *c, const char *v, size_t n, char msg[DNS_CRED_MSG_MAX]);
int dns_cred_set_key(struct dns_cred *c, const char *v, size_t n, char msg[DNS_CRED_MSG_MAX]);
int dns_cred_set_algorithm(struct dns_cred *c, const char *v, size_t n, char msg[DNS_CRED_MSG_MAX]);
int dns_cred_set_secret(struct dns_cred *c, const char *v, size_t n, char msg[DNS_CRED_MSG_MAX]);
int dns_cred_set_url(struct dns_cred *c, const char *v, size_t n, char msg[DNS_CRED_MSG_MAX]);
int dns_cred_set_token(struct dns_cred *c, const char *v, size_t n, char msg[DNS_CRED_MSG_MAX]);
int dns_cred_set_server_id(struct dns_cred *c, const char *v, size_t n, char msg[DNS_CRED_MSG_MAX]);

/* Whether s[0..n) may be quoted back in a message: a short lowercase word
 * like a key name, never what could be part of a secret pasted on a line
 * of its own ("c2VjcmV0=" reads as the key "c2VjcmV0"). */
bool dns_cred_quotable(const char *s, size_t n);
/* " \"s\"" in out when s[0..n) is quotable, else "": for "unknown key%s". */
const char *dns_cred_quote(char out[32], const char *s, size_t n);

#endif
