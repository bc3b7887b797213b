/* The buffer, untrusted text made safe, words and times. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proto/error.h"
#include "proto/utf8.h"
#include "page_int.h"

#define REPLACEMENT "\xef\xbf\xbd" /* U+FFFD */
#define BUF_FIRST 4096

static size_t buf_max(const struct page_buf *b)
{
	return b->max ? b->max : PAGE_SIZE_MAX;
}

void page_buf_free(struct page_buf *b)
{
	size_t max = b->max;

	free(b->data);
	*b = (struct page_buf){.max = max};
}

void page_begin(struct page_buf *out)
{
	out->len = 0;
	out->err = 0;
	if (out->data)
		out->data[0] = 0;
}

int page_end(struct page_buf *out)
{
	int err = out->err;

	if (err == 0 && !out->data)
		page_put(out, "", 0);
	if (out->err) {
		err = out->err;
		page_buf_free(out);
	}
	return err;
}

/* Makes room for need bytes in all (need <= the cap + 1). */
static int grow(struct page_buf *b, size_t need)
{
	size_t cap = b->cap ? b->cap : BUF_FIRST;
	char *p;

	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	p = realloc(b->data, cap);
	if (!p) {
		b->err = -ENOMEM;
		return -ENOMEM;
	}
	b->data = p;
	b->cap = cap;
	return 0;
}

void page_put(struct page_buf *b, const char *s, size_t n)
{
	if (b->err)
		return;
	if (n > buf_max(b) - b->len) {
		b->err = KITH_ETOOBIG;
		return;
	}
	if ((b->len + n + 1 > b->cap || !b->data) && grow(b, b->len + n + 1) < 0)
		return;
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = 0;
}

void page_puts(struct page_buf *b, const char *s)
{
	page_put(b, s, strlen(s));
}

void page_putf(struct page_buf *b, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	/* only our own short formats come here: one that does not fit is
	 * our mistake, and is refused rather than cut */
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		if (!b->err)
			b->err = KITH_ETOOBIG;
		return;
	}
	page_put(b, tmp, (size_t)n);
}

/* Whether code point c may appear as itself: not a control character, nor
 * a bidirectional embedding, override or isolate. */
static bool shown(uint32_t c)
{
	if (c < 0x20 || (c >= 0x7f && c < 0xa0))
		return false;
	return !(c >= 0x202a && c <= 0x202e) && !(c >= 0x2066 && c <= 0x2069);
}

static const char *html_escape(uint32_t c)
{
	switch (c) {
	case '&':
		return "&amp;";
	case '<':
		return "&lt;";
	case '>':
		return "&gt;";
	case '"':
		return "&quot;";
	case '\'':
		return "&#39;";
	}
	return NULL;
}

/* < > & as \u escapes too, so that the JSON stays inert even inside
 * HTML; U+2028 and U+2029 for JavaScript parsers older than ES2019. */
static const char *json_escape(uint32_t c)
{
	switch (c) {
	case '"':
		return "\\\"";
	case '\\':
		return "\\\\";
	case '<':
		return "\\u003c";
	case '>':
		return "\\u003e";
	case '&':
		return "\\u0026";
	case 0x2028:
		return "\\u2028";
	case 0x2029:
		return "\\u2029";
	}
	return NULL;
}

void page_text(struct page_buf *b, const char *s, size_t size, enum page_esc esc)
{
	const uint8_t *p = (const uint8_t *)s;
	size_t n = strnlen(s, size), run = 0, len;

	/* Plain characters are copied in runs; each one replaced or escaped
	 * ends a run. */
	for (size_t i = 0; i < n; i += len) {
		uint32_t c = 0;
		const char *rep;

		len = proto_utf8_seq(p + i, n - i, &c);
		if (len == 0) {
			rep = REPLACEMENT;
			len = 1;
		} else if (c == '\t' || c == '\n' || c == '\r') {
			rep = " ";
		} else if (!shown(c)) {
			rep = REPLACEMENT;
		} else {
			rep = esc == PAGE_ESC_HTML ? html_escape(c) : json_escape(c);
		}
		if (rep) {
			page_put(b, s + run, i - run);
			page_puts(b, rep);
			run = i + len;
		}
	}
	page_put(b, s + run, n - run);
}

static bool url_plain(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-';
}

void page_url(struct page_buf *b, const char *s, size_t size)
{
	size_t n = strnlen(s, size);

	for (size_t i = 0; i < n; i++) {
		if (url_plain(s[i]))
			page_put(b, s + i, 1);
		else
			page_putf(b, "%%%02X", (unsigned char)s[i]);
	}
}

void page_id(struct page_buf *b, const char *s, size_t size)
{
	size_t n = strnlen(s, size);

	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		            (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';

		page_put(b, keep ? &s[i] : "_", 1);
	}
}

bool page_day(struct page_time *t, uint64_t at)
{
	time_t tt = (time_t)at;
	struct tm tm;

	memset(t, 0, sizeof(*t));
	/* a time_t too narrow for at (32 bits) reads as unknown too */
	if (at > PAGE_TIME_MAX || (uint64_t)tt != at || !gmtime_r(&tt, &tm))
		return false;
	return strftime(t->date, sizeof(t->date), "%Y-%m-%d", &tm) != 0 &&
	       strftime(t->iso, sizeof(t->iso), "%Y-%m-%dT%H:%M:%SZ", &tm) != 0 &&
	       strftime(t->text, sizeof(t->text), "%Y-%m-%d %H:%M:%S UTC", &tm) != 0;
}

bool page_time(struct page_time *t, uint64_t at)
{
	if (at == 0) {
		memset(t, 0, sizeof(*t));
		return false;
	}
	return page_day(t, at);
}

void page_duration(char *out, size_t size, uint64_t s)
{
	unsigned long long h = s / 3600, m = s % 3600 / 60, sec = s % 60;

	if (h && m)
		snprintf(out, size, "%lluh %llum", h, m);
	else if (h)
		snprintf(out, size, "%lluh", h);
	else if (m && sec)
		snprintf(out, size, "%llum %llus", m, sec);
	else if (m)
		snprintf(out, size, "%llum", m);
	else
		snprintf(out, size, "%llus", sec);
}

void page_age(char *out, size_t size, uint64_t now, uint64_t at)
{
	unsigned long long d = now - at;

	if (at > now)
		snprintf(out, size, "in the future");
	else if (d < 60)
		snprintf(out, size, "%llus ago", d);
	else if (d < 3600)
		snprintf(out, size, "%llum ago", d / 60);
	else if (d < 86400)
		snprintf(out, size, "%lluh ago", d / 3600);
	else
		snprintf(out, size, "%llud ago", d / 86400);
}
