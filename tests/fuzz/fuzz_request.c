/* Fuzz target: REQUEST and RESPONSE. Every input goes through both
 * decoders; what one accepts must encode, and decode again to the same
 * fields and the same borrowed args or result. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Borrowed bytes: inside the input, and equal in the second decoding. */
static void same_bytes(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len,
                       const uint8_t *data, size_t size)
{
	if (a_len != b_len || (a_len && (a < data || a + a_len > data + size)) ||
	    (a_len && memcmp(a, b, a_len) != 0) || (!a_len && (a || b)))
		abort();
}

static void request(const uint8_t *data, size_t size)
{
	struct proto_request first, second;
	struct mp_buf a = {0};
	if (proto_request_decode(&first, data, size))
		return;
	if (proto_request_encode(&a, &first) || proto_request_decode(&second, a.data, a.len) ||
	    second.id != first.id || memcmp(second.op, first.op, sizeof(first.op)) != 0)
		abort();
	same_bytes(first.args, first.args_len, second.args, second.args_len, data, size);
	mp_buf_free(&a);
}

static void response(const uint8_t *data, size_t size)
{
	struct proto_response first, second;
	struct mp_buf a = {0};
	if (proto_response_decode(&first, data, size))
		return;
	if (proto_response_encode(&a, &first) || proto_response_decode(&second, a.data, a.len) ||
	    second.id != first.id || second.status != first.status ||
	    memcmp(second.reason, first.reason, sizeof(first.reason)) != 0)
		abort();
	same_bytes(first.result, first.result_len, second.result, second.result_len, data, size);
	mp_buf_free(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	request(data, size);
	response(data, size);
	return 0;
}
