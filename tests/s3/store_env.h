/*
 * tests/s3/store_env.h - opens the store under test: a fresh local directory,
 * or the RGW started by the ctest fixture (scripts/rgw.sh writes its
 * endpoint and keys to $ZEROFS_RGW_DIR/env).
 */
#ifndef ZEROFS_TEST_STORE_ENV_H
#define ZEROFS_TEST_STORE_ENV_H

#include "store.h"

struct rgw_env {
	char endpoint[256], bucket[64], region[32], access_key[128], secret_key[128];
	char dir[512];
};

/* Reads $ZEROFS_RGW_DIR/env; false (with a message) if there is none. */
bool rgw_env_load(struct rgw_env *e);
/* A config for that RGW: allow_http, short timeouts suitable for tests. */
void rgw_env_config(const struct rgw_env *e, struct zs3_s3_config *cfg);
/* Runs scripts/rgw.sh <cmd> on the fixture's directory; returns its exit status. */
int rgw_ctl(const struct rgw_env *e, const char *cmd);
/* A fresh directory under /tmp (caller frees, and removes it with rm_rf). */
char *make_temp_dir(const char *tag);
void rm_rf(const char *dir);

#endif
