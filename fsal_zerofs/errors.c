// SPDX-License-Identifier: LGPL-3.0-or-later
/*
 * fsal_zerofs/errors.c - the filesystem core's errnos (fs.h) as ganesha's
 * statuses, with the log line each deserves: DELAY for a store that does not
 * answer (the client retries), one line when this server is fenced, the
 * damage behind an EIO (zfs_error_detail, set with that EIO).
 */
#include "zerofs_int.h"

#include <errno.h>
#include <string.h>

fsal_status_t zerofs_status(struct zerofs_export *exp, int err, const char *what)
{
	fsal_errors_t major;

	switch (err) {
	case 0:
		return fsalstat(ERR_FSAL_NO_ERROR, 0);
	case EPERM: major = ERR_FSAL_PERM; break;
	case ENOENT: major = ERR_FSAL_NOENT; break;
	case EACCES: major = ERR_FSAL_ACCESS; break;
	case EEXIST: major = ERR_FSAL_EXIST; break;
	case EXDEV: major = ERR_FSAL_XDEV; break;
	case ENOTDIR: major = ERR_FSAL_NOTDIR; break;
	case EISDIR: major = ERR_FSAL_ISDIR; break;
	case EINVAL: major = ERR_FSAL_INVAL; break;
	case EFBIG: major = ERR_FSAL_FBIG; break;
	case ENOSPC: major = ERR_FSAL_NOSPC; break;
	case EMLINK: major = ERR_FSAL_MLINK; break;
	case ENAMETOOLONG: major = ERR_FSAL_NAMETOOLONG; break;
	case ENOTEMPTY: major = ERR_FSAL_NOTEMPTY; break;
	case ESTALE: major = ERR_FSAL_STALE; break;
	case ENXIO: major = ERR_FSAL_NXIO; break;
	case ENOMEM: major = ERR_FSAL_NOMEM; break;
	case EAGAIN:
		/* the object store failed transiently: the client retries
		 * (NFS3ERR_JUKEBOX / NFS4ERR_DELAY) */
		LogInfo(COMPONENT_FSAL, "export %u: %s: object store busy or unreachable, asking the client to retry",
			exp ? exp->export_id : 0, what);
		major = ERR_FSAL_DELAY;
		break;
	case EROFS:
		/* fenced: another server opened this filesystem for writing */
		if (exp && !__atomic_exchange_n(&exp->fenced_logged, 1, __ATOMIC_RELAXED))
			LogCrit(COMPONENT_FSAL,
				"export %u (%s): another server has opened this filesystem for writing; this server is fenced and refuses every change from now on (restart it to serve again, after the other one stops)",
				exp->export_id, exp->store_desc ? exp->store_desc : "?");
		else
			LogDebug(COMPONENT_FSAL, "export %u: %s refused: this server is fenced",
				 exp ? exp->export_id : 0, what);
		major = ERR_FSAL_ROFS;
		break;
	case EIO:
		LogMajor(COMPONENT_FSAL, "export %u: %s: I/O error (%s)", exp ? exp->export_id : 0,
			 what, zfs_error_detail());
		major = ERR_FSAL_IO;
		break;
	default:
		LogMajor(COMPONENT_FSAL, "export %u: %s: unexpected error %d (%s)",
			 exp ? exp->export_id : 0, what, err, strerror(err));
		major = ERR_FSAL_SERVERFAULT;
		break;
	}
	return fsalstat(major, err);
}
