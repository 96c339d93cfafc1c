/*
 * lsm/include/lsm.h - the engine's public API: a SlateDB-style LSM tree whose
 * objects live in an object store (s3/include/store.h).
 *
 * Writes go to a write-ahead log and an in-memory table; the WAL is uploaded
 * as numbered objects (group commit: concurrent durable writers share one
 * upload), full memtables become L0 SST objects, and background compaction
 * merges L0 into sorted runs. A numbered manifest, updated by create-only
 * PUTs, says which objects make up the tree and which writer owns it.
 *
 * Durability: lsm_write() returns once the batch is in the memtable (visible
 * to readers, lost on a crash) unless LSM_WRITE_DURABLE is set, in which case
 * it returns only after the object store acknowledged the WAL object holding
 * it. lsm_flush() makes every write so far durable.
 *
 * Thread safety: every call may be made from any thread concurrently, except
 * lsm_close(), which must be the last call.
 */
#ifndef ZEROFS_LSM_H
#define ZEROFS_LSM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coding.h"
#include "status.h"
#include "store.h"
#include "write_batch.h"

struct lsm_db;
struct lsm_db_iter;

/* Read-only opens (read_only = true) load the newest manifest and replay
 * the WAL objects after it into a private memtable, so every write a writer
 * has made durable is visible, as of the open. They take no writer epoch,
 * write nothing to the store and start no threads, so they never fence a
 * running writer and may run beside it. lsm_write, lsm_flush, lsm_gc,
 * lsm_compact_all and checkpoints return LSM_EREADONLY; lsm_maintain does
 * nothing. The view does not follow later writes: reopen to see them. */
struct lsm_options {
	struct zs3_store *store;   /* borrowed: close it after lsm_close() */
	bool read_only;            /* no writer epoch is taken; nothing is written */
	const char *checkpoint;    /* with read_only: open the tree as this checkpoint pinned it */

	size_t memtable_bytes;     /* freeze the memtable at this size; 0 = 64 MiB */
	unsigned max_frozen;       /* writers wait while this many await flushing; 0 = 2 */
	unsigned flush_interval_ms;/* upload unflushed WAL at least this often; 0 = 100 */
	size_t wal_upload_bytes;   /* ...or when this many bytes are unflushed; 0 = 8 MiB */
	/* WAL uploads in flight at most (1 to 8; 0 = 4). Writes become
	 * durable strictly in WAL order whatever order the uploads land in.
	 * A further upload starts while one is in flight only when the next
	 * object holds wal_pipeline_bytes (0 = 256 KiB), or the oldest upload
	 * in flight has taken twice the usual PUT time (a slow or stuck
	 * request); otherwise writers that arrive meanwhile fill the next
	 * object (group commit): small commits cost few PUTs, large writes
	 * and slow stores get uploads in parallel. */
	unsigned wal_max_inflight;
	size_t wal_pipeline_bytes;

	size_t block_size;         /* SST data block target; 0 = 4096 */
	int compression_level;     /* zstd level; 0 = 3, negative = off */
	unsigned bloom_bits_per_key; /* 0 = 10 */
	size_t sst_target_bytes;   /* compaction output SST size; 0 = 32 MiB */
	unsigned l0_compaction_trigger; /* compact when L0 holds this many SSTs; 0 = 4 */
	unsigned l0_max;           /* writers wait while L0 holds this many; 0 = 16 */
	unsigned max_runs;         /* merge sorted runs beyond this many; 0 = 8 */
	/* A write that has waited this long on backpressure (memtables or L0
	 * full, WAL uploads behind, e.g. while the store does not answer) fails
	 * with LSM_ETRANSIENT instead of waiting on: nothing of it is applied,
	 * and the caller may retry. 0 = 10000 (10 s). */
	unsigned write_stall_ms;

	size_t block_cache_bytes;  /* in-memory block cache; 0 = 64 MiB */
	const char *cache_dir;     /* on-disk object cache; NULL = none */
	uint64_t cache_dir_bytes;  /* its size limit (required with cache_dir) */

	/* Values of at least this many bytes are separated at flush: the SST
	 * holds a pointer to the value's bytes in the WAL object that already
	 * holds them, so they are uploaded once and compaction moves only the
	 * pointer (docs/ARCHITECTURE.md, "Value separation"). 0 = 1024;
	 * SIZE_MAX = never. */
	size_t value_sep_bytes;

	uint64_t gc_min_age_ms;    /* unreferenced objects younger than this are kept; 0 = 1 h */
	uint64_t gc_interval_ms;   /* background GC runs this often; 0 = 10 min */
	bool no_background;        /* tests: no background threads; call lsm_maintain() */
};

lsm_status lsm_open(const struct lsm_options *opts, struct lsm_db **out);
/* Uploads what is unflushed (best effort), stops background work, frees. */
lsm_status lsm_close(struct lsm_db *db);

/* Value of the newest version of key: LSM_OK (value in *out) or LSM_ENOTFOUND. */
lsm_status lsm_get(struct lsm_db *db, const void *key, size_t klen, struct lsm_buf *out);

#define LSM_WRITE_DURABLE 1u
/* Applies the batch atomically (all or nothing, also across a crash). */
lsm_status lsm_write(struct lsm_db *db, const struct lsm_batch *batch, unsigned flags);
/* lsm_write, and *token (if not NULL) names the batch for lsm_wait_durable:
 * waiting for it waits for this batch and what was committed before it,
 * not for what others commit after it (for an empty batch: everything
 * committed before the call). */
lsm_status lsm_write_token(struct lsm_db *db, const struct lsm_batch *batch, unsigned flags,
			   uint64_t *token);
/* Returns once the write token names (and every write before it) is
 * durable; at once if it already is. Errors as lsm_flush. */
lsm_status lsm_wait_durable(struct lsm_db *db, uint64_t token);
/* Returns once every write made before the call is durable in the store. */
lsm_status lsm_flush(struct lsm_db *db);

struct lsm_read_options {
	const uint8_t *lower; size_t lower_len; /* inclusive; NULL = from the start */
	const uint8_t *upper; size_t upper_len; /* exclusive; NULL = to the end */
	const uint8_t *prefix; size_t prefix_len; /* only keys with this prefix; NULL = all */
};
/* An iterator over user keys (seek_first/seek/next/valid/key/value/status
 * below) that sees a consistent snapshot taken when it was created,
 * and keeps what it needs alive until lsm_db_iter_free(). */
lsm_status lsm_iterator(struct lsm_db *db, const struct lsm_read_options *ro,
			struct lsm_db_iter **out);
void lsm_db_iter_free(struct lsm_db_iter *it);
/* The first key within the bounds and prefix. */
void lsm_db_iter_seek_first(struct lsm_db_iter *it);
/* The first key >= user_key within the bounds and prefix (a key below them
 * seeks to their start). */
void lsm_db_iter_seek(struct lsm_db_iter *it, const void *user_key, size_t len);
void lsm_db_iter_next(struct lsm_db_iter *it);
bool lsm_db_iter_valid(const struct lsm_db_iter *it);
/* Valid until the next move. Only while valid. */
const uint8_t *lsm_db_iter_key(const struct lsm_db_iter *it, size_t *len);
/* A value stored out of line is read here, on first asking (a walk that
 * needs only keys reads none); if that read fails, valid() becomes false,
 * status() says why, and this returns an empty value. */
const uint8_t *lsm_db_iter_value(struct lsm_db_iter *it, size_t *len);
/* Whether the current entry's value is kept in a WAL object (vlog: flushed
 * and separated), and which (*obj); reads nothing. Only while valid. */
bool lsm_db_iter_value_object(const struct lsm_db_iter *it, uint64_t *obj);
/* LSM_OK, or the error (from a source, corruption, out of memory) that made
 * valid() false. */
lsm_status lsm_db_iter_status(const struct lsm_db_iter *it);

/* Checkpoints: a named, durable view of the tree as it is now (everything
 * written before the call). Opening with options.checkpoint reads it. */
lsm_status lsm_checkpoint_create(struct lsm_db *db, const char *name);
lsm_status lsm_checkpoint_delete(struct lsm_db *db, const char *name);

/* Runs one round of background work now: WAL upload, memtable flush,
 * compaction, GC as due. With no_background this is how work happens. */
lsm_status lsm_maintain(struct lsm_db *db);
/* Flushes the memtable and compacts everything into one sorted run. */
lsm_status lsm_compact_all(struct lsm_db *db);
/* Deletes objects no manifest or checkpoint references (older than min age). */
lsm_status lsm_gc(struct lsm_db *db, uint64_t *deleted);
/* Progress of a long operation: objects examined and deleted so far. Called
 * from the calling thread, often: throttle any output in fn. */
typedef void (*lsm_progress_fn)(void *ctx, uint64_t examined, uint64_t deleted);
/* lsm_gc, calling fn (may be NULL) for every object it examines. */
lsm_status lsm_gc_progress(struct lsm_db *db, lsm_progress_fn fn, void *fn_ctx, uint64_t *deleted);

/* ---- introspection (lsm/inspect.c), for tools such as `zerofs info` ---- */

struct lsm_level_desc {
	uint64_t run_id;  /* 0 for L0 */
	uint64_t ssts, bytes, entries;
};
struct lsm_checkpoint_desc {
	char name[256];
	uint64_t manifest_id;
	int64_t created_ms; /* wall clock */
};
/* The tree as this handle sees it (its current manifest). */
struct lsm_description {
	bool read_only;
	uint64_t manifest_id, writer_epoch;
	uint64_t last_seq;     /* highest sequence number in SSTs */
	uint64_t visible_seq;  /* highest sequence number this handle sees */
	uint64_t wal_flushed;  /* WAL objects below this id are wholly in SSTs */
	uint64_t wal_next;     /* the first WAL id past what was replayed at open */
	uint64_t wal_replayed_objects, wal_replayed_bytes; /* WAL backlog found at open */
	uint64_t memtable_bytes;
	size_t level_count;    /* levels[0] is L0, then the sorted runs, newest first */
	struct lsm_level_desc *levels;
	size_t checkpoint_count;
	struct lsm_checkpoint_desc *checkpoints;
};
lsm_status lsm_describe(struct lsm_db *db, struct lsm_description *out);
void lsm_description_free(struct lsm_description *d);

/* Values kept in WAL objects (lsm/vlog.h): the WAL objects that the
 * handle's SSTs point into, their bytes in the store,
 * and the value bytes the pointers cover (the rest of those objects is
 * garbage: superseded values, metadata already in SSTs). Lists the store's
 * WAL objects once. */
struct lsm_vlog_census {
	uint64_t objects, object_bytes, live_bytes;
};
lsm_status lsm_vlog_census(struct lsm_db *db, struct lsm_vlog_census *out);
/* The same, object by object (sorted by id; free *out with free()). */
struct lsm_vlog_object {
	uint64_t id;         /* WAL object id */
	uint64_t bytes;      /* its size in the store */
	uint64_t live_bytes; /* value bytes SSTs point to in it */
};
lsm_status lsm_vlog_objects(struct lsm_db *db, struct lsm_vlog_object **out, size_t *n);

/* The objects of a tree in a store, by kind (listing every key once). */
struct lsm_object_census {
	uint64_t manifests, manifest_bytes;
	uint64_t wals, wal_bytes;
	uint64_t ssts, sst_bytes;
	uint64_t others, other_bytes; /* keys the engine does not name */
	int64_t newest_mtime_ms;      /* of any object; 0 if none */
};
lsm_status lsm_census(struct zs3_store *store, lsm_progress_fn fn, void *fn_ctx,
		      struct lsm_object_census *out);

/* When a writer last wrote the tree, without opening it (a few requests):
 * the newest manifest and the newest WAL object from its wal_flushed on.
 * LSM_ENOTFOUND if the store holds no tree. A running writer that has had
 * nothing to write writes nothing, so an old time does not prove that no
 * writer has the tree open. */
struct lsm_activity {
	uint64_t manifest_id, writer_epoch;
	int64_t manifest_mtime_ms; /* wall clock, ms since the epoch */
	uint64_t newest_wal_id;    /* 0 if none from wal_flushed on */
	int64_t newest_wal_mtime_ms;
};
lsm_status lsm_activity(struct zs3_store *store, struct lsm_activity *out);

/* ---- verification (lsm/verify.c), for tools such as `zerofs fsck` ---- */

/* One object verified: reported for every object read, intact or not, so it
 * doubles as progress. */
struct lsm_verify_report {
	const char *key;    /* the object's key: manifest/<id>, sst/<id>.sst, wal/<id>.wal */
	lsm_status status;  /* LSM_OK intact; LSM_ECORRUPT damaged; LSM_ENOTFOUND missing */
	const char *detail; /* what is wrong (NULL when intact) */
	uint64_t bytes;     /* bytes read */
};
typedef void (*lsm_verify_fn)(void *ctx, const struct lsm_verify_report *r);
struct lsm_verify_summary {
	uint64_t manifest_id;         /* the tree's manifest */
	uint64_t manifests, ssts, wals; /* objects read (checkpoints' manifests count) */
	uint64_t bytes;               /* their bytes */
	uint64_t data_blocks, entries; /* in the SSTs */
	uint64_t wal_records;
	uint64_t vlog_objects;        /* older WAL objects read because SSTs point into them */
	uint64_t damaged;             /* objects reported damaged or missing */
};
/* Reads every live object of the tree in full and checks it, as a reader
 * never does at once: the manifest (checksum, format, runs in key order and
 * disjoint, sequence ranges), every SST of it and of every checkpoint's
 * manifest (lsm_sst_check in sst_reader.h: footer, index, filter, meta and
 * every data block with its checksum, and what the manifest says of it), and
 * the WAL objects from wal_flushed on (every record, the replay's sequence
 * rules). Whole-object reads, past every cache. Damage is reported through fn
 * (may be NULL) and counted, never returned: LSM_OK means every object was
 * read (summary->damaged says whether all were intact); another status means
 * the walk could not finish (the store failed, out of memory). An SST that
 * disappears while the store's newest manifest moves on was replaced by a
 * running writer, not lost, and is not reported.
 *
 * lsm_verify checks the tree as a handle (read-only or writer) opened it: its
 * manifest (a handle opened at a checkpoint reads no WAL). lsm_verify_store
 * checks the store's newest manifest without opening the tree, so it also
 * names the damage when lsm_open refuses the tree (a damaged manifest or WAL
 * object); it writes nothing and may run beside a writer. */
lsm_status lsm_verify(struct lsm_db *db, lsm_verify_fn fn, void *fn_ctx,
		      struct lsm_verify_summary *out);
lsm_status lsm_verify_store(struct zs3_store *store, lsm_verify_fn fn, void *fn_ctx,
			    struct lsm_verify_summary *out);

struct lsm_stats {
	uint64_t gets, bloom_negatives, bloom_positives;
	uint64_t block_cache_hits, block_cache_misses;
	uint64_t disk_cache_hits, disk_cache_misses;
	uint64_t writes, user_bytes_written;
	uint64_t wal_uploads, wal_batches, wal_bytes;
	uint64_t memtable_flushes, l0_bytes_written;
	uint64_t compactions, compaction_bytes_written;
	uint64_t memtable_bytes, block_cache_bytes;
	uint64_t l0_count, run_count, sst_count;
	uint64_t writer_epoch, manifest_id;
	uint64_t last_durable_ms_ago;
	uint64_t disk_cache_bytes;    /* held by the on-disk object cache */
	uint64_t wal_unflushed_bytes; /* WAL bytes not acknowledged by the store yet (0: all durable) */
	uint64_t write_stalls;        /* writes refused after waiting write_stall_ms on backpressure */
	uint64_t wal_uploads_in_flight; /* WAL PUTs under way now (at most wal_max_inflight) */
	uint64_t durable_waits;       /* waits for durability (durable writes, flushes) that had to wait */
	uint64_t durable_wait_us;     /* their total time, microseconds */
	/* value separation (vlog.h): values flushes left in their WAL objects,
	 * and reads of them from the store (cache misses) */
	uint64_t vlog_separated, vlog_separated_bytes;
	uint64_t vlog_reads, vlog_read_bytes;
	uint64_t vlog_objects, vlog_live_bytes; /* WAL objects the current SSTs point into, and
						 * the value bytes they point to */
};
void lsm_stats(struct lsm_db *db, struct lsm_stats *out);

/* The on-disk object cache's size, as the seed's SLATEDB_CACHE_SIZE_GB: a
 * positive decimal number of GiB ("10", "0.5"), in bytes. Anything else is
 * LSM_EINVAL naming the setting (name) and the value. (object_cache.c) */
lsm_status lsm_parse_cache_size_gb(const char *name, const char *value, uint64_t *bytes);

#endif
