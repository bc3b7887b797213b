#include <string.h>

#include "proto/utf8.h"
#include "json.h"

void json_string(FILE *f, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;

	fputc('"', f);
	for (size_t i = 0; i < len;) {
		size_t n = proto_utf8_seq(p + i, len - i, NULL);
		if (n == 0) {
			fputs("\\ufffd", f);
			i++;
		} else if (n > 1) {
			fwrite(p + i, 1, n, f);
			i += n;
		} else {
			unsigned char c = p[i++];
			if (c == '"' || c == '\\')
				fprintf(f, "\\%c", c);
			else if (c < 0x20 || c == 0x7f)
				fprintf(f, "\\u%04x", c);
			else
				fputc(c, f);
		}
	}
	fputc('"', f);
}

void json_cstring(FILE *f, const char *s)
{
	json_string(f, s, strlen(s));
}

void json_key(FILE *f, const char *key, int first)
{
	if (!first)
		fputc(',', f);
	json_cstring(f, key);
	fputc(':', f);
}
