/* Unit tests of the agent message codecs (proto/wire.c). */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "proto/error.h"
#include "proto/identity.h"
#include "proto/record.h"
#include "proto/wire.h"
#include "tap.h"

#define NOW 1700000000ULL

static struct proto_identity *id, *other;

/* Decoder outputs, large enough for any limit plus a few. */
static struct proto_probe probe, probe2;
static struct proto_head heads[PROTO_DIGEST_MAX + 8], heads2[PROTO_DIGEST_MAX + 8];
static struct proto_block blocks[PROTO_BLOCKS_MAX + 8];
static struct proto_recref recs[PROTO_MSG_RECORDS_MAX + 8];

/* ---- raw messages, built without the encoders' checks ---- */

static struct mp_buf raw;
static msgpack_packer pk;

/* Starts [type, map(n)] in raw. */
static msgpack_packer *raw_begin(uint64_t type, uint32_t n)
{
	mp_buf_free(&raw);
	mp_buf_packer(&raw, &pk);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_uint64(&pk, type);
	msgpack_pack_map(&pk, n);
	return &pk;
}

static void pack_key(uint8_t fill)
{
	uint8_t k[PROTO_KEY_LEN];
	memset(k, fill, sizeof(k));
	mp_pack_bin(&pk, k, sizeof(k));
}

/* An update [state, peer, incarnation, extra of extra_len bytes]. */
static void pack_update(uint64_t state, size_t extra_len)
{
	uint8_t extra[PROTO_SIG_LEN + 1] = {0};
	msgpack_pack_array(&pk, 4);
	msgpack_pack_uint64(&pk, state);
	pack_key(0x11);
	msgpack_pack_uint64(&pk, 5);
	mp_pack_bin(&pk, extra, extra_len);
}

/* A head or block author that sorts as i does. */
static void pack_author(uint32_t i)
{
	uint8_t k[PROTO_KEY_LEN] = {0};
	k[0] = (uint8_t)(i >> 24);
	k[1] = (uint8_t)(i >> 16);
	k[2] = (uint8_t)(i >> 8);
	k[3] = (uint8_t)i;
	mp_pack_bin(&pk, k, sizeof(k));
}

static void pack_head(uint32_t i)
{
	msgpack_pack_array(&pk, 2);
	pack_author(i);
	msgpack_pack_uint64(&pk, 9);
}

/* A block of n records, each the bin {0x90}. */
static void pack_block(uint32_t author, uint32_t n)
{
	static const uint8_t rec[] = {0x90};
	msgpack_pack_array(&pk, 3);
	pack_author(author);
	msgpack_pack_uint64(&pk, 0);
	msgpack_pack_array(&pk, n);
	for (uint32_t i = 0; i < n; i++)
		mp_pack_bin(&pk, rec, sizeof(rec));
}

static int probe_rc(const uint8_t *buf, size_t len)
{
	uint8_t type;
	return proto_probe_decode(&probe, &type, buf, len);
}

static int sync_rc(const uint8_t *buf, size_t len, size_t cap)
{
	bool reply;
	size_t n;
	return proto_sync_decode(&reply, heads, cap, &n, buf, len);
}

static int records_rc(const uint8_t *buf, size_t len, size_t cap_blocks, size_t cap_recs)
{
	size_t nb, nr;
	return proto_records_decode(blocks, cap_blocks, &nb, recs, cap_recs, &nr, buf, len);
}

#define RAW_PROBE() probe_rc(raw.data, raw.len)
#define RAW_SYNC(cap) sync_rc(raw.data, raw.len, (cap))
#define RAW_RECORDS(cb, cr) records_rc(raw.data, raw.len, (cb), (cr))

/* ---- fixtures ---- */

static void fill_probe(struct proto_probe *p, uint32_t n_updates)
{
	memset(p, 0, sizeof(*p));
	p->seq = 4000000000u;
	for (uint32_t i = 0; i < n_updates; i++) {
		struct proto_update *u = &p->updates[i];
		u->state = (enum proto_member_state)(1 + i % 4);
		memset(u->peer, (int)(0x40 + i), PROTO_KEY_LEN);
		u->incarnation = UINT64_MAX - i;
		if (u->state == PROTO_STATE_ALIVE || u->state == PROTO_STATE_LEFT)
			memset(u->sig, (int)(0x80 + i), PROTO_SIG_LEN);
		else
			memset(u->accuser, (int)(0xc0 + i), PROTO_KEY_LEN);
	}
	p->n_updates = n_updates;
}

static void fill_heads(struct proto_head *h, size_t n)
{
	memset(h, 0, n * sizeof(*h));
	for (size_t i = 0; i < n; i++) {
		h[i].author[0] = (uint8_t)(i >> 8);
		h[i].author[1] = (uint8_t)i;
		h[i].seq = i * 1000;
	}
}

/* ---- tests ---- */

static void test_msg_type(void)
{
	static const uint8_t ping[] = {0x92, 0x01, 0x80};
	static const uint8_t future[] = {0x92, 0xcc, 0xc8, 0x80};
	static const uint8_t zero[] = {0x92, 0x00, 0x80};
	static const uint8_t big[] = {0x92, 0xcd, 0x01, 0x00, 0x80};
	static const uint8_t three[] = {0x93, 0x01, 0x80, 0xc0};
	static const uint8_t one[] = {0x91, 0x01};
	static const uint8_t map[] = {0x81, 0x01, 0x01};
	static const uint8_t neg[] = {0x92, 0xff, 0x80};
	static const uint8_t bad[] = {0x92, 0xc1, 0x80};
	uint8_t type = 0;
	is(proto_msg_type(ping, sizeof(ping), &type), 0, "msg_type: PING");
	is(type, PROTO_MSG_PING, "msg_type: type 1");
	is(proto_msg_type(future, sizeof(future), &type), 0, "msg_type: unknown type 200 is fine");
	is(type, 200, "msg_type: type 200");
	is(proto_msg_type(zero, sizeof(zero), &type), KITH_EVALUE, "msg_type: type 0");
	is(proto_msg_type(big, sizeof(big), &type), KITH_EVALUE, "msg_type: type 256");
	is(proto_msg_type(three, sizeof(three), &type), KITH_ETOOBIG, "msg_type: array of 3");
	is(proto_msg_type(one, sizeof(one), &type), KITH_EVALUE, "msg_type: array of 1");
	is(proto_msg_type(map, sizeof(map), &type), KITH_ETYPE, "msg_type: not an array");
	is(proto_msg_type(neg, sizeof(neg), &type), KITH_ETYPE, "msg_type: negative type");
	is(proto_msg_type(bad, sizeof(bad), &type), KITH_EMALFORMED, "msg_type: 0xc1");
	is(proto_msg_type(NULL, 0, &type), KITH_ETRUNC, "msg_type: empty input");
}

/* The whole-message limit, judged before parsing. */
static void test_msg_max(void)
{
	uint8_t *huge = calloc(1, (size_t)PROTO_MSG_MAX + 1);
	uint8_t type;
	if (!huge)
		return;
	/* a valid PING followed by zeros: only the size may be blamed */
	memcpy(huge, (const uint8_t[]){0x92, 0x01, 0x81, 0x01, 0x07}, 5);
	is(proto_msg_type(huge, (size_t)PROTO_MSG_MAX + 1, &type), KITH_ETOOBIG,
	   "over PROTO_MSG_MAX: msg_type");
	is(probe_rc(huge, (size_t)PROTO_MSG_MAX + 1), KITH_ETOOBIG, "over PROTO_MSG_MAX: probe");
	is(sync_rc(huge, (size_t)PROTO_MSG_MAX + 1, 8), KITH_ETOOBIG, "over PROTO_MSG_MAX: sync");
	is(records_rc(huge, (size_t)PROTO_MSG_MAX + 1, 8, 8), KITH_ETOOBIG,
	   "over PROTO_MSG_MAX: records");
	is(probe_rc(huge, PROTO_MSG_MAX), KITH_ETRAIL, "exactly PROTO_MSG_MAX is parsed");
	free(huge);
}

/* Encodes p as type, decodes it back and compares. */
static void probe_round_trip(uint8_t type, const struct proto_probe *p, const char *what)
{
	struct mp_buf b = {0};
	uint8_t got_type = 0, any_type = 0;
	int rc = proto_probe_encode(&b, type, p);
	is(rc, 0, what);
	if (rc)
		return;
	is(proto_probe_decode(&probe2, &got_type, b.data, b.len), 0, what);
	is(got_type, type, what);
	ok(memcmp(&probe2, p, sizeof(*p)) == 0, what);
	is(proto_msg_type(b.data, b.len, &any_type), 0, what);
	is(any_type, type, what);
	mp_buf_free(&b);
}

static void test_probe_round_trips(void)
{
	static struct proto_probe p;
	fill_probe(&p, 0);
	probe_round_trip(PROTO_MSG_PING, &p, "round trip: bare PING");
	p.has_target = true;
	memset(p.target, 0x77, PROTO_KEY_LEN);
	probe_round_trip(PROTO_MSG_PING, &p, "round trip: PING with target");
	fill_probe(&p, PROTO_UPDATES_MAX);
	probe_round_trip(PROTO_MSG_ACK, &p, "round trip: ACK with 32 updates");
	p.has_target = true;
	memset(p.target, 0x78, PROTO_KEY_LEN);
	probe_round_trip(PROTO_MSG_PING_REQ, &p, "round trip: PING_REQ");
	fill_probe(&p, 3);
	p.seq = 0;
	probe_round_trip(PROTO_MSG_NACK, &p, "round trip: NACK with seq 0");
	probe_round_trip(PROTO_MSG_GOSSIP, &p, "round trip: GOSSIP without seq");
	p.seq = 12;
	probe_round_trip(PROTO_MSG_GOSSIP, &p, "round trip: GOSSIP with seq");
}

/* Appends n bytes of value v at *at. */
static void put_run(uint8_t **at, uint8_t v, size_t n)
{
	memset(*at, v, n);
	*at += n;
}

static void put_bytes(uint8_t **at, const uint8_t *b, size_t n)
{
	memcpy(*at, b, n);
	*at += n;
}

static void same_bytes(const struct mp_buf *got, const uint8_t *want, size_t len, const char *what)
{
	ok(got->len == len && memcmp(got->data, want, len) == 0, what);
}

/* The examples of docs/protocol.md, section 7.8, byte for byte. */
static void test_examples(void)
{
	static struct proto_probe p;
	static const uint8_t rec[] = {0x92, 0xc4, 0x01, 0x90, 0xc4, 0x00};
	struct proto_head h = {{0}, 5};
	struct proto_block bl = {{0}, 4, 0, 1};
	struct proto_recref rr = {rec, sizeof(rec)};
	uint8_t want[128], *at;
	struct mp_buf b = {0};

	memset(&p, 0, sizeof(p));
	p.seq = 7;
	p.n_updates = 1;
	p.updates[0].state = PROTO_STATE_SUSPECT;
	memset(p.updates[0].peer, 0x11, PROTO_KEY_LEN);
	p.updates[0].incarnation = 3;
	memset(p.updates[0].accuser, 0x22, PROTO_KEY_LEN);
	/* written only for alive and left: must not reach the wire */
	memset(p.updates[0].sig, 0x33, PROTO_SIG_LEN);
	at = want;
	put_bytes(
	    &at,
	    (const uint8_t[]){0x92, 0x01, 0x82, 0x01, 0x07, 0x03, 0x91, 0x94, 0x02, 0xc4, 0x20},
	    11);
	put_run(&at, 0x11, 32);
	put_bytes(&at, (const uint8_t[]){0x03, 0xc4, 0x20}, 3);
	put_run(&at, 0x22, 32);
	is(proto_probe_encode(&b, PROTO_MSG_PING, &p), 0, "example PING: encodes");
	same_bytes(&b, want, (size_t)(at - want), "example PING: 78 bytes as documented");
	mp_buf_free(&b);

	memset(h.author, 0x33, PROTO_KEY_LEN);
	at = want;
	put_bytes(&at, (const uint8_t[]){0x92, 0x06, 0x82, 0x01, 0x91, 0x92, 0xc4, 0x20}, 8);
	put_run(&at, 0x33, 32);
	put_bytes(&at, (const uint8_t[]){0x05, 0x02, 0xc3}, 3);
	is(proto_sync_encode(&b, true, &h, 1), 0, "example SYNC: encodes");
	same_bytes(&b, want, (size_t)(at - want), "example SYNC: 43 bytes as documented");
	mp_buf_free(&b);

	memset(bl.author, 0x44, PROTO_KEY_LEN);
	at = want;
	put_bytes(&at, (const uint8_t[]){0x92, 0x07, 0x81, 0x01, 0x91, 0x93, 0xc4, 0x20}, 8);
	put_run(&at, 0x44, 32);
	put_bytes(&at, (const uint8_t[]){0x04, 0x91, 0xc4, 0x06}, 4);
	put_bytes(&at, rec, sizeof(rec));
	is(proto_records_encode(&b, &bl, 1, &rr), 0, "example RECORDS: encodes");
	same_bytes(&b, want, (size_t)(at - want), "example RECORDS: 50 bytes as documented");
	mp_buf_free(&b);
}

static void test_probe_fields(void)
{
	uint8_t type;
	raw_begin(PROTO_MSG_GOSSIP, 0);
	is(RAW_PROBE(), 0, "probe: GOSSIP with no field");
	raw_begin(PROTO_MSG_PING, 0);
	is(RAW_PROBE(), KITH_EMISSING, "probe: PING without seq");
	raw_begin(PROTO_MSG_PING_REQ, 1);
	msgpack_pack_uint64(&pk, 1), msgpack_pack_uint64(&pk, 1);
	is(RAW_PROBE(), KITH_EMISSING, "probe: PING_REQ without target");
	raw_begin(PROTO_MSG_ACK, 2);
	msgpack_pack_uint64(&pk, 1), msgpack_pack_uint64(&pk, 1);
	msgpack_pack_uint64(&pk, 2), pack_key(1);
	is(RAW_PROBE(), KITH_EVALUE, "probe: ACK with target");
	raw_begin(PROTO_MSG_NACK, 2);
	msgpack_pack_uint64(&pk, 1), msgpack_pack_uint64(&pk, 1);
	msgpack_pack_uint64(&pk, 2), pack_key(1);
	is(RAW_PROBE(), KITH_EVALUE, "probe: NACK with target");
	raw_begin(PROTO_MSG_PING, 1);
	msgpack_pack_uint64(&pk, 1), msgpack_pack_uint64(&pk, (uint64_t)UINT32_MAX + 1);
	is(RAW_PROBE(), KITH_EVALUE, "probe: seq over 32 bits");
	raw_begin(PROTO_MSG_PING, 1);
	msgpack_pack_uint64(&pk, 1), mp_pack_cstr(&pk, "7");
	is(RAW_PROBE(), KITH_ETYPE, "probe: seq as a string");
	raw_begin(PROTO_MSG_PING, 1);
	msgpack_pack_uint64(&pk, 1), msgpack_pack_int64(&pk, -1);
	is(RAW_PROBE(), KITH_ETYPE, "probe: negative seq");
	raw_begin(PROTO_MSG_PING, 2);
	msgpack_pack_uint64(&pk, 1), msgpack_pack_uint64(&pk, 1);
	msgpack_pack_uint64(&pk, 2), mp_pack_bin(&pk, (const uint8_t *)"short", 5);
	is(RAW_PROBE(), KITH_EVALUE, "probe: target of 5 bytes");
	raw_begin(PROTO_MSG_PING, 2);
	msgpack_pack_uint64(&pk, 1), msgpack_pack_uint64(&pk, 1);
	msgpack_pack_uint64(&pk, 1), msgpack_pack_uint64(&pk, 2);
	is(RAW_PROBE(), KITH_EDUPKEY, "probe: seq twice");
	raw_begin(PROTO_MSG_PING, 3);
	msgpack_pack_uint64(&pk, 1), msgpack_pack_uint64(&pk, 1);
	msgpack_pack_uint64(&pk, 40), msgpack_pack_nil(&pk);
	msgpack_pack_uint64(&pk, 40), msgpack_pack_true(&pk);
	is(RAW_PROBE(), KITH_EDUPKEY, "probe: unknown key twice");
	raw_begin(PROTO_MSG_PING, 1);
	mp_pack_cstr(&pk, "seq"), msgpack_pack_uint64(&pk, 1);
	is(RAW_PROBE(), KITH_ETYPE, "probe: string key");

	/* unknown keys of any type are skipped, up to 6 levels deep */
	raw_begin(PROTO_MSG_PING, 4);
	msgpack_pack_uint64(&pk, 99);
	for (int i = 0; i < 6; i++)
		msgpack_pack_array(&pk, 1);
	msgpack_pack_double(&pk, 1.5);
	msgpack_pack_uint64(&pk, 1), msgpack_pack_uint64(&pk, 9);
	msgpack_pack_uint64(&pk, 98), msgpack_pack_map(&pk, 1);
	mp_pack_cstr(&pk, "k"), msgpack_pack_ext(&pk, 1, 3), msgpack_pack_ext_body(&pk, "abc", 1);
	msgpack_pack_uint64(&pk, 97), msgpack_pack_int64(&pk, -100);
	is(proto_probe_decode(&probe, &type, raw.data, raw.len), 0, "probe: unknown keys skipped");
	is(probe.seq, 9, "probe: seq read beside unknown keys");
	raw_begin(PROTO_MSG_PING, 2);
	msgpack_pack_uint64(&pk, 1), msgpack_pack_uint64(&pk, 1);
	msgpack_pack_uint64(&pk, 99);
	for (int i = 0; i < 7; i++)
		msgpack_pack_array(&pk, 1);
	msgpack_pack_nil(&pk);
	is(RAW_PROBE(), KITH_EDEPTH, "probe: unknown value 7 levels deep");

	raw_begin(PROTO_MSG_PING, 1);
	msgpack_pack_uint64(&pk, 1), msgpack_pack_uint64(&pk, 1);
	msgpack_pack_nil(&pk);
	is(RAW_PROBE(), KITH_ETRAIL, "probe: trailing byte");
	raw_begin(PROTO_MSG_PING, 1);
	msgpack_pack_uint64(&pk, 1);
	raw.data[raw.len++] = 0xc1;
	is(RAW_PROBE(), KITH_EMALFORMED, "probe: 0xc1 as a value");
	raw_begin(PROTO_MSG_SYNC, 0);
	is(RAW_PROBE(), KITH_EVALUE, "probe: SYNC is not a probe");
	raw_begin(200, 0);
	is(RAW_PROBE(), KITH_EVALUE, "probe: unknown type is not a probe");
	mp_buf_free(&raw);
	mp_buf_packer(&raw, &pk);
	msgpack_pack_array(&pk, 2), msgpack_pack_uint64(&pk, 1), msgpack_pack_array(&pk, 0);
	is(RAW_PROBE(), KITH_ETYPE, "probe: fields not a map");
	raw_begin(PROTO_MSG_PING, 65);
	is(RAW_PROBE(), KITH_ETOOBIG, "probe: map of 65 keys");
	raw_begin(PROTO_MSG_PING, 64);
	is(RAW_PROBE(), KITH_ETRUNC, "probe: map of 64 keys in 4 bytes");
}

static void test_probe_updates(void)
{
	raw_begin(PROTO_MSG_GOSSIP, 1);
	msgpack_pack_uint64(&pk, 3), msgpack_pack_array(&pk, 4);
	pack_update(PROTO_STATE_ALIVE, PROTO_SIG_LEN);
	pack_update(PROTO_STATE_SUSPECT, PROTO_KEY_LEN);
	pack_update(PROTO_STATE_DEAD, PROTO_KEY_LEN);
	pack_update(PROTO_STATE_LEFT, PROTO_SIG_LEN);
	is(RAW_PROBE(), 0, "updates: one of each state");
	is(probe.n_updates, 4, "updates: 4 read");
	is(probe.updates[1].state, PROTO_STATE_SUSPECT, "updates: state read");
	is(probe.updates[2].incarnation, 5, "updates: incarnation read");
	ok(probe.updates[0].accuser[0] == 0 && probe.updates[1].sig[0] == 0,
	   "updates: unused field zeroed");

	static const struct {
		uint64_t state;
		size_t extra;
		int want;
		const char *what;
	} bad[] = {
	    {0, PROTO_SIG_LEN, KITH_EVALUE, "updates: state 0"},
	    {5, PROTO_KEY_LEN, KITH_EVALUE, "updates: state 5"},
	    {PROTO_STATE_ALIVE, PROTO_KEY_LEN, KITH_EVALUE, "updates: alive with 32-byte extra"},
	    {PROTO_STATE_LEFT, PROTO_SIG_LEN + 1, KITH_EVALUE, "updates: left with 65-byte sig"},
	    {PROTO_STATE_SUSPECT, PROTO_SIG_LEN, KITH_EVALUE, "updates: suspect with 64 bytes"},
	    {PROTO_STATE_DEAD, 0, KITH_EVALUE, "updates: dead with empty accuser"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		raw_begin(PROTO_MSG_GOSSIP, 1);
		msgpack_pack_uint64(&pk, 3), msgpack_pack_array(&pk, 1);
		pack_update(bad[i].state, bad[i].extra);
		is(RAW_PROBE(), bad[i].want, bad[i].what);
	}

	raw_begin(PROTO_MSG_GOSSIP, 1);
	msgpack_pack_uint64(&pk, 3), msgpack_pack_array(&pk, 1);
	msgpack_pack_array(&pk, 3), msgpack_pack_uint64(&pk, 1), pack_key(1);
	msgpack_pack_uint64(&pk, 1);
	is(RAW_PROBE(), KITH_EVALUE, "updates: update of 3 items");
	raw_begin(PROTO_MSG_GOSSIP, 1);
	msgpack_pack_uint64(&pk, 3), msgpack_pack_array(&pk, 1);
	msgpack_pack_array(&pk, 5);
	is(RAW_PROBE(), KITH_ETOOBIG, "updates: update of 5 items");
	raw_begin(PROTO_MSG_GOSSIP, 1);
	msgpack_pack_uint64(&pk, 3), msgpack_pack_map(&pk, 0);
	is(RAW_PROBE(), KITH_ETYPE, "updates: a map");

	raw_begin(PROTO_MSG_GOSSIP, 1);
	msgpack_pack_uint64(&pk, 3), msgpack_pack_array(&pk, PROTO_UPDATES_MAX);
	for (int i = 0; i < PROTO_UPDATES_MAX; i++)
		pack_update(PROTO_STATE_DEAD, PROTO_KEY_LEN);
	is(RAW_PROBE(), 0, "updates: 32 accepted");
	raw_begin(PROTO_MSG_GOSSIP, 1);
	msgpack_pack_uint64(&pk, 3), msgpack_pack_array(&pk, PROTO_UPDATES_MAX + 1);
	for (int i = 0; i < PROTO_UPDATES_MAX + 1; i++)
		pack_update(PROTO_STATE_DEAD, PROTO_KEY_LEN);
	is(RAW_PROBE(), KITH_ETOOBIG, "updates: 33 refused");
	raw_begin(PROTO_MSG_GOSSIP, 1);
	msgpack_pack_uint64(&pk, 3), msgpack_pack_array(&pk, PROTO_UPDATES_MAX);
	is(RAW_PROBE(), KITH_ETRUNC, "updates: 32 claimed in no bytes");
	raw_begin(PROTO_MSG_GOSSIP, 1);
	msgpack_pack_uint64(&pk, 3), msgpack_pack_array(&pk, UINT32_MAX);
	is(RAW_PROBE(), KITH_ETOOBIG, "updates: 2^32-1 claimed");
}

static void test_probe_encoder(void)
{
	static struct proto_probe p;
	struct mp_buf b = {0};
	uint8_t before[] = {0xaa, 0xbb};
	fill_probe(&p, 2);
	/* encoders append: what was there stays, a refusal adds nothing */
	msgpack_packer bp;
	mp_buf_packer(&b, &bp);
	msgpack_pack_bin_body(&bp, before, sizeof(before));
	is(proto_probe_encode(&b, PROTO_MSG_SYNC, &p), KITH_EVALUE, "encode probe: SYNC type");
	is(proto_probe_encode(&b, 0, &p), KITH_EVALUE, "encode probe: type 0");
	is(proto_probe_encode(&b, PROTO_MSG_PING_REQ, &p), KITH_EMISSING,
	   "encode probe: PING_REQ without target");
	p.has_target = true;
	is(proto_probe_encode(&b, PROTO_MSG_ACK, &p), KITH_EVALUE, "encode probe: ACK with target");
	is(proto_probe_encode(&b, PROTO_MSG_GOSSIP, &p), KITH_EVALUE,
	   "encode probe: GOSSIP with target");
	p.has_target = false;
	p.n_updates = PROTO_UPDATES_MAX + 1;
	is(proto_probe_encode(&b, PROTO_MSG_ACK, &p), KITH_ETOOBIG, "encode probe: 33 updates");
	p.n_updates = 2;
	p.updates[1].state = (enum proto_member_state)7;
	is(proto_probe_encode(&b, PROTO_MSG_ACK, &p), KITH_EVALUE, "encode probe: state 7");
	is(b.len, sizeof(before), "encode probe: refusals appended nothing");
	p.updates[1].state = PROTO_STATE_DEAD;
	is(proto_probe_encode(&b, PROTO_MSG_ACK, &p), 0, "encode probe: appends");
	ok(b.len > sizeof(before) && memcmp(b.data, before, sizeof(before)) == 0,
	   "encode probe: earlier bytes kept");
	is(probe_rc(b.data + sizeof(before), b.len - sizeof(before)), 0,
	   "encode probe: appended message decodes");
	mp_buf_free(&b);
}

static void test_update_signatures(void)
{
	static struct proto_probe p;
	struct proto_update u, t;
	uint8_t msg[PROTO_MEMBER_DOMAIN_LEN + PROTO_KEY_LEN + 1 + 8];
	struct mp_buf b = {0};
	uint8_t type;
	memset(&u, 0, sizeof(u));
	u.state = PROTO_STATE_ALIVE;
	u.incarnation = 0x0102030405060708ULL;
	memset(u.peer, 0xee, PROTO_KEY_LEN);
	memset(u.accuser, 0xee, PROTO_KEY_LEN);
	is(proto_update_sign(&u, id), 0, "sign: alive");
	ok(memcmp(u.peer, id->pk, PROTO_KEY_LEN) == 0, "sign: peer set to the signer");
	ok(u.accuser[0] == 0, "sign: accuser cleared");
	is(proto_update_verify(&u), 0, "verify: alive");

	/* The documented bytes, checked with libsodium directly. */
	memcpy(msg, "kith-member-v1", PROTO_MEMBER_DOMAIN_LEN);
	memcpy(msg + PROTO_MEMBER_DOMAIN_LEN, id->pk, PROTO_KEY_LEN);
	msg[PROTO_MEMBER_DOMAIN_LEN + PROTO_KEY_LEN] = PROTO_STATE_ALIVE;
	for (int i = 0; i < 8; i++)
		msg[PROTO_MEMBER_DOMAIN_LEN + PROTO_KEY_LEN + 1 + i] = (uint8_t)(i + 1);
	is(crypto_sign_verify_detached(u.sig, msg, sizeof(msg), id->pk), 0,
	   "sign: over domain || peer || state || incarnation (BE)");

	t = u, t.state = PROTO_STATE_LEFT;
	is(proto_update_verify(&t), KITH_EBADSIG, "verify: state changed");
	t = u, t.incarnation++;
	is(proto_update_verify(&t), KITH_EBADSIG, "verify: incarnation changed");
	t = u, memcpy(t.peer, other->pk, PROTO_KEY_LEN);
	is(proto_update_verify(&t), KITH_EBADSIG, "verify: peer changed");
	t = u, t.sig[10] ^= 1;
	is(proto_update_verify(&t), KITH_EBADSIG, "verify: signature changed");
	t = u, t.state = PROTO_STATE_SUSPECT;
	is(proto_update_verify(&t), 0, "verify: suspect passes");
	t = u, t.state = PROTO_STATE_DEAD;
	is(proto_update_verify(&t), 0, "verify: dead passes");
	t = u, t.state = (enum proto_member_state)0;
	is(proto_update_verify(&t), KITH_EVALUE, "verify: state 0");

	t = u, t.state = PROTO_STATE_LEFT;
	is(proto_update_sign(&t, other), 0, "sign: left");
	is(proto_update_verify(&t), 0, "verify: left");
	t.state = PROTO_STATE_SUSPECT;
	is(proto_update_sign(&t, id), KITH_EVALUE, "sign: suspect refused");
	t.state = PROTO_STATE_DEAD;
	is(proto_update_sign(&t, id), KITH_EVALUE, "sign: dead refused");

	/* signed, sent, received, still valid */
	memset(&p, 0, sizeof(p));
	p.n_updates = 1;
	p.updates[0] = u;
	memset(p.updates[0].accuser, 0, PROTO_KEY_LEN);
	is(proto_probe_encode(&b, PROTO_MSG_GOSSIP, &p), 0, "signed update: encodes");
	is(proto_probe_decode(&probe, &type, b.data, b.len), 0, "signed update: decodes");
	is(proto_update_verify(&probe.updates[0]), 0, "signed update: verifies after the trip");
	mp_buf_free(&b);
}

static void test_summary(void)
{
	uint8_t sum[PROTO_SUMMARY_LEN], got[PROTO_SUMMARY_LEN];
	struct mp_buf b = {0};

	memset(sum, 0xa5, sizeof(sum));
	is(proto_summary_encode(&b, sum), 0, "summary: encodes");
	is(b.len, 22, "summary: 22 bytes on the wire");
	is(proto_summary_decode(got, b.data, b.len), 0, "summary: decodes");
	ok(memcmp(got, sum, sizeof(sum)) == 0, "summary: round trip");
	is(proto_sync_decode(&(bool){false}, heads, 8, &(size_t){0}, b.data, b.len), KITH_EVALUE,
	   "summary: not a SYNC");
	mp_buf_free(&b);
	raw_begin(PROTO_MSG_SUMMARY, 0);
	is(proto_summary_decode(got, raw.data, raw.len), KITH_EMISSING, "summary: sum required");
	raw_begin(PROTO_MSG_SUMMARY, 1);
	msgpack_pack_uint64(&pk, 1), mp_pack_bin(&pk, sum, PROTO_SUMMARY_LEN - 1);
	is(proto_summary_decode(got, raw.data, raw.len), KITH_EVALUE, "summary: 15 bytes");
	raw_begin(PROTO_MSG_SUMMARY, 2);
	msgpack_pack_uint64(&pk, 9), msgpack_pack_nil(&pk);
	msgpack_pack_uint64(&pk, 1), mp_pack_bin(&pk, sum, PROTO_SUMMARY_LEN);
	is(proto_summary_decode(got, raw.data, raw.len), 0, "summary: unknown key skipped");
}

static void test_sync(void)
{
	static struct proto_head h[PROTO_DIGEST_MAX + 1];
	struct mp_buf b = {0};
	bool reply = false;
	size_t n = 99;

	is(proto_sync_encode(&b, false, NULL, 0), 0, "sync: empty digest encodes");
	is(proto_sync_decode(&reply, heads, 8, &n, b.data, b.len), 0, "sync: empty decodes");
	ok(n == 0 && !reply, "sync: empty, no reply");
	mp_buf_free(&b);

	fill_heads(h, 300);
	h[299].seq = UINT64_MAX;
	is(proto_sync_encode(&b, true, h, 300), 0, "sync: 300 heads encode");
	is(proto_sync_decode(&reply, heads2, 300, &n, b.data, b.len), 0, "sync: 300 heads decode");
	ok(n == 300 && reply && memcmp(heads2, h, 300 * sizeof(h[0])) == 0,
	   "sync: round trip same heads and reply");
	is(sync_rc(b.data, b.len, 299), KITH_ETOOBIG, "sync: over the caller's cap");
	is(probe_rc(b.data, b.len), KITH_EVALUE, "sync: not a probe");
	mp_buf_free(&b);

	fill_heads(h, PROTO_DIGEST_MAX + 1);
	is(proto_sync_encode(&b, false, h, PROTO_DIGEST_MAX), 0, "sync: 4096 heads encode");
	is(sync_rc(b.data, b.len, PROTO_DIGEST_MAX + 8), 0, "sync: 4096 heads decode");
	is(proto_sync_encode(&b, false, h, PROTO_DIGEST_MAX + 1), KITH_ETOOBIG,
	   "sync encode: 4097 heads");
	mp_buf_free(&b);
	raw_begin(PROTO_MSG_SYNC, 1);
	msgpack_pack_uint64(&pk, 1), msgpack_pack_array(&pk, PROTO_DIGEST_MAX + 1);
	for (uint32_t i = 0; i < PROTO_DIGEST_MAX + 1; i++)
		pack_head(i);
	is(RAW_SYNC(PROTO_DIGEST_MAX + 8), KITH_ETOOBIG, "sync decode: 4097 heads");

	fill_heads(h, 3);
	h[2] = h[0];
	is(proto_sync_encode(&b, false, h, 3), KITH_EVALUE, "sync encode: unsorted");
	h[2] = h[1];
	is(proto_sync_encode(&b, false, h, 3), KITH_EVALUE, "sync encode: author twice");
	raw_begin(PROTO_MSG_SYNC, 1);
	msgpack_pack_uint64(&pk, 1), msgpack_pack_array(&pk, 3);
	pack_head(1), pack_head(3), pack_head(2);
	is(RAW_SYNC(8), KITH_EVALUE, "sync decode: unsorted");
	raw_begin(PROTO_MSG_SYNC, 1);
	msgpack_pack_uint64(&pk, 1), msgpack_pack_array(&pk, 2);
	pack_head(4), pack_head(4);
	is(RAW_SYNC(8), KITH_EVALUE, "sync decode: author twice");

	raw_begin(PROTO_MSG_SYNC, 1);
	msgpack_pack_uint64(&pk, 2), msgpack_pack_uint64(&pk, 1);
	is(RAW_SYNC(8), KITH_ETYPE, "sync decode: reply not a bool");
	raw_begin(PROTO_MSG_SYNC, 2);
	msgpack_pack_uint64(&pk, 2), msgpack_pack_true(&pk);
	msgpack_pack_uint64(&pk, 2), msgpack_pack_false(&pk);
	is(RAW_SYNC(8), KITH_EDUPKEY, "sync decode: reply twice");
	raw_begin(PROTO_MSG_SYNC, 1);
	msgpack_pack_uint64(&pk, 1), msgpack_pack_array(&pk, 1);
	msgpack_pack_array(&pk, 1), pack_author(1);
	is(RAW_SYNC(8), KITH_EVALUE, "sync decode: head of 1 item");
	raw_begin(PROTO_MSG_SYNC, 1);
	msgpack_pack_uint64(&pk, 1), msgpack_pack_array(&pk, 1);
	msgpack_pack_array(&pk, 2), msgpack_pack_uint64(&pk, 1), msgpack_pack_uint64(&pk, 1);
	is(RAW_SYNC(8), KITH_ETYPE, "sync decode: author not a bin");
	raw_begin(PROTO_MSG_SYNC, 1);
	msgpack_pack_uint64(&pk, 1), msgpack_pack_array(&pk, PROTO_DIGEST_MAX);
	is(RAW_SYNC(PROTO_DIGEST_MAX), KITH_ETRUNC, "sync decode: 4096 heads claimed in no bytes");
	raw_begin(PROTO_MSG_SYNC, 1);
	msgpack_pack_uint64(&pk, 1), msgpack_pack_array(&pk, UINT32_MAX);
	is(RAW_SYNC(PROTO_DIGEST_MAX), KITH_ETOOBIG, "sync decode: 2^32-1 heads claimed");
	raw_begin(PROTO_MSG_SYNC, 1);
	msgpack_pack_uint64(&pk, 7), mp_pack_bin(&pk, NULL, 0);
	raw.data[raw.len - 2] = 0xc6; /* bin 32 claiming 4 GiB */
	raw.data[raw.len - 1] = 0xff;
	for (int i = 0; i < 4; i++)
		raw.data[raw.len++] = 0xff;
	is(RAW_SYNC(8), KITH_ETRUNC, "sync decode: unknown bin claiming 4 GiB");
	raw_begin(PROTO_MSG_PING, 0);
	is(RAW_SYNC(8), KITH_EVALUE, "sync decode: PING is not a SYNC");
	raw_begin(PROTO_MSG_SYNC, 0);
	msgpack_pack_nil(&pk);
	is(RAW_SYNC(8), KITH_ETRAIL, "sync decode: trailing byte");
	mp_buf_free(&b);
}

/* A record signed by who with seq, as a block would carry it. */
static void signed_record(struct mp_buf *out, const struct proto_identity *who, uint64_t seq)
{
	static const uint8_t body[] = {0x81, 0x00, 0x01};
	struct proto_record in = {
	    .kind = PROTO_KIND_SERVICE,
	    .seq = seq,
	    .issued = NOW,
	    .expires = NOW + 3600,
	    .body = body,
	    .body_len = sizeof(body),
	};
	strcpy(in.name, "cloud");
	if (proto_record_sign(out, who, &in))
		abort(); /* our own fixture: a bug in the test */
}

static void test_records(void)
{
	struct mp_buf r[3] = {{0}}, b = {0};
	struct proto_block bl[2];
	struct proto_recref rr[3];
	size_t nb = 0, nr = 0;
	for (int i = 0; i < 3; i++) {
		signed_record(&r[i], i < 2 ? id : other, 10 + (uint64_t)i);
		rr[i] = (struct proto_recref){r[i].data, r[i].len};
	}
	memset(bl, 0, sizeof(bl));
	memcpy(bl[0].author, id->pk, PROTO_KEY_LEN);
	bl[0].after = 9, bl[0].first = 0, bl[0].n_records = 2;
	memcpy(bl[1].author, other->pk, PROTO_KEY_LEN);
	bl[1].after = 0, bl[1].first = 2, bl[1].n_records = 1;
	is(proto_records_encode(&b, bl, 2, rr), 0, "records: encode 2 blocks");
	is(proto_records_decode(blocks, 8, &nb, recs, 8, &nr, b.data, b.len), 0,
	   "records: decode 2 blocks");
	ok(nb == 2 && nr == 3 && memcmp(blocks, bl, sizeof(bl)) == 0, "records: same blocks");
	bool same = nr == 3;
	for (size_t i = 0; same && i < 3; i++)
		same = recs[i].len == rr[i].len && memcmp(recs[i].buf, rr[i].buf, rr[i].len) == 0 &&
		       recs[i].buf > b.data && recs[i].buf + recs[i].len <= b.data + b.len;
	ok(same, "records: same bytes, borrowed from the message");
	is(records_rc(b.data, b.len, 1, 8), KITH_ETOOBIG, "records: blocks over the caller's cap");
	is(records_rc(b.data, b.len, 8, 2), KITH_ETOOBIG, "records: records over the caller's cap");
	is(records_rc(b.data, b.len, 2, 3), 0, "records: exactly the caps");
	mp_buf_free(&b);

	/* blocks need not be contiguous in the encoder's recs */
	bl[0].first = 1, bl[0].n_records = 1;
	bl[1].first = 0, bl[1].n_records = 0;
	is(proto_records_encode(&b, bl, 2, rr), 0, "records: encode an empty block");
	is(proto_records_decode(blocks, 8, &nb, recs, 8, &nr, b.data, b.len), 0,
	   "records: decode an empty block");
	ok(nb == 2 && nr == 1 && blocks[0].first == 0 && blocks[1].first == 1 &&
	       blocks[1].n_records == 0 && recs[0].len == rr[1].len,
	   "records: decoded blocks are contiguous");
	mp_buf_free(&b);
	is(proto_records_encode(&b, NULL, 0, NULL), 0, "records: encode no block");
	is(records_rc(b.data, b.len, 0, 0), 0, "records: decode no block");
	is(probe_rc(b.data, b.len), KITH_EVALUE, "records: not a probe");
	is(sync_rc(b.data, b.len, 8), KITH_EVALUE, "records: not a SYNC");
	mp_buf_free(&b);
	for (int i = 0; i < 3; i++)
		mp_buf_free(&r[i]);
}

static void test_records_limits(void)
{
	static struct proto_block many[PROTO_BLOCKS_MAX + 1];
	static uint8_t big[PROTO_RECORD_MAX + 1];
	struct proto_recref rr[300];
	struct mp_buf b = {0};

	raw_begin(PROTO_MSG_RECORDS, 1);
	msgpack_pack_uint64(&pk, 1), msgpack_pack_array(&pk, 3);
	pack_block(1, 3000), pack_block(2, 3000), pack_block(3, 3000);
	is(RAW_RECORDS(8, PROTO_MSG_RECORDS_MAX + 8), KITH_ETOOBIG, "records decode: 9000 records");
	raw_begin(PROTO_MSG_RECORDS, 1);
	msgpack_pack_uint64(&pk, 1), msgpack_pack_array(&pk, 2);
	pack_block(1, 4096), pack_block(2, 4096);
	is(RAW_RECORDS(8, PROTO_MSG_RECORDS_MAX + 8), 0, "records decode: 8192 records");
	raw_begin(PROTO_MSG_RECORDS, 1);
	msgpack_pack_uint64(&pk, 1), msgpack_pack_array(&pk, PROTO_BLOCKS_MAX + 1);
	for (uint32_t i = 0; i < PROTO_BLOCKS_MAX + 1; i++)
		pack_block(i, 0);
	is(RAW_RECORDS(PROTO_BLOCKS_MAX + 8, 8), KITH_ETOOBIG, "records decode: 4097 blocks");
	raw_begin(PROTO_MSG_RECORDS, 1);
	msgpack_pack_uint64(&pk, 1), msgpack_pack_array(&pk, 1);
	msgpack_pack_array(&pk, 3), pack_author(1), msgpack_pack_uint64(&pk, 0);
	msgpack_pack_array(&pk, 1), mp_pack_bin(&pk, big, PROTO_RECORD_MAX + 1);
	is(RAW_RECORDS(8, 8), KITH_ETOOBIG, "records decode: record over PROTO_RECORD_MAX");
	raw_begin(PROTO_MSG_RECORDS, 1);
	msgpack_pack_uint64(&pk, 1), msgpack_pack_array(&pk, 1);
	msgpack_pack_array(&pk, 3), pack_author(1), msgpack_pack_uint64(&pk, 0);
	msgpack_pack_array(&pk, 1), mp_pack_cstr(&pk, "record");
	is(RAW_RECORDS(8, 8), KITH_ETYPE, "records decode: record as a string");
	raw_begin(PROTO_MSG_RECORDS, 1);
	msgpack_pack_uint64(&pk, 1), msgpack_pack_array(&pk, 1);
	msgpack_pack_array(&pk, 2), pack_author(1), msgpack_pack_uint64(&pk, 0);
	is(RAW_RECORDS(8, 8), KITH_EVALUE, "records decode: block of 2 items");
	raw_begin(PROTO_MSG_RECORDS, 1);
	msgpack_pack_uint64(&pk, 1), msgpack_pack_array(&pk, 1);
	msgpack_pack_array(&pk, 3), pack_author(1), msgpack_pack_int64(&pk, -1);
	is(RAW_RECORDS(8, 8), KITH_ETYPE, "records decode: negative after");
	raw_begin(PROTO_MSG_RECORDS, 1);
	msgpack_pack_uint64(&pk, 1), msgpack_pack_array(&pk, 1);
	msgpack_pack_array(&pk, 3), pack_author(1), msgpack_pack_uint64(&pk, 0);
	msgpack_pack_array(&pk, 8000);
	is(RAW_RECORDS(8, PROTO_MSG_RECORDS_MAX), KITH_ETRUNC,
	   "records decode: 8000 records claimed in no bytes");
	raw_begin(PROTO_MSG_RECORDS, 1);
	msgpack_pack_uint64(&pk, 1), msgpack_pack_array(&pk, PROTO_BLOCKS_MAX);
	is(RAW_RECORDS(PROTO_BLOCKS_MAX, 8), KITH_ETRUNC,
	   "records decode: 4096 blocks claimed in no bytes");
	raw_begin(PROTO_MSG_RECORDS, 2);
	msgpack_pack_uint64(&pk, 1), msgpack_pack_array(&pk, 0);
	msgpack_pack_uint64(&pk, 1), msgpack_pack_array(&pk, 0);
	is(RAW_RECORDS(8, 8), KITH_EDUPKEY, "records decode: blocks twice");

	/* encoder */
	memset(many, 0, sizeof(many));
	is(proto_records_encode(&b, many, PROTO_BLOCKS_MAX + 1, NULL), KITH_ETOOBIG,
	   "records encode: 4097 blocks");
	is(proto_records_encode(&b, many, PROTO_BLOCKS_MAX, NULL), 0,
	   "records encode: 4096 blocks");
	is(records_rc(b.data, b.len, PROTO_BLOCKS_MAX, 0), 0, "records: 4096 blocks decode");
	mp_buf_free(&b);
	for (size_t i = 0; i < 300; i++)
		rr[i] = (struct proto_recref){big, PROTO_RECORD_MAX};
	many[0].n_records = 8000, many[1].n_records = 193;
	is(proto_records_encode(&b, many, 2, NULL), KITH_ETOOBIG, "records encode: 8193 records");
	many[0].n_records = 1;
	rr[0].len = PROTO_RECORD_MAX + 1;
	is(proto_records_encode(&b, many, 1, rr), KITH_ETOOBIG, "records encode: record too big");
	rr[0] = (struct proto_recref){NULL, 5};
	is(proto_records_encode(&b, many, 1, rr), KITH_EVALUE, "records encode: NULL record");
	many[0].first = UINT32_MAX, many[0].n_records = 2;
	is(proto_records_encode(&b, many, 1, rr), KITH_EVALUE, "records encode: index wraps");
	rr[0] = (struct proto_recref){big, PROTO_RECORD_MAX};
	/* 300 records of 64 KiB: 19.7 MB, over PROTO_MSG_MAX */
	many[0].first = 0, many[0].n_records = 300;
	is(proto_records_encode(&b, many, 1, rr), KITH_ETOOBIG,
	   "records encode: over PROTO_MSG_MAX");
	is(b.len, 0, "records encode: oversize message taken back");
	many[0].n_records = 250; /* 16.4 MB, just under 16 MiB */
	is(proto_records_encode(&b, many, 1, rr), 0, "records encode: just under PROTO_MSG_MAX");
	ok(b.len <= PROTO_MSG_MAX, "records encode: within PROTO_MSG_MAX");
	is(records_rc(b.data, b.len, 1, 250), 0, "records: 250 big records decode");
	mp_buf_free(&b);
}

static void test_block_check(void)
{
	struct mp_buf r[4] = {{0}};
	struct proto_record rec[4];
	struct proto_block bl = {0};
	uint64_t prev;
	static const uint64_t seqs[4] = {5, 6, 6, 9};
	for (int i = 0; i < 4; i++) {
		signed_record(&r[i], id, seqs[i]);
		if (proto_record_decode(&rec[i], r[i].data, r[i].len))
			abort();
	}
	memcpy(bl.author, id->pk, PROTO_KEY_LEN);
	bl.after = 4;
	prev = bl.after;
	is(proto_block_check(&bl, &rec[0], &prev), 0, "block_check: first record");
	is(prev, 5, "block_check: prev advanced");
	is(proto_block_check(&bl, &rec[1], &prev), 0, "block_check: next seq");
	is(proto_block_check(&bl, &rec[2], &prev), KITH_EVALUE, "block_check: same seq again");
	is(prev, 6, "block_check: prev kept on refusal");
	is(proto_block_check(&bl, &rec[3], &prev), 0, "block_check: a gap is fine");
	bl.after = 5;
	prev = 0; /* a caller that forgot to start at after */
	is(proto_block_check(&bl, &rec[0], &prev), KITH_EVALUE, "block_check: seq <= after");
	memcpy(bl.author, other->pk, PROTO_KEY_LEN);
	prev = bl.after;
	is(proto_block_check(&bl, &rec[3], &prev), KITH_EVALUE, "block_check: another author");
	for (int i = 0; i < 4; i++)
		mp_buf_free(&r[i]);
}

/* Every proper prefix of a message is KITH_ETRUNC, read from a buffer of
 * exactly that size so that ASan sees any read past it. */
static void truncations(const struct mp_buf *b, int which, const char *what)
{
	size_t bad = 0;
	for (size_t k = 0; k < b->len; k++) {
		uint8_t *cut = malloc(k ? k : 1);
		int rc;
		if (!cut)
			abort();
		memcpy(cut, b->data, k);
		if (which == 0)
			rc = probe_rc(cut, k);
		else if (which == 1)
			rc = sync_rc(cut, k, PROTO_DIGEST_MAX);
		else
			rc = records_rc(cut, k, PROTO_BLOCKS_MAX, PROTO_MSG_RECORDS_MAX);
		if (rc != KITH_ETRUNC)
			bad++;
		free(cut);
	}
	is(bad, 0, what);
}

static void test_truncation(void)
{
	static struct proto_probe p;
	struct proto_head h[5];
	struct mp_buf b = {0}, rec = {0};
	fill_probe(&p, 4);
	p.has_target = true;
	if (proto_probe_encode(&b, PROTO_MSG_PING_REQ, &p))
		abort();
	truncations(&b, 0, "truncated at every offset: PING_REQ");
	mp_buf_free(&b);
	fill_heads(h, 5);
	if (proto_sync_encode(&b, true, h, 5))
		abort();
	truncations(&b, 1, "truncated at every offset: SYNC");
	mp_buf_free(&b);
	signed_record(&rec, id, 3);
	struct proto_recref rr[2] = {{rec.data, rec.len}, {rec.data, 7}};
	struct proto_block bl[2] = {{.after = 2, .first = 0, .n_records = 2},
	                            {.after = 0, .first = 1, .n_records = 1}};
	if (proto_records_encode(&b, bl, 2, rr))
		abort();
	truncations(&b, 2, "truncated at every offset: RECORDS");
	mp_buf_free(&b);
	mp_buf_free(&rec);
}

/* ---- JOIN, JOIN_REPLY, REQUEST, RESPONSE ---- */

static struct proto_join join2;
static struct proto_join_reply reply2;
static struct proto_request request2;
static struct proto_response response2;

static int join_rc(const uint8_t *buf, size_t len)
{
	return proto_join_decode(&join2, buf, len);
}

static int join_reply_rc(const uint8_t *buf, size_t len)
{
	size_t n;
	return proto_join_reply_decode(&reply2, recs, PROTO_MSG_RECORDS_MAX, &n, buf, len);
}

static int request_rc(const uint8_t *buf, size_t len)
{
	return proto_request_decode(&request2, buf, len);
}

static int response_rc(const uint8_t *buf, size_t len)
{
	return proto_response_decode(&response2, buf, len);
}

#define RAW_RC(fn) fn(raw.data, raw.len)

/* Every proper prefix is KITH_ETRUNC, from a buffer of exactly that size. */
static void truncations_of(const struct mp_buf *b, int (*decode)(const uint8_t *, size_t),
                           const char *what)
{
	size_t bad = 0;
	for (size_t k = 0; k < b->len; k++) {
		uint8_t *cut = malloc(k ? k : 1);
		if (!cut)
			abort();
		memcpy(cut, b->data, k);
		bad += decode(cut, k) != KITH_ETRUNC;
		free(cut);
	}
	is(bad, 0, what);
}

/* Each new decoder refuses the other messages with KITH_EVALUE. */
static void cross_types(const struct mp_buf *b, int (*own)(const uint8_t *, size_t),
                        const char *what)
{
	int (*const all[])(const uint8_t *, size_t) = {join_rc, join_reply_rc, request_rc,
	                                               response_rc};
	size_t bad = 0;
	uint8_t type = 0;
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (all[i] != own)
			bad += all[i](b->data, b->len) != KITH_EVALUE;
	bad += probe_rc(b->data, b->len) != KITH_EVALUE;
	bad += sync_rc(b->data, b->len, 8) != KITH_EVALUE;
	bad += proto_msg_type(b->data, b->len, &type) != 0;
	is(bad, 0, what);
}

static void test_join(void)
{
	struct mp_buf rec = {0}, b = {0};
	struct proto_join in;
	uint8_t type = 0;
	signed_record(&rec, id, 1);
	memset(&in, 0, sizeof(in));
	in.member_record = rec.data;
	in.member_record_len = rec.len;
	is(proto_join_encode(&b, &in), 0, "join: by ID encodes");
	is(proto_join_decode(&join2, b.data, b.len), 0, "join: by ID decodes");
	ok(!join2.has_invite && join2.member_record_len == rec.len &&
	       memcmp(join2.member_record, rec.data, rec.len) == 0 &&
	       join2.member_record > b.data && join2.invite_id[0] == 0 && join2.proof[0] == 0,
	   "join: by ID, same record borrowed, no invitation");
	is(proto_msg_type(b.data, b.len, &type), 0, "join: msg_type");
	is(type, PROTO_MSG_JOIN, "join: type 8");
	cross_types(&b, join_rc, "join: refused by the other decoders");
	mp_buf_free(&b);

	in.has_invite = true;
	memset(in.invite_id, 0x1d, PROTO_INVITE_ID_LEN);
	memset(in.proof, 0x9f, PROTO_PROOF_LEN);
	is(proto_join_encode(&b, &in), 0, "join: with invitation encodes");
	is(proto_join_decode(&join2, b.data, b.len), 0, "join: with invitation decodes");
	ok(join2.has_invite && memcmp(join2.invite_id, in.invite_id, PROTO_INVITE_ID_LEN) == 0 &&
	       memcmp(join2.proof, in.proof, PROTO_PROOF_LEN) == 0,
	   "join: same invitation ID and proof");
	truncations_of(&b, join_rc, "join: truncated at every offset");
	mp_buf_free(&b);

	/* encoder refusals append nothing */
	in.member_record = NULL;
	is(proto_join_encode(&b, &in), KITH_EMISSING, "join encode: no member record");
	in.member_record = rec.data;
	in.member_record_len = 0;
	is(proto_join_encode(&b, &in), KITH_EMISSING, "join encode: empty member record");
	in.member_record_len = PROTO_RECORD_MAX + 1;
	is(proto_join_encode(&b, &in), KITH_ETOOBIG, "join encode: record over PROTO_RECORD_MAX");
	is(b.len, 0, "join encode: refusals appended nothing");

	static uint8_t big[PROTO_RECORD_MAX + 1];
	raw_begin(PROTO_MSG_JOIN, 0);
	is(RAW_RC(join_rc), KITH_EMISSING, "join: no field");
	raw_begin(PROTO_MSG_JOIN, 2);
	msgpack_pack_uint64(&pk, 1), mp_pack_bin(&pk, big, PROTO_INVITE_ID_LEN);
	msgpack_pack_uint64(&pk, 3), mp_pack_bin(&pk, big, 9);
	is(RAW_RC(join_rc), KITH_EMISSING, "join: invitation without proof");
	raw_begin(PROTO_MSG_JOIN, 2);
	msgpack_pack_uint64(&pk, 2), mp_pack_bin(&pk, big, PROTO_PROOF_LEN);
	msgpack_pack_uint64(&pk, 3), mp_pack_bin(&pk, big, 9);
	is(RAW_RC(join_rc), KITH_EMISSING, "join: proof without invitation");
	raw_begin(PROTO_MSG_JOIN, 2);
	msgpack_pack_uint64(&pk, 1), mp_pack_bin(&pk, big, PROTO_INVITE_ID_LEN);
	msgpack_pack_uint64(&pk, 2), mp_pack_bin(&pk, big, PROTO_PROOF_LEN);
	is(RAW_RC(join_rc), KITH_EMISSING, "join: no member record");
	raw_begin(PROTO_MSG_JOIN, 3);
	msgpack_pack_uint64(&pk, 1), mp_pack_bin(&pk, big, PROTO_INVITE_ID_LEN + 1);
	msgpack_pack_uint64(&pk, 2), mp_pack_bin(&pk, big, PROTO_PROOF_LEN);
	msgpack_pack_uint64(&pk, 3), mp_pack_bin(&pk, big, 9);
	is(RAW_RC(join_rc), KITH_EVALUE, "join: invitation ID of 17 bytes");
	raw_begin(PROTO_MSG_JOIN, 3);
	msgpack_pack_uint64(&pk, 1), mp_pack_bin(&pk, big, PROTO_INVITE_ID_LEN);
	msgpack_pack_uint64(&pk, 2), mp_pack_bin(&pk, big, PROTO_PROOF_LEN - 1);
	msgpack_pack_uint64(&pk, 3), mp_pack_bin(&pk, big, 9);
	is(RAW_RC(join_rc), KITH_EVALUE, "join: proof of 31 bytes");
	raw_begin(PROTO_MSG_JOIN, 1);
	msgpack_pack_uint64(&pk, 3), mp_pack_bin(&pk, big, 0);
	is(RAW_RC(join_rc), KITH_EVALUE, "join: empty member record");
	raw_begin(PROTO_MSG_JOIN, 1);
	msgpack_pack_uint64(&pk, 3), mp_pack_bin(&pk, big, PROTO_RECORD_MAX);
	is(RAW_RC(join_rc), 0, "join: member record of PROTO_RECORD_MAX");
	raw_begin(PROTO_MSG_JOIN, 1);
	msgpack_pack_uint64(&pk, 3), mp_pack_bin(&pk, big, PROTO_RECORD_MAX + 1);
	is(RAW_RC(join_rc), KITH_ETOOBIG, "join: member record over PROTO_RECORD_MAX");
	raw_begin(PROTO_MSG_JOIN, 1);
	msgpack_pack_uint64(&pk, 3), mp_pack_cstr(&pk, "record");
	is(RAW_RC(join_rc), KITH_ETYPE, "join: member record as str");
	raw_begin(PROTO_MSG_JOIN, 2);
	msgpack_pack_uint64(&pk, 3), mp_pack_bin(&pk, big, 9);
	msgpack_pack_uint64(&pk, 3), mp_pack_bin(&pk, big, 9);
	is(RAW_RC(join_rc), KITH_EDUPKEY, "join: member record twice");
	raw_begin(PROTO_MSG_JOIN, 2);
	msgpack_pack_uint64(&pk, 3), mp_pack_bin(&pk, big, 9);
	msgpack_pack_uint64(&pk, 40), msgpack_pack_map(&pk, 1), msgpack_pack_nil(&pk);
	msgpack_pack_true(&pk);
	is(RAW_RC(join_rc), 0, "join: unknown key skipped");
	raw_begin(PROTO_MSG_JOIN, 1);
	msgpack_pack_uint64(&pk, 3), mp_pack_bin(&pk, big, 9);
	msgpack_pack_nil(&pk);
	is(RAW_RC(join_rc), KITH_ETRAIL, "join: trailing byte");
	mp_buf_free(&rec);
}

static void test_join_reply(void)
{
	struct mp_buf r[3] = {{0}}, b = {0};
	struct proto_recref rr[3];
	struct proto_join_reply in;
	size_t n = 99;
	for (int i = 0; i < 3; i++) {
		signed_record(&r[i], i ? other : id, 1 + (uint64_t)i);
		rr[i] = (struct proto_recref){r[i].data, r[i].len};
	}
	memset(&in, 0, sizeof(in));
	in.status = PROTO_JOIN_OK;
	memcpy(in.founder, other->pk, PROTO_KEY_LEN);
	strcpy(in.reason, "welcome to the collective");
	is(proto_join_reply_encode(&b, &in, rr, 3), 0, "join_reply: welcome encodes");
	is(proto_join_reply_decode(&reply2, recs, 8, &n, b.data, b.len), 0,
	   "join_reply: welcome decodes");
	ok(memcmp(&reply2, &in, sizeof(in)) == 0, "join_reply: same status, reason, founder");
	bool same = n == 3;
	for (size_t i = 0; same && i < 3; i++)
		same = recs[i].len == rr[i].len && memcmp(recs[i].buf, rr[i].buf, rr[i].len) == 0 &&
		       recs[i].buf > b.data && recs[i].buf + recs[i].len <= b.data + b.len;
	ok(same, "join_reply: same records, borrowed from the message");
	is(proto_join_reply_decode(&reply2, recs, 2, &n, b.data, b.len), KITH_ETOOBIG,
	   "join_reply: records over the caller's cap");
	truncations_of(&b, join_reply_rc, "join_reply: truncated at every offset");
	cross_types(&b, join_reply_rc, "join_reply: refused by the other decoders");
	mp_buf_free(&b);

	is(proto_join_reply_encode(&b, &in, NULL, 0), 0, "join_reply: welcome without records");
	is(proto_join_reply_decode(&reply2, recs, 8, &n, b.data, b.len), 0,
	   "join_reply: decodes with no records");
	ok(n == 0, "join_reply: no records");
	mp_buf_free(&b);

	memset(&in, 0, sizeof(in));
	in.status = PROTO_JOIN_REFUSED;
	memset(in.founder, 0x77, PROTO_KEY_LEN); /* not written for a refusal */
	is(proto_join_reply_encode(&b, &in, NULL, 0), 0, "join_reply: refusal encodes");
	is(proto_join_reply_decode(&reply2, recs, 8, &n, b.data, b.len), 0,
	   "join_reply: refusal decodes");
	ok(reply2.status == PROTO_JOIN_REFUSED && reply2.reason[0] == '\0' &&
	       reply2.founder[0] == 0 && n == 0,
	   "join_reply: refusal without founder");
	mp_buf_free(&b);

	/* encoder refusals append nothing */
	is(proto_join_reply_encode(&b, &in, rr, 1), KITH_EVALUE,
	   "join_reply encode: records with a refusal");
	in.status = (enum proto_join_status)4;
	is(proto_join_reply_encode(&b, &in, NULL, 0), KITH_EVALUE, "join_reply encode: status 4");
	in.status = PROTO_JOIN_BUSY;
	memset(in.reason, 'r', sizeof(in.reason));
	is(proto_join_reply_encode(&b, &in, NULL, 0), KITH_ETOOBIG,
	   "join_reply encode: reason without its NUL");
	strcpy(in.reason, "bad\x1b[31m");
	is(proto_join_reply_encode(&b, &in, NULL, 0), KITH_EVALUE,
	   "join_reply encode: reason with an escape");
	in.reason[0] = '\0';
	in.status = PROTO_JOIN_OK;
	is(proto_join_reply_encode(&b, &in, rr, PROTO_MSG_RECORDS_MAX + 1), KITH_ETOOBIG,
	   "join_reply encode: 8193 records");
	rr[1].len = PROTO_RECORD_MAX + 1;
	is(proto_join_reply_encode(&b, &in, rr, 2), KITH_ETOOBIG,
	   "join_reply encode: record over PROTO_RECORD_MAX");
	rr[1] = (struct proto_recref){NULL, 4};
	is(proto_join_reply_encode(&b, &in, rr, 2), KITH_EVALUE, "join_reply encode: NULL record");
	is(b.len, 0, "join_reply encode: refusals appended nothing");

	raw_begin(PROTO_MSG_JOIN_REPLY, 0);
	is(RAW_RC(join_reply_rc), KITH_EMISSING, "join_reply: no status");
	raw_begin(PROTO_MSG_JOIN_REPLY, 1);
	msgpack_pack_uint64(&pk, 1), msgpack_pack_uint64(&pk, 0);
	is(RAW_RC(join_reply_rc), KITH_EMISSING, "join_reply: welcome without founder");
	raw_begin(PROTO_MSG_JOIN_REPLY, 2);
	msgpack_pack_uint64(&pk, 1), msgpack_pack_uint64(&pk, 2);
	msgpack_pack_uint64(&pk, 3), pack_key(5);
	is(RAW_RC(join_reply_rc), KITH_EVALUE, "join_reply: refusal with founder");
	raw_begin(PROTO_MSG_JOIN_REPLY, 1);
	msgpack_pack_uint64(&pk, 1), msgpack_pack_uint64(&pk, 4);
	is(RAW_RC(join_reply_rc), KITH_EVALUE, "join_reply: status 4");
	raw_begin(PROTO_MSG_JOIN_REPLY, 1);
	msgpack_pack_uint64(&pk, 1), msgpack_pack_int64(&pk, -1);
	is(RAW_RC(join_reply_rc), KITH_ETYPE, "join_reply: negative status");
	raw_begin(PROTO_MSG_JOIN_REPLY, 2);
	msgpack_pack_uint64(&pk, 1), msgpack_pack_uint64(&pk, 3);
	msgpack_pack_uint64(&pk, 4), msgpack_pack_array(&pk, 1), mp_pack_bin(&pk, rr[0].buf, 5);
	is(RAW_RC(join_reply_rc), KITH_EVALUE, "join_reply: error with records");
	raw_begin(PROTO_MSG_JOIN_REPLY, 2);
	msgpack_pack_uint64(&pk, 1), msgpack_pack_uint64(&pk, 3);
	msgpack_pack_uint64(&pk, 4), msgpack_pack_array(&pk, 0);
	is(RAW_RC(join_reply_rc), 0, "join_reply: error with an empty record list");
	raw_begin(PROTO_MSG_JOIN_REPLY, 2);
	msgpack_pack_uint64(&pk, 1), msgpack_pack_uint64(&pk, 1);
	msgpack_pack_uint64(&pk, 2), mp_pack_str(&pk, "no\nway", 6);
	is(RAW_RC(join_reply_rc), KITH_EVALUE, "join_reply: reason with a line feed");
	static char long_reason[PROTO_REASON_TEXT_MAX + 1];
	memset(long_reason, 'x', sizeof(long_reason));
	raw_begin(PROTO_MSG_JOIN_REPLY, 2);
	msgpack_pack_uint64(&pk, 1), msgpack_pack_uint64(&pk, 1);
	msgpack_pack_uint64(&pk, 2), mp_pack_str(&pk, long_reason, sizeof(long_reason));
	is(RAW_RC(join_reply_rc), KITH_ETOOBIG, "join_reply: reason of 256 bytes");
	raw_begin(PROTO_MSG_JOIN_REPLY, 2);
	msgpack_pack_uint64(&pk, 1), msgpack_pack_uint64(&pk, 1);
	msgpack_pack_uint64(&pk, 2), mp_pack_str(&pk, long_reason, sizeof(long_reason) - 1);
	is(RAW_RC(join_reply_rc), 0, "join_reply: reason of 255 bytes");
	raw_begin(PROTO_MSG_JOIN_REPLY, 3);
	msgpack_pack_uint64(&pk, 1), msgpack_pack_uint64(&pk, 0), msgpack_pack_uint64(&pk, 3);
	pack_key(5), msgpack_pack_uint64(&pk, 4),
	    msgpack_pack_array(&pk, PROTO_MSG_RECORDS_MAX + 1);
	for (int i = 0; i < PROTO_MSG_RECORDS_MAX + 1; i++)
		mp_pack_bin(&pk, rr[0].buf, 1);
	is(RAW_RC(join_reply_rc), KITH_ETOOBIG, "join_reply: 8193 records");
	raw_begin(PROTO_MSG_JOIN_REPLY, 3);
	msgpack_pack_uint64(&pk, 1), msgpack_pack_uint64(&pk, 0), msgpack_pack_uint64(&pk, 3);
	pack_key(5), msgpack_pack_uint64(&pk, 4), msgpack_pack_array(&pk, PROTO_MSG_RECORDS_MAX);
	for (int i = 0; i < PROTO_MSG_RECORDS_MAX; i++)
		mp_pack_bin(&pk, rr[0].buf, 1);
	is(RAW_RC(join_reply_rc), 0, "join_reply: 8192 records");
	static uint8_t big[PROTO_RECORD_MAX + 1];
	raw_begin(PROTO_MSG_JOIN_REPLY, 3);
	msgpack_pack_uint64(&pk, 1), msgpack_pack_uint64(&pk, 0), msgpack_pack_uint64(&pk, 3);
	pack_key(5), msgpack_pack_uint64(&pk, 4), msgpack_pack_array(&pk, 1);
	mp_pack_bin(&pk, big, sizeof(big));
	is(RAW_RC(join_reply_rc), KITH_ETOOBIG, "join_reply: record over PROTO_RECORD_MAX");
	raw_begin(PROTO_MSG_JOIN_REPLY, 3);
	msgpack_pack_uint64(&pk, 1), msgpack_pack_uint64(&pk, 0), msgpack_pack_uint64(&pk, 3);
	pack_key(5), msgpack_pack_uint64(&pk, 4), msgpack_pack_array(&pk, 1);
	mp_pack_cstr(&pk, "record");
	is(RAW_RC(join_reply_rc), KITH_ETYPE, "join_reply: record as str");
	raw_begin(PROTO_MSG_JOIN_REPLY, 2);
	msgpack_pack_uint64(&pk, 1), msgpack_pack_uint64(&pk, 1);
	msgpack_pack_uint64(&pk, 1), msgpack_pack_uint64(&pk, 1);
	is(RAW_RC(join_reply_rc), KITH_EDUPKEY, "join_reply: status twice");
	for (int i = 0; i < 3; i++)
		mp_buf_free(&r[i]);
}

static void test_request(void)
{
	static const uint8_t args[] = {0x81, 0x01, 0xa1, 0x73};
	struct proto_request in;
	struct mp_buf b = {0};
	memset(&in, 0, sizeof(in));
	in.id = UINT32_MAX;
	strcpy(in.op, "shard.put");
	in.args = args;
	in.args_len = sizeof(args);
	is(proto_request_encode(&b, &in), 0, "request: encodes");
	is(proto_request_decode(&request2, b.data, b.len), 0, "request: decodes");
	ok(request2.id == in.id && strcmp(request2.op, in.op) == 0 &&
	       request2.args_len == sizeof(args) &&
	       memcmp(request2.args, args, sizeof(args)) == 0 && request2.args > b.data,
	   "request: same id, op and args (borrowed)");
	truncations_of(&b, request_rc, "request: truncated at every offset");
	cross_types(&b, request_rc, "request: refused by the other decoders");
	mp_buf_free(&b);
	in.args = NULL;
	in.args_len = 0;
	memset(in.op, 'z', PROTO_OP_MAX);
	in.op[PROTO_OP_MAX] = '\0';
	is(proto_request_encode(&b, &in), 0, "request: op of 31 bytes, no args");
	is(proto_request_decode(&request2, b.data, b.len), 0, "request: decodes without args");
	ok(request2.args == NULL && request2.args_len == 0, "request: no args");
	mp_buf_free(&b);

	static const char *const bad_ops[] = {"",          "Shard.put",  "shard_put",
	                                      "shard put", "shard.put2", "shärd"};
	size_t refused = 0;
	for (size_t i = 0; i < sizeof(bad_ops) / sizeof(bad_ops[0]); i++) {
		strcpy(in.op, bad_ops[i]);
		refused += proto_request_encode(&b, &in) == KITH_EVALUE;
		raw_begin(PROTO_MSG_REQUEST, 2);
		msgpack_pack_uint64(&pk, 1), msgpack_pack_uint64(&pk, 1);
		msgpack_pack_uint64(&pk, 2), mp_pack_cstr(&pk, bad_ops[i]);
		refused += RAW_RC(request_rc) == KITH_EVALUE;
	}
	is(refused, 12, "request: ops outside 1..31 of a-z and '.' refused both ways");
	memset(in.op, 'z', sizeof(in.op));
	is(proto_request_encode(&b, &in), KITH_ETOOBIG, "request encode: op without its NUL");
	strcpy(in.op, "services.get");
	in.args_len = PROTO_MSG_MAX + 1;
	in.args = args;
	is(proto_request_encode(&b, &in), KITH_ETOOBIG, "request encode: args over PROTO_MSG_MAX");
	in.args = NULL;
	in.args_len = 3;
	is(proto_request_encode(&b, &in), KITH_EVALUE, "request encode: NULL args");
	is(b.len, 0, "request encode: refusals appended nothing");

	raw_begin(PROTO_MSG_REQUEST, 2);
	msgpack_pack_uint64(&pk, 1), msgpack_pack_uint64(&pk, 1);
	msgpack_pack_uint64(&pk, 2), mp_pack_cstr(&pk, "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz");
	is(RAW_RC(request_rc), KITH_ETOOBIG, "request: op of 32 bytes");
	raw_begin(PROTO_MSG_REQUEST, 1);
	msgpack_pack_uint64(&pk, 2), mp_pack_cstr(&pk, "shard.get");
	is(RAW_RC(request_rc), KITH_EMISSING, "request: no id");
	raw_begin(PROTO_MSG_REQUEST, 1);
	msgpack_pack_uint64(&pk, 1), msgpack_pack_uint64(&pk, 1);
	is(RAW_RC(request_rc), KITH_EMISSING, "request: no op");
	raw_begin(PROTO_MSG_REQUEST, 2);
	msgpack_pack_uint64(&pk, 1), msgpack_pack_uint64(&pk, (uint64_t)UINT32_MAX + 1);
	msgpack_pack_uint64(&pk, 2), mp_pack_cstr(&pk, "shard.get");
	is(RAW_RC(request_rc), KITH_EVALUE, "request: id over 32 bits");
	raw_begin(PROTO_MSG_REQUEST, 3);
	msgpack_pack_uint64(&pk, 1), msgpack_pack_uint64(&pk, 1);
	msgpack_pack_uint64(&pk, 2), mp_pack_cstr(&pk, "shard.get");
	msgpack_pack_uint64(&pk, 3), mp_pack_bin(&pk, args, 0);
	is(RAW_RC(request_rc), KITH_EVALUE, "request: empty args");
	raw_begin(PROTO_MSG_REQUEST, 3);
	msgpack_pack_uint64(&pk, 1), msgpack_pack_uint64(&pk, 1);
	msgpack_pack_uint64(&pk, 2), mp_pack_cstr(&pk, "shard.get");
	msgpack_pack_uint64(&pk, 3), msgpack_pack_map(&pk, 0);
	is(RAW_RC(request_rc), KITH_ETYPE, "request: args as a map, not bin");
	raw_begin(PROTO_MSG_REQUEST, 3);
	msgpack_pack_uint64(&pk, 1), msgpack_pack_uint64(&pk, 1);
	msgpack_pack_uint64(&pk, 2), mp_pack_cstr(&pk, "shard.get");
	msgpack_pack_uint64(&pk, 2), mp_pack_cstr(&pk, "shard.put");
	is(RAW_RC(request_rc), KITH_EDUPKEY, "request: op twice");
}

static void test_response(void)
{
	static const uint8_t result[] = {0x82, 0x01, 0x00, 0x02, 0x01};
	struct proto_response in;
	struct mp_buf b = {0};
	memset(&in, 0, sizeof(in));
	in.id = 77;
	in.status = PROTO_RESPONSE_QUOTA;
	strcpy(in.reason, "over the 50G of your grant");
	in.result = result;
	in.result_len = sizeof(result);
	is(proto_response_encode(&b, &in), 0, "response: encodes");
	is(proto_response_decode(&response2, b.data, b.len), 0, "response: decodes");
	ok(response2.id == 77 && response2.status == PROTO_RESPONSE_QUOTA &&
	       strcmp(response2.reason, in.reason) == 0 && response2.result_len == sizeof(result) &&
	       memcmp(response2.result, result, sizeof(result)) == 0,
	   "response: same id, status, reason, result");
	truncations_of(&b, response_rc, "response: truncated at every offset");
	cross_types(&b, response_rc, "response: refused by the other decoders");
	mp_buf_free(&b);
	memset(&in, 0, sizeof(in));
	in.status = PROTO_RESPONSE_UNKNOWN;
	is(proto_response_encode(&b, &in), 0, "response: bare, status 6");
	is(proto_response_decode(&response2, b.data, b.len), 0, "response: bare decodes");
	ok(response2.status == PROTO_RESPONSE_UNKNOWN && !response2.result && !response2.reason[0],
	   "response: bare has no reason nor result");
	mp_buf_free(&b);

	in.status = PROTO_RESPONSE_BUSY;
	is(proto_response_encode(&b, &in), 0, "response: status 7, busy");
	is(proto_response_decode(&response2, b.data, b.len), 0, "response: busy decodes");
	ok(response2.status == PROTO_RESPONSE_BUSY, "response: busy is busy");
	mp_buf_free(&b);
	in.status = (enum proto_response_status)8;
	is(proto_response_encode(&b, &in), KITH_EVALUE, "response encode: status 8");
	in.status = PROTO_RESPONSE_OK;
	in.result_len = 2;
	is(proto_response_encode(&b, &in), KITH_EVALUE, "response encode: NULL result");
	in.result_len = 0;
	memset(in.reason, 'x', sizeof(in.reason));
	is(proto_response_encode(&b, &in), KITH_ETOOBIG, "response encode: reason without NUL");
	is(b.len, 0, "response encode: refusals appended nothing");

	raw_begin(PROTO_MSG_RESPONSE, 1);
	msgpack_pack_uint64(&pk, 1), msgpack_pack_uint64(&pk, 1);
	is(RAW_RC(response_rc), KITH_EMISSING, "response: no status");
	raw_begin(PROTO_MSG_RESPONSE, 1);
	msgpack_pack_uint64(&pk, 2), msgpack_pack_uint64(&pk, 0);
	is(RAW_RC(response_rc), KITH_EMISSING, "response: no id");
	raw_begin(PROTO_MSG_RESPONSE, 2);
	msgpack_pack_uint64(&pk, 1), msgpack_pack_uint64(&pk, 1);
	msgpack_pack_uint64(&pk, 2), msgpack_pack_uint64(&pk, 8);
	is(RAW_RC(response_rc), KITH_EVALUE, "response: status 8");
	raw_begin(PROTO_MSG_RESPONSE, 3);
	msgpack_pack_uint64(&pk, 1), msgpack_pack_uint64(&pk, 1);
	msgpack_pack_uint64(&pk, 2), msgpack_pack_uint64(&pk, 0);
	msgpack_pack_uint64(&pk, 4), mp_pack_bin(&pk, result, 0);
	is(RAW_RC(response_rc), KITH_EVALUE, "response: empty result");
	raw_begin(PROTO_MSG_RESPONSE, 3);
	msgpack_pack_uint64(&pk, 1), msgpack_pack_uint64(&pk, 1);
	msgpack_pack_uint64(&pk, 2), msgpack_pack_uint64(&pk, 0);
	msgpack_pack_uint64(&pk, 3), mp_pack_bin(&pk, result, 2);
	is(RAW_RC(response_rc), KITH_ETYPE, "response: reason as bin");
	raw_begin(PROTO_MSG_RESPONSE, 2);
	msgpack_pack_uint64(&pk, 1), msgpack_pack_uint64(&pk, 1);
	msgpack_pack_uint64(&pk, 2), msgpack_pack_uint64(&pk, 0);
	msgpack_pack_nil(&pk);
	is(RAW_RC(response_rc), KITH_ETRAIL, "response: trailing byte");
}

/* The examples of docs/protocol.md, section 7.8, byte for byte. */
static void test_join_examples(void)
{
	struct proto_request req = {.id = 5, .op = "services.get"};
	struct proto_join_reply no = {.status = PROTO_JOIN_REFUSED, .reason = "expired"};
	static const uint8_t want_req[] = {0x92, 0x0a, 0x82, 0x01, 0x05, 0x02, 0xac, 's', 'e', 'r',
	                                   'v',  'i',  'c',  'e',  's',  '.',  'g',  'e', 't'};
	static const uint8_t want_no[] = {0x92, 0x09, 0x82, 0x01, 0x01, 0x02, 0xa7,
	                                  'e',  'x',  'p',  'i',  'r',  'e',  'd'};
	struct mp_buf b = {0};
	is(proto_request_encode(&b, &req), 0, "example REQUEST: encodes");
	same_bytes(&b, want_req, sizeof(want_req), "example REQUEST: 19 bytes as documented");
	mp_buf_free(&b);
	is(proto_join_reply_encode(&b, &no, NULL, 0), 0, "example JOIN_REPLY: encodes");
	same_bytes(&b, want_no, sizeof(want_no), "example JOIN_REPLY: 14 bytes as documented");
	mp_buf_free(&b);
}

static void test_join_msg_max(void)
{
	uint8_t *huge = calloc(1, (size_t)PROTO_MSG_MAX + 1);
	if (!huge)
		return;
	memcpy(huge, (const uint8_t[]){0x92, 0x0a, 0x80}, 3);
	size_t bad = 0;
	int (*const all[])(const uint8_t *, size_t) = {join_rc, join_reply_rc, request_rc,
	                                               response_rc};
	for (size_t i = 0; i < 4; i++)
		bad += all[i](huge, (size_t)PROTO_MSG_MAX + 1) != KITH_ETOOBIG;
	is(bad, 0, "over PROTO_MSG_MAX: join, join_reply, request, response");
	is(request_rc(huge, PROTO_MSG_MAX), KITH_ETRAIL, "exactly PROTO_MSG_MAX: request parsed");
	free(huge);
}

int main(void)
{
	if (proto_identity_generate(&id) || proto_identity_generate(&other)) {
		printf("Bail out! cannot generate identities\n");
		return 1;
	}
	test_msg_type();
	test_msg_max();
	test_probe_round_trips();
	test_examples();
	test_probe_fields();
	test_probe_updates();
	test_probe_encoder();
	test_update_signatures();
	test_sync();
	test_summary();
	test_records();
	test_records_limits();
	test_block_check();
	test_truncation();
	test_join();
	test_join_reply();
	test_request();
	test_response();
	test_join_examples();
	test_join_msg_max();
	mp_buf_free(&raw);
	proto_identity_free(&id);
	proto_identity_free(&other);
	return tap_done();
}
