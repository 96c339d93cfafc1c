/* lsm/sst_reader.c - see sst_reader.h */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "block.h"
#include "block_builder.h"
#include "bloom.h"
#include "sst_reader.h"

struct lsm_sst {
	lsm_read_fn read;
	void *ctx;
	uint64_t size;
	struct lsm_block_cache *cache;
	uint64_t cache_id;
	struct lsm_sst_props props;
	uint64_t data_end; /* data blocks lie in [0, data_end) */
	struct lsm_buf tail; /* filter, index and meta blocks as read */
	uint8_t *index_mem, *filter_mem; /* decompressed copies, if they were compressed */
	struct lsm_block index;
	bool has_filter;
	struct lsm_bloom filter;
	_Atomic uint64_t gets, bloom_negatives, bloom_false_positives, block_fetches,
		block_cache_hits;
};

struct handle {
	uint64_t off, size;
};

lsm_status lsm_read_mem(void *ctx, uint64_t off, uint64_t len, struct lsm_buf *out)
{
	const struct lsm_mem_object *m = ctx;
	if (off > m->len || len > m->len - off)
		return lsm_fail(LSM_EINVAL, "read of %llu bytes at %llu past the end (%zu)",
				(unsigned long long)len, (unsigned long long)off, m->len);
	return lsm_buf_append(out, m->data + off, (size_t)len);
}

/* Reads [off, off + len) into b (replacing its contents), exactly sized. */
static lsm_status fetch(struct lsm_sst *sst, uint64_t off, uint64_t len, struct lsm_buf *b)
{
	b->len = 0;
	if (len > SIZE_MAX)
		return lsm_fail(LSM_ENOMEM, "sst: read of %llu bytes", (unsigned long long)len);
	if (b->cap < len) {
		uint8_t *p = realloc(b->data, (size_t)len);
		if (!p)
			return lsm_fail(LSM_ENOMEM, "out of memory reading %llu bytes",
					(unsigned long long)len);
		b->data = p;
		b->cap = (size_t)len;
	}
	lsm_status st = sst->read(sst->ctx, off, len, b);
	if (st)
		return st;
	if (b->len != len)
		return lsm_fail(LSM_ECORRUPT, "sst: short read: %zu of %llu bytes at %llu", b->len,
				(unsigned long long)len, (unsigned long long)off);
	return LSM_OK;
}

/* ---- open ---- */

static lsm_status parse_footer(const uint8_t *f, struct handle *index, struct handle *filter,
			       struct handle *meta)
{
	if (lsm_dec_fixed64(f + 60) != LSM_SST_MAGIC)
		return lsm_fail(LSM_ECORRUPT, "sst footer: bad magic (not an SST, or truncated)");
	if (lsm_checksum(f, 52) != lsm_dec_fixed64(f + 52))
		return lsm_fail(LSM_ECORRUPT, "sst footer: checksum mismatch");
	uint32_t version = lsm_dec_fixed32(f + 48);
	if (version != LSM_SST_FORMAT_VERSION)
		return lsm_fail(LSM_ECORRUPT, "sst footer: unsupported format version %u", version);
	index->off = lsm_dec_fixed64(f + 0);
	index->size = lsm_dec_fixed64(f + 8);
	filter->off = lsm_dec_fixed64(f + 16);
	filter->size = lsm_dec_fixed64(f + 24);
	meta->off = lsm_dec_fixed64(f + 32);
	meta->size = lsm_dec_fixed64(f + 40);
	return LSM_OK;
}

static lsm_status check_handle(const struct handle *h, uint64_t end, const char *what)
{
	if (h->size < LSM_BLOCK_TRAILER || h->off > end || h->size > end - h->off)
		return lsm_fail(LSM_ECORRUPT, "sst footer: bad %s handle (%llu, %llu)", what,
				(unsigned long long)h->off, (unsigned long long)h->size);
	return LSM_OK;
}

/* Prefixes the current error detail with the block it came from
 * (off UINT64_MAX: the index block, which needs no offset). */
static lsm_status annotate(lsm_status st, const char *what, uint64_t off)
{
	char detail[256];
	snprintf(detail, sizeof(detail), "%s", lsm_last_error());
	if (off == UINT64_MAX)
		return lsm_fail(st, "%s: %s", what, detail);
	return lsm_fail(st, "%s at %llu: %s", what, (unsigned long long)off, detail);
}

static lsm_status dup_key(const uint8_t *p, size_t n, uint8_t **out)
{
	*out = NULL;
	if (!n)
		return LSM_OK;
	if (!(*out = malloc(n)))
		return lsm_fail(LSM_ENOMEM, "out of memory for a key");
	memcpy(*out, p, n);
	return LSM_OK;
}

static lsm_status parse_meta(struct lsm_sst *sst, const uint8_t *p, size_t n)
{
	struct lsm_sst_props *m = &sst->props;
	struct lsm_cursor c = { p, n };
	uint64_t version;
	const uint8_t *sk, *lk;
	size_t sl, ll;
	if (!lsm_get_varint(&c, &version) || !lsm_get_varint(&c, &m->entries) ||
	    !lsm_get_varint(&c, &m->deletes) || !lsm_get_varint(&c, &m->data_blocks) ||
	    !lsm_get_varint(&c, &m->min_seq) || !lsm_get_varint(&c, &m->max_seq) ||
	    !lsm_get_varint(&c, &m->raw_key_bytes) || !lsm_get_varint(&c, &m->raw_value_bytes) ||
	    !lsm_get_bytes(&c, &sk, &sl) || !lsm_get_bytes(&c, &lk, &ll) || c.left)
		return lsm_fail(LSM_ECORRUPT, "sst meta block: malformed");
	if (version != LSM_SST_FORMAT_VERSION)
		return lsm_fail(LSM_ECORRUPT, "sst meta block: format version %llu, footer says %u",
				(unsigned long long)version, LSM_SST_FORMAT_VERSION);
	m->format_version = (uint32_t)version;
	if (m->entries == 0
		    ? (sl || ll || m->deletes || m->data_blocks)
		    : (sl < LSM_IKEY_TRAILER || ll < LSM_IKEY_TRAILER || m->deletes > m->entries ||
		       m->data_blocks == 0 || m->min_seq > m->max_seq ||
		       lsm_ikey_compare(sk, sl, lk, ll) > 0))
		return lsm_fail(LSM_ECORRUPT, "sst meta block: inconsistent properties");
	lsm_status st = dup_key(sk, sl, &m->smallest);
	if (!st)
		st = dup_key(lk, ll, &m->largest);
	m->smallest_len = sl;
	m->largest_len = ll;
	return st;
}

/* Unwraps the stored block h from the tail buffer (which starts at `base`). */
static lsm_status unwrap_tail(struct lsm_sst *sst, uint64_t base, const struct handle *h,
			      const char *what, uint8_t **owned, const uint8_t **raw, size_t *n)
{
	return lsm_block_unwrap(sst->tail.data + (h->off - base), (size_t)h->size, what, h->off,
				owned, raw, n);
}

static lsm_status open_sst(struct lsm_sst *sst)
{
	struct handle index = { 0 }, filter = { 0 }, meta = { 0 };
	struct lsm_buf f = { 0 };
	lsm_status st;
	if (sst->size < LSM_SST_FOOTER_SIZE)
		return lsm_fail(LSM_ECORRUPT, "sst: object of %llu bytes is smaller than a footer",
				(unsigned long long)sst->size);
	uint64_t footer_off = sst->size - LSM_SST_FOOTER_SIZE;
	st = fetch(sst, footer_off, LSM_SST_FOOTER_SIZE, &f);
	if (!st)
		st = parse_footer(f.data, &index, &filter, &meta);
	lsm_buf_free(&f);
	if (st)
		return st;
	sst->has_filter = filter.size != 0;
	if (!sst->has_filter && filter.off != 0)
		return lsm_fail(LSM_ECORRUPT, "sst footer: bad filter handle (%llu, 0)",
				(unsigned long long)filter.off);
	if ((st = check_handle(&index, footer_off, "index")) ||
	    (st = check_handle(&meta, footer_off, "meta")) ||
	    (sst->has_filter && (st = check_handle(&filter, footer_off, "filter"))))
		return st;

	/* One read for all three; the data blocks lie before them. */
	uint64_t base = index.off < meta.off ? index.off : meta.off;
	if (sst->has_filter && filter.off < base)
		base = filter.off;
	sst->data_end = base;
	if ((st = fetch(sst, base, footer_off - base, &sst->tail)))
		return st;

	uint8_t *owned;
	const uint8_t *raw;
	size_t n;
	if ((st = unwrap_tail(sst, base, &meta, "sst meta block", &owned, &raw, &n)))
		return st;
	st = parse_meta(sst, raw, n);
	free(owned);
	if (st)
		return st;

	if ((st = unwrap_tail(sst, base, &index, "sst index block", &sst->index_mem, &raw, &n)))
		return st;
	if ((st = lsm_block_parse(raw, n, &sst->index)))
		return annotate(st, "sst index block", index.off);
	if ((sst->index.limit == 0) != (sst->props.entries == 0))
		return lsm_fail(LSM_ECORRUPT, "sst: index and meta block disagree on emptiness");

	if (sst->has_filter &&
	    ((st = unwrap_tail(sst, base, &filter, "sst filter block", &sst->filter_mem, &raw,
			       &n)) ||
	     (st = lsm_bloom_parse(raw, n, &sst->filter))))
		return st;
	return LSM_OK;
}

lsm_status lsm_sst_open(lsm_read_fn read_fn, void *ctx, uint64_t object_size,
			struct lsm_block_cache *cache, uint64_t cache_id, struct lsm_sst **out)
{
	struct lsm_sst *sst = calloc(1, sizeof(*sst));
	if (!sst)
		return lsm_fail(LSM_ENOMEM, "out of memory for an sst");
	sst->read = read_fn;
	sst->ctx = ctx;
	sst->size = object_size;
	sst->cache = cache;
	sst->cache_id = cache_id;
	lsm_status st = open_sst(sst);
	if (st) {
		lsm_sst_close(sst);
		return st;
	}
	*out = sst;
	return LSM_OK;
}

void lsm_sst_close(struct lsm_sst *sst)
{
	if (!sst)
		return;
	lsm_buf_free(&sst->tail);
	free(sst->index_mem);
	free(sst->filter_mem);
	free(sst->props.smallest);
	free(sst->props.largest);
	free(sst);
}

const struct lsm_sst_props *lsm_sst_props(const struct lsm_sst *sst)
{
	return &sst->props;
}

uint64_t lsm_sst_object_size(const struct lsm_sst *sst)
{
	return sst->size;
}

void lsm_sst_stats(const struct lsm_sst *sst, struct lsm_sst_stats *out)
{
	out->gets = atomic_load_explicit(&sst->gets, memory_order_relaxed);
	out->bloom_negatives = atomic_load_explicit(&sst->bloom_negatives, memory_order_relaxed);
	out->bloom_false_positives =
		atomic_load_explicit(&sst->bloom_false_positives, memory_order_relaxed);
	out->block_fetches = atomic_load_explicit(&sst->block_fetches, memory_order_relaxed);
	out->block_cache_hits = atomic_load_explicit(&sst->block_cache_hits, memory_order_relaxed);
}

static void count(_Atomic uint64_t *c)
{
	atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

/* ---- data blocks ---- */

/* A decoded data block, as the cache holds it. */
struct data_block {
	struct lsm_block blk;
	uint8_t *mem; /* the bytes blk views */
};

static void data_block_free(void *p)
{
	struct data_block *d = p;
	free(d->mem);
	free(d);
}

/* A data block in use: held through the cache (h) or privately (h NULL). */
struct block_ref {
	struct data_block *d;
	struct lsm_cache_handle *h;
};

static void ref_release(struct lsm_sst *sst, struct block_ref *r)
{
	if (r->h)
		lsm_block_cache_release(sst->cache, r->h);
	else if (r->d)
		data_block_free(r->d);
	r->d = NULL;
	r->h = NULL;
}

static lsm_status load_block(struct lsm_sst *sst, uint64_t off, uint64_t size,
			     struct block_ref *r)
{
	if (sst->cache && (r->h = lsm_block_cache_lookup(sst->cache, sst->cache_id, off))) {
		r->d = lsm_block_cache_value(r->h);
		count(&sst->block_cache_hits);
		return LSM_OK;
	}
	struct lsm_buf b = { 0 };
	uint8_t *owned = NULL;
	const uint8_t *raw;
	size_t n;
	struct data_block *d = NULL;
	count(&sst->block_fetches);
	lsm_status st = fetch(sst, off, size, &b);
	if (!st)
		st = lsm_block_unwrap(b.data, b.len, "sst data block", off, &owned, &raw, &n);
	if (!st && !(d = malloc(sizeof(*d))))
		st = lsm_fail(LSM_ENOMEM, "out of memory for a block");
	if (st) {
		free(owned);
		lsm_buf_free(&b);
		return st;
	}
	if (owned) {
		lsm_buf_free(&b);
		d->mem = owned;
	} else {
		d->mem = b.data; /* raw points at its start */
	}
	if ((st = lsm_block_parse(raw, n, &d->blk))) {
		data_block_free(d);
		return annotate(st, "sst data block", off);
	}
	r->h = NULL;
	r->d = d;
	if (sst->cache &&
	    !lsm_block_cache_insert(sst->cache, sst->cache_id, off, d, sizeof(*d) + n,
				    data_block_free, &r->h))
		r->d = lsm_block_cache_value(r->h); /* maybe another reader's copy */
	/* if the insert failed we keep the block privately */
	return LSM_OK;
}

/* ---- iterator: the index block, then the data block it points at ---- */

struct sst_iter {
	struct lsm_iter base;
	struct lsm_sst *sst;
	struct lsm_block_iter index_it;
	struct lsm_block_iter data_it; /* over blk, once loaded */
	struct block_ref blk;
	uint64_t blk_off;
	lsm_status st;
	bool heap;
};

/* Loads the block the index iterator is at and points data_it at it. */
static bool load_current(struct sst_iter *it)
{
	struct lsm_sst *sst = it->sst;
	size_t vlen;
	const uint8_t *v = lsm_iter_value(&it->index_it.base, &vlen);
	struct lsm_cursor c = { v, vlen };
	uint64_t off, size;
	if (!lsm_get_varint(&c, &off) || !lsm_get_varint(&c, &size) || c.left ||
	    size < LSM_BLOCK_TRAILER || off > sst->data_end || size > sst->data_end - off) {
		it->st = lsm_fail(LSM_ECORRUPT, "sst index block: bad block handle");
		return false;
	}
	if (!it->blk.d || it->blk_off != off) {
		ref_release(sst, &it->blk);
		lsm_status st = load_block(sst, off, size, &it->blk);
		if (st) {
			it->st = st;
			return false;
		}
		it->blk_off = off;
	}
	lsm_block_iter_reset(&it->data_it, &it->blk.d->blk);
	return true;
}

/* Moves past exhausted blocks to the next entry, if any. */
static void skip_to_entry(struct sst_iter *it)
{
	while (!it->data_it.valid) {
		if (it->data_it.st) {
			it->st = annotate(it->data_it.st, "sst data block", it->blk_off);
			return;
		}
		lsm_iter_next(&it->index_it.base);
		if (!it->index_it.valid) {
			it->st = it->index_it.st
					 ? annotate(it->index_it.st, "sst index block", UINT64_MAX)
					 : LSM_OK;
			ref_release(it->sst, &it->blk);
			return;
		}
		if (!load_current(it))
			return;
		lsm_iter_seek_first(&it->data_it.base);
	}
}

/*
 * Seeks to the first entry >= target (the first entry if target is NULL).
 * With ulen_limit set, it does not move past the block the index names unless
 * the entry could still have user key target[0..ulen_limit): see lsm_sst_get.
 */
static void si_position_for(struct sst_iter *it, const uint8_t *target, size_t len,
			    const size_t *ulen_limit)
{
	it->st = LSM_OK;
	it->data_it.valid = false;
	if (target)
		lsm_iter_seek(&it->index_it.base, target, len);
	else
		lsm_iter_seek_first(&it->index_it.base);
	if (!it->index_it.valid) {
		it->st = it->index_it.st ? annotate(it->index_it.st, "sst index block", UINT64_MAX)
					 : LSM_OK;
		ref_release(it->sst, &it->blk);
		return;
	}
	if (!load_current(it))
		return;
	if (target)
		lsm_iter_seek(&it->data_it.base, target, len);
	else
		lsm_iter_seek_first(&it->data_it.base);
	if (ulen_limit && !it->data_it.valid && !it->data_it.st) {
		/* Every key of the next block is > this block's separator. If
		 * the separator's user key is not the one looked up (it is then
		 * greater), no later entry can have that user key either. */
		size_t sl;
		const uint8_t *sep = lsm_iter_key(&it->index_it.base, &sl);
		if (lsm_ukey_compare(sep, lsm_ikey_user_len(sl), target, *ulen_limit) != 0)
			return;
	}
	skip_to_entry(it);
}

static void si_position(struct sst_iter *it, const uint8_t *target, size_t len)
{
	si_position_for(it, target, len, NULL);
}

static void si_seek_first(struct lsm_iter *base)
{
	si_position((struct sst_iter *)base, NULL, 0);
}

static void si_seek(struct lsm_iter *base, const uint8_t *target, size_t len)
{
	struct sst_iter *it = (struct sst_iter *)base;
	if (len < LSM_IKEY_TRAILER) {
		it->data_it.valid = false;
		it->st = lsm_fail(LSM_EINVAL, "sst: seek target of %zu bytes is no internal key",
				  len);
		return;
	}
	si_position(it, target, len);
}

static bool si_valid(const struct lsm_iter *base)
{
	const struct sst_iter *it = (const struct sst_iter *)base;
	return it->st == LSM_OK && it->blk.d && it->data_it.valid;
}

static void si_next(struct lsm_iter *base)
{
	struct sst_iter *it = (struct sst_iter *)base;
	if (!si_valid(base))
		return;
	lsm_iter_next(&it->data_it.base);
	skip_to_entry(it);
}

static const uint8_t *si_key(const struct lsm_iter *base, size_t *len)
{
	return lsm_iter_key(&((const struct sst_iter *)base)->data_it.base, len);
}

static const uint8_t *si_value(const struct lsm_iter *base, size_t *len)
{
	return lsm_iter_value(&((const struct sst_iter *)base)->data_it.base, len);
}

static lsm_status si_status(const struct lsm_iter *base)
{
	return ((const struct sst_iter *)base)->st;
}

static void si_fini(struct sst_iter *it)
{
	lsm_block_iter_fini(&it->index_it);
	lsm_block_iter_fini(&it->data_it);
	ref_release(it->sst, &it->blk);
}

static void si_destroy(struct lsm_iter *base)
{
	struct sst_iter *it = (struct sst_iter *)base;
	si_fini(it);
	if (it->heap)
		free(it);
}

static const struct lsm_iter_ops sst_iter_ops = {
	.seek_first = si_seek_first,
	.seek = si_seek,
	.next = si_next,
	.valid = si_valid,
	.key = si_key,
	.value = si_value,
	.status = si_status,
	.destroy = si_destroy,
};

static void si_init(struct sst_iter *it, struct lsm_sst *sst)
{
	memset(it, 0, sizeof(*it));
	it->base.ops = &sst_iter_ops;
	it->sst = sst;
	lsm_block_iter_init(&it->index_it, &sst->index);
	lsm_block_iter_init(&it->data_it, NULL);
}

lsm_status lsm_sst_iter(struct lsm_sst *sst, struct lsm_iter **out)
{
	struct sst_iter *it = malloc(sizeof(*it));
	if (!it)
		return lsm_fail(LSM_ENOMEM, "out of memory for an sst iterator");
	si_init(it, sst);
	it->heap = true;
	*out = &it->base;
	return LSM_OK;
}

/* ---- point lookups ---- */

lsm_status lsm_sst_get(struct lsm_sst *sst, const uint8_t *user_key, size_t ulen,
		       uint64_t snapshot_seq, enum lsm_type *found_type, struct lsm_buf *value_out)
{
	const struct lsm_sst_props *p = &sst->props;
	count(&sst->gets);
	if (p->entries == 0 ||
	    lsm_ukey_compare(user_key, ulen, p->smallest, lsm_ikey_user_len(p->smallest_len)) < 0 ||
	    lsm_ukey_compare(user_key, ulen, p->largest, lsm_ikey_user_len(p->largest_len)) > 0)
		return LSM_ENOTFOUND;
	if (sst->has_filter &&
	    !lsm_bloom_may_contain_hash(&sst->filter, lsm_bloom_hash(user_key, ulen))) {
		count(&sst->bloom_negatives);
		return LSM_ENOTFOUND;
	}

	/* (user_key, snapshot, type 0xff) sorts before every version of
	 * user_key with seq <= snapshot and after every newer one. */
	uint8_t stackbuf[256], *target = stackbuf;
	if (ulen > sizeof(stackbuf) - LSM_IKEY_TRAILER &&
	    !(target = malloc(ulen + LSM_IKEY_TRAILER)))
		return lsm_fail(LSM_ENOMEM, "out of memory for a key");
	if (snapshot_seq > LSM_SEQ_MAX)
		snapshot_seq = LSM_SEQ_MAX;
	if (ulen)
		memcpy(target, user_key, ulen);
	lsm_enc_fixed64(target + ulen, snapshot_seq << 8 | 0xff);

	struct sst_iter it;
	si_init(&it, sst);
	si_position_for(&it, target, ulen + LSM_IKEY_TRAILER, &ulen);
	lsm_status st = LSM_ENOTFOUND;
	size_t kl, vl;
	const uint8_t *k, *v;
	if (si_valid(&it.base) && (k = si_key(&it.base, &kl)) &&
	    lsm_ukey_compare(k, lsm_ikey_user_len(kl), user_key, ulen) == 0) {
		enum lsm_type t = lsm_ikey_type(k, kl);
		v = si_value(&it.base, &vl);
		value_out->len = 0;
		if (t != LSM_TYPE_PUT && t != LSM_TYPE_DELETE && t != LSM_TYPE_BLOB_REF)
			st = lsm_fail(LSM_ECORRUPT, "sst: entry of unknown type %d", (int)t);
		else if (!(st = lsm_buf_append(value_out, v, t == LSM_TYPE_DELETE ? 0 : vl)))
			*found_type = t;
	} else if (it.st) {
		st = it.st;
	} else if (sst->has_filter) {
		count(&sst->bloom_false_positives);
	}
	si_fini(&it);
	if (target != stackbuf)
		free(target);
	return st;
}

/* ---- checking the whole object (lsm_sst_check) ---- */

struct check {
	struct lsm_sst *sst;
	struct lsm_buf prev; /* the previous entry's key, across blocks */
	struct lsm_buf sep;  /* the previous block's index separator */
	struct lsm_buf first; /* the SST's first key */
	bool have_sep;
	uint64_t blocks, entries, deletes, min_seq, max_seq, key_bytes, value_bytes;
};

static lsm_status set_key(struct lsm_buf *b, const uint8_t *k, size_t n)
{
	b->len = 0;
	return lsm_buf_append(b, k, n);
}

/* Checks one entry of a data block; `at` is its offset in the block. */
static lsm_status check_entry(struct check *c, uint64_t off, size_t at, const uint8_t *k,
			      size_t kl, size_t vl, bool first_in_block)
{
	struct lsm_sst *sst = c->sst;
	unsigned long long o = (unsigned long long)off;
	enum lsm_type t = lsm_ikey_type(k, kl);
	uint64_t seq = lsm_ikey_seq(k, kl);
	bool new_user_key = c->entries == 0 ||
			    lsm_ukey_compare(c->prev.data, lsm_ikey_user_len(c->prev.len), k,
					     lsm_ikey_user_len(kl)) != 0;
	if (t != LSM_TYPE_PUT && t != LSM_TYPE_DELETE && t != LSM_TYPE_BLOB_REF)
		return lsm_fail(LSM_ECORRUPT, "sst data block at %llu: entry at %zu of unknown type %d",
				o, at, (int)t);
	if (c->entries && lsm_ikey_compare(c->prev.data, c->prev.len, k, kl) >= 0)
		return lsm_fail(LSM_ECORRUPT, "sst data block at %llu: entry at %zu is out of order", o,
				at);
	if (first_in_block && c->have_sep && lsm_ikey_compare(k, kl, c->sep.data, c->sep.len) <= 0)
		return lsm_fail(LSM_ECORRUPT, "sst data block at %llu: its first key is not above the "
				"previous block's index separator", o);
	if (sst->has_filter && new_user_key &&
	    !lsm_bloom_may_contain_hash(&sst->filter, lsm_bloom_hash(k, lsm_ikey_user_len(kl))))
		return lsm_fail(LSM_ECORRUPT, "sst filter block: it lacks the user key of the entry at "
				"%zu of the data block at %llu", at, o);
	if (seq < c->min_seq)
		c->min_seq = seq;
	if (seq > c->max_seq)
		c->max_seq = seq;
	c->deletes += t == LSM_TYPE_DELETE;
	c->key_bytes += kl;
	c->value_bytes += vl;
	if (c->entries++ == 0 && set_key(&c->first, k, kl))
		return lsm_fail(LSM_ENOMEM, "out of memory");
	return set_key(&c->prev, k, kl) ? lsm_fail(LSM_ENOMEM, "out of memory") : LSM_OK;
}

/* Reads and checks the data block at [off, off + size) named by separator sep. */
static lsm_status check_block(struct check *c, uint64_t off, uint64_t size, const uint8_t *sep,
			      size_t seplen)
{
	unsigned long long o = (unsigned long long)off;
	struct lsm_buf b = { 0 };
	uint8_t *owned = NULL;
	const uint8_t *raw;
	size_t n, at = 0;
	uint32_t r = 0;
	uint64_t in_block = 0;
	struct lsm_block blk;
	struct lsm_block_iter it;
	lsm_status st = fetch(c->sst, off, size, &b);

	if (!st)
		st = lsm_block_unwrap(b.data, b.len, "sst data block", off, &owned, &raw, &n);
	if (!st && (st = lsm_block_parse(raw, n, &blk)))
		st = annotate(st, "sst data block", off);
	if (st)
		goto out;
	lsm_block_iter_init(&it, &blk);
	for (lsm_iter_seek_first(&it.base); it.valid && !st; lsm_iter_next(&it.base)) {
		if (r < blk.nrestarts) { /* the next restart point must start an entry */
			uint32_t ro = lsm_dec_fixed32(blk.data + blk.limit + (size_t)r * 4);
			struct lsm_cursor cur = { blk.data + at, blk.limit - at };
			uint64_t shared;
			if (ro < at) {
				st = lsm_fail(LSM_ECORRUPT, "sst data block at %llu: restart point %u "
					      "(%u) is inside an entry", o, r, ro);
				break;
			}
			if (ro == at) {
				if (!lsm_get_varint(&cur, &shared) || shared != 0) {
					st = lsm_fail(LSM_ECORRUPT, "sst data block at %llu: the restart "
						      "entry at %zu shares a prefix", o, at);
					break;
				}
				r++;
			}
		}
		st = check_entry(c, off, at, it.key.data, it.key.len, it.vlen, in_block == 0);
		in_block++;
		at = it.next_off;
	}
	if (!st && it.st)
		st = annotate(it.st, "sst data block", off);
	else if (!st && in_block == 0)
		st = lsm_fail(LSM_ECORRUPT, "sst data block at %llu holds no entry", o);
	else if (!st && r != blk.nrestarts)
		st = lsm_fail(LSM_ECORRUPT, "sst data block at %llu: restart point %u is not at an "
			      "entry", o, r);
	else if (!st && lsm_ikey_compare(c->prev.data, c->prev.len, sep, seplen) > 0)
		st = lsm_fail(LSM_ECORRUPT, "sst data block at %llu: its last key is above its index "
			      "separator", o);
	lsm_block_iter_fini(&it);
out:
	free(owned);
	lsm_buf_free(&b);
	return st;
}

/* What the meta block says against what the blocks hold. */
static lsm_status check_props(const struct check *c)
{
	const struct lsm_sst_props *p = &c->sst->props;
	const char *what = NULL;
	if (p->data_blocks != c->blocks)
		what = "data blocks";
	else if (p->entries != c->entries)
		what = "entries";
	else if (p->deletes != c->deletes)
		what = "deletes";
	else if (c->entries && (p->min_seq != c->min_seq || p->max_seq != c->max_seq))
		what = "sequence range";
	else if (p->raw_key_bytes != c->key_bytes || p->raw_value_bytes != c->value_bytes)
		what = "key and value bytes";
	else if (c->entries && (p->smallest_len != c->first.len ||
				memcmp(p->smallest, c->first.data, c->first.len)))
		what = "smallest key";
	else if (c->entries && (p->largest_len != c->prev.len ||
				memcmp(p->largest, c->prev.data, c->prev.len)))
		what = "largest key";
	if (!what)
		return LSM_OK;
	return lsm_fail(LSM_ECORRUPT, "sst meta block: its %s differ from the data blocks' "
			"(%llu blocks, %llu entries)", what, (unsigned long long)c->blocks,
			(unsigned long long)c->entries);
}

lsm_status lsm_sst_check(struct lsm_sst *sst, uint64_t *data_blocks, uint64_t *entries)
{
	struct check c = { .sst = sst, .min_seq = UINT64_MAX };
	struct lsm_block_iter idx;
	uint64_t next_off = 0;
	lsm_status st = LSM_OK;

	lsm_block_iter_init(&idx, &sst->index);
	for (lsm_iter_seek_first(&idx.base); idx.valid && !st; lsm_iter_next(&idx.base)) {
		size_t sl, vl;
		const uint8_t *sep = lsm_iter_key(&idx.base, &sl), *v = lsm_iter_value(&idx.base, &vl);
		struct lsm_cursor cur = { v, vl };
		uint64_t off, size;
		if (!lsm_get_varint(&cur, &off) || !lsm_get_varint(&cur, &size) || cur.left ||
		    size < LSM_BLOCK_TRAILER || off > sst->data_end || size > sst->data_end - off)
			st = lsm_fail(LSM_ECORRUPT, "sst index block: entry %llu has a bad block handle",
				      (unsigned long long)c.blocks);
		else if (off < next_off)
			st = lsm_fail(LSM_ECORRUPT, "sst index block: the data block at %llu overlaps "
				      "the one before it or is out of order", (unsigned long long)off);
		else
			st = check_block(&c, off, size, sep, sl);
		if (st)
			break;
		next_off = off + size;
		c.blocks++;
		if (set_key(&c.sep, sep, sl))
			st = lsm_fail(LSM_ENOMEM, "out of memory");
		c.have_sep = true;
	}
	if (!st && idx.st)
		st = annotate(idx.st, "sst index block", UINT64_MAX);
	lsm_block_iter_fini(&idx);
	if (!st)
		st = check_props(&c);
	*data_blocks = c.blocks;
	*entries = c.entries;
	lsm_buf_free(&c.prev);
	lsm_buf_free(&c.sep);
	lsm_buf_free(&c.first);
	return st;
}
