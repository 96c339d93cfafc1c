/* tests/lsm/test_block.c - block building, parsing, iteration, seeks, the
 * stored form (compression + checksum), and malformed input. */
#include <stdint.h>
#include <stdio.h>

#include "block.h"
#include "block_builder.h"
#include "coding.h"
#include "ikey.h"
#include "testlib.h"

/* Entry i of a test block: user key "k%08u" of 2 * (i / 2), two versions
 * per user key (seq 100 + i odd then even: newer first), values of varied
 * length derived from i. */
#define NENT 3000

static size_t make_key(uint8_t *out, unsigned ukey_num, uint64_t seq, enum lsm_type t)
{
	char u[16];
	int n = snprintf(u, sizeof(u), "k%08u", ukey_num);
	lsm_ikey_encode(out, u, (size_t)n, seq, t);
	return (size_t)n + 8;
}

static size_t entry_key(uint8_t *out, unsigned i)
{
	unsigned pair = i / 2;
	/* first of the pair gets the higher seq */
	return make_key(out, pair * 2, 100000 - i, i % 5 == 0 ? LSM_TYPE_DELETE : LSM_TYPE_PUT);
}

static size_t entry_val(uint8_t *out, unsigned i)
{
	size_t n = (i * 7) % 50;
	for (size_t j = 0; j < n; j++)
		out[j] = (uint8_t)(i + j);
	return n;
}

static void build(struct lsm_block_builder *bb, unsigned interval, unsigned n, const uint8_t **p,
		  size_t *len)
{
	uint8_t k[32], v[64];
	lsm_block_builder_init(bb, interval);
	for (unsigned i = 0; i < n; i++) {
		size_t kl = entry_key(k, i), vl = entry_val(v, i);
		CHECK(lsm_block_builder_add(bb, k, kl, v, vl) == LSM_OK);
	}
	CHECK(lsm_block_builder_finish(bb, p, len) == LSM_OK);
}

static bool at_entry(struct lsm_iter *it, unsigned i)
{
	uint8_t k[32], v[64];
	size_t kl = entry_key(k, i), vl = entry_val(v, i), gkl, gvl;
	if (!lsm_iter_valid(it))
		return false;
	const uint8_t *gk = lsm_iter_key(it, &gkl), *gv = lsm_iter_value(it, &gvl);
	return gkl == kl && !memcmp(gk, k, kl) && gvl == vl && (vl == 0 || !memcmp(gv, v, vl));
}

static void t_roundtrip(void *ctx)
{
	(void)ctx;
	static const unsigned intervals[] = { 1, 2, 16, 1000 };
	for (size_t x = 0; x < sizeof(intervals) / sizeof(intervals[0]); x++) {
		struct lsm_block_builder bb;
		const uint8_t *p;
		size_t n;
		build(&bb, intervals[x], NENT, &p, &n);
		struct lsm_block blk;
		REQUIRE(lsm_block_parse(p, n, &blk) == LSM_OK);
		CHECK(blk.nrestarts == (NENT + intervals[x] - 1) / intervals[x]);
		/* prefix compression: without it each entry would take its key,
		 * value and >= 3 header bytes; consecutive keys here share >= 7 */
		size_t raw = 0;
		for (unsigned i = 0; i < NENT; i++) {
			uint8_t k[32], v[64];
			raw += entry_key(k, i) + entry_val(v, i);
		}
		if (intervals[x] >= 16)
			CHECK_MSG(n < raw - 2 * NENT, "block %zu bytes for %zu raw", n, raw);

		struct lsm_iter *it;
		REQUIRE(lsm_block_iter_new(&blk, &it) == LSM_OK);
		/* full scan */
		unsigned i = 0;
		for (lsm_iter_seek_first(it); lsm_iter_valid(it); lsm_iter_next(it), i++)
			if (!at_entry(it, i)) {
				CHECK_MSG(0, "interval %u: entry %u differs", intervals[x], i);
				break;
			}
		CHECK(i == NENT);
		CHECK(lsm_iter_status(it) == LSM_OK);

		uint8_t t[32];
		size_t tl;
		unsigned bad = 0;
		for (i = 0; i < NENT; i++) {
			/* exact */
			tl = entry_key(t, i);
			lsm_iter_seek(it, t, tl);
			bad += !at_entry(it, i);
			/* same seq as a PUT: lands on this version whatever its type */
			tl = make_key(t, (i / 2) * 2, 100000 - i, LSM_TYPE_PUT);
			lsm_iter_seek(it, t, tl);
			bad += !at_entry(it, i);
			/* between user keys: the next pair's first entry */
			if (i % 2 == 0) {
				tl = make_key(t, (i / 2) * 2 + 1, LSM_SEQ_MAX, LSM_TYPE_PUT);
				lsm_iter_seek(it, t, tl);
				bad += i + 2 < NENT ? !at_entry(it, i + 2) : lsm_iter_valid(it);
			}
			/* seq below the older version of the pair: next pair */
			if (i % 2 == 1) {
				tl = make_key(t, (i / 2) * 2, 1, LSM_TYPE_PUT);
				lsm_iter_seek(it, t, tl);
				bad += i + 1 < NENT ? !at_entry(it, i + 1) : lsm_iter_valid(it);
			}
		}
		CHECK_MSG(bad == 0, "interval %u: %u seeks went wrong", intervals[x], bad);
		/* before the first, after the last */
		lsm_ikey_encode(t, "a", 1, 5, LSM_TYPE_PUT);
		lsm_iter_seek(it, t, 9);
		CHECK(at_entry(it, 0));
		lsm_ikey_encode(t, "z", 1, 5, LSM_TYPE_PUT);
		lsm_iter_seek(it, t, 9);
		CHECK(!lsm_iter_valid(it) && lsm_iter_status(it) == LSM_OK);
		/* a seek target that is no internal key */
		lsm_iter_seek(it, t, 3);
		CHECK(!lsm_iter_valid(it) && lsm_iter_status(it) == LSM_EINVAL);
		lsm_iter_destroy(it);
		lsm_block_builder_free(&bb);
	}
}

static void t_builder_reset(void *ctx)
{
	(void)ctx;
	struct lsm_block_builder bb;
	const uint8_t *p;
	size_t n;
	build(&bb, 4, 100, &p, &n);
	lsm_block_builder_reset(&bb);
	CHECK(lsm_block_builder_empty(&bb));
	uint8_t k[32], v[64];
	for (unsigned i = 200; i < 210; i++) {
		size_t kl = entry_key(k, i), vl = entry_val(v, i);
		CHECK(lsm_block_builder_add(&bb, k, kl, v, vl) == LSM_OK);
	}
	size_t est = lsm_block_builder_size(&bb);
	CHECK(lsm_block_builder_finish(&bb, &p, &n) == LSM_OK);
	CHECK(n <= est);
	struct lsm_block blk;
	REQUIRE(lsm_block_parse(p, n, &blk) == LSM_OK);
	CHECK(blk.nrestarts == 3);
	struct lsm_block_iter it;
	lsm_block_iter_init(&it, &blk);
	lsm_iter_seek_first(&it.base);
	unsigned i = 200;
	while (lsm_iter_valid(&it.base) && at_entry(&it.base, i)) {
		lsm_iter_next(&it.base);
		i++;
	}
	CHECK(i == 210 && !lsm_iter_valid(&it.base));
	lsm_block_iter_fini(&it);
	lsm_block_builder_free(&bb);
}

static void t_empty(void *ctx)
{
	(void)ctx;
	struct lsm_block_builder bb;
	const uint8_t *p;
	size_t n;
	build(&bb, 16, 0, &p, &n);
	CHECK(n == 4);
	struct lsm_block blk;
	REQUIRE(lsm_block_parse(p, n, &blk) == LSM_OK);
	struct lsm_block_iter it;
	lsm_block_iter_init(&it, &blk);
	lsm_iter_seek_first(&it.base);
	CHECK(!lsm_iter_valid(&it.base) && lsm_iter_status(&it.base) == LSM_OK);
	uint8_t t[16];
	lsm_ikey_encode(t, "a", 1, 1, LSM_TYPE_PUT);
	lsm_iter_seek(&it.base, t, 9);
	CHECK(!lsm_iter_valid(&it.base) && lsm_iter_status(&it.base) == LSM_OK);
	lsm_block_iter_fini(&it);
	lsm_block_builder_free(&bb);
}

/* Restart arrays that lie: every one must be refused by parse. */
static void t_restart_corruption(void *ctx)
{
	(void)ctx;
	struct lsm_block_builder bb;
	const uint8_t *p;
	size_t n;
	build(&bb, 4, 40, &p, &n); /* 10 restarts */
	uint8_t *b = malloc(n);
	REQUIRE(b);
	struct lsm_block blk;
	size_t limit = n - 4 - 10 * 4;
#define MUTATE(stmt)                                                       \
	do {                                                               \
		memcpy(b, p, n);                                           \
		stmt;                                                      \
		CHECK(lsm_block_parse(b, n, &blk) == LSM_ECORRUPT);        \
	} while (0)
	REQUIRE(lsm_block_parse(p, n, &blk) == LSM_OK && blk.limit == limit);
	MUTATE(lsm_enc_fixed32(b + n - 4, 0xffffffffu));        /* count far too big */
	MUTATE(lsm_enc_fixed32(b + n - 4, (uint32_t)(n / 4)));  /* count just too big */
	MUTATE(lsm_enc_fixed32(b + n - 4, 0));                   /* entries, no restarts */
	MUTATE(lsm_enc_fixed32(b + limit, 3));                   /* first restart not 0 */
	MUTATE(lsm_enc_fixed32(b + limit + 4 * 5, (uint32_t)limit));      /* at the end */
	MUTATE(lsm_enc_fixed32(b + limit + 4 * 5, 0xfffffff0u));          /* far out */
	MUTATE(lsm_enc_fixed32(b + limit + 4 * 5, lsm_dec_fixed32(b + limit + 4 * 4))); /* equal */
	MUTATE(lsm_enc_fixed32(b + limit + 4 * 9, 1));                    /* decreasing */
#undef MUTATE
	for (size_t len = 0; len < 4; len++)
		CHECK(lsm_block_parse(p, len, &blk) == LSM_ECORRUPT);

	/* A restart point moved inside an entry passes parse (offsets are
	 * plausible) but its entry does not decode as a restart entry. */
	memcpy(b, p, n);
	lsm_enc_fixed32(b + limit + 4 * 5, lsm_dec_fixed32(b + limit + 4 * 5) + 1);
	REQUIRE(lsm_block_parse(b, n, &blk) == LSM_OK);
	struct lsm_block_iter it;
	lsm_block_iter_init(&it, &blk);
	uint8_t t[32];
	size_t tl = entry_key(t, 39);
	lsm_iter_seek(&it.base, t, tl);
	CHECK(lsm_iter_status(&it.base) == LSM_ECORRUPT && !lsm_iter_valid(&it.base));
	lsm_block_iter_fini(&it);
	free(b);
	lsm_block_builder_free(&bb);
}

/* Entries that lie about their lengths, in blocks with sane restart arrays. */
static void t_entry_corruption(void *ctx)
{
	(void)ctx;
	struct {
		uint64_t shared, unshared, vlen;
	} second[] = {
		{ 10, 1, 0 },   /* shares more than the previous key has */
		{ 0, 200, 0 },  /* key runs past the entries */
		{ 0, 9, 200 },  /* value runs past the entries */
		{ 0, 3, 0 },    /* key shorter than a trailer */
		{ 0, UINT64_MAX, 0 },
		{ 5, 9, 0 },    /* fine: the control case */
	};
	for (size_t c = 0; c < sizeof(second) / sizeof(second[0]); c++) {
		struct lsm_buf b = { 0 };
		uint8_t k[16];
		lsm_ikey_encode(k, "a", 1, 1, LSM_TYPE_PUT); /* 9-byte first key */
		CHECK(lsm_buf_put_varint(&b, 0) == LSM_OK);
		CHECK(lsm_buf_put_varint(&b, 9) == LSM_OK);
		CHECK(lsm_buf_put_varint(&b, 0) == LSM_OK);
		CHECK(lsm_buf_append(&b, k, 9) == LSM_OK);
		CHECK(lsm_buf_put_varint(&b, second[c].shared) == LSM_OK);
		CHECK(lsm_buf_put_varint(&b, second[c].unshared) == LSM_OK);
		CHECK(lsm_buf_put_varint(&b, second[c].vlen) == LSM_OK);
		CHECK(lsm_buf_append(&b, "bbbbbbbbbbbbbbbbbbbb", 20) == LSM_OK);
		CHECK(lsm_buf_put_fixed32(&b, 0) == LSM_OK);
		CHECK(lsm_buf_put_fixed32(&b, 1) == LSM_OK);
		struct lsm_block blk;
		REQUIRE(lsm_block_parse(b.data, b.len, &blk) == LSM_OK);
		struct lsm_block_iter it;
		lsm_block_iter_init(&it, &blk);
		lsm_iter_seek_first(&it.base);
		CHECK(lsm_iter_valid(&it.base));
		lsm_iter_next(&it.base);
		bool control = c == sizeof(second) / sizeof(second[0]) - 1;
		CHECK_MSG(control ? lsm_iter_valid(&it.base) && lsm_iter_status(&it.base) == LSM_OK
				  : !lsm_iter_valid(&it.base) && lsm_iter_status(&it.base) == LSM_ECORRUPT,
			  "case %zu", c);
		lsm_block_iter_fini(&it);
		lsm_buf_free(&b);
	}
}

/* Every single-byte change and every truncation: parse + iterate + seek never
 * read out of bounds (ASan) and never loop forever. */
static void t_fuzz(void *ctx)
{
	(void)ctx;
	struct lsm_block_builder bb;
	const uint8_t *p;
	size_t n;
	build(&bb, 4, 40, &p, &n);
	uint8_t *b = malloc(n);
	REQUIRE(b);
	static const uint8_t masks[] = { 0x01, 0x80, 0xff, 0x40 };
	unsigned detected = 0, runs = 0, runaway = 0;
	for (size_t len = 0; len <= n; len++)
		for (size_t pos = 0; pos < (len == n ? n : 1); pos++)
			for (size_t m = 0; m < (len == n ? sizeof(masks) : 1); m++) {
				memcpy(b, p, n);
				if (len == n)
					b[pos] ^= masks[m];
				/* a truncated copy lives in an exact-size buffer for ASan */
				uint8_t *c = malloc(len ? len : 1);
				memcpy(c, len == n ? b : p, len);
				struct lsm_block blk;
				runs++;
				if (lsm_block_parse(c, len, &blk) != LSM_OK) {
					detected++;
					free(c);
					continue;
				}
				struct lsm_block_iter it;
				lsm_block_iter_init(&it, &blk);
				size_t steps = 0;
				for (lsm_iter_seek_first(&it.base); lsm_iter_valid(&it.base);
				     lsm_iter_next(&it.base))
					steps++;
				if (lsm_iter_status(&it.base))
					detected++;
				/* an entry takes at least 3 bytes */
				runaway += steps > len / 3 + 1;
				for (unsigned i = 0; i < 40; i += 7) {
					uint8_t t[32];
					size_t tl = entry_key(t, i);
					lsm_iter_seek(&it.base, t, tl);
					if (lsm_iter_valid(&it.base)) {
						size_t kl;
						const uint8_t *k = lsm_iter_key(&it.base, &kl);
						CHECK(kl >= 8 && k != NULL);
					}
				}
				lsm_block_iter_fini(&it);
				free(c);
			}
	CHECK(runaway == 0);
	CHECK_MSG(detected > runs / 4, "%u of %u mutations detected", detected, runs);
	free(b);
	lsm_block_builder_free(&bb);
}

static void t_stored(void *ctx)
{
	(void)ctx;
	unsigned long long seed = tl_seed();
	ZSTD_CCtx *cctx = ZSTD_createCCtx();
	REQUIRE(cctx);
	uint8_t text[4096], noise[4096], few[4096], many[4096];
	for (size_t i = 0; i < sizeof(text); i++)
		text[i] = (uint8_t)"the quick brown fox jumps over the lazy dog "[i % 44];
	tl_fill_random(noise, sizeof(noise), &seed);
	/* random bytes from 16 values compress by ~50%; from 200 values by
	 * only ~4%, under the 1/8 that makes compression worth it */
	for (size_t i = 0; i < sizeof(few); i++) {
		few[i] = noise[i] % 16;
		many[i] = noise[i] % 200;
	}
	struct {
		const uint8_t *p;
		size_t n;
		int level;
		uint8_t want_type;
	} cases[] = {
		{ text, sizeof(text), 3, LSM_COMPRESSION_ZSTD },
		{ text, sizeof(text), -5, LSM_COMPRESSION_ZSTD },
		{ text, sizeof(text), 0, LSM_COMPRESSION_NONE },
		{ noise, sizeof(noise), 3, LSM_COMPRESSION_NONE }, /* does not pay */
		{ few, sizeof(few), 3, LSM_COMPRESSION_ZSTD },
		{ many, sizeof(many), 3, LSM_COMPRESSION_NONE },     /* saves < 1/8 */
		{ text, 0, 3, LSM_COMPRESSION_NONE },
		{ text, 7, 3, LSM_COMPRESSION_NONE },
	};
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct lsm_buf out = { 0 };
		/* a prefix: the stored block is appended */
		CHECK(lsm_buf_append(&out, "xyz", 3) == LSM_OK);
		REQUIRE(lsm_block_store(&out, cases[c].p, cases[c].n, cases[c].level, cctx) == LSM_OK);
		const uint8_t *s = out.data + 3;
		size_t sn = out.len - 3;
		CHECK(s[sn - 9] == cases[c].want_type);
		if (cases[c].want_type == LSM_COMPRESSION_NONE)
			CHECK(sn == cases[c].n + 9);
		else
			CHECK(sn - 9 <= cases[c].n - cases[c].n / 8);
		uint8_t *owned;
		const uint8_t *raw;
		size_t rn;
		CHECK(lsm_block_unwrap(s, sn, "test block", 3, &owned, &raw, &rn) == LSM_OK);
		CHECK(rn == cases[c].n && (rn == 0 || !memcmp(raw, cases[c].p, rn)));
		CHECK((owned != NULL) == (cases[c].want_type == LSM_COMPRESSION_ZSTD));
		free(owned);
		/* every flipped byte is caught by the checksum */
		uint8_t *m = malloc(sn);
		unsigned missed = 0;
		for (size_t i = 0; i < sn; i++) {
			memcpy(m, s, sn);
			m[i] ^= 0x10;
			lsm_status st = lsm_block_unwrap(m, sn, "test block", 3, &owned, &raw, &rn);
			missed += st != LSM_ECORRUPT;
			if (st == LSM_OK)
				free(owned);
		}
		CHECK_MSG(missed == 0, "case %zu: %u flips missed", c, missed);
		for (size_t len = 0; len < sn; len++) {
			lsm_status st = lsm_block_unwrap(s, len, "test block", 3, &owned, &raw, &rn);
			missed += st != LSM_ECORRUPT;
		}
		CHECK_MSG(missed == 0, "case %zu: %u truncations missed", c, missed);
		free(m);
		lsm_buf_free(&out);
	}

	/* Checksum-valid lies are still refused. */
	struct lsm_buf out = { 0 };
	REQUIRE(lsm_block_store(&out, text, sizeof(text), 3, cctx) == LSM_OK);
	uint8_t *owned;
	const uint8_t *raw;
	size_t rn;
	/* unknown compression type */
	out.data[out.len - 9] = 7;
	lsm_enc_fixed64(out.data + out.len - 8, lsm_checksum(out.data, out.len - 8));
	CHECK(lsm_block_unwrap(out.data, out.len, "t", 0, &owned, &raw, &rn) == LSM_ECORRUPT);
	CHECK(strstr(lsm_last_error(), "compression type") != NULL);
	/* wrong uncompressed length (4096 is varint 0x80 0x20; make it 4095) */
	out.data[out.len - 9] = LSM_COMPRESSION_ZSTD;
	REQUIRE(out.data[0] == 0x80 && out.data[1] == 0x20);
	out.data[0] = 0xff;
	out.data[1] = 0x1f;
	lsm_enc_fixed64(out.data + out.len - 8, lsm_checksum(out.data, out.len - 8));
	CHECK(lsm_block_unwrap(out.data, out.len, "t", 0, &owned, &raw, &rn) == LSM_ECORRUPT);
	/* garbage instead of a zstd frame */
	memset(out.data + 2, 0x5a, out.len - 11);
	lsm_enc_fixed64(out.data + out.len - 8, lsm_checksum(out.data, out.len - 8));
	CHECK(lsm_block_unwrap(out.data, out.len, "t", 0, &owned, &raw, &rn) == LSM_ECORRUPT);
	lsm_buf_free(&out);
	ZSTD_freeCCtx(cctx);
}

int main(int argc, char **argv)
{
	if (argc > 1)
		tl_set_filter(argv[1]);
	tl_run("block_roundtrip", t_roundtrip, NULL);
	tl_run("block_builder_reset", t_builder_reset, NULL);
	tl_run("block_empty", t_empty, NULL);
	tl_run("block_restart_corruption", t_restart_corruption, NULL);
	tl_run("block_entry_corruption", t_entry_corruption, NULL);
	tl_run("block_fuzz", t_fuzz, NULL);
	tl_run("block_stored", t_stored, NULL);
	return tl_finish();
}
