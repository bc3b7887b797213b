/* Fuzz target: recovery kit text (proto/kit.h). A kit that parses must
 * format to text that parses back to the same kit; a refused one must
 * leave no secret behind. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/kit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t zero[PROTO_SEED_LEN];
	static struct proto_kit kit, back;
	static char text[PROTO_KIT_TEXT_MAX];
	char why[200];
	int len;

	if (proto_kit_parse(&kit, (const char *)data, size, why, sizeof(why)) != 0) {
		if (memcmp(kit.seed, zero, sizeof(zero)) != 0)
			abort();
		return 0;
	}
	len = proto_kit_format(&kit, text, sizeof(text));
	if (len < 0 || proto_kit_parse(&back, text, (size_t)len, why, sizeof(why)) != 0 ||
	    memcmp(&kit, &back, sizeof(kit)) != 0)
		abort();
	return 0;
}
