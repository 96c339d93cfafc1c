// SPDX-License-Identifier: LGPL-3.0-or-later
/*
 * fsal_zerofs/export.c - a ZEROFS export: its FSAL config block, opening its
 * filesystem (object store -> LSM tree -> zfs), and the export ops.
 *
 * Each export is an independent filesystem with its own store, lsm_db and
 * zfs. The FSAL block:
 *
 *   FSAL {
 *     Name = ZEROFS;
 *     Store = local | s3;                 # required
 *     Directory = "/srv/zerofs/fs1";      # local: required
 *     Bucket = "b"; Endpoint = "https://..."; Region = "us-east-1";
 *     Prefix = "fs1/"; Allow_Http = false; Addressing = auto|path|virtual;
 *     Credentials_File = "/etc/ganesha/zerofs.cred"; CA_File = "...";
 *     (or, discouraged: Access_Key_Id = "..."; Secret_Access_Key = "...";)
 *     Cache_Dir = "/var/cache/zerofs"; Cache_Size_GB = 10;
 *     Memory_Cache_MB = 64; Flush_Interval_Ms = 100;
 *     Sync = true;
 *   }
 *
 * S3 settings default to the seed's AWS_* environment variables and the
 * cache to SLATEDB_CACHE_DIR / SLATEDB_CACHE_SIZE_GB. A missing, unknown or
 * invalid key fails the export with an error naming the key (the other
 * exports are served). Secrets are never logged: only zs3_describe() of a
 * store is. ganesha.conf.d/README.md documents every key for users.
 */
#include "zerofs_int.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>


#include "lsm.h"
#include "store.h"
#include "store_config.h"

/* ---- the FSAL block ------------------------------------------------------ */

/* Values are read as strings by ganesha's parser and checked by
 * store_config.c (shared with the admin tool), so that every bad value is
 * reported with the name of its key (ganesha's own parser names only the
 * line). */
struct zerofs_raw_config {
	char *store, *directory;
	char *bucket, *endpoint, *region, *prefix, *ca_file, *allow_http, *addressing;
	char *credentials_file, *access_key_id, *secret_access_key;
	char *cache_dir, *cache_size_gb, *memory_cache_mb, *flush_interval_ms, *wal_uploads, *sync;
};

#define ZK_STR(name, min, max, mem) CONF_ITEM_STR(name, min, max, NULL, zerofs_raw_config, mem)
#define ZK_PATH(name, mem) CONF_ITEM_PATH(name, 1, 4096, NULL, zerofs_raw_config, mem)

static struct config_item zerofs_export_params[] = {
	CONF_ITEM_NOOP("name"),
	ZK_STR("Store", 1, 16, store),
	ZK_PATH("Directory", directory),
	ZK_STR("Bucket", 1, 255, bucket),
	ZK_STR("Endpoint", 1, 1024, endpoint),
	ZK_STR("Region", 1, 64, region),
	ZK_STR("Prefix", 1, 512, prefix),
	ZK_STR("Allow_Http", 1, 16, allow_http),
	ZK_STR("Addressing", 1, 16, addressing),
	ZK_PATH("CA_File", ca_file),
	ZK_PATH("Credentials_File", credentials_file),
	ZK_STR("Access_Key_Id", 1, 256, access_key_id),
	ZK_STR("Secret_Access_Key", 1, 256, secret_access_key),
	ZK_PATH("Cache_Dir", cache_dir),
	ZK_STR("Cache_Size_GB", 1, 32, cache_size_gb),
	ZK_STR("Memory_Cache_MB", 1, 32, memory_cache_mb),
	ZK_STR("Flush_Interval_Ms", 1, 32, flush_interval_ms),
	ZK_STR("WAL_Uploads", 1, 32, wal_uploads),
	ZK_STR("Sync", 1, 16, sync),
	CONFIG_EOL
};

static struct config_block zerofs_export_block = {
	.dbus_interface_name = "org.ganesha.nfsd.config.fsal.zerofs-export%d",
	.blk_desc.name = "FSAL",
	.blk_desc.type = CONFIG_BLOCK,
	.blk_desc.u.blk.init = noop_conf_init,
	.blk_desc.u.blk.params = zerofs_export_params,
	.blk_desc.u.blk.commit = noop_conf_commit,
};

/* Parses the export's FSAL block into *c (zfs_store_config_free() it).
 * Unknown keys only warn in ganesha's parser (the "bogus" flag): here they
 * fail the export, as every bad value does, with a log line naming the key. */
static bool config_load(void *node, struct config_error_type *err_type,
			struct zfs_store_config *c, unsigned export_id)
{
	struct zerofs_raw_config r = { 0 };
	bool prev_bogus = err_type->bogus, ok = true;
	char err[512];
	int rc, e = 0;

	zfs_store_config_init(c);
	err_type->bogus = false;
	rc = load_config_from_node(node, &zerofs_export_block, &r, true, err_type);
	bool bogus = err_type->bogus;
	err_type->bogus = prev_bogus || bogus;
	if (rc != 0 || bogus) {
		LogCrit(COMPONENT_FSAL,
			"export %u: the ZEROFS FSAL block has %s (the config report below names it); export not created",
			export_id, bogus ? "an unknown key" : "an invalid value");
		ok = false;
	}
	const struct {
		const char *key;
		char **value;
	} keys[] = {
		{ "Store", &r.store },
		{ "Directory", &r.directory },
		{ "Bucket", &r.bucket },
		{ "Endpoint", &r.endpoint },
		{ "Region", &r.region },
		{ "Prefix", &r.prefix },
		{ "CA_File", &r.ca_file },
		{ "Allow_Http", &r.allow_http },
		{ "Addressing", &r.addressing },
		{ "Credentials_File", &r.credentials_file },
		{ "Access_Key_Id", &r.access_key_id },
		{ "Secret_Access_Key", &r.secret_access_key },
		{ "Cache_Dir", &r.cache_dir },
		{ "Cache_Size_GB", &r.cache_size_gb },
		{ "Memory_Cache_MB", &r.memory_cache_mb },
		{ "Flush_Interval_Ms", &r.flush_interval_ms },
		{ "WAL_Uploads", &r.wal_uploads },
		{ "Sync", &r.sync },
	};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (ok && *keys[i].value)
			e = zfs_store_config_set(c, keys[i].key, *keys[i].value, err, sizeof(err));
		if (ok && e) {
			LogCrit(COMPONENT_FSAL, "export %u: ZEROFS key %s; export not created",
				export_id, err);
			ok = false;
		}
		if (*keys[i].value)
			explicit_bzero(*keys[i].value, strlen(*keys[i].value)); /* may be a secret */
		gsh_free(*keys[i].value);
	}
	if (ok && (e = zfs_store_config_check(c, err, sizeof(err)))) {
		LogCrit(COMPONENT_FSAL, "export %u: ZEROFS key %s; export not created", export_id,
			err);
		ok = false;
	}
	if (!ok) {
		err_type->invalid = true; /* make the export fail, not just warn */
		zfs_store_config_free(c);
	}
	return ok;
}


/* ---- exports sharing one process ----------------------------------------- */

/* Two exports on the same store would fence each other: refuse the second. */
static pthread_mutex_t open_lock = PTHREAD_MUTEX_INITIALIZER;
struct open_store {
	struct open_store *next;
	char *desc;
	unsigned export_id;
};
static struct open_store *open_stores;

static bool claim_store(const char *desc, unsigned export_id)
{
	struct open_store *o;
	bool ok = true;

	pthread_mutex_lock(&open_lock);
	for (o = open_stores; o; o = o->next) {
		if (!strcmp(o->desc, desc)) {
			LogCrit(COMPONENT_FSAL,
				"export %u: store %s is already served by export %u (two exports on one store would fence each other); export not created",
				export_id, desc, o->export_id);
			ok = false;
			break;
		}
	}
	if (ok) {
		o = gsh_calloc(1, sizeof(*o));
		o->desc = gsh_strdup(desc);
		o->export_id = export_id;
		o->next = open_stores;
		open_stores = o;
	}
	pthread_mutex_unlock(&open_lock);
	return ok;
}

static void release_store(const char *desc)
{
	struct open_store **p, *o;

	pthread_mutex_lock(&open_lock);
	for (p = &open_stores; (o = *p); p = &o->next) {
		if (!strcmp(o->desc, desc)) {
			*p = o->next;
			gsh_free(o->desc);
			gsh_free(o);
			break;
		}
	}
	pthread_mutex_unlock(&open_lock);
}

/* ---- the write verifier -------------------------------------------------- */

/* Ganesha's write verifiers are its start time in whole seconds
 * (nfs_ServerEpoch, or -E's value): two runs started within one second
 * would share one, and a client could then miss that UNSTABLE writes were
 * lost in between. When the epoch is this very second (ganesha's default),
 * wait before the first export serves until the clock has left it: the next
 * run necessarily starts in a later second. A pinned -E epoch is the
 * operator's to keep increasing. NFSv4 asks the export for its verifier and
 * gets a random per-run value (zerofs_get_write_verifier); NFSv3 uses the
 * global one directly. */
static uint8_t run_verifier[8];

static void wait_epoch(void)
{
	time_t now = time(NULL);

	if (getrandom(run_verifier, sizeof(run_verifier), 0) != sizeof(run_verifier)) {
		uint64_t v = (uint64_t)now ^ ((uint64_t)getpid() << 32) ^ (uint64_t)clock();
		memcpy(run_verifier, &v, sizeof(v));
	}
	if (now == nfs_ServerEpoch) {
		while (time(NULL) <= nfs_ServerEpoch)
			usleep(20000);
	} else if (now - nfs_ServerEpoch > 86400 || nfs_ServerEpoch - now > 86400) {
		LogWarn(COMPONENT_FSAL,
			"ZEROFS: the server epoch (%lld) is pinned far from now: unless it changes on every restart, NFSv3 clients cannot detect lost UNSTABLE writes",
			(long long)nfs_ServerEpoch);
	}
}

static void verifier_once(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, wait_epoch);
}

static void zerofs_get_write_verifier(struct fsal_export *exp_hdl, struct gsh_buffdesc *verf)
{
	(void)exp_hdl;
	memcpy(verf->addr, run_verifier,
	       verf->len < sizeof(run_verifier) ? verf->len : sizeof(run_verifier));
}

/* ---- opening the filesystem ---------------------------------------------- */

/* Sets up what opening the filesystem needs without contacting the store:
 * the store client (claimed for this export), the disk cache directory and
 * the engine's options, kept in exp for the opener's retries. */
static bool prepare_fs(struct zerofs_export *exp, const struct zfs_store_config *c)
{
	unsigned id = exp->export_id;
	char err[512];
	size_t cap = 4096 + 32;

	if (c->access_key_id)
		LogWarn(COMPONENT_FSAL,
			"export %u: S3 credentials are written inline in the config file; Credentials_File (mode 0600) is preferred",
			id);
	if (zfs_store_config_open(c, true, &exp->store, err, sizeof(err))) {
		LogCrit(COMPONENT_FSAL, "export %u: ZEROFS key %s; export not created", id, err);
		return false;
	}
	exp->store_desc = gsh_strdup(zs3_describe(exp->store));
	if (!claim_store(exp->store_desc, id)) {
		gsh_free(exp->store_desc);
		exp->store_desc = NULL;
		zs3_close(exp->store);
		exp->store = NULL;
		return false;
	}
	/* The fsid names the store, so it is known before the store answers
	 * and stays the same across restarts. */
	exp->fsid = zfs_store_id(exp->store);
	exp->cache_path = gsh_malloc(cap);
	if (zfs_store_config_lsm_options(c, exp->store, &exp->lsm_opts, exp->cache_path, cap, err,
					 sizeof(err))) {
		LogCrit(COMPONENT_FSAL, "export %u: ZEROFS key %s; export not created", id, err);
		return false;
	}
	if (!exp->lsm_opts.cache_dir) {
		gsh_free(exp->cache_path);
		exp->cache_path = NULL;
	}
	return true;
}


/* Opens the engine and the filesystem: LSM_OK, or the engine's status
 * (LSM_ETRANSIENT: the store did not answer; worth retrying). `quiet` keeps
 * repeated transient failures out of the log. */
static lsm_status try_open_fs(struct zerofs_export *exp, bool quiet)
{
	unsigned id = exp->export_id;
	struct lsm_db *db = NULL;
	struct zfs *fs = NULL;
	struct zfs_attr root;
	lsm_status ls;
	int err;

	LogDebug(COMPONENT_FSAL, "export %u: opening the filesystem in %s", id, exp->store_desc);
	ls = lsm_open(&exp->lsm_opts, &db);
	if (ls != LSM_OK) {
		if (!(quiet && ls == LSM_ETRANSIENT))
			LogCrit(COMPONENT_FSAL, "export %u: cannot open the filesystem in %s: %s (%s)",
				id, exp->store_desc, lsm_strstatus(ls), lsm_last_error());
		return ls;
	}
	if ((err = zfs_open(db, &fs)) != 0 || (err = zfs_getattr(fs, ZFS_ROOT_INO, &root)) != 0) {
		ls = err == EAGAIN ? LSM_ETRANSIENT : err == EIO ? LSM_ECORRUPT : LSM_EIO;
		if (!(quiet && ls == LSM_ETRANSIENT))
			LogCrit(COMPONENT_FSAL, "export %u: cannot open the filesystem in %s: %s (%s)",
				id, exp->store_desc, strerror(err),
				err == EIO ? zfs_error_detail() : lsm_last_error());
		if (fs)
			zfs_close(fs);
		(void)lsm_close(db); /* the open's failure is what is reported */
		return ls;
	}
	/* File data stays in the WAL object that uploaded it while any of it
	 * is live: repack objects that are mostly garbage, as often as the
	 * engine collects garbage (a failure only logs; the export serves). */
	if ((err = zfs_repacker_start(fs, ZEROFS_REPACK_INTERVAL_MS, ZEROFS_REPACK_MAX_LIVE)))
		LogWarn(COMPONENT_FSAL, "export %u: file data will not be repacked: %s", id,
			strerror(err));
	exp->db = db;
	exp->fs_gen = root.gen;
	__atomic_store_n(&exp->fs, fs, __ATOMIC_RELEASE); /* publishes db and fs_gen too */
	LogEvent(COMPONENT_FSAL,
		 "export %u: ZEROFS filesystem %016" PRIx64 " on %s%s%s, %s metadata, cache %s", id,
		 exp->fs_gen, exp->store_desc, exp->cache_path ? " with disk cache " : "",
		 exp->cache_path ? exp->cache_path : "", exp->sync ? "synchronous" : "asynchronous",
		 exp->cache_path ? "on disk and in memory" : "in memory");
	return LSM_OK;
}

/* The opener: retries until the store answers (backing off from 1 s to
 * 30 s) or the export goes away. Only transient failures are retried; a
 * store that answers with anything else (corruption, fencing) gets one
 * log line and the export keeps answering DELAY until an operator acts. */
static void *opener_main(void *arg)
{
	struct zerofs_export *exp = arg;
	unsigned delay_ms = 1000, attempts = 1;
	lsm_status ls = LSM_ETRANSIENT;

	pthread_mutex_lock(&exp->opener_lock);
	while (!exp->opener_stop) {
		struct timespec until;

		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += delay_ms / 1000;
		until.tv_nsec += (long)(delay_ms % 1000) * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		while (!exp->opener_stop &&
		       pthread_cond_timedwait(&exp->opener_cond, &exp->opener_lock, &until) == 0)
			;
		if (exp->opener_stop)
			break;
		pthread_mutex_unlock(&exp->opener_lock);
		ls = try_open_fs(exp, true);
		attempts++;
		pthread_mutex_lock(&exp->opener_lock);
		if (ls != LSM_OK)
			LogDebug(COMPONENT_FSAL, "export %u: opening %s, attempt %u: %s (%s)",
				 exp->export_id, exp->store_desc, attempts, lsm_strstatus(ls),
				 lsm_last_error());
		if (ls == LSM_OK) {
			LogEvent(COMPONENT_FSAL, "export %u: %s answered after %u attempts: serving",
				 exp->export_id, exp->store_desc, attempts);
			break;
		}
		if (ls != LSM_ETRANSIENT) {
			LogCrit(COMPONENT_FSAL,
				"export %u: giving up opening %s (%s); the export answers DELAY until it is removed or ganesha restarts",
				exp->export_id, exp->store_desc, lsm_strstatus(ls));
			break;
		}
		if (attempts % 10 == 0)
			LogWarn(COMPONENT_FSAL, "export %u: %s still unreachable after %u attempts (%s)",
				exp->export_id, exp->store_desc, attempts, lsm_last_error());
		delay_ms = delay_ms * 2 > 30000 ? 30000 : delay_ms * 2;
	}
	pthread_mutex_unlock(&exp->opener_lock);
	return NULL;
}

/* Opens the filesystem, or when the store does not answer, starts the opener
 * and lets the export serve DELAY meanwhile. False: the export cannot be
 * created (bad settings, a store that refuses us, corruption). */
static bool open_fs(struct zerofs_export *exp, const struct zfs_store_config *c)
{
	lsm_status ls;
	int e;

	if (!prepare_fs(exp, c))
		return false;
	ls = try_open_fs(exp, false);
	if (ls == LSM_OK)
		return true;
	if (ls != LSM_ETRANSIENT)
		return false;
	LogWarn(COMPONENT_FSAL,
		"export %u: %s is unreachable; the export is created and answers DELAY (clients retry) until it can be opened, retrying in the background",
		exp->export_id, exp->store_desc);
	exp->opener_running = true;
	if ((e = pthread_create(&exp->opener, NULL, opener_main, exp)) != 0) {
		LogCrit(COMPONENT_FSAL, "export %u: cannot start the opener thread: %s",
			exp->export_id, strerror(e));
		exp->opener_running = false;
		return false;
	}
	return true;
}

static void close_fs(struct zerofs_export *exp)
{
	struct zfs *fs;
	lsm_status ls;

	if (exp->opener_running) {
		pthread_mutex_lock(&exp->opener_lock);
		exp->opener_stop = true;
		pthread_cond_broadcast(&exp->opener_cond);
		pthread_mutex_unlock(&exp->opener_lock);
		pthread_join(exp->opener, NULL);
		exp->opener_running = false;
	}
	if ((fs = zerofs_fs(exp)))
		zfs_close(fs);
	if (exp->db && (ls = lsm_close(exp->db)) != LSM_OK)
		LogMajor(COMPONENT_FSAL, "export %u: closing %s: %s (%s)", exp->export_id,
			 exp->store_desc ? exp->store_desc : "?", lsm_strstatus(ls), lsm_last_error());
	if (exp->store_desc)
		release_store(exp->store_desc);
	zs3_close(exp->store);
	gsh_free(exp->store_desc);
	gsh_free(exp->cache_path);
	exp->fs = NULL;
	exp->db = NULL;
	exp->store = NULL;
	exp->store_desc = NULL;
	exp->cache_path = NULL;
}

/* ---- export ops ---------------------------------------------------------- */

static void zerofs_release_export(struct fsal_export *exp_hdl)
{
	struct zerofs_export *exp = zerofs_export_of(exp_hdl);

	LogDebug(COMPONENT_FSAL, "export %u: releasing", exp->export_id);
	zerofs_metrics_export_fini(exp); /* unlisted before anything is closed */
	close_fs(exp);
	fsal_detach_export(exp_hdl->fsal, &exp_hdl->exports);
	pthread_cond_destroy(&exp->opener_cond);
	pthread_mutex_destroy(&exp->opener_lock);
	free_export_ops(exp_hdl);
	gsh_free(exp);
}

/* The export's root, or a directory below it for a path under the export's
 * Path (e.g. a v3 mount of /zerofs/sub). */
static fsal_status_t zerofs_lookup_path(struct fsal_export *exp_hdl, const char *path,
					struct fsal_obj_handle **handle,
					struct fsal_attrlist *attrs_out)
{
	struct zerofs_export *exp = zerofs_export_of(exp_hdl);
	const char *root = CTX_FULLPATH(op_ctx);
	size_t rl = strlen(root);
	struct zfs_attr a;
	struct zfs *fs;
	char name[ZFS_NAME_MAX + 1];
	const char *p;
	int err;

	*handle = NULL;
	while (rl > 1 && root[rl - 1] == '/')
		rl--;
	if (strncmp(path, root, rl) != 0 || (path[rl] != '\0' && path[rl] != '/' && rl > 1)) {
		LogInfo(COMPONENT_FSAL, "export %u: path %s is not under %s", exp->export_id, path,
			root);
		return fsalstat(ERR_FSAL_NOENT, ENOENT);
	}
	fs = zerofs_fs(exp);
	if (!fs) {
		/* The store has not answered yet: the export's root exists all
		 * the same (its handle needs nothing from the store), with
		 * attributes marked unreadable so that MDCACHE asks again. */
		if (path[rl + strspn(path + rl, "/")] != '\0') /* a directory below it */
			return zerofs_status(exp, EAGAIN, "lookup_path");
		a = (struct zfs_attr){ .ino = ZFS_ROOT_INO, .type = ZFS_DIR };
		*handle = &zerofs_alloc_handle(exp, &a)->obj_handle;
		if (attrs_out)
			attrs_out->valid_mask = ATTR_RDATTR_ERR;
		return fsalstat(ERR_FSAL_NO_ERROR, 0);
	}
	if ((err = zfs_getattr(fs, ZFS_ROOT_INO, &a)))
		return zerofs_status(exp, err, "lookup_path");
	for (p = path + rl; *p;) {
		size_t n;
		while (*p == '/')
			p++;
		if (!*p)
			break;
		n = strcspn(p, "/");
		if (n > ZFS_NAME_MAX)
			return fsalstat(ERR_FSAL_NAMETOOLONG, ENAMETOOLONG);
		memcpy(name, p, n);
		name[n] = '\0';
		p += n;
		if ((err = zfs_lookup(fs, a.ino, name, &a)))
			return zerofs_status(exp, err, "lookup_path");
		if (a.type != ZFS_DIR)
			return fsalstat(ERR_FSAL_NOTDIR, ENOTDIR);
	}
	*handle = &zerofs_alloc_handle(exp, &a)->obj_handle;
	if (attrs_out)
		zerofs_attr_to_fsal(exp, &a, attrs_out);
	return fsalstat(ERR_FSAL_NO_ERROR, 0);
}

/* Checks our part of a wire handle; ganesha then uses it as the host handle
 * and as the MDCACHE key. Garbage is BADHANDLE, never a crash. */
static fsal_status_t zerofs_wire_to_host(struct fsal_export *exp_hdl, fsal_digesttype_t in_type,
					 struct gsh_buffdesc *fh_desc, int flags)
{
	uint64_t ino, gen;

	(void)exp_hdl;
	(void)in_type;
	(void)flags; /* our encoding is byte-order independent */
	if (!fh_desc || !fh_desc->addr || !zerofs_fh_decode(fh_desc->addr, fh_desc->len, &ino, &gen)) {
		LogInfo(COMPONENT_FSAL, "bad ZEROFS handle (%zu bytes)", fh_desc ? fh_desc->len : 0);
		return fsalstat(ERR_FSAL_BADHANDLE, 0);
	}
	fh_desc->len = ZEROFS_FH_LEN;
	return fsalstat(ERR_FSAL_NO_ERROR, 0);
}

static fsal_status_t zerofs_create_handle(struct fsal_export *exp_hdl, struct gsh_buffdesc *hdl_desc,
					  struct fsal_obj_handle **handle,
					  struct fsal_attrlist *attrs_out)
{
	struct zerofs_export *exp = zerofs_export_of(exp_hdl);
	uint64_t ino, gen;
	struct zfs_attr a;
	struct zfs *fs;
	int err;

	*handle = NULL;
	if (!zerofs_fh_decode(hdl_desc->addr, hdl_desc->len, &ino, &gen))
		return fsalstat(ERR_FSAL_BADHANDLE, 0);
	if (!(fs = zerofs_fs(exp)))
		return zerofs_status(exp, EAGAIN, "create_handle");
	/* another filesystem's, a damaged or a forged handle */
	if (gen != zerofs_fh_tag(exp->fs_gen, ino))
		return fsalstat(ERR_FSAL_STALE, ESTALE);
	err = zfs_getattr_gen(fs, ino, exp->fs_gen, &a);
	if (err == ENOENT)
		err = ESTALE;
	if (err)
		return err == ESTALE ? fsalstat(ERR_FSAL_STALE, ESTALE)
				     : zerofs_status(exp, err, "create_handle");
	*handle = &zerofs_alloc_handle(exp, &a)->obj_handle;
	if (attrs_out)
		zerofs_attr_to_fsal(exp, &a, attrs_out);
	return fsalstat(ERR_FSAL_NO_ERROR, 0);
}

/* An object store has no fixed capacity: report a large virtual one (1 PiB
 * of space, 2^40 inodes) minus what is used. */
#define ZEROFS_VIRTUAL_BYTES (UINT64_C(1) << 50)
#define ZEROFS_VIRTUAL_FILES (UINT64_C(1) << 40)

static fsal_status_t zerofs_get_dynamic_info(struct fsal_export *exp_hdl,
					     struct fsal_obj_handle *obj_hdl,
					     fsal_dynamicfsinfo_t *info)
{
	struct zerofs_export *exp = zerofs_export_of(exp_hdl);
	struct zfs *fs = zerofs_fs(exp);
	struct zfs_statfs s;
	int err;

	(void)obj_hdl;
	if (!fs)
		return zerofs_status(exp, EAGAIN, "statfs");
	if ((err = zfs_statfs(fs, &s)))
		return zerofs_status(exp, err, "statfs");
	memset(info, 0, sizeof(*info));
	info->total_bytes = ZEROFS_VIRTUAL_BYTES;
	info->free_bytes = s.bytes_used < ZEROFS_VIRTUAL_BYTES ? ZEROFS_VIRTUAL_BYTES - s.bytes_used : 0;
	info->avail_bytes = info->free_bytes;
	info->total_files = ZEROFS_VIRTUAL_FILES;
	info->free_files = s.files < ZEROFS_VIRTUAL_FILES ? ZEROFS_VIRTUAL_FILES - s.files : 0;
	info->avail_files = info->free_files;
	info->maxread = exp_hdl->fsal->fs_info.maxread;
	info->maxwrite = exp_hdl->fsal->fs_info.maxwrite;
	info->time_delta.tv_sec = 0;
	info->time_delta.tv_nsec = 1; /* times are kept to the nanosecond */
	return fsalstat(ERR_FSAL_NO_ERROR, 0);
}

static bool zerofs_fs_supports(struct fsal_export *exp_hdl, fsal_fsinfo_options_t option)
{
	const struct fsal_staticfsinfo_t *i = &exp_hdl->fsal->fs_info;

	switch (option) {
	case fso_no_trunc: return i->no_trunc;
	case fso_chown_restricted: return i->chown_restricted;
	case fso_case_insensitive: return i->case_insensitive;
	case fso_case_preserving: return i->case_preserving;
	case fso_link_support: return i->link_support;
	case fso_symlink_support: return i->symlink_support;
	case fso_lock_support: return i->lock_support;
	case fso_lock_support_async_block: return i->lock_support_async_block;
	case fso_named_attr: return i->named_attr;
	case fso_unique_handles: return i->unique_handles;
	case fso_cansettime: return i->cansettime;
	case fso_homogenous: return i->homogenous;
	case fso_auth_exportpath_xdev: return i->auth_exportpath_xdev;
	case fso_delegations_r: return (i->delegations & FSAL_OPTION_FILE_READ_DELEG) != 0;
	case fso_delegations_w: return (i->delegations & FSAL_OPTION_FILE_WRITE_DELEG) != 0;
	case fso_pnfs_ds_supported: return i->pnfs_ds;
	case fso_pnfs_mds_supported: return i->pnfs_mds;
	case fso_grace_method: return i->fsal_grace;
	case fso_link_supports_permission_checks: return i->link_supports_permission_checks;
	case fso_rename_changes_key: return i->rename_changes_key;
	case fso_compute_readdir_cookie: return i->compute_readdir_cookie;
	case fso_whence_is_name: return i->whence_is_name;
	case fso_readdir_plus: return i->readdir_plus;
	case fso_compliant_eof_behavior: return i->compliant_eof_behavior;
	case fso_xattr_support: return i->xattr_support;
	}
	return false;
}

/* A state carries our "fd" (its open mode) right after it, as the common
 * helpers (fsal_find_fd, the default status2) expect. */
static struct state_t *zerofs_alloc_state(struct fsal_export *exp_hdl, enum state_type state_type,
					  struct state_t *related_state)
{
	return init_state(gsh_calloc(1, sizeof(struct state_t) + sizeof(struct fsal_fd)), exp_hdl,
			  state_type, related_state);
}

static void zerofs_export_ops_init(struct export_ops *ops)
{
	ops->release = zerofs_release_export;
	ops->lookup_path = zerofs_lookup_path;
	ops->wire_to_host = zerofs_wire_to_host;
	ops->create_handle = zerofs_create_handle;
	ops->get_fs_dynamic_info = zerofs_get_dynamic_info;
	ops->fs_supports = zerofs_fs_supports;
	ops->alloc_state = zerofs_alloc_state;
	ops->get_write_verifier = zerofs_get_write_verifier;
	zerofs_metrics_wrap_export_ops(ops);
}

/* ---- create / update ------------------------------------------------------ */

fsal_status_t zerofs_create_export(struct fsal_module *fsal_hdl, void *parse_node,
				   struct config_error_type *err_type,
				   const struct fsal_up_vector *up_ops)
{
	struct zerofs_export *exp = gsh_calloc(1, sizeof(*exp));
	struct zfs_store_config c;
	unsigned id = op_ctx->ctx_export->export_id;
	int rc;

	fsal_export_init(&exp->export);
	zerofs_export_ops_init(&exp->export.exp_ops);
	exp->export_id = id;
	pthread_mutex_init(&exp->opener_lock, NULL);
	pthread_cond_init(&exp->opener_cond, NULL);
	zerofs_metrics_export_init(exp);

	if (zerofs_module_of(fsal_hdl)->config_bad) {
		LogCrit(COMPONENT_FSAL,
			"export %u: not created: the ZEROFS {} block was refused (see the first error)",
			id);
		goto err_free;
	}
	if (!config_load(parse_node, err_type, &c, id))
		goto err_free;
	exp->sync = c.sync;
	verifier_once();
	if (!open_fs(exp, &c)) {
		close_fs(exp); /* what was set up before the failure */
		zfs_store_config_free(&c);
		err_type->invalid = true;
		goto err_free;
	}
	zfs_store_config_free(&c);

	if ((rc = fsal_attach_export(fsal_hdl, &exp->export.exports)) != 0) {
		LogMajor(COMPONENT_FSAL, "export %u: could not attach export", id);
		close_fs(exp);
		goto err_free;
	}
	exp->export.fsal = fsal_hdl;
	exp->export.up_ops = up_ops;
	op_ctx->fsal_export = &exp->export;
	zerofs_metrics_export_add(exp);
	return fsalstat(ERR_FSAL_NO_ERROR, 0);

err_free:
	zerofs_metrics_export_fini(exp);
	pthread_cond_destroy(&exp->opener_cond);
	pthread_mutex_destroy(&exp->opener_lock);
	free_export_ops(&exp->export);
	gsh_free(exp);
	return fsalstat(ERR_FSAL_INVAL, EINVAL);
}

/* A config reload may change Sync; the store cannot change under a live
 * export (remove and re-add the export for that). */
fsal_status_t zerofs_update_export(struct fsal_module *fsal_hdl, void *parse_node,
				   struct config_error_type *err_type,
				   struct fsal_export *original, struct fsal_module *updated_super)
{
	struct zerofs_export *exp = zerofs_export_of(original);
	struct zfs_store_config c;
	struct zs3_store *probe = NULL;
	char err[512];
	fsal_status_t st = update_export(fsal_hdl, parse_node, err_type, original, updated_super);
	bool same;

	if (FSAL_IS_ERROR(st))
		return st;
	if (!config_load(parse_node, err_type, &c, exp->export_id))
		return fsalstat(ERR_FSAL_INVAL, EINVAL);
	/* Same store? Compare descriptions (opening a store contacts nothing). */
	same = zfs_store_config_open(&c, false, &probe, err, sizeof(err)) == 0 && exp->store_desc &&
	       !strcmp(zs3_describe(probe), exp->store_desc);
	zs3_close(probe);
	if (!same) {
		LogCrit(COMPONENT_FSAL,
			"export %u: the ZEROFS store settings cannot change while the export exists; remove the export and add it again",
			exp->export_id);
		zfs_store_config_free(&c);
		err_type->invalid = true;
		return fsalstat(ERR_FSAL_INVAL, EINVAL);
	}
	if (exp->sync != c.sync)
		LogEvent(COMPONENT_FSAL, "export %u: Sync = %s", exp->export_id,
			 c.sync ? "true" : "false");
	__atomic_store_n(&exp->sync, c.sync, __ATOMIC_RELAXED);
	zfs_store_config_free(&c);
	return fsalstat(ERR_FSAL_NO_ERROR, 0);
}
