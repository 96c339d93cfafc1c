/*
 * s3/store_int.h - what backends and wrappers share; not for callers.
 *
 * A backend fills a zs3_store_ops table and embeds struct zs3_store first in
 * its own struct. The public zs3_* functions in store.c validate arguments
 * and dispatch, so ops never see a NULL key or an empty range.
 */
#ifndef ZEROFS_S3_STORE_INT_H
#define ZEROFS_S3_STORE_INT_H

#include <stdatomic.h>

#include "store.h"

struct zs3_store_ops {
	zs3_status (*put)(struct zs3_store *s, const char *key, const void *data, size_t len,
			  enum zs3_put_cond cond, const char *etag, struct zs3_meta *out);
	zs3_status (*get)(struct zs3_store *s, const char *key, struct zs3_range range,
			  struct zs3_buf *buf, struct zs3_meta *meta);
	zs3_status (*head)(struct zs3_store *s, const char *key, struct zs3_meta *meta);
	zs3_status (*del)(struct zs3_store *s, const char *key);
	zs3_status (*list)(struct zs3_store *s, const char *prefix, const char *start_after,
			   unsigned max_keys, struct zs3_list *out);
	void (*close)(struct zs3_store *s); /* frees the store; not the inner one */
};

struct zs3_counters {
	atomic_uint_fast64_t requests[ZS3_OP_COUNT];
	atomic_uint_fast64_t errors[ZS3_OP_COUNT];
	atomic_uint_fast64_t bytes_up, bytes_down, retries, faults_injected;
};

struct zs3_store {
	const struct zs3_store_ops *ops;
	struct zs3_store *inner; /* wrapped store, or NULL for a backend */
	struct zs3_counters counters;
	char desc[256];
};

void zs3_store_init(struct zs3_store *s, const struct zs3_store_ops *ops,
		    struct zs3_store *inner);

/* Backends count what reached the storage; wrappers count what they add. */
static inline void zs3_count(struct zs3_store *s, enum zs3_op op, zs3_status st,
			     uint64_t up, uint64_t down)
{
	atomic_fetch_add_explicit(&s->counters.requests[op], 1, memory_order_relaxed);
	if (st != ZS3_OK)
		atomic_fetch_add_explicit(&s->counters.errors[op], 1, memory_order_relaxed);
	if (up)
		atomic_fetch_add_explicit(&s->counters.bytes_up, up, memory_order_relaxed);
	if (down)
		atomic_fetch_add_explicit(&s->counters.bytes_down, down, memory_order_relaxed);
}

/* Records the thread-local detail for zs3_last_error() and returns st. */
zs3_status zs3_fail(zs3_status st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void zs3_log(enum zs3_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Lowercase hex MD5 (33 bytes with NUL) and raw MD5 (16 bytes). */
void zs3_md5_hex(const void *data, size_t len, char out[33]);
void zs3_md5_raw(const void *data, size_t len, unsigned char out[16]);

/* Grows b so that it can hold at least `need` bytes. */
zs3_status zs3_buf_reserve(struct zs3_buf *b, size_t need);

/* Appends one entry (key copied) to a list being built. */
zs3_status zs3_list_push(struct zs3_list *l, size_t *cap, const char *key, size_t keylen,
			 uint64_t size, const char *etag, int64_t mtime_ms);

/* Monotonic milliseconds, and a sleep that survives signals. */
uint64_t zs3_now_ms(void);
void zs3_sleep_ms(unsigned ms);

/* splitmix64: a tiny seeded PRNG for jitter and fault injection. */
static inline uint64_t zs3_rand_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}
static inline double zs3_rand_unit(uint64_t *state)
{
	return (double)(zs3_rand_next(state) >> 11) * (1.0 / 9007199254740992.0);
}

#endif
