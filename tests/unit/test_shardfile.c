/* Shard files on a real directory (under the test's working directory)
 * with a real loop and the real worker: pieces in order, the hash checked,
 * the final name only after the callback, nothing left of a refused or
 * aborted shard, hostile names refused, leftovers removed at open, and a
 * full disk told at creation (in a child with a 2 MiB tmpfs of its own,
 * skipped where neither root nor user namespaces allow one). */
#define _GNU_SOURCE /* nftw(); unshare(), CLONE_NEWNS in tmpfs.h */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>

#include "agent/backup/shardfile.h"
#include "agent/core/loop.h"
#include "proto/error.h"
#include "tap.h"
#include "tmpfs.h"

#define PIECE (256 * 1024)
#define WAIT_MS 10000
#define SKIP 77

static char root[] = "shardfile-test-XXXXXX";
static const char *data_dir = root; /* the data directory in use */
static struct loop *loop_;
static pthread_t main_thread;
static const uint8_t owner_a[PROTO_KEY_LEN] = {0xa1, 0x02};
static const uint8_t owner_b[PROTO_KEY_LEN] = {0xb2, 0x03};

/* A callback's record: how often it ran, with what, on which thread, and
 * whether the final file was there when it ran. */
struct done {
	int calls;
	int err;
	bool on_main;
	bool file_there;
	const uint8_t *owner;
	const char *name;
};

static struct shardfile_dir *dir_;

static void fill(uint8_t *p, size_t n, uint64_t seed)
{
	uint64_t x = seed * 0x9e3779b97f4a7c15ULL + 1;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (uint8_t)x;
	}
}

static void hash(uint8_t out[SHARDFILE_HASH_LEN], const uint8_t *p, size_t n)
{
	crypto_generichash(out, SHARDFILE_HASH_LEN, p, n, NULL, 0);
}

static void path_of(char *out, size_t n, const uint8_t owner[PROTO_KEY_LEN], const char *leaf)
{
	char hex[PROTO_KEY_LEN * 2 + 1];
	sodium_bin2hex(hex, sizeof(hex), owner, PROTO_KEY_LEN);
	snprintf(out, n, "%s/shards/%s/%s", data_dir, hex, leaf);
}

static bool exists(const uint8_t owner[PROTO_KEY_LEN], const char *name)
{
	char p[512];
	struct stat st;
	path_of(p, sizeof(p), owner, name);
	return lstat(p, &st) == 0;
}

/* Temporaries in owner's directory. */
static int tmps(const uint8_t owner[PROTO_KEY_LEN])
{
	char p[512];
	DIR *d;
	struct dirent *e;
	int n = 0;

	path_of(p, sizeof(p), owner, "");
	if (!(d = opendir(p)))
		return 0;
	while ((e = readdir(d)) != NULL)
		n += strncmp(e->d_name, ".tmp-", 5) == 0;
	closedir(d);
	return n;
}

static void on_done(void *arg, int err)
{
	struct done *r = arg;
	r->calls++;
	r->err = err;
	r->on_main = pthread_equal(pthread_self(), main_thread);
	r->file_there = r->owner && exists(r->owner, r->name);
}

/* Turns the loop until *flag is non-zero or WAIT_MS passed. */
static void run_until(const int *flag)
{
	uint64_t end = loop_clock_ms() + WAIT_MS;
	while (!*flag && loop_clock_ms() < end)
		loop_once(loop_, 50);
}

static void run_idle(void)
{
	uint64_t end = loop_clock_ms() + WAIT_MS;
	while (shardfile_dir_pending(dir_) > 0 && loop_clock_ms() < end)
		loop_once(loop_, 50);
}

/* Writes data in PIECE pieces; 0 or the first error. */
static int write_all(struct shardfile_writer *w, const uint8_t *data, size_t n)
{
	for (size_t off = 0; off < n; off += PIECE) {
		size_t len = n - off < PIECE ? n - off : PIECE;
		int rc = shardfile_write(w, off, data + off, len);
		if (rc)
			return rc;
	}
	return 0;
}

/* Creates, writes and commits a whole shard, and waits for the callback. */
static int put(const uint8_t owner[PROTO_KEY_LEN], const char *name, const uint8_t *data, size_t n)
{
	struct shardfile_writer *w = NULL;
	struct done r = {.owner = owner, .name = name};
	uint8_t h[SHARDFILE_HASH_LEN];
	int rc = shardfile_create(dir_, owner, name, n, &w);

	hash(h, data, n);
	if (rc == 0 && (rc = write_all(w, data, n)) != 0)
		shardfile_abort(w);
	if (rc == 0 && (rc = shardfile_commit(w, h, on_done, &r)) == 0) {
		run_until(&r.calls);
		rc = r.calls == 1 ? r.err : -ETIMEDOUT;
	}
	return rc;
}

static void test_names(void)
{
	static const char *bad[] = {"../x", "a/b",  ".x", "",       "A",
	                            "a b",  "a..b", "..", "x/../y", "é"};
	char longest[SHARDFILE_NAME_MAX + 2];
	struct shardfile_writer *w = (void *)1;
	uint64_t size;
	size_t got;
	uint8_t buf[4];
	bool all = true;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		all &= !proto_hold_name_ok(bad[i], strlen(bad[i]));
	ok(all, "names with '/', \"..\", a leading '.', upper case, others: refused");
	ok(!proto_hold_name_ok("ab\0c", 4), "a NUL inside a name: refused");
	ok(!proto_hold_name_ok(NULL, 0), "no name: refused");
	memset(longest, 'a', sizeof(longest));
	longest[SHARDFILE_NAME_MAX] = 0;
	ok(proto_hold_name_ok(longest, SHARDFILE_NAME_MAX), "128 characters: fine");
	longest[SHARDFILE_NAME_MAX] = 'a';
	longest[SHARDFILE_NAME_MAX + 1] = 0;
	ok(!proto_hold_name_ok(longest, SHARDFILE_NAME_MAX + 1), "129: refused");
	ok(proto_hold_name_ok("pack-0f.s1_k4.m2", 16), "[0-9a-z._-]: fine");

	is(shardfile_create(dir_, owner_a, "../escape", 10, &w), KITH_EVALUE,
	   "create \"../escape\"");
	ok(w == NULL, "and *out is NULL");
	is(shardfile_create(dir_, owner_a, longest, 10, &w), KITH_EVALUE, "create 129 characters");
	is(shardfile_create(dir_, owner_a, "", 10, &w), KITH_EVALUE, "create \"\"");
	is(shardfile_read(dir_, owner_a, "a/b", 0, buf, sizeof(buf), &got), KITH_EVALUE,
	   "read \"a/b\"");
	is(shardfile_size(dir_, owner_a, ".x", &size), KITH_EVALUE, "size \".x\"");
	is(shardfile_remove(dir_, owner_a, "..", NULL, NULL), KITH_EVALUE, "remove \"..\"");
	is(tmps(owner_a), 0, "no temporary made by any of them");
	is(shardfile_create(dir_, owner_a, "big", SHARDFILE_SIZE_MAX + 1, &w), KITH_ETOOBIG,
	   "create over SHARDFILE_SIZE_MAX");
}

struct listing {
	int count;
	uint64_t size;
	bool owner_seen;
};

static int list_one(void *arg, const char *name, uint64_t size)
{
	struct listing *l = arg;
	l->count++;
	if (strcmp(name, "pack-1.s0") == 0)
		l->size = size;
	return 0;
}

static int owner_one(void *arg, const uint8_t owner[PROTO_KEY_LEN])
{
	struct listing *l = arg;
	l->owner_seen |= memcmp(owner, owner_a, PROTO_KEY_LEN) == 0;
	return 0;
}

/* Reads the whole shard back in SHARDFILE_READ_MAX reads. */
static bool reads_back(const uint8_t owner[PROTO_KEY_LEN], const char *name, const uint8_t *want,
                       size_t n)
{
	uint8_t *buf = malloc(SHARDFILE_READ_MAX);
	size_t off = 0, got = 1;
	bool same = buf != NULL;

	while (same && got > 0) {
		same = shardfile_read(dir_, owner, name, off, buf, SHARDFILE_READ_MAX, &got) == 0 &&
		       off + got <= n && memcmp(buf, want + off, got) == 0;
		off += got;
	}
	free(buf);
	return same && off == n;
}

static void test_round_trip(void)
{
	/* over SHARDFILE_FLUSH_BYTES, with a short last piece */
	size_t n = (9u << 20) + 12345;
	uint8_t *data = malloc(n), h[SHARDFILE_HASH_LEN], small[8];
	struct shardfile_writer *w = NULL;
	struct done r = {.owner = owner_a, .name = "pack-1.s0"};
	struct listing li = {0};
	uint64_t size = 0;
	size_t got = 1;

	fill(data, n, 1);
	hash(h, data, n);
	is(shardfile_create(dir_, owner_a, "pack-1.s0", n, &w), 0, "create a 9 MiB shard");
	is(tmps(owner_a), 1, "a temporary in the owner's directory");
	is(write_all(w, data, n), 0, "write it in 256 KiB pieces");
	is(shardfile_written(w), n, "every byte counted");
	run_idle();
	ok(shardfile_unflushed(w) < n, "the worker wrote back part of it meanwhile");
	ok(!exists(owner_a, "pack-1.s0"), "no final name before the commit");
	is(shardfile_commit(w, h, on_done, &r), 0, "commit with the right hash");
	is(r.calls, 0, "the callback does not run inside the commit");
	run_until(&r.calls);
	is(r.calls, 1, "it runs once, from the loop");
	is(r.err, 0, "with 0");
	ok(r.on_main, "on the loop's thread");
	ok(r.file_there, "the final file exists when it runs");
	is(tmps(owner_a), 0, "the temporary is gone");
	ok(reads_back(owner_a, "pack-1.s0", data, n), "read back byte-identical");
	is(shardfile_size(dir_, owner_a, "pack-1.s0", &size), 0, "size");
	is(size, n, "is the shard's");
	is(shardfile_read(dir_, owner_a, "pack-1.s0", n, small, sizeof(small), &got), 0,
	   "read at the end");
	is(got, 0, "gives nothing");
	is(shardfile_read(dir_, owner_a, "pack-1.s0", 0, data, SHARDFILE_READ_MAX + 1, &got),
	   KITH_ETOOBIG, "a read over SHARDFILE_READ_MAX is refused");
	is(shardfile_read(dir_, owner_b, "pack-1.s0", 0, small, sizeof(small), &got), -ENOENT,
	   "another owner's directory has no such shard");
	is(shardfile_each(dir_, owner_a, list_one, &li), 0, "list the owner's shards");
	is(li.count, 1, "one shard");
	is(li.size, n, "with its size");
	is(shardfile_owners(dir_, owner_one, &li), 0, "list owners");
	ok(li.owner_seen, "the owner is among them");
	is(shardfile_create(dir_, owner_a, "pack-1.s0", 5, &w), -EEXIST,
	   "a committed name cannot be created again");
	free(data);
}

static void test_refused(void)
{
	uint8_t data[3 * 1000], h[SHARDFILE_HASH_LEN];
	struct shardfile_writer *w = NULL;
	struct done r = {0};

	fill(data, sizeof(data), 2);
	hash(h, data, sizeof(data));
	is(shardfile_create(dir_, owner_a, "bad-hash", sizeof(data), &w), 0, "create");
	is(shardfile_write(w, 0, data, sizeof(data)), 0, "write everything");
	h[0] ^= 1;
	is(shardfile_commit(w, h, on_done, &r), KITH_ECHECKSUM, "a wrong hash: refused");
	run_idle();
	is(r.calls, 0, "no callback for a refused commit");
	ok(!exists(owner_a, "bad-hash"), "no final file");
	is(tmps(owner_a), 0, "and the temporary is gone");

	h[0] ^= 1;
	is(shardfile_create(dir_, owner_a, "short", sizeof(data), &w), 0, "create another");
	is(shardfile_write(w, 0, data, 1000), 0, "write a third");
	is(shardfile_commit(w, h, on_done, &r), KITH_ETRUNC, "commit: bytes missing");
	run_idle();
	ok(!exists(owner_a, "short") && tmps(owner_a) == 0, "nothing kept");

	is(shardfile_create(dir_, owner_a, "pieces", sizeof(data), &w), 0, "create a third");
	is(shardfile_write(w, 1000, data + 1000, 1000), KITH_EVALUE, "a piece ahead: refused");
	is(shardfile_write(w, 0, data, 1000), 0, "the first piece");
	is(shardfile_write(w, 0, data, 1000), KITH_EVALUE, "the first piece again: refused");
	is(shardfile_write(w, 1000, data + 1000, 2001), KITH_ETOOBIG, "past the size: refused");
	is(shardfile_written(w), 1000, "refusals change nothing");
	is(shardfile_write(w, 1000, data + 1000, 2000), 0, "the rest");
	is(shardfile_commit(w, h, on_done, &r), 0, "commit");
	run_until(&r.calls);
	is(r.err, 0, "the shard refused pieces did not spoil is committed");
	ok(reads_back(owner_a, "pieces", data, sizeof(data)), "and reads back");

	is(shardfile_create(dir_, owner_a, "abort", SHARDFILE_PIECE_MAX + 1, &w), 0, "create");
	is(shardfile_write(w, 0, data, SHARDFILE_PIECE_MAX + 1), KITH_ETOOBIG,
	   "a piece over SHARDFILE_PIECE_MAX: refused");
	shardfile_abort(w);
	run_idle();
	ok(!exists(owner_a, "abort") && tmps(owner_a) == 0, "abort leaves nothing");
}

static void test_twice_and_remove(void)
{
	uint8_t one[5000], two[5000], h1[SHARDFILE_HASH_LEN], h2[SHARDFILE_HASH_LEN];
	struct shardfile_writer *w1 = NULL, *w2 = NULL;
	struct done r1 = {0}, r2 = {0}, rm = {0};
	uint8_t empty_hash[SHARDFILE_HASH_LEN];
	uint64_t size = 1;

	fill(one, sizeof(one), 3);
	fill(two, sizeof(two), 4);
	hash(h1, one, sizeof(one));
	hash(h2, two, sizeof(two));
	is(shardfile_create(dir_, owner_b, "same", sizeof(one), &w1), 0, "a writer of \"same\"");
	is(shardfile_create(dir_, owner_b, "same", sizeof(two), &w2), 0, "and another");
	is(shardfile_write(w1, 0, one, sizeof(one)) | shardfile_write(w2, 0, two, sizeof(two)), 0,
	   "both written");
	is(shardfile_commit(w1, h1, on_done, &r1), 0, "commit the first");
	is(shardfile_commit(w2, h2, on_done, &r2), 0, "and the second");
	run_until(&r2.calls);
	is(r1.err, 0, "the first is committed");
	is(r2.err, -EEXIST, "the second finds the name taken: -EEXIST");
	ok(reads_back(owner_b, "same", one, sizeof(one)), "the first one's bytes are kept");
	is(tmps(owner_b), 0, "no temporary left");

	is(shardfile_remove(dir_, owner_b, "same", on_done, &rm), 0, "remove it");
	run_until(&rm.calls);
	is(rm.err, 0, "removed");
	ok(!exists(owner_b, "same"), "the file is gone");
	rm.calls = 0;
	is(shardfile_remove(dir_, owner_b, "same", on_done, &rm), 0, "remove it again");
	run_until(&rm.calls);
	is(rm.err, -ENOENT, "-ENOENT");

	hash(empty_hash, NULL, 0);
	is(put(owner_b, "empty", NULL, 0), 0, "an empty shard commits");
	is(shardfile_size(dir_, owner_b, "empty", &size), 0, "its size");
	is(size, 0, "is 0");
}

/* Writes a file by hand (a leftover of a killed run). */
static void plant(const uint8_t owner[PROTO_KEY_LEN], const char *leaf)
{
	char p[512];
	int fd;
	path_of(p, sizeof(p), owner, leaf);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd >= 0) {
		(void)!write(fd, "partial", 7);
		close(fd);
	}
}

static void test_leftovers(void)
{
	uint8_t data[1000];
	struct shardfile_writer *w = NULL;
	struct done r = {0};
	uint8_t h[SHARDFILE_HASH_LEN];
	unsigned removed = 99;

	fill(data, sizeof(data), 5);
	hash(h, data, sizeof(data));
	is(put(owner_a, "kept", data, sizeof(data)), 0, "a committed shard");
	plant(owner_a, ".tmp-0123456789abcdef");
	plant(owner_a, ".tmp-x");
	plant(owner_b, ".tmp-fedcba9876543210");
	is(shardfile_create(dir_, owner_b, "open-at-close", sizeof(data), &w), 0,
	   "a writer left open");
	is(shardfile_write(w, 0, data, 10), 0, "half written");
	is(shardfile_create(dir_, owner_a, "queued", sizeof(data), &w), 0, "and one committed");
	is(shardfile_write(w, 0, data, sizeof(data)), 0, "whole");
	is(shardfile_commit(w, h, on_done, &r), 0, "just before the close");
	shardfile_dir_close(&dir_);
	ok(dir_ == NULL, "close clears the pointer");
	is(r.calls, 1, "the close ran the queued commit's callback");
	is(r.err, 0, "the commit finished");
	ok(exists(owner_a, "queued"), "its file is there");
	is(tmps(owner_b), 1, "the open writer's temporary is gone, the planted one is not");
	is(shardfile_dir_open(&dir_, loop_, root, &removed), 0, "reopen");
	is(removed, 3, "the three leftovers are counted");
	ok(tmps(owner_a) == 0 && tmps(owner_b) == 0, "and removed");
	ok(reads_back(owner_a, "kept", data, sizeof(data)), "committed shards are untouched");
}

/* ---- a full disk, in a child with a tmpfs of its own ---- */

/* In the child: 0 passed, 1 failed, SKIP. Prints its own diagnostics. */
static int full_disk_child(void)
{
	char mnt[512];
	struct shardfile_writer *w = NULL;
	uint8_t *data = malloc(1 << 20), h[SHARDFILE_HASH_LEN];
	struct done r = {0};
	int rc;

	snprintf(mnt, sizeof(mnt), "%s/tiny", root);
	if (!data || mkdir(mnt, 0700) != 0)
		return 1;
	if (tmpfs_private_ns() != 0 ||
	    mount("tmpfs", mnt, "tmpfs", MS_NOSUID | MS_NODEV, "size=2m,mode=0700") != 0) {
		printf("# no tmpfs of our own here (%s)\n", strerror(errno));
		return SKIP;
	}
	data_dir = mnt;
	if (shardfile_dir_open(&dir_, loop_, mnt, NULL) != 0)
		return 1;
	rc = shardfile_create(dir_, owner_a, "too-big", 4 << 20, &w);
	if (rc != KITH_EDISKFULL || tmps(owner_a) != 0) {
		printf("# create of 4 MiB on 2 MiB: %s, %d temporaries\n", proto_strerror(rc),
		       tmps(owner_a));
		return 1;
	}
	fill(data, 1 << 20, 6);
	hash(h, data, 1 << 20);
	rc = shardfile_create(dir_, owner_a, "fits", 1 << 20, &w);
	if (rc == 0 && (rc = write_all(w, data, 1 << 20)) == 0 &&
	    (rc = shardfile_commit(w, h, on_done, &r)) == 0) {
		run_until(&r.calls);
		rc = r.calls == 1 ? r.err : -ETIMEDOUT;
	}
	shardfile_dir_close(&dir_);
	if (rc != 0)
		printf("# then 1 MiB: %s\n", proto_strerror(rc));
	return rc == 0 ? 0 : 1;
}

/* A separate process: unshare() wants one thread, and the mount must not
 * outlive the check. */
static void test_full_disk(void)
{
	int status = 0;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid == 0)
		_exit(full_disk_child());
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) {
		ok(0, "the full-disk child ran");
		return;
	}
	if (WEXITSTATUS(status) == SKIP) {
		ok(1, "full disk # SKIP no tmpfs of our own");
		return;
	}
	is(WEXITSTATUS(status), 0,
	   "full disk: KITH_EDISKFULL at create, no temporary left, then a shard that fits");
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

int main(void)
{
	unsigned removed = 99;

	main_thread = pthread_self();
	if (!mkdtemp(root) || loop_new(&loop_) != 0) {
		printf("Bail out! no temporary directory or loop\n");
		return 1;
	}
	/* before the worker starts: the child must be single-threaded */
	test_full_disk();
	is(shardfile_dir_open(&dir_, loop_, root, &removed), 0, "open in a fresh data directory");
	is(removed, 0, "nothing to remove");
	test_names();
	test_round_trip();
	test_refused();
	test_twice_and_remove();
	test_leftovers();
	shardfile_dir_close(&dir_);
	shardfile_dir_close(&dir_);
	ok(1, "close twice is harmless");
	loop_free(&loop_);
	nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return tap_done();
}
