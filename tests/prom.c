/*
 * tests/prom.c - see prom.h.
 */
#include "prom.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct family {
	char *name, *type;
	bool help;
};

static bool err(struct prom *p, int line, const char *fmt, ...)
{
	va_list ap;
	char buf[512];
	int n;

	if (p->error)
		return false;
	n = snprintf(buf, sizeof(buf), "line %d: ", line);
	va_start(ap, fmt);
	vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
	va_end(ap);
	p->error = strdup(buf);
	return false;
}

static bool name_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}

static bool name_char(char c)
{
	return name_start(c) || (c >= '0' && c <= '9');
}

/* Length of a metric name at s (0 if none). */
static size_t name_len(const char *s)
{
	size_t n = 0;
	if (!name_start(s[0]))
		return 0;
	while (name_char(s[n]))
		n++;
	return n;
}

static struct family *find_family(struct family *f, size_t n, const char *name, size_t len)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(f[i].name) == len && !memcmp(f[i].name, name, len))
			return &f[i];
	return NULL;
}

static bool ends_with(const char *s, size_t len, const char *suffix)
{
	size_t sl = strlen(suffix);
	return len > sl && !memcmp(s + len - sl, suffix, sl);
}

static bool parse_value(const char *s, double *v)
{
	char *end;
	if (!strcmp(s, "+Inf")) {
		*v = INFINITY;
		return true;
	}
	if (!strcmp(s, "-Inf")) {
		*v = -INFINITY;
		return true;
	}
	if (!strcmp(s, "NaN")) {
		*v = NAN;
		return true;
	}
	*v = strtod(s, &end);
	return end != s && *end == '\0';
}

/* Checks {label="value",...} at s; sets *end past the closing brace. */
static bool parse_labels(const char *s, const char **end)
{
	const char *p = s + 1;
	if (*p == '}') {
		*end = p + 1;
		return true;
	}
	for (;;) {
		if (!(name_start(*p) && *p != ':'))
			return false;
		while (name_char(*p) && *p != ':')
			p++;
		if (*p++ != '=' || *p++ != '"')
			return false;
		while (*p && *p != '"') {
			if (*p == '\\') {
				p++;
				if (*p != '\\' && *p != '"' && *p != 'n')
					return false;
			}
			if (*p == '\n' || !*p)
				return false;
			p++;
		}
		if (*p++ != '"')
			return false;
		if (*p == '}') {
			*end = p + 1;
			return true;
		}
		if (*p++ != ',')
			return false;
	}
}

static void add(struct prom *p, const char *name, size_t nl, const char *labels, size_t ll,
		double v)
{
	if (p->n == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 256;
		p->s = realloc(p->s, p->cap * sizeof(*p->s));
	}
	p->s[p->n].name = strndup(name, nl);
	p->s[p->n].labels = strndup(labels, ll);
	p->s[p->n].value = v;
	p->n++;
}

/* Histograms: per series (labels without le), buckets non-decreasing and
 * the +Inf bucket equal to _count. */
static bool check_histograms(struct prom *p, struct family *f, size_t nf)
{
	for (size_t i = 0; i < nf; i++) {
		char bucket[256], count[256];
		if (strcmp(f[i].type, "histogram"))
			continue;
		snprintf(bucket, sizeof(bucket), "%s_bucket", f[i].name);
		snprintf(count, sizeof(count), "%s_count", f[i].name);
		for (size_t c = 0; c < p->n; c++) {
			if (strcmp(p->s[c].name, count))
				continue;
			double prev = -1, inf = -1;
			size_t ll = strlen(p->s[c].labels);
			for (size_t b = 0; b < p->n; b++) {
				const char *l = p->s[b].labels;
				if (strcmp(p->s[b].name, bucket) || strncmp(l, p->s[c].labels, ll) ||
				    strncmp(l + ll, ll ? ",le=\"" : "le=\"", ll ? 5 : 4))
					continue;
				if (p->s[b].value < prev)
					return err(p, 0, "%s{%s}: buckets are not cumulative", bucket, l);
				prev = p->s[b].value;
				if (strstr(l + ll, "le=\"+Inf\""))
					inf = p->s[b].value;
			}
			if (inf != p->s[c].value)
				return err(p, 0, "%s{%s}: +Inf bucket %g != _count %g", f[i].name,
					   p->s[c].labels, inf, p->s[c].value);
		}
	}
	return true;
}

bool prom_parse(const char *text, struct prom *p)
{
	struct family *fam = NULL;
	size_t nf = 0, cf = 0;
	int line = 0;
	const char *s = text;
	bool ok = true;

	memset(p, 0, sizeof(*p));
	while (ok && *s) {
		const char *eol = strchr(s, '\n');
		char buf[4096];
		size_t len;
		line++;
		if (!eol) {
			ok = err(p, line, "no newline at the end");
			break;
		}
		len = (size_t)(eol - s);
		if (len >= sizeof(buf)) {
			ok = err(p, line, "line too long");
			break;
		}
		memcpy(buf, s, len);
		buf[len] = '\0';
		s = eol + 1;
		if (!len)
			continue;
		if (buf[0] == '#') {
			char kind[8], *rest;
			size_t nl;
			if (strncmp(buf, "# HELP ", 7) && strncmp(buf, "# TYPE ", 7))
				continue; /* a plain comment */
			memcpy(kind, buf + 2, 4);
			kind[4] = '\0';
			rest = buf + 7;
			if (!(nl = name_len(rest)) || rest[nl] != ' ') {
				ok = err(p, line, "%s without a valid metric name", kind);
				break;
			}
			struct family *f = find_family(fam, nf, rest, nl);
			if (!f) {
				for (size_t i = 0; i < p->n; i++)
					if (!strncmp(p->s[i].name, rest, nl)) {
						const char *t = p->s[i].name + nl;
						if (!*t || !strcmp(t, "_bucket") || !strcmp(t, "_sum") ||
						    !strcmp(t, "_count")) {
							ok = err(p, line, "%s after samples of its family", kind);
							break;
						}
					}
				if (!ok)
					break;
				if (nf == cf) {
					cf = cf ? cf * 2 : 64;
					fam = realloc(fam, cf * sizeof(*fam));
				}
				f = &fam[nf++];
				f->name = strndup(rest, nl);
				f->type = NULL;
				f->help = false;
			}
			if (!strcmp(kind, "HELP")) {
				if (f->help) {
					ok = err(p, line, "a second HELP for %s", f->name);
					break;
				}
				f->help = true;
			} else {
				const char *t = rest + nl + 1;
				if (f->type) {
					ok = err(p, line, "a second TYPE for %s", f->name);
					break;
				}
				if (strcmp(t, "counter") && strcmp(t, "gauge") && strcmp(t, "histogram") &&
				    strcmp(t, "summary") && strcmp(t, "untyped")) {
					ok = err(p, line, "unknown TYPE \"%s\"", t);
					break;
				}
				f->type = strdup(t);
			}
			continue;
		}
		/* a sample */
		size_t nl = name_len(buf);
		const char *p2 = buf + nl, *labels = "", *lend = NULL;
		size_t ll = 0;
		double v;
		if (!nl) {
			ok = err(p, line, "not a sample: \"%s\"", buf);
			break;
		}
		if (*p2 == '{') {
			if (!parse_labels(p2, &lend)) {
				ok = err(p, line, "bad labels: \"%s\"", buf);
				break;
			}
			labels = p2 + 1;
			ll = (size_t)(lend - p2 - 2);
			p2 = lend;
		}
		if (*p2++ != ' ') {
			ok = err(p, line, "no space before the value: \"%s\"", buf);
			break;
		}
		char *sp = strchr(p2, ' '); /* an optional timestamp */
		if (sp)
			*sp = '\0';
		if (!parse_value(p2, &v)) {
			ok = err(p, line, "bad value \"%s\"", p2);
			break;
		}
		struct family *f = find_family(fam, nf, buf, nl);
		if (!f) {
			static const char *const suffixes[] = { "_bucket", "_sum", "_count" };
			for (int i = 0; i < 3 && !f; i++)
				if (ends_with(buf, nl, suffixes[i])) {
					f = find_family(fam, nf, buf, nl - strlen(suffixes[i]));
					if (f && (!f->type || strcmp(f->type, "histogram")))
						f = NULL;
				}
		}
		if (!f || !f->type || !f->help) {
			ok = err(p, line, "sample %.*s without HELP and TYPE before it", (int)nl, buf);
			break;
		}
		add(p, buf, nl, labels, ll, v);
	}
	if (ok)
		ok = check_histograms(p, fam, nf);
	for (size_t i = 0; i < nf; i++) {
		free(fam[i].name);
		free(fam[i].type);
	}
	free(fam);
	return ok;
}

void prom_free(struct prom *p)
{
	for (size_t i = 0; i < p->n; i++) {
		free(p->s[i].name);
		free(p->s[i].labels);
	}
	free(p->s);
	free(p->error);
	memset(p, 0, sizeof(*p));
}

double prom_value(const struct prom *p, const char *name, const char *labels, double missing)
{
	for (size_t i = 0; i < p->n; i++)
		if (!strcmp(p->s[i].name, name) && !strcmp(p->s[i].labels, labels))
			return p->s[i].value;
	return missing;
}

size_t prom_count(const struct prom *p, const char *name)
{
	size_t n = 0;
	for (size_t i = 0; i < p->n; i++)
		n += !strcmp(p->s[i].name, name);
	return n;
}
