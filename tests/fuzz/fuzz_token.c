/* Fuzz target: invitation tokens. Each input is parsed twice: as text,
 * and as a payload wrapped into a text with a correct checksum (docs/
 * protocol.md, section 9), since mutated text almost never passes the
 * checksum and would leave the payload decoder unexplored. A refusal must
 * say why; an accepted token must format (its canonical text is never
 * longer than what was read), parse back to the same token, and format
 * again to the same text. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "proto/token.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PREFIX_LEN (sizeof(PROTO_TOKEN_PREFIX) - 1)
/* The largest payload a text of PROTO_TOKEN_TEXT_MAX holds, with its
 * 4-byte checksum. */
#define PAYLOAD_MAX ((PROTO_TOKEN_TEXT_MAX - PREFIX_LEN) * 5 / 8 - 4)

static struct proto_token first, second;
static char text[PROTO_TOKEN_TEXT_MAX + 1], again[PROTO_TOKEN_TEXT_MAX + 1];

static void check(const char *input)
{
	char why[200] = "";
	if (proto_token_parse(&first, input, why, sizeof(why))) {
		if (why[0] == '\0')
			abort(); /* every refusal says why */
		return;
	}
	if (proto_token_format(&first, text, sizeof(text)) ||
	    proto_token_parse(&second, text, why, sizeof(why)) ||
	    memcmp(&first, &second, sizeof(first)) != 0 ||
	    proto_token_format(&second, again, sizeof(again)) || strcmp(text, again) != 0)
		abort();
}

/* The token text of payload[0..len): prefix, base32 of the payload and
 * the first 4 bytes of BLAKE2b-256 over "kith-invite-v1" NUL || payload. */
static void wrap(char *out, const uint8_t *payload, size_t len)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
	static const char domain[] = "kith-invite-v1";
	uint8_t bytes[PAYLOAD_MAX + 4], h[32];
	crypto_generichash_state st;
	unsigned acc = 0, bits = 0;
	size_t o = PREFIX_LEN;
	crypto_generichash_init(&st, NULL, 0, sizeof(h));
	crypto_generichash_update(&st, (const uint8_t *)domain, sizeof(domain));
	crypto_generichash_update(&st, payload, len);
	crypto_generichash_final(&st, h, sizeof(h));
	memcpy(bytes, payload, len);
	memcpy(bytes + len, h, 4);
	memcpy(out, PROTO_TOKEN_PREFIX, PREFIX_LEN);
	for (size_t i = 0; i < len + 4; i++) {
		acc = (acc << 8 | bytes[i]) & 0xfff;
		for (bits += 8; bits >= 5; bits -= 5)
			out[o++] = alphabet[(acc >> (bits - 5)) & 0x1f];
	}
	if (bits)
		out[o++] = alphabet[(acc << (5 - bits)) & 0x1f];
	out[o] = '\0';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char wrapped[PROTO_TOKEN_TEXT_MAX + 1];
	/* The parser takes a C string: an exact-size copy with its NUL. */
	char *copy = malloc(size + 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	copy[size] = '\0';
	check(copy);
	free(copy);
	if (size <= PAYLOAD_MAX) {
		wrap(wrapped, data, size);
		check(wrapped);
	}
	return 0;
}
