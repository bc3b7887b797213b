/* Inside the alert module: the text it writes (cleaned fields, JSON, mail
 * headers and body) and the checks of contacts, in alert_text.c, used by
 * the queue and the channels in alert.c. Nothing here is for other
 * modules. */
#ifndef KITH_AGENT_MONITOR_ALERT_INT_H
#define KITH_AGENT_MONITOR_ALERT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "agent/core/log.h"

/* Bytes kept of each field of a message (cut at a character boundary). */
#define ALERT_SUBJECT_MAX 200
#define ALERT_TEXT_MAX 8192
#define ALERT_FIELD_MAX 512
#define ALERT_MAIL_ADDR_MAX 254

enum alert_channel {
	ALERT_MAIL,
	ALERT_WEBHOOK,
	ALERT_MATRIX,
	ALERT_NTFY,
};

/* A growing string, zero-initialised; after an allocation failure it only
 * remembers that (failed), so builders check once at the end. */
struct alert_buf {
	char *data;
	size_t len, cap;
	bool failed;
};

void alert_buf_add(struct alert_buf *b, const void *p, size_t n);
void alert_buf_str(struct alert_buf *b, const char *s);
/* For short pieces (under 256 bytes): dates, numbers, encoded words. */
LOG_PRINTF(2, 3) void alert_buf_printf(struct alert_buf *b, const char *fmt, ...);
/* Returns the string (owned by the caller, NUL-terminated, its length in
 * *len when len is not NULL) and empties b; NULL if anything failed. */
char *alert_buf_take(struct alert_buf *b, size_t *len);

/* Returns a copy of s (NULL reads as "", owned by the caller) in valid
 * UTF-8 (U+FFFD for bad bytes) of at most max bytes, cut at a character
 * boundary. One-line fields get spaces for control characters; multi-line
 * ones keep \n and \t and turn \r\n and \r into \n. NULL: out of memory. */
char *alert_clean(const char *s, size_t max, bool multiline);

/* s is from alert_clean(). _chars writes the inside of a JSON string, _str
 * the string with its quotes. */
void alert_json_chars(struct alert_buf *b, const char *s);
void alert_json_str(struct alert_buf *b, const char *s);
/* A one-line s from alert_clean() as a header value: as is when it is
 * printable ASCII, else RFC 2047 encoded words (UTF-8, base64) of whole
 * characters joined by sep ("\r\n " folds a mail header, " " for HTTP). */
void alert_header_text(struct alert_buf *b, const char *s, const char *sep);
/* "Date: ..." of RFC 5322 in UTC with its CRLF, English whatever the locale. */
void alert_mail_date(struct alert_buf *b, time_t now);
/* A multi-line text from alert_clean() with CRLF endings, a final CRLF and
 * no line over 900 bytes. Dot-stuffing is libcurl's. */
void alert_mail_body(struct alert_buf *b, const char *text);
/* Percent-encodes all but RFC 3986's unreserved characters. */
void alert_url_escape(struct alert_buf *b, const char *s);

bool alert_printable_ascii(const char *s);
/* Checks a plain address (see alert_contact_check()). Returns 0 or
 * KITH_EVALUE with a static phrase in *why. */
int alert_mail_addr_check(const char *s, const char **why);
/* Parses an http(s) URL. On success *https, *host and *path are set when
 * asked for (free the strings with curl_free()). Returns 0, KITH_EVALUE
 * (*why says why) or -ENOMEM. */
int alert_http_url_parse(const char *url, bool *https, char **host, char **path, const char **why);
/* The channel of contact and, in *rest, what its scheme leads to (the
 * address, the URL, the room). Returns as alert_contact_check(). */
int alert_contact_parse(const char *contact, enum alert_channel *ch, const char **rest,
                        const char **why);

#endif
