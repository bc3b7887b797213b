/* The store's upkeep (agent/upkeep/upkeep.h), wired: ejected members are
 * handed to it, and a store near full is told to our own contacts. */
#include <stdio.h>

#include "proto/identity.h"
#include "proto/peerid.h"
#include "proto/units.h"
#include "agent/monitor/alert.h"
#include "agent_int.h"

/* Tells our own contacts that the store became near full, or is no more. */
static void near_full_changed(void *arg, bool near, const struct store_stats *st)
{
	struct agent *a = arg;
	char id[PROTO_PEERID_TEXT_LEN + 1], used[32], max[32], subject[200], text[600];
	struct alert_message m = {.kind = "store", .service = "", .since = loop_wall_s()};

	proto_peerid_format(id, a->id->pk);
	proto_size_format(st->used_bytes, used, sizeof(used));
	proto_size_format(st->map_max, max, sizeof(max));
	snprintf(subject, sizeof(subject), "kith: the store of %s is %s", id,
	         near ? "near full" : "no longer near full");
	snprintf(text, sizeof(text),
	         "The store of kithd %s uses %s of its %s limit ([store] map_max).\n%s", id, used,
	         max,
	         near ? "Records other than trust records, and new shards, are refused until "
	                "records expire or the limit is raised in kithd.conf."
	              : "Records and shards are taken again.");
	m.subject = subject;
	m.text = text;
	m.owner = id;
	m.owner_name = "";
	m.state = near ? "near-full" : "ok";
	m.previous = near ? "ok" : "near-full";
	notify_contacts(a->notify, a->id->pk, &m);
}

static void schedule_ejected(void *arg, const struct trust_member *m)
{
	struct agent *a = arg;

	if (m->ejected)
		upkeep_drop(a->upkeep, m->peer);
}

int agent_upkeep_new(struct agent *a)
{
	int rc;

	a->upkeep_env = (struct upkeep_env){
	    .arg = a,
	    .self = a->id->pk,
	    .conf = &a->conf,
	    .near_full_changed = near_full_changed,
	};
	rc = upkeep_new(&a->upkeep, a->loop, a->store, &a->upkeep_env);
	if (!rc)
		trust_each(a->trust, true, schedule_ejected, a);
	return rc;
}
