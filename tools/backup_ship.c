/* Shipping one pack: code it into k + m shards, place them, and send each
 * to its holder in pieces under flow control (BK_WINDOW writes in flight
 * per shard, each holder keeping at most one shard of a pack), then
 * commit and check the signed receipt. A holder that refuses or does not
 * answer loses its shard to another (place_repair()), once its requests
 * in flight have ended, so that no late answer is taken for the new one.
 *
 * A holder that answers busy did nothing with that request, and refuses
 * the pieces after it as out of order: the shard's window drops to one
 * piece, and once its requests in flight ended, sending starts again
 * after a pause from the bytes the holder acknowledged; each piece
 * acknowledged widens the window again, up to BK_WINDOW. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "proto/error.h"
#include "proto/identity.h"
#include "proto/peerid.h"
#include "backup.h"
#include "relay.h"

enum up_state { UP_OPENING, UP_WRITING, UP_COMMITTING, UP_DONE, UP_FAILED };

struct ship_shard {
	struct ship *s;
	unsigned i;
	size_t holder;
	enum up_state state;
	uint64_t sent, acked;
	unsigned in_flight;
	unsigned window; /* pieces in flight allowed, 1..BK_WINDOW */
	unsigned busy;   /* busy answers since the last progress */
	bool again;      /* a busy answer: resend from acked (or the open or commit) */
	uint64_t resume_ms;
	char name[PROTO_HOLD_NAME_MAX + 1];
};

struct ship {
	struct bk *b;
	struct erasure *ec;
	unsigned k, m;
	bool busy;
	int rc;
	char err[400];
	uint8_t *buf; /* (k + m) shards of shard_len */
	size_t cap, shard_len;
	struct snap_pack pack;
	struct ship_shard sh[PLACE_SHARDS_MAX];
	unsigned done;
};

int ship_new(struct ship **out, struct bk *b, unsigned k, unsigned m)
{
	struct ship *s = calloc(1, sizeof(*s));
	int rc;

	*out = NULL;
	if (!s)
		return -ENOMEM;
	rc = erasure_new(&s->ec, k, m);
	if (rc) {
		free(s);
		return rc;
	}
	s->b = b;
	s->k = k;
	s->m = m;
	*out = s;
	return 0;
}

void ship_free(struct ship **s)
{
	if (!s || !*s)
		return;
	erasure_free(&(*s)->ec);
	free((*s)->buf);
	free(*s);
	*s = NULL;
}

const struct snap_pack *ship_placed(const struct ship *s)
{
	return &s->pack;
}

unsigned ship_k(const struct ship *s)
{
	return s->k;
}

unsigned ship_m(const struct ship *s)
{
	return s->m;
}

bool ship_busy(const struct ship *s)
{
	return s->busy;
}

const char *ship_error(const struct ship *s)
{
	return s->err;
}

static uint8_t *shard_bytes(struct ship *s, unsigned i)
{
	return s->buf + (size_t)i * s->shard_len;
}

static void shard_failed(struct ship_shard *sh, int code, const char *err)
{
	struct ship *s = sh->s;
	struct bk *b = s->b;
	char who[PROTO_PEERID_SHORT_LEN + 1];

	if (sh->state == UP_FAILED)
		return;
	proto_peerid_short(who, b->holders[sh->holder].peer);
	if (code == KITH_EQUOTA) {
		/* Full for us: no more shards this run, but not dead. */
		b->holders[sh->holder].free_bytes = 0;
	} else {
		bk_holder_failed(b, sh->holder);
	}
	fprintf(stderr, "kith: %s: %s; its shard goes to another holder\n", who,
	        err && err[0] ? err : proto_strerror(code));
	sh->state = UP_FAILED;
}

/* A busy answer (or, after one, a piece refused as out of order): true
 * when it is to be sent again rather than the holder given up. */
static bool busy(struct ship_shard *sh, int code)
{
	if (code != -EAGAIN && !(code == KITH_EVALUE && sh->again && sh->state == UP_WRITING))
		return false;
	if (++sh->busy > BK_BUSY_TRIES)
		return false;
	sh->again = true;
	sh->window = 1;
	return true;
}

/* A request of sh ended: true when it was a busy answer, to send again. */
static bool answered(struct ship_shard *sh, int code)
{
	sh->in_flight--;
	return busy(sh, code);
}

static void on_open(void *arg, int code, const char *err, const uint8_t *result, size_t len)
{
	struct ship_shard *sh = arg;
	struct proto_usage u;

	if (answered(sh, code))
		return;
	if (!code && proto_usage_decode(&u, result, len) != 0)
		code = KITH_EMALFORMED, err = "an unreadable answer to hold.open";
	if (code)
		shard_failed(sh, code, err);
	else if (sh->state == UP_OPENING)
		sh->state = UP_WRITING;
}

static void on_write(void *arg, int code, const char *err, const uint8_t *result, size_t len)
{
	struct ship_shard *sh = arg;
	struct proto_hold_written w;

	if (answered(sh, code))
		return;
	if (!code && proto_hold_written_decode(&w, result, len) != 0)
		code = KITH_EMALFORMED, err = "an unreadable answer to hold.write";
	if (code) {
		shard_failed(sh, code, err);
		return;
	}
	if (sh->state == UP_WRITING && w.written > sh->acked && w.written <= sh->sent) {
		sh->s->b->sent += w.written - sh->acked;
		sh->acked = w.written;
		sh->busy = 0;
		if (sh->window < BK_WINDOW)
			sh->window++;
	}
}

static void on_commit(void *arg, int code, const char *err, const uint8_t *result, size_t len)
{
	struct ship_shard *sh = arg;
	struct ship *s = sh->s;
	struct proto_hold_receipt r;

	if (answered(sh, code))
		return;
	if (!code && proto_hold_receipt_decode(&r, result, len) != 0)
		code = KITH_EMALFORMED, err = "an unreadable receipt";
	if (!code && proto_hold_receipt_verify(&r, s->b->holders[sh->holder].peer, s->b->id->pk,
	                                       sh->name, s->shard_len, s->pack.hash[sh->i]) != 0)
		code = KITH_EBADSIG, err = "a receipt that does not check";
	if (code) {
		shard_failed(sh, code, err);
		return;
	}
	sh->state = UP_DONE;
	s->done++;
}

static int ship_send(struct ship_shard *sh, const char *op, const struct mp_buf *args,
                     relay_done done)
{
	int rc =
	    relay_send(sh->s->b->relay, sh->s->b->holders[sh->holder].peer, op, args, done, sh);

	if (!rc) {
		sh->in_flight++;
	}
	return rc;
}

static int send_open(struct ship_shard *sh)
{
	struct ship *s = sh->s;
	struct proto_hold_open o = {.size = s->shard_len};
	struct mp_buf args = {0};
	int rc;

	bk_shard_name(sh->name, s->pack.id, sh->i);
	memcpy(o.name, sh->name, sizeof(o.name));
	memcpy(o.hash, s->pack.hash[sh->i], PROTO_HOLD_HASH_LEN);
	memcpy(s->pack.holder[sh->i], s->b->holders[sh->holder].peer, PLACE_PEER_LEN);
	sh->state = UP_OPENING;
	sh->sent = sh->acked = 0;
	sh->window = BK_WINDOW;
	sh->again = false;
	rc = proto_hold_open_encode(&args, &o);
	if (!rc)
		rc = ship_send(sh, PROTO_OP_HOLD_OPEN, &args, on_open);
	mp_buf_free(&args);
	return rc;
}

static int send_piece(struct ship_shard *sh)
{
	struct ship *s = sh->s;
	struct proto_hold_write w = {.offset = sh->sent};
	struct mp_buf args = {0};
	size_t left = s->shard_len - sh->sent;
	int rc;

	memcpy(w.name, sh->name, sizeof(w.name));
	w.len = left < PROTO_HOLD_PIECE_MAX ? left : PROTO_HOLD_PIECE_MAX;
	w.data = shard_bytes(s, sh->i) + sh->sent;
	rc = proto_hold_write_encode(&args, &w);
	if (!rc)
		rc = ship_send(sh, PROTO_OP_HOLD_WRITE, &args, on_write);
	if (!rc)
		sh->sent += w.len;
	mp_buf_free(&args);
	return rc;
}

static int send_commit(struct ship_shard *sh)
{
	struct proto_hold_name n = {0};
	struct mp_buf args = {0};
	int rc;

	memcpy(n.name, sh->name, sizeof(n.name));
	sh->state = UP_COMMITTING;
	rc = proto_hold_name_encode(&args, &n);
	if (!rc)
		rc = ship_send(sh, PROTO_OP_HOLD_COMMIT, &args, on_commit);
	mp_buf_free(&args);
	return rc;
}

/* Moves the failed shards whose requests have all ended to new holders. */
static int replace_failed(struct ship *s)
{
	uint8_t(*current)[PLACE_PEER_LEN] = s->pack.holder;
	bool lost[PLACE_SHARDS_MAX] = {false};
	size_t out[PLACE_SHARDS_MAX];
	struct place_count count;
	char line[200];
	unsigned n = 0, shards = s->k + s->m;
	int rc;

	for (unsigned i = 0; i < shards; i++)
		if (s->sh[i].state == UP_FAILED && !s->sh[i].in_flight)
			lost[i] = true, n++;
	if (!n || relay_in_flight(s->b->relay) + n > RELAY_SLOTS)
		return 0; /* nothing to move, or next time */
	rc = place_repair(s->pack.id, s->k, s->m, s->shard_len, s->b->holders, s->b->n_holders,
	                  (const uint8_t(*)[PLACE_PEER_LEN])current, lost, out, &count);
	if (rc) {
		place_explain(&count, line, sizeof(line));
		return BK_FAIL(s, rc, "cannot finish the pack: %s", line);
	}
	place_commit(s->b->holders, out, shards, s->shard_len);
	for (unsigned i = 0; i < shards; i++) {
		if (!lost[i])
			continue;
		s->sh[i].holder = out[i];
		s->sh[i].busy = 0;
		rc = send_open(&s->sh[i]);
		if (rc)
			return BK_FAIL(s, rc, "cannot send to kithd: %s", proto_strerror(rc));
	}
	return 0;
}

int ship_pump(struct ship *s)
{
	unsigned shards = s->k + s->m;
	int rc = 0;

	if (!s->busy || s->rc)
		return s->rc;
	for (unsigned i = 0; i < shards && !rc; i++) {
		struct ship_shard *sh = &s->sh[i];
		if (sh->again) {
			if (sh->in_flight)
				continue; /* let the rest of the window come back first */
			if (!sh->resume_ms) {
				sh->resume_ms = bk_now_ms() + BK_BUSY_WAIT_MS;
				continue;
			}
			if (bk_now_ms() < sh->resume_ms)
				continue;
			sh->again = false;
			sh->resume_ms = 0;
			sh->sent = sh->acked;
			if (sh->state == UP_OPENING)
				rc = send_open(sh);
			else if (sh->state == UP_COMMITTING)
				rc = send_commit(sh);
			continue;
		}
		if (sh->state != UP_WRITING)
			continue;
		while (!rc && sh->sent < s->shard_len && sh->in_flight < sh->window &&
		       relay_in_flight(s->b->relay) < RELAY_SLOTS)
			rc = send_piece(sh);
		if (!rc && sh->acked == s->shard_len && !sh->in_flight)
			rc = send_commit(sh);
	}
	if (rc && rc != -EBUSY)
		return BK_FAIL(s, rc, "cannot send to kithd: %s", proto_strerror(rc));
	return replace_failed(s);
}

/* Cuts pack[0..len) into its k + m shards in s->buf and fills s->pack
 * but the holders. */
static int code_pack(struct ship *s, const uint8_t *pack, size_t len)
{
	unsigned shards = s->k + s->m;
	uint8_t *data[ERASURE_K_MAX], *parity[ERASURE_M_MAX];
	size_t need;

	s->rc = 0;
	s->err[0] = '\0';
	s->done = 0;
	s->shard_len = erasure_shard_len(s->ec, len);
	need = shards * s->shard_len;
	if (need > s->cap) {
		uint8_t *p = realloc(s->buf, need);
		if (!p)
			return BK_FAIL(s, -ENOMEM, "%s", "out of memory");
		s->buf = p;
		s->cap = need;
	}
	memcpy(s->buf, pack, len);
	memset(s->buf + len, 0, s->k * s->shard_len - len);
	for (unsigned i = 0; i < s->k; i++)
		data[i] = shard_bytes(s, i);
	for (unsigned p = 0; p < s->m; p++)
		parity[p] = shard_bytes(s, s->k + p);
	erasure_encode(s->ec, (const uint8_t *const *)data, parity, s->shard_len);
	memset(&s->pack, 0, sizeof(s->pack));
	s->pack.len = (uint32_t)len;
	s->pack.k = (uint8_t)s->k;
	s->pack.m = (uint8_t)s->m;
	for (unsigned i = 0; i < shards; i++)
		crypto_generichash(s->pack.hash[i], 32, shard_bytes(s, i), s->shard_len, NULL, 0);
	bk_pack_name(s->pack.id, &s->pack);
	return 0;
}

int ship_start(struct ship *s, const uint8_t *pack, size_t len)
{
	unsigned shards = s->k + s->m;
	size_t out[PLACE_SHARDS_MAX];
	struct place_count count;
	char line[200];
	int rc = code_pack(s, pack, len);

	if (rc)
		return rc;
	rc = place_pack(s->pack.id, s->k, s->m, s->shard_len, s->b->holders, s->b->n_holders, out,
	                &count);
	if (rc) {
		place_explain(&count, line, sizeof(line));
		return BK_FAIL(s, rc, "no room for the backup: %s", line);
	}
	place_commit(s->b->holders, out, shards, s->shard_len);
	s->busy = true;
	for (unsigned i = 0; i < shards; i++) {
		s->sh[i] = (struct ship_shard){.s = s, .i = i, .holder = out[i]};
		rc = send_open(&s->sh[i]);
		if (rc)
			return BK_FAIL(s, rc, "cannot send to kithd: %s", proto_strerror(rc));
	}
	return 0;
}

int ship_wait(struct ship *s, struct snap_pack *out)
{
	int rc = 0;

	while (s->busy && !s->rc && s->done < s->k + s->m) {
		rc = relay_wait(s->b->relay, 50);
		if (rc < 0) {
			BK_FAIL(s, rc, "lost kithd: %s", proto_strerror(rc));
			break;
		}
		ship_pump(s);
	}
	if (s->rc) {
		/* Let the requests in flight end before the buffers are reused. */
		bk_drain(s->b);
		s->busy = false;
		return s->rc;
	}
	s->busy = false;
	*out = s->pack;
	return 0;
}

int ship_start_repair(struct ship *s, const uint8_t *pack, size_t len, const struct snap_pack *old,
                      const bool *lost)
{
	unsigned shards = s->k + s->m;
	size_t out[PLACE_SHARDS_MAX];
	struct place_count count;
	char line[200];
	int rc;

	if (old->k != s->k || old->m != s->m || old->len != len)
		return BK_FAIL(s, KITH_EVALUE, "%s", "the pack is not of this code");
	if ((rc = code_pack(s, pack, len)) != 0)
		return rc;
	/* The bytes read back must make exactly the shards the index names:
	 * a repair never stores what it cannot prove is the pack. */
	if (memcmp(s->pack.hash, old->hash, sizeof(old->hash)) ||
	    memcmp(s->pack.id, old->id, PACK_ID_LEN))
		return BK_FAIL(s, KITH_ECHECKSUM, "%s",
		               "the pack read back does not make its shards");
	memcpy(s->pack.holder, old->holder, sizeof(old->holder));
	rc = place_repair(old->id, s->k, s->m, s->shard_len, s->b->holders, s->b->n_holders,
	                  (const uint8_t(*)[PLACE_PEER_LEN])old->holder, lost, out, &count);
	if (rc) {
		place_explain(&count, line, sizeof(line));
		return BK_FAIL(s, rc, "cannot repair: %s", line);
	}
	place_commit(s->b->holders, out, shards, s->shard_len);
	s->busy = true;
	for (unsigned i = 0; i < shards; i++) {
		s->sh[i] = (struct ship_shard){.s = s, .i = i, .holder = out[i], .state = UP_DONE};
		if (!lost[i]) {
			s->done++;
			continue;
		}
		rc = send_open(&s->sh[i]);
		if (rc)
			return BK_FAIL(s, rc, "cannot send to kithd: %s", proto_strerror(rc));
	}
	return 0;
}
