/* Fuzz target: pack tables (backup/pack.c), the decoder of the packs a
 * holder sends back. The index key is fixed (PACK_FUZZ_KEY; pack_seeds()
 * in seeds.c uses the same). Each input is used three ways:
 *  1. as a whole pack from a holder, given to pack_open_table(); and as
 *     the tail of a pack of that length, through pack_tail_len() and
 *     pack_open_tail(): both must agree, on the outcome and the entries;
 *  2. wrapped: byte 0 the kind, bytes 1..2 the chunk area's length (u16
 *     little-endian), the rest a table's plaintext, sealed here with the
 *     right key (zero nonce) behind that many zero bytes: what only a key
 *     holder could send, since mutated ciphertext never authenticates and
 *     would leave the entries' validation unexplored;
 *  3. as a recipe for the writer: each byte a chunk (its length, and an ID
 *     that repeats now and then), added while it fits, finished, and
 *     opened back: the same entries.
 * A refusal must use a documented code and give no table; an acceptance
 * must give entries that tile the chunk area, each found by its ID. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "backup/pack.h"
#include "proto/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Shared with pack_seeds() in seeds.c. */
#define PACK_FUZZ_KEY 0x33

static struct backup_keys keys;
static struct pack_writer *w;

static void setup(void)
{
	if (w)
		return;
	if (sodium_init() < 0 || pack_writer_new(&w, PACK_KIND_DATA, PACK_TARGET_MIN))
		abort();
	memset(&keys, 0, sizeof(keys));
	memset(keys.index, PACK_FUZZ_KEY, sizeof(keys.index));
}

static int documented(int rc)
{
	switch (rc) {
	case KITH_ETRUNC:
	case KITH_ETOOBIG:
	case KITH_EMALFORMED:
	case KITH_EVERSION:
	case KITH_EVALUE:
	case KITH_EBADSIG:
	case KITH_EDUPKEY:
		return 1;
	default:
		return 0;
	}
}

/* The properties of a table opened from a pack of len bytes. */
static void check_table(const struct pack_table *t, const uint8_t *pack, size_t len)
{
	size_t n = pack_table_count(t), at = 0, idx;
	const uint8_t *cs;
	size_t cl;

	if (n < 1 || n > PACK_CHUNKS_MAX || pack_table_data_len(t) >= len)
		abort();
	if (pack_table_kind(t) != PACK_KIND_DATA && pack_table_kind(t) != PACK_KIND_INDEX)
		abort();
	for (size_t i = 0; i < n; i++) {
		const struct pack_entry *e = pack_table_entry(t, i);
		if (!e || e->offset != at || e->sealed_len < SEAL_OVERHEAD ||
		    e->sealed_len > seal_max_len(e->plain_len) || e->plain_len > PACK_CHUNK_MAX)
			abort();
		at += e->sealed_len;
		if (pack_table_find(t, e->id, &idx) || idx != i)
			abort();
		if (pack && (pack_table_chunk(t, i, &cs, &cl) || cs != pack + e->offset ||
		             cl != e->sealed_len))
			abort();
	}
	if (at != pack_table_data_len(t) || pack_table_entry(t, n))
		abort();
}

static int open_checked(const uint8_t *pack, size_t len, struct pack_table **t)
{
	int rc = pack_open_table(pack, len, &keys, t);

	if (rc) {
		if (!documented(rc) || *t)
			abort();
		return rc;
	}
	check_table(*t, pack, len);
	return 0;
}

/* Way 1: whole, then as a tail; both agree. */
static void open_both(const uint8_t *data, size_t size)
{
	struct pack_table *t = NULL, *u = NULL;
	size_t need = 0;
	int rc = open_checked(data, size, &t), rt;

	rt = pack_tail_len(data, size, size, &need);
	if (!rt) {
		if (need > size)
			abort();
		rt = pack_open_tail(data + size - need, need, size, &keys, &u);
	}
	if ((rc == 0) != (rt == 0) || (rt && (!documented(rt) || u)))
		abort();
	if (t && u) {
		check_table(u, NULL, size);
		if (pack_table_count(t) != pack_table_count(u) ||
		    memcmp(pack_table_entry(t, 0), pack_table_entry(u, 0),
		           pack_table_count(t) * sizeof(struct pack_entry)))
			abort();
	}
	pack_table_free(&t);
	pack_table_free(&u);
}

/* Way 2: data[0] kind, data[1..3) area length, data[3..) the plaintext. */
static void open_wrapped(const uint8_t *data, size_t size)
{
	struct pack_table *t = NULL;
	size_t area = (size_t)data[1] | (size_t)data[2] << 8, tn = size - 3;
	size_t tl = PACK_TABLE_OVERHEAD + tn, len = area + tl + PACK_TRAILER_LEN;
	uint8_t *p = calloc(1, len), *tr;

	if (!p)
		return;
	tr = p + area + tl;
	memcpy(tr, PACK_MAGIC, PACK_MAGIC_LEN);
	tr[8] = PACK_VERSION;
	tr[9] = data[0];
	for (int i = 0; i < 4; i++)
		tr[10 + i] = (uint8_t)(tl >> (8 * i));
	crypto_aead_xchacha20poly1305_ietf_encrypt(p + area + PACK_NONCE_LEN, NULL, data + 3, tn,
	                                           tr, PACK_TRAILER_LEN, NULL, p + area,
	                                           keys.index);
	open_checked(p, len, &t);
	pack_table_free(&t);
	free(p);
}

/* Way 3: byte b is a chunk of SEAL_OVERHEAD + b * 37 sealed bytes (zeros:
 * the writer never opens them) from b * 37 plaintext bytes, with an ID
 * that is its index, or a repeat of the ID b % 8 when b >= 0xf0. About 220
 * bytes of input fill a 1 MiB pack. */
static void write_back(const uint8_t *data, size_t size)
{
	static uint8_t sealed[SEAL_OVERHEAD + 255 * 37];
	struct pack_table *t = NULL;
	const uint8_t *p;
	uint8_t id[SEAL_ID_LEN] = {0}, pid[PACK_ID_LEN];
	size_t len, added = 0;

	pack_writer_reset(w);
	for (size_t i = 0; i < size && pack_writer_fits(w, SEAL_OVERHEAD + data[i] * 37u); i++) {
		size_t sl = SEAL_OVERHEAD + data[i] * 37u;
		uint32_t v = data[i] >= 0xf0 ? data[i] % 8 : (uint32_t)i;
		memcpy(id, &v, sizeof(v));
		int rc = pack_writer_add(w, id, sealed, sl, sl - SEAL_OVERHEAD);
		if (rc && rc != KITH_EDUPKEY)
			abort();
		added += !rc;
	}
	if (pack_writer_count(w) != added)
		abort();
	if (pack_writer_finish(w, &keys, &p, &len, pid))
		return; /* nothing added */
	if (len > PACK_TARGET_MIN || len != pack_writer_size(w) || open_checked(p, len, &t) ||
	    pack_table_count(t) != added)
		abort();
	pack_table_free(&t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	setup();
	open_both(data, size);
	if (size >= 3)
		open_wrapped(data, size);
	write_back(data, size);
	return 0;
}
