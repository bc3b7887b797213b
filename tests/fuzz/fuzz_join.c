/* Fuzz target: JOIN and JOIN_REPLY. Every input goes through both
 * decoders; what one accepts must encode, and decode again to the same
 * struct (and, for a reply, the same records borrowed from the input). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct proto_recref recs[PROTO_MSG_RECORDS_MAX], recs2[PROTO_MSG_RECORDS_MAX];

static void join(const uint8_t *data, size_t size)
{
	struct proto_join first, second;
	struct mp_buf a = {0};
	if (proto_join_decode(&first, data, size))
		return;
	if (first.member_record < data ||
	    first.member_record + first.member_record_len > data + size)
		abort();
	if (proto_join_encode(&a, &first) || proto_join_decode(&second, a.data, a.len) ||
	    second.has_invite != first.has_invite ||
	    memcmp(second.invite_id, first.invite_id, sizeof(first.invite_id)) != 0 ||
	    memcmp(second.proof, first.proof, sizeof(first.proof)) != 0 ||
	    second.member_record_len != first.member_record_len ||
	    memcmp(second.member_record, first.member_record, first.member_record_len) != 0)
		abort();
	mp_buf_free(&a);
}

static void join_reply(const uint8_t *data, size_t size)
{
	static struct proto_join_reply first, second;
	struct mp_buf a = {0};
	size_t n = 0, n2 = 0;
	if (proto_join_reply_decode(&first, recs, PROTO_MSG_RECORDS_MAX, &n, data, size))
		return;
	if (proto_join_reply_encode(&a, &first, recs, n) ||
	    proto_join_reply_decode(&second, recs2, PROTO_MSG_RECORDS_MAX, &n2, a.data, a.len) ||
	    memcmp(&first, &second, sizeof(first)) != 0 || n2 != n)
		abort();
	for (size_t i = 0; i < n; i++)
		if (recs2[i].len != recs[i].len ||
		    (recs[i].len &&
		     (recs[i].buf < data || recs[i].buf + recs[i].len > data + size ||
		      memcmp(recs2[i].buf, recs[i].buf, recs[i].len) != 0)))
			abort();
	mp_buf_free(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	join(data, size);
	join_reply(data, size);
	return 0;
}
