/* lsm/merge_iter.c - N-way merge with a binary min-heap; see merge_iter.h */
#include <stdbool.h>
#include <stdlib.h>

#include "ikey.h"
#include "merge_iter.h"

struct merge_iter {
	struct lsm_iter base;
	struct lsm_iter **kids;
	size_t n;
	size_t *heap;  /* indices of valid children; heap[0] is the smallest */
	size_t size;
	lsm_status st; /* the first child error, which ends the iteration */
};

/* Is child a before child b: key order, then the lower (newer) index. */
static bool before(const struct merge_iter *m, size_t a, size_t b)
{
	size_t al, bl;
	const uint8_t *ak = lsm_iter_key(m->kids[a], &al);
	const uint8_t *bk = lsm_iter_key(m->kids[b], &bl);
	int c = lsm_ikey_compare(ak, al, bk, bl);
	return c < 0 || (c == 0 && a < b);
}

static void sift_down(struct merge_iter *m, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, best = i;
		if (l < m->size && before(m, m->heap[l], m->heap[best]))
			best = l;
		if (r < m->size && before(m, m->heap[r], m->heap[best]))
			best = r;
		if (best == i)
			return;
		size_t t = m->heap[i];
		m->heap[i] = m->heap[best];
		m->heap[best] = t;
		i = best;
	}
}

/* After every child was positioned: collects the valid ones, or the error. */
static void rebuild(struct merge_iter *m)
{
	m->size = 0;
	m->st = LSM_OK;
	for (size_t i = 0; i < m->n; i++) {
		if (lsm_iter_valid(m->kids[i])) {
			m->heap[m->size++] = i;
		} else if ((m->st = lsm_iter_status(m->kids[i]))) {
			m->size = 0;
			return;
		}
	}
	for (size_t i = m->size / 2; i-- > 0;)
		sift_down(m, i);
}

static void mi_seek_first(struct lsm_iter *it)
{
	struct merge_iter *m = (struct merge_iter *)it;
	for (size_t i = 0; i < m->n; i++)
		lsm_iter_seek_first(m->kids[i]);
	rebuild(m);
}

static void mi_seek(struct lsm_iter *it, const uint8_t *target, size_t len)
{
	struct merge_iter *m = (struct merge_iter *)it;
	for (size_t i = 0; i < m->n; i++)
		lsm_iter_seek(m->kids[i], target, len);
	rebuild(m);
}

static void mi_next(struct lsm_iter *it)
{
	struct merge_iter *m = (struct merge_iter *)it;
	if (!m->size)
		return;
	struct lsm_iter *top = m->kids[m->heap[0]];
	lsm_iter_next(top);
	if (!lsm_iter_valid(top)) {
		if ((m->st = lsm_iter_status(top))) {
			m->size = 0;
			return;
		}
		m->heap[0] = m->heap[--m->size];
	}
	sift_down(m, 0);
}

static bool mi_valid(const struct lsm_iter *it)
{
	return ((const struct merge_iter *)it)->size > 0;
}

static const uint8_t *mi_key(const struct lsm_iter *it, size_t *len)
{
	const struct merge_iter *m = (const struct merge_iter *)it;
	return lsm_iter_key(m->kids[m->heap[0]], len);
}

static const uint8_t *mi_value(const struct lsm_iter *it, size_t *len)
{
	const struct merge_iter *m = (const struct merge_iter *)it;
	return lsm_iter_value(m->kids[m->heap[0]], len);
}

static lsm_status mi_status(const struct lsm_iter *it)
{
	return ((const struct merge_iter *)it)->st;
}

static void mi_destroy(struct lsm_iter *it)
{
	struct merge_iter *m = (struct merge_iter *)it;
	for (size_t i = 0; i < m->n; i++)
		lsm_iter_destroy(m->kids[i]);
	free(m->kids);
	free(m->heap);
	free(m);
}

static const struct lsm_iter_ops merge_ops = {
	.seek_first = mi_seek_first,
	.seek = mi_seek,
	.next = mi_next,
	.valid = mi_valid,
	.key = mi_key,
	.value = mi_value,
	.status = mi_status,
	.destroy = mi_destroy,
};

lsm_status lsm_merge_iter_new(struct lsm_iter **children, size_t n, struct lsm_iter **out)
{
	struct merge_iter *m = calloc(1, sizeof(*m));
	*out = NULL;
	if (m) {
		m->kids = calloc(n ? n : 1, sizeof(*m->kids));
		m->heap = calloc(n ? n : 1, sizeof(*m->heap));
	}
	if (!m || !m->kids || !m->heap) {
		if (m) {
			free(m->kids);
			free(m->heap);
			free(m);
		}
		for (size_t i = 0; i < n; i++)
			lsm_iter_destroy(children[i]);
		return lsm_fail(LSM_ENOMEM, "out of memory creating a merging iterator");
	}
	m->base.ops = &merge_ops;
	for (size_t i = 0; i < n; i++)
		m->kids[i] = children[i];
	m->n = n;
	*out = &m->base;
	return LSM_OK;
}
