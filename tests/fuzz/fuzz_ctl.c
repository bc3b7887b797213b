/* Fuzz target: control socket requests. Whatever the bytes, decoding ends
 * in 0 or an error; an accepted request has a command and bounded args. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/ctl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctl_request req;
	char text[64];
	uint64_t v;

	if (ctl_request_decode(&req, data, size) != 0)
		return 0;
	if (!req.cmd[0] || req.n_args > CTL_ARGS_MAX)
		abort();
	for (size_t i = 0; i < req.n_args; i++) {
		ctl_arg_text(&req, req.args[i].key, text, sizeof(text));
		ctl_arg_uint(&req, req.args[i].key, &v);
		ctl_arg_flag(&req, req.args[i].key);
	}
	return 0;
}
