/* What dns/pdns.c and dns/desec.c share: see json_common.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <jansson.h>

#include "json_common.h"
#include "proto/error.h"

char dns_json_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

bool dns_json_same_text(const char *s, size_t n, const char *want)
{
	size_t i;

	for (i = 0; i < n && want[i]; i++)
		if (dns_json_lower(s[i]) != dns_json_lower(want[i]))
			return false;
	return i == n && !want[i];
}

int dns_json_address(uint8_t addr[16], int family, const json_t *v)
{
	if (!json_is_string(v) || inet_pton(family, json_string_value(v), addr) != 1)
		return KITH_EMALFORMED;
	return 0;
}

int dns_json_addrs_add(struct dns_addrs *out, const uint8_t *addr)
{
	size_t size = out->family == AF_INET ? 4 : 16;

	for (size_t i = 0; i < out->n; i++)
		if (!memcmp(out->addr[i], addr, size))
			return 0;
	if (out->n == DNS_ADDRS_MAX)
		return KITH_ETOOBIG;
	memcpy(out->addr[out->n++], addr, size);
	return 0;
}

int dns_json_ttl(uint32_t *ttl, const json_t *v)
{
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > (json_int_t)UINT32_MAX)
		return KITH_EMALFORMED;
	*ttl = (uint32_t)json_integer_value(v);
	return 0;
}

bool dns_json_addrs_ok(const struct dns_addrs *to)
{
	size_t size = to->family == AF_INET ? 4 : 16;

	if ((to->family != AF_INET && to->family != AF_INET6) || to->n > DNS_ADDRS_MAX)
		return false;
	for (size_t i = 0; i < to->n; i++)
		for (size_t j = i + 1; j < to->n; j++)
			if (!memcmp(to->addr[i], to->addr[j], size))
				return false;
	return true;
}

/* One address of a body, as form says; NULL when out of memory. */
static json_t *address_record(const char *text, enum dns_json_record form)
{
	if (form == DNS_JSON_RECORD_CONTENT)
		return json_pack("{s:s, s:b}", "content", text, "disabled", 0);
	return json_string(text);
}

int dns_json_address_records(json_t **records, const struct dns_addrs *to,
                             enum dns_json_record form)
{
	char text[INET6_ADDRSTRLEN];

	*records = json_array();
	for (size_t i = 0; *records && i < to->n; i++) {
		if (!inet_ntop(to->family, to->addr[i], text, sizeof(text)) ||
		    json_array_append_new(*records, address_record(text, form))) {
			json_decref(*records);
			*records = NULL;
		}
	}
	return *records ? 0 : -ENOMEM;
}

int dns_json_txt_content(char out[DNS_JSON_TXT_CONTENT_MAX], const char *text)
{
	size_t n = strnlen(text, DNS_TXT_MAX + 1), at = 0;

	if (n > DNS_TXT_MAX)
		return KITH_EVALUE;
	out[at++] = '"';
	for (size_t i = 0; i < n; i++) {
		if (text[i] < ' ' || text[i] > '~')
			return KITH_EVALUE;
		if (text[i] == '"' || text[i] == '\\')
			out[at++] = '\\';
		out[at++] = text[i];
	}
	out[at++] = '"';
	out[at] = '\0';
	return 0;
}

int dns_json_dump(json_t *body, char **out, size_t *len)
{
	if (!body)
		return -ENOMEM;
	*out = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	if (!*out)
		return -ENOMEM;
	*len = strlen(*out);
	return 0;
}

void dns_json_printable(char *dst, const char *src, size_t n, size_t max)
{
	size_t i;

	for (i = 0; i < n && i < max; i++)
		dst[i] = src[i] >= ' ' && src[i] <= '~' ? src[i] : '?';
	memcpy(dst + i, n > max ? "..." : "", n > max ? 4 : 1);
}

void dns_json_say(char *why, size_t n, const char *fmt, ...)
{
	va_list ap;

	if (!why || n == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(why, n, fmt, ap);
	va_end(ap);
}
