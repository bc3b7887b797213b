#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "proto/error.h"
#include "seal.h"

struct seal {
	ZSTD_CCtx *cctx;
	ZSTD_DCtx *dctx;
	size_t chunk_max;
	uint8_t *scratch; /* chunk_max bytes: a compressed payload, either way */
};

int seal_new(struct seal **out, size_t chunk_max)
{
	struct seal *s;

	*out = NULL;
	if (chunk_max == 0 || chunk_max > SEAL_CHUNK_LIMIT)
		return KITH_EVALUE;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->chunk_max = chunk_max;
	s->cctx = ZSTD_createCCtx();
	s->dctx = ZSTD_createDCtx();
	s->scratch = malloc(chunk_max);
	if (!s->cctx || !s->dctx || !s->scratch) {
		seal_free(&s);
		return -ENOMEM;
	}
	*out = s;
	return 0;
}

void seal_free(struct seal **s)
{
	if (!s || !*s)
		return;
	if ((*s)->scratch)
		sodium_memzero((*s)->scratch, (*s)->chunk_max);
	free((*s)->scratch);
	ZSTD_freeCCtx((*s)->cctx);
	ZSTD_freeDCtx((*s)->dctx);
	free(*s);
	*s = NULL;
}

size_t seal_chunk_max(const struct seal *s)
{
	return s->chunk_max;
}

size_t seal_memory(const struct seal *s)
{
	return sizeof(*s) + s->chunk_max + ZSTD_sizeof_CCtx(s->cctx) + ZSTD_sizeof_DCtx(s->dctx);
}

int seal_level(int level)
{
	if (level == 0)
		return SEAL_LEVEL_DEFAULT;
	if (level < SEAL_LEVEL_MIN)
		return SEAL_LEVEL_MIN;
	if (level > SEAL_LEVEL_MAX)
		return SEAL_LEVEL_MAX;
	return level;
}

void seal_chunk_id(uint8_t id[SEAL_ID_LEN], const struct backup_keys *keys, const uint8_t *in,
                   size_t len)
{
	crypto_generichash(id, SEAL_ID_LEN, in, len, keys->chunk_id, sizeof(keys->chunk_id));
}

/* The associated data: version and flags (hdr[0..2)), then the ID. */
static void make_ad(uint8_t ad[2 + SEAL_ID_LEN], const uint8_t *hdr, const uint8_t *id)
{
	memcpy(ad, hdr, 2);
	memcpy(ad + 2, id, SEAL_ID_LEN);
}

/* Compresses in[0..len) into the scratch buffer; *n gets the frame's size,
 * or 0 when the frame would not be shorter than len (then the chunk goes
 * raw). The capacity of len - 1 makes zstd give up on such input itself. */
static int compress(struct seal *s, int level, const uint8_t *in, size_t len, size_t *n)
{
	size_t r;

	*n = 0;
	if (len < 2)
		return 0;
	if (ZSTD_isError(ZSTD_CCtx_setParameter(s->cctx, ZSTD_c_compressionLevel, level)))
		return KITH_EVALUE;
	r = ZSTD_compress2(s->cctx, s->scratch, len - 1, in, len);
	if (!ZSTD_isError(r)) {
		*n = r;
		return 0;
	}
	switch (ZSTD_getErrorCode(r)) {
	case ZSTD_error_dstSize_tooSmall:
		return 0;
	case ZSTD_error_memory_allocation:
		return -ENOMEM;
	default:
		return KITH_EVALUE;
	}
}

#ifndef NDEBUG
static int id_matches(const struct backup_keys *keys, const uint8_t *id, const uint8_t *in,
                      size_t len)
{
	uint8_t want[SEAL_ID_LEN];

	seal_chunk_id(want, keys, in, len);
	return !sodium_memcmp(want, id, SEAL_ID_LEN);
}
#endif

int seal_chunk(struct seal *s, const struct backup_keys *keys, int level,
               const uint8_t id[SEAL_ID_LEN], const uint8_t *in, size_t len, uint8_t *out,
               size_t cap, size_t *out_len)
{
	uint8_t ad[2 + SEAL_ID_LEN];
	const uint8_t *payload = in;
	size_t n = 0; /* the frame's size; 0: raw */
	int rc;

	*out_len = 0;
	if (len > s->chunk_max || cap < seal_max_len(len))
		return KITH_ETOOBIG;
	assert(id_matches(keys, id, in, len));
	rc = level == SEAL_LEVEL_OFF ? 0 : compress(s, seal_level(level), in, len, &n);
	if (rc)
		return rc;
	if (n) {
		payload = s->scratch;
	} else {
		n = len;
	}
	out[0] = SEAL_VERSION;
	out[1] = payload == in ? 0 : SEAL_FLAG_ZSTD;
	randombytes_buf(out + 2, SEAL_NONCE_LEN);
	make_ad(ad, out, id);
	crypto_aead_xchacha20poly1305_ietf_encrypt(out + SEAL_HEADER_LEN, NULL, payload, n, ad,
	                                           sizeof(ad), NULL, out + 2, keys->chunk);
	*out_len = n + SEAL_OVERHEAD;
	return 0;
}

/* Bounds and header of untrusted bytes, before any other use of them. */
static int check_header(const struct seal *s, const uint8_t *in, size_t len)
{
	if (len < SEAL_OVERHEAD)
		return KITH_ETRUNC;
	if (len > seal_max_len(s->chunk_max))
		return KITH_ETOOBIG;
	if (in[0] != SEAL_VERSION)
		return KITH_EVERSION;
	/* An undefined flag is damage or forgery, as a bad tag would be: one
	 * answer for both tells a prober nothing. */
	if (in[1] & ~SEAL_FLAG_ZSTD)
		return KITH_EBADSIG;
	return 0;
}

/* Decrypts the payload (n bytes) of in[0..len) into dst. libsodium checks
 * the tag before it decrypts, and zeroes dst when the tag is wrong. */
static int decrypt(const struct backup_keys *keys, const uint8_t *id, const uint8_t *in, size_t len,
                   uint8_t *dst)
{
	uint8_t ad[2 + SEAL_ID_LEN];

	make_ad(ad, in, id);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(dst, NULL, NULL, in + SEAL_HEADER_LEN,
	                                               len - SEAL_HEADER_LEN, ad, sizeof(ad),
	                                               in + 2, keys->chunk))
		return KITH_EBADSIG;
	return 0;
}

/* Decompresses one zstd frame, src[0..n), into out, never past chunk_max
 * bytes: the size the frame declares is checked before out is touched,
 * and the output capacity holds zstd to it whatever the blocks expand to.
 * Our sealer always writes exactly one frame with its content size;
 * anything else is refused. *written gets how much of out may hold
 * bytes. */
static int decompress(struct seal *s, const uint8_t *src, size_t n, uint8_t *out, size_t *out_len,
                      size_t *written)
{
	unsigned long long size = ZSTD_getFrameContentSize(src, n);
	size_t r;

	if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN)
		return KITH_EMALFORMED;
	if (size > s->chunk_max)
		return KITH_ETOOBIG;
	if (ZSTD_findFrameCompressedSize(src, n) != n)
		return KITH_EMALFORMED;
	*written = s->chunk_max;
	r = ZSTD_decompressDCtx(s->dctx, out, s->chunk_max, src, n);
	if (ZSTD_isError(r))
		return ZSTD_getErrorCode(r) == ZSTD_error_dstSize_tooSmall ? KITH_ETOOBIG
		                                                           : KITH_EMALFORMED;
	if (r != size)
		return KITH_EMALFORMED;
	*out_len = r;
	return 0;
}

int seal_open(struct seal *s, const struct backup_keys *keys, const uint8_t id[SEAL_ID_LEN],
              const uint8_t *in, size_t len, uint8_t *out, size_t cap, size_t *out_len)
{
	uint8_t got[SEAL_ID_LEN];
	size_t n, written = 0;
	int rc;

	*out_len = 0;
	if (cap < s->chunk_max)
		return KITH_EVALUE;
	rc = check_header(s, in, len);
	if (rc)
		return rc;
	/* n <= chunk_max: check_header() bounded len. A raw payload is the
	 * plaintext, decrypted straight into out; a frame goes through
	 * scratch and reaches out only once authenticated. */
	n = len - SEAL_OVERHEAD;
	if (!(in[1] & SEAL_FLAG_ZSTD)) {
		written = n;
		rc = decrypt(keys, id, in, len, out);
	} else {
		rc = decrypt(keys, id, in, len, s->scratch);
		if (!rc)
			rc = decompress(s, s->scratch, n, out, &n, &written);
	}
	if (!rc) {
		seal_chunk_id(got, keys, out, n);
		if (sodium_memcmp(got, id, SEAL_ID_LEN))
			rc = KITH_ECHECKSUM;
	}
	if (rc) {
		/* Whatever reached out is not to be believed. */
		sodium_memzero(out, written);
		return rc;
	}
	*out_len = n;
	return 0;
}
