/* lsm/sst_builder.c - see sst_builder.h */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "block_builder.h"
#include "bloom.h"
#include "ikey.h"
#include "sst_builder.h"

struct lsm_sst_builder {
	struct lsm_sst_options o;
	struct lsm_buf out; /* the object so far: finished data blocks */
	struct lsm_block_builder data, index;
	struct lsm_bloom_builder bloom;
	ZSTD_CCtx *cctx; /* NULL when compression is off */
	struct lsm_buf last_key;
	struct lsm_buf scratch;
	/* A flushed data block waits for the next key to choose its separator. */
	bool pending;
	uint64_t pending_off, pending_size;
	struct lsm_sst_props props;
	lsm_status err; /* sticky after a failure that left state half-changed */
	bool finished;
};

void lsm_sst_options_default(struct lsm_sst_options *o)
{
	o->block_size = 4096;
	o->restart_interval = LSM_BLOCK_RESTART_INTERVAL;
	o->compression_level = 3;
	o->bloom_bits_per_key = LSM_BLOOM_BITS_PER_KEY;
}

lsm_status lsm_sst_builder_new(const struct lsm_sst_options *opts, struct lsm_sst_builder **out)
{
	struct lsm_sst_options o;
	if (opts)
		o = *opts;
	else
		lsm_sst_options_default(&o);
	if (!o.block_size)
		o.block_size = 4096;
	if (!o.restart_interval)
		o.restart_interval = LSM_BLOCK_RESTART_INTERVAL;
	if (o.block_size > (size_t)1 << 30)
		return lsm_fail(LSM_EINVAL, "sst: block size %zu (at most 1 GiB)", o.block_size);
	if (o.compression_level &&
	    (o.compression_level < ZSTD_minCLevel() || o.compression_level > ZSTD_maxCLevel()))
		return lsm_fail(LSM_EINVAL, "sst: zstd level %d outside %d..%d",
				o.compression_level, ZSTD_minCLevel(), ZSTD_maxCLevel());
	if (o.bloom_bits_per_key > 64)
		return lsm_fail(LSM_EINVAL, "sst: %u bloom bits per key (at most 64)",
				o.bloom_bits_per_key);
	struct lsm_sst_builder *b = calloc(1, sizeof(*b));
	if (!b)
		return lsm_fail(LSM_ENOMEM, "out of memory for an sst builder");
	b->o = o;
	lsm_block_builder_init(&b->data, o.restart_interval);
	/* Index entries are searched by binary search over restart points;
	 * a short interval keeps the linear part of a seek short. */
	lsm_block_builder_init(&b->index, 1);
	lsm_bloom_builder_init(&b->bloom, o.bloom_bits_per_key);
	b->props.format_version = LSM_SST_FORMAT_VERSION;
	if (o.compression_level && !(b->cctx = ZSTD_createCCtx())) {
		free(b);
		return lsm_fail(LSM_ENOMEM, "out of memory for a zstd context");
	}
	*out = b;
	return LSM_OK;
}

void lsm_sst_builder_free(struct lsm_sst_builder *b)
{
	if (!b)
		return;
	lsm_buf_free(&b->out);
	lsm_block_builder_free(&b->data);
	lsm_block_builder_free(&b->index);
	lsm_bloom_builder_free(&b->bloom);
	ZSTD_freeCCtx(b->cctx);
	lsm_buf_free(&b->last_key);
	lsm_buf_free(&b->scratch);
	free(b->props.smallest);
	free(b);
}

static lsm_status stick(struct lsm_sst_builder *b, lsm_status st)
{
	if (st)
		b->err = st;
	return st;
}

/*
 * A key k with last <= k < next, preferably short: when the user keys differ
 * at byte i and last[i] + 1 < next[i], the user key last[0..i] || last[i] + 1
 * with the highest possible trailer (it sorts before every real version of
 * that user key). Otherwise last itself.
 */
static lsm_status separator(struct lsm_buf *out, const uint8_t *last, size_t llen,
			    const uint8_t *next, size_t nlen)
{
	size_t lu = llen - LSM_IKEY_TRAILER, nu = nlen - LSM_IKEY_TRAILER;
	size_t i = 0, n = lu < nu ? lu : nu;
	out->len = 0;
	while (i < n && last[i] == next[i])
		i++;
	if (i < n && last[i] < 0xff && last[i] + 1 < next[i] && i + 1 < lu) {
		lsm_status st = lsm_buf_reserve(out, i + 1 + LSM_IKEY_TRAILER);
		if (st)
			return st;
		memcpy(out->data, last, i);
		out->data[i] = (uint8_t)(last[i] + 1);
		lsm_enc_fixed64(out->data + i + 1, UINT64_MAX);
		out->len = i + 1 + LSM_IKEY_TRAILER;
		return LSM_OK;
	}
	return lsm_buf_append(out, last, llen);
}

static lsm_status add_index_entry(struct lsm_sst_builder *b, const uint8_t *key, size_t klen)
{
	uint8_t h[20];
	size_t n = lsm_enc_varint(h, b->pending_off);
	n += lsm_enc_varint(h + n, b->pending_size);
	b->pending = false;
	return lsm_block_builder_add(&b->index, key, klen, h, n);
}

static lsm_status flush_data(struct lsm_sst_builder *b)
{
	const uint8_t *p;
	size_t n;
	lsm_status st = lsm_block_builder_finish(&b->data, &p, &n);
	if (st)
		return st;
	uint64_t off = b->out.len;
	if ((st = lsm_block_store(&b->out, p, n, b->o.compression_level, b->cctx)))
		return st;
	b->pending = true;
	b->pending_off = off;
	b->pending_size = b->out.len - off;
	b->props.data_blocks++;
	lsm_block_builder_reset(&b->data);
	return LSM_OK;
}

lsm_status lsm_sst_builder_add(struct lsm_sst_builder *b, const uint8_t *ikey, size_t klen,
			       const uint8_t *value, size_t vlen)
{
	lsm_status st;
	if (b->err)
		return lsm_fail(b->err, "sst builder: stopped by an earlier error");
	if (b->finished)
		return lsm_fail(LSM_EINVAL, "sst builder: add after finish");
	if (klen < LSM_IKEY_TRAILER)
		return lsm_fail(LSM_EINVAL, "sst builder: key of %zu bytes is no internal key", klen);
	enum lsm_type type = lsm_ikey_type(ikey, klen);
	if (type != LSM_TYPE_PUT && type != LSM_TYPE_DELETE && type != LSM_TYPE_BLOB_REF)
		return lsm_fail(LSM_EINVAL, "sst builder: unknown entry type %d", (int)type);
	bool first = b->props.entries == 0;
	if (!first && lsm_ikey_compare(ikey, klen, b->last_key.data, b->last_key.len) <= 0)
		return lsm_fail(LSM_EINVAL, "sst builder: keys out of order (or repeated)");

	if (b->pending) {
		if ((st = separator(&b->scratch, b->last_key.data, b->last_key.len, ikey, klen)))
			return stick(b, st);
		if ((st = add_index_entry(b, b->scratch.data, b->scratch.len)))
			return stick(b, st);
	}
	size_t ulen = lsm_ikey_user_len(klen);
	if (b->o.bloom_bits_per_key &&
	    (first || lsm_ukey_compare(ikey, ulen, b->last_key.data,
				       lsm_ikey_user_len(b->last_key.len)) != 0) &&
	    (st = lsm_bloom_builder_add_hash(&b->bloom, lsm_bloom_hash(ikey, ulen))))
		return stick(b, st);
	if ((st = lsm_block_builder_add(&b->data, ikey, klen, value, vlen)))
		return stick(b, st);

	struct lsm_sst_props *p = &b->props;
	if (first) {
		if (!(p->smallest = malloc(klen)))
			return stick(b, lsm_fail(LSM_ENOMEM, "out of memory for a key"));
		memcpy(p->smallest, ikey, klen);
		p->smallest_len = klen;
	}
	b->last_key.len = 0;
	if ((st = lsm_buf_append(&b->last_key, ikey, klen)))
		return stick(b, st);
	p->largest = b->last_key.data;
	p->largest_len = klen;
	uint64_t seq = lsm_ikey_seq(ikey, klen);
	if (first || seq < p->min_seq)
		p->min_seq = seq;
	if (first || seq > p->max_seq)
		p->max_seq = seq;
	p->entries++;
	p->deletes += type == LSM_TYPE_DELETE;
	p->raw_key_bytes += klen;
	p->raw_value_bytes += vlen;

	if (lsm_block_builder_size(&b->data) >= b->o.block_size &&
	    (st = flush_data(b)))
		return stick(b, st);
	return LSM_OK;
}

static lsm_status encode_meta(const struct lsm_sst_props *p, struct lsm_buf *m)
{
	lsm_status st;
	m->len = 0;
	if ((st = lsm_buf_put_varint(m, p->format_version)) ||
	    (st = lsm_buf_put_varint(m, p->entries)) ||
	    (st = lsm_buf_put_varint(m, p->deletes)) ||
	    (st = lsm_buf_put_varint(m, p->data_blocks)) ||
	    (st = lsm_buf_put_varint(m, p->min_seq)) ||
	    (st = lsm_buf_put_varint(m, p->max_seq)) ||
	    (st = lsm_buf_put_varint(m, p->raw_key_bytes)) ||
	    (st = lsm_buf_put_varint(m, p->raw_value_bytes)) ||
	    (st = lsm_buf_put_bytes(m, p->smallest, p->smallest_len)) ||
	    (st = lsm_buf_put_bytes(m, p->largest, p->largest_len)))
		return st;
	return LSM_OK;
}

static lsm_status finish(struct lsm_sst_builder *b)
{
	lsm_status st;
	const uint8_t *p;
	size_t n;
	if (!lsm_block_builder_empty(&b->data) && (st = flush_data(b)))
		return st;
	/* the last block's separator is its last key */
	if (b->pending && (st = add_index_entry(b, b->last_key.data, b->last_key.len)))
		return st;

	uint64_t filter_off = 0, filter_size = 0;
	if (b->o.bloom_bits_per_key) {
		b->scratch.len = 0;
		if ((st = lsm_bloom_builder_finish(&b->bloom, &b->scratch)))
			return st;
		filter_off = b->out.len;
		/* random bits: compression would not pay */
		if ((st = lsm_block_store(&b->out, b->scratch.data, b->scratch.len, 0, NULL)))
			return st;
		filter_size = b->out.len - filter_off;
	}

	if ((st = lsm_block_builder_finish(&b->index, &p, &n)))
		return st;
	uint64_t index_off = b->out.len;
	if ((st = lsm_block_store(&b->out, p, n, b->o.compression_level, b->cctx)))
		return st;
	uint64_t index_size = b->out.len - index_off;

	if ((st = encode_meta(&b->props, &b->scratch)))
		return st;
	uint64_t meta_off = b->out.len;
	if ((st = lsm_block_store(&b->out, b->scratch.data, b->scratch.len, 0, NULL)))
		return st;
	uint64_t meta_size = b->out.len - meta_off;

	uint8_t f[LSM_SST_FOOTER_SIZE];
	lsm_enc_fixed64(f + 0, index_off);
	lsm_enc_fixed64(f + 8, index_size);
	lsm_enc_fixed64(f + 16, filter_off);
	lsm_enc_fixed64(f + 24, filter_size);
	lsm_enc_fixed64(f + 32, meta_off);
	lsm_enc_fixed64(f + 40, meta_size);
	lsm_enc_fixed32(f + 48, LSM_SST_FORMAT_VERSION);
	lsm_enc_fixed64(f + 52, lsm_checksum(f, 52));
	lsm_enc_fixed64(f + 60, LSM_SST_MAGIC);
	return lsm_buf_append(&b->out, f, sizeof(f));
}

lsm_status lsm_sst_builder_finish(struct lsm_sst_builder *b, struct lsm_buf *out)
{
	if (b->err)
		return lsm_fail(b->err, "sst builder: stopped by an earlier error");
	if (b->finished)
		return lsm_fail(LSM_EINVAL, "sst builder: finished twice");
	lsm_status st = finish(b);
	if (st)
		return stick(b, st);
	b->finished = true;
	lsm_buf_free(out);
	*out = b->out;
	/* keep the size for lsm_sst_builder_estimated_size, not the bytes */
	b->out = (struct lsm_buf){ .len = out->len };
	return LSM_OK;
}

uint64_t lsm_sst_builder_estimated_size(const struct lsm_sst_builder *b)
{
	if (b->finished)
		return b->out.len;
	uint64_t filter = b->o.bloom_bits_per_key
				  ? (uint64_t)b->bloom.n * b->o.bloom_bits_per_key / 8 + 8 + 1 +
					    LSM_BLOCK_TRAILER
				  : 0;
	return b->out.len + lsm_block_builder_size(&b->data) +
	       lsm_block_builder_size(&b->index) + (b->pending ? 20 + b->last_key.len : 0) +
	       filter + 80 + 2 * b->last_key.len + LSM_SST_FOOTER_SIZE;
}

const struct lsm_sst_props *lsm_sst_builder_props(const struct lsm_sst_builder *b)
{
	return &b->props;
}
