/* The keys of an owner's backups, all derived from its identity, so that
 * the recovery kit (the identity's secret) is enough to read every backup
 * after the loss of everything else.
 *
 * master = BLAKE2b-256 keyed by "kith backup master" over the Ed25519
 * seed (the first 32 bytes of the secret key); each key below is
 * crypto_kdf_derive_from_key(master, id, "kithbkup") with its own id. A
 * key is never used for two purposes, and none is the identity's own key. */
#ifndef KITH_BACKUP_KEYS_H
#define KITH_BACKUP_KEYS_H

#include <stdint.h>

#include "proto/identity.h"

#define BACKUP_KEY_LEN 32

struct backup_keys {
	uint8_t chunk_id[BACKUP_KEY_LEN]; /* keyed BLAKE2b of a chunk's plaintext: its ID */
	uint8_t chunk[BACKUP_KEY_LEN];    /* XChaCha20-Poly1305 of chunks */
	uint8_t chunker[BACKUP_KEY_LEN];  /* the chunker's gear table */
	uint8_t index[BACKUP_KEY_LEN];    /* XChaCha20-Poly1305 of pack tables (pack.h) */
	uint8_t root[BACKUP_KEY_LEN];     /* XChaCha20-Poly1305 of snapshot roots (snapshot.h) */
	uint8_t name[BACKUP_KEY_LEN];     /* keyed BLAKE2b of a backup's name in record names */
};

/* Derives every key of id's backups into *out, which should live in
 * sodium_malloc() memory (or be wiped with backup_keys_wipe()). Returns
 * 0, or KITH_EVALUE when id has no secret key. */
int backup_keys_derive(struct backup_keys *out, const struct proto_identity *id);
void backup_keys_wipe(struct backup_keys *k);

#endif
