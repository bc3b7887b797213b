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

#include "agent/ctl.h"
#include "agent/loop.h"
#include "proto/error.h"
#include "proto/mp.h"
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

static int decode(struct ctl_request *r)
{
	return ctl_request_decode(r, buf.data, buf.len);
}

static void test_decode(void)
{
	struct ctl_request r;
	char text[8];
	uint64_t v = 0;

	start(4);
	kv("cmd", "admit");
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
	kv("cmd", "a");
	kv("cmd", "b");
	is(decode(&r), KITH_EDUPKEY, "command twice");
	start(3);
	kv("cmd", "a");
	kv("x", "1");
	kv("x", "2");
	is(decode(&r), KITH_EDUPKEY, "argument twice");
	start(2);
	kv("cmd", "a");
	mp_pack_cstr(&pk, "list");
	msgpack_pack_array(&pk, 0);
	is(decode(&r), KITH_ETYPE, "an array argument");
	start(CTL_ARGS_MAX + 2);
	kv("cmd", "a");
	for (int i = 0; i <= CTL_ARGS_MAX; i++) {
		char key[8];
		snprintf(key, sizeof(key), "k%d", i);
		kv(key, "v");
	}
	is(decode(&r), KITH_ETOOBIG, "too many arguments");
	start(1);
	kv("cmd", "a");
	msgpack_pack_nil(&pk);
	is(decode(&r), KITH_ETRAIL, "trailing bytes");
	start(1);
	kv("cmd", "a-command-name-much-longer-than-allowed");
	ok(decode(&r) != 0, "over-long command name");
	is(ctl_request_decode(&r, (const uint8_t *)"\xc1", 1), KITH_EMALFORMED, "not msgpack");
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

static const struct ctl_command commands[] = {{"echo", echo}};

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

/* The reply is {"ok": want_ok, "data"|"error": text containing want}. */
static int reply_is(const uint8_t *reply, int len, bool want_ok, const char *want)
{
	struct mp_reader r;
	uint32_t n = 0;
	char key[8], value[200];
	bool okv = !want_ok;

	if (len <= 0)
		return 0;
	mp_reader_init(&r, reply, (size_t)len);
	mp_read_map(&r, &n, 2);
	mp_read_text(&r, key, sizeof(key) - 1);
	mp_read_bool(&r, &okv);
	mp_read_text(&r, key, sizeof(key) - 1);
	mp_read_text(&r, value, sizeof(value) - 1);
	return mp_finish(&r) == 0 && n == 2 && okv == want_ok && strstr(value, want) != NULL;
}

static void test_socket(void)
{
	char dir[] = "/tmp/kith-test-ctl-XXXXXX", path[300], endpoint[320];
	struct loop *l = NULL;
	struct ctl *c = NULL;
	void *ctx = zmq_ctx_new(), *req;
	uint8_t reply[512];
	struct stat st;
	int got;

	ok(mkdtemp(dir) != NULL, "temp dir");
	loop_new(&l);
	is(ctl_new(&c, l, ctx, dir, commands, 1, NULL), 0, "bind the control socket");
	snprintf(path, sizeof(path), "%s/%s", dir, CTL_SOCKET);
	ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600, "socket file is 0600");
	req = zmq_socket(ctx, ZMQ_REQ);
	snprintf(endpoint, sizeof(endpoint), "ipc://%s", path);
	zmq_connect(req, endpoint);

	start(2);
	kv("cmd", "echo");
	kv("say", "hello");
	got = exchange(l, req, reply, sizeof(reply));
	ok(reply_is(reply, got, true, "hello"), "a command's data comes back");
	start(1);
	kv("cmd", "echo");
	got = exchange(l, req, reply, sizeof(reply));
	ok(reply_is(reply, got, false, "say what?"), "a command's error comes back");
	start(1);
	kv("cmd", "nosuch");
	got = exchange(l, req, reply, sizeof(reply));
	ok(reply_is(reply, got, false, "unknown command 'nosuch'"), "unknown command");
	mp_buf_free(&buf);
	buf.data = (uint8_t *)strdup("\x93garbage");
	buf.len = 8;
	got = exchange(l, req, reply, sizeof(reply));
	ok(reply_is(reply, got, false, "malformed request"), "malformed request answered");
	ctl_free(&c);
	ok(access(path, F_OK) != 0, "socket file removed on free");
	zmq_close(req);
	zmq_ctx_term(ctx);
	loop_free(&l);
	rmdir(dir);
	mp_buf_free(&buf);
}

int main(void)
{
	test_decode();
	test_socket();
	return tap_done();
}
