/*
 * tests/nfs/test_metrics.c - the metrics endpoint end to end: Debian's
 * ganesha.nfsd loads libfsalzerofs.so with `ZEROFS { Metrics_Address =
 * "127.0.0.1:<free port>"; }` and two exports; the endpoint is scraped
 * (libcurl) before, during and after a libnfs workload on export 1 (creates,
 * writes, COMMITs, lookups, reads over NFSv3 and NFSv4), and the counters
 * must have moved by at least what the workload did, export 2's not at all.
 * Every scrape must parse as the Prometheus text format (tests/prom.c).
 * Also: 404/405 for anything but GET /metrics, the socket bound to
 * 127.0.0.1 only, no secret in a scrape (--rgw), the age of the last durable
 * flush dropping after a COMMIT, the server gone once ganesha stops, a bad
 * or busy Metrics_Address failing the config with the key named, and (RGW)
 * exports whose store is down at start reported as not open until it answers.
 *
 *   test_metrics SRC_DIR PLUGIN_DIR WORK_DIR [--rgw] [name-filter]
 *
 * The harness is tests/nfs/harness.c (scripts/ganesha.sh runs ganesha
 * isolated; WORK_DIR is wiped first and kept afterwards).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>
#include <nfsc/libnfs.h>

#include "harness.h"
#include "prom.h"
#include "testlib.h"

static int metrics_port;

/* ---- the server ---------------------------------------------------------------------- */

/* A ZEROFS block with Metrics_Address = addr, then exports 1 (Sync) and 2
 * (Sync = false) on stores named <tag>-1 and <tag>-2. */
static void write_snippet(char *conf, size_t cap, const char *addr, const char *tag)
{
	size_t n = (size_t)snprintf(conf, cap, "ZEROFS {\n\tMetrics_Address = \"%s\";\n}\n", addr);
	for (int id = 1; id <= 2; id++) {
		char name[96], path[32], store[1536], fsal[1600], blk[2048];
		snprintf(name, sizeof(name), "%s-%d", tag, id);
		snprintf(path, sizeof(path), "/zerofs%d", id);
		store_lines(store, sizeof(store), "metrics", name);
		snprintf(fsal, sizeof(fsal), "%s%s", store, id == 2 ? "\t\tSync = false;\n" : "");
		n += (size_t)snprintf(conf + n, cap - n, "%s",
				      export_block(blk, sizeof(blk), id, path, fsal));
	}
}

static bool start_in(const char *dir, const char *addr, const char *tag)
{
	char conf[8192], snippet[DIR_MAX + 48];

	write_snippet(conf, sizeof(conf), addr, tag);
	snprintf(snippet, sizeof(snippet), "%s/%s.conf", work_dir, tag);
	if (!write_file(snippet, conf))
		return false;
	return ganesha_start(dir, snippet);
}

/* A free TCP port on 127.0.0.1 (bound and released; ganesha takes it next). */
static int free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

/* ---- scraping --------------------------------------------------------------------- */

struct body {
	char *p;
	size_t n;
};

static size_t on_data(char *d, size_t sz, size_t nm, void *arg)
{
	struct body *b = arg;
	char *np = realloc(b->p, b->n + sz * nm + 1);
	if (!np)
		return 0;
	b->p = np;
	memcpy(b->p + b->n, d, sz * nm);
	b->n += sz * nm;
	b->p[b->n] = '\0';
	return sz * nm;
}

/* METHOD http://127.0.0.1:<metrics_port><path>: the status (-1: no answer),
 * the body in *out (caller frees) if out is not NULL. */
static long http(const char *method, const char *path, char **out)
{
	CURL *c = curl_easy_init();
	struct body b = { 0 };
	char url[256];
	long code = -1;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", metrics_port, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (!strcmp(method, "POST"))
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, "a=b");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(c);
	if (out)
		*out = b.p;
	else
		free(b.p);
	return code;
}

/* Scrapes /metrics into *p; false (with the reason) unless it is a 200 that
 * parses. Keeps the text in *text if text is not NULL. */
static bool scrape(struct prom *p, char **text)
{
	char *body = NULL;
	long code = http("GET", "/metrics", &body);
	bool ok = code == 200 && body;

	memset(p, 0, sizeof(*p));
	if (!ok)
		fprintf(stderr, "  GET /metrics: status %ld\n", code);
	else if (!prom_parse(body, p)) {
		fprintf(stderr, "  GET /metrics: not the text format: %s\n", p->error);
		ok = false;
	}
	if (text)
		*text = body;
	else
		free(body);
	return ok;
}

static double op(const struct prom *p, int export_id, const char *name, const char *what)
{
	char labels[128];
	snprintf(labels, sizeof(labels), "export_id=\"%d\",op=\"%s\"", export_id, what);
	return prom_value(p, name, labels, -1);
}

static double ops(const struct prom *p, int export_id, const char *what)
{
	return op(p, export_id, "zerofs_fsal_ops_total", what);
}

static double kind(const struct prom *p, int export_id, const char *name, const char *k)
{
	char labels[128];
	snprintf(labels, sizeof(labels), "export_id=\"%d\",kind=\"%s\"", export_id, k);
	return prom_value(p, name, labels, -1);
}

static double per_export(const struct prom *p, int export_id, const char *name)
{
	char labels[64];
	snprintf(labels, sizeof(labels), "export_id=\"%d\"", export_id);
	return prom_value(p, name, labels, -1);
}

static const char *const all_ops[] = { "lookup", "readdir", "getattrs", "mkdir", "mknode",
				       "symlink", "readlink", "setattr", "link", "rename",
				       "unlink", "create", "open", "reopen", "close", "read",
				       "write", "commit", "seek", "lock", "lookup_path",
				       "create_handle", "statfs" };

/* Every op's histogram _count equals its counter, for both exports (the
 * reader has checked that buckets are cumulative and +Inf == _count). */
static void check_histograms(const struct prom *p)
{
	for (int id = 1; id <= 2; id++)
		for (size_t i = 0; i < sizeof(all_ops) / sizeof(all_ops[0]); i++) {
			double n = ops(p, id, all_ops[i]);
			CHECK_MSG(n >= 0, "no counter for %s on export %d", all_ops[i], id);
			CHECK_MSG(op(p, id, "zerofs_fsal_op_duration_seconds_count", all_ops[i]) == n,
				  "export %d %s: _count %g != counter %g", id, all_ops[i],
				  op(p, id, "zerofs_fsal_op_duration_seconds_count", all_ops[i]), n);
			CHECK(op(p, id, "zerofs_fsal_op_errors_total", all_ops[i]) <= n);
		}
}

/* ---- tests ------------------------------------------------------------------------- */

static void t_format(void *ctx)
{
	struct prom p;
	(void)ctx;

	REQUIRE(scrape(&p, NULL));
	CHECK(prom_value(&p, "zerofs_exports", "", -1) == 2);
	CHECK(per_export(&p, 1, "zerofs_export_open") == 1);
	CHECK(per_export(&p, 2, "zerofs_export_open") == 1);
	CHECK(per_export(&p, 1, "zerofs_lsm_writer_epoch") >= 1);
	CHECK(per_export(&p, 2, "zerofs_lsm_memtable_bytes") >= 0);
	CHECK(kind(&p, 1, "zerofs_store_requests_total", "put") >= 1); /* the open wrote */
	check_histograms(&p);
	printf("  %zu samples\n", p.n);
	prom_free(&p);
}

static void t_other_paths(void *ctx)
{
	(void)ctx;
	CHECK(http("GET", "/", NULL) == 404);
	CHECK(http("GET", "/metricsx", NULL) == 404);
	CHECK(http("GET", "/metrics/", NULL) == 404);
	CHECK(http("GET", "/debug", NULL) == 404);
	CHECK(http("POST", "/metrics", NULL) == 405);
	CHECK(http("DELETE", "/metrics", NULL) == 405);
	CHECK(http("GET", "/metrics", NULL) == 200);
}

/* The listening socket is 127.0.0.1:<port>, and no other (v4 or v6)
 * socket listens on that port: read from /proc/net/tcp{,6}. */
static void t_loopback_only(void *ctx)
{
	static const char *const files[] = { "/proc/net/tcp", "/proc/net/tcp6" };
	int on_loopback = 0, elsewhere = 0;
	(void)ctx;

	for (int i = 0; i < 2; i++) {
		FILE *f = fopen(files[i], "r");
		char line[512], local[64];
		unsigned st;
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f)) {
			char *colon;
			unsigned port;
			/* "  0: 0100007F:2573 00000000:0000 0A ..." */
			if (sscanf(line, " %*d: %63s %*s %x", local, &st) != 2 || st != 0x0A)
				continue;
			if (!(colon = strrchr(local, ':')) || sscanf(colon + 1, "%x", &port) != 1 ||
			    (int)port != metrics_port)
				continue;
			*colon = '\0';
			if (i == 0 && !strcmp(local, "0100007F"))
				on_loopback++;
			else
				elsewhere++;
		}
		fclose(f);
	}
	CHECK_MSG(on_loopback == 1, "%d listeners on 127.0.0.1:%d", on_loopback, metrics_port);
	CHECK_MSG(elsewhere == 0, "%d listeners on port %d elsewhere", elsewhere, metrics_port);
}

#define NFILES 16
#define NWRITES 4
#define WSIZE 2048 /* libnfs 4.0's NFSv4 cannot send 4000 bytes or more in one WRITE */
#define NLOOKUPS 25
#define NV4FILES 4

/* Creates count files named prefix-i in dir, each NWRITES writes of WSIZE
 * bytes then an fsync (COMMIT); true if all of it succeeded. */
static bool create_files(struct nfs_context *nfs, const char *prefix, int first, int count)
{
	char buf[WSIZE], path[128];
	bool ok = true;

	for (int i = first; i < first + count && ok; i++) {
		struct nfsfh *fh;
		memset(buf, 'a' + i % 26, sizeof(buf));
		snprintf(path, sizeof(path), "/%s-%d", prefix, i);
		if (nfs_create(nfs, path, O_RDWR | O_CREAT | O_TRUNC, 0644, &fh) != 0) {
			fprintf(stderr, "  create %s: %s\n", path, nfs_get_error(nfs));
			return false;
		}
		for (int w = 0; w < NWRITES && ok; w++)
			ok = nfs_pwrite(nfs, fh, (uint64_t)w * WSIZE, WSIZE, buf) == WSIZE;
		ok = ok && nfs_fsync(nfs, fh) == 0;
		if (!ok)
			fprintf(stderr, "  write/fsync %s: %s\n", path, nfs_get_error(nfs));
		ok = nfs_close(nfs, fh) == 0 && ok;
	}
	return ok;
}

static void t_workload(void *ctx)
{
	struct prom p0, p1, p2;
	char *text = NULL;
	struct nfs_context *v3, *v4;
	(void)ctx;

	REQUIRE(scrape(&p0, NULL));
	v3 = mount_export(3, "/zerofs1");
	v4 = mount_export(4, "/zerofs1");
	if (!v3 || !v4) {
		CHECK(v3 && v4);
		goto out;
	}

	/* first half, a scrape in the middle, second half */
	CHECK(create_files(v3, "m", 0, NFILES / 2));
	CHECK(scrape(&p1, NULL));
	CHECK(ops(&p1, 1, "create") >= ops(&p0, 1, "create") + NFILES / 2);
	CHECK(ops(&p1, 1, "write") >= ops(&p0, 1, "write") + NFILES / 2 * NWRITES);
	check_histograms(&p1);
	CHECK(create_files(v3, "m", NFILES / 2, NFILES / 2));
	CHECK(create_files(v4, "v4", 0, NV4FILES));
	/* lookups of names that do not exist: the metadata cache does not
	 * answer those for a directory it has not listed, so each reaches
	 * the FSAL */
	for (int i = 0; i < NLOOKUPS; i++) {
		struct nfs_stat_64 st;
		char path[64];
		snprintf(path, sizeof(path), "/missing-%d", i);
		CHECK(nfs_stat64(v3, path, &st) == -ENOENT);
	}
	/* reads of what was written */
	for (int i = 0; i < NFILES; i++) {
		struct nfsfh *fh;
		char path[64], buf[WSIZE];
		snprintf(path, sizeof(path), "/m-%d", i);
		if (nfs_open(v3, path, O_RDONLY, &fh) != 0) {
			CHECK(!"open for reading");
			continue;
		}
		CHECK(nfs_pread(v3, fh, WSIZE, WSIZE, buf) == WSIZE && buf[0] == 'a' + i % 26);
		nfs_close(v3, fh);
	}

	REQUIRE(scrape(&p2, &text));
	double dcreate = ops(&p2, 1, "create") - ops(&p0, 1, "create");
	double dwrite = ops(&p2, 1, "write") - ops(&p0, 1, "write");
	double dcommit = ops(&p2, 1, "commit") - ops(&p0, 1, "commit");
	double dlookup = ops(&p2, 1, "lookup") - ops(&p0, 1, "lookup");
	double dlookup_err = op(&p2, 1, "zerofs_fsal_op_errors_total", "lookup") -
			     op(&p0, 1, "zerofs_fsal_op_errors_total", "lookup");
	double dread = ops(&p2, 1, "read") - ops(&p0, 1, "read");
	double dput = kind(&p2, 1, "zerofs_store_requests_total", "put") -
		      kind(&p0, 1, "zerofs_store_requests_total", "put");
	double dup = per_export(&p2, 1, "zerofs_store_uploaded_bytes_total") -
		     per_export(&p0, 1, "zerofs_store_uploaded_bytes_total");
	double dwal = per_export(&p2, 1, "zerofs_lsm_wal_uploads_total") -
		      per_export(&p0, 1, "zerofs_lsm_wal_uploads_total");
	double dlsmw = per_export(&p2, 1, "zerofs_lsm_writes_total") -
		       per_export(&p0, 1, "zerofs_lsm_writes_total");
	printf("  export 1: +%.0f create, +%.0f write, +%.0f commit, +%.0f lookup (%.0f errors), "
	       "+%.0f read; store +%.0f PUT, +%.0f bytes up; +%.0f WAL uploads, +%.0f engine writes\n",
	       dcreate, dwrite, dcommit, dlookup, dlookup_err, dread, dput, dup, dwal, dlsmw);
	CHECK(dcreate >= NFILES + NV4FILES);
	CHECK(dwrite >= (NFILES + NV4FILES) * NWRITES);
	CHECK(dcommit >= NFILES + NV4FILES);
	CHECK(dlookup >= NLOOKUPS);
	CHECK(dlookup_err >= NLOOKUPS);
	CHECK(dread >= NFILES);
	/* every COMMIT uploads what was written before it; the data goes up
	 * in WAL objects, so at least every byte written goes up */
	CHECK(dput >= NFILES + NV4FILES);
	CHECK(dup >= (NFILES + NV4FILES) * NWRITES * WSIZE);
	CHECK(dwal >= NFILES + NV4FILES);
	CHECK(dlsmw >= (NFILES + NV4FILES) * NWRITES);
	CHECK(per_export(&p2, 1, "zerofs_lsm_user_written_bytes_total") >=
	      (NFILES + NV4FILES) * NWRITES * WSIZE);
	CHECK(per_export(&p2, 1, "zerofs_lsm_write_amplification") >= 1.0);
	/* each upload carries at least one batch; the COMMITs waited for them */
	CHECK(per_export(&p2, 1, "zerofs_lsm_wal_batches_total") -
		      per_export(&p0, 1, "zerofs_lsm_wal_batches_total") >= dwal);
	CHECK(per_export(&p2, 1, "zerofs_lsm_durable_waits_total") -
		      per_export(&p0, 1, "zerofs_lsm_durable_waits_total") >= 1);
	CHECK(per_export(&p2, 1, "zerofs_lsm_durable_wait_seconds_total") >
	      per_export(&p0, 1, "zerofs_lsm_durable_wait_seconds_total"));
	CHECK(per_export(&p2, 1, "zerofs_fs_lock_waits_total") >= 0 &&
	      per_export(&p2, 1, "zerofs_fs_lock_wait_seconds_total") >= 0);
	CHECK(per_export(&p2, 1, "zerofs_lsm_wal_uploads_in_flight") >= 0 &&
	      per_export(&p2, 1, "zerofs_lsm_wal_uploads_in_flight") <= 8);
	/* value separation and chunk folds: reported (they move with flushes
	 * and fragmented chunks; the engine's and core's tests check them) */
	static const char *const vlog[] = {
		"zerofs_lsm_vlog_objects", "zerofs_lsm_vlog_live_bytes",
		"zerofs_lsm_vlog_separated_bytes_total", "zerofs_lsm_vlog_reads_total",
		"zerofs_lsm_vlog_read_bytes_total", "zerofs_fs_chunk_folds_total",
		"zerofs_fs_chunk_fold_bytes_total", "zerofs_fs_repack_bytes_total",
	};
	for (size_t i = 0; i < sizeof(vlog) / sizeof(vlog[0]); i++)
		CHECK_MSG(per_export(&p2, 1, vlog[i]) >= 0, "%s is missing", vlog[i]);
	/* the latency of those writes is in the histogram */
	CHECK(op(&p2, 1, "zerofs_fsal_op_duration_seconds_sum", "write") >
	      op(&p0, 1, "zerofs_fsal_op_duration_seconds_sum", "write"));
	check_histograms(&p2);
	/* export 2 saw none of it */
	CHECK(ops(&p2, 2, "write") == ops(&p0, 2, "write"));
	CHECK(ops(&p2, 2, "create") == ops(&p0, 2, "create"));
	CHECK(ops(&p2, 2, "commit") == ops(&p0, 2, "commit"));
	if (use_rgw) {
		CHECK_MSG(!strstr(text, rgw.secret_key), "the secret key is in a scrape");
		CHECK_MSG(!strstr(text, rgw.access_key), "the access key is in a scrape");
	}
	free(text);
	prom_free(&p1);
	prom_free(&p2);
out:
	prom_free(&p0);
	if (v3)
		nfs_destroy_context(v3);
	if (v4)
		nfs_destroy_context(v4);
}

/* Idle, the time since the last durable flush grows; an UNSTABLE write
 * and its COMMIT bring it back near zero, with nothing left unflushed. */
static void t_durable_age(void *ctx)
{
	struct prom before, after;
	struct nfs_context *v3 = mount_export(3, "/zerofs1");
	struct nfsfh *fh = NULL;
	(void)ctx;

	REQUIRE(v3);
	if (nfs_create(v3, "/age", O_RDWR | O_CREAT | O_TRUNC, 0644, &fh) != 0) {
		CHECK(!"create /age");
		nfs_destroy_context(v3);
		return;
	}
	usleep(1500 * 1000);
	CHECK(scrape(&before, NULL));
	double age0 = per_export(&before, 1, "zerofs_lsm_last_durable_flush_age_seconds");
	CHECK(nfs_pwrite(v3, fh, 0, 5, "hello") == 5);
	CHECK(nfs_fsync(v3, fh) == 0);
	CHECK(scrape(&after, NULL));
	double age1 = per_export(&after, 1, "zerofs_lsm_last_durable_flush_age_seconds");
	printf("  last durable flush: %.3f s ago before the COMMIT, %.3f s after\n", age0, age1);
	CHECK(age0 >= 1.0);
	CHECK(age1 >= 0 && age1 < age0 && age1 < 1.0);
	CHECK(per_export(&after, 1, "zerofs_lsm_wal_unflushed_bytes") == 0);
	CHECK(ops(&after, 1, "commit") >= ops(&before, 1, "commit") + 1);
	nfs_close(v3, fh);
	nfs_destroy_context(v3);
	prom_free(&before);
	prom_free(&after);
}

/* Stopping ganesha stops the server and unloads the module cleanly. */
static void t_stop(void *ctx)
{
	char log[DIR_MAX + 48];
	(void)ctx;

	CHECK(ganesha("stop", gdir, NULL));
	CHECK(http("GET", "/metrics", NULL) == -1);
	snprintf(log, sizeof(log), "%s/ganesha.log", gdir);
	CHECK(log_has(log, "ZEROFS metrics: serving GET /metrics on 127.0.0.1:"));
	CHECK(log_has(log, "FSAL ZEROFS unloaded"));
}

/* RGW: exports whose store is down when ganesha starts are listed with
 * zerofs_export_open 0, their failed store requests counted and no engine
 * numbers, until the store answers. */
static void t_store_down_at_start(void *ctx)
{
	char dir[DIR_MAX + 32], addr[64];
	struct prom p;
	int opened = 0;
	(void)ctx;

	snprintf(dir, sizeof(dir), "%s/ganesha-late", work_dir);
	metrics_port = free_port();
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", metrics_port);
	REQUIRE(rgw_ctl(&rgw, "stop-gw") == 0);
	bool started = start_in(dir, addr, "late");
	CHECK_MSG(started, "ganesha did not start with its store down (see %s)", dir);
	if (started && scrape(&p, NULL)) {
		double errors = 0;
		static const char *const kinds[] = { "put", "get", "head", "delete", "list" };
		for (int k = 0; k < 5; k++)
			errors += kind(&p, 1, "zerofs_store_errors_total", kinds[k]);
		CHECK(prom_value(&p, "zerofs_exports", "", -1) == 2);
		CHECK(per_export(&p, 1, "zerofs_export_open") == 0);
		CHECK(per_export(&p, 2, "zerofs_export_open") == 0);
		CHECK_MSG(errors >= 1, "%g failed store requests while the gateway is down", errors);
		CHECK(per_export(&p, 1, "zerofs_lsm_writes_total") == -1); /* not open: absent */
		check_histograms(&p);
	} else {
		CHECK(!"scrape while the store is down");
	}
	prom_free(&p);
	CHECK(rgw_ctl(&rgw, "start-gw") == 0);
	/* the openers retry at most 30 s apart */
	for (int i = 0; started && i < 60 && opened < 2; i++) {
		sleep(1);
		if (scrape(&p, NULL)) {
			opened = (per_export(&p, 1, "zerofs_export_open") == 1) +
				 (per_export(&p, 2, "zerofs_export_open") == 1);
			if (opened == 2)
				CHECK(per_export(&p, 1, "zerofs_lsm_writer_epoch") >= 1);
		}
		prom_free(&p);
	}
	CHECK_MSG(opened == 2, "%d of 2 exports open after the gateway came back", opened);
	CHECK(ganesha("stop", dir, NULL));
}

/* A bad Metrics_Address fails the config, naming the key, and no ZEROFS
 * export is created; so does an address that cannot be bound. */
static void t_bad_address(void *ctx)
{
	static const struct {
		const char *addr, *expect;
	} cases[] = {
		{ "localhost:9587", "ZEROFS key Metrics_Address: \"localhost:9587\" is invalid" },
		{ "127.0.0.1:99999", "ZEROFS key Metrics_Address: \"127.0.0.1:99999\" is invalid" },
		{ "[::1]", "ZEROFS key Metrics_Address: \"[::1]\" is invalid" },
		{ NULL, "ZEROFS key Metrics_Address: cannot serve on 127.0.0.1:" }, /* busy */
	};
	(void)ctx;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char dir[DIR_MAX + 32], log[DIR_MAX + 64], tag[32], addr[64];
		int busy_fd = -1;

		snprintf(dir, sizeof(dir), "%s/ganesha-bad%zu", work_dir, i);
		snprintf(tag, sizeof(tag), "bad%zu", i);
		if (cases[i].addr) {
			snprintf(addr, sizeof(addr), "%s", cases[i].addr);
		} else {
			/* a port someone else listens on */
			struct sockaddr_in a = { .sin_family = AF_INET };
			socklen_t len = sizeof(a);
			a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
			busy_fd = socket(AF_INET, SOCK_STREAM, 0);
			REQUIRE(busy_fd >= 0 && bind(busy_fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
				listen(busy_fd, 1) == 0 &&
				getsockname(busy_fd, (struct sockaddr *)&a, &len) == 0);
			snprintf(addr, sizeof(addr), "127.0.0.1:%d", ntohs(a.sin_port));
		}
		setenv("GANESHA_ALLOW_CONFIG_ERRORS", "1", 1);
		bool started = start_in(dir, addr, tag);
		unsetenv("GANESHA_ALLOW_CONFIG_ERRORS");
		CHECK_MSG(started, "ganesha with Metrics_Address \"%s\" did not start", addr);
		snprintf(log, sizeof(log), "%s/ganesha.log", dir);
		CHECK_MSG(log_has(log, cases[i].expect), "no \"%s\" in %s", cases[i].expect, log);
		/* both exports refused: the first by init_config, the second
		 * because the module's block was refused */
		CHECK(!log_has(log, "ZEROFS filesystem"));
		CHECK(log_has(log, "export 2: not created: the ZEROFS {} block was refused"));
		ganesha("stop", dir, NULL);
		if (busy_fd >= 0)
			close(busy_fd);
	}
}

static int run_all(void)
{
	char cmd[4 * DIR_MAX], addr[64];

	snprintf(gdir, sizeof(gdir), "%s/ganesha", work_dir);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' && mkdir -p '%s'", work_dir, work_dir);
	if (system(cmd) != 0)
		return 1;
	if (use_rgw && !hn_write_cred())
		return 1;
	metrics_port = free_port();
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", metrics_port);
	if (metrics_port <= 0 || !start_in(gdir, addr, "store") || !read_env()) {
		tl_fail_setup("metrics/start_ganesha",
			      "could not start ganesha, Metrics_Address %s (see %s)", addr, gdir);
		return tl_finish();
	}
	printf("ganesha: NFS 127.0.0.1:%d, metrics http://%s/metrics, work dir %s\n", nfs_port,
	       addr, work_dir);
	tl_run("metrics/format_and_help_type", t_format, NULL);
	tl_run("metrics/only_get_metrics_is_served", t_other_paths, NULL);
	tl_run("metrics/bound_to_127.0.0.1_only", t_loopback_only, NULL);
	tl_run("metrics/counters_move_with_a_workload", t_workload, NULL);
	tl_run("metrics/durable_flush_age_drops_after_commit", t_durable_age, NULL);
	tl_run("metrics/server_stops_with_ganesha", t_stop, NULL);
	if (use_rgw)
		tl_run("metrics/rgw_store_down_at_start_then_open", t_store_down_at_start, NULL);
	else
		tl_run("metrics/bad_address_fails_the_config", t_bad_address, NULL);
	return tl_finish();
}

/* After the run, whatever happened to it: stop every ganesha it started. */
static void stop_all(void)
{
	char cmd[6 * DIR_MAX]; /* WORK_DIR three times, SRC_DIR once */

	snprintf(cmd, sizeof(cmd),
		 "for d in '%s'/ganesha '%s'/ganesha-bad* '%s'/ganesha-late; do test ! -f \"$d/ganesha.conf\" || "
		 "bash '%s/scripts/ganesha.sh' stop \"$d\" >/dev/null; done",
		 work_dir, work_dir, work_dir, src_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not stop every ganesha under %s\n", work_dir);
	curl_global_cleanup();
}

int main(int argc, char **argv)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	return hn_main(argc, argv, "test_metrics", run_all, stop_all);
}
