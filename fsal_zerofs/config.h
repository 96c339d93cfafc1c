/* SPDX-License-Identifier: LGPL-3.0-or-later */
/*
 * fsal_zerofs/config.h - the build configuration ganesha's headers expect.
 *
 * nfs-ganesha generates this file from config-h.in.cmake when it builds
 * itself; Debian ships no development package, so the plugin carries a
 * hand-written one whose values match Debian 12's nfs-ganesha 4.3-2 binary
 * (see /work/shared/notes/ganesha-4.3-out-of-tree.md: a rebuild of stock
 * FSAL_MEM with exactly these values came out identical to Debian's).
 *
 * ABI traps: DEBUG_SAL grows state_t (216 -> 232 bytes) and silently corrupts
 * alloc_state; _USE_NLM/_USE_9P renumber state_owner_type_t. Do not change a
 * value here without checking it against the installed binary. The build
 * also asserts the sizes of the core FSAL structs (zerofs_int.h).
 *
 * Only the plugin's own sources (main.c, export.c, handle.c) include this;
 * the filesystem core (fs*.c), lsm/ and s3/ never include ganesha headers.
 */
#ifndef CONFIG_H
#define CONFIG_H

#define GSH_CHECK_VERSION(major, minor, micro, libmajor, libminor, libmicro) \
	((libmajor) > (major) || ((libmajor) == (major) && (libminor) > (minor)) || \
	 ((libmajor) == (major) && (libminor) == (minor) && (libmicro) >= (micro)))

#define GANESHA_VERSION_MAJOR 4
#define GANESHA_VERSION_MINOR 3
#define GANESHA_EXTRA_VERSION
#define GANESHA_VERSION "4.3"
#define GANESHA_BUILD_RELEASE 1

#define VERSION GANESHA_VERSION
#define VERSION_COMMENT "ZeroFS FSAL built out of tree against nfs-ganesha 4.3"
#define _GIT_HEAD_COMMIT ""
#define _GIT_DESCRIBE ""
#define BUILD_HOST ""
#define FSAL_MODULE_LOC "/usr/lib/x86_64-linux-gnu/ganesha"

/* Build controls: what Debian's 4.3-2 package was built with. */
#define _USE_9P 1
#define _USE_NFS3 1
#define _USE_NLM 1
#define _USE_RQUOTA 1
#define USE_NFSACL3 1
#define _HAVE_GSSAPI 1
#define HAVE_KRB5 1
#define GSH_CAN_HOST_LOCAL_FS 1
#define LINUX 1
#define _MSPAC_SUPPORT 1
#define USE_NFSIDMAP 1
#define USE_DBUS 1
#define USE_CAPS 1
#define USE_BLKID 1
#define RPCBIND 1
#define HAVE_STRNLEN 1
#define HAVE_URCU_REF_GET_UNLESS_ZERO 1

/* Deliberately NOT defined (each would change the ABI or pull in missing
 * headers): DEBUG_SAL, USE_LTTNG, _USE_NFS_RDMA, _USE_9P_RDMA. */

#define NFS_GANESHA 1

#define GANESHA_CONFIG_PATH "/etc/ganesha/ganesha.conf"
#define GANESHA_PIDFILE_PATH "/var/run/ganesha/ganesha.pid"
#define NFS_V4_RECOV_ROOT "/var/lib/nfs/ganesha"
#define NFS_V4_RECOV_DIR "v4recov"
#define NFS_V4_OLD_DIR "v4old"
#define DEFAULT_NFS_CCACHE_DIR "/var/run/ganesha"

/* We're LGPL'd */
#ifndef _LGPL_SOURCE
#define _LGPL_SOURCE 1
#endif

#endif /* CONFIG_H */
