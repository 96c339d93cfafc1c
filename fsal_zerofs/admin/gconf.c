/* fsal_zerofs/admin/gconf.c - see gconf.h */
#include <ctype.h>
#include <errno.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gconf.h"

#define MAX_DEPTH 32    /* nested blocks */
#define MAX_INCLUDES 16 /* nested %include */
#define MAX_FILE (16u << 20)

struct lexer {
	const char *p, *end;
	const char *file;
	int line;
	char *err;
	size_t errlen;
	int includes;
};

static int perr(struct lexer *lx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int perr(struct lexer *lx, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(lx->err, lx->errlen, "%s:%d: %s", lx->file, lx->line, msg);
	return EINVAL;
}

static void skip_space(struct lexer *lx)
{
	while (lx->p < lx->end) {
		if (*lx->p == '\n') {
			lx->line++;
			lx->p++;
		} else if (isspace((unsigned char)*lx->p)) {
			lx->p++;
		} else if (*lx->p == '#') {
			while (lx->p < lx->end && *lx->p != '\n')
				lx->p++;
		} else {
			break;
		}
	}
}

static bool word_char(char c)
{
	return c && !isspace((unsigned char)c) && !strchr("{}=;,#\"'", c);
}

/* A bare word or a quoted string; malloc'd into *out. */
static int read_token(struct lexer *lx, char **out, bool *quoted)
{
	size_t cap = 64, n = 0;
	char *buf;
	*out = NULL;
	if (quoted)
		*quoted = false;
	if (lx->p >= lx->end)
		return perr(lx, "unexpected end of file");
	if (!(buf = malloc(cap)))
		return ENOMEM;
	char q = *lx->p;
	if (q == '"' || q == '\'') {
		int start_line = lx->line;
		lx->p++;
		for (;;) {
			if (lx->p >= lx->end) {
				free(buf);
				lx->line = start_line;
				return perr(lx, "unterminated quoted string");
			}
			char c = *lx->p++;
			if (c == q)
				break;
			if (c == '\n')
				lx->line++;
			if (c == '\\' && q == '"' && lx->p < lx->end &&
			    (*lx->p == '"' || *lx->p == '\\'))
				c = *lx->p++;
			if (n + 2 > cap) {
				char *b = realloc(buf, cap *= 2);
				if (!b) {
					free(buf);
					return ENOMEM;
				}
				buf = b;
			}
			buf[n++] = c;
		}
		if (quoted)
			*quoted = true;
	} else {
		while (lx->p < lx->end && word_char(*lx->p)) {
			if (n + 2 > cap) {
				char *b = realloc(buf, cap *= 2);
				if (!b) {
					free(buf);
					return ENOMEM;
				}
				buf = b;
			}
			buf[n++] = *lx->p++;
		}
		if (n == 0) {
			free(buf);
			return perr(lx, "expected a name or value, found '%c'", *lx->p);
		}
	}
	buf[n] = '\0';
	*out = buf;
	return 0;
}

static struct gconf_node *node_new(struct lexer *lx, char *name)
{
	struct gconf_node *n = calloc(1, sizeof(*n));
	if (!n || !(n->file = strdup(lx->file))) {
		free(n);
		return NULL;
	}
	n->name = name;
	n->line = lx->line;
	return n;
}

static int parse_include(struct lexer *lx, struct gconf_node ***tail);

/* Parses statements until '}' (depth > 0) or the end; appends to *tail. */
static int parse_list(struct lexer *lx, struct gconf_node ***tail, int depth)
{
	int e;
	for (;;) {
		skip_space(lx);
		if (lx->p >= lx->end)
			return depth ? perr(lx, "missing '}' at the end of the file") : 0;
		if (*lx->p == '}') {
			if (!depth)
				return perr(lx, "'}' without a block to close");
			lx->p++;
			return 0;
		}
		if (*lx->p == ';') { /* a stray ';' (e.g. after '}') */
			lx->p++;
			continue;
		}
		if (*lx->p == '%') {
			if ((e = parse_include(lx, tail)))
				return e;
			continue;
		}
		char *name;
		bool quoted;
		if ((e = read_token(lx, &name, &quoted)))
			return e;
		if (quoted) {
			free(name);
			return perr(lx, "a quoted string where a name should be");
		}
		skip_space(lx);
		struct gconf_node *n = node_new(lx, name);
		if (!n) {
			free(name);
			return ENOMEM;
		}
		**tail = n;
		*tail = &n->next;
		if (lx->p < lx->end && *lx->p == '{') {
			if (depth + 1 > MAX_DEPTH)
				return perr(lx, "blocks nested too deeply");
			lx->p++;
			struct gconf_node **ctail = &n->children;
			if ((e = parse_list(lx, &ctail, depth + 1)))
				return e;
			continue;
		}
		if (lx->p >= lx->end || *lx->p != '=')
			return perr(lx, "expected '=' or '{' after '%s'", name);
		lx->p++;
		/* value: items separated by commas, up to ';' (or a closing '}') */
		size_t len = 0;
		char *val = NULL;
		for (;;) {
			char *item;
			skip_space(lx);
			if ((e = read_token(lx, &item, NULL))) {
				free(val);
				return e;
			}
			size_t il = strlen(item);
			char *v = realloc(val, len + il + 3);
			if (!v) {
				free(item);
				free(val);
				return ENOMEM;
			}
			val = v;
			if (len) {
				memcpy(val + len, ", ", 2);
				len += 2;
			}
			memcpy(val + len, item, il + 1);
			len += il;
			free(item);
			skip_space(lx);
			if (lx->p < lx->end && *lx->p == ',') {
				lx->p++;
				continue;
			}
			break;
		}
		n->value = val;
		if (lx->p < lx->end && *lx->p == ';')
			lx->p++;
		else if (!(lx->p < lx->end && *lx->p == '}' && depth))
			return perr(lx, "expected ';' after the value of '%s'", name);
	}
}

static int read_whole(const char *path, char **text, size_t *len, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	size_t cap = 4096, n = 0;
	char *buf;
	if (!f) {
		int e = errno;
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(e));
		return e;
	}
	if (!(buf = malloc(cap))) {
		fclose(f);
		return ENOMEM;
	}
	for (;;) {
		if (n + 1 >= cap) {
			char *b = cap >= MAX_FILE ? NULL : realloc(buf, cap * 2);
			if (!b) {
				free(buf);
				fclose(f);
				snprintf(err, errlen, "%s: too large", path);
				return EFBIG;
			}
			buf = b;
			cap *= 2;
		}
		size_t got = fread(buf + n, 1, cap - n - 1, f);
		n += got;
		if (got == 0)
			break;
	}
	bool bad = ferror(f);
	fclose(f);
	if (bad) {
		free(buf);
		snprintf(err, errlen, "cannot read %s", path);
		return EIO;
	}
	buf[n] = '\0';
	if (memchr(buf, '\0', n)) {
		free(buf);
		snprintf(err, errlen, "%s: not a text file", path);
		return EINVAL;
	}
	*text = buf;
	*len = n;
	return 0;
}

static int parse_text(const char *text, size_t len, const char *file, int includes,
		      struct gconf_node ***tail, char *err, size_t errlen)
{
	struct lexer lx = { text, text + len, file, 1, err, errlen, includes };
	return parse_list(&lx, tail, 0);
}

static int parse_path(const char *path, int includes, struct gconf_node ***tail, char *err,
		      size_t errlen)
{
	char *text = NULL;
	size_t len = 0;
	int e = read_whole(path, &text, &len, err, errlen);
	if (e)
		return e;
	e = parse_text(text, len, path, includes, tail, err, errlen);
	free(text);
	return e;
}

/* %include "path" (ganesha also knows %url, which needs its rados plugin). */
static int parse_include(struct lexer *lx, struct gconf_node ***tail)
{
	const char *kw = "%include";
	size_t kl = strlen(kw);
	char *path, full[4096];
	int e;
	if ((size_t)(lx->end - lx->p) < kl || strncasecmp(lx->p, kw, kl) != 0 ||
	    (lx->p + kl < lx->end && !isspace((unsigned char)lx->p[kl])))
		return perr(lx, "unknown directive (only %%include is supported)");
	lx->p += kl;
	while (lx->p < lx->end && (*lx->p == ' ' || *lx->p == '\t'))
		lx->p++;
	if ((e = read_token(lx, &path, NULL)))
		return e;
	if (lx->includes + 1 > MAX_INCLUDES) {
		free(path);
		return perr(lx, "%%include nested too deeply (a loop?)");
	}
	if (path[0] == '/') {
		snprintf(full, sizeof(full), "%s", path);
	} else {
		char dir[4096];
		snprintf(dir, sizeof(dir), "%s", lx->file);
		snprintf(full, sizeof(full), "%s/%s", dirname(dir), path);
	}
	free(path);
	char inner[512];
	e = parse_path(full, lx->includes + 1, tail, inner, sizeof(inner));
	if (e)
		return perr(lx, "in %%include: %s", inner);
	return 0;
}

int gconf_parse_file(const char *path, struct gconf_node **out, char *err, size_t errlen)
{
	struct gconf_node **tail = out;
	*out = NULL;
	int e = parse_path(path, 0, &tail, err, errlen);
	if (e) {
		gconf_free(*out);
		*out = NULL;
	}
	return e;
}

void gconf_free(struct gconf_node *n)
{
	while (n) {
		struct gconf_node *next = n->next;
		gconf_free(n->children);
		if (n->value)
			explicit_bzero(n->value, strlen(n->value)); /* it may be a secret */
		free(n->value);
		free(n->name);
		free(n->file);
		free(n);
		n = next;
	}
}

const struct gconf_node *gconf_find(const struct gconf_node *list, const char *name)
{
	for (; list; list = list->next)
		if (!strcasecmp(list->name, name))
			return list;
	return NULL;
}
