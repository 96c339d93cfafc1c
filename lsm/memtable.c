/* lsm/memtable.c - the concurrent skiplist memtable; see memtable.h */
#include <stdalign.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "memtable.h"

#define MAX_HEIGHT 16   /* 4^16 entries before the list degrades */
#define CHUNK_BYTES (1u << 20)
#define BIG_ALLOC (CHUNK_BYTES / 4) /* bigger requests get a chunk of their own */

/* ---- arena: bump allocation from large chunks, freed all at once ---- */

struct chunk {
	struct chunk *next;
	alignas(max_align_t) unsigned char data[];
};

struct arena {
	struct chunk *chunks;
	unsigned char *ptr; /* free space in the current chunk */
	size_t left;
	atomic_size_t bytes; /* read by other threads */
};

static struct chunk *arena_chunk(struct arena *a, size_t size)
{
	struct chunk *c = malloc(sizeof(*c) + size);
	if (!c)
		return NULL;
	c->next = a->chunks;
	a->chunks = c;
	atomic_fetch_add_explicit(&a->bytes, sizeof(*c) + size, memory_order_relaxed);
	return c;
}

/* n bytes, 8-byte aligned, uninitialised; NULL when out of memory. */
static void *arena_alloc(struct arena *a, size_t n)
{
	n = (n + 7) & ~(size_t)7;
	if (n <= a->left) {
		void *p = a->ptr;
		a->ptr += n;
		a->left -= n;
		return p;
	}
	if (n > BIG_ALLOC) {
		struct chunk *c = arena_chunk(a, n);
		return c ? c->data : NULL;
	}
	struct chunk *c = arena_chunk(a, CHUNK_BYTES); /* the old chunk's tail is wasted */
	if (!c)
		return NULL;
	a->ptr = c->data + n;
	a->left = CHUNK_BYTES - n;
	return c->data;
}

static void arena_free(struct arena *a)
{
	while (a->chunks) {
		struct chunk *c = a->chunks;
		a->chunks = c->next;
		free(c);
	}
}

/* ---- skiplist ---- */

/* A node: this header, `height` next pointers, the internal key, the value. */
struct node {
	uint32_t klen; /* internal key bytes (user key + 8) */
	uint32_t vlen;
	uint32_t height;
	uint32_t voff; /* with vobj: where the value lies in its WAL object */
	uint64_t vobj; /* that WAL object's id; 0 = not recorded */
	_Atomic(struct node *) next[];
};

static inline const uint8_t *node_key(const struct node *n)
{
	return (const uint8_t *)(n->next + n->height);
}
static inline const uint8_t *node_value(const struct node *n)
{
	return node_key(n) + n->klen;
}

struct lsm_memtable {
	atomic_uint refs;
	atomic_int height; /* levels in use; relaxed: a stale value only costs time */
	struct node *head; /* MAX_HEIGHT levels, no key */
	struct arena arena;
	uint64_t rng;      /* writer only */
	_Atomic uint64_t count, min_seq, max_seq;
};

lsm_status lsm_memtable_new(struct lsm_memtable **out)
{
	struct lsm_memtable *mt = calloc(1, sizeof(*mt));
	*out = NULL;
	if (!mt)
		return lsm_fail(LSM_ENOMEM, "out of memory creating a memtable");
	atomic_init(&mt->refs, 1);
	atomic_init(&mt->height, 1);
	atomic_init(&mt->arena.bytes, 0);
	atomic_init(&mt->count, 0);
	atomic_init(&mt->min_seq, 0);
	atomic_init(&mt->max_seq, 0);
	mt->rng = UINT64_C(0x9e3779b97f4a7c15);
	mt->head = arena_alloc(&mt->arena, sizeof(struct node) + MAX_HEIGHT * sizeof(struct node *));
	if (!mt->head) {
		free(mt);
		return lsm_fail(LSM_ENOMEM, "out of memory creating a memtable");
	}
	mt->head->klen = mt->head->vlen = mt->head->voff = 0;
	mt->head->vobj = 0;
	mt->head->height = MAX_HEIGHT;
	for (int i = 0; i < MAX_HEIGHT; i++)
		atomic_init(&mt->head->next[i], NULL);
	*out = mt;
	return LSM_OK;
}

struct lsm_memtable *lsm_memtable_ref(struct lsm_memtable *mt)
{
	atomic_fetch_add_explicit(&mt->refs, 1, memory_order_relaxed);
	return mt;
}

void lsm_memtable_unref(struct lsm_memtable *mt)
{
	if (!mt || atomic_fetch_sub_explicit(&mt->refs, 1, memory_order_acq_rel) != 1)
		return;
	arena_free(&mt->arena);
	free(mt);
}

/* Node vs the internal key (uk, trailer), in lsm_ikey_compare order. */
static int cmp_node(const struct node *n, const uint8_t *uk, size_t ulen, uint64_t trailer)
{
	const uint8_t *k = node_key(n);
	int c = lsm_ukey_compare(k, n->klen - LSM_IKEY_TRAILER, uk, ulen);
	if (c)
		return c;
	uint64_t t = lsm_ikey_trailer(k, n->klen);
	return t > trailer ? -1 : t < trailer;
}

/* The first node >= (uk, trailer), or NULL. With prev, also the rightmost node
 * < target on every level in use (writer only). Safe against a concurrent
 * writer: every link followed was published with a release store. */
static struct node *find_ge(struct lsm_memtable *mt, const uint8_t *uk, size_t ulen,
			    uint64_t trailer, struct node **prev)
{
	struct node *x = mt->head, *known_ge = NULL;
	int level = atomic_load_explicit(&mt->height, memory_order_relaxed) - 1;
	for (;;) {
		struct node *nx = atomic_load_explicit(&x->next[level], memory_order_acquire);
		/* a level down often leads to the node just found >= target: no
		 * need to compare it again */
		if (nx && nx != known_ge && cmp_node(nx, uk, ulen, trailer) < 0) {
			x = nx;
			continue;
		}
		if (prev)
			prev[level] = x;
		if (level == 0)
			return nx;
		known_ge = nx;
		level--;
	}
}

static uint32_t random_height(struct lsm_memtable *mt)
{
	uint32_t h = 1;
	mt->rng ^= mt->rng << 13; /* xorshift64 */
	mt->rng ^= mt->rng >> 7;
	mt->rng ^= mt->rng << 17;
	uint64_t r = mt->rng;
	while (h < MAX_HEIGHT && (r & 3) == 0) { /* each level with probability 1/4 */
		h++;
		r >>= 2;
	}
	return h;
}

/* A filled node, not yet linked. NULL when out of memory. */
static struct node *new_node(struct lsm_memtable *mt, uint64_t seq, enum lsm_type type,
			     const void *key, size_t klen, const void *val, size_t vlen)
{
	uint32_t h = random_height(mt);
	size_t size = sizeof(struct node) + h * sizeof(struct node *) + klen + LSM_IKEY_TRAILER + vlen;
	struct node *n = arena_alloc(&mt->arena, size);
	if (!n)
		return NULL;
	n->klen = (uint32_t)(klen + LSM_IKEY_TRAILER);
	n->vlen = (uint32_t)vlen;
	n->height = h;
	n->voff = 0;
	n->vobj = 0;
	for (uint32_t i = 0; i < h; i++)
		atomic_init(&n->next[i], NULL);
	uint8_t *k = (uint8_t *)node_key(n);
	lsm_ikey_encode(k, key, klen, seq, type);
	if (vlen)
		memcpy(k + n->klen, val, vlen);
	return n;
}

/* Links n in (writer only) and publishes the counters. */
static void link_node(struct lsm_memtable *mt, struct node *n)
{
	struct node *prev[MAX_HEIGHT];
	const uint8_t *k = node_key(n);
	uint64_t trailer = lsm_ikey_trailer(k, n->klen);
	find_ge(mt, k, n->klen - LSM_IKEY_TRAILER, trailer, prev);
	int h = (int)n->height, cur = atomic_load_explicit(&mt->height, memory_order_relaxed);
	if (h > cur) {
		for (int i = cur; i < h; i++)
			prev[i] = mt->head;
		/* readers that see the new height before the links find NULL at
		 * head and drop a level: harmless */
		atomic_store_explicit(&mt->height, h, memory_order_relaxed);
	}
	for (int i = 0; i < h; i++) {
		struct node *succ = atomic_load_explicit(&prev[i]->next[i], memory_order_relaxed);
		atomic_store_explicit(&n->next[i], succ, memory_order_relaxed);
		/* publishes the node's contents along with the link */
		atomic_store_explicit(&prev[i]->next[i], n, memory_order_release);
	}
	uint64_t seq = trailer >> 8, count = atomic_load_explicit(&mt->count, memory_order_relaxed);
	if (!count)
		atomic_store_explicit(&mt->min_seq, seq, memory_order_relaxed);
	atomic_store_explicit(&mt->max_seq, seq, memory_order_relaxed);
	atomic_store_explicit(&mt->count, count + 1, memory_order_release);
}

/* May ops with seqs first..first+n-1 go in? */
static lsm_status check_seqs(const struct lsm_memtable *mt, uint64_t first, uint64_t n)
{
	if (!n)
		return LSM_OK;
	if (first > LSM_SEQ_MAX || n - 1 > LSM_SEQ_MAX - first)
		return lsm_fail(LSM_EINVAL, "memtable: sequence number beyond 2^56-1");
	if (atomic_load_explicit(&mt->count, memory_order_relaxed) &&
	    first <= atomic_load_explicit(&mt->max_seq, memory_order_relaxed))
		return lsm_fail(LSM_EINVAL, "memtable: seq %llu not above the newest seq %llu",
				(unsigned long long)first,
				(unsigned long long)atomic_load(&mt->max_seq));
	return LSM_OK;
}

lsm_status lsm_memtable_add(struct lsm_memtable *mt, uint64_t seq, enum lsm_type type,
			    const void *key, size_t klen, const void *val, size_t vlen)
{
	lsm_status st = check_seqs(mt, seq, 1);
	if (st)
		return st;
	if (type != LSM_TYPE_PUT && type != LSM_TYPE_DELETE && type != LSM_TYPE_BLOB_REF)
		return lsm_fail(LSM_EINVAL, "memtable: unknown entry type %d", (int)type);
	if (klen > LSM_MAX_KEY_LEN || vlen > LSM_MAX_VALUE_LEN)
		return lsm_fail(LSM_EINVAL, "memtable: key or value longer than the limit");
	if ((klen && !key) || (vlen && !val))
		return lsm_fail(LSM_EINVAL, "memtable: NULL key or value with a non-zero length");
	struct node *n = new_node(mt, seq, type, key, klen, val, vlen);
	if (!n)
		return lsm_fail(LSM_ENOMEM, "out of memory adding to a memtable");
	link_node(mt, n);
	return LSM_OK;
}

/* Phase 1 of apply: nodes allocated and chained through next[0] (they are not
 * linked yet, so nobody else can see that pointer). */
struct alloc_ctx {
	struct lsm_memtable *mt;
	uint64_t seq;
	struct node *first, *last;
};

static lsm_status alloc_op(void *vctx, enum lsm_type type, const uint8_t *key, size_t klen,
			   const uint8_t *val, size_t vlen)
{
	struct alloc_ctx *c = vctx;
	struct node *n = new_node(c->mt, c->seq++, type, key, klen, val, vlen);
	if (!n)
		return lsm_fail(LSM_ENOMEM, "out of memory applying a batch to a memtable");
	if (c->last)
		atomic_store_explicit(&c->last->next[0], n, memory_order_relaxed);
	else
		c->first = n;
	c->last = n;
	return LSM_OK;
}

lsm_status lsm_memtable_apply_body(struct lsm_memtable *mt, const uint8_t *body, size_t len,
				   uint32_t count, uint64_t first_seq)
{
	struct alloc_ctx c = { mt, first_seq, NULL, NULL };
	lsm_status st = check_seqs(mt, first_seq, count);
	if (st || (st = lsm_batch_body_iterate(body, len, count, alloc_op, &c)))
		return st; /* nodes already allocated stay unused in the arena */
	for (struct node *n = c.first, *nx; n; n = nx) {
		nx = atomic_load_explicit(&n->next[0], memory_order_relaxed);
		link_node(mt, n); /* overwrites next[0] */
	}
	return LSM_OK;
}

lsm_status lsm_memtable_apply_batch(struct lsm_memtable *mt, const struct lsm_batch *b,
				    uint64_t first_seq)
{
	size_t len;
	const uint8_t *body = lsm_batch_body(b, &len);
	return lsm_memtable_apply_body(mt, body, len, lsm_batch_count(b), first_seq);
}

lsm_status lsm_memtable_get(struct lsm_memtable *mt, const void *user_key, size_t ulen,
			    uint64_t snapshot_seq, enum lsm_type *type, struct lsm_buf *value)
{
	if (snapshot_seq > LSM_SEQ_MAX)
		snapshot_seq = LSM_SEQ_MAX;
	/* (key, snapshot, 0xff) sorts before every version with seq <= snapshot */
	struct node *n = find_ge(mt, user_key, ulen, snapshot_seq << 8 | 0xff, NULL);
	if (!n || lsm_ukey_compare(node_key(n), n->klen - LSM_IKEY_TRAILER, user_key, ulen))
		return LSM_ENOTFOUND;
	*type = lsm_ikey_type(node_key(n), n->klen);
	if (value) {
		value->len = 0;
		/* never leave data NULL, even for an empty value: callers memcmp it */
		lsm_status st = lsm_buf_reserve(value, (size_t)n->vlen + 1);
		return st ? st : lsm_buf_append(value, node_value(n), n->vlen);
	}
	return LSM_OK;
}

lsm_status lsm_memtable_set_vlog(struct lsm_memtable *mt, const void *user_key, size_t ulen,
				  uint64_t seq, uint64_t obj, uint32_t off)
{
	struct node *n = find_ge(mt, user_key, ulen, seq << 8 | 0xff, NULL);
	if (!n || lsm_ukey_compare(node_key(n), n->klen - LSM_IKEY_TRAILER, user_key, ulen) ||
	    lsm_ikey_seq(node_key(n), n->klen) != seq)
		return lsm_fail(LSM_EINVAL, "memtable: no entry at seq %llu to place",
				(unsigned long long)seq);
	n->vobj = obj;
	n->voff = off;
	return LSM_OK;
}

size_t lsm_memtable_memory(const struct lsm_memtable *mt)
{
	return atomic_load_explicit(&mt->arena.bytes, memory_order_relaxed);
}

uint64_t lsm_memtable_count(const struct lsm_memtable *mt)
{
	return atomic_load_explicit(&mt->count, memory_order_acquire);
}

bool lsm_memtable_seq_range(const struct lsm_memtable *mt, uint64_t *min_seq, uint64_t *max_seq)
{
	if (!atomic_load_explicit(&mt->count, memory_order_acquire)) {
		*min_seq = *max_seq = 0;
		return false;
	}
	*min_seq = atomic_load_explicit(&mt->min_seq, memory_order_relaxed);
	*max_seq = atomic_load_explicit(&mt->max_seq, memory_order_relaxed);
	return true;
}

/* ---- iterator ---- */

struct mt_iter {
	struct lsm_iter base;
	struct lsm_memtable *mt;
	struct node *cur;
	lsm_status st;
};

static void it_seek_first(struct lsm_iter *it)
{
	struct mt_iter *m = (struct mt_iter *)it;
	m->st = LSM_OK;
	m->cur = atomic_load_explicit(&m->mt->head->next[0], memory_order_acquire);
}

static void it_seek(struct lsm_iter *it, const uint8_t *target, size_t len)
{
	struct mt_iter *m = (struct mt_iter *)it;
	if (len < LSM_IKEY_TRAILER) {
		m->cur = NULL;
		m->st = lsm_fail(LSM_EINVAL, "memtable seek: target of %zu bytes is no internal key",
				 len);
		return;
	}
	m->st = LSM_OK;
	m->cur = find_ge(m->mt, target, len - LSM_IKEY_TRAILER, lsm_ikey_trailer(target, len),
			 NULL);
}

static void it_next(struct lsm_iter *it)
{
	struct mt_iter *m = (struct mt_iter *)it;
	if (m->cur)
		m->cur = atomic_load_explicit(&m->cur->next[0], memory_order_acquire);
}

static bool it_valid(const struct lsm_iter *it)
{
	return ((const struct mt_iter *)it)->cur != NULL;
}

static const uint8_t *it_key(const struct lsm_iter *it, size_t *len)
{
	const struct node *n = ((const struct mt_iter *)it)->cur;
	*len = n->klen;
	return node_key(n);
}

static const uint8_t *it_value(const struct lsm_iter *it, size_t *len)
{
	const struct node *n = ((const struct mt_iter *)it)->cur;
	*len = n->vlen;
	return node_value(n);
}

bool lsm_memtable_iter_vlog(const struct lsm_iter *it, uint64_t *obj, uint32_t *off)
{
	const struct node *n = ((const struct mt_iter *)it)->cur;
	if (!n || !n->vobj)
		return false;
	*obj = n->vobj;
	*off = n->voff;
	return true;
}

static lsm_status it_status(const struct lsm_iter *it)
{
	return ((const struct mt_iter *)it)->st;
}

static void it_destroy(struct lsm_iter *it)
{
	struct mt_iter *m = (struct mt_iter *)it;
	lsm_memtable_unref(m->mt);
	free(m);
}

static const struct lsm_iter_ops mt_iter_ops = {
	.seek_first = it_seek_first,
	.seek = it_seek,
	.next = it_next,
	.valid = it_valid,
	.key = it_key,
	.value = it_value,
	.status = it_status,
	.destroy = it_destroy,
};

lsm_status lsm_memtable_iter(struct lsm_memtable *mt, struct lsm_iter **out)
{
	struct mt_iter *m = calloc(1, sizeof(*m));
	*out = NULL;
	if (!m)
		return lsm_fail(LSM_ENOMEM, "out of memory creating a memtable iterator");
	m->base.ops = &mt_iter_ops;
	m->mt = lsm_memtable_ref(mt);
	*out = &m->base;
	return LSM_OK;
}
