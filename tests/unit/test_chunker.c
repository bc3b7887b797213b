/* The chunker: its cuts are those of a plain whole-buffer FastCDC written
 * from the description in chunker.h; they do not depend on how the input
 * is fed; sizes stay within [min, max]; the key decides the cuts; and the
 * goal that fixed the default sizes holds: a 64 MiB dump with 1% of its
 * bytes changed in 100 scattered edits sends at most 5% of its bytes
 * (the bytes of its chunks that the old version lacks), for text and for
 * incompressible data. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "backup/chunker.h"
#include "proto/error.h"
#include "tap.h"

#define MIB (1024u * 1024u)
#define EDITS 100
#define GOAL_SIZE (64 * MIB)
#define SMALL_SIZE (4 * MIB)

/* ---- data (the generator of tests/bench/chunker.c) ---- */

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static const char *const words[] = {
    "alpha",  "bravo",  "charlie", "delta", "echo",    "foxtrot",  "golf",    "hotel",
    "india",  "juliet", "kilo",    "lima",  "mike",    "november", "oscar",   "papa",
    "quebec", "romeo",  "sierra",  "tango", "uniform", "victor",   "whiskey", "xray",
    "yankee", "zulu",   "red",     "green", "blue",    "amber",    "violet",  "ochre",
};

/* Lines "INSERT INTO t VALUES (id, 'w w w', n);\n", ids from *id, the
 * last line cut at n bytes. */
static void text_fill(uint8_t *buf, size_t n, uint64_t *rng, uint64_t *id)
{
	char line[160];
	size_t at = 0;

	while (at < n) {
		uint64_t r = splitmix(rng);
		int k =
		    snprintf(line, sizeof(line), "INSERT INTO t VALUES (%llu, '%s %s %s', %llu);\n",
		             (unsigned long long)(*id)++, words[r & 31], words[(r >> 5) & 31],
		             words[(r >> 10) & 31], (unsigned long long)((r >> 15) % 1000000));
		size_t m = (size_t)k < n - at ? (size_t)k : n - at;
		memcpy(buf + at, line, m);
		at += m;
	}
}

static void random_fill(uint8_t *buf, size_t n, uint64_t *rng)
{
	for (size_t i = 0; i < n; i += 8) {
		uint64_t r = splitmix(rng);
		memcpy(buf + i, &r, n - i < 8 ? n - i : 8);
	}
}

static void fill(bool text, uint8_t *buf, size_t n, uint64_t *rng, uint64_t *id)
{
	if (text)
		text_fill(buf, n, rng, id);
	else
		random_fill(buf, n, rng);
}

/* A new version of old (malloc'd, *out_len bytes): EDITS edits at
 * scattered places, each a replacement, an insertion or a deletion,
 * of random sizes adding up to 1% of old's bytes in all (*changed). */
static uint8_t *edit(bool text, const uint8_t *old, size_t len, size_t *out_len, size_t *changed,
                     uint64_t seed)
{
	uint64_t rng = seed, id = 1u << 30;
	size_t at = 0, o = 0;
	uint8_t *out = malloc(len + len / 50);
	size_t pos[EDITS], size[EDITS], budget = len / 100, wsum = 0;

	*changed = 0;
	if (!out)
		return NULL;
	/* sizes in proportion to random weights 1..1000, adding up to budget */
	for (size_t i = 0; i < EDITS; i++) {
		pos[i] = splitmix(&rng) % len;
		size[i] = 1 + splitmix(&rng) % 1000;
		wsum += size[i];
	}
	for (size_t i = 0, left = budget; i < EDITS; i++) {
		size[i] = i + 1 < EDITS ? budget * size[i] / wsum : left;
		left -= size[i];
	}
	for (size_t i = 0; i < EDITS; i++) /* sort: EDITS is small */
		for (size_t j = i + 1; j < EDITS; j++)
			if (pos[j] < pos[i]) {
				size_t t = pos[i];
				pos[i] = pos[j];
				pos[j] = t;
			}
	for (size_t i = 0; i < EDITS && at < len; i++) {
		uint64_t r = splitmix(&rng);
		size_t n = size[i], p = pos[i] < at ? at : pos[i];
		unsigned kind = r % 3; /* 0 replace, 1 insert, 2 delete */

		if (kind != 1 && n > len - p)
			n = len - p;
		memcpy(out + o, old + at, p - at);
		o += p - at;
		at = p;
		if (kind != 2) {
			fill(text, out + o, n, &rng, &id);
			o += n;
		}
		if (kind != 1)
			at += n;
		*changed += n;
	}
	memcpy(out + o, old + at, len - at);
	*out_len = o + len - at;
	return out;
}

/* ---- cutting ---- */

/* The chunk ends (offsets just past each chunk) of one stream. */
struct cuts {
	size_t *end;
	size_t n, cap;
};

static void cuts_add(struct cuts *c, size_t end)
{
	if (c->n == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 1024;
		c->end = realloc(c->end, c->cap * sizeof(*c->end));
		if (!c->end) {
			printf("Bail out! out of memory\n");
			exit(1);
		}
	}
	c->end[c->n++] = end;
}

static bool cuts_equal(const struct cuts *a, const struct cuts *b)
{
	return a->n == b->n && !memcmp(a->end, b->end, a->n * sizeof(*a->end));
}

/* How the input is split into calls: a fixed size, or random sizes in
 * 1..64 KiB with empty calls between (feed 0). */
struct feeder {
	size_t size;
	uint64_t rng;
};

static size_t feed_size(struct feeder *f, size_t left)
{
	size_t n = f->size;

	if (!n)
		n = splitmix(&f->rng) % 65537; /* 0 included */
	return n < left ? n : left;
}

/* Cuts buf through the streaming interface; the ends go to *out. A call
 * that breaks the interface's promises adds an end of SIZE_MAX, which no
 * comparison survives. */
static void cut(struct chunker *c, const uint8_t *buf, size_t len, struct feeder f,
                struct cuts *out)
{
	size_t at = 0, last = 0, tail;

	out->n = 0;
	while (at < len) {
		bool is_cut;
		size_t want = feed_size(&f, len - at),
		       got = chunker_next(c, buf + at, want, &is_cut);

		if (got > want || (!is_cut && got != want) ||
		    chunker_pending(c) != (is_cut ? 0 : at + got - last)) {
			printf("# chunker_next took %zu of %zu bytes, cut %d\n", got, want, is_cut);
			cuts_add(out, SIZE_MAX);
			chunker_finish(c);
			return;
		}
		at += got;
		if (is_cut) {
			cuts_add(out, at);
			last = at;
		}
	}
	tail = chunker_finish(c);
	if (tail != at - last)
		cuts_add(out, SIZE_MAX);
	else if (tail)
		cuts_add(out, at);
}

static void cut_whole(struct chunker *c, const uint8_t *buf, size_t len, struct cuts *out)
{
	cut(c, buf, len, (struct feeder){.size = SIZE_MAX}, out);
}

/* The reference: FastCDC as chunker.c's opening comment describes it
 * (normalization level 1), over a whole buffer, with its own gear table
 * from the key. */
static void reference(const uint8_t key[CHUNKER_KEY_LEN], const struct chunker_params *p,
                      const uint8_t *buf, size_t len, struct cuts *out)
{
	static const uint8_t nonce[crypto_stream_chacha20_NONCEBYTES] = "kithgear";
	uint8_t stream[2048];
	uint64_t gear[256], mask_s, mask_l;
	unsigned bits = 0;
	size_t start = 0;

	crypto_stream_chacha20(stream, sizeof(stream), nonce, key);
	for (size_t i = 0; i < 256; i++) {
		gear[i] = 0;
		for (size_t j = 0; j < 8; j++)
			gear[i] |= (uint64_t)stream[8 * i + j] << (8 * j);
	}
	while ((1u << bits) < p->avg)
		bits++;
	mask_s = ~UINT64_C(0) << (64 - (bits + 1));
	mask_l = ~UINT64_C(0) << (64 - (bits - 1));
	out->n = 0;
	while (start < len) {
		size_t n = len - start, i = p->min, end;
		uint64_t h = 0;

		if (n <= p->min) {
			cuts_add(out, len);
			break;
		}
		end = n < p->max ? n : p->max;
		for (; i < end; i++) {
			h = (h << 1) + gear[buf[start + i]];
			if (!(h & (i < p->avg ? mask_s : mask_l))) {
				i++;
				break;
			}
		}
		start += i; /* i == end when nothing cut */
		cuts_add(out, start);
	}
}

/* Every chunk within [min, max], but the last at most max. */
static bool sizes_ok(const struct cuts *c, const struct chunker_params *p, size_t *forced)
{
	size_t prev = 0;

	*forced = 0;
	for (size_t i = 0; i < c->n; i++) {
		size_t len = c->end[i] - prev;
		if (len > p->max || (len < p->min && i + 1 < c->n) || len == 0)
			return false;
		*forced += len == p->max;
		prev = c->end[i];
	}
	return true;
}

/* How many of a's ends are also b's. */
static size_t common_ends(const struct cuts *a, const struct cuts *b)
{
	size_t i = 0, j = 0, n = 0;

	while (i < a->n && j < b->n) {
		if (a->end[i] == b->end[j]) {
			n++;
			i++;
			j++;
		} else if (a->end[i] < b->end[j]) {
			i++;
		} else {
			j++;
		}
	}
	return n;
}

/* ---- tests ---- */

static const uint8_t key_a[CHUNKER_KEY_LEN] = "kith chunker test key number 1.";
static const uint8_t key_b[CHUNKER_KEY_LEN] = "kith chunker test key number 2.";

static void test_params(void)
{
	struct chunker_params d = chunker_params_default();
	static const struct chunker_params bad[] = {
	    {2048, 12288, 65536},              /* avg not a power of two */
	    {8192, 8192, 65536},               /* min == avg */
	    {2048, 8192, 8192},                /* max == avg */
	    {32, 8192, 65536},                 /* min under the hash window */
	    {64, 128, 1024},                   /* avg under 256 */
	    {1 << 20, 1 << 23, 1 << 24},       /* avg and max too large */
	    {1 << 20, 1 << 22, (8 << 20) + 1}, /* max over 8 MiB */
	    {0, 0, 0},
	};
	static const struct chunker_params good[] = {
	    {64, 256, 257},
	    {1 << 20, 1 << 22, 8 << 20},
	};
	uint64_t not_a_chunker;
	struct chunker *c = (struct chunker *)&not_a_chunker; /* to be set to NULL on error */

	is(chunker_params_check(&d), 0, "defaults are valid");
	ok(d.min == CHUNKER_MIN_DEFAULT && d.avg == CHUNKER_AVG_DEFAULT &&
	       d.max == CHUNKER_MAX_DEFAULT,
	   "defaults are the documented ones");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		is(chunker_params_check(&bad[i]), KITH_EVALUE, "bad sizes refused");
	is(chunker_params_check(NULL), KITH_EVALUE, "no sizes refused");
	is(chunker_new(&c, key_a, &bad[0]), KITH_EVALUE, "chunker_new refuses bad sizes");
	ok(c == NULL, "and leaves no chunker");
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		is(chunker_new(&c, key_a, &good[i]), 0, "extreme valid sizes accepted");
		chunker_free(&c);
	}
	ok(c == NULL, "chunker_free clears the pointer");
	chunker_free(&c);
	chunker_free(NULL);
	ok(1, "chunker_free(NULL) is harmless");
}

static void test_small_inputs(void)
{
	struct chunker_params d = chunker_params_default();
	struct chunker *c = NULL;
	uint8_t buf[CHUNKER_MIN_DEFAULT];
	bool is_cut = true;

	memset(buf, 'x', sizeof(buf));
	if (chunker_new(&c, key_a, NULL)) {
		ok(0, "chunker for small inputs");
		return;
	}
	is(chunker_finish(c), 0, "empty stream: no chunk");
	is(chunker_next(c, buf, 0, &is_cut), 0, "empty feed takes nothing");
	ok(!is_cut, "and cuts nothing");
	is(chunker_next(c, NULL, 0, &is_cut), 0, "no buffer, no bytes: nothing taken");
	is(chunker_finish(c), 0, "still no chunk");

	is(chunker_next(c, buf, 10, &is_cut), 10, "10 bytes taken");
	ok(!is_cut, "no cut before min");
	is(chunker_pending(c), 10, "10 bytes pending");
	is(chunker_finish(c), 10, "input shorter than min: one chunk of it");
	is(chunker_pending(c), 0, "finish starts a new stream");

	is(chunker_next(c, buf, d.min, &is_cut), d.min, "exactly min bytes taken");
	ok(!is_cut, "no cut at min: a cut falls after min bytes at the earliest");
	is(chunker_finish(c), d.min, "one chunk of min bytes");
	chunker_free(&c);
}

/* The streaming cuts are the reference's, for text and random data and
 * for default and tiny sizes (these with forced cuts at max). */
static void test_reference(const uint8_t *text, const uint8_t *rnd, size_t len)
{
	static const struct chunker_params tiny = {64, 256, 512};
	const struct chunker_params d = chunker_params_default();
	const struct chunker_params *ps[] = {&d, &tiny};
	struct cuts got = {0}, want = {0};

	for (size_t i = 0; i < 2; i++)
		for (int t = 0; t < 2; t++) {
			struct chunker *c = NULL;
			const uint8_t *buf = t ? text : rnd;
			size_t forced;
			char what[120];

			if (chunker_new(&c, key_a, ps[i])) {
				ok(0, "chunker");
				continue;
			}
			cut_whole(c, buf, len, &got);
			reference(key_a, ps[i], buf, len, &want);
			snprintf(what, sizeof(what),
			         "%s data, avg %u: %zu cuts, as the reference's",
			         t ? "text" : "random", ps[i]->avg, got.n);
			ok(cuts_equal(&got, &want), what);
			snprintf(what, sizeof(what), "%s data, avg %u: sizes within [min, max]",
			         t ? "text" : "random", ps[i]->avg);
			ok(sizes_ok(&got, ps[i], &forced), what);
			printf("#   mean %zu B, %zu forced cuts at max\n", len / got.n, forced);
			if (ps[i] == &tiny)
				ok(forced > 0, "max = 2 avg: some chunks cut at max, exactly");
			else
				ok(len / got.n >= d.avg && len / got.n <= 2 * d.avg,
				   "defaults: mean chunk between avg and 2 avg");
			chunker_free(&c);
		}
	free(got.end);
	free(want.end);
}

/* The cuts do not depend on how the input is fed. */
static void test_feeds(const uint8_t *text, const uint8_t *rnd, size_t len)
{
	static const size_t sizes[] = {1, 7, 4096, 0 /* random */, 65536 * 3 + 1};
	struct cuts whole = {0}, got = {0};
	struct chunker *c = NULL;

	if (chunker_new(&c, key_a, NULL)) {
		ok(0, "chunker");
		return;
	}
	for (int t = 0; t < 2; t++) {
		const uint8_t *buf = t ? text : rnd;

		cut_whole(c, buf, len, &whole);
		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			char what[100];

			cut(c, buf, len, (struct feeder){.size = sizes[i], .rng = 42 + i}, &got);
			if (sizes[i])
				snprintf(what, sizeof(what),
				         "%s, fed in pieces of %zu bytes: same cuts",
				         t ? "text" : "random", sizes[i]);
			else
				snprintf(what, sizeof(what),
				         "%s, fed 0..64 KiB at random: same cuts",
				         t ? "text" : "random");
			ok(cuts_equal(&whole, &got), what);
		}
	}
	/* a stream ended mid-chunk leaves nothing behind */
	{
		bool is_cut;
		chunker_next(c, rnd, 12345, &is_cut);
		chunker_finish(c);
		cut_whole(c, text, len, &got);
		cut_whole(c, text, len, &whole);
		ok(cuts_equal(&whole, &got) && whole.n > 1,
		   "after finish, a new stream is cut as by a fresh chunker");
	}
	chunker_free(&c);
	free(whole.end);
	free(got.end);
}

static void test_keys(const uint8_t *text, size_t len)
{
	struct chunker *a1 = NULL, *a2 = NULL, *b = NULL;
	struct cuts ca1 = {0}, ca2 = {0}, cb = {0};
	size_t common;

	if (chunker_new(&a1, key_a, NULL) || chunker_new(&a2, key_a, NULL) ||
	    chunker_new(&b, key_b, NULL)) {
		ok(0, "chunkers");
		goto done;
	}
	cut_whole(a1, text, len, &ca1);
	cut_whole(a2, text, len, &ca2);
	cut_whole(b, text, len, &cb);
	ok(cuts_equal(&ca1, &ca2), "same key: same cuts");
	common = common_ends(&ca1, &cb);
	printf("#   key a %zu cuts, key b %zu, %zu in common (the end of the input included)\n",
	       ca1.n, cb.n, common);
	/* two independent cut sets of density 1/11 KiB meet at ~1 in 11000
	 * places: a few percent would already mean the key barely matters */
	ok(common * 100 < ca1.n, "another key: other cuts (under 1% in common)");
done:
	chunker_free(&a1);
	chunker_free(&a2);
	chunker_free(&b);
	free(ca1.end);
	free(ca2.end);
	free(cb.end);
}

/* A run of zeros hashes to a fixed sequence from each chunk's min on, so
 * every chunk in it has the same length: max (the usual case, as here)
 * or a shorter one for a rare key. Either way the run dedups to one
 * chunk, and no chunk is tiny. */
static void test_zeros(void)
{
	const struct chunker_params d = chunker_params_default();
	const uint8_t *keys[] = {key_a, key_b};
	size_t len = SMALL_SIZE + 1000;
	uint8_t *zeros = calloc(1, len);
	struct cuts got = {0};

	for (size_t k = 0; k < 2 && zeros; k++) {
		struct chunker *c = NULL;
		size_t first, forced;
		bool same = true;

		if (chunker_new(&c, keys[k], NULL)) {
			ok(0, "chunker");
			continue;
		}
		cut_whole(c, zeros, len, &got);
		first = got.n ? got.end[0] : 0;
		for (size_t i = 1; i + 1 < got.n; i++)
			same = same && got.end[i] - got.end[i - 1] == first;
		printf("#   key %zu: %zu chunks of %zu B, last %zu B\n", k, got.n, first,
		       got.n > 1 ? len - got.end[got.n - 2] : len);
		ok(same && sizes_ok(&got, &d, &forced),
		   "zeros: chunks of one length, within bounds");
		is(first, d.max, "zeros: cut at max (for these keys)");
		chunker_free(&c);
	}
	ok(zeros != NULL, "zeros allocated");
	free(zeros);
	free(got.end);
}

/* ---- the goal ---- */

struct chunk {
	uint8_t id[16];
	size_t len;
};

static int chunk_cmp(const void *a, const void *b)
{
	return memcmp(((const struct chunk *)a)->id, ((const struct chunk *)b)->id, 16);
}

/* The chunks of buf cut at c's ends, with their IDs (BLAKE2b-128 of the
 * bytes, as a backup names them), sorted by ID; malloc'd. */
static struct chunk *chunks(const uint8_t *buf, const struct cuts *c)
{
	struct chunk *v = malloc((c->n ? c->n : 1) * sizeof(*v));
	size_t prev = 0;

	for (size_t i = 0; v && i < c->n; i++) {
		crypto_generichash(v[i].id, 16, buf + prev, c->end[i] - prev, NULL, 0);
		v[i].len = c->end[i] - prev;
		prev = c->end[i];
	}
	if (v)
		qsort(v, c->n, sizeof(*v), chunk_cmp);
	return v;
}

/* Bytes a second backup sends: those of new's chunks (each distinct one
 * once) whose ID old lacks. */
static size_t sent(const uint8_t *old, size_t old_len, const uint8_t *new, size_t new_len)
{
	struct chunker *c = NULL;
	struct cuts co = {0}, cn = {0};
	struct chunk *a = NULL, *b = NULL;
	size_t bytes = SIZE_MAX;

	if (chunker_new(&c, key_a, NULL))
		return SIZE_MAX;
	cut(c, old, old_len, (struct feeder){.size = MIB}, &co);
	cut(c, new, new_len, (struct feeder){.size = MIB}, &cn);
	if ((a = chunks(old, &co)) && (b = chunks(new, &cn))) {
		bytes = 0;
		for (size_t i = 0; i < cn.n; i++)
			if ((i == 0 || chunk_cmp(&b[i], &b[i - 1])) &&
			    !bsearch(&b[i], a, co.n, sizeof(*a), chunk_cmp))
				bytes += b[i].len;
	}
	free(a);
	free(b);
	free(co.end);
	free(cn.end);
	chunker_free(&c);
	return bytes;
}

static void test_goal(bool text)
{
	uint8_t *old = malloc(GOAL_SIZE), *new = NULL, *same = NULL;
	uint64_t rng = 2024, id = 1;
	size_t new_len = 0, changed = 0, bytes;
	char what[120];

	if (!old || !(same = malloc(GOAL_SIZE))) {
		ok(0, "64 MiB allocated");
		goto done;
	}
	fill(text, old, GOAL_SIZE, &rng, &id);
	memcpy(same, old, GOAL_SIZE);
	is(sent(old, GOAL_SIZE, same, GOAL_SIZE), 0, "an unchanged version sends nothing");
	if (!(new = edit(text, old, GOAL_SIZE, &new_len, &changed, 77))) {
		ok(0, "new version");
		goto done;
	}
	ok(changed >= GOAL_SIZE / 100 && changed < GOAL_SIZE / 100 + GOAL_SIZE / 1000,
	   "1% of the bytes edited");
	bytes = sent(old, GOAL_SIZE, new, new_len);
	printf("#   %s: %zu bytes changed in %d edits, %zu sent (%.2f%% of %zu)\n",
	       text ? "text" : "random", changed, EDITS, bytes, 100.0 * (double)bytes / new_len,
	       new_len);
	snprintf(what, sizeof(what), "%s, 1%% changed in %d edits: at most 5%% sent",
	         text ? "text dump" : "random data", EDITS);
	ok(bytes != SIZE_MAX && bytes * 20 <= new_len, what);
	ok(bytes >= changed / 2, "and at least the changes themselves (the measure measures)");
done:
	free(old);
	free(new);
	free(same);
}

int main(void)
{
	uint8_t *text = malloc(SMALL_SIZE), *rnd = malloc(SMALL_SIZE);
	uint64_t rng = 1, id = 1;

	if (sodium_init() < 0 || !text || !rnd) {
		printf("Bail out! setup\n");
		return 1;
	}
	text_fill(text, SMALL_SIZE, &rng, &id);
	random_fill(rnd, SMALL_SIZE, &rng);
	test_params();
	test_small_inputs();
	test_reference(text, rnd, SMALL_SIZE);
	test_feeds(text, rnd, SMALL_SIZE);
	test_keys(text, SMALL_SIZE);
	test_zeros();
	test_goal(true);
	test_goal(false);
	free(text);
	free(rnd);
	return tap_done();
}
