/* Record bodies: one codec per kind.
 *
 * Each body is a msgpack map with small integer keys; key 0 is the body
 * version (PROTO_BODY_VERSION). Decoders reject an unknown version, a
 * missing required key, a repeated key, wrong types, oversize values and
 * trailing bytes, and skip unknown keys (a newer version may add optional
 * ones). Strings are copied into the fixed arrays of the structs, so a
 * decoded body owns nothing and needs no free.
 *
 * Encoders write into a struct mp_buf the caller owns and check the same
 * rules first (KITH_EVALUE, KITH_ETOOBIG), so kith never signs a body it
 * would refuse to read. The key numbers of each body are in body.c and
 * docs/protocol.md. */
#ifndef KITH_PROTO_BODY_H
#define KITH_PROTO_BODY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "limits.h"
#include "mp.h"
#include "scope.h"

#define PROTO_BODY_VERSION 1

/* kind "member", name "": an agent's description of itself. */
struct proto_member {
	char name[PROTO_MEMBER_NAME_MAX + 1]; /* the collective's display name, not empty */
	uint32_t n_endpoints;
	char endpoints[PROTO_ENDPOINTS_MAX][PROTO_ENDPOINT_MAX + 1]; /* "tcp://host:port" */
	uint32_t n_contacts;
	char contacts[PROTO_CONTACTS_MAX][PROTO_CONTACT_MAX + 1]; /* alert targets (URIs) */
	char version[PROTO_VERSION_MAX + 1];                      /* software, may be empty */
};

/* A service's check details, name = service name: what partners check. It
 * travels sealed inside the service record (below) and in services.get
 * results, never in clear in a record. */
/* An IPv4 (len 4) or IPv6 (len 16) address, network byte order. */
struct proto_ip {
	uint8_t len;
	uint8_t addr[16];
};

#define PROTO_DNS_ADDRS_MAX 8

/* The address families of list[0..n), as a mask: 1 for IPv4, 2 for IPv6. */
unsigned proto_ip_families(const struct proto_ip *list, uint32_t n);

/* A service's DNS plan: its name answers the primary addresses while they
 * are up, the standby ones during an outage. Either no plan (name empty,
 * every other field zero), or all of it: name in zone (proto_dns_name_in_zone()),
 * 1..PROTO_DNS_ADDRS_MAX addresses on each side, and the same address
 * families on both (an A set that fails over while the AAAA set stays on
 * the dead primary would fail half the clients). */
struct proto_dns_plan {
	char name[PROTO_ZONE_MAX + 1]; /* proto_dns_name_parse() form */
	char zone[PROTO_ZONE_MAX + 1]; /* the dns:ZONE grant that may change it */
	uint32_t n_primary, n_standby;
	struct proto_ip primary[PROTO_DNS_ADDRS_MAX];
	struct proto_ip standby[PROTO_DNS_ADDRS_MAX];
	uint32_t ttl_s; /* 1..86400 */
	uint32_t pin;   /* PROTO_DNS_PIN_*: the owner's override of automation */
	/* 1: the owner's agent holds the credential too, and points the name
	 * back at the primary itself while it is alive. */
	uint32_t owner_acts;
};

#define PROTO_DNS_PIN_NONE 0
#define PROTO_DNS_PIN_PRIMARY 1
#define PROTO_DNS_PIN_STANDBY 2

struct proto_service {
	char url[PROTO_URL_MAX + 1];                 /* http(s)://..., tcp://host:port, ... */
	uint32_t expect_status;                      /* 0: any 2xx or 3xx; else 100..599 */
	char expect_body[PROTO_EXPECT_BODY_MAX + 1]; /* substring, may be empty */
	uint32_t interval_s;                         /* 1..86400 */
	uint32_t timeout_s;                          /* 1..300, <= interval_s */
	uint32_t tls_warn_s;       /* warn this long before certificate expiry, 0: never */
	struct proto_dns_plan dns; /* dns.name[0] == 0: none */
};

/* Defaults of the optional service fields, and the largest tls_warn_s. */
#define PROTO_SERVICE_INTERVAL_DEFAULT 30
#define PROTO_SERVICE_TIMEOUT_DEFAULT 10
#define PROTO_SERVICE_TLS_WARN_DEFAULT (14 * 86400)
#define PROTO_TLS_WARN_MAX (365 * 86400)
#define PROTO_DNS_TTL_DEFAULT 60

enum proto_status {
	PROTO_STATUS_UP = 1,
	PROTO_STATUS_DEGRADED = 2,
	PROTO_STATUS_DOWN = 3,
};

/* "up", "degraded", "down", or "unknown" for any other value. */
const char *proto_status_name(enum proto_status s);

/* kind "observation", name = hex(owner) "/" service: one observer's latest
 * view of one service. */
struct proto_observation {
	uint8_t owner[PROTO_KEY_LEN];
	char service[PROTO_SERVICE_NAME_MAX + 1];
	enum proto_status status;
	uint32_t latency_ms;
	uint64_t checked_at;               /* Unix seconds */
	char error[PROTO_ERRTEXT_MAX + 1]; /* why not up, may be empty */
	uint64_t tls_expires;              /* certificate notAfter, 0: unknown */
	/* With a DNS plan: status is the primary addresses' (the best of
	 * them), standby the standby addresses'; 0 without a plan. */
	enum proto_status standby;
};

/* kind "grant", name = grant ID: issuer (the record author) lets subject
 * do what the scopes say from not_before until the record expires. */
struct proto_grant {
	uint8_t subject[PROTO_KEY_LEN];
	uint32_t n_scopes;
	struct proto_scope scopes[PROTO_SCOPES_MAX];
	uint64_t not_before;              /* Unix seconds, 0: from issue */
	size_t sealed_len;                /* 0: none */
	uint8_t sealed[PROTO_SEALED_MAX]; /* credential sealed to subject */
	/* The same credential sealed to the issuer (the author), for its own
	 * use: kept in the network, it outlives a lost server. 0: none. */
	size_t issuer_sealed_len;
	uint8_t issuer_sealed[PROTO_SEALED_MAX];
};

enum proto_revoke_target {
	PROTO_REVOKE_GRANT = 1,
	PROTO_REVOKE_MEMBER = 2,
};

/* kind "revocation", name = what it revokes: withdraws a grant of the
 * author, or ejects a member from the network. */
struct proto_revocation {
	enum proto_revoke_target target;
	char grant_id[PROTO_GRANT_ID_MAX + 1]; /* PROTO_REVOKE_GRANT */
	uint8_t member[PROTO_KEY_LEN];         /* PROTO_REVOKE_MEMBER */
	char reason[PROTO_REASON_MAX + 1];     /* may be empty */
};

/* kind "dns-change", name = hex(owner) "/" service "/" issued "/" A or
 * AAAA: one change of a failover, or one failed attempt, by the partner
 * that acted (the author): the owner's name moved from one set of
 * addresses to another, or not, and why. */
#define PROTO_DNS_TYPE_A 1
#define PROTO_DNS_TYPE_AAAA 28
#define PROTO_DNS_CHANGED 1
#define PROTO_DNS_FAILED 2

struct proto_dns_change {
	uint8_t owner[PROTO_KEY_LEN];
	char service[PROTO_SERVICE_NAME_MAX + 1];
	char name[PROTO_ZONE_MAX + 1]; /* proto_dns_name_parse() form, in zone */
	char zone[PROTO_ZONE_MAX + 1];
	uint32_t rtype; /* PROTO_DNS_TYPE_* */
	uint32_t n_from, n_to;
	struct proto_ip from[PROTO_DNS_ADDRS_MAX]; /* what it expected there */
	struct proto_ip to[PROTO_DNS_ADDRS_MAX];   /* what it set, or meant to */
	enum proto_status verdict;                 /* the service's, which asked for it */
	uint32_t result;                           /* PROTO_DNS_CHANGED or PROTO_DNS_FAILED */
	char why[PROTO_ERRTEXT_MAX + 1];           /* a failure's reason */
	/* When, to the millisecond (0: not said): what orders two changes
	 * of one second, the record's issue time being in seconds. */
	uint64_t at_ms;
};

/* kind "admission", name = hex(subject): the author, a member, lets
 * subject into the network; endpoint is where to reach it until its own
 * member record says. */
struct proto_admission {
	uint8_t subject[PROTO_KEY_LEN];
	char endpoint[PROTO_ENDPOINT_MAX + 1]; /* may be empty */
};

/* kind "service" record body: the check details (struct proto_service,
 * encoded with proto_service_encode()) sealed with crypto_box_seal to each
 * reader, the owner and the partners it granted monitor, so that only
 * they learn what is checked; and, in clear, the check interval, which
 * every agent needs to judge whether observations are fresh. Boxes point
 * into the decoded buffer (borrowed); readers come in increasing order. */
#define PROTO_READERS_MAX 64

struct proto_sealed_box {
	uint8_t reader[PROTO_KEY_LEN];
	const uint8_t *box;
	size_t len;
};

struct proto_service_record {
	uint32_t interval_s;
	uint32_t n_boxes;
	struct proto_sealed_box boxes[PROTO_READERS_MAX];
};

int proto_service_record_decode(struct proto_service_record *out, const uint8_t *buf, size_t len);
int proto_service_record_encode(struct mp_buf *out, const struct proto_service_record *in);

/* buf is borrowed. Return 0 or a negative KITH_E* code. */
int proto_member_decode(struct proto_member *out, const uint8_t *buf, size_t len);
int proto_service_decode(struct proto_service *out, const uint8_t *buf, size_t len);
int proto_observation_decode(struct proto_observation *out, const uint8_t *buf, size_t len);
int proto_grant_decode(struct proto_grant *out, const uint8_t *buf, size_t len);
int proto_revocation_decode(struct proto_revocation *out, const uint8_t *buf, size_t len);
int proto_admission_decode(struct proto_admission *out, const uint8_t *buf, size_t len);
int proto_dns_change_decode(struct proto_dns_change *out, const uint8_t *buf, size_t len);

/* in is borrowed; the body is appended to out. Return 0 or a negative code. */
int proto_member_encode(struct mp_buf *out, const struct proto_member *in);
int proto_service_encode(struct mp_buf *out, const struct proto_service *in);
int proto_observation_encode(struct mp_buf *out, const struct proto_observation *in);
int proto_grant_encode(struct mp_buf *out, const struct proto_grant *in);
int proto_revocation_encode(struct mp_buf *out, const struct proto_revocation *in);
int proto_admission_encode(struct mp_buf *out, const struct proto_admission *in);
int proto_dns_change_encode(struct mp_buf *out, const struct proto_dns_change *in);

/* Sets the defaults of optional fields (interval 30 s, timeout 10 s, TLS
 * warning 14 days) in a zeroed struct. */
void proto_service_defaults(struct proto_service *s);

/* True when s[0..len) (borrowed) is a valid service name: 1 to
 * PROTO_SERVICE_NAME_MAX characters of a-z, 0-9, '-', '_' and '.'. */
bool proto_service_name_ok(const char *s, size_t len);

/* True when s (NUL-terminated, borrowed) is an endpoint as member records
 * carry it: text of 1 to PROTO_ENDPOINT_MAX bytes, a URI with "//" after
 * the scheme ("tcp://host:port"). For invitation tokens (token.c). */
bool proto_endpoint_ok(const char *s);

#endif
