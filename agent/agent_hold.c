/* The holder's side of backups: the hold.* requests of a partner holding
 * our backup grant (proto/ops.h), served from shard files
 * (agent/backup/shardfile.h) indexed in the store's holds. Quota is
 * reserved at open, before any byte flows; the bytes go to a temporary
 * file piece by piece; commit is answered with our signed receipt only
 * once the worker made the file durable, so the answer is deferred and
 * the open writer keeps what it needs to send it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/error.h"
#include "proto/identity.h"
#include "proto/ops.h"
#include "proto/peerid.h"
#include "proto/units.h"
#include "proto/wire.h"
#include "store/store.h"
#include "agent_int.h"
#include "agent/backup/shardfile.h"
#include "agent/core/log.h"

/* Open writers: each holds a temporary file, a reservation and a few
 * hundred bytes of state, so both a partner and all of them together are
 * bounded. A partner writes a few shards at once; more waits its turn. */
#define HOLD_WRITERS_MAX 64
#define HOLD_WRITERS_PER_OWNER 4
/* A writer that has seen nothing for this long is aborted and its quota
 * given back: a partner that vanished mid-put must not hold it forever. */
#define HOLD_IDLE_MS 60000
#define HOLD_SWEEP_MS 5000
/* How often grants are compared with what we keep ([backup] grace), and
 * how much one turn does: the rest waits for the next turn. */
#define HOLD_GRACE_CHECK_MS 10000
#define HOLD_GRACE_OWNERS 256
#define HOLD_GRACE_EXPIRED 256

struct hold_writer {
	struct agent *a;
	bool used;
	bool committing; /* the worker is making it durable: the answer waits */
	uint8_t owner[PROTO_KEY_LEN];
	char name[PROTO_HOLD_NAME_MAX + 1];
	uint64_t size;
	uint8_t hash[PROTO_HOLD_HASH_LEN];
	struct shardfile_writer *w;
	uint64_t last_ms;
	/* The commit's reply path: a copy, safe to use later (net_reply()
	 * checks that the connection is still the peer's). */
	struct net_from reply;
	uint32_t reply_id;
};

struct agent_holds {
	struct hold_writer writers[HOLD_WRITERS_MAX];
	struct loop_timer sweep;
	struct loop_timer grace; /* grants ended or back, graces over */
};

/* The answer for a failure of the store or the files, as shard.put's. */
static void answer_error(struct agent *a, const struct net_from *to, uint32_t id, int rc)
{
	if (rc == -ENOENT)
		agent_respond(a, to, id, PROTO_RESPONSE_NOT_FOUND, "no shard by that name", NULL);
	else if (rc == KITH_EDISKFULL)
		agent_respond(a, to, id, PROTO_RESPONSE_ERROR, "the holder's disk is full", NULL);
	else
		agent_respond(a, to, id, PROTO_RESPONSE_ERROR, proto_strerror(rc), NULL);
}

static struct hold_writer *writer_find(struct agent *a, const uint8_t owner[PROTO_KEY_LEN],
                                       const char *name)
{
	for (size_t i = 0; i < HOLD_WRITERS_MAX; i++) {
		struct hold_writer *hw = &a->holds->writers[i];
		if (hw->used && !memcmp(hw->owner, owner, PROTO_KEY_LEN) && !strcmp(hw->name, name))
			return hw;
	}
	return NULL;
}

static void writer_clear(struct hold_writer *hw)
{
	struct agent *a = hw->a;

	memset(hw, 0, sizeof(*hw));
	hw->a = a;
}

/* Drops an open (not committing) writer: its temporary and its quota. */
static void writer_abort(struct hold_writer *hw, const char *why)
{
	char who[PROTO_PEERID_SHORT_LEN + 1];
	int rc;

	shardfile_abort(hw->w);
	hw->w = NULL;
	rc = store_hold_release(hw->a->store, hw->owner, hw->name, NULL);
	proto_peerid_short(who, hw->owner);
	if (rc && rc != -ENOENT)
		log_warnx("cannot release the reservation of %s's shard %s: %s", who, hw->name,
		          proto_strerror(rc));
	if (why)
		log_info("aborted %s's shard %s: %s", who, hw->name, why);
	writer_clear(hw);
}

static void sweep_tick(struct loop *l, void *arg)
{
	struct agent *a = arg;
	uint64_t now = loop_now_ms(l);
	bool any = false;

	for (size_t i = 0; i < HOLD_WRITERS_MAX; i++) {
		struct hold_writer *hw = &a->holds->writers[i];
		if (!hw->used)
			continue;
		if (!hw->committing && now - hw->last_ms > HOLD_IDLE_MS)
			writer_abort(hw, "nothing received for 60 s");
		else
			any = true;
	}
	if (any)
		loop_timer_start(l, &a->holds->sweep, HOLD_SWEEP_MS);
}

/* Removes owner's kept or reserved hold name: the index first, so that a
 * crash before the file goes leaves a file no hold names, which the next
 * start removes (the other order could leave an entry counted in usage
 * with no file). *used (may be NULL) as store_hold_release() gives it. */
static int drop_hold(struct agent *a, const uint8_t owner[PROTO_KEY_LEN], const char *name,
                     uint64_t *used)
{
	struct store_hold h;
	int rc = store_hold_get(a->store, owner, name, &h), err;

	if (!rc)
		rc = store_hold_release(a->store, owner, name, used);
	if (!rc && h.state == STORE_HOLD_KEPT) {
		err = shardfile_remove(a->shards, owner, name, NULL, NULL);
		if (err)
			log_warnx("cannot remove a shard file now (%s): the next start will",
			          proto_strerror(err));
	}
	return rc;
}

/* ---- grace: what we keep for an owner whose grant ended ----
 *
 * Stateless: every turn compares each owner's holds with its grants now,
 * so a revocation, an expiry and an ejection are all seen the same way,
 * also across restarts. */

struct grace_owner {
	uint8_t peer[PROTO_KEY_LEN];
	bool unmarked, marked; /* holds without, and with, a grace deadline */
};

struct grace_scan {
	struct grace_owner owners[HOLD_GRACE_OWNERS];
	size_t n;
};

static int grace_collect(void *arg, const uint8_t owner[PROTO_KEY_LEN], const char *name,
                         const struct store_hold *h)
{
	struct grace_scan *g = arg;
	struct grace_owner *o = g->n ? &g->owners[g->n - 1] : NULL;

	(void)name;
	if (!o || memcmp(o->peer, owner, PROTO_KEY_LEN) != 0) {
		if (g->n == HOLD_GRACE_OWNERS)
			return 1; /* the rest at the next turn */
		o = &g->owners[g->n++];
		memset(o, 0, sizeof(*o));
		memcpy(o->peer, owner, PROTO_KEY_LEN);
	}
	if (h->grace_until)
		o->marked = true;
	else
		o->unmarked = true;
	return 0;
}

static void grace_owner_check(struct agent *a, const struct grace_owner *o, uint64_t now)
{
	struct proto_scope want = {.type = PROTO_SCOPE_BACKUP};
	const struct trust_grant *g;
	const struct proto_scope *scope;
	char who[PROTO_PEERID_SHORT_LEN + 1];
	bool granted = trust_grant_check(a->trust, a->id->pk, o->peer, &want, now, &g, &scope) == 0;
	uint64_t marked = 0, until = now + a->conf.backup_grace_ms / 1000;
	int rc = 0;

	proto_peerid_short(who, o->peer);
	if (!granted && o->unmarked) {
		rc = store_hold_grace(a->store, o->peer, until, &marked);
		if (!rc)
			log_info("the backup grant of %s ended: its %llu shards stay readable for "
			         "%llu s more ([backup] grace)",
			         who, (unsigned long long)marked,
			         (unsigned long long)(until - now));
	} else if (granted && o->marked) {
		rc = store_hold_grace(a->store, o->peer, 0, &marked);
		if (!rc)
			log_info("%s holds a backup grant again: its shards are kept", who);
	}
	if (rc)
		log_warnx("cannot mark the shards of %s: %s", who, proto_strerror(rc));
}

struct grace_expired {
	struct {
		uint8_t owner[PROTO_KEY_LEN];
		char name[PROTO_HOLD_NAME_MAX + 1];
	} items[HOLD_GRACE_EXPIRED];
	size_t n;
};

static int expired_collect(void *arg, const uint8_t owner[PROTO_KEY_LEN], const char *name,
                           const struct store_hold *h)
{
	struct grace_expired *e = arg;

	(void)h;
	if (e->n == HOLD_GRACE_EXPIRED)
		return 1;
	memcpy(e->items[e->n].owner, owner, PROTO_KEY_LEN);
	snprintf(e->items[e->n].name, sizeof(e->items[e->n].name), "%s", name);
	e->n++;
	return 0;
}

static void grace_delete_expired(struct agent *a, uint64_t now)
{
	struct grace_expired *e = calloc(1, sizeof(*e));
	unsigned deleted = 0;

	if (!e)
		return;
	store_holds_expired(a->store, now, expired_collect, e);
	for (size_t i = 0; i < e->n; i++) {
		struct hold_writer *hw = writer_find(a, e->items[i].owner, e->items[i].name);
		if (hw && hw->committing)
			continue; /* its callback comes first; the next turn deletes it */
		if (hw)
			writer_abort(hw, "its grace period is over");
		else if (drop_hold(a, e->items[i].owner, e->items[i].name, NULL) == 0)
			deleted++;
	}
	if (deleted)
		log_info("deleted %u shards whose grace period was over", deleted);
	free(e);
}

/* Half the grace period, within 1 s and HOLD_GRACE_CHECK_MS. */
static uint64_t grace_check_ms(const struct agent *a)
{
	uint64_t half = a->conf.backup_grace_ms / 2;

	return half < 1000 ? 1000 : half > HOLD_GRACE_CHECK_MS ? HOLD_GRACE_CHECK_MS : half;
}

static void grace_tick(struct loop *l, void *arg)
{
	struct agent *a = arg;
	struct grace_scan *g = calloc(1, sizeof(*g));
	uint64_t now = loop_wall_s();

	if (g) {
		store_holds_each(a->store, NULL, grace_collect, g);
		for (size_t i = 0; i < g->n; i++)
			grace_owner_check(a, &g->owners[i], now);
		free(g);
	}
	grace_delete_expired(a, now);
	loop_timer_start(l, &a->holds->grace, grace_check_ms(a));
}

/* ---- start and stop ---- */

struct orphan_walk {
	struct agent *a;
	const uint8_t *owner;
	unsigned removed;
};

static int orphan_check(void *arg, const char *name, uint64_t size)
{
	struct orphan_walk *w = arg;
	struct store_hold h;
	int rc = store_hold_get(w->a->store, w->owner, name, &h);

	(void)size;
	/* Only a file the index says is kept stays: one without an entry,
	 * or whose entry was released, is a put cut between the worker's
	 * link and the commit in the store. A damaged entry (-EIO) is left
	 * for the admin, with its file. */
	if ((rc == -ENOENT || (rc == 0 && h.state != STORE_HOLD_KEPT)) &&
	    shardfile_remove(w->a->shards, w->owner, name, NULL, NULL) == 0)
		w->removed++;
	return 0;
}

static int orphan_owner(void *arg, const uint8_t owner[PROTO_KEY_LEN])
{
	struct orphan_walk *w = arg;

	w->owner = owner;
	return shardfile_each(w->a->shards, owner, orphan_check, w);
}

int agent_hold_start(struct agent *a, char *err, size_t n)
{
	struct orphan_walk walk = {.a = a};
	unsigned removed = 0;
	uint64_t released = 0;
	int rc;

	a->holds = calloc(1, sizeof(*a->holds));
	if (!a->holds)
		return -ENOMEM;
	for (size_t i = 0; i < HOLD_WRITERS_MAX; i++)
		a->holds->writers[i].a = a;
	loop_timer_init(&a->holds->sweep, sweep_tick, a);
	loop_timer_init(&a->holds->grace, grace_tick, a);
	rc = shardfile_dir_open(&a->shards, a->loop, a->data_dir, &removed);
	if (rc) {
		snprintf(err, n, "cannot open %s/%s: %s", a->data_dir, SHARDFILE_DIR,
		         proto_strerror(rc));
		return rc;
	}
	if (removed)
		log_info("removed %u unfinished shard files", removed);
	rc = store_holds_drop_reserved(a->store, &released);
	if (rc) {
		/* Usage stays too high for the owners concerned, but the
		 * store is readable: kith shard drop repairs them. */
		log_warnx("cannot release the reservations of unfinished shards: %s",
		          proto_strerror(rc));
	} else if (released) {
		log_info("released %llu reservations of unfinished shards",
		         (unsigned long long)released);
	}
	rc = shardfile_owners(a->shards, orphan_owner, &walk);
	if (rc)
		log_warnx("cannot check the shard files against the index: %s", proto_strerror(rc));
	if (walk.removed)
		log_info("removed %u shard files that no hold names", walk.removed);
	return loop_timer_start(a->loop, &a->holds->grace, 0);
}

void agent_hold_stop(struct agent *a)
{
	if (a->holds) {
		for (size_t i = 0; i < HOLD_WRITERS_MAX; i++) {
			struct hold_writer *hw = &a->holds->writers[i];
			if (hw->used && !hw->committing)
				writer_abort(hw, NULL);
		}
		if (a->loop) {
			loop_timer_stop(a->loop, &a->holds->sweep);
			loop_timer_stop(a->loop, &a->holds->grace);
		}
	}
	/* Runs the callbacks of the commits still queued (answering them),
	 * so the writers' table must still be there. */
	shardfile_dir_close(&a->shards);
	free(a->holds);
	a->holds = NULL;
}

/* ---- serving ---- */

struct grace_walk {
	uint64_t now;
	bool found;
};

static int grace_any(void *arg, const uint8_t owner[PROTO_KEY_LEN], const char *name,
                     const struct store_hold *h)
{
	struct grace_walk *w = arg;

	(void)owner;
	(void)name;
	if (h->grace_until > w->now) {
		w->found = true;
		return 1;
	}
	return 0;
}

/* Our grant to the sender, or NULL after refusing. With grace, a hold of
 * the sender in its grace period (grace_name, or any when NULL) is enough:
 * an owner whose grant ended may still read what it left with us (then
 * *in_grace is set and the scope returned has no quota). */
static const struct proto_scope *hold_granted(struct agent *a, const struct net_from *from,
                                              const struct proto_request *req, bool grace,
                                              const char *grace_name, bool *in_grace)
{
	static const struct proto_scope none = {.type = PROTO_SCOPE_BACKUP};
	struct proto_scope want = {.type = PROTO_SCOPE_BACKUP};
	const struct trust_grant *g;
	const struct proto_scope *scope;
	uint64_t now = loop_wall_s();
	int rc = trust_grant_check(a->trust, a->id->pk, from->peer, &want, now, &g, &scope);

	if (rc == 0)
		return scope;
	if (grace) {
		struct grace_walk w = {.now = now};
		struct store_hold h;

		if (grace_name)
			w.found = store_hold_get(a->store, from->peer, grace_name, &h) == 0 &&
			          h.grace_until > now;
		else
			store_holds_each(a->store, from->peer, grace_any, &w);
		if (w.found) {
			*in_grace = true;
			return &none;
		}
	}
	agent_refuse_request(a, from, req, rc, "backup");
	return NULL;
}

static void serve_open(struct agent *a, const struct net_from *from,
                       const struct proto_request *req, const struct proto_scope *scope)
{
	struct proto_hold_open o;
	struct hold_writer *slot = NULL;
	struct shardfile_writer *w = NULL;
	size_t mine = 0, total = 0;
	uint64_t used = 0, count = 0;
	char have[32], quota[32], msg[160];
	int rc;

	if (proto_hold_open_decode(&o, req->args, req->args_len) != 0) {
		agent_respond(a, from, req->id, PROTO_RESPONSE_INVALID,
		              "malformed hold.open arguments", NULL);
		return;
	}
	for (size_t i = 0; i < HOLD_WRITERS_MAX; i++) {
		struct hold_writer *hw = &a->holds->writers[i];
		if (!hw->used) {
			if (!slot)
				slot = hw;
			continue;
		}
		total++;
		if (!memcmp(hw->owner, from->peer, PROTO_KEY_LEN))
			mine++;
	}
	if (mine >= HOLD_WRITERS_PER_OWNER) {
		snprintf(msg, sizeof(msg), "busy: at most %d shards of yours open at once",
		         HOLD_WRITERS_PER_OWNER);
		agent_respond(a, from, req->id, PROTO_RESPONSE_BUSY, msg, NULL);
		return;
	}
	if (!slot || total >= HOLD_WRITERS_MAX) {
		agent_respond(a, from, req->id, PROTO_RESPONSE_BUSY,
		              "busy: too many shards open at this holder, try again later", NULL);
		return;
	}
	rc = store_hold_reserve(a->store, from->peer, o.name, o.size, scope->quota,
	                        proto_scope_backup_count(scope), loop_wall_s(), &used);
	if (rc == KITH_ETOOMANY) {
		snprintf(msg, sizeof(msg), "over your backup grant's %llu shards",
		         (unsigned long long)proto_scope_backup_count(scope));
		agent_respond(a, from, req->id, PROTO_RESPONSE_QUOTA, msg, NULL);
		return;
	}
	if (rc == KITH_EQUOTA) {
		store_shard_usage(a->store, from->peer, &used, &count);
		proto_size_format(used ? used : 1, have, sizeof(have));
		proto_size_format(scope->quota, quota, sizeof(quota));
		snprintf(msg, sizeof(msg), "over your backup quota of %s (%s used)", quota,
		         used ? have : "0");
		agent_respond(a, from, req->id, PROTO_RESPONSE_QUOTA, msg, NULL);
		return;
	}
	if (rc == -EEXIST) {
		agent_respond(a, from, req->id, PROTO_RESPONSE_INVALID,
		              "a shard by that name is already held or being written", NULL);
		return;
	}
	if (rc) {
		answer_error(a, from, req->id, rc);
		return;
	}
	rc = shardfile_create(a->shards, from->peer, o.name, o.size, &w);
	if (rc) {
		/* Nothing partial is kept: the quota goes back at once. */
		store_hold_release(a->store, from->peer, o.name, NULL);
		if (rc == -EEXIST) /* a deletion of that name not yet done */
			agent_respond(a, from, req->id, PROTO_RESPONSE_BUSY,
			              "busy: that name is being removed, try again", NULL);
		else
			answer_error(a, from, req->id, rc);
		return;
	}
	slot->used = true;
	memcpy(slot->owner, from->peer, PROTO_KEY_LEN);
	memcpy(slot->name, o.name, sizeof(slot->name));
	slot->size = o.size;
	memcpy(slot->hash, o.hash, sizeof(slot->hash));
	slot->w = w;
	slot->last_ms = loop_now_ms(a->loop);
	if (!loop_timer_active(&a->holds->sweep))
		loop_timer_start(a->loop, &a->holds->sweep, HOLD_SWEEP_MS);
	agent_respond_usage(a, from, req->id, used, scope->quota);
}

static void serve_write(struct agent *a, const struct net_from *from,
                        const struct proto_request *req)
{
	struct proto_hold_write wr;
	struct proto_hold_written done;
	struct hold_writer *hw;
	struct mp_buf out = {0};
	char msg[160];
	int rc;

	if (proto_hold_write_decode(&wr, req->args, req->args_len) != 0) {
		agent_respond(a, from, req->id, PROTO_RESPONSE_INVALID,
		              "malformed hold.write arguments", NULL);
		return;
	}
	hw = writer_find(a, from->peer, wr.name);
	if (!hw || hw->committing) {
		agent_respond(a, from, req->id, PROTO_RESPONSE_NOT_FOUND,
		              hw ? "that shard is being committed"
		                 : "no shard by that name is open: hold.open first",
		              NULL);
		return;
	}
	hw->last_ms = loop_now_ms(a->loop);
	rc = shardfile_write(hw->w, wr.offset, wr.data, wr.len);
	if (rc == KITH_EVALUE) {
		snprintf(msg, sizeof(msg), "piece out of order: the next one starts at %llu",
		         (unsigned long long)shardfile_written(hw->w));
		agent_respond(a, from, req->id, PROTO_RESPONSE_INVALID, msg, NULL);
		return;
	}
	if (rc == KITH_ETOOBIG) {
		snprintf(msg, sizeof(msg), "piece past the shard's size of %llu bytes",
		         (unsigned long long)hw->size);
		agent_respond(a, from, req->id, PROTO_RESPONSE_INVALID, msg, NULL);
		return;
	}
	if (rc) {
		/* An I/O error is sticky: the put cannot finish, so its
		 * quota goes back now rather than after the idle timeout. */
		writer_abort(hw, proto_strerror(rc));
		answer_error(a, from, req->id, rc);
		return;
	}
	done.written = shardfile_written(hw->w);
	if (proto_hold_written_encode(&out, &done) == 0)
		agent_respond(a, from, req->id, PROTO_RESPONSE_OK, NULL, &out);
	else
		agent_respond(a, from, req->id, PROTO_RESPONSE_ERROR, "cannot encode the result",
		              NULL);
	mp_buf_free(&out);
}

/* In the loop, once the worker is done: the file is durable (err 0), or
 * nothing is kept under the name. */
static void commit_done(void *arg, int err)
{
	struct hold_writer *hw = arg;
	struct agent *a = hw->a;
	struct proto_hold_receipt r;
	struct mp_buf out = {0};
	char who[PROTO_PEERID_SHORT_LEN + 1];
	int rc = err;

	proto_peerid_short(who, hw->owner);
	if (!rc) {
		rc = store_hold_commit(a->store, hw->owner, hw->name, hw->hash);
		if (rc) {
			/* The index cannot say it is kept: the file goes, and
			 * the start's check would remove it anyway. */
			log_warnx("cannot index %s's shard %s: %s", who, hw->name,
			          proto_strerror(rc));
			shardfile_remove(a->shards, hw->owner, hw->name, NULL, NULL);
		}
	}
	if (!rc)
		rc = proto_hold_receipt_sign(&r, a->id, hw->owner, hw->name, hw->size, hw->hash,
		                             loop_wall_s());
	if (!rc)
		rc = proto_hold_receipt_encode(&out, &r);
	if (!rc) {
		log_debug("keeping %s's shard %s (%llu bytes)", who, hw->name,
		          (unsigned long long)hw->size);
		agent_respond(a, &hw->reply, hw->reply_id, PROTO_RESPONSE_OK, NULL, &out);
	} else {
		struct store_hold h;

		/* A receipt we could not send leaves a kept shard the owner
		 * does not count on: it may delete it or commit again. */
		if (store_hold_get(a->store, hw->owner, hw->name, &h) == 0 &&
		    h.state == STORE_HOLD_RESERVED)
			store_hold_release(a->store, hw->owner, hw->name, NULL);
		if (rc == -EEXIST)
			agent_respond(a, &hw->reply, hw->reply_id, PROTO_RESPONSE_INVALID,
			              "a shard by that name is already held", NULL);
		else if (rc == -ECANCELED || rc == -ESHUTDOWN)
			agent_respond(a, &hw->reply, hw->reply_id, PROTO_RESPONSE_BUSY,
			              "busy: the holder is stopping, put it again later", NULL);
		else
			answer_error(a, &hw->reply, hw->reply_id, rc);
	}
	mp_buf_free(&out);
	writer_clear(hw);
}

static void serve_commit(struct agent *a, const struct net_from *from,
                         const struct proto_request *req)
{
	struct proto_hold_name nm;
	struct hold_writer *hw;
	uint64_t written, size;
	char msg[160];
	int rc;

	if (proto_hold_name_decode(&nm, req->args, req->args_len) != 0) {
		agent_respond(a, from, req->id, PROTO_RESPONSE_INVALID,
		              "malformed hold.commit arguments", NULL);
		return;
	}
	hw = writer_find(a, from->peer, nm.name);
	if (!hw || hw->committing) {
		agent_respond(a, from, req->id, PROTO_RESPONSE_NOT_FOUND,
		              hw ? "that shard is already being committed"
		                 : "no shard by that name is open: hold.open first",
		              NULL);
		return;
	}
	written = shardfile_written(hw->w);
	size = hw->size;
	hw->reply = *from;
	hw->reply_id = req->id;
	rc = shardfile_commit(hw->w, hw->hash, commit_done, hw);
	hw->w = NULL; /* consumed, whatever the result */
	if (!rc) {
		hw->committing = true;
		return; /* commit_done() answers */
	}
	store_hold_release(a->store, hw->owner, hw->name, NULL);
	writer_clear(hw);
	if (rc == KITH_ETRUNC) {
		snprintf(msg, sizeof(msg), "bytes missing: %llu of %llu received, nothing kept",
		         (unsigned long long)written, (unsigned long long)size);
		agent_respond(a, from, req->id, PROTO_RESPONSE_INVALID, msg, NULL);
	} else if (rc == KITH_ECHECKSUM) {
		agent_respond(a, from, req->id, PROTO_RESPONSE_INVALID,
		              "the bytes do not match the hash given at open, nothing kept", NULL);
	} else {
		answer_error(a, from, req->id, rc);
	}
}

static void serve_read(struct agent *a, const struct net_from *from,
                       const struct proto_request *req)
{
	struct proto_hold_read rd;
	struct proto_hold_data data = {0};
	struct store_hold h;
	struct mp_buf out = {0};
	uint8_t *buf = NULL;
	size_t got = 0, len;
	bool grace = false;
	int rc;

	if (proto_hold_read_decode(&rd, req->args, req->args_len) != 0) {
		agent_respond(a, from, req->id, PROTO_RESPONSE_INVALID,
		              "malformed hold.read arguments", NULL);
		return;
	}
	if (!hold_granted(a, from, req, true, rd.name, &grace))
		return;
	rc = store_hold_get(a->store, from->peer, rd.name, &h);
	if (rc == 0 && h.state != STORE_HOLD_KEPT)
		rc = -ENOENT; /* still being written: nothing to read yet */
	len = rd.len < PROTO_HOLD_PIECE_MAX ? rd.len : PROTO_HOLD_PIECE_MAX;
	if (!rc && rd.offset < h.size && len > h.size - rd.offset)
		len = (size_t)(h.size - rd.offset);
	if (!rc && rd.offset >= h.size)
		len = 0;
	if (!rc && len && !(buf = malloc(len)))
		rc = -ENOMEM;
	if (!rc && len)
		rc = shardfile_read(a->shards, from->peer, rd.name, rd.offset, buf, len, &got);
	if (!rc) {
		data.data = buf;
		data.len = got;
		data.size = h.size;
		rc = proto_hold_data_encode(&out, &data);
	}
	if (rc)
		answer_error(a, from, req->id, rc);
	else
		agent_respond(a, from, req->id, PROTO_RESPONSE_OK, NULL, &out);
	mp_buf_free(&out);
	free(buf);
}

static void serve_del(struct agent *a, const struct net_from *from, const struct proto_request *req,
                      const struct proto_scope *scope)
{
	struct proto_hold_name nm;
	struct hold_writer *hw;
	uint64_t used = 0, count = 0;
	int rc;

	if (proto_hold_name_decode(&nm, req->args, req->args_len) != 0) {
		agent_respond(a, from, req->id, PROTO_RESPONSE_INVALID,
		              "malformed hold.del arguments", NULL);
		return;
	}
	hw = writer_find(a, from->peer, nm.name);
	if (hw && hw->committing) {
		agent_respond(a, from, req->id, PROTO_RESPONSE_BUSY,
		              "busy: that shard is being committed, try again", NULL);
		return;
	}
	if (hw) {
		writer_abort(hw, NULL); /* releases its reservation */
		store_shard_usage(a->store, from->peer, &used, &count);
		agent_respond_usage(a, from, req->id, used, scope->quota);
		return;
	}
	rc = drop_hold(a, from->peer, nm.name, &used);
	if (rc) {
		answer_error(a, from, req->id, rc);
		return;
	}
	agent_respond_usage(a, from, req->id, used, scope->quota);
}

struct list_walk {
	struct agent *a;
	struct proto_hold_list *list;
	const struct proto_hold_list_args *args;
};

static int list_one(void *arg, const uint8_t owner[PROTO_KEY_LEN], const char *name,
                    const struct store_hold *h)
{
	struct list_walk *w = arg;
	struct proto_hold_entry *e;
	size_t len = strlen(name);

	if (w->args->has_after && strcmp(name, w->args->after) <= 0)
		return 0;
	/* The store checks only lengths: a name the codec would refuse is
	 * not listed rather than failing the whole page. */
	if (!proto_hold_name_ok(name, len))
		return 0;
	if (w->list->n == PROTO_HOLD_LIST_MAX) {
		w->list->more = true;
		return 1;
	}
	e = &w->list->entries[w->list->n++];
	memcpy(e->name, name, len + 1);
	e->size = h->size;
	memcpy(e->hash, h->hash, sizeof(e->hash));
	if (h->state == STORE_HOLD_RESERVED) {
		/* The index learns the hash at commit; the list says it as
		 * opened. */
		const struct hold_writer *hw = writer_find(w->a, owner, name);
		if (hw)
			memcpy(e->hash, hw->hash, sizeof(e->hash));
	}
	e->state = h->state == STORE_HOLD_RESERVED ? PROTO_HOLD_OPEN
	           : h->grace_until                ? PROTO_HOLD_GRACE
	                                           : PROTO_HOLD_KEPT;
	return 0;
}

static void serve_list(struct agent *a, const struct net_from *from,
                       const struct proto_request *req)
{
	struct proto_hold_list_args args;
	struct list_walk w = {.a = a, .args = &args};
	struct mp_buf out = {0};
	bool grace = false;
	int rc;

	if (proto_hold_list_args_decode(&args, req->args, req->args_len) != 0) {
		agent_respond(a, from, req->id, PROTO_RESPONSE_INVALID,
		              "malformed hold.list arguments", NULL);
		return;
	}
	if (!hold_granted(a, from, req, true, NULL, &grace))
		return;
	w.list = calloc(1, sizeof(*w.list)); /* about 47 KiB */
	rc = w.list ? store_holds_each(a->store, from->peer, list_one, &w) : -ENOMEM;
	if (rc > 0)
		rc = 0; /* the page is full */
	if (!rc)
		rc = proto_hold_list_encode(&out, w.list);
	if (rc)
		answer_error(a, from, req->id, rc);
	else
		agent_respond(a, from, req->id, PROTO_RESPONSE_OK, NULL, &out);
	mp_buf_free(&out);
	free(w.list);
}

bool agent_hold_serves(const char *op)
{
	return !strcmp(op, PROTO_OP_HOLD_OPEN) || !strcmp(op, PROTO_OP_HOLD_WRITE) ||
	       !strcmp(op, PROTO_OP_HOLD_COMMIT) || !strcmp(op, PROTO_OP_HOLD_READ) ||
	       !strcmp(op, PROTO_OP_HOLD_DEL) || !strcmp(op, PROTO_OP_HOLD_LIST);
}

void agent_hold_serve(struct agent *a, const struct net_from *from, const struct proto_request *req)
{
	const struct proto_scope *scope;
	bool grace = false;

	if (!a->holds || !a->shards) {
		agent_respond(a, from, req->id, PROTO_RESPONSE_ERROR, "this holder keeps no shards",
		              NULL);
		return;
	}
	if (!strcmp(req->op, PROTO_OP_HOLD_READ)) {
		serve_read(a, from, req);
		return;
	}
	if (!strcmp(req->op, PROTO_OP_HOLD_LIST)) {
		serve_list(a, from, req);
		return;
	}
	/* Every change needs a valid grant, the end of a put too: a grant
	 * revoked mid-put stops it. */
	scope = hold_granted(a, from, req, false, NULL, &grace);
	if (!scope)
		return;
	if (!strcmp(req->op, PROTO_OP_HOLD_OPEN))
		serve_open(a, from, req, scope);
	else if (!strcmp(req->op, PROTO_OP_HOLD_WRITE))
		serve_write(a, from, req);
	else if (!strcmp(req->op, PROTO_OP_HOLD_COMMIT))
		serve_commit(a, from, req);
	else
		serve_del(a, from, req, scope);
}
