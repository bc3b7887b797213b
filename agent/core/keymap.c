#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "keymap.h"

#define MIN_CAP 16

void keymap_init(struct keymap *m)
{
	memset(m, 0, sizeof(*m));
}

void keymap_free(struct keymap *m)
{
	free(m->slots);
	memset(m, 0, sizeof(*m));
}

static size_t slot_of(const struct keymap *m, const uint8_t key[PROTO_KEY_LEN])
{
	uint8_t h[crypto_shorthash_BYTES];
	uint64_t v;

	crypto_shorthash(h, key, PROTO_KEY_LEN, m->hash_key);
	memcpy(&v, h, sizeof(v));
	return (size_t)v & (m->cap - 1);
}

/* The slot holding key, or NULL. */
static struct keymap_slot *find(const struct keymap *m, const uint8_t key[PROTO_KEY_LEN])
{
	if (m->cap == 0)
		return NULL;
	for (size_t i = slot_of(m, key), n = 0; n < m->cap; i = (i + 1) & (m->cap - 1), n++) {
		struct keymap_slot *s = &m->slots[i];
		if (!s->value && !s->deleted)
			return NULL;
		if (s->value && !memcmp(s->key, key, PROTO_KEY_LEN))
			return s;
	}
	return NULL;
}

void *keymap_get(const struct keymap *m, const uint8_t key[PROTO_KEY_LEN])
{
	struct keymap_slot *s = find(m, key);

	return s ? s->value : NULL;
}

/* Rebuilds the table with cap slots, dropping deleted ones. */
static int resize(struct keymap *m, size_t cap)
{
	struct keymap_slot *old = m->slots;
	size_t old_cap = m->cap;
	struct keymap_slot *slots = calloc(cap, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	m->slots = slots;
	m->cap = cap;
	m->count = m->used = 0;
	for (size_t i = 0; i < old_cap; i++)
		if (old[i].value)
			keymap_put(m, old[i].key, old[i].value); /* cannot fail: room */
	free(old);
	return 0;
}

int keymap_put(struct keymap *m, const uint8_t key[PROTO_KEY_LEN], void *value)
{
	struct keymap_slot *s = find(m, key);
	size_t i;

	if (s) {
		s->value = value;
		return 0;
	}
	/* An empty map holds no hashed entry yet: draw its key now, so a
	 * zeroed struct keymap works as well as an initialised one. */
	if (!m->slots)
		randombytes_buf(m->hash_key, sizeof(m->hash_key));
	/* Keep the load (deleted slots included) under 3/4. */
	if ((m->used + 1) * 4 > m->cap * 3) {
		size_t cap = m->cap ? m->cap : MIN_CAP;
		while ((m->count + 1) * 2 > cap)
			cap *= 2;
		if (resize(m, cap))
			return -ENOMEM;
	}
	for (i = slot_of(m, key); m->slots[i].value; i = (i + 1) & (m->cap - 1))
		;
	if (!m->slots[i].deleted)
		m->used++;
	memcpy(m->slots[i].key, key, PROTO_KEY_LEN);
	m->slots[i].value = value;
	m->slots[i].deleted = false;
	m->count++;
	return 0;
}

void *keymap_del(struct keymap *m, const uint8_t key[PROTO_KEY_LEN])
{
	struct keymap_slot *s = find(m, key);
	void *value;

	if (!s)
		return NULL;
	value = s->value;
	s->value = NULL;
	s->deleted = true;
	m->count--;
	return value;
}

bool keymap_next(const struct keymap *m, size_t *pos, const uint8_t **key, void **value)
{
	for (; *pos < m->cap; (*pos)++) {
		const struct keymap_slot *s = &m->slots[*pos];
		if (s->value) {
			*key = s->key;
			*value = s->value;
			(*pos)++;
			return true;
		}
	}
	return false;
}
