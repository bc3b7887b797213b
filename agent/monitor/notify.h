/* Who tells people, and what: the monitor's events (monitor.h) turned into
 * alerts to contacts (sent through the env's send callback: alert_send()
 * in the agent).
 *
 * A verdict change of a service goes to its owner's contacts, sent by the
 * owner's agent while it is alive, otherwise by one observer of the
 * service elected among the live ones (election.h). A member dead for long,
 * or back, is told to its contacts by one live member elected the same
 * way. Starting to know a service is no news unless it starts down. */
#ifndef KITH_AGENT_MONITOR_NOTIFY_H
#define KITH_AGENT_MONITOR_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/limits.h"

struct alert_message;
struct monitor_event;

/* What the alerts need from the agent; every pointer is borrowed and must
 * outlive the notify. */
struct notify_env {
	void *arg;           /* passed to every callback */
	const uint8_t *self; /* our peer key */
	/* Is peer alive in our view? (We always are.) */
	bool (*alive)(void *arg, const uint8_t peer[PROTO_KEY_LEN]);
	/* Writes the live members, us included, into out (max of them);
	 * returns how many. */
	size_t (*live_members)(void *arg, uint8_t (*out)[PROTO_KEY_LEN], size_t max);
	/* Writes peer's contacts (its member record) into out (max); returns
	 * how many. */
	size_t (*contacts)(void *arg, const uint8_t peer[PROTO_KEY_LEN],
	                   char (*out)[PROTO_CONTACT_MAX + 1], size_t max);
	/* The name peer gave itself, "" when none (valid for the call). */
	const char *(*name)(void *arg, const uint8_t peer[PROTO_KEY_LEN]);
	/* How many members there may be, for the size of the election. */
	size_t (*members_max)(void *arg);
	/* Queues m for contact; for_other: m is about another member than
	 * us (see alert_send()). Returns 0 or a negative code. */
	int (*send)(void *arg, const char *contact, const struct alert_message *m, bool for_other);
};

struct notify;

/* env is borrowed and must outlive the notify. On success *out is owned by
 * the caller (notify_free()). */
int notify_new(struct notify **out, const struct notify_env *env);
void notify_free(struct notify **n);
/* A monitor_event_fn: subscribe it with monitor_subscribe(m,
 * notify_on_event, n). */
void notify_on_event(void *arg, const struct monitor_event *ev);
/* Sends m to every contact of peer (marked as about another member when
 * peer is not us, see alert_send()). Returns how many alerts were queued. */
size_t notify_contacts(struct notify *n, const uint8_t peer[PROTO_KEY_LEN],
                       const struct alert_message *m);

#endif
