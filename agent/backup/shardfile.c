/* Shard files: pieces written in the loop, durability on one worker
 * thread (see shardfile.h for why, and for what each side may touch).
 *
 * Every path is relative to the descriptor of DATA/shards ("<owner
 * hex>/<name>"), opened once: the data directory's own path length does
 * not matter, and a validated name has no '/' to climb out with.
 *
 * Jobs live inside what they concern (a writer embeds its flush job and
 * its final job, commit or abort), so queuing one never allocates and
 * never fails; only shardfile_remove() allocates its job. The worker runs
 * them in queue order: a writer's fd is closed by its final job, which
 * comes after every flush of it, and the writer is freed by the loop once
 * that final job is reported done. */
#define _GNU_SOURCE /* fallocate(), sync_file_range() */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>
#include <zmq.h>

#include "agent/core/loop.h"
#include "proto/error.h"
#include "shardfile.h"

_Static_assert(sizeof(off_t) >= 8, "shards up to 4 GiB need a 64-bit off_t");

#define OWNER_HEX_LEN (PROTO_KEY_LEN * 2)
#define TMP_PREFIX ".tmp-"
#define TMP_RANDOM 8 /* bytes, 16 hex characters */
/* "<owner hex>/<name>", the longer of a name and a temporary's */
#define PATH_LEN (OWNER_HEX_LEN + 1 + SHARDFILE_NAME_MAX + 1)
#define TMP_TRIES 4

enum job_kind { JOB_FLUSH, JOB_COMMIT, JOB_ABORT, JOB_REMOVE };

/* What the worker reads (kind, fd, from, to, the paths) is written by the
 * loop before the job is queued, and what it writes (err) is read by the
 * loop after the job comes back: the mutex orders both. */
struct job {
	struct job *next;
	enum job_kind kind;
	int fd; /* the temporary: flush reads it, commit and abort close it */
	uint64_t from, to;
	char owner[OWNER_HEX_LEN + 1];
	char tmp[PATH_LEN];  /* commit, abort */
	char path[PATH_LEN]; /* commit, remove: the final name */
	int err;
	/* loop side only */
	struct shardfile_writer *w; /* flush, commit, abort: the writer it is in */
	shardfile_done_fn done;
	void *arg;
};

struct job_list {
	struct job *head, *tail;
};

struct shardfile_writer {
	crypto_generichash_state hash; /* first: it wants 64-byte alignment */
	struct shardfile_dir *dir;
	struct shardfile_writer *prev, *next; /* the dir's open writers */
	int fd;
	int err; /* sticky */
	uint64_t size, written;
	uint64_t flush_to;   /* the end of the last flush queued */
	uint64_t flush_done; /* the end of the last flush done */
	bool flushing;
	struct job flush, final;
};

struct shardfile_dir {
	struct loop *loop;
	int fd; /* DATA/shards */
	int pipe_rd, pipe_wr;
	bool started, closing;
	unsigned pending;                 /* loop side: queued, not yet finished */
	struct shardfile_writer *writers; /* loop side: open writers */
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	/* under mu */
	struct job_list queue, done;
	bool stop;
};

/* ---- names and paths ---- */

/* name is a C string: the length is bounded first, so a peer's long
 * string costs at most SHARDFILE_NAME_MAX + 1 reads. */
static bool name_valid(const char *name)
{
	return name && proto_hold_name_ok(name, strnlen(name, SHARDFILE_NAME_MAX + 1));
}

static void owner_hex(char out[OWNER_HEX_LEN + 1], const uint8_t owner[PROTO_KEY_LEN])
{
	sodium_bin2hex(out, OWNER_HEX_LEN + 1, owner, PROTO_KEY_LEN);
}

/* "<owner hex>/<leaf>"; leaf is a valid name or a temporary's. */
static void join(char out[PATH_LEN], const char *owner, const char *leaf)
{
	snprintf(out, PATH_LEN, "%s/%s", owner, leaf);
}

static bool is_tmp(const char *leaf)
{
	return strncmp(leaf, TMP_PREFIX, sizeof(TMP_PREFIX) - 1) == 0;
}

static int neg_errno(void)
{
	return errno == ENOSPC || errno == EDQUOT ? KITH_EDISKFULL : -errno;
}

/* ---- the worker's side ---- */

static int fsync_dir(int shards_fd, const char *owner)
{
	int fd = openat(shards_fd, owner ? owner : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = fd < 0 || fsync(fd) != 0 ? -errno : 0;

	if (fd >= 0)
		close(fd);
	return rc;
}

static int run_flush(const struct job *j)
{
#ifdef __linux__
	/* Waits for the range's writeback: the pacing, not a durability
	 * point (no metadata, no cache flush; the commit's fsync is that). */
	unsigned flags =
	    SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER;
	if (sync_file_range(j->fd, (off_t)j->from, (off_t)(j->to - j->from), flags) == 0)
		return 0;
	if (errno != ENOSYS && errno != EINVAL && errno != ESPIPE)
		return -errno;
#endif
	return fdatasync(j->fd) == 0 ? 0 : -errno;
}

/* The data, then the name without replacing one (link fails with EEXIST
 * where rename would overwrite), then the directories that hold the name:
 * the owner's, and shards/ in case the owner's directory is new. A kill
 * between link and unlink leaves the temporary too, removed at start. */
static int run_commit(int shards_fd, struct job *j)
{
	int rc = fsync(j->fd) == 0 ? 0 : neg_errno();

	close(j->fd);
	j->fd = -1;
	if (rc == 0 && linkat(shards_fd, j->tmp, shards_fd, j->path, 0) != 0)
		rc = -errno;
	unlinkat(shards_fd, j->tmp, 0);
	if (rc != 0)
		return rc;
	rc = fsync_dir(shards_fd, j->owner);
	if (rc == 0)
		rc = fsync_dir(shards_fd, NULL);
	if (rc != 0)
		unlinkat(shards_fd, j->path, 0); /* not known durable: not a shard */
	return rc;
}

/* Nothing to sync: a temporary that comes back after a power loss is
 * removed at start. */
static int run_abort(int shards_fd, struct job *j)
{
	close(j->fd);
	j->fd = -1;
	return unlinkat(shards_fd, j->tmp, 0) == 0 ? 0 : -errno;
}

static int run_remove(int shards_fd, const struct job *j)
{
	if (unlinkat(shards_fd, j->path, 0) != 0)
		return -errno;
	return fsync_dir(shards_fd, j->owner);
}

static int run(int shards_fd, struct job *j)
{
	switch (j->kind) {
	case JOB_FLUSH:
		return run_flush(j);
	case JOB_COMMIT:
		return run_commit(shards_fd, j);
	case JOB_ABORT:
		return run_abort(shards_fd, j);
	case JOB_REMOVE:
		return run_remove(shards_fd, j);
	}
	return -EINVAL;
}

static void list_push(struct job_list *q, struct job *j)
{
	j->next = NULL;
	if (q->tail)
		q->tail->next = j;
	else
		q->head = j;
	q->tail = j;
}

static struct job *list_take(struct job_list *q)
{
	struct job *j = q->head;

	q->head = q->tail = NULL;
	return j;
}

static void *worker(void *arg)
{
	struct shardfile_dir *d = arg;

	pthread_mutex_lock(&d->mu);
	for (;;) {
		struct job *j;

		while (!d->queue.head && !d->stop)
			pthread_cond_wait(&d->cv, &d->mu);
		if (!d->queue.head)
			break;
		j = d->queue.head;
		d->queue.head = j->next;
		if (!d->queue.head)
			d->queue.tail = NULL;
		pthread_mutex_unlock(&d->mu);
		j->err = run(d->fd, j);
		pthread_mutex_lock(&d->mu);
		list_push(&d->done, j);
		if (write(d->pipe_wr, "", 1) < 0) {
			/* EAGAIN: a full pipe wakes the loop already */
		}
	}
	pthread_mutex_unlock(&d->mu);
	return NULL;
}

/* ---- the loop's side ---- */

static void submit(struct shardfile_dir *d, struct job *j)
{
	pthread_mutex_lock(&d->mu);
	list_push(&d->queue, j);
	pthread_cond_signal(&d->cv);
	pthread_mutex_unlock(&d->mu);
	d->pending++;
}

/* Handles one job the worker is done with (or that close dropped). */
static void finish(struct shardfile_dir *d, struct job *j)
{
	struct shardfile_writer *w = j->w;

	d->pending--;
	if (j->kind == JOB_FLUSH) {
		w->flushing = false;
		w->flush_done = j->to;
		if (j->err && !w->err)
			w->err = j->err;
		return;
	}
	if (j->done)
		j->done(j->arg, j->err);
	if (j->kind == JOB_REMOVE)
		free(j);
	else
		free(w); /* the final job is inside it */
}

static void finish_all(struct shardfile_dir *d)
{
	struct job *j, *next;

	pthread_mutex_lock(&d->mu);
	j = list_take(&d->done);
	pthread_mutex_unlock(&d->mu);
	for (; j; j = next) {
		next = j->next;
		finish(d, j);
	}
}

static void drain_pipe(int fd)
{
	char buf[64];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

static void on_done(struct loop *l, void *arg, short revents)
{
	struct shardfile_dir *d = arg;

	(void)l;
	(void)revents;
	drain_pipe(d->pipe_rd);
	finish_all(d);
}

/* ---- opening: leftovers, the pipe, the worker ---- */

static bool owner_dir_name(const char *s)
{
	if (strlen(s) != OWNER_HEX_LEN)
		return false;
	for (size_t i = 0; i < OWNER_HEX_LEN; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* Removes the temporaries in one owner's directory; adds them to *n. */
static int clean_owner(int shards_fd, const char *owner, unsigned *n)
{
	int fd = openat(shards_fd, owner, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	DIR *dir = fd < 0 ? NULL : fdopendir(fd);
	struct dirent *e;
	int rc = 0;

	if (!dir) {
		rc = -errno;
		if (fd >= 0)
			close(fd);
		return rc;
	}
	while ((e = readdir(dir)) != NULL) {
		if (!is_tmp(e->d_name))
			continue;
		if (unlinkat(dirfd(dir), e->d_name, 0) != 0 && errno != ENOENT) {
			rc = -errno;
			break;
		}
		(*n)++;
	}
	closedir(dir);
	return rc;
}

static int clean_leftovers(int shards_fd, unsigned *n)
{
	int fd = openat(shards_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *dir = fd < 0 ? NULL : fdopendir(fd);
	struct dirent *e;
	int rc = 0;

	if (!dir) {
		rc = -errno;
		if (fd >= 0)
			close(fd);
		return rc;
	}
	while (rc == 0 && (e = readdir(dir)) != NULL)
		if (owner_dir_name(e->d_name))
			rc = clean_owner(shards_fd, e->d_name, n);
	closedir(dir);
	return rc;
}

/* DATA/shards, created 0700 and made durable if missing. */
static int open_shards(const char *data_dir)
{
	int data = open(data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int fd, rc = 0;

	if (data < 0)
		return -errno;
	if (mkdirat(data, SHARDFILE_DIR, 0700) == 0)
		rc = fsync(data) == 0 ? 0 : -errno;
	else if (errno != EEXIST)
		rc = -errno;
	fd = rc ? -1 : openat(data, SHARDFILE_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (rc == 0 && fd < 0)
		rc = -errno;
	close(data);
	return rc ? rc : fd;
}

static int open_pipe(struct shardfile_dir *d)
{
	int p[2];

	if (pipe(p) != 0)
		return -errno;
	d->pipe_rd = p[0];
	d->pipe_wr = p[1];
	for (int i = 0; i < 2; i++)
		if (fcntl(p[i], F_SETFL, O_NONBLOCK) != 0 || fcntl(p[i], F_SETFD, FD_CLOEXEC) != 0)
			return -errno;
	return 0;
}

/* With every signal blocked in the worker, signals reach the loop. */
static int start_worker(struct shardfile_dir *d)
{
	sigset_t all, old;
	int rc;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&d->thread, NULL, worker, d);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	d->started = rc == 0;
	return -rc;
}

int shardfile_dir_open(struct shardfile_dir **out, struct loop *l, const char *data_dir,
                       unsigned *removed)
{
	struct shardfile_dir *d = calloc(1, sizeof(*d));
	unsigned n = 0;
	int rc;

	*out = NULL;
	if (removed)
		*removed = 0;
	if (!d)
		return -ENOMEM;
	d->loop = l;
	d->pipe_rd = d->pipe_wr = -1;
	pthread_mutex_init(&d->mu, NULL);
	pthread_cond_init(&d->cv, NULL);
	d->fd = sodium_init() < 0 ? -ENOMEM : open_shards(data_dir);
	rc = d->fd < 0 ? d->fd : clean_leftovers(d->fd, &n);
	if (rc == 0)
		rc = open_pipe(d);
	if (rc == 0)
		rc = start_worker(d);
	if (rc == 0)
		rc = loop_watch(l, NULL, d->pipe_rd, ZMQ_POLLIN, on_done, d);
	if (removed)
		*removed = n;
	if (rc != 0) {
		shardfile_dir_close(&d);
		return rc;
	}
	*out = d;
	return 0;
}

unsigned shardfile_dir_pending(const struct shardfile_dir *d)
{
	return d->pending;
}

/* Runs completions until nothing is pending or wait_ms have passed. */
static void wait_jobs(struct shardfile_dir *d, uint64_t wait_ms)
{
	uint64_t end = loop_clock_ms() + wait_ms;

	while (d->pending > 0) {
		uint64_t now = loop_clock_ms();
		struct pollfd p = {.fd = d->pipe_rd, .events = POLLIN};

		if (now >= end)
			break;
		poll(&p, 1, (int)(end - now > INT_MAX ? INT_MAX : end - now));
		drain_pipe(d->pipe_rd);
		finish_all(d);
	}
}

/* Drops the jobs the worker has not started: their fds are closed (their
 * temporaries stay for the next open) and they finish with -ECANCELED. */
static void drop_queue(struct shardfile_dir *d, struct job *j)
{
	struct job *next;

	for (; j; j = next) {
		next = j->next;
		if ((j->kind == JOB_COMMIT || j->kind == JOB_ABORT) && j->fd >= 0)
			close(j->fd);
		j->err = -ECANCELED;
		finish(d, j);
	}
}

static void stop_worker(struct shardfile_dir *d)
{
	struct job *dropped;

	wait_jobs(d, SHARDFILE_CLOSE_WAIT_MS);
	pthread_mutex_lock(&d->mu);
	dropped = list_take(&d->queue);
	d->stop = true;
	pthread_cond_signal(&d->cv);
	pthread_mutex_unlock(&d->mu);
	pthread_join(d->thread, NULL);
	finish_all(d);
	drop_queue(d, dropped);
}

void shardfile_dir_close(struct shardfile_dir **dp)
{
	struct shardfile_dir *d = dp ? *dp : NULL;

	if (!d)
		return;
	*dp = NULL;
	d->closing = true;
	while (d->writers)
		shardfile_abort(d->writers);
	if (d->started)
		stop_worker(d);
	if (d->pipe_rd >= 0) {
		loop_unwatch(d->loop, NULL, d->pipe_rd);
		close(d->pipe_rd);
	}
	if (d->pipe_wr >= 0)
		close(d->pipe_wr);
	if (d->fd >= 0)
		close(d->fd);
	pthread_cond_destroy(&d->cv);
	pthread_mutex_destroy(&d->mu);
	free(d);
}

/* ---- writers ---- */

static void writer_link(struct shardfile_dir *d, struct shardfile_writer *w)
{
	w->next = d->writers;
	if (d->writers)
		d->writers->prev = w;
	d->writers = w;
}

static void writer_unlink(struct shardfile_writer *w)
{
	if (w->prev)
		w->prev->next = w->next;
	else
		w->dir->writers = w->next;
	if (w->next)
		w->next->prev = w->prev;
	w->prev = w->next = NULL;
}

/* A new temporary in the owner's directory, its path in w->final.tmp. */
static int open_tmp(struct shardfile_dir *d, struct shardfile_writer *w)
{
	for (int i = 0; i < TMP_TRIES; i++) {
		uint8_t rnd[TMP_RANDOM];
		char hex[TMP_RANDOM * 2 + 1], leaf[sizeof(TMP_PREFIX) + sizeof(hex)];

		randombytes_buf(rnd, sizeof(rnd));
		sodium_bin2hex(hex, sizeof(hex), rnd, sizeof(rnd));
		snprintf(leaf, sizeof(leaf), TMP_PREFIX "%s", hex);
		join(w->final.tmp, w->final.owner, leaf);
		w->fd = openat(d->fd, w->final.tmp,
		               O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (w->fd >= 0 || errno != EEXIST)
			return w->fd >= 0 ? 0 : neg_errno();
	}
	return -EEXIST;
}

/* Takes the blocks now, so a full disk is told before bytes flow. Where
 * the filesystem cannot (EOPNOTSUPP), nothing is reserved: glibc's
 * posix_fallocate() would then write a byte per block, seconds of the
 * loop for a large shard. */
static int reserve(int fd, uint64_t size)
{
	if (size == 0)
		return 0;
#ifdef __linux__
	if (fallocate(fd, 0, 0, (off_t)size) == 0)
		return 0;
	return errno == EOPNOTSUPP ? 0 : neg_errno();
#else
	int rc = posix_fallocate(fd, 0, (off_t)size);
	return rc == 0 || rc == EOPNOTSUPP || rc == EINVAL ? 0 : -rc;
#endif
}

static int committed(struct shardfile_dir *d, const char *path)
{
	struct stat st;

	if (fstatat(d->fd, path, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return -EEXIST;
	return errno == ENOENT ? 0 : -errno;
}

/* The owner's directory, the check for the name, the temporary. */
static int writer_files(struct shardfile_dir *d, struct shardfile_writer *w, const char *name)
{
	int rc;

	if (mkdirat(d->fd, w->final.owner, 0700) != 0 && errno != EEXIST)
		return neg_errno();
	join(w->final.path, w->final.owner, name);
	rc = committed(d, w->final.path);
	if (rc == 0)
		rc = open_tmp(d, w);
	if (rc == 0 && (rc = reserve(w->fd, w->size)) != 0) {
		close(w->fd);
		unlinkat(d->fd, w->final.tmp, 0);
	}
	return rc;
}

static struct shardfile_writer *writer_alloc(void)
{
	size_t align = _Alignof(struct shardfile_writer);
	size_t n = (sizeof(struct shardfile_writer) + align - 1) / align * align;
	struct shardfile_writer *w = aligned_alloc(align, n);

	if (w)
		memset(w, 0, sizeof(*w));
	return w;
}

int shardfile_create(struct shardfile_dir *d, const uint8_t owner[PROTO_KEY_LEN], const char *name,
                     uint64_t size, struct shardfile_writer **out)
{
	struct shardfile_writer *w;
	int rc;

	*out = NULL;
	if (d->closing)
		return -ESHUTDOWN;
	if (!name_valid(name))
		return KITH_EVALUE;
	if (size > SHARDFILE_SIZE_MAX)
		return KITH_ETOOBIG;
	if (!(w = writer_alloc()))
		return -ENOMEM;
	w->dir = d;
	w->size = size;
	w->fd = -1;
	owner_hex(w->final.owner, owner);
	rc = writer_files(d, w, name);
	if (rc != 0) {
		free(w);
		return rc;
	}
	crypto_generichash_init(&w->hash, NULL, 0, SHARDFILE_HASH_LEN);
	w->flush = (struct job){.kind = JOB_FLUSH, .fd = w->fd, .w = w};
	w->final.fd = w->fd;
	w->final.w = w;
	writer_link(d, w);
	*out = w;
	return 0;
}

static int pwrite_all(int fd, const uint8_t *p, size_t len, uint64_t off)
{
	while (len > 0) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? neg_errno() : -EIO;
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

/* Queues write-back of what was written since the last flush, once there
 * is SHARDFILE_FLUSH_BYTES of it and the previous one is done. */
static void maybe_flush(struct shardfile_writer *w)
{
	if (w->flushing || w->written - w->flush_to < SHARDFILE_FLUSH_BYTES)
		return;
	w->flush.from = w->flush_to;
	w->flush.to = w->written;
	w->flush_to = w->written;
	w->flushing = true;
	submit(w->dir, &w->flush);
}

int shardfile_write(struct shardfile_writer *w, uint64_t offset, const uint8_t *data, size_t len)
{
	int rc;

	if (w->err)
		return w->err;
	if (len > SHARDFILE_PIECE_MAX)
		return KITH_ETOOBIG;
	if (offset != w->written)
		return KITH_EVALUE;
	if (len > w->size - w->written)
		return KITH_ETOOBIG;
	if (len == 0)
		return 0;
	rc = pwrite_all(w->fd, data, len, offset);
	if (rc != 0)
		return w->err = rc;
	crypto_generichash_update(&w->hash, data, len);
	w->written += len;
	maybe_flush(w);
	return 0;
}

uint64_t shardfile_written(const struct shardfile_writer *w)
{
	return w->written;
}

uint64_t shardfile_unflushed(const struct shardfile_writer *w)
{
	return w->written - w->flush_done;
}

static void queue_final(struct shardfile_writer *w, enum job_kind kind, shardfile_done_fn done,
                        void *arg)
{
	writer_unlink(w);
	w->final.kind = kind;
	w->final.done = done;
	w->final.arg = arg;
	submit(w->dir, &w->final);
}

int shardfile_commit(struct shardfile_writer *w, const uint8_t expected[SHARDFILE_HASH_LEN],
                     shardfile_done_fn done, void *arg)
{
	uint8_t h[SHARDFILE_HASH_LEN];
	int rc = w->err;

	if (rc == 0 && w->written != w->size)
		rc = KITH_ETRUNC;
	if (rc == 0) {
		crypto_generichash_final(&w->hash, h, sizeof(h));
		if (memcmp(h, expected, sizeof(h)) != 0)
			rc = KITH_ECHECKSUM;
	}
	if (rc != 0) {
		queue_final(w, JOB_ABORT, NULL, NULL);
		return rc;
	}
	queue_final(w, JOB_COMMIT, done, arg);
	return 0;
}

void shardfile_abort(struct shardfile_writer *w)
{
	if (w)
		queue_final(w, JOB_ABORT, NULL, NULL);
}

/* ---- committed shards ---- */

static int shard_path(char out[PATH_LEN], const uint8_t owner[PROTO_KEY_LEN], const char *name)
{
	char hex[OWNER_HEX_LEN + 1];

	if (!name_valid(name))
		return KITH_EVALUE;
	owner_hex(hex, owner);
	join(out, hex, name);
	return 0;
}

int shardfile_read(struct shardfile_dir *d, const uint8_t owner[PROTO_KEY_LEN], const char *name,
                   uint64_t offset, uint8_t *buf, size_t len, size_t *got)
{
	char path[PATH_LEN];
	int fd, rc = shard_path(path, owner, name);

	*got = 0;
	if (rc != 0)
		return rc;
	if (len > SHARDFILE_READ_MAX)
		return KITH_ETOOBIG;
	if (offset > SHARDFILE_SIZE_MAX)
		return 0; /* past the end of any shard */
	if ((fd = openat(d->fd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return -errno;
	while (*got < len) {
		ssize_t n = pread(fd, buf + *got, len - *got, (off_t)(offset + *got));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = n < 0 ? -errno : 0;
			break;
		}
		*got += (size_t)n;
	}
	close(fd);
	return rc;
}

int shardfile_size(struct shardfile_dir *d, const uint8_t owner[PROTO_KEY_LEN], const char *name,
                   uint64_t *size)
{
	char path[PATH_LEN];
	struct stat st;
	int rc = shard_path(path, owner, name);

	*size = 0;
	if (rc != 0)
		return rc;
	if (fstatat(d->fd, path, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -ENOENT;
	*size = (uint64_t)st.st_size;
	return 0;
}

int shardfile_remove(struct shardfile_dir *d, const uint8_t owner[PROTO_KEY_LEN], const char *name,
                     shardfile_done_fn done, void *arg)
{
	struct job *j;
	int rc;

	if (d->closing)
		return -ESHUTDOWN;
	if (!name_valid(name))
		return KITH_EVALUE;
	if (!(j = calloc(1, sizeof(*j))))
		return -ENOMEM;
	j->kind = JOB_REMOVE;
	j->fd = -1;
	owner_hex(j->owner, owner);
	rc = shard_path(j->path, owner, name);
	j->done = done;
	j->arg = arg;
	submit(d, j);
	return rc;
}

/* Opens a directory under shards/ (owner NULL: shards/ itself) for
 * reading; NULL with errno set. */
static DIR *open_dir(struct shardfile_dir *d, const char *owner)
{
	int fd =
	    openat(d->fd, owner ? owner : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	DIR *dir = fd < 0 ? NULL : fdopendir(fd);

	if (!dir && fd >= 0) {
		int e = errno;
		close(fd);
		errno = e;
	}
	return dir;
}

int shardfile_each(struct shardfile_dir *d, const uint8_t owner[PROTO_KEY_LEN],
                   shardfile_each_fn fn, void *arg)
{
	char hex[OWNER_HEX_LEN + 1];
	struct dirent *e;
	DIR *dir;
	int rc = 0;

	owner_hex(hex, owner);
	if (!(dir = open_dir(d, hex)))
		return errno == ENOENT ? 0 : -errno;
	while (rc == 0 && (e = readdir(dir)) != NULL) {
		struct stat st;

		if (!name_valid(e->d_name) ||
		    fstatat(dirfd(dir), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		rc = fn(arg, e->d_name, (uint64_t)st.st_size);
	}
	closedir(dir);
	return rc;
}

int shardfile_owners(struct shardfile_dir *d, shardfile_owner_fn fn, void *arg)
{
	uint8_t owner[PROTO_KEY_LEN];
	struct dirent *e;
	DIR *dir;
	int rc = 0;

	if (!(dir = open_dir(d, NULL)))
		return -errno;
	while (rc == 0 && (e = readdir(dir)) != NULL) {
		if (!owner_dir_name(e->d_name) ||
		    sodium_hex2bin(owner, sizeof(owner), e->d_name, OWNER_HEX_LEN, NULL, NULL,
		                   NULL) != 0)
			continue;
		rc = fn(arg, owner);
	}
	closedir(dir);
	return rc;
}
