/* The transport's table of keys: per-member state, capped guest and
 * address entries, token buckets, and the inbound connections of each key
 * (see net_impl.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <sodium.h>
#include <zmq.h>

#include "proto/error.h"
#include "proto/identity.h"
#include "proto/peerid.h"
#include "agent/core/loop.h"
#include "net_impl.h"

#define TABLE_INITIAL 64
#define UNITS_PER_TOKEN 60000 /* ms in a minute */

/* Peers choose their keys, so the bucket index is a keyed hash (SipHash
 * with a random key): nobody can aim many keys at one chain. */
static size_t slot_of(const struct net_table *t, enum net_kind kind,
                      const uint8_t key[PROTO_KEY_LEN])
{
	uint8_t in[PROTO_KEY_LEN + 1], out[crypto_shorthash_BYTES];
	uint64_t h;

	memcpy(in, key, PROTO_KEY_LEN);
	in[PROTO_KEY_LEN] = (uint8_t)kind;
	crypto_shorthash(out, in, sizeof(in), t->hash_key);
	memcpy(&h, out, sizeof(h));
	return (size_t)h & (t->n_buckets - 1);
}

int net_table_init(struct net_table *t)
{
	memset(t, 0, sizeof(*t));
	t->buckets = calloc(TABLE_INITIAL, sizeof(*t->buckets));
	if (!t->buckets)
		return -ENOMEM;
	t->n_buckets = TABLE_INITIAL;
	crypto_shorthash_keygen(t->hash_key);
	return 0;
}

void net_table_free(struct net *n)
{
	struct net_table *t = &n->peers;

	for (size_t i = 0; i < t->n_buckets && t->buckets; i++) {
		struct net_peer *p = t->buckets[i];
		while (p) {
			struct net_peer *next = p->chain;
			net_peer_close_dealer(n, p);
			free(p);
			p = next;
		}
	}
	free(t->buckets);
	memset(t, 0, sizeof(*t));
}

/* Doubles the bucket array when entries outnumber buckets; on ENOMEM the
 * chains just get longer. */
static void table_grow(struct net_table *t)
{
	size_t n = t->n_buckets * 2;
	struct net_peer **buckets;
	struct net_table grown = *t;

	if (t->count < t->n_buckets)
		return;
	buckets = calloc(n, sizeof(*buckets));
	if (!buckets)
		return;
	grown.buckets = buckets;
	grown.n_buckets = n;
	for (size_t i = 0; i < t->n_buckets; i++) {
		struct net_peer *p = t->buckets[i];
		while (p) {
			struct net_peer *next = p->chain;
			size_t s = slot_of(&grown, p->kind, p->key);
			p->chain = buckets[s];
			buckets[s] = p;
			p = next;
		}
	}
	free(t->buckets);
	t->buckets = buckets;
	t->n_buckets = n;
}

static struct net_lru *lru_of(struct net *n, enum net_kind kind)
{
	switch (kind) {
	case NET_KIND_GUEST:
		return &n->peers.guests;
	case NET_KIND_ADDR:
		return &n->peers.addrs;
	default:
		return NULL;
	}
}

static void lru_unlink(struct net_lru *lru, struct net_peer *p)
{
	if (p->lru_prev)
		p->lru_prev->lru_next = p->lru_next;
	else
		lru->head = p->lru_next;
	if (p->lru_next)
		p->lru_next->lru_prev = p->lru_prev;
	else
		lru->tail = p->lru_prev;
	p->lru_prev = p->lru_next = NULL;
	lru->count--;
}

static void lru_push(struct net_lru *lru, struct net_peer *p)
{
	p->lru_prev = NULL;
	p->lru_next = lru->head;
	if (lru->head)
		lru->head->lru_prev = p;
	lru->head = p;
	if (!lru->tail)
		lru->tail = p;
	lru->count++;
}

struct net_peer *net_peer_find(const struct net *n, enum net_kind kind,
                               const uint8_t key[PROTO_KEY_LEN])
{
	struct net_peer *p = n->peers.buckets[slot_of(&n->peers, kind, key)];

	while (p && (p->kind != kind || memcmp(p->key, key, PROTO_KEY_LEN) != 0))
		p = p->chain;
	return p;
}

bool net_peer_is_banned(const struct net *n, const struct net_peer *p)
{
	return p->ban_until > loop_now_ms(n->loop);
}

/* Forgets the least recently used entry of lru, sparing banned ones when
 * an unbanned one is near the end. */
static void lru_evict(struct net *n, struct net_lru *lru)
{
	struct net_peer *victim = lru->tail;
	struct net_peer *p = lru->tail;

	for (int i = 0; p && i < NET_EVICT_SCAN; i++, p = p->lru_prev)
		if (!net_peer_is_banned(n, p)) {
			victim = p;
			break;
		}
	if (victim)
		net_peer_drop(n, victim);
}

struct net_peer *net_peer_get(struct net *n, enum net_kind kind, const uint8_t key[PROTO_KEY_LEN])
{
	struct net_lru *lru = lru_of(n, kind);
	size_t cap = kind == NET_KIND_GUEST ? NET_GUESTS_MAX : NET_ADDRS_MAX;
	struct net_peer *p = net_peer_find(n, kind, key);
	size_t s;

	if (p) {
		if (lru) {
			lru_unlink(lru, p);
			lru_push(lru, p);
		}
		return p;
	}
	if (lru && lru->count >= cap)
		lru_evict(n, lru);
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->net = n;
	p->kind = kind;
	memcpy(p->key, key, PROTO_KEY_LEN);
	if (kind == NET_KIND_GUEST) {
		memcpy(p->curve_pk, key, PROTO_KEY_LEN);
		p->has_curve = true;
	}
	table_grow(&n->peers);
	s = slot_of(&n->peers, kind, key);
	p->chain = n->peers.buckets[s];
	n->peers.buckets[s] = p;
	n->peers.count++;
	if (lru)
		lru_push(lru, p);
	return p;
}

void net_peer_close_dealer(struct net *n, struct net_peer *p)
{
	if (!p->dealer)
		return;
	loop_unwatch(n->loop, p->dealer, -1);
	zmq_close(p->dealer);
	p->dealer = NULL;
	free(p->endpoint);
	p->endpoint = NULL;
}

void net_peer_drop(struct net *n, struct net_peer *p)
{
	struct net_peer **pp = &n->peers.buckets[slot_of(&n->peers, p->kind, p->key)];
	struct net_lru *lru = lru_of(n, p->kind);

	net_peer_close_dealer(n, p);
	while (*pp && *pp != p)
		pp = &(*pp)->chain;
	if (*pp)
		*pp = p->chain;
	if (lru)
		lru_unlink(lru, p);
	n->peers.count--;
	free(p);
}

int net_peer_curve(struct net_peer *p)
{
	if (p->has_curve)
		return 0;
	if (proto_curve_pk(p->curve_pk, p->key) != 0)
		return KITH_EVALUE;
	p->has_curve = true;
	return 0;
}

void net_addr_key(uint8_t out[PROTO_KEY_LEN], const char *addr)
{
	crypto_generichash(out, PROTO_KEY_LEN, (const unsigned char *)addr, strlen(addr), NULL, 0);
}

void net_addr_copy(char out[NET_ADDR_MAX], const char *src, size_t len)
{
	static const char mapped[] = "::ffff:";
	size_t skip = sizeof(mapped) - 1;

	if (len > skip && !strncasecmp(src, mapped, skip) && memchr(src + skip, '.', len - skip)) {
		src += skip;
		len -= skip;
	}
	len = len < NET_ADDR_MAX ? len : NET_ADDR_MAX - 1;
	memcpy(out, src, len);
	out[len] = '\0';
}

bool net_bucket_take(struct net_bucket *b, uint64_t per_minute, uint64_t now_ms)
{
	uint64_t cap = per_minute * UNITS_PER_TOKEN;

	if (!b->started) {
		b->started = true;
		b->units = cap;
		b->last_ms = now_ms;
	} else if (now_ms > b->last_ms) {
		uint64_t add = (now_ms - b->last_ms) * per_minute;
		b->units = b->units + add > cap ? cap : b->units + add;
		b->last_ms = now_ms;
	}
	if (b->units < UNITS_PER_TOKEN)
		return false;
	b->units -= UNITS_PER_TOKEN;
	return true;
}

void net_log_refused(const struct net_from *from, const char *unit, const char *why)
{
	char who[NET_ADDR_MAX + 24];

	if (from->guest) {
		snprintf(who, sizeof(who), "to a guest at %s", from->addr[0] ? from->addr : "?");
	} else {
		memcpy(who, "to ", 3);
		proto_peerid_short(who + 3, from->peer);
	}
	log_tally(LOG_LEVEL_WARN, "refused", 1, unit, who, why);
}
