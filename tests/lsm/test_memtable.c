/* tests/lsm/test_memtable.c - the skiplist memtable against a sorted-array model,
 * snapshots, references, and one writer racing four lock-free readers. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "ikey.h"
#include "memtable.h"
#include "testlib.h"
#include "write_batch.h"

static unsigned long long seed;

#define rnd tl_rand64 /* testlib's seeded PRNG */

/* ---- the model: every entry ever added, as an internal key and a value ---- */
struct entry {
	uint8_t *ikey;
	size_t klen;
	uint8_t *val;
	size_t vlen;
};
struct model {
	struct entry *v;
	size_t n, cap;
};

static void model_add(struct model *m, const uint8_t *uk, size_t ulen, uint64_t seq,
		      enum lsm_type type, const uint8_t *val, size_t vlen)
{
	if (m->n == m->cap) {
		m->cap = m->cap ? 2 * m->cap : 1024;
		m->v = realloc(m->v, m->cap * sizeof(*m->v));
	}
	struct entry *e = &m->v[m->n++];
	e->klen = ulen + 8;
	e->ikey = malloc(e->klen);
	lsm_ikey_encode(e->ikey, uk, ulen, seq, type);
	e->vlen = vlen;
	e->val = malloc(vlen + 1);
	if (vlen)
		memcpy(e->val, val, vlen);
}

static int cmp_entry(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	return lsm_ikey_compare(x->ikey, x->klen, y->ikey, y->klen);
}

static void model_free(struct model *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->v[i].ikey);
		free(m->v[i].val);
	}
	free(m->v);
	memset(m, 0, sizeof(*m));
}

/* Model lookup on the sorted model, written independently of the skiplist:
 * find the key's versions (newest first), take the first with seq <= snap. */
static const struct entry *model_get(const struct model *m, const uint8_t *uk, size_t ulen,
				     uint64_t snap)
{
	size_t lo = 0, hi = m->n;
	while (lo < hi) { /* first entry whose user key >= uk */
		size_t mid = (lo + hi) / 2;
		const struct entry *e = &m->v[mid];
		if (lsm_ukey_compare(e->ikey, e->klen - 8, uk, ulen) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = lo; i < m->n; i++) {
		const struct entry *e = &m->v[i];
		if (e->klen - 8 != ulen || memcmp(e->ikey, uk, ulen))
			return NULL;
		if (lsm_ikey_seq(e->ikey, e->klen) <= snap)
			return e;
	}
	return NULL;
}

/* Keys over {a,b,c} of length 0..6: many versions, many keys prefixes of others. */
static size_t random_key(unsigned long long *s, uint8_t *k)
{
	size_t n = rnd(s) % 7;
	for (size_t i = 0; i < n; i++)
		k[i] = (uint8_t)('a' + rnd(s) % 3);
	return n;
}

static size_t random_value(unsigned long long *s, uint8_t *v)
{
	size_t n = rnd(s) % 500 == 0 ? 20000 + rnd(s) % 20000 : rnd(s) % 40;
	tl_fill_random(v, n, s);
	return n;
}

/* Everything the iterator yields from seek_first equals the sorted model. */
static int compare_iteration(struct lsm_iter *it, const struct model *m)
{
	size_t i = 0;
	int bad = 0;
	for (lsm_iter_seek_first(it); lsm_iter_valid(it); lsm_iter_next(it), i++) {
		size_t kl, vl;
		const uint8_t *k = lsm_iter_key(it, &kl), *v = lsm_iter_value(it, &vl);
		if (i >= m->n || kl != m->v[i].klen || memcmp(k, m->v[i].ikey, kl) ||
		    vl != m->v[i].vlen || memcmp(v, m->v[i].val, vl))
			bad++;
	}
	return bad + (i != m->n) + (lsm_iter_status(it) != LSM_OK);
}

static void t_model(void *ctx)
{
	(void)ctx;
	unsigned long long s = seed;
	struct lsm_memtable *mt;
	struct model m = { 0 };
	struct lsm_batch *b = lsm_batch_new();
	static uint8_t val[40000];
	uint8_t key[8];
	uint64_t seq = 0, data = 0;
	REQUIRE(b && lsm_memtable_new(&mt) == LSM_OK);
	uint64_t lo, hi;
	CHECK(!lsm_memtable_seq_range(mt, &lo, &hi) && lsm_memtable_count(mt) == 0);
	while (m.n < 50000) {
		if (rnd(&s) % 10 == 0) { /* a batch of 1..20 ops */
			uint64_t first = seq + 1 + rnd(&s) % 3; /* seqs may have gaps */
			size_t nops = 1 + rnd(&s) % 20;
			lsm_batch_clear(b);
			for (size_t i = 0; i < nops; i++) {
				size_t kl = random_key(&s, key), vl = random_value(&s, val);
				if (rnd(&s) % 4 == 0) {
					CHECK(lsm_batch_delete(b, key, kl) == LSM_OK);
					model_add(&m, key, kl, first + i, LSM_TYPE_DELETE, NULL, 0);
				} else {
					CHECK(lsm_batch_put(b, key, kl, val, vl) == LSM_OK);
					model_add(&m, key, kl, first + i, LSM_TYPE_PUT, val, vl);
				}
				data += kl + 8 + vl;
			}
			CHECK(lsm_memtable_apply_batch(mt, b, first) == LSM_OK);
			seq = first + nops - 1;
		} else {
			size_t kl = random_key(&s, key), vl = random_value(&s, val);
			enum lsm_type t = rnd(&s) % 4 == 0 ? LSM_TYPE_DELETE : LSM_TYPE_PUT;
			if (t == LSM_TYPE_DELETE)
				vl = 0;
			seq += 1 + rnd(&s) % 2;
			CHECK(lsm_memtable_add(mt, seq, t, key, kl, val, vl) == LSM_OK);
			model_add(&m, key, kl, seq, t, val, vl);
			data += kl + 8 + vl;
		}
	}
	qsort(m.v, m.n, sizeof(*m.v), cmp_entry);
	CHECK(lsm_memtable_count(mt) == m.n);
	CHECK(lsm_memtable_seq_range(mt, &lo, &hi) && hi == seq && lo >= 1 && lo <= 3);
	CHECK_MSG(lsm_memtable_memory(mt) >= data, "memory %zu < data %llu", lsm_memtable_memory(mt),
		  (unsigned long long)data);

	/* iteration: every entry, in internal key order */
	struct lsm_iter *it;
	REQUIRE(lsm_memtable_iter(mt, &it) == LSM_OK);
	CHECK(!lsm_iter_valid(it)); /* unpositioned until a seek */
	int bad = compare_iteration(it, &m);
	CHECK_MSG(bad == 0, "%d mismatches iterating %zu entries", bad, m.n);

	/* seek to random internal keys: lands on the model's lower bound */
	bad = 0;
	for (int i = 0; i < 5000; i++) {
		uint8_t t[16];
		size_t kl = random_key(&s, key);
		lsm_ikey_encode(t, key, kl, rnd(&s) % (seq + 2), (enum lsm_type)(rnd(&s) % 3));
		size_t lo_i = 0, hi_i = m.n;
		while (lo_i < hi_i) {
			size_t mid = (lo_i + hi_i) / 2;
			if (lsm_ikey_compare(m.v[mid].ikey, m.v[mid].klen, t, kl + 8) < 0)
				lo_i = mid + 1;
			else
				hi_i = mid;
		}
		lsm_iter_seek(it, t, kl + 8);
		for (int step = 0; step < 3; step++, lo_i++) {
			if (lo_i >= m.n) {
				bad += lsm_iter_valid(it);
				break;
			}
			size_t gl;
			const uint8_t *g = lsm_iter_valid(it) ? lsm_iter_key(it, &gl) : NULL;
			if (!g || gl != m.v[lo_i].klen || memcmp(g, m.v[lo_i].ikey, gl)) {
				bad++;
				break;
			}
			lsm_iter_next(it);
		}
	}
	CHECK_MSG(bad == 0, "%d seeks landed wrong", bad);
	lsm_iter_seek(it, (const uint8_t *)"abc", 3); /* shorter than a trailer */
	CHECK(!lsm_iter_valid(it) && lsm_iter_status(it) == LSM_EINVAL);
	lsm_iter_destroy(it);

	/* get at random snapshots, for keys with and without versions */
	struct lsm_buf v = { 0 };
	bad = 0;
	for (int i = 0; i < 30000; i++) {
		size_t kl = rnd(&s) % 50 == 0 ? 7 : random_key(&s, key); /* 7: never written */
		if (kl == 7)
			memcpy(key, "absentk", 7);
		uint64_t snap = rnd(&s) % 8 == 0 ? UINT64_MAX : rnd(&s) % (seq + 2);
		const struct entry *e = model_get(&m, key, kl, snap);
		enum lsm_type t = (enum lsm_type)99;
		lsm_status st = lsm_memtable_get(mt, key, kl, snap, &t, &v);
		if (!e) {
			bad += st != LSM_ENOTFOUND;
		} else {
			enum lsm_type want = lsm_ikey_type(e->ikey, e->klen);
			bad += st != LSM_OK || t != want || v.len != e->vlen ||
			       (v.len && memcmp(v.data, e->val, v.len));
		}
	}
	CHECK_MSG(bad == 0, "%d gets differ from the model", bad);
	lsm_buf_free(&v);

	/* refused adds change nothing */
	size_t count = lsm_memtable_count(mt);
	CHECK(lsm_memtable_add(mt, seq, LSM_TYPE_PUT, "k", 1, "v", 1) == LSM_EINVAL); /* not above */
	CHECK(lsm_memtable_add(mt, seq - 5, LSM_TYPE_PUT, "k", 1, "v", 1) == LSM_EINVAL);
	CHECK(lsm_memtable_add(mt, LSM_SEQ_MAX + 1, LSM_TYPE_PUT, "k", 1, "v", 1) == LSM_EINVAL);
	CHECK(lsm_memtable_add(mt, seq + 1, (enum lsm_type)7, "k", 1, "v", 1) == LSM_EINVAL);
	CHECK(lsm_memtable_apply_batch(mt, b, seq) == LSM_EINVAL);
	CHECK(lsm_memtable_apply_body(mt, (const uint8_t *)"\x01\x05k", 3, 1, seq + 1) ==
	      LSM_ECORRUPT);
	CHECK(lsm_memtable_count(mt) == count);
	REQUIRE(lsm_memtable_iter(mt, &it) == LSM_OK);
	bad = compare_iteration(it, &m);
	CHECK_MSG(bad == 0, "%d mismatches after refused adds", bad);
	lsm_iter_destroy(it);

	lsm_memtable_unref(mt);
	lsm_batch_free(b);
	model_free(&m);
}

static void t_versions_and_tombstones(void *ctx)
{
	(void)ctx;
	struct lsm_memtable *mt;
	struct lsm_buf v = { 0 };
	enum lsm_type t;
	REQUIRE(lsm_memtable_new(&mt) == LSM_OK);
	CHECK(lsm_memtable_add(mt, 10, LSM_TYPE_PUT, "k", 1, "v10", 3) == LSM_OK);
	CHECK(lsm_memtable_add(mt, 20, LSM_TYPE_DELETE, "k", 1, NULL, 0) == LSM_OK);
	CHECK(lsm_memtable_add(mt, 30, LSM_TYPE_PUT, "k", 1, "v30", 3) == LSM_OK);
	CHECK(lsm_memtable_add(mt, 31, LSM_TYPE_PUT, "k\0", 2, "z", 1) == LSM_OK);
	CHECK(lsm_memtable_add(mt, 32, LSM_TYPE_BLOB_REF, "j", 1, "ref", 3) == LSM_OK);
	CHECK(lsm_memtable_get(mt, "k", 1, 9, &t, &v) == LSM_ENOTFOUND);
	CHECK(lsm_memtable_get(mt, "k", 1, 10, &t, &v) == LSM_OK && t == LSM_TYPE_PUT &&
	      v.len == 3 && !memcmp(v.data, "v10", 3));
	CHECK(lsm_memtable_get(mt, "k", 1, 25, &t, &v) == LSM_OK && t == LSM_TYPE_DELETE &&
	      v.len == 0);
	CHECK(lsm_memtable_get(mt, "k", 1, 30, &t, &v) == LSM_OK && t == LSM_TYPE_PUT &&
	      !memcmp(v.data, "v30", 3));
	CHECK(lsm_memtable_get(mt, "k", 1, LSM_SEQ_MAX, &t, NULL) == LSM_OK && t == LSM_TYPE_PUT);
	CHECK(lsm_memtable_get(mt, "", 0, 100, &t, &v) == LSM_ENOTFOUND);
	CHECK(lsm_memtable_get(mt, "k\0", 2, 100, &t, &v) == LSM_OK && v.len == 1);
	CHECK(lsm_memtable_get(mt, "j", 1, 100, &t, &v) == LSM_OK && t == LSM_TYPE_BLOB_REF);
	uint64_t lo, hi;
	CHECK(lsm_memtable_seq_range(mt, &lo, &hi) && lo == 10 && hi == 32);
	lsm_buf_free(&v);
	lsm_memtable_unref(mt);
}

static void t_big_values(void *ctx)
{
	(void)ctx;
	unsigned long long s = seed + 7;
	struct lsm_memtable *mt;
	struct lsm_buf v = { 0 };
	enum lsm_type t;
	size_t n = 1 << 20;
	uint8_t *a = malloc(n), *b = malloc(n);
	REQUIRE(a && b && lsm_memtable_new(&mt) == LSM_OK);
	tl_fill_random(a, n, &s);
	tl_fill_random(b, n, &s);
	CHECK(lsm_memtable_add(mt, 1, LSM_TYPE_PUT, "a", 1, a, n) == LSM_OK);
	CHECK(lsm_memtable_add(mt, 2, LSM_TYPE_PUT, "small", 5, "x", 1) == LSM_OK);
	CHECK(lsm_memtable_add(mt, 3, LSM_TYPE_PUT, "b", 1, b, n) == LSM_OK);
	CHECK(lsm_memtable_get(mt, "a", 1, 10, &t, &v) == LSM_OK && v.len == n &&
	      !memcmp(v.data, a, n));
	CHECK(lsm_memtable_get(mt, "b", 1, 10, &t, &v) == LSM_OK && v.len == n &&
	      !memcmp(v.data, b, n));
	CHECK(lsm_memtable_memory(mt) >= 2 * n);
	free(a);
	free(b);
	lsm_buf_free(&v);
	lsm_memtable_unref(mt);
}

/* An iterator keeps its memtable alive after the owner drops it (ASan would
 * report a use after free otherwise). */
static void t_refcount(void *ctx)
{
	(void)ctx;
	struct lsm_memtable *mt;
	struct lsm_iter *it;
	REQUIRE(lsm_memtable_new(&mt) == LSM_OK);
	for (int i = 0; i < 1000; i++) {
		char k[16];
		int n = snprintf(k, sizeof(k), "key%05d", i);
		CHECK(lsm_memtable_add(mt, (uint64_t)i + 1, LSM_TYPE_PUT, k, (size_t)n, k, (size_t)n) ==
		      LSM_OK);
	}
	REQUIRE(lsm_memtable_iter(mt, &it) == LSM_OK);
	struct lsm_memtable *extra = lsm_memtable_ref(mt);
	lsm_memtable_unref(mt);
	lsm_memtable_unref(extra); /* only the iterator's reference is left */
	int n = 0, bad = 0;
	for (lsm_iter_seek_first(it); lsm_iter_valid(it); lsm_iter_next(it), n++) {
		size_t kl, vl;
		const uint8_t *k = lsm_iter_key(it, &kl), *v = lsm_iter_value(it, &vl);
		char want[16];
		snprintf(want, sizeof(want), "key%05d", n);
		bad += kl != 16 || vl != 8 || memcmp(k, want, 8) || memcmp(v, want, 8);
	}
	CHECK(n == 1000 && bad == 0);
	lsm_iter_destroy(it);
	lsm_memtable_unref(NULL);
}

/* ---- concurrency: one writer, four readers ---- */

#define CONC_ENTRIES 200000
#define CONC_READERS 4

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	return x ^ (x >> 33);
}

/* Entry i: a key from a space smaller than the entry count (so keys get
 * several versions), seq i + 1, and a value derived from both, so a reader can
 * tell a whole entry from a torn one. */
static size_t conc_key(uint64_t i, uint8_t *k)
{
	uint64_t h = mix(i) % (CONC_ENTRIES / 2);
	return (size_t)snprintf((char *)k, 24, "%llx/%llu", (unsigned long long)mix(h),
				(unsigned long long)h);
}
static size_t conc_value(const uint8_t *k, size_t kl, uint64_t seq, uint8_t *v)
{
	uint64_t h = mix(seq) ^ kl ^ k[0];
	size_t n = 1 + h % 100;
	for (size_t i = 0; i < n; i++)
		v[i] = (uint8_t)(h >> (8 * (i % 8))) ^ (uint8_t)i;
	return n;
}

struct conc {
	struct lsm_memtable *mt;
	atomic_ullong published; /* entries 0..published-1 are in */
	atomic_bool done;
	atomic_int started; /* readers ready: the writer waits for all of them */
	unsigned long long seed;
	int failures[CONC_READERS];
	long passes[CONC_READERS], midwrite[CONC_READERS], gets[CONC_READERS];
	int index;
	pthread_mutex_t lock;
};

static void *writer(void *arg)
{
	struct conc *c = arg;
	uint8_t k[24], v[128];
	while (atomic_load(&c->started) < CONC_READERS)
		sched_yield();
	for (uint64_t i = 0; i < CONC_ENTRIES; i++) {
		size_t kl = conc_key(i, k), vl = conc_value(k, kl, i + 1, v);
		if (lsm_memtable_add(c->mt, i + 1, LSM_TYPE_PUT, k, kl, v, vl) != LSM_OK)
			break;
		atomic_store_explicit(&c->published, i + 1, memory_order_release);
	}
	atomic_store(&c->done, true);
	return NULL;
}

/* A full pass: sorted, whole entries, and at least what was published. */
static int reader_pass(struct conc *c, struct lsm_iter *it)
{
	uint64_t before = atomic_load_explicit(&c->published, memory_order_acquire), n = 0;
	uint8_t prev[64], want[128];
	size_t prev_len = 0;
	int bad = 0;
	for (lsm_iter_seek_first(it); lsm_iter_valid(it); lsm_iter_next(it), n++) {
		size_t kl, vl;
		const uint8_t *k = lsm_iter_key(it, &kl), *v = lsm_iter_value(it, &vl);
		if (kl < 9 || kl > sizeof(prev)) {
			bad++;
			break;
		}
		uint64_t seq = lsm_ikey_seq(k, kl);
		uint8_t own[24];
		size_t ol = conc_key(seq - 1, own);
		size_t wl = conc_value(k, kl - 8, seq, want);
		if (ol != kl - 8 || memcmp(own, k, ol) || vl != wl || memcmp(v, want, wl))
			bad++; /* torn or misplaced entry */
		if (n && lsm_ikey_compare(prev, prev_len, k, kl) >= 0)
			bad++; /* out of order */
		memcpy(prev, k, kl);
		prev_len = kl;
	}
	if (n < before)
		bad++; /* an entry published before the pass began was missed */
	return bad;
}

static void *reader(void *arg)
{
	struct conc *c = arg;
	pthread_mutex_lock(&c->lock);
	int me = c->index++;
	pthread_mutex_unlock(&c->lock);
	unsigned long long s = c->seed + (unsigned long long)me;
	struct lsm_iter *it;
	struct lsm_buf v = { 0 };
	uint8_t k[24], want[128];
	if (lsm_memtable_iter(c->mt, &it) != LSM_OK) {
		c->failures[me]++;
		atomic_fetch_add(&c->started, 1);
		return NULL;
	}
	atomic_fetch_add(&c->started, 1);
	while (!atomic_load(&c->published)) /* passes over an empty table prove nothing */
		sched_yield();
	bool last = false;
	while (!last) {
		last = atomic_load(&c->done);
		c->midwrite[me] += atomic_load(&c->published) < CONC_ENTRIES;
		c->failures[me] += reader_pass(c, it);
		c->passes[me]++;
		for (int g = 0; g < 500; g++) {
			uint64_t p = atomic_load_explicit(&c->published, memory_order_acquire);
			if (!p)
				break;
			uint64_t i = rnd(&s) % p;
			enum lsm_type t;
			size_t kl = conc_key(i, k), wl = conc_value(k, kl, i + 1, want);
			/* at snapshot i+1 the newest visible version is entry i itself */
			if (lsm_memtable_get(c->mt, k, kl, i + 1, &t, &v) != LSM_OK ||
			    t != LSM_TYPE_PUT || v.len != wl || memcmp(v.data, want, wl))
				c->failures[me]++;
			c->gets[me]++;
		}
	}
	lsm_buf_free(&v);
	lsm_iter_destroy(it);
	return NULL;
}

static void t_concurrent(void *ctx)
{
	(void)ctx;
	struct conc c = { 0 };
	pthread_t w, r[CONC_READERS];
	REQUIRE(lsm_memtable_new(&c.mt) == LSM_OK);
	c.seed = seed;
	pthread_mutex_init(&c.lock, NULL);
	for (int i = 0; i < CONC_READERS; i++)
		REQUIRE(pthread_create(&r[i], NULL, reader, &c) == 0);
	REQUIRE(pthread_create(&w, NULL, writer, &c) == 0);
	pthread_join(w, NULL);
	long passes = 0, midwrite = 0, gets = 0;
	int failures = 0;
	for (int i = 0; i < CONC_READERS; i++) {
		pthread_join(r[i], NULL);
		failures += c.failures[i];
		passes += c.passes[i];
		midwrite += c.midwrite[i];
		gets += c.gets[i];
	}
	printf("  %ld full passes (%ld begun mid-write), %ld gets by %d readers, %d inserts\n",
	       passes, midwrite, gets, CONC_READERS, CONC_ENTRIES);
	CHECK(atomic_load(&c.published) == CONC_ENTRIES);
	CHECK(lsm_memtable_count(c.mt) == CONC_ENTRIES);
	CHECK_MSG(failures == 0, "%d bad observations by the readers", failures);
	CHECK(midwrite > 0); /* the readers did race the writer */
	pthread_mutex_destroy(&c.lock);
	lsm_memtable_unref(c.mt);
}

int main(int argc, char **argv)
{
	if (argc > 1)
		tl_set_filter(argv[1]);
	seed = tl_seed();
	tl_run("model", t_model, NULL);
	tl_run("versions_and_tombstones", t_versions_and_tombstones, NULL);
	tl_run("big_values", t_big_values, NULL);
	tl_run("refcount", t_refcount, NULL);
	tl_run("concurrent", t_concurrent, NULL);
	return tl_finish();
}
