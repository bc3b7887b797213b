/* Fuzz target: every request op codec (shard, usage, services). Every
 * input goes through each decoder; what one accepts must encode, decode
 * again to the same value, and encode again to the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/ops.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct proto_service_entry entries[PROTO_SERVICES_MAX], entries2[PROTO_SERVICES_MAX];

static void same_encoding(const struct mp_buf *a, const struct mp_buf *b)
{
	if (a->len != b->len || memcmp(a->data, b->data, a->len) != 0)
		abort();
}

static void shard(const uint8_t *data, size_t size)
{
	struct proto_shard first, second;
	struct mp_buf a = {0}, b = {0};
	if (proto_shard_decode(&first, data, size))
		return;
	if (first.has_data && first.len &&
	    (first.data < data || first.data + first.len > data + size))
		abort();
	if (proto_shard_encode(&a, &first) || proto_shard_decode(&second, a.data, a.len) ||
	    memcmp(first.name, second.name, sizeof(first.name)) != 0 ||
	    first.has_data != second.has_data || first.len != second.len ||
	    (first.len && memcmp(first.data, second.data, first.len) != 0) ||
	    proto_shard_encode(&b, &second))
		abort();
	same_encoding(&a, &b);
	mp_buf_free(&a);
	mp_buf_free(&b);
}

static void usage(const uint8_t *data, size_t size)
{
	struct proto_usage first, second;
	struct mp_buf a = {0}, b = {0};
	if (proto_usage_decode(&first, data, size))
		return;
	if (proto_usage_encode(&a, &first) || proto_usage_decode(&second, a.data, a.len) ||
	    first.used != second.used || first.quota != second.quota ||
	    proto_usage_encode(&b, &second))
		abort();
	same_encoding(&a, &b);
	mp_buf_free(&a);
	mp_buf_free(&b);
}

static void services(const uint8_t *data, size_t size)
{
	struct mp_buf a = {0}, b = {0};
	size_t n = 0, n2 = 0;
	if (proto_services_decode(entries, PROTO_SERVICES_MAX, &n, data, size))
		return;
	if (proto_services_encode(&a, entries, n) ||
	    proto_services_decode(entries2, PROTO_SERVICES_MAX, &n2, a.data, a.len) || n2 != n ||
	    (n && memcmp(entries, entries2, n * sizeof(entries[0])) != 0) ||
	    proto_services_encode(&b, entries2, n2))
		abort();
	same_encoding(&a, &b);
	mp_buf_free(&a);
	mp_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	shard(data, size);
	usage(data, size);
	services(data, size);
	return 0;
}
