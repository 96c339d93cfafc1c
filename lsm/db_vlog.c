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

/* Whole-object fetches of WAL objects for the disk cache. A cold reader
 * of an object fetches all of it once, in pieces of VLOG_PIECE bytes
 * written straight to the cache (so at most VLOG_FETCHES pieces are held in
 * memory, whatever the objects' size); the readers of an object being
 * fetched wait for it (a sequential reader makes one GET per piece, not one
 * per value); when VLOG_FETCHES are running, a reader GETs its value's
 * range instead. */
#define VLOG_FETCHES LSM_VLOG_FETCHES
#define VLOG_PIECE (2u << 20)

enum fetch { FETCH_NONE, FETCH_MINE, FETCH_DONE };

/* FETCH_MINE: this reader fetches obj; FETCH_DONE: another one was
 * fetching it and has finished (look in the disk cache again); FETCH_NONE:
 * no fetch may start now. */
static enum fetch claim_fetch(struct lsm_db *db, uint64_t obj)
{
	enum fetch f = FETCH_NONE;
	int free_slot = -1;
	pthread_mutex_lock(&db->lock);
	for (;;) {
		bool busy = false;
		free_slot = -1;
		for (int i = 0; i < VLOG_FETCHES; i++) {
			busy |= db->vlog_fetching[i] == obj;
			if (!db->vlog_fetching[i] && free_slot < 0)
				free_slot = i;
		}
		if (!busy)
			break;
		pthread_cond_wait(&db->vlog_fetch_cond, &db->lock);
		f = FETCH_DONE;
	}
	if (f != FETCH_DONE && free_slot >= 0) {
		db->vlog_fetching[free_slot] = obj;
		f = FETCH_MINE;
	}
	pthread_mutex_unlock(&db->lock);
	return f;
}

static void release_fetch(struct lsm_db *db, uint64_t obj)
{
	pthread_mutex_lock(&db->lock);
	for (int i = 0; i < VLOG_FETCHES; i++)
		if (db->vlog_fetching[i] == obj)
			db->vlog_fetching[i] = 0;
	pthread_cond_broadcast(&db->vlog_fetch_cond);
	pthread_mutex_unlock(&db->lock);
}

/* Copies WAL object `key` into the disk cache, piece by piece. LSM_ENOTFOUND
 * if the store does not have it. */
static lsm_status fetch_object(struct lsm_db *db, const char *key)
{
	struct lsm_object_cache_writer *w;
	struct zs3_buf b = { 0 };
	lsm_status st;
	if ((st = lsm_object_cache_begin(db->object_cache, key, &w)))
		return st;
	for (uint64_t off = 0;; off += b.len) {
		atomic_fetch_add(&db->stats.vlog_reads, 1);
		zs3_status zst = zs3_get(db->store, key, zs3_range_from(off, VLOG_PIECE), &b, NULL);
		if (zst == ZS3_ERANGE && off > 0)
			break; /* the object is a whole number of pieces */
		if (zst) {
			st = zst == ZS3_ENOTFOUND ? LSM_ENOTFOUND : lsm_from_zs3(zst);
			break;
		}
		atomic_fetch_add(&db->stats.vlog_read_bytes, b.len);
		if ((st = lsm_object_cache_append(w, b.data, b.len)) || b.len < VLOG_PIECE)
			break;
	}
	zs3_buf_free(&b);
	if (st) {
		lsm_object_cache_abort(w);
		return st;
	}
	return lsm_object_cache_commit_sync(w, false); /* values are checked on every read */
}

/* The value's bytes into out, from the disk cache or the store: the disk
 * cache first; on a miss the whole object (once, for later reads), else the
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
		/* a miss, or a damaged cache file: the store has the truth, and
		 * a damaged file goes (the next miss fetches the object again) */
		bool cache_bad = st != LSM_ENOTFOUND;
		if (cache_bad)
			lsm_object_cache_drop(db->object_cache, key);
		atomic_fetch_add(&db->stats.disk_misses, 1);
		out->len = 0;
		enum fetch f = cache_bad ? FETCH_NONE : claim_fetch(db, p->obj);
		if (f == FETCH_MINE) {
			/* a fetcher that finished just before the claim left it there */
			st = lsm_object_cache_has(db->object_cache, key) ? LSM_OK
									 : fetch_object(db, key);
			release_fetch(db, p->obj);
			if (st == LSM_ENOTFOUND)
				return lsm_fail(LSM_ECORRUPT, "a value of %" PRIu32 " bytes at %" PRIu64
						" in %s is missing: the object is gone", p->len, p->off,
						key);
			if (st)
				return st;
		}
		if (f != FETCH_NONE &&
		    lsm_object_cache_read(db->object_cache, key, p->off, p->len, out) == LSM_OK &&
		    out->len == p->len)
			goto check;
		out->len = 0; /* not cached after all (too big, or evicted): read the range */
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
	if (st == LSM_OK)
		atomic_fetch_add(&db->stats.vlog_read_bytes, b.len);
	zs3_buf_free(&b);
	if (st)
		return st;
check:
	if (out->len != p->len || lsm_checksum(out->data, out->len) != p->sum)
		return lsm_fail(LSM_ECORRUPT, "the value of %" PRIu32 " bytes at %" PRIu64 " in %s "
				"does not match its checksum", p->len, p->off, key);
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
