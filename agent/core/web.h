/* libcurl inside the event loop: one multi handle per agent, driven by
 * libcurl's socket and timer callbacks (CURLMOPT_SOCKETFUNCTION,
 * CURLMOPT_TIMERFUNCTION) through loop watches and a loop timer, so no
 * transfer ever blocks the loop. Health checks and alerts submit easy
 * handles here and get a callback when each completes.
 *
 * Done callbacks run from the loop, never inside a libcurl callback: they
 * may submit and cancel transfers (but not web_free()). Callers should set
 * CURLOPT_QUICK_EXIT on their handles: without it, a transfer ended while
 * its host name resolves waits for libcurl's resolver thread, blocking the
 * loop. */
#ifndef KITH_AGENT_CORE_WEB_H
#define KITH_AGENT_CORE_WEB_H

#include <stddef.h>

#include <netinet/in.h>

#include <curl/curl.h>

struct loop;
struct web;

/* Called once when the transfer of easy ends, with libcurl's result. The
 * easy handle is the caller's again (remove nothing, reuse or clean it up). */
typedef void (*web_done_fn)(void *arg, CURL *easy, CURLcode result);

struct web_stats {
	unsigned long submitted, completed, in_flight;
};

/* On success *out is owned by the caller (web_free()). l is borrowed. */
int web_new(struct web **out, struct loop *l);
/* Aborts every transfer (their done callbacks are not called) and frees. */
void web_free(struct web **w);

/* Initialises libcurl if this is its first use here (an agent that never
 * checks nor alerts never does). Call it before curl_easy_init(). Returns 0
 * or -ENOMEM / -EINVAL. */
int web_ready(struct web *w);
/* Starts easy (owned by the caller, who must keep it until done or
 * web_cancel()). Returns 0, -ENOMEM, -EBUSY when max_in_flight transfers
 * run already (the caller retries later), or -EINVAL when libcurl refuses
 * the handle (already added, or called from a libcurl callback). */
int web_submit(struct web *w, CURL *easy, web_done_fn done, void *arg);
/* Aborts easy's transfer if it runs; its done callback is not called. */
void web_cancel(struct web *w, CURL *easy);
/* Transfers running at once (default 256, at least 1): beyond it
 * web_submit() says -EBUSY. */
void web_set_max_in_flight(struct web *w, unsigned long max);
void web_get_stats(const struct web *w, struct web_stats *out);

/* Keeps a transfer whose URL a peer chose off our own host and network:
 * it connects directly (no proxy, whatever the environment says, since a
 * proxy would connect for us out of the guard's sight) and only to public
 * addresses, never to loopback, private (RFC 1918, CGNAT, unique local),
 * link-local or multicast ones, also when libcurl reuses a connection. */
struct web_guard {
	char refused[INET6_ADDRSTRLEN]; /* the address refused, "" if none */
};
/* Guards easy with g (borrowed: it must outlive the transfer; refused is
 * cleared here). Returns 0 or -EINVAL. */
int web_guard_public(CURL *easy, struct web_guard *g);

#endif
