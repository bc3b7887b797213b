/* Fuzz target: SYNC and SUMMARY, the anti-entropy messages. Whatever the
 * SYNC decoder accepts must be sorted, encode, and decode again to the same
 * digest and reply flag; a SUMMARY must come back the same. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct proto_head first[PROTO_DIGEST_MAX], second[PROTO_DIGEST_MAX];
	struct mp_buf a = {0};
	bool reply = false, reply2 = false;
	size_t n = 0, n2 = 0;
	uint8_t sum[PROTO_SUMMARY_LEN], sum2[PROTO_SUMMARY_LEN];
	if (proto_summary_decode(sum, data, size) == 0) {
		if (proto_summary_encode(&a, sum) || proto_summary_decode(sum2, a.data, a.len) ||
		    memcmp(sum, sum2, sizeof(sum)) != 0)
			abort();
		mp_buf_free(&a);
		return 0;
	}
	if (proto_sync_decode(&reply, first, PROTO_DIGEST_MAX, &n, data, size))
		return 0;
	for (size_t i = 1; i < n; i++)
		if (memcmp(first[i - 1].author, first[i].author, PROTO_KEY_LEN) >= 0)
			abort();
	if (proto_sync_encode(&a, reply, first, n) ||
	    proto_sync_decode(&reply2, second, PROTO_DIGEST_MAX, &n2, a.data, a.len) ||
	    reply2 != reply || n2 != n || (n && memcmp(first, second, n * sizeof(first[0])) != 0))
		abort();
	mp_buf_free(&a);
	return 0;
}
