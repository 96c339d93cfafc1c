/*
 * tests/admin/test_admin.c - the zerofs admin tool (its binary, as an
 * operator runs it) against filesystems built with the filesystem core:
 * fsck clean, each planted corruption found by its code and repaired, each
 * kind of damaged object of the tree found and named,
 * info/ls/cat output, compact and gc, config files, an empty store, and
 * read-only commands beside a live writer (which they must not fence) while
 * writing commands refuse to fence it.
 *
 *   test_admin ZEROFS_BINARY [rgw] [filter]
 *
 * `rgw` runs the S3 cases against the RGW fixture instead: a filesystem
 * under a prefix, a wrong bucket, wrong credentials, an unsafe credentials
 * file.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fs.h"
#include "fs_records.h"
#include "store_env.h"
#include "testlib.h"

static const char *tool;
static unsigned long long seed;
static bool use_rgw;
static struct rgw_env rgw;

/* ---- running the tool ---- */

struct run {
	int rc;
	char *out; /* stdout and stderr */
	size_t len;
};

static void run_free(struct run *r)
{
	free(r->out);
	memset(r, 0, sizeof(*r));
}

/* Runs "tool <args>" (args: a shell fragment), capturing both streams. */
static struct run zerofs(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static struct run zerofs(const char *fmt, ...)
{
	struct run r = { -1, NULL, 0 };
	char args[4096], cmd[8192];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof(cmd), "'%s' %s 2>&1", tool, args);
	r.rc = tl_capture(cmd, &r.out, &r.len);
	return r;
}

static bool has(const struct run *r, const char *needle)
{
	return r->out && strstr(r->out, needle) != NULL;
}

#define EXPECT(r, want_rc, needle)                                                            \
	CHECK_MSG((r).rc == (want_rc) && (!(needle) || has(&(r), (needle))),                  \
		  "exit %d (want %d), output lacks \"%s\"?\n----\n%s----", (r).rc, (want_rc), \
		  (needle) ? (needle) : "", (r).out ? (r).out : "")

/* ---- building filesystems with the core ---- */

struct fsx {
	char *dir; /* local store, or NULL (rgw) */
	char store_args[2048];
	struct zs3_store *store;
	struct lsm_db *db;
	struct zfs *fs;
};

static bool fsx_store(struct fsx *x, const char *tag)
{
	memset(x, 0, sizeof(*x));
	if (!use_rgw) {
		if (!(x->dir = make_temp_dir(tag)))
			return false;
		snprintf(x->store_args, sizeof(x->store_args), "--store local --directory '%s'", x->dir);
		return zs3_open_local(x->dir, false, &x->store) == ZS3_OK;
	}
	struct zs3_s3_config c;
	char prefix[128];
	rgw_env_config(&rgw, &c);
	snprintf(prefix, sizeof(prefix), "admin-%s-%llx/", tag, seed & 0xffffffffffULL);
	c.prefix = prefix;
	snprintf(x->store_args, sizeof(x->store_args),
		 "--store s3 --endpoint '%s' --allow-http --bucket '%s' --region '%s' --prefix '%s' "
		 "--credentials-file '%s/admin.cred'",
		 rgw.endpoint, rgw.bucket, rgw.region[0] ? rgw.region : "us-east-1", prefix, rgw.dir);
	return zs3_open_s3(&c, &x->store) == ZS3_OK;
}

static bool fsx_open(struct fsx *x, bool background)
{
	struct lsm_options o = { 0 };
	o.store = x->store;
	o.no_background = !background;
	return lsm_open(&o, &x->db) == LSM_OK && zfs_open(x->db, &x->fs) == 0;
}

static void fsx_close_db(struct fsx *x)
{
	zfs_close(x->fs);
	(void)lsm_close(x->db);
	x->fs = NULL;
	x->db = NULL;
}

static void fsx_free(struct fsx *x)
{
	if (x->db)
		fsx_close_db(x);
	zs3_close(x->store);
	rm_rf(x->dir);
	free(x->dir);
}

#define BIG 200000 /* four chunks, the last one short */
static char big[BIG];

struct tree {
	uint64_t d1, d2, big, small, link_target;
};

/* /d1/{big.bin,small.txt,sub/}, /d2/{hard (link to small), sym -> ../d1/small.txt}, /empty */
static bool build_tree(struct fsx *x, struct tree *t)
{
	struct zfs_attr a;
	struct zfs_create_args dir = { .type = ZFS_DIR, .mode = 0755 };
	struct zfs_create_args reg = { .type = ZFS_REG, .mode = 0644, .uid = 1000, .gid = 100 };
	struct zfs_create_args lnk = { .type = ZFS_LNK, .mode = 0777, .target = "../d1/small.txt" };
	unsigned long long s = seed;
	tl_fill_random(big, BIG, &s);
	if (zfs_create(x->fs, ZFS_ROOT_INO, "d1", &dir, false, &a))
		return false;
	t->d1 = a.ino;
	if (zfs_create(x->fs, ZFS_ROOT_INO, "d2", &dir, false, &a))
		return false;
	t->d2 = a.ino;
	if (zfs_create(x->fs, t->d1, "sub", &dir, false, &a) ||
	    zfs_create(x->fs, ZFS_ROOT_INO, "empty", &reg, false, &a))
		return false;
	if (zfs_create(x->fs, t->d1, "big.bin", &reg, false, &a) ||
	    zfs_write(x->fs, a.ino, 0, BIG, big, false, &a))
		return false;
	t->big = a.ino;
	if (zfs_create(x->fs, t->d1, "small.txt", &reg, false, &a) ||
	    zfs_write(x->fs, a.ino, 0, 12, "hello admin\n", false, &a))
		return false;
	t->small = a.ino;
	if (zfs_link(x->fs, t->small, t->d2, "hard", false, &a) ||
	    zfs_create(x->fs, t->d2, "sym", &lnk, false, &a))
		return false;
	/* churn: renames and removes leave nothing behind */
	for (int i = 0; i < 20; i++) {
		char n[32], m[32];
		snprintf(n, sizeof(n), "tmp%d", i);
		snprintf(m, sizeof(m), "moved%d", i);
		if (zfs_create(x->fs, t->d2, n, &reg, false, &a) ||
		    zfs_write(x->fs, a.ino, (uint64_t)i * 30000, 100, big, false, &a) ||
		    zfs_rename(x->fs, t->d2, n, t->d1, m, false))
			return false;
		if (i % 2 == 0 && zfs_remove(x->fs, t->d1, m, false))
			return false;
	}
	return zfs_commit(x->fs) == 0;
}

static bool built(struct fsx *x, const char *tag, struct tree *t)
{
	return fsx_store(x, tag) && fsx_open(x, false) && build_tree(x, t);
}

/* Writes raw records, as damage would: one batch. */
static bool plant(struct fsx *x, struct lsm_batch *b)
{
	lsm_status st = lsm_write(x->db, b, LSM_WRITE_DURABLE);
	lsm_batch_free(b);
	return st == LSM_OK;
}

/* ---- tests ---- */

static void t_clean_info_ls_cat(void *ctx)
{
	(void)ctx;
	struct fsx x;
	struct tree t;
	struct run r;
	REQUIRE(built(&x, "clean", &t));
	fsx_close_db(&x);

	r = zerofs("%s fsck", x.store_args);
	EXPECT(r, 0, "fsck: clean");
	CHECK(has(&r, "directories"));
	run_free(&r);

	r = zerofs("%s info", x.store_args);
	EXPECT(r, 0, "writer epoch:");
	CHECK(has(&r, "manifest:") && has(&r, "WAL backlog:") && has(&r, "L0:") && has(&r, "objects:"));
	/* root, d1, d2, sub, empty, big.bin, small.txt, sym, 10 moved files */
	CHECK_MSG(has(&r, "inodes:           18 in use"), "%s", r.out);
	run_free(&r);

	r = zerofs("%s ls /", x.store_args);
	EXPECT(r, 0, "d1\nd2\nempty\n");
	run_free(&r);
	r = zerofs("%s ls -l /d2", x.store_args);
	EXPECT(r, 0, "sym -> ../d1/small.txt");
	CHECK(has(&r, " hard\n") && has(&r, "-rw-r--r--   2  1000   100           12 "));
	run_free(&r);
	r = zerofs("%s ls -a d1/sub", x.store_args);
	EXPECT(r, 0, ".\n..\n");
	run_free(&r);
	r = zerofs("%s cat /d2/hard", x.store_args);
	EXPECT(r, 0, NULL);
	CHECK(r.len == 12 && !memcmp(r.out, "hello admin\n", 12));
	run_free(&r);
	r = zerofs("%s cat /d1/big.bin", x.store_args);
	CHECK_MSG(r.rc == 0 && r.len == BIG && !memcmp(r.out, big, BIG), "rc %d len %zu", r.rc, r.len);
	run_free(&r);
	r = zerofs("%s cat /d1/moved1", x.store_args); /* written at 30000: a hole first */
	CHECK(r.rc == 0 && r.len == 30100 && !memcmp(r.out + 30000, big, 100));
	run_free(&r);
	r = zerofs("%s cat /d1", x.store_args);
	EXPECT(r, 3, "Is a directory");
	run_free(&r);
	r = zerofs("%s cat /d2/sym", x.store_args);
	EXPECT(r, 3, "symbolic link");
	run_free(&r);
	r = zerofs("%s ls /nope", x.store_args);
	EXPECT(r, 3, "No such file");
	run_free(&r);

	/* compact, then gc removes what compaction replaced; still clean */
	r = zerofs("%s compact --live-window 0", x.store_args);
	EXPECT(r, 0, "compacted:");
	run_free(&r);
	r = zerofs("%s info", x.store_args);
	EXPECT(r, 0, "in 2 levels (L0 and 1 sorted runs)");
	/* the compaction flushed the file data: it stays in its WAL objects */
	CHECK_MSG(has(&r, "data objects:") && !has(&r, "data objects:     0 "), "%s", r.out);
	run_free(&r);
	r = zerofs("%s gc --min-age 0 --live-window 0", x.store_args);
	EXPECT(r, 0, "gc: deleted");
	CHECK(!has(&r, "gc: deleted 0 ") && has(&r, "repack: "));
	run_free(&r);
	r = zerofs("%s gc --repack 101", x.store_args);
	EXPECT(r, 4, "--repack takes a percentage");
	run_free(&r);
	/* gc kept the objects file data lies in */
	r = zerofs("%s cat /d1/big.bin", x.store_args);
	CHECK_MSG(r.rc == 0 && r.len == BIG && !memcmp(r.out, big, BIG), "after gc: rc %d len %zu",
		  r.rc, r.len);
	run_free(&r);
	r = zerofs("%s fsck", x.store_args);
	EXPECT(r, 0, "fsck: clean");
	run_free(&r);
	r = zerofs("%s cat /d1/big.bin", x.store_args);
	CHECK(r.rc == 0 && r.len == BIG && !memcmp(r.out, big, BIG));
	run_free(&r);
	fsx_free(&x);
}

static void t_corruptions(void *ctx)
{
	(void)ctx;
	struct fsx x;
	struct tree t;
	struct run r;
	uint8_t k[9 + ZFS_NAME_MAX];
	struct lsm_buf v = { 0 };
	struct lsm_batch *b;
	REQUIRE(built(&x, "corrupt", &t));

	/* 1. a dangling entry: /d2/ghost -> inode 999999, with its cookie */
	struct zfs_inode d2;
	uint8_t ik[9];
	REQUIRE(lsm_get(x.db, ik, zfs_key_inode(ik, t.d2), &v) == LSM_OK &&
		zfs_inode_decode(v.data, v.len, t.d2, &d2) == 0);
	struct zfs_dirent de = { 999999, d2.next_cookie, ZFS_REG };
	REQUIRE((b = lsm_batch_new()));
	REQUIRE(zfs_dirent_encode(&de, &v) == 0);
	CHECK(lsm_batch_put(b, k, zfs_key_dirent(k, t.d2, "ghost", 5), v.data, v.len) == LSM_OK);
	REQUIRE(zfs_cookie_encode(999999, "ghost", 5, &v) == 0);
	CHECK(lsm_batch_put(b, k, zfs_key_cookie(k, t.d2, d2.next_cookie), v.data, v.len) == LSM_OK);
	d2.next_cookie++;
	REQUIRE(zfs_inode_encode(&d2, &v) == 0);
	CHECK(lsm_batch_put(b, ik, zfs_key_inode(ik, t.d2), v.data, v.len) == LSM_OK);
	REQUIRE(plant(&x, b));
	zfs_inode_free(&d2);

	/* 2. a wrong nlink: small.txt has two entries, say 7 */
	struct zfs_inode sm;
	REQUIRE(lsm_get(x.db, ik, zfs_key_inode(ik, t.small), &v) == LSM_OK &&
		zfs_inode_decode(v.data, v.len, t.small, &sm) == 0);
	sm.a.nlink = 7;
	REQUIRE((b = lsm_batch_new()) && zfs_inode_encode(&sm, &v) == 0);
	CHECK(lsm_batch_put(b, ik, zfs_key_inode(ik, t.small), v.data, v.len) == LSM_OK);
	REQUIRE(plant(&x, b));

	/* 3. an orphan chunk past the end of small.txt (12 bytes): chunk 5 */
	REQUIRE((b = lsm_batch_new()));
	CHECK(lsm_batch_put(b, k, zfs_key_chunk(k, t.small, 5), "stray bytes", 11) == LSM_OK);
	REQUIRE(plant(&x, b));

	/* 4. an inode no entry names (and the superblock does not count) */
	struct zfs_inode orphan = { 0 };
	orphan.a = sm.a;
	orphan.a.ino = 5000;
	orphan.a.nlink = 1;
	orphan.a.size = 0;
	orphan.a.used = 0;
	REQUIRE((b = lsm_batch_new()) && zfs_inode_encode(&orphan, &v) == 0);
	CHECK(lsm_batch_put(b, ik, zfs_key_inode(ik, 5000), v.data, v.len) == LSM_OK);
	REQUIRE(plant(&x, b));
	zfs_inode_free(&sm);
	lsm_buf_free(&v);
	fsx_close_db(&x);

	r = zerofs("%s fsck", x.store_args);
	EXPECT(r, 1, "dangling-entry: /d2/ghost names inode 999999, which does not exist");
	CHECK_MSG(has(&r, "wrong-nlink: inode ") && has(&r, "has nlink 7, but the entries naming it are 2"), "%s", r.out);
	CHECK_MSG(has(&r, "chunk-past-eof: chunk 5 of inode"), "%s", r.out);
	CHECK_MSG(has(&r, "orphan-inode: inode 5000 (regular file)"), "%s", r.out);
	CHECK(has(&r, "wrong-totals:") && !has(&r, "wrong-used:")); /* used counts up to EOF */
	run_free(&r);

	/* readdir skips the dangling entry: ls works for recovery */
	r = zerofs("%s ls /d2", x.store_args);
	EXPECT(r, 0, "hard\nsym\n");
	CHECK(!has(&r, "ghost"));
	run_free(&r);

	/* --repair refuses a store written moments ago, unless told */
	r = zerofs("%s fsck --repair", x.store_args);
	EXPECT(r, 3, "would fence that server");
	run_free(&r);
	r = zerofs("%s fsck --repair --live-window 0", x.store_args);
	EXPECT(r, 1, "the filesystem is clean now");
	CHECK(has(&r, "repaired: removed the entry \"ghost\"") &&
	      has(&r, "repaired: set the nlink of inode") && has(&r, "repaired: deleted chunk 5 of inode") &&
	      has(&r, "repaired: moved inode 5000 to /lost+found/#5000") &&
	      has(&r, "repaired: set the superblock's totals"));
	run_free(&r);
	r = zerofs("%s fsck", x.store_args);
	EXPECT(r, 0, "fsck: clean");
	run_free(&r);
	r = zerofs("%s ls /lost+found", x.store_args);
	EXPECT(r, 0, "#5000\n");
	run_free(&r);
	r = zerofs("%s cat /d1/small.txt", x.store_args);
	CHECK(r.rc == 0 && r.len == 12 && !memcmp(r.out, "hello admin\n", 12));
	run_free(&r);
	r = zerofs("%s cat /d1/big.bin", x.store_args);
	CHECK(r.rc == 0 && r.len == BIG && !memcmp(r.out, big, BIG));
	run_free(&r);
	fsx_free(&x);
}

/* A chunk partly past EOF is trimmed, a chunk of a directory deleted, a
 * missing cookie index record restored. */
static void t_more_repairs(void *ctx)
{
	(void)ctx;
	struct fsx x;
	struct tree t;
	struct run r;
	uint8_t k[17];
	struct lsm_batch *b;
	REQUIRE(built(&x, "repairs", &t));
	REQUIRE((b = lsm_batch_new()));
	char chunk[ZFS_CHUNK_SIZE];
	memcpy(chunk, big + 3 * ZFS_CHUNK_SIZE, BIG - 3 * ZFS_CHUNK_SIZE);
	memset(chunk + (BIG - 3 * ZFS_CHUNK_SIZE), 'X', 100);
	CHECK(lsm_batch_put(b, k, zfs_key_chunk(k, t.big, 3), chunk, BIG - 3 * ZFS_CHUNK_SIZE + 100) == LSM_OK);
	CHECK(lsm_batch_put(b, k, zfs_key_chunk(k, t.d1, 0), "dir data", 8) == LSM_OK);
	/* drop the cookie record of "small.txt" in d1 */
	struct lsm_db_iter *it;
	struct lsm_read_options ro = { 0 };
	uint8_t prefix[9];
	ro.prefix = prefix;
	ro.prefix_len = zfs_key_cookie(k, t.d1, 0) - 8;
	memcpy(prefix, k, 9);
	REQUIRE(lsm_iterator(x.db, &ro, &it) == LSM_OK);
	for (lsm_db_iter_seek_first(it); lsm_db_iter_valid(it); lsm_db_iter_next(it)) {
		size_t kl, vl, nl;
		const uint8_t *ck = lsm_db_iter_key(it, &kl), *cv = lsm_db_iter_value(it, &vl), *nm;
		uint64_t ino;
		if (zfs_cookie_decode(cv, vl, &ino, &nm, &nl) == 0 && nl == 9 && !memcmp(nm, "small.txt", 9))
			CHECK(lsm_batch_delete(b, ck, kl) == LSM_OK);
	}
	lsm_db_iter_free(it);
	REQUIRE(plant(&x, b));
	fsx_close_db(&x);
	r = zerofs("%s fsck", x.store_args);
	EXPECT(r, 1, "chunk-past-eof: chunk 3 of inode");
	CHECK(has(&r, "orphan-chunk: chunk 0 (8 bytes) belongs to inode") && has(&r, "is not a regular file"));
	CHECK(has(&r, "missing-cookie: /d1/small.txt has cookie"));
	run_free(&r);
	r = zerofs("%s fsck --repair --force", x.store_args);
	EXPECT(r, 1, "the filesystem is clean now");
	CHECK(has(&r, "repaired: trimmed chunk 3 of inode") && has(&r, "repaired: indexed \"small.txt\""));
	run_free(&r);
	r = zerofs("%s fsck", x.store_args);
	EXPECT(r, 0, "fsck: clean");
	run_free(&r);
	r = zerofs("%s ls /d1", x.store_args);
	EXPECT(r, 0, "small.txt");
	run_free(&r);
	r = zerofs("%s cat /d1/big.bin", x.store_args);
	CHECK(r.rc == 0 && r.len == BIG && !memcmp(r.out, big, BIG));
	run_free(&r);
	fsx_free(&x);
}

/* ---- damaged objects of the tree ---- */

/* The live objects, as lsm_verify_store walks them. */
struct live {
	char sst[64], manifest[64], wal[64];
	uint64_t wal_bytes;
};

static void on_live(void *ctx, const struct lsm_verify_report *r)
{
	struct live *l = ctx;
	if (!strncmp(r->key, "sst/", 4) && !l->sst[0])
		snprintf(l->sst, sizeof(l->sst), "%s", r->key);
	else if (!strncmp(r->key, "manifest/", 9) && !l->manifest[0])
		snprintf(l->manifest, sizeof(l->manifest), "%s", r->key);
	else if (!strncmp(r->key, "wal/", 4) && r->bytes > l->wal_bytes) { /* one with records */
		snprintf(l->wal, sizeof(l->wal), "%s", r->key);
		l->wal_bytes = r->bytes;
	}
}

static uint64_t le64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

enum damage { D_FOOTER, D_INDEX, D_DATA, D_FILTER, D_MANIFEST, D_WAL };

/* Flips a byte of one object, through the store (as a damaged object would
 * come back from S3: the store's own MD5 matches). *saved keeps the original. */
static bool damage(struct fsx *x, const struct live *l, enum damage d, struct zs3_buf *saved,
		   const char **key)
{
	struct zs3_buf b = { 0 };
	*key = d == D_MANIFEST ? l->manifest : d == D_WAL ? l->wal : l->sst;
	if (zs3_get(x->store, *key, zs3_range_all(), saved, NULL) ||
	    zs3_get(x->store, *key, zs3_range_all(), &b, NULL) || b.len < 68)
		return false;
	const uint8_t *f = b.data + b.len - 68; /* an SST's footer (docs/FORMAT.md) */
	switch (d) {
	case D_FOOTER: b.data[b.len - 16] ^= 0x04; break;         /* its checksum */
	case D_INDEX: b.data[le64(f) + 3] ^= 0x10; break;         /* index block offset */
	case D_DATA: b.data[40] ^= 0x01; break;                   /* data block 0 */
	case D_FILTER: b.data[le64(f + 16) + 2] ^= 0x80; break;   /* filter block offset */
	case D_MANIFEST: b.data[b.len / 2] ^= 0x20; break;
	case D_WAL: b.data[40] ^= 0x01; break;                    /* the first record */
	}
	bool ok = zs3_put(x->store, *key, b.data, b.len, NULL) == ZS3_OK;
	zs3_buf_free(&b);
	return ok;
}

/* Damage to each kind of live object in turn (an SST's footer, index block,
 * a data block, its filter, the manifest, a WAL object): fsck reads every
 * object, exits 1 and names the damaged one, and leaves the records alone;
 * --repair cannot fix it (2); the original bytes put back, fsck is clean. */
static void t_damaged_objects(void *ctx)
{
	(void)ctx;
	struct fsx x;
	struct tree t;
	struct run r;
	struct zfs_attr a;
	struct zfs_create_args reg = { .type = ZFS_REG, .mode = 0644 };
	struct live l = { 0 };
	struct lsm_verify_summary sum;
	REQUIRE(built(&x, "objects", &t));
	/* the tree in an SST (a sorted run), then a change only the WAL holds */
	REQUIRE(lsm_compact_all(x.db) == LSM_OK);
	REQUIRE(zfs_create(x.fs, ZFS_ROOT_INO, "in-the-wal", &reg, false, &a) == 0 &&
		zfs_write(x.fs, a.ino, 0, 6, "recent", true, &a) == 0);
	fsx_close_db(&x);
	REQUIRE(lsm_verify_store(x.store, on_live, &l, &sum) == LSM_OK && sum.damaged == 0);
	REQUIRE(l.sst[0] && l.manifest[0] && l.wal[0]);

	r = zerofs("%s fsck", x.store_args);
	EXPECT(r, 0, "fsck: clean");
	CHECK_MSG(has(&r, "1 SSTs (") && has(&r, "read and checked"), "%s", r.out);
	run_free(&r);

	static const struct {
		enum damage d;
		const char *want;
	} cases[] = {
		{ D_FOOTER, "sst footer: checksum mismatch" },
		{ D_INDEX, "sst index block at " },
		{ D_DATA, "sst data block at 0: checksum mismatch" },
		{ D_FILTER, "sst filter block at " },
		{ D_MANIFEST, "checksum mismatch" },
		{ D_WAL, "checksum" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct zs3_buf saved = { 0 };
		const char *key;
		char line[256];
		const char *want = line;
		REQUIRE(damage(&x, &l, cases[i].d, &saved, &key));
		snprintf(line, sizeof(line), "damaged-object: %s: ", key);
		r = zerofs("%s fsck", x.store_args);
		EXPECT(r, 1, want);
		CHECK_MSG(has(&r, cases[i].want), "case %zu: no \"%s\" in\n%s", i, cases[i].want,
			  r.out ? r.out : "");
		CHECK_MSG(has(&r, "records were not checked") && has(&r, "1 problems found") &&
			  !has(&r, "fsck: clean"), "case %zu:\n%s", i, r.out ? r.out : "");
		run_free(&r);
		if (cases[i].d == D_FOOTER) {
			/* what fsck used to call clean: a read of the file fails */
			r = zerofs("%s cat /d1/big.bin", x.store_args);
			EXPECT(r, 3, "Input/output error");
			run_free(&r);
			r = zerofs("%s fsck --repair --force", x.store_args);
			EXPECT(r, 2, "not repaired: no safe repair");
			CHECK(has(&r, want) && has(&r, "1 problems remain"));
			run_free(&r);
		}
		REQUIRE(zs3_put(x.store, key, saved.data, saved.len, NULL) == ZS3_OK);
		zs3_buf_free(&saved);
	}
	r = zerofs("%s fsck", x.store_args);
	EXPECT(r, 0, "fsck: clean");
	run_free(&r);
	r = zerofs("%s cat /d1/big.bin", x.store_args);
	CHECK(r.rc == 0 && r.len == BIG && !memcmp(r.out, big, BIG));
	run_free(&r);
	r = zerofs("%s cat /in-the-wal", x.store_args);
	CHECK(r.rc == 0 && r.len == 6 && !memcmp(r.out, "recent", 6));
	run_free(&r);
	fsx_free(&x);
}

/* Read-only commands beside a writer with its threads running: they work,
 * see its durable writes, and do not fence it. Writing commands refuse. */
static void t_beside_live_writer(void *ctx)
{
	(void)ctx;
	struct fsx x;
	struct tree t;
	struct run r;
	struct zfs_attr a;
	struct zfs_create_args reg = { .type = ZFS_REG, .mode = 0600 };
	REQUIRE(fsx_store(&x, "live") && fsx_open(&x, true) && build_tree(&x, &t));
	REQUIRE(zfs_create(x.fs, ZFS_ROOT_INO, "durable-now", &reg, true, &a) == 0);
	r = zerofs("%s info", x.store_args);
	EXPECT(r, 0, "writer epoch:     1\n");
	run_free(&r);
	r = zerofs("%s ls /", x.store_args);
	EXPECT(r, 0, "durable-now\n");
	run_free(&r);
	r = zerofs("%s fsck", x.store_args);
	EXPECT(r, 0, "fsck: clean");
	run_free(&r);
	CHECK(zfs_create(x.fs, ZFS_ROOT_INO, "after-readers", &reg, true, &a) == 0);
	CHECK(zfs_write(x.fs, a.ino, 0, 5, "still", true, &a) == 0);
	r = zerofs("%s compact", x.store_args);
	EXPECT(r, 3, "refusing to compact");
	CHECK(has(&r, "would fence that server") && has(&r, "--force"));
	run_free(&r);
	r = zerofs("%s gc", x.store_args);
	EXPECT(r, 3, "refusing to gc");
	run_free(&r);
	CHECK(zfs_create(x.fs, ZFS_ROOT_INO, "after-refusals", &reg, true, &a) == 0);
	/* --force does fence it: the writer's next durable change fails */
	r = zerofs("%s compact --force", x.store_args);
	EXPECT(r, 0, "compacted:");
	CHECK(has(&r, "warning:"));
	run_free(&r);
	CHECK(zfs_create(x.fs, ZFS_ROOT_INO, "fenced", &reg, true, &a) == EROFS);
	fsx_free(&x);
}

static void t_not_a_filesystem(void *ctx)
{
	(void)ctx;
	struct fsx x;
	struct run r;
	REQUIRE(fsx_store(&x, "empty"));
	r = zerofs("%s info", x.store_args);
	EXPECT(r, 3, "holds no ZeroFS filesystem");
	run_free(&r);
	r = zerofs("%s fsck", x.store_args);
	EXPECT(r, 3, "holds no ZeroFS filesystem");
	run_free(&r);
	/* an LSM tree that is not a filesystem */
	struct lsm_options o = { 0 };
	struct lsm_batch *b = lsm_batch_new();
	o.store = x.store;
	o.no_background = true;
	REQUIRE(lsm_open(&o, &x.db) == LSM_OK);
	CHECK(lsm_batch_put(b, "hello", 5, "world", 5) == LSM_OK);
	REQUIRE(plant(&x, b));
	(void)lsm_close(x.db);
	x.db = NULL;
	r = zerofs("%s ls /", x.store_args);
	EXPECT(r, 3, "no superblock");
	run_free(&r);
	r = zerofs("%s fsck", x.store_args);
	EXPECT(r, 1, "no-superblock:");
	CHECK(has(&r, "unknown-record:") || has(&r, "bad-record:"));
	run_free(&r);
	fsx_free(&x);
}

static bool write_text(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	if (fd < 0)
		return false;
	bool ok = write(fd, text, strlen(text)) == (ssize_t)strlen(text);
	return close(fd) == 0 && ok && chmod(path, mode) == 0;
}

static void t_config_file(void *ctx)
{
	(void)ctx;
	struct fsx x;
	struct tree t;
	struct run r;
	char conf[1024], inc[1024], text[4096];
	REQUIRE(built(&x, "conf", &t));
	fsx_close_db(&x);
	char *cdir = make_temp_dir("conf-files");
	REQUIRE(cdir);
	snprintf(conf, sizeof(conf), "%s/ganesha.conf", cdir);
	snprintf(inc, sizeof(inc), "%s/zerofs.conf", cdir);
	snprintf(text, sizeof(text),
		 "# a ganesha config\nNFS_CORE_PARAM { Protocols = 3, 4; }\n"
		 "EXPORT { Export_Id = 1; Path = /vfs; FSAL { Name = VFS; } }\n"
		 "%%include \"zerofs.conf\"\n");
	REQUIRE(write_text(conf, text, 0644));
	snprintf(text, sizeof(text),
		 "export {\n  export_id = 7;   # lower case works too\n  Path = \"/z\";\n"
		 "  fsal {\n    name = zerofs;\n    STORE = local;\n    Directory = \"%s\"; # ; inside\n"
		 "    Sync = false; Flush_Interval_Ms = 50; Memory_Cache_MB = 16;\n  }\n}\n",
		 x.dir);
	REQUIRE(write_text(inc, text, 0644));
	r = zerofs("--config '%s' --export-id 7 fsck", conf);
	EXPECT(r, 0, "fsck: clean");
	run_free(&r);
	r = zerofs("--config '%s' ls /d1", conf); /* the only ZEROFS export */
	EXPECT(r, 0, "big.bin\n");
	run_free(&r);
	r = zerofs("--config '%s' --export-id 1 info", conf);
	EXPECT(r, 3, "export 1 (line 3) is not a ZEROFS export");
	run_free(&r);
	r = zerofs("--config '%s' --export-id 9 info", conf);
	EXPECT(r, 3, "has no EXPORT with Export_Id = 9");
	run_free(&r);
	/* errors name the file, line and key */
	REQUIRE(write_text(inc, "EXPORT { Export_Id = 7; FSAL { Name = ZEROFS; Store = local;\n"
				"Directory = /x; Colour = blue; } }\n", 0644));
	r = zerofs("--config '%s' info", conf);
	EXPECT(r, 3, "zerofs.conf:2: ZEROFS FSAL block: unknown key Colour");
	run_free(&r);
	REQUIRE(write_text(inc, "EXPORT { Export_Id = 7; FSAL { Name = ZEROFS; Store = local;\n"
				"Directory = \"/x\" } \n", 0644));
	r = zerofs("--config '%s' info", conf);
	EXPECT(r, 3, "missing '}' at the end of the file");
	run_free(&r);
	REQUIRE(write_text(inc, "EXPORT { Export_Id = 7; FSAL { Name = ZEROFS; Store = local; } }\n", 0644));
	r = zerofs("--config '%s' info", conf);
	EXPECT(r, 3, "Directory is missing");
	run_free(&r);
	/* bad usage */
	r = zerofs("%s fsck --frobnicate", x.store_args);
	EXPECT(r, 4, "unknown option");
	run_free(&r);
	r = zerofs("%s ls --repair /", x.store_args);
	EXPECT(r, 4, "--repair applies to fsck only");
	run_free(&r);
	r = zerofs("--store local --directory relative info");
	EXPECT(r, 4, "Directory must be an absolute path");
	run_free(&r);
	r = zerofs("help gc");
	EXPECT(r, 0, "--min-age SECONDS");
	run_free(&r);
	rm_rf(cdir);
	free(cdir);
	fsx_free(&x);
}

/* ---- S3 (the RGW fixture) ---- */

static void t_rgw(void *ctx)
{
	(void)ctx;
	struct fsx x;
	struct tree t;
	struct run r;
	char cred[600], bad[600], text[512];
	snprintf(cred, sizeof(cred), "%s/admin.cred", rgw.dir);
	snprintf(text, sizeof(text), "access_key = %s\nsecret_key = %s\n", rgw.access_key, rgw.secret_key);
	REQUIRE(write_text(cred, text, 0600));
	REQUIRE(built(&x, "rgw", &t));
	fsx_close_db(&x);
	r = zerofs("%s fsck", x.store_args);
	EXPECT(r, 0, "fsck: clean");
	CHECK(!has(&r, rgw.secret_key));
	run_free(&r);
	r = zerofs("%s cat /d1/big.bin", x.store_args);
	CHECK(r.rc == 0 && r.len == BIG && !memcmp(r.out, big, BIG));
	run_free(&r);
	r = zerofs("%s info", x.store_args);
	EXPECT(r, 0, "s3://");
	run_free(&r);
	/* a wrong bucket */
	r = zerofs("--store s3 --endpoint '%s' --allow-http --bucket no-such-bucket-%llx "
		   "--credentials-file '%s' info", rgw.endpoint, seed, cred);
	EXPECT(r, 3, "does not exist (check --bucket / Bucket)");
	run_free(&r);
	/* wrong credentials */
	snprintf(bad, sizeof(bad), "%s/admin-bad.cred", rgw.dir);
	snprintf(text, sizeof(text), "access_key = %s\nsecret_key = not-the-secret-%llx\n", rgw.access_key, seed);
	REQUIRE(write_text(bad, text, 0600));
	r = zerofs("--store s3 --endpoint '%s' --allow-http --bucket '%s' --credentials-file '%s' info",
		   rgw.endpoint, rgw.bucket, bad);
	EXPECT(r, 3, "access denied");
	CHECK(!has(&r, "not-the-secret"));
	run_free(&r);
	/* a credentials file others can read is refused */
	REQUIRE(chmod(bad, 0644) == 0);
	r = zerofs("--store s3 --endpoint '%s' --allow-http --bucket '%s' --credentials-file '%s' info",
		   rgw.endpoint, rgw.bucket, bad);
	EXPECT(r, 3, "group or others");
	run_free(&r);
	/* a prefix holding nothing */
	r = zerofs("--store s3 --endpoint '%s' --allow-http --bucket '%s' --prefix nothing-here-%llx/ "
		   "--credentials-file '%s' info", rgw.endpoint, rgw.bucket, seed, cred);
	EXPECT(r, 3, "holds no ZeroFS filesystem");
	run_free(&r);
	/* plain http without --allow-http */
	r = zerofs("--store s3 --endpoint '%s' --bucket '%s' --credentials-file '%s' info",
		   rgw.endpoint, rgw.bucket, cred);
	EXPECT(r, 3, "http");
	run_free(&r);
	unlink(bad);
	unlink(cred);
	fsx_free(&x);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s ZEROFS_BINARY [rgw] [filter]\n", argv[0]);
		return 2;
	}
	tool = argv[1];
	int arg = 2;
	if (argc > arg && !strcmp(argv[arg], "rgw")) {
		use_rgw = true;
		arg++;
	}
	if (argc > arg)
		tl_set_filter(argv[arg]);
	seed = tl_seed();
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (use_rgw) {
		if (!rgw_env_load(&rgw))
			return 1;
		tl_run("rgw/fsck_cat_and_store_errors", t_rgw, NULL);
		return tl_finish();
	}
	tl_run("clean_info_ls_cat_compact_gc", t_clean_info_ls_cat, NULL);
	tl_run("corruptions_found_and_repaired", t_corruptions, NULL);
	tl_run("more_repairs", t_more_repairs, NULL);
	tl_run("damaged_objects_named", t_damaged_objects, NULL);
	tl_run("beside_a_live_writer", t_beside_live_writer, NULL);
	tl_run("not_a_filesystem", t_not_a_filesystem, NULL);
	tl_run("config_file_and_usage", t_config_file, NULL);
	return tl_finish();
}
