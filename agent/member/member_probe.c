/* Failure detection: SWIM probes with Lifeguard's local health and
 * suspicion timers, the PING_REQs we carry out for others, and the gossip
 * rounds that spread the broadcast queue.
 *
 * One probe at a time. The probe tick ends the probe in flight (no ack:
 * suspect) and starts the next, every probe_interval times the health
 * multiplier; the probe timeout, scaled the same way, sends the PING_REQs.
 * Helpers wait probe_timeout for the target before they NACK, so a probe
 * whose helpers have not all answered is given until then (plus half a
 * timeout for the way back) before it counts as failed: without that, on
 * the WAN profile (timeout 3 s, interval 5 s) every NACK would come late
 * and be held against our own health. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "proto/peerid.h"
#include "agent/core/conf.h"
#include "member_int.h"

static uint64_t scaled(const struct member *m, uint64_t ms)
{
	return ms * (m->health + 1);
}

void member_health_add(struct member *m, int delta)
{
	int64_t h = (int64_t)m->health + delta;

	if (h < 0)
		h = 0;
	if (h > MEMBER_HEALTH_MAX)
		h = MEMBER_HEALTH_MAX;
	m->health = (uint32_t)h;
}

void member_send(struct member *m, struct member_node *node, uint8_t type, struct proto_probe *msg)
{
	/* The buddy system: a member we suspect (or hold dead) hears it
	 * from us directly, and can refute at once. */
	if ((node->state == PROTO_STATE_SUSPECT || node->state == PROTO_STATE_DEAD) &&
	    msg->n_updates < PROTO_UPDATES_MAX) {
		struct proto_update *u = &msg->updates[msg->n_updates++];
		*u = (struct proto_update){.state = node->state, .incarnation = node->incarnation};
		memcpy(u->peer, node->key, PROTO_KEY_LEN);
		memcpy(u->accuser, m->self->key, PROTO_KEY_LEN);
	}
	/* An ACK says who we are: our signed alive at our incarnation. A
	 * member learns of others from trust records, often after their
	 * alive went round, or starts with all of them at incarnation 0, and
	 * would otherwise keep a view below the truth, whose suspect and dead
	 * claims everyone else ignores (memberlist heals this by push-pull).
	 * Costs the prober nothing when its view is current. */
	if (type == PROTO_MSG_ACK && m->has_self_word && msg->n_updates < PROTO_UPDATES_MAX)
		msg->updates[msg->n_updates++] = m->self_word;
	member_queue_fill(m, msg);
	m->ops->send(m->arg, node->key, type, msg);
}

static void send_ping(struct member *m, struct member_node *node, uint32_t seq)
{
	struct proto_probe ping = {.seq = seq, .has_target = true};

	memcpy(ping.target, node->key, PROTO_KEY_LEN);
	member_send(m, node, PROTO_MSG_PING, &ping);
}

/* ---- suspicion (Lifeguard) ---- */

/* memberlist's suspicionTimeout: mult * max(1, log10(N)) * interval. */
static uint64_t suspicion_min_ms(const struct member *m)
{
	double n = (double)member_count(m);
	double scale = n > 10.0 ? log10(n) : 1.0;

	return (uint64_t)((double)m->conf->suspicion_mult * scale *
	                  (double)m->conf->probe_interval_ms);
}

/* The timeout after c of k confirmations: from max down to min, fast at
 * first (logarithmic), as memberlist's remainingSuspicionTime. */
static uint64_t suspicion_timeout_ms(const struct member_node *node)
{
	double min = (double)node->suspect_min_ms, max = (double)node->suspect_max_ms;
	double frac, t;

	if (node->suspect_k == 0)
		return node->suspect_min_ms;
	frac = log((double)node->suspect_n + 1.0) / log((double)node->suspect_k + 1.0);
	t = floor(max - frac * (max - min));
	return t < min ? node->suspect_min_ms : (uint64_t)t;
}

static void suspicion_expired(struct loop *l, void *arg)
{
	struct member_node *node = arg;
	struct member *m = node->m;
	struct proto_update dead = {.state = PROTO_STATE_DEAD, .incarnation = node->incarnation};

	(void)l;
	free(node->accusers);
	node->accusers = NULL;
	if (node->state != PROTO_STATE_SUSPECT)
		return;
	memcpy(dead.peer, node->key, PROTO_KEY_LEN);
	memcpy(dead.accuser, m->self->key, PROTO_KEY_LEN);
	member_apply(m, &dead);
}

void member_suspicion_start(struct member *m, struct member_node *node,
                            const uint8_t accuser[PROTO_KEY_LEN])
{
	size_t n = member_count(m);
	/* Confirmations we can hope for: memberlist's suspicionMult - 2, and
	 * none when too few others (not us, not the suspect) could send
	 * them. */
	uint32_t k = m->conf->suspicion_mult > 2 ? m->conf->suspicion_mult - 2 : 0;

	if (n < 2 || n - 2 < k)
		k = 0;
	member_suspicion_stop(m, node);
	node->accusers = calloc((size_t)k + 1, PROTO_KEY_LEN);
	if (!node->accusers)
		k = 0;
	else
		memcpy(node->accusers[0], accuser, PROTO_KEY_LEN);
	node->suspect_k = k;
	node->suspect_n = 0;
	node->suspect_start_ms = loop_now_ms(m->loop);
	node->suspect_min_ms = suspicion_min_ms(m);
	node->suspect_max_ms = node->suspect_min_ms * m->conf->suspicion_max_mult;
	loop_timer_init(&node->suspicion, suspicion_expired, node);
	loop_timer_start(m->loop, &node->suspicion,
	                 k ? node->suspect_max_ms : node->suspect_min_ms);
}

bool member_suspicion_confirm(struct member *m, struct member_node *node,
                              const uint8_t accuser[PROTO_KEY_LEN])
{
	uint64_t elapsed, timeout;

	if (!loop_timer_active(&node->suspicion) || !node->accusers ||
	    node->suspect_n >= node->suspect_k)
		return false;
	for (uint32_t i = 0; i <= node->suspect_n; i++)
		if (!memcmp(node->accusers[i], accuser, PROTO_KEY_LEN))
			return false;
	memcpy(node->accusers[++node->suspect_n], accuser, PROTO_KEY_LEN);
	elapsed = loop_now_ms(m->loop) - node->suspect_start_ms;
	timeout = suspicion_timeout_ms(node);
	loop_timer_start(m->loop, &node->suspicion, timeout > elapsed ? timeout - elapsed : 0);
	return true;
}

void member_suspicion_stop(struct member *m, struct member_node *node)
{
	loop_timer_stop(m->loop, &node->suspicion);
	free(node->accusers);
	node->accusers = NULL;
	node->suspect_k = node->suspect_n = 0;
}

/* ---- our probes ---- */

static bool is_helper(const struct member *m, const struct member_node *node, const void *target)
{
	(void)m;
	return node->state == PROTO_STATE_ALIVE && memcmp(node->key, target, PROTO_KEY_LEN) != 0;
}

static bool is_dead(const struct member *m, const struct member_node *node, const void *arg)
{
	(void)m;
	(void)arg;
	return node->state == PROTO_STATE_DEAD;
}

/* Once per pass, one member we hold dead hears from us, with the claim
 * (buddy update) it needs to refute: after a partition both sides hold
 * the other dead and nobody would probe or gossip across any more.
 * memberlist heals this with its push-pull sync, Serf with reconnects. */
static void reconnect(struct member *m)
{
	struct member_node *dead;

	if (member_sample(m, &dead, 1, is_dead, NULL) == 1)
		send_ping(m, dead, member_next_seq(m));
}

/* The next member to probe: round-robin over the shuffled order, past us
 * and the dead; a new pass reshuffles. */
static struct member_node *next_target(struct member *m)
{
	for (size_t checked = 0; checked <= m->n_nodes; checked++) {
		struct member_node *node;
		if (m->probe_index >= m->n_nodes) {
			member_shuffle(m);
			m->probe_index = 0;
			reconnect(m);
		}
		node = m->nodes[m->probe_index++];
		if (!node->self &&
		    (node->state == PROTO_STATE_ALIVE || node->state == PROTO_STATE_SUSPECT))
			return node;
	}
	return NULL;
}

static int helper_index(const struct member *m, const struct member_node *node)
{
	for (uint32_t i = 0; i < m->probe.n_helpers; i++)
		if (!memcmp(m->probe.helpers[i], node->key, PROTO_KEY_LEN))
			return (int)i;
	return -1;
}

static void probe_failed(struct member *m)
{
	struct member_node *node = member_node_get(m, m->probe.target);
	struct proto_update suspect = {.state = PROTO_STATE_SUSPECT};
	char who[PROTO_PEERID_SHORT_LEN + 1];

	m->probe.active = false;
	loop_timer_stop(m->loop, &m->probe_timeout);
	/* Dead, left or removed meanwhile: nothing left to suspect. */
	if (!node || (node->state != PROTO_STATE_ALIVE && node->state != PROTO_STATE_SUSPECT))
		return;
	/* Lifeguard: helpers that did not even NACK point at our own
	 * network; with no helper to tell, the failure itself counts. */
	member_health_add(m, m->probe.n_helpers ? (int)(m->probe.n_helpers - m->probe.n_nacks) : 1);
	proto_peerid_short(who, node->key);
	log_debug("no ack from %s: suspect", who);
	suspect.incarnation = node->incarnation;
	memcpy(suspect.peer, node->key, PROTO_KEY_LEN);
	memcpy(suspect.accuser, m->self->key, PROTO_KEY_LEN);
	member_apply(m, &suspect);
}

static void probe_next(struct member *m)
{
	struct member_node *node = next_target(m);

	if (!node)
		return;
	m->probe = (struct member_probe){.active = true, .seq = member_next_seq(m)};
	memcpy(m->probe.target, node->key, PROTO_KEY_LEN);
	m->stats.probes++;
	send_ping(m, node, m->probe.seq);
	loop_timer_start(m->loop, &m->probe_timeout, scaled(m, m->conf->probe_timeout_ms));
}

static void probe_tick(struct loop *l, void *arg)
{
	struct member *m = arg;
	uint64_t now = loop_now_ms(l);

	if (m->probe.active) {
		/* Helpers still out: their answer is due a little later. */
		if (m->probe.n_helpers > m->probe.n_nacks && now < m->probe.indirect_deadline_ms) {
			m->probe.waiting = true;
			loop_timer_start(l, &m->probe_tick, m->probe.indirect_deadline_ms - now);
			return;
		}
		probe_failed(m);
	}
	probe_next(m);
	loop_timer_start(l, &m->probe_tick, scaled(m, m->conf->probe_interval_ms));
}

/* No ack in time: ask indirect_checks others to try. */
static void probe_timed_out(struct loop *l, void *arg)
{
	struct member *m = arg;
	struct member_node *helpers[MEMBER_HELPERS_MAX];
	uint32_t want = m->conf->indirect_checks;
	size_t n;

	if (!m->probe.active)
		return;
	if (want > MEMBER_HELPERS_MAX)
		want = MEMBER_HELPERS_MAX;
	n = member_sample(m, helpers, want, is_helper, m->probe.target);
	m->probe.indirect_deadline_ms =
	    loop_now_ms(l) + m->conf->probe_timeout_ms + m->conf->probe_timeout_ms / 2;
	for (size_t i = 0; i < n; i++) {
		struct proto_probe req = {.seq = m->probe.seq, .has_target = true};
		memcpy(req.target, m->probe.target, PROTO_KEY_LEN);
		memcpy(m->probe.helpers[m->probe.n_helpers++], helpers[i]->key, PROTO_KEY_LEN);
		m->stats.indirect_probes++;
		member_send(m, helpers[i], PROTO_MSG_PING_REQ, &req);
	}
}

/* ---- PING_REQs we carry out ---- */

static struct member_relay *relay_find(struct member *m, const uint8_t target[PROTO_KEY_LEN],
                                       uint32_t seq)
{
	for (size_t i = 0; i < MEMBER_RELAYS_MAX; i++) {
		struct member_relay *r = &m->relays[i];
		if (r->active && r->seq == seq && !memcmp(r->target, target, PROTO_KEY_LEN))
			return r;
	}
	return NULL;
}

/* The requester's pending relay (it has one probe at a time, so a new
 * request replaces it), else a free slot, else NULL. */
static struct member_relay *relay_slot(struct member *m, const uint8_t requester[PROTO_KEY_LEN])
{
	struct member_relay *free_slot = NULL;

	for (size_t i = 0; i < MEMBER_RELAYS_MAX; i++) {
		struct member_relay *r = &m->relays[i];
		if (r->active && !memcmp(r->requester, requester, PROTO_KEY_LEN))
			return r;
		if (!r->active && !free_slot)
			free_slot = r;
	}
	return free_slot;
}

static void relay_answer(struct member *m, struct member_relay *r, uint8_t type)
{
	struct member_node *requester = member_node_get(m, r->requester);
	struct proto_probe answer = {.seq = r->their_seq};

	r->active = false;
	loop_timer_stop(m->loop, &r->timer);
	if (requester)
		member_send(m, requester, type, &answer);
}

static void relay_expired(struct loop *l, void *arg)
{
	struct member_relay *r = arg;

	(void)l;
	relay_answer(r->m, r, PROTO_MSG_NACK);
}

void member_on_ping_req(struct member *m, struct member_node *from, const struct proto_probe *msg)
{
	struct member_node *target = member_node_get(m, msg->target);
	struct member_relay *r;

	if (!msg->has_target || !target)
		return;
	if (target->self) {
		struct proto_probe ack = {.seq = msg->seq};
		member_send(m, from, PROTO_MSG_ACK, &ack);
		return;
	}
	r = relay_slot(m, from->key);
	if (!r) {
		log_tally(LOG_LEVEL_WARN, "dropped", 1, "indirect probe", "asked of us",
		          "too many at once");
		return;
	}
	loop_timer_stop(m->loop, &r->timer);
	r->active = true;
	r->seq = member_next_seq(m);
	r->their_seq = msg->seq;
	memcpy(r->requester, from->key, PROTO_KEY_LEN);
	memcpy(r->target, target->key, PROTO_KEY_LEN);
	loop_timer_start(m->loop, &r->timer, m->conf->probe_timeout_ms);
	send_ping(m, target, r->seq);
}

void member_on_ack(struct member *m, const struct member_node *from, uint32_t seq)
{
	struct member_relay *r;

	if (m->probe.active && seq == m->probe.seq &&
	    (!memcmp(from->key, m->probe.target, PROTO_KEY_LEN) || helper_index(m, from) >= 0)) {
		m->probe.active = false;
		loop_timer_stop(m->loop, &m->probe_timeout);
		m->stats.acks++;
		member_health_add(m, -1);
		return;
	}
	r = relay_find(m, from->key, seq);
	if (r)
		relay_answer(m, r, PROTO_MSG_ACK);
}

void member_on_nack(struct member *m, const struct member_node *from, uint32_t seq)
{
	int i;

	if (!m->probe.active || seq != m->probe.seq)
		return;
	i = helper_index(m, from);
	if (i >= 0 && !m->probe.nacked[i]) {
		m->probe.nacked[i] = true;
		m->probe.n_nacks++;
	}
	/* Past the interval, every helper answered: the verdict need not
	 * wait for the deadline. Helpers NACK a probe timeout after our
	 * PING_REQ, just after our interval ends (memberlist suspects at
	 * the interval's end; we waited a quarter of a second more). */
	if (m->probe.waiting && m->probe.n_nacks == m->probe.n_helpers)
		loop_timer_start(m->loop, &m->probe_tick, 0);
}

void member_probe_forget(struct member *m, const struct member_node *node)
{
	if (m->probe.active && !memcmp(m->probe.target, node->key, PROTO_KEY_LEN)) {
		m->probe.active = false;
		loop_timer_stop(m->loop, &m->probe_timeout);
	}
	for (size_t i = 0; i < MEMBER_RELAYS_MAX; i++) {
		struct member_relay *r = &m->relays[i];
		if (r->active && (!memcmp(r->requester, node->key, PROTO_KEY_LEN) ||
		                  !memcmp(r->target, node->key, PROTO_KEY_LEN))) {
			r->active = false;
			loop_timer_stop(m->loop, &r->timer);
		}
	}
}

/* ---- gossip rounds ---- */

/* Gossip goes to the living and, for dead_forget, to the dead: they may
 * be back and need to hear what we think of them. */
static bool is_gossip_target(const struct member *m, const struct member_node *node,
                             const void *arg)
{
	(void)arg;
	if (node->state == PROTO_STATE_ALIVE || node->state == PROTO_STATE_SUSPECT)
		return true;
	return loop_now_ms(m->loop) - node->changed_ms < m->conf->dead_forget_ms;
}

static void gossip_tick(struct loop *l, void *arg)
{
	struct member *m = arg;
	struct member_node *to[64];
	uint32_t want = m->conf->gossip_nodes < 64 ? m->conf->gossip_nodes : 64;
	size_t n;

	loop_timer_start(l, &m->gossip_tick, m->conf->gossip_interval_ms);
	if (m->n_queue == 0)
		return;
	n = member_sample(m, to, want, is_gossip_target, NULL);
	for (size_t i = 0; i < n; i++) {
		struct proto_probe msg = {0};
		member_send(m, to[i], PROTO_MSG_GOSSIP, &msg);
	}
}

void member_probe_init(struct member *m)
{
	loop_timer_init(&m->probe_tick, probe_tick, m);
	loop_timer_init(&m->probe_timeout, probe_timed_out, m);
	loop_timer_init(&m->gossip_tick, gossip_tick, m);
	for (size_t i = 0; i < MEMBER_RELAYS_MAX; i++) {
		m->relays[i].m = m;
		loop_timer_init(&m->relays[i].timer, relay_expired, &m->relays[i]);
	}
}

/* Random first ticks, so that members started together do not probe and
 * gossip in step. */
void member_probe_start(struct member *m)
{
	uint32_t probe = (uint32_t)m->conf->probe_interval_ms;
	uint32_t gossip = (uint32_t)m->conf->gossip_interval_ms;

	loop_timer_start(m->loop, &m->probe_tick, 1 + randombytes_uniform(probe ? probe : 1));
	loop_timer_start(m->loop, &m->gossip_tick, 1 + randombytes_uniform(gossip ? gossip : 1));
}

void member_probe_stop(struct member *m)
{
	loop_timer_stop(m->loop, &m->probe_tick);
	loop_timer_stop(m->loop, &m->probe_timeout);
	m->probe.active = false;
}
