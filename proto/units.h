/* Durations and sizes as admins write them: "500ms", "30s", "7d", "50G".
 * Used by the configuration, the command line and scope texts alike. */
#ifndef KITH_PROTO_UNITS_H
#define KITH_PROTO_UNITS_H

#include <stddef.h>
#include <stdint.h>

#include "limits.h"

/* "<digits><unit>", unit one of ms, s, m, h, d, at most
 * PROTO_DURATION_MAX_MS (3650d, proto/limits.h). text[0..len) is borrowed
 * and may hold any bytes, of any length: no input overflows. Returns 0 or
 * KITH_EVALUE, with a static phrase in *why (may be NULL). */
int proto_duration_parse(const char *text, size_t len, uint64_t *ms, const char **why);
/* "<digits>[K|M|G|T]", powers of 1024, from 1 byte to PROTO_SIZE_MAX
 * (1024T, proto/limits.h); as proto_duration_parse() otherwise. */
int proto_size_parse(const char *text, size_t len, uint64_t *bytes, const char **why);
/* Shortest exact text: 90000 -> "90s", 3600000 -> "1h". Returns 0 or
 * KITH_ETOOBIG when n is too small. */
int proto_duration_format(uint64_t ms, char *buf, size_t n);
/* Largest exact unit: 53687091200 -> "50G". */
int proto_size_format(uint64_t bytes, char *buf, size_t n);

#endif
