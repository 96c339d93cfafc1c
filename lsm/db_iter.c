/* lsm/db_iter.c - user keys at a snapshot over internal keys; see db_iter.h */
#include <stdlib.h>
#include <string.h>

#include "coding.h"
#include "db_iter.h"
#include "ikey.h"
#include "vlog.h"

struct lsm_db_iter {
	struct lsm_iter *in;
	uint64_t snap;
	struct lsm_buf start;  /* the larger of lower and prefix: where keys begin */
	struct lsm_buf upper;
	struct lsm_buf prefix;
	bool has_upper, has_prefix;
	struct lsm_buf key;    /* the current user key (or the one being skipped) */
	struct lsm_buf target; /* scratch: internal key to seek to */
	lsm_status (*resolve)(void *ctx, const uint8_t *ref, size_t n, struct lsm_buf *out);
	void *resolve_ctx;
	bool blob;             /* the current entry's value is a pointer */
	bool resolved;         /* ...and `value` holds what it names */
	struct lsm_buf value;
	bool valid;
	lsm_status st;
};

/* Copies p into b; b->data is never NULL afterwards, even for 0 bytes (key()
 * of an empty user key returns a pointer callers may pass to memcmp). */
static lsm_status set_buf(struct lsm_buf *b, const void *p, size_t n)
{
	b->len = 0;
	lsm_status st = lsm_buf_reserve(b, n + 1);
	return st ? st : lsm_buf_append(b, p, n);
}

static bool same_ukey(const struct lsm_buf *b, const uint8_t *k, size_t n)
{
	return b->len == n && (!n || !memcmp(b->data, k, n));
}

/* Ends the iteration with an error. */
static void fail(struct lsm_db_iter *it, lsm_status st)
{
	it->valid = false;
	it->st = st;
}

/* Moves the inner iterator forward to the next visible PUT, from where it
 * stands. With `skipping`, it->key is a user key already dealt with: its
 * remaining (older) versions are passed over. */
static void settle(struct lsm_db_iter *it, bool skipping)
{
	struct lsm_iter *in = it->in;
	it->valid = false;
	for (; lsm_iter_valid(in); lsm_iter_next(in)) {
		size_t klen;
		const uint8_t *k = lsm_iter_key(in, &klen);
		if (klen < LSM_IKEY_TRAILER) {
			fail(it, lsm_fail(LSM_ECORRUPT,
					  "internal key of %zu bytes (shorter than its trailer)", klen));
			return;
		}
		size_t ulen = lsm_ikey_user_len(klen);
		uint64_t seq = lsm_ikey_seq(k, klen);
		enum lsm_type type = lsm_ikey_type(k, klen);
		if (type != LSM_TYPE_PUT && type != LSM_TYPE_DELETE && type != LSM_TYPE_BLOB_REF) {
			fail(it, lsm_fail(LSM_ECORRUPT, "entry of unknown type %d", (int)type));
			return;
		}
		if (skipping && same_ukey(&it->key, k, ulen))
			continue; /* an older version of a key already dealt with */
		skipping = false;
		if (it->has_upper && lsm_ukey_compare(k, ulen, it->upper.data, it->upper.len) >= 0)
			return;
		/* keys here are >= start >= prefix, so the first one without the
		 * prefix is past every key with it */
		if (it->has_prefix &&
		    (ulen < it->prefix.len || memcmp(k, it->prefix.data, it->prefix.len)))
			return;
		if (seq > it->snap)
			continue; /* written after the snapshot */
		lsm_status st = set_buf(&it->key, k, ulen);
		if (st) {
			fail(it, st);
			return;
		}
		if (type == LSM_TYPE_PUT || type == LSM_TYPE_BLOB_REF) {
			it->valid = true;
			it->blob = type == LSM_TYPE_BLOB_REF;
			it->resolved = false;
			return;
		}
		skipping = true; /* a tombstone hides the older versions */
	}
	it->st = lsm_iter_status(in);
}

void lsm_db_iter_seek(struct lsm_db_iter *it, const void *user_key, size_t len)
{
	it->st = LSM_OK;
	if (!user_key || lsm_ukey_compare(user_key, len, it->start.data, it->start.len) < 0) {
		user_key = it->start.data;
		len = it->start.len;
	}
	it->target.len = 0;
	lsm_status st = lsm_buf_reserve(&it->target, len + LSM_IKEY_TRAILER);
	if (st) {
		fail(it, st);
		return;
	}
	/* (key, snapshot, 0xff) sorts before every version visible at the snapshot */
	lsm_ikey_encode(it->target.data, user_key, len, it->snap, (enum lsm_type)0xff);
	it->target.len = len + LSM_IKEY_TRAILER;
	lsm_iter_seek(it->in, it->target.data, it->target.len);
	settle(it, false);
}

void lsm_db_iter_seek_first(struct lsm_db_iter *it)
{
	if (it->start.len) {
		lsm_db_iter_seek(it, it->start.data, it->start.len);
		return;
	}
	it->st = LSM_OK;
	lsm_iter_seek_first(it->in);
	settle(it, false);
}

void lsm_db_iter_next(struct lsm_db_iter *it)
{
	if (!it->valid)
		return;
	lsm_iter_next(it->in);
	settle(it, true);
}

bool lsm_db_iter_valid(const struct lsm_db_iter *it)
{
	return it->valid;
}

const uint8_t *lsm_db_iter_key(const struct lsm_db_iter *it, size_t *len)
{
	*len = it->key.len;
	return it->key.data;
}

const uint8_t *lsm_db_iter_value(struct lsm_db_iter *it, size_t *len)
{
	if (!it->valid || !it->blob)
		return lsm_iter_value(it->in, len);
	if (!it->resolved) {
		size_t n;
		const uint8_t *ref = lsm_iter_value(it->in, &n);
		lsm_status st = it->resolve ? it->resolve(it->resolve_ctx, ref, n, &it->value)
					    : lsm_fail(LSM_ECORRUPT, "a value stored out of line "
							   "(type 2) with nothing to read it");
		if (st) {
			/* the caller sees the failure in status() and stops */
			fail(it, st);
			*len = 0;
			return (const uint8_t *)"";
		}
		it->resolved = true;
	}
	*len = it->value.len;
	return it->value.data;
}

bool lsm_db_iter_value_object(const struct lsm_db_iter *it, uint64_t *obj)
{
	struct lsm_vptr p;
	size_t n;
	if (!it->valid || !it->blob)
		return false;
	const uint8_t *ref = lsm_iter_value(it->in, &n);
	if (lsm_vptr_decode(ref, n, &p))
		return false; /* value() reports it */
	*obj = p.obj;
	return true;
}

lsm_status lsm_db_iter_status(const struct lsm_db_iter *it)
{
	return it->st;
}

void lsm_db_iter_free(struct lsm_db_iter *it)
{
	if (!it)
		return;
	lsm_iter_destroy(it->in);
	lsm_buf_free(&it->start);
	lsm_buf_free(&it->upper);
	lsm_buf_free(&it->prefix);
	lsm_buf_free(&it->key);
	lsm_buf_free(&it->target);
	lsm_buf_free(&it->value);
	free(it);
}

lsm_status lsm_db_iter_new(struct lsm_iter *internal, const struct lsm_db_iter_opts *o,
			   struct lsm_db_iter **out)
{
	struct lsm_db_iter *it = calloc(1, sizeof(*it));
	lsm_status st = LSM_OK;
	*out = NULL;
	if (!it) {
		lsm_iter_destroy(internal);
		return lsm_fail(LSM_ENOMEM, "out of memory creating a database iterator");
	}
	it->in = internal;
	it->resolve = o->resolve;
	it->resolve_ctx = o->resolve_ctx;
	it->snap = o->snapshot_seq > LSM_SEQ_MAX ? LSM_SEQ_MAX : o->snapshot_seq;
	it->has_upper = o->upper != NULL;
	it->has_prefix = o->prefix != NULL;
	/* start = max(lower, prefix) */
	const void *s = o->lower;
	size_t slen = o->lower ? o->lower_len : 0;
	if (o->prefix && (!s || lsm_ukey_compare(o->prefix, o->prefix_len, s, slen) > 0)) {
		s = o->prefix;
		slen = o->prefix_len;
	}
	if (s)
		st = set_buf(&it->start, s, slen);
	if (!st && o->upper)
		st = set_buf(&it->upper, o->upper, o->upper_len);
	if (!st && o->prefix)
		st = set_buf(&it->prefix, o->prefix, o->prefix_len);
	if (st) {
		lsm_db_iter_free(it);
		return st;
	}
	*out = it;
	return LSM_OK;
}
