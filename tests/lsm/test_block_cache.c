/* tests/lsm/test_block_cache.c - the block cache: byte limit, LRU order,
 * reference counts under eviction, counters, and many threads reading one
 * SST through a small cache. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "block_cache.h"
#include "ikey.h"
#include "sst_builder.h"
#include "sst_reader.h"
#include "testlib.h"

/* A value that knows it is alive and counts its own deletion. */
#define LIVE 0x11fe5eedU
struct val {
	unsigned magic;
	uint64_t key;
};
static atomic_uint deleted;

static void val_delete(void *p)
{
	struct val *v = p;
	v->magic = 0xdeadu;
	atomic_fetch_add(&deleted, 1);
	free(v);
}

static struct val *mkval(uint64_t key)
{
	struct val *v = malloc(sizeof(*v));
	v->magic = LIVE;
	v->key = key;
	return v;
}

/* Inserts (id, key) with a charge and drops the handle. */
static void put(struct lsm_block_cache *c, uint64_t id, uint64_t key, size_t charge)
{
	struct lsm_cache_handle *h;
	struct val *v = mkval(key);
	REQUIRE(lsm_block_cache_insert(c, id, key, v, charge, val_delete, &h) == LSM_OK);
	lsm_block_cache_release(c, h);
}

static bool present(struct lsm_block_cache *c, uint64_t id, uint64_t key)
{
	struct lsm_cache_handle *h = lsm_block_cache_lookup(c, id, key);
	if (!h)
		return false;
	struct val *v = lsm_block_cache_value(h);
	bool ok = v->magic == LIVE && v->key == key;
	lsm_block_cache_release(c, h);
	return ok;
}

static void t_byte_limit(void *ctx)
{
	(void)ctx;
	unsigned long long s = tl_seed();
	static const unsigned shard_counts[] = { 1, 4, 16 };
	for (int x = 0; x < 3; x++) {
		atomic_store(&deleted, 0);
		struct lsm_block_cache *c;
		REQUIRE(lsm_block_cache_new(100000, shard_counts[x], &c) == LSM_OK);
		unsigned over = 0;
		size_t charged = 0;
		for (uint64_t i = 0; i < 5000; i++) {
			uint8_t r[2];
			tl_fill_random(r, 2, &s);
			size_t charge = 100 + (r[0] | r[1] << 8) % 1000;
			charged += charge;
			put(c, 7, i, charge);
			over += lsm_block_cache_usage(c) > 100000;
		}
		struct lsm_block_cache_stats st;
		lsm_block_cache_stats(c, &st);
		CHECK(over == 0);
		CHECK(st.capacity == 100000 && st.usage <= 100000);
		/* the cache is used, not just kept under the limit trivially */
		CHECK_MSG(st.usage > 100000 * 8 / 10, "usage %zu", st.usage);
		CHECK(st.inserts == 5000);
		CHECK(st.evictions == 5000 - st.entries);
		CHECK(atomic_load(&deleted) == st.evictions);
		lsm_block_cache_free(c);
		CHECK(atomic_load(&deleted) == 5000);
	}
}

static void t_lru_order(void *ctx)
{
	(void)ctx;
	struct lsm_block_cache *c;
	REQUIRE(lsm_block_cache_new(10, 1, &c) == LSM_OK);
	for (uint64_t k = 0; k < 10; k++)
		put(c, 1, k, 1);
	CHECK(present(c, 1, 0)); /* touch 0: now the newest */
	put(c, 1, 10, 1);        /* evicts 1, the oldest untouched */
	CHECK(!present(c, 1, 1));
	CHECK(present(c, 1, 0));
	for (uint64_t k = 2; k <= 10; k++)
		CHECK(present(c, 1, k));
	/* lookups above touched 0, 2..10 in that order: 0 is now the oldest */
	put(c, 1, 11, 2); /* needs two units: evicts 0 and 2 */
	CHECK(!present(c, 1, 0) && !present(c, 1, 2));
	CHECK(present(c, 1, 3) && present(c, 1, 11));
	/* ids are part of the key */
	CHECK(!present(c, 2, 3));
	struct lsm_block_cache_stats st;
	lsm_block_cache_stats(c, &st);
	CHECK(st.entries == 9 && st.usage == 10);
	lsm_block_cache_free(c);
}

static void t_refcount(void *ctx)
{
	(void)ctx;
	atomic_store(&deleted, 0);
	struct lsm_block_cache *c;
	REQUIRE(lsm_block_cache_new(1000, 1, &c) == LSM_OK);
	struct lsm_cache_handle *held, *h2;
	REQUIRE(lsm_block_cache_insert(c, 1, 42, mkval(42), 100, val_delete, &held) == LSM_OK);
	h2 = lsm_block_cache_lookup(c, 1, 42); /* a second reader */
	REQUIRE(h2 == held);
	for (uint64_t k = 0; k < 100; k++)
		put(c, 1, 1000 + k, 100);
	/* pushed out of the cache, yet alive for its two holders */
	struct lsm_cache_handle *again = lsm_block_cache_lookup(c, 1, 42);
	CHECK(again == NULL);
	struct val *v = lsm_block_cache_value(held);
	CHECK(v->magic == LIVE && v->key == 42);
	unsigned before = atomic_load(&deleted);
	lsm_block_cache_release(c, h2);
	CHECK(atomic_load(&deleted) == before); /* one holder left */
	CHECK(v->magic == LIVE);
	lsm_block_cache_release(c, held);
	CHECK(atomic_load(&deleted) == before + 1);
	/* usage only counts resident entries */
	CHECK(lsm_block_cache_usage(c) == 1000);

	/* erase while held: same rule */
	REQUIRE(lsm_block_cache_insert(c, 3, 1, mkval(1), 10, val_delete, &held) == LSM_OK);
	before = atomic_load(&deleted);
	lsm_block_cache_erase(c, 3, 1);
	CHECK(!present(c, 3, 1));
	CHECK(atomic_load(&deleted) == before); /* gone from the cache, not freed */
	v = lsm_block_cache_value(held);
	CHECK(v->magic == LIVE);
	lsm_block_cache_release(c, held);
	CHECK(atomic_load(&deleted) == before + 1);
	lsm_block_cache_free(c);
}

static void t_counters_and_edges(void *ctx)
{
	(void)ctx;
	atomic_store(&deleted, 0);
	struct lsm_block_cache *c;
	REQUIRE(lsm_block_cache_new(1000, 2, &c) == LSM_OK); /* 500 per shard */
	CHECK(!present(c, 1, 1)); /* miss */
	put(c, 1, 1, 100);
	CHECK(present(c, 1, 1)); /* hit */
	CHECK(present(c, 1, 1)); /* hit */
	/* the same key again: the new value is dropped, the old one kept */
	struct lsm_cache_handle *h;
	struct val *dup = mkval(1);
	dup->key = 999;
	REQUIRE(lsm_block_cache_insert(c, 1, 1, dup, 100, val_delete, &h) == LSM_OK);
	CHECK(((struct val *)lsm_block_cache_value(h))->key == 1);
	CHECK(atomic_load(&deleted) == 1);
	lsm_block_cache_release(c, h);
	/* larger than a shard: handed back, never resident */
	REQUIRE(lsm_block_cache_insert(c, 1, 2, mkval(2), 501, val_delete, &h) == LSM_OK);
	CHECK(((struct val *)lsm_block_cache_value(h))->magic == LIVE);
	CHECK(!present(c, 1, 2));
	lsm_block_cache_release(c, h);
	CHECK(atomic_load(&deleted) == 2);
	struct lsm_block_cache_stats st;
	lsm_block_cache_stats(c, &st);
	CHECK(st.hits == 2 && st.misses == 2 && st.inserts == 1 && st.evictions == 0);
	CHECK(st.entries == 1 && st.usage == 100);
	/* erase by id keeps other ids */
	for (uint64_t k = 10; k < 16; k++) {
		put(c, 5, k, 10);
		put(c, 6, k, 10);
	}
	lsm_block_cache_erase_id(c, 5);
	unsigned left5 = 0, left6 = 0;
	for (uint64_t k = 10; k < 16; k++) {
		left5 += present(c, 5, k);
		left6 += present(c, 6, k);
	}
	CHECK(left5 == 0 && left6 == 6);
	lsm_block_cache_stats(c, &st);
	CHECK(st.evictions == 0 && st.entries == 7 && st.usage == 160);
	/* a zero-capacity cache caches nothing but works */
	struct lsm_block_cache *z;
	REQUIRE(lsm_block_cache_new(0, 1, &z) == LSM_OK);
	put(z, 1, 1, 1);
	CHECK(!present(z, 1, 1) && lsm_block_cache_usage(z) == 0);
	lsm_block_cache_free(z);
	CHECK(lsm_block_cache_new(10, 1000, &z) == LSM_EINVAL);
	lsm_block_cache_free(c);
}

/* ---- concurrent readers of one SST through a small cache ---- */

#define NKEYS 20000
#define NTHREADS 8

struct shared {
	struct lsm_sst *sst;
	struct lsm_block_cache *cache;
	unsigned long long seed;
	atomic_uint wrong, errors, gets;
};

static size_t ukey(char *out, unsigned i)
{
	return (size_t)snprintf(out, 24, "inode/%08u", i);
}

/* Key i has versions seq 3i+2 (value "new-i...") and 3i+1 ("old-i..."), and
 * every 10th key a tombstone at 3i+3. Values are 0..299 bytes. */
static size_t value_for(uint8_t *out, unsigned i, bool newer)
{
	size_t n = (i * 37u) % 300;
	for (size_t j = 0; j < n; j++)
		out[j] = (uint8_t)(i * 31 + j * 7 + newer);
	return n;
}

static void *reader(void *arg)
{
	struct shared *sh = arg;
	unsigned long long s = sh->seed + (unsigned long long)pthread_self();
	struct lsm_buf val = { 0 };
	uint8_t want[300];
	for (int n = 0; n < 4000; n++) {
		uint8_t r[4];
		tl_fill_random(r, 4, &s);
		unsigned i = (unsigned)(r[0] | r[1] << 8 | r[2] << 16) % NKEYS;
		char k[24];
		size_t kl = ukey(k, i);
		uint64_t snap = (uint64_t)3 * i + 1 + r[3] % 3; /* 3i+1 .. 3i+3 */
		enum lsm_type t;
		lsm_status st = lsm_sst_get(sh->sst, (uint8_t *)k, kl, snap, &t, &val);
		atomic_fetch_add(&sh->gets, 1);
		if (st) {
			atomic_fetch_add(&sh->errors, 1);
			continue;
		}
		bool tomb = i % 10 == 0 && snap == 3 * i + 3;
		if (tomb) {
			if (t != LSM_TYPE_DELETE)
				atomic_fetch_add(&sh->wrong, 1);
			continue;
		}
		size_t wl = value_for(want, i, snap >= 3 * i + 2);
		if (t != LSM_TYPE_PUT || val.len != wl || (wl && memcmp(val.data, want, wl)))
			atomic_fetch_add(&sh->wrong, 1);
	}
	/* and one scan, checking order and count */
	struct lsm_iter *it;
	if (lsm_sst_iter(sh->sst, &it) == LSM_OK) {
		size_t count = 0;
		for (lsm_iter_seek_first(it); lsm_iter_valid(it); lsm_iter_next(it))
			count++;
		if (lsm_iter_status(it) || count != NKEYS * 2 + NKEYS / 10)
			atomic_fetch_add(&sh->wrong, 1);
		lsm_iter_destroy(it);
	} else {
		atomic_fetch_add(&sh->errors, 1);
	}
	lsm_buf_free(&val);
	return NULL;
}

static void t_concurrent_sst(void *ctx)
{
	(void)ctx;
	struct lsm_sst_builder *b;
	REQUIRE(lsm_sst_builder_new(NULL, &b) == LSM_OK);
	for (unsigned i = 0; i < NKEYS; i++) {
		char k[24];
		uint8_t ik[32], v[300];
		size_t kl = ukey(k, i);
		if (i % 10 == 0) {
			lsm_ikey_encode(ik, k, kl, 3 * i + 3, LSM_TYPE_DELETE);
			REQUIRE(lsm_sst_builder_add(b, ik, kl + 8, NULL, 0) == LSM_OK);
		}
		lsm_ikey_encode(ik, k, kl, 3 * i + 2, LSM_TYPE_PUT);
		REQUIRE(lsm_sst_builder_add(b, ik, kl + 8, v, value_for(v, i, true)) == LSM_OK);
		lsm_ikey_encode(ik, k, kl, 3 * i + 1, LSM_TYPE_PUT);
		REQUIRE(lsm_sst_builder_add(b, ik, kl + 8, v, value_for(v, i, false)) == LSM_OK);
	}
	struct lsm_buf obj = { 0 };
	REQUIRE(lsm_sst_builder_finish(b, &obj) == LSM_OK);
	lsm_sst_builder_free(b);

	struct shared sh = { 0 };
	sh.seed = tl_seed();
	/* 128 KiB: a small fraction of the ~1500 data blocks fits */
	REQUIRE(lsm_block_cache_new(128 << 10, 4, &sh.cache) == LSM_OK);
	struct lsm_mem_object mo = { obj.data, obj.len };
	REQUIRE(lsm_sst_open(lsm_read_mem, &mo, obj.len, sh.cache, 77, &sh.sst) == LSM_OK);
	printf("  %llu data blocks, %zu-byte SST\n",
	       (unsigned long long)lsm_sst_props(sh.sst)->data_blocks, obj.len);
	pthread_t th[NTHREADS];
	for (int i = 0; i < NTHREADS; i++)
		REQUIRE(pthread_create(&th[i], NULL, reader, &sh) == 0);
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);
	struct lsm_block_cache_stats st;
	lsm_block_cache_stats(sh.cache, &st);
	struct lsm_sst_stats ss;
	lsm_sst_stats(sh.sst, &ss);
	printf("  %u gets; cache: %llu hits, %llu misses, %llu evictions, %zu bytes used\n",
	       atomic_load(&sh.gets), (unsigned long long)st.hits, (unsigned long long)st.misses,
	       (unsigned long long)st.evictions, st.usage);
	CHECK(atomic_load(&sh.gets) == NTHREADS * 4000);
	CHECK(atomic_load(&sh.wrong) == 0);
	CHECK(atomic_load(&sh.errors) == 0);
	CHECK(st.usage <= 128 << 10);
	CHECK(st.hits > 0 && st.evictions > 0);
	CHECK(ss.block_fetches + ss.block_cache_hits >= NTHREADS * 4000ULL);
	lsm_sst_close(sh.sst);
	lsm_block_cache_free(sh.cache);
	lsm_buf_free(&obj);
}

/* Cache alone, hammered: lookups, inserts of the same keys, releases. */
struct hammer {
	struct lsm_block_cache *c;
	atomic_uint bad;
	int seed;
};

static void *hammer_fn(void *arg)
{
	struct hammer *hm = arg;
	unsigned long long s = (unsigned long long)hm->seed * 7919 + (unsigned long long)pthread_self();
	for (int n = 0; n < 20000; n++) {
		uint8_t r[2];
		tl_fill_random(r, 2, &s);
		uint64_t key = r[0] % 200;
		struct lsm_cache_handle *h = lsm_block_cache_lookup(hm->c, 9, key);
		if (!h && lsm_block_cache_insert(hm->c, 9, key, mkval(key), 10 + r[1] % 50,
						 val_delete, &h) != LSM_OK) {
			atomic_fetch_add(&hm->bad, 1);
			continue;
		}
		struct val *v = lsm_block_cache_value(h);
		if (v->magic != LIVE || v->key != key)
			atomic_fetch_add(&hm->bad, 1);
		lsm_block_cache_release(hm->c, h);
		if (r[1] == 0)
			lsm_block_cache_erase(hm->c, 9, key);
	}
	return NULL;
}

static void t_hammer(void *ctx)
{
	(void)ctx;
	struct hammer hm = { 0 };
	hm.seed = (int)tl_seed();
	REQUIRE(lsm_block_cache_new(2000, 4, &hm.c) == LSM_OK);
	pthread_t th[NTHREADS];
	for (int i = 0; i < NTHREADS; i++)
		REQUIRE(pthread_create(&th[i], NULL, hammer_fn, &hm) == 0);
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);
	CHECK(atomic_load(&hm.bad) == 0);
	CHECK(lsm_block_cache_usage(hm.c) <= 2000);
	lsm_block_cache_free(hm.c);
}

int main(int argc, char **argv)
{
	if (argc > 1)
		tl_set_filter(argv[1]);
	tl_run("cache_byte_limit", t_byte_limit, NULL);
	tl_run("cache_lru_order", t_lru_order, NULL);
	tl_run("cache_refcount", t_refcount, NULL);
	tl_run("cache_counters_and_edges", t_counters_and_edges, NULL);
	tl_run("cache_concurrent_sst", t_concurrent_sst, NULL);
	tl_run("cache_hammer", t_hammer, NULL);
	return tl_finish();
}
