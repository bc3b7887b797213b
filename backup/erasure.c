#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <isa-l/erasure_code.h>

#include "proto/error.h"
#include "erasure.h"

#define SHARDS_MAX (ERASURE_K_MAX + ERASURE_M_MAX)
/* ec_init_tables() expands each coefficient into 32 bytes of tables. */
#define GFTBL_LEN 32
#define TABLES_MAX (GFTBL_LEN * ERASURE_K_MAX * ERASURE_M_MAX)
/* ec_encode_data() takes an int length: longer shards go through in pieces
 * of this size, a multiple of 64 so that each piece starts as aligned as
 * the caller's buffers do. */
#define PIECE_MAX ((size_t)1 << 30)

_Static_assert(SHARDS_MAX <= 64, "a stripe's shard set must fit the uint64_t mask");

struct erasure {
	unsigned k, m;
	/* (k + m) x k, row-major: the identity, then the m Cauchy rows. */
	uint8_t matrix[SHARDS_MAX * ERASURE_K_MAX];
	uint8_t enc_tables[TABLES_MAX];
	/* The last erasure pattern decoded, kept because repair and restore
	 * decode stripe after stripe with the same shards missing. */
	bool dec_valid;
	uint64_t dec_present;               /* bit i: shard i present */
	unsigned dec_n_missing;             /* 1..m */
	uint8_t dec_src[ERASURE_K_MAX];     /* the k shards read */
	uint8_t dec_missing[ERASURE_M_MAX]; /* the shards rebuilt, in order */
	uint8_t dec_tables[TABLES_MAX];
};

int erasure_new(struct erasure **out, unsigned k, unsigned m)
{
	struct erasure *e;

	if (!out)
		return KITH_EVALUE;
	*out = NULL;
	if (k < 1 || k > ERASURE_K_MAX || m > ERASURE_M_MAX)
		return KITH_EVALUE;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->k = k;
	e->m = m;
	gf_gen_cauchy1_matrix(e->matrix, (int)(k + m), (int)k);
	if (m)
		ec_init_tables((int)k, (int)m, e->matrix + k * k, e->enc_tables);
	*out = e;
	return 0;
}

void erasure_free(struct erasure **e)
{
	if (!e)
		return;
	free(*e);
	*e = NULL;
}

unsigned erasure_k(const struct erasure *e)
{
	return e->k;
}

unsigned erasure_m(const struct erasure *e)
{
	return e->m;
}

size_t erasure_shard_len(const struct erasure *e, size_t n)
{
	/* Not (n + k - 1) / k: that overflows for n near SIZE_MAX. */
	return n / e->k + (n % e->k != 0);
}

size_t erasure_shard_fill(const struct erasure *e, size_t n, unsigned i)
{
	size_t s = erasure_shard_len(e, n), start;

	if (i >= e->k)
		return 0;
	/* i * s cannot overflow: it exceeds n only when n < (k - 1)^2. */
	start = (size_t)i * s;
	if (start >= n)
		return 0;
	return n - start < s ? n - start : s;
}

/* dst[r] = sum over j of the coefficients of row r times src[j], through
 * the tables of rows x k coefficients. */
static void apply(unsigned k, unsigned rows, uint8_t *tables, uint8_t *const *src,
                  uint8_t *const *dst, size_t len)
{
	uint8_t *s[ERASURE_K_MAX], *d[ERASURE_M_MAX];

	for (size_t off = 0; off < len; off += PIECE_MAX) {
		size_t n = len - off < PIECE_MAX ? len - off : PIECE_MAX;

		for (unsigned j = 0; j < k; j++)
			s[j] = src[j] + off;
		for (unsigned r = 0; r < rows; r++)
			d[r] = dst[r] + off;
		ec_encode_data((int)n, (int)k, (int)rows, tables, s, d);
	}
}

void erasure_encode(const struct erasure *e, const uint8_t *const *data, uint8_t *const *parity,
                    size_t len)
{
	uint8_t *src[ERASURE_K_MAX];

	if (!e->m)
		return;
	/* ISA-L's prototype takes non-const sources but only reads them. */
	for (unsigned j = 0; j < e->k; j++)
		src[j] = (uint8_t *)data[j];
	apply(e->k, e->m, (uint8_t *)e->enc_tables, src, parity, len);
}

/* The coefficients rebuilding missing shard i from the k sources, whose
 * rows of the coding matrix inverted are inv: data shard i is row i of
 * inv; parity shard i is its own row of the matrix times inv, since the
 * data is inv times the sources. */
static void rebuild_row(const struct erasure *e, const uint8_t *inv, unsigned i, uint8_t *row)
{
	unsigned k = e->k;

	if (i < k) {
		memcpy(row, inv + i * k, k);
		return;
	}
	for (unsigned j = 0; j < k; j++) {
		uint8_t sum = 0;

		for (unsigned l = 0; l < k; l++)
			sum ^= gf_mul(e->matrix[i * k + l], inv[l * k + j]);
		row[j] = sum;
	}
}

/* Computes the decode tables for the shards in present (at least k):
 * the first k present are the sources, every other shard is rebuilt. */
static int plan(struct erasure *e, uint64_t present)
{
	uint8_t sub[ERASURE_K_MAX * ERASURE_K_MAX], inv[ERASURE_K_MAX * ERASURE_K_MAX];
	uint8_t rows[ERASURE_M_MAX * ERASURE_K_MAX];
	unsigned k = e->k, n_src = 0, n_missing = 0;

	e->dec_valid = false;
	for (unsigned i = 0; i < k + e->m; i++) {
		if (!(present >> i & 1)) {
			e->dec_missing[n_missing++] = (uint8_t)i;
		} else if (n_src < k) {
			e->dec_src[n_src] = (uint8_t)i;
			memcpy(sub + n_src * k, e->matrix + i * k, k);
			n_src++;
		}
	}
	/* Cannot happen with a Cauchy matrix; refused rather than decoded to
	 * garbage should the matrix ever be wrong. */
	if (gf_invert_matrix(sub, inv, (int)k))
		return KITH_EVALUE;
	for (unsigned r = 0; r < n_missing; r++)
		rebuild_row(e, inv, e->dec_missing[r], rows + r * k);
	ec_init_tables((int)k, (int)n_missing, rows, e->dec_tables);
	e->dec_n_missing = n_missing;
	e->dec_present = present;
	e->dec_valid = true;
	return 0;
}

int erasure_decode(struct erasure *e, uint8_t *const *shards, const bool *present, size_t len)
{
	uint8_t *src[ERASURE_K_MAX], *dst[ERASURE_M_MAX];
	uint64_t mask = 0;
	unsigned have = 0, n = e->k + e->m;
	int err;

	for (unsigned i = 0; i < n; i++) {
		if (present[i]) {
			mask |= (uint64_t)1 << i;
			have++;
		}
	}
	if (have < e->k)
		return KITH_EMISSING;
	if (have == n)
		return 0;
	if (!e->dec_valid || e->dec_present != mask) {
		err = plan(e, mask);
		if (err)
			return err;
	}
	for (unsigned j = 0; j < e->k; j++)
		src[j] = shards[e->dec_src[j]];
	for (unsigned r = 0; r < e->dec_n_missing; r++)
		dst[r] = shards[e->dec_missing[r]];
	apply(e->k, e->dec_n_missing, e->dec_tables, src, dst, len);
	return 0;
}
