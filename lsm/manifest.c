/* lsm/manifest.c - manifest encoding and its objects; see manifest.h */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "manifest.h"

#define MANIFEST_MAGIC UINT64_C(0x314e414d4d534c5a) /* "ZLSMMAN1" little-endian */
/* Version 2 added each SST's value references (vrefs); version 1 manifests
 * are read as SSTs with none. */
#define MANIFEST_VERSION 2

void lsm_manifest_init(struct lsm_manifest *m)
{
	memset(m, 0, sizeof(*m));
}

void lsm_sst_info_free(struct lsm_sst_info *s)
{
	free(s->smallest);
	free(s->largest);
	free(s->vrefs);
	s->smallest = s->largest = NULL;
	s->vrefs = NULL;
	s->n_vrefs = 0;
}

static void free_run(struct lsm_run *r)
{
	for (size_t i = 0; i < r->count; i++)
		lsm_sst_info_free(&r->ssts[i]);
	free(r->ssts);
}

void lsm_manifest_free(struct lsm_manifest *m)
{
	for (size_t i = 0; i < m->l0_count; i++)
		lsm_sst_info_free(&m->l0[i]);
	free(m->l0);
	for (size_t i = 0; i < m->run_count; i++)
		free_run(&m->runs[i]);
	free(m->runs);
	for (size_t i = 0; i < m->checkpoint_count; i++)
		free(m->checkpoints[i].name);
	free(m->checkpoints);
	lsm_manifest_init(m);
}

static uint8_t *dup_bytes(const uint8_t *p, size_t n)
{
	uint8_t *d = malloc(n ? n : 1);
	if (d && n)
		memcpy(d, p, n);
	return d;
}

lsm_status lsm_sst_info_copy(struct lsm_sst_info *dst, const struct lsm_sst_info *src)
{
	*dst = *src;
	dst->smallest = dup_bytes(src->smallest, src->smallest_len);
	dst->largest = dup_bytes(src->largest, src->largest_len);
	dst->vrefs = malloc((src->n_vrefs ? src->n_vrefs : 1) * sizeof(*dst->vrefs));
	if (dst->vrefs && src->n_vrefs)
		memcpy(dst->vrefs, src->vrefs, src->n_vrefs * sizeof(*dst->vrefs));
	if (!dst->smallest || !dst->largest || !dst->vrefs) {
		lsm_sst_info_free(dst);
		return lsm_fail(LSM_ENOMEM, "out of memory copying SST info");
	}
	return LSM_OK;
}

static lsm_status copy_ssts(struct lsm_sst_info **dst, const struct lsm_sst_info *src, size_t n)
{
	*dst = calloc(n ? n : 1, sizeof(**dst));
	if (!*dst)
		return lsm_fail(LSM_ENOMEM, "out of memory copying a manifest");
	for (size_t i = 0; i < n; i++) {
		lsm_status st = lsm_sst_info_copy(&(*dst)[i], &src[i]);
		if (st) {
			while (i--)
				lsm_sst_info_free(&(*dst)[i]);
			free(*dst);
			*dst = NULL;
			return st;
		}
	}
	return LSM_OK;
}

lsm_status lsm_manifest_copy(struct lsm_manifest *dst, const struct lsm_manifest *src)
{
	lsm_status st;
	*dst = *src;
	dst->l0 = NULL;
	dst->runs = NULL;
	dst->checkpoints = NULL;
	dst->l0_count = dst->run_count = dst->checkpoint_count = 0;
	if ((st = copy_ssts(&dst->l0, src->l0, src->l0_count)))
		goto fail;
	dst->l0_count = src->l0_count;
	dst->runs = calloc(src->run_count ? src->run_count : 1, sizeof(*dst->runs));
	if (!dst->runs)
		goto oom;
	for (size_t i = 0; i < src->run_count; i++) {
		dst->runs[i].id = src->runs[i].id;
		if ((st = copy_ssts(&dst->runs[i].ssts, src->runs[i].ssts, src->runs[i].count)))
			goto fail;
		dst->runs[i].count = src->runs[i].count;
		dst->run_count = i + 1;
	}
	dst->checkpoints = calloc(src->checkpoint_count ? src->checkpoint_count : 1,
				  sizeof(*dst->checkpoints));
	if (!dst->checkpoints)
		goto oom;
	for (size_t i = 0; i < src->checkpoint_count; i++) {
		dst->checkpoints[i] = src->checkpoints[i];
		if (!(dst->checkpoints[i].name = strdup(src->checkpoints[i].name)))
			goto oom;
		dst->checkpoint_count = i + 1;
	}
	return LSM_OK;
oom:
	st = lsm_fail(LSM_ENOMEM, "out of memory copying a manifest");
fail:
	lsm_manifest_free(dst);
	return st;
}

/* ---- encoding ---- */

static lsm_status put_sst(struct lsm_buf *b, const struct lsm_sst_info *s)
{
	lsm_status st;
	if ((st = lsm_buf_put_varint(b, s->id)) || (st = lsm_buf_put_varint(b, s->size)) ||
	    (st = lsm_buf_put_varint(b, s->entries)) || (st = lsm_buf_put_varint(b, s->min_seq)) ||
	    (st = lsm_buf_put_varint(b, s->max_seq)) ||
	    (st = lsm_buf_put_bytes(b, s->smallest, s->smallest_len)) ||
	    (st = lsm_buf_put_bytes(b, s->largest, s->largest_len)) ||
	    (st = lsm_buf_put_varint(b, s->n_vrefs)))
		return st;
	for (size_t i = 0; i < s->n_vrefs; i++)
		if ((st = lsm_buf_put_varint(b, s->vrefs[i].obj)) ||
		    (st = lsm_buf_put_varint(b, s->vrefs[i].bytes)))
			return st;
	return LSM_OK;
}

lsm_status lsm_manifest_encode(const struct lsm_manifest *m, struct lsm_buf *b)
{
	lsm_status st;
	b->len = 0;
	if ((st = lsm_buf_put_fixed64(b, MANIFEST_MAGIC)) ||
	    (st = lsm_buf_put_fixed32(b, MANIFEST_VERSION)) || (st = lsm_buf_put_varint(b, m->id)) ||
	    (st = lsm_buf_put_varint(b, m->writer_epoch)) ||
	    (st = lsm_buf_put_varint(b, m->wal_flushed)) ||
	    (st = lsm_buf_put_varint(b, m->last_seq)) ||
	    (st = lsm_buf_put_varint(b, m->next_sst_id)) ||
	    (st = lsm_buf_put_varint(b, m->l0_count)))
		return st;
	for (size_t i = 0; i < m->l0_count; i++)
		if ((st = put_sst(b, &m->l0[i])))
			return st;
	if ((st = lsm_buf_put_varint(b, m->run_count)))
		return st;
	for (size_t i = 0; i < m->run_count; i++) {
		if ((st = lsm_buf_put_varint(b, m->runs[i].id)) ||
		    (st = lsm_buf_put_varint(b, m->runs[i].count)))
			return st;
		for (size_t j = 0; j < m->runs[i].count; j++)
			if ((st = put_sst(b, &m->runs[i].ssts[j])))
				return st;
	}
	if ((st = lsm_buf_put_varint(b, m->checkpoint_count)))
		return st;
	for (size_t i = 0; i < m->checkpoint_count; i++) {
		const struct lsm_checkpoint *c = &m->checkpoints[i];
		if ((st = lsm_buf_put_bytes(b, c->name, strlen(c->name))) ||
		    (st = lsm_buf_put_varint(b, c->manifest_id)) ||
		    (st = lsm_buf_put_fixed64(b, (uint64_t)c->created_ms)))
			return st;
	}
	return lsm_buf_put_fixed64(b, lsm_checksum(b->data, b->len));
}

/* ---- decoding ---- */

#define BAD(what) lsm_fail(LSM_ECORRUPT, "manifest %" PRIu64 ": %s", id, what)

/* A count read from the object must fit in what is left (each item takes at
 * least one byte), so a corrupt count cannot make us allocate wildly. */
static bool get_count(struct lsm_cursor *c, size_t *n)
{
	uint64_t v;
	if (!lsm_get_varint(c, &v) || v > c->left)
		return false;
	*n = (size_t)v;
	return true;
}

static bool get_sst(struct lsm_cursor *c, struct lsm_sst_info *s, uint32_t version)
{
	const uint8_t *p;
	size_t n;
	if (!lsm_get_varint(c, &s->id) || !lsm_get_varint(c, &s->size) ||
	    !lsm_get_varint(c, &s->entries) || !lsm_get_varint(c, &s->min_seq) ||
	    !lsm_get_varint(c, &s->max_seq))
		return false;
	if (!lsm_get_bytes(c, &p, &n) || !(s->smallest = dup_bytes(p, n)))
		return false;
	s->smallest_len = n;
	if (!lsm_get_bytes(c, &p, &n) || !(s->largest = dup_bytes(p, n)))
		return false;
	s->largest_len = n;
	if (version < 2)
		return (s->vrefs = malloc(sizeof(*s->vrefs))) != NULL;
	if (!get_count(c, &s->n_vrefs) ||
	    !(s->vrefs = malloc((s->n_vrefs ? s->n_vrefs : 1) * sizeof(*s->vrefs))))
		return false;
	for (size_t i = 0; i < s->n_vrefs; i++) /* by object, strictly increasing */
		if (!lsm_get_varint(c, &s->vrefs[i].obj) || !lsm_get_varint(c, &s->vrefs[i].bytes) ||
		    (i && s->vrefs[i].obj <= s->vrefs[i - 1].obj))
			return false;
	return true;
}

lsm_status lsm_manifest_decode(const uint8_t *p, size_t n, uint64_t id, struct lsm_manifest *m)
{
	struct lsm_cursor c;
	uint64_t magic, stored_id;
	uint32_t version;
	lsm_status st = LSM_OK;

	lsm_manifest_init(m);
	if (n < 8 + 4 + 8)
		return BAD("truncated");
	if (lsm_dec_fixed64(p + n - 8) != lsm_checksum(p, n - 8))
		return BAD("checksum mismatch");
	c = (struct lsm_cursor){ p, n - 8 };
	if (!lsm_get_fixed64(&c, &magic) || magic != MANIFEST_MAGIC)
		return BAD("bad magic");
	if (!lsm_get_fixed32(&c, &version) || version < 1 || version > MANIFEST_VERSION)
		return lsm_fail(LSM_ECORRUPT, "manifest %" PRIu64 ": unsupported format version %u",
				id, version);
	if (!lsm_get_varint(&c, &stored_id) || stored_id != id)
		return BAD("id does not match the object name");
	m->id = id;
	if (!lsm_get_varint(&c, &m->writer_epoch) || !lsm_get_varint(&c, &m->wal_flushed) ||
	    !lsm_get_varint(&c, &m->last_seq) || !lsm_get_varint(&c, &m->next_sst_id) ||
	    !get_count(&c, &m->l0_count))
		goto bad;
	if (!(m->l0 = calloc(m->l0_count ? m->l0_count : 1, sizeof(*m->l0))))
		goto oom;
	for (size_t i = 0; i < m->l0_count; i++)
		if (!get_sst(&c, &m->l0[i], version))
			goto bad;
	if (!get_count(&c, &m->run_count))
		goto bad;
	if (!(m->runs = calloc(m->run_count ? m->run_count : 1, sizeof(*m->runs))))
		goto oom;
	for (size_t i = 0; i < m->run_count; i++) {
		struct lsm_run *r = &m->runs[i];
		size_t count;
		if (!lsm_get_varint(&c, &r->id) || !get_count(&c, &count))
			goto bad;
		if (!(r->ssts = calloc(count ? count : 1, sizeof(*r->ssts))))
			goto oom;
		r->count = count;
		for (size_t j = 0; j < count; j++)
			if (!get_sst(&c, &r->ssts[j], version))
				goto bad;
	}
	if (!get_count(&c, &m->checkpoint_count))
		goto bad;
	if (!(m->checkpoints = calloc(m->checkpoint_count ? m->checkpoint_count : 1,
				      sizeof(*m->checkpoints))))
		goto oom;
	for (size_t i = 0; i < m->checkpoint_count; i++) {
		struct lsm_checkpoint *cp = &m->checkpoints[i];
		const uint8_t *name;
		size_t len;
		uint64_t ms;
		if (!lsm_get_bytes(&c, &name, &len) || memchr(name, 0, len))
			goto bad;
		if (!(cp->name = malloc(len + 1)))
			goto oom;
		memcpy(cp->name, name, len);
		cp->name[len] = '\0';
		if (!lsm_get_varint(&c, &cp->manifest_id) || !lsm_get_fixed64(&c, &ms))
			goto bad;
		cp->created_ms = (int64_t)ms;
	}
	if (c.left != 0)
		goto bad;
	return LSM_OK;
bad:
	st = BAD("malformed contents");
	lsm_manifest_free(m);
	return st;
oom:
	lsm_manifest_free(m);
	return lsm_fail(LSM_ENOMEM, "out of memory decoding manifest %" PRIu64, id);
}

/* ---- objects ---- */

void lsm_manifest_key(uint64_t id, char *out)
{
	snprintf(out, 64, "manifest/%020" PRIu64, id);
}

void lsm_wal_key(uint64_t id, char *out)
{
	snprintf(out, 64, "wal/%020" PRIu64 ".wal", id);
}

void lsm_sst_key(uint64_t id, char *out)
{
	snprintf(out, 64, "sst/%020" PRIu64 ".sst", id);
}

lsm_status lsm_from_zs3(zs3_status st)
{
	switch (st) {
	case ZS3_OK: return LSM_OK;
	case ZS3_ENOTFOUND: return lsm_fail(LSM_ENOTFOUND, "%s", zs3_last_error());
	case ZS3_ETRANSIENT: return lsm_fail(LSM_ETRANSIENT, "%s", zs3_last_error());
	case ZS3_ECORRUPT: return lsm_fail(LSM_ECORRUPT, "%s", zs3_last_error());
	case ZS3_ENOMEM: return lsm_fail(LSM_ENOMEM, "%s", zs3_last_error());
	case ZS3_EINVAL: return lsm_fail(LSM_EINVAL, "%s", zs3_last_error());
	default: return lsm_fail(LSM_EIO, "%s", zs3_last_error());
	}
}

static zs3_status newest_manifest(void *ctx, const struct zs3_entry *e)
{
	uint64_t *id = ctx;
	const char *k = e->key + strlen("manifest/");
	char *end;
	uint64_t v = strtoull(k, &end, 10);

	if (*end == '\0' && end - k == 20 && v > *id)
		*id = v; /* anything else under manifest/ is not ours */
	return ZS3_OK;
}

lsm_status lsm_manifest_latest_id(struct zs3_store *s, uint64_t *id)
{
	zs3_status zst;

	*id = 0;
	zst = zs3_list_each(s, "manifest/", NULL, newest_manifest, id);
	return zst ? lsm_from_zs3(zst) : LSM_OK;
}

lsm_status lsm_manifest_load(struct zs3_store *s, uint64_t id, struct lsm_manifest *m)
{
	char key[64];
	struct zs3_buf b = { 0 };
	lsm_status st;
	lsm_manifest_key(id, key);
	zs3_status zst = zs3_get(s, key, zs3_range_all(), &b, NULL);
	if (zst)
		st = lsm_from_zs3(zst);
	else
		st = lsm_manifest_decode(b.data, b.len, id, m);
	zs3_buf_free(&b);
	return st;
}

lsm_status lsm_manifest_store(struct zs3_store *s, const struct lsm_manifest *m)
{
	char key[64];
	struct lsm_buf b = { 0 };
	lsm_status st = lsm_manifest_encode(m, &b);
	if (st == LSM_OK) {
		lsm_manifest_key(m->id, key);
		zs3_status zst = zs3_put_if_absent(s, key, b.data, b.len, NULL);
		if (zst == ZS3_EPRECONDITION)
			st = lsm_fail(LSM_EFENCED, "manifest %" PRIu64 " was written by another writer",
				      m->id);
		else
			st = lsm_from_zs3(zst);
	}
	lsm_buf_free(&b);
	return st;
}
