/* fsal_zerofs/admin/progress.c - the progress line (admin.h) */
#include <stdarg.h>
#include <time.h>
#include <unistd.h>

#include "admin.h"

#define REDRAW_MS 250

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void progress_init(struct progress *p, const char *what)
{
	p->on = isatty(STDERR_FILENO) == 1;
	p->drawn = false;
	p->last_ms = mono_ms();
	p->what = what;
}

void progress_tick(struct progress *p, const char *fmt, ...)
{
	va_list ap;
	uint64_t now;
	if (!p->on || (now = mono_ms()) - p->last_ms < REDRAW_MS)
		return;
	p->last_ms = now;
	fprintf(stderr, "\r\033[K%s: ", p->what);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fflush(stderr);
	p->drawn = true;
}

void progress_end(struct progress *p)
{
	if (p->drawn)
		fputs("\r\033[K", stderr);
	p->drawn = false;
}

void progress_lsm(void *ctx, uint64_t examined, uint64_t deleted)
{
	progress_tick(ctx, "%llu objects examined, %llu deleted", (unsigned long long)examined,
		      (unsigned long long)deleted);
}
