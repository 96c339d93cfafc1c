/*
 * s3/include/store.h - the object-store interface ZeroFS's LSM writes through.
 *
 * A store is a flat namespace of immutable-per-version objects named by byte
 * strings (keys), in the spirit of SQLite's sqlite3_vfs: a table of function
 * pointers, one implementation per backend, and wrappers (retry, prefix, fault
 * injection) that are stores themselves and stack over another store.
 *
 * Contract every backend keeps:
 *  - Every operation is safe to call from many threads at once.
 *  - A put is atomic: readers see the old object or the new one, never a mix.
 *  - ETags are the lowercase hex MD5 of the object's bytes (what S3 returns for
 *    a single-part PUT). store.c relies on this to settle a conditional write
 *    whose reply was lost and which was then retried. It also means
 *    compare-and-swap compares content: rewriting identical bytes keeps the
 *    ETag, so callers that CAS must make each new version's bytes differ
 *    (the LSM manifest carries a version number).
 *  - Errors are values (zs3_status); zs3_last_error() gives a thread-local
 *    human-readable detail. Secrets never appear in either.
 *
 * Nothing here knows about the LSM or about ganesha.
 */
#ifndef ZEROFS_S3_STORE_H
#define ZEROFS_S3_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A status must be looked at: with C2x's [[nodiscard]] on the type, every
 * call whose zs3_status is dropped is a compile error (-Werror); one that
 * may be ignored on purpose says so with a (void) cast and a comment. */
#if defined(__STDC_VERSION__) && __STDC_VERSION__ > 201710L
#define ZS3_NODISCARD [[nodiscard]]
#else
#define ZS3_NODISCARD
#endif

typedef enum ZS3_NODISCARD zs3_status {
	ZS3_OK = 0,
	ZS3_ENOTFOUND,     /* no object under that key */
	ZS3_EPRECONDITION, /* conditional put lost: key exists / ETag differs */
	ZS3_ERANGE,        /* requested byte range not satisfiable */
	ZS3_EAUTH,         /* credentials rejected or access denied */
	ZS3_ENOBUCKET,     /* bucket (or store directory) does not exist */
	ZS3_ETRANSIENT,    /* may succeed if retried: 5xx, throttling, timeout, reset */
	ZS3_ECORRUPT,      /* bytes failed an integrity check */
	ZS3_EINVAL,        /* bad argument, key or configuration */
	ZS3_EIO,           /* any other permanent failure */
	ZS3_ENOMEM,
} zs3_status;

/* Short name of a status, e.g. "not found". Never NULL. */
const char *zs3_strstatus(zs3_status st);

/* Detail of the most recent failure in the calling thread ("" if none). */
const char *zs3_last_error(void);

/* Logging: one process-wide callback; without one, nothing is logged. */
enum zs3_log_level { ZS3_LOG_ERROR, ZS3_LOG_WARN, ZS3_LOG_INFO, ZS3_LOG_DEBUG };
typedef void (*zs3_log_fn)(void *ctx, enum zs3_log_level level, const char *msg);
void zs3_set_logger(zs3_log_fn fn, void *ctx);

#define ZS3_ETAG_MAX 72
#define ZS3_KEY_MAX 1024 /* bytes, as S3 */

struct zs3_meta {
	uint64_t size;
	char etag[ZS3_ETAG_MAX]; /* unquoted */
	int64_t mtime_ms;        /* last modified, ms since the epoch */
};

/* A growable byte buffer that get() fills. Zero-initialise before first use. */
struct zs3_buf {
	uint8_t *data;
	size_t len;
	size_t cap;
};
void zs3_buf_free(struct zs3_buf *b);

/* Byte ranges, with S3's semantics: FROM past the end is ERANGE, a length past
 * the end is clipped; SUFFIX n returns the last n bytes (all if n >= size). */
enum zs3_range_kind { ZS3_RANGE_ALL, ZS3_RANGE_FROM, ZS3_RANGE_SUFFIX };
struct zs3_range {
	enum zs3_range_kind kind;
	uint64_t offset; /* FROM only */
	uint64_t length; /* FROM: bytes wanted, UINT64_MAX = to the end; SUFFIX: n */
};
static inline struct zs3_range zs3_range_all(void)
{
	return (struct zs3_range){ ZS3_RANGE_ALL, 0, 0 };
}
static inline struct zs3_range zs3_range_from(uint64_t off, uint64_t len)
{
	return (struct zs3_range){ ZS3_RANGE_FROM, off, len };
}
static inline struct zs3_range zs3_range_suffix(uint64_t n)
{
	return (struct zs3_range){ ZS3_RANGE_SUFFIX, 0, n };
}

struct zs3_entry {
	char *key;
	uint64_t size;
	char etag[ZS3_ETAG_MAX];
	int64_t mtime_ms;
};
struct zs3_list {
	struct zs3_entry *entries; /* sorted by key, bytewise */
	size_t count;
	bool truncated; /* more keys follow: call again with start_after = last key */
};
void zs3_list_free(struct zs3_list *l);

/* Counters, summed over a stack of stores by zs3_stats(). */
enum zs3_op { ZS3_OP_PUT, ZS3_OP_GET, ZS3_OP_HEAD, ZS3_OP_DELETE, ZS3_OP_LIST, ZS3_OP_COUNT };
const char *zs3_op_name(enum zs3_op op);
struct zs3_stats {
	uint64_t requests[ZS3_OP_COUNT]; /* requests that reached the backend */
	uint64_t errors[ZS3_OP_COUNT];   /* of which failed (any status but OK) */
	uint64_t bytes_up, bytes_down;   /* object bytes sent / received */
	uint64_t retries;                /* extra attempts made by the retry layer */
	uint64_t faults_injected;        /* by the fault-injecting wrapper */
};

enum zs3_put_cond {
	ZS3_PUT_ALWAYS,
	ZS3_PUT_IF_ABSENT, /* create-only: EPRECONDITION if the key exists */
	ZS3_PUT_IF_MATCH,  /* compare-and-swap: EPRECONDITION unless current ETag matches */
};

struct zs3_store;

/* Operations. `out` arguments may be NULL where marked. */
zs3_status zs3_put(struct zs3_store *s, const char *key, const void *data, size_t len,
		   struct zs3_meta *out /* may be NULL */);
/* Conditional puts are idempotent: one that finds the object already holding
 * exactly its bytes succeeds (it is a retry whose earlier attempt landed).
 * If that cannot be checked (the store fails), the result is ETRANSIENT,
 * never EPRECONDITION: a write is only reported lost when it was. */
zs3_status zs3_put_if_absent(struct zs3_store *s, const char *key, const void *data,
			     size_t len, struct zs3_meta *out /* may be NULL */);
zs3_status zs3_put_if_match(struct zs3_store *s, const char *key, const void *data,
			    size_t len, const char *etag, struct zs3_meta *out /* may be NULL */);
/* Replaces buf's contents with the object's bytes (or the range's). */
zs3_status zs3_get(struct zs3_store *s, const char *key, struct zs3_range range,
		   struct zs3_buf *buf, struct zs3_meta *meta /* may be NULL */);
zs3_status zs3_head(struct zs3_store *s, const char *key, struct zs3_meta *meta);
/* Idempotent: deleting a missing key succeeds (as S3). */
zs3_status zs3_delete(struct zs3_store *s, const char *key);
/* Keys starting with prefix ("" = all) and greater than start_after (NULL =
 * from the start), at most max_keys (1..1000). On error *out is empty. */
zs3_status zs3_list(struct zs3_store *s, const char *prefix, const char *start_after,
		    unsigned max_keys, struct zs3_list *out);
/* Calls fn for every key under prefix after start_after (NULL = from the
 * start), in key order, listing page by page. fn returns ZS3_OK to go on;
 * anything else stops the walk and is returned. */
typedef zs3_status (*zs3_entry_fn)(void *ctx, const struct zs3_entry *e);
zs3_status zs3_list_each(struct zs3_store *s, const char *prefix, const char *start_after,
			 zs3_entry_fn fn, void *ctx);
void zs3_stats(struct zs3_store *s, struct zs3_stats *out);
/* A one-line description for logs, e.g. "s3://bucket/prefix at http://host" (no secrets). */
const char *zs3_describe(struct zs3_store *s);
/* Closes the store and every store it wraps. NULL is a no-op. */
void zs3_close(struct zs3_store *s);

/* ---- Backends ---------------------------------------------------------- */

/* Local directory: the embedded default. `create` makes the directory if it
 * does not exist; otherwise a missing directory is ENOBUCKET. */
zs3_status zs3_open_local(const char *dir, bool create, struct zs3_store **out);

enum zs3_addressing { ZS3_ADDR_AUTO, ZS3_ADDR_PATH, ZS3_ADDR_VIRTUAL };

struct zs3_s3_config {
	const char *endpoint;   /* URL; NULL = https://s3.<region>.amazonaws.com */
	const char *bucket;     /* NULL = "slatedb" */
	const char *region;     /* NULL = "us-east-1" */
	const char *access_key; /* NULL with secret_key NULL = anonymous */
	const char *secret_key;
	const char *session_token; /* optional */
	const char *prefix;        /* optional key prefix, e.g. "fs1/" */
	const char *ca_file;       /* optional CA bundle for TLS verification */
	bool allow_http;           /* plain http:// endpoints are refused unless set */
	enum zs3_addressing addressing; /* AUTO: path style for custom endpoints */
	unsigned connect_timeout_ms;    /* 0 = 3000 */
	unsigned stall_timeout_ms;      /* abort a request making no progress; 0 = 10000 */
	unsigned max_attempts;          /* retry layer: 0 = 6 */
	/* Objects up to this size are sent with Content-MD5 and whole-object
	 * reads are checked against the ETag. Larger ones skip both: MD5 costs
	 * more CPU than the transfer on small machines, and callers that store
	 * large objects carry their own checksums (the LSM checks every block).
	 * 0 = 1 MiB; UINT64_MAX = always. */
	uint64_t md5_max_bytes;
};

/* Fills every NULL/zero field of cfg from the seed's environment variables:
 * AWS_ENDPOINT_URL, AWS_S3_BUCKET, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
 * AWS_SESSION_TOKEN, AWS_DEFAULT_REGION, AWS_ALLOW_HTTP ("true"/"1").
 * Explicit settings win. The strings point into the environment. */
void zs3_s3_config_from_env(struct zs3_s3_config *cfg);

/* Reads "access_key = ..." and "secret_key = ..." lines (also AWS's
 * aws_access_key_id / aws_secret_access_key) from a file that must not be
 * readable or writable by group or others. Returned strings are malloc'd. */
zs3_status zs3_read_credentials_file(const char *path, char **access_key, char **secret_key);

/* The S3 backend wrapped in the retry layer and, if cfg->prefix is set, the
 * prefix layer. Does not contact the server. */
zs3_status zs3_open_s3(const struct zs3_s3_config *cfg, struct zs3_store **out);
/* The bare HTTP backend: one attempt per call (for tests and wrappers). */
zs3_status zs3_open_s3_raw(const struct zs3_s3_config *cfg, struct zs3_store **out);

/* ---- Wrappers (each takes ownership of `inner`, also on failure) -------- */

struct zs3_retry_policy {
	unsigned max_attempts;  /* total attempts, >= 1 */
	unsigned base_delay_ms; /* backoff: random in [0, min(max, base * 2^n)] */
	unsigned max_delay_ms;
	uint64_t seed; /* jitter PRNG seed; 0 = from the clock */
};
zs3_status zs3_open_retry(struct zs3_store *inner, const struct zs3_retry_policy *p,
			  struct zs3_store **out);

/* Keys are stored as prefix + key; listing strips it. */
zs3_status zs3_open_prefix(struct zs3_store *inner, const char *prefix, struct zs3_store **out);

struct zs3_fault_config {
	uint64_t seed;
	double error_rate;      /* fail the call before it reaches inner */
	zs3_status error;       /* ...with this status (0 = ZS3_ETRANSIENT) */
	double lost_reply_rate; /* run the call on inner, then report ETRANSIENT */
	double delay_rate;      /* sleep delay_ms before the call */
	unsigned delay_ms;
	unsigned op_mask; /* bit (1 << zs3_op) per op affected; 0 = all */
};
zs3_status zs3_open_fault(struct zs3_store *inner, const struct zs3_fault_config *cfg,
			  struct zs3_store **out);
/* Changes the faults of a fault store at run time (e.g. "the store recovers"). */
void zs3_fault_set(struct zs3_store *fault_store, const struct zs3_fault_config *cfg);

#ifdef __cplusplus
}
#endif
#endif
