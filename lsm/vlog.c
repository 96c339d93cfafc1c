/* lsm/vlog.c - value pointers and per-object reference sets; see vlog.h */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "manifest.h"
#include "vlog.h"

/* Kinds of object a pointer may name, in the low bit of its encoded obj. */
#define VOBJ_KIND_WAL 0u

size_t lsm_vptr_encode(const struct lsm_vptr *p, uint8_t *out)
{
	uint8_t *o = out;
	o += lsm_enc_varint(o, p->obj << 1 | VOBJ_KIND_WAL);
	o += lsm_enc_varint(o, p->off);
	o += lsm_enc_varint(o, p->len);
	lsm_enc_fixed64(o, p->sum);
	return (size_t)(o - out) + 8;
}

lsm_status lsm_vptr_decode(const uint8_t *p, size_t n, struct lsm_vptr *out)
{
	struct lsm_cursor c = { p, n };
	uint64_t obj, len;
	if (!lsm_get_varint(&c, &obj) || !lsm_get_varint(&c, &out->off) || !lsm_get_varint(&c, &len) ||
	    !lsm_get_fixed64(&c, &out->sum) || c.left)
		return lsm_fail(LSM_ECORRUPT, "value pointer of %zu bytes is malformed", n);
	if ((obj & 1) != VOBJ_KIND_WAL || len > UINT32_MAX)
		return lsm_fail(LSM_ECORRUPT, "value pointer names an unknown kind of object (%" PRIu64
			       ") or a value of %" PRIu64 " bytes", obj & 1, len);
	out->obj = obj >> 1;
	out->len = (uint32_t)len;
	return LSM_OK;
}

void lsm_vobj_key(uint64_t obj, char *out)
{
	lsm_wal_key(obj, out);
}

/* The index of the first element with obj >= `obj`. */
static size_t lower_bound(const struct lsm_vref_set *s, uint64_t obj)
{
	size_t lo = 0, hi = s->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (s->v[mid].obj < obj)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

lsm_status lsm_vref_set_add(struct lsm_vref_set *s, uint64_t obj, uint64_t bytes)
{
	size_t i = lower_bound(s, obj);
	if (i < s->n && s->v[i].obj == obj) {
		s->v[i].bytes += bytes;
		return LSM_OK;
	}
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 8;
		struct lsm_vref *v = realloc(s->v, cap * sizeof(*v));
		if (!v)
			return lsm_fail(LSM_ENOMEM, "out of memory");
		s->v = v;
		s->cap = cap;
	}
	memmove(s->v + i + 1, s->v + i, (s->n - i) * sizeof(*s->v));
	s->v[i] = (struct lsm_vref){ obj, bytes };
	s->n++;
	return LSM_OK;
}

const struct lsm_vref *lsm_vref_set_find(const struct lsm_vref_set *s, uint64_t obj)
{
	size_t i = lower_bound(s, obj);
	return i < s->n && s->v[i].obj == obj ? &s->v[i] : NULL;
}

bool lsm_vref_set_has(const struct lsm_vref_set *s, uint64_t obj)
{
	return lsm_vref_set_find(s, obj) != NULL;
}

static lsm_status add_sst(struct lsm_vref_set *s, const struct lsm_sst_info *info)
{
	lsm_status st = LSM_OK;
	for (size_t i = 0; i < info->n_vrefs && !st; i++)
		st = lsm_vref_set_add(s, info->vrefs[i].obj, info->vrefs[i].bytes);
	return st;
}

lsm_status lsm_vref_set_add_manifest(struct lsm_vref_set *s, const struct lsm_manifest *m)
{
	lsm_status st = LSM_OK;
	for (size_t i = 0; i < m->l0_count && !st; i++)
		st = add_sst(s, &m->l0[i]);
	for (size_t r = 0; r < m->run_count && !st; r++)
		for (size_t i = 0; i < m->runs[r].count && !st; i++)
			st = add_sst(s, &m->runs[r].ssts[i]);
	return st;
}

void lsm_vref_set_free(struct lsm_vref_set *s)
{
	free(s->v);
	s->v = NULL;
	s->n = s->cap = 0;
}
