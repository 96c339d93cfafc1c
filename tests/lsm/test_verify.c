/*
 * tests/lsm/test_verify.c - lsm_verify and lsm_verify_store (lsm/verify.c)
 * on a local store holding L0 SSTs, a sorted run of several SSTs, a
 * checkpoint and a WAL backlog: an intact tree verifies clean through both
 * entry points; each kind of damage (an SST's footer, index, filter, meta and
 * data blocks, a data block damaged and re-checksummed, a short or missing
 * SST, the manifest, a checkpoint's manifest, a WAL object, a file damaged
 * under the store) is reported once, naming the object, while every other
 * object still verifies; an SST a writer replaced and collected is not
 * damage.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lsm.h"
#include "store_env.h"
#include "testlib.h"

#define LST(expr, want)                                                                  \
	do {                                                                             \
		lsm_status st_ = (expr);                                                 \
		CHECK_MSG(st_ == (want), "%s: got %s, want %s (%s)", #expr,              \
			  lsm_strstatus(st_), lsm_strstatus(want), lsm_last_error());    \
	} while (0)

static char *dir;
static struct zs3_store *store;

/* What one verification reported. */
struct seen {
	size_t n, bad;
	char keys[256][64];
	char bad_key[64];
	char detail[512];
	lsm_status bad_status;
};

static void on_report(void *ctx, const struct lsm_verify_report *r)
{
	struct seen *s = ctx;
	if (s->n < 256)
		snprintf(s->keys[s->n], sizeof(s->keys[0]), "%s", r->key);
	s->n++;
	if (r->status) {
		s->bad++;
		snprintf(s->bad_key, sizeof(s->bad_key), "%s", r->key);
		snprintf(s->detail, sizeof(s->detail), "%s", r->detail ? r->detail : "(none)");
		s->bad_status = r->status;
	}
}

static lsm_status put1(struct lsm_db *db, const char *k, const char *v)
{
	struct lsm_batch *b = lsm_batch_new();
	lsm_status st = lsm_batch_put(b, k, strlen(k), v, strlen(v));
	if (st == LSM_OK)
		st = lsm_write(db, b, 0);
	lsm_batch_free(b);
	return st;
}

static void options(struct lsm_options *o)
{
	memset(o, 0, sizeof(*o));
	o->store = store;
	o->memtable_bytes = 4u << 20;    /* flushed only when the test says */
	o->block_size = 1024;
	o->sst_target_bytes = 48 * 1024; /* several SSTs in the run */
	o->compression_level = -1;       /* so a test can re-checksum a data block */
	o->l0_compaction_trigger = 100;  /* L0 stays until compact_all */
	o->no_background = true;
	o->gc_min_age_ms = 1;
}

static bool pass(struct lsm_db *db, int n, int stride, const char *what)
{
	char k[32], v[64];
	for (int i = 0; i < n; i++) {
		snprintf(k, sizeof(k), "key%06d", i * stride % 3000);
		snprintf(v, sizeof(v), "value %d of the %s pass", i, what);
		if (put1(db, k, v))
			return false;
	}
	return true;
}

/* Flushes the memtable to an L0 SST (a checkpoint flushes first). */
static bool to_l0(struct lsm_db *db)
{
	return lsm_checkpoint_create(db, "tmp") == LSM_OK &&
	       lsm_checkpoint_delete(db, "tmp") == LSM_OK;
}

/* A sorted run of several SSTs (pinned by checkpoint cp1 too), two L0 SSTs
 * and a WAL backlog. */
static bool build(void)
{
	struct lsm_options o;
	struct lsm_db *db;
	options(&o);
	if (lsm_open(&o, &db))
		return false;
	if (!pass(db, 3000, 7, "first") || lsm_compact_all(db) || lsm_checkpoint_create(db, "cp1") ||
	    !pass(db, 1500, 2, "second") || !to_l0(db) || !pass(db, 700, 3, "third") || !to_l0(db))
		return false;
	for (int i = 0; i < 50; i++) /* durable, in no SST: the WAL backlog */ {
		char k[32];
		snprintf(k, sizeof(k), "late%03d", i);
		if (put1(db, k, "in the WAL"))
			return false;
	}
	return lsm_close(db) == LSM_OK;
}

static bool verify_store(struct seen *s, struct lsm_verify_summary *sum)
{
	memset(s, 0, sizeof(*s));
	lsm_status st = lsm_verify_store(store, on_report, s, sum);
	CHECK_MSG(st == LSM_OK, "lsm_verify_store: %s (%s)", lsm_strstatus(st), lsm_last_error());
	CHECK(sum->damaged == s->bad);
	return st == LSM_OK;
}

/* ---- damaging objects (through the store, so its own checks pass) ---- */

static struct zs3_buf saved;
static char saved_key[64];

static bool load(const char *key, struct zs3_buf *b)
{
	snprintf(saved_key, sizeof(saved_key), "%s", key);
	return zs3_get(store, key, zs3_range_all(), &saved, NULL) == ZS3_OK &&
	       zs3_get(store, key, zs3_range_all(), b, NULL) == ZS3_OK;
}

static bool store_bytes(const struct zs3_buf *b, size_t len)
{
	return zs3_put(store, saved_key, b->data, len, NULL) == ZS3_OK;
}

static bool restore(void)
{
	return zs3_put(store, saved_key, saved.data, saved.len, NULL) == ZS3_OK;
}

static uint64_t le64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static void put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++, v >>= 8)
		p[i] = (uint8_t)v;
}

/* Damage at a spot of an SST named by its footer; expects one report. */
enum spot { FOOTER, INDEX, FILTER, META, DATA, DATA_RECHECKSUMMED, SHORT, MISSING };

static void damage_sst(const char *key, enum spot spot, const char *want)
{
	struct zs3_buf b = { 0 };
	struct seen s;
	struct lsm_verify_summary sum;
	REQUIRE(load(key, &b) && b.len > 68);
	const uint8_t *f = b.data + b.len - 68;
	uint64_t index_off = le64(f), filter_off = le64(f + 16), filter_size = le64(f + 24),
		 meta_off = le64(f + 32);
	size_t len = b.len;
	REQUIRE(filter_size > 0);
	switch (spot) {
	case FOOTER: b.data[b.len - 20] ^= 0x01; break; /* the version */
	case INDEX: b.data[index_off + 2] ^= 0x40; break;
	case FILTER: b.data[filter_off + 1] ^= 0x08; break;
	case META: b.data[meta_off] ^= 0x02; break;
	case DATA: b.data[7] ^= 0x20; break; /* inside data block 0 */
	case DATA_RECHECKSUMMED: {
		/* block 0 = [0, first handle's size): its first entry has
		 * shared 0, then unshared and value lengths (one byte each
		 * here), then the key "key000000" + trailer. Changing a key
		 * byte and fixing the checksum passes every check a read
		 * makes of the block itself; only the whole-SST check finds
		 * that the keys no longer agree with the filter, the order or
		 * the meta block. */
		uint64_t size = 0, off = 0;
		/* the index block's first entry: shared, unshared, vlen, key, value
		 * = varint offset, varint size (both < 128 or two bytes here) */
		const uint8_t *ix = b.data + index_off;
		size_t kl = ix[1], p = 3 + kl;
		off = ix[p] & 0x7f;
		if (ix[p] & 0x80)
			off |= (uint64_t)(ix[++p] & 0x7f) << 7;
		p++;
		size = ix[p] & 0x7f;
		if (ix[p] & 0x80)
			size |= (uint64_t)(ix[p + 1] & 0x7f) << 7;
		REQUIRE(off == 0 && size > 20 && size < b.len);
		CHECK(!memcmp(b.data + 3, "key", 3));
		b.data[3 + 4] ^= 0x07; /* "key0..." -> "key7..." */
		size_t plen = (size_t)size - 8;
		put_le64(b.data + plen, lsm_checksum(b.data, plen));
		break;
	}
	case SHORT: len = b.len - 1; break;
	case MISSING: break;
	}
	if (spot == MISSING)
		REQUIRE(zs3_delete(store, key) == ZS3_OK);
	else
		REQUIRE(store_bytes(&b, len));
	if (verify_store(&s, &sum)) {
		CHECK_MSG(s.bad == 1 && !strcmp(s.bad_key, key), "spot %d: %zu bad, last %s (want %s)",
			  (int)spot, s.bad, s.bad_key, key);
		CHECK_MSG(s.bad_status == (spot == MISSING ? LSM_ENOTFOUND : LSM_ECORRUPT), "spot %d: %s",
			  (int)spot, lsm_strstatus(s.bad_status));
		CHECK_MSG(!want || strstr(s.detail, want), "spot %d: \"%s\" lacks \"%s\"", (int)spot,
			  s.detail, want);
		CHECK(sum.wals > 0 && sum.manifests == 2); /* the walk went on */
	}
	REQUIRE(restore());
	zs3_buf_free(&b);
}

/* ---- tests ---- */

static struct lsm_verify_summary clean;
static char sst_keys[64][64];
static size_t n_sst;
static char wal_key[64], manifest_key[64], cp_manifest_key[64];

static void t_clean(void *ctx)
{
	(void)ctx;
	struct seen s;
	struct lsm_verify_summary sum;
	REQUIRE(verify_store(&s, &clean));
	CHECK_MSG(s.bad == 0, "%s: %s", s.bad_key, s.detail);
	CHECK(clean.manifests == 2); /* the tree's and the checkpoint's */
	CHECK_MSG(clean.ssts >= 4, "%llu SSTs", (unsigned long long)clean.ssts);
	CHECK(clean.wals >= 1 && clean.wal_records >= 50);
	CHECK(clean.data_blocks > clean.ssts && clean.entries >= 3000 + 1500 + 700);
	CHECK(s.n == clean.manifests + clean.ssts + clean.wals);
	for (size_t i = 0; i < s.n && i < 256; i++) {
		if (!strncmp(s.keys[i], "sst/", 4) && n_sst < 64)
			snprintf(sst_keys[n_sst++], 64, "%s", s.keys[i]);
		else if (!strncmp(s.keys[i], "wal/", 4))
			snprintf(wal_key, sizeof(wal_key), "%s", s.keys[i]);
	}
	snprintf(manifest_key, sizeof(manifest_key), "%s", s.keys[0]);
	for (size_t i = 1; i < s.n; i++)
		if (!strncmp(s.keys[i], "manifest/", 9))
			snprintf(cp_manifest_key, sizeof(cp_manifest_key), "%s", s.keys[i]);
	CHECK(!strncmp(manifest_key, "manifest/", 9) && cp_manifest_key[0]);

	/* the same through handles: read-only, and at the checkpoint (no WAL) */
	struct lsm_options o;
	struct lsm_db *db;
	options(&o);
	o.read_only = true;
	REQUIRE(lsm_open(&o, &db) == LSM_OK);
	memset(&s, 0, sizeof(s));
	LST(lsm_verify(db, on_report, &s, &sum), LSM_OK);
	CHECK(sum.damaged == 0 && sum.ssts == clean.ssts && sum.wals == clean.wals &&
	      sum.entries == clean.entries && sum.manifest_id == clean.manifest_id);
	LST(lsm_close(db), LSM_OK);
	o.checkpoint = "cp1";
	REQUIRE(lsm_open(&o, &db) == LSM_OK);
	LST(lsm_verify(db, NULL, NULL, &sum), LSM_OK);
	CHECK(sum.damaged == 0 && sum.wals == 0 && sum.ssts > 0 && sum.ssts < clean.ssts);
	LST(lsm_close(db), LSM_OK);
}

static void t_sst_damage(void *ctx)
{
	(void)ctx;
	REQUIRE(n_sst >= 4);
	/* an L0 SST (reported first) and one of the run's (last) */
	const char *l0 = sst_keys[0], *run = sst_keys[n_sst - 1];
	CHECK(n_sst == clean.ssts);
	damage_sst(l0, FOOTER, "sst footer");
	damage_sst(run, FOOTER, "sst footer");
	damage_sst(l0, INDEX, "sst index block");
	damage_sst(run, FILTER, "sst filter block");
	damage_sst(l0, META, "sst meta block");
	damage_sst(run, DATA, "sst data block at 0: checksum mismatch");
	damage_sst(l0, DATA_RECHECKSUMMED, "sst ");
	damage_sst(run, SHORT, "manifest");
	damage_sst(l0, MISSING, "names it, but the store does not have it");
	struct seen s;
	struct lsm_verify_summary sum;
	REQUIRE(verify_store(&s, &sum));
	CHECK(s.bad == 0 && sum.ssts == clean.ssts && sum.entries == clean.entries);
}

/* One object damaged by a flipped byte (through the store, or under it). */
static void flip(const char *key, size_t at_from_end, bool under_store)
{
	struct zs3_buf b = { 0 };
	REQUIRE(load(key, &b) && b.len > at_from_end);
	b.data[b.len - at_from_end] ^= 0x10;
	if (!under_store) {
		REQUIRE(store_bytes(&b, b.len));
	} else { /* the local store's file: a 32-byte header, then the bytes */
		char path[1024];
		const char *slash = strchr(key, '/');
		snprintf(path, sizeof(path), "%s/%.*s@%s", dir, (int)(slash - key), key, slash);
		int fd = open(path, O_WRONLY);
		REQUIRE(fd >= 0);
		REQUIRE(pwrite(fd, b.data + b.len - at_from_end, 1, 32 + (off_t)(b.len - at_from_end)) == 1);
		close(fd);
	}
	zs3_buf_free(&b);
}

static void t_other_damage(void *ctx)
{
	(void)ctx;
	struct seen s;
	struct lsm_verify_summary sum;
	struct lsm_options o;
	struct lsm_db *db;
	REQUIRE(wal_key[0] && manifest_key[0] && cp_manifest_key[0]);

	/* a WAL object: reported, and the open refuses the tree */
	flip(wal_key, 40, false);
	REQUIRE(verify_store(&s, &sum));
	CHECK_MSG(s.bad == 1 && !strcmp(s.bad_key, wal_key), "%s: %s", s.bad_key, s.detail);
	CHECK(sum.ssts == clean.ssts);
	options(&o);
	o.read_only = true;
	LST(lsm_open(&o, &db), LSM_ECORRUPT);
	REQUIRE(restore());

	/* the tree's manifest: nothing else can be walked */
	flip(manifest_key, 12, false);
	REQUIRE(verify_store(&s, &sum));
	CHECK_MSG(s.bad == 1 && !strcmp(s.bad_key, manifest_key) && strstr(s.detail, "manifest"),
		  "%s: %s", s.bad_key, s.detail);
	CHECK(sum.ssts == 0 && sum.wals == 0);
	REQUIRE(restore());

	/* the checkpoint's manifest: its SSTs (only the tree's are walked) */
	flip(cp_manifest_key, 12, false);
	REQUIRE(verify_store(&s, &sum));
	CHECK_MSG(s.bad == 1 && !strcmp(s.bad_key, cp_manifest_key), "%s: %s", s.bad_key, s.detail);
	REQUIRE(restore());

	/* an SST file damaged under the store: the store's own check */
	flip(sst_keys[1], 100, true);
	REQUIRE(verify_store(&s, &sum));
	CHECK_MSG(s.bad == 1 && !strcmp(s.bad_key, sst_keys[1]), "%s: %s", s.bad_key, s.detail);
	REQUIRE(restore());

	REQUIRE(verify_store(&s, &sum));
	CHECK(s.bad == 0 && sum.ssts == clean.ssts);
}

/* A handle verifying its (old) manifest after a writer compacted and an SST
 * of that manifest was collected: gone because replaced, not damage. */
static void t_replaced_not_damage(void *ctx)
{
	(void)ctx;
	struct lsm_options o;
	struct lsm_db *reader, *writer;
	struct lsm_verify_summary sum;
	struct seen s = { 0 };
	options(&o);
	o.read_only = true;
	REQUIRE(lsm_open(&o, &reader) == LSM_OK);
	options(&o);
	REQUIRE(lsm_open(&o, &writer) == LSM_OK);
	REQUIRE(lsm_compact_all(writer) == LSM_OK); /* L0 merged away */
	LST(lsm_close(writer), LSM_OK);
	REQUIRE(zs3_delete(store, sst_keys[0]) == ZS3_OK); /* as GC would */
	LST(lsm_verify(reader, on_report, &s, &sum), LSM_OK);
	CHECK_MSG(sum.damaged == 0, "%s: %s", s.bad_key, s.detail);
	CHECK(sum.ssts == clean.ssts - 1);
	LST(lsm_close(reader), LSM_OK);
	REQUIRE(verify_store(&s, &sum));
	CHECK_MSG(s.bad == 0, "%s: %s", s.bad_key, s.detail);
	CHECK(sum.manifests == 2 && sum.manifest_id > clean.manifest_id);
}

int main(int argc, char **argv)
{
	if (argc > 1)
		tl_set_filter(argv[1]);
	tl_seed();
	if (!(dir = make_temp_dir("verify")) || zs3_open_local(dir, false, &store) || !build()) {
		fprintf(stderr, "cannot build the tree: %s\n", lsm_last_error());
		zs3_close(store);
		rm_rf(dir);
		return 1;
	}
	tl_run("clean", t_clean, NULL);
	tl_run("sst_damage", t_sst_damage, NULL);
	tl_run("manifest_wal_and_store_damage", t_other_damage, NULL);
	tl_run("replaced_is_not_damage", t_replaced_not_damage, NULL);
	zs3_buf_free(&saved);
	zs3_close(store);
	rm_rf(dir);
	free(dir);
	return tl_finish();
}
