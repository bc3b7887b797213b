/* The nodes and the simulated network of kith_sim (see sim.h). */
#define _XOPEN_SOURCE 700 /* nftw() */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <sodium.h>

#include "agent/core/loop.h"
#include "agent/gossip/gossip.h"
#include "agent/member/member.h"
#include "proto/identity.h"
#include "proto/mp.h"
#include "proto/record.h"
#include "proto/wire.h"
#include "store/store.h"
#include "sim.h"
#include "../unit/rm_tree.h"

/* Turns of the loop between two looks at the real clock. */
#define WALL_CHECK_TURNS 4096

struct sim_packet {
	struct loop_timer timer;
	struct sim_packet *next, **pprev;
	struct sim *sim;
	uint32_t from, to;
	uint8_t kind;
	size_t len;
	uint8_t data[];
};

/* ---- random numbers ---- */

/* xorshift64*: the network's draws (latency, loss, picks). */
static uint64_t draw(uint64_t *state)
{
	*state ^= *state >> 12;
	*state ^= *state << 25;
	*state ^= *state >> 27;
	return *state * UINT64_C(0x2545f4914f6cdd1d);
}

static uint64_t sodium_state = 1;

static const char *rb_name(void)
{
	return "kith_sim";
}

static uint32_t rb_random(void)
{
	return (uint32_t)(draw(&sodium_state) >> 32);
}

static void rb_buf(void *buf, size_t size)
{
	uint8_t *p = buf;

	for (size_t i = 0; i < size; i++)
		p[i] = (uint8_t)(draw(&sodium_state) >> 56);
}

static struct randombytes_implementation rb_impl = {
    .implementation_name = rb_name,
    .random = rb_random,
    .buf = rb_buf,
};

void sim_random_seed(uint64_t seed)
{
	sodium_state = seed ? seed : 1;
	randombytes_set_implementation(&rb_impl);
}

/* ---- clocks and memory ---- */

uint64_t sim_real_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void sim_rss_kib(uint64_t *now, uint64_t *peak)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];

	*now = *peak = 0;
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long v;
		if (sscanf(line, "VmRSS: %llu", &v) == 1)
			*now = v;
		else if (sscanf(line, "VmHWM: %llu", &v) == 1)
			*peak = v;
	}
	fclose(f);
}

uint64_t sim_now_ms(const struct sim *s)
{
	return loop_now_ms(s->loop);
}

/* ---- the network ---- */

static struct sim_node *node_of(const struct sim *s, const uint8_t key[PROTO_KEY_LEN])
{
	return keymap_get(&s->index, key);
}

static void packet_unlink(struct sim_packet *p)
{
	*p->pprev = p->next;
	if (p->next)
		p->next->pprev = p->pprev;
}

static void deliver_swim(struct sim *s, struct sim_packet *p)
{
	struct proto_probe msg;
	uint8_t type;

	if (proto_probe_decode(&msg, &type, p->data, p->len) < 0) {
		s->wire_errors++;
		return;
	}
	member_on_message(s->nodes[p->to].member, s->nodes[p->from].pk, type, &msg);
}

static void deliver_gossip(struct sim *s, struct sim_packet *p)
{
	uint8_t type;

	if (proto_msg_type(p->data, p->len, &type) < 0 ||
	    gossip_on_message(s->nodes[p->to].gossip, s->nodes[p->from].pk, type, p->data, p->len) <
	        0)
		s->bad_messages++;
}

static void deliver(struct loop *l, void *arg)
{
	struct sim_packet *p = arg;
	struct sim *s = p->sim;

	(void)l;
	packet_unlink(p);
	if (!s->nodes[p->from].up || !s->nodes[p->to].up)
		s->lost[p->kind].msgs++;
	else if (p->kind == SIM_SWIM)
		deliver_swim(s, p);
	else
		deliver_gossip(s, p);
	free(p);
}

/* The link's entry in from's table of links with a message in flight:
 * the same destination, else a free or stale slot; NULL when all are busy
 * (the order on this link is then not enforced, and counted). */
static struct sim_link *link_slot(struct sim_node *from, uint32_t to, uint64_t now)
{
	struct sim_link *spare = NULL;

	for (size_t i = 0; i < SIM_FIFO; i++) {
		struct sim_link *c = &from->fifo[(to + i) % SIM_FIFO];
		if (c->at > now && c->to == to)
			return c;
		if (c->at <= now && !spare)
			spare = c;
	}
	return spare;
}

/* The delay of a message on from -> to: uniform latency, but never before
 * the previous message on the link. */
static uint64_t link_delay(struct sim *s, struct sim_node *from, uint32_t to)
{
	uint64_t now = loop_now_ms(s->loop);
	uint32_t span = s->o.lat_hi_ms - s->o.lat_lo_ms + 1;
	uint64_t at = now + s->o.lat_lo_ms + draw(&s->rng) % span;
	struct sim_link *c = link_slot(from, to, now);

	if (!c) {
		s->fifo_misses++;
		return at - now;
	}
	if (c->at > now && c->to == to && c->at >= at)
		at = c->at + 1;
	c->to = to;
	c->at = at;
	return at - now;
}

/* Counts a message from -> to and puts it on the wire unless it is lost.
 * buf is copied. */
static int transmit(struct sim *s, struct sim_node *from, const uint8_t peer[PROTO_KEY_LEN],
                    enum sim_kind kind, const uint8_t *buf, size_t len)
{
	struct sim_node *to = node_of(s, peer);
	struct sim_packet *p;
	uint8_t type;

	if (!to)
		return -ENOENT;
	s->sent[kind].msgs++;
	s->sent[kind].bytes += len;
	if (kind == SIM_GOSSIP && proto_msg_type(buf, len, &type) == 0 &&
	    type == PROTO_MSG_RECORDS) {
		s->records_sent++;
		from->records_sent++;
	}
	if (!from->up || !to->up || draw(&s->rng) % 1000000 < s->o.loss_ppm) {
		s->lost[kind].msgs++;
		return 0;
	}
	p = malloc(sizeof(*p) + len);
	if (!p)
		return -ENOMEM;
	*p = (struct sim_packet){.sim = s, .from = from->idx, .to = to->idx, .kind = kind};
	p->len = len;
	memcpy(p->data, buf, len);
	p->next = s->inflight;
	p->pprev = &s->inflight;
	if (s->inflight)
		s->inflight->pprev = &p->next;
	s->inflight = p;
	loop_timer_init(&p->timer, deliver, p);
	return loop_timer_start(s->loop, &p->timer, link_delay(s, from, to->idx));
}

/* ---- member ops ---- */

static void swim_send(void *arg, const uint8_t peer[PROTO_KEY_LEN], uint8_t type,
                      const struct proto_probe *msg)
{
	struct sim_node *n = arg;
	struct mp_buf buf = {0};

	if (proto_probe_encode(&buf, type, msg) < 0)
		n->sim->wire_errors++;
	else
		transmit(n->sim, n, peer, SIM_SWIM, buf.data, buf.len);
	mp_buf_free(&buf);
}

static void swim_changed(void *arg, const uint8_t peer[PROTO_KEY_LEN],
                         enum proto_member_state state)
{
	struct sim_node *n = arg;
	struct sim *s = n->sim;
	struct sim_node *about = node_of(s, peer);

	if (!about || (state != PROTO_STATE_SUSPECT && state != PROTO_STATE_DEAD))
		return;
	if (about->up) {
		s->false_suspect += state == PROTO_STATE_SUSPECT;
		s->false_dead += state == PROTO_STATE_DEAD;
		return;
	}
	if ((int64_t)about->idx != s->victim)
		return;
	if (state == PROTO_STATE_SUSPECT && !n->suspect_ms) {
		n->suspect_ms = loop_now_ms(s->loop);
		s->suspecters++;
	} else if (state == PROTO_STATE_DEAD && !n->dead_ms) {
		n->dead_ms = loop_now_ms(s->loop);
		s->deciders++;
	}
}

static const struct member_ops swim_ops = {.send = swim_send, .changed = swim_changed};

/* ---- gossip ops ---- */

static int gossip_send(void *arg, const uint8_t peer[PROTO_KEY_LEN], const uint8_t *buf, size_t len)
{
	struct sim_node *n = arg;

	return transmit(n->sim, n, peer, SIM_GOSSIP, buf, len);
}

/* Without SWIM, the network's own list stands for the member table:
 * random members that are up, as member_pick_alive() would give once
 * deaths are known. */
static size_t pick_up(struct sim_node *self, uint8_t (*out)[PROTO_KEY_LEN], size_t n)
{
	struct sim *s = self->sim;
	size_t k = 0;

	for (size_t tries = 0; k < n && tries < 20 * n + 100; tries++) {
		struct sim_node *c = &s->nodes[draw(&s->rng) % s->o.n];
		bool dup = false;
		if (c == self || !c->up)
			continue;
		for (size_t j = 0; j < k && !dup; j++)
			dup = !memcmp(out[j], c->pk, PROTO_KEY_LEN);
		if (!dup)
			memcpy(out[k++], c->pk, PROTO_KEY_LEN);
	}
	return k;
}

static size_t gossip_pick(void *arg, uint8_t (*out)[PROTO_KEY_LEN], size_t n)
{
	struct sim_node *self = arg;

	if (self->member)
		return member_pick_alive(self->member, out, n);
	return pick_up(self, out, n);
}

static size_t gossip_live(void *arg)
{
	struct sim_node *self = arg;
	size_t live = 0;

	if (self->member)
		return member_alive_count(self->member);
	for (uint32_t i = 0; i < self->sim->o.n; i++)
		live += self->sim->nodes[i].up && &self->sim->nodes[i] != self;
	return live;
}

static bool gossip_accept(void *arg, const uint8_t author[PROTO_KEY_LEN])
{
	struct sim_node *n = arg;

	return node_of(n->sim, author) != NULL;
}

static void gossip_stored(void *arg, const struct proto_record *rec)
{
	struct sim_node *n = arg;
	struct sim *s = n->sim;

	if (n->got_ms || rec->seq != s->watch_seq ||
	    memcmp(rec->author, s->watch_author, PROTO_KEY_LEN))
		return;
	n->got_ms = loop_now_ms(s->loop);
	s->holders++;
}

static const struct gossip_ops gossip_ops = {
    .send = gossip_send,
    .pick = gossip_pick,
    .live = gossip_live,
    .accept = gossip_accept,
    .stored = gossip_stored,
};

/* ---- set-up ---- */

/* A key pair for a node whose secret key nobody needs: only its public
 * key, the node's address on the simulated network. */
static void key_only(uint8_t pk[PROTO_KEY_LEN])
{
	uint8_t sk[crypto_sign_SECRETKEYBYTES];

	crypto_sign_keypair(pk, sk);
	sodium_memzero(sk, sizeof(sk));
}

static int node_new(struct sim *s, uint32_t i)
{
	struct sim_node *n = &s->nodes[i];
	struct store_options so = {.map_size = (size_t)2 << 20, .map_max = (size_t)16 << 20};
	char dir[sizeof(s->o.dir) + 16];
	int err = 0;

	n->sim = s;
	n->idx = i;
	n->up = true;
	if (s->o.swim || i == 0)
		err = proto_identity_generate(&n->id);
	if (err)
		return err;
	if (n->id)
		memcpy(n->pk, n->id->pk, PROTO_KEY_LEN);
	else
		key_only(n->pk);
	snprintf(dir, sizeof(dir), "%s/%u", s->o.dir, i);
	if (mkdir(dir, 0700) < 0)
		return -errno;
	err = store_open(&n->store, dir, &so);
	if (!err)
		err = keymap_put(&s->index, n->pk, n);
	return err;
}

/* The modules of node i; everyone is a member of everyone. */
static int node_modules(struct sim *s, uint32_t i)
{
	struct sim_node *n = &s->nodes[i];
	int err = gossip_new(&n->gossip, s->loop, n->store, &s->conf, n->pk, &gossip_ops, n);

	if (err || !s->o.swim)
		return err;
	err = member_new(&n->member, s->loop, n->id, &s->conf, s->o.incarnation, &swim_ops, n);
	for (uint32_t j = 0; j < s->o.n && !err; j++)
		if (j != i)
			err = member_add(n->member, s->nodes[j].pk);
	return err;
}

int sim_new(struct sim *s, const struct sim_opts *o)
{
	int err;

	memset(s, 0, sizeof(*s));
	s->o = *o;
	s->rng = o->seed ? o->seed : 1;
	s->victim = -1;
	s->wall_start_ms = sim_real_ms();
	conf_defaults(&s->conf, o->profile);
	keymap_init(&s->index);
	err = loop_new(&s->loop);
	if (err)
		return err;
	/* Virtual time starts past 0, so that no "0: never" test in the
	 * modules is fooled. */
	loop_virtual(s->loop, SIM_EPOCH_MS);
	s->nodes = calloc(o->n, sizeof(*s->nodes));
	if (!s->nodes)
		return -ENOMEM;
	if (mkdir(o->dir, 0700) < 0)
		return -errno;
	s->made_dir = true;
	for (uint32_t i = 0; i < o->n && !err; i++)
		err = node_new(s, i);
	for (uint32_t i = 0; i < o->n && !err; i++)
		err = node_modules(s, i);
	return err;
}

static void node_start(struct loop *l, void *arg)
{
	struct sim_node *n = arg;

	(void)l;
	if (!n->up)
		return;
	if (gossip_start(n->gossip) < 0 || (n->member && member_start(n->member) < 0))
		n->sim->start_errors++;
}

int sim_start(struct sim *s)
{
	uint64_t spread = s->conf.sync_interval_ms;
	int err = 0;

	if (s->o.swim && s->conf.probe_interval_ms > spread)
		spread = s->conf.probe_interval_ms;
	for (uint32_t i = 0; i < s->o.n && !err; i++) {
		struct sim_node *n = &s->nodes[i];
		loop_timer_init(&n->start, node_start, n);
		err = loop_timer_start(s->loop, &n->start, draw(&s->rng) % spread);
	}
	return err;
}

void sim_free(struct sim *s)
{
	while (s->inflight) {
		struct sim_packet *p = s->inflight;
		packet_unlink(p);
		loop_timer_stop(s->loop, &p->timer);
		free(p);
	}
	for (uint32_t i = 0; s->nodes && i < s->o.n; i++) {
		struct sim_node *n = &s->nodes[i];
		loop_timer_stop(s->loop, &n->start);
		member_free(&n->member);
		gossip_free(&n->gossip);
		store_close(&n->store);
		proto_identity_free(&n->id);
	}
	free(s->nodes);
	s->nodes = NULL;
	keymap_free(&s->index);
	loop_free(&s->loop);
	if (s->made_dir)
		rm_tree(s->o.dir);
}

/* ---- running ---- */

int sim_run(struct sim *s, uint64_t ms, bool (*done)(const struct sim *s, const void *arg),
            const void *arg)
{
	uint64_t end = loop_now_ms(s->loop) + ms;

	for (;;) {
		uint64_t now = loop_now_ms(s->loop);
		if (done && done(s, arg))
			return 1;
		if (now >= end)
			return 0;
		if (++s->turns % WALL_CHECK_TURNS == 0 &&
		    sim_real_ms() - s->wall_start_ms > s->o.wall_limit_s * 1000) {
			s->over_limit = true;
			return -ETIME;
		}
		loop_once(s->loop, end - now);
	}
}

int sim_publish(struct sim *s, uint32_t i)
{
	static const uint8_t body[200];
	struct sim_node *n = &s->nodes[i];
	uint64_t now = loop_wall_s();
	struct proto_record rec = {.kind = PROTO_KIND_SERVICE,
	                           .issued = now,
	                           .expires = now + 86400,
	                           .body = body,
	                           .body_len = sizeof(body)};
	struct mp_buf buf = {0};
	uint64_t seq;
	int err = store_seq_reserve(n->store, 1, &seq);

	if (err)
		return err;
	snprintf(rec.name, sizeof(rec.name), "sim-%llu", (unsigned long long)seq);
	rec.seq = seq;
	err = proto_record_sign(&buf, n->id, &rec);
	if (!err) {
		memcpy(s->watch_author, n->pk, PROTO_KEY_LEN);
		s->watch_seq = seq;
		s->holders = 0;
		s->records_sent = 0;
		for (uint32_t j = 0; j < s->o.n; j++) {
			s->nodes[j].got_ms = 0;
			s->nodes[j].records_sent = 0;
		}
		err = gossip_publish(n->gossip, buf.data, buf.len);
	}
	mp_buf_free(&buf);
	return err;
}

void sim_kill(struct sim *s, uint32_t i)
{
	struct sim_node *n = &s->nodes[i];

	n->up = false;
	s->victim = i;
	member_free(&n->member);
	gossip_free(&n->gossip);
}
