/*
 * tests/s3/test_s3_failures.c - the S3 backend against a real RGW that
 * misbehaves: wrong credentials, a missing bucket, the gateway killed and
 * restarted (also mid-upload), and hung (SIGSTOP) past the stall timeout.
 * Each failure must come back as a clear status, never as a partial object,
 * and never with the secret key in a message.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
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

static struct rgw_env env;
static char prefix[64];
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char *log_text; /* everything the s3 layer logged */
static size_t log_len;

static void capture_log(void *ctx, enum zs3_log_level level, const char *msg)
{
	(void)ctx;
	(void)level;
	size_t n = strlen(msg);
	pthread_mutex_lock(&log_lock);
	char *p = realloc(log_text, log_len + n + 2);
	if (p) {
		log_text = p;
		memcpy(log_text + log_len, msg, n);
		log_text[log_len + n] = '\n';
		log_len += n + 1;
		log_text[log_len] = '\0';
	}
	pthread_mutex_unlock(&log_lock);
}

static bool logs_contain(const char *s)
{
	bool found;
	pthread_mutex_lock(&log_lock);
	found = log_text && strstr(log_text, s);
	pthread_mutex_unlock(&log_lock);
	return found;
}

static struct zs3_store *open_store(unsigned max_attempts)
{
	struct zs3_s3_config cfg;
	struct zs3_store *s;
	rgw_env_config(&env, &cfg);
	cfg.max_attempts = max_attempts;
	return zs3_open_s3(&cfg, &s) == ZS3_OK ? s : NULL;
}

static const char *K(const char *name)
{
	static char buf[4][256];
	static int i;
	char *b = buf[i++ & 3];
	snprintf(b, 256, "%s/%s", prefix, name);
	return b;
}

static void t_wrong_credentials(void *ctx)
{
	(void)ctx;
	const char *bad_secret = "definitely-not-the-secret-9f8e7d";
	struct zs3_s3_config cfg;
	struct zs3_store *s, *good = open_store(3);
	struct zs3_buf b = { 0 };
	struct zs3_list l;
	struct zs3_meta m;
	REQUIRE(good);
	ST(zs3_put(good, K("creds"), "x", 1, NULL), ZS3_OK);

	rgw_env_config(&env, &cfg);
	cfg.secret_key = bad_secret;
	REQUIRE(zs3_open_s3(&cfg, &s) == ZS3_OK);
	ST(zs3_put(s, K("by-bad-creds"), "y", 1, NULL), ZS3_EAUTH);
	CHECK(strstr(zs3_last_error(), bad_secret) == NULL);
	CHECK(strstr(zs3_last_error(), env.secret_key) == NULL);
	ST(zs3_get(s, K("creds"), zs3_range_all(), &b, NULL), ZS3_EAUTH);
	ST(zs3_list(s, prefix, NULL, 10, &l), ZS3_EAUTH);
	ST(zs3_head(s, K("creds"), &m), ZS3_EAUTH);
	zs3_close(s);

	cfg.secret_key = env.secret_key;
	cfg.access_key = "NOSUCHACCESSKEY000";
	REQUIRE(zs3_open_s3(&cfg, &s) == ZS3_OK);
	ST(zs3_get(s, K("creds"), zs3_range_all(), &b, NULL), ZS3_EAUTH);
	CHECK(strstr(zs3_last_error(), "InvalidAccessKeyId") != NULL);
	zs3_close(s);

	/* nothing was written by the rejected client */
	ST(zs3_head(good, K("by-bad-creds"), &m), ZS3_ENOTFOUND);
	CHECK(!logs_contain(bad_secret));
	CHECK(!logs_contain(env.secret_key));
	zs3_buf_free(&b);
	zs3_close(good);
}

static void t_missing_bucket(void *ctx)
{
	(void)ctx;
	struct zs3_s3_config cfg;
	struct zs3_store *s;
	struct zs3_buf b = { 0 };
	struct zs3_list l;
	rgw_env_config(&env, &cfg);
	cfg.bucket = "no-such-bucket-zerofs";
	REQUIRE(zs3_open_s3(&cfg, &s) == ZS3_OK);
	ST(zs3_put(s, "k", "x", 1, NULL), ZS3_ENOBUCKET);
	CHECK(strstr(zs3_last_error(), "NoSuchBucket") != NULL);
	ST(zs3_get(s, "k", zs3_range_all(), &b, NULL), ZS3_ENOBUCKET);
	ST(zs3_list(s, "", NULL, 10, &l), ZS3_ENOBUCKET);
	ST(zs3_put_if_absent(s, "k", "x", 1, NULL), ZS3_ENOBUCKET);
	zs3_close(s);
}

/* The gateway dies: calls fail as transient; it comes back: the same store
 * handle (with pooled connections to the dead server) works again. */
static void t_server_killed(void *ctx)
{
	(void)ctx;
	struct zs3_store *s = open_store(2);
	struct zs3_buf b = { 0 };
	struct zs3_meta m;
	REQUIRE(s);
	for (int i = 0; i < 4; i++) /* warm the connection pool */
		ST(zs3_put(s, K("k1"), "before", 6, NULL), ZS3_OK);
	REQUIRE(rgw_ctl(&env, "stop-gw") == 0);
	ST(zs3_get(s, K("k1"), zs3_range_all(), &b, NULL), ZS3_ETRANSIENT);
	ST(zs3_put(s, K("k2"), "during", 6, NULL), ZS3_ETRANSIENT);
	REQUIRE(rgw_ctl(&env, "start-gw") == 0);
	ST(zs3_get(s, K("k1"), zs3_range_all(), &b, NULL), ZS3_OK);
	CHECK(b.len == 6 && !memcmp(b.data, "before", 6));
	ST(zs3_head(s, K("k2"), &m), ZS3_ENOTFOUND);
	ST(zs3_put(s, K("k2"), "after", 5, NULL), ZS3_OK);
	zs3_buf_free(&b);
	zs3_close(s);
}

struct bg_put {
	struct zs3_store *s;
	const char *key;
	const void *data;
	size_t len;
	zs3_status st;
	int rounds;
	atomic_int stop; /* set by the test while the put loop runs */
};

static void *bg_put_once(void *arg)
{
	struct bg_put *p = arg;
	p->st = zs3_put(p->s, p->key, p->data, p->len, NULL);
	return NULL;
}

/* Killed while the retry layer is still trying: the call rides it out. */
static void t_restart_during_retries(void *ctx)
{
	(void)ctx;
	struct zs3_store *s = open_store(20);
	struct zs3_buf b = { 0 };
	struct bg_put p = { .key = K("rides-out"), .data = "persistent", .len = 10 };
	pthread_t th;
	REQUIRE(s);
	p.s = s;
	REQUIRE(rgw_ctl(&env, "stop-gw") == 0);
	pthread_create(&th, NULL, bg_put_once, &p);
	sleep(2);
	CHECK(rgw_ctl(&env, "start-gw") == 0);
	pthread_join(th, NULL);
	CHECK_MSG(p.st == ZS3_OK, "put across a restart: %s", zs3_strstatus(p.st));
	ST(zs3_get(s, p.key, zs3_range_all(), &b, NULL), ZS3_OK);
	CHECK(b.len == 10 && !memcmp(b.data, "persistent", 10));
	struct zs3_stats st;
	zs3_stats(s, &st);
	CHECK(st.retries > 0);
	zs3_buf_free(&b);
	zs3_close(s);
}

static void *bg_put_loop(void *arg)
{
	struct bg_put *p = arg;
	while (!atomic_load(&p->stop)) {
		p->st = zs3_put(p->s, p->key, p->data, p->len, NULL);
		p->rounds++;
		if (p->st != ZS3_OK)
			break;
	}
	return NULL;
}

/* Killed mid-upload of a large object: afterwards the key holds either the
 * previous whole object or the new whole object, never a part. */
static void t_killed_mid_upload(void *ctx)
{
	(void)ctx;
	size_t n = 48u << 20;
	unsigned char *data = malloc(n);
	unsigned long long state = 42;
	struct zs3_store *s = open_store(1);
	struct zs3_buf b = { 0 };
	struct zs3_meta m;
	struct bg_put p = { .key = K("big-upload"), .len = n };
	pthread_t th;
	REQUIRE(data && s);
	tl_fill_random(data, n, &state);
	ST(zs3_put(s, p.key, "old", 3, NULL), ZS3_OK);
	p.s = s;
	p.data = data;
	pthread_create(&th, NULL, bg_put_loop, &p);
	usleep(150 * 1000); /* well inside the first upload */
	CHECK(rgw_ctl(&env, "stop-gw") == 0);
	atomic_store(&p.stop, 1);
	pthread_join(th, NULL);
	CHECK(rgw_ctl(&env, "start-gw") == 0);
	CHECK_MSG(p.st == ZS3_ETRANSIENT, "interrupted upload: %s after %d rounds (%s)",
		  zs3_strstatus(p.st), p.rounds, zs3_last_error());
	struct zs3_store *r = open_store(5);
	REQUIRE(r);
	ST(zs3_head(r, p.key, &m), ZS3_OK);
	CHECK_MSG(m.size == 3 || m.size == n, "size after interrupted upload: %llu",
		  (unsigned long long)m.size);
	ST(zs3_get(r, p.key, zs3_range_all(), &b, NULL), ZS3_OK);
	CHECK((b.len == 3 && !memcmp(b.data, "old", 3)) || (b.len == n && !memcmp(b.data, data, n)));
	printf("  after the kill the key holds the %s object\n", b.len == 3 ? "old" : "new");
	zs3_buf_free(&b);
	zs3_close(r);
	zs3_close(s);
	free(data);
}

/* A hung server (SIGSTOP) hits the stall timeout and reports transient. */
static void t_server_hung(void *ctx)
{
	(void)ctx;
	struct zs3_store *s = open_store(1);
	struct zs3_buf b = { 0 };
	struct timespec a, z;
	REQUIRE(s);
	ST(zs3_put(s, K("hung"), "v", 1, NULL), ZS3_OK);
	REQUIRE(rgw_ctl(&env, "pause-gw") == 0);
	clock_gettime(CLOCK_MONOTONIC, &a);
	ST(zs3_get(s, K("hung"), zs3_range_all(), &b, NULL), ZS3_ETRANSIENT);
	clock_gettime(CLOCK_MONOTONIC, &z);
	CHECK(rgw_ctl(&env, "resume-gw") == 0);
	double secs = (double)(z.tv_sec - a.tv_sec) + (double)(z.tv_nsec - a.tv_nsec) / 1e9;
	printf("  hung request gave up after %.1f s: %s\n", secs, zs3_last_error());
	CHECK(secs < 30); /* bounded by the stall timeout (3 s here), not forever */
	ST(zs3_get(s, K("hung"), zs3_range_all(), &b, NULL), ZS3_OK);
	CHECK(b.len == 1 && b.data[0] == 'v');
	zs3_buf_free(&b);
	zs3_close(s);
}

int main(int argc, char **argv)
{
	if (argc > 1)
		tl_set_filter(argv[1]);
	if (!rgw_env_load(&env))
		return 1;
	snprintf(prefix, sizeof(prefix), "failures-%llx", tl_seed() & 0xffffffffffULL);
	zs3_set_logger(capture_log, NULL);
	tl_run("wrong_credentials", t_wrong_credentials, NULL);
	tl_run("missing_bucket", t_missing_bucket, NULL);
	tl_run("server_killed", t_server_killed, NULL);
	tl_run("restart_during_retries", t_restart_during_retries, NULL);
	tl_run("killed_mid_upload", t_killed_mid_upload, NULL);
	tl_run("server_hung", t_server_hung, NULL);
	CHECK(!logs_contain(env.secret_key));
	free(log_text);
	return tl_finish();
}
