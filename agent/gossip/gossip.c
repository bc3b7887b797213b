/* Replication of records (see gossip.h): the heads digest, replies to a
 * peer's digest within the sync budget, pushes of our own records and the
 * anti-entropy timer. Applying a RECORDS message is gossip_recv.c.
 *
 * Every message is sized before it is encoded, from upper bounds of the
 * encoder's overheads (here and in gossip_out.h), so nothing larger than
 * max_message is ever built; a record that cannot fit in any message is
 * logged and never sent. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "proto/error.h"
#include "proto/peerid.h"
#include "proto/record.h"
#include "proto/wire.h"
#include "store/store.h"
#include "agent/core/conf.h"
#include "agent/core/log.h"
#include "agent/core/loop.h"
#include "gossip_int.h"
#include "gossip_out.h"

/* Returned by a store walk callback to end the walk without an error. */
#define WALK_STOP 1
/* Refused or unsendable records: at most 10 lines, then one per 6 s. */
#define LOG_BURST 10
#define LOG_INTERVAL_MS 6000
/* Upper bounds of the msgpack bytes proto_sync_encode() writes (at most 9
 * around the digest, 44 per entry), so that a digest is sized before it is
 * encoded and never over max_message. */
#define SYNC_OVERHEAD 16 /* [type, {heads, reply}] */
#define HEAD_SIZE 48     /* one [author, seq] */

size_t gossip_max_message(const struct gossip *g)
{
	uint64_t m = g->conf->max_message;
	return m > PROTO_MSG_MAX ? PROTO_MSG_MAX : (size_t)m;
}

size_t gossip_fanout(const struct gossip *g, size_t live)
{
	uint32_t n = g->conf->push_fanout;

	/* Each agent passes news on once: with f targets about e^-f of the
	 * agents never hear it by push and wait for anti-entropy. ln(N) + 2
	 * targets make that rare (Demers et al.'s rumour mongering). */
	if (n == CONF_AUTO)
		n = (uint32_t)ceil(log((double)live + 1)) + 2;
	if (n > live)
		n = (uint32_t)live;
	return n > GOSSIP_FANOUT_MAX ? GOSSIP_FANOUT_MAX : n;
}

size_t gossip_fanout_of(const struct gossip *g, size_t picked)
{
	size_t n = gossip_fanout(g, g->ops->live ? g->ops->live(g->arg) : picked);

	return n < picked ? n : picked;
}

/* A record that no message of max_message bytes can hold. */
static void log_too_big(struct gossip *g, const uint8_t author[PROTO_KEY_LEN], size_t len)
{
	char a[PROTO_PEERID_SHORT_LEN + 1];

	if (!log_allow(&g->size_log, loop_now_ms(g->loop)))
		return;
	proto_peerid_short(a, author);
	log_warnx("gossip: a record of %s (%zu bytes) does not fit in max_message (%zu): not sent",
	          a, len, gossip_max_message(g));
}

/* ---- the heads digest ---- */

static int head_collect(void *arg, const uint8_t author[PROTO_KEY_LEN], uint64_t seq)
{
	struct gossip *g = arg;

	if (g->n_heads == g->cap_heads) {
		size_t cap = g->cap_heads ? 2 * g->cap_heads : 64;
		struct proto_head *grown;

		if (cap > SIZE_MAX / sizeof(*grown))
			return -ENOMEM;
		grown = realloc(g->heads, cap * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		g->heads = grown;
		g->cap_heads = cap;
	}
	memcpy(g->heads[g->n_heads].author, author, PROTO_KEY_LEN);
	g->heads[g->n_heads].seq = seq;
	g->n_heads++;
	return 0;
}

/* Reads our heads into g->heads, in author order. */
static int heads_load(struct gossip *g)
{
	int rc;

	g->n_heads = 0;
	rc = store_heads_each(g->store, head_collect, g);
	if (rc < 0)
		log_warnx("gossip: reading heads: %s", proto_strerror(rc));
	return rc;
}

/* Digest entries that fit in one message. */
static size_t digest_cap(const struct gossip *g)
{
	size_t max = gossip_max_message(g);
	size_t n = max > SYNC_OVERHEAD ? (max - SYNC_OVERHEAD) / HEAD_SIZE : 0;

	return n < PROTO_DIGEST_MAX ? n : PROTO_DIGEST_MAX;
}

/* With more authors than a digest holds, the digest is a window of cap
 * consecutive authors (wrapping around) starting where the previous one
 * ended, so that every author is in a digest every few rounds. A peer
 * takes an author missing from a digest as one we hold nothing of and
 * sends it from its start: wasted bytes (stale for us), never a wrong
 * state. The window is moved to the front of g->heads, in author order as
 * the wire requires. Returns its length. */
static size_t digest_window(struct gossip *g, size_t cap)
{
	size_t n = g->n_heads, start, tail;

	if (n <= cap)
		return n;
	start = g->digest_rotor % n;
	g->digest_rotor = (start + cap) % n;
	tail = n - start;
	if (tail >= cap) {
		memmove(g->heads, g->heads + start, cap * sizeof(*g->heads));
		return cap;
	}
	/* heads[0 .. cap - tail) wrapped around: they stay in front, and the
	 * tail, larger authors, follows them. */
	memmove(g->heads + (cap - tail), g->heads + start, tail * sizeof(*g->heads));
	return cap;
}

void gossip_resync_own(struct gossip *g, uint64_t floor)
{
	g->resync = true;
	g->resync_floor = floor;
	g->resync_seq = 0;
	g->resync_got = 0;
	g->resync_quiet = 0;
}

/* Our own head in the digest heads[0..n) becomes the resync cursor; and
 * the resync ends after GOSSIP_RESYNC_QUIET digests after which nothing at
 * all was stored: a store restored empty takes every author's records at
 * first, and a reply cut by the sync budget may not reach ours for a few
 * rounds; once nothing comes, no peer has anything older of ours. */
static void resync_digest(struct gossip *g, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!memcmp(g->heads[i].author, g->self, PROTO_KEY_LEN))
			g->heads[i].seq = g->resync_seq;
	if (++g->resync_quiet <= GOSSIP_RESYNC_QUIET)
		return;
	g->resync = false;
	log_info("gossip: %" PRIu64 " of our records made before the restore came back from "
	         "partners",
	         g->resync_got);
	if (g->ops->resynced)
		g->ops->resynced(g->arg);
}

static void send_sync(struct gossip *g, const uint8_t peer[PROTO_KEY_LEN], bool reply)
{
	struct mp_buf buf = {0};
	size_t n;
	int rc;

	if (heads_load(g) < 0)
		return;
	n = digest_window(g, digest_cap(g));
	if (g->resync)
		resync_digest(g, n);
	rc = proto_sync_encode(&buf, reply, g->heads, n);
	if (rc == 0 && buf.len > gossip_max_message(g))
		rc = KITH_ETOOBIG;
	if (rc < 0)
		log_warnx("gossip: cannot encode a digest of %zu authors: %s", n,
		          proto_strerror(rc));
	else if (g->ops->send(g->arg, peer, buf.data, buf.len) == 0)
		g->stats.syncs_sent++;
	mp_buf_free(&buf);
}

/* ---- the summary ---- */

/* Hashed first, so that no other hash of kith's can be taken for it. */
#define SUMMARY_DOMAIN "kith-heads-v1"

struct summary_walk {
	struct gossip *g;
	crypto_generichash_state st;
};

static int summary_add(void *arg, const uint8_t author[PROTO_KEY_LEN], uint64_t seq)
{
	struct summary_walk *w = arg;
	uint8_t be[8];

	if (!w->g->ops->accept(w->g->arg, author))
		return 0;
	for (int i = 0; i < 8; i++)
		be[i] = (uint8_t)(seq >> (56 - 8 * i));
	crypto_generichash_update(&w->st, author, PROTO_KEY_LEN);
	crypto_generichash_update(&w->st, be, sizeof(be));
	return 0;
}

/* BLAKE2b-128 over the domain and, for each author we accept in author
 * order, author || seq (8 bytes, big-endian): docs/protocol.md, 7.4. Made
 * again only when the store or the authors changed: an idle agent hashes
 * nothing. */
static int summary_get(struct gossip *g, uint8_t out[PROTO_SUMMARY_LEN])
{
	uint64_t gen = store_generation(g->store);
	struct summary_walk w = {.g = g};
	int rc;

	if (!g->sum_valid || gen == 0 || gen != g->sum_store_gen ||
	    g->authors_gen != g->sum_authors_gen) {
		crypto_generichash_init(&w.st, NULL, 0, PROTO_SUMMARY_LEN);
		crypto_generichash_update(&w.st, (const uint8_t *)SUMMARY_DOMAIN,
		                          sizeof(SUMMARY_DOMAIN));
		rc = store_heads_each(g->store, summary_add, &w);
		if (rc < 0) {
			log_warnx("gossip: reading heads: %s", proto_strerror(rc));
			g->sum_valid = false;
			return rc;
		}
		crypto_generichash_final(&w.st, g->sum, PROTO_SUMMARY_LEN);
		g->sum_valid = true;
		g->sum_store_gen = gen;
		g->sum_authors_gen = g->authors_gen;
	}
	memcpy(out, g->sum, PROTO_SUMMARY_LEN);
	return 0;
}

static void send_summary(struct gossip *g, const uint8_t peer[PROTO_KEY_LEN])
{
	uint8_t sum[PROTO_SUMMARY_LEN];
	struct mp_buf buf = {0};

	if (summary_get(g, sum) < 0)
		return;
	if (proto_summary_encode(&buf, sum) < 0)
		log_warnx("gossip: cannot encode a summary: out of memory");
	else if (g->ops->send(g->arg, peer, buf.data, buf.len) == 0)
		g->stats.summaries_sent++;
	mp_buf_free(&buf);
}

/* Same heads: nothing to do. Else our digest goes back asking for a
 * reply, and the exchange runs as if the peer had sent its own: one more
 * message than a digest at once, when something differs, for a few bytes
 * rather than 48 per author when nothing does. */
static int on_summary(struct gossip *g, const uint8_t from[PROTO_KEY_LEN], const uint8_t *buf,
                      size_t len)
{
	uint8_t theirs[PROTO_SUMMARY_LEN], ours[PROTO_SUMMARY_LEN];
	int rc = proto_summary_decode(theirs, buf, len);

	if (rc < 0)
		return rc;
	g->stats.summaries_received++;
	if (summary_get(g, ours) == 0 && sodium_memcmp(ours, theirs, sizeof(ours)) == 0)
		return 0;
	g->stats.summaries_differ++;
	send_sync(g, from, true);
	return 0;
}

void gossip_authors_changed(struct gossip *g)
{
	g->authors_gen++;
}

/* ---- answering a digest ---- */

static int head_cmp(const void *a, const void *b)
{
	const struct proto_head *x = a, *y = b;
	return memcmp(x->author, y->author, PROTO_KEY_LEN);
}

/* The peer's head for author in its digest (sorted by the decoder). */
static uint64_t peer_head(const struct gossip *g, size_t n, const uint8_t author[PROTO_KEY_LEN])
{
	struct proto_head key;
	const struct proto_head *h;

	if (n == 0)
		return 0;
	memcpy(key.author, author, PROTO_KEY_LEN);
	h = bsearch(&key, g->peer_heads, n, sizeof(key), head_cmp);
	return h ? h->seq : 0;
}

struct reply_walk {
	struct gossip *g;
	const uint8_t *author;
	uint64_t now;
	bool full;
	int err;
};

static int reply_add(void *arg, const uint8_t *buf, size_t len)
{
	struct reply_walk *w = arg;
	struct proto_record rec;

	/* The peer would refuse an expired record and ask for it again every
	 * round; left out, it lets the peer's head pass it. */
	if (proto_record_decode(&rec, buf, len) == 0 &&
	    proto_record_check_time(&rec, w->now) == KITH_EEXPIRED)
		return 0;
	switch (gossip_out_add(&w->g->out, buf, len)) {
	case GOSSIP_OUT_ADDED:
		return 0;
	case GOSSIP_OUT_FULL:
		w->full = true;
		return WALK_STOP;
	case GOSSIP_OUT_TOOBIG:
		/* The block ends before it: what follows may not go without it. */
		log_too_big(w->g, w->author, len);
		return WALK_STOP;
	case GOSSIP_OUT_NOMEM:
		break;
	}
	w->err = -ENOMEM;
	return WALK_STOP;
}

/* Sends peer, in one message of at most sync_budget bytes, the records of
 * members it lacks according to its digest (g->peer_heads[0..n_theirs)).
 * Authors are served from a point that moves every reply, so that a small
 * budget does not always go to the same ones. */
static void reply_records(struct gossip *g, const uint8_t peer[PROTO_KEY_LEN], size_t n_theirs)
{
	struct reply_walk w = {.g = g, .now = loop_wall_s()};
	uint8_t to[1][PROTO_KEY_LEN];
	uint64_t budget = g->conf->sync_budget;
	size_t n, start;
	int rc = 0;

	if (heads_load(g) < 0 || g->n_heads == 0)
		return;
	n = g->n_heads;
	gossip_out_reset(&g->out, budget > SIZE_MAX ? SIZE_MAX : (size_t)budget,
	                 gossip_max_message(g), true);
	start = g->reply_rotor++ % n;
	for (size_t k = 0; k < n && !w.full && !w.err && rc >= 0; k++) {
		const struct proto_head *h = &g->heads[(start + k) % n];
		uint64_t after = peer_head(g, n_theirs, h->author);

		/* A non-member's records would be refused, again every round. */
		if (h->seq <= after || !g->ops->accept(g->arg, h->author))
			continue;
		if (!gossip_out_block(&g->out, h->author, after))
			break;
		w.author = h->author;
		rc = store_records_since(g->store, h->author, after, reply_add, &w);
		gossip_out_close(&g->out);
	}
	if (rc < 0)
		log_warnx("gossip: reading records: %s", proto_strerror(rc));
	if (w.err < 0)
		log_warnx("gossip: building a reply: %s", proto_strerror(w.err));
	memcpy(to[0], peer, PROTO_KEY_LEN);
	g->stats.records_sent += gossip_out_send(&g->out, g->ops->send, g->arg, to, 1);
}

static int on_sync(struct gossip *g, const uint8_t from[PROTO_KEY_LEN], const uint8_t *buf,
                   size_t len)
{
	bool reply;
	size_t n;
	int rc = proto_sync_decode(&reply, g->peer_heads, PROTO_DIGEST_MAX, &n, buf, len);

	if (rc < 0)
		return rc;
	g->stats.syncs_received++;
	reply_records(g, from, n);
	if (reply)
		send_sync(g, from, false);
	return 0;
}

/* ---- the module ---- */

static void on_timer(struct loop *l, void *arg)
{
	struct gossip *g = arg;
	uint8_t peer[1][PROTO_KEY_LEN];

	/* Restoring, our digest is not our heads (resync_digest()): it goes
	 * whole. */
	if (g->ops->pick(g->arg, peer, 1) == 1) {
		if (g->resync)
			send_sync(g, peer[0], true);
		else
			send_summary(g, peer[0]);
	}
	if (loop_timer_start(l, &g->timer, g->conf->sync_interval_ms) < 0)
		log_warnx("gossip: cannot restart the sync timer: anti-entropy stopped");
}

int gossip_new(struct gossip **out, struct loop *l, struct store *s, const struct conf *c,
               const uint8_t self[PROTO_KEY_LEN], const struct gossip_ops *ops, void *arg)
{
	struct gossip *g = calloc(1, sizeof(*g));

	*out = NULL;
	if (!g)
		return -ENOMEM;
	g->loop = l;
	g->store = s;
	g->conf = c;
	g->ops = ops;
	g->arg = arg;
	memcpy(g->self, self, PROTO_KEY_LEN);
	loop_timer_init(&g->timer, on_timer, g);
	g->size_log = (struct log_limit){.burst = LOG_BURST, .interval_ms = LOG_INTERVAL_MS};

	/* Scratch sized for the largest message the wire allows: about 1.4 MB,
	 * allocated once rather than per message. */
	g->peer_heads = calloc(PROTO_DIGEST_MAX, sizeof(*g->peer_heads));
	g->out_blocks = calloc(PROTO_BLOCKS_MAX, sizeof(*g->out_blocks));
	g->out_recs = calloc(PROTO_MSG_RECORDS_MAX, sizeof(*g->out_recs));
	if (!g->peer_heads || !g->out_blocks || !g->out_recs || gossip_recv_alloc(g) < 0) {
		gossip_free(&g);
		return -ENOMEM;
	}
	gossip_out_init(&g->out, g->out_blocks, PROTO_BLOCKS_MAX, g->out_recs,
	                PROTO_MSG_RECORDS_MAX);
	*out = g;
	return 0;
}

void gossip_free(struct gossip **gp)
{
	struct gossip *g = gp ? *gp : NULL;

	if (!g)
		return;
	loop_timer_stop(g->loop, &g->timer);
	gossip_out_free(&g->out);
	free(g->heads);
	free(g->peer_heads);
	gossip_recv_free(g);
	free(g->out_blocks);
	free(g->out_recs);
	free(g);
	*gp = NULL;
}

int gossip_start(struct gossip *g)
{
	return loop_timer_start(g->loop, &g->timer, g->conf->sync_interval_ms);
}

int gossip_on_message(struct gossip *g, const uint8_t from[PROTO_KEY_LEN], uint8_t type,
                      const uint8_t *buf, size_t len)
{
	switch (type) {
	case PROTO_MSG_SUMMARY:
		return on_summary(g, from, buf, len);
	case PROTO_MSG_SYNC:
		return on_sync(g, from, buf, len);
	case PROTO_MSG_RECORDS:
		return gossip_on_records(g, from, buf, len);
	default:
		return 0; /* not a gossip message: nothing for us */
	}
}

/* Stores a record (ours, or another member's an admin imports) and pushes
 * it to fanout live members (0: gossip_fanout()). Another author's record
 * must be a member's, within its budget, as from gossip. */
static int publish(struct gossip *g, const uint8_t *buf, size_t len, size_t fanout, bool ours,
                   enum store_put_result *result)
{
	uint8_t(*to)[PROTO_KEY_LEN] = NULL;
	const struct store_budget *budget = NULL;
	const char *why = NULL;
	struct proto_block block;
	struct proto_recref ref;
	struct proto_record rec;
	struct gossip_out o;
	uint64_t head;
	size_t n;
	int rc;

	rc = proto_record_decode(&rec, buf, len);
	if (rc == 0 && !ours && !g->ops->accept(g->arg, rec.author))
		rc = KITH_ENOGRANT;
	if (rc == 0 && !ours && g->ops->budget)
		budget = g->ops->budget(g->arg, rec.author, rec.kind, &why);
	if (rc == 0)
		rc = store_head_get(g->store, rec.author, &head);
	if (rc == 0)
		rc = store_record_put_budget(g->store, buf, len, loop_wall_s(), budget, result);
	if (rc < 0)
		return rc;
	if (*result == STORE_PUT_STALE)
		return 0;
	g->ops->stored(g->arg, &rec);

	/* Everything up to head was held before: peers holding as much can
	 * take the record right away. */
	to = malloc((fanout > GOSSIP_FANOUT_MAX ? fanout : GOSSIP_FANOUT_MAX) * sizeof(*to));
	if (!to)
		return 0; /* stored: anti-entropy will carry it */
	n = g->ops->pick(g->arg, to, fanout ? fanout : GOSSIP_FANOUT_MAX);
	/* The members come in random order: a prefix is a random choice. */
	if (!fanout)
		n = gossip_fanout_of(g, n);
	gossip_out_init(&o, &block, 1, &ref, 1);
	gossip_out_reset(&o, gossip_max_message(g), gossip_max_message(g), false);
	gossip_out_block(&o, rec.author, head < rec.seq ? head : rec.seq - 1);
	if (gossip_out_add(&o, buf, len) == GOSSIP_OUT_TOOBIG)
		log_too_big(g, rec.author, len);
	g->stats.records_sent +=
	    gossip_out_send(&o, g->ops->send, g->arg, (const uint8_t(*)[PROTO_KEY_LEN])to, n);
	free(to);
	return 0;
}

int gossip_publish(struct gossip *g, const uint8_t *buf, size_t len)
{
	enum store_put_result result;

	return publish(g, buf, len, 0, true, &result);
}

int gossip_publish_urgent(struct gossip *g, const uint8_t *buf, size_t len)
{
	enum store_put_result result;

	return publish(g, buf, len, GOSSIP_URGENT_FANOUT, true, &result);
}

int gossip_import(struct gossip *g, const uint8_t *buf, size_t len, enum store_put_result *result)
{
	return publish(g, buf, len, 0, false, result);
}

void gossip_sync_with(struct gossip *g, const uint8_t peer[PROTO_KEY_LEN])
{
	send_sync(g, peer, true);
}

void gossip_get_stats(const struct gossip *g, struct gossip_stats *out)
{
	*out = g->stats;
}
