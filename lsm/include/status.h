/*
 * lsm/include/status.h - the engine's error values. Every lsm_* call that can fail
 * returns one; lsm_last_error() holds a thread-local detail.
 */
#ifndef ZEROFS_LSM_STATUS_H
#define ZEROFS_LSM_STATUS_H

/* A status must be looked at: with C2x's [[nodiscard]] on the type, every
 * call whose lsm_status is dropped is a compile error (-Werror); one that
 * may be ignored on purpose says so with a (void) cast and a comment. */
#if defined(__STDC_VERSION__) && __STDC_VERSION__ > 201710L
#define LSM_NODISCARD [[nodiscard]]
#else
#define LSM_NODISCARD
#endif

typedef enum LSM_NODISCARD lsm_status {
	LSM_OK = 0,
	LSM_ENOTFOUND,  /* no such key / object */
	LSM_ECORRUPT,   /* checksum or format check failed: never silently used */
	LSM_EIO,        /* the object store failed permanently */
	LSM_ETRANSIENT, /* the object store failed, may succeed later */
	LSM_EFENCED,    /* another writer opened the database: this one may not write */
	LSM_EINVAL,     /* bad argument or setting */
	LSM_ENOMEM,
	LSM_ECLOSED,    /* the database is closing or closed */
	LSM_EREADONLY,  /* the database is open read-only: writes, flushes, GC refused */
} lsm_status;

const char *lsm_strstatus(lsm_status st);
const char *lsm_last_error(void);

/* Records the detail for lsm_last_error() and returns st. */
lsm_status lsm_fail(lsm_status st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
