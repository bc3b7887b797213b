/* Record bodies: one codec per kind (see body.h and docs/protocol.md).
 *
 * Every decoder runs two passes over the map. The first checks the shape
 * alone: map size, integer keys, repeated keys (known or not), the version
 * under key 0, depth of unknown values and trailing bytes. The second reads
 * the known keys into the struct and skips the others. The value rules
 * then run on the struct through the same *_check() function the encoder
 * calls first, so what kith writes and what it accepts cannot drift apart. */
#include <assert.h>
#include <string.h>

#include "body.h"
#include "error.h"

#define KEY_VERSION 0

enum member_key {
	MEMBER_NAME = 1,      /* str 1..64, required */
	MEMBER_ENDPOINTS = 2, /* array (<= 8) of URI str 1..255 */
	MEMBER_CONTACTS = 3,  /* array (<= 16) of URI str 1..511 */
	MEMBER_VERSION = 4,   /* str 0..63 */
};

enum service_key {
	SERVICE_URL = 1,           /* URI str 1..2047, required */
	SERVICE_EXPECT_STATUS = 2, /* uint 0 or 100..599 */
	SERVICE_EXPECT_BODY = 3,   /* str 0..255 */
	SERVICE_INTERVAL = 4,      /* uint 1..86400 */
	SERVICE_TIMEOUT = 5,       /* uint 1..300, <= interval */
	SERVICE_TLS_WARN = 6,      /* uint 0..PROTO_TLS_WARN_MAX */
	/* The DNS plan (struct proto_dns_plan): all of 7..11 or none, 12
	 * and 13 optional with them. */
	SERVICE_DNS_NAME = 7,     /* str, a DNS name in the zone */
	SERVICE_DNS_ZONE = 8,     /* str, a DNS name */
	SERVICE_DNS_PRIMARY = 9,  /* array 1..8 of bin 4 or 16 */
	SERVICE_DNS_STANDBY = 10, /* array 1..8 of bin 4 or 16 */
	SERVICE_DNS_TTL = 11,     /* uint 1..86400 */
	SERVICE_DNS_PIN = 12,     /* uint 1 (primary) or 2 (standby), with a plan */
	SERVICE_DNS_OWNER = 13,   /* uint 1: the owner points the name back itself */
};

enum observation_key {
	OBSERVATION_OWNER = 1,       /* bin 32, required */
	OBSERVATION_SERVICE = 2,     /* service name, required */
	OBSERVATION_STATUS = 3,      /* uint 1..3, required */
	OBSERVATION_LATENCY = 4,     /* uint 0..2^32-1 */
	OBSERVATION_CHECKED_AT = 5,  /* uint >= 1, required */
	OBSERVATION_ERROR = 6,       /* str 0..255 */
	OBSERVATION_TLS_EXPIRES = 7, /* uint */
	OBSERVATION_STANDBY = 8,     /* uint 1..3: the DNS plan's standby */
};

enum grant_key {
	GRANT_SUBJECT = 1,       /* bin 32, required */
	GRANT_SCOPES = 2,        /* array 1..16 of scope str, required */
	GRANT_NOT_BEFORE = 3,    /* uint */
	GRANT_SEALED = 4,        /* bin 1..4096 */
	GRANT_SEALED_ISSUER = 5, /* bin 1..4096, with 4 */
};

enum revocation_key {
	REVOCATION_TARGET = 1,   /* uint 1..2, required */
	REVOCATION_GRANT_ID = 2, /* str 1..64, with target 1 only */
	REVOCATION_MEMBER = 3,   /* bin 32 not all zero, with target 2 only */
	REVOCATION_REASON = 4,   /* str 0..255 */
};

enum sealed_service_key {
	SEALED_INTERVAL = 1, /* uint 1..86400, required */
	SEALED_BOXES = 2, /* array 1..64 of [reader bin 32, box bin 1..4096], readers increasing */
};

enum dns_change_key {
	DNS_CHANGE_OWNER = 1,   /* bin 32 not all zero, required */
	DNS_CHANGE_SERVICE = 2, /* service name, required */
	DNS_CHANGE_NAME = 3,    /* DNS name in zone, required */
	DNS_CHANGE_ZONE = 4,    /* DNS name, required */
	DNS_CHANGE_TYPE = 5,    /* uint 1 (A) or 28 (AAAA), required */
	DNS_CHANGE_FROM = 6,    /* array 0..8 of bin 4 (A) or 16 (AAAA) */
	DNS_CHANGE_TO = 7,      /* array 1..8 of the same, required */
	DNS_CHANGE_VERDICT = 8, /* uint 1..3, required */
	DNS_CHANGE_RESULT = 9,  /* uint 1 (changed) or 2 (failed), required */
	DNS_CHANGE_WHY = 10,    /* str 0..255 */
	DNS_CHANGE_AT_MS = 11,  /* uint, Unix milliseconds */
};

enum admission_key {
	ADMISSION_SUBJECT = 1,  /* bin 32 not all zero, required */
	ADMISSION_ENDPOINT = 2, /* URI str 1..255 */
};

#define BIT(key) ((uint64_t)1 << (key))
/* A field reader's answer for a key it does not know: skip the value. */
#define FIELD_UNKNOWN 1
/* Unknown values sit inside the body map, which is one level already. */
#define SKIP_DEPTH (PROTO_DEPTH_MAX - 1)

struct body_kind {
	uint64_t required; /* BIT() of each required key */
	/* Reads the value of key into the struct; 0, FIELD_UNKNOWN or the
	 * reader's error. Only keys below 64 may return 0. */
	int (*field)(struct mp_reader *r, uint64_t key, void *body);
	/* The value rules, shared with the encoder. */
	int (*check)(const void *body);
};

/* ---- shared value rules ---- */

/* A NUL-terminated string in an array of size bytes, of at least min
 * bytes, that passes mp_text_ok(). */
static int check_text(const char *s, size_t size, size_t min)
{
	size_t len = strnlen(s, size);
	if (len == size)
		return KITH_ETOOBIG;
	if (len < min || !mp_text_ok(s, len))
		return KITH_EVALUE;
	return 0;
}

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* A URI as libcurl and ZeroMQ take it: scheme ":" then, when hier is set,
 * "//"; something after that; no spaces anywhere. */
static bool uri_ok(const char *s, bool hier)
{
	size_t i = 0;
	if (!is_alpha(s[0]))
		return false;
	while (is_alpha(s[i]) || is_digit(s[i]) || s[i] == '+' || s[i] == '-' || s[i] == '.')
		i++;
	if (s[i++] != ':')
		return false;
	if (hier && (s[i++] != '/' || s[i++] != '/'))
		return false;
	return s[i] != '\0' && !strchr(s, ' ');
}

static int check_uri(const char *s, size_t size, bool hier)
{
	int rc = check_text(s, size, 1);
	if (!rc && !uri_ok(s, hier))
		rc = KITH_EVALUE;
	return rc;
}

bool proto_service_name_ok(const char *s, size_t len)
{
	if (len < 1 || len > PROTO_SERVICE_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!(c >= 'a' && c <= 'z') && !is_digit(c) && c != '-' && c != '_' && c != '.')
			return false;
	}
	return true;
}

bool proto_endpoint_ok(const char *s)
{
	return check_uri(s, PROTO_ENDPOINT_MAX + 1, true) == 0;
}

static bool key_is_zero(const uint8_t key[PROTO_KEY_LEN])
{
	uint8_t any = 0;
	for (size_t i = 0; i < PROTO_KEY_LEN; i++)
		any |= key[i];
	return any == 0;
}

/* ---- reading ---- */

static int read_u32(struct mp_reader *r, uint32_t *out)
{
	uint64_t v;
	if (mp_read_uint(r, &v))
		return r->err;
	if (v > UINT32_MAX)
		return mp_fail(r, KITH_EVALUE);
	*out = (uint32_t)v;
	return 0;
}

/* An array of at most max strings into rows of stride bytes. */
static int read_text_list(struct mp_reader *r, char *rows, size_t stride, uint32_t max, uint32_t *n)
{
	if (mp_read_array(r, n, max))
		return r->err;
	for (uint32_t i = 0; i < *n && !r->err; i++)
		mp_read_text(r, rows + i * stride, stride - 1);
	return r->err;
}

/* An array of 1..PROTO_DNS_ADDRS_MAX addresses, each bin 4 or 16. */
static int read_ip_list(struct mp_reader *r, struct proto_ip *list, uint32_t *n)
{
	if (mp_read_array(r, n, PROTO_DNS_ADDRS_MAX))
		return r->err;
	for (uint32_t i = 0; i < *n && !r->err; i++) {
		const uint8_t *b;
		size_t len;
		if (mp_read_bin(r, &b, &len, 16))
			break;
		if (len != 4 && len != 16)
			return mp_fail(r, KITH_EVALUE);
		list[i].len = (uint8_t)len;
		memcpy(list[i].addr, b, len);
	}
	return r->err;
}

/* Pass one: shape, keys and version (see the top of this file). */
static int scan(const uint8_t *buf, size_t len)
{
	struct mp_reader r;
	uint64_t keys[PROTO_MAP_MAX];
	uint32_t n = 0;
	bool have_version = false;
	mp_reader_init(&r, buf, len);
	mp_read_map(&r, &n, PROTO_MAP_MAX);
	for (uint32_t i = 0; i < n && !r.err; i++) {
		uint64_t version;
		if (mp_read_uint(&r, &keys[i]))
			break;
		for (uint32_t j = 0; j < i; j++)
			if (keys[j] == keys[i])
				return mp_fail(&r, KITH_EDUPKEY);
		if (keys[i] != KEY_VERSION) {
			mp_skip(&r, SKIP_DEPTH);
			continue;
		}
		if (!mp_read_uint(&r, &version) && version != PROTO_BODY_VERSION)
			return mp_fail(&r, KITH_EVERSION);
		have_version = true;
	}
	if (mp_finish(&r))
		return r.err;
	return have_version ? 0 : KITH_EMISSING;
}

/* Pass two, then the required keys and the value rules. */
static int decode(const struct body_kind *kind, void *body, const uint8_t *buf, size_t len)
{
	struct mp_reader r;
	uint32_t n = 0;
	uint64_t seen = 0;
	int rc = scan(buf, len);
	if (rc)
		return rc;
	mp_reader_init(&r, buf, len);
	mp_read_map(&r, &n, PROTO_MAP_MAX);
	for (uint32_t i = 0; i < n && !r.err; i++) {
		uint64_t key;
		if (mp_read_uint(&r, &key))
			break;
		rc = key == KEY_VERSION ? FIELD_UNKNOWN : kind->field(&r, key, body);
		if (rc == FIELD_UNKNOWN)
			mp_skip(&r, SKIP_DEPTH);
		else if (rc == 0)
			seen |= BIT(key);
	}
	if (mp_finish(&r))
		return r.err;
	if ((seen & kind->required) != kind->required)
		return KITH_EMISSING;
	return kind->check(body);
}

/* ---- writing ---- */

struct writer {
	struct mp_buf *out;
	msgpack_packer pk;
	size_t start;
	unsigned n; /* keys written */
};

static void write_begin(struct writer *w, struct mp_buf *out)
{
	w->out = out;
	w->start = out->len;
	w->n = 0;
	mp_buf_packer(out, &w->pk);
	msgpack_pack_map(&w->pk, 0); /* one byte, patched by write_end() */
	w->n++;
	msgpack_pack_uint64(&w->pk, KEY_VERSION);
	msgpack_pack_uint64(&w->pk, PROTO_BODY_VERSION);
}

static msgpack_packer *write_key(struct writer *w, unsigned key)
{
	w->n++;
	msgpack_pack_uint64(&w->pk, key);
	return &w->pk;
}

static int write_end(struct writer *w)
{
	if (w->out->err)
		return w->out->err;
	if (w->out->len - w->start > PROTO_BODY_MAX) {
		w->out->len = w->start;
		return KITH_ETOOBIG;
	}
	assert(w->n <= 15); /* every body fits a fixmap */
	w->out->data[w->start] = (uint8_t)(0x80 | w->n);
	return 0;
}

static void write_ip_list(msgpack_packer *pk, const struct proto_ip *list, uint32_t n)
{
	msgpack_pack_array(pk, n);
	for (uint32_t i = 0; i < n; i++) {
		msgpack_pack_bin(pk, list[i].len);
		msgpack_pack_bin_body(pk, list[i].addr, list[i].len);
	}
}

/* ---- member ---- */

static int member_field(struct mp_reader *r, uint64_t key, void *body)
{
	struct proto_member *m = body;
	switch (key) {
	case MEMBER_NAME:
		return mp_read_text(r, m->name, PROTO_MEMBER_NAME_MAX);
	case MEMBER_ENDPOINTS:
		return read_text_list(r, m->endpoints[0], sizeof(m->endpoints[0]),
		                      PROTO_ENDPOINTS_MAX, &m->n_endpoints);
	case MEMBER_CONTACTS:
		return read_text_list(r, m->contacts[0], sizeof(m->contacts[0]), PROTO_CONTACTS_MAX,
		                      &m->n_contacts);
	case MEMBER_VERSION:
		return mp_read_text(r, m->version, PROTO_VERSION_MAX);
	}
	return FIELD_UNKNOWN;
}

static int member_check(const void *body)
{
	const struct proto_member *m = body;
	int rc = check_text(m->name, sizeof(m->name), 1);
	if (!rc)
		rc = check_text(m->version, sizeof(m->version), 0);
	if (!rc && (m->n_endpoints > PROTO_ENDPOINTS_MAX || m->n_contacts > PROTO_CONTACTS_MAX))
		rc = KITH_ETOOBIG;
	for (uint32_t i = 0; !rc && i < m->n_endpoints; i++)
		rc = check_uri(m->endpoints[i], sizeof(m->endpoints[i]), true);
	for (uint32_t i = 0; !rc && i < m->n_contacts; i++)
		rc = check_uri(m->contacts[i], sizeof(m->contacts[i]), false);
	return rc;
}

static const struct body_kind member_kind = {
    .required = BIT(MEMBER_NAME),
    .field = member_field,
    .check = member_check,
};

int proto_member_decode(struct proto_member *out, const uint8_t *buf, size_t len)
{
	memset(out, 0, sizeof(*out));
	return decode(&member_kind, out, buf, len);
}

int proto_member_encode(struct mp_buf *out, const struct proto_member *in)
{
	struct writer w;
	int rc = member_check(in);
	if (rc)
		return rc;
	write_begin(&w, out);
	mp_pack_cstr(write_key(&w, MEMBER_NAME), in->name);
	if (in->n_endpoints) {
		msgpack_pack_array(write_key(&w, MEMBER_ENDPOINTS), in->n_endpoints);
		for (uint32_t i = 0; i < in->n_endpoints; i++)
			mp_pack_cstr(&w.pk, in->endpoints[i]);
	}
	if (in->n_contacts) {
		msgpack_pack_array(write_key(&w, MEMBER_CONTACTS), in->n_contacts);
		for (uint32_t i = 0; i < in->n_contacts; i++)
			mp_pack_cstr(&w.pk, in->contacts[i]);
	}
	if (in->version[0])
		mp_pack_cstr(write_key(&w, MEMBER_VERSION), in->version);
	return write_end(&w);
}

/* ---- service ---- */

void proto_service_defaults(struct proto_service *s)
{
	s->interval_s = PROTO_SERVICE_INTERVAL_DEFAULT;
	s->timeout_s = PROTO_SERVICE_TIMEOUT_DEFAULT;
	s->tls_warn_s = PROTO_SERVICE_TLS_WARN_DEFAULT;
}

static int service_field(struct mp_reader *r, uint64_t key, void *body)
{
	struct proto_service *s = body;
	switch (key) {
	case SERVICE_URL:
		return mp_read_text(r, s->url, PROTO_URL_MAX);
	case SERVICE_EXPECT_STATUS:
		return read_u32(r, &s->expect_status);
	case SERVICE_EXPECT_BODY:
		return mp_read_text(r, s->expect_body, PROTO_EXPECT_BODY_MAX);
	case SERVICE_INTERVAL:
		return read_u32(r, &s->interval_s);
	case SERVICE_TIMEOUT:
		return read_u32(r, &s->timeout_s);
	case SERVICE_TLS_WARN:
		return read_u32(r, &s->tls_warn_s);
	case SERVICE_DNS_NAME:
		return mp_read_text(r, s->dns.name, PROTO_ZONE_MAX);
	case SERVICE_DNS_ZONE:
		return mp_read_text(r, s->dns.zone, PROTO_ZONE_MAX);
	case SERVICE_DNS_PRIMARY:
		return read_ip_list(r, s->dns.primary, &s->dns.n_primary);
	case SERVICE_DNS_STANDBY:
		return read_ip_list(r, s->dns.standby, &s->dns.n_standby);
	case SERVICE_DNS_TTL:
		return read_u32(r, &s->dns.ttl_s);
	case SERVICE_DNS_PIN:
		return read_u32(r, &s->dns.pin);
	case SERVICE_DNS_OWNER:
		return read_u32(r, &s->dns.owner_acts);
	}
	return FIELD_UNKNOWN;
}

const char *proto_status_name(enum proto_status s)
{
	static const char *const names[] = {"unknown", "up", "degraded", "down"};

	return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "unknown";
}

unsigned proto_ip_families(const struct proto_ip *list, uint32_t n)
{
	unsigned mask = 0;

	for (uint32_t i = 0; i < n; i++)
		mask |= list[i].len == 4 ? 1 : 2;
	return mask;
}

static int dns_plan_check(const struct proto_dns_plan *d)
{
	char canon[PROTO_ZONE_MAX + 1];
	const char *why;

	if (!d->name[0])
		return d->zone[0] || d->n_primary || d->n_standby || d->ttl_s || d->pin ||
		               d->owner_acts
		           ? KITH_EVALUE
		           : 0;
	if (d->pin > PROTO_DNS_PIN_STANDBY || d->owner_acts > 1)
		return KITH_EVALUE;
	/* Names in their one canonical form only: what kith compares. */
	if (check_text(d->name, sizeof(d->name), 1) || check_text(d->zone, sizeof(d->zone), 1) ||
	    proto_dns_name_parse(canon, d->name, strlen(d->name), &why) != 0 ||
	    strcmp(canon, d->name) != 0 ||
	    proto_dns_name_parse(canon, d->zone, strlen(d->zone), &why) != 0 ||
	    strcmp(canon, d->zone) != 0 || !proto_dns_name_in_zone(d->name, d->zone))
		return KITH_EVALUE;
	if (d->n_primary < 1 || d->n_primary > PROTO_DNS_ADDRS_MAX || d->n_standby < 1 ||
	    d->n_standby > PROTO_DNS_ADDRS_MAX || d->ttl_s < 1 || d->ttl_s > 86400)
		return KITH_EVALUE;
	for (uint32_t i = 0; i < d->n_primary; i++)
		if (d->primary[i].len != 4 && d->primary[i].len != 16)
			return KITH_EVALUE;
	for (uint32_t i = 0; i < d->n_standby; i++)
		if (d->standby[i].len != 4 && d->standby[i].len != 16)
			return KITH_EVALUE;
	if (proto_ip_families(d->primary, d->n_primary) !=
	    proto_ip_families(d->standby, d->n_standby))
		return KITH_EVALUE;
	return 0;
}

static int service_check(const void *body)
{
	const struct proto_service *s = body;
	int rc = check_uri(s->url, sizeof(s->url), true);
	if (!rc)
		rc = check_text(s->expect_body, sizeof(s->expect_body), 0);
	if (rc)
		return rc;
	if (s->expect_status != 0 && (s->expect_status < 100 || s->expect_status > 599))
		return KITH_EVALUE;
	if (s->interval_s < 1 || s->interval_s > 86400)
		return KITH_EVALUE;
	if (s->timeout_s < 1 || s->timeout_s > 300 || s->timeout_s > s->interval_s)
		return KITH_EVALUE;
	if (s->tls_warn_s > PROTO_TLS_WARN_MAX)
		return KITH_EVALUE;
	return dns_plan_check(&s->dns);
}

static const struct body_kind service_kind = {
    .required = BIT(SERVICE_URL),
    .field = service_field,
    .check = service_check,
};

int proto_service_decode(struct proto_service *out, const uint8_t *buf, size_t len)
{
	memset(out, 0, sizeof(*out));
	proto_service_defaults(out);
	return decode(&service_kind, out, buf, len);
}

int proto_service_encode(struct mp_buf *out, const struct proto_service *in)
{
	struct writer w;
	int rc = service_check(in);
	if (rc)
		return rc;
	write_begin(&w, out);
	mp_pack_cstr(write_key(&w, SERVICE_URL), in->url);
	if (in->expect_status)
		msgpack_pack_uint32(write_key(&w, SERVICE_EXPECT_STATUS), in->expect_status);
	if (in->expect_body[0])
		mp_pack_cstr(write_key(&w, SERVICE_EXPECT_BODY), in->expect_body);
	if (in->interval_s != PROTO_SERVICE_INTERVAL_DEFAULT)
		msgpack_pack_uint32(write_key(&w, SERVICE_INTERVAL), in->interval_s);
	if (in->timeout_s != PROTO_SERVICE_TIMEOUT_DEFAULT)
		msgpack_pack_uint32(write_key(&w, SERVICE_TIMEOUT), in->timeout_s);
	if (in->tls_warn_s != PROTO_SERVICE_TLS_WARN_DEFAULT)
		msgpack_pack_uint32(write_key(&w, SERVICE_TLS_WARN), in->tls_warn_s);
	if (in->dns.name[0]) {
		mp_pack_cstr(write_key(&w, SERVICE_DNS_NAME), in->dns.name);
		mp_pack_cstr(write_key(&w, SERVICE_DNS_ZONE), in->dns.zone);
		write_ip_list(write_key(&w, SERVICE_DNS_PRIMARY), in->dns.primary,
		              in->dns.n_primary);
		write_ip_list(write_key(&w, SERVICE_DNS_STANDBY), in->dns.standby,
		              in->dns.n_standby);
		msgpack_pack_uint32(write_key(&w, SERVICE_DNS_TTL), in->dns.ttl_s);
		if (in->dns.pin)
			msgpack_pack_uint32(write_key(&w, SERVICE_DNS_PIN), in->dns.pin);
		if (in->dns.owner_acts)
			msgpack_pack_uint32(write_key(&w, SERVICE_DNS_OWNER), 1);
	}
	return write_end(&w);
}

/* ---- observation ---- */

/* A status, 1..3. */
static int read_status(struct mp_reader *r, enum proto_status *out)
{
	uint64_t status;

	if (mp_read_uint(r, &status))
		return r->err;
	if (status < PROTO_STATUS_UP || status > PROTO_STATUS_DOWN)
		return mp_fail(r, KITH_EVALUE);
	*out = (enum proto_status)status;
	return 0;
}

static int observation_field(struct mp_reader *r, uint64_t key, void *body)
{
	struct proto_observation *o = body;
	switch (key) {
	case OBSERVATION_OWNER:
		return mp_read_bin_exact(r, o->owner, PROTO_KEY_LEN);
	case OBSERVATION_SERVICE:
		return mp_read_text(r, o->service, PROTO_SERVICE_NAME_MAX);
	case OBSERVATION_STATUS:
		return read_status(r, &o->status);
	case OBSERVATION_LATENCY:
		return read_u32(r, &o->latency_ms);
	case OBSERVATION_CHECKED_AT:
		return mp_read_uint(r, &o->checked_at);
	case OBSERVATION_ERROR:
		return mp_read_text(r, o->error, PROTO_ERRTEXT_MAX);
	case OBSERVATION_TLS_EXPIRES:
		return mp_read_uint(r, &o->tls_expires);
	case OBSERVATION_STANDBY:
		return read_status(r, &o->standby);
	}
	return FIELD_UNKNOWN;
}

static int observation_check(const void *body)
{
	const struct proto_observation *o = body;
	int rc = check_text(o->error, sizeof(o->error), 0);
	if (!rc)
		rc = check_text(o->service, sizeof(o->service), 1);
	if (rc)
		return rc;
	if (!proto_service_name_ok(o->service, strlen(o->service)))
		return KITH_EVALUE;
	if (o->status < PROTO_STATUS_UP || o->status > PROTO_STATUS_DOWN || o->checked_at == 0)
		return KITH_EVALUE;
	if (o->standby && (o->standby < PROTO_STATUS_UP || o->standby > PROTO_STATUS_DOWN))
		return KITH_EVALUE;
	return 0;
}

static const struct body_kind observation_kind = {
    .required = BIT(OBSERVATION_OWNER) | BIT(OBSERVATION_SERVICE) | BIT(OBSERVATION_STATUS) |
                BIT(OBSERVATION_CHECKED_AT),
    .field = observation_field,
    .check = observation_check,
};

int proto_observation_decode(struct proto_observation *out, const uint8_t *buf, size_t len)
{
	memset(out, 0, sizeof(*out));
	return decode(&observation_kind, out, buf, len);
}

int proto_observation_encode(struct mp_buf *out, const struct proto_observation *in)
{
	struct writer w;
	int rc = observation_check(in);
	if (rc)
		return rc;
	write_begin(&w, out);
	mp_pack_bin(write_key(&w, OBSERVATION_OWNER), in->owner, PROTO_KEY_LEN);
	mp_pack_cstr(write_key(&w, OBSERVATION_SERVICE), in->service);
	msgpack_pack_uint32(write_key(&w, OBSERVATION_STATUS), (uint32_t)in->status);
	if (in->latency_ms)
		msgpack_pack_uint32(write_key(&w, OBSERVATION_LATENCY), in->latency_ms);
	msgpack_pack_uint64(write_key(&w, OBSERVATION_CHECKED_AT), in->checked_at);
	if (in->error[0])
		mp_pack_cstr(write_key(&w, OBSERVATION_ERROR), in->error);
	if (in->tls_expires)
		msgpack_pack_uint64(write_key(&w, OBSERVATION_TLS_EXPIRES), in->tls_expires);
	if (in->standby)
		msgpack_pack_uint32(write_key(&w, OBSERVATION_STANDBY), (uint32_t)in->standby);
	return write_end(&w);
}

/* ---- grant ---- */

static int read_scopes(struct mp_reader *r, struct proto_grant *g)
{
	char text[PROTO_SCOPE_MAX + 1];
	if (mp_read_array(r, &g->n_scopes, PROTO_SCOPES_MAX))
		return r->err;
	for (uint32_t i = 0; i < g->n_scopes; i++) {
		if (mp_read_text(r, text, PROTO_SCOPE_MAX))
			return r->err;
		if (proto_scope_parse(&g->scopes[i], text, strlen(text), NULL))
			return mp_fail(r, KITH_EVALUE);
	}
	return 0;
}

static int grant_field(struct mp_reader *r, uint64_t key, void *body)
{
	struct proto_grant *g = body;
	const uint8_t *sealed;
	switch (key) {
	case GRANT_SUBJECT:
		return mp_read_bin_exact(r, g->subject, PROTO_KEY_LEN);
	case GRANT_SCOPES:
		return read_scopes(r, g);
	case GRANT_NOT_BEFORE:
		return mp_read_uint(r, &g->not_before);
	case GRANT_SEALED:
		if (mp_read_bin(r, &sealed, &g->sealed_len, PROTO_SEALED_MAX))
			return r->err;
		if (g->sealed_len == 0)
			return mp_fail(r, KITH_EVALUE); /* absent is the way to say none */
		memcpy(g->sealed, sealed, g->sealed_len);
		return 0;
	case GRANT_SEALED_ISSUER:
		if (mp_read_bin(r, &sealed, &g->issuer_sealed_len, PROTO_SEALED_MAX))
			return r->err;
		if (g->issuer_sealed_len == 0)
			return mp_fail(r, KITH_EVALUE);
		memcpy(g->issuer_sealed, sealed, g->issuer_sealed_len);
		return 0;
	}
	return FIELD_UNKNOWN;
}

/* Two scopes of one type (two dns scopes for one zone) would leave the
 * grant's meaning to the reader's choice. */
static bool same_scope_kind(const struct proto_scope *a, const struct proto_scope *b)
{
	if (a->type != b->type)
		return false;
	return a->type != PROTO_SCOPE_DNS || strcmp(a->zone, b->zone) == 0;
}

static int grant_check(const void *body)
{
	const struct proto_grant *g = body;
	char text[PROTO_SCOPE_MAX + 1];
	if (g->n_scopes > PROTO_SCOPES_MAX || g->sealed_len > PROTO_SEALED_MAX ||
	    g->issuer_sealed_len > PROTO_SEALED_MAX)
		return KITH_ETOOBIG;
	/* The issuer's copy of a credential it gave. */
	if (g->issuer_sealed_len && !g->sealed_len)
		return KITH_EVALUE;
	if (g->n_scopes == 0)
		return KITH_EVALUE;
	for (uint32_t i = 0; i < g->n_scopes; i++) {
		if (proto_scope_check(&g->scopes[i], text))
			return KITH_EVALUE;
		for (uint32_t j = 0; j < i; j++)
			if (same_scope_kind(&g->scopes[i], &g->scopes[j]))
				return KITH_EVALUE;
	}
	return 0;
}

static const struct body_kind grant_kind = {
    .required = BIT(GRANT_SUBJECT) | BIT(GRANT_SCOPES),
    .field = grant_field,
    .check = grant_check,
};

int proto_grant_decode(struct proto_grant *out, const uint8_t *buf, size_t len)
{
	memset(out, 0, sizeof(*out));
	return decode(&grant_kind, out, buf, len);
}

int proto_grant_encode(struct mp_buf *out, const struct proto_grant *in)
{
	struct writer w;
	char text[PROTO_SCOPE_MAX + 1];
	int rc = grant_check(in);
	if (rc)
		return rc;
	write_begin(&w, out);
	mp_pack_bin(write_key(&w, GRANT_SUBJECT), in->subject, PROTO_KEY_LEN);
	msgpack_pack_array(write_key(&w, GRANT_SCOPES), in->n_scopes);
	for (uint32_t i = 0; i < in->n_scopes; i++) {
		proto_scope_format(&in->scopes[i], text, sizeof(text)); /* checked above */
		mp_pack_cstr(&w.pk, text);
	}
	if (in->not_before)
		msgpack_pack_uint64(write_key(&w, GRANT_NOT_BEFORE), in->not_before);
	if (in->sealed_len)
		mp_pack_bin(write_key(&w, GRANT_SEALED), in->sealed, in->sealed_len);
	if (in->issuer_sealed_len)
		mp_pack_bin(write_key(&w, GRANT_SEALED_ISSUER), in->issuer_sealed,
		            in->issuer_sealed_len);
	return write_end(&w);
}

/* ---- revocation ---- */

static int revocation_field(struct mp_reader *r, uint64_t key, void *body)
{
	struct proto_revocation *v = body;
	uint64_t target;
	switch (key) {
	case REVOCATION_TARGET:
		if (mp_read_uint(r, &target))
			return r->err;
		if (target < PROTO_REVOKE_GRANT || target > PROTO_REVOKE_MEMBER)
			return mp_fail(r, KITH_EVALUE);
		v->target = (enum proto_revoke_target)target;
		return 0;
	case REVOCATION_GRANT_ID:
		if (mp_read_text(r, v->grant_id, PROTO_GRANT_ID_MAX))
			return r->err;
		return v->grant_id[0] ? 0 : mp_fail(r, KITH_EVALUE);
	case REVOCATION_MEMBER:
		/* An all-zero key would read as "no member" in the struct. */
		if (mp_read_bin_exact(r, v->member, PROTO_KEY_LEN))
			return r->err;
		return key_is_zero(v->member) ? mp_fail(r, KITH_EVALUE) : 0;
	case REVOCATION_REASON:
		return mp_read_text(r, v->reason, PROTO_REASON_MAX);
	}
	return FIELD_UNKNOWN;
}

/* In the struct, an empty grant_id and an all-zero member mean absent:
 * the target names which one must be there, and the other must not. */
static int revocation_check(const void *body)
{
	const struct proto_revocation *v = body;
	int rc = check_text(v->grant_id, sizeof(v->grant_id), 0);
	if (!rc)
		rc = check_text(v->reason, sizeof(v->reason), 0);
	if (rc)
		return rc;
	bool has_grant = v->grant_id[0] != '\0', has_member = !key_is_zero(v->member);
	switch (v->target) {
	case PROTO_REVOKE_GRANT:
		if (has_member)
			return KITH_EVALUE;
		return has_grant ? 0 : KITH_EMISSING;
	case PROTO_REVOKE_MEMBER:
		if (has_grant)
			return KITH_EVALUE;
		return has_member ? 0 : KITH_EMISSING;
	}
	return KITH_EVALUE;
}

static const struct body_kind revocation_kind = {
    .required = BIT(REVOCATION_TARGET),
    .field = revocation_field,
    .check = revocation_check,
};

int proto_revocation_decode(struct proto_revocation *out, const uint8_t *buf, size_t len)
{
	memset(out, 0, sizeof(*out));
	return decode(&revocation_kind, out, buf, len);
}

int proto_revocation_encode(struct mp_buf *out, const struct proto_revocation *in)
{
	struct writer w;
	int rc = revocation_check(in);
	if (rc)
		return rc;
	write_begin(&w, out);
	msgpack_pack_uint32(write_key(&w, REVOCATION_TARGET), (uint32_t)in->target);
	if (in->target == PROTO_REVOKE_GRANT)
		mp_pack_cstr(write_key(&w, REVOCATION_GRANT_ID), in->grant_id);
	else
		mp_pack_bin(write_key(&w, REVOCATION_MEMBER), in->member, PROTO_KEY_LEN);
	if (in->reason[0])
		mp_pack_cstr(write_key(&w, REVOCATION_REASON), in->reason);
	return write_end(&w);
}

/* ---- dns-change ---- */

static int dns_change_field(struct mp_reader *r, uint64_t key, void *body)
{
	struct proto_dns_change *v = body;
	switch (key) {
	case DNS_CHANGE_OWNER:
		return mp_read_bin_exact(r, v->owner, PROTO_KEY_LEN);
	case DNS_CHANGE_SERVICE:
		return mp_read_text(r, v->service, PROTO_SERVICE_NAME_MAX);
	case DNS_CHANGE_NAME:
		return mp_read_text(r, v->name, PROTO_ZONE_MAX);
	case DNS_CHANGE_ZONE:
		return mp_read_text(r, v->zone, PROTO_ZONE_MAX);
	case DNS_CHANGE_TYPE:
		return read_u32(r, &v->rtype);
	case DNS_CHANGE_FROM:
		return read_ip_list(r, v->from, &v->n_from);
	case DNS_CHANGE_TO:
		return read_ip_list(r, v->to, &v->n_to);
	case DNS_CHANGE_VERDICT:
		return read_status(r, &v->verdict);
	case DNS_CHANGE_RESULT:
		return read_u32(r, &v->result);
	case DNS_CHANGE_WHY:
		return mp_read_text(r, v->why, PROTO_ERRTEXT_MAX);
	case DNS_CHANGE_AT_MS:
		return mp_read_uint(r, &v->at_ms);
	}
	return FIELD_UNKNOWN;
}

/* Each address of list has the length of type's records. */
static bool ips_of_type(const struct proto_ip *list, uint32_t n, uint32_t rtype)
{
	for (uint32_t i = 0; i < n; i++)
		if (list[i].len != (rtype == PROTO_DNS_TYPE_A ? 4 : 16))
			return false;
	return true;
}

static int dns_change_check(const void *body)
{
	const struct proto_dns_change *v = body;
	char canon[PROTO_ZONE_MAX + 1];
	const char *why;

	if (key_is_zero(v->owner))
		return KITH_EMISSING;
	if (check_text(v->service, sizeof(v->service), 1) ||
	    check_text(v->name, sizeof(v->name), 1) || check_text(v->zone, sizeof(v->zone), 1) ||
	    check_text(v->why, sizeof(v->why), 0) ||
	    !proto_service_name_ok(v->service, strlen(v->service)))
		return KITH_EVALUE;
	if (proto_dns_name_parse(canon, v->name, strlen(v->name), &why) != 0 ||
	    strcmp(canon, v->name) != 0 ||
	    proto_dns_name_parse(canon, v->zone, strlen(v->zone), &why) != 0 ||
	    strcmp(canon, v->zone) != 0 || !proto_dns_name_in_zone(v->name, v->zone))
		return KITH_EVALUE;
	if ((v->rtype != PROTO_DNS_TYPE_A && v->rtype != PROTO_DNS_TYPE_AAAA) ||
	    v->n_from > PROTO_DNS_ADDRS_MAX || v->n_to < 1 || v->n_to > PROTO_DNS_ADDRS_MAX ||
	    !ips_of_type(v->from, v->n_from, v->rtype) || !ips_of_type(v->to, v->n_to, v->rtype))
		return KITH_EVALUE;
	if (v->verdict < PROTO_STATUS_UP || v->verdict > PROTO_STATUS_DOWN ||
	    (v->result != PROTO_DNS_CHANGED && v->result != PROTO_DNS_FAILED))
		return KITH_EVALUE;
	return 0;
}

static const struct body_kind dns_change_kind = {
    .required = BIT(DNS_CHANGE_OWNER) | BIT(DNS_CHANGE_SERVICE) | BIT(DNS_CHANGE_NAME) |
                BIT(DNS_CHANGE_ZONE) | BIT(DNS_CHANGE_TYPE) | BIT(DNS_CHANGE_TO) |
                BIT(DNS_CHANGE_VERDICT) | BIT(DNS_CHANGE_RESULT),
    .field = dns_change_field,
    .check = dns_change_check,
};

int proto_dns_change_decode(struct proto_dns_change *out, const uint8_t *buf, size_t len)
{
	memset(out, 0, sizeof(*out));
	return decode(&dns_change_kind, out, buf, len);
}

int proto_dns_change_encode(struct mp_buf *out, const struct proto_dns_change *in)
{
	struct writer w;
	int rc = dns_change_check(in);
	if (rc)
		return rc;
	write_begin(&w, out);
	mp_pack_bin(write_key(&w, DNS_CHANGE_OWNER), in->owner, PROTO_KEY_LEN);
	mp_pack_cstr(write_key(&w, DNS_CHANGE_SERVICE), in->service);
	mp_pack_cstr(write_key(&w, DNS_CHANGE_NAME), in->name);
	mp_pack_cstr(write_key(&w, DNS_CHANGE_ZONE), in->zone);
	msgpack_pack_uint32(write_key(&w, DNS_CHANGE_TYPE), in->rtype);
	if (in->n_from)
		write_ip_list(write_key(&w, DNS_CHANGE_FROM), in->from, in->n_from);
	write_ip_list(write_key(&w, DNS_CHANGE_TO), in->to, in->n_to);
	msgpack_pack_uint32(write_key(&w, DNS_CHANGE_VERDICT), (uint32_t)in->verdict);
	msgpack_pack_uint32(write_key(&w, DNS_CHANGE_RESULT), in->result);
	if (in->why[0])
		mp_pack_cstr(write_key(&w, DNS_CHANGE_WHY), in->why);
	if (in->at_ms)
		msgpack_pack_uint64(write_key(&w, DNS_CHANGE_AT_MS), in->at_ms);
	return write_end(&w);
}

/* ---- admission ---- */

static int admission_field(struct mp_reader *r, uint64_t key, void *body)
{
	struct proto_admission *v = body;
	switch (key) {
	case ADMISSION_SUBJECT:
		if (mp_read_bin_exact(r, v->subject, PROTO_KEY_LEN))
			return r->err;
		return key_is_zero(v->subject) ? mp_fail(r, KITH_EVALUE) : 0;
	case ADMISSION_ENDPOINT:
		return mp_read_text(r, v->endpoint, PROTO_ENDPOINT_MAX);
	}
	return FIELD_UNKNOWN;
}

static int admission_check(const void *body)
{
	const struct proto_admission *v = body;
	if (key_is_zero(v->subject))
		return KITH_EMISSING;
	if (v->endpoint[0])
		return check_uri(v->endpoint, sizeof(v->endpoint), true);
	return check_text(v->endpoint, sizeof(v->endpoint), 0);
}

static const struct body_kind admission_kind = {
    .required = BIT(ADMISSION_SUBJECT),
    .field = admission_field,
    .check = admission_check,
};

int proto_admission_decode(struct proto_admission *out, const uint8_t *buf, size_t len)
{
	memset(out, 0, sizeof(*out));
	return decode(&admission_kind, out, buf, len);
}

int proto_admission_encode(struct mp_buf *out, const struct proto_admission *in)
{
	struct writer w;
	int rc = admission_check(in);
	if (rc)
		return rc;
	write_begin(&w, out);
	mp_pack_bin(write_key(&w, ADMISSION_SUBJECT), in->subject, PROTO_KEY_LEN);
	if (in->endpoint[0])
		mp_pack_cstr(write_key(&w, ADMISSION_ENDPOINT), in->endpoint);
	return write_end(&w);
}

/* ---- service record: the details sealed to their readers ---- */

static int sealed_field(struct mp_reader *r, uint64_t key, void *body)
{
	struct proto_service_record *v = body;
	uint32_t n;

	switch (key) {
	case SEALED_INTERVAL:
		return read_u32(r, &v->interval_s);
	case SEALED_BOXES:
		if (mp_read_array(r, &n, PROTO_READERS_MAX))
			return r->err;
		for (uint32_t i = 0; i < n && !r->err; i++) {
			struct proto_sealed_box *b = &v->boxes[i];
			uint32_t items;
			if (mp_read_array(r, &items, 2) || items != 2)
				return mp_fail(r, KITH_EVALUE);
			mp_read_bin_exact(r, b->reader, PROTO_KEY_LEN);
			mp_read_bin(r, &b->box, &b->len, PROTO_SEALED_MAX);
		}
		v->n_boxes = n;
		return r->err;
	}
	return FIELD_UNKNOWN;
}

static int sealed_check(const void *body)
{
	const struct proto_service_record *v = body;

	if (v->interval_s < 1 || v->interval_s > 86400 || v->n_boxes > PROTO_READERS_MAX)
		return KITH_EVALUE;
	if (v->n_boxes == 0)
		return KITH_EMISSING;
	for (uint32_t i = 0; i < v->n_boxes; i++) {
		if (v->boxes[i].len == 0 || v->boxes[i].len > PROTO_SEALED_MAX || !v->boxes[i].box)
			return KITH_EVALUE;
		/* Sorted, so each reader has one box and lookups can stop early. */
		if (i && memcmp(v->boxes[i - 1].reader, v->boxes[i].reader, PROTO_KEY_LEN) >= 0)
			return KITH_EVALUE;
	}
	return 0;
}

static const struct body_kind sealed_kind = {
    .required = BIT(SEALED_INTERVAL) | BIT(SEALED_BOXES),
    .field = sealed_field,
    .check = sealed_check,
};

int proto_service_record_decode(struct proto_service_record *out, const uint8_t *buf, size_t len)
{
	memset(out, 0, sizeof(*out));
	return decode(&sealed_kind, out, buf, len);
}

int proto_service_record_encode(struct mp_buf *out, const struct proto_service_record *in)
{
	struct writer w;
	msgpack_packer *pk;
	int rc = sealed_check(in);

	if (rc)
		return rc;
	write_begin(&w, out);
	msgpack_pack_uint32(write_key(&w, SEALED_INTERVAL), in->interval_s);
	pk = write_key(&w, SEALED_BOXES);
	msgpack_pack_array(pk, in->n_boxes);
	for (uint32_t i = 0; i < in->n_boxes; i++) {
		msgpack_pack_array(pk, 2);
		mp_pack_bin(pk, in->boxes[i].reader, PROTO_KEY_LEN);
		mp_pack_bin(pk, in->boxes[i].box, in->boxes[i].len);
	}
	return write_end(&w);
}
