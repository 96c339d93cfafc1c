/*
 * lsm/include/write_batch.h - a batch of puts and deletes on user keys, applied
 * atomically and in order: op i of a batch committed at first_seq gets
 * sequence number first_seq + i, so a later op on the same key wins.
 *
 * A batch keeps its ops already encoded, as the "body" the WAL stores
 * (docs/FORMAT.md, "WAL objects"): each op is
 *
 *   type byte (enum lsm_type: 0 delete, 1 put)
 *   varint key length,   key bytes
 *   varint value length, value bytes (always 0 bytes for a delete)
 *
 * The body carries no op count and no checksum: the WAL record around it has
 * both. Decoding therefore takes the expected op count, which is also what
 * makes a body cut at an op boundary detectable.
 */
#ifndef ZEROFS_LSM_WRITE_BATCH_H
#define ZEROFS_LSM_WRITE_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

/* What an op (and an entry of the tree) is: the type byte of the WAL's
 * batch bodies and of internal keys' trailers (docs/FORMAT.md). */
enum lsm_type {
	LSM_TYPE_DELETE = 0, /* tombstone; value empty */
	LSM_TYPE_PUT = 1,    /* value stored inline */
	/* Reserved for values stored out of line: the value is then a reference
	 * to a separate blob object. Readers that do not know a type must fail
	 * with LSM_ECORRUPT rather than misread it. */
	LSM_TYPE_BLOB_REF = 2,
};

/* Limits the whole engine keeps (memtable, WAL, SSTs); bigger is LSM_EINVAL
 * when writing and LSM_ECORRUPT when decoding. */
#define LSM_MAX_KEY_LEN (64u * 1024)          /* user key bytes */
#define LSM_MAX_VALUE_LEN (16u * 1024 * 1024) /* value bytes */
#define LSM_BATCH_MAX_BYTES (1u << 30)        /* encoded body bytes (fits a u32) */

struct lsm_batch;

/* NULL when out of memory. */
struct lsm_batch *lsm_batch_new(void);
/* Empties the batch, keeping its memory for reuse. */
void lsm_batch_clear(struct lsm_batch *b);
void lsm_batch_free(struct lsm_batch *b);

/* Append one op. Key and value are copied. On error the batch is unchanged.
 * LSM_EINVAL past the limits above (or 2^32-1 ops). */
lsm_status lsm_batch_put(struct lsm_batch *b, const void *key, size_t klen, const void *val,
			 size_t vlen);
lsm_status lsm_batch_delete(struct lsm_batch *b, const void *key, size_t klen);

uint32_t lsm_batch_count(const struct lsm_batch *b);
/* Bytes of the encoded body (what the WAL stores for it, before framing). */
size_t lsm_batch_byte_size(const struct lsm_batch *b);
/* The encoded body; valid until the batch is next changed. */
const uint8_t *lsm_batch_body(const struct lsm_batch *b, size_t *len);

/* Called once per op, in order. The pointers are valid during the call only.
 * A status other than LSM_OK stops the walk and is returned. */
typedef lsm_status (*lsm_batch_fn)(void *ctx, enum lsm_type type, const uint8_t *key, size_t klen,
				   const uint8_t *val, size_t vlen);
lsm_status lsm_batch_iterate(const struct lsm_batch *b, lsm_batch_fn fn, void *ctx);

/* Checks an encoded body: every length within bounds and the limits, every
 * type known, a delete's value empty, exactly `count` ops and no byte left
 * over. LSM_ECORRUPT (with detail) otherwise. Never reads outside body. */
lsm_status lsm_batch_body_check(const uint8_t *body, size_t len, uint32_t count);
/* lsm_batch_body_check, then fn for each op: a malformed body delivers no op. */
lsm_status lsm_batch_body_iterate(const uint8_t *body, size_t len, uint32_t count, lsm_batch_fn fn,
				  void *ctx);
/* Replaces b's contents with a copy of the checked body. On error b is empty. */
lsm_status lsm_batch_decode(struct lsm_batch *b, const uint8_t *body, size_t len, uint32_t count);

#endif
