/* One DNS exchange over TCP on the agent's event loop: connect to a
 * server, write one length-prefixed message (RFC 1035 4.2.2, as
 * dns/update.h builds it), read one length-prefixed reply, close. Nothing
 * in it blocks: the socket is non-blocking and every step waits on the
 * loop, under one timeout for the whole exchange.
 *
 * A struct dns_tcp is owned by its user (embedded in a module's struct,
 * like a loop_timer): a zeroed one is idle, and it must stay in place
 * while active. While active it owns a socket, a copy of the message and
 * the reply buffer: at most DNS_TCP_REPLY_MAX bytes, allocated once the
 * reply's length is known, whatever the server sends.
 *
 * The callback runs exactly once per started exchange, from the loop,
 * never from inside dns_tcp_start(), unless the exchange is cancelled
 * first: then it never runs. When it runs the exchange is over (socket
 * closed, x idle): it may start x again. There are no retries here: a
 * caller that wants one starts another exchange, knowing what it sent
 * (an UPDATE that timed out may have been applied). */
#ifndef KITH_AGENT_DNS_DNS_TCP_H
#define KITH_AGENT_DNS_DNS_TCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sys/socket.h>

#include "agent/core/loop.h"

/* The largest reply: all a 2-byte length can say. */
#define DNS_TCP_REPLY_MAX 65535

struct dns_tcp;

/* err is 0 with the reply in reply[0..len) (1..DNS_TCP_REPLY_MAX bytes,
 * untrusted: give it to dns_reply_parse()), borrowed for the call only;
 * or reply is NULL, len 0 and err one of
 *   -ETIMEDOUT     no full reply within the timeout
 *   -ECONNREFUSED, -ENETUNREACH, -EHOSTUNREACH, ...   connect failed
 *   -ECONNRESET    the server closed or reset the connection before the
 *                  whole reply
 *   KITH_ETRUNC    the server announced an empty reply
 *   -errno         another socket error */
typedef void (*dns_tcp_fn)(struct dns_tcp *x, void *arg, int err, const uint8_t *reply, size_t len);

struct dns_tcp {
	/* All private. */
	bool active;
	int state;
	int fd;
	int pending; /* an error connect() gave at once, called back from the timer */
	struct loop *loop;
	struct loop_timer timer;
	uint8_t *out;
	size_t out_len, out_at;
	uint8_t head[2];
	size_t head_at;
	uint8_t *in;
	size_t in_len, in_at;
	dns_tcp_fn fn;
	void *arg;
};

/* Starts an exchange on x (idle) with the server at to (AF_INET or
 * AF_INET6, port set), sending msg[0..len) (a 2-byte big-endian length
 * then that many bytes: 3 to 2 + 65535 bytes in all), calling fn(x, arg,
 * ...) once when it ends or after timeout_ms (1 or more) milliseconds. l,
 * to and msg are borrowed for the call (msg is copied); l must outlive the
 * exchange. Returns 0, or without starting anything: -EBUSY (x active),
 * -EINVAL (a bad message or timeout), -EAFNOSUPPORT, -ENOMEM, or socket()'s
 * -errno (-EMFILE ...). Connection errors come through fn. */
int dns_tcp_start(struct dns_tcp *x, struct loop *l, const struct sockaddr_storage *to,
                  const uint8_t *msg, size_t len, uint64_t timeout_ms, dns_tcp_fn fn, void *arg);

/* Ends x's exchange without a callback: closes the socket, frees the
 * buffers, stops the timer. Harmless on an idle x. */
void dns_tcp_cancel(struct dns_tcp *x);

bool dns_tcp_active(const struct dns_tcp *x);

#endif
