/* libcurl's multi socket interface inside the event loop.
 *
 * libcurl tells us which sockets to watch (on_socket) and when to call it
 * back (on_timer_change); the loop tells libcurl what became ready (on_io)
 * or that the time came (on_timer). After each call into libcurl, finished
 * transfers are taken off the multi handle and their done callbacks run,
 * outside of any libcurl callback, so that they may submit or cancel. */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <sys/socket.h>

#include <zmq.h>

#include "addr.h"
#include "log.h"
#include "loop.h"
#include "web.h"

#define WEB_MAX_IN_FLIGHT_DEFAULT 256
/* Idle connections kept for reuse. libcurl's default, four per transfer
 * under way, would close most of them between two checks of a service;
 * the bound keeps file descriptors for the rest of the agent. */
#define WEB_MAX_IDLE_CONNECTIONS 100L

/* One socket libcurl asked us to watch; assigned to it with
 * curl_multi_assign() so that the next socket callback finds it. */
struct web_sock {
	struct web *w;
	curl_socket_t fd;
	struct web_sock *prev, *next;
};

/* One transfer under way. */
struct xfer {
	CURL *easy;
	web_done_fn done;
	void *arg;
};

struct web {
	struct loop *loop;
	CURLM *multi;
	struct loop_timer timer;
	struct xfer *xfers; /* unordered; at most max_in_flight */
	size_t n_xfers, cap_xfers;
	unsigned long max_in_flight;
	struct web_sock *socks; /* every watched socket, to free what is left */
	struct web_stats stats;
	bool global_init;
	struct log_limit warn_limit;
};

static void sock_free(struct web *w, struct web_sock *s)
{
	loop_unwatch(w->loop, NULL, s->fd);
	if (s->prev)
		s->prev->next = s->next;
	else
		w->socks = s->next;
	if (s->next)
		s->next->prev = s->prev;
	free(s);
}

static short curl_to_loop_events(int what)
{
	short events = 0;

	if (what & CURL_POLL_IN)
		events |= ZMQ_POLLIN;
	if (what & CURL_POLL_OUT)
		events |= ZMQ_POLLOUT;
	return events;
}

static void on_io(struct loop *l, void *arg, short revents);

/* CURLMOPT_SOCKETFUNCTION: start, change or stop watching fd. */
static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct web *w = userp;
	struct web_sock *s = socketp;
	short events = curl_to_loop_events(what);
	int err;

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		if (s) {
			curl_multi_assign(w->multi, fd, NULL);
			sock_free(w, s);
		}
		return 0;
	}
	/* An error here would make libcurl abort every transfer: only the
	 * loop's lack of memory is one. */
	if (s && loop_watch_events(w->loop, NULL, fd, events) == 0)
		return 0;
	if (s)
		return loop_watch(w->loop, NULL, fd, events, on_io, s) ? -1 : 0;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -1;
	*s = (struct web_sock){.w = w, .fd = fd, .next = w->socks};
	err = loop_watch(w->loop, NULL, fd, events, on_io, s);
	if (err == -EEXIST) {
		/* A watch libcurl forgot to remove: take it over, so that its
		 * readiness comes here with this socket's record. */
		loop_unwatch(w->loop, NULL, fd);
		err = loop_watch(w->loop, NULL, fd, events, on_io, s);
	}
	if (err) {
		free(s);
		return -1;
	}
	if (w->socks)
		w->socks->prev = s;
	w->socks = s;
	curl_multi_assign(w->multi, fd, s);
	return 0;
}

static void on_timer(struct loop *l, void *arg);

/* CURLMOPT_TIMERFUNCTION: libcurl wants to be called after timeout_ms (-1:
 * never). Even for 0 the call waits for the loop's timer: libcurl forbids
 * calling it back from inside this callback. */
static int on_timer_change(CURLM *multi, long timeout_ms, void *userp)
{
	struct web *w = userp;

	(void)multi;
	if (timeout_ms < 0) {
		loop_timer_stop(w->loop, &w->timer);
		return 0;
	}
	return loop_timer_start(w->loop, &w->timer, (uint64_t)timeout_ms) ? -1 : 0;
}

static size_t find_xfer(const struct web *w, const CURL *easy)
{
	for (size_t i = 0; i < w->n_xfers; i++)
		if (w->xfers[i].easy == easy)
			return i;
	return w->n_xfers;
}

static void drop_xfer(struct web *w, size_t i)
{
	w->xfers[i] = w->xfers[--w->n_xfers];
	w->stats.in_flight = w->n_xfers;
}

/* Takes every finished transfer off the multi handle and tells its owner.
 * curl_multi_info_read() is asked afresh after each callback: a callback
 * may cancel a transfer whose message is queued (libcurl then drops the
 * message) or submit new ones. */
static void reap(struct web *w)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(w->multi, &left))) {
		CURL *easy = msg->easy_handle;
		CURLcode result = msg->data.result;
		struct xfer x;
		size_t i;

		if (msg->msg != CURLMSG_DONE)
			continue;
		/* msg is invalid from here on. */
		curl_multi_remove_handle(w->multi, easy);
		i = find_xfer(w, easy);
		if (i == w->n_xfers)
			continue;
		x = w->xfers[i];
		drop_xfer(w, i);
		w->stats.completed++;
		x.done(x.arg, easy, result);
	}
}

static void action(struct web *w, curl_socket_t fd, int flags)
{
	int running;
	CURLMcode rc = curl_multi_socket_action(w->multi, fd, flags, &running);

	/* A socket libcurl closed meanwhile is no reason to worry. */
	if (rc != CURLM_OK && rc != CURLM_BAD_SOCKET &&
	    log_allow(&w->warn_limit, loop_now_ms(w->loop)))
		log_warnx("web: curl_multi_socket_action: %s", curl_multi_strerror(rc));
	reap(w);
}

static void on_io(struct loop *l, void *arg, short revents)
{
	struct web_sock *s = arg;
	struct web *w = s->w;
	curl_socket_t fd = s->fd; /* s may be freed inside libcurl */
	int flags = 0;

	(void)l;
	if (revents & ZMQ_POLLIN)
		flags |= CURL_CSELECT_IN;
	if (revents & ZMQ_POLLOUT)
		flags |= CURL_CSELECT_OUT;
	if (revents & ZMQ_POLLERR)
		flags |= CURL_CSELECT_ERR;
	action(w, fd, flags);
}

static void on_timer(struct loop *l, void *arg)
{
	(void)l;
	action(arg, CURL_SOCKET_TIMEOUT, 0);
}

int web_new(struct web **out, struct loop *l)
{
	struct web *w = calloc(1, sizeof(*w));

	if (!w)
		return -ENOMEM;
	w->loop = l;
	w->max_in_flight = WEB_MAX_IN_FLIGHT_DEFAULT;
	w->warn_limit = (struct log_limit){.burst = 5, .interval_ms = 60000};
	loop_timer_init(&w->timer, on_timer, w);
	*out = w;
	return 0;
}

/* libcurl's global state and the multi handle cost a few megabytes: an
 * agent that never checks nor alerts never pays for them. */
int web_ready(struct web *w)
{
	if (w->multi)
		return 0;
	/* Reference-counted by libcurl: balanced by web_free(). */
	if (!w->global_init) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			return -ENOMEM;
		w->global_init = true;
	}
	w->multi = curl_multi_init();
	if (!w->multi)
		return -ENOMEM;
	if (curl_multi_setopt(w->multi, CURLMOPT_SOCKETFUNCTION, on_socket) != CURLM_OK ||
	    curl_multi_setopt(w->multi, CURLMOPT_SOCKETDATA, w) != CURLM_OK ||
	    curl_multi_setopt(w->multi, CURLMOPT_TIMERFUNCTION, on_timer_change) != CURLM_OK ||
	    curl_multi_setopt(w->multi, CURLMOPT_TIMERDATA, w) != CURLM_OK ||
	    curl_multi_setopt(w->multi, CURLMOPT_MAXCONNECTS, WEB_MAX_IDLE_CONNECTIONS) !=
	        CURLM_OK) {
		curl_multi_cleanup(w->multi);
		w->multi = NULL;
		return -EINVAL;
	}
	return 0;
}

void web_free(struct web **wp)
{
	struct web *w = wp ? *wp : NULL;

	if (!w)
		return;
	if (w->multi) {
		for (size_t i = 0; i < w->n_xfers; i++)
			curl_multi_remove_handle(w->multi, w->xfers[i].easy);
		w->n_xfers = 0;
		curl_multi_cleanup(w->multi);
	}
	/* Sockets of cached connections closed by the cleanup may not have
	 * been removed through the socket callback. */
	while (w->socks)
		sock_free(w, w->socks);
	loop_timer_stop(w->loop, &w->timer);
	if (w->global_init)
		curl_global_cleanup();
	free(w->xfers);
	free(w);
	*wp = NULL;
}

static int grow_xfers(struct web *w)
{
	size_t cap = w->cap_xfers ? w->cap_xfers * 2 : 16;
	struct xfer *p;

	if (w->n_xfers < w->cap_xfers)
		return 0;
	p = realloc(w->xfers, cap * sizeof(*p));
	if (!p)
		return -ENOMEM;
	w->xfers = p;
	w->cap_xfers = cap;
	return 0;
}

int web_submit(struct web *w, CURL *easy, web_done_fn done, void *arg)
{
	CURLMcode rc;

	int err = web_ready(w);

	if (err)
		return err;
	if (w->n_xfers >= w->max_in_flight)
		return -EBUSY;
	if (grow_xfers(w))
		return -ENOMEM;
	/* libcurl asks for a 0 ms timer here, which starts the transfer on
	 * the loop's next turn. */
	rc = curl_multi_add_handle(w->multi, easy);
	if (rc == CURLM_OUT_OF_MEMORY)
		return -ENOMEM;
	if (rc != CURLM_OK)
		return -EINVAL;
	w->xfers[w->n_xfers++] = (struct xfer){.easy = easy, .done = done, .arg = arg};
	w->stats.submitted++;
	w->stats.in_flight = w->n_xfers;
	return 0;
}

void web_cancel(struct web *w, CURL *easy)
{
	size_t i = find_xfer(w, easy);

	if (i == w->n_xfers || !w->multi)
		return;
	curl_multi_remove_handle(w->multi, easy);
	drop_xfer(w, i);
}

void web_set_max_in_flight(struct web *w, unsigned long max)
{
	w->max_in_flight = max ? max : 1;
}

void web_get_stats(const struct web *w, struct web_stats *out)
{
	*out = w->stats;
}

/* The guard against private addresses ------------------------------------
 * Which addresses are public is addr.c's decision (the IANA registries and
 * the IPv6 forms that embed an IPv4 address). */

static void note_refused(struct web_guard *g, const struct sockaddr_storage *sa)
{
	const void *a = sa->ss_family == AF_INET6
	                    ? (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr
	                    : (const void *)&((const struct sockaddr_in *)sa)->sin_addr;

	if (!inet_ntop(sa->ss_family, a, g->refused, sizeof(g->refused)))
		snprintf(g->refused, sizeof(g->refused), "?");
}

/* CURLOPT_OPENSOCKETFUNCTION of a guarded transfer. */
static curl_socket_t open_public_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *addr)
{
	struct sockaddr_storage sa = {0};

	/* addr->addr is declared a struct sockaddr but holds addrlen bytes
	 * (an IPv6 address is longer): copy them from the raw bytes. */
	if (purpose != CURLSOCKTYPE_IPCXN || addr->addrlen > sizeof(sa))
		return CURL_SOCKET_BAD;
	memcpy(&sa, (const char *)addr + offsetof(struct curl_sockaddr, addr), addr->addrlen);
	if (!addr_is_public((const struct sockaddr *)&sa, addr->addrlen)) {
		note_refused(arg, &sa);
		return CURL_SOCKET_BAD;
	}
	return socket(addr->family, addr->socktype, addr->protocol);
}

/* CURLOPT_PREREQFUNCTION of a guarded transfer: a connection taken from
 * libcurl's cache was not opened through open_public_socket(). */
static int before_request(void *arg, char *primary_ip, char *local_ip, int primary_port,
                          int local_port)
{
	struct sockaddr_storage sa = {0};

	(void)local_ip;
	(void)primary_port;
	(void)local_port;
	if (inet_pton(AF_INET, primary_ip, &((struct sockaddr_in *)&sa)->sin_addr) == 1)
		sa.ss_family = AF_INET;
	else if (inet_pton(AF_INET6, primary_ip, &((struct sockaddr_in6 *)&sa)->sin6_addr) == 1)
		sa.ss_family = AF_INET6;
	else
		return CURL_PREREQFUNC_ABORT;
	if (addr_is_public((const struct sockaddr *)&sa, sizeof(sa)))
		return CURL_PREREQFUNC_OK;
	note_refused(arg, &sa);
	return CURL_PREREQFUNC_ABORT;
}

int web_guard_public(CURL *easy, struct web_guard *g)
{
	g->refused[0] = '\0';
	if (curl_easy_setopt(easy, CURLOPT_PROXY, "") != CURLE_OK ||
	    curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, open_public_socket) != CURLE_OK ||
	    curl_easy_setopt(easy, CURLOPT_OPENSOCKETDATA, g) != CURLE_OK ||
	    curl_easy_setopt(easy, CURLOPT_PREREQFUNCTION, before_request) != CURLE_OK ||
	    curl_easy_setopt(easy, CURLOPT_PREREQDATA, g) != CURLE_OK)
		return -EINVAL;
	return 0;
}
