/*
 * tests/s3/test_store.c - one suite, every store operation, run against each
 * backend: `test_store local` (a fresh directory) and `test_store rgw` (the
 * Ceph RGW from the ctest fixture, through the production stack
 * retry(prefix(s3))). Both must behave the same.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "store.h"
#include "store_env.h"
#include "testlib.h"

static struct zs3_store *S;
static const char *backend;
static char *local_dir;
static struct zs3_store *open_raw(void);
static char run_prefix[64]; /* keys of this run, so reruns on one bucket don't collide */
static unsigned long long seed;

#define ST(expr, want)                                                                   \
	do {                                                                             \
		zs3_status st_ = (expr);                                                 \
		CHECK_MSG(st_ == (want), "%s: got %s, want %s (%s)", #expr,              \
			  zs3_strstatus(st_), zs3_strstatus(want), zs3_last_error());    \
	} while (0)

static const char *K(const char *name)
{
	static _Thread_local char buf[4][1100];
	static _Thread_local int i;
	char *b = buf[i++ & 3];
	snprintf(b, sizeof(buf[0]), "%s/%s/%s", run_prefix, tl_current, name);
	return b;
}

static void md5_hex(const void *p, size_t n, char out[33])
{
	unsigned char raw[16];
	unsigned int len = 16;
	EVP_Digest(p, n, raw, &len, EVP_md5(), NULL);
	for (int i = 0; i < 16; i++)
		sprintf(out + 2 * i, "%02x", raw[i]);
}

static bool buf_is(const struct zs3_buf *b, const void *p, size_t n)
{
	return b->len == n && (n == 0 || memcmp(b->data, p, n) == 0);
}

static void t_roundtrip(void *ctx)
{
	(void)ctx;
	const char *msg = "hello, object store";
	struct zs3_meta put_meta, get_meta, head_meta;
	struct zs3_buf b = { 0 };
	char md5[33];

	ST(zs3_put(S, K("a"), msg, strlen(msg), &put_meta), ZS3_OK);
	md5_hex(msg, strlen(msg), md5); /* computed independently of the store */
	CHECK_MSG(!strcmp(put_meta.etag, md5), "etag %s md5 %s", put_meta.etag, md5);
	ST(zs3_get(S, K("a"), zs3_range_all(), &b, &get_meta), ZS3_OK);
	CHECK(buf_is(&b, msg, strlen(msg)));
	CHECK(get_meta.size == strlen(msg));
	CHECK(!strcmp(get_meta.etag, md5));
	ST(zs3_head(S, K("a"), &head_meta), ZS3_OK);
	CHECK(head_meta.size == strlen(msg));
	CHECK(!strcmp(head_meta.etag, md5));
	CHECK(head_meta.mtime_ms > 1600000000000LL); /* a real wall-clock time */

	/* overwrite */
	ST(zs3_put(S, K("a"), "second", 6, NULL), ZS3_OK);
	ST(zs3_get(S, K("a"), zs3_range_all(), &b, NULL), ZS3_OK);
	CHECK(buf_is(&b, "second", 6));

	/* missing keys; delete is idempotent */
	ST(zs3_get(S, K("missing"), zs3_range_all(), &b, NULL), ZS3_ENOTFOUND);
	ST(zs3_head(S, K("missing"), &head_meta), ZS3_ENOTFOUND);
	ST(zs3_delete(S, K("a")), ZS3_OK);
	ST(zs3_get(S, K("a"), zs3_range_all(), &b, NULL), ZS3_ENOTFOUND);
	ST(zs3_delete(S, K("a")), ZS3_OK);

	/* argument errors never reach the store */
	ST(zs3_put(S, "", "x", 1, NULL), ZS3_EINVAL);
	ST(zs3_get(S, K("a"), zs3_range_from(0, 0), &b, NULL), ZS3_EINVAL);
	zs3_buf_free(&b);
}

static void t_empty_object(void *ctx)
{
	(void)ctx;
	struct zs3_buf b = { 0 };
	struct zs3_meta m;
	ST(zs3_put(S, K("empty"), NULL, 0, &m), ZS3_OK);
	CHECK(!strcmp(m.etag, "d41d8cd98f00b204e9800998ecf8427e"));
	ST(zs3_get(S, K("empty"), zs3_range_all(), &b, &m), ZS3_OK);
	CHECK(b.len == 0 && m.size == 0);
	ST(zs3_head(S, K("empty"), &m), ZS3_OK);
	CHECK(m.size == 0);
	ST(zs3_get(S, K("empty"), zs3_range_from(0, 10), &b, NULL), ZS3_ERANGE);
	zs3_buf_free(&b);
}

static void t_ranges(void *ctx)
{
	(void)ctx;
	char data[1000];
	struct zs3_buf b = { 0 };
	struct zs3_meta m;
	for (int i = 0; i < 1000; i++)
		data[i] = (char)(i * 7 + 3);
	ST(zs3_put(S, K("r"), data, sizeof(data), NULL), ZS3_OK);

	ST(zs3_get(S, K("r"), zs3_range_from(100, 50), &b, &m), ZS3_OK);
	CHECK(buf_is(&b, data + 100, 50));
	CHECK(m.size == 1000); /* the object's size, not the range's */
	ST(zs3_get(S, K("r"), zs3_range_from(0, 1), &b, NULL), ZS3_OK);
	CHECK(buf_is(&b, data, 1));
	ST(zs3_get(S, K("r"), zs3_range_from(999, 1), &b, NULL), ZS3_OK);
	CHECK(buf_is(&b, data + 999, 1));
	/* length past the end is clipped */
	ST(zs3_get(S, K("r"), zs3_range_from(900, 500), &b, NULL), ZS3_OK);
	CHECK(buf_is(&b, data + 900, 100));
	ST(zs3_get(S, K("r"), zs3_range_from(10, UINT64_MAX), &b, NULL), ZS3_OK);
	CHECK(buf_is(&b, data + 10, 990));
	/* offset at or past the end */
	ST(zs3_get(S, K("r"), zs3_range_from(1000, 1), &b, NULL), ZS3_ERANGE);
	ST(zs3_get(S, K("r"), zs3_range_from(5000, 10), &b, NULL), ZS3_ERANGE);
	/* suffixes */
	ST(zs3_get(S, K("r"), zs3_range_suffix(10), &b, NULL), ZS3_OK);
	CHECK(buf_is(&b, data + 990, 10));
	ST(zs3_get(S, K("r"), zs3_range_suffix(1000), &b, NULL), ZS3_OK);
	CHECK(buf_is(&b, data, 1000));
	ST(zs3_get(S, K("r"), zs3_range_suffix(4000), &b, NULL), ZS3_OK);
	CHECK(buf_is(&b, data, 1000));
	ST(zs3_get(S, K("r"), zs3_range_suffix(0), &b, NULL), ZS3_EINVAL);
	ST(zs3_get(S, K("nope"), zs3_range_from(0, 5), &b, NULL), ZS3_ENOTFOUND);
	zs3_buf_free(&b);
}

static void t_conditional(void *ctx)
{
	(void)ctx;
	struct zs3_meta m1, m2;
	struct zs3_buf b = { 0 };
	ST(zs3_put_if_absent(S, K("c"), "one", 3, &m1), ZS3_OK);
	ST(zs3_put_if_absent(S, K("c"), "two", 3, NULL), ZS3_EPRECONDITION);
	ST(zs3_get(S, K("c"), zs3_range_all(), &b, NULL), ZS3_OK);
	CHECK(buf_is(&b, "one", 3));

	/* compare-and-swap */
	ST(zs3_put_if_match(S, K("c"), "three", 5, m1.etag, &m2), ZS3_OK);
	CHECK(strcmp(m1.etag, m2.etag) != 0);
	ST(zs3_put_if_match(S, K("c"), "four", 4, m1.etag, NULL), ZS3_EPRECONDITION);
	ST(zs3_get(S, K("c"), zs3_range_all(), &b, NULL), ZS3_OK);
	CHECK(buf_is(&b, "three", 5));
	ST(zs3_put_if_match(S, K("c"), "five", 4, m2.etag, NULL), ZS3_OK);
	/* CAS on a missing key never creates it */
	ST(zs3_put_if_match(S, K("absent"), "x", 1, m2.etag, NULL), ZS3_EPRECONDITION);
	ST(zs3_head(S, K("absent"), &m1), ZS3_ENOTFOUND);
	/* after a delete, create-only works again */
	ST(zs3_delete(S, K("c")), ZS3_OK);
	ST(zs3_put_if_absent(S, K("c"), "six", 3, NULL), ZS3_OK);
	zs3_buf_free(&b);
}

#define RACERS 16
struct race {
	const char *key;
	const char *etag; /* NULL: create-only race; else CAS race from this ETag */
	atomic_int go;
	atomic_int winners, losers, others;
};

struct racer_arg {
	struct race *race;
	int id;
};

static void *racer(void *arg)
{
	struct racer_arg *a = arg;
	struct race *r = a->race;
	char body[32];
	zs3_status st;
	/* Bodies differ from the object raced on: an identical body would keep its
	 * ETag (content MD5) and let a second CAS on that ETag win as well. */
	snprintf(body, sizeof(body), "%s %d", r->etag ? "cas writer" : "writer", a->id);
	/* relaxed: the start signal orders nothing (the race was filled in before
	 * pthread_create), and ThreadSanitizer turns a spin of seq_cst loads on 2
	 * CPUs into a livelock that starves the store of go */
	while (!atomic_load_explicit(&r->go, memory_order_relaxed))
		;
	st = r->etag ? zs3_put_if_match(S, r->key, body, strlen(body), r->etag, NULL)
		     : zs3_put_if_absent(S, r->key, body, strlen(body), NULL);
	if (st == ZS3_OK)
		atomic_fetch_add(&r->winners, 1);
	else if (st == ZS3_EPRECONDITION)
		atomic_fetch_add(&r->losers, 1);
	else
		atomic_fetch_add(&r->others, 1);
	return NULL;
}

static void run_race(struct race *r)
{
	pthread_t th[RACERS];
	struct racer_arg args[RACERS];
	for (int i = 0; i < RACERS; i++) {
		args[i] = (struct racer_arg){ r, i };
		pthread_create(&th[i], NULL, racer, &args[i]);
	}
	atomic_store(&r->go, 1);
	for (int i = 0; i < RACERS; i++)
		pthread_join(th[i], NULL);
}

static void t_races(void *ctx)
{
	(void)ctx;
	struct zs3_buf b = { 0 };
	for (int round = 0; round < 10; round++) {
		char name[32];
		struct zs3_meta m;
		struct race r = { 0 };
		snprintf(name, sizeof(name), "race%d", round);
		r.key = K(name);
		run_race(&r);
		CHECK_MSG(r.winners == 1 && r.losers == RACERS - 1 && r.others == 0,
			  "create race %d: %d winners, %d losers, %d errors", round, r.winners,
			  r.losers, r.others);
		/* the winner's bytes are there, whole */
		ST(zs3_get(S, r.key, zs3_range_all(), &b, &m), ZS3_OK);
		CHECK(b.len > 7 && !memcmp(b.data, "writer ", 7));

		struct race cas = { 0 };
		cas.key = r.key;
		cas.etag = m.etag;
		run_race(&cas);
		CHECK_MSG(cas.winners == 1 && cas.losers == RACERS - 1 && cas.others == 0,
			  "CAS race %d: %d winners, %d losers, %d errors", round, cas.winners,
			  cas.losers, cas.others);
	}
	zs3_buf_free(&b);
}

static void t_large(void *ctx)
{
	(void)ctx;
	size_t n = 9 * 1024 * 1024 + 123;
	unsigned long long st8 = seed;
	char *data = malloc(n);
	struct zs3_buf b = { 0 };
	struct zs3_meta m;
	REQUIRE(data);
	tl_fill_random(data, n, &st8);
	ST(zs3_put(S, K("big"), data, n, NULL), ZS3_OK);
	ST(zs3_get(S, K("big"), zs3_range_all(), &b, &m), ZS3_OK);
	CHECK(buf_is(&b, data, n));
	CHECK(m.size == n);
	ST(zs3_get(S, K("big"), zs3_range_from(4 * 1024 * 1024 - 7, 2 * 1024 * 1024), &b, NULL),
	   ZS3_OK);
	CHECK(buf_is(&b, data + 4 * 1024 * 1024 - 7, 2 * 1024 * 1024));
	ST(zs3_get(S, K("big"), zs3_range_suffix(65536), &b, NULL), ZS3_OK);
	CHECK(buf_is(&b, data + n - 65536, 65536));
	free(data);
	zs3_buf_free(&b);
}

static void t_odd_keys(void *ctx)
{
	(void)ctx;
	static const char *names[] = {
		"with space", "plus+sign", "percent%20literal", "amp&lt;<>\"'", "unicode-\xc3\xa9\xe2\x82\xac",
		"a=b?c#d", "dots/./and/../x", "trailing/", "double//slash", "@at", "#hash", "..",
		"x", "x/y", /* "x" and "x/y" coexist */ "tab\there", "~tilde*star(paren)!",
	};
	size_t n = sizeof(names) / sizeof(names[0]);
	struct zs3_buf b = { 0 };
	struct zs3_list l;
	char prefix[1100];
	size_t found = 0;

	for (size_t i = 0; i < n; i++) {
		char body[64];
		snprintf(body, sizeof(body), "body of %zu", i);
		ST(zs3_put(S, K(names[i]), body, strlen(body), NULL), ZS3_OK);
	}
	for (size_t i = 0; i < n; i++) {
		char body[64];
		snprintf(body, sizeof(body), "body of %zu", i);
		ST(zs3_get(S, K(names[i]), zs3_range_all(), &b, NULL), ZS3_OK);
		CHECK_MSG(buf_is(&b, body, strlen(body)), "key '%s'", names[i]);
	}
	snprintf(prefix, sizeof(prefix), "%s", K(""));
	ST(zs3_list(S, prefix, NULL, 1000, &l), ZS3_OK);
	CHECK_MSG(l.count == n, "listed %zu of %zu odd keys", l.count, n);
	for (size_t i = 0; i < l.count; i++) {
		const char *k = l.entries[i].key;
		if (i > 0)
			CHECK(strcmp(l.entries[i - 1].key, k) < 0);
		size_t before = found;
		for (size_t j = 0; j < n; j++)
			if (!strcmp(k + strlen(prefix), names[j]))
				found++;
		CHECK_MSG(found == before + 1, "listed key '%s' matches no name", k);
	}
	CHECK_MSG(found == n, "found %zu of %zu names exactly", found, n);
	zs3_list_free(&l);

	/* a long key (S3 allows 1024 bytes; leave room for the store's prefix) */
	char longkey[1025];
	size_t base = strlen(K(""));
	memset(longkey, 'k', sizeof(longkey));
	for (size_t i = 100; i < 1024; i += 100)
		longkey[i] = '/';
	longkey[1000 - base] = '\0';
	snprintf(prefix, sizeof(prefix), "%s%s", K(""), longkey);
	ST(zs3_put(S, prefix, "long", 4, NULL), ZS3_OK);
	ST(zs3_get(S, prefix, zs3_range_all(), &b, NULL), ZS3_OK);
	CHECK(buf_is(&b, "long", 4));
	zs3_buf_free(&b);
}

struct each_walk {
	const char *prefix;
	size_t seen, stop_at;
	char last[1100];
	bool ordered_set, ordered;
};

static zs3_status each_entry(void *ctx, const struct zs3_entry *e)
{
	struct each_walk *w = ctx;

	if (!w->ordered_set)
		w->ordered = w->ordered_set = true;
	if (strcmp(e->key, w->last) <= 0 || strncmp(e->key, w->prefix, strlen(w->prefix)) != 0)
		w->ordered = false;
	snprintf(w->last, sizeof(w->last), "%s", e->key);
	return ++w->seen == w->stop_at ? ZS3_EINVAL : ZS3_OK;
}

static void t_pagination(void *ctx)
{
	(void)ctx;
	enum { N = 2345 };
	char key[600], prefix[256], sibling[256];
	struct zs3_list l;
	size_t total = 0;
	char last[1100] = "";
	bool ordered = true;

	snprintf(prefix, sizeof(prefix), "%s", K("p/"));
	snprintf(sibling, sizeof(sibling), "%s", K("p2/other"));
	ST(zs3_put(S, sibling, "s", 1, NULL), ZS3_OK); /* shares the prefix's start */
	for (int i = 0; i < N; i++) {
		snprintf(key, sizeof(key), "%s%s%05d", prefix, i % 3 ? "d/" : "", i);
		zs3_status st = zs3_put(S, key, &i, sizeof(i), NULL);
		if (st != ZS3_OK) {
			CHECK_MSG(st == ZS3_OK, "put %s: %s", key, zs3_last_error());
			return;
		}
	}
	/* pages of 1000, then of 7 (many pages) */
	unsigned sizes[] = { 1000, 7 };
	for (int s = 0; s < 2; s++) {
		total = 0;
		last[0] = '\0';
		ordered = true;
		for (int pages = 0;; pages++) {
			ST(zs3_list(S, prefix, last[0] ? last : NULL, sizes[s], &l), ZS3_OK);
			CHECK(l.count <= sizes[s]);
			for (size_t i = 0; i < l.count; i++) {
				if (strcmp(l.entries[i].key, last) <= 0)
					ordered = false;
				if (strncmp(l.entries[i].key, prefix, strlen(prefix)) != 0)
					ordered = false;
				snprintf(last, sizeof(last), "%s", l.entries[i].key);
				if (l.entries[i].size != sizeof(int))
					ordered = false;
			}
			total += l.count;
			bool more = l.truncated;
			zs3_list_free(&l);
			if (!more || pages > N)
				break;
		}
		CHECK_MSG(total == N, "page size %u: listed %zu of %d", sizes[s], total, N);
		CHECK(ordered);
	}
	/* start_after in the middle */
	snprintf(key, sizeof(key), "%sd/%05d", prefix, 2000);
	ST(zs3_list(S, prefix, key, 1000, &l), ZS3_OK);
	CHECK(l.count > 0 && strcmp(l.entries[0].key, key) > 0);
	zs3_list_free(&l);
	/* a prefix that matches nothing */
	ST(zs3_list(S, K("nothing-here/"), NULL, 10, &l), ZS3_OK);
	CHECK(l.count == 0 && !l.truncated);
	zs3_list_free(&l);
	/* zs3_list_each walks every page in order, and stops when told */
	struct each_walk w = { .prefix = prefix };
	ST(zs3_list_each(S, prefix, NULL, each_entry, &w), ZS3_OK);
	CHECK_MSG(w.seen == N && w.ordered, "zs3_list_each saw %zu of %d (ordered %d)", w.seen, N,
		  w.ordered);
	struct each_walk stop = { .prefix = prefix, .stop_at = 1500 };
	ST(zs3_list_each(S, prefix, NULL, each_entry, &stop), ZS3_EINVAL);
	CHECK(stop.seen == 1500);
}

static void t_stats(void *ctx)
{
	(void)ctx;
	struct zs3_stats a, b;
	struct zs3_buf buf = { 0 };
	zs3_stats(S, &a);
	ST(zs3_put(S, K("s"), "12345", 5, NULL), ZS3_OK);
	ST(zs3_get(S, K("s"), zs3_range_all(), &buf, NULL), ZS3_OK);
	ST(zs3_get(S, K("none"), zs3_range_all(), &buf, NULL), ZS3_ENOTFOUND);
	zs3_stats(S, &b);
	CHECK(b.requests[ZS3_OP_PUT] == a.requests[ZS3_OP_PUT] + 1);
	CHECK(b.requests[ZS3_OP_GET] == a.requests[ZS3_OP_GET] + 2);
	CHECK(b.errors[ZS3_OP_GET] == a.errors[ZS3_OP_GET] + 1);
	CHECK(b.bytes_up == a.bytes_up + 5);
	CHECK(b.bytes_down >= a.bytes_down + 5);
	zs3_buf_free(&buf);
}

/* Retry over injected faults: 30% of calls fail transiently, 20% of replies
 * are lost after the call ran; everything still succeeds exactly once. */
static void t_faults_retried(void *ctx)
{
	(void)ctx;
	struct zs3_store *inner = open_raw(), *fault, *retry, *short_retry;
	struct zs3_fault_config fc = { .seed = seed, .error_rate = 0.3, .lost_reply_rate = 0.2 };
	struct zs3_retry_policy rp = { .max_attempts = 30, .base_delay_ms = 1, .max_delay_ms = 5,
				       .seed = seed };
	struct zs3_buf b = { 0 };
	struct zs3_stats stats;
	struct zs3_meta m;

	REQUIRE(inner);
	REQUIRE(zs3_open_fault(inner, &fc, &fault) == ZS3_OK);
	REQUIRE(zs3_open_retry(fault, &rp, &retry) == ZS3_OK);
	for (int i = 0; i < 40; i++) {
		char key[64], body[32];
		snprintf(key, sizeof(key), "f%d", i);
		snprintf(body, sizeof(body), "value %d", i);
		ST(zs3_put_if_absent(retry, K(key), body, strlen(body), &m), ZS3_OK);
		ST(zs3_put_if_match(retry, K(key), "v2", 2, m.etag, NULL), ZS3_OK);
		ST(zs3_put_if_absent(retry, K(key), "other", 5, NULL), ZS3_EPRECONDITION);
		ST(zs3_get(retry, K(key), zs3_range_all(), &b, NULL), ZS3_OK);
		CHECK(buf_is(&b, "v2", 2));
	}
	zs3_stats(retry, &stats);
	CHECK(stats.retries > 0 && stats.faults_injected > 0);
	printf("  retries %llu, faults injected %llu\n", (unsigned long long)stats.retries,
	       (unsigned long long)stats.faults_injected);
	/* with no retries left, the fault surfaces as transient, with detail */
	fc.error_rate = 1.0;
	zs3_fault_set(fault, &fc);
	ST(zs3_get(retry, K("f1"), zs3_range_all(), &b, NULL), ZS3_ETRANSIENT);
	CHECK(strstr(zs3_last_error(), "injected") != NULL);
	zs3_close(retry);

	/* 503-like errors on a short policy: 2 attempts are not enough for 100% */
	inner = open_raw();
	REQUIRE(inner);
	fc.error_rate = 0.5;
	REQUIRE(zs3_open_fault(inner, &fc, &fault) == ZS3_OK);
	rp.max_attempts = 1;
	REQUIRE(zs3_open_retry(fault, &rp, &short_retry) == ZS3_OK);
	int transient = 0;
	for (int i = 0; i < 40; i++)
		transient += zs3_head(short_retry, K("f1"), &m) == ZS3_ETRANSIENT;
	CHECK(transient > 5 && transient < 35);
	zs3_close(short_retry);
	zs3_buf_free(&b);
}

/* The bare backend (no retry layer) on the same objects as S. */
static struct zs3_store *open_raw(void)
{
	struct zs3_store *s = NULL;
	if (local_dir) {
		if (zs3_open_local(local_dir, false, &s) != ZS3_OK)
			return NULL;
		return s;
	}
	struct rgw_env e;
	struct zs3_s3_config cfg;
	if (!rgw_env_load(&e))
		return NULL;
	rgw_env_config(&e, &cfg);
	if (zs3_open_s3_raw(&cfg, &s) != ZS3_OK || zs3_open_prefix(s, "suite/", &s) != ZS3_OK)
		return NULL;
	return s;
}

int main(int argc, char **argv)
{
	zs3_status st;

	backend = argc > 1 ? argv[1] : "local";

	if (argc > 2)
		tl_set_filter(argv[2]);
	seed = tl_seed();
	snprintf(run_prefix, sizeof(run_prefix), "run-%llx", seed & 0xffffffffffULL);
	if (!strcmp(backend, "local")) {
		local_dir = make_temp_dir("store");
		st = local_dir ? zs3_open_local(local_dir, false, &S) : ZS3_EIO;
	} else if (!strcmp(backend, "rgw")) {
		struct rgw_env e;
		struct zs3_s3_config cfg;
		if (!rgw_env_load(&e))
			return 1;
		rgw_env_config(&e, &cfg);
		cfg.prefix = "suite/";
		st = zs3_open_s3(&cfg, &S);
	} else {
		fprintf(stderr, "usage: %s local|rgw [test-name-filter]\n", argv[0]);
		return 2;
	}
	if (st != ZS3_OK) {
		fprintf(stderr, "cannot open the %s store: %s\n", backend, zs3_last_error());
		return 1;
	}
	printf("store: %s\n", zs3_describe(S));
	tl_run("roundtrip", t_roundtrip, NULL);
	tl_run("empty_object", t_empty_object, NULL);
	tl_run("ranges", t_ranges, NULL);
	tl_run("conditional", t_conditional, NULL);
	tl_run("races_16_threads", t_races, NULL);
	tl_run("large_object", t_large, NULL);
	tl_run("odd_keys", t_odd_keys, NULL);
	tl_run("pagination", t_pagination, NULL);
	tl_run("stats", t_stats, NULL);
	tl_run("faults_retried", t_faults_retried, NULL);
	zs3_close(S);
	rm_rf(local_dir);
	free(local_dir);
	return tl_finish();
}
