/* bench_shardfile: a holder receiving one shard (agent/backup/shardfile.c)
 * in pieces, as the agent's loop would: create, write piece after piece
 * (turning the loop between pieces, so flushes complete), commit, and turn
 * the loop until the commit's callback says the shard is durable. Against
 * plain write() of the same pieces then fsync(), in the same run, to the
 * same directory.
 *
 *   bench_shardfile [-m MIB] [-p KIB] [-r REPS] [-b] [-d DIR]
 *
 * MIB per shard (default 256) in pieces of KIB (default 256); REPS passes
 * of each (default 3), figures as medians. -b keeps the disk busy with a
 * second process writing and fsyncing 64 MiB at a time meanwhile (what
 * makes fsync take seconds). DIR (default: a new directory under the
 * current one) must be on the disk to measure.
 *
 * Figures: MB/s (10^6 bytes a second, from the first create to the
 * callback; for plain, from open to the end of fsync); "held": the longest
 * time one shardfile call (create, write, commit) or one turn of the loop
 * (which runs shardfile's completions) kept the loop, the figure that
 * matters for SWIM's 500 ms probes; the 99th percentile of write calls;
 * "durable": from commit to its callback. Each shard is read back and
 * compared once before it is removed. */
#define _XOPEN_SOURCE 700 /* nftw() */
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
#include "bench.h"

#define REPS_MAX 15
#define POOL (16u << 20) /* random bytes the pieces are cut from */
#define BUSY_CHUNK (64u << 20)

static const uint8_t owner[PROTO_KEY_LEN] = {0xbe, 0x7c};

struct opts {
	size_t total, piece;
	int reps;
	bool busy;
	const char *dir;
};

struct figures {
	double mbs, held_ms, write_p99_ms, durable_ms;
	const char *held_by;
};

/* The middle figure of v[0..n); for an even n, the upper of the two. */
static double median(double *v, int n)
{
	bench_sort(v, (size_t)n);
	return v[n / 2];
}

/* Piece i: a slice of the pool, different for neighbouring pieces. */
static const uint8_t *piece_at(const uint8_t *pool, size_t i, size_t piece)
{
	size_t slots = (POOL - piece) / 4096;
	return pool + (i * 7919 % slots) * 4096;
}

static void expected_hash(uint8_t h[SHARDFILE_HASH_LEN], const uint8_t *pool, const struct opts *o)
{
	crypto_generichash_state st;
	crypto_generichash_init(&st, NULL, 0, SHARDFILE_HASH_LEN);
	for (size_t i = 0, off = 0; off < o->total; i++, off += o->piece)
		crypto_generichash_update(&st, piece_at(pool, i, o->piece), o->piece);
	crypto_generichash_final(&st, h, SHARDFILE_HASH_LEN);
}

/* ---- the shardfile pass ---- */

struct held {
	double max;
	const char *by;
};

static void note(struct held *h, double t0, const char *what)
{
	double dt = bench_clock_s() - t0;
	if (dt > h->max) {
		h->max = dt;
		h->by = what;
	}
}

struct done {
	int calls, err;
	double at;
};

static void on_done(void *arg, int err)
{
	struct done *d = arg;
	d->calls++;
	d->err = err;
	d->at = bench_clock_s();
}

/* One turn of the loop that does not wait in poll, timed: what dispatching
 * shardfile's completions holds the loop for. sleep: then sleeps 1 ms,
 * while waiting for the commit. */
static void turn(struct loop *l, struct held *h, bool sleep)
{
	double t0 = bench_clock_s();
	loop_once(l, 0);
	note(h, t0, "a turn of the loop");
	if (sleep)
		nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
}

static bool read_back(struct shardfile_dir *d, const char *name, const uint8_t *pool,
                      const struct opts *o)
{
	uint8_t *buf = malloc(o->piece);
	size_t got = 0;
	bool same = buf != NULL;

	for (size_t i = 0, off = 0; same && off < o->total; i++, off += o->piece)
		same = shardfile_read(d, owner, name, off, buf, o->piece, &got) == 0 &&
		       got == o->piece && memcmp(buf, piece_at(pool, i, o->piece), got) == 0;
	free(buf);
	return same;
}

static bool shardfile_pass(struct loop *l, struct shardfile_dir *d, const uint8_t *pool,
                           const uint8_t h[SHARDFILE_HASH_LEN], const struct opts *o,
                           struct figures *f)
{
	static double lat[1 << 16];
	struct shardfile_writer *w = NULL;
	struct held held = {0, "-"};
	struct done done = {0};
	size_t n = 0;
	double start = bench_clock_s(), t0, commit_at;
	int rc;

	t0 = bench_clock_s();
	rc = shardfile_create(d, owner, "bench", o->total, &w);
	note(&held, t0, "create");
	for (size_t i = 0, off = 0; rc == 0 && off < o->total; i++, off += o->piece) {
		t0 = bench_clock_s();
		rc = shardfile_write(w, off, piece_at(pool, i, o->piece), o->piece);
		note(&held, t0, "write");
		if (n < sizeof(lat) / sizeof(lat[0]))
			lat[n++] = bench_clock_s() - t0;
		turn(l, &held, false);
	}
	t0 = commit_at = bench_clock_s();
	if (rc == 0)
		rc = shardfile_commit(w, h, on_done, &done);
	note(&held, t0, "commit");
	while (rc == 0 && done.calls == 0 && bench_clock_s() - commit_at < 600)
		turn(l, &held, true);
	if (rc != 0 || done.calls != 1 || done.err != 0) {
		fprintf(stderr, "shardfile: %s\n", proto_strerror(rc ? rc : done.err));
		return false;
	}
	f->mbs = (double)o->total / (done.at - start) / 1e6;
	f->held_ms = held.max * 1e3;
	f->held_by = held.by;
	f->durable_ms = (done.at - commit_at) * 1e3;
	bench_sort(lat, n);
	f->write_p99_ms = lat[n * 99 / 100] * 1e3;
	return read_back(d, "bench", pool, o);
}

static bool remove_shard(struct loop *l, struct shardfile_dir *d)
{
	struct done done = {0};
	struct held held = {0, "-"};

	if (shardfile_remove(d, owner, "bench", on_done, &done) != 0)
		return false;
	for (int i = 0; i < 600000 && !done.calls; i++)
		turn(l, &held, true);
	return done.calls == 1 && done.err == 0;
}

/* ---- plain write() + fsync() ---- */

static bool plain_pass(const char *dir, const uint8_t *pool, const struct opts *o,
                       struct figures *f)
{
	char path[4096];
	double start = bench_clock_s(), max = 0;
	int fd;
	bool good = true;

	snprintf(path, sizeof(path), "%s/plain", dir);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
		return false;
	for (size_t i = 0, off = 0; good && off < o->total; i++, off += o->piece) {
		double t0 = bench_clock_s();
		good = write(fd, piece_at(pool, i, o->piece), o->piece) == (ssize_t)o->piece;
		if (bench_clock_s() - t0 > max)
			max = bench_clock_s() - t0;
	}
	good = good && fsync(fd) == 0;
	f->mbs = (double)o->total / (bench_clock_s() - start) / 1e6;
	f->held_ms = max * 1e3;
	close(fd);
	unlink(path);
	return good;
}

/* ---- a busy disk ---- */

static pid_t busy_start(const char *dir)
{
	pid_t pid = fork();
	if (pid == 0) {
		char path[4096];
		uint8_t *buf = calloc(1, BUSY_CHUNK);
		snprintf(path, sizeof(path), "%s/busy", dir);
		for (;;) {
			int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
			if (fd < 0 || !buf || write(fd, buf, BUSY_CHUNK) < 0 || fsync(fd) != 0)
				_exit(1);
			close(fd);
		}
	}
	return pid;
}

static void busy_stop(pid_t pid, const char *dir)
{
	char path[4096];
	if (pid <= 0)
		return;
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	snprintf(path, sizeof(path), "%s/busy", dir);
	unlink(path);
}

/* ---- main ---- */

static bool parse(int argc, char **argv, struct opts *o)
{
	int c;
	while ((c = getopt(argc, argv, "m:p:r:bd:")) != -1) {
		switch (c) {
		case 'm':
			o->total = (size_t)strtoul(optarg, NULL, 10) << 20;
			break;
		case 'p':
			o->piece = (size_t)strtoul(optarg, NULL, 10) << 10;
			break;
		case 'r':
			o->reps = atoi(optarg);
			break;
		case 'b':
			o->busy = true;
			break;
		case 'd':
			o->dir = optarg;
			break;
		default:
			return false;
		}
	}
	return o->total > 0 && o->piece > 0 && o->piece <= SHARDFILE_PIECE_MAX &&
	       o->piece < POOL / 2 && o->total % o->piece == 0 && o->total <= SHARDFILE_SIZE_MAX &&
	       o->reps >= 1 && o->reps <= REPS_MAX;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void report(const struct figures *s, const struct figures *p, int reps)
{
	double v[REPS_MAX];
	for (int i = 0; i < reps; i++)
		v[i] = s[i].mbs;
	printf("shardfile: %8.1f MB/s", median(v, reps));
	for (int i = 0; i < reps; i++)
		v[i] = s[i].held_ms;
	printf("   loop held at most %.2f ms", median(v, reps));
	for (int i = 0; i < reps; i++)
		v[i] = s[i].write_p99_ms;
	printf(" (write p99 %.3f ms)", median(v, reps));
	for (int i = 0; i < reps; i++)
		v[i] = s[i].durable_ms;
	printf("   commit to durable %.0f ms\n", median(v, reps));
	for (int i = 0; i < reps; i++)
		v[i] = p[i].mbs;
	printf("plain:     %8.1f MB/s", median(v, reps));
	for (int i = 0; i < reps; i++)
		v[i] = p[i].held_ms;
	printf("   longest write() %.2f ms, then fsync() in the same thread\n", median(v, reps));
	for (int i = 0; i < reps; i++)
		printf("  pass %d: shardfile %.1f MB/s, held %.2f ms by %s, durable %.0f ms; "
		       "plain %.1f MB/s\n",
		       i + 1, s[i].mbs, s[i].held_ms, s[i].held_by, s[i].durable_ms, p[i].mbs);
}

int main(int argc, char **argv)
{
	struct opts o = {.total = 256u << 20, .piece = 256u << 10, .reps = 3};
	struct figures s[REPS_MAX] = {{0}}, p[REPS_MAX] = {{0}};
	char tmpl[] = "bench-shardfile-XXXXXX";
	uint8_t *pool = malloc(POOL), h[SHARDFILE_HASH_LEN];
	struct shardfile_dir *d = NULL;
	struct loop *l = NULL;
	const char *dir;
	pid_t busy = 0;
	bool good = true;

	if (!parse(argc, argv, &o) || !pool || sodium_init() < 0) {
		fprintf(stderr,
		        "usage: bench_shardfile [-m MIB] [-p KIB<=1024] [-r 1..%d] [-b] "
		        "[-d DIR]\n",
		        REPS_MAX);
		return 2;
	}
	if (!(dir = o.dir ? o.dir : mkdtemp(tmpl)) || loop_new(&l) != 0 ||
	    shardfile_dir_open(&d, l, dir, NULL) != 0) {
		fprintf(stderr, "bench_shardfile: cannot set up in %s\n", dir ? dir : ".");
		return 1;
	}
	randombytes_buf(pool, POOL);
	expected_hash(h, pool, &o);
	printf("%zu MiB in %zu KiB pieces, %d passes%s\n", o.total >> 20, o.piece >> 10, o.reps,
	       o.busy ? ", disk kept busy by another process" : "");
	if (o.busy)
		busy = busy_start(dir);
	for (int i = 0; good && i < o.reps; i++) {
		good = shardfile_pass(l, d, pool, h, &o, &s[i]) && remove_shard(l, d) &&
		       plain_pass(dir, pool, &o, &p[i]);
	}
	busy_stop(busy, dir);
	shardfile_dir_close(&d);
	loop_free(&l);
	if (good)
		report(s, p, o.reps);
	else
		fprintf(stderr, "bench_shardfile: a pass failed\n");
	if (!o.dir)
		nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(pool);
	return good ? 0 : 1;
}
