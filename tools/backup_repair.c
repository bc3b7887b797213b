/* kith backup repair: every shard that is lost (its holder dead, without
 * a grant to us any more, missing it, listing it wrong, or, with
 * --read-data, sending bytes that do not hash right) is rebuilt from the
 * pack read back and stored on another holder; the snapshots that name a
 * moved pack get their index rewritten and their root published again
 * (same record name, next seq). What the old holders kept goes at the
 * next prune. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
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
#include "backup_cache.h"
#include "cli.h"
#include "relay.h"

struct repair {
	struct bk *b;
	struct audit a;
	struct ship *ship; /* for the code being repaired */
	bool *moved;       /* by index in a.packs */
	size_t n_moved, shards_moved;
	unsigned read_percent;
	struct cache *cache;
	FILE *report;        /* the lost shards, one line each: stdout, stderr with --json */
	uint64_t dead_for_s; /* an unreachable holder's shards move once it is dead this long */
	struct bk_set dead;  /* the holders dead that long */
};

/* A member kithd has seen dead (or gone) for r->dead_for_s at least. */
static void dead_long(void *arg, const uint8_t peer[PROTO_KEY_LEN], const char *state,
                      uint64_t since)
{
	struct repair *r = arg;
	uint64_t now = (uint64_t)time(NULL);
	size_t at;
	bool found;

	if ((!strcmp(state, "dead") || !strcmp(state, "left")) && since <= now &&
	    now - since >= r->dead_for_s)
		bk_set_add(&r->dead, peer, &at, &found);
}

/* Which shards of p are lost. Returns how many. */
static unsigned lost_shards(struct repair *r, const struct snap_pack *p, bool *lost)
{
	char id[17], who[PROTO_PEERID_SHORT_LEN + 1];
	unsigned n = 0;

	sodium_bin2hex(id, sizeof(id), p->id, 8);
	for (unsigned i = 0; i < (unsigned)p->k + p->m; i++) {
		enum shard_health h = audit_shard_health(&r->a, p, i);
		long at = bk_holder(r->b, p->holder[i]);
		int got = 0;

		proto_peerid_short(who, p->holder[i]);
		/* at < 0: no grant to us now. An unreachable holder may only be
		 * restarting: its shards move once it is dead dead_for_s. */
		lost[i] = (h > SHARD_GRACE && h != SHARD_UNREACHABLE) || at < 0 ||
		          (h == SHARD_UNREACHABLE &&
		           (!r->dead_for_s || bk_set_find(&r->dead, p->holder[i]) >= 0));
		if (!lost[i] && r->read_percent && randombytes_uniform(100) < r->read_percent &&
		    (got = audit_read_shard(&r->a, p, i)) != 0) {
			lost[i] = true;
			/* Its bytes are not to be read from again in this run. */
			fetch_mark_failed(r->a.f, p->holder[i]);
		}
		if (lost[i]) {
			fprintf(r->report, "pack %s shard %u at %s: %s\n", id, i, who,
			        got == KITH_ECHECKSUM        ? "its bytes do not match their hash"
			        : got                        ? proto_strerror(got)
			        : at < 0 && h <= SHARD_GRACE ? "its grant to us ended"
			                                     : audit_health_text[h]);
			n++;
		}
	}
	return n;
}

/* Reads pack p whole (ship_start_repair() checks it against the shard
 * hashes, which the pack's ID names). */
static int read_pack(struct repair *r, const struct snap_pack *p, uint8_t *buf)
{
	return fetch_range(r->a.f, p, 0, p->len, buf);
}

static int repair_pack(struct repair *r, size_t idx)
{
	struct snap_pack *p = &r->a.place[idx];
	bool lost[PLACE_SHARDS_MAX] = {false};
	unsigned n = lost_shards(r, p, lost);
	uint8_t *buf;
	char id[17];
	int rc;

	if (!n)
		return 0;
	sodium_bin2hex(id, sizeof(id), p->id, 8);
	if (!r->ship || ship_k(r->ship) != p->k || ship_m(r->ship) != p->m) {
		ship_free(&r->ship);
		if ((rc = ship_new(&r->ship, r->b, p->k, p->m)) != 0)
			return rc;
	}
	if (!(buf = malloc(p->len)))
		return -ENOMEM;
	/* A data shard that reads back wrong (unseen by the holder's list)
	 * is lost too, and the pack read again around it. */
	for (unsigned attempt = 0;; attempt++) {
		const struct snap_pack *made = ship_placed(r->ship);
		unsigned bad = 0;
		rc = read_pack(r, p, buf);
		if (rc) {
			fprintf(stderr, "kith: pack %s cannot be read back: %s\n", id,
			        fetch_error(r->a.f)[0] ? fetch_error(r->a.f) : proto_strerror(rc));
			free(buf);
			return rc;
		}
		rc = ship_start_repair(r->ship, buf, p->len, p, lost);
		if (rc != KITH_ECHECKSUM || attempt > p->m)
			break;
		for (unsigned i = 0; i < p->k; i++)
			if (memcmp(made->hash[i], p->hash[i], sizeof(p->hash[i])) && !lost[i]) {
				fetch_mark_failed(r->a.f, p->holder[i]);
				lost[i] = true;
				bad++, n++;
			}
		if (!bad)
			break;
	}
	if (!rc)
		rc = ship_wait(r->ship, p);
	free(buf);
	if (rc) {
		fprintf(stderr, "kith: pack %s not repaired: %s\n", id, ship_error(r->ship));
		return rc;
	}
	r->moved[idx] = true;
	r->n_moved++;
	r->shards_moved += n;
	/* The cache names packs for later puts: where this one is now. */
	if (r->cache)
		cache_pack_put(r->cache, p, NULL, 0);
	return 0;
}

struct rewrite {
	struct repair *r;
	struct ixw *w;
};

static int rewrite_entry(void *arg, const struct snap_entry *e)
{
	struct rewrite *rw = arg;
	struct snap_entry copy = *e;

	if (e->type == SNAP_ENTRY_PACK) {
		long at = bk_set_find(&rw->r->a.packs, e->pack.id);
		if (at >= 0)
			copy.pack = rw->r->a.place[at];
	}
	return ixw_add(rw->w, &copy) ? KITH_EVALUE : 0;
}

/* Writes root's index again with the packs' placements now, ships it and
 * publishes the root anew. */
static int rewrite(struct repair *r, const struct snap_root *old)
{
	struct snap_root *root = malloc(sizeof(*root));
	struct rewrite rw = {r, NULL};
	char err[400] = "", record[SNAP_RECORD_NAME_LEN + 1];
	uint8_t *body = malloc(SNAP_ROOT_SEALED_MAX);
	struct agentctl_request req;
	struct agentctl_reply reply;
	size_t len;
	int rc;

	if (!root || !body) {
		free(root);
		free(body);
		return -ENOMEM;
	}
	*root = *old;
	root->n_index = 0;
	root->chunks = 0;
	rc = ixw_new(&rw.w, r->b, r->ship, root, NULL, NULL);
	if (!rc)
		rc = bk_walk(r->b, r->a.f, old, rewrite_entry, NULL, &rw, err, sizeof(err));
	if (!rc && ixw_finish(rw.w) != 0)
		rc = KITH_EVALUE, snprintf(err, sizeof(err), "%s", ixw_error(rw.w));
	if (!rc && root->chunks != old->chunks)
		rc = KITH_EVALUE, snprintf(err, sizeof(err), "the index rewritten lost chunks");
	if (!rc)
		rc = snap_record_name(record, r->b->keys, root->name, root->id);
	if (!rc)
		rc = snap_root_seal(body, SNAP_ROOT_SEALED_MAX, &len, root, r->b->keys,
		                    r->b->id->pk, record);
	if (!rc) {
		agentctl_begin(&req, CTL_CMD_BACKUP_PUBLISH);
		agentctl_arg_text(&req, CTL_KEY_NAME, record);
		agentctl_arg_bin(&req, CTL_KEY_BODY, body, len);
		if (agentctl_call(r->b->data_dir, &req, &reply) == CLI_OK)
			agentctl_reply_free(&reply);
		else
			rc = KITH_EVALUE, snprintf(err, sizeof(err), "kithd did not publish it");
	}
	if (rc)
		fprintf(stderr, "kith: the index of %s was not rewritten: %s\n", old->name,
		        err[0] ? err : proto_strerror(rc));
	ixw_free(&rw.w);
	free(root);
	free(body);
	return rc;
}

int backup_repair(struct bk *b, unsigned read_percent, uint64_t dead_for_s, bool json)
{
	struct repair r = {.b = b,
	                   .read_percent = read_percent,
	                   .report = json ? stderr : stdout,
	                   .dead_for_s = dead_for_s};
	struct bk_roots roots = {0};
	struct snap_packs *sps = NULL;
	size_t failed = 0, rewritten = 0;
	int rc = CLI_FAIL, lock = -1;

	if (bk_lock(b, true, &lock) != CLI_OK)
		return CLI_FAIL;
	if (audit_open(&r.a, b) != 0 || bk_roots_load(b, NULL, &roots) != CLI_OK ||
	    audit_roots(&r.a, &roots, &sps) != CLI_OK)
		goto out;
	if (!(r.moved = calloc(r.a.packs.n ? r.a.packs.n : 1, sizeof(*r.moved)))) {
		cli_fail("out of memory");
		goto out;
	}
	if (cache_open(&r.cache, b->data_dir) != 0)
		r.cache = NULL;
	if (dead_for_s)
		bk_members_each(b, dead_long, &r);
	for (size_t j = 0; j < r.a.packs.n; j++)
		failed += repair_pack(&r, j) != 0;
	for (size_t i = 0; i < roots.n; i++) {
		bool touched = false;
		for (size_t j = 0; j < sps[i].n && !touched; j++)
			touched = r.moved[sps[i].idx[j]];
		if (!touched)
			continue;
		/* The new index packs take the code of the old ones. */
		if (!r.ship || ship_k(r.ship) != roots.list[i].index[0].k ||
		    ship_m(r.ship) != roots.list[i].index[0].m) {
			ship_free(&r.ship);
			if (ship_new(&r.ship, b, roots.list[i].index[0].k,
			             roots.list[i].index[0].m)) {
				failed++;
				continue;
			}
		}
		if (rewrite(&r, &roots.list[i]) == 0)
			rewritten++;
		else
			failed++;
	}
	if (json)
		printf("{\"packs\": %zu, \"shards_moved\": %zu, \"snapshots_rewritten\": %zu, "
		       "\"failed\": %zu}\n",
		       r.n_moved, r.shards_moved, rewritten, failed);
	else
		printf("moved %zu shard%s of %zu pack%s, rewrote %zu snapshot index%s%s\n",
		       r.shards_moved, r.shards_moved == 1 ? "" : "s", r.n_moved,
		       r.n_moved == 1 ? "" : "s", rewritten, rewritten == 1 ? "" : "es",
		       failed ? "; some could not be repaired (above)" : "");
	rc = failed ? CLI_FAIL : CLI_OK;
out:
	cache_close(&r.cache);
	bk_set_free(&r.dead);
	ship_free(&r.ship);
	free(r.moved);
	audit_sps_free(sps, roots.n);
	bk_roots_free(&roots);
	audit_free(&r.a);
	close(lock);
	return rc;
}
