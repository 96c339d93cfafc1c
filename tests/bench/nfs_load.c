/*
 * tests/bench/nfs_load.c - the load generator of scripts/bench.sh: one set of
 * workloads (issue #6, W1-W6) run against an NFS server through libnfs's
 * asynchronous API (NFSv3 or NFSv4; many requests in flight on one
 * connection per client) or against a mounted directory (a FUSE mount:
 * s3fs, rclone) through POSIX calls from threads. The workload code is the
 * same for both: a workload hands out operations, a driver executes them.
 *
 *   nfs_load --backend nfs3|nfs4|posix --target EXPORT|DIR [--port P --mount-port M]
 *            --workload NAME --dir NAME [--inflight N] [--files N] [--dirs N]
 *            [--size BYTES] [--count N] [--rounds N] [--clients N] [--seed S]
 *            [--w4-count N] [--w4-seed S]
 *
 * workloads (every path below /DIR of the export or mount):
 *   smallfiles  W1: mkdir --dirs dirs; create --files files of 4 KiB (create,
 *               write, COMMIT/fsync, close each); read back every 10th and check
 *   meta        W2 on smallfiles' tree: stat all (size checked), list every
 *               directory (names counted), rename half, delete all
 *   seqwrite    W3: one file of --size bytes in 1 MiB writes, then COMMIT
 *   seqread     W3: read it back in 1 MiB reads, every byte checked
 *   randwrite   W4: --count writes of 4 KiB to distinct random blocks, COMMIT
 *   randread    W5: --count reads of 4 KiB at random blocks, every byte checked
 *               against what seqwrite and randwrite (--w4-count, --w4-seed) wrote
 *   sync        W6: --clients clients (own connection, own file), --rounds
 *               rounds each of (write 4 KiB, COMMIT); read back and checked
 *
 * Every byte written is a function of (seed, block, generation); every read
 * is compared with it and a mismatch ends the run with status 1 and a
 * message, so a fast wrong answer cannot win. Results, one line per phase:
 *   result PHASE units=N secs=S rate=R mibs=M p50_ms=A p99_ms=B [commit_p50_ms=C commit_p99_ms=D]
 *
 * libnfs 4.0 limits (documented in README "Benchmarks"): its NFSv4 is
 * minor version 0 only (nfs_set_version has no minor version); its NFSv4
 * client cannot encode a WRITE of ~4000 bytes or more, so over nfs4 every
 * write goes out in 2 KiB pieces (scripts/bench.sh runs only W1/W2 over v4).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nfsc/libnfs.h>

#include "bench_util.h"

#define BLOCK 4096u
#define SEQ_IO (1u << 20)
#define V4_WRITE_PIECE 2048u
#define MAX_INFLIGHT 1024
#define MAX_CLIENTS 256
#define PATH_MAX_LEN 512

/* ---- options ---------------------------------------------------------------- */

enum backend { BE_NFS3, BE_NFS4, BE_POSIX };

static struct opts {
	enum backend backend;
	const char *target, *workload, *dir;
	unsigned port, mount_port, inflight, dirs, clients;
	unsigned long long files, size, count, rounds, seed, w4_count, w4_seed;
} O = { .inflight = 64, .dirs = 100, .files = 10000, .size = 1ull << 30, .count = 20000,
	.rounds = 1000, .clients = 1, .seed = 1, .w4_count = 0, .w4_seed = 4 };

static void usage(FILE *f)
{
	fprintf(f,
		"usage: nfs_load --backend nfs3|nfs4|posix --target EXPORT|DIR [--port P --mount-port M]\n"
		"                --workload smallfiles|meta|seqwrite|seqread|randwrite|randread|sync\n"
		"                --dir NAME [--inflight N] [--files N] [--dirs N] [--size BYTES]\n"
		"                [--count N] [--rounds N] [--clients N] [--seed S] [--w4-count N] [--w4-seed S]\n");
}

static bool parse_args(int argc, char **argv)
{
	static const struct {
		const char *name;
		unsigned long long min, max, *dst;
	} counts[] = {
		{ "--files", 1, 10000000, &O.files },	 { "--size", SEQ_IO, 1ull << 40, &O.size },
		{ "--count", 1, 100000000, &O.count },	 { "--rounds", 1, 100000000, &O.rounds },
		{ "--seed", 0, UINT64_MAX, &O.seed },	 { "--w4-count", 0, 100000000, &O.w4_count },
		{ "--w4-seed", 0, UINT64_MAX, &O.w4_seed },
	};
	unsigned long long v;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
		bool done = false;
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			exit(0);
		}
		for (size_t k = 0; k < sizeof(counts) / sizeof(counts[0]); k++)
			if (!strcmp(a, counts[k].name)) {
				if (!bench_parse_count("nfs_load", a, val, counts[k].min, counts[k].max,
						       counts[k].dst))
					return false;
				done = true;
			}
		if (done) {
			i++;
			continue;
		}
		if (!val) {
			usage(stderr);
			return false;
		}
		if (!strcmp(a, "--backend")) {
			if (!strcmp(val, "nfs3"))
				O.backend = BE_NFS3;
			else if (!strcmp(val, "nfs4"))
				O.backend = BE_NFS4;
			else if (!strcmp(val, "posix"))
				O.backend = BE_POSIX;
			else {
				usage(stderr);
				return false;
			}
		} else if (!strcmp(a, "--target")) {
			O.target = val;
		} else if (!strcmp(a, "--workload")) {
			O.workload = val;
		} else if (!strcmp(a, "--dir")) {
			O.dir = val;
		} else if (!strcmp(a, "--port") || !strcmp(a, "--mount-port") ||
			   !strcmp(a, "--inflight") || !strcmp(a, "--dirs") || !strcmp(a, "--clients")) {
			unsigned long long max = !strcmp(a, "--inflight") ? MAX_INFLIGHT
						 : !strcmp(a, "--clients") ? MAX_CLIENTS
						 : !strcmp(a, "--dirs")	   ? 100000
									   : 65535;
			if (!bench_parse_count("nfs_load", a, val, 1, max, &v))
				return false;
			*(!strcmp(a, "--port")	       ? &O.port
			  : !strcmp(a, "--mount-port") ? &O.mount_port
			  : !strcmp(a, "--inflight")   ? &O.inflight
			  : !strcmp(a, "--dirs")       ? &O.dirs
						       : &O.clients) = (unsigned)v;
		} else {
			usage(stderr);
			return false;
		}
		i++;
	}
	if (!O.target || !O.workload || !O.dir || strchr(O.dir, '/') || strlen(O.dir) > 64 ||
	    (O.backend != BE_POSIX && !O.port) || (O.backend == BE_NFS3 && !O.mount_port)) {
		usage(stderr);
		return false;
	}
	if (O.size % SEQ_IO) {
		fprintf(stderr, "nfs_load: --size must be a multiple of 1 MiB\n");
		return false;
	}
	return true;
}

/* ---- content: every byte a function of (seed, block, generation) ------------ */

static uint64_t splitmix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* Fills one 4 KiB block. domain separates file data (1) from W1/W6 files. */
static void fill_block(uint8_t *p, uint64_t domain, uint64_t block, uint64_t gen)
{
	uint64_t s = splitmix(O.seed ^ splitmix(domain * 0x100000001b3ull ^ splitmix(block) ^ (gen << 56)));
	for (unsigned i = 0; i < BLOCK / 8; i++) {
		uint64_t w = splitmix(s + i);
		memcpy(p + 8 * i, &w, 8);
	}
}

static atomic_bool failed;

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "nfs_load: ERROR: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	atomic_store(&failed, true);
}

/* Checks one block read back; false (and the run fails loudly) on a mismatch. */
static bool check_block(const uint8_t *got, const char *what, uint64_t domain, uint64_t block,
			uint64_t gen)
{
	uint8_t want[BLOCK];
	fill_block(want, domain, block, gen);
	if (memcmp(got, want, BLOCK) == 0)
		return true;
	size_t i = 0;
	while (got[i] == want[i])
		i++;
	fail("VERIFY FAILED: %s block %" PRIu64 " (generation %" PRIu64 "): byte %zu is 0x%02x, want 0x%02x",
	     what, block, gen, i, got[i], want[i]);
	return false;
}

/* ---- operations -------------------------------------------------------------- */

enum op_kind { OP_MKDIR, OP_RMDIR, OP_CREATE, OP_OPEN_R, OP_OPEN_RW, OP_WRITE, OP_READ, OP_FSYNC,
	       OP_CLOSE, OP_STAT, OP_LIST, OP_RENAME, OP_UNLINK };
static const char *const op_names[] = { "mkdir", "rmdir", "create", "open",  "open",   "write", "read",
					"fsync", "close", "stat",   "list",  "rename", "unlink" };

/* A file handle as both drivers keep it. */
struct fh {
	struct nfsfh *nfs;
	int fd;
};

struct op {
	enum op_kind kind;
	char path[PATH_MAX_LEN], path2[PATH_MAX_LEN];
	struct fh *fh; /* in: the file (write/read/fsync/close); out: for create/open */
	uint64_t off;
	size_t len, done;
	uint8_t *buf;
	int series; /* latency series to record this op in, -1 none */
	/* results */
	int err; /* 0 or -errno */
	uint64_t st_size;
	bool st_reg;
	size_t entries; /* OP_LIST: names starting with the prefix in path2 */
	double t0;
};

/* A slot: one request in flight, with its workload state. */
struct slot {
	unsigned id, client; /* client: which connection (sync workload) */
	struct op op;
	struct fh fh;
	bool has_fh;
	uint64_t job;		/* workload's current job (file index, round ...) */
	int stage;		/* workload's step within the job */
	double job_t0;		/* when the job (a W6 round) began */
	uint8_t *buf;		/* SEQ_IO bytes */
	struct nfs_context *nfs;
};

/* latency samples, in ms */
#define NSERIES 3
enum { SER_OP, SER_ROUND, SER_COMMIT };
static struct series {
	pthread_mutex_t lock;
	double *v;
	size_t n, cap;
} series[NSERIES] = { [0 ... NSERIES - 1] = { .lock = PTHREAD_MUTEX_INITIALIZER } };

static void sample(int s, double ms)
{
	struct series *q = &series[s];
	pthread_mutex_lock(&q->lock);
	if (q->n == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : 4096;
		double *v = realloc(q->v, cap * sizeof(*v));
		if (!v) {
			pthread_mutex_unlock(&q->lock);
			fail("out of memory");
			return;
		}
		q->v = v;
		q->cap = cap;
	}
	q->v[q->n++] = ms;
	pthread_mutex_unlock(&q->lock);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* nearest-rank percentile */
static double pct(int s, double p)
{
	struct series *q = &series[s];
	if (!q->n)
		return 0;
	qsort(q->v, q->n, sizeof(double), cmp_double);
	size_t r = (size_t)(p * (double)q->n + 0.999999);
	if (r < 1)
		r = 1;
	if (r > q->n)
		r = q->n;
	return q->v[r - 1];
}

/* ---- workloads ------------------------------------------------------------------
 * A phase's step(slot, first) looks at the slot's finished op (unless first),
 * then either puts the next op in slot->op and returns true, or returns false:
 * the slot has nothing more to do in this phase. Jobs are claimed from an
 * atomic counter, so steps may run on several threads (posix driver). */

struct phase {
	const char *name;
	uint64_t units;	   /* what the rate counts (files, ops, bytes for seq) */
	bool bytes;	   /* units are bytes: report MiB/s */
	unsigned slots;	   /* in flight in this phase (<= O.inflight) */
	bool (*step)(struct slot *s, bool first);
	bool report;	   /* print a result line */
};

static atomic_uint_fast64_t next_job;
static struct fh shared_fh; /* the big file (W3-W5) */
static uint8_t *w4_written; /* block -> generation (0 or 1) */

static bool claim(uint64_t n, uint64_t *job)
{
	uint64_t j = atomic_fetch_add(&next_job, 1);
	if (j >= n)
		return false;
	*job = j;
	return true;
}

static void set_op(struct slot *s, enum op_kind k, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void set_op(struct slot *s, enum op_kind k, const char *fmt, ...)
{
	va_list ap;
	struct op *o = &s->op;
	memset(o, 0, sizeof(*o));
	o->kind = k;
	o->series = -1;
	o->fh = &s->fh;
	o->buf = s->buf;
	va_start(ap, fmt);
	vsnprintf(o->path, sizeof(o->path), fmt, ap);
	va_end(ap);
}

static bool op_ok(struct slot *s)
{
	if (s->op.err == 0)
		return true;
	fail("%s %s%s%s: %s", op_names[s->op.kind], s->op.path, s->op.path2[0] ? " -> " : "",
	     s->op.path2, strerror(-s->op.err));
	return false;
}

/* smallfiles / meta: /DIR/dNNN/fNNNNNNN, file i in directory i % dirs */
static void fname(char *buf, size_t cap, uint64_t i, char c)
{
	snprintf(buf, cap, "/%s/d%03u/%c%07" PRIu64, O.dir, (unsigned)(i % O.dirs), c, i);
}
#define D_SMALL 1

static bool st_mkdir(struct slot *s, bool first)
{
	(void)first;
	if (!first && !op_ok(s))
		return false;
	if (!claim(O.dirs, &s->job))
		return false;
	set_op(s, OP_MKDIR, "/%s/d%03u", O.dir, (unsigned)s->job);
	return true;
}

static bool st_create(struct slot *s, bool first)
{
	char p[PATH_MAX_LEN];
	if (!first && !op_ok(s))
		return false;
	if (first)
		s->stage = 0;
	switch (s->stage) {
	case 0: /* start a file */
		if (!claim(O.files, &s->job))
			return false;
		fname(p, sizeof(p), s->job, 'f');
		set_op(s, OP_CREATE, "%s", p);
		s->stage = 1;
		return true;
	case 1:
		fill_block(s->buf, D_SMALL, s->job, 0);
		set_op(s, OP_WRITE, "f%" PRIu64, s->job);
		s->op.len = BLOCK;
		s->stage = 2;
		return true;
	case 2:
		if (s->op.done != BLOCK) {
			fail("short write to file %" PRIu64, s->job);
			return false;
		}
		set_op(s, OP_FSYNC, "f%" PRIu64, s->job);
		s->stage = 3;
		return true;
	case 3:
		set_op(s, OP_CLOSE, "f%" PRIu64, s->job);
		s->stage = 0;
		return true;
	}
	return false;
}

/* read back every 10th file */
static bool st_smallverify(struct slot *s, bool first)
{
	char p[PATH_MAX_LEN];
	uint64_t n = (O.files + 9) / 10;
	if (!first && !op_ok(s))
		return false;
	if (first)
		s->stage = 0;
	switch (s->stage) {
	case 0:
		if (!claim(n, &s->job))
			return false;
		fname(p, sizeof(p), s->job * 10, 'f');
		set_op(s, OP_OPEN_R, "%s", p);
		s->stage = 1;
		return true;
	case 1:
		set_op(s, OP_READ, "f%" PRIu64, s->job * 10);
		s->op.len = BLOCK + 1; /* one more: the file must end at 4 KiB */
		s->stage = 2;
		return true;
	case 2:
		if (s->op.done != BLOCK) {
			fail("VERIFY FAILED: file %" PRIu64 " has %zu bytes, want %u", s->job * 10,
			     s->op.done, BLOCK);
			return false;
		}
		if (!check_block(s->buf, "small file", D_SMALL, s->job * 10, 0))
			return false;
		set_op(s, OP_CLOSE, "f%" PRIu64, s->job * 10);
		s->stage = 0;
		return true;
	}
	return false;
}

static bool st_stat(struct slot *s, bool first)
{
	char p[PATH_MAX_LEN];
	if (!first) {
		if (!op_ok(s))
			return false;
		if (!s->op.st_reg || s->op.st_size != BLOCK) {
			fail("VERIFY FAILED: stat %s: size %" PRIu64 " (want %u)%s", s->op.path,
			     s->op.st_size, BLOCK, s->op.st_reg ? "" : ", not a regular file");
			return false;
		}
	}
	if (!claim(O.files, &s->job))
		return false;
	fname(p, sizeof(p), s->job, 'f');
	set_op(s, OP_STAT, "%s", p);
	return true;
}

static bool st_list(struct slot *s, bool first)
{
	if (!first) {
		if (!op_ok(s))
			return false;
		uint64_t d = s->job, want = O.files / O.dirs + (d < O.files % O.dirs);
		if (s->op.entries != want) {
			fail("VERIFY FAILED: %s lists %zu files, want %" PRIu64, s->op.path,
			     s->op.entries, want);
			return false;
		}
	}
	if (!claim(O.dirs, &s->job))
		return false;
	set_op(s, OP_LIST, "/%s/d%03u", O.dir, (unsigned)s->job);
	strcpy(s->op.path2, "f");
	return true;
}

static bool st_rename(struct slot *s, bool first)
{
	char p[PATH_MAX_LEN];
	if (!first && !op_ok(s))
		return false;
	if (!claim((O.files + 1) / 2, &s->job))
		return false;
	fname(p, sizeof(p), s->job * 2, 'f');
	set_op(s, OP_RENAME, "%s", p);
	fname(s->op.path2, sizeof(s->op.path2), s->job * 2, 'r');
	return true;
}

static bool st_delete(struct slot *s, bool first)
{
	char p[PATH_MAX_LEN];
	if (!first && !op_ok(s))
		return false;
	if (!claim(O.files, &s->job))
		return false;
	fname(p, sizeof(p), s->job, s->job % 2 ? 'f' : 'r');
	set_op(s, OP_UNLINK, "%s", p);
	return true;
}

static bool st_rmdir(struct slot *s, bool first)
{
	if (!first && !op_ok(s))
		return false;
	if (!claim(O.dirs, &s->job))
		return false;
	set_op(s, OP_RMDIR, "/%s/d%03u", O.dir, (unsigned)s->job);
	return true;
}

/* W3-W5: /DIR/big, shared handle opened by the open phase */
#define D_BIG 2
static enum op_kind big_open_kind = OP_OPEN_R;

static bool st_big_open(struct slot *s, bool first)
{
	if (!first) {
		if (op_ok(s)) {
			shared_fh = s->fh;
			s->has_fh = false;
		}
		return false;
	}
	set_op(s, big_open_kind, "/%s/big", O.dir);
	return true;
}

static bool st_big_fsync(struct slot *s, bool first)
{
	if (!first) {
		op_ok(s);
		return false;
	}
	set_op(s, OP_FSYNC, "/%s/big", O.dir);
	s->op.fh = &shared_fh;
	s->op.series = SER_COMMIT;
	return true;
}

static bool st_big_close(struct slot *s, bool first)
{
	if (!first) {
		op_ok(s);
		return false;
	}
	set_op(s, OP_CLOSE, "/%s/big", O.dir);
	s->op.fh = &shared_fh;
	return true;
}

static bool st_seqwrite(struct slot *s, bool first)
{
	if (!first && (!op_ok(s) || s->op.done != SEQ_IO)) {
		if (!atomic_load(&failed))
			fail("short write at %" PRIu64, s->op.off);
		return false;
	}
	if (!claim(O.size / SEQ_IO, &s->job))
		return false;
	set_op(s, OP_WRITE, "/%s/big", O.dir);
	s->op.fh = &shared_fh;
	s->op.off = s->job * SEQ_IO;
	s->op.len = SEQ_IO;
	for (unsigned b = 0; b < SEQ_IO / BLOCK; b++)
		fill_block(s->buf + b * BLOCK, D_BIG, s->op.off / BLOCK + b, 0);
	return true;
}

static bool st_seqread(struct slot *s, bool first)
{
	if (!first) {
		if (!op_ok(s))
			return false;
		if (s->op.done != SEQ_IO) {
			fail("VERIFY FAILED: read at %" PRIu64 " returned %zu bytes, want %u", s->op.off,
			     s->op.done, SEQ_IO);
			return false;
		}
		for (unsigned b = 0; b < SEQ_IO / BLOCK; b++) {
			uint64_t blk = s->op.off / BLOCK + b;
			if (!check_block(s->buf + b * BLOCK, "big file", D_BIG, blk,
					 w4_written ? w4_written[blk] : 0))
				return false;
		}
	}
	if (!claim(O.size / SEQ_IO, &s->job))
		return false;
	set_op(s, OP_READ, "/%s/big", O.dir);
	s->op.fh = &shared_fh;
	s->op.off = s->job * SEQ_IO;
	s->op.len = SEQ_IO;
	return true;
}

/* W4's blocks: the first --w4-count of a seeded permutation of all blocks, so
 * no two writes hit one block and every block's content is known. */
static uint64_t *w4_blocks;

static bool make_w4_blocks(uint64_t count, uint64_t seed)
{
	uint64_t nblocks = O.size / BLOCK;
	if (count > nblocks) {
		fail("--w4-count %" PRIu64 " is more than the file's %" PRIu64 " blocks", count, nblocks);
		return false;
	}
	uint64_t *perm = malloc(nblocks * sizeof(*perm));
	w4_written = calloc(nblocks, 1);
	if (!perm || !w4_written) {
		free(perm);
		fail("out of memory");
		return false;
	}
	for (uint64_t i = 0; i < nblocks; i++)
		perm[i] = i;
	uint64_t x = seed;
	for (uint64_t i = 0; i < count; i++) {
		uint64_t j = i + splitmix(x++) % (nblocks - i), t = perm[i];
		perm[i] = perm[j];
		perm[j] = t;
		w4_written[perm[i]] = 1;
	}
	w4_blocks = perm;
	return true;
}

static bool st_randwrite(struct slot *s, bool first)
{
	if (!first && (!op_ok(s) || s->op.done != BLOCK)) {
		if (!atomic_load(&failed))
			fail("short write at %" PRIu64, s->op.off);
		return false;
	}
	if (!claim(O.count, &s->job))
		return false;
	uint64_t blk = w4_blocks[s->job];
	set_op(s, OP_WRITE, "/%s/big", O.dir);
	s->op.fh = &shared_fh;
	s->op.off = blk * BLOCK;
	s->op.len = BLOCK;
	s->op.series = SER_OP;
	fill_block(s->buf, D_BIG, blk, 1);
	return true;
}

static bool st_randread(struct slot *s, bool first)
{
	if (!first) {
		if (!op_ok(s))
			return false;
		uint64_t blk = s->op.off / BLOCK;
		if (s->op.done != BLOCK) {
			fail("VERIFY FAILED: read at %" PRIu64 " returned %zu bytes", s->op.off, s->op.done);
			return false;
		}
		if (!check_block(s->buf, "big file", D_BIG, blk, w4_written ? w4_written[blk] : 0))
			return false;
	}
	if (!claim(O.count, &s->job))
		return false;
	uint64_t blk = splitmix(O.seed * 0x9e3779b97f4a7c15ull + s->job) % (O.size / BLOCK);
	set_op(s, OP_READ, "/%s/big", O.dir);
	s->op.fh = &shared_fh;
	s->op.off = blk * BLOCK;
	s->op.len = BLOCK;
	s->op.series = SER_OP;
	return true;
}

/* W6: slot i is client i with its own file /DIR/sync-i */
#define D_SYNC 3
static uint64_t sync_block(unsigned client, uint64_t round)
{
	return ((uint64_t)client << 32) | round;
}

static bool st_sync_create(struct slot *s, bool first)
{
	if (!first) {
		if (!op_ok(s))
			return false;
		return false; /* keep the handle in the slot */
	}
	set_op(s, OP_CREATE, "/%s/sync-%u", O.dir, s->client);
	return true;
}

static bool st_sync_rounds(struct slot *s, bool first)
{
	if (first) {
		s->job = 0;
		s->stage = 0;
	} else if (!op_ok(s)) {
		return false;
	}
	if (s->stage == 1) { /* the write finished: commit */
		set_op(s, OP_FSYNC, "/%s/sync-%u", O.dir, s->client);
		s->op.series = SER_COMMIT;
		s->stage = 2;
		return true;
	}
	if (s->stage == 2) { /* a round finished */
		sample(SER_ROUND, (bench_now_s() - s->job_t0) * 1e3);
		s->job++;
	}
	if (s->job >= O.rounds)
		return false;
	s->job_t0 = bench_now_s();
	set_op(s, OP_WRITE, "/%s/sync-%u", O.dir, s->client);
	s->op.off = s->job * BLOCK;
	s->op.len = BLOCK;
	fill_block(s->buf, D_SYNC, sync_block(s->client, s->job), 0);
	s->stage = 1;
	return true;
}

static bool st_sync_verify(struct slot *s, bool first)
{
	if (first) {
		s->job = 0;
	} else {
		if (!op_ok(s))
			return false;
		if (s->op.done != BLOCK) {
			fail("VERIFY FAILED: sync-%u round %" PRIu64 ": %zu bytes", s->client, s->job,
			     s->op.done);
			return false;
		}
		if (!check_block(s->buf, "sync file", D_SYNC, sync_block(s->client, s->job), 0))
			return false;
		s->job++;
	}
	if (s->job >= O.rounds)
		return false;
	set_op(s, OP_READ, "/%s/sync-%u", O.dir, s->client);
	s->op.off = s->job * BLOCK;
	s->op.len = BLOCK;
	return true;
}

static bool st_sync_close(struct slot *s, bool first)
{
	if (!first) {
		op_ok(s);
		return false;
	}
	set_op(s, OP_CLOSE, "/%s/sync-%u", O.dir, s->client);
	return true;
}

/* ---- NFS driver: libnfs async, one thread, poll over every client's socket ---- */

static struct nfs_context *clients[MAX_CLIENTS];
static unsigned nclients;
static struct slot *slots;
static unsigned busy;
static const struct phase *cur_phase;

static void nfs_submit(struct slot *s);

static void nfs_done(struct slot *s, int err)
{
	struct op *o = &s->op;
	o->err = err;
	if (o->series >= 0 && !err)
		sample(o->series, (bench_now_s() - o->t0) * 1e3);
	if (!atomic_load(&failed) && cur_phase->step(s, false)) {
		nfs_submit(s);
		return;
	}
	busy--;
}

static void cb_generic(int err, struct nfs_context *nfs, void *data, void *priv)
{
	struct slot *s = priv;
	(void)nfs;
	(void)data;
	nfs_done(s, err < 0 ? err : 0);
}

static void cb_open(int err, struct nfs_context *nfs, void *data, void *priv)
{
	struct slot *s = priv;
	(void)nfs;
	if (err >= 0) {
		s->op.fh->nfs = data;
		s->has_fh = true;
	}
	nfs_done(s, err < 0 ? err : 0);
}

static void cb_stat(int err, struct nfs_context *nfs, void *data, void *priv)
{
	struct slot *s = priv;
	(void)nfs;
	if (err >= 0) {
		const struct nfs_stat_64 *st = data;
		s->op.st_size = st->nfs_size;
		s->op.st_reg = S_ISREG(st->nfs_mode);
	}
	nfs_done(s, err < 0 ? err : 0);
}

static void cb_list(int err, struct nfs_context *nfs, void *data, void *priv)
{
	struct slot *s = priv;
	if (err >= 0) {
		struct nfsdir *d = data;
		struct nfsdirent *e;
		size_t plen = strlen(s->op.path2);
		while ((e = nfs_readdir(nfs, d)))
			if (!strncmp(e->name, s->op.path2, plen))
				s->op.entries++;
		nfs_closedir(nfs, d);
	}
	nfs_done(s, err < 0 ? err : 0);
}

static int piece_len(const struct op *o)
{
	size_t left = o->len - o->done;
	if (O.backend == BE_NFS4 && left > V4_WRITE_PIECE)
		left = V4_WRITE_PIECE;
	return (int)left;
}

static int submit_piece(struct slot *s);

static void cb_write(int err, struct nfs_context *nfs, void *data, void *priv)
{
	struct slot *s = priv;
	(void)nfs;
	(void)data;
	if (err > 0) {
		s->op.done += (size_t)err;
		if (s->op.done < s->op.len) { /* v4: the next 2 KiB piece */
			if (submit_piece(s) != 0)
				nfs_done(s, -EIO);
			return;
		}
	}
	nfs_done(s, err < 0 ? err : 0);
}

static void cb_read(int err, struct nfs_context *nfs, void *data, void *priv)
{
	struct slot *s = priv;
	(void)nfs;
	if (err > 0) {
		if ((size_t)err > s->op.len)
			err = (int)s->op.len;
		memcpy(s->op.buf, data, (size_t)err);
		s->op.done = (size_t)err;
	}
	nfs_done(s, err < 0 ? err : 0);
}

static int submit_piece(struct slot *s)
{
	struct op *o = &s->op;
	return nfs_pwrite_async(s->nfs, o->fh->nfs, o->off + o->done, (uint64_t)piece_len(o),
				o->buf + o->done, cb_write, s);
}

static void nfs_submit(struct slot *s)
{
	struct op *o = &s->op;
	struct nfs_context *n = s->nfs;
	int rc = -1;

	o->t0 = bench_now_s();
	switch (o->kind) {
	case OP_MKDIR: rc = nfs_mkdir_async(n, o->path, cb_generic, s); break;
	case OP_RMDIR: rc = nfs_rmdir_async(n, o->path, cb_generic, s); break;
	case OP_CREATE:
		rc = nfs_create_async(n, o->path, O_RDWR | O_CREAT | O_TRUNC, 0644, cb_open, s);
		break;
	case OP_OPEN_R: rc = nfs_open_async(n, o->path, O_RDONLY, cb_open, s); break;
	case OP_OPEN_RW: rc = nfs_open_async(n, o->path, O_RDWR, cb_open, s); break;
	case OP_WRITE: rc = submit_piece(s); break;
	case OP_READ: rc = nfs_pread_async(n, o->fh->nfs, o->off, o->len, cb_read, s); break;
	case OP_FSYNC: rc = nfs_fsync_async(n, o->fh->nfs, cb_generic, s); break;
	case OP_CLOSE:
		rc = nfs_close_async(n, o->fh->nfs, cb_generic, s);
		if (rc == 0 && o->fh == &s->fh)
			s->has_fh = false;
		break;
	case OP_STAT: rc = nfs_stat64_async(n, o->path, cb_stat, s); break;
	case OP_LIST: rc = nfs_opendir_async(n, o->path, cb_list, s); break;
	case OP_RENAME: rc = nfs_rename_async(n, o->path, o->path2, cb_generic, s); break;
	case OP_UNLINK: rc = nfs_unlink_async(n, o->path, cb_generic, s); break;
	}
	if (rc != 0) {
		fail("queueing %s %s: %s", op_names[o->kind], o->path, nfs_get_error(n));
		busy--;
	}
}

static bool nfs_run_phase(const struct phase *ph)
{
	struct pollfd pfd[MAX_CLIENTS];
	cur_phase = ph;
	busy = 0;
	for (unsigned i = 0; i < ph->slots; i++) {
		if (atomic_load(&failed))
			break;
		if (ph->step(&slots[i], true)) {
			busy++;
			nfs_submit(&slots[i]);
		}
	}
	while (busy > 0) {
		for (unsigned c = 0; c < nclients; c++) {
			pfd[c].fd = nfs_get_fd(clients[c]);
			pfd[c].events = (short)nfs_which_events(clients[c]);
			pfd[c].revents = 0;
		}
		int n = poll(pfd, nclients, 1000);
		if (n < 0 && errno != EINTR) {
			fail("poll: %s", strerror(errno));
			return false;
		}
		for (unsigned c = 0; c < nclients; c++)
			if (nfs_service(clients[c], n > 0 ? pfd[c].revents : 0) < 0) {
				fail("client %u: %s", c, nfs_get_error(clients[c]));
				return false;
			}
	}
	return !atomic_load(&failed);
}

static struct nfs_context *nfs_connect(void)
{
	char url[1024];
	struct nfs_context *nfs = nfs_init_context();
	struct nfs_url *u;
	int version = O.backend == BE_NFS4 ? 4 : 3;

	if (!nfs) {
		fail("nfs_init_context failed");
		return NULL;
	}
	if (version == 4)
		snprintf(url, sizeof(url), "nfs://127.0.0.1%s?version=4&nfsport=%u", O.target, O.port);
	else
		snprintf(url, sizeof(url), "nfs://127.0.0.1%s?version=3&nfsport=%u&mountport=%u",
			 O.target, O.port, O.mount_port);
	if (version == 4) {
		/* Each context is a client of its own: by default libnfs names every
		 * context of a process alike, so they would share one clientid. */
		static unsigned ctx_no;
		char id[64], verf[9];
		snprintf(id, sizeof(id), "nfs_load-%d-%u", (int)getpid(), ctx_no);
		snprintf(verf, sizeof(verf), "%08x", ctx_no++);
		nfs4_set_client_name(nfs, id);
		nfs4_set_verifier(nfs, verf);
	}
	nfs_set_timeout(nfs, 600000);
	nfs_set_dircache(nfs, 0);
	nfs_set_pagecache(nfs, 0);
	nfs_set_readahead(nfs, 0);
	u = nfs_parse_url_dir(nfs, url);
	if (!u || nfs_mount(nfs, u->server, u->path) != 0) {
		fail("mount %s: %s", url, nfs_get_error(nfs));
		if (u)
			nfs_destroy_url(u);
		nfs_destroy_context(nfs);
		return NULL;
	}
	nfs_destroy_url(u);
	return nfs;
}

/* ---- POSIX driver: one thread per slot, blocking calls on the mount ---------- */

static void posix_exec(struct slot *s)
{
	struct op *o = &s->op;
	char p[2 * PATH_MAX_LEN], q[2 * PATH_MAX_LEN];
	struct stat st;
	ssize_t n;
	int rc = 0;

	snprintf(p, sizeof(p), "%s%s", O.target, o->path);
	o->t0 = bench_now_s();
	switch (o->kind) {
	case OP_MKDIR: rc = mkdir(p, 0755); break;
	case OP_RMDIR: rc = rmdir(p); break;
	case OP_CREATE:
	case OP_OPEN_R:
	case OP_OPEN_RW:
		o->fh->fd = open(p, o->kind == OP_CREATE ? O_RDWR | O_CREAT | O_TRUNC
				    : o->kind == OP_OPEN_R ? O_RDONLY
							   : O_RDWR,
				 0644);
		rc = o->fh->fd < 0 ? -1 : 0;
		if (!rc)
			s->has_fh = true;
		break;
	case OP_WRITE:
		while (o->done < o->len) {
			n = pwrite(o->fh->fd, o->buf + o->done, o->len - o->done, (off_t)(o->off + o->done));
			if (n <= 0) {
				rc = -1;
				if (n == 0)
					errno = EIO;
				break;
			}
			o->done += (size_t)n;
		}
		break;
	case OP_READ:
		while (o->done < o->len) {
			n = pread(o->fh->fd, o->buf + o->done, o->len - o->done, (off_t)(o->off + o->done));
			if (n < 0)
				rc = -1;
			if (n <= 0)
				break;
			o->done += (size_t)n;
		}
		break;
	case OP_FSYNC: rc = fsync(o->fh->fd); break;
	case OP_CLOSE:
		rc = close(o->fh->fd);
		if (o->fh == &s->fh)
			s->has_fh = false;
		break;
	case OP_STAT:
		rc = stat(p, &st);
		o->st_size = (uint64_t)st.st_size;
		o->st_reg = S_ISREG(st.st_mode);
		break;
	case OP_LIST: {
		DIR *d = opendir(p);
		struct dirent *e;
		size_t plen = strlen(o->path2);
		if (!d) {
			rc = -1;
			break;
		}
		while ((e = readdir(d)))
			if (!strncmp(e->d_name, o->path2, plen))
				o->entries++;
		closedir(d);
		break;
	}
	case OP_RENAME:
		snprintf(q, sizeof(q), "%s%s", O.target, o->path2);
		rc = rename(p, q);
		break;
	case OP_UNLINK: rc = unlink(p); break;
	}
	o->err = rc < 0 ? -errno : 0;
	if (o->series >= 0 && !o->err)
		sample(o->series, (bench_now_s() - o->t0) * 1e3);
}

static void *posix_worker(void *arg)
{
	struct slot *s = arg;
	bool more = cur_phase->step(s, true);
	while (more && !atomic_load(&failed)) {
		posix_exec(s);
		more = cur_phase->step(s, false);
	}
	return NULL;
}

static bool posix_run_phase(const struct phase *ph)
{
	pthread_t th[MAX_INFLIGHT];
	unsigned started = 0;
	cur_phase = ph;
	for (unsigned i = 0; i < ph->slots; i++) {
		int rc = pthread_create(&th[i], NULL, posix_worker, &slots[i]);
		if (rc) {
			fail("pthread_create: %s", strerror(rc));
			break;
		}
		started++;
	}
	for (unsigned i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	return !atomic_load(&failed);
}

/* ---- phases and main ----------------------------------------------------------- */

static bool run_phase(struct phase ph)
{
	double t0, secs;
	for (int i = 0; i < NSERIES; i++)
		series[i].n = 0;
	atomic_store(&next_job, 0);
	t0 = bench_now_s();
	bool ok = O.backend == BE_POSIX ? posix_run_phase(&ph) : nfs_run_phase(&ph);
	secs = bench_now_s() - t0;
	if (!ok) {
		fprintf(stderr, "nfs_load: phase %s failed\n", ph.name);
		return false;
	}
	if (!ph.report)
		return true;
	double rate = (double)ph.units / secs;
	int lat = series[SER_ROUND].n ? SER_ROUND : SER_OP;
	printf("result %s units=%" PRIu64 " secs=%.3f rate=%.1f mibs=%.1f", ph.name, ph.units, secs,
	       ph.bytes ? rate / BLOCK : rate, ph.bytes ? rate / 1048576.0 : rate * BLOCK / 1048576.0);
	if (series[lat].n)
		printf(" p50_ms=%.3f p99_ms=%.3f", pct(lat, 0.5), pct(lat, 0.99));
	if (series[SER_COMMIT].n)
		printf(" commit_p50_ms=%.3f commit_p99_ms=%.3f commits=%zu", pct(SER_COMMIT, 0.5),
		       pct(SER_COMMIT, 0.99), series[SER_COMMIT].n);
	printf("\n");
	fflush(stdout);
	return true;
}

#define PH(n, u, b, sl, fn, rep) ((struct phase){ n, u, b, sl, fn, rep })

static unsigned min_u(unsigned a, uint64_t b)
{
	return b < a ? (unsigned)b : a;
}

static bool run_workload(void)
{
	const char *w = O.workload;
	unsigned in = O.inflight;

	if (!strcmp(w, "smallfiles"))
		return run_phase(PH("mkdir", O.dirs, false, min_u(in, O.dirs), st_mkdir, true)) &&
		       run_phase(PH("create", O.files, false, min_u(in, O.files), st_create, true)) &&
		       run_phase(PH("verify", (O.files + 9) / 10, false, min_u(in, O.files), st_smallverify,
				    true));
	if (!strcmp(w, "meta"))
		return run_phase(PH("stat", O.files, false, min_u(in, O.files), st_stat, true)) &&
		       run_phase(PH("list", O.dirs, false, min_u(in, O.dirs), st_list, true)) &&
		       run_phase(PH("rename", (O.files + 1) / 2, false, min_u(in, O.files), st_rename, true)) &&
		       run_phase(PH("delete", O.files, false, min_u(in, O.files), st_delete, true)) &&
		       run_phase(PH("rmdir", O.dirs, false, min_u(in, O.dirs), st_rmdir, true));
	if (!strcmp(w, "seqwrite") || !strcmp(w, "seqread") || !strcmp(w, "randwrite") ||
	    !strcmp(w, "randread")) {
		bool write = !strcmp(w, "seqwrite") || !strcmp(w, "randwrite");
		uint64_t nio = w[0] == 's' ? O.size / SEQ_IO : O.count;
		if (O.w4_count && !make_w4_blocks(O.w4_count, O.w4_seed))
			return false;
		if (!strcmp(w, "randwrite") && !make_w4_blocks(O.count, O.w4_seed))
			return false;
		big_open_kind = write ? OP_OPEN_RW : OP_OPEN_R;
		if (!strcmp(w, "seqwrite")) {
			/* create (or truncate) the file first */
			big_open_kind = OP_CREATE;
			if (!run_phase(PH("create", 1, false, 1, st_big_open, false)))
				return false;
		}
		bool (*io)(struct slot *, bool) = !strcmp(w, "seqwrite")  ? st_seqwrite
						  : !strcmp(w, "seqread")   ? st_seqread
						  : !strcmp(w, "randwrite") ? st_randwrite
									    : st_randread;
		double t0 = bench_now_s();
		if (strcmp(w, "seqwrite") && !run_phase(PH("open", 1, false, 1, st_big_open, false)))
			return false;
		if (!run_phase(PH(w[0] == 's' ? (write ? "write" : "read") : (write ? "write" : "read"),
				  w[0] == 's' ? O.size : nio, w[0] == 's', min_u(in, nio), io, true)))
			return false;
		if (write) {
			if (!run_phase(PH("commit", 1, false, 1, st_big_fsync, true)))
				return false;
			/* the headline: writes and the COMMIT that makes them durable */
			double secs = bench_now_s() - t0;
			uint64_t units = w[0] == 's' ? O.size : O.count;
			printf("result total units=%" PRIu64 " secs=%.3f rate=%.1f mibs=%.1f\n", units, secs,
			       w[0] == 's' ? (double)units / BLOCK / secs : (double)units / secs,
			       w[0] == 's' ? (double)units / 1048576.0 / secs
					   : (double)units * BLOCK / 1048576.0 / secs);
		}
		return run_phase(PH("close", 1, false, 1, st_big_close, false));
	}
	if (!strcmp(w, "sync"))
		return run_phase(PH("open", O.clients, false, O.clients, st_sync_create, false)) &&
		       run_phase(PH("rounds", O.clients * O.rounds, false, O.clients, st_sync_rounds, true)) &&
		       run_phase(PH("verify", O.clients * O.rounds, false, O.clients, st_sync_verify, false)) &&
		       run_phase(PH("close", O.clients, false, O.clients, st_sync_close, false));
	fprintf(stderr, "nfs_load: unknown workload '%s'\n", w);
	return false;
}

/* The run's top directory, made by a blocking call before the clock starts. */
static bool make_top(void)
{
	char p[2 * PATH_MAX_LEN];
	int rc;
	if (strcmp(O.workload, "smallfiles") && strcmp(O.workload, "seqwrite") && strcmp(O.workload, "sync"))
		return true;
	if (O.backend == BE_POSIX) {
		snprintf(p, sizeof(p), "%s/%s", O.target, O.dir);
		rc = mkdir(p, 0755) < 0 ? -errno : 0;
	} else {
		snprintf(p, sizeof(p), "/%s", O.dir);
		rc = nfs_mkdir(clients[0], p);
	}
	if (rc && rc != -EEXIST) {
		fail("mkdir %s: %s", p, strerror(-rc));
		return false;
	}
	return true;
}

int main(int argc, char **argv)
{
	bool ok = false;
	unsigned nslots;

	if (!parse_args(argc, argv))
		return 2;
	setvbuf(stdout, NULL, _IOLBF, 0);
	bool sync_wl = !strcmp(O.workload, "sync");
	nslots = sync_wl ? O.clients : O.inflight;
	/* libnfs 4.0's NFSv4.0 client has one open-owner per context and does not
	 * serialise its seqid: concurrent OPEN/CLOSEs on one context fail
	 * (NFS4ERR_BAD_SEQID, seen as ERANGE). So over nfs4 every slot gets its
	 * own connection (client); over nfs3 all slots share one. */
	bool per_slot = sync_wl || O.backend == BE_NFS4;
	if (per_slot && nslots > MAX_CLIENTS) {
		fprintf(stderr, "nfs_load: at most %d in flight with nfs4 or sync\n", MAX_CLIENTS);
		return 2;
	}
	nclients = O.backend == BE_POSIX ? 0 : per_slot ? nslots : 1;
	for (unsigned c = 0; c < nclients; c++)
		if (!(clients[c] = nfs_connect()))
			goto out;
	slots = calloc(nslots, sizeof(*slots));
	if (!slots) {
		fail("out of memory");
		goto out;
	}
	for (unsigned i = 0; i < nslots; i++) {
		slots[i].id = i;
		slots[i].client = sync_wl ? i : 0;
		slots[i].nfs = nclients ? clients[per_slot ? i : 0] : NULL;
		if (!(slots[i].buf = malloc(SEQ_IO + BLOCK))) {
			fail("out of memory");
			goto out;
		}
	}
	ok = make_top() && run_workload();
out:
	for (unsigned c = 0; c < nclients; c++)
		if (clients[c]) {
			nfs_umount(clients[c]);
			nfs_destroy_context(clients[c]);
		}
	if (slots)
		for (unsigned i = 0; i < nslots; i++)
			free(slots[i].buf);
	free(slots);
	free(w4_blocks);
	free(w4_written);
	for (int i = 0; i < NSERIES; i++)
		free(series[i].v);
	if (!ok || atomic_load(&failed)) {
		fprintf(stderr, "nfs_load: FAILED (%s, %s)\n", O.workload, O.dir);
		return 1;
	}
	return 0;
}
