#include <string.h>

#include "proto/error.h"
#include "name.h"

static bool label_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_';
}

bool dns_name_valid(const char *text, size_t len)
{
	size_t label = 0;

	if (len > 0 && text[len - 1] == '.')
		len--;
	if (len == 0 || len > DNS_NAME_TEXT_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (text[i] == '.') {
			if (label == 0)
				return false;
			label = 0;
		} else if (!label_char(text[i]) || ++label > DNS_LABEL_MAX) {
			return false;
		}
	}
	return label > 0;
}

int dns_name_copy(char *out, const char *name, bool dot)
{
	size_t n;

	if (!name)
		return KITH_EVALUE;
	n = strnlen(name, DNS_NAME_TEXT_MAX + 2);
	if (!dns_name_valid(name, n))
		return KITH_EVALUE;
	if (name[n - 1] == '.')
		n--;
	memcpy(out, name, n);
	if (dot)
		out[n++] = '.';
	out[n] = '\0';
	return 0;
}
