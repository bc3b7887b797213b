/* The owner's side of backups, as kith backup needs it from kithd: which
 * partners keep our shards now, and a relay of hold.* requests to them.
 * The backup's CPU work (chunking, sealing, erasure coding) runs in kith,
 * never in this loop: kithd only passes pieces on, each under
 * PROTO_HOLD_PIECE_MAX, at most AGENT_CALLS_MAX in flight. */
#include <errno.h>
#include <string.h>

#include "proto/error.h"
#include "proto/identity.h"
#include "proto/ops.h"
#include "proto/peerid.h"
#include "proto/record.h"
#include "store/store.h"
#include "proto/scope.h"
#include "agent/core/control.h"
#include "agent/core/loop.h"
#include "agent/member/member.h"
#include "agent/trust/trust.h"
#include "agent_int.h"

/* The largest args a relayed hold.* op carries: one piece and its name,
 * offset and msgpack framing. */
#define OWNER_ARGS_MAX (PROTO_HOLD_PIECE_MAX + 1024)

struct holders_ctx {
	struct agent *a;
	msgpack_packer *pk;
	uint64_t now;
	uint32_t n;
	bool packing; /* second pass: the first only counts */
};

static void one_holder(void *arg, const struct trust_member *tm)
{
	struct holders_ctx *ctx = arg;
	struct agent *a = ctx->a;
	const struct proto_scope want = {.type = PROTO_SCOPE_BACKUP};
	const struct trust_grant *g;
	const struct proto_scope *scope;
	struct member_info info;
	char id[PROTO_PEERID_TEXT_LEN + 1];
	struct mp_map m;

	if (!memcmp(tm->peer, a->id->pk, PROTO_KEY_LEN) || !tm->member)
		return;
	if (trust_grant_check(a->trust, tm->peer, a->id->pk, &want, ctx->now, &g, &scope) != 0)
		return;
	if (!ctx->packing) {
		ctx->n++;
		return;
	}
	proto_peerid_format(id, tm->peer);
	mp_map_begin(&m);
	mp_map_str(&m, CTL_REPLY_ID, id);
	mp_map_uint(&m, CTL_REPLY_QUOTA, scope->quota);
	mp_map_uint(&m, CTL_REPLY_COUNT, proto_scope_backup_count(scope));
	mp_map_bool(&m, CTL_REPLY_ALIVE,
	            member_get(a->member, tm->peer, &info) == 0 && info.state == PROTO_STATE_ALIVE);
	mp_map_end(&m, ctx->pk);
}

int agent_ctl_backup_holders(void *arg, const struct ctl_request *req, msgpack_packer *pk,
                             char *err, size_t n)
{
	struct holders_ctx ctx = {.a = arg, .pk = pk, .now = loop_wall_s()};

	(void)req;
	(void)err;
	(void)n;
	trust_each(ctx.a->trust, false, one_holder, &ctx);
	msgpack_pack_array(pk, ctx.n);
	ctx.packing = true;
	trust_each(ctx.a->trust, false, one_holder, &ctx);
	return 0;
}

/* The holder's result, passed on untouched: kith decodes it with the
 * proto/ops.h codecs, as it would any bytes from a holder. */
static int done_raw(struct agent *a, const struct proto_response *r, struct mp_buf *data, char *err,
                    size_t n)
{
	msgpack_packer pk;

	(void)a;
	(void)err;
	(void)n;
	mp_buf_packer(data, &pk);
	msgpack_pack_bin(&pk, r->result_len);
	msgpack_pack_bin_body(&pk, r->result, r->result_len);
	return 0;
}

int agent_ctl_hold(void *arg, const struct ctl_request *req, msgpack_packer *pk, char *err,
                   size_t n)
{
	struct agent *a = arg;
	const struct ctl_arg *args = ctl_arg_bin(req, CTL_KEY_ARGS);
	struct mp_buf buf = {0};
	uint8_t peer[PROTO_KEY_LEN];
	char op[32];
	int rc = ctl_arg_peer(req, CTL_KEY_PEER, peer, err, n);

	(void)pk;
	if (rc)
		return rc;
	if (ctl_arg_text(req, CTL_KEY_OP, op, sizeof(op)) != 0 || !agent_hold_serves(op))
		return ctl_fail(err, n, KITH_EVALUE, "op must be one of the hold.* ops");
	if (args && args->len > OWNER_ARGS_MAX)
		return ctl_fail(err, n, KITH_ETOOBIG, "args over %zu bytes",
		                (size_t)OWNER_ARGS_MAX);
	if (args) {
		/* agent_call_peer() takes an mp_buf; it only reads it. */
		buf.data = (uint8_t *)args->bin;
		buf.len = args->len;
	}
	return agent_call_peer(a, peer, op, args ? &buf : NULL, done_raw, err, n);
}

int agent_ctl_backup_publish(void *arg, const struct ctl_request *req, msgpack_packer *pk,
                             char *err, size_t n)
{
	struct agent *a = arg;
	const struct ctl_arg *body = ctl_arg_bin(req, CTL_KEY_BODY);
	char name[PROTO_NAME_MAX + 1];
	uint64_t seq = 0;
	struct mp_map m;
	int rc;

	if (ctl_arg_text(req, CTL_KEY_NAME, name, sizeof(name)) != 0 ||
	    strncmp(name, "backup/", 7) != 0)
		return ctl_fail(err, n, KITH_EVALUE, "a backup record's name starts with backup/");
	if (!body)
		return ctl_fail(err, n, KITH_EMISSING, "no body given");
	if (body->len > PROTO_BODY_MAX)
		return ctl_fail(err, n, KITH_ETOOBIG, "a record body holds at most %d bytes",
		                PROTO_BODY_MAX);
	rc = agent_publish(a, PROTO_KIND_BACKUP, name, body->bin, body->len, AGENT_BACKUP_TTL);
	if (!rc)
		rc = store_head_get(a->store, a->id->pk, &seq);
	if (rc)
		return ctl_fail(err, n, rc, "cannot publish the backup record: %s",
		                proto_strerror(rc));
	mp_map_begin(&m);
	mp_map_uint(&m, CTL_REPLY_SEQ, seq);
	mp_map_end(&m, pk);
	return 0;
}
