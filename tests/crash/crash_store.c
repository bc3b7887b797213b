/* kill -9 at a random moment loses nothing that was acknowledged.
 *
 * Each round forks a writer that loops: reserve seqs, sign records, put
 * them (single puts and small batches in turn, often replacing a name it
 * used before), and only then report each seq on a pipe. The parent kills
 * it with SIGKILL after a random 2-60 ms, reopens the store and checks:
 * every reported record is there and verifies, the own counter hands out a
 * seq above every reported one, every stored record verifies, and byseq,
 * records and heads agree. KITH_CRASH_SEED=N replays a run. */
#define _XOPEN_SOURCE 700 /* nftw() */
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <lmdb.h>

#include "proto/error.h"
#include "proto/identity.h"
#include "proto/record.h"
#include "store/store.h"
#include "../unit/tap.h"

#define ROUNDS 25
#define TIME_BUDGET_NS (20LL * 1000 * 1000 * 1000)
#define NAMES 40 /* few enough that names are replaced often */
#define BATCH_MAX 8
#define PATH_LEN 512

/* What the writer reports once a put returned 0. */
struct report {
	uint64_t seq;
	uint32_t name;
	uint32_t pad;
};

static char dir[] = "/tmp/kith-crash-store-XXXXXX";
static char key_path[PATH_LEN];
static uint64_t rng_state;
static uint64_t now;

static uint64_t rng(void)
{
	/* xorshift64: reproducible from the seed printed at start */
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static int64_t clock_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int sign_one(struct mp_buf *out, const struct proto_identity *id, uint32_t name,
                    uint64_t seq)
{
	static uint8_t body[400];
	struct proto_record in = {.kind = PROTO_KIND_SERVICE, .seq = seq};

	snprintf(in.name, sizeof(in.name), "svc-%u", (unsigned)name);
	in.issued = now;
	in.expires = now + 86400;
	memset(body, (int)seq, sizeof(body));
	in.body = body;
	in.body_len = 50 + (size_t)(rng() % (sizeof(body) - 50));
	out->len = 0;
	return proto_record_sign(out, id, &in);
}

static void report(int fd, uint64_t seq, uint32_t name)
{
	struct report r = {.seq = seq, .name = name};
	/* under PIPE_BUF: the write is atomic, the parent never sees half */
	if (write(fd, &r, sizeof(r)) != (ssize_t)sizeof(r))
		_exit(3);
}

/* One single put; exits on any failure so the parent sees it. */
static void write_single(struct store *s, const struct proto_identity *id, int fd)
{
	struct mp_buf b = {0};
	uint32_t name = (uint32_t)(rng() % NAMES);
	uint64_t seq;

	if (store_seq_reserve(s, 1, &seq) || sign_one(&b, id, name, seq) ||
	    store_record_put(s, b.data, b.len, now, NULL))
		_exit(4);
	report(fd, seq, name);
	mp_buf_free(&b);
}

static void write_batch(struct store *s, const struct proto_identity *id, int fd)
{
	struct mp_buf b[BATCH_MAX] = {{0}};
	struct store_item items[BATCH_MAX];
	uint32_t names[BATCH_MAX];
	size_t n = 2 + (size_t)(rng() % (BATCH_MAX - 1));
	uint64_t first;

	if (store_seq_reserve(s, n, &first))
		_exit(5);
	for (size_t i = 0; i < n; i++) {
		names[i] = (uint32_t)(rng() % NAMES);
		if (sign_one(&b[i], id, names[i], first + i))
			_exit(6);
		items[i] = (struct store_item){.buf = b[i].data, .len = b[i].len};
	}
	if (store_records_put(s, items, n, now))
		_exit(7);
	for (size_t i = 0; i < n; i++) {
		if (items[i].err)
			_exit(8);
		report(fd, first + i, names[i]);
	}
	for (size_t i = 0; i < n; i++)
		mp_buf_free(&b[i]);
}

_Noreturn static void writer(int fd, uint64_t seed)
{
	struct proto_identity *id = NULL;
	struct store *s = NULL;

	rng_state = seed;
	if (proto_identity_load(&id, key_path) || store_open(&s, dir, NULL))
		_exit(2);
	for (unsigned i = 0;; i++) {
		if (i % 2)
			write_batch(s, id, fd);
		else
			write_single(s, id, fd);
	}
}

/* Highest reported seq per name (0: never reported) and overall. */
struct reported {
	uint64_t name_seq[NAMES];
	uint64_t max;
	uint64_t count;
};

static void read_reports(int fd, struct reported *rep)
{
	struct report r;
	ssize_t n;

	while ((n = read(fd, &r, sizeof(r))) == (ssize_t)sizeof(r)) {
		if (r.name >= NAMES)
			continue;
		if (r.seq > rep->name_seq[r.name])
			rep->name_seq[r.name] = r.seq;
		if (r.seq > rep->max)
			rep->max = r.seq;
		rep->count++;
	}
}

/* Runs one writer, kills it after delay_ns; 0 if it was still running. */
static int run_round(struct reported *rep, int64_t delay_ns)
{
	struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)delay_ns};
	int fds[2], status = 0;
	uint64_t seed = rng();
	pid_t pid;

	if (pipe(fds) < 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		close(fds[0]);
		writer(fds[1], seed);
	}
	close(fds[1]);
	nanosleep(&ts, NULL);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	read_reports(fds[0], rep);
	close(fds[0]);
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
		return 0;
	printf("# writer exited by itself: status %d\n", status);
	return -1;
}

struct walk {
	const uint8_t *author;
	uint64_t count;
	uint64_t own;      /* records of author */
	uint64_t seq_sum;  /* of author's records, to compare the two walks */
	uint64_t last_seq; /* byseq walk: must increase */
	int bad;
};

static int walk_records(void *arg, const uint8_t *buf, size_t len)
{
	struct walk *w = arg;
	struct proto_record rec;

	w->count++;
	if (proto_record_open(&rec, buf, len, now) != 0) {
		w->bad++;
		return 0;
	}
	if (memcmp(rec.author, w->author, PROTO_KEY_LEN) == 0) {
		w->own++;
		w->seq_sum += rec.seq;
	}
	return 0;
}

static int walk_byseq(void *arg, const uint8_t *buf, size_t len)
{
	struct walk *w = arg;
	struct proto_record rec;

	if (proto_record_open(&rec, buf, len, now) != 0 || rec.seq <= w->last_seq) {
		w->bad++;
		return 0;
	}
	w->last_seq = rec.seq;
	w->own++;
	w->seq_sum += rec.seq;
	return 0;
}

/* Every reported record is present and verifies (or was replaced by a
 * later seq for the same name). */
static int check_reported(struct store *s, const uint8_t *author, const struct reported *rep)
{
	char name[32];
	int missing = 0;

	for (uint32_t i = 0; i < NAMES; i++) {
		struct proto_record rec;
		uint8_t *buf = NULL;
		size_t len = 0;

		if (rep->name_seq[i] == 0)
			continue;
		snprintf(name, sizeof(name), "svc-%u", (unsigned)i);
		if (store_record_get(s, author, PROTO_KIND_SERVICE, name, &buf, &len) != 0 ||
		    proto_record_open(&rec, buf, len, now) != 0 || rec.seq < rep->name_seq[i] ||
		    strcmp(rec.name, name) != 0) {
			printf("# %s: reported seq %llu lost\n", name,
			       (unsigned long long)rep->name_seq[i]);
			missing++;
		}
		free(buf);
	}
	return missing;
}

static int check_store(const uint8_t *author, const struct reported *rep, uint64_t *last_first)
{
	struct walk all = {.author = author}, byseq = {.author = author};
	struct store *s = NULL;
	uint64_t count = 0, head = 0, first = 0;
	int rc, failures = 0;

	rc = store_open(&s, dir, NULL);
	if (rc != 0) {
		printf("# reopen: %s\n", proto_strerror(rc));
		return 1;
	}
	failures += check_reported(s, author, rep);
	rc = store_records_each(s, walk_records, &all);
	rc = rc ? rc : store_records_since(s, author, 0, walk_byseq, &byseq);
	rc = rc ? rc : store_record_count(s, &count);
	rc = rc ? rc : store_head_get(s, author, &head);
	rc = rc ? rc : store_seq_reserve(s, 1, &first);
	if (rc != 0) {
		printf("# walk: %s\n", proto_strerror(rc));
		failures++;
	}
	if (all.bad || byseq.bad || all.count != count || all.own != byseq.own ||
	    all.seq_sum != byseq.seq_sum || head != byseq.last_seq) {
		printf("# inconsistent: %llu records (%llu counted), %llu own vs %llu by seq, "
		       "%d + %d bad, head %llu vs %llu\n",
		       (unsigned long long)all.count, (unsigned long long)count,
		       (unsigned long long)all.own, (unsigned long long)byseq.own, all.bad,
		       byseq.bad, (unsigned long long)head, (unsigned long long)byseq.last_seq);
		failures++;
	}
	if (first <= rep->max || first <= head || first <= *last_first) {
		printf("# counter went back: reserved %llu, reported %llu, head %llu\n",
		       (unsigned long long)first, (unsigned long long)rep->max,
		       (unsigned long long)head);
		failures++;
	}
	*last_first = first;
	store_close(&s);
	return failures;
}

/* Opens the environment with plain LMDB, read-only, as another tool
 * would: the databases are there and byseq indexes every record. */
static int check_raw_env(void)
{
	static const char *const names[] = {"meta", "records", "byseq", "heads"};
	char path[PATH_LEN];
	MDB_env *env = NULL;
	MDB_txn *txn = NULL;
	MDB_stat st[4];
	MDB_dbi dbi;
	int rc = mdb_env_create(&env);

	snprintf(path, sizeof(path), "%s/%s", dir, STORE_DIR);
	if (rc == 0)
		rc = mdb_env_set_maxdbs(env, 4);
	if (rc == 0)
		rc = mdb_env_open(env, path, MDB_RDONLY, 0600);
	if (rc == 0)
		rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);
	for (int i = 0; i < 4 && rc == 0; i++) {
		rc = mdb_dbi_open(txn, names[i], 0, &dbi);
		if (rc == 0)
			rc = mdb_stat(txn, dbi, &st[i]);
	}
	if (txn)
		mdb_txn_abort(txn);
	mdb_env_close(env);
	if (rc != 0) {
		printf("# raw LMDB open: %s\n", mdb_strerror(rc));
		return 1;
	}
	if (st[1].ms_entries != st[2].ms_entries) {
		printf("# %zu records but %zu byseq entries\n", st[1].ms_entries, st[2].ms_entries);
		return 1;
	}
	return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static uint64_t seed_from_env(void)
{
	const char *env = getenv("KITH_CRASH_SEED");
	uint64_t seed = env ? strtoull(env, NULL, 10) : (uint64_t)time(NULL) ^ (uint64_t)getpid();
	return seed ? seed : 1;
}

int main(void)
{
	struct proto_identity *id = NULL;
	struct reported rep = {.count = 0};
	uint64_t seed = seed_from_env(), last_first = 0;
	int64_t start = clock_ns();
	int rounds = 0, failures = 0;

	rng_state = seed;
	now = (uint64_t)time(NULL);
	printf("# seed %llu (KITH_CRASH_SEED replays it)\n", (unsigned long long)seed);
	if (!mkdtemp(dir) || snprintf(key_path, sizeof(key_path), "%s/%s", dir,
	                              PROTO_IDENTITY_FILE) >= (int)sizeof(key_path)) {
		perror("mkdtemp");
		return 1;
	}
	if (proto_identity_generate(&id) || proto_identity_save(id, key_path)) {
		printf("# cannot create the identity\n");
		return 1;
	}
	while (rounds < ROUNDS && clock_ns() - start < TIME_BUDGET_NS) {
		int64_t delay = (2 + (int64_t)(rng() % 59)) * 1000 * 1000;
		int round_failures = run_round(&rep, delay) != 0;

		round_failures += check_store(id->pk, &rep, &last_first);
		round_failures += check_raw_env();
		ok(round_failures == 0,
		   "round: reported records survive kill -9, store consistent");
		failures += round_failures;
		rounds++;
	}
	printf("# %d rounds, %llu records reported, last seq %llu\n", rounds,
	       (unsigned long long)rep.count, (unsigned long long)rep.max);
	ok(rep.count > 0, "the writers got records through");
	proto_identity_free(&id);
	if (failures == 0)
		nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	else
		printf("# store kept for inspection in %s\n", dir);
	return tap_done();
}
