/* Fuzz target: sealed chunks (backup/seal.c), the decoder of what a
 * holder sends back. Keys are fixed, and so is the ID asked for: the ID
 * of SEAL_FUZZ_TEXT (the seeds in seeds.c use the same constants). Each
 * input is used three ways:
 *  1. as sealed bytes from a holder, given to seal_open(): bounds, header,
 *     and the refusal of whatever does not authenticate;
 *  2. as a payload, byte 0 its flags and the rest its bytes, sealed here
 *     with the right key under the fixed ID (zero nonce): what only a key
 *     holder could send, since mutated ciphertext never authenticates and
 *     would leave the zstd path and the ID check unexplored;
 *  3. as a plaintext (up to CHUNK_MAX bytes), sealed by seal_chunk() at
 *     the level its first byte gives and opened back: the same bytes.
 * A refusal must use a documented code and leave no plaintext in out
 * (each byte the sentinel or 0); an acceptance must give at most
 * CHUNK_MAX bytes that hash to the ID asked for. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "backup/seal.h"
#include "proto/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHUNK_MAX 4096
#define SENTINEL 0xa5
/* Shared with seal_seeds() in seeds.c. */
#define SEAL_FUZZ_KEY_ID 0x11
#define SEAL_FUZZ_KEY 0x22
/* Compressible, so that a sealed seed takes the zstd path. */
#define SEAL_FUZZ_TEXT "kith fuzz seal, kith fuzz seal, kith fuzz seal, kith fuzz seal.\n"

static struct backup_keys keys;
static struct seal *s;
static uint8_t want_id[SEAL_ID_LEN];
static uint8_t out[CHUNK_MAX];

static void setup(void)
{
	if (s)
		return;
	if (sodium_init() < 0 || seal_new(&s, CHUNK_MAX))
		abort();
	memset(keys.chunk_id, SEAL_FUZZ_KEY_ID, sizeof(keys.chunk_id));
	memset(keys.chunk, SEAL_FUZZ_KEY, sizeof(keys.chunk));
	seal_chunk_id(want_id, &keys, (const uint8_t *)SEAL_FUZZ_TEXT, sizeof(SEAL_FUZZ_TEXT) - 1);
}

static int documented(int rc)
{
	switch (rc) {
	case KITH_ETRUNC:
	case KITH_ETOOBIG:
	case KITH_EVERSION:
	case KITH_EBADSIG:
	case KITH_EMALFORMED:
	case KITH_ECHECKSUM:
		return 1;
	default:
		return 0;
	}
}

/* Opens in[0..len) as id and checks the outcome; returns seal_open()'s. */
static int open_checked(const uint8_t *id, const uint8_t *in, size_t len)
{
	uint8_t got[SEAL_ID_LEN];
	size_t n = 1;
	int rc;

	memset(out, SENTINEL, sizeof(out));
	rc = seal_open(s, &keys, id, in, len, out, sizeof(out), &n);
	if (rc) {
		if (!documented(rc) || n != 0)
			abort();
		for (size_t i = 0; i < sizeof(out); i++)
			if (out[i] != SENTINEL && out[i] != 0)
				abort(); /* plaintext left behind */
		return rc;
	}
	seal_chunk_id(got, &keys, out, n);
	if (n > CHUNK_MAX || memcmp(got, id, SEAL_ID_LEN))
		abort();
	return 0;
}

/* Way 2: data[0] the flags, data[1..size) the payload, sealed by hand as
 * backup/seal.h lays it out. */
static void open_wrapped(const uint8_t *data, size_t size)
{
	uint8_t ad[2 + SEAL_ID_LEN];
	size_t n = size - 1;
	uint8_t *sealed = malloc(n + SEAL_OVERHEAD);

	if (!sealed)
		return;
	sealed[0] = SEAL_VERSION;
	sealed[1] = data[0];
	memset(sealed + 2, 0, SEAL_NONCE_LEN);
	memcpy(ad, sealed, 2);
	memcpy(ad + 2, want_id, SEAL_ID_LEN);
	crypto_aead_xchacha20poly1305_ietf_encrypt(sealed + SEAL_HEADER_LEN, NULL, data + 1, n, ad,
	                                           sizeof(ad), NULL, sealed + 2, keys.chunk);
	open_checked(want_id, sealed, n + SEAL_OVERHEAD);
	free(sealed);
}

/* Way 3: seal data[0..size) and open it back. */
static void round_trip(const uint8_t *data, size_t size)
{
	static uint8_t sealed[CHUNK_MAX + SEAL_OVERHEAD];
	uint8_t id[SEAL_ID_LEN];
	size_t n;

	seal_chunk_id(id, &keys, data, size);
	if (seal_chunk(s, &keys, size ? data[0] % 20 : 0, id, data, size, sealed, sizeof(sealed),
	               &n))
		abort();
	if (n > seal_max_len(size) || open_checked(id, sealed, n) || memcmp(out, data, size))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	setup();
	open_checked(want_id, data, size);
	if (size >= 1)
		open_wrapped(data, size);
	if (size <= CHUNK_MAX)
		round_trip(data, size);
	return 0;
}
