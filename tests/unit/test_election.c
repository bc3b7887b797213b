/* The election: every agent picks the same live candidate for a topic,
 * whatever the order it lists them in; dead candidates are passed over;
 * topics spread the work; nobody is chosen among none. */
#include <errno.h>
#include <string.h>

#include "agent/monitor/election.h"
#include "tap.h"

#define N 8

static uint8_t peers[N][PROTO_KEY_LEN];
static bool dead[N];

static bool alive(void *arg, const uint8_t peer[PROTO_KEY_LEN])
{
	(void)arg;
	for (size_t i = 0; i < N; i++)
		if (!memcmp(peer, peers[i], PROTO_KEY_LEN))
			return !dead[i];
	return false;
}

static size_t pick(const uint8_t topic[ELECTION_TOPIC_LEN])
{
	size_t chosen = N;

	election_pick((const uint8_t(*)[PROTO_KEY_LEN])peers, N, topic, alive, NULL, &chosen);
	return chosen;
}

int main(void)
{
	uint8_t topic[ELECTION_TOPIC_LEN] = {1}, reversed[N][PROTO_KEY_LEN];
	size_t chosen, first, again, winners[N] = {0};

	for (size_t i = 0; i < N; i++)
		memset(peers[i], (int)(i + 1), PROTO_KEY_LEN);
	is(election_pick((const uint8_t(*)[PROTO_KEY_LEN])peers, 0, topic, NULL, NULL, &chosen),
	   -ENOENT, "no candidate: nobody");

	first = pick(topic);
	ok(first < N, "one of eight is chosen");
	for (size_t i = 0; i < N; i++)
		memcpy(reversed[i], peers[N - 1 - i], PROTO_KEY_LEN);
	ok(election_pick((const uint8_t(*)[PROTO_KEY_LEN])reversed, N, topic, alive, NULL,
	                 &chosen) == 0 &&
	       !memcmp(reversed[chosen], peers[first], PROTO_KEY_LEN),
	   "the same one whatever the order of the list");
	ok(election_won(peers[first], (const uint8_t(*)[PROTO_KEY_LEN])peers, N, topic, alive,
	                NULL),
	   "the chosen one knows it won");
	ok(!election_won(peers[(first + 1) % N], (const uint8_t(*)[PROTO_KEY_LEN])peers, N, topic,
	                 alive, NULL),
	   "another knows it did not");

	dead[first] = true;
	again = pick(topic);
	ok(again < N && again != first, "the chosen one dead: another is chosen");
	ok(!election_won(peers[first], (const uint8_t(*)[PROTO_KEY_LEN])peers, N, topic, alive,
	                 NULL),
	   "a dead candidate never wins");
	dead[first] = false;
	is(pick(topic), first, "back alive: chosen again");

	for (size_t i = 0; i < N; i++)
		dead[i] = true;
	is(election_pick((const uint8_t(*)[PROTO_KEY_LEN])peers, N, topic, alive, NULL, &chosen),
	   -ENOENT, "all dead: nobody");
	for (size_t i = 0; i < N; i++)
		dead[i] = false;

	{
		uint8_t outsider[PROTO_KEY_LEN];
		memset(outsider, 0xee, sizeof(outsider));
		ok(!election_won(outsider, (const uint8_t(*)[PROTO_KEY_LEN])peers, N, topic, NULL,
		                 NULL),
		   "one who is no candidate never wins");
	}

	/* 256 topics over 8 candidates: each wins some (a uniform hash gives
	 * each 32 on average; none is left out). */
	for (int t = 0; t < 256; t++) {
		topic[0] = (uint8_t)t;
		topic[1] = 0x5a;
		winners[pick(topic)]++;
	}
	{
		bool everyone = true;
		for (size_t i = 0; i < N; i++)
			everyone = everyone && winners[i] > 0;
		ok(everyone, "topics spread the work over every candidate");
	}
	return tap_done();
}
