/* tests/bench/bench_util.h - what the benchmarks share. */
#ifndef ZEROFS_BENCH_UTIL_H
#define ZEROFS_BENCH_UTIL_H

#include <stdbool.h>

/* Parses a plain decimal count in [min, max] for option opt; prints
 * "<prog>: ..." and returns false otherwise (strtoull alone accepts signs and
 * trailing junk). */
bool bench_parse_count(const char *prog, const char *opt, const char *s, unsigned long long min,
		       unsigned long long max, unsigned long long *out);
/* Monotonic seconds. */
double bench_now_s(void);

#endif
