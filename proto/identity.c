#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "error.h"
#include "identity.h"

_Static_assert(PROTO_SEAL_OVERHEAD == crypto_box_SEALBYTES, "sealed box overhead");

/* Allocates an identity with its secret buffers in guarded memory. */
static struct proto_identity *identity_alloc(void)
{
	struct proto_identity *id;

	if (sodium_init() < 0)
		return NULL;
	id = calloc(1, sizeof(*id));
	if (!id)
		return NULL;
	id->sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
	id->curve_sk = sodium_malloc(crypto_scalarmult_curve25519_BYTES);
	if (!id->sk || !id->curve_sk) {
		proto_identity_free(&id);
		return NULL;
	}
	return id;
}

/* Fills the CURVE pair from the Ed25519 pair already in id. */
static int identity_derive_curve(struct proto_identity *id)
{
	if (crypto_sign_ed25519_pk_to_curve25519(id->curve_pk, id->pk) != 0)
		return KITH_EKEYBAD;
	if (crypto_sign_ed25519_sk_to_curve25519(id->curve_sk, id->sk) != 0)
		return KITH_EKEYBAD;
	return 0;
}

int proto_identity_generate(struct proto_identity **out)
{
	struct proto_identity *id = identity_alloc();
	int err;

	if (!id)
		return -ENOMEM;
	crypto_sign_keypair(id->pk, id->sk);
	err = identity_derive_curve(id);
	if (err) {
		proto_identity_free(&id);
		return err;
	}
	*out = id;
	return 0;
}

int proto_identity_from_seed(struct proto_identity **out, const uint8_t seed[PROTO_SEED_LEN])
{
	struct proto_identity *id = identity_alloc();
	int err;

	if (!id)
		return -ENOMEM;
	crypto_sign_seed_keypair(id->pk, id->sk, seed);
	err = identity_derive_curve(id);
	if (err) {
		proto_identity_free(&id);
		return err;
	}
	*out = id;
	return 0;
}

void proto_identity_seed(const struct proto_identity *id, uint8_t seed[PROTO_SEED_LEN])
{
	crypto_sign_ed25519_sk_to_seed(seed, id->sk);
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int proto_identity_save(const struct proto_identity *id, const char *path)
{
	int fd, err;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	err = write_all(fd, id->sk, PROTO_IDENTITY_FILE_LEN);
	if (!err && fsync(fd) != 0)
		err = -errno;
	if (close(fd) != 0 && !err)
		err = -errno;
	if (err)
		unlink(path);
	return err;
}

/* Reads exactly PROTO_IDENTITY_FILE_LEN bytes from fd into sk; one more byte
 * available means the file is too long. */
static int read_key(int fd, uint8_t *sk)
{
	size_t got = 0;
	uint8_t extra;

	while (got < PROTO_IDENTITY_FILE_LEN) {
		ssize_t n = read(fd, sk + got, PROTO_IDENTITY_FILE_LEN - got);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return KITH_EKEYSIZE;
		got += (size_t)n;
	}
	for (;;) {
		ssize_t n = read(fd, &extra, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		return n == 0 ? 0 : KITH_EKEYSIZE;
	}
}

/* The file holds seed || public key. Re-deriving the pair from the seed
 * catches a flipped bit in either half. */
static int check_key(const uint8_t *sk)
{
	uint8_t pk[PROTO_KEY_LEN];
	uint8_t *again = sodium_malloc(crypto_sign_SECRETKEYBYTES);
	int same;

	if (!again)
		return -ENOMEM;
	crypto_sign_seed_keypair(pk, again, sk);
	same = sodium_memcmp(again, sk, crypto_sign_SECRETKEYBYTES) == 0;
	sodium_free(again);
	return same ? 0 : KITH_EKEYBAD;
}

int proto_identity_load(struct proto_identity **out, const char *path)
{
	struct proto_identity *id = NULL;
	struct stat st;
	int fd, err;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) != 0) {
		err = -errno;
		goto cleanup;
	}
	if (!S_ISREG(st.st_mode)) {
		err = KITH_EKEYSIZE;
		goto cleanup;
	}
	/* A key others can read is a key others may have: refuse, as ssh does. */
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		err = KITH_EKEYMODE;
		goto cleanup;
	}
	if (st.st_size != PROTO_IDENTITY_FILE_LEN) {
		err = KITH_EKEYSIZE;
		goto cleanup;
	}
	id = identity_alloc();
	if (!id) {
		err = -ENOMEM;
		goto cleanup;
	}
	err = read_key(fd, id->sk);
	if (err)
		goto cleanup;
	err = check_key(id->sk);
	if (err)
		goto cleanup;
	memcpy(id->pk, id->sk + crypto_sign_SEEDBYTES, PROTO_KEY_LEN);
	err = identity_derive_curve(id);
	if (err)
		goto cleanup;
	*out = id;
	id = NULL;
cleanup:
	proto_identity_free(&id);
	close(fd);
	return err;
}

void proto_identity_free(struct proto_identity **id)
{
	if (!id || !*id)
		return;
	sodium_free((*id)->sk); /* wipes before freeing; NULL is fine */
	sodium_free((*id)->curve_sk);
	free(*id);
	*id = NULL;
}

/* Ed25519 has no streaming form that keeps the plain signature scheme, so
 * the prefix and the message are joined in one buffer; records are small. */
static uint8_t *join(const void *domain, size_t domain_len, const uint8_t *msg, size_t len,
                     uint8_t *stack, size_t stack_len)
{
	uint8_t *buf = stack;

	if (domain_len + len > stack_len) {
		buf = malloc(domain_len + len);
		if (!buf)
			return NULL;
	}
	memcpy(buf, domain, domain_len);
	if (len)
		memcpy(buf + domain_len, msg, len);
	return buf;
}

#define JOIN_STACK 2048

int proto_identity_sign(const struct proto_identity *id, uint8_t sig[PROTO_SIG_LEN],
                        const void *domain, size_t domain_len, const uint8_t *msg, size_t len)
{
	uint8_t stack[JOIN_STACK];
	uint8_t *buf = join(domain, domain_len, msg, len, stack, sizeof(stack));

	if (!buf)
		return -ENOMEM;
	crypto_sign_detached(sig, NULL, buf, domain_len + len, id->sk);
	if (buf != stack)
		free(buf);
	return 0;
}

int proto_sig_verify(const uint8_t pk[PROTO_KEY_LEN], const uint8_t sig[PROTO_SIG_LEN],
                     const void *domain, size_t domain_len, const uint8_t *msg, size_t len)
{
	static bool sodium_ready;
	uint8_t stack[JOIN_STACK];
	uint8_t *buf = join(domain, domain_len, msg, len, stack, sizeof(stack));
	int rc;

	if (!buf)
		return -ENOMEM;
	if (!sodium_ready && sodium_init() < 0) {
		if (buf != stack)
			free(buf);
		return -ENOMEM;
	}
	sodium_ready = true;
	rc = crypto_sign_verify_detached(sig, buf, domain_len + len, pk);
	if (buf != stack)
		free(buf);
	return rc == 0 ? 0 : KITH_EBADSIG;
}

int proto_curve_pk(uint8_t curve_pk[PROTO_KEY_LEN], const uint8_t pk[PROTO_KEY_LEN])
{
	return crypto_sign_ed25519_pk_to_curve25519(curve_pk, pk) == 0 ? 0 : KITH_EVALUE;
}

int proto_seal(uint8_t *out, const uint8_t *plain, size_t len, const uint8_t reader[PROTO_KEY_LEN])
{
	uint8_t curve[PROTO_KEY_LEN];

	if (crypto_sign_ed25519_pk_to_curve25519(curve, reader) != 0 ||
	    crypto_box_seal(out, plain, len, curve) != 0)
		return KITH_EVALUE;
	return 0;
}

int proto_unseal(uint8_t *out, const uint8_t *box, size_t len, const struct proto_identity *id)
{
	if (len < crypto_box_SEALBYTES ||
	    crypto_box_seal_open(out, box, len, id->curve_pk, id->curve_sk) != 0)
		return KITH_EBADSIG;
	return 0;
}
