/* Membership over a simulated network: N members in one process share one
 * loop; ops->send encodes each message, decodes it again (so nothing the
 * module builds would be refused on the wire) and delivers the copy to the
 * destination's member_on_message() after 1 to 3 ms through a loop timer.
 * The network can kill a node (its traffic is dropped and its module
 * freed), drop the ACKs a node sends or every hello (a PING without a
 * target), and cut the nodes into groups that do not hear each other. Timings are the lan profile's
 * with faster intervals (probe 100 ms, timeout 40 ms, gossip 20 ms); every wait is bounded in time
 * and in turns of the loop. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "agent/core/conf.h"
#include "agent/core/log.h"
#include "agent/core/loop.h"
#include "agent/member/member.h"
#include "proto/identity.h"
#include "proto/wire.h"
#include "tap.h"

#define NODES_MAX 10
#define TYPES 8
#define TURNS_MAX 200000

struct sim;

struct node {
	struct sim *sim;
	int idx;
	struct proto_identity *id;
	struct member *m;
	bool up;
	/* When (loop_clock_ms) this node last heard that another changed
	 * to a state, through ops->changed; 0: never. */
	uint64_t seen_ms[NODES_MAX][PROTO_STATE_LEFT + 1];
};

struct packet {
	struct loop_timer timer;
	struct packet *next;
	struct packet **pprev;
	struct sim *sim;
	int from, to;
	uint8_t type;
	struct proto_probe msg;
};

struct sim {
	struct loop *loop;
	struct conf conf;
	int n;
	struct node nodes[NODES_MAX];
	int group[NODES_MAX];      /* only nodes of one group hear each other */
	bool drop_acks[NODES_MAX]; /* ACKs this node sends are lost */
	bool drop_hellos;          /* PINGs without a target are lost */
	uint64_t sent[NODES_MAX][NODES_MAX][TYPES];
	uint64_t alive_about[NODES_MAX]; /* alive updates sent about each node */
	uint64_t alive_sent[NODES_MAX][NODES_MAX][NODES_MAX]; /* [from][to][about] */
	uint64_t wire_errors;                                 /* messages the codec refused */
	uint64_t to_strangers;
	struct packet *inflight;
};

static int node_of(const struct sim *s, const uint8_t key[PROTO_KEY_LEN])
{
	for (int i = 0; i < s->n; i++)
		if (!memcmp(s->nodes[i].id->pk, key, PROTO_KEY_LEN))
			return i;
	return -1;
}

static void packet_unlink(struct packet *p)
{
	*p->pprev = p->next;
	if (p->next)
		p->next->pprev = p->pprev;
}

static bool can_hear(const struct sim *s, int from, int to)
{
	return s->nodes[from].up && s->nodes[to].up && s->group[from] == s->group[to];
}

static void deliver(struct loop *l, void *arg)
{
	struct packet *p = arg;
	struct sim *s = p->sim;

	(void)l;
	packet_unlink(p);
	if (can_hear(s, p->from, p->to))
		member_on_message(s->nodes[p->to].m, s->nodes[p->from].id->pk, p->type, &p->msg);
	free(p);
}

static void sim_send(void *arg, const uint8_t peer[PROTO_KEY_LEN], uint8_t type,
                     const struct proto_probe *msg)
{
	struct node *src = arg;
	struct sim *s = src->sim;
	int to = node_of(s, peer);
	struct mp_buf buf = {0};
	struct packet *p;
	uint8_t got_type = 0;

	if (to < 0) {
		s->to_strangers++;
		return;
	}
	if (type < TYPES)
		s->sent[src->idx][to][type]++;
	for (uint32_t i = 0; i < msg->n_updates && i < PROTO_UPDATES_MAX; i++) {
		int about = node_of(s, msg->updates[i].peer);
		if (about >= 0 && msg->updates[i].state == PROTO_STATE_ALIVE) {
			s->alive_about[about]++;
			s->alive_sent[src->idx][to][about]++;
		}
	}
	p = calloc(1, sizeof(*p));
	if (!p || proto_probe_encode(&buf, type, msg) ||
	    proto_probe_decode(&p->msg, &got_type, buf.data, buf.len) || got_type != type) {
		s->wire_errors++;
		free(p);
		mp_buf_free(&buf);
		return;
	}
	mp_buf_free(&buf);
	if (!can_hear(s, src->idx, to) || (type == PROTO_MSG_ACK && s->drop_acks[src->idx]) ||
	    (type == PROTO_MSG_PING && !msg->has_target && s->drop_hellos)) {
		free(p);
		return;
	}
	p->sim = s;
	p->from = src->idx;
	p->to = to;
	p->type = type;
	p->next = s->inflight;
	p->pprev = &s->inflight;
	if (s->inflight)
		s->inflight->pprev = &p->next;
	s->inflight = p;
	loop_timer_init(&p->timer, deliver, p);
	loop_timer_start(s->loop, &p->timer, 1 + randombytes_uniform(3));
}

static void sim_changed(void *arg, const uint8_t peer[PROTO_KEY_LEN], enum proto_member_state state)
{
	struct node *n = arg;
	int who = node_of(n->sim, peer);

	if (who >= 0 && state >= PROTO_STATE_ALIVE && state <= PROTO_STATE_LEFT)
		n->seen_ms[who][state] = loop_clock_ms();
}

static const struct member_ops sim_ops = {.send = sim_send, .changed = sim_changed};

static int node_start(struct sim *s, int i, uint64_t incarnation)
{
	struct node *n = &s->nodes[i];
	int err = member_new(&n->m, s->loop, n->id, &s->conf, incarnation, &sim_ops, n);

	for (int j = 0; j < s->n && !err; j++)
		if (j != i)
			err = member_add(n->m, s->nodes[j].id->pk);
	memset(n->seen_ms, 0, sizeof(n->seen_ms));
	n->up = true;
	if (!err)
		err = member_start(n->m);
	return err;
}

static void node_kill(struct sim *s, int i)
{
	s->nodes[i].up = false;
	member_free(&s->nodes[i].m);
}

static int sim_new(struct sim *s, int n)
{
	int err = 0;

	memset(s, 0, sizeof(*s));
	s->n = n;
	conf_defaults(&s->conf, CONF_PROFILE_LAN);
	s->conf.probe_interval_ms = 100;
	s->conf.probe_timeout_ms = 40;
	s->conf.gossip_interval_ms = 20;
	if (loop_new(&s->loop))
		return -ENOMEM;
	for (int i = 0; i < n && !err; i++) {
		s->nodes[i].sim = s;
		s->nodes[i].idx = i;
		err = proto_identity_generate(&s->nodes[i].id);
	}
	for (int i = 0; i < n && !err; i++)
		err = node_start(s, i, 1);
	return err;
}

static void sim_free(struct sim *s)
{
	for (int i = 0; i < s->n; i++) {
		member_free(&s->nodes[i].m);
		proto_identity_free(&s->nodes[i].id);
	}
	while (s->inflight) {
		struct packet *p = s->inflight;
		packet_unlink(p);
		loop_timer_stop(s->loop, &p->timer);
		free(p);
	}
	loop_free(&s->loop);
}

/* Runs the loop until pred holds (true) or ms pass (false). */
static bool run_until(struct sim *s, bool (*pred)(struct sim *s, const void *arg), const void *arg,
                      uint64_t ms)
{
	uint64_t until = loop_clock_ms() + ms;

	for (int turn = 0; turn < TURNS_MAX; turn++) {
		if (pred && pred(s, arg))
			return true;
		if (loop_clock_ms() >= until)
			return false;
		loop_once(s->loop, 5);
	}
	return false;
}

static void run_for(struct sim *s, uint64_t ms)
{
	run_until(s, NULL, NULL, ms);
}

/* ---- what the nodes think ---- */

struct view {
	int subject;
	enum proto_member_state state;
	uint64_t min_incarnation;
};

/* Every node up (but the subject) holds the subject in v's state. */
static bool all_see(struct sim *s, const void *arg)
{
	const struct view *v = arg;

	for (int i = 0; i < s->n; i++) {
		struct member_info info;
		if (i == v->subject || !s->nodes[i].up)
			continue;
		if (member_get(s->nodes[i].m, s->nodes[v->subject].id->pk, &info) ||
		    info.state != v->state || info.incarnation < v->min_incarnation)
			return false;
	}
	return true;
}

/* Every node up holds every other node up alive at an incarnation >= the
 * one given. */
static bool all_alive(struct sim *s, const void *arg)
{
	const uint64_t *min_inc = arg;

	for (int j = 0; j < s->n; j++) {
		struct view v = {j, PROTO_STATE_ALIVE, min_inc ? *min_inc : 0};
		if (s->nodes[j].up && !all_see(s, &v))
			return false;
	}
	return true;
}

/* Every node of group a holds every node of group b in state. */
static bool group_sees(struct sim *s, int a, int b, enum proto_member_state state)
{
	for (int i = 0; i < s->n; i++) {
		if (s->group[i] != a)
			continue;
		for (int j = 0; j < s->n; j++) {
			struct member_info info;
			if (s->group[j] != b || j == i)
				continue;
			if (member_get(s->nodes[i].m, s->nodes[j].id->pk, &info) ||
			    info.state != state)
				return false;
		}
	}
	return true;
}

static bool partition_dead(struct sim *s, const void *arg)
{
	(void)arg;
	return group_sees(s, 0, 1, PROTO_STATE_DEAD) && group_sees(s, 1, 0, PROTO_STATE_DEAD);
}

static struct member_stats stats_of(struct sim *s, int i)
{
	struct member_stats st;

	member_get_stats(s->nodes[i].m, &st);
	return st;
}

static uint64_t sum_sent(struct sim *s, int type)
{
	uint64_t sum = 0;

	for (int i = 0; i < s->n; i++)
		for (int j = 0; j < s->n; j++)
			sum += s->sent[i][j][type];
	return sum;
}

/* ---- cases ---- */

static void test_converge(struct sim *s)
{
	uint64_t one = 1, gossip;
	uint64_t probes = 0, acks = 0, suspicions = 0, max_health = 0;
	bool ok_all = run_until(s, all_alive, &one, 2000);

	ok(ok_all, "10 nodes: everyone holds everyone alive at the announced incarnation");
	run_for(s, 1000);
	ok(all_alive(s, &one), "still all alive after a second of probing");
	for (int i = 0; i < s->n; i++) {
		struct member_stats st = stats_of(s, i);
		probes += st.probes;
		acks += st.acks;
		suspicions += st.suspicions;
		if (st.health > max_health)
			max_health = st.health;
	}
	ok(probes >= 10 * 8, "every node probes about once per interval");
	ok(acks + 10 >= probes, "nearly every probe is acked");
	is(suspicions, 0, "no suspicion in a healthy network");
	is(max_health, 0, "local health stays perfect");
	/* The queue drains: after the announcements went out
	 * retransmit_mult * ceil(log10(N + 1)) times, gossip stops. */
	gossip = sum_sent(s, PROTO_MSG_GOSSIP);
	run_for(s, 300);
	is(sum_sent(s, PROTO_MSG_GOSSIP) - gossip, 0, "no gossip once the queue is empty");
	is(s->wire_errors, 0, "every message passes the codec");
}

static bool refuted(struct sim *s, const void *arg)
{
	const int *who = arg;
	struct view v = {*who, PROTO_STATE_ALIVE, 2};

	return stats_of(s, *who).refutations > 0 && all_see(s, &v);
}

static void test_false_suspicion(struct sim *s)
{
	int x = 3;
	uint64_t suspected = 0, dead = 0;
	struct view alive = {x, PROTO_STATE_ALIVE, 2};
	struct member_info info;

	/* x's answers are lost for a while: the others suspect it, it hears
	 * so (gossip and buddy updates still reach it) and refutes. */
	s->drop_acks[x] = true;
	run_for(s, 600);
	s->drop_acks[x] = false;
	ok(run_until(s, refuted, &x, 3000), "the suspected node refutes");
	for (int i = 0; i < s->n; i++) {
		if (i == x)
			continue;
		suspected += stats_of(s, i).suspicions > 0;
		dead += s->nodes[i].seen_ms[x][PROTO_STATE_DEAD] != 0;
	}
	ok(suspected > 0, "some node suspected it");
	/* Past the longest suspicion (6 x 400 ms): none turned into a death. */
	run_for(s, 2600);
	ok(all_see(s, &alive), "everyone holds it alive at a higher incarnation");
	for (int i = 0; i < s->n; i++)
		if (i != x)
			dead += s->nodes[i].seen_ms[x][PROTO_STATE_DEAD] != 0;
	is(dead, 0, "nobody declared it dead");
	member_get(s->nodes[x].m, s->nodes[x].id->pk, &info);
	ok(info.self && info.incarnation >= 2, "its own incarnation went up");
	printf("# refuted up to incarnation %llu\n", (unsigned long long)info.incarnation);
}

static void test_kill_and_restart(struct sim *s)
{
	int x = 4;
	struct view dead = {x, PROTO_STATE_DEAD, 0}, back = {x, PROTO_STATE_ALIVE, 5};
	/* One pass of probes (9 intervals), the failed one, the longest
	 * suspicion (suspicion_max_mult x 4 x 100 ms), and room for gossip. */
	uint64_t bound = 9 * 100 + 100 + 6 * 4 * 100 + 600;
	uint64_t t0 = loop_clock_ms(), took, max_health = 0;
	int order_ok = 0;
	bool ok_dead;

	node_kill(s, x);
	ok_dead = run_until(s, all_see, &dead, bound);
	took = loop_clock_ms() - t0;
	ok(ok_dead, "a killed node is dead everywhere within the bound");
	printf("# dead everywhere after %llu ms (bound %llu)\n", (unsigned long long)took,
	       (unsigned long long)bound);
	for (int i = 0; i < s->n; i++) {
		const uint64_t *seen = s->nodes[i].seen_ms[x];
		if (i == x)
			continue;
		order_ok += seen[PROTO_STATE_SUSPECT] && seen[PROTO_STATE_DEAD] &&
		            seen[PROTO_STATE_SUSPECT] <= seen[PROTO_STATE_DEAD];
		if (stats_of(s, i).health > max_health)
			max_health = stats_of(s, i).health;
	}
	is(order_ok, 9, "each of the 9 others held it suspect, then dead");
	ok(max_health <= 1, "the NACKs of the helpers spare the prober's health");

	/* Back with a higher incarnation: its announcement beats dead(1). */
	t0 = loop_clock_ms();
	ok(node_start(s, x, 5) == 0, "restart");
	ok(run_until(s, all_see, &back, 2000), "the restarted node is alive everywhere");
	printf("# alive again everywhere after %llu ms\n",
	       (unsigned long long)(loop_clock_ms() - t0));
	ok(run_until(s, all_alive, NULL, 2000), "and it holds everyone alive");
	run_for(s, 500);
	ok(all_see(s, &back), "still alive half a second later");
}

static void test_bad_updates(struct sim *s)
{
	struct proto_identity *stranger = NULL;
	struct member_stats before, after;
	struct member_info info;
	struct proto_probe msg = {.n_updates = 1};
	struct proto_update *u = &msg.updates[0];
	const uint8_t *from = s->nodes[1].id->pk;
	struct member *m0 = s->nodes[0].m;

	member_get_stats(m0, &before);

	/* alive about node 2, incarnation 100, a flipped signature bit */
	*u = (struct proto_update){.state = PROTO_STATE_ALIVE, .incarnation = 100};
	proto_update_sign(u, s->nodes[2].id);
	u->sig[5] ^= 1;
	member_on_message(m0, from, PROTO_MSG_GOSSIP, &msg);
	member_get(m0, s->nodes[2].id->pk, &info);
	ok(info.incarnation < 100, "an alive with a bad signature is ignored");

	/* signed by node 3, claimed for node 2 */
	*u = (struct proto_update){.state = PROTO_STATE_ALIVE, .incarnation = 100};
	proto_update_sign(u, s->nodes[3].id);
	memcpy(u->peer, s->nodes[2].id->pk, PROTO_KEY_LEN);
	member_on_message(m0, from, PROTO_MSG_GOSSIP, &msg);
	member_get(m0, s->nodes[2].id->pk, &info);
	ok(info.incarnation < 100, "an alive signed by another member is ignored");

	/* a left with a bad signature */
	*u = (struct proto_update){.state = PROTO_STATE_LEFT, .incarnation = 100};
	proto_update_sign(u, s->nodes[2].id);
	u->sig[0] ^= 0x80;
	member_on_message(m0, from, PROTO_MSG_GOSSIP, &msg);
	member_get(m0, s->nodes[2].id->pk, &info);
	ok(info.state == PROTO_STATE_ALIVE, "a left with a bad signature is ignored");

	/* a correctly signed alive about a peer never added */
	ok(proto_identity_generate(&stranger) == 0, "a stranger");
	*u = (struct proto_update){.state = PROTO_STATE_ALIVE, .incarnation = 1};
	proto_update_sign(u, stranger);
	member_on_message(m0, from, PROTO_MSG_GOSSIP, &msg);
	is(member_get(m0, stranger->pk, &info), -ENOENT, "an alive about a stranger adds nobody");
	/* and a suspicion of it */
	*u = (struct proto_update){.state = PROTO_STATE_SUSPECT, .incarnation = 1};
	memcpy(u->peer, stranger->pk, PROTO_KEY_LEN);
	memcpy(u->accuser, from, PROTO_KEY_LEN);
	member_on_message(m0, from, PROTO_MSG_GOSSIP, &msg);

	member_get_stats(m0, &after);
	is(after.bad_updates - before.bad_updates, 5, "all five are counted");

	/* A valid update from a stranger's mouth is not heard either. */
	*u = (struct proto_update){.state = PROTO_STATE_ALIVE, .incarnation = 100};
	proto_update_sign(u, s->nodes[2].id);
	member_on_message(m0, stranger->pk, PROTO_MSG_GOSSIP, &msg);
	member_get(m0, s->nodes[2].id->pk, &info);
	ok(info.incarnation < 100, "a message from a stranger is ignored");
	/* The same update from a member is taken: the cases above failed for
	 * the reason they name. */
	member_on_message(m0, from, PROTO_MSG_GOSSIP, &msg);
	member_get(m0, s->nodes[2].id->pk, &info);
	is(info.incarnation, 100, "the valid alive is taken");
	member_get_stats(m0, &after);
	is(after.bad_updates - before.bad_updates, 5, "and not counted");
	proto_identity_free(&stranger);
}

static bool quiet(struct sim *s, const void *arg)
{
	static uint64_t last_gossip, since_ms;
	uint64_t now = loop_clock_ms(), gossip = sum_sent(s, PROTO_MSG_GOSSIP);

	(void)arg;
	if (gossip != last_gossip || !since_ms) {
		last_gossip = gossip;
		since_ms = now;
	}
	return now - since_ms >= 200;
}

/* A claim about us older than our incarnation: no new incarnation, but
 * our current alive goes out again for the member that missed it. */
static void test_stale_claim(struct sim *s)
{
	struct proto_probe msg = {.n_updates = 1};
	struct proto_update *u = &msg.updates[0];
	struct member_info info;
	uint64_t alive_before, refutations = stats_of(s, 0).refutations;

	ok(run_until(s, quiet, NULL, 3000), "the network goes quiet");
	alive_before = s->alive_about[0];
	*u = (struct proto_update){.state = PROTO_STATE_DEAD, .incarnation = 0};
	memcpy(u->peer, s->nodes[0].id->pk, PROTO_KEY_LEN);
	memcpy(u->accuser, s->nodes[1].id->pk, PROTO_KEY_LEN);
	member_on_message(s->nodes[0].m, s->nodes[1].id->pk, PROTO_MSG_GOSSIP, &msg);
	member_get(s->nodes[0].m, s->nodes[0].id->pk, &info);
	is(info.incarnation, 1, "a stale dead claim about us keeps our incarnation");
	is(stats_of(s, 0).refutations, refutations, "and is no refutation");
	run_for(s, 200);
	ok(s->alive_about[0] > alive_before, "but our alive goes out again");
}

static void test_left(struct sim *s)
{
	int x = 5;
	struct view left = {x, PROTO_STATE_LEFT, 0};
	uint64_t deaths = 0;

	member_leave(s->nodes[x].m);
	ok(run_until(s, all_see, &left, 1000), "a node that leaves is seen as left everywhere");
	node_kill(s, x);
	run_for(s, 1500);
	ok(all_see(s, &left), "and stays left once gone, without suspicion");
	for (int i = 0; i < s->n; i++)
		if (i != x)
			deaths += stats_of(s, i).deaths;
	is(deaths, 0, "no death counted for it");
}

static void test_remove(struct sim *s)
{
	int x = 6;
	struct member_info info;
	uint64_t pings_before, pings_to_others = 0;

	member_remove(s->nodes[0].m, s->nodes[x].id->pk);
	is(member_get(s->nodes[0].m, s->nodes[x].id->pk, &info), -ENOENT, "a removed peer is gone");
	pings_before = s->sent[0][x][PROTO_MSG_PING] + s->sent[0][x][PROTO_MSG_PING_REQ];
	for (int j = 0; j < s->n; j++)
		pings_to_others -= s->sent[0][j][PROTO_MSG_PING];
	run_for(s, 1500);
	for (int j = 0; j < s->n; j++)
		pings_to_others += s->sent[0][j][PROTO_MSG_PING];
	is(s->sent[0][x][PROTO_MSG_PING] + s->sent[0][x][PROTO_MSG_PING_REQ], pings_before,
	   "it is never probed again");
	ok(pings_to_others >= 8, "while the others still are");
	member_remove(s->nodes[0].m, s->nodes[x].id->pk);
	ok(1, "removing it twice is harmless");
}

/* Whether viewer holds every other node up (or only subject, when not
 * -1) at the incarnation that node holds itself at. */
struct fresh {
	int viewer, subject;
};

static bool knows_incarnations(struct sim *s, const void *arg)
{
	const struct fresh *f = arg;

	for (int j = 0; j < s->n; j++) {
		struct member_info theirs, mine;
		if (j == f->viewer || (f->subject >= 0 && j != f->subject) || !s->nodes[j].up)
			continue;
		if (member_get(s->nodes[j].m, s->nodes[j].id->pk, &theirs) ||
		    member_get(s->nodes[f->viewer].m, s->nodes[j].id->pk, &mine) ||
		    mine.incarnation != theirs.incarnation)
			return false;
	}
	return true;
}

/* A member that learns of others late (kithd adds them from trust
 * records, after their alive updates went round, and knows them all at
 * incarnation 0 when it starts) holds them below their incarnation, and
 * everyone else ignores its suspect and dead claims about them. The ACKs
 * of its start-up hello and of its probes carry the truth. */
static void test_late_learner(struct sim *s)
{
	int x = 2, y = 3;
	struct fresh all = {x, -1}, only_y = {x, y};
	struct member_info info;

	run_for(s, 1000); /* the queues empty: nobody repeats an alive now */
	node_kill(s, x);
	ok(node_start(s, x, 9) == 0, "restart with everyone at incarnation 0");
	ok(run_until(s, knows_incarnations, &all, 50),
	   "the ACKs of its hello bring every incarnation at once");

	member_remove(s->nodes[x].m, s->nodes[y].id->pk);
	member_add(s->nodes[x].m, s->nodes[y].id->pk);
	ok(member_get(s->nodes[x].m, s->nodes[y].id->pk, &info) == 0 && info.incarnation == 0,
	   "a member added while running is known at incarnation 0");
	ok(run_until(s, knows_incarnations, &only_y, 50),
	   "the ACK of the hello it is sent brings its incarnation");
	/* Probes bring them too: y at 0 again, and hellos lost. */
	s->drop_hellos = true;
	member_remove(s->nodes[x].m, s->nodes[y].id->pk);
	member_add(s->nodes[x].m, s->nodes[y].id->pk);
	ok(run_until(s, knows_incarnations, &only_y, 5 * 100 + 500),
	   "and so does the ACK of its first probe (a pass over 5 others)");
	s->drop_hellos = false;
}

/* A member whose view of another is behind (it missed a refutation, or
 * learnt of it late and lost the hello) makes claims about it that the
 * others ignore. The first member that hears such a claim sends it the
 * subject's newer word at once, on the ACK when the claim came on a PING,
 * rather than leaving it to the member's next probe of the subject (once a
 * pass over all members). */
static void test_stale_view(struct sim *s)
{
	int x = 4, y = 5, z = 1;
	struct fresh only_y = {x, y};
	struct proto_probe msg = {.seq = 77, .n_updates = 1};
	struct proto_update *u = &msg.updates[0];
	uint64_t word_before, gossip_before;

	run_for(s, 1000);
	s->drop_hellos = true;
	member_remove(s->nodes[x].m, s->nodes[y].id->pk);
	member_add(s->nodes[x].m, s->nodes[y].id->pk);
	*u = (struct proto_update){.state = PROTO_STATE_SUSPECT, .incarnation = 0};
	memcpy(u->peer, s->nodes[y].id->pk, PROTO_KEY_LEN);
	memcpy(u->accuser, s->nodes[x].id->pk, PROTO_KEY_LEN);
	word_before = s->alive_sent[z][x][y];
	member_on_message(s->nodes[z].m, s->nodes[x].id->pk, PROTO_MSG_GOSSIP, &msg);
	is(s->alive_sent[z][x][y], word_before + 1,
	   "stale view: a stale claim brings its sender the subject's word at once");
	ok(run_until(s, knows_incarnations, &only_y, 30),
	   "stale view: and with it the incarnation");

	member_remove(s->nodes[x].m, s->nodes[y].id->pk);
	member_add(s->nodes[x].m, s->nodes[y].id->pk);
	word_before = s->alive_sent[z][x][y];
	gossip_before = s->sent[z][x][PROTO_MSG_GOSSIP];
	member_on_message(s->nodes[z].m, s->nodes[x].id->pk, PROTO_MSG_PING, &msg);
	is(s->alive_sent[z][x][y], word_before + 1,
	   "stale view: on a PING, the word rides the ACK");
	is(s->sent[z][x][PROTO_MSG_GOSSIP], gossip_before, "stale view: and no GOSSIP besides");
	u->incarnation = 99;
	word_before = s->alive_sent[z][x][y];
	member_on_message(s->nodes[z].m, s->nodes[x].id->pk, PROTO_MSG_GOSSIP, &msg);
	is(s->alive_sent[z][x][y], word_before, "stale view: a claim not behind gets no answer");
	s->drop_hellos = false;
}

/* A member we suspect that sends us anything is up: it hears our claim
 * at once (not at our next probe of it, once a pass), refutes, and the
 * refutation comes straight back. */
static void test_suspect_speaks(struct sim *s)
{
	int x = 0, y = 3;
	struct proto_probe msg = {.n_updates = 1}, empty = {0};
	struct proto_update *u = &msg.updates[0];
	struct member_info info;
	struct view alive = {y, PROTO_STATE_ALIVE, 0};
	uint64_t gossip_before;

	run_for(s, 1000);
	member_get(s->nodes[y].m, s->nodes[y].id->pk, &info);
	alive.min_incarnation = info.incarnation + 1;
	*u = (struct proto_update){.state = PROTO_STATE_SUSPECT, .incarnation = info.incarnation};
	memcpy(u->peer, s->nodes[y].id->pk, PROTO_KEY_LEN);
	memcpy(u->accuser, s->nodes[2].id->pk, PROTO_KEY_LEN);
	member_on_message(s->nodes[x].m, s->nodes[2].id->pk, PROTO_MSG_GOSSIP, &msg);
	ok(member_get(s->nodes[x].m, s->nodes[y].id->pk, &info) == 0 &&
	       info.state == PROTO_STATE_SUSPECT,
	   "suspect speaks: x suspects y");
	gossip_before = s->sent[x][y][PROTO_MSG_GOSSIP];
	member_on_message(s->nodes[x].m, s->nodes[y].id->pk, PROTO_MSG_GOSSIP, &empty);
	is(s->sent[x][y][PROTO_MSG_GOSSIP], gossip_before + 1,
	   "suspect speaks: a message from y gets our claim back at once");
	ok(run_until(s, all_see, &alive, 100), "suspect speaks: y refutes, everyone sees it alive");
}

static void dump(struct sim *s)
{
	for (int i = 0; i < s->n; i++) {
		struct member_stats st = stats_of(s, i);
		printf("# %d (h%u):", i, st.health);
		for (int j = 0; j < s->n; j++) {
			struct member_info info;
			member_get(s->nodes[i].m, s->nodes[j].id->pk, &info);
			printf(" %d/%llu", info.state, (unsigned long long)info.incarnation);
		}
		printf("\n");
	}
}

static void test_partition(struct sim *s)
{
	uint64_t t0 = loop_clock_ms();
	bool split, healed;

	for (int i = 0; i < s->n; i++)
		s->group[i] = i < s->n / 2 ? 0 : 1;
	split = run_until(s, partition_dead, NULL, 10000);
	ok(split, "split in two: each half holds the other dead");
	printf("# halves dead to each other after %llu ms\n",
	       (unsigned long long)(loop_clock_ms() - t0));
	for (int i = 0; i < s->n; i++)
		s->group[i] = 0;
	t0 = loop_clock_ms();
	healed = run_until(s, all_alive, NULL, 6000);
	ok(healed, "healed: everyone alive again (refuted through reconnect pings)");
	if (!healed)
		dump(s);
	printf("# alive again after %llu ms\n", (unsigned long long)(loop_clock_ms() - t0));
	is(s->wire_errors, 0, "every message passes the codec");
}

static void test_api(void)
{
	struct loop *l = NULL;
	struct proto_identity *me = NULL, *peer = NULL;
	struct member *m = NULL;
	struct conf c;
	struct member_info info;
	uint8_t picked[4][PROTO_KEY_LEN];
	struct node dummy = {0};
	struct sim s = {0};

	conf_defaults(&c, CONF_PROFILE_LAN);
	dummy.sim = &s;
	ok(loop_new(&l) == 0 && proto_identity_generate(&me) == 0 &&
	       proto_identity_generate(&peer) == 0,
	   "setup");
	s.loop = l;
	ok(member_new(&m, l, me, &c, 7, &sim_ops, &dummy) == 0, "member_new");
	ok(member_get(m, me->pk, &info) == 0 && info.self && info.incarnation == 7 &&
	       info.state == PROTO_STATE_ALIVE,
	   "we are listed, alive at our incarnation");
	is(member_pick_alive(m, picked, 4), 0, "nobody to pick but us");
	ok(member_add(m, peer->pk) == 0 && member_add(m, peer->pk) == 0, "adding twice");
	ok(member_get(m, peer->pk, &info) == 0 && info.state == PROTO_STATE_ALIVE &&
	       info.incarnation == 0 && info.last_seen == 0,
	   "a new member is alive at 0, never seen");
	ok(member_add(m, me->pk) == 0 && member_get(m, me->pk, &info) == 0 && info.self,
	   "adding ourselves changes nothing");
	is(member_pick_alive(m, picked, 4), 1, "one to pick");
	ok(!memcmp(picked[0], peer->pk, PROTO_KEY_LEN), "the peer");
	member_free(&m);
	ok(m == NULL, "member_free clears the pointer");
	member_free(&m);
	proto_identity_free(&me);
	proto_identity_free(&peer);
	loop_free(&l);
}

int main(void)
{
	struct sim s;
	uint64_t one = 1;

	if (sodium_init() < 0)
		return 1;
	log_init("test_member", LOG_LEVEL_ERROR, false);

	test_api();

	ok(sim_new(&s, 10) == 0, "10 nodes started");
	test_converge(&s);
	test_false_suspicion(&s);
	test_kill_and_restart(&s);
	sim_free(&s);

	ok(sim_new(&s, 10) == 0, "10 nodes started");
	run_until(&s, all_alive, &one, 2000);
	test_bad_updates(&s);
	test_stale_claim(&s);
	test_left(&s);
	test_remove(&s);
	sim_free(&s);

	ok(sim_new(&s, 8) == 0, "8 nodes started");
	run_until(&s, all_alive, &one, 2000);
	test_partition(&s);
	sim_free(&s);

	ok(sim_new(&s, 6) == 0, "6 nodes started");
	ok(run_until(&s, all_alive, &one, 2000), "all alive");
	test_late_learner(&s);
	test_stale_view(&s);
	test_suspect_speaks(&s);
	sim_free(&s);
	return tap_done();
}
