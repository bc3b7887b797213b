/* What every kith backup command shares: identity, keys, the relay to
 * kithd and the partners that keep our shards. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "proto/ctl.h"
#include "proto/error.h"
#include "proto/identity.h"
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

int bk_drain(struct bk *b)
{
	while (relay_in_flight(b->relay)) {
		int rc = relay_wait(b->relay, 100);
		if (rc < 0)
			return rc;
	}
	return 0;
}

void bk_shard_name(char out[PROTO_HOLD_NAME_MAX + 1], const uint8_t id[PACK_ID_LEN], unsigned i)
{
	char hex[2 * PACK_ID_LEN + 1];

	sodium_bin2hex(hex, sizeof(hex), id, PACK_ID_LEN);
	snprintf(out, PROTO_HOLD_NAME_MAX + 1, "%s.%u", hex, i);
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

/* ---- how much each holder keeps of ours already ---- */

struct usage_walk {
	struct bk *b;
	size_t holder;
	struct proto_hold_list *list; /* the last page, heap */
	uint64_t used;
	uint32_t count;
	bool more, done;
	int rc;
	char err[300];
};

static void list_done(void *arg, int code, const char *err, const uint8_t *result, size_t len)
{
	struct usage_walk *w = arg;

	w->done = true;
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
	for (size_t i = 0; i < w->list->n; i++) {
		w->used += w->list->entries[i].size;
		w->count++;
	}
	w->more = w->list->more;
}

/* Pages through what holder i keeps for us (hold.list), one page at a
 * time: at most count / PROTO_HOLD_LIST_MAX requests. */
static int holder_usage(struct bk *b, size_t i, struct usage_walk *w)
{
	struct proto_hold_list_args args = {0};
	struct mp_buf buf = {0};
	int rc;

	*w = (struct usage_walk){.b = b, .holder = i, .list = w->list, .more = true};
	while (w->more) {
		w->more = false;
		w->done = false;
		mp_buf_free(&buf);
		rc = proto_hold_list_args_encode(&buf, &args);
		if (!rc)
			rc = relay_send(b->relay, b->holders[i].peer, PROTO_OP_HOLD_LIST, &buf,
			                list_done, w);
		if (!rc)
			rc = bk_drain(b);
		if (rc || w->rc) {
			mp_buf_free(&buf);
			return rc ? rc : w->rc;
		}
		if (w->more) {
			args.has_after = true;
			memcpy(args.after, w->list->entries[w->list->n - 1].name,
			       sizeof(args.after));
		}
	}
	mp_buf_free(&buf);
	return 0;
}

static int load_holders(struct bk *b)
{
	struct agentctl_request req;
	struct agentctl_reply reply;
	struct usage_walk w = {0};
	char text[128], why[160], who[PROTO_PEERID_SHORT_LEN + 1];
	size_t n;
	int rc;

	agentctl_begin(&req, CTL_CMD_BACKUP_HOLDERS);
	if (agentctl_call(b->data_dir, &req, &reply) != CLI_OK)
		return CLI_FAIL;
	n = reply.data && reply.data->type == MSGPACK_OBJECT_ARRAY ? reply.data->via.array.size : 0;
	b->holders = calloc(n ? n : 1, sizeof(*b->holders));
	b->failed = calloc(n ? n : 1, sizeof(*b->failed));
	b->in_flight = calloc(n ? n : 1, sizeof(*b->in_flight));
	w.list = malloc(sizeof(*w.list));
	if (!b->holders || !b->failed || !b->in_flight || !w.list) {
		agentctl_reply_free(&reply);
		free(w.list);
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
		if (!h->alive)
			continue;
		rc = holder_usage(b, i, &w);
		if (rc) {
			/* It will not be given shards; a get may still read what it has. */
			proto_peerid_short(who, h->peer);
			fprintf(stderr, "kith: %s does not list our shards (%s): left out\n", who,
			        w.err[0] ? w.err : proto_strerror(rc));
			bk_holder_failed(b, i);
			continue;
		}
		h->free_bytes = w.used < h->free_bytes ? h->free_bytes - w.used : 0;
		h->free_count = w.count < h->free_count ? h->free_count - w.count : 0;
	}
	free(w.list);
	return CLI_OK;
}

int bk_open(struct bk *b, const char *data_dir, bool holders)
{
	int rc;

	memset(b, 0, sizeof(*b));
	b->data_dir = data_dir;
	b->progress = isatty(STDERR_FILENO);
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
	free(b->in_flight);
	memset(b, 0, sizeof(*b));
}
