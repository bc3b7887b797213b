/* kith backup forget and prune: which snapshots to keep, and deleting at
 * the holders the shards no snapshot names any more. */
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
#include "proto/kit.h"
#include "proto/peerid.h"
#include "agentctl.h"
#include "backup.h"
#include "backup_audit.h"
#include "backup_cache.h"
#include "cli.h"
#include "relay.h"

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
	const uint8_t *peer;  /* the holder listing */
	struct bk_set *packs; /* the packs gone for good */
};

static int doom(void *arg, const struct proto_hold_entry *e)
{
	struct doomed *d = arg;
	uint8_t id[PACK_ID_LEN];
	unsigned shard;
	size_t i;
	bool found;
	long at;

	/* Names not ours (another tool's shards) stay, and the shards of the
	 * packs a snapshot names, where it says they are: a shard repair
	 * moved away goes, and its pack stays in the cache. */
	if (!bk_shard_parse(e->name, id, &shard))
		return 0;
	at = bk_set_find(&d->a->packs, id);
	if (at >= 0 && (shard >= (unsigned)d->a->place[at].k + d->a->place[at].m ||
	                !memcmp(d->a->place[at].holder[shard], d->peer, PROTO_KEY_LEN)))
		return 0;
	if (d->n == d->cap) {
		d->cap = d->cap ? 2 * d->cap : 64;
		if (audit_grow((void **)&d->names, d->cap, sizeof(*d->names)) != 0)
			return -ENOMEM;
	}
	memcpy(d->names[d->n++], e->name, sizeof(*d->names));
	d->bytes += e->size;
	return at >= 0 ? 0 : bk_set_add(d->packs, id, &i, &found);
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
	/* After a restore from the kit, the store may not know every
	 * snapshot yet: what it does not know would be taken for garbage. */
	if (bk_resyncing(b)) {
		close(lock);
		return cli_fail(
		    "kithd is still getting this agent's records back from its partners "
		    "(restored from a recovery kit): prune once %s is gone from %s",
		    PROTO_KIT_RESYNC_FILE, b->data_dir);
	}
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
		struct doomed d = {.a = &a, .peer = peers.ids[h], .packs = &packs};
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
		printf("deleted %" PRIu64 " shards no snapshot names (%zu packs gone), %s freed\n",
		       shards, packs.n, bk_bytes(freed, sizeof(freed), bytes));
	rc = CLI_OK;
out:
	audit_sps_free(sps, r.n);
	bk_roots_free(&r);
	audit_free(&a);
	bk_set_free(&packs);
	bk_set_free(&peers);
	close(lock);
	return rc;
}
