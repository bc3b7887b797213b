/* The key map: put, get, replace, delete, growth, iteration. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "agent/core/keymap.h"
#include "tap.h"

#define N 5000

int main(void)
{
	static uint8_t keys[N][PROTO_KEY_LEN];
	struct keymap m;
	int missing = 0, wrong = 0, seen = 0;

	if (sodium_init() < 0)
		return 1;
	keymap_init(&m);
	ok(keymap_get(&m, keys[0]) == NULL, "empty map finds nothing");
	for (int i = 0; i < N; i++) {
		randombytes_buf(keys[i], PROTO_KEY_LEN);
		if (keymap_put(&m, keys[i], &keys[i]) != 0)
			missing++;
	}
	is(missing, 0, "5000 puts");
	is(m.count, N, "count");
	for (int i = 0; i < N; i++)
		if (keymap_get(&m, keys[i]) != &keys[i])
			wrong++;
	is(wrong, 0, "every key found with its value");
	is(keymap_put(&m, keys[7], &keys[8]), 0, "replace");
	ok(keymap_get(&m, keys[7]) == &keys[8] && m.count == N, "replaced, count unchanged");
	for (int i = 0; i < N; i += 2)
		keymap_del(&m, keys[i]);
	is(m.count, N / 2, "half deleted");
	wrong = 0;
	for (int i = 0; i < N; i++)
		if ((keymap_get(&m, keys[i]) != NULL) != (i % 2 == 1))
			wrong++;
	is(wrong, 0, "deleted keys gone, others kept");
	ok(keymap_del(&m, keys[0]) == NULL, "deleting twice returns NULL");
	for (int round = 0; round < 20; round++)
		for (int i = 0; i < N; i += 2) {
			keymap_put(&m, keys[i], &keys[i]);
			keymap_del(&m, keys[i]);
		}
	ok(m.used <= m.cap * 3 / 4 + 1, "churn does not fill the table with deleted slots");
	{
		const uint8_t *k;
		void *v;
		for (size_t pos = 0; keymap_next(&m, &pos, &k, &v);) {
			seen++;
			keymap_del(&m, k); /* deleting while walking is allowed */
		}
	}
	is(seen, N / 2, "iteration visits every live entry once");
	is(m.count, 0, "all deleted during the walk");
	keymap_free(&m);
	ok(m.slots == NULL && m.count == 0, "free empties the map");
	return tap_done();
}
