/* kill -9 at a random moment loses nothing that was acknowledged.
 *
 * Phase 1, records: each round forks a writer that loops: reserve seqs,
 * sign records, put them (single puts and small batches with a budget in
 * turn, often replacing a name it used before), and only then report each
 * seq on a pipe; now and then it prunes the records of the names that
 * expire early. Its map starts small, so that it grows under the kills. The parent kills it with
 * SIGKILL after a random 2-60 ms, reopens the store and checks: every reported record is there and
 * verifies (or was pruned, for an early name), the own counter hands out
 * a seq above every reported one, every stored record verifies, byseq,
 * records, expiry and heads agree, and the author's authors entry is the
 * sum over its records.
 *
 * Phase 2, local state: the child alternates taking a use of one
 * invitation and putting, replacing or deleting a shard of two owners
 * under a quota and a bound on their count, reporting each success. After
 * each kill: the uses taken are exactly the uses reported, plus at most
 * the one whose report the kill cut off (no use is handed out twice, none
 * reported is lost); every shard holds what was last reported for it (but
 * for that one operation), is intact, and each owner's usage is what its
 * shards cost (data, name and overhead), within the quota and the bound.
 * KITH_CRASH_SEED=N replays a run. */
#define _XOPEN_SOURCE 700 /* nftw() */
#include <errno.h>
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
#include "crash.h"
#include "../unit/rm_tree.h"

#define ROUNDS 25
#define TIME_BUDGET_NS (20LL * 1000 * 1000 * 1000)
#define LOCAL_ROUNDS 25
#define LOCAL_BUDGET_NS (15LL * 1000 * 1000 * 1000)
#define NAMES 40                      /* few enough that names are replaced often */
#define EARLY(name) ((name) % 5 == 0) /* names whose records expire early */
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
static uint64_t now;

static uint64_t be64_get(const uint8_t in[8])
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = (v << 8) | in[i];
	return v;
}

static int sign_one(struct mp_buf *out, const struct proto_identity *id, uint32_t name,
                    uint64_t seq)
{
	static uint8_t body[400];
	struct proto_record in = {.kind = PROTO_KIND_SERVICE, .seq = seq};

	snprintf(in.name, sizeof(in.name), "svc-%u", (unsigned)name);
	in.issued = now;
	in.expires = now + (EARLY(name) ? 1000 : 86400);
	memset(body, (int)seq, sizeof(body));
	in.body = body;
	in.body_len = 50 + (size_t)(crash_rng() % (sizeof(body) - 50));
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
	uint32_t name = (uint32_t)(crash_rng() % NAMES);
	uint64_t seq;

	if (store_seq_reserve(s, 1, &seq) || sign_one(&b, id, name, seq) ||
	    store_record_put(s, b.data, b.len, now, NULL))
		_exit(4);
	report(fd, seq, name);
	mp_buf_free(&b);
}

static void write_batch(struct store *s, const struct proto_identity *id, int fd)
{
	/* never reached by NAMES records: the budget path runs, refusing
	 * nothing */
	static const struct store_budget budget = {NAMES, NAMES * (PROTO_RECORD_MAX + 256)};
	struct mp_buf b[BATCH_MAX] = {{0}};
	struct store_item items[BATCH_MAX];
	uint32_t names[BATCH_MAX];
	size_t n = 2 + (size_t)(crash_rng() % (BATCH_MAX - 1));
	uint64_t first;

	if (store_seq_reserve(s, n, &first))
		_exit(5);
	for (size_t i = 0; i < n; i++) {
		names[i] = (uint32_t)(crash_rng() % NAMES);
		if (sign_one(&b[i], id, names[i], first + i))
			_exit(6);
		items[i] =
		    (struct store_item){.buf = b[i].data, .len = b[i].len, .budget = &budget};
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

static void writer(int fd, uint64_t seed)
{
	/* A map this small grows in the first rounds: kills land inside
	 * the redo of a write too. */
	static const struct store_options opt = {.map_size = 128 << 10, .map_max = 64 << 20};
	struct proto_identity *id = NULL;
	struct store *s = NULL;

	crash_rng_seed(seed);
	if (proto_identity_load(&id, key_path) || store_open(&s, dir, &opt))
		_exit(2);
	for (unsigned i = 0;; i++) {
		if (i % 2)
			write_batch(s, id, fd);
		else
			write_single(s, id, fd);
		/* the early names' records expire before now + 2000 */
		if (i % 8 == 7 && store_records_prune(s, now + 2000, 3, NULL, NULL))
			_exit(12);
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

typedef void (*child_fn)(int fd, uint64_t seed);

/* Forks a child running body(fd, seed) and kills it after delay_ns; *rfd
 * receives the read end of its report pipe (the caller closes it). 0 if
 * the child was still running when it was killed. */
static int run_child(child_fn body, int64_t delay_ns, int *rfd)
{
	struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)delay_ns};
	int fds[2], status = 0;
	uint64_t seed = crash_rng();
	pid_t pid;

	*rfd = -1;
	if (pipe(fds) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return -errno;
	}
	if (pid == 0) {
		close(fds[0]);
		body(fds[1], seed);
		_exit(9);
	}
	close(fds[1]);
	nanosleep(&ts, NULL);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	*rfd = fds[0];
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
		return 0;
	printf("# child exited by itself: status %d\n", status);
	return -1;
}

/* Runs one writer, kills it after delay_ns; 0 if it was still running. */
static int run_round(struct reported *rep, int64_t delay_ns)
{
	int fd, rc = run_child(writer, delay_ns, &fd);

	if (fd >= 0) {
		read_reports(fd, rep);
		close(fd);
	}
	return rc;
}

struct walk {
	const uint8_t *author;
	uint64_t count;
	uint64_t own;      /* records of author */
	uint64_t own_cost; /* what they cost, as authors counts it */
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
		w->own_cost += len + strlen(rec.name) + STORE_RECORD_OVERHEAD;
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
		int rc;

		if (rep->name_seq[i] == 0)
			continue;
		snprintf(name, sizeof(name), "svc-%u", (unsigned)i);
		rc = store_record_get(s, author, PROTO_KIND_SERVICE, name, &buf, &len);
		if (rc == -ENOENT && EARLY(i))
			continue; /* pruned */
		if (rc != 0 || proto_record_open(&rec, buf, len, now) != 0 ||
		    rec.seq < rep->name_seq[i] || strcmp(rec.name, name) != 0) {
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
	uint64_t count = 0, head = 0, first = 0, records = 0, bytes = 0;
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
	rc = rc ? rc : store_author_usage(s, author, &records, &bytes);
	rc = rc ? rc : store_seq_reserve(s, 1, &first);
	if (rc != 0) {
		printf("# walk: %s\n", proto_strerror(rc));
		failures++;
	}
	/* Pruning keeps the head: it may be past the last record left. */
	if (all.bad || byseq.bad || all.count != count || all.own != byseq.own ||
	    all.seq_sum != byseq.seq_sum || head < byseq.last_seq || head < rep->max) {
		printf("# inconsistent: %llu records (%llu counted), %llu own vs %llu by seq, "
		       "%d + %d bad, head %llu vs %llu\n",
		       (unsigned long long)all.count, (unsigned long long)count,
		       (unsigned long long)all.own, (unsigned long long)byseq.own, all.bad,
		       byseq.bad, (unsigned long long)head, (unsigned long long)byseq.last_seq);
		failures++;
	}
	if (records != all.own || bytes != all.own_cost) {
		printf("# authors counts %llu records of %llu bytes, they are %llu of %llu\n",
		       (unsigned long long)records, (unsigned long long)bytes,
		       (unsigned long long)all.own, (unsigned long long)all.own_cost);
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

/* The databases of a version-3 store, in the order raw_stat() reports. */
enum raw_db {
	RAW_META,
	RAW_RECORDS,
	RAW_BYSEQ,
	RAW_HEADS,
	RAW_AUTHORS,
	RAW_EXPIRY,
	RAW_INVITES,
	RAW_SHARDS,
	RAW_USAGE
};
#define RAW_DBS 9

/* Opens the environment with plain LMDB, read-only, as another tool
 * would, and reads the statistics of every database: 0 if they are all
 * there. */
static int raw_stat(MDB_stat st[RAW_DBS])
{
	static const char *const names[RAW_DBS] = {
	    "meta", "records", "byseq", "heads", "authors", "expiry", "invites", "shards", "usage"};
	char path[PATH_LEN];
	MDB_env *env = NULL;
	MDB_txn *txn = NULL;
	MDB_dbi dbi;
	int rc = mdb_env_create(&env);

	snprintf(path, sizeof(path), "%s/%s", dir, STORE_DIR);
	if (rc == 0)
		rc = mdb_env_set_maxdbs(env, RAW_DBS);
	if (rc == 0)
		rc = mdb_env_open(env, path, MDB_RDONLY, 0600);
	if (rc == 0)
		rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);
	for (int i = 0; i < RAW_DBS && rc == 0; i++) {
		rc = mdb_dbi_open(txn, names[i], 0, &dbi);
		if (rc == 0)
			rc = mdb_stat(txn, dbi, &st[i]);
	}
	if (txn)
		mdb_txn_abort(txn);
	mdb_env_close(env);
	if (rc != 0)
		printf("# raw LMDB open: %s\n", mdb_strerror(rc));
	return rc != 0;
}

/* The databases are there, byseq and expiry index every record, and the
 * one author has an authors entry if it has records. */
static int check_raw_env(void)
{
	MDB_stat st[RAW_DBS];

	if (raw_stat(st) != 0)
		return 1;
	if (st[RAW_RECORDS].ms_entries != st[RAW_BYSEQ].ms_entries ||
	    st[RAW_RECORDS].ms_entries != st[RAW_EXPIRY].ms_entries ||
	    st[RAW_AUTHORS].ms_entries != (st[RAW_RECORDS].ms_entries > 0)) {
		printf("# %zu records but %zu byseq, %zu expiry and %zu authors entries\n",
		       st[RAW_RECORDS].ms_entries, st[RAW_BYSEQ].ms_entries,
		       st[RAW_EXPIRY].ms_entries, st[RAW_AUTHORS].ms_entries);
		return 1;
	}
	return 0;
}

/* ---- phase 2: invitations and shards ---- */

#define INVITE_USES 1000000 /* more than any run can take */
#define OWNERS 2
#define SHARD_NAMES 12
#define SHARD_SLOTS (OWNERS * SHARD_NAMES)
#define SHARD_MAX 3000
#define SHARD_QUOTA 15000 /* about half of what the names could hold */
#define SHARD_COUNT 10    /* of the SHARD_NAMES an owner could have */

enum local_kind { LOCAL_USE = 1, LOCAL_SHARD = 2 };

/* What the local writer reports once a call returned 0. */
struct local_report {
	uint32_t kind;
	uint32_t slot;  /* LOCAL_SHARD: owner * SHARD_NAMES + name */
	uint64_t value; /* LOCAL_USE: uses left before; LOCAL_SHARD: tag, 0 deleted */
};

static const uint8_t invite_id[STORE_INVITE_ID_LEN] = {0x1d, 0x5e};

static void slot_owner(uint8_t owner[PROTO_KEY_LEN], uint32_t slot)
{
	memset(owner, 0, PROTO_KEY_LEN);
	owner[0] = (uint8_t)(0xa0 + slot / SHARD_NAMES);
}

static void slot_name(char name[16], uint32_t slot)
{
	snprintf(name, 16, "shard-%u", (unsigned)(slot % SHARD_NAMES));
}

/* A shard is its tag (8 bytes BE) and a pattern of it; its length
 * follows from the tag, so a stored shard can be checked on its own. */
static size_t shard_len(uint64_t tag)
{
	return 8 + (size_t)(tag % (SHARD_MAX - 8));
}

static void shard_fill(uint8_t *buf, uint64_t tag)
{
	size_t len = shard_len(tag);

	for (int i = 0; i < 8; i++)
		buf[i] = (uint8_t)(tag >> (56 - 8 * i));
	for (size_t i = 8; i < len; i++)
		buf[i] = (uint8_t)(tag * 131 + i);
}

static void local_report(int fd, uint32_t kind, uint32_t slot, uint64_t value)
{
	struct local_report r = {.kind = kind, .slot = slot, .value = value};
	/* under PIPE_BUF: the write is atomic, the parent never sees half */
	if (write(fd, &r, sizeof(r)) != (ssize_t)sizeof(r))
		_exit(3);
}

static void local_use(struct store *s, int fd)
{
	struct store_invite inv;

	if (store_invite_use(s, invite_id, now, &inv) != 0)
		_exit(10);
	local_report(fd, LOCAL_USE, 0, inv.uses_left);
}

/* Deletes a shard one time in four, else puts one (often replacing). */
static void local_shard(struct store *s, int fd)
{
	static uint8_t buf[SHARD_MAX];
	uint32_t slot = (uint32_t)(crash_rng() % SHARD_SLOTS);
	uint8_t owner[PROTO_KEY_LEN];
	uint64_t tag = crash_rng() | 1;
	char name[16];
	int rc;

	slot_owner(owner, slot);
	slot_name(name, slot);
	if (crash_rng() % 4 == 0) {
		rc = store_shard_del(s, owner, name, NULL);
		tag = 0;
	} else {
		shard_fill(buf, tag);
		rc = store_shard_put(s, owner, name, buf, shard_len(tag), SHARD_QUOTA, SHARD_COUNT,
		                     NULL);
	}
	if (rc == 0)
		local_report(fd, LOCAL_SHARD, slot, tag);
	else if (rc != -ENOENT && rc != KITH_EQUOTA && rc != KITH_ETOOMANY)
		_exit(11);
}

static void local_writer(int fd, uint64_t seed)
{
	struct store *s = NULL;

	crash_rng_seed(seed);
	if (store_open(&s, dir, NULL))
		_exit(2);
	for (unsigned i = 0;; i++) {
		if (i % 2)
			local_shard(s, fd);
		else
			local_use(s, fd);
	}
}

/* What the parent knows: the uses left and each slot's tag (0: none). */
struct local_state {
	uint64_t uses_left;
	uint64_t tag[SHARD_SLOTS];
	uint64_t uses_reported;
	uint64_t shards_reported;
};

/* Reads one round's reports into *round (a copy of the state before the
 * round, advanced by what was reported). Reported uses must be the uses
 * left counting down one by one from where the round started. */
static int read_local_reports(int fd, struct local_state *round)
{
	struct local_report r;
	int failures = 0;

	while (read(fd, &r, sizeof(r)) == (ssize_t)sizeof(r)) {
		if (r.kind == LOCAL_USE) {
			if (r.value != round->uses_left) {
				printf("# use handed out with %llu left, expected %llu\n",
				       (unsigned long long)r.value,
				       (unsigned long long)round->uses_left);
				failures++;
			}
			round->uses_left = r.value - 1;
			round->uses_reported++;
		} else if (r.kind == LOCAL_SHARD && r.slot < SHARD_SLOTS) {
			round->tag[r.slot] = r.value;
			round->shards_reported++;
		} else {
			failures++;
		}
	}
	return failures;
}

/* Reads slot's shard: *tag 0 when absent; -1 when it is not intact. */
static int shard_read(struct store *s, uint32_t slot, uint64_t *tag, uint64_t *len)
{
	static uint8_t want[SHARD_MAX];
	uint8_t owner[PROTO_KEY_LEN], *buf = NULL;
	char name[16];
	size_t n = 0;
	int rc;

	*tag = 0;
	*len = 0;
	slot_owner(owner, slot);
	slot_name(name, slot);
	rc = store_shard_get(s, owner, name, &buf, &n);
	if (rc == -ENOENT)
		return 0;
	if (rc == 0 && n >= 8) {
		*tag = be64_get(buf);
		shard_fill(want, *tag);
		*len = n;
		rc = *tag != 0 && n == shard_len(*tag) && memcmp(buf, want, n) == 0 ? 0 : -1;
	} else {
		rc = -1;
	}
	free(buf);
	return rc;
}

/* Each owner's usage is what its shards cost, within the quota and the
 * count; the raw databases hold nothing else. */
static int check_usage(struct store *s, const uint64_t bytes[OWNERS], const uint64_t count[OWNERS])
{
	uint64_t total = 0, owners = 0;
	MDB_stat st[RAW_DBS];
	int failures = 0;

	for (uint32_t o = 0; o < OWNERS; o++) {
		uint8_t owner[PROTO_KEY_LEN];
		uint64_t b = 0, c = 0;

		slot_owner(owner, o * SHARD_NAMES);
		if (store_shard_usage(s, owner, &b, &c) != 0 || b != bytes[o] || c != count[o] ||
		    b > SHARD_QUOTA || c > SHARD_COUNT) {
			printf("# owner %u: usage %llu bytes in %llu, shards hold %llu in %llu\n",
			       (unsigned)o, (unsigned long long)b, (unsigned long long)c,
			       (unsigned long long)bytes[o], (unsigned long long)count[o]);
			failures++;
		}
		total += count[o];
		owners += count[o] > 0;
	}
	if (raw_stat(st) != 0)
		return failures + 1;
	if (st[RAW_SHARDS].ms_entries != total || st[RAW_USAGE].ms_entries != owners) {
		printf("# %zu shards, %zu usage entries; expected %llu and %llu\n",
		       st[RAW_SHARDS].ms_entries, st[RAW_USAGE].ms_entries,
		       (unsigned long long)total, (unsigned long long)owners);
		failures++;
	}
	return failures;
}

/* Compares the store with what was reported: at most one operation (the
 * one the kill interrupted) may be there unreported. *known becomes what
 * the store holds. */
static int check_local(struct local_state *known, const struct local_state *round)
{
	uint64_t bytes[OWNERS] = {0}, count[OWNERS] = {0};
	struct store_invite inv;
	struct store *s = NULL;
	int failures = 0, unreported = 0;

	if (store_open(&s, dir, NULL) != 0 || store_invite_get(s, invite_id, &inv) != 0) {
		printf("# reopen or invitation lost\n");
		store_close(&s);
		return 1;
	}
	if (inv.uses_left + 1 == round->uses_left)
		unreported++; /* taken, then killed before the report */
	else if (inv.uses_left != round->uses_left) {
		printf("# %llu uses left, %llu reported left\n", (unsigned long long)inv.uses_left,
		       (unsigned long long)round->uses_left);
		failures++;
	}
	known->uses_left = inv.uses_left;
	for (uint32_t slot = 0; slot < SHARD_SLOTS; slot++) {
		uint64_t tag, len;

		if (shard_read(s, slot, &tag, &len) != 0) {
			printf("# shard %u is damaged\n", (unsigned)slot);
			failures++;
		}
		unreported += tag != round->tag[slot];
		known->tag[slot] = tag;
		if (tag != 0) {
			char name[16];

			slot_name(name, slot);
			bytes[slot / SHARD_NAMES] += len + strlen(name) + STORE_SHARD_OVERHEAD;
			count[slot / SHARD_NAMES]++;
		}
	}
	if (unreported > 1) {
		printf("# %d operations stored but never reported\n", unreported);
		failures++;
	}
	failures += check_usage(s, bytes, count);
	store_close(&s);
	return failures;
}

static int local_setup(struct local_state *known)
{
	struct store_invite inv = {
	    .created = now, .expires = now + 86400, .uses_left = INVITE_USES};
	struct store *s = NULL;
	int rc;

	memcpy(inv.id, invite_id, sizeof(inv.id));
	rc = store_open(&s, dir, NULL);
	if (rc == 0)
		rc = store_invite_put(s, &inv);
	store_close(&s);
	memset(known, 0, sizeof(*known));
	known->uses_left = INVITE_USES;
	return rc;
}

static int local_round(struct local_state *known, struct local_state *totals, int64_t delay_ns)
{
	struct local_state round = *known;
	int fd, failures = run_child(local_writer, delay_ns, &fd) != 0;

	round.uses_reported = 0;
	round.shards_reported = 0;
	if (fd >= 0) {
		failures += read_local_reports(fd, &round);
		close(fd);
	}
	totals->uses_reported += round.uses_reported;
	totals->shards_reported += round.shards_reported;
	return failures + check_local(known, &round);
}

/* Phase 2; returns the number of failed rounds. */
static int local_phase(void)
{
	struct local_state known, totals = {0};
	int64_t start = crash_clock_ns();
	int rounds = 0, failures = 0;

	if (local_setup(&known) != 0) {
		ok(0, "store the invitation for phase 2");
		return 1;
	}
	while (rounds < LOCAL_ROUNDS && crash_clock_ns() - start < LOCAL_BUDGET_NS) {
		int64_t delay = (2 + (int64_t)(crash_rng() % 59)) * 1000 * 1000;
		int round_failures = local_round(&known, &totals, delay);

		ok(round_failures == 0,
		   "round: no invitation use given twice or lost, shards and usage agree");
		failures += round_failures != 0;
		rounds++;
	}
	/* A kill between a commit and its report leaves a use taken but
	 * never reported: allowed, once per round at most. */
	printf("# %d rounds, %llu uses and %llu shard changes reported, %llu uses taken "
	       "unreported\n",
	       rounds, (unsigned long long)totals.uses_reported,
	       (unsigned long long)totals.shards_reported,
	       (unsigned long long)(INVITE_USES - known.uses_left - totals.uses_reported));
	ok(totals.uses_reported > 0 && totals.shards_reported > 0,
	   "the local writers got uses and shards through");
	return failures;
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
	int64_t start = crash_clock_ns();
	int rounds = 0, failures = 0;

	crash_rng_seed(seed);
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
	while (rounds < ROUNDS && crash_clock_ns() - start < TIME_BUDGET_NS) {
		int64_t delay = (2 + (int64_t)(crash_rng() % 59)) * 1000 * 1000;
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
	failures += local_phase();
	proto_identity_free(&id);
	if (failures == 0)
		rm_tree(dir);
	else
		printf("# store kept for inspection in %s\n", dir);
	return tap_done();
}
