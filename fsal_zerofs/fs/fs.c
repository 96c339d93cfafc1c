/*
 * fsal_zerofs/fs/fs.c - opening the filesystem, attributes, and the namespace:
 * lookup, create, link, remove, rename, readdir, readlink. See fs.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "fs_int.h"

#define ZFS_LINK_MAX 65000u

static int load_dirent(struct zfs *fs, uint64_t dir, const char *name, struct zfs_dirent *d)
{
	uint8_t k[ZFS_KEY_DIRENT_MAX];
	struct lsm_buf v = { 0 };
	int err = zfs_errno(lsm_get(fs->db, k, zfs_key_dirent(k, dir, name, strlen(name)), &v));
	if (!err && zfs_dirent_decode(v.data, v.len, d))
		err = zfs_damaged("directory %" PRIu64 ", entry \"%s\": malformed record (%zu bytes)",
				  dir, name, v.len);
	lsm_buf_free(&v);
	return err;
}

/* An entry whose inode is gone is damage, not a stale handle: EIO. */
static int dangling(int err, uint64_t dir, const char *name, uint64_t ino)
{
	if (err != ESTALE)
		return err;
	return zfs_damaged("directory %" PRIu64 ", entry \"%s\": names inode %" PRIu64
			   ", which does not exist",
			   dir, name, ino);
}

static int check_name(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, ".."))
		return EINVAL;
	return n > ZFS_NAME_MAX ? ENAMETOOLONG : 0;
}

/* Loads a directory for changing it: ENOTDIR if it is not one. */
static int load_dir(struct zfs *fs, uint64_t dir, struct zfs_inode *in)
{
	int err = zfs_load_inode(fs, dir, in);
	if (!err && in->a.type != ZFS_DIR) {
		zfs_inode_free(in);
		err = ENOTDIR;
	}
	return err;
}

static void touch(struct zfs_inode *in, bool mtime)
{
	zfs_now(&in->a.ctime);
	if (mtime)
		in->a.mtime = in->a.ctime;
	in->a.change++;
}

/* Adds name -> child to directory `dir` (in memory: dir->next_cookie moves). */
void tx_add_entry(struct zfs_tx *tx, struct zfs_inode *dir, const char *name,
			 uint64_t ino, enum zfs_type type)
{
	uint8_t k[ZFS_KEY_DIRENT_MAX];
	size_t len = strlen(name);
	struct zfs_dirent d = { ino, dir->next_cookie++, type };
	int e = zfs_dirent_encode(&d, &tx->scratch);
	if (e && !tx->err)
		tx->err = e;
	zfs_tx_put_raw(tx, k, zfs_key_dirent(k, dir->a.ino, name, len), tx->scratch.data,
		       tx->scratch.len);
	if ((e = zfs_cookie_encode(ino, name, len, &tx->scratch)) && !tx->err)
		tx->err = e;
	zfs_tx_put_raw(tx, k, zfs_key_cookie(k, dir->a.ino, d.cookie), tx->scratch.data,
		       tx->scratch.len);
}

static void tx_del_entry(struct zfs_tx *tx, uint64_t dir, const char *name,
			 const struct zfs_dirent *d)
{
	uint8_t k[ZFS_KEY_DIRENT_MAX];
	zfs_tx_del_raw(tx, k, zfs_key_dirent(k, dir, name, strlen(name)));
	zfs_tx_del_raw(tx, k, zfs_key_cookie(k, dir, d->cookie));
}

/* ---- open ---- */

int zfs_open(struct lsm_db *db, struct zfs **out)
{
	struct zfs *fs = calloc(1, sizeof(*fs));
	struct lsm_buf v = { 0 };
	uint8_t k[ZFS_KEY_SUPER_LEN];
	int err;

	*out = NULL;
	if (!fs)
		return ENOMEM;
	fs->db = db;
	pthread_mutex_init(&fs->lock, NULL);
	err = zfs_errno(lsm_get(db, k, zfs_key_super(k), &v));
	if (!err) {
		if (zfs_super_decode(v.data, v.len, &fs->super))
			err = zfs_damaged("superblock: malformed record (%zu bytes)", v.len);
	} else if (err == ENOENT) {
		/* a new filesystem: the root directory and the superblock, at once */
		struct zfs_tx tx;
		struct zfs_inode root = { 0 };
		if (RAND_bytes((unsigned char *)&fs->super.fs_id, sizeof(fs->super.fs_id)) != 1)
			fs->super.fs_id = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
		fs->super.next_ino = ZFS_ROOT_INO + 1;
		fs->super.files = 1;
		root.a = (struct zfs_attr){ .ino = ZFS_ROOT_INO, .gen = fs->super.fs_id,
					    .type = ZFS_DIR, .mode = 0755, .nlink = 2, .change = 1 };
		zfs_now(&root.a.ctime);
		root.a.atime = root.a.mtime = root.a.ctime;
		root.parent = ZFS_ROOT_INO;
		root.next_cookie = ZFS_FIRST_COOKIE;
		if (!(err = zfs_tx_begin(fs, &tx))) {
			zfs_tx_put_inode(&tx, &root);
			err = zfs_tx_commit(&tx, true);
		}
	}
	lsm_buf_free(&v);
	if (err) {
		zfs_close(fs);
		return err;
	}
	*out = fs;
	return 0;
}

int zfs_read_info(struct lsm_db *db, struct zfs_info *out)
{
	uint8_t k[ZFS_KEY_SUPER_LEN];
	struct lsm_buf v = { 0 };
	struct zfs_super s;
	int err = zfs_errno(lsm_get(db, k, zfs_key_super(k), &v));

	if (!err && zfs_super_decode(v.data, v.len, &s))
		err = zfs_damaged("superblock: malformed record (%zu bytes)", v.len);
	lsm_buf_free(&v);
	if (!err)
		*out = (struct zfs_info){ s.fs_id, s.next_ino, s.files, s.bytes_used };
	return err;
}

void zfs_close(struct zfs *fs)
{
	if (!fs)
		return;
	pthread_mutex_destroy(&fs->lock);
	free(fs);
}

/* ---- attributes and lookup ---- */

int zfs_lookup(struct zfs *fs, uint64_t dir, const char *name, struct zfs_attr *attr)
{
	struct zfs_dirent d;
	struct zfs_attr da;
	int err;
	if (!strcmp(name, ".") || !strcmp(name, "..")) {
		struct zfs_inode in;
		if ((err = load_dir(fs, dir, &in)))
			return err;
		uint64_t target = name[1] ? in.parent : dir;
		zfs_inode_free(&in);
		return zfs_getattr(fs, target, attr);
	}
	if (strlen(name) > ZFS_NAME_MAX)
		return ENAMETOOLONG;
	if ((err = zfs_getattr(fs, dir, &da)))
		return err;
	if (da.type != ZFS_DIR)
		return ENOTDIR;
	if ((err = load_dirent(fs, dir, name, &d)))
		return err;
	return dangling(zfs_getattr(fs, d.ino, attr), dir, name, d.ino);
}

int zfs_readlink(struct zfs *fs, uint64_t ino, char *buf, size_t cap, size_t *len)
{
	struct zfs_inode in;
	int err = zfs_load_inode(fs, ino, &in);
	if (err)
		return err;
	if (in.a.type != ZFS_LNK) {
		err = EINVAL;
	} else {
		*len = strlen(in.target);
		if (*len + 1 > cap)
			err = ENAMETOOLONG;
		else
			memcpy(buf, in.target, *len + 1);
	}
	zfs_inode_free(&in);
	return err;
}

/* ---- create, link, remove ---- */

int zfs_create(struct zfs *fs, uint64_t dir, const char *name, const struct zfs_create_args *a,
	       bool durable, struct zfs_attr *attr)
{
	struct zfs_inode parent, in = { 0 };
	struct zfs_dirent d;
	struct zfs_tx tx;
	int err;

	if ((err = check_name(name)))
		return err;
	if (a->type < ZFS_REG || a->type > ZFS_SOCK)
		return EINVAL;
	if (a->type == ZFS_LNK && (!a->target || strlen(a->target) > ZFS_SYMLINK_MAX))
		return a->target ? ENAMETOOLONG : EINVAL;
	pthread_mutex_lock(&fs->lock);
	if ((err = load_dir(fs, dir, &parent)))
		goto out;
	if ((err = load_dirent(fs, dir, name, &d)) != ENOENT) {
		if (!err) {
			err = zfs_getattr(fs, d.ino, attr);
			err = err ? err : EEXIST;
		}
		goto out_parent;
	}
	in.a = (struct zfs_attr){ .ino = fs->super.next_ino, .gen = fs->super.fs_id,
				  .type = a->type, .mode = a->mode & 07777, .uid = a->uid,
				  .gid = a->gid, .nlink = a->type == ZFS_DIR ? 2 : 1, .change = 1,
				  .rdev_major = a->rdev_major, .rdev_minor = a->rdev_minor };
	zfs_now(&in.a.ctime);
	in.a.atime = a->atime ? *a->atime : in.a.ctime;
	in.a.mtime = a->mtime ? *a->mtime : in.a.ctime;
	if (a->type == ZFS_DIR) {
		in.parent = dir;
		in.next_cookie = ZFS_FIRST_COOKIE;
		if (parent.a.nlink >= ZFS_LINK_MAX) {
			err = EMLINK;
			goto out_parent;
		}
		parent.a.nlink++;
	}
	if (a->type == ZFS_LNK) {
		in.target = (char *)a->target;
		in.a.size = strlen(a->target);
	}
	if ((err = zfs_tx_begin(fs, &tx)))
		goto out_parent;
	fs->super.next_ino++;
	fs->super.files++;
	tx_add_entry(&tx, &parent, name, in.a.ino, a->type);
	touch(&parent, true);
	parent.a.ctime = parent.a.mtime = in.a.ctime;
	zfs_tx_put_inode(&tx, &in);
	zfs_tx_put_inode(&tx, &parent);
	if (!(err = zfs_tx_commit(&tx, durable)))
		*attr = in.a;
out_parent:
	zfs_inode_free(&parent);
out:
	pthread_mutex_unlock(&fs->lock);
	return err;
}

int zfs_link(struct zfs *fs, uint64_t ino, uint64_t dir, const char *name, bool durable,
	     struct zfs_attr *attr)
{
	struct zfs_inode parent, in;
	struct zfs_dirent d;
	struct zfs_tx tx;
	int err;

	if ((err = check_name(name)))
		return err;
	pthread_mutex_lock(&fs->lock);
	if ((err = load_dir(fs, dir, &parent)))
		goto out;
	if ((err = zfs_load_inode(fs, ino, &in)))
		goto out_parent;
	if (in.a.type == ZFS_DIR)
		err = EPERM;
	else if (in.a.nlink >= ZFS_LINK_MAX)
		err = EMLINK;
	else if ((err = load_dirent(fs, dir, name, &d)) != ENOENT)
		err = err ? err : EEXIST;
	else if (!(err = zfs_tx_begin(fs, &tx))) {
		in.a.nlink++;
		touch(&in, false);
		tx_add_entry(&tx, &parent, name, ino, in.a.type);
		touch(&parent, true);
		zfs_tx_put_inode(&tx, &in);
		zfs_tx_put_inode(&tx, &parent);
		if (!(err = zfs_tx_commit(&tx, durable)))
			*attr = in.a;
	}
	zfs_inode_free(&in);
out_parent:
	zfs_inode_free(&parent);
out:
	pthread_mutex_unlock(&fs->lock);
	return err;
}

/* Does directory ino have any entry? */
static int dir_is_empty(struct zfs *fs, uint64_t ino, bool *empty)
{
	uint8_t start[ZFS_KEY_PREFIX_LEN];
	struct lsm_db_iter *it;
	lsm_status st;
	int err;

	/* 'd' + ino: the first of its entries, if any */
	if ((err = zfs_iter_from(fs, start, zfs_key_dirent(start, ino, "", 0), &it)))
		return err;
	*empty = !lsm_db_iter_valid(it);
	st = lsm_db_iter_status(it);
	lsm_db_iter_free(it);
	return zfs_errno(st);
}

/* Drops one link to `victim` (already unlinked from its directory in tx):
 * deletes it when no link remains. Directories must be empty. */
static int tx_drop_link(struct zfs_tx *tx, struct zfs_inode *victim)
{
	struct zfs *fs = tx->fs;
	int err = 0;
	if (victim->a.type == ZFS_DIR || victim->a.nlink <= 1) {
		uint64_t freed = 0;
		if (victim->a.type == ZFS_REG && (err = zfs_tx_del_chunks(tx, victim->a.ino, 0, &freed)))
			return err;
		zfs_tx_del_inode(tx, victim->a.ino);
		fs->super.files--;
		fs->super.bytes_used -= freed <= fs->super.bytes_used ? freed : fs->super.bytes_used;
	} else {
		victim->a.nlink--;
		touch(victim, false);
		zfs_tx_put_inode(tx, victim);
	}
	return err;
}

int zfs_remove(struct zfs *fs, uint64_t dir, const char *name, bool durable)
{
	struct zfs_inode parent, victim;
	struct zfs_dirent d;
	struct zfs_tx tx;
	bool empty = true;
	int err;

	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return EINVAL;
	if (strlen(name) > ZFS_NAME_MAX)
		return ENAMETOOLONG;
	pthread_mutex_lock(&fs->lock);
	if ((err = load_dir(fs, dir, &parent)))
		goto out;
	if ((err = load_dirent(fs, dir, name, &d)))
		goto out_parent;
	if ((err = zfs_load_inode(fs, d.ino, &victim))) {
		err = dangling(err, dir, name, d.ino);
		goto out_parent;
	}
	if (victim.a.type == ZFS_DIR && (err = dir_is_empty(fs, d.ino, &empty)) == 0 && !empty)
		err = ENOTEMPTY;
	if (!err && !(err = zfs_tx_begin(fs, &tx))) {
		tx_del_entry(&tx, dir, name, &d);
		if (victim.a.type == ZFS_DIR)
			parent.a.nlink--;
		touch(&parent, true);
		zfs_tx_put_inode(&tx, &parent);
		if ((err = tx_drop_link(&tx, &victim)))
			zfs_tx_abort(&tx);
		else
			err = zfs_tx_commit(&tx, durable);
	}
	zfs_inode_free(&victim);
out_parent:
	zfs_inode_free(&parent);
out:
	pthread_mutex_unlock(&fs->lock);
	return err;
}

/* ---- rename ---- */

/* Is `anc` an ancestor of (or equal to) dir? Walks ".." to the root. */
static int is_ancestor(struct zfs *fs, uint64_t anc, uint64_t dir, bool *yes)
{
	uint64_t from = dir;

	*yes = false;
	for (int depth = 0; depth < 4096; depth++) {
		struct zfs_inode in;
		int err;
		if (dir == anc) {
			*yes = true;
			return 0;
		}
		if (dir == ZFS_ROOT_INO)
			return 0;
		if ((err = zfs_load_inode(fs, dir, &in)))
			return err;
		dir = in.parent;
		zfs_inode_free(&in);
	}
	return zfs_damaged("directory %" PRIu64 ": its \"..\" pointers loop (4096 levels)", from);
}

int zfs_rename(struct zfs *fs, uint64_t sdir, const char *sname, uint64_t ddir, const char *dname,
	       bool durable)
{
	struct zfs_inode sp = { 0 }, dp = { 0 }, src = { 0 }, dst = { 0 };
	struct zfs_dirent sd, dd;
	struct zfs_tx tx;
	bool have_dst = false, same_dir = sdir == ddir, loaded_dp = false, loaded_dst = false;
	int err;

	if ((err = check_name(dname)) || (err = check_name(sname)))
		return err;
	pthread_mutex_lock(&fs->lock);
	if ((err = load_dir(fs, sdir, &sp)))
		goto out;
	if (!same_dir) {
		if ((err = load_dir(fs, ddir, &dp)))
			goto out;
		loaded_dp = true;
	}
	struct zfs_inode *dparent = same_dir ? &sp : &dp;
	if ((err = load_dirent(fs, sdir, sname, &sd)))
		goto out;
	if ((err = zfs_load_inode(fs, sd.ino, &src))) {
		err = dangling(err, sdir, sname, sd.ino);
		goto out;
	}
	err = load_dirent(fs, ddir, dname, &dd);
	if (err && err != ENOENT)
		goto out;
	have_dst = err == 0;
	err = 0;
	if (have_dst && dd.ino == sd.ino)
		goto out; /* the same object: POSIX says do nothing */
	if (have_dst) {
		if ((err = zfs_load_inode(fs, dd.ino, &dst))) {
			err = dangling(err, ddir, dname, dd.ino);
			goto out;
		}
		loaded_dst = true;
		bool empty = true;
		if (src.a.type == ZFS_DIR && dst.a.type != ZFS_DIR)
			err = ENOTDIR;
		else if (src.a.type != ZFS_DIR && dst.a.type == ZFS_DIR)
			err = EISDIR;
		else if (dst.a.type == ZFS_DIR && !(err = dir_is_empty(fs, dd.ino, &empty)) && !empty)
			err = ENOTEMPTY;
		if (err)
			goto out;
	}
	if (src.a.type == ZFS_DIR && !same_dir) {
		bool inside;
		if ((err = is_ancestor(fs, sd.ino, ddir, &inside)))
			goto out;
		if (inside) {
			err = EINVAL; /* into its own subtree */
			goto out;
		}
		if (dparent->a.nlink >= ZFS_LINK_MAX && !have_dst) {
			err = EMLINK;
			goto out;
		}
	}
	if ((err = zfs_tx_begin(fs, &tx)))
		goto out;
	tx_del_entry(&tx, sdir, sname, &sd);
	if (have_dst) {
		tx_del_entry(&tx, ddir, dname, &dd);
		if (dst.a.type == ZFS_DIR)
			dparent->a.nlink--;
		if ((err = tx_drop_link(&tx, &dst))) {
			zfs_tx_abort(&tx);
			goto out;
		}
	}
	tx_add_entry(&tx, dparent, dname, sd.ino, src.a.type);
	if (src.a.type == ZFS_DIR && !same_dir) {
		src.parent = ddir;
		sp.a.nlink--;
		dparent->a.nlink++;
	}
	touch(&src, false);
	touch(&sp, true);
	zfs_tx_put_inode(&tx, &src);
	zfs_tx_put_inode(&tx, &sp);
	if (!same_dir) {
		touch(&dp, true);
		zfs_tx_put_inode(&tx, &dp);
	}
	err = zfs_tx_commit(&tx, durable);
out:
	zfs_inode_free(&sp);
	if (loaded_dp)
		zfs_inode_free(&dp);
	zfs_inode_free(&src);
	if (loaded_dst)
		zfs_inode_free(&dst);
	pthread_mutex_unlock(&fs->lock);
	return err;
}

/* ---- readdir ---- */

int zfs_readdir(struct zfs *fs, uint64_t dir, uint64_t cookie, zfs_dirent_fn fn, void *ctx,
		bool *eof)
{
	uint8_t start[ZFS_KEY_COOKIE_LEN];
	struct lsm_db_iter *it;
	struct zfs_attr da;
	lsm_status st;
	int err;

	*eof = false;
	if ((err = zfs_getattr(fs, dir, &da)))
		return err;
	if (da.type != ZFS_DIR)
		return ENOTDIR;
	err = zfs_iter_from(fs, start,
			    zfs_key_cookie(start, dir,
					   cookie < ZFS_FIRST_COOKIE ? ZFS_FIRST_COOKIE : cookie + 1),
			    &it);
	if (err)
		return err;
	for (; lsm_db_iter_valid(it); lsm_db_iter_next(it)) {
		size_t kl, vl, nl;
		const uint8_t *k = lsm_db_iter_key(it, &kl), *v = lsm_db_iter_value(it, &vl), *name;
		uint64_t ino;
		char nbuf[ZFS_NAME_MAX + 1];
		struct zfs_attr a;
		if (kl != ZFS_KEY_COOKIE_LEN || zfs_cookie_decode(v, vl, &ino, &name, &nl)) {
			err = zfs_damaged("directory %" PRIu64 ": malformed cookie record (%zu bytes)",
					  dir, vl);
			break;
		}
		memcpy(nbuf, name, nl);
		nbuf[nl] = '\0';
		if ((err = zfs_getattr(fs, ino, &a))) {
			if (err != ESTALE)
				break;
			err = 0; /* removed since the iterator's snapshot: skip it */
			continue;
		}
		if (!fn(ctx, nbuf, &a, zfs_be64(k + ZFS_KEY_PREFIX_LEN)))
			break;
	}
	if (!err && !lsm_db_iter_valid(it)) {
		st = lsm_db_iter_status(it);
		err = zfs_errno(st);
		*eof = err == 0;
	}
	lsm_db_iter_free(it);
	return err;
}

int zfs_commit(struct zfs *fs)
{
	return zfs_errno(lsm_flush(fs->db));
}

int zfs_statfs(struct zfs *fs, struct zfs_statfs *out)
{
	pthread_mutex_lock(&fs->lock);
	out->files = fs->super.files;
	out->bytes_used = fs->super.bytes_used;
	pthread_mutex_unlock(&fs->lock);
	return 0;
}
