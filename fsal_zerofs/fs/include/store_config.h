/*
 * fsal_zerofs/fs/include/store_config.h - a filesystem's store settings, as the FSAL's
 * export block names them, without ganesha: parsing and checking each value
 * (errors name the key), opening the object store (credentials file, inline
 * keys, AWS_* environment), and filling lsm_options. The ganesha glue and the
 * admin tool (fsal_zerofs/admin) share it, so both read a configuration the
 * same way.
 *
 *   Store = local | s3;  Directory;  Bucket;  Endpoint;  Region;  Prefix;
 *   Addressing = auto | path | virtual;  Allow_Http;  CA_File;
 *   Credentials_File | (Access_Key_Id + Secret_Access_Key);
 *   Cache_Dir;  Cache_Size_GB;  Memory_Cache_MB;  Flush_Interval_Ms;  WAL_Uploads;  Sync
 *
 * S3 settings not given come from AWS_ENDPOINT_URL, AWS_S3_BUCKET,
 * AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION,
 * AWS_ALLOW_HTTP; the disk cache from SLATEDB_CACHE_DIR and
 * SLATEDB_CACHE_SIZE_GB. Error messages never hold a secret.
 *
 * Functions return 0 or an errno (EINVAL a bad setting, ENOENT an unknown
 * key, EACCES a refused credentials file, ENOMEM) with a message in err.
 */
#ifndef ZEROFS_STORE_CONFIG_H
#define ZEROFS_STORE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lsm.h"
#include "store.h"

enum zfs_store_kind { ZFS_STORE_UNSET = 0, ZFS_STORE_LOCAL, ZFS_STORE_S3 };
enum zfs_tri { ZFS_TRI_UNSET = 0, ZFS_TRI_FALSE, ZFS_TRI_TRUE };

struct zfs_store_config {
	enum zfs_store_kind store;
	/* malloc'd strings, NULL = not set */
	char *directory, *bucket, *endpoint, *region, *prefix, *ca_file;
	char *credentials_file, *access_key_id, *secret_access_key;
	char *cache_dir, *cache_size_gb;
	enum zfs_tri allow_http;
	enum zs3_addressing addressing; /* ZS3_ADDR_AUTO unless set */
	bool addressing_set;
	uint32_t memory_cache_mb;   /* 64 unless set */
	uint32_t flush_interval_ms; /* 100 unless set */
	uint32_t wal_uploads;       /* WAL uploads in flight at most, 1-8; 4 unless set */
	bool sync;                  /* true unless set */
};

void zfs_store_config_init(struct zfs_store_config *c);
/* Frees the strings (wiping the secret key) and re-initialises. */
void zfs_store_config_free(struct zfs_store_config *c);

/* Sets one setting by its key (case-insensitive, as in the FSAL block;
 * "Name" is accepted and ignored). A value already set is replaced. */
int zfs_store_config_set(struct zfs_store_config *c, const char *key, const char *value, char *err,
			 size_t errlen);
/* Rules across keys: Store given; Directory (absolute) with local and no S3
 * key; with s3 no Directory, one way of giving credentials; Cache_Size_GB
 * needs a cache directory. */
int zfs_store_config_check(const struct zfs_store_config *c, char *err, size_t errlen);

/* Opens the object store (contacting nothing). A local directory that does
 * not exist is created (mode 0700) only if create_dir; otherwise it is
 * ENOENT. */
int zfs_store_config_open(const struct zfs_store_config *c, bool create_dir,
			  struct zs3_store **out, char *err, size_t errlen);

/* A stable 64-bit name of the store (a hash of zs3_describe()): names its
 * disk-cache subdirectory and, in the FSAL, the NFS fsid. */
uint64_t zfs_store_id(struct zs3_store *store);

/* Fills o for the store (o is zeroed first): block cache, flush interval
 * and, if configured (or SLATEDB_CACHE_DIR), the disk cache in a
 * subdirectory of the cache directory named after the store (object names
 * repeat across stores), created if needed. cache_path (cap bytes) holds
 * that path; o->cache_dir points into it. */
int zfs_store_config_lsm_options(const struct zfs_store_config *c, struct zs3_store *store,
				 struct lsm_options *o, char *cache_path, size_t cap, char *err,
				 size_t errlen);

#endif
