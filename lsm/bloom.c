/* lsm/bloom.c - see bloom.h */
#include <stdlib.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "bloom.h"

uint64_t lsm_bloom_hash(const uint8_t *key, size_t len)
{
	return XXH3_64bits(key, len);
}

void lsm_bloom_builder_init(struct lsm_bloom_builder *b, unsigned bits_per_key)
{
	memset(b, 0, sizeof(*b));
	b->bits_per_key = bits_per_key ? bits_per_key : 1;
}

void lsm_bloom_builder_free(struct lsm_bloom_builder *b)
{
	free(b->hashes);
	b->hashes = NULL;
	b->n = b->cap = 0;
}

lsm_status lsm_bloom_builder_add_hash(struct lsm_bloom_builder *b, uint64_t h)
{
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 1024;
		uint64_t *p = cap > SIZE_MAX / sizeof(*p) ? NULL : realloc(b->hashes, cap * sizeof(*p));
		if (!p)
			return lsm_fail(LSM_ENOMEM, "out of memory for %zu bloom hashes", cap);
		b->hashes = p;
		b->cap = cap;
	}
	b->hashes[b->n++] = h;
	return LSM_OK;
}

/* k = bits_per_key * ln 2, the count that minimises false positives. */
static unsigned probes_for(unsigned bits_per_key)
{
	unsigned k = (bits_per_key * 69 + 50) / 100;
	if (k < 1)
		k = 1;
	if (k > LSM_BLOOM_MAX_PROBES)
		k = LSM_BLOOM_MAX_PROBES;
	return k;
}

static inline uint64_t probe(uint64_t h, unsigned i, uint64_t nbits)
{
	return ((h & 0xffffffffu) + (uint64_t)i * (h >> 32)) % nbits;
}

lsm_status lsm_bloom_builder_finish(const struct lsm_bloom_builder *b, struct lsm_buf *out)
{
	uint64_t nbits = (uint64_t)b->n * b->bits_per_key;
	if (nbits < 64)
		nbits = 64;
	uint64_t nbytes = (nbits + 7) / 8;
	if (nbytes > SIZE_MAX - 1)
		return lsm_fail(LSM_ENOMEM, "bloom filter too large");
	nbits = nbytes * 8;
	unsigned k = probes_for(b->bits_per_key);
	size_t start = out->len;
	lsm_status st = lsm_buf_reserve(out, (size_t)nbytes + 1);
	if (st)
		return st;
	uint8_t *bits = out->data + start;
	memset(bits, 0, (size_t)nbytes);
	for (size_t j = 0; j < b->n; j++)
		for (unsigned i = 0; i < k; i++) {
			uint64_t bit = probe(b->hashes[j], i, nbits);
			bits[bit / 8] |= (uint8_t)(1u << (bit % 8));
		}
	bits[nbytes] = (uint8_t)k;
	out->len = start + (size_t)nbytes + 1;
	return LSM_OK;
}

lsm_status lsm_bloom_parse(const uint8_t *p, size_t n, struct lsm_bloom *f)
{
	if (n < 2)
		return lsm_fail(LSM_ECORRUPT, "bloom filter of %zu bytes is too short", n);
	unsigned k = p[n - 1];
	if (k < 1 || k > LSM_BLOOM_MAX_PROBES)
		return lsm_fail(LSM_ECORRUPT, "bloom filter with %u probes (1..%d allowed)", k,
				LSM_BLOOM_MAX_PROBES);
	f->bits = p;
	f->nbits = (uint64_t)(n - 1) * 8;
	f->k = k;
	return LSM_OK;
}

bool lsm_bloom_may_contain_hash(const struct lsm_bloom *f, uint64_t h)
{
	for (unsigned i = 0; i < f->k; i++) {
		uint64_t bit = probe(h, i, f->nbits);
		if (!(f->bits[bit / 8] & (1u << (bit % 8))))
			return false;
	}
	return true;
}
