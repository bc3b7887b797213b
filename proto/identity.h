/* An agent's identity: one Ed25519 key pair, and the X25519 (CURVE) pair
 * derived from it for ZeroMQ.
 *
 * On disk the identity is a file of exactly 64 bytes (libsodium's Ed25519
 * secret key: seed then public key), mode 0600. Loading refuses a file that
 * is missing (-ENOENT), of the wrong size (KITH_EKEYSIZE), readable by group
 * or others (KITH_EKEYMODE) or whose public half does not match its seed
 * (KITH_EKEYBAD). Secret keys live in sodium_malloc() memory, wiped and
 * freed by proto_identity_free(). */
#ifndef KITH_PROTO_IDENTITY_H
#define KITH_PROTO_IDENTITY_H

#include <stddef.h>
#include <stdint.h>

#include "limits.h"

#define PROTO_IDENTITY_FILE "identity.key"
#define PROTO_IDENTITY_FILE_LEN 64

struct proto_identity {
	uint8_t pk[PROTO_KEY_LEN];       /* Ed25519 public key: the peer's ID */
	uint8_t curve_pk[PROTO_KEY_LEN]; /* X25519 public key (CURVE server key) */
	uint8_t *sk;                     /* 64 bytes in sodium_malloc() memory, owned */
	uint8_t *curve_sk;               /* 32 bytes in sodium_malloc() memory, owned */
};

/* Creates a new random identity. On success *out is owned by the caller. */
int proto_identity_generate(struct proto_identity **out);
/* The 32-byte seed an identity is made from (libsodium's Ed25519 seed):
 * all of its secret, and what a recovery kit carries. */
#define PROTO_SEED_LEN 32
/* Recreates the identity of seed (borrowed). On success *out is owned by
 * the caller. Returns 0, -ENOMEM or KITH_EKEYBAD. */
int proto_identity_from_seed(struct proto_identity **out, const uint8_t seed[PROTO_SEED_LEN]);
/* Writes id's seed into seed; the caller wipes it (sodium_memzero). */
void proto_identity_seed(const struct proto_identity *id, uint8_t seed[PROTO_SEED_LEN]);
/* Writes id to path (borrowed) with mode 0600, fsynced; never overwrites an
 * existing file (-EEXIST). */
int proto_identity_save(const struct proto_identity *id, const char *path);
/* Reads path (borrowed). On success *out is owned by the caller. */
int proto_identity_load(struct proto_identity **out, const char *path);
/* Wipes and frees *id and sets it to NULL; harmless on NULL. */
void proto_identity_free(struct proto_identity **id);

/* Signs msg with the domain prefix domain (both borrowed): sig = Ed25519
 * over domain || msg. Returns 0 or -ENOMEM. */
int proto_identity_sign(const struct proto_identity *id, uint8_t sig[PROTO_SIG_LEN],
                        const void *domain, size_t domain_len, const uint8_t *msg, size_t len);
/* Checks such a signature by pk. Returns 0, KITH_EBADSIG or -ENOMEM. */
int proto_sig_verify(const uint8_t pk[PROTO_KEY_LEN], const uint8_t sig[PROTO_SIG_LEN],
                     const void *domain, size_t domain_len, const uint8_t *msg, size_t len);

/* Bytes a sealed box adds to what it seals. */
#define PROTO_SEAL_OVERHEAD 48

/* Seals plain[0..len) to the peer whose Ed25519 key is reader (through
 * its CURVE key): only that peer can open it. out holds len +
 * PROTO_SEAL_OVERHEAD bytes. Returns 0 or KITH_EVALUE (not a valid key). */
int proto_seal(uint8_t *out, const uint8_t *plain, size_t len, const uint8_t reader[PROTO_KEY_LEN]);
/* Opens a box sealed to id into out (len - PROTO_SEAL_OVERHEAD bytes).
 * Returns 0 or KITH_EBADSIG (not for us, or damaged). */
int proto_unseal(uint8_t *out, const uint8_t *box, size_t len, const struct proto_identity *id);

/* CURVE public key of a peer, derived from its Ed25519 key. Returns 0 or
 * KITH_EVALUE when pk is not a valid point. */
int proto_curve_pk(uint8_t curve_pk[PROTO_KEY_LEN], const uint8_t pk[PROTO_KEY_LEN]);

#endif
