/* Peers' heavy messages within a budget per turn (see backlog.h). Waiting
 * messages sit in a ring in arrival order, at most one per peer (a keymap
 * says which peers have one); each later turn takes them from the front
 * while its budget lasts, which is round-robin across peers since none can
 * have two in the ring. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backlog.h"
#include "agent/core/keymap.h"
#include "agent/core/loop.h"

struct waiting {
	struct net_from from;
	uint8_t type;
	uint8_t *buf; /* owned */
	size_t len;
	struct waiting *next;
};

struct backlog {
	struct loop *loop;
	backlog_fn fn;
	void *arg;
	struct keymap by_peer; /* peer -> its struct waiting */
	struct waiting *head, *tail;
	struct loop_timer timer; /* takes waiting messages in the next turn */
	uint64_t turn;           /* the loop turn spent_us counts */
	uint64_t spent_us;
	struct backlog_stats stats;
};

static uint64_t clock_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* Is there budget left in this turn? */
static bool budget_left(struct backlog *b)
{
	uint64_t turn = loop_turn(b->loop);

	if (turn != b->turn) {
		b->turn = turn;
		b->spent_us = 0;
	}
	return b->spent_us < BACKLOG_TURN_US;
}

static void run(struct backlog *b, const struct net_from *from, uint8_t type, const uint8_t *buf,
                size_t len)
{
	uint64_t start = clock_us();

	b->fn(b->arg, from, type, buf, len);
	b->spent_us += clock_us() - start;
}

static void waiting_free(struct backlog *b, struct waiting *w)
{
	b->stats.waiting--;
	b->stats.bytes -= w->len;
	free(w->buf);
	free(w);
}

/* The turn after: what waits is taken in order while the budget lasts. */
static void take_waiting(struct loop *l, void *arg)
{
	struct backlog *b = arg;

	while (b->head && budget_left(b)) {
		struct waiting *w = b->head;
		b->head = w->next;
		if (!b->head)
			b->tail = NULL;
		keymap_del(&b->by_peer, w->from.peer);
		run(b, &w->from, w->type, w->buf, w->len);
		waiting_free(b, w);
	}
	if (b->head)
		loop_timer_start(l, &b->timer, 0);
}

int backlog_new(struct backlog **out, struct loop *l, backlog_fn fn, void *arg)
{
	struct backlog *b = calloc(1, sizeof(*b));

	if (!b)
		return -ENOMEM;
	b->loop = l;
	b->fn = fn;
	b->arg = arg;
	keymap_init(&b->by_peer);
	loop_timer_init(&b->timer, take_waiting, b);
	*out = b;
	return 0;
}

void backlog_free(struct backlog **bp)
{
	struct backlog *b = bp ? *bp : NULL;

	if (!b)
		return;
	loop_timer_stop(b->loop, &b->timer);
	while (b->head) {
		struct waiting *w = b->head;
		b->head = w->next;
		waiting_free(b, w);
	}
	keymap_free(&b->by_peer);
	free(b);
	*bp = NULL;
}

int backlog_submit(struct backlog *b, const struct net_from *from, uint8_t type, const uint8_t *buf,
                   size_t len)
{
	struct waiting *w;

	/* Nobody waits: it is the sender's turn if the budget allows. */
	if (!b->head && budget_left(b)) {
		b->stats.handled++;
		run(b, from, type, buf, len);
		return 0;
	}
	if (keymap_get(&b->by_peer, from->peer) || len > BACKLOG_BYTES_MAX - b->stats.bytes) {
		b->stats.refused++;
		return -EBUSY;
	}
	w = calloc(1, sizeof(*w));
	if (!w || !(w->buf = malloc(len ? len : 1)) || keymap_put(&b->by_peer, from->peer, w)) {
		if (w)
			free(w->buf);
		free(w);
		return -ENOMEM;
	}
	w->from = *from;
	w->type = type;
	memcpy(w->buf, buf, len);
	w->len = len;
	if (b->tail)
		b->tail->next = w;
	else
		b->head = w;
	b->tail = w;
	b->stats.deferred++;
	b->stats.waiting++;
	b->stats.bytes += len;
	if (!loop_timer_active(&b->timer))
		loop_timer_start(b->loop, &b->timer, 0);
	return 0;
}

void backlog_forget(struct backlog *b, const uint8_t peer[PROTO_KEY_LEN])
{
	struct waiting *w = keymap_del(&b->by_peer, peer), **at = &b->head, *prev = NULL;

	if (!w)
		return;
	while (*at && *at != w) {
		prev = *at;
		at = &(*at)->next;
	}
	if (*at)
		*at = w->next;
	if (b->tail == w)
		b->tail = prev;
	waiting_free(b, w);
}

void backlog_get_stats(const struct backlog *b, struct backlog_stats *out)
{
	*out = b->stats;
}
