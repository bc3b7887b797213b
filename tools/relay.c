#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <msgpack.h>
#include <zmq.h>

#include "proto/ctl.h"
#include "proto/error.h"
#include "proto/peerid.h"
#include "agentctl.h"
#include "cli.h"
#include "relay.h"

/* A reply carries one piece (PROTO_HOLD_PIECE_MAX) and a little framing. */
#define RELAY_REPLY_MAX (1 << 20)

struct slot {
	uint64_t tag; /* 0: free */
	uint64_t deadline_ms;
	relay_done done;
	void *arg;
};

struct relay {
	void *ctx, *socket;
	uint64_t next_tag;
	unsigned in_flight;
	int ended; /* requests ended in this relay_wait() */
	struct slot slots[RELAY_SLOTS];
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int relay_open(struct relay **out, const char *data_dir)
{
	char path[4200], endpoint[4300];
	struct relay *r;
	int linger = 0;
	int64_t max = RELAY_REPLY_MAX;

	*out = NULL;
	snprintf(path, sizeof(path), "%s/%s", data_dir, CTL_SOCKET);
	if (agentctl_check_listening(path, data_dir) != CLI_OK)
		return CLI_FAIL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return cli_fail("out of memory");
	r->ctx = zmq_ctx_new();
	r->socket = r->ctx ? zmq_socket(r->ctx, ZMQ_DEALER) : NULL;
	if (!r->socket) {
		cli_fail("cannot create a ZeroMQ socket: %s", zmq_strerror(errno));
		relay_close(&r);
		return CLI_FAIL;
	}
	zmq_setsockopt(r->socket, ZMQ_LINGER, &linger, sizeof(linger));
	zmq_setsockopt(r->socket, ZMQ_MAXMSGSIZE, &max, sizeof(max));
	snprintf(endpoint, sizeof(endpoint), "ipc://%s", path);
	if (zmq_connect(r->socket, endpoint) != 0) {
		cli_fail("cannot connect to kithd: %s", zmq_strerror(errno));
		relay_close(&r);
		return CLI_FAIL;
	}
	*out = r;
	return CLI_OK;
}

void relay_close(struct relay **r)
{
	if (!r || !*r)
		return;
	if ((*r)->socket)
		zmq_close((*r)->socket);
	if ((*r)->ctx)
		zmq_ctx_term((*r)->ctx);
	free(*r);
	*r = NULL;
}

unsigned relay_in_flight(const struct relay *r)
{
	return r->in_flight;
}

static void free_buf(void *data, void *hint)
{
	(void)hint;
	free(data);
}

int relay_send(struct relay *r, const uint8_t peer[PROTO_KEY_LEN], const char *op,
               const struct mp_buf *args, relay_done done, void *arg)
{
	char id[PROTO_PEERID_TEXT_LEN + 1];
	struct mp_map m;
	struct mp_buf buf = {0};
	msgpack_packer pk;
	struct slot *s = NULL;
	int rc = 0;

	for (size_t i = 0; i < RELAY_SLOTS && !s; i++)
		if (!r->slots[i].tag)
			s = &r->slots[i];
	if (!s)
		return -EBUSY;
	proto_peerid_format(id, peer);
	mp_map_begin(&m);
	mp_map_str(&m, CTL_KEY_CMD, CTL_CMD_HOLD);
	mp_map_uint(&m, CTL_KEY_TAG, ++r->next_tag);
	mp_map_str(&m, CTL_KEY_PEER, id);
	mp_map_str(&m, CTL_KEY_OP, op);
	if (args)
		mp_map_bin(&m, CTL_KEY_ARGS, args->data, args->len);
	mp_buf_packer(&buf, &pk);
	rc = mp_map_end(&m, &pk);
	if (!rc && buf.err)
		rc = buf.err;
	/* DEALER to ROUTER: an empty delimiter, then the request, as REQ
	 * would send it; kithd answers the same way. The request's buffer
	 * goes to ZeroMQ as it is (it frees it once sent): a piece is not
	 * copied once more. */
	if (!rc && zmq_send(r->socket, "", 0, ZMQ_SNDMORE) < 0)
		rc = -errno;
	if (!rc) {
		zmq_msg_t msg;
		if (zmq_msg_init_data(&msg, buf.data, buf.len, free_buf, NULL) != 0) {
			rc = -errno;
		} else {
			buf = (struct mp_buf){0}; /* ZeroMQ's now */
			if (zmq_msg_send(&msg, r->socket, 0) < 0) {
				rc = -errno;
				zmq_msg_close(&msg);
			}
		}
	}
	mp_buf_free(&buf);
	if (rc)
		return rc;
	*s = (struct slot){r->next_tag, now_ms() + RELAY_TIMEOUT_MS, done, arg};
	r->in_flight++;
	return 0;
}

static struct slot *slot_of(struct relay *r, uint64_t tag)
{
	for (size_t i = 0; tag && i < RELAY_SLOTS; i++)
		if (r->slots[i].tag == tag)
			return &r->slots[i];
	return NULL;
}

static void end(struct relay *r, struct slot *s, int code, const char *err, const uint8_t *result,
                size_t len)
{
	struct slot copy = *s;

	s->tag = 0;
	r->in_flight--;
	r->ended++;
	copy.done(copy.arg, code, err, result, len);
}

/* One reply: {tag, ok: true, data: bin} or {tag, ok: false, error, code}. */
static void on_reply(struct relay *r, const uint8_t *buf, size_t len)
{
	msgpack_unpacked u;
	const msgpack_object *tag, *ok, *data, *code;
	char err[512];
	size_t off = 0;
	struct slot *s;

	msgpack_unpacked_init(&u);
	if (msgpack_unpack_next(&u, (const char *)buf, len, &off) != MSGPACK_UNPACK_SUCCESS)
		goto out;
	tag = agentctl_get(&u.data, CTL_REPLY_TAG);
	ok = agentctl_get(&u.data, CTL_REPLY_OK);
	if (!tag || tag->type != MSGPACK_OBJECT_POSITIVE_INTEGER || !ok ||
	    ok->type != MSGPACK_OBJECT_BOOLEAN || !(s = slot_of(r, tag->via.u64)))
		goto out;
	if (ok->via.boolean) {
		data = agentctl_get(&u.data, CTL_REPLY_DATA);
		if (data && data->type == MSGPACK_OBJECT_BIN)
			end(r, s, 0, "", (const uint8_t *)data->via.bin.ptr, data->via.bin.size);
		else
			end(r, s, KITH_EMALFORMED, "kithd's reply holds no result", NULL, 0);
	} else {
		code = agentctl_get(&u.data, CTL_REPLY_CODE);
		agentctl_text(&u.data, CTL_REPLY_ERROR, err, sizeof(err));
		end(r, s,
		    code && code->type == MSGPACK_OBJECT_POSITIVE_INTEGER && code->via.u64 &&
		            code->via.u64 < 100000
		        ? -(int)code->via.u64
		        : KITH_EVALUE,
		    err, NULL, 0);
	}
out:
	msgpack_unpacked_destroy(&u);
}

static void expire(struct relay *r)
{
	uint64_t now = now_ms();

	for (size_t i = 0; i < RELAY_SLOTS; i++)
		if (r->slots[i].tag && r->slots[i].deadline_ms <= now)
			end(r, &r->slots[i], -ETIMEDOUT, "kithd did not answer in time", NULL, 0);
}

int relay_wait(struct relay *r, int timeout_ms)
{
	zmq_pollitem_t item = {.socket = r->socket, .events = ZMQ_POLLIN};
	int rc = zmq_poll(&item, 1, timeout_ms);

	r->ended = 0;
	if (rc < 0 && errno != EINTR)
		return -errno;
	for (;;) {
		zmq_msg_t delim, body;
		int got;

		zmq_msg_init(&delim);
		zmq_msg_init(&body);
		got = zmq_msg_recv(&delim, r->socket, ZMQ_DONTWAIT);
		if (got >= 0 && zmq_msg_more(&delim) &&
		    zmq_msg_recv(&body, r->socket, ZMQ_DONTWAIT) >= 0)
			on_reply(r, zmq_msg_data(&body), zmq_msg_size(&body));
		/* Frames past the second belong to no reply kithd sends. */
		while (got >= 0 && zmq_msg_more(&body)) {
			zmq_msg_close(&body);
			zmq_msg_init(&body);
			if (zmq_msg_recv(&body, r->socket, ZMQ_DONTWAIT) < 0)
				break;
		}
		zmq_msg_close(&delim);
		zmq_msg_close(&body);
		if (got < 0)
			break;
	}
	expire(r);
	return r->ended;
}
