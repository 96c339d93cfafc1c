/*
 * tests/lsm/test_db.c - the database end to end on a real store (a local
 * directory; `test_db rgw` runs a shorter model test against the RGW):
 * a randomized model test, durability across reopen, fencing, checkpoints,
 * group commit, garbage collection and corruption.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "manifest.h" /* lsm_wal_key */
#include "wal.h"      /* LSM_WAL_MAX_SKIP */
#include "ikey.h" /* lsm_ukey_compare: the model orders keys as the engine does */
#include "lsm.h"
#include "store_env.h"
#include "testlib.h"

static unsigned long long seed;
static bool use_rgw;

#define LST(expr, want)                                                                  \
	do {                                                                             \
		lsm_status st_ = (expr);                                                 \
		CHECK_MSG(st_ == (want), "%s: got %s, want %s (%s)", #expr,              \
			  lsm_strstatus(st_), lsm_strstatus(want), lsm_last_error());    \
	} while (0)

/* A fresh store: a temp directory, or a fresh prefix on the RGW bucket. */
struct fixture {
	char *dir;
	struct zs3_store *store;
};

static bool fixture_open(struct fixture *f, const char *tag)
{
	memset(f, 0, sizeof(*f));
	if (use_rgw) {
		struct rgw_env e;
		struct zs3_s3_config cfg;
		char prefix[96];
		if (!rgw_env_load(&e))
			return false;
		rgw_env_config(&e, &cfg);
		snprintf(prefix, sizeof(prefix), "lsm-%s-%llx/", tag, seed & 0xffffffffffULL);
		cfg.prefix = prefix;
		return zs3_open_s3(&cfg, &f->store) == ZS3_OK;
	}
	f->dir = make_temp_dir(tag);
	return f->dir && zs3_open_local(f->dir, false, &f->store) == ZS3_OK;
}

static void fixture_close(struct fixture *f)
{
	zs3_close(f->store);
	rm_rf(f->dir);
	free(f->dir);
}

static void small_options(struct lsm_options *o, struct zs3_store *s)
{
	memset(o, 0, sizeof(*o));
	o->store = s;
	o->memtable_bytes = 64 * 1024; /* many flushes */
	o->block_size = 1024;
	o->sst_target_bytes = 64 * 1024; /* many SSTs per run */
	o->l0_compaction_trigger = 3;
	o->max_runs = 3;
	o->block_cache_bytes = 256 * 1024;
	o->no_background = true;
}

/* ---- the model: a sorted array of key -> value ---- */

#define NKEYS 600
struct model {
	char *val[NKEYS]; /* NULL = absent */
	size_t len[NKEYS];
};

static void key_of(int i, char *k, size_t *kl)
{
	*kl = (size_t)snprintf(k, 32, "key%05d", i * 7 % NKEYS);
}

static void model_free(struct model *m)
{
	for (int i = 0; i < NKEYS; i++)
		free(m->val[i]);
	memset(m, 0, sizeof(*m));
}

static int key_index(const uint8_t *k, size_t kl)
{
	char buf[32];
	for (int i = 0; i < NKEYS; i++) {
		size_t n;
		key_of(i, buf, &n);
		if (n == kl && !memcmp(buf, k, n))
			return i;
	}
	return -1;
}

/* Compares every key with a get, and one full scan with the model. */
static int check_against(struct lsm_db *db, const struct model *m, const char *when)
{
	struct lsm_buf v = { 0 };
	int bad = 0;
	for (int i = 0; i < NKEYS && bad < 5; i++) {
		char k[32];
		size_t kl;
		key_of(i, k, &kl);
		lsm_status st = lsm_get(db, k, kl, &v);
		if (m->val[i] ? (st != LSM_OK || v.len != m->len[i] ||
				 (v.len && memcmp(v.data, m->val[i], v.len)))
			      : st != LSM_ENOTFOUND) {
			fprintf(stderr, "  %s: get %s: %s (%s), model has %s\n", when, k,
				lsm_strstatus(st), lsm_last_error(), m->val[i] ? "a value" : "nothing");
			bad++;
		}
	}
	struct lsm_db_iter *it;
	size_t seen = 0, want = 0;
	for (int i = 0; i < NKEYS; i++)
		want += m->val[i] != NULL;
	if (lsm_iterator(db, NULL, &it) != LSM_OK)
		return bad + 1;
	const uint8_t *prev = NULL;
	size_t prev_len = 0;
	char prevbuf[32];
	for (lsm_db_iter_seek_first(it); lsm_db_iter_valid(it); lsm_db_iter_next(it)) {
		size_t kl, vl;
		const uint8_t *k = lsm_db_iter_key(it, &kl), *val = lsm_db_iter_value(it, &vl);
		int i = key_index(k, kl);
		if (i < 0 || !m->val[i] || vl != m->len[i] || (vl && memcmp(val, m->val[i], vl))) {
			if (bad++ < 5)
				fprintf(stderr, "  %s: scan yields %.*s wrongly\n", when, (int)kl, k);
		}
		if (prev && lsm_ukey_compare(prev, prev_len, k, kl) >= 0)
			bad++;
		memcpy(prevbuf, k, kl < 32 ? kl : 31);
		prev = (const uint8_t *)prevbuf;
		prev_len = kl < 32 ? kl : 31;
		seen++;
	}
	if (lsm_db_iter_status(it) != LSM_OK || seen != want) {
		fprintf(stderr, "  %s: scan saw %zu keys, model has %zu (%s)\n", when, seen, want,
			lsm_strstatus(lsm_db_iter_status(it)));
		bad++;
	}
	lsm_db_iter_free(it);
	lsm_buf_free(&v);
	return bad;
}

static unsigned long long rnd(unsigned long long *s)
{
	*s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
	return *s >> 33;
}

/* A scan with random bounds, or a prefix, against the model. */
static int check_range(struct lsm_db *db, const struct model *m, unsigned long long *r)
{
	char lo[32], hi[32], pre[32];
	struct lsm_read_options ro = { 0 };
	struct lsm_db_iter *it;
	int bad = 0;
	if (rnd(r) % 2) {
		snprintf(lo, sizeof(lo), "key%05d", (int)(rnd(r) % NKEYS));
		snprintf(hi, sizeof(hi), "key%05d", (int)(rnd(r) % NKEYS));
		if (strcmp(lo, hi) > 0) {
			char t[32];
			memcpy(t, lo, 32);
			memcpy(lo, hi, 32);
			memcpy(hi, t, 32);
		}
		ro.lower = (const uint8_t *)lo;
		ro.lower_len = strlen(lo);
		ro.upper = (const uint8_t *)hi;
		ro.upper_len = strlen(hi);
	} else {
		snprintf(pre, sizeof(pre), "key%03d", (int)(rnd(r) % (NKEYS / 100 + 1)));
		ro.prefix = (const uint8_t *)pre;
		ro.prefix_len = strlen(pre);
	}
	size_t want = 0, seen = 0;
	for (int i = 0; i < NKEYS; i++) {
		char k[32];
		size_t kl;
		key_of(i, k, &kl);
		bool in = ro.prefix ? strncmp(k, pre, ro.prefix_len) == 0
				    : strcmp(k, lo) >= 0 && strcmp(k, hi) < 0;
		want += in && m->val[i];
	}
	if (lsm_iterator(db, &ro, &it) != LSM_OK)
		return 1;
	for (lsm_db_iter_seek_first(it); lsm_db_iter_valid(it); lsm_db_iter_next(it)) {
		size_t kl, vl;
		const uint8_t *k = lsm_db_iter_key(it, &kl), *v = lsm_db_iter_value(it, &vl);
		int i = key_index(k, kl);
		char key[32];
		snprintf(key, sizeof(key), "%.*s", (int)kl, k);
		bool in = ro.prefix ? strncmp(key, pre, ro.prefix_len) == 0
				    : strcmp(key, lo) >= 0 && strcmp(key, hi) < 0;
		if (i < 0 || !in || !m->val[i] || vl != m->len[i] || (vl && memcmp(v, m->val[i], vl)))
			bad++;
		seen++;
	}
	if (lsm_db_iter_status(it) != LSM_OK || seen != want) {
		fprintf(stderr, "  range scan (%s): saw %zu keys, model has %zu\n",
			ro.prefix ? "prefix" : "bounds", seen, want);
		bad++;
	}
	lsm_db_iter_free(it);
	return bad;
}

static void t_model(void *ctx)
{
	(void)ctx;
	struct fixture f;
	struct lsm_options o;
	struct lsm_db *db;
	struct model m = { 0 };
	unsigned long long r = seed;
	int steps = use_rgw ? 400 : 3000, bad = 0, reopens = 0, compactions = 0;
	REQUIRE(fixture_open(&f, "model"));
	small_options(&o, f.store);
	REQUIRE(lsm_open(&o, &db) == LSM_OK);
	struct lsm_batch *b = lsm_batch_new();
	for (int step = 0; step < steps && bad == 0; step++) {
		unsigned op = (unsigned)(rnd(&r) % 100);
		if (op < 80) { /* a batch of 1..8 ops, sometimes durable */
			int n = 1 + (int)(rnd(&r) % 8);
			lsm_batch_clear(b);
			struct { int i; char *v; size_t l; } ops[8];
			for (int j = 0; j < n; j++) {
				int i = (int)(rnd(&r) % NKEYS);
				char k[32];
				size_t kl;
				key_of(i, k, &kl);
				ops[j].i = i;
				if (rnd(&r) % 4 == 0) {
					ops[j].v = NULL;
					CHECK(lsm_batch_delete(b, k, kl) == LSM_OK);
				} else {
					size_t l = rnd(&r) % 3 == 0 ? 1 + rnd(&r) % 3000 : rnd(&r) % 40;
					ops[j].v = malloc(l + 1);
					ops[j].l = l;
					for (size_t x = 0; x < l; x++)
						ops[j].v[x] = (char)('a' + (step + x + (size_t)i) % 26);
					CHECK(lsm_batch_put(b, k, kl, ops[j].v, l) == LSM_OK);
				}
			}
			lsm_status st = lsm_write(db, b, rnd(&r) % 10 == 0 ? LSM_WRITE_DURABLE : 0);
			CHECK_MSG(st == LSM_OK, "write: %s", lsm_last_error());
			for (int j = 0; j < n; j++) { /* later ops of a batch win */
				free(m.val[ops[j].i]);
				m.val[ops[j].i] = ops[j].v;
				m.len[ops[j].i] = ops[j].v ? ops[j].l : 0;
			}
		} else if (op < 90) {
			LST(lsm_maintain(db), LSM_OK);
		} else if (op < 93) {
			LST(lsm_compact_all(db), LSM_OK);
			compactions++;
		} else if (op < 96) {
			LST(lsm_close(db), LSM_OK);
			LST(lsm_open(&o, &db), LSM_OK);
			if (!db)
				break;
			reopens++;
		} else if (op < 98) {
			bad += check_range(db, &m, &r);
		} else {
			char when[64];
			snprintf(when, sizeof(when), "step %d", step);
			bad += check_against(db, &m, when);
		}
	}
	bad += check_against(db, &m, "end");
	LST(lsm_close(db), LSM_OK);
	LST(lsm_open(&o, &db), LSM_OK);
	bad += check_against(db, &m, "after the final reopen");
	struct lsm_stats s;
	lsm_stats(db, &s);
	printf("  %d steps, %d reopens, %d full compactions; since the last open: %llu flushes, "
	       "%llu compactions; %llu SSTs in %llu runs + %llu L0\n", steps, reopens, compactions,
	       (unsigned long long)s.memtable_flushes, (unsigned long long)s.compactions,
	       (unsigned long long)s.sst_count, (unsigned long long)s.run_count,
	       (unsigned long long)s.l0_count);
	CHECK(bad == 0);
	(void)lsm_close(db);
	lsm_batch_free(b);
	model_free(&m);
	fixture_close(&f);
}

static lsm_status put1(struct lsm_db *db, const char *k, const char *v, unsigned flags)
{
	struct lsm_batch *b = lsm_batch_new();
	lsm_status st = lsm_batch_put(b, k, strlen(k), v, strlen(v));
	if (st == LSM_OK)
		st = lsm_write(db, b, flags);
	lsm_batch_free(b);
	return st;
}

static bool has(struct lsm_db *db, const char *k, const char *v)
{
	struct lsm_buf out = { 0 };
	lsm_status st = lsm_get(db, k, strlen(k), &out);
	bool ok = v ? st == LSM_OK && out.len == strlen(v) && !memcmp(out.data, v, out.len)
		    : st == LSM_ENOTFOUND;
	lsm_buf_free(&out);
	return ok;
}

/* A second writer fences the first: the first's writes fail from then on and
 * none of them becomes visible. */
static void t_fencing(void *ctx)
{
	(void)ctx;
	struct fixture f;
	struct lsm_options o;
	struct lsm_db *a, *b;
	REQUIRE(fixture_open(&f, "fence"));
	small_options(&o, f.store);
	REQUIRE(lsm_open(&o, &a) == LSM_OK);
	LST(put1(a, "k1", "from-a", LSM_WRITE_DURABLE), LSM_OK);
	LST(put1(a, "k2", "a-not-durable", 0), LSM_OK);
	REQUIRE(lsm_open(&o, &b) == LSM_OK);
	CHECK(has(b, "k1", "from-a"));
	/* A's durable write now fails: its WAL id is taken */
	LST(put1(a, "k3", "a-after-fence", LSM_WRITE_DURABLE), LSM_EFENCED);
	LST(put1(a, "k4", "a-later", 0), LSM_EFENCED);
	LST(lsm_compact_all(a), LSM_EFENCED);
	LST(put1(b, "k5", "from-b", LSM_WRITE_DURABLE), LSM_OK);
	(void)lsm_close(a);
	(void)lsm_close(b);
	REQUIRE(lsm_open(&o, &b) == LSM_OK);
	CHECK(has(b, "k1", "from-a"));
	CHECK(has(b, "k3", NULL));
	CHECK(has(b, "k4", NULL));
	CHECK(has(b, "k5", "from-b"));
	struct lsm_stats s;
	lsm_stats(b, &s);
	CHECK(s.writer_epoch == 3);
	(void)lsm_close(b);
	fixture_close(&f);
}

static bool wal_exists(struct zs3_store *s, uint64_t id)
{
	char key[64];
	struct zs3_buf b = { 0 };
	lsm_wal_key(id, key);
	zs3_status st = zs3_get(s, key, zs3_range_all(), &b, NULL);
	zs3_buf_free(&b);
	return st == ZS3_OK;
}

/* A writer with several WAL uploads in flight is fenced by a second one: its
 * uploads past the fence land in the ids the fence skips, never collide with
 * the new writer's, and are never replayed (none was acknowledged). */
static void t_pipeline_fence(void *ctx)
{
	(void)ctx;
	struct fixture f;
	struct lsm_options oa, ob;
	struct lsm_db *a, *b;
	struct zs3_fault_config slow = { .seed = seed, .delay_rate = 1.0, .delay_ms = 1500,
					 .op_mask = 1u << ZS3_OP_PUT };
	struct zs3_store *inner, *fault;

	REQUIRE(fixture_open(&f, "pfence"));
	inner = f.store;
	memset(&oa, 0, sizeof(oa));
	oa.store = inner;
	REQUIRE(lsm_open(&oa, &a) == LSM_OK); /* the tree, then A on a slow store */
	LST(lsm_close(a), LSM_OK);
	REQUIRE(zs3_open_fault(inner, &slow, &fault) == ZS3_OK);
	f.store = fault; /* closing it closes inner */
	oa.store = fault;
	oa.flush_interval_ms = 1; /* every write gets an object of its own */
	oa.wal_max_inflight = 4;
	oa.wal_pipeline_bytes = 1; /* ...and an upload of its own at once */
	slow.delay_rate = 0; /* A's open: quick */
	zs3_fault_set(fault, &slow);
	REQUIRE(lsm_open(&oa, &a) == LSM_OK);
	slow.delay_rate = 1.0;
	zs3_fault_set(fault, &slow);
	for (int i = 0; i < 4; i++) {
		char k[16];
		snprintf(k, sizeof(k), "a%d", i);
		LST(put1(a, k, "from-a", 0), LSM_OK);
		usleep(40 * 1000); /* sealed and uploading before the next */
	}
	/* B takes the tree while A's four uploads are in flight */
	memset(&ob, 0, sizeof(ob));
	ob.store = inner;
	REQUIRE(lsm_open(&ob, &b) == LSM_OK);
	struct lsm_description d;
	REQUIRE(lsm_describe(b, &d) == LSM_OK);
	uint64_t fence = d.wal_next - 1 - LSM_WAL_MAX_SKIP; /* B's fence object */
	lsm_description_free(&d);
	usleep(2500 * 1000); /* A's uploads land, or fail on B's fence */
	int landed = 0;
	for (uint64_t id = fence + 1; id <= fence + LSM_WAL_MAX_SKIP; id++)
		landed += wal_exists(inner, id);
	printf("  A's uploads that landed past B's fence (WAL %llu): %d\n",
	       (unsigned long long)fence, landed);
	CHECK(landed >= 1); /* the case under test happened */
	LST(put1(b, "b", "from-b", LSM_WRITE_DURABLE), LSM_OK); /* no collision */
	LST(put1(a, "a9", "from-a", LSM_WRITE_DURABLE), LSM_EFENCED);
	(void)lsm_close(a);
	LST(lsm_close(b), LSM_OK);
	REQUIRE(lsm_open(&ob, &b) == LSM_OK);
	CHECK(has(b, "b", "from-b"));
	for (int i = 0; i < 4; i++) {
		char k[16];
		snprintf(k, sizeof(k), "a%d", i);
		CHECK_MSG(has(b, k, NULL), "%s, never acknowledged, was replayed", k);
	}
	struct lsm_verify_summary vs;
	LST(lsm_verify(b, NULL, NULL, &vs), LSM_OK);
	CHECK(vs.damaged == 0);
	(void)lsm_close(b);
	fixture_close(&f);
}

/* Uploads fail at random while four writers commit: a commit that returns OK
 * has every batch committed before it in the store, whatever order the
 * pipeline's uploads landed in (checked by read-only opens of the store as
 * the writers go), and after the store recovers nothing is missing. */
struct pipe_writers {
	struct lsm_db *db;
	pthread_mutex_t order; /* commit order = batch number order */
	long next;
	atomic_long acked; /* the highest batch a successful commit covered */
	atomic_int ok, failed;
	atomic_bool stop;
};

static void *pipe_writer(void *arg)
{
	struct pipe_writers *w = arg;
	while (!atomic_load(&w->stop)) {
		char k[32];
		pthread_mutex_lock(&w->order);
		long n = w->next;
		snprintf(k, sizeof(k), "p%07ld", n);
		lsm_status st = put1(w->db, k, "v", 0);
		if (st == LSM_OK)
			w->next++;
		pthread_mutex_unlock(&w->order);
		if (st != LSM_OK) {
			atomic_fetch_add(&w->failed, 1);
			usleep(1000);
			continue;
		}
		if (lsm_flush(w->db) != LSM_OK) {
			atomic_fetch_add(&w->failed, 1);
			continue;
		}
		atomic_fetch_add(&w->ok, 1);
		long cur = atomic_load(&w->acked);
		while (cur < n && !atomic_compare_exchange_weak(&w->acked, &cur, n))
			;
	}
	return NULL;
}

static long first_missing(struct lsm_db *db, long upto)
{
	for (long n = 0; n <= upto; n++) {
		char k[32];
		snprintf(k, sizeof(k), "p%07ld", n);
		if (!has(db, k, "v"))
			return n;
	}
	return -1;
}

static void t_pipeline_errors(void *ctx)
{
	(void)ctx;
	struct fixture f;
	struct lsm_options o, ro;
	struct zs3_fault_config flaky = { .seed = seed, .error_rate = 0.3,
					  .op_mask = 1u << ZS3_OP_PUT };
	struct zs3_store *inner, *fault;
	struct pipe_writers w = { 0 };
	pthread_t th[4];
	int checks = 0, bad = 0;

	REQUIRE(fixture_open(&f, "perr"));
	inner = f.store;
	memset(&o, 0, sizeof(o));
	o.store = inner;
	o.wal_max_inflight = 4;
	o.wal_pipeline_bytes = 1; /* every object its own upload at once: a full pipeline */
	o.flush_interval_ms = 5;
	REQUIRE(lsm_open(&o, &w.db) == LSM_OK);
	LST(lsm_close(w.db), LSM_OK); /* the tree exists: read-only opens find it */
	REQUIRE(zs3_open_fault(inner, &flaky, &fault) == ZS3_OK);
	f.store = fault;
	o.store = fault;
	flaky.error_rate = 0;
	zs3_fault_set(fault, &flaky);
	REQUIRE(lsm_open(&o, &w.db) == LSM_OK);
	flaky.error_rate = 0.3;
	zs3_fault_set(fault, &flaky);
	pthread_mutex_init(&w.order, NULL);
	atomic_init(&w.acked, -1);
	for (int i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, pipe_writer, &w);
	memset(&ro, 0, sizeof(ro));
	ro.store = inner;
	ro.read_only = true;
	/* at least 15 rounds of 100 ms, and on until 3 checks were made and
	 * commits both succeeded and failed: a loaded machine (TSan, a busy
	 * RGW) may ack its first commit late, and the test waits for it */
	for (int round = 0;
	     round < 15 || ((checks < 3 || !atomic_load(&w.ok) || !atomic_load(&w.failed)) &&
			    round < 1200);
	     round++) {
		usleep(100 * 1000);
		long acked = atomic_load(&w.acked);
		struct lsm_db *r;
		if (acked < 0 || lsm_open(&ro, &r) != LSM_OK)
			continue;
		long miss = first_missing(r, acked);
		if (miss >= 0 && bad++ < 3)
			CHECK_MSG(0, "batch %ld is not in the store, but a commit covering up to %ld "
				  "returned OK", miss, acked);
		checks++;
		(void)lsm_close(r);
	}
	atomic_store(&w.stop, true);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	printf("  %d commits OK, %d failed, %d checks against the store\n", atomic_load(&w.ok),
	       atomic_load(&w.failed), checks);
	CHECK(atomic_load(&w.ok) > 0 && atomic_load(&w.failed) > 0 && checks > 0);
	flaky.error_rate = 0; /* the store recovers: everything committed becomes durable */
	zs3_fault_set(fault, &flaky);
	lsm_status st = LSM_ETRANSIENT;
	for (int i = 0; i < 100 && st != LSM_OK; i++)
		st = lsm_flush(w.db);
	LST(st, LSM_OK);
	LST(lsm_close(w.db), LSM_OK);
	REQUIRE(lsm_open(&o, &w.db) == LSM_OK);
	CHECK_MSG(first_missing(w.db, w.next - 1) < 0, "batch %ld lost",
		  first_missing(w.db, w.next - 1));
	(void)lsm_close(w.db);
	pthread_mutex_destroy(&w.order);
	fixture_close(&f);
}

/* A waiter for its own batch waits for that one (and those before it), not
 * for what others wrote after it: no upload when it is durable already. */
static void t_wait_own_token(void *ctx)
{
	(void)ctx;
	struct fixture f;
	struct lsm_options o;
	struct lsm_db *db;
	struct lsm_batch *b = lsm_batch_new();
	struct lsm_stats s0, s1;
	uint64_t ta = 0, tb = 0, te = 0;

	REQUIRE(b && fixture_open(&f, "token"));
	memset(&o, 0, sizeof(o));
	o.store = f.store;
	o.flush_interval_ms = 3600 * 1000; /* nothing uploads unless asked */
	REQUIRE(lsm_open(&o, &db) == LSM_OK);
	LST(lsm_batch_put(b, "a", 1, "1", 1), LSM_OK);
	LST(lsm_write_token(db, b, 0, &ta), LSM_OK);
	LST(lsm_wait_durable(db, ta), LSM_OK);
	lsm_batch_clear(b);
	LST(lsm_batch_put(b, "b", 1, "2", 1), LSM_OK);
	LST(lsm_write_token(db, b, 0, &tb), LSM_OK);
	CHECK(tb > ta);
	lsm_stats(db, &s0);
	CHECK(s0.wal_unflushed_bytes > 0); /* b waits for someone to ask */
	LST(lsm_wait_durable(db, ta), LSM_OK); /* a's: already durable */
	lsm_stats(db, &s1);
	CHECK(s1.wal_uploads == s0.wal_uploads && s1.wal_unflushed_bytes == s0.wal_unflushed_bytes);
	/* an empty batch's token is everything so far */
	lsm_batch_clear(b);
	LST(lsm_write_token(db, b, 0, &te), LSM_OK);
	CHECK(te >= tb);
	LST(lsm_wait_durable(db, te), LSM_OK);
	lsm_stats(db, &s1);
	CHECK(s1.wal_unflushed_bytes == 0 && s1.wal_uploads > s0.wal_uploads);
	lsm_batch_free(b);
	(void)lsm_close(db);
	REQUIRE(lsm_open(&o, &db) == LSM_OK);
	CHECK(has(db, "a", "1") && has(db, "b", "2"));
	(void)lsm_close(db);
	fixture_close(&f);
}

/* Small commits arriving while an upload is in flight wait for it and share
 * the next one (group commit), rather than each starting an upload of its
 * own: with the usual PUT time known, a second upload starts only for a
 * big object or a stuck first one. */
struct small_commit {
	struct lsm_db *db;
	int i;
	lsm_status st;
};

static void *small_commit(void *arg)
{
	struct small_commit *c = arg;
	char k[16];
	snprintf(k, sizeof(k), "small%02d", c->i);
	c->st = put1(c->db, k, "v", LSM_WRITE_DURABLE);
	return NULL;
}

static void t_pipeline_groups_small(void *ctx)
{
	(void)ctx;
	struct fixture f;
	struct lsm_options o;
	struct lsm_db *db;
	struct zs3_fault_config slow = { .seed = seed, .delay_rate = 1.0, .delay_ms = 300,
					 .op_mask = 1u << ZS3_OP_PUT };
	struct zs3_store *fault;
	struct lsm_stats s0, s1;
	pthread_t th[10];
	struct small_commit c[10];

	REQUIRE(fixture_open(&f, "pgroup"));
	REQUIRE(zs3_open_fault(f.store, &slow, &fault) == ZS3_OK);
	f.store = fault;
	memset(&o, 0, sizeof(o));
	o.store = fault;
	o.wal_max_inflight = 4;
	o.flush_interval_ms = 3600 * 1000;
	REQUIRE(lsm_open(&o, &db) == LSM_OK);
	LST(put1(db, "warm", "v", LSM_WRITE_DURABLE), LSM_OK); /* the usual PUT time: ~300 ms */
	lsm_stats(db, &s0);
	for (int i = 0; i < 10; i++) {
		c[i] = (struct small_commit){ db, i, LSM_OK };
		pthread_create(&th[i], NULL, small_commit, &c[i]);
		usleep(10 * 1000); /* all ten within ~100 ms: the first upload's time */
	}
	for (int i = 0; i < 10; i++) {
		pthread_join(th[i], NULL);
		CHECK(c[i].st == LSM_OK);
	}
	lsm_stats(db, &s1);
	printf("  10 small commits in %llu uploads\n",
	       (unsigned long long)(s1.wal_uploads - s0.wal_uploads));
	CHECK(s1.wal_uploads - s0.wal_uploads <= 3); /* one, then one for the rest */
	(void)lsm_close(db);
	fixture_close(&f);
}

static void t_checkpoint(void *ctx)
{
	(void)ctx;
	struct fixture f;
	struct lsm_options o, ro;
	struct lsm_db *db, *cp;
	REQUIRE(fixture_open(&f, "ckpt"));
	small_options(&o, f.store);
	REQUIRE(lsm_open(&o, &db) == LSM_OK);
	LST(put1(db, "a", "1", 0), LSM_OK);
	LST(put1(db, "b", "2", 0), LSM_OK);
	LST(lsm_checkpoint_create(db, "snap1"), LSM_OK);
	LST(lsm_checkpoint_create(db, "snap1"), LSM_EINVAL);
	LST(put1(db, "a", "changed", 0), LSM_OK);
	LST(put1(db, "c", "3", LSM_WRITE_DURABLE), LSM_OK);
	LST(lsm_compact_all(db), LSM_OK);
	ro = o;
	ro.read_only = true;
	ro.checkpoint = "snap1";
	REQUIRE(lsm_open(&ro, &cp) == LSM_OK);
	CHECK(has(cp, "a", "1") && has(cp, "b", "2") && has(cp, "c", NULL));
	LST(put1(cp, "x", "y", 0), LSM_EREADONLY);
	(void)lsm_close(cp);
	ro.checkpoint = "nope";
	LST(lsm_open(&ro, &cp), LSM_ENOTFOUND);
	/* the live tree moved on */
	CHECK(has(db, "a", "changed") && has(db, "c", "3"));
	/* a read-only open without checkpoint sees the latest durable state */
	ro.checkpoint = NULL;
	REQUIRE(lsm_open(&ro, &cp) == LSM_OK);
	CHECK(has(cp, "a", "changed") && has(cp, "c", "3"));
	(void)lsm_close(cp);
	LST(lsm_checkpoint_delete(db, "snap1"), LSM_OK);
	LST(lsm_checkpoint_delete(db, "snap1"), LSM_ENOTFOUND);
	(void)lsm_close(db);
	fixture_close(&f);
}

/* A reader beside a running writer (background threads on): it sees what
 * the writer made durable (in SSTs and in WAL objects not yet flushed),
 * writes nothing to the store, cannot write, and does not fence the writer.
 * lsm_describe and lsm_activity report the tree. */
static void t_read_only_beside_writer(void *ctx)
{
	(void)ctx;
	struct fixture f;
	struct lsm_options o, ro;
	struct lsm_db *w, *r;
	struct lsm_description d;
	struct lsm_activity act;
	struct lsm_object_census c;
	struct zs3_stats after;
	uint64_t deleted;
	REQUIRE(fixture_open(&f, "ronly"));
	small_options(&o, f.store);
	o.no_background = false;
	REQUIRE(lsm_open(&o, &w) == LSM_OK);
	for (int i = 0; i < 400; i++) { /* some in SSTs, the last ones only in the WAL */
		char k[32], v[64];
		snprintf(k, sizeof(k), "k%04d", i);
		snprintf(v, sizeof(v), "value %d ........................................", i);
		CHECK(put1(w, k, v, i % 50 == 0 ? LSM_WRITE_DURABLE : 0) == LSM_OK);
	}
	LST(lsm_compact_all(w), LSM_OK);
	LST(put1(w, "tail", "only in the WAL", LSM_WRITE_DURABLE), LSM_OK);
	LST(put1(w, "k0001", "overwritten in the WAL", LSM_WRITE_DURABLE), LSM_OK);
	struct lsm_stats ws;
	lsm_stats(w, &ws);

	/* the reader gets a store handle of its own (local stores), so that
	 * every request it makes is counted apart from the writer's */
	struct zs3_store *rstore = NULL;
	if (f.dir)
		REQUIRE(zs3_open_local(f.dir, false, &rstore) == ZS3_OK);
	ro = o;
	ro.read_only = true;
	ro.store = rstore ? rstore : f.store;
	REQUIRE(lsm_open(&ro, &r) == LSM_OK);
	CHECK(has(r, "k0399", "value 399 ........................................"));
	CHECK(has(r, "tail", "only in the WAL") && has(r, "k0001", "overwritten in the WAL"));
	LST(put1(r, "x", "y", 0), LSM_EREADONLY);
	LST(lsm_flush(r), LSM_EREADONLY);
	LST(lsm_compact_all(r), LSM_EREADONLY);
	LST(lsm_gc(r, &deleted), LSM_EREADONLY);
	LST(lsm_checkpoint_create(r, "no"), LSM_EREADONLY);
	LST(lsm_maintain(r), LSM_OK);
	REQUIRE(lsm_describe(r, &d) == LSM_OK);
	CHECK(d.read_only && d.manifest_id >= ws.manifest_id && d.writer_epoch == ws.writer_epoch);
	CHECK(d.wal_replayed_objects >= 1 && d.wal_replayed_bytes > 64);
	CHECK(d.wal_next > d.wal_flushed && d.level_count >= 2 && d.levels[1].ssts > 0);
	uint64_t ssts = 0;
	for (size_t i = 0; i < d.level_count; i++)
		ssts += d.levels[i].ssts;
	CHECK(ssts > 0); /* background flushes may have changed the count since */
	printf("  reader: manifest %llu, epoch %llu, %llu SSTs, %llu WAL objects (%llu bytes) replayed\n",
	       (unsigned long long)d.manifest_id, (unsigned long long)d.writer_epoch,
	       (unsigned long long)ssts, (unsigned long long)d.wal_replayed_objects,
	       (unsigned long long)d.wal_replayed_bytes);
	lsm_description_free(&d);
	(void)lsm_close(r);
	if (rstore) {
		zs3_stats(rstore, &after);
		CHECK(after.requests[ZS3_OP_PUT] == 0 && after.requests[ZS3_OP_DELETE] == 0);
		CHECK(after.requests[ZS3_OP_GET] > 0);
		zs3_close(rstore);
	}
	struct lsm_stats ws2;
	lsm_stats(w, &ws2);
	CHECK(ws2.writer_epoch == ws.writer_epoch);

	/* the writer was not fenced: it goes on, and a new reader sees that */
	LST(put1(w, "after", "reader", LSM_WRITE_DURABLE), LSM_OK);
	REQUIRE(lsm_activity(f.store, &act) == LSM_OK);
	CHECK(act.writer_epoch == ws.writer_epoch && act.manifest_id >= ws.manifest_id);
	CHECK(act.newest_wal_id > 0 && act.newest_wal_mtime_ms > 0 && act.manifest_mtime_ms > 0);
	REQUIRE(lsm_census(f.store, NULL, NULL, &c) == LSM_OK);
	CHECK(c.manifests >= 1 && c.wals >= 1 && c.ssts >= 1 && c.others == 0);
	ro.store = f.store;
	REQUIRE(lsm_open(&ro, &r) == LSM_OK);
	CHECK(has(r, "after", "reader"));
	(void)lsm_close(r);
	LST(put1(w, "still", "writing", LSM_WRITE_DURABLE), LSM_OK);
	LST(lsm_close(w), LSM_OK);
	/* an empty store holds no tree */
	struct fixture e;
	REQUIRE(fixture_open(&e, "ronly-empty"));
	ro.store = e.store;
	LST(lsm_open(&ro, &r), LSM_ENOTFOUND);
	LST(lsm_activity(e.store, &act), LSM_ENOTFOUND);
	fixture_close(&e);
	fixture_close(&f);
}

struct gc_writer {
	struct lsm_db *db;
	int id;
	atomic_int *errors;
};

static void *durable_writer(void *arg)
{
	struct gc_writer *w = arg;
	for (int i = 0; i < 25; i++) {
		char k[32], v[32];
		snprintf(k, sizeof(k), "w%02d-%03d", w->id, i);
		snprintf(v, sizeof(v), "v%d", i);
		if (put1(w->db, k, v, LSM_WRITE_DURABLE) != LSM_OK)
			atomic_fetch_add(w->errors, 1);
	}
	return NULL;
}

/* 16 threads of durable writers share WAL uploads (background threads on). */
static void t_group_commit(void *ctx)
{
	(void)ctx;
	struct fixture f;
	struct lsm_options o;
	struct lsm_db *db;
	pthread_t th[16];
	struct gc_writer w[16];
	atomic_int errors = 0;
	REQUIRE(fixture_open(&f, "group"));
	memset(&o, 0, sizeof(o));
	o.store = f.store;
	REQUIRE(lsm_open(&o, &db) == LSM_OK);
	for (int i = 0; i < 16; i++) {
		w[i] = (struct gc_writer){ db, i, &errors };
		pthread_create(&th[i], NULL, durable_writer, &w[i]);
	}
	for (int i = 0; i < 16; i++)
		pthread_join(th[i], NULL);
	struct lsm_stats s;
	lsm_stats(db, &s);
	printf("  %llu durable writes in %llu WAL uploads (%.1f per upload)\n",
	       (unsigned long long)s.writes, (unsigned long long)s.wal_uploads,
	       (double)s.wal_batches / (double)(s.wal_uploads ? s.wal_uploads : 1));
	CHECK(errors == 0);
	CHECK(s.writes == 400);
	CHECK(s.wal_uploads < s.writes); /* shared, not one upload per write */
	(void)lsm_close(db);
	REQUIRE(lsm_open(&o, &db) == LSM_OK);
	CHECK(has(db, "w07-024", "v24") && has(db, "w15-000", "v0"));
	(void)lsm_close(db);
	fixture_close(&f);
}

static void t_gc(void *ctx)
{
	(void)ctx;
	struct fixture f;
	struct lsm_options o;
	struct lsm_db *db;
	uint64_t deleted;
	struct zs3_list l;
	REQUIRE(fixture_open(&f, "gc"));
	small_options(&o, f.store);
	o.memtable_bytes = 4u << 20; /* no freeze per write: nothing runs maintenance here */
	o.gc_min_age_ms = 1;
	REQUIRE(lsm_open(&o, &db) == LSM_OK);
	for (int round = 0; round < 5; round++) {
		for (int i = 0; i < 300; i++) {
			char k[32], v[64];
			snprintf(k, sizeof(k), "k%04d", i);
			snprintf(v, sizeof(v), "round %d value %d ..............................", round, i);
			CHECK(put1(db, k, v, 0) == LSM_OK);
		}
		LST(lsm_compact_all(db), LSM_OK);
	}
	LST(lsm_checkpoint_create(db, "keep"), LSM_OK);
	usleep(20 * 1000);
	LST(lsm_gc(db, &deleted), LSM_OK);
	CHECK(deleted > 0);
	struct lsm_stats s;
	lsm_stats(db, &s);
	REQUIRE(zs3_list(f.store, "sst/", NULL, 1000, &l) == ZS3_OK);
	printf("  gc deleted %llu objects; %zu SST objects left for %llu live SSTs\n",
	       (unsigned long long)deleted, l.count, (unsigned long long)s.sst_count);
	CHECK(l.count == s.sst_count); /* the checkpoint pins the same SSTs */
	zs3_list_free(&l);
	(void)lsm_close(db);
	REQUIRE(lsm_open(&o, &db) == LSM_OK);
	CHECK(has(db, "k0299", "round 4 value 299 .............................."));
	(void)lsm_close(db);
	fixture_close(&f);
}


/* Value separation: large values stay in the WAL objects that carried them
 * (SSTs hold pointers), read back after flushes, compactions and reopens,
 * by get and by iterators; GC keeps exactly the WAL objects some live SST
 * or checkpoint points into; a damaged value is corruption, never data. */
static size_t count_objects(struct zs3_store *s, const char *prefix, uint64_t *bytes)
{
	struct zs3_list l;
	size_t n = 0;
	if (bytes)
		*bytes = 0;
	if (zs3_list(s, prefix, NULL, 1000, &l) != ZS3_OK)
		return 0;
	n = l.count;
	for (size_t i = 0; bytes && i < l.count; i++)
		*bytes += l.entries[i].size;
	zs3_list_free(&l);
	return n;
}

static void big_value(char *v, size_t n, int i, int round)
{
	for (size_t x = 0; x < n; x++)
		v[x] = (char)('A' + (x * 7 + (size_t)i * 13 + (size_t)round) % 26);
	v[n] = 0;
}

static void t_value_separation(void *ctx)
{
	(void)ctx;
	enum { N = 120, BIG = 6000 };
	struct fixture f;
	struct lsm_options o;
	struct lsm_db *db, *ro;
	struct lsm_stats s;
	uint64_t deleted, sst_bytes;
	static char v[BIG + 1];
	char k[32];
	REQUIRE(fixture_open(&f, "vsep"));
	small_options(&o, f.store);
	o.memtable_bytes = 8u << 20; /* flushed only when asked */
	o.gc_min_age_ms = 1;
	REQUIRE(lsm_open(&o, &db) == LSM_OK);
	for (int i = 0; i < N; i++) {
		snprintf(k, sizeof(k), "big%04d", i);
		big_value(v, BIG, i, 0);
		LST(put1(db, k, v, 0), LSM_OK);
		snprintf(k, sizeof(k), "small%04d", i);
		LST(put1(db, k, "a small value stays inline", 0), LSM_OK);
	}
	LST(lsm_compact_all(db), LSM_OK);
	lsm_stats(db, &s);
	CHECK_MSG(s.vlog_separated == N && s.vlog_separated_bytes == (uint64_t)N * BIG,
		  "separated %llu values, %llu bytes", (unsigned long long)s.vlog_separated,
		  (unsigned long long)s.vlog_separated_bytes);
	CHECK(s.vlog_objects >= 1 && s.vlog_live_bytes == (uint64_t)N * BIG);
	count_objects(f.store, "sst/", &sst_bytes);
	printf("  %d values of %d bytes: SSTs hold %llu bytes\n", N, BIG,
	       (unsigned long long)sst_bytes);
	CHECK(sst_bytes < (uint64_t)N * BIG / 10); /* pointers, not values */
	for (int i = 0; i < N; i += 7) {
		snprintf(k, sizeof(k), "big%04d", i);
		big_value(v, BIG, i, 0);
		CHECK_MSG(has(db, k, v), "%s after compaction", k);
	}
	/* an iterator reads them too (and only when asked) */
	struct lsm_read_options rop = { .prefix = (const uint8_t *)"big", .prefix_len = 3 };
	struct lsm_db_iter *it;
	int seen = 0;
	REQUIRE(lsm_iterator(db, &rop, &it) == LSM_OK);
	for (lsm_db_iter_seek_first(it); lsm_db_iter_valid(it); lsm_db_iter_next(it), seen++) {
		size_t vl;
		const uint8_t *val = lsm_db_iter_value(it, &vl);
		big_value(v, BIG, seen, 0);
		CHECK(vl == BIG && !memcmp(val, v, BIG));
	}
	LST(lsm_db_iter_status(it), LSM_OK);
	CHECK(seen == N);
	lsm_db_iter_free(it);

	/* GC keeps the WAL objects the values lie in */
	usleep(5 * 1000);
	LST(lsm_gc(db, &deleted), LSM_OK);
	(void)lsm_close(db);
	REQUIRE(lsm_open(&o, &db) == LSM_OK);
	big_value(v, BIG, 5, 0);
	CHECK(has(db, "big0005", v));

	/* a checkpoint pins them; overwriting and GC release them otherwise */
	LST(lsm_checkpoint_create(db, "before"), LSM_OK);
	for (int i = 0; i < N; i++) {
		snprintf(k, sizeof(k), "big%04d", i);
		big_value(v, BIG, i, 1);
		LST(put1(db, k, v, 0), LSM_OK);
	}
	LST(lsm_compact_all(db), LSM_OK);
	usleep(5 * 1000);
	LST(lsm_gc(db, &deleted), LSM_OK);
	size_t wal_pinned = count_objects(f.store, "wal/", NULL);
	struct lsm_options roo = o;
	roo.read_only = true;
	roo.checkpoint = "before";
	REQUIRE(lsm_open(&roo, &ro) == LSM_OK);
	for (int i = 0; i < N; i += 11) {
		snprintf(k, sizeof(k), "big%04d", i);
		big_value(v, BIG, i, 0);
		CHECK_MSG(has(ro, k, v), "%s at the checkpoint after GC", k);
	}
	(void)lsm_close(ro);
	LST(lsm_checkpoint_delete(db, "before"), LSM_OK);
	usleep(5 * 1000);
	LST(lsm_gc(db, &deleted), LSM_OK);
	size_t wal_after = count_objects(f.store, "wal/", NULL);
	printf("  WAL objects: %zu while a checkpoint pins the old values, %zu after\n",
	       wal_pinned, wal_after);
	CHECK(wal_after < wal_pinned);
	for (int i = 0; i < N; i += 7) {
		snprintf(k, sizeof(k), "big%04d", i);
		big_value(v, BIG, i, 1);
		CHECK_MSG(has(db, k, v), "%s after GC", k);
	}
	(void)lsm_close(db);
	fixture_close(&f);
}


/* Separated values and the disk cache: WAL objects holding values are kept
 * there when uploaded, so reads after a reopen come from disk (no GET); a
 * cold cache fetches an object whole once; a damaged cache file falls back
 * to the store. */
struct vcold_reader {
	struct lsm_db *db;
	int t, n, big;
	int wrong;
};

static void *vcold_read(void *arg)
{
	struct vcold_reader *c = arg;
	static __thread char v[8192];
	char k[32];
	for (int j = 0; j < c->n; j++) {
		int i = (j + c->t * 7) % c->n;
		snprintf(k, sizeof(k), "big%04d", i);
		big_value(v, (size_t)c->big, i, 0);
		c->wrong += !has(c->db, k, v);
	}
	return NULL;
}

static void t_value_separation_cache(void *ctx)
{
	(void)ctx;
	enum { N = 60, BIG = 5000 };
	struct fixture f;
	struct lsm_options o;
	struct lsm_db *db;
	struct lsm_stats s;
	static char v[BIG + 1];
	char k[32];
	char *cache = make_temp_dir("vsepcache");
	REQUIRE(cache && fixture_open(&f, "vsepcache"));
	small_options(&o, f.store);
	o.memtable_bytes = 8u << 20;
	o.cache_dir = cache;
	o.cache_dir_bytes = 256u << 20;
	REQUIRE(lsm_open(&o, &db) == LSM_OK);
	for (int i = 0; i < N; i++) {
		snprintf(k, sizeof(k), "big%04d", i);
		big_value(v, BIG, i, 0);
		LST(put1(db, k, v, 0), LSM_OK); /* they share WAL objects */
	}
	LST(lsm_compact_all(db), LSM_OK);
	(void)lsm_close(db);
	REQUIRE(lsm_open(&o, &db) == LSM_OK);
	for (int i = 0; i < N; i++) {
		snprintf(k, sizeof(k), "big%04d", i);
		big_value(v, BIG, i, 0);
		CHECK_MSG(has(db, k, v), "%s from the disk cache", k);
	}
	lsm_stats(db, &s);
	printf("  warm: %llu GETs of values, %llu disk hits\n", (unsigned long long)s.vlog_reads,
	       (unsigned long long)s.disk_cache_hits);
	CHECK(s.vlog_reads == 0 && s.disk_cache_hits >= N);
	(void)lsm_close(db);

	/* cold: a fresh cache fetches each object whole once */
	rm_rf(cache);
	REQUIRE(lsm_open(&o, &db) == LSM_OK);
	for (int i = 0; i < N; i++) {
		snprintf(k, sizeof(k), "big%04d", i);
		big_value(v, BIG, i, 0);
		CHECK_MSG(has(db, k, v), "%s from a cold cache", k);
	}
	lsm_stats(db, &s);
	printf("  cold: %llu GETs for %d values\n", (unsigned long long)s.vlog_reads, N);
	CHECK(s.vlog_reads >= 1 && s.vlog_reads < N / 2);
	(void)lsm_close(db);

	/* cold, read by 8 threads at once: they wait for the one whole fetch
	 * rather than each GETting its range */
	rm_rf(cache);
	REQUIRE(lsm_open(&o, &db) == LSM_OK);
	pthread_t th[8];
	struct vcold_reader cr[8];
	for (int t = 0; t < 8; t++) {
		cr[t] = (struct vcold_reader){ db, t, N, BIG, 0 };
		REQUIRE(pthread_create(&th[t], NULL, vcold_read, &cr[t]) == 0);
	}
	int wrong = 0;
	for (int t = 0; t < 8; t++) {
		pthread_join(th[t], NULL);
		wrong += cr[t].wrong;
	}
	lsm_stats(db, &s);
	printf("  cold, 8 readers: %llu GETs for %d values each\n",
	       (unsigned long long)s.vlog_reads, N);
	CHECK(wrong == 0 && s.vlog_reads >= 1 && s.vlog_reads <= 8);
	(void)lsm_close(db);

	/* every cached WAL object damaged: the values still come right */
	char cmd[4300];
	snprintf(cmd, sizeof(cmd),
		 "find '%s' -type f -size +8k | while read f; do printf 'XXXXXXXX' | "
		 "dd of=\"$f\" bs=1 seek=2000 conv=notrunc status=none; done", cache);
	REQUIRE(system(cmd) == 0);
	REQUIRE(lsm_open(&o, &db) == LSM_OK);
	for (int i = 0; i < N; i++) {
		snprintf(k, sizeof(k), "big%04d", i);
		big_value(v, BIG, i, 0);
		CHECK_MSG(has(db, k, v), "%s past a damaged cache file", k);
	}
	(void)lsm_close(db);
	rm_rf(cache);
	free(cache);
	fixture_close(&f);
}


/* A cold WAL object larger than the fetch's pieces (2 MiB) comes into the
 * disk cache in pieces, whole and right. */
static void t_value_separation_pieces(void *ctx)
{
	(void)ctx;
	enum { N = 100, BIG = 50000 };
	struct fixture f;
	struct lsm_options o;
	struct lsm_db *db;
	struct lsm_stats s;
	static char v[BIG + 1];
	char k[32];
	char *cache = make_temp_dir("vseppieces");
	REQUIRE(cache && fixture_open(&f, "vseppieces"));
	small_options(&o, f.store);
	o.memtable_bytes = 32u << 20;
	o.cache_dir = cache;
	o.cache_dir_bytes = 256u << 20;
	REQUIRE(lsm_open(&o, &db) == LSM_OK);
	for (int i = 0; i < N; i++) {
		snprintf(k, sizeof(k), "big%04d", i);
		big_value(v, BIG, i, 2);
		LST(put1(db, k, v, 0), LSM_OK);
	}
	LST(lsm_compact_all(db), LSM_OK); /* one WAL object of about 5 MB */
	(void)lsm_close(db);
	rm_rf(cache);
	REQUIRE(lsm_open(&o, &db) == LSM_OK);
	for (int i = N - 1; i >= 0; i--) { /* the last value first: its piece comes last */
		snprintf(k, sizeof(k), "big%04d", i);
		big_value(v, BIG, i, 2);
		CHECK_MSG(has(db, k, v), "%s", k);
	}
	lsm_stats(db, &s);
	printf("  %d values of %d bytes in one object: %llu GETs, %llu bytes\n", N, BIG,
	       (unsigned long long)s.vlog_reads, (unsigned long long)s.vlog_read_bytes);
	CHECK(s.vlog_reads == 3); /* 5 MB in pieces of 2 MiB */
	(void)lsm_close(db);
	rm_rf(cache);
	free(cache);
	fixture_close(&f);
}

/* What lsm_verify_store reported about WAL objects holding values. */
struct vlog_reports {
	int damaged, missing;
	char key[64];
};

static void on_vreport(void *ctx, const struct lsm_verify_report *r)
{
	struct vlog_reports *v = ctx;
	if (strncmp(r->key, "wal/", 4) || r->status == LSM_OK)
		return;
	v->damaged += r->status == LSM_ECORRUPT;
	v->missing += r->status == LSM_ENOTFOUND;
	snprintf(v->key, sizeof(v->key), "%s", r->key);
}

/* A damaged byte inside a separated value, or its WAL object gone, is
 * LSM_ECORRUPT naming the object: never wrong data; verification (fsck)
 * names the object either way. */
static void t_value_separation_corrupt(void *ctx)
{
	(void)ctx;
	struct fixture f;
	struct lsm_options o;
	struct lsm_db *db;
	struct lsm_buf out = { 0 };
	static char v[20001];
	REQUIRE(fixture_open(&f, "vsepbad"));
	small_options(&o, f.store);
	o.memtable_bytes = 8u << 20;
	REQUIRE(lsm_open(&o, &db) == LSM_OK);
	big_value(v, 20000, 1, 0);
	LST(put1(db, "victim", v, LSM_WRITE_DURABLE), LSM_OK);
	LST(lsm_compact_all(db), LSM_OK);
	/* later writes, so that replay starts past the victim's WAL object */
	LST(put1(db, "later", "x", LSM_WRITE_DURABLE), LSM_OK);
	LST(lsm_compact_all(db), LSM_OK);
	(void)lsm_close(db);
	/* the WAL object holding it: the only one over 20000 bytes */
	struct zs3_list l;
	REQUIRE(zs3_list(f.store, "wal/", NULL, 1000, &l) == ZS3_OK);
	char path[4200] = "";
	for (size_t i = 0; i < l.count; i++)
		if (l.entries[i].size > 20000)
			snprintf(path, sizeof(path), "%s/wal@/%s", f.dir, l.entries[i].key + 4);
	zs3_list_free(&l);
	REQUIRE(path[0]);
	FILE *fp = fopen(path, "r+b");
	REQUIRE(fp);
	fseek(fp, 32 + 10000, SEEK_SET); /* past the local store's header: inside the value */
	int c = fgetc(fp);
	fseek(fp, 32 + 10000, SEEK_SET);
	fputc(c ^ 0x40, fp);
	fclose(fp);
	REQUIRE(lsm_open(&o, &db) == LSM_OK);
	LST(lsm_get(db, "victim", 6, &out), LSM_ECORRUPT);
	CHECK_MSG(strstr(lsm_last_error(), "wal/") != NULL, "error: %s", lsm_last_error());
	(void)lsm_close(db);
	struct lsm_verify_summary sum;
	struct vlog_reports vr = { 0 };
	LST(lsm_verify_store(f.store, on_vreport, &vr, &sum), LSM_OK);
	CHECK_MSG(vr.damaged == 1 && vr.missing == 0 && sum.vlog_objects >= 1,
		  "verify: %d damaged, %d missing, %llu value objects", vr.damaged, vr.missing,
		  (unsigned long long)sum.vlog_objects);
	unlink(path);
	memset(&vr, 0, sizeof(vr));
	LST(lsm_verify_store(f.store, on_vreport, &vr, &sum), LSM_OK);
	CHECK_MSG(vr.damaged == 0 && vr.missing == 1, "verify: %d damaged, %d missing", vr.damaged,
		  vr.missing);
	REQUIRE(lsm_open(&o, &db) == LSM_OK);
	LST(lsm_get(db, "victim", 6, &out), LSM_ECORRUPT);
	CHECK_MSG(strstr(lsm_last_error(), "gone") != NULL, "error: %s", lsm_last_error());
	(void)lsm_close(db);
	lsm_buf_free(&out);
	fixture_close(&f);
}


/* A write whose memtable cannot be frozen (every frozen slot waits for a
 * flush nobody runs) is applied: it succeeds and reads back; the freeze is
 * tried again by later writes. It used to fail after being applied. */
static void t_freeze_full(void *ctx)
{
	(void)ctx;
	struct fixture f;
	struct lsm_options o;
	struct lsm_db *db;
	char k[32];
	REQUIRE(fixture_open(&f, "freezefull"));
	small_options(&o, f.store); /* no background: nothing flushes */
	REQUIRE(lsm_open(&o, &db) == LSM_OK);
	for (int i = 0; i < 100; i++) { /* each write fills a memtable (1 MiB arena chunks) */
		snprintf(k, sizeof(k), "k%03d", i);
		LST(put1(db, k, "v", 0), LSM_OK);
	}
	for (int i = 0; i < 100; i += 9) {
		snprintf(k, sizeof(k), "k%03d", i);
		CHECK(has(db, k, "v"));
	}
	LST(lsm_maintain(db), LSM_OK);
	LST(put1(db, "after", "v", LSM_WRITE_DURABLE), LSM_OK);
	(void)lsm_close(db);
	REQUIRE(lsm_open(&o, &db) == LSM_OK);
	CHECK(has(db, "k099", "v") && has(db, "after", "v"));
	(void)lsm_close(db);
	fixture_close(&f);
}

/* lsm_stats: the counters the FSAL's metrics report move as the engine works
 * (writes, WAL uploads and what is not durable yet, flushes, compactions,
 * both caches). No background threads: every upload here is ours. */
static void t_stats(void *ctx)
{
	(void)ctx;
	struct fixture f;
	struct lsm_options o;
	struct lsm_db *db;
	struct lsm_stats s0, s1, s2, s3, s4;
	char *cache = make_temp_dir("statscache");
	REQUIRE(cache && fixture_open(&f, "stats"));
	small_options(&o, f.store);
	o.memtable_bytes = 4u << 20; /* one flush, by lsm_compact_all */
	o.cache_dir = cache;
	o.cache_dir_bytes = 64u << 20;
	REQUIRE(lsm_open(&o, &db) == LSM_OK);
	lsm_stats(db, &s0);
	CHECK(s0.wal_unflushed_bytes == 0 && s0.disk_cache_bytes == 0);

	for (int i = 0; i < 200; i++) {
		char k[32], v[64];
		snprintf(k, sizeof(k), "k%04d", i);
		snprintf(v, sizeof(v), "value %d ....................", i);
		CHECK(put1(db, k, v, 0) == LSM_OK);
	}
	usleep(200 * 1000);
	lsm_stats(db, &s1);
	CHECK(s1.writes == s0.writes + 200);
	CHECK(s1.user_bytes_written >= s0.user_bytes_written + 200 * 25);
	CHECK(s1.wal_unflushed_bytes >= 200 * 25); /* in memory only */
	CHECK(s1.wal_uploads == s0.wal_uploads);
	CHECK(s1.memtable_bytes > 0);
	CHECK(s1.last_durable_ms_ago >= 200);

	LST(lsm_flush(db), LSM_OK);
	lsm_stats(db, &s2);
	CHECK(s2.wal_unflushed_bytes == 0);
	CHECK(s2.wal_uploads > s1.wal_uploads && s2.wal_bytes >= s1.wal_bytes + 200 * 25);
	CHECK(s2.last_durable_ms_ago < s1.last_durable_ms_ago);

	LST(lsm_compact_all(db), LSM_OK);
	lsm_stats(db, &s3);
	CHECK(s3.memtable_flushes > s2.memtable_flushes && s3.l0_bytes_written > s2.l0_bytes_written);
	CHECK(s3.compactions > s2.compactions &&
	      s3.compaction_bytes_written > s2.compaction_bytes_written);
	CHECK(s3.disk_cache_bytes > 0); /* SSTs are cached as they are written */
	CHECK(s3.sst_count > 0 && s3.l0_count == 0);

	for (int pass = 0; pass < 2; pass++) {
		for (int i = 0; i < 200; i += 10) {
			char k[32], v[64];
			snprintf(k, sizeof(k), "k%04d", i);
			snprintf(v, sizeof(v), "value %d ....................", i);
			CHECK(has(db, k, v));
		}
	}
	lsm_stats(db, &s4);
	printf("  user %llu B, WAL %llu B, L0 %llu B, compaction %llu B; block cache %llu hits "
	       "%llu misses; disk cache %llu B\n",
	       (unsigned long long)s4.user_bytes_written, (unsigned long long)s4.wal_bytes,
	       (unsigned long long)s4.l0_bytes_written,
	       (unsigned long long)s4.compaction_bytes_written,
	       (unsigned long long)s4.block_cache_hits, (unsigned long long)s4.block_cache_misses,
	       (unsigned long long)s4.disk_cache_bytes);
	CHECK(s4.block_cache_misses > s3.block_cache_misses); /* the first pass */
	CHECK(s4.block_cache_hits > s3.block_cache_hits);     /* the second */
	CHECK(s4.gets >= s3.gets + 40);
	(void)lsm_close(db);
	fixture_close(&f);
	rm_rf(cache);
	free(cache);
}

/* SSTs are read through the on-disk object cache, which survives a restart. */
static void t_object_cache(void *ctx)
{
	(void)ctx;
	struct fixture f;
	struct lsm_options o;
	struct lsm_db *db;
	struct lsm_stats s;
	char *cache = make_temp_dir("objcache");
	REQUIRE(cache && fixture_open(&f, "cached"));
	small_options(&o, f.store);
	o.memtable_bytes = 4u << 20;
	o.cache_dir = cache;
	o.cache_dir_bytes = 64u << 20;
	o.block_cache_bytes = 4096; /* so that reads go past the block cache */
	REQUIRE(lsm_open(&o, &db) == LSM_OK);
	for (int i = 0; i < 500; i++) {
		char k[32], v[64];
		snprintf(k, sizeof(k), "k%04d", i);
		snprintf(v, sizeof(v), "value %d", i);
		CHECK(put1(db, k, v, 0) == LSM_OK);
	}
	LST(lsm_compact_all(db), LSM_OK); /* the new SST is cached as it is written */
	(void)lsm_close(db);
	struct zs3_stats before, after;
	zs3_stats(f.store, &before);
	REQUIRE(lsm_open(&o, &db) == LSM_OK);
	for (int i = 0; i < 500; i += 7) {
		char k[32], v[64];
		snprintf(k, sizeof(k), "k%04d", i);
		snprintf(v, sizeof(v), "value %d", i);
		CHECK(has(db, k, v));
	}
	lsm_stats(db, &s);
	zs3_stats(f.store, &after);
	printf("  disk cache: %llu hits, %llu misses; store GETs during reads: %llu\n",
	       (unsigned long long)s.disk_cache_hits, (unsigned long long)s.disk_cache_misses,
	       (unsigned long long)(after.requests[ZS3_OP_GET] - before.requests[ZS3_OP_GET]));
	CHECK(s.disk_cache_hits > 0 && s.disk_cache_misses == 0);
	/* the only GETs are the open's manifest and WAL reads, not SST blocks */
	CHECK(after.requests[ZS3_OP_GET] - before.requests[ZS3_OP_GET] <= 4);
	(void)lsm_close(db);
	fixture_close(&f);
	rm_rf(cache);
	free(cache);
}

/* Readers that all miss the disk cache at once download an SST once between
 * them (one whole-object fetch for the cache; the others read their ranges
 * meanwhile), not once each: 8 readers used to pull 8 copies. */
#define COLD_VALUE 400
/* Value n: hex of a pseudo-random sequence (little for zstd to squeeze). */
static void cold_value(int n, char *v)
{
	uint64_t x = 0x9e3779b97f4a7c15ULL * (uint64_t)(n + 1);
	for (int i = 0; i < COLD_VALUE; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		v[i] = "0123456789abcdef"[x & 15];
	}
	v[COLD_VALUE] = '\0';
}

struct cold_reader {
	struct lsm_db *db;
	pthread_barrier_t *start;
	int first, ok;
};

static void *cold_read(void *arg)
{
	struct cold_reader *r = arg;
	pthread_barrier_wait(r->start);
	for (int i = 0; i < 40; i++) {
		char k[32], v[COLD_VALUE + 1];
		int n = (r->first + i * 97) % 20000;
		snprintf(k, sizeof(k), "cold%06d", n);
		cold_value(n, v);
		r->ok += has(r->db, k, v);
	}
	return NULL;
}

static void t_cold_readers(void *ctx)
{
	(void)ctx;
	struct fixture f;
	struct lsm_options o;
	struct lsm_db *db;
	struct lsm_description d;
	struct zs3_stats before, after;
	char *cache = make_temp_dir("coldcache");
	uint64_t sst_bytes = 0;
	enum { READERS = 8 };
	REQUIRE(cache && fixture_open(&f, "cold"));
	/* GETs slowed down (20 ms) during the reads, so that the readers'
	 * misses overlap as they do against a remote store */
	struct zs3_fault_config slow = { .seed = seed };
	struct zs3_store *fs_store;
	REQUIRE(zs3_open_fault(f.store, &slow, &fs_store) == ZS3_OK);
	f.store = fs_store; /* closing it closes what it wraps */
	small_options(&o, f.store);
	o.memtable_bytes = 16u << 20;
	o.block_size = 4096;
	o.sst_target_bytes = 64u << 20; /* one SST that every reader needs */
	REQUIRE(lsm_open(&o, &db) == LSM_OK);
	for (int n = 0; n < 20000; n++) {
		char k[32], v[COLD_VALUE + 1];
		snprintf(k, sizeof(k), "cold%06d", n);
		cold_value(n, v);
		CHECK(put1(db, k, v, 0) == LSM_OK);
	}
	LST(lsm_compact_all(db), LSM_OK);
	REQUIRE(lsm_describe(db, &d) == LSM_OK);
	for (size_t i = 0; i < d.level_count; i++)
		sst_bytes += d.levels[i].bytes;
	lsm_description_free(&d);
	(void)lsm_close(db);

	/* a fresh, empty disk cache, a block cache too small to help */
	o.cache_dir = cache;
	o.cache_dir_bytes = 256u << 20;
	o.block_cache_bytes = 4096;
	REQUIRE(lsm_open(&o, &db) == LSM_OK);
	slow.delay_rate = 1.0;
	slow.delay_ms = 20;
	slow.op_mask = 1u << ZS3_OP_GET;
	zs3_fault_set(f.store, &slow);
	zs3_stats(f.store, &before);
	pthread_barrier_t start;
	pthread_t t[READERS];
	struct cold_reader r[READERS];
	pthread_barrier_init(&start, NULL, READERS);
	for (int i = 0; i < READERS; i++) {
		r[i] = (struct cold_reader){ db, &start, i * 2503, 0 };
		REQUIRE(pthread_create(&t[i], NULL, cold_read, &r[i]) == 0);
	}
	int ok = 0;
	for (int i = 0; i < READERS; i++) {
		pthread_join(t[i], NULL);
		ok += r[i].ok;
	}
	pthread_barrier_destroy(&start);
	zs3_stats(f.store, &after);
	uint64_t down = after.bytes_down - before.bytes_down;
	printf("  %d readers: %llu bytes downloaded for %llu bytes of SSTs (%.2fx)\n", READERS,
	       (unsigned long long)down, (unsigned long long)sst_bytes,
	       sst_bytes ? (double)down / (double)sst_bytes : 0.0);
	CHECK(ok == READERS * 40);
	CHECK(sst_bytes > (1u << 20));
	/* one whole copy, plus the ranges read while it downloaded */
	CHECK_MSG(down < sst_bytes + sst_bytes / 2, "downloaded %llu bytes for %llu of SSTs",
		  (unsigned long long)down, (unsigned long long)sst_bytes);
	(void)lsm_close(db);
	fixture_close(&f);
	rm_rf(cache);
	free(cache);
}

/* A write that would wait on backpressure past write_stall_ms (here: every
 * WAL upload fails, so the pending WAL object fills) fails with
 * LSM_ETRANSIENT, applies nothing, and is counted; once the store answers
 * again, writes go through and everything acknowledged is there. */
/* A committer (put, then lsm_flush) must wake the WAL thread itself. With
 * the periodic upload an hour away, a commit that does not get its upload
 * going waits that hour: the bug was a kick left over from a waiter whose
 * object the previous upload's second round had already taken, which made
 * the next waiter believe the thread was already on its way. */
struct flusher {
	struct lsm_db *db;
	const char *key;
	lsm_status st;
	atomic_bool done;
};

static void *put_then_flush(void *arg)
{
	struct flusher *fl = arg;
	fl->st = put1(fl->db, fl->key, "v", 0);
	if (fl->st == LSM_OK)
		fl->st = lsm_flush(fl->db);
	atomic_store(&fl->done, true);
	return NULL;
}

/* Runs fl in a thread; false if it has not finished within limit_s (the
 * upload it needs takes milliseconds; the periodic one is an hour away). */
static bool flush_finishes(struct flusher *fl, pthread_t *th, int limit_s)
{
	atomic_init(&fl->done, false);
	pthread_create(th, NULL, put_then_flush, fl);
	for (int i = 0; i < limit_s * 100 && !atomic_load(&fl->done); i++)
		usleep(10 * 1000);
	return atomic_load(&fl->done);
}

static void t_commit_kicks_upload(void *ctx)
{
	(void)ctx;
	struct fixture f;
	struct lsm_options o;
	struct lsm_db *db;
	struct zs3_fault_config slow = { .seed = seed, .delay_rate = 1.0, .delay_ms = 300,
					 .op_mask = 1u << ZS3_OP_PUT };
	struct zs3_store *fault;
	pthread_t ta, tb, tc;

	REQUIRE(fixture_open(&f, "kick"));
	REQUIRE(zs3_open_fault(f.store, &slow, &fault) == ZS3_OK);
	f.store = fault;
	memset(&o, 0, sizeof(o));
	o.store = f.store;
	o.flush_interval_ms = 3600 * 1000; /* only kicks upload anything */
	REQUIRE(lsm_open(&o, &db) == LSM_OK);
	/* A's commit starts an upload (300 ms); B commits while it is in
	 * flight, so B's object goes in the same uploader pass */
	struct flusher a = { db, "a", LSM_OK, false }, b = { db, "b", LSM_OK, false },
		       c = { db, "c", LSM_OK, false };
	atomic_init(&a.done, false);
	pthread_create(&ta, NULL, put_then_flush, &a);
	usleep(100 * 1000);
	atomic_init(&b.done, false);
	pthread_create(&tb, NULL, put_then_flush, &b);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	CHECK(a.st == LSM_OK && b.st == LSM_OK);
	/* nothing is pending now: C's commit must get its own upload */
	bool finished = flush_finishes(&c, &tc, 300);
	CHECK_MSG(finished, "a commit waited %d s for an upload nobody started", 300);
	if (!finished) {
		/* lsm_close would wait for the same upload: leave the db
		 * and its waiter to the process's exit */
		pthread_detach(tc);
		return;
	}
	pthread_join(tc, NULL);
	CHECK(c.st == LSM_OK);
	(void)lsm_close(db);
	fixture_close(&f);
}

static void t_write_stall(void *ctx)
{
	(void)ctx;
	struct fixture f;
	struct lsm_options o;
	struct lsm_db *db;
	struct lsm_stats s;
	struct zs3_fault_config down = { .seed = seed };
	struct zs3_store *fault;
	char k[32], v[1024];
	int acked = 0, stalled = -1;

	REQUIRE(fixture_open(&f, "stall"));
	REQUIRE(zs3_open_fault(f.store, &down, &fault) == ZS3_OK);
	f.store = fault; /* closing it closes what it wraps */
	small_options(&o, f.store);
	o.no_background = false; /* backpressure needs the WAL thread */
	o.memtable_bytes = 8u << 20; /* the WAL, not the memtables, fills up */
	o.wal_upload_bytes = 8192;
	o.flush_interval_ms = 20;
	o.write_stall_ms = 300;
	REQUIRE(lsm_open(&o, &db) == LSM_OK);
	down.error_rate = 1.0; /* every PUT fails from now on: no WAL upload lands */
	down.op_mask = 1u << ZS3_OP_PUT;
	zs3_fault_set(f.store, &down);
	memset(v, 'v', sizeof(v) - 1);
	v[sizeof(v) - 1] = '\0';
	for (int i = 0; i < 2000 && stalled < 0; i++) {
		snprintf(k, sizeof(k), "stall%05d", i);
		lsm_status st = put1(db, k, v, 0);
		if (st == LSM_OK)
			acked++;
		else if (st == LSM_ETRANSIENT)
			stalled = i;
		else
			CHECK_MSG(0, "write %d: %s (%s)", i, lsm_strstatus(st), lsm_last_error());
	}
	printf("  %d writes accepted, then one refused: %s\n", acked, lsm_last_error());
	REQUIRE(stalled >= 0);
	CHECK(strstr(lsm_last_error(), "stalled") != NULL);
	lsm_stats(db, &s);
	CHECK(s.write_stalls >= 1);
	CHECK(!has(db, k, v)); /* the refused write applied nothing */

	/* the store answers again: the stalled writer's retry goes through */
	down.error_rate = 0;
	zs3_fault_set(f.store, &down);
	lsm_status st = LSM_ETRANSIENT;
	for (int tries = 0; tries < 200 && st == LSM_ETRANSIENT; tries++)
		st = put1(db, k, v, LSM_WRITE_DURABLE);
	CHECK_MSG(st == LSM_OK, "write after recovery: %s", lsm_strstatus(st));
	CHECK(lsm_flush(db) == LSM_OK);
	(void)lsm_close(db);
	REQUIRE(lsm_open(&o, &db) == LSM_OK);
	for (int i = 0; i <= stalled; i++) {
		snprintf(k, sizeof(k), "stall%05d", i);
		CHECK_MSG(has(db, k, v), "%s lost", k);
	}
	(void)lsm_close(db);
	fixture_close(&f);
}

/* A damaged SST is reported on read; a damaged WAL object stops the open. */
static void t_corruption(void *ctx)
{
	(void)ctx;
	struct fixture f;
	struct lsm_options o;
	struct lsm_db *db;
	struct zs3_list l;
	struct zs3_buf buf = { 0 };
	REQUIRE(fixture_open(&f, "corrupt"));
	small_options(&o, f.store);
	o.memtable_bytes = 4u << 20;
	o.gc_min_age_ms = 1;
	REQUIRE(lsm_open(&o, &db) == LSM_OK);
	for (int i = 0; i < 200; i++) {
		char k[32];
		snprintf(k, sizeof(k), "k%04d", i);
		CHECK(put1(db, k, "some value that takes a few bytes", 0) == LSM_OK);
	}
	LST(lsm_compact_all(db), LSM_OK);
	uint64_t deleted;
	usleep(20 * 1000);
	LST(lsm_gc(db, &deleted), LSM_OK); /* leaves only the live SST */
	(void)lsm_close(db);
	REQUIRE(zs3_list(f.store, "sst/", NULL, 10, &l) == ZS3_OK && l.count == 1);
	REQUIRE(zs3_get(f.store, l.entries[0].key, zs3_range_all(), &buf, NULL) == ZS3_OK);
	buf.data[100] ^= 0x55; /* inside the first data block */
	REQUIRE(zs3_put(f.store, l.entries[0].key, buf.data, buf.len, NULL) == ZS3_OK);
	REQUIRE(lsm_open(&o, &db) == LSM_OK);
	struct lsm_buf v = { 0 };
	LST(lsm_get(db, "k0000", 5, &v), LSM_ECORRUPT);
	lsm_buf_free(&v);
	LST(put1(db, "after", "x", LSM_WRITE_DURABLE), LSM_OK);
	(void)lsm_close(db);
	zs3_list_free(&l);

	/* now damage the newest WAL object that holds a record */
	REQUIRE(zs3_list(f.store, "wal/", NULL, 1000, &l) == ZS3_OK && l.count > 0);
	const char *victim = NULL;
	for (size_t i = l.count; i-- > 0 && !victim;)
		if (l.entries[i].size > 64)
			victim = l.entries[i].key;
	REQUIRE(victim);
	REQUIRE(zs3_get(f.store, victim, zs3_range_all(), &buf, NULL) == ZS3_OK);
	buf.data[40] ^= 0x01;
	REQUIRE(zs3_put(f.store, victim, buf.data, buf.len, NULL) == ZS3_OK);
	LST(lsm_open(&o, &db), LSM_ECORRUPT);
	CHECK(strstr(lsm_last_error(), "damaged") != NULL);
	zs3_list_free(&l);

	/* and the newest manifest: the tree refuses to open rather than guess */
	REQUIRE(zs3_list(f.store, "manifest/", NULL, 1000, &l) == ZS3_OK && l.count > 0);
	const char *newest = l.entries[l.count - 1].key;
	REQUIRE(zs3_get(f.store, newest, zs3_range_all(), &buf, NULL) == ZS3_OK);
	buf.data[buf.len / 2] ^= 0x10;
	REQUIRE(zs3_put(f.store, newest, buf.data, buf.len, NULL) == ZS3_OK);
	LST(lsm_open(&o, &db), LSM_ECORRUPT);
	CHECK(strstr(lsm_last_error(), "manifest") != NULL);
	zs3_list_free(&l);
	zs3_buf_free(&buf);
	fixture_close(&f);
}

int main(int argc, char **argv)
{
	use_rgw = argc > 1 && !strcmp(argv[1], "rgw");
	if (argc > 2)
		tl_set_filter(argv[2]);
	seed = tl_seed();
	tl_run("model", t_model, NULL);
	tl_run("fencing", t_fencing, NULL);
	tl_run("pipeline_fence", t_pipeline_fence, NULL);
	tl_run("pipeline_errors", t_pipeline_errors, NULL);
	tl_run("wait_own_token", t_wait_own_token, NULL);
	tl_run("pipeline_groups_small_commits", t_pipeline_groups_small, NULL);
	tl_run("checkpoint", t_checkpoint, NULL);
	tl_run("read_only_beside_writer", t_read_only_beside_writer, NULL);
	tl_run("group_commit", t_group_commit, NULL);
	tl_run("gc", t_gc, NULL);
	tl_run("value_separation", t_value_separation, NULL);
	tl_run("value_separation_cache", t_value_separation_cache, NULL);
	tl_run("value_separation_pieces", t_value_separation_pieces, NULL);
	tl_run("object_cache", t_object_cache, NULL);
	tl_run("cold_readers_download_once", t_cold_readers, NULL);
	tl_run("stats", t_stats, NULL);
	tl_run("write_stall_is_transient", t_write_stall, NULL);
	tl_run("freeze_full_write_applies", t_freeze_full, NULL);
	tl_run("commit_kicks_upload", t_commit_kicks_upload, NULL);
	if (!use_rgw) /* flipping bytes in objects is the same test on any store */
	{
		tl_run("corruption", t_corruption, NULL);
		tl_run("value_separation_corrupt", t_value_separation_corrupt, NULL);
	}
	return tl_finish();
}
