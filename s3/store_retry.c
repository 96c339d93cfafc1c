/*
 * s3/store_retry.c - retries transient failures with exponential backoff and
 * full jitter (sleep a random time in [0, min(max, base * 2^attempt)]).
 *
 * A conditional put whose attempt failed transiently may still have landed
 * (the server applied it, the reply was lost); the retry then loses its
 * precondition. store.c settles that case for every store, also when the
 * caller itself retries later, so nothing here needs to know.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

struct retry_store {
	struct zs3_store base;
	struct zs3_retry_policy p;
	pthread_mutex_t rng_lock;
	uint64_t rng;
};

/* After a transient failure of attempt `attempt` (1-based): sleeps and returns
 * true if another attempt is allowed. */
static bool back_off(struct retry_store *rs, unsigned attempt, const char *what, const char *key)
{
	uint64_t cap, r;
	if (attempt >= rs->p.max_attempts)
		return false;
	cap = (uint64_t)rs->p.base_delay_ms << (attempt < 20 ? attempt : 20);
	if (cap > rs->p.max_delay_ms)
		cap = rs->p.max_delay_ms;
	pthread_mutex_lock(&rs->rng_lock);
	r = zs3_rand_next(&rs->rng);
	pthread_mutex_unlock(&rs->rng_lock);
	zs3_log(ZS3_LOG_DEBUG, "%s '%s' failed transiently (attempt %u/%u): %s; retrying",
		what, key, attempt, rs->p.max_attempts, zs3_last_error());
	atomic_fetch_add_explicit(&rs->base.counters.retries, 1, memory_order_relaxed);
	zs3_sleep_ms((unsigned)(cap ? r % (cap + 1) : 0));
	return true;
}

#define RETRY_LOOP(rs, what, key, call)                                        \
	do {                                                                   \
		for (unsigned attempt_ = 1;; attempt_++) {                     \
			st = (call);                                           \
			if (st != ZS3_ETRANSIENT ||                            \
			    !back_off((rs), attempt_, (what), (key)))         \
				break;                                         \
		}                                                              \
	} while (0)

static zs3_status retry_head(struct zs3_store *s, const char *key, struct zs3_meta *meta)
{
	struct retry_store *rs = (struct retry_store *)s;
	zs3_status st;
	RETRY_LOOP(rs, "head", key, s->inner->ops->head(s->inner, key, meta));
	return st;
}

static zs3_status retry_put(struct zs3_store *s, const char *key, const void *data, size_t len,
			    enum zs3_put_cond cond, const char *etag, struct zs3_meta *out)
{
	struct retry_store *rs = (struct retry_store *)s;
	zs3_status st;
	/* A retried conditional put whose first attempt landed loses its
	 * precondition on the retry: zs3_put_if_* settle that (store.c). */
	RETRY_LOOP(rs, "put", key, s->inner->ops->put(s->inner, key, data, len, cond, etag, out));
	return st;
}

static zs3_status retry_get(struct zs3_store *s, const char *key, struct zs3_range range,
			    struct zs3_buf *buf, struct zs3_meta *meta)
{
	struct retry_store *rs = (struct retry_store *)s;
	zs3_status st;
	RETRY_LOOP(rs, "get", key, s->inner->ops->get(s->inner, key, range, buf, meta));
	return st;
}

static zs3_status retry_del(struct zs3_store *s, const char *key)
{
	struct retry_store *rs = (struct retry_store *)s;
	zs3_status st;
	RETRY_LOOP(rs, "delete", key, s->inner->ops->del(s->inner, key));
	return st;
}

static zs3_status retry_list(struct zs3_store *s, const char *prefix, const char *start_after,
			     unsigned max_keys, struct zs3_list *out)
{
	struct retry_store *rs = (struct retry_store *)s;
	zs3_status st;
	RETRY_LOOP(rs, "list", prefix,
		   s->inner->ops->list(s->inner, prefix, start_after, max_keys, out));
	return st;
}

static void retry_close(struct zs3_store *s)
{
	struct retry_store *rs = (struct retry_store *)s;
	pthread_mutex_destroy(&rs->rng_lock);
	free(rs);
}

static const struct zs3_store_ops retry_ops = {
	.put = retry_put,
	.get = retry_get,
	.head = retry_head,
	.del = retry_del,
	.list = retry_list,
	.close = retry_close,
};

zs3_status zs3_open_retry(struct zs3_store *inner, const struct zs3_retry_policy *p,
			  struct zs3_store **out)
{
	struct retry_store *rs;
	*out = NULL;
	if (!p || p->max_attempts < 1) {
		zs3_close(inner);
		return zs3_fail(ZS3_EINVAL, "retry policy needs at least one attempt");
	}
	rs = calloc(1, sizeof(*rs));
	if (!rs) {
		zs3_close(inner);
		return zs3_fail(ZS3_ENOMEM, "out of memory");
	}
	zs3_store_init(&rs->base, &retry_ops, inner);
	rs->p = *p;
	rs->rng = p->seed ? p->seed : zs3_now_ms() ^ (uint64_t)(uintptr_t)rs;
	pthread_mutex_init(&rs->rng_lock, NULL);
	*out = &rs->base;
	return ZS3_OK;
}
