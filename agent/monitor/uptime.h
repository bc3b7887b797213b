/* A service's last 90 days from its verdict's transitions: seconds spent
 * in each state per UTC day, and the share of known time it was up. Pure:
 * no I/O, no clock of its own, no allocation; the caller owns every
 * buffer.
 *
 * A series of transitions says the verdict from each at on, until the
 * next; the time before the first one is unknown, and the last one lasts
 * until now. Only the days (00:00:00 to 23:59:59 UTC) from 89 days
 * before now's day to now's day count, and now's day up to now. */
#ifndef KITH_AGENT_MONITOR_UPTIME_H
#define KITH_AGENT_MONITOR_UPTIME_H

#include <stddef.h>
#include <stdint.h>

#include "verdict.h"

#define UPTIME_DAYS 90
#define UPTIME_DAY_S 86400

/* The verdict from at (Unix seconds) on. */
struct uptime_transition {
	uint64_t at;
	enum verdict verdict;
};

/* One UTC day: the seconds it spent in each state. They add up to 86400,
 * or for today to now - start (0 when now is midnight). */
struct uptime_day {
	uint64_t start; /* 00:00:00 UTC of the day, Unix seconds */
	uint32_t up, degraded, down, unknown;
};

struct uptime {
	struct uptime_day days[UPTIME_DAYS]; /* oldest first: days[UPTIME_DAYS - 1] is today */
	/* Totals over the days, unknown time included. */
	uint64_t up_s, degraded_s, down_s, unknown_s;
	/* up_s / (up_s + degraded_s + down_s): the share of the time with a
	 * verdict that the verdict was up (degraded is not up); -1 when no
	 * time had a verdict. */
	double ratio;
};

/* Fills *out from t[0..n) (borrowed) at now. Transitions are taken in
 * their order: one earlier than the one before it counts from that one's
 * time (it lasted no time), one after now not at all, and a verdict
 * outside enum verdict counts as unknown. KITH_EVALUE when now is before
 * the 90th day after 1970-01-01 (a clock not set: there are not 90 days
 * to show) or within a day of UINT64_MAX; *out is zeroed then. */
int uptime_compute(struct uptime *out, const struct uptime_transition *t, size_t n, uint64_t now);

/* The worst state of a day: down if it had any down second, else
 * degraded if any, else up if any, else unknown. What a day's bar shows;
 * unknown time does not count against a day that had a verdict. */
enum verdict uptime_day_worst(const struct uptime_day *d);

#endif
