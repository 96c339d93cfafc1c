/*
 * lsm/memtable.h - the in-memory table: internal keys (ikey.h) -> values in a
 * skiplist, sorted in lsm_ikey_compare order.
 *
 * Concurrency: ONE writer at a time (add/apply_*: the caller serialises them,
 * e.g. under the database's write lock) and any number of readers (get,
 * iterators, the counters) at the same time, without locks. A node is fully
 * written before a release store links it in and readers follow links with
 * acquire loads, so a reader sees each entry whole or not at all. Nodes live
 * in an arena and are never moved or freed before the memtable itself.
 *
 * Sequence numbers must grow: each add needs seq > every seq already in the
 * table (LSM_EINVAL otherwise). That also rules out duplicate internal keys.
 *
 * Visibility of a batch is the caller's business: readers see its ops as they
 * are linked in, one by one, so the database must read at a snapshot below
 * the batch's seqs until apply_batch has returned.
 *
 * Lifetime: reference counted. lsm_memtable_new returns one reference; every
 * iterator holds its own, so a frozen memtable being flushed stays alive while
 * readers use it.
 */
#ifndef ZEROFS_LSM_MEMTABLE_H
#define ZEROFS_LSM_MEMTABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coding.h"
#include "ikey.h"
#include "iterator.h"
#include "status.h"
#include "write_batch.h"

struct lsm_memtable;

lsm_status lsm_memtable_new(struct lsm_memtable **out);
struct lsm_memtable *lsm_memtable_ref(struct lsm_memtable *mt);
/* Drops a reference; the last one frees the table (NULL is a no-op). */
void lsm_memtable_unref(struct lsm_memtable *mt);

/* Writer side. type is PUT, DELETE or BLOB_REF (the memtable does not read
 * values); key and value are copied. LSM_EINVAL for a seq not above max_seq or
 * above LSM_SEQ_MAX, a bad type, or lengths past the write_batch.h limits;
 * LSM_ENOMEM. On error nothing was inserted. */
lsm_status lsm_memtable_add(struct lsm_memtable *mt, uint64_t seq, enum lsm_type type,
			    const void *key, size_t klen, const void *val, size_t vlen);
/* Inserts op i of the batch with seq first_seq + i. All or nothing: every node
 * is allocated before the first is linked in, so an error leaves the table as
 * it was (apart from arena bytes). */
lsm_status lsm_memtable_apply_batch(struct lsm_memtable *mt, const struct lsm_batch *b,
				    uint64_t first_seq);
/* The same for an encoded batch body (e.g. from a WAL record); the body is
 * checked first (LSM_ECORRUPT if malformed, nothing inserted). */
lsm_status lsm_memtable_apply_body(struct lsm_memtable *mt, const uint8_t *body, size_t len,
				   uint32_t count, uint64_t first_seq);

/* Reader side. The newest version of user_key with seq <= snapshot_seq:
 * LSM_OK with *type (PUT, DELETE or BLOB_REF) and, if value is not NULL, the
 * value copied into it (value->len reset first; a delete leaves it empty;
 * value->data is never NULL afterwards);
 * LSM_ENOTFOUND if no version is visible; LSM_ENOMEM. A tombstone is LSM_OK
 * with type DELETE, so that the caller stops looking in older sources. */
lsm_status lsm_memtable_get(struct lsm_memtable *mt, const void *user_key, size_t ulen,
			    uint64_t snapshot_seq, enum lsm_type *type, struct lsm_buf *value);

/* Records where the value of (user_key, seq) lies in the WAL: object obj
 * (not 0), offset off (value separation, vlog.h). Writer side: under the same
 * serialisation as add; read back only by lsm_memtable_iter_vlog, by a
 * thread that synchronised with the writer since (the flusher, through the
 * database's lock). LSM_EINVAL if there is no such entry. */
lsm_status lsm_memtable_set_vlog(struct lsm_memtable *mt, const void *user_key, size_t ulen,
				  uint64_t seq, uint64_t obj, uint32_t off);

/* Bytes taken from malloc for the arena (what a flush threshold compares). */
size_t lsm_memtable_memory(const struct lsm_memtable *mt);
uint64_t lsm_memtable_count(const struct lsm_memtable *mt);
/* Lowest and highest seq in the table; false (and 0, 0) if it is empty. Read
 * while a writer runs, the pair may lag behind count. */
bool lsm_memtable_seq_range(const struct lsm_memtable *mt, uint64_t *min_seq, uint64_t *max_seq);

/* An iterator over every entry (all versions, tombstones included) in
 * lsm_ikey_compare order. It holds a reference on mt. It sees entries added
 * after it was created if it reaches them. seek() with a target shorter than
 * LSM_IKEY_TRAILER is LSM_EINVAL in status(). */
lsm_status lsm_memtable_iter(struct lsm_memtable *mt, struct lsm_iter **out);
/* For an iterator from lsm_memtable_iter, positioned: where its entry's value
 * lies in the WAL, if lsm_memtable_set_vlog recorded it. */
bool lsm_memtable_iter_vlog(const struct lsm_iter *it, uint64_t *obj, uint32_t *off);

#endif
