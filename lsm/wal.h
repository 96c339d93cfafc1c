/*
 * lsm/wal.h - WAL objects: the write batches committed since the previous WAL
 * object, as one immutable object (`wal/<id, 20 digits>.wal`, named by
 * lsm_wal_key in manifest.h). Byte layout: docs/FORMAT.md, "WAL objects".
 *
 *   header  | record 0 | record 1 | ... | trailer
 *
 * Every record holds one batch (first seq, op count, body) and a checksum of
 * itself; the trailer holds the record count, the last seq and a checksum of
 * everything before it, and ends with a magic, so an object cut short is
 * caught by the trailer and a damaged byte anywhere by a checksum.
 *
 * Records have seqs that only grow: a record's first seq is above the previous
 * record's last seq (first_seq + count - 1), and seq 0 is never used.
 */
#ifndef ZEROFS_LSM_WAL_H
#define ZEROFS_LSM_WAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coding.h"
#include "status.h"
#include "write_batch.h"

#define LSM_WAL_VERSION 1
#define LSM_WAL_HEADER_BYTES 32
#define LSM_WAL_RECORD_OVERHEAD 24 /* first seq, count, body length, checksum */
#define LSM_WAL_RECORD_HEADER_BYTES 16 /* first seq, count, body length: then the body */
#define LSM_WAL_TRAILER_BYTES 32

/* The most WAL uploads a writer may have in flight at once: a writer uploads
 * id X only while every id up to X - LSM_WAL_MAX_INFLIGHT is durable. A new
 * writer's fence (lsm_open) skips the next LSM_WAL_MAX_SKIP ids, the most a
 * fenced writer's pipeline can still land past the fence, so the new
 * writer's own ids never collide with them and replay never reads them. */
#define LSM_WAL_MAX_INFLIGHT 8
#define LSM_WAL_MAX_SKIP (LSM_WAL_MAX_INFLIGHT - 1)

struct lsm_wal_header {
	uint32_t version;
	uint32_t skip;         /* the next object of the log is wal_id + 1 + skip */
	uint64_t writer_epoch; /* the epoch of the writer that wrote it (fencing) */
	uint64_t wal_id;       /* must match the object's name: the caller checks */
	uint64_t record_count; /* from the trailer */
	uint64_t last_seq;     /* from the trailer; 0 if there are no records */
};

/* ---- encoding ----
 * The object is built in a caller-owned lsm_buf, starting at its current end:
 *   begin, add*, finish; then out->data + start .. out->len is the object. */
struct lsm_wal_encoder {
	struct lsm_buf *out;
	size_t start;       /* offset of the object in out */
	uint64_t records;
	uint64_t last_seq;
	bool finished;
};

lsm_status lsm_wal_encoder_begin(struct lsm_wal_encoder *e, struct lsm_buf *out,
				 uint64_t writer_epoch, uint64_t wal_id);
/* One record for batch b committed at first_seq. LSM_EINVAL for an empty batch,
 * first_seq 0, seqs not above the previous record's or beyond LSM_SEQ_MAX, or
 * after finish. On error the object is as before the call. */
lsm_status lsm_wal_encoder_add(struct lsm_wal_encoder *e, uint64_t first_seq,
			       const struct lsm_batch *b);
/* The same for an encoded body; the body is checked (LSM_EINVAL if malformed),
 * so that nothing unreadable is ever written. */
lsm_status lsm_wal_encoder_add_body(struct lsm_wal_encoder *e, uint64_t first_seq, uint32_t count,
				    const uint8_t *body, size_t len);
/* Makes the object a fence that skips the next `skip` ids (at most
 * LSM_WAL_MAX_SKIP): replay goes on at wal_id + 1 + skip. Before finish. */
lsm_status lsm_wal_encoder_set_skip(struct lsm_wal_encoder *e, uint32_t skip);
/* Appends the trailer. The encoder then takes no more records. */
lsm_status lsm_wal_encoder_finish(struct lsm_wal_encoder *e);
/* The object's size once finished, if no more records are added. */
size_t lsm_wal_encoder_size(const struct lsm_wal_encoder *e);

/* ---- decoding ---- */

/* One record: its batch body holds `count` ops with seqs first_seq.. . The
 * body is already checked (lsm_batch_body_check). It points into the object's
 * bytes. A status other than LSM_OK stops the decode and is returned. */
typedef lsm_status (*lsm_wal_record_fn)(void *ctx, uint64_t first_seq, uint32_t count,
					const uint8_t *body, size_t body_len);

/* Checks the whole object first - trailer, every record's framing, checksum,
 * seqs and body, the object checksum, the counts - and only then calls fn for
 * each record in order. A damaged or truncated object is LSM_ECORRUPT (detail
 * in lsm_last_error(): what and where) and delivers no record. hdr and fn may
 * be NULL. */
lsm_status lsm_wal_decode(const uint8_t *p, size_t n, struct lsm_wal_header *hdr,
			  lsm_wal_record_fn fn, void *ctx);

#endif
