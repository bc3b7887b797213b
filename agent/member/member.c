/* Membership: the member table and the rules for updates (see member.h).
 *
 * Members live in a hash map by key (lookups for every update) and in an
 * array in probe order (shuffled at each pass, sampled for gossip). We are
 * in both, marked self, so that updates about us take the same path as the
 * others and member_each() lists us. Probes and suspicion timers are in
 * member_probe.c, the broadcast queue in member_queue.c.
 *
 * Precedence is memberlist's: alive(i) beats anything older than i;
 * suspect(i) beats alive(j <= i); dead(i) and left(i) beat alive and
 * suspect (j <= i). Alive and left must carry their subject's signature;
 * since verifying costs far more than the rest, it is checked only on
 * updates that would change our view. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "proto/error.h"
#include "proto/identity.h"
#include "proto/peerid.h"
#include "agent/core/conf.h"
#include "member_int.h"

uint64_t member_unix_now(void)
{
	time_t now = time(NULL);

	return now > 0 ? (uint64_t)now : 0;
}

uint32_t member_next_seq(struct member *m)
{
	return ++m->seq;
}

size_t member_count(const struct member *m)
{
	return m->n_nodes;
}

struct member_node *member_node_get(const struct member *m, const uint8_t key[PROTO_KEY_LEN])
{
	return keymap_get(&m->map, key);
}

void member_node_set_state(struct member *m, struct member_node *node,
                           enum proto_member_state state)
{
	node->state = state;
	node->since = member_unix_now();
	node->changed_ms = loop_now_ms(m->loop);
	/* The agent hears about the others; our own state is its doing. */
	if (!node->self && m->ops->changed)
		m->ops->changed(m->arg, node->key, state);
}

/* ---- the table ---- */

static void swap_nodes(struct member *m, size_t i, size_t j)
{
	struct member_node *t = m->nodes[i];

	m->nodes[i] = m->nodes[j];
	m->nodes[j] = t;
	m->nodes[i]->index = i;
	m->nodes[j]->index = j;
}

void member_shuffle(struct member *m)
{
	for (size_t i = m->n_nodes; i > 1; i--)
		swap_nodes(m, i - 1, randombytes_uniform((uint32_t)i));
}

static struct member_node *node_new(struct member *m, const uint8_t key[PROTO_KEY_LEN],
                                    uint64_t incarnation, bool self)
{
	struct member_node *node = calloc(1, sizeof(*node));

	if (!node)
		return NULL;
	node->m = m;
	memcpy(node->key, key, PROTO_KEY_LEN);
	node->state = PROTO_STATE_ALIVE;
	node->incarnation = incarnation;
	node->since = member_unix_now();
	node->changed_ms = loop_now_ms(m->loop);
	node->self = self;
	loop_timer_init(&node->suspicion, NULL, node);
	return node;
}

/* Enters node at a random place of the probe order, as memberlist does,
 * so that a newcomer is not always probed last. */
static int table_insert(struct member *m, struct member_node *node)
{
	size_t n = m->n_nodes;
	int err;

	if (n == m->cap_nodes) {
		size_t cap = m->cap_nodes ? 2 * m->cap_nodes : 16;
		struct member_node **grown = realloc(m->nodes, cap * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		m->nodes = grown;
		m->cap_nodes = cap;
	}
	err = keymap_put(&m->map, node->key, node);
	if (err)
		return err;
	m->nodes[n] = node;
	node->index = n;
	m->n_nodes++;
	swap_nodes(m, n, randombytes_uniform((uint32_t)n + 1));
	return 0;
}

/* Takes node out of the probe order without skipping anyone not yet
 * probed in this pass: nodes[0 .. probe_index) were probed. */
static void table_remove(struct member *m, struct member_node *node)
{
	size_t i = node->index;

	if (i < m->probe_index) {
		swap_nodes(m, i, m->probe_index - 1);
		i = --m->probe_index;
	}
	swap_nodes(m, i, m->n_nodes - 1);
	m->n_nodes--;
	keymap_del(&m->map, node->key);
}

static void node_free(struct member *m, struct member_node *node)
{
	member_suspicion_stop(m, node);
	member_queue_drop(m, node);
	free(node);
}

size_t member_sample(struct member *m, struct member_node **out, size_t n,
                     bool (*keep)(const struct member *m, const struct member_node *node,
                                  const void *arg),
                     const void *arg)
{
	size_t seen = 0, got = 0;

	for (size_t i = 0; i < m->n_nodes && n > 0; i++) {
		struct member_node *node = m->nodes[i];
		if (node->self || !keep(m, node, arg))
			continue;
		seen++;
		if (got < n) {
			out[got++] = node;
		} else {
			uint32_t j = randombytes_uniform((uint32_t)seen);
			if (j < n)
				out[j] = node;
		}
	}
	return got;
}

/* ---- updates ---- */

static void count_bad(struct member *m, const struct proto_update *u, const char *why)
{
	char who[PROTO_PEERID_SHORT_LEN + 8];

	m->stats.bad_updates++;
	memcpy(who, "about ", 6);
	proto_peerid_short(who + 6, u->peer);
	log_tally(LOG_LEVEL_WARN, "ignored", 1, "membership update", who, why);
}

static bool signature_ok(struct member *m, const struct proto_update *u)
{
	if (proto_update_verify(u) == 0)
		return true;
	count_bad(m, u, "bad signature");
	return false;
}

/* Our own signed alive or left update at our incarnation, queued. */
static void announce_self(struct member *m, enum proto_member_state state)
{
	struct proto_update u = {.state = state, .incarnation = m->self->incarnation};
	int err = proto_update_sign(&u, m->id);

	if (!err) {
		m->self_word = u;
		m->has_self_word = true;
		err = member_queue_put(m, m->self, &u);
	}
	if (err)
		log_warnx("cannot announce our membership state: %s", proto_strerror(err));
}

/* Someone claims we are suspect or dead at accused: we are alive, and say
 * so with an incarnation above the claim, which only we can sign. While
 * leaving we repeat that we left instead. */
static void refute(struct member *m, uint64_t accused)
{
	uint64_t inc = m->self->incarnation + 1;

	if (m->leaving) {
		announce_self(m, PROTO_STATE_LEFT);
		return;
	}
	if (accused == UINT64_MAX) {
		log_warnx("cannot refute a claim at the largest incarnation");
		return;
	}
	if (accused >= inc)
		inc = accused + 1;
	m->self->incarnation = inc;
	m->stats.refutations++;
	/* Lifeguard: being suspected hints that we are the slow one. */
	member_health_add(m, 1);
	announce_self(m, PROTO_STATE_ALIVE);
	log_debug("refuting a suspicion with incarnation %llu", (unsigned long long)inc);
}

/* A suspect, dead or left claim about us. One older than our incarnation
 * needs no new one, but its sender missed our last word (a member that
 * held us dead through a partition pings us with the old claim): we say
 * it again. */
static void self_accused(struct member *m, uint64_t incarnation)
{
	if (incarnation >= m->self->incarnation)
		refute(m, incarnation);
	else
		announce_self(m, m->leaving ? PROTO_STATE_LEFT : PROTO_STATE_ALIVE);
}

static void on_alive(struct member *m, struct member_node *node, const struct proto_update *u)
{
	/* Equal is not enough: alive(i) answers suspect(i) only with i + 1. */
	if (u->incarnation <= node->incarnation || !signature_ok(m, u))
		return;
	if (node->self) {
		/* Signed by us, yet newer than we are: an earlier life of ours
		 * that went further. Go past it. */
		refute(m, u->incarnation);
		return;
	}
	member_suspicion_stop(m, node);
	node->incarnation = u->incarnation;
	node->word = *u;
	member_queue_put(m, node, u);
	if (node->state != PROTO_STATE_ALIVE)
		member_node_set_state(m, node, PROTO_STATE_ALIVE);
}

static void on_suspect(struct member *m, struct member_node *node, const struct proto_update *u)
{
	if (node->self) {
		self_accused(m, u->incarnation);
		return;
	}
	if (u->incarnation < node->incarnation)
		return;
	if (node->state == PROTO_STATE_SUSPECT) {
		/* Another accuser: the suspicion shortens, and the news goes on
		 * so that others can count it too. */
		if (member_suspicion_confirm(m, node, u->accuser))
			member_queue_put(m, node, u);
		return;
	}
	if (node->state != PROTO_STATE_ALIVE)
		return;
	node->incarnation = u->incarnation;
	member_queue_put(m, node, u);
	m->stats.suspicions++;
	member_suspicion_start(m, node, u->accuser);
	member_node_set_state(m, node, PROTO_STATE_SUSPECT);
}

/* dead and left: left is a dead the member signed itself. */
static void on_dead(struct member *m, struct member_node *node, const struct proto_update *u)
{
	bool left = u->state == PROTO_STATE_LEFT;

	if (node->self) {
		if (!left || signature_ok(m, u))
			self_accused(m, u->incarnation);
		return;
	}
	if (u->incarnation < node->incarnation)
		return;
	/* A member we hold dead may still tell us it left; nothing else
	 * changes a dead or left member but a newer alive. */
	if (node->state == PROTO_STATE_LEFT || (node->state == PROTO_STATE_DEAD && !left))
		return;
	if (left && !signature_ok(m, u))
		return;
	member_suspicion_stop(m, node);
	node->incarnation = u->incarnation;
	if (left)
		node->word = *u;
	member_queue_put(m, node, u);
	if (!left)
		m->stats.deaths++;
	member_node_set_state(m, node, left ? PROTO_STATE_LEFT : PROTO_STATE_DEAD);
}

void member_apply(struct member *m, const struct proto_update *u)
{
	struct member_node *node = member_node_get(m, u->peer);

	if (!node) {
		count_bad(m, u, "not a member");
		return;
	}
	switch (u->state) {
	case PROTO_STATE_ALIVE:
		on_alive(m, node, u);
		return;
	case PROTO_STATE_SUSPECT:
		on_suspect(m, node, u);
		return;
	case PROTO_STATE_DEAD:
	case PROTO_STATE_LEFT:
		on_dead(m, node, u);
		return;
	}
	count_bad(m, u, "unknown state");
}

/* ---- the API ---- */

int member_new(struct member **out, struct loop *l, const struct proto_identity *id,
               const struct conf *c, uint64_t incarnation, const struct member_ops *ops, void *arg)
{
	struct member *m = calloc(1, sizeof(*m));
	int err = -ENOMEM;

	if (!m)
		return -ENOMEM;
	m->loop = l;
	m->id = id;
	m->conf = c;
	m->ops = ops;
	m->arg = arg;
	keymap_init(&m->map);
	member_probe_init(m);
	m->self = node_new(m, id->pk, incarnation, true);
	if (!m->self)
		goto fail;
	err = table_insert(m, m->self);
	if (err) {
		free(m->self);
		goto fail;
	}
	*out = m;
	return 0;
fail:
	keymap_free(&m->map);
	free(m->nodes);
	free(m);
	return err;
}

void member_free(struct member **mp)
{
	struct member *m = mp ? *mp : NULL;

	if (!m)
		return;
	member_probe_stop(m);
	loop_timer_stop(m->loop, &m->gossip_tick);
	for (size_t i = 0; i < MEMBER_RELAYS_MAX; i++)
		loop_timer_stop(m->loop, &m->relays[i].timer);
	for (size_t i = 0; i < m->n_nodes; i++)
		node_free(m, m->nodes[i]);
	member_queue_free(m);
	keymap_free(&m->map);
	free(m->nodes);
	free(m);
	*mp = NULL;
}

/* Our signed alive, in a PING so that the ACK brings the receiver's
 * incarnation (see member_send()): a member we have just learned of, or
 * all of them when we start, we hold at incarnation 0 until then, and
 * everyone else would ignore our suspect and dead claims about them. */
static void say_hello(struct member *m, struct member_node *node)
{
	struct proto_probe hello = {.seq = member_next_seq(m), .n_updates = 1};

	if (!m->has_self_word)
		return;
	hello.updates[0] = m->self_word;
	m->ops->send(m->arg, node->key, PROTO_MSG_PING, &hello);
}

int member_start(struct member *m)
{
	if (m->started)
		return 0;
	m->started = true;
	announce_self(m, PROTO_STATE_ALIVE);
	/* Everyone hears at once that we are back, whatever they thought:
	 * the queue alone would reach them over several rounds. */
	for (size_t i = 0; i < m->n_nodes; i++)
		if (!m->nodes[i]->self)
			say_hello(m, m->nodes[i]);
	member_probe_start(m);
	return 0;
}

static bool is_alive(const struct member *m, const struct member_node *node, const void *arg)
{
	(void)m;
	(void)arg;
	return node->state == PROTO_STATE_ALIVE;
}

void member_leave(struct member *m)
{
	struct member_node *to[64];
	size_t n = m->conf->gossip_nodes < 64 ? m->conf->gossip_nodes : 64;

	if (m->leaving)
		return;
	m->leaving = true;
	/* No more probes: we would only suspect others while we go. The
	 * gossip goes on until the caller frees us, to carry the news. */
	member_probe_stop(m);
	m->self->state = PROTO_STATE_LEFT;
	m->self->since = member_unix_now();
	announce_self(m, PROTO_STATE_LEFT);
	n = member_sample(m, to, n, is_alive, NULL);
	for (size_t i = 0; i < n; i++) {
		struct proto_probe msg = {0};
		member_send(m, to[i], PROTO_MSG_GOSSIP, &msg);
	}
}

int member_add(struct member *m, const uint8_t peer[PROTO_KEY_LEN])
{
	struct member_node *node;
	int err;

	if (member_node_get(m, peer))
		return 0;
	node = node_new(m, peer, 0, false);
	if (!node)
		return -ENOMEM;
	err = table_insert(m, node);
	if (err) {
		free(node);
		return err;
	}
	/* If it learned of us first, our hello was lost on it (we were
	 * nobody to it then); this one is not, and its ACK answers. */
	if (m->started && !m->leaving)
		say_hello(m, node);
	return 0;
}

void member_remove(struct member *m, const uint8_t peer[PROTO_KEY_LEN])
{
	struct member_node *node = member_node_get(m, peer);

	if (!node || node->self)
		return;
	member_probe_forget(m, node);
	table_remove(m, node);
	node_free(m, node);
}

/* u, just applied, says less than we know: a signed word of its subject
 * at a higher incarnation. Its sender missed that word (a refutation that
 * went round while it was busy, a member it learnt of late): it would
 * hold the subject below the truth, and everyone would ignore its claims,
 * until it probed the subject itself, once a pass over all members. The
 * word goes back to it in fix, at most once per subject. */
static void correct_stale(struct member *m, struct proto_probe *fix, const struct proto_update *u)
{
	const struct member_node *node = member_node_get(m, u->peer);
	const struct proto_update *word;

	if (!node || fix->n_updates >= PROTO_UPDATES_MAX)
		return;
	word = node->self ? (m->has_self_word ? &m->self_word : NULL)
	                  : (node->word.state ? &node->word : NULL);
	if (!word || word->incarnation <= u->incarnation)
		return;
	for (uint32_t i = 0; i < fix->n_updates; i++)
		if (!memcmp(fix->updates[i].peer, u->peer, PROTO_KEY_LEN))
			return;
	fix->updates[fix->n_updates++] = *word;
}

void member_on_message(struct member *m, const uint8_t from[PROTO_KEY_LEN], uint8_t type,
                       const struct proto_probe *msg)
{
	struct member_node *sender = member_node_get(m, from);
	struct proto_probe fix = {.seq = msg->seq};

	/* The transport admits members only, but one may have been removed
	 * since the message left. */
	if (!sender || sender->self || msg->n_updates > PROTO_UPDATES_MAX)
		return;
	sender->last_seen = member_unix_now();
	/* Updates first: a PING that suspects us gets an ACK that refutes. */
	for (uint32_t i = 0; i < msg->n_updates; i++) {
		member_apply(m, &msg->updates[i]);
		correct_stale(m, &fix, &msg->updates[i]);
	}
	switch (type) {
	case PROTO_MSG_PING:
		/* A probe meant for someone else: not ours to answer. */
		if (msg->has_target && memcmp(msg->target, m->self->key, PROTO_KEY_LEN) != 0)
			break;
		/* The corrections ride on the ACK. */
		member_send(m, sender, PROTO_MSG_ACK, &fix);
		return;
	case PROTO_MSG_ACK:
		member_on_ack(m, sender, msg->seq);
		break;
	case PROTO_MSG_PING_REQ:
		member_on_ping_req(m, sender, msg);
		break;
	case PROTO_MSG_NACK:
		member_on_nack(m, sender, msg->seq);
		break;
	}
	/* GOSSIP carries nothing but its updates. Corrections not sent on
	 * an ACK go in a GOSSIP of their own, and so does our suspicion (or
	 * death) of a sender that just showed it is up: the buddy system of
	 * member_send() on any message, not only on our probes (once a pass
	 * over all members), so that it refutes at once and its refutation
	 * comes straight back (correct_stale() on its side). At most one
	 * message per message received. */
	if (fix.n_updates || sender->state == PROTO_STATE_SUSPECT ||
	    sender->state == PROTO_STATE_DEAD) {
		fix.seq = 0;
		member_send(m, sender, PROTO_MSG_GOSSIP, &fix);
	}
}

static void fill_info(struct member_info *out, const struct member_node *node)
{
	memcpy(out->peer, node->key, PROTO_KEY_LEN);
	out->state = node->state;
	out->incarnation = node->incarnation;
	out->last_seen = node->last_seen;
	out->since = node->since;
	out->self = node->self;
}

int member_get(const struct member *m, const uint8_t peer[PROTO_KEY_LEN], struct member_info *out)
{
	const struct member_node *node = member_node_get(m, peer);

	if (!node)
		return -ENOENT;
	fill_info(out, node);
	return 0;
}

void member_each(const struct member *m, void (*fn)(void *arg, const struct member_info *info),
                 void *arg)
{
	for (size_t i = 0; i < m->n_nodes; i++) {
		struct member_info info;
		fill_info(&info, m->nodes[i]);
		fn(arg, &info);
	}
}

size_t member_pick_alive(struct member *m, uint8_t (*out)[PROTO_KEY_LEN], size_t n)
{
	size_t seen = 0, got = 0;

	/* The same reservoir as member_sample(), writing keys. */
	for (size_t i = 0; i < m->n_nodes && n > 0; i++) {
		const struct member_node *node = m->nodes[i];
		if (node->self || node->state != PROTO_STATE_ALIVE)
			continue;
		seen++;
		if (got < n) {
			memcpy(out[got++], node->key, PROTO_KEY_LEN);
		} else {
			uint32_t j = randombytes_uniform((uint32_t)seen);
			if (j < n)
				memcpy(out[j], node->key, PROTO_KEY_LEN);
		}
	}
	/* The reservoir is a uniform choice but not in a random order (slot
	 * j keeps the j-th member more often than others): callers take
	 * prefixes, so shuffle it (Fisher-Yates). */
	for (size_t i = got; i > 1; i--) {
		uint8_t tmp[PROTO_KEY_LEN];
		uint32_t j = randombytes_uniform((uint32_t)i);
		memcpy(tmp, out[i - 1], PROTO_KEY_LEN);
		memcpy(out[i - 1], out[j], PROTO_KEY_LEN);
		memcpy(out[j], tmp, PROTO_KEY_LEN);
	}
	return got;
}

size_t member_alive_count(const struct member *m)
{
	size_t n = 0;

	for (size_t i = 0; i < m->n_nodes; i++)
		n += !m->nodes[i]->self && m->nodes[i]->state == PROTO_STATE_ALIVE;
	return n;
}

void member_get_stats(const struct member *m, struct member_stats *out)
{
	*out = m->stats;
	out->health = m->health;
}
