/*
 * tests/bench/fs_wamp.c - bytes uploaded per byte written under W4's
 * workload (random 4 KiB writes into one 128 MiB file) at steady state,
 * through the filesystem core on a local store, with everything that
 * uploads running: the WAL, memtable flushes, compaction, the repacker's
 * moves and GC. The local store counts the bytes it receives as S3 would
 * (zs3_stats bytes_up). Run by hand (a benchmark, not a test):
 *
 *   fs_wamp DIR [--writes N] [--file-mib M] [--commit-every K]
 *           [--repack-every K] [--max-live F] [--seed S]
 *
 * DIR must not exist. The file is first written whole (sequentially);
 * counters are then reset, and N random 4 KiB writes follow, a COMMIT every
 * K writes; every --repack-every writes the repacker's pass runs
 * (zfs_repack at --max-live, as the server does every 10 minutes), then GC
 * (objects of any age: the server keeps them an hour). At the end every
 * byte of the file is read back and checked against a model.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fs.h"
#include "lsm.h"
#include "store.h"
#include "testlib.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, int e)
{
	fprintf(stderr, "fs_wamp: %s: %s (%s)\n", what, strerror(e), lsm_last_error());
	exit(1);
}

int main(int argc, char **argv)
{
	unsigned long long writes = 100000, file_mib = 128, commit_every = 64, repack_every = 20000;
	unsigned long long seed = 1;
	double max_live = 0.25;
	if (argc < 2) {
		fprintf(stderr, "usage: fs_wamp DIR [--writes N] [--file-mib M] [--commit-every K] "
				"[--repack-every K] [--max-live F] [--seed S]\n");
		return 2;
	}
	const char *dir = argv[1];
	for (int i = 2; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--writes"))
			writes = strtoull(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--file-mib"))
			file_mib = strtoull(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--commit-every"))
			commit_every = strtoull(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--repack-every"))
			repack_every = strtoull(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--max-live"))
			max_live = strtod(argv[i + 1], NULL);
		else if (!strcmp(argv[i], "--seed"))
			seed = strtoull(argv[i + 1], NULL, 10);
		else {
			fprintf(stderr, "fs_wamp: unknown option %s\n", argv[i]);
			return 2;
		}
	}
	if (!commit_every || !repack_every || !file_mib)
		return 2;
	printf("seed: %llu\n", seed);
	struct zs3_store *store;
	struct lsm_db *db;
	struct zfs *fs;
	if (zs3_open_local(dir, true, &store) != ZS3_OK)
		die("opening the store", EIO);
	struct lsm_options o = { .store = store, .gc_min_age_ms = 1 };
	if (lsm_open(&o, &db) != LSM_OK)
		die("opening the tree", EIO);
	int e = zfs_open(db, &fs);
	if (e)
		die("opening the filesystem", e);

	uint64_t size = file_mib << 20, blocks = size / 4096;
	uint8_t *model = malloc(size), *back = malloc(1u << 20);
	if (!model || !back)
		die("memory", ENOMEM);
	tl_fill_random(model, size, &seed);
	struct zfs_create_args ca = { .type = ZFS_REG, .mode = 0644 };
	struct zfs_attr f, a;
	if ((e = zfs_create(fs, ZFS_ROOT_INO, "w4", &ca, false, &f)))
		die("create", e);
	for (uint64_t off = 0; off < size; off += 1u << 20)
		if ((e = zfs_write(fs, f.ino, off, 1u << 20, model + off, false, &a)))
			die("fill", e);
	if ((e = zfs_commit(fs)))
		die("commit", e);

	struct zs3_stats z0, z1;
	struct lsm_stats l0, l1;
	struct zfs_stats f0, f1;
	zs3_stats(store, &z0);
	lsm_stats(db, &l0);
	zfs_stats(fs, &f0);
	double t0 = now_s();
	uint8_t block[4096];
	uint64_t deleted = 0;
	for (unsigned long long n = 1; n <= writes; n++) {
		uint64_t b = tl_rand64(&seed) % blocks;
		tl_fill_random(block, sizeof(block), &seed);
		memcpy(model + b * 4096, block, sizeof(block));
		if ((e = zfs_write(fs, f.ino, b * 4096, sizeof(block), block, false, &a)))
			die("write", e);
		if (n % commit_every == 0 && (e = zfs_commit(fs)))
			die("commit", e);
		if (n % repack_every == 0) {
			struct zfs_repack_stats r;
			uint64_t d;
			if ((e = zfs_repack(fs, max_live, NULL, NULL, &r)))
				die("repack", e);
			if (lsm_gc(db, &d) != LSM_OK)
				die("gc", EIO);
			deleted += d;
			zs3_stats(store, &z1);
			printf("  %llu writes: %.2f bytes up per byte written; repack moved %llu "
			       "extents from %llu objects\n",
			       n, (double)(z1.bytes_up - z0.bytes_up) / ((double)n * 4096),
			       (unsigned long long)r.extents, (unsigned long long)r.objects);
		}
	}
	if ((e = zfs_commit(fs)))
		die("commit", e);
	double secs = now_s() - t0;
	zs3_stats(store, &z1);
	lsm_stats(db, &l1);
	zfs_stats(fs, &f1);
	double user = (double)writes * 4096;
	printf("%llu random 4 KiB writes into %llu MiB in %.1f s (%.0f/s), COMMIT every %llu\n",
	       writes, file_mib, secs, (double)writes / secs, commit_every);
	printf("bytes uploaded per byte written: %.3f (%llu PUTs)\n",
	       (double)(z1.bytes_up - z0.bytes_up) / user,
	       (unsigned long long)(z1.requests[ZS3_OP_PUT] - z0.requests[ZS3_OP_PUT]));
	printf("  WAL %.3f, flushes %.3f, compaction %.3f; of the WAL, repacking %.3f\n",
	       (double)(l1.wal_bytes - l0.wal_bytes) / user,
	       (double)(l1.l0_bytes_written - l0.l0_bytes_written) / user,
	       (double)(l1.compaction_bytes_written - l0.compaction_bytes_written) / user,
	       (double)(f1.repack_bytes - f0.repack_bytes) / user);
	printf("  %llu flushes, %llu compactions, %llu objects deleted by GC; data objects now "
	       "%llu holding %.1f MiB live\n",
	       (unsigned long long)(l1.memtable_flushes - l0.memtable_flushes),
	       (unsigned long long)(l1.compactions - l0.compactions), (unsigned long long)deleted,
	       (unsigned long long)l1.vlog_objects, (double)l1.vlog_live_bytes / (1 << 20));
	struct lsm_vlog_census vc;
	if (lsm_vlog_census(db, &vc) == LSM_OK)
		printf("  store: %llu data objects, %.1f MiB (%.1f MiB live)\n",
		       (unsigned long long)vc.objects, (double)vc.object_bytes / (1 << 20),
		       (double)vc.live_bytes / (1 << 20));
	for (uint64_t off = 0; off < size; off += 1u << 20) {
		size_t got;
		bool eof;
		if ((e = zfs_read(fs, f.ino, off, 1u << 20, back, &got, &eof)))
			die("read back", e);
		if (got != 1u << 20 || memcmp(back, model + off, got)) {
			fprintf(stderr, "fs_wamp: the file differs from the model at MiB %llu\n",
				(unsigned long long)(off >> 20));
			return 1;
		}
	}
	printf("every byte read back right\n");
	zfs_close(fs);
	(void)lsm_close(db);
	zs3_close(store);
	free(model);
	free(back);
	return 0;
}
