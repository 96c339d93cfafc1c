/*
 * lsm/sst_builder.h - builds an SST object in memory from entries added in
 * increasing internal-key order (docs/FORMAT.md, "SST objects"):
 *
 *   data block* | filter block | index block | meta block | footer (68 bytes)
 *
 * Each block is stored as payload || compression byte || checksum. The index
 * has one entry per data block (a separator key -> the block's handle); the
 * filter is a Bloom filter over the user keys; the meta block holds the
 * properties below; the fixed-size footer at the very end locates the other
 * three, so a reader starts with one suffix-range read.
 */
#ifndef ZEROFS_LSM_SST_BUILDER_H
#define ZEROFS_LSM_SST_BUILDER_H

#include <stddef.h>
#include <stdint.h>

#include "coding.h"
#include "status.h"

/* ---- format constants ---- */
#define LSM_SST_FORMAT_VERSION 1
#define LSM_SST_FOOTER_SIZE 68
/* The last 8 bytes of every SST: "ZEROFSST" read as a little-endian u64. */
#define LSM_SST_MAGIC UINT64_C(0x545353464f52455a)

struct lsm_sst_options {
	size_t block_size;         /* target uncompressed data block size; 0 = 4096 */
	unsigned restart_interval; /* 0 = 16 */
	int compression_level;     /* zstd level; 0 = off; negative = zstd's fast levels */
	unsigned bloom_bits_per_key; /* 0 = no filter; at most 64 */
};

/* block_size 4096, restart_interval 16, compression_level 3, bloom 10 bits/key. */
void lsm_sst_options_default(struct lsm_sst_options *o);

/* What the meta block records. Keys are internal keys. */
struct lsm_sst_props {
	uint32_t format_version;
	uint64_t entries;
	uint64_t deletes; /* entries of type LSM_TYPE_DELETE */
	uint64_t data_blocks;
	uint64_t min_seq, max_seq; /* 0, 0 when there are no entries */
	uint64_t raw_key_bytes;    /* sum of internal key lengths */
	uint64_t raw_value_bytes;  /* sum of value lengths */
	uint8_t *smallest, *largest; /* NULL, length 0 when there are no entries */
	size_t smallest_len, largest_len;
};

struct lsm_sst_builder;

/* opts NULL = defaults. LSM_EINVAL for out-of-range options. */
lsm_status lsm_sst_builder_new(const struct lsm_sst_options *opts, struct lsm_sst_builder **out);

/*
 * Adds an entry. ikey is an internal key (user key + 8-byte trailer) of a
 * known type; keys must come in strictly increasing lsm_ikey_compare order,
 * else LSM_EINVAL (and the builder is unchanged). Other errors (LSM_ENOMEM)
 * are sticky: every later call returns them.
 */
lsm_status lsm_sst_builder_add(struct lsm_sst_builder *b, const uint8_t *ikey, size_t klen,
			       const uint8_t *value, size_t vlen);

/* Writes the filter, index, meta block and footer; *out receives the whole
 * object (its previous contents are freed). No adds after this. An SST with
 * no entries is valid. */
lsm_status lsm_sst_builder_finish(struct lsm_sst_builder *b, struct lsm_buf *out);

/* Object size if finished now (approximate before finish, exact after). */
uint64_t lsm_sst_builder_estimated_size(const struct lsm_sst_builder *b);

/* The properties of what was added so far; valid until the next add/free. */
const struct lsm_sst_props *lsm_sst_builder_props(const struct lsm_sst_builder *b);

void lsm_sst_builder_free(struct lsm_sst_builder *b);

#endif
