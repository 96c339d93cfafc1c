/*
 * fsal_zerofs/fs/fs_tx.c - what the namespace (fs.c) and file contents
 * (fs_data.c) both build on: errors and their detail, transactions (one LSM
 * batch per change, the superblock written with it), loading inodes and
 * attributes, and iterating over one object's records.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "fs_int.h"

/* ---- errors and their detail ---- */

/* The detail of the last EIO this thread's zfs_* calls produced: written
 * whenever an EIO is made (zfs_errno of an engine failure, zfs_damaged), so
 * the detail read right after an EIO is that EIO's. */
static _Thread_local char detail[320];

const char *zfs_error_detail(void)
{
	return detail[0] ? detail : "no detail";
}

int zfs_damaged(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	return EIO;
}

int zfs_errno(lsm_status st)
{
	switch (st) {
	case LSM_OK: return 0;
	case LSM_ENOTFOUND: return ENOENT;
	case LSM_ETRANSIENT: return EAGAIN;
	case LSM_EFENCED: return EROFS;
	case LSM_EREADONLY: return EROFS;
	case LSM_ENOMEM: return ENOMEM;
	case LSM_EINVAL: return EINVAL;
	case LSM_ECLOSED: return EAGAIN;
	default: /* corruption, permanent store errors: the engine's detail
		  * was set with this status (lsm_fail), take it now */
		snprintf(detail, sizeof(detail), "%s: %s", lsm_strstatus(st), lsm_last_error());
		return EIO;
	}
}

void zfs_now(struct zfs_time *t)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	t->sec = ts.tv_sec;
	t->nsec = (uint32_t)ts.tv_nsec;
}

/* ---- transactions ---- */

/* The token of the last batch this thread's current zfs_* call applied;
 * 0 = none (zfs_op_begin). */
static _Thread_local uint64_t thread_token;

int zfs_tx_begin(struct zfs *fs, struct zfs_tx *tx, const struct zfs_locks *l)
{
	memset(tx, 0, sizeof(*tx));
	tx->fs = fs;
	tx->stripe = l->n ? l->idx[0] : ZFS_STRIPES; /* none: the tx must not move totals */
	tx->locks = *l;
	tx->b = lsm_batch_new();
	return tx->b ? 0 : ENOMEM;
}

void zfs_tx_put_raw(struct zfs_tx *tx, const uint8_t *k, size_t kl, const void *v, size_t vl)
{
	if (!tx->err && lsm_batch_put(tx->b, k, kl, v, vl) != LSM_OK)
		tx->err = ENOMEM;
}

void zfs_tx_del_raw(struct zfs_tx *tx, const uint8_t *k, size_t kl)
{
	if (!tx->err && lsm_batch_delete(tx->b, k, kl) != LSM_OK)
		tx->err = ENOMEM;
}

void zfs_tx_put_inode(struct zfs_tx *tx, const struct zfs_inode *in)
{
	uint8_t k[ZFS_KEY_INODE_LEN];
	size_t kl = zfs_key_inode(k, in->a.ino);
	int e = zfs_inode_encode(in, &tx->scratch);
	if (e && !tx->err)
		tx->err = e;
	zfs_tx_put_raw(tx, k, kl, tx->scratch.data, tx->scratch.len);
}

void zfs_tx_del_inode(struct zfs_tx *tx, uint64_t ino)
{
	uint8_t k[ZFS_KEY_INODE_LEN];
	zfs_tx_del_raw(tx, k, zfs_key_inode(k, ino));
}

static void tx_free(struct zfs_tx *tx)
{
	lsm_batch_free(tx->b);
	lsm_buf_free(&tx->scratch);
	tx->b = NULL;
}

void zfs_tx_abort(struct zfs_tx *tx)
{
	tx_free(tx);
}

int zfs_tx_commit(struct zfs_tx *tx, bool durable)
{
	struct zfs *fs = tx->fs;
	uint8_t k[ZFS_KEY_USAGE_LEN];
	struct zfs_usage u = { 0, 0 };
	bool moved = tx->dfiles || tx->dbytes;
	int err = tx->err;

	if (!err && moved) {
		/* the stripe's record, rewritten in the same batch: the totals
		 * are exact after a crash, and only this stripe's holders
		 * (which we are) write it */
		if (tx->stripe >= ZFS_STRIPES)
			err = zfs_damaged("a transaction changed the totals without a lock stripe");
		else {
			u.files = atomic_load(&fs->usage[tx->stripe].files) + tx->dfiles;
			u.bytes = atomic_load(&fs->usage[tx->stripe].bytes) + tx->dbytes;
			if (!(err = zfs_usage_encode(&u, &tx->scratch)))
				zfs_tx_put_raw(tx, k, zfs_key_usage(k, tx->stripe), tx->scratch.data,
					       tx->scratch.len);
			err = err ? err : tx->err;
		}
	}
	/* Apply first. Durability is a separate step: if the store fails
	 * there, the change stands (visible, and durable once the store
	 * recovers). */
	uint64_t token = 0;
	if (!err)
		err = zfs_errno(lsm_write_token(fs->db, tx->b, 0, &token));
	if (!err && moved) {
		atomic_store(&fs->usage[tx->stripe].files, u.files);
		atomic_store(&fs->usage[tx->stripe].bytes, u.bytes);
	}
	if (!err) {
		thread_token = token;
		for (unsigned i = 0; i < tx->locks.n; i++) {
			_Atomic uint64_t *t = &fs->stripe_token[tx->locks.idx[i]];
			uint64_t cur = atomic_load(t);
			while (cur < token && !atomic_compare_exchange_weak(t, &cur, token))
				;
		}
	}
	tx_free(tx);
	if (!err && durable)
		err = zfs_errno(lsm_wait_durable(fs->db, token));
	return err;
}

int zfs_commit(struct zfs *fs)
{
	return zfs_errno(lsm_flush(fs->db));
}

void zfs_op_begin(void)
{
	thread_token = 0;
}

int zfs_commit_mine(struct zfs *fs)
{
	if (!thread_token)
		return zfs_commit(fs); /* nothing of ours: what we answered from must be durable */
	return zfs_errno(lsm_wait_durable(fs->db, thread_token));
}


/* ---- records ---- */

int zfs_load_inode(struct zfs *fs, uint64_t ino, struct zfs_inode *in)
{
	uint8_t k[ZFS_KEY_INODE_LEN];
	struct lsm_buf v = { 0 };
	int err = zfs_errno(lsm_get(fs->db, k, zfs_key_inode(k, ino), &v));
	if (!err && zfs_inode_decode(v.data, v.len, ino, in))
		err = zfs_damaged("inode %" PRIu64 ": malformed record (%zu bytes)", ino, v.len);
	lsm_buf_free(&v);
	return err == ENOENT ? ESTALE : err;
}

int zfs_iter_from(struct zfs *fs, const uint8_t *start, size_t len, struct lsm_db_iter **out)
{
	struct lsm_read_options ro = { 0 };
	lsm_status st;

	ro.prefix = start; /* copied by lsm_iterator */
	ro.prefix_len = ZFS_KEY_PREFIX_LEN;
	if ((st = lsm_iterator(fs->db, &ro, out)))
		return zfs_errno(st);
	lsm_db_iter_seek(*out, start, len);
	return 0;
}


/* ---- attributes ---- */

int zfs_getattr(struct zfs *fs, uint64_t ino, struct zfs_attr *attr)
{
	struct zfs_inode in;
	int err = zfs_load_inode(fs, ino, &in);
	if (!err) {
		*attr = in.a;
		zfs_inode_free(&in);
	}
	return err;
}

int zfs_getattr_gen(struct zfs *fs, uint64_t ino, uint64_t gen, struct zfs_attr *attr)
{
	int err = zfs_getattr(fs, ino, attr);
	return !err && attr->gen != gen ? ESTALE : err;
}
