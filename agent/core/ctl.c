#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zmq.h>

#include "proto/error.h"
#include "proto/mp.h"
#include "ctl.h"
#include "log.h"
#include "loop.h"

/* Requests handled per wake-up, so a chatty client cannot starve peers. */
#define CTL_BATCH 16

/* ZeroMQ's routing IDs are 5 bytes for a peer that set none; 255 at most. */
#define CTL_ID_MAX 255

struct ctl_pending {
	uint8_t id[CTL_ID_MAX];
	size_t id_len;
	struct ctl_pending *next;
};

struct ctl {
	struct loop *loop;
	zmq_msg_t *current;          /* routing ID of the request being handled */
	struct ctl_pending *pending; /* deferred requests awaiting ctl_finish() */
	void *socket;
	char path[256]; /* the socket file */
	const struct ctl_command *commands;
	size_t n_commands;
	void *arg;
};

static int read_arg(struct mp_reader *r, struct ctl_arg *a)
{
	switch (mp_peek_kind(r)) {
	case MP_KIND_STR:
		a->type = CTL_ARG_TEXT;
		return mp_read_str(r, &a->text, &a->len, CTL_REQUEST_MAX);
	case MP_KIND_UINT:
		a->type = CTL_ARG_UINT;
		return mp_read_uint(r, &a->uint);
	case MP_KIND_BOOL:
		a->type = CTL_ARG_BOOL;
		return mp_read_bool(r, &a->boolean);
	case MP_KIND_BIN:
		a->type = CTL_ARG_BIN;
		return mp_read_bin(r, &a->bin, &a->len, CTL_REQUEST_MAX);
	case MP_KIND_NONE:
		return r->err;
	case MP_KIND_OTHER:
		break;
	}
	/* mp_peek_kind() saw a byte, so r->p is inside the buffer; 0xc1 is
	 * never msgpack, anything else is a type no argument has. */
	return mp_fail(r, *r->p == 0xc1 ? KITH_EMALFORMED : KITH_ETYPE);
}

static const struct ctl_arg *find_arg(const struct ctl_request *r, const char *key)
{
	for (size_t i = 0; i < r->n_args; i++)
		if (!strcmp(r->args[i].key, key))
			return &r->args[i];
	return NULL;
}

/* Reads one key and its value into out. The key goes to a local buffer
 * first: only once it is known to be a new argument, and out->args to have
 * room for it, is a slot of out->args touched. */
static int read_entry(struct mp_reader *r, struct ctl_request *out, bool *have_cmd)
{
	char key[CTL_KEY_MAX + 1];
	struct ctl_arg *a;

	if (mp_read_text(r, key, CTL_KEY_MAX))
		return r->err;
	if (!strcmp(key, "cmd")) {
		if (*have_cmd)
			return mp_fail(r, KITH_EDUPKEY);
		*have_cmd = true;
		if (mp_read_text(r, out->cmd, CTL_CMD_MAX))
			return r->err;
		return out->cmd[0] ? 0 : mp_fail(r, KITH_EVALUE);
	}
	if (find_arg(out, key))
		return mp_fail(r, KITH_EDUPKEY);
	if (out->n_args >= CTL_ARGS_MAX)
		return mp_fail(r, KITH_ETOOBIG);
	a = &out->args[out->n_args];
	memcpy(a->key, key, sizeof(a->key));
	if (read_arg(r, a))
		return r->err;
	out->n_args++;
	return 0;
}

int ctl_request_decode(struct ctl_request *out, const uint8_t *buf, size_t len)
{
	struct mp_reader r;
	uint32_t n = 0;
	bool have_cmd = false;

	memset(out, 0, sizeof(*out));
	if (len > CTL_REQUEST_MAX)
		return KITH_ETOOBIG;
	mp_reader_init(&r, buf, len);
	/* "cmd" and up to CTL_ARGS_MAX arguments; a bigger map is refused
	 * here, and read_entry() refuses a 17th argument when "cmd" is
	 * missing. */
	mp_read_map(&r, &n, CTL_ARGS_MAX + 1);
	for (uint32_t i = 0; i < n && !r.err; i++)
		read_entry(&r, out, &have_cmd);
	if (mp_finish(&r))
		return r.err;
	return have_cmd ? 0 : KITH_EMISSING;
}

int ctl_arg_text(const struct ctl_request *r, const char *key, char *out, size_t n)
{
	const struct ctl_arg *a = find_arg(r, key);

	if (!a)
		return -ENOENT;
	if (a->type != CTL_ARG_TEXT)
		return KITH_ETYPE;
	if (a->len >= n)
		return KITH_ETOOBIG;
	if (memchr(a->text, '\0', a->len))
		return KITH_EVALUE;
	memcpy(out, a->text, a->len);
	out[a->len] = '\0';
	return 0;
}

int ctl_arg_uint(const struct ctl_request *r, const char *key, uint64_t *out)
{
	const struct ctl_arg *a = find_arg(r, key);

	if (!a)
		return -ENOENT;
	if (a->type != CTL_ARG_UINT)
		return KITH_ETYPE;
	*out = a->uint;
	return 0;
}

bool ctl_arg_flag(const struct ctl_request *r, const char *key)
{
	const struct ctl_arg *a = find_arg(r, key);

	return a && a->type == CTL_ARG_BOOL && a->boolean;
}

static void pack_error(msgpack_packer *pk, const char *text)
{
	msgpack_pack_map(pk, 2);
	mp_pack_cstr(pk, "ok");
	msgpack_pack_false(pk);
	mp_pack_cstr(pk, "error");
	mp_pack_cstr(pk, text);
}

/* Packs the reply to a command that returned rc, with err or data. */
static void pack_reply(struct mp_buf *out, int rc, const char *err, const struct mp_buf *data)
{
	msgpack_packer pk;

	mp_buf_packer(out, &pk);
	if (!rc && data->err)
		rc = data->err;
	if (rc) {
		pack_error(&pk, err && err[0] ? err : proto_strerror(rc));
		return;
	}
	msgpack_pack_map(&pk, 2);
	mp_pack_cstr(&pk, "ok");
	msgpack_pack_true(&pk);
	mp_pack_cstr(&pk, "data");
	/* data holds exactly one packed value: copy its bytes */
	pk.callback(pk.data, (const char *)data->data, data->len);
}

/* Runs one request. Packs the whole reply into out and returns 0, or
 * returns CTL_DEFERRED when the command will answer later. */
static int handle(struct ctl *c, const uint8_t *buf, size_t len, struct mp_buf *out)
{
	struct ctl_request req;
	struct mp_buf data = {0};
	msgpack_packer dpk;
	char err[256] = "";
	int rc = ctl_request_decode(&req, buf, len);

	if (rc) {
		snprintf(err, sizeof(err), "malformed request: %s", proto_strerror(rc));
		pack_reply(out, rc, err, &data);
		return 0;
	}
	for (size_t i = 0; i < c->n_commands; i++) {
		if (strcmp(c->commands[i].name, req.cmd))
			continue;
		mp_buf_packer(&data, &dpk);
		rc = c->commands[i].fn(c->arg, &req, &dpk, err, sizeof(err));
		if (rc != CTL_DEFERRED)
			pack_reply(out, rc, err, &data);
		mp_buf_free(&data);
		return rc == CTL_DEFERRED ? CTL_DEFERRED : 0;
	}
	snprintf(err, sizeof(err), "unknown command '%s' (is kith newer than this kithd?)",
	         req.cmd);
	pack_reply(out, KITH_EVALUE, err, &data);
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

static void reply(struct ctl *c, const void *id, size_t id_len, const struct mp_buf *out)
{
	if (out->err || zmq_send(c->socket, id, id_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
	    zmq_send(c->socket, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
	    zmq_send(c->socket, out->data, out->len, ZMQ_DONTWAIT) < 0)
		log_debug("control: reply not sent: %s",
		          out->err ? proto_strerror(out->err) : zmq_strerror(errno));
}

static void on_readable(struct loop *l, void *arg, short revents)
{
	struct ctl *c = arg;

	(void)l;
	if (!(revents & ZMQ_POLLIN))
		return;
	for (int i = 0; i < CTL_BATCH; i++) {
		zmq_msg_t parts[3];
		struct mp_buf out = {0};
		int n = recv_frames(c->socket, parts);

		if (n == 0)
			return;
		/* A REQ client sends [identity][empty][request]. */
		if (n == 3 && zmq_msg_size(&parts[1]) == 0 &&
		    zmq_msg_size(&parts[0]) <= CTL_ID_MAX) {
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

int ctl_new(struct ctl **out, struct loop *l, void *zmq_ctx, const char *data_dir,
            const struct ctl_command *commands, size_t n, void *arg)
{
	struct ctl *c = calloc(1, sizeof(*c));
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

struct ctl_pending *ctl_defer(struct ctl *c)
{
	struct ctl_pending *p;

	if (!c->current)
		return NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->id_len = zmq_msg_size(c->current);
	memcpy(p->id, zmq_msg_data(c->current), p->id_len);
	p->next = c->pending;
	c->pending = p;
	return p;
}

void ctl_finish(struct ctl *c, struct ctl_pending *p, int rc, const char *err,
                const struct mp_buf *data)
{
	static const struct mp_buf none;
	struct ctl_pending **at = &c->pending;
	struct mp_buf out = {0};

	while (*at && *at != p)
		at = &(*at)->next;
	if (!*at)
		return; /* not ours, or already finished */
	*at = p->next;
	pack_reply(&out, rc, err, data ? data : &none);
	reply(c, p->id, p->id_len, &out);
	mp_buf_free(&out);
	free(p);
}

void ctl_free(struct ctl **c)
{
	if (!c || !*c)
		return;
	while ((*c)->pending)
		ctl_finish(*c, (*c)->pending, -ECANCELED, "kithd is stopping", NULL);
	loop_unwatch((*c)->loop, (*c)->socket, -1);
	zmq_close((*c)->socket);
	unlink((*c)->path);
	free(*c);
	*c = NULL;
}
