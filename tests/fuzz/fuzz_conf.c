/* Fuzz target: kithd.conf text. Whatever the bytes, parsing ends in 0 or an
 * error line; an accepted configuration respects the cross-key rule. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf c;
	char err[256];
	char *text = malloc(size + 1);

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (conf_parse_text(&c, text, "fuzz.conf", err, sizeof(err)) == 0 &&
	    c.probe_timeout_ms >= c.probe_interval_ms)
		abort();
	free(text);
	return 0;
}
