/* Who tells: the owner of a service while it is alive, else exactly one of
 * its live observers, the same one in every agent's eyes; one live member
 * for a member dead too long or back; starting to know a service is no
 * news unless it starts down. Three agents' notify modules, each with its
 * own self and the same view of who is alive, stand for three agents. */
#include <stdio.h>
#include <string.h>

#include "agent/monitor/alert.h"
#include "agent/monitor/monitor.h"
#include "agent/monitor/notify.h"
#include "tap.h"

enum { S, A, B, O, N_PEERS };

static uint8_t peers[N_PEERS][PROTO_KEY_LEN];
static bool alive_now[N_PEERS];
static size_t sent, sent_by[N_PEERS];
static bool last_for_other;
static char last_kind[16], last_state[16], last_subject[200];

struct who {
	int self;
};

static int index_of(const uint8_t peer[PROTO_KEY_LEN])
{
	for (int i = 0; i < N_PEERS; i++)
		if (!memcmp(peer, peers[i], PROTO_KEY_LEN))
			return i;
	return -1;
}

static bool alive(void *arg, const uint8_t peer[PROTO_KEY_LEN])
{
	int i = index_of(peer);

	(void)arg;
	return i >= 0 && alive_now[i];
}

static size_t live_members(void *arg, uint8_t (*out)[PROTO_KEY_LEN], size_t max)
{
	size_t n = 0;

	(void)arg;
	for (int i = 0; i < N_PEERS && n < max; i++)
		if (alive_now[i])
			memcpy(out[n++], peers[i], PROTO_KEY_LEN);
	return n;
}

static size_t contacts(void *arg, const uint8_t peer[PROTO_KEY_LEN],
                       char (*out)[PROTO_CONTACT_MAX + 1], size_t max)
{
	(void)arg;
	if (max == 0 || index_of(peer) == A)
		return 0; /* A has no contact */
	snprintf(out[0], sizeof(out[0]), "mailto:admin@example.org");
	return 1;
}

static const char *name(void *arg, const uint8_t peer[PROTO_KEY_LEN])
{
	(void)arg;
	return index_of(peer) == O ? "owner-coop" : "";
}

static size_t members_max(void *arg)
{
	(void)arg;
	return N_PEERS;
}

static int send_alert(void *arg, const char *contact, const struct alert_message *m, bool for_other)
{
	(void)contact;
	sent++;
	sent_by[((struct who *)arg)->self]++;
	last_for_other = for_other;
	snprintf(last_kind, sizeof(last_kind), "%s", m->kind);
	snprintf(last_state, sizeof(last_state), "%s", m->state);
	snprintf(last_subject, sizeof(last_subject), "%s", m->subject);
	return 0;
}

static struct who whos[3] = {{S}, {A}, {B}};
static struct notify_env envs[3];
static struct notify *ns[3];

/* Delivers ev to those of the agents S, A and B that run (a dead one does
 * not); returns how many alerts went out. */
static size_t deliver(const struct monitor_event *ev)
{
	sent = 0;
	memset(sent_by, 0, sizeof(sent_by));
	for (int i = 0; i < 3; i++)
		if (alive_now[whos[i].self])
			notify_on_event(ns[i], ev);
	return sent;
}

static struct monitor_event verdict(int owner, enum verdict from, enum verdict to,
                                    const uint8_t (*observers)[PROTO_KEY_LEN], size_t n)
{
	return (struct monitor_event){.type = MONITOR_VERDICT,
	                              .peer = peers[owner],
	                              .service = "web",
	                              .previous = from,
	                              .current = to,
	                              .since = 1000,
	                              .observers = observers,
	                              .n_observers = n};
}

int main(void)
{
	uint8_t observers[3][PROTO_KEY_LEN];
	struct monitor_event ev;

	for (int i = 0; i < N_PEERS; i++) {
		memset(peers[i], 0x10 + i, PROTO_KEY_LEN);
		alive_now[i] = true;
	}
	for (int i = 0; i < 3; i++) {
		envs[i] = (struct notify_env){.arg = &whos[i],
		                              .self = peers[whos[i].self],
		                              .alive = alive,
		                              .live_members = live_members,
		                              .contacts = contacts,
		                              .name = name,
		                              .members_max = members_max,
		                              .send = send_alert};
		ok(notify_new(&ns[i], &envs[i]) == 0, "a notify");
	}
	memcpy(observers[0], peers[S], PROTO_KEY_LEN);
	memcpy(observers[1], peers[A], PROTO_KEY_LEN);
	memcpy(observers[2], peers[B], PROTO_KEY_LEN);

	ev = verdict(S, VERDICT_UP, VERDICT_DOWN, NULL, 0);
	is(deliver(&ev), 1, "our own service down: we tell our contacts, nobody else does");
	ok(sent_by[S] == 1 && !last_for_other && !strcmp(last_kind, "verdict") &&
	       !strcmp(last_state, "down"),
	   "the owner's agent sends it, about itself, verdict down");

	ev = verdict(S, VERDICT_UNKNOWN, VERDICT_UP, NULL, 0);
	is(deliver(&ev), 0, "unknown to up: no news");
	ev = verdict(S, VERDICT_UNKNOWN, VERDICT_DOWN, NULL, 0);
	is(deliver(&ev), 1, "unknown to down: news");

	ev = verdict(O, VERDICT_UP, VERDICT_DOWN, (const uint8_t(*)[PROTO_KEY_LEN])observers, 3);
	is(deliver(&ev), 0, "the owner alive: it tells its own people, observers do not");

	alive_now[O] = false;
	is(deliver(&ev), 1, "the owner dead: exactly one observer tells");
	ok(last_for_other && strstr(last_subject, "owner-coop"),
	   "about another member, named by its name");
	{
		int chosen = sent_by[S] ? S : sent_by[A] ? A : B;
		alive_now[chosen] = false;
		is(deliver(&ev), 1, "the chosen observer dead too: another one tells");
		ok(!sent_by[chosen], "and not the dead one");
		alive_now[chosen] = true;
	}
	ev = verdict(O, VERDICT_UP, VERDICT_DOWN, (const uint8_t(*)[PROTO_KEY_LEN]) & observers[1],
	             2);
	deliver(&ev);
	is(sent_by[S], 0, "an agent that is no observer never tells");

	ev = (struct monitor_event){
	    .type = MONITOR_MEMBER_DEAD, .peer = peers[O], .service = "", .since = 1000};
	is(deliver(&ev), 1, "a member dead too long: exactly one live member tells");
	ok(!strcmp(last_kind, "member") && !strcmp(last_state, "dead"), "that it is dead");
	alive_now[O] = true;
	ev.type = MONITOR_MEMBER_BACK;
	is(deliver(&ev), 1, "back: exactly one tells");
	ok(!strcmp(last_state, "alive"), "that it is alive");

	{
		struct alert_message m = {.subject = "s",
		                          .text = "t",
		                          .kind = "store",
		                          .owner = "x",
		                          .owner_name = "",
		                          .service = "",
		                          .state = "near-full",
		                          .previous = "ok"};
		sent = 0;
		is(notify_contacts(ns[0], peers[S], &m), 1, "notify_contacts: one per contact");
		ok(!last_for_other, "about ourselves");
		is(notify_contacts(ns[0], peers[A], &m), 0, "a member without contacts: none");
	}
	for (int i = 0; i < 3; i++)
		notify_free(&ns[i]);
	ok(ns[0] == NULL, "freed");
	return tap_done();
}
