/* tests/lsm/test_wal.c - WAL objects: round trip, the documented layout, and
 * that every truncation and every damaged byte is refused before any record
 * is delivered. */
#include <stdint.h>
#include <stdlib.h>

#include "coding.h"
#include "memtable.h"
#include "testlib.h"
#include "wal.h"
#include "write_batch.h"

static unsigned long long seed;

#define rnd tl_rand64 /* testlib's seeded PRNG */

/* ---- sample batches ---- */
struct sample {
	struct lsm_batch **b;
	uint64_t *first;
	size_t *offset; /* where each record starts in the encoded object */
	size_t n;
};

static void sample_make(struct sample *sm, unsigned long long *s, size_t n, size_t max_ops,
			size_t max_val)
{
	static uint8_t buf[70000];
	uint64_t seq = 1 + rnd(s) % 100;
	sm->n = n;
	sm->b = calloc(n, sizeof(*sm->b));
	sm->first = calloc(n, sizeof(*sm->first));
	sm->offset = calloc(n, sizeof(*sm->offset));
	for (size_t i = 0; i < n; i++) {
		sm->b[i] = lsm_batch_new();
		size_t ops = 1 + rnd(s) % max_ops;
		for (size_t j = 0; j < ops; j++) {
			size_t kl = rnd(s) % 30, vl = rnd(s) % 16 == 0 ? rnd(s) % max_val : rnd(s) % 50;
			tl_fill_random(buf, kl > vl ? kl : vl, s);
			if (rnd(s) % 5 == 0)
				CHECK(lsm_batch_delete(sm->b[i], buf, kl) == LSM_OK);
			else
				CHECK(lsm_batch_put(sm->b[i], buf, kl, buf, vl) == LSM_OK);
		}
		sm->first[i] = seq;
		seq += ops + rnd(s) % 3; /* seqs grow, sometimes with gaps */
	}
}

static void sample_free(struct sample *sm)
{
	for (size_t i = 0; i < sm->n; i++)
		lsm_batch_free(sm->b[i]);
	free(sm->b);
	free(sm->first);
	free(sm->offset);
}

static lsm_status encode(struct sample *sm, uint64_t epoch, uint64_t id, struct lsm_buf *out)
{
	struct lsm_wal_encoder e;
	lsm_status st = lsm_wal_encoder_begin(&e, out, epoch, id);
	for (size_t i = 0; !st && i < sm->n; i++) {
		sm->offset[i] = out->len - e.start;
		st = lsm_wal_encoder_add(&e, sm->first[i], sm->b[i]);
	}
	size_t predicted = lsm_wal_encoder_size(&e);
	if (!st)
		st = lsm_wal_encoder_finish(&e);
	CHECK(st || lsm_wal_encoder_size(&e) == predicted);
	return st;
}

/* ---- a decode callback that checks what it gets against the sample ---- */
struct got {
	const struct sample *sm;
	size_t n;
	int bad;
	size_t stop_at; /* return LSM_EIO on this record (if nonzero) */
};

static lsm_status on_record(void *ctx, uint64_t first_seq, uint32_t count, const uint8_t *body,
			    size_t len)
{
	struct got *g = ctx;
	size_t i = g->n++;
	if (g->stop_at && g->n == g->stop_at)
		return LSM_EIO;
	if (!g->sm)
		return LSM_OK;
	size_t want_len;
	const uint8_t *want;
	if (i >= g->sm->n) {
		g->bad++;
		return LSM_OK;
	}
	want = lsm_batch_body(g->sm->b[i], &want_len);
	if (first_seq != g->sm->first[i] || count != lsm_batch_count(g->sm->b[i]) ||
	    len != want_len || memcmp(body, want, len))
		g->bad++;
	return LSM_OK;
}

static void t_roundtrip(void *ctx)
{
	(void)ctx;
	unsigned long long s = seed;
	struct sample sm;
	struct lsm_buf out = { 0 };
	struct lsm_wal_header h;
	sample_make(&sm, &s, 300, 40, 60000);
	REQUIRE(encode(&sm, 7, 12345, &out) == LSM_OK);
	struct got g = { &sm, 0, 0, 0 };
	CHECK(lsm_wal_decode(out.data, out.len, &h, on_record, &g) == LSM_OK);
	CHECK(g.n == sm.n && g.bad == 0);
	uint64_t last = sm.first[sm.n - 1] + lsm_batch_count(sm.b[sm.n - 1]) - 1;
	CHECK(h.version == LSM_WAL_VERSION && h.writer_epoch == 7 && h.wal_id == 12345);
	CHECK(h.record_count == sm.n && h.last_seq == last);
	/* validation only */
	CHECK(lsm_wal_decode(out.data, out.len, NULL, NULL, NULL) == LSM_OK);

	/* an object built after other bytes in the same buffer */
	struct lsm_buf two = { 0 };
	CHECK(lsm_buf_append(&two, "prefix", 6) == LSM_OK);
	REQUIRE(encode(&sm, 7, 12345, &two) == LSM_OK);
	CHECK(two.len == out.len + 6 && !memcmp(two.data + 6, out.data, out.len));
	lsm_buf_free(&two);

	/* an empty WAL object */
	struct lsm_wal_encoder e;
	struct lsm_buf empty = { 0 };
	CHECK(lsm_wal_encoder_begin(&e, &empty, 1, 2) == LSM_OK);
	CHECK(lsm_wal_encoder_finish(&e) == LSM_OK);
	CHECK(empty.len == LSM_WAL_HEADER_BYTES + LSM_WAL_TRAILER_BYTES);
	g = (struct got){ NULL, 0, 0, 0 };
	CHECK(lsm_wal_decode(empty.data, empty.len, &h, on_record, &g) == LSM_OK && g.n == 0);
	CHECK(h.record_count == 0 && h.last_seq == 0 && h.wal_id == 2);
	lsm_buf_free(&empty);

	/* the callback's error stops the delivery */
	g = (struct got){ NULL, 0, 0, 3 };
	CHECK(lsm_wal_decode(out.data, out.len, NULL, on_record, &g) == LSM_EIO && g.n == 3);
	lsm_buf_free(&out);
	sample_free(&sm);
}

static void t_every_truncation(void *ctx)
{
	(void)ctx;
	unsigned long long s = seed + 1;
	struct sample sm;
	struct lsm_buf out = { 0 };
	sample_make(&sm, &s, 60, 8, 400);
	REQUIRE(encode(&sm, 3, 4, &out) == LSM_OK);
	int accepted = 0, unexplained = 0;
	struct got g = { NULL, 0, 0, 0 };
	for (size_t cut = 0; cut < out.len; cut++) {
		uint8_t *copy = malloc(cut + 1); /* exact size: ASan sees any over-read */
		memcpy(copy, out.data, cut);
		if (lsm_wal_decode(copy, cut, NULL, on_record, &g) != LSM_ECORRUPT)
			accepted++;
		else if (!strstr(lsm_last_error(), "truncated"))
			unexplained++;
		free(copy);
	}
	CHECK_MSG(accepted == 0, "%d of %zu truncations accepted", accepted, out.len);
	CHECK_MSG(g.n == 0, "%zu records delivered from truncated objects", g.n);
	CHECK_MSG(unexplained == 0, "%d truncations reported without saying so", unexplained);
	/* bytes after the trailer are no object either */
	CHECK(lsm_buf_append(&out, "\0", 1) == LSM_OK);
	CHECK(lsm_wal_decode(out.data, out.len, NULL, on_record, &g) == LSM_ECORRUPT && g.n == 0);
	lsm_buf_free(&out);
	sample_free(&sm);
}

static void t_every_flipped_byte(void *ctx)
{
	(void)ctx;
	unsigned long long s = seed + 2;
	struct sample sm;
	struct lsm_buf out = { 0 };
	sample_make(&sm, &s, 60, 8, 400);
	REQUIRE(encode(&sm, 3, 4, &out) == LSM_OK);
	int accepted = 0, misplaced = 0;
	struct got g = { NULL, 0, 0, 0 };
	size_t rec = 0, end = out.len - LSM_WAL_TRAILER_BYTES;
	uint8_t *obj = malloc(out.len); /* exact size: ASan sees any over-read */
	memcpy(obj, out.data, out.len);
	for (size_t i = 0; i < out.len; i++) {
		uint8_t x = (uint8_t)(1 + rnd(&s) % 255);
		obj[i] ^= x;
		if (lsm_wal_decode(obj, out.len, NULL, on_record, &g) != LSM_ECORRUPT)
			accepted++;
		obj[i] ^= x;
		/* damage inside record r is reported as record r */
		while (rec + 1 < sm.n && sm.offset[rec + 1] <= i)
			rec++;
		if (i >= LSM_WAL_HEADER_BYTES && i < end) {
			char w1[64], w2[64]; /* "record 1" must not match "record 12" */
			snprintf(w1, sizeof(w1), "record %zu ", rec);
			snprintf(w2, sizeof(w2), "record %zu:", rec);
			if (!strstr(lsm_last_error(), w1) && !strstr(lsm_last_error(), w2))
				misplaced++;
		}
	}
	CHECK_MSG(accepted == 0, "%d of %zu damaged bytes accepted", accepted, out.len);
	CHECK_MSG(g.n == 0, "%zu records delivered from damaged objects", g.n);
	CHECK_MSG(misplaced == 0, "%d damaged records reported at the wrong index", misplaced);
	/* and still fine when undamaged */
	CHECK(lsm_wal_decode(obj, out.len, NULL, NULL, NULL) == LSM_OK);
	free(obj);
	lsm_buf_free(&out);
	sample_free(&sm);
}

/* ---- the layout of docs/FORMAT.md, written by hand ---- */
static void put64(struct lsm_buf *b, uint64_t v)
{
	for (int i = 0; i < 8; i++) {
		uint8_t c = (uint8_t)(v >> (8 * i));
		CHECK(lsm_buf_append(b, &c, 1) == LSM_OK);
	}
}
static void put32(struct lsm_buf *b, uint32_t v)
{
	for (int i = 0; i < 4; i++) {
		uint8_t c = (uint8_t)(v >> (8 * i));
		CHECK(lsm_buf_append(b, &c, 1) == LSM_OK);
	}
}

struct raw_rec {
	uint64_t first;
	uint32_t count;
	const void *body;
	uint32_t len;
};

/* A WAL object per the documentation, with valid checksums whatever the
 * fields say; trailer count and last seq as given. */
static void raw_wal(struct lsm_buf *b, uint64_t epoch, uint64_t id, const struct raw_rec *r,
		    size_t n, uint64_t t_count, uint64_t t_last)
{
	b->len = 0;
	CHECK(lsm_buf_append(b, "ZLSMWAL1", 8) == LSM_OK);
	put32(b, 1);
	put32(b, 0);
	put64(b, epoch);
	put64(b, id);
	for (size_t i = 0; i < n; i++) {
		size_t start = b->len;
		put64(b, r[i].first);
		put32(b, r[i].count);
		put32(b, r[i].len);
		CHECK(lsm_buf_append(b, r[i].body, r[i].len) == LSM_OK);
		put64(b, lsm_checksum(b->data + start, b->len - start));
	}
	put64(b, t_count);
	put64(b, t_last);
	put64(b, lsm_checksum(b->data, b->len));
	CHECK(lsm_buf_append(b, "ZLSMWEND", 8) == LSM_OK);
}

static void t_documented_layout(void *ctx)
{
	(void)ctx;
	struct lsm_buf raw = { 0 }, enc = { 0 };
	struct lsm_wal_encoder e;
	static const uint8_t b1[] = { 1, 1, 'a', 2, 'v', '1', 0, 1, 'b', 0 }; /* put a, delete b */
	static const uint8_t b2[] = { 1, 0, 3, 'x', 'y', 'z' };             /* put "" */
	struct raw_rec r[] = { { 10, 2, b1, sizeof(b1) }, { 15, 1, b2, sizeof(b2) } };
	raw_wal(&raw, 0x0102030405060708ULL, 99, r, 2, 2, 15);
	CHECK(lsm_wal_encoder_begin(&e, &enc, 0x0102030405060708ULL, 99) == LSM_OK);
	CHECK(lsm_wal_encoder_add_body(&e, 10, 2, b1, sizeof(b1)) == LSM_OK);
	CHECK(lsm_wal_encoder_add_body(&e, 15, 1, b2, sizeof(b2)) == LSM_OK);
	CHECK(lsm_wal_encoder_finish(&e) == LSM_OK);
	CHECK_MSG(raw.len == enc.len && !memcmp(raw.data, enc.data, raw.len),
		  "the encoder's bytes differ from docs/FORMAT.md");
	CHECK(lsm_wal_decode(raw.data, raw.len, NULL, NULL, NULL) == LSM_OK);

	/* objects whose checksums are right but whose contents are not */
	struct got g = { NULL, 0, 0, 0 };
	raw_wal(&raw, 1, 1, r, 2, 3, 15); /* trailer count wrong */
	CHECK(lsm_wal_decode(raw.data, raw.len, NULL, on_record, &g) == LSM_ECORRUPT);
	raw_wal(&raw, 1, 1, r, 2, 2, 16); /* trailer last seq wrong */
	CHECK(lsm_wal_decode(raw.data, raw.len, NULL, on_record, &g) == LSM_ECORRUPT);
	struct raw_rec bad_count[] = { { 10, 2, b1, sizeof(b1) }, { 15, 2, b2, sizeof(b2) } };
	raw_wal(&raw, 1, 1, bad_count, 2, 2, 16); /* body holds 1 op, count says 2 */
	CHECK(lsm_wal_decode(raw.data, raw.len, NULL, on_record, &g) == LSM_ECORRUPT);
	CHECK(strstr(lsm_last_error(), "record 1") != NULL);
	struct raw_rec overlap[] = { { 10, 2, b1, sizeof(b1) }, { 11, 1, b2, sizeof(b2) } };
	raw_wal(&raw, 1, 1, overlap, 2, 2, 11); /* seqs 10-11 then 11 */
	CHECK(lsm_wal_decode(raw.data, raw.len, NULL, on_record, &g) == LSM_ECORRUPT);
	struct raw_rec zero[] = { { 0, 1, b2, sizeof(b2) } };
	raw_wal(&raw, 1, 1, zero, 1, 1, 0); /* seq 0 */
	CHECK(lsm_wal_decode(raw.data, raw.len, NULL, on_record, &g) == LSM_ECORRUPT);
	struct raw_rec empty[] = { { 5, 0, NULL, 0 } };
	raw_wal(&raw, 1, 1, empty, 1, 1, 4); /* a record of no ops */
	CHECK(lsm_wal_decode(raw.data, raw.len, NULL, on_record, &g) == LSM_ECORRUPT);
	struct raw_rec past[] = { { 10, 2, b1, 200 } }; /* body length past the trailer */
	uint8_t big[200] = { 0 };
	past[0].body = big;
	raw_wal(&raw, 1, 1, past, 1, 1, 11);
	lsm_enc_fixed32(raw.data + 32 + 12, 100000); /* then fix the object checksum */
	lsm_enc_fixed64(raw.data + raw.len - 16, lsm_checksum(raw.data, raw.len - 16));
	CHECK(lsm_wal_decode(raw.data, raw.len, NULL, on_record, &g) == LSM_ECORRUPT);
	/* a record damaged with the object checksum made to match */
	raw_wal(&raw, 1, 1, r, 2, 2, 15);
	raw.data[32 + 16] ^= 1;
	lsm_enc_fixed64(raw.data + raw.len - 16, lsm_checksum(raw.data, raw.len - 16));
	CHECK(lsm_wal_decode(raw.data, raw.len, NULL, on_record, &g) == LSM_ECORRUPT);
	CHECK(strstr(lsm_last_error(), "checksum mismatch at record 0") != NULL);
	/* a newer format version */
	raw_wal(&raw, 1, 1, r, 2, 2, 15);
	raw.data[8] = 2;
	lsm_enc_fixed64(raw.data + raw.len - 16, lsm_checksum(raw.data, raw.len - 16));
	CHECK(lsm_wal_decode(raw.data, raw.len, NULL, on_record, &g) == LSM_ECORRUPT);
	CHECK(strstr(lsm_last_error(), "version") != NULL);
	CHECK(g.n == 0);
	lsm_buf_free(&raw);
	lsm_buf_free(&enc);
}

static void t_encoder_refuses(void *ctx)
{
	(void)ctx;
	struct lsm_buf out = { 0 };
	struct lsm_wal_encoder e;
	struct lsm_batch *b = lsm_batch_new(), *none = lsm_batch_new();
	REQUIRE(b && none);
	CHECK(lsm_batch_put(b, "k", 1, "v", 1) == LSM_OK);
	CHECK(lsm_batch_put(b, "l", 1, "w", 1) == LSM_OK);
	CHECK(lsm_wal_encoder_begin(&e, &out, 1, 1) == LSM_OK);
	size_t len = out.len;
	CHECK(lsm_wal_encoder_add(&e, 0, b) == LSM_EINVAL);         /* seq 0 */
	CHECK(lsm_wal_encoder_add(&e, 5, none) == LSM_EINVAL);      /* no ops */
	CHECK(lsm_wal_encoder_add(&e, LSM_SEQ_MAX, b) == LSM_EINVAL); /* past 2^56-1 */
	CHECK(lsm_wal_encoder_add_body(&e, 5, 1, (const uint8_t *)"\x01\x09", 2) == LSM_EINVAL);
	CHECK(out.len == len);
	CHECK(lsm_wal_encoder_add(&e, 5, b) == LSM_OK); /* seqs 5, 6 */
	len = out.len;
	CHECK(lsm_wal_encoder_add(&e, 6, b) == LSM_EINVAL);
	CHECK(out.len == len);
	CHECK(lsm_wal_encoder_add(&e, 7, b) == LSM_OK);
	CHECK(lsm_wal_encoder_finish(&e) == LSM_OK);
	len = out.len;
	CHECK(lsm_wal_encoder_add(&e, 100, b) == LSM_EINVAL);
	CHECK(lsm_wal_encoder_finish(&e) == LSM_EINVAL);
	CHECK(out.len == len);
	struct lsm_wal_header h;
	CHECK(lsm_wal_decode(out.data, out.len, &h, NULL, NULL) == LSM_OK);
	CHECK(h.record_count == 2 && h.last_seq == 8);
	lsm_batch_free(b);
	lsm_batch_free(none);
	lsm_buf_free(&out);
}

/* Recovery as the database does it: WAL records into a memtable. */
static lsm_status replay(void *ctx, uint64_t first_seq, uint32_t count, const uint8_t *body,
			 size_t len)
{
	return lsm_memtable_apply_body(ctx, body, len, count, first_seq);
}

static void t_replay_into_memtable(void *ctx)
{
	(void)ctx;
	struct lsm_batch *b1 = lsm_batch_new(), *b2 = lsm_batch_new();
	struct lsm_buf out = { 0 }, v = { 0 };
	struct lsm_wal_encoder e;
	struct lsm_memtable *mt;
	enum lsm_type t;
	REQUIRE(b1 && b2 && lsm_memtable_new(&mt) == LSM_OK);
	CHECK(lsm_batch_put(b1, "x", 1, "old", 3) == LSM_OK);
	CHECK(lsm_batch_put(b1, "y", 1, "y1", 2) == LSM_OK);
	CHECK(lsm_batch_put(b2, "x", 1, "new", 3) == LSM_OK);
	CHECK(lsm_batch_delete(b2, "y", 1) == LSM_OK);
	CHECK(lsm_wal_encoder_begin(&e, &out, 1, 1) == LSM_OK);
	CHECK(lsm_wal_encoder_add(&e, 1, b1) == LSM_OK);
	CHECK(lsm_wal_encoder_add(&e, 3, b2) == LSM_OK);
	CHECK(lsm_wal_encoder_finish(&e) == LSM_OK);
	CHECK(lsm_wal_decode(out.data, out.len, NULL, replay, mt) == LSM_OK);
	CHECK(lsm_memtable_count(mt) == 4);
	CHECK(lsm_memtable_get(mt, "x", 1, 2, &t, &v) == LSM_OK && v.len == 3 &&
	      !memcmp(v.data, "old", 3));
	CHECK(lsm_memtable_get(mt, "x", 1, 4, &t, &v) == LSM_OK && !memcmp(v.data, "new", 3));
	CHECK(lsm_memtable_get(mt, "y", 1, 4, &t, &v) == LSM_OK && t == LSM_TYPE_DELETE);
	lsm_memtable_unref(mt);
	lsm_batch_free(b1);
	lsm_batch_free(b2);
	lsm_buf_free(&out);
	lsm_buf_free(&v);
}

int main(int argc, char **argv)
{
	if (argc > 1)
		tl_set_filter(argv[1]);
	seed = tl_seed();
	tl_run("roundtrip", t_roundtrip, NULL);
	tl_run("every_truncation", t_every_truncation, NULL);
	tl_run("every_flipped_byte", t_every_flipped_byte, NULL);
	tl_run("documented_layout", t_documented_layout, NULL);
	tl_run("encoder_refuses", t_encoder_refuses, NULL);
	tl_run("replay_into_memtable", t_replay_into_memtable, NULL);
	return tl_finish();
}
