/* Commands answered by the running agent: status, members (admit is
 * cmd_admit.c). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "proto/peerid.h"
#include "proto/units.h"
#include "proto/wire.h"
#include "agentctl.h"
#include "cli.h"

static void format_age(char *buf, size_t n, uint64_t seconds)
{
	if (seconds < 120)
		snprintf(buf, n, "%" PRIu64 "s", seconds);
	else if (seconds < 7200)
		snprintf(buf, n, "%" PRIu64 "m", seconds / 60);
	else if (seconds < 172800)
		snprintf(buf, n, "%" PRIu64 "h", seconds / 3600);
	else
		snprintf(buf, n, "%" PRIu64 "d", seconds / 86400);
}

/* status.members counts members by state, keyed by the state's name. */
static uint64_t by_state(const msgpack_object *members, enum proto_member_state s)
{
	return agentctl_uint(members, proto_member_state_name(s));
}

/* The store against its limit, and what peers cost. */
static void print_limits(const msgpack_object *d)
{
	const msgpack_object *st = agentctl_get(d, CTL_REPLY_STORE),
	                     *c = agentctl_get(d, CTL_REPLY_CONNECTIONS);
	const msgpack_object *w = agentctl_get(d, CTL_REPLY_WORK),
	                     *near = agentctl_get(st, CTL_REPLY_NEAR_FULL);
	uint64_t used = agentctl_uint(st, CTL_REPLY_USED_BYTES),
	         limit = agentctl_uint(st, CTL_REPLY_LIMIT_BYTES);
	char u[32], l[32];

	proto_size_format(used, u, sizeof(u));
	proto_size_format(limit, l, sizeof(l));
	printf("store:        %s of %s (%" PRIu64 "%%)%s; %" PRIu64
	       " expired records pruned, %" PRIu64 " of ejected members removed\n",
	       used ? u : "0", limit ? l : "0", limit ? used * 100 / limit : 0,
	       near && near->type == MSGPACK_OBJECT_BOOLEAN && near->via.boolean
	           ? ", NEAR FULL: only trust records and no new shards are taken"
	           : "",
	       agentctl_uint(st, CTL_REPLY_PRUNED), agentctl_uint(st, CTL_REPLY_DROPPED_EJECTED));
	printf("connections:  %" PRIu64 " inbound; closed %" PRIu64 " silent, %" PRIu64
	       " of guests, %" PRIu64 " naming their routing id\n",
	       agentctl_uint(c, CTL_REPLY_INBOUND), agentctl_uint(c, CTL_REPLY_CLOSED_SILENT),
	       agentctl_uint(c, CTL_REPLY_CLOSED_GUEST),
	       agentctl_uint(c, CTL_REPLY_CLOSED_ROUTING_ID));
	printf("work:         %" PRIu64 " heavy messages at once, %" PRIu64 " waited (%" PRIu64
	       " waiting), %" PRIu64 " cut short; %" PRIu64 " log lines held back\n",
	       agentctl_uint(w, CTL_REPLY_HANDLED), agentctl_uint(w, CTL_REPLY_DEFERRED),
	       agentctl_uint(w, CTL_REPLY_WAITING),
	       agentctl_uint(w, CTL_REPLY_RECORDS_MESSAGES_CUT_SHORT),
	       agentctl_uint(w, CTL_REPLY_LOG_LINES_HELD));
}

static void print_status(const msgpack_object *d)
{
	const msgpack_object *m = agentctl_get(d, CTL_REPLY_MEMBERS),
	                     *rej = agentctl_get(d, CTL_REPLY_REJECTED);
	const msgpack_object *rcv = agentctl_get(d, CTL_REPLY_RECEIVED),
	                     *chk = agentctl_get(d, CTL_REPLY_CHECKS),
	                     *swim = agentctl_get(d, CTL_REPLY_SWIM);
	char a[128], b[128], up[32];

	format_age(up, sizeof(up), agentctl_uint(d, CTL_REPLY_UPTIME));
	printf("peer ID:      %s\n", agentctl_text(d, CTL_REPLY_ID, a, sizeof(a)));
	printf("name:         %s\n", agentctl_text(d, CTL_REPLY_NAME, a, sizeof(a)));
	printf("founder:      %s\n", agentctl_text(d, CTL_REPLY_FOUNDER, a, sizeof(a)));
	printf("version:      %s, up %s, incarnation %" PRIu64 "\n",
	       agentctl_text(d, CTL_REPLY_VERSION, a, sizeof(a)), up,
	       agentctl_uint(d, CTL_REPLY_INCARNATION));
	printf("listen:       %s, advertised as %s\n",
	       agentctl_text(d, CTL_REPLY_LISTEN, a, sizeof(a)),
	       agentctl_text(d, CTL_REPLY_ADVERTISE, b, sizeof(b))[0] ? b
	                                                              : "(nothing: set advertise)");
	printf("members:      %" PRIu64 " alive, %" PRIu64 " suspect, %" PRIu64 " dead, %" PRIu64
	       " left\n",
	       by_state(m, PROTO_STATE_ALIVE), by_state(m, PROTO_STATE_SUSPECT),
	       by_state(m, PROTO_STATE_DEAD), by_state(m, PROTO_STATE_LEFT));
	printf("swim:         %" PRIu64 " probes, %" PRIu64 " acks, %" PRIu64 " indirect; %" PRIu64
	       " suspicions, %" PRIu64 " refuted, %" PRIu64 " deaths; local health %" PRIu64 "/8\n",
	       agentctl_uint(swim, CTL_REPLY_PROBES), agentctl_uint(swim, CTL_REPLY_ACKS),
	       agentctl_uint(swim, CTL_REPLY_INDIRECT_PROBES),
	       agentctl_uint(swim, CTL_REPLY_SUSPICIONS),
	       agentctl_uint(swim, CTL_REPLY_REFUTATIONS), agentctl_uint(swim, CTL_REPLY_DEATHS),
	       agentctl_uint(swim, CTL_REPLY_LOCAL_HEALTH));
	printf("records:      %" PRIu64 " held, %" PRIu64 " received, %" PRIu64 " already held\n",
	       agentctl_uint(d, CTL_REPLY_RECORDS), agentctl_uint(rcv, CTL_REPLY_RECORDS_STORED),
	       agentctl_uint(rcv, CTL_REPLY_RECORDS_STALE));
	printf("messages:     %" PRIu64 " received\n", agentctl_uint(rcv, CTL_REPLY_MESSAGES));
	printf("checks:       %" PRIu64 " services, %" PRIu64 " checks run (%" PRIu64
	       " in the last minute), %" PRIu64 " down, %" PRIu64 " degraded\n",
	       agentctl_uint(chk, CTL_REPLY_SERVICES), agentctl_uint(chk, CTL_REPLY_RUN),
	       agentctl_uint(chk, CTL_REPLY_LAST_MINUTE), agentctl_uint(chk, CTL_REPLY_DOWN),
	       agentctl_uint(chk, CTL_REPLY_DEGRADED));
	printf("rejected:     %" PRIu64 " malformed messages, %" PRIu64 " from guests, %" PRIu64
	       " handshakes, %" PRIu64 " peers banned\n",
	       agentctl_uint(rej, CTL_REPLY_MALFORMED_MESSAGES),
	       agentctl_uint(rej, CTL_REPLY_GUEST_MESSAGES),
	       agentctl_uint(rej, CTL_REPLY_HANDSHAKES_REFUSED),
	       agentctl_uint(rej, CTL_REPLY_PEERS_BANNED));
	printf("              %" PRIu64 " records from non-members, %" PRIu64
	       " with a bad signature, %" PRIu64 " invalid, %" PRIu64 " bad membership updates\n",
	       agentctl_uint(rej, CTL_REPLY_RECORDS_NONMEMBER),
	       agentctl_uint(rej, CTL_REPLY_RECORDS_BAD_SIGNATURE),
	       agentctl_uint(rej, CTL_REPLY_RECORDS_INVALID),
	       agentctl_uint(rej, CTL_REPLY_MEMBERSHIP_UPDATES));
	printf("              %" PRIu64 " requests without a valid grant, %" PRIu64
	       " join attempts\n",
	       agentctl_uint(rej, CTL_REPLY_REQUESTS_REFUSED),
	       agentctl_uint(rej, CTL_REPLY_JOINS_REFUSED));
	printf("              %" PRIu64 " records over their author's budget, %" PRIu64
	       " messages while busy\n",
	       agentctl_uint(rej, CTL_REPLY_RECORDS_OVER_BUDGET),
	       agentctl_uint(rej, CTL_REPLY_MESSAGES_BUSY));
	print_limits(d);
}

int cmd_status_main(int argc, char **argv)
{
	return agentctl_query_main(argc, argv, CTL_CMD_STATUS, "kith status [--json] [--data DIR]",
	                           print_status);
}

static void print_members(const msgpack_object *d)
{
	uint64_t now = (uint64_t)time(NULL);

	if (!d || d->type != MSGPACK_OBJECT_ARRAY)
		return;
	printf("%-8s %-24s %-8s %-32s %s\n", "ID", "NAME", "STATE", "ENDPOINT", "LAST SEEN");
	for (uint32_t i = 0; i < d->via.array.size; i++) {
		const msgpack_object *m = &d->via.array.ptr[i];
		char id[128], name[128], state[16], endpoint[300], seen[32] = "never";
		uint64_t last = agentctl_uint(m, CTL_REPLY_LAST_SEEN);
		const msgpack_object *self = agentctl_get(m, CTL_REPLY_SELF);

		agentctl_text(m, CTL_REPLY_ID, id, sizeof(id));
		id[PROTO_PEERID_SHORT_LEN] = '\0';
		if (self && self->type == MSGPACK_OBJECT_BOOLEAN && self->via.boolean)
			snprintf(seen, sizeof(seen), "(this agent)");
		else if (last)
			format_age(seen, sizeof(seen), now > last ? now - last : 0);
		printf("%-8s %-24s %-8s %-32s %s%s\n", id,
		       agentctl_text(m, CTL_REPLY_NAME, name, sizeof(name)),
		       agentctl_text(m, CTL_REPLY_STATE, state, sizeof(state)),
		       agentctl_text(m, CTL_REPLY_ENDPOINT, endpoint, sizeof(endpoint)), seen,
		       last && seen[0] != '(' ? " ago" : "");
	}
}

int cmd_members_main(int argc, char **argv)
{
	return agentctl_query_main(argc, argv, CTL_CMD_MEMBERS,
	                           "kith members [--json] [--data DIR]", print_members);
}
