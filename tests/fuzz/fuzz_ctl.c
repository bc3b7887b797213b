/* Fuzz target: control socket requests. Whatever the bytes, decoding ends
 * in 0 or an error, and writes nothing past the request struct (a canary
 * catches it in builds without AddressSanitizer, such as ctest's replay);
 * an accepted request has a command and bounded, distinct args. Every
 * binary argument also goes through the admit list decoder (CTL_KEY_PEERS),
 * with the same canary and checks: bounded, distinct peers. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/ctl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Room for a few entries only: a longer list must be refused, not
 * written past the array. */
#define LIST_ROOM 4

static void admit_list(const struct ctl_arg *a)
{
	static struct {
		struct ctl_admit_entry e[LIST_ROOM];
		uint8_t canary[sizeof(struct ctl_admit_entry)];
	} g;
	char err[200];
	size_t n = 0;

	memset(g.canary, 0x5a, sizeof(g.canary));
	if (ctl_admit_list_decode(g.e, LIST_ROOM, &n, a->bin, a->len, err, sizeof(err)) != 0) {
		if (n != 0 || !memchr(err, '\0', sizeof(err)))
			abort();
		n = 0;
	}
	for (size_t i = 0; i < sizeof(g.canary); i++)
		if (g.canary[i] != 0x5a)
			abort();
	if (n > LIST_ROOM)
		abort();
	for (size_t i = 0; i < n; i++) {
		if (!memchr(g.e[i].endpoint, '\0', sizeof(g.e[i].endpoint)))
			abort();
		for (size_t j = 0; j < i; j++)
			if (!memcmp(g.e[i].peer, g.e[j].peer, PROTO_KEY_LEN))
				abort();
	}
}

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
		if (ctl_arg_bin(req, req->args[i].key))
			admit_list(ctl_arg_bin(req, req->args[i].key));
		/* Any text may reach the peer ID parser. */
		ctl_arg_peer(req, req->args[i].key, peer, err, sizeof(err));
	}
	return 0;
}
