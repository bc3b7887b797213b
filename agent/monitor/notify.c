#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "proto/peerid.h"
#include "agent/core/log.h"
#include "alert.h"
#include "election.h"
#include "monitor.h"
#include "notify.h"

struct notify {
	const struct notify_env *env;
};

static bool alive(void *arg, const uint8_t peer[PROTO_KEY_LEN])
{
	const struct notify_env *env = ((struct notify *)arg)->env;

	return !memcmp(peer, env->self, PROTO_KEY_LEN) || env->alive(env->arg, peer);
}

size_t notify_contacts(struct notify *n, const uint8_t peer[PROTO_KEY_LEN],
                       const struct alert_message *m)
{
	char(*contacts)[PROTO_CONTACT_MAX + 1] = calloc(PROTO_CONTACTS_MAX, sizeof(*contacts));
	size_t count =
	           contacts ? n->env->contacts(n->env->arg, peer, contacts, PROTO_CONTACTS_MAX) : 0,
	       sent = 0;
	bool other = memcmp(peer, n->env->self, PROTO_KEY_LEN) != 0;

	if (count == 0)
		log_info("alert for %s: no contact to tell (kith contact add)",
		         m->owner_name[0] ? m->owner_name : m->owner);
	for (size_t i = 0; i < count; i++)
		sent += n->env->send(n->env->arg, contacts[i], m, other) == 0;
	free(contacts);
	return sent;
}

/* Do we speak for a service whose verdict changed? */
static bool ours_to_tell(struct notify *n, const struct monitor_event *ev)
{
	uint8_t topic[ELECTION_TOPIC_LEN];
	crypto_generichash_state st;

	if (!memcmp(ev->peer, n->env->self, PROTO_KEY_LEN))
		return true;
	if (alive(n, ev->peer))
		return false; /* the owner tells its own people */
	crypto_generichash_init(&st, NULL, 0, sizeof(topic));
	crypto_generichash_update(&st, ev->peer, PROTO_KEY_LEN);
	crypto_generichash_update(&st, (const uint8_t *)ev->service, strlen(ev->service) + 1);
	crypto_generichash_final(&st, topic, sizeof(topic));
	return election_won(n->env->self, ev->observers, ev->n_observers, topic, alive, n);
}

static void verdict_alert(struct notify *n, const struct monitor_event *ev)
{
	const char *name = n->env->name(n->env->arg, ev->peer);
	char id[PROTO_PEERID_TEXT_LEN + 1], subject[200], text[600];
	struct alert_message m;

	if (ev->previous == VERDICT_UNKNOWN && ev->current != VERDICT_DOWN)
		return; /* starting to know a service is no news */
	if (!ours_to_tell(n, ev))
		return;
	proto_peerid_format(id, ev->peer);
	snprintf(subject, sizeof(subject), "[kith] %s of %s is %s", ev->service,
	         name[0] ? name : id, verdict_name(ev->current));
	snprintf(text, sizeof(text),
	         "Service %s of %s went from %s to %s, as seen by its partners' checks.\n"
	         "Run kith health for each observer's view.\n",
	         ev->service, name[0] ? name : id, verdict_name(ev->previous),
	         verdict_name(ev->current));
	m = (struct alert_message){.subject = subject,
	                           .text = text,
	                           .kind = "verdict",
	                           .owner = id,
	                           .owner_name = name,
	                           .service = ev->service,
	                           .state = verdict_name(ev->current),
	                           .previous = verdict_name(ev->previous),
	                           .since = ev->since};
	notify_contacts(n, ev->peer, &m);
}

/* Are we the live member elected to tell about member? */
static bool elected_for_member(struct notify *n, const uint8_t member[PROTO_KEY_LEN])
{
	size_t cap = n->env->members_max(n->env->arg) + 1, count;
	uint8_t(*live)[PROTO_KEY_LEN] = calloc(cap, sizeof(*live));
	uint8_t topic[ELECTION_TOPIC_LEN];
	bool won;

	if (!live)
		return false;
	count = n->env->live_members(n->env->arg, live, cap);
	crypto_generichash(topic, sizeof(topic), member, PROTO_KEY_LEN, NULL, 0);
	won = election_won(n->env->self, (const uint8_t(*)[PROTO_KEY_LEN])live, count, topic, NULL,
	                   NULL);
	free(live);
	return won;
}

/* Tells a member's contacts it has been dead too long, or is back. */
static void member_alert(struct notify *n, const struct monitor_event *ev)
{
	const char *name = n->env->name(n->env->arg, ev->peer);
	bool back = ev->type == MONITOR_MEMBER_BACK;
	char id[PROTO_PEERID_TEXT_LEN + 1], subject[200], text[400];
	struct alert_message m;

	if (!elected_for_member(n, ev->peer))
		return;
	proto_peerid_format(id, ev->peer);
	snprintf(subject, sizeof(subject), "[kith] the kith agent of %s %s", name[0] ? name : id,
	         back ? "is back" : "is down");
	snprintf(text, sizeof(text),
	         back ? "The kith agent of %s answers its partners again.\n"
	              : "The kith agent of %s has not answered its partners for a while: its "
	                "server may be down.\n",
	         name[0] ? name : id);
	m = (struct alert_message){.subject = subject,
	                           .text = text,
	                           .kind = "member",
	                           .owner = id,
	                           .owner_name = name,
	                           .service = "",
	                           .state = back ? "alive" : "dead",
	                           .previous = back ? "dead" : "alive",
	                           .since = ev->since};
	notify_contacts(n, ev->peer, &m);
}

void notify_on_event(void *arg, const struct monitor_event *ev)
{
	struct notify *n = arg;

	if (ev->type == MONITOR_VERDICT)
		verdict_alert(n, ev);
	else
		member_alert(n, ev);
}

int notify_new(struct notify **out, const struct notify_env *env)
{
	struct notify *n = calloc(1, sizeof(*n));

	if (!n)
		return -ENOMEM;
	n->env = env;
	*out = n;
	return 0;
}

void notify_free(struct notify **n)
{
	free(*n);
	*n = NULL;
}
