/*
 * tests/bench/lsm_bench.c - throughput, latency, write amplification and
 * memory of the LSM engine (lsm/include/lsm.h), in the manner of LevelDB's db_bench,
 * over the local store or the RGW whose env file is in $ZEROFS_RGW_DIR
 * (made by scripts/rgw.sh start DIR).
 *
 *   lsm_bench --store local:DIR|rgw[:PREFIX] [--benchmarks LIST] [--num N]
 *             [--reads N] [--value-size B] [--key-size B] [--threads T]
 *             [--batch N] [--durable] [--seed S] [--scan-length N]
 *             [--memtable-mb M] [--block-cache-mb M] [--timeline-ms MS]
 *
 * Benchmarks (run in the order given, on one database, opened once):
 *   fillseq    keys 0..num-1 in ascending order
 *   fillrandom keys 0..num-1 once each, in a random order (a permutation)
 *   overwrite  num writes of keys drawn uniformly from 0..num-1
 *   readrandom `reads` lsm_get()s of keys drawn uniformly from 0..num-1
 *   readseq    one iterator over the first `reads` keys
 *   scan       reads/scan-length iterators, each from a random key and
 *              reading scan-length keys (as a directory listing would)
 *   durable16  num durable single-key writes (a permutation of 0..num-1)
 *              from T threads (default 16): group commit at work
 * Fills write batches of --batch keys (default 1: one lsm_write per key),
 * durable ones with --durable. With --threads T every benchmark runs on T
 * threads, each doing its share of the ops.
 *
 * Keys are the index in decimal, zero-padded to --key-size bytes, so their
 * order is numeric. A value is a function of its key index and a generation
 * (0 for fills, 1 for overwrite): the index and generation in its first 12
 * bytes, then bytes of a fixed pseudo-random pool chosen by both. Every read
 * is checked against that (readseq and scan also check that keys come in
 * order with none missing), so the readers need only --num to verify a
 * database another process filled: a missing key, a wrong value, or a failed
 * call makes the exit status 1. Values are incompressible.
 *
 * Output, per benchmark: a line of figures, a line of engine/store counters
 * and a line of memory, then a `result` line for scripts/bench-lsm.sh:
 *   result NAME OPS SECS OPS/S MIB/S P50_US P99_US WAMP WAL_UPLOADS
 *          WRITES/UPLOAD FLUSHES COMPACTIONS RSS_MIB HWM_MIB LIMIT_MIB HEAP_MIB
 * ("-" where a figure does not apply). MiB/s counts user bytes (keys plus
 * values); write amplification is the bytes the object store received during
 * the benchmark over the user bytes it wrote. Latency is one lsm_write
 * (a batch), lsm_get, iterator step, or whole scan. At the end the database
 * is flushed (lsm_flush) and closed, timed separately, and a `result close`
 * line gives the totals of the whole process. Peak RSS is the process's
 * (getrusage and VmHWM); HEAP_MIB is the peak of malloc's bytes in use
 * (glibc mallinfo2, sampled every 10 ms during the benchmark; for the close
 * row, over the process): next to the RSS it tells live allocations from
 * allocator slack. It counts whole allocations, untouched pages of a grown
 * buffer included, so it can exceed the RSS.
 * A benchmark, not a test: it asserts nothing about speed.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "lsm.h"
#include "store.h"
#include "store_env.h"

#define MIB (1024.0 * 1024.0)
#define VALUE_HDR 12                 /* key index (8) + generation (4) */
#define POOL_BYTES (1u << 20)        /* values are slices of this pool... */
#define POOL_SEED 0x5eed0f2e20f5ULL  /* ...which every run derives alike */
#define MAX_THREADS 1024
#define DEFAULT_MEMTABLE (64u << 20) /* lsm.h's defaults, for the limits */
#define DEFAULT_MAX_FROZEN 2
#define DEFAULT_BLOCK_CACHE (64u << 20)

enum order { ORDER_SEQ, ORDER_PERM, ORDER_UNIFORM };

struct opts {
	const char *store;
	char *benchmarks;
	uint64_t num, reads;
	size_t value_size, key_size;
	unsigned threads; /* 0 = 1, or 16 for durable16 */
	unsigned batch;
	bool durable;
	uint64_t seed;
	unsigned scan_len;
	size_t memtable_mb, block_cache_mb; /* 0 = the engine's default */
	unsigned timeline_ms; /* 0 = no timeline */
};

struct bench {
	struct opts o;
	struct zs3_store *store;
	struct lsm_db *db;
	uint8_t *pool;  /* POOL_BYTES + value_size bytes */
	uint32_t *perm; /* a permutation of 0..num-1, made on first use */
	atomic_bool failed;
	double limit_mib; /* memtable_bytes * (max_frozen + 1) + block cache */
	uint64_t user_bytes_written; /* over the whole process */
	double peak_heap_mib;        /* sampled, over the whole process */
};

struct bench_def;

/* One thread's share of a benchmark. */
struct job {
	struct bench *b;
	const struct bench_def *def;
	unsigned t;
	uint64_t begin, end; /* its ops: [begin, end) of the benchmark's op numbers */
	uint64_t rng;
	float *lat_us;       /* one per timed call */
	size_t n_lat;
	uint64_t ops_done, bytes; /* keys handled, key + value bytes moved */
	pthread_t thread;
};

typedef bool (*bench_fn)(struct job *j);

struct bench_def {
	const char *name;
	bench_fn fn;
	bool writes;
	uint64_t (*ops)(const struct bench *b); /* how many ops in all */
	unsigned default_threads;
};

/* ---- options ---- */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: lsm_bench --store local:DIR|rgw[:PREFIX] [--benchmarks LIST] [--num N]\n"
		"                 [--reads N] [--value-size B] [--key-size B] [--threads T] [--batch N]\n"
		"                 [--durable] [--seed S] [--scan-length N] [--memtable-mb M]\n"
		"                 [--block-cache-mb M] [--timeline-ms MS]\n"
		"  LIST: comma-separated fillseq,fillrandom,overwrite,readrandom,readseq,scan,durable16\n"
		"  defaults: fillrandom,readrandom; num 1000000; reads = num; value 100 B; key 16 B;\n"
		"  threads 1 (durable16: 16); batch 1; scan-length 100; seed from the clock;\n"
		"  memtable and block cache: the engine's defaults (64 MiB each)\n"
		"  --timeline-ms: every MS during a benchmark, a `timeline` line of engine state\n"
		"  rgw: the RGW in $ZEROFS_RGW_DIR/env (scripts/rgw.sh start); PREFIX default\n"
		"  lsm_bench/<time>-<pid>/ (give the same PREFIX to reopen a database)\n");
}

static bool parse_count(const char *opt, const char *s, unsigned long long min,
			unsigned long long max, unsigned long long *out)
{
	return bench_parse_count("lsm_bench", opt, s, min, max, out);
}

static unsigned digits(uint64_t v)
{
	unsigned d = 1;
	while (v >= 10) {
		v /= 10;
		d++;
	}
	return d;
}

static bool parse_args(int argc, char **argv, struct opts *o)
{
	static char default_benchmarks[] = "fillrandom,readrandom";
	unsigned long long v;
	bool reads_set = false, seed_set = false;

	*o = (struct opts){ .benchmarks = default_benchmarks, .num = 1000000, .value_size = 100,
			    .key_size = 16, .batch = 1, .scan_len = 100 };
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			exit(0);
		} else if (!strcmp(a, "--durable")) {
			o->durable = true;
			continue;
		} else if (!strcmp(a, "--store")) {
			if (!val || (strncmp(val, "local:", 6) != 0 && strcmp(val, "rgw") != 0 &&
				     strncmp(val, "rgw:", 4) != 0) ||
			    !strcmp(val, "local:")) {
				fprintf(stderr, "lsm_bench: --store wants local:DIR or rgw[:PREFIX]\n");
				return false;
			}
			o->store = val;
		} else if (!strcmp(a, "--benchmarks")) {
			if (!val || !*val) {
				fprintf(stderr, "lsm_bench: --benchmarks wants a comma-separated list\n");
				return false;
			}
			o->benchmarks = argv[i + 1];
		} else if (!strcmp(a, "--num")) {
			if (!parse_count(a, val, 1, UINT32_MAX, &v))
				return false;
			o->num = v;
		} else if (!strcmp(a, "--reads")) {
			if (!parse_count(a, val, 1, UINT32_MAX, &v))
				return false;
			o->reads = v;
			reads_set = true;
		} else if (!strcmp(a, "--value-size")) {
			if (!parse_count(a, val, VALUE_HDR, LSM_MAX_VALUE_LEN, &v))
				return false;
			o->value_size = (size_t)v;
		} else if (!strcmp(a, "--key-size")) {
			if (!parse_count(a, val, 1, 1024, &v))
				return false;
			o->key_size = (size_t)v;
		} else if (!strcmp(a, "--threads")) {
			if (!parse_count(a, val, 1, MAX_THREADS, &v))
				return false;
			o->threads = (unsigned)v;
		} else if (!strcmp(a, "--batch")) {
			if (!parse_count(a, val, 1, 1000000, &v))
				return false;
			o->batch = (unsigned)v;
		} else if (!strcmp(a, "--seed")) {
			if (!parse_count(a, val, 0, UINT64_MAX, &v))
				return false;
			o->seed = v;
			seed_set = true;
		} else if (!strcmp(a, "--scan-length")) {
			if (!parse_count(a, val, 1, 1000000, &v))
				return false;
			o->scan_len = (unsigned)v;
		} else if (!strcmp(a, "--memtable-mb")) {
			if (!parse_count(a, val, 1, 65536, &v))
				return false;
			o->memtable_mb = (size_t)v;
		} else if (!strcmp(a, "--timeline-ms")) {
			if (!parse_count(a, val, 10, 600000, &v))
				return false;
			o->timeline_ms = (unsigned)v;
		} else if (!strcmp(a, "--block-cache-mb")) {
			if (!parse_count(a, val, 1, 1048576, &v))
				return false;
			o->block_cache_mb = (size_t)v;
		} else {
			fprintf(stderr, "lsm_bench: unknown argument '%s'\n", a);
			usage(stderr);
			return false;
		}
		i++; /* the option's value */
	}
	if (!o->store) {
		fprintf(stderr, "lsm_bench: --store is required\n");
		usage(stderr);
		return false;
	}
	if (digits(o->num - 1) > o->key_size) {
		fprintf(stderr, "lsm_bench: keys of %zu bytes cannot number %" PRIu64 " keys\n",
			o->key_size, o->num);
		return false;
	}
	if (!reads_set)
		o->reads = o->num;
	if (!seed_set) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		o->seed = ((uint64_t)ts.tv_sec * 1000000007ULL ^ (uint64_t)ts.tv_nsec ^
			   (uint64_t)getpid()) % 1000000000000ULL;
	}
	return true;
}

/* The engine's detail of its last failure, or a dash when it left none. */
static const char *err_detail(void)
{
	const char *d = lsm_last_error();
	return d && *d ? d : "-";
}

/* ---- keys and values ---- */

static uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t rng_below(uint64_t *state, uint64_t n)
{
	return splitmix64(state) % n; /* bias < n / 2^64: negligible */
}

static void make_key(const struct bench *b, uint64_t i, char *out)
{
	for (size_t p = b->o.key_size; p-- > 0; i /= 10)
		out[p] = (char)('0' + i % 10);
}

static void make_value(const struct bench *b, uint64_t i, uint32_t gen, uint8_t *out)
{
	uint64_t h = (i << 1 | gen) * 0xd1b54a32d192ed03ULL;
	size_t off;

	h = splitmix64(&h);
	off = (size_t)(h % POOL_BYTES);
	memcpy(out, b->pool + off, b->o.value_size);
	for (int k = 0; k < 8; k++)
		out[k] = (uint8_t)(i >> (8 * k));
	for (int k = 0; k < 4; k++)
		out[8 + k] = (uint8_t)(gen >> (8 * k));
}

/* Checks a value read for key index i: false (with a message) if it is not
 * what some generation of key i holds. */
static bool check_value(const struct bench *b, uint64_t i, const uint8_t *v, size_t len,
			uint8_t *scratch, const char *what)
{
	char key[1025];
	uint32_t gen = 0;
	size_t off = 0;

	if (len == b->o.value_size) {
		for (int k = 0; k < 4; k++)
			gen |= (uint32_t)v[8 + k] << (8 * k);
		make_value(b, i, gen, scratch);
		if (gen <= 1 && memcmp(v, scratch, len) == 0)
			return true;
		while (off < len && v[off] == scratch[off])
			off++;
	}
	make_key(b, i, key);
	key[b->o.key_size] = '\0';
	if (len != b->o.value_size)
		fprintf(stderr, "lsm_bench: %s: key %s has a value of %zu bytes, not %zu\n", what,
			key, len, b->o.value_size);
	else
		fprintf(stderr, "lsm_bench: %s: key %s has a wrong value (generation %" PRIu32
			", first wrong byte at %zu)\n", what, key, gen, off);
	return false;
}

static bool make_pool(struct bench *b)
{
	uint64_t state = POOL_SEED, w;
	size_t n = POOL_BYTES + b->o.value_size;

	if (!(b->pool = malloc(n)))
		return false;
	for (size_t off = 0; off < n; off += sizeof(w)) {
		w = splitmix64(&state);
		memcpy(b->pool + off, &w, n - off < sizeof(w) ? n - off : sizeof(w));
	}
	return true;
}

static bool make_perm(struct bench *b)
{
	uint64_t state = b->o.seed ^ 0x7065726d; /* "perm" */

	if (b->perm)
		return true;
	if (!(b->perm = malloc(b->o.num * sizeof(*b->perm)))) {
		fprintf(stderr, "lsm_bench: out of memory for a permutation of %" PRIu64 " keys\n",
			b->o.num);
		return false;
	}
	for (uint64_t i = 0; i < b->o.num; i++)
		b->perm[i] = (uint32_t)i;
	for (uint64_t i = b->o.num - 1; i > 0; i--) {
		uint64_t k = rng_below(&state, i + 1);
		uint32_t t = b->perm[i];
		b->perm[i] = b->perm[k];
		b->perm[k] = t;
	}
	return true;
}

/* ---- clocks and memory ---- */

static double now_s(void)
{
	return bench_now_s();
}

static double peak_rss_mib(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_maxrss / 1024.0; /* KiB on Linux */
}

static double vm_hwm_mib(void)
{
	char line[256];
	double kib = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmHWM: %lf kB", &kib) == 1)
			break;
	fclose(f);
	return kib < 0 ? -1 : kib / 1024.0;
}

/* Bytes malloc has handed out and not had back (glibc), whatever the RSS. */
static double heap_in_use_mib(void)
{
	struct mallinfo2 m = mallinfo2();
	return (double)(m.uordblks + m.hblkhd) / MIB;
}

static double rss_now_mib(void)
{
	unsigned long long size, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (!f)
		return -1;
	if (fscanf(f, "%llu %llu", &size, &resident) != 2)
		resident = 0;
	fclose(f);
	return (double)resident * (double)sysconf(_SC_PAGESIZE) / MIB;
}

/* A thread sampling memory every SAMPLE_MS while a benchmark (or the close)
 * runs: the peak of malloc's bytes in use, with what the engine said it held
 * in memtables and block cache at that moment, so that a peak RSS can be
 * split into engine budgets, other live allocations, and allocator slack. */
#define SAMPLE_MS 10
struct sampler {
	struct bench *b;
	bool with_db; /* lsm_stats may be called (not during lsm_close) */
	atomic_bool stop;
	pthread_t thread;
	bool running;
	double heap, rss, mt, cache; /* peaks (MiB); mt, cache: at the heap peak */
};

static void sample(struct sampler *sm)
{
	double heap = heap_in_use_mib(), rss = rss_now_mib();
	if (rss > sm->rss)
		sm->rss = rss;
	if (heap > sm->heap) {
		sm->heap = heap;
		if (sm->with_db) {
			struct lsm_stats ls;
			lsm_stats(sm->b->db, &ls);
			sm->mt = (double)ls.memtable_bytes / MIB;
			sm->cache = (double)ls.block_cache_bytes / MIB;
		}
	}
}

/* One line of engine state, for --timeline-ms (to see stalls, flushes and
 * compactions over time). */
static void timeline(struct sampler *sm, double t)
{
	struct lsm_stats ls;
	lsm_stats(sm->b->db, &ls);
	printf("timeline %.2f s: writes %" PRIu64 ", memtables %.1f MiB, L0 %" PRIu64 ", runs %"
	       PRIu64 ", flushes %" PRIu64 ", compactions %" PRIu64 ", WAL uploads %" PRIu64
	       " (%.1f MiB), malloc in use %.1f MiB, RSS %.1f MiB\n",
	       t, ls.writes, (double)ls.memtable_bytes / MIB, ls.l0_count, ls.run_count,
	       ls.memtable_flushes, ls.compactions, ls.wal_uploads, (double)ls.wal_bytes / MIB,
	       heap_in_use_mib(), rss_now_mib());
}

static void *sampler_main(void *arg)
{
	struct sampler *sm = arg;
	struct timespec ts = { 0, SAMPLE_MS * 1000000L };
	unsigned every = sm->b->o.timeline_ms;
	double t0 = now_s(), next = every ? t0 + every / 1e3 : 0;

	while (!atomic_load(&sm->stop)) {
		sample(sm);
		if (every && sm->with_db && now_s() >= next) {
			timeline(sm, now_s() - t0);
			next += every / 1e3;
		}
		nanosleep(&ts, NULL);
	}
	sample(sm);
	return NULL;
}

static void sampler_start(struct sampler *sm, struct bench *b, bool with_db)
{
	*sm = (struct sampler){ .b = b, .with_db = with_db, .mt = -1, .cache = -1 };
	atomic_init(&sm->stop, false);
	sm->running = pthread_create(&sm->thread, NULL, sampler_main, sm) == 0;
}

static void sampler_stop(struct sampler *sm)
{
	atomic_store(&sm->stop, true);
	if (sm->running)
		pthread_join(sm->thread, NULL);
	sm->running = false;
}

/* ---- benchmarks ---- */

static void fail_job(struct job *j)
{
	atomic_store(&j->b->failed, true);
}

static void record(struct job *j, double t0)
{
	j->lat_us[j->n_lat++] = (float)((now_s() - t0) * 1e6);
}

static bool do_writes(struct job *j, enum order order, uint32_t gen, unsigned flags)
{
	struct bench *b = j->b;
	struct lsm_batch *batch = lsm_batch_new();
	uint8_t *value = malloc(b->o.value_size);
	char key[1025];
	bool ok = false;

	if (!batch || !value) {
		fprintf(stderr, "lsm_bench: out of memory\n");
		goto out;
	}
	for (uint64_t k = j->begin; k < j->end;) {
		lsm_status st;
		double t0;
		if (atomic_load_explicit(&b->failed, memory_order_relaxed))
			goto out;
		lsm_batch_clear(batch);
		for (unsigned m = 0; m < b->o.batch && k < j->end; m++, k++) {
			uint64_t i = order == ORDER_SEQ ? k
				     : order == ORDER_PERM ? b->perm[k]
				     : rng_below(&j->rng, b->o.num);
			make_key(b, i, key);
			make_value(b, i, gen, value);
			if ((st = lsm_batch_put(batch, key, b->o.key_size, value, b->o.value_size))) {
				fprintf(stderr, "lsm_bench: lsm_batch_put: %s (%s)\n",
					lsm_strstatus(st), err_detail());
				goto out;
			}
			j->ops_done++;
			j->bytes += b->o.key_size + b->o.value_size;
		}
		t0 = now_s();
		st = lsm_write(b->db, batch, flags);
		record(j, t0);
		if (st) {
			fprintf(stderr, "lsm_bench: %s: lsm_write failed: %s (%s)\n", j->def->name,
				lsm_strstatus(st), err_detail());
			goto out;
		}
	}
	ok = true;
out:
	if (!ok)
		fail_job(j);
	lsm_batch_free(batch);
	free(value);
	return ok;
}

static unsigned fill_flags(const struct bench *b)
{
	return b->o.durable ? LSM_WRITE_DURABLE : 0;
}

static bool b_fillseq(struct job *j) { return do_writes(j, ORDER_SEQ, 0, fill_flags(j->b)); }
static bool b_fillrandom(struct job *j) { return do_writes(j, ORDER_PERM, 0, fill_flags(j->b)); }
static bool b_overwrite(struct job *j) { return do_writes(j, ORDER_UNIFORM, 1, fill_flags(j->b)); }
static bool b_durable(struct job *j) { return do_writes(j, ORDER_PERM, 0, LSM_WRITE_DURABLE); }

static bool b_readrandom(struct job *j)
{
	struct bench *b = j->b;
	struct lsm_buf val = { 0 };
	uint8_t *scratch = malloc(b->o.value_size);
	char key[1025];
	bool ok = false;

	if (!scratch) {
		fprintf(stderr, "lsm_bench: out of memory\n");
		goto out;
	}
	for (uint64_t k = j->begin; k < j->end; k++) {
		uint64_t i = rng_below(&j->rng, b->o.num);
		lsm_status st;
		double t0;
		if (atomic_load_explicit(&b->failed, memory_order_relaxed))
			goto out;
		make_key(b, i, key);
		t0 = now_s();
		st = lsm_get(b->db, key, b->o.key_size, &val);
		record(j, t0);
		if (st) {
			key[b->o.key_size] = '\0';
			fprintf(stderr, "lsm_bench: readrandom: lsm_get(%s): %s (%s)%s\n", key,
				lsm_strstatus(st), err_detail(),
				st == LSM_ENOTFOUND ? ": was the database filled with this --num?" : "");
			goto out;
		}
		if (!check_value(b, i, val.data, val.len, scratch, "readrandom"))
			goto out;
		j->ops_done++;
		j->bytes += b->o.key_size + val.len;
	}
	ok = true;
out:
	if (!ok)
		fail_job(j);
	lsm_buf_free(&val);
	free(scratch);
	return ok;
}

/* Reads `count` entries from an iterator positioned at key index `first`,
 * checking each key and value; timing each step (per_step) or not. */
static bool read_run(struct job *j, struct lsm_db_iter *it, uint64_t first, uint64_t count,
		     bool per_step, uint8_t *scratch, const char *what)
{
	struct bench *b = j->b;
	char want[1025];

	for (uint64_t n = 0; n < count; n++) {
		const uint8_t *k, *v;
		size_t kl, vl;
		lsm_status st;
		if (n > 0) {
			double t0 = now_s();
			lsm_db_iter_next(it);
			if (per_step)
				record(j, t0);
		}
		if (!lsm_db_iter_valid(it)) {
			if ((st = lsm_db_iter_status(it)))
				fprintf(stderr, "lsm_bench: %s: iterator failed: %s (%s)\n", what,
					lsm_strstatus(st), err_detail());
			else
				fprintf(stderr, "lsm_bench: %s: the iterator ended after key %" PRIu64
					", expected keys up to %" PRIu64 ": was the database filled "
					"with this --num?\n", what, first + n - 1, first + count - 1);
			return false;
		}
		k = lsm_db_iter_key(it, &kl);
		v = lsm_db_iter_value(it, &vl);
		make_key(b, first + n, want);
		if (kl != b->o.key_size || memcmp(k, want, kl) != 0) {
			want[b->o.key_size] = '\0';
			fprintf(stderr, "lsm_bench: %s: expected key %s, the iterator gave '%.*s'\n",
				what, want, (int)(kl > 64 ? 64 : kl), (const char *)k);
			return false;
		}
		if (!check_value(b, first + n, v, vl, scratch, what))
			return false;
		j->ops_done++;
		j->bytes += kl + vl;
	}
	return true;
}

/* Each thread walks its own key range [begin, end) with one iterator. */
static bool b_readseq(struct job *j)
{
	struct bench *b = j->b;
	struct lsm_db_iter *it = NULL;
	uint8_t *scratch = malloc(b->o.value_size);
	char lower[1025];
	struct lsm_read_options ro = { .lower = (const uint8_t *)lower, .lower_len = b->o.key_size };
	lsm_status st;
	bool ok = false;
	double t0;

	if (j->begin == j->end) {
		free(scratch);
		return true;
	}
	if (!scratch) {
		fprintf(stderr, "lsm_bench: out of memory\n");
		goto out;
	}
	make_key(b, j->begin, lower);
	t0 = now_s();
	if ((st = lsm_iterator(b->db, &ro, &it))) {
		fprintf(stderr, "lsm_bench: readseq: lsm_iterator: %s (%s)\n", lsm_strstatus(st),
			err_detail());
		goto out;
	}
	lsm_db_iter_seek_first(it);
	record(j, t0); /* the first entry: creating and positioning the iterator */
	ok = read_run(j, it, j->begin, j->end - j->begin, true, scratch, "readseq");
out:
	if (!ok)
		fail_job(j);
	lsm_db_iter_free(it);
	free(scratch);
	return ok;
}

/* One op = one scan: a fresh iterator from a random key, scan_len entries. */
static bool b_scan(struct job *j)
{
	struct bench *b = j->b;
	uint8_t *scratch = malloc(b->o.value_size);
	char lower[1025];
	bool ok = false;

	if (!scratch) {
		fprintf(stderr, "lsm_bench: out of memory\n");
		goto out;
	}
	for (uint64_t k = j->begin; k < j->end; k++) {
		uint64_t first = rng_below(&j->rng, b->o.num), count = b->o.scan_len;
		struct lsm_read_options ro = { .lower = (const uint8_t *)lower,
					       .lower_len = b->o.key_size };
		struct lsm_db_iter *it;
		lsm_status st;
		bool good;
		double t0;
		if (atomic_load_explicit(&b->failed, memory_order_relaxed))
			goto out;
		if (count > b->o.num - first)
			count = b->o.num - first;
		make_key(b, first, lower);
		t0 = now_s();
		if ((st = lsm_iterator(b->db, &ro, &it))) {
			fprintf(stderr, "lsm_bench: scan: lsm_iterator: %s (%s)\n",
				lsm_strstatus(st), err_detail());
			goto out;
		}
		lsm_db_iter_seek_first(it);
		good = read_run(j, it, first, count, false, scratch, "scan");
		lsm_db_iter_free(it);
		record(j, t0); /* verification included: it is small next to the reads */
		if (!good)
			goto out;
	}
	ok = true;
out:
	if (!ok)
		fail_job(j);
	free(scratch);
	return ok;
}

static uint64_t ops_num(const struct bench *b) { return b->o.num; }
static uint64_t ops_reads(const struct bench *b) { return b->o.reads < b->o.num ? b->o.reads : b->o.num; }
static uint64_t ops_random_reads(const struct bench *b) { return b->o.reads; }
static uint64_t ops_scans(const struct bench *b)
{
	uint64_t n = b->o.reads / b->o.scan_len;
	return n ? n : 1;
}

static const struct bench_def benches[] = {
	{ "fillseq", b_fillseq, true, ops_num, 1 },
	{ "fillrandom", b_fillrandom, true, ops_num, 1 },
	{ "overwrite", b_overwrite, true, ops_num, 1 },
	{ "readrandom", b_readrandom, false, ops_random_reads, 1 },
	{ "readseq", b_readseq, false, ops_reads, 1 },
	{ "scan", b_scan, false, ops_scans, 1 },
	{ "durable16", b_durable, true, ops_num, 16 },
};

static const struct bench_def *find_bench(const char *name)
{
	for (size_t i = 0; i < sizeof(benches) / sizeof(benches[0]); i++)
		if (!strcmp(benches[i].name, name))
			return &benches[i];
	return NULL;
}

/* ---- running and reporting ---- */

static void *job_main(void *arg)
{
	struct job *j = arg;
	j->def->fn(j);
	return NULL;
}

static int cmp_float(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;
	return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted[0..n). */
static double percentile(const float *sorted, size_t n, double p)
{
	double rank = p * (double)n;
	size_t k = (size_t)rank;
	if (n == 0)
		return 0;
	if ((double)k < rank)
		k++;
	return sorted[k ? k - 1 : 0];
}

static void fmt_or_dash(char *buf, size_t cap, bool have, const char *fmt, double v)
{
	if (have)
		snprintf(buf, cap, fmt, v);
	else
		snprintf(buf, cap, "-");
}

/* The counters and memory lines, and the `result` line. */
static void report(struct bench *b, const char *name, uint64_t ops, double secs, double mibs,
		   double p50, double p99, bool timed, uint64_t user_bytes,
		   const struct lsm_stats *l0, const struct lsm_stats *l1,
		   const struct zs3_stats *s0, const struct zs3_stats *s1,
		   const struct sampler *sm)
{
	uint64_t up = s1->bytes_up - s0->bytes_up;
	uint64_t uploads = l1->wal_uploads - l0->wal_uploads;
	uint64_t batches = l1->wal_batches - l0->wal_batches;
	uint64_t gets = s1->requests[ZS3_OP_GET] - s0->requests[ZS3_OP_GET];
	uint64_t puts = s1->requests[ZS3_OP_PUT] - s0->requests[ZS3_OP_PUT];
	uint64_t hits = l1->block_cache_hits - l0->block_cache_hits;
	uint64_t misses = l1->block_cache_misses - l0->block_cache_misses;
	uint64_t errs = 0;
	double rss = peak_rss_mib(), hwm = vm_hwm_mib();
	char wamp[32], wpu[32], c_ops[32], c_secs[32], c_opss[32], c_mibs[32], c_p50[32], c_p99[32];

	for (int op = 0; op < ZS3_OP_COUNT; op++)
		errs += s1->errors[op] - s0->errors[op];
	fmt_or_dash(wamp, sizeof(wamp), user_bytes > 0, "%.2f", (double)up / (double)user_bytes);
	fmt_or_dash(wpu, sizeof(wpu), uploads > 0, "%.1f", (double)batches / (double)uploads);
	printf("%s: write-amp %s (store received %.1f MiB for %.1f MiB of keys+values; engine "
	       "counted %.1f MiB), WAL uploads %" PRIu64 " (%s writes/upload, %.1f MiB), "
	       "L0 flushes %" PRIu64 " (%.1f MiB), compactions %" PRIu64 " (%.1f MiB)\n",
	       name, wamp, (double)up / MIB, (double)user_bytes / MIB,
	       (double)(l1->user_bytes_written - l0->user_bytes_written) / MIB, uploads, wpu,
	       (double)(l1->wal_bytes - l0->wal_bytes) / MIB,
	       l1->memtable_flushes - l0->memtable_flushes,
	       (double)(l1->l0_bytes_written - l0->l0_bytes_written) / MIB,
	       l1->compactions - l0->compactions,
	       (double)(l1->compaction_bytes_written - l0->compaction_bytes_written) / MIB);
	printf("%s: store PUTs %" PRIu64 ", GETs %" PRIu64 " (%.1f MiB down), errors %" PRIu64
	       ", retries %" PRIu64 "; block cache hits %" PRIu64 ", misses %" PRIu64
	       "; bloom negatives %" PRIu64 "; tree now L0 %" PRIu64 ", runs %" PRIu64
	       ", SSTs %" PRIu64 "\n",
	       name, puts, gets, (double)(s1->bytes_down - s0->bytes_down) / MIB, errs,
	       s1->retries - s0->retries, hits, misses,
	       l1->bloom_negatives - l0->bloom_negatives, l1->l0_count, l1->run_count,
	       l1->sst_count);
	printf("%s: peak RSS %.1f MiB (VmHWM %.1f MiB); memory limits %.1f MiB (memtable %.0f MiB "
	       "x (%d frozen + 1) + block cache %.0f MiB); engine now holds memtables %.1f MiB, "
	       "block cache %.1f MiB\n",
	       name, rss, hwm, b->limit_mib,
	       (double)(b->o.memtable_mb ? b->o.memtable_mb << 20 : DEFAULT_MEMTABLE) / MIB,
	       DEFAULT_MAX_FROZEN,
	       (double)(b->o.block_cache_mb ? b->o.block_cache_mb << 20 : DEFAULT_BLOCK_CACHE) / MIB,
	       (double)l1->memtable_bytes / MIB, (double)l1->block_cache_bytes / MIB);
	if (sm->mt >= 0)
		printf("%s: sampled every %d ms: peak malloc in use %.1f MiB (engine then held "
		       "memtables %.1f MiB, block cache %.1f MiB: %.1f MiB elsewhere); peak RSS "
		       "%.1f MiB\n", name, SAMPLE_MS, sm->heap, sm->mt, sm->cache,
		       sm->heap - sm->mt - sm->cache, sm->rss);
	else
		printf("%s: sampled every %d ms: peak malloc in use %.1f MiB; peak RSS %.1f MiB\n",
		       name, SAMPLE_MS, sm->heap, sm->rss);
	fmt_or_dash(c_ops, sizeof(c_ops), timed, "%.0f", (double)ops);
	fmt_or_dash(c_secs, sizeof(c_secs), true, "%.3f", secs);
	fmt_or_dash(c_opss, sizeof(c_opss), timed, "%.1f", secs > 0 ? (double)ops / secs : 0);
	fmt_or_dash(c_mibs, sizeof(c_mibs), timed, "%.2f", mibs);
	fmt_or_dash(c_p50, sizeof(c_p50), timed, "%.2f", p50);
	fmt_or_dash(c_p99, sizeof(c_p99), timed, "%.2f", p99);
	printf("result %s %s %s %s %s %s %s %s %" PRIu64 " %s %" PRIu64 " %" PRIu64
	       " %.1f %.1f %.1f %.1f\n",
	       name, c_ops, c_secs, c_opss, c_mibs, c_p50, c_p99, wamp, uploads, wpu,
	       l1->memtable_flushes - l0->memtable_flushes, l1->compactions - l0->compactions,
	       rss, hwm, b->limit_mib, sm->heap);
	fflush(stdout);
}

static bool run_bench(struct bench *b, const struct bench_def *def)
{
	unsigned nt = b->o.threads ? b->o.threads : def->default_threads, started = 0;
	uint64_t total = def->ops(b), ops = 0, bytes = 0;
	struct job *jobs = calloc(nt, sizeof(*jobs));
	float *all = NULL;
	size_t n_all = 0;
	struct lsm_stats l0, l1;
	struct zs3_stats s0, s1;
	struct sampler sm;
	bool ok = false;
	double t0, secs, flush_secs = -1;
	int err = 0;

	if (!jobs)
		goto oom;
	if ((def->fn == b_fillrandom || def->fn == b_durable) && !make_perm(b))
		goto out;
	for (unsigned t = 0; t < nt; t++) {
		struct job *j = &jobs[t];
		*j = (struct job){ .b = b, .def = def, .t = t, .begin = total * t / nt,
				   .end = total * (t + 1) / nt };
		j->rng = b->o.seed ^ ((uint64_t)(def - benches) << 32) ^ ((uint64_t)t << 48);
		if (!(j->lat_us = malloc((j->end - j->begin + 1) * sizeof(*j->lat_us))))
			goto oom;
	}
	atomic_store(&b->failed, false);
	lsm_stats(b->db, &l0);
	zs3_stats(b->store, &s0);
	sampler_start(&sm, b, true);
	t0 = now_s();
	if (nt == 1) {
		job_main(&jobs[0]);
		started = 1;
	} else {
		for (; started < nt; started++)
			if ((err = pthread_create(&jobs[started].thread, NULL, job_main,
						  &jobs[started])) != 0)
				break;
		if (err) {
			fprintf(stderr, "lsm_bench: cannot start thread %u: %s\n", started,
				strerror(err));
			atomic_store(&b->failed, true);
		}
		for (unsigned t = 0; t < started; t++)
			pthread_join(jobs[t].thread, NULL);
	}
	secs = now_s() - t0;
	/* What a write benchmark left in the WAL buffer is its upload: make it
	 * durable (untimed) so that its bytes count here, not in the next row. */
	if (def->writes && !atomic_load(&b->failed)) {
		double f0 = now_s();
		lsm_status st = lsm_flush(b->db);
		if (st) {
			fprintf(stderr, "lsm_bench: %s: lsm_flush failed: %s (%s)\n", def->name,
				lsm_strstatus(st), err_detail());
			atomic_store(&b->failed, true);
		}
		flush_secs = now_s() - f0;
	}
	sampler_stop(&sm);
	if (sm.heap > b->peak_heap_mib)
		b->peak_heap_mib = sm.heap;
	lsm_stats(b->db, &l1);
	zs3_stats(b->store, &s1);
	if (atomic_load(&b->failed)) {
		fprintf(stderr, "lsm_bench: %s FAILED\n", def->name);
		goto out;
	}
	for (unsigned t = 0; t < nt; t++) {
		ops += jobs[t].ops_done;
		bytes += jobs[t].bytes;
		n_all += jobs[t].n_lat;
	}
	if (!(all = malloc((n_all + 1) * sizeof(*all))))
		goto oom;
	n_all = 0;
	for (unsigned t = 0; t < nt; t++) {
		memcpy(all + n_all, jobs[t].lat_us, jobs[t].n_lat * sizeof(*all));
		n_all += jobs[t].n_lat;
		free(jobs[t].lat_us);
		jobs[t].lat_us = NULL;
	}
	qsort(all, n_all, sizeof(*all), cmp_float);
	if (def->writes)
		b->user_bytes_written += bytes;
	/* a scan is one op of scan_len entries */
	uint64_t row_ops = def->fn == b_scan ? (uint64_t)n_all : ops;
	double p50 = percentile(all, n_all, 0.50), p99 = percentile(all, n_all, 0.99);
	double pmax = n_all ? all[n_all - 1] : 0;
	double mibs = (double)bytes / MIB / secs;
	printf("%s: %" PRIu64 " ops%s, %u thread%s, %.3f s, %.1f ops/s, %.2f MiB/s, "
	       "p50 %.2f us, p99 %.2f us, max %.0f us (per %s)\n",
	       def->name, row_ops, def->fn == b_scan ? " (scans)" : "", nt, nt == 1 ? "" : "s",
	       secs, (double)row_ops / secs, mibs, p50, p99, pmax,
	       def->writes ? (b->o.batch > 1 ? "batch" : "write")
	       : def->fn == b_readrandom ? "get"
	       : def->fn == b_scan ? "scan"
				    : "iterator step");
	if (def->fn == b_scan)
		printf("%s: %" PRIu64 " entries read, %.1f entries/s\n", def->name, ops,
		       (double)ops / secs);
	if (flush_secs >= 0)
		printf("%s: then lsm_flush %.3f s (not timed above; its upload counts below)\n",
		       def->name, flush_secs);
	report(b, def->name, row_ops, secs, mibs, p50, p99, true,
	       def->writes ? bytes : 0, &l0, &l1, &s0, &s1, &sm);
	ok = true;
	goto out;
oom:
	fprintf(stderr, "lsm_bench: out of memory\n");
out:
	if (jobs)
		for (unsigned t = 0; t < nt; t++)
			free(jobs[t].lat_us);
	free(jobs);
	free(all);
	return ok;
}

/* ---- store and database ---- */

static bool open_store(struct bench *b)
{
	const char *spec = b->o.store;
	zs3_status st;

	if (!strncmp(spec, "local:", 6)) {
		st = zs3_open_local(spec + 6, true, &b->store);
	} else {
		static char default_prefix[96];
		struct rgw_env env;
		struct zs3_s3_config cfg;
		struct timespec ts;

		if (!rgw_env_load(&env)) {
			fprintf(stderr, "lsm_bench: set ZEROFS_RGW_DIR to a directory made by "
					"'scripts/rgw.sh start DIR'\n");
			return false;
		}
		rgw_env_config(&env, &cfg);
		/* the production timeouts, as s3_bench */
		cfg.connect_timeout_ms = 0;
		cfg.stall_timeout_ms = 0;
		if (spec[3] == ':' && spec[4]) {
			cfg.prefix = spec + 4;
		} else {
			clock_gettime(CLOCK_REALTIME, &ts);
			snprintf(default_prefix, sizeof(default_prefix), "lsm_bench/%lld%09ld-%d/",
				 (long long)ts.tv_sec, ts.tv_nsec, (int)getpid());
			cfg.prefix = default_prefix;
		}
		st = zs3_open_s3(&cfg, &b->store);
		explicit_bzero(env.secret_key, sizeof(env.secret_key));
	}
	if (st != ZS3_OK) {
		fprintf(stderr, "lsm_bench: cannot open the store %s: %s (%s)\n", spec,
			zs3_strstatus(st), zs3_last_error());
		return false;
	}
	return true;
}

static bool open_db(struct bench *b)
{
	struct lsm_options o = { .store = b->store };
	size_t mt = b->o.memtable_mb ? b->o.memtable_mb << 20 : DEFAULT_MEMTABLE;
	size_t bc = b->o.block_cache_mb ? b->o.block_cache_mb << 20 : DEFAULT_BLOCK_CACHE;
	lsm_status st;
	double t0 = now_s();

	o.memtable_bytes = b->o.memtable_mb << 20;
	o.block_cache_bytes = b->o.block_cache_mb << 20;
	b->limit_mib = ((double)mt * (DEFAULT_MAX_FROZEN + 1) + (double)bc) / MIB;
	if ((st = lsm_open(&o, &b->db))) {
		fprintf(stderr, "lsm_bench: lsm_open: %s (%s)\n", lsm_strstatus(st),
			err_detail());
		return false;
	}
	printf("open: %.3f s\n", now_s() - t0);
	return true;
}

/* Flush and close, timed separately, then the process's totals. */
static bool close_db(struct bench *b, const struct zs3_stats *s_open)
{
	struct lsm_stats l0 = { 0 }, l1;
	struct zs3_stats s1;
	struct sampler sm;
	lsm_status st, cst;
	double t0, t1, t2;

	sampler_start(&sm, b, false);
	t0 = now_s();
	st = lsm_flush(b->db);
	t1 = now_s();
	lsm_stats(b->db, &l1);
	cst = lsm_close(b->db);
	t2 = now_s();
	b->db = NULL;
	sampler_stop(&sm);
	/* the close row reports the process's peak */
	if (b->peak_heap_mib > sm.heap)
		sm.heap = b->peak_heap_mib;
	zs3_stats(b->store, &s1);
	printf("close: lsm_flush %.3f s, lsm_close %.3f s\n", t1 - t0, t2 - t1);
	if (st || cst) {
		fprintf(stderr, "lsm_bench: %s failed: %s (%s)\n", st ? "lsm_flush" : "lsm_close",
			lsm_strstatus(st ? st : cst), err_detail());
		return false;
	}
	printf("total (this process, open to close):\n");
	/* The lsm counters start at zero at open; the store's at s_open. */
	report(b, "close", 0, t2 - t0, 0, 0, 0, false, b->user_bytes_written, &l0, &l1, s_open, &s1,
	       &sm);
	return true;
}

int main(int argc, char **argv)
{
	struct bench b = { 0 };
	const struct bench_def *run[64];
	size_t n_run = 0;
	struct zs3_stats s_open;
	char *list, *tok, *save = NULL;
	int rc = 1;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!parse_args(argc, argv, &b.o))
		return 2;
	if (!(list = strdup(b.o.benchmarks)))
		return 1;
	for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (!(run[n_run] = find_bench(tok))) {
			fprintf(stderr, "lsm_bench: unknown benchmark '%s'\n", tok);
			usage(stderr);
			free(list);
			return 2;
		}
		if (++n_run == sizeof(run) / sizeof(run[0]))
			break;
	}
	free(list);
	if (!make_pool(&b)) {
		fprintf(stderr, "lsm_bench: out of memory\n");
		return 1;
	}
	if (!open_store(&b)) {
		free(b.pool);
		return 2;
	}
	printf("lsm_bench: store %s (%s); seed %" PRIu64 "; num %" PRIu64 ", reads %" PRIu64
	       "; keys %zu B, values %zu B; batch %u; threads %u%s; fills %s; memtable %zu MiB, "
	       "block cache %zu MiB; peak RSS before open %.1f MiB\n",
	       b.o.store, zs3_describe(b.store), b.o.seed, b.o.num, b.o.reads, b.o.key_size,
	       b.o.value_size, b.o.batch, b.o.threads ? b.o.threads : 1,
	       b.o.threads ? "" : " (durable16: 16)", b.o.durable ? "durable" : "not durable",
	       b.o.memtable_mb ? b.o.memtable_mb : DEFAULT_MEMTABLE >> 20,
	       b.o.block_cache_mb ? b.o.block_cache_mb : DEFAULT_BLOCK_CACHE >> 20, peak_rss_mib());
	zs3_stats(b.store, &s_open);
	if (!open_db(&b))
		goto out;
	rc = 0;
	for (size_t i = 0; i < n_run && rc == 0; i++)
		if (!run_bench(&b, run[i]))
			rc = 1;
	/* Closed also after a failure, but then the failure decides the status. */
	if (!close_db(&b, &s_open))
		rc = 1;
out:
	if (b.db)
		(void)lsm_close(b.db);
	zs3_close(b.store);
	free(b.pool);
	free(b.perm);
	if (rc)
		fprintf(stderr, "lsm_bench: FAILED\n");
	return rc;
}
