/* Reproducible test data without libc's rand(): one xorshift64* generator
 * per test program, starting from RNG_SEED unless rng_seed() says
 * otherwise, so a test draws the same numbers on every run. */
#ifndef KITH_TESTS_RNG_H
#define KITH_TESTS_RNG_H

#include <stddef.h>
#include <stdint.h>

#define RNG_SEED UINT64_C(0x9e3779b97f4a7c15)

static uint64_t rng_state = RNG_SEED;

/* Restarts the sequence from seed, which must not be 0. */
static inline void rng_seed(uint64_t seed)
{
	rng_state = seed;
}

static inline uint64_t rng_next(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * UINT64_C(0x2545f4914f6cdd1d);
}

/* Fills p[0..len) with the top byte of one draw each. */
static inline void rng_fill(uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(rng_next() >> 56);
}

#endif
