/* A hash map from 32-byte keys (peer keys) to pointers, for the agent's
 * per-peer tables.
 *
 * Open addressing with linear probing; the hash is SipHash-2-4 under a
 * random key per map (libsodium's crypto_shorthash), because some keys come
 * from strangers (guests' CURVE keys) who could otherwise pick keys that
 * all collide. The map stores the pointer it is given and never frees it:
 * the caller owns the values. */
#ifndef KITH_AGENT_CORE_KEYMAP_H
#define KITH_AGENT_CORE_KEYMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/limits.h"

struct keymap_slot {
	uint8_t key[PROTO_KEY_LEN];
	void *value; /* NULL: empty or deleted (see deleted) */
	bool deleted;
};

struct keymap {
	struct keymap_slot *slots;
	size_t cap;   /* 0 or a power of two */
	size_t count; /* live entries */
	size_t used;  /* live + deleted slots */
	uint8_t hash_key[16];
};

/* Empties m. A zeroed struct keymap is an empty map too. */
void keymap_init(struct keymap *m);
/* Frees the slots (not the values) and empties the map. */
void keymap_free(struct keymap *m);

/* The value stored for key, or NULL. */
void *keymap_get(const struct keymap *m, const uint8_t key[PROTO_KEY_LEN]);
/* Stores value (not NULL) for key, replacing any earlier one. Returns 0 or
 * -ENOMEM (the map is unchanged). */
int keymap_put(struct keymap *m, const uint8_t key[PROTO_KEY_LEN], void *value);
/* Removes key; returns the value it had, or NULL. */
void *keymap_del(struct keymap *m, const uint8_t key[PROTO_KEY_LEN]);

/* Iteration: for (size_t i = 0; keymap_next(m, &i, &key, &value);) ...
 * Entries may be deleted (not added) during the walk. */
bool keymap_next(const struct keymap *m, size_t *pos, const uint8_t **key, void **value);

#endif
