/*
 * lsm/block.h - reads blocks (format in block_builder.h and docs/FORMAT.md):
 * validating a payload, iterating its entries, and unwrapping the stored form
 * (checksum, compression) an SST keeps it in.
 *
 * Keys in a block are internal keys (lsm/ikey.h) and are compared with
 * lsm_ikey_compare. Nothing here reads outside the bytes it was given:
 * malformed input gives LSM_ECORRUPT (from lsm_block_parse, or as the
 * iterator's status), never an out-of-bounds read.
 */
#ifndef ZEROFS_LSM_BLOCK_H
#define ZEROFS_LSM_BLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coding.h"
#include "iterator.h"
#include "status.h"

/* A parsed block: a view of bytes someone else owns. */
struct lsm_block {
	const uint8_t *data;
	size_t size;        /* payload bytes */
	size_t limit;       /* end of the entries = start of the restart array */
	uint32_t nrestarts; /* 0 only for a block without entries */
};

/* Checks the restart array (count fits, offsets strictly increasing, the
 * first is 0, all inside the entries) and fills b. Entries themselves are
 * checked as they are decoded. */
lsm_status lsm_block_parse(const uint8_t *p, size_t n, struct lsm_block *b);

/*
 * An iterator over one block. It can live inside another structure
 * (lsm_block_iter_init ... lsm_block_iter_fini) or on the heap
 * (lsm_block_iter_new ... lsm_iter_destroy). The block must outlive it.
 */
struct lsm_block_iter {
	struct lsm_iter base;
	const struct lsm_block *block;
	size_t next_off;    /* offset of the entry after the current one */
	struct lsm_buf key; /* the current key, rebuilt from the prefix coding */
	const uint8_t *val;
	size_t vlen;
	lsm_status st;
	bool valid;
	bool heap;
};

/* Starts unpositioned (not valid). No allocation. */
void lsm_block_iter_init(struct lsm_block_iter *it, const struct lsm_block *b);
/* Points an iterator at another block, keeping its key buffer. */
void lsm_block_iter_reset(struct lsm_block_iter *it, const struct lsm_block *b);
void lsm_block_iter_fini(struct lsm_block_iter *it);
lsm_status lsm_block_iter_new(const struct lsm_block *b, struct lsm_iter **out);

/*
 * Undoes lsm_block_store: checks length and checksum, then the compression
 * byte, and decompresses. On success the payload is at *raw for *raw_len
 * bytes: inside `stored` when it was not compressed (*owned = NULL), else in
 * a new malloc'd buffer returned in *owned (the caller frees it).
 * `what` and `off` name the block in error messages.
 */
lsm_status lsm_block_unwrap(const uint8_t *stored, size_t n, const char *what, uint64_t off,
			    uint8_t **owned, const uint8_t **raw, size_t *raw_len);

#endif
