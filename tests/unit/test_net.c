/* The transport: nets on 127.0.0.1 in one process, sharing one loop, with
 * raw ZeroMQ clients playing guests, strangers and impostors. Every wait
 * is bounded by a deadline. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>
#include <zmq.h>

#include "agent/core/conf.h"
#include "agent/core/log.h"
#include "agent/core/loop.h"
#include "agent/net/net.h"
#include "proto/identity.h"
#include "tap.h"

#define INBOX_MAX 256
#define TEXT_MAX 32

/* Runs the loop until cond holds or ms have passed. */
#define WAIT_UNTIL(ms, cond)                                                                       \
	do {                                                                                       \
		uint64_t until_ = loop_clock_ms() + (ms);                                          \
		while (!(cond) && loop_clock_ms() < until_)                                        \
			loop_once(L, 10);                                                          \
	} while (0)

struct msg {
	struct net_from from;
	char text[TEXT_MAX + 1];
	size_t len;
};

struct inbox {
	struct net *net;
	struct msg msgs[INBOX_MAX];
	int count;
	size_t max_len;
};

/* The members every net's lookup knows: A and B (C is a stranger). */
static struct proto_identity *A, *B, *C;
static bool a_is_member = true;
static struct loop *L;
static void *test_ctx;

static bool lookup(void *arg, const uint8_t curve_pk[PROTO_KEY_LEN], uint8_t peer[PROTO_KEY_LEN])
{
	(void)arg;
	if (a_is_member && !memcmp(curve_pk, A->curve_pk, PROTO_KEY_LEN)) {
		memcpy(peer, A->pk, PROTO_KEY_LEN);
		return true;
	}
	if (!memcmp(curve_pk, B->curve_pk, PROTO_KEY_LEN)) {
		memcpy(peer, B->pk, PROTO_KEY_LEN);
		return true;
	}
	return false;
}

static void on_recv(void *arg, const struct net_from *from, const uint8_t *buf, size_t len)
{
	struct inbox *box = arg;

	if (len > box->max_len)
		box->max_len = len;
	if (box->count < INBOX_MAX) {
		struct msg *m = &box->msgs[box->count];
		m->from = *from;
		m->len = len;
		memcpy(m->text, buf, len < TEXT_MAX ? len : TEXT_MAX);
		m->text[len < TEXT_MAX ? len : TEXT_MAX] = '\0';
	}
	box->count++;
	if (len == 4 && !memcmp(buf, "ping", 4))
		net_reply(box->net, from, (const uint8_t *)"pong", 4);
}

static const struct net_ops ops = {.lookup = lookup, .recv = on_recv};

/* The latest message whose text is text, or NULL. */
static struct msg *find(struct inbox *box, const char *text)
{
	int n = box->count < INBOX_MAX ? box->count : INBOX_MAX;

	for (int i = n - 1; i >= 0; i--)
		if (!strcmp(box->msgs[i].text, text))
			return &box->msgs[i];
	return NULL;
}

static void test_conf(struct conf *c, uint32_t guest_rate)
{
	conf_defaults(c, CONF_PROFILE_LAN);
	snprintf(c->listen, sizeof(c->listen), "tcp://127.0.0.1:*");
	c->max_message = 4096;
	c->bad_messages = 3;
	c->ban_ms = 800;
	c->guest_rate = guest_rate;
}

static int send_text(struct net *n, const struct proto_identity *to, struct net *to_net,
                     const char *text)
{
	return net_send(n, to->pk, net_endpoint(to_net), (const uint8_t *)text, strlen(text));
}

/* A raw DEALER with its own CURVE key pair (or someone else's), and a
 * monitor that counts handshake events. */
struct client {
	void *s, *mon;
	uint8_t pk[PROTO_KEY_LEN], sk[PROTO_KEY_LEN];
	int succeeded, failed_auth, last_status, disconnected;
};

/* pk and sk: the client's key pair, or NULL for a new one. */
static void client_open(struct client *c, const uint8_t server_pk[PROTO_KEY_LEN],
                        const char *endpoint, const uint8_t *pk, const uint8_t *sk)
{
	static int n_monitors;
	char mon[64];
	int zero = 0, ivl = 100;

	memset(c, 0, sizeof(*c));
	if (pk && sk) {
		memcpy(c->pk, pk, PROTO_KEY_LEN);
		memcpy(c->sk, sk, PROTO_KEY_LEN);
	} else {
		crypto_box_keypair(c->pk, c->sk);
	}
	c->s = zmq_socket(test_ctx, ZMQ_DEALER);
	zmq_setsockopt(c->s, ZMQ_LINGER, &zero, sizeof(zero));
	zmq_setsockopt(c->s, ZMQ_RECONNECT_IVL, &ivl, sizeof(ivl));
	zmq_setsockopt(c->s, ZMQ_CURVE_SERVERKEY, server_pk, PROTO_KEY_LEN);
	zmq_setsockopt(c->s, ZMQ_CURVE_PUBLICKEY, c->pk, PROTO_KEY_LEN);
	zmq_setsockopt(c->s, ZMQ_CURVE_SECRETKEY, c->sk, PROTO_KEY_LEN);
	snprintf(mon, sizeof(mon), "inproc://test-net-monitor-%d", n_monitors++);
	zmq_socket_monitor(c->s, mon,
	                   ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
	                       ZMQ_EVENT_DISCONNECTED);
	c->mon = zmq_socket(test_ctx, ZMQ_PAIR);
	zmq_setsockopt(c->mon, ZMQ_LINGER, &zero, sizeof(zero));
	zmq_connect(c->mon, mon);
	zmq_connect(c->s, endpoint);
}

/* Reads the monitor's events so far; returns true (for WAIT_UNTIL). */
static bool client_events(struct client *c)
{
	uint8_t ev[6];
	char addr[256];

	while (zmq_recv(c->mon, ev, sizeof(ev), ZMQ_DONTWAIT) == 6) {
		uint16_t event;
		uint32_t value;
		memcpy(&event, ev, 2);
		memcpy(&value, ev + 2, 4);
		zmq_recv(c->mon, addr, sizeof(addr), ZMQ_DONTWAIT);
		if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
			c->succeeded++;
		if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
			c->failed_auth++;
			c->last_status = (int)value;
		}
		if (event == ZMQ_EVENT_DISCONNECTED)
			c->disconnected++;
	}
	return true;
}

static void client_send(struct client *c, const char *text)
{
	zmq_send(c->s, text, strlen(text), ZMQ_DONTWAIT);
}

static int client_recv(struct client *c, char *buf, size_t cap)
{
	int len = zmq_recv(c->s, buf, cap - 1, ZMQ_DONTWAIT);

	if (len >= 0)
		buf[(size_t)len < cap - 1 ? (size_t)len : cap - 1] = '\0';
	return len;
}

static void client_close(struct client *c)
{
	zmq_socket_monitor(c->s, NULL, 0);
	zmq_close(c->mon);
	zmq_close(c->s);
}

static struct conf conf_a, conf_b, conf_c;
static struct inbox box_a, box_b, box_c;

static void test_bind(void)
{
	struct conf taken;
	struct net *n = NULL;

	is(net_new(&box_a.net, L, A, &conf_a, &ops, &box_a), 0, "net A listens");
	is(net_new(&box_b.net, L, B, &conf_b, &ops, &box_b), 0, "net B listens");
	is(net_new(&box_c.net, L, C, &conf_c, &ops, &box_c), 0, "net C listens");
	ok(strncmp(net_endpoint(box_b.net), "tcp://127.0.0.1:", 16) == 0 &&
	       strcmp(net_endpoint(box_a.net), net_endpoint(box_b.net)) != 0,
	   "each net reports its own port");
	test_conf(&taken, 10);
	snprintf(taken.listen, sizeof(taken.listen), "%s", net_endpoint(box_b.net));
	is(net_new(&n, L, C, &taken, &ops, NULL), -EADDRINUSE, "a taken port gives -EADDRINUSE");
	ok(n == NULL, "nothing is returned on failure");
}

static void test_members(void)
{
	struct msg *m;
	int sent;

	is(send_text(box_a.net, B, box_b.net, "ping"), 0, "A queues a message for B");
	WAIT_UNTIL(3000, find(&box_a, "pong"));
	m = find(&box_b, "ping");
	ok(m != NULL, "B receives A's message");
	ok(m && !m->from.guest && !memcmp(m->from.peer, A->pk, PROTO_KEY_LEN),
	   "the sender is member A, as ZAP authenticated it");
	ok(m && !strcmp(m->from.addr, "127.0.0.1"), "the sender's address is known");
	m = find(&box_a, "pong");
	ok(m && !m->from.guest && !memcmp(m->from.peer, B->pk, PROTO_KEY_LEN),
	   "A receives B's net_reply on its DEALER, from B");

	sent = box_a.count;
	is(send_text(box_b.net, A, box_a.net, "hello A"), 0, "B sends to A on its own DEALER");
	WAIT_UNTIL(3000, box_a.count > sent);
	m = find(&box_a, "hello A");
	ok(m && !m->from.guest && !memcmp(m->from.peer, B->pk, PROTO_KEY_LEN),
	   "A receives it from member B on its ROUTER");
}

static void test_guests(void)
{
	struct client g;
	struct msg *m;
	char buf[64] = "";

	is(send_text(box_c.net, B, box_b.net, "join"), 0, "stranger C sends to B");
	WAIT_UNTIL(3000, find(&box_b, "join"));
	m = find(&box_b, "join");
	ok(m && m->from.guest && !memcmp(m->from.peer, C->curve_pk, PROTO_KEY_LEN),
	   "C is a guest at B, named by its CURVE key, never as a member");
	ok(m && net_reply(box_b.net, &m->from, (const uint8_t *)"welcome", 7) == 0,
	   "B answers the guest");
	WAIT_UNTIL(3000, find(&box_c, "welcome"));
	m = find(&box_c, "welcome");
	ok(m && !m->from.guest && !memcmp(m->from.peer, B->pk, PROTO_KEY_LEN),
	   "C receives the answer from B, whose key it dialled");

	client_open(&g, B->curve_pk, net_endpoint(box_b.net), NULL, NULL);
	client_send(&g, "raw guest");
	WAIT_UNTIL(3000, find(&box_b, "raw guest"));
	m = find(&box_b, "raw guest");
	ok(m && m->from.guest && !memcmp(m->from.peer, g.pk, PROTO_KEY_LEN),
	   "an unknown CURVE key is a guest");
	ok(m && net_reply(box_b.net, &m->from, (const uint8_t *)"hi guest", 8) == 0, "reply");
	WAIT_UNTIL(3000, client_recv(&g, buf, sizeof(buf)) >= 0);
	ok(!strcmp(buf, "hi guest"), "the raw guest receives the reply");
	client_close(&g);
}

static void test_guest_rate(void)
{
	struct conf c;
	struct inbox box = {0};
	struct client g[4];
	struct net_stats st;
	struct msg *m;
	char text[4][16];

	test_conf(&c, 2); /* 2 per minute per address, 8 overall */
	is(net_new(&box.net, L, C, &c, &ops, &box), 0, "a net with guest_rate 2");
	for (int i = 0; i < 4; i++) {
		snprintf(text[i], sizeof(text[i]), "guest %d", i);
		client_open(&g[i], C->curve_pk, net_endpoint(box.net), NULL, NULL);
		client_send(&g[i], text[i]);
		/* one at a time, so that which ones get in is known */
		WAIT_UNTIL(i < 2 ? 3000 : 500, find(&box, text[i]));
	}
	ok(find(&box, "guest 0") && find(&box, "guest 1"), "the first two guests get in");
	ok(!find(&box, "guest 2") && !find(&box, "guest 3"),
	   "over the guest rate of the address, guests are refused");
	net_get_stats(box.net, &st);
	is(st.zap_guest, 2, "two guests admitted");
	ok(st.zap_refused >= 2, "the others refused at the handshake");
	client_events(&g[3]);
	ok(g[3].failed_auth >= 1 && g[3].last_status == 400 && g[3].succeeded == 0,
	   "the refused client sees a 400 and no handshake");

	is(send_text(box_a.net, C, box.net, "member"), 0, "A sends to the same net");
	WAIT_UNTIL(3000, find(&box, "member"));
	m = find(&box, "member");
	ok(m && !m->from.guest, "members are not held by the guest rate");
	for (int i = 0; i < 4; i++)
		client_close(&g[i]);
	net_disconnect(box_a.net, C->pk);
	net_free(&box.net);
}

static void test_strangers(void)
{
	struct client wrong, oversize;
	struct net_stats before, after;
	uint8_t bogus[PROTO_KEY_LEN];
	static char big[8192];

	net_get_stats(box_b.net, &before);
	randombytes_buf(bogus, sizeof(bogus));
	client_open(&wrong, bogus, net_endpoint(box_b.net), NULL, NULL);
	client_send(&wrong, "no key");
	WAIT_UNTIL(500, false);
	client_events(&wrong);
	ok(!find(&box_b, "no key") && wrong.succeeded == 0,
	   "a client that does not know B's key gets no handshake and nothing through");
	client_close(&wrong);

	memset(big, 'x', sizeof(big) - 1);
	client_open(&oversize, B->curve_pk, net_endpoint(box_b.net), NULL, NULL);
	client_send(&oversize, big);
	WAIT_UNTIL(400, false);
	client_send(&oversize, "small");
	WAIT_UNTIL(3000, find(&box_b, "small"));
	ok(box_b.max_len <= 4096, "a frame over max_message never arrives");
	ok(find(&box_b, "small") != NULL, "the same client gets through with a small one");
	client_close(&oversize);
	is(net_send(box_a.net, B->pk, net_endpoint(box_b.net), (const uint8_t *)big, sizeof(big)),
	   -EMSGSIZE, "net_send refuses a message over max_message");
	is(send_text(box_a.net, B, box_b.net, "still there"), 0, "and B still works");
	WAIT_UNTIL(3000, find(&box_b, "still there"));
	ok(find(&box_b, "still there") != NULL, "B receives it");
	net_get_stats(box_b.net, &after);
	ok(after.received > before.received, "counted as received");
}

static void test_ban(void)
{
	struct msg *m = find(&box_b, "still there");
	struct net_from from;
	struct net_stats st;
	int refused, count;
	bool during_ban = false;
	char text[32];

	ok(m != NULL, "B has a message from A to hold against it");
	if (!m)
		return;
	from = m->from;
	net_penalize(box_b.net, &from, "test: bad message");
	net_penalize(box_b.net, &from, "test: bad message");
	ok(!net_banned(box_b.net, A->pk), "two bad messages: not yet banned");
	net_penalize(box_b.net, &from, "test: bad message");
	ok(net_banned(box_b.net, A->pk), "the third one bans A");
	is(net_peer_malformed(box_b.net, A->pk), 3, "three counted against A");
	net_get_stats(box_b.net, &st);
	is(st.malformed, 3, "malformed stat");
	is(st.bans, 1, "bans stat");
	refused = (int)st.zap_refused;
	is(send_text(box_b.net, A, box_a.net, "to banned"), -EPERM,
	   "B sends nothing to a banned peer");

	count = box_b.count;
	for (int i = 0; i < 5; i++) {
		snprintf(text, sizeof(text), "during ban %d", i);
		send_text(box_a.net, B, box_b.net, text);
		WAIT_UNTIL(60, false);
	}
	for (int i = count; i < box_b.count && i < INBOX_MAX; i++)
		if (!memcmp(box_b.msgs[i].from.peer, A->pk, PROTO_KEY_LEN))
			during_ban = true;
	ok(net_banned(box_b.net, A->pk) && !during_ban,
	   "nothing from A is handed up while it is banned");
	net_get_stats(box_b.net, &st);
	ok((int)st.zap_refused > refused, "A's reconnection is refused by ZAP");

	WAIT_UNTIL(6000, !net_banned(box_b.net, A->pk));
	ok(!net_banned(box_b.net, A->pk), "the ban expires after ban_time");
	/* A's DEALER was refused during the ban; its next sends redial. */
	for (int i = 0; i < 40 && !find(&box_b, "after ban"); i++) {
		send_text(box_a.net, B, box_b.net, "after ban");
		WAIT_UNTIL(200, find(&box_b, "after ban"));
	}
	m = find(&box_b, "after ban");
	ok(m && !m->from.guest && !memcmp(m->from.peer, A->pk, PROTO_KEY_LEN),
	   "after the ban A is a member again");
}

static void test_banned_key(void)
{
	struct client g, again;
	struct msg *m;

	client_open(&g, B->curve_pk, net_endpoint(box_b.net), NULL, NULL);
	net_ban(box_b.net, g.pk, UINT64_MAX);
	ok(net_banned(box_b.net, g.pk), "an unseen key can be banned");
	client_send(&g, "banned key");
	WAIT_UNTIL(2000, client_events(&g) && g.failed_auth > 0);
	ok(g.failed_auth > 0 && g.last_status == 400 && g.succeeded == 0,
	   "a banned key cannot complete a handshake (ZAP 400)");
	ok(!find(&box_b, "banned key"), "and its message never arrives");
	net_unban(box_b.net, g.pk);
	ok(!net_banned(box_b.net, g.pk), "net_unban lifts it");
	/* libzmq never redials after a refused handshake: a new socket. */
	client_close(&g);
	client_open(&again, B->curve_pk, net_endpoint(box_b.net), g.pk, g.sk);
	client_send(&again, "unbanned key");
	WAIT_UNTIL(3000, find(&box_b, "unbanned key"));
	m = find(&box_b, "unbanned key");
	ok(m && m->from.guest && !memcmp(m->from.peer, g.pk, PROTO_KEY_LEN),
	   "then the same key gets in again");
	client_close(&again);
}

static void test_disconnect(void)
{
	struct client imp;
	struct msg *m;

	/* A raw client holding A's keys: B takes it for A. */
	client_open(&imp, B->curve_pk, net_endpoint(box_b.net), A->curve_pk, A->curve_sk);
	client_send(&imp, "m1");
	WAIT_UNTIL(3000, find(&box_b, "m1"));
	m = find(&box_b, "m1");
	ok(m && !m->from.guest && !memcmp(m->from.peer, A->pk, PROTO_KEY_LEN),
	   "A's keys make a member A");
	client_events(&imp);
	is(imp.succeeded, 1, "one handshake so far");

	net_disconnect(box_b.net, A->pk);
	WAIT_UNTIL(3000, client_events(&imp) && imp.succeeded >= 2);
	ok(imp.disconnected >= 1, "net_disconnect drops A's inbound connection");
	ok(imp.succeeded >= 2, "the DEALER reconnects, still a member");
	client_send(&imp, "m2");
	WAIT_UNTIL(3000, find(&box_b, "m2"));
	m = find(&box_b, "m2");
	ok(m && !m->from.guest && !memcmp(m->from.peer, A->pk, PROTO_KEY_LEN),
	   "and is accepted as member A again");

	/* A leaves without anybody calling net_disconnect(): its open
	 * connection must not speak for a member any longer. */
	a_is_member = false;
	client_send(&imp, "m3");
	WAIT_UNTIL(3000, client_events(&imp) && imp.succeeded >= 3);
	ok(!find(&box_b, "m3"), "a message from a former member on its old connection is dropped");
	ok(imp.succeeded >= 3, "its connection is cut and it reconnects");
	client_send(&imp, "m4");
	WAIT_UNTIL(3000, find(&box_b, "m4"));
	m = find(&box_b, "m4");
	ok(m && m->from.guest && !memcmp(m->from.peer, A->curve_pk, PROTO_KEY_LEN),
	   "a former member is only a guest");

	/* And back: a guest connection does not outlive its becoming a member. */
	a_is_member = true;
	client_send(&imp, "m5");
	WAIT_UNTIL(3000, client_events(&imp) && imp.succeeded >= 4);
	ok(!find(&box_b, "m5") && imp.succeeded >= 4,
	   "a guest that became a member is cut and redials");
	client_send(&imp, "m6");
	WAIT_UNTIL(3000, find(&box_b, "m6"));
	m = find(&box_b, "m6");
	ok(m && !m->from.guest && !memcmp(m->from.peer, A->pk, PROTO_KEY_LEN),
	   "and speaks as a member again");
	client_close(&imp);
}

static void test_guest_penalty(void)
{
	struct conf c;
	struct inbox box = {0};
	struct client g, other;
	struct msg *m;
	struct net_from from;

	test_conf(&c, 100);
	c.ban_ms = 60000;
	is(net_new(&box.net, L, C, &c, &ops, &box), 0, "a net for guest penalties");
	client_open(&g, C->curve_pk, net_endpoint(box.net), NULL, NULL);
	client_send(&g, "garbage");
	WAIT_UNTIL(3000, find(&box, "garbage"));
	m = find(&box, "garbage");
	ok(m && m->from.guest, "a guest");
	if (!m) {
		client_close(&g);
		net_free(&box.net);
		return;
	}
	from = m->from;
	for (int i = 0; i < 3; i++)
		net_penalize(box.net, &from, "test: not a join request");
	ok(net_banned(box.net, g.pk), "a guest is banned by its CURVE key");
	is(net_peer_malformed(box.net, g.pk), 3, "three counted against the guest key");
	client_send(&g, "more garbage");
	/* Its address is banned for guests too: a fresh key does not help. */
	client_open(&other, C->curve_pk, net_endpoint(box.net), NULL, NULL);
	client_send(&other, "new key");
	WAIT_UNTIL(600, false);
	ok(!find(&box, "more garbage"), "the banned guest gets nothing through");
	ok(!find(&box, "new key"), "nor does a new key from the same address");
	is(send_text(box_a.net, C, box.net, "member ok"), 0, "a member from that address");
	WAIT_UNTIL(3000, find(&box, "member ok"));
	ok(find(&box, "member ok") != NULL, "still gets through");
	client_close(&g);
	client_close(&other);
	net_disconnect(box_a.net, C->pk);
	net_free(&box.net);
}

static void test_send_errors(void)
{
	uint8_t zero[PROTO_KEY_LEN] = {0};
	struct net_from stale = {0};
	struct net_stats before, after;
	int rc = 0, i;

	net_get_stats(box_a.net, &before);
	is(net_send(box_a.net, B->pk, "udp://127.0.0.1:1", (const uint8_t *)"x", 1), -EINVAL,
	   "a bad endpoint is -EINVAL");
	is(net_send(box_a.net, zero, "tcp://127.0.0.1:1", (const uint8_t *)"x", 1), -EINVAL,
	   "a key that is no Ed25519 point is -EINVAL");
	/* Nobody listens on port 1: the queue fills and then drops. */
	for (i = 0; i < 2000 && rc == 0; i++)
		rc = net_send(box_a.net, B->pk, "tcp://127.0.0.1:1", (const uint8_t *)"lost", 4);
	is(rc, -EAGAIN, "a full queue gives -EAGAIN");
	ok(i > 1 && i <= 1000, "after a small number of messages");
	net_get_stats(box_a.net, &after);
	ok(after.send_drop >= before.send_drop + 3, "drops are counted");
	is(send_text(box_a.net, B, box_b.net, "new endpoint"), 0, "back to B's real endpoint");
	WAIT_UNTIL(3000, find(&box_b, "new endpoint"));
	ok(find(&box_b, "new endpoint") != NULL, "the DEALER follows the endpoint change");

	memcpy(stale.peer, B->pk, PROTO_KEY_LEN);
	stale.socket = &stale; /* not a socket of the net */
	is(net_reply(box_a.net, &stale, (const uint8_t *)"x", 1), -ENOTCONN,
	   "a reply on an unknown socket is refused");
}

/* What the ZAP handler is for: a CURVE server without one takes any key. */
static void test_without_zap(void)
{
	uint8_t spk[PROTO_KEY_LEN], ssk[PROTO_KEY_LEN];
	void *router = zmq_socket(test_ctx, ZMQ_ROUTER);
	int one = 1, zero = 0, got = -1;
	char ep[256], buf[64];
	size_t len = sizeof(ep);
	struct client g;

	crypto_box_keypair(spk, ssk);
	zmq_setsockopt(router, ZMQ_LINGER, &zero, sizeof(zero));
	zmq_setsockopt(router, ZMQ_CURVE_SERVER, &one, sizeof(one));
	zmq_setsockopt(router, ZMQ_CURVE_SECRETKEY, ssk, sizeof(ssk));
	zmq_bind(router, "tcp://127.0.0.1:*");
	zmq_getsockopt(router, ZMQ_LAST_ENDPOINT, ep, &len);
	client_open(&g, spk, ep, NULL, NULL);
	client_send(&g, "anyone");
	for (int i = 0; i < 300 && got < 0; i++) {
		zmq_pollitem_t item = {.socket = router, .events = ZMQ_POLLIN};
		if (zmq_poll(&item, 1, 10) > 0 && zmq_recv(router, buf, sizeof(buf), 0) >= 0)
			got = zmq_recv(router, buf, sizeof(buf), ZMQ_DONTWAIT);
	}
	is(got, 6, "without a ZAP handler libzmq admits any key (hence ours)");
	client_close(&g);
	zmq_close(router);

	/* The second line net.c sets up: ZMQ_ZAP_ENFORCE_DOMAIN (93, a draft
	 * option) refuses everyone when the handler is missing. */
	router = zmq_socket(test_ctx, ZMQ_ROUTER);
	zmq_setsockopt(router, ZMQ_LINGER, &zero, sizeof(zero));
	zmq_setsockopt(router, ZMQ_CURVE_SERVER, &one, sizeof(one));
	zmq_setsockopt(router, ZMQ_CURVE_SECRETKEY, ssk, sizeof(ssk));
	zmq_setsockopt(router, ZMQ_ZAP_DOMAIN, "kith", 4);
	if (zmq_setsockopt(router, 93, &one, sizeof(one)) != 0) {
		ok(1, "# SKIP this libzmq has no ZMQ_ZAP_ENFORCE_DOMAIN");
	} else {
		len = sizeof(ep);
		zmq_bind(router, "tcp://127.0.0.1:*");
		zmq_getsockopt(router, ZMQ_LAST_ENDPOINT, ep, &len);
		client_open(&g, spk, ep, NULL, NULL);
		client_send(&g, "anyone");
		got = -1;
		for (int i = 0; i < 50 && got < 0; i++) {
			zmq_pollitem_t item = {.socket = router, .events = ZMQ_POLLIN};
			if (zmq_poll(&item, 1, 10) > 0)
				got = zmq_recv(router, buf, sizeof(buf), 0);
		}
		is(got, -1, "with ZMQ_ZAP_ENFORCE_DOMAIN and no handler, nobody gets in");
		client_close(&g);
	}
	zmq_close(router);
}

int main(void)
{
	log_init("test_net", LOG_LEVEL_WARN, false);
	if (sodium_init() < 0)
		return 1;
	test_ctx = zmq_ctx_new();
	loop_new(&L);
	proto_identity_generate(&A);
	proto_identity_generate(&B);
	proto_identity_generate(&C);
	test_conf(&conf_a, 100);
	test_conf(&conf_b, 100);
	conf_b.ban_ms = 1500;
	test_conf(&conf_c, 100);

	test_bind();
	test_members();
	test_guests();
	test_guest_rate();
	test_strangers();
	test_ban();
	test_banned_key();
	test_disconnect();
	test_guest_penalty();
	test_send_errors();
	test_without_zap();

	net_free(&box_a.net);
	net_free(&box_b.net);
	net_free(&box_c.net);
	ok(box_a.net == NULL, "net_free clears the pointer");
	net_free(&box_a.net);
	loop_free(&L);
	zmq_ctx_term(test_ctx);
	proto_identity_free(&A);
	proto_identity_free(&B);
	proto_identity_free(&C);
	return tap_done();
}
