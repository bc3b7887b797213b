#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zmq.h>

#include "proto/error.h"
#include "proto/mp.h"
#include "control.h"
#include "log.h"
#include "loop.h"

/* Requests handled per wake-up, so a chatty client cannot starve peers. */
#define CONTROL_BATCH 16

/* ZeroMQ's routing IDs are 5 bytes for a peer that set none; 255 at most. */
#define CONTROL_ID_MAX 255

struct control_pending {
	uint8_t id[CONTROL_ID_MAX];
	size_t id_len;
	uint64_t tag; /* the request's CTL_KEY_TAG, 0: none */
	struct control_pending *next;
};

struct control {
	struct loop *loop;
	zmq_msg_t *current;              /* routing ID of the request being handled */
	uint64_t current_tag;            /* and its tag, 0: none */
	struct control_pending *pending; /* deferred requests awaiting control_finish() */
	void *socket;
	char path[256]; /* the socket file */
	const struct control_command *commands;
	size_t n_commands;
	void *arg;
};

/* Runs one request. Packs the whole reply into out and returns 0, or
 * returns CONTROL_DEFERRED when the command will answer later. */
static int handle(struct control *c, const uint8_t *buf, size_t len, struct mp_buf *out)
{
	struct ctl_request req;
	struct mp_buf data = {0};
	msgpack_packer dpk;
	char err[256] = "";
	int rc = ctl_request_decode(&req, buf, len);

	if (rc) {
		snprintf(err, sizeof(err), "malformed request: %s", proto_strerror(rc));
		ctl_reply_pack(out, 0, rc, err, &data);
		return 0;
	}
	if (ctl_arg_uint(&req, CTL_KEY_TAG, &c->current_tag) != 0)
		c->current_tag = 0;
	for (size_t i = 0; i < c->n_commands; i++) {
		if (strcmp(c->commands[i].name, req.cmd))
			continue;
		mp_buf_packer(&data, &dpk);
		rc = c->commands[i].fn(c->arg, &req, &dpk, err, sizeof(err));
		if (rc != CONTROL_DEFERRED)
			ctl_reply_pack(out, c->current_tag, rc, err, &data);
		mp_buf_free(&data);
		return rc == CONTROL_DEFERRED ? CONTROL_DEFERRED : 0;
	}
	snprintf(err, sizeof(err), "unknown command '%s' (is kith newer than this kithd?)",
	         req.cmd);
	ctl_reply_pack(out, c->current_tag, KITH_EVALUE, err, &data);
	return 0;
}

/* Receives one multipart message into parts[0..3); returns how many frames
 * it had (more than 3 are read and dropped), 0 when none is waiting. */
static int recv_frames(void *socket, zmq_msg_t parts[3])
{
	int n = 0;
	zmq_msg_t extra;

	for (;;) {
		zmq_msg_t *m = n < 3 ? &parts[n] : &extra;
		zmq_msg_init(m);
		if (zmq_msg_recv(m, socket, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(m);
			return n;
		}
		n++;
		if (!zmq_msg_more(m)) {
			if (m == &extra)
				zmq_msg_close(m);
			return n;
		}
		if (m == &extra)
			zmq_msg_close(m);
	}
}

static void reply(struct control *c, const void *id, size_t id_len, const struct mp_buf *out)
{
	if (out->err || zmq_send(c->socket, id, id_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
	    zmq_send(c->socket, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
	    zmq_send(c->socket, out->data, out->len, ZMQ_DONTWAIT) < 0)
		log_debug("control: reply not sent: %s",
		          out->err ? proto_strerror(out->err) : zmq_strerror(errno));
	/* A deferred reply is sent outside the socket's handler. */
	loop_kick(c->loop, c->socket);
}

static void on_readable(struct loop *l, void *arg, short revents)
{
	struct control *c = arg;

	(void)l;
	if (!(revents & ZMQ_POLLIN))
		return;
	for (int i = 0; i < CONTROL_BATCH; i++) {
		zmq_msg_t parts[3];
		struct mp_buf out = {0};
		int n = recv_frames(c->socket, parts);

		if (n == 0)
			return;
		/* A REQ client sends [identity][empty][request]. */
		if (n == 3 && zmq_msg_size(&parts[1]) == 0 &&
		    zmq_msg_size(&parts[0]) <= CONTROL_ID_MAX) {
			c->current = &parts[0];
			if (handle(c, zmq_msg_data(&parts[2]), zmq_msg_size(&parts[2]), &out) == 0)
				reply(c, zmq_msg_data(&parts[0]), zmq_msg_size(&parts[0]), &out);
			c->current = NULL;
			mp_buf_free(&out);
		} else {
			log_debug("control: malformed request envelope dropped");
		}
		for (int j = 0; j < n && j < 3; j++)
			zmq_msg_close(&parts[j]);
	}
}

int control_new(struct control **out, struct loop *l, void *zmq_ctx, const char *data_dir,
                const struct control_command *commands, size_t n, void *arg)
{
	struct control *c = calloc(1, sizeof(*c));
	char endpoint[300];
	int64_t max = CTL_REQUEST_MAX;
	int linger = 0, len, err;
	mode_t old_mask;

	if (!c)
		return -ENOMEM;
	c->loop = l;
	c->commands = commands;
	c->n_commands = n;
	c->arg = arg;
	len = snprintf(c->path, sizeof(c->path), "%s/%s", data_dir, CTL_SOCKET);
	/* sun_path holds 108 bytes on Linux. */
	if (len < 0 || (size_t)len >= 108) {
		free(c);
		return -ENAMETOOLONG;
	}
	snprintf(endpoint, sizeof(endpoint), "ipc://%s", c->path);
	c->socket = zmq_socket(zmq_ctx, ZMQ_ROUTER);
	if (!c->socket) {
		err = -errno;
		free(c);
		return err;
	}
	zmq_setsockopt(c->socket, ZMQ_MAXMSGSIZE, &max, sizeof(max));
	zmq_setsockopt(c->socket, ZMQ_LINGER, &linger, sizeof(linger));
	/* The socket file is created 0600 from the start, not chmod()ed
	 * after: no moment where another user could connect. */
	old_mask = umask(077);
	err = zmq_bind(c->socket, endpoint) == 0 ? 0 : -errno;
	umask(old_mask);
	if (!err && chmod(c->path, 0600) != 0)
		err = -errno;
	if (!err)
		err = loop_watch(l, c->socket, -1, ZMQ_POLLIN, on_readable, c);
	if (err) {
		zmq_close(c->socket);
		free(c);
		return err;
	}
	*out = c;
	return 0;
}

struct control_pending *control_defer(struct control *c)
{
	struct control_pending *p;

	if (!c->current)
		return NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->id_len = zmq_msg_size(c->current);
	p->tag = c->current_tag;
	memcpy(p->id, zmq_msg_data(c->current), p->id_len);
	p->next = c->pending;
	c->pending = p;
	return p;
}

void control_finish(struct control *c, struct control_pending *p, int rc, const char *err,
                    const struct mp_buf *data)
{
	static const struct mp_buf none;
	struct control_pending **at = &c->pending;
	struct mp_buf out = {0};

	while (*at && *at != p)
		at = &(*at)->next;
	if (!*at)
		return; /* not ours, or already finished */
	*at = p->next;
	ctl_reply_pack(&out, p->tag, rc, err, data ? data : &none);
	reply(c, p->id, p->id_len, &out);
	mp_buf_free(&out);
	free(p);
}

void control_free(struct control **c)
{
	if (!c || !*c)
		return;
	while ((*c)->pending)
		control_finish(*c, (*c)->pending, -ECANCELED, "kithd is stopping", NULL);
	loop_unwatch((*c)->loop, (*c)->socket, -1);
	zmq_close((*c)->socket);
	unlink((*c)->path);
	free(*c);
	*c = NULL;
}
