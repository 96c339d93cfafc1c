/*
 * lsm/db_iter.h - the user-facing iterator: over an iterator of internal keys
 * (normally a merging iterator of every source), yields each USER key once,
 * with its newest value visible at a snapshot, in ascending user-key order.
 * Versions newer than the snapshot are ignored, older versions are shadowed,
 * and a key whose newest visible version is a tombstone is skipped.
 *
 * A value stored out of line (LSM_TYPE_BLOB_REF) is read through opts'
 * resolve callback when value() asks for it (not before: walks that need
 * only keys cost no reads); with no callback it is LSM_ECORRUPT. An entry of
 * an unknown type, or an internal key shorter than its trailer, ends the
 * iteration with LSM_ECORRUPT rather than being misread.
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
	/* reads the value a BLOB_REF entry's pointer names into out */
	lsm_status (*resolve)(void *ctx, const uint8_t *ref, size_t n, struct lsm_buf *out);
	void *resolve_ctx;
};

struct lsm_db_iter;

/* Takes ownership of `internal` (destroyed with the db_iter, or at once if
 * this fails). The bounds and prefix are copied. Starts unpositioned: call
 * seek_first or seek. */
lsm_status lsm_db_iter_new(struct lsm_iter *internal, const struct lsm_db_iter_opts *opts,
			   struct lsm_db_iter **out);

#endif
