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
	for (unsigned i = 0; i < ZFS_STRIPES; i++)
		pthread_mutex_init(&fs->stripe[i], NULL);
	pthread_mutex_init(&fs->rename_lock, NULL);
	pthread_rwlock_init(&fs->quiesce, NULL);
	pthread_mutex_init(&fs->alloc_lock, NULL);
	struct zfs_super sb = { 0 };
	err = zfs_errno(lsm_get(db, k, zfs_key_super(k), &v));
	if (!err) {
		if (zfs_super_decode(v.data, v.len, &sb))
			err = zfs_damaged("superblock: malformed record (%zu bytes)", v.len);
		else
			err = zfs_load_usage(fs);
	} else if (err == ENOENT) {
		/* a new filesystem: the root directory and the superblock, at once */
		struct zfs_tx tx;
		struct zfs_locks none = { 0 };
		struct zfs_inode root = { 0 };
		if (RAND_bytes((unsigned char *)&sb.fs_id, sizeof(sb.fs_id)) != 1)
			sb.fs_id = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
		sb.next_ino = ZFS_ROOT_INO + 1;
		sb.files = 1;
		root.a = (struct zfs_attr){ .ino = ZFS_ROOT_INO, .gen = sb.fs_id,
					    .type = ZFS_DIR, .mode = 0755, .nlink = 2, .change = 1 };
		zfs_now(&root.a.ctime);
		root.a.atime = root.a.mtime = root.a.ctime;
		root.parent = ZFS_ROOT_INO;
		root.next_cookie = ZFS_FIRST_COOKIE;
		if (!(err = zfs_tx_begin(fs, &tx, &none))) {
			zfs_tx_put_inode(&tx, &root);
			if (!(err = zfs_super_encode(&sb, &v)))
				zfs_tx_put_raw(&tx, k, zfs_key_super(k), v.data, v.len);
			if (err)
				zfs_tx_abort(&tx);
			else
				err = zfs_tx_commit(&tx, true);
		}
	}
	lsm_buf_free(&v);
	fs->fs_id = sb.fs_id;
	fs->legacy_chunks = sb.legacy_chunks;
	/* numbers below sb.next_ino may have been handed out: the first create
	 * reserves a new range above them */
	fs->next_ino = fs->ino_limit = sb.next_ino;
	fs->base_files = sb.files;
	fs->base_bytes = sb.bytes_used;
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
	if (!err) {
		*out = (struct zfs_info){ s.fs_id, s.next_ino, 0, 0 };
		err = zfs_read_totals(db, &s, &out->files, &out->bytes_used);
	}
	return err;
}

void zfs_close(struct zfs *fs)
{
	if (!fs)
		return;
	zfs_repacker_stop(fs);
	for (unsigned i = 0; i < ZFS_STRIPES; i++)
		pthread_mutex_destroy(&fs->stripe[i]);
	pthread_mutex_destroy(&fs->rename_lock);
	pthread_rwlock_destroy(&fs->quiesce);
	pthread_mutex_destroy(&fs->alloc_lock);
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

/* The end of every mutation: commits tx (unless err), releases the stripes,
 * and only then waits for durability, so no lock is held across the upload. */
static int finish(struct zfs *fs, struct zfs_locks *l, struct zfs_tx *tx, int err, bool durable)
{
	if (tx)
		err = err ? (zfs_tx_abort(tx), err) : zfs_tx_commit(tx, false);
	zfs_unlock(fs, l);
	if (!err && durable)
		err = zfs_commit_mine(fs);
	return err;
}

int zfs_create(struct zfs *fs, uint64_t dir, const char *name, const struct zfs_create_args *a,
	       bool durable, struct zfs_attr *attr)
{
	struct zfs_inode parent, in = { 0 };
	struct zfs_dirent d;
	struct zfs_locks l = { 0 };
	struct zfs_tx tx;
	uint64_t ino;
	int err;

	if ((err = check_name(name)))
		return err;
	if (a->type < ZFS_REG || a->type > ZFS_SOCK)
		return EINVAL;
	if (a->type == ZFS_LNK && (!a->target || strlen(a->target) > ZFS_SYMLINK_MAX))
		return a->target ? ENAMETOOLONG : EINVAL;
	zfs_op_begin();
	/* before any lock: it may wait for a durable reservation; a number
	 * that goes unused (EEXIST) is simply never used */
	if ((err = zfs_alloc_ino(fs, &ino)))
		return err;
	/* the new inode is nobody else's yet: the parent's stripe suffices */
	zfs_lock(fs, &l, &dir, 1);
	if ((err = load_dir(fs, dir, &parent)))
		return finish(fs, &l, NULL, err, false);
	if ((err = load_dirent(fs, dir, name, &d)) != ENOENT) {
		if (!err) {
			err = zfs_getattr(fs, d.ino, attr);
			err = err ? err : EEXIST;
		}
		goto out;
	}
	in.a = (struct zfs_attr){ .ino = ino, .gen = fs->fs_id,
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
			goto out;
		}
		parent.a.nlink++;
	}
	if (a->type == ZFS_LNK) {
		in.target = (char *)a->target;
		in.a.size = strlen(a->target);
	}
	if ((err = zfs_tx_begin(fs, &tx, &l)))
		goto out;
	tx.dfiles = 1;
	tx_add_entry(&tx, &parent, name, in.a.ino, a->type);
	touch(&parent, true);
	parent.a.ctime = parent.a.mtime = in.a.ctime;
	zfs_tx_put_inode(&tx, &in);
	zfs_tx_put_inode(&tx, &parent);
	zfs_inode_free(&parent);
	if (!(err = finish(fs, &l, &tx, 0, durable)) || err == EAGAIN)
		*attr = in.a; /* EAGAIN: made, not yet durable */
	return err;
out:
	zfs_inode_free(&parent);
	return finish(fs, &l, NULL, err, false);
}

int zfs_link(struct zfs *fs, uint64_t ino, uint64_t dir, const char *name, bool durable,
	     struct zfs_attr *attr)
{
	struct zfs_inode parent, in;
	struct zfs_dirent d;
	struct zfs_locks l = { 0 };
	struct zfs_tx tx;
	uint64_t both[2] = { ino, dir };
	int err;

	if ((err = check_name(name)))
		return err;
	zfs_op_begin();
	zfs_lock(fs, &l, both, 2);
	if ((err = load_dir(fs, dir, &parent)))
		return finish(fs, &l, NULL, err, false);
	if ((err = zfs_load_inode(fs, ino, &in))) {
		zfs_inode_free(&parent);
		return finish(fs, &l, NULL, err, false);
	}
	if (in.a.type == ZFS_DIR)
		err = EPERM;
	else if (in.a.nlink >= ZFS_LINK_MAX)
		err = EMLINK;
	else if ((err = load_dirent(fs, dir, name, &d)) != ENOENT)
		err = err ? err : EEXIST;
	else if (!(err = zfs_tx_begin(fs, &tx, &l))) {
		in.a.nlink++;
		touch(&in, false);
		tx_add_entry(&tx, &parent, name, ino, in.a.type);
		touch(&parent, true);
		zfs_tx_put_inode(&tx, &in);
		zfs_tx_put_inode(&tx, &parent);
		*attr = in.a;
		zfs_inode_free(&in);
		zfs_inode_free(&parent);
		return finish(fs, &l, &tx, 0, durable);
	}
	zfs_inode_free(&in);
	zfs_inode_free(&parent);
	return finish(fs, &l, NULL, err, false);
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
 * deletes it when no link remains. Directories must be empty. The caller
 * holds victim's stripe. */
static int tx_drop_link(struct zfs_tx *tx, struct zfs_inode *victim)
{
	int err = 0;
	if (victim->a.type == ZFS_DIR || victim->a.nlink <= 1) {
		uint64_t freed = 0;
		if (victim->a.type == ZFS_REG && (err = zfs_tx_del_chunks(tx, victim->a.ino, 0, &freed)))
			return err;
		zfs_tx_del_inode(tx, victim->a.ino);
		tx->dfiles--;
		tx->dbytes -= (int64_t)freed;
	} else {
		victim->a.nlink--;
		touch(victim, false);
		zfs_tx_put_inode(tx, victim);
	}
	return err;
}

/* Locks the stripes of dir and of what `name` in it names (*d): looks the
 * entry up under dir's stripe, then takes both in order, and looks again
 * if it had to let go. ENOENT if there is no such entry. */
static int lock_entry(struct zfs *fs, struct zfs_locks *l, uint64_t dir, const char *name,
		      struct zfs_dirent *d)
{
	for (;;) {
		int err;
		zfs_lock(fs, l, &dir, 1);
		if ((err = load_dirent(fs, dir, name, d))) {
			zfs_unlock(fs, l);
			return err;
		}
		uint64_t both[2] = { dir, d->ino };
		if (zfs_holds(l, both, 2))
			return 0;
		zfs_unlock(fs, l);
		zfs_lock(fs, l, both, 2);
		struct zfs_dirent again;
		err = load_dirent(fs, dir, name, &again);
		if (!err && again.ino == d->ino) {
			*d = again;
			return 0;
		}
		zfs_unlock(fs, l);
		if (err && err != ENOENT)
			return err;
		/* the entry changed while we let go: start over */
	}
}

/* Why a name was not found: the directory's error (ENOTDIR, ESTALE) or
 * ENOENT. */
static int no_entry(struct zfs *fs, uint64_t dir)
{
	struct zfs_inode p;
	int err = load_dir(fs, dir, &p);
	if (!err)
		zfs_inode_free(&p);
	return err ? err : ENOENT;
}

int zfs_remove(struct zfs *fs, uint64_t dir, const char *name, bool durable)
{
	struct zfs_inode parent, victim;
	struct zfs_dirent d;
	struct zfs_locks l = { 0 };
	struct zfs_tx tx;
	bool empty = true;
	int err;

	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return EINVAL;
	if (strlen(name) > ZFS_NAME_MAX)
		return ENAMETOOLONG;
	zfs_op_begin();
	if ((err = lock_entry(fs, &l, dir, name, &d)))
		return err == ENOENT ? no_entry(fs, dir) : err;
	if ((err = load_dir(fs, dir, &parent)))
		return finish(fs, &l, NULL, err, false);
	if ((err = zfs_load_inode(fs, d.ino, &victim))) {
		zfs_inode_free(&parent);
		return finish(fs, &l, NULL, dangling(err, dir, name, d.ino), false);
	}
	/* victim's stripe is held: nothing is created in it meanwhile */
	if (victim.a.type == ZFS_DIR && (err = dir_is_empty(fs, d.ino, &empty)) == 0 && !empty)
		err = ENOTEMPTY;
	if (!err && !(err = zfs_tx_begin(fs, &tx, &l))) {
		tx_del_entry(&tx, dir, name, &d);
		if (victim.a.type == ZFS_DIR)
			parent.a.nlink--;
		touch(&parent, true);
		zfs_tx_put_inode(&tx, &parent);
		err = tx_drop_link(&tx, &victim);
		zfs_inode_free(&victim);
		zfs_inode_free(&parent);
		return finish(fs, &l, &tx, err, durable);
	}
	zfs_inode_free(&victim);
	zfs_inode_free(&parent);
	return finish(fs, &l, NULL, err, false);
}

/* ---- rename ---- */

/* Is `anc` an ancestor of (or equal to) dir? Walks ".." to the root. The
 * caller holds rename_lock, so no ".." changes meanwhile. */
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

/* Locks both parents and what both names name (dd->ino = 0: no target):
 * looks them up under the parents' stripes, takes all four in order, and
 * looks again if it had to let go. */
static int lock_rename(struct zfs *fs, struct zfs_locks *l, uint64_t sdir, const char *sname,
		       uint64_t ddir, const char *dname, struct zfs_dirent *sd, struct zfs_dirent *dd)
{
	uint64_t dirs[2] = { sdir, ddir };
	for (bool relocked = false;;) {
		struct zfs_dirent s2, d2 = { 0 };
		int err;
		if (!relocked)
			zfs_lock(fs, l, dirs, 2);
		if ((err = load_dirent(fs, sdir, sname, &s2)) ||
		    ((err = load_dirent(fs, ddir, dname, &d2)) && err != ENOENT)) {
			zfs_unlock(fs, l);
			return err;
		}
		if (err == ENOENT)
			d2.ino = 0;
		uint64_t all[4] = { sdir, ddir, s2.ino, d2.ino };
		if (relocked && s2.ino == sd->ino && d2.ino == dd->ino)
			return 0; /* what we locked is what the names still name */
		*sd = s2;
		*dd = d2;
		if (!relocked && zfs_holds(l, all, 4))
			return 0;
		zfs_unlock(fs, l);
		zfs_lock(fs, l, all, 4);
		relocked = true;
	}
}

int zfs_rename(struct zfs *fs, uint64_t sdir, const char *sname, uint64_t ddir, const char *dname,
	       bool durable)
{
	struct zfs_inode sp = { 0 }, dp = { 0 }, src = { 0 }, dst = { 0 };
	struct zfs_dirent sd = { 0 }, dd = { 0 };
	struct zfs_locks l = { 0 };
	struct zfs_tx tx;
	bool have_dst = false, same_dir = sdir == ddir, loaded_dp = false, loaded_dst = false;
	bool tx_open = false;
	int err;

	if ((err = check_name(dname)) || (err = check_name(sname)))
		return err;
	zfs_op_begin();
	if (!same_dir)
		pthread_mutex_lock(&fs->rename_lock);
	/* both must be directories before a missing name is ENOENT */
	if ((err = no_entry(fs, sdir)) != ENOENT || (!same_dir && (err = no_entry(fs, ddir)) != ENOENT))
		goto unlocked;
	if ((err = lock_rename(fs, &l, sdir, sname, ddir, dname, &sd, &dd)))
		goto unlocked;
	/* reload under the stripes: what was read above only checked types */
	if ((err = load_dir(fs, sdir, &sp)))
		goto out;
	if (!same_dir) {
		if ((err = load_dir(fs, ddir, &dp)))
			goto out;
		loaded_dp = true;
	}
	struct zfs_inode *dparent = same_dir ? &sp : &dp;
	if ((err = zfs_load_inode(fs, sd.ino, &src))) {
		err = dangling(err, sdir, sname, sd.ino);
		goto out;
	}
	have_dst = dd.ino != 0;
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
	if ((err = zfs_tx_begin(fs, &tx, &l)))
		goto out;
	tx_open = true;
	tx_del_entry(&tx, sdir, sname, &sd);
	if (have_dst) {
		tx_del_entry(&tx, ddir, dname, &dd);
		if (dst.a.type == ZFS_DIR)
			dparent->a.nlink--;
		if ((err = tx_drop_link(&tx, &dst)))
			goto out;
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
out:
	zfs_inode_free(&sp);
	if (loaded_dp)
		zfs_inode_free(&dp);
	zfs_inode_free(&src);
	if (loaded_dst)
		zfs_inode_free(&dst);
	err = finish(fs, &l, tx_open ? &tx : NULL, err, durable && tx_open);
	if (!same_dir)
		pthread_mutex_unlock(&fs->rename_lock);
	return err;
unlocked:
	if (!same_dir)
		pthread_mutex_unlock(&fs->rename_lock);
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

int zfs_statfs(struct zfs *fs, struct zfs_statfs *out)
{
	zfs_totals(fs, &out->files, &out->bytes_used);
	return 0;
}
