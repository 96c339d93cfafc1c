/*
 * fsal_zerofs/admin/open.c - from a configuration to an open filesystem:
 * the store (with clear errors for a missing bucket or directory, rejected
 * credentials, an unreachable endpoint, a store holding no filesystem), the
 * LSM tree (read-only, or as a writer behind the liveness guard) and the
 * filesystem core. Also the ganesha config file loader.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "admin.h"
#include "gconf.h"

void admin_err(const char *fmt, ...)
{
	va_list ap;
	fflush(stdout);
	fputs("zerofs: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

const char *admin_bytes(uint64_t n, char *buf)
{
	static const char *const units[] = { "bytes", "KiB", "MiB", "GiB", "TiB", "PiB" };
	double v = (double)n;
	int u = 0;
	if (n < 1024) {
		snprintf(buf, 32, "%" PRIu64 " bytes", n);
		return buf;
	}
	while (v >= 1024 && u < 5) {
		v /= 1024;
		u++;
	}
	snprintf(buf, 32, "%.1f %s", v, units[u]);
	return buf;
}

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One cheap request that tells a missing bucket, rejected credentials and
 * an unreachable endpoint apart, and an empty store from one with objects. */
static int probe_store(struct admin_fs *a, const struct zfs_store_config *c)
{
	struct zs3_list l;
	zs3_status st = zs3_list(a->store, "", NULL, 1, &l);
	switch (st) {
	case ZS3_OK:
		break;
	case ZS3_ENOBUCKET:
		if (c->store == ZFS_STORE_LOCAL)
			admin_err("%s: the store directory does not exist (check --directory / Directory)", a->desc);
		else
			admin_err("%s: bucket '%s' does not exist (check --bucket / Bucket): %s", a->desc,
				  c->bucket ? c->bucket : getenv("AWS_S3_BUCKET") ? getenv("AWS_S3_BUCKET") : "slatedb",
				  zs3_last_error());
		return ZA_ERROR;
	case ZS3_EAUTH:
		if (c->store == ZFS_STORE_LOCAL)
			admin_err("%s: permission denied: %s", a->desc, zs3_last_error());
		else
			admin_err("%s: access denied: the credentials were rejected or lack permission "
				  "(check --credentials-file / Credentials_File or AWS_ACCESS_KEY_ID and "
				  "AWS_SECRET_ACCESS_KEY): %s", a->desc, zs3_last_error());
		return ZA_ERROR;
	case ZS3_ETRANSIENT:
		admin_err("%s: the store cannot be reached (check --endpoint / Endpoint; is it up?): %s",
			  a->desc, zs3_last_error());
		return ZA_ERROR;
	default:
		admin_err("%s: %s: %s", a->desc, zs3_strstatus(st), zs3_last_error());
		return ZA_ERROR;
	}
	size_t n = l.count;
	zs3_list_free(&l);
	if (n == 0) {
		admin_err("%s is empty: it holds no ZeroFS filesystem (wrong --directory, --bucket or --prefix?)",
			  a->desc);
		return ZA_ERROR;
	}
	return ZA_OK;
}

/* The liveness guard of writer opens: see docs/zerofs.1, "WRITING TO A
 * STORE". */
static int guard(const struct admin_opts *o, struct admin_fs *a, const char *what)
{
	struct lsm_activity act;
	lsm_status st = lsm_activity(a->store, &act);
	if (st == LSM_ENOTFOUND) {
		admin_err("%s holds no ZeroFS filesystem (no LSM manifest)", a->desc);
		return ZA_ERROR;
	}
	if (st) {
		admin_err("%s: cannot read the manifest: %s (%s)", a->desc, lsm_strstatus(st), lsm_last_error());
		return ZA_ERROR;
	}
	int64_t newest = act.manifest_mtime_ms > act.newest_wal_mtime_ms ? act.manifest_mtime_ms
									 : act.newest_wal_mtime_ms;
	int64_t age_ms = wall_ms() - newest;
	if (age_ms < 0)
		age_ms = 0;
	if ((uint64_t)age_ms >= o->live_window_s * 1000)
		return ZA_OK;
	if (o->force) {
		fprintf(stderr, "zerofs: warning: %s was written %" PRId64 " s ago; --force: opening it "
			"for writing anyway (a server that has it open is fenced now)\n",
			a->desc, age_ms / 1000);
		return ZA_OK;
	}
	admin_err("refusing to %s: %s was written %" PRId64 " s ago (manifest %" PRIu64
		  ", writer epoch %" PRIu64 "), so a server may have it open. %s opens the store "
		  "for writing, which would fence that server: it would fail every write with "
		  "EROFS until restarted. Stop the server first, or wait until the store has been "
		  "idle for %" PRIu64 " s (--live-window), or pass --force.",
		  what, a->desc, age_ms / 1000, act.manifest_id, act.writer_epoch, what,
		  o->live_window_s);
	return ZA_ERROR;
}

int admin_open_store(const struct admin_opts *o, bool writer, const char *what,
		     struct admin_fs *a)
{
	char err[1024];
	int rc;

	memset(a, 0, sizeof(*a));
	a->writer = writer;
	if (zfs_store_config_open(&o->cfg, false, &a->store, err, sizeof(err))) {
		admin_err("%s", err);
		return ZA_ERROR;
	}
	snprintf(a->desc, sizeof(a->desc), "%s", zs3_describe(a->store));
	if ((rc = probe_store(a, &o->cfg)) || (writer && (rc = guard(o, a, what)))) {
		admin_close(a);
		return rc;
	}
	return ZA_OK;
}

int admin_open(const struct admin_opts *o, bool writer, const char *what, bool need_fs,
	       struct admin_fs *a)
{
	int rc = admin_open_store(o, writer, what, a);
	return rc ? rc : admin_open_tree(o, need_fs, a);
}

int admin_open_tree(const struct admin_opts *o, bool need_fs, struct admin_fs *a)
{
	struct lsm_options lo;
	lsm_status st;

	/* The tool never uses the disk cache: a server may be using it. */
	memset(&lo, 0, sizeof(lo));
	lo.store = a->store;
	lo.block_cache_bytes = (size_t)o->cfg.memory_cache_mb << 20;
	lo.read_only = !a->writer;
	lo.no_background = true;
	lo.gc_min_age_ms = o->min_age_s ? o->min_age_s * 1000 : 1; /* 0 = the default of 1 h */
	if ((st = lsm_open(&lo, &a->db))) {
		if (st == LSM_ENOTFOUND)
			admin_err("%s holds no ZeroFS filesystem (no LSM manifest; %s)", a->desc, lsm_last_error());
		else
			admin_err("%s: cannot open the LSM tree: %s (%s)", a->desc, lsm_strstatus(st),
				  lsm_last_error());
		a->db = NULL;
		admin_close(a);
		return ZA_ERROR;
	}
	if (need_fs) {
		struct zfs_info info;
		int e = zfs_read_info(a->db, &info);
		if (e == ENOENT) {
			admin_err("%s holds an LSM tree but no ZeroFS filesystem (no superblock)", a->desc);
			admin_close(a);
			return ZA_ERROR;
		}
		if (!e)
			e = zfs_open(a->db, &a->fs);
		if (e) {
			admin_err("%s: cannot open the filesystem: %s (%s)", a->desc, strerror(e),
				  e == EIO ? zfs_error_detail() : lsm_last_error());
			a->fs = NULL;
			admin_close(a);
			return ZA_ERROR;
		}
	}
	return ZA_OK;
}

int admin_close(struct admin_fs *a)
{
	int rc = ZA_OK;
	if (a->fs)
		zfs_close(a->fs);
	if (a->db) {
		lsm_status st = lsm_close(a->db);
		if (st && a->writer) {
			admin_err("%s: uploading the last changes failed: %s (%s)", a->desc,
				  lsm_strstatus(st), lsm_last_error());
			rc = ZA_ERROR;
		}
	}
	zs3_close(a->store);
	memset(a, 0, sizeof(*a));
	return rc;
}

/* ---- ganesha config files ---- */

static bool is_zerofs_fsal(const struct gconf_node *export, const struct gconf_node **fsal)
{
	*fsal = NULL;
	for (const struct gconf_node *n = export->children; n; n = n->next) {
		if (n->value || strcasecmp(n->name, "FSAL"))
			continue;
		const struct gconf_node *name = gconf_find(n->children, "Name");
		if (name && name->value && !strcasecmp(name->value, "ZEROFS")) {
			*fsal = n;
			return true;
		}
	}
	return false;
}

int admin_load_ganesha_config(const char *path, long export_id, struct zfs_store_config *cfg)
{
	struct gconf_node *root;
	const struct gconf_node *found = NULL, *fsal = NULL;
	char err[1024];
	int nzerofs = 0, rc = ZA_ERROR;

	if (gconf_parse_file(path, &root, err, sizeof(err))) {
		admin_err("%s", err);
		return ZA_ERROR;
	}
	for (const struct gconf_node *n = root; n; n = n->next) {
		const struct gconf_node *f;
		if (n->value || strcasecmp(n->name, "EXPORT"))
			continue;
		const struct gconf_node *id = gconf_find(n->children, "Export_Id");
		char *end;
		long v = id && id->value ? strtol(id->value, &end, 10) : -1;
		bool zfs = is_zerofs_fsal(n, &f);
		nzerofs += zfs;
		if (export_id >= 0 && v == export_id) {
			if (!zfs) {
				admin_err("%s: export %ld (line %d) is not a ZEROFS export", path, export_id, n->line);
				goto out;
			}
			found = n;
			fsal = f;
		} else if (export_id < 0 && zfs) {
			found = n;
			fsal = f;
		}
	}
	if (export_id < 0 && nzerofs > 1) {
		admin_err("%s has %d ZEROFS exports: choose one with --export-id", path, nzerofs);
		goto out;
	}
	if (!found) {
		if (export_id >= 0)
			admin_err("%s has no EXPORT with Export_Id = %ld", path, export_id);
		else
			admin_err("%s has no EXPORT with FSAL { Name = ZEROFS; ... }", path);
		goto out;
	}
	for (const struct gconf_node *k = fsal->children; k; k = k->next) {
		if (!k->value) {
			admin_err("%s:%d: unexpected block %s in the ZEROFS FSAL block", k->file, k->line, k->name);
			goto out;
		}
		if (zfs_store_config_set(cfg, k->name, k->value, err, sizeof(err))) {
			admin_err("%s:%d: ZEROFS FSAL block: %s", k->file, k->line, err);
			goto out;
		}
	}
	rc = ZA_OK;
out:
	gconf_free(root);
	return rc;
}
