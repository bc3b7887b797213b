/* A small HTTP listener on the agent's event loop: libmicrohttpd in its
 * external epoll mode (one file descriptor in the loop's poll, a timer for
 * its timeouts, MHD_run() when either fires), for the Prometheus metrics
 * and the status pages. GET and HEAD only; every answer is made whole in
 * memory by the handler, in the loop, so a handler must be quick and
 * bounded.
 *
 * What a client costs is bounded by libmicrohttpd's options set here: a
 * few connections (HTTPD_CONNECTIONS_MAX, HTTPD_PER_IP_MAX), a small
 * buffer per connection (request line and headers beyond it get 431), and
 * an idle timeout (HTTPD_IDLE_S). */
#ifndef KITH_AGENT_CORE_HTTPD_H
#define KITH_AGENT_CORE_HTTPD_H

#include <stddef.h>
#include <stdint.h>

#define HTTPD_CONNECTIONS_MAX 32
#define HTTPD_PER_IP_MAX 8
#define HTTPD_IDLE_S 10
#define HTTPD_CONNECTION_MEMORY (32 * 1024)

struct loop;
struct httpd;

/* What a handler answers. body is malloc()ed by the handler and owned by
 * the listener once the handler returns (NULL with len 0: empty).
 * content_type is a static string. */
struct httpd_reply {
	unsigned status;
	const char *content_type;
	char *body;
	size_t len;
};

/* Called for each GET or HEAD request; path is the request's path without
 * its query (borrowed for the call). The reply starts as 404, empty. */
typedef void (*httpd_handler_fn)(void *arg, const char *path, struct httpd_reply *reply);

struct httpd_stats {
	uint64_t requests; /* answered, any status */
	uint64_t refused;  /* other methods than GET and HEAD */
};

/* Listens on addr ("IPV4:PORT" or "[IPV6]:PORT", conf_listen_parse()) in
 * l (borrowed, outliving the listener) and calls fn(arg, ...) per request.
 * On success *out is owned by the caller (httpd_free()). Returns 0, or
 * KITH_EVALUE / -errno with one line in err (n bytes): a bad address, one
 * in use. */
int httpd_new(struct httpd **out, struct loop *l, const char *addr, httpd_handler_fn fn, void *arg,
              char *err, size_t n);
/* Closes every connection and the listening socket; harmless on NULL. */
void httpd_free(struct httpd **h);
void httpd_get_stats(const struct httpd *h, struct httpd_stats *out);

#endif
