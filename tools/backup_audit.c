/* Which shards of our snapshots the holders keep (backup_audit.h): for
 * kith backup verify, the health kith backup ls shows, prune (what no
 * snapshot names goes) and repair.
 *
 * A holder's list (hold.list) says what it claims to keep, with each
 * shard's size and BLAKE2b-256; the index says what it should. A claim is
 * cheap to fake, so --read-data reads whole shards back and hashes them:
 * a holder cannot answer that without the bytes. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "proto/ctl.h"
#include "proto/error.h"
#include "proto/identity.h"
#include "proto/peerid.h"
#include "agentctl.h"
#include "backup.h"
#include "backup_audit.h"
#include "cli.h"
#include "relay.h"

int audit_grow(void **arr, size_t cap, size_t size)
{
	void *p = realloc(*arr, cap * size);

	if (!p)
		return -ENOMEM;
	*arr = p;
	return 0;
}

static void shard_key(uint8_t key[32], const uint8_t peer[PROTO_KEY_LEN], const char *name)
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, 32);
	crypto_generichash_update(&st, peer, PROTO_KEY_LEN);
	crypto_generichash_update(&st, (const uint8_t *)name, strlen(name));
	crypto_generichash_final(&st, key, 32);
}

/* Adds pack p and its holders; *index gets its index in a->packs. */
static int add_pack(struct audit *a, const struct snap_pack *p, size_t *index)
{
	size_t h;
	bool found, known;

	if (bk_set_add(&a->packs, p->id, index, &found) != 0 ||
	    audit_grow((void **)&a->place, a->packs.cap, sizeof(*a->place)) != 0)
		return -ENOMEM;
	a->place[*index] = *p;
	for (unsigned j = 0; !found && j < (unsigned)p->k + p->m; j++)
		if (bk_set_add(&a->holders, p->holder[j], &h, &known) != 0)
			return -ENOMEM;
	return 0;
}

struct list_ctx {
	struct audit *a;
	const uint8_t *peer;
};

static int on_listed(void *arg, const struct proto_hold_entry *e)
{
	struct list_ctx *c = arg;
	struct audit *a = c->a;
	uint8_t key[32];
	size_t i;
	bool found;

	shard_key(key, c->peer, e->name);
	if (bk_set_add(&a->listed, key, &i, &found) != 0 ||
	    audit_grow((void **)&a->held, a->listed.cap, sizeof(*a->held)) != 0)
		return -ENOMEM;
	a->held[i].size = e->size;
	memcpy(a->held[i].hash, e->hash, PROTO_HOLD_HASH_LEN);
	a->held[i].state = e->state;
	return 0;
}

/* Asks every holder the snapshots name for its list. */
static void audit_list(struct audit *a)
{
	char err[300], who[PROTO_PEERID_SHORT_LEN + 1];

	a->unreachable = calloc(a->holders.n ? a->holders.n : 1, sizeof(*a->unreachable));
	if (!a->unreachable)
		return;
	for (size_t h = 0; h < a->holders.n; h++) {
		struct list_ctx c = {a, a->holders.ids[h]};
		if (fetch_peer_failed(a->f, c.peer) ||
		    bk_list(a->b, c.peer, on_listed, &c, err, sizeof(err)) != 0) {
			a->unreachable[h] = true;
			if (!fetch_peer_failed(a->f, c.peer)) {
				proto_peerid_short(who, c.peer);
				fprintf(stderr, "kith: %s does not list our shards: %s\n", who,
				        err);
			}
		}
	}
}

const char *const audit_health_text[] = {"kept", "kept, its grant ended (grace period)", "missing",
                                         "listed with another size or hash", "holder unreachable"};

size_t audit_shard_len(const struct snap_pack *p)
{
	return (p->len + p->k - 1) / p->k;
}

enum shard_health audit_shard_health(const struct audit *a, const struct snap_pack *p, unsigned i)
{
	char name[PROTO_HOLD_NAME_MAX + 1];
	uint8_t key[32];
	long h = bk_set_find(&a->holders, p->holder[i]), at;

	if (h < 0 || a->unreachable[h])
		return SHARD_UNREACHABLE;
	bk_shard_name(name, p->id, i);
	shard_key(key, p->holder[i], name);
	at = bk_set_find(&a->listed, key);
	if (at < 0 || a->held[at].state == PROTO_HOLD_OPEN)
		return SHARD_MISSING;
	if (a->held[at].size != audit_shard_len(p) ||
	    memcmp(a->held[at].hash, p->hash[i], PROTO_HOLD_HASH_LEN))
		return SHARD_WRONG;
	return a->held[at].state == PROTO_HOLD_GRACE ? SHARD_GRACE : SHARD_GOOD;
}

/* ---- reading a whole shard back (--read-data) ---- */

struct piece {
	crypto_generichash_state *st;
	size_t want, size;
	int rc;
};

static void on_piece(void *arg, int code, const char *err, const uint8_t *result, size_t len)
{
	struct piece *p = arg;
	struct proto_hold_data d;

	(void)err;
	if (!code && proto_hold_data_decode(&d, result, len) != 0)
		code = KITH_EMALFORMED;
	if (!code && (d.len != p->want || d.size != p->size))
		code = KITH_EVALUE;
	if (!code)
		crypto_generichash_update(p->st, d.data, d.len);
	p->rc = code;
}

/* Reads shard i of p whole, a piece at a time (an audit is not in a
 * hurry, and so needs one piece of memory), and compares its hash: 0 when
 * the bytes check, KITH_ECHECKSUM when they do not, another code when
 * they could not be read. */
int audit_read_shard(struct audit *a, const struct snap_pack *p, unsigned i)
{
	crypto_generichash_state st;
	struct piece piece = {.st = &st, .size = audit_shard_len(p)};
	uint8_t hash[32];
	int rc = 0;

	crypto_generichash_init(&st, NULL, 0, 32);
	for (uint64_t at = 0; !rc && at < piece.size; at += piece.want) {
		struct proto_hold_read args = {.offset = at};
		struct mp_buf buf = {0};

		piece.want =
		    piece.size - at < PROTO_HOLD_PIECE_MAX ? piece.size - at : PROTO_HOLD_PIECE_MAX;
		bk_shard_name(args.name, p->id, i);
		args.len = (uint32_t)piece.want;
		piece.rc = -ETIMEDOUT;
		rc = proto_hold_read_encode(&buf, &args);
		if (!rc)
			rc =
			    bk_call(a->b, p->holder[i], PROTO_OP_HOLD_READ, &buf, on_piece, &piece);
		mp_buf_free(&buf);
		if (!rc)
			rc = piece.rc;
		a->b->received += rc ? 0 : piece.want;
	}
	crypto_generichash_final(&st, hash, 32);
	if (!rc && memcmp(hash, p->hash[i], 32))
		rc = KITH_ECHECKSUM;
	return rc;
}

/* ---- the snapshots' packs and their health ---- */

struct collect_ctx {
	struct audit *a;
	struct snap_packs *sp;
};

static int collect_pack(struct collect_ctx *c, const struct snap_pack *p)
{
	size_t i;
	int rc = add_pack(c->a, p, &i);

	if (!rc && c->sp->n == c->sp->cap) {
		c->sp->cap = c->sp->cap ? 2 * c->sp->cap : 64;
		rc = audit_grow((void **)&c->sp->idx, c->sp->cap, sizeof(*c->sp->idx));
	}
	if (!rc)
		c->sp->idx[c->sp->n++] = (uint32_t)i;
	return rc;
}

static int collect_entry(void *arg, const struct snap_entry *e)
{
	return e->type == SNAP_ENTRY_PACK ? collect_pack(arg, &e->pack) : 0;
}

static int collect_index(void *arg, const struct snap_pack *p)
{
	return collect_pack(arg, p);
}

static int collect(struct audit *a, const struct snap_root *root, struct snap_packs *sp)
{
	struct collect_ctx c = {a, sp};
	int rc =
	    bk_walk(a->b, a->f, root, collect_entry, collect_index, &c, a->err, sizeof(a->err));

	if (rc && !a->err[0])
		snprintf(a->err, sizeof(a->err), "%s", proto_strerror(rc));
	return rc;
}

struct health audit_health(const struct audit *a, const struct snap_packs *sp)
{
	struct health h = {0, 0, LONG_MAX};

	for (size_t j = 0; j < sp->n; j++) {
		const struct snap_pack *p = &a->place[sp->idx[j]];
		long good = 0;
		for (unsigned i = 0; i < (unsigned)p->k + p->m; i++)
			good += audit_shard_health(a, p, i) <= SHARD_GRACE;
		h.held += (uint64_t)good;
		h.total += (uint64_t)p->k + p->m;
		if (good - p->k < h.losses)
			h.losses = good - p->k;
	}
	if (h.losses == LONG_MAX)
		h.losses = 0;
	return h;
}

void audit_health_line(char *buf, size_t n, const struct health *h)
{
	if (h->losses < 0)
		snprintf(buf, n, "%" PRIu64 "/%" PRIu64 " shards held: NOT restorable", h->held,
		         h->total);
	else
		snprintf(buf, n, "%" PRIu64 "/%" PRIu64 " shards held, survives %ld loss%s",
		         h->held, h->total, h->losses, h->losses == 1 ? "" : "es");
}

int audit_open(struct audit *a, struct bk *b)
{
	memset(a, 0, sizeof(*a));
	a->b = b;
	if (fetch_new(&a->f, b) != 0)
		return -ENOMEM;
	bk_skip_dead(b, a->f);
	return 0;
}

void audit_free(struct audit *a)
{
	fetch_free(&a->f);
	bk_set_free(&a->packs);
	bk_set_free(&a->holders);
	bk_set_free(&a->listed);
	free(a->place);
	free(a->held);
	free(a->unreachable);
}

/* Collects every snapshot of r and lists the holders. sps gets one
 * snap_packs per snapshot (heap, r->n of them). */
int audit_roots(struct audit *a, const struct bk_roots *r, struct snap_packs **sps)
{
	char id[17];

	*sps = calloc(r->n ? r->n : 1, sizeof(**sps));
	if (!*sps)
		return cli_fail("out of memory");
	for (size_t i = 0; i < r->n; i++) {
		if (collect(a, &r->list[i], &(*sps)[i]) != 0) {
			sodium_bin2hex(id, sizeof(id), r->list[i].id, 8);
			return cli_fail("cannot read the index of %s %s: %s", r->list[i].name, id,
			                a->err);
		}
	}
	audit_list(a);
	return a->unreachable ? CLI_OK : cli_fail("out of memory");
}

void audit_sps_free(struct snap_packs *sps, size_t n)
{
	for (size_t i = 0; sps && i < n; i++)
		free(sps[i].idx);
	free(sps);
}
