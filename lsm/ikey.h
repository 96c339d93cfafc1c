/*
 * lsm/ikey.h - internal keys: what memtables, WAL objects and SSTs store.
 *
 *   internal key = user key bytes || trailer
 *   trailer      = fixed64 little-endian of (seq << 8 | type)
 *
 * Order: user key ascending (bytewise, a prefix sorts first), then sequence
 * number DESCENDING, so the newest version of a key comes first and a seek to
 * (key, snapshot_seq) lands on the newest version visible at that snapshot.
 * Sequence numbers are 56 bits.
 */
#ifndef ZEROFS_LSM_IKEY_H
#define ZEROFS_LSM_IKEY_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "write_batch.h" /* enum lsm_type */

#define LSM_IKEY_TRAILER 8
#define LSM_SEQ_MAX ((UINT64_C(1) << 56) - 1)

static inline uint64_t lsm_ikey_trailer(const uint8_t *ikey, size_t len)
{
	uint64_t t = 0;
	for (int i = 0; i < 8; i++)
		t |= (uint64_t)ikey[len - 8 + i] << (8 * i);
	return t;
}
static inline uint64_t lsm_ikey_seq(const uint8_t *ikey, size_t len)
{
	return lsm_ikey_trailer(ikey, len) >> 8;
}
static inline enum lsm_type lsm_ikey_type(const uint8_t *ikey, size_t len)
{
	return (enum lsm_type)(lsm_ikey_trailer(ikey, len) & 0xff);
}
/* Length of the user-key part. len must be >= LSM_IKEY_TRAILER. */
static inline size_t lsm_ikey_user_len(size_t len)
{
	return len - LSM_IKEY_TRAILER;
}
/* Writes user key + trailer to out (user_len + 8 bytes). */
static inline void lsm_ikey_encode(uint8_t *out, const void *user, size_t user_len, uint64_t seq,
				   enum lsm_type type)
{
	uint64_t t = (seq << 8) | (uint64_t)type;
	if (user_len)
		memcpy(out, user, user_len);
	for (int i = 0; i < 8; i++)
		out[user_len + i] = (uint8_t)(t >> (8 * i));
}

/* Bytewise comparison of user keys (shorter first on a common prefix). */
static inline int lsm_ukey_compare(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	size_t n = alen < blen ? alen : blen;
	int c = n ? memcmp(a, b, n) : 0;
	if (c)
		return c;
	return alen < blen ? -1 : alen > blen;
}

/* Internal key order (see above). */
static inline int lsm_ikey_compare(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	int c = lsm_ukey_compare(a, alen - 8, b, blen - 8);
	if (c)
		return c;
	uint64_t ta = lsm_ikey_trailer(a, alen), tb = lsm_ikey_trailer(b, blen);
	return ta > tb ? -1 : ta < tb; /* higher seq first */
}

#endif
