/*
 * lsm/inspect.c - introspection for tools: what a handle sees of the tree
 * (lsm_describe), the objects of a tree by kind (lsm_census), and when a
 * writer last wrote it (lsm_activity). See lsm.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_int.h"
#include "vlog.h"

static void level_add(struct lsm_level_desc *l, const struct lsm_sst_info *s)
{
	l->ssts++;
	l->bytes += s->size;
	l->entries += s->entries;
}

lsm_status lsm_describe(struct lsm_db *db, struct lsm_description *d)
{
	memset(d, 0, sizeof(*d));
	pthread_mutex_lock(&db->lock);
	const struct lsm_manifest *m = &db->version->m;
	d->read_only = db->read_only;
	d->manifest_id = m->id;
	d->writer_epoch = db->writer_epoch;
	d->last_seq = m->last_seq;
	d->visible_seq = atomic_load(&db->visible_seq);
	d->wal_flushed = m->wal_flushed;
	d->wal_next = db->read_only ? db->wal_replay_next : db->wal_pending_id;
	d->wal_replayed_objects = db->wal_replayed_objects;
	d->wal_replayed_bytes = db->wal_replayed_bytes;
	d->memtable_bytes = lsm_memtable_memory(db->active);
	for (size_t i = 0; i < db->n_frozen; i++)
		d->memtable_bytes += lsm_memtable_memory(db->frozen[i].mt);
	d->level_count = 1 + m->run_count;
	d->levels = calloc(d->level_count, sizeof(*d->levels));
	d->checkpoint_count = m->checkpoint_count;
	d->checkpoints = calloc(m->checkpoint_count ? m->checkpoint_count : 1, sizeof(*d->checkpoints));
	if (!d->levels || !d->checkpoints) {
		pthread_mutex_unlock(&db->lock);
		lsm_description_free(d);
		return lsm_fail(LSM_ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < m->l0_count; i++)
		level_add(&d->levels[0], &m->l0[i]);
	for (size_t r = 0; r < m->run_count; r++) {
		d->levels[r + 1].run_id = m->runs[r].id;
		for (size_t i = 0; i < m->runs[r].count; i++)
			level_add(&d->levels[r + 1], &m->runs[r].ssts[i]);
	}
	for (size_t i = 0; i < m->checkpoint_count; i++) {
		snprintf(d->checkpoints[i].name, sizeof(d->checkpoints[i].name), "%s",
			 m->checkpoints[i].name);
		d->checkpoints[i].manifest_id = m->checkpoints[i].manifest_id;
		d->checkpoints[i].created_ms = m->checkpoints[i].created_ms;
	}
	pthread_mutex_unlock(&db->lock);
	return LSM_OK;
}

void lsm_description_free(struct lsm_description *d)
{
	free(d->levels);
	free(d->checkpoints);
	memset(d, 0, sizeof(*d));
}

/* Is key <prefix><20 digits><suffix>? Sets *id. */
static bool numbered(const char *key, const char *prefix, const char *suffix, uint64_t *id)
{
	size_t pl = strlen(prefix);
	if (strncmp(key, prefix, pl) != 0)
		return false;
	const char *num = key + pl;
	char *end;
	for (int i = 0; i < 20; i++)
		if (num[i] < '0' || num[i] > '9')
			return false;
	*id = strtoull(num, &end, 10);
	return end == num + 20 && strcmp(end, suffix) == 0;
}

struct census_walk {
	struct lsm_object_census *c;
	lsm_progress_fn fn;
	void *fn_ctx;
	uint64_t examined;
};

static zs3_status census_entry(void *ctx, const struct zs3_entry *e)
{
	struct census_walk *w = ctx;
	struct lsm_object_census *c = w->c;
	uint64_t id;

	if (numbered(e->key, "manifest/", "", &id)) {
		c->manifests++;
		c->manifest_bytes += e->size;
	} else if (numbered(e->key, "wal/", ".wal", &id)) {
		c->wals++;
		c->wal_bytes += e->size;
	} else if (numbered(e->key, "sst/", ".sst", &id)) {
		c->ssts++;
		c->sst_bytes += e->size;
	} else {
		c->others++;
		c->other_bytes += e->size;
	}
	if (e->mtime_ms > c->newest_mtime_ms)
		c->newest_mtime_ms = e->mtime_ms;
	if (w->fn)
		w->fn(w->fn_ctx, ++w->examined, 0);
	return ZS3_OK;
}

lsm_status lsm_census(struct zs3_store *store, lsm_progress_fn fn, void *fn_ctx,
		      struct lsm_object_census *c)
{
	struct census_walk w = { c, fn, fn_ctx, 0 };
	zs3_status zst;

	memset(c, 0, sizeof(*c));
	zst = zs3_list_each(store, "", NULL, census_entry, &w);
	return zst ? lsm_from_zs3(zst) : LSM_OK;
}

static zs3_status newest_wal(void *ctx, const struct zs3_entry *e)
{
	struct lsm_activity *a = ctx;
	uint64_t id;

	if (numbered(e->key, "wal/", ".wal", &id) && id >= a->newest_wal_id) {
		a->newest_wal_id = id;
		a->newest_wal_mtime_ms = e->mtime_ms;
	}
	return ZS3_OK;
}

lsm_status lsm_activity(struct zs3_store *store, struct lsm_activity *a)
{
	struct lsm_manifest m;
	struct zs3_meta meta;
	char key[64], after[64] = "";
	lsm_status st;
	zs3_status zst;

	memset(a, 0, sizeof(*a));
	if ((st = lsm_manifest_latest_id(store, &a->manifest_id)))
		return st;
	if (a->manifest_id == 0)
		return lsm_fail(LSM_ENOTFOUND, "%s holds no database (no manifest)", zs3_describe(store));
	lsm_manifest_key(a->manifest_id, key);
	if ((zst = zs3_head(store, key, &meta)))
		return lsm_from_zs3(zst);
	a->manifest_mtime_ms = meta.mtime_ms;
	if ((st = lsm_manifest_load(store, a->manifest_id, &m)))
		return st;
	a->writer_epoch = m.writer_epoch;
	if (m.wal_flushed > 1)
		lsm_wal_key(m.wal_flushed - 1, after);
	lsm_manifest_free(&m);
	zst = zs3_list_each(store, "wal/", after[0] ? after : NULL, newest_wal, a);
	return zst ? lsm_from_zs3(zst) : LSM_OK;
}

struct vlog_walk {
	struct lsm_vref_set refs;
	struct lsm_vlog_object *objs;
	size_t n, cap;
	lsm_status st;
};

static zs3_status vlog_entry(void *ctx, const struct zs3_entry *e)
{
	struct vlog_walk *w = ctx;
	const struct lsm_vref *ref;
	uint64_t id;
	if (!numbered(e->key, "wal/", ".wal", &id) || !(ref = lsm_vref_set_find(&w->refs, id)))
		return ZS3_OK;
	if (w->n == w->cap) {
		size_t cap = w->cap ? 2 * w->cap : 64;
		struct lsm_vlog_object *o = realloc(w->objs, cap * sizeof(*o));
		if (!o) {
			w->st = lsm_fail(LSM_ENOMEM, "out of memory");
			return ZS3_ENOMEM;
		}
		w->objs = o;
		w->cap = cap;
	}
	w->objs[w->n++] = (struct lsm_vlog_object){ id, e->size, ref->bytes };
	return ZS3_OK;
}

lsm_status lsm_vlog_objects(struct lsm_db *db, struct lsm_vlog_object **out, size_t *n)
{
	struct vlog_walk w = { 0 };
	struct lsm_version *v = lsm_version_ref(db);
	const struct lsm_manifest *m = &v->m;
	lsm_status st;
	*out = NULL;
	*n = 0;
	st = lsm_vref_set_add_manifest(&w.refs, m);
	lsm_version_unref(v);
	if (!st) {
		zs3_status zst = zs3_list_each(db->store, "wal/", NULL, vlog_entry, &w);
		st = w.st ? w.st : zst ? lsm_from_zs3(zst) : LSM_OK;
	}
	lsm_vref_set_free(&w.refs);
	if (st) {
		free(w.objs);
		return st;
	}
	*out = w.objs;
	*n = w.n;
	return LSM_OK;
}

lsm_status lsm_vlog_census(struct lsm_db *db, struct lsm_vlog_census *out)
{
	struct lsm_vlog_object *o;
	size_t n;
	lsm_status st = lsm_vlog_objects(db, &o, &n);
	memset(out, 0, sizeof(*out));
	if (st)
		return st;
	for (size_t i = 0; i < n; i++) {
		out->objects++;
		out->object_bytes += o[i].bytes;
		out->live_bytes += o[i].live_bytes;
	}
	free(o);
	return LSM_OK;
}
