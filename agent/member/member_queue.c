/* The broadcast queue, as memberlist's TransmitLimitedQueue: membership
 * updates ride on every probe and gossip message until each has gone out
 * retransmit_mult * ceil(log10(N + 1)) times, the least sent first and,
 * among equals, the newest. One entry per member at most: a newer update
 * about a member replaces the older, so the queue never outgrows the
 * member table. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "agent/core/conf.h"
#include "member_int.h"

/* How many times an update goes out before it leaves the queue. */
static uint32_t retransmit_limit(const struct member *m)
{
	double n = (double)member_count(m);
	double rounds = ceil(log10(n + 1.0));

	if (rounds < 1.0)
		rounds = 1.0;
	return m->conf->retransmit_mult * (uint32_t)rounds;
}

/* Whether a goes out before b. */
static bool sooner(const struct member_queued *a, const struct member_queued *b)
{
	if (a->transmits != b->transmits)
		return a->transmits < b->transmits;
	return a->id > b->id;
}

static void remove_at(struct member *m, size_t i)
{
	size_t last = --m->n_queue;

	m->queue[i].node->queued = 0;
	if (i != last) {
		m->queue[i] = m->queue[last];
		m->queue[i].node->queued = i + 1;
	}
}

int member_queue_put(struct member *m, struct member_node *node, const struct proto_update *u)
{
	struct member_queued *q;

	if (node->queued) {
		q = &m->queue[node->queued - 1];
	} else {
		if (m->n_queue == m->cap_queue) {
			size_t cap = m->cap_queue ? 2 * m->cap_queue : 16;
			struct member_queued *grown = realloc(m->queue, cap * sizeof(*grown));
			if (!grown)
				return -ENOMEM;
			m->queue = grown;
			m->cap_queue = cap;
		}
		q = &m->queue[m->n_queue++];
		node->queued = m->n_queue;
	}
	*q = (struct member_queued){.update = *u, .node = node, .id = ++m->queue_ids};
	return 0;
}

void member_queue_drop(struct member *m, struct member_node *node)
{
	if (node->queued)
		remove_at(m, node->queued - 1);
}

/* Positions of the `room` entries to send next, soonest first: one pass
 * keeping a small sorted list, so a long queue costs O(length). */
static size_t pick_soonest(const struct member *m, size_t *best, size_t room)
{
	size_t n_best = 0;

	for (size_t i = 0; i < m->n_queue; i++) {
		size_t j;
		if (n_best == room && !sooner(&m->queue[i], &m->queue[best[n_best - 1]]))
			continue;
		j = n_best < room ? n_best++ : n_best - 1;
		while (j > 0 && sooner(&m->queue[i], &m->queue[best[j - 1]])) {
			best[j] = best[j - 1];
			j--;
		}
		best[j] = i;
	}
	return n_best;
}

static void sort_descending(size_t *v, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		size_t x = v[i], j = i;
		while (j > 0 && v[j - 1] < x) {
			v[j] = v[j - 1];
			j--;
		}
		v[j] = x;
	}
}

void member_queue_fill(struct member *m, struct proto_probe *msg)
{
	size_t best[PROTO_UPDATES_MAX];
	size_t room, n;
	uint32_t limit;

	if (msg->n_updates >= PROTO_UPDATES_MAX || m->n_queue == 0)
		return;
	room = PROTO_UPDATES_MAX - msg->n_updates;
	n = pick_soonest(m, best, room);
	limit = retransmit_limit(m);
	for (size_t i = 0; i < n; i++) {
		msg->updates[msg->n_updates++] = m->queue[best[i]].update;
		m->queue[best[i]].transmits++;
	}
	/* Removing from the back first keeps the other positions valid: a
	 * removal only moves the last entry, already dealt with. */
	sort_descending(best, n);
	for (size_t i = 0; i < n; i++)
		if (m->queue[best[i]].transmits >= limit)
			remove_at(m, best[i]);
}

void member_queue_free(struct member *m)
{
	for (size_t i = 0; i < m->n_queue; i++)
		m->queue[i].node->queued = 0;
	free(m->queue);
	m->queue = NULL;
	m->n_queue = m->cap_queue = 0;
}
