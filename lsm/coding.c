/* lsm/coding.c - see coding.h */
#include <stdlib.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "coding.h"

lsm_status lsm_buf_reserve(struct lsm_buf *b, size_t extra)
{
	size_t need = b->len + extra, cap;
	uint8_t *p;
	if (need < b->len)
		return lsm_fail(LSM_ENOMEM, "buffer size overflow");
	if (need <= b->cap)
		return LSM_OK;
	cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	p = realloc(b->data, cap);
	if (!p)
		return lsm_fail(LSM_ENOMEM, "out of memory growing a buffer to %zu bytes", need);
	b->data = p;
	b->cap = cap;
	return LSM_OK;
}

lsm_status lsm_buf_append(struct lsm_buf *b, const void *p, size_t n)
{
	lsm_status st = lsm_buf_reserve(b, n);
	if (st)
		return st;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	return LSM_OK;
}

lsm_status lsm_buf_put_fixed32(struct lsm_buf *b, uint32_t v)
{
	uint8_t t[4];
	lsm_enc_fixed32(t, v);
	return lsm_buf_append(b, t, 4);
}

lsm_status lsm_buf_put_fixed64(struct lsm_buf *b, uint64_t v)
{
	uint8_t t[8];
	lsm_enc_fixed64(t, v);
	return lsm_buf_append(b, t, 8);
}

size_t lsm_enc_varint(uint8_t *p, uint64_t v)
{
	size_t n = 0;
	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

lsm_status lsm_buf_put_varint(struct lsm_buf *b, uint64_t v)
{
	uint8_t t[10];
	return lsm_buf_append(b, t, lsm_enc_varint(t, v));
}

lsm_status lsm_buf_put_bytes(struct lsm_buf *b, const void *p, size_t n)
{
	lsm_status st = lsm_buf_put_varint(b, n);
	return st ? st : lsm_buf_append(b, p, n);
}

void lsm_buf_free(struct lsm_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

bool lsm_get_raw(struct lsm_cursor *c, const uint8_t **p, size_t n)
{
	if (c->left < n)
		return false;
	*p = c->p;
	c->p += n;
	c->left -= n;
	return true;
}

bool lsm_get_fixed32(struct lsm_cursor *c, uint32_t *v)
{
	const uint8_t *p;
	if (!lsm_get_raw(c, &p, 4))
		return false;
	*v = lsm_dec_fixed32(p);
	return true;
}

bool lsm_get_fixed64(struct lsm_cursor *c, uint64_t *v)
{
	const uint8_t *p;
	if (!lsm_get_raw(c, &p, 8))
		return false;
	*v = lsm_dec_fixed64(p);
	return true;
}

bool lsm_get_varint(struct lsm_cursor *c, uint64_t *v)
{
	uint64_t r = 0;
	for (unsigned i = 0; i < 10 && i < c->left; i++) {
		uint8_t byte = c->p[i];
		if (i == 9 && byte > 1)
			return false; /* more than 64 bits */
		r |= (uint64_t)(byte & 0x7f) << (7 * i);
		if (!(byte & 0x80)) {
			c->p += i + 1;
			c->left -= i + 1;
			*v = r;
			return true;
		}
	}
	return false;
}

bool lsm_get_bytes(struct lsm_cursor *c, const uint8_t **p, size_t *n)
{
	uint64_t len;
	if (!lsm_get_varint(c, &len) || len > c->left)
		return false;
	*n = (size_t)len;
	return lsm_get_raw(c, p, (size_t)len);
}

uint64_t lsm_checksum(const void *p, size_t n)
{
	return XXH3_64bits(p, n);
}
