/* tests/bench/bench_util.c - see bench_util.h */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "bench_util.h"

bool bench_parse_count(const char *prog, const char *opt, const char *s, unsigned long long min,
		       unsigned long long max, unsigned long long *out)
{
	char *end;
	errno = 0;
	if (!s || !isdigit((unsigned char)s[0]) ||
	    (*out = strtoull(s, &end, 10), errno != 0 || *end != '\0') || *out < min || *out > max) {
		fprintf(stderr, "%s: %s wants a whole number in %llu..%llu, not '%s'\n", prog, opt,
			min, max, s ? s : "");
		return false;
	}
	return true;
}

double bench_now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
