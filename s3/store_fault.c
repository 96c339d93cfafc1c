/*
 * s3/store_fault.c - a store that misbehaves on purpose, for tests: fails
 * calls, delays them, or runs them and then reports a lost reply, each with a
 * given probability from a seeded PRNG (so a failing run can be replayed).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

struct fault_store {
	struct zs3_store base;
	pthread_mutex_t lock; /* guards cfg and rng */
	struct zs3_fault_config cfg;
	uint64_t rng;
};

enum verdict { PASS, FAIL, LOSE_REPLY };

static enum verdict decide(struct fault_store *fs, enum zs3_op op, zs3_status *err)
{
	struct zs3_fault_config c;
	double r_delay, r_err, r_lost;
	pthread_mutex_lock(&fs->lock);
	c = fs->cfg;
	r_delay = zs3_rand_unit(&fs->rng);
	r_err = zs3_rand_unit(&fs->rng);
	r_lost = zs3_rand_unit(&fs->rng);
	pthread_mutex_unlock(&fs->lock);
	if (c.op_mask && !(c.op_mask & (1u << op)))
		return PASS;
	if (r_delay < c.delay_rate)
		zs3_sleep_ms(c.delay_ms);
	*err = c.error ? c.error : ZS3_ETRANSIENT;
	if (r_err < c.error_rate) {
		atomic_fetch_add_explicit(&fs->base.counters.faults_injected, 1, memory_order_relaxed);
		/* the status travels in *err; zs3_fail records its detail */
		(void)zs3_fail(*err, "injected fault: %s %s", zs3_op_name(op), zs3_strstatus(*err));
		return FAIL;
	}
	return r_lost < c.lost_reply_rate ? LOSE_REPLY : PASS;
}

static zs3_status lose_reply(struct fault_store *fs, enum zs3_op op, zs3_status st)
{
	atomic_fetch_add_explicit(&fs->base.counters.faults_injected, 1, memory_order_relaxed);
	return zs3_fail(ZS3_ETRANSIENT, "injected fault: reply to %s lost (it returned %s)",
			zs3_op_name(op), zs3_strstatus(st));
}

#define FAULTY(op, call)                                              \
	do {                                                          \
		struct fault_store *fs = (struct fault_store *)s;     \
		zs3_status err, st;                                   \
		enum verdict v = decide(fs, (op), &err);              \
		if (v == FAIL)                                        \
			return err;                                   \
		st = (call);                                          \
		return v == LOSE_REPLY ? lose_reply(fs, (op), st) : st; \
	} while (0)

static zs3_status fault_put(struct zs3_store *s, const char *key, const void *data, size_t len,
			    enum zs3_put_cond cond, const char *etag, struct zs3_meta *out)
{
	FAULTY(ZS3_OP_PUT, s->inner->ops->put(s->inner, key, data, len, cond, etag, out));
}

static zs3_status fault_get(struct zs3_store *s, const char *key, struct zs3_range range,
			    struct zs3_buf *buf, struct zs3_meta *meta)
{
	FAULTY(ZS3_OP_GET, s->inner->ops->get(s->inner, key, range, buf, meta));
}

static zs3_status fault_head(struct zs3_store *s, const char *key, struct zs3_meta *meta)
{
	FAULTY(ZS3_OP_HEAD, s->inner->ops->head(s->inner, key, meta));
}

static zs3_status fault_del(struct zs3_store *s, const char *key)
{
	FAULTY(ZS3_OP_DELETE, s->inner->ops->del(s->inner, key));
}

static zs3_status fault_list(struct zs3_store *s, const char *prefix, const char *start_after,
			     unsigned max_keys, struct zs3_list *out)
{
	struct fault_store *fs = (struct fault_store *)s;
	zs3_status err, st;
	enum verdict v = decide(fs, ZS3_OP_LIST, &err);
	if (v == FAIL)
		return err;
	st = s->inner->ops->list(s->inner, prefix, start_after, max_keys, out);
	if (v != LOSE_REPLY)
		return st;
	zs3_list_free(out); /* a failed call leaves no output behind */
	return lose_reply(fs, ZS3_OP_LIST, st);
}

static void fault_close(struct zs3_store *s)
{
	struct fault_store *fs = (struct fault_store *)s;
	pthread_mutex_destroy(&fs->lock);
	free(fs);
}

static const struct zs3_store_ops fault_ops = {
	.put = fault_put,
	.get = fault_get,
	.head = fault_head,
	.del = fault_del,
	.list = fault_list,
	.close = fault_close,
};

zs3_status zs3_open_fault(struct zs3_store *inner, const struct zs3_fault_config *cfg,
			  struct zs3_store **out)
{
	struct fault_store *fs = calloc(1, sizeof(*fs));
	*out = NULL;
	if (!fs) {
		zs3_close(inner);
		return zs3_fail(ZS3_ENOMEM, "out of memory");
	}
	zs3_store_init(&fs->base, &fault_ops, inner);
	pthread_mutex_init(&fs->lock, NULL);
	fs->cfg = *cfg;
	fs->rng = cfg->seed;
	*out = &fs->base;
	return ZS3_OK;
}

void zs3_fault_set(struct zs3_store *s, const struct zs3_fault_config *cfg)
{
	struct fault_store *fs = (struct fault_store *)s;
	if (s->ops != &fault_ops)
		return;
	pthread_mutex_lock(&fs->lock);
	fs->cfg = *cfg;
	pthread_mutex_unlock(&fs->lock);
}
