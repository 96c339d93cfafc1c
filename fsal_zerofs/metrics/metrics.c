// SPDX-License-Identifier: LGPL-3.0-or-later
/*
 * fsal_zerofs/metrics/metrics.c - op histograms and the Prometheus text format
 * (exposition format 0.0.4: "# HELP", "# TYPE", then `name{labels} value`
 * lines; histograms as cumulative _bucket{le=...} series, _sum, _count).
 * No ganesha headers (metrics.h).
 */
#include "metrics.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- ops and histograms ----------------------------------------------------- */

static const char *const op_names[ZM_OP_COUNT] = {
	[ZM_OP_LOOKUP] = "lookup",	   [ZM_OP_READDIR] = "readdir",
	[ZM_OP_GETATTRS] = "getattrs",	   [ZM_OP_MKDIR] = "mkdir",
	[ZM_OP_MKNODE] = "mknode",	   [ZM_OP_SYMLINK] = "symlink",
	[ZM_OP_READLINK] = "readlink",	   [ZM_OP_SETATTR] = "setattr",
	[ZM_OP_LINK] = "link",		   [ZM_OP_RENAME] = "rename",
	[ZM_OP_UNLINK] = "unlink",	   [ZM_OP_CREATE] = "create",
	[ZM_OP_OPEN] = "open",		   [ZM_OP_REOPEN] = "reopen",
	[ZM_OP_CLOSE] = "close",	   [ZM_OP_READ] = "read",
	[ZM_OP_WRITE] = "write",	   [ZM_OP_COMMIT] = "commit",
	[ZM_OP_SEEK] = "seek",		   [ZM_OP_LOCK] = "lock",
	[ZM_OP_LOOKUP_PATH] = "lookup_path", [ZM_OP_CREATE_HANDLE] = "create_handle",
	[ZM_OP_STATFS] = "statfs",
};

const char *zm_op_name(enum zm_op op)
{
	return (unsigned)op < ZM_OP_COUNT ? op_names[op] : "?";
}

/* Upper bounds of the finite buckets: nanoseconds, and as the le label. */
static const struct {
	uint64_t ns;
	const char *le;
} bounds[ZM_BUCKETS - 1] = {
	{ 50000, "5e-05" },	 { 100000, "0.0001" },	  { 250000, "0.00025" },
	{ 500000, "0.0005" },	 { 1000000, "0.001" },	  { 2500000, "0.0025" },
	{ 5000000, "0.005" },	 { 10000000, "0.01" },	  { 25000000, "0.025" },
	{ 50000000, "0.05" },	 { 100000000, "0.1" },	  { 250000000, "0.25" },
	{ 500000000, "0.5" },	 { 1000000000, "1" },	  { 2500000000ULL, "2.5" },
	{ 5000000000ULL, "5" },	 { 10000000000ULL, "10" },
};

uint64_t zm_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

void zm_op_record(struct zm_ops *ops, enum zm_op op, uint64_t ns, bool error)
{
	struct zm_op_stats *s = &ops->op[op];
	unsigned b = 0;

	while (b < ZM_BUCKETS - 1 && ns > bounds[b].ns)
		b++;
	__atomic_fetch_add(&s->bucket[b], 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&s->sum_ns, ns, __ATOMIC_RELAXED);
	if (error)
		__atomic_fetch_add(&s->errors, 1, __ATOMIC_RELAXED);
}

void zm_ops_read(const struct zm_ops *ops, struct zm_op_snapshot out[ZM_OP_COUNT])
{
	for (int i = 0; i < ZM_OP_COUNT; i++) {
		const struct zm_op_stats *s = &ops->op[i];
		struct zm_op_snapshot *o = &out[i];

		o->count = 0;
		for (int b = 0; b < ZM_BUCKETS; b++) {
			o->bucket[b] = __atomic_load_n(&s->bucket[b], __ATOMIC_RELAXED);
			o->count += o->bucket[b];
		}
		o->sum_ns = __atomic_load_n(&s->sum_ns, __ATOMIC_RELAXED);
		o->errors = __atomic_load_n(&s->errors, __ATOMIC_RELAXED);
		/* an op recorded between the reads: never more errors than calls */
		if (o->errors > o->count)
			o->errors = o->count;
	}
}

/* ---- text ------------------------------------------------------------------ */

void zm_text_printf(struct zm_text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->oom)
		return;
	for (;;) {
		size_t room = t->cap - t->len;
		va_start(ap, fmt);
		n = vsnprintf(t->buf ? t->buf + t->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0) {
			t->oom = true;
			return;
		}
		if ((size_t)n < room) {
			t->len += (size_t)n;
			return;
		}
		size_t cap = t->cap ? t->cap : 16384;
		while (cap - t->len <= (size_t)n)
			cap *= 2;
		char *nb = realloc(t->buf, cap);
		if (!nb) {
			t->oom = true;
			return;
		}
		t->buf = nb;
		t->cap = cap;
	}
}

void zm_text_free(struct zm_text *t)
{
	free(t->buf);
	memset(t, 0, sizeof(*t));
}

/* ---- the exposition ------------------------------------------------------------ */

static void family(struct zm_text *t, const char *name, const char *type, const char *help)
{
	zm_text_printf(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One sample per export of a value taken from its snapshot (skipping
 * exports for which `want` says the value is not available). */
enum avail { ANY, STORE, OPEN };

static bool has(const struct zm_export_snapshot *e, enum avail a)
{
	return a == ANY || (a == STORE && e->have_store) || (a == OPEN && e->open);
}

#define PER_EXPORT_U64(t, e, n, name, avail, expr)                                            \
	do {                                                                                  \
		for (size_t i_ = 0; i_ < (n); i_++) {                                         \
			const struct zm_export_snapshot *x = &(e)[i_];                        \
			if (has(x, avail))                                                    \
				zm_text_printf(t, "%s{export_id=\"%u\"} %" PRIu64 "\n", name, \
					       x->export_id, (uint64_t)(expr));              \
		}                                                                             \
	} while (0)

#define PER_EXPORT_F(t, e, n, name, avail, expr)                                              \
	do {                                                                                  \
		for (size_t i_ = 0; i_ < (n); i_++) {                                         \
			const struct zm_export_snapshot *x = &(e)[i_];                        \
			if (has(x, avail))                                                    \
				zm_text_printf(t, "%s{export_id=\"%u\"} %.9g\n", name,        \
					       x->export_id, (double)(expr));                 \
		}                                                                             \
	} while (0)

/* A counter or gauge with one sample per export. */
#define SIMPLE_U64(t, e, n, name, type, help, avail, expr)                                  \
	do {                                                                                \
		family(t, name, type, help);                                                \
		PER_EXPORT_U64(t, e, n, name, avail, expr);                                 \
	} while (0)
#define SIMPLE_F(t, e, n, name, type, help, avail, expr)                                    \
	do {                                                                                \
		family(t, name, type, help);                                                \
		PER_EXPORT_F(t, e, n, name, avail, expr);                                   \
	} while (0)

static double ratio(uint64_t part, uint64_t whole)
{
	return whole ? (double)part / (double)whole : 0.0;
}

/* Bytes the engine wrote to the store per byte written by its users:
 * WAL objects + memtable flushes (L0) + compaction outputs. */
static double write_amplification(const struct lsm_stats *s)
{
	return ratio(s->wal_bytes + s->l0_bytes_written + s->compaction_bytes_written,
		     s->user_bytes_written);
}

static void render_ops(struct zm_text *t, const struct zm_export_snapshot *e, size_t n)
{
	family(t, "zerofs_fsal_ops_total", "counter",
	       "FSAL operations called by ganesha (after its metadata cache), by operation");
	for (size_t i = 0; i < n; i++)
		for (int o = 0; o < ZM_OP_COUNT; o++)
			zm_text_printf(t, "zerofs_fsal_ops_total{export_id=\"%u\",op=\"%s\"} %" PRIu64 "\n",
				       e[i].export_id, zm_op_name(o), e[i].ops[o].count);
	family(t, "zerofs_fsal_op_errors_total", "counter",
	       "FSAL operations that returned an error (also expected ones, such as a lookup of a missing name)");
	for (size_t i = 0; i < n; i++)
		for (int o = 0; o < ZM_OP_COUNT; o++)
			zm_text_printf(t,
				       "zerofs_fsal_op_errors_total{export_id=\"%u\",op=\"%s\"} %" PRIu64 "\n",
				       e[i].export_id, zm_op_name(o), e[i].ops[o].errors);
	family(t, "zerofs_fsal_op_duration_seconds", "histogram",
	       "Time spent in FSAL operations, by operation");
	for (size_t i = 0; i < n; i++) {
		for (int o = 0; o < ZM_OP_COUNT; o++) {
			const struct zm_op_snapshot *s = &e[i].ops[o];
			uint64_t cum = 0;
			for (int b = 0; b < ZM_BUCKETS; b++) {
				cum += s->bucket[b];
				zm_text_printf(t,
					       "zerofs_fsal_op_duration_seconds_bucket{export_id=\"%u\",op=\"%s\",le=\"%s\"} %" PRIu64 "\n",
					       e[i].export_id, zm_op_name(o),
					       b < ZM_BUCKETS - 1 ? bounds[b].le : "+Inf", cum);
			}
			zm_text_printf(t,
				       "zerofs_fsal_op_duration_seconds_sum{export_id=\"%u\",op=\"%s\"} %.9f\n",
				       e[i].export_id, zm_op_name(o), (double)s->sum_ns / 1e9);
			zm_text_printf(t,
				       "zerofs_fsal_op_duration_seconds_count{export_id=\"%u\",op=\"%s\"} %" PRIu64 "\n",
				       e[i].export_id, zm_op_name(o), cum);
		}
	}
}

static void render_store(struct zm_text *t, const struct zm_export_snapshot *e, size_t n)
{
	family(t, "zerofs_store_requests_total", "counter",
	       "Object store requests (each attempt, retries included), by kind");
	for (size_t i = 0; i < n; i++)
		for (int k = 0; k < ZS3_OP_COUNT && e[i].have_store; k++)
			zm_text_printf(t, "zerofs_store_requests_total{export_id=\"%u\",kind=\"%s\"} %" PRIu64 "\n",
				       e[i].export_id, zs3_op_name(k), e[i].store.requests[k]);
	family(t, "zerofs_store_errors_total", "counter",
	       "Object store requests that failed (any status but OK, e.g. not found), by kind");
	for (size_t i = 0; i < n; i++)
		for (int k = 0; k < ZS3_OP_COUNT && e[i].have_store; k++)
			zm_text_printf(t, "zerofs_store_errors_total{export_id=\"%u\",kind=\"%s\"} %" PRIu64 "\n",
				       e[i].export_id, zs3_op_name(k), e[i].store.errors[k]);
	SIMPLE_U64(t, e, n, "zerofs_store_uploaded_bytes_total", "counter",
		   "Object bytes sent to the object store", STORE, x->store.bytes_up);
	SIMPLE_U64(t, e, n, "zerofs_store_downloaded_bytes_total", "counter",
		   "Object bytes received from the object store", STORE, x->store.bytes_down);
	SIMPLE_U64(t, e, n, "zerofs_store_retries_total", "counter",
		   "Extra attempts made after transient object store failures", STORE,
		   x->store.retries);
}

static void render_lsm(struct zm_text *t, const struct zm_export_snapshot *e, size_t n)
{
	SIMPLE_U64(t, e, n, "zerofs_lsm_gets_total", "counter", "Point reads of the LSM tree", OPEN,
		   x->lsm.gets);
	SIMPLE_U64(t, e, n, "zerofs_lsm_writes_total", "counter", "Write batches applied", OPEN,
		   x->lsm.writes);
	SIMPLE_U64(t, e, n, "zerofs_lsm_user_written_bytes_total", "counter",
		   "Bytes of keys and values written by the filesystem", OPEN,
		   x->lsm.user_bytes_written);
	SIMPLE_U64(t, e, n, "zerofs_lsm_wal_uploads_total", "counter",
		   "WAL objects acknowledged by the store (durable flushes)", OPEN,
		   x->lsm.wal_uploads);
	SIMPLE_U64(t, e, n, "zerofs_lsm_wal_written_bytes_total", "counter",
		   "Bytes of WAL objects uploaded", OPEN, x->lsm.wal_bytes);
	SIMPLE_U64(t, e, n, "zerofs_lsm_wal_batches_total", "counter",
		   "Write batches in the WAL objects uploaded (per upload: divide by zerofs_lsm_wal_uploads_total)",
		   OPEN, x->lsm.wal_batches);
	SIMPLE_U64(t, e, n, "zerofs_lsm_wal_uploads_in_flight", "gauge",
		   "WAL uploads under way now (the pipeline's depth in use)", OPEN,
		   x->lsm.wal_uploads_in_flight);
	SIMPLE_U64(t, e, n, "zerofs_fs_lock_waits_total", "counter",
		   "Mutations that waited for an inode's lock stripe held by another", OPEN,
		   x->fs_lock_waits);
	SIMPLE_F(t, e, n, "zerofs_fs_lock_wait_seconds_total", "counter",
		 "Time mutations spent waiting for lock stripes", OPEN,
		 (double)x->fs_lock_wait_ns / 1e9);
	SIMPLE_U64(t, e, n, "zerofs_lsm_durable_waits_total", "counter",
		   "Waits for durability (stable writes, COMMITs, Sync metadata) that had to wait for an upload",
		   OPEN, x->lsm.durable_waits);
	SIMPLE_F(t, e, n, "zerofs_lsm_durable_wait_seconds_total", "counter",
		 "Time spent in those waits (mean wait: divide by zerofs_lsm_durable_waits_total)",
		 OPEN, (double)x->lsm.durable_wait_us / 1e6);
	SIMPLE_U64(t, e, n, "zerofs_lsm_vlog_objects", "gauge",
		   "WAL objects the tree's SSTs point into (file data kept where it was uploaded)",
		   OPEN, x->lsm.vlog_objects);
	SIMPLE_U64(t, e, n, "zerofs_lsm_vlog_live_bytes", "gauge",
		   "Value bytes the tree's SSTs point to in those objects", OPEN,
		   x->lsm.vlog_live_bytes);
	SIMPLE_U64(t, e, n, "zerofs_lsm_vlog_separated_bytes_total", "counter",
		   "Value bytes flushes left in their WAL objects instead of copying them into SSTs",
		   OPEN, x->lsm.vlog_separated_bytes);
	SIMPLE_U64(t, e, n, "zerofs_lsm_vlog_reads_total", "counter",
		   "GETs of values kept in WAL objects (block and disk cache misses)", OPEN,
		   x->lsm.vlog_reads);
	SIMPLE_U64(t, e, n, "zerofs_lsm_vlog_read_bytes_total", "counter",
		   "Value bytes read from WAL objects past the block cache", OPEN,
		   x->lsm.vlog_read_bytes);
	SIMPLE_U64(t, e, n, "zerofs_fs_chunk_folds_total", "counter",
		   "Fragmented chunks (more than 16 extents) rewritten as one extent", OPEN,
		   x->fs_folds);
	SIMPLE_U64(t, e, n, "zerofs_fs_chunk_fold_bytes_total", "counter",
		   "Bytes those rewrites wrote", OPEN, x->fs_fold_bytes);
	SIMPLE_U64(t, e, n, "zerofs_fs_repack_bytes_total", "counter",
		   "Live file data moved out of mostly-dead WAL objects (repacking)", OPEN,
		   x->fs_repack_bytes);
	SIMPLE_U64(t, e, n, "zerofs_lsm_memtable_flushes_total", "counter",
		   "Memtables flushed to L0 SSTs", OPEN, x->lsm.memtable_flushes);
	SIMPLE_U64(t, e, n, "zerofs_lsm_flush_written_bytes_total", "counter",
		   "Bytes of L0 SSTs written by memtable flushes", OPEN, x->lsm.l0_bytes_written);
	SIMPLE_U64(t, e, n, "zerofs_lsm_compactions_total", "counter", "Compactions completed",
		   OPEN, x->lsm.compactions);
	SIMPLE_U64(t, e, n, "zerofs_lsm_compaction_written_bytes_total", "counter",
		   "Bytes of SSTs written by compactions", OPEN, x->lsm.compaction_bytes_written);
	SIMPLE_F(t, e, n, "zerofs_lsm_write_amplification", "gauge",
		 "(WAL + flush + compaction bytes written) / user bytes written, since the export opened",
		 OPEN, write_amplification(&x->lsm));
	SIMPLE_U64(t, e, n, "zerofs_lsm_block_cache_hits_total", "counter",
		   "Block reads served by the in-memory block cache", OPEN, x->lsm.block_cache_hits);
	SIMPLE_U64(t, e, n, "zerofs_lsm_block_cache_misses_total", "counter",
		   "Block reads that missed the in-memory block cache", OPEN,
		   x->lsm.block_cache_misses);
	SIMPLE_F(t, e, n, "zerofs_lsm_block_cache_hit_ratio", "gauge",
		 "Block cache hits / lookups since the export opened (0 before any)", OPEN,
		 ratio(x->lsm.block_cache_hits, x->lsm.block_cache_hits + x->lsm.block_cache_misses));
	SIMPLE_U64(t, e, n, "zerofs_lsm_disk_cache_hits_total", "counter",
		   "SST reads served by the on-disk object cache", OPEN, x->lsm.disk_cache_hits);
	SIMPLE_U64(t, e, n, "zerofs_lsm_disk_cache_misses_total", "counter",
		   "SST reads that missed the on-disk object cache", OPEN, x->lsm.disk_cache_misses);
	SIMPLE_F(t, e, n, "zerofs_lsm_disk_cache_hit_ratio", "gauge",
		 "Disk cache hits / lookups since the export opened (0 before any)", OPEN,
		 ratio(x->lsm.disk_cache_hits, x->lsm.disk_cache_hits + x->lsm.disk_cache_misses));
	SIMPLE_U64(t, e, n, "zerofs_lsm_memtable_bytes", "gauge",
		   "Memory held by the active and frozen memtables", OPEN, x->lsm.memtable_bytes);
	SIMPLE_U64(t, e, n, "zerofs_lsm_block_cache_bytes", "gauge",
		   "Memory held by the block cache", OPEN, x->lsm.block_cache_bytes);
	SIMPLE_U64(t, e, n, "zerofs_lsm_disk_cache_bytes", "gauge",
		   "Bytes held by the on-disk object cache", OPEN, x->lsm.disk_cache_bytes);
	SIMPLE_U64(t, e, n, "zerofs_lsm_wal_unflushed_bytes", "gauge",
		   "WAL bytes written but not yet acknowledged by the store (0: everything is durable)",
		   OPEN, x->lsm.wal_unflushed_bytes);
	SIMPLE_U64(t, e, n, "zerofs_lsm_write_stalls_total", "counter",
		   "Writes refused (the client is asked to retry) after waiting too long on backpressure",
		   OPEN, x->lsm.write_stalls);
	SIMPLE_F(t, e, n, "zerofs_lsm_last_durable_flush_age_seconds", "gauge",
		 "Seconds since the store last acknowledged a WAL upload (grows while idle: read with zerofs_lsm_wal_unflushed_bytes)",
		 OPEN, (double)x->lsm.last_durable_ms_ago / 1000.0);
	SIMPLE_U64(t, e, n, "zerofs_lsm_l0_ssts", "gauge", "SSTs in L0", OPEN, x->lsm.l0_count);
	SIMPLE_U64(t, e, n, "zerofs_lsm_sorted_runs", "gauge", "Sorted runs below L0", OPEN,
		   x->lsm.run_count);
	SIMPLE_U64(t, e, n, "zerofs_lsm_ssts", "gauge", "SSTs in the current manifest", OPEN,
		   x->lsm.sst_count);
	SIMPLE_U64(t, e, n, "zerofs_lsm_writer_epoch", "gauge",
		   "This server's writer epoch (fencing: a newer writer has a higher one)", OPEN,
		   x->lsm.writer_epoch);
}

bool zm_render(struct zm_text *t, const struct zm_export_snapshot *e, size_t n)
{
	family(t, "zerofs_exports", "gauge", "ZEROFS exports this server has");
	zm_text_printf(t, "zerofs_exports %zu\n", n);
	SIMPLE_U64(t, e, n, "zerofs_export_open", "gauge",
		   "1 once the export's filesystem is open, 0 while its store has not answered yet",
		   ANY, x->open ? 1 : 0);
	render_ops(t, e, n);
	render_store(t, e, n);
	render_lsm(t, e, n);
	return !t->oom;
}
