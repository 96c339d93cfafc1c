/* lsm/block_builder.c - see block_builder.h */
#include <string.h>

#include "block_builder.h"

void lsm_block_builder_init(struct lsm_block_builder *b, unsigned restart_interval)
{
	memset(b, 0, sizeof(*b));
	b->interval = restart_interval ? restart_interval : LSM_BLOCK_RESTART_INTERVAL;
	b->counter = b->interval; /* the first entry is a restart point */
}

void lsm_block_builder_free(struct lsm_block_builder *b)
{
	lsm_buf_free(&b->buf);
	lsm_buf_free(&b->restarts);
	lsm_buf_free(&b->last_key);
}

void lsm_block_builder_reset(struct lsm_block_builder *b)
{
	b->buf.len = 0;
	b->restarts.len = 0;
	b->last_key.len = 0;
	b->counter = b->interval;
	b->entries = 0;
}

size_t lsm_block_builder_size(const struct lsm_block_builder *b)
{
	/* entries + restart array + count: exactly what finish produces */
	return b->buf.len + b->restarts.len + 4;
}

lsm_status lsm_block_builder_add(struct lsm_block_builder *b, const uint8_t *key, size_t klen,
				 const uint8_t *val, size_t vlen)
{
	size_t shared = 0;
	lsm_status st;
	/* Restart offsets and the count are fixed32: keep the whole payload
	 * addressable by them (30 bytes covers the three varints). */
	if (klen > UINT32_MAX || vlen > UINT32_MAX ||
	    b->buf.len + b->restarts.len + klen + vlen + 30 + 8 > UINT32_MAX)
		return lsm_fail(LSM_EINVAL, "block: entry of %zu+%zu bytes overflows a block",
				klen, vlen);
	if (b->counter >= b->interval) {
		if ((st = lsm_buf_put_fixed32(&b->restarts, (uint32_t)b->buf.len)))
			return st;
		b->counter = 0;
	} else {
		size_t n = b->last_key.len < klen ? b->last_key.len : klen;
		while (shared < n && b->last_key.data[shared] == key[shared])
			shared++;
	}
	uint8_t hdr[30];
	size_t h = lsm_enc_varint(hdr, shared);
	h += lsm_enc_varint(hdr + h, klen - shared);
	h += lsm_enc_varint(hdr + h, vlen);
	if ((st = lsm_buf_reserve(&b->buf, h + (klen - shared) + vlen)))
		return st;
	/* appends within the reserve above cannot fail */
	(void)lsm_buf_append(&b->buf, hdr, h);
	(void)lsm_buf_append(&b->buf, key + shared, klen - shared);
	(void)lsm_buf_append(&b->buf, val, vlen);
	b->last_key.len = shared;
	if ((st = lsm_buf_append(&b->last_key, key + shared, klen - shared)))
		return st;
	b->counter++;
	b->entries++;
	return LSM_OK;
}

lsm_status lsm_block_builder_finish(struct lsm_block_builder *b, const uint8_t **p, size_t *n)
{
	size_t count = b->restarts.len / 4;
	lsm_status st = lsm_buf_reserve(&b->buf, b->restarts.len + 4);
	if (st)
		return st;
	/* within the reserve: cannot fail */
	(void)lsm_buf_append(&b->buf, b->restarts.data, b->restarts.len);
	(void)lsm_buf_put_fixed32(&b->buf, (uint32_t)count);
	*p = b->buf.data;
	*n = b->buf.len;
	return LSM_OK;
}

static lsm_status put_trailer(struct lsm_buf *out, size_t start, uint8_t type)
{
	lsm_status st = lsm_buf_append(out, &type, 1);
	if (st)
		return st;
	return lsm_buf_put_fixed64(out, lsm_checksum(out->data + start, out->len - start));
}

lsm_status lsm_block_store(struct lsm_buf *out, const uint8_t *raw, size_t n, int level,
			   ZSTD_CCtx *cctx)
{
	size_t start = out->len;
	lsm_status st;
	if (level != 0 && cctx && n > 0) {
		size_t bound = ZSTD_compressBound(n);
		uint8_t hdr[10];
		size_t h = lsm_enc_varint(hdr, n);
		if ((st = lsm_buf_reserve(out, h + bound + LSM_BLOCK_TRAILER)))
			return st;
		size_t z = ZSTD_compressCCtx(cctx, out->data + start + h, bound, raw, n, level);
		if (!ZSTD_isError(z) && h + z <= n - n / 8) {
			memcpy(out->data + start, hdr, h);
			out->len = start + h + z;
			return put_trailer(out, start, LSM_COMPRESSION_ZSTD);
		}
		/* not worth it (or zstd refused): store raw */
	}
	if ((st = lsm_buf_reserve(out, n + LSM_BLOCK_TRAILER)))
		return st;
	(void)lsm_buf_append(out, raw, n); /* within the reserve: cannot fail */
	return put_trailer(out, start, LSM_COMPRESSION_NONE);
}
