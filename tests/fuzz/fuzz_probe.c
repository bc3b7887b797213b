/* Fuzz target: PING, ACK, PING_REQ, NACK and GOSSIP. Whatever the decoder
 * accepts must encode, and decode again to the same struct and type. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct proto_probe first, second;
	struct mp_buf a = {0};
	uint8_t type = 0, type2 = 0, outer = 0;
	int rc = proto_probe_decode(&first, &type, data, size);
	/* What decodes as a probe has a readable outer shape of that type. */
	if (!rc && (proto_msg_type(data, size, &outer) || outer != type))
		abort();
	if (rc)
		return 0;
	if (first.n_updates > PROTO_UPDATES_MAX)
		abort();
	/* One verification is enough to reach the code; each costs ~50 us. */
	if (first.n_updates)
		proto_update_verify(&first.updates[0]);
	if (proto_probe_encode(&a, type, &first) ||
	    proto_probe_decode(&second, &type2, a.data, a.len) || type2 != type ||
	    memcmp(&first, &second, sizeof(first)) != 0)
		abort();
	mp_buf_free(&a);
	return 0;
}
