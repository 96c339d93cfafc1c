/*
 * lsm/db.c - opening (fencing and WAL replay), reads, writes, iterators,
 * checkpoints, statistics and closing. See lsm.h for the contract and
 * db_int.h for the locking rules. The WAL upload is db_wal.c, flushes and
 * compaction db_flush.c, versions and SST handles db_sst.c, garbage
 * collection db_gc.c, the fatal state db_fatal.c, clocks clock.c.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db_int.h"
#include "db_iter.h"
#include "merge_iter.h"
#include "vlog.h"

#define EPOCH_SHIFT 40 /* SST id = epoch << 40 | counter */

static void fill_defaults(struct lsm_options *o)
{
#define DEF(f, v) if (!o->f) o->f = (v)
	DEF(memtable_bytes, 64u << 20);
	DEF(max_frozen, 2);
	DEF(flush_interval_ms, 100);
	DEF(wal_upload_bytes, 8u << 20);
	DEF(wal_max_inflight, 4);
	DEF(wal_pipeline_bytes, 256u << 10);
	if (o->wal_max_inflight > LSM_WAL_MAX_INFLIGHT)
		o->wal_max_inflight = LSM_WAL_MAX_INFLIGHT;
	DEF(block_size, 4096);
	DEF(bloom_bits_per_key, 10);
	DEF(sst_target_bytes, 32u << 20);
	DEF(l0_compaction_trigger, 4);
	DEF(l0_max, 16);
	DEF(max_runs, 8);
	DEF(write_stall_ms, 10000);
	DEF(block_cache_bytes, 64u << 20);
	DEF(gc_min_age_ms, 3600u * 1000);
	DEF(gc_interval_ms, 600u * 1000);
	DEF(value_sep_bytes, 1024);
#undef DEF
	if (o->compression_level == 0)
		o->compression_level = 3;
	else if (o->compression_level < 0)
		o->compression_level = 0; /* sst_builder: 0 = off */
	if (o->max_frozen > LSM_MAX_FROZEN - 2)
		o->max_frozen = LSM_MAX_FROZEN - 2;
}

/* ---- WAL replay ---- */

struct replay {
	struct lsm_db *db;
	uint64_t skip_upto; /* records wholly at or below this seq are in SSTs */
	uint64_t wal_id;    /* the object being replayed */
	const uint8_t *base; /* its bytes */
};

static lsm_status replay_record(void *ctx, uint64_t first_seq, uint32_t count,
				const uint8_t *body, size_t len)
{
	struct replay *r = ctx;
	struct lsm_db *db = r->db;
	uint64_t last = first_seq + count - 1;
	lsm_status st;
	if (last <= r->skip_upto || last <= db->last_seq)
		return LSM_OK;
	if (first_seq <= db->last_seq)
		return lsm_fail(LSM_ECORRUPT, "WAL record at seq %" PRIu64 " overlaps seq %" PRIu64
			       " already applied", first_seq, db->last_seq);
	if ((st = lsm_memtable_apply_body(db->active, body, len, count, first_seq)) ||
	    (st = lsm_wal_place_values(db, db->active, r->wal_id, (size_t)(body - r->base), body,
				       len, count, first_seq)))
		return st;
	db->last_seq = last;
	return LSM_OK;
}

/* Applies WAL object `id` to the active memtable: LSM_ENOTFOUND if absent.
 * *next = the id of the log's next object (a fence skips some). */
static lsm_status replay_wal(struct lsm_db *db, uint64_t id, uint64_t skip_upto, uint64_t *next)
{
	char key[64];
	struct zs3_buf b = { 0 };
	struct lsm_wal_header h;
	struct replay r = { db, skip_upto, id, NULL };
	lsm_status st;
	lsm_wal_key(id, key);
	zs3_status zst = zs3_get(db->store, key, zs3_range_all(), &b, NULL);
	if (zst) {
		st = zst == ZS3_ENOTFOUND ? LSM_ENOTFOUND : lsm_from_zs3(zst);
	} else {
		r.base = b.data;
		st = lsm_wal_decode(b.data, b.len, &h, replay_record, &r);
		if (st == LSM_OK) {
			db->wal_replayed_objects++;
			db->wal_replayed_bytes += b.len;
		}
		if (st == LSM_ECORRUPT)
			st = lsm_fail(LSM_ECORRUPT, "WAL object %s is damaged: %s", key, lsm_last_error());
		else if (st == LSM_OK && h.wal_id != id)
			st = lsm_fail(LSM_ECORRUPT, "WAL object %s says it is WAL %" PRIu64, key, h.wal_id);
		if (st == LSM_OK)
			*next = id + 1 + h.skip;
	}
	zs3_buf_free(&b);
	return st;
}

/* Replays the log from `from` until an object is missing; *next = that id.
 * A fence's skip is followed: the ids it skips may hold what a fenced
 * writer's pipeline landed after the fence, which it never acknowledged. */
static lsm_status replay_from(struct lsm_db *db, uint64_t from, uint64_t skip_upto,
			      uint64_t *next)
{
	lsm_status st;
	for (*next = from;;) {
		st = replay_wal(db, *next, skip_upto, next);
		if (st == LSM_ENOTFOUND)
			return LSM_OK;
		if (st)
			return st;
	}
}

/* Writes an empty WAL object at the first free id, replaying any that an
 * older writer managed to add meanwhile. Once it lands, that writer's upload
 * of that id fails: it is fenced. Its pipeline may still land objects past
 * the fence (at most LSM_WAL_MAX_SKIP ids, wal.h), never acknowledged: the
 * fence skips those ids, so replay ignores them and our own ids start after
 * them. */
static lsm_status fence_wal(struct lsm_db *db, uint64_t id, uint64_t skip_upto, uint64_t *fence)
{
	struct lsm_buf b = { 0 };
	struct lsm_wal_encoder e;
	lsm_status st;
	for (;;) {
		char key[64];
		b.len = 0;
		if ((st = lsm_wal_encoder_begin(&e, &b, db->writer_epoch, id)) ||
		    (st = lsm_wal_encoder_set_skip(&e, LSM_WAL_MAX_SKIP)) ||
		    (st = lsm_wal_encoder_finish(&e)))
			break;
		lsm_wal_key(id, key);
		zs3_status zst = zs3_put_if_absent(db->store, key, b.data, b.len, NULL);
		if (zst == ZS3_OK) {
			*fence = id;
			break;
		}
		if (zst != ZS3_EPRECONDITION) {
			st = lsm_from_zs3(zst);
			break;
		}
		/* an older writer's object landed here meanwhile: part of the log */
		uint64_t next = id + 1;
		if ((st = replay_wal(db, id, skip_upto, &next)) && st != LSM_ENOTFOUND)
			break;
		id = next;
	}
	lsm_buf_free(&b);
	return st;
}

/* Takes the tree for writing: the next manifest version with epoch + 1. */
static lsm_status take_ownership(struct lsm_db *db, struct lsm_manifest *m)
{
	lsm_status st = LSM_OK;
	for (int attempt = 0; attempt < 20; attempt++) {
		uint64_t latest;
		lsm_manifest_init(m);
		if ((st = lsm_manifest_latest_id(db->store, &latest)))
			return st;
		if (latest == 0) {
			m->id = 1;
			m->writer_epoch = 1;
		} else {
			if ((st = lsm_manifest_load(db->store, latest, m)))
				return st == LSM_ENOTFOUND ? LSM_ETRANSIENT : st;
			m->id = latest + 1;
			m->writer_epoch++;
		}
		if (m->writer_epoch >= (UINT64_C(1) << 24)) {
			lsm_manifest_free(m);
			return lsm_fail(LSM_EINVAL, "writer epoch space exhausted");
		}
		m->next_sst_id = m->writer_epoch << EPOCH_SHIFT;
		st = lsm_manifest_store(db->store, m);
		if (st != LSM_EFENCED)
			break;
		lsm_manifest_free(m); /* another writer opened at the same time: look again */
	}
	if (st == LSM_EFENCED)
		st = lsm_fail(LSM_EFENCED, "could not take the tree: other writers keep opening it");
	if (st)
		lsm_manifest_free(m);
	return st;
}

static lsm_status load_for_reading(struct lsm_db *db, struct lsm_manifest *m)
{
	uint64_t latest;
	lsm_status st = lsm_manifest_latest_id(db->store, &latest);
	if (st)
		return st;
	if (latest == 0)
		return lsm_fail(LSM_ENOTFOUND, "%s holds no database (no manifest)",
				zs3_describe(db->store));
	if ((st = lsm_manifest_load(db->store, latest, m)))
		return st;
	if (!db->o.checkpoint)
		return LSM_OK;
	for (size_t i = 0; i < m->checkpoint_count; i++) {
		if (strcmp(m->checkpoints[i].name, db->o.checkpoint) != 0)
			continue;
		uint64_t id = m->checkpoints[i].manifest_id;
		lsm_manifest_free(m);
		return lsm_manifest_load(db->store, id, m);
	}
	lsm_manifest_free(m);
	return lsm_fail(LSM_ENOTFOUND, "no checkpoint named '%s'", db->o.checkpoint);
}

static void db_free(struct lsm_db *db)
{
	lsm_memtable_unref(db->active);
	for (size_t i = 0; i < db->n_frozen; i++)
		lsm_memtable_unref(db->frozen[i].mt);
	if (db->version)
		lsm_version_unref(db->version);
	lsm_db_close_ssts(db);
	if (db->block_cache)
		lsm_block_cache_free(db->block_cache);
	lsm_object_cache_close(db->object_cache);
	lsm_buf_free(&db->wal_buf);
	for (unsigned i = 0; i < LSM_WAL_MAX_INFLIGHT; i++)
		lsm_buf_free(&db->wal_slots[i].buf);
	pthread_mutex_destroy(&db->write_lock);
	pthread_mutex_destroy(&db->manifest_lock);
	pthread_mutex_destroy(&db->compact_lock);
	pthread_mutex_destroy(&db->upload_lock);
	pthread_mutex_destroy(&db->lock);
	pthread_cond_destroy(&db->cond);
	pthread_cond_destroy(&db->durable_cond);
	pthread_cond_destroy(&db->vlog_fetch_cond);
	free(db);
}

lsm_status lsm_open(const struct lsm_options *opts, struct lsm_db **out)
{
	struct lsm_db *db;
	struct lsm_manifest m;
	pthread_condattr_t ca;
	lsm_status st;

	*out = NULL;
	if (!opts || !opts->store)
		return lsm_fail(LSM_EINVAL, "lsm_open: no object store given");
	if (opts->checkpoint && !opts->read_only)
		return lsm_fail(LSM_EINVAL, "a checkpoint can only be opened read-only");
	if (opts->cache_dir && !opts->cache_dir_bytes)
		return lsm_fail(LSM_EINVAL, "cache_dir needs a positive cache size");
	if (!(db = calloc(1, sizeof(*db))))
		return lsm_fail(LSM_ENOMEM, "out of memory");
	db->o = *opts;
	fill_defaults(&db->o);
	db->store = opts->store;
	db->read_only = opts->read_only;
	pthread_mutex_init(&db->write_lock, NULL);
	pthread_mutex_init(&db->manifest_lock, NULL);
	pthread_mutex_init(&db->compact_lock, NULL);
	pthread_mutex_init(&db->upload_lock, NULL);
	pthread_mutex_init(&db->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&db->cond, &ca);
	pthread_condattr_destroy(&ca);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&db->durable_cond, &ca);
	pthread_condattr_destroy(&ca);
	pthread_cond_init(&db->vlog_fetch_cond, NULL);

	if ((st = lsm_block_cache_new(db->o.block_cache_bytes, 8, &db->block_cache)) ||
	    (db->o.cache_dir &&
	     (st = lsm_object_cache_open(db->o.cache_dir, db->o.cache_dir_bytes, &db->object_cache))) ||
	    (st = lsm_memtable_new(&db->active)))
		goto fail;

	st = db->read_only ? load_for_reading(db, &m) : take_ownership(db, &m);
	if (st)
		goto fail;
	/* wal_flushed itself may hold batches newer than the SSTs (a WAL object
	 * can straddle a memtable freeze): replay it too, skipping by seq. */
	uint64_t wal_from = m.wal_flushed ? m.wal_flushed : 1, skip = m.last_seq, next = wal_from;
	bool replay = !db->o.checkpoint;
	db->writer_epoch = m.writer_epoch;
	db->last_seq = m.last_seq;
	atomic_init(&db->next_sst_id, m.writer_epoch << EPOCH_SHIFT);
	if ((st = lsm_version_install(db, &m))) {
		lsm_manifest_free(&m);
		goto fail;
	}
	if (replay && (st = replay_from(db, wal_from, skip, &next)))
		goto fail;
	db->wal_replay_first = wal_from;
	db->wal_replay_next = replay ? next : wal_from;
	if (!db->read_only) {
		uint64_t fence = 0;
		if ((st = fence_wal(db, next, skip, &fence)))
			goto fail;
		/* the ids the fence skips count as durable: nothing of ours is there */
		db->durable_wal_id = fence + LSM_WAL_MAX_SKIP;
		db->wal_pending_id = db->durable_wal_id + 1;
		db->active_last_wal = fence;
		db->wal_next_due_ms = lsm_now_ms() + db->o.flush_interval_ms;
	}
	atomic_store(&db->visible_seq, db->last_seq);
	db->last_durable_ms = lsm_now_ms();
	if (!db->read_only && lsm_memtable_memory(db->active) >= db->o.memtable_bytes &&
	    (st = lsm_freeze_active(db)))
		goto fail;

	if (!db->read_only && !db->o.no_background) {
		bool wal = true;
		for (unsigned i = 0; i < db->o.wal_max_inflight && wal; i++)
			if ((wal = pthread_create(&db->wal_threads[i], NULL, lsm_wal_thread, db) == 0))
				db->n_wal_threads++;
		bool bg = wal && pthread_create(&db->bg_thread, NULL, lsm_bg_thread, db) == 0;
		bool comp = bg && pthread_create(&db->compact_thread, NULL, lsm_compact_thread, db) == 0;
		if (!comp) {
			pthread_mutex_lock(&db->lock);
			db->closing = true;
			pthread_cond_broadcast(&db->cond);
			pthread_mutex_unlock(&db->lock);
			for (unsigned i = 0; i < db->n_wal_threads; i++)
				pthread_join(db->wal_threads[i], NULL);
			if (bg)
				pthread_join(db->bg_thread, NULL);
			st = lsm_fail(LSM_ENOMEM, "cannot start the background threads");
			goto fail;
		}
		db->threads_started = true;
	}
	*out = db;
	return LSM_OK;
fail:
	{
		char detail[512];
		snprintf(detail, sizeof(detail), "%s", lsm_last_error());
		db_free(db);
		return lsm_fail(st, "%s", detail);
	}
}

lsm_status lsm_close(struct lsm_db *db)
{
	lsm_status st = LSM_OK;
	if (!db)
		return LSM_OK;
	if (!db->read_only && !db->fatal)
		st = lsm_flush(db); /* best effort: what is durable stays durable anyway */
	pthread_mutex_lock(&db->lock);
	db->closing = true;
	pthread_cond_broadcast(&db->cond);
	pthread_cond_broadcast(&db->durable_cond);
	pthread_mutex_unlock(&db->lock);
	if (db->threads_started) {
		for (unsigned i = 0; i < db->n_wal_threads; i++)
			pthread_join(db->wal_threads[i], NULL);
		pthread_join(db->bg_thread, NULL);
		pthread_join(db->compact_thread, NULL);
	}
	db_free(db);
	return st;
}

/* ---- reads ---- */

/* What a read looks at: memtables newest first and the SSTs of one version. */
struct read_view {
	struct lsm_memtable *mts[LSM_MAX_FROZEN + 1];
	size_t n_mts;
	struct lsm_version *v;
	uint64_t snap;
};

static void view_take(struct lsm_db *db, struct read_view *rv)
{
	pthread_mutex_lock(&db->lock);
	rv->n_mts = 0;
	rv->mts[rv->n_mts++] = lsm_memtable_ref(db->active);
	for (size_t i = db->n_frozen; i-- > 0;)
		rv->mts[rv->n_mts++] = lsm_memtable_ref(db->frozen[i].mt);
	rv->v = db->version;
	atomic_fetch_add(&rv->v->refs, 1);
	rv->snap = atomic_load(&db->visible_seq);
	pthread_mutex_unlock(&db->lock);
}

static void view_drop(struct read_view *rv)
{
	for (size_t i = 0; i < rv->n_mts; i++)
		lsm_memtable_unref(rv->mts[i]);
	lsm_version_unref(rv->v);
}

static bool in_range(const struct lsm_sst_info *s, const uint8_t *k, size_t kl)
{
	return lsm_ukey_compare(s->smallest, s->smallest_len, k, kl) <= 0 &&
	       lsm_ukey_compare(k, kl, s->largest, s->largest_len) <= 0;
}

/* LSM_OK with *type set when a version is found; LSM_ENOTFOUND to go on. */
static lsm_status probe_sst(struct lsm_db *db, const struct lsm_sst_info *info, const uint8_t *k,
			    size_t kl, uint64_t snap, enum lsm_type *type, struct lsm_buf *out)
{
	struct lsm_sst *sst;
	lsm_status st;
	if (!in_range(info, k, kl) || info->min_seq > snap)
		return LSM_ENOTFOUND;
	if ((st = lsm_db_sst(db, info, &sst)))
		return st;
	return lsm_sst_get(sst, k, kl, snap, type, out);
}

static lsm_status get_in_view(struct lsm_db *db, struct read_view *rv, const uint8_t *k,
			      size_t kl, enum lsm_type *type, struct lsm_buf *out)
{
	const struct lsm_manifest *m = &rv->v->m;
	lsm_status st;
	for (size_t i = 0; i < rv->n_mts; i++)
		if ((st = lsm_memtable_get(rv->mts[i], k, kl, rv->snap, type, out)) != LSM_ENOTFOUND)
			return st;
	for (size_t i = 0; i < m->l0_count; i++)
		if ((st = probe_sst(db, &m->l0[i], k, kl, rv->snap, type, out)) != LSM_ENOTFOUND)
			return st;
	for (size_t r = 0; r < m->run_count; r++) {
		const struct lsm_run *run = &m->runs[r];
		size_t lo = 0, hi = run->count;
		while (lo < hi) { /* the first SST whose largest key >= k */
			size_t mid = (lo + hi) / 2;
			if (lsm_ukey_compare(run->ssts[mid].largest, run->ssts[mid].largest_len, k, kl) < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo < run->count &&
		    (st = probe_sst(db, &run->ssts[lo], k, kl, rv->snap, type, out)) != LSM_ENOTFOUND)
			return st;
	}
	return LSM_ENOTFOUND;
}

lsm_status lsm_get(struct lsm_db *db, const void *key, size_t klen, struct lsm_buf *out)
{
	struct read_view rv;
	enum lsm_type type;
	lsm_status st;
	atomic_fetch_add(&db->stats.gets, 1);
	out->len = 0;
	view_take(db, &rv);
	st = get_in_view(db, &rv, key, klen, &type, out);
	view_drop(&rv);
	if (st)
		return st;
	if (type == LSM_TYPE_DELETE) {
		out->len = 0;
		return LSM_ENOTFOUND;
	}
	if (type == LSM_TYPE_BLOB_REF) { /* stored out of line: out holds the pointer */
		uint8_t ref[LSM_VPTR_MAX_BYTES];
		size_t n = out->len;
		if (n > sizeof(ref))
			return lsm_fail(LSM_ECORRUPT, "value pointer of %zu bytes", n);
		memcpy(ref, out->data, n);
		return lsm_vlog_read(db, ref, n, out);
	}
	if (type != LSM_TYPE_PUT)
		return lsm_fail(LSM_ECORRUPT, "value of unsupported type %d", (int)type);
	return LSM_OK;
}

/* ---- writes ---- */

lsm_status lsm_write(struct lsm_db *db, const struct lsm_batch *batch, unsigned flags)
{
	return lsm_write_token(db, batch, flags, NULL);
}

/* The token of "everything committed so far" (caller holds lock). */
static uint64_t current_token(const struct lsm_db *db)
{
	return db->wal_enc_open ? db->wal_pending_id : db->wal_pending_id - 1;
}

lsm_status lsm_write_token(struct lsm_db *db, const struct lsm_batch *batch, unsigned flags,
			   uint64_t *token)
{
	uint32_t count = lsm_batch_count(batch);
	uint64_t first, my_wal = 0;
	lsm_status st;

	if (db->read_only)
		return lsm_fail(LSM_EREADONLY, "the database is open read-only");
	if (count == 0) {
		if (token) {
			pthread_mutex_lock(&db->lock);
			*token = current_token(db);
			pthread_mutex_unlock(&db->lock);
		}
		return (flags & LSM_WRITE_DURABLE) ? lsm_flush(db) : LSM_OK;
	}
	pthread_mutex_lock(&db->write_lock);
	pthread_mutex_lock(&db->lock);
	/* backpressure: do not outrun flushing, compaction or the WAL uploads
	 * (an unbounded pending WAL object would grow while one is in flight),
	 * but not forever: a caller holding its own locks (the filesystem's)
	 * must get an answer it can turn into "retry later" */
	uint64_t stall_until = lsm_now_ms() + db->o.write_stall_ms;
	while (!db->fatal && !db->closing && db->threads_started &&
	       (db->n_frozen >= db->o.max_frozen || db->version->m.l0_count >= db->o.l0_max ||
		(db->wal_pending_id > db->durable_wal_id + db->o.wal_max_inflight &&
		 db->wal_buf.len >= db->o.wal_upload_bytes) ||
		db->wal_buf.len >= 2 * db->o.wal_upload_bytes)) {
		if (lsm_now_ms() >= stall_until) {
			st = lsm_fail(LSM_ETRANSIENT,
				      "writes stalled for %u ms (frozen memtables %zu, L0 SSTs %zu, "
				      "WAL bytes pending %zu): the store is slow or unreachable",
				      db->o.write_stall_ms, (size_t)db->n_frozen,
				      (size_t)db->version->m.l0_count, db->wal_buf.len);
			atomic_fetch_add(&db->stats.write_stalls, 1);
			pthread_mutex_unlock(&db->lock);
			pthread_mutex_unlock(&db->write_lock);
			return st;
		}
		db->bg_kick = db->compact_kick = db->wal_kick = true;
		pthread_cond_broadcast(&db->cond);
		lsm_cond_wait_ms(&db->cond, &db->lock, 100);
	}
	if (db->fatal || db->closing) {
		st = db->fatal ? lsm_fail(db->fatal, "writes are refused: %s", lsm_strstatus(db->fatal))
			       : lsm_fail(LSM_ECLOSED, "the database is closing");
		pthread_mutex_unlock(&db->lock);
		pthread_mutex_unlock(&db->write_lock);
		return st;
	}
	first = db->last_seq + 1;
	pthread_mutex_unlock(&db->lock);

	/* Readers do not see the batch until visible_seq moves past it. */
	st = lsm_memtable_apply_batch(db->active, batch, first);

	pthread_mutex_lock(&db->lock);
	if (st == LSM_OK) {
		if ((st = lsm_wal_append(db, first, batch))) {
			/* in the memtable but not in the WAL: we can no longer
			 * promise durability, so stop taking writes */
			lsm_set_fatal(db, st);
		} else {
			my_wal = db->wal_pending_id;
			db->last_seq = first + count - 1;
			atomic_store(&db->visible_seq, db->last_seq);
			db->active_last_wal = my_wal;
			atomic_fetch_add(&db->stats.writes, 1);
			atomic_fetch_add(&db->stats.user_bytes, lsm_batch_byte_size(batch));
			/* The batch is applied and in the WAL: a freeze that cannot
			 * happen now (LSM_MAX_FROZEN memtables waiting, no memory)
			 * must not fail it; the next write tries again. */
			if (lsm_memtable_memory(db->active) >= db->o.memtable_bytes)
				(void)lsm_freeze_active(db);
			if (flags & LSM_WRITE_DURABLE || db->wal_buf.len >= db->o.wal_upload_bytes) {
				db->wal_kick = true;
				pthread_cond_broadcast(&db->cond);
			}
		}
	}
	pthread_mutex_unlock(&db->lock);
	pthread_mutex_unlock(&db->write_lock);
	if (st == LSM_OK && token)
		*token = my_wal;
	if (st == LSM_OK && (flags & LSM_WRITE_DURABLE))
		st = lsm_wal_wait_durable(db, my_wal);
	return st;
}

lsm_status lsm_wait_durable(struct lsm_db *db, uint64_t token)
{
	if (db->read_only)
		return lsm_fail(LSM_EREADONLY, "the database is open read-only: nothing to flush");
	return lsm_wal_wait_durable(db, token);
}

lsm_status lsm_flush(struct lsm_db *db)
{
	uint64_t target;
	if (db->read_only)
		return lsm_fail(LSM_EREADONLY, "the database is open read-only: nothing to flush");
	pthread_mutex_lock(&db->lock);
	target = current_token(db);
	pthread_mutex_unlock(&db->lock);
	return lsm_wal_wait_durable(db, target);
}

/* ---- iterators ---- */

static lsm_status resolve_value(void *ctx, const uint8_t *ref, size_t n, struct lsm_buf *out)
{
	return lsm_vlog_read(ctx, ref, n, out);
}

/* Wraps the merge of a read view's sources and holds the view until
 * destroyed. A view is immutable (its memtables only gain entries above its
 * snapshot, its SSTs never change), so compaction never needs to know about
 * it: what compaction drops lives on in the SSTs the view holds. */
struct view_iter {
	struct lsm_iter base;
	struct lsm_iter *inner;
	struct lsm_db *db;
	struct read_view rv;
};

static void vi_seek_first(struct lsm_iter *it) { lsm_iter_seek_first(((struct view_iter *)it)->inner); }
static void vi_seek(struct lsm_iter *it, const uint8_t *t, size_t n) { lsm_iter_seek(((struct view_iter *)it)->inner, t, n); }
static void vi_next(struct lsm_iter *it) { lsm_iter_next(((struct view_iter *)it)->inner); }
static bool vi_valid(const struct lsm_iter *it) { return lsm_iter_valid(((const struct view_iter *)it)->inner); }
static const uint8_t *vi_key(const struct lsm_iter *it, size_t *n) { return lsm_iter_key(((const struct view_iter *)it)->inner, n); }
static const uint8_t *vi_value(const struct lsm_iter *it, size_t *n) { return lsm_iter_value(((const struct view_iter *)it)->inner, n); }
static lsm_status vi_status(const struct lsm_iter *it) { return lsm_iter_status(((const struct view_iter *)it)->inner); }

static void vi_destroy(struct lsm_iter *it)
{
	struct view_iter *vi = (struct view_iter *)it;
	lsm_iter_destroy(vi->inner);
	view_drop(&vi->rv);
	free(vi);
}

static const struct lsm_iter_ops view_iter_ops = {
	vi_seek_first, vi_seek, vi_next, vi_valid, vi_key, vi_value, vi_status, vi_destroy,
};

lsm_status lsm_iterator(struct lsm_db *db, const struct lsm_read_options *ro,
			struct lsm_db_iter **out)
{
	struct view_iter *vi = calloc(1, sizeof(*vi));
	struct lsm_iter **kids = NULL;
	size_t n = 0;
	lsm_status st = LSM_OK;

	*out = NULL;
	if (!vi)
		return lsm_fail(LSM_ENOMEM, "out of memory");
	vi->base.ops = &view_iter_ops;
	vi->db = db;
	view_take(db, &vi->rv);
	const struct lsm_manifest *m = &vi->rv.v->m;
	size_t total = vi->rv.n_mts + m->l0_count;
	for (size_t r = 0; r < m->run_count; r++)
		total += m->runs[r].count;
	if (!(kids = calloc(total ? total : 1, sizeof(*kids)))) {
		st = lsm_fail(LSM_ENOMEM, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < vi->rv.n_mts && !st; i++)
		if ((st = lsm_memtable_iter(vi->rv.mts[i], &kids[n])) == LSM_OK)
			n++;
	for (size_t r = 0; r <= m->run_count && !st; r++) {
		const struct lsm_sst_info *list = r == 0 ? m->l0 : m->runs[r - 1].ssts;
		size_t cnt = r == 0 ? m->l0_count : m->runs[r - 1].count;
		for (size_t i = 0; i < cnt && !st; i++) {
			struct lsm_sst *sst;
			if ((st = lsm_db_sst(db, &list[i], &sst)) == LSM_OK &&
			    (st = lsm_sst_iter(sst, &kids[n])) == LSM_OK)
				n++;
		}
	}
	if (st) {
		for (size_t i = 0; i < n; i++)
			lsm_iter_destroy(kids[i]);
		free(kids);
		goto fail;
	}
	st = lsm_merge_iter_new(kids, n, &vi->inner);
	free(kids);
	if (st)
		goto fail;
	struct lsm_db_iter_opts o = {
		.snapshot_seq = vi->rv.snap,
		.lower = ro ? ro->lower : NULL, .lower_len = ro ? ro->lower_len : 0,
		.upper = ro ? ro->upper : NULL, .upper_len = ro ? ro->upper_len : 0,
		.prefix = ro ? ro->prefix : NULL, .prefix_len = ro ? ro->prefix_len : 0,
		.resolve = resolve_value, .resolve_ctx = db,
	};
	return lsm_db_iter_new(&vi->base, &o, out); /* takes vi, also on failure */
fail:
	vi_destroy(&vi->base);
	return st;
}

/* ---- maintenance ---- */

/* Freezes the active memtable and flushes every frozen one to L0. */
static lsm_status flush_memtables(struct lsm_db *db)
{
	lsm_status st;
	if ((st = lsm_flush(db)))
		return st;
	pthread_mutex_lock(&db->write_lock);
	pthread_mutex_lock(&db->lock);
	st = lsm_freeze_active(db);
	pthread_mutex_unlock(&db->lock);
	pthread_mutex_unlock(&db->write_lock);
	if (st || (st = lsm_flush(db)))
		return st;
	for (;;) {
		bool did;
		pthread_mutex_lock(&db->lock);
		size_t left = db->n_frozen;
		pthread_mutex_unlock(&db->lock);
		if (!left)
			return LSM_OK;
		if ((st = lsm_flush_one(db, &did)))
			return st;
		if (!did) { /* the background thread has it: wait for progress */
			pthread_mutex_lock(&db->lock);
			if (db->n_frozen == left && !db->fatal)
				lsm_cond_wait_ms(&db->cond, &db->lock, 100);
			pthread_mutex_unlock(&db->lock);
		}
	}
}

lsm_status lsm_maintain(struct lsm_db *db)
{
	lsm_status st;
	bool did = true;
	if (db->read_only)
		return LSM_OK;
	if ((st = lsm_wal_upload_pending(db)))
		return st;
	while (did)
		if ((st = lsm_flush_one(db, &did)))
			return st;
	return lsm_compact_if_due(db, false, &did);
}

lsm_status lsm_compact_all(struct lsm_db *db)
{
	lsm_status st;
	bool did;
	if (db->read_only)
		return lsm_fail(LSM_EREADONLY, "the database is open read-only");
	if ((st = flush_memtables(db)))
		return st;
	return lsm_compact_if_due(db, true, &did);
}

/* ---- checkpoints ---- */

lsm_status lsm_checkpoint_create(struct lsm_db *db, const char *name)
{
	struct lsm_manifest next;
	lsm_status st;
	if (db->read_only)
		return lsm_fail(LSM_EREADONLY, "the database is open read-only");
	if (!name || !*name || strlen(name) > 255)
		return lsm_fail(LSM_EINVAL, "a checkpoint needs a name of 1 to 255 bytes");
	if ((st = flush_memtables(db)))
		return st;
	pthread_mutex_lock(&db->manifest_lock);
	if ((st = lsm_manifest_copy(&next, &db->version->m)))
		goto out;
	for (size_t i = 0; i < next.checkpoint_count; i++)
		if (!strcmp(next.checkpoints[i].name, name)) {
			st = lsm_fail(LSM_EINVAL, "checkpoint '%s' already exists", name);
			goto out_free;
		}
	struct lsm_checkpoint *cps =
		realloc(next.checkpoints, (next.checkpoint_count + 1) * sizeof(*cps));
	if (!cps) {
		st = lsm_fail(LSM_ENOMEM, "out of memory");
		goto out_free;
	}
	next.checkpoints = cps;
	/* it pins the version being written now, which holds the same SSTs */
	cps[next.checkpoint_count] = (struct lsm_checkpoint){
		strdup(name), db->version->m.id + 1, (int64_t)lsm_wall_ms()
	};
	if (!cps[next.checkpoint_count].name) {
		st = lsm_fail(LSM_ENOMEM, "out of memory");
		goto out_free;
	}
	next.checkpoint_count++;
	st = lsm_install_manifest(db, &next);
out_free:
	lsm_manifest_free(&next);
out:
	pthread_mutex_unlock(&db->manifest_lock);
	return st;
}

lsm_status lsm_checkpoint_delete(struct lsm_db *db, const char *name)
{
	struct lsm_manifest next;
	lsm_status st;
	size_t w = 0;
	if (db->read_only)
		return lsm_fail(LSM_EREADONLY, "the database is open read-only");
	pthread_mutex_lock(&db->manifest_lock);
	if ((st = lsm_manifest_copy(&next, &db->version->m)) == LSM_OK) {
		for (size_t i = 0; i < next.checkpoint_count; i++) {
			if (!strcmp(next.checkpoints[i].name, name))
				free(next.checkpoints[i].name);
			else
				next.checkpoints[w++] = next.checkpoints[i];
		}
		if (w == next.checkpoint_count) {
			st = lsm_fail(LSM_ENOTFOUND, "no checkpoint named '%s'", name);
		} else {
			next.checkpoint_count = w;
			st = lsm_install_manifest(db, &next);
		}
		lsm_manifest_free(&next);
	}
	pthread_mutex_unlock(&db->manifest_lock);
	return st;
}

/* ---- statistics ---- */

void lsm_stats(struct lsm_db *db, struct lsm_stats *o)
{
	memset(o, 0, sizeof(*o));
	o->gets = atomic_load(&db->stats.gets);
	o->writes = atomic_load(&db->stats.writes);
	o->user_bytes_written = atomic_load(&db->stats.user_bytes);
	o->wal_uploads = atomic_load(&db->stats.wal_uploads);
	o->wal_batches = atomic_load(&db->stats.wal_batches);
	o->wal_bytes = atomic_load(&db->stats.wal_bytes);
	o->memtable_flushes = atomic_load(&db->stats.flushes);
	o->l0_bytes_written = atomic_load(&db->stats.l0_bytes);
	o->compactions = atomic_load(&db->stats.compactions);
	o->compaction_bytes_written = atomic_load(&db->stats.compaction_bytes);
	o->disk_cache_hits = atomic_load(&db->stats.disk_hits);
	o->disk_cache_misses = atomic_load(&db->stats.disk_misses);
	if (db->block_cache) {
		struct lsm_block_cache_stats bs;
		lsm_block_cache_stats(db->block_cache, &bs);
		o->block_cache_hits = bs.hits;
		o->block_cache_misses = bs.misses;
		o->block_cache_bytes = lsm_block_cache_usage(db->block_cache);
	}
	if (db->object_cache) {
		struct lsm_object_cache_stats cs;
		lsm_object_cache_stats(db->object_cache, &cs);
		o->disk_cache_bytes = cs.bytes;
	}
	pthread_mutex_lock(&db->lock);
	o->memtable_bytes = lsm_memtable_memory(db->active);
	for (size_t i = 0; i < db->n_frozen; i++)
		o->memtable_bytes += lsm_memtable_memory(db->frozen[i].mt);
	const struct lsm_manifest *m = &db->version->m;
	o->l0_count = m->l0_count;
	o->run_count = m->run_count;
	o->sst_count = m->l0_count;
	for (size_t r = 0; r < m->run_count; r++)
		o->sst_count += m->runs[r].count;
	o->writer_epoch = db->writer_epoch;
	o->manifest_id = m->id;
	o->last_durable_ms_ago = lsm_now_ms() - db->last_durable_ms;
	o->wal_unflushed_bytes = (db->wal_enc_open ? db->wal_buf.len : 0) + lsm_wal_sealed_bytes(db);
	o->write_stalls = atomic_load(&db->stats.write_stalls);
	o->wal_uploads_in_flight = db->wal_uploading;
	o->durable_waits = atomic_load(&db->stats.durable_waits);
	o->durable_wait_us = atomic_load(&db->stats.durable_wait_us);
	o->vlog_separated = atomic_load(&db->stats.vlog_separated);
	o->vlog_separated_bytes = atomic_load(&db->stats.vlog_separated_bytes);
	o->vlog_reads = atomic_load(&db->stats.vlog_reads);
	o->vlog_read_bytes = atomic_load(&db->stats.vlog_read_bytes);
	struct lsm_vref_set objs = { 0 };
	(void)lsm_vref_set_add_manifest(&objs, m); /* out of memory: counts fall short */
	o->vlog_objects = objs.n;
	for (size_t i = 0; i < objs.n; i++)
		o->vlog_live_bytes += objs.v[i].bytes;
	lsm_vref_set_free(&objs);
	for (size_t i = 0; i < db->n_ssts; i++) {
		if (db->ssts[i].sst) {
			struct lsm_sst_stats ss;
			lsm_sst_stats(db->ssts[i].sst, &ss);
			o->bloom_negatives += ss.bloom_negatives;
			o->bloom_positives += ss.gets - ss.bloom_negatives;
		}
	}
	pthread_mutex_unlock(&db->lock);
}
