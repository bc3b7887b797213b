/* Fuzz target: peer ID text. An accepted ID must format to text that
 * parses back to the same key. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/peerid.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t key[PROTO_KEY_LEN], back[PROTO_KEY_LEN];
	char why[160];
	char text[PROTO_PEERID_TEXT_LEN + 1];
	/* The parser takes a C string: an exact-size copy with its NUL. */
	char *copy = malloc(size + 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	copy[size] = '\0';
	if (proto_peerid_parse(key, copy, why, sizeof(why)) == 0) {
		proto_peerid_format(text, key);
		if (proto_peerid_parse(back, text, why, sizeof(why)) ||
		    memcmp(key, back, sizeof(key)) != 0)
			abort();
	}
	free(copy);
	return 0;
}
