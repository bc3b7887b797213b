/* The ROUTER's inbound connections (see struct net_conn in net_impl.h).
 *
 * libzmq hides connections behind routing ids and tells the application
 * nothing of a peer that connects and stays silent. Its socket monitor
 * does: ACCEPTED and DISCONNECTED events carry the file descriptor. The
 * monitor's PAIR is ours with no receive limit (RCVHWM 0), so the I/O
 * thread never blocks on it; the events are read every turn of the loop.
 *
 * Each message's ZMQ_SRCFD ties the connection to the key ZAP admitted,
 * which is how a banned, removed or spent peer's connections are found.
 * Once a second the sweep closes what has overstayed: connections silent
 * since they were accepted (but from an address a member handshook from:
 * members' idle DEALERs reconnect by themselves and stay silent), guests
 * whose one JOIN was answered, guests past their life. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/socket.h>
#include <arpa/inet.h>

#include <sodium.h>
#include <zmq.h>

#include "proto/peerid.h"
#include "net_impl.h"

#define MONITOR_ENDPOINT "inproc://kith-net-monitor"
#define MONITOR_EVENTS (ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_CLOSED)
#define MONITOR_BATCH 1024 /* events read per wake-up */
#define FD_MAX (1 << 20)   /* no descriptor number above this is tracked */

static struct net_conn *slot(struct net *n, int fd)
{
	struct net_conns *t = &n->conns;

	if (fd < 0 || fd >= FD_MAX)
		return NULL;
	if ((size_t)fd >= t->cap) {
		size_t cap = t->cap ? t->cap : 256;
		struct net_conn *grown;
		while (cap <= (size_t)fd)
			cap *= 2;
		grown = realloc(t->by_fd, cap * sizeof(*grown));
		if (!grown)
			return NULL;
		for (size_t i = t->cap; i < cap; i++)
			grown[i].fd = -1;
		t->by_fd = grown;
		t->cap = cap;
	}
	return &t->by_fd[fd];
}

static struct net_conn *find(const struct net *n, int fd)
{
	if (fd < 0 || (size_t)fd >= n->conns.cap || n->conns.by_fd[fd].fd < 0)
		return NULL;
	return &n->conns.by_fd[fd];
}

static void forget(struct net *n, struct net_conn *c)
{
	if (c->fd < 0)
		return;
	if (!c->known)
		n->conns.silent--;
	n->conns.count--;
	c->fd = -1;
}

/* ---- routing ids ----
 *
 * An open-addressing table by hash, each entry kept NET_RID_KEEP_MS from
 * its first message: long enough for what a closed connection had queued
 * to be read. When the probes find no room, the oldest entry probed goes;
 * guest handshakes are rate-limited, so that is rare and bounded. */

static bool rid_stale(const struct net_rid *r, uint64_t now)
{
	return !r->hash || now - r->since_ms >= NET_RID_KEEP_MS;
}

static struct net_rid *rid_get(struct net *n, uint64_t h, bool create)
{
	uint64_t now = loop_now_ms(n->loop);
	struct net_rid *room = NULL;

	h |= 1;
	for (size_t i = 0; i < NET_RID_PROBES; i++) {
		struct net_rid *r = &n->rids[(h + i) % NET_RIDS_MAX];
		if (r->hash == h && !rid_stale(r, now))
			return r;
		/* Room: a free or stale entry, else the oldest. */
		if (!room || (rid_stale(r, now) && !rid_stale(room, now)) ||
		    (!rid_stale(room, now) && r->since_ms < room->since_ms))
			room = r;
	}
	if (!create)
		return NULL;
	*room = (struct net_rid){.hash = h, .since_ms = now};
	return room;
}

/* Does fd still lead where c was seen to lead? */
static bool same_conn(const struct net_conn *c)
{
	struct net_conn now = {.sa_len = sizeof(now.sa)};

	return getpeername(c->fd, &now.sa.sa, &now.sa_len) == 0 && now.sa_len == c->sa_len &&
	       memcmp(&now.sa, &c->sa, c->sa_len) == 0;
}

/* The remote address as ZAP names it ("192.0.2.1", "2001:db8::1"). */
static void conn_addr(const struct net_conn *c, char out[NET_ADDR_MAX])
{
	char text[INET6_ADDRSTRLEN] = "";
	const void *a = c->sa.sa.sa_family == AF_INET6 ? (const void *)&c->sa.in6.sin6_addr
	                                               : (const void *)&c->sa.in.sin_addr;

	if (c->sa.sa.sa_family == AF_INET || c->sa.sa.sa_family == AF_INET6)
		inet_ntop(c->sa.sa.sa_family, a, text, sizeof(text));
	net_addr_copy(out, text, strlen(text));
}

/* "from ADDR" for the log. */
static void conn_subject(const struct net_conn *c, char *out, size_t n)
{
	char addr[NET_ADDR_MAX];

	conn_addr(c, addr);
	snprintf(out, n, "from %s", addr[0] ? addr : "?");
}

/* Did a member handshake from c's address lately? Its idle DEALERs
 * reconnect on their own and say nothing until they have something to
 * send: closing them would only make them dial again. */
static bool member_address(const struct net *n, const struct net_conn *c, uint64_t now)
{
	char addr[NET_ADDR_MAX];
	uint8_t key[PROTO_KEY_LEN];
	const struct net_peer *a;

	conn_addr(c, addr);
	net_addr_key(key, addr);
	a = net_peer_find(n, NET_KIND_ADDR, key);
	return a && a->member_ms && now - a->member_ms < NET_MEMBER_ADDR_MS;
}

/* shutdown() of a connection that still leads where it did; libzmq then
 * sees the end of the stream and closes it (DISCONNECTED comes later).
 * What is left is the instant between the check and shutdown(), in which
 * libzmq's I/O thread would have to close the connection and accept another
 * on the same number from the same address and port: harmless (that
 * connection redoes its handshake). */
static void cut(struct net *n, struct net_conn *c, const char *why)
{
	char subject[NET_ADDR_MAX + 8];

	if (c->cut)
		return;
	if (!same_conn(c)) {
		forget(n, c);
		return;
	}
	shutdown(c->fd, SHUT_RDWR);
	c->cut = true;
	if (why) {
		conn_subject(c, subject, sizeof(subject));
		log_tally(LOG_LEVEL_INFO, "net: closed", 1, "connection", subject, why);
	}
}

/* The oldest connection that has sent nothing, closed to make room. */
static void cut_oldest_silent(struct net *n)
{
	struct net_conn *oldest = NULL;

	for (size_t i = 0; i < n->conns.cap; i++) {
		struct net_conn *c = &n->conns.by_fd[i];
		if (c->fd >= 0 && !c->known && !c->cut &&
		    (!oldest || c->since_ms < oldest->since_ms))
			oldest = c;
	}
	if (oldest) {
		n->stats.cut_silent++;
		cut(n, oldest, "too many connections saying nothing: the oldest goes");
	}
}

/* Starts tracking fd (a new connection, or one first seen by a message).
 * An entry for a connection that has gone since is replaced. */
static struct net_conn *track(struct net *n, int fd)
{
	struct net_conn *c = slot(n, fd);
	struct net_conn fresh = {.fd = fd, .since_ms = loop_now_ms(n->loop)};

	if (!c)
		return NULL;
	fresh.sa_len = sizeof(fresh.sa);
	if (getpeername(fd, &fresh.sa.sa, &fresh.sa_len) != 0 || fresh.sa_len > sizeof(fresh.sa)) {
		forget(n, c);
		return NULL;
	}
	if (c->fd == fd && c->sa_len == fresh.sa_len && !memcmp(&c->sa, &fresh.sa, c->sa_len))
		return c;
	forget(n, c);
	*c = fresh;
	n->conns.count++;
	n->conns.silent++;
	if (n->conns.silent > NET_SILENT_MAX)
		cut_oldest_silent(n);
	return c;
}

static uint64_t routing_hash(const struct net *n, const void *rid, size_t len)
{
	uint8_t out[crypto_shorthash_BYTES];
	uint64_t h;

	crypto_shorthash(out, rid, len, n->peers.hash_key);
	memcpy(&h, out, sizeof(h));
	return h;
}

/* Counts a guest's message against the budget of its connection (known
 * by its routing id). Returns false when it is over: one JOIN, or
 * NET_GUEST_MESSAGES messages of any kind. */
static bool guest_budget(struct net *n, uint64_t h)
{
	struct net_rid *r = rid_get(n, h, true);

	if (++r->messages > NET_GUEST_MESSAGES || r->spent)
		r->dead = true;
	return !r->dead;
}

bool net_conn_message(struct net *n, int fd, const void *routing_id, size_t routing_id_len,
                      enum net_kind kind, const uint8_t key[PROTO_KEY_LEN])
{
	uint64_t h = routing_hash(n, routing_id, routing_id_len);
	struct net_rid *r = rid_get(n, h, false);
	struct net_conn *c = find(n, fd);

	/* What a connection we closed had queued is still read after it
	 * closed, maybe once its descriptor is another's: known by its
	 * routing id, it is dropped. */
	if (r && r->dead)
		return false;
	if (!(c && c->known && c->routing_hash == h))
		c = track(n, fd); /* NULL: gone before its first message was read */
	if (c && !c->known) {
		c->known = true;
		n->conns.silent--;
	}
	if (c) {
		c->routing_hash = h;
		c->kind = kind;
		memcpy(c->key, key, PROTO_KEY_LEN);
	}
	if (kind == NET_KIND_GUEST && !guest_budget(n, h)) {
		n->stats.cut_guest++;
		if (c)
			cut(n, c, "a guest over its budget: one join request");
		return false;
	}
	return !(c && c->cut);
}

void net_conn_refuse(struct net *n, const struct net_from *from)
{
	struct net_conn *c = find(n, from->fd);
	uint64_t h = routing_hash(n, from->routing_id, from->routing_id_len);

	rid_get(n, h, true)->dead = true;
	if (c && c->known && c->routing_hash == h)
		cut(n, c, NULL);
}

void net_peer_cut_conns(struct net_peer *p)
{
	struct net *n = p->net;

	for (size_t i = 0; i < n->conns.cap; i++) {
		struct net_conn *c = &n->conns.by_fd[i];
		if (c->fd >= 0 && c->known && c->kind == p->kind &&
		    !memcmp(c->key, p->key, PROTO_KEY_LEN))
			cut(n, c, NULL);
	}
}

void net_guest_done(struct net *n, const struct net_from *from)
{
	struct net_conn *c = find(n, from->fd);
	uint64_t h;

	if (!from->guest || !from->routing_id_len)
		return;
	h = routing_hash(n, from->routing_id, from->routing_id_len);
	rid_get(n, h, true)->spent = true;
	if (c && c->known && c->routing_hash == h && !c->spent_ms)
		c->spent_ms = loop_now_ms(n->loop);
}

/* ---- the monitor ---- */

/* Reads one event. Returns 1, 0 when none is waiting, or -errno. */
static int monitor_read(struct net *n)
{
	zmq_msg_t head, rest;
	uint16_t event;
	uint32_t value;
	int rc = 1;

	zmq_msg_init(&head);
	zmq_msg_init(&rest);
	if (zmq_msg_recv(&head, n->monitor, ZMQ_DONTWAIT) < 0) {
		rc = errno == EAGAIN || errno == EINTR ? 0 : -errno;
		goto out;
	}
	/* [event (2) value (4)] [endpoint]: both frames come together. */
	if (zmq_msg_more(&head))
		zmq_msg_recv(&rest, n->monitor, ZMQ_DONTWAIT);
	if (zmq_msg_size(&head) != sizeof(event) + sizeof(value))
		goto out;
	memcpy(&event, zmq_msg_data(&head), sizeof(event));
	memcpy(&value, (const uint8_t *)zmq_msg_data(&head) + sizeof(event), sizeof(value));
	if (event == ZMQ_EVENT_ACCEPTED) {
		track(n, (int)value);
	} else {
		struct net_conn *c = find(n, (int)value);
		if (c)
			forget(n, c);
	}
out:
	zmq_msg_close(&head);
	zmq_msg_close(&rest);
	return rc;
}

static void monitor_in(struct loop *l, void *arg, short revents)
{
	struct net *n = arg;

	(void)l;
	if (!(revents & ZMQ_POLLIN))
		return;
	for (int i = 0; i < MONITOR_BATCH; i++)
		if (monitor_read(n) <= 0)
			break;
}

/* What has overstayed goes. */
static void sweep(struct loop *l, void *arg)
{
	struct net *n = arg;
	uint64_t now = loop_now_ms(l);

	for (size_t i = 0; i < n->conns.cap; i++) {
		struct net_conn *c = &n->conns.by_fd[i];
		if (c->fd < 0 || c->cut)
			continue;
		if (!c->known && now - c->since_ms >= NET_SILENT_MS && !member_address(n, c, now)) {
			n->stats.cut_silent++;
			cut(n, c, "nothing said since it was accepted");
		} else if (c->kind == NET_KIND_GUEST && c->spent_ms &&
		           now - c->spent_ms >= NET_GUEST_GRACE_MS) {
			n->stats.cut_guest++;
			cut(n, c, NULL); /* the end of a join: as planned */
		} else if (c->kind == NET_KIND_GUEST && now - c->since_ms >= NET_GUEST_LIFE_MS) {
			n->stats.cut_guest++;
			cut(n, c, "a guest past its time");
		}
	}
	loop_timer_start(l, &n->sweep, NET_SWEEP_MS);
}

int net_conns_open(struct net *n)
{
	int zero = 0;

	loop_timer_init(&n->sweep, sweep, n);
	if (zmq_socket_monitor(n->router, MONITOR_ENDPOINT, MONITOR_EVENTS) != 0)
		return -errno;
	n->monitor = zmq_socket(n->ctx, ZMQ_PAIR);
	if (!n->monitor)
		return -errno;
	/* No limit on what waits for us: libzmq sends events with a blocking
	 * send from its I/O thread, which a full queue would stop. */
	if (zmq_setsockopt(n->monitor, ZMQ_RCVHWM, &zero, sizeof(zero)) != 0 ||
	    zmq_setsockopt(n->monitor, ZMQ_LINGER, &zero, sizeof(zero)) != 0 ||
	    zmq_connect(n->monitor, MONITOR_ENDPOINT) != 0)
		return -errno;
	loop_timer_start(n->loop, &n->sweep, NET_SWEEP_MS);
	return loop_watch(n->loop, n->monitor, -1, ZMQ_POLLIN, monitor_in, n);
}

void net_conns_close(struct net *n)
{
	loop_timer_stop(n->loop, &n->sweep);
	/* Stopped before our end closes: libzmq would block sending to it. */
	if (n->router)
		zmq_socket_monitor(n->router, NULL, 0);
	if (n->monitor) {
		loop_unwatch(n->loop, n->monitor, -1);
		zmq_close(n->monitor);
		n->monitor = NULL;
	}
	free(n->conns.by_fd);
	memset(&n->conns, 0, sizeof(n->conns));
}
