/*
 * lsm/db_vlog.c - reading values stored out of line (vlog.h): a ranged GET of
 * the value's bytes in its WAL object, checked against the pointer's
 * checksum, cached in the block cache under the object's id.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "db_int.h"
#include "vlog.h"

/* Block-cache ids of WAL objects: SST ids never have the top bit set. */
#define VLOG_CACHE_ID (UINT64_C(1) << 63)

struct cached_value {
	size_t len;
	uint8_t data[];
};

static lsm_status give(struct lsm_buf *out, const uint8_t *p, size_t n)
{
	out->len = 0;
	lsm_status st = lsm_buf_reserve(out, n + 1);
	return st ? st : lsm_buf_append(out, p, n);
}

lsm_status lsm_vlog_read(struct lsm_db *db, const uint8_t *ref, size_t n, struct lsm_buf *out)
{
	struct lsm_vptr p;
	struct lsm_cache_handle *h;
	struct zs3_buf b = { 0 };
	char key[64];
	lsm_status st;

	if ((st = lsm_vptr_decode(ref, n, &p)))
		return st;
	if ((h = lsm_block_cache_lookup(db->block_cache, VLOG_CACHE_ID | p.obj, p.off))) {
		const struct cached_value *v = lsm_block_cache_value(h);
		st = give(out, v->data, v->len);
		lsm_block_cache_release(db->block_cache, h);
		return st;
	}
	lsm_vobj_key(p.obj, key);
	atomic_fetch_add(&db->stats.vlog_reads, 1);
	zs3_status zst = zs3_get(db->store, key, zs3_range_from(p.off, p.len), &b, NULL);
	if (zst == ZS3_ENOTFOUND || zst == ZS3_ERANGE)
		st = lsm_fail(LSM_ECORRUPT, "a value of %" PRIu32 " bytes at %" PRIu64 " in %s is "
			      "missing: %s", p.len, p.off, key,
			      zst == ZS3_ENOTFOUND ? "the object is gone" : "the object is shorter");
	else if (zst)
		st = lsm_from_zs3(zst);
	else if (b.len != p.len || lsm_checksum(b.data, b.len) != p.sum)
		st = lsm_fail(LSM_ECORRUPT, "the value of %" PRIu32 " bytes at %" PRIu64 " in %s "
			      "does not match its checksum", p.len, p.off, key);
	else
		st = give(out, b.data, b.len);
	if (st == LSM_OK) {
		atomic_fetch_add(&db->stats.vlog_read_bytes, b.len);
		struct cached_value *v = malloc(sizeof(*v) + b.len);
		if (v) {
			v->len = b.len;
			memcpy(v->data, b.data, b.len);
			if (lsm_block_cache_insert(db->block_cache, VLOG_CACHE_ID | p.obj, p.off, v,
						   sizeof(*v) + b.len, free, &h) == LSM_OK)
				lsm_block_cache_release(db->block_cache, h);
			else
				free(v);
		}
	}
	zs3_buf_free(&b);
	return st;
}
