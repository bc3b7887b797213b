/* Showing records to people (one line each) and to scripts (JSON). Bodies
 * of known kinds are decoded; a body that does not decode is shown with the
 * reason, never trusted. */
#ifndef KITH_TOOLS_SHOW_H
#define KITH_TOOLS_SHOW_H

#include <stdint.h>
#include <stdio.h>

struct proto_record;

/* Header line matching show_record_line(). */
void show_record_header(FILE *f);
/* One line: author (short), kind, name, seq, expiry, and a body summary. */
void show_record_line(FILE *f, const struct proto_record *rec);
/* One JSON object with every envelope field and the decoded body. */
void show_record_json(FILE *f, const struct proto_record *rec);
/* Writes Unix time t as "2026-11-23T18:41:10Z" into buf (at least 21 bytes). */
void show_time(char *buf, size_t n, uint64_t t);

#endif
