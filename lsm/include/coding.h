/*
 * lsm/include/coding.h - the byte-level encoders every on-store format uses, in one
 * place (docs/FORMAT.md names them): little-endian fixed-width integers,
 * LEB128 varints, a growable buffer, and the checksum.
 *
 * Decoders take a cursor (pointer + remaining length) and return false on
 * truncation instead of reading past the end: callers turn that into
 * LSM_ECORRUPT.
 */
#ifndef ZEROFS_LSM_CODING_H
#define ZEROFS_LSM_CODING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "status.h"

/* ---- growable buffer ---- */
struct lsm_buf {
	uint8_t *data;
	size_t len, cap;
};
lsm_status lsm_buf_reserve(struct lsm_buf *b, size_t extra); /* room for len + extra */
lsm_status lsm_buf_append(struct lsm_buf *b, const void *p, size_t n);
lsm_status lsm_buf_put_fixed32(struct lsm_buf *b, uint32_t v);
lsm_status lsm_buf_put_fixed64(struct lsm_buf *b, uint64_t v);
lsm_status lsm_buf_put_varint(struct lsm_buf *b, uint64_t v);
/* varint length followed by the bytes */
lsm_status lsm_buf_put_bytes(struct lsm_buf *b, const void *p, size_t n);
void lsm_buf_free(struct lsm_buf *b);

/* ---- fixed-width ---- */
static inline void lsm_enc_fixed32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}
static inline void lsm_enc_fixed64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}
static inline uint32_t lsm_dec_fixed32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t lsm_dec_fixed64(const uint8_t *p)
{
	return (uint64_t)lsm_dec_fixed32(p) | (uint64_t)lsm_dec_fixed32(p + 4) << 32;
}

/* ---- cursor decoding ---- */
struct lsm_cursor {
	const uint8_t *p;
	size_t left;
};
bool lsm_get_fixed32(struct lsm_cursor *c, uint32_t *v);
bool lsm_get_fixed64(struct lsm_cursor *c, uint64_t *v);
bool lsm_get_varint(struct lsm_cursor *c, uint64_t *v); /* at most 10 bytes */
bool lsm_get_bytes(struct lsm_cursor *c, const uint8_t **p, size_t *n); /* varint length + bytes */
bool lsm_get_raw(struct lsm_cursor *c, const uint8_t **p, size_t n);

/* Encodes v at p (needs up to 10 bytes); returns the bytes written. */
size_t lsm_enc_varint(uint8_t *p, uint64_t v);

/* ---- checksum: XXH3-64 of the bytes (xxhash library) ---- */
uint64_t lsm_checksum(const void *p, size_t n);

#endif
