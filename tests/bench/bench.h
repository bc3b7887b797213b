/* The benchmarks' shared timing helpers: a monotonic clock in seconds and
 * the median of a run's figures. */
#ifndef KITH_TESTS_BENCH_H
#define KITH_TESTS_BENCH_H

#include <stddef.h>
#include <stdlib.h>
#include <time.h>

/* Seconds on the monotonic clock, from an arbitrary start. */
static inline double bench_clock_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Sorts v[0..n) in ascending order. */
static inline void bench_sort(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), bench_cmp_double);
}

/* The median of v[0..n), n >= 1: the middle figure, or the mean of the two
 * middle ones when n is even. Sorts v in place. */
static inline double bench_median(double *v, int n)
{
	bench_sort(v, (size_t)n);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#endif
