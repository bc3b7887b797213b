#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>
#include <zmq.h>

#include "proto/error.h"
#include "conf.h"
#include "httpd.h"
#include "log.h"
#include "loop.h"

struct httpd {
	struct loop *loop;
	struct MHD_Daemon *daemon;
	int fd; /* libmicrohttpd's epoll descriptor, watched by the loop */
	struct loop_timer timer;
	httpd_handler_fn fn;
	void *arg;
	struct httpd_stats stats;
};

static void run(struct httpd *h);

static void on_ready(struct loop *l, void *arg, short revents)
{
	(void)l;
	(void)revents;
	run(arg);
}

static void on_timer(struct loop *l, void *arg)
{
	(void)l;
	run(arg);
}

/* Lets libmicrohttpd do what is ready, then arms the timer for its next
 * timeout (an idle connection to close). */
static void run(struct httpd *h)
{
	MHD_UNSIGNED_LONG_LONG ms;

	MHD_run(h->daemon);
	if (MHD_get_timeout(h->daemon, &ms) == MHD_YES)
		loop_timer_start(h->loop, &h->timer, ms);
	else
		loop_timer_stop(h->loop, &h->timer);
}

static void free_body(void *body)
{
	free(body);
}

static enum MHD_Result queue(struct MHD_Connection *c, unsigned status, const char *type,
                             char *body, size_t len)
{
	struct MHD_Response *r =
	    MHD_create_response_from_buffer_with_free_callback(len, body, free_body);
	enum MHD_Result ok;

	if (!r) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	/* The pages carry no script and load nothing: say so to browsers. */
	MHD_add_response_header(r, "Content-Security-Policy",
	                        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
	                        "frame-ancestors 'none'");
	MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	ok = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ok;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
	struct httpd *h = cls;
	struct httpd_reply reply = {404, "text/plain; charset=utf-8", NULL, 0};
	static int seen;

	(void)version;
	(void)upload_data;
	/* The first call is for the headers alone; a body (none expected) is
	 * read and dropped by the calls after it. */
	if (*con_cls == NULL) {
		*con_cls = &seen;
		return MHD_YES;
	}
	if (*upload_data_size) {
		*upload_data_size = 0;
		return MHD_YES;
	}
	h->stats.requests++;
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD)) {
		char *body = strdup("only GET and HEAD\n");
		h->stats.refused++;
		return queue(c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain; charset=utf-8", body,
		             body ? strlen(body) : 0);
	}
	h->fn(h->arg, url, &reply);
	if (!reply.body && reply.status == 404) {
		reply.body = strdup("not found\n");
		reply.len = reply.body ? strlen(reply.body) : 0;
	}
	return queue(c, reply.status, reply.content_type, reply.body, reply.len);
}

static void mhd_log(void *arg, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

static void mhd_log(void *arg, const char *fmt, va_list ap)
{
	char line[300];

	(void)arg;
	vsnprintf(line, sizeof(line), fmt, ap);
	line[strcspn(line, "\n")] = '\0';
	log_tally(LOG_LEVEL_WARN, "http listener", 1, "libmicrohttpd", "", line);
}

int httpd_new(struct httpd **out, struct loop *l, const char *addr, httpd_handler_fn fn, void *arg,
              char *err, size_t n)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	const union MHD_DaemonInfo *info;
	const char *why;
	struct httpd *h;
	int rc;

	*out = NULL;
	if (conf_listen_parse(addr, &ss, &sslen, &why) != 0) {
		snprintf(err, n, "%s: %s", addr, why);
		return KITH_EVALUE;
	}
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->loop = l;
	h->fn = fn;
	h->arg = arg;
	h->fd = -1;
	loop_timer_init(&h->timer, on_timer, h);
	errno = 0;
	h->daemon = MHD_start_daemon(
	    MHD_USE_EPOLL | MHD_USE_ERROR_LOG | (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0), 0,
	    NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTPD_CONNECTIONS_MAX,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)HTTPD_PER_IP_MAX,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTPD_IDLE_S,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTPD_CONNECTION_MEMORY,
	    MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_END);
	if (!h->daemon) {
		rc = errno ? -errno : -EIO;
		snprintf(err, n, "cannot listen on %s: %s", addr,
		         errno ? strerror(errno) : "libmicrohttpd refused");
		free(h);
		return rc;
	}
	info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_EPOLL_FD);
	rc = info ? loop_watch(l, NULL, info->epoll_fd, ZMQ_POLLIN, on_ready, h) : -EIO;
	if (rc) {
		snprintf(err, n, "cannot watch the HTTP listener: %s", proto_strerror(rc));
		MHD_stop_daemon(h->daemon);
		free(h);
		return rc;
	}
	h->fd = info->epoll_fd;
	*out = h;
	return 0;
}

void httpd_free(struct httpd **hp)
{
	struct httpd *h = *hp;

	if (!h)
		return;
	if (h->fd >= 0)
		loop_unwatch(h->loop, NULL, h->fd);
	loop_timer_stop(h->loop, &h->timer);
	MHD_stop_daemon(h->daemon);
	free(h);
	*hp = NULL;
}

void httpd_get_stats(const struct httpd *h, struct httpd_stats *out)
{
	*out = h->stats;
}
