/*
 * lsm/db_wal.c - the WAL pipeline and group commit.
 *
 * Writers append their batches to the pending WAL object. An uploader seals
 * it (when a durable writer waits, when it is big enough, or every
 * flush_interval_ms) into one of o.wal_max_inflight slots and PUTs it; the
 * other uploaders do the same with the next objects meanwhile, so several
 * uploads are in flight and writers that arrive while they are fill the next
 * object: one PUT for all of them. Uploads may land in any order, but
 * durable_wal_id only moves over a contiguous run of landed ids, so "every id
 * <= durable_wal_id is in the store" holds and a write is never reported
 * durable before every write committed ahead of it.
 *
 * An object is sealed with id X only while X <= durable_wal_id +
 * wal_max_inflight (at most LSM_WAL_MAX_INFLIGHT): that bounds how far past
 * the last durable id a fenced writer can still land objects, which is what
 * the fence of the next writer skips (lsm_open, wal.h).
 *
 * Uploads are create-only: a WAL id that already exists was written by a
 * newer writer that fenced us. A failed upload keeps its slot (same id, same
 * bytes) and is retried after a backoff; the ids after it may land, but
 * none becomes durable before it. A retry whose first attempt did land is
 * recognised by the store layer (identical bytes, identical ETag).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "db_int.h"

/* A landed slot's buffer larger than this is freed rather than kept. */
#define WAL_KEEP_BYTES (1u << 20)

lsm_status lsm_wal_append(struct lsm_db *db, uint64_t first_seq, const struct lsm_batch *b)
{
	lsm_status st;
	if (!db->wal_enc_open) {
		db->wal_buf.len = 0;
		st = lsm_wal_encoder_begin(&db->wal_enc, &db->wal_buf, db->writer_epoch,
					   db->wal_pending_id);
		if (st)
			return st;
		db->wal_enc_open = true;
	}
	size_t rec_off = db->wal_buf.len - db->wal_enc.start;
	if ((st = lsm_wal_encoder_add(&db->wal_enc, first_seq, b)))
		return st;
	db->wal_pending_batches++;
	size_t body_len;
	const uint8_t *body = lsm_batch_body(b, &body_len);
	return lsm_wal_place_values(db, db->active, db->wal_pending_id,
				    rec_off + LSM_WAL_RECORD_HEADER_BYTES, body, body_len,
				    lsm_batch_count(b), first_seq);
}

struct place {
	struct lsm_db *db;
	struct lsm_memtable *mt;
	uint64_t obj, seq;
	size_t body_off;     /* the body's offset in the object */
	const uint8_t *body;
};

static lsm_status place_op(void *ctx, enum lsm_type type, const uint8_t *key, size_t klen,
			   const uint8_t *val, size_t vlen)
{
	struct place *p = ctx;
	uint64_t seq = p->seq++;
	if (type != LSM_TYPE_PUT || vlen < p->db->o.value_sep_bytes)
		return LSM_OK;
	size_t off = p->body_off + (size_t)(val - p->body);
	if (off > UINT32_MAX)
		return LSM_OK; /* past what a position holds: the value stays inline */
	p->db->wal_pending_values = true;
	return lsm_memtable_set_vlog(p->mt, key, klen, seq, p->obj, (uint32_t)off);
}

lsm_status lsm_wal_place_values(struct lsm_db *db, struct lsm_memtable *mt, uint64_t wal_id,
				size_t body_off, const uint8_t *body, size_t len, uint32_t count,
				uint64_t first_seq)
{
	struct place p = { db, mt, wal_id, first_seq, body_off, body };
	if (db->o.value_sep_bytes == SIZE_MAX)
		return LSM_OK;
	return lsm_batch_body_iterate(body, len, count, place_op, &p);
}

static struct lsm_wal_slot *slot_of(struct lsm_db *db, uint64_t id)
{
	return &db->wal_slots[id % LSM_WAL_MAX_INFLIGHT];
}

size_t lsm_wal_sealed_bytes(const struct lsm_db *db)
{
	size_t n = 0;
	for (unsigned i = 0; i < LSM_WAL_MAX_INFLIGHT; i++)
		if (db->wal_slots[i].id)
			n += db->wal_slots[i].buf.len;
	return n;
}

/* Seals the pending object into a slot if one is free (caller holds lock).
 * Consumes the kick: a waiter that appends after this kicks again. */
static lsm_status seal(struct lsm_db *db, bool *sealed)
{
	uint64_t id = db->wal_pending_id;
	struct lsm_wal_slot *s = slot_of(db, id);
	lsm_status st;

	*sealed = false;
	if (!db->wal_enc_open || id > db->durable_wal_id + db->o.wal_max_inflight)
		return LSM_OK;
	if (s->id) /* cannot happen while the bound above holds */
		return lsm_fail(LSM_EINVAL, "WAL slot for %" PRIu64 " still holds %" PRIu64, id,
				s->id);
	if ((st = lsm_wal_encoder_finish(&db->wal_enc)))
		return st;
	struct lsm_buf t = s->buf;
	s->buf = db->wal_buf;
	db->wal_buf = t;
	db->wal_buf.len = 0;
	s->id = id;
	s->batches = db->wal_pending_batches;
	s->has_values = db->wal_pending_values;
	db->wal_pending_values = false;
	s->uploading = s->landed = false;
	s->retry_at_ms = 0;
	db->wal_pending_id++;
	db->wal_pending_batches = 0;
	db->wal_enc_open = false;
	db->wal_kick = false;
	db->wal_next_due_ms = lsm_now_ms() + db->o.flush_interval_ms;
	*sealed = true;
	return LSM_OK;
}

/* The lowest sealed id nobody uploads whose retry time has come, or NULL
 * (caller holds lock). `now` 0: ignore retry times. */
static struct lsm_wal_slot *next_to_upload(struct lsm_db *db, uint64_t now)
{
	for (uint64_t id = db->durable_wal_id + 1; id < db->wal_pending_id; id++) {
		struct lsm_wal_slot *s = slot_of(db, id);
		if (s->id == id && !s->uploading && !s->landed && (!now || s->retry_at_ms <= now))
			return s;
	}
	return NULL;
}

/* Frees the slots of the contiguous landed ids above durable_wal_id
 * (caller holds lock). */
static void advance_durable(struct lsm_db *db)
{
	for (;;) {
		struct lsm_wal_slot *s = slot_of(db, db->durable_wal_id + 1);
		if (s->id != db->durable_wal_id + 1 || !s->landed)
			break;
		db->durable_wal_id = s->id;
		s->id = 0;
		s->landed = false;
		s->buf.len = 0;
		/* Slot buffers go back to the pending object at the next seal:
		 * keeping each big one (up to 2 x wal_upload_bytes, 16 MiB)
		 * held that much per slot for good after a burst of large
		 * writes (W3 raised peak RSS by ~50 MiB with four slots).
		 * Small ones are kept: commits reuse them. */
		if (s->buf.cap > WAL_KEEP_BYTES)
			lsm_buf_free(&s->buf);
		db->last_durable_ms = lsm_now_ms();
	}
}

/* PUTs slot s, which the caller marked uploading (caller holds lock; it is
 * dropped during the PUT). The slot's bytes are stable meanwhile: only its
 * uploader touches a slot marked uploading. */
static lsm_status upload_slot(struct lsm_db *db, struct lsm_wal_slot *s)
{
	struct lsm_buf cache = { 0 };
	char key[64];
	uint64_t id = s->id;
	lsm_status st;

	db->wal_uploading++;
	s->started_us = lsm_now_us();
	pthread_mutex_unlock(&db->lock);
	lsm_wal_key(id, key);
	zs3_status zst = zs3_put_if_absent(db->store, key, s->buf.data, s->buf.len, NULL);
	pthread_mutex_lock(&db->lock);
	db->wal_uploading--;
	s->uploading = false;
	if (zst == ZS3_OK) {
		uint64_t took = lsm_now_us() - s->started_us;
		db->wal_put_ewma_us = db->wal_put_ewma_us ? (db->wal_put_ewma_us * 7 + took) / 8 : took;
		s->landed = true;
		atomic_fetch_add(&db->stats.wal_uploads, 1);
		atomic_fetch_add(&db->stats.wal_batches, s->batches);
		atomic_fetch_add(&db->stats.wal_bytes, s->buf.len);
		db->wal_backoff_ms = 0;
		if (db->object_cache && s->has_values) {
			/* values in it will be read from it (vlog.h): keep a copy
			 * in the disk cache, written after the waiters are told */
			cache = s->buf;
			s->buf = (struct lsm_buf){ 0 };
		}
		advance_durable(db);
		if (db->durable_wal_id >= id)
			db->wal_error = LSM_OK;
		st = LSM_OK;
	} else if (zst == ZS3_EPRECONDITION) {
		st = lsm_fail(LSM_EFENCED,
			      "WAL object %" PRIu64 " was written by a newer writer: this writer "
			      "(epoch %" PRIu64 ") is fenced",
			      id, db->writer_epoch);
		lsm_set_fatal(db, st);
	} else {
		/* the store is failing: this id, and so every id after it,
		 * waits; back off, up to 1 s between tries */
		st = lsm_from_zs3(zst);
		db->wal_backoff_ms =
			db->wal_backoff_ms
				? (db->wal_backoff_ms * 2 > 1000 ? 1000 : db->wal_backoff_ms * 2)
				: 50;
		s->retry_at_ms = lsm_now_ms() + db->wal_backoff_ms;
		db->wal_error = st;
		db->wal_error_gen++;
	}
	pthread_cond_broadcast(&db->durable_cond);
	pthread_cond_broadcast(&db->cond);
	if (cache.data) {
		pthread_mutex_unlock(&db->lock);
		/* unsynced: every value read from it is checked against its
		 * pointer's checksum (db_vlog.c) */
		(void)lsm_object_cache_insert_sync(db->object_cache, key, cache.data, cache.len,
						   false);
		lsm_buf_free(&cache);
		pthread_mutex_lock(&db->lock);
	}
	return st;
}

lsm_status lsm_wal_upload_pending(struct lsm_db *db)
{
	lsm_status st = LSM_OK;
	pthread_mutex_lock(&db->upload_lock);
	pthread_mutex_lock(&db->lock);
	/* every sealed object in id order, then the pending one (it may need
	 * a slot the others free); the background uploaders may take some */
	for (;;) {
		bool sealed;
		struct lsm_wal_slot *s;
		if (db->fatal) {
			st = db->fatal;
			break;
		}
		if ((s = next_to_upload(db, 0))) {
			s->uploading = true;
			if ((st = upload_slot(db, s)))
				break;
			continue;
		}
		if ((st = seal(db, &sealed)) || !sealed)
			break;
	}
	pthread_mutex_unlock(&db->lock);
	pthread_mutex_unlock(&db->upload_lock);
	return st;
}

lsm_status lsm_wal_wait_durable(struct lsm_db *db, uint64_t id)
{
	lsm_status st = LSM_OK;
	pthread_mutex_lock(&db->lock);
	uint64_t gen = db->wal_error_gen, t0 = 0;
	if (db->durable_wal_id < id)
		t0 = lsm_now_us();
	while (db->durable_wal_id < id && !db->fatal && db->wal_error_gen == gen) {
		if (!db->threads_started) {
			/* no uploader threads: do it ourselves */
			pthread_mutex_unlock(&db->lock);
			st = lsm_wal_upload_pending(db);
			pthread_mutex_lock(&db->lock);
			if (st)
				break;
			continue;
		}
		if (!db->wal_kick) { /* one wake-up for the uploaders, not one per writer */
			db->wal_kick = true;
			pthread_cond_broadcast(&db->cond);
		}
		/* Durable writers have a condvar of their own: waking them for
		 * every unrelated change made them miss the next upload. */
		lsm_cond_wait_ms(&db->durable_cond, &db->lock, 100);
	}
	if (db->durable_wal_id >= id)
		st = LSM_OK;
	else if (db->fatal)
		st = lsm_fail(db->fatal, "%s",
			      "writes are failing: the database is fenced or broken");
	else if (st == LSM_OK)
		st = lsm_fail(db->wal_error ? db->wal_error : LSM_ETRANSIENT,
			      "the WAL upload failed; the write is not durable yet");
	pthread_mutex_unlock(&db->lock);
	if (t0) {
		atomic_fetch_add(&db->stats.durable_waits, 1);
		atomic_fetch_add(&db->stats.durable_wait_us, lsm_now_us() - t0);
	}
	return st;
}

static void wait_until(struct lsm_db *db, uint64_t deadline_ms)
{
	struct timespec ts = { (time_t)(deadline_ms / 1000),
			       (long)(deadline_ms % 1000) * 1000000L };
	pthread_cond_timedwait(&db->cond, &db->lock, &ts);
}

/* May the pending object be sealed now, with uploads in flight? Only if
 * it is big enough to be worth a PUT of its own, or the oldest upload has
 * taken more than twice the usual time; otherwise it keeps filling (group
 * commit) until an upload returns. *until: when the second may first hold.
 * Caller holds lock. */
static bool may_seal(struct lsm_db *db, uint64_t now_us, uint64_t *until_us)
{
	uint64_t oldest = 0;
	bool busy = false;
	for (uint64_t id = db->durable_wal_id + 1; id < db->wal_pending_id; id++) {
		struct lsm_wal_slot *r = slot_of(db, id);
		if (r->id != id || r->landed)
			continue;
		busy = true; /* sealed, not in the store yet */
		if (r->uploading && (!oldest || r->started_us < oldest))
			oldest = r->started_us;
	}
	if (!busy || db->wal_buf.len >= db->o.wal_pipeline_bytes || !db->wal_put_ewma_us)
		return true;
	if (!oldest) /* only failed uploads waiting for their retry: they come first */
		return false;
	*until_us = oldest + 2 * db->wal_put_ewma_us;
	return now_us >= *until_us;
}

void *lsm_wal_thread(void *arg)
{
	struct lsm_db *db = arg;

	pthread_mutex_lock(&db->lock);
	while (!db->closing && !db->fatal) {
		uint64_t now = lsm_now_ms();
		struct lsm_wal_slot *s = next_to_upload(db, now);
		bool sealed = false;
		bool due = db->wal_enc_open && (db->wal_kick || now >= db->wal_next_due_ms ||
						db->wal_buf.len >= db->o.wal_upload_bytes);
		uint64_t hold_until_us = 0;
		bool held = due && !may_seal(db, lsm_now_us(), &hold_until_us);
		if (held)
			due = false; /* keeps filling until an upload returns */
		if (!s && due) {
			if (seal(db, &sealed))
				break; /* cannot happen: the encoder refuses nothing it took */
			if (sealed)
				s = next_to_upload(db, now);
		}
		if (s) {
			s->uploading = true;
			(void)upload_slot(db, s); /* failures: retried; waiters were told */
			db->bg_kick = true;       /* a frozen memtable may have become flushable */
			continue;
		}
		if (!db->wal_enc_open)
			/* A kick asks for what a waiter appended to be uploaded;
			 * with nothing pending, it was served. Left set, it would
			 * keep the next waiter from waking us. */
			db->wal_kick = false;
		/* Sleep until the periodic upload, or the earliest retry. Due but
		 * with every slot taken: until an upload returns (it broadcasts). */
		uint64_t until = db->wal_enc_open && !due && !held ? db->wal_next_due_ms
								   : now + db->o.flush_interval_ms;
		if (held && hold_until_us && hold_until_us / 1000 + 1 < until)
			until = hold_until_us / 1000 + 1; /* the oldest upload may be stuck by then */
		for (uint64_t id = db->durable_wal_id + 1; id < db->wal_pending_id; id++) {
			struct lsm_wal_slot *r = slot_of(db, id);
			if (r->id == id && !r->uploading && !r->landed && r->retry_at_ms < until)
				until = r->retry_at_ms;
		}
		if (until > now)
			wait_until(db, until);
		if (!db->wal_enc_open && db->wal_next_due_ms < lsm_now_ms())
			db->wal_next_due_ms = lsm_now_ms() + db->o.flush_interval_ms;
	}
	pthread_mutex_unlock(&db->lock);
	return NULL;
}
