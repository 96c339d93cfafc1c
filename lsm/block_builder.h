/*
 * lsm/block_builder.h - writes blocks: the sorted (key, value) runs that data,
 * index and other SST blocks are made of, and the stored-block wrapping
 * (compression byte + checksum) every SST block gets on the store.
 *
 * Block payload (docs/FORMAT.md, "SST objects"):
 *   entry*  restart_offset(fixed32)*  restart_count(fixed32)
 *   entry = varint shared, varint unshared, varint value_len,
 *           key[shared..shared+unshared), value
 * Each key shares `shared` leading bytes with the previous key; every
 * `restart_interval`-th entry is a restart point storing its key in full, so a
 * reader can binary-search the restart points and decode from there.
 *
 * The builder does not check key order: its callers (the SST builder) do.
 */
#ifndef ZEROFS_LSM_BLOCK_BUILDER_H
#define ZEROFS_LSM_BLOCK_BUILDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <zstd.h>

#include "coding.h"
#include "status.h"

#define LSM_BLOCK_RESTART_INTERVAL 16

/* Stored-block trailer: 1 compression byte + 8-byte checksum. */
#define LSM_BLOCK_TRAILER 9
enum lsm_compression {
	LSM_COMPRESSION_NONE = 0,
	LSM_COMPRESSION_ZSTD = 1,
};

struct lsm_block_builder {
	struct lsm_buf buf;      /* entries so far */
	struct lsm_buf restarts; /* fixed32 offsets of restart entries */
	struct lsm_buf last_key;
	unsigned interval;
	unsigned counter; /* entries since the last restart point */
	size_t entries;
};

/* restart_interval 0 means LSM_BLOCK_RESTART_INTERVAL. No allocation. */
void lsm_block_builder_init(struct lsm_block_builder *b, unsigned restart_interval);
void lsm_block_builder_free(struct lsm_block_builder *b);
/* Forgets the entries (keeps the memory) to start the next block. */
void lsm_block_builder_reset(struct lsm_block_builder *b);

/* Appends an entry. LSM_EINVAL if the block would outgrow fixed32 offsets. */
lsm_status lsm_block_builder_add(struct lsm_block_builder *b, const uint8_t *key, size_t klen,
				 const uint8_t *val, size_t vlen);
static inline bool lsm_block_builder_empty(const struct lsm_block_builder *b)
{
	return b->entries == 0;
}
/* Payload size if the block were finished now. */
size_t lsm_block_builder_size(const struct lsm_block_builder *b);
/* Appends the restart array and count; *p and *n then view the finished payload,
 * valid until the next reset/free. No more adds until reset. */
lsm_status lsm_block_builder_finish(struct lsm_block_builder *b, const uint8_t **p, size_t *n);

/*
 * Appends the stored form of a payload to out: payload' || type || checksum,
 * where payload' is the raw payload (type 0) or varint(raw length) || a zstd
 * frame (type 1), and checksum = lsm_checksum(payload' || type) as fixed64.
 * Compression is tried when level != 0 (cctx required then) and kept only if
 * it saves at least 1/8 of the raw size.
 */
lsm_status lsm_block_store(struct lsm_buf *out, const uint8_t *raw, size_t n, int level,
			   ZSTD_CCtx *cctx);

#endif
