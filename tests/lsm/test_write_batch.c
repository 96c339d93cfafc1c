/* tests/lsm/test_write_batch.c - write batches: building, body encoding, decoding
 * with validation (every truncation, malformed lengths and types). */
#include <stdint.h>
#include <stdlib.h>

#include "coding.h"
#include "testlib.h"
#include "write_batch.h"

static unsigned long long seed;

#define rnd tl_rand64 /* testlib's seeded PRNG */

/* ---- a model of a batch: the ops as given ---- */
struct op {
	enum lsm_type type;
	uint8_t *key, *val;
	size_t klen, vlen;
};
struct ops {
	struct op *v;
	size_t n, cap;
};

static void ops_add(struct ops *o, enum lsm_type type, const uint8_t *k, size_t kl,
		    const uint8_t *v, size_t vl)
{
	if (o->n == o->cap) {
		o->cap = o->cap ? 2 * o->cap : 16;
		o->v = realloc(o->v, o->cap * sizeof(*o->v));
	}
	struct op *p = &o->v[o->n++];
	p->type = type;
	p->klen = kl;
	p->vlen = vl;
	p->key = malloc(kl + 1);
	p->val = malloc(vl + 1);
	if (kl)
		memcpy(p->key, k, kl);
	if (vl)
		memcpy(p->val, v, vl);
}

static void ops_free(struct ops *o)
{
	for (size_t i = 0; i < o->n; i++) {
		free(o->v[i].key);
		free(o->v[i].val);
	}
	free(o->v);
	memset(o, 0, sizeof(*o));
}

static lsm_status collect(void *ctx, enum lsm_type type, const uint8_t *key, size_t klen,
			  const uint8_t *val, size_t vlen)
{
	ops_add(ctx, type, key, klen, val, vlen);
	return LSM_OK;
}

static bool same_ops(const struct ops *a, const struct ops *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++) {
		const struct op *x = &a->v[i], *y = &b->v[i];
		if (x->type != y->type || x->klen != y->klen || x->vlen != y->vlen ||
		    memcmp(x->key, y->key, x->klen) || memcmp(x->val, y->val, x->vlen))
			return false;
	}
	return true;
}

/* A random batch and its model: keys and values of assorted sizes, including
 * empty ones and lengths whose varints take 2 and 3 bytes. */
static void random_batch(unsigned long long *s, size_t nops, size_t max_val, struct lsm_batch *b,
			 struct ops *model)
{
	static uint8_t buf[300000];
	for (size_t i = 0; i < nops; i++) {
		size_t kl = rnd(s) % 4 == 0 ? rnd(s) % 200 : rnd(s) % 12;
		size_t vl = rnd(s) % 8 == 0 ? rnd(s) % max_val : rnd(s) % 20;
		tl_fill_random(buf, kl > vl ? kl : vl, s);
		if (rnd(s) % 4 == 0) {
			CHECK(lsm_batch_delete(b, buf, kl) == LSM_OK);
			ops_add(model, LSM_TYPE_DELETE, buf, kl, NULL, 0);
		} else {
			CHECK(lsm_batch_put(b, buf, kl, buf, vl) == LSM_OK);
			ops_add(model, LSM_TYPE_PUT, buf, kl, buf, vl);
		}
	}
}

static void t_basic(void *ctx)
{
	(void)ctx;
	struct lsm_batch *b = lsm_batch_new();
	struct ops got = { 0 };
	size_t len;
	REQUIRE(b);
	CHECK(lsm_batch_count(b) == 0 && lsm_batch_byte_size(b) == 0);
	CHECK(lsm_batch_put(b, "a", 1, "xyz", 3) == LSM_OK);
	CHECK(lsm_batch_delete(b, "bc", 2) == LSM_OK);
	CHECK(lsm_batch_put(b, NULL, 0, NULL, 0) == LSM_OK); /* empty key and value */
	CHECK(lsm_batch_count(b) == 3);
	/* the documented body: type, varint key length, key, varint value length, value */
	static const uint8_t want[] = { 1, 1, 'a', 3, 'x', 'y', 'z', 0, 2, 'b', 'c', 0, 1, 0, 0 };
	const uint8_t *body = lsm_batch_body(b, &len);
	CHECK(len == sizeof(want) && lsm_batch_byte_size(b) == sizeof(want));
	CHECK(len == sizeof(want) && !memcmp(body, want, len));
	CHECK(lsm_batch_iterate(b, collect, &got) == LSM_OK);
	CHECK(got.n == 3 && got.v[0].type == LSM_TYPE_PUT && got.v[0].klen == 1 &&
	      got.v[0].key[0] == 'a' && got.v[0].vlen == 3 && !memcmp(got.v[0].val, "xyz", 3));
	CHECK(got.n == 3 && got.v[1].type == LSM_TYPE_DELETE && got.v[1].klen == 2 &&
	      got.v[1].vlen == 0);
	CHECK(got.n == 3 && got.v[2].klen == 0 && got.v[2].vlen == 0);
	ops_free(&got);
	/* a 2-byte varint length */
	uint8_t key[300];
	memset(key, 'k', sizeof(key));
	lsm_batch_clear(b);
	CHECK(lsm_batch_count(b) == 0 && lsm_batch_byte_size(b) == 0);
	CHECK(lsm_batch_put(b, key, 300, "v", 1) == LSM_OK);
	body = lsm_batch_body(b, &len);
	CHECK(len == 1 + 2 + 300 + 1 + 1 && body[1] == (0x80 | (300 & 0x7f)) && body[2] == 2);
	lsm_batch_free(b);
}

static void t_roundtrip(void *ctx)
{
	(void)ctx;
	unsigned long long s = seed;
	struct lsm_batch *b = lsm_batch_new(), *d = lsm_batch_new();
	struct ops model = { 0 }, got = { 0 }, got2 = { 0 };
	REQUIRE(b && d);
	random_batch(&s, 500, 250000, b, &model);
	/* a value of 1 MiB and a key of the maximum length */
	uint8_t *big = malloc(1 << 20), *bigkey = malloc(LSM_MAX_KEY_LEN);
	tl_fill_random(big, 1 << 20, &s);
	tl_fill_random(bigkey, LSM_MAX_KEY_LEN, &s);
	CHECK(lsm_batch_put(b, "big", 3, big, 1 << 20) == LSM_OK);
	ops_add(&model, LSM_TYPE_PUT, (const uint8_t *)"big", 3, big, 1 << 20);
	CHECK(lsm_batch_put(b, bigkey, LSM_MAX_KEY_LEN, "x", 1) == LSM_OK);
	ops_add(&model, LSM_TYPE_PUT, bigkey, LSM_MAX_KEY_LEN, (const uint8_t *)"x", 1);
	CHECK(lsm_batch_count(b) == model.n);

	CHECK(lsm_batch_iterate(b, collect, &got) == LSM_OK);
	CHECK(same_ops(&got, &model));
	size_t len;
	const uint8_t *body = lsm_batch_body(b, &len);
	CHECK(lsm_batch_body_check(body, len, (uint32_t)model.n) == LSM_OK);
	CHECK(lsm_batch_decode(d, body, len, (uint32_t)model.n) == LSM_OK);
	CHECK(lsm_batch_count(d) == model.n && lsm_batch_byte_size(d) == len);
	CHECK(lsm_batch_iterate(d, collect, &got2) == LSM_OK);
	CHECK(same_ops(&got2, &model));
	free(big);
	free(bigkey);
	ops_free(&model);
	ops_free(&got);
	ops_free(&got2);
	lsm_batch_free(b);
	lsm_batch_free(d);
}

static lsm_status count_calls(void *ctx, enum lsm_type type, const uint8_t *key, size_t klen,
			      const uint8_t *val, size_t vlen)
{
	(void)type, (void)key, (void)klen, (void)val, (void)vlen;
	(*(int *)ctx)++;
	return LSM_OK;
}

static void t_every_truncation(void *ctx)
{
	(void)ctx;
	unsigned long long s = seed + 1;
	struct lsm_batch *b = lsm_batch_new(), *d = lsm_batch_new();
	struct ops model = { 0 };
	REQUIRE(b && d);
	random_batch(&s, 60, 400, b, &model);
	size_t len;
	const uint8_t *body = lsm_batch_body(b, &len);
	uint32_t n = lsm_batch_count(b);
	int accepted = 0, delivered = 0;
	for (size_t cut = 0; cut < len; cut++) {
		uint8_t *copy = malloc(cut + 1); /* exact-size copy: ASan sees any over-read */
		memcpy(copy, body, cut);
		if (lsm_batch_decode(d, copy, cut, n) != LSM_ECORRUPT)
			accepted++;
		if (lsm_batch_count(d) != 0 || lsm_batch_byte_size(d) != 0)
			accepted++;
		if (lsm_batch_body_iterate(copy, cut, n, count_calls, &delivered) != LSM_ECORRUPT)
			accepted++;
		free(copy);
	}
	CHECK_MSG(accepted == 0, "%d truncations of a %zu-byte body accepted", accepted, len);
	CHECK_MSG(delivered == 0, "%d ops delivered from truncated bodies", delivered);
	/* the whole body, but a wrong op count, or a byte too many */
	CHECK(lsm_batch_body_check(body, len, n + 1) == LSM_ECORRUPT);
	CHECK(lsm_batch_body_check(body, len, n - 1) == LSM_ECORRUPT);
	uint8_t *more = malloc(len + 1);
	memcpy(more, body, len);
	more[len] = 0;
	CHECK(lsm_batch_body_check(more, len + 1, n) == LSM_ECORRUPT);
	free(more);
	CHECK(lsm_batch_decode(d, body, len, n) == LSM_OK && lsm_batch_count(d) == n);
	ops_free(&model);
	lsm_batch_free(b);
	lsm_batch_free(d);
}

static void t_malformed(void *ctx)
{
	(void)ctx;
	struct lsm_batch *d = lsm_batch_new();
	REQUIRE(d);
	static const uint8_t ok[] = { 1, 1, 'k', 1, 'v' };
	CHECK(lsm_batch_body_check(ok, sizeof(ok), 1) == LSM_OK);
	static const uint8_t blob[] = { 2, 1, 'k', 1, 'v' }; /* BLOB_REF: not a batch op */
	CHECK(lsm_batch_body_check(blob, sizeof(blob), 1) == LSM_ECORRUPT);
	static const uint8_t unknown[] = { 7, 1, 'k', 0 };
	CHECK(lsm_batch_body_check(unknown, sizeof(unknown), 1) == LSM_ECORRUPT);
	static const uint8_t del_val[] = { 0, 1, 'k', 1, 'v' };
	CHECK(lsm_batch_body_check(del_val, sizeof(del_val), 1) == LSM_ECORRUPT);
	/* a length that does not fit, and one of 2^63 */
	static const uint8_t long_key[] = { 1, 5, 'k', 0 };
	CHECK(lsm_batch_body_check(long_key, sizeof(long_key), 1) == LSM_ECORRUPT);
	static const uint8_t huge[] = { 1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01 };
	CHECK(lsm_batch_body_check(huge, sizeof(huge), 1) == LSM_ECORRUPT);
	uint8_t overlong[16] = { 1 };
	memset(overlong + 1, 0xff, 15);
	CHECK(lsm_batch_body_check(overlong, sizeof(overlong), 1) == LSM_ECORRUPT);
	/* a key over the limit, with all its bytes present */
	size_t kl = LSM_MAX_KEY_LEN + 1, n;
	uint8_t *big = calloc(1, kl + 16);
	big[0] = 1;
	n = 1 + lsm_enc_varint(big + 1, kl) + kl;
	big[n++] = 0;
	CHECK(lsm_batch_body_check(big, n, 1) == LSM_ECORRUPT);
	CHECK(lsm_batch_decode(d, big, n, 1) == LSM_ECORRUPT && lsm_batch_count(d) == 0);
	free(big);
	/* an empty body holds zero ops, not one */
	CHECK(lsm_batch_body_check(NULL, 0, 0) == LSM_OK);
	CHECK(lsm_batch_body_check(NULL, 0, 1) == LSM_ECORRUPT);
	CHECK(strstr(lsm_last_error(), "op 0") != NULL);
	lsm_batch_free(d);
}

static void t_limits(void *ctx)
{
	(void)ctx;
	struct lsm_batch *b = lsm_batch_new();
	REQUIRE(b);
	uint8_t *big = calloc(1, LSM_MAX_VALUE_LEN + 1);
	REQUIRE(big);
	CHECK(lsm_batch_put(b, "a", 1, "b", 1) == LSM_OK);
	size_t before = lsm_batch_byte_size(b);
	CHECK(lsm_batch_put(b, big, LSM_MAX_KEY_LEN + 1, "v", 1) == LSM_EINVAL);
	CHECK(lsm_batch_delete(b, big, LSM_MAX_KEY_LEN + 1) == LSM_EINVAL);
	CHECK(lsm_batch_put(b, "k", 1, big, LSM_MAX_VALUE_LEN + 1) == LSM_EINVAL);
	CHECK(lsm_batch_put(b, NULL, 3, "v", 1) == LSM_EINVAL);
	/* a refused op leaves the batch as it was */
	CHECK(lsm_batch_count(b) == 1 && lsm_batch_byte_size(b) == before);
	CHECK(lsm_batch_put(b, "k", 1, big, LSM_MAX_VALUE_LEN) == LSM_OK);
	CHECK(lsm_batch_count(b) == 2);
	free(big);
	lsm_batch_free(b);
}

static lsm_status stop_at_2(void *ctx, enum lsm_type type, const uint8_t *key, size_t klen,
			    const uint8_t *val, size_t vlen)
{
	(void)type, (void)key, (void)klen, (void)val, (void)vlen;
	return ++*(int *)ctx == 2 ? LSM_EIO : LSM_OK;
}

static void t_callback_stops(void *ctx)
{
	(void)ctx;
	struct lsm_batch *b = lsm_batch_new();
	int calls = 0;
	REQUIRE(b);
	for (int i = 0; i < 5; i++)
		CHECK(lsm_batch_put(b, "k", 1, "v", 1) == LSM_OK);
	CHECK(lsm_batch_iterate(b, stop_at_2, &calls) == LSM_EIO && calls == 2);
	lsm_batch_free(b);
}

int main(int argc, char **argv)
{
	if (argc > 1)
		tl_set_filter(argv[1]);
	seed = tl_seed();
	tl_run("basic", t_basic, NULL);
	tl_run("roundtrip", t_roundtrip, NULL);
	tl_run("every_truncation", t_every_truncation, NULL);
	tl_run("malformed", t_malformed, NULL);
	tl_run("limits", t_limits, NULL);
	tl_run("callback_stops", t_callback_stops, NULL);
	return tl_finish();
}
