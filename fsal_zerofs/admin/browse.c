/* fsal_zerofs/admin/browse.c - zerofs ls and zerofs cat: read-only browsing
 * of a filesystem without a server (symbolic links are shown, never
 * followed). */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admin.h"

/* Resolves an absolute (or root-relative) path; errno-style result. */
static int resolve(struct zfs *fs, const char *path, struct zfs_attr *attr)
{
	char buf[4096], *save = NULL;
	int err;
	if (strlen(path) >= sizeof(buf))
		return ENAMETOOLONG;
	snprintf(buf, sizeof(buf), "%s", path);
	if ((err = zfs_getattr(fs, ZFS_ROOT_INO, attr)))
		return err;
	for (char *c = strtok_r(buf, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		if (attr->type == ZFS_LNK)
			return ELOOP; /* a symlink inside the path: not followed */
		if (attr->type != ZFS_DIR)
			return ENOTDIR;
		if ((err = zfs_lookup(fs, attr->ino, c, attr)))
			return err;
	}
	return 0;
}

static char type_char(enum zfs_type t)
{
	switch (t) {
	case ZFS_DIR: return 'd';
	case ZFS_LNK: return 'l';
	case ZFS_CHR: return 'c';
	case ZFS_BLK: return 'b';
	case ZFS_FIFO: return 'p';
	case ZFS_SOCK: return 's';
	default: return '-';
	}
}

static void print_entry(struct zfs *fs, const char *name, const struct zfs_attr *a, bool lng)
{
	if (!lng) {
		printf("%s\n", name);
		return;
	}
	char mode[11], when[32], size[32];
	static const char rwx[] = "rwxrwxrwx";
	struct tm tm;
	time_t t = (time_t)a->mtime.sec;
	mode[0] = type_char(a->type);
	for (int i = 0; i < 9; i++)
		mode[i + 1] = (a->mode & (0400u >> i)) ? rwx[i] : '-';
	mode[10] = '\0';
	if (a->mode & 04000)
		mode[3] = mode[3] == 'x' ? 's' : 'S';
	if (a->mode & 02000)
		mode[6] = mode[6] == 'x' ? 's' : 'S';
	if (a->mode & 01000)
		mode[9] = mode[9] == 'x' ? 't' : 'T';
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M", gmtime_r(&t, &tm));
	if (a->type == ZFS_CHR || a->type == ZFS_BLK)
		snprintf(size, sizeof(size), "%u, %u", a->rdev_major, a->rdev_minor);
	else
		snprintf(size, sizeof(size), "%" PRIu64, a->size);
	printf("%8" PRIu64 " %s %3u %5u %5u %12s %s %s", a->ino, mode, a->nlink, a->uid, a->gid, size,
	       when, name);
	if (a->type == ZFS_LNK) {
		char target[ZFS_SYMLINK_MAX + 1];
		size_t len;
		if (zfs_readlink(fs, a->ino, target, sizeof(target), &len) == 0)
			printf(" -> %s", target);
	}
	putchar('\n');
}

struct ls_ctx {
	struct zfs *fs;
	bool lng;
	uint64_t n;
};

static bool ls_one(void *ctx, const char *name, const struct zfs_attr *a, uint64_t next)
{
	struct ls_ctx *c = ctx;
	(void)next;
	print_entry(c->fs, name, a, c->lng);
	c->n++;
	return true;
}

int cmd_ls(struct admin_opts *o, int argc, char **argv)
{
	struct admin_fs a;
	int rc, bad = 0;
	const char *root = "/";
	char **paths = argc ? argv : (char **)&root;
	int n = argc ? argc : 1;

	if ((rc = admin_open(o, false, "ls", true, &a)))
		return rc;
	for (int i = 0; i < n; i++) {
		struct zfs_attr at;
		int err = resolve(a.fs, paths[i], &at);
		if (err) {
			admin_err("ls: %s: %s", paths[i], err == ELOOP ? "a symbolic link in the path (not followed)"
								       : strerror(err));
			bad = 1;
			continue;
		}
		if (at.type != ZFS_DIR) {
			print_entry(a.fs, paths[i], &at, o->long_format);
			continue;
		}
		if (n > 1)
			printf("%s%s:\n", i ? "\n" : "", paths[i]);
		struct ls_ctx c = { a.fs, o->long_format, 0 };
		if (o->all_names) {
			struct zfs_attr dot;
			print_entry(a.fs, ".", &at, o->long_format);
			if (zfs_lookup(a.fs, at.ino, "..", &dot) == 0)
				print_entry(a.fs, "..", &dot, o->long_format);
		}
		bool eof = false;
		uint64_t cookie = 0;
		/* one call lists everything: ls_one never stops early */
		err = zfs_readdir(a.fs, at.ino, cookie, ls_one, &c, &eof);
		if (err) {
			admin_err("ls: %s: %s", paths[i], strerror(err));
			bad = 1;
		}
	}
	rc = admin_close(&a);
	return bad ? ZA_ERROR : rc;
}

int cmd_cat(struct admin_opts *o, int argc, char **argv)
{
	struct admin_fs a;
	size_t cap = 1u << 20;
	char *buf;
	int rc, bad = 0;

	if (argc < 1) {
		admin_err("cat needs a PATH");
		return ZA_USAGE;
	}
	if (!(buf = malloc(cap))) {
		admin_err("out of memory");
		return ZA_ERROR;
	}
	if ((rc = admin_open(o, false, "cat", true, &a))) {
		free(buf);
		return rc;
	}
	for (int i = 0; i < argc && !bad; i++) {
		struct zfs_attr at;
		int err = resolve(a.fs, argv[i], &at);
		if (!err && at.type != ZFS_REG)
			err = at.type == ZFS_DIR ? EISDIR : at.type == ZFS_LNK ? ELOOP : EINVAL;
		if (err) {
			admin_err("cat: %s: %s", argv[i],
				  err == ELOOP ? "a symbolic link (not followed)"
				  : err == EINVAL ? "not a regular file" : strerror(err));
			bad = 1;
			break;
		}
		for (uint64_t off = 0; off < at.size;) {
			size_t got;
			bool eof;
			if ((err = zfs_read(a.fs, at.ino, off, cap, buf, &got, &eof))) {
				admin_err("cat: %s: read at %" PRIu64 ": %s", argv[i], off, strerror(err));
				bad = 1;
				break;
			}
			if (got && fwrite(buf, 1, got, stdout) != got) {
				admin_err("cat: writing to standard output: %s", strerror(errno));
				bad = 1;
				break;
			}
			off += got;
			if (eof || !got)
				break;
		}
	}
	free(buf);
	if (fflush(stdout) != 0 && !bad) {
		admin_err("cat: writing to standard output: %s", strerror(errno));
		bad = 1;
	}
	rc = admin_close(&a);
	return bad ? ZA_ERROR : rc;
}
