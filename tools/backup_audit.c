/* Which shards of our snapshots the holders keep: kith backup verify, the
 * health kith backup ls shows, and kith backup prune (what no snapshot
 * names goes).
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
#include "backup_cache.h"
#include "cli.h"
#include "relay.h"

/* What a holder listed for one shard, keyed by BLAKE2b-256(peer || name). */
struct held {
	uint64_t size;
	uint8_t hash[PROTO_HOLD_HASH_LEN];
	enum proto_hold_state state;
};

struct audit {
	struct bk *b;
	struct fetch *f;
	struct bk_set packs;     /* every pack the snapshots name */
	struct snap_pack *place; /* by index in packs */
	struct bk_set holders;   /* every holder they name (peer keys) */
	struct bk_set listed;    /* shards the holders listed */
	struct held *held;       /* by index in listed */
	bool *unreachable;       /* by index in holders: dead, or no list */
	char err[400];
};

static int grow(void **arr, size_t cap, size_t size)
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
	    grow((void **)&a->place, a->packs.cap, sizeof(*a->place)) != 0)
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
	    grow((void **)&a->held, a->listed.cap, sizeof(*a->held)) != 0)
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

enum shard_health { SHARD_GOOD, SHARD_GRACE, SHARD_MISSING, SHARD_WRONG, SHARD_UNREACHABLE };

static const char *const health_text[] = {"kept", "kept, its grant ended (grace period)", "missing",
                                          "listed with another size or hash", "holder unreachable"};

static size_t shard_len(const struct snap_pack *p)
{
	return (p->len + p->k - 1) / p->k;
}

static enum shard_health shard_health(const struct audit *a, const struct snap_pack *p, unsigned i)
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
	if (a->held[at].size != shard_len(p) ||
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
static int read_shard(struct audit *a, const struct snap_pack *p, unsigned i)
{
	crypto_generichash_state st;
	struct piece piece = {.st = &st, .size = shard_len(p)};
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

/* The packs one snapshot names, as indexes into the audit's packs. */
struct snap_packs {
	uint32_t *idx;
	size_t n, cap;
};

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
		rc = grow((void **)&c->sp->idx, c->sp->cap, sizeof(*c->sp->idx));
	}
	if (!rc)
		c->sp->idx[c->sp->n++] = (uint32_t)i;
	return rc;
}

static int collect_entry(void *arg, const struct snap_entry *e)
{
	return e->type == SNAP_ENTRY_PACK ? collect_pack(arg, &e->pack) : 0;
}

static int collect(struct audit *a, const struct snap_root *root, struct snap_packs *sp)
{
	struct collect_ctx c = {a, sp};
	int rc = 0;

	for (uint32_t i = 0; !rc && i < root->n_index; i++)
		rc = collect_pack(&c, &root->index[i]);
	if (!rc)
		rc = bk_walk(a->b, a->f, root, collect_entry, &c, a->err, sizeof(a->err));
	if (rc && !a->err[0])
		snprintf(a->err, sizeof(a->err), "%s", proto_strerror(rc));
	return rc;
}

struct health {
	uint64_t held, total;
	long losses; /* the fewest spare shards of any pack: < 0, not restorable */
};

static struct health health_of(const struct audit *a, const struct snap_packs *sp)
{
	struct health h = {0, 0, LONG_MAX};

	for (size_t j = 0; j < sp->n; j++) {
		const struct snap_pack *p = &a->place[sp->idx[j]];
		long good = 0;
		for (unsigned i = 0; i < (unsigned)p->k + p->m; i++)
			good += shard_health(a, p, i) <= SHARD_GRACE;
		h.held += (uint64_t)good;
		h.total += (uint64_t)p->k + p->m;
		if (good - p->k < h.losses)
			h.losses = good - p->k;
	}
	if (h.losses == LONG_MAX)
		h.losses = 0;
	return h;
}

static void health_line(char *buf, size_t n, const struct health *h)
{
	if (h->losses < 0)
		snprintf(buf, n, "%" PRIu64 "/%" PRIu64 " shards held: NOT restorable", h->held,
		         h->total);
	else
		snprintf(buf, n, "%" PRIu64 "/%" PRIu64 " shards held, survives %ld loss%s",
		         h->held, h->total, h->losses, h->losses == 1 ? "" : "es");
}

static int audit_open(struct audit *a, struct bk *b)
{
	memset(a, 0, sizeof(*a));
	a->b = b;
	if (fetch_new(&a->f, b) != 0)
		return -ENOMEM;
	bk_skip_dead(b, a->f);
	return 0;
}

static void audit_free(struct audit *a)
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
static int audit_roots(struct audit *a, const struct bk_roots *r, struct snap_packs **sps)
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

static void sps_free(struct snap_packs *sps, size_t n)
{
	for (size_t i = 0; sps && i < n; i++)
		free(sps[i].idx);
	free(sps);
}

/* ---- kith backup ls ---- */

int backup_ls(struct bk *b, const char *name, bool json)
{
	struct bk_roots r = {0};
	struct audit a;
	struct snap_packs *sps = NULL;
	char id[2 * SNAP_ID_LEN + 1], when[32], size[32], line[128];
	int rc = CLI_FAIL;

	if (audit_open(&a, b) != 0 || bk_roots_load(b, name, &r) != CLI_OK ||
	    audit_roots(&a, &r, &sps) != CLI_OK)
		goto out;
	if (json)
		fputs("[", stdout);
	else if (r.n)
		printf("%-16s %-16s %-20s %10s  %s\n", "NAME", "SNAPSHOT", "TIME (UTC)", "SIZE",
		       "HEALTH");
	for (size_t i = 0; i < r.n; i++) {
		const struct snap_root *s = &r.list[i];
		struct health h = health_of(&a, &sps[i]);
		time_t t = (time_t)s->time;
		struct tm tm;

		sodium_bin2hex(id, sizeof(id), s->id, SNAP_ID_LEN);
		gmtime_r(&t, &tm);
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
		if (json) {
			printf("%s\n {\"name\": \"%s\", \"snapshot\": \"%s\", \"time\": %" PRIu64
			       ", \"size\": %" PRIu64 ", \"chunks\": %" PRIu64
			       ", \"bytes_new\": %" PRIu64 ", \"shards_held\": %" PRIu64
			       ", \"shards_total\": %" PRIu64 ", \"losses_tolerated\": %ld}",
			       i ? "," : "", s->name, id, s->time, s->size, s->chunks, s->bytes_new,
			       h.held, h.total, h.losses);
		} else {
			health_line(line, sizeof(line), &h);
			printf("%-16s %-16.16s %-20s %10s  %s\n", s->name, id, when,
			       bk_bytes(size, sizeof(size), s->size), line);
		}
	}
	if (json)
		puts(r.n ? "\n]" : "]");
	else if (!r.n)
		printf(name ? "no snapshot of %s\n" : "no backups%s\n", name ? name : "");
	rc = CLI_OK;
out:
	sps_free(sps, r.n);
	bk_roots_free(&r);
	audit_free(&a);
	return rc;
}

/* ---- kith backup verify ---- */

int backup_verify(struct bk *b, const char *name, unsigned read_percent, bool json)
{
	struct bk_roots r = {0};
	struct audit a;
	struct snap_packs *sps = NULL;
	char id[2 * SNAP_ID_LEN + 1], who[PROTO_PEERID_SHORT_LEN + 1], line[128];
	uint64_t problems = 0, read = 0, unrestorable = 0;
	int rc = CLI_FAIL;

	if (audit_open(&a, b) != 0 || bk_roots_load(b, name, &r) != CLI_OK ||
	    audit_roots(&a, &r, &sps) != CLI_OK)
		goto out;
	if (!r.n) {
		rc = cli_fail("no snapshot of %s (see kith backup ls)", name);
		goto out;
	}
	for (size_t j = 0; j < a.packs.n; j++) {
		const struct snap_pack *p = &a.place[j];
		sodium_bin2hex(id, sizeof(id), p->id, 8);
		for (unsigned i = 0; i < (unsigned)p->k + p->m; i++) {
			enum shard_health h = shard_health(&a, p, i);
			int got;
			proto_peerid_short(who, p->holder[i]);
			if (h > SHARD_GRACE) {
				printf("pack %.16s shard %u at %s: %s\n", id, i, who,
				       health_text[h]);
				problems++;
				continue;
			}
			/* A fraction of the shards, drawn afresh on each run, so
			 * that runs spread a full read over days. */
			if (!read_percent || randombytes_uniform(100) >= read_percent)
				continue;
			got = read_shard(&a, p, i);
			read++;
			if (got) {
				printf("pack %.16s shard %u at %s: %s\n", id, i, who,
				       got == KITH_ECHECKSUM ? "its bytes do not match their hash"
				                             : proto_strerror(got));
				problems++;
			}
		}
	}
	for (size_t i = 0; i < r.n; i++) {
		struct health h = health_of(&a, &sps[i]);
		sodium_bin2hex(id, sizeof(id), r.list[i].id, SNAP_ID_LEN);
		health_line(line, sizeof(line), &h);
		unrestorable += h.losses < 0;
		if (json)
			printf("{\"name\": \"%s\", \"snapshot\": \"%s\", \"shards_held\": %" PRIu64
			       ", \"shards_total\": %" PRIu64 ", \"losses_tolerated\": %ld}\n",
			       r.list[i].name, id, h.held, h.total, h.losses);
		else
			printf("%s %.16s: %s\n", r.list[i].name, id, line);
	}
	if (!json)
		printf("%zu packs checked at their holders, %" PRIu64 " shards read back: %" PRIu64
		       " problem%s\n",
		       a.packs.n, read, problems, problems == 1 ? "" : "s");
	rc = problems || unrestorable ? CLI_FAIL : CLI_OK;
	if (rc)
		fprintf(stderr, "kith: %s has %" PRIu64 " shard problem%s%s (kith backup repair)\n",
		        name, problems, problems == 1 ? "" : "s",
		        unrestorable ? " and snapshots that cannot be restored" : "");
out:
	sps_free(sps, r.n);
	bk_roots_free(&r);
	audit_free(&a);
	return rc;
}

/* ---- kith backup forget ---- */

/* The bucket of t for a rule: its day, ISO week or month (UTC). */
static long bucket(uint64_t t, char rule)
{
	time_t tt = (time_t)t;
	struct tm tm;
	char buf[16];

	gmtime_r(&tt, &tm);
	if (rule == 'd')
		return (long)(tm.tm_year * 1000 + tm.tm_yday);
	if (rule == 'm')
		return (long)(tm.tm_year * 100 + tm.tm_mon);
	strftime(buf, sizeof(buf), "%G%V", &tm);
	return strtol(buf, NULL, 10);
}

/* Keeps, newest first, the newest snapshot of each of the last n buckets. */
static void keep_buckets(const struct bk_roots *r, bool *keep, unsigned n, char rule)
{
	long last = -1;
	unsigned kept = 0;

	for (size_t i = r->n; i-- > 0 && kept < n;) {
		long b = bucket(r->list[i].time, rule);
		if (b == last)
			continue;
		last = b;
		keep[i] = true;
		kept++;
	}
}

int backup_forget(struct bk *b, const char *name, const struct bk_keep *k, bool json)
{
	struct bk_roots r = {0};
	char record[SNAP_RECORD_NAME_LEN + 1], id[2 * SNAP_ID_LEN + 1];
	size_t forgot = 0;
	bool *keep = NULL;
	int rc = CLI_FAIL;

	if (bk_roots_load(b, name, &r) != CLI_OK)
		goto out;
	if (!(keep = calloc(r.n ? r.n : 1, sizeof(*keep)))) {
		rc = cli_fail("out of memory");
		goto out;
	}
	for (size_t i = r.n; i-- > 0 && r.n - i <= k->last;)
		keep[i] = true;
	keep_buckets(&r, keep, k->daily, 'd');
	keep_buckets(&r, keep, k->weekly, 'w');
	keep_buckets(&r, keep, k->monthly, 'm');
	for (size_t i = 0; i < r.n; i++) {
		struct agentctl_request req;
		struct agentctl_reply reply;
		if (keep[i])
			continue;
		sodium_bin2hex(id, sizeof(id), r.list[i].id, SNAP_ID_LEN);
		snap_record_name(record, b->keys, name, r.list[i].id);
		/* An empty body: the record's tombstone replaces the root
		 * everywhere it was replicated. */
		agentctl_begin(&req, CTL_CMD_BACKUP_PUBLISH);
		agentctl_arg_text(&req, CTL_KEY_NAME, record);
		agentctl_arg_bin(&req, CTL_KEY_BODY, (const uint8_t *)"", 0);
		if (agentctl_call(b->data_dir, &req, &reply) != CLI_OK)
			goto out;
		agentctl_reply_free(&reply);
		if (!json)
			printf("forgot %s %.16s\n", name, id);
		forgot++;
	}
	if (json)
		printf("{\"name\": \"%s\", \"kept\": %zu, \"forgot\": %zu}\n", name, r.n - forgot,
		       forgot);
	else
		printf("kept %zu snapshot%s of %s, forgot %zu (kith backup prune frees their "
		       "shards)\n",
		       r.n - forgot, r.n - forgot == 1 ? "" : "s", name, forgot);
	rc = CLI_OK;
out:
	free(keep);
	bk_roots_free(&r);
	return rc;
}

/* ---- kith backup prune ---- */

struct doomed {
	char (*names)[PROTO_HOLD_NAME_MAX + 1];
	uint64_t bytes;
	size_t n, cap;
	const struct audit *a;
	struct bk_set *packs; /* the packs they belong to */
};

static int doom(void *arg, const struct proto_hold_entry *e)
{
	struct doomed *d = arg;
	uint8_t id[PACK_ID_LEN];
	unsigned shard;
	size_t i;
	bool found;

	/* Names not ours (another tool's shards) and packs a snapshot names
	 * stay. */
	if (!bk_shard_parse(e->name, id, &shard) || bk_set_find(&d->a->packs, id) >= 0)
		return 0;
	if (d->n == d->cap) {
		d->cap = d->cap ? 2 * d->cap : 64;
		if (grow((void **)&d->names, d->cap, sizeof(*d->names)) != 0)
			return -ENOMEM;
	}
	memcpy(d->names[d->n++], e->name, sizeof(*d->names));
	d->bytes += e->size;
	return bk_set_add(d->packs, id, &i, &found);
}

static void on_del(void *arg, int code, const char *err, const uint8_t *result, size_t len)
{
	int *rc = arg;

	(void)err;
	(void)result;
	(void)len;
	if (code && code != -ENOENT && !*rc)
		*rc = code;
}

/* Deletes d's shards at peer, one at a time: a delete costs the holder an
 * unlink and an index write, and a prune is not in a hurry. */
static int delete_all(struct bk *b, const uint8_t peer[PROTO_KEY_LEN], const struct doomed *d)
{
	int rc = 0, failed = 0;

	for (size_t i = 0; !rc && !failed && i < d->n; i++) {
		struct proto_hold_name n = {0};
		struct mp_buf buf = {0};
		memcpy(n.name, d->names[i], sizeof(n.name));
		rc = proto_hold_name_encode(&buf, &n);
		if (!rc)
			rc = bk_call(b, peer, PROTO_OP_HOLD_DEL, &buf, on_del, &failed);
		mp_buf_free(&buf);
	}
	return rc ? rc : failed;
}

int backup_prune(struct bk *b, bool json)
{
	struct bk_roots r = {0};
	struct audit a;
	struct snap_packs *sps = NULL;
	struct bk_set packs = {0}, peers = {0};
	struct cache *cache = NULL;
	char who[PROTO_PEERID_SHORT_LEN + 1], err[300], freed[32];
	uint64_t bytes = 0, shards = 0;
	int rc = CLI_FAIL, lock = -1;
	size_t x;
	bool found;

	if (bk_lock(b, true, &lock) != CLI_OK)
		return CLI_FAIL;
	/* Every snapshot's index must be read: a pack is deleted only when
	 * none of them names it. */
	if (audit_open(&a, b) != 0 || bk_roots_load(b, NULL, &r) != CLI_OK ||
	    audit_roots(&a, &r, &sps) != CLI_OK)
		goto out;
	for (size_t h = 0; h < b->n_holders; h++)
		if (bk_set_add(&peers, b->holders[h].peer, &x, &found) != 0)
			goto out;
	for (size_t h = 0; h < a.holders.n; h++)
		if (bk_set_add(&peers, a.holders.ids[h], &x, &found) != 0)
			goto out;
	for (size_t h = 0; h < peers.n; h++) {
		struct doomed d = {.a = &a, .packs = &packs};
		int got;
		if (fetch_peer_failed(a.f, peers.ids[h]))
			continue;
		proto_peerid_short(who, peers.ids[h]);
		got = bk_list(b, peers.ids[h], doom, &d, err, sizeof(err));
		if (!got && d.n)
			got = delete_all(b, peers.ids[h], &d);
		if (got)
			fprintf(stderr,
			        "kith: %s: %s; its unused shards stay until the next prune\n", who,
			        got == -ENOMEM ? "out of memory"
			        : err[0]       ? err
			                       : proto_strerror(got));
		else
			bytes += d.bytes, shards += d.n;
		free(d.names);
	}
	if (packs.n && cache_open(&cache, b->data_dir) == 0)
		for (size_t i = 0; i < packs.n; i++)
			cache_pack_del(cache, packs.ids[i]);
	cache_close(&cache);
	if (json)
		printf("{\"shards\": %" PRIu64 ", \"packs\": %zu, \"bytes\": %" PRIu64 "}\n",
		       shards, packs.n, bytes);
	else
		printf("deleted %" PRIu64 " shards of %zu packs no snapshot names, %s freed\n",
		       shards, packs.n, bk_bytes(freed, sizeof(freed), bytes));
	rc = CLI_OK;
out:
	sps_free(sps, r.n);
	bk_roots_free(&r);
	audit_free(&a);
	bk_set_free(&packs);
	bk_set_free(&peers);
	close(lock);
	return rc;
}
