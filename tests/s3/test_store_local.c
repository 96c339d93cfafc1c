/*
 * tests/s3/test_store_local.c - what only the local store and the
 * configuration code can be asked: on-disk corruption, a missing directory,
 * concurrent processes, credentials files, endpoint validation.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store.h"
#include "store_env.h"
#include "testlib.h"

#define ST(expr, want)                                                                   \
	do {                                                                             \
		zs3_status st_ = (expr);                                                 \
		CHECK_MSG(st_ == (want), "%s: got %s, want %s (%s)", #expr,              \
			  zs3_strstatus(st_), zs3_strstatus(want), zs3_last_error());    \
	} while (0)

static char *dir;

static void t_missing_dir(void *ctx)
{
	(void)ctx;
	struct zs3_store *s;
	char path[600];
	snprintf(path, sizeof(path), "%s/does-not-exist", dir);
	ST(zs3_open_local(path, false, &s), ZS3_ENOBUCKET);
	CHECK(strstr(zs3_last_error(), "does not exist") != NULL);
	ST(zs3_open_local(path, true, &s), ZS3_OK);
	zs3_close(s);
	ST(zs3_open_local("", false, &s), ZS3_EINVAL);
}

/* Damage object files on disk: every read reports corruption, none crashes. */
static void t_corruption(void *ctx)
{
	(void)ctx;
	struct zs3_store *s;
	struct zs3_buf b = { 0 };
	struct zs3_meta m;
	char path[700];
	char data[4096];
	int fd;
	memset(data, 'z', sizeof(data));
	REQUIRE(zs3_open_local(dir, false, &s) == ZS3_OK);
	ST(zs3_put(s, "c/flip", data, sizeof(data), NULL), ZS3_OK);
	ST(zs3_put(s, "c/torn", data, sizeof(data), NULL), ZS3_OK);
	ST(zs3_put(s, "c/magic", data, sizeof(data), NULL), ZS3_OK);

	/* flip one data byte: whole reads fail the MD5 check */
	snprintf(path, sizeof(path), "%s/c@/flip", dir);
	fd = open(path, O_WRONLY);
	REQUIRE(fd >= 0);
	CHECK(pwrite(fd, "Y", 1, 32 + 100) == 1);
	close(fd);
	ST(zs3_get(s, "c/flip", zs3_range_all(), &b, NULL), ZS3_ECORRUPT);
	CHECK(b.len == 0);

	/* truncate (a torn write): every access says so */
	snprintf(path, sizeof(path), "%s/c@/torn", dir);
	CHECK(truncate(path, 32 + 1000) == 0);
	ST(zs3_get(s, "c/torn", zs3_range_all(), &b, NULL), ZS3_ECORRUPT);
	ST(zs3_get(s, "c/torn", zs3_range_from(0, 10), &b, NULL), ZS3_ECORRUPT);
	ST(zs3_head(s, "c/torn", &m), ZS3_ECORRUPT);
	CHECK(strstr(zs3_last_error(), "torn") != NULL);

	/* a bad header */
	snprintf(path, sizeof(path), "%s/c@/magic", dir);
	fd = open(path, O_WRONLY);
	REQUIRE(fd >= 0);
	CHECK(pwrite(fd, "XXXX", 4, 0) == 4);
	close(fd);
	ST(zs3_get(s, "c/magic", zs3_range_all(), &b, NULL), ZS3_ECORRUPT);

	/* an object can be replaced over its damaged version */
	ST(zs3_put(s, "c/flip", "fixed", 5, NULL), ZS3_OK);
	ST(zs3_get(s, "c/flip", zs3_range_all(), &b, NULL), ZS3_OK);
	CHECK(b.len == 5 && !memcmp(b.data, "fixed", 5));

	/* listing still shows the damaged ones (so they can be found) */
	struct zs3_list l;
	ST(zs3_list(s, "c/", NULL, 100, &l), ZS3_OK);
	CHECK(l.count == 3);
	zs3_list_free(&l);
	zs3_buf_free(&b);
	zs3_close(s);
}

/* No temp file or partial object survives; the layout keeps "a" and "a/b" apart. */
static void t_layout(void *ctx)
{
	(void)ctx;
	struct zs3_store *s;
	struct zs3_list l;
	char path[700];
	struct stat sb;
	REQUIRE(zs3_open_local(dir, false, &s) == ZS3_OK);
	ST(zs3_put(s, "l/a", "1", 1, NULL), ZS3_OK);
	ST(zs3_put(s, "l/a/b", "2", 1, NULL), ZS3_OK);
	ST(zs3_put_if_absent(s, "l/a", "3", 1, NULL), ZS3_EPRECONDITION);
	snprintf(path, sizeof(path), "%s/l@/a", dir);
	CHECK(stat(path, &sb) == 0 && S_ISREG(sb.st_mode));
	snprintf(path, sizeof(path), "%s/l@/a@/b", dir);
	CHECK(stat(path, &sb) == 0 && S_ISREG(sb.st_mode));
	ST(zs3_list(s, "", NULL, 1000, &l), ZS3_OK);
	for (size_t i = 0; i < l.count; i++)
		CHECK_MSG(strstr(l.entries[i].key, "#tmp") == NULL, "temp file listed: %s",
			  l.entries[i].key);
	zs3_list_free(&l);
	/* a segment longer than a file name can be is refused, not truncated */
	char longseg[400];
	memset(longseg, 'q', sizeof(longseg) - 1);
	longseg[sizeof(longseg) - 1] = '\0';
	ST(zs3_put(s, longseg, "x", 1, NULL), ZS3_EINVAL);
	zs3_close(s);
	/* no temp files left in the root */
	char cmd[800];
	snprintf(cmd, sizeof(cmd), "ls -A '%s' | grep -q '^#tmp'", dir);
	CHECK(system(cmd) != 0);
}

/* Create-only across processes: 8 forked processes, each with its own store
 * handle, race for 20 keys; every key has exactly one winner. */
static void t_processes(void *ctx)
{
	(void)ctx;
	enum { PROCS = 8, KEYS = 20 };
	pid_t pids[PROCS];
	int wins = 0;
	for (int p = 0; p < PROCS; p++) {
		pids[p] = fork();
		if (pids[p] == 0) {
			struct zs3_store *s;
			int won = 0;
			if (zs3_open_local(dir, false, &s) != ZS3_OK)
				_exit(255);
			for (int k = 0; k < KEYS; k++) {
				char key[32];
				snprintf(key, sizeof(key), "proc/%d", k);
				zs3_status st = zs3_put_if_absent(s, key, &p, sizeof(p), NULL);
				if (st == ZS3_OK)
					won++;
				else if (st != ZS3_EPRECONDITION)
					_exit(254);
			}
			zs3_close(s);
			_exit(won);
		}
	}
	for (int p = 0; p < PROCS; p++) {
		int status;
		waitpid(pids[p], &status, 0);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) <= KEYS);
		if (WIFEXITED(status) && WEXITSTATUS(status) <= KEYS)
			wins += WEXITSTATUS(status);
	}
	CHECK_MSG(wins == KEYS, "%d winners for %d keys", wins, KEYS);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd >= 0) {
		if (write(fd, text, strlen(text)) < 0)
			perror("write");
		close(fd);
	}
	chmod(path, mode);
}

static void t_credentials_file(void *ctx)
{
	(void)ctx;
	char path[700];
	char *ak, *sk;
	snprintf(path, sizeof(path), "%s/creds", dir);
	write_file(path, "# comment\n[default]\naws_access_key_id = AKIDTEST\n"
			 "aws_secret_access_key = \"s3cr3t/with+chars\"\n", 0600);
	ST(zs3_read_credentials_file(path, &ak, &sk), ZS3_OK);
	CHECK(ak && !strcmp(ak, "AKIDTEST"));
	CHECK(sk && !strcmp(sk, "s3cr3t/with+chars"));
	free(ak);
	free(sk);

	chmod(path, 0644); /* readable by others: refused, and the secret is not quoted */
	ST(zs3_read_credentials_file(path, &ak, &sk), ZS3_EAUTH);
	CHECK(strstr(zs3_last_error(), "chmod 600") != NULL);
	CHECK(strstr(zs3_last_error(), "s3cr3t") == NULL);
	CHECK(ak == NULL && sk == NULL);
	chmod(path, 0640);
	ST(zs3_read_credentials_file(path, &ak, &sk), ZS3_EAUTH);

	write_file(path, "access_key = onlyid\n", 0600);
	ST(zs3_read_credentials_file(path, &ak, &sk), ZS3_EINVAL);
	CHECK(strstr(zs3_last_error(), "secret_key") != NULL);
	snprintf(path, sizeof(path), "%s/no-such-creds", dir);
	ST(zs3_read_credentials_file(path, &ak, &sk), ZS3_EINVAL);
}

static void t_s3_config(void *ctx)
{
	(void)ctx;
	struct zs3_s3_config cfg = { 0 };
	struct zs3_store *s;

	/* environment defaults, explicit settings win */
	setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1", 1);
	setenv("AWS_S3_BUCKET", "envbucket", 1);
	setenv("AWS_ALLOW_HTTP", "true", 1);
	setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "envsecret", 1);
	cfg.bucket = "explicit";
	zs3_s3_config_from_env(&cfg);
	CHECK(!strcmp(cfg.endpoint, "http://127.0.0.1:1"));
	CHECK(!strcmp(cfg.bucket, "explicit"));
	CHECK(cfg.allow_http);
	CHECK(!strcmp(cfg.access_key, "AKIDENV"));
	ST(zs3_open_s3(&cfg, &s), ZS3_OK);
	CHECK(strstr(zs3_describe(s), "s3://explicit") != NULL);
	CHECK(strstr(zs3_describe(s), "envsecret") == NULL);
	zs3_close(s);

	/* plain HTTP refused unless allowed; malformed endpoints; bad names */
	struct zs3_s3_config c2 = { .endpoint = "http://127.0.0.1:9", .bucket = "b-ok" };
	ST(zs3_open_s3(&c2, &s), ZS3_EINVAL);
	CHECK(strstr(zs3_last_error(), "allow_http") != NULL);
	c2.allow_http = true;
	const char *bad[] = { "not a url", "ftp://127.0.0.1/", "http://", "http://127.0.0.1:9/some/path",
			      "http://[::1" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		c2.endpoint = bad[i];
		ST(zs3_open_s3(&c2, &s), ZS3_EINVAL);
	}
	c2.endpoint = "http://127.0.0.1:9";
	c2.bucket = "Bad_Bucket!";
	ST(zs3_open_s3(&c2, &s), ZS3_EINVAL);
	c2.bucket = "b-ok";
	c2.access_key = "only-the-id";
	ST(zs3_open_s3(&c2, &s), ZS3_EINVAL);
	/* nothing listening: a transient error after the retries, with detail */
	c2.access_key = NULL;
	c2.max_attempts = 2;
	ST(zs3_open_s3(&c2, &s), ZS3_OK);
	struct zs3_meta m;
	ST(zs3_head(s, "k", &m), ZS3_ETRANSIENT);
	CHECK(strstr(zs3_last_error(), "127.0.0.1") != NULL || strstr(zs3_last_error(), "connect"));
	zs3_close(s);
}

int main(int argc, char **argv)
{
	if (argc > 1)
		tl_set_filter(argv[1]);
	dir = make_temp_dir("local");
	if (!dir)
		return 1;
	tl_run("missing_dir", t_missing_dir, NULL);
	tl_run("corruption", t_corruption, NULL);
	tl_run("layout", t_layout, NULL);
	tl_run("processes", t_processes, NULL);
	tl_run("credentials_file", t_credentials_file, NULL);
	tl_run("s3_config", t_s3_config, NULL);
	rm_rf(dir);
	free(dir);
	return tl_finish();
}
