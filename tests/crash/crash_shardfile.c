/* kill -9 at a random moment leaves no partial shard file under a final
 * name and loses no shard whose commit was acknowledged.
 *
 * Each round forks a writer that loops over shards of two owners: create,
 * write in pieces of 64-256 KiB (turning its loop between pieces), then
 * mostly commit (several in flight at once), sometimes abort, and now and
 * then remove a shard it committed. It reports on a pipe each commit and
 * each removal whose callback ran with 0, and each removal it asks for. A shard's size and bytes
 * follow from its name, so any file can be checked. The parent kills the writer with SIGKILL after
 * a random 2-150 ms, reopens the directory and checks: no temporary survives the open; every file
 * under a final name has exactly its name's size and bytes; every acknowledged shard is there
 * unless its removal was asked; no acknowledged removal came back. KITH_CRASH_SEED=N replays a run.
 */
#define _XOPEN_SOURCE 700 /* nftw() */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "agent/backup/shardfile.h"
#include "agent/core/loop.h"
#include "proto/error.h"
#include "../unit/tap.h"
#include "crash.h"

#define ROUNDS 30
#define TIME_BUDGET_NS (30LL * 1000 * 1000 * 1000)
#define SIZE_MAX_ (3u << 20) /* per shard: from one piece to a dozen */
#define IN_FLIGHT 6
#define NAMES_MAX 20000
#define KEEP_MAX 256 /* committed shards the writer remembers, to remove */

enum { ACK_COMMIT = 1, REMOVE_ASKED = 2, ACK_REMOVE = 3 };

struct report {
	uint32_t round, counter;
	uint32_t kind;
};

/* What the parent knows of one shard: acknowledged committed, asked to
 * be removed (it may be gone, or not), acknowledged removed. */
struct known {
	uint32_t round, counter;
	bool committed, asked, removed;
};

static char dir[] = "/tmp/kith-crash-shardfile-XXXXXX";
static struct known known[NAMES_MAX];
static size_t known_n;
static uint64_t files_checked, leftovers_removed;

/* ---- what a name means ---- */

static const uint8_t *owner_of(uint32_t counter)
{
	static const uint8_t owners[2][PROTO_KEY_LEN] = {{0x01, 0xaa}, {0x02, 0xbb}};
	return owners[counter % 2];
}

/* Sizes: some empty, some on a piece boundary, most anywhere. */
static uint64_t size_of(uint32_t round, uint32_t counter)
{
	uint64_t x = ((uint64_t)round << 32 | counter) * 0x9e3779b97f4a7c15ULL;
	x ^= x >> 29;
	if (x % 17 == 0)
		return 0;
	if (x % 5 == 0)
		return (x % 12 + 1) * (256 << 10);
	return x % SIZE_MAX_;
}

static void name_of(char out[64], uint32_t round, uint32_t counter)
{
	snprintf(out, 64, "r%u-%u-%llu", (unsigned)round, (unsigned)counter,
	         (unsigned long long)size_of(round, counter));
}

/* Parses a name back; false when it is none of ours. */
static bool parse(const char *name, uint32_t *round, uint32_t *counter, uint64_t *size)
{
	unsigned r, c;
	unsigned long long s;
	char again[64];

	if (sscanf(name, "r%u-%u-%llu", &r, &c, &s) != 3)
		return false;
	*round = r;
	*counter = c;
	*size = s;
	name_of(again, r, c);
	return strcmp(again, name) == 0;
}

/* The shard's bytes from off: a keystream of its name. */
static void content(uint8_t *out, size_t len, const char *name, uint64_t off)
{
	uint8_t key[crypto_stream_chacha20_KEYBYTES];
	static const uint8_t nonce[crypto_stream_chacha20_NONCEBYTES];

	crypto_generichash(key, sizeof(key), (const uint8_t *)name, strlen(name), NULL, 0);
	crypto_stream_chacha20_xor_ic(out, out, len, nonce, off / 64, key);
}

static void content_fill(uint8_t *out, size_t len, const char *name, uint64_t off)
{
	/* off is a multiple of 64 wherever it is called */
	memset(out, 0, len);
	content(out, len, name, off);
}

/* ---- the writer ---- */

struct writer_ctx {
	int fd;
	uint32_t round;
	uint32_t keep[KEEP_MAX]; /* committed counters not yet removed */
	size_t keep_n;
};

struct pending {
	struct writer_ctx *ctx;
	uint32_t counter;
	uint32_t kind;
};

static void report(int fd, uint32_t round, uint32_t counter, uint32_t kind)
{
	struct report r = {.round = round, .counter = counter, .kind = kind};
	/* under PIPE_BUF: atomic */
	if (write(fd, &r, sizeof(r)) != (ssize_t)sizeof(r))
		_exit(3);
}

static void on_done(void *arg, int err)
{
	struct pending *p = arg;
	struct writer_ctx *c = p->ctx;

	if (err != 0) {
		fprintf(stderr, "writer: %s of %u: %s\n",
		        p->kind == ACK_COMMIT ? "commit" : "remove", (unsigned)p->counter,
		        proto_strerror(err));
		_exit(5);
	}
	report(c->fd, c->round, p->counter, p->kind);
	if (p->kind == ACK_COMMIT && c->keep_n < KEEP_MAX)
		c->keep[c->keep_n++] = p->counter;
	free(p);
}

static struct pending *pending_new(struct writer_ctx *c, uint32_t counter, uint32_t kind)
{
	struct pending *p = malloc(sizeof(*p));
	if (!p)
		_exit(6);
	*p = (struct pending){.ctx = c, .counter = counter, .kind = kind};
	return p;
}

static void write_one(struct loop *l, struct shardfile_dir *d, struct writer_ctx *c,
                      uint32_t counter, uint8_t *buf)
{
	char name[64];
	uint64_t size = size_of(c->round, counter), off = 0;
	uint8_t h[SHARDFILE_HASH_LEN];
	crypto_generichash_state st;
	struct shardfile_writer *w = NULL;
	bool abort_it = crash_rng() % 7 == 0;

	name_of(name, c->round, counter);
	crypto_generichash_init(&st, NULL, 0, sizeof(h));
	if (shardfile_create(d, owner_of(counter), name, size, &w) != 0)
		_exit(7);
	while (off < size) {
		size_t len = (size_t)(64 << 10) * (1 + crash_rng() % 4);
		if (len > size - off)
			len = (size_t)(size - off);
		content_fill(buf, len, name, off);
		crypto_generichash_update(&st, buf, len);
		if (shardfile_write(w, off, buf, len) != 0)
			_exit(8);
		off += len;
		loop_once(l, 0);
		if (abort_it && off > size / 2)
			break;
	}
	crypto_generichash_final(&st, h, sizeof(h));
	if (abort_it)
		shardfile_abort(w);
	else if (shardfile_commit(w, h, on_done, pending_new(c, counter, ACK_COMMIT)) != 0)
		_exit(9);
}

static void remove_one(struct shardfile_dir *d, struct writer_ctx *c)
{
	size_t i = (size_t)(crash_rng() % c->keep_n);
	uint32_t counter = c->keep[i];
	char name[64];

	c->keep[i] = c->keep[--c->keep_n];
	name_of(name, c->round, counter);
	report(c->fd, c->round, counter, REMOVE_ASKED);
	if (shardfile_remove(d, owner_of(counter), name, on_done,
	                     pending_new(c, counter, ACK_REMOVE)) != 0)
		_exit(10);
}

static void writer(int fd, uint32_t round, uint64_t seed)
{
	static uint8_t buf[256 << 10];
	struct writer_ctx c = {.fd = fd, .round = round};
	struct shardfile_dir *d = NULL;
	struct loop *l = NULL;

	crash_rng_seed(seed);
	if (loop_new(&l) != 0 || shardfile_dir_open(&d, l, dir, NULL) != 0)
		_exit(2);
	for (uint32_t counter = 0;; counter++) {
		write_one(l, d, &c, counter, buf);
		if (counter % 5 == 4 && c.keep_n > 0)
			remove_one(d, &c);
		loop_once(l, 0);
		for (int i = 0; i < 1000 && shardfile_dir_pending(d) > IN_FLIGHT; i++)
			loop_once(l, 100);
	}
}

/* ---- the checks ---- */

static struct known *find(uint32_t round, uint32_t counter, bool add)
{
	for (size_t i = 0; i < known_n; i++)
		if (known[i].round == round && known[i].counter == counter)
			return &known[i];
	if (!add || known_n == NAMES_MAX)
		return NULL;
	known[known_n] = (struct known){.round = round, .counter = counter};
	return &known[known_n++];
}

static void read_reports(int fd)
{
	struct report r;

	while (read(fd, &r, sizeof(r)) == (ssize_t)sizeof(r)) {
		struct known *k = find(r.round, r.counter, true);
		if (!k)
			continue;
		if (r.kind == ACK_COMMIT)
			k->committed = true;
		else if (r.kind == REMOVE_ASKED)
			k->asked = true;
		else if (r.kind == ACK_REMOVE)
			k->removed = true;
	}
}

struct check {
	struct shardfile_dir *d;
	const uint8_t *owner;
	int bad;
	uint8_t *got, *want;
};

/* Every byte of the file is its name's. */
static int check_file(void *arg, const char *name, uint64_t size)
{
	struct check *c = arg;
	uint32_t round, counter;
	uint64_t want_size, off = 0;
	size_t got = 1;

	if (!parse(name, &round, &counter, &want_size) || size != want_size ||
	    memcmp(owner_of(counter), c->owner, PROTO_KEY_LEN) != 0) {
		printf("# %s: not a name of ours, or %llu bytes\n", name, (unsigned long long)size);
		c->bad++;
		return 0;
	}
	while (off < size && got > 0) {
		if (shardfile_read(c->d, c->owner, name, off, c->got, SHARDFILE_READ_MAX, &got) !=
		    0)
			break;
		content_fill(c->want, got, name, off);
		if (memcmp(c->got, c->want, got) != 0)
			break;
		off += got;
	}
	if (off != size) {
		printf("# %s: wrong bytes from about %llu\n", name, (unsigned long long)off);
		c->bad++;
	}
	files_checked++;
	return 0;
}

static int count_tmps(const char *owner_dir)
{
	DIR *d = opendir(owner_dir);
	struct dirent *e;
	int n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)) != NULL)
		n += strncmp(e->d_name, ".tmp-", 5) == 0;
	closedir(d);
	return n;
}

/* Whether the acknowledged shards are there and the removed ones not. */
static int check_known(struct shardfile_dir *d)
{
	int bad = 0;

	for (size_t i = 0; i < known_n; i++) {
		char name[64];
		uint64_t size;
		int rc;

		if (!known[i].committed || (known[i].asked && !known[i].removed))
			continue; /* a removal the kill cut off: either way is right */
		name_of(name, known[i].round, known[i].counter);
		rc = shardfile_size(d, owner_of(known[i].counter), name, &size);
		if (known[i].removed ? rc != -ENOENT : rc != 0) {
			printf("# %s: acknowledged %s, but size says %s\n", name,
			       known[i].removed ? "removed" : "committed", proto_strerror(rc));
			bad++;
		}
	}
	return bad;
}

static bool check_dir(struct loop *l)
{
	struct shardfile_dir *d = NULL;
	struct check c = {0};
	unsigned removed = 0;
	int tmps = 0;

	if (shardfile_dir_open(&d, l, dir, &removed) != 0)
		return false;
	leftovers_removed += removed;
	c.d = d;
	c.got = malloc(SHARDFILE_READ_MAX);
	c.want = malloc(SHARDFILE_READ_MAX);
	for (uint32_t i = 0; i < 2 && c.got && c.want; i++) {
		char hex[PROTO_KEY_LEN * 2 + 1], path[256];
		c.owner = owner_of(i);
		sodium_bin2hex(hex, sizeof(hex), c.owner, PROTO_KEY_LEN);
		snprintf(path, sizeof(path), "%s/shards/%s", dir, hex);
		tmps += count_tmps(path);
		if (shardfile_each(d, c.owner, check_file, &c) != 0)
			c.bad++;
	}
	if (tmps)
		printf("# %d temporaries survived the open\n", tmps);
	c.bad += check_known(d) + (c.got && c.want ? 0 : 1);
	free(c.got);
	free(c.want);
	shardfile_dir_close(&d);
	return c.bad == 0 && tmps == 0;
}

/* ---- rounds ---- */

static bool round_(struct loop *l, uint32_t round, uint64_t seed)
{
	int p[2], status;
	pid_t pid;

	if (pipe(p) != 0)
		return false;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		writer(p[1], round, seed);
	}
	close(p[1]);
	if (pid < 0)
		return false;
	nanosleep(&(struct timespec){.tv_nsec = (long)(2000000 + crash_rng() % 148000000)}, NULL);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	read_reports(p[0]);
	close(p[0]);
	if (!WIFSIGNALED(status)) {
		printf("# the writer exited by itself (status %d)\n",
		       WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		return false;
	}
	return check_dir(l);
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
	const char *env = getenv("KITH_CRASH_SEED");
	uint64_t seed = env ? strtoull(env, NULL, 10) : (uint64_t)time(NULL) ^ (uint64_t)getpid();
	int64_t start = crash_clock_ns();
	struct loop *l = NULL;
	uint32_t round = 0;
	size_t acked = 0, removed = 0;
	bool all = true;

	printf("# KITH_CRASH_SEED=%llu\n", (unsigned long long)seed);
	crash_rng_seed(seed ? seed : 1);
	if (sodium_init() < 0 || !mkdtemp(dir) || loop_new(&l) != 0) {
		printf("Bail out! setup\n");
		return 1;
	}
	for (; round < ROUNDS && crash_clock_ns() - start < TIME_BUDGET_NS; round++)
		all &= round_(l, round, crash_rng());
	for (size_t i = 0; i < known_n; i++) {
		acked += known[i].committed;
		removed += known[i].removed;
	}
	printf("# %u kills, %llu files checked byte by byte, %zu commits and %zu removals "
	       "acknowledged, %llu leftovers removed by the opens\n",
	       (unsigned)round, (unsigned long long)files_checked, acked, removed,
	       (unsigned long long)leftovers_removed);
	ok(round >= 10, "at least 10 kills in the time budget");
	ok(acked > 0, "the writer got commits acknowledged");
	ok(leftovers_removed > 0, "kills left temporaries, which the opens removed");
	ok(all, "after every kill: no temporary, every final file whole, every ack kept");
	loop_free(&l);
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return tap_done();
}
