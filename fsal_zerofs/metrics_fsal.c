// SPDX-License-Identifier: LGPL-3.0-or-later
/*
 * fsal_zerofs/metrics_fsal.c - the metrics' ganesha side: the op counters
 * of every export, the list of live exports the server walks, and the
 * server's start and stop (the ZEROFS block's Metrics_Address).
 *
 * Counting: the object and export op tables that handle.c and export.c set
 * up are wrapped once: each wrapper reads the clock, calls the real op and
 * records its latency and whether it failed in the export's counters
 * (metrics.h: a few relaxed atomic adds, no lock). read2/write2 answer
 * through a callback, so their wrapper times until that callback. Ops are
 * counted whether or not the server runs; only serving is optional. An op
 * slower than a second is logged at DEBUG (COMPONENT_FSAL).
 *
 * The server's thread snapshots the listed exports under registry_lock:
 * an export is listed once create_export succeeded and unlisted first thing
 * in its release, before its store, engine and filesystem are closed, so
 * a scrape never reads a closed one. Until the export's opener has reached
 * the store (zerofs_fs() == NULL) only its op and store counters exist.
 */
#include "zerofs_int.h"

#include <errno.h>
#include <stdatomic.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

#define SLOW_OP_NS 1000000000ULL

/* ---- counting ------------------------------------------------------------------- */

static struct fsal_obj_ops real_obj; /* the ops handle.c set up */
static struct export_ops real_exp;   /* the ops export.c sets up (the same for every export) */

/* An export's counters: referenced by the export and by each of its
 * handles, since an object op can come after the export's release. */
struct zerofs_op_counters {
	struct zm_ops ops; /* first: the allocation is cache-line aligned */
	atomic_uint refs;
	unsigned export_id;
};

struct zerofs_op_counters *zerofs_metrics_counters_get(struct zerofs_op_counters *c)
{
	atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
	return c;
}

void zerofs_metrics_counters_put(struct zerofs_op_counters *c)
{
	if (c && atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) == 1)
		gsh_free(c);
}

static fsal_status_t done(struct zerofs_op_counters *c, enum zm_op op, uint64_t t0,
			  fsal_status_t st)
{
	uint64_t ns = zm_now_ns() - t0;

	zm_op_record(&c->ops, op, ns, FSAL_IS_ERROR(st));
	if (ns >= SLOW_OP_NS)
		LogDebug(COMPONENT_FSAL, "export %u: slow %s: %.3f s (%s)", c->export_id,
			 zm_op_name(op), (double)ns / 1e9, msg_fsal_err(st.major));
	return st;
}

/* Object ops count through the handle's reference, never the export. */
static struct zerofs_op_counters *exp_of(struct fsal_obj_handle *h)
{
	return zerofs_handle_of(h)->counters;
}

/* One wrapper per op: time the real one, record, return its status. (A
 * statement, not an expression: the clock must be read before the call.) */
#define TIMED(exp, op, call)                                                       \
	do {                                                                       \
		uint64_t t0_ = zm_now_ns();                                        \
		fsal_status_t st_ = (call);                                        \
		return done(exp, op, t0_, st_);                                    \
	} while (0)

static fsal_status_t m_lookup(struct fsal_obj_handle *parent, const char *path,
			      struct fsal_obj_handle **handle, struct fsal_attrlist *attrs_out)
{
	TIMED(exp_of(parent), ZM_OP_LOOKUP, real_obj.lookup(parent, path, handle, attrs_out));
}

static fsal_status_t m_readdir(struct fsal_obj_handle *dir_hdl, fsal_cookie_t *whence,
			       void *dir_state, fsal_readdir_cb cb, attrmask_t attrmask, bool *eof)
{
	TIMED(exp_of(dir_hdl), ZM_OP_READDIR,
		     real_obj.readdir(dir_hdl, whence, dir_state, cb, attrmask, eof));
}

static fsal_status_t m_getattrs(struct fsal_obj_handle *obj_hdl, struct fsal_attrlist *attrs)
{
	TIMED(exp_of(obj_hdl), ZM_OP_GETATTRS, real_obj.getattrs(obj_hdl, attrs));
}

static fsal_status_t m_mkdir(struct fsal_obj_handle *dir_hdl, const char *name,
			     struct fsal_attrlist *attrs_in, struct fsal_obj_handle **new_obj,
			     struct fsal_attrlist *attrs_out)
{
	TIMED(exp_of(dir_hdl), ZM_OP_MKDIR,
		     real_obj.mkdir(dir_hdl, name, attrs_in, new_obj, attrs_out));
}

static fsal_status_t m_mknode(struct fsal_obj_handle *dir_hdl, const char *name,
			      object_file_type_t nodetype, struct fsal_attrlist *attrs_in,
			      struct fsal_obj_handle **new_obj, struct fsal_attrlist *attrs_out)
{
	TIMED(exp_of(dir_hdl), ZM_OP_MKNODE,
		     real_obj.mknode(dir_hdl, name, nodetype, attrs_in, new_obj, attrs_out));
}

static fsal_status_t m_symlink(struct fsal_obj_handle *dir_hdl, const char *name,
			       const char *link_path, struct fsal_attrlist *attrs_in,
			       struct fsal_obj_handle **new_obj, struct fsal_attrlist *attrs_out)
{
	TIMED(exp_of(dir_hdl), ZM_OP_SYMLINK,
		     real_obj.symlink(dir_hdl, name, link_path, attrs_in, new_obj, attrs_out));
}

static fsal_status_t m_readlink(struct fsal_obj_handle *obj_hdl, struct gsh_buffdesc *link_content,
				bool refresh)
{
	TIMED(exp_of(obj_hdl), ZM_OP_READLINK, real_obj.readlink(obj_hdl, link_content, refresh));
}

static fsal_status_t m_setattr2(struct fsal_obj_handle *obj_hdl, bool bypass,
				struct state_t *state, struct fsal_attrlist *attrs)
{
	TIMED(exp_of(obj_hdl), ZM_OP_SETATTR, real_obj.setattr2(obj_hdl, bypass, state, attrs));
}

static fsal_status_t m_link(struct fsal_obj_handle *obj_hdl, struct fsal_obj_handle *dir_hdl,
			    const char *name)
{
	TIMED(exp_of(obj_hdl), ZM_OP_LINK, real_obj.link(obj_hdl, dir_hdl, name));
}

static fsal_status_t m_rename(struct fsal_obj_handle *obj_hdl, struct fsal_obj_handle *olddir_hdl,
			      const char *old_name, struct fsal_obj_handle *newdir_hdl,
			      const char *new_name)
{
	TIMED(exp_of(olddir_hdl), ZM_OP_RENAME,
		     real_obj.rename(obj_hdl, olddir_hdl, old_name, newdir_hdl, new_name));
}

static fsal_status_t m_unlink(struct fsal_obj_handle *dir_hdl, struct fsal_obj_handle *obj_hdl,
			      const char *name)
{
	TIMED(exp_of(dir_hdl), ZM_OP_UNLINK, real_obj.unlink(dir_hdl, obj_hdl, name));
}

/* An open by name that may create is a create; the rest are opens. */
static fsal_status_t m_open2(struct fsal_obj_handle *obj_hdl, struct state_t *state,
			     fsal_openflags_t openflags, enum fsal_create_mode createmode,
			     const char *name, struct fsal_attrlist *attrs_set,
			     fsal_verifier_t verifier, struct fsal_obj_handle **new_obj,
			     struct fsal_attrlist *attrs_out, bool *caller_perm_check)
{
	enum zm_op op = name && createmode != FSAL_NO_CREATE ? ZM_OP_CREATE : ZM_OP_OPEN;

	TIMED(exp_of(obj_hdl), op,
		     real_obj.open2(obj_hdl, state, openflags, createmode, name, attrs_set,
				    verifier, new_obj, attrs_out, caller_perm_check));
}

static fsal_status_t m_reopen2(struct fsal_obj_handle *obj_hdl, struct state_t *state,
			       fsal_openflags_t openflags)
{
	TIMED(exp_of(obj_hdl), ZM_OP_REOPEN, real_obj.reopen2(obj_hdl, state, openflags));
}

static fsal_status_t m_close(struct fsal_obj_handle *obj_hdl)
{
	TIMED(exp_of(obj_hdl), ZM_OP_CLOSE, real_obj.close(obj_hdl));
}

static fsal_status_t m_close2(struct fsal_obj_handle *obj_hdl, struct state_t *state)
{
	TIMED(exp_of(obj_hdl), ZM_OP_CLOSE, real_obj.close2(obj_hdl, state));
}

/* read2/write2 report through done_cb (today before they return, but the
 * contract allows later): the context lives until that callback. */
struct io_ctx {
	fsal_async_cb done_cb;
	void *caller_arg;
	struct zerofs_op_counters *counters;
	enum zm_op op;
	uint64_t t0;
};

static void io_done(struct fsal_obj_handle *obj, fsal_status_t st, void *io_arg, void *ctx)
{
	struct io_ctx c = *(struct io_ctx *)ctx;

	gsh_free(ctx);
	done(c.counters, c.op, c.t0, st);
	c.done_cb(obj, st, io_arg, c.caller_arg);
}

static struct io_ctx *io_ctx(struct fsal_obj_handle *obj, enum zm_op op, fsal_async_cb done_cb,
			     void *caller_arg)
{
	struct io_ctx *c = gsh_malloc(sizeof(*c));

	*c = (struct io_ctx){ done_cb, caller_arg, exp_of(obj), op, zm_now_ns() };
	return c;
}

static void m_read2(struct fsal_obj_handle *obj_hdl, bool bypass, fsal_async_cb done_cb,
		    struct fsal_io_arg *read_arg, void *caller_arg)
{
	real_obj.read2(obj_hdl, bypass, io_done, read_arg,
		       io_ctx(obj_hdl, ZM_OP_READ, done_cb, caller_arg));
}

static void m_write2(struct fsal_obj_handle *obj_hdl, bool bypass, fsal_async_cb done_cb,
		     struct fsal_io_arg *write_arg, void *caller_arg)
{
	real_obj.write2(obj_hdl, bypass, io_done, write_arg,
			io_ctx(obj_hdl, ZM_OP_WRITE, done_cb, caller_arg));
}

static fsal_status_t m_commit2(struct fsal_obj_handle *obj_hdl, off_t offset, size_t len)
{
	TIMED(exp_of(obj_hdl), ZM_OP_COMMIT, real_obj.commit2(obj_hdl, offset, len));
}

static fsal_status_t m_seek2(struct fsal_obj_handle *obj_hdl, struct state_t *state,
			     struct io_info *info)
{
	TIMED(exp_of(obj_hdl), ZM_OP_SEEK, real_obj.seek2(obj_hdl, state, info));
}

static fsal_status_t m_lock_op2(struct fsal_obj_handle *obj_hdl, struct state_t *state, void *owner,
				fsal_lock_op_t lock_op, fsal_lock_param_t *request_lock,
				fsal_lock_param_t *conflicting_lock)
{
	TIMED(exp_of(obj_hdl), ZM_OP_LOCK,
		     real_obj.lock_op2(obj_hdl, state, owner, lock_op, request_lock,
				       conflicting_lock));
}

void zerofs_metrics_wrap_obj_ops(struct fsal_obj_ops *ops)
{
	real_obj = *ops;
	ops->lookup = m_lookup;
	ops->readdir = m_readdir;
	ops->getattrs = m_getattrs;
	ops->mkdir = m_mkdir;
	ops->mknode = m_mknode;
	ops->symlink = m_symlink;
	ops->readlink = m_readlink;
	ops->setattr2 = m_setattr2;
	ops->link = m_link;
	ops->rename = m_rename;
	ops->unlink = m_unlink;
	ops->open2 = m_open2;
	ops->reopen2 = m_reopen2;
	ops->close = m_close;
	ops->close2 = m_close2;
	ops->read2 = m_read2;
	ops->write2 = m_write2;
	ops->commit2 = m_commit2;
	ops->seek2 = m_seek2;
	ops->lock_op2 = m_lock_op2;
}


static fsal_status_t m_lookup_path(struct fsal_export *exp_hdl, const char *path,
				   struct fsal_obj_handle **handle, struct fsal_attrlist *attrs_out)
{
	TIMED(zerofs_export_of(exp_hdl)->op_stats, ZM_OP_LOOKUP_PATH,
			 real_exp.lookup_path(exp_hdl, path, handle, attrs_out));
}

static fsal_status_t m_create_handle(struct fsal_export *exp_hdl, struct gsh_buffdesc *hdl_desc,
				     struct fsal_obj_handle **handle,
				     struct fsal_attrlist *attrs_out)
{
	TIMED(zerofs_export_of(exp_hdl)->op_stats, ZM_OP_CREATE_HANDLE,
			 real_exp.create_handle(exp_hdl, hdl_desc, handle, attrs_out));
}

static fsal_status_t m_get_fs_dynamic_info(struct fsal_export *exp_hdl,
					   struct fsal_obj_handle *obj_hdl,
					   fsal_dynamicfsinfo_t *info)
{
	TIMED(zerofs_export_of(exp_hdl)->op_stats, ZM_OP_STATFS, real_exp.get_fs_dynamic_info(exp_hdl, obj_hdl, info));
}

void zerofs_metrics_wrap_export_ops(struct export_ops *ops)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

	/* every export's table starts out the same: keep the first */
	pthread_mutex_lock(&lock);
	if (!real_exp.lookup_path)
		real_exp = *ops;
	pthread_mutex_unlock(&lock);
	ops->lookup_path = m_lookup_path;
	ops->create_handle = m_create_handle;
	ops->get_fs_dynamic_info = m_get_fs_dynamic_info;
}

/* ---- the list of live exports ------------------------------------------------------ */

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct glist_head registry = { &registry, &registry };
static size_t registry_count;

void zerofs_metrics_export_init(struct zerofs_export *exp)
{
	/* cache-line aligned (struct zm_op_stats): malloc's alignment is not
	 * enough; like every gsh_ allocation, it aborts when memory runs out */
	exp->op_stats = gsh_malloc_aligned(64, sizeof(struct zerofs_op_counters));
	memset(exp->op_stats, 0, sizeof(struct zerofs_op_counters));
	atomic_init(&exp->op_stats->refs, 1);
	exp->op_stats->export_id = exp->export_id;
	glist_init(&exp->metrics_node);
}

void zerofs_metrics_export_add(struct zerofs_export *exp)
{
	pthread_mutex_lock(&registry_lock);
	glist_add_tail(&registry, &exp->metrics_node);
	registry_count++;
	exp->metrics_listed = true;
	pthread_mutex_unlock(&registry_lock);
}

void zerofs_metrics_export_fini(struct zerofs_export *exp)
{
	pthread_mutex_lock(&registry_lock);
	if (exp->metrics_listed) {
		glist_del(&exp->metrics_node);
		registry_count--;
		exp->metrics_listed = false;
	}
	pthread_mutex_unlock(&registry_lock);
	zerofs_metrics_counters_put(exp->op_stats);
	exp->op_stats = NULL;
}

/* On the server's thread, one scrape at a time. */
static bool render(void *arg, struct zm_text *t)
{
	struct zm_export_snapshot *snap;
	struct glist_head *node;
	size_t n = 0;
	bool ok;

	(void)arg;
	pthread_mutex_lock(&registry_lock);
	snap = calloc(registry_count ? registry_count : 1, sizeof(*snap));
	if (!snap) {
		pthread_mutex_unlock(&registry_lock);
		return false;
	}
	glist_for_each(node, &registry) {
		struct zerofs_export *exp = glist_entry(node, struct zerofs_export, metrics_node);
		struct zm_export_snapshot *s = &snap[n++];

		s->export_id = exp->export_id;
		zm_ops_read(&exp->op_stats->ops, s->ops);
		if (exp->store) {
			s->have_store = true;
			zs3_stats(exp->store, &s->store);
		}
		if (zerofs_fs(exp)) { /* acquire: exp->db is set too */
			struct zfs_stats zs;
			s->open = true;
			lsm_stats(exp->db, &s->lsm);
			zfs_stats(zerofs_fs(exp), &zs);
			s->fs_lock_waits = zs.lock_waits;
			s->fs_lock_wait_ns = zs.lock_wait_ns;
			s->fs_folds = zs.folds;
			s->fs_fold_bytes = zs.fold_bytes;
			s->fs_repack_bytes = zs.repack_bytes;
		}
	}
	pthread_mutex_unlock(&registry_lock);
	ok = zm_render(t, snap, n);
	free(snap);
	return ok;
}

/* ---- the server ------------------------------------------------------------------- */

static struct zm_server *server;

static void server_log(void *arg, const char *msg)
{
	(void)arg;
	LogWarn(COMPONENT_FSAL, "ZEROFS metrics server: %s", msg);
}

bool zerofs_metrics_start(const char *address)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char why[256];
	int e;

	zerofs_metrics_stop();
	if (!address || !*address) {
		LogDebug(COMPONENT_FSAL, "ZEROFS metrics: off (no Metrics_Address)");
		return true;
	}
	if (zm_parse_address(address, &ss, &len, why, sizeof(why)) != 0) {
		LogCrit(COMPONENT_FSAL, "ZEROFS key Metrics_Address: \"%s\" is invalid: %s", address,
			why);
		return false;
	}
	if ((e = zm_server_start((struct sockaddr *)&ss, len, render, NULL, server_log, NULL, &server,
				 why, sizeof(why))) != 0) {
		LogCrit(COMPONENT_FSAL, "ZEROFS key Metrics_Address: cannot serve on %s: %s", address,
			why);
		return false;
	}
	LogEvent(COMPONENT_FSAL, "ZEROFS metrics: serving GET /metrics on %s", address);
	return true;
}

void zerofs_metrics_stop(void)
{
	if (!server)
		return;
	zm_server_stop(server);
	server = NULL;
	LogDebug(COMPONENT_FSAL, "ZEROFS metrics: server stopped");
}
