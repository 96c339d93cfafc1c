/*
 * fsal_zerofs/fs/fs_int.h - the core's internals: what fs.c (namespace),
 * fs_data.c (file contents), fs_tx.c (transactions, loading records,
 * errors) and fs_check.c (checks and repairs) share. Not for the layers
 * above: they use fs.h and fs_check.h.
 */
#ifndef ZEROFS_FS_INT_H
#define ZEROFS_FS_INT_H

#include <pthread.h>

#include "fs_records.h"

struct zfs {
	struct lsm_db *db;
	pthread_mutex_t lock; /* serialises mutations; guards super */
	struct zfs_super super;
};

/* A mutation being assembled: one LSM batch, committed by tx_commit. */
struct zfs_tx {
	struct zfs *fs;
	struct lsm_batch *b;
	struct lsm_buf scratch;
	struct zfs_super saved; /* restored if the tx does not commit */
	int err; /* sticky: the first failure */
};

int zfs_tx_begin(struct zfs *fs, struct zfs_tx *tx);
void zfs_tx_put_inode(struct zfs_tx *tx, const struct zfs_inode *in);
void zfs_tx_del_inode(struct zfs_tx *tx, uint64_t ino);
void zfs_tx_put_raw(struct zfs_tx *tx, const uint8_t *k, size_t kl, const void *v, size_t vl);
void zfs_tx_del_raw(struct zfs_tx *tx, const uint8_t *k, size_t kl);
/* A tx may change fs->super in memory as it goes (caller holds fs->lock);
 * commit writes it into the batch and applies the batch; if that fails, or on
 * abort, fs->super is restored. Both free the tx. */
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
/* Deletes every chunk of ino from chunk index `from` on; *freed = their bytes. */
int zfs_tx_del_chunks(struct zfs_tx *tx, uint64_t ino, uint64_t from, uint64_t *freed);

#endif
