/* Backup keys: the same identity derives the same keys (a restore from the
 * recovery kit reads old backups), another identity other keys, every key
 * distinct from the others and from the identity's own secret. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "backup/keys.h"
#include "proto/error.h"
#include "tap.h"

static bool all_distinct(const struct backup_keys *k, const struct proto_identity *id)
{
	const uint8_t *keys[] = {k->chunk_id, k->chunk, k->chunker, k->index,
	                         k->root,     k->name,  id->sk,     id->curve_sk};
	const size_t n = sizeof(keys) / sizeof(keys[0]);

	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			if (!memcmp(keys[i], keys[j], BACKUP_KEY_LEN))
				return false;
	return true;
}

int main(void)
{
	struct proto_identity *a = NULL, *b = NULL, *a_again = NULL, bare = {0};
	struct backup_keys ka, kb, ka2;
	const char *path = "test_backup_keys.key";

	remove(path);
	ok(proto_identity_generate(&a) == 0 && proto_identity_generate(&b) == 0, "two identities");
	ok(proto_identity_save(a, path) == 0 && proto_identity_load(&a_again, path) == 0,
	   "one saved and read back, as from a recovery kit");
	is(backup_keys_derive(&ka, a), 0, "keys of the first");
	is(backup_keys_derive(&kb, b), 0, "keys of the second");
	is(backup_keys_derive(&ka2, a_again), 0, "keys of the first, read back");
	ok(!memcmp(&ka, &ka2, sizeof(ka)), "the same identity gives the same keys");
	ok(memcmp(ka.chunk_id, kb.chunk_id, BACKUP_KEY_LEN) &&
	       memcmp(ka.chunk, kb.chunk, BACKUP_KEY_LEN) &&
	       memcmp(ka.chunker, kb.chunker, BACKUP_KEY_LEN) &&
	       memcmp(ka.index, kb.index, BACKUP_KEY_LEN) &&
	       memcmp(ka.root, kb.root, BACKUP_KEY_LEN) && memcmp(ka.name, kb.name, BACKUP_KEY_LEN),
	   "another identity gives other keys");
	ok(all_distinct(&ka, a), "no key serves twice, none is the identity's");
	is(backup_keys_derive(&kb, &bare), KITH_EVALUE, "no secret key: refused");
	backup_keys_wipe(&ka);
	{
		static const struct backup_keys zero;
		ok(!memcmp(&ka, &zero, sizeof(ka)), "wiped");
	}
	proto_identity_free(&a);
	proto_identity_free(&b);
	proto_identity_free(&a_again);
	remove(path);
	return tap_done();
}
