#include <string.h>

#include "verdict.h"

const char *verdict_name(enum verdict v)
{
	switch (v) {
	case VERDICT_UP:
		return "up";
	case VERDICT_DEGRADED:
		return "degraded";
	case VERDICT_DOWN:
		return "down";
	case VERDICT_UNKNOWN:
		break;
	}
	return "unknown";
}

/* Is obs[i] the latest word of its observer among obs[0..n)? */
static bool latest_of_observer(const struct verdict_obs *obs, size_t n, size_t i)
{
	for (size_t j = 0; j < n; j++)
		if (j != i && !memcmp(obs[j].observer, obs[i].observer, PROTO_KEY_LEN) &&
		    (obs[j].checked_at > obs[i].checked_at ||
		     (obs[j].checked_at == obs[i].checked_at && j < i)))
			return false;
	return true;
}

/* What the fresh observations say now, before damping. */
static enum verdict candidate(const struct verdict_params *p, const struct verdict_obs *obs,
                              size_t n, uint64_t now)
{
	uint32_t fresh = 0, down = 0, degraded = 0;

	for (size_t i = 0; i < n; i++) {
		if (obs[i].checked_at + p->fresh_s < now || !latest_of_observer(obs, n, i))
			continue;
		fresh++;
		down += obs[i].status == PROTO_STATUS_DOWN;
		degraded += obs[i].status == PROTO_STATUS_DEGRADED;
	}
	if (fresh < p->quorum)
		return VERDICT_UNKNOWN;
	if (down >= p->quorum)
		return VERDICT_DOWN;
	if (degraded >= p->quorum)
		return VERDICT_DEGRADED;
	return VERDICT_UP;
}

bool verdict_evaluate(struct verdict_state *st, const struct verdict_params *p,
                      const struct verdict_obs *obs, size_t n, uint64_t now)
{
	enum verdict c = candidate(p, obs, n, now);
	bool healthy = c == VERDICT_UP || c == VERDICT_DEGRADED;
	bool was_healthy = st->candidate == VERDICT_UP || st->candidate == VERDICT_DEGRADED;
	bool change;

	/* Up and degraded count as one streak for the recovery period. */
	if (c == st->candidate || (healthy && was_healthy && st->streak)) {
		st->streak++;
	} else {
		st->streak = 1;
		st->candidate_since = now;
	}
	st->candidate = c;
	if (c == st->current)
		return false;
	if (c == VERDICT_DOWN)
		change = st->streak >= p->down_after;
	else if (st->current == VERDICT_DOWN && healthy)
		change = now >= st->candidate_since + p->recovery_s;
	else
		change = true;
	if (!change)
		return false;
	st->current = c;
	st->since = now;
	return true;
}
