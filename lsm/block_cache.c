/* lsm/block_cache.c - see block_cache.h */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "block_cache.h"

struct lsm_cache_handle {
	struct lsm_cache_handle *hnext;      /* hash chain */
	struct lsm_cache_handle *prev, *next; /* LRU list, most recent after the sentinel */
	uint64_t id, off, hash;
	size_t charge;
	void *value;
	void (*deleter)(void *value);
	unsigned refs; /* handles, + 1 while resident */
	unsigned shard;
	bool resident;
};

struct shard {
	pthread_mutex_t mu;
	struct lsm_cache_handle **table;
	size_t nbuckets; /* a power of two */
	size_t count;
	struct lsm_cache_handle lru; /* sentinel: lru.next newest, lru.prev oldest */
	size_t usage, capacity;
	uint64_t hits, misses, inserts, evictions;
};

struct lsm_block_cache {
	unsigned nshards;
	size_t capacity;
	struct shard shards[];
};

static uint64_t key_hash(uint64_t id, uint64_t off)
{
	/* splitmix64 finaliser over both words */
	uint64_t x = id * 0x9e3779b97f4a7c15ULL ^ off;
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

lsm_status lsm_block_cache_new(size_t capacity, unsigned shards, struct lsm_block_cache **out)
{
	if (!shards)
		shards = LSM_BLOCK_CACHE_SHARDS;
	if (shards > 256)
		return lsm_fail(LSM_EINVAL, "block cache: %u shards (at most 256)", shards);
	struct lsm_block_cache *c = calloc(1, sizeof(*c) + shards * sizeof(struct shard));
	if (!c)
		return lsm_fail(LSM_ENOMEM, "out of memory for a block cache");
	c->nshards = shards;
	c->capacity = capacity;
	for (unsigned i = 0; i < shards; i++) {
		struct shard *s = &c->shards[i];
		s->nbuckets = 64;
		s->table = calloc(s->nbuckets, sizeof(*s->table));
		if (!s->table || pthread_mutex_init(&s->mu, NULL)) {
			free(s->table);
			for (unsigned j = 0; j < i; j++) {
				pthread_mutex_destroy(&c->shards[j].mu);
				free(c->shards[j].table);
			}
			free(c);
			return lsm_fail(LSM_ENOMEM, "out of memory for a block cache");
		}
		s->lru.next = s->lru.prev = &s->lru;
		s->capacity = capacity / shards;
	}
	*out = c;
	return LSM_OK;
}

void lsm_block_cache_free(struct lsm_block_cache *c)
{
	if (!c)
		return;
	for (unsigned i = 0; i < c->nshards; i++) {
		struct shard *s = &c->shards[i];
		struct lsm_cache_handle *e = s->lru.next;
		while (e != &s->lru) {
			struct lsm_cache_handle *n = e->next;
			/* a handle still held would be a caller bug: leak it, never
			 * free memory someone is using */
			if (e->refs == 1) {
				e->deleter(e->value);
				free(e);
			}
			e = n;
		}
		free(s->table);
		pthread_mutex_destroy(&s->mu);
	}
	free(c);
}

static struct shard *shard_of(struct lsm_block_cache *c, uint64_t hash)
{
	return &c->shards[(hash >> 56) % c->nshards];
}

static struct lsm_cache_handle **bucket(struct shard *s, uint64_t hash)
{
	return &s->table[hash & (s->nbuckets - 1)];
}

static struct lsm_cache_handle *find(struct shard *s, uint64_t id, uint64_t off, uint64_t hash)
{
	for (struct lsm_cache_handle *e = *bucket(s, hash); e; e = e->hnext)
		if (e->id == id && e->off == off)
			return e;
	return NULL;
}

static void lru_unlink(struct lsm_cache_handle *e)
{
	e->prev->next = e->next;
	e->next->prev = e->prev;
}

static void lru_push_front(struct shard *s, struct lsm_cache_handle *e)
{
	e->next = s->lru.next;
	e->prev = &s->lru;
	s->lru.next->prev = e;
	s->lru.next = e;
}

static void table_remove(struct shard *s, struct lsm_cache_handle *e)
{
	struct lsm_cache_handle **pp = bucket(s, e->hash);
	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	s->count--;
}

/* Doubles the table when it gets crowded; on allocation failure keeps the old
 * one (longer chains, still correct). */
static void maybe_grow(struct shard *s)
{
	if (s->count <= s->nbuckets)
		return;
	size_t n = s->nbuckets * 2;
	struct lsm_cache_handle **t = calloc(n, sizeof(*t));
	if (!t)
		return;
	for (size_t i = 0; i < s->nbuckets; i++) {
		struct lsm_cache_handle *e = s->table[i];
		while (e) {
			struct lsm_cache_handle *next = e->hnext;
			e->hnext = t[e->hash & (n - 1)];
			t[e->hash & (n - 1)] = e;
			e = next;
		}
	}
	free(s->table);
	s->table = t;
	s->nbuckets = n;
}

/* Takes e out of the cache; returns true if nobody holds it any more (the
 * caller then frees it, outside the lock). */
static bool detach(struct shard *s, struct lsm_cache_handle *e)
{
	table_remove(s, e);
	lru_unlink(e);
	e->resident = false;
	s->usage -= e->charge;
	return --e->refs == 0;
}

static void destroy_list(struct lsm_cache_handle *dead)
{
	while (dead) {
		struct lsm_cache_handle *n = dead->hnext;
		dead->deleter(dead->value);
		free(dead);
		dead = n;
	}
}

struct lsm_cache_handle *lsm_block_cache_lookup(struct lsm_block_cache *c, uint64_t id,
						uint64_t off)
{
	uint64_t h = key_hash(id, off);
	struct shard *s = shard_of(c, h);
	pthread_mutex_lock(&s->mu);
	struct lsm_cache_handle *e = find(s, id, off, h);
	if (e) {
		e->refs++;
		lru_unlink(e);
		lru_push_front(s, e);
		s->hits++;
	} else {
		s->misses++;
	}
	pthread_mutex_unlock(&s->mu);
	return e;
}

lsm_status lsm_block_cache_insert(struct lsm_block_cache *c, uint64_t id, uint64_t off,
				  void *value, size_t charge, void (*deleter)(void *value),
				  struct lsm_cache_handle **out)
{
	uint64_t h = key_hash(id, off);
	struct shard *s = shard_of(c, h);
	struct lsm_cache_handle *e = calloc(1, sizeof(*e));
	if (!e)
		return lsm_fail(LSM_ENOMEM, "out of memory for a cache entry");
	e->id = id;
	e->off = off;
	e->hash = h;
	e->charge = charge;
	e->value = value;
	e->deleter = deleter;
	e->shard = (unsigned)(s - c->shards);
	e->refs = 1;

	struct lsm_cache_handle *dead = NULL;
	pthread_mutex_lock(&s->mu);
	struct lsm_cache_handle *old = find(s, id, off, h);
	if (old) {
		old->refs++;
		lru_unlink(old);
		lru_push_front(s, old);
		pthread_mutex_unlock(&s->mu);
		deleter(value);
		free(e);
		*out = old;
		return LSM_OK;
	}
	if (charge <= s->capacity) {
		e->refs++; /* the cache's own reference */
		e->resident = true;
		e->hnext = *bucket(s, h);
		*bucket(s, h) = e;
		s->count++;
		lru_push_front(s, e);
		s->usage += charge;
		s->inserts++;
		/* e is newest and fits, so this stops before reaching it */
		while (s->usage > s->capacity) {
			struct lsm_cache_handle *victim = s->lru.prev;
			s->evictions++;
			if (detach(s, victim)) {
				victim->hnext = dead;
				dead = victim;
			}
		}
		maybe_grow(s);
	}
	pthread_mutex_unlock(&s->mu);
	destroy_list(dead);
	*out = e;
	return LSM_OK;
}

void *lsm_block_cache_value(const struct lsm_cache_handle *h)
{
	return h->value;
}

void lsm_block_cache_release(struct lsm_block_cache *c, struct lsm_cache_handle *h)
{
	struct shard *s = &c->shards[h->shard];
	pthread_mutex_lock(&s->mu);
	bool last = --h->refs == 0;
	pthread_mutex_unlock(&s->mu);
	if (last) {
		h->deleter(h->value);
		free(h);
	}
}

void lsm_block_cache_erase(struct lsm_block_cache *c, uint64_t id, uint64_t off)
{
	uint64_t h = key_hash(id, off);
	struct shard *s = shard_of(c, h);
	struct lsm_cache_handle *dead = NULL;
	pthread_mutex_lock(&s->mu);
	struct lsm_cache_handle *e = find(s, id, off, h);
	if (e && detach(s, e)) {
		e->hnext = NULL;
		dead = e;
	}
	pthread_mutex_unlock(&s->mu);
	destroy_list(dead);
}

void lsm_block_cache_erase_id(struct lsm_block_cache *c, uint64_t id)
{
	for (unsigned i = 0; i < c->nshards; i++) {
		struct shard *s = &c->shards[i];
		struct lsm_cache_handle *dead = NULL;
		pthread_mutex_lock(&s->mu);
		struct lsm_cache_handle *e = s->lru.next;
		while (e != &s->lru) {
			struct lsm_cache_handle *n = e->next;
			if (e->id == id && detach(s, e)) {
				e->hnext = dead;
				dead = e;
			}
			e = n;
		}
		pthread_mutex_unlock(&s->mu);
		destroy_list(dead);
	}
}

void lsm_block_cache_stats(struct lsm_block_cache *c, struct lsm_block_cache_stats *out)
{
	*out = (struct lsm_block_cache_stats){ .capacity = c->capacity };
	for (unsigned i = 0; i < c->nshards; i++) {
		struct shard *s = &c->shards[i];
		pthread_mutex_lock(&s->mu);
		out->hits += s->hits;
		out->misses += s->misses;
		out->inserts += s->inserts;
		out->evictions += s->evictions;
		out->usage += s->usage;
		out->entries += s->count;
		pthread_mutex_unlock(&s->mu);
	}
}

size_t lsm_block_cache_usage(struct lsm_block_cache *c)
{
	size_t u = 0;
	for (unsigned i = 0; i < c->nshards; i++) {
		pthread_mutex_lock(&c->shards[i].mu);
		u += c->shards[i].usage;
		pthread_mutex_unlock(&c->shards[i].mu);
	}
	return u;
}
