/* lsm/write_batch.c - batches of puts and deletes; see write_batch.h */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "coding.h"
#include "write_batch.h"

struct lsm_batch {
	struct lsm_buf body;
	uint32_t count;
};

struct lsm_batch *lsm_batch_new(void)
{
	return calloc(1, sizeof(struct lsm_batch));
}

void lsm_batch_clear(struct lsm_batch *b)
{
	b->body.len = 0;
	b->count = 0;
}

void lsm_batch_free(struct lsm_batch *b)
{
	if (!b)
		return;
	lsm_buf_free(&b->body);
	free(b);
}

static size_t varint_len(uint64_t v)
{
	size_t n = 1;
	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static lsm_status add_op(struct lsm_batch *b, enum lsm_type type, const void *key, size_t klen,
			 const void *val, size_t vlen)
{
	if (klen > LSM_MAX_KEY_LEN)
		return lsm_fail(LSM_EINVAL, "key of %zu bytes exceeds the limit of %u", klen,
				LSM_MAX_KEY_LEN);
	if (vlen > LSM_MAX_VALUE_LEN)
		return lsm_fail(LSM_EINVAL, "value of %zu bytes exceeds the limit of %u", vlen,
				LSM_MAX_VALUE_LEN);
	if ((klen && !key) || (vlen && !val))
		return lsm_fail(LSM_EINVAL, "NULL key or value with a non-zero length");
	if (b->count == UINT32_MAX)
		return lsm_fail(LSM_EINVAL, "write batch has too many ops");
	size_t need = 1 + varint_len(klen) + klen + varint_len(vlen) + vlen;
	if (need > LSM_BATCH_MAX_BYTES - b->body.len)
		return lsm_fail(LSM_EINVAL, "write batch would exceed %u bytes", LSM_BATCH_MAX_BYTES);
	/* reserve everything first: once reserved, nothing below can fail */
	lsm_status st = lsm_buf_reserve(&b->body, need);
	if (st)
		return st;
	uint8_t *p = b->body.data + b->body.len;
	*p++ = (uint8_t)type;
	p += lsm_enc_varint(p, klen);
	if (klen)
		memcpy(p, key, klen);
	p += klen;
	p += lsm_enc_varint(p, vlen);
	if (vlen)
		memcpy(p, val, vlen);
	b->body.len += need;
	b->count++;
	return LSM_OK;
}

lsm_status lsm_batch_put(struct lsm_batch *b, const void *key, size_t klen, const void *val,
			 size_t vlen)
{
	return add_op(b, LSM_TYPE_PUT, key, klen, val, vlen);
}

lsm_status lsm_batch_delete(struct lsm_batch *b, const void *key, size_t klen)
{
	return add_op(b, LSM_TYPE_DELETE, key, klen, NULL, 0);
}

uint32_t lsm_batch_count(const struct lsm_batch *b)
{
	return b->count;
}

size_t lsm_batch_byte_size(const struct lsm_batch *b)
{
	return b->body.len;
}

const uint8_t *lsm_batch_body(const struct lsm_batch *b, size_t *len)
{
	*len = b->body.len;
	return b->body.data;
}

/* One decoded op. */
struct op {
	enum lsm_type type;
	const uint8_t *key, *val;
	size_t klen, vlen;
};

/* Decodes the op at c, checking it fully. On failure sets *why. */
static bool next_op(struct lsm_cursor *c, struct op *op, const char **why)
{
	const uint8_t *t;
	if (!lsm_get_raw(c, &t, 1)) {
		*why = "truncated type";
		return false;
	}
	if (*t != LSM_TYPE_PUT && *t != LSM_TYPE_DELETE) {
		*why = "unknown op type";
		return false;
	}
	op->type = (enum lsm_type)*t;
	if (!lsm_get_bytes(c, &op->key, &op->klen)) {
		*why = "truncated key";
		return false;
	}
	if (op->klen > LSM_MAX_KEY_LEN) {
		*why = "key longer than the limit";
		return false;
	}
	if (!lsm_get_bytes(c, &op->val, &op->vlen)) {
		*why = "truncated value";
		return false;
	}
	if (op->vlen > LSM_MAX_VALUE_LEN) {
		*why = "value longer than the limit";
		return false;
	}
	if (op->type == LSM_TYPE_DELETE && op->vlen) {
		*why = "delete with a value";
		return false;
	}
	return true;
}

lsm_status lsm_batch_body_check(const uint8_t *body, size_t len, uint32_t count)
{
	struct lsm_cursor c = { body, len };
	struct op op;
	const char *why;
	if (len > LSM_BATCH_MAX_BYTES)
		return lsm_fail(LSM_ECORRUPT, "write batch: body of %zu bytes exceeds the limit", len);
	for (uint32_t i = 0; i < count; i++)
		if (!next_op(&c, &op, &why))
			return lsm_fail(LSM_ECORRUPT, "write batch: op %u of %u: %s", i, count, why);
	if (c.left)
		return lsm_fail(LSM_ECORRUPT, "write batch: %zu bytes after the last of %u ops", c.left,
				count);
	return LSM_OK;
}

/* Walks a body already checked (or built by add_op). */
static lsm_status walk(const uint8_t *body, size_t len, uint32_t count, lsm_batch_fn fn, void *ctx)
{
	struct lsm_cursor c = { body, len };
	struct op op;
	const char *why;
	for (uint32_t i = 0; i < count; i++) {
		if (!next_op(&c, &op, &why)) /* cannot happen on a checked body */
			return lsm_fail(LSM_ECORRUPT, "write batch: op %u: %s", i, why);
		lsm_status st = fn(ctx, op.type, op.key, op.klen, op.val, op.vlen);
		if (st)
			return st;
	}
	return LSM_OK;
}

lsm_status lsm_batch_iterate(const struct lsm_batch *b, lsm_batch_fn fn, void *ctx)
{
	return walk(b->body.data, b->body.len, b->count, fn, ctx);
}

lsm_status lsm_batch_body_iterate(const uint8_t *body, size_t len, uint32_t count, lsm_batch_fn fn,
				  void *ctx)
{
	lsm_status st = lsm_batch_body_check(body, len, count);
	return st ? st : walk(body, len, count, fn, ctx);
}

lsm_status lsm_batch_decode(struct lsm_batch *b, const uint8_t *body, size_t len, uint32_t count)
{
	lsm_batch_clear(b);
	lsm_status st = lsm_batch_body_check(body, len, count);
	if (st)
		return st;
	if ((st = lsm_buf_append(&b->body, body, len)))
		return st;
	b->count = count;
	return LSM_OK;
}
