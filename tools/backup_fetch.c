/* Reading pack bytes back. A pack's bytes are its data shards in order
 * (erasure.h), so a range of the pack is read from the one or two data
 * shards it lies in; where a data shard's holder is dead, refuses, or sent
 * bytes that do not check, the same range is read from any k other shards
 * and decoded. A holder that failed once is not asked again in this run. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "proto/error.h"
#include "proto/peerid.h"
#include "backup.h"
#include "relay.h"

#define FETCH_FAILED_MAX 256
#define FETCH_PARTS_MAX (FETCH_MAX / 1 + 2) /* bounded below by data shards */

/* One data shard's part of the range: shard offset a, n bytes, to dst. */
struct part {
	struct fetch *f;
	unsigned shard;
	uint64_t a;
	size_t n;
	uint8_t *dst;
	bool degraded;
	uint8_t *tmp; /* degraded: (k + m) * n, shard j at j * n */
	bool present[PLACE_SHARDS_MAX];
	unsigned pending; /* reads in flight */
	bool failed_read; /* one of them failed: start again when pending is 0 */
	bool done;
};

struct read_req {
	struct part *p;
	unsigned shard;
	size_t at; /* offset within the part */
	size_t len;
	unsigned busy;         /* busy answers to it so far */
	struct read_req *next; /* in the fetch's list to send again */
};

struct fetch {
	struct bk *b;
	struct erasure *ec;
	const struct snap_pack *pack;
	size_t shard_len;
	struct part parts[ERASURE_K_MAX];
	unsigned n_parts;
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

/* Frees the reads waiting to be sent again (none is in flight). */
static void again_clear(struct fetch *f)
{
	while (f->again) {
		struct read_req *next = f->again->next;
		free(f->again);
		f->again = next;
	}
}

static void parts_clear(struct fetch *f)
{
	again_clear(f);
	for (unsigned i = 0; i < f->n_parts; i++) {
		free(f->parts[i].tmp);
		f->parts[i].tmp = NULL;
	}
	f->n_parts = 0;
}

void fetch_free(struct fetch **f)
{
	if (!f || !*f)
		return;
	parts_clear(*f);
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

static void on_read(void *arg, int code, const char *err, const uint8_t *result, size_t len)
{
	struct read_req *r = arg;
	struct part *p = r->p;
	struct fetch *f = p->f;
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
	if (!code && (d.len != r->len || d.size != f->shard_len))
		code = KITH_EVALUE, err = "a shard of the wrong size";
	if (code) {
		proto_peerid_short(who, f->pack->holder[r->shard]);
		if (!fetch_peer_failed(f, f->pack->holder[r->shard]))
			fprintf(stderr, "kith: %s: %s; reading around it\n", who,
			        err && err[0] ? err : proto_strerror(code));
		fetch_mark_failed(f, f->pack->holder[r->shard]);
		p->failed_read = true;
	} else if (p->degraded) {
		memcpy(p->tmp + (size_t)r->shard * p->n + r->at, d.data, d.len);
		f->b->received += d.len;
	} else {
		memcpy(p->dst + r->at, d.data, d.len);
		f->b->received += d.len;
	}
	free(r);
}

/* Sends read r, waiting for a free slot of the relay. */
static int send_read(struct fetch *f, struct read_req *r)
{
	struct proto_hold_read args = {.offset = r->p->a + r->at, .len = (uint32_t)r->len};
	struct mp_buf buf = {0};
	int rc;

	bk_shard_name(args.name, f->pack->id, r->shard);
	rc = proto_hold_read_encode(&buf, &args);
	while (!rc && (rc = relay_send(f->b->relay, f->pack->holder[r->shard], PROTO_OP_HOLD_READ,
	                               &buf, on_read, r)) == -EBUSY) {
		rc = relay_wait(f->b->relay, 50);
		rc = rc < 0 ? rc : 0;
	}
	mp_buf_free(&buf);
	return rc;
}

/* Reads shard's [a + at, a + at + len) for part p in pieces. */
static int read_shard(struct part *p, unsigned shard)
{
	for (size_t at = 0; at < p->n;) {
		struct read_req *r = calloc(1, sizeof(*r));
		size_t len = p->n - at < PROTO_HOLD_PIECE_MAX ? p->n - at : PROTO_HOLD_PIECE_MAX;
		int rc;

		if (!r)
			return -ENOMEM;
		*r = (struct read_req){.p = p, .shard = shard, .at = at, .len = len};
		rc = send_read(p->f, r);
		if (rc) {
			free(r);
			return rc;
		}
		p->pending++;
		at += len;
	}
	return 0;
}

/* Starts part p: from its data shard, or degraded from k others. */
static int part_begin(struct part *p)
{
	struct fetch *f = p->f;
	unsigned k = f->pack->k, shards = k + f->pack->m, got = 0;
	int rc;

	p->failed_read = false;
	if (!p->degraded && fetch_peer_failed(f, f->pack->holder[p->shard]))
		p->degraded = true;
	if (!p->degraded)
		return read_shard(p, p->shard);
	if (!p->tmp && !(p->tmp = malloc(shards * p->n)))
		return -ENOMEM;
	memset(p->present, 0, sizeof(p->present));
	for (unsigned j = 0; j < shards && got < k; j++) {
		if (fetch_peer_failed(f, f->pack->holder[j]))
			continue;
		p->present[j] = true;
		got++;
	}
	if (got < k) {
		char hex[17];
		sodium_bin2hex(hex, sizeof(hex), f->pack->id, 8);
		f->rc = KITH_EMISSING;
		snprintf(f->err, sizeof(f->err),
		         "pack %s: only %u of its %u shards can be read, %u are needed", hex, got,
		         shards, k);
		return f->rc;
	}
	for (unsigned j = 0; j < shards; j++)
		if (p->present[j] && (rc = read_shard(p, j)) != 0)
			return rc;
	return 0;
}

static int part_end(struct part *p)
{
	struct fetch *f = p->f;
	unsigned shards = f->pack->k + f->pack->m;
	uint8_t *ptr[PLACE_SHARDS_MAX];
	int rc;

	if (!p->degraded) {
		p->done = true;
		return 0;
	}
	if (!f->ec || erasure_k(f->ec) != f->pack->k || erasure_m(f->ec) != f->pack->m) {
		erasure_free(&f->ec);
		if ((rc = erasure_new(&f->ec, f->pack->k, f->pack->m)) != 0)
			return rc;
	}
	for (unsigned j = 0; j < shards; j++)
		ptr[j] = p->tmp + (size_t)j * p->n;
	rc = erasure_decode(f->ec, ptr, p->present, p->n);
	if (rc)
		return rc;
	memcpy(p->dst, ptr[p->shard], p->n);
	p->done = true;
	return 0;
}

int fetch_pump(struct fetch *f)
{
	if (f->again && bk_now_ms() >= f->again_ms) {
		struct read_req *r = f->again;
		f->again = NULL;
		while (r && !f->rc) {
			struct read_req *next = r->next;
			int rc = send_read(f, r);
			if (rc) {
				f->rc = rc;
				snprintf(f->err, sizeof(f->err), "%s", proto_strerror(rc));
			}
			r = next;
		}
	}
	for (unsigned i = 0; i < f->n_parts && !f->rc; i++) {
		struct part *p = &f->parts[i];
		int rc = 0;

		if (p->done || p->pending)
			continue;
		if (p->failed_read) {
			p->degraded = true;
			rc = part_begin(p);
		} else {
			rc = part_end(p);
		}
		if (rc && !f->rc) {
			f->rc = rc;
			if (!f->err[0])
				snprintf(f->err, sizeof(f->err), "%s", proto_strerror(rc));
		}
	}
	return f->rc;
}

bool fetch_done(const struct fetch *f)
{
	for (unsigned i = 0; i < f->n_parts; i++)
		if (!f->parts[i].done)
			return false;
	return true;
}

int fetch_start(struct fetch *f, const struct snap_pack *p, uint64_t off, size_t len, uint8_t *out)
{
	size_t s;
	int rc;

	parts_clear(f);
	f->rc = 0;
	f->err[0] = '\0';
	f->pack = p;
	s = (p->len + p->k - 1) / p->k;
	f->shard_len = s;
	if (len > FETCH_MAX || off + len > (uint64_t)s * p->k)
		return KITH_EVALUE;
	for (unsigned i = (unsigned)(off / s); len; i++) {
		uint64_t a = off - (uint64_t)i * s;
		size_t n = s - a < len ? s - a : len;
		f->parts[f->n_parts++] =
		    (struct part){.f = f, .shard = i, .a = a, .n = n, .dst = out};
		out += n, off += n, len -= n;
	}
	for (unsigned i = 0; i < f->n_parts; i++)
		if ((rc = part_begin(&f->parts[i])) != 0)
			return f->rc ? f->rc : (f->rc = rc);
	return 0;
}

int fetch_range(struct fetch *f, const struct snap_pack *p, uint64_t off, size_t len, uint8_t *out)
{
	while (len) {
		size_t n = len < FETCH_MAX ? len : FETCH_MAX;
		int rc = fetch_start(f, p, off, n, out);

		while (!rc && !fetch_done(f)) {
			rc = relay_wait(f->b->relay, 50);
			rc = rc < 0 ? rc : fetch_pump(f);
		}
		if (rc) {
			bk_drain(f->b);
			again_clear(f);
			return rc;
		}
		off += n, out += n, len -= n;
	}
	return 0;
}
