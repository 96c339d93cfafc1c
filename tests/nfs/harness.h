/*
 * tests/nfs/harness.h - what the end-to-end NFS tests (test_nfs.c,
 * test_metrics.c, test_admin_nfs.c) share: the run's directories and ports,
 * ganesha started and stopped through scripts/ganesha.sh (isolated: its own
 * rpcbind, random ports), the export blocks and store lines of its config,
 * libnfs mounts, and small file helpers. Each test keeps its own set-up.
 */
#ifndef ZEROFS_TEST_NFS_HARNESS_H
#define ZEROFS_TEST_NFS_HARNESS_H

#include <stdbool.h>
#include <stddef.h>

#include <nfsc/libnfs.h>

#include "store_env.h"

#define DIR_MAX 400 /* keeps every path and command we build in bounds */

/* The run (set by the test's main): the source tree (scripts/ganesha.sh),
 * the plugin's directory, WORK_DIR, and the main instance's directory. */
extern char src_dir[DIR_MAX], plugin_dir[DIR_MAX], work_dir[DIR_MAX], gdir[DIR_MAX + 16];
/* The ports mount_export() uses (read_env() sets them). */
extern int nfs_port, mnt_port;
extern unsigned long long seed;
extern bool use_rgw; /* --rgw: the stores are prefixes in the RGW fixture's bucket */
extern struct rgw_env rgw;

/* Sets src_dir and plugin_dir (real paths) and work_dir; false if any is
 * missing or DIR_MAX bytes or longer. */
bool hn_set_dirs(const char *src, const char *plugin, const char *work);

/* argv[arg...]: [--rgw] [name-filter]. Loads the RGW fixture's settings for
 * --rgw, sets the filter and the seed, line-buffers stdout; false if the
 * RGW settings cannot be loaded. */
bool hn_parse_options(int argc, char **argv, int arg);

/* Writes WORK_DIR/s3.cred (mode 0600) with the RGW fixture's keys. */
bool hn_write_cred(void);

/* Runs run() in a child (whatever happens to it, e.g. a crash in libnfs),
 * then cleanup() in this process (stopping every ganesha the run started);
 * the exit status for main: the child's, or 1 if it died of a signal. */
int hn_run_in_child(int (*run)(void), void (*cleanup)(void));

/* The main() of a test program taking SRC_DIR PLUGIN_DIR WORK_DIR [--rgw]
 * [filter]: checks root and the arguments (exit status 2 and a usage line
 * naming prog if they are bad), sets the dirs and options, ignores SIGPIPE
 * (a server that dies mid-call fails a check instead of killing the test),
 * and runs run() in a child with cleanup() after it (hn_run_in_child). */
int hn_main(int argc, char **argv, const char *prog, int (*run)(void), void (*cleanup)(void));

/* scripts/ganesha.sh VERB DIR [ARGS]; true on success. */
bool ganesha(const char *verb, const char *dir, const char *args);

/* Starts ganesha in dir with the plugin and the exports of snippet. */
bool ganesha_start(const char *dir, const char *snippet);

/* Stops the ganesha of dir if one was set up there (dir/ganesha.conf);
 * false if stopping it failed. */
bool ganesha_stop_if_set_up(const char *dir);

/* The ports of the instance in dir (scripts/ganesha.sh writes dir/env). */
bool read_env_of(const char *dir, int *nport, int *mport);

/* read_env_of(gdir) into nfs_port and mnt_port. */
bool read_env(void);

/* Writes text to path (created or truncated); true on success. */
bool write_file(const char *path, const char *text);

/* Whether a line of the file at path contains needle (false if unreadable). */
bool log_has(const char *path, const char *needle);

/* How many lines of the file at path contain needle; -1 if unreadable. */
int count_lines(const char *path, const char *needle);

/* The FSAL lines naming store `name`: a local directory in WORK_DIR, or with
 * --rgw a prefix <prefix>-<seed>/<name>/ of the RGW's bucket (credentials
 * from WORK_DIR/s3.cred, plain HTTP, path style, a disk cache). */
void store_lines(char *buf, size_t cap, const char *prefix, const char *name);

/* An EXPORT block (RW, no root squash, NFSv3 and 4, sys) for Path = Pseudo =
 * path, with a ZEROFS FSAL block of fsal's lines; returns buf. */
const char *export_block(char *buf, size_t cap, int id, const char *path, const char *fsal);

/* Mounts export of the instance at nfs_port/mnt_port over NFS version
 * (timeout 60 s). client_id: the NFSv4 client's name (NULL: libnfs's, the
 * same for every context of this process, so a second context would take
 * over the first's state: give each concurrent NFSv4 client its own).
 * cached: keep libnfs's directory and page caches and readahead (otherwise
 * off, so every call reaches the server). NULL (reason on stderr) on failure. */
struct nfs_context *mount_export_opts(int version, const char *export, const char *client_id,
				      bool cached);

/* mount_export_opts(version, export, client_id, no caches). */
struct nfs_context *mount_export_as(int version, const char *export, const char *client_id);

/* mount_export_opts(version, export, libnfs's client name, no caches). */
struct nfs_context *mount_export(int version, const char *export);

#endif
