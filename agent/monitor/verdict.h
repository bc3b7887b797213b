/* Quorum verdicts on a service's health, from its observers' latest
 * observations. Pure logic: no I/O, no clock of its own.
 *
 * At each evaluation only fresh observations count (checked within
 * fresh_s of now), from distinct observers. With fewer than quorum of them
 * the candidate is unknown; with at least quorum saying down, down; else
 * with at least quorum saying degraded, degraded; else up. The verdict
 * becomes down only after down_after consecutive evaluations with a down
 * candidate, and leaves down for up or degraded only once the candidate
 * has been up or degraded for recovery_s; other changes take effect at
 * once. So one observer with a broken network never flips a verdict, and
 * a flapping service does not flap its alerts. */
#ifndef KITH_AGENT_MONITOR_VERDICT_H
#define KITH_AGENT_MONITOR_VERDICT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/body.h"
#include "proto/limits.h"

enum verdict {
	VERDICT_UNKNOWN = 0,
	VERDICT_UP = 1,
	VERDICT_DEGRADED = 2,
	VERDICT_DOWN = 3,
};

struct verdict_params {
	uint32_t quorum;     /* >= 1 */
	uint32_t down_after; /* >= 1 */
	uint64_t recovery_s;
	uint64_t fresh_s;
};

/* One observer's latest word. */
struct verdict_obs {
	uint8_t observer[PROTO_KEY_LEN];
	enum proto_status status;
	uint64_t checked_at;
};

/* Kept per service between evaluations; zero it to start (unknown). */
struct verdict_state {
	enum verdict current;
	uint64_t since; /* Unix seconds of the last change, 0: never */
	enum verdict candidate;
	uint32_t streak; /* consecutive evaluations with this candidate */
	uint64_t candidate_since;
};

/* Evaluates obs[0..n) at now; returns true when st->current changed. An
 * observer listed twice counts once (its latest observation). */
bool verdict_evaluate(struct verdict_state *st, const struct verdict_params *p,
                      const struct verdict_obs *obs, size_t n, uint64_t now);
const char *verdict_name(enum verdict v);

#endif
