/* fuzz_seeds OUTDIR: writes a small valid seed corpus for every fuzz
 * target into OUTDIR/<target>/ (records signed with a freshly generated
 * identity). ctest runs it as the fuzz_seeds fixture before the replay
 * tests; tools/fuzz runs it before fuzzing. A normal program, never linked
 * with libFuzzer. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "proto/body.h"
#include "proto/error.h"
#include "proto/identity.h"
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
	if (!rc)
		put_record("member", PROTO_KIND_MEMBER, "", b.data, b.len);
	put_buf("member", "full", &b, rc);
}

static void service_seeds(void)
{
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
	put_buf("service", "full", &b, proto_service_encode(&b, &s));
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
	if (!rc)
		put_record("service_record", PROTO_KIND_SERVICE, "cloud", b.data, b.len);
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
	if (!rc)
		put_record("observation", PROTO_KIND_OBSERVATION, "00/cloud", b.data, b.len);
	put_buf("observation", "full", &b, rc);
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
	if (!rc)
		put_record("grant", PROTO_KIND_GRANT, "g-1", b.data, b.len);
	put_buf("grant", "full", &b, rc);
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
	if (!rc)
		put_record("revocation", PROTO_KIND_REVOCATION, "member", b.data, b.len);
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
	if (!rc)
		put_record("admission", PROTO_KIND_ADMISSION, "subject", b.data, b.len);
	put_buf("admission", "endpoint", &b, rc);
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
		put_buf("probe", names[i], &b, proto_probe_encode(&b, types[i], &p));
	}
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
		put_buf("records", "one-block", &b, proto_records_encode(&b, blocks, 1, refs));
		put_buf("records", "two-blocks", &b, proto_records_encode(&b, blocks, 2, refs));
	}
	for (size_t i = 0; i < 3; i++)
		mp_buf_free(&rec[i]);
}

/* Invitations: a full one, a bare one, and the full one wrapped in lower
 * case as a mail client leaves it. */
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
	if (proto_token_format(&t, text, sizeof(text)) == 0)
		put("token", "bare", text, strlen(text));
	else
		failed = 1;
	t.n_endpoints = 2;
	strcpy(t.endpoints[1], "tcp://[2001:db8::7]:7707");
	t.n_scopes = 4;
	t.scopes[0].type = PROTO_SCOPE_MONITOR;
	t.scopes[1].type = PROTO_SCOPE_ADMIT;
	t.scopes[2].type = PROTO_SCOPE_BACKUP;
	t.scopes[2].quota = 50ULL << 30;
	t.scopes[3].type = PROTO_SCOPE_DNS;
	strcpy(t.scopes[3].zone, "example.org");
	if (proto_token_format(&t, text, sizeof(text))) {
		failed = 1;
		return;
	}
	put("token", "full", text, strlen(text));
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
	put_buf("join", "invited", &b, proto_join_encode(&b, &j));
	r.status = PROTO_JOIN_OK;
	memcpy(r.founder, id->pk, PROTO_KEY_LEN);
	put_buf("join", "welcome", &b, proto_join_reply_encode(&b, &r, refs, 2));
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
	put_buf("request", "shard-put", &b, proto_request_encode(&b, &q));
	q = (struct proto_request){.id = 4000000000u, .op = PROTO_OP_SERVICES_GET};
	put_buf("request", "services-get", &b, proto_request_encode(&b, &q));
	put_buf("request", "usage", &b, proto_response_encode(&b, &a));
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
	strcpy(s.name, "2024-06-01/seg-0007.k3");
	put_buf("ops", "shard-put", &b, proto_shard_encode(&b, &s));
	s.has_data = false;
	put_buf("ops", "shard-get", &b, proto_shard_encode(&b, &s));
	put_buf("ops", "usage", &b, proto_usage_encode(&b, &u));
	for (int i = 0; i < 2; i++) {
		proto_service_defaults(&e[i].spec);
		snprintf(e[i].name, sizeof(e[i].name), "svc-%d", i);
		snprintf(e[i].spec.url, sizeof(e[i].spec.url), "https://s%d.example.org/", i);
	}
	e[1].spec.expect_status = 204;
	strcpy(e[1].spec.expect_body, "ok");
	put_buf("ops", "services", &b, proto_services_encode(&b, e, 2));
	put_buf("ops", "no-services", &b, proto_services_encode(&b, NULL, 0));
}

static void scope_seeds(void)
{
	static const char *const scopes[] = {"monitor",         "admit",
	                                     "backup:50G",      "backup:1536",
	                                     "dns:example.org", "dns:Sub.Example.ORG."};
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
}

static void conf_seeds(void)
{
	static const char *const texts[] = {
	    "[agent]\nlisten = tcp://127.0.0.1:7707\nadvertise = tcp://a.example:7707\n"
	    "profile = lan\nlog_level = debug\n",
	    "[membership]\nprobe_interval = 2s\nprobe_timeout = 500ms\nindirect_checks = 3\n"
	    "[gossip]\nsync_budget = 256K\n[limits]\nban_time = 5m\n",
	    "; comment\n[agent]\nprofile = wan\n",
	};
	char name[32];

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		snprintf(name, sizeof(name), "conf-%zu", i);
		put("conf", name, texts[i], strlen(texts[i]));
	}
}

static void ctl_seeds(void)
{
	struct mp_buf b = {0};
	msgpack_packer pk;

	mp_buf_packer(&b, &pk);
	msgpack_pack_map(&pk, 4);
	mp_pack_cstr(&pk, "cmd");
	mp_pack_cstr(&pk, "admit");
	mp_pack_cstr(&pk, "peer");
	mp_pack_cstr(&pk, "AAAQEAY-EAUDAOC-CAJBIFQ-YDIOB4V-IBCEQTC-QKRMFYY-YDENBWH-A5DYPQI");
	mp_pack_cstr(&pk, "json");
	msgpack_pack_true(&pk);
	mp_pack_cstr(&pk, "count");
	msgpack_pack_uint64(&pk, 7);
	put_buf("ctl", "admit", &b, b.err);
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
	proto_identity_free(&id);
	if (!failed)
		printf("fuzz_seeds: corpus written to %s\n", outdir);
	return failed;
}
