/*
 * lsm/db_sst.c - SST objects as the database reads them: through the on-disk
 * object cache when there is one, else by range GETs; and the versions whose
 * reference counts decide when an SST reader can be closed.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_int.h"

struct lsm_sst_source {
	struct lsm_db *db;
	uint64_t id, size;
	char key[64];
	atomic_bool fetching; /* a reader is fetching the whole object for the disk cache */
};

/* Whole-object fetches (for the disk cache) in flight per database: each
 * holds the object in memory until it is written to the cache, so they are
 * bounded; a reader that finds the object being fetched, or the bound
 * reached, reads its range instead. */
#define LSM_MAX_WHOLE_FETCHES 2

/* Claims the whole-object fetch of src: false if another reader has it or
 * LSM_MAX_WHOLE_FETCHES are in flight. */
static bool claim_fetch(struct lsm_sst_source *src)
{
	struct lsm_db *db = src->db;

	if (atomic_exchange(&src->fetching, true))
		return false;
	if (atomic_fetch_add(&db->whole_fetches, 1) < LSM_MAX_WHOLE_FETCHES)
		return true;
	atomic_fetch_sub(&db->whole_fetches, 1);
	atomic_store(&src->fetching, false);
	return false;
}

static void release_fetch(struct lsm_sst_source *src)
{
	atomic_fetch_sub(&src->db->whole_fetches, 1);
	atomic_store(&src->fetching, false);
}

static lsm_status append_range(struct lsm_buf *out, const uint8_t *p, size_t n)
{
	return lsm_buf_append(out, p, n);
}

/* Appends [off, off + len) from the disk cache: LSM_ENOTFOUND on a miss. */
static lsm_status read_cached(struct lsm_sst_source *src, uint64_t off, uint64_t len,
			      struct lsm_buf *out)
{
	struct lsm_buf tmp = { 0 };
	lsm_status st = lsm_object_cache_read(src->db->object_cache, src->key, off, len, &tmp);

	if (st == LSM_OK)
		st = append_range(out, tmp.data, tmp.len);
	lsm_buf_free(&tmp);
	return st;
}

/* Fetches the whole object into the disk cache and appends the range. */
static lsm_status fetch_whole(struct lsm_sst_source *src, uint64_t off, uint64_t len,
			      struct lsm_buf *out)
{
	struct lsm_db *db = src->db;
	struct zs3_buf b = { 0 };
	lsm_status st;
	zs3_status zst = zs3_get(db->store, src->key, zs3_range_all(), &b, NULL);

	if (zst) {
		st = lsm_from_zs3(zst);
	} else if (b.len != src->size || off + len > b.len) {
		st = lsm_fail(LSM_ECORRUPT, "SST %s has %zu bytes, the manifest says %" PRIu64,
			      src->key, b.len, src->size);
	} else {
		(void)lsm_object_cache_insert(db->object_cache, src->key, b.data, b.len);
		st = append_range(out, b.data + off, len);
	}
	zs3_buf_free(&b);
	return st;
}

/* lsm_read_fn: appends [off, off + len) of the SST to out. */
static lsm_status read_sst(void *ctx, uint64_t off, uint64_t len, struct lsm_buf *out)
{
	struct lsm_sst_source *src = ctx;
	struct lsm_db *db = src->db;
	struct zs3_buf b = { 0 };
	lsm_status st;
	zs3_status zst;

	if (db->object_cache) {
		if ((st = read_cached(src, off, len, out)) != LSM_ENOTFOUND) {
			if (st == LSM_OK)
				atomic_fetch_add(&db->stats.disk_hits, 1);
			return st;
		}
		atomic_fetch_add(&db->stats.disk_misses, 1);
		if (src->size <= db->o.cache_dir_bytes / 4 && claim_fetch(src)) {
			/* fetch the whole object once; later reads come from disk
			 * (readers meanwhile read their ranges: one download of
			 * the object, not one per concurrent reader). The
			 * previous fetcher may have finished in between. */
			st = read_cached(src, off, len, out);
			if (st == LSM_ENOTFOUND)
				st = fetch_whole(src, off, len, out);
			release_fetch(src);
			return st;
		}
	}
	zst = zs3_get(db->store, src->key, zs3_range_from(off, len), &b, NULL);
	if (zst)
		st = lsm_from_zs3(zst);
	else if (b.len != len)
		st = lsm_fail(LSM_ECORRUPT, "SST %s: asked %" PRIu64 " bytes at %" PRIu64 ", got %zu",
			      src->key, len, off, b.len);
	else
		st = append_range(out, b.data, b.len);
	zs3_buf_free(&b);
	return st;
}

lsm_status lsm_db_put_sst(struct lsm_db *db, uint64_t id, const struct lsm_buf *bytes)
{
	char key[64];
	lsm_sst_key(id, key);
	/* create-only: SST ids carry the writer epoch, so a clash means a bug or
	 * a foreign object, never something to overwrite */
	zs3_status zst = zs3_put_if_absent(db->store, key, bytes->data, bytes->len, NULL);
	if (zst == ZS3_EPRECONDITION)
		return lsm_fail(LSM_EFENCED, "SST %s already exists: another writer uses this epoch",
				key);
	if (zst)
		return lsm_from_zs3(zst);
	if (db->object_cache)
		(void)lsm_object_cache_insert(db->object_cache, key, bytes->data, bytes->len);
	return LSM_OK;
}

/* Index of id in db->ssts, or where it would go. Caller holds lock. */
static size_t find_slot(struct lsm_db *db, uint64_t id)
{
	size_t lo = 0, hi = db->n_ssts;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (db->ssts[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The read source of an entry, made on first use. Caller holds lock. */
static lsm_status ensure_source(struct lsm_db *db, struct lsm_open_sst *e,
				const struct lsm_sst_info *info)
{
	if (e->src)
		return LSM_OK;
	if (!(e->src = calloc(1, sizeof(*e->src))))
		return lsm_fail(LSM_ENOMEM, "out of memory");
	e->src->db = db;
	e->src->id = info->id;
	e->src->size = info->size;
	lsm_sst_key(info->id, e->src->key);
	return LSM_OK;
}

lsm_status lsm_db_sst(struct lsm_db *db, const struct lsm_sst_info *info, struct lsm_sst **out)
{
	struct lsm_open_sst *e;
	struct lsm_sst *sst;
	lsm_status st;
	size_t i;

	pthread_mutex_lock(&db->lock);
	i = find_slot(db, info->id);
	if (i == db->n_ssts || db->ssts[i].id != info->id) {
		pthread_mutex_unlock(&db->lock);
		return lsm_fail(LSM_EINVAL, "SST %" PRIu64 " is in no live version", info->id);
	}
	e = &db->ssts[i];
	if (e->sst) {
		*out = e->sst;
		pthread_mutex_unlock(&db->lock);
		return LSM_OK;
	}
	if ((st = ensure_source(db, e, info))) {
		pthread_mutex_unlock(&db->lock);
		return st;
	}
	struct lsm_sst_source *src = e->src; /* lives as long as the entry */
	pthread_mutex_unlock(&db->lock);

	/* Open outside the lock (it reads the store); a racing opener may win. */
	st = lsm_sst_open(read_sst, src, info->size, db->block_cache, info->id, &sst);
	if (st)
		return st;
	pthread_mutex_lock(&db->lock);
	i = find_slot(db, info->id);
	/* our version holds a reference, so the entry is still there */
	e = &db->ssts[i];
	if (e->sst) {
		lsm_sst_close(sst);
	} else {
		e->sst = sst;
	}
	*out = e->sst;
	pthread_mutex_unlock(&db->lock);
	return LSM_OK;
}

lsm_status lsm_db_sst_uncached(struct lsm_db *db, const struct lsm_sst_info *info,
			       struct lsm_sst **out)
{
	struct lsm_sst_source *src;
	pthread_mutex_lock(&db->lock);
	size_t i = find_slot(db, info->id);
	if (i == db->n_ssts || db->ssts[i].id != info->id) {
		pthread_mutex_unlock(&db->lock);
		return lsm_fail(LSM_EINVAL, "SST %" PRIu64 " is in no live version", info->id);
	}
	lsm_status st = ensure_source(db, &db->ssts[i], info);
	src = db->ssts[i].src; /* lives while the caller's version holds the entry */
	pthread_mutex_unlock(&db->lock);
	return st ? st : lsm_sst_open(read_sst, src, info->size, NULL, info->id, out);
}

/* vrefs +1 for each SST of m, creating entries. Reserves room first, so it
 * either fails before changing anything or succeeds. Caller holds lock. */
static lsm_status ref_ssts(struct lsm_db *db, const struct lsm_manifest *m)
{
	size_t total = m->l0_count;
	for (size_t r = 0; r < m->run_count; r++)
		total += m->runs[r].count;
	if (db->n_ssts + total > db->cap_ssts) {
		size_t cap = db->cap_ssts ? db->cap_ssts : 64;
		while (cap < db->n_ssts + total)
			cap *= 2;
		struct lsm_open_sst *a = realloc(db->ssts, cap * sizeof(*a));
		if (!a)
			return lsm_fail(LSM_ENOMEM, "out of memory");
		db->ssts = a;
		db->cap_ssts = cap;
	}
	for (size_t r = 0; r <= m->run_count; r++) {
		const struct lsm_sst_info *list = r == 0 ? m->l0 : m->runs[r - 1].ssts;
		size_t n = r == 0 ? m->l0_count : m->runs[r - 1].count;
		for (size_t j = 0; j < n; j++) {
			size_t i = find_slot(db, list[j].id);
			if (i < db->n_ssts && db->ssts[i].id == list[j].id) {
				db->ssts[i].vrefs++;
				continue;
			}
			memmove(&db->ssts[i + 1], &db->ssts[i], (db->n_ssts - i) * sizeof(db->ssts[0]));
			db->ssts[i] = (struct lsm_open_sst){ list[j].id, list[j].size, 1, NULL, NULL };
			db->n_ssts++;
		}
	}
	return LSM_OK;
}

/* vrefs -1 for each SST of m; closes those no version needs. Caller holds lock. */
static void unref_ssts(struct lsm_db *db, const struct lsm_manifest *m)
{
	for (size_t r = 0; r <= m->run_count; r++) {
		const struct lsm_sst_info *list = r == 0 ? m->l0 : m->runs[r - 1].ssts;
		size_t n = r == 0 ? m->l0_count : m->runs[r - 1].count;
		for (size_t j = 0; j < n; j++) {
			size_t i = find_slot(db, list[j].id);
			if (i == db->n_ssts || db->ssts[i].id != list[j].id || --db->ssts[i].vrefs > 0)
				continue;
			if (db->ssts[i].sst)
				lsm_sst_close(db->ssts[i].sst);
			if (db->block_cache)
				lsm_block_cache_erase_id(db->block_cache, list[j].id);
			free(db->ssts[i].src);
			memmove(&db->ssts[i], &db->ssts[i + 1],
				(db->n_ssts - i - 1) * sizeof(db->ssts[0]));
			db->n_ssts--;
		}
	}
}

struct lsm_version *lsm_version_ref(struct lsm_db *db)
{
	pthread_mutex_lock(&db->lock);
	struct lsm_version *v = db->version;
	atomic_fetch_add(&v->refs, 1);
	pthread_mutex_unlock(&db->lock);
	return v;
}

void lsm_version_unref(struct lsm_version *v)
{
	if (!v || atomic_fetch_sub(&v->refs, 1) != 1)
		return;
	pthread_mutex_lock(&v->db->lock);
	unref_ssts(v->db, &v->m);
	pthread_mutex_unlock(&v->db->lock);
	lsm_manifest_free(&v->m);
	free(v);
}

lsm_status lsm_version_install(struct lsm_db *db, struct lsm_manifest *m)
{
	struct lsm_version *v = calloc(1, sizeof(*v)), *old;
	lsm_status st;
	if (!v)
		return lsm_fail(LSM_ENOMEM, "out of memory");
	atomic_init(&v->refs, 1);
	v->db = db;
	v->m = *m;
	lsm_manifest_init(m);
	pthread_mutex_lock(&db->lock);
	if ((st = ref_ssts(db, &v->m))) {
		pthread_mutex_unlock(&db->lock);
		*m = v->m; /* give it back untouched */
		free(v);
		return st;
	}
	old = db->version;
	db->version = v;
	/* A new version can end a writer's backpressure (L0 shrank): every
	 * install wakes waiters, whichever path installed it (flush, compaction,
	 * or a manifest adopted from an earlier attempt that landed). */
	pthread_cond_broadcast(&db->cond);
	pthread_mutex_unlock(&db->lock);
	lsm_version_unref(old);
	return LSM_OK;
}

void lsm_db_close_ssts(struct lsm_db *db)
{
	for (size_t i = 0; i < db->n_ssts; i++) {
		if (db->ssts[i].sst)
			lsm_sst_close(db->ssts[i].sst);
		free(db->ssts[i].src);
	}
	free(db->ssts);
	db->ssts = NULL;
	db->n_ssts = db->cap_ssts = 0;
}
