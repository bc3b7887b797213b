/* Internals of the transport, shared by net.c (sockets and the public
 * API), net_peer.c (the table of what we know about each key) and zap.c
 * (the ZAP handler). No other module includes this.
 *
 * The table holds three kinds of entries, each keyed by 32 bytes:
 * members by Ed25519 key, guests by CURVE key, and guest source addresses
 * by a BLAKE2b hash of the address text. Members are few and chosen by the
 * trust layer; guests and addresses are chosen by strangers, so their
 * entries are capped and the least recently used one is forgotten first
 * (banned ones last). */
#ifndef KITH_AGENT_NET_NET_IMPL_H
#define KITH_AGENT_NET_NET_IMPL_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <sodium.h>

#include "agent/core/log.h"
#include "agent/core/loop.h"
#include "net.h"

#define NET_BATCH 64        /* messages handled per socket per wake-up */
#define NET_GUESTS_MAX 1024 /* guest keys remembered */
#define NET_ADDRS_MAX 1024  /* guest source addresses remembered */
#define NET_EVICT_SCAN 16   /* LRU entries looked at to spare a banned one */
#define NET_GUEST_OVERALL 4 /* overall guest rate = this x the per-address rate */
#define NET_ZAP_DOMAIN "kith"
/* Inbound connections (net_conn.c). A stranger's connection costs a file
 * descriptor, libzmq's buffers and a message being received of up to
 * max_message: none may stay without saying anything, and a guest may say
 * little, for a short time. */
#define NET_SILENT_MS 15000        /* closed when nothing came this long after accept... */
#define NET_MEMBER_ADDR_MS 3600000 /* ...unless a member handshook from its address since */
#define NET_SILENT_MAX 512         /* silent at once; beyond, the oldest is closed */
#define NET_GUEST_MESSAGES 16      /* one JOIN, or a member-to-be's first probes */
#define NET_GUEST_GRACE_MS 2000    /* for the answer to a JOIN to leave */
#define NET_GUEST_LIFE_MS 30000    /* the longest a guest's connection lives */
#define NET_SWEEP_MS 1000
#define NET_RIDS_MAX 4096 /* guests' and closed connections' routing ids remembered */
#define NET_RID_PROBES 16
#define NET_RID_KEEP_MS 60000 /* what they had queued is read by then */

enum net_kind {
	NET_KIND_MEMBER = 0, /* key: Ed25519 public key */
	NET_KIND_GUEST = 1,  /* key: CURVE public key */
	NET_KIND_ADDR = 2,   /* key: BLAKE2b-256 of the source address text */
};

/* A token bucket counted in 1/60000 of a token, so that a rate per minute
 * refills by exactly `rate` units each millisecond. */
struct net_bucket {
	uint64_t units;
	uint64_t last_ms;
	bool started;
};

/* One inbound connection of the ROUTER, known from the socket monitor's
 * ACCEPTED event (or from its first message, when that comes first), by its
 * file descriptor and the remote address it had then: the address is
 * checked again before shutdown(), since the number may have been reused.
 * Nothing else bounds how long a stranger may hold a connection, or how
 * many: the table is what lets the agent close silent connections and
 * guests past their time. */
struct net_conn {
	int fd;             /* -1: free slot */
	bool cut;           /* shutdown() done, waiting for libzmq to close it */
	bool known;         /* kind and key are filled in (it sent a message) */
	enum net_kind kind; /* of the key below */
	uint8_t key[PROTO_KEY_LEN];
	uint64_t routing_hash; /* of the routing id its messages come with */
	uint64_t since_ms;     /* accepted, or first seen */
	uint64_t spent_ms;     /* a guest's JOIN was answered at; 0: not yet */
	socklen_t sa_len;
	union {
		struct sockaddr sa;
		struct sockaddr_in in;
		struct sockaddr_in6 in6;
	} sa;
};

/* Every inbound connection, indexed by file descriptor. */
struct net_conns {
	struct net_conn *by_fd; /* cap entries, grown as fds come */
	size_t cap;
	size_t count;  /* slots in use */
	size_t silent; /* of them, connections that have sent nothing yet */
};

/* What a guest's connection has used of its budget, by the hash of its
 * routing id (libzmq gives each connection its own): a connection may be
 * gone before its first message is read, and what it queued must not
 * escape the budget. Connections closed for what they did are here too,
 * so that what they had queued is dropped. */
struct net_rid {
	uint64_t hash; /* 0: free */
	uint64_t since_ms;
	uint32_t messages;
	bool spent; /* its one JOIN was taken */
	bool dead;  /* everything it sends is dropped */
};

struct net_peer {
	struct net_peer *chain;               /* hash bucket list */
	struct net_peer *lru_prev, *lru_next; /* guests and addresses only */
	struct net *net;
	uint8_t key[PROTO_KEY_LEN];
	enum net_kind kind;
	bool has_curve;                  /* members: curve_pk is filled in */
	uint8_t curve_pk[PROTO_KEY_LEN]; /* members: their CURVE key */
	uint64_t malformed;              /* total counted by net_penalize() */
	uint32_t strikes;                /* malformed since the last ban */
	uint64_t ban_until;              /* loop ms; 0: not banned; UINT64_MAX: forever */
	void *dealer;                    /* members we send to: owned */
	uint64_t stuck_ms;               /* since when no send was accepted; 0: sends are */
	char *endpoint;                  /* the dealer's endpoint: owned */
	struct net_bucket bucket;        /* addresses: guest handshakes */
	uint64_t member_ms;              /* addresses: a member's last handshake from it */
};

struct net_lru {
	struct net_peer *head, *tail; /* head: most recently used */
	size_t count;
};

struct net_table {
	struct net_peer **buckets;
	size_t n_buckets; /* a power of two */
	size_t count;
	unsigned char hash_key[crypto_shorthash_KEYBYTES];
	struct net_lru guests, addrs;
};

struct net {
	struct loop *loop;
	const struct proto_identity *id;
	const struct conf *conf;
	const struct net_ops *ops;
	void *arg;
	void *ctx;     /* owned: one context per net, so several nets (tests) each
	                * have their own inproc ZAP endpoint */
	void *zap;     /* owned: REP on inproc://zeromq.zap.01 */
	void *router;  /* owned */
	void *monitor; /* owned: PAIR receiving the ROUTER's connection events */
	struct net_conns conns;
	struct net_rid rids[NET_RIDS_MAX];
	struct loop_timer sweep; /* closes connections past their time */
	char endpoint[256];
	struct net_table peers;
	struct net_bucket guests_overall;
	struct net_stats stats;
};

/* net_peer.c */
int net_table_init(struct net_table *t);
/* Frees every entry, unwatching and closing dealers. */
void net_table_free(struct net *n);
struct net_peer *net_peer_find(const struct net *n, enum net_kind kind,
                               const uint8_t key[PROTO_KEY_LEN]);
/* Finds or creates the entry; guests and addresses are marked recently
 * used, and creating one may forget another. NULL: out of memory. */
struct net_peer *net_peer_get(struct net *n, enum net_kind kind, const uint8_t key[PROTO_KEY_LEN]);
/* Unwatches and closes its dealer, unlinks and frees p. */
void net_peer_drop(struct net *n, struct net_peer *p);
bool net_peer_is_banned(const struct net *n, const struct net_peer *p);
/* shutdown()s p's inbound connections that still lead where they did. */
void net_peer_cut_conns(struct net_peer *p);
/* Unwatches and closes p's dealer, if any. */
void net_peer_close_dealer(struct net *n, struct net_peer *p);
/* Fills the CURVE key of a member entry. Returns 0 or KITH_EVALUE. */
int net_peer_curve(struct net_peer *p);
void net_addr_key(uint8_t out[PROTO_KEY_LEN], const char *addr);
/* Copies the address text src (len bytes, not NUL-terminated) into out,
 * cut to fit, with an IPv4-mapped IPv6 address ("::ffff:192.0.2.1") shown
 * as the IPv4 address it is. */
void net_addr_copy(char out[NET_ADDR_MAX], const char *src, size_t len);
/* Takes one token from b, refilled at per_minute with a burst of as many.
 * Returns false when it is empty. */
bool net_bucket_take(struct net_bucket *b, uint64_t per_minute, uint64_t now_ms);

/* net_conn.c: the table of inbound connections. net_conns_open() starts
 * the ROUTER's monitor (before it binds) and the sweep timer. */
int net_conns_open(struct net *n);
void net_conns_close(struct net *n);
/* A message from key (of kind) came in on fd with routing_id. Returns
 * false when it must be dropped: a guest over its budget (its connection
 * is closed), or what a connection we closed had queued. */
bool net_conn_message(struct net *n, int fd, const void *routing_id, size_t routing_id_len,
                      enum net_kind kind, const uint8_t key[PROTO_KEY_LEN]);
/* Closes the connection from came on, and drops whatever else it sent. */
void net_conn_refuse(struct net *n, const struct net_from *from);

/* zap.c: the loop handler of n->zap. */
void net_zap_in(struct loop *l, void *arg, short revents);

/* net.c */
/* Bans p for duration_ms and drops its connections; quiet: no log line.
 * addr (may be NULL) names an address entry in the log. */
void net_ban_entry(struct net *n, struct net_peer *p, uint64_t duration_ms, bool quiet,
                   const char *addr);

#endif
