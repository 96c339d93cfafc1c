/*
 * lsm/iterator.h - the one iterator interface every sorted source implements
 * (memtable, block, SST, merging, database). Iterators walk internal keys in
 * lsm_ikey_compare order. key()/value() stay valid until the next move.
 */
#ifndef ZEROFS_LSM_ITERATOR_H
#define ZEROFS_LSM_ITERATOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "status.h"

struct lsm_iter;

struct lsm_iter_ops {
	void (*seek_first)(struct lsm_iter *it);
	/* Positions at the first entry >= target (an internal key). */
	void (*seek)(struct lsm_iter *it, const uint8_t *target, size_t len);
	void (*next)(struct lsm_iter *it);
	bool (*valid)(const struct lsm_iter *it);
	const uint8_t *(*key)(const struct lsm_iter *it, size_t *len);
	const uint8_t *(*value)(const struct lsm_iter *it, size_t *len);
	/* LSM_OK, or the error (e.g. LSM_ECORRUPT) that made valid() false. */
	lsm_status (*status)(const struct lsm_iter *it);
	void (*destroy)(struct lsm_iter *it);
};

struct lsm_iter {
	const struct lsm_iter_ops *ops;
};

static inline void lsm_iter_seek_first(struct lsm_iter *it) { it->ops->seek_first(it); }
static inline void lsm_iter_seek(struct lsm_iter *it, const uint8_t *t, size_t n) { it->ops->seek(it, t, n); }
static inline void lsm_iter_next(struct lsm_iter *it) { it->ops->next(it); }
static inline bool lsm_iter_valid(const struct lsm_iter *it) { return it->ops->valid(it); }
static inline const uint8_t *lsm_iter_key(const struct lsm_iter *it, size_t *n) { return it->ops->key(it, n); }
static inline const uint8_t *lsm_iter_value(const struct lsm_iter *it, size_t *n) { return it->ops->value(it, n); }
static inline lsm_status lsm_iter_status(const struct lsm_iter *it) { return it->ops->status(it); }
static inline void lsm_iter_destroy(struct lsm_iter *it) { if (it) it->ops->destroy(it); }

#endif
