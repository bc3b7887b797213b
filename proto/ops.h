/* Arguments and results of the requests members make of each other
 * (PROTO_MSG_REQUEST / RESPONSE in wire.h), one small codec per op. Each is
 * a msgpack map with small integer keys, read with the same rules as record
 * bodies (unknown keys skipped, repeated keys, wrong types and trailing
 * bytes refused) but without a version key: an op whose arguments change
 * gets a new name. Decoders take buf borrowed, refuse one over
 * PROTO_MSG_MAX before parsing, and return 0 or a KITH_E* code; encoders
 * append to out (owned by the caller) after checking the decoder's rules,
 * and leave it as it was on error. docs/protocol.md, section 8.
 *
 *   op              grant needed         args               result
 *   "shard.put"     backup:SIZE          name, data         usage
 *   "shard.get"     backup:SIZE          name               name, data
 *   "shard.del"     backup:SIZE          name               usage
 *   "services.get"  monitor              (none)             services
 *
 * The grant is one the receiver (the issuer) gave the sender (the
 * subject): the sender stores its shards with us, or checks our services. */
#ifndef KITH_PROTO_OPS_H
#define KITH_PROTO_OPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "body.h"
#include "limits.h"
#include "mp.h"

#define PROTO_OP_SHARD_PUT "shard.put"
#define PROTO_OP_SHARD_GET "shard.get"
#define PROTO_OP_SHARD_DEL "shard.del"
#define PROTO_OP_SERVICES_GET "services.get"

#define PROTO_SHARD_NAME_MAX 128
#define PROTO_SHARD_MAX (4 << 20) /* bytes in one shard */
#define PROTO_SERVICES_MAX 100    /* services of one owner */

/* shard.* args and shard.get result: name (text, 1..128 bytes, no control
 * characters) and, for put and in get's result, data (borrowed from the
 * decoder's buf; empty data is still data). Without has_data the decoder
 * leaves data NULL and len 0 and the encoder ignores them: which ops need
 * data is the caller's rule. */
struct proto_shard {
	char name[PROTO_SHARD_NAME_MAX + 1];
	const uint8_t *data;
	size_t len;
	bool has_data;
};

/* shard.put and shard.del result: bytes the sender now keeps with us under
 * the grant, and the grant's quota. */
struct proto_usage {
	uint64_t used;
	uint64_t quota;
};

/* services.get result: the owner's services with their check details,
 * each name once; spec travels as a service record body, read and
 * written by proto_service_decode()/encode(). */
struct proto_service_entry {
	char name[PROTO_SERVICE_NAME_MAX + 1];
	struct proto_service spec;
};

int proto_shard_decode(struct proto_shard *out, const uint8_t *buf, size_t len);
int proto_shard_encode(struct mp_buf *out, const struct proto_shard *in);
int proto_usage_decode(struct proto_usage *out, const uint8_t *buf, size_t len);
int proto_usage_encode(struct mp_buf *out, const struct proto_usage *in);
/* entries[0..cap), *n of them. */
int proto_services_decode(struct proto_service_entry *entries, size_t cap, size_t *n,
                          const uint8_t *buf, size_t len);
int proto_services_encode(struct mp_buf *out, const struct proto_service_entry *entries, size_t n);

#endif
