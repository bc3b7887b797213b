/* Quorum verdicts: unknown without a quorum, down only after down_after
 * evaluations, up again only after the recovery period, one broken
 * observer never flips anything, stale observations do not count. */
#include <string.h>

#include "agent/monitor/verdict.h"
#include "tap.h"

static const struct verdict_params params = {
    .quorum = 2, .down_after = 2, .recovery_s = 60, .fresh_s = 90};

static struct verdict_obs obs[3];
static struct verdict_state st;

/* Observers 0, 1, 2 say a, b, c at time at; then one evaluation. */
static bool say(enum proto_status a, enum proto_status b, enum proto_status c, uint64_t at)
{
	enum proto_status s[3] = {a, b, c};

	for (size_t i = 0; i < 3; i++) {
		memset(obs[i].observer, (int)i + 1, PROTO_KEY_LEN);
		obs[i].status = s[i];
		obs[i].checked_at = at;
	}
	return verdict_evaluate(&st, &params, obs, 3, at);
}

#define UP PROTO_STATUS_UP
#define DOWN PROTO_STATUS_DOWN
#define DEG PROTO_STATUS_DEGRADED

int main(void)
{
	uint64_t t = 1000000;

	obs[0] = (struct verdict_obs){.status = UP, .checked_at = t};
	memset(obs[0].observer, 1, PROTO_KEY_LEN);
	ok(!verdict_evaluate(&st, &params, obs, 1, t), "one observer: no change");
	is(st.current, VERDICT_UNKNOWN, "one observer is no quorum: unknown");
	ok(say(UP, UP, UP, t), "three saying up: a change");
	is(st.current, VERDICT_UP, "up at once");

	for (uint64_t i = 1; i <= 10; i++)
		say(DOWN, UP, UP, t + i * 10); /* observer 0's network broke */
	is(st.current, VERDICT_UP, "one observer saying down never flips the verdict");

	t += 200;
	ok(!say(DOWN, DOWN, UP, t), "first down evaluation: no change");
	is(st.current, VERDICT_UP, "still up after one evaluation");
	ok(say(DOWN, DOWN, UP, t + 10), "second: down");
	is(st.current, VERDICT_DOWN, "down after down_after evaluations");
	is(st.since, t + 10, "since the evaluation that decided");

	ok(!say(UP, UP, UP, t + 20), "back up: not yet");
	say(DOWN, DOWN, UP, t + 30); /* a flap inside the recovery period */
	say(UP, UP, UP, t + 40);
	ok(!say(UP, UP, UP, t + 90), "recovery restarted by the flap: 50 s is not enough");
	is(st.current, VERDICT_DOWN, "still down");
	ok(say(DEG, UP, UP, t + 100), "60 s of up: a change");
	is(st.current, VERDICT_UP, "up again after the recovery period");

	ok(say(DEG, DEG, UP, t + 110), "two say degraded");
	is(st.current, VERDICT_DEGRADED, "degraded at once");

	ok(verdict_evaluate(&st, &params, obs, 3, t + 110 + 91), "everything went stale");
	is(st.current, VERDICT_UNKNOWN, "stale observations: unknown");

	/* The same observer twice counts once, with its latest word. */
	memset(&st, 0, sizeof(st));
	t += 1000;
	say(DOWN, DOWN, UP, t);
	obs[1].checked_at = t - 10;
	memcpy(obs[1].observer, obs[0].observer, PROTO_KEY_LEN);
	verdict_evaluate(&st, &params, obs, 3, t);
	verdict_evaluate(&st, &params, obs, 3, t + 10);
	is(st.current, VERDICT_UP, "one observer twice is not a quorum of two");
	ok(!strcmp(verdict_name(VERDICT_DOWN), "down") && !strcmp(verdict_name(7), "unknown"),
	   "names");
	return tap_done();
}
