/* lsm/status.c - see status.h */
#include <stdarg.h>
#include <stdio.h>

#include "status.h"

static _Thread_local char last_error[512];

const char *lsm_strstatus(lsm_status st)
{
	switch (st) {
	case LSM_OK: return "ok";
	case LSM_ENOTFOUND: return "not found";
	case LSM_ECORRUPT: return "corruption";
	case LSM_EIO: return "i/o error";
	case LSM_ETRANSIENT: return "transient store failure";
	case LSM_EFENCED: return "fenced by a newer writer";
	case LSM_EINVAL: return "invalid argument";
	case LSM_ENOMEM: return "out of memory";
	case LSM_ECLOSED: return "closed";
	case LSM_EREADONLY: return "open read-only";
	}
	return "unknown status";
}

const char *lsm_last_error(void)
{
	return last_error;
}

lsm_status lsm_fail(lsm_status st, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
	return st;
}
