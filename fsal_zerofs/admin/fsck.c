/*
 * fsal_zerofs/admin/fsck.c - zerofs fsck [--repair]: reads every record of
 * the filesystem through the LSM iterator, decodes it with fs_records.c and
 * checks the invariants of fs.c (docs/zerofs.1 lists them with their codes):
 *
 *   every directory entry lives in a directory and names a live inode of
 *   the type it records; every entry has its cookie index record and no
 *   cookie is used twice or at or above its directory's next cookie; nlink
 *   is the number of entries naming a file (directories: 2 + subdirectories);
 *   a directory's ".." is the directory holding its one entry; every inode
 *   but the root has an entry; no chunk lies past the end of its file, or
 *   belongs to no regular file; an inode's `used` is the sum of its chunks;
 *   the superblock's totals are the recomputed ones.
 *
 * Passes, each one prefix scan: inodes ('i') into a table, cookies ('c'),
 * entries ('d', checked against both), chunks ('k'), then a scan for keys of
 * no known kind, then per-inode conclusions. Problems are collected first and
 * printed with paths at the end of a pass.
 *
 * --repair (a writer open) fixes only what is safe, each fix one durable
 * atomic batch, and scans again, until clean or nothing more can be fixed
 * safely (at most MAX_ROUNDS): dangling and orphan entries and orphan cookie
 * records are removed, missing or duplicate cookies get a fresh one, entry
 * types, nlink, "..", `used`, next cookies and the superblock's totals are
 * set to the recomputed values, chunks past the end of file are deleted or
 * trimmed, chunks of no file deleted, and inodes no entry names are moved to
 * /lost+found as "#<inode>". Totals are fixed only in a round that fixed
 * nothing else, since the other fixes change them.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admin.h"
#include "fs_records.h"

#define MAX_ROUNDS 6
#define LOST_FOUND "lost+found"

enum pcode {
	P_BAD_RECORD, P_NO_SUPER, P_NO_ROOT, P_UNKNOWN_RECORD, P_BAD_NAME,
	P_DANGLING, P_ORPHAN_ENTRY, P_ENTRY_TYPE, P_MISSING_COOKIE, P_DUP_COOKIE, P_ORPHAN_COOKIE,
	P_COOKIE_AHEAD, P_WRONG_NLINK, P_WRONG_PARENT, P_DIR_LINKS, P_UNREACHABLE, P_ORPHAN_INODE,
	P_CHUNK_PAST_EOF, P_ORPHAN_CHUNK, P_BAD_CHUNK, P_WRONG_USED, P_WRONG_TOTALS,
};

static const char *const pcode_name[] = {
	"bad-record", "no-superblock", "no-root", "unknown-record", "bad-name",
	"dangling-entry", "orphan-entry", "entry-type", "missing-cookie", "duplicate-cookie",
	"orphan-cookie", "cookie-ahead", "wrong-nlink", "wrong-parent", "directory-links",
	"unreachable-directory", "orphan-inode", "chunk-past-eof", "orphan-chunk", "bad-chunk",
	"wrong-used", "wrong-totals",
};

struct problem {
	enum pcode code;
	uint64_t dir, ino, cookie, chunk, want, have, len;
	enum zfs_type type;
	char *name;   /* entries, cookie records */
	char msg[160]; /* bad records: what is wrong */
};

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

/* ---- what a pass learns ---- */

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

struct scan {
	struct admin_fs *a;
	struct progress prog;
	uint64_t records;
	struct inode_rec *inodes;
	size_t n_inodes, cap_inodes;
	struct htab by_ino;
	struct cookie_rec *cookies;
	size_t n_cookies, cap_cookies;
	struct htab by_cookie;
	struct problem *probs;
	size_t n_probs, cap_probs;
	bool have_super;
	struct zfs_super super;
	uint64_t max_ino, dirs, files, entries, chunks, chunk_bytes;
	int err; /* an I/O error or out of memory: the pass is not trustworthy */
};

static void scan_free(struct scan *s)
{
	for (size_t i = 0; i < s->n_inodes; i++)
		free(s->inodes[i].name);
	for (size_t i = 0; i < s->n_cookies; i++)
		free(s->cookies[i].name);
	for (size_t i = 0; i < s->n_probs; i++)
		free(s->probs[i].name);
	free(s->inodes);
	free(s->cookies);
	free(s->probs);
	free(s->by_ino.s);
	free(s->by_cookie.s);
}

static struct problem *add_problem(struct scan *s, enum pcode code)
{
	if (s->n_probs == s->cap_probs) {
		size_t cap = s->cap_probs ? s->cap_probs * 2 : 64;
		struct problem *p = realloc(s->probs, cap * sizeof(*p));
		if (!p) {
			s->err = ENOMEM;
			return NULL;
		}
		s->probs = p;
		s->cap_probs = cap;
	}
	struct problem *p = &s->probs[s->n_probs++];
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

static void bad_record(struct scan *s, const uint8_t *k, size_t kl, const char *what)
{
	struct problem *p = add_problem(s, P_BAD_RECORD);
	char hex[80];
	if (!p)
		return;
	hexkey(k, kl, hex, sizeof(hex));
	snprintf(p->msg, sizeof(p->msg), "%s (key %s)", what, hex);
}

static struct inode_rec *inode_of(struct scan *s, uint64_t ino)
{
	long i = h_get(&s->by_ino, ino, 0);
	return i < 0 ? NULL : &s->inodes[i];
}

/* Iterates the records whose key starts with byte `kind`. */
static int for_prefix(struct scan *s, uint8_t kind,
		      void (*fn)(struct scan *, const uint8_t *, size_t, const uint8_t *, size_t))
{
	struct lsm_read_options ro = { 0 };
	struct lsm_db_iter *it;
	lsm_status st;
	ro.prefix = &kind;
	ro.prefix_len = 1;
	if ((st = lsm_iterator(s->a->db, &ro, &it)))
		return zfs_errno(st);
	for (lsm_db_iter_seek_first(it); lsm_db_iter_valid(it) && !s->err; lsm_db_iter_next(it)) {
		size_t kl, vl;
		const uint8_t *k = lsm_db_iter_key(it, &kl), *v = lsm_db_iter_value(it, &vl);
		fn(s, k, kl, v, vl);
		s->records++;
		progress_tick(&s->prog, "%llu records checked", (unsigned long long)s->records);
	}
	st = lsm_db_iter_status(it);
	lsm_db_iter_free(it);
	if (st && !s->err) {
		admin_err("reading the records failed: %s (%s)", lsm_strstatus(st), lsm_last_error());
		s->err = zfs_errno(st);
	}
	return s->err;
}

static void on_inode(struct scan *s, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
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
	if (ino > s->max_ino)
		s->max_ino = ino;
	if (r->type == ZFS_DIR)
		s->dirs++;
	else
		s->files++;
}

static void on_cookie(struct scan *s, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
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
	if (!(c->name = dup_name(name, nl)) || h_put(&s->by_cookie, c->dir, c->cookie, (uint32_t)s->n_cookies)) {
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

static void on_entry(struct scan *s, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
{
	struct zfs_dirent d;
	struct problem *p;
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
	s->entries++;
	if (!valid_name((const char *)k + 9, kl - 9) || strlen(name) != kl - 9) {
		if ((p = add_problem(s, P_BAD_NAME))) {
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
		if ((p = add_problem(s, P_ORPHAN_ENTRY))) {
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
	} else if ((p = add_problem(s, c ? P_DUP_COOKIE : P_MISSING_COOKIE))) {
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
		if ((p = add_problem(s, P_DANGLING))) {
			p->dir = dir;
			p->ino = d.ino;
			p->cookie = d.cookie;
			p->name = name;
		} else {
			free(name);
		}
		return;
	}
	if (t->type != d.type && (p = add_problem(s, P_ENTRY_TYPE))) {
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

static void on_chunk(struct scan *s, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
{
	struct problem *p;
	(void)v;
	if (kl != 17) {
		bad_record(s, k, kl, "a chunk key of the wrong length");
		return;
	}
	uint64_t ino = zfs_be64(k + 1), idx = zfs_be64(k + 9);
	s->chunks++;
	s->chunk_bytes += vl;
	if (vl > ZFS_CHUNK_SIZE || idx > ZFS_MAX_FILE_SIZE / ZFS_CHUNK_SIZE) {
		if ((p = add_problem(s, P_BAD_CHUNK))) {
			p->ino = ino;
			p->chunk = idx;
			p->len = vl;
		}
		return;
	}
	struct inode_rec *r = inode_of(s, ino);
	if (!r || r->type != ZFS_REG) {
		if ((p = add_problem(s, P_ORPHAN_CHUNK))) {
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
	if (start + vl > r->size && (p = add_problem(s, P_CHUNK_PAST_EOF))) {
		p->ino = ino;
		p->chunk = idx;
		p->len = vl;
		p->want = start >= r->size ? 0 : r->size - start; /* bytes to keep */
		p->have = r->size;
	}
}

/* Keys of no known kind: skips each known range with one seek. */
static int unknown_records(struct scan *s)
{
	struct lsm_db_iter *it;
	lsm_status st;
	if ((st = lsm_iterator(s->a->db, NULL, &it)))
		return zfs_errno(st);
	lsm_db_iter_seek_first(it);
	while (lsm_db_iter_valid(it) && !s->err) {
		size_t kl;
		const uint8_t *k = lsm_db_iter_key(it, &kl);
		uint8_t b = kl ? k[0] : 0;
		if (kl && (b == ZFS_KEY_INODE || b == ZFS_KEY_COOKIE || b == ZFS_KEY_DIRENT ||
			   b == ZFS_KEY_CHUNK)) {
			uint8_t next = (uint8_t)(b + 1);
			lsm_db_iter_seek(it, &next, 1);
			continue;
		}
		if (!(kl == 1 && b == ZFS_KEY_SUPER))
			bad_record(s, k, kl, "a record of no known kind");
		lsm_db_iter_next(it);
	}
	st = lsm_db_iter_status(it);
	lsm_db_iter_free(it);
	return st ? zfs_errno(st) : 0;
}

/* Can directory d be reached from the root through entries? */
static bool reachable(struct scan *s, struct inode_rec *d)
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

static void conclude(struct scan *s)
{
	struct problem *p;
	struct inode_rec *root = inode_of(s, ZFS_ROOT_INO);
	if (!root || root->type != ZFS_DIR) {
		if ((p = add_problem(s, P_NO_ROOT)))
			p->ino = ZFS_ROOT_INO;
	}
	for (size_t i = 0; i < s->n_cookies; i++) {
		struct cookie_rec *c = &s->cookies[i];
		if (c->matched)
			continue;
		if ((p = add_problem(s, P_ORPHAN_COOKIE))) {
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
			if ((p = add_problem(s, P_ORPHAN_INODE))) {
				p->ino = r->ino;
				p->type = (enum zfs_type)r->type;
			}
			continue;
		}
		if (r->type == ZFS_DIR) {
			if (!is_root && r->refs > 1 && (p = add_problem(s, P_DIR_LINKS))) {
				p->ino = r->ino;
				p->have = r->refs;
			}
			uint64_t want_parent = is_root ? ZFS_ROOT_INO : r->entry_dir;
			if (r->parent != want_parent && (p = add_problem(s, P_WRONG_PARENT))) {
				p->ino = r->ino;
				p->want = want_parent;
				p->have = r->parent;
			}
			if (r->max_cookie >= r->next_cookie && (p = add_problem(s, P_COOKIE_AHEAD))) {
				p->ino = r->ino;
				p->want = r->max_cookie + 1;
				p->have = r->next_cookie;
			}
			if (!is_root && !reachable(s, r) && (p = add_problem(s, P_UNREACHABLE)))
				p->ino = r->ino;
		}
		uint64_t want = r->type == ZFS_DIR ? 2 + (uint64_t)r->subdirs : r->refs;
		if (r->nlink != want && (p = add_problem(s, P_WRONG_NLINK))) {
			p->ino = r->ino;
			p->want = want;
			p->have = r->nlink;
			p->type = (enum zfs_type)r->type;
		}
		if (r->used != r->chunk_bytes && (p = add_problem(s, P_WRONG_USED))) {
			p->ino = r->ino;
			p->want = r->chunk_bytes;
			p->have = r->used;
		}
	}
	if (s->have_super &&
	    (s->super.files != s->n_inodes || s->super.bytes_used != s->chunk_bytes ||
	     s->super.next_ino <= s->max_ino)) {
		if ((p = add_problem(s, P_WRONG_TOTALS)))
			p->want = s->n_inodes; /* details come from s when printed */
	}
}

/* One full check into s (fresh). 0, or an errno if it could not finish. */
static int check(struct admin_fs *a, struct scan *s)
{
	uint8_t k[1];
	struct lsm_buf v = { 0 };
	memset(s, 0, sizeof(*s));
	s->a = a;
	progress_init(&s->prog, "fsck");
	lsm_status st = lsm_get(a->db, k, zfs_key_super(k), &v);
	if (st == LSM_OK && zfs_super_decode(v.data, v.len, &s->super) == 0)
		s->have_super = true;
	else if (st == LSM_OK)
		bad_record(s, k, 1, "the superblock does not decode");
	else if (st == LSM_ENOTFOUND)
		add_problem(s, P_NO_SUPER);
	else
		s->err = zfs_errno(st);
	lsm_buf_free(&v);
	if (!s->err && !for_prefix(s, ZFS_KEY_INODE, on_inode) &&
	    !for_prefix(s, ZFS_KEY_COOKIE, on_cookie) && !for_prefix(s, ZFS_KEY_DIRENT, on_entry) &&
	    !for_prefix(s, ZFS_KEY_CHUNK, on_chunk) && !(s->err = unknown_records(s)))
		conclude(s);
	progress_end(&s->prog);
	return s->err;
}

/* ---- printing ---- */

/* The path of directory ino as far as entries tell: "<inode N>/..." where
 * they stop short of the root. */
static void dir_path(struct scan *s, uint64_t ino, char *out, size_t cap)
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

static void entry_path(struct scan *s, uint64_t dir, const char *name, char *out, size_t cap)
{
	char d[2048];
	dir_path(s, dir, d, sizeof(d));
	snprintf(out, cap, "%s%s%s", d, strcmp(d, "/") ? "/" : "", name);
}

static void print_problem(struct scan *s, const struct problem *p)
{
	char path[4096];
	const char *c = pcode_name[p->code];
	switch (p->code) {
	case P_BAD_RECORD:
		printf("%s: %s\n", c, p->msg);
		break;
	case P_NO_SUPER:
		printf("%s: the filesystem has no superblock\n", c);
		break;
	case P_NO_ROOT:
		printf("%s: the root directory (inode 1) is missing or not a directory\n", c);
		break;
	case P_UNKNOWN_RECORD:
		printf("%s: %s\n", c, p->msg);
		break;
	case P_BAD_NAME:
		printf("%s: directory inode %" PRIu64 " has an entry with an invalid name (inode %" PRIu64 ")\n",
		       c, p->dir, p->ino);
		break;
	case P_DANGLING:
		entry_path(s, p->dir, p->name, path, sizeof(path));
		printf("%s: %s names inode %" PRIu64 ", which does not exist\n", c, path, p->ino);
		break;
	case P_ORPHAN_ENTRY:
		printf("%s: entry \"%s\" (inode %" PRIu64 ") is in inode %" PRIu64 ", which %s\n", c,
		       p->name, p->ino, p->dir, p->have ? "is not a directory" : "does not exist");
		break;
	case P_ENTRY_TYPE:
		entry_path(s, p->dir, p->name, path, sizeof(path));
		printf("%s: %s says %s, but inode %" PRIu64 " is a %s\n", c, path, type_name((unsigned)p->have),
		       p->ino, type_name(p->type));
		break;
	case P_MISSING_COOKIE:
		entry_path(s, p->dir, p->name, path, sizeof(path));
		printf("%s: %s has cookie %" PRIu64 ", but no cookie index record (readdir misses it)\n",
		       c, path, p->cookie);
		break;
	case P_DUP_COOKIE:
		entry_path(s, p->dir, p->name, path, sizeof(path));
		printf("%s: %s has cookie %" PRIu64 ", whose index record names another entry\n", c,
		       path, p->cookie);
		break;
	case P_ORPHAN_COOKIE:
		dir_path(s, p->dir, path, sizeof(path));
		printf("%s: cookie %" PRIu64 " of %s (inode %" PRIu64 ") indexes \"%s\" -> inode %" PRIu64
		       ", which is no such entry\n", c, p->cookie, path, p->dir, p->name, p->ino);
		break;
	case P_COOKIE_AHEAD:
		dir_path(s, p->ino, path, sizeof(path));
		printf("%s: %s (inode %" PRIu64 ") would hand out cookie %" PRIu64 " again (uses up to %" PRIu64 ")\n",
		       c, path, p->ino, p->have, p->want - 1);
		break;
	case P_WRONG_NLINK:
		printf("%s: inode %" PRIu64 " (%s) has nlink %" PRIu64 ", but %s %" PRIu64 "\n", c,
		       p->ino, type_name(p->type), p->have,
		       p->type == ZFS_DIR ? "2 + its subdirectories is" : "the entries naming it are",
		       p->want);
		break;
	case P_WRONG_PARENT:
		dir_path(s, p->ino, path, sizeof(path));
		printf("%s: the \"..\" of %s (inode %" PRIu64 ") is inode %" PRIu64 ", not %" PRIu64 "\n",
		       c, path, p->ino, p->have, p->want);
		break;
	case P_DIR_LINKS:
		printf("%s: directory inode %" PRIu64 " is named by %" PRIu64 " entries (one is allowed)\n",
		       c, p->ino, p->have);
		break;
	case P_UNREACHABLE:
		printf("%s: directory inode %" PRIu64 " cannot be reached from the root (its entries form a loop)\n",
		       c, p->ino);
		break;
	case P_ORPHAN_INODE:
		printf("%s: inode %" PRIu64 " (%s) is named by no directory entry\n", c, p->ino,
		       type_name(p->type));
		break;
	case P_CHUNK_PAST_EOF:
		printf("%s: chunk %" PRIu64 " of inode %" PRIu64 " (%" PRIu64 " bytes) ends past the end of the file (size %" PRIu64 ")\n",
		       c, p->chunk, p->ino, p->len, p->have);
		break;
	case P_ORPHAN_CHUNK:
		printf("%s: chunk %" PRIu64 " (%" PRIu64 " bytes) belongs to inode %" PRIu64 ", which %s\n",
		       c, p->chunk, p->len, p->ino, p->have ? "is not a regular file" : "does not exist");
		break;
	case P_BAD_CHUNK:
		printf("%s: chunk %" PRIu64 " of inode %" PRIu64 " holds %" PRIu64 " bytes (at most 65536) or lies past 1 PiB\n",
		       c, p->chunk, p->ino, p->len);
		break;
	case P_WRONG_USED:
		printf("%s: inode %" PRIu64 " says it uses %" PRIu64 " bytes; its chunks hold %" PRIu64
		       " (up to its end)\n",
		       c, p->ino, p->have, p->want);
		break;
	case P_WRONG_TOTALS:
		printf("%s: the superblock says %" PRIu64 " inodes, %" PRIu64 " data bytes, next inode %" PRIu64
		       "; found %zu inodes, %" PRIu64 " data bytes, highest inode %" PRIu64 "\n",
		       c, s->super.files, s->super.bytes_used, s->super.next_ino, s->n_inodes,
		       s->chunk_bytes, s->max_ino);
		break;
	}
}

/* ---- repairs ---- */

static int put_inode(struct lsm_batch *b, const struct zfs_inode *in)
{
	uint8_t k[9];
	struct lsm_buf v = { 0 };
	int e = zfs_inode_encode(in, &v);
	if (!e && lsm_batch_put(b, k, zfs_key_inode(k, in->a.ino), v.data, v.len))
		e = ENOMEM;
	lsm_buf_free(&v);
	return e;
}

static int load_inode(struct lsm_db *db, uint64_t ino, struct zfs_inode *in)
{
	uint8_t k[9];
	struct lsm_buf v = { 0 };
	lsm_status st = lsm_get(db, k, zfs_key_inode(k, ino), &v);
	int e = st ? zfs_errno(st) : zfs_inode_decode(v.data, v.len, ino, in);
	lsm_buf_free(&v);
	return e;
}

static void touch(struct zfs_inode *in)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	in->a.ctime.sec = ts.tv_sec;
	in->a.ctime.nsec = (uint32_t)ts.tv_nsec;
	in->a.mtime = in->a.ctime;
	in->a.change++;
}

/* Adds an entry name -> ino (type) to directory `dir` (loaded, changed in
 * memory: its next cookie moves) into b. */
static int add_entry(struct lsm_batch *b, struct zfs_inode *dir, const char *name, uint64_t ino,
		     enum zfs_type type)
{
	uint8_t k[9 + ZFS_NAME_MAX];
	struct lsm_buf v = { 0 };
	struct zfs_dirent d = { ino, dir->next_cookie++, type };
	size_t nl = strlen(name);
	int e = zfs_dirent_encode(&d, &v);
	if (!e && lsm_batch_put(b, k, zfs_key_dirent(k, dir->a.ino, name, nl), v.data, v.len))
		e = ENOMEM;
	if (!e && !(e = zfs_cookie_encode(ino, name, nl, &v)) &&
	    lsm_batch_put(b, k, zfs_key_cookie(k, dir->a.ino, d.cookie), v.data, v.len))
		e = ENOMEM;
	lsm_buf_free(&v);
	return e;
}

/* Deletes an entry and, if it indexes this very entry, its cookie record. */
static int del_entry(struct scan *s, struct lsm_batch *b, const struct problem *p)
{
	uint8_t k[9 + ZFS_NAME_MAX];
	if (lsm_batch_delete(b, k, zfs_key_dirent(k, p->dir, p->name, strlen(p->name))))
		return ENOMEM;
	long ci = h_get(&s->by_cookie, p->dir, p->cookie);
	if (ci >= 0 && s->cookies[ci].ino == p->ino && !strcmp(s->cookies[ci].name, p->name) &&
	    lsm_batch_delete(b, k, zfs_key_cookie(k, p->dir, p->cookie)))
		return ENOMEM;
	return 0;
}

static int lost_found(struct admin_fs *a, uint64_t *ino)
{
	struct zfs_attr at;
	int e;
	/* zfs keeps the superblock in memory: reopen it to see our raw changes */
	zfs_close(a->fs);
	a->fs = NULL;
	if ((e = zfs_open(a->db, &a->fs)))
		return e;
	e = zfs_lookup(a->fs, ZFS_ROOT_INO, LOST_FOUND, &at);
	if (e == ENOENT) {
		struct zfs_create_args ca = { .type = ZFS_DIR, .mode = 0700 };
		if ((e = zfs_create(a->fs, ZFS_ROOT_INO, LOST_FOUND, &ca, true, &at)) == 0)
			printf("  repaired: created /%s\n", LOST_FOUND);
	}
	if (!e && at.type != ZFS_DIR)
		e = ENOTDIR;
	*ino = at.ino;
	return e;
}

/* Applies the safe fix for p, printing it. 0 = repaired, EAGAIN = not this
 * round, ENOTSUP = never safely; other errnos: it failed. */
static int repair(struct scan *s, const struct problem *p, bool structural_done, uint64_t *lf)
{
	struct lsm_db *db = s->a->db;
	struct lsm_batch *b;
	struct zfs_inode in;
	uint8_t k[17];
	int e = 0;
	char what[512] = "";

	switch (p->code) {
	case P_DANGLING: case P_ORPHAN_ENTRY: case P_ENTRY_TYPE: case P_MISSING_COOKIE:
	case P_DUP_COOKIE: case P_ORPHAN_COOKIE: case P_COOKIE_AHEAD: case P_WRONG_NLINK:
	case P_WRONG_PARENT: case P_ORPHAN_INODE: case P_CHUNK_PAST_EOF: case P_ORPHAN_CHUNK:
	case P_WRONG_USED:
		break;
	case P_WRONG_TOTALS:
		if (structural_done)
			return EAGAIN; /* the other fixes change the totals: next round */
		break;
	default:
		return ENOTSUP;
	}
	if (!(b = lsm_batch_new()))
		return ENOMEM;
	switch (p->code) {
	case P_DANGLING:
	case P_ORPHAN_ENTRY:
		e = del_entry(s, b, p);
		snprintf(what, sizeof(what), "removed the entry \"%s\" from inode %" PRIu64, p->name, p->dir);
		break;
	case P_ENTRY_TYPE: {
		struct lsm_buf v = { 0 };
		struct zfs_dirent d = { p->ino, p->cookie, p->type };
		uint8_t kk[9 + ZFS_NAME_MAX];
		if (!(e = zfs_dirent_encode(&d, &v)) &&
		    lsm_batch_put(b, kk, zfs_key_dirent(kk, p->dir, p->name, strlen(p->name)), v.data, v.len))
			e = ENOMEM;
		lsm_buf_free(&v);
		snprintf(what, sizeof(what), "set the type of entry \"%s\" to %s", p->name, type_name(p->type));
		break;
	}
	case P_MISSING_COOKIE:
	case P_DUP_COOKIE: {
		long ci = h_get(&s->by_cookie, p->dir, p->cookie);
		if (ci < 0) { /* the slot is free: index the entry there */
			struct lsm_buf v = { 0 };
			if (!(e = zfs_cookie_encode(p->ino, p->name, strlen(p->name), &v)) &&
			    lsm_batch_put(b, k, zfs_key_cookie(k, p->dir, p->cookie), v.data, v.len))
				e = ENOMEM;
			lsm_buf_free(&v);
			snprintf(what, sizeof(what), "indexed \"%s\" under its cookie %" PRIu64, p->name, p->cookie);
		} else if (!(e = load_inode(db, p->dir, &in))) { /* taken: a fresh cookie */
			uint64_t fresh = in.next_cookie;
			if (!(e = add_entry(b, &in, p->name, p->ino, p->type))) { /* replaces the entry */
				touch(&in);
				e = put_inode(b, &in);
			}
			zfs_inode_free(&in);
			snprintf(what, sizeof(what), "gave \"%s\" the new cookie %" PRIu64, p->name, fresh);
		}
		break;
	}
	case P_ORPHAN_COOKIE:
		if (lsm_batch_delete(b, k, zfs_key_cookie(k, p->dir, p->cookie)))
			e = ENOMEM;
		snprintf(what, sizeof(what), "removed cookie record %" PRIu64 " of inode %" PRIu64, p->cookie, p->dir);
		break;
	case P_COOKIE_AHEAD:
	case P_WRONG_NLINK:
	case P_WRONG_PARENT:
	case P_WRONG_USED:
		if ((e = load_inode(db, p->ino, &in)))
			break;
		if (p->code == P_COOKIE_AHEAD) {
			if (in.next_cookie < p->want)
				in.next_cookie = p->want;
			snprintf(what, sizeof(what), "set the next cookie of inode %" PRIu64 " to %" PRIu64, p->ino, in.next_cookie);
		} else if (p->code == P_WRONG_NLINK) {
			in.a.nlink = (uint32_t)p->want;
			snprintf(what, sizeof(what), "set the nlink of inode %" PRIu64 " to %" PRIu64, p->ino, p->want);
		} else if (p->code == P_WRONG_PARENT) {
			in.parent = p->want;
			snprintf(what, sizeof(what), "set the \"..\" of inode %" PRIu64 " to inode %" PRIu64, p->ino, p->want);
		} else {
			in.a.used = p->want;
			snprintf(what, sizeof(what), "set the bytes used by inode %" PRIu64 " to %" PRIu64, p->ino, p->want);
		}
		in.a.change++;
		e = put_inode(b, &in);
		zfs_inode_free(&in);
		break;
	case P_ORPHAN_INODE: {
		char name[32];
		struct zfs_inode dir, child;
		if (!*lf && (e = lost_found(s->a, lf)))
			break;
		snprintf(name, sizeof(name), "#%" PRIu64, p->ino);
		if ((e = load_inode(db, *lf, &dir)))
			break;
		if (!(e = load_inode(db, p->ino, &child))) {
			if (child.a.type == ZFS_DIR) {
				child.parent = *lf;
				dir.a.nlink++;
				child.a.change++;
				e = put_inode(b, &child);
			}
			if (!e && !(e = add_entry(b, &dir, name, p->ino, child.a.type))) {
				touch(&dir);
				e = put_inode(b, &dir);
			}
			zfs_inode_free(&child);
		}
		zfs_inode_free(&dir);
		snprintf(what, sizeof(what), "moved inode %" PRIu64 " to /%s/%s", p->ino, LOST_FOUND, name);
		break;
	}
	case P_CHUNK_PAST_EOF:
	case P_ORPHAN_CHUNK:
		zfs_key_chunk(k, p->ino, p->chunk);
		if (p->code == P_CHUNK_PAST_EOF && p->want > 0) {
			struct lsm_buf v = { 0 };
			lsm_status st = lsm_get(db, k, 17, &v);
			if (st)
				e = zfs_errno(st);
			else if (v.len > p->want && lsm_batch_put(b, k, 17, v.data, (size_t)p->want))
				e = ENOMEM;
			lsm_buf_free(&v);
			snprintf(what, sizeof(what), "trimmed chunk %" PRIu64 " of inode %" PRIu64 " to %" PRIu64 " bytes",
				 p->chunk, p->ino, p->want);
		} else {
			if (lsm_batch_delete(b, k, 17))
				e = ENOMEM;
			snprintf(what, sizeof(what), "deleted chunk %" PRIu64 " of inode %" PRIu64, p->chunk, p->ino);
		}
		break;
	case P_WRONG_TOTALS: {
		struct zfs_super sb = s->super;
		struct lsm_buf v = { 0 };
		sb.files = s->n_inodes;
		sb.bytes_used = s->chunk_bytes;
		if (sb.next_ino <= s->max_ino)
			sb.next_ino = s->max_ino + 1;
		if (!(e = zfs_super_encode(&sb, &v)) && lsm_batch_put(b, k, zfs_key_super(k), v.data, v.len))
			e = ENOMEM;
		lsm_buf_free(&v);
		snprintf(what, sizeof(what), "set the superblock's totals to %" PRIu64 " inodes, %" PRIu64
			 " data bytes, next inode %" PRIu64, sb.files, sb.bytes_used, sb.next_ino);
		break;
	}
	default:
		e = ENOTSUP;
	}
	if (!e) {
		lsm_status st = lsm_write(db, b, LSM_WRITE_DURABLE);
		if (st) {
			admin_err("writing a repair failed: %s (%s)", lsm_strstatus(st), lsm_last_error());
			e = zfs_errno(st);
		} else {
			printf("  repaired: %s\n", what);
		}
	}
	lsm_batch_free(b);
	return e;
}

static const char *usage_line = "fsck [--repair] [--force] [--live-window SECONDS]";

int cmd_fsck(struct admin_opts *o, int argc, char **argv)
{
	struct admin_fs a;
	struct scan s;
	int rc, e;
	bool found = false, failed = false;
	uint64_t lf = 0, repaired = 0;

	(void)argv;
	if (argc > 0) {
		admin_err("fsck takes no arguments (usage: zerofs %s)", usage_line);
		return ZA_USAGE;
	}
	if ((rc = admin_open(o, o->repair, "fsck --repair", o->repair, &a)))
		return rc;
	for (int round = 0;; round++) {
		if ((e = check(&a, &s))) {
			admin_err("fsck could not finish: %s", strerror(e));
			scan_free(&s);
			admin_close(&a);
			return ZA_ERROR;
		}
		if (round == 0)
			printf("fsck: %s: %zu inodes (%" PRIu64 " directories, %" PRIu64 " others), %" PRIu64
			       " entries, %" PRIu64 " chunks, %" PRIu64 " records\n",
			       a.desc, s.n_inodes, s.dirs, s.files, s.entries, s.chunks, s.records);
		if (s.n_probs == 0) {
			scan_free(&s);
			break;
		}
		found = true;
		if (round > 0)
			printf("fsck: pass %d after the repairs:\n", round + 1);
		bool structural = false, any = false;
		for (size_t i = 0; i < s.n_probs; i++)
			if (s.probs[i].code != P_WRONG_TOTALS)
				structural = true;
		for (size_t i = 0; i < s.n_probs; i++) {
			print_problem(&s, &s.probs[i]);
			if (!o->repair)
				continue;
			e = repair(&s, &s.probs[i], structural, &lf);
			if (e == 0) {
				repaired++;
				any = true;
			} else if (e == EAGAIN) {
				printf("  (repaired once the other repairs are done)\n");
			} else if (e == ENOTSUP) {
				printf("  not repaired: no safe repair\n");
			} else {
				printf("  not repaired: %s\n", strerror(e));
				failed = true;
			}
		}
		size_t left = s.n_probs;
		scan_free(&s);
		if (!o->repair) {
			printf("fsck: %zu problems found; run with --repair to fix what can be fixed safely\n", left);
			admin_close(&a);
			return ZA_PROBLEMS;
		}
		if (!any || failed || round + 1 >= MAX_ROUNDS) {
			printf("fsck: %" PRIu64 " repairs made; %zu problems remain\n", repaired, left);
			rc = admin_close(&a);
			return rc ? rc : ZA_REMAIN;
		}
	}
	if (found)
		printf("fsck: %" PRIu64 " repairs made; the filesystem is clean now\n", repaired);
	else
		printf("fsck: clean\n");
	rc = admin_close(&a);
	return rc ? rc : found ? ZA_PROBLEMS : ZA_OK;
}
