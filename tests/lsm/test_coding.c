/* tests/lsm/test_coding.c - encoders and decoders of lsm/include/coding.h, ikey order. */
#include <stdint.h>

#include "coding.h"
#include "ikey.h"
#include "testlib.h"

static void t_varint(void *ctx)
{
	(void)ctx;
	static const uint64_t vals[] = { 0, 1, 127, 128, 300, 16383, 16384, UINT32_MAX,
					 (uint64_t)1 << 35, UINT64_MAX - 1, UINT64_MAX };
	struct lsm_buf b = { 0 };
	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++)
		CHECK(lsm_buf_put_varint(&b, vals[i]) == LSM_OK);
	struct lsm_cursor c = { b.data, b.len };
	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		uint64_t v = 0;
		CHECK(lsm_get_varint(&c, &v) && v == vals[i]);
	}
	CHECK(c.left == 0);
	/* truncated and over-long varints are refused, never over-read */
	uint8_t trunc[] = { 0x80, 0x80 };
	struct lsm_cursor t = { trunc, sizeof(trunc) };
	uint64_t v;
	CHECK(!lsm_get_varint(&t, &v));
	uint8_t over[11];
	memset(over, 0xff, sizeof(over));
	struct lsm_cursor o = { over, sizeof(over) };
	CHECK(!lsm_get_varint(&o, &v));
	lsm_buf_free(&b);
}

static void t_fixed_and_bytes(void *ctx)
{
	(void)ctx;
	struct lsm_buf b = { 0 };
	CHECK(lsm_buf_put_fixed32(&b, 0xdeadbeef) == LSM_OK);
	CHECK(lsm_buf_put_fixed64(&b, 0x0123456789abcdefULL) == LSM_OK);
	CHECK(lsm_buf_put_bytes(&b, "hello", 5) == LSM_OK);
	CHECK(b.data[0] == 0xef && b.data[3] == 0xde); /* little-endian on the store */
	struct lsm_cursor c = { b.data, b.len };
	uint32_t a;
	uint64_t d;
	const uint8_t *p;
	size_t n;
	CHECK(lsm_get_fixed32(&c, &a) && a == 0xdeadbeef);
	CHECK(lsm_get_fixed64(&c, &d) && d == 0x0123456789abcdefULL);
	CHECK(lsm_get_bytes(&c, &p, &n) && n == 5 && !memcmp(p, "hello", 5));
	CHECK(!lsm_get_fixed32(&c, &a));
	/* a length prefix larger than what is left */
	uint8_t bad[] = { 10, 'a', 'b' };
	struct lsm_cursor bc = { bad, sizeof(bad) };
	CHECK(!lsm_get_bytes(&bc, &p, &n));
	lsm_buf_free(&b);
}

static void t_checksum(void *ctx)
{
	(void)ctx;
	char a[100] = "some block bytes";
	uint64_t x = lsm_checksum(a, sizeof(a));
	CHECK(x == lsm_checksum(a, sizeof(a)));
	a[50] ^= 1;
	CHECK(x != lsm_checksum(a, sizeof(a)));
}

static void t_ikey_order(void *ctx)
{
	(void)ctx;
	uint8_t k1[16], k2[16], k3[16], k4[16];
	lsm_ikey_encode(k1, "ab", 2, 5, LSM_TYPE_PUT);
	lsm_ikey_encode(k2, "ab", 2, 9, LSM_TYPE_DELETE);
	lsm_ikey_encode(k3, "abc", 3, 1, LSM_TYPE_PUT);
	lsm_ikey_encode(k4, "b", 1, 100, LSM_TYPE_PUT);
	CHECK(lsm_ikey_compare(k2, 10, k1, 10) < 0); /* newer version first */
	CHECK(lsm_ikey_compare(k1, 10, k3, 11) < 0); /* prefix sorts first */
	CHECK(lsm_ikey_compare(k3, 11, k4, 9) < 0);
	CHECK(lsm_ikey_compare(k1, 10, k1, 10) == 0);
	CHECK(lsm_ikey_seq(k2, 10) == 9 && lsm_ikey_type(k2, 10) == LSM_TYPE_DELETE);
	CHECK(lsm_ikey_user_len(11) == 3);
}

int main(void)
{
	tl_run("varint", t_varint, NULL);
	tl_run("fixed_and_bytes", t_fixed_and_bytes, NULL);
	tl_run("checksum", t_checksum, NULL);
	tl_run("ikey_order", t_ikey_order, NULL);
	return tl_finish();
}
