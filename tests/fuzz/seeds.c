/* fuzz_seeds OUTDIR: writes a small valid seed corpus for every fuzz
 * target into OUTDIR/<target>/ (records signed with a freshly generated
 * identity). ctest runs it as the fuzz_seeds fixture before the replay
 * tests; tools/fuzz runs it before fuzzing. A normal program, never linked
 * with libFuzzer.
 *
 * The seeds reach every field of what each target decodes: every optional
 * key with a value off its default, an unknown key holding nested values
 * (the skip path), every scope form, every control command with its
 * arguments and requests of 15, 16 and 17 entries. A mutation away from a
 * limit is then a mutation the fuzzer can make; the libFuzzer dictionaries
 * beside (dict/) give it the tokens. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <zstd.h>

#include "backup/pack.h"
#include "backup/seal.h"
#include "backup/snapshot.h"
#include "../unit/dns_forge.h"
#include "dns/cred.h"
#include "dns/desec.h"
#include "dns/pdns.h"
#include "proto/body.h"
#include "proto/ctl.h"
#include "proto/error.h"
#include "proto/identity.h"
#include "proto/kit.h"
#include "proto/ops.h"
#include "proto/peerid.h"
#include "proto/record.h"
#include "proto/token.h"
#include "proto/wire.h"

#define ISSUED 1700000000ULL

static const char *outdir;
static struct proto_identity *id;
static int failed;

static int make_dir(const char *path)
{
	if (mkdir(path, 0755) && errno != EEXIST) {
		fprintf(stderr, "fuzz_seeds: mkdir %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* Writes OUTDIR/target/name. */
static void put(const char *target, const char *name, const void *data, size_t len)
{
	char path[4096];
	FILE *f;
	snprintf(path, sizeof(path), "%s/%s", outdir, target);
	if (make_dir(path)) {
		failed = 1;
		return;
	}
	snprintf(path, sizeof(path), "%s/%s/%s", outdir, target, name);
	f = fopen(path, "wb");
	if (!f || fwrite(data, 1, len, f) != len || fclose(f)) {
		fprintf(stderr, "fuzz_seeds: %s: %s\n", path, strerror(errno));
		failed = 1;
	}
}

/* Writes an encoded body (or reports the encoder's error) and frees it. */
static void put_buf(const char *target, const char *name, struct mp_buf *b, int rc)
{
	if (rc) {
		fprintf(stderr, "fuzz_seeds: %s/%s: %s\n", target, name, proto_strerror(rc));
		failed = 1;
	} else {
		put(target, name, b->data, b->len);
	}
	mp_buf_free(b);
}

/* Writes in[0..len), a map at offset at (0 for a body, 2 for a message
 * [type, map]), with one more entry: key 60 holding [{1: "x", 2: [nil,
 * -1, 1.5]}, bin], which decoders skip as an unknown key. */
static void put_unknown_key(const char *target, const char *name, const uint8_t *in, size_t len,
                            size_t at)
{
	struct mp_buf b = {0};
	msgpack_packer pk;
	uint32_t n;
	size_t head;

	if (len <= at || (in[at] & 0xf0) != 0x80 || in[at] == 0x8f) {
		fprintf(stderr, "fuzz_seeds: %s/%s: not a small map at %zu\n", target, name, at);
		failed = 1;
		return;
	}
	n = in[at] & 0x0f;
	head = at + 1;
	mp_buf_packer(&b, &pk);
	pk.callback(pk.data, (const char *)in, at);
	msgpack_pack_map(&pk, n + 1);
	pk.callback(pk.data, (const char *)in + head, len - head);
	msgpack_pack_uint8(&pk, 60);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_map(&pk, 2);
	msgpack_pack_uint8(&pk, 1);
	mp_pack_cstr(&pk, "x");
	msgpack_pack_uint8(&pk, 2);
	msgpack_pack_array(&pk, 3);
	msgpack_pack_nil(&pk);
	msgpack_pack_int8(&pk, -1);
	msgpack_pack_double(&pk, 1.5);
	mp_pack_bin(&pk, (const uint8_t *)"\x01\x02", 2);
	put_buf(target, name, &b, b.err);
}

/* Signs body[0..len) as a record of kind and name; writes it as a record
 * seed. */
static void put_record(const char *seed, uint8_t kind, const char *name, const uint8_t *body,
                       size_t len)
{
	struct proto_record in = {
	    .kind = kind,
	    .seq = 1,
	    .issued = ISSUED,
	    .expires = ISSUED + 86400,
	    .body = body,
	    .body_len = len,
	};
	struct mp_buf rec = {0};
	snprintf(in.name, sizeof(in.name), "%s", name);
	put_buf("record", seed, &rec, proto_record_sign(&rec, id, &in));
}

static void member_seeds(void)
{
	int rc;
	struct proto_member m = {0};
	struct mp_buf b = {0};
	strcpy(m.name, "x");
	put_buf("member", "minimal", &b, proto_member_encode(&b, &m));
	strcpy(m.name, "Chatons de Lyon");
	m.n_endpoints = 2;
	strcpy(m.endpoints[0], "tcp://192.0.2.1:7946");
	strcpy(m.endpoints[1], "tcp://[2001:db8::1]:7946");
	m.n_contacts = 1;
	strcpy(m.contacts[0], "mailto:admin@example.org");
	strcpy(m.version, "kith 0.1.0");
	rc = proto_member_encode(&b, &m);
	if (!rc) {
		put_record("member", PROTO_KIND_MEMBER, "", b.data, b.len);
		put_unknown_key("member", "unknown-key", b.data, b.len, 0);
	}
	put_buf("member", "full", &b, rc);
}

static void service_seeds(void)
{
	int rc;
	struct proto_service s = {0};
	struct mp_buf b = {0};
	proto_service_defaults(&s);
	strcpy(s.url, "https://cloud.example.org/");
	put_buf("service", "minimal", &b, proto_service_encode(&b, &s));
	s.expect_status = 200;
	strcpy(s.expect_body, "ok");
	s.interval_s = 60;
	s.timeout_s = 5;
	s.tls_warn_s = 0;
	rc = proto_service_encode(&b, &s);
	if (!rc)
		put_unknown_key("service", "unknown-key", b.data, b.len, 0);
	put_buf("service", "full", &b, rc);
	s.tls_warn_s = PROTO_TLS_WARN_MAX;
	s.interval_s = 86400;
	s.timeout_s = 300;
	put_buf("service", "limits", &b, proto_service_encode(&b, &s));
	strcpy(s.dns.name, "cloud.example.org");
	strcpy(s.dns.zone, "example.org");
	s.dns.n_primary = s.dns.n_standby = 2;
	s.dns.primary[0] = (struct proto_ip){4, {192, 0, 2, 10}};
	s.dns.primary[1] = (struct proto_ip){16, {0x20, 0x01, 0x0d, 0xb8, [15] = 1}};
	s.dns.standby[0] = (struct proto_ip){4, {198, 51, 100, 7}};
	s.dns.standby[1] = (struct proto_ip){16, {0x20, 0x01, 0x0d, 0xb8, [15] = 2}};
	s.dns.ttl_s = 60;
	put_buf("service", "dns-plan", &b, proto_service_encode(&b, &s));
}

static void service_record_seeds(void)
{
	static struct proto_service_record r;
	static const uint8_t box[80] = {1, 2, 3};
	struct mp_buf b = {0};
	int rc;

	r.interval_s = 30;
	r.n_boxes = 2;
	memset(r.boxes[0].reader, 0x11, PROTO_KEY_LEN);
	memset(r.boxes[1].reader, 0x22, PROTO_KEY_LEN);
	r.boxes[0].box = r.boxes[1].box = box;
	r.boxes[0].len = r.boxes[1].len = sizeof(box);
	rc = proto_service_record_encode(&b, &r);
	if (!rc) {
		put_record("service_record", PROTO_KIND_SERVICE, "cloud", b.data, b.len);
		put_unknown_key("service_record", "unknown-key", b.data, b.len, 0);
	}
	put_buf("service_record", "two-readers", &b, rc);
}

static void observation_seeds(void)
{
	int rc;
	struct proto_observation o = {0};
	struct mp_buf b = {0};
	memcpy(o.owner, id->pk, PROTO_KEY_LEN);
	strcpy(o.service, "cloud");
	o.status = PROTO_STATUS_UP;
	o.checked_at = ISSUED;
	put_buf("observation", "minimal", &b, proto_observation_encode(&b, &o));
	o.status = PROTO_STATUS_DOWN;
	o.latency_ms = 1500;
	strcpy(o.error, "HTTP 502");
	o.tls_expires = ISSUED + 90 * 86400;
	rc = proto_observation_encode(&b, &o);
	if (!rc) {
		put_record("observation", PROTO_KIND_OBSERVATION, "00/cloud", b.data, b.len);
		put_unknown_key("observation", "unknown-key", b.data, b.len, 0);
	}
	put_buf("observation", "full", &b, rc);
	o.standby = PROTO_STATUS_UP;
	put_buf("observation", "dns-plan", &b, proto_observation_encode(&b, &o));
}

static void grant_seeds(void)
{
	int rc;
	struct proto_grant g = {0};
	struct mp_buf b = {0};
	memcpy(g.subject, id->pk, PROTO_KEY_LEN);
	g.n_scopes = 1;
	g.scopes[0].type = PROTO_SCOPE_MONITOR;
	put_buf("grant", "minimal", &b, proto_grant_encode(&b, &g));
	g.n_scopes = 4;
	g.scopes[1].type = PROTO_SCOPE_ADMIT;
	g.scopes[2].type = PROTO_SCOPE_BACKUP;
	g.scopes[2].quota = 50ULL << 30;
	g.scopes[3].type = PROTO_SCOPE_DNS;
	strcpy(g.scopes[3].zone, "example.org");
	g.not_before = ISSUED;
	g.sealed_len = 80;
	memset(g.sealed, 0x5a, g.sealed_len);
	rc = proto_grant_encode(&b, &g);
	if (!rc) {
		put_record("grant", PROTO_KIND_GRANT, "g-1", b.data, b.len);
		put_unknown_key("grant", "unknown-key", b.data, b.len, 0);
	}
	put_buf("grant", "full", &b, rc);
	/* A backup scope with a shard count, and the largest quota. */
	g.n_scopes = 1;
	g.scopes[0] =
	    (struct proto_scope){.type = PROTO_SCOPE_BACKUP, .quota = 50ULL << 30, .count = 2000};
	g.sealed_len = 0;
	put_buf("grant", "backup-count", &b, proto_grant_encode(&b, &g));
	g.scopes[0] = (struct proto_scope){.type = PROTO_SCOPE_BACKUP, .quota = PROTO_SIZE_MAX};
	put_buf("grant", "backup-max", &b, proto_grant_encode(&b, &g));
}

static void revocation_seeds(void)
{
	int rc;
	struct proto_revocation v = {0};
	struct mp_buf b = {0};
	v.target = PROTO_REVOKE_GRANT;
	strcpy(v.grant_id, "g-1");
	put_buf("revocation", "grant", &b, proto_revocation_encode(&b, &v));
	memset(&v, 0, sizeof(v));
	v.target = PROTO_REVOKE_MEMBER;
	memcpy(v.member, id->pk, PROTO_KEY_LEN);
	strcpy(v.reason, "left the network");
	rc = proto_revocation_encode(&b, &v);
	if (!rc) {
		put_record("revocation", PROTO_KIND_REVOCATION, "member", b.data, b.len);
		put_unknown_key("revocation", "unknown-key", b.data, b.len, 0);
	}
	put_buf("revocation", "member", &b, rc);
}

static void admission_seeds(void)
{
	int rc;
	struct proto_admission v = {0};
	struct mp_buf b = {0};
	memcpy(v.subject, id->pk, PROTO_KEY_LEN);
	put_buf("admission", "bare", &b, proto_admission_encode(&b, &v));
	strcpy(v.endpoint, "tcp://partner.example:7707");
	rc = proto_admission_encode(&b, &v);
	if (!rc) {
		put_record("admission", PROTO_KIND_ADMISSION, "subject", b.data, b.len);
		put_unknown_key("admission", "unknown-key", b.data, b.len, 0);
	}
	put_buf("admission", "endpoint", &b, rc);
}

static void dns_change_seeds(void)
{
	int rc;
	struct proto_dns_change v = {0};
	struct mp_buf b = {0};
	memcpy(v.owner, id->pk, PROTO_KEY_LEN);
	strcpy(v.service, "cloud");
	strcpy(v.name, "cloud.example.org");
	strcpy(v.zone, "example.org");
	v.rtype = PROTO_DNS_TYPE_A;
	v.n_from = v.n_to = 1;
	v.from[0] = (struct proto_ip){4, {192, 0, 2, 10}};
	v.to[0] = (struct proto_ip){4, {198, 51, 100, 7}};
	v.verdict = PROTO_STATUS_DOWN;
	v.result = PROTO_DNS_CHANGED;
	rc = proto_dns_change_encode(&b, &v);
	if (!rc) {
		put_record("dns_change", PROTO_KIND_DNS_CHANGE, "00/cloud/1/A", b.data, b.len);
		put_unknown_key("dns_change", "unknown-key", b.data, b.len, 0);
	}
	put_buf("dns_change", "changed", &b, rc);
	v.rtype = PROTO_DNS_TYPE_AAAA;
	v.n_from = 0;
	v.to[0] = (struct proto_ip){16, {0x20, 0x01, 0x0d, 0xb8, [15] = 2}};
	v.verdict = PROTO_STATUS_UP;
	v.result = PROTO_DNS_FAILED;
	strcpy(v.why, "the server rejects the key's signature");
	put_buf("dns_change", "failed", &b, proto_dns_change_encode(&b, &v));
}

static void record_seeds(void)
{
	static const uint8_t opaque[] = {0x81, 0x00, 0x01};
	put_record("tombstone", PROTO_KIND_SERVICE, "cloud", NULL, 0);
	put_record("unknown-kind", 200, "future", opaque, sizeof(opaque));
}

/* Agent messages: every probe type, with signed and unsigned updates. */
static void probe_seeds(void)
{
	static const uint8_t types[] = {PROTO_MSG_PING, PROTO_MSG_ACK, PROTO_MSG_PING_REQ,
	                                PROTO_MSG_NACK, PROTO_MSG_GOSSIP};
	static const char *const names[] = {"ping", "ack", "ping-req", "nack", "gossip"};
	static struct proto_probe p;
	struct mp_buf b = {0};
	p.seq = 1;
	put_buf("probe", "bare-ping", &b, proto_probe_encode(&b, PROTO_MSG_PING, &p));
	p.seq = 4000000000u;
	memset(p.target, 0x42, PROTO_KEY_LEN);
	p.n_updates = 4;
	for (uint32_t i = 0; i < p.n_updates; i++) {
		struct proto_update *u = &p.updates[i];
		u->state = (enum proto_member_state)(i + 1);
		u->incarnation = 7 + i;
		if (u->state == PROTO_STATE_ALIVE || u->state == PROTO_STATE_LEFT) {
			if (proto_update_sign(u, id))
				failed = 1;
		} else {
			memset(u->peer, 0x50 + (int)i, PROTO_KEY_LEN);
			memcpy(u->accuser, id->pk, PROTO_KEY_LEN);
		}
	}
	for (size_t i = 0; i < sizeof(types); i++) {
		p.has_target = types[i] == PROTO_MSG_PING || types[i] == PROTO_MSG_PING_REQ;
		int rc = proto_probe_encode(&b, types[i], &p);
		if (!rc && i == 0)
			put_unknown_key("probe", "ping-unknown-key", b.data, b.len, 2);
		put_buf("probe", names[i], &b, rc);
	}
	/* GOSSIP without seq: the key is optional there. */
	p.seq = 0;
	p.has_target = false;
	put_buf("probe", "gossip-no-seq", &b, proto_probe_encode(&b, PROTO_MSG_GOSSIP, &p));
}

static void sync_seeds(void)
{
	struct proto_head h[3];
	struct mp_buf b = {0};
	put_buf("sync", "empty", &b, proto_sync_encode(&b, false, NULL, 0));
	for (size_t i = 0; i < 3; i++) {
		memset(h[i].author, 0x10 * (int)(i + 1), PROTO_KEY_LEN);
		h[i].seq = i ? 1000 * i : 1;
	}
	put_buf("sync", "reply", &b, proto_sync_encode(&b, true, h, 3));
	int rc = proto_sync_encode(&b, false, h, 2);
	if (!rc)
		put_unknown_key("sync", "unknown-key", b.data, b.len, 2);
	put_buf("sync", "no-reply", &b, rc);
	uint8_t sum[PROTO_SUMMARY_LEN];
	memset(sum, 0x5a, sizeof(sum));
	put_buf("sync", "summary", &b, proto_summary_encode(&b, sum));
}

/* Records signed by id in two blocks, as a receiver would apply them. */
static void records_seeds(void)
{
	struct mp_buf rec[3] = {{0}}, b = {0};
	struct proto_recref refs[3];
	struct proto_block blocks[2] = {{.after = 0, .first = 0, .n_records = 2},
	                                {.after = 2, .first = 2, .n_records = 1}};
	put_buf("records", "empty", &b, proto_records_encode(&b, NULL, 0, NULL));
	for (size_t i = 0; i < 3; i++) {
		struct proto_record in = {
		    .kind = PROTO_KIND_SERVICE,
		    .seq = i + 1,
		    .issued = ISSUED,
		    .expires = ISSUED + 86400,
		};
		snprintf(in.name, sizeof(in.name), "svc-%zu", i);
		if (proto_record_sign(&rec[i], id, &in))
			failed = 1;
		refs[i] = (struct proto_recref){rec[i].data, rec[i].len};
	}
	memcpy(blocks[0].author, id->pk, PROTO_KEY_LEN);
	memcpy(blocks[1].author, id->pk, PROTO_KEY_LEN);
	if (!failed) {
		struct proto_block empty_first[2] = {{.after = 7, .first = 0, .n_records = 0},
		                                     {.after = 0, .first = 0, .n_records = 3}};
		int rc;
		memcpy(empty_first[0].author, id->pk, PROTO_KEY_LEN);
		memcpy(empty_first[1].author, id->pk, PROTO_KEY_LEN);
		empty_first[0].author[0] ^= 1;
		put_buf("records", "one-block", &b, proto_records_encode(&b, blocks, 1, refs));
		rc = proto_records_encode(&b, blocks, 2, refs);
		if (!rc)
			put_unknown_key("records", "unknown-key", b.data, b.len, 2);
		put_buf("records", "two-blocks", &b, rc);
		put_buf("records", "empty-block", &b,
		        proto_records_encode(&b, empty_first, 2, refs));
	}
	for (size_t i = 0; i < 3; i++)
		mp_buf_free(&rec[i]);
}

/* The payload inside a token text: base32 after the prefix, without the
 * 4-byte checksum. fuzz_token wraps each input into a text with a good
 * checksum, so these reach the payload decoder directly. */
static void put_token_payload(const char *name, const char *text)
{
	static uint8_t bytes[PROTO_TOKEN_TEXT_MAX];
	const char *c = text + strlen(PROTO_TOKEN_PREFIX);
	unsigned acc = 0, bits = 0;
	size_t n = 0;

	for (; *c; c++) {
		const char *at = strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", *c);
		if (!at) {
			failed = 1;
			return;
		}
		acc = (acc << 5 | (unsigned)(at - "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")) & 0xfff;
		bits += 5;
		if (bits >= 8) {
			bits -= 8;
			bytes[n++] = (uint8_t)(acc >> bits);
		}
	}
	if (n < 4) {
		failed = 1;
		return;
	}
	put("token", name, bytes, n - 4);
}

/* Invitations: a full one, a bare one, and the full one wrapped in lower
 * case as a mail client leaves it; and their payloads. */
static void token_seeds(void)
{
	static struct proto_token t;
	static char text[PROTO_TOKEN_TEXT_MAX + 1], wrapped[2 * PROTO_TOKEN_TEXT_MAX];
	size_t o = 0;
	memcpy(t.founder, id->pk, PROTO_KEY_LEN);
	memcpy(t.issuer, id->pk, PROTO_KEY_LEN);
	t.n_endpoints = 1;
	strcpy(t.endpoints[0], "tcp://a.example:7707");
	memset(t.secret, 0x5e, PROTO_TOKEN_SECRET_LEN);
	t.expires = ISSUED + 86400;
	if (proto_token_format(&t, text, sizeof(text)) == 0) {
		put("token", "bare", text, strlen(text));
		put_token_payload("payload-bare", text);
	} else {
		failed = 1;
	}
	t.n_endpoints = 2;
	strcpy(t.endpoints[1], "tcp://[2001:db8::7]:7707");
	t.n_scopes = 4;
	t.scopes[0].type = PROTO_SCOPE_MONITOR;
	t.scopes[1].type = PROTO_SCOPE_ADMIT;
	t.scopes[2].type = PROTO_SCOPE_BACKUP;
	t.scopes[2].quota = 50ULL << 30;
	t.scopes[2].count = 2000;
	t.scopes[3].type = PROTO_SCOPE_DNS;
	strcpy(t.scopes[3].zone, "example.org");
	if (proto_token_format(&t, text, sizeof(text))) {
		failed = 1;
		return;
	}
	put("token", "full", text, strlen(text));
	put_token_payload("payload-full", text);
	for (size_t i = 0; text[i]; i++) {
		if (i && i % 60 == 0)
			wrapped[o++] = '\n';
		wrapped[o++] =
		    text[i] >= 'A' && text[i] <= 'Z' ? (char)(text[i] - 'A' + 'a') : text[i];
	}
	put("token", "wrapped", wrapped, o);
}

/* JOIN by invitation and by ID; JOIN_REPLY welcome with records, and a
 * refusal. */
static void join_seeds(void)
{
	struct mp_buf rec[2] = {{0}}, b = {0};
	struct proto_recref refs[2];
	struct proto_join j = {0};
	struct proto_join_reply r = {0};
	int rc;
	for (size_t i = 0; i < 2; i++) {
		struct proto_record in = {
		    .kind = PROTO_KIND_MEMBER,
		    .seq = i + 1,
		    .issued = ISSUED,
		    .expires = ISSUED + 86400,
		};
		if (proto_record_sign(&rec[i], id, &in))
			failed = 1;
		refs[i] = (struct proto_recref){rec[i].data, rec[i].len};
	}
	if (failed)
		goto cleanup;
	j.member_record = rec[0].data;
	j.member_record_len = rec[0].len;
	put_buf("join", "by-id", &b, proto_join_encode(&b, &j));
	j.has_invite = true;
	memset(j.invite_id, 0x1d, PROTO_INVITE_ID_LEN);
	memset(j.proof, 0x9f, PROTO_PROOF_LEN);
	rc = proto_join_encode(&b, &j);
	if (!rc)
		put_unknown_key("join", "invited-unknown-key", b.data, b.len, 2);
	put_buf("join", "invited", &b, rc);
	r.status = PROTO_JOIN_OK;
	memcpy(r.founder, id->pk, PROTO_KEY_LEN);
	rc = proto_join_reply_encode(&b, &r, refs, 2);
	if (!rc)
		put_unknown_key("join", "welcome-unknown-key", b.data, b.len, 2);
	put_buf("join", "welcome", &b, rc);
	r.status = PROTO_JOIN_REFUSED;
	strcpy(r.reason, "invitation expired");
	put_buf("join", "refused", &b, proto_join_reply_encode(&b, &r, NULL, 0));
cleanup:
	for (size_t i = 0; i < 2; i++)
		mp_buf_free(&rec[i]);
}

/* REQUEST with and without args; RESPONSE with a result and a refusal. */
static void request_seeds(void)
{
	static const uint8_t args[] = {0x82, 0x01, 0xa3, 's',  '-', '1',
	                               0x02, 0xc4, 0x02, 0xab, 0xcd};
	static const uint8_t result[] = {0x82, 0x01, 0xcd, 0x04, 0x00, 0x02,
	                                 0xce, 0x00, 0x10, 0x00, 0x00};
	struct proto_request q = {
	    .id = 1, .op = PROTO_OP_SHARD_PUT, .args = args, .args_len = sizeof(args)};
	struct proto_response a = {.id = 1, .result = result, .result_len = sizeof(result)};
	struct mp_buf b = {0};
	int rc = proto_request_encode(&b, &q);
	if (!rc)
		put_unknown_key("request", "shard-put-unknown-key", b.data, b.len, 2);
	put_buf("request", "shard-put", &b, rc);
	q = (struct proto_request){.id = 4000000000u, .op = PROTO_OP_SERVICES_GET};
	put_buf("request", "services-get", &b, proto_request_encode(&b, &q));
	rc = proto_response_encode(&b, &a);
	if (!rc)
		put_unknown_key("request", "usage-unknown-key", b.data, b.len, 2);
	put_buf("request", "usage", &b, rc);
	a = (struct proto_response){
	    .id = 2, .status = PROTO_RESPONSE_REFUSED, .reason = "no grant of backup"};
	put_buf("request", "refused", &b, proto_response_encode(&b, &a));
}

static void ops_seeds(void)
{
	static const uint8_t data[] = "encrypted shard bytes";
	static struct proto_service_entry e[2];
	struct proto_shard s = {.data = data, .len = sizeof(data), .has_data = true};
	struct proto_usage u = {1024, 50ULL << 30};
	struct mp_buf b = {0};
	int rc;
	strcpy(s.name, "2024-06-01/seg-0007.k3");
	rc = proto_shard_encode(&b, &s);
	if (!rc)
		put_unknown_key("ops", "shard-put-unknown-key", b.data, b.len, 0);
	put_buf("ops", "shard-put", &b, rc);
	s.has_data = false;
	put_buf("ops", "shard-get", &b, proto_shard_encode(&b, &s));
	rc = proto_usage_encode(&b, &u);
	if (!rc)
		put_unknown_key("ops", "usage-unknown-key", b.data, b.len, 0);
	put_buf("ops", "usage", &b, rc);
	s.has_data = true;
	s.len = 0;
	put_buf("ops", "shard-empty", &b, proto_shard_encode(&b, &s));
	for (int i = 0; i < 2; i++) {
		proto_service_defaults(&e[i].spec);
		snprintf(e[i].name, sizeof(e[i].name), "svc-%d", i);
		snprintf(e[i].spec.url, sizeof(e[i].spec.url), "https://s%d.example.org/", i);
	}
	e[1].spec.expect_status = 204;
	strcpy(e[1].spec.expect_body, "ok");
	rc = proto_services_encode(&b, e, 2);
	if (!rc)
		put_unknown_key("ops", "services-unknown-key", b.data, b.len, 0);
	put_buf("ops", "services", &b, rc);
	put_buf("ops", "no-services", &b, proto_services_encode(&b, NULL, 0));

	/* hold.* args and results */
	static struct proto_hold_list l;
	static const uint8_t piece[] = "a piece of a sealed pack shard";
	static const uint8_t owner[PROTO_KEY_LEN] = {0x42};
	struct proto_hold_open ho = {.name = "p-0007.s3", .size = 5ULL << 30 >> 1};
	struct proto_hold_write hw = {
	    .name = "p-0007.s3", .offset = 262144, .data = piece, .len = sizeof(piece)};
	struct proto_hold_written hn = {.written = 262144 + sizeof(piece)};
	struct proto_hold_name nm = {.name = "p-0007.s3"};
	struct proto_hold_receipt rc_ = {0};
	struct proto_hold_read hr = {.name = "p-0007.s3", .offset = 1 << 20, .len = 262144};
	struct proto_hold_data hd = {.data = piece, .len = sizeof(piece), .size = 1ULL << 32};
	struct proto_hold_list_args la = {.after = "p-0006.s1", .has_after = true};
	memset(ho.hash, 0xa5, sizeof(ho.hash));
	rc = proto_hold_open_encode(&b, &ho);
	if (!rc)
		put_unknown_key("ops", "hold-open-unknown-key", b.data, b.len, 0);
	put_buf("ops", "hold-open", &b, rc);
	memset(ho.name, 'z', PROTO_HOLD_NAME_MAX);
	ho.name[PROTO_HOLD_NAME_MAX] = '\0';
	ho.size = PROTO_HOLD_SIZE_MAX;
	put_buf("ops", "hold-open-max", &b, proto_hold_open_encode(&b, &ho));
	rc = proto_hold_write_encode(&b, &hw);
	if (!rc)
		put_unknown_key("ops", "hold-write-unknown-key", b.data, b.len, 0);
	put_buf("ops", "hold-write", &b, rc);
	put_buf("ops", "hold-written", &b, proto_hold_written_encode(&b, &hn));
	put_buf("ops", "hold-name", &b, proto_hold_name_encode(&b, &nm));
	rc = proto_hold_receipt_sign(&rc_, id, owner, nm.name, ho.size, ho.hash, ISSUED);
	if (!rc)
		rc = proto_hold_receipt_encode(&b, &rc_);
	put_buf("ops", "hold-receipt", &b, rc);
	rc = proto_hold_read_encode(&b, &hr);
	if (!rc)
		put_unknown_key("ops", "hold-read-unknown-key", b.data, b.len, 0);
	put_buf("ops", "hold-read", &b, rc);
	put_buf("ops", "hold-data", &b, proto_hold_data_encode(&b, &hd));
	hd.len = 0;
	put_buf("ops", "hold-data-empty", &b, proto_hold_data_encode(&b, &hd));
	put_buf("ops", "hold-list-after", &b, proto_hold_list_args_encode(&b, &la));
	la.has_after = false;
	put_buf("ops", "hold-list-first", &b, proto_hold_list_args_encode(&b, &la));
	for (int i = 0; i < 3; i++) {
		snprintf(l.entries[i].name, sizeof(l.entries[i].name), "p-%04d.s%d", i, i);
		l.entries[i].size = (uint64_t)i << 30;
		memset(l.entries[i].hash, 0x10 + i, PROTO_HOLD_HASH_LEN);
		l.entries[i].state = (enum proto_hold_state)i;
	}
	l.n = 3;
	l.more = true;
	rc = proto_hold_list_encode(&b, &l);
	if (!rc)
		put_unknown_key("ops", "hold-list-unknown-key", b.data, b.len, 0);
	put_buf("ops", "hold-list", &b, rc);
	l.n = 0;
	l.more = false;
	put_buf("ops", "hold-list-empty", &b, proto_hold_list_encode(&b, &l));
}

static void scope_seeds(void)
{
	static const char *const scopes[] = {
	    "monitor",         "admit",
	    "backup:50G",      "backup:1536",
	    "backup:50G:2000", "backup:1024T",
	    "backup:1024T:1",  "backup:10m:999",
	    "backup:3k:1000",  "backup:7t:268435456",
	    "dns:example.org", "dns:Sub.Example.ORG.",
	    "dns:a-1.b2.c",
	};
	char name[16];
	for (size_t i = 0; i < sizeof(scopes) / sizeof(scopes[0]); i++) {
		snprintf(name, sizeof(name), "scope-%zu", i);
		put("scope", name, scopes[i], strlen(scopes[i]));
	}
}

static void peerid_seeds(void)
{
	char text[PROTO_PEERID_TEXT_LEN + 1];
	proto_peerid_format(text, id->pk);
	put("peerid", "dashed", text, strlen(text));
	for (char *c = text; *c; c++)
		if (*c >= 'A' && *c <= 'Z')
			*c = (char)(*c - 'A' + 'a');
	put("peerid", "lower", text, strlen(text));
	for (char *c = text; *c; c++)
		if (*c == '-')
			*c = ' ';
	put("peerid", "spaced", text, strlen(text));
}

static void conf_seeds(void)
{
	static const char *const texts[] = {
	    "[agent]\nlisten = tcp://127.0.0.1:7707\nadvertise = tcp://a.example:7707\n"
	    "profile = lan\nlog_level = debug\n",
	    "[membership]\nprobe_interval = 2s\nprobe_timeout = 500ms\nindirect_checks = 3\n"
	    "[gossip]\nsync_budget = 256K\n[limits]\nban_time = 5m\n",
	    "; comment\n[agent]\nprofile = wan\n",
	    /* every key of the schema (agent/core/conf.c) */
	    "[agent]\nlisten = tcp://0.0.0.0:7707\nadvertise = tcp://[2001:db8::1]:7707\n"
	    "profile = wan\nlog_level = warn\n"
	    "[membership]\nprobe_interval = 5s\nprobe_timeout = 3s\nindirect_checks = 16\n"
	    "suspicion_mult = 6\nsuspicion_max_mult = 100\ngossip_interval = 500ms\n"
	    "gossip_nodes = 64\nretransmit_mult = 4\ndead_forget = 30d\n"
	    "[gossip]\nsync_interval = 1h\nsync_budget = 64M\npush_fanout = auto\n"
	    "[limits]\nmax_message = 16M\nbad_messages = 100000\nban_time = 1d\n"
	    "guest_rate = 10000\n"
	    "[monitoring]\nquorum = 64\ndown_after = 100\nrecovery = 5m\nheartbeat = 300s\n"
	    "member_dead_alert = 10m\nmax_checks = 256\nrefuse_private = 1\n"
	    "[alerts]\nsmtp_url = smtps://mail.example.org:465\nsmtp_user = kith\n"
	    "smtp_password = secret\nsmtp_from = kith@example.org\nsmtp_tls = always\n"
	    "matrix_homeserver = https://matrix.example.org\nmatrix_token = syt_x\n"
	    "retries = 100\nretry_interval = 30s\n",
	    "[agent]\nprofile = lan\nlog_level = error\n[alerts]\nsmtp_tls = never\n"
	    "[gossip]\npush_fanout = 0\n",
	};
	char name[32];

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		snprintf(name, sizeof(name), "conf-%zu", i);
		put("conf", name, texts[i], strlen(texts[i]));
	}
}

/* Control requests (proto/ctl.h). Every argument key of the protocol,
 * with a value of its type, and "json": a key no command reads (kith's
 * --json is kith's own), which kithd must ignore. */
static const char *const ctl_keys[] = {
    CTL_KEY_ACTION,        CTL_KEY_ALL,     CTL_KEY_DATA,     CTL_KEY_ENDPOINT, CTL_KEY_EXPECT_BODY,
    CTL_KEY_EXPECT_STATUS, CTL_KEY_EXPIRES, CTL_KEY_INTERVAL, "json",           CTL_KEY_MEMBER,
    CTL_KEY_NAME,          CTL_KEY_PEER,    CTL_KEY_PEERS,    CTL_KEY_REASON,   CTL_KEY_RECORD,
    CTL_KEY_SCOPES,        CTL_KEY_SECRET,  CTL_KEY_TARGET,   CTL_KEY_TIMEOUT,  CTL_KEY_TLS_WARN,
    CTL_KEY_TOKEN,         CTL_KEY_URI,     CTL_KEY_URL,      CTL_KEY_USES,     CTL_KEY_ZONE,
};
#define CTL_PEER "AAAQEAY-EAUDAOC-CAJBIFQ-YDIOB4V-IBCEQTC-QKRMFYY-YDENBWH-A5DYPQI"

static bool key_is(const char *key, const char *const *set)
{
	for (; *set; set++)
		if (!strcmp(key, *set))
			return true;
	return false;
}

/* Packs key into m with a value of the type the agent expects for it. */
static void ctl_value(struct mp_map *m, const char *key)
{
	static const char *const flags[] = {CTL_KEY_ALL, "json", CTL_KEY_MEMBER, NULL};
	static const char *const bins[] = {CTL_KEY_DATA, CTL_KEY_SECRET, CTL_KEY_RECORD,
	                                   CTL_KEY_PEERS, NULL};
	static const char *const peers[] = {CTL_KEY_PEER, CTL_KEY_TARGET, NULL};
	static const char *const durations[] = {CTL_KEY_EXPIRES, CTL_KEY_INTERVAL, CTL_KEY_TIMEOUT,
	                                        CTL_KEY_TLS_WARN, NULL};
	static const char *const urls[] = {CTL_KEY_URL, CTL_KEY_ENDPOINT, CTL_KEY_URI, NULL};

	if (key_is(key, flags))
		mp_map_bool(m, key, true);
	else if (!strcmp(key, CTL_KEY_USES))
		mp_map_uint(m, key, 1000);
	else if (!strcmp(key, CTL_KEY_EXPECT_STATUS))
		mp_map_uint(m, key, 204);
	else if (key_is(key, bins))
		mp_map_bin(m, key, (const uint8_t *)"\x00\x01\x02\x03", 4);
	else if (key_is(key, peers))
		mp_map_str(m, key, CTL_PEER);
	else if (key_is(key, durations))
		mp_map_str(m, key, "30s");
	else if (!strcmp(key, CTL_KEY_SCOPES))
		mp_map_str(m, key, "monitor,backup:50G:2000,dns:example.org");
	else if (key_is(key, urls))
		mp_map_str(m, key, "https://cloud.example.org/");
	else
		mp_map_str(m, key, "x");
}

/* One request: cmd first, then the keys listed (NULL-terminated). */
static void ctl_request(const char *seed, const char *cmd, const char *const *keys)
{
	struct mp_buf b = {0};
	msgpack_packer pk;
	struct mp_map m;

	mp_map_begin(&m);
	mp_map_str(&m, CTL_KEY_CMD, cmd);
	for (size_t i = 0; keys[i]; i++)
		ctl_value(&m, keys[i]);
	mp_buf_packer(&b, &pk);
	mp_map_end(&m, &pk);
	put_buf("ctl", seed, &b, b.err);
}

/* A map of n_entries: n_entries - 1 arguments and cmd at place cmd_at
 * (so with 17 entries the decoder's limit is met exactly), values of
 * every type and size class: fixstr, str8, str16, positive fixint, uint8
 * to uint64, true, false, bin8, bin16. The map is counted by hand on
 * purpose: its size is what these seeds are about. */
static void ctl_wide(const char *seed, uint32_t n_entries, uint32_t cmd_at)
{
	static uint8_t blob[70000];
	static char text[300];
	struct mp_buf b = {0};
	msgpack_packer pk;

	memset(text, 'a', sizeof(text) - 1);
	mp_buf_packer(&b, &pk);
	msgpack_pack_map(&pk, n_entries);
	for (uint32_t i = 0, arg = 0; i < n_entries; i++) {
		if (i == cmd_at) {
			mp_pack_cstr(&pk, CTL_KEY_CMD);
			mp_pack_cstr(&pk, CTL_CMD_SERVICE_ADD);
			continue;
		}
		mp_pack_cstr(&pk, ctl_keys[arg % (sizeof(ctl_keys) / sizeof(ctl_keys[0]))]);
		switch (arg++ % 10) {
		case 0:
			mp_pack_cstr(&pk, "short");
			break;
		case 1:
			mp_pack_str(&pk, text, 40); /* str8 */
			break;
		case 2:
			mp_pack_str(&pk, text, sizeof(text) - 1); /* str16 */
			break;
		case 3:
			msgpack_pack_uint64(&pk, 7);
			break;
		case 4:
			msgpack_pack_uint64(&pk, 200);
			break;
		case 5:
			msgpack_pack_uint64(&pk, 70000);
			break;
		case 6:
			msgpack_pack_uint64(&pk, 1ULL << 40);
			break;
		case 7:
			msgpack_pack_false(&pk);
			break;
		case 8:
			mp_pack_bin(&pk, blob, 16);
			break;
		default:
			mp_pack_bin(&pk, blob, 300); /* bin16 */
			break;
		}
	}
	put_buf("ctl", seed, &b, b.err);
}

/* kith admit with a list (CTL_KEY_PEERS): three peers, one without an
 * endpoint; and one with the same peer twice, which must be refused. */
static void ctl_admit_list(const char *seed, bool twice)
{
	struct ctl_admit_entry e[3] = {
	    {{0}, "tcp://10.0.0.1:7707"}, {{0}, ""}, {{0}, "tcp://[2001:db8::1]:7707"}};
	struct mp_buf list = {0}, b = {0};
	msgpack_packer pk;
	struct mp_map m;

	for (size_t i = 0; i < 3; i++)
		for (size_t j = 0; j < PROTO_KEY_LEN; j++)
			e[i].peer[j] = (uint8_t)(twice && i == 2 ? j : i * 64 + j);
	ctl_admit_list_encode(&list, e, 3);
	mp_map_begin(&m);
	mp_map_str(&m, CTL_KEY_CMD, CTL_CMD_ADMIT);
	mp_map_bin(&m, CTL_KEY_PEERS, list.data, list.len);
	mp_buf_packer(&b, &pk);
	mp_map_end(&m, &pk);
	put_buf("ctl", seed, &b, b.err ? b.err : list.err);
	mp_buf_free(&list);
}

static void ctl_admit_seeds(void)
{
	ctl_admit_list("admit-list", false);
	ctl_admit_list("admit-list-twice", true);
}

static void ctl_seeds(void)
{
	static const char *const none[] = {NULL};
	static const char *const peer[] = {CTL_KEY_PEER, NULL};
	static const char *const admit[] = {CTL_KEY_PEER, CTL_KEY_ENDPOINT, NULL};
	static const char *const invite[] = {CTL_KEY_USES, CTL_KEY_SCOPES, CTL_KEY_EXPIRES, "json",
	                                     NULL};
	static const char *const join_token[] = {CTL_KEY_TOKEN, NULL};
	static const char *const join_peer[] = {CTL_KEY_PEER, CTL_KEY_ENDPOINT, NULL};
	static const char *const grant[] = {CTL_KEY_PEER, CTL_KEY_SCOPES, CTL_KEY_EXPIRES,
	                                    CTL_KEY_SECRET, NULL};
	static const char *const grants[] = {CTL_KEY_ALL, NULL};
	static const char *const revoke[] = {CTL_KEY_TARGET, CTL_KEY_MEMBER, CTL_KEY_REASON, NULL};
	static const char *const dns[] = {CTL_KEY_PEER, CTL_KEY_ZONE, NULL};
	static const char *const shard[] = {CTL_KEY_ACTION, CTL_KEY_PEER, CTL_KEY_NAME,
	                                    CTL_KEY_DATA, NULL};
	static const char *const service_add[] = {
	    CTL_KEY_NAME,     CTL_KEY_URL,     CTL_KEY_EXPECT_STATUS, CTL_KEY_EXPECT_BODY,
	    CTL_KEY_INTERVAL, CTL_KEY_TIMEOUT, CTL_KEY_TLS_WARN,      NULL};
	static const char *const name[] = {CTL_KEY_NAME, NULL};
	static const char *const contact[] = {CTL_KEY_ACTION, CTL_KEY_URI, NULL};
	static const char *const record[] = {CTL_KEY_RECORD, NULL};
	struct mp_buf b = {0};
	msgpack_packer pk;

	ctl_request("status", CTL_CMD_STATUS, none);
	ctl_request("members", CTL_CMD_MEMBERS, none);
	ctl_request("admit", CTL_CMD_ADMIT, peer);
	ctl_request("admit-endpoint", CTL_CMD_ADMIT, admit);
	ctl_request("invite", CTL_CMD_INVITE, invite);
	ctl_request("join-token", CTL_CMD_JOIN, join_token);
	ctl_request("join-peer", CTL_CMD_JOIN, join_peer);
	ctl_request("grant", CTL_CMD_GRANT, grant);
	ctl_request("grants", CTL_CMD_GRANTS, grants);
	ctl_request("revoke", CTL_CMD_REVOKE, revoke);
	ctl_request("dns-check", CTL_CMD_DNS_CHECK, dns);
	ctl_request("shard", CTL_CMD_SHARD, shard);
	ctl_request("shard-drop", CTL_CMD_SHARD_DROP, peer);
	ctl_request("services", CTL_CMD_SERVICES, peer);
	ctl_request("service-add", CTL_CMD_SERVICE_ADD, service_add);
	ctl_request("service-rm", CTL_CMD_SERVICE_RM, name);
	ctl_request("service-ls", CTL_CMD_SERVICE_LS, none);
	ctl_request("health", CTL_CMD_HEALTH, none);
	ctl_request("contact", CTL_CMD_CONTACT, contact);
	ctl_request("record-import", CTL_CMD_RECORD_IMPORT, record);
	/* Maps of 15, 16 and 17 entries, cmd first, in the middle and last:
	 * 17 is the most the decoder takes (cmd and 16 arguments). */
	ctl_wide("wide-15", 15, 0);
	ctl_wide("wide-16", 16, 8);
	ctl_wide("wide-17-cmd-first", 17, 0);
	ctl_wide("wide-17-cmd-middle", 17, 8);
	ctl_wide("wide-17-cmd-last", 17, 16);
	/* bin32: a shard argument over 64 KiB. */
	mp_buf_packer(&b, &pk);
	msgpack_pack_map(&pk, 2);
	mp_pack_cstr(&pk, CTL_KEY_CMD);
	mp_pack_cstr(&pk, CTL_CMD_SHARD);
	mp_pack_cstr(&pk, CTL_KEY_DATA);
	{
		static uint8_t big[70000];
		mp_pack_bin(&pk, big, sizeof(big));
	}
	put_buf("ctl", "bin32", &b, b.err);
	ctl_admit_seeds();
}

/* Sealed chunks (fuzz_seal.c): with the target's fixed keys, a chunk
 * sealed by seal_chunk() that opens as the ID asked for, and the two
 * payload forms (way 2 of the target) that open: raw and one zstd frame;
 * then a frame declaring more than the target's CHUNK_MAX. The constants
 * repeat fuzz_seal.c's. */
static void seal_seeds(void)
{
	static const char text[] =
	    "kith fuzz seal, kith fuzz seal, kith fuzz seal, kith fuzz seal.\n";
	const size_t len = sizeof(text) - 1;
	static uint8_t buf[8192], zeros[8192];
	struct backup_keys keys;
	struct seal *s = NULL;
	uint8_t chunk_id[SEAL_ID_LEN];
	size_t n;

	memset(keys.chunk_id, 0x11, sizeof(keys.chunk_id));
	memset(keys.chunk, 0x22, sizeof(keys.chunk));
	seal_chunk_id(chunk_id, &keys, (const uint8_t *)text, len);
	if (seal_new(&s, 4096) ||
	    seal_chunk(s, &keys, 3, chunk_id, (const uint8_t *)text, len, buf, sizeof(buf), &n))
		failed = 1;
	else
		put("seal", "sealed", buf, n);
	seal_free(&s);
	buf[0] = 0;
	memcpy(buf + 1, text, len);
	put("seal", "payload-raw", buf, len + 1);
	buf[0] = SEAL_FLAG_ZSTD;
	n = ZSTD_compress(buf + 1, sizeof(buf) - 1, text, len, 3);
	if (ZSTD_isError(n))
		failed = 1;
	else
		put("seal", "payload-zstd", buf, n + 1);
	n = ZSTD_compress(buf + 1, sizeof(buf) - 1, zeros, sizeof(zeros), 19);
	if (ZSTD_isError(n))
		failed = 1;
	else
		put("seal", "payload-bomb", buf, n + 1);
}

/* Packs (fuzz_pack.c), with the target's fixed index key (0x33): a data
 * pack and an index pack made by pack_writer from a few chunks (way 1);
 * wrapped inputs (way 2: kind, chunk area length u16 LE, table
 * plaintext) whose table opens, and one listing an ID twice; and a
 * recipe of chunk lengths for the writer (way 3). The sealed chunks are
 * filler: only the table is read. */
static void pack_seeds(void)
{
	static uint8_t sealed[SEAL_OVERHEAD + 64];
	static uint8_t wrapped[3 + 3 * PACK_ENTRY_LEN];
	struct backup_keys keys;
	struct pack_writer *w = NULL;
	const uint8_t *p;
	uint8_t chunk_id[SEAL_ID_LEN], pid[PACK_ID_LEN];
	size_t len;
	int kinds[2] = {PACK_KIND_DATA, PACK_KIND_INDEX};
	const char *names[2] = {"data", "index"};

	memset(&keys, 0, sizeof(keys));
	memset(keys.index, 0x33, sizeof(keys.index));
	memset(sealed, 0x5a, sizeof(sealed));
	for (int k = 0; k < 2; k++) {
		if (pack_writer_new(&w, kinds[k], PACK_TARGET_MIN)) {
			failed = 1;
			return;
		}
		for (int i = 0; i < 3; i++) {
			memset(chunk_id, 'a' + i, sizeof(chunk_id));
			if (pack_writer_add(w, chunk_id, sealed, SEAL_OVERHEAD + 16 * i, 16 * i))
				failed = 1;
		}
		if (pack_writer_finish(w, &keys, &p, &len, pid))
			failed = 1;
		else
			put("pack", names[k], p, len);
		pack_writer_free(&w);
	}
	/* Wrapped: kind 1, a chunk area of 42 + 50 bytes, two entries. */
	memset(wrapped, 0, sizeof(wrapped));
	wrapped[0] = PACK_KIND_DATA;
	wrapped[1] = 92;
	for (int i = 0; i < 2; i++) {
		uint8_t *e = wrapped + 3 + i * PACK_ENTRY_LEN;
		memset(e, 'a' + i, SEAL_ID_LEN);
		e[32] = i ? 42 : 0;  /* offset */
		e[36] = i ? 50 : 42; /* sealed length */
		e[40] = i ? 8 : 0;   /* plaintext length */
	}
	put("pack", "wrapped", wrapped, 3 + 2 * PACK_ENTRY_LEN);
	memset(wrapped + 3 + PACK_ENTRY_LEN, 'a', SEAL_ID_LEN);
	put("pack", "wrapped-dup", wrapped, 3 + 2 * PACK_ENTRY_LEN);
	/* Way 3: chunk lengths 42 + 37 * b, one ID repeated (0xf1, 0xf1). */
	put("pack", "recipe", "\x00\x10\xf1\x80\xf1\xff\x01", 7);
}

/* A placement with code k + m, holders distinct, fields from seed. */
static void snapshot_pack(struct snap_pack *p, unsigned k, unsigned m, unsigned seed)
{
	memset(p, 0, sizeof(*p));
	memset(p->id, (int)(0x10 + seed), sizeof(p->id));
	p->len = 4096 + seed;
	p->k = (uint8_t)k;
	p->m = (uint8_t)m;
	for (unsigned i = 0; i < k + m; i++) {
		memset(p->holder[i], (int)(0x80 + seed), PLACE_PEER_LEN);
		p->holder[i][0] = (uint8_t)i;
		memset(p->hash[i], (int)i, 32);
	}
}

/* Appends entry *e to b[*at..cap). */
static void snapshot_add(uint8_t *b, size_t cap, size_t *at, const struct snap_entry *e)
{
	size_t n;
	if (snap_entry_encode(b + *at, cap - *at, e, &n))
		failed = 1;
	else
		*at += n;
}

/* Snapshots (fuzz_snapshot.c): index streams (way 1) of pack and chunk
 * entries, a chunk naming an earlier pack, the largest code, and a pack
 * with one holder twice; root plaintexts (way 2), one with two 4+2 index
 * packs, one with a 32+16 one, and one with a byte after it. Way 3 (a
 * sealed body) is refused whatever the bytes: these reach it too. */
static void snapshot_seeds(void)
{
	static uint8_t b[4 * SNAP_ENTRY_MAX];
	static struct snap_entry e;
	static struct snap_root r;
	size_t at = 0;

	e.type = SNAP_ENTRY_PACK;
	snapshot_pack(&e.pack, 4, 2, 0);
	snapshot_add(b, sizeof(b), &at, &e);
	e.type = SNAP_ENTRY_CHUNK;
	for (uint32_t i = 0; i < 3; i++) {
		e.chunk = (struct snap_chunk){0, 1000 * i, SEAL_OVERHEAD + 100 * i, 100 * i, {0}};
		memset(e.chunk.id, (int)('a' + i), SEAL_ID_LEN);
		snapshot_add(b, sizeof(b), &at, &e);
	}
	e.type = SNAP_ENTRY_PACK;
	e.ordinal = 1;
	snapshot_pack(&e.pack, 1, 0, 1);
	snapshot_add(b, sizeof(b), &at, &e);
	e.type = SNAP_ENTRY_CHUNK;
	e.chunk = (struct snap_chunk){0, 0, SEAL_OVERHEAD, 0, {0}}; /* back to pack 0 */
	snapshot_add(b, sizeof(b), &at, &e);
	put("snapshot", "stream", b, at);
	at = 0;
	e.type = SNAP_ENTRY_PACK;
	e.ordinal = 0;
	snapshot_pack(&e.pack, ERASURE_K_MAX, ERASURE_M_MAX, 2);
	snapshot_add(b, sizeof(b), &at, &e);
	put("snapshot", "stream-32-16", b, at);
	memcpy(b + 5 + SNAP_PACK_FIXED_LEN + SNAP_SHARD_LEN, b + 5 + SNAP_PACK_FIXED_LEN,
	       PLACE_PEER_LEN);
	put("snapshot", "stream-dup", b, at);

	snprintf(r.name, sizeof(r.name), "home");
	memset(r.id, 0x5e, sizeof(r.id));
	r.time = ISSUED;
	r.size = 123456789;
	r.chunks = 3;
	r.bytes_new = 4096;
	r.n_index = 2;
	snapshot_pack(&r.index[0], 4, 2, 3);
	snapshot_pack(&r.index[1], 4, 2, 4);
	if (snap_root_encode(b, sizeof(b), &at, &r)) {
		failed = 1;
		return;
	}
	put("snapshot", "root", b, at);
	b[at] = 0;
	put("snapshot", "root-trail", b, at + 1);
	r.n_index = 1;
	snapshot_pack(&r.index[0], ERASURE_K_MAX, ERASURE_M_MAX, 5);
	if (snap_root_encode(b, sizeof(b), &at, &r))
		failed = 1;
	else
		put("snapshot", "root-32-16", b, at);
}

/* Recovery kits (fuzz_kit.c): one with two partners, one without a name
 * or partner, and one with a typo in its secret. */
static void kit_seeds(void)
{
	static struct proto_kit kit;
	static char text[PROTO_KIT_TEXT_MAX];
	int len;

	snprintf(kit.name, sizeof(kit.name), "coop-example");
	memset(kit.peer, 0x11, sizeof(kit.peer));
	memset(kit.seed, 0x22, sizeof(kit.seed));
	memset(kit.founder, 0x33, sizeof(kit.founder));
	kit.n_partners = 2;
	for (int i = 0; i < 2; i++) {
		memset(kit.partners[i].peer, 0x44 + i, PROTO_KEY_LEN);
		snprintf(kit.partners[i].endpoint, sizeof(kit.partners[i].endpoint),
		         "tcp://partner%d.example.org:7707", i);
		snprintf(kit.partners[i].name, sizeof(kit.partners[i].name), "partner %d", i);
	}
	len = proto_kit_format(&kit, text, sizeof(text));
	if (len < 0) {
		failed = 1;
		return;
	}
	put("kit", "partners", text, (size_t)len);
	text[strstr(text, "\nsecret ") - text + 9] ^= 1; /* a typo */
	put("kit", "typo", text, (size_t)len);
	kit.name[0] = '\0';
	kit.n_partners = 0;
	len = proto_kit_format(&kit, text, sizeof(text));
	if (len < 0)
		failed = 1;
	else
		put("kit", "bare", text, (size_t)len);
}

/* dns:ZONE credentials (fuzz_dns_cred.c): every key of each provider,
 * IPv4 and IPv6 servers, comments and CRLF, and one refused text. */
static void dns_cred_seeds(void)
{
	static const char *const texts[] = {
	    "provider = rfc2136\nserver = 192.0.2.53:53\nkey = kith-update\n"
	    "algorithm = hmac-sha256\nsecret = c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTEyMzQ=\n",
	    "# the zone's primary\r\nprovider=rfc2136\r\nserver=[2001:db8::53]:5353\r\n"
	    "key=kith-update.example.\r\nalgorithm=hmac-sha512\r\n"
	    "secret=WlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpa"
	    "WlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWg==\r\n",
	    "provider = pdns\nurl = http://127.0.0.1:8081/\ntoken = abc123\n"
	    "server_id = localhost\n",
	    "provider = desec\ntoken = 4b1d\nurl = https://desec.io/api/v1\n",
	    "provider = rfc2136\nserver = 192.0.2.53\nsever = 1\n",
	};
	char name[32];

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		snprintf(name, sizeof(name), "cred-%zu", i);
		put("dns_cred", name, texts[i], strlen(texts[i]));
	}
}

/* DNS replies (fuzz_dns_reply.c), with the target's constants: the fuzz
 * key and secret, the query (ID 0x4b1d) and update (0x4b1e) whose MAC is
 * 32 bytes of 0x33, signed at 1700000000. Unsigned answers to the query
 * (way 1 and, signed there, way 3), signed replies to the update (way 2):
 * NOERROR, NXRRSET, BADKEY with its empty MAC, BADTIME; and an unsigned
 * update reply for way 3. */
#define SEED_DNS_KEY "kith-fuzz"
#define SEED_DNS_SECRET "WlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlo="
#define SEED_DNS_NAME "www.example.test"

static void dns_reply_put(const char *name, struct forge *f, bool sign, uint16_t error)
{
	uint8_t mac[32];

	memset(mac, 0x33, sizeof(mac));
	if (sign && forge_tsig(f, SEED_DNS_KEY, "hmac-sha256", SEED_DNS_SECRET, mac, sizeof(mac),
	                       1700000000u, error, error == 16 || error == 17))
		failed = 1;
	if (f->overflow)
		failed = 1;
	else
		put("dns_reply", name, f->buf, f->len);
}

static void dns_reply_seeds(void)
{
	static struct forge f;
	uint8_t a[4] = {192, 0, 2, 10}, six[16] = {0x20, 0x01, 0x0d, 0xb8};

	forge_reply(&f, 0x4b1d, DNS_OPCODE_QUERY, 0, SEED_DNS_NAME, DNS_TYPE_A);
	forge_rr(&f, 1, SEED_DNS_NAME, DNS_TYPE_A, 60, a, 4);
	a[3] = 11;
	forge_rr(&f, 1, SEED_DNS_NAME, DNS_TYPE_A, 30, a, 4);
	forge_rr(&f, 1, "other.example.test", DNS_TYPE_A, 30, a, 4);
	forge_rr(&f, 1, SEED_DNS_NAME, DNS_TYPE_AAAA, 30, six, 16);
	forge_rr(&f, 3, "", 41, 0, NULL, 0); /* EDNS OPT */
	dns_reply_put("query-answer", &f, false, 0);
	forge_reply(&f, 0x4b1d, DNS_OPCODE_QUERY, 3, SEED_DNS_NAME, DNS_TYPE_A);
	dns_reply_put("query-nxdomain", &f, false, 0);
	forge_reply(&f, 0x4b1d, DNS_OPCODE_QUERY, 0, SEED_DNS_NAME, DNS_TYPE_A);
	for (uint8_t i = 0; i < 17; i++) {
		a[3] = i;
		forge_rr(&f, 1, SEED_DNS_NAME, DNS_TYPE_A, 60, a, 4);
	}
	dns_reply_put("query-17", &f, false, 0);
	forge_reply(&f, 0x4b1e, DNS_OPCODE_UPDATE, 0, "example.test", DNS_TYPE_SOA);
	dns_reply_put("update-ok", &f, true, 0);
	forge_reply(&f, 0x4b1e, DNS_OPCODE_UPDATE, 8, "example.test", DNS_TYPE_SOA);
	dns_reply_put("update-nxrrset", &f, true, 0);
	forge_reply(&f, 0x4b1e, DNS_OPCODE_UPDATE, 9, "example.test", DNS_TYPE_SOA);
	dns_reply_put("update-badkey", &f, true, 17);
	forge_reply(&f, 0x4b1e, DNS_OPCODE_UPDATE, 9, "example.test", DNS_TYPE_SOA);
	dns_reply_put("update-badtime", &f, true, 18);
	forge_reply(&f, 0x4b1e, DNS_OPCODE_UPDATE, 10, "example.test", DNS_TYPE_SOA);
	dns_reply_put("update-notzone-body", &f, false, 0);
}

/* fuzz_dns_pdns: zones as PowerDNS 4.7 sends them (A and AAAA sets at
 * www.example.test, a disabled record, other types, 17 addresses), the
 * PATCH bodies kith writes (which read as zones too), and the error
 * answers: 422 JSON, 401 and 404 plain text. */
static void dns_pdns_put_body(const char *name, int rc, char *body, size_t len)
{
	if (rc) {
		fprintf(stderr, "fuzz_seeds: dns_pdns/%s: %s\n", name, proto_strerror(rc));
		failed = 1;
	} else {
		put("dns_pdns", name, body, len);
	}
	free(body);
}

static void dns_pdns_seeds(void)
{
	static const char *const texts[][2] = {
	    {"zone",
	     "{\"account\": \"\", \"dnssec\": false, \"id\": \"example.test.\", \"kind\": "
	     "\"Native\", \"name\": \"example.test.\", \"rrsets\": [{\"comments\": [], \"name\": "
	     "\"www.example.test.\", \"records\": [{\"content\": \"2001:db8::1\", \"disabled\": "
	     "false}], \"ttl\": 120, \"type\": \"AAAA\"}, {\"comments\": [], \"name\": "
	     "\"WWW.example.test.\", \"records\": [{\"content\": \"127.0.0.2\", \"disabled\": "
	     "false}, {\"content\": \"127.0.0.9\", \"disabled\": true}], \"ttl\": 60, \"type\": "
	     "\"A\"}, {\"comments\": [], \"name\": \"www.example.test.\", \"records\": "
	     "[{\"content\": \"\\\"kith dns test\\\"\", \"disabled\": false}], \"ttl\": 60, "
	     "\"type\": \"TXT\"}, {\"comments\": [], \"name\": \"example.test.\", \"records\": "
	     "[{\"content\": \"a.misconfigured.dns.server.invalid. hostmaster.example.test. "
	     "2026120501 10800 3600 604800 3600\", \"disabled\": false}], \"ttl\": 3600, "
	     "\"type\": \"SOA\"}], \"serial\": 2026120501, \"url\": "
	     "\"/api/v1/servers/localhost/zones/example.test.\"}"},
	    {"zone-empty", "{\"name\": \"example.test.\", \"rrsets\": []}"},
	    {"error-422", "{\"error\": \"RRset www.example.test. IN A: Conflicts with "
	                  "pre-existing RRset\"}"},
	    {"error-utf8", "{\"error\": \"caf\\u00e9 \\ud83d\\ude00\\n\"}"},
	    {"error-401", "Unauthorized"},
	    {"error-404", "Not Found"},
	};
	char big[2048];
	size_t at;
	struct dns_addrs to = {.family = AF_INET, .n = 2};
	char *body;
	size_t len;
	int rc;

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
		put("dns_pdns", texts[i][0], texts[i][1], strlen(texts[i][1]));
	at = (size_t)snprintf(big, sizeof(big),
	                      "{\"rrsets\": [{\"name\": \"www.example.test.\", "
	                      "\"type\": \"A\", \"ttl\": 60, \"records\": [");
	for (unsigned i = 0; i < 17; i++)
		at += (size_t)snprintf(big + at, sizeof(big) - at,
		                       "%s{\"content\": \"192.0.2.%u\"}", i ? ", " : "", i);
	at += (size_t)snprintf(big + at, sizeof(big) - at, "]}]}");
	put("dns_pdns", "zone-17", big, at);
	to.addr[0][0] = 127;
	to.addr[0][3] = 3;
	to.addr[1][0] = 192;
	to.addr[1][3] = 10;
	rc = dns_pdns_replace(&body, &len, "www.example.test", &to, 60);
	dns_pdns_put_body("patch-a", rc, body, len);
	to.family = AF_INET6;
	to.n = 1;
	rc = dns_pdns_replace(&body, &len, "www.example.test", &to, 300);
	dns_pdns_put_body("patch-aaaa", rc, body, len);
	to.n = 0;
	rc = dns_pdns_replace(&body, &len, "www.example.test", &to, 0);
	dns_pdns_put_body("patch-delete", rc, body, len);
	rc = dns_pdns_txt(&body, &len, "_kith-test.example.test", "kith \"dns\" test", 60);
	dns_pdns_put_body("patch-txt", rc, body, len);
}

/* fuzz_dns_desec: RRset and domain objects as deSEC's documentation
 * shows them (www.example.test's A set, the apex's AAAA set, 17
 * addresses), the bulk PATCH bodies kith writes, and the error answers
 * Django REST framework writes: {"detail"}, a bulk list of field errors
 * (a TTL under the minimum), a throttling. */
static void dns_desec_put_body(const char *name, int rc, char *body, size_t len)
{
	if (rc) {
		fprintf(stderr, "fuzz_seeds: dns_desec/%s: %s\n", name, proto_strerror(rc));
		failed = 1;
	} else {
		put("dns_desec", name, body, len);
	}
	free(body);
}

static void dns_desec_seeds(void)
{
	static const char *const texts[][2] = {
	    {"rrset",
	     "{\"created\": \"2019-09-18T16:32:16.510368Z\", \"domain\": \"example.test\", "
	     "\"subname\": \"www\", \"name\": \"www.example.test.\", \"type\": \"A\", "
	     "\"records\": [\"127.0.0.1\", \"127.0.0.2\"], \"ttl\": 3600, \"touched\": "
	     "\"2020-04-06T09:24:09.987436Z\"}"},
	    {"rrset-aaaa", "{\"domain\": \"example.test\", \"subname\": \"www\", \"name\": "
	                   "\"www.example.test.\", \"type\": \"AAAA\", \"records\": "
	                   "[\"2001:db8::1\"], \"ttl\": 60}"},
	    {"rrset-apex", "{\"domain\": \"example.test\", \"subname\": \"\", \"name\": "
	                   "\"example.test.\", \"type\": \"AAAA\", \"records\": "
	                   "[\"2001:db8::1\", \"2001:db8::2\"], \"ttl\": 86400}"},
	    {"rrset-empty", "{\"domain\": \"example.test\", \"subname\": \"www\", \"name\": "
	                    "\"www.example.test.\", \"type\": \"A\", \"records\": [], \"ttl\": 1}"},
	    {"domain",
	     "{\"created\": \"2018-09-18T16:36:16.510368Z\", \"keys\": [{\"dnskey\": \"257 3 13 "
	     "WFRl60...\", \"ds\": [\"6006 13 2 f34b75...\", \"6006 13 4 2fdcf8...\"], "
	     "\"flags\": 257, \"keytype\": \"csk\", \"managed\": true}], \"minimum_ttl\": 3600, "
	     "\"name\": \"example.test\", \"published\": \"2018-09-18T17:21:38.348112Z\", "
	     "\"touched\": \"2018-09-18T17:21:38.348112Z\"}"},
	    {"error-401", "{\"detail\": \"Invalid token.\"}"},
	    {"error-403", "{\"detail\": \"You do not have permission to perform this action.\"}"},
	    {"error-404", "{\"detail\": \"Not found.\"}"},
	    {"error-ttl", "[{\"ttl\": [\"Ensure this value is greater than or equal to 3600.\"]}]"},
	    {"error-bulk", "[{}, {\"records\": {\"0\": [\"Must be a string.\"]}, "
	                   "\"non_field_errors\": [\"Duplicate: records must be semantically "
	                   "unique\"]}]"},
	    {"error-429", "{\"detail\": \"Request was throttled. Expected available in 2 "
	                  "seconds.\"}"},
	};
	char big[2048];
	size_t at;
	struct dns_addrs to = {.family = AF_INET, .n = 2};
	char *body;
	size_t len;
	int rc;

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
		put("dns_desec", texts[i][0], texts[i][1], strlen(texts[i][1]));
	at = (size_t)snprintf(big, sizeof(big),
	                      "{\"domain\": \"example.test\", \"subname\": \"www\", \"name\": "
	                      "\"www.example.test.\", \"type\": \"A\", \"ttl\": 60, "
	                      "\"records\": [");
	for (unsigned i = 0; i < 17; i++)
		at += (size_t)snprintf(big + at, sizeof(big) - at, "%s\"192.0.2.%u\"",
		                       i ? ", " : "", i);
	at += (size_t)snprintf(big + at, sizeof(big) - at, "]}");
	put("dns_desec", "rrset-17", big, at);
	to.addr[0][0] = 127;
	to.addr[0][3] = 3;
	to.addr[1][0] = 192;
	to.addr[1][3] = 10;
	rc = dns_desec_replace(&body, &len, "example.test", "www.example.test", &to, 3600);
	dns_desec_put_body("patch-a", rc, body, len);
	to.n = 0;
	rc = dns_desec_replace(&body, &len, "example.test", "www.example.test", &to, 0);
	dns_desec_put_body("patch-delete", rc, body, len);
	rc = dns_desec_txt(&body, &len, "example.test", "_kith-test.example.test",
	                   "kith \"dns\" test", 3600);
	dns_desec_put_body("patch-txt", rc, body, len);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: fuzz_seeds OUTDIR\n");
		return 2;
	}
	outdir = argv[1];
	if (make_dir(outdir))
		return 1;
	int rc = proto_identity_generate(&id);
	if (rc) {
		fprintf(stderr, "fuzz_seeds: cannot generate an identity: %s\n",
		        proto_strerror(rc));
		return 1;
	}
	member_seeds();
	service_seeds();
	service_record_seeds();
	observation_seeds();
	grant_seeds();
	revocation_seeds();
	admission_seeds();
	dns_change_seeds();
	record_seeds();
	probe_seeds();
	sync_seeds();
	records_seeds();
	token_seeds();
	join_seeds();
	request_seeds();
	ops_seeds();
	scope_seeds();
	peerid_seeds();
	conf_seeds();
	ctl_seeds();
	seal_seeds();
	pack_seeds();
	snapshot_seeds();
	kit_seeds();
	dns_cred_seeds();
	dns_reply_seeds();
	dns_pdns_seeds();
	dns_desec_seeds();
	proto_identity_free(&id);
	if (!failed)
		printf("fuzz_seeds: corpus written to %s\n", outdir);
	return failed;
}
