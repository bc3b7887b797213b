/* What every kith backup command shares: identity, keys, the relay to
 * kithd and the partners that keep our shards. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
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
#include "cli.h"
#include "relay.h"

long bk_holder(const struct bk *b, const uint8_t peer[PROTO_KEY_LEN])
{
	for (size_t i = 0; i < b->n_holders; i++)
		if (!memcmp(b->holders[i].peer, peer, PROTO_KEY_LEN))
			return (long)i;
	return -1;
}

void bk_holder_failed(struct bk *b, size_t i)
{
	b->failed[i] = true;
	b->holders[i].alive = false;
}

uint64_t bk_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct call {
	relay_done done;
	void *arg;
	bool busy;
};

static void call_done(void *arg, int code, const char *err, const uint8_t *result, size_t len)
{
	struct call *c = arg;

	if (code == -EAGAIN)
		c->busy = true;
	else
		c->done(c->arg, code, err, result, len);
}

int bk_call(struct bk *b, const uint8_t peer[PROTO_KEY_LEN], const char *op,
            const struct mp_buf *args, relay_done done, void *arg)
{
	struct call c = {done, arg, true};
	int rc = 0;

	for (unsigned tries = 0; !rc && c.busy; tries++) {
		if (tries == BK_BUSY_TRIES) {
			done(arg, -EAGAIN, "busy for too long", NULL, 0);
			return 0;
		}
		if (tries)
			relay_wait(b->relay, BK_BUSY_WAIT_MS); /* nothing in flight: a pause */
		c.busy = false;
		rc = relay_send(b->relay, peer, op, args, call_done, &c);
		if (!rc)
			rc = bk_drain(b);
	}
	return rc;
}

int bk_drain(struct bk *b)
{
	while (relay_in_flight(b->relay)) {
		int rc = relay_wait(b->relay, 100);
		if (rc < 0)
			return rc;
	}
	return 0;
}

void bk_pack_name(uint8_t id[PACK_ID_LEN], const struct snap_pack *p)
{
	crypto_generichash_state st;
	uint8_t head[10];

	for (unsigned i = 0; i < 8; i++)
		head[i] = (uint8_t)((uint64_t)p->len >> (8 * i));
	head[8] = p->k;
	head[9] = p->m;
	crypto_generichash_init(&st, NULL, 0, PACK_ID_LEN);
	crypto_generichash_update(&st, head, sizeof(head));
	crypto_generichash_update(&st, p->hash[0], (size_t)(p->k + p->m) * sizeof(p->hash[0]));
	crypto_generichash_final(&st, id, PACK_ID_LEN);
}

void bk_shard_name(char out[PROTO_HOLD_NAME_MAX + 1], const uint8_t id[PACK_ID_LEN], unsigned i)
{
	char hex[2 * PACK_ID_LEN + 1];

	sodium_bin2hex(hex, sizeof(hex), id, PACK_ID_LEN);
	snprintf(out, PROTO_HOLD_NAME_MAX + 1, "%s.%u", hex, i);
}

int bk_fail(int *rc, char *err, size_t n, int code, const char *fmt, ...)
{
	va_list ap;

	if (!*rc) {
		*rc = code;
		va_start(ap, fmt);
		vsnprintf(err, n, fmt, ap);
		va_end(ap);
	}
	return *rc;
}

const char *bk_bytes(char *buf, size_t n, uint64_t bytes)
{
	static const char *unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double v = (double)bytes;
	unsigned u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, n, "%" PRIu64 " B", bytes);
	else
		snprintf(buf, n, "%.1f %s", v, unit[u]);
	return buf;
}

/* ---- sets of pack IDs ---- */

static size_t set_home(const struct bk_set *s, const uint8_t id[PACK_ID_LEN])
{
	size_t h;

	memcpy(&h, id, sizeof(h)); /* a pack ID is a hash: any of its bytes will do */
	return h & (2 * s->cap - 1);
}

long bk_set_find(const struct bk_set *s, const uint8_t id[PACK_ID_LEN])
{
	if (!s->cap)
		return -1;
	for (size_t i = set_home(s, id);; i = (i + 1) & (2 * s->cap - 1)) {
		uint32_t v = s->slots[i];
		if (!v)
			return -1;
		if (!memcmp(s->ids[v - 1], id, PACK_ID_LEN))
			return (long)v - 1;
	}
}

static void set_slot(struct bk_set *s, size_t index)
{
	size_t i = set_home(s, s->ids[index]);

	while (s->slots[i])
		i = (i + 1) & (2 * s->cap - 1);
	s->slots[i] = (uint32_t)index + 1;
}

int bk_set_add(struct bk_set *s, const uint8_t id[PACK_ID_LEN], size_t *index, bool *found)
{
	long at = bk_set_find(s, id);

	*found = at >= 0;
	if (*found) {
		*index = (size_t)at;
		return 0;
	}
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		uint8_t(*ids)[PACK_ID_LEN] =
		    cap >= UINT32_MAX / 2 ? NULL : realloc(s->ids, cap * sizeof(*ids));
		uint32_t *slots = ids ? calloc(2 * cap, sizeof(*slots)) : NULL;
		if (ids)
			s->ids = ids;
		if (!slots)
			return -ENOMEM;
		free(s->slots);
		s->slots = slots;
		s->cap = cap;
		for (size_t i = 0; i < s->n; i++)
			set_slot(s, i);
	}
	memcpy(s->ids[s->n], id, PACK_ID_LEN);
	set_slot(s, s->n);
	*index = s->n++;
	return 0;
}

void bk_set_free(struct bk_set *s)
{
	free(s->ids);
	free(s->slots);
	memset(s, 0, sizeof(*s));
}

/* ---- what a holder keeps of ours ---- */

struct list_walk {
	struct proto_hold_list *list; /* the last page, heap */
	bk_list_fn fn;
	void *arg;
	bool more;
	int rc;
	char err[300];
};

static void list_done(void *arg, int code, const char *err, const uint8_t *result, size_t len)
{
	struct list_walk *w = arg;

	if (code) {
		w->rc = code;
		snprintf(w->err, sizeof(w->err), "%s", err);
		return;
	}
	w->rc = proto_hold_list_decode(w->list, result, len);
	if (w->rc) {
		snprintf(w->err, sizeof(w->err), "an unreadable list of shards");
		return;
	}
	for (size_t i = 0; i < w->list->n && !w->rc; i++)
		w->rc = w->fn(w->arg, &w->list->entries[i]);
	w->more = w->list->more;
}

int bk_list(struct bk *b, const uint8_t peer[PROTO_KEY_LEN], bk_list_fn fn, void *arg, char *err,
            size_t n)
{
	struct proto_hold_list_args args = {0};
	struct list_walk w = {.fn = fn, .arg = arg, .more = true};
	struct mp_buf buf = {0};
	int rc = 0;

	if (!(w.list = malloc(sizeof(*w.list))))
		return -ENOMEM;
	/* One page at a time: count / PROTO_HOLD_LIST_MAX requests. */
	while (!rc && w.more) {
		w.more = false;
		mp_buf_free(&buf);
		rc = proto_hold_list_args_encode(&buf, &args);
		if (!rc)
			rc = bk_call(b, peer, PROTO_OP_HOLD_LIST, &buf, list_done, &w);
		if (!rc && w.rc)
			rc = w.rc;
		if (!rc && w.more) {
			args.has_after = true;
			memcpy(args.after, w.list->entries[w.list->n - 1].name, sizeof(args.after));
		}
	}
	snprintf(err, n, "%s", w.err[0] ? w.err : rc ? proto_strerror(rc) : "");
	mp_buf_free(&buf);
	free(w.list);
	return rc;
}

bool bk_shard_parse(const char *name, uint8_t id[PACK_ID_LEN], unsigned *shard)
{
	size_t hex = 2 * PACK_ID_LEN;
	char *end;
	unsigned long i;

	if (strlen(name) < hex + 2 || name[hex] != '.' ||
	    sodium_hex2bin(id, PACK_ID_LEN, name, hex, NULL, NULL, NULL) != 0)
		return false;
	i = strtoul(name + hex + 1, &end, 10);
	if (*end || end == name + hex + 1 || i >= PLACE_SHARDS_MAX)
		return false;
	*shard = (unsigned)i;
	return true;
}

struct usage {
	uint64_t used;
	uint32_t count;
};

static int add_usage(void *arg, const struct proto_hold_entry *e)
{
	struct usage *u = arg;

	u->used += e->size;
	u->count++;
	return 0;
}

static int load_holders(struct bk *b)
{
	struct agentctl_request req;
	struct agentctl_reply reply;
	char text[128], why[160], who[PROTO_PEERID_SHORT_LEN + 1], err[300];
	size_t n;
	int rc;

	agentctl_begin(&req, CTL_CMD_BACKUP_HOLDERS);
	if (agentctl_call(b->data_dir, &req, &reply) != CLI_OK)
		return CLI_FAIL;
	n = reply.data && reply.data->type == MSGPACK_OBJECT_ARRAY ? reply.data->via.array.size : 0;
	b->holders = calloc(n ? n : 1, sizeof(*b->holders));
	b->failed = calloc(n ? n : 1, sizeof(*b->failed));
	if (!b->holders || !b->failed) {
		agentctl_reply_free(&reply);
		return cli_fail("out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		const msgpack_object *o = &reply.data->via.array.ptr[i];
		const msgpack_object *alive = agentctl_get(o, CTL_REPLY_ALIVE);
		struct place_holder *h = &b->holders[b->n_holders];

		if (proto_peerid_parse(h->peer, agentctl_text(o, CTL_REPLY_ID, text, sizeof(text)),
		                       why, sizeof(why)) != 0)
			continue;
		h->weight = agentctl_uint(o, CTL_REPLY_QUOTA);
		h->free_bytes = h->weight;
		h->free_count = (uint32_t)agentctl_uint(o, CTL_REPLY_COUNT);
		h->alive = alive && alive->type == MSGPACK_OBJECT_BOOLEAN && alive->via.boolean;
		b->n_holders++;
	}
	agentctl_reply_free(&reply);
	for (size_t i = 0; i < b->n_holders; i++) {
		struct place_holder *h = &b->holders[i];
		struct usage u = {0};
		if (!h->alive)
			continue;
		rc = bk_list(b, h->peer, add_usage, &u, err, sizeof(err));
		if (rc) {
			/* It will not be given shards; a get may still read what it has. */
			proto_peerid_short(who, h->peer);
			fprintf(stderr, "kith: %s does not list our shards (%s): left out\n", who,
			        err);
			bk_holder_failed(b, i);
			continue;
		}
		h->free_bytes = u.used < h->free_bytes ? h->free_bytes - u.used : 0;
		h->free_count = u.count < h->free_count ? h->free_count - u.count : 0;
	}
	return CLI_OK;
}

bool bk_resyncing(const struct bk *b)
{
	char path[4200];

	snprintf(path, sizeof(path), "%s/%s", b->data_dir, PROTO_KIT_RESYNC_FILE);
	return access(path, F_OK) == 0;
}

int bk_lock(struct bk *b, bool exclusive, int *fd)
{
	char path[4200];

	snprintf(path, sizeof(path), "%s/backup.lock", b->data_dir);
	*fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (*fd < 0)
		return cli_fail("cannot open %s: %s", path, strerror(errno));
	if (flock(*fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) == 0)
		return CLI_OK;
	close(*fd);
	*fd = -1;
	if (errno != EWOULDBLOCK)
		return cli_fail("cannot lock %s: %s", path, strerror(errno));
	return cli_fail(exclusive ? "a backup put is running: try again once it is done"
	                          : "a backup prune or repair is running (kithd's audit, "
	                            "say): put once it is done");
}

int bk_open(struct bk *b, const char *data_dir, bool holders)
{
	int rc;

	memset(b, 0, sizeof(*b));
	b->data_dir = data_dir;
	b->progress = isatty(STDERR_FILENO);
	b->index_pack_target = BK_INDEX_PACK_TARGET;
	b->index_direct_max = SNAP_INDEX_PACKS_MAX;
	if (getenv("KITH_BACKUP_SMALL_INDEX") && !strcmp(getenv("KITH_BACKUP_SMALL_INDEX"), "1")) {
		b->index_pack_target = PACK_TARGET_MIN;
		b->index_direct_max = 1;
		b->index_level = SEAL_LEVEL_OFF;
	}
	rc = cli_open_identity(&b->id, data_dir);
	if (rc != CLI_OK)
		return rc;
	b->keys = sodium_malloc(sizeof(*b->keys));
	if (!b->keys)
		return cli_fail("out of memory");
	if (backup_keys_derive(b->keys, b->id) != 0)
		return cli_fail("the identity in %s has no secret key", data_dir);
	rc = relay_open(&b->relay, data_dir);
	if (rc != CLI_OK)
		return rc;
	return holders ? load_holders(b) : CLI_OK;
}

void bk_close(struct bk *b)
{
	relay_close(&b->relay);
	if (b->keys) {
		backup_keys_wipe(b->keys);
		sodium_free(b->keys);
	}
	proto_identity_free(&b->id);
	free(b->holders);
	free(b->failed);
	memset(b, 0, sizeof(*b));
}
