/* Hand-written: libunistring would do, but one function is not worth a
 * dependency (see utf8.h). */
#include "utf8.h"

size_t proto_utf8_seq(const uint8_t *s, size_t n, uint32_t *cp)
{
	static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
	size_t len;
	uint32_t c = s[0];

	if (c < 0x80)
		len = 1;
	else if ((c & 0xe0) == 0xc0)
		len = 2, c &= 0x1f;
	else if ((c & 0xf0) == 0xe0)
		len = 3, c &= 0x0f;
	else if ((c & 0xf8) == 0xf0)
		len = 4, c &= 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	if (c < min_cp[len] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	if (cp)
		*cp = c;
	return len;
}
