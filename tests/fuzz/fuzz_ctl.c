/* Fuzz target: control socket requests. Whatever the bytes, decoding ends
 * in 0 or an error, and writes nothing past the request struct (a canary
 * catches it in builds without AddressSanitizer, such as ctest's replay);
 * an accepted request has a command and bounded, distinct args. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/ctl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct {
		struct ctl_request req;
		uint8_t canary[sizeof(struct ctl_arg)];
	} g;
	struct ctl_request *req = &g.req;
	char text[64], err[160];
	uint8_t peer[PROTO_KEY_LEN];
	uint64_t v;
	int rc;

	memset(g.canary, 0x5a, sizeof(g.canary));
	rc = ctl_request_decode(req, data, size);
	for (size_t i = 0; i < sizeof(g.canary); i++)
		if (g.canary[i] != 0x5a)
			abort();
	if (rc != 0)
		return 0;
	if (!req->cmd[0] || req->n_args > CTL_ARGS_MAX)
		abort();
	for (size_t i = 0; i < req->n_args; i++) {
		if (!strcmp(req->args[i].key, CTL_KEY_CMD))
			abort();
		for (size_t j = 0; j < i; j++)
			if (!strcmp(req->args[i].key, req->args[j].key))
				abort();
		ctl_arg_text(req, req->args[i].key, text, sizeof(text));
		ctl_arg_uint(req, req->args[i].key, &v);
		ctl_arg_flag(req, req->args[i].key);
		if (ctl_arg_bin(req, req->args[i].key) &&
		    ctl_arg_bin(req, req->args[i].key)->type != CTL_ARG_BIN)
			abort();
		/* Any text may reach the peer ID parser. */
		ctl_arg_peer(req, req->args[i].key, peer, err, sizeof(err));
	}
	return 0;
}
