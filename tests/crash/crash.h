/* The crash tests' shared helpers: a xorshift64 generator, so a run
 * replays from the seed it prints (KITH_CRASH_SEED), and a monotonic clock
 * for their time budgets. */
#ifndef KITH_TESTS_CRASH_H
#define KITH_TESTS_CRASH_H

#include <stdint.h>
#include <time.h>

static uint64_t crash_rng_state;

/* Restarts the sequence from seed, which must not be 0. */
static inline void crash_rng_seed(uint64_t seed)
{
	crash_rng_state = seed;
}

static inline uint64_t crash_rng(void)
{
	crash_rng_state ^= crash_rng_state << 13;
	crash_rng_state ^= crash_rng_state >> 7;
	crash_rng_state ^= crash_rng_state << 17;
	return crash_rng_state;
}

/* Nanoseconds on the monotonic clock, from an arbitrary start. */
static inline int64_t crash_clock_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

#endif
