/* fsal_zerofs/admin/maintain.c - zerofs compact and zerofs gc: the two
 * writing maintenance commands. Both open the tree as a writer (behind the
 * liveness guard of admin_open), which fences any server that has it open. */
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
