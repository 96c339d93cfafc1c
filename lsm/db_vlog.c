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

/* The whole-object fetch of WAL object obj for the disk cache (the SSTs'
 * bound, db_sst.c: at most LSM_MAX_WHOLE_FETCHES at once, each holding the
 * object in memory): FETCH_MINE if this reader is to do it, FETCH_DONE if
 * another reader was doing it and has finished (look in the disk cache
 * again: a sequential reader then makes one GET per object, not one per
 * value), FETCH_NONE if no fetch may start now (read the range). */
#define LSM_MAX_WHOLE_FETCHES 2
enum fetch { FETCH_NONE, FETCH_MINE, FETCH_DONE };

static enum fetch claim_fetch(struct lsm_db *db, uint64_t obj)
{
	enum fetch f = FETCH_NONE;
	pthread_mutex_lock(&db->lock);
	if (db->vlog_fetching[0] == obj || db->vlog_fetching[1] == obj) {
		while (db->vlog_fetching[0] == obj || db->vlog_fetching[1] == obj)
			pthread_cond_wait(&db->vlog_fetch_cond, &db->lock);
		f = FETCH_DONE;
	} else if (atomic_fetch_add(&db->whole_fetches, 1) < LSM_MAX_WHOLE_FETCHES) {
		/* at most LSM_MAX_WHOLE_FETCHES in all, so a slot is free */
		db->vlog_fetching[db->vlog_fetching[0] ? 1 : 0] = obj;
		f = FETCH_MINE;
	} else {
		atomic_fetch_sub(&db->whole_fetches, 1);
	}
	pthread_mutex_unlock(&db->lock);
	return f;
}

static void release_fetch(struct lsm_db *db, uint64_t obj)
{
	pthread_mutex_lock(&db->lock);
	db->vlog_fetching[db->vlog_fetching[0] == obj ? 0 : 1] = 0;
	atomic_fetch_sub(&db->whole_fetches, 1);
	pthread_cond_broadcast(&db->vlog_fetch_cond);
	pthread_mutex_unlock(&db->lock);
}

/* The value's bytes into out, from the disk cache or the store: the disk
 * cache first; on a miss the whole object once (for later reads), else the
 * value's range. Checked against the pointer's checksum. */
static lsm_status fetch_value(struct lsm_db *db, const struct lsm_vptr *p, const char *key,
			      struct lsm_buf *out)
{
	struct zs3_buf b = { 0 };
	lsm_status st;
	zs3_status zst;

	out->len = 0;
	if (db->object_cache) {
		st = lsm_object_cache_read(db->object_cache, key, p->off, p->len, out);
		if (st == LSM_OK && out->len == p->len && lsm_checksum(out->data, out->len) == p->sum) {
			atomic_fetch_add(&db->stats.disk_hits, 1);
			return LSM_OK;
		}
		bool cache_bad = st != LSM_ENOTFOUND;
		/* a miss, or a damaged cache file: the store has the truth */
		atomic_fetch_add(&db->stats.disk_misses, 1);
		out->len = 0;
		enum fetch f = db->o.cache_dir_bytes / 4 >= 2 * db->o.wal_upload_bytes
				       ? claim_fetch(db, p->obj) : FETCH_NONE;
		if (f == FETCH_DONE && !cache_bad &&
		    lsm_object_cache_read(db->object_cache, key, p->off, p->len, out) == LSM_OK &&
		    out->len == p->len)
			goto check;
		out->len = 0;
		if (f == FETCH_MINE) {
			/* the previous fetcher may have finished in between */
			st = cache_bad ? LSM_ENOTFOUND
				       : lsm_object_cache_read(db->object_cache, key, p->off, p->len, out);
			if (st != LSM_OK) {
				out->len = 0;
				atomic_fetch_add(&db->stats.vlog_reads, 1);
				zst = zs3_get(db->store, key, zs3_range_all(), &b, NULL);
				if (zst == ZS3_OK && p->off + p->len <= b.len) {
					(void)lsm_object_cache_insert(db->object_cache, key, b.data, b.len);
					st = give(out, b.data + p->off, p->len);
				} else {
					st = zst ? lsm_from_zs3(zst) : LSM_OK;
					if (zst == ZS3_ENOTFOUND)
						st = LSM_ENOTFOUND;
				}
				zs3_buf_free(&b);
			}
			release_fetch(db, p->obj);
			if (st == LSM_ENOTFOUND)
				return lsm_fail(LSM_ECORRUPT, "a value of %" PRIu32 " bytes at %" PRIu64
						" in %s is missing: the object is gone", p->len, p->off,
						key);
			if (st)
				return st;
			if (out->len == p->len)
				goto check;
			out->len = 0; /* shorter than the pointer says: read the range */
		}
	}
	atomic_fetch_add(&db->stats.vlog_reads, 1);
	zst = zs3_get(db->store, key, zs3_range_from(p->off, p->len), &b, NULL);
	if (zst == ZS3_ENOTFOUND || zst == ZS3_ERANGE)
		st = lsm_fail(LSM_ECORRUPT, "a value of %" PRIu32 " bytes at %" PRIu64 " in %s is "
			      "missing: %s", p->len, p->off, key,
			      zst == ZS3_ENOTFOUND ? "the object is gone" : "the object is shorter");
	else if (zst)
		st = lsm_from_zs3(zst);
	else
		st = give(out, b.data, b.len);
	zs3_buf_free(&b);
	if (st)
		return st;
check:
	if (out->len != p->len || lsm_checksum(out->data, out->len) != p->sum)
		return lsm_fail(LSM_ECORRUPT, "the value of %" PRIu32 " bytes at %" PRIu64 " in %s "
				"does not match its checksum", p->len, p->off, key);
	atomic_fetch_add(&db->stats.vlog_read_bytes, out->len);
	return LSM_OK;
}

lsm_status lsm_vlog_read(struct lsm_db *db, const uint8_t *ref, size_t n, struct lsm_buf *out)
{
	struct lsm_vptr p;
	struct lsm_cache_handle *h;
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
	if ((st = fetch_value(db, &p, key, out)))
		return st;
	struct cached_value *v = malloc(sizeof(*v) + out->len);
	if (v) {
		v->len = out->len;
		memcpy(v->data, out->data, out->len);
		if (lsm_block_cache_insert(db->block_cache, VLOG_CACHE_ID | p.obj, p.off, v,
					   sizeof(*v) + out->len, free, &h) == LSM_OK)
			lsm_block_cache_release(db->block_cache, h);
		else
			free(v);
	}
	return LSM_OK;
}
