/*
 * tests/nfs/test_admin_nfs.c - the zerofs admin tool against a filesystem
 * made through NFS: Debian's ganesha.nfsd serves the ZEROFS plugin from the
 * build tree on a local store (scripts/ganesha.sh), libnfs runs a busy
 * seeded workload over NFSv3 (creates, writes, renames, hard links,
 * symlinks, removes in several directories). While ganesha runs, `zerofs
 * info`, `ls`, `cat` and `fsck` work read-only and ganesha keeps serving
 * writes afterwards; then ganesha stops, `zerofs fsck` must be clean and
 * `zerofs ls`/`cat` must match what was written, byte for byte.
 *
 *   test_admin_nfs SRC_DIR PLUGIN_DIR ZEROFS_BINARY WORK_DIR
 *
 * Needs root, ganesha and rpcbind (scripts/setup.sh), as test_nfs.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nfsc/libnfs.h>

#include "harness.h"
#include "testlib.h"

static char tool[DIR_MAX], store[DIR_MAX + 16];

/* ---- the model: what the filesystem must hold ---- */

#define NDIRS 4
#define NSLOTS 12
struct file {
	char path[128];
	char *data;
	size_t len;
	bool live;
	size_t group; /* names of one inode (hard links) share a group */
};
static struct file files[NDIRS * NSLOTS * 2];
static size_t n_files;

static struct file *model_add(const char *path, const char *data, size_t len)
{
	struct file *f = &files[n_files++];
	snprintf(f->path, sizeof(f->path), "%s", path);
	f->data = malloc(len ? len : 1);
	memcpy(f->data, data, len);
	f->len = len;
	f->live = true;
	f->group = n_files - 1;
	return f;
}

/* A change through one name shows through every hard link. */
static void model_sync_links(size_t i)
{
	for (size_t j = 0; j < n_files; j++) {
		if (j == i || files[j].group != files[i].group)
			continue;
		char *d = realloc(files[j].data, files[i].len ? files[i].len : 1);
		if (!d)
			continue;
		memcpy(d, files[i].data, files[i].len);
		files[j].data = d;
		files[j].len = files[i].len;
	}
}

/* ---- the server and the tool ---- */

static bool sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static bool sh(const char *fmt, ...)
{
	char cmd[8192];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	fflush(NULL);
	return system(cmd) == 0;
}

static bool start_ganesha(void)
{
	char snippet[DIR_MAX + 32], fsal[DIR_MAX + 64], conf[2048];
	snprintf(snippet, sizeof(snippet), "%s/exports.conf", work_dir);
	snprintf(fsal, sizeof(fsal), "\t\tStore = local;\n\t\tDirectory = \"%s\";\n", store);
	return write_file(snippet, export_block(conf, sizeof(conf), 1, "/zerofs", fsal)) &&
	       ganesha_start(gdir, snippet) && read_env();
}

static bool stop_ganesha(void)
{
	return ganesha("stop", gdir, ">/dev/null");
}

struct run {
	int rc;
	char *out;
	size_t len;
};

/* zerofs --config <the ganesha.conf ganesha.sh wrote> <args> */
static struct run zerofs(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static struct run zerofs(const char *fmt, ...)
{
	struct run r = { -1, NULL, 0 };
	char args[2048], cmd[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof(cmd), "'%s' --config '%s/ganesha.conf' --export-id 1 %s 2>&1", tool,
		 gdir, args);
	r.rc = tl_capture(cmd, &r.out, &r.len);
	return r;
}

/* ---- NFS ---- */

static bool nfs_put(struct nfs_context *nfs, const char *path, const char *data, size_t len)
{
	struct nfsfh *fh;
	bool ok = true;
	if (nfs_create(nfs, path, O_RDWR | O_CREAT | O_TRUNC, 0644, &fh) != 0) {
		fprintf(stderr, "  create %s: %s\n", path, nfs_get_error(nfs));
		return false;
	}
	for (size_t off = 0; off < len && ok;) {
		int n = nfs_pwrite(nfs, fh, off, len - off > 65536 ? 65536 : len - off, data + off);
		ok = n > 0;
		off += n > 0 ? (size_t)n : 0;
	}
	ok = ok && nfs_fsync(nfs, fh) == 0; /* COMMIT: durable, so the tool sees it */
	return nfs_close(nfs, fh) == 0 && ok;
}

/* The busy workload: per directory, files of random sizes (some over
 * several chunks, some sparse), then renames within and across
 * directories, hard links, symlinks, overwrites, truncations, removes. */
static void t_workload(void *ctx)
{
	struct nfs_context *nfs = ctx;
	unsigned long long s = seed;
	char path[128], path2[128], *buf = malloc(300000);
	REQUIRE(buf);
	for (int d = 0; d < NDIRS; d++) {
		snprintf(path, sizeof(path), "/d%d", d);
		CHECK(nfs_mkdir(nfs, path) == 0);
		snprintf(path, sizeof(path), "/d%d/sub", d);
		CHECK(nfs_mkdir(nfs, path) == 0);
		for (int i = 0; i < NSLOTS; i++) {
			size_t len = (size_t)(tl_rand64(&s) % 200000);
			tl_fill_random(buf, len, &s);
			snprintf(path, sizeof(path), "/d%d/f%d", d, i);
			CHECK(nfs_put(nfs, path, buf, len));
			model_add(path, buf, len);
		}
	}
	for (size_t i = 0; i < n_files; i++) {
		struct file *f = &files[i];
		unsigned op = (unsigned)(tl_rand64(&s) % 6);
		if (!f->live)
			continue;
		switch (op) {
		case 0: /* rename to another directory */
			snprintf(path2, sizeof(path2), "/d%d/sub/r%zu", (int)((i + 1) % NDIRS), i);
			CHECK(nfs_rename(nfs, f->path, path2) == 0);
			snprintf(f->path, sizeof(f->path), "%s", path2);
			break;
		case 1: /* a hard link (both names stay) */
			snprintf(path2, sizeof(path2), "/d%d/link%zu", (int)((i + 2) % NDIRS), i);
			CHECK(nfs_link(nfs, f->path, path2) == 0);
			model_add(path2, f->data, f->len)->group = f->group;
			f = &files[i]; /* (files does not move: a static array) */
			break;
		case 2: /* remove */
			CHECK(nfs_unlink(nfs, f->path) == 0);
			f->live = false;
			break;
		case 3: { /* truncate */
			size_t len = f->len / 3;
			CHECK(nfs_truncate(nfs, f->path, len) == 0);
			f->len = len;
			model_sync_links(i);
			break;
		}
		case 4: { /* overwrite a piece in the middle (may extend) */
			struct nfsfh *fh;
			size_t off = f->len / 2, len = 70000;
			char *nd = realloc(f->data, off + len > f->len ? off + len : f->len);
			REQUIRE(nd);
			f->data = nd;
			tl_fill_random(f->data + off, len, &s);
			if (off + len > f->len)
				f->len = off + len;
			CHECK(nfs_open(nfs, f->path, O_RDWR, &fh) == 0);
			for (size_t w = 0; w < len;) {
				int n = nfs_pwrite(nfs, fh, off + w, len - w, f->data + off + w);
				if (n <= 0) {
					CHECK(n > 0);
					break;
				}
				w += (size_t)n;
			}
			CHECK(nfs_fsync(nfs, fh) == 0);
			CHECK(nfs_close(nfs, fh) == 0);
			model_sync_links(i);
			break;
		}
		default: /* rename within the directory */
			snprintf(path2, sizeof(path2), "%.110s.renamed", f->path);
			CHECK(nfs_rename(nfs, f->path, path2) == 0);
			snprintf(f->path, sizeof(f->path), "%s", path2);
			break;
		}
	}
	CHECK(nfs_symlink(nfs, "d0/f0", "/sym") == 0);
	snprintf(path, sizeof(path), "/d%d/sub", NDIRS - 1);
	snprintf(path2, sizeof(path2), "/moved-sub");
	CHECK(nfs_rename(nfs, path, path2) == 0);
	for (size_t i = 0; i < n_files; i++) {
		char *p = files[i].path;
		size_t n = strlen(path);
		if (!strncmp(p, path, n) && p[n] == '/') {
			char tmp[128];
			snprintf(tmp, sizeof(tmp), "%s%s", path2, p + n);
			snprintf(files[i].path, sizeof(files[i].path), "%s", tmp);
		}
	}
	free(buf);
}

static void check_contents(bool while_running)
{
	size_t checked = 0;
	for (size_t i = 0; i < n_files; i++) {
		struct file *f = &files[i];
		struct run r;
		if (!f->live)
			continue;
		r = zerofs("cat '%s'", f->path);
		CHECK_MSG(r.rc == 0, "cat %s: %d %s", f->path, r.rc, r.out ? r.out : "");
		if (r.rc == 0) {
			CHECK_MSG(r.len == f->len && !memcmp(r.out, f->data, f->len),
				  "%s: %zu bytes, want %zu", f->path, r.len, f->len);
			checked++;
		}
		free(r.out);
		if (while_running && i > 8)
			break; /* a sample while ganesha runs; everything after */
	}
	printf("  %zu files compared byte for byte%s\n", checked, while_running ? " (while ganesha runs)" : "");
}

static void check_listing(void)
{
	/* every live path is listed by `ls` of its directory */
	for (size_t i = 0; i < n_files; i++) {
		struct file *f = &files[i];
		char dir[128], want[160];
		struct run r;
		if (!f->live)
			continue;
		snprintf(dir, sizeof(dir), "%.127s", f->path);
		char *slash = strrchr(dir, '/');
		snprintf(want, sizeof(want), "\n%s\n", slash + 1);
		*slash = '\0';
		r = zerofs("ls '%s'", dir[0] ? dir : "/");
		char *out = NULL;
		if (r.out && asprintf(&out, "\n%s", r.out) < 0)
			out = NULL;
		CHECK_MSG(r.rc == 0 && out && strstr(out, want), "ls %s lacks %s", dir, slash + 1);
		free(out);
		free(r.out);
	}
}

static void t_while_running(void *ctx)
{
	struct nfs_context *nfs = ctx;
	struct run r = zerofs("info");
	CHECK_MSG(r.rc == 0 && strstr(r.out, "writer epoch:"), "%d %s", r.rc, r.out);
	free(r.out);
	r = zerofs("ls -l /");
	CHECK_MSG(r.rc == 0 && strstr(r.out, " sym -> d0/f0") && strstr(r.out, " moved-sub\n"), "%d %s",
		  r.rc, r.out);
	free(r.out);
	r = zerofs("fsck");
	CHECK_MSG(r.rc == 0 && strstr(r.out, "fsck: clean"), "%d %s", r.rc, r.out);
	free(r.out);
	check_contents(true);
	/* writing commands refuse: ganesha wrote just now */
	r = zerofs("compact");
	CHECK_MSG(r.rc == 3 && strstr(r.out, "would fence that server"), "%d %s", r.rc, r.out);
	free(r.out);
	/* and ganesha still serves writes: nothing fenced it */
	CHECK(nfs_put(nfs, "/after-admin", "still serving\n", 14));
	model_add("/after-admin", "still serving\n", 14);
	struct nfs_stat_64 st;
	CHECK(nfs_stat64(nfs, "/after-admin", &st) == 0 && st.nfs_size == 14);
}

static void t_after_stop(void *ctx)
{
	(void)ctx;
	struct run r = zerofs("fsck");
	CHECK_MSG(r.rc == 0 && strstr(r.out, "fsck: clean"), "%d %s", r.rc, r.out);
	printf("  %s", r.out ? r.out : "");
	free(r.out);
	check_contents(false);
	check_listing();
	r = zerofs("info");
	CHECK(r.rc == 0);
	free(r.out);
	/* with ganesha stopped (and the writes old enough for the window), the
	 * maintenance commands run, and leave it clean */
	r = zerofs("compact --live-window 0");
	CHECK_MSG(r.rc == 0, "%d %s", r.rc, r.out);
	free(r.out);
	r = zerofs("gc --min-age 0 --live-window 0");
	CHECK_MSG(r.rc == 0, "%d %s", r.rc, r.out);
	free(r.out);
	r = zerofs("fsck");
	CHECK_MSG(r.rc == 0 && strstr(r.out, "fsck: clean"), "%d %s", r.rc, r.out);
	free(r.out);
	check_contents(false);
}

static int run_all(void)
{
	if (!sh("rm -rf '%s' && mkdir -p '%s'", work_dir, work_dir))
		return 1;
	if (!start_ganesha()) {
		tl_fail_setup("start_ganesha", "could not start ganesha (see %s)", gdir);
		return tl_finish();
	}
	printf("ganesha: NFS 127.0.0.1:%d, store %s\n", nfs_port, store);
	struct nfs_context *nfs = mount_export_opts(3, "/zerofs", NULL, true);
	if (!nfs) {
		tl_fail_setup("mount", "could not mount /zerofs over NFSv3");
		stop_ganesha();
		return tl_finish();
	}
	tl_run("busy_nfs_workload", t_workload, nfs);
	tl_run("read_only_commands_while_ganesha_runs", t_while_running, nfs);
	nfs_destroy_context(nfs);
	if (!stop_ganesha())
		tl_fail_setup("stop_ganesha", "could not stop ganesha (see %s)", gdir);
	tl_run("fsck_clean_and_contents_after_stop", t_after_stop, NULL);
	return tl_finish();
}

/* After the run, whatever happened to it: no ganesha is left behind. */
static void stop_all(void)
{
	ganesha_stop_if_set_up(gdir);
}

int main(int argc, char **argv)
{
	char rp[PATH_MAX];
	if (argc < 5) {
		fprintf(stderr, "usage: %s SRC_DIR PLUGIN_DIR ZEROFS_BINARY WORK_DIR\n", argv[0]);
		return 2;
	}
	if (getuid() != 0) {
		fprintf(stderr, "needs root (ganesha with a private rpcbind)\n");
		return 1;
	}
	if (!hn_set_dirs(argv[1], argv[2], argv[4]) || !realpath(argv[3], rp) ||
	    strlen(rp) >= DIR_MAX || !strcpy(tool, rp)) {
		fprintf(stderr, "bad paths\n");
		return 2;
	}
	snprintf(gdir, sizeof(gdir), "%s/ganesha", work_dir);
	snprintf(store, sizeof(store), "%s/store", work_dir);
	seed = tl_seed();
	setvbuf(stdout, NULL, _IOLBF, 0);
	return hn_run_in_child(run_all, stop_all);
}
