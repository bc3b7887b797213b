/* A full filesystem is "disk full" (KITH_EDISKFULL), not "Input/output
 * error", for records and shards alike; nothing half-written stays, and
 * the store works again once there is room.
 *
 * The disk is a 2 MiB tmpfs mounted in a mount namespace of our own, so
 * the mount vanishes with the process whatever happens: as root, or as
 * anyone where unprivileged user namespaces are allowed. Where neither
 * works the test exits 77, which ctest reports as skipped. */
#define _GNU_SOURCE /* unshare(), CLONE_NEWNS in tmpfs.h */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "proto/error.h"
#include "proto/identity.h"
#include "proto/record.h"
#include "store/store.h"
#include "tap.h"
#include "tmpfs.h"

#define SKIP 77
#define PATH_LEN 512
#define FILLER_LEN (256 * 1024)

static char dir[] = "/tmp/kith-test-store-disk-XXXXXX";
static char filler[PATH_LEN];
static struct proto_identity *alice;
static uint64_t now;

/* Takes FILLER_LEN bytes of the disk, to give back later. */
static int filler_make(void)
{
	static char block[4096];
	int fd = open(filler, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int rc = fd < 0 ? -1 : 0;

	memset(block, 'f', sizeof(block));
	for (size_t off = 0; off < FILLER_LEN && rc == 0; off += sizeof(block))
		rc = write(fd, block, sizeof(block)) == (ssize_t)sizeof(block) ? 0 : -1;
	if (fd >= 0 && close(fd) != 0)
		rc = -1;
	return rc;
}

/* Puts one record named big-<seq> with a 6000-byte body. */
static int put_record(struct store *s, uint64_t seq)
{
	static uint8_t body[6000];
	struct proto_record in = {.kind = PROTO_KIND_BACKUP, .seq = seq, .issued = now};
	struct mp_buf b = {0};
	int rc;

	in.expires = now + 600;
	in.body = body;
	in.body_len = sizeof(body);
	snprintf(in.name, sizeof(in.name), "big-%llu", (unsigned long long)seq);
	rc = proto_record_sign(&b, alice, &in);
	if (rc == 0)
		rc = store_record_put(s, b.data, b.len, now, NULL);
	mp_buf_free(&b);
	return rc;
}

static int put_shard(struct store *s, unsigned i)
{
	static const uint8_t owner[PROTO_KEY_LEN] = {0x0d};
	static uint8_t data[5000];
	char name[32];

	snprintf(name, sizeof(name), "shard-%u", i);
	return store_shard_put(s, owner, name, data, sizeof(data), UINT64_MAX, UINT64_MAX, NULL);
}

/* Whether the store holds exactly records 1..last and shards 0..shards-1,
 * with usage to match. */
static bool holds(struct store *s, uint64_t last, unsigned shards)
{
	static const uint8_t owner[PROTO_KEY_LEN] = {0x0d};
	uint64_t count = 0, records = 0, bytes = 0, head = 0, sbytes = 0, scount = 0;

	return store_record_count(s, &count) == 0 && count == last &&
	       store_author_usage(s, alice->pk, &records, &bytes) == 0 && records == last &&
	       store_head_get(s, alice->pk, &head) == 0 && head == last &&
	       store_shard_usage(s, owner, &sbytes, &scount) == 0 && scount == shards;
}

static void test_full(void)
{
	struct store_options opt = {.map_size = 1 << 20, .map_max = 64 << 20};
	struct store *s = NULL;
	uint64_t seq = 0;
	unsigned shards = 0;
	int rc = 0;

	is(filler_make(), 0, "take 256 KiB of the disk for later");
	is(store_open(&s, dir, &opt), 0, "open a store on a 2 MiB tmpfs");
	while (rc == 0 && seq < 1000) {
		rc = put_record(s, seq + 1);
		seq += rc == 0;
	}
	ok(seq > 50, "records until the disk is full");
	is(rc, KITH_EDISKFULL, "then a record put: KITH_EDISKFULL");
	ok(strcmp(proto_strerror(rc), "disk full") == 0, "which reads \"disk full\"");
	printf("# %llu records stored; LMDB said: %s\n", (unsigned long long)seq,
	       store_lmdb_error(s) ? store_lmdb_error(s) : "(nothing)");
	do {
		rc = put_shard(s, shards);
		shards += rc == 0;
	} while (rc == 0 && shards < 1000);
	is(rc, KITH_EDISKFULL, "a shard put: KITH_EDISKFULL too");
	ok(holds(s, seq, shards), "nothing half-written: records, usage and head agree");
	is(unlink(filler), 0, "make room");
	is(put_record(s, seq + 1), 0, "a record goes in again");
	seq++;
	is(put_shard(s, shards), 0, "and a shard");
	shards++;
	store_close(&s);
	is(store_open(&s, dir, &opt), 0, "reopen");
	ok(holds(s, seq, shards), "everything acknowledged is there");
	store_close(&s);
}

int main(void)
{
	now = (uint64_t)time(NULL);
	if (tmpfs_private_ns() != 0) {
		printf("1..0 # SKIP no mount namespace of our own here (%s)\n", strerror(errno));
		return SKIP;
	}
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(filler, sizeof(filler), "%s/filler", dir);
	if (mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV, "size=2m,mode=0700") != 0) {
		printf("1..0 # SKIP cannot mount a tmpfs here (%s)\n", strerror(errno));
		rmdir(dir);
		return SKIP;
	}
	if (proto_identity_generate(&alice) != 0) {
		printf("# cannot make an identity\n");
		umount2(dir, MNT_DETACH);
		rmdir(dir);
		return 1;
	}
	test_full();
	proto_identity_free(&alice);
	umount2(dir, MNT_DETACH);
	rmdir(dir);
	return tap_done();
}
