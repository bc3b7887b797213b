#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "pack.h"
#include "proto/error.h"

static_assert(sizeof(struct pack_entry) == PACK_ENTRY_LEN, "entries are read in place");
static_assert(PACK_TABLE_MAX + PACK_TRAILER_LEN < PACK_SIZE_MAX, "a full table fits a pack");
static_assert(PACK_SIZE_MAX <= UINT32_MAX, "offsets are u32");

/* ---- little-endian integers ---- */

static void put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static size_t next_pow2(size_t n)
{
	size_t p = 1;
	while (p < n)
		p <<= 1;
	return p;
}

void pack_id(uint8_t id[PACK_ID_LEN], const uint8_t *pack, size_t len)
{
	crypto_generichash(id, PACK_ID_LEN, pack, len, NULL, 0);
}

/* ---- a set of IDs ----
 *
 * Open addressing over the entries themselves: a slot holds an entry's
 * index + 1 (0 is empty), the IDs stay in the entries (ID at the start of
 * each PACK_ENTRY_LEN-byte record, in the writer's wire form as in the
 * reader's struct pack_entry). Slots are hashed with SipHash under a key
 * drawn when the set is made, so not even the owner's key holder can make
 * IDs collide on purpose and turn lookups quadratic. Load stays at most
 * 1/2. Written here because a set of 65 536 fixed-size keys is a few
 * lines, and no Debian-packaged C library is smaller to use. */
struct idset {
	uint32_t *slots;
	size_t cap; /* a power of two, or 0 */
	uint8_t key[crypto_shorthash_KEYBYTES];
};

static size_t idset_home(const struct idset *s, const uint8_t *id)
{
	uint8_t h[crypto_shorthash_BYTES];
	uint64_t v;

	crypto_shorthash(h, id, SEAL_ID_LEN, s->key);
	memcpy(&v, h, sizeof(v));
	return (size_t)v & (s->cap - 1);
}

/* The index of id among the n records at base, or -1. */
static long idset_find(const struct idset *s, const uint8_t *base, const uint8_t *id)
{
	if (!s->cap)
		return -1;
	for (size_t i = idset_home(s, id);; i = (i + 1) & (s->cap - 1)) {
		uint32_t v = s->slots[i];
		if (!v)
			return -1;
		if (!memcmp(base + (size_t)(v - 1) * PACK_ENTRY_LEN, id, SEAL_ID_LEN))
			return (long)(v - 1);
	}
}

/* Puts record index (its ID at base) in the set; cap > 2 * entries. */
static void idset_put(struct idset *s, const uint8_t *base, uint32_t index)
{
	size_t i = idset_home(s, base + (size_t)index * PACK_ENTRY_LEN);
	while (s->slots[i])
		i = (i + 1) & (s->cap - 1);
	s->slots[i] = index + 1;
}

/* Makes room for n records (cap >= 2n), rehashing the first have of them. */
static int idset_reserve(struct idset *s, const uint8_t *base, size_t have, size_t n)
{
	size_t cap = next_pow2(2 * n);
	uint32_t *slots;

	if (cap <= s->cap)
		return 0;
	slots = calloc(cap, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	free(s->slots);
	s->slots = slots;
	s->cap = cap;
	for (size_t i = 0; i < have; i++)
		idset_put(s, base, (uint32_t)i);
	return 0;
}

static void idset_clear(struct idset *s)
{
	if (s->cap)
		memset(s->slots, 0, s->cap * sizeof(*s->slots));
}

static void idset_free(struct idset *s)
{
	free(s->slots);
	s->slots = NULL;
	s->cap = 0;
}

/* ---- the trailer ---- */

static void trailer_write(uint8_t t[PACK_TRAILER_LEN], int kind, size_t table_len)
{
	memcpy(t, PACK_MAGIC, PACK_MAGIC_LEN);
	t[PACK_MAGIC_LEN] = PACK_VERSION;
	t[PACK_MAGIC_LEN + 1] = (uint8_t)kind;
	put_u32(t + PACK_MAGIC_LEN + 2, (uint32_t)table_len);
}

static bool kind_ok(int kind)
{
	return kind == PACK_KIND_DATA || kind == PACK_KIND_INDEX;
}

/* Checks the trailer t (the last PACK_TRAILER_LEN bytes of a pack of
 * pack_len bytes) and bounds the table length it gives, before any other
 * use of it. */
static int trailer_read(const uint8_t *t, size_t pack_len, size_t *table_len)
{
	size_t tl;

	if (memcmp(t, PACK_MAGIC, PACK_MAGIC_LEN))
		return KITH_EMALFORMED;
	if (t[PACK_MAGIC_LEN] != PACK_VERSION)
		return KITH_EVERSION;
	if (!kind_ok(t[PACK_MAGIC_LEN + 1]))
		return KITH_EVALUE;
	tl = get_u32(t + PACK_MAGIC_LEN + 2);
	if (tl > PACK_TABLE_MAX)
		return KITH_ETOOBIG;
	if (tl < PACK_TABLE_OVERHEAD + PACK_ENTRY_LEN ||
	    (tl - PACK_TABLE_OVERHEAD) % PACK_ENTRY_LEN)
		return KITH_EMALFORMED;
	if (tl > pack_len - PACK_TRAILER_LEN)
		return KITH_ETRUNC;
	*table_len = tl;
	return 0;
}

/* ---- writing ---- */

struct pack_writer {
	int kind;
	size_t target;
	size_t limit;   /* the largest pack this writer can make */
	uint8_t *buf;   /* the chunk area, then table and trailer once finished */
	size_t len;     /* bytes of buf used */
	size_t cap;     /* bytes of buf allocated */
	uint8_t *table; /* n entries in wire form: the table's plaintext */
	size_t n, n_cap;
	struct idset ids;
	bool finished;
};

static size_t finished_size(size_t data_len, size_t n)
{
	return data_len + PACK_TABLE_OVERHEAD + PACK_ENTRY_LEN * n + PACK_TRAILER_LEN;
}

static size_t lone_max(void)
{
	return finished_size(seal_max_len(PACK_CHUNK_MAX), 1);
}

static size_t limit_for(size_t target)
{
	return target > lone_max() ? target : lone_max();
}

/* The most entries a pack of limit bytes can hold: each takes at least
 * SEAL_OVERHEAD bytes of chunk area and PACK_ENTRY_LEN of table. */
static size_t entries_max(size_t limit)
{
	size_t n = (limit - finished_size(0, 0)) / (SEAL_OVERHEAD + PACK_ENTRY_LEN);
	return n < PACK_CHUNKS_MAX ? n : PACK_CHUNKS_MAX;
}

int pack_writer_new(struct pack_writer **out, int kind, size_t target)
{
	struct pack_writer *w;

	*out = NULL;
	if (target == 0)
		target = PACK_TARGET_DEFAULT;
	if (!kind_ok(kind) || target < PACK_TARGET_MIN || target > PACK_TARGET_MAX)
		return KITH_EVALUE;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->kind = kind;
	w->target = target;
	w->limit = limit_for(target);
	randombytes_buf(w->ids.key, sizeof(w->ids.key));
	*out = w;
	return 0;
}

void pack_writer_free(struct pack_writer **w)
{
	if (!w || !*w)
		return;
	free((*w)->buf);
	free((*w)->table);
	idset_free(&(*w)->ids);
	free(*w);
	*w = NULL;
}

bool pack_writer_fits(const struct pack_writer *w, size_t sealed_len)
{
	if (w->finished)
		return false;
	if (w->n == 0)
		return true;
	if (w->n >= PACK_CHUNKS_MAX || sealed_len > w->target)
		return false;
	return finished_size(w->len + sealed_len, w->n + 1) <= w->target;
}

bool pack_writer_has(const struct pack_writer *w, const uint8_t id[SEAL_ID_LEN])
{
	return idset_find(&w->ids, w->table, id) >= 0;
}

int pack_writer_entry(const struct pack_writer *w, size_t i, struct pack_entry *out)
{
	const uint8_t *e = w->table + i * PACK_ENTRY_LEN;

	if (i >= w->n)
		return KITH_EVALUE;
	memcpy(out->id, e, SEAL_ID_LEN);
	out->offset = get_u32(e + SEAL_ID_LEN);
	out->sealed_len = get_u32(e + SEAL_ID_LEN + 4);
	out->plain_len = get_u32(e + SEAL_ID_LEN + 8);
	return 0;
}

int pack_writer_find(const struct pack_writer *w, const uint8_t id[SEAL_ID_LEN],
                     struct pack_entry *out)
{
	long i = w->finished ? -1 : idset_find(&w->ids, w->table, id);

	if (i < 0)
		return KITH_EMISSING;
	return pack_writer_entry(w, (size_t)i, out);
}

/* Grows buf to hold need bytes: doubling, never past the writer's limit
 * (need never is: pack_writer_add() checked the pack fits). */
static int grow_buf(struct pack_writer *w, size_t need)
{
	size_t cap = w->cap ? w->cap : 64 << 10;
	uint8_t *p;

	if (need <= w->cap)
		return 0;
	while (cap < need)
		cap *= 2;
	if (cap > w->limit)
		cap = w->limit;
	p = realloc(w->buf, cap);
	if (!p)
		return -ENOMEM;
	w->buf = p;
	w->cap = cap;
	return 0;
}

/* Room for one more entry in the table and the ID set. */
static int grow_table(struct pack_writer *w)
{
	size_t cap;
	uint8_t *p;

	if (w->n < w->n_cap)
		return 0;
	cap = w->n_cap ? 2 * w->n_cap : 64;
	if (cap > PACK_CHUNKS_MAX)
		cap = PACK_CHUNKS_MAX;
	p = realloc(w->table, cap * PACK_ENTRY_LEN);
	if (!p)
		return -ENOMEM;
	w->table = p;
	w->n_cap = cap;
	return idset_reserve(&w->ids, w->table, w->n, cap);
}

static int add_check(const struct pack_writer *w, const uint8_t *id, size_t sealed_len,
                     size_t plain_len)
{
	if (w->finished || plain_len > PACK_CHUNK_MAX || sealed_len < SEAL_OVERHEAD ||
	    sealed_len > seal_max_len(plain_len))
		return KITH_EVALUE;
	if (w->n >= PACK_CHUNKS_MAX)
		return KITH_ETOOMANY;
	if (!pack_writer_fits(w, sealed_len))
		return KITH_ETOOBIG;
	if (pack_writer_has(w, id))
		return KITH_EDUPKEY;
	return 0;
}

int pack_writer_add(struct pack_writer *w, const uint8_t id[SEAL_ID_LEN], const uint8_t *sealed,
                    size_t sealed_len, size_t plain_len)
{
	uint8_t *e;
	int rc = add_check(w, id, sealed_len, plain_len);

	if (!rc)
		rc = grow_buf(w, w->len + sealed_len);
	if (!rc)
		rc = grow_table(w);
	if (rc)
		return rc;
	e = w->table + w->n * PACK_ENTRY_LEN;
	memcpy(e, id, SEAL_ID_LEN);
	put_u32(e + SEAL_ID_LEN, (uint32_t)w->len);
	put_u32(e + SEAL_ID_LEN + 4, (uint32_t)sealed_len);
	put_u32(e + SEAL_ID_LEN + 8, (uint32_t)plain_len);
	idset_put(&w->ids, w->table, (uint32_t)w->n);
	memcpy(w->buf + w->len, sealed, sealed_len);
	w->len += sealed_len;
	w->n++;
	return 0;
}

int pack_writer_finish(struct pack_writer *w, const struct backup_keys *keys, const uint8_t **pack,
                       size_t *len, uint8_t id[PACK_ID_LEN])
{
	size_t plain = w->n * PACK_ENTRY_LEN, table_len = plain + PACK_TABLE_OVERHEAD;
	uint8_t *nonce, *trailer;
	int rc;

	*pack = NULL;
	*len = 0;
	if (w->finished || w->n == 0)
		return KITH_EVALUE;
	rc = grow_buf(w, finished_size(w->len, w->n));
	if (rc)
		return rc;
	nonce = w->buf + w->len;
	trailer = nonce + table_len;
	trailer_write(trailer, w->kind, table_len);
	randombytes_buf(nonce, PACK_NONCE_LEN);
	crypto_aead_xchacha20poly1305_ietf_encrypt(nonce + PACK_NONCE_LEN, NULL, w->table, plain,
	                                           trailer, PACK_TRAILER_LEN, NULL, nonce,
	                                           keys->index);
	w->len = finished_size(w->len, w->n);
	w->finished = true;
	if (id)
		pack_id(id, w->buf, w->len);
	*pack = w->buf;
	*len = w->len;
	return 0;
}

void pack_writer_reset(struct pack_writer *w)
{
	w->len = 0;
	w->n = 0;
	w->finished = false;
	idset_clear(&w->ids);
}

size_t pack_writer_count(const struct pack_writer *w)
{
	return w->n;
}

size_t pack_writer_size(const struct pack_writer *w)
{
	return w->finished ? w->len : finished_size(w->len, w->n);
}

size_t pack_writer_memory(const struct pack_writer *w)
{
	return sizeof(*w) + w->cap + w->n_cap * PACK_ENTRY_LEN + w->ids.cap * sizeof(uint32_t);
}

size_t pack_writer_memory_max(size_t target)
{
	size_t limit = limit_for(target ? target : PACK_TARGET_DEFAULT);
	size_t n = next_pow2(entries_max(limit));

	if (n < 64)
		n = 64;
	if (n > PACK_CHUNKS_MAX)
		n = PACK_CHUNKS_MAX;
	return sizeof(struct pack_writer) + limit + n * PACK_ENTRY_LEN +
	       next_pow2(2 * n) * sizeof(uint32_t);
}

/* ---- reading ---- */

struct pack_table {
	int kind;
	size_t n;
	size_t data_len;
	struct pack_entry *entries; /* n, decoded in place from the plaintext */
	struct idset ids;
	const uint8_t *pack; /* borrowed: the whole pack, or NULL (a tail) */
};

void pack_table_free(struct pack_table **t)
{
	if (!t || !*t)
		return;
	free((*t)->entries);
	idset_free(&(*t)->ids);
	free(*t);
	*t = NULL;
}

/* Decrypts the sealed table s[0..table_len) with the trailer as
 * associated data into t->entries (allocated here). */
static int table_decrypt(struct pack_table *t, const uint8_t *s, size_t table_len,
                         const uint8_t *trailer, const struct backup_keys *keys)
{
	size_t plain = table_len - PACK_TABLE_OVERHEAD;

	t->n = plain / PACK_ENTRY_LEN;
	t->entries = malloc(plain);
	if (!t->entries)
		return -ENOMEM;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(
	        (uint8_t *)t->entries, NULL, NULL, s + PACK_NONCE_LEN, table_len - PACK_NONCE_LEN,
	        trailer, PACK_TRAILER_LEN, s, keys->index))
		return KITH_EBADSIG;
	return 0;
}

/* Turns entry e, still in wire form, into host integers, in place. */
static void entry_decode(struct pack_entry *e)
{
	const uint8_t *p = (const uint8_t *)e + SEAL_ID_LEN;
	uint32_t off = get_u32(p), sealed = get_u32(p + 4), plain = get_u32(p + 8);

	e->offset = off;
	e->sealed_len = sealed;
	e->plain_len = plain;
}

/* Decodes and checks every entry against the rules of the header: the
 * entries tile [0, data_len) in order, with sane lengths, no ID twice. */
static int table_check(struct pack_table *t)
{
	size_t at = 0;
	int rc = idset_reserve(&t->ids, (const uint8_t *)t->entries, 0, t->n);

	if (rc)
		return rc;
	for (size_t i = 0; i < t->n; i++) {
		struct pack_entry *e = &t->entries[i];
		entry_decode(e);
		if (e->offset != at || e->plain_len > PACK_CHUNK_MAX ||
		    e->sealed_len < SEAL_OVERHEAD || e->sealed_len > seal_max_len(e->plain_len) ||
		    e->sealed_len > t->data_len - at)
			return KITH_EVALUE;
		at += e->sealed_len;
		if (idset_find(&t->ids, (const uint8_t *)t->entries, e->id) >= 0)
			return KITH_EDUPKEY;
		idset_put(&t->ids, (const uint8_t *)t->entries, (uint32_t)i);
	}
	return at == t->data_len ? 0 : KITH_EVALUE;
}

int pack_tail_len(const uint8_t *tail, size_t tail_len, size_t pack_len, size_t *need)
{
	size_t table_len;
	int rc;

	*need = 0;
	if (tail_len > pack_len)
		return KITH_EVALUE;
	if (tail_len < PACK_TRAILER_LEN)
		return KITH_ETRUNC;
	if (pack_len > PACK_SIZE_MAX)
		return KITH_ETOOBIG;
	rc = trailer_read(tail + tail_len - PACK_TRAILER_LEN, pack_len, &table_len);
	if (rc)
		return rc;
	*need = table_len + PACK_TRAILER_LEN;
	return 0;
}

/* Opens the table from tail (the last tail_len of pack_len bytes). */
static int open_tail(struct pack_table *t, const uint8_t *tail, size_t tail_len, size_t pack_len,
                     const struct backup_keys *keys)
{
	const uint8_t *trailer;
	size_t need;
	int rc = pack_tail_len(tail, tail_len, pack_len, &need);

	if (rc)
		return rc;
	if (tail_len < need)
		return KITH_ETRUNC;
	trailer = tail + tail_len - PACK_TRAILER_LEN;
	t->kind = trailer[PACK_MAGIC_LEN + 1];
	t->data_len = pack_len - need;
	rc = table_decrypt(t, trailer - (need - PACK_TRAILER_LEN), need - PACK_TRAILER_LEN, trailer,
	                   keys);
	if (!rc)
		rc = table_check(t);
	return rc;
}

/* Opens into a fresh table, all or nothing. */
static int open_new(const uint8_t *tail, size_t tail_len, size_t pack_len,
                    const struct backup_keys *keys, const uint8_t *whole, struct pack_table **out)
{
	struct pack_table *t;
	int rc;

	*out = NULL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	randombytes_buf(t->ids.key, sizeof(t->ids.key));
	rc = open_tail(t, tail, tail_len, pack_len, keys);
	if (rc) {
		/* Entries that did not authenticate or validate are not
		 * to be believed, nor left in freed memory. */
		if (t->entries)
			sodium_memzero(t->entries, t->n * PACK_ENTRY_LEN);
		pack_table_free(&t);
		return rc;
	}
	t->pack = whole;
	*out = t;
	return 0;
}

int pack_open_table(const uint8_t *pack, size_t len, const struct backup_keys *keys,
                    struct pack_table **out)
{
	return open_new(pack, len, len, keys, pack, out);
}

int pack_open_tail(const uint8_t *tail, size_t tail_len, size_t pack_len,
                   const struct backup_keys *keys, struct pack_table **out)
{
	return open_new(tail, tail_len, pack_len, keys, NULL, out);
}

int pack_table_kind(const struct pack_table *t)
{
	return t->kind;
}

size_t pack_table_count(const struct pack_table *t)
{
	return t->n;
}

size_t pack_table_data_len(const struct pack_table *t)
{
	return t->data_len;
}

const struct pack_entry *pack_table_entry(const struct pack_table *t, size_t i)
{
	return i < t->n ? &t->entries[i] : NULL;
}

int pack_table_find(const struct pack_table *t, const uint8_t id[SEAL_ID_LEN], size_t *index)
{
	long i = idset_find(&t->ids, (const uint8_t *)t->entries, id);

	if (i < 0)
		return KITH_EMISSING;
	*index = (size_t)i;
	return 0;
}

int pack_table_chunk(const struct pack_table *t, size_t i, const uint8_t **sealed, size_t *len)
{
	*sealed = NULL;
	*len = 0;
	if (i >= t->n)
		return KITH_EVALUE;
	if (!t->pack)
		return KITH_EMISSING;
	*sealed = t->pack + t->entries[i].offset;
	*len = t->entries[i].sealed_len;
	return 0;
}
