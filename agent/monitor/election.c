#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "election.h"

static void rank(uint8_t out[32], const uint8_t peer[PROTO_KEY_LEN],
                 const uint8_t topic[ELECTION_TOPIC_LEN])
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, 32);
	crypto_generichash_update(&st, peer, PROTO_KEY_LEN);
	crypto_generichash_update(&st, topic, ELECTION_TOPIC_LEN);
	crypto_generichash_final(&st, out, 32);
}

int election_pick(const uint8_t (*candidates)[PROTO_KEY_LEN], size_t n,
                  const uint8_t topic[ELECTION_TOPIC_LEN], election_alive_fn alive, void *arg,
                  size_t *chosen)
{
	uint8_t best[32], r[32];
	bool found = false;

	for (size_t i = 0; i < n; i++) {
		if (alive && !alive(arg, candidates[i]))
			continue;
		rank(r, candidates[i], topic);
		if (!found || memcmp(r, best, sizeof(r)) < 0) {
			memcpy(best, r, sizeof(r));
			*chosen = i;
		}
		found = true;
	}
	return found ? 0 : -ENOENT;
}

bool election_won(const uint8_t self[PROTO_KEY_LEN], const uint8_t (*candidates)[PROTO_KEY_LEN],
                  size_t n, const uint8_t topic[ELECTION_TOPIC_LEN], election_alive_fn alive,
                  void *arg)
{
	size_t chosen;

	return election_pick(candidates, n, topic, alive, arg, &chosen) == 0 &&
	       !memcmp(candidates[chosen], self, PROTO_KEY_LEN);
}
