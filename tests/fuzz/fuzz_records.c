/* Fuzz target: RECORDS. Whatever the decoder accepts must lay its blocks
 * end to end over records borrowed from the input, encode, and decode
 * again to the same blocks and bytes. The records themselves go through
 * proto_record_decode() and proto_block_check() as a receiver runs them. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/record.h"
#include "proto/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct proto_block blocks[PROTO_BLOCKS_MAX], blocks2[PROTO_BLOCKS_MAX];
static struct proto_recref recs[PROTO_MSG_RECORDS_MAX], recs2[PROTO_MSG_RECORDS_MAX];

/* The decoder's promises about its output. */
static void check_shape(const uint8_t *data, size_t size, size_t n_blocks, size_t n_recs)
{
	size_t next = 0;
	for (size_t i = 0; i < n_blocks; i++) {
		if (blocks[i].first != next)
			abort();
		next += blocks[i].n_records;
	}
	if (next != n_recs)
		abort();
	for (size_t i = 0; i < n_recs; i++)
		if (recs[i].len > PROTO_RECORD_MAX ||
		    (recs[i].len &&
		     (recs[i].buf < data || recs[i].buf + recs[i].len > data + size)))
			abort();
}

static void receive(size_t n_blocks)
{
	struct proto_record rec;
	for (size_t i = 0; i < n_blocks; i++) {
		const struct proto_block *b = &blocks[i];
		uint64_t prev = b->after;
		for (uint32_t j = 0; j < b->n_records; j++) {
			const struct proto_recref *ref = &recs[b->first + j];
			if (proto_record_decode(&rec, ref->buf, ref->len) ||
			    proto_block_check(b, &rec, &prev))
				break;
			if (prev != rec.seq || rec.seq <= b->after)
				abort();
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mp_buf a = {0};
	size_t nb = 0, nr = 0, nb2 = 0, nr2 = 0;
	if (proto_records_decode(blocks, PROTO_BLOCKS_MAX, &nb, recs, PROTO_MSG_RECORDS_MAX, &nr,
	                         data, size))
		return 0;
	check_shape(data, size, nb, nr);
	receive(nb);
	if (proto_records_encode(&a, blocks, nb, recs) ||
	    proto_records_decode(blocks2, PROTO_BLOCKS_MAX, &nb2, recs2, PROTO_MSG_RECORDS_MAX,
	                         &nr2, a.data, a.len) ||
	    nb2 != nb || nr2 != nr || (nb && memcmp(blocks, blocks2, nb * sizeof(blocks[0])) != 0))
		abort();
	for (size_t i = 0; i < nr; i++)
		if (recs2[i].len != recs[i].len ||
		    (recs[i].len && memcmp(recs2[i].buf, recs[i].buf, recs[i].len) != 0))
			abort();
	mp_buf_free(&a);
	return 0;
}
