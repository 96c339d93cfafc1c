/*
 * fsal_zerofs/fs/fs_locks.c - what lets mutations of different objects run at
 * once: lock stripes (taken in ascending order), inode numbers handed out
 * from durably reserved ranges, and the usage totals kept per stripe, so no
 * record is written by every transaction (fs_int.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "fs_int.h"

/* Inode numbers reserved per superblock write: one durable write per this
 * many creates. Numbers left of a range at a restart are skipped. */
#define INO_RANGE 1024u

unsigned zfs_stripe_of(uint64_t ino)
{
	/* Fibonacci hashing: consecutive inode numbers (a directory's new
	 * files) land on different stripes */
	return (unsigned)((ino * UINT64_C(0x9E3779B97F4A7C15)) >> 56) % ZFS_STRIPES;
}

void zfs_lock(struct zfs *fs, struct zfs_locks *l, const uint64_t *inos, unsigned n)
{
	l->n = 0;
	for (unsigned i = 0; i < n; i++) {
		if (!inos[i])
			continue;
		unsigned s = zfs_stripe_of(inos[i]), j = l->n;
		bool dup = false;
		for (unsigned k = 0; k < l->n; k++)
			dup |= l->idx[k] == s;
		if (dup)
			continue;
		while (j > 0 && l->idx[j - 1] > s) { /* insertion: ascending */
			l->idx[j] = l->idx[j - 1];
			j--;
		}
		l->idx[j] = s;
		l->n++;
	}
	pthread_rwlock_rdlock(&fs->quiesce);
	l->held = true;
	for (unsigned k = 0; k < l->n; k++) {
		pthread_mutex_t *m = &fs->stripe[l->idx[k]];
		if (pthread_mutex_trylock(m) == 0)
			continue;
		struct timespec a, b; /* held by another: count the wait */
		clock_gettime(CLOCK_MONOTONIC, &a);
		pthread_mutex_lock(m);
		clock_gettime(CLOCK_MONOTONIC, &b);
		atomic_fetch_add(&fs->lock_waits, 1);
		atomic_fetch_add(&fs->lock_wait_ns, (uint64_t)((b.tv_sec - a.tv_sec) * 1000000000LL +
							      (b.tv_nsec - a.tv_nsec)));
	}
}

void zfs_unlock(struct zfs *fs, struct zfs_locks *l)
{
	if (!l->held)
		return;
	l->held = false;
	for (unsigned k = l->n; k > 0; k--)
		pthread_mutex_unlock(&fs->stripe[l->idx[k - 1]]);
	pthread_rwlock_unlock(&fs->quiesce);
	l->n = 0;
}

bool zfs_holds(const struct zfs_locks *l, const uint64_t *inos, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		if (!inos[i])
			continue;
		unsigned s = zfs_stripe_of(inos[i]);
		bool held = false;
		for (unsigned k = 0; k < l->n; k++)
			held |= l->idx[k] == s;
		if (!held)
			return false;
	}
	return true;
}

/* Here, beside the stripes, not in fs_tx.c: the stripe is what it waits for. */
int zfs_commit_ino(struct zfs *fs, uint64_t ino)
{
	uint64_t token = atomic_load(&fs->stripe_token[zfs_stripe_of(ino)]);
	return token ? zfs_errno(lsm_wait_durable(fs->db, token)) : 0;
}

void zfs_stats(struct zfs *fs, struct zfs_stats *out)
{
	out->lock_waits = atomic_load(&fs->lock_waits);
	out->lock_wait_ns = atomic_load(&fs->lock_wait_ns);
	out->folds = atomic_load(&fs->folds);
	out->fold_bytes = atomic_load(&fs->fold_bytes);
	out->repack_bytes = atomic_load(&fs->repack_bytes);
	out->repacker_runs = atomic_load(&fs->repacker_runs);
}

void zfs_lock_all(struct zfs *fs)
{
	pthread_rwlock_wrlock(&fs->quiesce);
}

void zfs_unlock_all(struct zfs *fs)
{
	pthread_rwlock_unlock(&fs->quiesce);
}

/* Writes the superblock with ino_limit = limit, durably (caller holds
 * alloc_lock). */
static int write_super(struct zfs *fs, uint64_t limit)
{
	struct zfs_super sb = { .legacy_chunks = fs->legacy_chunks, .fs_id = fs->fs_id,
				.next_ino = limit, .files = fs->base_files,
				.bytes_used = fs->base_bytes };
	struct lsm_buf v = { 0 };
	uint8_t k[ZFS_KEY_SUPER_LEN];
	struct lsm_batch *b = lsm_batch_new();
	int err = b ? zfs_super_encode(&sb, &v) : ENOMEM;
	if (!err && lsm_batch_put(b, k, zfs_key_super(k), v.data, v.len) != LSM_OK)
		err = ENOMEM;
	if (!err)
		err = zfs_errno(lsm_write(fs->db, b, LSM_WRITE_DURABLE));
	lsm_batch_free(b);
	lsm_buf_free(&v);
	return err;
}

int zfs_alloc_ino(struct zfs *fs, uint64_t *ino)
{
	int err = 0;
	pthread_mutex_lock(&fs->alloc_lock);
	if (fs->next_ino >= fs->ino_limit) {
		/* Durable before any number of it is handed out: a file
		 * handle given to a client then never names another file
		 * after a crash, whatever else of the create was lost. */
		uint64_t limit = fs->next_ino + INO_RANGE;
		if (!(err = write_super(fs, limit)))
			fs->ino_limit = limit;
	}
	if (!err)
		*ino = fs->next_ino++;
	pthread_mutex_unlock(&fs->alloc_lock);
	return err;
}

int zfs_ino_floor(struct zfs *fs, uint64_t ino)
{
	pthread_mutex_lock(&fs->alloc_lock);
	if (fs->next_ino <= ino)
		fs->next_ino = fs->ino_limit = ino + 1; /* the next create reserves past it */
	pthread_mutex_unlock(&fs->alloc_lock);
	return 0;
}

static uint64_t add_signed(uint64_t base, int64_t d)
{
	if (d < 0 && (uint64_t)-d > base)
		return 0; /* cannot happen with consistent records: fsck says so */
	return base + (uint64_t)d;
}

void zfs_totals(struct zfs *fs, uint64_t *files, uint64_t *bytes)
{
	int64_t df = 0, db = 0;
	for (unsigned s = 0; s < ZFS_STRIPES; s++) {
		df += atomic_load_explicit(&fs->usage[s].files, memory_order_relaxed);
		db += atomic_load_explicit(&fs->usage[s].bytes, memory_order_relaxed);
	}
	pthread_mutex_lock(&fs->alloc_lock);
	*files = add_signed(fs->base_files, df);
	*bytes = add_signed(fs->base_bytes, db);
	pthread_mutex_unlock(&fs->alloc_lock);
}

/* Calls fn for every usage record of the tree: one point read per stripe,
 * not an iterator. An iterator seeks in every SST of the tree (no bloom
 * filter helps a range), which at every mount read each SST's index and
 * pulled whole SSTs into the disk cache; a point read skips the SSTs whose
 * key range or filter rules the key out. */
static int for_usage(struct lsm_db *db, void (*fn)(void *, uint64_t, const struct zfs_usage *),
		     void *ctx)
{
	struct lsm_buf v = { 0 };
	int err = 0;

	for (unsigned s = 0; s < ZFS_STRIPES && !err; s++) {
		uint8_t k[ZFS_KEY_USAGE_LEN];
		struct zfs_usage u;
		lsm_status st = lsm_get(db, k, zfs_key_usage(k, s), &v);
		if (st == LSM_ENOTFOUND)
			continue;
		if ((err = zfs_errno(st)))
			break;
		if (zfs_usage_decode(v.data, v.len, &u))
			err = zfs_damaged("usage record of stripe %u: malformed (%zu bytes)", s, v.len);
		else
			fn(ctx, s, &u);
	}
	lsm_buf_free(&v);
	return err;
}

struct sum {
	int64_t files, bytes;
};

static void add_usage(void *ctx, uint64_t stripe, const struct zfs_usage *u)
{
	struct sum *s = ctx;
	(void)stripe;
	s->files += u->files;
	s->bytes += u->bytes;
}

int zfs_read_totals(struct lsm_db *db, const struct zfs_super *sb, uint64_t *files,
		    uint64_t *bytes)
{
	struct sum s = { 0, 0 };
	int err = for_usage(db, add_usage, &s);
	if (!err) {
		*files = add_signed(sb->files, s.files);
		*bytes = add_signed(sb->bytes_used, s.bytes);
	}
	return err;
}

static void load_usage(void *ctx, uint64_t stripe, const struct zfs_usage *u)
{
	struct zfs *fs = ctx;
	atomic_store(&fs->usage[stripe].files, u->files);
	atomic_store(&fs->usage[stripe].bytes, u->bytes);
}

/* fs_tx.c's zfs_open: the usage records into fs->usage. */
int zfs_load_usage(struct zfs *fs)
{
	return for_usage(fs->db, load_usage, fs);
}
