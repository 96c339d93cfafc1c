/*
 * tests/lsm/test_crash.c - crash safety and faults.
 *
 * crash: a child process writes batches (durable and not) from WRITERS
 * threads at once, so several WAL uploads are in flight (the pipeline), with
 * background flushing and compaction running, reporting each acknowledged
 * durable batch to the parent through a pipe; the parent SIGKILLs it at a
 * random moment, reopens the tree and checks that every acknowledged batch is
 * there, that no batch is there in part, that each writer's batches are there
 * as a prefix of what it wrote, and that a full scan and a full compaction
 * succeed. Repeated KILLS times on one store.
 *
 * faults: the same checks with a store that fails and loses replies at random
 * (through the retry layer), then recovers.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lsm.h"
#include "store_env.h"
#include "testlib.h"

#define KILLS 60
#define OPS_PER_BATCH 3
#define WRITERS 4 /* threads per child: as many uploads in flight as the default allows */

static unsigned long long seed;
static char *dir;

static void options(struct lsm_options *o, struct zs3_store *s, bool background)
{
	memset(o, 0, sizeof(*o));
	o->store = s;
	o->memtable_bytes = 2u << 20;
	o->flush_interval_ms = 10;
	o->block_size = 2048;
	o->sst_target_bytes = 256 * 1024;
	o->l0_compaction_trigger = 3;
	o->max_runs = 3;
	o->no_background = !background;
	o->wal_pipeline_bytes = 1; /* every object its own upload: the pipeline full */
	o->value_sep_bytes = 300; /* about half the values stay in their WAL objects */
}

/* Batch n of writer t in round r: keys r<r>-t<t>-b<n>-<j>, each value
 * naming (r, n, j). */
static void batch_key(int r, int t, long n, int j, char *k, size_t *kl)
{
	*kl = (size_t)snprintf(k, 64, "r%03d-t%d-b%07ld-%d", r, t, n, j);
}

static void batch_value(int r, long n, int j, char *v, size_t *vl, unsigned long long *rs)
{
	/* a varying length so that flushes and block boundaries move around */
	*rs = *rs * 6364136223846793005ULL + 1442695040888963407ULL;
	int pad = (int)((*rs >> 33) % 600);
	*vl = (size_t)snprintf(v, 800, "round %d batch %ld op %d %*s|", r, n, j, pad, "");
}

struct child_writer {
	struct lsm_db *db;
	int round, t, fd;
	pthread_mutex_t *pipe_lock;
};

static void *child_writer(void *arg)
{
	struct child_writer *w = arg;
	struct lsm_batch *b = lsm_batch_new();
	unsigned long long rs = seed ^ (unsigned long long)w->round ^ ((unsigned long long)w->t << 32);
	if (!b)
		_exit(3);
	for (long n = 0;; n++) {
		lsm_batch_clear(b);
		for (int j = 0; j < OPS_PER_BATCH; j++) {
			char k[64], v[800];
			size_t kl, vl;
			batch_key(w->round, w->t, n, j, k, &kl);
			batch_value(w->round, n, j, v, &vl, &rs);
			if (lsm_batch_put(b, k, kl, v, vl) != LSM_OK)
				_exit(3);
		}
		bool durable = n % 3 == 0;
		lsm_status st = lsm_write(w->db, b, durable ? LSM_WRITE_DURABLE : 0);
		if (st != LSM_OK) {
			fprintf(stderr, "child: write: %s\n", lsm_last_error());
			_exit(12);
		}
		if (durable) {
			char line[32];
			int len = snprintf(line, sizeof(line), "%d %ld\n", w->t, n);
			pthread_mutex_lock(w->pipe_lock); /* whole lines */
			if (write(w->fd, line, (size_t)len) != len)
				_exit(13);
			pthread_mutex_unlock(w->pipe_lock);
		}
	}
	return NULL;
}

static void child_main(int round, int fd)
{
	struct zs3_store *s;
	struct lsm_options o;
	struct lsm_db *db;
	pthread_t th[WRITERS];
	struct child_writer w[WRITERS];
	pthread_mutex_t pipe_lock = PTHREAD_MUTEX_INITIALIZER;
	if (zs3_open_local(dir, false, &s) != ZS3_OK)
		_exit(10);
	options(&o, s, true);
	if (lsm_open(&o, &db) != LSM_OK) {
		fprintf(stderr, "child: open: %s\n", lsm_last_error());
		_exit(11);
	}
	for (int t = 0; t < WRITERS; t++) {
		w[t] = (struct child_writer){ db, round, t, fd, &pipe_lock };
		if (pthread_create(&th[t], NULL, child_writer, &w[t]) != 0)
			_exit(14);
	}
	for (int t = 0; t < WRITERS; t++)
		pthread_join(th[t], NULL); /* never: the parent kills us */
	_exit(15);
}

/* Checks writer t's batches of round r in the reopened tree. Returns failures. */
static int check_round(struct lsm_db *db, int r, int t, long acked, long *present)
{
	struct lsm_buf v = { 0 };
	int bad = 0;
	*present = 0;
	for (long n = 0;; n++) {
		int have = 0;
		for (int j = 0; j < OPS_PER_BATCH; j++) {
			char k[64];
			size_t kl;
			batch_key(r, t, n, j, k, &kl);
			lsm_status st = lsm_get(db, k, kl, &v);
			if (st == LSM_OK) {
				char want[64];
				int wl = snprintf(want, sizeof(want), "round %d batch %ld op %d ", r, n, j);
				if (v.len < (size_t)wl || memcmp(v.data, want, (size_t)wl)) {
					fprintf(stderr, "  round %d: %s has a wrong value\n", r, k);
					bad++;
				}
				have++;
			} else if (st != LSM_ENOTFOUND) {
				fprintf(stderr, "  round %d: get %s: %s\n", r, k, lsm_last_error());
				bad++;
			}
		}
		if (have != 0 && have != OPS_PER_BATCH) {
			fprintf(stderr, "  round %d: batch %ld is half there (%d of %d)\n", r, n, have,
				OPS_PER_BATCH);
			bad++;
		}
		if (have == 0 && n <= acked) {
			fprintf(stderr, "  round %d: acknowledged batch %ld is lost\n", r, n);
			bad++;
		}
		if (have == 0 && n > acked)
			break; /* batches are applied in order: nothing later exists */
		*present = n + 1;
		if (bad > 5)
			break;
	}
	lsm_buf_free(&v);
	return bad;
}

/* A full scan: keys in order, every value well-formed. */
static int scan_all(struct lsm_db *db, long *keys)
{
	struct lsm_db_iter *it;
	int bad = 0;
	char prev[64] = "";
	*keys = 0;
	if (lsm_iterator(db, NULL, &it) != LSM_OK)
		return 1;
	for (lsm_db_iter_seek_first(it); lsm_db_iter_valid(it); lsm_db_iter_next(it)) {
		size_t kl, vl;
		const uint8_t *k = lsm_db_iter_key(it, &kl), *v = lsm_db_iter_value(it, &vl);
		char key[64];
		snprintf(key, sizeof(key), "%.*s", (int)kl, k);
		if (strcmp(prev, key) >= 0 || vl < 6 || memcmp(v, "round ", 6) || v[vl - 1] != '|')
			bad++;
		snprintf(prev, sizeof(prev), "%s", key);
		(*keys)++;
	}
	if (lsm_db_iter_status(it) != LSM_OK) {
		fprintf(stderr, "  scan: %s\n", lsm_last_error());
		bad++;
	}
	lsm_db_iter_free(it);
	return bad;
}

static void t_crash(void *ctx)
{
	(void)ctx;
	unsigned long long rs = seed;
	long total_acked = 0, total_present = 0;
	int bad = 0;
	for (int r = 0; r < KILLS && !bad; r++) {
		int status;
		rs = rs * 6364136223846793005ULL + 1442695040888963407ULL;
		int rfd = tl_fork_kill(child_main, r, (unsigned)(30000 + (rs >> 33) % 250000),
				       &status); /* 30-280 ms in */
		REQUIRE(rfd >= 0);
		CHECK_MSG(WIFSIGNALED(status), "round %d: child exited by itself (%d)", r,
			  WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		/* each writer's last complete line is its newest acknowledged batch */
		long acked[WRITERS];
		for (int t = 0; t < WRITERS; t++)
			acked[t] = -1;
		char buf[256], line[32];
		size_t ll = 0;
		ssize_t got;
		while ((got = read(rfd, buf, sizeof(buf))) > 0) {
			for (ssize_t i = 0; i < got; i++) {
				if (buf[i] == '\n') {
					char *end;
					line[ll] = '\0';
					long t = strtol(line, &end, 10);
					if (t >= 0 && t < WRITERS)
						acked[t] = strtol(end, NULL, 10);
					ll = 0;
				} else if (ll + 1 < sizeof(line)) {
					line[ll++] = buf[i];
				}
			}
		}
		close(rfd);

		struct zs3_store *s;
		struct lsm_options o;
		struct lsm_db *db;
		REQUIRE(zs3_open_local(dir, false, &s) == ZS3_OK);
		options(&o, s, false);
		lsm_status st = lsm_open(&o, &db);
		CHECK_MSG(st == LSM_OK, "round %d: reopen: %s", r, lsm_last_error());
		if (st != LSM_OK) {
			zs3_close(s);
			return;
		}
		for (int old = 0; old <= r && !bad; old++) {
			for (int t = 0; t < WRITERS && !bad; t++) {
				long present;
				bad += check_round(db, old, t, old == r ? acked[t] : -1, &present);
				if (old == r) {
					total_acked += acked[t] + 1;
					total_present += present;
				}
			}
		}
		if (r % 10 == 9) {
			long keys;
			CHECK(lsm_compact_all(db) == LSM_OK);
			bad += scan_all(db, &keys);
		}
		CHECK(lsm_close(db) == LSM_OK);
		zs3_close(s);
	}
	printf("  %d kills: %ld batches acknowledged durable, %ld present after the kills\n", KILLS,
	       total_acked, total_present);
	CHECK(bad == 0);
	CHECK(total_acked > KILLS); /* the children did real work */
}

/* Writes through a store that fails 20% of calls and loses 10% of replies. */
static void t_faults(void *ctx)
{
	(void)ctx;
	char *fdir = make_temp_dir("faults");
	struct zs3_store *raw, *fault, *s;
	struct zs3_fault_config fc = { .seed = seed, .error_rate = 0.2, .lost_reply_rate = 0.1 };
	struct zs3_retry_policy rp = { .max_attempts = 3, .base_delay_ms = 1, .max_delay_ms = 4,
				       .seed = seed };
	struct lsm_options o;
	struct lsm_db *db = NULL;
	enum { N = 400 };
	static bool acked[N];
	int ok = 0, failed = 0, opens = 0;
	REQUIRE(fdir && zs3_open_local(fdir, false, &raw) == ZS3_OK);
	REQUIRE(zs3_open_fault(raw, &fc, &fault) == ZS3_OK);
	REQUIRE(zs3_open_retry(fault, &rp, &s) == ZS3_OK);
	options(&o, s, true);
	o.memtable_bytes = 256 * 1024;
	o.gc_min_age_ms = 1;
	memset(acked, 0, sizeof(acked));
	for (int i = 0; i < N; i++) {
		while (!db && opens < 200) { /* opening can fail too: try again */
			opens++;
			if (lsm_open(&o, &db) != LSM_OK)
				db = NULL;
		}
		REQUIRE(db);
		struct lsm_batch *b = lsm_batch_new();
		char k[32], v[300];
		int kl = snprintf(k, sizeof(k), "key%05d", i);
		memset(v, 'a' + i % 26, sizeof(v));
		CHECK(lsm_batch_put(b, k, (size_t)kl, v, sizeof(v)) == LSM_OK);
		lsm_status st = lsm_write(db, b, LSM_WRITE_DURABLE);
		lsm_batch_free(b);
		if (st == LSM_OK) {
			acked[i] = true;
			ok++;
		} else {
			CHECK_MSG(st == LSM_ETRANSIENT || st == LSM_EIO, "write: %s",
				  lsm_strstatus(st));
			failed++;
		}
		if (i % 97 == 96) { /* a crash-free restart now and then */
			(void)lsm_close(db);
			db = NULL;
		}
	}
	if (db)
		(void)lsm_close(db);
	/* the store recovers: everything acknowledged is there */
	fc.error_rate = fc.lost_reply_rate = 0;
	zs3_fault_set(fault, &fc);
	options(&o, s, false);
	REQUIRE(lsm_open(&o, &db) == LSM_OK);
	int lost = 0;
	struct lsm_buf v = { 0 };
	for (int i = 0; i < N; i++) {
		char k[32];
		int kl = snprintf(k, sizeof(k), "key%05d", i);
		lsm_status st = lsm_get(db, k, (size_t)kl, &v);
		if (acked[i] && (st != LSM_OK || v.len != 300))
			lost++;
		CHECK(st == LSM_OK || st == LSM_ENOTFOUND);
	}
	CHECK(lsm_compact_all(db) == LSM_OK);
	uint64_t deleted;
	CHECK(lsm_gc(db, &deleted) == LSM_OK);
	struct zs3_stats zst;
	zs3_stats(s, &zst);
	printf("  %d writes acknowledged, %d failed, %d opens; %llu faults injected, %llu retries; "
	       "%d acknowledged writes lost\n", ok, failed, opens,
	       (unsigned long long)zst.faults_injected, (unsigned long long)zst.retries, lost);
	CHECK(lost == 0);
	CHECK(ok > N / 2);
	lsm_buf_free(&v);
	(void)lsm_close(db);
	zs3_close(s);
	rm_rf(fdir);
	free(fdir);
}

int main(int argc, char **argv)
{
	if (argc > 1)
		tl_set_filter(argv[1]);
	seed = tl_seed();
	dir = make_temp_dir("crash");
	if (!dir)
		return 1;
	tl_run("crash", t_crash, NULL);
	tl_run("faults", t_faults, NULL);
	rm_rf(dir);
	free(dir);
	return tl_finish();
}
