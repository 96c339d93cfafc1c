// SPDX-License-Identifier: LGPL-3.0-or-later
/*
 * fsal_zerofs/handle.c - object ops: each is a translation of one ganesha
 * call into fs.h. A handle is just (ino, generation); attributes are read
 * from the filesystem every time they are asked for (MDCACHE caches them).
 *
 * Durability: every change is applied to the engine at once, then made
 * durable (zfs_commit_mine) before the reply when the export has Sync = true
 * (metadata) or the client asked for a stable write (data); commit2 makes
 * the file's changes durable (zfs_commit_ino). See settle().
 *
 * Share reservations and open modes are tracked exactly as ganesha's common
 * helpers expect (fsal_find_fd, check_share_conflict, update_share_counters):
 * the "fd" is only its open mode, since there is no descriptor behind it.
 */
#include "zerofs_int.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>



/* ---- handles ------------------------------------------------------------- */

static void put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

bool zerofs_fh_decode(const void *buf, size_t len, uint64_t *ino, uint64_t *gen)
{
	const uint8_t *p = buf;

	if (len != ZEROFS_FH_LEN || p[0] != ZEROFS_FH_VERSION)
		return false;
	*ino = get_le64(p + 1);
	*gen = get_le64(p + 9);
	return *ino != 0;
}

static object_file_type_t fsal_type(enum zfs_type t)
{
	switch (t) {
	case ZFS_REG: return REGULAR_FILE;
	case ZFS_DIR: return DIRECTORY;
	case ZFS_LNK: return SYMBOLIC_LINK;
	case ZFS_CHR: return CHARACTER_FILE;
	case ZFS_BLK: return BLOCK_FILE;
	case ZFS_FIFO: return FIFO_FILE;
	case ZFS_SOCK: return SOCKET_FILE;
	}
	return NO_FILE_TYPE;
}

struct zerofs_handle *zerofs_alloc_handle(struct zerofs_export *exp, const struct zfs_attr *a)
{
	struct zerofs_handle *h = gsh_calloc(1, sizeof(*h));

	h->exp = exp;
	h->ino = a->ino;
	h->gen = a->gen; /* 0 for a root made before the filesystem was open */
	h->key[0] = ZEROFS_FH_VERSION;
	put_le64(h->key + 1, h->ino);
	put_le64(h->key + 9, zerofs_fh_tag(a->gen, a->ino));
	fsal_obj_handle_init(&h->obj_handle, &exp->export, fsal_type(a->type));
	h->obj_handle.obj_ops = &zerofs_module_of(exp->export.fsal)->handle_ops;
	h->obj_handle.fileid = a->ino;
	h->obj_handle.fsid.major = exp->fsid;
	h->obj_handle.fsid.minor = 0;
	h->fd.openflags = FSAL_O_CLOSED;
	h->counters = zerofs_metrics_counters_get(exp->op_stats);
	return h;
}

static struct timespec ts(struct zfs_time t)
{
	return (struct timespec){ .tv_sec = t.sec, .tv_nsec = t.nsec };
}

static struct zfs_time zt(struct timespec t)
{
	return (struct zfs_time){ .sec = t.tv_sec, .nsec = (uint32_t)t.tv_nsec };
}

void zerofs_attr_to_fsal(const struct zerofs_export *exp, const struct zfs_attr *a,
			 struct fsal_attrlist *out)
{
	out->valid_mask = ATTRS_POSIX;
	out->supported = ATTRS_POSIX;
	out->type = fsal_type(a->type);
	out->filesize = a->size;
	out->fsid.major = exp->fsid;
	out->fsid.minor = 0;
	out->fileid = a->ino;
	out->mode = a->mode & 07777;
	out->numlinks = a->nlink;
	out->owner = a->uid;
	out->group = a->gid;
	out->rawdev.major = a->rdev_major;
	out->rawdev.minor = a->rdev_minor;
	out->atime = ts(a->atime);
	out->mtime = ts(a->mtime);
	out->ctime = ts(a->ctime);
	out->spaceused = a->used;
	out->change = a->change;
	out->generation = a->gen;
}

/* Attributes for attrs_out after an operation (which returned fresh ones). */
static void fill_attrs(struct zerofs_handle *h, const struct zfs_attr *a,
		       struct fsal_attrlist *attrs_out)
{
	if (attrs_out)
		zerofs_attr_to_fsal(h->exp, a, attrs_out);
}

static bool sync_meta(struct zerofs_export *exp)
{
	return __atomic_load_n(&exp->sync, __ATOMIC_RELAXED);
}

/* Changes go to the engine without waiting (durable = false), and with
 * Sync = true are then made durable before the reply: this thread's last
 * change and what was committed before it (zfs_commit_mine), not what other
 * requests committed since, so concurrent requests share WAL uploads (the
 * engine's group commit) and none waits for a later one's. A failed commit
 * leaves the change applied, to become durable once the store recovers, and
 * the client gets NFS3ERR_JUKEBOX / NFS4ERR_DELAY (it retries). */
static int settle(struct zerofs_export *exp, int err, bool durable)
{
	if (!err && durable)
		err = zfs_commit_mine(zerofs_fs(exp));
	return err;
}

/* Every op that can reach the filesystem starts with this: while the export's
 * store has not been reached yet (zerofs_int.h), the client is asked to
 * retry. Only the root's handle exists then, so ops on other handles always
 * find the filesystem open; they check anyway. */
static fsal_status_t not_open(struct zerofs_export *exp, const char *what)
{
	return zerofs_status(exp, EAGAIN, what);
}

/* h's attributes; ESTALE if its object is gone (or of another filesystem). */
static int obj_getattr(struct zerofs_handle *h, struct zfs_attr *a)
{
	struct zfs *fs = zerofs_fs(h->exp);

	if (!fs)
		return EAGAIN;
	if (h->ino == ZFS_ROOT_INO)
		return zfs_getattr(fs, h->ino, a);
	return zfs_getattr_gen(fs, h->ino, h->gen, a);
}

/* ---- "file descriptors": open modes only ----------------------------------- */

/* ganesha's fd helpers (fsal_find_fd, fsal_reopen_obj) call these on three
 * kinds of fd: the handle's global one (h->fd), the one after a state
 * (state_fd), and a temporary one that the caller of fsal_find_fd supplies
 * through its out_fd argument. The temporary one is used when the global fd
 * is closed and the caller asked for FSAL_O_ANY (LOCKT, an unlock without
 * a usable state), or when another thread holds the object's lock so the
 * global fd cannot be reopened; the helpers then call open_func on *out_fd,
 * and the caller must close it afterwards (closefd). So every caller of
 * fsal_find_fd here passes a temporary fd of its own (zerofs_find_fd), never a
 * NULL one: FSAL_MEM 4.3 passes an uninitialised pointer there, and this
 * plugin once passed NULL, which a client's LOCKT turned into a SIGSEGV. */
static fsal_status_t zerofs_open_func(struct fsal_obj_handle *obj_hdl, fsal_openflags_t openflags,
				      struct fsal_fd *fd)
{
	(void)obj_hdl;
	if (fd == NULL) { /* a caller broke the contract above: refuse, never crash */
		LogCrit(COMPONENT_FSAL, "open_func called without an fd");
		return fsalstat(ERR_FSAL_SERVERFAULT, 0);
	}
	fd->openflags = FSAL_O_NFS_FLAGS(openflags);
	return fsalstat(ERR_FSAL_NO_ERROR, 0);
}

static fsal_status_t zerofs_close_func(struct fsal_obj_handle *obj_hdl, struct fsal_fd *fd)
{
	(void)obj_hdl;
	if (fd == NULL || fd->openflags == FSAL_O_CLOSED)
		return fsalstat(ERR_FSAL_NOT_OPENED, 0);
	fd->openflags = FSAL_O_CLOSED;
	return fsalstat(ERR_FSAL_NO_ERROR, 0);
}

/* The result of zerofs_find_fd: the fd to use (the state's, the global one
 * or temp), whether ganesha's helpers left obj_lock held for reading, and
 * whether fd is the temporary one, to be closed when done. */
struct found_fd {
	struct fsal_fd temp;
	struct fsal_fd *fd;
	bool has_lock, closefd;
};

/* fsal_find_fd with a temporary fd of our own (see above). Returns with
 * f->has_lock set if obj_lock is held: release with put_fd. */
static fsal_status_t zerofs_find_fd(struct zerofs_handle *h, bool bypass, struct state_t *state,
				    fsal_openflags_t openflags, bool open_for_locks,
				    struct found_fd *f)
{
	bool reusing = false;

	f->temp.openflags = FSAL_O_CLOSED;
	f->fd = &f->temp;
	f->has_lock = f->closefd = false;
	return fsal_find_fd(&f->fd, &h->obj_handle, &h->fd, &h->share, bypass, state, openflags,
			    zerofs_open_func, zerofs_close_func, &f->has_lock, &f->closefd,
			    open_for_locks, &reusing);
}

/* Closes a temporary fd and releases obj_lock, as zerofs_find_fd left them
 * (after a failure too: the helpers report what they hold either way). */
static void put_fd(struct zerofs_handle *h, struct found_fd *f)
{
	if (f->closefd)
		(void)zerofs_close_func(&h->obj_handle, f->fd);
	if (f->has_lock)
		PTHREAD_RWLOCK_unlock(&h->obj_handle.obj_lock);
	f->closefd = f->has_lock = false;
}

static struct fsal_fd *state_fd(struct state_t *state)
{
	return (struct fsal_fd *)(state + 1);
}

/* ---- lookup, readdir, getattrs ------------------------------------------ */

static fsal_status_t zerofs_lookup(struct fsal_obj_handle *parent, const char *path,
				   struct fsal_obj_handle **handle, struct fsal_attrlist *attrs_out)
{
	struct zerofs_handle *dir = zerofs_handle_of(parent);
	struct zfs_attr a;
	int err;

	*handle = NULL;
	if (!zerofs_fs(dir->exp))
		return not_open(dir->exp, "lookup");
	if ((err = zfs_lookup(zerofs_fs(dir->exp), dir->ino, path, &a)))
		return zerofs_status(dir->exp, err, "lookup");
	*handle = &zerofs_alloc_handle(dir->exp, &a)->obj_handle;
	fill_attrs(dir, &a, attrs_out);
	return fsalstat(ERR_FSAL_NO_ERROR, 0);
}

struct readdir_ctx {
	struct zerofs_export *exp;
	fsal_readdir_cb cb;
	void *dir_state;
	attrmask_t attrmask;
	bool terminated;
};

/* fs.h hands each entry with the cookie that resumes after it: exactly the
 * cookie ganesha wants with each entry. */
static bool readdir_entry(void *vctx, const char *name, const struct zfs_attr *a,
			  uint64_t next_cookie)
{
	struct readdir_ctx *c = vctx;
	struct zerofs_handle *h = zerofs_alloc_handle(c->exp, a);
	struct fsal_attrlist attrs;
	enum fsal_dir_result r;

	fsal_prepare_attrs(&attrs, c->attrmask);
	zerofs_attr_to_fsal(c->exp, a, &attrs);
	r = c->cb(name, &h->obj_handle, &attrs, c->dir_state, next_cookie);
	fsal_release_attrs(&attrs);
	if (r >= DIR_TERMINATE) {
		c->terminated = true;
		return false;
	}
	return true;
}

static fsal_status_t zerofs_readdir(struct fsal_obj_handle *dir_hdl, fsal_cookie_t *whence,
				    void *dir_state, fsal_readdir_cb cb, attrmask_t attrmask,
				    bool *eof)
{
	struct zerofs_handle *dir = zerofs_handle_of(dir_hdl);
	struct readdir_ctx c = { dir->exp, cb, dir_state, attrmask, false };
	bool end = false;
	int err;

	*eof = false;
	if (!zerofs_fs(dir->exp))
		return not_open(dir->exp, "readdir");
	err = zfs_readdir(zerofs_fs(dir->exp), dir->ino, whence ? *whence : 0, readdir_entry, &c, &end);
	if (err)
		return zerofs_status(dir->exp, err, "readdir");
	*eof = end && !c.terminated;
	return fsalstat(ERR_FSAL_NO_ERROR, 0);
}

static fsal_status_t zerofs_getattrs(struct fsal_obj_handle *obj_hdl, struct fsal_attrlist *attrs)
{
	struct zerofs_handle *h = zerofs_handle_of(obj_hdl);
	struct zfs_attr a;
	int err = obj_getattr(h, &a);

	if (err) {
		if (attrs->request_mask & ATTR_RDATTR_ERR)
			attrs->valid_mask = ATTR_RDATTR_ERR;
		return err == ESTALE ? fsalstat(ERR_FSAL_STALE, ESTALE)
				     : zerofs_status(h->exp, err, "getattrs");
	}
	zerofs_attr_to_fsal(h->exp, &a, attrs);
	return fsalstat(ERR_FSAL_NO_ERROR, 0);
}

/* ---- creating objects ----------------------------------------------------- */

/* The creation attributes fs.h takes in one batch: mode (less the umask),
 * owner (the caller unless given), times (now unless given: an exclusive
 * create's verifier lives in atime/mtime). Directories in a set-group-ID
 * directory inherit its group and the bit, as on a local filesystem. */
static int create_args(struct zerofs_handle *dir, struct fsal_attrlist *in, uint32_t def_mode,
		       struct zfs_create_args *ca, struct zfs_time *at, struct zfs_time *mt)
{
	uint32_t umask = op_ctx->fsal_export->exp_ops.fs_umask(op_ctx->fsal_export);
	struct zfs_attr pa;
	int err;

	ca->mode = (in && FSAL_TEST_MASK(in->valid_mask, ATTR_MODE) ? in->mode : def_mode) &
		   07777 & ~umask;
	ca->uid = in && FSAL_TEST_MASK(in->valid_mask, ATTR_OWNER) ? (uint32_t)in->owner
								   : op_ctx->creds.caller_uid;
	ca->gid = in && FSAL_TEST_MASK(in->valid_mask, ATTR_GROUP) ? (uint32_t)in->group
								   : op_ctx->creds.caller_gid;
	if ((err = zfs_getattr(zerofs_fs(dir->exp), dir->ino, &pa)))
		return err;
	if (pa.mode & S_ISGID) {
		if (!(in && FSAL_TEST_MASK(in->valid_mask, ATTR_GROUP)))
			ca->gid = pa.gid;
		if (ca->type == ZFS_DIR)
			ca->mode |= S_ISGID;
	}
	ca->atime = ca->mtime = NULL;
	if (in && FSAL_TEST_MASK(in->valid_mask, ATTR_ATIME) &&
	    !FSAL_TEST_MASK(in->valid_mask, ATTR_ATIME_SERVER)) {
		*at = zt(in->atime);
		ca->atime = at;
	}
	if (in && FSAL_TEST_MASK(in->valid_mask, ATTR_MTIME) &&
	    !FSAL_TEST_MASK(in->valid_mask, ATTR_MTIME_SERVER)) {
		*mt = zt(in->mtime);
		ca->mtime = mt;
	}
	return 0;
}

static fsal_status_t create_obj(struct fsal_obj_handle *dir_hdl, const char *name,
				struct zfs_create_args *ca, uint32_t def_mode,
				struct fsal_attrlist *attrs_in, struct fsal_obj_handle **new_obj,
				struct fsal_attrlist *attrs_out, const char *what)
{
	struct zerofs_handle *dir = zerofs_handle_of(dir_hdl);
	struct zfs_time at, mt;
	struct zfs_attr a;
	int err;

	*new_obj = NULL;
	if (!zerofs_fs(dir->exp))
		return not_open(dir->exp, what);
	if ((err = create_args(dir, attrs_in, def_mode, ca, &at, &mt)) ||
	    (err = settle(dir->exp, zfs_create(zerofs_fs(dir->exp), dir->ino, name, ca, false, &a),
			  sync_meta(dir->exp))))
		return zerofs_status(dir->exp, err, what);
	*new_obj = &zerofs_alloc_handle(dir->exp, &a)->obj_handle;
	fill_attrs(dir, &a, attrs_out);
	return fsalstat(ERR_FSAL_NO_ERROR, 0);
}

static fsal_status_t zerofs_mkdir(struct fsal_obj_handle *dir_hdl, const char *name,
				  struct fsal_attrlist *attrs_in, struct fsal_obj_handle **new_obj,
				  struct fsal_attrlist *attrs_out)
{
	struct zfs_create_args ca = { .type = ZFS_DIR };

	return create_obj(dir_hdl, name, &ca, 0755, attrs_in, new_obj, attrs_out, "mkdir");
}

static fsal_status_t zerofs_mknode(struct fsal_obj_handle *dir_hdl, const char *name,
				   object_file_type_t nodetype, struct fsal_attrlist *attrs_in,
				   struct fsal_obj_handle **new_obj, struct fsal_attrlist *attrs_out)
{
	struct zfs_create_args ca = { 0 };

	switch (nodetype) {
	case CHARACTER_FILE: ca.type = ZFS_CHR; break;
	case BLOCK_FILE: ca.type = ZFS_BLK; break;
	case FIFO_FILE: ca.type = ZFS_FIFO; break;
	case SOCKET_FILE: ca.type = ZFS_SOCK; break;
	default:
		*new_obj = NULL;
		return fsalstat(ERR_FSAL_BADTYPE, 0);
	}
	if (ca.type == ZFS_CHR || ca.type == ZFS_BLK) {
		ca.rdev_major = (uint32_t)attrs_in->rawdev.major;
		ca.rdev_minor = (uint32_t)attrs_in->rawdev.minor;
	}
	return create_obj(dir_hdl, name, &ca, 0644, attrs_in, new_obj, attrs_out, "mknode");
}

static fsal_status_t zerofs_symlink(struct fsal_obj_handle *dir_hdl, const char *name,
				   const char *link_path, struct fsal_attrlist *attrs_in,
				   struct fsal_obj_handle **new_obj, struct fsal_attrlist *attrs_out)
{
	struct zfs_create_args ca = { .type = ZFS_LNK, .target = link_path };

	return create_obj(dir_hdl, name, &ca, 0777, attrs_in, new_obj, attrs_out, "symlink");
}

static fsal_status_t zerofs_readlink(struct fsal_obj_handle *obj_hdl, struct gsh_buffdesc *link_content,
				    bool refresh)
{
	struct zerofs_handle *h = zerofs_handle_of(obj_hdl);
	char *buf = gsh_malloc(ZFS_SYMLINK_MAX + 1);
	size_t len = 0;
	int err;

	(void)refresh;
	if (!zerofs_fs(h->exp)) {
		gsh_free(buf);
		return not_open(h->exp, "readlink");
	}
	if ((err = zfs_readlink(zerofs_fs(h->exp), h->ino, buf, ZFS_SYMLINK_MAX + 1, &len))) {
		gsh_free(buf);
		link_content->addr = NULL;
		link_content->len = 0;
		return zerofs_status(h->exp, err, "readlink");
	}
	link_content->addr = buf;
	link_content->len = len + 1; /* with its NUL, as ganesha's FSALs do */
	return fsalstat(ERR_FSAL_NO_ERROR, 0);
}

/* ---- namespace changes ------------------------------------------------------ */

static fsal_status_t zerofs_link(struct fsal_obj_handle *obj_hdl, struct fsal_obj_handle *dir_hdl,
				 const char *name)
{
	struct zerofs_handle *h = zerofs_handle_of(obj_hdl), *dir = zerofs_handle_of(dir_hdl);
	struct zfs_attr a;
	int err;

	if (!zerofs_fs(h->exp))
		return not_open(h->exp, "link");
	err = settle(h->exp, zfs_link(zerofs_fs(h->exp), h->ino, dir->ino, name, false, &a),
			 sync_meta(h->exp));

	return zerofs_status(h->exp, err, "link");
}

static fsal_status_t zerofs_rename(struct fsal_obj_handle *obj_hdl, struct fsal_obj_handle *olddir_hdl,
				   const char *old_name, struct fsal_obj_handle *newdir_hdl,
				   const char *new_name)
{
	struct zerofs_handle *od = zerofs_handle_of(olddir_hdl), *nd = zerofs_handle_of(newdir_hdl);
	int err;

	(void)obj_hdl;
	if (!zerofs_fs(od->exp))
		return not_open(od->exp, "rename");
	err = settle(od->exp, zfs_rename(zerofs_fs(od->exp), od->ino, old_name, nd->ino, new_name, false),
		     sync_meta(od->exp));
	return zerofs_status(od->exp, err, "rename");
}

static fsal_status_t zerofs_unlink(struct fsal_obj_handle *dir_hdl, struct fsal_obj_handle *obj_hdl,
				   const char *name)
{
	struct zerofs_handle *dir = zerofs_handle_of(dir_hdl);
	int err;

	(void)obj_hdl;
	if (!zerofs_fs(dir->exp))
		return not_open(dir->exp, "unlink");
	err = settle(dir->exp, zfs_remove(zerofs_fs(dir->exp), dir->ino, name, false), sync_meta(dir->exp));
	return zerofs_status(dir->exp, err, "unlink");
}

/* ---- setattr ----------------------------------------------------------------- */

/* Applies the settable attributes of `in` (mode less the umask, owner,
 * size, times incl. "set to server time"). */
static int apply_attrs(struct zerofs_handle *h, struct fsal_attrlist *in, struct zfs_attr *out)
{
	uint32_t umask = op_ctx->fsal_export->exp_ops.fs_umask(op_ctx->fsal_export);
	struct zfs_attr a = { 0 };
	unsigned mask = 0;

	if (FSAL_TEST_MASK(in->valid_mask, ATTR_MODE)) {
		mask |= ZFS_SET_MODE;
		a.mode = in->mode & 07777 & ~umask;
	}
	if (FSAL_TEST_MASK(in->valid_mask, ATTR_OWNER)) {
		mask |= ZFS_SET_UID;
		a.uid = (uint32_t)in->owner;
	}
	if (FSAL_TEST_MASK(in->valid_mask, ATTR_GROUP)) {
		mask |= ZFS_SET_GID;
		a.gid = (uint32_t)in->group;
	}
	if (FSAL_TEST_MASK(in->valid_mask, ATTR_SIZE)) {
		mask |= ZFS_SET_SIZE;
		a.size = in->filesize;
	}
	if (FSAL_TEST_MASK(in->valid_mask, ATTR_ATIME_SERVER)) {
		mask |= ZFS_SET_ATIME_NOW;
	} else if (FSAL_TEST_MASK(in->valid_mask, ATTR_ATIME)) {
		mask |= ZFS_SET_ATIME;
		a.atime = zt(in->atime);
	}
	if (FSAL_TEST_MASK(in->valid_mask, ATTR_MTIME_SERVER)) {
		mask |= ZFS_SET_MTIME_NOW;
	} else if (FSAL_TEST_MASK(in->valid_mask, ATTR_MTIME)) {
		mask |= ZFS_SET_MTIME;
		a.mtime = zt(in->mtime);
	}
	if (!mask)
		return obj_getattr(h, out);
	return settle(h->exp, zfs_setattr(zerofs_fs(h->exp), h->ino, mask, &a, false, out), sync_meta(h->exp));
}

static fsal_status_t zerofs_setattr2(struct fsal_obj_handle *obj_hdl, bool bypass,
				     struct state_t *state, struct fsal_attrlist *attrs)
{
	struct zerofs_handle *h = zerofs_handle_of(obj_hdl);
	struct zfs_attr a;
	int err;

	if (!zerofs_fs(h->exp))
		return not_open(h->exp, "setattr");
	if (FSAL_TEST_MASK(attrs->valid_mask, ATTR_SIZE)) {
		struct found_fd f;
		fsal_status_t st;

		if (obj_hdl->type != REGULAR_FILE)
			return fsalstat(ERR_FSAL_INVAL, EINVAL);
		/* changing the size is a write: honour share reservations */
		st = zerofs_find_fd(h, bypass, state, FSAL_O_WRITE, false, &f);
		put_fd(h, &f);
		if (FSAL_IS_ERROR(st))
			return st;
	}
	err = apply_attrs(h, attrs, &a);
	return zerofs_status(h->exp, err, "setattr");
}

/* ---- open, reopen, close ------------------------------------------------------ */

static int truncate0(struct zerofs_handle *h)
{
	struct zfs_attr a = { .size = 0 };
	struct zfs_attr out;

	return settle(h->exp, zfs_setattr(zerofs_fs(h->exp), h->ino, ZFS_SET_SIZE, &a, false, &out),
		      sync_meta(h->exp));
}

/* Open by handle (name == NULL): take the share, maybe truncate, check an
 * exclusive create's verifier. */
static fsal_status_t open_by_handle(struct zerofs_handle *h, struct state_t *state,
				    fsal_openflags_t openflags, enum fsal_create_mode createmode,
				    fsal_verifier_t verifier, struct fsal_attrlist *attrs_out)
{
	struct fsal_obj_handle *obj = &h->obj_handle;
	struct fsal_fd *fd = state ? state_fd(state) : &h->fd;
	fsal_status_t st = fsalstat(ERR_FSAL_NO_ERROR, 0);
	struct fsal_attrlist cur;
	struct zfs_attr a;
	int err;

	PTHREAD_RWLOCK_wrlock(&obj->obj_lock);
	if (state) {
		st = check_share_conflict(&h->share, openflags, false);
		if (FSAL_IS_ERROR(st)) {
			PTHREAD_RWLOCK_unlock(&obj->obj_lock);
			return st;
		}
		update_share_counters(&h->share, FSAL_O_CLOSED, openflags);
	}
	fd->openflags = FSAL_O_NFS_FLAGS(openflags);

	err = (openflags & FSAL_O_TRUNC) ? truncate0(h) : 0;
	if (!err)
		err = obj_getattr(h, &a);
	if (err) {
		st = zerofs_status(h->exp, err, "open");
	} else if (createmode >= FSAL_EXCLUSIVE && createmode != FSAL_EXCLUSIVE_9P) {
		fsal_prepare_attrs(&cur, ATTR_ATIME | ATTR_MTIME);
		zerofs_attr_to_fsal(h->exp, &a, &cur);
		if (!check_verifier_attrlist(&cur, verifier, false))
			st = fsalstat(ERR_FSAL_EXIST, EEXIST);
		fsal_release_attrs(&cur);
	}
	if (!FSAL_IS_ERROR(st)) {
		fill_attrs(h, &a, attrs_out);
	} else {
		fd->openflags = FSAL_O_CLOSED;
		if (state)
			update_share_counters(&h->share, openflags, FSAL_O_CLOSED);
	}
	PTHREAD_RWLOCK_unlock(&obj->obj_lock);
	return st;
}

static fsal_status_t zerofs_open2(struct fsal_obj_handle *obj_hdl, struct state_t *state,
				  fsal_openflags_t openflags, enum fsal_create_mode createmode,
				  const char *name, struct fsal_attrlist *attrs_set,
				  fsal_verifier_t verifier, struct fsal_obj_handle **new_obj,
				  struct fsal_attrlist *attrs_out, bool *caller_perm_check)
{
	struct zerofs_handle *dir = zerofs_handle_of(obj_hdl), *h;
	struct zerofs_export *exp = dir->exp;
	struct fsal_attrlist verifier_attrs;
	struct zfs_attr a;
	bool created = false;
	int err;

	if (!zerofs_fs(exp))
		return not_open(exp, "open");
	if (createmode >= FSAL_EXCLUSIVE) {
		/* the verifier goes into atime/mtime, as every FSAL does */
		if (!attrs_set) {
			memset(&verifier_attrs, 0, sizeof(verifier_attrs));
			attrs_set = &verifier_attrs;
		}
		set_common_verifier(attrs_set, verifier, false);
	}

	if (name == NULL)
		return open_by_handle(dir, state, openflags, createmode, verifier, attrs_out);

	/* Open by name in directory `dir`. */
	*new_obj = NULL;
	err = zfs_lookup(zerofs_fs(exp), dir->ino, name, &a);
	if (err == ENOENT && createmode != FSAL_NO_CREATE) {
		struct zfs_create_args ca = { .type = ZFS_REG };
		struct zfs_time at, mt;

		if (!(err = create_args(dir, attrs_set, 0600, &ca, &at, &mt)))
			err = settle(exp, zfs_create(zerofs_fs(exp), dir->ino, name, &ca, false, &a),
				     sync_meta(exp));
		if (!err)
			created = true;
		/* EEXIST: lost a race with another creator; a is the winner */
	}
	if (err && err != EEXIST)
		return zerofs_status(exp, err, "open");
	if (!created) {
		if (a.type == ZFS_DIR)
			return fsalstat(ERR_FSAL_ISDIR, EISDIR);
		if (a.type != ZFS_REG)
			return fsalstat(ERR_FSAL_SYMLINK, 0);
		if (createmode == FSAL_GUARDED)
			return fsalstat(ERR_FSAL_EXIST, EEXIST);
		if (createmode >= FSAL_EXCLUSIVE && createmode != FSAL_EXCLUSIVE_9P) {
			/* a retried exclusive create succeeds if the verifier
			 * matches, else the name is taken */
			struct fsal_attrlist cur;
			bool match;

			fsal_prepare_attrs(&cur, ATTR_ATIME | ATTR_MTIME);
			zerofs_attr_to_fsal(exp, &a, &cur);
			match = check_verifier_attrlist(&cur, verifier, false);
			fsal_release_attrs(&cur);
			if (!match)
				return fsalstat(ERR_FSAL_EXIST, EEXIST);
		}
	}

	h = zerofs_alloc_handle(exp, &a);
	*new_obj = &h->obj_handle;
	/* An existing file is opened before ganesha checks the caller's
	 * permission (caller_perm_check); truncating is a write, so check
	 * that first ourselves. */
	*caller_perm_check = !created;
	if (!created && (openflags & FSAL_O_TRUNC)) {
		fsal_status_t st = h->obj_handle.obj_ops->test_access(
			&h->obj_handle,
			FSAL_MODE_MASK_SET(FSAL_W_OK) | FSAL_ACE4_MASK_SET(FSAL_ACE_PERM_WRITE_DATA),
			NULL, NULL, false);
		if (!FSAL_IS_ERROR(st) && (err = truncate0(h)))
			st = zerofs_status(exp, err, "open (truncate)");
		if (FSAL_IS_ERROR(st)) {
			h->obj_handle.obj_ops->release(&h->obj_handle);
			*new_obj = NULL;
			return st;
		}
		if ((err = obj_getattr(h, &a))) {
			h->obj_handle.obj_ops->release(&h->obj_handle);
			*new_obj = NULL;
			return zerofs_status(exp, err, "open");
		}
	}
	if (created && attrs_set && FSAL_TEST_MASK(attrs_set->valid_mask, ATTR_SIZE) &&
	    attrs_set->filesize != 0) {
		struct zfs_attr sz = { .size = attrs_set->filesize };
		if ((err = settle(exp, zfs_setattr(zerofs_fs(exp), h->ino, ZFS_SET_SIZE, &sz, false, &a),
				  sync_meta(exp)))) {
			h->obj_handle.obj_ops->release(&h->obj_handle);
			*new_obj = NULL;
			return zerofs_status(exp, err, "open (size)");
		}
	}

	if (state) {
		PTHREAD_RWLOCK_wrlock(&h->obj_handle.obj_lock);
		update_share_counters(&h->share, FSAL_O_CLOSED, openflags);
		state_fd(state)->openflags = FSAL_O_NFS_FLAGS(openflags);
		PTHREAD_RWLOCK_unlock(&h->obj_handle.obj_lock);
	} else {
		h->fd.openflags = FSAL_O_NFS_FLAGS(openflags);
	}
	fill_attrs(h, &a, attrs_out);
	return fsalstat(ERR_FSAL_NO_ERROR, 0);
}

static fsal_status_t zerofs_reopen2(struct fsal_obj_handle *obj_hdl, struct state_t *state,
				    fsal_openflags_t openflags)
{
	struct zerofs_handle *h = zerofs_handle_of(obj_hdl);
	struct fsal_fd *fd = state_fd(state);
	fsal_openflags_t old = fd->openflags;
	fsal_status_t st;
	int err;

	if (!zerofs_fs(h->exp))
		return not_open(h->exp, "reopen");
	PTHREAD_RWLOCK_wrlock(&obj_hdl->obj_lock);
	/* An upgrade or downgrade conflicts with the other opens' shares, not
	 * with this open's own: take it out of the counters for the check
	 * (ganesha 4.3's FSAL_VFS checks against all of them, so a client that
	 * opened with deny write could never upgrade to write). */
	update_share_counters(&h->share, old, FSAL_O_CLOSED);
	st = check_share_conflict(&h->share, openflags, false);
	if (FSAL_IS_ERROR(st)) {
		update_share_counters(&h->share, FSAL_O_CLOSED, old);
		PTHREAD_RWLOCK_unlock(&obj_hdl->obj_lock);
		return st;
	}
	update_share_counters(&h->share, FSAL_O_CLOSED, openflags);
	fd->openflags = FSAL_O_NFS_FLAGS(openflags);
	if ((openflags & FSAL_O_TRUNC) && (err = truncate0(h))) {
		update_share_counters(&h->share, openflags, old);
		fd->openflags = old;
		st = zerofs_status(h->exp, err, "reopen (truncate)");
	}
	PTHREAD_RWLOCK_unlock(&obj_hdl->obj_lock);
	return st;
}

static fsal_openflags_t zerofs_status2(struct fsal_obj_handle *obj_hdl, struct state_t *state)
{
	(void)obj_hdl;
	return state_fd(state)->openflags;
}

static fsal_status_t zerofs_close(struct fsal_obj_handle *obj_hdl)
{
	struct zerofs_handle *h = zerofs_handle_of(obj_hdl);
	fsal_status_t st;

	PTHREAD_RWLOCK_wrlock(&obj_hdl->obj_lock);
	st = zerofs_close_func(obj_hdl, &h->fd);
	PTHREAD_RWLOCK_unlock(&obj_hdl->obj_lock);
	return st;
}

static fsal_status_t zerofs_close2(struct fsal_obj_handle *obj_hdl, struct state_t *state)
{
	struct zerofs_handle *h = zerofs_handle_of(obj_hdl);
	struct fsal_fd *fd = state_fd(state);
	fsal_status_t st;

	PTHREAD_RWLOCK_wrlock(&obj_hdl->obj_lock);
	if (state->state_type == STATE_TYPE_SHARE || state->state_type == STATE_TYPE_NLM_SHARE ||
	    state->state_type == STATE_TYPE_9P_FID)
		update_share_counters(&h->share, fd->openflags, FSAL_O_CLOSED);
	st = zerofs_close_func(obj_hdl, fd);
	PTHREAD_RWLOCK_unlock(&obj_hdl->obj_lock);
	return st;
}

/* ---- I/O ------------------------------------------------------------------------ */

static void zerofs_read2(struct fsal_obj_handle *obj_hdl, bool bypass, fsal_async_cb done_cb,
			 struct fsal_io_arg *read_arg, void *caller_arg)
{
	struct zerofs_handle *h = zerofs_handle_of(obj_hdl);
	struct found_fd f = { .has_lock = false };
	bool eof = false;
	uint64_t off = read_arg->offset;
	fsal_status_t st;
	int err = 0;

	if (read_arg->info != NULL) {
		/* READ_PLUS: the client falls back to READ */
		done_cb(obj_hdl, fsalstat(ERR_FSAL_NOTSUPP, 0), read_arg, caller_arg);
		return;
	}
	if (obj_hdl->type != REGULAR_FILE) {
		done_cb(obj_hdl, fsalstat(obj_hdl->type == DIRECTORY ? ERR_FSAL_ISDIR : ERR_FSAL_INVAL, 0),
			read_arg, caller_arg);
		return;
	}
	if (!zerofs_fs(h->exp)) {
		done_cb(obj_hdl, not_open(h->exp, "read"), read_arg, caller_arg);
		return;
	}
	st = zerofs_find_fd(h, bypass, read_arg->state, FSAL_O_READ, false, &f);
	if (FSAL_IS_ERROR(st))
		goto out;

	read_arg->io_amount = 0;
	for (int i = 0; i < read_arg->iov_count && !eof; i++) {
		size_t got = 0;
		err = zfs_read(zerofs_fs(h->exp), h->ino, off, read_arg->iov[i].iov_len,
			       read_arg->iov[i].iov_base, &got, &eof);
		if (err)
			break;
		read_arg->io_amount += got;
		off += got;
		if (got < read_arg->iov[i].iov_len)
			eof = true;
	}
	if (err && read_arg->io_amount == 0)
		st = zerofs_status(h->exp, err, "read");
	read_arg->end_of_file = !err && eof;
out:
	put_fd(h, &f);
	done_cb(obj_hdl, st, read_arg, caller_arg);
}

static void zerofs_write2(struct fsal_obj_handle *obj_hdl, bool bypass, fsal_async_cb done_cb,
			  struct fsal_io_arg *write_arg, void *caller_arg)
{
	struct zerofs_handle *h = zerofs_handle_of(obj_hdl);
	struct found_fd f = { .has_lock = false };
	bool stable = write_arg->fsal_stable;
	uint64_t off = write_arg->offset;
	fsal_status_t st;
	struct zfs_attr a;
	int err = 0;

	if (obj_hdl->type != REGULAR_FILE) {
		done_cb(obj_hdl, fsalstat(obj_hdl->type == DIRECTORY ? ERR_FSAL_ISDIR : ERR_FSAL_INVAL, 0),
			write_arg, caller_arg);
		return;
	}
	if (!zerofs_fs(h->exp)) {
		done_cb(obj_hdl, not_open(h->exp, "write"), write_arg, caller_arg);
		return;
	}
	st = zerofs_find_fd(h, bypass, write_arg->state, FSAL_O_WRITE, false, &f);
	if (FSAL_IS_ERROR(st))
		goto out;

	/* UNSTABLE data may stay in memory until COMMIT; a stable write is
	 * durable before the reply. */
	write_arg->io_amount = 0;
	for (int i = 0; i < write_arg->iov_count; i++) {
		size_t n = write_arg->iov[i].iov_len;
		err = zfs_write(zerofs_fs(h->exp), h->ino, off, n, write_arg->iov[i].iov_base, false, &a);
		if (err)
			break;
		write_arg->io_amount += n;
		off += n;
	}
	err = settle(h->exp, err, stable);
	if (err) {
		/* a stable write that did not become durable must not be
		 * acknowledged, even in part */
		if (write_arg->io_amount == 0 || stable)
			st = zerofs_status(h->exp, err, "write");
	}
	write_arg->fsal_stable = stable;
out:
	put_fd(h, &f);
	done_cb(obj_hdl, st, write_arg, caller_arg);
}

static fsal_status_t zerofs_commit2(struct fsal_obj_handle *obj_hdl, off_t offset, size_t len)
{
	struct zerofs_handle *h = zerofs_handle_of(obj_hdl);

	(void)offset;
	(void)len;
	if (!zerofs_fs(h->exp))
		return not_open(h->exp, "commit");
	/* this file's changes, by any client: a COMMIT of a file with
	 * nothing unstable costs no upload, whatever others write meanwhile */
	return zerofs_status(h->exp, zfs_commit_ino(zerofs_fs(h->exp), h->ino), "commit");
}

static fsal_status_t zerofs_seek2(struct fsal_obj_handle *obj_hdl, struct state_t *state,
				  struct io_info *info)
{
	struct zerofs_handle *h = zerofs_handle_of(obj_hdl);
	uint64_t off = info->io_content.hole.di_offset, res = 0;
	struct zfs_attr a;
	int what, err;

	(void)state;
	if (info->io_content.what == NFS4_CONTENT_DATA)
		what = SEEK_DATA;
	else if (info->io_content.what == NFS4_CONTENT_HOLE)
		what = SEEK_HOLE;
	else
		return fsalstat(ERR_FSAL_UNION_NOTSUPP, 0);
	if ((err = obj_getattr(h, &a)))
		return zerofs_status(h->exp, err, "seek");
	if (off >= a.size) /* RFC 7862 15.11.3 */
		return fsalstat(ERR_FSAL_NXIO, ENXIO);
	err = zfs_seek(zerofs_fs(h->exp), h->ino, off, what, &res);
	if (err == ENXIO) {
		info->io_eof = TRUE;
		return fsalstat(ERR_FSAL_NO_ERROR, 0);
	}
	if (err)
		return zerofs_status(h->exp, err, "seek");
	info->io_eof = res >= a.size;
	info->io_content.hole.di_offset = res;
	return fsalstat(ERR_FSAL_NO_ERROR, 0);
}

/* Locks are arbitrated by ganesha's state layer (one server owns the
 * filesystem: others are fenced), so the FSAL only checks the open mode. */
static fsal_status_t zerofs_lock_op2(struct fsal_obj_handle *obj_hdl, struct state_t *state,
				     void *owner, fsal_lock_op_t lock_op,
				     fsal_lock_param_t *request_lock,
				     fsal_lock_param_t *conflicting_lock)
{
	struct zerofs_handle *h = zerofs_handle_of(obj_hdl);
	struct found_fd f;
	bool bypass = false;
	fsal_openflags_t openflags;
	fsal_status_t st;

	(void)owner;
	if (obj_hdl->type != REGULAR_FILE)
		return fsalstat(ERR_FSAL_INVAL, 0);
	switch (lock_op) {
	case FSAL_OP_LOCKT:
		bypass = true;
		openflags = FSAL_O_ANY;
		break;
	case FSAL_OP_LOCK:
		openflags = request_lock->lock_type == FSAL_LOCK_R   ? FSAL_O_READ
			    : request_lock->lock_type == FSAL_LOCK_W ? FSAL_O_WRITE
								     : FSAL_O_RDWR;
		break;
	case FSAL_OP_UNLOCK:
		openflags = FSAL_O_ANY;
		break;
	default:
		return fsalstat(ERR_FSAL_NOTSUPP, 0);
	}
	st = zerofs_find_fd(h, bypass, state, openflags, true, &f);
	put_fd(h, &f);
	if (!FSAL_IS_ERROR(st) && lock_op == FSAL_OP_LOCKT && conflicting_lock)
		conflicting_lock->lock_type = FSAL_NO_LOCK;
	return st;
}

/* ---- handle plumbing ------------------------------------------------------------ */

static fsal_status_t zerofs_handle_to_wire(const struct fsal_obj_handle *obj_hdl,
					   fsal_digesttype_t output_type, struct gsh_buffdesc *fh_desc)
{
	const struct zerofs_handle *h = container_of(obj_hdl, const struct zerofs_handle, obj_handle);

	switch (output_type) {
	case FSAL_DIGEST_NFSV3:
	case FSAL_DIGEST_NFSV4:
		if (fh_desc->len < ZEROFS_FH_LEN) {
			LogMajor(COMPONENT_FSAL, "handle buffer too small: need %d, have %zu",
				 ZEROFS_FH_LEN, fh_desc->len);
			return fsalstat(ERR_FSAL_TOOSMALL, 0);
		}
		memcpy(fh_desc->addr, h->key, ZEROFS_FH_LEN);
		fh_desc->len = ZEROFS_FH_LEN;
		return fsalstat(ERR_FSAL_NO_ERROR, 0);
	default:
		return fsalstat(ERR_FSAL_SERVERFAULT, 0);
	}
}

static void zerofs_handle_to_key(struct fsal_obj_handle *obj_hdl, struct gsh_buffdesc *fh_desc)
{
	struct zerofs_handle *h = zerofs_handle_of(obj_hdl);

	fh_desc->addr = h->key;
	fh_desc->len = ZEROFS_FH_LEN;
}

static void zerofs_release(struct fsal_obj_handle *obj_hdl)
{
	struct zerofs_handle *h = zerofs_handle_of(obj_hdl);

	fsal_obj_handle_fini(obj_hdl);
	zerofs_metrics_counters_put(h->counters);
	gsh_free(h);
}

/* Two handles for one object (a create race in MDCACHE): merge their share
 * reservations into the one that stays. */
static fsal_status_t zerofs_merge(struct fsal_obj_handle *orig_hdl, struct fsal_obj_handle *dupe_hdl)
{
	if (orig_hdl == dupe_hdl || orig_hdl->type != REGULAR_FILE ||
	    dupe_hdl->type != REGULAR_FILE)
		return fsalstat(ERR_FSAL_NO_ERROR, 0);
	return merge_share(orig_hdl, &zerofs_handle_of(orig_hdl)->share,
			   &zerofs_handle_of(dupe_hdl)->share);
}

void zerofs_handle_ops_init(struct fsal_obj_ops *ops)
{
	fsal_default_obj_ops_init(ops);

	ops->release = zerofs_release;
	ops->merge = zerofs_merge;
	ops->lookup = zerofs_lookup;
	ops->readdir = zerofs_readdir;
	ops->mkdir = zerofs_mkdir;
	ops->mknode = zerofs_mknode;
	ops->symlink = zerofs_symlink;
	ops->readlink = zerofs_readlink;
	ops->getattrs = zerofs_getattrs;
	ops->setattr2 = zerofs_setattr2;
	ops->link = zerofs_link;
	ops->rename = zerofs_rename;
	ops->unlink = zerofs_unlink;
	ops->open2 = zerofs_open2;
	ops->reopen2 = zerofs_reopen2;
	ops->status2 = zerofs_status2;
	ops->close = zerofs_close;
	ops->close2 = zerofs_close2;
	ops->read2 = zerofs_read2;
	ops->write2 = zerofs_write2;
	ops->commit2 = zerofs_commit2;
	ops->seek2 = zerofs_seek2;
	ops->lock_op2 = zerofs_lock_op2;
	ops->handle_to_wire = zerofs_handle_to_wire;
	ops->handle_to_key = zerofs_handle_to_key;
}
