/*
 * lsm/db_iter.h - the user-facing iterator: over an iterator of internal keys
 * (normally a merging iterator of every source), yields each USER key once,
 * with its newest value visible at a snapshot, in ascending user-key order.
 * Versions newer than the snapshot are ignored, older versions are shadowed,
 * and a key whose newest visible version is a tombstone is skipped.
 *
 * Values stored out of line (LSM_TYPE_BLOB_REF) are not implemented yet: such
 * an entry, or one of an unknown type, or an internal key shorter than its
 * trailer, ends the iteration with LSM_ECORRUPT rather than being misread.
 * Every entry the iterator steps over is checked, shadowed ones included.
 *
 * Forward only. Not thread-safe: one iterator per thread.
 */
#ifndef ZEROFS_LSM_DB_ITER_H
#define ZEROFS_LSM_DB_ITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "iterator.h"
#include "lsm.h" /* the user-facing calls: lsm_db_iter_seek, _next, ... */

struct lsm_db_iter_opts {
	uint64_t snapshot_seq;  /* versions with seq <= this are visible */
	const void *lower;      /* inclusive lower bound on user keys, or NULL */
	size_t lower_len;
	const void *upper;      /* exclusive upper bound, or NULL (no bound) */
	size_t upper_len;
	const void *prefix;     /* only keys starting with these bytes, or NULL */
	size_t prefix_len;
};

struct lsm_db_iter;

/* Takes ownership of `internal` (destroyed with the db_iter, or at once if
 * this fails). The bounds and prefix are copied. Starts unpositioned: call
 * seek_first or seek. */
lsm_status lsm_db_iter_new(struct lsm_iter *internal, const struct lsm_db_iter_opts *opts,
			   struct lsm_db_iter **out);

#endif
