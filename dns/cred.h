/* The credential of a dns:ZONE grant: the text an admin wrote to let kith
 * change records of ZONE, parsed into a struct of fixed-size fields.
 *
 * The text is at most DNS_CRED_TEXT_MAX bytes of "key = value" lines
 * (spaces around '=' optional, a final "\r" ignored); blank lines and lines
 * starting with '#' are skipped; there are no inline comments and no
 * quotes: a value runs from the first to the last non-blank character
 * after '='. Each key may appear once. ASCII only: a NUL, a control
 * character or a byte over 0x7e is an error, as is a line over
 * DNS_CRED_LINE_MAX bytes. The keys, by provider:
 *
 *   provider = rfc2136       a DNS server taking RFC 2136 updates signed
 *                            with TSIG (RFC 8945)
 *     server = 192.0.2.53:53 an IPv4 address or [IPv6] address, optional
 *                            :port (default 53). No host names: kith
 *                            never resolves, so that no resolver can send
 *                            its updates elsewhere.
 *     key = kith-update      the TSIG key's name, a domain name
 *     algorithm = hmac-sha256  optional: hmac-sha1, hmac-sha256 (the
 *                            default) or hmac-sha512, what ldns signs
 *                            with (ldns 1.8 has no hmac-sha224, and a typo
 *                            in its name table leaves hmac-sha384 out)
 *     secret = BASE64        the key's secret, DNS_CRED_SECRET_MIN to
 *                            DNS_CRED_SECRET_MAX bytes once decoded
 *
 *   provider = pdns          the PowerDNS HTTP API
 *     url = http://127.0.0.1:8081  http or https, no user:password@
 *     token = ...            the API key (X-API-Key)
 *     server_id = localhost  optional, the default
 *
 *   provider = desec         deSEC's HTTP API
 *     token = ...            the API token
 *     url = https://desec.io/api/v1  optional, the default
 *
 * The struct holds the secret or token: wipe it with dns_cred_wipe() when
 * done. It owns no pointer. */
#ifndef KITH_DNS_CRED_H
#define KITH_DNS_CRED_H

#include <stddef.h>
#include <stdint.h>

#include <sys/socket.h>

#include "name.h"

#define DNS_CRED_TEXT_MAX 4000
#define DNS_CRED_LINE_MAX 1024
/* A TSIG secret shorter than 16 bytes (128 bits) can be found by brute
 * force from a single signed message; tsig-keygen and keymgr make 32 or
 * 64. HMAC hashes a key longer than its block (128 bytes for SHA-512,
 * 64 for the others) down to one digest, so more adds nothing. */
#define DNS_CRED_SECRET_MIN 16
#define DNS_CRED_SECRET_MAX 128
/* Base64 of DNS_CRED_SECRET_MAX bytes, padded. */
#define DNS_CRED_SECRET_B64_MAX 172
#define DNS_CRED_URL_MAX 512
#define DNS_CRED_TOKEN_MAX 256
#define DNS_CRED_SERVER_ID_MAX 63
#define DNS_CRED_PORT_DEFAULT 53
#define DNS_CRED_DESEC_URL "https://desec.io/api/v1"
#define DNS_CRED_PDNS_SERVER_ID "localhost"

enum dns_provider {
	DNS_PROVIDER_NONE = 0,
	DNS_PROVIDER_RFC2136,
	DNS_PROVIDER_PDNS,
	DNS_PROVIDER_DESEC,
};

enum dns_tsig_alg {
	DNS_TSIG_HMAC_SHA256 = 0,
	DNS_TSIG_HMAC_SHA1,
	DNS_TSIG_HMAC_SHA512,
};

struct dns_cred {
	enum dns_provider provider;
	/* rfc2136 */
	struct sockaddr_storage server; /* AF_INET or AF_INET6, port set */
	socklen_t server_len;
	char key[DNS_NAME_TEXT_MAX + 1]; /* without a final dot */
	enum dns_tsig_alg algorithm;
	char secret[DNS_CRED_SECRET_B64_MAX + 1]; /* canonical padded base64 */
	size_t secret_len;                        /* bytes once decoded */
	/* pdns, desec: url without a final '/' */
	char url[DNS_CRED_URL_MAX + 1];
	char token[DNS_CRED_TOKEN_MAX + 1];
	char server_id[DNS_CRED_SERVER_ID_MAX + 1]; /* pdns */
};

/* Parses text[0..len) (borrowed, untrusted: any bytes) into *out. On
 * success returns 0 with *out filled and the defaults applied. Otherwise
 * *out is wiped and the return value is KITH_EVALUE (a line or value is
 * wrong, or the text is over DNS_CRED_TEXT_MAX) or KITH_EMISSING (a
 * required key is absent); why (why_len bytes, may be NULL when why_len is
 * 0) gets one line saying what to fix, naming the line when there is one:
 *   line 3: unknown key "sever" (expected provider, server, key, algorithm,
 *   secret)
 *   missing "secret" (the TSIG key's base64 secret)
 * It never quotes a secret or a token. */
int dns_cred_parse(struct dns_cred *out, const char *text, size_t len, char *why, size_t why_len);

/* Zeroes *c (sodium_memzero); harmless on NULL. */
void dns_cred_wipe(struct dns_cred *c);

/* "rfc2136", "pdns", "desec", or "none". */
const char *dns_provider_name(enum dns_provider p);
/* The algorithm's name as TSIG writes it: "hmac-sha256". */
const char *dns_tsig_alg_name(enum dns_tsig_alg a);
/* Bytes of the algorithm's MAC: 20, 32 or 64. */
size_t dns_tsig_alg_mac_len(enum dns_tsig_alg a);

#endif
