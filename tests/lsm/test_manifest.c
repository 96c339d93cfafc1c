/* tests/lsm/test_manifest.c - manifest encoding, corruption, create-only versions. */
#include <stdlib.h>

#include "manifest.h"
#include "store_env.h"
#include "testlib.h"

static void fill_sst(struct lsm_sst_info *s, uint64_t id, const char *lo, const char *hi)
{
	s->id = id;
	s->size = id * 1000 + 17;
	s->entries = id * 3;
	s->min_seq = id;
	s->max_seq = id * 10;
	s->smallest_len = strlen(lo);
	s->largest_len = strlen(hi);
	s->smallest = (uint8_t *)strdup(lo);
	s->largest = (uint8_t *)strdup(hi);
}

static void sample(struct lsm_manifest *m)
{
	lsm_manifest_init(m);
	m->id = 42;
	m->writer_epoch = 7;
	m->wal_flushed = 1234;
	m->last_seq = 99999;
	m->next_sst_id = (UINT64_C(7) << 40) | 5;
	m->l0_count = 2;
	m->l0 = calloc(2, sizeof(*m->l0));
	fill_sst(&m->l0[0], 11, "a", "m");
	fill_sst(&m->l0[1], 10, "", "zzzz"); /* empty smallest key */
	m->run_count = 1;
	m->runs = calloc(1, sizeof(*m->runs));
	m->runs[0].id = 3;
	m->runs[0].count = 2;
	m->runs[0].ssts = calloc(2, sizeof(struct lsm_sst_info));
	fill_sst(&m->runs[0].ssts[0], 1, "a", "f");
	fill_sst(&m->runs[0].ssts[1], 2, "g", "q\xff");
	m->checkpoint_count = 1;
	m->checkpoints = calloc(1, sizeof(*m->checkpoints));
	m->checkpoints[0].name = strdup("before-upgrade");
	m->checkpoints[0].manifest_id = 40;
	m->checkpoints[0].created_ms = 1795470000000LL;
}

static bool same_sst(const struct lsm_sst_info *a, const struct lsm_sst_info *b)
{
	return a->id == b->id && a->size == b->size && a->entries == b->entries &&
	       a->min_seq == b->min_seq && a->max_seq == b->max_seq &&
	       a->smallest_len == b->smallest_len && a->largest_len == b->largest_len &&
	       !memcmp(a->smallest, b->smallest, a->smallest_len) &&
	       !memcmp(a->largest, b->largest, a->largest_len);
}

static void t_roundtrip(void *ctx)
{
	(void)ctx;
	struct lsm_manifest m, d, c;
	struct lsm_buf b = { 0 };
	sample(&m);
	REQUIRE(lsm_manifest_encode(&m, &b) == LSM_OK);
	REQUIRE(lsm_manifest_decode(b.data, b.len, 42, &d) == LSM_OK);
	CHECK(d.id == 42 && d.writer_epoch == 7 && d.wal_flushed == 1234 && d.last_seq == 99999);
	CHECK(d.next_sst_id == m.next_sst_id);
	CHECK(d.l0_count == 2 && same_sst(&d.l0[0], &m.l0[0]) && same_sst(&d.l0[1], &m.l0[1]));
	CHECK(d.run_count == 1 && d.runs[0].id == 3 && d.runs[0].count == 2);
	CHECK(same_sst(&d.runs[0].ssts[1], &m.runs[0].ssts[1]));
	CHECK(d.checkpoint_count == 1 && !strcmp(d.checkpoints[0].name, "before-upgrade"));
	CHECK(d.checkpoints[0].manifest_id == 40 && d.checkpoints[0].created_ms == 1795470000000LL);
	/* a deep copy is independent of its source */
	REQUIRE(lsm_manifest_copy(&c, &d) == LSM_OK);
	lsm_manifest_free(&d);
	CHECK(c.l0_count == 2 && same_sst(&c.l0[0], &m.l0[0]));
	lsm_manifest_free(&c);
	/* the id in the name must match the id inside */
	CHECK(lsm_manifest_decode(b.data, b.len, 43, &d) == LSM_ECORRUPT);
	lsm_manifest_free(&m);
	lsm_buf_free(&b);
}

static void t_corruption(void *ctx)
{
	(void)ctx;
	struct lsm_manifest m, d;
	struct lsm_buf b = { 0 };
	int missed = 0;
	sample(&m);
	REQUIRE(lsm_manifest_encode(&m, &b) == LSM_OK);
	for (size_t n = 0; n < b.len; n++) /* every truncation */
		if (lsm_manifest_decode(b.data, n, 42, &d) != LSM_ECORRUPT)
			missed++;
	for (size_t i = 0; i < b.len; i++) { /* every byte flipped */
		b.data[i] ^= 0x40;
		if (lsm_manifest_decode(b.data, b.len, 42, &d) != LSM_ECORRUPT)
			missed++;
		b.data[i] ^= 0x40;
	}
	CHECK_MSG(missed == 0, "%d damaged manifests accepted", missed);
	CHECK(lsm_manifest_decode(b.data, b.len, 42, &d) == LSM_OK);
	lsm_manifest_free(&d);
	lsm_manifest_free(&m);
	lsm_buf_free(&b);
}

static void t_store(void *ctx)
{
	(void)ctx;
	char *dir = make_temp_dir("manifest");
	struct zs3_store *s;
	struct lsm_manifest m, d;
	uint64_t latest;
	REQUIRE(dir && zs3_open_local(dir, false, &s) == ZS3_OK);
	CHECK(lsm_manifest_latest_id(s, &latest) == LSM_OK && latest == 0);
	CHECK(lsm_manifest_load(s, 1, &d) == LSM_ENOTFOUND);
	sample(&m);
	for (uint64_t id = 1; id <= 12; id++) {
		m.id = id;
		CHECK(lsm_manifest_store(s, &m) == LSM_OK);
	}
	CHECK(zs3_put(s, "manifest/not-a-manifest", "x", 1, NULL) == ZS3_OK);
	CHECK(lsm_manifest_latest_id(s, &latest) == LSM_OK && latest == 12);
	/* a second writer of version 12 loses */
	m.writer_epoch = 8;
	CHECK(lsm_manifest_store(s, &m) == LSM_EFENCED);
	CHECK(lsm_manifest_load(s, 12, &d) == LSM_OK && d.writer_epoch == 7);
	lsm_manifest_free(&d);
	/* a damaged object is reported, not used */
	CHECK(zs3_put(s, "manifest/00000000000000000013", "garbage!garbage!garbage!", 24, NULL) ==
	      ZS3_OK);
	CHECK(lsm_manifest_load(s, 13, &d) == LSM_ECORRUPT);
	lsm_manifest_free(&m);
	zs3_close(s);
	rm_rf(dir);
	free(dir);
}

int main(void)
{
	tl_run("roundtrip", t_roundtrip, NULL);
	tl_run("corruption", t_corruption, NULL);
	tl_run("store", t_store, NULL);
	return tl_finish();
}
