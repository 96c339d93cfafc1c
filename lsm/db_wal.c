/*
 * lsm/db_wal.c - the WAL uploader and group commit.
 *
 * Writers append their batches to the pending WAL object. One upload runs at
 * a time, in id order, so "every id <= durable_wal_id is in the store" holds.
 * While an upload is in flight, new writers keep appending to the next
 * object; when the upload returns, everything that accumulated goes in one
 * PUT: that is group commit. Uploads are create-only: a WAL id that already
 * exists was written by a newer writer that fenced us.
 *
 * A failed upload keeps its finished object (same id, same bytes) and is
 * retried before anything newer, so a write is never reported durable out of
 * order, and a retry whose first attempt did land is recognised by the store
 * layer (identical bytes, identical ETag).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "db_int.h"

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
	if ((st = lsm_wal_encoder_add(&db->wal_enc, first_seq, b)))
		return st;
	db->wal_pending_batches++;
	return LSM_OK;
}

/* Uploads the in-flight object (making the pending one in-flight first if
 * there is none). Caller holds upload_lock, not lock. */
static lsm_status upload_one(struct lsm_db *db, bool *more)
{
	char key[64];
	lsm_status st;
	zs3_status zst;

	pthread_mutex_lock(&db->lock);
	*more = false;
	if (db->fatal) {
		st = db->fatal;
		pthread_mutex_unlock(&db->lock);
		return st;
	}
	if (!db->wal_inflight_id) {
		if (!db->wal_enc_open) {
			pthread_mutex_unlock(&db->lock);
			return LSM_OK;
		}
		if ((st = lsm_wal_encoder_finish(&db->wal_enc))) {
			pthread_mutex_unlock(&db->lock);
			return st;
		}
		struct lsm_buf t = db->wal_inflight;
		db->wal_inflight = db->wal_buf;
		db->wal_buf = t;
		db->wal_buf.len = 0;
		db->wal_inflight_id = db->wal_pending_id++;
		db->wal_inflight_batches = db->wal_pending_batches;
		db->wal_pending_batches = 0;
		db->wal_enc_open = false;
	}
	uint64_t id = db->wal_inflight_id;
	pthread_mutex_unlock(&db->lock);

	/* wal_inflight is only touched under upload_lock, which we hold. */
	lsm_wal_key(id, key);
	zst = zs3_put_if_absent(db->store, key, db->wal_inflight.data, db->wal_inflight.len, NULL);

	pthread_mutex_lock(&db->lock);
	if (zst == ZS3_OK) {
		db->durable_wal_id = id;
		db->last_durable_ms = lsm_now_ms();
		atomic_fetch_add(&db->stats.wal_uploads, 1);
		atomic_fetch_add(&db->stats.wal_batches, db->wal_inflight_batches);
		atomic_fetch_add(&db->stats.wal_bytes, db->wal_inflight.len);
		db->wal_inflight_id = 0;
		db->wal_inflight.len = 0;
		if (db->wal_inflight.cap > 2 * db->o.wal_upload_bytes)
			lsm_buf_free(&db->wal_inflight); /* a burst's buffer: give it back */
		db->wal_error = LSM_OK;
		*more = db->wal_enc_open;
		st = LSM_OK;
	} else if (zst == ZS3_EPRECONDITION) {
		st = lsm_fail(LSM_EFENCED,
			      "WAL object %" PRIu64 " was written by a newer writer: this writer "
			      "(epoch %" PRIu64 ") is fenced", id, db->writer_epoch);
		lsm_set_fatal(db, st);
	} else {
		st = lsm_from_zs3(zst);
		db->wal_error = st;
		db->wal_error_gen++;
	}
	pthread_cond_broadcast(&db->durable_cond);
	pthread_cond_broadcast(&db->cond);
	pthread_mutex_unlock(&db->lock);
	return st;
}

lsm_status lsm_wal_upload_pending(struct lsm_db *db)
{
	lsm_status st;
	bool more = true;
	pthread_mutex_lock(&db->upload_lock);
	/* at most two rounds: the in-flight object, then what was pending */
	for (int i = 0; i < 2 && more; i++)
		if ((st = upload_one(db, &more)))
			break;
	pthread_mutex_unlock(&db->upload_lock);
	return st;
}

lsm_status lsm_wal_wait_durable(struct lsm_db *db, uint64_t id)
{
	lsm_status st = LSM_OK;
	pthread_mutex_lock(&db->lock);
	uint64_t gen = db->wal_error_gen;
	while (db->durable_wal_id < id && !db->fatal && db->wal_error_gen == gen) {
		if (!db->threads_started) {
			/* no uploader thread: do it ourselves */
			pthread_mutex_unlock(&db->lock);
			st = lsm_wal_upload_pending(db);
			pthread_mutex_lock(&db->lock);
			if (st)
				break;
			continue;
		}
		if (!db->wal_kick) { /* one wake-up for the WAL thread, not one per writer */
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
		st = lsm_fail(db->fatal, "%s", "writes are failing: the database is fenced or broken");
	else if (st == LSM_OK)
		st = lsm_fail(db->wal_error ? db->wal_error : LSM_ETRANSIENT,
			      "the WAL upload failed; the write is not durable yet");
	pthread_mutex_unlock(&db->lock);
	return st;
}

static void wait_until(struct lsm_db *db, uint64_t deadline_ms)
{
	struct timespec ts = { (time_t)(deadline_ms / 1000), (long)(deadline_ms % 1000) * 1000000L };
	pthread_cond_timedwait(&db->cond, &db->lock, &ts);
}

void *lsm_wal_thread(void *arg)
{
	struct lsm_db *db = arg;
	uint64_t next_due = lsm_now_ms() + db->o.flush_interval_ms;
	unsigned backoff = 0;

	pthread_mutex_lock(&db->lock);
	while (!db->closing && !db->fatal) {
		uint64_t now = lsm_now_ms();
		bool have = db->wal_enc_open || db->wal_inflight_id;
		bool due = have && (db->wal_kick || now >= next_due ||
				    db->wal_buf.len >= db->o.wal_upload_bytes || db->wal_inflight_id);
		if (!have)
			/* A kick is a request to upload what a waiter appended;
			 * with nothing left, it was served (by the second round
			 * of the last upload). Left set, it would stop the next
			 * waiter's kick from waking us: that waiter would then
			 * sleep until flush_interval_ms. */
			db->wal_kick = false;
		if (!due || (backoff && now < next_due)) {
			wait_until(db, have ? next_due : now + db->o.flush_interval_ms);
			if (!have)
				next_due = lsm_now_ms() + db->o.flush_interval_ms;
			continue;
		}
		db->wal_kick = false;
		pthread_mutex_unlock(&db->lock);
		lsm_status st = lsm_wal_upload_pending(db);
		pthread_mutex_lock(&db->lock);
		if (st && st != LSM_EFENCED) {
			/* the store is failing: back off, up to 1 s between tries */
			backoff = backoff ? (backoff * 2 > 1000 ? 1000 : backoff * 2) : 50;
			next_due = lsm_now_ms() + backoff;
		} else {
			backoff = 0;
			next_due = lsm_now_ms() + db->o.flush_interval_ms;
		}
		db->bg_kick = true; /* a frozen memtable may have become flushable */
		pthread_cond_broadcast(&db->cond);
	}
	pthread_mutex_unlock(&db->lock);
	return NULL;
}
