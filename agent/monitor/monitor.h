/* Peer monitoring's state: which services exist (service records), which
 * of them we check (those whose owner granted us monitor and sealed us
 * their details), our observations published as records, every service's
 * quorum verdict from all its observers' records, and members dead for
 * long. Every agent keeps the same index and computes the same verdicts.
 *
 * What happens because of a verdict is not decided here: a change is an
 * event, delivered to every subscriber (the alerts, notify.h; DNS
 * failover). The module reaches the rest of the agent only through the
 * callbacks of struct monitor_env, so a unit test can drive it alone. */
#ifndef KITH_AGENT_MONITOR_MONITOR_H
#define KITH_AGENT_MONITOR_MONITOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/body.h"
#include "proto/limits.h"
#include "proto/wire.h"
#include "verdict.h"

struct conf;
struct health;
struct loop;
struct proto_record;
struct web;

/* How often services are judged, watches re-decided, dead members seen. */
#define MONITOR_TICK_MS 1000
/* Observers a service keeps, one slot each. */
#define MONITOR_OBSERVERS_MAX 256
/* Observation records live a day past their last heartbeat. */
#define MONITOR_OBSERVATION_TTL (24 * 3600)
/* Subscribers to events. */
#define MONITOR_SUBSCRIBERS_MAX 4

/* What the monitor needs from the agent; every pointer is borrowed and
 * must outlive the monitor. */
struct monitor_env {
	void *arg;               /* passed to every callback */
	const uint8_t *self;     /* our peer key, PROTO_KEY_LEN bytes */
	const struct conf *conf; /* quorum, down_after, recovery_ms, heartbeat_ms,
	                            dead_alert_ms, max_checks, refuse_private */
	/* Publishes a record of ours of kind PROTO_KIND_OBSERVATION (body
	 * borrowed). Returns 0 or a negative code. */
	int (*publish)(void *arg, const char *name, const uint8_t *body, size_t len, uint64_t ttl);
	/* Does owner grant observer monitor at now (Unix seconds)? */
	bool (*granted)(void *arg, const uint8_t owner[PROTO_KEY_LEN],
	                const uint8_t observer[PROTO_KEY_LEN], uint64_t now);
	/* The details of owner's service name sealed for us. Returns 0 or a
	 * negative code (not sealed for us, not found). */
	int (*details)(void *arg, const uint8_t owner[PROTO_KEY_LEN], const char *name,
	               struct proto_service *spec);
	/* Called after what we watch was re-decided (grants or services
	 * changed, or a minute passed): our own services may need sealing for
	 * other partners. May be NULL. */
	void (*resynced)(void *arg);
};

enum monitor_event_type {
	MONITOR_VERDICT,     /* a service's verdict changed */
	MONITOR_MEMBER_DEAD, /* a member has been dead for dead_alert_ms */
	MONITOR_MEMBER_BACK, /* a member announced dead is alive again */
};

/* An event; every pointer is borrowed for the call. */
struct monitor_event {
	enum monitor_event_type type;
	const uint8_t *peer;            /* the service's owner, or the member */
	const char *service;            /* "" for members */
	enum verdict previous, current; /* MONITOR_VERDICT */
	uint64_t since;                 /* the change, or when the member died (Unix seconds) */
	/* MONITOR_VERDICT: every observer whose word on the service we hold */
	const uint8_t (*observers)[PROTO_KEY_LEN];
	size_t n_observers;
};

typedef void (*monitor_event_fn)(void *arg, const struct monitor_event *ev);

/* One observer's latest word on a service. */
struct monitor_obs {
	uint8_t observer[PROTO_KEY_LEN];
	enum proto_status status;
	enum proto_status standby; /* with a DNS plan; 0 without */
	uint32_t latency_ms;
	uint64_t checked_at;
	char error[PROTO_ERRTEXT_MAX + 1];
};

/* A service as kith health shows it; pointers valid for the call. */
struct monitor_view {
	const uint8_t *owner;
	const char *name;
	enum verdict verdict;
	uint64_t since;
	enum verdict standby; /* of the DNS plan's standby, VERDICT_UNKNOWN without */
	bool checked_here;
	const struct monitor_obs *obs;
	size_t n_obs;
};

struct monitor;

/* Starts the checks (through w) and the sweep in l. l, w and env are
 * borrowed and must outlive the monitor. On success *out is owned by the
 * caller (monitor_free()). */
int monitor_new(struct monitor **out, struct loop *l, struct web *w, const struct monitor_env *env);
void monitor_free(struct monitor **m);
/* The checks this monitor runs (owned by the monitor), for their stats and
 * settings. */
struct health *monitor_health(struct monitor *m);
/* Every record stored, ours too, passes here (the others are ignored). */
void monitor_on_record(struct monitor *m, const struct proto_record *rec);
/* A member's liveness changed. */
void monitor_member_changed(struct monitor *m, const uint8_t peer[PROTO_KEY_LEN],
                            enum proto_member_state state);
/* Delivers every later event to fn(arg, ...). Returns 0 or -ENOSPC past
 * MONITOR_SUBSCRIBERS_MAX. */
int monitor_subscribe(struct monitor *m, monitor_event_fn fn, void *arg);
/* The verdict on owner's service, and in *standby the one on the standby
 * addresses of its DNS plan; VERDICT_UNKNOWN when none is known. */
enum verdict monitor_verdict(struct monitor *m, const uint8_t owner[PROTO_KEY_LEN],
                             const char *service, enum verdict *standby);
/* Calls fn for every service whose record we hold and that its owner has
 * not removed, in no order. */
void monitor_each(const struct monitor *m, void (*fn)(void *arg, const struct monitor_view *v),
                  void *arg);

#endif
