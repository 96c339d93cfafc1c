/*
 * lsm/object_cache.h - an on-disk cache of immutable objects (SSTs) in a
 * directory, with a byte limit and least-recently-used eviction. It survives
 * restarts: opening scans the directory and adopts what is there (oldest
 * access time evicted first).
 *
 * Only immutable objects may be cached: an object name never changes content.
 */
#ifndef ZEROFS_LSM_OBJECT_CACHE_H
#define ZEROFS_LSM_OBJECT_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coding.h"
#include "status.h"

struct lsm_object_cache;

struct lsm_object_cache_stats {
	uint64_t hits, misses, inserts, evictions;
	uint64_t bytes, objects;
};


/* Creates dir if needed. max_bytes must be positive. */
lsm_status lsm_object_cache_open(const char *dir, uint64_t max_bytes,
				 struct lsm_object_cache **out);
void lsm_object_cache_close(struct lsm_object_cache *c);

/* Reads [off, off + len) of the cached object into out (replacing its
 * contents). LSM_ENOTFOUND if the object is not cached. A range past the end
 * of the cached file means the file is damaged (callers never ask past an
 * object's end): it is dropped and the read is a miss. */
lsm_status lsm_object_cache_read(struct lsm_object_cache *c, const char *name, uint64_t off,
				 uint64_t len, struct lsm_buf *out);
/* Caches a whole object. Objects over a quarter of the limit are not cached. */
lsm_status lsm_object_cache_insert(struct lsm_object_cache *c, const char *name,
				   const void *data, size_t len);
/* The same written piece by piece (an object fetched in bounded pieces, so
 * that no whole object is held in memory): begin, append*, then commit (which
 * makes it readable) or abort. */
struct lsm_object_cache_writer;
lsm_status lsm_object_cache_begin(struct lsm_object_cache *c, const char *name,
				  struct lsm_object_cache_writer **out);
lsm_status lsm_object_cache_append(struct lsm_object_cache_writer *w, const void *data, size_t len);
lsm_status lsm_object_cache_commit(struct lsm_object_cache_writer *w);
/* Without the fsync (sync = false): for objects whose every read is checked
 * against checksums held elsewhere (values of WAL objects, lsm/vlog.h), so
 * that a file cut short by a crash is a miss, never wrong data; it saves a
 * disk flush per WAL upload on a disk the object store may share. */
lsm_status lsm_object_cache_commit_sync(struct lsm_object_cache_writer *w, bool sync);
lsm_status lsm_object_cache_insert_sync(struct lsm_object_cache *c, const char *name,
					const void *data, size_t len, bool sync);
void lsm_object_cache_abort(struct lsm_object_cache_writer *w);
bool lsm_object_cache_has(struct lsm_object_cache *c, const char *name);
/* Forgets a cached object found damaged (its file is deleted). */
void lsm_object_cache_drop(struct lsm_object_cache *c, const char *name);
void lsm_object_cache_stats(struct lsm_object_cache *c, struct lsm_object_cache_stats *out);

#endif
