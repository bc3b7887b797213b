/* kith_sim: many members in one process, each running the real member/
 * (SWIM) and gossip/ (records) modules with a store of its own, over a
 * simulated network with latency and loss, in virtual time: the agent's
 * own loop (agent/core/loop.c) on a virtual clock (loop_virtual()), where
 * time jumps from one timer deadline to the next and a handler takes no
 * simulated time.
 *
 * sim_net.c owns the nodes and the network: it gives every module the ops
 * an agent gives it (send, pick, accept, stored, changed), encodes every
 * SWIM message and decodes it again on delivery, copies every gossip
 * message, and records when each node stored the watched record and when
 * it declared the victim dead. sim_main.c runs the phases and prints. */
#ifndef KITH_TESTS_SIM_SIM_H
#define KITH_TESTS_SIM_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/core/conf.h"
#include "agent/core/keymap.h"
#include "agent/core/loop.h"
#include "proto/limits.h"

/* Per sender, the last delivery time on the links with a message in
 * flight, up to this many: ZeroMQ keeps the order of messages between two
 * peers. */
#define SIM_FIFO 32

/* Virtual ms at the start. */
#define SIM_EPOCH_MS UINT64_C(1000000)

struct sim_link {
	uint32_t to;
	uint64_t at; /* virtual ms of the last delivery to to */
};

enum sim_kind {
	SIM_SWIM = 0,
	SIM_GOSSIP = 1,
};

struct sim_opts {
	uint32_t n;
	enum conf_profile profile;
	uint32_t lat_lo_ms, lat_hi_ms; /* one-way latency, uniform per message */
	uint32_t loss_ppm;             /* messages lost, per million */
	uint64_t seed;
	bool swim;             /* run member/; else gossip picks from the network's list */
	uint64_t incarnation;  /* every member's at start */
	uint64_t wall_limit_s; /* the program gives up after this much real time */
	char dir[200];         /* the stores go under dir/<index> */
};

struct sim_node {
	struct sim *sim;
	uint32_t idx;
	bool up;
	uint8_t pk[PROTO_KEY_LEN];
	struct proto_identity *id; /* owned; NULL when nobody needs its secret key */
	struct store *store;
	struct gossip *gossip;
	struct member *member;
	uint64_t got_ms;  /* virtual ms it stored the watched record, 0: not yet */
	uint64_t dead_ms; /* it declared the victim dead, 0: not yet */
	uint64_t suspect_ms;
	uint64_t records_sent;   /* RECORDS messages since the last publish */
	struct loop_timer start; /* starts its modules: agents do not start in step */
	struct sim_link fifo[SIM_FIFO];
};

struct sim_count {
	uint64_t msgs, bytes;
};

struct sim_packet;

struct sim {
	struct sim_opts o;
	struct loop *loop;
	struct conf conf;
	struct keymap index; /* pk -> struct sim_node * */
	struct sim_node *nodes;
	struct sim_packet *inflight;
	uint64_t rng;
	struct sim_count sent[2]; /* by enum sim_kind, counted when sent */
	struct sim_count lost[2]; /* of those, lost (loss or a dead end) */
	uint64_t wire_errors;     /* SWIM messages the codec refused */
	uint64_t bad_messages;    /* gossip messages a receiver called malformed */
	uint64_t fifo_misses;     /* link order no longer enforced (cache reuse) */
	/* The watched record: author and seq, and how many nodes hold it. */
	uint8_t watch_author[PROTO_KEY_LEN];
	uint64_t watch_seq;
	uint32_t holders;
	/* The victim (-1: none) and how many declared it suspect, dead. */
	int64_t victim;
	uint32_t suspecters, deciders;
	/* ops->changed about members that are up. */
	uint64_t false_suspect, false_dead;
	uint64_t records_sent; /* RECORDS messages since the last publish */
	uint64_t start_errors;
	uint64_t turns;
	uint64_t wall_start_ms;
	bool over_limit;
	bool made_dir; /* o.dir is ours to remove */
};

/* Sets up o->n nodes (o borrowed, copied) with their stores, modules and
 * the network; nothing runs yet. Returns 0 or a negative code; on failure
 * sim_free() still cleans up what was made. */
int sim_new(struct sim *s, const struct sim_opts *o);
/* Frees everything and removes the stores. */
void sim_free(struct sim *s);
/* Starts every node's modules (members announce themselves) at a random
 * time within the longer of the sync and probe intervals from now, as
 * agents started at different times would run: gossip_start() has no
 * jitter of its own, and nodes started in step would all sync at once. */
int sim_start(struct sim *s);

/* Runs for ms of virtual time, or until done(s, arg) holds when done is
 * not NULL. Returns 1 (done), 0 (time up) or -ETIME (the wall limit
 * passed: s->over_limit). */
int sim_run(struct sim *s, uint64_t ms, bool (*done)(const struct sim *s, const void *arg),
            const void *arg);
uint64_t sim_now_ms(const struct sim *s);

/* Node i publishes a new record (seq from its store) with gossip_publish()
 * and it becomes the watched one. Returns 0 or a negative code. */
int sim_publish(struct sim *s, uint32_t i);
/* Node i dies: every message to or from it is lost from now on and its
 * modules are freed; it becomes the victim. */
void sim_kill(struct sim *s, uint32_t i);

/* Real milliseconds of a monotonic clock. */
uint64_t sim_real_ms(void);
/* Resident set now and at its peak, in KiB (from /proc/self/status). */
void sim_rss_kib(uint64_t *now, uint64_t *peak);

/* Stores opened from now on hold one descriptor rather than three (see
 * sim_lmdb.c). */
extern bool sim_lmdb_lean;

/* Makes libsodium's random bytes (keys, member's shuffles and picks) a
 * function of seed. Must be called before sodium_init(). */
void sim_random_seed(uint64_t seed);

#endif
