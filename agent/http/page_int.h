/* Internals shared by the page module's files; not part of the API.
 *
 * page_text.c owns the buffer, the cleaning and escaping of untrusted
 * text, the words for verdicts and states, and the formatting of times;
 * page.c writes the HTML pages with them and page_json.c the JSON. */
#ifndef KITH_AGENT_HTTP_PAGE_INT_H
#define KITH_AGENT_HTTP_PAGE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "page.h"

/* 9999-12-31 23:59:59 UTC: later times are not shown. */
#define PAGE_TIME_MAX UINT64_C(253402300799)

/* Empties out for a render (its allocation is kept). */
void page_begin(struct page_buf *out);
/* Ends a render: 0, or the sticky error with out freed. */
int page_end(struct page_buf *out);

/* Appends s[0..n) (trusted: our own markup and numbers). Past the cap,
 * or out of memory, the buffer's error is set and later writes do
 * nothing. */
void page_put(struct page_buf *b, const char *s, size_t n);
void page_puts(struct page_buf *b, const char *s);
void page_putf(struct page_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

enum page_esc {
	PAGE_ESC_HTML, /* text or a quoted attribute value */
	PAGE_ESC_JSON, /* the inside of a JSON string */
};
/* Appends the untrusted text s, read up to its NUL or size bytes, cleaned
 * (page.h) and escaped as esc says. */
void page_text(struct page_buf *b, const char *s, size_t size, enum page_esc esc);
/* The same for a char array field: its size is the array's. */
#define PAGE_TEXT(b, field, esc) page_text((b), (field), sizeof(field), (esc))
/* Appends s (untrusted) as a path segment: A-Z a-z 0-9 and '-' as they
 * are, every other byte as %XX, so it is safe in an attribute too. */
void page_url(struct page_buf *b, const char *s, size_t size);
/* Appends s (untrusted) as part of an id: A-Z a-z 0-9 - _ . kept, any
 * other byte '_'. */
void page_id(struct page_buf *b, const char *s, size_t size);

/* A time in the forms the pages print. */
struct page_time {
	char date[11]; /* 2026-12-04 */
	char iso[21];  /* 2026-12-04T10:00:00Z */
	char text[24]; /* 2026-12-04 10:00:00 UTC */
};
/* false (and *t empty) for 0, which the model uses for unknown, and
 * times past PAGE_TIME_MAX. */
bool page_time(struct page_time *t, uint64_t at);
/* The same, 0 (1970-01-01) included: a day's start. */
bool page_day(struct page_time *t, uint64_t at);
/* A duration: "23h 10m", "50m 7s", "12s". */
void page_duration(char *out, size_t size, uint64_t s);
/* How long before now at was: "12s ago", "5m ago", "3h ago", "2d ago",
 * or "in the future" (a peer's clock ahead of ours). */
void page_age(char *out, size_t size, uint64_t now, uint64_t at);

#endif
