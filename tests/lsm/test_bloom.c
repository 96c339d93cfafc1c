/* tests/lsm/test_bloom.c - the SST Bloom filter: no false negatives, the
 * false-positive rate, the documented bit layout, malformed filters. */
#include <stdint.h>
#include <stdio.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "bloom.h"
#include "coding.h"
#include "testlib.h"

static size_t key_of(char *out, const char *prefix, unsigned i)
{
	return (size_t)snprintf(out, 32, "%s%u", prefix, i);
}

/* Builds a filter over n keys "in<i>" (or random 16-byte keys from seed). */
static void build(unsigned bits, unsigned n, unsigned long long *seed, struct lsm_buf *out)
{
	struct lsm_bloom_builder bb;
	lsm_bloom_builder_init(&bb, bits);
	for (unsigned i = 0; i < n; i++) {
		uint8_t k[32];
		size_t kl;
		if (seed) {
			tl_fill_random(k, 16, seed);
			kl = 16;
		} else {
			kl = key_of((char *)k, "in", i);
		}
		CHECK(lsm_bloom_builder_add_hash(&bb, lsm_bloom_hash(k, kl)) == LSM_OK);
	}
	CHECK(lsm_bloom_builder_finish(&bb, out) == LSM_OK);
	lsm_bloom_builder_free(&bb);
}

/* False positives among n keys "out<i>" (absent by construction). */
static double fp_rate(const struct lsm_bloom *f, unsigned n)
{
	unsigned fp = 0;
	for (unsigned i = 0; i < n; i++) {
		char k[32];
		size_t kl = key_of(k, "out", i);
		fp += lsm_bloom_may_contain_hash(f, lsm_bloom_hash((uint8_t *)k, kl));
	}
	return (double)fp / n;
}

static void t_fp_rate(void *ctx)
{
	(void)ctx;
	struct lsm_buf buf = { 0 };
	struct lsm_bloom f;
	build(10, 10000, NULL, &buf);
	REQUIRE(lsm_bloom_parse(buf.data, buf.len, &f) == LSM_OK);
	CHECK(f.k == 7);
	CHECK(f.nbits == 100000);
	unsigned fn = 0;
	for (unsigned i = 0; i < 10000; i++) {
		char k[32];
		size_t kl = key_of(k, "in", i);
		fn += !lsm_bloom_may_contain_hash(&f, lsm_bloom_hash((uint8_t *)k, kl));
	}
	CHECK_MSG(fn == 0, "%u false negatives", fn);
	double r = fp_rate(&f, 10000);
	printf("  10 bits/key, 10k keys: false-positive rate %.3f%%\n", r * 100);
	CHECK_MSG(r < 0.02, "fp rate %.4f", r);
	CHECK(r > 0.0001); /* a filter that says "no" to everything is broken too */
	lsm_buf_free(&buf);

	/* random binary keys: same bound */
	unsigned long long seed = tl_seed(), s2 = seed;
	build(10, 10000, &seed, &buf);
	REQUIRE(lsm_bloom_parse(buf.data, buf.len, &f) == LSM_OK);
	fn = 0;
	for (unsigned i = 0; i < 10000; i++) {
		uint8_t k[16];
		tl_fill_random(k, 16, &s2);
		fn += !lsm_bloom_may_contain_hash(&f, lsm_bloom_hash(k, 16));
	}
	CHECK(fn == 0);
	unsigned fp = 0;
	for (unsigned i = 0; i < 10000; i++) {
		uint8_t k[17];
		tl_fill_random(k, 17, &s2); /* 17 bytes: never one of the keys */
		fp += lsm_bloom_may_contain_hash(&f, lsm_bloom_hash(k, 17));
	}
	printf("  random keys: false-positive rate %.3f%%\n", fp / 100.0);
	CHECK(fp < 200);
	lsm_buf_free(&buf);
}

static void t_bits_matter(void *ctx)
{
	(void)ctx;
	double r[3];
	static const unsigned bits[] = { 4, 10, 20 };
	for (int i = 0; i < 3; i++) {
		struct lsm_buf buf = { 0 };
		struct lsm_bloom f;
		build(bits[i], 10000, NULL, &buf);
		REQUIRE(lsm_bloom_parse(buf.data, buf.len, &f) == LSM_OK);
		CHECK(buf.len == (size_t)bits[i] * 10000 / 8 + 1);
		r[i] = fp_rate(&f, 20000);
		printf("  %u bits/key: %.3f%%\n", bits[i], r[i] * 100);
		lsm_buf_free(&buf);
	}
	CHECK(r[0] > r[1] && r[1] > r[2]);
	CHECK(r[0] > 0.08 && r[0] < 0.25); /* theory: ~14.7% with k = 3 */
	CHECK(r[2] < 0.002);
}

/* The bits are exactly where docs/FORMAT.md says: recomputed here from the
 * formula, independently of bloom.c. */
static void t_layout(void *ctx)
{
	(void)ctx;
	static const char *keys[] = { "", "a", "inode/42", "some longer key with spaces" };
	const unsigned n = 4, bits = 20; /* 80 bits -> 10 bytes, k = 14 */
	struct lsm_bloom_builder bb;
	lsm_bloom_builder_init(&bb, bits);
	for (unsigned i = 0; i < n; i++)
		CHECK(lsm_bloom_builder_add_hash(&bb, lsm_bloom_hash((const uint8_t *)keys[i],
								     strlen(keys[i]))) == LSM_OK);
	struct lsm_buf buf = { 0 };
	REQUIRE(lsm_bloom_builder_finish(&bb, &buf) == LSM_OK);
	lsm_bloom_builder_free(&bb);
	uint8_t want[11] = { 0 };
	unsigned k = 14;
	for (unsigned i = 0; i < n; i++) {
		uint64_t h = XXH3_64bits(keys[i], strlen(keys[i]));
		for (unsigned j = 0; j < k; j++) {
			uint64_t bit = ((h & 0xffffffffu) + j * (h >> 32)) % 80;
			want[bit / 8] |= (uint8_t)(1u << (bit % 8));
		}
	}
	want[10] = (uint8_t)k;
	CHECK(buf.len == 11 && !memcmp(buf.data, want, 11));
	lsm_buf_free(&buf);

	/* no keys: 64 zero bits, every query negative */
	lsm_bloom_builder_init(&bb, 10);
	REQUIRE(lsm_bloom_builder_finish(&bb, &buf) == LSM_OK);
	CHECK(buf.len == 9 && buf.data[8] == 7);
	struct lsm_bloom f;
	REQUIRE(lsm_bloom_parse(buf.data, buf.len, &f) == LSM_OK);
	CHECK(!lsm_bloom_may_contain_hash(&f, lsm_bloom_hash((const uint8_t *)"a", 1)));
	lsm_bloom_builder_free(&bb);
	lsm_buf_free(&buf);
}

static void t_parse_bad(void *ctx)
{
	(void)ctx;
	uint8_t b[9] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 7 };
	struct lsm_bloom f;
	CHECK(lsm_bloom_parse(b, 0, &f) == LSM_ECORRUPT);
	CHECK(lsm_bloom_parse(b + 8, 1, &f) == LSM_ECORRUPT); /* k but no bits */
	b[8] = 0;
	CHECK(lsm_bloom_parse(b, 9, &f) == LSM_ECORRUPT);
	b[8] = 31;
	CHECK(lsm_bloom_parse(b, 9, &f) == LSM_ECORRUPT);
	b[8] = 30;
	CHECK(lsm_bloom_parse(b, 9, &f) == LSM_OK && f.k == 30 && f.nbits == 64);
	CHECK(lsm_bloom_parse(b + 7, 2, &f) == LSM_OK && f.nbits == 8);
	/* an all-ones filter says maybe to everything, reading only its bytes */
	CHECK(lsm_bloom_may_contain_hash(&f, 12345));
}

int main(int argc, char **argv)
{
	if (argc > 1)
		tl_set_filter(argv[1]);
	tl_run("bloom_fp_rate", t_fp_rate, NULL);
	tl_run("bloom_bits_matter", t_bits_matter, NULL);
	tl_run("bloom_layout", t_layout, NULL);
	tl_run("bloom_parse_bad", t_parse_bad, NULL);
	return tl_finish();
}
