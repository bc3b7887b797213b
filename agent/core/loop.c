#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zmq.h>

#include "loop.h"

struct watch {
	void *socket;
	int fd;
	short events;
	loop_io_fn fn;
	void *arg;
	bool removed; /* unwatched during this turn: skip, drop afterwards */
};

struct loop {
	struct watch *watches;
	size_t n_watches, cap_watches;
	bool watches_changed; /* a watch was removed: compact after dispatch */
	zmq_pollitem_t *items;
	size_t cap_items;
	struct loop_timer **heap;
	size_t n_timers, cap_timers;
	uint64_t now_ms;
	uint64_t turn; /* loop_once() calls so far */
	bool stopping;
};

uint64_t loop_clock_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t loop_wall_s(void)
{
	time_t t = time(NULL);

	return t < 0 ? 0 : (uint64_t)t;
}

int loop_new(struct loop **out)
{
	struct loop *l = calloc(1, sizeof(*l));

	if (!l)
		return -ENOMEM;
	l->now_ms = loop_clock_ms();
	*out = l;
	return 0;
}

void loop_free(struct loop **l)
{
	if (!l || !*l)
		return;
	for (size_t i = 0; i < (*l)->n_timers; i++)
		(*l)->heap[i]->slot = 0;
	free((*l)->watches);
	free((*l)->items);
	free((*l)->heap);
	free(*l);
	*l = NULL;
}

/* Grows *array (of elem bytes each) to hold at least need elements. */
static int grow(void **array, size_t *cap, size_t need, size_t elem)
{
	size_t n = *cap ? *cap : 8;
	void *p;

	if (need <= *cap)
		return 0;
	while (n < need)
		n *= 2;
	p = realloc(*array, n * elem);
	if (!p)
		return -ENOMEM;
	*array = p;
	*cap = n;
	return 0;
}

static struct watch *find_watch(struct loop *l, void *socket, int fd)
{
	for (size_t i = 0; i < l->n_watches; i++) {
		struct watch *w = &l->watches[i];
		if (!w->removed && w->socket == socket && (socket || w->fd == fd))
			return w;
	}
	return NULL;
}

int loop_watch(struct loop *l, void *socket, int fd, short events, loop_io_fn fn, void *arg)
{
	if (find_watch(l, socket, fd))
		return -EEXIST;
	if (grow((void **)&l->watches, &l->cap_watches, l->n_watches + 1, sizeof(struct watch)))
		return -ENOMEM;
	l->watches[l->n_watches++] = (struct watch){
	    .socket = socket, .fd = socket ? -1 : fd, .events = events, .fn = fn, .arg = arg};
	return 0;
}

int loop_watch_events(struct loop *l, void *socket, int fd, short events)
{
	struct watch *w = find_watch(l, socket, fd);

	if (!w)
		return -ENOENT;
	w->events = events;
	return 0;
}

void loop_unwatch(struct loop *l, void *socket, int fd)
{
	struct watch *w = find_watch(l, socket, fd);

	if (w) {
		w->removed = true;
		l->watches_changed = true;
	}
}

static void compact_watches(struct loop *l)
{
	size_t kept = 0;

	for (size_t i = 0; i < l->n_watches; i++)
		if (!l->watches[i].removed)
			l->watches[kept++] = l->watches[i];
	l->n_watches = kept;
	l->watches_changed = false;
}

/* Timer heap: a binary min-heap on deadline; each timer knows its slot so
 * that stop and restart cost O(log n). */
static void heap_set(struct loop *l, size_t i, struct loop_timer *t)
{
	l->heap[i] = t;
	t->slot = i + 1;
}

static void heap_up(struct loop *l, size_t i)
{
	struct loop_timer *t = l->heap[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (l->heap[parent]->deadline_ms <= t->deadline_ms)
			break;
		heap_set(l, i, l->heap[parent]);
		i = parent;
	}
	heap_set(l, i, t);
}

static void heap_down(struct loop *l, size_t i)
{
	struct loop_timer *t = l->heap[i];

	for (;;) {
		size_t child = 2 * i + 1;
		if (child >= l->n_timers)
			break;
		if (child + 1 < l->n_timers &&
		    l->heap[child + 1]->deadline_ms < l->heap[child]->deadline_ms)
			child++;
		if (t->deadline_ms <= l->heap[child]->deadline_ms)
			break;
		heap_set(l, i, l->heap[child]);
		i = child;
	}
	heap_set(l, i, t);
}

void loop_timer_init(struct loop_timer *t, loop_timer_fn fn, void *arg)
{
	*t = (struct loop_timer){.fn = fn, .arg = arg};
}

bool loop_timer_active(const struct loop_timer *t)
{
	return t->slot != 0;
}

void loop_timer_stop(struct loop *l, struct loop_timer *t)
{
	size_t i;

	if (!t->slot)
		return;
	i = t->slot - 1;
	t->slot = 0;
	if (i == --l->n_timers)
		return;
	heap_set(l, i, l->heap[l->n_timers]);
	heap_down(l, i);
	heap_up(l, l->heap[i]->slot - 1);
}

int loop_timer_start(struct loop *l, struct loop_timer *t, uint64_t delay_ms)
{
	loop_timer_stop(l, t);
	if (grow((void **)&l->heap, &l->cap_timers, l->n_timers + 1, sizeof(*l->heap)))
		return -ENOMEM;
	t->deadline_ms = l->now_ms + delay_ms;
	heap_set(l, l->n_timers++, t);
	heap_up(l, l->n_timers - 1);
	return 0;
}

uint64_t loop_now_ms(const struct loop *l)
{
	return l->now_ms;
}

uint64_t loop_turn(const struct loop *l)
{
	return l->turn;
}

uint64_t loop_update_now(struct loop *l)
{
	l->now_ms = loop_clock_ms();
	return l->now_ms;
}

/* Fires every timer due at now. A timer started again by its own handler
 * for "0 ms" waits for the next turn, so timers cannot starve the sockets. */
static void fire_timers(struct loop *l)
{
	uint64_t now = l->now_ms;

	while (l->n_timers && l->heap[0]->deadline_ms <= now && !l->stopping) {
		struct loop_timer *t = l->heap[0];
		if (t->deadline_ms > now)
			break;
		loop_timer_stop(l, t);
		t->fn(l, t->arg);
		if (l->n_timers && l->heap[0] == t && t->deadline_ms <= now)
			break;
	}
}

int loop_once(struct loop *l, uint64_t max_wait_ms)
{
	uint64_t wait = max_wait_ms;
	size_t n;
	int rc;

	if (l->watches_changed)
		compact_watches(l);
	n = l->n_watches;
	if (grow((void **)&l->items, &l->cap_items, n ? n : 1, sizeof(zmq_pollitem_t)))
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		l->items[i] = (zmq_pollitem_t){.socket = l->watches[i].socket,
		                               .fd = l->watches[i].fd,
		                               .events = l->watches[i].events};
	if (l->n_timers) {
		uint64_t next = l->heap[0]->deadline_ms;
		uint64_t until = next > l->now_ms ? next - l->now_ms : 0;
		if (until < wait)
			wait = until;
	}
	rc = zmq_poll(l->items, (int)n, (long)wait);
	loop_update_now(l);
	l->turn++;
	if (rc < 0) {
		if (errno == EINTR)
			return 0;
		return -errno;
	}
	/* Watches added by a handler during this turn sit past n and wait for
	 * the next poll; removed ones are skipped. */
	for (size_t i = 0; i < n && rc > 0 && !l->stopping; i++) {
		short revents = l->items[i].revents;
		struct watch w = l->watches[i];
		if (!revents)
			continue;
		rc--;
		if (w.removed)
			continue;
		w.fn(l, w.arg, revents);
	}
	if (!l->stopping)
		fire_timers(l);
	return 0;
}

int loop_run(struct loop *l)
{
	l->stopping = false;
	while (!l->stopping) {
		int err = loop_once(l, 60000);
		if (err)
			return err;
	}
	return 0;
}

void loop_stop(struct loop *l)
{
	l->stopping = true;
}
