/*
 * tests/nfs/test_nfs.c - the ZEROFS FSAL end to end: Debian's stock
 * ganesha.nfsd 4.3 loads libfsalzerofs.so from the build tree and serves two
 * exports on 127.0.0.1 (each its own filesystem in a local-directory store:
 * /zerofs with Sync = true, /zerofs_async with Sync = false), and libnfs
 * drives them over NFSv3 and NFSv4.
 *
 *   test_nfs SRC_DIR PLUGIN_DIR WORK_DIR [name-filter]
 *
 * ganesha runs isolated (its own rpcbind, random ports) through
 * scripts/ganesha.sh, which also provides the crash: `restart` SIGKILLs it
 * and starts it again on the same ports. The same test list runs once per
 * protocol version (names "v3/..." and "v4/..."), each in its own directory;
 * then the server is killed after a COMMIT and everything committed is
 * checked byte for byte; garbage file handles must get errors while the
 * server keeps serving. WORK_DIR is wiped at the start and kept afterwards
 * (ganesha's log is in WORK_DIR/ganesha/ganesha.log).
 *
 * Needs root (mount namespace for the private rpcbind), ganesha and
 * rpcbind installed (scripts/setup.sh).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <nfsc/libnfs.h>
#include <nfsc/libnfs-raw.h>
#include <nfsc/libnfs-raw-nfs.h>
#include <nfsc/libnfs-raw-nfs4.h>

#include "harness.h"
#include "testlib.h"

/* libnfs 4.0 returns its file handles as this (libnfs-private.h) */
struct libnfs_fh {
	int len;
	char *val;
};

/* ---- the server: /zerofs (Sync) and /zerofs_async (Sync = false) ---------- */

static bool start_server(void)
{
	char snippet[DIR_MAX + 32], conf[8192], a[3072], b[3072], fa[2048], fb[2048], st[1536];

	store_lines(fa, sizeof(fa), "nfs", "store-sync");
	store_lines(st, sizeof(st), "nfs", "store-async");
	snprintf(fb, sizeof(fb), "%s\t\tSync = false;\n\t\tFlush_Interval_Ms = 50;\n\t\tWAL_Uploads = 2;\n\t\tMemory_Cache_MB = 32;\n",
		 st);
	snprintf(conf, sizeof(conf), "%s%s", export_block(a, sizeof(a), 1, "/zerofs", fa),
		 export_block(b, sizeof(b), 2, "/zerofs_async", fb));
	snprintf(snippet, sizeof(snippet), "%s/exports.conf", work_dir);
	if (!write_file(snippet, conf))
		return false;
	return ganesha_start(gdir, snippet) && read_env();
}

/* ---- clients --------------------------------------------------------------- */

struct client {
	struct nfs_context *nfs;
	int version;
	char base[64]; /* this version's directory in the export */
};

static char *P(struct client *c, const char *name)
{
	static char buf[4][1024];
	static int n;
	char *p = buf[n++ % 4];
	snprintf(p, sizeof(buf[0]), "%s/%s", c->base, name);
	return p;
}

/* Writes len bytes at off. libnfs 4.0's NFSv4 client cannot encode a WRITE
 * of 4000 bytes or more (its encode buffer is 4 KiB), and reports no write
 * size for NFSv4: there, write 2 KiB at a time. */
static bool put(struct nfs_context *nfs, struct nfsfh *fh, uint64_t off, const void *buf, size_t len)
{
	const char *p = buf;
	size_t piece = nfs_get_writemax(nfs) ? 1u << 20 : 2048;
	while (len) {
		int n = nfs_pwrite(nfs, fh, off, len > piece ? piece : len, p);
		if (n <= 0) {
			fprintf(stderr, "  pwrite at %" PRIu64 ": %d %s\n", off, n, nfs_get_error(nfs));
			return false;
		}
		off += (uint64_t)n;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

/* Reads exactly len bytes at off unless EOF comes first; returns bytes read. */
static long get(struct nfs_context *nfs, struct nfsfh *fh, uint64_t off, void *buf, size_t len)
{
	char *p = buf;
	size_t got = 0;
	while (got < len) {
		size_t want = len - got > 1048576 ? 1048576 : len - got;
		int n = nfs_pread(nfs, fh, off + got, want, p + got);
		if (n < 0) {
			fprintf(stderr, "  pread at %" PRIu64 ": %d %s\n", off + got, n, nfs_get_error(nfs));
			return n;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (long)got;
}

static bool write_whole(struct nfs_context *nfs, const char *path, const void *buf, size_t len,
			bool commit)
{
	struct nfsfh *fh;
	bool ok;
	if (nfs_create(nfs, path, O_RDWR | O_CREAT | O_TRUNC, 0644, &fh) != 0) {
		fprintf(stderr, "  create %s: %s\n", path, nfs_get_error(nfs));
		return false;
	}
	ok = put(nfs, fh, 0, buf, len);
	if (ok && commit && nfs_fsync(nfs, fh) != 0) {
		fprintf(stderr, "  fsync %s: %s\n", path, nfs_get_error(nfs));
		ok = false;
	}
	return nfs_close(nfs, fh) == 0 && ok;
}

/* Whole file content (caller frees); *len its size. */
static char *read_whole(struct nfs_context *nfs, const char *path, size_t *len)
{
	struct nfs_stat_64 st;
	struct nfsfh *fh;
	char *buf;
	long n;
	if (nfs_stat64(nfs, path, &st) != 0 || nfs_open(nfs, path, O_RDONLY, &fh) != 0)
		return NULL;
	buf = malloc(st.nfs_size + 1);
	n = get(nfs, fh, 0, buf, st.nfs_size);
	nfs_close(nfs, fh);
	if (n != (long)st.nfs_size) {
		free(buf);
		return NULL;
	}
	*len = st.nfs_size;
	return buf;
}

static uint64_t fnv64(const void *p, size_t n)
{
	const unsigned char *c = p;
	uint64_t h = 1469598103934665603ULL;
	while (n--) {
		h ^= *c++;
		h *= 1099511628211ULL;
	}
	return h;
}

static bool all_zero(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

#define OK(expr)                                                                             \
	do {                                                                                 \
		int r_ = (expr);                                                             \
		CHECK_MSG(r_ == 0, "%s -> %d (%s)", #expr, r_, nfs_get_error(c->nfs));       \
	} while (0)
#define FAILS(expr, err)                                                                     \
	do {                                                                                 \
		int r_ = (expr);                                                             \
		CHECK_MSG(r_ == -(err), "%s -> %d, want %d (%s)", #expr, r_, -(err),         \
			  strerror(err));                                                    \
	} while (0)

/* ---- tests run once per protocol version ----------------------------------- */

static void t_write_read(void *ctx)
{
	struct client *c = ctx;
	struct nfs_stat_64 st;
	char *back;
	size_t len;

	REQUIRE(write_whole(c->nfs, P(c, "hello.txt"), "hello, zerofs\n", 14, false));
	REQUIRE((back = read_whole(c->nfs, P(c, "hello.txt"), &len)) != NULL);
	CHECK(len == 14 && memcmp(back, "hello, zerofs\n", 14) == 0);
	free(back);
	OK(nfs_stat64(c->nfs, P(c, "hello.txt"), &st));
	CHECK(S_ISREG(st.nfs_mode) && st.nfs_size == 14 && st.nfs_nlink == 1);
	/* overwrite in the middle */
	struct nfsfh *fh;
	OK(nfs_open(c->nfs, P(c, "hello.txt"), O_RDWR, &fh));
	CHECK(put(c->nfs, fh, 7, "ZEROFS", 6));
	OK(nfs_close(c->nfs, fh));
	REQUIRE((back = read_whole(c->nfs, P(c, "hello.txt"), &len)) != NULL);
	CHECK(len == 14 && memcmp(back, "hello, ZEROFS\n", 14) == 0);
	free(back);
}

#define BIG_SIZE (8u << 20)
static bool big_written[5]; /* by version: checked again after the crash */

static void t_big_file(void *ctx)
{
	struct client *c = ctx;
	unsigned long long s = seed ^ (unsigned long long)c->version;
	char *data = malloc(BIG_SIZE), *back;
	size_t len = 0;

	tl_fill_random(data, BIG_SIZE, &s);
	big_written[c->version] = write_whole(c->nfs, P(c, "big.bin"), data, BIG_SIZE, true);
	CHECK(big_written[c->version]);
	back = read_whole(c->nfs, P(c, "big.bin"), &len);
	CHECK(back && len == BIG_SIZE && memcmp(back, data, BIG_SIZE) == 0);
	printf("  %s: 8 MiB file, fnv64 %016" PRIx64 " written, %016" PRIx64 " read\n",
	       c->version == 3 ? "v3" : "v4", fnv64(data, BIG_SIZE), back ? fnv64(back, len) : 0);
	free(back);
	free(data);
}

static void t_mkdir_rmdir(void *ctx)
{
	struct client *c = ctx;
	struct nfs_stat_64 st;

	OK(nfs_mkdir(c->nfs, P(c, "d")));
	FAILS(nfs_mkdir(c->nfs, P(c, "d")), EEXIST);
	OK(nfs_stat64(c->nfs, P(c, "d"), &st));
	CHECK(S_ISDIR(st.nfs_mode) && st.nfs_nlink == 2);
	REQUIRE(write_whole(c->nfs, P(c, "d/f"), "x", 1, false));
	FAILS(nfs_rmdir(c->nfs, P(c, "d")), ENOTEMPTY);
	FAILS(nfs_unlink(c->nfs, P(c, "d")), c->version == 3 ? EISDIR : ENOTEMPTY);
	OK(nfs_unlink(c->nfs, P(c, "d/f")));
	OK(nfs_rmdir(c->nfs, P(c, "d")));
	FAILS(nfs_stat64(c->nfs, P(c, "d"), &st), ENOENT);
	FAILS(nfs_rmdir(c->nfs, P(c, "d")), ENOENT);
}

static void t_rename(void *ctx)
{
	struct client *c = ctx;
	struct nfs_stat_64 st;
	char *back;
	size_t len;

	REQUIRE(write_whole(c->nfs, P(c, "ra"), "AAAA", 4, false));
	REQUIRE(write_whole(c->nfs, P(c, "rb"), "BB", 2, false));
	OK(nfs_rename(c->nfs, P(c, "ra"), P(c, "rb"))); /* over an existing file */
	FAILS(nfs_stat64(c->nfs, P(c, "ra"), &st), ENOENT);
	REQUIRE((back = read_whole(c->nfs, P(c, "rb"), &len)) != NULL);
	CHECK(len == 4 && memcmp(back, "AAAA", 4) == 0);
	free(back);

	OK(nfs_mkdir(c->nfs, P(c, "rp")));
	OK(nfs_mkdir(c->nfs, P(c, "rp/q")));
	FAILS(nfs_rename(c->nfs, P(c, "rp"), P(c, "rp/q/r")), EINVAL); /* into its own subtree */
	OK(nfs_mkdir(c->nfs, P(c, "rt")));
	REQUIRE(write_whole(c->nfs, P(c, "rt/x"), "x", 1, false));
	CHECK(nfs_rename(c->nfs, P(c, "rp"), P(c, "rt")) < 0); /* over a non-empty directory */
	OK(nfs_rename(c->nfs, P(c, "rp/q"), P(c, "rq")));      /* a directory to another parent */
	OK(nfs_stat64(c->nfs, P(c, "rp"), &st));
	CHECK(st.nfs_nlink == 2);
	OK(nfs_stat64(c->nfs, P(c, "rq"), &st));
	CHECK(S_ISDIR(st.nfs_mode));
	CHECK(nfs_rename(c->nfs, P(c, "rb"), P(c, "rq")) < 0); /* a file over a directory */
	OK(nfs_rename(c->nfs, P(c, "rb"), P(c, "rp/moved")));
	REQUIRE((back = read_whole(c->nfs, P(c, "rp/moved"), &len)) != NULL);
	CHECK(len == 4 && memcmp(back, "AAAA", 4) == 0);
	free(back);
}

static void t_hard_links(void *ctx)
{
	struct client *c = ctx;
	struct nfs_stat_64 a, b;
	char *back;
	size_t len;

	REQUIRE(write_whole(c->nfs, P(c, "l1"), "linked", 6, false));
	OK(nfs_link(c->nfs, P(c, "l1"), P(c, "l2")));
	OK(nfs_mkdir(c->nfs, P(c, "ld")));
	OK(nfs_link(c->nfs, P(c, "l1"), P(c, "ld/l3")));
	FAILS(nfs_link(c->nfs, P(c, "l1"), P(c, "l2")), EEXIST);
	OK(nfs_stat64(c->nfs, P(c, "l1"), &a));
	OK(nfs_stat64(c->nfs, P(c, "ld/l3"), &b));
	CHECK(a.nfs_nlink == 3 && b.nfs_nlink == 3 && a.nfs_ino == b.nfs_ino);
	OK(nfs_unlink(c->nfs, P(c, "l1")));
	OK(nfs_stat64(c->nfs, P(c, "l2"), &b));
	CHECK(b.nfs_nlink == 2 && b.nfs_ino == a.nfs_ino);
	OK(nfs_unlink(c->nfs, P(c, "ld/l3")));
	OK(nfs_stat64(c->nfs, P(c, "l2"), &b));
	CHECK(b.nfs_nlink == 1);
	REQUIRE((back = read_whole(c->nfs, P(c, "l2"), &len)) != NULL);
	CHECK(len == 6 && memcmp(back, "linked", 6) == 0);
	free(back);
	CHECK(nfs_link(c->nfs, P(c, "ld"), P(c, "ld2")) < 0); /* no hard links to directories */
}

static void t_symlink(void *ctx)
{
	struct client *c = ctx;
	struct nfs_stat_64 st;
	char buf[256];
	char target[300];

	OK(nfs_symlink(c->nfs, "some/where/else", P(c, "sl")));
	memset(buf, 0, sizeof(buf));
	OK(nfs_readlink(c->nfs, P(c, "sl"), buf, sizeof(buf)));
	CHECK(strcmp(buf, "some/where/else") == 0);
	OK(nfs_lstat64(c->nfs, P(c, "sl"), &st));
	CHECK(S_ISLNK(st.nfs_mode) && st.nfs_size == strlen("some/where/else"));
	/* a symlink to a file, followed */
	REQUIRE(write_whole(c->nfs, P(c, "slt"), "T", 1, false));
	snprintf(target, sizeof(target), "%s", "slt");
	OK(nfs_symlink(c->nfs, target, P(c, "sl2")));
	OK(nfs_stat64(c->nfs, P(c, "sl2"), &st));
	CHECK(S_ISREG(st.nfs_mode) && st.nfs_size == 1);
	FAILS(nfs_symlink(c->nfs, "x", P(c, "sl")), EEXIST);
}

static void t_truncate(void *ctx)
{
	struct client *c = ctx;
	struct nfs_stat_64 st;
	size_t n = 100000, len;
	char *data = malloc(n), *back;

	memset(data, 0xAB, n);
	REQUIRE(write_whole(c->nfs, P(c, "tr"), data, n, false));
	OK(nfs_truncate(c->nfs, P(c, "tr"), 1000));
	OK(nfs_stat64(c->nfs, P(c, "tr"), &st));
	CHECK(st.nfs_size == 1000);
	OK(nfs_truncate(c->nfs, P(c, "tr"), 200000));
	back = read_whole(c->nfs, P(c, "tr"), &len);
	CHECK(back && len == 200000);
	if (back && len == 200000) {
		CHECK(memcmp(back, data, 1000) == 0);
		CHECK(all_zero(back + 1000, 200000 - 1000));
	}
	free(back);
	/* truncate through an open file, to zero */
	struct nfsfh *fh;
	OK(nfs_open(c->nfs, P(c, "tr"), O_RDWR, &fh));
	OK(nfs_ftruncate(c->nfs, fh, 0));
	OK(nfs_close(c->nfs, fh));
	OK(nfs_stat64(c->nfs, P(c, "tr"), &st));
	CHECK(st.nfs_size == 0);
	free(data);
}

static void t_sparse(void *ctx)
{
	struct client *c = ctx;
	struct nfs_stat_64 st;
	struct nfsfh *fh;
	size_t hole = 3u << 20;
	char *buf = malloc(hole + 16);

	OK(nfs_create(c->nfs, P(c, "sparse"), O_RDWR | O_CREAT | O_TRUNC, 0644, &fh));
	REQUIRE(put(c->nfs, fh, hole, "XYZ", 3));
	OK(nfs_close(c->nfs, fh));
	OK(nfs_stat64(c->nfs, P(c, "sparse"), &st));
	CHECK(st.nfs_size == hole + 3);
	CHECK(st.nfs_used < 1u << 20); /* the hole is not stored */
	OK(nfs_open(c->nfs, P(c, "sparse"), O_RDONLY, &fh));
	memset(buf, 0x55, hole + 16);
	CHECK(get(c->nfs, fh, 0, buf, hole + 16) == (long)(hole + 3));
	CHECK(all_zero(buf, hole) && memcmp(buf + hole, "XYZ", 3) == 0);
	CHECK(get(c->nfs, fh, hole + 3, buf, 10) == 0); /* at EOF */
	OK(nfs_close(c->nfs, fh));
	free(buf);
}

static void t_past_4g(void *ctx)
{
	struct client *c = ctx;
	struct nfs_stat_64 st;
	struct nfsfh *fh;
	uint64_t off = (5ULL << 30) + 7;
	char buf[64];

	OK(nfs_create(c->nfs, P(c, "huge"), O_RDWR | O_CREAT | O_TRUNC, 0644, &fh));
	REQUIRE(put(c->nfs, fh, off, "beyond 4 GiB", 12));
	REQUIRE(put(c->nfs, fh, 1ULL << 32, "at4G", 4));
	OK(nfs_close(c->nfs, fh));
	OK(nfs_stat64(c->nfs, P(c, "huge"), &st));
	CHECK(st.nfs_size == off + 12);
	OK(nfs_open(c->nfs, P(c, "huge"), O_RDONLY, &fh));
	memset(buf, 0, sizeof(buf));
	CHECK(get(c->nfs, fh, off, buf, 12) == 12 && memcmp(buf, "beyond 4 GiB", 12) == 0);
	CHECK(get(c->nfs, fh, (1ULL << 32) - 2, buf, 8) == 8 && memcmp(buf, "\0\0at4G\0\0", 8) == 0);
	CHECK(get(c->nfs, fh, 3ULL << 30, buf, 16) == 16 && all_zero(buf, 16));
	OK(nfs_close(c->nfs, fh));
}

static void t_names(void *ctx)
{
	struct client *c = ctx;
	struct nfs_stat_64 st;
	char name[300];

	memset(name, 'n', 255);
	name[255] = '\0';
	REQUIRE(write_whole(c->nfs, P(c, name), "255", 3, false));
	OK(nfs_stat64(c->nfs, P(c, name), &st));
	CHECK(st.nfs_size == 3);
	name[255] = 'n';
	name[256] = '\0';
	struct nfsfh *fh = NULL;
	int r = nfs_create(c->nfs, P(c, name), O_RDWR | O_CREAT, 0644, &fh);
	CHECK_MSG(r == -ENAMETOOLONG, "create 256-byte name -> %d (%s)", r, nfs_get_error(c->nfs));
	if (r == 0)
		nfs_close(c->nfs, fh);
	FAILS(nfs_mkdir(c->nfs, P(c, name)), ENAMETOOLONG);
	/* names are bytes: UTF-8 and odd characters are kept as given */
	REQUIRE(write_whole(c->nfs, P(c, "grüße €, ok"), "u", 1, false));
	OK(nfs_stat64(c->nfs, P(c, "grüße €, ok"), &st));
}

static void t_attrs(void *ctx)
{
	struct client *c = ctx;
	struct nfs_stat_64 st, st2;
	struct timeval tv[2] = { { 1000000000, 250000 }, { 1200000000, 500000 } };
	time_t now = time(NULL);

	REQUIRE(write_whole(c->nfs, P(c, "attr"), "0123456789", 10, false));
	OK(nfs_chmod(c->nfs, P(c, "attr"), 0640));
	OK(nfs_stat64(c->nfs, P(c, "attr"), &st));
	CHECK((st.nfs_mode & 07777) == 0640 && S_ISREG(st.nfs_mode));
	CHECK(st.nfs_size == 10);
	CHECK((time_t)st.nfs_mtime >= now - 60 && (time_t)st.nfs_mtime <= now + 60);
	CHECK((time_t)st.nfs_ctime >= now - 60 && (time_t)st.nfs_ctime <= now + 60);
	OK(nfs_chmod(c->nfs, P(c, "attr"), 04755));
	OK(nfs_stat64(c->nfs, P(c, "attr"), &st));
	CHECK((st.nfs_mode & 07777) == 04755);
	OK(nfs_chown(c->nfs, P(c, "attr"), 1234, 5678));
	OK(nfs_stat64(c->nfs, P(c, "attr"), &st));
	CHECK(st.nfs_uid == 1234 && st.nfs_gid == 5678);
	OK(nfs_utimes(c->nfs, P(c, "attr"), tv));
	OK(nfs_stat64(c->nfs, P(c, "attr"), &st2));
	CHECK(st2.nfs_atime == 1000000000 && st2.nfs_mtime == 1200000000);
	CHECK(st2.nfs_atime_nsec == 250000000 && st2.nfs_mtime_nsec == 500000000);
	CHECK(st2.nfs_ctime >= st.nfs_ctime);
	if (c->version == 3) { /* libnfs 4.0's NFSv4 utimes(NULL) crashes (NULL dereference) */
		OK(nfs_utimes(c->nfs, P(c, "attr"), NULL)); /* to the server's time */
		OK(nfs_stat64(c->nfs, P(c, "attr"), &st2));
		CHECK((time_t)st2.nfs_mtime >= now - 60 && (time_t)st2.nfs_atime >= now - 60);
	}
	/* a directory's mode, size of a symlink, statvfs */
	OK(nfs_mkdir(c->nfs, P(c, "adir")));
	if (c->version == 3) { /* libnfs 4.0's NFSv4 chmod OPENs its target: not a directory */
		OK(nfs_chmod(c->nfs, P(c, "adir"), 0711));
		OK(nfs_stat64(c->nfs, P(c, "adir"), &st));
		CHECK(S_ISDIR(st.nfs_mode) && (st.nfs_mode & 07777) == 0711);
	}
	struct nfs_statvfs_64 vfs;
	OK(nfs_statvfs64(c->nfs, c->base, &vfs));
	CHECK(vfs.f_blocks > 0 && vfs.f_bfree > 0 && vfs.f_files > 0);
	/* writing updates size and mtime */
	struct nfsfh *fh;
	OK(nfs_utimes(c->nfs, P(c, "attr"), tv));
	OK(nfs_open(c->nfs, P(c, "attr"), O_RDWR, &fh));
	CHECK(put(c->nfs, fh, 10, "ab", 2));
	OK(nfs_close(c->nfs, fh));
	OK(nfs_stat64(c->nfs, P(c, "attr"), &st));
	CHECK(st.nfs_size == 12 && (time_t)st.nfs_mtime >= now - 60);
}

static void t_exclusive_create(void *ctx)
{
	struct client *c = ctx;
	struct nfsfh *fh;
	struct nfs_stat_64 st;

	OK(nfs_create(c->nfs, P(c, "excl"), O_RDWR | O_CREAT | O_EXCL, 0600, &fh));
	CHECK(put(c->nfs, fh, 0, "e", 1));
	OK(nfs_close(c->nfs, fh));
	FAILS(nfs_create(c->nfs, P(c, "excl"), O_RDWR | O_CREAT | O_EXCL, 0600, &fh), EEXIST);
	OK(nfs_stat64(c->nfs, P(c, "excl"), &st));
	/* after an exclusive create, the times are real ones, not the verifier */
	time_t now = time(NULL);
	CHECK((time_t)st.nfs_mtime >= now - 60 && (time_t)st.nfs_mtime <= now + 60);
	CHECK(st.nfs_size == 1);
	/* O_TRUNC on an existing file empties it (libnfs 4.0's NFSv4 create is
	 * always EXCLUSIVE4, so open the existing file there) */
	if (c->version == 3)
		OK(nfs_create(c->nfs, P(c, "excl"), O_RDWR | O_CREAT | O_TRUNC, 0600, &fh));
	else
		OK(nfs_open(c->nfs, P(c, "excl"), O_RDWR | O_TRUNC, &fh));
	OK(nfs_close(c->nfs, fh));
	OK(nfs_stat64(c->nfs, P(c, "excl"), &st));
	CHECK(st.nfs_size == 0);
}

/* NFSv4 byte-range locks between two clients (libnfs contexts with their
 * own client names): conflicting ranges are refused with DENIED, compatible
 * ones granted, an unlock lets the other client in. Ganesha's state layer
 * arbitrates; the plugin checks open modes (lock_op2).
 * libnfs 4.0's NFSv4.0 lock client has bugs this test steps around: an
 * owner's first LOCK must succeed (after a DENIED first attempt its
 * lock-owner state is wrong); after a LOCK it gets the open-owner's seqid
 * wrong (CLOSE and the next OPEN fail with BAD_SEQID) and after its own LOCKU
 * the next LOCK on that open gets OLD_STATEID; l_len 0 ("to the end") is sent
 * as length 0 (INVAL). So each phase uses new clients, unlocks explicitly,
 * and does not close (open state without locks conflicts with nothing). */
static int setlk(struct nfs_context *nfs, struct nfsfh *fh, int type, uint64_t start, uint64_t len)
{
	struct nfs4_flock fl = { .l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len };

	return nfs_fcntl(nfs, fh, NFS4_F_SETLK, &fl);
}

static bool denied(struct nfs_context *nfs, int r)
{
	return r != 0 && strstr(nfs_get_error(nfs), "NFS4ERR_DENIED") != NULL;
}

/* A new NFSv4 client named name with path open read-write, or false. */
static bool lock_client(const char *name, const char *path, struct nfs_context **nfs,
			struct nfsfh **fh)
{
	char id[96];

	snprintf(id, sizeof(id), "zerofs-test-%s-%llx", name, seed);
	if (!(*nfs = mount_export_as(4, "/zerofs", id)))
		return false;
	if (nfs_open(*nfs, path, O_RDWR, fh) == 0)
		return true;
	fprintf(stderr, "  %s: open %s: %s\n", name, path, nfs_get_error(*nfs));
	nfs_destroy_context(*nfs);
	*nfs = NULL;
	return false;
}

static void t_locks(void *ctx)
{
	struct client *c = ctx;
	struct nfs_context *a, *b;
	struct nfsfh *fa, *fb;
	const char *path = P(c, "locked");
	int r;

	REQUIRE(write_whole(c->nfs, path, "0123456789", 10, false));

	/* write locks: overlap refused, adjacent granted, granted after unlock */
	REQUIRE(lock_client("a1", path, &a, &fa));
	if (!lock_client("b1", path, &b, &fb)) {
		nfs_destroy_context(a);
		REQUIRE(0);
	}
	CHECK_MSG(setlk(a, fa, F_WRLCK, 0, 100) == 0, "write lock refused: %s", nfs_get_error(a));
	CHECK_MSG(setlk(b, fb, F_WRLCK, 200, 10) == 0, "disjoint lock refused: %s", nfs_get_error(b));
	r = setlk(b, fb, F_WRLCK, 50, 100);
	CHECK_MSG(denied(b, r), "overlapping write lock -> %d (%s), want DENIED", r, nfs_get_error(b));
	r = setlk(b, fb, F_RDLCK, 99, 1);
	CHECK_MSG(denied(b, r), "read lock inside a write lock -> %d (%s), want DENIED", r,
		  nfs_get_error(b));
	CHECK_MSG(setlk(b, fb, F_WRLCK, 100, 50) == 0, "adjacent lock refused: %s", nfs_get_error(b));
	CHECK_MSG(setlk(a, fa, F_UNLCK, 0, 100) == 0, "unlock: %s", nfs_get_error(a));
	CHECK_MSG(setlk(b, fb, F_WRLCK, 50, 50) == 0, "lock refused after the unlock: %s",
		  nfs_get_error(b));
	CHECK(setlk(b, fb, F_UNLCK, 50, 160) == 0);
	nfs_destroy_context(a);
	nfs_destroy_context(b);

	/* read locks share; a write lock over another client's read lock does not */
	REQUIRE(lock_client("a2", path, &a, &fa));
	if (!lock_client("b2", path, &b, &fb)) {
		nfs_destroy_context(a);
		REQUIRE(0);
	}
	CHECK_MSG(setlk(a, fa, F_RDLCK, 0, 10) == 0, "read lock refused: %s", nfs_get_error(a));
	CHECK_MSG(setlk(b, fb, F_RDLCK, 5, 10) == 0, "shared read lock refused: %s", nfs_get_error(b));
	r = setlk(a, fa, F_WRLCK, 0, 10);
	CHECK_MSG(denied(a, r), "write lock over another's read lock -> %d (%s), want DENIED", r,
		  nfs_get_error(a));
	CHECK(setlk(b, fb, F_UNLCK, 5, 10) == 0);
	nfs_destroy_context(a);
	nfs_destroy_context(b);
}

static void t_mknod(void *ctx)
{
	struct client *c = ctx;
	struct nfs_stat_64 st;

	OK(nfs_mknod(c->nfs, P(c, "fifo"), S_IFIFO | 0644, 0));
	OK(nfs_stat64(c->nfs, P(c, "fifo"), &st));
	CHECK(S_ISFIFO(st.nfs_mode) && (st.nfs_mode & 07777) == 0644);
	OK(nfs_mknod(c->nfs, P(c, "chr"), S_IFCHR | 0600, (int)makedev(1, 3)));
	OK(nfs_stat64(c->nfs, P(c, "chr"), &st));
	CHECK(S_ISCHR(st.nfs_mode) && st.nfs_rdev == (uint64_t)makedev(1, 3));
	OK(nfs_unlink(c->nfs, P(c, "fifo")));
	OK(nfs_unlink(c->nfs, P(c, "chr")));
}

/* ---- a 10,000-entry directory (on the Sync = false export) ------------------- */

#define BIG_DIR_N 10000

static int count_dir(struct nfs_context *nfs, const char *path, int *dups)
{
	struct nfsdir *d;
	struct nfsdirent *e;
	static unsigned char seen[BIG_DIR_N];
	int n = 0;

	memset(seen, 0, sizeof(seen));
	*dups = 0;
	if (nfs_opendir(nfs, path, &d) != 0) {
		fprintf(stderr, "  opendir %s: %s\n", path, nfs_get_error(nfs));
		return -1;
	}
	while ((e = nfs_readdir(nfs, d))) {
		int i;
		if (!strcmp(e->name, ".") || !strcmp(e->name, ".."))
			continue;
		if (sscanf(e->name, "entry-%d", &i) == 1 && i >= 0 && i < BIG_DIR_N) {
			if (seen[i]++)
				(*dups)++;
			n++;
		}
	}
	nfs_closedir(nfs, d);
	return n;
}

static void t_big_dir(void *ctx)
{
	struct nfs_context *v3 = ctx, *v4;
	char name[64];
	int dups = 0, n;
	struct timespec a, b;

	clock_gettime(CLOCK_MONOTONIC, &a);
	REQUIRE(nfs_mkdir(v3, "/big") == 0);
	for (int i = 0; i < BIG_DIR_N; i++) {
		struct nfsfh *fh;
		snprintf(name, sizeof(name), "/big/entry-%d", i);
		if (nfs_create(v3, name, O_RDWR | O_CREAT, 0644, &fh) != 0) {
			CHECK_MSG(0, "create %s: %s", name, nfs_get_error(v3));
			return;
		}
		nfs_close(v3, fh);
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("  created %d files in %.1f s\n", BIG_DIR_N,
	       (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9);
	n = count_dir(v3, "/big", &dups);
	CHECK_MSG(n == BIG_DIR_N && dups == 0, "v3 listed %d entries (%d duplicates)", n, dups);
	REQUIRE((v4 = mount_export(4, "/zerofs_async")) != NULL);
	n = count_dir(v4, "/big", &dups);
	CHECK_MSG(n == BIG_DIR_N && dups == 0, "v4 listed %d entries (%d duplicates)", n, dups);
	/* remove every other one and list again */
	for (int i = 0; i < BIG_DIR_N; i += 2) {
		snprintf(name, sizeof(name), "/big/entry-%d", i);
		if (nfs_unlink(v3, name) != 0) {
			CHECK_MSG(0, "unlink %s: %s", name, nfs_get_error(v3));
			break;
		}
	}
	n = count_dir(v4, "/big", &dups);
	CHECK_MSG(n == BIG_DIR_N / 2 && dups == 0, "v4 listed %d entries after removals", n);
	nfs_destroy_context(v4);
}

/* ---- raw RPC: garbage handles, write verifiers ------------------------------- */

struct raw_call {
	bool done;
	int rpc_status;
	int nfs_status;
	char verf[8];
};

static bool pump(struct nfs_context *nfs, struct raw_call *call)
{
	struct rpc_context *rpc = nfs_get_rpc_context(nfs);
	time_t deadline = time(NULL) + 30;

	while (!call->done && time(NULL) < deadline) {
		struct pollfd p = { .fd = rpc_get_fd(rpc), .events = (short)rpc_which_events(rpc) };
		if (poll(&p, 1, 200) < 0)
			return false;
		if (rpc_service(rpc, p.revents) < 0)
			return false;
	}
	return call->done;
}

static void getattr3_cb(struct rpc_context *rpc, int status, void *data, void *priv)
{
	struct raw_call *call = priv;
	(void)rpc;
	call->done = true;
	call->rpc_status = status;
	if (status == RPC_STATUS_SUCCESS)
		call->nfs_status = (int)((GETATTR3res *)data)->status;
}

static void compound4_cb(struct rpc_context *rpc, int status, void *data, void *priv)
{
	struct raw_call *call = priv;
	(void)rpc;
	call->done = true;
	call->rpc_status = status;
	if (status == RPC_STATUS_SUCCESS)
		call->nfs_status = (int)((COMPOUND4res *)data)->status;
}

/* GETATTR on a raw handle: the NFS status, or -1 if no reply came. */
static int getattr_raw(struct client *c, const char *fh, size_t len)
{
	struct raw_call call = { 0 };
	struct rpc_context *rpc = nfs_get_rpc_context(c->nfs);

	if (c->version == 3) {
		GETATTR3args args;
		memset(&args, 0, sizeof(args));
		args.object.data.data_len = (u_int)len;
		args.object.data.data_val = (char *)fh;
		if (rpc_nfs3_getattr_async(rpc, getattr3_cb, &args, &call) != 0)
			return -1;
	} else {
		nfs_argop4 ops[2];
		uint32_t mask[2] = { (1u << FATTR4_TYPE) | (1u << FATTR4_SIZE), 0 };
		COMPOUND4args args;
		memset(ops, 0, sizeof(ops));
		memset(&args, 0, sizeof(args));
		ops[0].argop = OP_PUTFH;
		ops[0].nfs_argop4_u.opputfh.object.nfs_fh4_len = (u_int)len;
		ops[0].nfs_argop4_u.opputfh.object.nfs_fh4_val = (char *)fh;
		ops[1].argop = OP_GETATTR;
		ops[1].nfs_argop4_u.opgetattr.attr_request.bitmap4_len = 2;
		ops[1].nfs_argop4_u.opgetattr.attr_request.bitmap4_val = mask;
		args.minorversion = 0;
		args.argarray.argarray_len = 2;
		args.argarray.argarray_val = ops;
		if (rpc_nfs4_compound_async(rpc, compound4_cb, &args, &call) != 0)
			return -1;
	}
	if (!pump(c->nfs, &call) || call.rpc_status != RPC_STATUS_SUCCESS)
		return -1;
	return call.nfs_status;
}

/* The handle of a path (copied; caller frees); ganesha's own 5 header bytes
 * come first, then the FSAL's: ours are 17. */
static char *handle_of(struct client *c, const char *path, size_t *len)
{
	struct nfsfh *fh;
	struct libnfs_fh *h;
	char *copy;
	if (nfs_open(c->nfs, path, O_RDONLY, &fh) != 0)
		return NULL;
	h = (struct libnfs_fh *)nfs_get_fh(fh);
	copy = malloc((size_t)h->len);
	memcpy(copy, h->val, (size_t)h->len);
	*len = (size_t)h->len;
	nfs_close(c->nfs, fh);
	return copy;
}

#define FH_HDR 5   /* fhversion, flags, export id (2), fs_len */
#define FH_OURS 17 /* version, ino (8, LE), generation (8, LE) */

static bool is_bad_handle(int st)
{
	return st == NFS3ERR_BADHANDLE || st == NFS3ERR_STALE || st == NFS4ERR_FHEXPIRED;
}

static void t_garbage_handles(void *ctx)
{
	struct client *c = ctx;
	struct nfs_stat_64 st;
	unsigned long long s = seed;
	char *good, bad[128];
	size_t len;
	int r;

	REQUIRE(write_whole(c->nfs, P(c, "fh-victim"), "v", 1, false));
	REQUIRE((good = handle_of(c, P(c, "fh-victim"), &len)) != NULL);
	CHECK_MSG(len >= FH_HDR + FH_OURS && (unsigned char)good[4] == FH_OURS,
		  "handle of %zu bytes, FSAL part %u", len, (unsigned char)good[4]);
	REQUIRE(len <= sizeof(bad));
	CHECK(getattr_raw(c, good, len) == 0);

	/* random bytes of the same length, many times */
	for (int i = 0; i < 50; i++) {
		tl_fill_random(bad, len, &s);
		r = getattr_raw(c, bad, len);
		CHECK_MSG(r > 0, "random handle %d -> %d", i, r);
	}
	/* ganesha's header intact, ours damaged: each byte flipped in turn */
	for (size_t i = FH_HDR; i < FH_HDR + FH_OURS; i++) {
		memcpy(bad, good, len);
		bad[i] ^= 0x5a;
		r = getattr_raw(c, bad, len);
		CHECK_MSG(is_bad_handle(r), "flipped byte %zu -> %d", i, r);
	}
	/* our part shorter than ours is (the length byte says 16) */
	memcpy(bad, good, len);
	bad[4] = FH_OURS - 1;
	r = getattr_raw(c, bad, len);
	CHECK_MSG(r > 0, "short FSAL part -> %d", r);
	/* a handle of a removed file is stale */
	OK(nfs_unlink(c->nfs, P(c, "fh-victim")));
	r = getattr_raw(c, good, len);
	CHECK_MSG(r == NFS3ERR_STALE, "removed file's handle -> %d, want STALE", r);
	/* and the server still serves */
	OK(nfs_stat64(c->nfs, c->base, &st));
	free(good);
}

/* libnfs exports this without declaring it publicly: the mounted export's root */
const struct libnfs_fh *nfs_get_rootfh(struct nfs_context *nfs);

struct create_call {
	struct raw_call call;
	char fh[128];
	size_t fh_len;
};

static void create3_cb(struct rpc_context *rpc, int status, void *data, void *priv)
{
	struct create_call *cc = priv;
	CREATE3res *res = data;
	(void)rpc;
	cc->call.done = true;
	cc->call.rpc_status = status;
	if (status == RPC_STATUS_SUCCESS) {
		cc->call.nfs_status = (int)res->status;
		if (res->status == NFS3_OK && res->CREATE3res_u.resok.obj.handle_follows) {
			nfs_fh3 *fh = &res->CREATE3res_u.resok.obj.post_op_fh3_u.handle;
			cc->fh_len = fh->data.data_len <= sizeof(cc->fh) ? fh->data.data_len : 0;
			memcpy(cc->fh, fh->data.data_val, cc->fh_len);
		}
	}
}

/* NFSv3 CREATE of `name` in the export's root: the NFS status (-1: no reply). */
static int create3_raw(struct client *c, const char *name, createmode3 mode, const char *verf,
		       struct create_call *cc)
{
	const struct libnfs_fh *root = nfs_get_rootfh(c->nfs);
	CREATE3args args;

	memset(cc, 0, sizeof(*cc));
	memset(&args, 0, sizeof(args));
	args.where.dir.data.data_len = (u_int)root->len;
	args.where.dir.data.data_val = root->val;
	args.where.name = (char *)name;
	args.how.mode = mode;
	if (mode == EXCLUSIVE) {
		memcpy(args.how.createhow3_u.verf, verf, NFS3_CREATEVERFSIZE);
	} else {
		args.how.createhow3_u.obj_attributes.mode.set_it = 1;
		args.how.createhow3_u.obj_attributes.mode.set_mode3_u.mode = 0640;
	}
	if (rpc_nfs3_create_async(nfs_get_rpc_context(c->nfs), create3_cb, &args, cc) != 0 ||
	    !pump(c->nfs, &cc->call) || cc->call.rpc_status != RPC_STATUS_SUCCESS)
		return -1;
	return cc->call.nfs_status;
}

/* Exclusive create keeps its verifier with the file: a retransmitted CREATE
 * (same verifier) succeeds with the same file, another verifier is EEXIST. */
static void t_exclusive_create_retry(void *ctx)
{
	struct client *c = ctx;
	struct create_call a, b;
	char name[64];
	int r;

	snprintf(name, sizeof(name), "excl3-%llx", seed);
	r = create3_raw(c, name, EXCLUSIVE, "verifier", &a);
	CHECK_MSG(r == NFS3_OK && a.fh_len > 0, "EXCLUSIVE create -> %d", r);
	r = create3_raw(c, name, EXCLUSIVE, "verifier", &b);
	CHECK_MSG(r == NFS3_OK, "the same EXCLUSIVE create again (a retransmission) -> %d", r);
	CHECK(b.fh_len == a.fh_len && memcmp(a.fh, b.fh, a.fh_len) == 0);
	r = create3_raw(c, name, EXCLUSIVE, "other-vf", &b);
	CHECK_MSG(r == NFS3ERR_EXIST, "EXCLUSIVE create, another verifier -> %d, want EXIST", r);
	r = create3_raw(c, name, GUARDED, NULL, &b);
	CHECK_MSG(r == NFS3ERR_EXIST, "GUARDED create of an existing name -> %d, want EXIST", r);
	r = create3_raw(c, name, UNCHECKED, NULL, &b);
	CHECK_MSG(r == NFS3_OK && b.fh_len == a.fh_len && memcmp(a.fh, b.fh, a.fh_len) == 0,
		  "UNCHECKED create of an existing name -> %d", r);
	snprintf(name, sizeof(name), "guarded3-%llx", seed);
	r = create3_raw(c, name, GUARDED, NULL, &b);
	CHECK_MSG(r == NFS3_OK, "GUARDED create of a new name -> %d", r);
	char path[80];
	struct nfs_stat_64 st;
	snprintf(path, sizeof(path), "/%s", name);
	OK(nfs_stat64(c->nfs, path, &st));
	CHECK((st.nfs_mode & 07777) == 0640);
}

/* ---- across a crash ------------------------------------------------------------ */

struct crash_state {
	char *data;
	size_t len;
	char *fh;       /* handle of committed.bin before the crash */
	size_t fh_len;
	char verf[8];   /* NFSv3 write verifier before the crash */
	bool have_verf;
};

static void write3_cb(struct rpc_context *rpc, int status, void *data, void *priv)
{
	struct raw_call *call = priv;
	WRITE3res *res = data;
	(void)rpc;
	call->done = true;
	call->rpc_status = status;
	if (status == RPC_STATUS_SUCCESS) {
		call->nfs_status = (int)res->status;
		if (res->status == NFS3_OK)
			memcpy(call->verf, res->WRITE3res_u.resok.verf, 8);
	}
}

/* An UNSTABLE NFSv3 WRITE through the raw API: its write verifier. */
static bool write3_verifier(struct client *c, const char *fh, size_t fh_len, char verf[8])
{
	struct raw_call call = { 0 };
	WRITE3args args;
	char byte = 'w';

	memset(&args, 0, sizeof(args));
	args.file.data.data_len = (u_int)fh_len;
	args.file.data.data_val = (char *)fh;
	args.offset = 0;
	args.count = 1;
	args.stable = UNSTABLE;
	args.data.data_len = 1;
	args.data.data_val = &byte;
	if (rpc_nfs3_write_async(nfs_get_rpc_context(c->nfs), write3_cb, &args, &call) != 0 ||
	    !pump(c->nfs, &call) || call.rpc_status != RPC_STATUS_SUCCESS || call.nfs_status != 0)
		return false;
	memcpy(verf, call.verf, 8);
	return true;
}

/* Makes op a PUTFH of fh. */
static void putfh(nfs_argop4 *op, const char *fh, size_t len)
{
	op->argop = OP_PUTFH;
	op->nfs_argop4_u.opputfh.object.nfs_fh4_len = (u_int)len;
	op->nfs_argop4_u.opputfh.object.nfs_fh4_val = (char *)fh;
}

static void commit4_cb(struct rpc_context *rpc, int status, void *data, void *priv)
{
	struct raw_call *call = priv;
	COMPOUND4res *res = data;
	(void)rpc;
	call->done = true;
	call->rpc_status = status;
	if (status == RPC_STATUS_SUCCESS) {
		call->nfs_status = (int)res->status;
		if (res->status == NFS4_OK && res->resarray.resarray_len == 2)
			memcpy(call->verf,
			       res->resarray.resarray_val[1].nfs_resop4_u.opcommit.COMMIT4res_u.resok4.writeverf, 8);
	}
}

/* PUTFH + COMMIT over NFSv4 (no open state needed): the write verifier. */
static bool commit4_verifier(struct client *c, const char *fh, size_t fh_len, char verf[8])
{
	struct raw_call call = { 0 };
	nfs_argop4 ops[2];
	COMPOUND4args args;

	memset(ops, 0, sizeof(ops));
	memset(&args, 0, sizeof(args));
	putfh(&ops[0], fh, fh_len);
	ops[1].argop = OP_COMMIT;
	args.argarray.argarray_len = 2;
	args.argarray.argarray_val = ops;
	if (rpc_nfs4_compound_async(nfs_get_rpc_context(c->nfs), commit4_cb, &args, &call) != 0 ||
	    !pump(c->nfs, &call) || call.rpc_status != RPC_STATUS_SUCCESS || call.nfs_status != 0)
		return false;
	memcpy(verf, call.verf, 8);
	return true;
}

/* ---- NFSv4 share reservations (OPEN with deny modes), upgrades, downgrades ---- */

/* libnfs 4.0 always opens with deny NONE and never upgrades or downgrades an
 * open, so this drives OPEN itself, as an NFSv4.0 client of its own
 * (SETCLIENTID) on a libnfs connection. */
struct v4_call {
	bool done;
	int rpc_status, nfs_status;
	clientid4 clientid;
	verifier4 confirm;
	stateid4 stateid;
	uint32_t rflags;
};

static void v4_cb(struct rpc_context *rpc, int status, void *data, void *priv)
{
	struct v4_call *call = priv;
	COMPOUND4res *res = data;

	(void)rpc;
	call->done = true;
	call->rpc_status = status;
	if (status != RPC_STATUS_SUCCESS)
		return;
	call->nfs_status = (int)res->status;
	for (u_int i = 0; res->status == NFS4_OK && i < res->resarray.resarray_len; i++) {
		nfs_resop4 *r = &res->resarray.resarray_val[i];
		switch (r->resop) {
		case OP_SETCLIENTID:
			call->clientid = r->nfs_resop4_u.opsetclientid.SETCLIENTID4res_u.resok4.clientid;
			memcpy(call->confirm,
			       r->nfs_resop4_u.opsetclientid.SETCLIENTID4res_u.resok4.setclientid_confirm,
			       sizeof(verifier4));
			break;
		case OP_OPEN:
			call->stateid = r->nfs_resop4_u.opopen.OPEN4res_u.resok4.stateid;
			call->rflags = r->nfs_resop4_u.opopen.OPEN4res_u.resok4.rflags;
			break;
		case OP_OPEN_CONFIRM:
			call->stateid = r->nfs_resop4_u.opopen_confirm.OPEN_CONFIRM4res_u.resok4.open_stateid;
			break;
		case OP_OPEN_DOWNGRADE:
			call->stateid =
				r->nfs_resop4_u.opopen_downgrade.OPEN_DOWNGRADE4res_u.resok4.open_stateid;
			break;
		default:
			break;
		}
	}
}

/* Sends ops[0..n) as one COMPOUND; the overall NFSv4 status, or -1. */
static int v4_compound(struct nfs_context *nfs, nfs_argop4 *ops, u_int n, struct v4_call *call)
{
	struct rpc_context *rpc = nfs_get_rpc_context(nfs);
	time_t deadline = time(NULL) + 30;
	COMPOUND4args args;

	memset(&args, 0, sizeof(args));
	memset(call, 0, sizeof(*call));
	args.argarray.argarray_len = n;
	args.argarray.argarray_val = ops;
	if (rpc_nfs4_compound_async(rpc, v4_cb, &args, call) != 0)
		return -1;
	while (!call->done && time(NULL) < deadline) {
		struct pollfd p = { .fd = rpc_get_fd(rpc), .events = (short)rpc_which_events(rpc) };
		if (poll(&p, 1, 200) < 0 || rpc_service(rpc, p.revents) < 0)
			return -1;
	}
	return call->done && call->rpc_status == RPC_STATUS_SUCCESS ? call->nfs_status : -1;
}

struct share_client {
	struct nfs_context *nfs; /* the connection */
	clientid4 clientid;
	seqid4 seqid; /* the open-owner's next seqid */
	stateid4 stateid;
	char owner[32];
};

static bool share_client_init(struct share_client *sc, const char *name)
{
	nfs_argop4 op;
	struct v4_call call;
	char id[96];

	memset(sc, 0, sizeof(*sc));
	snprintf(id, sizeof(id), "zerofs-test-%s-%llx", name, seed);
	snprintf(sc->owner, sizeof(sc->owner), "owner-%s", name);
	if (!(sc->nfs = mount_export_as(4, "/zerofs", id)))
		return false;
	/* a second client identity on this connection (NFSv4.0 allows it) */
	snprintf(id, sizeof(id), "zerofs-test-%s-raw-%llx", name, seed);
	memset(&op, 0, sizeof(op));
	op.argop = OP_SETCLIENTID;
	SETCLIENTID4args *a = &op.nfs_argop4_u.opsetclientid;
	memcpy(a->client.verifier, &seed, sizeof(verifier4));
	a->client.id.id_len = (u_int)strlen(id);
	a->client.id.id_val = id;
	a->callback.cb_program = 0x40000000;
	a->callback.cb_location.r_netid = "tcp";
	a->callback.cb_location.r_addr = "127.0.0.1.0.0";
	if (v4_compound(sc->nfs, &op, 1, &call) != NFS4_OK)
		return false;
	sc->clientid = call.clientid;
	memset(&op, 0, sizeof(op));
	op.argop = OP_SETCLIENTID_CONFIRM;
	op.nfs_argop4_u.opsetclientid_confirm.clientid = call.clientid;
	memcpy(op.nfs_argop4_u.opsetclientid_confirm.setclientid_confirm, call.confirm,
	       sizeof(verifier4));
	return v4_compound(sc->nfs, &op, 1, &call) == NFS4_OK;
}

/* Sends PUTFH fh, then op (its seqid and stateid already taken from sc), as
 * one COMPOUND; the reply in *call. An op that got this far bumps the
 * open-owner's seqid; on success the stateid it returns (all but CLOSE)
 * becomes the open's. The NFSv4 status, or -1. */
static int share_op(struct share_client *sc, const char *fh, size_t len, const nfs_argop4 *op,
		    struct v4_call *call)
{
	nfs_argop4 ops[2];
	int st;

	memset(ops, 0, sizeof(ops));
	putfh(&ops[0], fh, len);
	ops[1] = *op;
	st = v4_compound(sc->nfs, ops, 2, call);
	if (st >= 0)
		sc->seqid++;
	if (st == NFS4_OK && op->argop != OP_CLOSE)
		sc->stateid = call->stateid;
	return st;
}

static int share_confirm(struct share_client *sc, const char *fh, size_t len)
{
	nfs_argop4 op;
	struct v4_call call;

	memset(&op, 0, sizeof(op));
	op.argop = OP_OPEN_CONFIRM;
	op.nfs_argop4_u.opopen_confirm.open_stateid = sc->stateid;
	op.nfs_argop4_u.opopen_confirm.seqid = sc->seqid;
	return share_op(sc, fh, len, &op, &call);
}

/* OPEN name (file handle fh) in dir, no create, with these access and deny
 * bits; confirms a new open-owner's first open. The NFSv4 status, or -1. */
static int share_open(struct share_client *sc, const char *dirfh, size_t dirlen, const char *name,
		      const char *fh, size_t len, uint32_t access, uint32_t deny)
{
	nfs_argop4 op;
	struct v4_call call;
	int st;
	OPEN4args *o = &op.nfs_argop4_u.opopen;

	memset(&op, 0, sizeof(op));
	op.argop = OP_OPEN;
	o->seqid = sc->seqid;
	o->share_access = access;
	o->share_deny = deny;
	o->owner.clientid = sc->clientid;
	o->owner.owner.owner_len = (u_int)strlen(sc->owner);
	o->owner.owner.owner_val = sc->owner;
	o->openhow.opentype = OPEN4_NOCREATE;
	o->claim.claim = CLAIM_NULL;
	o->claim.open_claim4_u.file.utf8string_len = (u_int)strlen(name);
	o->claim.open_claim4_u.file.utf8string_val = (char *)name;
	st = share_op(sc, dirfh, dirlen, &op, &call);
	if (st != NFS4_OK)
		return st;
	return (call.rflags & OPEN4_RESULT_CONFIRM) ? share_confirm(sc, fh, len) : NFS4_OK;
}

static int share_downgrade(struct share_client *sc, const char *fh, size_t len, uint32_t access,
			   uint32_t deny)
{
	nfs_argop4 op;
	struct v4_call call;

	memset(&op, 0, sizeof(op));
	op.argop = OP_OPEN_DOWNGRADE;
	op.nfs_argop4_u.opopen_downgrade.open_stateid = sc->stateid;
	op.nfs_argop4_u.opopen_downgrade.seqid = sc->seqid;
	op.nfs_argop4_u.opopen_downgrade.share_access = access;
	op.nfs_argop4_u.opopen_downgrade.share_deny = deny;
	return share_op(sc, fh, len, &op, &call);
}

static int share_close(struct share_client *sc, const char *fh, size_t len)
{
	nfs_argop4 op;
	struct v4_call call;

	memset(&op, 0, sizeof(op));
	op.argop = OP_CLOSE;
	op.nfs_argop4_u.opclose.seqid = sc->seqid;
	op.nfs_argop4_u.opclose.open_stateid = sc->stateid;
	return share_op(sc, fh, len, &op, &call);
}

/* Opens path with libnfs (deny NONE): 0, or the error string holds why. */
static int plain_open(struct nfs_context *nfs, const char *path, int flags)
{
	struct nfsfh *fh;
	int r = nfs_open(nfs, path, flags, &fh);

	if (r == 0)
		nfs_close(nfs, fh);
	return r;
}

static bool share_denied(struct nfs_context *nfs, int r)
{
	return r != 0 && strstr(nfs_get_error(nfs), "SHARE_DENIED") != NULL;
}

static void t_share_reservations(void *ctx)
{
	struct client *c = ctx;
	struct share_client sc = { 0 };
	struct nfs_context *other = NULL;
	const struct libnfs_fh *root = nfs_get_rootfh(c->nfs);
	const char *dirfh = root->val;
	size_t dirlen = (size_t)root->len, len = 0;
	char path[64], *fh = NULL;
	struct nfsfh *wfh;
	int st, r;

	/* in the export's root: libnfs gives no handle of another directory */
	snprintf(path, sizeof(path), "/shared-v%d", c->version);
	REQUIRE(write_whole(c->nfs, path, "share", 5, false));
	if (!(fh = handle_of(c, path, &len)) || !share_client_init(&sc, "share")) {
		CHECK_MSG(0, "set-up failed");
		goto out;
	}
	other = mount_export_as(4, "/zerofs", "zerofs-test-share-other");
	REQUIRE(other != NULL);

	/* read, deny write: others may read, not write */
	st = share_open(&sc, dirfh, dirlen, path + 1, fh, len, OPEN4_SHARE_ACCESS_READ,
			OPEN4_SHARE_DENY_WRITE);
	CHECK_MSG(st == NFS4_OK, "OPEN read/deny-write -> %d", st);
	r = plain_open(other, path, O_WRONLY);
	CHECK_MSG(share_denied(other, r), "write open against deny-write -> %d (%s), want SHARE_DENIED",
		  r, nfs_get_error(other));
	r = plain_open(other, path, O_RDONLY);
	CHECK_MSG(r == 0, "read open against deny-write refused: %s", nfs_get_error(other));

	/* upgrade: the same owner opens again for write (deny none): the open
	 * becomes read-write and still denies write to others */
	st = share_open(&sc, dirfh, dirlen, path + 1, fh, len, OPEN4_SHARE_ACCESS_WRITE,
			OPEN4_SHARE_DENY_NONE);
	CHECK_MSG(st == NFS4_OK, "OPEN upgrade to write -> %d", st);
	r = plain_open(other, path, O_WRONLY);
	CHECK_MSG(share_denied(other, r), "write open after the upgrade -> %d (%s), want SHARE_DENIED",
		  r, nfs_get_error(other));

	/* downgrade to the second open's bits: no deny any more */
	st = share_downgrade(&sc, fh, len, OPEN4_SHARE_ACCESS_WRITE, OPEN4_SHARE_DENY_NONE);
	CHECK_MSG(st == NFS4_OK, "OPEN_DOWNGRADE -> %d", st);
	r = plain_open(other, path, O_WRONLY);
	CHECK_MSG(r == 0, "write open after the downgrade refused: %s", nfs_get_error(other));
	CHECK_MSG(share_close(&sc, fh, len) == NFS4_OK, "CLOSE failed");

	/* the other way round: a file open for write by another client cannot
	 * be opened with deny write */
	if (nfs_open(other, path, O_WRONLY, &wfh) == 0) {
		st = share_open(&sc, dirfh, dirlen, path + 1, fh, len, OPEN4_SHARE_ACCESS_READ,
				OPEN4_SHARE_DENY_WRITE);
		CHECK_MSG(st == NFS4ERR_SHARE_DENIED, "OPEN deny-write of a file open for write -> %d", st);
		nfs_close(other, wfh);
	} else {
		CHECK_MSG(0, "write open: %s", nfs_get_error(other));
	}
out:
	if (other)
		nfs_destroy_context(other);
	if (sc.nfs)
		nfs_destroy_context(sc.nfs);
	free(fh);
}

static struct client sync3, async3;
static struct crash_state crash;
static char verf4_before[8];
static bool have_verf4;

static void t_before_crash(void *ctx)
{
	struct client *c = &sync3;
	struct nfsfh *fh;
	unsigned long long s = seed * 31 + 7;
	(void)ctx;

	crash.len = (3u << 20) + 12345;
	crash.data = malloc(crash.len);
	tl_fill_random(crash.data, crash.len, &s);
	/* UNSTABLE writes, then COMMIT (fsync): durable from here on */
	REQUIRE(write_whole(c->nfs, "/crash/committed.bin", crash.data, crash.len, true));
	/* Sync = true: a mkdir, a rename and a chmod are durable at once */
	OK(nfs_mkdir(c->nfs, "/crash/made-before-crash"));
	REQUIRE(write_whole(c->nfs, "/crash/to-rename", "r", 1, false));
	OK(nfs_rename(c->nfs, "/crash/to-rename", "/crash/renamed"));
	OK(nfs_chmod(c->nfs, "/crash/renamed", 0604));
	REQUIRE((crash.fh = handle_of(c, "/crash/committed.bin", &crash.fh_len)) != NULL);
	/* the scratch file for the verifier probe: written FILE_SYNC-free, then committed */
	OK(nfs_create(c->nfs, "/crash/verf", O_RDWR | O_CREAT, 0644, &fh));
	OK(nfs_fsync(c->nfs, fh));
	OK(nfs_close(c->nfs, fh));
	size_t vlen;
	char *vfh = handle_of(c, "/crash/verf", &vlen);
	REQUIRE(vfh != NULL);
	crash.have_verf = write3_verifier(c, vfh, vlen, crash.verf);
	CHECK(crash.have_verf);
	free(vfh);
	/* the NFSv4 write verifier, from a COMMIT */
	struct client v4 = { .version = 4 };
	if ((v4.nfs = mount_export(4, "/zerofs"))) {
		size_t l4;
		char *fh4 = handle_of(&v4, "/crash/verf", &l4);
		have_verf4 = fh4 && commit4_verifier(&v4, fh4, l4, verf4_before);
		free(fh4);
		nfs_destroy_context(v4.nfs);
	}
	CHECK(have_verf4);
	/* Sync = false: metadata may be lost, but COMMIT flushes everything */
	REQUIRE(write_whole(async3.nfs, "/crash-async.bin", crash.data, 100000, true));
}

static void t_after_crash(void *ctx)
{
	struct client *c = ctx; /* a fresh v3 client of /zerofs after the restart */
	struct nfs_stat_64 st;
	char *back;
	size_t len = 0;

	back = read_whole(c->nfs, "/crash/committed.bin", &len);
	CHECK_MSG(back && len == crash.len && memcmp(back, crash.data, crash.len) == 0,
		  "committed file after SIGKILL: %zu bytes, %s", len,
		  back ? (len == crash.len && !memcmp(back, crash.data, len) ? "same" : "DIFFERENT")
		       : "unreadable");
	free(back);
	OK(nfs_stat64(c->nfs, "/crash/made-before-crash", &st));
	CHECK(S_ISDIR(st.nfs_mode));
	FAILS(nfs_stat64(c->nfs, "/crash/to-rename", &st), ENOENT);
	OK(nfs_stat64(c->nfs, "/crash/renamed", &st));
	CHECK((st.nfs_mode & 07777) == 0604);
	/* handles survive the restart (an NFSv3 handle: ask over NFSv3) */
	if (c->version == 3)
		CHECK_MSG(getattr_raw(c, crash.fh, crash.fh_len) == 0, "pre-crash handle no longer valid");
	/* the write verifier changed, so clients resend UNSTABLE writes */
	if (crash.have_verf && c->version == 3) {
		size_t vlen;
		char verf[8], *vfh = handle_of(c, "/crash/verf", &vlen);
		CHECK(vfh && write3_verifier(c, vfh, vlen, verf));
		CHECK_MSG(memcmp(verf, crash.verf, 8) != 0, "write verifier unchanged across a restart");
		free(vfh);
	}
	if (have_verf4 && c->version == 4) {
		size_t l4;
		char verf[8], *fh4 = handle_of(c, "/crash/verf", &l4);
		CHECK(fh4 && commit4_verifier(c, fh4, l4, verf));
		CHECK_MSG(memcmp(verf, verf4_before, 8) != 0,
			  "NFSv4 write verifier unchanged across a restart");
		free(fh4);
	}
	/* everything committed earlier by the per-version tests is intact too */
	for (int v = 3; v <= 4; v++) {
		if (!big_written[v])
			continue; /* (a filtered run) */
		char path[64];
		unsigned long long s = seed ^ (unsigned long long)v;
		char *want = malloc(BIG_SIZE);
		tl_fill_random(want, BIG_SIZE, &s);
		snprintf(path, sizeof(path), "/v%d/big.bin", v);
		back = read_whole(c->nfs, path, &len);
		CHECK_MSG(back && len == BIG_SIZE && memcmp(back, want, BIG_SIZE) == 0,
			  "%s after the crash", path);
		free(back);
		free(want);
	}
}

static void t_after_crash_async(void *ctx)
{
	struct client *c = ctx;
	char *back;
	size_t len = 0;

	back = read_whole(c->nfs, "/crash-async.bin", &len);
	CHECK(back && len == 100000 && memcmp(back, crash.data, 100000) == 0);
	free(back);
}

/* ---- the object store fails (--rgw: the gateway is killed) ------------------- */

/* ctx: a v3 client of /zerofs (Sync = true). While the gateway is down a
 * metadata change gets NFS3ERR_JUKEBOX / NFS4ERR_DELAY (-EAGAIN from libnfs)
 * and reads of cached data still work; once it is back, changes succeed and
 * the filesystem is consistent (no inode number handed out twice). */
static void t_store_outage(void *ctx)
{
	struct client *c = ctx;
	struct nfs_context *v4 = mount_export(4, "/zerofs");
	struct nfs_stat_64 a, b, d;
	int r;

	REQUIRE(v4 != NULL);
	REQUIRE(rgw_ctl(&rgw, "stop-gw") == 0);
	r = nfs_mkdir(c->nfs, "/crash/during-outage-v3");
	CHECK_MSG(r == -EAGAIN, "v3 mkdir with the store down -> %d (%s), want -EAGAIN (JUKEBOX)", r,
		  nfs_get_error(c->nfs));
	r = nfs_mkdir(v4, "/crash/during-outage-v4");
	CHECK_MSG(r == -EAGAIN, "v4 mkdir with the store down -> %d (%s), want -EAGAIN (DELAY)", r,
		  nfs_get_error(v4));
	CHECK(nfs_stat64(c->nfs, "/crash/committed.bin", &d) == 0 && d.nfs_size == crash.len);
	CHECK(rgw_ctl(&rgw, "start-gw") == 0);
	OK(nfs_mkdir(c->nfs, "/crash/after-outage"));
	OK(nfs_stat64(c->nfs, "/crash/after-outage", &a));
	/* a change refused with JUKEBOX may still have been applied (it becomes
	 * durable with the store back): it must not share an inode number */
	if (nfs_stat64(c->nfs, "/crash/during-outage-v3", &b) == 0)
		CHECK_MSG(a.nfs_ino != b.nfs_ino, "inode %llu handed out twice",
			  (unsigned long long)a.nfs_ino);
	if (nfs_stat64(c->nfs, "/crash/during-outage-v4", &b) == 0)
		CHECK_MSG(a.nfs_ino != b.nfs_ino, "inode %llu handed out twice",
			  (unsigned long long)a.nfs_ino);
	struct nfsfh *fh;
	OK(nfs_create(c->nfs, "/crash/after-outage/f", O_RDWR | O_CREAT, 0644, &fh));
	CHECK(put(c->nfs, fh, 0, "back", 4));
	OK(nfs_fsync(c->nfs, fh));
	OK(nfs_close(c->nfs, fh));
	nfs_destroy_context(v4);
}

/* The store is down when ganesha starts: the export is created all the same
 * and asks clients to retry (JUKEBOX) until the store answers; then it
 * serves, without a restart. (Ganesha 4.3 never retries an export that failed
 * to be created, so the plugin must not fail it.) */
static void t_store_down_at_start(void *ctx)
{
	char dir[DIR_MAX + 32], snippet[DIR_MAX + 32], conf[4096], fsal[2048];
	char log[DIR_MAX + 48];
	int saved_nfs = nfs_port, saved_mnt = mnt_port, r = 0;
	struct nfs_context *nfs = NULL;
	struct timespec t0, t1;
	(void)ctx;

	snprintf(dir, sizeof(dir), "%s/ganesha-late", work_dir);
	store_lines(fsal, sizeof(fsal), "nfs", "store-late");
	export_block(conf, sizeof(conf), 1, "/zerofs", fsal);
	snprintf(snippet, sizeof(snippet), "%s/late-exports.conf", work_dir);
	REQUIRE(write_file(snippet, conf));
	snprintf(log, sizeof(log), "%s/ganesha.log", dir);

	REQUIRE(rgw_ctl(&rgw, "stop-gw") == 0);
	bool started = ganesha_start(dir, snippet) && read_env_of(dir, &nfs_port, &mnt_port);
	CHECK_MSG(started, "ganesha did not start with its store down (see %s)", log);
	CHECK(log_has(log, "is unreachable; the export is created"));
	if (started) {
		/* mounted while the store is down: the MNT reply carries the
		 * root's handle, then the root's attributes are JUKEBOX (libnfs
		 * gives up on its FSINFO; the kernel retries) */
		char url[256];
		struct nfs_url *u;

		snprintf(url, sizeof(url), "nfs://127.0.0.1/zerofs?version=3&nfsport=%d&mountport=%d",
			 nfs_port, mnt_port);
		REQUIRE((nfs = nfs_init_context()) != NULL);
		nfs_set_timeout(nfs, 60000);
		REQUIRE((u = nfs_parse_url_dir(nfs, url)) != NULL);
		r = nfs_mount(nfs, u->server, u->path);
		CHECK_MSG(r != 0 && strstr(nfs_get_error(nfs), "JUKEBOX"),
			  "v3 mount before the store answered -> %d (%s), want JUKEBOX", r,
			  nfs_get_error(nfs));
		nfs_destroy_url(u);
		nfs_destroy_context(nfs);
		nfs = NULL;
	}
	CHECK(rgw_ctl(&rgw, "start-gw") == 0);
	/* the opener retries at most 30 s apart; the gateway was down ~2 s */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; started && i < 60 && !nfs; i++) {
		nfs = mount_export(3, "/zerofs");
		if (nfs && (r = nfs_mkdir(nfs, "/after-the-store-answered")) != 0) {
			nfs_destroy_context(nfs);
			nfs = NULL;
		}
		if (!nfs)
			sleep(1);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	CHECK_MSG(nfs != NULL, "the export never served after the store came back (last mkdir %d)", r);
	if (nfs) {
		struct client cl = { .nfs = nfs, .version = 3 }, *c = &cl; /* for OK() */
		struct nfsfh *fh;
		char *back;
		size_t len = 0;

		printf("  served %.1f s after the gateway came back\n",
		       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
		OK(nfs_create(nfs, "/after-the-store-answered/f", O_RDWR | O_CREAT, 0644, &fh));
		CHECK(put(nfs, fh, 0, "late", 4));
		OK(nfs_fsync(nfs, fh));
		OK(nfs_close(nfs, fh));
		back = read_whole(nfs, "/after-the-store-answered/f", &len);
		CHECK(back && len == 4 && memcmp(back, "late", 4) == 0);
		free(back);
		nfs_destroy_context(nfs);
	}
	CHECK(log_has(log, "answered after"));
	nfs_port = saved_nfs;
	mnt_port = saved_mnt;
	CHECK(ganesha("stop", dir, NULL));
}

/* ---- fencing: a second server opens the same store -------------------------- */

/* ctx: a v3 client of the first server's /zerofs. A second ganesha opening
 * the same store fences the first: its changes then fail with EROFS (logged
 * once), and the second serves everything the first had committed. */
static void t_fenced(void *ctx)
{
	struct client *c = ctx;
	char dir[DIR_MAX + 32], snippet[DIR_MAX + 32], conf[4096], fsal[2048];
	char log[DIR_MAX + 48];
	int saved_nfs = nfs_port, saved_mnt = mnt_port, r;
	struct nfs_context *second;
	struct nfsfh *fh;
	char *back;
	size_t len = 0;

	snprintf(dir, sizeof(dir), "%s/ganesha-fence", work_dir);
	store_lines(fsal, sizeof(fsal), "nfs", "store-sync");
	export_block(conf, sizeof(conf), 1, "/zerofs", fsal);
	snprintf(snippet, sizeof(snippet), "%s/fence-exports.conf", work_dir);
	REQUIRE(write_file(snippet, conf));
	REQUIRE(ganesha_start(dir, snippet));

	r = nfs_mkdir(c->nfs, "/fenced-mkdir");
	CHECK_MSG(r == -EROFS, "mkdir on the fenced server -> %d (%s), want -EROFS", r,
		  nfs_get_error(c->nfs));
	r = nfs_create(c->nfs, "/crash/fenced-file", O_RDWR | O_CREAT, 0644, &fh);
	CHECK_MSG(r == -EROFS, "create on the fenced server -> %d, want -EROFS", r);
	if (r == 0)
		nfs_close(c->nfs, fh);
	snprintf(log, sizeof(log), "%s/ganesha.log", gdir);
	CHECK_MSG(count_lines(log, "this server is fenced") == 1, "fencing logged %d times",
		  count_lines(log, "this server is fenced"));

	/* the second server has the committed data */
	if (read_env_of(dir, &nfs_port, &mnt_port) && (second = mount_export(3, "/zerofs"))) {
		back = read_whole(second, "/crash/committed.bin", &len);
		CHECK(back && len == crash.len && memcmp(back, crash.data, crash.len) == 0);
		free(back);
		CHECK(nfs_mkdir(second, "/made-by-the-second") == 0);
		nfs_destroy_context(second);
	} else {
		CHECK_MSG(0, "cannot mount the second server");
	}
	nfs_port = saved_nfs;
	mnt_port = saved_mnt;
	CHECK(ganesha("stop", dir, NULL));
}

/* ---- config validation: bad FSAL blocks fail their export, naming the key ---- */

static void t_config_errors(void *ctx)
{
	char dir[DIR_MAX + 16], snippet[DIR_MAX + 32], conf[16384], blk[2048], fsal[1536];
	char log[DIR_MAX + 48];
	size_t n = 0;
	static const struct {
		const char *fsal, *expect;
	} bad[] = {
		{ "\t\tStore = local;\n\t\tDirectory = \"%s/cfg2\";\n\t\tBogus_Key = 1;\n",
		  "Unknown parameter (Bogus_Key)" },
		{ "\t\tStore = local;\n\t\tDirectory = \"%s/cfg3\";\n\t\tSync = maybe;\n",
		  "ZEROFS key Sync: \"maybe\" is not a boolean" },
		{ "\t\tStore = s3;\n\t\tDirectory = \"%s/cfg4\";\n",
		  "ZEROFS key Directory applies only to Store = local" },
		{ "\t\tStore = local;\n", "ZEROFS key Directory is missing" },
		{ "\t\tDirectory = \"%s/cfg6\";\n", "ZEROFS key Store is missing" },
		{ "\t\tStore = nfs;\n", "ZEROFS key Store: \"nfs\" is not local or s3" },
		{ "\t\tStore = local;\n\t\tDirectory = \"%s/cfg8\";\n\t\tFlush_Interval_Ms = 0;\n",
		  "ZEROFS key Flush_Interval_Ms: \"0\" is not a whole number" },
		{ "\t\tStore = local;\n\t\tDirectory = \"%s/cfg8w\";\n\t\tWAL_Uploads = 9;\n",
		  "ZEROFS key WAL_Uploads: \"9\" is not a whole number from 1 to 8" },
		{ "\t\tStore = local;\n\t\tDirectory = \"%s/cfg9\";\n\t\tCache_Dir = \"%s/cache\";\n"
		  "\t\tCache_Size_GB = lots;\n",
		  "Cache_Size_GB" },
		{ "\t\tStore = s3;\n\t\tBucket = b;\n\t\tCredentials_File = \"%s/no-such-file\";\n",
		  "ZEROFS key Credentials_File" },
		{ "\t\tStore = local;\n\t\tDirectory = \"%s/cfg1\";\n", /* same store as export 1 */
		  "is already served by export 1" },
	};
	(void)ctx;

	snprintf(dir, sizeof(dir), "%s/ganesha-cfg", work_dir);
	snprintf(fsal, sizeof(fsal), "\t\tStore = local;\n\t\tDirectory = \"%s/cfg1\";\n", work_dir);
	n += (size_t)snprintf(conf + n, sizeof(conf) - n, "%s",
			      export_block(blk, sizeof(blk), 1, "/good", fsal));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char path[32];
		snprintf(fsal, sizeof(fsal), bad[i].fsal, work_dir, work_dir);
		snprintf(path, sizeof(path), "/bad%zu", i);
		n += (size_t)snprintf(conf + n, sizeof(conf) - n, "%s",
				      export_block(blk, sizeof(blk), (int)i + 10, path, fsal));
	}
	snprintf(snippet, sizeof(snippet), "%s/cfg-exports.conf", work_dir);
	REQUIRE(write_file(snippet, conf));
	setenv("GANESHA_ALLOW_CONFIG_ERRORS", "1", 1);
	bool started = ganesha_start(dir, snippet);
	unsetenv("GANESHA_ALLOW_CONFIG_ERRORS");
	CHECK_MSG(started, "ganesha with one good and %zu bad exports did not start",
		  sizeof(bad) / sizeof(bad[0]));
	snprintf(log, sizeof(log), "%s/ganesha.log", dir);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_MSG(log_has(log, bad[i].expect), "no \"%s\" in %s", bad[i].expect, log);
	CHECK(log_has(log, "export 1: ZEROFS filesystem"));
	CHECK(!log_has(log, "export 10: ZEROFS filesystem"));
	ganesha("stop", dir, NULL);
}

static void t_no_secret_in_logs(void *ctx)
{
	const char *files[] = { "ganesha/ganesha.log", "ganesha/ganesha.out",
				"ganesha-fence/ganesha.log", "ganesha-fence/ganesha.out" };
	char path[DIR_MAX + 64];
	(void)ctx;
	REQUIRE(strlen(rgw.secret_key) >= 8);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", work_dir, files[i]);
		CHECK_MSG(!log_has(path, rgw.secret_key), "the secret key is in %s", path);
	}
}

/* ---- main ------------------------------------------------------------------------- */

static void run_version(int version)
{
	struct client c = { .version = version };
	char name[128];
	static const struct {
		const char *name;
		tl_fn fn;
	} tests[] = {
		{ "write_read", t_write_read },
		{ "big_file_8MiB", t_big_file },
		{ "mkdir_rmdir", t_mkdir_rmdir },
		{ "rename", t_rename },
		{ "hard_links", t_hard_links },
		{ "symlink", t_symlink },
		{ "truncate", t_truncate },
		{ "sparse", t_sparse },
		{ "past_4GiB", t_past_4g },
		{ "name_lengths", t_names },
		{ "attributes", t_attrs },
		{ "exclusive_create", t_exclusive_create },
		{ "mknod", t_mknod },
		{ "garbage_handles", t_garbage_handles },
		{ "exclusive_create_retry", t_exclusive_create_retry },
		{ "byte_range_locks", t_locks },
		{ "share_reservations", t_share_reservations },
	};

	if (!(c.nfs = mount_export(version, "/zerofs"))) {
		snprintf(name, sizeof(name), "v%d/mount", version);
		tl_fail_setup(name, "could not mount /zerofs over NFSv%d", version);
		return;
	}
	snprintf(c.base, sizeof(c.base), "/v%d", version);
	nfs_mkdir(c.nfs, c.base);
	for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
		if (version == 4 && (tests[i].fn == t_mknod || tests[i].fn == t_exclusive_create_retry))
			continue; /* NFSv3 only: libnfs 4.0 has no NFSv4 mknod; a raw v3 CREATE */
		if (version == 3 && (tests[i].fn == t_locks || tests[i].fn == t_share_reservations))
			continue; /* NFSv4 only: NLM is off (ganesha.sh), as in most v4 deployments */
		snprintf(name, sizeof(name), "v%d/%s", version, tests[i].name);
		tl_run(name, tests[i].fn, &c);
	}
	nfs_destroy_context(c.nfs);
}

static int run_all(void);

/* After the run, whatever happened to it: stop every ganesha it started. */
static void stop_all(void)
{
	const char *dirs[] = { "ganesha", "ganesha-fence", "ganesha-cfg" };
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		char d[DIR_MAX + 32];
		snprintf(d, sizeof(d), "%s/%s", work_dir, dirs[i]);
		if (!ganesha_stop_if_set_up(d))
			fprintf(stderr, "could not stop the ganesha in %s\n", d);
	}
}

/* The tests run in a child: whatever happens to it (a crash in libnfs, a
 * failed check), the parent stops every ganesha the run started. */
int main(int argc, char **argv)
{
	return hn_main(argc, argv, "test_nfs", run_all, stop_all);
}

static int run_all(void)
{
	char cmd[4 * DIR_MAX];

	snprintf(gdir, sizeof(gdir), "%s/ganesha", work_dir);
	if (!ganesha("stop", gdir, ">/dev/null 2>&1")) { /* a leftover instance of an earlier run */
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' && mkdir -p '%s'", work_dir, work_dir);
	if (system(cmd) != 0)
		return 1;
	if (use_rgw) {
		if (!hn_write_cred())
			return 1;
		printf("stores: prefixes nfs-%llx/ in s3://%s at %s\n", seed, rgw.bucket, rgw.endpoint);
	}
	if (!start_server()) {
		tl_fail_setup("start_ganesha", "could not start ganesha (see %s)", gdir);
		return tl_finish();
	}
	printf("ganesha: NFS 127.0.0.1:%d, MOUNT 127.0.0.1:%d, work dir %s\n", nfs_port, mnt_port,
	       work_dir);

	run_version(3);
	run_version(4);

	/* a filtered run (e.g. under valgrind) skips the sections it does not select */
	struct nfs_context *v3async =
		tl_selected("v3+v4/big_dir_10000_entries") ? mount_export(3, "/zerofs_async") : NULL;
	if (!tl_selected("v3+v4/big_dir_10000_entries")) {
	} else if (v3async) {
		tl_run("v3+v4/big_dir_10000_entries", t_big_dir, v3async);
		nfs_destroy_context(v3async);
	} else {
		tl_fail_setup("v3+v4/big_dir_10000_entries", "could not mount /zerofs_async");
	}

	/* the crash: SIGKILL after COMMIT, then everything committed is back */
	static const char *const crash_tests[] = {
		"crash/before_sigkill", "crash/v3_committed_data_back", "crash/v4_committed_data_back",
		"crash/async_export_commit_back", "crash/v3_garbage_handles_after_restart",
		"crash/v4_garbage_handles_after_restart", "rgw/store_outage_jukebox_then_recovery",
		"rgw/store_down_at_start_then_served", "fencing/second_server_fences_the_first",
	};
	bool run_crash = false;
	for (size_t i = 0; i < sizeof(crash_tests) / sizeof(crash_tests[0]); i++)
		run_crash = run_crash || tl_selected(crash_tests[i]);
	sync3.nfs = run_crash ? mount_export(3, "/zerofs") : NULL;
	async3.nfs = run_crash ? mount_export(3, "/zerofs_async") : NULL;
	if (!run_crash) {
	} else if (sync3.nfs && async3.nfs) {
		sync3.version = async3.version = 3;
		nfs_mkdir(sync3.nfs, "/crash");
		tl_run("crash/before_sigkill", t_before_crash, NULL);
		nfs_destroy_context(sync3.nfs);
		nfs_destroy_context(async3.nfs);
		bool restarted = ganesha("restart", gdir, NULL) && read_env();
		struct client after3 = { .version = 3 }, after4 = { .version = 4 }, aa = { .version = 3 };
		after3.nfs = restarted ? mount_export(3, "/zerofs") : NULL;
		after4.nfs = restarted ? mount_export(4, "/zerofs") : NULL;
		aa.nfs = restarted ? mount_export(3, "/zerofs_async") : NULL;
		if (after3.nfs)
			tl_run("crash/v3_committed_data_back", t_after_crash, &after3);
		else
			tl_fail_setup("crash/v3_committed_data_back",
				      "no NFSv3 mount after the restart");
		if (after4.nfs)
			tl_run("crash/v4_committed_data_back", t_after_crash, &after4);
		else
			tl_fail_setup("crash/v4_committed_data_back",
				      "no NFSv4 mount after the restart");
		if (aa.nfs)
			tl_run("crash/async_export_commit_back", t_after_crash_async, &aa);
		else
			tl_fail_setup("crash/async_export_commit_back",
				      "no mount of /zerofs_async after the restart");
		/* garbage handles against the restarted server, then it still serves */
		snprintf(after3.base, sizeof(after3.base), "/v3");
		snprintf(after4.base, sizeof(after4.base), "/v4");
		if (after3.nfs)
			tl_run("crash/v3_garbage_handles_after_restart", t_garbage_handles, &after3);
		if (after4.nfs)
			tl_run("crash/v4_garbage_handles_after_restart", t_garbage_handles, &after4);
		if (after3.nfs && use_rgw)
			tl_run("rgw/store_outage_jukebox_then_recovery", t_store_outage, &after3);
		if (use_rgw)
			tl_run("rgw/store_down_at_start_then_served", t_store_down_at_start, NULL);
		if (after3.nfs)
			tl_run("fencing/second_server_fences_the_first", t_fenced, &after3);
		for (struct client *x = &after3; x; x = x == &after3 ? &after4 : x == &after4 ? &aa : NULL)
			if (x->nfs)
				nfs_destroy_context(x->nfs);
	} else {
		tl_fail_setup("crash/mount", "could not mount /zerofs and /zerofs_async");
	}
	free(crash.data);
	free(crash.fh);

	if (!ganesha("stop", gdir, NULL))
		fprintf(stderr, "could not stop ganesha in %s\n", gdir);

	if (use_rgw)
		tl_run("rgw/secret_key_never_logged", t_no_secret_in_logs, NULL);
	else
		tl_run("config/bad_fsal_blocks_fail_their_export", t_config_errors, NULL);
	return tl_finish();
}
