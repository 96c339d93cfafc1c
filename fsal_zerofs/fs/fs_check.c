/*
 * fsal_zerofs/fs/fs_check.c - checking and repairing a filesystem's records
 * (fs_check.h). Formerly in the admin tool; here so that only the core writes
 * records, with its own transactions and record helpers.
 *
 * A scan is one prefix scan per record kind, each decoded with fs_records.c:
 * inodes ('i') into a table, cookies ('c'), entries ('d', checked against
 * both), chunks ('k'), then a scan for keys of no known kind, then per-inode
 * conclusions. Problems are collected and described with paths afterwards.
 *
 * Repairs fix only what is safe, each change one durable transaction:
 * dangling and orphan entries and orphan cookie records are removed, missing
 * or duplicate cookies get a fresh one, entry types, nlink, "..", `used`,
 * next cookies and the superblock's totals are set to the recomputed values,
 * chunks past the end of file are deleted or trimmed, chunks of no file
 * deleted, and inodes no entry names are moved to /lost+found as "#<inode>".
 * Totals are fixed only after a scan that found nothing else, since the
 * other repairs change them.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs_check.h"
#include "fs_int.h"

#define LOST_FOUND "lost+found"
#define PROGRESS_EVERY 256

static const char *const code_names[] = {
	"bad-record", "no-superblock", "no-root", "unknown-record", "bad-name",
	"dangling-entry", "orphan-entry", "entry-type", "missing-cookie", "duplicate-cookie",
	"orphan-cookie", "cookie-ahead", "wrong-nlink", "wrong-parent", "directory-links",
	"unreachable-directory", "orphan-inode", "chunk-past-eof", "orphan-chunk", "bad-chunk",
	"wrong-used", "wrong-totals", "orphan-extent", "missing-extent",
};

const char *zfs_check_code_name(enum zfs_check_code code)
{
	return (size_t)code < sizeof(code_names) / sizeof(code_names[0]) ? code_names[code] : "unknown";
}

/* ---- a small hash table: (a, b) -> index ---- */

struct hslot {
	uint64_t a, b;
	uint32_t idx1; /* index + 1; 0 = empty */
};
struct htab {
	struct hslot *s;
	size_t cap, n;
};

static uint64_t mix(uint64_t a, uint64_t b)
{
	uint64_t z = a * 0x9e3779b97f4a7c15ULL ^ (b + 0xbf58476d1ce4e5b9ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static struct hslot *h_slot(const struct htab *h, uint64_t a, uint64_t b)
{
	size_t i = (size_t)mix(a, b) & (h->cap - 1);
	while (h->s[i].idx1 && (h->s[i].a != a || h->s[i].b != b))
		i = (i + 1) & (h->cap - 1);
	return &h->s[i];
}

static long h_get(const struct htab *h, uint64_t a, uint64_t b)
{
	if (!h->cap)
		return -1;
	struct hslot *s = h_slot(h, a, b);
	return s->idx1 ? (long)s->idx1 - 1 : -1;
}

static int h_put(struct htab *h, uint64_t a, uint64_t b, uint32_t idx)
{
	if ((h->n + 1) * 2 > h->cap) {
		struct htab g = { calloc(h->cap ? h->cap * 2 : 1024, sizeof(struct hslot)),
				  h->cap ? h->cap * 2 : 1024, 0 };
		if (!g.s)
			return ENOMEM;
		for (size_t i = 0; i < h->cap; i++)
			if (h->s[i].idx1) {
				*h_slot(&g, h->s[i].a, h->s[i].b) = h->s[i];
				g.n++;
			}
		free(h->s);
		*h = g;
	}
	struct hslot *s = h_slot(h, a, b);
	if (!s->idx1)
		h->n++;
	*s = (struct hslot){ a, b, idx + 1 };
	return 0;
}

/* ---- what a scan learns ---- */

struct inode_rec {
	uint64_t ino, size, used, parent, next_cookie, chunk_bytes;
	uint64_t entry_dir;  /* the directory of the (first) entry naming it */
	uint64_t max_cookie; /* directories: the highest cookie in use */
	uint32_t nlink, refs, subdirs;
	uint8_t type;
	uint8_t reach; /* directories: 0 unknown, 1 walking, 2 reachable, 3 not */
	char *name;    /* directories: the name of their entry (for paths) */
};

struct cookie_rec {
	uint64_t dir, cookie, ino;
	char *name;
	bool matched;
};

/* An extent a chunk map refers to (maps are scanned in key order, so these
 * come sorted by ino and chunk, and by id within a chunk). */
struct extent_ref {
	uint64_t ino, chunk, id;
};

struct zfs_check {
	struct lsm_db *db;
	struct extent_ref *refs;
	size_t n_refs, cap_refs, next_ref; /* next_ref: the extents' pass's cursor */
	zfs_check_progress_fn progress;
	void *progress_ctx;
	struct zfs_check_totals t;
	struct inode_rec *inodes;
	size_t n_inodes, cap_inodes;
	struct htab by_ino;
	struct cookie_rec *cookies;
	size_t n_cookies, cap_cookies;
	struct htab by_cookie;
	struct zfs_problem *probs;
	size_t n_probs, cap_probs;
	bool have_super;
	struct zfs_super super;
	uint64_t files, bytes; /* the totals: superblock plus usage records */
	int err; /* an I/O error or out of memory: the scan is not trustworthy */
};

void zfs_check_free(struct zfs_check *c)
{
	if (c)
		free(c->refs);
	if (!c)
		return;
	for (size_t i = 0; i < c->n_inodes; i++)
		free(c->inodes[i].name);
	for (size_t i = 0; i < c->n_cookies; i++)
		free(c->cookies[i].name);
	for (size_t i = 0; i < c->n_probs; i++)
		free(c->probs[i].name);
	free(c->inodes);
	free(c->cookies);
	free(c->probs);
	free(c->by_ino.s);
	free(c->by_cookie.s);
	free(c);
}

const struct zfs_check_totals *zfs_check_totals(const struct zfs_check *c)
{
	return &c->t;
}

size_t zfs_check_count(const struct zfs_check *c)
{
	return c->n_probs;
}

const struct zfs_problem *zfs_check_problem(const struct zfs_check *c, size_t i)
{
	return i < c->n_probs ? &c->probs[i] : NULL;
}

static struct zfs_problem *add_problem(struct zfs_check *s, enum zfs_check_code code)
{
	if (s->n_probs == s->cap_probs) {
		size_t cap = s->cap_probs ? s->cap_probs * 2 : 64;
		struct zfs_problem *p = realloc(s->probs, cap * sizeof(*p));
		if (!p) {
			s->err = ENOMEM;
			return NULL;
		}
		s->probs = p;
		s->cap_probs = cap;
	}
	struct zfs_problem *p = &s->probs[s->n_probs++];
	memset(p, 0, sizeof(*p));
	p->code = code;
	return p;
}

static char *dup_name(const uint8_t *p, size_t n)
{
	char *s = malloc(n + 1);
	if (s) {
		memcpy(s, p, n);
		s[n] = '\0';
	}
	return s;
}

static void hexkey(const uint8_t *k, size_t kl, char *out, size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; i < kl && o + 3 < cap; i++)
		o += (size_t)snprintf(out + o, cap - o, "%02x", k[i]);
	if (kl * 2 + 1 > cap && cap > 4)
		memcpy(out + cap - 4, "...", 4);
}

static void bad_record(struct zfs_check *s, const uint8_t *k, size_t kl, const char *what)
{
	struct zfs_problem *p = add_problem(s, ZFS_CHECK_BAD_RECORD);
	char hex[80];
	if (!p)
		return;
	hexkey(k, kl, hex, sizeof(hex));
	snprintf(p->msg, sizeof(p->msg), "%s (key %s)", what, hex);
}

static struct inode_rec *inode_of(const struct zfs_check *s, uint64_t ino)
{
	long i = h_get(&s->by_ino, ino, 0);
	return i < 0 ? NULL : &s->inodes[i];
}

/* Iterates the records whose key starts with byte `kind`. */
static int for_prefix(struct zfs_check *s, uint8_t kind,
		      void (*fn)(struct zfs_check *, const uint8_t *, size_t, const uint8_t *, size_t))
{
	struct lsm_read_options ro = { 0 };
	struct lsm_db_iter *it;
	lsm_status st;
	ro.prefix = &kind;
	ro.prefix_len = 1;
	/* an iterator that cannot be made (an SST that cannot be opened) is
	 * a pass that cannot finish, never an empty filesystem */
	if ((st = lsm_iterator(s->db, &ro, &it)))
		return s->err = zfs_errno(st);
	for (lsm_db_iter_seek_first(it); lsm_db_iter_valid(it) && !s->err; lsm_db_iter_next(it)) {
		size_t kl, vl;
		const uint8_t *k = lsm_db_iter_key(it, &kl), *v = lsm_db_iter_value(it, &vl);
		fn(s, k, kl, v, vl);
		if (++s->t.records % PROGRESS_EVERY == 0 && s->progress)
			s->progress(s->progress_ctx, s->t.records);
	}
	st = lsm_db_iter_status(it);
	lsm_db_iter_free(it);
	if (st && !s->err)
		s->err = zfs_errno(st);
	return s->err;
}

static void on_inode(struct zfs_check *s, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
{
	struct zfs_inode in;
	if (kl != 9) {
		bad_record(s, k, kl, "an inode key of the wrong length");
		return;
	}
	uint64_t ino = zfs_be64(k + 1);
	if (zfs_inode_decode(v, vl, ino, &in)) {
		bad_record(s, k, kl, "an inode record that does not decode");
		return;
	}
	if (s->n_inodes == s->cap_inodes) {
		size_t cap = s->cap_inodes ? s->cap_inodes * 2 : 1024;
		struct inode_rec *r = realloc(s->inodes, cap * sizeof(*r));
		if (!r) {
			zfs_inode_free(&in);
			s->err = ENOMEM;
			return;
		}
		s->inodes = r;
		s->cap_inodes = cap;
	}
	struct inode_rec *r = &s->inodes[s->n_inodes];
	memset(r, 0, sizeof(*r));
	r->ino = ino;
	r->type = (uint8_t)in.a.type;
	r->nlink = in.a.nlink;
	r->size = in.a.size;
	r->used = in.a.used;
	r->parent = in.parent;
	r->next_cookie = in.next_cookie;
	zfs_inode_free(&in);
	if (h_put(&s->by_ino, ino, 0, (uint32_t)s->n_inodes)) {
		s->err = ENOMEM;
		return;
	}
	s->n_inodes++;
	s->t.inodes++;
	if (ino > s->t.max_ino)
		s->t.max_ino = ino;
	if (r->type == ZFS_DIR)
		s->t.dirs++;
	else
		s->t.others++;
}

static void on_cookie(struct zfs_check *s, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
{
	uint64_t ino;
	const uint8_t *name;
	size_t nl;
	if (kl != 17 || zfs_cookie_decode(v, vl, &ino, &name, &nl)) {
		bad_record(s, k, kl, "a cookie index record that does not decode");
		return;
	}
	if (s->n_cookies == s->cap_cookies) {
		size_t cap = s->cap_cookies ? s->cap_cookies * 2 : 1024;
		struct cookie_rec *r = realloc(s->cookies, cap * sizeof(*r));
		if (!r) {
			s->err = ENOMEM;
			return;
		}
		s->cookies = r;
		s->cap_cookies = cap;
	}
	struct cookie_rec *c = &s->cookies[s->n_cookies];
	c->dir = zfs_be64(k + 1);
	c->cookie = zfs_be64(k + 9);
	c->ino = ino;
	c->matched = false;
	if (!(c->name = dup_name(name, nl)) ||
	    h_put(&s->by_cookie, c->dir, c->cookie, (uint32_t)s->n_cookies)) {
		free(c->name);
		s->err = ENOMEM;
		return;
	}
	s->n_cookies++;
	struct inode_rec *d = inode_of(s, c->dir);
	if (d && d->type == ZFS_DIR && c->cookie > d->max_cookie)
		d->max_cookie = c->cookie;
}

static bool valid_name(const char *n, size_t len)
{
	return len >= 1 && len <= ZFS_NAME_MAX && !memchr(n, '/', len) && !memchr(n, 0, len) &&
	       strcmp(n, ".") && strcmp(n, "..");
}

static void on_entry(struct zfs_check *s, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
{
	struct zfs_dirent d;
	struct zfs_problem *p;
	if (kl < 10 || kl > 9 + ZFS_NAME_MAX) {
		bad_record(s, k, kl, "a directory entry key of the wrong length");
		return;
	}
	if (zfs_dirent_decode(v, vl, &d)) {
		bad_record(s, k, kl, "a directory entry that does not decode");
		return;
	}
	uint64_t dir = zfs_be64(k + 1);
	char *name = dup_name(k + 9, kl - 9);
	if (!name) {
		s->err = ENOMEM;
		return;
	}
	s->t.entries++;
	if (!valid_name((const char *)k + 9, kl - 9) || strlen(name) != kl - 9) {
		if ((p = add_problem(s, ZFS_CHECK_BAD_NAME))) {
			p->dir = dir;
			p->ino = d.ino;
			p->name = name;
		} else {
			free(name);
		}
		return;
	}
	struct inode_rec *dr = inode_of(s, dir);
	if (!dr || dr->type != ZFS_DIR) {
		if ((p = add_problem(s, ZFS_CHECK_ORPHAN_ENTRY))) {
			p->dir = dir;
			p->ino = d.ino;
			p->cookie = d.cookie;
			p->name = name;
			p->have = dr ? 1 : 0;
		} else {
			free(name);
		}
		return;
	}
	/* the cookie index */
	long ci = h_get(&s->by_cookie, dir, d.cookie);
	struct cookie_rec *c = ci >= 0 ? &s->cookies[ci] : NULL;
	if (c && c->ino == d.ino && !strcmp(c->name, name) && !c->matched) {
		c->matched = true;
	} else if ((p = add_problem(s, c ? ZFS_CHECK_DUP_COOKIE : ZFS_CHECK_MISSING_COOKIE))) {
		p->dir = dir;
		p->ino = d.ino;
		p->cookie = d.cookie;
		p->type = d.type;
		if (!(p->name = strdup(name)))
			s->err = ENOMEM;
	}
	if (d.cookie > dr->max_cookie)
		dr->max_cookie = d.cookie;
	/* the inode it names */
	struct inode_rec *t = inode_of(s, d.ino);
	if (!t) {
		if ((p = add_problem(s, ZFS_CHECK_DANGLING))) {
			p->dir = dir;
			p->ino = d.ino;
			p->cookie = d.cookie;
			p->name = name;
		} else {
			free(name);
		}
		return;
	}
	if (t->type != d.type && (p = add_problem(s, ZFS_CHECK_ENTRY_TYPE))) {
		p->dir = dir;
		p->ino = d.ino;
		p->cookie = d.cookie;
		p->type = (enum zfs_type)t->type;
		p->have = d.type;
		if (!(p->name = strdup(name)))
			s->err = ENOMEM;
	}
	t->refs++;
	if (t->refs == 1) {
		t->entry_dir = dir;
		if (t->type == ZFS_DIR) {
			t->name = name;
			name = NULL;
		}
	}
	if (t->type == ZFS_DIR)
		dr->subdirs++;
	free(name);
}

static void on_chunk(struct zfs_check *s, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
{
	struct zfs_problem *p;
	(void)v;
	if (kl != 17) {
		bad_record(s, k, kl, "a chunk key of the wrong length");
		return;
	}
	uint64_t ino = zfs_be64(k + 1), idx = zfs_be64(k + 9);
	s->t.chunks++;
	s->t.chunk_bytes += vl;
	if (vl > ZFS_CHUNK_SIZE || idx > ZFS_MAX_FILE_SIZE / ZFS_CHUNK_SIZE) {
		if ((p = add_problem(s, ZFS_CHECK_BAD_CHUNK))) {
			p->ino = ino;
			p->chunk = idx;
			p->len = vl;
		}
		return;
	}
	struct inode_rec *r = inode_of(s, ino);
	if (!r || r->type != ZFS_REG) {
		if ((p = add_problem(s, ZFS_CHECK_ORPHAN_CHUNK))) {
			p->ino = ino;
			p->chunk = idx;
			p->len = vl;
			p->have = r ? r->type : 0;
		}
		return;
	}
	uint64_t start = idx * ZFS_CHUNK_SIZE;
	/* `used` counts what the file keeps: not the bytes past its end */
	r->chunk_bytes += start + vl <= r->size ? vl : start >= r->size ? 0 : r->size - start;
	if (start + vl > r->size && (p = add_problem(s, ZFS_CHECK_CHUNK_PAST_EOF))) {
		p->ino = ino;
		p->chunk = idx;
		p->len = vl;
		p->want = start >= r->size ? 0 : r->size - start; /* bytes to keep */
		p->have = r->size;
	}
}

static int cmp_ref(const void *a, const void *b)
{
	const struct extent_ref *x = a, *y = b;
	return x->id < y->id ? -1 : x->id > y->id;
}

static void on_map(struct zfs_check *s, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
{
	struct zfs_problem *p;
	struct zfs_map m;
	if (kl != ZFS_KEY_MAP_LEN) {
		bad_record(s, k, kl, "a chunk map key of the wrong length");
		return;
	}
	uint64_t ino = zfs_be64(k + 1), idx = zfs_be64(k + 9);
	if (zfs_map_decode(v, vl, &m) || idx > ZFS_MAX_FILE_SIZE / ZFS_CHUNK_SIZE) {
		if ((p = add_problem(s, ZFS_CHECK_BAD_CHUNK))) {
			p->ino = ino;
			p->chunk = idx;
			p->len = vl;
			p->map = true;
		}
		return;
	}
	uint64_t bytes = zfs_map_bytes(&m), end = zfs_map_end(&m);
	s->t.chunks++;
	s->t.chunk_bytes += bytes;
	size_t first = s->n_refs;
	for (unsigned i = 0; i < m.n; i++) {
		bool seen = false;
		for (unsigned j = 0; j < i && !seen; j++)
			seen = m.e[j].id == m.e[i].id;
		if (seen)
			continue;
		if (s->n_refs == s->cap_refs) {
			size_t cap = s->cap_refs ? 2 * s->cap_refs : 1024;
			struct extent_ref *r = realloc(s->refs, cap * sizeof(*r));
			if (!r) {
				s->err = ENOMEM;
				return;
			}
			s->refs = r;
			s->cap_refs = cap;
		}
		s->refs[s->n_refs++] = (struct extent_ref){ ino, idx, m.e[i].id };
	}
	qsort(s->refs + first, s->n_refs - first, sizeof(*s->refs), cmp_ref);
	struct inode_rec *r = inode_of(s, ino);
	if (!r || r->type != ZFS_REG) {
		if ((p = add_problem(s, ZFS_CHECK_ORPHAN_CHUNK))) {
			p->ino = ino;
			p->chunk = idx;
			p->len = bytes;
			p->have = r ? r->type : 0;
			p->map = true;
		}
		return;
	}
	uint64_t start = idx * ZFS_CHUNK_SIZE, keep = r->size > start ? r->size - start : 0;
	/* `used` counts what the file keeps: not the bytes past its end */
	for (unsigned i = 0; i < m.n; i++)
		if (m.e[i].off < keep)
			r->chunk_bytes += m.e[i].off + m.e[i].len <= keep ? m.e[i].len : keep - m.e[i].off;
	if (start + end > r->size && (p = add_problem(s, ZFS_CHECK_CHUNK_PAST_EOF))) {
		p->ino = ino;
		p->chunk = idx;
		p->len = end;
		p->want = keep; /* bytes to keep */
		p->have = r->size;
		p->map = true;
	}
}

static int ref_cmp(const struct extent_ref *a, uint64_t ino, uint64_t chunk, uint64_t id)
{
	if (a->ino != ino)
		return a->ino < ino ? -1 : 1;
	if (a->chunk != chunk)
		return a->chunk < chunk ? -1 : 1;
	return a->id < id ? -1 : a->id > id;
}

/* A referenced extent the extents' pass went past without finding. */
static void missing_extent(struct zfs_check *s, const struct extent_ref *r)
{
	struct zfs_problem *p = add_problem(s, ZFS_CHECK_MISSING_EXTENT);
	if (p) {
		p->ino = r->ino;
		p->chunk = r->chunk;
		p->extent = r->id;
		p->map = true;
	}
}

/* Extents, in key order, against the references the maps made (same
 * order): a merge. Reading each value checks it against its checksum. */
static void on_extent(struct zfs_check *s, const uint8_t *k, size_t kl, const uint8_t *v,
		      size_t vl)
{
	(void)v;
	if (kl != ZFS_KEY_EXTENT_LEN) {
		bad_record(s, k, kl, "an extent key of the wrong length");
		return;
	}
	uint64_t ino = zfs_be64(k + 1), idx = zfs_be64(k + 9), id = zfs_be64(k + 17);
	while (s->next_ref < s->n_refs && ref_cmp(&s->refs[s->next_ref], ino, idx, id) < 0)
		missing_extent(s, &s->refs[s->next_ref++]);
	if (s->next_ref < s->n_refs && ref_cmp(&s->refs[s->next_ref], ino, idx, id) == 0) {
		s->next_ref++;
		return;
	}
	struct zfs_problem *p = add_problem(s, ZFS_CHECK_ORPHAN_EXTENT);
	if (p) {
		p->ino = ino;
		p->chunk = idx;
		p->extent = id;
		p->len = vl;
		p->map = true;
	}
}

/* Keys of no known kind: skips each known range with one seek. */
static int unknown_records(struct zfs_check *s)
{
	struct lsm_db_iter *it;
	lsm_status st;
	if ((st = lsm_iterator(s->db, NULL, &it)))
		return zfs_errno(st);
	lsm_db_iter_seek_first(it);
	while (lsm_db_iter_valid(it) && !s->err) {
		size_t kl;
		const uint8_t *k = lsm_db_iter_key(it, &kl);
		uint8_t b = kl ? k[0] : 0;
		if (kl && (b == ZFS_KEY_INODE || b == ZFS_KEY_COOKIE || b == ZFS_KEY_DIRENT ||
			   b == ZFS_KEY_CHUNK || b == ZFS_KEY_MAP || b == ZFS_KEY_EXTENT)) {
			uint8_t next = (uint8_t)(b + 1);
			lsm_db_iter_seek(it, &next, 1);
			continue;
		}
		if (!(kl == 1 && b == ZFS_KEY_SUPER) &&
		    !(kl == ZFS_KEY_USAGE_LEN && b == ZFS_KEY_USAGE &&
		      zfs_be64(k + 1) < ZFS_STRIPES))
			bad_record(s, k, kl, "a record of no known kind");
		lsm_db_iter_next(it);
	}
	st = lsm_db_iter_status(it);
	lsm_db_iter_free(it);
	return st ? zfs_errno(st) : 0;
}

/* Can directory d be reached from the root through entries? */
static bool reachable(struct zfs_check *s, struct inode_rec *d)
{
	struct inode_rec *chain[4096];
	size_t n = 0;
	bool yes = false;
	while (d) {
		if (d->ino == ZFS_ROOT_INO || d->reach == 2) {
			yes = true;
			break;
		}
		if (d->reach == 3 || d->reach == 1 || d->refs == 0 || n == 4096)
			break;
		d->reach = 1;
		chain[n++] = d;
		d = inode_of(s, d->entry_dir);
	}
	for (size_t i = 0; i < n; i++)
		chain[i]->reach = yes ? 2 : 3;
	return yes;
}

static void conclude(struct zfs_check *s)
{
	struct zfs_problem *p;
	struct inode_rec *root = inode_of(s, ZFS_ROOT_INO);
	if (!root || root->type != ZFS_DIR) {
		if ((p = add_problem(s, ZFS_CHECK_NO_ROOT)))
			p->ino = ZFS_ROOT_INO;
	}
	for (size_t i = 0; i < s->n_cookies; i++) {
		struct cookie_rec *c = &s->cookies[i];
		if (c->matched)
			continue;
		if ((p = add_problem(s, ZFS_CHECK_ORPHAN_COOKIE))) {
			p->dir = c->dir;
			p->cookie = c->cookie;
			p->ino = c->ino;
			if (!(p->name = strdup(c->name)))
				s->err = ENOMEM;
		}
	}
	for (size_t i = 0; i < s->n_inodes; i++) {
		struct inode_rec *r = &s->inodes[i];
		bool is_root = r->ino == ZFS_ROOT_INO;
		if (!is_root && r->refs == 0) {
			if ((p = add_problem(s, ZFS_CHECK_ORPHAN_INODE))) {
				p->ino = r->ino;
				p->type = (enum zfs_type)r->type;
			}
			continue;
		}
		if (r->type == ZFS_DIR) {
			if (!is_root && r->refs > 1 && (p = add_problem(s, ZFS_CHECK_DIR_LINKS))) {
				p->ino = r->ino;
				p->have = r->refs;
			}
			uint64_t want_parent = is_root ? ZFS_ROOT_INO : r->entry_dir;
			if (r->parent != want_parent && (p = add_problem(s, ZFS_CHECK_WRONG_PARENT))) {
				p->ino = r->ino;
				p->want = want_parent;
				p->have = r->parent;
			}
			if (r->max_cookie >= r->next_cookie && (p = add_problem(s, ZFS_CHECK_COOKIE_AHEAD))) {
				p->ino = r->ino;
				p->want = r->max_cookie + 1;
				p->have = r->next_cookie;
			}
			if (!is_root && !reachable(s, r) && (p = add_problem(s, ZFS_CHECK_UNREACHABLE)))
				p->ino = r->ino;
		}
		uint64_t want = r->type == ZFS_DIR ? 2 + (uint64_t)r->subdirs : r->refs;
		if (r->nlink != want && (p = add_problem(s, ZFS_CHECK_WRONG_NLINK))) {
			p->ino = r->ino;
			p->want = want;
			p->have = r->nlink;
			p->type = (enum zfs_type)r->type;
		}
		if (r->used != r->chunk_bytes && (p = add_problem(s, ZFS_CHECK_WRONG_USED))) {
			p->ino = r->ino;
			p->want = r->chunk_bytes;
			p->have = r->used;
		}
	}
	if (s->have_super &&
	    (s->files != s->n_inodes || s->bytes != s->t.chunk_bytes ||
	     s->super.next_ino <= s->t.max_ino)) {
		if ((p = add_problem(s, ZFS_CHECK_WRONG_TOTALS)))
			p->want = s->n_inodes; /* details come from the scan when described */
	}
}

int zfs_check_scan(struct lsm_db *db, zfs_check_progress_fn fn, void *fn_ctx,
		   struct zfs_check **out)
{
	uint8_t k[1];
	struct lsm_buf v = { 0 };
	struct zfs_check *s = calloc(1, sizeof(*s));
	int err;

	*out = NULL;
	if (!s)
		return ENOMEM;
	s->db = db;
	s->progress = fn;
	s->progress_ctx = fn_ctx;
	lsm_status st = lsm_get(db, k, zfs_key_super(k), &v);
	if (st == LSM_OK && zfs_super_decode(v.data, v.len, &s->super) == 0) {
		s->have_super = true;
		s->err = zfs_read_totals(db, &s->super, &s->files, &s->bytes);
	} else if (st == LSM_OK)
		bad_record(s, k, 1, "the superblock does not decode");
	else if (st == LSM_ENOTFOUND)
		add_problem(s, ZFS_CHECK_NO_SUPER);
	else
		s->err = zfs_errno(st);
	lsm_buf_free(&v);
	if (!s->err && !for_prefix(s, ZFS_KEY_INODE, on_inode) &&
	    !for_prefix(s, ZFS_KEY_COOKIE, on_cookie) && !for_prefix(s, ZFS_KEY_DIRENT, on_entry) &&
	    !for_prefix(s, ZFS_KEY_CHUNK, on_chunk) && !for_prefix(s, ZFS_KEY_MAP, on_map) &&
	    !for_prefix(s, ZFS_KEY_EXTENT, on_extent) && !(s->err = unknown_records(s))) {
		while (s->next_ref < s->n_refs)
			missing_extent(s, &s->refs[s->next_ref++]);
		conclude(s);
	}
	if ((err = s->err)) {
		zfs_check_free(s);
		return err;
	}
	*out = s;
	return 0;
}

/* ---- describing ---- */

/* The path of directory ino as far as entries tell: "<inode N>/..." where
 * they stop short of the root. */
static void dir_path(const struct zfs_check *s, uint64_t ino, char *out, size_t cap)
{
	const char *parts[256];
	size_t n = 0, o;
	uint64_t cur = ino;
	for (;;) {
		struct inode_rec *r = inode_of(s, cur);
		if (!r || cur == ZFS_ROOT_INO || !r->name || !r->refs || n == 256)
			break;
		parts[n++] = r->name;
		cur = r->entry_dir;
	}
	if (cur == ZFS_ROOT_INO)
		o = (size_t)snprintf(out, cap, "%s", n ? "" : "/");
	else
		o = (size_t)snprintf(out, cap, "<inode %" PRIu64 ">", cur);
	for (size_t i = n; i-- > 0 && o < cap;)
		o += (size_t)snprintf(out + o, cap - o, "/%s", parts[i]);
}

static const char *type_name(unsigned t)
{
	static const char *const names[] = { "nothing", "regular file", "directory", "symlink",
					     "character device", "block device", "fifo", "socket" };
	return t < 8 ? names[t] : "unknown type";
}

static void entry_path(const struct zfs_check *s, uint64_t dir, const char *name, char *out,
		       size_t cap)
{
	char d[2048];
	dir_path(s, dir, d, sizeof(d));
	snprintf(out, cap, "%s%s%s", d, strcmp(d, "/") ? "/" : "", name);
}

void zfs_check_describe(const struct zfs_check *s, size_t i, char *buf, size_t cap)
{
	char path[4096];
	const struct zfs_problem *p = &s->probs[i];
	const char *c = zfs_check_code_name(p->code);
	switch (p->code) {
	case ZFS_CHECK_BAD_RECORD:
	case ZFS_CHECK_UNKNOWN_RECORD:
		snprintf(buf, cap, "%s: %s", c, p->msg);
		break;
	case ZFS_CHECK_NO_SUPER:
		snprintf(buf, cap, "%s: the filesystem has no superblock", c);
		break;
	case ZFS_CHECK_NO_ROOT:
		snprintf(buf, cap, "%s: the root directory (inode 1) is missing or not a directory", c);
		break;
	case ZFS_CHECK_BAD_NAME:
		snprintf(buf, cap, "%s: directory inode %" PRIu64 " has an entry with an invalid name "
			 "(inode %" PRIu64 ")", c, p->dir, p->ino);
		break;
	case ZFS_CHECK_DANGLING:
		entry_path(s, p->dir, p->name, path, sizeof(path));
		snprintf(buf, cap, "%s: %s names inode %" PRIu64 ", which does not exist", c, path,
			 p->ino);
		break;
	case ZFS_CHECK_ORPHAN_ENTRY:
		snprintf(buf, cap, "%s: entry \"%s\" (inode %" PRIu64 ") is in inode %" PRIu64
			 ", which %s", c, p->name, p->ino, p->dir,
			 p->have ? "is not a directory" : "does not exist");
		break;
	case ZFS_CHECK_ENTRY_TYPE:
		entry_path(s, p->dir, p->name, path, sizeof(path));
		snprintf(buf, cap, "%s: %s says %s, but inode %" PRIu64 " is a %s", c, path,
			 type_name((unsigned)p->have), p->ino, type_name(p->type));
		break;
	case ZFS_CHECK_MISSING_COOKIE:
		entry_path(s, p->dir, p->name, path, sizeof(path));
		snprintf(buf, cap, "%s: %s has cookie %" PRIu64 ", but no cookie index record "
			 "(readdir misses it)", c, path, p->cookie);
		break;
	case ZFS_CHECK_DUP_COOKIE:
		entry_path(s, p->dir, p->name, path, sizeof(path));
		snprintf(buf, cap, "%s: %s has cookie %" PRIu64 ", whose index record names another "
			 "entry", c, path, p->cookie);
		break;
	case ZFS_CHECK_ORPHAN_COOKIE:
		dir_path(s, p->dir, path, sizeof(path));
		snprintf(buf, cap, "%s: cookie %" PRIu64 " of %s (inode %" PRIu64 ") indexes \"%s\" -> "
			 "inode %" PRIu64 ", which is no such entry", c, p->cookie, path, p->dir,
			 p->name, p->ino);
		break;
	case ZFS_CHECK_COOKIE_AHEAD:
		dir_path(s, p->ino, path, sizeof(path));
		snprintf(buf, cap, "%s: %s (inode %" PRIu64 ") would hand out cookie %" PRIu64
			 " again (uses up to %" PRIu64 ")", c, path, p->ino, p->have, p->want - 1);
		break;
	case ZFS_CHECK_WRONG_NLINK:
		snprintf(buf, cap, "%s: inode %" PRIu64 " (%s) has nlink %" PRIu64 ", but %s %" PRIu64,
			 c, p->ino, type_name(p->type), p->have,
			 p->type == ZFS_DIR ? "2 + its subdirectories is" : "the entries naming it are",
			 p->want);
		break;
	case ZFS_CHECK_WRONG_PARENT:
		dir_path(s, p->ino, path, sizeof(path));
		snprintf(buf, cap, "%s: the \"..\" of %s (inode %" PRIu64 ") is inode %" PRIu64
			 ", not %" PRIu64, c, path, p->ino, p->have, p->want);
		break;
	case ZFS_CHECK_DIR_LINKS:
		snprintf(buf, cap, "%s: directory inode %" PRIu64 " is named by %" PRIu64 " entries "
			 "(one is allowed)", c, p->ino, p->have);
		break;
	case ZFS_CHECK_UNREACHABLE:
		snprintf(buf, cap, "%s: directory inode %" PRIu64 " cannot be reached from the root "
			 "(its entries form a loop)", c, p->ino);
		break;
	case ZFS_CHECK_ORPHAN_INODE:
		snprintf(buf, cap, "%s: inode %" PRIu64 " (%s) is named by no directory entry", c,
			 p->ino, type_name(p->type));
		break;
	case ZFS_CHECK_CHUNK_PAST_EOF:
		snprintf(buf, cap, "%s: chunk %" PRIu64 " of inode %" PRIu64 " (%" PRIu64 " bytes) ends "
			 "past the end of the file (size %" PRIu64 ")", c, p->chunk, p->ino, p->len,
			 p->have);
		break;
	case ZFS_CHECK_ORPHAN_CHUNK:
		snprintf(buf, cap, "%s: chunk %" PRIu64 " (%" PRIu64 " bytes) belongs to inode %" PRIu64
			 ", which %s", c, p->chunk, p->len, p->ino,
			 p->have ? "is not a regular file" : "does not exist");
		break;
	case ZFS_CHECK_BAD_CHUNK:
		if (p->map)
			snprintf(buf, cap, "%s: the map of chunk %" PRIu64 " of inode %" PRIu64 " (%" PRIu64
				 " bytes) does not decode or lies past 1 PiB", c, p->chunk, p->ino, p->len);
		else
			snprintf(buf, cap, "%s: chunk %" PRIu64 " of inode %" PRIu64 " holds %" PRIu64
				 " bytes (at most 65536) or lies past 1 PiB", c, p->chunk, p->ino, p->len);
		break;
	case ZFS_CHECK_ORPHAN_EXTENT:
		snprintf(buf, cap, "%s: extent %" PRIu64 " of chunk %" PRIu64 " of inode %" PRIu64
			 " (%" PRIu64 " bytes) is in no chunk map", c, p->extent, p->chunk, p->ino,
			 p->len);
		break;
	case ZFS_CHECK_MISSING_EXTENT:
		snprintf(buf, cap, "%s: the map of chunk %" PRIu64 " of inode %" PRIu64 " uses extent %"
			 PRIu64 ", which does not exist (its bytes are lost)", c, p->chunk, p->ino,
			 p->extent);
		break;
	case ZFS_CHECK_WRONG_USED:
		snprintf(buf, cap, "%s: inode %" PRIu64 " says it uses %" PRIu64 " bytes; its chunks "
			 "hold %" PRIu64 " (up to its end)", c, p->ino, p->have, p->want);
		break;
	case ZFS_CHECK_WRONG_TOTALS:
		snprintf(buf, cap, "%s: the totals say %" PRIu64 " inodes, %" PRIu64 " data bytes, "
			 "next inode %" PRIu64 "; found %zu inodes, %" PRIu64 " data bytes, highest "
			 "inode %" PRIu64, c, s->files, s->bytes, s->super.next_ino,
			 s->n_inodes, s->t.chunk_bytes, s->t.max_ino);
		break;
	default:
		snprintf(buf, cap, "%s", c);
	}
}

/* ---- repairs: each change one durable transaction of the core ---- */

static void touch_dir(struct zfs_inode *in)
{
	zfs_now(&in->a.ctime);
	in->a.mtime = in->a.ctime;
	in->a.change++;
}

/* The directory /lost+found, created (and told to fn) if it is missing. A
 * superblock whose next inode number is already taken (wrong-totals) is
 * moved past the highest inode first, so the new directory takes no live
 * inode's number. */
static int lost_found(struct zfs *fs, const struct zfs_check *c, zfs_repair_fn fn, void *ctx,
		      uint64_t *ino)
{
	struct zfs_attr at;
	int e = zfs_lookup(fs, ZFS_ROOT_INO, LOST_FOUND, &at);
	if (e == ENOENT) {
		struct zfs_create_args ca = { .type = ZFS_DIR, .mode = 0700 };
		zfs_ino_floor(fs, c->t.max_ino); /* reserved durably by the create */
		if ((e = zfs_create(fs, ZFS_ROOT_INO, LOST_FOUND, &ca, true, &at)) == 0)
			fn(ctx, "created /" LOST_FOUND);
	}
	if (!e && at.type != ZFS_DIR)
		e = ENOTDIR;
	*ino = at.ino;
	return e;
}

/* Deletes an entry and, if it indexes this very entry, its cookie record. */
static void tx_del_entry_safely(struct zfs_tx *tx, const struct zfs_check *s,
				const struct zfs_problem *p)
{
	uint8_t k[9 + ZFS_NAME_MAX];
	zfs_tx_del_raw(tx, k, zfs_key_dirent(k, p->dir, p->name, strlen(p->name)));
	long ci = h_get(&s->by_cookie, p->dir, p->cookie);
	if (ci >= 0 && s->cookies[ci].ino == p->ino && !strcmp(s->cookies[ci].name, p->name))
		zfs_tx_del_raw(tx, k, zfs_key_cookie(k, p->dir, p->cookie));
}

/* The change for a problem of a chunk map, into tx: an orphan map goes
 * with its extents; one past the end of its file is cut there; the ranges of
 * a missing extent are dropped from its map (they read as zeros). */
static int repair_map(struct zfs_tx *tx, const struct zfs_problem *p, char *what, size_t cap)
{
	uint8_t k[ZFS_KEY_EXTENT_LEN];
	struct lsm_buf v = { 0 };
	struct zfs_map old, now = { 0 };
	int e = zfs_errno(lsm_get(tx->fs->db, k, zfs_key_map(k, p->ino, p->chunk), &v));
	if (e == ENOENT) { /* gone since the scan: nothing to do */
		lsm_buf_free(&v);
		snprintf(what, cap, "found chunk %" PRIu64 " of inode %" PRIu64 " gone", p->chunk,
			 p->ino);
		return 0;
	}
	if (!e && zfs_map_decode(v.data, v.len, &old))
		e = EIO;
	lsm_buf_free(&v);
	if (e)
		return e;
	now.next_id = old.next_id;
	if (p->code == ZFS_CHECK_MISSING_EXTENT) {
		now = old;
		for (unsigned i = 0; i < old.n; i++)
			if (old.e[i].id == p->extent && !zfs_map_cut(&now, old.e[i].off,
								     old.e[i].off + old.e[i].len))
				return EIO;
		snprintf(what, cap, "dropped missing extent %" PRIu64 " from chunk %" PRIu64
			 " of inode %" PRIu64, p->extent, p->chunk, p->ino);
	} else if (p->code == ZFS_CHECK_CHUNK_PAST_EOF && p->want > 0) {
		now = old;
		if (!zfs_map_cut(&now, (uint32_t)p->want, ZFS_CHUNK_SIZE))
			return EIO;
		snprintf(what, cap, "cut chunk %" PRIu64 " of inode %" PRIu64 " to %" PRIu64 " bytes",
			 p->chunk, p->ino, p->want);
	} else {
		snprintf(what, cap, "deleted chunk %" PRIu64 " of inode %" PRIu64, p->chunk, p->ino);
	}
	for (unsigned i = 0; i < old.n; i++)
		if (!zfs_map_uses(&now, old.e[i].id))
			zfs_tx_del_raw(tx, k, zfs_key_extent(k, p->ino, p->chunk, old.e[i].id));
	if (now.n == 0) {
		zfs_tx_del_raw(tx, k, zfs_key_map(k, p->ino, p->chunk));
		return 0;
	}
	if ((e = zfs_map_encode(&now, &tx->scratch)))
		return e;
	zfs_tx_put_raw(tx, k, zfs_key_map(k, p->ino, p->chunk), tx->scratch.data, tx->scratch.len);
	return 0;
}

/* The change for p, into tx (every stripe held); `what` describes it. */
static int repair_tx(struct zfs_tx *tx, const struct zfs_check *s, const struct zfs_problem *p,
		     uint64_t lf, char *what, size_t cap)
{
	struct zfs *fs = tx->fs;
	struct zfs_inode in;
	struct lsm_buf v = { 0 };
	uint8_t k[9 + ZFS_NAME_MAX];
	int e = 0;

	switch (p->code) {
	case ZFS_CHECK_DANGLING:
	case ZFS_CHECK_ORPHAN_ENTRY:
		tx_del_entry_safely(tx, s, p);
		snprintf(what, cap, "removed the entry \"%s\" from inode %" PRIu64, p->name, p->dir);
		break;
	case ZFS_CHECK_ENTRY_TYPE: {
		struct zfs_dirent d = { p->ino, p->cookie, p->type };
		if (!(e = zfs_dirent_encode(&d, &v)))
			zfs_tx_put_raw(tx, k, zfs_key_dirent(k, p->dir, p->name, strlen(p->name)), v.data,
				       v.len);
		snprintf(what, cap, "set the type of entry \"%s\" to %s", p->name, type_name(p->type));
		break;
	}
	case ZFS_CHECK_MISSING_COOKIE:
	case ZFS_CHECK_DUP_COOKIE:
		if (h_get(&s->by_cookie, p->dir, p->cookie) < 0) { /* free: index the entry there */
			if (!(e = zfs_cookie_encode(p->ino, p->name, strlen(p->name), &v)))
				zfs_tx_put_raw(tx, k, zfs_key_cookie(k, p->dir, p->cookie), v.data, v.len);
			snprintf(what, cap, "indexed \"%s\" under its cookie %" PRIu64, p->name, p->cookie);
		} else if (!(e = zfs_load_inode(fs, p->dir, &in))) { /* taken: a fresh cookie */
			uint64_t fresh = in.next_cookie;
			tx_add_entry(tx, &in, p->name, p->ino, p->type); /* replaces the entry */
			touch_dir(&in);
			zfs_tx_put_inode(tx, &in);
			zfs_inode_free(&in);
			snprintf(what, cap, "gave \"%s\" the new cookie %" PRIu64, p->name, fresh);
		}
		break;
	case ZFS_CHECK_ORPHAN_COOKIE:
		zfs_tx_del_raw(tx, k, zfs_key_cookie(k, p->dir, p->cookie));
		snprintf(what, cap, "removed cookie record %" PRIu64 " of inode %" PRIu64, p->cookie,
			 p->dir);
		break;
	case ZFS_CHECK_COOKIE_AHEAD:
	case ZFS_CHECK_WRONG_NLINK:
	case ZFS_CHECK_WRONG_PARENT:
	case ZFS_CHECK_WRONG_USED:
		if ((e = zfs_load_inode(fs, p->ino, &in)))
			break;
		if (p->code == ZFS_CHECK_COOKIE_AHEAD) {
			if (in.next_cookie < p->want)
				in.next_cookie = p->want;
			snprintf(what, cap, "set the next cookie of inode %" PRIu64 " to %" PRIu64, p->ino,
				 in.next_cookie);
		} else if (p->code == ZFS_CHECK_WRONG_NLINK) {
			in.a.nlink = (uint32_t)p->want;
			snprintf(what, cap, "set the nlink of inode %" PRIu64 " to %" PRIu64, p->ino,
				 p->want);
		} else if (p->code == ZFS_CHECK_WRONG_PARENT) {
			in.parent = p->want;
			snprintf(what, cap, "set the \"..\" of inode %" PRIu64 " to inode %" PRIu64, p->ino,
				 p->want);
		} else {
			in.a.used = p->want;
			snprintf(what, cap, "set the bytes used by inode %" PRIu64 " to %" PRIu64, p->ino,
				 p->want);
		}
		in.a.change++;
		zfs_tx_put_inode(tx, &in);
		zfs_inode_free(&in);
		break;
	case ZFS_CHECK_ORPHAN_INODE: {
		char name[32];
		struct zfs_inode dir, child;
		snprintf(name, sizeof(name), "#%" PRIu64, p->ino);
		if ((e = zfs_load_inode(fs, lf, &dir)))
			break;
		if (!(e = zfs_load_inode(fs, p->ino, &child))) {
			if (child.a.type == ZFS_DIR) {
				child.parent = lf;
				dir.a.nlink++;
				child.a.change++;
				zfs_tx_put_inode(tx, &child);
			}
			tx_add_entry(tx, &dir, name, p->ino, child.a.type);
			touch_dir(&dir);
			zfs_tx_put_inode(tx, &dir);
			zfs_inode_free(&child);
		}
		zfs_inode_free(&dir);
		snprintf(what, cap, "moved inode %" PRIu64 " to /%s/%s", p->ino, LOST_FOUND, name);
		break;
	}
	case ZFS_CHECK_CHUNK_PAST_EOF:
	case ZFS_CHECK_ORPHAN_CHUNK:
	case ZFS_CHECK_MISSING_EXTENT:
		if (p->map) {
			e = repair_map(tx, p, what, cap);
			break;
		}
		zfs_key_chunk(k, p->ino, p->chunk);
		if (p->code == ZFS_CHECK_CHUNK_PAST_EOF && p->want > 0) {
			lsm_status st = lsm_get(fs->db, k, 17, &v);
			if (st)
				e = zfs_errno(st);
			else if (v.len > p->want)
				zfs_tx_put_raw(tx, k, 17, v.data, (size_t)p->want);
			snprintf(what, cap, "trimmed chunk %" PRIu64 " of inode %" PRIu64 " to %" PRIu64
				 " bytes", p->chunk, p->ino, p->want);
		} else {
			zfs_tx_del_raw(tx, k, 17);
			snprintf(what, cap, "deleted chunk %" PRIu64 " of inode %" PRIu64, p->chunk, p->ino);
		}
		break;
	case ZFS_CHECK_ORPHAN_EXTENT:
		zfs_tx_del_raw(tx, k, zfs_key_extent(k, p->ino, p->chunk, p->extent));
		snprintf(what, cap, "deleted extent %" PRIu64 " of chunk %" PRIu64 " of inode %" PRIu64,
			 p->extent, p->chunk, p->ino);
		break;
	case ZFS_CHECK_WRONG_TOTALS: {
		/* the totals become the superblock's alone: every usage record
		 * goes (zfs_check_repair zeroes the counters once applied) */
		pthread_mutex_lock(&fs->alloc_lock);
		struct zfs_super sb = { .legacy_chunks = fs->legacy_chunks, .fs_id = fs->fs_id,
					.next_ino = fs->ino_limit, .files = s->n_inodes,
					.bytes_used = s->t.chunk_bytes };
		if (sb.next_ino <= s->t.max_ino)
			sb.next_ino = s->t.max_ino + 1;
		pthread_mutex_unlock(&fs->alloc_lock);
		if ((e = zfs_super_encode(&sb, &v)))
			break;
		zfs_tx_put_raw(tx, k, zfs_key_super(k), v.data, v.len);
		for (unsigned si = 0; si < ZFS_STRIPES; si++)
			zfs_tx_del_raw(tx, k, zfs_key_usage(k, si));
		snprintf(what, cap, "set the superblock's totals to %" PRIu64 " inodes, %" PRIu64
			 " data bytes, next inode %" PRIu64, sb.files, sb.bytes_used, sb.next_ino);
		break;
	}
	default:
		e = ENOTSUP;
	}
	lsm_buf_free(&v);
	return e;
}

int zfs_check_repair(struct zfs *fs, const struct zfs_check *c, size_t i, zfs_repair_fn fn,
		     void *fn_ctx)
{
	const struct zfs_problem *p = &c->probs[i];
	struct zfs_tx tx;
	char what[512] = "";
	uint64_t lf = 0;
	int e;

	switch (p->code) {
	case ZFS_CHECK_DANGLING: case ZFS_CHECK_ORPHAN_ENTRY: case ZFS_CHECK_ENTRY_TYPE:
	case ZFS_CHECK_MISSING_COOKIE: case ZFS_CHECK_DUP_COOKIE: case ZFS_CHECK_ORPHAN_COOKIE:
	case ZFS_CHECK_COOKIE_AHEAD: case ZFS_CHECK_WRONG_NLINK: case ZFS_CHECK_WRONG_PARENT:
	case ZFS_CHECK_ORPHAN_INODE: case ZFS_CHECK_CHUNK_PAST_EOF: case ZFS_CHECK_ORPHAN_CHUNK:
	case ZFS_CHECK_WRONG_USED: case ZFS_CHECK_ORPHAN_EXTENT: case ZFS_CHECK_MISSING_EXTENT:
		break;
	case ZFS_CHECK_WRONG_TOTALS:
		for (size_t j = 0; j < c->n_probs; j++)
			if (c->probs[j].code != ZFS_CHECK_WRONG_TOTALS)
				return EBUSY; /* the other repairs change the totals */
		break;
	default:
		return ENOTSUP;
	}
	if (p->code == ZFS_CHECK_ORPHAN_INODE && (e = lost_found(fs, c, fn, fn_ctx, &lf)))
		return e;
	/* repairs are rare and may touch anything: every stripe */
	struct zfs_locks none = { 0 };
	zfs_lock_all(fs);
	if (!(e = zfs_tx_begin(fs, &tx, &none))) {
		if ((e = repair_tx(&tx, c, p, lf, what, sizeof(what))))
			zfs_tx_abort(&tx);
		else
			e = zfs_tx_commit(&tx, false);
	}
	if (!e && p->code == ZFS_CHECK_WRONG_TOTALS) {
		pthread_mutex_lock(&fs->alloc_lock);
		fs->base_files = c->n_inodes;
		fs->base_bytes = c->t.chunk_bytes;
		if (fs->next_ino <= c->t.max_ino)
			fs->next_ino = fs->ino_limit = c->t.max_ino + 1;
		pthread_mutex_unlock(&fs->alloc_lock);
		for (unsigned si = 0; si < ZFS_STRIPES; si++) {
			atomic_store(&fs->usage[si].files, 0);
			atomic_store(&fs->usage[si].bytes, 0);
		}
	}
	zfs_unlock_all(fs);
	if (!e)
		e = zfs_commit(fs);
	if (!e)
		fn(fn_ctx, what);
	return e;
}
