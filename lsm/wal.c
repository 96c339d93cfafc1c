/* lsm/wal.c - WAL object encoding and checked decoding; see wal.h */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "ikey.h"
#include "wal.h"

static const uint8_t head_magic[8] = { 'Z', 'L', 'S', 'M', 'W', 'A', 'L', '1' };
static const uint8_t tail_magic[8] = { 'Z', 'L', 'S', 'M', 'W', 'E', 'N', 'D' };

/* ---- encoding ---- */

lsm_status lsm_wal_encoder_begin(struct lsm_wal_encoder *e, struct lsm_buf *out,
				 uint64_t writer_epoch, uint64_t wal_id)
{
	uint8_t h[LSM_WAL_HEADER_BYTES];
	memcpy(h, head_magic, 8);
	lsm_enc_fixed32(h + 8, LSM_WAL_VERSION);
	lsm_enc_fixed32(h + 12, 0); /* skip: only fences set it (lsm_wal_encoder_set_skip) */
	lsm_enc_fixed64(h + 16, writer_epoch);
	lsm_enc_fixed64(h + 24, wal_id);
	e->out = out;
	e->start = out->len;
	e->records = 0;
	e->last_seq = 0;
	e->finished = false;
	return lsm_buf_append(out, h, sizeof(h));
}

lsm_status lsm_wal_encoder_set_skip(struct lsm_wal_encoder *e, uint32_t skip)
{
	if (e->finished || skip > LSM_WAL_MAX_SKIP)
		return lsm_fail(LSM_EINVAL, "WAL skip %" PRIu32 " (at most %u, before finish)", skip,
				LSM_WAL_MAX_SKIP);
	lsm_enc_fixed32(e->out->data + e->start + 12, skip);
	return LSM_OK;
}

lsm_status lsm_wal_encoder_add_body(struct lsm_wal_encoder *e, uint64_t first_seq, uint32_t count,
				    const uint8_t *body, size_t len)
{
	if (e->finished)
		return lsm_fail(LSM_EINVAL, "WAL encoder: record added after finish");
	if (!count)
		return lsm_fail(LSM_EINVAL, "WAL encoder: empty batch");
	if (first_seq == 0 || first_seq <= e->last_seq || first_seq > LSM_SEQ_MAX ||
	    count - 1 > LSM_SEQ_MAX - first_seq)
		return lsm_fail(LSM_EINVAL,
				"WAL encoder: seqs %" PRIu64 "+%" PRIu32 " not above %" PRIu64
				" or beyond 2^56-1",
				first_seq, count, e->last_seq);
	if (lsm_batch_body_check(body, len, count))
		return lsm_fail(LSM_EINVAL, "WAL encoder: %s", lsm_last_error());
	lsm_status st = lsm_buf_reserve(e->out, LSM_WAL_RECORD_OVERHEAD + len);
	if (st)
		return st;
	uint8_t *r = e->out->data + e->out->len;
	lsm_enc_fixed64(r, first_seq);
	lsm_enc_fixed32(r + 8, count);
	lsm_enc_fixed32(r + 12, (uint32_t)len); /* len <= LSM_BATCH_MAX_BYTES: checked */
	if (len)
		memcpy(r + 16, body, len);
	lsm_enc_fixed64(r + 16 + len, lsm_checksum(r, 16 + len));
	e->out->len += LSM_WAL_RECORD_OVERHEAD + len;
	e->records++;
	e->last_seq = first_seq + count - 1;
	return LSM_OK;
}

lsm_status lsm_wal_encoder_add(struct lsm_wal_encoder *e, uint64_t first_seq,
			       const struct lsm_batch *b)
{
	size_t len;
	const uint8_t *body = lsm_batch_body(b, &len);
	return lsm_wal_encoder_add_body(e, first_seq, lsm_batch_count(b), body, len);
}

lsm_status lsm_wal_encoder_finish(struct lsm_wal_encoder *e)
{
	if (e->finished)
		return lsm_fail(LSM_EINVAL, "WAL encoder: finished twice");
	lsm_status st = lsm_buf_reserve(e->out, LSM_WAL_TRAILER_BYTES);
	if (st)
		return st;
	uint8_t *t = e->out->data + e->out->len;
	lsm_enc_fixed64(t, e->records);
	lsm_enc_fixed64(t + 8, e->last_seq);
	/* covers the header, the records and the two fields above */
	lsm_enc_fixed64(t + 16, lsm_checksum(e->out->data + e->start, e->out->len + 16 - e->start));
	memcpy(t + 24, tail_magic, 8);
	e->out->len += LSM_WAL_TRAILER_BYTES;
	e->finished = true;
	return LSM_OK;
}

size_t lsm_wal_encoder_size(const struct lsm_wal_encoder *e)
{
	return e->out->len - e->start + (e->finished ? 0 : LSM_WAL_TRAILER_BYTES);
}

/* ---- decoding ---- */

#define BAD(...) lsm_fail(LSM_ECORRUPT, "WAL object: " __VA_ARGS__)

/* One record's framing, as found by the check pass. */
struct record {
	uint64_t first_seq;
	uint32_t count, len;
	const uint8_t *body;
};

/* Reads the record at p[*off] (the records end at `end`) into r, checking it
 * fully; advances *off. `prev_last` is the previous record's last seq. */
static lsm_status check_record(const uint8_t *p, size_t *off, size_t end, uint64_t i,
			       uint64_t prev_last, struct record *r)
{
	size_t o = *off;
	if (end - o < LSM_WAL_RECORD_OVERHEAD)
		return BAD("record %" PRIu64 " at offset %zu: truncated (%zu bytes left)", i, o,
			   end - o);
	r->first_seq = lsm_dec_fixed64(p + o);
	r->count = lsm_dec_fixed32(p + o + 8);
	r->len = lsm_dec_fixed32(p + o + 12);
	if (r->len > end - o - LSM_WAL_RECORD_OVERHEAD)
		return BAD("record %" PRIu64 " at offset %zu: body of %" PRIu32
			   " bytes runs past the trailer",
			   i, o, r->len);
	r->body = p + o + 16;
	if (lsm_checksum(p + o, 16 + (size_t)r->len) != lsm_dec_fixed64(r->body + r->len))
		return BAD("checksum mismatch at record %" PRIu64 " (offset %zu)", i, o);
	if (!r->count || !r->first_seq || r->first_seq <= prev_last ||
	    r->first_seq > LSM_SEQ_MAX || r->count - 1 > LSM_SEQ_MAX - r->first_seq)
		return BAD("record %" PRIu64 ": seqs %" PRIu64 "+%" PRIu32
			   " empty, not above %" PRIu64 " or beyond 2^56-1",
			   i, r->first_seq, r->count, prev_last);
	if (lsm_batch_body_check(r->body, r->len, r->count)) {
		char why[256];
		snprintf(why, sizeof(why), "%s", lsm_last_error());
		return BAD("record %" PRIu64 ": %s", i, why);
	}
	*off = o + LSM_WAL_RECORD_OVERHEAD + r->len;
	return LSM_OK;
}

lsm_status lsm_wal_decode(const uint8_t *p, size_t n, struct lsm_wal_header *hdr,
			  lsm_wal_record_fn fn, void *ctx)
{
	struct record r = { 0 };
	lsm_status st;
	if (n < LSM_WAL_HEADER_BYTES + LSM_WAL_TRAILER_BYTES)
		return BAD("truncated: %zu bytes, the header and trailer alone take %d", n,
			   LSM_WAL_HEADER_BYTES + LSM_WAL_TRAILER_BYTES);
	size_t end = n - LSM_WAL_TRAILER_BYTES; /* where the records end */
	const uint8_t *t = p + end;
	if (memcmp(t + 24, tail_magic, 8))
		return BAD("no trailer magic: truncated or torn (%zu bytes)", n);
	if (memcmp(p, head_magic, 8))
		return BAD("bad header magic");
	uint32_t version = lsm_dec_fixed32(p + 8);
	if (version != LSM_WAL_VERSION)
		return BAD("unsupported format version %" PRIu32, version);
	uint32_t skip = lsm_dec_fixed32(p + 12);
	if (skip > LSM_WAL_MAX_SKIP)
		return BAD("skip %" PRIu32 " beyond the format's %u", skip, LSM_WAL_MAX_SKIP);

	/* pass 1: check everything, deliver nothing */
	uint64_t records = 0, last = 0;
	for (size_t off = LSM_WAL_HEADER_BYTES; off < end; records++) {
		if ((st = check_record(p, &off, end, records, last, &r)))
			return st;
		last = r.first_seq + r.count - 1;
	}
	if (lsm_checksum(p, n - 16) != lsm_dec_fixed64(t + 16))
		return BAD("object checksum mismatch (header or trailer damaged)");
	if (lsm_dec_fixed64(t) != records)
		return BAD("trailer counts %" PRIu64 " records, the object holds %" PRIu64,
			   lsm_dec_fixed64(t), records);
	if (lsm_dec_fixed64(t + 8) != last)
		return BAD("trailer's last seq %" PRIu64 " differs from the records' %" PRIu64,
			   lsm_dec_fixed64(t + 8), last);
	if (hdr) {
		hdr->version = version;
		hdr->skip = skip;
		hdr->writer_epoch = lsm_dec_fixed64(p + 16);
		hdr->wal_id = lsm_dec_fixed64(p + 24);
		hdr->record_count = records;
		hdr->last_seq = last;
	}
	if (!fn)
		return LSM_OK;

	/* pass 2: deliver (the framing is known good) */
	for (size_t off = LSM_WAL_HEADER_BYTES; off < end;) {
		r.first_seq = lsm_dec_fixed64(p + off);
		r.count = lsm_dec_fixed32(p + off + 8);
		r.len = lsm_dec_fixed32(p + off + 12);
		if ((st = fn(ctx, r.first_seq, r.count, p + off + 16, r.len)))
			return st;
		off += LSM_WAL_RECORD_OVERHEAD + r.len;
	}
	return LSM_OK;
}
