/* tests/s3/store_env.c - see store_env.h */
#include "store_env.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#ifndef ZEROFS_SOURCE_DIR
#error "ZEROFS_SOURCE_DIR must be defined by the build"
#endif

bool rgw_env_load(struct rgw_env *e)
{
	const char *dir = getenv("ZEROFS_RGW_DIR");
	char path[600], line[512];
	FILE *f;
	memset(e, 0, sizeof(*e));
	if (!dir || !*dir) {
		fprintf(stderr, "ZEROFS_RGW_DIR is not set: run through ctest (the rgw fixture)\n");
		return false;
	}
	snprintf(e->dir, sizeof(e->dir), "%s", dir);
	snprintf(path, sizeof(path), "%s/env", dir);
	if (!(f = fopen(path, "r"))) {
		fprintf(stderr, "cannot read %s: is the RGW fixture running?\n", path);
		return false;
	}
	while (fgets(line, sizeof(line), f)) {
		char *eq = strchr(line, '='), *v;
		if (!eq)
			continue;
		*eq = '\0';
		v = eq + 1;
		v[strcspn(v, "\r\n")] = '\0';
#define FIELD(name, dst) if (!strcmp(line, name)) snprintf(dst, sizeof(dst), "%s", v)
		FIELD("ZEROFS_S3_ENDPOINT", e->endpoint);
		FIELD("ZEROFS_S3_BUCKET", e->bucket);
		FIELD("ZEROFS_S3_REGION", e->region);
		FIELD("ZEROFS_S3_ACCESS_KEY", e->access_key);
		FIELD("ZEROFS_S3_SECRET_KEY", e->secret_key);
#undef FIELD
	}
	fclose(f);
	return e->endpoint[0] && e->bucket[0] && e->access_key[0] && e->secret_key[0];
}

void rgw_env_config(const struct rgw_env *e, struct zs3_s3_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->endpoint = e->endpoint;
	cfg->bucket = e->bucket;
	cfg->region = e->region[0] ? e->region : NULL;
	cfg->access_key = e->access_key;
	cfg->secret_key = e->secret_key;
	cfg->allow_http = true;
	cfg->connect_timeout_ms = 1000;
	cfg->stall_timeout_ms = 3000;
}

int rgw_ctl(const struct rgw_env *e, const char *cmd)
{
	char *line;
	int rc;
	if (asprintf(&line, "bash '%s/scripts/rgw.sh' %s '%s' >/dev/null", ZEROFS_SOURCE_DIR, cmd,
		     e->dir) < 0)
		return -1;
	rc = system(line);
	free(line);
	return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

char *make_temp_dir(const char *tag)
{
	char *d;
	if (asprintf(&d, "/tmp/zerofs-%s-XXXXXX", tag) < 0)
		return NULL;
	if (!mkdtemp(d)) {
		free(d);
		return NULL;
	}
	return d;
}

void rm_rf(const char *dir)
{
	char *cmd;
	if (!dir || strncmp(dir, "/tmp/zerofs-", 12) != 0)
		return; /* only ever our own temp dirs */
	if (asprintf(&cmd, "rm -rf '%s'", dir) >= 0) {
		if (system(cmd) != 0)
			fprintf(stderr, "warning: could not remove %s\n", dir);
		free(cmd);
	}
}
