/* Unit tests of the record body codecs. */
#include <stdlib.h>
#include <string.h>

#include "proto/body.h"
#include "proto/error.h"
#include "tap.h"

/* ---- building hostile maps by hand ---- */

static struct mp_buf mb;
static msgpack_packer pk;

/* Starts a map of n entries whose first is the version key. */
static void start(uint32_t n, uint64_t version)
{
	mp_buf_free(&mb);
	mp_buf_packer(&mb, &pk);
	msgpack_pack_map(&pk, n);
	msgpack_pack_uint64(&pk, 0);
	msgpack_pack_uint64(&pk, version);
}

static void kv_uint(uint64_t key, uint64_t v)
{
	msgpack_pack_uint64(&pk, key);
	msgpack_pack_uint64(&pk, v);
}

static void kv_str(uint64_t key, const char *s)
{
	msgpack_pack_uint64(&pk, key);
	mp_pack_cstr(&pk, s);
}

static void kv_bin(uint64_t key, const uint8_t *b, size_t n)
{
	msgpack_pack_uint64(&pk, key);
	mp_pack_bin(&pk, b, n);
}

static const uint8_t key_a[PROTO_KEY_LEN] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11,
                                             12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22,
                                             23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
static const uint8_t key_zero[PROTO_KEY_LEN];

static int member_of_mb(void)
{
	static struct proto_member m;
	return proto_member_decode(&m, mb.data, mb.len);
}

static int service_of_mb(void)
{
	static struct proto_service s;
	return proto_service_decode(&s, mb.data, mb.len);
}

static int observation_of_mb(void)
{
	static struct proto_observation o;
	return proto_observation_decode(&o, mb.data, mb.len);
}

static int grant_of_mb(void)
{
	static struct proto_grant g;
	return proto_grant_decode(&g, mb.data, mb.len);
}

static int revocation_of_mb(void)
{
	static struct proto_revocation v;
	return proto_revocation_decode(&v, mb.data, mb.len);
}

static bool contains(const struct mp_buf *b, const char *s)
{
	size_t n = strlen(s);
	for (size_t i = 0; i + n <= b->len; i++)
		if (memcmp(b->data + i, s, n) == 0)
			return true;
	return false;
}

/* ---- sample bodies ---- */

static void sample_member(struct proto_member *m)
{
	memset(m, 0, sizeof(*m));
	strcpy(m->name, "Chatons de Lyon");
	m->n_endpoints = 2;
	strcpy(m->endpoints[0], "tcp://192.0.2.1:7946");
	strcpy(m->endpoints[1], "tcp://[2001:db8::1]:7946");
	m->n_contacts = 2;
	strcpy(m->contacts[0], "mailto:admin@example.org");
	strcpy(m->contacts[1], "https://ntfy.example.org/kith");
	strcpy(m->version, "kith 0.1.0");
}

static void sample_service(struct proto_service *s)
{
	memset(s, 0, sizeof(*s));
	proto_service_defaults(s);
	strcpy(s->url, "https://cloud.example.org/status.php");
	s->expect_status = 200;
	strcpy(s->expect_body, "\"installed\":true");
	s->interval_s = 60;
	s->timeout_s = 15;
	s->tls_warn_s = 0;
}

static void sample_observation(struct proto_observation *o)
{
	memset(o, 0, sizeof(*o));
	memcpy(o->owner, key_a, PROTO_KEY_LEN);
	strcpy(o->service, "cloud");
	o->status = PROTO_STATUS_DOWN;
	o->latency_ms = 1234;
	o->checked_at = 1700000000;
	strcpy(o->error, "HTTP 502");
	o->tls_expires = 1710000000;
}

static void sample_grant(struct proto_grant *g)
{
	memset(g, 0, sizeof(*g));
	memcpy(g->subject, key_a, PROTO_KEY_LEN);
	g->n_scopes = 3;
	g->scopes[0].type = PROTO_SCOPE_MONITOR;
	g->scopes[1].type = PROTO_SCOPE_BACKUP;
	g->scopes[1].quota = 50ULL << 30;
	g->scopes[2].type = PROTO_SCOPE_DNS;
	strcpy(g->scopes[2].zone, "example.org");
	g->not_before = 1700000000;
	g->sealed_len = 48;
	memset(g->sealed, 0xab, g->sealed_len);
	g->issuer_sealed_len = 48;
	memset(g->issuer_sealed, 0xcd, g->issuer_sealed_len);
}

static void sample_revocation(struct proto_revocation *v)
{
	memset(v, 0, sizeof(*v));
	v->target = PROTO_REVOKE_GRANT;
	strcpy(v->grant_id, "g-2024-0001");
	strcpy(v->reason, "partnership ended");
}

/* ---- round trips ---- */

static void test_member(void)
{
	struct mp_buf b = {0};
	struct proto_member in, out;
	sample_member(&in);
	is(proto_member_encode(&b, &in), 0, "member encodes");
	is(proto_member_decode(&out, b.data, b.len), 0, "member decodes");
	ok(memcmp(&in, &out, sizeof(in)) == 0, "member round trip");
	mp_buf_free(&b);

	memset(&in, 0, sizeof(in));
	strcpy(in.name, "x");
	is(proto_member_encode(&b, &in), 0, "minimal member encodes");
	static const uint8_t minimal[] = {0x82, 0x00, 0x01, 0x01, 0xa1, 'x'};
	ok(b.len == sizeof(minimal) && memcmp(b.data, minimal, b.len) == 0,
	   "optional member fields at their default are omitted");
	is(proto_member_decode(&out, b.data, b.len), 0, "minimal member decodes");
	ok(memcmp(&in, &out, sizeof(in)) == 0, "minimal member round trip");
	mp_buf_free(&b);

	sample_member(&in);
	in.name[0] = '\0';
	is(proto_member_encode(&b, &in), KITH_EVALUE, "encoder refuses an empty name");
	sample_member(&in);
	memset(in.name, 'n', sizeof(in.name));
	is(proto_member_encode(&b, &in), KITH_ETOOBIG, "encoder refuses an unterminated name");
	sample_member(&in);
	in.n_endpoints = PROTO_ENDPOINTS_MAX + 1;
	is(proto_member_encode(&b, &in), KITH_ETOOBIG, "encoder refuses 9 endpoints");
	sample_member(&in);
	strcpy(in.endpoints[1], "192.0.2.1:7946");
	is(proto_member_encode(&b, &in), KITH_EVALUE, "encoder refuses an endpoint without scheme");
	sample_member(&in);
	strcpy(in.contacts[0], "admin@example.org");
	is(proto_member_encode(&b, &in), KITH_EVALUE, "encoder refuses a contact without scheme");
	sample_member(&in);
	strcpy(in.version, "1.0\n");
	is(proto_member_encode(&b, &in), KITH_EVALUE, "encoder refuses a control character");
	is(b.len, 0, "refused encodes write nothing");

	start(2, 1);
	kv_uint(1, 5);
	is(member_of_mb(), KITH_ETYPE, "member name as an integer");
	start(2, 1);
	msgpack_pack_uint64(&pk, 2);
	msgpack_pack_array(&pk, PROTO_ENDPOINTS_MAX + 1);
	for (int i = 0; i < PROTO_ENDPOINTS_MAX + 1; i++)
		mp_pack_cstr(&pk, "tcp://a:1");
	is(member_of_mb(), KITH_ETOOBIG, "9 endpoints");
	start(3, 1);
	kv_str(1, "x");
	msgpack_pack_uint64(&pk, 2);
	msgpack_pack_array(&pk, 1);
	mp_pack_cstr(&pk, "tcp://a b:1");
	is(member_of_mb(), KITH_EVALUE, "endpoint with a space");
	start(3, 1);
	kv_str(1, "x");
	msgpack_pack_uint64(&pk, 3);
	msgpack_pack_array(&pk, 0);
	is(member_of_mb(), 0, "empty contact list");
	start(2, 1);
	kv_str(4, "v1");
	is(member_of_mb(), KITH_EMISSING, "member without name");
	start(2, 1);
	kv_str(1, "");
	is(member_of_mb(), KITH_EVALUE, "member with an empty name");
	char name[PROTO_MEMBER_NAME_MAX + 2];
	memset(name, 'a', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	start(2, 1);
	kv_str(1, name);
	is(member_of_mb(), KITH_ETOOBIG, "member name over 64 bytes");
}

static void test_service(void)
{
	struct mp_buf b = {0};
	struct proto_service in, out, d = {0};
	proto_service_defaults(&d);
	ok(d.interval_s == 30 && d.timeout_s == 10 && d.tls_warn_s == 14 * 86400,
	   "service defaults");
	sample_service(&in);
	is(proto_service_encode(&b, &in), 0, "service encodes");
	is(proto_service_decode(&out, b.data, b.len), 0, "service decodes");
	ok(memcmp(&in, &out, sizeof(in)) == 0, "service round trip");
	mp_buf_free(&b);

	memset(&in, 0, sizeof(in));
	proto_service_defaults(&in);
	strcpy(in.url, "https://a.example/");
	is(proto_service_encode(&b, &in), 0, "default service encodes");
	static const uint8_t exact[] = {0x82, 0x00, 0x01, 0x01, 0xb2, 'h', 't', 't',
	                                'p',  's',  ':',  '/',  '/',  'a', '.', 'e',
	                                'x',  'a',  'm',  'p',  'l',  'e', '/'};
	ok(b.len == sizeof(exact) && memcmp(b.data, exact, b.len) == 0,
	   "default service: exact bytes, defaults omitted");
	is(proto_service_decode(&out, b.data, b.len), 0, "default service decodes");
	ok(memcmp(&in, &out, sizeof(in)) == 0, "absent fields decode to their defaults");
	mp_buf_free(&b);

	struct {
		uint64_t key, value;
		int rc;
		const char *what;
	} cases[] = {
	    {2, 99, KITH_EVALUE, "expect_status 99"},
	    {2, 600, KITH_EVALUE, "expect_status 600"},
	    {2, 100, 0, "expect_status 100"},
	    {2, 599, 0, "expect_status 599"},
	    {2, (uint64_t)UINT32_MAX + 1, KITH_EVALUE, "expect_status past 32 bits"},
	    {4, 0, KITH_EVALUE, "interval 0"},
	    {4, 86401, KITH_EVALUE, "interval 86401"},
	    {4, 86400, 0, "interval 86400"},
	    {4, 9, KITH_EVALUE, "interval under the default timeout"},
	    {5, 0, KITH_EVALUE, "timeout 0"},
	    {5, 30, 0, "timeout equal to the interval"},
	    {5, 31, KITH_EVALUE, "timeout over the interval"},
	    {6, PROTO_TLS_WARN_MAX, 0, "tls_warn at its max"},
	    {6, PROTO_TLS_WARN_MAX + 1, KITH_EVALUE, "tls_warn over its max"},
	    {6, 0, 0, "tls_warn 0"},
	    {99, 12345, 0, "unknown key 99 skipped"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		start(3, 1);
		kv_str(1, "https://a.example/");
		kv_uint(cases[i].key, cases[i].value);
		is(service_of_mb(), cases[i].rc, cases[i].what);
	}
	start(3, 1);
	kv_str(1, "https://a.example/");
	msgpack_pack_uint64(&pk, 2);
	msgpack_pack_int64(&pk, -200);
	is(service_of_mb(), KITH_ETYPE, "negative expect_status");
	start(2, 1);
	kv_str(1, "not a url");
	is(service_of_mb(), KITH_EVALUE, "url without scheme");
	start(2, 1);
	kv_str(1, "https://");
	is(service_of_mb(), KITH_EVALUE, "url with nothing after the scheme");
	start(2, 1);
	kv_uint(4, 60);
	is(service_of_mb(), KITH_EMISSING, "service without url");

	sample_service(&in);
	in.timeout_s = in.interval_s + 1;
	is(proto_service_encode(&b, &in), KITH_EVALUE, "encoder refuses timeout > interval");
	sample_service(&in);
	in.expect_status = 42;
	is(proto_service_encode(&b, &in), KITH_EVALUE, "encoder refuses status 42");
	is(b.len, 0, "refused encodes write nothing");
}

static void sample_plan(struct proto_dns_plan *d)
{
	memset(d, 0, sizeof(*d));
	strcpy(d->name, "cloud.example.org");
	strcpy(d->zone, "example.org");
	d->n_primary = 2;
	d->primary[0] = (struct proto_ip){4, {192, 0, 2, 10}};
	d->primary[1] = (struct proto_ip){16, {0x20, 0x01, 0x0d, 0xb8, [15] = 1}};
	d->n_standby = 2;
	d->standby[0] = (struct proto_ip){4, {198, 51, 100, 7}};
	d->standby[1] = (struct proto_ip){16, {0x20, 0x01, 0x0d, 0xb8, [15] = 2}};
	d->ttl_s = 60;
}

/* A DNS plan travels with the service, all of it or none. */
static void test_service_dns_plan(void)
{
	struct mp_buf b = {0};
	struct proto_service in, out;

	sample_service(&in);
	sample_plan(&in.dns);
	in.dns.pin = PROTO_DNS_PIN_STANDBY;
	in.dns.owner_acts = 1;
	is(proto_service_encode(&b, &in), 0, "a service with a DNS plan encodes");
	is(proto_service_decode(&out, b.data, b.len), 0, "and decodes");
	ok(memcmp(&in, &out, sizeof(in)) == 0, "DNS plan round trip");
	mp_buf_free(&b);

#define REFUSED(stmt, what)                                                                        \
	do {                                                                                       \
		sample_service(&in);                                                               \
		sample_plan(&in.dns);                                                              \
		stmt;                                                                              \
		is(proto_service_encode(&b, &in), KITH_EVALUE, what);                              \
		mp_buf_free(&b);                                                                   \
	} while (0)
	REFUSED(strcpy(in.dns.name, "cloud.example.net"), "name outside its zone");
	REFUSED(strcpy(in.dns.name, "xexample.org"), "name ending like the zone, not in it");
	REFUSED(strcpy(in.dns.name, "Cloud.example.org"), "name not in canonical form");
	REFUSED(strcpy(in.dns.zone, "example.org."), "zone with its final dot");
	REFUSED(in.dns.zone[0] = 0, "plan without a zone");
	REFUSED(in.dns.n_standby = 0, "plan without a standby");
	REFUSED(in.dns.n_primary = 0, "plan without a primary");
	REFUSED(in.dns.n_standby = 1, "standby without IPv6 where the primary has it");
	REFUSED(in.dns.primary[0].len = 5, "address of 5 bytes");
	REFUSED(in.dns.ttl_s = 0, "TTL 0");
	REFUSED(in.dns.ttl_s = 86401, "TTL over a day");
	REFUSED(in.dns.n_primary = PROTO_DNS_ADDRS_MAX + 1, "too many primary addresses");
	REFUSED((in.dns.name[0] = 0), "zone and addresses without a name");
	REFUSED(in.dns.pin = 3, "a pin other than primary and standby");
	REFUSED(in.dns.owner_acts = 2, "owner_acts other than 0 and 1");
#undef REFUSED

	sample_service(&in);
	strcpy(in.dns.name, "example.org");
	strcpy(in.dns.zone, "example.org");
	in.dns.n_primary = in.dns.n_standby = 1;
	in.dns.primary[0] = (struct proto_ip){4, {192, 0, 2, 1}};
	in.dns.standby[0] = (struct proto_ip){4, {192, 0, 2, 2}};
	in.dns.ttl_s = 1;
	is(proto_service_encode(&b, &in), 0, "the zone's apex as the name");
	mp_buf_free(&b);

	/* Decoder: a bin of 5 bytes in the address list, an oversize list. */
	start(6, 1);
	kv_str(1, "https://a.example/");
	kv_str(7, "a.example.org");
	kv_str(8, "example.org");
	msgpack_pack_uint64(&pk, 9);
	msgpack_pack_array(&pk, 1);
	msgpack_pack_bin(&pk, 5);
	msgpack_pack_bin_body(&pk, "12345", 5);
	msgpack_pack_uint64(&pk, 10);
	msgpack_pack_array(&pk, 1);
	msgpack_pack_bin(&pk, 4);
	msgpack_pack_bin_body(&pk, "1234", 4);
	is(service_of_mb(), KITH_EVALUE, "address of 5 bytes refused by the decoder");
	start(3, 1);
	kv_str(1, "https://a.example/");
	kv_str(7, "a.example.org");
	is(service_of_mb(), KITH_EVALUE, "a name alone is not a plan");
}

/* A dns-change: one change of a failover, or a failed attempt. */
static void test_dns_change(void)
{
	struct mp_buf b = {0};
	struct proto_dns_change in = {0}, out;

	memcpy(in.owner, key_a, PROTO_KEY_LEN);
	strcpy(in.service, "cloud");
	strcpy(in.name, "cloud.example.org");
	strcpy(in.zone, "example.org");
	in.rtype = PROTO_DNS_TYPE_A;
	in.n_from = in.n_to = 1;
	in.from[0] = (struct proto_ip){4, {192, 0, 2, 10}};
	in.to[0] = (struct proto_ip){4, {198, 51, 100, 7}};
	in.verdict = PROTO_STATUS_DOWN;
	in.result = PROTO_DNS_FAILED;
	strcpy(in.why, "the server rejects the key's signature");
	in.at_ms = 1796443273757;
	is(proto_dns_change_encode(&b, &in), 0, "a dns-change encodes");
	is(proto_dns_change_decode(&out, b.data, b.len), 0, "and decodes");
	ok(memcmp(&in, &out, sizeof(in)) == 0, "dns-change round trip");
	mp_buf_free(&b);
#define REFUSED(stmt, what)                                                                        \
	do {                                                                                       \
		struct proto_dns_change v = in;                                                    \
		stmt;                                                                              \
		is(proto_dns_change_encode(&b, &v), KITH_EVALUE, what);                            \
		mp_buf_free(&b);                                                                   \
	} while (0)
	REFUSED(v.rtype = 16, "a type other than A and AAAA");
	REFUSED(v.rtype = PROTO_DNS_TYPE_AAAA, "IPv4 addresses in an AAAA change");
	REFUSED(v.n_to = 0, "nothing to set");
	REFUSED(v.result = 3, "an unknown result");
	REFUSED(v.verdict = 0, "no verdict");
	REFUSED(strcpy(v.name, "cloud.example.net"), "a name outside its zone");
	REFUSED(strcpy(v.service, "Cloud"), "a bad service name");
#undef REFUSED
	memset(in.owner, 0, PROTO_KEY_LEN);
	is(proto_dns_change_encode(&b, &in), KITH_EMISSING, "no owner");
	start(2, 1);
	kv_str(2, "cloud");
	is(proto_dns_change_decode(&out, mb.data, mb.len), KITH_EMISSING,
	   "a dns-change without its required keys");
}

static void test_observation(void)
{
	struct mp_buf b = {0};
	struct proto_observation in, out;
	sample_observation(&in);
	is(proto_observation_encode(&b, &in), 0, "observation encodes");
	is(proto_observation_decode(&out, b.data, b.len), 0, "observation decodes");
	ok(memcmp(&in, &out, sizeof(in)) == 0, "observation round trip");
	mp_buf_free(&b);

	in.latency_ms = 0, in.tls_expires = 0, in.status = PROTO_STATUS_UP;
	memset(in.error, 0, sizeof(in.error));
	is(proto_observation_encode(&b, &in), 0, "minimal observation encodes");
	ok(b.len > 0 && b.data[0] == 0x85, "optional fields omitted: 5 keys");
	is(proto_observation_decode(&out, b.data, b.len), 0, "minimal observation decodes");
	ok(memcmp(&in, &out, sizeof(in)) == 0, "minimal observation round trip");
	mp_buf_free(&b);

	/* one broken field at a time in an otherwise good observation */
	for (int k = 0; k < 9; k++) {
		static const char *const what[] = {"owner of 31 bytes",
		                                   "service 'Cloud'",
		                                   "status 0",
		                                   "status 4",
		                                   "checked_at 0",
		                                   "latency past 32 bits",
		                                   "service of 64 chars",
		                                   "service empty",
		                                   "error with a newline"};
		static const int want[] = {KITH_EVALUE,  KITH_EVALUE, KITH_EVALUE,
		                           KITH_EVALUE,  KITH_EVALUE, KITH_EVALUE,
		                           KITH_ETOOBIG, KITH_EVALUE, KITH_EVALUE};
		char long_name[PROTO_SERVICE_NAME_MAX + 2];
		memset(long_name, 'a', sizeof(long_name) - 1);
		long_name[sizeof(long_name) - 1] = '\0';
		start(7, 1);
		kv_bin(1, key_a, k == 0 ? 31 : PROTO_KEY_LEN);
		kv_str(2, k == 1 ? "Cloud" : k == 6 ? long_name : k == 7 ? "" : "cloud");
		kv_uint(3, k == 2 ? 0 : k == 3 ? 4 : 1);
		kv_uint(5, k == 4 ? 0 : 1700000000);
		kv_uint(4, k == 5 ? (uint64_t)UINT32_MAX + 1 : 10);
		kv_str(6, k == 8 ? "a\nb" : "");
		is(observation_of_mb(), want[k], what[k]);
	}
	start(4, 1);
	kv_bin(1, key_a, PROTO_KEY_LEN);
	kv_str(2, "cloud");
	kv_uint(3, 1);
	is(observation_of_mb(), KITH_EMISSING, "observation without checked_at");

	sample_observation(&in);
	strcpy(in.service, "no spaces");
	is(proto_observation_encode(&b, &in), KITH_EVALUE, "encoder refuses a bad service name");
	sample_observation(&in);
	in.status = (enum proto_status)0;
	is(proto_observation_encode(&b, &in), KITH_EVALUE, "encoder refuses status 0");
	is(b.len, 0, "refused encodes write nothing");
}

static void test_service_name(void)
{
	ok(proto_service_name_ok("cloud", 5), "cloud");
	ok(proto_service_name_ok("a-b_c.d9", 8), "a-b_c.d9");
	ok(!proto_service_name_ok("", 0), "empty");
	ok(!proto_service_name_ok("Cloud", 5), "upper case");
	ok(!proto_service_name_ok("a/b", 3), "slash");
	ok(!proto_service_name_ok("a b", 3), "space");
	char n[PROTO_SERVICE_NAME_MAX + 1];
	memset(n, 'x', sizeof(n));
	ok(proto_service_name_ok(n, PROTO_SERVICE_NAME_MAX), "63 characters");
	ok(!proto_service_name_ok(n, PROTO_SERVICE_NAME_MAX + 1), "64 characters");
}

/* A grant map with the given scope texts. */
static void grant_with_scopes(const char *const *scopes, uint32_t n)
{
	start(3, 1);
	kv_bin(1, key_a, PROTO_KEY_LEN);
	msgpack_pack_uint64(&pk, 2);
	msgpack_pack_array(&pk, n);
	for (uint32_t i = 0; i < n; i++)
		mp_pack_cstr(&pk, scopes[i]);
}

static void test_grant(void)
{
	struct mp_buf b = {0};
	struct proto_grant in, out;
	sample_grant(&in);
	is(proto_grant_encode(&b, &in), 0, "grant encodes");
	is(proto_grant_decode(&out, b.data, b.len), 0, "grant decodes");
	ok(memcmp(in.subject, out.subject, PROTO_KEY_LEN) == 0, "grant subject");
	is(out.n_scopes, 3, "grant scope count");
	ok(out.scopes[0].type == PROTO_SCOPE_MONITOR && out.scopes[1].quota == 50ULL << 30 &&
	       strcmp(out.scopes[2].zone, "example.org") == 0,
	   "grant scopes");
	ok(out.not_before == in.not_before && out.sealed_len == 48 &&
	       memcmp(out.sealed, in.sealed, 48) == 0,
	   "grant not_before and sealed");
	ok(out.issuer_sealed_len == 48 && memcmp(out.issuer_sealed, in.issuer_sealed, 48) == 0,
	   "grant's copy sealed to the issuer");
	ok(contains(&b, "backup:50G"), "scopes travel as canonical text");
	mp_buf_free(&b);
	in.sealed_len = 0;
	is(proto_grant_encode(&b, &in), KITH_EVALUE, "an issuer's copy without the subject's");
	mp_buf_free(&b);

	static const char *const ok_scopes[] = {"admit", "backup:1024", "dns:A.example."};
	grant_with_scopes(ok_scopes, 3);
	is(grant_of_mb(), 0, "scope texts parse");
	is(proto_grant_decode(&out, mb.data, mb.len), 0, "again into out");
	ok(out.scopes[1].quota == 1024 && strcmp(out.scopes[2].zone, "a.example") == 0,
	   "non-canonical scope text is read");
	static const char *const typo[] = {"monitr"};
	grant_with_scopes(typo, 1);
	is(grant_of_mb(), KITH_EVALUE, "unknown scope text");
	static const char *const twice[] = {"backup:1G", "monitor", "backup:2G"};
	grant_with_scopes(twice, 3);
	is(grant_of_mb(), KITH_EVALUE, "two backup scopes");
	static const char *const zones[] = {"dns:a.org", "dns:b.org", "dns:A.org."};
	grant_with_scopes(zones, 2);
	is(grant_of_mb(), 0, "two dns scopes for two zones");
	grant_with_scopes(zones, 3);
	is(grant_of_mb(), KITH_EVALUE, "two dns scopes for one zone");
	grant_with_scopes(NULL, 0);
	is(grant_of_mb(), KITH_EVALUE, "no scopes");
	const char *many[PROTO_SCOPES_MAX + 1];
	for (int i = 0; i <= PROTO_SCOPES_MAX; i++)
		many[i] = "monitor";
	grant_with_scopes(many, PROTO_SCOPES_MAX + 1);
	is(grant_of_mb(), KITH_ETOOBIG, "17 scopes");

	static uint8_t sealed[PROTO_SEALED_MAX + 1];
	start(4, 1);
	kv_bin(1, key_a, PROTO_KEY_LEN);
	msgpack_pack_uint64(&pk, 2);
	msgpack_pack_array(&pk, 1);
	mp_pack_cstr(&pk, "monitor");
	kv_bin(4, sealed, PROTO_SEALED_MAX + 1);
	is(grant_of_mb(), KITH_ETOOBIG, "sealed over 4096 bytes");
	start(4, 1);
	kv_bin(1, key_a, PROTO_KEY_LEN);
	msgpack_pack_uint64(&pk, 2);
	msgpack_pack_array(&pk, 1);
	mp_pack_cstr(&pk, "monitor");
	kv_bin(4, sealed, 0);
	is(grant_of_mb(), KITH_EVALUE, "empty sealed");
	start(2, 1);
	kv_bin(1, key_a, PROTO_KEY_LEN);
	is(grant_of_mb(), KITH_EMISSING, "grant without scopes");
	start(3, 1);
	kv_str(1, "subject");
	msgpack_pack_uint64(&pk, 2);
	msgpack_pack_array(&pk, 1);
	mp_pack_cstr(&pk, "monitor");
	is(grant_of_mb(), KITH_ETYPE, "subject as a string");

	sample_grant(&in);
	in.scopes[1].quota = 0;
	is(proto_grant_encode(&b, &in), KITH_EVALUE, "encoder refuses a zero quota");
	sample_grant(&in);
	strcpy(in.scopes[2].zone, "Bad_Zone");
	is(proto_grant_encode(&b, &in), KITH_EVALUE, "encoder refuses a bad zone");
	sample_grant(&in);
	memset(in.scopes[2].zone, 'a', sizeof(in.scopes[2].zone));
	is(proto_grant_encode(&b, &in), KITH_EVALUE, "encoder refuses an unterminated zone");
	sample_grant(&in);
	in.n_scopes = 0;
	is(proto_grant_encode(&b, &in), KITH_EVALUE, "encoder refuses no scopes");
	sample_grant(&in);
	in.scopes[0].type = (enum proto_scope_type)0;
	is(proto_grant_encode(&b, &in), KITH_EVALUE, "encoder refuses scope type 0");
	sample_grant(&in);
	in.sealed_len = PROTO_SEALED_MAX + 1;
	is(proto_grant_encode(&b, &in), KITH_ETOOBIG, "encoder refuses a big sealed");
	sample_grant(&in);
	in.issuer_sealed_len = PROTO_SEALED_MAX + 1;
	is(proto_grant_encode(&b, &in), KITH_ETOOBIG, "and a big issuer's copy");
	is(b.len, 0, "refused encodes write nothing");
}

static int admission_of_mb(void)
{
	static struct proto_admission v;
	return proto_admission_decode(&v, mb.data, mb.len);
}

static void test_admission(void)
{
	struct mp_buf b = {0};
	struct proto_admission in = {0}, out;

	memcpy(in.subject, key_a, PROTO_KEY_LEN);
	strcpy(in.endpoint, "tcp://partner.example:7707");
	is(proto_admission_encode(&b, &in), 0, "admission encodes");
	is(proto_admission_decode(&out, b.data, b.len), 0, "admission decodes");
	ok(memcmp(&in, &out, sizeof(in)) == 0, "admission round trip");
	mp_buf_free(&b);
	in.endpoint[0] = '\0';
	is(proto_admission_encode(&b, &in), 0, "admission without endpoint encodes");
	is(proto_admission_decode(&out, b.data, b.len), 0, "and decodes");
	ok(out.endpoint[0] == '\0', "endpoint stays empty");
	mp_buf_free(&b);
	strcpy(in.endpoint, "partner.example 7707");
	is(proto_admission_encode(&b, &in), KITH_EVALUE, "encoder refuses a bad endpoint");
	memset(&in, 0, sizeof(in));
	is(proto_admission_encode(&b, &in), KITH_EMISSING, "encoder refuses no subject");

	start(2, 1);
	kv_str(2, "tcp://a:1");
	is(admission_of_mb(), KITH_EMISSING, "no subject");
	start(2, 1);
	kv_bin(1, key_zero, PROTO_KEY_LEN);
	is(admission_of_mb(), KITH_EVALUE, "all-zero subject");
	start(2, 1);
	kv_bin(1, key_a, 31);
	is(admission_of_mb(), KITH_EVALUE, "short subject");
	start(3, 1);
	kv_bin(1, key_a, PROTO_KEY_LEN);
	kv_str(2, "no scheme");
	is(admission_of_mb(), KITH_EVALUE, "bad endpoint");
	start(3, 1);
	kv_bin(1, key_a, PROTO_KEY_LEN);
	kv_uint(9, 5);
	is(admission_of_mb(), 0, "unknown key skipped");
}

static void test_revocation(void)
{
	struct mp_buf b = {0};
	struct proto_revocation in, out;
	sample_revocation(&in);
	is(proto_revocation_encode(&b, &in), 0, "grant revocation encodes");
	is(proto_revocation_decode(&out, b.data, b.len), 0, "grant revocation decodes");
	ok(memcmp(&in, &out, sizeof(in)) == 0, "grant revocation round trip");
	mp_buf_free(&b);
	memset(&in, 0, sizeof(in));
	in.target = PROTO_REVOKE_MEMBER;
	memcpy(in.member, key_a, PROTO_KEY_LEN);
	is(proto_revocation_encode(&b, &in), 0, "member revocation encodes");
	is(proto_revocation_decode(&out, b.data, b.len), 0, "member revocation decodes");
	ok(memcmp(&in, &out, sizeof(in)) == 0, "member revocation round trip");
	mp_buf_free(&b);

	start(2, 1);
	kv_uint(1, 3);
	is(revocation_of_mb(), KITH_EVALUE, "target 3");
	start(2, 1);
	kv_uint(1, 1);
	is(revocation_of_mb(), KITH_EMISSING, "grant target without grant_id");
	start(2, 1);
	kv_uint(1, 2);
	is(revocation_of_mb(), KITH_EMISSING, "member target without member");
	start(4, 1);
	kv_uint(1, 1);
	kv_str(2, "g1");
	kv_bin(3, key_a, PROTO_KEY_LEN);
	is(revocation_of_mb(), KITH_EVALUE, "grant_id and member both");
	start(3, 1);
	kv_uint(1, 2);
	kv_str(2, "g1");
	is(revocation_of_mb(), KITH_EVALUE, "member target with a grant_id");
	start(3, 1);
	kv_uint(1, 2);
	kv_bin(3, key_zero, PROTO_KEY_LEN);
	is(revocation_of_mb(), KITH_EVALUE, "all-zero member");
	start(3, 1);
	kv_uint(1, 1);
	kv_str(2, "");
	is(revocation_of_mb(), KITH_EVALUE, "empty grant_id");
	start(2, 1);
	kv_str(2, "g1");
	is(revocation_of_mb(), KITH_EMISSING, "no target");

	sample_revocation(&in);
	memcpy(in.member, key_a, PROTO_KEY_LEN);
	is(proto_revocation_encode(&b, &in), KITH_EVALUE, "encoder refuses grant_id and member");
	sample_revocation(&in);
	in.grant_id[0] = '\0';
	is(proto_revocation_encode(&b, &in), KITH_EMISSING, "encoder refuses no grant_id");
	sample_revocation(&in);
	in.target = (enum proto_revoke_target)7;
	is(proto_revocation_encode(&b, &in), KITH_EVALUE, "encoder refuses target 7");
	is(b.len, 0, "refused encodes write nothing");
}

/* ---- rules shared by every body ---- */

static void test_structure(void)
{
	start(2, 2);
	kv_str(1, "x");
	is(member_of_mb(), KITH_EVERSION, "version 2");
	start(2, 0);
	kv_str(1, "x");
	is(member_of_mb(), KITH_EVERSION, "version 0");
	mp_buf_free(&mb);
	mp_buf_packer(&mb, &pk);
	msgpack_pack_map(&pk, 2);
	kv_uint(1, 5); /* wrong type for a v1 name: the version must win */
	kv_uint(0, 9);
	is(member_of_mb(), KITH_EVERSION, "version 9 after a field of another shape");
	mp_buf_free(&mb);
	mp_buf_packer(&mb, &pk);
	msgpack_pack_map(&pk, 1);
	kv_str(1, "x");
	is(member_of_mb(), KITH_EMISSING, "no version");
	mp_buf_free(&mb);
	mp_buf_packer(&mb, &pk);
	msgpack_pack_map(&pk, 2);
	msgpack_pack_uint64(&pk, 0);
	mp_pack_cstr(&pk, "1");
	kv_str(1, "x");
	is(member_of_mb(), KITH_ETYPE, "version as a string");

	start(3, 1);
	kv_str(1, "x");
	kv_str(1, "y");
	is(member_of_mb(), KITH_EDUPKEY, "repeated known key");
	start(3, 1);
	kv_str(1, "x");
	kv_uint(0, 1);
	is(member_of_mb(), KITH_EDUPKEY, "repeated version key");
	start(4, 1);
	kv_str(1, "x");
	kv_uint(77, 1);
	kv_str(77, "z");
	is(member_of_mb(), KITH_EDUPKEY, "repeated unknown key");

	start(3, 1);
	kv_str(1, "x");
	mp_pack_cstr(&pk, "name");
	mp_pack_cstr(&pk, "x");
	is(member_of_mb(), KITH_ETYPE, "string key");
	start(3, 1);
	kv_str(1, "x");
	msgpack_pack_int64(&pk, -1);
	msgpack_pack_nil(&pk);
	is(member_of_mb(), KITH_ETYPE, "negative key");

	mp_buf_free(&mb);
	mp_buf_packer(&mb, &pk);
	msgpack_pack_array(&pk, 2);
	kv_uint(0, 1);
	is(member_of_mb(), KITH_ETYPE, "array instead of a map");
	is(proto_member_decode(&(struct proto_member){0}, NULL, 0), KITH_ETRUNC, "empty body");

	start(3, 1);
	kv_str(1, "x");
	msgpack_pack_uint64(&pk, 1000);
	msgpack_pack_map(&pk, 3);
	msgpack_pack_float(&pk, 1.5f);
	msgpack_pack_double(&pk, 2.5);
	msgpack_pack_nil(&pk);
	msgpack_pack_ext(&pk, 5, 3);
	msgpack_pack_ext_body(&pk, "12345", 5);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_int8(&pk, -5);
	msgpack_pack_true(&pk);
	msgpack_pack_bin(&pk, 2);
	msgpack_pack_bin_body(&pk, "ab", 2);
	is(member_of_mb(), 0, "unknown key with floats, ext, nil, negatives and nesting skipped");

	/* The body map is level 1: an unknown value may nest
	 * PROTO_DEPTH_MAX - 1 more levels. */
	for (int extra = 0; extra <= 1; extra++) {
		start(3, 1);
		kv_str(1, "x");
		msgpack_pack_uint64(&pk, 50);
		for (int i = 0; i < PROTO_DEPTH_MAX - 1 + extra; i++)
			msgpack_pack_array(&pk, 1);
		msgpack_pack_nil(&pk);
		is(member_of_mb(), extra ? KITH_EDEPTH : 0,
		   extra ? "unknown value nested past PROTO_DEPTH_MAX" : "nesting at the limit");
	}

	mp_buf_free(&mb);
	mp_buf_packer(&mb, &pk);
	msgpack_pack_map(&pk, PROTO_MAP_MAX + 1);
	kv_uint(0, 1);
	kv_str(1, "x");
	for (int i = 2; i <= PROTO_MAP_MAX; i++)
		kv_uint(100 + (uint64_t)i, 0);
	is(member_of_mb(), KITH_ETOOBIG, "65 map entries");
	static const uint8_t huge_map[] = {0xdf, 0xff, 0xff, 0xff, 0xff, 0x00, 0x01};
	is(proto_member_decode(&(struct proto_member){0}, huge_map, sizeof(huge_map)), KITH_ETOOBIG,
	   "map claiming 2^32-1 entries");

	start(2, 1);
	kv_str(1, "x");
	msgpack_pack_nil(&pk);
	is(member_of_mb(), KITH_ETRAIL, "trailing byte");
	mp_buf_free(&mb);
}

/* Cuts a valid encoding at every offset; every cut must be KITH_ETRUNC. */
static int cuts_not_trunc(const struct mp_buf *b, int (*decode)(const uint8_t *, size_t))
{
	int bad = 0;
	for (size_t cut = 0; cut < b->len; cut++) {
		uint8_t *copy = malloc(cut ? cut : 1);
		memcpy(copy, b->data, cut);
		if (decode(copy, cut) != KITH_ETRUNC)
			bad++;
		free(copy);
	}
	return bad;
}

static int dec_member(const uint8_t *p, size_t n)
{
	static struct proto_member m;
	return proto_member_decode(&m, p, n);
}

static int dec_service(const uint8_t *p, size_t n)
{
	static struct proto_service s;
	return proto_service_decode(&s, p, n);
}

static int dec_observation(const uint8_t *p, size_t n)
{
	static struct proto_observation o;
	return proto_observation_decode(&o, p, n);
}

static int dec_grant(const uint8_t *p, size_t n)
{
	static struct proto_grant g;
	return proto_grant_decode(&g, p, n);
}

static int dec_revocation(const uint8_t *p, size_t n)
{
	static struct proto_revocation v;
	return proto_revocation_decode(&v, p, n);
}

static void test_truncated(void)
{
	struct mp_buf b = {0};
	struct proto_member m;
	struct proto_service s;
	struct proto_observation o;
	struct proto_grant g;
	struct proto_revocation v;
	sample_member(&m);
	proto_member_encode(&b, &m);
	is(cuts_not_trunc(&b, dec_member), 0, "member cut anywhere: KITH_ETRUNC");
	mp_buf_free(&b);
	sample_service(&s);
	proto_service_encode(&b, &s);
	is(cuts_not_trunc(&b, dec_service), 0, "service cut anywhere: KITH_ETRUNC");
	mp_buf_free(&b);
	sample_observation(&o);
	proto_observation_encode(&b, &o);
	is(cuts_not_trunc(&b, dec_observation), 0, "observation cut anywhere: KITH_ETRUNC");
	mp_buf_free(&b);
	sample_grant(&g);
	proto_grant_encode(&b, &g);
	is(cuts_not_trunc(&b, dec_grant), 0, "grant cut anywhere: KITH_ETRUNC");
	mp_buf_free(&b);
	sample_revocation(&v);
	proto_revocation_encode(&b, &v);
	is(cuts_not_trunc(&b, dec_revocation), 0, "revocation cut anywhere: KITH_ETRUNC");
	mp_buf_free(&b);
}

/* Two bodies appended to one buffer: encoders append, never overwrite. */
static void test_append(void)
{
	struct mp_buf b = {0};
	struct proto_member m;
	struct proto_revocation v;
	sample_member(&m);
	sample_revocation(&v);
	proto_member_encode(&b, &m);
	size_t first = b.len;
	is(proto_revocation_encode(&b, &v), 0, "second body appended");
	is(dec_member(b.data, first), 0, "first body intact");
	is(dec_revocation(b.data + first, b.len - first), 0, "second body decodes");
	mp_buf_free(&b);
}

int main(void)
{
	test_member();
	test_service();
	test_service_dns_plan();
	test_dns_change();
	test_observation();
	test_service_name();
	test_grant();
	test_revocation();
	test_admission();
	test_structure();
	test_truncated();
	test_append();
	return tap_done();
}
