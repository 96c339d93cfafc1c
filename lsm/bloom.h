/*
 * lsm/bloom.h - the Bloom filter an SST keeps over its USER keys (not
 * internal keys: a point lookup asks "any version of this key?").
 *
 * One XXH3-64 hash h per key; probe i (0 <= i < k) sets/tests bit
 *   (h1 + i * h2) mod nbits,  h1 = h & 0xffffffff, h2 = h >> 32
 * computed in 64-bit arithmetic (double hashing). Bit j is bit (j % 8), LSB
 * first, of byte j / 8.
 *
 * Serialised: the bit array (nbits / 8 bytes), then one byte k.
 */
#ifndef ZEROFS_LSM_BLOOM_H
#define ZEROFS_LSM_BLOOM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coding.h"
#include "status.h"

#define LSM_BLOOM_BITS_PER_KEY 10
#define LSM_BLOOM_MAX_PROBES 30

uint64_t lsm_bloom_hash(const uint8_t *key, size_t len);

/* Collects key hashes; the filter is sized at finish, when the count is known. */
struct lsm_bloom_builder {
	uint64_t *hashes;
	size_t n, cap;
	unsigned bits_per_key;
};

/* bits_per_key >= 1. No allocation. */
void lsm_bloom_builder_init(struct lsm_bloom_builder *b, unsigned bits_per_key);
lsm_status lsm_bloom_builder_add_hash(struct lsm_bloom_builder *b, uint64_t h);
/* Appends the serialised filter to out (at least 8 bytes of bits, even with no
 * keys). */
lsm_status lsm_bloom_builder_finish(const struct lsm_bloom_builder *b, struct lsm_buf *out);
void lsm_bloom_builder_free(struct lsm_bloom_builder *b);

/* A parsed filter: a view of bytes someone else owns. */
struct lsm_bloom {
	const uint8_t *bits;
	uint64_t nbits;
	unsigned k;
};

/* LSM_ECORRUPT unless there is at least one byte of bits and 1 <= k <= 30. */
lsm_status lsm_bloom_parse(const uint8_t *p, size_t n, struct lsm_bloom *f);
/* false: the key is certainly absent. true: it may be present. */
bool lsm_bloom_may_contain_hash(const struct lsm_bloom *f, uint64_t h);

#endif
