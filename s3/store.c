/*
 * s3/store.c - the public entry points: argument checks, dispatch, stats,
 * errors, logging, and the small helpers every backend shares.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "store_int.h"

static _Thread_local char last_error[512];

static zs3_log_fn log_fn;
static void *log_ctx;

const char *zs3_strstatus(zs3_status st)
{
	switch (st) {
	case ZS3_OK: return "ok";
	case ZS3_ENOTFOUND: return "not found";
	case ZS3_EPRECONDITION: return "precondition failed";
	case ZS3_ERANGE: return "range not satisfiable";
	case ZS3_EAUTH: return "access denied";
	case ZS3_ENOBUCKET: return "no such bucket";
	case ZS3_ETRANSIENT: return "transient failure";
	case ZS3_ECORRUPT: return "corrupt data";
	case ZS3_EINVAL: return "invalid argument";
	case ZS3_EIO: return "i/o error";
	case ZS3_ENOMEM: return "out of memory";
	}
	return "unknown status";
}

const char *zs3_last_error(void)
{
	return last_error;
}

zs3_status zs3_fail(zs3_status st, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
	return st;
}

void zs3_set_logger(zs3_log_fn fn, void *ctx)
{
	log_ctx = ctx;
	log_fn = fn;
}

void zs3_log(enum zs3_log_level level, const char *fmt, ...)
{
	char msg[768];
	va_list ap;
	if (!log_fn)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_fn(log_ctx, level, msg);
}

const char *zs3_op_name(enum zs3_op op)
{
	static const char *const names[ZS3_OP_COUNT] = { "put", "get", "head", "delete", "list" };
	return (unsigned)op < ZS3_OP_COUNT ? names[op] : "?";
}

void zs3_store_init(struct zs3_store *s, const struct zs3_store_ops *ops, struct zs3_store *inner)
{
	memset(&s->counters, 0, sizeof(s->counters));
	s->ops = ops;
	s->inner = inner;
	s->desc[0] = '\0';
}

/* ---- helpers ---- */

void zs3_md5_raw(const void *data, size_t len, unsigned char out[16])
{
	unsigned int n = 16;
	/* EVP_Digest cannot fail for MD5 short of memory exhaustion in the
	 * provider; zero the output so a failure shows as an ETag mismatch. */
	if (!EVP_Digest(data, len, out, &n, EVP_md5(), NULL))
		memset(out, 0, 16);
}

void zs3_md5_hex(const void *data, size_t len, char out[33])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char raw[16];
	zs3_md5_raw(data, len, raw);
	for (int i = 0; i < 16; i++) {
		out[2 * i] = hex[raw[i] >> 4];
		out[2 * i + 1] = hex[raw[i] & 15];
	}
	out[32] = '\0';
}

zs3_status zs3_buf_reserve(struct zs3_buf *b, size_t need)
{
	size_t cap;
	uint8_t *p;
	if (need <= b->cap)
		return ZS3_OK;
	cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	p = realloc(b->data, cap);
	if (!p)
		return zs3_fail(ZS3_ENOMEM, "out of memory growing a buffer to %zu bytes", need);
	b->data = p;
	b->cap = cap;
	return ZS3_OK;
}

void zs3_buf_free(struct zs3_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

zs3_status zs3_list_push(struct zs3_list *l, size_t *cap, const char *key, size_t keylen,
			 uint64_t size, const char *etag, int64_t mtime_ms)
{
	struct zs3_entry *e;
	if (l->count == *cap) {
		size_t ncap = *cap ? *cap * 2 : 64;
		e = realloc(l->entries, ncap * sizeof(*e));
		if (!e)
			return zs3_fail(ZS3_ENOMEM, "out of memory listing keys");
		l->entries = e;
		*cap = ncap;
	}
	e = &l->entries[l->count];
	e->key = malloc(keylen + 1);
	if (!e->key)
		return zs3_fail(ZS3_ENOMEM, "out of memory listing keys");
	memcpy(e->key, key, keylen);
	e->key[keylen] = '\0';
	e->size = size;
	snprintf(e->etag, sizeof(e->etag), "%s", etag ? etag : "");
	e->mtime_ms = mtime_ms;
	l->count++;
	return ZS3_OK;
}

void zs3_list_free(struct zs3_list *l)
{
	for (size_t i = 0; i < l->count; i++)
		free(l->entries[i].key);
	free(l->entries);
	l->entries = NULL;
	l->count = 0;
	l->truncated = false;
}

uint64_t zs3_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void zs3_sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* ---- public entry points ---- */

static zs3_status check_key(const char *key)
{
	size_t n;
	if (!key || !*key)
		return zs3_fail(ZS3_EINVAL, "empty object key");
	n = strlen(key);
	if (n > ZS3_KEY_MAX)
		return zs3_fail(ZS3_EINVAL, "object key of %zu bytes exceeds %d", n, ZS3_KEY_MAX);
	return ZS3_OK;
}

static zs3_status check_range(struct zs3_range r)
{
	switch (r.kind) {
	case ZS3_RANGE_ALL:
		return ZS3_OK;
	case ZS3_RANGE_FROM:
		if (r.length == 0)
			return zs3_fail(ZS3_EINVAL, "empty byte range");
		return ZS3_OK;
	case ZS3_RANGE_SUFFIX:
		if (r.length == 0)
			return zs3_fail(ZS3_EINVAL, "empty suffix range");
		return ZS3_OK;
	}
	return zs3_fail(ZS3_EINVAL, "unknown range kind %d", (int)r.kind);
}

/*
 * A conditional put that loses its precondition may be meeting itself: an
 * earlier attempt landed but was reported as failed (a lost reply, retries
 * exhausted), and the caller tried again. If the object now holds exactly our
 * bytes (ETag = MD5), the write is done: report success. Byte-identical
 * content from another writer is indistinguishable and equivalent.
 */
static zs3_status settle_lost_precondition(struct zs3_store *s, const char *key, const void *data,
					   size_t len, struct zs3_meta *out)
{
	char detail[512], mine[33];
	struct zs3_meta m;
	zs3_status st;
	snprintf(detail, sizeof(detail), "%s", zs3_last_error());
	zs3_md5_hex(data, len, mine);
	st = s->ops->head(s, key, &m);
	if (st == ZS3_OK && strcmp(m.etag, mine) == 0) {
		zs3_log(ZS3_LOG_INFO, "conditional put '%s': an earlier attempt had landed", key);
		*out = m;
		return ZS3_OK;
	}
	if (st != ZS3_OK && st != ZS3_ENOTFOUND)
		/* we cannot tell whether our write landed: never claim it lost */
		return zs3_fail(st == ZS3_ETRANSIENT ? ZS3_ETRANSIENT : st,
				"%s; and checking whether an earlier attempt landed failed: %s", detail,
				zs3_last_error());
	return zs3_fail(ZS3_EPRECONDITION, "%s", detail);
}

static zs3_status do_put(struct zs3_store *s, const char *key, const void *data, size_t len,
			 enum zs3_put_cond cond, const char *etag, struct zs3_meta *out)
{
	struct zs3_meta scratch;
	zs3_status st = check_key(key);
	if (st)
		return st;
	if (!data && len)
		return zs3_fail(ZS3_EINVAL, "put of %zu bytes from NULL", len);
	if (cond == ZS3_PUT_IF_MATCH && (!etag || !*etag))
		return zs3_fail(ZS3_EINVAL, "put_if_match needs an ETag");
	if (!out)
		out = &scratch;
	st = s->ops->put(s, key, data ? data : "", len, cond, etag, out);
	if (st == ZS3_EPRECONDITION)
		st = settle_lost_precondition(s, key, data ? data : "", len, out);
	return st;
}

zs3_status zs3_put(struct zs3_store *s, const char *key, const void *data, size_t len,
		   struct zs3_meta *out)
{
	return do_put(s, key, data, len, ZS3_PUT_ALWAYS, NULL, out);
}

zs3_status zs3_put_if_absent(struct zs3_store *s, const char *key, const void *data,
			     size_t len, struct zs3_meta *out)
{
	return do_put(s, key, data, len, ZS3_PUT_IF_ABSENT, NULL, out);
}

zs3_status zs3_put_if_match(struct zs3_store *s, const char *key, const void *data,
			    size_t len, const char *etag, struct zs3_meta *out)
{
	return do_put(s, key, data, len, ZS3_PUT_IF_MATCH, etag, out);
}

zs3_status zs3_get(struct zs3_store *s, const char *key, struct zs3_range range,
		   struct zs3_buf *buf, struct zs3_meta *meta)
{
	struct zs3_meta scratch;
	zs3_status st = check_key(key);
	if (st || (st = check_range(range)))
		return st;
	buf->len = 0;
	return s->ops->get(s, key, range, buf, meta ? meta : &scratch);
}

zs3_status zs3_head(struct zs3_store *s, const char *key, struct zs3_meta *meta)
{
	zs3_status st = check_key(key);
	if (st)
		return st;
	return s->ops->head(s, key, meta);
}

zs3_status zs3_delete(struct zs3_store *s, const char *key)
{
	zs3_status st = check_key(key);
	if (st)
		return st;
	return s->ops->del(s, key);
}

zs3_status zs3_list(struct zs3_store *s, const char *prefix, const char *start_after,
		    unsigned max_keys, struct zs3_list *out)
{
	memset(out, 0, sizeof(*out));
	if (max_keys < 1 || max_keys > 1000)
		return zs3_fail(ZS3_EINVAL, "max_keys %u is outside 1..1000", max_keys);
	if (prefix && strlen(prefix) > ZS3_KEY_MAX)
		return zs3_fail(ZS3_EINVAL, "list prefix longer than %d bytes", ZS3_KEY_MAX);
	if (start_after && !*start_after)
		start_after = NULL;
	return s->ops->list(s, prefix ? prefix : "", start_after, max_keys, out);
}

zs3_status zs3_list_each(struct zs3_store *s, const char *prefix, const char *start_after,
			 zs3_entry_fn fn, void *ctx)
{
	char after[ZS3_KEY_MAX + 1];

	for (;;) {
		struct zs3_list l;
		zs3_status st = zs3_list(s, prefix, start_after, 1000, &l);

		if (st)
			return st;
		for (size_t i = 0; i < l.count && !st; i++)
			st = fn(ctx, &l.entries[i]);
		bool more = !st && l.truncated && l.count > 0;
		if (more) {
			snprintf(after, sizeof(after), "%s", l.entries[l.count - 1].key);
			start_after = after;
		}
		zs3_list_free(&l);
		if (!more)
			return st;
	}
}

void zs3_stats(struct zs3_store *s, struct zs3_stats *out)
{
	memset(out, 0, sizeof(*out));
	for (; s; s = s->inner) {
		struct zs3_counters *c = &s->counters;
		for (int i = 0; i < ZS3_OP_COUNT; i++) {
			out->requests[i] += atomic_load(&c->requests[i]);
			out->errors[i] += atomic_load(&c->errors[i]);
		}
		out->bytes_up += atomic_load(&c->bytes_up);
		out->bytes_down += atomic_load(&c->bytes_down);
		out->retries += atomic_load(&c->retries);
		out->faults_injected += atomic_load(&c->faults_injected);
	}
}

const char *zs3_describe(struct zs3_store *s)
{
	for (; s; s = s->inner)
		if (s->desc[0])
			return s->desc;
	return "store";
}

void zs3_close(struct zs3_store *s)
{
	while (s) {
		struct zs3_store *inner = s->inner;
		s->ops->close(s);
		s = inner;
	}
}
