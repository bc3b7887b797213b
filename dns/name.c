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
