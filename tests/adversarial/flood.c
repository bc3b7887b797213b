/* kith_flood: the attacks of the adversarial tests, against a real agent.
 * Every run is bounded by --seconds and --count, and prints one JSON line.
 *
 *   joins    --conns N guests, each with fresh CURVE keys, send JOINs as fast
 *            as they can for --seconds without reading the answers (with
 *            ZMTP heartbeats every millisecond, so PINGs are interleaved with
 *            the messages), then vanish with a reset (unread data, SO_LINGER
 *            0): the load under which kithd aborted in libzmq.
 *   dupid    two guest connections claim one routing id; the second sends
 *            --count messages the agent's ROUTER never reads (a duplicate
 *            routing id makes its pipe anonymous), then both vanish with a
 *            reset. On the code before the fix the stalled connection's
 *            heartbeat timer hit libzmq's !_io_error assertion within 30 s.
 *   idle     a guest that completes its handshake and says nothing; prints
 *            how long the agent kept the connection (held_ms, -1: still
 *            open after --seconds).
 *   records  as the member of --data, publishes its own valid observation
 *            records as fast as it can for --seconds (or --count records),
 *            --batch per RECORDS message, without waiting for anyone.
 *
 * --source ADDR dials from that local address (127.0.0.2...), so that an
 * attack banned by address does not stop the next one.
 *
 * Exit status 0 when the attack ran (whatever the agent did), 2 on usage
 * errors, 1 when the attack could not even start. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <zmq.h>

#include "proto/body.h"
#include "proto/error.h"
#include "proto/identity.h"
#include "proto/peerid.h"
#include "proto/record.h"
#include "proto/token.h"
#include "proto/wire.h"

#define CONNS_MAX 64
#define BATCH_MAX 4096

struct flood {
	const char *endpoint;
	char dial_to[300]; /* "tcp://SOURCE:0;HOST:PORT" with --source */
	uint8_t server_curve[PROTO_KEY_LEN];
	void *ctx;
	double seconds;
	long count;
	int conns;
	int batch;
	long sent;
	long records;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};

	nanosleep(&ts, NULL);
}

__attribute__((format(printf, 2, 3))) static int die(int status, const char *fmt, ...)
{
	va_list ap;

	fputs("kith_flood: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return status;
}

/* A DEALER speaking CURVE with id's keys. It never reads what the agent
 * answers, and takes all of it (RCVHWM 0: a full queue would expose this
 * very tool to the libzmq assertion the tests are about). */
static void *dial(struct flood *f, const struct proto_identity *id, const char *routing_id,
                  int heartbeat_ms)
{
	void *s = zmq_socket(f->ctx, ZMQ_DEALER);
	int zero = 0, hwm = 1000;

	if (!s)
		return NULL;
	zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero));
	zmq_setsockopt(s, ZMQ_RCVHWM, &zero, sizeof(zero));
	zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof(hwm));
	zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, f->server_curve, PROTO_KEY_LEN);
	zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, id->curve_pk, PROTO_KEY_LEN);
	zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, id->curve_sk, PROTO_KEY_LEN);
	if (routing_id)
		zmq_setsockopt(s, ZMQ_ROUTING_ID, routing_id, strlen(routing_id));
	if (heartbeat_ms)
		zmq_setsockopt(s, ZMQ_HEARTBEAT_IVL, &heartbeat_ms, sizeof(heartbeat_ms));
	if (zmq_connect(s, f->dial_to[0] ? f->dial_to : f->endpoint) != 0) {
		zmq_close(s);
		return NULL;
	}
	return s;
}

/* Makes every TCP socket of this process reset its connection when it
 * closes (SO_LINGER 0), then leaves without closing anything cleanly: the
 * peer sees a reset at once, as when a flooding host drops off the net. */
static _Noreturn void vanish(struct flood *f)
{
	struct linger lg = {.l_onoff = 1, .l_linger = 0};
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;

	printf("{\"sent\": %ld, \"records\": %ld, \"conns\": %d}\n", f->sent, f->records, f->conns);
	fflush(stdout);
	while (d && (e = readdir(d)) != NULL) {
		int fd = atoi(e->d_name), type = 0;
		socklen_t len = sizeof(type);
		if (fd > 2 && getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 &&
		    type == SOCK_STREAM)
			setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
	_exit(0);
}

/* A JOIN as a newcomer would send it, with an invitation nobody issued:
 * the issuer must check it and refuse. */
static int make_join(struct mp_buf *out, const struct proto_identity *id,
                     const uint8_t issuer[PROTO_KEY_LEN])
{
	struct proto_member m = {0};
	struct proto_record rec = {0};
	struct proto_join j = {.has_invite = true};
	struct mp_buf body = {0}, member = {0};
	uint8_t secret[32];
	int rc;

	snprintf(m.name, sizeof(m.name), "flood");
	rec.kind = PROTO_KIND_MEMBER;
	rec.seq = 1;
	rec.issued = (uint64_t)time(NULL);
	rec.expires = rec.issued + 3600;
	rc = proto_member_encode(&body, &m);
	rec.body = body.data;
	rec.body_len = body.len;
	if (!rc)
		rc = proto_record_sign(&member, id, &rec);
	randombytes_buf(secret, sizeof(secret));
	randombytes_buf(j.invite_id, sizeof(j.invite_id));
	proto_join_proof(j.proof, secret, id->pk, issuer);
	j.member_record = member.data;
	j.member_record_len = member.len;
	if (!rc)
		rc = proto_join_encode(out, &j);
	mp_buf_free(&body);
	mp_buf_free(&member);
	return rc;
}

static bool over(const struct flood *f, double start)
{
	return now_s() - start >= f->seconds || (f->count && f->sent >= f->count);
}

static int run_joins(struct flood *f, const uint8_t server[PROTO_KEY_LEN])
{
	void *socks[CONNS_MAX];
	struct proto_identity *ids[CONNS_MAX] = {0};
	struct mp_buf joins[CONNS_MAX] = {{0}};
	double start = now_s();

	for (int i = 0; i < f->conns; i++) {
		if (proto_identity_generate(&ids[i]) != 0 ||
		    make_join(&joins[i], ids[i], server) != 0)
			return die(1, "cannot make a guest identity");
		if (!(socks[i] = dial(f, ids[i], NULL, 1)))
			return die(1, "connect: %s", zmq_strerror(errno));
	}
	while (!over(f, start)) {
		int busy = 0;
		for (int i = 0; i < f->conns; i++)
			if (zmq_send(socks[i], joins[i].data, joins[i].len, ZMQ_DONTWAIT) >= 0)
				f->sent++;
			else
				busy++;
		if (busy == f->conns)
			sleep_ms(1);
	}
	sleep_ms(1000); /* what was queued reaches the agent, and stalls there */
	vanish(f);
}

static int run_dupid(struct flood *f)
{
	struct proto_identity *id = NULL;
	struct proto_probe p = {0};
	struct mp_buf ping = {0};
	void *first, *second;
	double start;

	if (proto_identity_generate(&id) != 0 || proto_probe_encode(&ping, PROTO_MSG_PING, &p))
		return die(1, "cannot make a guest identity");
	f->conns = 2;
	if (!(first = dial(f, id, "kith-flood", 0)))
		return die(1, "connect: %s", zmq_strerror(errno));
	zmq_send(first, ping.data, ping.len, 0);
	f->sent++;
	sleep_ms(500); /* the first holds the routing id before the second comes */
	if (!(second = dial(f, id, "kith-flood", 0)))
		return die(1, "connect: %s", zmq_strerror(errno));
	start = now_s();
	while (!over(f, start))
		if (zmq_send(second, ping.data, ping.len, ZMQ_DONTWAIT) >= 0)
			f->sent++;
		else
			sleep_ms(1);
	sleep_ms(500); /* delivered, and stalled in the agent */
	vanish(f);
}

/* Waits up to ms for one event of mask on monitor; returns it or 0. */
static int monitor_wait(void *monitor, int mask, long ms)
{
	double until = now_s() + (double)ms / 1000;

	while (now_s() < until) {
		zmq_pollitem_t item = {monitor, 0, ZMQ_POLLIN, 0};
		zmq_msg_t head, rest;
		uint16_t event = 0;
		if (zmq_poll(&item, 1, 100) <= 0)
			continue;
		zmq_msg_init(&head);
		zmq_msg_init(&rest);
		if (zmq_msg_recv(&head, monitor, 0) >= 0 && zmq_msg_size(&head) >= 2)
			memcpy(&event, zmq_msg_data(&head), sizeof(event));
		if (zmq_msg_more(&head))
			zmq_msg_recv(&rest, monitor, 0);
		zmq_msg_close(&head);
		zmq_msg_close(&rest);
		if (event & mask)
			return event;
	}
	return 0;
}

static int run_idle(struct flood *f)
{
	struct proto_identity *id = NULL;
	void *s, *monitor;
	double since;
	long held = -1;

	if (proto_identity_generate(&id) != 0)
		return die(1, "cannot make a guest identity");
	f->conns = 1;
	if (!(s = dial(f, id, NULL, 0)) ||
	    zmq_socket_monitor(s, "inproc://flood-idle",
	                       ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED) != 0 ||
	    !(monitor = zmq_socket(f->ctx, ZMQ_PAIR)) ||
	    zmq_connect(monitor, "inproc://flood-idle") != 0)
		return die(1, "connect: %s", zmq_strerror(errno));
	if (monitor_wait(monitor, ZMQ_EVENT_HANDSHAKE_SUCCEEDED, 10000) == 0)
		return die(1, "no handshake within 10 s");
	since = now_s();
	if (monitor_wait(monitor, ZMQ_EVENT_DISCONNECTED, (long)(f->seconds * 1000)))
		held = (long)((now_s() - since) * 1000);
	printf("{\"held_ms\": %ld}\n", held);
	fflush(stdout);
	_exit(0);
}

/* One RECORDS message of f->batch new observation records of id, in one
 * block that follows nothing (after 0): a receiver that passed over or
 * dropped earlier ones still checks every record of it, the most work a
 * message of records can ask. */
static int send_records(struct flood *f, void *s, const struct proto_identity *id, uint64_t *seq)
{
	static struct mp_buf recs[BATCH_MAX];
	static struct proto_recref refs[BATCH_MAX];
	struct proto_block block = {.n_records = (uint32_t)f->batch};
	struct proto_observation o = {.status = PROTO_STATUS_UP, .latency_ms = 1};
	struct mp_buf body = {0}, msg = {0};
	int rc = 0;

	memcpy(block.author, id->pk, PROTO_KEY_LEN);
	memcpy(o.owner, id->pk, PROTO_KEY_LEN);
	o.checked_at = (uint64_t)time(NULL);
	for (int i = 0; i < f->batch && !rc; i++) {
		struct proto_record rec = {.kind = PROTO_KIND_OBSERVATION, .seq = ++*seq};
		snprintf(o.service, sizeof(o.service), "flood-%llu", (unsigned long long)rec.seq);
		snprintf(rec.name, sizeof(rec.name), "flood/%llu", (unsigned long long)rec.seq);
		body.len = 0;
		rc = proto_observation_encode(&body, &o);
		rec.issued = o.checked_at;
		rec.expires = rec.issued + 3600;
		rec.body = body.data;
		rec.body_len = body.len;
		recs[i].len = 0;
		if (!rc)
			rc = proto_record_sign(&recs[i], id, &rec);
		refs[i] = (struct proto_recref){recs[i].data, recs[i].len};
	}
	if (!rc)
		rc = proto_records_encode(&msg, &block, 1, refs);
	if (!rc && zmq_send(s, msg.data, msg.len, 0) >= 0) {
		f->sent++;
		f->records += f->batch;
	}
	mp_buf_free(&body);
	mp_buf_free(&msg);
	return rc;
}

static int run_records(struct flood *f, const char *data)
{
	struct proto_identity *id = NULL;
	char path[4200];
	uint64_t seq = 0;
	double start = now_s();
	void *s;
	int rc;

	snprintf(path, sizeof(path), "%s/%s", data, PROTO_IDENTITY_FILE);
	if ((rc = proto_identity_load(&id, path)) != 0)
		return die(1, "%s: %s", path, proto_strerror(rc));
	if (!(s = dial(f, id, NULL, 0)))
		return die(1, "connect: %s", zmq_strerror(errno));
	f->conns = 1;
	while (now_s() - start < f->seconds && (!f->count || f->records < f->count))
		if ((rc = send_records(f, s, id, &seq)) != 0)
			return die(1, "cannot make records: %s", proto_strerror(rc));
	vanish(f);
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
	    {"endpoint", required_argument, NULL, 'e'}, {"peer", required_argument, NULL, 'p'},
	    {"mode", required_argument, NULL, 'm'},     {"data", required_argument, NULL, 'd'},
	    {"seconds", required_argument, NULL, 's'},  {"count", required_argument, NULL, 'c'},
	    {"conns", required_argument, NULL, 'n'},    {"batch", required_argument, NULL, 'b'},
	    {"source", required_argument, NULL, 'S'},   {NULL, 0, NULL, 0},
	};
	struct flood f = {.seconds = 5, .conns = 10, .batch = 64};
	const char *peer = NULL, *mode = NULL, *data = NULL, *source = NULL;
	uint8_t server[PROTO_KEY_LEN];
	char why[160];
	int c;

	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (c) {
		case 'e':
			f.endpoint = optarg;
			break;
		case 'p':
			peer = optarg;
			break;
		case 'm':
			mode = optarg;
			break;
		case 'd':
			data = optarg;
			break;
		case 's':
			f.seconds = atof(optarg);
			break;
		case 'c':
			f.count = atol(optarg);
			break;
		case 'n':
			f.conns = atoi(optarg);
			break;
		case 'b':
			f.batch = atoi(optarg);
			break;
		case 'S':
			source = optarg;
			break;
		default:
			return 2;
		}
	}
	if (!f.endpoint || !peer || !mode || f.seconds <= 0 || f.seconds > 600 || f.conns < 1 ||
	    f.conns > CONNS_MAX || f.batch < 1 || f.batch > BATCH_MAX || f.count < 0)
		return die(
		    2, "usage: kith_flood --endpoint E --peer ID --mode joins|dupid|idle|records "
		       "[--seconds S<=600] [--count N] [--conns N<=64] [--batch N<=4096] "
		       "[--data DIR] [--source ADDR]");
	/* libzmq's "source;destination" form: each attack from its own
	 * loopback address, so that banning one leaves the others alone. */
	if (source && strncmp(f.endpoint, "tcp://", 6) == 0)
		snprintf(f.dial_to, sizeof(f.dial_to), "tcp://%s:0;%s", source, f.endpoint + 6);
	if (sodium_init() < 0)
		return die(1, "libsodium");
	if (proto_peerid_parse(server, peer, why, sizeof(why)) != 0 ||
	    proto_curve_pk(f.server_curve, server) != 0)
		return die(2, "--peer: %s", why);
	f.ctx = zmq_ctx_new();
	if (!strcmp(mode, "joins"))
		return run_joins(&f, server);
	if (!strcmp(mode, "dupid"))
		return run_dupid(&f);
	if (!strcmp(mode, "idle"))
		return run_idle(&f);
	if (!strcmp(mode, "records") && data)
		return run_records(&f, data);
	return die(2, "unknown mode %s (records needs --data)", mode);
}
