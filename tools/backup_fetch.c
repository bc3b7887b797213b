/* Reading pack bytes back. A pack's bytes are its data shards in order
 * (erasure.h), so a range of the pack is read from the data shards it lies
 * in; where a data shard's holder is dead, refuses, or sent bytes that do
 * not check, the same range is read from any k other shards and decoded.
 * A holder that failed once is not asked again in this run.
 *
 * Any number of reads (struct fetch_read) are in flight at once, all moved
 * on by fetch_pump(): a restore keeps a window of them ahead of what it
 * writes, fetch_range() several of its own. Each read is cut into parts,
 * one per data shard it touches, each part into requests of at most
 * PROTO_HOLD_PIECE_MAX. A degraded part is read and decoded in rounds of
 * at most degraded_stripe() bytes per shard, so that its buffers ((k + m)
 * of them) stay small whatever the range; and the buffers of all degraded
 * parts together stay under FETCH_DEGRADED_MAX (a part over it waits for
 * the others, unless none holds any). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "proto/error.h"
#include "proto/peerid.h"
#include "backup.h"
#include "relay.h"

#define FETCH_FAILED_MAX 256
/* Bytes of degraded parts' shard buffers held at once. */
#define FETCH_DEGRADED_MAX ((size_t)8 << 20)
/* Reads fetch_range() keeps in flight, of FETCH_MAX each. */
#define FETCH_RANGE_READS 8

/* One data shard's part of a read: shard offset a, n bytes, to dst. */
struct part {
	struct fetch_read *r;
	unsigned shard;
	uint64_t a;
	size_t n;
	uint8_t *dst;
	bool degraded;
	bool waiting;   /* degraded, waits for room for its buffers */
	uint8_t *tmp;   /* degraded: k + m buffers of stripe bytes */
	size_t stripe;  /* each buffer's size */
	size_t tmp_len; /* (k + m) * stripe */
	size_t round;   /* degraded: part bytes decoded so far (into dst) */
	size_t round_n; /* bytes of the round being read */
	bool present[PLACE_SHARDS_MAX];
	unsigned pending; /* requests in flight or waiting to be sent again */
	bool failed_read; /* one of them failed: start again when pending is 0 */
	bool done;
};

struct fetch_read {
	struct fetch *f;
	const struct snap_pack *pack;
	struct part parts[ERASURE_K_MAX];
	unsigned n_parts;
	struct fetch_read *prev, *next; /* in f->reads */
};

struct read_req {
	struct part *p;
	unsigned shard;
	uint64_t off; /* in the shard */
	size_t len;
	uint8_t *dst;
	unsigned busy;         /* busy answers to it so far */
	struct read_req *next; /* in the fetch's list to send again */
};

struct fetch {
	struct bk *b;
	struct erasure *ec;
	struct fetch_read *reads; /* every read made */
	struct fetch_read *range[FETCH_RANGE_READS];
	size_t degraded_bytes; /* the parts' tmp buffers */
	int rc;
	char err[400];
	uint8_t failed[FETCH_FAILED_MAX][PROTO_KEY_LEN];
	size_t n_failed;
	struct read_req *again; /* answered busy: sent again after a pause */
	uint64_t again_ms;
};

int fetch_new(struct fetch **out, struct bk *b)
{
	*out = calloc(1, sizeof(**out));
	if (!*out)
		return -ENOMEM;
	(*out)->b = b;
	return 0;
}

static size_t shard_len_of(const struct snap_pack *p)
{
	return (p->len + p->k - 1) / p->k;
}

/* Drops the requests of read r (all of them with r NULL) waiting to be
 * sent again. */
static void again_drop(struct fetch *f, const struct fetch_read *r)
{
	struct read_req **at = &f->again;

	while (*at) {
		struct read_req *q = *at;
		if (r && q->p->r != r) {
			at = &q->next;
			continue;
		}
		*at = q->next;
		q->p->pending--;
		free(q);
	}
}

static void part_free_tmp(struct part *p)
{
	if (!p->tmp)
		return;
	free(p->tmp);
	p->tmp = NULL;
	p->r->f->degraded_bytes -= p->tmp_len;
}

/* Forgets r's parts; none of its requests may be in flight. */
static void read_clear(struct fetch_read *r)
{
	again_drop(r->f, r);
	for (unsigned i = 0; i < r->n_parts; i++)
		part_free_tmp(&r->parts[i]);
	r->n_parts = 0;
}

static bool read_pending(const struct fetch_read *r)
{
	for (unsigned i = 0; i < r->n_parts; i++)
		if (r->parts[i].pending)
			return true;
	return false;
}

int fetch_read_new(struct fetch *f, struct fetch_read **out)
{
	struct fetch_read *r = calloc(1, sizeof(*r));

	*out = r;
	if (!r)
		return -ENOMEM;
	r->f = f;
	r->next = f->reads;
	if (f->reads)
		f->reads->prev = r;
	f->reads = r;
	return 0;
}

void fetch_read_free(struct fetch_read **rp)
{
	struct fetch_read *r = rp ? *rp : NULL;
	struct fetch *f;

	if (!r)
		return;
	f = r->f;
	/* Its requests' answers would land in freed memory. */
	again_drop(f, r);
	if (read_pending(r))
		bk_drain(f->b);
	read_clear(r);
	if (r->prev)
		r->prev->next = r->next;
	else
		f->reads = r->next;
	if (r->next)
		r->next->prev = r->prev;
	free(r);
	*rp = NULL;
}

void fetch_free(struct fetch **f)
{
	if (!f || !*f)
		return;
	while ((*f)->reads) {
		struct fetch_read *r = (*f)->reads;
		fetch_read_free(&r);
	}
	again_drop(*f, NULL);
	erasure_free(&(*f)->ec);
	free(*f);
	*f = NULL;
}

const char *fetch_error(const struct fetch *f)
{
	return f->err;
}

bool fetch_peer_failed(const struct fetch *f, const uint8_t peer[PROTO_KEY_LEN])
{
	for (size_t i = 0; i < f->n_failed; i++)
		if (!memcmp(f->failed[i], peer, PROTO_KEY_LEN))
			return true;
	return false;
}

void fetch_mark_failed(struct fetch *f, const uint8_t peer[PROTO_KEY_LEN])
{
	if (fetch_peer_failed(f, peer) || f->n_failed == FETCH_FAILED_MAX)
		return;
	memcpy(f->failed[f->n_failed++], peer, PROTO_KEY_LEN);
}

static int set_error(struct fetch *f, int rc)
{
	if (!f->rc)
		f->rc = rc;
	if (!f->err[0])
		snprintf(f->err, sizeof(f->err), "%s", proto_strerror(rc));
	return f->rc;
}

static void on_read(void *arg, int code, const char *err, const uint8_t *result, size_t len)
{
	struct read_req *r = arg;
	struct part *p = r->p;
	struct fetch *f = p->r->f;
	const struct snap_pack *pack = p->r->pack;
	struct proto_hold_data d;
	char who[PROTO_PEERID_SHORT_LEN + 1];

	if (code == -EAGAIN && ++r->busy <= BK_BUSY_TRIES) {
		/* Still pending: the same read goes again after a pause. */
		if (!f->again)
			f->again_ms = bk_now_ms() + BK_BUSY_WAIT_MS;
		r->next = f->again;
		f->again = r;
		return;
	}
	p->pending--;
	if (!code && proto_hold_data_decode(&d, result, len) != 0)
		code = KITH_EMALFORMED, err = "an unreadable answer to hold.read";
	if (!code && (d.len != r->len || d.size != shard_len_of(pack)))
		code = KITH_EVALUE, err = "a shard of the wrong size";
	if (code) {
		proto_peerid_short(who, pack->holder[r->shard]);
		if (!fetch_peer_failed(f, pack->holder[r->shard]))
			fprintf(stderr, "kith: %s: %s; reading around it\n", who,
			        err && err[0] ? err : proto_strerror(code));
		fetch_mark_failed(f, pack->holder[r->shard]);
		p->failed_read = true;
	} else {
		memcpy(r->dst, d.data, d.len);
		f->b->received += d.len;
	}
	free(r);
}

/* Sends read r, waiting for a free slot of the relay (answers to other
 * requests are taken meanwhile). */
static int send_read(struct fetch *f, struct read_req *r)
{
	const struct snap_pack *pack = r->p->r->pack;
	struct proto_hold_read args = {.offset = r->off, .len = (uint32_t)r->len};
	struct mp_buf buf = {0};
	int rc;

	bk_shard_name(args.name, pack->id, r->shard);
	rc = proto_hold_read_encode(&buf, &args);
	while (!rc && (rc = relay_send(f->b->relay, pack->holder[r->shard], PROTO_OP_HOLD_READ,
	                               &buf, on_read, r)) == -EBUSY) {
		rc = relay_wait(f->b->relay, 50);
		rc = rc < 0 ? rc : 0;
	}
	mp_buf_free(&buf);
	return rc;
}

/* Reads shard's [off, off + n) into dst, in pieces, for part p. */
static int read_shard(struct part *p, unsigned shard, uint64_t off, size_t n, uint8_t *dst)
{
	for (size_t at = 0; at < n;) {
		struct read_req *r = calloc(1, sizeof(*r));
		size_t len = n - at < PROTO_HOLD_PIECE_MAX ? n - at : PROTO_HOLD_PIECE_MAX;
		int rc;

		if (!r)
			return -ENOMEM;
		*r = (struct read_req){
		    .p = p, .shard = shard, .off = off + at, .len = len, .dst = dst + at};
		rc = send_read(p->r->f, r);
		if (rc) {
			free(r);
			return rc;
		}
		p->pending++;
		at += len;
	}
	return 0;
}

/* A degraded round's bytes per shard: a quarter of FETCH_DEGRADED_MAX
 * over the shards, in whole pieces where it can. */
static size_t degraded_stripe(unsigned shards)
{
	size_t s = FETCH_DEGRADED_MAX / 4 / shards;

	return s >= PROTO_HOLD_PIECE_MAX ? s - s % PROTO_HOLD_PIECE_MAX : s - s % 4096;
}

/* Reads the round of degraded part p at p->round from its present shards. */
static int round_begin(struct part *p)
{
	unsigned shards = p->r->pack->k + p->r->pack->m;
	int rc;

	p->round_n = p->n - p->round < p->stripe ? p->n - p->round : p->stripe;
	for (unsigned j = 0; j < shards; j++)
		if (p->present[j] && (rc = read_shard(p, j, p->a + p->round, p->round_n,
		                                      p->tmp + j * p->stripe)) != 0)
			return rc;
	return 0;
}

/* Starts part p: from its data shard, or degraded from k others. */
static int part_begin(struct part *p)
{
	struct fetch *f = p->r->f;
	const struct snap_pack *pack = p->r->pack;
	unsigned k = pack->k, shards = k + pack->m, got = 0;

	p->failed_read = false;
	p->waiting = false;
	if (!p->degraded && fetch_peer_failed(f, pack->holder[p->shard]))
		p->degraded = true;
	if (!p->degraded)
		return read_shard(p, p->shard, p->a, p->n, p->dst);
	memset(p->present, 0, sizeof(p->present));
	for (unsigned j = 0; j < shards && got < k; j++) {
		if (fetch_peer_failed(f, pack->holder[j]))
			continue;
		p->present[j] = true;
		got++;
	}
	if (got < k) {
		char hex[17];
		sodium_bin2hex(hex, sizeof(hex), pack->id, 8);
		f->rc = KITH_EMISSING;
		snprintf(f->err, sizeof(f->err),
		         "pack %s: only %u of its %u shards can be read, %u are needed", hex, got,
		         shards, k);
		return f->rc;
	}
	if (!p->tmp) {
		size_t stripe = degraded_stripe(shards);
		stripe = p->n < stripe ? p->n : stripe;
		if (f->degraded_bytes && f->degraded_bytes + shards * stripe > FETCH_DEGRADED_MAX) {
			p->waiting = true;
			return 0;
		}
		if (!(p->tmp = malloc(shards * stripe)))
			return -ENOMEM;
		p->stripe = stripe;
		p->tmp_len = shards * stripe;
		f->degraded_bytes += p->tmp_len;
	}
	return round_begin(p);
}

/* Part p's requests all ended well: decodes a degraded round, and starts
 * the next one. */
static int part_end(struct part *p)
{
	struct fetch *f = p->r->f;
	const struct snap_pack *pack = p->r->pack;
	unsigned shards = pack->k + pack->m;
	uint8_t *ptr[PLACE_SHARDS_MAX];
	int rc;

	if (!p->degraded) {
		p->done = true;
		return 0;
	}
	if (!f->ec || erasure_k(f->ec) != pack->k || erasure_m(f->ec) != pack->m) {
		erasure_free(&f->ec);
		if ((rc = erasure_new(&f->ec, pack->k, pack->m)) != 0)
			return rc;
	}
	for (unsigned j = 0; j < shards; j++)
		ptr[j] = p->tmp + (size_t)j * p->stripe;
	rc = erasure_decode(f->ec, ptr, p->present, p->round_n);
	if (rc)
		return rc;
	memcpy(p->dst + p->round, ptr[p->shard], p->round_n);
	p->round += p->round_n;
	if (p->round < p->n)
		return round_begin(p);
	part_free_tmp(p);
	p->done = true;
	return 0;
}

int fetch_pump(struct fetch *f)
{
	if (f->again && bk_now_ms() >= f->again_ms) {
		struct read_req *r = f->again;
		f->again = NULL;
		while (r) {
			struct read_req *next = r->next;
			int rc = f->rc ? f->rc : send_read(f, r);
			if (rc) {
				set_error(f, rc);
				r->p->pending--;
				free(r);
			}
			r = next;
		}
	}
	for (struct fetch_read *r = f->reads; r && !f->rc; r = r->next) {
		for (unsigned i = 0; i < r->n_parts && !f->rc; i++) {
			struct part *p = &r->parts[i];
			int rc = 0;

			if (p->done || p->pending)
				continue;
			if (p->waiting) {
				rc = part_begin(p);
			} else if (p->failed_read) {
				p->degraded = true;
				rc = part_begin(p);
			} else {
				rc = part_end(p);
			}
			if (rc)
				set_error(f, rc);
		}
	}
	return f->rc;
}

bool fetch_read_done(const struct fetch_read *r)
{
	for (unsigned i = 0; i < r->n_parts; i++)
		if (!r->parts[i].done)
			return false;
	return true;
}

bool fetch_read_direct(const struct fetch_read *r, unsigned shard)
{
	for (unsigned i = 0; i < r->n_parts; i++)
		if (r->parts[i].shard == shard)
			return !r->parts[i].degraded;
	return false;
}

int fetch_read_start(struct fetch_read *r, const struct snap_pack *p, uint64_t off, size_t len,
                     uint8_t *out)
{
	struct fetch *f = r->f;
	size_t s = shard_len_of(p);
	int rc;

	read_clear(r);
	r->pack = p;
	if (off + len > (uint64_t)s * p->k)
		return set_error(f, KITH_EVALUE);
	for (unsigned i = (unsigned)(off / s); len; i++) {
		uint64_t a = off - (uint64_t)i * s;
		size_t n = s - a < len ? (size_t)(s - a) : len;
		r->parts[r->n_parts++] =
		    (struct part){.r = r, .shard = i, .a = a, .n = n, .dst = out};
		out += n, off += n, len -= n;
	}
	for (unsigned i = 0; i < r->n_parts; i++)
		if ((rc = part_begin(&r->parts[i])) != 0)
			return set_error(f, rc);
	return 0;
}

int fetch_range(struct fetch *f, const struct snap_pack *p, uint64_t off, size_t len, uint8_t *out)
{
	size_t at = 0;
	int rc = 0;

	f->rc = 0;
	f->err[0] = '\0';
	for (unsigned i = 0; i < FETCH_RANGE_READS; i++)
		if (!f->range[i] && (rc = fetch_read_new(f, &f->range[i])) != 0)
			return set_error(f, rc);
	for (;;) {
		bool busy = false;

		for (unsigned i = 0; i < FETCH_RANGE_READS && !rc; i++) {
			struct fetch_read *r = f->range[i];
			if (at < len && fetch_read_done(r)) {
				size_t n = len - at < FETCH_MAX ? len - at : FETCH_MAX;
				rc = fetch_read_start(r, p, off + at, n, out + at);
				at += n;
			}
			busy = busy || !fetch_read_done(r);
		}
		if (!rc && !busy && at == len)
			return 0;
		if (!rc) {
			rc = relay_wait(f->b->relay, 50);
			rc = rc < 0 ? set_error(f, rc) : fetch_pump(f);
		}
		if (rc) {
			/* Every answer is in (or given up) before the reads are
			 * forgotten: the next call starts clean. */
			bk_drain(f->b);
			for (unsigned i = 0; i < FETCH_RANGE_READS; i++)
				read_clear(f->range[i]);
			return rc;
		}
	}
}
