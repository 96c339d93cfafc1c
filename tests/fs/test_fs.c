/*
 * tests/fs/test_fs.c - the filesystem core (fsal_zerofs/fs/include/fs.h) on a real LSM
 * tree over a local store: POSIX rules, hard links, sparse files and
 * truncation, offsets past 4 GiB, readdir under concurrent change, SEEK_DATA/
 * SEEK_HOLE, everything surviving a reopen, the check and its repairs
 * (fs_check.h), and several threads at once (as ganesha calls it; the
 * ThreadSanitizer build checks that one).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs.h"
#include "fs_check.h"
#include "fs_records.h"
#include "write_batch.h"
#include "store_env.h"
#include "testlib.h"

static char *dir;
static struct zs3_store *store;
static struct lsm_db *db;
static struct zfs *fs;

#define E(expr, want)                                                                    \
	do {                                                                             \
		int e_ = (expr);                                                         \
		CHECK_MSG(e_ == (want), "%s: got %d (%s), want %d", #expr, e_,           \
			  strerror(e_), (want));                                         \
	} while (0)

static void open_fs(void)
{
	struct lsm_options o = { .store = store, .memtable_bytes = 2u << 20, .no_background = false };
	if (lsm_open(&o, &db) != LSM_OK || zfs_open(db, &fs) != 0) {
		fprintf(stderr, "cannot open: %s\n", lsm_last_error());
		exit(1);
	}
}

static void reopen_fs(void)
{
	zfs_close(fs);
	(void)lsm_close(db);
	open_fs();
}

static struct zfs_create_args reg(uint32_t mode)
{
	return (struct zfs_create_args){ .type = ZFS_REG, .mode = mode, .uid = 1000, .gid = 100 };
}

static struct zfs_create_args dirargs(void)
{
	return (struct zfs_create_args){ .type = ZFS_DIR, .mode = 0755 };
}

static void t_create_lookup(void *ctx)
{
	(void)ctx;
	struct zfs_attr a, b, root;
	struct zfs_create_args r = reg(0644);
	E(zfs_getattr(fs, ZFS_ROOT_INO, &root), 0);
	CHECK(root.type == ZFS_DIR && root.nlink >= 2);
	E(zfs_create(fs, ZFS_ROOT_INO, "file1", &r, true, &a), 0);
	CHECK(a.type == ZFS_REG && a.mode == 0644 && a.uid == 1000 && a.gid == 100 && a.nlink == 1);
	E(zfs_lookup(fs, ZFS_ROOT_INO, "file1", &b), 0);
	CHECK(b.ino == a.ino && b.gen == a.gen);
	E(zfs_create(fs, ZFS_ROOT_INO, "file1", &r, true, &b), EEXIST);
	CHECK(b.ino == a.ino); /* the existing object comes back (exclusive create) */
	E(zfs_lookup(fs, ZFS_ROOT_INO, "nope", &b), ENOENT);
	E(zfs_lookup(fs, a.ino, "x", &b), ENOTDIR);
	/* names: 255 bytes fine, 256 too long; "/" and dot names refused */
	char name[300];
	memset(name, 'n', 255);
	name[255] = '\0';
	E(zfs_create(fs, ZFS_ROOT_INO, name, &r, false, &b), 0);
	E(zfs_lookup(fs, ZFS_ROOT_INO, name, &b), 0);
	name[255] = 'n';
	name[256] = '\0';
	E(zfs_create(fs, ZFS_ROOT_INO, name, &r, false, &b), ENAMETOOLONG);
	E(zfs_lookup(fs, ZFS_ROOT_INO, name, &b), ENAMETOOLONG);
	E(zfs_create(fs, ZFS_ROOT_INO, "a/b", &r, false, &b), EINVAL);
	E(zfs_create(fs, ZFS_ROOT_INO, "..", &r, false, &b), EINVAL);
	/* every object type */
	struct zfs_create_args lnk = { .type = ZFS_LNK, .mode = 0777, .target = "file1" };
	E(zfs_create(fs, ZFS_ROOT_INO, "sym", &lnk, false, &b), 0);
	char buf[64];
	size_t len;
	E(zfs_readlink(fs, b.ino, buf, sizeof(buf), &len), 0);
	CHECK(len == 5 && !strcmp(buf, "file1") && b.size == 5);
	E(zfs_readlink(fs, a.ino, buf, sizeof(buf), &len), EINVAL);
	struct zfs_create_args chr = { .type = ZFS_CHR, .mode = 0600, .rdev_major = 1, .rdev_minor = 3 };
	E(zfs_create(fs, ZFS_ROOT_INO, "null", &chr, false, &b), 0);
	CHECK(b.type == ZFS_CHR && b.rdev_major == 1 && b.rdev_minor == 3);
	struct zfs_create_args fifo = { .type = ZFS_FIFO, .mode = 0600 };
	E(zfs_create(fs, ZFS_ROOT_INO, "fifo", &fifo, false, &b), 0);
	struct zfs_create_args sock = { .type = ZFS_SOCK, .mode = 0600 };
	E(zfs_create(fs, ZFS_ROOT_INO, "sock", &sock, false, &b), 0);
	CHECK(b.type == ZFS_SOCK);
}

static void t_directories(void *ctx)
{
	(void)ctx;
	struct zfs_attr d, sub, f, p, root0, root1;
	struct zfs_create_args da = dirargs(), r = reg(0600);
	E(zfs_getattr(fs, ZFS_ROOT_INO, &root0), 0);
	E(zfs_create(fs, ZFS_ROOT_INO, "dir", &da, false, &d), 0);
	E(zfs_getattr(fs, ZFS_ROOT_INO, &root1), 0);
	CHECK(root1.nlink == root0.nlink + 1 && d.nlink == 2);
	E(zfs_create(fs, d.ino, "sub", &da, false, &sub), 0);
	E(zfs_create(fs, sub.ino, "f", &r, false, &f), 0);
	E(zfs_getattr(fs, d.ino, &d), 0);
	CHECK(d.nlink == 3);
	E(zfs_lookup(fs, sub.ino, "..", &p), 0);
	CHECK(p.ino == d.ino);
	E(zfs_lookup(fs, sub.ino, ".", &p), 0);
	CHECK(p.ino == sub.ino);
	E(zfs_remove(fs, d.ino, "sub", false), ENOTEMPTY);
	E(zfs_remove(fs, sub.ino, "f", false), 0);
	E(zfs_getattr(fs, f.ino, &p), ESTALE);
	E(zfs_remove(fs, d.ino, "sub", false), 0);
	E(zfs_getattr(fs, d.ino, &d), 0);
	CHECK(d.nlink == 2);
	E(zfs_getattr_gen(fs, d.ino, d.gen + 1, &p), ESTALE);
}

static void t_hard_links(void *ctx)
{
	(void)ctx;
	struct zfs_attr f, l, d;
	struct zfs_create_args r = reg(0644), da = dirargs();
	char buf[16];
	size_t got;
	bool eof;
	E(zfs_create(fs, ZFS_ROOT_INO, "orig", &r, false, &f), 0);
	E(zfs_write(fs, f.ino, 0, 5, "hello", false, &f), 0);
	E(zfs_create(fs, ZFS_ROOT_INO, "ldir", &da, false, &d), 0);
	E(zfs_link(fs, f.ino, d.ino, "alias", false, &l), 0);
	CHECK(l.nlink == 2);
	E(zfs_link(fs, f.ino, ZFS_ROOT_INO, "alias2", false, &l), 0);
	CHECK(l.nlink == 3);
	E(zfs_link(fs, d.ino, ZFS_ROOT_INO, "dirlink", false, &l), EPERM);
	E(zfs_link(fs, f.ino, ZFS_ROOT_INO, "orig", false, &l), EEXIST);
	E(zfs_remove(fs, ZFS_ROOT_INO, "orig", false), 0);
	E(zfs_getattr(fs, f.ino, &l), 0);
	CHECK(l.nlink == 2);
	E(zfs_read(fs, f.ino, 0, sizeof(buf), buf, &got, &eof), 0);
	CHECK(got == 5 && !memcmp(buf, "hello", 5) && eof);
	E(zfs_remove(fs, d.ino, "alias", false), 0);
	E(zfs_remove(fs, ZFS_ROOT_INO, "alias2", false), 0);
	E(zfs_getattr(fs, f.ino, &l), ESTALE); /* the last link took the data along */
}

static void t_rename(void *ctx)
{
	(void)ctx;
	struct zfs_attr a, b, d1, d2, sub, x, r1;
	struct zfs_create_args r = reg(0644), da = dirargs();
	E(zfs_create(fs, ZFS_ROOT_INO, "ra", &r, false, &a), 0);
	E(zfs_create(fs, ZFS_ROOT_INO, "rb", &r, false, &b), 0);
	E(zfs_rename(fs, ZFS_ROOT_INO, "ra", ZFS_ROOT_INO, "rb", false), 0); /* replaces rb */
	E(zfs_lookup(fs, ZFS_ROOT_INO, "rb", &x), 0);
	CHECK(x.ino == a.ino);
	E(zfs_lookup(fs, ZFS_ROOT_INO, "ra", &x), ENOENT);
	E(zfs_getattr(fs, b.ino, &x), ESTALE);
	E(zfs_create(fs, ZFS_ROOT_INO, "rd1", &da, false, &d1), 0);
	E(zfs_create(fs, ZFS_ROOT_INO, "rd2", &da, false, &d2), 0);
	E(zfs_create(fs, d1.ino, "sub", &da, false, &sub), 0);
	/* a directory into its own subtree */
	E(zfs_rename(fs, ZFS_ROOT_INO, "rd1", sub.ino, "inside", false), EINVAL);
	E(zfs_rename(fs, ZFS_ROOT_INO, "rd1", d1.ino, "self", false), EINVAL);
	/* file over directory and directory over file */
	E(zfs_rename(fs, ZFS_ROOT_INO, "rb", ZFS_ROOT_INO, "rd2", false), EISDIR);
	E(zfs_rename(fs, ZFS_ROOT_INO, "rd2", ZFS_ROOT_INO, "rb", false), ENOTDIR);
	/* over a non-empty directory */
	E(zfs_create(fs, d2.ino, "occupant", &r, false, &x), 0);
	E(zfs_rename(fs, d1.ino, "sub", ZFS_ROOT_INO, "rd2", false), ENOTEMPTY);
	E(zfs_remove(fs, d2.ino, "occupant", false), 0);
	E(zfs_getattr(fs, ZFS_ROOT_INO, &r1), 0);
	/* a directory moves between parents: ".." and link counts follow */
	E(zfs_rename(fs, d1.ino, "sub", d2.ino, "moved", false), 0);
	E(zfs_lookup(fs, sub.ino, "..", &x), 0);
	CHECK(x.ino == d2.ino);
	E(zfs_getattr(fs, d1.ino, &d1), 0);
	E(zfs_getattr(fs, d2.ino, &d2), 0);
	CHECK(d1.nlink == 2 && d2.nlink == 3);
	/* over an empty directory: it goes */
	struct zfs_attr empty;
	E(zfs_create(fs, ZFS_ROOT_INO, "emptydir", &da, false, &empty), 0);
	E(zfs_rename(fs, ZFS_ROOT_INO, "rd1", ZFS_ROOT_INO, "emptydir", false), 0);
	E(zfs_getattr(fs, empty.ino, &x), ESTALE);
	E(zfs_getattr(fs, ZFS_ROOT_INO, &x), 0);
	CHECK(x.nlink == r1.nlink); /* emptydir came and went; rd1 took its name */
	/* hard links to one object: renaming one onto the other does nothing */
	E(zfs_link(fs, a.ino, ZFS_ROOT_INO, "rb2", false, &x), 0);
	E(zfs_rename(fs, ZFS_ROOT_INO, "rb", ZFS_ROOT_INO, "rb2", false), 0);
	E(zfs_lookup(fs, ZFS_ROOT_INO, "rb", &x), 0);
	E(zfs_rename(fs, ZFS_ROOT_INO, "missing", ZFS_ROOT_INO, "x", false), ENOENT);
}

static void t_data(void *ctx)
{
	(void)ctx;
	struct zfs_attr f, a;
	struct zfs_create_args r = reg(0644);
	size_t n = 3 * ZFS_CHUNK_SIZE + 1234, got;
	uint8_t *data = malloc(n), *back = malloc(n + 100);
	unsigned long long s = 99;
	bool eof;
	REQUIRE(data && back);
	tl_fill_random(data, n, &s);
	E(zfs_create(fs, ZFS_ROOT_INO, "data", &r, false, &f), 0);
	E(zfs_write(fs, f.ino, 0, n, data, false, &a), 0);
	CHECK(a.size == n && a.used == n);
	E(zfs_read(fs, f.ino, 0, n + 100, back, &got, &eof), 0);
	CHECK(got == n && eof && !memcmp(back, data, n));
	/* a 4 KiB write in the middle of a chunk rewrites that chunk only */
	uint8_t patch[4096];
	memset(patch, 0xAB, sizeof(patch));
	E(zfs_write(fs, f.ino, ZFS_CHUNK_SIZE + 100, sizeof(patch), patch, false, &a), 0);
	memcpy(data + ZFS_CHUNK_SIZE + 100, patch, sizeof(patch));
	E(zfs_read(fs, f.ino, 0, n, back, &got, &eof), 0);
	CHECK(got == n && !memcmp(back, data, n));
	/* truncate down into a chunk, then up: the cut part reads as zeros */
	struct zfs_attr set = { .size = ZFS_CHUNK_SIZE + 10 };
	E(zfs_setattr(fs, f.ino, ZFS_SET_SIZE, &set, false, &a), 0);
	CHECK(a.size == ZFS_CHUNK_SIZE + 10 && a.used == ZFS_CHUNK_SIZE + 10);
	set.size = 2 * ZFS_CHUNK_SIZE;
	E(zfs_setattr(fs, f.ino, ZFS_SET_SIZE, &set, false, &a), 0);
	CHECK(a.size == 2 * ZFS_CHUNK_SIZE && a.used == ZFS_CHUNK_SIZE + 10);
	E(zfs_read(fs, f.ino, 0, 2 * ZFS_CHUNK_SIZE, back, &got, &eof), 0);
	CHECK(got == 2 * ZFS_CHUNK_SIZE && eof);
	CHECK(!memcmp(back, data, ZFS_CHUNK_SIZE + 10));
	bool zeros = true;
	for (size_t i = ZFS_CHUNK_SIZE + 10; i < 2 * ZFS_CHUNK_SIZE; i++)
		zeros &= back[i] == 0;
	CHECK(zeros);
	/* past 4 GiB: sparse, and only the written bytes are stored (an
	 * extent of 5 bytes, not the chunk up to them) */
	uint64_t far = (UINT64_C(5) << 30) + 17;
	E(zfs_write(fs, f.ino, far, 5, "faraway", false, &a), 0);
	CHECK(a.size == far + 5 && a.used == ZFS_CHUNK_SIZE + 10 + 5);
	E(zfs_read(fs, f.ino, far - 3, 10, back, &got, &eof), 0);
	CHECK(got == 8 && eof && !memcmp(back, "\0\0\0farawa", 8));
	E(zfs_read(fs, f.ino, UINT64_C(3) << 30, 16, back, &got, &eof), 0);
	CHECK(got == 16 && !memcmp(back, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16));
	/* SEEK_DATA / SEEK_HOLE */
	uint64_t pos;
	E(zfs_seek(fs, f.ino, 0, 3, &pos), 0);
	CHECK(pos == 0);
	E(zfs_seek(fs, f.ino, 0, 4, &pos), 0);
	CHECK(pos == ZFS_CHUNK_SIZE + 10);
	E(zfs_seek(fs, f.ino, ZFS_CHUNK_SIZE + 20, 3, &pos), 0);
	CHECK(pos == far); /* stored bytes start where the far write began */
	E(zfs_seek(fs, f.ino, far + 5, 3, &pos), ENXIO);
	/* truncate to zero frees everything */
	set.size = 0;
	E(zfs_setattr(fs, f.ino, ZFS_SET_SIZE, &set, false, &a), 0);
	CHECK(a.size == 0 && a.used == 0);
	struct zfs_attr d;
	struct zfs_create_args da = dirargs();
	E(zfs_create(fs, ZFS_ROOT_INO, "notafile", &da, false, &d), 0);
	E(zfs_write(fs, d.ino, 0, 1, "x", false, &a), EISDIR);
	E(zfs_read(fs, d.ino, 0, 1, back, &got, &eof), EISDIR);
	free(data);
	free(back);
}

static void t_setattr(void *ctx)
{
	(void)ctx;
	struct zfs_attr f, a, in = { 0 };
	struct zfs_create_args r = reg(0644);
	E(zfs_create(fs, ZFS_ROOT_INO, "attrs", &r, false, &f), 0);
	in.mode = 04711;
	in.uid = 7;
	in.gid = 8;
	in.atime = (struct zfs_time){ 1000000000, 123456789 };
	in.mtime = (struct zfs_time){ 1500000000, 987654321 };
	E(zfs_setattr(fs, f.ino, ZFS_SET_MODE | ZFS_SET_UID | ZFS_SET_GID | ZFS_SET_ATIME |
			     ZFS_SET_MTIME, &in, false, &a), 0);
	E(zfs_getattr(fs, f.ino, &a), 0);
	CHECK(a.mode == 04711 && a.uid == 7 && a.gid == 8);
	CHECK(a.atime.sec == 1000000000 && a.atime.nsec == 123456789);
	CHECK(a.mtime.sec == 1500000000 && a.mtime.nsec == 987654321);
	CHECK(a.change > f.change && a.ctime.sec >= f.ctime.sec);
	E(zfs_setattr(fs, f.ino, ZFS_SET_MTIME_NOW, &in, false, &a), 0);
	CHECK(a.mtime.sec > 1500000000);
}

/* A truncate to the current size changes nothing: no record is written (so
 * no upload is owed), the change counter and times stay; a real truncate
 * still counts. */
static void t_setattr_same_size(void *ctx)
{
	(void)ctx;
	struct zfs_attr f, a, set = { .size = 0 };
	struct zfs_create_args r = reg(0644);
	struct lsm_stats before, after;

	E(zfs_create(fs, ZFS_ROOT_INO, "same-size", &r, false, &f), 0);
	lsm_stats(db, &before);
	E(zfs_setattr(fs, f.ino, ZFS_SET_SIZE, &set, false, &a), 0); /* open(O_TRUNC) of it */
	lsm_stats(db, &after);
	CHECK(after.writes == before.writes);
	CHECK(a.change == f.change && a.size == 0);
	CHECK(a.mtime.sec == f.mtime.sec && a.mtime.nsec == f.mtime.nsec);
	CHECK(a.ctime.sec == f.ctime.sec && a.ctime.nsec == f.ctime.nsec);
	E(zfs_write(fs, f.ino, 0, 5, "hello", false, &a), 0);
	set.size = 5;
	lsm_stats(db, &before);
	E(zfs_setattr(fs, f.ino, ZFS_SET_SIZE, &set, false, &a), 0);
	lsm_stats(db, &after);
	CHECK(after.writes == before.writes && a.size == 5);
	set.size = 2;
	E(zfs_setattr(fs, f.ino, ZFS_SET_SIZE, &set, false, &a), 0);
	lsm_stats(db, &before);
	CHECK(before.writes == after.writes + 1 && a.size == 2 && a.change > f.change);
	/* size and another attribute: a real change, even at the same size */
	set.mode = 0600;
	E(zfs_setattr(fs, f.ino, ZFS_SET_SIZE | ZFS_SET_MODE, &set, false, &a), 0);
	CHECK(a.mode == 0600 && a.size == 2);
}

/* 10,000 entries listed in pages of 100 while entries are added and removed:
 * every entry present throughout is seen exactly once. */
struct page {
	char (*names)[32];
	size_t n, cap, limit;
	uint64_t last;
};

static bool collect(void *ctx, const char *name, const struct zfs_attr *a, uint64_t next)
{
	struct page *p = ctx;
	(void)a;
	if (p->n == p->cap)
		return false;
	snprintf(p->names[p->n++], 32, "%s", name);
	p->last = next;
	return p->n % p->limit != 0;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* COMMIT of a file waits for that file's changes only: a clean file costs
 * no upload while another has unstable writes; a thread's own change is
 * made durable without the ones others made after it. */
static void t_commit_own(void *ctx)
{
	(void)ctx;
	struct zfs_create_args r = reg(0644);
	struct zfs_attr clean, dirty, a;
	struct lsm_stats s0, s1;
	char buf[4096];

	memset(buf, 'c', sizeof(buf));
	E(zfs_create(fs, ZFS_ROOT_INO, "commit-clean", &r, false, &clean), 0);
	E(zfs_write(fs, clean.ino, 0, sizeof(buf), buf, false, &a), 0);
	E(zfs_commit_ino(fs, clean.ino), 0);
	E(zfs_create(fs, ZFS_ROOT_INO, "commit-dirty", &r, false, &dirty), 0);
	E(zfs_commit_mine(fs), 0); /* the create: durable */
	/* The periodic upload (every 100 ms) may take the dirty write at any
	 * moment and spoil an attempt; a COMMIT that uploads everything spoils
	 * every one. */
	int clean_free = 0;
	for (int attempt = 0; attempt < 5 && !clean_free; attempt++) {
		E(zfs_write(fs, dirty.ino, 0, sizeof(buf), buf, false, &a), 0);
		lsm_stats(db, &s0);
		E(zfs_commit_ino(fs, clean.ino), 0);
		lsm_stats(db, &s1);
		clean_free = s0.wal_unflushed_bytes > 0 && s1.wal_uploads == s0.wal_uploads &&
			     s1.wal_unflushed_bytes > 0;
		E(zfs_commit_ino(fs, dirty.ino), 0);
		lsm_stats(db, &s1);
		CHECK(s1.wal_unflushed_bytes == 0);
	}
	CHECK_MSG(clean_free, "a COMMIT of a clean file uploaded another file's write");
}

static void t_readdir(void *ctx)
{
	(void)ctx;
	struct zfs_attr d, x;
	struct zfs_create_args da = dirargs(), r = reg(0644);
	enum { N = 10000 };
	E(zfs_create(fs, ZFS_ROOT_INO, "big", &da, false, &d), 0);
	for (int i = 0; i < N; i++) {
		char name[32];
		snprintf(name, sizeof(name), "stable%05d", i);
		if (zfs_create(fs, d.ino, name, &r, false, &x)) {
			CHECK(!"create failed");
			return;
		}
	}
	struct page p = { .cap = 2 * N, .limit = 100 };
	p.names = calloc(p.cap, 32);
	REQUIRE(p.names);
	uint64_t cookie = 0;
	bool eof = false;
	int calls = 0, churn = 0;
	while (!eof && calls < 1000) {
		E(zfs_readdir(fs, d.ino, cookie, collect, &p, &eof), 0);
		cookie = p.last;
		calls++;
		/* between calls: add a new entry and remove an earlier churn entry */
		char name[32];
		snprintf(name, sizeof(name), "churn%05d", churn);
		E(zfs_create(fs, d.ino, name, &r, false, &x), 0);
		if (churn > 0) {
			snprintf(name, sizeof(name), "churn%05d", churn - 1);
			E(zfs_remove(fs, d.ino, name, false), 0);
		}
		churn++;
	}
	qsort(p.names, p.n, 32, cmp_name);
	int stable = 0, dups = 0;
	for (size_t i = 0; i < p.n; i++) {
		if (i && !strcmp(p.names[i], p.names[i - 1]))
			dups++;
		stable += !strncmp(p.names[i], "stable", 6);
	}
	printf("  %d readdir calls saw %zu entries: %d stable of %d, %d duplicates\n", calls, p.n,
	       stable - dups, N, dups);
	CHECK(eof && dups == 0 && stable == N);
	free(p.names);
}

static void t_persistence(void *ctx)
{
	(void)ctx;
	struct zfs_attr f, a;
	struct zfs_create_args r = reg(0640);
	struct zfs_statfs s1, s2;
	char buf[32];
	size_t got;
	bool eof;
	E(zfs_create(fs, ZFS_ROOT_INO, "persist", &r, false, &f), 0);
	E(zfs_write(fs, f.ino, 100, 11, "still there", false, &a), 0);
	E(zfs_commit(fs), 0);
	E(zfs_statfs(fs, &s1), 0);
	reopen_fs();
	E(zfs_lookup(fs, ZFS_ROOT_INO, "persist", &a), 0);
	CHECK(a.ino == f.ino && a.gen == f.gen && a.size == 111 && a.mode == 0640);
	E(zfs_read(fs, f.ino, 100, 20, buf, &got, &eof), 0);
	CHECK(got == 11 && !memcmp(buf, "still there", 11));
	E(zfs_statfs(fs, &s2), 0);
	CHECK(s1.files == s2.files && s1.bytes_used == s2.bytes_used && s2.files > 10);
	/* inode numbers are never reused */
	struct zfs_attr g;
	E(zfs_create(fs, ZFS_ROOT_INO, "after-reopen", &r, false, &g), 0);
	CHECK(g.ino > f.ino);
}

/* Several clients at once, as ganesha's worker threads call the core: each
 * thread creates, writes (across chunk boundaries), reads back, truncates,
 * renames, links into a shared directory and removes, in a directory of its
 * own; a reader lists the shared directory, stats and reads meanwhile. The
 * writes outgrow the 2 MiB memtable, so flushes and compactions run beside
 * them. Afterwards every file holds what its thread wrote last, and statfs
 * counts exactly the objects left. */
enum { CC_THREADS = 4, CC_FILES = 6 };

struct cc_worker {
	int id;
	int rounds;
	uint64_t dir, shared;
	uint64_t ino[CC_FILES];
	unsigned char last[CC_FILES]; /* the byte file i was last filled with */
};

static atomic_int cc_running;

static void cc_fill(unsigned char *buf, size_t n, unsigned char v)
{
	for (size_t i = 0; i < n; i++)
		buf[i] = (unsigned char)(v + i % 251);
}

static void *cc_work(void *arg)
{
	struct cc_worker *w = arg;
	struct zfs_create_args r = reg(0644);
	enum { LEN = 3 * 8192 };
	unsigned char *buf = malloc(LEN), *back = malloc(LEN);
	char name[64], other[64];
	struct zfs_attr a;
	size_t got;
	bool eof;

	CHECK(buf && back);
	for (int f = 0; buf && back && f < CC_FILES; f++) {
		snprintf(name, sizeof(name), "f%d", f);
		E(zfs_create(fs, w->dir, name, &r, false, &a), 0);
		w->ino[f] = a.ino;
	}
	for (int round = 0; buf && back && round < w->rounds; round++) {
		int f = round % CC_FILES;
		unsigned char v = (unsigned char)(w->id * 64 + round);
		/* straddles the chunk boundary at 64 KiB */
		uint64_t off = ZFS_CHUNK_SIZE - LEN / 2;

		cc_fill(buf, LEN, v);
		E(zfs_write(fs, w->ino[f], off, LEN, buf, round % 8 == 0, &a), 0);
		w->last[f] = v;
		E(zfs_read(fs, w->ino[f], off, LEN, back, &got, &eof), 0);
		CHECK_MSG(got == LEN && !memcmp(buf, back, LEN), "thread %d round %d: read back",
			  w->id, round);
		struct zfs_attr sz = { .size = off + LEN };
		E(zfs_setattr(fs, w->ino[f], ZFS_SET_SIZE, &sz, false, &a), 0);
		/* a temporary file: created, renamed, linked into the shared
		 * directory, both names removed */
		snprintf(name, sizeof(name), "tmp%d", round);
		snprintf(other, sizeof(other), "t%d-r%d", w->id, round);
		E(zfs_create(fs, w->dir, name, &r, false, &a), 0);
		E(zfs_write(fs, a.ino, 0, 100, buf, false, &a), 0);
		E(zfs_rename(fs, w->dir, name, w->dir, "renamed", false), 0);
		E(zfs_link(fs, a.ino, w->shared, other, false, &a), 0);
		E(zfs_remove(fs, w->dir, "renamed", false), 0);
		E(zfs_remove(fs, w->shared, other, round % 5 == 0), 0);
	}
	free(buf);
	free(back);
	atomic_fetch_sub(&cc_running, 1);
	return NULL;
}

static bool cc_count(void *ctx, const char *name, const struct zfs_attr *a, uint64_t next)
{
	(void)name;
	(void)a;
	(void)next;
	++*(int *)ctx;
	return true;
}

static void t_concurrent(void *ctx)
{
	(void)ctx;
	struct cc_worker w[CC_THREADS];
	pthread_t th[CC_THREADS];
	struct zfs_create_args dd = dirargs();
	struct zfs_statfs before, after, s;
	struct zfs_attr top, shared, a;
	int started = 0, reads = 0;

	E(zfs_statfs(fs, &before), 0);
	E(zfs_create(fs, ZFS_ROOT_INO, "concurrent", &dd, false, &top), 0);
	E(zfs_create(fs, top.ino, "shared", &dd, false, &shared), 0);
	for (int i = 0; i < CC_THREADS; i++) {
		char name[16];

		snprintf(name, sizeof(name), "w%d", i);
		w[i] = (struct cc_worker){ .id = i, .shared = shared.ino };
		w[i].rounds = TL_TSAN ? 60 : 200;
		E(zfs_create(fs, top.ino, name, &dd, false, &a), 0);
		w[i].dir = a.ino;
	}
	if (TL_TSAN)
		printf("  ThreadSanitizer: %d rounds per thread\n", w[0].rounds);
	atomic_store(&cc_running, CC_THREADS);
	for (int i = 0; i < CC_THREADS; i++) {
		if (pthread_create(&th[i], NULL, cc_work, &w[i]) != 0) {
			atomic_fetch_sub(&cc_running, 1);
			continue;
		}
		started |= 1 << i;
	}
	/* the reader: everything it sees must make sense */
	while (atomic_load(&cc_running) > 0) {
		int n = 0;
		bool eof;

		E(zfs_readdir(fs, shared.ino, 0, cc_count, &n, &eof), 0);
		CHECK(eof && n <= CC_THREADS);
		E(zfs_statfs(fs, &s), 0);
		E(zfs_getattr(fs, top.ino, &a), 0);
		CHECK(a.type == ZFS_DIR && a.nlink == 2 + 1 + CC_THREADS);
		reads++;
	}
	for (int i = 0; i < CC_THREADS; i++)
		if (started & (1 << i))
			pthread_join(th[i], NULL);
	REQUIRE(started == (1 << CC_THREADS) - 1);
	printf("  %d threads x %d rounds, %d reader passes\n", CC_THREADS, w[0].rounds, reads);

	unsigned char want[100], got[100];
	const uint64_t off = ZFS_CHUNK_SIZE - 3 * 8192 / 2;
	for (int i = 0; i < CC_THREADS; i++) {
		for (int f = 0; f < CC_FILES; f++) {
			size_t n;
			bool eof;

			E(zfs_getattr(fs, w[i].ino[f], &a), 0);
			CHECK(a.size == off + 3 * 8192);
			cc_fill(want, sizeof(want), w[i].last[f]);
			E(zfs_read(fs, w[i].ino[f], off, sizeof(got), got, &n, &eof), 0);
			CHECK_MSG(n == sizeof(got) && !memcmp(want, got, sizeof(got)),
				  "thread %d file %d", i, f);
		}
	}
	int n = 0;
	bool eof;
	E(zfs_readdir(fs, shared.ino, 0, cc_count, &n, &eof), 0);
	CHECK(n == 0);
	E(zfs_statfs(fs, &after), 0);
	CHECK_MSG(after.files == before.files + 2 + CC_THREADS * (1 + CC_FILES),
		  "files %llu, before %llu", (unsigned long long)after.files,
		  (unsigned long long)before.files);
}

/* A damaged record is an I/O error for its object only: the file whose
 * inode record is garbage reads EIO, its directory still lists and its
 * neighbours still work; a damaged directory entry is EIO for that name. */
static void put_raw(const uint8_t *key, size_t klen, const void *val, size_t vlen)
{
	struct lsm_batch *b = lsm_batch_new();

	REQUIRE(b != NULL);
	CHECK(lsm_batch_put(b, key, klen, val, vlen) == LSM_OK);
	CHECK(lsm_write(db, b, LSM_WRITE_DURABLE) == LSM_OK);
	lsm_batch_free(b);
}

/* The core's check (fs_check.h): what the core made is clean; planted
 * damage (a wrong nlink, an inode no entry names and the superblock does not
 * count) is found and repaired by the core's own transactions, with no
 * reopen (the in-memory superblock follows), and the next scan is clean. */
struct fixes {
	int n;
	char all[2048];
};

static void on_fix(void *ctx, const char *what)
{
	struct fixes *f = ctx;
	size_t o = strlen(f->all);
	f->n++;
	snprintf(f->all + o, sizeof(f->all) - o, "%s\n", what);
}

static void t_check_repair(void *ctx)
{
	(void)ctx;
	struct zfs_check *c;
	struct zfs_attr f, a;
	struct zfs_create_args r = reg(0644);
	struct zfs_inode in;
	struct lsm_buf v = { 0 };
	struct fixes fixes = { 0 };
	struct zfs_statfs st;
	uint8_t key[32];
	size_t klen;
	char line[512], name[32];

	REQUIRE(zfs_check_scan(db, NULL, NULL, &c) == 0);
	for (size_t i = 0; i < zfs_check_count(c); i++) {
		zfs_check_describe(c, i, line, sizeof(line));
		CHECK_MSG(false, "before any damage: %s", line);
	}
	uint64_t inodes = zfs_check_totals(c)->inodes;
	zfs_check_free(c);

	E(zfs_create(fs, ZFS_ROOT_INO, "checked", &r, false, &f), 0);
	klen = zfs_key_inode(key, f.ino);
	REQUIRE(lsm_get(db, key, klen, &v) == LSM_OK && zfs_inode_decode(v.data, v.len, f.ino, &in) == 0);
	in.a.nlink = 3;
	REQUIRE(zfs_inode_encode(&in, &v) == 0);
	put_raw(key, klen, v.data, v.len);
	uint64_t orphan = f.ino + 1000;
	in.a.ino = orphan;
	in.a.nlink = 1;
	REQUIRE(zfs_inode_encode(&in, &v) == 0);
	put_raw(key, zfs_key_inode(key, orphan), v.data, v.len);
	zfs_inode_free(&in);
	lsm_buf_free(&v);

	int round;
	for (round = 0; round < 4; round++) {
		REQUIRE(zfs_check_scan(db, NULL, NULL, &c) == 0);
		size_t n = zfs_check_count(c);
		if (round == 0) {
			bool nlink = false, orph = false, totals = false;
			for (size_t i = 0; i < n; i++) {
				const struct zfs_problem *p = zfs_check_problem(c, i);
				nlink |= p->code == ZFS_CHECK_WRONG_NLINK && p->ino == f.ino && p->want == 1;
				orph |= p->code == ZFS_CHECK_ORPHAN_INODE && p->ino == orphan;
				totals |= p->code == ZFS_CHECK_WRONG_TOTALS;
			}
			CHECK(n == 3 && nlink && orph && totals);
			zfs_check_describe(c, 0, line, sizeof(line));
			CHECK_MSG(!strncmp(line, zfs_check_code_name(zfs_check_problem(c, 0)->code),
					   strlen(zfs_check_code_name(zfs_check_problem(c, 0)->code))),
				  "%s", line);
		}
		if (n == 0) {
			zfs_check_free(c);
			break;
		}
		for (size_t i = 0; i < n; i++) {
			int e = zfs_check_repair(fs, c, i, on_fix, &fixes);
			CHECK_MSG(e == 0 || (e == EBUSY && round == 0 &&
					     zfs_check_problem(c, i)->code == ZFS_CHECK_WRONG_TOTALS),
				  "round %d problem %zu: %s", round, i, strerror(e));
		}
		zfs_check_free(c);
	}
	CHECK_MSG(round == 2, "clean after %d rounds; fixes:\n%s", round, fixes.all);
	CHECK_MSG(fixes.n == 4 && strstr(fixes.all, "set the nlink of inode") &&
		  strstr(fixes.all, "created /lost+found") && strstr(fixes.all, "moved inode") &&
		  strstr(fixes.all, "set the superblock's totals"), "%s", fixes.all);
	E(zfs_getattr(fs, f.ino, &a), 0);
	CHECK(a.nlink == 1);
	E(zfs_lookup(fs, ZFS_ROOT_INO, "lost+found", &a), 0);
	snprintf(name, sizeof(name), "#%llu", (unsigned long long)orphan);
	E(zfs_lookup(fs, a.ino, name, &a), 0);
	CHECK(a.ino == orphan);
	/* the in-memory superblock counts what the records hold */
	E(zfs_statfs(fs, &st), 0);
	CHECK_MSG(st.files == inodes + 3, "%llu files, %llu + 3 inodes", (unsigned long long)st.files,
		  (unsigned long long)inodes);
	E(zfs_create(fs, ZFS_ROOT_INO, "after-check", &r, false, &a), 0);
	CHECK(a.ino > orphan);
}


/* File data as extents: random writes (aligned 4 KiB, odd small ones, large
 * ones across chunks) and truncations against a model of the bytes; reads,
 * `used`, the check and a reopen agree with it; small odd writes make maps
 * fold; and a 4 KiB write into a stored chunk writes about 4 KiB, not the
 * chunk. */
static unsigned long long ext_rng;
static uint64_t ext_rnd(void)
{
	ext_rng = ext_rng * 6364136223846793005ULL + 1442695040888963407ULL;
	return ext_rng >> 33;
}

static bool same_as_model(uint64_t ino, const uint8_t *model, size_t size, const char *when)
{
	static uint8_t back[512 * 1024];
	struct zfs_attr a;
	size_t got;
	bool eof;
	if (zfs_getattr(fs, ino, &a) || a.size != size) {
		fprintf(stderr, "  %s: size %llu, model %zu\n", when, (unsigned long long)a.size, size);
		return false;
	}
	if (zfs_read(fs, ino, 0, sizeof(back), back, &got, &eof) || got != size || !eof) {
		fprintf(stderr, "  %s: read %zu of %zu\n", when, got, size);
		return false;
	}
	for (size_t i = 0; i < size; i++)
		if (back[i] != model[i]) {
			fprintf(stderr, "  %s: byte %zu is %d, model %d\n", when, i, back[i], model[i]);
			return false;
		}
	return true;
}

static void t_extents(void *ctx)
{
	(void)ctx;
	enum { MAX = 300 * 1024 };
	static uint8_t model[512 * 1024], buf[160 * 1024]; /* MAX + a large write fit */
	struct zfs_attr f, a;
	struct zfs_create_args r = reg(0644);
	struct zfs_stats s0, s1;
	struct zfs_check *c;
	size_t size = 0;
	ext_rng = tl_seed();
	zfs_stats(fs, &s0);
	E(zfs_create(fs, ZFS_ROOT_INO, "extents", &r, false, &f), 0);
	memset(model, 0, sizeof(model));
	for (int op = 1; op <= 1500; op++) {
		uint64_t kind = ext_rnd() % 100, off, len;
		if (kind < 5) { /* truncate, down or up */
			struct zfs_attr t = { .size = ext_rnd() % MAX };
			E(zfs_setattr(fs, f.ino, ZFS_SET_SIZE, &t, false, &a), 0);
			if (t.size < size)
				memset(model + t.size, 0, size - t.size);
			size = t.size;
			continue;
		}
		if (kind < 45) { /* an aligned 4 KiB write */
			off = (ext_rnd() % (MAX / 4096)) * 4096;
			len = 4096;
		} else if (kind < 80) { /* a small odd one */
			off = ext_rnd() % MAX;
			len = 1 + ext_rnd() % 300;
		} else { /* a large one, across chunks */
			off = ext_rnd() % MAX;
			len = 1 + ext_rnd() % sizeof(buf);
		}
		for (size_t i = 0; i < len; i++)
			buf[i] = (uint8_t)(op * 31 + i);
		E(zfs_write(fs, f.ino, off, len, buf, false, &a), 0);
		memcpy(model + off, buf, len);
		if (off + len > size)
			size = off + len;
		if (op % 250 == 0 && !same_as_model(f.ino, model, size, "after writes")) {
			CHECK_MSG(false, "op %d differs from the model", op);
			return;
		}
	}
	CHECK(same_as_model(f.ino, model, size, "at the end"));
	zfs_stats(fs, &s1);
	printf("  %llu folds of %llu bytes\n", (unsigned long long)(s1.folds - s0.folds),
	       (unsigned long long)(s1.fold_bytes - s0.fold_bytes));
	CHECK(s1.folds > s0.folds); /* odd small writes fragment maps */
	REQUIRE(zfs_check_scan(db, NULL, NULL, &c) == 0);
	for (size_t i = 0; i < zfs_check_count(c); i++) {
		char line[512];
		zfs_check_describe(c, i, line, sizeof(line));
		CHECK_MSG(false, "check: %s", line);
	}
	zfs_check_free(c);
	reopen_fs();
	CHECK(same_as_model(f.ino, model, size, "after a reopen"));

	/* a 4 KiB write into a stored chunk adds about 4 KiB to the engine */
	struct lsm_stats l0, l1;
	memset(buf, 7, 4096);
	lsm_stats(db, &l0);
	E(zfs_write(fs, f.ino, 8192, 4096, buf, false, &a), 0);
	lsm_stats(db, &l1);
	printf("  a 4 KiB write: %llu bytes into the engine\n",
	       (unsigned long long)(l1.user_bytes_written - l0.user_bytes_written));
	CHECK(l1.user_bytes_written - l0.user_bytes_written < 4096 + 1024);
}

/* The check finds extents no map uses and maps using missing extents, and
 * repairs both; a scan after is clean. */
static void t_check_extents(void *ctx)
{
	(void)ctx;
	struct zfs_attr f, a;
	struct zfs_create_args r = reg(0644);
	struct zfs_check *c;
	struct fixes fixes = { 0 };
	uint8_t key[32], data[8192];
	memset(data, 3, sizeof(data));
	E(zfs_create(fs, ZFS_ROOT_INO, "extents-checked", &r, false, &f), 0);
	E(zfs_write(fs, f.ino, 0, 8192, data, false, &a), 0);           /* chunk 0: extent 0 */
	E(zfs_write(fs, f.ino, 65536 + 100, 100, data, false, &a), 0);  /* chunk 1: extent 0 */
	put_raw(key, zfs_key_extent(key, f.ino, 0, 77), "stray", 5);   /* in no map */
	struct lsm_batch *b = lsm_batch_new();
	REQUIRE(b && lsm_batch_delete(b, key, zfs_key_extent(key, f.ino, 1, 0)) == LSM_OK);
	REQUIRE(lsm_write(db, b, LSM_WRITE_DURABLE) == LSM_OK);
	lsm_batch_free(b);
	size_t got;
	bool eof;
	E(zfs_read(fs, f.ino, 65536, 300, data, &got, &eof), EIO); /* damage is EIO, not zeros */
	int round;
	for (round = 0; round < 4; round++) {
		REQUIRE(zfs_check_scan(db, NULL, NULL, &c) == 0);
		size_t n = zfs_check_count(c);
		if (round == 0) {
			bool orphan = false, missing = false;
			for (size_t i = 0; i < n; i++) {
				const struct zfs_problem *p = zfs_check_problem(c, i);
				orphan |= p->code == ZFS_CHECK_ORPHAN_EXTENT && p->ino == f.ino &&
					  p->extent == 77;
				missing |= p->code == ZFS_CHECK_MISSING_EXTENT && p->ino == f.ino &&
					   p->chunk == 1;
			}
			CHECK_MSG(orphan && missing, "%zu problems, orphan %d, missing %d", n, orphan,
				  missing);
		}
		if (n == 0) {
			zfs_check_free(c);
			break;
		}
		for (size_t i = 0; i < n; i++) {
			int e = zfs_check_repair(fs, c, i, on_fix, &fixes);
			CHECK_MSG(e == 0 || e == EBUSY, "round %d problem %zu: %s", round, i, strerror(e));
		}
		zfs_check_free(c);
	}
	CHECK_MSG(round >= 1 && round < 4, "clean after %d rounds; fixes:\n%s", round, fixes.all);
	CHECK_MSG(strstr(fixes.all, "deleted extent 77") && strstr(fixes.all, "dropped missing extent"),
		  "%s", fixes.all);
	E(zfs_read(fs, f.ino, 65536, 300, data, &got, &eof), 0); /* the lost bytes read as zeros */
	CHECK(got == 200 && data[150] == 0);
}

/* Repacking: a WAL object whose file data was mostly overwritten has its
 * live extents moved, and after a compaction GC deletes it; the file reads
 * the same and the check is clean. */
static void t_repack(void *ctx)
{
	(void)ctx;
	enum { CH = ZFS_CHUNK_SIZE, N = 16 };
	static uint8_t data[N * CH], back[N * CH];
	char *rdir = make_temp_dir("repack");
	struct zs3_store *rs;
	struct lsm_db *rdb;
	struct zfs *rfs;
	struct zfs_attr f, a;
	struct zfs_create_args r = reg(0644);
	struct lsm_vlog_object *objs;
	struct zfs_repack_stats st;
	size_t n, got;
	bool eof;
	uint64_t deleted;
	REQUIRE(rdir && zs3_open_local(rdir, false, &rs) == ZS3_OK);
	struct lsm_options o = { .store = rs, .memtable_bytes = 32u << 20, .gc_min_age_ms = 1 };
	REQUIRE(lsm_open(&o, &rdb) == LSM_OK && zfs_open(rdb, &rfs) == 0);
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7 + i / CH);
	E(zfs_create(rfs, ZFS_ROOT_INO, "f", &r, false, &f), 0);
	E(zfs_write(rfs, f.ino, 0, sizeof(data), data, true, &a), 0); /* one batch, one object */
	REQUIRE(lsm_compact_all(rdb) == LSM_OK);
	REQUIRE(lsm_vlog_objects(rdb, &objs, &n) == LSM_OK);
	CHECK(n == 1);
	uint64_t first = n ? objs[0].id : 0;
	free(objs);
	/* overwrite all but the last two chunks: the first object keeps 1/8 live */
	memset(data, 0x5a, (N - 2) * CH);
	E(zfs_write(rfs, f.ino, 0, (N - 2) * CH, data, true, &a), 0);
	REQUIRE(lsm_compact_all(rdb) == LSM_OK);
	REQUIRE(lsm_vlog_objects(rdb, &objs, &n) == LSM_OK);
	bool found = false;
	for (size_t i = 0; i < n; i++)
		if (objs[i].id == first) {
			found = true;
			CHECK_MSG(objs[i].live_bytes == 2 * CH, "live %llu",
				  (unsigned long long)objs[i].live_bytes);
		}
	free(objs);
	CHECK(found);
	E(zfs_repack(rfs, 0.5, NULL, NULL, &st), 0);
	printf("  repack: %llu objects, moved %llu extents, %llu bytes\n",
	       (unsigned long long)st.objects, (unsigned long long)st.extents,
	       (unsigned long long)st.bytes);
	CHECK(st.objects == 1 && st.extents == 2 && st.bytes == 2 * CH);
	REQUIRE(lsm_compact_all(rdb) == LSM_OK);
	usleep(5000);
	REQUIRE(lsm_gc(rdb, &deleted) == LSM_OK);
	REQUIRE(lsm_vlog_objects(rdb, &objs, &n) == LSM_OK);
	for (size_t i = 0; i < n; i++)
		CHECK_MSG(objs[i].id != first, "object %llu is still pointed into",
			  (unsigned long long)first);
	free(objs);
	char key[64];
	snprintf(key, sizeof(key), "wal/%020llu.wal", (unsigned long long)first);
	struct zs3_buf zb = { 0 };
	CHECK(zs3_get(rs, key, zs3_range_all(), &zb, NULL) == ZS3_ENOTFOUND);
	zs3_buf_free(&zb);
	E(zfs_read(rfs, f.ino, 0, sizeof(back), back, &got, &eof), 0);
	CHECK(got == sizeof(data) && !memcmp(back, data, sizeof(data)));
	struct zfs_check *c;
	REQUIRE(zfs_check_scan(rdb, NULL, NULL, &c) == 0);
	CHECK(zfs_check_count(c) == 0);
	zfs_check_free(c);
	/* and after a reopen */
	zfs_close(rfs);
	(void)lsm_close(rdb);
	REQUIRE(lsm_open(&o, &rdb) == LSM_OK && zfs_open(rdb, &rfs) == 0);
	E(zfs_read(rfs, f.ino, 0, sizeof(back), back, &got, &eof), 0);
	CHECK(got == sizeof(data) && !memcmp(back, data, sizeof(data)));

	/* the server's repacker thread does the same by itself */
	memset(data, 0x6b, sizeof(data));
	E(zfs_write(rfs, f.ino, 0, sizeof(data), data, true, &a), 0); /* one object again */
	REQUIRE(lsm_compact_all(rdb) == LSM_OK);
	memset(data, 0x7c, (N - 2) * CH);
	E(zfs_write(rfs, f.ino, 0, (N - 2) * CH, data, true, &a), 0);
	REQUIRE(lsm_compact_all(rdb) == LSM_OK);
	struct zfs_stats zs0, zs;
	zfs_stats(rfs, &zs0);
	E(zfs_repacker_start(rfs, 20, 0.5), 0);
	E(zfs_repacker_start(rfs, 20, 0.5), EINVAL); /* one per filesystem */
	do { /* its passes are what this waits for, however slow the machine */
		usleep(10000);
		zfs_stats(rfs, &zs);
	} while (zs.repacker_runs < zs0.repacker_runs + 2);
	printf("  repacker: %llu passes moved %llu bytes\n",
	       (unsigned long long)(zs.repacker_runs - zs0.repacker_runs),
	       (unsigned long long)(zs.repack_bytes - zs0.repack_bytes));
	CHECK(zs.repack_bytes - zs0.repack_bytes == 2 * CH); /* the same two chunks, once */
	E(zfs_read(rfs, f.ino, 0, sizeof(back), back, &got, &eof), 0);
	CHECK(got == sizeof(data) && !memcmp(back, data, sizeof(data)));
	zfs_close(rfs);
	(void)lsm_close(rdb);
	zs3_close(rs);
	rm_rf(rdir);
	free(rdir);
}

static void t_corruption(void *ctx)
{
	(void)ctx;
	struct zfs_attr d, bad, good, a;
	struct zfs_create_args r = reg(0644), dd = dirargs();
	uint8_t key[512];
	char buf[8];
	size_t klen, got;
	bool eof;

	E(zfs_create(fs, ZFS_ROOT_INO, "damaged-dir", &dd, false, &d), 0);
	E(zfs_create(fs, d.ino, "bad", &r, false, &bad), 0);
	E(zfs_create(fs, d.ino, "good", &r, false, &good), 0);
	E(zfs_write(fs, good.ino, 0, 4, "fine", false, &a), 0);
	E(zfs_create(fs, d.ino, "bad-entry", &r, false, &a), 0);

	klen = zfs_key_inode(key, bad.ino);
	put_raw(key, klen, "\xff garbage", 9);
	klen = zfs_key_dirent(key, d.ino, "bad-entry", 9);
	put_raw(key, klen, "\x7f", 1);

	E(zfs_getattr(fs, bad.ino, &a), EIO);
	E(zfs_lookup(fs, d.ino, "bad", &a), EIO);
	E(zfs_read(fs, bad.ino, 0, 4, buf, &got, &eof), EIO);
	E(zfs_lookup(fs, d.ino, "bad-entry", &a), EIO);
	/* the rest is untouched */
	E(zfs_lookup(fs, d.ino, "good", &a), 0);
	E(zfs_read(fs, good.ino, 0, 4, buf, &got, &eof), 0);
	CHECK(got == 4 && !memcmp(buf, "fine", 4));
	E(zfs_getattr(fs, d.ino, &a), 0);
	struct zfs_attr n;
	E(zfs_create(fs, d.ino, "new", &r, false, &n), 0);
	E(zfs_remove(fs, d.ino, "good", false), 0);
	/* removing the damaged one needs its inode (nlink): EIO, nothing
	 * changed; `zerofs fsck` reports it (damaged records are left alone) */
	E(zfs_remove(fs, d.ino, "bad", false), EIO);
	E(zfs_lookup(fs, d.ino, "new", &a), 0);
}

int main(int argc, char **argv)
{
	if (argc > 1)
		tl_set_filter(argv[1]);
	dir = make_temp_dir("fs");
	if (!dir || zs3_open_local(dir, false, &store) != ZS3_OK)
		return 1;
	open_fs();
	tl_run("create_lookup", t_create_lookup, NULL);
	tl_run("directories", t_directories, NULL);
	tl_run("hard_links", t_hard_links, NULL);
	tl_run("rename", t_rename, NULL);
	tl_run("data", t_data, NULL);
	tl_run("setattr", t_setattr, NULL);
	tl_run("setattr_same_size_writes_nothing", t_setattr_same_size, NULL);
	tl_run("commit_waits_for_its_own", t_commit_own, NULL);
	tl_run("readdir", t_readdir, NULL);
	tl_run("persistence", t_persistence, NULL);
	tl_run("check_and_repair", t_check_repair, NULL);
	tl_run("extents", t_extents, NULL);
	tl_run("check_extents", t_check_extents, NULL);
	tl_run("repack", t_repack, NULL);
	tl_run("concurrent_clients", t_concurrent, NULL);
	tl_run("corruption_is_eio_for_that_object", t_corruption, NULL);
	zfs_close(fs);
	(void)lsm_close(db);
	zs3_close(store);
	rm_rf(dir);
	free(dir);
	return tl_finish();
}
