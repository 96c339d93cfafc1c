/*
 * fsal_zerofs/admin/admin.h - what the admin tool's modules share: its exit
 * statuses, options, opening a filesystem's store read-only or as a writer
 * (with the liveness guard), and the progress line.
 *
 *   main.c      arguments, help, dispatch
 *   open.c      configuration -> store -> LSM tree -> filesystem; errors
 *   gconf.c     ganesha's configuration syntax (--config)
 *   progress.c  the progress line on a terminal
 *   info.c      zerofs info
 *   fsck.c      zerofs fsck [--repair] (the checks and repairs are the
 *               core's: fs_check.h; the tree's objects: lsm_verify_store)
 *   browse.c    zerofs ls, zerofs cat
 *   maintain.c  zerofs compact, zerofs gc
 */
#ifndef ZEROFS_ADMIN_H
#define ZEROFS_ADMIN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "fs.h"
#include "lsm.h"
#include "store.h"
#include "store_config.h"

/* Exit statuses (docs/zerofs.1). */
enum {
	ZA_OK = 0,       /* done; fsck: the filesystem is clean */
	ZA_PROBLEMS = 1, /* fsck: problems found (and, without --repair, left alone) */
	ZA_REMAIN = 2,   /* fsck --repair: problems remain that it cannot repair safely */
	ZA_ERROR = 3,    /* the command failed: configuration, store, I/O, refused */
	ZA_USAGE = 4,    /* bad command line */
};

struct admin_opts {
	struct zfs_store_config cfg; /* the store, from --config and the flags */
	bool force;                  /* write even if a server looks live */
	uint64_t live_window_s;      /* "live" = written within this many seconds */
	bool repair;                 /* fsck */
	bool long_format;            /* ls -l */
	bool all_names;              /* ls -a: also . and .. */
	uint64_t min_age_s;          /* gc */
	uint64_t repack_pct;         /* gc: repack objects below this live share (0: none) */
};

struct admin_fs {
	struct zs3_store *store;
	struct lsm_db *db;
	struct zfs *fs;
	bool writer;
	char desc[512]; /* the store, for messages (no secret) */
};

/* Opens the filesystem described by o. Read-only opens write nothing and
 * never disturb a running server. Writer opens (writer = true; `what` names
 * the command for messages) first refuse a store written within
 * live_window_s unless force: opening it would fence the server.
 * need_fs: also open the filesystem core (fails if there is no superblock).
 * Returns ZA_OK or ZA_ERROR (message printed). */
int admin_open(const struct admin_opts *o, bool writer, const char *what, bool need_fs,
	       struct admin_fs *a);
/* admin_open in two steps, for a command that reads the store's objects
 * before the tree is opened (fsck): the store, probed, and a writer's guard;
 * then the LSM tree (a->writer decides how) and the filesystem. On failure
 * each has closed a. */
int admin_open_store(const struct admin_opts *o, bool writer, const char *what,
		     struct admin_fs *a);
int admin_open_tree(const struct admin_opts *o, bool need_fs, struct admin_fs *a);
/* Closes (a writer uploads what it wrote); ZA_ERROR if that failed. */
int admin_close(struct admin_fs *a);

/* Prints "zerofs: " + message to stderr. */
void admin_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Sizes for humans: "12.3 MiB" (buf of 32). */
const char *admin_bytes(uint64_t n, char *buf);

/* A progress line on stderr, only when stderr is a terminal, redrawn at most
 * 4 times a second, erased by progress_end. */
struct progress {
	bool on, drawn;
	uint64_t last_ms;
	const char *what;
};
void progress_init(struct progress *p, const char *what);
void progress_tick(struct progress *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void progress_end(struct progress *p);
/* An lsm_progress_fn drawing "<what>: N objects examined, N deleted". */
void progress_lsm(void *ctx, uint64_t examined, uint64_t deleted);

int cmd_info(struct admin_opts *o, int argc, char **argv);
int cmd_fsck(struct admin_opts *o, int argc, char **argv);
int cmd_ls(struct admin_opts *o, int argc, char **argv);
int cmd_cat(struct admin_opts *o, int argc, char **argv);
int cmd_compact(struct admin_opts *o, int argc, char **argv);
int cmd_gc(struct admin_opts *o, int argc, char **argv);

/* Loads the FSAL block of export `export_id` (-1: the only ZEROFS export)
 * from a ganesha config file into cfg. ZA_OK, or ZA_ERROR with a message. */
int admin_load_ganesha_config(const char *path, long export_id, struct zfs_store_config *cfg);

#endif
