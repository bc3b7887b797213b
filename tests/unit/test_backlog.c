/* The backlog of heavy messages: at once while the turn's budget lasts,
 * then one per peer waits, round-robin across peers, the rest refused;
 * a forgotten peer's message goes; nothing waits past what it may hold. */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "agent/net/backlog.h"
#include "agent/core/loop.h"
#include "tap.h"

struct seen {
	char order[64];
	size_t n;
	long work_us; /* how long each message takes */
};

static void busy_us(long us)
{
	struct timespec start, now;

	clock_gettime(CLOCK_MONOTONIC, &start);
	do
		clock_gettime(CLOCK_MONOTONIC, &now);
	while ((now.tv_sec - start.tv_sec) * 1000000 + (now.tv_nsec - start.tv_nsec) / 1000 < us);
}

static void handle(void *arg, const struct net_from *from, uint8_t type, const uint8_t *buf,
                   size_t len)
{
	struct seen *s = arg;

	(void)type;
	(void)len;
	(void)from;
	if (s->n < sizeof(s->order) - 1)
		s->order[s->n++] = (char)buf[0];
	busy_us(s->work_us);
}

static struct net_from peer(uint8_t id)
{
	struct net_from f = {.fd = -1};

	memset(f.peer, id, sizeof(f.peer));
	return f;
}

static int submit(struct backlog *b, uint8_t id, char tag)
{
	struct net_from f = peer(id);
	uint8_t msg[1] = {(uint8_t)tag};

	return backlog_submit(b, &f, 1, msg, sizeof(msg));
}

static void test_budget(void)
{
	struct loop *l = NULL;
	struct backlog *b = NULL;
	struct backlog_stats st;
	struct seen s = {.work_us = BACKLOG_TURN_US + 1000};
	struct net_from gone = peer(4);

	is(loop_new(&l), 0, "loop");
	is(backlog_new(&b, l, handle, &s), 0, "backlog_new");
	loop_once(l, 0);
	/* One message spends the whole budget of the turn. */
	is(submit(b, 1, 'a'), 0, "a: handled at once");
	is((int)s.n, 1, "a ran");
	is(submit(b, 1, 'b'), 0, "b (peer 1) waits");
	is(submit(b, 1, 'c'), -EBUSY, "c (peer 1, one waiting already) refused");
	is(submit(b, 2, 'd'), 0, "d (peer 2) waits");
	is(submit(b, 3, 'e'), 0, "e (peer 3) waits");
	is(submit(b, 4, 'x'), 0, "x (peer 4) waits");
	backlog_forget(b, gone.peer);
	backlog_get_stats(b, &st);
	ok(st.waiting == 3 && st.refused == 1 && st.deferred == 4 && st.handled == 1,
	   "3 waiting, 1 refused, 4 deferred, 1 handled");
	is((int)s.n, 1, "nothing more ran in this turn");
	/* Each later turn takes what waits while its budget lasts: one each. */
	for (int i = 0; i < 10 && s.n < 4; i++)
		loop_once(l, 100);
	s.order[s.n] = '\0';
	ok(!strcmp(s.order, "abde"), "then b, d, e in turn, one each; x was forgotten");
	backlog_get_stats(b, &st);
	ok(st.waiting == 0 && st.bytes == 0, "nothing left waiting");
	/* A peer with nothing waiting and a fresh turn: at once again. */
	loop_once(l, 0);
	is(submit(b, 1, 'f'), 0, "f: at once in a new turn");
	is((int)s.n, 5, "f ran");
	backlog_free(&b);
	loop_free(&l);
}

/* A cheap message leaves budget for the next ones of the same turn. */
static void test_cheap(void)
{
	struct loop *l = NULL;
	struct backlog *b = NULL;
	struct seen s = {.work_us = 0};
	struct backlog_stats st;

	loop_new(&l);
	backlog_new(&b, l, handle, &s);
	loop_once(l, 0);
	for (int i = 0; i < 50; i++)
		submit(b, (uint8_t)(i % 3), 'z');
	backlog_get_stats(b, &st);
	ok(st.handled == 50 && st.waiting == 0, "50 cheap messages handled in one turn");
	/* Messages waiting when the backlog is freed go with it. */
	s.work_us = BACKLOG_TURN_US + 1000;
	submit(b, 7, 'y');
	submit(b, 8, 'y');
	backlog_get_stats(b, &st);
	is((int)st.waiting, 1, "one waits");
	backlog_free(&b);
	ok(b == NULL, "freed with what waited");
	backlog_free(&b);
	loop_free(&l);
}

int main(void)
{
	test_budget();
	test_cheap();
	return tap_done();
}
