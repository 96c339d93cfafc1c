/* tests/lsm/test_sst.c - SST build + read: round trips against a model
 * (versions, tombstones, snapshots), seeks, compression, large values, the
 * empty SST, option checks, and corruption of every region. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "block.h"
#include "block_builder.h"
#include "block_cache.h"
#include "coding.h"
#include "ikey.h"
#include "sst_builder.h"
#include "sst_reader.h"
#include "testlib.h"

/* ---- a model: sorted entries, versions grouped per user key ---- */

struct ent {
	uint8_t *k, *v;
	size_t kl, vl;
};

struct dataset {
	struct ent *e;
	size_t n;
	size_t *first; /* first[u] = index of user key u's newest version; first[nu] = n */
	size_t nu;
};

static uint64_t rnd(unsigned long long *s)
{
	*s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
	uint64_t x = *s;
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 29;
	return x;
}

static int cmp_ukey(const void *a, const void *b)
{
	const struct ent *x = a, *y = b;
	return lsm_ukey_compare(x->k, x->kl, y->k, y->kl);
}

static int cmp_u64_desc(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? 1 : x > y ? -1 : 0;
}

/* nu_want random user keys (1..24 bytes), 1..maxv versions each (distinct
 * seqs, newest first), ~15% tombstones, ~3% blob refs, values 0..maxval
 * bytes, half of them compressible. */
static void gen(struct dataset *d, size_t nu_want, unsigned maxv, size_t maxval,
		unsigned long long *s)
{
	struct ent *u = calloc(nu_want, sizeof(*u));
	for (size_t i = 0; i < nu_want; i++) {
		u[i].kl = 1 + rnd(s) % 24;
		u[i].k = malloc(u[i].kl);
		for (size_t j = 0; j < u[i].kl; j++)
			u[i].k[j] = (uint8_t)rnd(s);
	}
	qsort(u, nu_want, sizeof(*u), cmp_ukey);
	size_t nu = 0;
	for (size_t i = 0; i < nu_want; i++) {
		if (nu && !cmp_ukey(&u[nu - 1], &u[i])) {
			free(u[i].k);
			continue;
		}
		u[nu++] = u[i];
	}
	d->e = malloc(nu * maxv * sizeof(*d->e));
	d->first = malloc((nu + 1) * sizeof(size_t));
	d->n = 0;
	d->nu = nu;
	for (size_t i = 0; i < nu; i++) {
		unsigned nv = 1 + (unsigned)(rnd(s) % maxv);
		uint64_t seqs[8];
		for (unsigned j = 0; j < nv; j++) {
			uint64_t q;
			bool dup;
			do {
				q = 1 + rnd(s) % 1000000;
				dup = false;
				for (unsigned x = 0; x < j; x++)
					dup |= seqs[x] == q;
			} while (dup);
			seqs[j] = q;
		}
		qsort(seqs, nv, sizeof(seqs[0]), cmp_u64_desc);
		d->first[i] = d->n;
		for (unsigned j = 0; j < nv; j++) {
			struct ent *e = &d->e[d->n++];
			unsigned r = (unsigned)(rnd(s) % 100);
			enum lsm_type t = r < 15 ? LSM_TYPE_DELETE : r < 18 ? LSM_TYPE_BLOB_REF : LSM_TYPE_PUT;
			e->kl = u[i].kl + 8;
			e->k = malloc(e->kl);
			lsm_ikey_encode(e->k, u[i].k, u[i].kl, seqs[j], t);
			e->vl = t == LSM_TYPE_DELETE ? 0 : (size_t)(rnd(s) % (maxval + 1));
			e->v = malloc(e->vl ? e->vl : 1);
			bool text = rnd(s) & 1;
			for (size_t x = 0; x < e->vl; x++)
				e->v[x] = text ? (uint8_t)("abcdefgh"[(x / 5) % 8]) : (uint8_t)rnd(s);
		}
		free(u[i].k);
	}
	d->first[nu] = d->n;
	free(u);
}

static void ds_free(struct dataset *d)
{
	for (size_t i = 0; i < d->n; i++) {
		free(d->e[i].k);
		free(d->e[i].v);
	}
	free(d->e);
	free(d->first);
}

static lsm_status build(const struct dataset *d, const struct lsm_sst_options *o,
			struct lsm_buf *out)
{
	struct lsm_sst_builder *b;
	lsm_status st = lsm_sst_builder_new(o, &b);
	if (st)
		return st;
	for (size_t i = 0; i < d->n && !st; i++)
		st = lsm_sst_builder_add(b, d->e[i].k, d->e[i].kl, d->e[i].v, d->e[i].vl);
	if (!st)
		st = lsm_sst_builder_finish(b, out);
	if (!st && lsm_sst_builder_estimated_size(b) != out->len)
		st = LSM_EINVAL;
	lsm_sst_builder_free(b);
	return st;
}

static bool ent_eq(const struct ent *e, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
{
	return e->kl == kl && !memcmp(e->k, k, kl) && e->vl == vl && (!vl || !memcmp(e->v, v, vl));
}

/* Compares a full scan with the model; returns the mismatches. */
static size_t check_scan(struct lsm_sst *sst, const struct dataset *d)
{
	struct lsm_iter *it;
	if (lsm_sst_iter(sst, &it))
		return 1;
	size_t i = 0, bad = 0;
	for (lsm_iter_seek_first(it); lsm_iter_valid(it); lsm_iter_next(it), i++) {
		size_t kl, vl;
		const uint8_t *k = lsm_iter_key(it, &kl), *v = lsm_iter_value(it, &vl);
		if (i >= d->n || !ent_eq(&d->e[i], k, kl, v, vl)) {
			bad++;
			break;
		}
	}
	bad += i != d->n;
	bad += lsm_iter_status(it) != LSM_OK;
	lsm_iter_destroy(it);
	return bad;
}

/* The model's answer for (user key u, snapshot): entry index or -1. */
static long model_get(const struct dataset *d, size_t u, uint64_t snap)
{
	for (size_t i = d->first[u]; i < d->first[u + 1]; i++)
		if (lsm_ikey_seq(d->e[i].k, d->e[i].kl) <= snap)
			return (long)i;
	return -1;
}

static bool get_matches(struct lsm_sst *sst, const struct dataset *d, size_t u, uint64_t snap,
			struct lsm_buf *val)
{
	const struct ent *f = &d->e[d->first[u]];
	enum lsm_type t = (enum lsm_type)99;
	lsm_status st = lsm_sst_get(sst, f->k, f->kl - 8, snap, &t, val);
	long want = model_get(d, u, snap);
	if (want < 0)
		return st == LSM_ENOTFOUND;
	const struct ent *e = &d->e[want];
	return st == LSM_OK && t == lsm_ikey_type(e->k, e->kl) && val->len == e->vl &&
	       (!e->vl || !memcmp(val->data, e->v, e->vl));
}

/* Gets at several snapshots for every stride-th user key; mismatches. */
static size_t check_gets(struct lsm_sst *sst, const struct dataset *d, size_t stride)
{
	struct lsm_buf val = { 0 };
	size_t bad = 0;
	for (size_t u = 0; u < d->nu; u += stride) {
		bad += !get_matches(sst, d, u, LSM_SEQ_MAX, &val);
		bad += !get_matches(sst, d, u, UINT64_MAX, &val); /* clamped */
		bad += !get_matches(sst, d, u, 0, &val);
		for (size_t i = d->first[u]; i < d->first[u + 1]; i++) {
			uint64_t q = lsm_ikey_seq(d->e[i].k, d->e[i].kl);
			bad += !get_matches(sst, d, u, q, &val);
			bad += !get_matches(sst, d, u, q - 1, &val);
			bad += !get_matches(sst, d, u, q + 1, &val);
		}
	}
	lsm_buf_free(&val);
	return bad;
}

/* Random seeks (existing and random user keys, random seqs) against the
 * model's lower bound, then a few steps. Returns mismatches. */
static size_t check_seeks(struct lsm_sst *sst, const struct dataset *d, unsigned count,
			  unsigned long long *s)
{
	struct lsm_iter *it;
	if (lsm_sst_iter(sst, &it))
		return 1;
	size_t bad = 0;
	uint8_t t[40];
	for (unsigned c = 0; c < count; c++) {
		size_t tl;
		uint64_t seq = rnd(s) % 1000002;
		if (d->n && rnd(s) % 2) {
			const struct ent *e = &d->e[rnd(s) % d->n];
			lsm_ikey_encode(t, e->k, e->kl - 8, seq, LSM_TYPE_PUT);
			tl = e->kl;
		} else {
			uint8_t u[24];
			size_t ul = 1 + rnd(s) % 24;
			for (size_t j = 0; j < ul; j++)
				u[j] = (uint8_t)rnd(s);
			lsm_ikey_encode(t, u, ul, seq, LSM_TYPE_PUT);
			tl = ul + 8;
		}
		size_t lo = 0, hi = d->n; /* first entry >= t */
		while (lo < hi) {
			size_t mid = (lo + hi) / 2;
			if (lsm_ikey_compare(d->e[mid].k, d->e[mid].kl, t, tl) < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		lsm_iter_seek(it, t, tl);
		for (int step = 0; step < 3; step++, lo++) {
			if (lo >= d->n) {
				bad += lsm_iter_valid(it) || lsm_iter_status(it) != LSM_OK;
				break;
			}
			size_t kl, vl;
			if (!lsm_iter_valid(it)) {
				bad++;
				break;
			}
			const uint8_t *k = lsm_iter_key(it, &kl), *v = lsm_iter_value(it, &vl);
			bad += !ent_eq(&d->e[lo], k, kl, v, vl);
			lsm_iter_next(it);
		}
	}
	lsm_iter_destroy(it);
	return bad;
}

static void check_props(const struct lsm_sst_props *p, const struct dataset *d)
{
	uint64_t dels = 0, kb = 0, vb = 0, mn = UINT64_MAX, mx = 0;
	for (size_t i = 0; i < d->n; i++) {
		uint64_t q = lsm_ikey_seq(d->e[i].k, d->e[i].kl);
		dels += lsm_ikey_type(d->e[i].k, d->e[i].kl) == LSM_TYPE_DELETE;
		kb += d->e[i].kl;
		vb += d->e[i].vl;
		mn = q < mn ? q : mn;
		mx = q > mx ? q : mx;
	}
	CHECK(p->format_version == LSM_SST_FORMAT_VERSION);
	CHECK(p->entries == d->n);
	CHECK(p->deletes == dels);
	CHECK(p->raw_key_bytes == kb && p->raw_value_bytes == vb);
	if (d->n) {
		CHECK(p->min_seq == mn && p->max_seq == mx);
		CHECK(p->smallest_len == d->e[0].kl && !memcmp(p->smallest, d->e[0].k, p->smallest_len));
		CHECK(p->largest_len == d->e[d->n - 1].kl &&
		      !memcmp(p->largest, d->e[d->n - 1].k, p->largest_len));
		CHECK(p->data_blocks > 0);
	} else {
		CHECK(p->smallest_len == 0 && p->largest_len == 0 && p->data_blocks == 0);
	}
}

/* ---- tests ---- */

static void t_roundtrip(void *ctx)
{
	(void)ctx;
	unsigned long long seed = tl_seed(), s = seed;
	struct dataset d;
	gen(&d, 50000, 3, 200, &s);
	struct lsm_buf obj = { 0 };
	REQUIRE(build(&d, NULL, &obj) == LSM_OK);
	printf("  %zu entries, %zu user keys -> %zu-byte SST\n", d.n, d.nu, obj.len);

	struct lsm_mem_object mo = { obj.data, obj.len };
	struct lsm_block_cache *cache;
	REQUIRE(lsm_block_cache_new(64 << 20, 0, &cache) == LSM_OK);
	struct lsm_sst *sst, *raw;
	REQUIRE(lsm_sst_open(lsm_read_mem, &mo, obj.len, cache, 1, &sst) == LSM_OK);
	REQUIRE(lsm_sst_open(lsm_read_mem, &mo, obj.len, NULL, 0, &raw) == LSM_OK);
	check_props(lsm_sst_props(sst), &d);
	CHECK(lsm_sst_object_size(sst) == obj.len);

	CHECK(check_scan(sst, &d) == 0);
	CHECK(check_scan(raw, &d) == 0);
	size_t bad = check_gets(sst, &d, 1);
	CHECK_MSG(bad == 0, "%zu gets wrong (cached)", bad);
	bad = check_gets(raw, &d, 7);
	CHECK_MSG(bad == 0, "%zu gets wrong (uncached)", bad);
	bad = check_seeks(sst, &d, 5000, &s);
	CHECK_MSG(bad == 0, "%zu seek steps wrong", bad);

	/* a present key costs exactly one block fetch (separators are tight:
	 * the index never sends a lookup to the block before the key's) */
	struct lsm_sst_stats before, after;
	struct lsm_buf val = { 0 };
	lsm_sst_stats(raw, &before);
	for (size_t u = 0; u < d.nu; u += 13) {
		const struct ent *f = &d.e[d.first[u]];
		enum lsm_type t;
		CHECK(lsm_sst_get(raw, f->k, f->kl - 8, LSM_SEQ_MAX, &t, &val) == LSM_OK);
	}
	lsm_sst_stats(raw, &after);
	CHECK(after.block_fetches - before.block_fetches == (d.nu + 12) / 13);

	/* absent keys: 25 bytes long, so never among the 1..24-byte keys */
	lsm_sst_stats(raw, &before);
	unsigned notfound = 0, n_absent = 10000;
	for (unsigned i = 0; i < n_absent; i++) {
		uint8_t k[25];
		for (int j = 0; j < 25; j++)
			k[j] = (uint8_t)rnd(&s);
		enum lsm_type t;
		notfound += lsm_sst_get(raw, k, 25, LSM_SEQ_MAX, &t, &val) == LSM_ENOTFOUND;
	}
	lsm_sst_stats(raw, &after);
	CHECK(notfound == n_absent);
	uint64_t neg = after.bloom_negatives - before.bloom_negatives;
	uint64_t fp = after.bloom_false_positives - before.bloom_false_positives;
	uint64_t fetched = after.block_fetches - before.block_fetches;
	printf("  absent gets: %llu bloom negatives, %llu false positives, %llu block fetches\n",
	       (unsigned long long)neg, (unsigned long long)fp, (unsigned long long)fetched);
	CHECK(after.gets - before.gets == n_absent);
	CHECK(neg >= n_absent * 95 / 100);
	CHECK(fetched == fp); /* the filter saved a fetch for every negative */
	lsm_buf_free(&val);

	/* the cache served repeated reads */
	struct lsm_sst_stats cs;
	lsm_sst_stats(sst, &cs);
	CHECK(cs.block_fetches <= lsm_sst_props(sst)->data_blocks);
	CHECK(cs.block_cache_hits > cs.block_fetches);

	lsm_sst_close(sst);
	lsm_sst_close(raw);
	lsm_block_cache_free(cache);
	lsm_buf_free(&obj);
	ds_free(&d);
}

static void t_compression(void *ctx)
{
	(void)ctx;
	unsigned long long s = tl_seed();
	struct dataset d;
	gen(&d, 5000, 2, 400, &s);
	static const int levels[] = { 0, 1, 3, 19, -5 };
	size_t sizes[5];
	for (int i = 0; i < 5; i++) {
		struct lsm_sst_options o;
		lsm_sst_options_default(&o);
		o.compression_level = levels[i];
		struct lsm_buf obj = { 0 };
		REQUIRE(build(&d, &o, &obj) == LSM_OK);
		sizes[i] = obj.len;
		struct lsm_mem_object mo = { obj.data, obj.len };
		struct lsm_sst *sst;
		REQUIRE(lsm_sst_open(lsm_read_mem, &mo, obj.len, NULL, 0, &sst) == LSM_OK);
		CHECK_MSG(check_scan(sst, &d) == 0, "level %d", levels[i]);
		CHECK_MSG(check_gets(sst, &d, 3) == 0, "level %d", levels[i]);
		lsm_sst_close(sst);
		lsm_buf_free(&obj);
	}
	printf("  sizes: off %zu, zstd-1 %zu, zstd-3 %zu, zstd-19 %zu, zstd--5 %zu\n", sizes[0],
	       sizes[1], sizes[2], sizes[3], sizes[4]);
	/* half the values are text: compression must show */
	CHECK(sizes[1] < sizes[0] * 85 / 100 && sizes[2] < sizes[0] * 85 / 100);
	CHECK(sizes[3] <= sizes[2]);
	CHECK(sizes[4] < sizes[0]);
	ds_free(&d);
}

static void t_value_sizes(void *ctx)
{
	(void)ctx;
	unsigned long long s = tl_seed();
	static const size_t sizes[] = { 0, 1, 100, 4095, 4096, 4097, 65536, 300000, 1 << 20, 5,
					1 << 20, 0 };
	const size_t n = sizeof(sizes) / sizeof(sizes[0]);
	struct dataset d = { 0 };
	d.e = calloc(n, sizeof(*d.e));
	d.first = calloc(n + 1, sizeof(size_t));
	for (size_t i = 0; i < n; i++) {
		struct ent *e = &d.e[i];
		char u[8];
		snprintf(u, sizeof(u), "v%02zu", i);
		e->kl = 11;
		e->k = malloc(11);
		lsm_ikey_encode(e->k, u, 3, 1000 + i, LSM_TYPE_PUT);
		e->vl = sizes[i];
		e->v = malloc(e->vl ? e->vl : 1);
		if (i % 2)
			tl_fill_random(e->v, e->vl, &s);
		else
			for (size_t j = 0; j < e->vl; j++)
				e->v[j] = (uint8_t)(j / 100);
		d.first[i] = i;
	}
	d.n = d.nu = n;
	d.first[n] = n;
	for (int level = 0; level <= 3; level += 3) {
		struct lsm_sst_options o;
		lsm_sst_options_default(&o);
		o.compression_level = level;
		struct lsm_buf obj = { 0 };
		REQUIRE(build(&d, &o, &obj) == LSM_OK);
		struct lsm_mem_object mo = { obj.data, obj.len };
		struct lsm_sst *sst;
		REQUIRE(lsm_sst_open(lsm_read_mem, &mo, obj.len, NULL, 0, &sst) == LSM_OK);
		CHECK(check_scan(sst, &d) == 0);
		CHECK(check_gets(sst, &d, 1) == 0);
		/* one block per value beyond the block size */
		CHECK(lsm_sst_props(sst)->data_blocks >= 6);
		printf("  level %d: %zu bytes for %zu value bytes\n", level, obj.len,
		       (size_t)lsm_sst_props(sst)->raw_value_bytes);
		lsm_sst_close(sst);
		lsm_buf_free(&obj);
	}
	ds_free(&d);
}

static void t_empty(void *ctx)
{
	(void)ctx;
	for (unsigned bloom = 0; bloom <= 10; bloom += 10) {
		struct lsm_sst_options o;
		lsm_sst_options_default(&o);
		o.bloom_bits_per_key = bloom;
		struct lsm_sst_builder *b;
		REQUIRE(lsm_sst_builder_new(&o, &b) == LSM_OK);
		struct lsm_buf obj = { 0 };
		REQUIRE(lsm_sst_builder_finish(b, &obj) == LSM_OK);
		CHECK(lsm_sst_builder_finish(b, &obj) == LSM_EINVAL);
		uint8_t k[16];
		lsm_ikey_encode(k, "a", 1, 1, LSM_TYPE_PUT);
		CHECK(lsm_sst_builder_add(b, k, 9, NULL, 0) == LSM_EINVAL);
		lsm_sst_builder_free(b);
		struct lsm_mem_object mo = { obj.data, obj.len };
		struct lsm_sst *sst;
		REQUIRE(lsm_sst_open(lsm_read_mem, &mo, obj.len, NULL, 0, &sst) == LSM_OK);
		struct dataset d = { 0 };
		size_t first = 0;
		d.first = &first;
		check_props(lsm_sst_props(sst), &d);
		struct lsm_buf val = { 0 };
		enum lsm_type t;
		CHECK(lsm_sst_get(sst, (const uint8_t *)"a", 1, LSM_SEQ_MAX, &t, &val) == LSM_ENOTFOUND);
		CHECK(lsm_sst_get(sst, NULL, 0, LSM_SEQ_MAX, &t, &val) == LSM_ENOTFOUND);
		struct lsm_iter *it;
		REQUIRE(lsm_sst_iter(sst, &it) == LSM_OK);
		lsm_iter_seek_first(it);
		CHECK(!lsm_iter_valid(it) && lsm_iter_status(it) == LSM_OK);
		lsm_iter_seek(it, k, 9);
		CHECK(!lsm_iter_valid(it) && lsm_iter_status(it) == LSM_OK);
		lsm_iter_destroy(it);
		lsm_sst_close(sst);
		lsm_buf_free(&obj);
	}
}

static void t_builder_checks(void *ctx)
{
	(void)ctx;
	struct lsm_sst_builder *b;
	struct lsm_sst_options o;
	lsm_sst_options_default(&o);
	o.compression_level = 1000;
	CHECK(lsm_sst_builder_new(&o, &b) == LSM_EINVAL);
	lsm_sst_options_default(&o);
	o.bloom_bits_per_key = 65;
	CHECK(lsm_sst_builder_new(&o, &b) == LSM_EINVAL);
	lsm_sst_options_default(&o);
	o.block_size = (size_t)2 << 30;
	CHECK(lsm_sst_builder_new(&o, &b) == LSM_EINVAL);

	REQUIRE(lsm_sst_builder_new(NULL, &b) == LSM_OK);
	uint8_t k1[16], k2[16], k3[16], bad[16];
	lsm_ikey_encode(k1, "b", 1, 10, LSM_TYPE_PUT);
	lsm_ikey_encode(k2, "b", 1, 9, LSM_TYPE_PUT);
	lsm_ikey_encode(k3, "c", 1, 1, LSM_TYPE_DELETE);
	CHECK(lsm_sst_builder_add(b, k1, 5, NULL, 0) == LSM_EINVAL); /* no internal key */
	lsm_ikey_encode(bad, "a", 1, 1, (enum lsm_type)3);
	CHECK(lsm_sst_builder_add(b, bad, 9, NULL, 0) == LSM_EINVAL); /* unknown type */
	CHECK(lsm_sst_builder_add(b, k2, 9, (const uint8_t *)"x", 1) == LSM_OK);
	CHECK(lsm_sst_builder_add(b, k2, 9, (const uint8_t *)"x", 1) == LSM_EINVAL); /* repeat */
	CHECK(lsm_sst_builder_add(b, k1, 9, (const uint8_t *)"y", 1) == LSM_EINVAL); /* newer after older */
	lsm_ikey_encode(bad, "a", 1, 1, LSM_TYPE_PUT);
	CHECK(lsm_sst_builder_add(b, bad, 9, NULL, 0) == LSM_EINVAL); /* smaller user key */
	CHECK(lsm_sst_builder_add(b, k3, 9, NULL, 0) == LSM_OK); /* refusals changed nothing */
	const struct lsm_sst_props *p = lsm_sst_builder_props(b);
	CHECK(p->entries == 2 && p->deletes == 1 && p->min_seq == 1 && p->max_seq == 9);
	struct lsm_buf obj = { 0 };
	REQUIRE(lsm_sst_builder_finish(b, &obj) == LSM_OK);
	CHECK(lsm_sst_builder_estimated_size(b) == obj.len);
	lsm_sst_builder_free(b);
	struct lsm_mem_object mo = { obj.data, obj.len };
	struct lsm_sst *sst;
	REQUIRE(lsm_sst_open(lsm_read_mem, &mo, obj.len, NULL, 0, &sst) == LSM_OK);
	CHECK(lsm_sst_props(sst)->entries == 2);
	struct lsm_buf val = { 0 };
	enum lsm_type t;
	CHECK(lsm_sst_get(sst, (const uint8_t *)"b", 1, 100, &t, &val) == LSM_OK && t == LSM_TYPE_PUT &&
	      val.len == 1 && val.data[0] == 'x');
	CHECK(lsm_sst_get(sst, (const uint8_t *)"c", 1, 100, &t, &val) == LSM_OK &&
	      t == LSM_TYPE_DELETE && val.len == 0);
	CHECK(lsm_sst_get(sst, (const uint8_t *)"c", 1, 0, &t, &val) == LSM_ENOTFOUND);
	lsm_buf_free(&val);
	lsm_sst_close(sst);
	lsm_buf_free(&obj);
}

/* Estimated size tracks the real size while building. */
static void t_estimate_and_options(void *ctx)
{
	(void)ctx;
	unsigned long long s = tl_seed();
	struct dataset d;
	gen(&d, 3000, 2, 100, &s);
	/* each get without a block cache reads and checksums its whole block (up
	 * to 1 MiB here): under ThreadSanitizer every 16th key, not every 2nd */
	const size_t stride = TL_TSAN ? 16 : 2;
	if (TL_TSAN)
		printf("  ThreadSanitizer: gets of every %zuth user key\n", stride);
	struct {
		size_t block;
		unsigned restart;
		int level;
		unsigned bloom;
	} cfg[] = { { 64, 1, 0, 0 }, { 1 << 20, 1000, 3, 10 }, { 512, 3, 1, 1 }, { 4096, 16, 3, 64 } };
	for (size_t c = 0; c < sizeof(cfg) / sizeof(cfg[0]); c++) {
		struct lsm_sst_options o = { cfg[c].block, cfg[c].restart, cfg[c].level, cfg[c].bloom };
		struct lsm_buf obj = { 0 };
		REQUIRE(build(&d, &o, &obj) == LSM_OK);
		struct lsm_mem_object mo = { obj.data, obj.len };
		struct lsm_sst *sst;
		REQUIRE(lsm_sst_open(lsm_read_mem, &mo, obj.len, NULL, 0, &sst) == LSM_OK);
		CHECK_MSG(check_scan(sst, &d) == 0, "config %zu", c);
		CHECK_MSG(check_gets(sst, &d, stride) == 0, "config %zu", c);
		CHECK_MSG(check_seeks(sst, &d, 500, &s) == 0, "config %zu", c);
		uint64_t blocks = lsm_sst_props(sst)->data_blocks;
		if (cfg[c].block == 64)
			CHECK(blocks > d.n / 2); /* most entries fill a 64-byte block alone */
		if (cfg[c].block == 1 << 20)
			CHECK(blocks == 1);
		/* no filter: gets of absent keys still right, no bloom negatives */
		struct lsm_buf val = { 0 };
		enum lsm_type t;
		CHECK(lsm_sst_get(sst, (const uint8_t *)"absent key of 25 bytes..", 25, LSM_SEQ_MAX, &t,
				  &val) == LSM_ENOTFOUND);
		struct lsm_sst_stats st;
		lsm_sst_stats(sst, &st);
		if (cfg[c].bloom == 0)
			CHECK(st.bloom_negatives == 0);
		lsm_buf_free(&val);
		lsm_sst_close(sst);
		lsm_buf_free(&obj);
	}

	/* the estimate during building stays within 10% (+ a block) of the
	 * size the SST would have */
	struct lsm_sst_builder *b;
	REQUIRE(lsm_sst_builder_new(NULL, &b) == LSM_OK);
	unsigned off = 0;
	for (size_t i = 0; i < d.n; i++) {
		CHECK(lsm_sst_builder_add(b, d.e[i].k, d.e[i].kl, d.e[i].v, d.e[i].vl) == LSM_OK);
		if (i + 1 == d.n / 2) {
			uint64_t est = lsm_sst_builder_estimated_size(b);
			struct dataset half = d;
			half.n = i + 1;
			struct lsm_buf obj = { 0 };
			REQUIRE(build(&half, NULL, &obj) == LSM_OK);
			off = (unsigned)(est > obj.len ? est - obj.len : obj.len - est);
			CHECK_MSG(off < obj.len / 10 + 4096, "estimate %llu, real %zu",
				  (unsigned long long)est, obj.len);
			lsm_buf_free(&obj);
		}
	}
	lsm_sst_builder_free(b);
	ds_free(&d);
}

/* ---- corruption ---- */

struct regions {
	uint64_t index_off, index_size, filter_off, filter_size, meta_off, meta_size, data_end;
};

/* From the footer, per docs/FORMAT.md. */
static void find_regions(const struct lsm_buf *obj, struct regions *r)
{
	const uint8_t *f = obj->data + obj->len - 68;
	r->index_off = lsm_dec_fixed64(f);
	r->index_size = lsm_dec_fixed64(f + 8);
	r->filter_off = lsm_dec_fixed64(f + 16);
	r->filter_size = lsm_dec_fixed64(f + 24);
	r->meta_off = lsm_dec_fixed64(f + 32);
	r->meta_size = lsm_dec_fixed64(f + 40);
	r->data_end = r->filter_size ? r->filter_off : r->index_off;
}

/* Opens obj[0..len) and, if that works, reads everything. Returns the
 * first error seen (LSM_OK if none); any wrong answer counts in *wrong. */
static lsm_status open_and_read(const uint8_t *p, size_t len, const struct dataset *d,
				bool gets, unsigned *wrong)
{
	struct lsm_mem_object mo = { p, len };
	struct lsm_sst *sst;
	lsm_status st = lsm_sst_open(lsm_read_mem, &mo, len, NULL, 0, &sst);
	if (st)
		return st;
	lsm_status first = LSM_OK;
	struct lsm_iter *it;
	if (lsm_sst_iter(sst, &it) == LSM_OK) {
		size_t i = 0;
		for (lsm_iter_seek_first(it); lsm_iter_valid(it); lsm_iter_next(it), i++) {
			size_t kl, vl;
			const uint8_t *k = lsm_iter_key(it, &kl), *v = lsm_iter_value(it, &vl);
			if (i >= d->n || !ent_eq(&d->e[i], k, kl, v, vl)) {
				(*wrong)++;
				break;
			}
		}
		if (lsm_iter_status(it))
			first = lsm_iter_status(it);
		else if (i != d->n)
			(*wrong)++;
		lsm_iter_destroy(it);
	}
	struct lsm_buf val = { 0 };
	for (size_t u = 0; gets && u < d->nu; u++) {
		const struct ent *f = &d->e[d->first[u]];
		enum lsm_type t;
		st = lsm_sst_get(sst, f->k, f->kl - 8, LSM_SEQ_MAX, &t, &val);
		if (st == LSM_ECORRUPT) {
			first = first ? first : st;
			continue;
		}
		if (!get_matches(sst, d, u, LSM_SEQ_MAX, &val))
			(*wrong)++;
	}
	lsm_buf_free(&val);
	lsm_sst_close(sst);
	return first;
}

static void t_corruption(void *ctx)
{
	(void)ctx;
	unsigned long long s = tl_seed();
	struct dataset d;
	gen(&d, 1500, 2, 60, &s);
	struct lsm_sst_options o;
	lsm_sst_options_default(&o);
	o.block_size = 1024;
	struct lsm_buf obj = { 0 };
	REQUIRE(build(&d, &o, &obj) == LSM_OK);
	struct regions r;
	find_regions(&obj, &r);
	REQUIRE(r.filter_size && r.data_end > 0 && r.meta_off + r.meta_size == obj.len - 68);
	uint8_t *p = obj.data;
	size_t n = obj.len;
	unsigned wrong = 0, missed = 0;

	/* each region the reader loads at open: every byte */
	struct {
		const char *name, *msg;
		uint64_t off, size;
	} reg[] = {
		{ "footer", NULL, n - 68, 68 },
		{ "index", "index", r.index_off, r.index_size },
		{ "filter", "filter", r.filter_off, r.filter_size },
		{ "meta", "meta", r.meta_off, r.meta_size },
	};
	for (size_t g = 0; g < 4; g++) {
		missed = 0;
		unsigned named = 0;
		for (uint64_t i = reg[g].off; i < reg[g].off + reg[g].size; i++) {
			p[i] ^= 0x08;
			lsm_status st = open_and_read(p, n, &d, false, &wrong);
			missed += st != LSM_ECORRUPT;
			if (reg[g].msg)
				named += strstr(lsm_last_error(), reg[g].msg) != NULL;
			p[i] ^= 0x08;
		}
		CHECK_MSG(missed == 0, "%s: %u of %llu flips not detected", reg[g].name, missed,
			  (unsigned long long)reg[g].size);
		if (reg[g].msg)
			CHECK_MSG(named == reg[g].size, "%s: error names it in %u of %llu", reg[g].name,
				  named, (unsigned long long)reg[g].size);
	}
	/* footer messages */
	p[n - 1] ^= 1;
	CHECK(open_and_read(p, n, &d, false, &wrong) == LSM_ECORRUPT &&
	      strstr(lsm_last_error(), "magic"));
	p[n - 1] ^= 1;
	p[n - 68] ^= 1;
	CHECK(open_and_read(p, n, &d, false, &wrong) == LSM_ECORRUPT &&
	      strstr(lsm_last_error(), "checksum"));
	p[n - 68] ^= 1;
	lsm_enc_fixed32(p + n - 20, 2); /* a future version, checksum fixed up */
	lsm_enc_fixed64(p + n - 16, lsm_checksum(p + n - 68, 52));
	CHECK(open_and_read(p, n, &d, false, &wrong) == LSM_ECORRUPT &&
	      strstr(lsm_last_error(), "version"));
	lsm_enc_fixed32(p + n - 20, 1);
	lsm_enc_fixed64(p + n - 16, lsm_checksum(p + n - 68, 52));
	CHECK(open_and_read(p, n, &d, true, &wrong) == LSM_OK);

	/* data blocks: open works (it does not read them), the scan stops with
	 * ECORRUPT, gets of the damaged block's keys fail, nothing is wrong */
	missed = 0;
	unsigned tries = 0;
	for (uint64_t i = 0; i < r.data_end; i += 1 + r.data_end / 97, tries++) {
		p[i] ^= 0x20;
		lsm_status st = open_and_read(p, n, &d, true, &wrong);
		missed += st != LSM_ECORRUPT;
		p[i] ^= 0x20;
	}
	CHECK_MSG(missed == 0, "data: %u of %u flips not detected", missed, tries);

	/* truncated objects (and one that lost its head) */
	static const size_t cut[] = { 1, 2, 8, 20, 67, 68, 69, 100, 1000 };
	missed = 0;
	for (size_t c = 0; c < sizeof(cut) / sizeof(cut[0]); c++) {
		uint8_t *t = malloc(n - cut[c]);
		memcpy(t, p, n - cut[c]);
		missed += open_and_read(t, n - cut[c], &d, true, &wrong) != LSM_ECORRUPT;
		free(t);
	}
	for (size_t len = 0; len <= 68; len++)
		missed += open_and_read(p, len, &d, true, &wrong) != LSM_ECORRUPT;
	missed += open_and_read(p, n / 2, &d, true, &wrong) != LSM_ECORRUPT;
	missed += open_and_read(p + n / 3, n - n / 3, &d, true, &wrong) != LSM_ECORRUPT;
	CHECK_MSG(missed == 0, "%u truncations not detected", missed);
	CHECK_MSG(wrong == 0, "%u wrong answers from corrupt SSTs", wrong);
	lsm_buf_free(&obj);
	ds_free(&d);
}

/* Rebuilds obj (compression off) with the first index entry's handle
 * replaced: data, filter and meta copied, index re-encoded, footer redone. */
static bool rewrite_first_handle(const struct lsm_buf *obj, const struct regions *r,
				 uint64_t off, uint64_t size, struct lsm_buf *out)
{
	uint8_t *owned;
	const uint8_t *raw;
	size_t rn;
	struct lsm_block ib;
	if (lsm_block_unwrap(obj->data + r->index_off, r->index_size, "i", 0, &owned, &raw, &rn) ||
	    owned || lsm_block_parse(raw, rn, &ib))
		return false;
	struct lsm_block_builder bb;
	lsm_block_builder_init(&bb, 1);
	struct lsm_block_iter it;
	lsm_block_iter_init(&it, &ib);
	bool first = true;
	for (lsm_iter_seek_first(&it.base); lsm_iter_valid(&it.base); lsm_iter_next(&it.base)) {
		size_t kl, vl;
		const uint8_t *k = lsm_iter_key(&it.base, &kl), *v = lsm_iter_value(&it.base, &vl);
		uint8_t h[20];
		if (first) {
			vl = lsm_enc_varint(h, off);
			vl += lsm_enc_varint(h + vl, size);
			v = h;
			first = false;
		}
		CHECK(lsm_block_builder_add(&bb, k, kl, v, vl) == LSM_OK);
	}
	lsm_block_iter_fini(&it);
	const uint8_t *bp;
	size_t bn;
	CHECK(lsm_block_builder_finish(&bb, &bp, &bn) == LSM_OK);
	/* data + filter, new index, meta, footer */
	CHECK(lsm_buf_append(out, obj->data, (size_t)r->index_off) == LSM_OK);
	uint64_t ioff = out->len;
	CHECK(lsm_block_store(out, bp, bn, 0, NULL) == LSM_OK);
	uint64_t isize = out->len - ioff, moff = out->len;
	CHECK(lsm_buf_append(out, obj->data + r->meta_off, (size_t)r->meta_size) == LSM_OK);
	uint8_t f[68];
	memcpy(f, obj->data + obj->len - 68, 68);
	lsm_enc_fixed64(f, ioff);
	lsm_enc_fixed64(f + 8, isize);
	lsm_enc_fixed64(f + 32, moff);
	lsm_enc_fixed64(f + 52, lsm_checksum(f, 52));
	CHECK(lsm_buf_append(out, f, 68) == LSM_OK);
	lsm_block_builder_free(&bb);
	return true;
}

/* Blocks whose checksums are right but whose contents lie. */
static void t_corruption_checksummed(void *ctx)
{
	(void)ctx;
	unsigned long long s = tl_seed();
	struct dataset d;
	gen(&d, 1000, 1, 60, &s);
	struct lsm_sst_options o;
	lsm_sst_options_default(&o);
	o.compression_level = 0;
	struct lsm_buf obj = { 0 };
	REQUIRE(build(&d, &o, &obj) == LSM_OK);
	struct regions r;
	find_regions(&obj, &r);
	/* the first data block: offset 0, size from the first index entry */
	uint8_t *owned;
	const uint8_t *raw;
	size_t rn;
	REQUIRE(lsm_block_unwrap(obj.data + r.index_off, r.index_size, "index", r.index_off, &owned,
				 &raw, &rn) == LSM_OK && !owned);
	struct lsm_block ib;
	REQUIRE(lsm_block_parse(raw, rn, &ib) == LSM_OK);
	struct lsm_block_iter it;
	lsm_block_iter_init(&it, &ib);
	lsm_iter_seek_first(&it.base);
	REQUIRE(lsm_iter_valid(&it.base));
	size_t vl;
	const uint8_t *v = lsm_iter_value(&it.base, &vl);
	struct lsm_cursor c = { v, vl };
	uint64_t boff, bsize;
	REQUIRE(lsm_get_varint(&c, &boff) && lsm_get_varint(&c, &bsize) && boff == 0);
	lsm_block_iter_fini(&it);

	uint8_t *p = obj.data;
	size_t plen = (size_t)bsize - 9;
	/* restart count far too large */
	lsm_enc_fixed32(p + plen - 4, 0x00ffffff);
	lsm_enc_fixed64(p + plen + 1, lsm_checksum(p, plen + 1));
	struct lsm_mem_object mo = { obj.data, obj.len };
	struct lsm_sst *sst;
	REQUIRE(lsm_sst_open(lsm_read_mem, &mo, obj.len, NULL, 0, &sst) == LSM_OK);
	struct lsm_buf val = { 0 };
	enum lsm_type t;
	CHECK(lsm_sst_get(sst, d.e[0].k, d.e[0].kl - 8, LSM_SEQ_MAX, &t, &val) == LSM_ECORRUPT);
	CHECK(strstr(lsm_last_error(), "data block at 0") != NULL);
	struct lsm_iter *si;
	REQUIRE(lsm_sst_iter(sst, &si) == LSM_OK);
	lsm_iter_seek_first(si);
	CHECK(!lsm_iter_valid(si) && lsm_iter_status(si) == LSM_ECORRUPT);
	/* the next blocks still read; a seek past the damage works */
	lsm_iter_seek(si, d.e[d.n - 1].k, d.e[d.n - 1].kl);
	CHECK(lsm_iter_valid(si) && lsm_iter_status(si) == LSM_OK);
	lsm_iter_destroy(si);
	/* unknown compression type byte in a data block */
	p[plen] = 9;
	lsm_enc_fixed64(p + plen + 1, lsm_checksum(p, plen + 1));
	CHECK(lsm_sst_get(sst, d.e[0].k, d.e[0].kl - 8, LSM_SEQ_MAX, &t, &val) == LSM_ECORRUPT);
	lsm_sst_close(sst);

	/* an index entry whose handle points at no block (checksum fixed up) */
	lsm_buf_free(&obj);
	REQUIRE(build(&d, &o, &obj) == LSM_OK);
	p = obj.data;
	uint8_t *ix = p + r.index_off;
	size_t ixlen = (size_t)r.index_size - 9;
	REQUIRE(ix[0] == 0 && ix[1] < 0x80 && ix[2] < 0x80 && ix[3 + ix[1]] == 0); /* offset 0 */
	ix[3 + ix[1]] = 0x7f;
	lsm_enc_fixed64(ix + ixlen + 1, lsm_checksum(ix, ixlen + 1));
	mo.data = obj.data;
	REQUIRE(lsm_sst_open(lsm_read_mem, &mo, obj.len, NULL, 0, &sst) == LSM_OK);
	CHECK(lsm_sst_get(sst, d.e[0].k, d.e[0].kl - 8, LSM_SEQ_MAX, &t, &val) == LSM_ECORRUPT);
	CHECK(open_and_read(obj.data, obj.len, &d, false, &(unsigned){ 0 }) == LSM_ECORRUPT);
	lsm_sst_close(sst);

	/* ... or past the data blocks: rebuild the object with an index whose
	 * first handle is (data_end - 5, 100), everything else intact */
	lsm_buf_free(&obj);
	REQUIRE(build(&d, &o, &obj) == LSM_OK);
	struct lsm_buf fixed = { 0 };
	REQUIRE(rewrite_first_handle(&obj, &r, r.data_end - 5, 100, &fixed));
	mo = (struct lsm_mem_object){ fixed.data, fixed.len };
	REQUIRE(lsm_sst_open(lsm_read_mem, &mo, fixed.len, NULL, 0, &sst) == LSM_OK);
	CHECK(lsm_sst_get(sst, d.e[0].k, d.e[0].kl - 8, LSM_SEQ_MAX, &t, &val) == LSM_ECORRUPT);
	CHECK(strstr(lsm_last_error(), "bad block handle") != NULL);
	/* the other blocks still read */
	const struct ent *last = &d.e[d.n - 1];
	CHECK(lsm_sst_get(sst, last->k, last->kl - 8, LSM_SEQ_MAX, &t, &val) == LSM_OK);
	lsm_buf_free(&fixed);
	lsm_sst_close(sst);

	/* an entry of an unknown type: checksummed, so only the type check catches it */
	lsm_buf_free(&obj);
	REQUIRE(build(&d, &o, &obj) == LSM_OK);
	p = obj.data;
	/* the first entry: 3 one-byte varints (0, klen, vlen), then the key */
	size_t k0 = d.e[0].kl;
	REQUIRE(p[0] == 0 && p[1] == k0);
	p[3 + k0 - 8] = 7; /* type byte of the trailer */
	lsm_enc_fixed64(p + plen + 1, lsm_checksum(p, plen + 1));
	mo.data = obj.data;
	REQUIRE(lsm_sst_open(lsm_read_mem, &mo, obj.len, NULL, 0, &sst) == LSM_OK);
	CHECK(lsm_sst_get(sst, d.e[0].k, d.e[0].kl - 8, LSM_SEQ_MAX, &t, &val) == LSM_ECORRUPT);
	lsm_sst_close(sst);
	lsm_buf_free(&val);
	lsm_buf_free(&obj);
	ds_free(&d);
}

/* Failures of the read callback come back as they are. */
struct flaky {
	struct lsm_mem_object mo;
	uint64_t fail_below; /* reads starting below this offset fail */
	lsm_status err;
	bool short_read;
};

static lsm_status flaky_read(void *ctx, uint64_t off, uint64_t len, struct lsm_buf *out)
{
	struct flaky *f = ctx;
	if (off < f->fail_below)
		return lsm_fail(f->err, "injected failure at %llu", (unsigned long long)off);
	if (f->short_read)
		len--;
	return lsm_read_mem(&f->mo, off, len, out);
}

static void t_read_errors(void *ctx)
{
	(void)ctx;
	unsigned long long s = tl_seed();
	struct dataset d;
	gen(&d, 500, 1, 60, &s);
	struct lsm_buf obj = { 0 };
	REQUIRE(build(&d, NULL, &obj) == LSM_OK);
	struct flaky f = { { obj.data, obj.len }, UINT64_MAX, LSM_EIO, false };
	struct lsm_sst *sst;
	CHECK(lsm_sst_open(flaky_read, &f, obj.len, NULL, 0, &sst) == LSM_EIO);
	f.err = LSM_ETRANSIENT;
	CHECK(lsm_sst_open(flaky_read, &f, obj.len, NULL, 0, &sst) == LSM_ETRANSIENT);
	f.fail_below = 0;
	f.short_read = true;
	CHECK(lsm_sst_open(flaky_read, &f, obj.len, NULL, 0, &sst) == LSM_ECORRUPT);
	CHECK(strstr(lsm_last_error(), "short read") != NULL);
	f.short_read = false;
	struct regions r;
	find_regions(&obj, &r);
	f.fail_below = r.data_end; /* data blocks fail */
	REQUIRE(lsm_sst_open(flaky_read, &f, obj.len, NULL, 0, &sst) == LSM_OK);
	struct lsm_buf val = { 0 };
	enum lsm_type t;
	CHECK(lsm_sst_get(sst, d.e[0].k, d.e[0].kl - 8, LSM_SEQ_MAX, &t, &val) == LSM_ETRANSIENT);
	struct lsm_iter *it;
	REQUIRE(lsm_sst_iter(sst, &it) == LSM_OK);
	lsm_iter_seek_first(it);
	CHECK(!lsm_iter_valid(it) && lsm_iter_status(it) == LSM_ETRANSIENT);
	/* the store recovers: the same iterator and reader work again */
	f.fail_below = 0;
	lsm_iter_seek_first(it);
	CHECK(lsm_iter_valid(it));
	lsm_iter_destroy(it);
	CHECK(check_gets(sst, &d, 1) == 0);
	lsm_sst_close(sst);
	lsm_buf_free(&val);
	lsm_buf_free(&obj);
	ds_free(&d);
}

int main(int argc, char **argv)
{
	if (argc > 1)
		tl_set_filter(argv[1]);
	tl_run("sst_roundtrip", t_roundtrip, NULL);
	tl_run("sst_compression", t_compression, NULL);
	tl_run("sst_value_sizes", t_value_sizes, NULL);
	tl_run("sst_empty", t_empty, NULL);
	tl_run("sst_builder_checks", t_builder_checks, NULL);
	tl_run("sst_options_and_estimate", t_estimate_and_options, NULL);
	tl_run("sst_corruption", t_corruption, NULL);
	tl_run("sst_corruption_checksummed", t_corruption_checksummed, NULL);
	tl_run("sst_read_errors", t_read_errors, NULL);
	return tl_finish();
}
