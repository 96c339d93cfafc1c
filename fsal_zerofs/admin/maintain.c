/* fsal_zerofs/admin/maintain.c - zerofs compact and zerofs gc: the two
 * writing maintenance commands. Both open the tree as a writer (behind the
 * liveness guard of admin_open), which fences any server that has it open. */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "admin.h"

static void levels(struct lsm_db *db, uint64_t *ssts, uint64_t *runs, uint64_t *bytes)
{
	struct lsm_description d;
	*ssts = *runs = *bytes = 0;
	if (lsm_describe(db, &d) != LSM_OK)
		return;
	for (size_t i = 0; i < d.level_count; i++) {
		*ssts += d.levels[i].ssts;
		*bytes += d.levels[i].bytes;
	}
	*runs = d.level_count - 1;
	lsm_description_free(&d);
}

int cmd_compact(struct admin_opts *o, int argc, char **argv)
{
	struct admin_fs a;
	uint64_t s0, r0, b0, s1, r1, b1;
	char x[32], y[32];
	lsm_status st;
	int rc;

	(void)argv;
	if (argc > 0) {
		admin_err("compact takes no arguments");
		return ZA_USAGE;
	}
	if ((rc = admin_open(o, true, "compact", false, &a)))
		return rc;
	levels(a.db, &s0, &r0, &b0);
	fprintf(stderr, "zerofs: compacting %s (%" PRIu64 " SSTs, %s)...\n", a.desc, s0, admin_bytes(b0, x));
	if ((st = lsm_compact_all(a.db))) {
		admin_err("%s: compaction failed: %s (%s)", a.desc, lsm_strstatus(st), lsm_last_error());
		admin_close(&a);
		return ZA_ERROR;
	}
	levels(a.db, &s1, &r1, &b1);
	printf("compacted: %" PRIu64 " SSTs in %" PRIu64 " runs (%s) -> %" PRIu64 " SSTs in %" PRIu64
	       " runs (%s); the old objects stay until zerofs gc deletes them\n",
	       s0, r0, admin_bytes(b0, x), s1, r1, admin_bytes(b1, y));
	return admin_close(&a);
}

static void repack_progress(void *ctx, const struct zfs_repack_stats *r)
{
	char b[32];
	progress_tick(ctx, "%" PRIu64 " extents moved (%s)", r->extents, admin_bytes(r->bytes, b));
}

/* Repacks the data of objects below o->repack_pct live, then compacts so
 * that the old pointers go: those objects are then unreferenced. */
static int repack(struct admin_opts *o, struct admin_fs *a)
{
	struct zfs_repack_stats r;
	struct zfs_info info;
	struct progress p;
	struct zfs *fs;
	char b1[32], b2[32], b3[32];
	lsm_status st;
	int e = zfs_read_info(a->db, &info);
	if (e == ENOENT)
		return ZA_OK; /* no filesystem in this tree: nothing to repack */
	if (e || (e = zfs_open(a->db, &fs))) {
		admin_err("%s: cannot open the filesystem to repack: %s", a->desc,
			  e == EIO ? zfs_error_detail() : strerror(e));
		return ZA_ERROR;
	}
	progress_init(&p, "repack");
	e = zfs_repack(fs, (double)o->repack_pct / 100.0, repack_progress, &p, &r);
	progress_end(&p);
	zfs_close(fs);
	if (e) {
		admin_err("%s: repacking failed: %s", a->desc, e == EIO ? zfs_error_detail() : strerror(e));
		return ZA_ERROR;
	}
	printf("repack: %" PRIu64 " objects below %" PRIu64 "%% live (%s, %s live): moved %" PRIu64
	       " extents (%s)\n", r.objects, o->repack_pct, admin_bytes(r.object_bytes, b1),
	       admin_bytes(r.live_bytes, b2), r.extents, admin_bytes(r.bytes, b3));
	if (r.extents && (st = lsm_compact_all(a->db))) {
		admin_err("%s: compaction after repacking failed: %s (%s)", a->desc, lsm_strstatus(st),
			  lsm_last_error());
		return ZA_ERROR;
	}
	return ZA_OK;
}

int cmd_gc(struct admin_opts *o, int argc, char **argv)
{
	struct admin_fs a;
	struct progress p;
	uint64_t deleted = 0;
	lsm_status st;
	int rc;

	(void)argv;
	if (argc > 0) {
		admin_err("gc takes no arguments");
		return ZA_USAGE;
	}
	if ((rc = admin_open(o, true, "gc", false, &a)))
		return rc;
	if (o->repack_pct && (rc = repack(o, &a))) {
		admin_close(&a);
		return rc;
	}
	progress_init(&p, "gc");
	st = lsm_gc_progress(a.db, progress_lsm, &p, &deleted);
	progress_end(&p);
	if (st) {
		admin_err("%s: gc failed after deleting %" PRIu64 " objects: %s (%s)", a.desc, deleted,
			  lsm_strstatus(st), lsm_last_error());
		admin_close(&a);
		return ZA_ERROR;
	}
	printf("gc: deleted %" PRIu64 " unreferenced objects older than %" PRIu64 " s\n", deleted,
	       o->min_age_s);
	return admin_close(&a);
}
