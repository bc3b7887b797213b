/* FastCDC with normalized chunking (see chunker.h), by hand: Debian 12
 * packages no C library for content-defined chunking.
 *
 * A chunk of n bytes, bytes b[0..n), is cut as follows:
 *   - b[0..min) are skipped: no cut can fall there, so there is no need
 *     to hash them (this is most of FastCDC's speed on small chunks);
 *   - from b[min] on, h = (h << 1) + gear[b[i]], h starting at 0;
 *   - for i < avg the chunk ends after b[i] when the top bits_s bits of h
 *     are zero, for i >= avg when the top bits_l bits are, with bits_s =
 *     log2(avg) + 1 and bits_l = log2(avg) - 1 (level 1 of the paper's
 *     normalization: cuts rarer before avg, likelier after it, so sizes
 *     gather around avg);
 *   - the chunk ends after b[max - 1] if nothing cut it before.
 * The top bits of h are the ones that depend on the most bytes (bit k of
 * h depends on the last k + 1 bytes), so the test looks at a window of
 * 64 bytes, wider than FastCDC's spread masks (48).
 *
 * The state between calls is the hash and the position in the chunk; each
 * call runs the same steps on the bytes it is given, so where the input
 * is split into calls changes nothing. */
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "proto/error.h"
#include "chunker.h"

/* The normalization level: bits added to the test before avg, taken
 * after. Stronger normalization makes a cut depend more on where the chunk
 * began, so the cuts after an edit take longer to fall back on the old
 * ones: on the goal's data (chunker.h), 4K/8K/64K sent 3.3% at level 0,
 * 3.1% at 1, 3.9% at 2 and 6.7% at 3, with 5 500, 6 150, 6 850 and 7 430
 * chunks per 64 MiB. Level 1 sends the least, with nearly the fewest
 * chunks. */
#define NC_LEVEL 1

struct chunker {
	uint64_t gear[256];
	uint64_t mask_s; /* the harder test, before avg */
	uint64_t mask_l; /* the easier one, from avg on */
	uint64_t h;
	size_t pos; /* bytes of the current chunk fed so far */
	struct chunker_params p;
};

/* The gear table is the ChaCha20 key stream of the chunker key under a
 * nonce of its own: the key is used for nothing else, the nonce only
 * names the purpose (and would make room for another table). */
static const uint8_t gear_nonce[crypto_stream_chacha20_NONCEBYTES] = {'k', 'i', 't', 'h',
                                                                      'g', 'e', 'a', 'r'};

struct chunker_params chunker_params_default(void)
{
	return (struct chunker_params){
	    .min = CHUNKER_MIN_DEFAULT, .avg = CHUNKER_AVG_DEFAULT, .max = CHUNKER_MAX_DEFAULT};
}

int chunker_params_check(const struct chunker_params *p)
{
	if (!p || p->avg < CHUNKER_AVG_LOWEST || p->avg > CHUNKER_AVG_HIGHEST ||
	    (p->avg & (p->avg - 1)))
		return KITH_EVALUE;
	if (p->min < CHUNKER_MIN_LOWEST || p->min >= p->avg || p->max <= p->avg ||
	    p->max > CHUNKER_MAX_HIGHEST)
		return KITH_EVALUE;
	return 0;
}

static unsigned log2_u32(uint32_t v)
{
	unsigned n = 0;

	while (v >>= 1)
		n++;
	return n;
}

/* A mask of the top bits bits of a 64-bit word. */
static uint64_t top_bits(unsigned bits)
{
	return ~UINT64_C(0) << (64 - bits);
}

/* Reads the table little-endian, so that every machine cuts alike. */
static void gear_derive(uint64_t gear[256], const uint8_t key[CHUNKER_KEY_LEN])
{
	uint8_t stream[256 * 8];

	crypto_stream_chacha20(stream, sizeof(stream), gear_nonce, key);
	for (size_t i = 0; i < 256; i++) {
		uint64_t v = 0;
		for (size_t j = 8; j-- > 0;)
			v = (v << 8) | stream[i * 8 + j];
		gear[i] = v;
	}
	sodium_memzero(stream, sizeof(stream));
}

/* sodium_malloc() places the block against its guard page, so its
 * alignment is that of the size asked for: round it to 16. */
#define CHUNKER_ALLOC ((sizeof(struct chunker) + 15) & ~(size_t)15)

int chunker_new(struct chunker **out, const uint8_t key[CHUNKER_KEY_LEN],
                const struct chunker_params *p)
{
	struct chunker_params dflt = chunker_params_default();
	struct chunker *c;
	unsigned bits;

	*out = NULL;
	if (!p)
		p = &dflt;
	if (chunker_params_check(p))
		return KITH_EVALUE;
	if (sodium_init() < 0 || !(c = sodium_malloc(CHUNKER_ALLOC)))
		return -ENOMEM;
	memset(c, 0, CHUNKER_ALLOC);
	gear_derive(c->gear, key);
	bits = log2_u32(p->avg);
	c->mask_s = top_bits(bits + NC_LEVEL);
	c->mask_l = top_bits(bits - NC_LEVEL);
	c->p = *p;
	*out = c;
	return 0;
}

void chunker_free(struct chunker **c)
{
	if (!c || !*c)
		return;
	sodium_free(*c); /* wipes it */
	*c = NULL;
}

/* Hashes buf[0..n) into *h until a byte after which the bits of mask are
 * all zero: returns the number of bytes up to and including that one, or
 * 0 when there is none (then all n were hashed). The hot loop of a
 * backup: nothing in it but the hash and the test. */
static size_t scan(const uint64_t gear[256], uint64_t *h, const uint8_t *buf, size_t n,
                   uint64_t mask)
{
	uint64_t x = *h;

	for (size_t i = 0; i < n; i++) {
		x = (x << 1) + gear[buf[i]];
		if (!(x & mask)) {
			*h = x;
			return i + 1;
		}
	}
	*h = x;
	return 0;
}

static size_t min_size(size_t a, size_t b)
{
	return a < b ? a : b;
}

/* Scans the part of buf[*i..len) that lies before the chunk position end,
 * with mask; advances *i and c->pos. Returns true on a cut. */
static bool scan_to(struct chunker *c, const uint8_t *buf, size_t len, size_t *i, size_t end,
                    uint64_t mask)
{
	size_t n, got;

	if (c->pos >= end || *i >= len)
		return false;
	n = min_size(end - c->pos, len - *i);
	got = scan(c->gear, &c->h, buf + *i, n, mask);
	if (got) {
		*i += got;
		c->pos += got;
		return true;
	}
	*i += n;
	c->pos += n;
	return false;
}

size_t chunker_next(struct chunker *c, const uint8_t *buf, size_t len, bool *cut)
{
	size_t i = 0;

	*cut = false;
	if (c->pos < c->p.min) {
		i = min_size(c->p.min - c->pos, len);
		c->pos += i;
	}
	*cut = scan_to(c, buf, len, &i, c->p.avg, c->mask_s) ||
	       scan_to(c, buf, len, &i, c->p.max, c->mask_l) || c->pos == c->p.max;
	if (*cut) {
		c->pos = 0;
		c->h = 0;
	}
	return i;
}

size_t chunker_finish(struct chunker *c)
{
	size_t n = c->pos;

	c->pos = 0;
	c->h = 0;
	return n;
}

size_t chunker_pending(const struct chunker *c)
{
	return c->pos;
}
