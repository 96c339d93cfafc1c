/* tests/lsm/test_object_cache.c - the on-disk object cache and its size setting. */
#include <stdlib.h>
#include <unistd.h>

#include "lsm.h"
#include "object_cache.h"
#include "store_env.h"
#include "testlib.h"

static void t_size_setting(void *ctx)
{
	(void)ctx;
	uint64_t b;
	CHECK(lsm_parse_cache_size_gb("SLATEDB_CACHE_SIZE_GB", "10", &b) == LSM_OK &&
	      b == 10ULL << 30);
	CHECK(lsm_parse_cache_size_gb("SLATEDB_CACHE_SIZE_GB", "0.5", &b) == LSM_OK &&
	      b == 512ULL << 20);
	const char *bad[] = { "0", "-1", "abc", "", "10GB", "nan", "inf", "1e9", NULL };
	for (int i = 0; i < 9; i++) {
		CHECK_MSG(lsm_parse_cache_size_gb("SLATEDB_CACHE_SIZE_GB", bad[i], &b) == LSM_EINVAL,
			  "'%s' accepted", bad[i] ? bad[i] : "(null)");
		CHECK(strstr(lsm_last_error(), "SLATEDB_CACHE_SIZE_GB") != NULL);
	}
}

static void t_cache(void *ctx)
{
	(void)ctx;
	char *dir = make_temp_dir("ocache");
	struct lsm_object_cache *c;
	struct lsm_object_cache_stats s;
	struct lsm_buf b = { 0 };
	char data[100000];
	REQUIRE(dir);
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (char)(i * 13);
	CHECK(lsm_object_cache_open(dir, 0, &c) == LSM_EINVAL);
	REQUIRE(lsm_object_cache_open(dir, 450000, &c) == LSM_OK);
	CHECK(lsm_object_cache_read(c, "sst/1.sst", 0, 10, &b) == LSM_ENOTFOUND);
	CHECK(lsm_object_cache_insert(c, "sst/1.sst", data, sizeof(data)) == LSM_OK);
	CHECK(lsm_object_cache_read(c, "sst/1.sst", 500, 1000, &b) == LSM_OK);
	CHECK(b.len == 1000 && !memcmp(b.data, data + 500, 1000));
	/* 4 x 100 kB fit in 450 kB; a 5th evicts the least recently used */
	CHECK(lsm_object_cache_insert(c, "sst/2.sst", data, sizeof(data)) == LSM_OK);
	CHECK(lsm_object_cache_insert(c, "sst/3.sst", data, sizeof(data)) == LSM_OK);
	CHECK(lsm_object_cache_insert(c, "sst/4.sst", data, sizeof(data)) == LSM_OK);
	CHECK(lsm_object_cache_read(c, "sst/1.sst", 0, 10, &b) == LSM_OK); /* 2 is now oldest */
	CHECK(lsm_object_cache_insert(c, "sst/5.sst", data, sizeof(data)) == LSM_OK);
	CHECK(lsm_object_cache_read(c, "sst/2.sst", 0, 10, &b) == LSM_ENOTFOUND);
	CHECK(lsm_object_cache_read(c, "sst/1.sst", 0, 10, &b) == LSM_OK);
	lsm_object_cache_stats(c, &s);
	CHECK(s.bytes <= 450000 && s.objects == 4 && s.evictions == 1);
	/* too big for the cache: silently not cached */
	static char big[200000];
	CHECK(lsm_object_cache_insert(c, "sst/big.sst", big, sizeof(big)) == LSM_OK);
	CHECK(lsm_object_cache_read(c, "sst/big.sst", 0, 10, &b) == LSM_ENOTFOUND);
	lsm_object_cache_close(c);

	/* reused after a restart; a damaged (short) file is dropped, not served */
	char path[600];
	snprintf(path, sizeof(path), "%s/sst%%3.sst", dir);
	CHECK(truncate(path, 50) == 0);
	REQUIRE(lsm_object_cache_open(dir, 450000, &c) == LSM_OK);
	lsm_object_cache_stats(c, &s);
	CHECK(s.objects == 4);
	CHECK(lsm_object_cache_read(c, "sst/5.sst", 99000, 1000, &b) == LSM_OK);
	CHECK(b.len == 1000 && !memcmp(b.data, data + 99000, 1000));
	CHECK(lsm_object_cache_read(c, "sst/3.sst", 0, 1000, &b) == LSM_ENOTFOUND);
	lsm_object_cache_stats(c, &s);
	CHECK(s.objects == 3);
	/* a smaller limit on reopen evicts down to it */
	lsm_object_cache_close(c);
	REQUIRE(lsm_object_cache_open(dir, 150000, &c) == LSM_OK);
	lsm_object_cache_stats(c, &s);
	CHECK(s.bytes <= 150000 && s.objects == 1);
	lsm_object_cache_close(c);
	lsm_buf_free(&b);
	rm_rf(dir);
	free(dir);
}

int main(void)
{
	tl_run("size_setting", t_size_setting, NULL);
	tl_run("cache", t_cache, NULL);
	return tl_finish();
}
