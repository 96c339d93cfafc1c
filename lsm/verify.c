/*
 * lsm/verify.c - reads every live object of a tree in full and checks it
 * (lsm_verify, lsm_verify_store; see lsm.h): the manifest, the SSTs it and
 * its checkpoints' manifests name (each one by lsm_sst_check, sst_reader.c),
 * the WAL objects a reader would replay (lsm_wal_decode and the replay's
 * sequence rules, db.c), and the older WAL objects SSTs point into for
 * values kept there (vlog.h; decoded whole: every record's checksum covers
 * the values in it). Objects are read whole, past every cache, one at a
 * time. Damage is reported per object and the walk goes on, so one run names
 * every damaged object; only a failing store or memory ends it.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_int.h"
#include "vlog.h"

struct verify {
	struct zs3_store *store;
	lsm_verify_fn fn;
	void *ctx;
	struct lsm_verify_summary *sum;
	uint64_t tree_id; /* the manifest the walk started from */
	uint64_t *seen;   /* SST ids already verified, sorted */
	size_t n_seen, cap_seen;
};

static void report(struct verify *v, const char *key, lsm_status st, uint64_t bytes,
		   const char *detail)
{
	struct lsm_verify_report r = { key, st, st ? detail : NULL, bytes };
	if (st)
		v->sum->damaged++;
	if (v->fn)
		v->fn(v->ctx, &r);
}

/* Reports the damage the last lsm_fail described. */
static void report_damage(struct verify *v, const char *key, lsm_status st, uint64_t bytes)
{
	char detail[512];
	snprintf(detail, sizeof(detail), "%s", lsm_last_error());
	report(v, key, st, bytes, detail);
}

/* Reads a whole object: LSM_OK, LSM_ENOTFOUND, LSM_ECORRUPT (the store's own
 * check failed: a local store's header or MD5, an S3 object's MD5), or a
 * failure that ends the walk. */
static lsm_status get_object(struct verify *v, const char *key, struct zs3_buf *b)
{
	zs3_status zst = zs3_get(v->store, key, zs3_range_all(), b, NULL);
	if (zst)
		return lsm_from_zs3(zst);
	v->sum->bytes += b->len;
	return LSM_OK;
}

/* Has a writer installed a manifest newer than the walk's since it began?
 * Then an object that is gone was replaced and collected, not lost. */
static lsm_status moved_on(struct verify *v, bool *yes)
{
	uint64_t latest;
	lsm_status st = lsm_manifest_latest_id(v->store, &latest);
	*yes = st == LSM_OK && latest > v->tree_id;
	return st;
}

/* Marks SST id as verified; *seen if it already was. */
static lsm_status mark_seen(struct verify *v, uint64_t id, bool *seen)
{
	size_t lo = 0, hi = v->n_seen;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (v->seen[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	*seen = lo < v->n_seen && v->seen[lo] == id;
	if (*seen)
		return LSM_OK;
	if (v->n_seen == v->cap_seen) {
		size_t cap = v->cap_seen ? v->cap_seen * 2 : 64;
		uint64_t *s = realloc(v->seen, cap * sizeof(*s));
		if (!s)
			return lsm_fail(LSM_ENOMEM, "out of memory");
		v->seen = s;
		v->cap_seen = cap;
	}
	memmove(&v->seen[lo + 1], &v->seen[lo], (v->n_seen - lo) * sizeof(*v->seen));
	v->seen[lo] = id;
	v->n_seen++;
	return LSM_OK;
}

/* Reports what checking the object at key found: intact, damaged (the
 * detail lsm_fail recorded with st), or missing (detail `missing`) unless the
 * tree has moved on since the walk began. Damage is reported, not returned:
 * only what stops the walk (a failing store, no memory) is. */
static lsm_status outcome(struct verify *v, const char *key, lsm_status st, size_t len,
			  const char *missing)
{
	if (st == LSM_ENOTFOUND) {
		bool moved;
		if ((st = moved_on(v, &moved)) == LSM_OK && !moved)
			report(v, key, LSM_ENOTFOUND, 0, missing);
	} else if (st == LSM_ECORRUPT) {
		report_damage(v, key, st, len);
		st = LSM_OK;
	} else if (st == LSM_OK) {
		report(v, key, LSM_OK, len, NULL);
	}
	return st;
}

/* ---- manifests ---- */

/* What a decoded manifest must say of its SSTs (docs/FORMAT.md): each key
 * range in order, sequence numbers within last_seq, and the SSTs of a run
 * in key order and disjoint. */
static lsm_status check_manifest(const struct lsm_manifest *m)
{
	unsigned long long mid = (unsigned long long)m->id;
	for (size_t r = 0; r <= m->run_count; r++) {
		const struct lsm_sst_info *list = r == 0 ? m->l0 : m->runs[r - 1].ssts;
		size_t n = r == 0 ? m->l0_count : m->runs[r - 1].count;
		const struct lsm_sst_info *prev = NULL;
		for (size_t j = 0; j < n; j++) {
			const struct lsm_sst_info *s = &list[j];
			unsigned long long sid = (unsigned long long)s->id;
			if (s->min_seq > s->max_seq || s->max_seq > m->last_seq)
				return lsm_fail(LSM_ECORRUPT, "manifest %llu: SST %llu has sequence range "
						"[%llu, %llu], outside the tree's (up to %llu)", mid, sid,
						(unsigned long long)s->min_seq,
						(unsigned long long)s->max_seq,
						(unsigned long long)m->last_seq);
			if (!s->entries)
				continue;
			if (lsm_ukey_compare(s->smallest, s->smallest_len, s->largest, s->largest_len) > 0)
				return lsm_fail(LSM_ECORRUPT, "manifest %llu: SST %llu has its smallest key "
						"above its largest", mid, sid);
			if (r > 0 && prev &&
			    lsm_ukey_compare(prev->largest, prev->largest_len, s->smallest,
					     s->smallest_len) >= 0)
				return lsm_fail(LSM_ECORRUPT, "manifest %llu: sorted run %llu: SSTs %llu and "
						"%llu overlap or are out of key order", mid,
						(unsigned long long)m->runs[r - 1].id,
						(unsigned long long)prev->id, sid);
			prev = s;
		}
	}
	return LSM_OK;
}

/* Reads and reports manifest id into *m. *ok: decoded (its SSTs can be
 * walked; m then needs freeing). `pinned_by`: NULL for the tree's manifest,
 * else the checkpoint that pins it (for messages). */
static lsm_status verify_manifest(struct verify *v, uint64_t id, const char *pinned_by,
				  struct lsm_manifest *m, bool *ok)
{
	char key[64];
	struct zs3_buf b = { 0 };
	lsm_status st;

	*ok = false;
	lsm_manifest_key(id, key);
	st = get_object(v, key, &b);
	if (st == LSM_OK) {
		v->sum->manifests++;
		if ((st = lsm_manifest_decode(b.data, b.len, id, m)) == LSM_OK) {
			*ok = true;
			st = check_manifest(m);
		}
	}
	char missing[512];
	if (pinned_by)
		snprintf(missing, sizeof(missing), "checkpoint '%s' pins it, but the store does not "
			 "have it", pinned_by);
	else
		snprintf(missing, sizeof(missing), "the store does not have it");
	bool stops = st != LSM_OK && st != LSM_ENOTFOUND && st != LSM_ECORRUPT;
	st = outcome(v, key, st, b.len, missing);
	if (stops && *ok) {
		lsm_manifest_free(m);
		*ok = false;
	}
	zs3_buf_free(&b);
	return st;
}

/* ---- SSTs ---- */

/* What the manifest says of an SST against what its meta block says. */
static lsm_status match_info(uint64_t manifest_id, const struct lsm_sst_info *i,
			     const struct lsm_sst_props *p)
{
	size_t sl = p->smallest_len ? lsm_ikey_user_len(p->smallest_len) : 0;
	size_t ll = p->largest_len ? lsm_ikey_user_len(p->largest_len) : 0;
	const char *what = NULL;
	if (i->entries != p->entries)
		what = "entries";
	else if (i->min_seq != p->min_seq || i->max_seq != p->max_seq)
		what = "sequence range";
	else if (i->smallest_len != sl || (sl && memcmp(i->smallest, p->smallest, sl)) ||
		 i->largest_len != ll || (ll && memcmp(i->largest, p->largest, ll)))
		what = "key range";
	if (!what)
		return LSM_OK;
	return lsm_fail(LSM_ECORRUPT, "manifest %llu gives it other %s than its meta block",
			(unsigned long long)manifest_id, what);
}

static lsm_status verify_sst(struct verify *v, const struct lsm_manifest *m,
			     const struct lsm_sst_info *info)
{
	char key[64];
	struct zs3_buf b = { 0 };
	struct lsm_sst *sst = NULL;
	uint64_t blocks = 0, entries = 0;
	bool seen;
	lsm_status st;

	if ((st = mark_seen(v, info->id, &seen)) || seen)
		return st;
	lsm_sst_key(info->id, key);
	st = get_object(v, key, &b);
	if (st == LSM_OK) {
		struct lsm_mem_object mem = { b.data, b.len };
		v->sum->ssts++;
		if (b.len != info->size)
			st = lsm_fail(LSM_ECORRUPT, "the object has %zu bytes, manifest %llu says %llu",
				      b.len, (unsigned long long)m->id,
				      (unsigned long long)info->size);
		else if ((st = lsm_sst_open(lsm_read_mem, &mem, b.len, NULL, info->id, &sst)) == LSM_OK &&
			 (st = lsm_sst_check(sst, &blocks, &entries)) == LSM_OK)
			st = match_info(m->id, info, lsm_sst_props(sst));
		v->sum->data_blocks += blocks;
		v->sum->entries += entries;
	}
	char missing[160];
	snprintf(missing, sizeof(missing), "manifest %llu names it, but the store does not have it",
		 (unsigned long long)m->id);
	st = outcome(v, key, st, b.len, missing);
	lsm_sst_close(sst);
	zs3_buf_free(&b);
	return st;
}

static lsm_status verify_ssts(struct verify *v, const struct lsm_manifest *m)
{
	lsm_status st = LSM_OK;
	for (size_t i = 0; i < m->l0_count && !st; i++)
		st = verify_sst(v, m, &m->l0[i]);
	for (size_t r = 0; r < m->run_count; r++)
		for (size_t i = 0; i < m->runs[r].count && !st; i++)
			st = verify_sst(v, m, &m->runs[r].ssts[i]);
	return st;
}

/* ---- WAL objects ---- */

/* The replay's rules (db.c, replay_record): records wholly in SSTs or
 * already applied are skipped; one that straddles what was applied is
 * damage. */
struct wal_walk {
	uint64_t skip_upto, applied, records;
};

static lsm_status wal_record(void *ctx, uint64_t first_seq, uint32_t count, const uint8_t *body,
			     size_t len)
{
	struct wal_walk *w = ctx;
	uint64_t last = first_seq + count - 1;
	(void)body;
	(void)len;
	w->records++;
	if (last <= w->skip_upto || last <= w->applied)
		return LSM_OK;
	if (first_seq <= w->applied)
		return lsm_fail(LSM_ECORRUPT, "the record at seq %" PRIu64 " overlaps seq %" PRIu64
			       " of an earlier record", first_seq, w->applied);
	w->applied = last;
	return LSM_OK;
}

/* The WAL objects from wal_flushed on, until one is missing, following
 * fences' skips (as a replay). */
static lsm_status verify_wals(struct verify *v, const struct lsm_manifest *m)
{
	struct wal_walk w = { m->last_seq, m->last_seq, 0 };
	for (uint64_t id = m->wal_flushed ? m->wal_flushed : 1, next;; id = next) {
		char key[64];
		struct zs3_buf b = { 0 };
		struct lsm_wal_header h;
		uint64_t before = w.records;
		lsm_status st;

		next = id + 1; /* a damaged object's skip is unknown: go on with the next */
		lsm_wal_key(id, key);
		st = get_object(v, key, &b);
		if (st == LSM_OK) {
			v->sum->wals++;
			st = lsm_wal_decode(b.data, b.len, &h, wal_record, &w);
			if (st == LSM_OK && h.wal_id != id)
				st = lsm_fail(LSM_ECORRUPT, "it says it is WAL %" PRIu64, h.wal_id);
			if (st == LSM_OK) {
				v->sum->wal_records += w.records - before;
				next = id + 1 + h.skip;
			}
		}
		bool end = st == LSM_ENOTFOUND; /* the end of the log, as for a replay */
		if (!end)
			st = outcome(v, key, st, b.len, NULL);
		zs3_buf_free(&b);
		if (end)
			return LSM_OK;
		if (st)
			return st;
	}
}

/* ---- WAL objects holding values ---- */

/* Every WAL object below wal_flushed (the rest is the log, walked by
 * verify_wals) that an SST of objs' manifests points into. */
static lsm_status verify_vlog(struct verify *v, const struct lsm_vref_set *objs,
			      uint64_t wal_flushed)
{
	lsm_status st = LSM_OK;
	for (size_t i = 0; i < objs->n && !st; i++) {
		char key[64], missing[160];
		struct zs3_buf b = { 0 };
		struct lsm_wal_header h;
		uint64_t id = objs->v[i].obj;
		if (id >= wal_flushed)
			continue;
		lsm_wal_key(id, key);
		st = get_object(v, key, &b);
		if (st != LSM_ENOTFOUND)
			v->sum->vlog_objects++;
		if (st == LSM_OK) {
			st = lsm_wal_decode(b.data, b.len, &h, NULL, NULL);
			if (st == LSM_OK && h.wal_id != id)
				st = lsm_fail(LSM_ECORRUPT, "it says it is WAL %" PRIu64, h.wal_id);
		}
		snprintf(missing, sizeof(missing), "SSTs point to %llu bytes of values in it, but "
			 "the store does not have it", (unsigned long long)objs->v[i].bytes);
		st = outcome(v, key, st, b.len, missing);
		zs3_buf_free(&b);
	}
	return st;
}

/* ---- the walk ---- */

static lsm_status verify_tree(struct zs3_store *store, uint64_t id, bool wal, lsm_verify_fn fn,
			      void *fn_ctx, struct lsm_verify_summary *out)
{
	struct verify v = { store, fn, fn_ctx, out, id, NULL, 0, 0 };
	struct lsm_manifest m;
	bool ok;
	lsm_status st;

	struct lsm_vref_set objs = { 0 };
	out->manifest_id = id;
	if ((st = verify_manifest(&v, id, NULL, &m, &ok)) || !ok)
		return st;
	st = verify_ssts(&v, &m);
	if (!st)
		st = lsm_vref_set_add_manifest(&objs, &m);
	for (size_t i = 0; i < m.checkpoint_count && !st; i++) {
		struct lsm_manifest cp;
		st = verify_manifest(&v, m.checkpoints[i].manifest_id, m.checkpoints[i].name, &cp, &ok);
		if (!st && ok) {
			st = verify_ssts(&v, &cp);
			if (!st)
				st = lsm_vref_set_add_manifest(&objs, &cp);
			lsm_manifest_free(&cp);
		}
	}
	if (!st)
		st = verify_vlog(&v, &objs, m.wal_flushed);
	lsm_vref_set_free(&objs);
	if (!st && wal)
		st = verify_wals(&v, &m);
	lsm_manifest_free(&m);
	free(v.seen);
	return st;
}

lsm_status lsm_verify(struct lsm_db *db, lsm_verify_fn fn, void *fn_ctx,
		      struct lsm_verify_summary *out)
{
	uint64_t id;
	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&db->lock);
	id = db->version->m.id;
	pthread_mutex_unlock(&db->lock);
	/* a handle opened at a checkpoint replays no WAL */
	return verify_tree(db->store, id, !db->o.checkpoint, fn, fn_ctx, out);
}

lsm_status lsm_verify_store(struct zs3_store *store, lsm_verify_fn fn, void *fn_ctx,
			    struct lsm_verify_summary *out)
{
	uint64_t id;
	lsm_status st;
	memset(out, 0, sizeof(*out));
	if ((st = lsm_manifest_latest_id(store, &id)))
		return st;
	if (id == 0)
		return lsm_fail(LSM_ENOTFOUND, "%s holds no database (no manifest)", zs3_describe(store));
	return verify_tree(store, id, true, fn, fn_ctx, out);
}
