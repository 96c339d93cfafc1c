/*
 * lsm/db_flush.c - background work on the tree: frozen memtables become L0
 * SSTs, and size-tiered compaction merges L0 into sorted runs.
 *
 * Ordering rules that keep reads correct:
 *  - A frozen memtable is flushed only once every WAL object holding its
 *    writes is durable, so the manifest's wal_flushed never runs ahead of
 *    the WAL and recovery replays exactly what is not yet in SSTs.
 *  - Memtables are flushed oldest first, and each flush adds the newest L0.
 *  - A compaction of L0 yields a run newer than every existing run; a merge
 *    of all runs yields the oldest run. L0 SSTs flushed while a compaction ran
 *    stay in L0, newer than its output.
 *  - Input SST objects are not deleted here: garbage collection removes them
 *    once no manifest references them and they are old enough, so a reader
 *    of an older manifest (another process, a checkpoint) still finds them.
 */
#include <inttypes.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#include "db_int.h"
#include "merge_iter.h"
#include "vlog.h"

lsm_status lsm_freeze_active(struct lsm_db *db)
{
	struct lsm_memtable *fresh;
	lsm_status st;
	if (lsm_memtable_count(db->active) == 0)
		return LSM_OK;
	if (db->n_frozen == LSM_MAX_FROZEN)
		return lsm_fail(LSM_ETRANSIENT, "too many memtables waiting to be flushed");
	if ((st = lsm_memtable_new(&fresh)))
		return st;
	db->frozen[db->n_frozen++] = (struct lsm_frozen){ db->active, db->active_last_wal };
	db->active = fresh;
	db->wal_kick = true; /* its WAL must be durable before it can be flushed */
	db->bg_kick = true;
	pthread_cond_broadcast(&db->cond);
	return LSM_OK;
}

lsm_status lsm_install_manifest(struct lsm_db *db, struct lsm_manifest *m)
{
	const struct lsm_manifest *cur = &db->version->m; /* stable: we hold manifest_lock */
	struct lsm_manifest latest;
	uint64_t latest_id;
	lsm_status st;

	m->id = cur->id + 1;
	m->writer_epoch = db->writer_epoch;
	m->next_sst_id = atomic_load(&db->next_sst_id);
	st = lsm_manifest_store(db->store, m);
	if (st != LSM_EFENCED)
		return st ? st : lsm_version_install(db, m);

	/* Someone wrote that version first. A newer epoch means we are fenced.
	 * Our own epoch means an earlier attempt of ours landed although it was
	 * reported as failed (the store's retries ran out): adopt what is stored
	 * and let the caller recompute its change from it. */
	if ((st = lsm_manifest_latest_id(db->store, &latest_id)) ||
	    (st = lsm_manifest_load(db->store, latest_id, &latest)))
		return st;
	if (latest.writer_epoch == db->writer_epoch) {
		st = lsm_version_install(db, &latest);
		lsm_manifest_free(&latest);
		return st ? st : lsm_fail(LSM_ETRANSIENT, "manifest %" PRIu64 " from an earlier "
					  "attempt was adopted; retry the change", latest_id);
	}
	st = lsm_fail(LSM_EFENCED, "manifest %" PRIu64 " has writer epoch %" PRIu64
		      ", ours is %" PRIu64 ": another writer took over",
		      latest_id, latest.writer_epoch, db->writer_epoch);
	lsm_manifest_free(&latest);
	pthread_mutex_lock(&db->lock);
	lsm_set_fatal(db, st);
	pthread_mutex_unlock(&db->lock);
	return st;
}

static uint64_t alloc_sst_id(struct lsm_db *db)
{
	return atomic_fetch_add(&db->next_sst_id, 1);
}

/* Fills info from a finished builder. */
static lsm_status sst_info_from(struct lsm_sst_info *info, uint64_t id, uint64_t size,
				const struct lsm_sst_props *p, struct lsm_vref_set *refs)
{
	memset(info, 0, sizeof(*info));
	/* the SST's value references: taken over from refs */
	info->vrefs = refs->v;
	info->n_vrefs = refs->n;
	refs->v = NULL;
	refs->n = refs->cap = 0;
	info->id = id;
	info->size = size;
	info->entries = p->entries;
	info->min_seq = p->min_seq;
	info->max_seq = p->max_seq;
	info->smallest_len = p->smallest_len ? lsm_ikey_user_len(p->smallest_len) : 0;
	info->largest_len = p->largest_len ? lsm_ikey_user_len(p->largest_len) : 0;
	info->smallest = malloc(info->smallest_len + 1);
	info->largest = malloc(info->largest_len + 1);
	if (!info->smallest || !info->largest) {
		lsm_sst_info_free(info);
		return lsm_fail(LSM_ENOMEM, "out of memory");
	}
	if (info->smallest_len)
		memcpy(info->smallest, p->smallest, info->smallest_len);
	if (info->largest_len)
		memcpy(info->largest, p->largest, info->largest_len);
	return LSM_OK;
}

static void sst_options(const struct lsm_db *db, struct lsm_sst_options *so)
{
	lsm_sst_options_default(so);
	so->block_size = db->o.block_size;
	so->compression_level = db->o.compression_level;
	so->bloom_bits_per_key = db->o.bloom_bits_per_key;
}

lsm_status lsm_flush_one(struct lsm_db *db, bool *did)
{
	struct lsm_sst_options so;
	struct lsm_sst_builder *b = NULL;
	struct lsm_iter *it = NULL;
	struct lsm_buf bytes = { 0 };
	struct lsm_manifest next;
	struct lsm_sst_info info;
	struct lsm_memtable *mt;
	struct lsm_vref_set refs = { 0 };
	struct lsm_buf ikey = { 0 };
	uint64_t last_wal, id, min_seq, max_seq, separated = 0, separated_bytes = 0;
	lsm_status st;

	*did = false;
	pthread_mutex_lock(&db->manifest_lock);
	pthread_mutex_lock(&db->lock);
	if (db->fatal || db->n_frozen == 0 || db->frozen[0].last_wal > db->durable_wal_id) {
		st = db->fatal;
		pthread_mutex_unlock(&db->lock);
		pthread_mutex_unlock(&db->manifest_lock);
		return st;
	}
	mt = lsm_memtable_ref(db->frozen[0].mt);
	last_wal = db->frozen[0].last_wal;
	if (last_wal <= db->version->m.wal_flushed && db->version->m.last_seq >= 1 &&
	    lsm_memtable_seq_range(mt, &min_seq, &max_seq) && max_seq <= db->version->m.last_seq) {
		/* already in an SST: an adopted manifest holds this flush */
		lsm_memtable_unref(db->frozen[0].mt);
		memmove(&db->frozen[0], &db->frozen[1], (db->n_frozen - 1) * sizeof(db->frozen[0]));
		db->n_frozen--;
		pthread_cond_broadcast(&db->cond);
		pthread_mutex_unlock(&db->lock);
		lsm_memtable_unref(mt);
		pthread_mutex_unlock(&db->manifest_lock);
		*did = true;
		return LSM_OK;
	}
	pthread_mutex_unlock(&db->lock);

	sst_options(db, &so);
	lsm_memtable_seq_range(mt, &min_seq, &max_seq);
	if ((st = lsm_sst_builder_new(&so, &b)) || (st = lsm_memtable_iter(mt, &it)))
		goto out;
	for (lsm_iter_seek_first(it); lsm_iter_valid(it); lsm_iter_next(it)) {
		size_t kl, vl;
		const uint8_t *k = lsm_iter_key(it, &kl), *v = lsm_iter_value(it, &vl);
		struct lsm_vptr p;
		uint32_t off;
		if (lsm_ikey_type(k, kl) == LSM_TYPE_PUT && vl >= db->o.value_sep_bytes &&
		    lsm_memtable_iter_vlog(it, &p.obj, &off)) {
			/* the value is in WAL object p.obj already: point to it */
			uint8_t ref[LSM_VPTR_MAX_BYTES];
			size_t ul = lsm_ikey_user_len(kl);
			p.off = off;
			p.len = (uint32_t)vl;
			p.sum = lsm_checksum(v, vl);
			ikey.len = 0;
			if ((st = lsm_buf_reserve(&ikey, kl)))
				goto out;
			lsm_ikey_encode(ikey.data, k, ul, lsm_ikey_seq(k, kl), LSM_TYPE_BLOB_REF);
			if ((st = lsm_vref_set_add(&refs, p.obj, vl)) ||
			    (st = lsm_sst_builder_add(b, ikey.data, kl, ref, lsm_vptr_encode(&p, ref))))
				goto out;
			separated++;
			separated_bytes += vl;
			continue;
		}
		if ((st = lsm_sst_builder_add(b, k, kl, v, vl)))
			goto out;
	}
	if ((st = lsm_iter_status(it)) || (st = lsm_sst_builder_finish(b, &bytes)))
		goto out;
	id = alloc_sst_id(db);
	if ((st = lsm_db_put_sst(db, id, &bytes)))
		goto out;
	if ((st = sst_info_from(&info, id, bytes.len, lsm_sst_builder_props(b), &refs)))
		goto out;

	if ((st = lsm_manifest_copy(&next, &db->version->m))) {
		lsm_sst_info_free(&info);
		goto out;
	}
	struct lsm_sst_info *l0 = realloc(next.l0, (next.l0_count + 1) * sizeof(*l0));
	if (!l0) {
		lsm_sst_info_free(&info);
		lsm_manifest_free(&next);
		st = lsm_fail(LSM_ENOMEM, "out of memory");
		goto out;
	}
	memmove(l0 + 1, l0, next.l0_count * sizeof(*l0));
	l0[0] = info; /* newest first */
	next.l0 = l0;
	next.l0_count++;
	next.wal_flushed = last_wal;
	if (max_seq > next.last_seq)
		next.last_seq = max_seq;
	st = lsm_install_manifest(db, &next);
	lsm_manifest_free(&next);
	if (st)
		goto out;

	pthread_mutex_lock(&db->lock);
	lsm_memtable_unref(db->frozen[0].mt);
	memmove(&db->frozen[0], &db->frozen[1], (db->n_frozen - 1) * sizeof(db->frozen[0]));
	db->n_frozen--;
	db->bg_kick = true;
	db->compact_kick = true; /* L0 grew */
	pthread_cond_broadcast(&db->cond);
	pthread_mutex_unlock(&db->lock);
	atomic_fetch_add(&db->stats.flushes, 1);
	atomic_fetch_add(&db->stats.l0_bytes, bytes.len);
	atomic_fetch_add(&db->stats.vlog_separated, separated);
	atomic_fetch_add(&db->stats.vlog_separated_bytes, separated_bytes);
	*did = true;
out:
	lsm_vref_set_free(&refs);
	lsm_buf_free(&ikey);
	lsm_iter_destroy(it);
	lsm_sst_builder_free(b);
	lsm_buf_free(&bytes);
	lsm_memtable_unref(mt);
	pthread_mutex_unlock(&db->manifest_lock);
	return st;
}

/* ---- compaction ---- */

struct compaction {
	struct lsm_db *db;
	struct lsm_version *v;
	bool take_l0, take_runs; /* inputs: all L0 of v, all runs of v */
	bool bottom;             /* output holds the oldest data: tombstones can go */
	uint64_t min_snapshot;   /* readers hold their own versions, so only the
				  * newest version at or below this is needed */
	struct lsm_sst_info *out;
	size_t n_out;
	uint64_t bytes_out;
	struct lsm_sst **readers; /* private input readers, closed after the merge */
	size_t n_readers;
	struct lsm_vref_set refs; /* value references of the output being built */
};

/* Adds an iterator over one input SST, read through a private uncached
 * reader that the compaction closes when the merge is done. */
static lsm_status add_child(struct compaction *c, const struct lsm_sst_info *info,
			    struct lsm_iter ***kids, size_t *n, size_t *cap)
{
	struct lsm_sst *sst;
	struct lsm_iter *it;
	lsm_status st;
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 16;
		struct lsm_iter **k = realloc(*kids, nc * sizeof(*k));
		struct lsm_sst **r = realloc(c->readers, nc * sizeof(*r));
		if (k)
			*kids = k;
		if (r)
			c->readers = r;
		if (!k || !r)
			return lsm_fail(LSM_ENOMEM, "out of memory");
		*cap = nc;
	}
	if ((st = lsm_db_sst_uncached(c->db, info, &sst)))
		return st;
	if ((st = lsm_sst_iter(sst, &it))) {
		lsm_sst_close(sst);
		return st;
	}
	c->readers[c->n_readers++] = sst;
	(*kids)[(*n)++] = it;
	return LSM_OK;
}

/* Finishes the current output SST (if it has entries) and uploads it. */
static lsm_status cut_output(struct compaction *c, struct lsm_sst_builder **b)
{
	struct lsm_buf bytes = { 0 };
	struct lsm_sst_info *grown;
	lsm_status st;
	uint64_t id;
	if (!*b)
		return LSM_OK;
	if (lsm_sst_builder_props(*b)->entries == 0) {
		lsm_sst_builder_free(*b);
		*b = NULL;
		lsm_vref_set_free(&c->refs);
		return LSM_OK;
	}
	if ((st = lsm_sst_builder_finish(*b, &bytes)))
		goto out;
	id = alloc_sst_id(c->db);
	if ((st = lsm_db_put_sst(c->db, id, &bytes)))
		goto out;
	if (!(grown = realloc(c->out, (c->n_out + 1) * sizeof(*grown)))) {
		st = lsm_fail(LSM_ENOMEM, "out of memory");
		goto out;
	}
	c->out = grown;
	if ((st = sst_info_from(&c->out[c->n_out], id, bytes.len, lsm_sst_builder_props(*b),
				&c->refs)))
		goto out;
	c->n_out++;
	c->bytes_out += bytes.len;
out:
	lsm_buf_free(&bytes);
	lsm_sst_builder_free(*b);
	*b = NULL;
	return st;
}

/* Merges the inputs into output SSTs, dropping what no reader can see. */
static lsm_status run_merge(struct compaction *c)
{
	struct lsm_db *db = c->db;
	const struct lsm_manifest *m = &c->v->m;
	struct lsm_iter **kids = NULL, *merge = NULL;
	struct lsm_sst_builder *b = NULL;
	struct lsm_sst_options so;
	struct lsm_buf prev = { 0 }; /* user key of the previous entry */
	size_t n = 0, cap = 0;
	bool have_prev = false, covered = false;
	lsm_status st = LSM_OK;

	sst_options(db, &so);
	if (c->take_l0)
		for (size_t i = 0; i < m->l0_count && !st; i++)
			st = add_child(c, &m->l0[i], &kids, &n, &cap);
	if (c->take_runs)
		for (size_t r = 0; r < m->run_count && !st; r++)
			for (size_t i = 0; i < m->runs[r].count && !st; i++)
				st = add_child(c, &m->runs[r].ssts[i], &kids, &n, &cap);
	if (st) {
		for (size_t i = 0; i < n; i++)
			lsm_iter_destroy(kids[i]);
		free(kids);
		return st;
	}
	if ((st = lsm_merge_iter_new(kids, n, &merge))) {
		free(kids);
		return st;
	}
	free(kids);

	for (lsm_iter_seek_first(merge); lsm_iter_valid(merge); lsm_iter_next(merge)) {
		size_t kl, vl;
		const uint8_t *k = lsm_iter_key(merge, &kl), *v = lsm_iter_value(merge, &vl);
		size_t ul = lsm_ikey_user_len(kl);
		uint64_t seq = lsm_ikey_seq(k, kl);
		bool same = have_prev && lsm_ukey_compare(prev.data, prev.len, k, ul) == 0;
		if (!same) {
			covered = false;
			/* cut between user keys only: all versions of a key stay in one SST */
			if (b && lsm_sst_builder_estimated_size(b) >= db->o.sst_target_bytes &&
			    (st = cut_output(c, &b)))
				break;
			prev.len = 0;
			if ((st = lsm_buf_append(&prev, k, ul)))
				break;
			have_prev = true;
		}
		/* Versions older than the newest one at or below min_snapshot are
		 * invisible to every reader. */
		if (covered)
			continue;
		if (seq <= c->min_snapshot) {
			covered = true;
			if (c->bottom && lsm_ikey_type(k, kl) == LSM_TYPE_DELETE)
				continue; /* nothing older to hide */
		}
		if (!b && (st = lsm_sst_builder_new(&so, &b)))
			break;
		if (lsm_ikey_type(k, kl) == LSM_TYPE_BLOB_REF) {
			struct lsm_vptr p;
			if ((st = lsm_vptr_decode(v, vl, &p)) ||
			    (st = lsm_vref_set_add(&c->refs, p.obj, p.len)))
				break;
		}
		if ((st = lsm_sst_builder_add(b, k, kl, v, vl)))
			break;
	}
	if (st == LSM_OK)
		st = lsm_iter_status(merge);
	if (st == LSM_OK)
		st = cut_output(c, &b);
	lsm_sst_builder_free(b);
	lsm_iter_destroy(merge);
	lsm_buf_free(&prev);
	return st;
}

static void close_readers(struct compaction *c)
{
	for (size_t i = 0; i < c->n_readers; i++)
		lsm_sst_close(c->readers[i]);
	free(c->readers);
	c->readers = NULL;
	c->n_readers = 0;
}

static bool in_list(uint64_t id, const struct lsm_sst_info *l, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (l[i].id == id)
			return true;
	return false;
}

/* The current manifest with the inputs replaced by the output run. */
static lsm_status install_result(struct compaction *c)
{
	struct lsm_db *db = c->db;
	const struct lsm_manifest *in = &c->v->m;
	struct lsm_manifest next;
	lsm_status st;
	uint64_t max_run = 0;

	if ((st = lsm_manifest_copy(&next, &db->version->m)))
		return st;
	if (c->take_l0) { /* drop the compacted L0 SSTs; newer ones stay */
		size_t w = 0;
		for (size_t i = 0; i < next.l0_count; i++) {
			if (in_list(next.l0[i].id, in->l0, in->l0_count))
				lsm_sst_info_free(&next.l0[i]);
			else
				next.l0[w++] = next.l0[i];
		}
		next.l0_count = w;
	}
	for (size_t r = 0; r < next.run_count; r++)
		if (next.runs[r].id > max_run)
			max_run = next.runs[r].id;
	if (c->take_runs) { /* every run was an input (one compaction at a time) */
		for (size_t r = 0; r < next.run_count; r++) {
			for (size_t i = 0; i < next.runs[r].count; i++)
				lsm_sst_info_free(&next.runs[r].ssts[i]);
			free(next.runs[r].ssts);
		}
		next.run_count = 0;
	}
	if (c->n_out) {
		struct lsm_run *runs = realloc(next.runs, (next.run_count + 1) * sizeof(*runs));
		if (!runs) {
			lsm_manifest_free(&next);
			return lsm_fail(LSM_ENOMEM, "out of memory");
		}
		/* newest run first: the output is newer than every remaining run */
		memmove(runs + 1, runs, next.run_count * sizeof(*runs));
		runs[0] = (struct lsm_run){ max_run + 1, c->out, c->n_out };
		next.runs = runs;
		next.run_count++;
		c->out = NULL;
		c->n_out = 0;
	}
	st = lsm_install_manifest(db, &next);
	lsm_manifest_free(&next);
	return st;
}

lsm_status lsm_compact_if_due(struct lsm_db *db, bool force_all, bool *did)
{
	struct compaction c = { .db = db };
	lsm_status st = LSM_OK;

	*did = false;
	pthread_mutex_lock(&db->compact_lock);
	c.v = lsm_version_ref(db);
	const struct lsm_manifest *m = &c.v->m;
	if (force_all) {
		/* everything into one run, unless it already is one */
		c.take_l0 = c.take_runs = !(m->l0_count == 0 && m->run_count <= 1);
	} else if (m->l0_count >= db->o.l0_compaction_trigger) {
		c.take_l0 = true;
		/* a run much smaller than the L0 batch merges along (size-tiered) */
		uint64_t l0_bytes = 0, newest_run = 0;
		for (size_t i = 0; i < m->l0_count; i++)
			l0_bytes += m->l0[i].size;
		if (m->run_count == 1) {
			for (size_t i = 0; i < m->runs[0].count; i++)
				newest_run += m->runs[0].ssts[i].size;
			c.take_runs = newest_run <= 2 * l0_bytes;
		}
	} else if (m->run_count > db->o.max_runs) {
		c.take_runs = true;
	}
	if (!c.take_l0 && !c.take_runs)
		goto out;
	if (c.take_runs && !c.take_l0 && m->l0_count == 0 && m->run_count <= 1)
		goto out;
	c.bottom = c.take_runs || m->run_count == 0;

	c.min_snapshot = atomic_load(&db->visible_seq);

	if ((st = run_merge(&c)))
		goto out;
	pthread_mutex_lock(&db->manifest_lock);
	st = install_result(&c);
	pthread_mutex_unlock(&db->manifest_lock);
	if (st == LSM_OK) {
		atomic_fetch_add(&db->stats.compactions, 1);
		atomic_fetch_add(&db->stats.compaction_bytes, c.bytes_out);
		*did = true; /* installing the version woke writers waiting on L0 */
	}
out:
	close_readers(&c); /* after run_merge destroyed its iterators */
	lsm_vref_set_free(&c.refs);
	for (size_t i = 0; i < c.n_out; i++)
		lsm_sst_info_free(&c.out[i]);
	free(c.out);
	lsm_version_unref(c.v);
	pthread_mutex_unlock(&db->compact_lock);
	return st;
}

/* Waits (caller holds lock) until *kick is set, the db closes, or ms pass. */
static void wait_kick(struct lsm_db *db, bool *kick, unsigned ms)
{
	if (*kick)
		return;
	struct timespec ts;
	uint64_t due = lsm_now_ms() + ms;
	ts.tv_sec = (time_t)(due / 1000);
	ts.tv_nsec = (long)(due % 1000) * 1000000L;
	pthread_cond_timedwait(&db->cond, &db->lock, &ts);
}

/* Flushes frozen memtables as soon as their WAL is durable. Compaction has a
 * thread of its own so that a long compaction never holds up flushes, and a
 * stream of flushes never starves compaction. */
void *lsm_bg_thread(void *arg)
{
	struct lsm_db *db = arg;
	pthread_mutex_lock(&db->lock);
	while (!db->closing && !db->fatal) {
		wait_kick(db, &db->bg_kick, 1000);
		if (!db->bg_kick)
			continue;
		db->bg_kick = false;
		pthread_mutex_unlock(&db->lock);
		bool did = true;
		lsm_status st = LSM_OK;
		while (did && st == LSM_OK)
			st = lsm_flush_one(db, &did);
		pthread_mutex_lock(&db->lock);
		if (st && st != LSM_EFENCED) { /* the store is failing: try again soon */
			wait_kick(db, &db->closing, 500);
			db->bg_kick = true;
		}
	}
	pthread_mutex_unlock(&db->lock);
	return NULL;
}

void *lsm_compact_thread(void *arg)
{
	struct lsm_db *db = arg;
	uint64_t next_gc = lsm_now_ms() + db->o.gc_interval_ms;
	pthread_mutex_lock(&db->lock);
	while (!db->closing && !db->fatal) {
		if (lsm_now_ms() >= next_gc) {
			uint64_t deleted;
			pthread_mutex_unlock(&db->lock);
			(void)lsm_gc(db, &deleted); /* a failure is retried next interval */
			pthread_mutex_lock(&db->lock);
			next_gc = lsm_now_ms() + db->o.gc_interval_ms;
			continue;
		}
		wait_kick(db, &db->compact_kick, 1000);
		db->compact_kick = false;
		pthread_mutex_unlock(&db->lock);
		bool did;
		lsm_status st = lsm_compact_if_due(db, false, &did);
		pthread_mutex_lock(&db->lock);
		if (st == LSM_OK && did)
			db->compact_kick = true; /* another may be due */
		else if (st && st != LSM_EFENCED)
			wait_kick(db, &db->closing, 500);
	}
	pthread_mutex_unlock(&db->lock);
	return NULL;
}
