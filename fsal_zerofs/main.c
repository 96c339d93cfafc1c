// SPDX-License-Identifier: LGPL-3.0-or-later
/*
 * fsal_zerofs/main.c - the ZEROFS module: registration with ganesha, the
 * module-wide capabilities (fs_info) and config block, and the store's log
 * routed into ganesha's log.
 *
 * Module config (optional, top level of ganesha.conf):
 *   ZEROFS { Umask = 0022; MaxRead = 1048576; MaxWrite = 1048576;
 *            Link_Support = true; Symlink_Support = true;
 *            Metrics_Address = "127.0.0.1:9587"; }
 * Metrics_Address serves Prometheus metrics (metrics_fsal.c); absent or
 * empty: no server. A refused block fails every ZEROFS export.
 * Per-export settings (the store, caches, durability) live in each EXPORT's
 * FSAL block: see export.c.
 */
#include "zerofs_int.h"

#include <errno.h>
#include <string.h>


#include "lsm.h"
#include "store.h"

struct zerofs_module ZeroFS = {
	.fsal = {
		.fs_info = {
			.maxfilesize = ZFS_MAX_FILE_SIZE,
			.maxlink = 65000, /* fs.c refuses more links (EMLINK) */
			.maxnamelen = ZFS_NAME_MAX,
			.maxpathlen = 4096,
			.no_trunc = true,
			.chown_restricted = true,
			.case_insensitive = false,
			.case_preserving = true,
			.link_support = true,
			.symlink_support = true,
			.lock_support = true, /* ganesha's SAL arbitrates; one server */
			.lock_support_async_block = false,
			.named_attr = false,
			.unique_handles = true,
			.acl_support = 0,
			.cansettime = true,
			.homogenous = true,
			.supported_attrs = ATTRS_POSIX,
			.maxread = 1024 * 1024,
			.maxwrite = 1024 * 1024,
			.umask = 0,
			.auth_exportpath_xdev = false,
			.delegations = FSAL_OPTION_NO_DELEGATIONS,
			.link_supports_permission_checks = false,
			.rename_changes_key = false,
			.compute_readdir_cookie = false,
			.whence_is_name = false,
			.readdir_plus = true,
			.compliant_eof_behavior = true, /* read2 sets EOF on the last data */
			.xattr_support = false,
			.expire_time_parent = -1,
		},
	},
};

static struct config_item zerofs_module_params[] = {
	CONF_ITEM_MODE("Umask", 0, zerofs_module, fsal.fs_info.umask),
	CONF_ITEM_UI64("MaxRead", 4096, FSAL_MAXIOSIZE, 1024 * 1024, zerofs_module,
		       fsal.fs_info.maxread),
	CONF_ITEM_UI64("MaxWrite", 4096, FSAL_MAXIOSIZE, 1024 * 1024, zerofs_module,
		       fsal.fs_info.maxwrite),
	CONF_ITEM_BOOL("Link_Support", true, zerofs_module, fsal.fs_info.link_support),
	CONF_ITEM_BOOL("Symlink_Support", true, zerofs_module, fsal.fs_info.symlink_support),
	CONF_ITEM_STR("Metrics_Address", 0, 255, NULL, zerofs_module, metrics_address),
	CONFIG_EOL
};

static struct config_block zerofs_module_block = {
	.dbus_interface_name = "org.ganesha.nfsd.config.fsal.zerofs",
	.blk_desc.name = "ZEROFS",
	.blk_desc.type = CONFIG_BLOCK,
	.blk_desc.u.blk.init = noop_conf_init,
	.blk_desc.u.blk.params = zerofs_module_params,
	.blk_desc.u.blk.commit = noop_conf_commit,
};

/* ---- logging ------------------------------------------------------------ */

/* s3/ (and through it the engine's object traffic) logs through one
 * process-wide callback; its messages never carry secrets. */
static void store_log(void *ctx, enum zs3_log_level level, const char *msg)
{
	(void)ctx;
	switch (level) {
	case ZS3_LOG_ERROR:
		LogMajor(COMPONENT_FSAL, "zerofs store: %s", msg);
		break;
	case ZS3_LOG_WARN:
		LogWarn(COMPONENT_FSAL, "zerofs store: %s", msg);
		break;
	case ZS3_LOG_INFO:
		LogInfo(COMPONENT_FSAL, "zerofs store: %s", msg);
		break;
	default:
		LogDebug(COMPONENT_FSAL, "zerofs store: %s", msg);
		break;
	}
}

void zerofs_route_store_log(void)
{
	zs3_set_logger(store_log, NULL);
}


/* ---- module ops ---------------------------------------------------------- */

static fsal_status_t zerofs_init_config(struct fsal_module *fsal_hdl, config_file_t config_struct,
					struct config_error_type *err_type)
{
	struct zerofs_module *me = container_of(fsal_hdl, struct zerofs_module, fsal);

	/* ganesha keeps the module loaded after a failed init_config and
	 * creates later exports without asking again: config_bad refuses them */
	me->config_bad = true;
	(void)load_config_from_parse(config_struct, &zerofs_module_block, me, true, err_type);
	if (!config_error_is_harmless(err_type)) {
		LogCrit(COMPONENT_FSAL, "ZEROFS: invalid ZEROFS {} block (see the config errors above)");
		return fsalstat(ERR_FSAL_INVAL, 0);
	}
	if (!zerofs_metrics_start(me->metrics_address))
		return fsalstat(ERR_FSAL_INVAL, 0); /* logged, naming the key */
	me->config_bad = false;
	display_fsinfo(&me->fsal);
	return fsalstat(ERR_FSAL_NO_ERROR, 0);
}

/* Run by the loader (constructor and destructor attributes): not called by
 * name, so declared here only to keep -Wmissing-prototypes' promise. */
MODULE_INIT void zerofs_init(void);
MODULE_FINI void zerofs_fini(void);

MODULE_INIT void zerofs_init(void)
{
	struct fsal_module *me = &ZeroFS.fsal;

	if (register_fsal(me, ZEROFS_FSAL_NAME, FSAL_MAJOR_VERSION, FSAL_MINOR_VERSION,
			  FSAL_ID_NO_PNFS) != 0) {
		LogCrit(COMPONENT_FSAL, "ZEROFS module failed to register");
		return;
	}
	me->m_ops.init_config = zerofs_init_config;
	me->m_ops.create_export = zerofs_create_export;
	me->m_ops.update_export = zerofs_update_export;
	zerofs_handle_ops_init(&ZeroFS.handle_ops);
	zerofs_metrics_wrap_obj_ops(&ZeroFS.handle_ops);
	zerofs_route_store_log();
}

MODULE_FINI void zerofs_fini(void)
{
	zerofs_metrics_stop();
	gsh_free(ZeroFS.metrics_address);
	ZeroFS.metrics_address = NULL;
	zs3_set_logger(NULL, NULL);
	if (unregister_fsal(&ZeroFS.fsal) != 0)
		LogCrit(COMPONENT_FSAL, "ZEROFS module: unable to unregister");
}
