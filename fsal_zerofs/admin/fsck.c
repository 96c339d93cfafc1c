/*
 * fsal_zerofs/admin/fsck.c - zerofs fsck [--repair]: checks a filesystem in
 * two steps and prints what it finds, one line per problem starting with its
 * code (docs/zerofs.1 lists them):
 *
 * 1. The tree's objects (lsm_verify_store, lsm.h), before the tree is
 *    opened: the manifest, every live SST in full (footer, index, filter,
 *    meta and every data block with its checksum) and the WAL objects a
 *    reader replays. A damaged or missing object is a problem no repair can
 *    fix; the records, which cannot all be read then, are not checked.
 * 2. The records (fs_check.h): the filesystem core scans them against its
 *    invariants and, with --repair (a writer open), repairs what is safe,
 *    each change one durable transaction of the core, printed; then it scans
 *    again, until clean or nothing more can be repaired safely (at most
 *    MAX_ROUNDS). This file writes nothing itself.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "fs_check.h"

#define MAX_ROUNDS 6

/* ---- 1. the tree's objects ---- */

struct damage {
	char *line;
};

struct verify_state {
	struct progress prog;
	uint64_t objects, bytes;
	struct damage *d;
	size_t n, cap;
	bool oom;
};

static void on_object(void *ctx, const struct lsm_verify_report *r)
{
	struct verify_state *v = ctx;
	char b[32];
	v->objects++;
	v->bytes += r->bytes;
	progress_tick(&v->prog, "%llu objects read and checked (%s)", (unsigned long long)v->objects,
		      admin_bytes(v->bytes, b));
	if (r->status == LSM_OK)
		return;
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 16;
		struct damage *d = realloc(v->d, cap * sizeof(*d));
		if (!d) {
			v->oom = true;
			return;
		}
		v->d = d;
		v->cap = cap;
	}
	/* printed once the progress line is gone */
	if (asprintf(&v->d[v->n].line, "%s: %s: %s",
		     r->status == LSM_ENOTFOUND ? "missing-object" : "damaged-object", r->key,
		     r->detail ? r->detail : "damaged") < 0)
		v->oom = true;
	else
		v->n++;
}

/* Reads and checks every live object; prints what it read and each damaged
 * object. ZA_OK (then *damaged says how many) or ZA_ERROR. */
static int check_objects(struct admin_fs *a, bool repair, uint64_t *damaged)
{
	struct verify_state v = { 0 };
	struct lsm_verify_summary s;
	char b[32];
	progress_init(&v.prog, "fsck");
	lsm_status st = lsm_verify_store(a->store, on_object, &v, &s);
	progress_end(&v.prog);
	if (st == LSM_OK && v.oom)
		st = lsm_fail(LSM_ENOMEM, "out of memory");
	if (st == LSM_OK) {
		printf("fsck: %s: manifest %" PRIu64 ", %" PRIu64 " SSTs (%" PRIu64 " data blocks, %" PRIu64
		       " entries), %" PRIu64 " WAL objects (%" PRIu64 " records): %s read and checked\n",
		       a->desc, s.manifest_id, s.ssts, s.data_blocks, s.entries, s.wals, s.wal_records,
		       admin_bytes(s.bytes, b));
		for (size_t i = 0; i < v.n; i++) {
			printf("%s\n", v.d[i].line);
			if (repair)
				printf("  not repaired: no safe repair (restore the object from a copy)\n");
		}
		*damaged = s.damaged;
	} else if (st == LSM_ENOTFOUND) {
		admin_err("%s holds no ZeroFS filesystem (no LSM manifest; %s)", a->desc, lsm_last_error());
	} else {
		admin_err("fsck could not read the tree's objects: %s (%s)", lsm_strstatus(st),
			  lsm_last_error());
	}
	for (size_t i = 0; i < v.n; i++)
		free(v.d[i].line);
	free(v.d);
	return st == LSM_OK ? ZA_OK : ZA_ERROR;
}

/* ---- 2. the records ---- */

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
	uint64_t damaged = 0, repaired = 0;
	bool found = false, failed = false;
	int rc;

	(void)argv;
	if (argc > 0) {
		admin_err("fsck takes no arguments (usage: zerofs %s)", usage_line);
		return ZA_USAGE;
	}
	if ((rc = admin_open_store(o, o->repair, "fsck --repair", &a)))
		return rc;
	if ((rc = check_objects(&a, o->repair, &damaged))) {
		admin_close(&a);
		return rc;
	}
	if (damaged) {
		printf("fsck: the filesystem's records were not checked: they cannot all be read while "
		       "the tree's objects are damaged\n");
		if (o->repair)
			printf("fsck: 0 repairs made; %" PRIu64 " problems remain\n", damaged);
		else
			printf("fsck: %" PRIu64 " problems found; no repair can fix a damaged object: "
			       "restore it from a copy of the store\n", damaged);
		admin_close(&a);
		return o->repair ? ZA_REMAIN : ZA_PROBLEMS;
	}
	if ((rc = admin_open_tree(o, o->repair, &a)))
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
