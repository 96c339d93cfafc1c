/*
 * tests/testlib.h - a minimal test harness: CHECK macros that record
 * failures without aborting, and a runner that prints one line per test
 * (ok, FAIL or skip) and the closing "N passed, N failed, N skipped" line
 * ctest logs show.
 */
#ifndef ZEROFS_TESTLIB_H
#define ZEROFS_TESTLIB_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern _Atomic int tl_failures; /* failed checks in the current test (any thread) */
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

/* Ends the current test as skipped: it cannot run here (say why). A test
 * that skips after a failed check still counts as failed. */
#define SKIP(...)                                                                     \
	do {                                                                          \
		tl_skip(__VA_ARGS__);                                                 \
		return;                                                               \
	} while (0)

/* 1 in a ThreadSanitizer build (ZEROFS_TSAN), where every memory access is
 * checked: a test whose single-threaded loops would take minutes there may
 * use a smaller parameter under it, and prints that it did. */
#if defined(__SANITIZE_THREAD__)
#define TL_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TL_TSAN 1
#endif
#endif
#ifndef TL_TSAN
#define TL_TSAN 0
#endif

typedef void (*tl_fn)(void *ctx);

/* Runs fn if name matches the filter (argv pattern, NULL = all). */
void tl_run(const char *name, tl_fn fn, void *ctx);
/* Marks the running test skipped with a reason (printf format); SKIP() also
 * returns from it. Never for a test that should have run: that is a failure. */
void tl_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Records the test name as failed without running it, because what it needs
 * could not be set up (a server that did not start, a mount that failed);
 * the reason (printf format) is printed with it. Nothing if the filter
 * leaves the test out. */
void tl_fail_setup(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints the summary; returns the process exit status: 1 if a test failed
 * or none ran, 77 if every test that ran was skipped (ctest's
 * SKIP_RETURN_CODE, tests/CMakeLists.txt), else 0. */
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

/* Crash tests: forks a child that runs fn(round, fd) with fd the write end
 * of a pipe (fn must not return: it works until killed), SIGKILLs it after
 * after_us microseconds and reaps it. Returns the pipe's read end (what the
 * child wrote is still there; close it), or -1. *how: the child's exit
 * status for the caller to check that the kill is what ended it. */
int tl_fork_kill(void (*fn)(int round, int fd), int round, unsigned after_us, int *how);
/* splitmix64: the next pseudo-random 64 bits from *state. */
unsigned long long tl_rand64(unsigned long long *state);
/* Fills p with n pseudo-random bytes from *state. */
void tl_fill_random(void *p, size_t n, unsigned long long *state);

#endif
