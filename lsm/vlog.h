/*
 * lsm/vlog.h - values stored out of line (WiscKey's value separation, with
 * the WAL objects as the value log).
 *
 * Every value is first written inline, in a WAL record, and kept inline in
 * the memtable. When the memtable is flushed, a value of at least
 * lsm_options.value_sep_bytes is not copied into the SST: the SST holds an
 * entry of type LSM_TYPE_BLOB_REF whose value is a pointer to the value's
 * bytes inside the WAL object that already holds them in the store. So a
 * large value is uploaded once (in the WAL) and compaction moves only its
 * pointer. A WAL object stays in the store while any SST of a live manifest
 * points into it; each SST's pointers are summarised per object in the
 * manifest (struct lsm_vref), which is how GC decides. Byte layouts:
 * docs/FORMAT.md, "Value pointers".
 */
#ifndef ZEROFS_LSM_VLOG_H
#define ZEROFS_LSM_VLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coding.h"
#include "manifest.h"
#include "status.h"

/* Where a value's bytes are: object `obj` (a WAL id), bytes [off, off + len),
 * whose XXH3-64 is sum. */
struct lsm_vptr {
	uint64_t obj;
	uint64_t off;
	uint32_t len;
	uint64_t sum;
};

#define LSM_VPTR_MAX_BYTES 40

/* Encodes p into out (LSM_VPTR_MAX_BYTES at least); returns the length. */
size_t lsm_vptr_encode(const struct lsm_vptr *p, uint8_t *out);
/* LSM_ECORRUPT for anything but exactly one well-formed pointer. */
lsm_status lsm_vptr_decode(const uint8_t *p, size_t n, struct lsm_vptr *out);
/* The store key of the object a pointer names; out holds 64 bytes. */
void lsm_vobj_key(uint64_t obj, char *out);

/* A set of lsm_vref by object, kept sorted by obj. */
struct lsm_vref_set {
	struct lsm_vref *v;
	size_t n, cap;
};

lsm_status lsm_vref_set_add(struct lsm_vref_set *s, uint64_t obj, uint64_t bytes);
bool lsm_vref_set_has(const struct lsm_vref_set *s, uint64_t obj);
/* obj's element, or NULL. */
const struct lsm_vref *lsm_vref_set_find(const struct lsm_vref_set *s, uint64_t obj);
/* Adds every vref of every SST of m (L0 and runs). */
lsm_status lsm_vref_set_add_manifest(struct lsm_vref_set *s, const struct lsm_manifest *m);
void lsm_vref_set_free(struct lsm_vref_set *s);

#endif
