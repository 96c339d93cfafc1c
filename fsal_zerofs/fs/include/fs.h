/*
 * fsal_zerofs/fs/include/fs.h - the filesystem core: POSIX objects (inodes, directory
 * entries, file data in 64 KiB chunks) stored as records in the LSM tree.
 * No ganesha header is included here or in fs_*.c: the glue (export.c,
 * handle.c, ...) translates ganesha's calls into these, and the admin tool
 * reuses them.
 *
 * Every operation that changes several records (create, link, unlink, rename,
 * truncate) commits them as ONE write batch, so a crash leaves either all or
 * none. Durability is the caller's choice per call (`durable`): the batch is
 * in the object store before the call returns. If only that last step fails
 * (EAGAIN), the change has been made and becomes durable when the store
 * recovers; it is not undone.
 *
 * Errors are positive errno values (0 = success): ENOENT, EEXIST, ENOTDIR,
 * EISDIR, ENOTEMPTY, EINVAL, ENAMETOOLONG, EMLINK, ESTALE (an inode that no
 * longer exists or has another generation), EIO (corruption), EAGAIN (the
 * object store failed transiently: retry), EROFS (this server was fenced by
 * another), ENOSPC, ENOMEM. Permission checks are not done here: access
 * control is ganesha's.
 *
 * Threads: any call from any thread. Reads (getattr, lookup, readdir, read,
 * seek, readlink) take no lock of the core. A mutation holds the lock stripes
 * of the inodes it changes (fs_int.h) from loading their records until its
 * batch is applied, so mutations of unrelated objects run at once (two
 * inodes may share one of the 256 stripes); cross-directory renames also
 * take one rename lock. No lock is held across:
 *   - the durable wait when a mutator is called with durable = true: it
 *     waits (zfs_commit) after releasing its stripes;
 *   - the reads of the partial chunks at the ends of a zfs_write: made
 *     before it locks (under the lock they come from the caches).
 * A stripe is held across the engine's backpressure in lsm_write, which is
 * bounded (lsm_options.write_stall_ms; then EAGAIN), and across the one
 * durable superblock write per 1024 creates that reserves inode numbers
 * (made before the create takes any stripe: no stripe is held then).
 */
#ifndef ZEROFS_FS_H
#define ZEROFS_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lsm.h"

#define ZFS_CHUNK_SIZE 65536u
#define ZFS_NAME_MAX 255u
#define ZFS_SYMLINK_MAX 4095u
#define ZFS_ROOT_INO 1u
#define ZFS_MAX_FILE_SIZE (UINT64_C(1) << 50) /* 1 PiB: keeps chunk indexes small */

enum zfs_type {
	ZFS_REG = 1,
	ZFS_DIR = 2,
	ZFS_LNK = 3,
	ZFS_CHR = 4,
	ZFS_BLK = 5,
	ZFS_FIFO = 6,
	ZFS_SOCK = 7,
};

struct zfs_time {
	int64_t sec;
	uint32_t nsec;
};

struct zfs_attr {
	uint64_t ino;
	uint64_t gen; /* generation: with ino, names the object forever */
	enum zfs_type type;
	uint32_t mode; /* permission bits only (07777) */
	uint32_t uid, gid;
	uint32_t nlink;
	uint64_t size;
	uint64_t used; /* bytes of chunks actually stored (sparse files use less) */
	uint32_t rdev_major, rdev_minor;
	struct zfs_time atime, mtime, ctime;
	uint64_t change; /* bumped on every change (NFSv4 change attribute) */
};

/* setattr: which fields to set */
#define ZFS_SET_MODE (1u << 0)
#define ZFS_SET_UID (1u << 1)
#define ZFS_SET_GID (1u << 2)
#define ZFS_SET_SIZE (1u << 3)
#define ZFS_SET_ATIME (1u << 4)     /* to attr.atime */
#define ZFS_SET_MTIME (1u << 5)     /* to attr.mtime */
#define ZFS_SET_ATIME_NOW (1u << 6) /* to the server's time */
#define ZFS_SET_MTIME_NOW (1u << 7)

struct zfs_statfs {
	uint64_t files;      /* inodes in use */
	uint64_t bytes_used; /* bytes of file data stored */
};

struct zfs;

/* Opens the filesystem in db (borrowed), creating the root directory (owned
 * by root, mode 0755) if the tree holds none. */
int zfs_open(struct lsm_db *db, struct zfs **out);
void zfs_close(struct zfs *fs);

/* What a tree's superblock says, read without opening the filesystem (which
 * would create one where there is none; a read-only tree is fine): ENOENT if
 * the tree holds no filesystem, EIO (zfs_error_detail) if the superblock is
 * damaged, or the engine's error. For tools. */
struct zfs_info {
	uint64_t fs_id;    /* the filesystem's identity (random at creation) */
	uint64_t next_ino; /* the next inode number to hand out */
	uint64_t files;    /* inodes in use */
	uint64_t bytes_used;
};
int zfs_read_info(struct lsm_db *db, struct zfs_info *out);

int zfs_getattr(struct zfs *fs, uint64_t ino, struct zfs_attr *attr);
/* Like getattr, but ESTALE unless the inode has generation gen. */
int zfs_getattr_gen(struct zfs *fs, uint64_t ino, uint64_t gen, struct zfs_attr *attr);
int zfs_lookup(struct zfs *fs, uint64_t dir, const char *name, struct zfs_attr *attr);

struct zfs_create_args {
	enum zfs_type type;
	uint32_t mode, uid, gid;
	uint32_t rdev_major, rdev_minor; /* devices */
	const char *target;              /* symlinks */
	/* initial atime/mtime; NULL = now. Lets an exclusive create store
	 * its verifier in the same batch as the object (no window). */
	const struct zfs_time *atime, *mtime;
};
/* EEXIST (with *attr of the existing object) if the name is taken. */
int zfs_create(struct zfs *fs, uint64_t dir, const char *name, const struct zfs_create_args *a,
	       bool durable, struct zfs_attr *attr);
int zfs_link(struct zfs *fs, uint64_t ino, uint64_t dir, const char *name, bool durable,
	     struct zfs_attr *attr);
/* Removes a non-directory (unlink) or an empty directory (rmdir: dir_ok). */
int zfs_remove(struct zfs *fs, uint64_t dir, const char *name, bool durable);
/* POSIX rename: replaces a compatible target; refuses moving a directory
 * into its own subtree (EINVAL) and over a non-empty directory (ENOTEMPTY). */
int zfs_rename(struct zfs *fs, uint64_t sdir, const char *sname, uint64_t ddir, const char *dname,
	       bool durable);
int zfs_readlink(struct zfs *fs, uint64_t ino, char *buf, size_t cap, size_t *len);
int zfs_setattr(struct zfs *fs, uint64_t ino, unsigned mask, const struct zfs_attr *in,
		bool durable, struct zfs_attr *out);

/* Directory listing in stable cookie order, from `cookie` (0 = the start)
 * on. Cookies are 3 and up (0-2 are reserved by NFS), never reused within a
 * directory, and survive restarts. fn gets each entry with the cookie that
 * resumes AFTER it; returning false stops. *eof says the end was reached. */
typedef bool (*zfs_dirent_fn)(void *ctx, const char *name, const struct zfs_attr *attr,
			      uint64_t next_cookie);
int zfs_readdir(struct zfs *fs, uint64_t dir, uint64_t cookie, zfs_dirent_fn fn, void *ctx,
		bool *eof);

/* Reads up to len bytes at off; holes read as zeros. *eof at end of file. */
int zfs_read(struct zfs *fs, uint64_t ino, uint64_t off, size_t len, void *buf, size_t *got,
	     bool *eof);
/* Writes, rewriting only the chunks touched (partial chunks read-modify-write). */
int zfs_write(struct zfs *fs, uint64_t ino, uint64_t off, size_t len, const void *buf,
	      bool durable, struct zfs_attr *attr);
/* what = SEEK_DATA or SEEK_HOLE (unistd.h) from off: *result, or ENXIO;
 * EINVAL for another what. */
int zfs_seek(struct zfs *fs, uint64_t ino, uint64_t off, int what, uint64_t *result);
/* Makes everything written so far durable. */
int zfs_commit(struct zfs *fs);
/* Makes durable what the last mutating call of this thread changed (and
 * every change committed before it), not what others committed since: a
 * Sync export's reply to that call waits for this. If that call changed
 * nothing (it failed, or found nothing to do), everything so far, since its
 * answer may rest on others' changes. */
int zfs_commit_mine(struct zfs *fs);
/* Makes durable every change made to inode ino so far (an NFS COMMIT),
 * not the changes to other inodes made since (changes to inodes sharing its
 * lock stripe, 1 in 256, ride along). Nothing to wait for: no upload. */
int zfs_commit_ino(struct zfs *fs, uint64_t ino);
int zfs_statfs(struct zfs *fs, struct zfs_statfs *out);

/* How often mutations waited for a lock stripe another held, and how long
 * in all (since zfs_open): contention between clients, for metrics. */
struct zfs_stats {
	uint64_t lock_waits;
	uint64_t lock_wait_ns;
	uint64_t folds;        /* fragmented chunks rewritten as one extent */
	uint64_t fold_bytes;   /* the bytes those rewrites wrote */
	uint64_t repack_bytes; /* live file data moved out of mostly-dead objects */
	uint64_t repacker_runs; /* passes of the repacker thread */
};
void zfs_stats(struct zfs *fs, struct zfs_stats *out);

/* Repacking (fs_repack.c): file data stays in the WAL object that uploaded
 * it (lsm/vlog.h) while any of it is live. zfs_repack writes again every
 * live extent held by an object whose live bytes are below max_live (0..1)
 * of its size, so that once compaction has dropped the old pointers, GC
 * deletes the object. Safe beside every other call; made durable before it
 * returns. fn (may be NULL) gets the progress now and then and at the end. */
struct zfs_repack_stats {
	uint64_t objects, object_bytes, live_bytes; /* objects picked: their bytes, live bytes */
	uint64_t extents, bytes;                    /* extents moved, their bytes */
};
typedef void (*zfs_repack_fn)(void *ctx, const struct zfs_repack_stats *so_far);
int zfs_repack(struct zfs *fs, double max_live, zfs_repack_fn fn, void *ctx,
	       struct zfs_repack_stats *out);
/* A thread that runs zfs_repack(max_live) every interval_ms until
 * zfs_close (or zfs_repacker_stop); failures are tried again next time.
 * The server's: a filesystem opened for writing. */
int zfs_repacker_start(struct zfs *fs, uint64_t interval_ms, double max_live);
void zfs_repacker_stop(struct zfs *fs);

/* Maps an engine status to the errno above (an EIO takes the engine's
 * detail with it). */
int zfs_errno(lsm_status st);

/* What the last EIO a zfs_* call returned on this thread was about (the
 * damaged record, or the engine's detail): read it right after the EIO.
 * Every EIO the core returns sets it, so it never names an older error. */
const char *zfs_error_detail(void);

#endif
