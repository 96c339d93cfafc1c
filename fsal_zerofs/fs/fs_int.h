/*
 * fsal_zerofs/fs/fs_int.h - the core's internals: what fs.c (namespace),
 * fs_data.c (file contents), fs_tx.c (transactions, loading records,
 * errors) and fs_check.c (checks and repairs) share. Not for the layers
 * above: they use fs.h and fs_check.h.
 */
#ifndef ZEROFS_FS_INT_H
#define ZEROFS_FS_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "fs_records.h"

/* Lock stripes: an inode's lock is stripe zfs_stripe_of(ino). A mutation
 * holds the stripes of every inode it changes (and of the directories whose
 * entries it reads to decide), taken in ascending stripe order, from loading
 * those records until its batch is applied; never across a durable wait or
 * any other object-store round trip it can avoid. Stripes are also where the
 * usage totals are kept: one record and counter per stripe, changed only
 * under that stripe's lock. */
#define ZFS_STRIPES 256u

struct zfs {
	struct lsm_db *db;
	uint64_t fs_id; /* read-only after open */
	/* A format 1 filesystem: whole-chunk records ('k') may exist, and are
	 * read where a chunk has no map. Read-only after open. */
	bool legacy_chunks;
	pthread_mutex_t stripe[ZFS_STRIPES];
	/* Shared by every holder of stripes (zfs_lock), exclusive for repairs
	 * that may touch anything (zfs_lock_all): one lock, not 256 at once. */
	pthread_rwlock_t quiesce;
	/* Cross-directory renames, one at a time (as the kernel's
	 * s_vfs_rename_mutex): the "not into its own subtree" walk reads
	 * ".." pointers that only such renames change. Outside every stripe. */
	pthread_mutex_t rename_lock;
	/* Inode numbers: handed out from [next_ino, ino_limit); the superblock
	 * says ino_limit, made durable before any number below it is handed
	 * out. Also guards the base totals. Innermost: nothing is locked while
	 * it is held but the engine's own locks. */
	pthread_mutex_t alloc_lock;
	uint64_t next_ino, ino_limit;
	uint64_t base_files, base_bytes; /* the superblock's totals */
	/* The usage records' values (stripe s's record, changed under stripe s;
	 * read without it by statfs). */
	struct {
		_Atomic int64_t files, bytes;
	} usage[ZFS_STRIPES];
	/* The engine's token (lsm_write_token) of the newest batch that
	 * changed an inode of each stripe: what a COMMIT of such an inode
	 * waits for (zfs_commit_ino). Only grows. */
	_Atomic uint64_t stripe_token[ZFS_STRIPES];
	_Atomic uint64_t lock_waits, lock_wait_ns; /* zfs_stats */
	_Atomic uint64_t folds, fold_bytes;        /* zfs_stats: chunk maps folded */
	_Atomic uint64_t repack_bytes;             /* zfs_stats: data moved by zfs_repack */
	/* The repacker thread (fs_repack.c, zfs_repacker_start): every
	 * repacker_interval_ms, zfs_repack(repacker_max_live). */
	pthread_t repacker;
	pthread_mutex_t repacker_lock;
	pthread_cond_t repacker_cond;
	bool repacker_running, repacker_stop;
	uint64_t repacker_interval_ms;
	double repacker_max_live;
	_Atomic uint64_t repacker_runs;
	atomic_bool repack_cancel; /* zfs_repacker_stop: a pass under way stops early */
};

/* The stripes one operation holds: ascending, no duplicates. */
struct zfs_locks {
	bool held; /* zfs_lock'ed and not zfs_unlock'ed yet */
	unsigned n;
	unsigned idx[4];
};

unsigned zfs_stripe_of(uint64_t ino);
/* Locks the stripes of inos (n <= 4; 0 entries are ignored) in order. */
void zfs_lock(struct zfs *fs, struct zfs_locks *l, const uint64_t *inos, unsigned n);
void zfs_unlock(struct zfs *fs, struct zfs_locks *l);
/* Does l hold every stripe of inos? */
bool zfs_holds(const struct zfs_locks *l, const uint64_t *inos, unsigned n);
/* Everything: no stripe is held by anyone meanwhile (repairs). */
void zfs_lock_all(struct zfs *fs);
void zfs_unlock_all(struct zfs *fs);
/* The next inode number; reserves (durably) a new range when the current
 * one is used up. Takes alloc_lock; call it holding no stripe. */
int zfs_alloc_ino(struct zfs *fs, uint64_t *ino);
/* Makes every number handed out from now on greater than ino (repairs). */
int zfs_ino_floor(struct zfs *fs, uint64_t ino);
/* The filesystem's totals: base + every stripe's usage. */
void zfs_totals(struct zfs *fs, uint64_t *files, uint64_t *bytes);
/* The same read from the tree without opening it (tools, fsck): superblock
 * and usage records. */
int zfs_read_totals(struct lsm_db *db, const struct zfs_super *s, uint64_t *files,
		    uint64_t *bytes);

/* Every public mutator starts with this: the thread has no change of this
 * call to wait for yet (zfs_commit_mine). */
void zfs_op_begin(void);

/* zfs_open: the usage records into fs->usage. */
int zfs_load_usage(struct zfs *fs);

/* A mutation being assembled: one LSM batch, committed by tx_commit, plus
 * the change it makes to the totals, written with it into the usage record
 * of a stripe it holds. */
struct zfs_tx {
	struct zfs *fs;
	struct lsm_batch *b;
	struct lsm_buf scratch;
	unsigned stripe; /* whose usage record takes dfiles/dbytes */
	struct zfs_locks locks; /* the stripes whose tokens the batch moves */
	int64_t dfiles, dbytes;
	int err; /* sticky: the first failure */
};

/* l: the stripes the caller holds (the tx's usage goes to the first). */
int zfs_tx_begin(struct zfs *fs, struct zfs_tx *tx, const struct zfs_locks *l);
void zfs_tx_put_inode(struct zfs_tx *tx, const struct zfs_inode *in);
void zfs_tx_del_inode(struct zfs_tx *tx, uint64_t ino);
void zfs_tx_put_raw(struct zfs_tx *tx, const uint8_t *k, size_t kl, const void *v, size_t vl);
void zfs_tx_del_raw(struct zfs_tx *tx, const uint8_t *k, size_t kl);
/* Commit applies the batch (with the usage record if dfiles/dbytes moved)
 * and then publishes the new usage; abort drops it. Both free the tx. */
int zfs_tx_commit(struct zfs_tx *tx, bool durable);
void zfs_tx_abort(struct zfs_tx *tx);

/* ESTALE if ino has no record; EIO (with detail) if it is malformed. */
int zfs_load_inode(struct zfs *fs, uint64_t ino, struct zfs_inode *in);
/* Adds name -> ino (of type) to directory `dir` in tx: its entry and cookie
 * index record; dir->next_cookie moves (in memory: the caller puts dir).
 * fs.c's, shared with the repairs of fs_check.c. */
void tx_add_entry(struct zfs_tx *tx, struct zfs_inode *dir, const char *name, uint64_t ino,
		  enum zfs_type type);
void zfs_now(struct zfs_time *t);
/* An iterator over the records sharing start's first ZFS_KEY_PREFIX_LEN
 * bytes (one object's), positioned at start (len bytes). */
int zfs_iter_from(struct zfs *fs, const uint8_t *start, size_t len, struct lsm_db_iter **out);
/* Records what is damaged as the detail of an EIO (zfs_error_detail) and
 * returns EIO; printf-style. */
int zfs_damaged(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Deletes every chunk of ino from chunk index `from` on (maps, their
 * extents, and format 1 chunks); *freed = the bytes they held. */
int zfs_tx_del_chunks(struct zfs_tx *tx, uint64_t ino, uint64_t from, uint64_t *freed);

/* fs_extents.c: editing chunk maps. Each returns false if the map would
 * hold more than ZFS_MAP_MAX extents (nothing changed then: cut works on a
 * copy). */
/* Removes bytes [lo, hi) from the extents: trims, splits or drops them. */
bool zfs_map_cut(struct zfs_map *m, uint32_t lo, uint32_t hi);
/* Adds extent id as bytes [off, off + len) (the range must be cut first). */
bool zfs_map_insert(struct zfs_map *m, uint32_t off, uint32_t len, uint64_t id);
uint64_t zfs_map_bytes(const struct zfs_map *m); /* bytes the extents cover */
uint32_t zfs_map_end(const struct zfs_map *m);   /* end of the last extent */
bool zfs_map_uses(const struct zfs_map *m, uint64_t id);
/* A map holding more extents than this is folded into one by the write
 * that makes it so (fs_data.c). */
#define ZFS_MAP_FOLD 16

#endif
