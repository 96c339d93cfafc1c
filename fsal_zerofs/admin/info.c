/* fsal_zerofs/admin/info.c - zerofs info: the tree, its objects and the
 * filesystem's totals, read-only. */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "admin.h"

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *ago(int64_t ms, char *buf)
{
	int64_t s = (wall_ms() - ms) / 1000;
	if (ms <= 0)
		snprintf(buf, 48, "unknown");
	else if (s < 120)
		snprintf(buf, 48, "%" PRId64 " s ago", s < 0 ? 0 : s);
	else if (s < 7200)
		snprintf(buf, 48, "%" PRId64 " min ago", s / 60);
	else if (s < 172800)
		snprintf(buf, 48, "%" PRId64 " h ago", s / 3600);
	else
		snprintf(buf, 48, "%" PRId64 " days ago", s / 86400);
	return buf;
}

int cmd_info(struct admin_opts *o, int argc, char **argv)
{
	struct admin_fs a;
	struct lsm_description d;
	struct lsm_object_census c;
	struct lsm_activity act;
	struct progress p;
	char b1[32], b2[32], b3[32], b4[32], t[48];
	lsm_status st;
	int rc;

	(void)argv;
	if (argc > 0) {
		admin_err("info takes no arguments");
		return ZA_USAGE;
	}
	if ((rc = admin_open(o, false, "info", false, &a)))
		return rc;
	if ((st = lsm_describe(a.db, &d))) {
		admin_err("%s", lsm_last_error());
		admin_close(&a);
		return ZA_ERROR;
	}
	printf("store:            %s\n", a.desc);
	printf("manifest:         %" PRIu64 "\n", d.manifest_id);
	printf("writer epoch:     %" PRIu64 "\n", d.writer_epoch);
	printf("sequence:         %" PRIu64 " in SSTs, %" PRIu64 " with the WAL\n", d.last_seq,
	       d.visible_seq);
	printf("WAL backlog:      %" PRIu64 " objects, %s (WAL %" PRIu64 " to %" PRIu64
	       ", not yet in SSTs)\n",
	       d.wal_replayed_objects, admin_bytes(d.wal_replayed_bytes, b1), d.wal_flushed,
	       d.wal_next ? d.wal_next - 1 : 0);
	uint64_t ssts = 0, bytes = 0;
	for (size_t i = 0; i < d.level_count; i++) {
		char name[40];
		if (i == 0)
			snprintf(name, sizeof(name), "L0:");
		else
			snprintf(name, sizeof(name), "run %" PRIu64 ":", d.levels[i].run_id);
		printf("  %-16s%" PRIu64 " SSTs, %s, %" PRIu64 " entries\n", name, d.levels[i].ssts,
		       admin_bytes(d.levels[i].bytes, b1), d.levels[i].entries);
		ssts += d.levels[i].ssts;
		bytes += d.levels[i].bytes;
	}
	printf("SSTs:             %" PRIu64 " in %zu levels (L0 and %zu sorted runs), %s\n", ssts,
	       d.level_count, d.level_count - 1, admin_bytes(bytes, b1));
	if (!d.checkpoint_count)
		printf("checkpoints:      none\n");
	for (size_t i = 0; i < d.checkpoint_count; i++) {
		time_t when = (time_t)(d.checkpoints[i].created_ms / 1000);
		struct tm tm;
		char ts[64];
		strftime(ts, sizeof(ts), "%Y-%m-%d %H:%M:%S UTC", gmtime_r(&when, &tm));
		printf("checkpoint:       %s (manifest %" PRIu64 ", %s)\n", d.checkpoints[i].name,
		       d.checkpoints[i].manifest_id, ts);
	}
	lsm_description_free(&d);

	progress_init(&p, "listing objects");
	st = lsm_census(a.store, progress_lsm, &p, &c);
	progress_end(&p);
	if (st) {
		admin_err("%s: listing the objects failed: %s (%s)", a.desc, lsm_strstatus(st), lsm_last_error());
		admin_close(&a);
		return ZA_ERROR;
	}
	printf("objects:          %" PRIu64 ", %s: %" PRIu64 " manifests (%s), %" PRIu64
	       " WAL (%s), %" PRIu64 " SST (%s), %" PRIu64 " other\n",
	       c.manifests + c.wals + c.ssts + c.others,
	       admin_bytes(c.manifest_bytes + c.wal_bytes + c.sst_bytes + c.other_bytes, b1),
	       c.manifests, admin_bytes(c.manifest_bytes, b2), c.wals, admin_bytes(c.wal_bytes, b3),
	       c.ssts, admin_bytes(c.sst_bytes, b4), c.others);
	if (c.ssts > ssts)
		printf("                  (%" PRIu64 " SSTs are no longer in the tree: zerofs gc deletes them)\n",
		       c.ssts - ssts);
	struct lsm_vlog_census vc;
	if ((st = lsm_vlog_census(a.db, &vc)) == LSM_OK) {
		uint64_t garbage = vc.object_bytes > vc.live_bytes ? vc.object_bytes - vc.live_bytes : 0;
		printf("data objects:     %" PRIu64 " WAL objects hold file data (%s): %s live, %s "
		       "garbage (%.0f%%)\n",
		       vc.objects, admin_bytes(vc.object_bytes, b1), admin_bytes(vc.live_bytes, b2),
		       admin_bytes(garbage, b3),
		       vc.object_bytes ? 100.0 * (double)garbage / (double)vc.object_bytes : 0.0);
	} else {
		admin_err("%s: listing the data objects failed: %s (%s)", a.desc, lsm_strstatus(st),
			  lsm_last_error());
		rc = ZA_ERROR;
	}
	if (lsm_activity(a.store, &act) == LSM_OK) {
		int64_t newest = act.manifest_mtime_ms > act.newest_wal_mtime_ms ? act.manifest_mtime_ms
										 : act.newest_wal_mtime_ms;
		printf("last write:       %s (manifest %" PRIu64 ", newest WAL %" PRIu64 ")\n",
		       ago(newest, t), act.manifest_id, act.newest_wal_id);
	}

	struct zfs_info s;
	int e = zfs_read_info(a.db, &s);
	if (e == ENOENT) {
		printf("filesystem:       none (the tree holds no superblock)\n");
		rc = ZA_ERROR;
	} else if (e) {
		printf("filesystem:       the superblock cannot be read (%s)\n",
		       e == EIO ? zfs_error_detail() : strerror(e));
		rc = ZA_ERROR;
	} else {
		printf("filesystem:       %016" PRIx64 "\n", s.fs_id);
		printf("inodes:           %" PRIu64 " in use (next inode number %" PRIu64 ")\n", s.files,
		       s.next_ino);
		printf("data:             %s stored in 64 KiB chunks\n", admin_bytes(s.bytes_used, b1));
	}
	int crc = admin_close(&a);
	return rc ? rc : crc;
}
