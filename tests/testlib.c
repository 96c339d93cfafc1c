/* tests/testlib.c - see testlib.h */
#include "testlib.h"

#include <signal.h>
#include <stdarg.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

_Atomic int tl_failures;
const char *tl_current;
static int passed, failed, skipped;
static const char *filter;
static bool skipping; /* the current test called tl_skip */
static char skip_why[256];

void tl_set_filter(const char *substr)
{
	filter = substr;
}

bool tl_selected(const char *name)
{
	return !filter || strstr(name, filter);
}

void tl_run(const char *name, tl_fn fn, void *ctx)
{
	struct timespec a, b;
	if (!tl_selected(name))
		return;
	tl_failures = 0;
	tl_current = name;
	skipping = false;
	clock_gettime(CLOCK_MONOTONIC, &a);
	fn(ctx);
	clock_gettime(CLOCK_MONOTONIC, &b);
	double ms = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
	if (tl_failures) {
		failed++;
		printf("FAIL %s (%d failed checks, %.0f ms)\n", name, tl_failures, ms);
	} else if (skipping) {
		skipped++;
		printf("skip %s (%s, %.0f ms)\n", name, skip_why, ms);
	} else {
		passed++;
		printf("ok   %s (%.0f ms)\n", name, ms);
	}
	skipping = false;
	fflush(stdout);
}

void tl_skip(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(skip_why, sizeof(skip_why), fmt, ap);
	va_end(ap);
	skipping = true;
}

void tl_fail_setup(const char *name, const char *fmt, ...)
{
	char why[512];
	va_list ap;

	if (!tl_selected(name))
		return;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	failed++;
	printf("FAIL %s (set-up failed: %s)\n", name, why);
	fflush(stdout);
}

int tl_finish(void)
{
	printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
	if (failed || (!passed && !skipped))
		return 1;
	return passed ? 0 : 77;
}

int tl_fork_kill(void (*fn)(int round, int fd), int round, unsigned after_us, int *how)
{
	int p[2];
	if (pipe(p) != 0)
		return -1;
	pid_t pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		close(p[0]);
		fn(round, p[1]);
		_exit(99); /* fn returned: the caller's check of *how says so */
	}
	close(p[1]);
	usleep(after_us);
	kill(pid, SIGKILL);
	waitpid(pid, how, 0);
	return p[0];
}

unsigned long long tl_seed(void)
{
	const char *e = getenv("ZEROFS_TEST_SEED");
	unsigned long long seed;
	if (e && *e) {
		seed = strtoull(e, NULL, 0);
	} else {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		seed = (unsigned long long)ts.tv_sec * 1000003ULL ^ (unsigned long long)ts.tv_nsec;
	}
	printf("seed: %llu (replay with ZEROFS_TEST_SEED=%llu)\n", seed, seed);
	return seed;
}

unsigned long long tl_rand64(unsigned long long *s)
{
	unsigned long long z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void tl_fill_random(void *p, size_t n, unsigned long long *state)
{
	unsigned char *c = p;
	for (size_t i = 0; i < n; i++) {
		*state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
		c[i] = (unsigned char)(*state >> 56);
	}
}

int tl_capture(const char *cmd, char **out, size_t *len)
{
	FILE *p = popen(cmd, "r");
	size_t cap = 65536;
	char *buf;
	int st;

	*out = NULL;
	*len = 0;
	if (!p)
		return -1;
	buf = malloc(cap + 1);
	for (size_t n; buf && (n = fread(buf + *len, 1, cap - *len, p)) > 0;) {
		*len += n;
		if (*len == cap) {
			char *b = realloc(buf, (cap *= 2) + 1);
			if (!b)
				break;
			buf = b;
		}
	}
	if (buf)
		buf[*len] = '\0';
	*out = buf;
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}
