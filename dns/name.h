/* Domain names as kith writes them: the TSIG key of a credential, the zone
 * of a grant, the name of a service. Pure functions, no state.
 *
 * kith accepts a narrower set than DNS does: labels of 1 to
 * DNS_LABEL_MAX letters, digits, '-' or '_' (for names such as
 * _kith-test), joined by dots, at most DNS_NAME_TEXT_MAX characters, with
 * an optional final dot. No escapes, no wildcards, no root name: every
 * name kith sends is one an admin typed, and a name outside that set is a
 * typo worth an error rather than a label the server will reject. */
#ifndef KITH_DNS_NAME_H
#define KITH_DNS_NAME_H

#include <stdbool.h>
#include <stddef.h>

#define DNS_LABEL_MAX 63
/* 253 characters without the final dot: 255 bytes on the wire. */
#define DNS_NAME_TEXT_MAX 253

/* Whether text[0..len) (borrowed, any bytes) is such a name. */
bool dns_name_valid(const char *text, size_t len);

/* Copies name (NUL-terminated, borrowed) into out, without its final dot
 * (out: DNS_NAME_TEXT_MAX + 1 bytes), or with one when dot (as the
 * PowerDNS API writes names; out: DNS_NAME_DOT_MAX bytes). Returns 0, or
 * KITH_EVALUE for NULL or a name dns_name_valid() refuses. */
#define DNS_NAME_DOT_MAX (DNS_NAME_TEXT_MAX + 2)
int dns_name_copy(char *out, const char *name, bool dot);

#endif
