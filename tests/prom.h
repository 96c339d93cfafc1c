/*
 * tests/prom.h - a strict reader of the Prometheus text exposition format
 * 0.0.4, for tests of the metrics endpoint: every line must be a comment
 * (HELP/TYPE) or a sample `name{label="value",...} value`; every sample's
 * family must have HELP and TYPE lines before it (once each); histogram
 * series must be cumulative with +Inf == _count.
 */
#ifndef ZEROFS_TEST_PROM_H
#define ZEROFS_TEST_PROM_H

#include <stdbool.h>
#include <stddef.h>

struct prom_sample {
	char *name;
	char *labels; /* as written between the braces ("" if none) */
	double value;
};

struct prom {
	struct prom_sample *s;
	size_t n, cap;
	char *error; /* first format error, with its line number; NULL if none */
};

/* Parses text; false (p->error says why) if it is not valid. p is always
 * filled with what was read and must be freed. */
bool prom_parse(const char *text, struct prom *p);
void prom_free(struct prom *p);
/* The value of the sample name{labels} (labels exactly as rendered), or
 * `missing` if there is none. */
double prom_value(const struct prom *p, const char *name, const char *labels, double missing);
/* How many samples are named name (any labels). */
size_t prom_count(const struct prom *p, const char *name);

#endif
