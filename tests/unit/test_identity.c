/* Identity files: created 0600, never overwritten, and every way a file can
 * be wrong gives its own error. Signatures carry their domain. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "proto/error.h"
#include "proto/identity.h"
#include "tap.h"

static char dir[] = "/tmp/kith-test-identity-XXXXXX";

static void path_of(char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s/%s", dir, name);
}

static void write_file(const char *path, const void *data, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	if (fd < 0 || write(fd, data, len) != (ssize_t)len)
		perror(path);
	if (fd >= 0)
		close(fd);
	chmod(path, mode);
}

static void test_save_load(void)
{
	struct proto_identity *id = NULL, *back = NULL;
	char path[256];
	struct stat st;

	path_of(path, sizeof(path), "a.key");
	is(proto_identity_generate(&id), 0, "generate");
	is(proto_identity_save(id, path), 0, "save");
	ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600 && st.st_size == 64,
	   "file is 64 bytes, mode 0600");
	is(proto_identity_save(id, path), -EEXIST, "an existing identity is never overwritten");
	is(proto_identity_load(&back, path), 0, "load");
	ok(back && memcmp(back->pk, id->pk, PROTO_KEY_LEN) == 0, "same public key");
	ok(back && memcmp(back->curve_pk, id->curve_pk, PROTO_KEY_LEN) == 0, "same CURVE key");
	ok(back && memcmp(back->curve_sk, id->curve_sk, PROTO_KEY_LEN) == 0,
	   "same CURVE secret key");
	{
		uint8_t curve[PROTO_KEY_LEN], derived[PROTO_KEY_LEN];
		proto_curve_pk(curve, id->pk);
		crypto_scalarmult_base(derived, id->curve_sk);
		ok(memcmp(curve, id->curve_pk, PROTO_KEY_LEN) == 0 &&
		       memcmp(derived, id->curve_pk, PROTO_KEY_LEN) == 0,
		   "CURVE pair is consistent and derivable from the peer's public key");
	}
	proto_identity_free(&back);
	ok(back == NULL, "free clears the pointer");
	proto_identity_free(&back);
	proto_identity_free(&id);
}

static void test_bad_files(void)
{
	struct proto_identity *id = NULL, *back = NULL;
	uint8_t bytes[65];
	char path[256];

	proto_identity_generate(&id);
	memcpy(bytes, id->sk, 64);

	path_of(path, sizeof(path), "missing.key");
	is(proto_identity_load(&back, path), -ENOENT, "missing file: -ENOENT");

	path_of(path, sizeof(path), "short.key");
	write_file(path, bytes, 63, 0600);
	is(proto_identity_load(&back, path), KITH_EKEYSIZE, "63 bytes: KITH_EKEYSIZE");

	path_of(path, sizeof(path), "long.key");
	bytes[64] = 0;
	write_file(path, bytes, 65, 0600);
	is(proto_identity_load(&back, path), KITH_EKEYSIZE, "65 bytes: KITH_EKEYSIZE");

	path_of(path, sizeof(path), "open.key");
	write_file(path, bytes, 64, 0644);
	is(proto_identity_load(&back, path), KITH_EKEYMODE, "mode 0644: KITH_EKEYMODE");
	chmod(path, 0640);
	is(proto_identity_load(&back, path), KITH_EKEYMODE, "mode 0640: KITH_EKEYMODE");
	chmod(path, 0400);
	is(proto_identity_load(&back, path), 0, "mode 0400 is fine");
	proto_identity_free(&back);

	path_of(path, sizeof(path), "flipped-pk.key");
	bytes[40] ^= 1;
	write_file(path, bytes, 64, 0600);
	is(proto_identity_load(&back, path), KITH_EKEYBAD, "flipped public half: KITH_EKEYBAD");
	bytes[40] ^= 1;

	path_of(path, sizeof(path), "flipped-seed.key");
	bytes[3] ^= 0x80;
	write_file(path, bytes, 64, 0600);
	is(proto_identity_load(&back, path), KITH_EKEYBAD, "flipped seed: KITH_EKEYBAD");

	path_of(path, sizeof(path), "dir.key");
	mkdir(path, 0700);
	ok(proto_identity_load(&back, path) != 0, "a directory is refused");
	ok(back == NULL, "nothing returned on failure");
	proto_identity_free(&id);
}

static void test_signatures(void)
{
	struct proto_identity *id = NULL;
	uint8_t sig[PROTO_SIG_LEN], big[5000];
	const uint8_t msg[] = "hello";

	proto_identity_generate(&id);
	is(proto_identity_sign(id, sig, "dom-a", 6, msg, 5), 0, "sign");
	is(proto_sig_verify(id->pk, sig, "dom-a", 6, msg, 5), 0, "verify");
	is(proto_sig_verify(id->pk, sig, "dom-b", 6, msg, 5), KITH_EBADSIG,
	   "another domain does not verify");
	is(proto_sig_verify(id->pk, sig, "dom-a", 6, msg, 4), KITH_EBADSIG,
	   "a shorter message does not verify");
	sig[10] ^= 4;
	is(proto_sig_verify(id->pk, sig, "dom-a", 6, msg, 5), KITH_EBADSIG,
	   "a flipped signature bit does not verify");

	randombytes_buf(big, sizeof(big));
	is(proto_identity_sign(id, sig, "dom-a", 6, big, sizeof(big)), 0, "sign a large message");
	is(proto_sig_verify(id->pk, sig, "dom-a", 6, big, sizeof(big)), 0,
	   "verify a large message");
	proto_identity_free(&id);
}

int main(void)
{
	if (!mkdtemp(dir))
		return 1;
	test_save_load();
	test_bad_files();
	test_signatures();
	{
		char cmd[300];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			return 1;
	}
	return tap_done();
}
