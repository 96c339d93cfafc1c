/*
 * lsm/sst_reader.h - reads an SST object (format: sst_builder.h,
 * docs/FORMAT.md "SST objects").
 *
 * Bytes come through a callback, so the same reader serves an in-memory
 * buffer, object-store range GETs or a disk cache. Open fetches the footer and
 * then filter + index + meta (one contiguous range), verifies them and keeps
 * them in memory; data blocks are fetched on demand, through the block cache
 * when one is given. Every checksum, length, magic and version is checked:
 * anything malformed is LSM_ECORRUPT, with lsm_last_error() naming what
 * failed, never a crash or a wrong answer.
 *
 * After open an lsm_sst is read-only: gets and iterators may run from any
 * number of threads at once (the callback must allow that too).
 */
#ifndef ZEROFS_LSM_SST_READER_H
#define ZEROFS_LSM_SST_READER_H

#include <stddef.h>
#include <stdint.h>

#include "block_cache.h"
#include "coding.h"
#include "ikey.h"
#include "iterator.h"
#include "sst_builder.h"
#include "status.h"

/* Appends exactly len bytes of the object, from offset off, to out. */
typedef lsm_status (*lsm_read_fn)(void *ctx, uint64_t off, uint64_t len, struct lsm_buf *out);

/* A read_fn over bytes in memory: ctx is a struct lsm_mem_object. */
struct lsm_mem_object {
	const uint8_t *data;
	size_t len;
};
lsm_status lsm_read_mem(void *ctx, uint64_t off, uint64_t len, struct lsm_buf *out);

struct lsm_sst;

/*
 * Opens the SST of object_size bytes that read_fn/ctx reads. cache may be
 * NULL (every block read is then a fetch); cache_id names this SST in the
 * cache and must be unique among the SSTs sharing it (e.g. the SST's id).
 */
lsm_status lsm_sst_open(lsm_read_fn read_fn, void *ctx, uint64_t object_size,
			struct lsm_block_cache *cache, uint64_t cache_id, struct lsm_sst **out);
/* Every iterator over it must have been destroyed. */
void lsm_sst_close(struct lsm_sst *sst);

/*
 * The newest version of user_key with seq <= snapshot_seq. LSM_OK with
 * *found_type = LSM_TYPE_PUT or LSM_TYPE_BLOB_REF and the value in value_out
 * (its contents replaced), or LSM_TYPE_DELETE (a tombstone: value_out
 * emptied; the caller must not look in older SSTs). LSM_ENOTFOUND if this SST
 * has no such version.
 */
lsm_status lsm_sst_get(struct lsm_sst *sst, const uint8_t *user_key, size_t ulen,
		       uint64_t snapshot_seq, enum lsm_type *found_type, struct lsm_buf *value_out);

/* An iterator over every entry (internal keys, ikey order); blocks are loaded
 * as it reaches them. Destroy it with lsm_iter_destroy before closing. */
lsm_status lsm_sst_iter(struct lsm_sst *sst, struct lsm_iter **out);

/*
 * Reads every data block (one fetch each, never through the cache) and checks
 * the object as a whole, beyond what open and reads check: each block's
 * checksum and format, every entry decoding, of a known type, in strictly
 * increasing internal-key order; restart points on entry boundaries with
 * nothing shared; block handles in object order without overlaps; each index
 * separator at or above its block's last key and below the next block's
 * first; the filter admitting every user key; and the meta block's counts,
 * sequence range, key bytes and first and last keys matching the entries.
 * LSM_ECORRUPT (lsm_last_error() names the block and what is wrong) at the
 * first problem. *data_blocks and *entries: what was read.
 */
lsm_status lsm_sst_check(struct lsm_sst *sst, uint64_t *data_blocks, uint64_t *entries);

/* From the meta block. */
const struct lsm_sst_props *lsm_sst_props(const struct lsm_sst *sst);
uint64_t lsm_sst_object_size(const struct lsm_sst *sst);

struct lsm_sst_stats {
	uint64_t gets;
	uint64_t bloom_negatives;       /* gets answered by the filter alone */
	/* the filter said maybe, yet no version visible at the snapshot was
	 * found (the key is absent, or only has newer versions) */
	uint64_t bloom_false_positives;
	uint64_t block_fetches;         /* data blocks read through read_fn */
	uint64_t block_cache_hits;
};
void lsm_sst_stats(const struct lsm_sst *sst, struct lsm_sst_stats *out);

#endif
