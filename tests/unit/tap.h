/* Minimal TAP output for unit tests: each check prints "ok N - what" or
 * "not ok N - what" with the place it failed; tap_done() prints the plan and
 * gives the exit status. */
#ifndef KITH_TESTS_TAP_H
#define KITH_TESTS_TAP_H

#include <stdio.h>
#include <string.h>

static int tap_count;
static int tap_failed;

static inline int tap_check(int cond, const char *file, int line, const char *what)
{
	tap_count++;
	if (cond) {
		printf("ok %d - %s\n", tap_count, what);
	} else {
		tap_failed++;
		printf("not ok %d - %s\n#   at %s:%d\n", tap_count, what, file, line);
	}
	return cond;
}

/* ok(cond, "what") */
#define ok(cond, what) tap_check(!!(cond), __FILE__, __LINE__, (what))
/* is(got, expected, "what") for integers; prints both on failure. */
#define is(got, want, what)                                                                        \
	do {                                                                                       \
		long long tap_g = (long long)(got), tap_w = (long long)(want);                     \
		if (!tap_check(tap_g == tap_w, __FILE__, __LINE__, (what)))                        \
			printf("#   got %lld, expected %lld\n", tap_g, tap_w);                     \
	} while (0)

static inline int tap_done(void)
{
	printf("1..%d\n", tap_count);
	if (tap_failed)
		printf("# %d of %d failed\n", tap_failed, tap_count);
	return tap_failed ? 1 : 0;
}

#endif
