/*
 * lsm/merge_iter.h - a merging iterator: N sorted child iterators as one, in
 * lsm_ikey_compare order, every entry of every child (no dedup: shadowed
 * versions and tombstones are db_iter's business).
 *
 * Children are given newest source first (active memtable, frozen memtables,
 * L0 SSTs newest first, sorted runs newest first). Two equal internal keys
 * should not happen across sources; if they do, the child with the lower
 * index (the newer source) comes first.
 *
 * The first child error (a child that becomes invalid with a status other
 * than LSM_OK) makes the merge invalid and is its status(); a new seek clears
 * it and tries again.
 */
#ifndef ZEROFS_LSM_MERGE_ITER_H
#define ZEROFS_LSM_MERGE_ITER_H

#include <stddef.h>

#include "iterator.h"
#include "status.h"

/* Takes ownership of the n children (destroyed with the merge, or at once if
 * this fails); the array itself is copied. n may be 0. *out is NULL on error. */
lsm_status lsm_merge_iter_new(struct lsm_iter **children, size_t n, struct lsm_iter **out);

#endif
