/* SPDX-License-Identifier: LGPL-3.0-or-later */
/*
 * fsal_zerofs/zerofs_int.h - the ganesha glue's private types: the module,
 * an export (one independent filesystem: its own store, LSM tree and zfs),
 * and an object handle (an inode number and generation). Shared by main.c
 * (module), export.c (export ops, config) and handle.c (object ops).
 *
 * The glue is thin: every filesystem operation is one call into fs.h, whose
 * errors (positive errnos) zerofs_status() turns into ganesha's.
 */
#ifndef ZEROFS_INT_H
#define ZEROFS_INT_H

/* config.h must come first: ganesha's headers test its macros. */
#include "config.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/* Every ganesha header the glue uses, in one place, with two warnings off
 * for them only: with NDEBUG (release builds, as Debian's) an inline
 * function in fsal_api.h keeps a variable only assert() reads, and inline
 * functions in ganesha's and ntirpc's headers ignore parameters. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-variable"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include "fsal.h"
#include "fsal_types.h"
#include "fsal_api.h"
#include "fsal_convert.h"
#include "FSAL/fsal_commonlib.h"
#include "FSAL/fsal_config.h"
#include "FSAL/fsal_init.h"
#include "nfs_core.h"
#include "nfs_exports.h"
#include "export_mgr.h"
#pragma GCC diagnostic pop

#include "fs.h"

/* ---- build-time ABI checks against Debian's ganesha 4.3 ---------------- */

#if FSAL_MAJOR_VERSION != 11 || FSAL_MINOR_VERSION != 0
#error "ZeroFS is built for nfs-ganesha 4.3 (FSAL API 11.0) only"
#endif

/* The core FSAL structs of 4.3-2 as Debian built it: a different size means
 * these headers or config.h do not match the installed binary. */
_Static_assert(sizeof(struct fsal_module) == 352, "struct fsal_module size differs from ganesha 4.3");
_Static_assert(sizeof(struct fsal_export) == 360, "struct fsal_export size differs from ganesha 4.3");
_Static_assert(sizeof(struct fsal_obj_handle) == 144,
	       "struct fsal_obj_handle size differs from ganesha 4.3");
_Static_assert(sizeof(struct fsal_obj_ops) == 424, "struct fsal_obj_ops size differs from ganesha 4.3");
_Static_assert(sizeof(struct fsal_attrlist) == 248, "struct fsal_attrlist size differs from ganesha 4.3");

#define ZEROFS_FSAL_NAME "ZEROFS"

/* ---- wire handles ------------------------------------------------------ */

/* Our part of a file handle (ganesha adds its own header around it):
 *   byte 0      format version (ZEROFS_FH_VERSION)
 *   bytes 1-8   inode number, little endian
 *   bytes 9-16  tag, little endian: zerofs_fh_tag(), a mix of the inode
 *               number and the filesystem's generation (zfs_attr.gen)
 * 17 bytes, well under NFSv3's 59. Inode numbers are never reused and the
 * generation differs between filesystems, so a handle names one object of
 * one filesystem forever, across restarts; mixing the inode number into the
 * tag makes a damaged or forged inode number STALE rather than another live
 * object. The key MDCACHE hashes on is the same 17 bytes. The root's tag is
 * 0: its handle must exist before the filesystem is open (see struct
 * zerofs_export), and the root of an export is its root whatever the store
 * holds. */
#define ZEROFS_FH_VERSION 1
#define ZEROFS_FH_LEN 17

/* ---- the module ---------------------------------------------------------- */

struct zerofs_module {
	struct fsal_module fsal;
	struct fsal_obj_ops handle_ops;
	char *metrics_address; /* Metrics_Address: "host:port", NULL/empty = off */
	bool config_bad;       /* the ZEROFS {} block was refused: no export is created */
};

extern struct zerofs_module ZeroFS; /* main.c; other files reach it through module_of() */

static inline struct zerofs_module *zerofs_module_of(struct fsal_module *fsal)
{
	return container_of(fsal, struct zerofs_module, fsal);
}

/* ---- an export: one filesystem ------------------------------------------- */

/* An export whose store does not answer when it is created (S3 down at
 * ganesha's start) is created anyway: a background thread keeps opening the
 * filesystem, and until it succeeds every operation answers DELAY/JUKEBOX
 * (the client retries). So fs (and db, fs_gen) are set once, by whichever
 * thread opens, and read through zerofs_fs(); only the root's handle can
 * exist before that, which is why its wire form does not carry fs_gen. */
struct zerofs_export {
	struct fsal_export export;
	struct zs3_store *store;
	struct lsm_db *db;
	struct zfs *fs;     /* NULL until open: use zerofs_fs() */
	uint64_t fs_gen;    /* the generation of every inode (fs.h); valid once open */
	uint64_t fsid;      /* the NFS fsid: a hash of the store's description */
	bool sync;          /* metadata changes durable before the reply */
	uint16_t export_id; /* for log messages */
	char *store_desc;   /* zs3_describe(), no secrets */
	int fenced_logged;  /* EROFS reported once */
	/* opening: the engine's options (kept for retries) and the opener */
	struct lsm_options lsm_opts;
	char *cache_path;
	pthread_mutex_t opener_lock;
	pthread_cond_t opener_cond;
	pthread_t opener;
	bool opener_running, opener_stop;
	/* metrics (metrics_fsal.c): this export's op counters, and its place in
	 * the list the metrics server walks (listed from creation to release) */
	struct zerofs_op_counters *op_stats;
	struct glist_head metrics_node;
	bool metrics_listed;
};

/* The tag a wire handle of inode ino carries (0 for the root). */
static inline uint64_t zerofs_fh_tag(uint64_t fs_gen, uint64_t ino)
{
	uint64_t z;

	if (ino == ZFS_ROOT_INO)
		return 0;
	z = fs_gen ^ (ino * 0x9e3779b97f4a7c15ULL); /* splitmix64's finaliser */
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	z ^= z >> 31;
	return z ? z : 1;
}

/* The export's filesystem, or NULL while it is not open yet. */
static inline struct zfs *zerofs_fs(struct zerofs_export *exp)
{
	return __atomic_load_n(&exp->fs, __ATOMIC_ACQUIRE);
}

/* ---- an object handle ---------------------------------------------------- */

struct zerofs_handle {
	struct fsal_obj_handle obj_handle;
	struct zerofs_export *exp;
	uint64_t ino, gen;
	uint8_t key[ZEROFS_FH_LEN]; /* wire form == MDCACHE key */
	/* regular files: the share reservation and the global "fd" (ganesha
	 * tracks open modes in it; there is no descriptor behind it) */
	struct fsal_share share;
	struct fsal_fd fd;
	/* the export's op counters, referenced: ganesha may call an object op
	 * (close, lock clean-up at shutdown) after it has released the export */
	struct zerofs_op_counters *counters;
};

/* handle.c */
void zerofs_handle_ops_init(struct fsal_obj_ops *ops);
struct zerofs_handle *zerofs_alloc_handle(struct zerofs_export *exp, const struct zfs_attr *a);
void zerofs_attr_to_fsal(const struct zerofs_export *exp, const struct zfs_attr *a,
			 struct fsal_attrlist *out);
bool zerofs_fh_decode(const void *buf, size_t len, uint64_t *ino, uint64_t *gen);

/* export.c */
fsal_status_t zerofs_create_export(struct fsal_module *fsal_hdl, void *parse_node,
				   struct config_error_type *err_type,
				   const struct fsal_up_vector *up_ops);
fsal_status_t zerofs_update_export(struct fsal_module *fsal_hdl, void *parse_node,
				   struct config_error_type *err_type,
				   struct fsal_export *original, struct fsal_module *updated_super);

/* metrics_fsal.c: op counters (always kept) and the metrics server */
struct zerofs_op_counters;
/* A reference to an export's counters, for a handle (zerofs_alloc_handle
 * takes one, zerofs_release drops it); the last reference frees them. */
struct zerofs_op_counters *zerofs_metrics_counters_get(struct zerofs_op_counters *c);
void zerofs_metrics_counters_put(struct zerofs_op_counters *c);
/* Time every op and count it per export; called once each table is set up. */
void zerofs_metrics_wrap_obj_ops(struct fsal_obj_ops *ops);
void zerofs_metrics_wrap_export_ops(struct export_ops *ops);
/* The export's counters: allocated first thing in create_export, its
 * reference dropped in release; listed for the server once the export
 * exists. */
void zerofs_metrics_export_init(struct zerofs_export *exp);
void zerofs_metrics_export_add(struct zerofs_export *exp);
void zerofs_metrics_export_fini(struct zerofs_export *exp); /* unlists, drops its reference */
/* Starts serving on Metrics_Address (NULL or "" = off); false (logged,
 * naming the key) if the address is invalid or cannot be bound. */
bool zerofs_metrics_start(const char *address);
void zerofs_metrics_stop(void);

/* errors.c: fs.h errno -> ganesha status (logs EROFS once, EIO with detail) */
fsal_status_t zerofs_status(struct zerofs_export *exp, int err, const char *what);
/* Routes the s3/ logger into ganesha's log (COMPONENT_FSAL). */
void zerofs_route_store_log(void);

static inline struct zerofs_export *zerofs_export_of(struct fsal_export *e)
{
	return container_of(e, struct zerofs_export, export);
}

static inline struct zerofs_handle *zerofs_handle_of(struct fsal_obj_handle *h)
{
	return container_of(h, struct zerofs_handle, obj_handle);
}

/* The server's repacker (fs.h, zfs_repacker_start): every 10 minutes (the
 * engine's GC interval), objects whose file data is below a quarter live.
 * A quarter: repacking copies the live part, so it costs at most a third of
 * what it frees (1/4 / 3/4), and W4-style random overwrites stay within
 * 1.33 bytes uploaded per byte written from repacking at steady state. */
#define ZEROFS_REPACK_INTERVAL_MS (600u * 1000)
#define ZEROFS_REPACK_MAX_LIVE 0.25

#endif
