/*
 * s3/s3_xml.h - the two S3 response documents we read: ListObjectsV2 results
 * and error bodies. Parsed with expat.
 */
#ifndef ZEROFS_S3_XML_H
#define ZEROFS_S3_XML_H

#include "store_int.h"

/* Appends the <Contents> of a ListBucketResult to out (entries capacity in
 * *cap) and sets out->truncated from <IsTruncated>. */
zs3_status zs3_xml_parse_list(const char *xml, size_t len, struct zs3_list *out, size_t *cap);

/* Extracts <Code> and <Message> of an <Error> document; empty strings if the
 * body is not one. */
void zs3_xml_parse_error(const char *xml, size_t len, char *code, size_t code_cap, char *msg,
			 size_t msg_cap);

/* "2026-11-23T20:40:28.123Z" -> ms since the epoch; -1 if malformed. */
int64_t zs3_parse_iso8601_ms(const char *s);

#endif
