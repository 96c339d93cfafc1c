/*
 * lsm/db_int.h - the database's private state, shared by the files that
 * implement it: db.c (open, close, reads, writes), db_wal.c (the WAL
 * uploader and group commit), db_flush.c (memtable flushes, compaction,
 * manifest updates), db_sst.c (opening SSTs through the caches).
 *
 * Locking, outermost first:
 *   write_lock    serialises writers: sequence numbers, memtable inserts and
 *                 WAL appends happen in one order.
 *   manifest_lock serialises manifest updates (flush, compaction, checkpoints).
 *   lock          guards the small shared state below; never held across I/O.
 */
#ifndef ZEROFS_LSM_DB_INT_H
#define ZEROFS_LSM_DB_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "block_cache.h"
#include "clock.h"
#include "lsm.h"
#include "manifest.h"
#include "memtable.h"
#include "object_cache.h"
#include "sst_reader.h"
#include "wal.h"

#define LSM_MAX_FROZEN 64

/* An immutable view of the tree's SSTs, shared by readers (refcounted). */
struct lsm_version {
	atomic_int refs;
	struct lsm_db *db;
	struct lsm_manifest m;
};

struct lsm_frozen {
	struct lsm_memtable *mt;
	uint64_t last_wal; /* the WAL id holding its last write: flushable once durable */
};

/* An SST some live version references; its reader is opened on first use
 * and closed when the last version referencing it goes. */
struct lsm_open_sst {
	uint64_t id;
	uint64_t size;
	int vrefs; /* live versions referencing it */
	struct lsm_sst *sst; /* NULL until first read */
	struct lsm_sst_source *src;
};

struct lsm_db {
	struct lsm_options o; /* defaults filled in */
	struct zs3_store *store;
	bool read_only;

	pthread_mutex_t write_lock;
	pthread_mutex_t manifest_lock;
	pthread_mutex_t compact_lock; /* one compaction at a time */
	pthread_mutex_t lock;
	pthread_cond_t cond; /* background threads, backpressured writers: any change */
	pthread_cond_t durable_cond; /* durable writers: WAL progress, failure, fatal, close */

	/* writes (lock) */
	uint64_t last_seq;             /* last sequence number handed out */
	atomic_uint_fast64_t visible_seq; /* readers see seqs <= this */
	struct lsm_memtable *active;
	uint64_t active_last_wal;
	struct lsm_frozen frozen[LSM_MAX_FROZEN]; /* oldest first */
	size_t n_frozen;

	/* WAL (lock). The pending object (wal_buf, id wal_pending_id) takes
	 * appends; sealed objects wait in wal_slots (slot id % LSM_WAL_MAX_INFLIGHT)
	 * for an uploader, up to o.wal_max_inflight of them: ids
	 * durable_wal_id + 1 .. wal_pending_id - 1. They may land in any order;
	 * durable_wal_id moves only over a contiguous run of landed ids. */
	uint64_t writer_epoch;
	uint64_t wal_pending_id;  /* the id the pending WAL object will get */
	pthread_mutex_t upload_lock; /* the synchronous path (no threads): one at a time */
	struct lsm_buf wal_buf;   /* the pending object, being encoded */
	struct lsm_wal_encoder wal_enc;
	bool wal_enc_open;
	uint64_t wal_pending_batches;
	bool wal_pending_values;  /* the pending object holds separable values */
#define LSM_VLOG_FETCHES 8
	uint64_t vlog_fetching[LSM_VLOG_FETCHES]; /* WAL objects being fetched whole for the disk cache (db_vlog.c); 0 = free */
	pthread_cond_t vlog_fetch_cond; /* (lock) a whole fetch of a WAL object ended */
	struct lsm_wal_slot {
		uint64_t id;            /* 0 = free */
		struct lsm_buf buf;     /* the finished object */
		uint64_t batches;
		bool has_values;        /* holds values flushes will point to (vlog.h) */
		bool uploading;         /* an uploader has it */
		bool landed;            /* the store has it; waits for the ids below */
		uint64_t retry_at_ms;   /* after a failure: not before this */
		uint64_t started_us;    /* when its current upload began */
	} wal_slots[LSM_WAL_MAX_INFLIGHT];
	unsigned wal_uploading;   /* slots being uploaded now */
	unsigned wal_backoff_ms;  /* after failures: doubling, up to 1 s; 0 = none */
	uint64_t wal_put_ewma_us; /* the usual WAL PUT time (moving average); 0 = none yet */
	uint64_t durable_wal_id;  /* every WAL id <= this is in the store */
	uint64_t wal_error_gen;   /* bumped when an upload fails */
	lsm_status wal_error;
	bool wal_kick;            /* a durable writer is waiting */
	uint64_t wal_next_due_ms; /* the periodic upload (flush_interval_ms) */
	uint64_t last_durable_ms;
	/* what lsm_open replayed (lsm_describe): WAL ids [wal_replay_first,
	 * wal_replay_next), how many objects and bytes were found */
	uint64_t wal_replay_first, wal_replay_next, wal_replayed_objects, wal_replayed_bytes;

	/* SST ids: writer epoch in the high 24 bits, a counter below, so two
	 * writers can never pick the same id */
	atomic_uint_fast64_t next_sst_id;
	atomic_int whole_fetches; /* SSTs being fetched whole for the disk cache (db_sst.c) */

	/* tree (lock for the pointer; manifest_lock to change it) */
	struct lsm_version *version;

	/* opened SSTs (lock) */
	struct lsm_open_sst *ssts;
	size_t n_ssts, cap_ssts;
	struct lsm_block_cache *block_cache;
	struct lsm_object_cache *object_cache;

	/* state (lock) */
	lsm_status fatal; /* e.g. LSM_EFENCED: no more writes */
	bool closing;
	bool threads_started;
	pthread_t wal_threads[LSM_WAL_MAX_INFLIGHT], bg_thread, compact_thread;
	unsigned n_wal_threads;
	bool bg_kick;      /* the flush thread has work */
	bool compact_kick; /* the compaction thread may have work */

	struct {
		atomic_uint_fast64_t gets, bloom_negatives, writes, user_bytes;
		atomic_uint_fast64_t wal_uploads, wal_batches, wal_bytes;
		atomic_uint_fast64_t flushes, l0_bytes, compactions, compaction_bytes;
		atomic_uint_fast64_t disk_hits, disk_misses;
		atomic_uint_fast64_t write_stalls; /* writes refused after write_stall_ms */
		atomic_uint_fast64_t durable_waits, durable_wait_us;
		atomic_uint_fast64_t vlog_reads, vlog_read_bytes; /* GETs of separated values */
		atomic_uint_fast64_t vlog_separated, vlog_separated_bytes; /* by flushes */
	} stats;
};


/* db_wal.c */
/* One of o.wal_max_inflight uploaders: seals the pending object when it is
 * due and uploads sealed ones. */
void *lsm_wal_thread(void *arg);
/* Seals the pending WAL object and uploads every sealed one, in this thread
 * (caller holds nothing): no_background, and lsm_maintain. */
lsm_status lsm_wal_upload_pending(struct lsm_db *db);
/* WAL bytes sealed but not yet in the store (caller holds lock). */
size_t lsm_wal_sealed_bytes(const struct lsm_db *db);
/* Waits until WAL id `id` is durable; the error of a failed upload otherwise. */
lsm_status lsm_wal_wait_durable(struct lsm_db *db, uint64_t id);
/* Appends a committed batch to the pending WAL object (caller holds lock and
 * write_lock; the batch is in db->active) and records in the memtable where
 * its separable values lie in that object. */
lsm_status lsm_wal_append(struct lsm_db *db, uint64_t first_seq, const struct lsm_batch *b);
/* Records in mt where the separable values (PUTs of at least
 * o.value_sep_bytes) of a batch body lie: WAL object wal_id, the body at
 * body_off in it (vlog.h). Caller serialises it with mt's writers. */
lsm_status lsm_wal_place_values(struct lsm_db *db, struct lsm_memtable *mt, uint64_t wal_id,
				size_t body_off, const uint8_t *body, size_t len, uint32_t count,
				uint64_t first_seq);

/* db_fatal.c: records a fatal state (e.g. fenced) and wakes every waiter.
 * Caller holds lock. */
void lsm_set_fatal(struct lsm_db *db, lsm_status st);

/* db_flush.c */
void *lsm_bg_thread(void *arg);      /* flushes frozen memtables */
void *lsm_compact_thread(void *arg); /* compaction and periodic GC */
/* Flushes the oldest frozen memtable if it is flushable; *did says so. */
lsm_status lsm_flush_one(struct lsm_db *db, bool *did);
/* Runs a compaction if one is due; *did says so. */
lsm_status lsm_compact_if_due(struct lsm_db *db, bool force_all, bool *did);
/* Freezes the active memtable if it holds anything (caller holds lock). */
lsm_status lsm_freeze_active(struct lsm_db *db);
/* Installs m as the next manifest version (caller holds manifest_lock; m->id
 * is set here). */
lsm_status lsm_install_manifest(struct lsm_db *db, struct lsm_manifest *m);

/* db_vlog.c: the value a pointer (vlog.h) names, read through the block
 * cache; LSM_ECORRUPT if it is missing or does not match its checksum. */
lsm_status lsm_vlog_read(struct lsm_db *db, const uint8_t *ref, size_t n, struct lsm_buf *out);

/* db_sst.c */
lsm_status lsm_db_sst(struct lsm_db *db, const struct lsm_sst_info *info, struct lsm_sst **out);
/* A private reader that bypasses the block cache (compaction reads each block
 * once: caching it would only evict what readers need). Caller closes it;
 * the SST must be in a version the caller holds. */
lsm_status lsm_db_sst_uncached(struct lsm_db *db, const struct lsm_sst_info *info,
			       struct lsm_sst **out);
/* Uploads a built SST and caches it locally. */
lsm_status lsm_db_put_sst(struct lsm_db *db, uint64_t id, const struct lsm_buf *bytes);
void lsm_db_close_ssts(struct lsm_db *db);

/* versions */
struct lsm_version *lsm_version_ref(struct lsm_db *db); /* takes lock */
void lsm_version_unref(struct lsm_version *v);
/* Makes the manifest (taken over) the current version (caller holds
 * manifest_lock, not lock). */
lsm_status lsm_version_install(struct lsm_db *db, struct lsm_manifest *m);

#endif
