/* Write failures injected under LMDB, without privileges: a full
 * filesystem or quota (ENOSPC, EDQUOT) is KITH_EDISKFULL, while an I/O
 * error, a write cut short with room left on the disk, or a failed sync
 * stay -EIO; each failed write leaves nothing behind, and the store works
 * once the fault is gone.
 *
 * This executable defines pwrite(), writev() and fdatasync(): liblmdb's
 * calls reach these first (the executable comes first in symbol lookup),
 * which pass them on to the C library unless a fault is armed. */
#define _GNU_SOURCE /* RTLD_NEXT */
#include <dlfcn.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "proto/error.h"
#include "proto/identity.h"
#include "proto/record.h"
#include "store/store.h"
#include "tap.h"
#include "rm_tree.h"

enum fault {
	FAULT_NONE,
	FAULT_ERRNO, /* the write fails with fault_errno */
	FAULT_SHORT, /* the write stops half way */
	FAULT_SYNC,  /* fdatasync() fails with fault_errno */
};

static enum fault fault;
static int fault_errno;
static unsigned faults_hit;

static char dir[] = "/tmp/kith-test-store-fault-XXXXXX";
static struct proto_identity *alice;
static uint64_t now;

/* The C library's function name, found once. */
static void *real(const char *name)
{
	void *fn = dlsym(RTLD_NEXT, name);

	if (!fn) {
		fprintf(stderr, "no %s after ours\n", name);
		abort();
	}
	return fn;
}

ssize_t pwrite(int fd, const void *buf, size_t count, off_t offset)
{
	static ssize_t (*next)(int, const void *, size_t, off_t);

	if (!next)
		next = (ssize_t(*)(int, const void *, size_t, off_t))real("pwrite");
	if (fault == FAULT_ERRNO) {
		faults_hit++;
		errno = fault_errno;
		return -1;
	}
	if (fault == FAULT_SHORT && count > 1) {
		faults_hit++;
		count /= 2;
	}
	return next(fd, buf, count, offset);
}

ssize_t writev(int fd, const struct iovec *iov, int iovcnt)
{
	static ssize_t (*next)(int, const struct iovec *, int);

	if (!next)
		next = (ssize_t(*)(int, const struct iovec *, int))real("writev");
	if (fault == FAULT_ERRNO) {
		faults_hit++;
		errno = fault_errno;
		return -1;
	}
	if (fault == FAULT_SHORT && iovcnt > 1) {
		faults_hit++;
		iovcnt /= 2;
	}
	return next(fd, iov, iovcnt);
}

int fdatasync(int fd)
{
	static int (*next)(int);

	if (!next)
		next = (int (*)(int))real("fdatasync");
	if (fault == FAULT_SYNC) {
		faults_hit++;
		errno = fault_errno;
		return -1;
	}
	return next(fd);
}

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

static const uint8_t owner[PROTO_KEY_LEN] = {0x0f};

static int put_shard(struct store *s, unsigned i)
{
	static uint8_t data[5000];
	char name[32];

	snprintf(name, sizeof(name), "shard-%u", i);
	return store_shard_put(s, owner, name, data, sizeof(data), UINT64_MAX, UINT64_MAX, NULL);
}

/* Whether the store holds exactly records 1..last and n shards. */
static bool holds(struct store *s, uint64_t last, unsigned n)
{
	uint64_t count = 0, records = 0, bytes = 0, head = 0, sbytes = 0, scount = 0;

	return store_record_count(s, &count) == 0 && count == last &&
	       store_author_usage(s, alice->pk, &records, &bytes) == 0 && records == last &&
	       store_head_get(s, alice->pk, &head) == 0 && head == last &&
	       store_shard_usage(s, owner, &sbytes, &scount) == 0 && scount == n;
}

struct fault_case {
	const char *what;
	enum fault fault;
	int err;
	int want;
};

static void run_case(struct store *s, const struct fault_case *c, uint64_t *seq, unsigned *shards)
{
	char what[128];

	fault = c->fault;
	fault_errno = c->err;
	faults_hit = 0;
	snprintf(what, sizeof(what), "%s: a record put says %s", c->what, proto_strerror(c->want));
	is(put_record(s, *seq + 1), c->want, what);
	snprintf(what, sizeof(what), "%s: a shard put too", c->what);
	is(put_shard(s, *shards), c->want, what);
	ok(faults_hit > 0, "the fault was hit");
	fault = FAULT_NONE;
	snprintf(what, sizeof(what), "%s: nothing half-written", c->what);
	ok(holds(s, *seq, *shards), what);
	snprintf(what, sizeof(what), "%s: then the store works again", c->what);
	ok(put_record(s, *seq + 1) == 0 && put_shard(s, *shards) == 0, what);
	(*seq)++;
	(*shards)++;
}

int main(void)
{
	static const struct fault_case cases[] = {
	    {"ENOSPC", FAULT_ERRNO, ENOSPC, KITH_EDISKFULL},
	    {"EDQUOT", FAULT_ERRNO, EDQUOT, KITH_EDISKFULL},
	    {"EIO", FAULT_ERRNO, EIO, -EIO},
	    {"a short write with room on the disk", FAULT_SHORT, 0, -EIO},
	    {"a failed sync", FAULT_SYNC, EIO, -EIO},
	    {"a sync out of space", FAULT_SYNC, ENOSPC, KITH_EDISKFULL},
	};
	struct store *s = NULL;
	uint64_t seq = 0;
	unsigned shards = 0;

	now = (uint64_t)time(NULL);
	if (!mkdtemp(dir) || proto_identity_generate(&alice) != 0) {
		perror("setup");
		return 1;
	}
	is(store_open(&s, dir, NULL), 0, "open");
	ok(put_record(s, ++seq) == 0 && put_shard(s, shards++) == 0, "a record and a shard");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(s, &cases[i], &seq, &shards);
	store_close(&s);
	is(store_open(&s, dir, NULL), 0, "reopen");
	ok(holds(s, seq, shards), "everything acknowledged is there");
	store_close(&s);
	proto_identity_free(&alice);
	rm_tree(dir);
	return tap_done();
}
