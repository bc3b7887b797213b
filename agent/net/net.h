/* The transport: ZeroMQ CURVE on every connection.
 *
 * One ROUTER socket, CURVE server, bound on the configured endpoint, takes
 * every inbound connection; one DEALER per peer carries what we send to
 * it. A ZAP handler (an inproc REP socket bound before the ROUTER, polled
 * by the loop like any socket) admits a client key only when it belongs to
 * a current member (net_ops.lookup); any other key is admitted as a guest,
 * rate-limited per address and overall, whose messages are handed up
 * marked as such (the trust layer accepts nothing from guests but a join
 * request). The sender of a message is always the key ZAP authenticated,
 * never something the message says.
 *
 * Nothing a peer sends can grow memory without bound: frames over
 * max_message are refused by ZeroMQ (ZMQ_MAXMSGSIZE), every socket is
 * read each turn (inbound queues have no high-water mark: a full one is
 * how a peer reached a libzmq assertion, see net.c), connections that say
 * nothing or are guests are closed after a while (net_conn.c), and a peer
 * whose messages keep failing to decode is cut off for ban_time
 * (net_penalize()). */
#ifndef KITH_AGENT_NET_NET_H
#define KITH_AGENT_NET_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/limits.h"

struct conf;
struct loop;
struct proto_identity;

#define NET_ADDR_MAX 64
#define NET_ROUTING_ID_MAX 256

/* Where a message came from, and how to answer on the same connection. */
struct net_from {
	/* not a member: only a join request is acceptable. Answers on a
	 * DEALER of ours are never marked guest: they come from the peer we
	 * dialled, whose key the CURVE handshake proved. */
	bool guest;
	uint8_t peer[PROTO_KEY_LEN]; /* member: its Ed25519 key; guest: its CURVE key */
	char addr[NET_ADDR_MAX];     /* remote IP address, for logs; may be "" */
	/* reply path (opaque) */
	int fd; /* the inbound connection it came on; -1 on our DEALERs */
	void *socket;
	uint8_t routing_id[NET_ROUTING_ID_MAX];
	size_t routing_id_len;
};

/* Logs that we refused what from sent (unit: "request", "join request")
 * and why, one line per cause per LOG_TALLY_MS: a guest by its address
 * (its keys cost nothing), a member by its short ID. */
void net_log_refused(const struct net_from *from, const char *unit, const char *why);

struct net_ops {
	/* Is curve_pk the CURVE key of a current member? If so, fill in its
	 * Ed25519 key. Called by the ZAP handler at each handshake, and again
	 * for each message from a member (ZAP runs only at the handshake), so
	 * it must be cheap. */
	bool (*lookup)(void *arg, const uint8_t curve_pk[PROTO_KEY_LEN],
	               uint8_t peer[PROTO_KEY_LEN]);
	/* One message; buf and from are valid only during the call. It may
	 * call any net_* function but net_free(). */
	void (*recv)(void *arg, const struct net_from *from, const uint8_t *buf, size_t len);
};

struct net_stats {
	uint64_t received;      /* messages handed up */
	uint64_t sent;          /* messages queued */
	uint64_t send_drop;     /* not queued: peer queue full or unreachable */
	uint64_t malformed;     /* counted through net_penalize() */
	uint64_t zap_guest;     /* handshakes admitted as guests */
	uint64_t zap_refused;   /* handshakes refused (banned, over the guest rate, malformed) */
	uint64_t zap_malformed; /* ZAP requests that were not CURVE/kith/1.0 (also refused) */
	uint64_t bans;          /* peers cut off */
	/* inbound connections closed by us */
	uint64_t cut_silent;     /* nothing said since accepted (NET_SILENT_MS) */
	uint64_t cut_guest;      /* a guest's budget spent, or its time over */
	uint64_t cut_routing_id; /* it named its own routing id */
	uint64_t conns;          /* inbound connections open now */
};

struct net;

/* Binds the ZAP handler, then the ROUTER on c->listen, and watches both in
 * l. Each net has its own ZeroMQ context (the ZAP endpoint is per
 * context, so several nets can live in one process). id, c, ops and arg
 * are borrowed and must outlive the net. On success *out is owned by the
 * caller (net_free()). Returns 0 or -errno (EADDRINUSE...). */
int net_new(struct net **out, struct loop *l, const struct proto_identity *id, const struct conf *c,
            const struct net_ops *ops, void *arg);
/* Closes every socket and frees *n; NULL is harmless. */
void net_free(struct net **n);
/* The endpoint the ROUTER is bound to, with the port the system chose when
 * c->listen asked for "*" (ZMQ_LAST_ENDPOINT). Owned by n. */
const char *net_endpoint(const struct net *n);

/* Queues buf for peer through its DEALER, connecting it to endpoint
 * (borrowed) first if needed, or again if the endpoint changed. Never
 * blocks: returns 0, -EAGAIN (queue full: the message is dropped and
 * counted), -EINVAL (bad endpoint), -EMSGSIZE (over max_message), -EPERM
 * (peer banned) or another -errno. A DEALER that has taken nothing for a
 * second (libzmq never redials after the peer refused our handshake) is
 * replaced, with its queue, at the next send. */
int net_send(struct net *n, const uint8_t peer[PROTO_KEY_LEN], const char *endpoint,
             const uint8_t *buf, size_t len);
/* Answers on the connection a message came in on (to a guest, say). */
int net_reply(struct net *n, const struct net_from *to, const uint8_t *buf, size_t len);

/* A guest's budget is spent (its JOIN was answered): its connection is
 * closed once the answer had time to leave, and anything more it sends
 * is dropped. A guest connection also ends after NET_GUEST_MESSAGES
 * messages or NET_GUEST_LIFE_MS, and any connection that says nothing
 * within NET_SILENT_MS of its arrival (net_impl.h). */
void net_guest_done(struct net *n, const struct net_from *from);

/* Counts a malformed or unexpected message against its sender; after
 * conf->bad_messages of them the sender is banned (see net_ban()). why is
 * logged at a rate-limited level. */
void net_penalize(struct net *n, const struct net_from *from, const char *why);
/* Drops every connection of peer now and refuses its handshakes for
 * duration_ms (UINT64_MAX: until net_unban()). */
void net_ban(struct net *n, const uint8_t peer[PROTO_KEY_LEN], uint64_t duration_ms);
void net_unban(struct net *n, const uint8_t peer[PROTO_KEY_LEN]);
bool net_banned(struct net *n, const uint8_t peer[PROTO_KEY_LEN]);
/* Closes our DEALER to peer and drops its inbound connections (a member
 * that left, was revoked, or is dead): ZAP only runs at the handshake.
 * Inbound connections are known by the messages they carried; one that
 * has sent nothing yet is checked (ban, membership) at its first message.
 * What is counted against peer is forgotten, unless it is banned. */
void net_disconnect(struct net *n, const uint8_t peer[PROTO_KEY_LEN]);

void net_get_stats(const struct net *n, struct net_stats *out);
/* Malformed messages counted against peer so far. */
uint64_t net_peer_malformed(const struct net *n, const uint8_t peer[PROTO_KEY_LEN]);

#endif
