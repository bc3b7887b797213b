/* Peer IDs: the text form of an agent's Ed25519 public key.
 *
 * 32 bytes -> 52 base32 characters (RFC 4648 alphabet, no padding), cut in
 * four blocks of 13, each followed by one check character: 56 characters,
 * shown in eight groups of seven joined by '-':
 *
 *     ABCDEFG-HIJKLMN-...
 *
 * The check character is a Damm check over GF(32): it catches every
 * single-character typo and every swap of two adjacent characters within a
 * block (Syncthing's Luhn mod 32 misses some swaps). The parser ignores
 * case, dashes and spaces and reads 0, 1 and 8 as O, I and B, the letters
 * they are usually mistaken for. */
#ifndef KITH_PROTO_PEERID_H
#define KITH_PROTO_PEERID_H

#include <stddef.h>
#include <stdint.h>

#include "limits.h"

#define PROTO_PEERID_CHARS 56                          /* without dashes */
#define PROTO_PEERID_TEXT_LEN (PROTO_PEERID_CHARS + 7) /* with dashes */
#define PROTO_PEERID_SHORT_LEN 7                       /* first group, for logs */

/* Writes the dashed text form of key into out (NUL-terminated). */
void proto_peerid_format(char out[PROTO_PEERID_TEXT_LEN + 1], const uint8_t key[PROTO_KEY_LEN]);
/* Writes the first group of the text form: enough to tell peers apart in logs. */
void proto_peerid_short(char out[PROTO_PEERID_SHORT_LEN + 1], const uint8_t key[PROTO_KEY_LEN]);

/* Parses text (a NUL-terminated string, borrowed) into key. Returns 0,
 * KITH_EIDLEN, KITH_EIDCHAR or KITH_EIDCHECK. When why is not NULL it
 * receives a sentence saying what is wrong, e.g. "character 9 ('@') is not
 * in the peer ID alphabet" or "check character of group 4 does not match:
 * a typo in characters 15-28?". */
int proto_peerid_parse(uint8_t key[PROTO_KEY_LEN], const char *text, char *why, size_t why_len);

#endif
