/* The agent's internals: the struct agent that the wiring (agent.c, and
 * agent_monitor.c, agent_upkeep.c for their subsystems) and the control
 * commands (agent_*.c) share. No subsystem under agent/ includes this:
 * each gets what it needs through its own struct of callbacks. */
#ifndef KITH_AGENT_AGENT_INT_H
#define KITH_AGENT_AGENT_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "proto/limits.h"
#include "proto/wire.h"
#include "store/store.h"
#include "agent/core/conf.h"
#include "agent/core/control.h"
#include "agent/core/keymap.h"
#include "agent/core/loop.h"
#include "agent/gossip/gossip.h"
#include "agent/member/member.h"
#include "agent/monitor/monitor.h"
#include "agent/monitor/notify.h"
#include "agent/net/backlog.h"
#include "agent/net/net.h"
#include "agent/trust/trust.h"
#include "agent/upkeep/upkeep.h"
#include "agent.h"

struct proto_identity;
struct store;
struct store_budget;

/* How long our own member and admission records live; they are re-signed
 * when half of that has passed. */
#define AGENT_MEMBER_TTL (30 * 24 * 3600)
#define AGENT_ADMISSION_TTL (10 * 365 * 24 * 3600)
#define AGENT_REFRESH_MS (3600 * 1000)
/* How long kith join and requests to peers wait for an answer. */
#define AGENT_REPLY_WAIT_MS 20000
/* Requests to members in flight for kith at once: kith backup keeps a few
 * per holder (its window), and each holds at most one piece
 * (PROTO_HOLD_PIECE_MAX) in ZeroMQ's queues, so this bounds what the
 * control socket can make kithd buffer to 16 MiB. */
#define AGENT_CALLS_MAX 64
/* Defaults of kith invite and kith grant. */
#define AGENT_INVITE_TTL (7 * 24 * 3600)
#define AGENT_GRANT_TTL (365 * 24 * 3600)
/* A backup's root record lives as long as an admission: what it names is
 * kept until kith backup forget says otherwise, not until a clock runs out. */
#define AGENT_BACKUP_TTL (10 * 365 * 24 * 3600)

struct agent_holds;
struct control_pending;
struct proto_request;
struct proto_response;
struct shardfile_dir;

/* The join this agent is making (one at a time). */
struct agent_join {
	struct control_pending *pending; /* NULL when no join is under way */
	uint8_t issuer[PROTO_KEY_LEN];
	char endpoint[PROTO_ENDPOINT_MAX + 1];
	struct loop_timer timeout;
};

/* A request we sent a peer on behalf of kith, waiting for its response.
 * done() renders the response's result as the reply's data. */
struct agent_call {
	uint32_t id;
	uint8_t peer[PROTO_KEY_LEN];
	char op[32];
	struct control_pending *pending;
	uint64_t deadline_ms;
	int (*done)(struct agent *a, const struct proto_response *r, struct mp_buf *data, char *err,
	            size_t n);
	struct agent_call *next;
};

struct agent {
	char data_dir[4096];
	char config_path[4096];
	int lock_fd;
	struct conf conf;
	struct proto_identity *id;
	struct store *store;
	struct loop *loop;
	void *zmq;
	struct trust *trust;
	struct net *net;
	struct member *member;
	struct gossip *gossip;
	struct backlog *backlog; /* peers' heavy messages, within a budget per turn */
	struct control *ctl;
	uint64_t incarnation;
	uint64_t started_ms;
	int signal_pipe[2];
	struct loop_timer refresh; /* re-signs our member record */
	struct loop_timer stop;    /* ends the loop after the leave went out */
	bool stopping;
	uint64_t guest_dropped; /* guest messages refused */
	struct agent_join join;
	struct agent_call *calls; /* requests awaiting a response */
	unsigned n_calls;         /* how many, <= AGENT_CALLS_MAX */
	/* agent_audit.c: the backup audit run as a child process. */
	pid_t audit_pid; /* 0: none running */
	struct loop_timer audit_timer;
	uint64_t audit_due_ms;
	uint32_t next_call_id;
	struct loop_timer calls_timer;    /* expires calls past their deadline */
	uint64_t refused_requests;        /* requests refused for want of a grant */
	uint64_t refused_joins;           /* join attempts refused */
	struct web *web;                  /* libcurl in the loop: checks and alerts */
	struct alert *alert;              /* alerts to contacts */
	struct monitor *monitor;          /* services, observations, verdicts */
	struct health *health;            /* the monitor's checks (owned by it) */
	struct notify *notify;            /* who tells whom about verdicts */
	struct upkeep *upkeep;            /* budgets, pruning, a store near full */
	struct shardfile_dir *shards;     /* the shards partners keep with us, as files */
	struct agent_holds *holds;        /* their open writers (agent_hold.c) */
	struct agent_dns *dns;            /* kith dns tests under way (agent_dns.c) */
	struct agent_failover *failover;  /* failover DNS (agent_failover.c) */
	uint64_t dns_changed, dns_failed; /* names we changed, changes that failed */
	struct httpd *httpd;              /* metrics and status pages, or NULL */
	/* What the subsystems get of the agent; they keep pointers to these. */
	struct monitor_env monitor_env;
	struct notify_env notify_env;
	struct upkeep_env upkeep_env;
};

/* Sends buf to a member at its known endpoint. Returns 0 or -EHOSTUNREACH
 * (no endpoint known) or net_send()'s error. */
int agent_send(struct agent *a, const uint8_t peer[PROTO_KEY_LEN], const uint8_t *buf, size_t len);
/* Sets up the request state. */
void agent_init_calls(struct agent *a);

/* Publishes a record of ours (body borrowed): seq, signature, store, push.
 * Returns 0 or a negative code. */
int agent_publish(struct agent *a, uint8_t kind, const char *name, const uint8_t *body,
                  size_t body_len, uint64_t ttl);
/* The same, pushed at once to every live member (revocations). */
int agent_publish_urgent(struct agent *a, uint8_t kind, const char *name, const uint8_t *body,
                         size_t body_len, uint64_t ttl);
/* Publishes our member record if it is missing, names another endpoint
 * than we advertise, or is past half its life. */
int agent_refresh_member(struct agent *a);
/* Our current member record's body and expiry; -ENOENT when none. */
int agent_member_current(struct agent *a, struct proto_member *m, uint64_t *expires);
/* Publishes m (its name and contacts) as our member record, with our
 * advertised endpoint and version filled in. */
int agent_member_publish(struct agent *a, struct proto_member *m);
/* May this agent admit, invite, eject and grant admit now (by the clock
 * its trust records are issued with, trust_clock())? */
bool agent_may_admit(struct agent *a);
/* Publishes an admission of peer reachable at endpoint (may be ""). */
int agent_admit(struct agent *a, const uint8_t peer[PROTO_KEY_LEN], const char *endpoint);
/* Publishes the admissions of e[0..n) (borrowed), in order, all issued
 * at the same time; *done says how many were published, also when one
 * fails (those before it stay published: they are signed and may be on
 * their way). Returns 0 or the failure's negative code. */
int agent_admit_many(struct agent *a, const struct ctl_admit_entry *e, size_t n, size_t *done);
/* The endpoint we advertise ("" when none can be derived). */
const char *agent_advertised(const struct agent *a);

/* agent_join.c: invitations and joining. */
int agent_ctl_invite(void *arg, const struct ctl_request *req, msgpack_packer *pk, char *err,
                     size_t n);
int agent_ctl_join(void *arg, const struct ctl_request *req, msgpack_packer *pk, char *err,
                   size_t n);
void agent_on_join(struct agent *a, const struct net_from *from, const uint8_t *buf, size_t len);
void agent_on_join_reply(struct agent *a, const struct net_from *from, const uint8_t *buf,
                         size_t len);
bool agent_join_waits_for(const struct agent *a, const uint8_t peer[PROTO_KEY_LEN]);
void agent_join_init(struct agent *a);
void agent_join_cancel(struct agent *a);

/* agent_grant.c: grants and revocations. */
int agent_ctl_grant(void *arg, const struct ctl_request *req, msgpack_packer *pk, char *err,
                    size_t n);
int agent_ctl_grants(void *arg, const struct ctl_request *req, msgpack_packer *pk, char *err,
                     size_t n);
int agent_ctl_revoke(void *arg, const struct ctl_request *req, msgpack_packer *pk, char *err,
                     size_t n);
int agent_ctl_dns_history(void *arg, const struct ctl_request *req, msgpack_packer *pk, char *err,
                          size_t n);
int agent_ctl_dns_test(void *arg, const struct ctl_request *req, msgpack_packer *pk, char *err,
                       size_t n);
int agent_ctl_dns_check(void *arg, const struct ctl_request *req, msgpack_packer *pk, char *err,
                        size_t n);

/* agent_request.c: requests between members. */
void agent_on_request(struct agent *a, const struct net_from *from, const uint8_t *buf, size_t len);
void agent_on_response(struct agent *a, const struct net_from *from, const uint8_t *buf,
                       size_t len);
/* Answers request id on the connection to came in on (to borrowed: a copy
 * kept from an earlier message will do) with status, reason (may be NULL)
 * and result (may be NULL). */
void agent_respond(struct agent *a, const struct net_from *to, uint32_t id,
                   enum proto_response_status status, const char *reason,
                   const struct mp_buf *result);
/* Answers a request with its usage result (proto_usage). */
void agent_respond_usage(struct agent *a, const struct net_from *to, uint32_t id, uint64_t used,
                         uint64_t quota);
/* Refuses req for want of a valid grant of scope_name (rc from
 * trust_grant_check()): counted, logged once per cause, answered. */
void agent_refuse_request(struct agent *a, const struct net_from *from,
                          const struct proto_request *req, int rc, const char *scope_name);
/* Answers a request we have no time for: try again. */
void agent_request_busy(struct agent *a, const struct net_from *from, const uint8_t *buf,
                        size_t len);
int agent_ctl_shard(void *arg, const struct ctl_request *req, msgpack_packer *pk, char *err,
                    size_t n);
int agent_ctl_shard_drop(void *arg, const struct ctl_request *req, msgpack_packer *pk, char *err,
                         size_t n);
int agent_ctl_services(void *arg, const struct ctl_request *req, msgpack_packer *pk, char *err,
                       size_t n);
void agent_calls_cancel(struct agent *a);
/* Sends op with args (borrowed; NULL: none) to peer and defers the
 * current control request until the response, which done renders as the
 * reply's data, or the deadline. Returns CONTROL_DEFERRED, or a refusal
 * written into err (n bytes): peer no member, -EBUSY past
 * AGENT_CALLS_MAX, a send failure. */
int agent_call_peer(struct agent *a, const uint8_t peer[PROTO_KEY_LEN], const char *op,
                    const struct mp_buf *args,
                    int (*done)(struct agent *, const struct proto_response *, struct mp_buf *,
                                char *, size_t),
                    char *err, size_t n);

/* agent_audit.c: kith backup repair run every [backup] audit, as a child
 * process; stop kills a run in progress. */
void agent_audit_start(struct agent *a);
void agent_audit_stop(struct agent *a);

/* agent_owner.c: the owner's side of backups, for kith backup. */
int agent_ctl_backup_holders(void *arg, const struct ctl_request *req, msgpack_packer *pk,
                             char *err, size_t n);
int agent_ctl_backup_publish(void *arg, const struct ctl_request *req, msgpack_packer *pk,
                             char *err, size_t n);
int agent_ctl_hold(void *arg, const struct ctl_request *req, msgpack_packer *pk, char *err,
                   size_t n);

/* agent_hold.c: the holder's side of backups, the hold.* requests.
 * agent_hold_start() opens DATA/shards and makes the files and the index
 * agree after a crash (their worker thread starts there); agent_hold_stop()
 * aborts the open puts, answers the commits in flight and closes it;
 * harmless when not started. */
int agent_hold_start(struct agent *a, char *err, size_t n);
void agent_hold_stop(struct agent *a);
/* Whether op is one of the hold.* ops. */
bool agent_hold_serves(const char *op);
/* Serves a decoded hold.* request (req borrowed, as from). */
void agent_hold_serve(struct agent *a, const struct net_from *from,
                      const struct proto_request *req);

/* agent_monitor.c: the monitor and the alerts, wired (agent/monitor/). */
int agent_monitor_new(struct agent *a);
void agent_monitor_free(struct agent *a);
/* Every record stored (ours too) passes here. */
void agent_monitor_on_record(struct agent *a, const struct proto_record *rec);
/* A member's liveness changed (for the alerts about dead members). */
void agent_monitor_member_changed(struct agent *a, const uint8_t peer[PROTO_KEY_LEN],
                                  enum proto_member_state state);
/* The contacts of peer from its member record; returns how many (0..max). */
size_t agent_contacts(struct agent *a, const uint8_t peer[PROTO_KEY_LEN],
                      char (*out)[PROTO_CONTACT_MAX + 1], size_t max);
/* Is peer alive in our view (arg: the agent)? We always are. */
bool agent_alive(void *arg, const uint8_t peer[PROTO_KEY_LEN]);
int agent_ctl_health(void *arg, const struct ctl_request *req, msgpack_packer *pk, char *err,
                     size_t n);

/* agent_upkeep.c: the store's upkeep, wired (agent/upkeep/); needs trust,
 * the store and the alerts. */
int agent_upkeep_new(struct agent *a);

/* agent_service.c: our own services and contacts. */
int agent_ctl_service_add(void *arg, const struct ctl_request *req, msgpack_packer *pk, char *err,
                          size_t n);
/* kith dns pin|unpin: dns_name, to ("primary", "standby", "none"). */
int agent_ctl_dns_pin(void *arg, const struct ctl_request *req, msgpack_packer *pk, char *err,
                      size_t n);
int agent_ctl_service_set(void *arg, const struct ctl_request *req, msgpack_packer *pk, char *err,
                          size_t n);
int agent_ctl_service_rm(void *arg, const struct ctl_request *req, msgpack_packer *pk, char *err,
                         size_t n);
int agent_ctl_service_ls(void *arg, const struct ctl_request *req, msgpack_packer *pk, char *err,
                         size_t n);
int agent_ctl_contact(void *arg, const struct ctl_request *req, msgpack_packer *pk, char *err,
                      size_t n);
/* Re-seals our services when the set of partners holding monitor (or dns
 * of a service's zone) changed.
 * Cheap when nothing changed: call it after grant records and now and then. */
void agent_services_reseal(struct agent *a);
/* owner's service name as we hold it, opened with our key into spec.
 * Returns 0, -ENOENT (none, or removed) or another negative code. */
int agent_service_read(struct agent *a, const uint8_t owner[PROTO_KEY_LEN], const char *name,
                       struct proto_service *spec);
/* Opens our own box of a service record body into spec. */
int agent_service_open(struct agent *a, const uint8_t *body, size_t len,
                       struct proto_service *spec);

/* agent_dns.c: the dns commands, and failover DNS (agent_failover.c) on
 * verdict changes: after the monitor. */
int agent_dns_new(struct agent *a);
void agent_dns_free(struct agent *a);
int agent_failover_new(struct agent *a);
void agent_failover_free(struct agent *a);
int agent_ctl_dns_status(void *arg, const struct ctl_request *req, msgpack_packer *pk, char *err,
                         size_t n);
/* A record stored (borrowed): a service whose plan changed (a pin), or
 * whose name another agent changed, is looked at again. */
void agent_failover_on_record(struct agent *a, const struct proto_record *rec);
/* A member came or went: who acts may have changed. */
void agent_failover_member_changed(struct agent *a);

/* agent_ctl.c: the other members by state (PROTO_STATE_*), as seen here. */
struct agent_census {
	uint64_t by_state[5];
};
void agent_census(struct agent *a, struct agent_census *c);

/* agent_http.c: the HTTP listener of [agent] metrics_listen, when set.
 * Returns 0 or a negative code with one line in err (n bytes). */
int agent_http_start(struct agent *a, char *err, size_t n);
void agent_http_stop(struct agent *a);
/* agent_metrics.c: the Prometheus text of this agent's figures into *out
 * (malloc()ed, the caller's) and *len. Returns 0, -ENOMEM or KITH_ETOOBIG. */
int agent_metrics(struct agent *a, char **out, size_t *len);
struct httpd_reply;
/* agent_pages.c: the status pages and their JSON, for path (borrowed);
 * leaves r as it is (404) for any other path. */
void agent_pages(struct agent *a, const char *path, struct httpd_reply *r);
/* Keeps the verdict history (a monitor subscriber). Returns 0 or -ENOSPC. */
int agent_pages_start(struct agent *a);
/* Prunes the history past 90 days; called every hour. */
void agent_pages_upkeep(struct agent *a);
struct dns_cred;
struct proto_ip;
/* Packs list[0..n) as an array of address texts. */
void agent_pack_ips(msgpack_packer *pk, const struct proto_ip *list, uint32_t n);
/* Opens the credential of the dns:zone grant issuer gave us into *cred
 * (wipe it after use, dns_cred_wipe()); *g gets the grant. With issuer
 * ourselves: our own copy, from one of our dns:zone grants in force.
 * Returns 0 or a ctl_fail() code with one line in err (n bytes). */
int agent_dns_credential(struct agent *a, const uint8_t issuer[PROTO_KEY_LEN], const char *zone,
                         struct dns_cred *cred, const struct trust_grant **g, char *err, size_t n);
/* Can we open our own copy of the credential for zone (the plan's
 * owner_acts)? */
bool agent_dns_owner_can_act(struct agent *a, const char *zone);

/* agent_dns_plan.c: the DNS plan of kith service add|set. */
/* Reads the plan arguments of req over *plan (those not given stay),
 * checks it and picks its zone. Returns 0 or a ctl_fail() code. */
int agent_dns_plan_args(struct agent *a, const struct ctl_request *req, struct proto_dns_plan *plan,
                        char *err, size_t n);
/* The longest zone holding name among the dns grants we issued that are in
 * force, to subject only when not NULL; NULL when none. The text is the
 * trust module's, valid until its records change. */
const char *agent_dns_zone_of(struct agent *a, const char *name, const uint8_t *subject);

extern const struct control_command agent_ctl_commands[];
extern const size_t agent_ctl_n_commands;

#endif
