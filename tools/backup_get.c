/* kith backup get: find a snapshot's root among our backup
 * records, walk its index (backup_walk.c) and read the chunks back from
 * the holders.
 *
 * The index is walked twice: first for the pack entries (where each pack
 * is: a few hundred bytes per 16 MiB pack), then for the chunks. Chunks
 * that follow each other in one pack are gathered into extents of up to
 * EXTENT_MAX, and up to GET_EXTENTS extents (GET_WINDOW bytes) are read at
 * once, ahead of the one being written: for a snapshot written in order,
 * the next pieces of a data shard and the next data shards, at several
 * holders. The chunks are opened and written strictly in order. Memory:
 * the pack table, one index pack, the window's extents, one chunk. */
#define _GNU_SOURCE /* sync_file_range() */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "backup/seal.h"
#include "proto/ctl.h"
#include "proto/error.h"
#include "proto/identity.h"
#include "proto/peerid.h"
#include "proto/record.h"
#include "store/store.h"
#include "agentctl.h"
#include "backup.h"
#include "cli.h"
#include "relay.h"

#define EXTENT_MAX FETCH_MAX
/* Extents read at once, and their bytes at most: 32 pieces
 * (PROTO_HOLD_PIECE_MAX) in flight, under RELAY_SLOTS. An extent of one
 * chunk larger than EXTENT_MAX is read alone when it does not fit. */
#define GET_EXTENTS 8
#define GET_WINDOW (GET_EXTENTS * EXTENT_MAX)
/* Plaintext gathered for one write(): small enough that the chunks just
 * opened are still in the CPU's cache when write() copies them (1 MiB
 * made the copy cost twice the system time). */
#define OUT_BATCH ((size_t)64 << 10)
/* Output written back as the restore goes (the fsync at the end then
 * waits for little): every OUT_WRITEBACK bytes. */
#define OUT_WRITEBACK ((uint64_t)8 << 20)

/* Chunks c[0..n) of pack bytes [start, end) of pack entry pack. */
struct extent {
	struct fetch_read *rd;
	uint8_t *buf; /* cap bytes: EXTENT_MAX, or one larger chunk's */
	size_t cap;
	struct snap_chunk *c;
	size_t n, c_cap;
	size_t next; /* chunks written */
	uint32_t pack;
	uint64_t start, end;
	bool started; /* read (or being read), not written yet */
};

struct get {
	struct bk *b;
	struct fetch *fetch;
	struct seal *seal;
	const struct snap_root *root;
	struct snap_pack *packs; /* the pack entries, by ordinal */
	bool *seen;              /* which ordinals have one */
	size_t n_packs;          /* ordinals below this have room */
	uint8_t *obuf;           /* OUT_BATCH + PACK_CHUNK_MAX: chunks opened */
	size_t oused;
	uint64_t flushed, synced; /* output bytes written, and written back */
	int out;
	uint64_t written, chunks;
	/* ext[head], ... (count of them, in stream order): extents started;
	 * the last one, not started, is being gathered */
	struct extent ext[GET_EXTENTS];
	unsigned head, count;
	size_t in_flight; /* bytes of the extents started */
	bool second_pass;
	char err[400];
};

static int get_fail(struct get *g, int rc, const char *msg)
{
	if (!g->err[0])
		snprintf(g->err, sizeof(g->err), "%s", msg && msg[0] ? msg : proto_strerror(rc));
	return rc;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w, n -= (size_t)w;
	}
	return 0;
}

static int out_flush(struct get *g)
{
	int rc = write_all(g->out, g->obuf, g->oused);

	if (rc) {
		char msg[300];
		snprintf(msg, sizeof(msg), "cannot write the output: %s", strerror(-rc));
		return get_fail(g, rc, msg);
	}
	g->flushed += g->oused;
	g->oused = 0;
#ifdef __linux__
	/* Starts the writeback without waiting for it; a pipe or a device
	 * that cannot refuses, and then the fsync at the end does it all. */
	if (g->flushed - g->synced >= OUT_WRITEBACK) {
		if (g->out != STDOUT_FILENO)
			(void)sync_file_range(g->out, (off_t)g->synced,
			                      (off_t)(g->flushed - g->synced),
			                      SYNC_FILE_RANGE_WRITE);
		g->synced = g->flushed;
	}
#endif
	return 0;
}

static struct extent *ext_tail(struct get *g)
{
	return g->count ? &g->ext[(g->head + g->count - 1) % GET_EXTENTS] : NULL;
}

/* Chunk c of extent e does not open: it came from a holder that kept or
 * sent bad bytes. The first data shard it lies in that was read from its
 * holder is read around from now on, and e read again from c on. */
static int ext_reread(struct get *g, struct extent *e, const struct snap_chunk *c)
{
	const struct snap_pack *p = &g->packs[e->pack];
	size_t shard_len = (p->len + p->k - 1) / p->k;
	size_t s = c->offset / shard_len, last = (c->offset + c->sealed_len - 1) / shard_len;
	int rc;

	while (s <= last && !fetch_read_direct(e->rd, (unsigned)s))
		s++;
	if (s > last)
		return get_fail(g, KITH_EBADSIG,
		                "a chunk does not check even read around its holder");
	if (!fetch_peer_failed(g->fetch, p->holder[s])) {
		char who[PROTO_PEERID_SHORT_LEN + 1];
		proto_peerid_short(who, p->holder[s]);
		fprintf(stderr, "kith: %s sent bytes that do not check; reading around it\n", who);
		fetch_mark_failed(g->fetch, p->holder[s]);
	}
	rc = fetch_read_start(e->rd, p, c->offset, (size_t)(e->end - c->offset),
	                      e->buf + (c->offset - e->start));
	return rc ? get_fail(g, rc, fetch_error(g->fetch)) : 0;
}

/* Opens and writes out extent e's chunks, read, from e->next on. */
static int ext_write(struct get *g, struct extent *e)
{
	int rc;

	while (e->next < e->n) {
		const struct snap_chunk *c = &e->c[e->next];
		size_t plain_len;

		rc = seal_open(g->seal, g->b->keys, c->id, e->buf + (c->offset - e->start),
		               c->sealed_len, g->obuf + g->oused, PACK_CHUNK_MAX, &plain_len);
		if (rc || plain_len != c->plain_len)
			return ext_reread(g, e, c);
		g->oused += plain_len;
		g->written += plain_len;
		g->chunks++;
		e->next++;
		if (g->oused >= OUT_BATCH && (rc = out_flush(g)) != 0)
			return rc;
	}
	return 0;
}

/* Takes the answers in, and writes out the oldest extents read, in order.
 * With wait, returns once the oldest extent started is written (one slot
 * and its bytes free); else once nothing more can be written now. */
static int step(struct get *g, bool wait)
{
	int timeout = 0, rc;

	for (;;) {
		struct extent *e = &g->ext[g->head];

		rc = relay_wait(g->b->relay, timeout);
		rc = rc < 0 ? rc : fetch_pump(g->fetch);
		if (rc)
			return get_fail(g, rc, fetch_error(g->fetch));
		if (!g->count || !e->started)
			return 0;
		if (!fetch_read_done(e->rd)) {
			if (!wait)
				return 0;
			timeout = 50;
			continue;
		}
		timeout = 0;
		if ((rc = ext_write(g, e)) != 0)
			return rc;
		if (e->next < e->n)
			continue; /* read again around a holder */
		e->started = false;
		g->in_flight -= (size_t)(e->end - e->start);
		if (e->cap > EXTENT_MAX) {
			free(e->buf);
			e->buf = NULL;
			e->cap = 0;
		}
		g->head = (g->head + 1) % GET_EXTENTS;
		g->count--;
		if (wait)
			return 0;
	}
}

/* Starts reading the extent gathered, once the window has room for it. */
static int ext_start(struct get *g)
{
	struct extent *e = ext_tail(g);
	size_t len = (size_t)(e->end - e->start);
	int rc;

	while (g->in_flight && g->in_flight + len > GET_WINDOW)
		if ((rc = step(g, true)) != 0)
			return rc;
	if (e->cap < len) {
		size_t cap = len > EXTENT_MAX ? len : EXTENT_MAX;
		free(e->buf);
		e->cap = 0;
		if (!(e->buf = malloc(cap)))
			return get_fail(g, -ENOMEM, "out of memory");
		e->cap = cap;
	}
	rc = fetch_read_start(e->rd, &g->packs[e->pack], e->start, len, e->buf);
	if (rc)
		return get_fail(g, rc, fetch_error(g->fetch));
	e->started = true;
	g->in_flight += len;
	return 0;
}

/* Chunk c, in stream order: into the extent being gathered, or a new one. */
static int add_chunk(struct get *g, const struct snap_chunk *c)
{
	struct extent *e = ext_tail(g);
	int rc;

	if (!e || e->started || c->pack != e->pack || c->offset != e->end ||
	    c->offset + c->sealed_len - e->start > EXTENT_MAX) {
		if (e && !e->started && (rc = ext_start(g)) != 0)
			return rc;
		if (g->count == GET_EXTENTS && (rc = step(g, true)) != 0)
			return rc;
		e = &g->ext[(g->head + g->count++) % GET_EXTENTS];
		e->pack = c->pack;
		e->start = e->end = c->offset;
		e->n = e->next = 0;
		if ((rc = step(g, false)) != 0)
			return rc;
	}
	if (e->n == e->c_cap) {
		size_t cap = e->c_cap ? 2 * e->c_cap : 256;
		struct snap_chunk *p = realloc(e->c, cap * sizeof(*p));
		if (!p)
			return get_fail(g, -ENOMEM, "out of memory");
		e->c = p;
		e->c_cap = cap;
	}
	e->c[e->n++] = *c;
	e->end = (uint64_t)c->offset + c->sealed_len;
	return 0;
}

/* Reads and writes what is left once the walk ended. */
static int finish(struct get *g)
{
	struct extent *e = ext_tail(g);
	int rc;

	if (e && !e->started && (rc = ext_start(g)) != 0)
		return rc;
	while (g->count)
		if ((rc = step(g, true)) != 0)
			return rc;
	return out_flush(g);
}

static int on_entry(void *arg, const struct snap_entry *e)
{
	struct get *g = arg;
	const struct snap_chunk *c = &e->chunk;

	if (e->type == SNAP_ENTRY_PACK) {
		if (g->second_pass)
			return 0;
		/* Ordinals are 0..n-1 for n pack entries, and there is at most
		 * one pack entry per chunk entry (plus the last pack's). */
		if (e->ordinal > g->root->chunks)
			return get_fail(g, KITH_EVALUE,
			                "the index numbers its packs past its chunks");
		if (e->ordinal >= g->n_packs) {
			size_t n = g->n_packs ? g->n_packs : 64;
			struct snap_pack *p;
			bool *seen;
			while (n <= e->ordinal)
				n *= 2;
			p = realloc(g->packs, n * sizeof(*p));
			if (p)
				g->packs = p;
			seen = p ? realloc(g->seen, n * sizeof(*seen)) : NULL;
			if (!seen)
				return get_fail(g, -ENOMEM, "out of memory");
			memset(seen + g->n_packs, 0, (n - g->n_packs) * sizeof(*seen));
			g->seen = seen;
			g->n_packs = n;
		}
		if (g->seen[e->ordinal])
			return get_fail(g, KITH_EVALUE, "the index names one pack ordinal twice");
		g->seen[e->ordinal] = true;
		g->packs[e->ordinal] = e->pack;
		return 0;
	}
	if (!g->second_pass)
		return 0;
	if (c->pack >= g->n_packs || !g->seen[c->pack] ||
	    snap_chunk_check(c, &g->packs[c->pack]) != 0)
		return get_fail(g, KITH_EVALUE, "the index names a chunk outside its packs");
	return add_chunk(g, c);
}

int backup_get(struct bk *b, const char *name, const char *snapshot, const char *out, bool json)
{
	struct bk_roots r = {0};
	struct get *g = calloc(1, sizeof(*g));
	char tmp[4200], size[32];
	int rc = CLI_FAIL;

	if (!g)
		return cli_fail("out of memory");
	if (bk_roots_load(b, name, &r) != CLI_OK)
		goto out;
	g->b = b;
	g->root = bk_roots_pick(&r, snapshot);
	if (!g->root) {
		cli_fail(snapshot ? "no snapshot %s of %s"
		                  : "no snapshot%s of %s (see kith backup ls)",
		         snapshot ? snapshot : "", name);
		goto out;
	}
	g->obuf = malloc(OUT_BATCH + PACK_CHUNK_MAX);
	if (!g->obuf || fetch_new(&g->fetch, b) != 0 || seal_new(&g->seal, PACK_CHUNK_MAX) != 0) {
		cli_fail("out of memory");
		goto out;
	}
	for (unsigned i = 0; i < GET_EXTENTS; i++)
		if (fetch_read_new(g->fetch, &g->ext[i].rd) != 0) {
			cli_fail("out of memory");
			goto out;
		}
	bk_skip_dead(b, g->fetch);
	if (!out || !strcmp(out, "-")) {
		g->out = STDOUT_FILENO;
	} else {
		snprintf(tmp, sizeof(tmp), "%s.kith-partial", out);
		g->out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (g->out < 0) {
			cli_fail("cannot write %s: %s", tmp, strerror(errno));
			goto out;
		}
	}
	/* Pack entries first, then the chunks (snapshot.h says why). */
	if (bk_walk(b, g->fetch, g->root, on_entry, NULL, g, g->err, sizeof(g->err)) == 0) {
		g->second_pass = true;
		if (bk_walk(b, g->fetch, g->root, on_entry, NULL, g, g->err, sizeof(g->err)) == 0)
			finish(g);
	}
	if (!g->err[0] && (g->written != g->root->size || g->chunks != g->root->chunks))
		get_fail(g, KITH_EVALUE, "the snapshot's index does not add up to its size");
	if (g->out != STDOUT_FILENO) {
		if (!g->err[0] && (fsync(g->out) != 0 || rename(tmp, out) != 0))
			get_fail(g, -errno, strerror(errno));
		close(g->out);
		if (g->err[0])
			unlink(tmp);
	}
	if (g->err[0]) {
		cli_fail("cannot restore %s: %s", name, g->err);
		goto out;
	}
	if (out && strcmp(out, "-") && json)
		printf("{\"name\": \"%s\", \"size\": %" PRIu64 ", \"output\": \"%s\"}\n", name,
		       g->written, out);
	else if (out && strcmp(out, "-"))
		printf("restored %s (%s) to %s\n", name, bk_bytes(size, sizeof(size), g->written),
		       out);
	rc = CLI_OK;
out:
	for (unsigned i = 0; i < GET_EXTENTS; i++) {
		fetch_read_free(&g->ext[i].rd);
		free(g->ext[i].buf);
		free(g->ext[i].c);
	}
	fetch_free(&g->fetch);
	seal_free(&g->seal);
	free(g->obuf);
	free(g->packs);
	free(g->seen);
	free(g);
	bk_roots_free(&r);
	return rc;
}
