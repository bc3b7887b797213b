/* The election of one live candidate per topic, the same at every agent
 * that sees the same candidates alive, without a message: the candidate
 * with the smallest BLAKE2b-256(candidate || topic). A topic is any 32
 * bytes (a hash of what is decided: a service, a member, a zone), so that
 * the work spreads over the candidates topic by topic.
 *
 * Agents that disagree on who is alive may both speak: what they say is
 * idempotent (an alert sent twice, a DNS record set to the same value), so
 * this needs no consensus. */
#ifndef KITH_AGENT_MONITOR_ELECTION_H
#define KITH_AGENT_MONITOR_ELECTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/limits.h"

#define ELECTION_TOPIC_LEN 32

/* Is candidate alive in the caller's view? */
typedef bool (*election_alive_fn)(void *arg, const uint8_t peer[PROTO_KEY_LEN]);

/* Picks among the n candidates (borrowed) those alive() accepts (all when
 * alive is NULL) and writes the index of the chosen one into *chosen.
 * Returns 0, or -ENOENT when no candidate is alive. */
int election_pick(const uint8_t (*candidates)[PROTO_KEY_LEN], size_t n,
                  const uint8_t topic[ELECTION_TOPIC_LEN], election_alive_fn alive, void *arg,
                  size_t *chosen);

/* Is self the one election_pick() chooses? False when self is not among
 * the live candidates. */
bool election_won(const uint8_t self[PROTO_KEY_LEN], const uint8_t (*candidates)[PROTO_KEY_LEN],
                  size_t n, const uint8_t topic[ELECTION_TOPIC_LEN], election_alive_fn alive,
                  void *arg);

#endif
