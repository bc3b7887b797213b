/* bench_httpd: the services that tests/bench/checks.py has kithd check.
 *
 * A small HTTP/1.1 server: epoll, non-blocking sockets, keep-alive and
 * pipelining. Every GET (or HEAD), whatever its path, is answered "200 OK"
 * with the body "ok\n", so that one server stands for any number of
 * services, one per path, or one per port with -n. GET /_stats answers
 * instead "requests N connections N\n": requests served and connections
 * accepted so far, for the benchmark to count them independently of the
 * agent.
 *
 * Bounded: at most -c connections (the ones beyond are closed as they
 * arrive), request heads of at most REQ_MAX bytes (a longer one gets 431
 * and a closed connection), no request bodies (a request announcing one
 * gets 400 and is closed), and a connection that does not read its
 * answers stops being read once OUT_MAX bytes wait for it.
 *
 * Usage: bench_httpd [-a ADDR] [-p PORT] [-n PORTS] [-c MAX_CONNECTIONS]
 * Listens on PORTS ports (default 1): PORT and the ones after it, or as
 * many of the kernel's choice for -p 0 (the default). Prints "port P1 P2
 * ..." once it listens and, on SIGTERM or SIGINT, "requests N connections
 * N refused N" before it exits with status 0. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>

#define REQ_MAX 8192   /* bytes of one request head, and of the read buffer */
#define OUT_MAX 16384  /* bytes of answers waiting for a slow reader */
#define EVENTS_MAX 256 /* readiness events taken per epoll_wait() */
#define ANSWER_MAX 200 /* bytes of the longest answer */

static const char answer_ok[] = "HTTP/1.1 200 OK\r\n"
                                "Content-Type: text/plain\r\n"
                                "Content-Length: 3\r\n"
                                "\r\n"
                                "ok\n";
static const char answer_ok_close[] = "HTTP/1.1 200 OK\r\n"
                                      "Content-Type: text/plain\r\n"
                                      "Content-Length: 3\r\n"
                                      "Connection: close\r\n"
                                      "\r\n"
                                      "ok\n";

/* What epoll reports on: each of these structs begins with its kind. */
enum item {
	ITEM_LISTENER,
	ITEM_SIGNAL,
	ITEM_CONN,
};

struct listener {
	enum item item;
	int fd;
};

struct conn {
	enum item item;
	int fd;
	char in[REQ_MAX];
	size_t in_len;
	char out[OUT_MAX];
	size_t out_off, out_len;
	bool closing;  /* close once out is flushed */
	bool want_out; /* EPOLLOUT is on */
};

struct server {
	int ep;
	struct listener *listeners;
	unsigned long n_listeners;
	struct listener sig;
	unsigned long max_conns, n_conns;
	unsigned long long requests, accepted, refused;
};

static int listen_on(const char *addr, unsigned port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int one = 1;
	int fd;

	if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
		fprintf(stderr, "bench_httpd: %s: not an IPv4 address\n", addr);
		return -1;
	}
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 4096) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int bound_port(int fd)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);

	if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
		return -1;
	return ntohs(sa.sin_port);
}

static void conn_close(struct server *s, struct conn *c)
{
	epoll_ctl(s->ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c);
	s->n_conns--;
}

static int conn_events(struct server *s, struct conn *c, bool want_out)
{
	struct epoll_event ev = {.events = want_out ? EPOLLOUT : EPOLLIN, .data.ptr = c};

	if (c->want_out == want_out)
		return 0;
	c->want_out = want_out;
	return epoll_ctl(s->ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Queues an answer; false when there is no room for it. */
static bool queue(struct conn *c, const char *text, size_t len)
{
	if (c->out_len + len > sizeof(c->out)) {
		if (c->out_off == 0)
			return false;
		memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
		c->out_len -= c->out_off;
		c->out_off = 0;
		if (c->out_len + len > sizeof(c->out))
			return false;
	}
	memcpy(c->out + c->out_len, text, len);
	c->out_len += len;
	return true;
}

/* Writes what is queued. Returns 0 (all written, or the rest waits for
 * EPOLLOUT) or -1 (the connection is to be closed). */
static int flush(struct server *s, struct conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return conn_events(s, c, true) < 0 ? -1 : 0;
		if (n <= 0)
			return -1;
		c->out_off += (size_t)n;
	}
	c->out_off = c->out_len = 0;
	if (c->closing)
		return -1;
	return conn_events(s, c, false) < 0 ? -1 : 0;
}

/* Does the head (len bytes, ending in the blank line) carry header name
 * (with its colon) with a value starting with value? Case-insensitive. */
static bool has_header(const char *head, size_t len, const char *name, const char *value)
{
	size_t nlen = strlen(name), vlen = strlen(value);

	for (const char *p = head; p < head + len;) {
		const char *eol = memchr(p, '\n', (size_t)(head + len - p));
		const char *v;
		if (!eol)
			break;
		if ((size_t)(eol - p) > nlen && strncasecmp(p, name, nlen) == 0) {
			v = p + nlen;
			while (v < eol && (*v == ' ' || *v == '\t'))
				v++;
			if ((size_t)(eol - v) >= vlen && strncasecmp(v, value, vlen) == 0)
				return true;
		}
		p = eol + 1;
	}
	return false;
}

/* Queues a refusal and closes c once it is out. Returns false. */
static bool refuse(struct conn *c, const char *text)
{
	c->closing = true;
	queue(c, text, strlen(text));
	return false;
}

/* Answers one request head of len bytes (c->out has room for it). Returns
 * false when no more requests are to be read on c. */
static bool answer(struct server *s, struct conn *c, const char *head, size_t len)
{
	bool get = strncmp(head, "GET ", 4) == 0, is_head = strncmp(head, "HEAD ", 5) == 0;
	bool close_after = has_header(head, len, "Connection:", "close") ||
	                   (memmem(head, len, " HTTP/1.0\r\n", 11) &&
	                    !has_header(head, len, "Connection:", "keep-alive"));
	const char *text = close_after ? answer_ok_close : answer_ok;
	size_t text_len = close_after ? sizeof(answer_ok_close) - 1 : sizeof(answer_ok) - 1;
	char stats[200];

	if ((has_header(head, len, "Content-Length:", "") &&
	     !has_header(head, len, "Content-Length:", "0\r")) ||
	    has_header(head, len, "Transfer-Encoding:", ""))
		return refuse(c, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
		                 "Connection: close\r\n\r\n");
	if (!get && !is_head)
		return refuse(c, "HTTP/1.1 405 Method Not Allowed\r\nAllow: GET, HEAD\r\n"
		                 "Content-Length: 0\r\nConnection: close\r\n\r\n");
	s->requests++;
	if (get && strncmp(head + 4, "/_stats ", 8) == 0) {
		char body[64];
		int blen = snprintf(body, sizeof(body), "requests %llu connections %llu\n",
		                    s->requests, s->accepted);
		int n = snprintf(stats, sizeof(stats),
		                 "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
		                 "Content-Length: %d\r\n%s\r\n%s",
		                 blen, close_after ? "Connection: close\r\n" : "", body);
		text = stats;
		text_len = (size_t)n;
	} else if (is_head) {
		text_len -= 3; /* the same head, without the body "ok\n" */
	}
	c->closing = close_after;
	queue(c, text, text_len);
	return !close_after;
}

/* Answers the complete requests in c->in while c->out has room, keeping
 * the rest. Returns how many bytes of requests it took. */
static size_t answer_all(struct server *s, struct conn *c)
{
	size_t off = 0;

	while (!c->closing && c->out_len + ANSWER_MAX <= sizeof(c->out)) {
		char *end = memmem(c->in + off, c->in_len - off, "\r\n\r\n", 4);
		size_t len;
		bool more;
		if (!end)
			break;
		len = (size_t)(end + 4 - (c->in + off));
		more = answer(s, c, c->in + off, len);
		off += len;
		if (!more)
			break;
	}
	memmove(c->in, c->in + off, c->in_len - off);
	c->in_len -= off;
	return off;
}

/* Answers what waits in c->in and writes it out, as long as the socket
 * takes it. Returns 0 or -1 (c is to be closed). */
static int drain(struct server *s, struct conn *c)
{
	for (;;) {
		if (flush(s, c) < 0)
			return -1;
		if (c->want_out || !answer_all(s, c))
			return 0;
	}
}

/* Reads and answers until the socket is drained. Returns -1 when c is to
 * be closed. */
static int on_readable(struct server *s, struct conn *c)
{
	for (;;) {
		ssize_t n;
		answer_all(s, c);
		if (c->closing || c->out_len > sizeof(c->out) / 2) {
			/* Read more once the answers are out. */
			if (flush(s, c) < 0)
				return -1;
			if (c->want_out)
				return 0;
			continue;
		}
		if (c->in_len == sizeof(c->in)) {
			refuse(c, "HTTP/1.1 431 Request Header Fields Too Large\r\n"
			          "Content-Length: 0\r\nConnection: close\r\n\r\n");
			return flush(s, c);
		}
		n = recv(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return flush(s, c);
		if (n <= 0)
			return -1;
		c->in_len += (size_t)n;
	}
}

static void on_accept(struct server *s, const struct listener *l)
{
	for (;;) {
		int one = 1;
		int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct conn *c;
		struct epoll_event ev;
		if (fd < 0)
			return; /* EAGAIN, or out of descriptors: try at the next event */
		s->accepted++;
		if (s->n_conns >= s->max_conns || !(c = calloc(1, sizeof(*c)))) {
			s->refused++;
			close(fd);
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c->item = ITEM_CONN;
		c->fd = fd;
		ev = (struct epoll_event){.events = EPOLLIN, .data.ptr = c};
		if (epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
			close(fd);
			free(c);
			continue;
		}
		s->n_conns++;
	}
}

static int add_listener(struct server *s, struct listener *l)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = l};

	return epoll_ctl(s->ep, EPOLL_CTL_ADD, l->fd, &ev);
}

/* n listening sockets on port and the ones after it (kernel's choice for
 * port 0), printed on one line. */
static int listen_all(struct server *s, const char *addr, unsigned long port, unsigned long n)
{
	s->listeners = calloc(n, sizeof(*s->listeners));
	if (!s->listeners)
		return -1;
	printf("port");
	for (; s->n_listeners < n; s->n_listeners++) {
		struct listener *l = &s->listeners[s->n_listeners];
		*l = (struct listener){
		    .item = ITEM_LISTENER,
		    .fd = listen_on(addr, port ? (unsigned)(port + s->n_listeners) : 0)};
		if (l->fd < 0 || add_listener(s, l) < 0) {
			if (l->fd >= 0)
				close(l->fd);
			return -1;
		}
		printf(" %d", bound_port(l->fd));
	}
	printf("\n");
	return fflush(stdout) == 0 ? 0 : -1;
}

static int serve(struct server *s)
{
	struct epoll_event events[EVENTS_MAX];

	for (;;) {
		int n = epoll_wait(s->ep, events, EVENTS_MAX, -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		for (int i = 0; i < n; i++) {
			enum item *item = events[i].data.ptr;
			struct conn *c = (struct conn *)item;
			int rc;
			if (*item == ITEM_SIGNAL)
				return 0;
			if (*item == ITEM_LISTENER) {
				on_accept(s, (struct listener *)item);
				continue;
			}
			if (events[i].events & (EPOLLERR | EPOLLHUP) &&
			    !(events[i].events & EPOLLIN)) {
				conn_close(s, c);
				continue;
			}
			/* Once answers are flushed, pipelined requests may wait in
			 * c->in. */
			rc = c->want_out ? drain(s, c) : on_readable(s, c);
			if (rc < 0)
				conn_close(s, c);
		}
	}
}

static int usage(void)
{
	fprintf(stderr, "usage: bench_httpd [-a ADDR] [-p PORT] [-n PORTS] [-c MAX_CONNECTIONS]\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct server s = {.ep = -1, .sig = {.item = ITEM_SIGNAL, .fd = -1}, .max_conns = 4096};
	const char *addr = "127.0.0.1";
	unsigned long port = 0, n_ports = 1;
	sigset_t mask;
	int opt, rc = 1;

	while ((opt = getopt(argc, argv, "a:p:n:c:")) != -1) {
		char *end;
		switch (opt) {
		case 'a':
			addr = optarg;
			break;
		case 'p':
			port = strtoul(optarg, &end, 10);
			if (*end || port > 65535)
				return usage();
			break;
		case 'n':
			n_ports = strtoul(optarg, &end, 10);
			if (*end || n_ports < 1 || n_ports > 10000)
				return usage();
			break;
		case 'c':
			s.max_conns = strtoul(optarg, &end, 10);
			if (*end || s.max_conns < 1 || s.max_conns > 1000000)
				return usage();
			break;
		default:
			return usage();
		}
	}
	if (optind != argc || (port && port + n_ports > 65536))
		return usage();
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0 ||
	    (s.sig.fd = signalfd(-1, &mask, SFD_CLOEXEC)) < 0 ||
	    (s.ep = epoll_create1(EPOLL_CLOEXEC)) < 0 || add_listener(&s, &s.sig) < 0 ||
	    listen_all(&s, addr, port, n_ports) < 0) {
		perror("bench_httpd");
		goto cleanup;
	}
	if (serve(&s) < 0) {
		perror("bench_httpd: epoll_wait");
		goto cleanup;
	}
	printf("requests %llu connections %llu refused %llu\n", s.requests, s.accepted, s.refused);
	rc = 0;
cleanup:
	/* Open connections go with the process. */
	if (s.ep >= 0)
		close(s.ep);
	for (unsigned long i = 0; i < s.n_listeners; i++)
		close(s.listeners[i].fd);
	free(s.listeners);
	if (s.sig.fd >= 0)
		close(s.sig.fd);
	return rc;
}
