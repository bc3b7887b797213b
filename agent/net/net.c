/* The transport: one CURVE ROUTER for what peers send us, one CURVE DEALER
 * per peer for what we send them, and the ZAP handler (zap.c) that decides
 * at each handshake who is a member, who a guest and who is refused.
 *
 * Each net has its own ZeroMQ context: the ZAP endpoint
 * (inproc://zeromq.zap.01) is per context, so two nets in one process
 * (tests) each get their own handler, and nothing else in the process can
 * bind it first. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <zmq.h>

#include "proto/identity.h"
#include "proto/peerid.h"
#include "agent/core/conf.h"
#include "agent/core/loop.h"
#include "net_impl.h"

/* A draft option in libzmq 4.3 (Debian builds it): with it, a CURVE
 * server whose ZAP handler is missing refuses every client instead of
 * admitting every client. Our handler is bound before the ROUTER and
 * closed after it, so this is a second line, not the first. */
#ifndef ZMQ_ZAP_ENFORCE_DOMAIN
#define ZMQ_ZAP_ENFORCE_DOMAIN 93
#endif

#define NET_ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define NET_MAX_SOCKETS 4096 /* one DEALER per member, up to ~1000 members */
#define NET_ROUTER_SNDHWM 256
#define NET_DEALER_SNDHWM 128
#define NET_RECONNECT_MS 100
#define NET_RECONNECT_MAX_MS 5000
#define NET_CONNECT_TIMEOUT_MS 5000
#define NET_REDIAL_MS 1000     /* a DEALER that takes nothing for this long is replaced */
#define NET_HANDSHAKE_MS 10000 /* a client that stalls its handshake is dropped */
/* A connection silent for 30 s is probed by TCP every 10 s and dropped
 * after 6 unanswered probes; one whose data goes unacknowledged for 90 s
 * too: a peer that vanished without a FIN, a NAT that forgot us. The
 * kernel does it, not ZMTP heartbeats (see common_options()). */
#define NET_KEEPALIVE_IDLE_S 30
#define NET_KEEPALIVE_INTVL_S 10
#define NET_KEEPALIVE_CNT 6
#define NET_MAX_RETRANSMIT_MS 90000
/* Messages read from the ROUTER per wake-up: reading is cheap (the work a
 * message asks for is bounded elsewhere), and what is not read piles up
 * in libzmq, which has no limit (see common_options()). */
#define NET_ROUTER_BATCH 1024

static int set_int(void *s, int option, int value)
{
	return zmq_setsockopt(s, option, &value, sizeof(value)) == 0 ? 0 : -errno;
}

static uint64_t max_message(const struct net *n)
{
	return n->conf->max_message < PROTO_MSG_MAX ? n->conf->max_message : PROTO_MSG_MAX;
}

/* Options every socket of ours has.
 *
 * Two of libzmq 4.3's assertions (Debian 12's, and still upstream) are
 * within a peer's reach once an inbound queue is full: the engine stops
 * reading the connection, and when the peer then resets it the engine
 * marks an I/O error; its next write, from the ZMTP heartbeat timer or to
 * answer a PING still in its input buffer when the queue drains, hits
 * "!_io_error (stream_engine_base.cpp)" and aborts the process. So no
 * queue toward us is ever full: no receive high-water mark (RCVHWM 0; what
 * we cannot afford is read and dropped, and every socket is read each
 * turn), and no ZMTP heartbeat (TCP keepalive and a retransmission limit
 * find dead peers instead). tests/adversarial reproduces the abort. */
static int common_options(struct net *n, void *s, int sndhwm)
{
	int64_t maxmsg = (int64_t)max_message(n);
	int err = 0;

	if (zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg)) != 0)
		return -errno;
	err = err ? err : set_int(s, ZMQ_LINGER, 0);
	err = err ? err : set_int(s, ZMQ_SNDHWM, sndhwm);
	err = err ? err : set_int(s, ZMQ_RCVHWM, 0);
	err = err ? err : set_int(s, ZMQ_TCP_KEEPALIVE, 1);
	err = err ? err : set_int(s, ZMQ_TCP_KEEPALIVE_IDLE, NET_KEEPALIVE_IDLE_S);
	err = err ? err : set_int(s, ZMQ_TCP_KEEPALIVE_INTVL, NET_KEEPALIVE_INTVL_S);
	err = err ? err : set_int(s, ZMQ_TCP_KEEPALIVE_CNT, NET_KEEPALIVE_CNT);
	err = err ? err : set_int(s, ZMQ_TCP_MAXRT, NET_MAX_RETRANSMIT_MS);
	return err;
}

/* An IPv4 address to listen on is listened on as IPv4 (peers then show
 * as 192.0.2.1, not ::ffff:192.0.2.1); anything else ("*", a name, an
 * IPv6 address) as IPv6, which takes IPv4 too. */
static bool listen_ipv6(const char *endpoint)
{
	const char *host = strstr(endpoint, "://");
	const char *colon = strrchr(endpoint, ':');

	host = host ? host + 3 : endpoint;
	if (!colon || colon < host)
		return true;
	for (const char *c = host; c < colon; c++)
		if ((*c < '0' || *c > '9') && *c != '.')
			return true;
	return false;
}

static int drop(struct net *n, int err)
{
	n->stats.send_drop++;
	return err;
}

/* Discards the remaining frames of a message; they are already in memory
 * (ZeroMQ delivers a message whole). Returns how many there were. */
static size_t skip_rest(void *s)
{
	zmq_msg_t m;
	size_t count = 0;
	int more = 1;

	zmq_msg_init(&m);
	while (more && zmq_msg_recv(&m, s, ZMQ_DONTWAIT) >= 0) {
		more = zmq_msg_more(&m);
		count++;
	}
	zmq_msg_close(&m);
	return count;
}

static void copy_addr(struct net_from *from, zmq_msg_t *payload)
{
	const char *addr = zmq_msg_gets(payload, "Peer-Address");

	net_addr_copy(from->addr, addr ? addr : "", addr ? strlen(addr) : 0);
}

/* The sender, as ZAP authenticated it for this connection: the only
 * source of a sender's identity. Returns 0 or -1. */
static int from_metadata(struct net_from *from, zmq_msg_t *payload)
{
	const char *uid = zmq_msg_gets(payload, "User-Id");
	size_t bin_len = 0;

	if (!uid || strlen(uid) != 2 + 2 * PROTO_KEY_LEN || uid[1] != ':' ||
	    (uid[0] != 'm' && uid[0] != 'g'))
		return -1;
	if (sodium_hex2bin(from->peer, PROTO_KEY_LEN, uid + 2, 2 * PROTO_KEY_LEN, NULL, &bin_len,
	                   NULL) != 0 ||
	    bin_len != PROTO_KEY_LEN)
		return -1;
	from->guest = uid[0] == 'g';
	copy_addr(from, payload);
	return 0;
}

/* Is p, admitted as a member at its handshake, a member still? ZAP runs
 * only at the handshake; this catches a member removed since, even if
 * nobody called net_disconnect(). */
static bool still_member(struct net *n, struct net_peer *p)
{
	uint8_t peer[PROTO_KEY_LEN];

	if (net_peer_curve(p) != 0)
		return false;
	return n->ops->lookup(n->arg, p->curve_pk, peer) &&
	       memcmp(peer, p->key, PROTO_KEY_LEN) == 0;
}

static bool addr_banned(struct net *n, const char *addr)
{
	uint8_t key[PROTO_KEY_LEN];
	struct net_peer *a;

	if (!addr[0])
		return false;
	net_addr_key(key, addr);
	a = net_peer_find(n, NET_KIND_ADDR, key);
	return a && net_peer_is_banned(n, a);
}

/* libzmq gives every connection a 5-byte routing id starting with a zero
 * byte, unless the peer names one itself. kith never does; a peer that
 * does may be aiming at another connection's id (ROUTER_HANDOVER gives the
 * id to the newcomer and ends the older connection's queue). */
static bool routing_id_ours(zmq_msg_t *rid)
{
	return zmq_msg_size(rid) == 5 && ((const uint8_t *)zmq_msg_data(rid))[0] == 0;
}

/* Accounts an inbound message to its sender's entry and connection.
 * Returns false when the message must be dropped: banned sender (its
 * connections are cut again, in case one slipped through), a member no
 * longer, a guest that is a member now, a guest over its budget, or a
 * routing id the peer chose. */
static bool inbound_accept(struct net *n, const struct net_from *from, zmq_msg_t *rid)
{
	enum net_kind kind = from->guest ? NET_KIND_GUEST : NET_KIND_MEMBER;
	struct net_peer *p = net_peer_get(n, kind, from->peer);
	char id[PROTO_PEERID_SHORT_LEN + 1];
	uint8_t member[PROTO_KEY_LEN];

	if (!p)
		return false;
	if (!net_conn_message(n, from->fd, zmq_msg_data(rid), zmq_msg_size(rid), kind, from->peer))
		return false;
	if (net_peer_is_banned(n, p) || (from->guest && addr_banned(n, from->addr))) {
		net_peer_cut_conns(p);
		return false;
	}
	if (!routing_id_ours(rid)) {
		n->stats.cut_routing_id++;
		net_conn_refuse(n, from);
		net_penalize(n, from, "names its own routing id");
		return false;
	}
	if (!from->guest && !still_member(n, p)) {
		proto_peerid_short(id, p->key);
		log_debug("net: %s is no longer a member: dropping its connections", id);
		net_peer_cut_conns(p);
		return false;
	}
	/* A guest that has become a member since its handshake (we learnt
	 * of it later than it learnt of us) is cut too: it redials, and
	 * ZAP admits it as the member it now is. */
	if (from->guest && n->ops->lookup(n->arg, from->peer, member)) {
		proto_peerid_short(id, member);
		log_debug("net: %s connected as a guest, is now a member: redial", id);
		net_peer_cut_conns(p);
		return false;
	}
	return true;
}

/* Handles one message on the ROUTER. Returns 1 when one was read, 0 when
 * none was waiting, or -errno. */
static int router_recv_one(struct net *n)
{
	zmq_msg_t rid, payload;
	struct net_from from = {0};
	size_t extra = 0;
	int rc = 1;

	zmq_msg_init(&rid);
	zmq_msg_init(&payload);
	if (zmq_msg_recv(&rid, n->router, ZMQ_DONTWAIT) < 0) {
		rc = errno == EAGAIN || errno == EINTR ? 0 : -errno;
		goto cleanup;
	}
	/* A ROUTER always gives [routing id][frames...]. */
	if (!zmq_msg_more(&rid) || zmq_msg_recv(&payload, n->router, ZMQ_DONTWAIT) < 0)
		goto cleanup;
	if (zmq_msg_more(&payload))
		extra = skip_rest(n->router);
	if (from_metadata(&from, &payload) != 0 || zmq_msg_size(&rid) > NET_ROUTING_ID_MAX) {
		log_tally(LOG_LEVEL_WARN, "net: dropped", 1, "message",
		          "without a valid ZAP user id", "not admitted by our handler");
		goto cleanup;
	}
	from.fd = zmq_msg_get(&payload, ZMQ_SRCFD);
	from.socket = n->router;
	from.routing_id_len = zmq_msg_size(&rid);
	memcpy(from.routing_id, zmq_msg_data(&rid), from.routing_id_len);
	if (!inbound_accept(n, &from, &rid))
		goto cleanup;
	if (extra) {
		net_penalize(n, &from, "multipart message");
		goto cleanup;
	}
	n->stats.received++;
	n->ops->recv(n->arg, &from, zmq_msg_data(&payload), zmq_msg_size(&payload));
cleanup:
	zmq_msg_close(&rid);
	zmq_msg_close(&payload);
	return rc;
}

static void router_in(struct loop *l, void *arg, short revents)
{
	struct net *n = arg;
	int rc = 0;

	(void)l;
	if (!(revents & ZMQ_POLLIN))
		return;
	for (int i = 0; i < NET_ROUTER_BATCH; i++)
		if ((rc = router_recv_one(n)) <= 0)
			break;
	if (rc < 0)
		log_warnx("net: receive: %s", zmq_strerror(-rc));
}

/* Handles one answer on p's DEALER: the peer is the one we dialled, whose
 * key the CURVE handshake proved. Returns 1, 0 (nothing waiting) or -errno. */
static int dealer_recv_one(struct net *n, struct net_peer *p)
{
	zmq_msg_t m;
	struct net_from from = {0};
	size_t extra = 0;
	int rc = 1;

	zmq_msg_init(&m);
	if (zmq_msg_recv(&m, p->dealer, ZMQ_DONTWAIT) < 0) {
		rc = errno == EAGAIN || errno == EINTR ? 0 : -errno;
		goto cleanup;
	}
	if (zmq_msg_more(&m))
		extra = skip_rest(p->dealer);
	if (net_peer_is_banned(n, p))
		goto cleanup;
	memcpy(from.peer, p->key, PROTO_KEY_LEN);
	copy_addr(&from, &m);
	from.fd = -1;
	from.socket = p->dealer;
	if (extra) {
		net_penalize(n, &from, "multipart message");
		goto cleanup;
	}
	n->stats.received++;
	n->ops->recv(n->arg, &from, zmq_msg_data(&m), zmq_msg_size(&m));
cleanup:
	zmq_msg_close(&m);
	return rc;
}

static void dealer_in(struct loop *l, void *arg, short revents)
{
	struct net_peer *p = arg;
	struct net *n = p->net;
	void *sock = p->dealer;
	uint8_t key[PROTO_KEY_LEN];

	(void)l;
	if (!(revents & ZMQ_POLLIN))
		return;
	memcpy(key, p->key, PROTO_KEY_LEN);
	for (int i = 0; i < NET_BATCH; i++) {
		if (dealer_recv_one(n, p) <= 0)
			break;
		/* ops->recv may have banned or disconnected the peer, which
		 * closes this socket and may free p. */
		p = net_peer_find(n, NET_KIND_MEMBER, key);
		if (!p || p->dealer != sock)
			break;
	}
}

static int zap_open(struct net *n)
{
	int err;

	n->zap = zmq_socket(n->ctx, ZMQ_REP);
	if (!n->zap)
		return -errno;
	if ((err = set_int(n->zap, ZMQ_LINGER, 0)) != 0)
		return err;
	if (zmq_bind(n->zap, NET_ZAP_ENDPOINT) != 0) {
		err = -errno;
		log_warnx("net: cannot bind the ZAP handler: %s", zmq_strerror(errno));
		return err;
	}
	return loop_watch(n->loop, n->zap, -1, ZMQ_POLLIN, net_zap_in, n);
}

static int router_open(struct net *n)
{
	size_t len = sizeof(n->endpoint);
	int err;

	n->router = zmq_socket(n->ctx, ZMQ_ROUTER);
	if (!n->router)
		return -errno;
	err = common_options(n, n->router, NET_ROUTER_SNDHWM);
	err = err ? err : set_int(n->router, ZMQ_CURVE_SERVER, 1);
	if (!err && zmq_setsockopt(n->router, ZMQ_CURVE_SECRETKEY, n->id->curve_sk, PROTO_KEY_LEN))
		err = -errno;
	if (!err &&
	    zmq_setsockopt(n->router, ZMQ_ZAP_DOMAIN, NET_ZAP_DOMAIN, strlen(NET_ZAP_DOMAIN)))
		err = -errno;
	err = err ? err : set_int(n->router, ZMQ_ROUTER_MANDATORY, 1);
	/* A peer naming a routing id already in use takes it over, and the
	 * older connection's queue ends: without this, the newcomer's queue
	 * would be one the ROUTER never reads, filled without limit. */
	err = err ? err : set_int(n->router, ZMQ_ROUTER_HANDOVER, 1);
	err = err ? err : set_int(n->router, ZMQ_HANDSHAKE_IVL, NET_HANDSHAKE_MS);
	err = err ? err : set_int(n->router, ZMQ_IPV6, listen_ipv6(n->conf->listen));
	if (err)
		return err;
	if (set_int(n->router, ZMQ_ZAP_ENFORCE_DOMAIN, 1) != 0)
		log_debug("net: this libzmq has no ZMQ_ZAP_ENFORCE_DOMAIN");
	/* Watching connections starts before the first can come. */
	if ((err = net_conns_open(n)) != 0)
		return err;
	if (zmq_bind(n->router, n->conf->listen) != 0) {
		err = -errno;
		log_warnx("net: cannot listen on %s: %s", n->conf->listen, zmq_strerror(errno));
		return err;
	}
	if (zmq_getsockopt(n->router, ZMQ_LAST_ENDPOINT, n->endpoint, &len) != 0)
		snprintf(n->endpoint, sizeof(n->endpoint), "%s", n->conf->listen);
	return loop_watch(n->loop, n->router, -1, ZMQ_POLLIN, router_in, n);
}

int net_new(struct net **out, struct loop *l, const struct proto_identity *id, const struct conf *c,
            const struct net_ops *ops, void *arg)
{
	struct net *n = calloc(1, sizeof(*n));
	int err;

	if (!n)
		return -ENOMEM;
	n->loop = l;
	n->id = id;
	n->conf = c;
	n->ops = ops;
	n->arg = arg;
	if ((err = net_table_init(&n->peers)) != 0)
		goto fail;
	n->ctx = zmq_ctx_new();
	if (!n->ctx) {
		err = -errno;
		goto fail;
	}
	zmq_ctx_set(n->ctx, ZMQ_BLOCKY, 0);
	zmq_ctx_set(n->ctx, ZMQ_MAX_SOCKETS, NET_MAX_SOCKETS);
	/* The handler first: a CURVE server with no handler bound admits
	 * any client that knows its public key. */
	if ((err = zap_open(n)) != 0 || (err = router_open(n)) != 0)
		goto fail;
	log_info("net: listening on %s", n->endpoint);
	*out = n;
	return 0;
fail:
	net_free(&n);
	return err;
}

void net_free(struct net **np)
{
	struct net *n;

	if (!np || !*np)
		return;
	n = *np;
	if (n->peers.buckets)
		net_table_free(n);
	net_conns_close(n);
	if (n->router) {
		loop_unwatch(n->loop, n->router, -1);
		zmq_close(n->router);
	}
	/* Closed after the ROUTER, never before it. */
	if (n->zap) {
		loop_unwatch(n->loop, n->zap, -1);
		zmq_close(n->zap);
	}
	if (n->ctx)
		while (zmq_ctx_term(n->ctx) != 0 && errno == EINTR)
			;
	free(n);
	*np = NULL;
}

const char *net_endpoint(const struct net *n)
{
	return n->endpoint;
}

static int dealer_open(struct net *n, struct net_peer *p, const char *endpoint)
{
	void *s;
	char *copy = NULL;
	int err;

	if (net_peer_curve(p) != 0)
		return -EINVAL;
	s = zmq_socket(n->ctx, ZMQ_DEALER);
	if (!s)
		return -errno;
	err = common_options(n, s, NET_DEALER_SNDHWM);
	if (!err && (zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, p->curve_pk, PROTO_KEY_LEN) ||
	             zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, n->id->curve_pk, PROTO_KEY_LEN) ||
	             zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, n->id->curve_sk, PROTO_KEY_LEN)))
		err = -errno;
	err = err ? err : set_int(s, ZMQ_RECONNECT_IVL, NET_RECONNECT_MS);
	err = err ? err : set_int(s, ZMQ_RECONNECT_IVL_MAX, NET_RECONNECT_MAX_MS);
	err = err ? err : set_int(s, ZMQ_CONNECT_TIMEOUT, NET_CONNECT_TIMEOUT_MS);
	/* Host names may have only an IPv6 address; libzmq falls back to
	 * IPv4 sockets where IPv6 is missing. */
	err = err ? err : set_int(s, ZMQ_IPV6, 1);
	if (err)
		goto fail;
	if (!(copy = strdup(endpoint))) {
		err = -ENOMEM;
		goto fail;
	}
	/* Host names are resolved later, in libzmq's I/O thread. */
	if (zmq_connect(s, endpoint) != 0) {
		err = -errno;
		goto fail;
	}
	if ((err = loop_watch(n->loop, s, -1, ZMQ_POLLIN, dealer_in, p)) != 0)
		goto fail;
	p->dealer = s;
	p->endpoint = copy;
	p->stuck_ms = 0;
	return 0;
fail:
	free(copy);
	zmq_close(s);
	return err;
}

/* libzmq gives up on a connection for good when the server refuses the
 * handshake (ZAP said no: we were banned, or over its guest rate) or
 * fails it (not the key we expected): the DEALER then takes nothing more,
 * which looks like a full queue. Either way, when no send has been
 * accepted for NET_REDIAL_MS, the DEALER is closed with what it had
 * queued, so that the caller dials again; a queue that is full but moving
 * is left alone. */
static bool redial(struct net *n, struct net_peer *p)
{
	uint64_t now = loop_now_ms(n->loop);
	char id[PROTO_PEERID_SHORT_LEN + 1];

	if (!p->stuck_ms) {
		p->stuck_ms = now ? now : 1;
		return false;
	}
	if (now - p->stuck_ms < NET_REDIAL_MS)
		return false;
	proto_peerid_short(id, p->key);
	log_debug("net: queue to %s stuck for %llu ms: dialling again", id,
	          (unsigned long long)(now - p->stuck_ms));
	net_peer_close_dealer(n, p);
	return true;
}

int net_send(struct net *n, const uint8_t peer[PROTO_KEY_LEN], const char *endpoint,
             const uint8_t *buf, size_t len)
{
	struct net_peer *p;
	const char *why;
	int err;

	if (!endpoint || conf_endpoint_check(endpoint, &why) != 0)
		return drop(n, -EINVAL);
	if (len > max_message(n))
		return drop(n, -EMSGSIZE);
	p = net_peer_get(n, NET_KIND_MEMBER, peer);
	if (!p)
		return drop(n, -ENOMEM);
	if (net_peer_is_banned(n, p))
		return drop(n, -EPERM);
	/* Another endpoint: a fresh socket rather than a reconnect, so that
	 * nothing queued for the old address is kept. */
	if (p->dealer && strcmp(p->endpoint, endpoint) != 0)
		net_peer_close_dealer(n, p);
	if (!p->dealer && (err = dealer_open(n, p, endpoint)) != 0)
		return drop(n, err);
	err = zmq_send(p->dealer, buf, len, ZMQ_DONTWAIT) < 0 ? -errno : 0;
	if (err == -EAGAIN && redial(n, p)) {
		if ((err = dealer_open(n, p, endpoint)) != 0)
			return drop(n, err);
		err = zmq_send(p->dealer, buf, len, ZMQ_DONTWAIT) < 0 ? -errno : 0;
	}
	loop_kick(n->loop, p->dealer);
	if (err)
		return drop(n, err);
	p->stuck_ms = 0;
	n->stats.sent++;
	return 0;
}

int net_reply(struct net *n, const struct net_from *to, const uint8_t *buf, size_t len)
{
	struct net_peer *p;

	if (len > max_message(n))
		return drop(n, -EMSGSIZE);
	p = net_peer_find(n, to->guest ? NET_KIND_GUEST : NET_KIND_MEMBER, to->peer);
	if (p && net_peer_is_banned(n, p))
		return drop(n, -EPERM);
	if (to->socket && to->socket == n->router) {
		if (!to->routing_id_len || to->routing_id_len > NET_ROUTING_ID_MAX)
			return drop(n, -EINVAL);
		bool sent = zmq_send(n->router, to->routing_id, to->routing_id_len,
		                     ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0 &&
		            zmq_send(n->router, buf, len, ZMQ_DONTWAIT) >= 0;
		int err = -errno;

		loop_kick(n->loop, n->router);
		if (!sent)
			return drop(n, err);
	} else {
		/* to->socket is only compared, never used, until it is known
		 * to be the peer's live DEALER: a copy of an old net_from
		 * may name a socket closed since. */
		if (to->guest || !p || !p->dealer || p->dealer != to->socket)
			return drop(n, -ENOTCONN);
		bool sent = zmq_send(p->dealer, buf, len, ZMQ_DONTWAIT) >= 0;
		int err = -errno;

		loop_kick(n->loop, p->dealer);
		if (!sent)
			return drop(n, err);
	}
	n->stats.sent++;
	return 0;
}

static void log_ban(const struct net_peer *p, uint64_t duration_ms, const char *addr)
{
	char who[PROTO_PEERID_SHORT_LEN + NET_ADDR_MAX + 16], why[48];
	const char *unit = p->kind == NET_KIND_MEMBER  ? "peer"
	                   : p->kind == NET_KIND_GUEST ? "guest"
	                                               : "guest address";

	if (p->kind == NET_KIND_ADDR)
		snprintf(who, sizeof(who), "%s", addr ? addr : "?");
	else
		proto_peerid_short(who, p->key);
	if (duration_ms == UINT64_MAX)
		snprintf(why, sizeof(why), "banned until unbanned");
	else if (duration_ms % 1000)
		snprintf(why, sizeof(why), "banned for %llu ms", (unsigned long long)duration_ms);
	else
		snprintf(why, sizeof(why), "banned for %llu s",
		         (unsigned long long)(duration_ms / 1000));
	log_tally(LOG_LEVEL_WARN, "net: cut off", 1, unit, who, why);
}

/* Bans one entry and drops its connections; a member's CURVE key is also
 * banned as a guest key, so that it cannot come back as a guest while
 * banned if it stops being a member. */
void net_ban_entry(struct net *n, struct net_peer *p, uint64_t duration_ms, bool quiet,
                   const char *addr)
{
	uint64_t now = loop_now_ms(n->loop);
	uint8_t curve[PROTO_KEY_LEN];
	struct net_peer *g;

	p->ban_until = duration_ms >= UINT64_MAX - now ? UINT64_MAX : now + duration_ms;
	p->strikes = 0;
	if (!quiet)
		log_ban(p, duration_ms, addr);
	net_peer_close_dealer(n, p);
	net_peer_cut_conns(p);
	if (p->kind != NET_KIND_MEMBER || net_peer_curve(p) != 0)
		return;
	memcpy(curve, p->curve_pk, PROTO_KEY_LEN);
	g = net_peer_get(n, NET_KIND_GUEST, curve);
	if (g) {
		g->ban_until = p->ban_until;
		net_peer_cut_conns(g);
	}
}

/* A guest's bad messages count against its source address too: new keys
 * are free, addresses are not. */
static void penalize_addr(struct net *n, const char *addr)
{
	uint8_t key[PROTO_KEY_LEN];
	struct net_peer *a;

	net_addr_key(key, addr);
	a = net_peer_get(n, NET_KIND_ADDR, key);
	if (!a)
		return;
	a->malformed++;
	if (!net_peer_is_banned(n, a) && ++a->strikes >= n->conf->bad_messages) {
		n->stats.bans++;
		net_ban_entry(n, a, n->conf->ban_ms, false, addr);
	}
}

void net_penalize(struct net *n, const struct net_from *from, const char *why)
{
	enum net_kind kind = from->guest ? NET_KIND_GUEST : NET_KIND_MEMBER;
	struct net_peer *p = net_peer_get(n, kind, from->peer);
	char who[PROTO_PEERID_SHORT_LEN + NET_ADDR_MAX + 16];

	n->stats.malformed++;
	/* A stranger's keys are free: its lines go by address. */
	if (from->guest)
		snprintf(who, sizeof(who), "from a guest at %s", from->addr[0] ? from->addr : "?");
	else {
		memcpy(who, "from ", 5);
		proto_peerid_short(who + 5, from->peer);
	}
	log_tally(LOG_LEVEL_WARN, "net: refused", 1, "message", who, why);
	if (!p)
		return;
	p->malformed++;
	if (from->guest && from->addr[0])
		penalize_addr(n, from->addr);
	/* Messages already on their way when it was banned: counted only. */
	if (!net_peer_is_banned(n, p) && ++p->strikes >= n->conf->bad_messages) {
		n->stats.bans++;
		net_ban_entry(n, p, n->conf->ban_ms, false, from->addr);
	}
}

/* A key we know only as a guest is banned as a guest, one we know as a
 * member as a member; a key we have never seen could be either, so it is
 * banned as both. */
void net_ban(struct net *n, const uint8_t peer[PROTO_KEY_LEN], uint64_t duration_ms)
{
	struct net_peer *g = net_peer_find(n, NET_KIND_GUEST, peer);
	struct net_peer *m = net_peer_find(n, NET_KIND_MEMBER, peer);
	bool as_guest = g || !m, as_member = m || !g;

	n->stats.bans++;
	if (as_guest && (g = net_peer_get(n, NET_KIND_GUEST, peer)))
		net_ban_entry(n, g, duration_ms, false, NULL);
	if (as_member && (m = net_peer_get(n, NET_KIND_MEMBER, peer)))
		net_ban_entry(n, m, duration_ms, as_guest, NULL);
}

void net_unban(struct net *n, const uint8_t peer[PROTO_KEY_LEN])
{
	struct net_peer *g = net_peer_find(n, NET_KIND_GUEST, peer);
	struct net_peer *m = net_peer_find(n, NET_KIND_MEMBER, peer);

	if (g)
		g->ban_until = 0;
	if (m) {
		m->ban_until = 0;
		if (m->has_curve && (g = net_peer_find(n, NET_KIND_GUEST, m->curve_pk)))
			g->ban_until = 0;
	}
}

bool net_banned(struct net *n, const uint8_t peer[PROTO_KEY_LEN])
{
	struct net_peer *g = net_peer_find(n, NET_KIND_GUEST, peer);
	struct net_peer *m = net_peer_find(n, NET_KIND_MEMBER, peer);

	return (g && net_peer_is_banned(n, g)) || (m && net_peer_is_banned(n, m));
}

void net_disconnect(struct net *n, const uint8_t peer[PROTO_KEY_LEN])
{
	struct net_peer *g = net_peer_find(n, NET_KIND_GUEST, peer);
	struct net_peer *m = net_peer_find(n, NET_KIND_MEMBER, peer);

	if (g)
		net_peer_cut_conns(g);
	if (m) {
		net_peer_cut_conns(m);
		/* A banned entry stays to keep the ban; others go, so that
		 * members that left leave nothing behind. */
		if (net_peer_is_banned(n, m))
			net_peer_close_dealer(n, m);
		else
			net_peer_drop(n, m);
	}
}

void net_get_stats(const struct net *n, struct net_stats *out)
{
	*out = n->stats;
	out->conns = n->conns.count;
}

uint64_t net_peer_malformed(const struct net *n, const uint8_t peer[PROTO_KEY_LEN])
{
	struct net_peer *m = net_peer_find(n, NET_KIND_MEMBER, peer);
	struct net_peer *g = net_peer_find(n, NET_KIND_GUEST, peer);

	return (m ? m->malformed : 0) + (g ? g->malformed : 0);
}
