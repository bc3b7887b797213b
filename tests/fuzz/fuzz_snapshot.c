/* Fuzz target: snapshots (backup/snapshot.c), the decoders of what comes
 * back from holders to a restore: index entries and root records. The
 * root key is fixed (SNAP_FUZZ_KEY; snapshot_seeds() in seeds.c writes
 * plaintexts, which need no key). Each input is used three ways:
 *  1. as an index stream: entries decoded one after the other until the
 *     end or the first refusal, as a restore reads an index chunk. Each
 *     accepted entry must encode back to the very bytes it came from; a
 *     chunk entry is checked against the last pack entry seen
 *     (snap_chunk_check(), which must agree with the arithmetic);
 *  2. as a root's plaintext, given to snap_root_parse(): what only a key
 *     holder could send, since mutated ciphertext never authenticates. An
 *     accepted root must encode back to the same bytes, and seal and open
 *     to the same struct;
 *  3. as a sealed body, given to snap_root_open(): refused, with a
 *     documented code, since the fuzzer cannot forge the tag.
 * A refusal must use a documented code and give nothing out. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "backup/snapshot.h"
#include "proto/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SNAP_FUZZ_KEY 0x44

static struct backup_keys keys;
static const uint8_t author[PROTO_KEY_LEN] = {1, 2, 3};
static struct snap_root *root, *again;
static uint8_t *out;

static void setup(void)
{
	if (root)
		return;
	root = malloc(sizeof(*root));
	again = malloc(sizeof(*again));
	out = malloc(SNAP_ROOT_SEALED_MAX);
	if (sodium_init() < 0 || !root || !again || !out)
		abort();
	memset(&keys, 0, sizeof(keys));
	memset(keys.root, SNAP_FUZZ_KEY, sizeof(keys.root));
}

static int documented(int rc)
{
	switch (rc) {
	case KITH_ETRUNC:
	case KITH_EMALFORMED:
	case KITH_EVALUE:
	case KITH_EDUPKEY:
	case KITH_EVERSION:
	case KITH_ETRAIL:
		return 1;
	default:
		return 0;
	}
}

/* Whether p[0..n) (n <= sizeof(struct snap_root)) is all zero: memcmp()
 * against zeros, many times faster than a loop under the sanitizers. */
static int is_zero(const void *p, size_t n)
{
	static const struct snap_root zero;
	return !memcmp(p, &zero, n);
}

/* Way 1: the input as an index stream. */
static void read_stream(const uint8_t *data, size_t size)
{
	static struct snap_entry e;
	static struct snap_pack last;
	static uint8_t enc[SNAP_ENTRY_MAX];
	size_t at = 0, used, len;
	int have_pack = 0;

	while (at < size) {
		int rc = snap_entry_decode(&e, data + at, size - at, &used);
		if (rc) {
			if (!documented(rc) || used || !is_zero(&e, sizeof(e)))
				abort();
			return;
		}
		if (used < 1 || used > size - at || used > SNAP_ENTRY_MAX)
			abort();
		if (snap_entry_encode(enc, sizeof(enc), &e, &len) || len != used ||
		    memcmp(enc, data + at, len))
			abort();
		if (e.type == SNAP_ENTRY_PACK) {
			last = e.pack;
			have_pack = 1;
		} else if (e.type != SNAP_ENTRY_CHUNK) {
			abort();
		} else if (have_pack) {
			uint64_t end = (uint64_t)e.chunk.offset + e.chunk.sealed_len;
			if ((snap_chunk_check(&e.chunk, &last) == 0) != (end <= last.len))
				abort();
		}
		at += used;
	}
}

/* Way 2: the input as a root's plaintext. */
static void parse_root(const uint8_t *data, size_t size)
{
	size_t len;
	int rc = snap_root_parse(root, data, size);

	if (rc) {
		if (!documented(rc) || !is_zero(root, sizeof(*root)))
			abort();
		return;
	}
	if (size > SNAP_ROOT_PLAIN_MAX || root->n_index < 1 ||
	    root->n_index > SNAP_INDEX_PACKS_MAX || !snap_name_ok(root->name, strlen(root->name)))
		abort();
	if (snap_root_encode(out, SNAP_ROOT_SEALED_MAX, &len, root) || len != size ||
	    memcmp(out, data, size))
		abort();
	if (snap_root_seal(out, SNAP_ROOT_SEALED_MAX, &len, root, &keys, author, "r") ||
	    len != size + SNAP_ROOT_OVERHEAD ||
	    snap_root_open(again, out, len, &keys, author, "r") ||
	    memcmp(again, root, sizeof(*root)))
		abort();
}

/* Way 3: the input as a sealed body. */
static void open_root(const uint8_t *data, size_t size)
{
	int rc = snap_root_open(root, data, size, &keys, author, "r");

	if ((rc != KITH_ETRUNC && rc != KITH_ETOOBIG && rc != KITH_EBADSIG) ||
	    !is_zero(root, sizeof(*root)))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	setup();
	read_stream(data, size);
	parse_root(data, size);
	open_root(data, size);
	return 0;
}
