/* What LMDB needs from the process, changed for kith_sim only, so that
 * one process holds thousands of stores: lean environments when
 * descriptors run short, and thread-specific keys without glibc's limit.
 * Both are link-time substitutions (test_store_fault.c defines pwrite()
 * under LMDB the same way); the store's code is not touched. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include <lmdb.h>

#include "sim.h"

bool sim_lmdb_lean;

/* Lean environments. Each LMDB environment holds 3 descriptors (the data
 * file, its O_DSYNC twin for meta pages, the lock file), so 10,000 stores
 * need 30,000 against a hard limit of 20,000 here. kith_sim is linked
 * with -Wl,--wrap=mdb_env_open: when sim_lmdb_lean is set, store_open()'s
 * environments get MDB_WRITEMAP (meta pages written through the map: no
 * twin) and MDB_NOLOCK (no lock file): one descriptor each. MDB_NOLOCK is
 * safe here because the process has one thread and store_write() refuses
 * to write while a read is open on the same store (-EBUSY), and a reset
 * read transaction holds no snapshot, so no reader ever overlaps a
 * writer. What changes is durability, moot on tmpfs; the store's code
 * and every transaction are the same. */
int __real_mdb_env_open(MDB_env *env, const char *path, unsigned int flags, mdb_mode_t mode);
int __wrap_mdb_env_open(MDB_env *env, const char *path, unsigned int flags, mdb_mode_t mode);

int __wrap_mdb_env_open(MDB_env *env, const char *path, unsigned int flags, mdb_mode_t mode)
{
	if (sim_lmdb_lean && !(flags & MDB_RDONLY))
		flags |= MDB_WRITEMAP | MDB_NOLOCK;
	return __real_mdb_env_open(env, path, flags, mode);
}

/* ---- thread-specific keys ----
 *
 * LMDB takes one pthread key per environment for its reader slot (unless
 * the store opens it with MDB_NOTLS), and glibc allows PTHREAD_KEYS_MAX =
 * 1024 keys per process: the 1025th store_open() fails with EAGAIN.
 * kith_sim runs one thread, where a thread-specific value is simply one
 * value per key, so it defines the four key functions itself, without a
 * limit; as the executable defines them, liblmdb's calls resolve here.
 * Destructors would run at thread exit, which never comes to the main
 * thread. */

struct tls_key {
	bool used;
	const void *value;
};

static struct tls_key *keys;
static size_t n_keys, cap_keys;

int pthread_key_create(pthread_key_t *key, void (*destructor)(void *))
{
	(void)destructor;
	for (size_t i = 0; i < n_keys; i++) {
		if (!keys[i].used) {
			keys[i] = (struct tls_key){.used = true};
			*key = (pthread_key_t)i;
			return 0;
		}
	}
	if (n_keys == cap_keys) {
		size_t cap = cap_keys ? 2 * cap_keys : 1024;
		struct tls_key *grown = realloc(keys, cap * sizeof(*grown));
		if (!grown)
			return EAGAIN;
		keys = grown;
		cap_keys = cap;
	}
	keys[n_keys] = (struct tls_key){.used = true};
	*key = (pthread_key_t)n_keys++;
	return 0;
}

int pthread_key_delete(pthread_key_t key)
{
	if (key >= n_keys || !keys[key].used)
		return EINVAL;
	keys[key].used = false;
	keys[key].value = NULL;
	return 0;
}

void *pthread_getspecific(pthread_key_t key)
{
	return key < n_keys && keys[key].used ? (void *)keys[key].value : NULL;
}

int pthread_setspecific(pthread_key_t key, const void *value)
{
	if (key >= n_keys || !keys[key].used)
		return EINVAL;
	keys[key].value = value;
	return 0;
}
