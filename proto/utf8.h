/* UTF-8, as every text kith reads or writes is checked: one decoder for
 * the msgpack reader, the JSON writer of kith and the alerts' texts. */
#ifndef KITH_PROTO_UTF8_H
#define KITH_PROTO_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Length of the UTF-8 sequence starting at s[0..n) (n >= 1), with its code
 * point in *cp (cp may be NULL), or 0 when it is not valid: overlong,
 * surrogate, past U+10FFFF, or cut short. s is borrowed. */
size_t proto_utf8_seq(const uint8_t *s, size_t n, uint32_t *cp);

#endif
