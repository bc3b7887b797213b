/* Fuzz target: every request op codec (shard, usage, services, and the
 * hold.* args and results). Every input goes through each decoder; what
 * one accepts must encode, decode again to the same value, and encode
 * again to the same bytes. */
#include <stdbool.h>
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

/* The hold.* codecs whose structs hold no pointer: decoded structs are
 * zeroed first, so they compare whole. */
#define ROUND_TRIP(fn, type)                                                                       \
	static void fn(const uint8_t *data, size_t size)                                           \
	{                                                                                          \
		static type first, second;                                                         \
		struct mp_buf a = {0}, b = {0};                                                    \
		if (proto_##fn##_decode(&first, data, size))                                       \
			return;                                                                    \
		if (proto_##fn##_encode(&a, &first) ||                                             \
		    proto_##fn##_decode(&second, a.data, a.len) ||                                 \
		    memcmp(&first, &second, sizeof(first)) != 0 ||                                 \
		    proto_##fn##_encode(&b, &second))                                              \
			abort();                                                                   \
		same_encoding(&a, &b);                                                             \
		mp_buf_free(&a);                                                                   \
		mp_buf_free(&b);                                                                   \
	}

ROUND_TRIP(hold_open, struct proto_hold_open)
ROUND_TRIP(hold_written, struct proto_hold_written)
ROUND_TRIP(hold_name, struct proto_hold_name)
ROUND_TRIP(hold_receipt, struct proto_hold_receipt)
ROUND_TRIP(hold_read, struct proto_hold_read)
ROUND_TRIP(hold_list_args, struct proto_hold_list_args)

static bool inside(const uint8_t *p, size_t n, const uint8_t *data, size_t size)
{
	return !n || (p >= data && p + n <= data + size);
}

static void hold_write(const uint8_t *data, size_t size)
{
	struct proto_hold_write first, second;
	struct mp_buf a = {0}, b = {0};
	if (proto_hold_write_decode(&first, data, size))
		return;
	if (!first.len || first.len > PROTO_HOLD_PIECE_MAX ||
	    first.offset + first.len > PROTO_HOLD_SIZE_MAX ||
	    !inside(first.data, first.len, data, size))
		abort();
	if (proto_hold_write_encode(&a, &first) ||
	    proto_hold_write_decode(&second, a.data, a.len) ||
	    strcmp(first.name, second.name) != 0 || first.offset != second.offset ||
	    first.len != second.len || memcmp(first.data, second.data, first.len) != 0 ||
	    proto_hold_write_encode(&b, &second))
		abort();
	same_encoding(&a, &b);
	mp_buf_free(&a);
	mp_buf_free(&b);
}

static void hold_data(const uint8_t *data, size_t size)
{
	struct proto_hold_data first, second;
	struct mp_buf a = {0}, b = {0};
	if (proto_hold_data_decode(&first, data, size))
		return;
	if (first.len > PROTO_HOLD_PIECE_MAX || first.len > first.size ||
	    !inside(first.data, first.len, data, size))
		abort();
	if (proto_hold_data_encode(&a, &first) || proto_hold_data_decode(&second, a.data, a.len) ||
	    first.size != second.size || first.len != second.len ||
	    (first.len && memcmp(first.data, second.data, first.len) != 0) ||
	    proto_hold_data_encode(&b, &second))
		abort();
	same_encoding(&a, &b);
	mp_buf_free(&a);
	mp_buf_free(&b);
}

static void hold_list(const uint8_t *data, size_t size)
{
	static struct proto_hold_list first, second;
	struct mp_buf a = {0}, b = {0};
	if (proto_hold_list_decode(&first, data, size))
		return;
	for (size_t i = 1; i < first.n; i++)
		if (strcmp(first.entries[i - 1].name, first.entries[i].name) >= 0)
			abort();
	if (proto_hold_list_encode(&a, &first) || proto_hold_list_decode(&second, a.data, a.len) ||
	    first.n != second.n || first.more != second.more ||
	    (first.n &&
	     memcmp(first.entries, second.entries, first.n * sizeof(first.entries[0]))) ||
	    proto_hold_list_encode(&b, &second))
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
	hold_open(data, size);
	hold_write(data, size);
	hold_written(data, size);
	hold_name(data, size);
	hold_receipt(data, size);
	hold_read(data, size);
	hold_data(data, size);
	hold_list_args(data, size);
	hold_list(data, size);
	return 0;
}
