/*
 * fsal_zerofs/admin/fsck.c - zerofs fsck [--repair]: prints what the
 * filesystem core's check finds (fs_check.h), one line per problem starting
 * with its code (docs/zerofs.1 lists them). With --repair (a writer open)
 * the core repairs what is safe, each change one durable transaction of its
 * own, printed; then it scans again, until clean or nothing more can be
 * repaired safely (at most MAX_ROUNDS). This file writes nothing itself.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "fs_check.h"

#define MAX_ROUNDS 6

/* ---- the records ---- */

static void on_records(void *ctx, uint64_t records)
{
	progress_tick(ctx, "%llu records checked", (unsigned long long)records);
}

static int scan(struct admin_fs *a, struct zfs_check **c)
{
	struct progress prog;
	progress_init(&prog, "fsck");
	int e = zfs_check_scan(a->db, on_records, &prog, c);
	progress_end(&prog);
	if (e)
		admin_err("fsck could not finish: %s (%s)", strerror(e),
			  e == EIO ? zfs_error_detail() : lsm_last_error());
	return e;
}

static void on_repaired(void *ctx, const char *what)
{
	(void)ctx;
	printf("  repaired: %s\n", what);
}

static const char *usage_line = "fsck [--repair] [--force] [--live-window SECONDS]";

int cmd_fsck(struct admin_opts *o, int argc, char **argv)
{
	struct admin_fs a;
	struct zfs_check *c;
	char line[8192];
	uint64_t repaired = 0;
	bool found = false, failed = false;
	int rc;

	(void)argv;
	if (argc > 0) {
		admin_err("fsck takes no arguments (usage: zerofs %s)", usage_line);
		return ZA_USAGE;
	}
	if ((rc = admin_open(o, o->repair, "fsck --repair", o->repair, &a)))
		return rc;
	for (int round = 0;; round++) {
		if (scan(&a, &c)) {
			admin_close(&a);
			return ZA_ERROR;
		}
		const struct zfs_check_totals *t = zfs_check_totals(c);
		size_t n = zfs_check_count(c);
		if (round == 0)
			printf("fsck: %s: %" PRIu64 " inodes (%" PRIu64 " directories, %" PRIu64
			       " others), %" PRIu64 " entries, %" PRIu64 " chunks, %" PRIu64 " records\n",
			       a.desc, t->inodes, t->dirs, t->others, t->entries, t->chunks, t->records);
		if (n == 0) {
			zfs_check_free(c);
			break;
		}
		found = true;
		if (round > 0)
			printf("fsck: pass %d after the repairs:\n", round + 1);
		bool any = false;
		for (size_t i = 0; i < n; i++) {
			zfs_check_describe(c, i, line, sizeof(line));
			printf("%s\n", line);
			if (!o->repair)
				continue;
			int e = zfs_check_repair(a.fs, c, i, on_repaired, NULL);
			if (e == 0) {
				repaired++;
				any = true;
			} else if (e == EBUSY) {
				printf("  (repaired once the other repairs are done)\n");
			} else if (e == ENOTSUP) {
				printf("  not repaired: no safe repair\n");
			} else {
				printf("  not repaired: %s\n", strerror(e));
				failed = true;
			}
		}
		zfs_check_free(c);
		if (!o->repair) {
			printf("fsck: %zu problems found; run with --repair to fix what can be fixed safely\n", n);
			admin_close(&a);
			return ZA_PROBLEMS;
		}
		if (!any || failed || round + 1 >= MAX_ROUNDS) {
			printf("fsck: %" PRIu64 " repairs made; %zu problems remain\n", repaired, n);
			rc = admin_close(&a);
			return rc ? rc : ZA_REMAIN;
		}
	}
	if (found)
		printf("fsck: %" PRIu64 " repairs made; the filesystem is clean now\n", repaired);
	else
		printf("fsck: clean\n");
	rc = admin_close(&a);
	return rc ? rc : found ? ZA_PROBLEMS : ZA_OK;
}
