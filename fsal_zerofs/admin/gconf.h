/*
 * fsal_zerofs/admin/gconf.h - a reader for nfs-ganesha's configuration
 * syntax, enough to find an export's FSAL block:
 *
 *   # a comment, to the end of the line
 *   NAME { key = value; key = "quoted ; # value"; key = a, b, c; INNER { ... } }
 *   %include "other.conf"        (relative to the including file's directory)
 *
 * Block and key names are compared case-insensitively. Values are kept as
 * written (quotes removed; a list as its items joined by ", "). Errors name
 * the file and line.
 */
#ifndef ZEROFS_ADMIN_GCONF_H
#define ZEROFS_ADMIN_GCONF_H

#include <stddef.h>

struct gconf_node {
	char *name;
	char *value;                /* NULL for a block */
	struct gconf_node *children; /* a block's contents, in order */
	struct gconf_node *next;
	char *file;
	int line;
};

/* Parses path (and what it includes) into a list of top-level nodes. 0 or an
 * errno, with a message in err. */
int gconf_parse_file(const char *path, struct gconf_node **out, char *err, size_t errlen);
void gconf_free(struct gconf_node *n);

/* The first child of block (or in list, with block NULL: among list) named
 * name, of either kind; NULL if none. */
const struct gconf_node *gconf_find(const struct gconf_node *list, const char *name);

#endif
