/* The text of alerts (see alert_int.h): cleaning of what peers wrote,
 * JSON, mail headers and body, and the checks of contact URIs. Pure
 * functions, no I/O. */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <sodium.h>

#include "proto/error.h"
#include "proto/limits.h"
#include "proto/utf8.h"
#include "alert.h"
#include "alert_int.h"

#define MAIL_LOCAL_MAX 64
#define MAIL_LABEL_MAX 63
/* Body lines are cut at this many bytes (RFC 5322 allows 998). */
#define MAIL_LINE_MAX 900
/* Bytes of subject per RFC 2047 encoded word: 56 base64 characters, so a
 * word is 68 characters, under the limit of 75. */
#define ENCODED_WORD_BYTES 42
#define MATRIX_ROOM_MAX 255
#define NTFY_TOPIC_MAX 64

static int invalid(const char **why, const char *what)
{
	*why = what;
	return KITH_EVALUE;
}

void alert_buf_add(struct alert_buf *b, const void *p, size_t n)
{
	if (b->failed)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *data;

		while (cap < b->len + n + 1)
			cap *= 2;
		data = realloc(b->data, cap);
		if (!data) {
			b->failed = true;
			return;
		}
		b->data = data;
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void alert_buf_str(struct alert_buf *b, const char *s)
{
	alert_buf_add(b, s, strlen(s));
}

/* For short formatted pieces (dates, numbers, encoded words). */
void alert_buf_printf(struct alert_buf *b, const char *fmt, ...)
{
	char tmp[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		b->failed = true;
	else
		alert_buf_add(b, tmp, (size_t)n);
}

/* Takes the string out of b: NULL (and nothing held) if anything failed. */
char *alert_buf_take(struct alert_buf *b, size_t *len)
{
	char *s = b->data;

	if (!s)
		alert_buf_add(b, "", 0);
	if (b->failed) {
		free(b->data);
		*b = (struct alert_buf){0};
		return NULL;
	}
	s = b->data;
	if (len)
		*len = b->len;
	*b = (struct alert_buf){0};
	return s;
}

/* Copies s (NULL reads as "") into valid UTF-8 of at most max bytes, cut
 * at a character boundary. A one-line field gets spaces for control
 * characters; a multi-line one keeps \n and \t and turns \r\n and \r into
 * \n. Returns NULL when out of memory. */
char *alert_clean(const char *s, size_t max, bool multiline)
{
	struct alert_buf b = {0};
	size_t n = s ? strlen(s) : 0;

	for (size_t i = 0; i < n && !b.failed;) {
		unsigned char c = (unsigned char)s[i];
		size_t step = proto_utf8_seq((const uint8_t *)s + i, n - i, NULL);
		const char *out = s + i;
		size_t out_len = step;

		if (step == 0) {
			out = "\xef\xbf\xbd", out_len = 3, step = 1;
		} else if (c == '\r' && multiline) {
			out = "\n", out_len = 1;
			step = i + 1 < n && s[i + 1] == '\n' ? 2 : 1;
		} else if ((c < 0x20 || c == 0x7f) && !(multiline && (c == '\n' || c == '\t'))) {
			out = " ", out_len = 1;
		}
		if (b.len + out_len > max)
			break;
		alert_buf_add(&b, out, out_len);
		i += step;
	}
	return alert_buf_take(&b, NULL);
}

/* Writes s (valid UTF-8, from alert_clean()) escaped for the inside of a JSON
 * string. This is alert.c's own small escaper: tools/json.c writes to a
 * FILE and belongs to the CLI. */
void alert_json_chars(struct alert_buf *b, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			alert_buf_add(b, "\\", 1);
			alert_buf_add(b, s, 1);
		} else if (c == '\n') {
			alert_buf_str(b, "\\n");
		} else if (c == '\t') {
			alert_buf_str(b, "\\t");
		} else if (c < 0x20 || c == 0x7f) {
			alert_buf_printf(b, "\\u%04x", c);
		} else {
			alert_buf_add(b, s, 1);
		}
	}
}

void alert_json_str(struct alert_buf *b, const char *s)
{
	alert_buf_str(b, "\"");
	alert_json_chars(b, s);
	alert_buf_str(b, "\"");
}

static bool is_ascii_text(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			return false;
	return true;
}

/* Writes s (valid UTF-8, one line) as is when it is printable ASCII, else
 * as RFC 2047 encoded words ("=?UTF-8?B?...?=") of whole characters,
 * separated by sep. */
void alert_header_text(struct alert_buf *b, const char *s, const char *sep)
{
	size_t n = strlen(s);
	bool first = true;

	if (is_ascii_text(s)) {
		alert_buf_str(b, s);
		return;
	}
	for (size_t i = 0; i < n;) {
		char b64[sodium_base64_ENCODED_LEN(ENCODED_WORD_BYTES,
		                                   sodium_base64_VARIANT_ORIGINAL)];
		size_t take = 0;

		while (i + take < n) {
			size_t step =
			    proto_utf8_seq((const uint8_t *)s + i + take, n - i - take, NULL);
			if (step == 0 || take + step > ENCODED_WORD_BYTES)
				break;
			take += step;
		}
		if (take == 0)
			break; /* not from alert_clean(): cannot happen */
		sodium_bin2base64(b64, sizeof(b64), (const unsigned char *)s + i, take,
		                  sodium_base64_VARIANT_ORIGINAL);
		alert_buf_printf(b, "%s=?UTF-8?B?%s?=", first ? "" : sep, b64);
		first = false;
		i += take;
	}
}

/* Checks an address as kith writes it in MAIL FROM, RCPT TO, From: and To:
 * headers: local@domain, ASCII, nothing that could end or extend a header
 * or an SMTP command. '%' and '?' are refused too: in a mailto: URI they
 * would mean an escape or headers, which kith does not decode. */
int alert_mail_addr_check(const char *s, const char **why)
{
	const char *at = strchr(s, '@');
	size_t len = strlen(s), local;

	for (const char *p = s; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c <= 0x20 || c >= 0x7f)
			return invalid(why, "address has a space, control or non-ASCII character");
		if (strchr("<>()[]\\,;:\"%?", c))
			return invalid(why,
			               "address has a character not allowed (<>()[]\\,;:\"%?)");
	}
	if (len == 0 || len > ALERT_MAIL_ADDR_MAX)
		return invalid(why, "address is empty or longer than 254 bytes");
	if (!at || strchr(at + 1, '@'))
		return invalid(why, "address needs exactly one @");
	local = (size_t)(at - s);
	if (local == 0 || local > MAIL_LOCAL_MAX || s[0] == '.' || at[-1] == '.')
		return invalid(why, "address has a bad part before the @");
	for (size_t i = 1; i < local; i++)
		if (s[i] == '.' && s[i - 1] == '.')
			return invalid(why, "address has a bad part before the @");
	/* The domain: labels of letters, digits and '-', separated by dots. */
	for (const char *label = at + 1;;) {
		size_t n = strcspn(label, ".");
		if (n == 0 || n > MAIL_LABEL_MAX || label[0] == '-' || label[n - 1] == '-')
			return invalid(why, "address has a bad domain");
		for (size_t i = 0; i < n; i++) {
			unsigned char c = (unsigned char)label[i];
			if (!(c == '-' || (c >= '0' && c <= '9') ||
			      ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')))
				return invalid(why,
				               "address has a bad domain (write an IDN as xn--)");
		}
		if (!label[n])
			break;
		label += n + 1;
	}
	return 0;
}

bool alert_printable_ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			return false;
	return true;
}

/* Parses an http(s) URL. On success *host, *path (and *https) are set when
 * asked for (free *host and *path with curl_free()). */
int alert_http_url_parse(const char *url, bool *https, char **host, char **path, const char **why)
{
	CURLU *u;
	char *scheme = NULL, *h = NULL, *p = NULL;
	int rc = KITH_EVALUE;

	if (!alert_printable_ascii(url))
		return invalid(
		    why, "URL has a space, control or non-ASCII character (percent-encode it)");
	u = curl_url();
	if (!u)
		return -ENOMEM;
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PATH, &p, 0) != CURLUE_OK) {
		*why = "not a valid URL";
		goto done;
	}
	if (strcmp(scheme, "http") && strcmp(scheme, "https")) {
		*why = "URL must start with http:// or https://";
		goto done;
	}
	if (curl_url_get(u, CURLUPART_HOST, &h, 0) != CURLUE_OK || !h[0]) {
		*why = "URL has no host";
		goto done;
	}
	if (https)
		*https = !strcmp(scheme, "https");
	if (host)
		*host = h, h = NULL;
	if (path)
		*path = p, p = NULL;
	rc = 0;
done:
	curl_free(scheme);
	curl_free(h);
	curl_free(p);
	curl_url_cleanup(u);
	return rc;
}

/* ntfy:URL where URL's last path segment is the topic. */
static int ntfy_check(const char *url, const char **why)
{
	char *path = NULL;
	const char *topic;
	size_t n;
	int rc = alert_http_url_parse(url, NULL, NULL, &path, why);

	if (rc)
		return rc;
	topic = strrchr(path, '/');
	topic = topic ? topic + 1 : path;
	n = strlen(topic);
	if (n == 0 || n > NTFY_TOPIC_MAX ||
	    strspn(topic, "abcdefghijklmnopqrstuvwxyz"
	                  "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") != n) {
		*why = "ntfy URL must end with a topic (letters, digits, - and _, 64 at most)";
		rc = KITH_EVALUE;
	}
	curl_free(path);
	return rc;
}

/* !opaque:server, the room ID (not an alias: that would need a lookup). */
static int matrix_room_check(const char *room, const char **why)
{
	const char *colon = strchr(room, ':');

	if (room[0] != '!')
		return invalid(why, "matrix: needs a room ID (!id:server), not an alias");
	if (strlen(room) > MATRIX_ROOM_MAX || !alert_printable_ascii(room))
		return invalid(why,
		               "matrix room ID has spaces or control characters or is too long");
	if (!colon || colon == room + 1 || !colon[1] ||
	    strspn(colon + 1,
	           "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]") !=
	        strlen(colon + 1))
		return invalid(why, "matrix room ID must read !id:server");
	return 0;
}

/* Which channel a contact uses and what follows its scheme. */
int alert_contact_parse(const char *contact, enum alert_channel *ch, const char **rest,
                        const char **why)
{
	if (!contact || !contact[0])
		return invalid(why, "empty contact");
	if (strnlen(contact, PROTO_CONTACT_MAX + 1) > PROTO_CONTACT_MAX)
		return invalid(why, "contact longer than 511 bytes");
	if (!strncasecmp(contact, "mailto:", 7)) {
		*ch = ALERT_MAIL, *rest = contact + 7;
		return alert_mail_addr_check(*rest, why);
	}
	if (!strncasecmp(contact, "https://", 8) || !strncasecmp(contact, "http://", 7)) {
		*ch = ALERT_WEBHOOK, *rest = contact;
		return alert_http_url_parse(*rest, NULL, NULL, NULL, why);
	}
	if (!strncasecmp(contact, "matrix:", 7)) {
		*ch = ALERT_MATRIX, *rest = contact + 7;
		return matrix_room_check(*rest, why);
	}
	if (!strncasecmp(contact, "ntfy:", 5)) {
		*ch = ALERT_NTFY, *rest = contact + 5;
		return ntfy_check(*rest, why);
	}
	*why = "contact must start with mailto:, https://, http://, matrix: or ntfy:";
	return KITH_EVALUE;
}

int alert_contact_check(const char *contact, const char **why)
{
	enum alert_channel ch;
	const char *rest, *ignored;

	return alert_contact_parse(contact, &ch, &rest, why ? why : &ignored);
}

/* Date: of RFC 5322 in UTC, with English names whatever the locale. */
void alert_mail_date(struct alert_buf *b, time_t now)
{
	static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	struct tm tm;

	if (!gmtime_r(&now, &tm)) {
		b->failed = true;
		return;
	}
	alert_buf_printf(b, "Date: %s, %02d %s %04d %02d:%02d:%02d +0000\r\n", days[tm.tm_wday % 7],
	                 tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour,
	                 tm.tm_min, tm.tm_sec);
}

/* The text with CRLF line endings and no line over MAIL_LINE_MAX bytes. */
void alert_mail_body(struct alert_buf *b, const char *text)
{
	size_t n = strlen(text), line = 0;

	for (size_t i = 0; i < n;) {
		size_t step =
		    text[i] == '\n' ? 1 : proto_utf8_seq((const uint8_t *)text + i, n - i, NULL);

		if (text[i] == '\n') {
			alert_buf_str(b, "\r\n");
			line = 0;
		} else {
			if (step == 0)
				step = 1; /* not from alert_clean(): cannot happen */
			if (line + step > MAIL_LINE_MAX) {
				alert_buf_str(b, "\r\n");
				line = 0;
			}
			alert_buf_add(b, text + i, step);
			line += step;
		}
		i += step;
	}
	if (n == 0 || text[n - 1] != '\n')
		alert_buf_str(b, "\r\n");
}

/* Percent-encodes all but RFC 3986's unreserved characters. */
void alert_url_escape(struct alert_buf *b, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') ||
		    c == '-' || c == '.' || c == '_' || c == '~')
			alert_buf_add(b, s, 1);
		else
			alert_buf_printf(b, "%%%02X", c);
	}
}
