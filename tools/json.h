/* Just enough JSON output for --json: strings escaped safely whatever bytes
 * they hold (a peer chose them), numbers, and commas handled by the caller. */
#ifndef KITH_TOOLS_JSON_H
#define KITH_TOOLS_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Writes s[0..len) as a JSON string. Control characters are escaped and
 * invalid UTF-8 becomes U+FFFD, so the output is always valid JSON. */
void json_string(FILE *f, const char *s, size_t len);
/* json_string() of a NUL-terminated string. */
void json_cstring(FILE *f, const char *s);
/* "key": with a leading comma unless first. */
void json_key(FILE *f, const char *key, int first);

#endif
