/*
 * fsal_zerofs/fs/fs_records.h - how the filesystem lays its records out in the
 * LSM key space (docs/FORMAT.md, "Filesystem records"). One place for every
 * key and value encoding:
 *
 *   's'                          superblock: fs id, inode numbers reserved, base totals
 *   'u' stripe                   usage: the totals' changes made under one lock stripe
 *   'i' ino                      inode record
 *   'd' dir name                 directory entry: child ino, cookie, type
 *   'c' dir cookie               cookie index: child ino, name (readdir order)
 *   'm' ino chunk                chunk map: the extents a chunk's bytes are made of
 *   'x' ino chunk id             extent data: bytes one write put in a chunk
 *   'k' ino chunk                file data of format 1: a whole chunk (read, never written)
 *
 * Numbers in keys are 8-byte big-endian, so keys sort numerically and all
 * records of one directory or file are one contiguous range.
 */
#ifndef ZEROFS_FS_RECORDS_H
#define ZEROFS_FS_RECORDS_H

#include "fs.h"

#define ZFS_KEY_SUPER 's'
#define ZFS_KEY_INODE 'i'
#define ZFS_KEY_DIRENT 'd'
#define ZFS_KEY_COOKIE 'c'
#define ZFS_KEY_CHUNK 'k'
#define ZFS_KEY_USAGE 'u'
#define ZFS_KEY_MAP 'm'
#define ZFS_KEY_EXTENT 'x'

/* Key geometry: a tag byte, then 8-byte numbers. Every record of one object
 * (an inode, a directory's entries and cookies, a file's chunks) starts with
 * its tag and the object's ino: ZFS_KEY_PREFIX_LEN bytes, the prefix that
 * iterating over them uses. */
#define ZFS_KEY_SUPER_LEN 1
#define ZFS_KEY_PREFIX_LEN 9 /* tag + ino */
#define ZFS_KEY_INODE_LEN ZFS_KEY_PREFIX_LEN
#define ZFS_KEY_COOKIE_LEN (ZFS_KEY_PREFIX_LEN + 8) /* + cookie */
#define ZFS_KEY_CHUNK_LEN (ZFS_KEY_PREFIX_LEN + 8)  /* + chunk index */
#define ZFS_KEY_USAGE_LEN 9 /* tag + stripe */
#define ZFS_KEY_MAP_LEN (ZFS_KEY_PREFIX_LEN + 8)          /* + chunk index */
#define ZFS_KEY_EXTENT_LEN (ZFS_KEY_PREFIX_LEN + 16)      /* + chunk index + extent id */
#define ZFS_KEY_DIRENT_MAX (ZFS_KEY_PREFIX_LEN + ZFS_NAME_MAX) /* + name */
#define ZFS_KEY_MAX ZFS_KEY_DIRENT_MAX

#define ZFS_FIRST_COOKIE 3 /* NFS reserves 0, 1 and 2 */

/* An inode as stored: the attributes plus what only the core needs. */
struct zfs_inode {
	struct zfs_attr a;
	uint64_t parent;      /* directories: the parent's ino ("..") */
	uint64_t next_cookie; /* directories: the next entry's cookie */
	char *target;         /* symlinks: malloc'd, NUL-terminated */
};

struct zfs_super {
	/* Format 1 filesystems (superblock version 1) stored whole chunks ('k');
	 * format 2 ones only chunk maps and extents ('m', 'x'). A format 1
	 * filesystem reads both until none of its 'k' records is left. */
	bool legacy_chunks;
	uint64_t fs_id;    /* random at creation: the generation of every inode */
	uint64_t next_ino; /* every number below it is taken or skipped: never reused */
	uint64_t files;    /* base totals: the filesystem's totals are these plus */
	uint64_t bytes_used; /* every usage record's (fs_usage_totals) */
};

/* A usage record: how much the totals changed through one lock stripe's
 * transactions (signed: a file made under one stripe may go under another). */
struct zfs_usage {
	int64_t files, bytes;
};

/* A chunk map: the chunk's bytes [off, off + len) are bytes [skip, skip +
 * len) of extent `id` ('x' ino chunk id). Extents are sorted by off and
 * disjoint; bytes no extent covers read as zeros (up to the file size). A
 * write adds one extent and cuts what it overwrites out of the others; an
 * extent no entry refers to any more is deleted in the same batch. */
#define ZFS_MAP_MAX 64 /* entries a map may hold (the core folds long before) */
struct zfs_extent {
	uint32_t off, len;
	uint64_t id;
	uint32_t skip;
};
struct zfs_map {
	uint64_t next_id; /* ids below it may be in use; new extents take it */
	unsigned n;
	struct zfs_extent e[ZFS_MAP_MAX];
};

struct zfs_dirent {
	uint64_t ino, cookie;
	enum zfs_type type;
};

/* Keys; each returns the length written (the sizes above; ZFS_KEY_MAX at most). */
size_t zfs_key_super(uint8_t *k);
size_t zfs_key_inode(uint8_t *k, uint64_t ino);
size_t zfs_key_dirent(uint8_t *k, uint64_t dir, const char *name, size_t name_len);
size_t zfs_key_cookie(uint8_t *k, uint64_t dir, uint64_t cookie);
size_t zfs_key_chunk(uint8_t *k, uint64_t ino, uint64_t chunk);
size_t zfs_key_usage(uint8_t *k, uint64_t stripe);
size_t zfs_key_map(uint8_t *k, uint64_t ino, uint64_t chunk);
size_t zfs_key_extent(uint8_t *k, uint64_t ino, uint64_t chunk, uint64_t id);
uint64_t zfs_be64(const uint8_t *p);

/* Values. Decoders return EIO for anything malformed. */
int zfs_inode_encode(const struct zfs_inode *in, struct lsm_buf *out);
int zfs_inode_decode(const uint8_t *p, size_t n, uint64_t ino, struct zfs_inode *out);
void zfs_inode_free(struct zfs_inode *in);
int zfs_super_encode(const struct zfs_super *s, struct lsm_buf *out);
int zfs_super_decode(const uint8_t *p, size_t n, struct zfs_super *out);
int zfs_usage_encode(const struct zfs_usage *u, struct lsm_buf *out);
int zfs_usage_decode(const uint8_t *p, size_t n, struct zfs_usage *out);
int zfs_map_encode(const struct zfs_map *m, struct lsm_buf *out);
/* EIO unless sorted, disjoint, within the chunk, ids below next_id. */
int zfs_map_decode(const uint8_t *p, size_t n, struct zfs_map *out);
int zfs_dirent_encode(const struct zfs_dirent *d, struct lsm_buf *out);
int zfs_dirent_decode(const uint8_t *p, size_t n, struct zfs_dirent *out);
/* cookie index value: child ino + name */
int zfs_cookie_encode(uint64_t ino, const char *name, size_t len, struct lsm_buf *out);
int zfs_cookie_decode(const uint8_t *p, size_t n, uint64_t *ino, const uint8_t **name,
		      size_t *len);

#endif
