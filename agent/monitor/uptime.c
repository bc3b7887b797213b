/* Each stretch of one verdict is cut along day boundaries and added to
 * the days it covers: O(n + UPTIME_DAYS) whatever the times. */
#include <string.h>

#include "proto/error.h"
#include "uptime.h"

/* Adds the seconds [from, to) of verdict v to the days they fall in;
 * [from, to) lies within the window. */
static void add_span(struct uptime *u, uint64_t from, uint64_t to, enum verdict v)
{
	uint64_t first = u->days[0].start;

	while (from < to) {
		size_t i = (size_t)((from - first) / UPTIME_DAY_S);
		uint64_t end = u->days[i].start + UPTIME_DAY_S;
		uint32_t s = (uint32_t)((to < end ? to : end) - from);
		struct uptime_day *d = &u->days[i];

		switch (v) {
		case VERDICT_UP:
			d->up += s;
			break;
		case VERDICT_DEGRADED:
			d->degraded += s;
			break;
		case VERDICT_DOWN:
			d->down += s;
			break;
		default:
			d->unknown += s;
			break;
		}
		from += s;
	}
}

/* Clips [from, to) to [lo, hi) and adds what is left. */
static void add_clipped(struct uptime *u, uint64_t from, uint64_t to, enum verdict v, uint64_t lo,
                        uint64_t hi)
{
	if (from < lo)
		from = lo;
	if (to > hi)
		to = hi;
	if (from < to)
		add_span(u, from, to, v);
}

static void totals(struct uptime *u)
{
	uint64_t known;

	for (size_t i = 0; i < UPTIME_DAYS; i++) {
		u->up_s += u->days[i].up;
		u->degraded_s += u->days[i].degraded;
		u->down_s += u->days[i].down;
		u->unknown_s += u->days[i].unknown;
	}
	known = u->up_s + u->degraded_s + u->down_s;
	u->ratio = known ? (double)u->up_s / (double)known : -1.0;
}

int uptime_compute(struct uptime *out, const struct uptime_transition *t, size_t n, uint64_t now)
{
	uint64_t today, lo, prev = 0;
	enum verdict v = VERDICT_UNKNOWN;

	memset(out, 0, sizeof(*out));
	/* at the far end, today's end would not fit in 64 bits */
	if (now / UPTIME_DAY_S < UPTIME_DAYS - 1 || now > UINT64_MAX - UPTIME_DAY_S)
		return KITH_EVALUE;
	today = now / UPTIME_DAY_S * UPTIME_DAY_S;
	lo = today - (uint64_t)(UPTIME_DAYS - 1) * UPTIME_DAY_S;
	for (size_t i = 0; i < UPTIME_DAYS; i++)
		out->days[i].start = lo + i * UPTIME_DAY_S;
	for (size_t i = 0; i < n; i++) {
		uint64_t at = t[i].at > prev ? t[i].at : prev;

		add_clipped(out, prev, at, v, lo, now);
		prev = at;
		v = t[i].verdict;
	}
	add_clipped(out, prev, now, v, lo, now);
	totals(out);
	return 0;
}

enum verdict uptime_day_worst(const struct uptime_day *d)
{
	if (d->down)
		return VERDICT_DOWN;
	if (d->degraded)
		return VERDICT_DEGRADED;
	return d->up ? VERDICT_UP : VERDICT_UNKNOWN;
}
