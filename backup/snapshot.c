#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "snapshot.h"
#include "proto/error.h"

static_assert(SNAP_ROOT_SEALED_MAX <= PROTO_BODY_MAX, "a root fits one record body");
static_assert(SNAP_ROOT_SEALED_MAX + SNAP_PACK_LEN_MAX > PROTO_BODY_MAX,
              "SNAP_INDEX_PACKS_MAX is the most index packs that fit");
static_assert(SNAP_RECORD_NAME_LEN <= PROTO_NAME_MAX, "record names fit");
static_assert(SNAP_INDEX_PACKS_MAX <= UINT16_MAX, "n_index is u16");
static_assert(SNAP_NAME_MAX <= UINT8_MAX, "the name length is u8");
static_assert(PACK_SIZE_MAX <= UINT32_MAX, "pack lengths and offsets are u32");
static_assert(PACK_CHUNK_MAX <= UINT32_MAX - SEAL_OVERHEAD, "seal_max_len() of a chunk is u32");
static_assert(SNAP_ROOT_NONCE_LEN == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, "nonce");
static_assert(SNAP_ROOT_TAG_LEN == crypto_aead_xchacha20poly1305_ietf_ABYTES, "tag");
static_assert(BACKUP_KEY_LEN == crypto_aead_xchacha20poly1305_ietf_KEYBYTES, "root key");

/* Binds a root to its use, its author and its record (snapshot.h). */
static const char root_domain[] = "kith backup root v1";
#define ROOT_AD_MAX (sizeof(root_domain) + PROTO_KEY_LEN + PROTO_NAME_MAX)

/* ---- little-endian integers ---- */

static void put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put_u32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint16_t get_u16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_u64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* ---- names ---- */

static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '-';
}

bool snap_name_ok(const char *s, size_t len)
{
	if (!s || len < 1 || len > SNAP_NAME_MAX || s[0] == '.')
		return false;
	for (size_t i = 0; i < len; i++)
		if (!name_char(s[i]))
			return false;
	return true;
}

/* The length of the NUL-terminated name s when it is a backup name, else
 * 0. Reads at most SNAP_NAME_MAX + 1 bytes. */
static size_t name_len(const char *s)
{
	size_t n;

	if (!s)
		return 0;
	n = strnlen(s, SNAP_NAME_MAX + 1);
	return snap_name_ok(s, n) ? n : 0;
}

/* ---- pack placements ---- */

/* Checks the fields of p the decoder checks: 0, KITH_EVALUE or
 * KITH_EDUPKEY. Up to 48 holders: the pairwise comparison is 1 128
 * memcmp() at most, less than a hash set would cost to set up. */
static int pack_check(const struct snap_pack *p)
{
	unsigned n = (unsigned)p->k + p->m;

	if (p->k < 1 || p->k > ERASURE_K_MAX || p->m > ERASURE_M_MAX)
		return KITH_EVALUE;
	if (p->len < 1 || p->len > PACK_SIZE_MAX)
		return KITH_EVALUE;
	for (unsigned i = 0; i < n; i++)
		for (unsigned j = i + 1; j < n; j++)
			if (!memcmp(p->holder[i], p->holder[j], PLACE_PEER_LEN))
				return KITH_EDUPKEY;
	return 0;
}

/* Writes checked pack p at out, which has room for snap_pack_len(). */
static size_t pack_write(uint8_t *out, const struct snap_pack *p)
{
	unsigned n = (unsigned)p->k + p->m;
	uint8_t *q = out + SNAP_PACK_FIXED_LEN;

	memcpy(out, p->id, PACK_ID_LEN);
	put_u32(out + PACK_ID_LEN, p->len);
	out[PACK_ID_LEN + 4] = p->k;
	out[PACK_ID_LEN + 5] = p->m;
	for (unsigned i = 0; i < n; i++, q += SNAP_SHARD_LEN) {
		memcpy(q, p->holder[i], PLACE_PEER_LEN);
		memcpy(q + PLACE_PEER_LEN, p->hash[i], 32);
	}
	return (size_t)(q - out);
}

/* Reads a pack placement from b[0..len) into *out (zeroed first, so
 * unused slots are zero); *used gets its size. */
static int pack_read(struct snap_pack *out, const uint8_t *b, size_t len, size_t *used)
{
	const uint8_t *q = b + SNAP_PACK_FIXED_LEN;
	unsigned n;
	int rc;

	memset(out, 0, sizeof(*out));
	if (len < SNAP_PACK_FIXED_LEN)
		return KITH_ETRUNC;
	memcpy(out->id, b, PACK_ID_LEN);
	out->len = get_u32(b + PACK_ID_LEN);
	out->k = b[PACK_ID_LEN + 4];
	out->m = b[PACK_ID_LEN + 5];
	/* Range checks first: a bad k or m says nothing of the length. */
	if (out->k < 1 || out->k > ERASURE_K_MAX || out->m > ERASURE_M_MAX)
		return KITH_EVALUE;
	if (out->len < 1 || out->len > PACK_SIZE_MAX)
		return KITH_EVALUE;
	n = (unsigned)out->k + out->m;
	if (len < snap_pack_len(out->k, out->m))
		return KITH_ETRUNC;
	for (unsigned i = 0; i < n; i++, q += SNAP_SHARD_LEN) {
		memcpy(out->holder[i], q, PLACE_PEER_LEN);
		memcpy(out->hash[i], q + PLACE_PEER_LEN, 32);
	}
	rc = pack_check(out);
	if (rc)
		return rc;
	*used = (size_t)(q - b);
	return 0;
}

/* ---- index entries ---- */

static int chunk_check(const struct snap_chunk *c)
{
	if (c->plain_len > PACK_CHUNK_MAX || c->sealed_len < SEAL_OVERHEAD ||
	    c->sealed_len > seal_max_len(c->plain_len))
		return KITH_EVALUE;
	if ((uint64_t)c->offset + c->sealed_len > PACK_SIZE_MAX)
		return KITH_EVALUE;
	return 0;
}

int snap_chunk_check(const struct snap_chunk *c, const struct snap_pack *p)
{
	return (uint64_t)c->offset + c->sealed_len <= p->len ? 0 : KITH_EVALUE;
}

int snap_entry_encode(uint8_t *out, size_t cap, const struct snap_entry *e, size_t *len)
{
	const struct snap_chunk *c = &e->chunk;
	size_t need;
	int rc;

	*len = 0;
	if (e->type == SNAP_ENTRY_PACK) {
		rc = pack_check(&e->pack);
		need = rc ? 0 : 1 + 4 + snap_pack_len(e->pack.k, e->pack.m);
	} else if (e->type == SNAP_ENTRY_CHUNK) {
		rc = chunk_check(c);
		need = SNAP_CHUNK_ENTRY_LEN;
	} else {
		return KITH_EVALUE;
	}
	if (rc)
		return rc;
	if (cap < need)
		return KITH_ETOOBIG;
	out[0] = (uint8_t)e->type;
	if (e->type == SNAP_ENTRY_PACK) {
		put_u32(out + 1, e->ordinal);
		*len = 1 + 4 + pack_write(out + 5, &e->pack);
		return 0;
	}
	put_u32(out + 1, c->pack);
	put_u32(out + 5, c->offset);
	put_u32(out + 9, c->sealed_len);
	put_u32(out + 13, c->plain_len);
	memcpy(out + 17, c->id, SEAL_ID_LEN);
	*len = SNAP_CHUNK_ENTRY_LEN;
	return 0;
}

static int chunk_read(struct snap_chunk *c, const uint8_t *b, size_t len)
{
	if (len < SNAP_CHUNK_BODY_LEN)
		return KITH_ETRUNC;
	c->pack = get_u32(b);
	c->offset = get_u32(b + 4);
	c->sealed_len = get_u32(b + 8);
	c->plain_len = get_u32(b + 12);
	memcpy(c->id, b + 16, SEAL_ID_LEN);
	return chunk_check(c);
}

int snap_entry_decode(struct snap_entry *out, const uint8_t *buf, size_t len, size_t *used)
{
	size_t n = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	*used = 0;
	if (len < 1)
		return KITH_ETRUNC;
	if (buf[0] == SNAP_ENTRY_PACK) {
		if (len < 5)
			return KITH_ETRUNC;
		out->ordinal = get_u32(buf + 1);
		rc = pack_read(&out->pack, buf + 5, len - 5, &n);
		n += 4;
	} else if (buf[0] == SNAP_ENTRY_CHUNK) {
		rc = chunk_read(&out->chunk, buf + 1, len - 1);
		n = SNAP_CHUNK_BODY_LEN;
	} else {
		return KITH_EMALFORMED;
	}
	if (rc) {
		memset(out, 0, sizeof(*out));
		return rc;
	}
	out->type = buf[0];
	*used = 1 + n;
	return 0;
}

/* ---- the root ---- */

static int root_check(const struct snap_root *r, size_t *name_n)
{
	int rc;

	*name_n = strnlen(r->name, sizeof(r->name));
	if (!snap_name_ok(r->name, *name_n))
		return KITH_EVALUE;
	if (r->n_index < 1 || r->n_index > SNAP_INDEX_PACKS_MAX || r->level > 1)
		return KITH_EVALUE;
	for (uint32_t i = 0; i < r->n_index; i++)
		if ((rc = pack_check(&r->index[i])))
			return rc;
	return 0;
}

int snap_root_encode(uint8_t *out, size_t cap, size_t *len, const struct snap_root *r)
{
	size_t nn, need;
	uint8_t *p;
	int rc;

	*len = 0;
	if ((rc = root_check(r, &nn)))
		return rc;
	need = SNAP_ROOT_FIXED_LEN + nn;
	for (uint32_t i = 0; i < r->n_index; i++)
		need += snap_pack_len(r->index[i].k, r->index[i].m);
	if (cap < need)
		return KITH_ETOOBIG;
	out[0] = r->level ? SNAP_ROOT_VERSION_INDIRECT : SNAP_ROOT_VERSION;
	out[1] = (uint8_t)nn;
	memcpy(out + 2, r->name, nn);
	p = out + 2 + nn;
	memcpy(p, r->id, SNAP_ID_LEN);
	p += SNAP_ID_LEN;
	put_u64(p, r->time);
	put_u64(p + 8, r->size);
	put_u64(p + 16, r->chunks);
	put_u64(p + 24, r->bytes_new);
	put_u16(p + 32, (uint16_t)r->n_index);
	p += 34;
	for (uint32_t i = 0; i < r->n_index; i++)
		p += pack_write(p, &r->index[i]);
	assert((size_t)(p - out) == need);
	*len = need;
	return 0;
}

/* snap_root_parse() without the zeroing on failure. */
static int root_parse(struct snap_root *out, const uint8_t *p, size_t len)
{
	const uint8_t *end = p + len;
	size_t nn, used;
	int rc;

	if (len < 1)
		return KITH_ETRUNC;
	if (p[0] != SNAP_ROOT_VERSION && p[0] != SNAP_ROOT_VERSION_INDIRECT)
		return KITH_EVERSION;
	if (len < 2)
		return KITH_ETRUNC;
	out->level = p[0] == SNAP_ROOT_VERSION_INDIRECT;
	nn = p[1];
	if (nn < 1 || nn > SNAP_NAME_MAX)
		return KITH_EVALUE;
	if (len < SNAP_ROOT_FIXED_LEN + nn)
		return KITH_ETRUNC;
	if (!snap_name_ok((const char *)p + 2, nn))
		return KITH_EVALUE;
	memcpy(out->name, p + 2, nn);
	p += 2 + nn;
	memcpy(out->id, p, SNAP_ID_LEN);
	p += SNAP_ID_LEN;
	out->time = get_u64(p);
	out->size = get_u64(p + 8);
	out->chunks = get_u64(p + 16);
	out->bytes_new = get_u64(p + 24);
	out->n_index = get_u16(p + 32);
	p += 34;
	if (out->n_index < 1 || out->n_index > SNAP_INDEX_PACKS_MAX)
		return KITH_EVALUE;
	for (uint32_t i = 0; i < out->n_index; i++, p += used)
		if ((rc = pack_read(&out->index[i], p, (size_t)(end - p), &used)))
			return rc;
	return p == end ? 0 : KITH_ETRAIL;
}

int snap_root_parse(struct snap_root *out, const uint8_t *p, size_t len)
{
	int rc;

	memset(out, 0, sizeof(*out));
	rc = root_parse(out, p, len);
	if (rc)
		memset(out, 0, sizeof(*out));
	return rc;
}

/* Writes the associated data of record_name's root by author into
 * ad[0..ROOT_AD_MAX); returns its length, or 0 for a bad record name. */
static size_t root_ad(uint8_t ad[ROOT_AD_MAX], const uint8_t *author, const char *record_name)
{
	size_t n;

	if (!record_name)
		return 0;
	n = strnlen(record_name, PROTO_NAME_MAX + 1);
	if (n < 1 || n > PROTO_NAME_MAX)
		return 0;
	memcpy(ad, root_domain, sizeof(root_domain));
	memcpy(ad + sizeof(root_domain), author, PROTO_KEY_LEN);
	memcpy(ad + sizeof(root_domain) + PROTO_KEY_LEN, record_name, n);
	return sizeof(root_domain) + PROTO_KEY_LEN + n;
}

int snap_root_seal(uint8_t *out, size_t cap, size_t *out_len, const struct snap_root *r,
                   const struct backup_keys *keys, const uint8_t author[PROTO_KEY_LEN],
                   const char *record_name)
{
	uint8_t ad[ROOT_AD_MAX],
	    *plain = cap < SNAP_ROOT_OVERHEAD ? NULL : out + SNAP_ROOT_NONCE_LEN;
	size_t adn = root_ad(ad, author, record_name), n;
	int rc;

	*out_len = 0;
	if (!adn)
		return KITH_EVALUE;
	/* The plaintext goes where its ciphertext will be, and is encrypted
	 * in place (libsodium allows it): no second buffer of up to 58 KiB.
	 * A cap under the overhead leaves no room: the encoder still checks
	 * the root first, then says KITH_ETOOBIG, writing nothing. */
	rc = snap_root_encode(plain, plain ? cap - SNAP_ROOT_OVERHEAD : 0, &n, r);
	if (rc)
		return rc;
	randombytes_buf(out, SNAP_ROOT_NONCE_LEN);
	crypto_aead_xchacha20poly1305_ietf_encrypt(plain, NULL, plain, n, ad, adn, NULL, out,
	                                           keys->root);
	*out_len = SNAP_ROOT_OVERHEAD + n;
	return 0;
}

int snap_root_open(struct snap_root *out, const uint8_t *body, size_t len,
                   const struct backup_keys *keys, const uint8_t author[PROTO_KEY_LEN],
                   const char *record_name)
{
	uint8_t ad[ROOT_AD_MAX], *plain;
	size_t adn = root_ad(ad, author, record_name), n;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!adn)
		return KITH_EVALUE;
	if (len < SNAP_ROOT_SEALED_MIN)
		return KITH_ETRUNC;
	if (len > SNAP_ROOT_SEALED_MAX)
		return KITH_ETOOBIG;
	n = len - SNAP_ROOT_OVERHEAD;
	plain = malloc(n);
	if (!plain)
		return -ENOMEM;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(
	        plain, NULL, NULL, body + SNAP_ROOT_NONCE_LEN, len - SNAP_ROOT_NONCE_LEN, ad, adn,
	        body, keys->root)) {
		rc = KITH_EBADSIG;
		goto cleanup;
	}
	rc = snap_root_parse(out, plain, n);
cleanup:
	sodium_memzero(plain, n);
	free(plain);
	return rc;
}

/* ---- record names ---- */

int snap_record_prefix(char out[SNAP_RECORD_PREFIX_LEN + 1], const struct backup_keys *keys,
                       const char *name)
{
	uint8_t h[SNAP_NAME_HASH_LEN];
	size_t n = name_len(name);

	out[0] = '\0';
	if (!n)
		return KITH_EVALUE;
	crypto_generichash(h, sizeof(h), (const uint8_t *)name, n, keys->name, BACKUP_KEY_LEN);
	memcpy(out, "backup/", 7);
	sodium_bin2hex(out + 7, 2 * SNAP_NAME_HASH_LEN + 1, h, sizeof(h));
	out[SNAP_RECORD_PREFIX_LEN - 1] = '/';
	out[SNAP_RECORD_PREFIX_LEN] = '\0';
	return 0;
}

int snap_record_name(char out[SNAP_RECORD_NAME_LEN + 1], const struct backup_keys *keys,
                     const char *name, const uint8_t id[SNAP_ID_LEN])
{
	int rc = snap_record_prefix(out, keys, name);

	if (rc)
		return rc;
	sodium_bin2hex(out + SNAP_RECORD_PREFIX_LEN, 2 * SNAP_ID_LEN + 1, id, SNAP_ID_LEN);
	return 0;
}
