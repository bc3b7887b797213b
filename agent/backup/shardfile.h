/* The shards a holder keeps for other collectives, as files under
 * DATA/shards/<owner hex>/<name>. Only the bytes: LMDB (store/) keeps the
 * index and the usage, and the agent decides who may put what.
 *
 * A shard arrives in pieces, in order, into a temporary file
 * (<owner hex>/.tmp-<random>) whose whole size is reserved at creation, so
 * a full disk is told before any byte flows. A running BLAKE2b-256 of the
 * pieces is kept; a commit whose bytes are all there and hash as the owner
 * said is made durable and only then named: fsync(file), link(temp, name),
 * unlink(temp), fsync(owner directory), fsync(shards/). Its callback runs
 * with 0 only after all of it, so the caller may sign a receipt there.
 * kill -9 at any moment leaves either no file under the final name or a
 * whole one; leftover temporaries are removed by shardfile_dir_open().
 * Names are write-once: a commit never replaces a shard (remove it first).
 *
 * Threads. This module runs ONE worker thread, the only thread of kithd
 * besides the event loop, and this is why. A piece's pwrite() goes to the
 * page cache and is done in the loop; but fsync() of a few hundred MiB,
 * link, unlink of a large file and a directory fsync can take seconds on a
 * busy disk, far past SWIM's 500 ms probe timeout. POSIX has no
 * asynchronous fsync but aio_fsync(), which glibc implements with a hidden
 * thread pool anyway; io_uring is often disabled in containers and by
 * seccomp policies; O_DSYNC would make every piece wait for the disk in
 * the loop; a helper process would need the fds passed and a protocol.
 * So one thread of our own does the slow calls, one job at a time in the
 * order they were queued (a writer's flushes come before its commit, so a
 * file is closed only after its last use). It shares nothing with the loop
 * but job structs, handed over under a mutex, and a pipe the loop watches
 * (loop_watch with socket NULL): the worker writes a byte when a job is
 * done, and the loop then runs the job's callback. No callback ever runs
 * on the worker; the worker never touches the loop, a writer, or anything
 * else. The worker blocks every signal, so signals keep reaching the loop.
 *
 * Pacing. Every SHARDFILE_FLUSH_BYTES written, the worker is asked to write
 * back the new range (sync_file_range() on Linux, fdatasync() elsewhere;
 * RocksDB's bytes_per_sync), so that dirty pages do not pile up until the
 * kernel throttles the loop's pwrite() and the final fsync stays short.
 * shardfile_unflushed() tells the transfer code how far the disk is behind,
 * to hold back credit from the sender.
 *
 * In the loop thread every call is bounded: a piece is at most
 * SHARDFILE_PIECE_MAX bytes (hash + pwrite), a read at most
 * SHARDFILE_READ_MAX (a pread that may wait for the disk), creation one
 * open and one fallocate; shardfile_each() reads a whole owner directory.
 *
 * Everything but the worker's own code is called from the loop's thread.
 * Errors: 0, -errno, or KITH_E* (proto/error.h); a full filesystem (ENOSPC,
 * EDQUOT) is KITH_EDISKFULL, as in store/. */
#ifndef KITH_AGENT_BACKUP_SHARDFILE_H
#define KITH_AGENT_BACKUP_SHARDFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/limits.h"
#include "proto/ops.h"

#define SHARDFILE_DIR "shards"
#define SHARDFILE_NAME_MAX PROTO_HOLD_NAME_MAX /* store/'s STORE_SHARD_NAME_MAX */
#define SHARDFILE_SIZE_MAX ((uint64_t)4 << 30) /* 4 GiB per shard */
#define SHARDFILE_PIECE_MAX ((size_t)1 << 20)  /* bytes per shardfile_write() */
#define SHARDFILE_READ_MAX ((size_t)1 << 20)   /* bytes per shardfile_read() */
#define SHARDFILE_FLUSH_BYTES ((uint64_t)8 << 20)
#define SHARDFILE_HASH_LEN 32         /* BLAKE2b-256, unkeyed, of the shard's bytes */
#define SHARDFILE_CLOSE_WAIT_MS 20000 /* shardfile_dir_close() waits this long for jobs */

struct loop;
struct shardfile_dir;
struct shardfile_writer;

/* The result of a job queued to the worker: 0 or a negative code. Runs in
 * the loop's thread (or inside shardfile_dir_close(), where new work is
 * refused with -ESHUTDOWN). It must not close the dir. */
typedef void (*shardfile_done_fn)(void *arg, int err);

/* Opens DATA/shards (data_dir borrowed), creating it 0700 if missing,
 * removes the temporaries a previous run left (*removed: how many, for a
 * log line; may be NULL), starts the worker and watches its pipe in l
 * (borrowed; must outlive the dir). On success *out is owned by the
 * caller: close it with shardfile_dir_close(). */
int shardfile_dir_open(struct shardfile_dir **out, struct loop *l, const char *data_dir,
                       unsigned *removed);
/* Aborts the writers still open (the caller's pointers to them become
 * invalid), waits up to SHARDFILE_CLOSE_WAIT_MS for the queued jobs, running
 * their callbacks here; what has not started by then is dropped, its
 * callback run with -ECANCELED (its temporary stays for the next open to
 * remove); then joins the worker, which may still finish the one call it is
 * in (an fsync cannot be interrupted). Frees *d and sets it to NULL;
 * harmless on NULL. */
void shardfile_dir_close(struct shardfile_dir **d);
/* Jobs queued or running whose completion the loop has not handled yet. */
unsigned shardfile_dir_pending(const struct shardfile_dir *d);

/* Shard names are those of the hold.* ops (proto_hold_name_ok(): 1 to
 * SHARDFILE_NAME_MAX characters of [0-9a-z._-], not starting with '.', no
 * ".."). A peer chooses them, so every function below checks them again
 * (KITH_EVALUE otherwise) and no name can reach outside its directory. */

/* Starts owner's shard name (both borrowed) of exactly size bytes
 * (KITH_ETOOBIG over SHARDFILE_SIZE_MAX): creates the owner's directory
 * if needed and a temporary file there, and reserves size bytes on disk
 * (KITH_EDISKFULL when they are not there; where the filesystem cannot
 * reserve, a later write may get it instead). -EEXIST when the name is
 * already committed (checked again at commit: two writers of one name may
 * run, the second commit gets -EEXIST), -ESHUTDOWN once the dir is
 * closing. On success *out is owned by the caller until it passes it to
 * shardfile_commit() or shardfile_abort(). */
int shardfile_create(struct shardfile_dir *d, const uint8_t owner[PROTO_KEY_LEN], const char *name,
                     uint64_t size, struct shardfile_writer **out);
/* Writes the next piece (data borrowed, len <= SHARDFILE_PIECE_MAX, else
 * KITH_ETOOBIG). offset must be the bytes written so far (KITH_EVALUE
 * otherwise, e.g. a piece repeated or ahead) and offset + len within the
 * size (KITH_ETOOBIG); such refusals change nothing. An I/O error is
 * sticky: every later write and the commit return it. */
int shardfile_write(struct shardfile_writer *w, uint64_t offset, const uint8_t *data, size_t len);
/* Bytes written so far. */
uint64_t shardfile_written(const struct shardfile_writer *w);
/* Bytes written that the worker has not yet written back (pacing). */
uint64_t shardfile_unflushed(const struct shardfile_writer *w);
/* Consumes w, whatever the result. Returns KITH_ETRUNC when bytes are
 * missing, KITH_ECHECKSUM when they do not hash to expected (borrowed), or
 * the writer's sticky error: then the temporary is removed and done never
 * runs. Otherwise returns 0 and queues the durable naming above; done(arg,
 * err) runs later in the loop with 0 once the shard is durable under its
 * name, or -EEXIST (committed meanwhile by another writer), -ECANCELED
 * (dir closed first) or another negative code, and then nothing is kept
 * under the name. */
int shardfile_commit(struct shardfile_writer *w, const uint8_t expected[SHARDFILE_HASH_LEN],
                     shardfile_done_fn done, void *arg);
/* Consumes w and removes its temporary (in the worker); harmless on NULL. */
void shardfile_abort(struct shardfile_writer *w);

/* Reads up to len bytes (len <= SHARDFILE_READ_MAX, else KITH_ETOOBIG) of
 * a committed shard from offset into buf (borrowed); *got: how many, fewer
 * only at its end. -ENOENT when there is no such shard. */
int shardfile_read(struct shardfile_dir *d, const uint8_t owner[PROTO_KEY_LEN], const char *name,
                   uint64_t offset, uint8_t *buf, size_t len, size_t *got);
/* The size of a committed shard; -ENOENT. */
int shardfile_size(struct shardfile_dir *d, const uint8_t owner[PROTO_KEY_LEN], const char *name,
                   uint64_t *size);
/* Queues the removal of a committed shard (unlink, fsync of the owner's
 * directory) to the worker; done (may be NULL) runs in the loop with 0 or
 * -ENOENT or another code. Returns 0, KITH_EVALUE (a bad name), -ENOMEM
 * or -ESHUTDOWN;
 * when it does not return 0, done never runs. */
int shardfile_remove(struct shardfile_dir *d, const uint8_t owner[PROTO_KEY_LEN], const char *name,
                     shardfile_done_fn done, void *arg);

/* Called with each committed shard of an owner (name valid until the call
 * returns); a non-zero return stops the walk and is returned. */
typedef int (*shardfile_each_fn)(void *arg, const char *name, uint64_t size);
/* Walks owner's committed shards, in directory order (none: 0). Reads the
 * whole directory in the loop: for the index rebuild at start and for
 * audits, not per message. */
int shardfile_each(struct shardfile_dir *d, const uint8_t owner[PROTO_KEY_LEN],
                   shardfile_each_fn fn, void *arg);
/* Called with each owner that has a directory (owner valid until the call
 * returns); a non-zero return stops the walk and is returned. */
typedef int (*shardfile_owner_fn)(void *arg, const uint8_t owner[PROTO_KEY_LEN]);
int shardfile_owners(struct shardfile_dir *d, shardfile_owner_fn fn, void *arg);

#endif
