#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "peerid.h"

#define DATA_CHARS 52  /* ceil(256 / 5) */
#define BLOCK_DATA 13  /* data characters per check character */
#define BLOCK_CHARS 14 /* with its check character */
#define BLOCKS 4
#define GROUP_CHARS 7

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/* Multiplication by a = 2 in GF(32) modulo x^5 + x^2 + 1. */
static unsigned gf32_mul2(unsigned x)
{
	return ((x << 1) & 0x1f) ^ ((x & 0x10) ? 0x05 : 0);
}

/* Damm's check over the quasigroup x*y = a(x ^ y): weakly totally
 * anti-symmetric because a(a + 1) != 0, with a zero diagonal, so it detects
 * every single substitution and every adjacent transposition. Returns the
 * interim digit: the check character of values[], or 0 when values[] ends
 * with a correct check character. */
static unsigned damm32(const uint8_t *values, size_t n)
{
	unsigned interim = 0;

	for (size_t i = 0; i < n; i++)
		interim = gf32_mul2(interim ^ values[i]);
	return interim;
}

/* Splits key into 52 base32 values, most significant bits first. */
static void key_to_values(uint8_t values[DATA_CHARS], const uint8_t key[PROTO_KEY_LEN])
{
	unsigned acc = 0, bits = 0;
	size_t n = 0;

	for (size_t i = 0; i < PROTO_KEY_LEN; i++) {
		acc = (acc << 8) | key[i];
		bits += 8;
		while (bits >= 5) {
			bits -= 5;
			values[n++] = (acc >> bits) & 0x1f;
		}
	}
	values[n] = (acc << (5 - bits)) & 0x1f; /* last 1 bit, zero padded */
}

/* Inverse of key_to_values; false when the padding bits are not zero. */
static bool values_to_key(uint8_t key[PROTO_KEY_LEN], const uint8_t values[DATA_CHARS])
{
	unsigned acc = 0, bits = 0;
	size_t n = 0;

	for (size_t i = 0; i < DATA_CHARS; i++) {
		acc = (acc << 5) | values[i];
		bits += 5;
		if (bits >= 8) {
			bits -= 8;
			key[n++] = (acc >> bits) & 0xff;
		}
	}
	return (acc & ((1u << bits) - 1)) == 0;
}

/* The 56 values of the ID: each block of 13 followed by its check. */
static void id_values(uint8_t out[PROTO_PEERID_CHARS], const uint8_t key[PROTO_KEY_LEN])
{
	uint8_t values[DATA_CHARS];

	key_to_values(values, key);
	for (size_t b = 0; b < BLOCKS; b++) {
		memcpy(out + b * BLOCK_CHARS, values + b * BLOCK_DATA, BLOCK_DATA);
		out[b * BLOCK_CHARS + BLOCK_DATA] = damm32(values + b * BLOCK_DATA, BLOCK_DATA);
	}
}

void proto_peerid_format(char out[PROTO_PEERID_TEXT_LEN + 1], const uint8_t key[PROTO_KEY_LEN])
{
	uint8_t values[PROTO_PEERID_CHARS];
	size_t o = 0;

	id_values(values, key);
	for (size_t i = 0; i < PROTO_PEERID_CHARS; i++) {
		if (i > 0 && i % GROUP_CHARS == 0)
			out[o++] = '-';
		out[o++] = alphabet[values[i]];
	}
	out[o] = '\0';
}

void proto_peerid_short(char out[PROTO_PEERID_SHORT_LEN + 1], const uint8_t key[PROTO_KEY_LEN])
{
	char full[PROTO_PEERID_TEXT_LEN + 1];

	proto_peerid_format(full, key);
	memcpy(out, full, PROTO_PEERID_SHORT_LEN);
	out[PROTO_PEERID_SHORT_LEN] = '\0';
}

/* Value of one character, or -1. Lower case is accepted, and the digits
 * people type for the letters they resemble. */
static int char_value(char c)
{
	if (c >= 'a' && c <= 'z')
		c = (char)(c - 'a' + 'A');
	switch (c) {
	case '0':
		c = 'O';
		break;
	case '1':
		c = 'I';
		break;
	case '8':
		c = 'B';
		break;
	}
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= '2' && c <= '7')
		return 26 + (c - '2');
	return -1;
}

/* Writes the reason into why (when given) and returns err. */
__attribute__((format(printf, 4, 5))) static int explain(int err, char *why, size_t why_len,
                                                         const char *fmt, ...)
{
	va_list ap;

	if (why && why_len) {
		va_start(ap, fmt);
		vsnprintf(why, why_len, fmt, ap);
		va_end(ap);
	}
	return err;
}

int proto_peerid_parse(uint8_t key[PROTO_KEY_LEN], const char *text, char *why, size_t why_len)
{
	uint8_t values[PROTO_PEERID_CHARS], data[DATA_CHARS];
	size_t n = 0;

	for (size_t i = 0; text[i]; i++) {
		char c = text[i];
		int v;

		if (c == '-' || c == ' ')
			continue;
		v = char_value(c);
		if (v < 0) {
			unsigned char u = (unsigned char)c;
			if (u < 0x20 || u >= 0x7f)
				return explain(KITH_EIDCHAR, why, why_len,
				               "character %zu (byte 0x%02x) is not in the peer ID "
				               "alphabet (A-Z, 2-7)",
				               i + 1, u);
			return explain(
			    KITH_EIDCHAR, why, why_len,
			    "character %zu ('%c') is not in the peer ID alphabet (A-Z, 2-7)", i + 1,
			    c);
		}
		if (n == PROTO_PEERID_CHARS)
			return explain(
			    KITH_EIDLEN, why, why_len,
			    "peer ID is too long: more than %d characters without dashes",
			    PROTO_PEERID_CHARS);
		values[n++] = (uint8_t)v;
	}
	if (n != PROTO_PEERID_CHARS)
		return explain(KITH_EIDLEN, why, why_len,
		               "peer ID has %zu characters without dashes, expected %d: "
		               "incomplete copy?",
		               n, PROTO_PEERID_CHARS);
	for (size_t b = 0; b < BLOCKS; b++) {
		if (damm32(values + b * BLOCK_CHARS, BLOCK_CHARS) != 0)
			return explain(KITH_EIDCHECK, why, why_len,
			               "check character of block %zu does not match: "
			               "a typo in groups %zu-%zu?",
			               b + 1, 2 * b + 1, 2 * b + 2);
		memcpy(data + b * BLOCK_DATA, values + b * BLOCK_CHARS, BLOCK_DATA);
	}
	if (!values_to_key(key, data))
		return explain(KITH_EIDCHECK, why, why_len,
		               "last character of the key is impossible: a typo in group 8?");
	return 0;
}
