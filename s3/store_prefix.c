/*
 * s3/store_prefix.c - namespaces a store under a key prefix, so several
 * filesystems can share one bucket (or one directory).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

struct prefix_store {
	struct zs3_store base;
	char *prefix;
	size_t len;
};

/* full must hold ZS3_KEY_MAX + 1 bytes. */
static zs3_status full_key(struct prefix_store *ps, const char *key, char *full)
{
	size_t n = strlen(key);
	if (ps->len + n > ZS3_KEY_MAX)
		return zs3_fail(ZS3_EINVAL, "key '%.64s' is too long with prefix '%s'", key, ps->prefix);
	memcpy(full, ps->prefix, ps->len);
	memcpy(full + ps->len, key, n + 1);
	return ZS3_OK;
}

static zs3_status prefix_put(struct zs3_store *s, const char *key, const void *data, size_t len,
			     enum zs3_put_cond cond, const char *etag, struct zs3_meta *out)
{
	char full[ZS3_KEY_MAX + 1];
	zs3_status st = full_key((struct prefix_store *)s, key, full);
	return st ? st : s->inner->ops->put(s->inner, full, data, len, cond, etag, out);
}

static zs3_status prefix_get(struct zs3_store *s, const char *key, struct zs3_range range,
			     struct zs3_buf *buf, struct zs3_meta *meta)
{
	char full[ZS3_KEY_MAX + 1];
	zs3_status st = full_key((struct prefix_store *)s, key, full);
	return st ? st : s->inner->ops->get(s->inner, full, range, buf, meta);
}

static zs3_status prefix_head(struct zs3_store *s, const char *key, struct zs3_meta *meta)
{
	char full[ZS3_KEY_MAX + 1];
	zs3_status st = full_key((struct prefix_store *)s, key, full);
	return st ? st : s->inner->ops->head(s->inner, full, meta);
}

static zs3_status prefix_del(struct zs3_store *s, const char *key)
{
	char full[ZS3_KEY_MAX + 1];
	zs3_status st = full_key((struct prefix_store *)s, key, full);
	return st ? st : s->inner->ops->del(s->inner, full);
}

static zs3_status prefix_list(struct zs3_store *s, const char *prefix, const char *start_after,
			      unsigned max_keys, struct zs3_list *out)
{
	struct prefix_store *ps = (struct prefix_store *)s;
	char full_prefix[ZS3_KEY_MAX + 1], full_after[ZS3_KEY_MAX + 1];
	zs3_status st = full_key(ps, prefix, full_prefix);
	if (st || (start_after && (st = full_key(ps, start_after, full_after))))
		return st;
	st = s->inner->ops->list(s->inner, full_prefix, start_after ? full_after : NULL, max_keys,
				 out);
	if (st)
		return st;
	for (size_t i = 0; i < out->count; i++) {
		char *k = out->entries[i].key;
		memmove(k, k + ps->len, strlen(k + ps->len) + 1);
	}
	return ZS3_OK;
}

static void prefix_close(struct zs3_store *s)
{
	struct prefix_store *ps = (struct prefix_store *)s;
	free(ps->prefix);
	free(ps);
}

static const struct zs3_store_ops prefix_ops = {
	.put = prefix_put,
	.get = prefix_get,
	.head = prefix_head,
	.del = prefix_del,
	.list = prefix_list,
	.close = prefix_close,
};

zs3_status zs3_open_prefix(struct zs3_store *inner, const char *prefix, struct zs3_store **out)
{
	struct prefix_store *ps;
	*out = NULL;
	if (!prefix || strlen(prefix) >= ZS3_KEY_MAX / 2) {
		zs3_close(inner);
		return zs3_fail(ZS3_EINVAL, "key prefix must be shorter than %d bytes", ZS3_KEY_MAX / 2);
	}
	ps = calloc(1, sizeof(*ps));
	if (!ps || !(ps->prefix = strdup(prefix))) {
		free(ps);
		zs3_close(inner);
		return zs3_fail(ZS3_ENOMEM, "out of memory");
	}
	ps->len = strlen(prefix);
	zs3_store_init(&ps->base, &prefix_ops, inner);
	snprintf(ps->base.desc, sizeof(ps->base.desc), "%s, prefix '%s'", zs3_describe(inner),
		 prefix);
	*out = &ps->base;
	return ZS3_OK;
}
