/* The agent's single-threaded event loop, in the manner of czmq's zloop:
 * ZeroMQ sockets and plain file descriptors (libcurl's, a signal pipe)
 * watched through one epoll set, with a timer heap giving the wait its
 * timeout. A turn costs what is ready, not what is watched: an agent
 * holds a DEALER per member (loop.c says how sockets are looked at).
 *
 * Handlers run one at a time and must not block. A handler may add or
 * remove watches and timers, its own included, at any moment. Watches
 * must be removed before their socket or fd is closed. */
#ifndef KITH_AGENT_CORE_LOOP_H
#define KITH_AGENT_CORE_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct loop;

/* Called when the watched socket or fd is ready; revents is a mask of
 * ZMQ_POLLIN, ZMQ_POLLOUT, ZMQ_POLLERR. */
typedef void (*loop_io_fn)(struct loop *l, void *arg, short revents);
typedef void (*loop_timer_fn)(struct loop *l, void *arg);

/* A timer is owned by its user (embedded in a module's struct) and must
 * stay in place while it is active. */
struct loop_timer {
	uint64_t deadline_ms;
	size_t slot; /* position in the heap + 1; 0 when not active */
	loop_timer_fn fn;
	void *arg;
};

/* On success *out is owned by the caller: free it with loop_free(). */
int loop_new(struct loop **out);
/* Frees *l and sets it to NULL; harmless on NULL. Sockets are not closed. */
void loop_free(struct loop **l);

/* Watches a ZeroMQ socket (borrowed) or, when socket is NULL, the file
 * descriptor fd. Returns 0 or -ENOMEM / -EEXIST. */
int loop_watch(struct loop *l, void *socket, int fd, short events, loop_io_fn fn, void *arg);
/* Changes the events of an existing watch. Returns 0 or -ENOENT. */
int loop_watch_events(struct loop *l, void *socket, int fd, short events);
/* Stops watching; harmless when not watched. */
void loop_unwatch(struct loop *l, void *socket, int fd);
/* socket (watched) was used outside its handler (a send): looks at it
 * again before the next wait, since the call may have taken the wake-up
 * of a message that arrived meanwhile. Harmless on a socket not watched. */
void loop_kick(struct loop *l, void *socket);

void loop_timer_init(struct loop_timer *t, loop_timer_fn fn, void *arg);
/* Starts (or restarts) t to fire once after delay_ms. Returns 0 or -ENOMEM. */
int loop_timer_start(struct loop *l, struct loop_timer *t, uint64_t delay_ms);
/* Stops t; harmless when it is not active. */
void loop_timer_stop(struct loop *l, struct loop_timer *t);
bool loop_timer_active(const struct loop_timer *t);

/* Milliseconds of a monotonic clock, read once per turn of the loop. */
uint64_t loop_now_ms(const struct loop *l);
/* Counts the turns of the loop (one poll and what it dispatched): for
 * budgets of work per turn. */
uint64_t loop_turn(const struct loop *l);
/* Re-reads the clock (for handlers that worked long). */
uint64_t loop_update_now(struct loop *l);

/* Runs until loop_stop(). Returns 0, or -errno when epoll_wait() fails for a
 * reason other than a signal. */
int loop_run(struct loop *l);
/* Makes loop_run() return after the current handler. */
void loop_stop(struct loop *l);
/* Runs one turn: poll at most max_wait_ms (or until the next timer), then
 * dispatch. For tests and for loop_run(). */
int loop_once(struct loop *l, uint64_t max_wait_ms);

/* For simulations (tests/sim): l runs on a virtual clock from start_ms.
 * l must watch nothing; loop_once() waits for nothing: it moves the clock
 * to the next timer's deadline, at most max_wait_ms on, and fires what is
 * due. loop_now_ms() and loop_update_now() give that clock; loop_wall_s()
 * stays real. */
void loop_virtual(struct loop *l, uint64_t start_ms);

/* Monotonic milliseconds, outside of any loop. */
uint64_t loop_clock_ms(void);
/* The wall clock in Unix seconds: what records, grants and observations
 * are dated with. */
uint64_t loop_wall_s(void);

#endif
