/* The event loop: timers fire in deadline order, stop and restart work from
 * inside handlers, file descriptors and ZeroMQ sockets are dispatched, and
 * no message on a socket waits for a wake-up that was taken. */
#include <errno.h>
#include <unistd.h>

#include <zmq.h>

#include "agent/core/loop.h"
#include "tap.h"

struct rec {
	int order[16];
	int n;
	struct loop_timer *other; /* stopped by the first handler */
};

static struct rec log_;

static void note(struct loop *l, void *arg)
{
	(void)l;
	if (log_.n < 16)
		log_.order[log_.n++] = (int)(long)arg;
}

static void stop_other(struct loop *l, void *arg)
{
	note(l, arg);
	loop_timer_stop(l, log_.other);
}

static void test_timers(void)
{
	struct loop *l = NULL;
	struct loop_timer t[6];
	int order_ok;

	is(loop_new(&l), 0, "loop_new");
	for (long i = 0; i < 6; i++)
		loop_timer_init(&t[i], note, (void *)i);
	loop_timer_start(l, &t[0], 30);
	loop_timer_start(l, &t[1], 10);
	loop_timer_start(l, &t[2], 20);
	loop_timer_start(l, &t[3], 5);
	loop_timer_start(l, &t[4], 15);
	loop_timer_stop(l, &t[4]);
	ok(!loop_timer_active(&t[4]), "stopped timer is inactive");
	loop_timer_start(l, &t[3], 25); /* restart moves it */
	for (int i = 0; i < 50 && log_.n < 4; i++)
		loop_once(l, 100);
	order_ok = log_.n == 4 && log_.order[0] == 1 && log_.order[1] == 2 && log_.order[2] == 3 &&
	           log_.order[3] == 0;
	ok(order_ok, "timers fire in deadline order, restarted one at its new time");

	log_.n = 0;
	loop_timer_init(&t[0], stop_other, (void *)10L);
	loop_timer_init(&t[1], note, (void *)11L);
	log_.other = &t[1];
	loop_timer_start(l, &t[0], 1);
	loop_timer_start(l, &t[1], 1);
	for (int i = 0; i < 5; i++)
		loop_once(l, 20);
	ok(log_.n == 1 && log_.order[0] == 10, "a handler can stop another due timer");
	loop_free(&l);
	ok(l == NULL, "loop_free clears the pointer");
}

static int fd_hits, zmq_hits;

static void on_fd(struct loop *l, void *arg, short revents)
{
	char c;
	(void)l;
	if ((revents & ZMQ_POLLIN) && read(*(int *)arg, &c, 1) == 1)
		fd_hits++;
}

static void on_zmq(struct loop *l, void *arg, short revents)
{
	char buf[8];
	if ((revents & ZMQ_POLLIN) && zmq_recv(arg, buf, sizeof(buf), ZMQ_DONTWAIT) >= 0)
		zmq_hits++;
	loop_unwatch(l, arg, -1); /* removing oneself inside the handler */
}

static void test_io(void)
{
	struct loop *l = NULL;
	void *ctx = zmq_ctx_new();
	void *a = zmq_socket(ctx, ZMQ_PAIR), *b = zmq_socket(ctx, ZMQ_PAIR);
	int fds[2];

	loop_new(&l);
	ok(pipe(fds) == 0, "pipe");
	zmq_bind(a, "inproc://test-loop");
	zmq_connect(b, "inproc://test-loop");
	is(loop_watch(l, NULL, fds[0], ZMQ_POLLIN, on_fd, &fds[0]), 0, "watch fd");
	is(loop_watch(l, NULL, fds[0], ZMQ_POLLIN, on_fd, &fds[0]), -EEXIST, "no double watch");
	is(loop_watch(l, a, -1, ZMQ_POLLIN, on_zmq, a), 0, "watch zmq socket");
	ok(write(fds[1], "x", 1) == 1, "write pipe");
	zmq_send(b, "hi", 2, 0);
	zmq_send(b, "hi", 2, 0);
	for (int i = 0; i < 10; i++)
		loop_once(l, 20);
	is(fd_hits, 1, "fd handler ran once");
	is(zmq_hits, 1, "zmq handler ran, then unwatched itself");
	loop_unwatch(l, NULL, fds[0]);
	ok(write(fds[1], "y", 1) == 1, "write pipe again");
	for (int i = 0; i < 3; i++)
		loop_once(l, 5);
	is(fd_hits, 1, "unwatched fd is not dispatched");
	loop_free(&l);
	zmq_close(a);
	zmq_close(b);
	zmq_ctx_term(ctx);
	close(fds[0]);
	close(fds[1]);
}

/* Reads one message per call, as handlers that read a batch leave some
 * for the next turn. */
static int one_hits;
static void on_one(struct loop *l, void *arg, short revents)
{
	char buf[8];

	(void)l;
	if ((revents & ZMQ_POLLIN) && zmq_recv(arg, buf, sizeof(buf), ZMQ_DONTWAIT) >= 0)
		one_hits++;
}

static void run_turns(struct loop *l, int turns)
{
	for (int i = 0; i < turns; i++)
		loop_once(l, 20);
}

/* A ZeroMQ socket's fd signals once for what may be many messages, and a
 * send on the socket can take that signal: the loop must still see every
 * message. */
static void test_socket_wakeups(void)
{
	struct loop *l = NULL;
	void *ctx = zmq_ctx_new();
	void *a = zmq_socket(ctx, ZMQ_PAIR), *b = zmq_socket(ctx, ZMQ_PAIR);
	uint64_t t0;

	loop_new(&l);
	zmq_bind(a, "inproc://test-wakeups");
	zmq_connect(b, "inproc://test-wakeups");
	for (int i = 0; i < 3; i++)
		zmq_send(b, "m", 1, 0);
	is(loop_watch(l, a, -1, ZMQ_POLLIN, on_one, a), 0, "wakeups: watch a socket holding 3");
	run_turns(l, 4);
	is(one_hits, 3, "wakeups: queued before the watch, left by a handler: all read");

	/* A message arrives, then a send on the receiving socket takes the
	 * wake-up with the socket's commands; the kick brings it back. */
	zmq_send(b, "m", 1, 0);
	zmq_send(a, "r", 1, 0);
	loop_kick(l, a);
	run_turns(l, 2);
	is(one_hits, 4, "wakeups: a message whose wake-up a send took is read");

	t0 = loop_clock_ms();
	for (int i = 0; i < 4; i++)
		loop_once(l, 50);
	ok(loop_clock_ms() - t0 >= 150, "wakeups: an idle loop waits rather than spins");
	loop_unwatch(l, a, -1);
	loop_kick(l, a);
	zmq_send(b, "m", 1, 0);
	run_turns(l, 2);
	is(one_hits, 4, "wakeups: an unwatched socket is not dispatched, kicked or not");
	loop_free(&l);
	zmq_close(a);
	zmq_close(b);
	zmq_ctx_term(ctx);
}

int main(void)
{
	test_timers();
	test_io();
	test_socket_wakeups();
	return tap_done();
}
