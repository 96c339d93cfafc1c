/*
 * tests/fs/test_metrics_core.c - the ganesha-free half of the metrics
 * (fsal_zerofs/metrics/metrics.h): address parsing, lock-free histograms under
 * concurrent recording, the exposition format (read back by the strict
 * reader in tests/prom.c), and the HTTP server on 127.0.0.1 (200 on
 * /metrics, 404 elsewhere, 405 for other methods, a clean stop that leaves
 * no socket or thread behind).
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>

#include "metrics.h"
#include "prom.h"
#include "testlib.h"

/* ---- addresses ---------------------------------------------------------------- */

static void t_parse_address(void *ctx)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char why[256];
	(void)ctx;

	CHECK(zm_parse_address("127.0.0.1:9587", &ss, &len, why, sizeof(why)) == 0);
	CHECK(ss.ss_family == AF_INET && len == sizeof(struct sockaddr_in));
	CHECK(ntohs(((struct sockaddr_in *)&ss)->sin_port) == 9587);
	CHECK(((struct sockaddr_in *)&ss)->sin_addr.s_addr == htonl(INADDR_LOOPBACK));
	CHECK(zm_parse_address("[::1]:65535", &ss, &len, why, sizeof(why)) == 0);
	CHECK(ss.ss_family == AF_INET6 && len == sizeof(struct sockaddr_in6));
	CHECK(ntohs(((struct sockaddr_in6 *)&ss)->sin6_port) == 65535);
	CHECK(zm_parse_address("0.0.0.0:1", &ss, &len, why, sizeof(why)) == 0);

	static const struct {
		const char *in, *why;
	} bad[] = {
		{ "127.0.0.1", "port is missing" },
		{ "127.0.0.1:", "port must be" },
		{ "127.0.0.1:0", "port must be" },
		{ "127.0.0.1:65536", "port must be" },
		{ "127.0.0.1:99999999999999999999", "port must be" },
		{ "127.0.0.1:80x", "port must be" },
		{ "127.0.0.1:-1", "port must be" },
		{ "localhost:9587", "not a numeric IPv4" },
		{ "256.0.0.1:9587", "not a numeric IPv4" },
		{ ":9587", "not an IPv4" },
		{ "::1:9587", "IPv6 is written" },
		{ "[::1]9587", "[address]:port" },
		{ "[::1:9587", "[address]:port" },
		{ "[]:9587", "not an IPv6" },
		{ "[127.0.0.1]:9587", "not a numeric IPv6" },
		{ "", "port is missing" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why[0] = '\0';
		CHECK_MSG(zm_parse_address(bad[i].in, &ss, &len, why, sizeof(why)) == EINVAL,
			  "\"%s\" accepted", bad[i].in);
		CHECK_MSG(strstr(why, bad[i].why), "\"%s\": why \"%s\", want \"%s\"", bad[i].in,
			  why, bad[i].why);
	}
}

/* ---- histograms ---------------------------------------------------------------- */

static void t_histogram_buckets(void *ctx)
{
	static struct zm_ops ops;
	struct zm_op_snapshot s[ZM_OP_COUNT];
	(void)ctx;

	memset(&ops, 0, sizeof(ops));
	zm_op_record(&ops, ZM_OP_WRITE, 0, false);		 /* le 5e-05 */
	zm_op_record(&ops, ZM_OP_WRITE, 50000, false);		 /* le 5e-05: bounds are inclusive */
	zm_op_record(&ops, ZM_OP_WRITE, 50001, true);		 /* le 0.0001 */
	zm_op_record(&ops, ZM_OP_WRITE, 1000000000, false);	 /* le 1 */
	zm_op_record(&ops, ZM_OP_WRITE, 10000000001ULL, false); /* +Inf */
	zm_op_record(&ops, ZM_OP_COMMIT, 3000000, true);	 /* le 0.005 */
	zm_ops_read(&ops, s);
	CHECK(s[ZM_OP_WRITE].count == 5 && s[ZM_OP_WRITE].errors == 1);
	CHECK(s[ZM_OP_WRITE].bucket[0] == 2 && s[ZM_OP_WRITE].bucket[1] == 1);
	CHECK(s[ZM_OP_WRITE].bucket[13] == 1 && s[ZM_OP_WRITE].bucket[ZM_BUCKETS - 1] == 1);
	CHECK(s[ZM_OP_WRITE].sum_ns == 50000ULL + 50001 + 1000000000 + 10000000001ULL);
	CHECK(s[ZM_OP_COMMIT].count == 1 && s[ZM_OP_COMMIT].errors == 1 &&
	      s[ZM_OP_COMMIT].bucket[6] == 1);
	CHECK(s[ZM_OP_READ].count == 0);
	for (int i = 0; i < ZM_OP_COUNT; i++)
		CHECK(strcmp(zm_op_name(i), "?") != 0);
	CHECK(!strcmp(zm_op_name(ZM_OP_CREATE), "create") && !strcmp(zm_op_name(ZM_OP_STATFS), "statfs"));
}

#define THREADS 4
#define PER_THREAD 200000
static struct zm_ops shared_ops;

static void *recorder(void *arg)
{
	unsigned long long s = (unsigned long long)(size_t)arg;
	for (int i = 0; i < PER_THREAD; i++) {
		uint64_t ns = tl_rand64(&s) % 3000000000ULL;
		zm_op_record(&shared_ops, (i & 1) ? ZM_OP_READ : ZM_OP_WRITE, ns, i % 10 == 0);
	}
	return NULL;
}

/* Lock-free recording loses nothing, and a snapshot taken while threads
 * record is still a valid histogram. */
static void t_histogram_concurrent(void *ctx)
{
	pthread_t th[THREADS];
	struct zm_op_snapshot s[ZM_OP_COUNT];
	(void)ctx;

	for (size_t i = 0; i < THREADS; i++)
		pthread_create(&th[i], NULL, recorder, (void *)(i + 1));
	for (int k = 0; k < 50; k++) {
		zm_ops_read(&shared_ops, s);
		CHECK(s[ZM_OP_WRITE].errors <= s[ZM_OP_WRITE].count);
	}
	for (size_t i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	zm_ops_read(&shared_ops, s);
	CHECK(s[ZM_OP_WRITE].count == THREADS * PER_THREAD / 2);
	CHECK(s[ZM_OP_READ].count == THREADS * PER_THREAD / 2);
	CHECK(s[ZM_OP_WRITE].errors == THREADS * PER_THREAD / 10);
	CHECK(s[ZM_OP_READ].errors == 0);
}

/* ---- the exposition -------------------------------------------------------------- */

static void snapshots(struct zm_export_snapshot e[2])
{
	static struct zm_ops ops;

	memset(e, 0, 2 * sizeof(*e));
	memset(&ops, 0, sizeof(ops));
	for (int i = 0; i < 7; i++)
		zm_op_record(&ops, ZM_OP_WRITE, (uint64_t)i * 400000, i == 3);
	zm_op_record(&ops, ZM_OP_LOOKUP, 20000, true);
	e[0].export_id = 1;
	e[0].open = e[0].have_store = true;
	zm_ops_read(&ops, e[0].ops);
	e[0].store.requests[ZS3_OP_PUT] = 12;
	e[0].store.errors[ZS3_OP_GET] = 2;
	e[0].store.bytes_up = 123456;
	e[0].store.bytes_down = 789;
	e[0].store.retries = 3;
	e[0].lsm.user_bytes_written = 1000;
	e[0].lsm.wal_bytes = 1100;
	e[0].lsm.l0_bytes_written = 600;
	e[0].lsm.compaction_bytes_written = 800;
	e[0].lsm.block_cache_hits = 3;
	e[0].lsm.block_cache_misses = 1;
	e[0].lsm.last_durable_ms_ago = 1500;
	e[0].lsm.memtable_bytes = 4096;
	/* export 2: its store has not answered yet */
	e[1].export_id = 2;
	e[1].have_store = true;
	e[1].store.requests[ZS3_OP_GET] = 5;
	e[1].store.errors[ZS3_OP_GET] = 5;
}

static void t_render(void *ctx)
{
	struct zm_export_snapshot e[2];
	struct zm_text t = { 0 };
	struct prom p;
	(void)ctx;

	snapshots(e);
	REQUIRE(zm_render(&t, e, 2));
	REQUIRE(t.buf && t.len == strlen(t.buf));
	bool parsed = prom_parse(t.buf, &p);
	CHECK_MSG(parsed, "%s", p.error);
	CHECK(prom_value(&p, "zerofs_exports", "", -1) == 2);
	CHECK(prom_value(&p, "zerofs_export_open", "export_id=\"1\"", -1) == 1);
	CHECK(prom_value(&p, "zerofs_export_open", "export_id=\"2\"", -1) == 0);
	CHECK(prom_value(&p, "zerofs_fsal_ops_total", "export_id=\"1\",op=\"write\"", -1) == 7);
	CHECK(prom_value(&p, "zerofs_fsal_op_errors_total", "export_id=\"1\",op=\"write\"", -1) == 1);
	CHECK(prom_value(&p, "zerofs_fsal_op_errors_total", "export_id=\"1\",op=\"lookup\"", -1) == 1);
	CHECK(prom_value(&p, "zerofs_fsal_op_duration_seconds_count",
			 "export_id=\"1\",op=\"write\"", -1) == 7);
	/* 0, 0.4, 0.8 ms <= 1 ms; 1.2, 1.6, 2.0, 2.4 ms <= 2.5 ms */
	CHECK(prom_value(&p, "zerofs_fsal_op_duration_seconds_bucket",
			 "export_id=\"1\",op=\"write\",le=\"0.001\"", -1) == 3);
	CHECK(prom_value(&p, "zerofs_fsal_op_duration_seconds_bucket",
			 "export_id=\"1\",op=\"write\",le=\"0.0025\"", -1) == 7);
	CHECK(fabs(prom_value(&p, "zerofs_fsal_op_duration_seconds_sum",
			      "export_id=\"1\",op=\"write\"", -1) - 0.0084) < 1e-9);
	CHECK(prom_value(&p, "zerofs_fsal_ops_total", "export_id=\"2\",op=\"read\"", -1) == 0);
	CHECK(prom_count(&p, "zerofs_fsal_ops_total") == 2 * ZM_OP_COUNT);
	CHECK(prom_count(&p, "zerofs_fsal_op_duration_seconds_bucket") == 2 * ZM_OP_COUNT * ZM_BUCKETS);
	CHECK(prom_value(&p, "zerofs_store_requests_total", "export_id=\"1\",kind=\"put\"", -1) == 12);
	CHECK(prom_value(&p, "zerofs_store_errors_total", "export_id=\"2\",kind=\"get\"", -1) == 5);
	CHECK(prom_value(&p, "zerofs_store_uploaded_bytes_total", "export_id=\"1\"", -1) == 123456);
	CHECK(prom_value(&p, "zerofs_store_downloaded_bytes_total", "export_id=\"1\"", -1) == 789);
	CHECK(prom_value(&p, "zerofs_store_retries_total", "export_id=\"1\"", -1) == 3);
	CHECK(prom_value(&p, "zerofs_lsm_write_amplification", "export_id=\"1\"", -1) == 2.5);
	CHECK(prom_value(&p, "zerofs_lsm_block_cache_hit_ratio", "export_id=\"1\"", -1) == 0.75);
	CHECK(prom_value(&p, "zerofs_lsm_last_durable_flush_age_seconds", "export_id=\"1\"", -1) == 1.5);
	CHECK(prom_value(&p, "zerofs_lsm_memtable_bytes", "export_id=\"1\"", -1) == 4096);
	/* an export that is not open reports no engine numbers */
	CHECK(prom_value(&p, "zerofs_lsm_memtable_bytes", "export_id=\"2\"", -1) == -1);
	CHECK(prom_count(&p, "zerofs_lsm_writes_total") == 1);
	prom_free(&p);
	zm_text_free(&t);

	/* the reader is strict: each of these must be refused */
	static const char *const bad[] = {
		"x 1\n",						/* no HELP/TYPE */
		"# TYPE x counter\nx 1\n",				/* no HELP */
		"# HELP x h\n# TYPE x counter\nx{a=\"1\" 1\n",		/* unclosed labels */
		"# HELP x h\n# TYPE x counter\nx{a=1} 1\n",		/* unquoted */
		"# HELP x h\n# TYPE x counter\nx one\n",		/* value */
		"# HELP x h\n# TYPE x counter\nx 1",			/* no newline */
		"# HELP x h\n# TYPE x counter\n# TYPE x gauge\nx 1\n",	/* two TYPEs */
		"# HELP x h\n# TYPE x histogram\nx_bucket{le=\"1\"} 2\nx_bucket{le=\"+Inf\"} 1\n"
		"x_count 1\n", /* not cumulative */
		"# HELP x h\n# TYPE x histogram\nx_bucket{le=\"+Inf\"} 2\nx_count 3\n", /* +Inf != count */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_MSG(!prom_parse(bad[i], &p), "accepted bad exposition %zu", i);
		prom_free(&p);
	}
}

/* ---- the server -------------------------------------------------------------------- */

static int renders;

static bool render_two(void *arg, struct zm_text *t)
{
	struct zm_export_snapshot e[2];
	(void)arg;
	renders++;
	snapshots(e);
	return zm_render(t, e, 2);
}

static bool render_fails(void *arg, struct zm_text *t)
{
	(void)arg;
	(void)t;
	return false;
}

static void log_msg(void *arg, const char *msg)
{
	(void)arg;
	printf("  server log: %s\n", msg);
}

struct body {
	char *p;
	size_t n;
};

static size_t on_data(char *d, size_t sz, size_t nm, void *arg)
{
	struct body *b = arg;
	b->p = realloc(b->p, b->n + sz * nm + 1);
	memcpy(b->p + b->n, d, sz * nm);
	b->n += sz * nm;
	b->p[b->n] = '\0';
	return sz * nm;
}

/* HTTP status of METHOD url (body in *out if not NULL); -1 if no answer. */
static long http(const char *method, const char *url, struct body *out, char *ctype, size_t ctl)
{
	CURL *c = curl_easy_init();
	struct body b = { 0 };
	long code = -1;
	char *ct = NULL;

	curl_easy_setopt(c, CURLOPT_URL, url);
	if (!strcmp(method, "HEAD"))
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	else
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (!strcmp(method, "POST"))
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, "x=1");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	if (curl_easy_perform(c) == CURLE_OK) {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
		if (ctype && curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct)
			snprintf(ctype, ctl, "%s", ct);
	}
	curl_easy_cleanup(c);
	if (out)
		*out = b;
	else
		free(b.p);
	return code;
}

/* Entries of a /proc directory, not counting . and .. */
static int count_entries(const char *path)
{
	DIR *d = opendir(path);
	int n = 0;
	struct dirent *de;
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

static int count_fds(void)
{
	return count_entries("/proc/self/fd");
}

static int count_threads(void)
{
	return count_entries("/proc/self/task");
}

static void t_server(void *ctx)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = 0 };
	struct zm_server *s = NULL;
	struct body b;
	struct prom p;
	char why[256], url[128], ctype[128] = "";
	(void)ctx;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fds = count_fds(), threads = count_threads();
	REQUIRE(zm_server_start((struct sockaddr *)&a, sizeof(a), render_two, NULL, log_msg, NULL, &s,
				why, sizeof(why)) == 0);
	unsigned port = zm_server_port(s);
	CHECK(port > 0);
	printf("  serving on 127.0.0.1:%u\n", port);

	snprintf(url, sizeof(url), "http://127.0.0.1:%u/metrics", port);
	CHECK(http("GET", url, &b, ctype, sizeof(ctype)) == 200);
	CHECK_MSG(!strcmp(ctype, "text/plain; version=0.0.4; charset=utf-8"), "%s", ctype);
	CHECK(b.p && prom_parse(b.p, &p));
	CHECK(prom_value(&p, "zerofs_fsal_ops_total", "export_id=\"1\",op=\"write\"", -1) == 7);
	prom_free(&p);
	free(b.p);
	CHECK(http("HEAD", url, NULL, NULL, 0) == 200);
	CHECK(http("POST", url, NULL, NULL, 0) == 405);
	CHECK(http("PUT", url, NULL, NULL, 0) == 405);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/", port);
	CHECK(http("GET", url, NULL, NULL, 0) == 404);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/metrics/x", port);
	CHECK(http("GET", url, NULL, NULL, 0) == 404);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/metrics?name=x", port);
	CHECK(http("GET", url, NULL, NULL, 0) == 200); /* a query string is ignored */

	/* the same port cannot be bound twice */
	struct zm_server *s2 = NULL;
	a.sin_port = htons((uint16_t)port);
	CHECK(zm_server_start((struct sockaddr *)&a, sizeof(a), render_two, NULL, log_msg, NULL, &s2,
			      why, sizeof(why)) == EADDRINUSE);
	CHECK(s2 == NULL && strstr(why, "cannot listen") != NULL);
	CHECK(renders == 3); /* GET, HEAD and the query-string GET rendered */

	zm_server_stop(s);
	CHECK_MSG(count_fds() == fds, "%d fds before, %d after stop", fds, count_fds());
	CHECK_MSG(count_threads() == threads, "%d threads before, %d after stop", threads,
		  count_threads());
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/metrics", port);
	CHECK(http("GET", url, NULL, NULL, 0) == -1); /* nobody listens any more */
	zm_server_stop(NULL);

	/* a failing renderer is a 500, and the server goes on */
	a.sin_port = 0;
	REQUIRE(zm_server_start((struct sockaddr *)&a, sizeof(a), render_fails, NULL, log_msg, NULL,
				&s, why, sizeof(why)) == 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/metrics", zm_server_port(s));
	CHECK(http("GET", url, NULL, NULL, 0) == 500);
	CHECK(http("GET", url, NULL, NULL, 0) == 500);
	zm_server_stop(s);
}

/* IPv6 loopback, when the machine has it. */
static void t_server_ipv6(void *ctx)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_port = 0 };
	struct zm_server *s = NULL;
	char why[256], url[128];
	(void)ctx;

	a.sin6_addr = in6addr_loopback;
	int e = zm_server_start((struct sockaddr *)&a, sizeof(a), render_two, NULL, log_msg, NULL, &s,
				why, sizeof(why));
	if (e == EADDRNOTAVAIL || e == EAFNOSUPPORT)
		SKIP("no IPv6 loopback here: %s", why);
	REQUIRE(e == 0);
	snprintf(url, sizeof(url), "http://[::1]:%u/metrics", zm_server_port(s));
	CHECK(http("GET", url, NULL, NULL, 0) == 200);
	/* bound to ::1 only: not reachable on IPv4 loopback */
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/metrics", zm_server_port(s));
	CHECK(http("GET", url, NULL, NULL, 0) == -1);
	zm_server_stop(s);
}

int main(int argc, char **argv)
{
	if (argc > 1)
		tl_set_filter(argv[1]);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	tl_run("parse_address", t_parse_address, NULL);
	tl_run("histogram_buckets", t_histogram_buckets, NULL);
	tl_run("histogram_concurrent", t_histogram_concurrent, NULL);
	tl_run("render", t_render, NULL);
	tl_run("server", t_server, NULL);
	tl_run("server_ipv6", t_server_ipv6, NULL);
	curl_global_cleanup();
	return tl_finish();
}
