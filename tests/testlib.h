/*
 * tests/testlib.h - a minimal test harness: CHECK macros that record
 * failures without aborting, and a runner that prints one line per test and
 * the closing "N passed, N failed" line ctest logs show.
 */
#ifndef ZEROFS_TESTLIB_H
#define ZEROFS_TESTLIB_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern int tl_failures;   /* failed checks in the current test */
extern const char *tl_current;

#define CHECK(cond)                                                                   \
	do {                                                                          \
		if (!(cond)) {                                                        \
			tl_failures++;                                                \
			fprintf(stderr, "  FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); \
		}                                                                     \
	} while (0)

#define CHECK_MSG(cond, ...)                                                          \
	do {                                                                          \
		if (!(cond)) {                                                        \
			tl_failures++;                                                \
			fprintf(stderr, "  FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__);                                 \
			fputc('\n', stderr);                                          \
		}                                                                     \
	} while (0)

/* Ends the current test early (after a failure that makes going on pointless). */
#define REQUIRE(cond)                                                                 \
	do {                                                                          \
		if (!(cond)) {                                                        \
			tl_failures++;                                                \
			fprintf(stderr, "  FAIL %s:%d: %s (fatal for this test)\n", __FILE__, \
				__LINE__, #cond);                                     \
			return;                                                       \
		}                                                                     \
	} while (0)

typedef void (*tl_fn)(void *ctx);

/* Runs fn if name matches the filter (argv pattern, NULL = all). */
void tl_run(const char *name, tl_fn fn, void *ctx);
/* Prints the summary; returns the process exit status. */
int tl_finish(void);
/* Seed from ZEROFS_TEST_SEED or the clock, printed so a run can be replayed. */
unsigned long long tl_seed(void);
void tl_set_filter(const char *substr);
/* Whether tl_run would run a test of this name (lets a caller skip set-up). */
bool tl_selected(const char *name);
/* Runs cmd with the shell, its stdout in *out (malloc'd, NUL-terminated,
 * *len bytes; NULL if out of memory); its exit status, or -1 if it could
 * not run or did not exit. */
int tl_capture(const char *cmd, char **out, size_t *len);
/* splitmix64: the next pseudo-random 64 bits from *state. */
unsigned long long tl_rand64(unsigned long long *state);
/* Fills p with n pseudo-random bytes from *state. */
void tl_fill_random(void *p, size_t n, unsigned long long *state);

#endif
