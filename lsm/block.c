/* lsm/block.c - see block.h */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "block.h"
#include "block_builder.h"
#include "ikey.h"

lsm_status lsm_block_parse(const uint8_t *p, size_t n, struct lsm_block *b)
{
	if (n < 4)
		return lsm_fail(LSM_ECORRUPT, "block: %zu bytes, too short for a restart count", n);
	uint32_t count = lsm_dec_fixed32(p + n - 4);
	if (count > (n - 4) / 4)
		return lsm_fail(LSM_ECORRUPT, "block: restart count %u does not fit in %zu bytes",
				count, n);
	size_t limit = n - 4 - (size_t)count * 4;
	if (count == 0 && limit != 0)
		return lsm_fail(LSM_ECORRUPT, "block: %zu bytes of entries but no restart point",
				limit);
	for (uint32_t i = 0; i < count; i++) {
		uint32_t r = lsm_dec_fixed32(p + limit + (size_t)i * 4);
		if (i == 0 && r != 0)
			return lsm_fail(LSM_ECORRUPT, "block: first restart point is %u, not 0", r);
		if (r >= limit)
			return lsm_fail(LSM_ECORRUPT,
					"block: restart point %u at %u is past the entries (%zu)", i,
					r, limit);
		if (i > 0 && r <= lsm_dec_fixed32(p + limit + (size_t)(i - 1) * 4))
			return lsm_fail(LSM_ECORRUPT, "block: restart points not increasing at %u",
					i);
	}
	b->data = p;
	b->size = n;
	b->limit = limit;
	b->nrestarts = count;
	return LSM_OK;
}

/* ---- iterator ---- */

static uint32_t restart_at(const struct lsm_block *b, uint32_t i)
{
	return lsm_dec_fixed32(b->data + b->limit + (size_t)i * 4);
}

static void set_corrupt(struct lsm_block_iter *it, size_t off, const char *why)
{
	it->valid = false;
	it->st = lsm_fail(LSM_ECORRUPT, "block: %s at offset %zu", why, off);
}

/* Decodes the entry at off; it->key must hold the previous key (or be empty at
 * a restart point). */
static void decode_entry(struct lsm_block_iter *it, size_t off)
{
	const struct lsm_block *b = it->block;
	struct lsm_cursor c = { b->data + off, b->limit - off };
	uint64_t shared, unshared, vlen;
	const uint8_t *kp, *vp;
	if (!lsm_get_varint(&c, &shared) || !lsm_get_varint(&c, &unshared) ||
	    !lsm_get_varint(&c, &vlen) || shared > it->key.len || unshared > c.left ||
	    !lsm_get_raw(&c, &kp, (size_t)unshared) || vlen > c.left ||
	    !lsm_get_raw(&c, &vp, (size_t)vlen)) {
		set_corrupt(it, off, "malformed entry");
		return;
	}
	it->key.len = (size_t)shared;
	lsm_status st = lsm_buf_append(&it->key, kp, (size_t)unshared);
	if (st) {
		it->valid = false;
		it->st = st;
		return;
	}
	if (it->key.len < LSM_IKEY_TRAILER) {
		set_corrupt(it, off, "key shorter than an internal key");
		return;
	}
	it->val = vp;
	it->vlen = (size_t)vlen;
	it->next_off = (size_t)(c.p - b->data);
	it->valid = true;
}

/* The full key stored at restart point i (restart entries share nothing). */
static bool restart_key(const struct lsm_block *b, uint32_t i, const uint8_t **k, size_t *klen)
{
	size_t off = restart_at(b, i);
	struct lsm_cursor c = { b->data + off, b->limit - off };
	uint64_t shared, unshared, vlen;
	if (!lsm_get_varint(&c, &shared) || !lsm_get_varint(&c, &unshared) ||
	    !lsm_get_varint(&c, &vlen) || shared != 0 || unshared > c.left ||
	    unshared < LSM_IKEY_TRAILER)
		return false;
	*k = c.p;
	*klen = (size_t)unshared;
	return true;
}

static void bi_seek_first(struct lsm_iter *base)
{
	struct lsm_block_iter *it = (struct lsm_block_iter *)base;
	it->st = LSM_OK;
	it->valid = false;
	it->key.len = 0;
	if (it->block->limit > 0)
		decode_entry(it, 0);
}

static void bi_next(struct lsm_iter *base)
{
	struct lsm_block_iter *it = (struct lsm_block_iter *)base;
	if (!it->valid)
		return;
	if (it->next_off >= it->block->limit) {
		it->valid = false;
		return;
	}
	decode_entry(it, it->next_off);
}

static void bi_seek(struct lsm_iter *base, const uint8_t *target, size_t len)
{
	struct lsm_block_iter *it = (struct lsm_block_iter *)base;
	const struct lsm_block *b = it->block;
	it->st = LSM_OK;
	it->valid = false;
	if (len < LSM_IKEY_TRAILER) {
		it->st = lsm_fail(LSM_EINVAL, "block: seek target of %zu bytes is no internal key",
				  len);
		return;
	}
	if (b->nrestarts == 0)
		return;
	/* the last restart point whose key is < target (or the first one) */
	uint32_t lo = 0, hi = b->nrestarts - 1;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo + 1) / 2;
		const uint8_t *k;
		size_t kl;
		if (!restart_key(b, mid, &k, &kl)) {
			set_corrupt(it, restart_at(b, mid), "malformed restart entry");
			return;
		}
		if (lsm_ikey_compare(k, kl, target, len) < 0)
			lo = mid;
		else
			hi = mid - 1;
	}
	it->key.len = 0;
	decode_entry(it, restart_at(b, lo));
	while (it->valid && lsm_ikey_compare(it->key.data, it->key.len, target, len) < 0)
		bi_next(base);
}

static bool bi_valid(const struct lsm_iter *base)
{
	return ((const struct lsm_block_iter *)base)->valid;
}

static const uint8_t *bi_key(const struct lsm_iter *base, size_t *len)
{
	const struct lsm_block_iter *it = (const struct lsm_block_iter *)base;
	*len = it->key.len;
	return it->key.data;
}

static const uint8_t *bi_value(const struct lsm_iter *base, size_t *len)
{
	const struct lsm_block_iter *it = (const struct lsm_block_iter *)base;
	*len = it->vlen;
	return it->val;
}

static lsm_status bi_status(const struct lsm_iter *base)
{
	return ((const struct lsm_block_iter *)base)->st;
}

static void bi_destroy(struct lsm_iter *base)
{
	struct lsm_block_iter *it = (struct lsm_block_iter *)base;
	lsm_block_iter_fini(it);
	if (it->heap)
		free(it);
}

static const struct lsm_iter_ops block_iter_ops = {
	.seek_first = bi_seek_first,
	.seek = bi_seek,
	.next = bi_next,
	.valid = bi_valid,
	.key = bi_key,
	.value = bi_value,
	.status = bi_status,
	.destroy = bi_destroy,
};

void lsm_block_iter_init(struct lsm_block_iter *it, const struct lsm_block *b)
{
	memset(it, 0, sizeof(*it));
	it->base.ops = &block_iter_ops;
	it->block = b;
}

void lsm_block_iter_reset(struct lsm_block_iter *it, const struct lsm_block *b)
{
	it->block = b;
	it->valid = false;
	it->st = LSM_OK;
	it->key.len = 0;
}

void lsm_block_iter_fini(struct lsm_block_iter *it)
{
	lsm_buf_free(&it->key);
	it->valid = false;
}

lsm_status lsm_block_iter_new(const struct lsm_block *b, struct lsm_iter **out)
{
	struct lsm_block_iter *it = malloc(sizeof(*it));
	if (!it)
		return lsm_fail(LSM_ENOMEM, "out of memory for a block iterator");
	lsm_block_iter_init(it, b);
	it->heap = true;
	*out = &it->base;
	return LSM_OK;
}

/* ---- stored blocks ---- */

/* One decompression context per thread, freed when the thread exits. */
static pthread_key_t dctx_key;
static pthread_once_t dctx_once = PTHREAD_ONCE_INIT;
static int dctx_key_err;

static void free_dctx(void *p)
{
	ZSTD_freeDCtx(p);
}

static void make_dctx_key(void)
{
	dctx_key_err = pthread_key_create(&dctx_key, free_dctx);
}

static ZSTD_DCtx *thread_dctx(void)
{
	pthread_once(&dctx_once, make_dctx_key);
	if (dctx_key_err)
		return NULL;
	ZSTD_DCtx *d = pthread_getspecific(dctx_key);
	if (!d) {
		d = ZSTD_createDCtx();
		if (d && pthread_setspecific(dctx_key, d)) {
			ZSTD_freeDCtx(d);
			d = NULL;
		}
	}
	return d;
}

lsm_status lsm_block_unwrap(const uint8_t *stored, size_t n, const char *what, uint64_t off,
			    uint8_t **owned, const uint8_t **raw, size_t *raw_len)
{
	unsigned long long o = (unsigned long long)off;
	*owned = NULL;
	if (n < LSM_BLOCK_TRAILER)
		return lsm_fail(LSM_ECORRUPT, "%s at %llu: %zu bytes, shorter than a block trailer",
				what, o, n);
	size_t plen = n - LSM_BLOCK_TRAILER;
	uint8_t type = stored[plen];
	if (lsm_checksum(stored, plen + 1) != lsm_dec_fixed64(stored + plen + 1))
		return lsm_fail(LSM_ECORRUPT, "%s at %llu: checksum mismatch", what, o);
	if (type == LSM_COMPRESSION_NONE) {
		*raw = stored;
		*raw_len = plen;
		return LSM_OK;
	}
	if (type != LSM_COMPRESSION_ZSTD)
		return lsm_fail(LSM_ECORRUPT, "%s at %llu: unknown compression type %u", what, o,
				type);
	struct lsm_cursor c = { stored, plen };
	uint64_t len;
	if (!lsm_get_varint(&c, &len) || len > UINT32_MAX)
		return lsm_fail(LSM_ECORRUPT, "%s at %llu: bad uncompressed length", what, o);
	unsigned long long fcs = ZSTD_getFrameContentSize(c.p, c.left);
	if (fcs != ZSTD_CONTENTSIZE_UNKNOWN && fcs != len)
		return lsm_fail(LSM_ECORRUPT, "%s at %llu: zstd frame size %llu, expected %llu",
				what, o, fcs, (unsigned long long)len);
	ZSTD_DCtx *d = thread_dctx();
	if (!d)
		return lsm_fail(LSM_ENOMEM, "out of memory for a zstd context");
	uint8_t *buf = malloc(len ? (size_t)len : 1);
	if (!buf)
		return lsm_fail(LSM_ENOMEM, "out of memory for a %llu-byte block",
				(unsigned long long)len);
	size_t got = ZSTD_decompressDCtx(d, buf, (size_t)len, c.p, c.left);
	if (ZSTD_isError(got) || got != len) {
		free(buf);
		return lsm_fail(LSM_ECORRUPT, "%s at %llu: zstd: %s", what, o,
				ZSTD_isError(got) ? ZSTD_getErrorName(got) : "short output");
	}
	*owned = buf;
	*raw = buf;
	*raw_len = (size_t)len;
	return LSM_OK;
}
