/* Fuzz target: the service record body. Accepted input must encode, decode
 * back to the same interval and boxes (compared by content: the boxes
 * point into each buffer), and encode again to the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/body.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same(const struct proto_service_record *x, const struct proto_service_record *y)
{
	if (x->interval_s != y->interval_s || x->n_boxes != y->n_boxes)
		return 0;
	for (uint32_t i = 0; i < x->n_boxes; i++)
		if (memcmp(x->boxes[i].reader, y->boxes[i].reader, PROTO_KEY_LEN) ||
		    x->boxes[i].len != y->boxes[i].len ||
		    memcmp(x->boxes[i].box, y->boxes[i].box, x->boxes[i].len))
			return 0;
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct proto_service_record first, second;
	struct mp_buf a = {0}, b = {0};

	if (proto_service_record_decode(&first, data, size))
		return 0;
	if (proto_service_record_encode(&a, &first) ||
	    proto_service_record_decode(&second, a.data, a.len) || !same(&first, &second))
		abort();
	if (proto_service_record_encode(&b, &second) || a.len != b.len ||
	    memcmp(a.data, b.data, a.len) != 0)
		abort();
	mp_buf_free(&a);
	mp_buf_free(&b);
	return 0;
}
