/*
 * tests/fs/test_fs_stress.c - the filesystem core under many threads at once,
 * and under SIGKILL.
 *
 * model: THREADS threads create, write, truncate, link, rename (across
 * directories, directories too) and remove at random in one tree: shared
 * directories all of them use, and directories of their own that they move
 * around. Each thread only names objects of its own, so it can predict every
 * answer (including EINVAL for a directory moved into its own subtree,
 * ENOTEMPTY, EISDIR) from a model of its own, while the locks it takes are
 * the same as everyone's. Every answer is checked as it comes; at the end
 * every directory lists exactly what the models say, every file holds its
 * model's bytes, no inode number was handed out twice, and the check
 * (fs_check.h) finds nothing, the totals included, before and after a
 * reopen.
 *
 * kill: a child creates and writes without waiting for durability and
 * reports every inode number it was given; the parent SIGKILLs it at a
 * random moment, reopens, checks that the totals match a full scan and that
 * new creates never get a number the child was given. KILLS rounds.
 *
 * Random choices come from the printed seed (ZEROFS_TEST_SEED replays the
 * model's choices; thread interleaving is the machine's).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fs.h"
#include "fs_check.h"
#include "store_env.h"
#include "testlib.h"

static unsigned long long seed;
static char *dir;

#define E0(expr) CHECK_MSG((expr) == 0, "%s failed", #expr)

enum { THREADS = 6, SHARED = 4, MAX_OBJ = 96, MAX_ENT = 160, MAX_FILE = 256 * 1024 };

static int open_tree(struct zs3_store **s, struct lsm_db **db, struct zfs **fs)
{
	struct lsm_options o = { 0 };
	if (zs3_open_local(dir, false, s) != ZS3_OK)
		return 1;
	o.store = *s;
	o.memtable_bytes = 2u << 20; /* flushes and compactions run beside the threads */
	o.flush_interval_ms = 10;
	if (lsm_open(&o, db) != LSM_OK) {
		zs3_close(*s);
		return 1;
	}
	if (zfs_open(*db, fs) != 0) {
		(void)lsm_close(*db);
		zs3_close(*s);
		return 1;
	}
	return 0;
}

static void close_tree(struct zs3_store *s, struct lsm_db *db, struct zfs *fs)
{
	zfs_close(fs);
	(void)lsm_close(db);
	zs3_close(s);
}

/* ---- one thread's model ---- */

struct mobj {
	bool live;
	bool is_dir;
	uint64_t ino;
	int nlink;            /* names of it (files); dirs: 1 */
	unsigned char *data;  /* files: MAX_FILE bytes, size of them meaningful */
	size_t size;
};

struct ment {
	bool live;
	uint64_t dir; /* the directory's inode */
	char name[24];
	int obj;
};

struct worker {
	struct zfs *fs;
	int id;
	int ops;
	unsigned long long rs;
	uint64_t shared[SHARED];
	struct mobj obj[MAX_OBJ];
	struct ment ent[MAX_ENT];
	unsigned next_name;
	int failures;
	uint64_t inos[4 * MAX_OBJ * 8]; /* every inode number this thread was given */
	size_t n_inos;
	unsigned char *buf;
};

static unsigned rnd(struct worker *w, unsigned n)
{
	return (unsigned)(tl_rand64(&w->rs) % n);
}

static int free_slot_obj(struct worker *w)
{
	for (int i = 0; i < MAX_OBJ; i++)
		if (!w->obj[i].live)
			return i;
	return -1;
}

static int free_slot_ent(struct worker *w)
{
	for (int i = 0; i < MAX_ENT; i++)
		if (!w->ent[i].live)
			return i;
	return -1;
}

/* A random live entry (kind: 0 any, 1 files, 2 dirs), or -1. */
static int pick_ent(struct worker *w, int kind)
{
	int n = 0, cand[MAX_ENT];
	for (int i = 0; i < MAX_ENT; i++) {
		if (!w->ent[i].live)
			continue;
		bool d = w->obj[w->ent[i].obj].is_dir;
		if (kind == 0 || (kind == 1 && !d) || (kind == 2 && d))
			cand[n++] = i;
	}
	return n ? cand[rnd(w, (unsigned)n)] : -1;
}

/* A directory to put something in: a shared one or one of ours. */
static uint64_t pick_dir(struct worker *w)
{
	int e = pick_ent(w, 2);
	if (e >= 0 && rnd(w, 2))
		return w->obj[w->ent[e].obj].ino;
	return w->shared[rnd(w, SHARED)];
}

static int dir_obj(struct worker *w, uint64_t ino)
{
	for (int i = 0; i < MAX_OBJ; i++)
		if (w->obj[i].live && w->obj[i].is_dir && w->obj[i].ino == ino)
			return i;
	return -1;
}

static bool dir_empty(struct worker *w, int o)
{
	for (int i = 0; i < MAX_ENT; i++)
		if (w->ent[i].live && w->ent[i].dir == w->obj[o].ino)
			return false;
	return true;
}

/* Is directory d (an inode) object o itself or inside it? Walks our entries
 * upwards: only we place our directories. */
static bool inside(struct worker *w, int o, uint64_t d)
{
	for (int depth = 0; depth < MAX_OBJ + 1; depth++) {
		if (d == w->obj[o].ino)
			return true;
		int od = dir_obj(w, d);
		if (od < 0)
			return false; /* a shared directory: the top */
		int e = -1;
		for (int i = 0; i < MAX_ENT && e < 0; i++)
			if (w->ent[i].live && w->ent[i].obj == od)
				e = i;
		if (e < 0)
			return false;
		d = w->ent[e].dir;
	}
	return false;
}

static void drop_obj(struct worker *w, int o)
{
	free(w->obj[o].data);
	memset(&w->obj[o], 0, sizeof(w->obj[o]));
}

static void note_ino(struct worker *w, uint64_t ino)
{
	if (w->n_inos < sizeof(w->inos) / sizeof(w->inos[0]))
		w->inos[w->n_inos++] = ino;
}

#define EXPECT(got, want, what)                                                                \
	do {                                                                                   \
		int g_ = (got), w_ = (want);                                                   \
		if (g_ != w_) {                                                                \
			if (w->failures++ < 5)                                                 \
				CHECK_MSG(0, "thread %d op %d %s: got %d (%s), model says %d", \
					  w->id, op, what, g_, strerror(g_), w_);              \
		}                                                                              \
	} while (0)

static void one_op(struct worker *w, int op)
{
	struct zfs_attr a;
	struct zfs_create_args ca = { .type = ZFS_REG, .mode = 0644 };
	int kind = (int)rnd(w, 100);
	char name[24];

	if (kind < 25) { /* create a file or (1 in 4) a directory */
		int o = free_slot_obj(w), e = free_slot_ent(w);
		if (o < 0 || e < 0)
			return;
		bool is_dir = rnd(w, 4) == 0;
		uint64_t d = pick_dir(w);
		snprintf(name, sizeof(name), "t%d-%u", w->id, w->next_name++);
		ca.type = is_dir ? ZFS_DIR : ZFS_REG;
		int err = zfs_create(w->fs, d, name, &ca, false, &a);
		EXPECT(err, 0, "create");
		if (err)
			return;
		note_ino(w, a.ino);
		w->obj[o] = (struct mobj){ true, is_dir, a.ino, 1, NULL, 0 };
		if (!is_dir && !(w->obj[o].data = calloc(1, MAX_FILE)))
			w->obj[o].live = false;
		w->ent[e] = (struct ment){ true, d, "", o };
		snprintf(w->ent[e].name, sizeof(w->ent[e].name), "%s", name);
	} else if (kind < 45) { /* write */
		int e = pick_ent(w, 1);
		if (e < 0)
			return;
		struct mobj *m = &w->obj[w->ent[e].obj];
		size_t off = rnd(w, 190 * 1024), len = 1 + rnd(w, 60 * 1024); /* < MAX_FILE */
		tl_fill_random(w->buf, len, &w->rs);
		EXPECT(zfs_write(w->fs, m->ino, off, len, w->buf, false, &a), 0, "write");
		memcpy(m->data + off, w->buf, len);
		if (off + len > m->size)
			m->size = off + len;
	} else if (kind < 50) { /* truncate */
		int e = pick_ent(w, 1);
		if (e < 0)
			return;
		struct mobj *m = &w->obj[w->ent[e].obj];
		struct zfs_attr sz = { .size = rnd(w, MAX_FILE) };
		EXPECT(zfs_setattr(w->fs, m->ino, ZFS_SET_SIZE, &sz, false, &a), 0, "truncate");
		if (sz.size < m->size)
			memset(m->data + sz.size, 0, m->size - sz.size);
		m->size = sz.size;
	} else if (kind < 75) { /* rename */
		int e = pick_ent(w, 0);
		if (e < 0)
			return;
		int o = w->ent[e].obj;
		uint64_t d = pick_dir(w);
		int de = -1;
		if (rnd(w, 2)) { /* onto one of ours in d, if any */
			for (int i = 0; i < MAX_ENT && de < 0; i++)
				if (w->ent[i].live && w->ent[i].dir == d && i != e && rnd(w, 3) == 0)
					de = i;
		}
		if (de >= 0)
			snprintf(name, sizeof(name), "%s", w->ent[de].name);
		else
			snprintf(name, sizeof(name), "t%d-%u", w->id, w->next_name++);
		/* the model's answer, in the core's order of checks */
		int want = 0;
		bool same = de >= 0 && w->ent[de].obj == o;
		if (d == w->ent[e].dir && de < 0 && !strcmp(name, w->ent[e].name))
			same = true;
		if (!same && de >= 0) {
			struct mobj *t = &w->obj[w->ent[de].obj];
			if (w->obj[o].is_dir && !t->is_dir)
				want = ENOTDIR;
			else if (!w->obj[o].is_dir && t->is_dir)
				want = EISDIR;
			else if (t->is_dir && !dir_empty(w, w->ent[de].obj))
				want = ENOTEMPTY;
		}
		if (!same && !want && w->obj[o].is_dir && d != w->ent[e].dir && inside(w, o, d))
			want = EINVAL;
		int err = zfs_rename(w->fs, w->ent[e].dir, w->ent[e].name, d, name, false);
		EXPECT(err, want, "rename");
		if (err || same)
			return;
		if (de >= 0) { /* the target loses a name */
			int t = w->ent[de].obj;
			w->ent[de].live = false;
			if (w->obj[t].is_dir || --w->obj[t].nlink == 0)
				drop_obj(w, t);
		}
		w->ent[e].dir = d;
		snprintf(w->ent[e].name, sizeof(w->ent[e].name), "%s", name);
	} else if (kind < 85) { /* link a file under a new name */
		int e = pick_ent(w, 1), ne = free_slot_ent(w);
		if (e < 0 || ne < 0)
			return;
		int o = w->ent[e].obj;
		uint64_t d = pick_dir(w);
		snprintf(name, sizeof(name), "t%d-%u", w->id, w->next_name++);
		int err = zfs_link(w->fs, w->obj[o].ino, d, name, false, &a);
		EXPECT(err, 0, "link");
		if (err)
			return;
		w->obj[o].nlink++;
		w->ent[ne] = (struct ment){ true, d, "", o };
		snprintf(w->ent[ne].name, sizeof(w->ent[ne].name), "%s", name);
	} else { /* remove */
		int e = pick_ent(w, 0);
		if (e < 0)
			return;
		int o = w->ent[e].obj;
		int want = w->obj[o].is_dir && !dir_empty(w, o) ? ENOTEMPTY : 0;
		int err = zfs_remove(w->fs, w->ent[e].dir, w->ent[e].name, false);
		EXPECT(err, want, "remove");
		if (err)
			return;
		w->ent[e].live = false;
		if (w->obj[o].is_dir || --w->obj[o].nlink == 0)
			drop_obj(w, o);
	}
}

static void *work(void *arg)
{
	struct worker *w = arg;
	w->buf = malloc(MAX_FILE);
	for (int op = 0; w->buf && op < w->ops; op++)
		one_op(w, op);
	free(w->buf);
	return NULL;
}

/* ---- the end state ---- */

struct listing {
	int n;
	char names[MAX_ENT * THREADS][24];
	uint64_t inos[MAX_ENT * THREADS];
};

static bool collect(void *ctx, const char *name, const struct zfs_attr *a, uint64_t next)
{
	struct listing *l = ctx;
	(void)next;
	if (l->n < MAX_ENT * THREADS) {
		snprintf(l->names[l->n], sizeof(l->names[0]), "%s", name);
		l->inos[l->n++] = a->ino;
	}
	return true;
}

/* Does directory d list exactly the models' entries in it? */
static int check_dir(struct zfs *fs, struct worker *ws, uint64_t d)
{
	static struct listing l;
	int want = 0, bad = 0;
	bool eof;
	l.n = 0;
	if (zfs_readdir(fs, d, 0, collect, &l, &eof) || !eof)
		return 1;
	for (int t = 0; t < THREADS; t++)
		for (int i = 0; i < MAX_ENT; i++) {
			const struct ment *e = &ws[t].ent[i];
			if (!e->live || e->dir != d)
				continue;
			want++;
			bool found = false;
			for (int j = 0; j < l.n && !found; j++)
				found = !strcmp(l.names[j], e->name) && l.inos[j] == ws[t].obj[e->obj].ino;
			if (!found && bad++ < 3)
				CHECK_MSG(0, "directory %llu: %s (thread %d) is missing",
					  (unsigned long long)d, e->name, t);
		}
	if (l.n != want && bad++ < 3)
		CHECK_MSG(0, "directory %llu lists %d names, the models %d", (unsigned long long)d,
			  l.n, want);
	return bad;
}

static int check_state(struct zfs *fs, struct lsm_db *db, struct worker *ws, const char *when)
{
	int bad = 0;
	unsigned char *back = malloc(MAX_FILE);
	if (!back)
		return 1;
	for (int s = 0; s < SHARED; s++)
		bad += check_dir(fs, ws, ws[0].shared[s]);
	for (int t = 0; t < THREADS; t++) {
		struct worker *w = &ws[t];
		for (int o = 0; o < MAX_OBJ; o++) {
			struct mobj *m = &w->obj[o];
			struct zfs_attr a;
			if (!m->live)
				continue;
			if (zfs_getattr(fs, m->ino, &a)) {
				bad++;
				continue;
			}
			if (m->is_dir) {
				bad += check_dir(fs, ws, m->ino);
				continue;
			}
			size_t got = 0;
			bool eof;
			if (a.size != m->size || (int)a.nlink != m->nlink ||
			    zfs_read(fs, m->ino, 0, m->size, back, &got, &eof) || got != m->size ||
			    memcmp(back, m->data, m->size)) {
				if (bad++ < 3)
					CHECK_MSG(0, "%s: thread %d's inode %llu: size %llu (model %zu), "
						  "nlink %u (model %d), or its bytes differ", when, t,
						  (unsigned long long)m->ino, (unsigned long long)a.size,
						  m->size, a.nlink, m->nlink);
			}
		}
	}
	free(back);
	struct zfs_check *c;
	int e = zfs_check_scan(db, NULL, NULL, &c);
	CHECK_MSG(e == 0, "%s: check: %s", when, strerror(e));
	if (!e) {
		size_t n = zfs_check_count(c);
		for (size_t i = 0; i < n && i < 5; i++) {
			char what[512];
			zfs_check_describe(c, i, what, sizeof(what));
			printf("  %s: %s\n", when, what);
		}
		CHECK_MSG(n == 0, "%s: the check found %zu problems", when, n);
		bad += n != 0;
		zfs_check_free(c);
	}
	return bad;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void t_model(void *ctx)
{
	(void)ctx;
	struct zs3_store *s;
	struct lsm_db *db;
	struct zfs *fs;
	static struct worker ws[THREADS];
	pthread_t th[THREADS];
	struct zfs_create_args dd = { .type = ZFS_DIR, .mode = 0755 };
	struct zfs_attr top, a;
	uint64_t shared[SHARED];

	REQUIRE(open_tree(&s, &db, &fs) == 0);
	E0(zfs_create(fs, ZFS_ROOT_INO, "stress", &dd, false, &top));
	for (int i = 0; i < SHARED; i++) {
		char name[16];
		snprintf(name, sizeof(name), "s%d", i);
		E0(zfs_create(fs, top.ino, name, &dd, false, &a));
		shared[i] = a.ino;
	}
	for (int t = 0; t < THREADS; t++) {
		memset(&ws[t], 0, sizeof(ws[t]));
		ws[t].fs = fs;
		ws[t].id = t;
		ws[t].ops = TL_TSAN ? 300 : 1500;
		ws[t].rs = seed ^ ((unsigned long long)t << 40);
		memcpy(ws[t].shared, shared, sizeof(shared));
	}
	for (int t = 0; t < THREADS; t++)
		REQUIRE(pthread_create(&th[t], NULL, work, &ws[t]) == 0);
	for (int t = 0; t < THREADS; t++)
		pthread_join(th[t], NULL);
	int live = 0, failures = 0;
	size_t n_inos = 0;
	static uint64_t all[THREADS * sizeof(ws[0].inos) / sizeof(ws[0].inos[0])];
	for (int t = 0; t < THREADS; t++) {
		failures += ws[t].failures;
		for (int o = 0; o < MAX_OBJ; o++)
			live += ws[t].obj[o].live;
		memcpy(all + n_inos, ws[t].inos, ws[t].n_inos * sizeof(uint64_t));
		n_inos += ws[t].n_inos;
	}
	printf("  %d threads x %d ops: %d answers differed from the models; %d objects live, "
	       "%zu inode numbers handed out\n", THREADS, ws[0].ops, failures, live, n_inos);
	CHECK(failures == 0);
	struct zfs_stats zs;
	zfs_stats(fs, &zs);
	printf("  lock stripes: %llu waits, %.1f ms waited in all\n",
	       (unsigned long long)zs.lock_waits, (double)zs.lock_wait_ns / 1e6);
	CHECK(zs.lock_waits > 0); /* six threads in four shared directories do meet */
	qsort(all, n_inos, sizeof(all[0]), cmp_u64);
	for (size_t i = 1; i < n_inos; i++)
		CHECK_MSG(all[i] != all[i - 1], "inode %llu handed out twice",
			  (unsigned long long)all[i]);
	struct zfs_statfs before, after;
	E0(zfs_statfs(fs, &before));
	CHECK(check_state(fs, db, ws, "after the threads") == 0);
	close_tree(s, db, fs);
	REQUIRE(open_tree(&s, &db, &fs) == 0);
	for (int t = 0; t < THREADS; t++)
		ws[t].fs = fs;
	E0(zfs_statfs(fs, &after));
	CHECK(before.files == after.files && before.bytes_used == after.bytes_used);
	CHECK(check_state(fs, db, ws, "after a reopen") == 0);
	close_tree(s, db, fs);
	for (int t = 0; t < THREADS; t++)
		for (int o = 0; o < MAX_OBJ; o++)
			free(ws[t].obj[o].data);
}

/* ---- SIGKILL ---- */

enum { KILLS = 20 };

/* Creates files (and writes a little into each) until killed, without
 * waiting for durability; writes every inode number it is given to fd. */
static void child_main(int round, int fd)
{
	struct zs3_store *s;
	struct lsm_db *db;
	struct zfs *fs;
	struct zfs_create_args ca = { .type = ZFS_REG, .mode = 0644 };
	struct zfs_create_args dd = { .type = ZFS_DIR, .mode = 0755 };
	struct zfs_attr d, a;
	char name[64], data[3000];

	if (open_tree(&s, &db, &fs))
		_exit(10);
	snprintf(name, sizeof(name), "round%d", round);
	if (zfs_create(fs, ZFS_ROOT_INO, name, &dd, false, &d))
		_exit(11);
	memset(data, 'x', sizeof(data));
	for (long n = 0;; n++) {
		snprintf(name, sizeof(name), "f%ld", n);
		if (zfs_create(fs, d.ino, name, &ca, false, &a))
			_exit(12);
		char line[32];
		int len = snprintf(line, sizeof(line), "%llu\n", (unsigned long long)a.ino);
		if (write(fd, line, (size_t)len) != len)
			_exit(13);
		if (zfs_write(fs, a.ino, 0, sizeof(data), data, n % 7 == 0, &a))
			_exit(14);
		if (n % 5 == 4) { /* and take some away again */
			snprintf(name, sizeof(name), "f%ld", n - 2);
			if (zfs_remove(fs, d.ino, name, false))
				_exit(15);
		}
	}
}

static void t_kill(void *ctx)
{
	(void)ctx;
	unsigned long long rs = seed;
	uint64_t given_max = 0, total = 0;
	int bad = 0;

	for (int r = 0; r < KILLS && !bad; r++) {
		int status;
		int rfd = tl_fork_kill(child_main, r, (unsigned)(50000 + tl_rand64(&rs) % 300000),
				       &status);
		REQUIRE(rfd >= 0);
		CHECK_MSG(WIFSIGNALED(status), "round %d: the child exited by itself (%d)", r,
			  WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		FILE *f = fdopen(rfd, "r");
		unsigned long long ino;
		while (f && fscanf(f, "%llu", &ino) == 1) {
			given_max = ino > given_max ? ino : given_max;
			total++;
		}
		if (f)
			fclose(f);

		struct zs3_store *s;
		struct lsm_db *db;
		struct zfs *fs;
		REQUIRE(open_tree(&s, &db, &fs) == 0);
		/* the totals are exact whatever the kill cut off */
		struct zfs_check *c;
		int e = zfs_check_scan(db, NULL, NULL, &c);
		CHECK_MSG(e == 0, "round %d: check: %s", r, strerror(e));
		if (!e) {
			for (size_t i = 0; i < zfs_check_count(c) && i < 3; i++) {
				char what[512];
				zfs_check_describe(c, i, what, sizeof(what));
				printf("  round %d: %s\n", r, what);
			}
			bad += zfs_check_count(c) != 0;
			zfs_check_free(c);
		}
		/* no number the child was given comes again, durable or not */
		struct zfs_create_args ca = { .type = ZFS_REG, .mode = 0644 };
		struct zfs_attr a;
		char name[32];
		snprintf(name, sizeof(name), "after%d", r);
		E0(zfs_create(fs, ZFS_ROOT_INO, name, &ca, false, &a));
		CHECK_MSG(a.ino > given_max, "round %d: inode %llu handed out again (the child had "
			  "been given up to %llu)", r, (unsigned long long)a.ino,
			  (unsigned long long)given_max);
		bad += a.ino <= given_max;
		given_max = a.ino > given_max ? a.ino : given_max;
		close_tree(s, db, fs);
	}
	printf("  %d kills: %llu inode numbers given to the children\n", KILLS,
	       (unsigned long long)total);
	CHECK(bad == 0);
	CHECK(total > KILLS); /* the children did real work */
}


/* ---- SIGKILL during repacking, compaction and GC ---- */

enum { RFILES = 6, RCHUNKS = 4, RKILLS = 12 };

/* Chunk c of file i at version v: every byte says so. */
static void rgen(uint8_t *p, int i, int c, unsigned v)
{
	for (size_t k = 0; k < ZFS_CHUNK_SIZE; k++)
		p[k] = (uint8_t)(v * 31 + (unsigned)i * 7 + (unsigned)c * 3 + k % 251);
	memcpy(p, &v, sizeof(v)); /* the version, readable back */
}

static int open_repack_tree(struct zs3_store **s, struct lsm_db **db, struct zfs **fs)
{
	struct lsm_options o = { 0 };
	if (zs3_open_local(dir, false, s) != ZS3_OK)
		return 1;
	o.store = *s;
	o.memtable_bytes = 1u << 20;
	o.flush_interval_ms = 10;
	o.gc_min_age_ms = 1; /* GC deletes whatever it may, at once */
	if (lsm_open(&o, db) != LSM_OK) {
		zs3_close(*s);
		return 1;
	}
	if (zfs_open(*db, fs) != 0) {
		(void)lsm_close(*db);
		zs3_close(*s);
		return 1;
	}
	return 0;
}

/* Overwrites chunks durably (reporting "file chunk version" once each is
 * acknowledged) and, every few writes, repacks everything below 90% live,
 * compacts and collects, until killed. */
static void repack_child(int round, int fd)
{
	struct zs3_store *s;
	struct lsm_db *db;
	struct zfs *fs;
	static uint8_t buf[ZFS_CHUNK_SIZE];
	unsigned long long rs = seed ^ (unsigned long long)round * 0x9e3779b97f4a7c15ULL;
	if (open_repack_tree(&s, &db, &fs))
		_exit(10);
	for (unsigned n = 0;; n++) {
		int i = (int)(tl_rand64(&rs) % RFILES), c = (int)(tl_rand64(&rs) % RCHUNKS);
		unsigned v = (unsigned)round * 100000u + n + 1; /* grows across rounds */
		struct zfs_attr a;
		char name[16];
		snprintf(name, sizeof(name), "r%d", i);
		if (zfs_lookup(fs, ZFS_ROOT_INO, name, &a))
			_exit(11);
		rgen(buf, i, c, v);
		if (zfs_write(fs, a.ino, (uint64_t)c * ZFS_CHUNK_SIZE, ZFS_CHUNK_SIZE, buf, true, &a))
			_exit(12);
		char line[64];
		int len = snprintf(line, sizeof(line), "%d %d %u\n", i, c, v);
		if (write(fd, line, (size_t)len) != len)
			_exit(13);
		if (n % 6 == 5) {
			struct zfs_repack_stats st;
			uint64_t deleted;
			if (zfs_repack(fs, 0.9, NULL, NULL, &st) || lsm_compact_all(db) ||
			    lsm_gc(db, &deleted))
				_exit(14);
		}
	}
}

static void t_kill_repack(void *ctx)
{
	(void)ctx;
	static uint8_t want[ZFS_CHUNK_SIZE], got[ZFS_CHUNK_SIZE];
	static unsigned acked[RFILES][RCHUNKS];
	unsigned long long rs = seed ^ 0x5eed;
	struct zs3_store *s;
	struct lsm_db *db;
	struct zfs *fs;
	int bad = 0;
	unsigned long long acks = 0;

	REQUIRE(open_repack_tree(&s, &db, &fs) == 0);
	for (int i = 0; i < RFILES; i++) {
		struct zfs_create_args ca = { .type = ZFS_REG, .mode = 0644 };
		struct zfs_attr a;
		char name[16];
		snprintf(name, sizeof(name), "r%d", i);
		E0(zfs_create(fs, ZFS_ROOT_INO, name, &ca, false, &a));
		for (int c = 0; c < RCHUNKS; c++) {
			rgen(want, i, c, 0);
			E0(zfs_write(fs, a.ino, (uint64_t)c * ZFS_CHUNK_SIZE, ZFS_CHUNK_SIZE, want, true, &a));
		}
	}
	close_tree(s, db, fs);

	for (int r = 0; r < RKILLS && !bad; r++) {
		int status;
		int rfd = tl_fork_kill(repack_child, r, (unsigned)(200000 + tl_rand64(&rs) % 600000),
				       &status);
		REQUIRE(rfd >= 0);
		CHECK_MSG(WIFSIGNALED(status), "round %d: the child exited by itself (%d)", r,
			  WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		FILE *f = fdopen(rfd, "r");
		int i, c;
		unsigned v;
		while (f && fscanf(f, "%d %d %u", &i, &c, &v) == 3)
			if (i >= 0 && i < RFILES && c >= 0 && c < RCHUNKS) {
				acked[i][c] = v > acked[i][c] ? v : acked[i][c];
				acks++;
			}
		if (f)
			fclose(f);

		REQUIRE(open_repack_tree(&s, &db, &fs) == 0);
		/* every chunk is a whole version, at least the acknowledged one */
		for (i = 0; i < RFILES; i++) {
			struct zfs_attr a;
			char name[16];
			snprintf(name, sizeof(name), "r%d", i);
			E0(zfs_lookup(fs, ZFS_ROOT_INO, name, &a));
			for (c = 0; c < RCHUNKS; c++) {
				size_t n;
				bool eof;
				int e = zfs_read(fs, a.ino, (uint64_t)c * ZFS_CHUNK_SIZE, ZFS_CHUNK_SIZE,
						 got, &n, &eof);
				memcpy(&v, got, sizeof(v));
				rgen(want, i, c, v);
				bool ok = !e && n == ZFS_CHUNK_SIZE && v >= acked[i][c] &&
					  !memcmp(got, want, sizeof(want));
				CHECK_MSG(ok, "round %d: r%d chunk %d: %s, version %u, acknowledged %u",
					  r, i, c, e ? strerror(e) : "read", v, acked[i][c]);
				bad += !ok;
			}
		}
		/* every object the tree needs is there and whole; the records agree */
		struct lsm_verify_summary vs;
		CHECK(lsm_verify(db, NULL, NULL, &vs) == LSM_OK);
		CHECK_MSG(vs.damaged == 0, "round %d: %llu objects damaged or missing", r,
			  (unsigned long long)vs.damaged);
		bad += vs.damaged != 0;
		struct zfs_check *chk;
		int e = zfs_check_scan(db, NULL, NULL, &chk);
		CHECK_MSG(e == 0, "round %d: check: %s", r, strerror(e));
		if (!e) {
			for (size_t k = 0; k < zfs_check_count(chk) && k < 3; k++) {
				char what[512];
				zfs_check_describe(chk, k, what, sizeof(what));
				printf("  round %d: %s\n", r, what);
			}
			bad += zfs_check_count(chk) != 0;
			zfs_check_free(chk);
		}
		close_tree(s, db, fs);
	}
	printf("  %d kills during repacking, compaction and GC: %llu writes acknowledged\n",
	       RKILLS, acks);
	CHECK(bad == 0);
	CHECK(acks > RKILLS); /* the children did real work */
}

int main(int argc, char **argv)
{
	if (argc > 1)
		tl_set_filter(argv[1]);
	seed = tl_seed();
	dir = make_temp_dir("fs-stress");
	if (!dir)
		return 1;
	tl_run("model", t_model, NULL);
	rm_rf(dir); /* the kills get a tree of their own */
	free(dir);
	dir = make_temp_dir("fs-kill");
	if (!dir)
		return 1;
	tl_run("kill", t_kill, NULL);
	rm_rf(dir);
	free(dir);
	dir = make_temp_dir("fs-repack-kill");
	if (!dir)
		return 1;
	tl_run("kill_repack", t_kill_repack, NULL);
	rm_rf(dir);
	free(dir);
	return tl_finish();
}
