/* Uptime over 90 days, with exact figures: an empty series, one that
 * starts 10 days ago, stretches across midnight, now just after midnight,
 * transitions out of order, after now or before the window, verdicts
 * outside the enum, and the ratio that ignores unknown time. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "agent/monitor/uptime.h"
#include "proto/error.h"
#include "tap.h"

#define DAY UPTIME_DAY_S
#define LAST (UPTIME_DAYS - 1)
/* 2024-10-04 00:00:00 UTC, a day like any other */
#define TODAY ((uint64_t)20000 * DAY)
#define NOON (TODAY + 12 * 3600)
/* The start of day i of the window (LAST is today). */
#define DAY_START(i) (TODAY - (uint64_t)(LAST - (i)) * DAY)

static bool day_is(const struct uptime_day *d, uint32_t up, uint32_t degraded, uint32_t down,
                   uint32_t unknown)
{
	bool good =
	    d->up == up && d->degraded == degraded && d->down == down && d->unknown == unknown;

	if (!good)
		printf("#   day %llu: up %u degraded %u down %u unknown %u\n",
		       (unsigned long long)d->start, d->up, d->degraded, d->down, d->unknown);
	return good;
}

/* Every day adds up to a day, today to now - start, and the totals to
 * the days. */
static bool sums_right(const struct uptime *u, uint64_t now)
{
	uint64_t up = 0, degraded = 0, down = 0, unknown = 0;

	for (size_t i = 0; i < UPTIME_DAYS; i++) {
		const struct uptime_day *d = &u->days[i];
		uint64_t want = i == LAST ? now - d->start : DAY;

		if ((uint64_t)d->up + d->degraded + d->down + d->unknown != want)
			return false;
		if (i > 0 && d->start != u->days[i - 1].start + DAY)
			return false;
		up += d->up, degraded += d->degraded, down += d->down, unknown += d->unknown;
	}
	return up == u->up_s && degraded == u->degraded_s && down == u->down_s &&
	       unknown == u->unknown_s && u->days[LAST].start == now / DAY * DAY;
}

static void test_empty(void)
{
	struct uptime u;

	is(uptime_compute(&u, NULL, 0, NOON), 0, "an empty series");
	ok(sums_right(&u, NOON), "days add up");
	is(u.days[0].start, TODAY - 89 * DAY, "the first day is 89 days before today");
	is(u.days[LAST].start, TODAY, "the last is today");
	ok(day_is(&u.days[0], 0, 0, 0, DAY), "a past day: all unknown");
	ok(day_is(&u.days[LAST], 0, 0, 0, 12 * 3600), "today: unknown up to now");
	is(u.unknown_s, 89 * DAY + 12 * 3600, "total unknown");
	ok(u.ratio == -1.0, "no known time: ratio -1");
	is(uptime_day_worst(&u.days[LAST]), VERDICT_UNKNOWN, "the worst of an unknown day");
}

static void test_ten_days(void)
{
	const struct uptime_transition t[] = {{DAY_START(LAST - 10) + 3600, VERDICT_UP}};
	struct uptime u;

	is(uptime_compute(&u, t, 1, NOON), 0, "up since 01:00, 10 days ago");
	ok(sums_right(&u, NOON), "days add up");
	ok(day_is(&u.days[LAST - 11], 0, 0, 0, DAY), "11 days ago: unknown");
	ok(day_is(&u.days[LAST - 10], DAY - 3600, 0, 0, 3600), "10 days ago: 1 h unknown, then up");
	ok(day_is(&u.days[LAST - 9], DAY, 0, 0, 0), "9 days ago: up");
	ok(day_is(&u.days[LAST], 12 * 3600, 0, 0, 0), "today: up until now");
	is(u.up_s, 9 * DAY + (DAY - 3600) + 12 * 3600, "total up");
	is(u.unknown_s, 79 * DAY + 3600, "total unknown: before the first transition");
	ok(u.ratio == 1.0, "unknown time does not count: 100%");
	is(uptime_day_worst(&u.days[LAST - 10]), VERDICT_UP, "a day partly unknown, else up: up");
}

static void test_midnight(void)
{
	/* up until 22:13:20 on day 85, down across midnight until 00:33:20,
	 * up until 01:23:20, degraded for 10 s, then up */
	const struct uptime_transition t[] = {
	    {DAY_START(80), VERDICT_UP},        {DAY_START(85) + 80000, VERDICT_DOWN},
	    {DAY_START(86) + 2000, VERDICT_UP}, {DAY_START(86) + 5000, VERDICT_DEGRADED},
	    {DAY_START(86) + 5010, VERDICT_UP},
	};
	struct uptime u;

	is(uptime_compute(&u, t, 5, NOON), 0, "a down stretch across midnight");
	ok(sums_right(&u, NOON), "days add up");
	ok(day_is(&u.days[79], 0, 0, 0, DAY), "day 79: before the series");
	ok(day_is(&u.days[80], DAY, 0, 0, 0), "day 80: up from 00:00:00 on");
	ok(day_is(&u.days[85], 80000, 0, 6400, 0), "day 85: up, then down from 22:13:20");
	ok(day_is(&u.days[86], 3000 + (DAY - 5010), 10, 2000, 0),
	   "day 86: down until 00:33:20, up, degraded 10 s, up");
	ok(day_is(&u.days[87], DAY, 0, 0, 0), "day 87: up");
	is(uptime_day_worst(&u.days[85]), VERDICT_DOWN, "day 85's worst: down");
	is(uptime_day_worst(&u.days[86]), VERDICT_DOWN, "day 86's worst: down too");
	is(u.down_s, 8400, "down 8400 s in all");
	is(u.degraded_s, 10, "degraded 10 s");
	is(u.up_s, 9 * DAY + 12 * 3600 - 8400 - 10, "the rest of 9.5 days up");
	ok(u.ratio == (double)u.up_s / (double)(9 * DAY + 12 * 3600), "the ratio over known time");
}

static void test_just_after_midnight(void)
{
	const uint64_t now = TODAY + 1;
	const struct uptime_transition t[] = {
	    {DAY_START(LAST - 1) + 43200, VERDICT_DOWN},
	    {DAY_START(LAST - 1) + 64800, VERDICT_UP},
	};
	struct uptime u;

	is(uptime_compute(&u, t, 2, now), 0, "now at 00:00:01");
	ok(sums_right(&u, now), "days add up");
	ok(day_is(&u.days[LAST], 1, 0, 0, 0), "today: one second, up");
	ok(day_is(&u.days[LAST - 1], 21600, 0, 21600, 43200),
	   "yesterday: unknown until noon, down 6 h, up 6 h");
	ok(u.ratio == 21601.0 / 43201.0, "ratio: 21601 of 43201 known seconds");
	is(uptime_compute(&u, t, 2, TODAY), 0, "now at 00:00:00");
	ok(sums_right(&u, TODAY), "days add up");
	ok(day_is(&u.days[LAST], 0, 0, 0, 0), "today has no time yet");
	is(uptime_day_worst(&u.days[LAST]), VERDICT_UNKNOWN, "and shows unknown");
	ok(u.ratio == 0.5, "ratio: half the known time up");
}

static void test_odd_input(void)
{
	const struct uptime_transition before[] = {{DAY_START(0) - 1000, VERDICT_DOWN},
	                                           {DAY_START(0) + 100, VERDICT_UP}};
	const struct uptime_transition disorder[] = {
	    {DAY_START(LAST) + 100, VERDICT_UP},
	    {DAY_START(LAST) + 50, VERDICT_DOWN}, /* earlier than the one before */
	    {DAY_START(LAST) + 200, VERDICT_UP},
	    {NOON + 10, VERDICT_DOWN}, /* after now */
	};
	const struct uptime_transition odd[] = {{DAY_START(LAST), (enum verdict)7}};
	struct uptime u;

	is(uptime_compute(&u, before, 2, NOON), 0, "a transition before the window");
	ok(sums_right(&u, NOON), "days add up");
	ok(day_is(&u.days[0], DAY - 100, 0, 100, 0), "gives the state at its start");

	is(uptime_compute(&u, disorder, 4, NOON), 0, "transitions out of order and after now");
	ok(sums_right(&u, NOON), "days add up");
	ok(day_is(&u.days[LAST], 12 * 3600 - 100 - 100, 0, 100, 100),
	   "the late one lasts no time, the one after now does not count");

	is(uptime_compute(&u, odd, 1, NOON), 0, "a verdict outside the enum");
	ok(day_is(&u.days[LAST], 0, 0, 0, 12 * 3600), "counts as unknown");

	is(uptime_compute(&u, NULL, 0, 89 * DAY - 1), KITH_EVALUE,
	   "now before the 90th day since 1970: KITH_EVALUE");
	ok(u.days[0].start == 0 && u.up_s == 0, "*out zeroed");
	is(uptime_compute(&u, NULL, 0, UINT64_MAX), KITH_EVALUE, "now at UINT64_MAX: KITH_EVALUE");
	is(uptime_compute(&u, NULL, 0, 89 * DAY), 0, "the 90th day itself");
	is(u.days[0].start, 0, "starts on 1970-01-01");
}

static void test_worst(void)
{
	is(uptime_day_worst(&(struct uptime_day){.up = 1, .down = 1}), VERDICT_DOWN,
	   "one second down makes a day down");
	is(uptime_day_worst(&(struct uptime_day){.up = 5, .degraded = 1, .unknown = 9}),
	   VERDICT_DEGRADED, "degraded beats up and unknown");
	is(uptime_day_worst(&(struct uptime_day){.up = 1, .unknown = 9}), VERDICT_UP,
	   "unknown does not count against up");
}

int main(void)
{
	test_empty();
	test_ten_days();
	test_midnight();
	test_just_after_midnight();
	test_odd_input();
	test_worst();
	return tap_done();
}
