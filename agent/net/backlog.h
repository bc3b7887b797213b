/* The work peers' messages ask for, bounded per turn of the loop.
 *
 * A message that costs more than a few microseconds (RECORDS and SYNC,
 * whose records are verified and stored; REQUEST, which may write a shard;
 * a member's JOIN) is handled at once while the turn's budget of
 * BACKLOG_TURN_US lasts. After that, one message per peer waits, copied,
 * for the next turns, and any more from that peer is refused (the caller
 * drops it, or answers that we are busy, and counts it). Waiting messages
 * are taken round-robin across peers, so a flooding member cannot starve
 * the others; and since each turn polls every socket, the membership
 * module's probes and answers are never behind a flood: SWIM does not
 * suspect an agent that is merely busy.
 *
 * Anti-entropy makes dropping safe: records a dropped message carried are
 * offered again by the next exchange. */
#ifndef KITH_AGENT_NET_BACKLOG_H
#define KITH_AGENT_NET_BACKLOG_H

#include <stddef.h>
#include <stdint.h>

#include "net.h"

struct loop;

/* Work done in one turn before messages wait: well under every probe
 * timeout (500 ms on lan, 3 s on wan). */
#define BACKLOG_TURN_US 20000
/* Bytes of messages waiting at once, whoever sent them. */
#define BACKLOG_BYTES_MAX (32u << 20)

/* Handles one message (buf and from borrowed for the call). */
typedef void (*backlog_fn)(void *arg, const struct net_from *from, uint8_t type, const uint8_t *buf,
                           size_t len);

struct backlog_stats {
	uint64_t handled;  /* at once */
	uint64_t deferred; /* waited for a later turn */
	uint64_t refused;  /* the peer had one waiting already, or no room */
	uint64_t waiting;  /* messages waiting now */
	uint64_t bytes;    /* their size */
};

struct backlog;

/* l, fn and arg are borrowed and outlive the backlog. On success *out is
 * the caller's (backlog_free()). */
int backlog_new(struct backlog **out, struct loop *l, backlog_fn fn, void *arg);
/* Frees *b and what waits in it; NULL is harmless. */
void backlog_free(struct backlog **b);

/* Handles the message from->peer sent now if the turn's budget allows, or
 * keeps a copy for a later turn. Returns 0, or -EBUSY when the peer
 * already has a message waiting or the backlog is full (nothing kept: the
 * caller drops or refuses it), or -ENOMEM. */
int backlog_submit(struct backlog *b, const struct net_from *from, uint8_t type, const uint8_t *buf,
                   size_t len);
/* Drops what peer has waiting (it was removed or banned). */
void backlog_forget(struct backlog *b, const uint8_t peer[PROTO_KEY_LEN]);

void backlog_get_stats(const struct backlog *b, struct backlog_stats *out);

#endif
