/* The body fuzz targets share one harness: decode the input; when it is
 * accepted, encode the struct, which must succeed, decode that encoding
 * to the same struct, and encode it again to the same bytes. A decoder
 * and an encoder that disagree abort(), so the fuzzer reports them. */
#ifndef KITH_TESTS_FUZZ_BODY_FUZZ_H
#define KITH_TESTS_FUZZ_BODY_FUZZ_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/body.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define BODY_FUZZ_TARGET(type, decode, encode)                                                     \
	int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)                               \
	{                                                                                          \
		static struct type first, second;                                                  \
		struct mp_buf a = {0}, b = {0};                                                    \
		if (decode(&first, data, size))                                                    \
			return 0;                                                                  \
		if (encode(&a, &first) || decode(&second, a.data, a.len) ||                        \
		    memcmp(&first, &second, sizeof(first)) != 0)                                   \
			abort();                                                                   \
		if (encode(&b, &second) || a.len != b.len || memcmp(a.data, b.data, a.len) != 0)   \
			abort();                                                                   \
		mp_buf_free(&a);                                                                   \
		mp_buf_free(&b);                                                                   \
		return 0;                                                                          \
	}

#endif
