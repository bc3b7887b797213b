/* The control socket: request decoding with its limits, and a real round
 * trip through ipc:// with a REQ client, as kith does it. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zmq.h>

#include "agent/core/control.h"
#include "agent/core/loop.h"
#include "proto/error.h"
#include "proto/mp.h"
#include "proto/peerid.h"
#include "tap.h"

static struct mp_buf buf;
static msgpack_packer pk;

static void start(uint32_t n)
{
	mp_buf_free(&buf);
	mp_buf_packer(&buf, &pk);
	msgpack_pack_map(&pk, n);
}

static void kv(const char *key, const char *value)
{
	mp_pack_cstr(&pk, key);
	mp_pack_cstr(&pk, value);
}

/* The request is decoded into a struct followed by a canary, so that a
 * write past its end fails the test in the plain build too, where no
 * sanitizer watches the stack. */
static struct {
	struct ctl_request r;
	uint8_t canary[2 * sizeof(struct ctl_arg)];
} guarded;
static int overruns;

static int decode_bytes(struct ctl_request *r, const uint8_t *data, size_t len)
{
	int rc;

	memset(guarded.canary, 0xa5, sizeof(guarded.canary));
	rc = ctl_request_decode(&guarded.r, data, len);
	for (size_t i = 0; i < sizeof(guarded.canary); i++)
		if (guarded.canary[i] != 0xa5) {
			overruns++;
			break;
		}
	*r = guarded.r;
	return rc;
}

static int decode(struct ctl_request *r)
{
	return decode_bytes(r, buf.data, buf.len);
}

/* A map of n_args arguments "k0".."k<n-1>" (alternating value types) with
 * "cmd" placed before argument cmd_at (cmd_at < 0: no cmd). */
static void request_with(int n_args, int cmd_at)
{
	start((uint32_t)n_args + (cmd_at >= 0));
	for (int i = 0; i <= n_args; i++) {
		char key[16];
		if (i == cmd_at)
			kv(CTL_KEY_CMD, "a");
		if (i == n_args)
			break;
		snprintf(key, sizeof(key), "k%d", i);
		mp_pack_cstr(&pk, key);
		switch (i % 4) {
		case 0:
			mp_pack_cstr(&pk, "v");
			break;
		case 1:
			msgpack_pack_uint64(&pk, (uint64_t)i << 40);
			break;
		case 2:
			msgpack_pack_true(&pk);
			break;
		default:
			mp_pack_bin(&pk, (const uint8_t *)"\x00\x01", 2);
			break;
		}
	}
}

static void test_decode(void)
{
	struct ctl_request r;
	char text[8];
	uint64_t v = 0;

	start(4);
	kv(CTL_KEY_CMD, "admit");
	kv("peer", "ABC");
	mp_pack_cstr(&pk, "n");
	msgpack_pack_uint64(&pk, 42);
	mp_pack_cstr(&pk, "json");
	msgpack_pack_true(&pk);
	is(decode(&r), 0, "a request decodes");
	ok(!strcmp(r.cmd, "admit") && r.n_args == 3, "command and arguments");
	is(ctl_arg_text(&r, "peer", text, sizeof(text)), 0, "text argument");
	ok(!strcmp(text, "ABC"), "text value");
	is(ctl_arg_uint(&r, "n", &v), 0, "uint argument");
	is(v, 42, "uint value");
	ok(ctl_arg_flag(&r, "json") && !ctl_arg_flag(&r, "other"), "flags");
	is(ctl_arg_text(&r, "n", text, sizeof(text)), KITH_ETYPE, "wrong type asked");
	is(ctl_arg_text(&r, "none", text, sizeof(text)), -ENOENT, "absent argument");
	is(ctl_arg_text(&r, "peer", text, 3), KITH_ETOOBIG, "text longer than the buffer");

	start(1);
	kv("peer", "x");
	is(decode(&r), KITH_EMISSING, "no command");
	start(2);
	kv(CTL_KEY_CMD, "a");
	kv(CTL_KEY_CMD, "b");
	is(decode(&r), KITH_EDUPKEY, "command twice");
	start(3);
	kv(CTL_KEY_CMD, "a");
	kv("x", "1");
	kv("x", "2");
	is(decode(&r), KITH_EDUPKEY, "argument twice");
	start(2);
	kv(CTL_KEY_CMD, "a");
	mp_pack_cstr(&pk, "list");
	msgpack_pack_array(&pk, 0);
	is(decode(&r), KITH_ETYPE, "an array argument");
	start(1);
	kv(CTL_KEY_CMD, "a");
	msgpack_pack_nil(&pk);
	is(decode(&r), KITH_ETRAIL, "trailing bytes");
	start(1);
	kv(CTL_KEY_CMD, "a-command-name-much-longer-than-allowed");
	ok(decode(&r) != 0, "over-long command name");
	is(decode_bytes(&r, (const uint8_t *)"\xc1", 1), KITH_EMALFORMED, "not msgpack");
	mp_buf_free(&buf);
}

/* The argument count at and around CTL_ARGS_MAX, with "cmd" in every
 * place: the 17-entry map without "cmd" once wrote one argument past the
 * array. */
static void test_arg_count(void)
{
	struct ctl_request r;
	uint64_t v = 0;
	char text[8];

	request_with(CTL_ARGS_MAX, 0);
	is(decode(&r), 0, "16 arguments after cmd");
	is(r.n_args, CTL_ARGS_MAX, "all 16 kept");
	ok(ctl_arg_uint(&r, "k13", &v) == 0 && v == (uint64_t)13 << 40, "the last uint is right");
	ok(ctl_arg_text(&r, "k0", text, sizeof(text)) == 0 && !strcmp(text, "v"), "text");
	ok(ctl_arg_flag(&r, "k14") && !ctl_arg_flag(&r, "k15"), "flag, and bin is no flag");
	request_with(CTL_ARGS_MAX, CTL_ARGS_MAX / 2);
	is(decode(&r), 0, "16 arguments, cmd in the middle");
	ok(!strcmp(r.cmd, "a") && r.n_args == CTL_ARGS_MAX, "cmd read in the middle");
	request_with(CTL_ARGS_MAX, CTL_ARGS_MAX);
	is(decode(&r), 0, "16 arguments, cmd last");
	ok(!strcmp(r.cmd, "a") && r.n_args == CTL_ARGS_MAX, "cmd read last");
	request_with(CTL_ARGS_MAX - 1, -1);
	is(decode(&r), KITH_EMISSING, "15 arguments, no cmd");
	request_with(CTL_ARGS_MAX, -1);
	is(decode(&r), KITH_EMISSING, "16 arguments, no cmd");
	request_with(CTL_ARGS_MAX + 1, -1);
	is(decode(&r), KITH_ETOOBIG, "17 arguments, no cmd: refused at the 17th");
	request_with(CTL_ARGS_MAX + 1, 0);
	is(decode(&r), KITH_ETOOBIG, "cmd first and 17 arguments: the map is too big");
	request_with(CTL_ARGS_MAX + 1, CTL_ARGS_MAX / 2);
	is(decode(&r), KITH_ETOOBIG, "cmd in the middle of 17 arguments");
	request_with(CTL_ARGS_MAX + 1, CTL_ARGS_MAX + 1);
	is(decode(&r), KITH_ETOOBIG, "17 arguments and cmd last");
	request_with(CTL_ARGS_MAX - 1, 3);
	is(decode(&r), 0, "15 arguments and cmd");
	/* A second cmd in place of the 17th entry. */
	start(CTL_ARGS_MAX + 1);
	kv(CTL_KEY_CMD, "a");
	for (int i = 0; i < CTL_ARGS_MAX - 1; i++) {
		char key[16];
		snprintf(key, sizeof(key), "k%d", i);
		kv(key, "v");
	}
	kv(CTL_KEY_CMD, "b");
	is(decode(&r), KITH_EDUPKEY, "cmd first and last");
	start(3);
	kv("x", "1");
	kv(CTL_KEY_CMD, "a");
	kv(CTL_KEY_CMD, "a");
	is(decode(&r), KITH_EDUPKEY, "cmd twice in the middle");
	start(1);
	kv(CTL_KEY_CMD, "");
	is(decode(&r), KITH_EVALUE, "empty cmd");
	start(2);
	kv(CTL_KEY_CMD, "");
	kv(CTL_KEY_CMD, "a");
	is(decode(&r), KITH_EVALUE, "empty cmd, then another");
	start(0);
	is(decode(&r), KITH_EMISSING, "empty map");
	ok(overruns == 0, "no decode wrote past the request struct");
	mp_buf_free(&buf);
}

/* Wrong types, nesting, truncation, sizes: each refused with its code. */
static void test_malformed(void)
{
	static const struct {
		const char *bytes;
		size_t len;
		int want;
		const char *what;
	} cases[] = {
#define B(s) s, sizeof(s) - 1
	    {B(""), KITH_ETRUNC, "empty input"},
	    {B("\x91\xa3"
	       "cmd"),
	     KITH_ETYPE, "an array, not a map"},
	    {B("\xa3"
	       "cmd"),
	     KITH_ETYPE, "a string, not a map"},
	    {B("\xc0"), KITH_ETYPE, "nil"},
	    {B("\x81\x01\xa1"
	       "a"),
	     KITH_ETYPE, "integer key"},
	    {B("\x81\xc4\x03"
	       "cmd\xa1"
	       "a"),
	     KITH_ETYPE, "binary key"},
	    {B("\x81\xa3"
	       "cmd\x01"),
	     KITH_ETYPE, "cmd is a number"},
	    {B("\x81\xa3"
	       "cmd\xc4\x01"
	       "a"),
	     KITH_ETYPE, "cmd is binary"},
	    {B("\x82\xa3"
	       "cmd\xa1"
	       "a\xa1x\xc0"),
	     KITH_ETYPE, "nil argument"},
	    {B("\x82\xa3"
	       "cmd\xa1"
	       "a\xa1x\xff"),
	     KITH_ETYPE, "negative argument"},
	    {B("\x82\xa3"
	       "cmd\xa1"
	       "a\xa1x\xd0\xff"),
	     KITH_ETYPE, "negative int8 argument"},
	    {B("\x82\xa3"
	       "cmd\xa1"
	       "a\xa1x\xca\0\0\0\0"),
	     KITH_ETYPE, "float argument"},
	    {B("\x82\xa3"
	       "cmd\xa1"
	       "a\xa1x\xd4\x01\x00"),
	     KITH_ETYPE, "ext argument"},
	    {B("\x82\xa3"
	       "cmd\xa1"
	       "a\xa1x\x80"),
	     KITH_ETYPE, "map argument"},
	    {B("\x82\xa3"
	       "cmd\xa1"
	       "a\xa1x\xc1"),
	     KITH_EMALFORMED, "0xc1 argument"},
	    {B("\x81\xa3"
	       "cmd\xa2"
	       "a\x01"),
	     KITH_EVALUE, "control character in cmd"},
	    {B("\x82\xa3"
	       "cmd\xa1"
	       "a\xa2\x01x\xc3"),
	     KITH_EVALUE, "control character in a key"},
	    {B("\x81\xa3"
	       "cmd\xa2\xc3\x28"),
	     KITH_EVALUE, "cmd not UTF-8"},
	    {B("\x82\xa3"
	       "cmd\xa1"
	       "a\xa1x"),
	     KITH_ETRUNC, "argument without value"},
	    {B("\x82\xa3"
	       "cmd\xa1"
	       "a"),
	     KITH_ETRUNC, "one entry short"},
	    {B("\xde\x00\x02\xa3"
	       "cmd\xa1"
	       "a"),
	     KITH_ETRUNC, "map16 one entry short"},
	    {B("\xdf\xff\xff\xff\xff"), KITH_ETOOBIG, "map32 of 4 billion entries"},
	    {B("\xde\x00\x12"), KITH_ETOOBIG, "map16 of 18 entries"},
	    {B("\x81\xa3"
	       "cmd\xdb\xff\xff\xff\xff"),
	     KITH_ETOOBIG, "str32 of 4 GiB"},
	    {B("\x82\xa3"
	       "cmd\xa1"
	       "a\xa1x\xc6\x7f\xff\xff\xff"),
	     KITH_ETOOBIG, "bin32 of 2 GiB"},
	    {B("\x82\xa3"
	       "cmd\xa1"
	       "a\xa1x\xc6\x00\x00\x00\x09"),
	     KITH_ETRUNC, "bin cut short"},
	    {B("\x81\xa3"
	       "cmd\xa1"
	       "a\x00"),
	     KITH_ETRAIL, "trailing byte"},
	};
#undef B
	struct ctl_request r;
	uint8_t *big;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		is(decode_bytes(&r, (const uint8_t *)cases[i].bytes, cases[i].len), cases[i].want,
		   cases[i].what);

	/* A long key and a long cmd: one byte over is refused. */
	start(1);
	kv(CTL_KEY_CMD, "0123456789012345678901234567890"); /* 31 */
	is(decode(&r), 0, "cmd of CTL_CMD_MAX bytes");
	start(1);
	kv(CTL_KEY_CMD, "01234567890123456789012345678901"); /* 32 */
	is(decode(&r), KITH_ETOOBIG, "cmd of CTL_CMD_MAX + 1 bytes");
	start(2);
	kv(CTL_KEY_CMD, "a");
	kv("0123456789012345678901234567890", "v");
	is(decode(&r), 0, "key of CTL_KEY_MAX bytes");
	start(2);
	kv(CTL_KEY_CMD, "a");
	kv("01234567890123456789012345678901", "v");
	is(decode(&r), KITH_ETOOBIG, "key of CTL_KEY_MAX + 1 bytes");
	start(17);
	for (int i = 0; i < 16; i++)
		kv("01234567890123456789012345678901", "v");
	kv(CTL_KEY_CMD, "a");
	is(decode(&r), KITH_ETOOBIG, "17 over-long keys");

	/* Nesting: a value 10000 arrays deep is refused at the first one. */
	start(2);
	kv(CTL_KEY_CMD, "a");
	mp_pack_cstr(&pk, "deep");
	for (int i = 0; i < 10000; i++)
		msgpack_pack_array(&pk, 1);
	msgpack_pack_nil(&pk);
	is(decode(&r), KITH_ETYPE, "deeply nested value");

	/* Whole request sizes around CTL_REQUEST_MAX: a binary that fills it
	 * exactly is read, one byte more is refused before parsing. */
	big = calloc(1, CTL_REQUEST_MAX + 1);
	if (big) {
		size_t head = 1 + 4 + 2 + 2 + 5; /* map, "cmd", "a", "x", bin32 header */
		size_t n = CTL_REQUEST_MAX - head;
		memcpy(big,
		       "\x82\xa3"
		       "cmd\xa1"
		       "a\xa1x\xc6",
		       10);
		big[10] = (uint8_t)(n >> 24);
		big[11] = (uint8_t)(n >> 16);
		big[12] = (uint8_t)(n >> 8);
		big[13] = (uint8_t)n;
		is(decode_bytes(&r, big, CTL_REQUEST_MAX), 0, "request of CTL_REQUEST_MAX bytes");
		is(r.args[0].len, n, "its binary is whole");
		is(decode_bytes(&r, big, CTL_REQUEST_MAX + 1), KITH_ETOOBIG,
		   "request of CTL_REQUEST_MAX + 1 bytes");
		free(big);
	}

	/* Every prefix of a valid request is refused. */
	request_with(CTL_ARGS_MAX, CTL_ARGS_MAX / 2);
	int prefixes_refused = 1;
	for (size_t cut = 0; cut < buf.len; cut++)
		if (decode_bytes(&r, buf.data, cut) == 0)
			prefixes_refused = 0;
	ok(prefixes_refused, "every truncation of a 17-entry request is refused");
	ok(overruns == 0, "no decode wrote past the request struct");
	mp_buf_free(&buf);
}

static int echo(void *arg, const struct ctl_request *req, msgpack_packer *out, char *err, size_t n)
{
	char text[64];

	(void)arg;
	if (ctl_arg_text(req, "say", text, sizeof(text)) != 0) {
		snprintf(err, n, "say what?");
		return KITH_EMISSING;
	}
	mp_pack_cstr(out, text);
	return 0;
}

static const struct control_command commands[] = {{"echo", echo}};

/* Sends buf to the socket and runs the loop until the reply comes. */
static int exchange(struct loop *l, void *req, uint8_t *reply, size_t n)
{
	int got = -1;

	zmq_send(req, buf.data, buf.len, 0);
	for (int i = 0; i < 50 && got < 0; i++) {
		loop_once(l, 20);
		got = zmq_recv(req, reply, n, ZMQ_DONTWAIT);
	}
	return got;
}

/* The reply is {"ok": want_ok, "data"|"error": text containing want},
 * an error with its "code" (KITH_E* negated), and "tag": want_tag when
 * want_tag is not 0 (no tag otherwise). */
static int reply_tagged(const uint8_t *reply, int len, bool want_ok, const char *want,
                        uint64_t want_tag)
{
	struct mp_reader r;
	uint32_t n = 0;
	char key[8], value[200] = "";
	bool okv = !want_ok, has_code = false;
	uint64_t code = 0, tag = 0;

	if (len <= 0)
		return 0;
	mp_reader_init(&r, reply, (size_t)len);
	mp_read_map(&r, &n, 4);
	for (uint32_t i = 0; i < n; i++) {
		mp_read_text(&r, key, sizeof(key) - 1);
		if (!strcmp(key, CTL_REPLY_OK))
			mp_read_bool(&r, &okv);
		else if (!strcmp(key, CTL_REPLY_CODE))
			has_code = mp_read_uint(&r, &code) == 0;
		else if (!strcmp(key, CTL_REPLY_TAG))
			mp_read_uint(&r, &tag);
		else
			mp_read_text(&r, value, sizeof(value) - 1);
	}
	return mp_finish(&r) == 0 && okv == want_ok && strstr(value, want) != NULL &&
	       tag == want_tag && (want_ok ? !has_code : has_code && code > 0);
}

static int reply_is(const uint8_t *reply, int len, bool want_ok, const char *want)
{
	return reply_tagged(reply, len, want_ok, want, 0);
}

static void test_socket(void)
{
	char dir[] = "/tmp/kith-test-ctl-XXXXXX", path[300], endpoint[320];
	struct loop *l = NULL;
	struct control *c = NULL;
	void *ctx = zmq_ctx_new(), *req;
	uint8_t reply[512];
	struct stat st;
	int got;

	ok(mkdtemp(dir) != NULL, "temp dir");
	loop_new(&l);
	is(control_new(&c, l, ctx, dir, commands, 1, NULL), 0, "bind the control socket");
	snprintf(path, sizeof(path), "%s/%s", dir, CTL_SOCKET);
	ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600, "socket file is 0600");
	req = zmq_socket(ctx, ZMQ_REQ);
	snprintf(endpoint, sizeof(endpoint), "ipc://%s", path);
	zmq_connect(req, endpoint);

	start(2);
	kv(CTL_KEY_CMD, "echo");
	kv("say", "hello");
	got = exchange(l, req, reply, sizeof(reply));
	ok(reply_is(reply, got, true, "hello"), "a command's data comes back");
	start(1);
	kv(CTL_KEY_CMD, "echo");
	got = exchange(l, req, reply, sizeof(reply));
	ok(reply_is(reply, got, false, "say what?"), "a command's error comes back");
	start(1);
	kv(CTL_KEY_CMD, "nosuch");
	got = exchange(l, req, reply, sizeof(reply));
	ok(reply_is(reply, got, false, "unknown command 'nosuch'"), "unknown command");
	start(3);
	kv(CTL_KEY_CMD, "echo");
	kv("say", "tagged");
	mp_pack_cstr(&pk, CTL_KEY_TAG);
	msgpack_pack_uint64(&pk, 7);
	got = exchange(l, req, reply, sizeof(reply));
	ok(reply_tagged(reply, got, true, "tagged", 7), "a request's tag comes back with its data");
	start(2);
	kv(CTL_KEY_CMD, "echo");
	mp_pack_cstr(&pk, CTL_KEY_TAG);
	msgpack_pack_uint64(&pk, 1ULL << 40);
	got = exchange(l, req, reply, sizeof(reply));
	ok(reply_tagged(reply, got, false, "say what?", 1ULL << 40),
	   "and with an error, beside its code");
	mp_buf_free(&buf);
	buf.data = (uint8_t *)strdup("\x93garbage");
	buf.len = 8;
	got = exchange(l, req, reply, sizeof(reply));
	ok(reply_is(reply, got, false, "malformed request"), "malformed request answered");
	control_free(&c);
	ok(access(path, F_OK) != 0, "socket file removed on free");
	zmq_close(req);
	zmq_ctx_term(ctx);
	loop_free(&l);
	rmdir(dir);
	mp_buf_free(&buf);
}

/* The helpers commands share: ctl_arg_peer(), ctl_arg_bin(), ctl_fail(). */
static void test_helpers(void)
{
	struct ctl_request r;
	uint8_t key[PROTO_KEY_LEN], peer[PROTO_KEY_LEN];
	char id[PROTO_PEERID_TEXT_LEN + 1], err[160] = "";
	const struct ctl_arg *bin;

	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)(7 * i + 1);
	proto_peerid_format(id, key);
	start(4);
	kv(CTL_KEY_CMD, CTL_CMD_ADMIT);
	kv(CTL_KEY_PEER, id);
	kv(CTL_KEY_TARGET, "not-a-peer-id");
	mp_pack_cstr(&pk, CTL_KEY_DATA);
	mp_pack_bin(&pk, (const uint8_t *)"\x01\x02\x03", 3);
	is(decode(&r), 0, "a request with a peer ID and a binary");
	is(ctl_arg_peer(&r, CTL_KEY_PEER, peer, err, sizeof(err)), 0, "peer ID parsed");
	ok(!memcmp(peer, key, sizeof(key)), "peer ID value");
	is(ctl_arg_peer(&r, CTL_KEY_TARGET, peer, err, sizeof(err)), KITH_EVALUE,
	   "a bad peer ID is refused");
	ok(err[0], "with a reason");
	is(ctl_arg_peer(&r, CTL_KEY_ZONE, peer, err, sizeof(err)), KITH_EMISSING,
	   "an absent peer ID");
	ok(!strcmp(err, "a peer ID is needed"), "says so");
	bin = ctl_arg_bin(&r, CTL_KEY_DATA);
	ok(bin && bin->len == 3 && !memcmp(bin->bin, "\x01\x02\x03", 3), "binary argument");
	ok(!ctl_arg_bin(&r, CTL_KEY_PEER) && !ctl_arg_bin(&r, CTL_KEY_NAME),
	   "no binary for text or absent");
	is(ctl_fail(err, 8, -ENOENT, "no %s here", "service"), -ENOENT,
	   "ctl_fail returns its code");
	ok(!strcmp(err, "no serv"), "and writes err, cut to its size");
}

/* Admit lists (CTL_KEY_PEERS) are decoded into an array followed by a
 * canary, as requests are. */
static struct {
	struct ctl_admit_entry e[CTL_ADMIT_MAX];
	uint8_t canary[sizeof(struct ctl_admit_entry)];
} list_guarded;

static int list_decode(size_t max, size_t *n, const uint8_t *data, size_t len, char *err,
                       size_t err_n)
{
	int rc;

	memset(list_guarded.canary, 0xa5, sizeof(list_guarded.canary));
	rc = ctl_admit_list_decode(list_guarded.e, max, n, data, len, err, err_n);
	for (size_t i = 0; i < sizeof(list_guarded.canary); i++)
		if (list_guarded.canary[i] != 0xa5) {
			overruns++;
			break;
		}
	return rc;
}

static void entry_key(struct ctl_admit_entry *e, unsigned i)
{
	for (size_t j = 0; j < PROTO_KEY_LEN; j++)
		e->peer[j] = (uint8_t)(j * 7 + 3);
	e->peer[0] = (uint8_t)i;
	e->peer[1] = (uint8_t)(i >> 8);
}

/* A list packed by hand: entries [peer text, endpoint]. */
static void list_start(uint32_t n)
{
	mp_buf_free(&buf);
	mp_buf_packer(&buf, &pk);
	msgpack_pack_array(&pk, n);
}

static void list_entry(const char *peer, const char *endpoint)
{
	msgpack_pack_array(&pk, 2);
	mp_pack_cstr(&pk, peer);
	mp_pack_cstr(&pk, endpoint);
}

static void test_admit_list(void)
{
	static struct ctl_admit_entry in[CTL_ADMIT_MAX + 1];
	char id[PROTO_PEERID_TEXT_LEN + 1], id2[PROTO_PEERID_TEXT_LEN + 1], err[200] = "";
	struct mp_buf out = {0};
	struct ctl_request r;
	size_t n = 99;
	int rc;

	for (unsigned i = 0; i <= CTL_ADMIT_MAX; i++) {
		entry_key(&in[i], i);
		if (i % 3) /* every third without an endpoint */
			snprintf(in[i].endpoint, sizeof(in[i].endpoint), "tcp://10.0.%u.%u:7707",
			         i / 256, i % 256);
	}
	is(ctl_admit_list_encode(&out, in, 3), 0, "a list of 3 encodes");
	is(list_decode(CTL_ADMIT_MAX, &n, out.data, out.len, err, sizeof(err)), 0, "and decodes");
	is(n, 3, "3 entries");
	ok(!memcmp(list_guarded.e[1].peer, in[1].peer, PROTO_KEY_LEN) &&
	       !strcmp(list_guarded.e[1].endpoint, "tcp://10.0.0.1:7707") &&
	       !list_guarded.e[0].endpoint[0],
	   "peers and endpoints kept, an absent endpoint empty");

	/* In a request, as kith sends it. */
	start(2);
	kv(CTL_KEY_CMD, CTL_CMD_ADMIT);
	mp_pack_cstr(&pk, CTL_KEY_PEERS);
	mp_pack_bin(&pk, out.data, out.len);
	is(decode(&r), 0, "an admit request with a list");
	ok(ctl_arg_bin(&r, CTL_KEY_PEERS) && ctl_arg_bin(&r, CTL_KEY_PEERS)->len == out.len,
	   "carries it as a binary");

	mp_buf_free(&out);
	is(ctl_admit_list_encode(&out, in, CTL_ADMIT_MAX), 0, "a list of CTL_ADMIT_MAX encodes");
	ok(out.len < CTL_REQUEST_MAX, "well within a request");
	is(list_decode(CTL_ADMIT_MAX, &n, out.data, out.len, err, sizeof(err)), 0, "and decodes");
	is(n, CTL_ADMIT_MAX, "every entry");
	ok(!memcmp(list_guarded.e[CTL_ADMIT_MAX - 1].peer, in[CTL_ADMIT_MAX - 1].peer,
	           PROTO_KEY_LEN),
	   "the last one too");
	is(list_decode(10, &n, out.data, out.len, err, sizeof(err)), KITH_ETOOBIG,
	   "more than the caller's room is refused");
	ok(strstr(err, "too long") != NULL, "the list is too long");
	is(n, 0, "no entry counted");
	mp_buf_free(&out);
	is(ctl_admit_list_encode(&out, in, CTL_ADMIT_MAX + 1), KITH_ETOOBIG,
	   "encoding more than CTL_ADMIT_MAX is refused");
	is(ctl_admit_list_encode(&out, in, 0), KITH_EVALUE, "and an empty list");
	ok(out.len == 0, "leaving the buffer untouched");

	proto_peerid_format(id, in[0].peer);
	proto_peerid_format(id2, in[1].peer);
	list_start(0);
	is(list_decode(CTL_ADMIT_MAX, &n, buf.data, buf.len, err, sizeof(err)), KITH_EVALUE,
	   "an empty list is refused");
	list_start(3);
	list_entry(id, "");
	list_entry(id2, "tcp://h:1");
	list_entry(id, "tcp://h:2");
	is(list_decode(CTL_ADMIT_MAX, &n, buf.data, buf.len, err, sizeof(err)), KITH_EVALUE,
	   "a peer listed twice is refused");
	ok(!strcmp(err, "peer 3 of 3 is peer 1 again"), err);
	list_start(3);
	list_entry(id, "");
	list_entry("ABCDEFG-not-a-peer", "");
	list_entry(id2, "");
	is(list_decode(CTL_ADMIT_MAX, &n, buf.data, buf.len, err, sizeof(err)), KITH_EVALUE,
	   "a bad peer ID is refused");
	ok(!strncmp(err, "peer 2 of 3: ", 13), err);
	{
		char big[PROTO_ENDPOINT_MAX + 2];
		memset(big, 'a', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		list_start(2);
		list_entry(id, "");
		list_entry(id2, big);
		is(list_decode(CTL_ADMIT_MAX, &n, buf.data, buf.len, err, sizeof(err)),
		   KITH_ETOOBIG, "an endpoint over PROTO_ENDPOINT_MAX is refused");
		ok(!strcmp(err, "peer 2 of 2: endpoint longer than 255 bytes"), err);
	}
	list_start(1);
	msgpack_pack_array(&pk, 3);
	mp_pack_cstr(&pk, id);
	mp_pack_cstr(&pk, "");
	mp_pack_cstr(&pk, "");
	is(list_decode(CTL_ADMIT_MAX, &n, buf.data, buf.len, err, sizeof(err)), KITH_ETOOBIG,
	   "an entry of three items is refused");
	ok(!strcmp(err, "peer 1 of 1: not a pair [peer ID, endpoint]"), err);
	list_start(1);
	mp_pack_cstr(&pk, id);
	is(list_decode(CTL_ADMIT_MAX, &n, buf.data, buf.len, err, sizeof(err)), KITH_ETYPE,
	   "an entry that is no array is refused");
	ok(!strcmp(err, "peer 1 of 1: not a pair [peer ID, endpoint]"), err);
	list_start(1);
	msgpack_pack_array(&pk, 2);
	mp_pack_cstr(&pk, id);
	msgpack_pack_uint64(&pk, 7707);
	is(list_decode(CTL_ADMIT_MAX, &n, buf.data, buf.len, err, sizeof(err)), KITH_ETYPE,
	   "an endpoint that is no text is refused");
	list_start(1);
	list_entry(id, "tcp://h:1");
	msgpack_pack_nil(&pk);
	is(list_decode(CTL_ADMIT_MAX, &n, buf.data, buf.len, err, sizeof(err)), KITH_ETRAIL,
	   "trailing bytes are refused");
	start(0);
	is(list_decode(CTL_ADMIT_MAX, &n, buf.data, buf.len, err, sizeof(err)), KITH_ETYPE,
	   "a map is no list");

	/* Every prefix of a valid list fails cleanly. */
	mp_buf_free(&out);
	ctl_admit_list_encode(&out, in, 5);
	rc = 0;
	for (size_t len = 0; len < out.len; len++)
		if (list_decode(CTL_ADMIT_MAX, &n, out.data, len, err, sizeof(err)) == 0)
			rc++;
	is(rc, 0, "no truncation of a list decodes");
	is(overruns, 0, "no write past the entries");
	mp_buf_free(&out);
	mp_buf_free(&buf);
}

int main(void)
{
	test_decode();
	test_helpers();
	test_admit_list();
	test_arg_count();
	test_malformed();
	test_socket();
	return tap_done();
}
