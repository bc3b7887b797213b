/* Internals of the agent shared by agent.c (wiring and life cycle),
 * agent_ctl.c (control commands) and agent_publish.c (our own records). */
#ifndef KITH_AGENT_AGENT_INT_H
#define KITH_AGENT_AGENT_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "proto/limits.h"
#include "agent.h"
#include "conf.h"
#include "ctl.h"
#include "gossip.h"
#include "loop.h"
#include "member.h"
#include "net.h"
#include "trust.h"

struct proto_identity;
struct store;

/* How long our own member and admission records live; they are re-signed
 * when half of that has passed. */
#define AGENT_MEMBER_TTL (30 * 24 * 3600)
#define AGENT_ADMISSION_TTL (10 * 365 * 24 * 3600)
#define AGENT_REFRESH_MS (3600 * 1000)

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
	struct ctl *ctl;
	uint64_t incarnation;
	uint64_t started_ms;
	int signal_pipe[2];
	struct loop_timer refresh; /* re-signs our member record */
	struct loop_timer stop;    /* ends the loop after the leave went out */
	bool stopping;
	uint64_t guest_dropped; /* guest messages refused */
};

/* Publishes a record of ours (body borrowed): seq, signature, store, push.
 * Returns 0 or a negative code. */
int agent_publish(struct agent *a, uint8_t kind, const char *name, const uint8_t *body,
                  size_t body_len, uint64_t ttl);
/* Publishes our member record if it is missing, names another endpoint
 * than we advertise, or is past half its life. */
int agent_refresh_member(struct agent *a);
/* Publishes an admission of peer reachable at endpoint (may be ""). */
int agent_admit(struct agent *a, const uint8_t peer[PROTO_KEY_LEN], const char *endpoint);
/* The endpoint we advertise ("" when none can be derived). */
const char *agent_advertised(const struct agent *a);

extern const struct ctl_command agent_ctl_commands[];
extern const size_t agent_ctl_n_commands;

#endif
