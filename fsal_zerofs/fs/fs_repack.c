/*
 * fsal_zerofs/fs/fs_repack.c - moving live file data out of WAL objects that
 * are mostly garbage. The engine keeps each extent's bytes in the WAL object
 * that uploaded them (lsm/vlog.h), and an object stays while any of its
 * values is live: after overwrites, most of it may be dead. An object whose
 * live fraction is below the bound has its live extents written again, the
 * same key with the same bytes: the copies land in a new WAL object, the old
 * pointers are shadowed, compaction drops them and GC deletes the object.
 *
 * Extent records are written once and only ever deleted (fs_data.c), so
 * writing one again with its own bytes is safe exactly while its chunk map
 * still uses it, which is checked under the inode's lock stripe (every
 * deletion of an extent holds it). Each move is an ordinary transaction: a
 * crash leaves some moved and some not, both readable.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fs_int.h"

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Writes extent (ino, chunk, id) again with its bytes if its map still uses
 * it; *moved says whether it did. */
static int move_extent(struct zfs *fs, const uint8_t *key, size_t kl, const uint8_t *v, size_t vl,
		       bool *moved)
{
	uint64_t ino = zfs_be64(key + 1), chunk = zfs_be64(key + 9), id = zfs_be64(key + 17);
	uint8_t mk[ZFS_KEY_MAP_LEN];
	struct lsm_buf mv = { 0 };
	struct zfs_locks l = { 0 };
	struct zfs_map m;
	struct zfs_tx tx;
	int err;

	*moved = false;
	zfs_lock(fs, &l, &ino, 1);
	err = zfs_errno(lsm_get(fs->db, mk, zfs_key_map(mk, ino, chunk), &mv));
	if (err == ENOENT) {
		err = 0; /* deleted since the walk saw it */
	} else if (!err && zfs_map_decode(mv.data, mv.len, &m)) {
		err = zfs_damaged("inode %llu chunk %llu: malformed chunk map",
				  (unsigned long long)ino, (unsigned long long)chunk);
	} else if (!err && zfs_map_uses(&m, id) && !(err = zfs_tx_begin(fs, &tx, &l))) {
		zfs_tx_put_raw(&tx, key, kl, v, vl);
		if (!(err = zfs_tx_commit(&tx, false)))
			*moved = true;
	}
	zfs_unlock(fs, &l);
	lsm_buf_free(&mv);
	return err;
}

int zfs_repack(struct zfs *fs, double max_live, zfs_repack_fn fn, void *ctx,
	       struct zfs_repack_stats *out)
{
	struct lsm_vlog_object *objs;
	struct lsm_read_options ro = { 0 };
	struct lsm_db_iter *it;
	uint8_t prefix = ZFS_KEY_EXTENT;
	uint64_t *pick = NULL;
	size_t n, np = 0;
	lsm_status st;
	int err = 0;

	memset(out, 0, sizeof(*out));
	zfs_op_begin();
	if ((st = lsm_vlog_objects(fs->db, &objs, &n)))
		return zfs_errno(st);
	if (n && !(pick = malloc(n * sizeof(*pick)))) {
		free(objs);
		return ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		if ((double)objs[i].live_bytes < max_live * (double)objs[i].bytes) {
			pick[np++] = objs[i].id;
			out->objects++;
			out->object_bytes += objs[i].bytes;
			out->live_bytes += objs[i].live_bytes;
		}
	free(objs);
	if (!np) {
		free(pick);
		return 0;
	}
	qsort(pick, np, sizeof(*pick), cmp_u64);
	ro.prefix = &prefix;
	ro.prefix_len = 1;
	if ((st = lsm_iterator(fs->db, &ro, &it))) {
		free(pick);
		return zfs_errno(st);
	}
	for (lsm_db_iter_seek_first(it); lsm_db_iter_valid(it) && !err; lsm_db_iter_next(it)) {
		uint64_t obj;
		if (atomic_load(&fs->repack_cancel))
			break; /* the filesystem is closing: the rest waits for next time */
		size_t kl, vl;
		bool moved;
		if (!lsm_db_iter_value_object(it, &obj) ||
		    !bsearch(&obj, pick, np, sizeof(*pick), cmp_u64))
			continue;
		const uint8_t *k = lsm_db_iter_key(it, &kl), *v = lsm_db_iter_value(it, &vl);
		if (!lsm_db_iter_valid(it))
			break; /* the value could not be read: status says why */
		if (kl != ZFS_KEY_EXTENT_LEN)
			continue; /* not an extent record: the check reports it */
		if ((err = move_extent(fs, k, kl, v, vl, &moved)) || !moved)
			continue;
		out->extents++;
		out->bytes += vl;
		atomic_fetch_add(&fs->repack_bytes, vl);
		if (fn && out->extents % 256 == 0)
			fn(ctx, out);
	}
	st = lsm_db_iter_status(it);
	lsm_db_iter_free(it);
	free(pick);
	if (!err && st)
		err = zfs_errno(st);
	if (!err)
		err = zfs_commit(fs); /* the copies durable before their old pointers go */
	if (fn)
		fn(ctx, out);
	return err;
}

/* ---- the server's repacker: a thread per filesystem ---- */

static void *repacker_main(void *arg)
{
	struct zfs *fs = arg;
	pthread_mutex_lock(&fs->repacker_lock);
	while (!fs->repacker_stop) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += (time_t)(fs->repacker_interval_ms / 1000);
		ts.tv_nsec += (long)(fs->repacker_interval_ms % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		while (!fs->repacker_stop &&
		       pthread_cond_timedwait(&fs->repacker_cond, &fs->repacker_lock, &ts) != ETIMEDOUT)
			;
		if (fs->repacker_stop)
			break;
		pthread_mutex_unlock(&fs->repacker_lock);
		struct zfs_repack_stats st;
		/* a failure (the store down, fenced) is tried again next time */
		(void)zfs_repack(fs, fs->repacker_max_live, NULL, NULL, &st);
		atomic_fetch_add(&fs->repacker_runs, 1);
		pthread_mutex_lock(&fs->repacker_lock);
	}
	pthread_mutex_unlock(&fs->repacker_lock);
	return NULL;
}

int zfs_repacker_start(struct zfs *fs, uint64_t interval_ms, double max_live)
{
	if (fs->repacker_running || !interval_ms || max_live <= 0)
		return EINVAL;
	fs->repacker_interval_ms = interval_ms;
	fs->repacker_max_live = max_live;
	fs->repacker_stop = false;
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&fs->repacker_cond, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&fs->repacker_lock, NULL);
	int e = pthread_create(&fs->repacker, NULL, repacker_main, fs);
	if (e) {
		pthread_cond_destroy(&fs->repacker_cond);
		pthread_mutex_destroy(&fs->repacker_lock);
		return e;
	}
	fs->repacker_running = true;
	return 0;
}

void zfs_repacker_stop(struct zfs *fs)
{
	if (!fs->repacker_running)
		return;
	atomic_store(&fs->repack_cancel, true);
	pthread_mutex_lock(&fs->repacker_lock);
	fs->repacker_stop = true;
	pthread_cond_broadcast(&fs->repacker_cond);
	pthread_mutex_unlock(&fs->repacker_lock);
	pthread_join(fs->repacker, NULL);
	pthread_cond_destroy(&fs->repacker_cond);
	pthread_mutex_destroy(&fs->repacker_lock);
	fs->repacker_running = false;
	atomic_store(&fs->repack_cancel, false);
}
