/* Telling people: alerts to the contacts of a member, through
 * agent/core/web.h, with retries.
 *
 * A contact is a URI:
 *   mailto:ADDR         mail through the SMTP server of [alerts] (libcurl's
 *                       SMTP, with STARTTLS when the server offers it or as
 *                       configured, and authentication)
 *   https://... http:// a JSON webhook: POST of the alert as an object
 *   matrix:!ROOM:SERVER a message to a Matrix room through the client-server
 *                       API of [alerts] matrix_homeserver with its token
 *   ntfy:https://HOST/TOPIC  a notification through an ntfy server
 * Each alert is tried until it succeeds or [alerts] retries are spent,
 * waiting retry_interval, doubled each time. Nothing is sent twice once
 * it succeeded. */
#ifndef KITH_AGENT_MONITOR_ALERT_H
#define KITH_AGENT_MONITOR_ALERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/limits.h"

struct conf;
struct loop;
struct web;

/* What happened, in words and in fields for the webhook's JSON. All
 * strings are copied by alert_send(). */
struct alert_message {
	const char *subject; /* one line */
	const char *text;    /* a few lines for people */
	const char *kind;    /* "verdict" or "member" */
	const char *owner;   /* peer ID of the member concerned */
	const char *owner_name;
	const char *service;  /* "" for a member alert */
	const char *state;    /* new verdict or member state */
	const char *previous; /* old one */
	uint64_t since;       /* Unix seconds */
};

struct alert_stats {
	uint64_t queued, sent, retried, failed; /* failed: retries spent */
	uint64_t dropped; /* pending alerts dropped, oldest first, beyond the limit */
	uint32_t pending;
};

struct alert;

/* c (the [alerts] settings), l and w are borrowed. */
int alert_new(struct alert **out, struct loop *l, struct web *w, const struct conf *c);
/* Abandons pending alerts (logging how many) and frees. */
void alert_free(struct alert **a);

/* Queues m for contact. for_other: the contact is another member's (we
 * alert for it while it is down); with [monitoring] refuse_private its
 * webhook or ntfy URL is then reached only at a public address, directly
 * (web_guard_public()), and given up at once otherwise. Returns 0,
 * KITH_EVALUE (a contact kith cannot reach: scheme unknown, or matrix/mail
 * not configured: the message says which in the log) or -ENOMEM. */
int alert_send(struct alert *a, const char *contact, const struct alert_message *m, bool for_other);
void alert_get_stats(const struct alert *a, struct alert_stats *out);
/* At most max alerts pending (1000 unless set; 0 reads as 1): beyond it the
 * oldest is dropped and logged. For tests and small machines. */
void alert_set_max_pending(struct alert *a, uint32_t max);

/* Checks a contact URI as kith contact add takes it; why (may be NULL)
 * receives a static phrase saying what is wrong. Mail addresses must be
 * plain ASCII user@domain without <>()[]\,;:"%? so that no header or SMTP
 * command can be forged through one. Returns 0, KITH_EVALUE or -ENOMEM. */
int alert_contact_check(const char *contact, const char **why);

#endif
