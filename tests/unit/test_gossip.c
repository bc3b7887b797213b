/* Gossip of records between several agents in one process: each has its
 * own store and identity, and a simulated network carries messages
 * through loop timers after a small random delay, dropping those to or
 * from a node that is down. Push, anti-entropy, catch-up after downtime
 * within a small budget, membership, forged, replayed and out-of-order
 * blocks, and the rotation of a digest too long for one message. */
#define _XOPEN_SOURCE 700 /* nftw() */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "agent/core/conf.h"
#include "agent/gossip/gossip.h"
#include "agent/core/log.h"
#include "agent/core/loop.h"
#include "proto/body.h"
#include "proto/error.h"
#include "proto/identity.h"
#include "proto/record.h"
#include "proto/wire.h"
#include "store/store.h"
#include "tap.h"
#include "rm_tree.h"

#define NODES_MAX 4
#define MEMBERS_MAX 64
#define WAIT_MS 15000 /* every wait gives up after this */

struct node {
	struct net *net;
	char dir[40];
	struct proto_identity *id;
	struct store *store;
	struct gossip *gossip;
	struct conf conf;
	bool down; /* every message to or from it is lost */
	uint8_t members[MEMBERS_MAX][PROTO_KEY_LEN];
	size_t n_members;
	bool open;              /* accepts every author */
	size_t stored;          /* ops->stored calls */
	size_t records_in;      /* RECORDS messages received */
	size_t largest_records; /* bytes of the largest one */
};

struct delivery {
	struct loop_timer timer;
	struct delivery *next, **prev;
	struct node *to;
	uint8_t from[PROTO_KEY_LEN];
	uint8_t *buf;
	size_t len;
};

struct net {
	struct loop *loop;
	struct node nodes[NODES_MAX];
	size_t n;
	struct delivery *pending;
	uint64_t link_last[NODES_MAX][NODES_MAX]; /* deadline of the last message per link */
	size_t oversized;                         /* messages over the sender's max_message */
	size_t bad;                               /* messages a receiver called malformed */
	/* SYNC digests sent by nodes[0], when watching */
	bool watch_digests;
	size_t digests, digest_over;
	uint8_t seen[MEMBERS_MAX][PROTO_KEY_LEN];
	size_t n_seen;
	size_t digest_cap;
};

static struct net net;
static uint32_t rng_state = 20240611;

static uint32_t rng(void)
{
	rng_state = rng_state * 1103515245u + 12345u;
	return rng_state >> 8;
}

static uint64_t wall(void)
{
	return (uint64_t)time(NULL);
}

/* ---- the simulated network ---- */

static struct node *node_by_key(const uint8_t key[PROTO_KEY_LEN])
{
	for (size_t i = 0; i < net.n; i++)
		if (!memcmp(net.nodes[i].id->pk, key, PROTO_KEY_LEN))
			return &net.nodes[i];
	return NULL;
}

static bool key_in(const uint8_t (*set)[PROTO_KEY_LEN], size_t n, const uint8_t *key)
{
	for (size_t i = 0; i < n; i++)
		if (!memcmp(set[i], key, PROTO_KEY_LEN))
			return true;
	return false;
}

static void member_add(struct node *nd, const uint8_t key[PROTO_KEY_LEN])
{
	if (!key_in((const uint8_t(*)[PROTO_KEY_LEN])nd->members, nd->n_members, key) &&
	    nd->n_members < MEMBERS_MAX)
		memcpy(nd->members[nd->n_members++], key, PROTO_KEY_LEN);
	if (nd->gossip)
		gossip_authors_changed(nd->gossip);
}

static void watch_digest(const uint8_t *buf, size_t len)
{
	struct proto_head heads[PROTO_DIGEST_MAX];
	size_t n;
	bool reply;

	if (proto_sync_decode(&reply, heads, PROTO_DIGEST_MAX, &n, buf, len) < 0) {
		net.bad++;
		return;
	}
	net.digests++;
	if (n > net.digest_cap)
		net.digest_over++;
	for (size_t i = 0; i < n; i++)
		if (!key_in((const uint8_t(*)[PROTO_KEY_LEN])net.seen, net.n_seen,
		            heads[i].author) &&
		    net.n_seen < MEMBERS_MAX)
			memcpy(net.seen[net.n_seen++], heads[i].author, PROTO_KEY_LEN);
}

static void deliver(struct loop *l, void *arg)
{
	struct delivery *d = arg;
	uint8_t type;

	(void)l;
	*d->prev = d->next;
	if (d->next)
		d->next->prev = d->prev;
	if (!d->to->down && proto_msg_type(d->buf, d->len, &type) == 0) {
		if (type == PROTO_MSG_RECORDS) {
			d->to->records_in++;
			if (d->len > d->to->largest_records)
				d->to->largest_records = d->len;
		}
		if (gossip_on_message(d->to->gossip, d->from, type, d->buf, d->len) < 0)
			net.bad++;
	}
	free(d->buf);
	free(d);
}

/* 1 to 3 ms, but never before the previous message on the same link:
 * ZeroMQ keeps the order of messages between two peers. */
static uint64_t link_delay(const struct node *from, const struct node *to)
{
	uint64_t *last = &net.link_last[from - net.nodes][to - net.nodes];
	uint64_t now = loop_now_ms(net.loop), at = now + 1 + rng() % 3;

	if (at <= *last)
		at = *last + 1;
	*last = at;
	return at - now;
}

static int op_send(void *arg, const uint8_t peer[PROTO_KEY_LEN], const uint8_t *buf, size_t len)
{
	struct node *from = arg, *to = node_by_key(peer);
	struct delivery *d;
	uint8_t type;

	if (!to)
		return -ENOENT;
	if (len > from->conf.max_message)
		net.oversized++;
	if (net.watch_digests && from == &net.nodes[0] && proto_msg_type(buf, len, &type) == 0 &&
	    type == PROTO_MSG_SYNC)
		watch_digest(buf, len);
	if (from->down || to->down)
		return 0; /* lost on the way, as on a real network */
	d = calloc(1, sizeof(*d));
	if (!d || !(d->buf = malloc(len))) {
		free(d);
		return -ENOMEM;
	}
	memcpy(d->buf, buf, len);
	d->len = len;
	d->to = to;
	memcpy(d->from, from->id->pk, PROTO_KEY_LEN);
	d->next = net.pending;
	d->prev = &net.pending;
	if (net.pending)
		net.pending->prev = &d->next;
	net.pending = d;
	loop_timer_init(&d->timer, deliver, d);
	return loop_timer_start(net.loop, &d->timer, link_delay(from, to));
}

/* Live nodes other than the caller, in random order. */
static size_t op_pick(void *arg, uint8_t (*out)[PROTO_KEY_LEN], size_t n)
{
	struct node *self = arg;
	struct node *live[NODES_MAX];
	size_t k = 0;

	for (size_t i = 0; i < net.n; i++)
		if (&net.nodes[i] != self && !net.nodes[i].down)
			live[k++] = &net.nodes[i];
	for (size_t i = k; i > 1; i--) {
		size_t j = rng() % i;
		struct node *t = live[i - 1];
		live[i - 1] = live[j];
		live[j] = t;
	}
	if (n > k)
		n = k;
	for (size_t i = 0; i < n; i++)
		memcpy(out[i], live[i]->id->pk, PROTO_KEY_LEN);
	return n;
}

static bool op_accept(void *arg, const uint8_t author[PROTO_KEY_LEN])
{
	struct node *nd = arg;
	return nd->open ||
	       key_in((const uint8_t(*)[PROTO_KEY_LEN])nd->members, nd->n_members, author);
}

/* An admission record makes its subject a member, as trust.c would. */
static void op_stored(void *arg, const struct proto_record *rec)
{
	struct node *nd = arg;
	struct proto_admission adm;

	nd->stored++;
	if (rec->kind == PROTO_KIND_ADMISSION &&
	    proto_admission_decode(&adm, rec->body, rec->body_len) == 0)
		member_add(nd, adm.subject);
}

/* What a test sets: every author's records get this budget (none when
 * records is 0). */
static struct store_budget test_budget;

static const struct store_budget *op_budget(void *arg, const uint8_t author[PROTO_KEY_LEN],
                                            uint8_t kind, const char **why)
{
	(void)arg;
	(void)author;
	(void)kind;
	*why = "over the test's budget";
	return test_budget.records ? &test_budget : NULL;
}

static const struct gossip_ops ops = {
    .send = op_send,
    .pick = op_pick,
    .accept = op_accept,
    .stored = op_stored,
    .budget = op_budget,
};

/* ---- setting up ---- */

/* n nodes, all members of each other, with the LAN profile, a 50 ms sync
 * interval and push_fanout fanout. Timers are not started. */
static int net_up(size_t n, uint32_t fanout)
{
	memset(&net, 0, sizeof(net));
	net.n = n;
	if (loop_new(&net.loop) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		struct node *nd = &net.nodes[i];

		nd->net = &net;
		snprintf(nd->dir, sizeof(nd->dir), "/tmp/kith-test-gossip-XXXXXX");
		if (!mkdtemp(nd->dir) || proto_identity_generate(&nd->id) < 0 ||
		    store_open(&nd->store, nd->dir, NULL) < 0)
			return -1;
		conf_defaults(&nd->conf, CONF_PROFILE_LAN);
		nd->conf.sync_interval_ms = 50;
		nd->conf.push_fanout = fanout;
	}
	for (size_t i = 0; i < n; i++) {
		struct node *nd = &net.nodes[i];

		for (size_t j = 0; j < n; j++)
			member_add(nd, net.nodes[j].id->pk);
		if (gossip_new(&nd->gossip, net.loop, nd->store, &nd->conf, nd->id->pk, &ops, nd) <
		    0)
			return -1;
	}
	return 0;
}

static void net_start(void)
{
	for (size_t i = 0; i < net.n; i++)
		gossip_start(net.nodes[i].gossip);
}

static void net_down(void)
{
	while (net.pending) {
		struct delivery *d = net.pending;
		net.pending = d->next;
		loop_timer_stop(net.loop, &d->timer);
		free(d->buf);
		free(d);
	}
	for (size_t i = 0; i < net.n; i++) {
		struct node *nd = &net.nodes[i];
		gossip_free(&nd->gossip);
		store_close(&nd->store);
		proto_identity_free(&nd->id);
		rm_tree(nd->dir);
	}
	loop_free(&net.loop);
}

/* Runs the loop until done(arg) or WAIT_MS; returns done(arg). */
static bool run_until(bool (*done)(void *), void *arg)
{
	uint64_t end = loop_clock_ms() + WAIT_MS;

	while (!done(arg) && loop_clock_ms() < end)
		loop_once(net.loop, 10);
	return done(arg);
}

/* Runs the loop for ms milliseconds. */
static void run_for(uint64_t ms)
{
	uint64_t end = loop_clock_ms() + ms;

	while (loop_clock_ms() < end)
		loop_once(net.loop, 5);
}

/* ---- records ---- */

/* A record of id named name, seq seq, with a body of body_len bytes (or
 * body, when not NULL); *out is reset first. */
static int make_at(struct mp_buf *out, const struct proto_identity *id, uint8_t kind,
                   const char *name, uint64_t seq, uint64_t issued, uint64_t expires,
                   const uint8_t *body, size_t body_len)
{
	static const uint8_t filler[1024];
	struct proto_record in = {.kind = kind, .seq = seq, .issued = issued, .expires = expires};

	snprintf(in.name, sizeof(in.name), "%s", name);
	in.body = body ? body : filler;
	in.body_len = body_len;
	out->len = 0;
	return proto_record_sign(out, id, &in);
}

/* The same, issued now and valid for a day. */
static int make(struct mp_buf *out, const struct proto_identity *id, uint8_t kind, const char *name,
                uint64_t seq, const uint8_t *body, size_t body_len)
{
	return make_at(out, id, kind, name, seq, wall(), wall() + 86400, body, body_len);
}

/* Publishes a service record of node nd named name; returns its seq, 0 on
 * failure. */
static uint64_t publish(struct node *nd, const char *name, size_t body_len)
{
	struct mp_buf b = {0};
	uint64_t seq = 0;

	if (store_seq_reserve(nd->store, 1, &seq) < 0 ||
	    make(&b, nd->id, PROTO_KIND_SERVICE, name, seq, NULL, body_len) < 0 ||
	    gossip_publish(nd->gossip, b.data, b.len) < 0)
		seq = 0;
	mp_buf_free(&b);
	return seq;
}

static uint64_t head(struct node *nd, const uint8_t author[PROTO_KEY_LEN])
{
	uint64_t seq = 0;
	store_head_get(nd->store, author, &seq);
	return seq;
}

static uint64_t count(struct node *nd)
{
	uint64_t n = 0;
	store_record_count(nd->store, &n);
	return n;
}

static struct gossip_stats stats(struct node *nd)
{
	struct gossip_stats s;
	gossip_get_stats(nd->gossip, &s);
	return s;
}

/* A RECORDS message with one block [author, after, recs[0..n)], delivered
 * to nd at once as if from; returns what gossip_on_message() said. */
static int hand_deliver(struct node *nd, const struct node *from, const uint8_t *author,
                        uint64_t after, const struct mp_buf *recs, size_t n)
{
	struct proto_block b = {.after = after, .first = 0, .n_records = (uint32_t)n};
	struct proto_recref refs[16];
	struct mp_buf msg = {0};
	int rc;

	memcpy(b.author, author, PROTO_KEY_LEN);
	for (size_t i = 0; i < n; i++)
		refs[i] = (struct proto_recref){recs[i].data, recs[i].len};
	rc = proto_records_encode(&msg, &b, 1, refs);
	if (rc == 0)
		rc = gossip_on_message(nd->gossip, from->id->pk, PROTO_MSG_RECORDS, msg.data,
		                       msg.len);
	mp_buf_free(&msg);
	return rc;
}

/* ---- conditions to wait for ---- */

struct want {
	const uint8_t *author;
	uint64_t seq;
	size_t skip; /* a node index not required, or NODES_MAX */
};

static bool all_have(void *arg)
{
	const struct want *w = arg;

	for (size_t i = 0; i < net.n; i++)
		if (i != w->skip && head(&net.nodes[i], w->author) < w->seq)
			return false;
	return true;
}

/* Every node holds as many records as node 0. */
static bool same_count(void *arg)
{
	uint64_t n = count(&net.nodes[0]);

	(void)arg;
	for (size_t i = 1; i < net.n; i++)
		if (count(&net.nodes[i]) != n)
			return false;
	return true;
}

/* ---- the cases ---- */

static void test_push(void)
{
	struct want w;
	bool all = true;
	size_t stored = 0;

	if (!ok(net_up(4, 2) == 0, "push: four nodes up"))
		return;
	/* No timer runs: only pushes and relays move records. Each record
	 * goes out once the previous one has arrived everywhere, since a push
	 * overtaken by the next one waits for anti-entropy. */
	for (uint64_t i = 1; i <= 3; i++) {
		char name[8];
		snprintf(name, sizeof(name), "p%d", (int)i);
		all &= publish(&net.nodes[0], name, 100) == i;
		w = (struct want){net.nodes[0].id->pk, i, NODES_MAX};
		all &= run_until(all_have, &w);
	}
	ok(all, "push: three records reach every node, with no anti-entropy");
	run_for(30);
	for (size_t i = 1; i < 4; i++) {
		stored += stats(&net.nodes[i]).records_stored;
		is(net.nodes[i].stored, 3, "push: ops->stored once per record");
		is(stats(&net.nodes[i]).syncs_sent, 0, "push: no SYNC sent");
	}
	is(stored, 9, "push: each record stored once per node (relays of held ones are stale)");
	is(net.oversized + net.bad, 0, "push: no oversized or malformed message");
	net_down();
}

static void test_anti_entropy(void)
{
	struct gossip_stats before[4];
	uint64_t summaries = 0, digests = 0, digests_before = 0, differ = 0;
	struct want w;
	uint64_t last = 0;

	if (!ok(net_up(4, 0) == 0, "anti-entropy: four nodes up, no pushes"))
		return;
	for (int i = 0; i < 5; i++) {
		char name[8];
		snprintf(name, sizeof(name), "s%d", i);
		last = publish(&net.nodes[1], name, 200);
	}
	ok(last > 0, "anti-entropy: five records published");
	is(head(&net.nodes[2], net.nodes[1].id->pk), 0, "anti-entropy: nothing pushed");
	net_start();
	w = (struct want){net.nodes[1].id->pk, last, NODES_MAX};
	ok(run_until(all_have, &w), "anti-entropy: every node holds them");
	ok(run_until(same_count, NULL), "anti-entropy: same record count everywhere");
	ok(stats(&net.nodes[0]).syncs_sent > 0 && stats(&net.nodes[0]).syncs_received > 0,
	   "anti-entropy: SYNCs went both ways");
	is(net.oversized + net.bad, 0, "anti-entropy: no oversized or malformed message");

	/* Converged, the nodes exchange summaries only: no digest (48 bytes
	 * an author) while nothing changes. A SYNC in flight may still land. */
	run_for(60);
	for (int i = 0; i < 4; i++) {
		before[i] = stats(&net.nodes[i]);
		digests_before += before[i].syncs_sent;
	}
	run_for(20 * 50);
	for (int i = 0; i < 4; i++) {
		struct gossip_stats now = stats(&net.nodes[i]);
		summaries += now.summaries_received - before[i].summaries_received;
		digests += now.syncs_sent;
		differ += now.summaries_differ - before[i].summaries_differ;
	}
	ok(summaries >= 40, "anti-entropy: converged nodes keep sending summaries");
	is(digests - digests_before, 0, "anti-entropy: converged, no digest is sent");
	is(differ, 0, "anti-entropy: converged, every summary matches");
	last = publish(&net.nodes[3], "s9", 200);
	w = (struct want){net.nodes[3].id->pk, last, NODES_MAX};
	ok(run_until(all_have, &w), "anti-entropy: a new record still reaches every node");
	net_down();
}

/* An author over the budget its receivers give it: what is over is passed
 * over (not kept, not relayed, never asked for again), counted, and what
 * it publishes later still arrives if it fits; anti-entropy does not loop
 * on what was refused. */
static void test_over_budget(void)
{
	struct want w;
	uint64_t last = 0, seqs[8], before0, before2;

	if (!ok(net_up(3, 0) == 0, "budget: three nodes up, no pushes"))
		return;
	before0 = count(&net.nodes[0]);
	before2 = count(&net.nodes[2]);
	test_budget = (struct store_budget){.records = 4, .bytes = 1 << 20};
	for (int i = 0; i < 8; i++) {
		char name[8];
		snprintf(name, sizeof(name), "s%d", i);
		seqs[i] = last = publish(&net.nodes[1], name, 200);
	}
	net_start();
	w = (struct want){net.nodes[1].id->pk, last, NODES_MAX};
	ok(run_until(all_have, &w), "budget: every node's head passes the last record");
	ok(count(&net.nodes[0]) == before0 + 4 && count(&net.nodes[2]) == before2 + 4,
	   "budget: node 0 and 2 keep 4 of node 1's 8");
	ok(stats(&net.nodes[0]).rej_budget + stats(&net.nodes[2]).rej_budget >= 4,
	   "budget: the others counted as over budget");
	/* node 1 replaces its first record with a smaller one: it fits */
	{
		struct mp_buf b = {0};
		uint64_t seq = 0;
		store_seq_reserve(net.nodes[1].store, 1, &seq);
		make(&b, net.nodes[1].id, PROTO_KIND_SERVICE, "s0", seq, NULL, 100);
		gossip_publish(net.nodes[1].gossip, b.data, b.len);
		mp_buf_free(&b);
		w.seq = seq;
	}
	ok(run_until(all_have, &w), "budget: a smaller replacement arrives");
	run_for(3000);
	ok(stats(&net.nodes[0]).rej_budget + stats(&net.nodes[2]).rej_budget <= 8,
	   "budget: nothing refused is offered again and again");
	(void)seqs;
	test_budget = (struct store_budget){0, 0};
	net_down();
}

/* Node 3 is down while others publish n records each, then comes back. */
static void catch_up(const char *what, uint32_t fanout, uint64_t budget, int n, size_t body)
{
	struct node *back;
	struct want w0, w1;
	char line[128];
	uint64_t last0 = 0, last1 = 0;

	if (!ok(net_up(4, fanout) == 0, what))
		return;
	back = &net.nodes[3];
	for (size_t i = 0; i < 4; i++)
		net.nodes[i].conf.sync_budget = budget;
	back->down = true;
	net_start();
	for (int i = 0; i < n; i++) {
		char name[16];
		snprintf(name, sizeof(name), "svc%d", i);
		last0 = publish(&net.nodes[0], name, body);
		last1 = publish(&net.nodes[1], name, body);
		run_for(2);
	}
	w0 = (struct want){net.nodes[0].id->pk, last0, 3};
	w1 = (struct want){net.nodes[1].id->pk, last1, 3};
	snprintf(line, sizeof(line), "%s: the live nodes hold all %d records", what, 2 * n);
	ok(run_until(all_have, &w0) && run_until(all_have, &w1), line);
	is(count(back), 0, "catch-up: the node that was down holds nothing");

	back->down = false;
	w0.skip = w1.skip = NODES_MAX;
	snprintf(line, sizeof(line), "%s: the node that was down catches up completely", what);
	ok(run_until(all_have, &w0) && run_until(all_have, &w1) && run_until(same_count, NULL),
	   line);
	is(count(back), (uint64_t)2 * n, "catch-up: it holds every record");
	if (budget < 8192) {
		snprintf(line, sizeof(line), "%s: it took several RECORDS messages (%zu)", what,
		         back->records_in);
		ok(back->records_in >= 4, line);
		snprintf(line, sizeof(line), "%s: none over the budget (largest %zu bytes)", what,
		         back->largest_records);
		ok(back->largest_records <= budget, line);
	}
	is(net.oversized + net.bad, 0, "catch-up: no oversized or malformed message");
	net_down();
}

/* A block of a non-member first, then the block admitting it: the second
 * pass over the message stores the first block. */
static void test_membership(void)
{
	struct proto_identity *x = NULL;
	struct mp_buf xr[2] = {{0}}, adm = {0}, body = {0};
	struct proto_admission a;
	struct proto_block blocks[2];
	struct proto_recref refs[3];
	struct mp_buf msg = {0};
	struct node *n0, *n1, *n2;
	char hex[2 * PROTO_KEY_LEN + 1];
	uint64_t seq;
	int rc;

	if (!ok(net_up(3, 0) == 0, "membership: three nodes up") ||
	    !ok(proto_identity_generate(&x) == 0, "membership: an outsider"))
		goto out;
	n0 = &net.nodes[0];
	n1 = &net.nodes[1];
	n2 = &net.nodes[2];
	for (int i = 0; i < 2; i++)
		make(&xr[i], x, PROTO_KIND_SERVICE, i ? "x2" : "x1", (uint64_t)i + 1, NULL, 50);

	/* The outsider's records alone: refused and counted. */
	is(hand_deliver(n2, n1, x->pk, 0, xr, 2), 0,
	   "membership: a non-member's block is no error");
	is(stats(n2).rej_nonmember, 2, "membership: its two records are counted as refused");
	is(head(n2, x->pk), 0, "membership: and not stored");

	/* [outsider's block, admission by node 0] in one message to node 1. */
	memset(&a, 0, sizeof(a));
	memcpy(a.subject, x->pk, PROTO_KEY_LEN);
	sodium_bin2hex(hex, sizeof(hex), x->pk, PROTO_KEY_LEN);
	store_seq_reserve(n0->store, 1, &seq);
	rc = proto_admission_encode(&body, &a);
	if (rc == 0)
		rc = make(&adm, n0->id, PROTO_KIND_ADMISSION, hex, seq, body.data, body.len);
	ok(rc == 0, "membership: node 0 signs an admission of the outsider");
	memcpy(blocks[0].author, x->pk, PROTO_KEY_LEN);
	blocks[0].after = 0;
	blocks[0].first = 0;
	blocks[0].n_records = 2;
	memcpy(blocks[1].author, n0->id->pk, PROTO_KEY_LEN);
	blocks[1].after = 0;
	blocks[1].first = 2;
	blocks[1].n_records = 1;
	refs[0] = (struct proto_recref){xr[0].data, xr[0].len};
	refs[1] = (struct proto_recref){xr[1].data, xr[1].len};
	refs[2] = (struct proto_recref){adm.data, adm.len};
	rc = proto_records_encode(&msg, blocks, 2, refs);
	if (rc == 0)
		rc =
		    gossip_on_message(n1->gossip, n2->id->pk, PROTO_MSG_RECORDS, msg.data, msg.len);
	is(rc, 0, "membership: [outsider, admission] applied");
	is(head(n1, x->pk), 2, "membership: the outsider's block is stored on the second pass");
	is(stats(n1).rej_nonmember, 0, "membership: nothing counted as refused");
	is(stats(n1).records_stored, 3, "membership: three records stored");

	/* Through the network: node 2 learns the admission, then the records. */
	gossip_publish(n0->gossip, adm.data, adm.len);
	store_records_put(n0->store,
	                  (struct store_item[]){{.buf = xr[0].data, .len = xr[0].len},
	                                        {.buf = xr[1].data, .len = xr[1].len}},
	                  2, wall());
	net_start();
	{
		struct want w = {x->pk, 2, NODES_MAX};
		ok(run_until(all_have, &w), "membership: the admitted outsider's records spread");
	}
	is(net.bad, 0, "membership: no malformed message");
out:
	for (int i = 0; i < 2; i++)
		mp_buf_free(&xr[i]);
	mp_buf_free(&adm);
	mp_buf_free(&body);
	mp_buf_free(&msg);
	proto_identity_free(&x);
	net_down();
}

/* Node 0 serves an outsider's records it accepts; the others refuse them
 * until they learn the admission. */
static void test_nonmember(void)
{
	struct proto_identity *x = NULL;
	struct mp_buf r = {0}, adm = {0}, body = {0};
	struct proto_admission a;
	char hex[2 * PROTO_KEY_LEN + 1];
	struct want w;
	uint64_t seq;
	int rc;

	if (!ok(net_up(3, 2) == 0, "non-member: three nodes up") ||
	    !ok(proto_identity_generate(&x) == 0, "non-member: an outsider"))
		goto out;
	rc = make(&r, x, PROTO_KIND_SERVICE, "x", 1, NULL, 80);
	if (rc == 0)
		rc = store_record_put(net.nodes[0].store, r.data, r.len, wall(), NULL);
	ok(rc == 0, "non-member: node 0 holds a record of the outsider");
	net_start();
	run_for(300);
	is(stats(&net.nodes[1]).rej_nonmember + stats(&net.nodes[2]).rej_nonmember, 0,
	   "non-member: records of an author we do not accept are not offered");
	member_add(&net.nodes[0], x->pk);
	run_for(400);
	is(head(&net.nodes[1], x->pk) + head(&net.nodes[2], x->pk), 0,
	   "non-member: the others do not store it");
	ok(stats(&net.nodes[1]).rej_nonmember + stats(&net.nodes[2]).rej_nonmember > 0,
	   "non-member: they count it as refused");

	memset(&a, 0, sizeof(a));
	memcpy(a.subject, x->pk, PROTO_KEY_LEN);
	sodium_bin2hex(hex, sizeof(hex), x->pk, PROTO_KEY_LEN);
	rc = store_seq_reserve(net.nodes[0].store, 1, &seq);
	if (rc == 0)
		rc = proto_admission_encode(&body, &a);
	if (rc == 0)
		rc = make(&adm, net.nodes[0].id, PROTO_KIND_ADMISSION, hex, seq, body.data,
		          body.len);
	if (rc == 0)
		rc = gossip_publish(net.nodes[0].gossip, adm.data, adm.len);
	is(rc, 0, "non-member: node 0 publishes an admission");
	w = (struct want){x->pk, 1, NODES_MAX};
	ok(run_until(all_have, &w), "non-member: once a member, its record reaches every node");
	is(net.bad, 0, "non-member: no malformed message");
out:
	mp_buf_free(&r);
	mp_buf_free(&adm);
	mp_buf_free(&body);
	proto_identity_free(&x);
	net_down();
}

static bool node2_has3(void *arg)
{
	const uint8_t *author = arg;
	return head(&net.nodes[2], author) >= 3;
}

/* A forged record in the middle of a block, a replay, a block after a seq
 * not held, and malformed messages. */
static void test_forged(void)
{
	struct mp_buf r[4] = {{0}};
	struct node *n0, *n1, *n2;
	struct gossip_stats before;
	uint8_t *got = NULL;
	size_t got_len = 0;
	uint64_t seq;
	bool made = true;

	if (!ok(net_up(3, 0) == 0, "forged: three nodes up"))
		return;
	n0 = &net.nodes[0];
	n1 = &net.nodes[1];
	n2 = &net.nodes[2];
	for (int i = 0; i < 3; i++) {
		char name[8];
		snprintf(name, sizeof(name), "r%d", i + 1);
		made &= store_seq_reserve(n0->store, 1, &seq) == 0 &&
		        make(&r[i], n0->id, PROTO_KIND_SERVICE, name, seq, NULL, 60) == 0 &&
		        store_record_put(n0->store, r[i].data, r[i].len, wall(), NULL) == 0;
	}
	ok(made && seq == 3, "forged: node 0 holds r1, r2, r3 (pushed nowhere)");

	/* r2 with one bit of its signature flipped, sent by node 1. */
	r[3].data = malloc(r[1].len);
	if (!r[3].data)
		goto out;
	memcpy(r[3].data, r[1].data, r[1].len);
	r[3].len = r[3].cap = r[1].len;
	r[3].data[r[3].len - 1] ^= 1;
	{
		struct mp_buf blk[3] = {r[0], r[3], r[2]};
		is(hand_deliver(n2, n1, n0->id->pk, 0, blk, 3), 0,
		   "forged: a block with a forged record is no error");
	}
	is(head(n2, n0->id->pk), 1, "forged: r1 stored, the block stopped at the forged r2");
	is(stats(n2).rej_signature, 1, "forged: counted as a bad signature");
	is(count(n2), 1, "forged: r3 after it not stored");

	net_start();
	ok(run_until(node2_has3, n0->id->pk), "forged: anti-entropy brings the genuine r2 and r3");
	ok(store_record_get(n2->store, n0->id->pk, PROTO_KIND_SERVICE, "r2", &got, &got_len) == 0 &&
	       got_len == r[1].len && !memcmp(got, r[1].data, got_len),
	   "forged: node 2 holds the genuine r2");
	free(got);

	before = stats(n2);
	is(hand_deliver(n2, n1, n0->id->pk, 0, r, 2), 0, "replay: r1, r2 again is no error");
	is(stats(n2).stale - before.stale, 2, "replay: both are stale");
	is(stats(n2).records_stored, before.records_stored, "replay: nothing stored");
	is(stats(n2).rej_invalid + stats(n2).rej_signature, before.rej_invalid + 1,
	   "replay: nothing refused");

	/* A record at seq 6 in a block after 5, when node 2 holds up to 3. */
	made = store_seq_reserve(n0->store, 3, &seq) == 0 &&
	       make(&r[3], n0->id, PROTO_KIND_SERVICE, "r6", seq + 2, NULL, 60) == 0;
	before = stats(n2);
	ok(made && hand_deliver(n2, n1, n0->id->pk, seq + 1, &r[3], 1) == 0,
	   "gap: a block after a seq not held is no error");
	is(stats(n2).blocks_skipped - before.blocks_skipped, 1, "gap: the block is skipped");
	is(head(n2, n0->id->pk), 3, "gap: nothing stored");

	/* A seq not above the block's after, and another author's record. */
	before = stats(n2);
	hand_deliver(n2, n1, n0->id->pk, 5, &r[3], 1);
	is(head(n2, n0->id->pk), 3, "order: a record at or under after is not stored");
	hand_deliver(n2, n1, n1->id->pk, 0, &r[3], 1);
	is(stats(n2).rej_invalid - before.rej_invalid, 1,
	   "order: another author's record in a block is refused");

	{
		static const uint8_t junk[] = {0x92, 0x07, 0x81, 0x01, 0xc1};
		ok(gossip_on_message(n2->gossip, n1->id->pk, PROTO_MSG_RECORDS, junk,
		                     sizeof(junk)) < 0,
		   "malformed: a broken RECORDS is a decode error");
		ok(gossip_on_message(n2->gossip, n1->id->pk, PROTO_MSG_SYNC, junk, sizeof(junk)) <
		       0,
		   "malformed: a broken SYNC is a decode error");
	}
out:
	for (int i = 0; i < 4; i++)
		mp_buf_free(&r[i]);
	net_down();
}

/* Expired and future records inside a block, and two blocks of one
 * author in one message. */
static void test_block_rules(void)
{
	struct proto_identity *c = NULL;
	struct mp_buf r[5] = {{0}}, cr[2] = {{0}}, msg = {0};
	struct proto_block blocks[2];
	struct proto_recref refs[2];
	struct node *n0, *n1;
	uint64_t now = wall();
	bool made;
	int rc;

	if (!ok(net_up(2, 0) == 0, "rules: two nodes up") ||
	    !ok(proto_identity_generate(&c) == 0, "rules: a third author"))
		goto out;
	n0 = &net.nodes[0];
	n1 = &net.nodes[1];
	n1->open = true;
	made = make(&r[0], n0->id, PROTO_KIND_SERVICE, "a1", 1, NULL, 40) == 0 &&
	       make_at(&r[1], n0->id, PROTO_KIND_SERVICE, "a2", 2, now - 3 * 86400, now - 2 * 86400,
	               NULL, 40) == 0 &&
	       make(&r[2], n0->id, PROTO_KIND_SERVICE, "a3", 3, NULL, 40) == 0 &&
	       make_at(&r[3], n0->id, PROTO_KIND_SERVICE, "a4", 4, now + 86400, now + 2 * 86400,
	               NULL, 40) == 0 &&
	       make(&r[4], n0->id, PROTO_KIND_SERVICE, "a5", 5, NULL, 40) == 0;
	ok(made, "rules: a1, a2 expired, a3, a4 from the future, a5");
	is(hand_deliver(n1, n0, n0->id->pk, 0, r, 5), 0, "rules: the block is no error");
	is(head(n1, n0->id->pk), 3, "rules: an expired record is passed, a future one stops");
	is(count(n1), 2, "rules: a1 and a3 stored");
	is(stats(n1).rej_invalid, 2, "rules: both counted as invalid");

	made = make(&cr[0], c, PROTO_KIND_SERVICE, "c1", 1, NULL, 40) == 0 &&
	       make(&cr[1], c, PROTO_KIND_SERVICE, "c2", 2, NULL, 40) == 0;
	for (int i = 0; i < 2; i++) {
		memcpy(blocks[i].author, c->pk, PROTO_KEY_LEN);
		blocks[i].after = (uint64_t)i;
		blocks[i].first = (uint32_t)i;
		blocks[i].n_records = 1;
		refs[i] = (struct proto_recref){cr[i].data, cr[i].len};
	}
	rc = made ? proto_records_encode(&msg, blocks, 2, refs) : -1;
	if (rc == 0)
		rc =
		    gossip_on_message(n1->gossip, n0->id->pk, PROTO_MSG_RECORDS, msg.data, msg.len);
	is(rc, 0, "rules: [c after 0: c1], [c after 1: c2] in one message");
	is(head(n1, c->pk), 2, "rules: the second block sees the head the first one left");
	is(stats(n1).blocks_skipped, 0, "rules: no block skipped");
out:
	for (int i = 0; i < 5; i++)
		mp_buf_free(&r[i]);
	mp_buf_free(&cr[0]);
	mp_buf_free(&cr[1]);
	mp_buf_free(&msg);
	proto_identity_free(&c);
	net_down();
}

static bool node1_has_b(void *arg)
{
	const uint8_t *b = arg;
	return head(&net.nodes[1], b) >= 1;
}

/* A record too big for max_message is never sent, nor what follows it in
 * its author's order; the rest still is. */
static void test_too_big(void)
{
	struct proto_identity *a = NULL, *b = NULL;
	struct mp_buf r = {0};
	struct node *n0, *n1;
	bool made = true;
	const size_t sizes[3] = {50, 600, 50};

	if (!ok(net_up(2, 1) == 0, "too big: two nodes up") ||
	    !ok(proto_identity_generate(&a) == 0 && proto_identity_generate(&b) == 0,
	        "too big: two authors"))
		goto out;
	n0 = &net.nodes[0];
	n1 = &net.nodes[1];
	for (size_t i = 0; i < 2; i++) {
		net.nodes[i].open = true;
		net.nodes[i].conf.max_message = 496;
	}
	for (size_t i = 0; i < 3; i++) {
		char name[8];
		snprintf(name, sizeof(name), "a%zu", i + 1);
		made &= make(&r, a, PROTO_KIND_SERVICE, name, i + 1, NULL, sizes[i]) == 0 &&
		        store_record_put(n0->store, r.data, r.len, wall(), NULL) == 0;
	}
	made &= make(&r, b, PROTO_KIND_SERVICE, "b1", 1, NULL, 50) == 0 &&
	        store_record_put(n0->store, r.data, r.len, wall(), NULL) == 0;
	ok(made, "too big: node 0 holds a1, a2 (600 bytes), a3 and b1");
	is(publish(n0, "big", 600), 1, "too big: publishing a big record stores it");
	net_start();
	ok(run_until(node1_has_b, b->pk), "too big: b1 arrives");
	run_for(300);
	is(head(n1, a->pk), 1, "too big: a1 arrives, a2 and a3 after it do not");
	is(head(n1, n0->id->pk), 0, "too big: the big published record was not pushed");
	is(net.oversized + net.bad, 0, "too big: no message over max_message");
out:
	mp_buf_free(&r);
	proto_identity_free(&a);
	proto_identity_free(&b);
	net_down();
}

/* 25 authors and room for 10 digest entries per message: successive
 * digests cover them all, and every message stays under max_message. */
static void test_digest_rotation(void)
{
	enum { AUTHORS = 25 };
	struct proto_identity *ids[AUTHORS] = {0};
	struct mp_buf r = {0};
	struct node *n0, *n1;
	bool made = true;

	if (!ok(net_up(2, 0) == 0, "rotation: two nodes up"))
		return;
	n0 = &net.nodes[0];
	n1 = &net.nodes[1];
	for (size_t i = 0; i < 2; i++) {
		net.nodes[i].open = true;
		net.nodes[i].conf.max_message = 16 + 48 * 10;
	}
	for (int i = 0; i < AUTHORS; i++)
		made &= proto_identity_generate(&ids[i]) == 0 &&
		        make(&r, ids[i], PROTO_KIND_SERVICE, "a", 1, NULL, 200) == 0 &&
		        store_record_put(n0->store, r.data, r.len, wall(), NULL) == 0;
	ok(made, "rotation: node 0 holds records of 25 authors");

	net.watch_digests = true;
	net.digest_cap = 10;
	for (int i = 0; i < 3; i++)
		gossip_sync_with(n0->gossip, n1->id->pk);
	is(net.digests, 3, "rotation: three digests sent");
	is(net.digest_over, 0, "rotation: none over 10 entries");
	is(net.n_seen, AUTHORS, "rotation: together they name every author");

	net_start();
	ok(run_until(same_count, NULL), "rotation: node 1 gets every record, 200-byte ones");
	ok(n1->largest_records <= 16 + 48 * 10, "rotation: no RECORDS over max_message");
	is(net.oversized + net.bad, 0, "rotation: no oversized or malformed message");
	for (int i = 0; i < AUTHORS; i++)
		proto_identity_free(&ids[i]);
	mp_buf_free(&r);
	net_down();
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	log_init("test_gossip", LOG_LEVEL_ERROR, false);
	test_push();
	test_anti_entropy();
	test_over_budget();
	catch_up("catch-up", 2, 256 * 1024, 30, 100);
	catch_up("catch-up, 4 KiB budget", 0, 4096, 60, 300);
	test_membership();
	test_nonmember();
	test_forged();
	test_block_rules();
	test_too_big();
	test_digest_rotation();
	return tap_done();
}
