/* SPDX-License-Identifier: LGPL-3.0-or-later */
/*
 * fsal_zerofs/metrics/metrics.h - Prometheus metrics without ganesha: per-operation
 * latency histograms (lock-free), the text exposition format 0.0.4, and a
 * small HTTP server (libmicrohttpd) that serves GET /metrics.
 *
 * The glue (metrics_fsal.c) owns the list of live exports and the op
 * wrappers; it snapshots every export's counters (ops, zs3_stats(),
 * lsm_stats()) and hands the snapshots to zm_render(). Keeping this part
 * free of ganesha headers lets tests/fs/test_metrics_core.c test it directly.
 *
 * Hot path: zm_op_record() is a handful of relaxed atomic adds on the
 * export's own counters: no lock, no allocation.
 */
#ifndef ZEROFS_METRICS_H
#define ZEROFS_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "lsm.h"
#include "store.h"

/* ---- operations as the FSAL sees them ----------------------------------- */

enum zm_op {
	ZM_OP_LOOKUP,
	ZM_OP_READDIR,
	ZM_OP_GETATTRS,
	ZM_OP_MKDIR,
	ZM_OP_MKNODE,
	ZM_OP_SYMLINK,
	ZM_OP_READLINK,
	ZM_OP_SETATTR,
	ZM_OP_LINK,
	ZM_OP_RENAME,
	ZM_OP_UNLINK,
	ZM_OP_CREATE, /* open2 that may create (a name and a create mode) */
	ZM_OP_OPEN,   /* open2 of an existing file */
	ZM_OP_REOPEN,
	ZM_OP_CLOSE,
	ZM_OP_READ,
	ZM_OP_WRITE,
	ZM_OP_COMMIT,
	ZM_OP_SEEK,
	ZM_OP_LOCK,
	ZM_OP_LOOKUP_PATH,
	ZM_OP_CREATE_HANDLE,
	ZM_OP_STATFS,
	ZM_OP_COUNT
};
/* The op's label value ("lookup", "write", ...). */
const char *zm_op_name(enum zm_op op);

/* Latency buckets, in seconds: 50 us .. 10 s, then +Inf. */
#define ZM_BUCKETS 18

/* One op's counters. Buckets are not cumulative here (one atomic add per
 * op); zm_render() accumulates them. Aligned so that two ops never share a
 * cache line. */
struct zm_op_stats {
	uint64_t bucket[ZM_BUCKETS];
	uint64_t sum_ns;
	uint64_t errors;
} __attribute__((aligned(64)));

struct zm_ops {
	struct zm_op_stats op[ZM_OP_COUNT];
};

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t zm_now_ns(void);
/* Records one call of op that took ns and failed or not. Lock-free. */
void zm_op_record(struct zm_ops *ops, enum zm_op op, uint64_t ns, bool error);

/* A consistent-enough copy of one op: each counter is read atomically;
 * count is the sum of the buckets read, so the histogram is always
 * self-consistent (cumulative buckets, +Inf == count). */
struct zm_op_snapshot {
	uint64_t bucket[ZM_BUCKETS];
	uint64_t count, sum_ns, errors;
};
void zm_ops_read(const struct zm_ops *ops, struct zm_op_snapshot out[ZM_OP_COUNT]);

/* ---- rendering ---------------------------------------------------------- */

/* Everything one export reports, taken under the glue's registry lock. */
struct zm_export_snapshot {
	unsigned export_id;
	bool open;       /* the filesystem is open: lsm is valid */
	bool have_store; /* store is valid */
	struct zm_op_snapshot ops[ZM_OP_COUNT];
	struct zs3_stats store;
	struct lsm_stats lsm;
	/* the filesystem core's lock stripes (fs.h zfs_stats), when open */
	uint64_t fs_lock_waits, fs_lock_wait_ns;
	uint64_t fs_folds, fs_fold_bytes, fs_repack_bytes;
};

/* A growing text buffer; oom is sticky. */
struct zm_text {
	char *buf;
	size_t len, cap;
	bool oom;
};
void zm_text_printf(struct zm_text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void zm_text_free(struct zm_text *t);

/* Appends the exposition of n exports (every family with HELP and TYPE
 * once, then one sample per export). False if memory ran out. */
bool zm_render(struct zm_text *t, const struct zm_export_snapshot *e, size_t n);

/* ---- the HTTP server ------------------------------------------------------ */

/* Parses "host:port" (IPv4 "127.0.0.1:9587", IPv6 "[::1]:9587"; a numeric
 * address, port 1-65535). 0, or EINVAL with why set to what is wrong. */
int zm_parse_address(const char *s, struct sockaddr_storage *out, socklen_t *len, char *why,
		     size_t why_len);

/* Fills t with the current exposition; false on failure (the scrape gets
 * a 500). Called on the server's thread, one scrape at a time. */
typedef bool (*zm_render_fn)(void *arg, struct zm_text *t);
/* Error messages of the server (libmicrohttpd's, accept failures). */
typedef void (*zm_log_fn)(void *arg, const char *msg);

struct zm_server;
/* Binds addr (and nothing else) and serves GET /metrics on one internal
 * thread: at most 8 connections, idle ones closed after 10 s. Any other
 * path is 404, any other method 405. 0, or an errno with why set. */
int zm_server_start(const struct sockaddr *addr, socklen_t addr_len, zm_render_fn render,
		    void *render_arg, zm_log_fn log, void *log_arg, struct zm_server **out,
		    char *why, size_t why_len);
/* The port actually bound (useful when addr asked for port 0). */
unsigned zm_server_port(const struct zm_server *s);
/* Stops the thread, closes every socket, frees. NULL is a no-op. */
void zm_server_stop(struct zm_server *s);

#endif
