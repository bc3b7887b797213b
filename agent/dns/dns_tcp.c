#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <netinet/in.h>
#include <zmq.h>

#include "dns_tcp.h"
#include "proto/error.h"

enum { CONNECTING = 1, WRITING, READING };

bool dns_tcp_active(const struct dns_tcp *x)
{
	return x->active;
}

/* Releases everything x holds but the reply, and makes x idle. */
static void teardown(struct dns_tcp *x)
{
	if (x->fd >= 0) {
		loop_unwatch(x->loop, NULL, x->fd);
		close(x->fd);
	}
	loop_timer_stop(x->loop, &x->timer);
	free(x->out);
	x->out = NULL;
	x->fd = -1;
	x->active = false;
}

void dns_tcp_cancel(struct dns_tcp *x)
{
	if (!x->active)
		return;
	teardown(x);
	free(x->in);
	x->in = NULL;
}

/* Ends the exchange and calls back, x idle by then so that the callback
 * may start it again. */
static void finish(struct dns_tcp *x, int err)
{
	dns_tcp_fn fn = x->fn;
	void *arg = x->arg;
	uint8_t *in = x->in;
	size_t len = x->in_len;

	x->in = NULL;
	teardown(x);
	if (err)
		fn(x, arg, err, NULL, 0);
	else
		fn(x, arg, 0, in, len);
	free(in);
}

static void on_timer(struct loop *l, void *arg)
{
	struct dns_tcp *x = arg;

	(void)l;
	finish(x, x->pending ? x->pending : -ETIMEDOUT);
}

/* Writes what the socket takes; 1 when all is written, 0 to wait, or a
 * negative error. */
static int write_some(struct dns_tcp *x)
{
	while (x->out_at < x->out_len) {
		ssize_t n = send(x->fd, x->out + x->out_at, x->out_len - x->out_at, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
		x->out_at += (size_t)n;
	}
	return 1;
}

/* Reads into buf[*at..len); 1 when full, 0 to wait, or a negative error. */
static int read_into(int fd, uint8_t *buf, size_t *at, size_t len)
{
	while (*at < len) {
		ssize_t n = recv(fd, buf + *at, len - *at, 0);
		if (n == 0)
			return -ECONNRESET;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
		*at += (size_t)n;
	}
	return 1;
}

/* Reads the length, then the reply; 1 when it is all there. */
static int read_some(struct dns_tcp *x)
{
	int rc;

	if (!x->in) {
		if ((rc = read_into(x->fd, x->head, &x->head_at, 2)) <= 0)
			return rc;
		x->in_len = (size_t)x->head[0] << 8 | x->head[1];
		if (x->in_len == 0)
			return KITH_ETRUNC;
		if (!(x->in = malloc(x->in_len)))
			return -ENOMEM;
	}
	return read_into(x->fd, x->in, &x->in_at, x->in_len);
}

/* Whether the pending connect() succeeded: 0 or its -errno. */
static int connect_result(int fd)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len))
		return -errno;
	return -err;
}

/* One step of the exchange; returns 1 when it is over (finish()ed), 0
 * to wait for the socket again. */
static int step(struct dns_tcp *x)
{
	int rc;

	switch (x->state) {
	case CONNECTING:
		if ((rc = connect_result(x->fd)))
			break;
		x->state = WRITING;
		/* fall through */
	case WRITING:
		if ((rc = write_some(x)) <= 0)
			break;
		x->state = READING;
		if ((rc = loop_watch_events(x->loop, NULL, x->fd, ZMQ_POLLIN)))
			break;
		/* fall through */
	default:
		rc = read_some(x);
		break;
	}
	if (rc == 0)
		return 0;
	finish(x, rc < 0 ? rc : 0);
	return 1;
}

static void on_io(struct loop *l, void *arg, short revents)
{
	struct dns_tcp *x = arg;

	(void)l;
	(void)revents; /* errors and hang-ups show in the next system call */
	step(x);
}

static socklen_t addr_len(const struct sockaddr_storage *to)
{
	if (to->ss_family == AF_INET)
		return sizeof(struct sockaddr_in);
	if (to->ss_family == AF_INET6)
		return sizeof(struct sockaddr_in6);
	return 0;
}

/* Opens the socket and starts connecting; an error connect() gives at
 * once is kept in x->pending for the timer to report. */
static int open_socket(struct dns_tcp *x, const struct sockaddr_storage *to)
{
	x->fd = socket(to->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (x->fd < 0)
		return -errno;
	if (connect(x->fd, (const struct sockaddr *)to, addr_len(to)) == 0)
		x->state = WRITING;
	else if (errno == EINPROGRESS)
		x->state = CONNECTING;
	else
		x->pending = -errno;
	return 0;
}

int dns_tcp_start(struct dns_tcp *x, struct loop *l, const struct sockaddr_storage *to,
                  const uint8_t *msg, size_t len, uint64_t timeout_ms, dns_tcp_fn fn, void *arg)
{
	int rc;

	if (x->active)
		return -EBUSY;
	if (len < 3 || len > 2 + DNS_TCP_REPLY_MAX || ((size_t)msg[0] << 8 | msg[1]) != len - 2 ||
	    timeout_ms == 0 || !fn)
		return -EINVAL;
	if (!addr_len(to))
		return -EAFNOSUPPORT;
	*x = (struct dns_tcp){.fd = -1, .loop = l, .fn = fn, .arg = arg, .out_len = len};
	loop_timer_init(&x->timer, on_timer, x);
	if (!(x->out = malloc(len)))
		return -ENOMEM;
	memcpy(x->out, msg, len);
	x->active = true;
	rc = open_socket(x, to);
	if (!rc && x->pending) {
		close(x->fd);
		x->fd = -1;
		rc = loop_timer_start(l, &x->timer, 0);
	} else if (!rc) {
		rc = loop_watch(l, NULL, x->fd, ZMQ_POLLOUT, on_io, x);
		if (!rc)
			rc = loop_timer_start(l, &x->timer, timeout_ms);
	}
	if (rc)
		dns_tcp_cancel(x);
	return rc;
}
