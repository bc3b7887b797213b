#include <string.h>

#include <sodium.h>

#include "proto/error.h"
#include "keys.h"

/* Subkey ids: fixed forever, a backup written today is read in ten years. */
enum {
	KEY_CHUNK_ID = 1,
	KEY_CHUNK = 2,
	KEY_CHUNKER = 3,
	KEY_INDEX = 4,
	KEY_ROOT = 5,
	KEY_NAME = 6,
};

static const char kdf_context[crypto_kdf_CONTEXTBYTES] = {'k', 'i', 't', 'h', 'b', 'k', 'u', 'p'};

int backup_keys_derive(struct backup_keys *out, const struct proto_identity *id)
{
	static const char domain[] = "kith backup master";
	uint8_t master[crypto_kdf_KEYBYTES];

	if (!id || !id->sk)
		return KITH_EVALUE;
	/* The seed is the secret half of sk: hashing it keyed by a domain of
	 * its own keeps the master apart from the signing key. */
	crypto_generichash(master, sizeof(master), id->sk, crypto_sign_SEEDBYTES,
	                   (const uint8_t *)domain, sizeof(domain) - 1);
	crypto_kdf_derive_from_key(out->chunk_id, BACKUP_KEY_LEN, KEY_CHUNK_ID, kdf_context,
	                           master);
	crypto_kdf_derive_from_key(out->chunk, BACKUP_KEY_LEN, KEY_CHUNK, kdf_context, master);
	crypto_kdf_derive_from_key(out->chunker, BACKUP_KEY_LEN, KEY_CHUNKER, kdf_context, master);
	crypto_kdf_derive_from_key(out->index, BACKUP_KEY_LEN, KEY_INDEX, kdf_context, master);
	crypto_kdf_derive_from_key(out->root, BACKUP_KEY_LEN, KEY_ROOT, kdf_context, master);
	crypto_kdf_derive_from_key(out->name, BACKUP_KEY_LEN, KEY_NAME, kdf_context, master);
	sodium_memzero(master, sizeof(master));
	return 0;
}

void backup_keys_wipe(struct backup_keys *k)
{
	sodium_memzero(k, sizeof(*k));
}
