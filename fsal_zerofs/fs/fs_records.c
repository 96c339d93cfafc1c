/* fsal_zerofs/fs/fs_records.c - see fs_records.h and docs/FORMAT.md */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "coding.h"
#include "fs_records.h"

#define INODE_VERSION 1
#define SUPER_VERSION 2        /* format 2: chunk maps and extents */
#define SUPER_VERSION_LEGACY 1 /* format 1: whole chunks may exist */
#define MAP_VERSION 1
#define USAGE_VERSION 1

static int enc(lsm_status st);

static void put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

uint64_t zfs_be64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

size_t zfs_key_super(uint8_t *k)
{
	k[0] = ZFS_KEY_SUPER;
	return ZFS_KEY_SUPER_LEN;
}

size_t zfs_key_usage(uint8_t *k, uint64_t stripe)
{
	k[0] = ZFS_KEY_USAGE;
	put_be64(k + 1, stripe);
	return ZFS_KEY_USAGE_LEN;
}

size_t zfs_key_inode(uint8_t *k, uint64_t ino)
{
	k[0] = ZFS_KEY_INODE;
	put_be64(k + 1, ino);
	return ZFS_KEY_INODE_LEN;
}

size_t zfs_key_dirent(uint8_t *k, uint64_t dir, const char *name, size_t len)
{
	k[0] = ZFS_KEY_DIRENT;
	put_be64(k + 1, dir);
	memcpy(k + ZFS_KEY_PREFIX_LEN, name, len);
	return ZFS_KEY_PREFIX_LEN + len;
}

size_t zfs_key_cookie(uint8_t *k, uint64_t dir, uint64_t cookie)
{
	k[0] = ZFS_KEY_COOKIE;
	put_be64(k + 1, dir);
	put_be64(k + ZFS_KEY_PREFIX_LEN, cookie);
	return ZFS_KEY_COOKIE_LEN;
}

size_t zfs_key_map(uint8_t *k, uint64_t ino, uint64_t chunk)
{
	k[0] = ZFS_KEY_MAP;
	put_be64(k + 1, ino);
	put_be64(k + ZFS_KEY_PREFIX_LEN, chunk);
	return ZFS_KEY_MAP_LEN;
}

size_t zfs_key_extent(uint8_t *k, uint64_t ino, uint64_t chunk, uint64_t id)
{
	k[0] = ZFS_KEY_EXTENT;
	put_be64(k + 1, ino);
	put_be64(k + ZFS_KEY_PREFIX_LEN, chunk);
	put_be64(k + ZFS_KEY_PREFIX_LEN + 8, id);
	return ZFS_KEY_EXTENT_LEN;
}

int zfs_map_encode(const struct zfs_map *m, struct lsm_buf *b)
{
	uint8_t v = MAP_VERSION;
	lsm_status st;
	b->len = 0;
	if ((st = lsm_buf_append(b, &v, 1)) || (st = lsm_buf_put_varint(b, m->next_id)) ||
	    (st = lsm_buf_put_varint(b, m->n)))
		return enc(st);
	for (unsigned i = 0; i < m->n; i++)
		if ((st = lsm_buf_put_varint(b, m->e[i].off)) ||
		    (st = lsm_buf_put_varint(b, m->e[i].len)) ||
		    (st = lsm_buf_put_varint(b, m->e[i].id)) ||
		    (st = lsm_buf_put_varint(b, m->e[i].skip)))
			return enc(st);
	return 0;
}

int zfs_map_decode(const uint8_t *p, size_t n, struct zfs_map *m)
{
	struct lsm_cursor c = { p, n };
	const uint8_t *v;
	uint64_t count, end = 0;
	if (!lsm_get_raw(&c, &v, 1) || v[0] != MAP_VERSION || !lsm_get_varint(&c, &m->next_id) ||
	    !lsm_get_varint(&c, &count) || count > ZFS_MAP_MAX)
		return EIO;
	m->n = (unsigned)count;
	for (unsigned i = 0; i < m->n; i++) {
		uint64_t off, len, id, skip;
		if (!lsm_get_varint(&c, &off) || !lsm_get_varint(&c, &len) ||
		    !lsm_get_varint(&c, &id) || !lsm_get_varint(&c, &skip) || off < end || len == 0 ||
		    len > ZFS_CHUNK_SIZE - off || off > ZFS_CHUNK_SIZE || id >= m->next_id ||
		    skip > UINT32_MAX - len)
			return EIO;
		m->e[i] = (struct zfs_extent){ (uint32_t)off, (uint32_t)len, id, (uint32_t)skip };
		end = off + len;
	}
	return c.left ? EIO : 0;
}

size_t zfs_key_chunk(uint8_t *k, uint64_t ino, uint64_t chunk)
{
	k[0] = ZFS_KEY_CHUNK;
	put_be64(k + 1, ino);
	put_be64(k + ZFS_KEY_PREFIX_LEN, chunk);
	return ZFS_KEY_CHUNK_LEN;
}

static int enc(lsm_status st)
{
	return st == LSM_OK ? 0 : ENOMEM;
}

static lsm_status put_time(struct lsm_buf *b, struct zfs_time t)
{
	lsm_status st = lsm_buf_put_fixed64(b, (uint64_t)t.sec);
	return st ? st : lsm_buf_put_fixed32(b, t.nsec);
}

int zfs_inode_encode(const struct zfs_inode *in, struct lsm_buf *b)
{
	const struct zfs_attr *a = &in->a;
	uint8_t head[2] = { INODE_VERSION, (uint8_t)a->type };
	const char *t = in->target ? in->target : "";
	lsm_status st;
	b->len = 0;
	if ((st = lsm_buf_append(b, head, 2)) || (st = lsm_buf_put_fixed32(b, a->mode)) ||
	    (st = lsm_buf_put_fixed32(b, a->uid)) || (st = lsm_buf_put_fixed32(b, a->gid)) ||
	    (st = lsm_buf_put_fixed32(b, a->nlink)) || (st = lsm_buf_put_fixed64(b, a->size)) ||
	    (st = lsm_buf_put_fixed64(b, a->used)) || (st = lsm_buf_put_fixed64(b, a->gen)) ||
	    (st = lsm_buf_put_fixed64(b, a->change)) || (st = put_time(b, a->atime)) ||
	    (st = put_time(b, a->mtime)) || (st = put_time(b, a->ctime)) ||
	    (st = lsm_buf_put_fixed32(b, a->rdev_major)) ||
	    (st = lsm_buf_put_fixed32(b, a->rdev_minor)) ||
	    (st = lsm_buf_put_varint(b, in->parent)) || (st = lsm_buf_put_varint(b, in->next_cookie)) ||
	    (st = lsm_buf_put_bytes(b, t, strlen(t))))
		return enc(st);
	return 0;
}

static bool get_time(struct lsm_cursor *c, struct zfs_time *t)
{
	uint64_t s;
	if (!lsm_get_fixed64(c, &s) || !lsm_get_fixed32(c, &t->nsec) || t->nsec >= 1000000000u)
		return false;
	t->sec = (int64_t)s;
	return true;
}

int zfs_inode_decode(const uint8_t *p, size_t n, uint64_t ino, struct zfs_inode *in)
{
	struct lsm_cursor c = { p, n };
	struct zfs_attr *a = &in->a;
	const uint8_t *head, *t;
	size_t tlen;
	memset(in, 0, sizeof(*in));
	if (!lsm_get_raw(&c, &head, 2) || head[0] != INODE_VERSION || head[1] < ZFS_REG ||
	    head[1] > ZFS_SOCK)
		return EIO;
	a->ino = ino;
	a->type = (enum zfs_type)head[1];
	if (!lsm_get_fixed32(&c, &a->mode) || !lsm_get_fixed32(&c, &a->uid) ||
	    !lsm_get_fixed32(&c, &a->gid) || !lsm_get_fixed32(&c, &a->nlink) ||
	    !lsm_get_fixed64(&c, &a->size) || !lsm_get_fixed64(&c, &a->used) ||
	    !lsm_get_fixed64(&c, &a->gen) || !lsm_get_fixed64(&c, &a->change) ||
	    !get_time(&c, &a->atime) || !get_time(&c, &a->mtime) || !get_time(&c, &a->ctime) ||
	    !lsm_get_fixed32(&c, &a->rdev_major) || !lsm_get_fixed32(&c, &a->rdev_minor) ||
	    !lsm_get_varint(&c, &in->parent) || !lsm_get_varint(&c, &in->next_cookie) ||
	    !lsm_get_bytes(&c, &t, &tlen) || c.left != 0 || tlen > ZFS_SYMLINK_MAX ||
	    memchr(t, 0, tlen))
		return EIO;
	if (a->type == ZFS_LNK) {
		if (!(in->target = malloc(tlen + 1)))
			return ENOMEM;
		memcpy(in->target, t, tlen);
		in->target[tlen] = '\0';
	}
	return 0;
}

void zfs_inode_free(struct zfs_inode *in)
{
	free(in->target);
	in->target = NULL;
}

int zfs_super_encode(const struct zfs_super *s, struct lsm_buf *b)
{
	uint8_t v = s->legacy_chunks ? SUPER_VERSION_LEGACY : SUPER_VERSION;
	lsm_status st;
	b->len = 0;
	if ((st = lsm_buf_append(b, &v, 1)) || (st = lsm_buf_put_fixed64(b, s->fs_id)) ||
	    (st = lsm_buf_put_varint(b, s->next_ino)) || (st = lsm_buf_put_varint(b, s->files)) ||
	    (st = lsm_buf_put_varint(b, s->bytes_used)))
		return enc(st);
	return 0;
}

int zfs_super_decode(const uint8_t *p, size_t n, struct zfs_super *s)
{
	struct lsm_cursor c = { p, n };
	const uint8_t *v;
	if (!lsm_get_raw(&c, &v, 1) || (v[0] != SUPER_VERSION && v[0] != SUPER_VERSION_LEGACY))
		return EIO;
	s->legacy_chunks = v[0] == SUPER_VERSION_LEGACY;
	if (!lsm_get_fixed64(&c, &s->fs_id) ||
	    !lsm_get_varint(&c, &s->next_ino) || !lsm_get_varint(&c, &s->files) ||
	    !lsm_get_varint(&c, &s->bytes_used) || c.left != 0 || s->next_ino <= ZFS_ROOT_INO)
		return EIO;
	return 0;
}

int zfs_usage_encode(const struct zfs_usage *u, struct lsm_buf *b)
{
	uint8_t v = USAGE_VERSION;
	lsm_status st;
	b->len = 0;
	if ((st = lsm_buf_append(b, &v, 1)) || (st = lsm_buf_put_fixed64(b, (uint64_t)u->files)) ||
	    (st = lsm_buf_put_fixed64(b, (uint64_t)u->bytes)))
		return enc(st);
	return 0;
}

int zfs_usage_decode(const uint8_t *p, size_t n, struct zfs_usage *u)
{
	struct lsm_cursor c = { p, n };
	const uint8_t *v;
	uint64_t f, b;
	if (!lsm_get_raw(&c, &v, 1) || v[0] != USAGE_VERSION || !lsm_get_fixed64(&c, &f) ||
	    !lsm_get_fixed64(&c, &b) || c.left != 0)
		return EIO;
	u->files = (int64_t)f;
	u->bytes = (int64_t)b;
	return 0;
}

int zfs_dirent_encode(const struct zfs_dirent *d, struct lsm_buf *b)
{
	uint8_t t = (uint8_t)d->type;
	lsm_status st;
	b->len = 0;
	if ((st = lsm_buf_put_varint(b, d->ino)) || (st = lsm_buf_put_varint(b, d->cookie)) ||
	    (st = lsm_buf_append(b, &t, 1)))
		return enc(st);
	return 0;
}

int zfs_dirent_decode(const uint8_t *p, size_t n, struct zfs_dirent *d)
{
	struct lsm_cursor c = { p, n };
	const uint8_t *t;
	if (!lsm_get_varint(&c, &d->ino) || !lsm_get_varint(&c, &d->cookie) ||
	    !lsm_get_raw(&c, &t, 1) || c.left != 0 || t[0] < ZFS_REG || t[0] > ZFS_SOCK ||
	    d->cookie < ZFS_FIRST_COOKIE)
		return EIO;
	d->type = (enum zfs_type)t[0];
	return 0;
}

int zfs_cookie_encode(uint64_t ino, const char *name, size_t len, struct lsm_buf *b)
{
	lsm_status st;
	b->len = 0;
	if ((st = lsm_buf_put_varint(b, ino)) || (st = lsm_buf_put_bytes(b, name, len)))
		return enc(st);
	return 0;
}

int zfs_cookie_decode(const uint8_t *p, size_t n, uint64_t *ino, const uint8_t **name,
		      size_t *len)
{
	struct lsm_cursor c = { p, n };
	if (!lsm_get_varint(&c, ino) || !lsm_get_bytes(&c, name, len) || c.left != 0 ||
	    *len == 0 || *len > ZFS_NAME_MAX)
		return EIO;
	return 0;
}
