/*
 * s3/store_s3.c - the S3 backend: one HTTP request per call, through libcurl.
 *
 * Requests are signed with libcurl's SigV4 signer. Two quirks of libcurl
 * 7.88 shape this file (docs/ARCHITECTURE.md): it does not add
 * x-amz-content-sha256, so we send "UNSIGNED-PAYLOAD" (integrity comes from
 * Content-MD5 instead, which the server checks), and it does not canonicalise
 * query strings, so we build them sorted and percent-encoded ourselves.
 * Conditional writes send ETags unquoted: RGW matches only that form.
 *
 * Concurrency: calls from many threads run at once; each takes a curl easy
 * handle from a small pool, and an idle handle keeps its connection open for
 * the next request (connection reuse without a shared cache).
 */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include "s3_xml.h"
#include "store_int.h"

#define POOL_MAX 64
#define ERR_BODY_MAX (64 * 1024)

struct s3_store {
	struct zs3_store base;
	char *origin;      /* scheme://host[:port], with the bucket for virtual addressing */
	char *path_prefix; /* "/bucket" (path style) or "" */
	char *bucket;
	char *region;
	char *access_key, *secret_key, *session_token;
	char *ca_file;
	char sigv4[160];
	unsigned connect_timeout_ms, stall_timeout_s;
	uint64_t md5_max_bytes;
	pthread_mutex_t pool_lock;
	CURL *pool[POOL_MAX];
	int pooled;
};

/* ---- URL building ---- */

static bool unreserved(unsigned char c)
{
	return isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~';
}

/* Percent-encodes s, keeping '/' when keep_slash (object paths). */
static char *uri_encode(const char *s, bool keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(s);
	char *out = malloc(3 * n + 1), *o = out;
	if (!out)
		return NULL;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (unreserved(c) || (keep_slash && c == '/')) {
			*o++ = (char)c;
		} else {
			*o++ = '%';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 15];
		}
	}
	*o = '\0';
	return out;
}

/* ---- one request ---- */

struct request {
	const char *method; /* "GET", "PUT", "HEAD", "DELETE" */
	const char *key;    /* NULL for bucket-level requests */
	const char *query;  /* canonical query string, or NULL */
	const uint8_t *body;
	size_t body_len, body_off;
	struct curl_slist *headers;
	struct zs3_buf *sink; /* GET body destination; else an internal buffer */
	struct zs3_buf errbuf;
	/* response */
	long http;
	char etag[ZS3_ETAG_MAX];
	int64_t mtime_ms;
	uint64_t content_length;
	bool have_length;
	uint64_t range_total; /* from Content-Range: bytes a-b/total */
	bool have_range_total;
	size_t received;
	bool overflow;
};

static size_t on_header(char *line, size_t size, size_t n, void *ud)
{
	struct request *r = ud;
	size_t len = size * n, name_len;
	char *colon = memchr(line, ':', len), value[256];
	if (len > 9 && !strncmp(line, "HTTP/", 5)) {
		/* A status line starts each response (also "100 Continue"): the
		 * body callback needs the status before the transfer ends. */
		const char *sp = memchr(line, ' ', len);
		r->http = sp ? strtol(sp + 1, NULL, 10) : 0;
		r->have_length = r->have_range_total = false;
		r->etag[0] = '\0';
		return len;
	}
	if (!colon)
		return len;
	name_len = (size_t)(colon - line);
	const char *v = colon + 1, *end = line + len;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
		end--;
	snprintf(value, sizeof(value), "%.*s", (int)(end - v), v);

	if (name_len == 4 && !strncasecmp(line, "etag", 4)) {
		size_t vl = strlen(value);
		const char *e = value;
		if (vl >= 2 && value[0] == '"' && value[vl - 1] == '"') {
			e++;
			vl -= 2;
		}
		snprintf(r->etag, sizeof(r->etag), "%.*s", (int)vl, e);
	} else if (name_len == 14 && !strncasecmp(line, "content-length", 14)) {
		r->content_length = strtoull(value, NULL, 10);
		r->have_length = true;
	} else if (name_len == 13 && !strncasecmp(line, "last-modified", 13)) {
		time_t t = curl_getdate(value, NULL);
		r->mtime_ms = t < 0 ? 0 : (int64_t)t * 1000;
	} else if (name_len == 13 && !strncasecmp(line, "content-range", 13)) {
		char *slash = strrchr(value, '/');
		if (slash && slash[1] != '*') {
			r->range_total = strtoull(slash + 1, NULL, 10);
			r->have_range_total = true;
		}
	}
	return len;
}

static size_t on_body(char *data, size_t size, size_t n, void *ud)
{
	struct request *r = ud;
	size_t len = size * n;
	bool ok = r->http >= 200 && r->http < 300;
	struct zs3_buf *b = ok && r->sink ? r->sink : &r->errbuf;
	if (!ok && b->len + len > ERR_BODY_MAX)
		return len; /* keep the start of an error body only */
	if (b->len + len > b->cap) {
		size_t want = b->len + len;
		if (ok && r->have_length && r->content_length > want)
			want = r->content_length;
		if (zs3_buf_reserve(b, want) != ZS3_OK) {
			r->overflow = true;
			return 0; /* aborts the transfer */
		}
	}
	memcpy(b->data + b->len, data, len);
	b->len += len;
	r->received += len;
	return len;
}

static size_t on_read(char *dst, size_t size, size_t n, void *ud)
{
	struct request *r = ud;
	size_t want = size * n, left = r->body_len - r->body_off;
	if (want > left)
		want = left;
	memcpy(dst, r->body + r->body_off, want);
	r->body_off += want;
	return want;
}

static int on_seek(void *ud, curl_off_t off, int origin)
{
	struct request *r = ud;
	if (origin != SEEK_SET || off < 0 || (uint64_t)off > r->body_len)
		return CURL_SEEKFUNC_FAIL;
	r->body_off = (size_t)off;
	return CURL_SEEKFUNC_OK;
}

static CURL *take_handle(struct s3_store *ss)
{
	CURL *h = NULL;
	pthread_mutex_lock(&ss->pool_lock);
	if (ss->pooled > 0)
		h = ss->pool[--ss->pooled];
	pthread_mutex_unlock(&ss->pool_lock);
	return h ? h : curl_easy_init();
}

static void give_handle(struct s3_store *ss, CURL *h, bool reusable)
{
	if (reusable) {
		pthread_mutex_lock(&ss->pool_lock);
		if (ss->pooled < POOL_MAX) {
			ss->pool[ss->pooled++] = h;
			h = NULL;
		}
		pthread_mutex_unlock(&ss->pool_lock);
	}
	if (h)
		curl_easy_cleanup(h);
}

static zs3_status curl_status(CURLcode rc, const char *what, const char *errbuf)
{
	const char *detail = errbuf && *errbuf ? errbuf : curl_easy_strerror(rc);
	switch (rc) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return zs3_fail(ZS3_ETRANSIENT, "%s: %s", what, detail);
	case CURLE_OUT_OF_MEMORY:
		return zs3_fail(ZS3_ENOMEM, "%s: %s", what, detail);
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
		return zs3_fail(ZS3_EAUTH, "%s: TLS certificate verification failed: %s", what, detail);
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
		return zs3_fail(ZS3_EINVAL, "%s: %s", what, detail);
	default:
		return zs3_fail(ZS3_EIO, "%s: %s", what, detail);
	}
}

/* Maps an HTTP error reply to a status, using S3's error code. */
static zs3_status http_status(struct request *r, const char *what, bool conditional)
{
	char code[128], msg[384];
	zs3_status st;
	zs3_xml_parse_error((const char *)r->errbuf.data, r->errbuf.len, code, sizeof(code), msg,
			    sizeof(msg));
	switch (r->http) {
	case 404:
		if (!strcmp(code, "NoSuchBucket"))
			st = ZS3_ENOBUCKET;
		else /* If-Match on a missing key: AWS says 404, RGW 412. */
			st = conditional ? ZS3_EPRECONDITION : ZS3_ENOTFOUND;
		break;
	case 412: st = ZS3_EPRECONDITION; break;
	case 416: st = ZS3_ERANGE; break;
	case 401: case 403:
		st = ZS3_EAUTH;
		break;
	case 409: /* ConditionalRequestConflict, OperationAborted: try again */
	case 429: case 500: case 502: case 503: case 504:
		st = ZS3_ETRANSIENT;
		break;
	case 301: case 307: case 308:
		return zs3_fail(ZS3_EINVAL,
				"%s: HTTP %ld %s: the bucket lives in another region or endpoint; "
				"set the region", what, r->http, code);
	case 400:
		if (!strcmp(code, "RequestTimeout") || !strcmp(code, "BadDigest") ||
		    !strcmp(code, "IncompleteBody"))
			st = ZS3_ETRANSIENT;
		else if (!strcmp(code, "ExpiredToken") || !strcmp(code, "InvalidToken") ||
			 !strcmp(code, "AuthorizationHeaderMalformed"))
			st = ZS3_EAUTH;
		else
			st = ZS3_EINVAL;
		break;
	default:
		st = r->http >= 500 && r->http != 501 ? ZS3_ETRANSIENT : ZS3_EIO;
		break;
	}
	return zs3_fail(st, "%s: HTTP %ld%s%s%s%s", what, r->http, *code ? " " : "", code,
			*msg ? ": " : "", msg);
}

/* Runs one request. Returns OK for 2xx; sets the error detail otherwise. */
static zs3_status perform(struct s3_store *ss, struct request *r, bool conditional)
{
	char url[4096], what[ZS3_KEY_MAX + 64], cerr[CURL_ERROR_SIZE] = "";
	char *enc_key = NULL;
	struct curl_slist *h = r->headers, *tmp;
	zs3_status st;
	CURLcode rc;
	CURL *c;

	snprintf(what, sizeof(what), "S3 %s %s%s%s", r->method, r->key ? "'" : "bucket ",
		 r->key ? r->key : ss->bucket, r->key ? "'" : "");
	if (r->key && !(enc_key = uri_encode(r->key, true)))
		return zs3_fail(ZS3_ENOMEM, "%s: out of memory", what);
	snprintf(url, sizeof(url), "%s%s/%s%s%s", ss->origin, ss->path_prefix,
		 enc_key ? enc_key : "", r->query ? "?" : "", r->query ? r->query : "");
	free(enc_key);

	/* curl 7.88's signer wants the payload hash header to be present. */
	if (!(tmp = curl_slist_append(h, "x-amz-content-sha256: UNSIGNED-PAYLOAD")))
		goto oom;
	h = tmp;
	if (ss->session_token) {
		char tok[4096];
		snprintf(tok, sizeof(tok), "x-amz-security-token: %s", ss->session_token);
		if (!(tmp = curl_slist_append(h, tok)))
			goto oom;
		h = tmp;
	}
	r->headers = h;

	c = take_handle(ss);
	if (!c)
		goto oom;
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	/* Keys may contain "." and ".." segments: never let curl squash them. */
	curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)ss->connect_timeout_ms);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, (long)ss->stall_timeout_s);
	curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, r->headers);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	if (ss->ca_file)
		curl_easy_setopt(c, CURLOPT_CAINFO, ss->ca_file);
	if (ss->access_key) {
		curl_easy_setopt(c, CURLOPT_AWS_SIGV4, ss->sigv4);
		curl_easy_setopt(c, CURLOPT_USERNAME, ss->access_key);
		curl_easy_setopt(c, CURLOPT_PASSWORD, ss->secret_key);
	}
	if (!strcmp(r->method, "PUT")) {
		curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(c, CURLOPT_READDATA, r);
		curl_easy_setopt(c, CURLOPT_SEEKFUNCTION, on_seek);
		curl_easy_setopt(c, CURLOPT_SEEKDATA, r);
		curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)r->body_len);
		/* Send large bodies without waiting for "100 Continue". (An empty
		 * "Expect:" header would suppress it, but curl 7.88 signs that
		 * header without sending it, and the signature breaks.) */
		curl_easy_setopt(c, CURLOPT_EXPECT_100_TIMEOUT_MS, 0L);
	} else if (!strcmp(r->method, "HEAD")) {
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	} else if (!strcmp(r->method, "DELETE")) {
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "DELETE");
	}

	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->http);
	/* Forget the credentials before the handle goes back to the pool. */
	curl_easy_setopt(c, CURLOPT_USERNAME, NULL);
	curl_easy_setopt(c, CURLOPT_PASSWORD, NULL);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
	/* RGW answers some errors (403, 404) to a PUT without reading its body;
	 * the unread bytes would prefix the next request on that connection. */
	give_handle(ss, c, rc == CURLE_OK && (r->http < 300 || !r->body_len));

	if (r->overflow)
		st = zs3_fail(ZS3_ENOMEM, "%s: out of memory for the response body", what);
	else if (rc != CURLE_OK)
		st = curl_status(rc, what, cerr);
	else if (r->http >= 200 && r->http < 300)
		st = ZS3_OK;
	else
		st = http_status(r, what, conditional);
	if (st != ZS3_OK)
		zs3_log(ZS3_LOG_DEBUG, "%s", zs3_last_error());
	return st;
oom:
	return zs3_fail(ZS3_ENOMEM, "%s: out of memory", what);
}

static void request_done(struct request *r)
{
	curl_slist_free_all(r->headers);
	zs3_buf_free(&r->errbuf);
}

static zs3_status add_header(struct request *r, const char *fmt, const char *value)
{
	char line[512];
	struct curl_slist *t;
	snprintf(line, sizeof(line), fmt, value);
	t = curl_slist_append(r->headers, line);
	if (!t)
		return zs3_fail(ZS3_ENOMEM, "out of memory");
	r->headers = t;
	return ZS3_OK;
}

/* ---- operations ---- */

static zs3_status s3_put(struct zs3_store *s, const char *key, const void *data, size_t len,
			 enum zs3_put_cond cond, const char *etag, struct zs3_meta *out)
{
	struct s3_store *ss = (struct s3_store *)s;
	struct request r = { .method = "PUT", .key = key, .body = data, .body_len = len };
	unsigned char md5[16];
	char md5_b64[32];
	zs3_status st;

	if (len <= ss->md5_max_bytes || cond != ZS3_PUT_ALWAYS) {
		zs3_md5_raw(data, len, md5);
		EVP_EncodeBlock((unsigned char *)md5_b64, md5, 16); /* 24 chars + NUL */
		if ((st = add_header(&r, "Content-MD5: %s", md5_b64)))
			goto done;
	}
	if ((st = add_header(&r, "%s", "Content-Type: application/octet-stream")))
		goto done;
	if (cond == ZS3_PUT_IF_ABSENT)
		st = add_header(&r, "%s", "If-None-Match: *");
	else if (cond == ZS3_PUT_IF_MATCH)
		st = add_header(&r, "If-Match: %s", etag);
	if (st || (st = perform(ss, &r, cond != ZS3_PUT_ALWAYS)))
		goto done;
	out->size = len;
	if (r.etag[0])
		snprintf(out->etag, sizeof(out->etag), "%s", r.etag);
	else /* a server that sends no ETag: ours is the MD5, by contract */
		zs3_md5_hex(data, len, out->etag);
	out->mtime_ms = r.mtime_ms;
done:
	zs3_count(s, ZS3_OP_PUT, st, st == ZS3_OK ? len : 0, 0);
	request_done(&r);
	return st;
}

/* An ETag that is a plain MD5 (single-part upload) can verify a whole read. */
static bool etag_is_md5(const char *etag)
{
	size_t n = strlen(etag);
	if (n != 32)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)etag[i]))
			return false;
	return true;
}

static zs3_status s3_get(struct zs3_store *s, const char *key, struct zs3_range range,
			 struct zs3_buf *buf, struct zs3_meta *meta)
{
	struct s3_store *ss = (struct s3_store *)s;
	struct request r = { .method = "GET", .key = key, .sink = buf };
	char rng[96];
	zs3_status st = ZS3_OK;

	if (range.kind == ZS3_RANGE_FROM) {
		if (range.length == UINT64_MAX || range.offset + range.length < range.offset)
			snprintf(rng, sizeof(rng), "Range: bytes=%llu-",
				 (unsigned long long)range.offset);
		else
			snprintf(rng, sizeof(rng), "Range: bytes=%llu-%llu",
				 (unsigned long long)range.offset,
				 (unsigned long long)(range.offset + range.length - 1));
		st = add_header(&r, "%s", rng);
	} else if (range.kind == ZS3_RANGE_SUFFIX) {
		snprintf(rng, sizeof(rng), "Range: bytes=-%llu", (unsigned long long)range.length);
		st = add_header(&r, "%s", rng);
	}
	if (st || (st = perform(ss, &r, false)))
		goto done;
	if (r.have_length && r.content_length != buf->len) {
		st = zs3_fail(ZS3_ETRANSIENT, "S3 GET '%s': got %zu of %llu bytes", key, buf->len,
			      (unsigned long long)r.content_length);
		goto done;
	}
	meta->size = r.have_range_total ? r.range_total : buf->len;
	snprintf(meta->etag, sizeof(meta->etag), "%s", r.etag);
	meta->mtime_ms = r.mtime_ms;
	if (r.http == 200 && range.kind != ZS3_RANGE_ALL) {
		/* A server that ignores Range sends the whole object: cut it. */
		uint64_t off = 0, n = buf->len;
		if (range.kind == ZS3_RANGE_FROM) {
			if (range.offset >= buf->len) {
				st = zs3_fail(ZS3_ERANGE, "S3 GET '%s': offset past the end", key);
				goto done;
			}
			off = range.offset;
			n = buf->len - off < range.length ? buf->len - off : range.length;
		} else if (range.length < buf->len) {
			off = buf->len - range.length;
			n = range.length;
		}
		memmove(buf->data, buf->data + off, n);
		buf->len = n;
	}
	if (range.kind == ZS3_RANGE_ALL && r.http == 200 && buf->len <= ss->md5_max_bytes &&
	    etag_is_md5(r.etag)) {
		char got[33];
		zs3_md5_hex(buf->data, buf->len, got);
		if (strcasecmp(got, r.etag) != 0)
			st = zs3_fail(ZS3_ECORRUPT, "S3 GET '%s': body MD5 %s does not match ETag %s",
				      key, got, r.etag);
	}
done:
	zs3_count(s, ZS3_OP_GET, st, 0, r.received);
	if (st)
		buf->len = 0;
	request_done(&r);
	return st;
}

static zs3_status s3_head(struct zs3_store *s, const char *key, struct zs3_meta *meta)
{
	struct s3_store *ss = (struct s3_store *)s;
	struct request r = { .method = "HEAD", .key = key };
	zs3_status st = perform(ss, &r, false);
	if (st == ZS3_OK) {
		meta->size = r.content_length;
		snprintf(meta->etag, sizeof(meta->etag), "%s", r.etag);
		meta->mtime_ms = r.mtime_ms;
	}
	zs3_count(s, ZS3_OP_HEAD, st, 0, 0);
	request_done(&r);
	return st;
}

static zs3_status s3_del(struct zs3_store *s, const char *key)
{
	struct s3_store *ss = (struct s3_store *)s;
	struct request r = { .method = "DELETE", .key = key };
	zs3_status st = perform(ss, &r, false);
	if (st == ZS3_ENOTFOUND)
		st = ZS3_OK; /* idempotent, as S3 itself */
	zs3_count(s, ZS3_OP_DELETE, st, 0, 0);
	request_done(&r);
	return st;
}

static zs3_status s3_list(struct zs3_store *s, const char *prefix, const char *start_after,
			  unsigned max_keys, struct zs3_list *out)
{
	struct s3_store *ss = (struct s3_store *)s;
	struct zs3_buf body = { 0 };
	struct request r = { .method = "GET", .sink = &body };
	char *ep = uri_encode(prefix, false), *ea = start_after ? uri_encode(start_after, false) : NULL;
	char *query = NULL;
	size_t cap = 0;
	zs3_status st;

	/* Parameters sorted by name: SigV4 signs the canonical order. */
	if (!ep || (start_after && !ea) ||
	    asprintf(&query, "list-type=2&max-keys=%u&prefix=%s%s%s", max_keys, ep,
		     ea ? "&start-after=" : "", ea ? ea : "") < 0) {
		query = NULL;
		st = zs3_fail(ZS3_ENOMEM, "out of memory");
		goto done;
	}
	r.query = query;
	if ((st = perform(ss, &r, false)))
		goto done;
	st = zs3_xml_parse_list((const char *)body.data, body.len, out, &cap);
	if (st == ZS3_OK && out->truncated && out->count == 0)
		st = zs3_fail(ZS3_EIO, "S3 LIST: truncated listing with no keys");
done:
	if (st)
		zs3_list_free(out);
	zs3_count(s, ZS3_OP_LIST, st, 0, r.received);
	request_done(&r);
	zs3_buf_free(&body);
	free(query);
	free(ep);
	free(ea);
	return st;
}

static void free_secret(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

static void s3_close(struct zs3_store *s)
{
	struct s3_store *ss = (struct s3_store *)s;
	for (int i = 0; i < ss->pooled; i++)
		curl_easy_cleanup(ss->pool[i]);
	pthread_mutex_destroy(&ss->pool_lock);
	free(ss->origin);
	free(ss->path_prefix);
	free(ss->bucket);
	free(ss->region);
	free(ss->access_key);
	free_secret(ss->secret_key);
	free_secret(ss->session_token);
	free(ss->ca_file);
	free(ss);
}

static const struct zs3_store_ops s3_ops = {
	.put = s3_put,
	.get = s3_get,
	.head = s3_head,
	.del = s3_del,
	.list = s3_list,
	.close = s3_close,
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;
static void init_curl(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static bool valid_bucket(const char *b)
{
	size_t n = strlen(b);
	if (n < 3 || n > 63)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(islower((unsigned char)b[i]) || isdigit((unsigned char)b[i]) || b[i] == '-' ||
		      b[i] == '.' || b[i] == '_'))
			return false;
	return true;
}

/* Parses the endpoint into origin (+ bucket host for virtual addressing). */
static zs3_status parse_endpoint(struct s3_store *ss, const struct zs3_s3_config *cfg,
				 bool *path_style)
{
	char default_ep[256];
	const char *ep = cfg->endpoint;
	char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL;
	CURLU *u = curl_url();
	zs3_status st = ZS3_OK;

	if (!u)
		return zs3_fail(ZS3_ENOMEM, "out of memory");
	if (!ep) {
		snprintf(default_ep, sizeof(default_ep), "https://s3.%s.amazonaws.com", ss->region);
		ep = default_ep;
	}
	if (curl_url_set(u, CURLUPART_URL, ep, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !*host) {
		st = zs3_fail(ZS3_EINVAL, "S3 endpoint '%s' is not a valid URL (want http[s]://host[:port])",
			      ep);
		goto done;
	}
	if (strcmp(scheme, "https") && strcmp(scheme, "http")) {
		st = zs3_fail(ZS3_EINVAL, "S3 endpoint '%s': scheme must be http or https", ep);
		goto done;
	}
	if (!strcmp(scheme, "http") && !cfg->allow_http) {
		st = zs3_fail(ZS3_EINVAL,
			      "S3 endpoint '%s' is plain HTTP; refusing it unless allow_http is set "
			      "(AWS_ALLOW_HTTP=true)", ep);
		goto done;
	}
	if (curl_url_get(u, CURLUPART_PATH, &path, 0) == CURLUE_OK && strcmp(path, "/") &&
	    *path) {
		st = zs3_fail(ZS3_EINVAL, "S3 endpoint '%s' must not have a path", ep);
		goto done;
	}
	if (curl_url_get(u, CURLUPART_PORT, &port, 0) != CURLUE_OK)
		port = NULL;
	*path_style = cfg->addressing == ZS3_ADDR_PATH ||
		      (cfg->addressing == ZS3_ADDR_AUTO && cfg->endpoint != NULL);
	if (*path_style)
		st = asprintf(&ss->origin, "%s://%s%s%s", scheme, host, port ? ":" : "",
			      port ? port : "") < 0 ? ZS3_ENOMEM : ZS3_OK;
	else
		st = asprintf(&ss->origin, "%s://%s.%s%s%s", scheme, ss->bucket, host,
			      port ? ":" : "", port ? port : "") < 0 ? ZS3_ENOMEM : ZS3_OK;
	if (st) {
		ss->origin = NULL;
		st = zs3_fail(st, "out of memory");
	}
done:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_free(path);
	curl_url_cleanup(u);
	return st;
}

static char *dup_or_null(const char *s, bool *oom)
{
	char *d;
	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*oom = true;
	return d;
}

zs3_status zs3_open_s3_raw(const struct zs3_s3_config *cfg, struct zs3_store **out)
{
	struct s3_store *ss;
	bool oom = false, path_style;
	zs3_status st;

	*out = NULL;
	pthread_once(&curl_once, init_curl);
	if (curl_init_rc != CURLE_OK)
		return zs3_fail(ZS3_EIO, "libcurl failed to initialise: %s",
				curl_easy_strerror(curl_init_rc));
	if (!cfg->access_key != !cfg->secret_key)
		return zs3_fail(ZS3_EINVAL, "S3 credentials need both an access key and a secret key");
	ss = calloc(1, sizeof(*ss));
	if (!ss)
		return zs3_fail(ZS3_ENOMEM, "out of memory");
	zs3_store_init(&ss->base, &s3_ops, NULL);
	pthread_mutex_init(&ss->pool_lock, NULL);
	ss->bucket = dup_or_null(cfg->bucket ? cfg->bucket : "slatedb", &oom);
	ss->region = dup_or_null(cfg->region ? cfg->region : "us-east-1", &oom);
	ss->access_key = dup_or_null(cfg->access_key, &oom);
	ss->secret_key = dup_or_null(cfg->secret_key, &oom);
	ss->session_token = dup_or_null(cfg->session_token, &oom);
	ss->ca_file = dup_or_null(cfg->ca_file, &oom);
	if (oom) {
		st = zs3_fail(ZS3_ENOMEM, "out of memory");
		goto fail;
	}
	if (!valid_bucket(ss->bucket)) {
		st = zs3_fail(ZS3_EINVAL, "S3 bucket name '%s' is not valid", ss->bucket);
		goto fail;
	}
	for (const char *p = ss->region; *p; p++)
		if (!(isalnum((unsigned char)*p) || *p == '-')) {
			st = zs3_fail(ZS3_EINVAL, "S3 region '%s' is not valid", ss->region);
			goto fail;
		}
	if ((st = parse_endpoint(ss, cfg, &path_style)))
		goto fail;
	if (path_style) {
		if (asprintf(&ss->path_prefix, "/%s", ss->bucket) < 0) {
			ss->path_prefix = NULL;
			st = zs3_fail(ZS3_ENOMEM, "out of memory");
			goto fail;
		}
	} else if (!(ss->path_prefix = strdup(""))) {
		st = zs3_fail(ZS3_ENOMEM, "out of memory");
		goto fail;
	}
	snprintf(ss->sigv4, sizeof(ss->sigv4), "aws:amz:%s:s3", ss->region);
	ss->connect_timeout_ms = cfg->connect_timeout_ms ? cfg->connect_timeout_ms : 3000;
	ss->stall_timeout_s = cfg->stall_timeout_ms ? (cfg->stall_timeout_ms + 999) / 1000 : 10;
	ss->md5_max_bytes = cfg->md5_max_bytes ? cfg->md5_max_bytes : 1024 * 1024;
	snprintf(ss->base.desc, sizeof(ss->base.desc), "s3://%s at %s", ss->bucket, ss->origin);
	*out = &ss->base;
	return ZS3_OK;
fail:
	s3_close(&ss->base);
	return st;
}

zs3_status zs3_open_s3(const struct zs3_s3_config *cfg, struct zs3_store **out)
{
	struct zs3_retry_policy p = {
		.max_attempts = cfg->max_attempts ? cfg->max_attempts : 6,
		.base_delay_ms = 50,
		.max_delay_ms = 2000,
	};
	struct zs3_store *s;
	zs3_status st = zs3_open_s3_raw(cfg, &s);
	if (st == ZS3_OK && cfg->prefix && *cfg->prefix)
		st = zs3_open_prefix(s, cfg->prefix, &s);
	if (st == ZS3_OK)
		st = zs3_open_retry(s, &p, &s);
	*out = st == ZS3_OK ? s : NULL;
	return st;
}
