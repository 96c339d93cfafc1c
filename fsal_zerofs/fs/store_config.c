/* fsal_zerofs/fs/store_config.c - see store_config.h */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "lsm.h"
#include "store_config.h"

static int fail(char *err, size_t errlen, int e, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t errlen, int e, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (err && errlen)
		vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return e;
}

void zfs_store_config_init(struct zfs_store_config *c)
{
	memset(c, 0, sizeof(*c));
	c->addressing = ZS3_ADDR_AUTO;
	c->memory_cache_mb = 64;
	c->flush_interval_ms = 100;
	c->wal_uploads = 4;
	c->sync = true;
}

static void wipe_free(char **s)
{
	if (*s)
		explicit_bzero(*s, strlen(*s));
	free(*s);
	*s = NULL;
}

void zfs_store_config_free(struct zfs_store_config *c)
{
	char **strs[] = { &c->directory, &c->bucket, &c->endpoint, &c->region, &c->prefix,
			  &c->ca_file, &c->credentials_file, &c->access_key_id,
			  &c->secret_access_key, &c->cache_dir, &c->cache_size_gb };
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
		wipe_free(strs[i]);
	zfs_store_config_init(c);
}

static int parse_bool(const char *key, const char *v, bool *out, char *err, size_t errlen)
{
	static const char *const yes[] = { "true", "yes", "on", "1" }, *const no[] = { "false", "no", "off", "0" };
	for (size_t i = 0; i < 4; i++) {
		if (!strcasecmp(v, yes[i])) {
			*out = true;
			return 0;
		}
		if (!strcasecmp(v, no[i])) {
			*out = false;
			return 0;
		}
	}
	return fail(err, errlen, EINVAL, "%s: \"%s\" is not a boolean (true or false)", key, v);
}

static int parse_u32(const char *key, const char *v, uint32_t min, uint32_t max, uint32_t *out,
		     char *err, size_t errlen)
{
	char *end;
	unsigned long long n;
	errno = 0;
	n = strtoull(v, &end, 10);
	if (errno || end == v || *end || v[0] == '-' || n < min || n > max)
		return fail(err, errlen, EINVAL, "%s: \"%s\" is not a whole number from %u to %u", key,
			    v, min, max);
	*out = (uint32_t)n;
	return 0;
}

/* The string keys: name, where, length limits, secret (never echoed). */
struct str_key {
	const char *name;
	size_t off;
	size_t max;
	bool path, secret;
};
#define SK(n, f, m, p, s) { n, offsetof(struct zfs_store_config, f), m, p, s }
static const struct str_key str_keys[] = {
	SK("Directory", directory, 4096, true, false),
	SK("Bucket", bucket, 255, false, false),
	SK("Endpoint", endpoint, 1024, false, false),
	SK("Region", region, 64, false, false),
	SK("Prefix", prefix, 512, false, false),
	SK("CA_File", ca_file, 4096, true, false),
	SK("Credentials_File", credentials_file, 4096, true, false),
	SK("Access_Key_Id", access_key_id, 256, false, true),
	SK("Secret_Access_Key", secret_access_key, 256, false, true),
	SK("Cache_Dir", cache_dir, 4096, true, false),
	SK("Cache_Size_GB", cache_size_gb, 32, false, false),
};

int zfs_store_config_set(struct zfs_store_config *c, const char *key, const char *v, char *err,
			 size_t errlen)
{
	bool b = false;
	int e;
	if (!strcasecmp(key, "Name"))
		return 0;
	if (!strcasecmp(key, "Store")) {
		if (!strcasecmp(v, "local"))
			c->store = ZFS_STORE_LOCAL;
		else if (!strcasecmp(v, "s3"))
			c->store = ZFS_STORE_S3;
		else
			return fail(err, errlen, EINVAL, "Store: \"%s\" is not local or s3", v);
		return 0;
	}
	if (!strcasecmp(key, "Allow_Http")) {
		if ((e = parse_bool("Allow_Http", v, &b, err, errlen)))
			return e;
		c->allow_http = b ? ZFS_TRI_TRUE : ZFS_TRI_FALSE;
		return 0;
	}
	if (!strcasecmp(key, "Addressing")) {
		if (!strcasecmp(v, "path"))
			c->addressing = ZS3_ADDR_PATH;
		else if (!strcasecmp(v, "virtual"))
			c->addressing = ZS3_ADDR_VIRTUAL;
		else if (!strcasecmp(v, "auto"))
			c->addressing = ZS3_ADDR_AUTO;
		else
			return fail(err, errlen, EINVAL, "Addressing: \"%s\" is not auto, path or virtual", v);
		c->addressing_set = c->addressing != ZS3_ADDR_AUTO;
		return 0;
	}
	if (!strcasecmp(key, "Memory_Cache_MB"))
		return parse_u32("Memory_Cache_MB", v, 1, 1024 * 1024, &c->memory_cache_mb, err, errlen);
	if (!strcasecmp(key, "Flush_Interval_Ms"))
		return parse_u32("Flush_Interval_Ms", v, 1, 60000, &c->flush_interval_ms, err, errlen);
	if (!strcasecmp(key, "WAL_Uploads"))
		return parse_u32("WAL_Uploads", v, 1, 8, &c->wal_uploads, err, errlen);
	if (!strcasecmp(key, "Sync"))
		return parse_bool("Sync", v, &c->sync, err, errlen);
	for (size_t i = 0; i < sizeof(str_keys) / sizeof(str_keys[0]); i++) {
		const struct str_key *k = &str_keys[i];
		char **slot = (char **)((char *)c + k->off), *copy;
		size_t n = strlen(v);
		if (strcasecmp(key, k->name))
			continue;
		if (n == 0 || n > k->max)
			return fail(err, errlen, EINVAL, "%s: the value must be 1 to %zu bytes long",
				    k->name, k->max);
		if (!strcasecmp(key, "Cache_Size_GB")) {
			uint64_t bytes;
			if (lsm_parse_cache_size_gb("Cache_Size_GB", v, &bytes) != LSM_OK)
				return fail(err, errlen, EINVAL, "%s", lsm_last_error());
		}
		if (!(copy = strdup(v)))
			return fail(err, errlen, ENOMEM, "out of memory");
		wipe_free(slot);
		*slot = copy;
		return 0;
	}
	return fail(err, errlen, ENOENT, "unknown key %s", key);
}

int zfs_store_config_check(const struct zfs_store_config *c, char *err, size_t errlen)
{
	const char *bad = NULL, *why = "";
	if (c->store == ZFS_STORE_UNSET) {
		bad = "Store";
		why = "is missing (Store = local or Store = s3)";
	} else if (c->store == ZFS_STORE_LOCAL) {
		if (!c->directory) {
			bad = "Directory";
			why = "is missing (required with Store = local)";
		} else if (c->directory[0] != '/') {
			bad = "Directory";
			why = "must be an absolute path";
		} else if (c->bucket) {
			bad = "Bucket";
		} else if (c->endpoint) {
			bad = "Endpoint";
		} else if (c->region) {
			bad = "Region";
		} else if (c->prefix) {
			bad = "Prefix";
		} else if (c->allow_http != ZFS_TRI_UNSET) {
			bad = "Allow_Http";
		} else if (c->addressing_set) {
			bad = "Addressing";
		} else if (c->ca_file) {
			bad = "CA_File";
		} else if (c->credentials_file) {
			bad = "Credentials_File";
		} else if (c->access_key_id) {
			bad = "Access_Key_Id";
		} else if (c->secret_access_key) {
			bad = "Secret_Access_Key";
		}
		if (bad && !*why)
			why = "applies only to Store = s3";
	} else {
		if (c->directory) {
			bad = "Directory";
			why = "applies only to Store = local";
		} else if (c->credentials_file && (c->access_key_id || c->secret_access_key)) {
			bad = c->access_key_id ? "Access_Key_Id" : "Secret_Access_Key";
			why = "conflicts with Credentials_File (use one)";
		} else if (!c->access_key_id != !c->secret_access_key) {
			bad = c->access_key_id ? "Secret_Access_Key" : "Access_Key_Id";
			why = "is missing (inline credentials need both keys)";
		}
	}
	if (!bad && c->cache_size_gb && !c->cache_dir && !getenv("SLATEDB_CACHE_DIR")) {
		bad = "Cache_Size_GB";
		why = "needs Cache_Dir (or SLATEDB_CACHE_DIR)";
	}
	return bad ? fail(err, errlen, EINVAL, "%s %s", bad, why) : 0;
}

/* mkdir -p with mode 0700 for what it creates. */
static int mkdir_p(const char *path)
{
	char buf[4096];
	size_t n = strlen(path);
	if (n == 0 || n >= sizeof(buf))
		return EINVAL;
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1;; p++) {
		if (*p == '/' || *p == '\0') {
			char ch = *p;
			*p = '\0';
			if (mkdir(buf, 0700) != 0 && errno != EEXIST)
				return errno;
			*p = ch;
			if (!ch)
				break;
		}
	}
	return 0;
}

static int zs3_errno(zs3_status st)
{
	switch (st) {
	case ZS3_OK: return 0;
	case ZS3_EAUTH: return EACCES;
	case ZS3_ENOBUCKET: return ENOENT;
	case ZS3_ENOMEM: return ENOMEM;
	default: return EINVAL;
	}
}

int zfs_store_config_open(const struct zfs_store_config *c, bool create_dir,
			  struct zs3_store **out, char *err, size_t errlen)
{
	zs3_status st;
	int e;
	*out = NULL;
	if ((e = zfs_store_config_check(c, err, errlen)))
		return e;
	if (c->store == ZFS_STORE_LOCAL) {
		struct stat sb;
		if (stat(c->directory, &sb) != 0) {
			if (!create_dir)
				return fail(err, errlen, ENOENT, "Directory: %s does not exist",
					    c->directory);
			if ((e = mkdir_p(c->directory)))
				return fail(err, errlen, e, "Directory: cannot create %s: %s",
					    c->directory, strerror(e));
		}
		if ((st = zs3_open_local(c->directory, create_dir, out)))
			return fail(err, errlen, zs3_errno(st), "Directory: cannot open %s: %s (%s)",
				    c->directory, zs3_strstatus(st), zs3_last_error());
		return 0;
	}

	struct zs3_s3_config s3 = { 0 };
	char *ak = NULL, *sk = NULL;
	s3.endpoint = c->endpoint;
	s3.bucket = c->bucket;
	s3.region = c->region;
	s3.prefix = c->prefix;
	s3.ca_file = c->ca_file;
	s3.addressing = c->addressing;
	if (c->credentials_file) {
		if ((st = zs3_read_credentials_file(c->credentials_file, &ak, &sk)))
			return fail(err, errlen, st == ZS3_EAUTH ? EACCES : zs3_errno(st),
				    "Credentials_File: %s", zs3_last_error());
		s3.access_key = ak;
		s3.secret_key = sk;
	} else if (c->access_key_id) {
		s3.access_key = c->access_key_id;
		s3.secret_key = c->secret_access_key;
	}
	zs3_s3_config_from_env(&s3); /* AWS_* fill what is not set */
	if (c->allow_http != ZFS_TRI_UNSET)
		s3.allow_http = c->allow_http == ZFS_TRI_TRUE; /* an explicit setting wins */
	st = zs3_open_s3(&s3, out);
	if (ak)
		explicit_bzero(ak, strlen(ak));
	if (sk)
		explicit_bzero(sk, strlen(sk));
	free(ak);
	free(sk);
	if (st) /* zs3_last_error() never holds a secret */
		return fail(err, errlen, zs3_errno(st),
			    "cannot set up the S3 store (check Endpoint, Bucket, Region, Allow_Http, "
			    "Credentials_File): %s",
			    zs3_last_error());
	return 0;
}

uint64_t zfs_store_id(struct zs3_store *store)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	for (const char *s = zs3_describe(store); *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

int zfs_store_config_lsm_options(const struct zfs_store_config *c, struct zs3_store *store,
				 struct lsm_options *o, char *cache_path, size_t cap, char *err,
				 size_t errlen)
{
	const char *dir = c->cache_dir ? c->cache_dir : getenv("SLATEDB_CACHE_DIR");
	const char *gb = c->cache_size_gb ? c->cache_size_gb : getenv("SLATEDB_CACHE_SIZE_GB");
	const char *gb_key = c->cache_size_gb ? "Cache_Size_GB" : "SLATEDB_CACHE_SIZE_GB";
	int e;

	memset(o, 0, sizeof(*o));
	o->store = store;
	o->block_cache_bytes = (size_t)c->memory_cache_mb << 20;
	o->flush_interval_ms = c->flush_interval_ms;
	o->wal_max_inflight = c->wal_uploads;
	if (cache_path && cap)
		cache_path[0] = '\0';
	if (!dir || !*dir)
		return 0;
	if (!gb || !*gb)
		return fail(err, errlen, EINVAL, "Cache_Size_GB is missing (required with Cache_Dir %s)",
			    dir);
	if (lsm_parse_cache_size_gb(gb_key, gb, &o->cache_dir_bytes) != LSM_OK)
		return fail(err, errlen, EINVAL, "%s", lsm_last_error());
	if (!cache_path ||
	    (size_t)snprintf(cache_path, cap, "%s/%016" PRIx64, dir, zfs_store_id(store)) >= cap)
		return fail(err, errlen, EINVAL, "Cache_Dir: %s is too long", dir);
	if ((e = mkdir_p(dir)))
		return fail(err, errlen, e, "Cache_Dir: cannot create %s: %s", dir, strerror(e));
	o->cache_dir = cache_path;
	return 0;
}
