/* The loop (see loop.h): one epoll set over plain file descriptors and
 * the ZMQ_FD of each ZeroMQ socket, and a timer heap.
 *
 * zmq_poll() would look at every socket at every turn: with a DEALER per
 * member, an idle agent spent most of its time there (docs/benchmarks.md,
 * issue 14). A ZeroMQ socket's ZMQ_FD only says "look at ZMQ_EVENTS":
 * it is readable when commands wait for the socket, and any call on the
 * socket (send, receive, connect, ZMQ_EVENTS) may take them, a message's
 * arrival included, without the fd saying so again. So a socket is looked
 * at (ZMQ_EVENTS) when its fd is readable, and also at the turn after
 * anything may have taken its commands: its handler ran, it was just
 * watched, or its user sent on it (loop_kick()). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "loop.h"

/* Watches live in their own allocation: epoll hands back the pointer. */
struct watch {
	void *socket;
	int fd; /* the plain fd, or the socket's ZMQ_FD */
	short events;
	loop_io_fn fn;
	void *arg;
	bool removed;   /* unwatched: skipped, freed at the start of a turn */
	bool to_check;  /* in the check list */
	uint64_t fired; /* the turn it was last dispatched in, + 1 */
};

struct ready {
	struct watch *w;
	short revents;
};

struct loop {
	int epfd;
	struct watch **watches;
	size_t n_watches, cap_watches;
	bool watches_changed; /* a watch was removed: free it at the next turn */
	struct watch **check; /* sockets to look at before the next wait */
	size_t n_check, cap_check;
	struct epoll_event *events;
	struct ready *ready;
	size_t cap_events, cap_ready;
	struct loop_timer **heap;
	size_t n_timers, cap_timers;
	uint64_t now_ms;
	uint64_t turn; /* loop_once() calls so far */
	bool stopping;
	bool virtual_clock; /* loop_virtual() */
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
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		int err = -errno;
		free(l);
		return err;
	}
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
	for (size_t i = 0; i < (*l)->n_watches; i++)
		free((*l)->watches[i]);
	close((*l)->epfd);
	free((*l)->watches);
	free((*l)->check);
	free((*l)->events);
	free((*l)->ready);
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
		struct watch *w = l->watches[i];
		if (!w->removed && w->socket == socket && (socket || w->fd == fd))
			return w;
	}
	return NULL;
}

static uint32_t epoll_mask(const struct watch *w)
{
	uint32_t m = 0;

	if (w->socket || (w->events & ZMQ_POLLIN))
		m |= EPOLLIN;
	if (!w->socket && (w->events & ZMQ_POLLOUT))
		m |= EPOLLOUT;
	return m;
}

/* Puts a socket's watch in the list looked at before the next wait. */
static int check_later(struct loop *l, struct watch *w)
{
	if (w->to_check)
		return 0;
	if (grow((void **)&l->check, &l->cap_check, l->n_check + 1, sizeof(*l->check)))
		return -ENOMEM;
	l->check[l->n_check++] = w;
	w->to_check = true;
	return 0;
}

int loop_watch(struct loop *l, void *socket, int fd, short events, loop_io_fn fn, void *arg)
{
	struct epoll_event ev = {0};
	struct watch *w;
	size_t len = sizeof(fd);

	if (find_watch(l, socket, fd))
		return -EEXIST;
	if (socket && zmq_getsockopt(socket, ZMQ_FD, &fd, &len) != 0)
		return -errno;
	if (grow((void **)&l->watches, &l->cap_watches, l->n_watches + 1, sizeof(*l->watches)) ||
	    !(w = calloc(1, sizeof(*w))))
		return -ENOMEM;
	*w = (struct watch){.socket = socket, .fd = fd, .events = events, .fn = fn, .arg = arg};
	/* A socket may hold messages already, which its fd would not tell. */
	if (socket && check_later(l, w) < 0) {
		free(w);
		return -ENOMEM;
	}
	ev.events = epoll_mask(w);
	ev.data.ptr = w;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
		int err = -errno;
		if (w->to_check)
			l->n_check--;
		free(w);
		return err;
	}
	l->watches[l->n_watches++] = w;
	return 0;
}

int loop_watch_events(struct loop *l, void *socket, int fd, short events)
{
	struct watch *w = find_watch(l, socket, fd);
	struct epoll_event ev = {0};

	if (!w)
		return -ENOENT;
	w->events = events;
	if (socket)
		return check_later(l, w);
	ev.events = epoll_mask(w);
	ev.data.ptr = w;
	return epoll_ctl(l->epfd, EPOLL_CTL_MOD, w->fd, &ev) == 0 ? 0 : -errno;
}

void loop_unwatch(struct loop *l, void *socket, int fd)
{
	struct watch *w = find_watch(l, socket, fd);

	if (!w)
		return;
	/* Before the socket or fd is closed, as callers do: after, the fd
	 * number could name another file. */
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, w->fd, NULL);
	w->removed = true;
	l->watches_changed = true;
}

void loop_kick(struct loop *l, void *socket)
{
	struct watch *w = find_watch(l, socket, -1);

	/* Out of memory, the socket waits for its fd: it may lose a turn or
	 * a message's wake-up, never the message. */
	if (w && socket)
		(void)check_later(l, w);
}

/* Frees the watches removed since the last turn: nothing points to them
 * any more (epoll forgot them, the check list is compacted first). */
static void free_removed(struct loop *l)
{
	size_t kept = 0;

	for (size_t i = 0; i < l->n_check; i++)
		if (!l->check[i]->removed)
			l->check[kept++] = l->check[i];
	l->n_check = kept;
	kept = 0;
	for (size_t i = 0; i < l->n_watches; i++) {
		if (l->watches[i]->removed)
			free(l->watches[i]);
		else
			l->watches[kept++] = l->watches[i];
	}
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

void loop_virtual(struct loop *l, uint64_t start_ms)
{
	l->virtual_clock = true;
	l->now_ms = start_ms;
}

uint64_t loop_update_now(struct loop *l)
{
	if (!l->virtual_clock)
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

/* What a ready socket may be handed: ZMQ_EVENTS within its events. */
static short socket_revents(const struct watch *w)
{
	int ev = 0;
	size_t len = sizeof(ev);

	if (zmq_getsockopt(w->socket, ZMQ_EVENTS, &ev, &len) != 0)
		return ZMQ_POLLERR;
	return (short)(ev & w->events);
}

/* As zmq_poll() reports a plain fd: anything but in and out is an error. */
static short fd_revents(uint32_t ev)
{
	short r = 0;

	if (ev & EPOLLIN)
		r |= ZMQ_POLLIN;
	if (ev & EPOLLOUT)
		r |= ZMQ_POLLOUT;
	if (ev & ~(uint32_t)(EPOLLIN | EPOLLOUT))
		r |= ZMQ_POLLERR;
	return r;
}

static void add_ready(struct loop *l, size_t *n, struct watch *w, short revents)
{
	if (!revents || w->fired == l->turn + 1)
		return;
	w->fired = l->turn + 1;
	l->ready[(*n)++] = (struct ready){w, revents};
}

int loop_once(struct loop *l, uint64_t max_wait_ms)
{
	uint64_t wait = max_wait_ms;
	size_t n_ready = 0, n_check;
	int rc;

	if (l->virtual_clock) {
		uint64_t until = l->now_ms + max_wait_ms;
		if (l->n_timers && l->heap[0]->deadline_ms < until)
			until = l->heap[0]->deadline_ms > l->now_ms ? l->heap[0]->deadline_ms
			                                            : l->now_ms;
		l->now_ms = until;
		l->turn++;
		fire_timers(l);
		return 0;
	}
	if (l->watches_changed)
		free_removed(l);
	/* Room for every watch at most once: a watch is ready once a turn. */
	if (grow((void **)&l->ready, &l->cap_ready, l->n_watches + 1, sizeof(*l->ready)) ||
	    grow((void **)&l->events, &l->cap_events, l->n_watches + 1, sizeof(*l->events)))
		return -ENOMEM;
	/* Sockets something may have woken without their fd saying so. */
	n_check = l->n_check;
	l->n_check = 0;
	for (size_t i = 0; i < n_check; i++) {
		struct watch *w = l->check[i];
		w->to_check = false;
		add_ready(l, &n_ready, w, socket_revents(w));
	}
	if (n_ready)
		wait = 0;
	if (l->n_timers) {
		uint64_t next = l->heap[0]->deadline_ms;
		uint64_t until = next > l->now_ms ? next - l->now_ms : 0;
		if (until < wait)
			wait = until;
	}
	rc = epoll_wait(l->epfd, l->events, (int)l->cap_events,
	                wait > INT32_MAX ? INT32_MAX : (int)wait);
	loop_update_now(l);
	if (rc < 0 && errno != EINTR)
		return -errno;
	for (int i = 0; i < rc; i++) {
		struct watch *w = l->events[i].data.ptr;
		add_ready(l, &n_ready, w,
		          w->socket ? socket_revents(w)
		                    : (short)(fd_revents(l->events[i].events) &
		                              (w->events | ZMQ_POLLERR)));
	}
	l->turn++;
	/* Watches added by a handler during this turn wait for the next one;
	 * removed ones are skipped. */
	for (size_t i = 0; i < n_ready && !l->stopping; i++) {
		struct watch *w = l->ready[i].w;
		if (w->removed)
			continue;
		w->fn(l, w->arg, l->ready[i].revents);
		/* It may have left messages for the next turn (handlers read a
		 * batch), and reading took its fd's signal. */
		if (!w->removed && w->socket)
			(void)check_later(l, w);
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
