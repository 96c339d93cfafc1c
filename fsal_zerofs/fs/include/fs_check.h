/*
 * fsal_zerofs/fs/include/fs_check.h - checking a filesystem's records against
 * the core's invariants, and repairing what can be repaired safely. It lives
 * in the core, as LevelDB's repairer and SQLite's integrity check live in
 * their engines: the admin tool (`zerofs fsck`) scans through here and
 * prints; only the core writes filesystem records, and every repair is one of
 * its transactions (fs_int.h).
 *
 * The invariants (docs/zerofs.1 lists the problem codes):
 *   every directory entry lives in a directory and names a live inode of
 *   the type it records; every entry has its cookie index record and no
 *   cookie is used twice or at or above its directory's next cookie; nlink
 *   is the number of entries naming a file (directories: 2 + subdirectories);
 *   a directory's ".." is the directory holding its one entry; every inode
 *   but the root has an entry; no chunk lies past the end of its file, or
 *   belongs to no regular file; an inode's `used` is the sum of its chunks
 *   (up to its end); the superblock's totals are the recomputed ones.
 *
 * This checks records, not the objects holding them: lsm_verify_store
 * (lsm.h) reads and checks those.
 */
#ifndef ZEROFS_FS_CHECK_H
#define ZEROFS_FS_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs.h"

enum zfs_check_code {
	ZFS_CHECK_BAD_RECORD,      /* a record that does not decode (msg says which) */
	ZFS_CHECK_NO_SUPER,
	ZFS_CHECK_NO_ROOT,
	ZFS_CHECK_UNKNOWN_RECORD,
	ZFS_CHECK_BAD_NAME,
	ZFS_CHECK_DANGLING,        /* an entry naming no inode */
	ZFS_CHECK_ORPHAN_ENTRY,    /* an entry in no directory */
	ZFS_CHECK_ENTRY_TYPE,
	ZFS_CHECK_MISSING_COOKIE,
	ZFS_CHECK_DUP_COOKIE,
	ZFS_CHECK_ORPHAN_COOKIE,
	ZFS_CHECK_COOKIE_AHEAD,
	ZFS_CHECK_WRONG_NLINK,
	ZFS_CHECK_WRONG_PARENT,
	ZFS_CHECK_DIR_LINKS,
	ZFS_CHECK_UNREACHABLE,
	ZFS_CHECK_ORPHAN_INODE,
	ZFS_CHECK_CHUNK_PAST_EOF,
	ZFS_CHECK_ORPHAN_CHUNK,
	ZFS_CHECK_BAD_CHUNK,
	ZFS_CHECK_WRONG_USED,
	ZFS_CHECK_WRONG_TOTALS,
	ZFS_CHECK_ORPHAN_EXTENT,   /* extent data no chunk map refers to */
	ZFS_CHECK_MISSING_EXTENT,  /* a chunk map refers to extent data that is not there */
};

/* The code as fsck prints it: "dangling-entry", "wrong-nlink", ... */
const char *zfs_check_code_name(enum zfs_check_code code);

/* One problem; which fields mean something depends on the code. */
struct zfs_problem {
	enum zfs_check_code code;
	uint64_t dir, ino, cookie, chunk;
	uint64_t extent; /* extents: the extent's id */
	bool map;        /* chunks: a chunk map ('m'), not a format 1 chunk ('k') */
	uint64_t want, have, len; /* the right value, the stored one, a chunk's bytes */
	enum zfs_type type;
	char *name;    /* entries, cookie records */
	char msg[160]; /* bad and unknown records: what is wrong */
};

/* What a scan counted. */
struct zfs_check_totals {
	uint64_t inodes, dirs, others, entries, chunks, chunk_bytes, records;
	uint64_t max_ino;
};

struct zfs_check;

/* Called every few records with the count so far (for a progress line). */
typedef void (*zfs_check_progress_fn)(void *ctx, uint64_t records);

/*
 * One full pass over the records of db: a prefix scan per record kind, then
 * the conclusions. db may be open read-only and need not hold a filesystem
 * (no superblock is a problem, not an error). 0 with *out (free it with
 * zfs_check_free), or an errno if the pass could not finish: EIO (a record
 * could not be read: lsm_last_error() says why), EAGAIN, ENOMEM.
 */
int zfs_check_scan(struct lsm_db *db, zfs_check_progress_fn fn, void *fn_ctx,
		   struct zfs_check **out);
void zfs_check_free(struct zfs_check *c);

const struct zfs_check_totals *zfs_check_totals(const struct zfs_check *c);
size_t zfs_check_count(const struct zfs_check *c);
const struct zfs_problem *zfs_check_problem(const struct zfs_check *c, size_t i);
/* Problem i as one line (no newline), its code first, with paths as far as
 * the entries tell: "dangling-entry: /d2/ghost names inode 999999, which
 * does not exist". */
void zfs_check_describe(const struct zfs_check *c, size_t i, char *buf, size_t cap);

/* Each change a repair commits, as a phrase ("removed the entry ..."). */
typedef void (*zfs_repair_fn)(void *ctx, const char *what);

/*
 * Repairs problem i of c, a scan of fs's tree (opened as its writer): one
 * durable transaction per change (an orphan's first move also creates
 * /lost+found), each told to fn. 0 = repaired; EBUSY = not in this pass:
 * the scan found other problems whose repairs change what this one would set
 * (scan again after them); ENOTSUP = no safe repair; another errno = the
 * repair failed (as any change of the core fails: fs.h).
 */
int zfs_check_repair(struct zfs *fs, const struct zfs_check *c, size_t i, zfs_repair_fn fn,
		     void *fn_ctx);

#endif
