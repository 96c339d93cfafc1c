/*
 * tests/nfs/harness.c - the shared harness of the end-to-end NFS tests
 * (harness.h).
 */
#include "harness.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testlib.h"

char src_dir[DIR_MAX], plugin_dir[DIR_MAX], work_dir[DIR_MAX], gdir[DIR_MAX + 16];
int nfs_port, mnt_port;
unsigned long long seed;
bool use_rgw;
struct rgw_env rgw;

bool hn_set_dirs(const char *src, const char *plugin, const char *work)
{
	char rp[PATH_MAX];

	if (strlen(work) >= DIR_MAX || !realpath(src, rp) || strlen(rp) >= DIR_MAX)
		return false;
	strcpy(src_dir, rp);
	if (!realpath(plugin, rp) || strlen(rp) >= DIR_MAX)
		return false;
	strcpy(plugin_dir, rp);
	snprintf(work_dir, sizeof(work_dir), "%s", work);
	return true;
}

bool hn_parse_options(int argc, char **argv, int arg)
{
	if (argc > arg && !strcmp(argv[arg], "--rgw")) {
		use_rgw = true;
		arg++;
		if (!rgw_env_load(&rgw))
			return false;
	}
	if (argc > arg)
		tl_set_filter(argv[arg]);
	seed = tl_seed();
	setvbuf(stdout, NULL, _IOLBF, 0);
	return true;
}

bool hn_write_cred(void)
{
	char cred[DIR_MAX + 16];
	mode_t old = umask(077);
	FILE *f;

	snprintf(cred, sizeof(cred), "%s/s3.cred", work_dir);
	f = fopen(cred, "w");
	umask(old);
	if (!f)
		return false;
	fprintf(f, "access_key = %s\nsecret_key = %s\n", rgw.access_key, rgw.secret_key);
	fclose(f);
	return true;
}

int hn_run_in_child(int (*run)(void), void (*cleanup)(void))
{
	int status = 0;
	pid_t child;

	fflush(NULL);
	child = fork();
	if (child < 0)
		return 1;
	if (child == 0)
		_exit(run());
	while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
	}
	cleanup();
	if (WIFSIGNALED(status)) {
		printf("FAIL the test process died of signal %d\n", WTERMSIG(status));
		return 1;
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

int hn_main(int argc, char **argv, const char *prog, int (*run)(void), void (*cleanup)(void))
{
	if (argc < 4) {
		fprintf(stderr, "usage: %s SRC_DIR PLUGIN_DIR WORK_DIR [--rgw] [filter]\n", prog);
		return 2;
	}
	if (getuid() != 0) {
		fprintf(stderr, "%s needs root (ganesha with a private rpcbind)\n", prog);
		return 1;
	}
	if (!hn_set_dirs(argv[1], argv[2], argv[3])) {
		fprintf(stderr, "bad SRC_DIR, PLUGIN_DIR or WORK_DIR (absolute paths under %d bytes)\n",
			DIR_MAX);
		return 2;
	}
	if (!hn_parse_options(argc, argv, 4))
		return 1;
	signal(SIGPIPE, SIG_IGN);
	return hn_run_in_child(run, cleanup);
}

bool ganesha(const char *verb, const char *dir, const char *args)
{
	char cmd[4096];

	snprintf(cmd, sizeof(cmd), "bash '%s/scripts/ganesha.sh' %s '%s' %s", src_dir, verb, dir,
		 args ? args : "");
	fflush(stdout);
	fflush(stderr);
	return system(cmd) == 0;
}

bool ganesha_start(const char *dir, const char *snippet)
{
	char args[4 * DIR_MAX];

	snprintf(args, sizeof(args), "--fsal-dir '%s' --export-snippet '%s'", plugin_dir, snippet);
	return ganesha("start", dir, args);
}

bool ganesha_stop_if_set_up(const char *dir)
{
	char cmd[4 * DIR_MAX];

	snprintf(cmd, sizeof(cmd),
		 "test ! -f '%s/ganesha.conf' || bash '%s/scripts/ganesha.sh' stop '%s' >/dev/null", dir,
		 src_dir, dir);
	fflush(NULL);
	return system(cmd) == 0;
}

bool read_env_of(const char *dir, int *nport, int *mport)
{
	char path[DIR_MAX + 48], line[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/env", dir);
	if (!(f = fopen(path, "r")))
		return false;
	*nport = *mport = 0;
	while (fgets(line, sizeof(line), f)) {
		sscanf(line, "GANESHA_NFS_PORT=%d", nport);
		sscanf(line, "GANESHA_MOUNT_PORT=%d", mport);
	}
	fclose(f);
	return *nport > 0 && *mport > 0;
}

bool read_env(void)
{
	return read_env_of(gdir, &nfs_port, &mnt_port);
}

bool write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return false;
	fputs(text, f);
	return fclose(f) == 0;
}

bool log_has(const char *path, const char *needle)
{
	FILE *f = fopen(path, "r");
	char line[2048];
	bool found = false;
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, needle) != NULL;
	fclose(f);
	return found;
}

int count_lines(const char *path, const char *needle)
{
	FILE *f = fopen(path, "r");
	char line[2048];
	int n = 0;
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		n += strstr(line, needle) != NULL;
	fclose(f);
	return n;
}

void store_lines(char *buf, size_t cap, const char *prefix, const char *name)
{
	if (!use_rgw)
		snprintf(buf, cap, "\t\tStore = local;\n\t\tDirectory = \"%s/%s\";\n", work_dir, name);
	else
		snprintf(buf, cap,
			 "\t\tStore = s3;\n\t\tEndpoint = \"%s\";\n\t\tAllow_Http = true;\n"
			 "\t\tBucket = \"%s\";\n\t\tRegion = \"%s\";\n\t\tPrefix = \"%s-%llx/%s/\";\n"
			 "\t\tCredentials_File = \"%s/s3.cred\";\n\t\tCache_Dir = \"%s/cache\";\n"
			 "\t\tCache_Size_GB = 1;\n",
			 rgw.endpoint, rgw.bucket, rgw.region, prefix, seed, name, work_dir, work_dir);
}

const char *export_block(char *buf, size_t cap, int id, const char *path, const char *fsal)
{
	snprintf(buf, cap,
		 "EXPORT {\n\tExport_Id = %d;\n\tPath = %s;\n\tPseudo = %s;\n\tAccess_Type = RW;\n"
		 "\tSquash = No_Root_Squash;\n\tProtocols = 3, 4;\n\tSecType = sys;\n"
		 "\tFSAL {\n\t\tName = ZEROFS;\n%s\t}\n}\n",
		 id, path, path, fsal);
	return buf;
}

struct nfs_context *mount_export_opts(int version, const char *export, const char *client_id,
				      bool cached)
{
	char url[512];
	struct nfs_context *nfs = nfs_init_context();
	struct nfs_url *u;

	if (!nfs)
		return NULL;
	if (client_id)
		nfs4_set_client_name(nfs, client_id);
	snprintf(url, sizeof(url), "nfs://127.0.0.1%s?version=%d&nfsport=%d&mountport=%d", export,
		 version, nfs_port, mnt_port);
	nfs_set_timeout(nfs, 60000);
	if (!cached) {
		nfs_set_dircache(nfs, 0);
		nfs_set_pagecache(nfs, 0);
		nfs_set_readahead(nfs, 0);
	}
	u = nfs_parse_url_dir(nfs, url);
	if (!u || nfs_mount(nfs, u->server, u->path) != 0) {
		fprintf(stderr, "  mount %s failed: %s\n", url, nfs_get_error(nfs));
		if (u)
			nfs_destroy_url(u);
		nfs_destroy_context(nfs);
		return NULL;
	}
	nfs_destroy_url(u);
	return nfs;
}

struct nfs_context *mount_export_as(int version, const char *export, const char *client_id)
{
	return mount_export_opts(version, export, client_id, false);
}

struct nfs_context *mount_export(int version, const char *export)
{
	return mount_export_opts(version, export, NULL, false);
}
