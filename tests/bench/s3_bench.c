/*
 * tests/bench/s3_bench.c - throughput and latency of ZeroFS's S3 client
 * (zs3_open_s3: the retry layer over the libcurl backend) against the RGW
 * whose env file is in $ZEROFS_RGW_DIR (made by scripts/rgw.sh start DIR).
 *
 *   s3_bench [--objects N] [--size BYTES] [--inflight K] [--prefix P] [--keep]
 *
 * K threads PUT N objects of random bytes, then K threads GET them all back
 * and compare each with what was written: a failed request or a wrong byte
 * makes the exit status 1. Afterwards (not timed) the objects are deleted
 * unless --keep. One line per phase, parsed by scripts/bench-s3.sh:
 *   zerofs put 1000 x 65536 B: 1.234 s, 810.4 ops/s, 50.6 MiB/s, p50 12.345 ms, p99 40.321 ms
 *   zerofs put counters: requests 1000, retries 0, errors 0
 * A benchmark, not a test: it asserts nothing about speed.
 */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "store.h"
#include "store_env.h"

#define MAX_INFLIGHT 1024
#define KEY_SUFFIX_MAX 32 /* "obj-" and the index */

struct opts {
	size_t objects, size;
	unsigned inflight;
	const char *prefix;
	bool keep;
};

enum phase { PHASE_PUT, PHASE_GET, PHASE_DELETE };
static const char *const phase_names[] = { "put", "get", "delete" };

struct bench {
	struct opts o;
	struct zs3_store *store;
	uint8_t *data;  /* every object's bytes: object i at i * size */
	double *lat_ms; /* per-object latency of the phase being run */
	enum phase phase;
	atomic_size_t next; /* the next object index a worker may claim */
	atomic_bool failed;
};

/* ---- options ---- */

static void usage(FILE *f)
{
	fprintf(f, "usage: s3_bench [--objects N] [--size BYTES] [--inflight K] [--prefix P] [--keep]\n"
		   "  defaults: 1000 objects, 65536 bytes, 16 in flight, prefix bench/<time>-<pid>/\n"
		   "  reads the RGW endpoint and keys from $ZEROFS_RGW_DIR/env (scripts/rgw.sh start)\n");
}

static bool parse_count(const char *opt, const char *s, unsigned long long min,
			unsigned long long max, unsigned long long *out)
{
	return bench_parse_count("s3_bench", opt, s, min, max, out);
}

static bool parse_args(int argc, char **argv, struct opts *o)
{
	static char default_prefix[64];
	struct timespec ts;
	unsigned long long v;

	clock_gettime(CLOCK_REALTIME, &ts);
	/* Distinct per run, so a run can never read objects another run wrote. */
	snprintf(default_prefix, sizeof(default_prefix), "bench/%lld%09ld-%d/", (long long)ts.tv_sec,
		 ts.tv_nsec, (int)getpid());
	*o = (struct opts){ .objects = 1000, .size = 65536, .inflight = 16, .prefix = default_prefix };

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			exit(0);
		} else if (!strcmp(a, "--keep")) {
			o->keep = true;
			continue;
		} else if (!strcmp(a, "--objects")) {
			if (!parse_count(a, val, 1, 100000000, &v))
				return false;
			o->objects = (size_t)v;
		} else if (!strcmp(a, "--size")) {
			if (!parse_count(a, val, 1, 5ULL << 30, &v)) /* S3's single-PUT limit */
				return false;
			o->size = (size_t)v;
		} else if (!strcmp(a, "--inflight")) {
			if (!parse_count(a, val, 1, MAX_INFLIGHT, &v))
				return false;
			o->inflight = (unsigned)v;
		} else if (!strcmp(a, "--prefix")) {
			if (!val || strlen(val) + KEY_SUFFIX_MAX > ZS3_KEY_MAX) {
				fprintf(stderr, "s3_bench: --prefix wants a string of at most %d bytes\n",
					ZS3_KEY_MAX - KEY_SUFFIX_MAX);
				return false;
			}
			o->prefix = val;
		} else {
			fprintf(stderr, "s3_bench: unknown argument '%s'\n", a);
			usage(stderr);
			return false;
		}
		i++; /* the option's value */
	}
	if (o->objects > SIZE_MAX / o->size) {
		fprintf(stderr, "s3_bench: %zu objects of %zu bytes do not fit in memory\n", o->objects,
			o->size);
		return false;
	}
	return true;
}

/* ---- object contents ---- */

static uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void fill_object(uint8_t *p, size_t size, uint64_t seed, uint64_t index)
{
	uint64_t state = seed ^ (index * 0xd1b54a32d192ed03ULL), w;
	size_t off;
	for (off = 0; off < size; off += sizeof(w)) {
		w = splitmix64(&state);
		memcpy(p + off, &w, size - off < sizeof(w) ? size - off : sizeof(w));
	}
	/* The index up front makes every object differ from every other, so a
	 * read answered with another key's object cannot pass verification. */
	memcpy(p, &index, size < sizeof(index) ? size : sizeof(index));
}

/* Generated before any timing starts, so the client pays only for moving
 * bytes, as curl does when it uploads pre-generated files. */
static bool make_objects(struct bench *b)
{
	struct timespec ts;
	uint64_t seed;

	b->data = malloc(b->o.objects * b->o.size);
	b->lat_ms = calloc(b->o.objects, sizeof(*b->lat_ms));
	if (!b->data || !b->lat_ms) {
		fprintf(stderr, "s3_bench: out of memory for %zu x %zu bytes\n", b->o.objects,
			b->o.size);
		return false;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	seed = (uint64_t)ts.tv_sec * 1000000007ULL ^ (uint64_t)ts.tv_nsec;
	for (size_t i = 0; i < b->o.objects; i++)
		fill_object(b->data + i * b->o.size, b->o.size, seed, i);
	return true;
}

static const uint8_t *object_data(const struct bench *b, size_t i)
{
	return b->data + i * b->o.size;
}

static void object_key(const struct bench *b, size_t i, char *key, size_t cap)
{
	snprintf(key, cap, "%sobj-%06zu", b->o.prefix, i);
}

static bool verify(const struct bench *b, size_t i, const char *key, const struct zs3_buf *got)
{
	const uint8_t *want = object_data(b, i);
	size_t off = 0;

	if (got->len != b->o.size) {
		fprintf(stderr, "s3_bench: GET '%s' returned %zu bytes, %zu were PUT\n", key,
			got->len, b->o.size);
		return false;
	}
	if (memcmp(got->data, want, got->len) == 0)
		return true;
	while (got->data[off] == want[off])
		off++;
	fprintf(stderr, "s3_bench: GET '%s' returned other bytes than were PUT (first at offset %zu)\n",
		key, off);
	return false;
}

/* ---- phases ---- */

static double now_s(void)
{
	return bench_now_s();
}

static bool do_one(struct bench *b, size_t i, struct zs3_buf *buf)
{
	char key[ZS3_KEY_MAX + 1];
	zs3_status st;
	double t0;

	object_key(b, i, key, sizeof(key));
	t0 = now_s();
	switch (b->phase) {
	case PHASE_PUT:
		st = zs3_put(b->store, key, object_data(b, i), b->o.size, NULL);
		break;
	case PHASE_GET:
		st = zs3_get(b->store, key, zs3_range_all(), buf, NULL);
		break;
	default:
		st = zs3_delete(b->store, key);
		break;
	}
	/* The client's call alone: verification is the benchmark's own work. */
	b->lat_ms[i] = (now_s() - t0) * 1e3;
	if (st != ZS3_OK) {
		fprintf(stderr, "s3_bench: %s '%s' failed: %s (%s)\n", phase_names[b->phase], key,
			zs3_strstatus(st), zs3_last_error());
		return false;
	}
	return b->phase != PHASE_GET || verify(b, i, key, buf);
}

static void *worker(void *arg)
{
	struct bench *b = arg;
	struct zs3_buf buf = { 0 }; /* reused: a real reader would not reallocate per GET */
	size_t i;

	while (!atomic_load(&b->failed) && (i = atomic_fetch_add(&b->next, 1)) < b->o.objects)
		if (!do_one(b, i, &buf))
			atomic_store(&b->failed, true);
	zs3_buf_free(&buf);
	return NULL;
}

/* Runs one phase on K threads; false if any request failed. The clock starts
 * before the threads are created: that costs well under a millisecond and
 * keeps the figure comparable with curl's, which includes its start-up. */
static bool run_phase(struct bench *b, enum phase ph, double *secs)
{
	pthread_t *threads = calloc(b->o.inflight, sizeof(*threads));
	unsigned started = 0;
	double t0;
	int err = 0;

	if (!threads) {
		fprintf(stderr, "s3_bench: out of memory\n");
		return false;
	}
	b->phase = ph;
	atomic_store(&b->next, 0);
	atomic_store(&b->failed, false);
	t0 = now_s();
	for (; started < b->o.inflight; started++)
		if ((err = pthread_create(&threads[started], NULL, worker, b)) != 0)
			break;
	if (err) {
		fprintf(stderr, "s3_bench: cannot start thread %u: %s\n", started, strerror(err));
		atomic_store(&b->failed, true);
	}
	for (unsigned t = 0; t < started; t++)
		pthread_join(threads[t], NULL);
	*secs = now_s() - t0;
	free(threads);
	return !atomic_load(&b->failed);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted[0..n). */
static double percentile(const double *sorted, size_t n, double p)
{
	double rank = p * (double)n;
	size_t k = (size_t)rank;
	if ((double)k < rank)
		k++;
	return sorted[k ? k - 1 : 0];
}

static void print_phase(struct bench *b, double secs, const struct zs3_stats *before,
			const struct zs3_stats *after)
{
	const char *name = phase_names[b->phase];
	double ops = (double)b->o.objects / secs;
	uint64_t requests = 0, errors = 0;

	qsort(b->lat_ms, b->o.objects, sizeof(*b->lat_ms), cmp_double);
	printf("zerofs %s %zu x %zu B: %.3f s, %.1f ops/s", name, b->o.objects, b->o.size, secs,
	       ops);
	if (b->phase != PHASE_DELETE)
		printf(", %.1f MiB/s", ops * (double)b->o.size / (1024.0 * 1024.0));
	printf(", p50 %.3f ms, p99 %.3f ms\n", percentile(b->lat_ms, b->o.objects, 0.50),
	       percentile(b->lat_ms, b->o.objects, 0.99));
	for (int op = 0; op < ZS3_OP_COUNT; op++) {
		requests += after->requests[op] - before->requests[op];
		errors += after->errors[op] - before->errors[op];
	}
	printf("zerofs %s counters: requests %llu, retries %llu, errors %llu\n", name,
	       (unsigned long long)requests,
	       (unsigned long long)(after->retries - before->retries),
	       (unsigned long long)errors);
	fflush(stdout);
}

/* Runs and reports one phase; false if it failed. */
static bool phase(struct bench *b, enum phase ph)
{
	struct zs3_stats before, after;
	double secs;
	bool ok;

	zs3_stats(b->store, &before);
	ok = run_phase(b, ph, &secs);
	zs3_stats(b->store, &after);
	if (ok)
		print_phase(b, secs, &before, &after);
	else
		fprintf(stderr, "s3_bench: %s phase FAILED\n", phase_names[ph]);
	return ok;
}

static bool open_store(struct bench *b)
{
	struct rgw_env env;
	struct zs3_s3_config cfg;
	zs3_status st;

	if (!rgw_env_load(&env)) {
		fprintf(stderr, "s3_bench: set ZEROFS_RGW_DIR to a directory made by "
				"'scripts/rgw.sh start DIR'\n");
		return false;
	}
	rgw_env_config(&env, &cfg);
	/* Measure the production timeouts, not the tests' short ones: a 3 s
	 * stall limit could turn a slow moment on a loaded host into retries. */
	cfg.connect_timeout_ms = 0;
	cfg.stall_timeout_ms = 0;
	st = zs3_open_s3(&cfg, &b->store);
	explicit_bzero(env.secret_key, sizeof(env.secret_key)); /* the store keeps its own copy */
	if (st != ZS3_OK) {
		fprintf(stderr, "s3_bench: cannot open the store: %s (%s)\n", zs3_strstatus(st),
			zs3_last_error());
		return false;
	}
	return true;
}

int main(int argc, char **argv)
{
	struct bench b = { 0 };
	int rc = 1;

	if (!parse_args(argc, argv, &b.o))
		return 2;
	if (!open_store(&b))
		return 2;
	if (!make_objects(&b))
		goto out;
	printf("zerofs store: %s, %zu objects x %zu B, %u in flight, prefix %s\n",
	       zs3_describe(b.store), b.o.objects, b.o.size, b.o.inflight, b.o.prefix);
	fflush(stdout);
	if (phase(&b, PHASE_PUT) && phase(&b, PHASE_GET))
		rc = 0;
	/* Also after a failure: deleting keys that were never written is a no-op. */
	if (!b.o.keep && !phase(&b, PHASE_DELETE))
		rc = 1;
out:
	zs3_close(b.store);
	free(b.data);
	free(b.lat_ms);
	if (rc)
		fprintf(stderr, "s3_bench: FAILED\n");
	return rc;
}
