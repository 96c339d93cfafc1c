/*
 * lsm/block_cache.h - an in-memory LRU cache of decoded SST blocks, shared by
 * every SST reader of a database.
 *
 * Entries are keyed by (id, offset): the SST's cache id and the block's offset
 * in the object. Each entry carries a value, its charge in bytes, and the
 * deleter that frees the value. The cache is split into shards (each with its
 * own mutex, LRU list and capacity = capacity / shards) so concurrent readers
 * rarely wait for each other.
 *
 * Lifetime: lookups and inserts return a handle holding a reference. An entry
 * leaves the cache when it is the least recently used and its shard is over
 * capacity (or on erase), even if handles still hold it: its value is freed
 * only when the last handle is released, so a block in use is never freed
 * under a reader. Usage counts resident entries only.
 *
 * Every function is thread-safe.
 */
#ifndef ZEROFS_LSM_BLOCK_CACHE_H
#define ZEROFS_LSM_BLOCK_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

struct lsm_block_cache;
struct lsm_cache_handle;

#define LSM_BLOCK_CACHE_SHARDS 8

/* shards 0 means LSM_BLOCK_CACHE_SHARDS; at most 256. */
lsm_status lsm_block_cache_new(size_t capacity, unsigned shards, struct lsm_block_cache **out);
/* Every handle must have been released. */
void lsm_block_cache_free(struct lsm_block_cache *c);

/* A handle to the entry (counted as a hit), or NULL (a miss). */
struct lsm_cache_handle *lsm_block_cache_lookup(struct lsm_block_cache *c, uint64_t id,
						uint64_t off);

/*
 * Inserts value and returns a handle to it. On success the cache owns value
 * and frees it with deleter(value) once it is evicted and released. If the key
 * is already present (another reader loaded the same block first), value is
 * freed at once and the handle is to the existing entry. A value whose charge
 * exceeds a shard's capacity is not cached: the handle is then its only
 * reference. On failure (LSM_ENOMEM) value still belongs to the caller.
 */
lsm_status lsm_block_cache_insert(struct lsm_block_cache *c, uint64_t id, uint64_t off,
				  void *value, size_t charge, void (*deleter)(void *value),
				  struct lsm_cache_handle **out);

void *lsm_block_cache_value(const struct lsm_cache_handle *h);
void lsm_block_cache_release(struct lsm_block_cache *c, struct lsm_cache_handle *h);

/* Drops one entry / every entry of an id (an SST that was deleted). */
void lsm_block_cache_erase(struct lsm_block_cache *c, uint64_t id, uint64_t off);
void lsm_block_cache_erase_id(struct lsm_block_cache *c, uint64_t id);

struct lsm_block_cache_stats {
	uint64_t hits, misses;
	uint64_t inserts;   /* entries that became resident */
	uint64_t evictions; /* entries pushed out by capacity (not erases) */
	size_t usage;       /* bytes charged by resident entries */
	size_t capacity;
	size_t entries;     /* resident entries */
};
void lsm_block_cache_stats(struct lsm_block_cache *c, struct lsm_block_cache_stats *out);
size_t lsm_block_cache_usage(struct lsm_block_cache *c);

#endif
