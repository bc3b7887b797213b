/* The ZAP handler (ZeroMQ RFC 27): at each CURVE handshake on the ROUTER,
 * libzmq's I/O thread sends us the client's key on inproc and waits for
 * our verdict before the connection may carry anything.
 *
 * Request: version "1.0", request id, domain, address, identity,
 * mechanism, credentials (for CURVE: the client's 32-byte public key).
 * Reply: version, request id, status code, status text, user id,
 * metadata. The user id becomes the "User-Id" property of every message
 * on that connection: "m:" + hex(Ed25519 key) for a member, "g:" +
 * hex(CURVE key) for a guest. net.c reads it back: it is the only place
 * the sender of a message comes from. */
#include <errno.h>
#include <string.h>

#include <sodium.h>
#include <zmq.h>

#include "proto/peerid.h"
#include "agent/core/conf.h"
#include "agent/core/loop.h"
#include "net_impl.h"

enum {
	F_VERSION,
	F_REQUEST_ID,
	F_DOMAIN,
	F_ADDRESS,
	F_IDENTITY,
	F_MECHANISM,
	F_CREDENTIALS,
	ZAP_FRAMES,
};

struct zap_verdict {
	const char *code; /* "200", "400" or "500" */
	const char *text;
	char user_id[2 + 2 * PROTO_KEY_LEN + 1];
	bool malformed; /* the request itself was wrong (counted) */
};

static bool frame_is(zmq_msg_t *m, const char *text)
{
	size_t len = strlen(text);

	return zmq_msg_size(m) == len && memcmp(zmq_msg_data(m), text, len) == 0;
}

static void admit(struct zap_verdict *v, char prefix, const uint8_t key[PROTO_KEY_LEN])
{
	v->code = "200";
	v->text = "OK";
	v->user_id[0] = prefix;
	v->user_id[1] = ':';
	sodium_bin2hex(v->user_id + 2, sizeof(v->user_id) - 2, key, PROTO_KEY_LEN);
}

static void refuse(struct zap_verdict *v, const char *code, const char *why)
{
	v->code = code;
	v->text = why;
	v->user_id[0] = '\0';
}

static void judge_member(struct net *n, const uint8_t curve_pk[PROTO_KEY_LEN],
                         const uint8_t peer[PROTO_KEY_LEN], const char *addr, struct zap_verdict *v)
{
	struct net_peer *p = net_peer_find(n, NET_KIND_MEMBER, peer), *a;
	uint8_t addr_key[PROTO_KEY_LEN];

	if (p && net_peer_is_banned(n, p))
		return refuse(v, "400", "banned");
	/* A member connects from here: its silent connections are spared
	 * (net_conn.c). */
	net_addr_key(addr_key, addr);
	if (addr[0] && (a = net_peer_get(n, NET_KIND_ADDR, addr_key)) != NULL)
		a->member_ms = loop_now_ms(n->loop);
	/* Remember its CURVE key: the message path checks membership again
	 * with it, without converting the Ed25519 key each time. */
	p = p ? p : net_peer_get(n, NET_KIND_MEMBER, peer);
	if (p && !p->has_curve) {
		memcpy(p->curve_pk, curve_pk, PROTO_KEY_LEN);
		p->has_curve = true;
	}
	admit(v, 'm', peer);
}

/* An unknown key: admitted as a guest within the guest rate of its source
 * address first (a flood from one address only drains its own bucket),
 * then within the overall rate. */
static void judge_guest(struct net *n, const uint8_t key[PROTO_KEY_LEN], const char *addr,
                        struct zap_verdict *v)
{
	uint64_t now = loop_now_ms(n->loop), rate = n->conf->guest_rate;
	struct net_peer *g = net_peer_find(n, NET_KIND_GUEST, key);
	struct net_peer *a;
	uint8_t addr_key[PROTO_KEY_LEN];

	if (g && net_peer_is_banned(n, g))
		return refuse(v, "400", "banned");
	net_addr_key(addr_key, addr);
	a = net_peer_get(n, NET_KIND_ADDR, addr_key);
	if (!a)
		return refuse(v, "500", "out of memory");
	if (net_peer_is_banned(n, a))
		return refuse(v, "400", "address banned");
	if (!net_bucket_take(&a->bucket, rate, now))
		return refuse(v, "400", "over the guest rate of its address");
	if (!net_bucket_take(&n->guests_overall, rate * NET_GUEST_OVERALL, now))
		return refuse(v, "400", "over the overall guest rate");
	n->stats.zap_guest++;
	admit(v, 'g', key);
}

static void judge(struct net *n, zmq_msg_t *f, int got, int extra, struct zap_verdict *v)
{
	char addr[NET_ADDR_MAX];
	uint8_t key[PROTO_KEY_LEN], peer[PROTO_KEY_LEN];

	v->malformed = true;
	if (got != ZAP_FRAMES || extra)
		return refuse(v, "500", "malformed request");
	if (!frame_is(&f[F_VERSION], "1.0"))
		return refuse(v, "500", "unsupported ZAP version");
	if (!frame_is(&f[F_MECHANISM], "CURVE") || zmq_msg_size(&f[F_CREDENTIALS]) != PROTO_KEY_LEN)
		return refuse(v, "400", "mechanism must be CURVE");
	if (!frame_is(&f[F_DOMAIN], NET_ZAP_DOMAIN))
		return refuse(v, "400", "unknown domain");
	v->malformed = false;
	net_addr_copy(addr, zmq_msg_data(&f[F_ADDRESS]), zmq_msg_size(&f[F_ADDRESS]));
	memcpy(key, zmq_msg_data(&f[F_CREDENTIALS]), PROTO_KEY_LEN);
	if (n->ops->lookup(n->arg, key, peer))
		judge_member(n, key, peer, addr, v);
	else
		judge_guest(n, key, addr, v);
}

/* By address: a stranger's keys are free. */
static void log_refusal(zmq_msg_t *f, int got, const struct zap_verdict *v)
{
	char addr[NET_ADDR_MAX + 8] = "from ?";

	if (got > F_ADDRESS) {
		memcpy(addr, "from ", 5);
		net_addr_copy(addr + 5, zmq_msg_data(&f[F_ADDRESS]), zmq_msg_size(&f[F_ADDRESS]));
	}
	log_tally(LOG_LEVEL_INFO, "net: refused", 1, "handshake", addr, v->text);
}

static int reply(struct net *n, zmq_msg_t *request_id, const struct zap_verdict *v)
{
	const char *text[] = {"1.0", NULL, v->code, v->text, v->user_id, ""};

	for (int i = 0; i < 6; i++) {
		int flags = ZMQ_DONTWAIT | (i < 5 ? ZMQ_SNDMORE : 0);
		const void *data = i == 1 ? zmq_msg_data(request_id) : text[i];
		size_t len = i == 1 ? zmq_msg_size(request_id) : strlen(text[i]);
		if (zmq_send(n->zap, data, len, flags) < 0)
			return -errno;
	}
	return 0;
}

/* Handles one request. Returns 1 when one was handled, 0 when none was
 * waiting, or -errno. */
static int handle_one(struct net *n)
{
	zmq_msg_t f[ZAP_FRAMES], junk;
	struct zap_verdict v = {0};
	int got = 0, extra = 0, more, rc = 1, err;

	for (int i = 0; i < ZAP_FRAMES; i++)
		zmq_msg_init(&f[i]);
	zmq_msg_init(&junk);
	if (zmq_msg_recv(&f[0], n->zap, ZMQ_DONTWAIT) < 0) {
		rc = errno == EAGAIN || errno == EINTR ? 0 : -errno;
		goto cleanup;
	}
	got = 1;
	/* The frames of a message arrive together: once the first is here,
	 * the rest are too. */
	for (more = zmq_msg_more(&f[0]); more;) {
		zmq_msg_t *m = got < ZAP_FRAMES ? &f[got] : &junk;
		if (zmq_msg_recv(m, n->zap, ZMQ_DONTWAIT) < 0)
			break;
		more = zmq_msg_more(m);
		if (got < ZAP_FRAMES)
			got++;
		else
			extra++;
	}
	judge(n, f, got, extra, &v);
	if (v.code[0] != '2') {
		n->stats.zap_refused++;
		if (v.malformed)
			n->stats.zap_malformed++;
		log_refusal(f, got, &v);
	}
	/* A REP must answer every request, even one it could not read, or it
	 * would refuse to receive the next. */
	err = reply(n, &f[F_REQUEST_ID], &v);
	if (err)
		log_warnx("net: cannot answer a ZAP request: %s", zmq_strerror(-err));
cleanup:
	for (int i = 0; i < ZAP_FRAMES; i++)
		zmq_msg_close(&f[i]);
	zmq_msg_close(&junk);
	return rc;
}

void net_zap_in(struct loop *l, void *arg, short revents)
{
	struct net *n = arg;

	(void)l;
	if (!(revents & ZMQ_POLLIN))
		return;
	for (int i = 0; i < NET_BATCH; i++)
		if (handle_one(n) <= 0)
			break;
}
