#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <zmq.h>

#include "proto/ctl.h"
#include "cli.h"
#include "json.h"
#include "agentctl.h"

/* The agent's reply may list every member and record counter; this is far
 * above that and still bounds what kith allocates. */
#define REPLY_MAX (16 << 20)

void agentctl_begin(struct agentctl_request *r, const char *cmd)
{
	mp_map_begin(&r->map);
	/* First, as kith always sent it (kithd takes it in any place). */
	mp_map_str(&r->map, CTL_KEY_CMD, cmd);
}

void agentctl_arg_text(struct agentctl_request *r, const char *key, const char *value)
{
	mp_map_str(&r->map, key, value);
}

void agentctl_arg_uint(struct agentctl_request *r, const char *key, uint64_t value)
{
	mp_map_uint(&r->map, key, value);
}

void agentctl_arg_flag(struct agentctl_request *r, const char *key, bool value)
{
	mp_map_bool(&r->map, key, value);
}

void agentctl_arg_bin(struct agentctl_request *r, const char *key, const uint8_t *b, size_t len)
{
	mp_map_bin(&r->map, key, b, len);
}

/* Is something listening on the unix socket at path? ZeroMQ would happily
 * queue a request for a socket nobody serves; a plain connect() tells. */
int agentctl_check_listening(const char *path, const char *data_dir)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat st;
	int fd, rc;

	if (stat(path, &st) != 0)
		return cli_fail("kithd is not running on %s (no control socket)", data_dir);
	if (strlen(path) >= sizeof(sa.sun_path))
		return cli_fail("data directory path too long for a control socket: %s", data_dir);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0)
		return cli_fail("socket: %s", strerror(errno));
	rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	if (rc != 0)
		rc = errno;
	close(fd);
	if (rc == ECONNREFUSED)
		return cli_fail("kithd is not running on %s (stale control socket)", data_dir);
	if (rc == EACCES)
		return cli_fail("no permission to talk to kithd on %s (run as its user)", data_dir);
	if (rc)
		return cli_fail("cannot reach kithd on %s: %s", data_dir, strerror(rc));
	return CLI_OK;
}

/* Sends the request and receives the reply bytes into *msg. */
static int exchange(const char *path, const struct mp_buf *req, zmq_msg_t *msg)
{
	char endpoint[4300];
	void *ctx = zmq_ctx_new(), *s = ctx ? zmq_socket(ctx, ZMQ_REQ) : NULL;
	int timeout = AGENTCTL_TIMEOUT_MS, linger = 0, rc = CLI_FAIL;
	int64_t max = REPLY_MAX;

	if (!s) {
		cli_fail("cannot create a ZeroMQ socket: %s", zmq_strerror(errno));
		goto out;
	}
	zmq_setsockopt(s, ZMQ_RCVTIMEO, &timeout, sizeof(timeout));
	zmq_setsockopt(s, ZMQ_SNDTIMEO, &timeout, sizeof(timeout));
	zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
	zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &max, sizeof(max));
	snprintf(endpoint, sizeof(endpoint), "ipc://%s", path);
	if (zmq_connect(s, endpoint) != 0 || zmq_send(s, req->data, req->len, 0) < 0) {
		cli_fail("cannot send to kithd: %s", zmq_strerror(errno));
		goto out;
	}
	if (zmq_msg_recv(msg, s, 0) < 0) {
		cli_fail(errno == EAGAIN ? "kithd did not answer within %d s"
		                         : "no answer from kithd (%d s)",
		         AGENTCTL_TIMEOUT_MS / 1000);
		goto out;
	}
	rc = CLI_OK;
out:
	if (s)
		zmq_close(s);
	if (ctx)
		zmq_ctx_term(ctx);
	return rc;
}

int agentctl_call(const char *data_dir, struct agentctl_request *r, struct agentctl_reply *reply)
{
	char path[4200], text[512];
	const msgpack_object *ok;
	struct mp_buf req = {0};
	msgpack_packer pk;
	zmq_msg_t msg;
	size_t off = 0;
	int rc;

	memset(reply, 0, sizeof(*reply));
	msgpack_unpacked_init(&reply->unpacked);
	zmq_msg_init(&msg);
	snprintf(path, sizeof(path), "%s/%s", data_dir, CTL_SOCKET);
	mp_buf_packer(&req, &pk);
	mp_map_end(&r->map, &pk);
	rc = req.err ? cli_fail("out of memory") : agentctl_check_listening(path, data_dir);
	if (rc == CLI_OK)
		rc = exchange(path, &req, &msg);
	mp_buf_free(&req);
	if (rc != CLI_OK)
		goto out;
	/* The unpacked strings point into the bytes: keep a copy that lives
	 * as long as the reply. */
	reply->bytes = malloc(zmq_msg_size(&msg) ? zmq_msg_size(&msg) : 1);
	if (!reply->bytes) {
		rc = cli_fail("out of memory");
		goto out;
	}
	memcpy(reply->bytes, zmq_msg_data(&msg), zmq_msg_size(&msg));
	if (msgpack_unpack_next(&reply->unpacked, reply->bytes, zmq_msg_size(&msg), &off) !=
	    MSGPACK_UNPACK_SUCCESS) {
		rc = cli_fail("kithd sent a reply kith cannot read (different versions?)");
		goto out;
	}
	ok = agentctl_get(&reply->unpacked.data, CTL_REPLY_OK);
	if (!ok || ok->type != MSGPACK_OBJECT_BOOLEAN) {
		rc = cli_fail("kithd sent a reply kith cannot read (different versions?)");
		goto out;
	}
	if (!ok->via.boolean) {
		rc = cli_fail("%s", agentctl_text(&reply->unpacked.data, CTL_REPLY_ERROR, text,
		                                  sizeof(text)));
		goto out;
	}
	reply->data = agentctl_get(&reply->unpacked.data, CTL_REPLY_DATA);
out:
	zmq_msg_close(&msg);
	if (rc != CLI_OK)
		agentctl_reply_free(reply);
	return rc;
}

void agentctl_reply_free(struct agentctl_reply *reply)
{
	msgpack_unpacked_destroy(&reply->unpacked);
	free(reply->bytes);
	reply->bytes = NULL;
	reply->data = NULL;
}

const msgpack_object *agentctl_get(const msgpack_object *obj, const char *key)
{
	size_t len = strlen(key);

	if (!obj || obj->type != MSGPACK_OBJECT_MAP)
		return NULL;
	for (uint32_t i = 0; i < obj->via.map.size; i++) {
		const msgpack_object *k = &obj->via.map.ptr[i].key;
		if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == len &&
		    !memcmp(k->via.str.ptr, key, len))
			return &obj->via.map.ptr[i].val;
	}
	return NULL;
}

const char *agentctl_text(const msgpack_object *obj, const char *key, char *buf, size_t n)
{
	const msgpack_object *v = agentctl_get(obj, key);

	if (!v || v->type != MSGPACK_OBJECT_STR)
		snprintf(buf, n, "%s", "");
	else
		snprintf(buf, n, "%.*s", (int)v->via.str.size, v->via.str.ptr);
	return buf;
}

uint64_t agentctl_uint(const msgpack_object *obj, const char *key)
{
	const msgpack_object *v = agentctl_get(obj, key);

	return v && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? v->via.u64 : 0;
}

void agentctl_json(FILE *f, const msgpack_object *obj)
{
	switch (obj->type) {
	case MSGPACK_OBJECT_NIL:
		fputs("null", f);
		return;
	case MSGPACK_OBJECT_BOOLEAN:
		fputs(obj->via.boolean ? "true" : "false", f);
		return;
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		fprintf(f, "%llu", (unsigned long long)obj->via.u64);
		return;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		fprintf(f, "%lld", (long long)obj->via.i64);
		return;
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		fprintf(f, "%.17g", obj->via.f64);
		return;
	case MSGPACK_OBJECT_STR:
		json_string(f, obj->via.str.ptr, obj->via.str.size);
		return;
	case MSGPACK_OBJECT_BIN:
		fputc('"', f);
		for (uint32_t i = 0; i < obj->via.bin.size; i++)
			fprintf(f, "%02x", (unsigned char)obj->via.bin.ptr[i]);
		fputc('"', f);
		return;
	case MSGPACK_OBJECT_ARRAY:
		fputc('[', f);
		for (uint32_t i = 0; i < obj->via.array.size; i++) {
			if (i)
				fputc(',', f);
			agentctl_json(f, &obj->via.array.ptr[i]);
		}
		fputc(']', f);
		return;
	case MSGPACK_OBJECT_MAP:
		fputc('{', f);
		for (uint32_t i = 0; i < obj->via.map.size; i++) {
			const msgpack_object *k = &obj->via.map.ptr[i].key;
			if (i)
				fputc(',', f);
			if (k->type == MSGPACK_OBJECT_STR)
				json_string(f, k->via.str.ptr, k->via.str.size);
			else
				fputs("\"?\"", f);
			fputc(':', f);
			agentctl_json(f, &obj->via.map.ptr[i].val);
		}
		fputc('}', f);
		return;
	case MSGPACK_OBJECT_EXT:
		break;
	}
	fputs("null", f);
}

int agentctl_run(const char *data_dir, struct agentctl_request *r, bool json,
                 void (*render)(const msgpack_object *data))
{
	struct agentctl_reply reply;
	int rc = agentctl_call(data_dir, r, &reply);

	if (rc != CLI_OK)
		return rc;
	if (json)
		agentctl_print_json(&reply);
	else if (render)
		render(reply.data);
	agentctl_reply_free(&reply);
	return CLI_OK;
}

int agentctl_query_main(int argc, char **argv, const char *cmd, const char *usage,
                        void (*render)(const msgpack_object *data))
{
	bool json = false;
	const struct cli_opt opts[] = {{"json", NULL, &json}, {NULL, NULL, NULL}};
	struct agentctl_request r;
	struct cli_args args;
	char data_dir[4096];
	int rc = cli_parse(argc, argv, usage, opts, 0, &args, data_dir, sizeof(data_dir));

	if (rc != CLI_CONTINUE)
		return rc;
	agentctl_begin(&r, cmd);
	return agentctl_run(data_dir, &r, json, render);
}

void agentctl_print_json(const struct agentctl_reply *reply)
{
	if (reply->data)
		agentctl_json(stdout, reply->data);
	else
		fputs("null", stdout);
	fputc('\n', stdout);
}
