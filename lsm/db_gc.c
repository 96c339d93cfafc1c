/*
 * lsm/db_gc.c - garbage collection: deletes the store's objects no version
 * of the tree can need (SSTs and WAL objects no live manifest, checkpoint or
 * open reader refers to, old manifests), never younger than gc_min_age_ms.
 * See lsm.h (lsm_gc) and db_int.h for the locking rules.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_int.h"
#include "vlog.h"

struct id_set {
	uint64_t *ids;
	size_t n, cap;
};

static lsm_status set_add(struct id_set *s, uint64_t id)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 256;
		uint64_t *a = realloc(s->ids, cap * sizeof(*a));
		if (!a)
			return lsm_fail(LSM_ENOMEM, "out of memory");
		s->ids = a;
		s->cap = cap;
	}
	s->ids[s->n++] = id;
	return LSM_OK;
}

/* The SSTs' ids into s, and the WAL objects their values lie in into vobjs. */
static lsm_status set_add_manifest(struct id_set *s, struct lsm_vref_set *vobjs,
				   const struct lsm_manifest *m)
{
	lsm_status st = lsm_vref_set_add_manifest(vobjs, m);
	for (size_t i = 0; i < m->l0_count && !st; i++)
		st = set_add(s, m->l0[i].id);
	for (size_t r = 0; r < m->run_count; r++)
		for (size_t i = 0; i < m->runs[r].count && !st; i++)
			st = set_add(s, m->runs[r].ssts[i].id);
	return st;
}

static bool set_has(const struct id_set *s, uint64_t id)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->ids[i] == id)
			return true;
	return false;
}

/* Deletes objects under prefix whose number `keep` rejects and that are old
 * enough. Names are <prefix><20 digits><suffix>; others are left alone. */
struct gc_progress {
	lsm_progress_fn fn;
	void *ctx;
	uint64_t examined;
};

struct sweep_walk {
	struct lsm_db *db;
	size_t prefix_len;
	bool (*keep)(struct lsm_db *, void *, uint64_t);
	void *ctx;
	struct gc_progress *pr;
	uint64_t *deleted, now;
};

static zs3_status sweep_entry(void *ctx, const struct zs3_entry *e)
{
	struct sweep_walk *w = ctx;
	const char *num = e->key + w->prefix_len;
	char *end;
	uint64_t id;
	zs3_status zst;

	w->pr->examined++;
	if (w->pr->fn)
		w->pr->fn(w->pr->ctx, w->pr->examined, *w->deleted);
	id = strtoull(num, &end, 10);
	if (end - num != 20 || w->keep(w->db, w->ctx, id))
		return ZS3_OK;
	if (e->mtime_ms <= 0 || w->now - (uint64_t)e->mtime_ms < w->db->o.gc_min_age_ms)
		return ZS3_OK;
	if ((zst = zs3_delete(w->db->store, e->key)))
		return zst;
	(*w->deleted)++;
	return ZS3_OK;
}

static lsm_status sweep(struct lsm_db *db, const char *prefix, bool (*keep)(struct lsm_db *, void *, uint64_t),
			void *ctx, struct gc_progress *pr, uint64_t *deleted)
{
	struct sweep_walk w = { db, strlen(prefix), keep, ctx, pr, deleted, lsm_wall_ms() };
	zs3_status zst = zs3_list_each(db->store, prefix, NULL, sweep_entry, &w);

	return zst ? lsm_from_zs3(zst) : LSM_OK;
}

struct gc_ctx {
	struct id_set live_ssts, pinned_manifests;
	struct lsm_vref_set live_vobjs; /* WAL objects live SSTs' values lie in */
	uint64_t wal_flushed, manifest_id;
};

static bool keep_sst(struct lsm_db *db, void *ctx, uint64_t id)
{
	(void)db;
	return set_has(&((struct gc_ctx *)ctx)->live_ssts, id);
}

static bool keep_wal(struct lsm_db *db, void *ctx, uint64_t id)
{
	(void)db;
	/* WAL wal_flushed may still hold unflushed batches (see lsm_open);
	 * older ones may hold values that SSTs point to (vlog.h) */
	return id >= ((struct gc_ctx *)ctx)->wal_flushed ||
	       lsm_vref_set_has(&((struct gc_ctx *)ctx)->live_vobjs, id);
}

static bool keep_manifest(struct lsm_db *db, void *ctx, uint64_t id)
{
	struct gc_ctx *g = ctx;
	(void)db;
	/* the current one and its predecessor, and every pinned one */
	return id + 1 >= g->manifest_id || set_has(&g->pinned_manifests, id);
}

lsm_status lsm_gc(struct lsm_db *db, uint64_t *deleted)
{
	return lsm_gc_progress(db, NULL, NULL, deleted);
}

lsm_status lsm_gc_progress(struct lsm_db *db, lsm_progress_fn fn, void *fn_ctx, uint64_t *deleted)
{
	struct gc_progress pr = { fn, fn_ctx, 0 };
	struct gc_ctx g = { 0 };
	struct lsm_version *v;
	lsm_status st;
	*deleted = 0;
	if (db->read_only)
		return lsm_fail(LSM_EREADONLY, "the database is open read-only");
	v = lsm_version_ref(db);
	g.wal_flushed = v->m.wal_flushed;
	g.manifest_id = v->m.id;
	st = set_add_manifest(&g.live_ssts, &g.live_vobjs, &v->m);
	for (size_t i = 0; i < v->m.checkpoint_count && !st; i++) {
		struct lsm_manifest cp;
		uint64_t id = v->m.checkpoints[i].manifest_id;
		if ((st = set_add(&g.pinned_manifests, id)) || (st = lsm_manifest_load(db->store, id, &cp)))
			break;
		st = set_add_manifest(&g.live_ssts, &g.live_vobjs, &cp);
		lsm_manifest_free(&cp);
	}
	lsm_version_unref(v);
	if (st == LSM_OK)
		st = sweep(db, "sst/", keep_sst, &g, &pr, deleted);
	if (st == LSM_OK)
		st = sweep(db, "wal/", keep_wal, &g, &pr, deleted);
	if (st == LSM_OK)
		st = sweep(db, "manifest/", keep_manifest, &g, &pr, deleted);
	free(g.live_ssts.ids);
	free(g.pinned_manifests.ids);
	lsm_vref_set_free(&g.live_vobjs);
	return st;
}
