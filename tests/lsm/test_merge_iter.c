/* tests/lsm/test_merge_iter.c - the merging iterator over five children and the
 * user-facing db_iter on top of it, each against a model: snapshots, bounds,
 * prefixes, tombstones, errors. */
#include <stdint.h>
#include <stdlib.h>

#include "db_iter.h"
#include "ikey.h"
#include "memtable.h"
#include "merge_iter.h"
#include "testlib.h"

static unsigned long long seed;

#define rnd tl_rand64 /* testlib's seeded PRNG */

/* ---- entries, and an lsm_iter over a sorted array of them (a stand-in for
 * an SST), which can fail at a chosen position ---- */
struct entry {
	uint8_t ikey[16]; /* user keys here are at most 8 bytes */
	size_t klen;
	uint8_t val[24];
	size_t vlen;
};

static void entry_set(struct entry *e, const void *uk, size_t ulen, uint64_t seq, unsigned type,
		      const void *v, size_t vlen)
{
	lsm_ikey_encode(e->ikey, uk, ulen, seq, (enum lsm_type)type);
	e->klen = ulen + 8;
	memcpy(e->val, v, vlen);
	e->vlen = vlen;
}

static int cmp_entry(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	return lsm_ikey_compare(x->ikey, x->klen, y->ikey, y->klen);
}

struct vec_iter {
	struct lsm_iter base;
	const struct entry *e;
	size_t n, pos;
	size_t fail_at; /* reaching this position is an error (SIZE_MAX: never) */
	lsm_status st;
};

static void vec_check(struct vec_iter *v)
{
	v->st = v->pos >= v->fail_at ? LSM_ECORRUPT : LSM_OK;
}
static void vec_seek_first(struct lsm_iter *it)
{
	struct vec_iter *v = (struct vec_iter *)it;
	v->pos = 0;
	vec_check(v);
}
static void vec_seek(struct lsm_iter *it, const uint8_t *t, size_t len)
{
	struct vec_iter *v = (struct vec_iter *)it;
	v->pos = 0;
	while (v->pos < v->n && lsm_ikey_compare(v->e[v->pos].ikey, v->e[v->pos].klen, t, len) < 0)
		v->pos++;
	vec_check(v);
}
static void vec_next(struct lsm_iter *it)
{
	struct vec_iter *v = (struct vec_iter *)it;
	v->pos++;
	vec_check(v);
}
static bool vec_valid(const struct lsm_iter *it)
{
	const struct vec_iter *v = (const struct vec_iter *)it;
	return v->st == LSM_OK && v->pos < v->n;
}
static const uint8_t *vec_key(const struct lsm_iter *it, size_t *len)
{
	const struct vec_iter *v = (const struct vec_iter *)it;
	*len = v->e[v->pos].klen;
	return v->e[v->pos].ikey;
}
static const uint8_t *vec_value(const struct lsm_iter *it, size_t *len)
{
	const struct vec_iter *v = (const struct vec_iter *)it;
	*len = v->e[v->pos].vlen;
	return v->e[v->pos].val;
}
static lsm_status vec_status(const struct lsm_iter *it)
{
	return ((const struct vec_iter *)it)->st;
}
static void vec_destroy(struct lsm_iter *it)
{
	free(it);
}
static const struct lsm_iter_ops vec_ops = { vec_seek_first, vec_seek,   vec_next,   vec_valid,
					     vec_key,        vec_value,  vec_status, vec_destroy };

static struct lsm_iter *vec_new(const struct entry *e, size_t n, size_t fail_at)
{
	struct vec_iter *v = calloc(1, sizeof(*v));
	v->base.ops = &vec_ops;
	v->e = e;
	v->n = n;
	v->pos = n; /* unpositioned */
	v->fail_at = fail_at;
	return &v->base;
}

static struct lsm_iter *mt_iter(struct lsm_memtable *mt)
{
	struct lsm_iter *it = NULL;
	CHECK(lsm_memtable_iter(mt, &it) == LSM_OK);
	return it;
}

static size_t random_key(unsigned long long *s, uint8_t *k, size_t maxlen)
{
	size_t n = rnd(s) % (maxlen + 1);
	for (size_t i = 0; i < n; i++)
		k[i] = (uint8_t)('a' + rnd(s) % 3);
	return n;
}

/* ==== merging iterator ==== */

#define KIDS 5

static void t_merge_model(void *ctx)
{
	(void)ctx;
	unsigned long long s = seed;
	size_t total = 20000;
	struct entry *all = calloc(total, sizeof(*all));
	struct entry *part[KIDS];
	size_t np[KIDS] = { 0 };
	struct lsm_memtable *mt[2];
	for (int i = 0; i < KIDS; i++)
		part[i] = calloc(total, sizeof(struct entry));
	REQUIRE(lsm_memtable_new(&mt[0]) == LSM_OK && lsm_memtable_new(&mt[1]) == LSM_OK);
	/* unique seqs, so internal keys are distinct; in seq order, so the two
	 * memtables see growing seqs */
	for (size_t i = 0; i < total; i++) {
		uint8_t k[8], v[8];
		size_t kl = random_key(&s, k, 5);
		int kid = (int)(rnd(&s) % KIDS);
		tl_fill_random(v, sizeof(v), &s);
		unsigned type = rnd(&s) % 4 ? LSM_TYPE_PUT : LSM_TYPE_DELETE;
		size_t vl = type == LSM_TYPE_PUT ? rnd(&s) % 9 : 0;
		entry_set(&all[i], k, kl, i + 1, type, v, vl);
		part[kid][np[kid]++] = all[i];
		if (kid < 2)
			CHECK(lsm_memtable_add(mt[kid], i + 1, (enum lsm_type)type, k, kl, v, vl) ==
			      LSM_OK);
	}
	qsort(all, total, sizeof(*all), cmp_entry);
	for (int i = 2; i < KIDS; i++)
		qsort(part[i], np[i], sizeof(struct entry), cmp_entry);
	struct lsm_iter *kids[KIDS] = { mt_iter(mt[0]), mt_iter(mt[1]),
					vec_new(part[2], np[2], SIZE_MAX),
					vec_new(part[3], np[3], SIZE_MAX),
					vec_new(part[4], np[4], SIZE_MAX) };
	struct lsm_iter *m;
	REQUIRE(lsm_merge_iter_new(kids, KIDS, &m) == LSM_OK);

	size_t i = 0;
	int bad = 0;
	for (lsm_iter_seek_first(m); lsm_iter_valid(m); lsm_iter_next(m), i++) {
		size_t kl, vl;
		const uint8_t *k = lsm_iter_key(m, &kl), *v = lsm_iter_value(m, &vl);
		bad += i >= total || kl != all[i].klen || memcmp(k, all[i].ikey, kl) ||
		       vl != all[i].vlen || memcmp(v, all[i].val, vl);
	}
	CHECK_MSG(bad == 0 && i == total, "%d mismatches, %zu of %zu entries", bad, i, total);
	CHECK(lsm_iter_status(m) == LSM_OK);

	/* seeks land on the model's lower bound and go on from there */
	bad = 0;
	for (int q = 0; q < 3000; q++) {
		uint8_t k[8], t[16];
		size_t kl = random_key(&s, k, 5);
		lsm_ikey_encode(t, k, kl, rnd(&s) % (total + 2), (enum lsm_type)(rnd(&s) % 2));
		size_t lo = 0;
		while (lo < total && lsm_ikey_compare(all[lo].ikey, all[lo].klen, t, kl + 8) < 0)
			lo++;
		lsm_iter_seek(m, t, kl + 8);
		for (int step = 0; step < 10; step++, lo++) {
			if (lo >= total) {
				bad += lsm_iter_valid(m);
				break;
			}
			size_t gl;
			if (!lsm_iter_valid(m) || (lsm_iter_key(m, &gl), gl != all[lo].klen) ||
			    memcmp(lsm_iter_key(m, &gl), all[lo].ikey, gl)) {
				bad++;
				break;
			}
			lsm_iter_next(m);
		}
	}
	CHECK_MSG(bad == 0, "%d seeks went wrong", bad);
	lsm_iter_destroy(m);
	lsm_memtable_unref(mt[0]);
	lsm_memtable_unref(mt[1]);
	for (int k = 0; k < KIDS; k++)
		free(part[k]);
	free(all);
}

static void t_merge_ties(void *ctx)
{
	(void)ctx;
	struct entry a[2], b[1], c[2];
	entry_set(&a[0], "k", 1, 5, LSM_TYPE_PUT, "A", 1);
	entry_set(&a[1], "z", 1, 1, LSM_TYPE_PUT, "A", 1);
	entry_set(&b[0], "k", 1, 5, LSM_TYPE_PUT, "B", 1);
	entry_set(&c[0], "a", 1, 9, LSM_TYPE_PUT, "C", 1);
	entry_set(&c[1], "k", 1, 5, LSM_TYPE_PUT, "C", 1);
	/* equal keys in children 0, 1, 2: lower index first, whatever the order
	 * they entered the heap in */
	struct lsm_iter *kids[3] = { vec_new(a, 2, SIZE_MAX), vec_new(b, 1, SIZE_MAX),
				     vec_new(c, 2, SIZE_MAX) };
	struct lsm_iter *m;
	REQUIRE(lsm_merge_iter_new(kids, 3, &m) == LSM_OK);
	char got[16] = { 0 };
	int n = 0;
	for (lsm_iter_seek_first(m); lsm_iter_valid(m) && n < 15; lsm_iter_next(m)) {
		size_t vl;
		got[n++] = (char)lsm_iter_value(m, &vl)[0];
	}
	CHECK_MSG(!strcmp(got, "CABCA"), "order %s", got);
	lsm_iter_destroy(m);
}

static void t_merge_errors(void *ctx)
{
	(void)ctx;
	struct entry a[50], b[50];
	for (int i = 0; i < 50; i++) {
		char k[4] = { 'k', (char)('0' + i / 10), (char)('0' + i % 10), 0 };
		entry_set(&a[i], k, 3, 100 + (uint64_t)i, LSM_TYPE_PUT, "a", 1);
		entry_set(&b[i], k, 3, 200 + (uint64_t)i, LSM_TYPE_PUT, "b", 1);
	}
	/* child 1 fails on reaching its 20th entry */
	struct lsm_iter *kids[2] = { vec_new(a, 50, SIZE_MAX), vec_new(b, 50, 20) };
	struct lsm_iter *m;
	REQUIRE(lsm_merge_iter_new(kids, 2, &m) == LSM_OK);
	int n = 0;
	for (lsm_iter_seek_first(m); lsm_iter_valid(m); lsm_iter_next(m))
		n++;
	CHECK(lsm_iter_status(m) == LSM_ECORRUPT);
	CHECK(n < 100 && n >= 39); /* stops at the failure, not at the end */
	/* a seek past the damage clears the error... */
	uint8_t t[16];
	lsm_ikey_encode(t, "k10", 3, LSM_SEQ_MAX, LSM_TYPE_PUT);
	lsm_iter_seek(m, t, 11);
	CHECK(lsm_iter_valid(m) && lsm_iter_status(m) == LSM_OK);
	/* ...and one onto it reports it at once */
	lsm_ikey_encode(t, "k30", 3, LSM_SEQ_MAX, LSM_TYPE_PUT);
	lsm_iter_seek(m, t, 11);
	CHECK(!lsm_iter_valid(m) && lsm_iter_status(m) == LSM_ECORRUPT);
	lsm_iter_destroy(m);

	/* no children; only empty children */
	REQUIRE(lsm_merge_iter_new(NULL, 0, &m) == LSM_OK);
	lsm_iter_seek_first(m);
	CHECK(!lsm_iter_valid(m) && lsm_iter_status(m) == LSM_OK);
	lsm_iter_destroy(m);
	struct lsm_iter *empty[2] = { vec_new(a, 0, SIZE_MAX), vec_new(b, 0, SIZE_MAX) };
	REQUIRE(lsm_merge_iter_new(empty, 2, &m) == LSM_OK);
	lsm_iter_seek_first(m);
	CHECK(!lsm_iter_valid(m) && lsm_iter_status(m) == LSM_OK);
	lsm_iter_destroy(m);
}

/* ==== db_iter ==== */

/* The history: ops with seqs 1..N. Sources by seq range, newest first: three
 * memtables, an "L0 SST" and a "sorted run" (vec iterators). */
#define HIST 20000
#define NKEYS 121 /* user keys over {a,b,c} of up to 4 bytes */
struct history {
	struct entry e[HIST]; /* e[i] has seq i + 1 */
	uint32_t *ver[NKEYS]; /* per key (by key_code), its seqs ascending */
	size_t nver[NKEYS];
	struct lsm_memtable *mt[3];
	struct entry *sst[2];
	size_t nsst[2];
};

/* A distinct number below NKEYS for each key over {a,b,c} of up to 4 bytes. */
static size_t key_code(const uint8_t *k, size_t kl)
{
	size_t code = 0, pow = 1;
	for (size_t l = 0; l < kl; l++, pow *= 3)
		code += pow; /* keys shorter than kl */
	for (size_t i = 0; i < kl; i++)
		code += (size_t)(k[i] - 'a') * (pow /= 3);
	return code;
}

static void history_make(struct history *h, unsigned long long *s)
{
	/* source of seq i: run 1..N/5, L0 ..2N/5, mt[2] ..3N/5, mt[1] ..4N/5, mt[0] */
	for (int i = 0; i < 3; i++)
		CHECK(lsm_memtable_new(&h->mt[i]) == LSM_OK);
	for (int i = 0; i < 2; i++) {
		h->sst[i] = calloc(HIST, sizeof(struct entry));
		h->nsst[i] = 0;
	}
	for (size_t i = 0; i < HIST; i++) {
		uint8_t k[8], v[8];
		size_t kl = random_key(s, k, 4);
		unsigned type = rnd(s) % 3 ? LSM_TYPE_PUT : LSM_TYPE_DELETE;
		size_t vl = type == LSM_TYPE_PUT ? 1 + rnd(s) % 8 : 0;
		tl_fill_random(v, sizeof(v), s);
		entry_set(&h->e[i], k, kl, i + 1, type, v, vl);
		size_t c = key_code(k, kl);
		h->ver[c] = realloc(h->ver[c], (h->nver[c] + 1) * sizeof(uint32_t));
		h->ver[c][h->nver[c]++] = (uint32_t)(i + 1);
		int src = (int)(i * 5 / HIST); /* 0 = run ... 4 = mt[0] */
		if (src < 2)
			h->sst[1 - src][h->nsst[1 - src]++] = h->e[i];
		else
			CHECK(lsm_memtable_add(h->mt[4 - src], i + 1, (enum lsm_type)type, k, kl, v,
					       vl) == LSM_OK);
	}
	for (int i = 0; i < 2; i++)
		qsort(h->sst[i], h->nsst[i], sizeof(struct entry), cmp_entry);
}

static void history_free(struct history *h)
{
	for (int i = 0; i < 3; i++)
		lsm_memtable_unref(h->mt[i]);
	for (int i = 0; i < 2; i++)
		free(h->sst[i]);
	for (int i = 0; i < NKEYS; i++) {
		free(h->ver[i]);
		h->ver[i] = NULL;
		h->nver[i] = 0;
	}
}

static struct lsm_db_iter *history_iter(struct history *h, const struct lsm_db_iter_opts *o)
{
	struct lsm_iter *kids[5] = { mt_iter(h->mt[0]), mt_iter(h->mt[1]), mt_iter(h->mt[2]),
				     vec_new(h->sst[0], h->nsst[0], SIZE_MAX),
				     vec_new(h->sst[1], h->nsst[1], SIZE_MAX) };
	struct lsm_iter *m;
	struct lsm_db_iter *d = NULL;
	CHECK(lsm_merge_iter_new(kids, 5, &m) == LSM_OK);
	CHECK(lsm_db_iter_new(m, o, &d) == LSM_OK);
	return d;
}

/* The model's answer, written as plainly as possible: for every user key in
 * order, the newest op with seq <= snap, if it is a put within the range. */
struct kv {
	uint8_t k[8], v[8];
	size_t kl, vl;
};

static bool has_prefix(const uint8_t *k, size_t kl, const struct lsm_db_iter_opts *o)
{
	return !o->prefix || (kl >= o->prefix_len && !memcmp(k, o->prefix, o->prefix_len));
}

static size_t model_scan(const struct history *h, const struct lsm_db_iter_opts *o,
			 const uint8_t *from, size_t from_len, struct kv *out)
{
	/* all user keys over {a,b,c} up to 4 bytes, in order, by depth-first walk */
	static uint8_t keys[NKEYS][4];
	static size_t klen[NKEYS], nkeys;
	if (!nkeys) {
		for (size_t len = 0; len <= 4; len++) {
			size_t combos = 1;
			for (size_t j = 0; j < len; j++)
				combos *= 3;
			for (size_t c = 0; c < combos; c++) {
				size_t x = c;
				for (size_t j = len; j-- > 0; x /= 3)
					keys[nkeys][j] = (uint8_t)('a' + x % 3);
				klen[nkeys++] = len;
			}
		}
		/* sort bytewise (insertion sort, 121 keys) */
		for (size_t i = 1; i < nkeys; i++)
			for (size_t j = i; j > 0 && lsm_ukey_compare(keys[j - 1], klen[j - 1],
								     keys[j], klen[j]) > 0;
			     j--) {
				uint8_t t[4];
				size_t tl = klen[j];
				memcpy(t, keys[j], 4);
				memcpy(keys[j], keys[j - 1], 4);
				memcpy(keys[j - 1], t, 4);
				klen[j] = klen[j - 1];
				klen[j - 1] = tl;
			}
	}
	size_t n = 0;
	for (size_t i = 0; i < nkeys; i++) {
		const uint8_t *k = keys[i];
		size_t kl = klen[i];
		if (o->lower && lsm_ukey_compare(k, kl, o->lower, o->lower_len) < 0)
			continue;
		if (o->upper && lsm_ukey_compare(k, kl, o->upper, o->upper_len) >= 0)
			continue;
		if (from && lsm_ukey_compare(k, kl, from, from_len) < 0)
			continue;
		if (!has_prefix(k, kl, o))
			continue;
		size_t c = key_code(k, kl);
		for (size_t j = h->nver[c]; j-- > 0;) {
			if (h->ver[c][j] > o->snapshot_seq)
				continue;
			const struct entry *e = &h->e[h->ver[c][j] - 1];
			if (lsm_ikey_type(e->ikey, e->klen) == LSM_TYPE_PUT) {
				memcpy(out[n].k, k, kl);
				out[n].kl = kl;
				memcpy(out[n].v, e->val, e->vlen);
				out[n].vl = e->vlen;
				n++;
			}
			break;
		}
	}
	return n;
}

/* Compares the db_iter from where it stands with the model's list. */
static int compare_rest(struct lsm_db_iter *d, const struct kv *want, size_t n)
{
	size_t i = 0;
	int bad = 0;
	for (; lsm_db_iter_valid(d); lsm_db_iter_next(d), i++) {
		size_t kl, vl;
		const uint8_t *k = lsm_db_iter_key(d, &kl), *v = lsm_db_iter_value(d, &vl);
		if (i >= n || kl != want[i].kl || memcmp(k, want[i].k, kl) || vl != want[i].vl ||
		    memcmp(v, want[i].v, vl)) {
			bad++;
			break;
		}
	}
	return bad + (i != n) + (lsm_db_iter_status(d) != LSM_OK);
}

static void t_db_iter_model(void *ctx)
{
	(void)ctx;
	unsigned long long s = seed + 1;
	static struct history h;
	static struct kv want[128];
	history_make(&h, &s);
	int bad = 0, queries = 0, nonempty = 0;
	for (int q = 0; q < 400; q++) {
		uint8_t lo[8], up[8], pre[8], from[8];
		struct lsm_db_iter_opts o = { 0 };
		switch (rnd(&s) % 6) { /* snapshots: none visible, all, in every source */
		case 0: o.snapshot_seq = rnd(&s) % 3; break;
		case 1: o.snapshot_seq = UINT64_MAX; break;
		default: o.snapshot_seq = rnd(&s) % (HIST + 1);
		}
		if (rnd(&s) % 3 == 0) {
			o.lower_len = random_key(&s, lo, 3);
			o.lower = lo;
		}
		if (rnd(&s) % 3 == 0) {
			o.upper_len = random_key(&s, up, 3);
			o.upper = up;
		}
		if (rnd(&s) % 3 == 0) {
			o.prefix_len = random_key(&s, pre, 2);
			o.prefix = pre;
		}
		struct lsm_db_iter *d = history_iter(&h, &o);
		if (!d) {
			bad++;
			continue;
		}
		size_t n = model_scan(&h, &o, NULL, 0, want);
		nonempty += n > 0;
		lsm_db_iter_seek_first(d);
		bad += compare_rest(d, want, n);
		/* then seeks to random keys, from any state (even exhausted) */
		for (int k = 0; k < 3; k++) {
			size_t fl = random_key(&s, from, 4);
			n = model_scan(&h, &o, from, fl, want);
			lsm_db_iter_seek(d, from, fl);
			bad += compare_rest(d, want, n);
		}
		lsm_db_iter_free(d);
		queries++;
	}
	CHECK_MSG(bad == 0, "%d scans of %d queries differ from the model", bad, queries);
	CHECK(nonempty > queries / 4); /* the model test is not vacuous */
	history_free(&h);
}

static bool next_is(struct lsm_db_iter *d, const char *key, const char *val)
{
	size_t kl, vl;
	if (!lsm_db_iter_valid(d))
		return false;
	const uint8_t *k = lsm_db_iter_key(d, &kl), *v = lsm_db_iter_value(d, &vl);
	bool ok = kl == strlen(key) && !memcmp(k, key, kl) && vl == strlen(val) &&
		  !memcmp(v, val, vl);
	lsm_db_iter_next(d);
	return ok;
}

static struct lsm_db_iter *over(struct lsm_memtable *mt, uint64_t snap, const char *lower,
				const char *upper, const char *prefix)
{
	struct lsm_db_iter_opts o = { .snapshot_seq = snap };
	struct lsm_db_iter *d = NULL;
	if (lower) {
		o.lower = lower;
		o.lower_len = strlen(lower);
	}
	if (upper) {
		o.upper = upper;
		o.upper_len = strlen(upper);
	}
	if (prefix) {
		o.prefix = prefix;
		o.prefix_len = strlen(prefix);
	}
	struct lsm_iter *kids[1] = { mt_iter(mt) }, *m;
	CHECK(lsm_merge_iter_new(kids, 1, &m) == LSM_OK);
	CHECK(lsm_db_iter_new(m, &o, &d) == LSM_OK);
	return d;
}

static void t_db_iter_cases(void *ctx)
{
	(void)ctx;
	struct lsm_memtable *mt;
	struct lsm_db_iter *d;
	REQUIRE(lsm_memtable_new(&mt) == LSM_OK);
	static const char *keys[] = { "a", "ab", "abc", "abd", "ac", "b" };
	uint64_t seq = 0;
	for (int i = 0; i < 6; i++)
		CHECK(lsm_memtable_add(mt, ++seq, LSM_TYPE_PUT, keys[i], strlen(keys[i]), "1", 1) ==
		      LSM_OK);
	CHECK(lsm_memtable_add(mt, ++seq, LSM_TYPE_PUT, "abc", 3, "2", 1) == LSM_OK); /* 7 */
	CHECK(lsm_memtable_add(mt, ++seq, LSM_TYPE_DELETE, "abd", 3, NULL, 0) == LSM_OK); /* 8 */
	CHECK(lsm_memtable_add(mt, ++seq, LSM_TYPE_PUT, "abd", 3, "3", 1) == LSM_OK); /* 9 */
	CHECK(lsm_memtable_add(mt, ++seq, LSM_TYPE_DELETE, "b", 1, NULL, 0) == LSM_OK); /* 10 */

	d = over(mt, 100, NULL, NULL, "ab"); /* prefix */
	lsm_db_iter_seek_first(d);
	CHECK(next_is(d, "ab", "1") && next_is(d, "abc", "2") && next_is(d, "abd", "3"));
	CHECK(!lsm_db_iter_valid(d) && lsm_db_iter_status(d) == LSM_OK);
	lsm_db_iter_seek(d, "a", 1); /* below the prefix: starts at it */
	CHECK(next_is(d, "ab", "1"));
	lsm_db_iter_seek(d, "abca", 4);
	CHECK(next_is(d, "abd", "3") && !lsm_db_iter_valid(d));
	lsm_db_iter_seek(d, "b", 1); /* past the prefix */
	CHECK(!lsm_db_iter_valid(d));
	lsm_db_iter_free(d);

	d = over(mt, 8, NULL, NULL, NULL); /* snapshot 8: abd deleted, b still there */
	lsm_db_iter_seek_first(d);
	CHECK(next_is(d, "a", "1") && next_is(d, "ab", "1") && next_is(d, "abc", "2") &&
	      next_is(d, "ac", "1") && next_is(d, "b", "1") && !lsm_db_iter_valid(d));
	lsm_db_iter_free(d);

	d = over(mt, 6, "ab", "ac", NULL); /* bounds; snapshot 6 sees the first abc */
	lsm_db_iter_seek_first(d);
	CHECK(next_is(d, "ab", "1") && next_is(d, "abc", "1") && next_is(d, "abd", "1") &&
	      !lsm_db_iter_valid(d));
	lsm_db_iter_free(d);

	d = over(mt, 100, "abc", "abd", "ab"); /* bounds and prefix together */
	lsm_db_iter_seek_first(d);
	CHECK(next_is(d, "abc", "2") && !lsm_db_iter_valid(d));
	lsm_db_iter_free(d);

	d = over(mt, 100, "b", NULL, "ab"); /* lower bound past the prefix */
	lsm_db_iter_seek_first(d);
	CHECK(!lsm_db_iter_valid(d) && lsm_db_iter_status(d) == LSM_OK);
	lsm_db_iter_free(d);

	d = over(mt, 100, NULL, "", NULL); /* empty upper bound: nothing */
	lsm_db_iter_seek_first(d);
	CHECK(!lsm_db_iter_valid(d));
	lsm_db_iter_free(d);

	d = over(mt, 0, NULL, NULL, NULL); /* snapshot 0: nothing visible */
	lsm_db_iter_seek_first(d);
	CHECK(!lsm_db_iter_valid(d) && lsm_db_iter_status(d) == LSM_OK);
	lsm_db_iter_free(d);
	lsm_memtable_unref(mt);
}

static lsm_status resolve_ref(void *ctx, const uint8_t *ref, size_t n, struct lsm_buf *out)
{
	(void)ctx;
	out->len = 0;
	lsm_status st = lsm_buf_append(out, "resolved ", 9);
	return st ? st : lsm_buf_append(out, ref, n);
}

static void t_db_iter_corrupt(void *ctx)
{
	(void)ctx;
	struct lsm_memtable *mt;
	struct lsm_db_iter *d;
	REQUIRE(lsm_memtable_new(&mt) == LSM_OK);
	CHECK(lsm_memtable_add(mt, 1, LSM_TYPE_PUT, "a", 1, "1", 1) == LSM_OK);
	CHECK(lsm_memtable_add(mt, 2, LSM_TYPE_BLOB_REF, "b", 1, "ref", 3) == LSM_OK);
	CHECK(lsm_memtable_add(mt, 3, LSM_TYPE_PUT, "c", 1, "3", 1) == LSM_OK);
	/* a value stored out of line with no resolver: its key is listed, its
	 * value is corruption */
	d = over(mt, 100, NULL, NULL, NULL);
	lsm_db_iter_seek_first(d);
	CHECK(next_is(d, "a", "1"));
	size_t kl, vl;
	CHECK(lsm_db_iter_valid(d) && lsm_db_iter_key(d, &kl) && kl == 1);
	lsm_db_iter_value(d, &vl);
	CHECK(!lsm_db_iter_valid(d) && lsm_db_iter_status(d) == LSM_ECORRUPT && vl == 0);
	lsm_db_iter_seek(d, "c", 1); /* past it: fine */
	CHECK(next_is(d, "c", "3") && lsm_db_iter_status(d) == LSM_OK);
	lsm_db_iter_free(d);

	/* with a resolver, the value is what it names */
	struct lsm_db_iter_opts ro = { .snapshot_seq = 100, .resolve = resolve_ref };
	struct lsm_iter *in;
	REQUIRE(lsm_memtable_iter(mt, &in) == LSM_OK);
	REQUIRE(lsm_db_iter_new(in, &ro, &d) == LSM_OK);
	lsm_db_iter_seek_first(d);
	CHECK(next_is(d, "a", "1") && next_is(d, "b", "resolved ref") && next_is(d, "c", "3"));
	CHECK(lsm_db_iter_status(d) == LSM_OK);
	lsm_db_iter_free(d);
	lsm_memtable_unref(mt);

	/* an unknown type, and a key shorter than its trailer, from a source */
	struct entry e[2];
	entry_set(&e[0], "a", 1, 5, LSM_TYPE_PUT, "1", 1);
	entry_set(&e[1], "b", 1, 4, 9, "x", 1);
	struct lsm_db_iter_opts o = { .snapshot_seq = 100 };
	REQUIRE(lsm_db_iter_new(vec_new(e, 2, SIZE_MAX), &o, &d) == LSM_OK);
	lsm_db_iter_seek_first(d);
	CHECK(next_is(d, "a", "1") && !lsm_db_iter_valid(d));
	CHECK(lsm_db_iter_status(d) == LSM_ECORRUPT);
	lsm_db_iter_free(d);
	e[1].klen = 5;
	REQUIRE(lsm_db_iter_new(vec_new(e, 2, SIZE_MAX), &o, &d) == LSM_OK);
	lsm_db_iter_seek_first(d);
	CHECK(next_is(d, "a", "1") && lsm_db_iter_status(d) == LSM_ECORRUPT);
	lsm_db_iter_free(d);

	/* a source's error ends the iteration with that error */
	struct entry f[10];
	for (int i = 0; i < 10; i++) {
		char k[2] = { (char)('a' + i), 0 };
		entry_set(&f[i], k, 1, 10 + (uint64_t)i, LSM_TYPE_PUT, "v", 1);
	}
	struct lsm_iter *kids[2] = { vec_new(f, 10, 4), vec_new(e, 1, SIZE_MAX) }, *m;
	REQUIRE(lsm_merge_iter_new(kids, 2, &m) == LSM_OK);
	REQUIRE(lsm_db_iter_new(m, &o, &d) == LSM_OK);
	int n = 0;
	for (lsm_db_iter_seek_first(d); lsm_db_iter_valid(d); lsm_db_iter_next(d))
		n++;
	CHECK(n == 4 && lsm_db_iter_status(d) == LSM_ECORRUPT);
	lsm_db_iter_free(d);
}

int main(int argc, char **argv)
{
	if (argc > 1)
		tl_set_filter(argv[1]);
	seed = tl_seed();
	tl_run("merge_model", t_merge_model, NULL);
	tl_run("merge_ties", t_merge_ties, NULL);
	tl_run("merge_errors", t_merge_errors, NULL);
	tl_run("db_iter_model", t_db_iter_model, NULL);
	tl_run("db_iter_cases", t_db_iter_cases, NULL);
	tl_run("db_iter_corrupt", t_db_iter_corrupt, NULL);
	return tl_finish();
}
