/*
 * s3/s3_xml.c - expat handlers for ListBucketResult and Error documents.
 * Elements are matched by local name at a known depth, so namespaces and
 * unknown elements are ignored.
 */
#include <expat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "s3_xml.h"

struct text {
	char *s;
	size_t len, cap;
	bool oom;
};

static void text_add(struct text *t, const char *s, int n)
{
	if (t->oom)
		return;
	if (t->len + (size_t)n + 1 > t->cap) {
		size_t cap = t->cap ? t->cap : 128;
		char *p;
		while (cap < t->len + (size_t)n + 1)
			cap *= 2;
		p = realloc(t->s, cap);
		if (!p) {
			t->oom = true;
			return;
		}
		t->s = p;
		t->cap = cap;
	}
	memcpy(t->s + t->len, s, (size_t)n);
	t->len += (size_t)n;
	t->s[t->len] = '\0';
}

static const char *local_name(const char *name)
{
	const char *colon = strrchr(name, ':');
	return colon ? colon + 1 : name;
}

/* ---- ListBucketResult ---- */

struct list_ctx {
	int depth;
	bool in_contents;
	struct text text;
	char *key;
	size_t key_len;
	uint64_t size;
	char etag[ZS3_ETAG_MAX];
	int64_t mtime_ms;
	struct zs3_list *out;
	size_t *cap;
	zs3_status st;
};

static void list_start(void *ud, const char *name, const char **attrs)
{
	struct list_ctx *c = ud;
	(void)attrs;
	c->depth++;
	c->text.len = 0;
	if (c->text.s)
		c->text.s[0] = '\0';
	if (c->depth == 2 && !strcmp(local_name(name), "Contents")) {
		c->in_contents = true;
		free(c->key);
		c->key = NULL;
		c->size = 0;
		c->etag[0] = '\0';
		c->mtime_ms = 0;
	}
}

static void list_end(void *ud, const char *name)
{
	struct list_ctx *c = ud;
	const char *n = local_name(name);
	const char *t = c->text.s ? c->text.s : "";
	if (c->depth == 3 && c->in_contents) {
		if (!strcmp(n, "Key")) {
			free(c->key);
			c->key = strndup(t, c->text.len);
			c->key_len = c->text.len;
			if (!c->key)
				c->st = ZS3_ENOMEM;
		} else if (!strcmp(n, "Size")) {
			c->size = strtoull(t, NULL, 10);
		} else if (!strcmp(n, "ETag")) {
			const char *e = t;
			size_t len = c->text.len;
			if (len >= 2 && e[0] == '"' && e[len - 1] == '"') {
				e++;
				len -= 2;
			}
			snprintf(c->etag, sizeof(c->etag), "%.*s", (int)len, e);
		} else if (!strcmp(n, "LastModified")) {
			c->mtime_ms = zs3_parse_iso8601_ms(t);
		}
	} else if (c->depth == 2 && !strcmp(n, "Contents")) {
		c->in_contents = false;
		if (c->key && c->st == ZS3_OK)
			c->st = zs3_list_push(c->out, c->cap, c->key, c->key_len, c->size, c->etag,
					      c->mtime_ms);
	} else if (c->depth == 2 && !strcmp(n, "IsTruncated")) {
		c->out->truncated = !strcmp(t, "true");
	}
	c->text.len = 0;
	c->depth--;
}

static void collect_text(void *ud, const char *s, int n)
{
	text_add(&((struct list_ctx *)ud)->text, s, n);
}

zs3_status zs3_xml_parse_list(const char *xml, size_t len, struct zs3_list *out, size_t *cap)
{
	struct list_ctx c = { .out = out, .cap = cap };
	XML_Parser p = XML_ParserCreate(NULL);
	zs3_status st = ZS3_OK;
	if (!p)
		return zs3_fail(ZS3_ENOMEM, "out of memory parsing a listing");
	XML_SetUserData(p, &c);
	XML_SetElementHandler(p, list_start, list_end);
	XML_SetCharacterDataHandler(p, collect_text);
	if (XML_Parse(p, xml, (int)len, 1) != XML_STATUS_OK)
		st = zs3_fail(ZS3_EIO, "malformed ListObjectsV2 response: %s at line %lu",
			      XML_ErrorString(XML_GetErrorCode(p)),
			      (unsigned long)XML_GetCurrentLineNumber(p));
	else if (c.st)
		st = zs3_fail(c.st, "out of memory parsing a listing");
	else if (c.text.oom)
		st = zs3_fail(ZS3_ENOMEM, "out of memory parsing a listing");
	XML_ParserFree(p);
	free(c.key);
	free(c.text.s);
	return st;
}

/* ---- Error ---- */

struct err_ctx {
	int depth;
	struct text text;
	char *code, *msg;
	size_t code_cap, msg_cap;
};

static void err_start(void *ud, const char *name, const char **attrs)
{
	struct err_ctx *c = ud;
	(void)name;
	(void)attrs;
	c->depth++;
	c->text.len = 0;
}

static void err_end(void *ud, const char *name)
{
	struct err_ctx *c = ud;
	const char *n = local_name(name);
	const char *t = c->text.s ? c->text.s : "";
	if (c->depth == 2 && !strcmp(n, "Code"))
		snprintf(c->code, c->code_cap, "%s", t);
	else if (c->depth == 2 && !strcmp(n, "Message"))
		snprintf(c->msg, c->msg_cap, "%s", t);
	c->text.len = 0;
	if (c->text.s)
		c->text.s[0] = '\0';
	c->depth--;
}

static void err_text(void *ud, const char *s, int n)
{
	text_add(&((struct err_ctx *)ud)->text, s, n);
}

void zs3_xml_parse_error(const char *xml, size_t len, char *code, size_t code_cap, char *msg,
			 size_t msg_cap)
{
	struct err_ctx c = { .code = code, .msg = msg, .code_cap = code_cap, .msg_cap = msg_cap };
	XML_Parser p;
	code[0] = msg[0] = '\0';
	if (!len || !(p = XML_ParserCreate(NULL)))
		return;
	XML_SetUserData(p, &c);
	XML_SetElementHandler(p, err_start, err_end);
	XML_SetCharacterDataHandler(p, err_text);
	(void)XML_Parse(p, xml, (int)len, 1); /* a partial parse still yields what it saw */
	XML_ParserFree(p);
	free(c.text.s);
}

int64_t zs3_parse_iso8601_ms(const char *s)
{
	struct tm tm = { 0 };
	int ms = 0;
	char frac[16] = "";
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%15[.0-9]", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
		   &tm.tm_hour, &tm.tm_min, &tm.tm_sec, frac) < 6)
		return -1;
	if (frac[0] == '.') {
		for (int i = 1, scale = 100; i <= 3 && frac[i]; i++, scale /= 10)
			ms += (frac[i] - '0') * scale;
	}
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (int64_t)timegm(&tm) * 1000 + ms;
}
