/* kith backup get: find a snapshot's root among our backup
 * records, walk its index (backup_walk.c) and read the chunks back from
 * the holders.
 *
 * The index is walked twice: first for the pack entries (where each pack
 * is: a few hundred bytes per 16 MiB pack), then for the chunks, each
 * read, opened and written in order. Memory: the pack table, one index
 * pack, one extent of chunks. */
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

/* ---- walking an index ---- */

struct get {
	struct bk *b;
	struct fetch *fetch;
	struct seal *seal;
	const struct snap_root *root;
	struct snap_pack *packs; /* the pack entries, by ordinal */
	bool *seen;              /* which ordinals have one */
	size_t n_packs;          /* ordinals below this have room */
	uint8_t *plain;          /* a data chunk opened, PACK_CHUNK_MAX */
	uint8_t *iplain;         /* the index chunk being walked, PACK_CHUNK_MAX */
	uint8_t *extent;         /* EXTENT_MAX */
	int out;
	uint64_t written, chunks;
	/* the extent being gathered: chunks [first, first + n) of one pack */
	struct snap_chunk ext[EXTENT_MAX / SEAL_OVERHEAD];
	size_t n_ext;
	uint64_t ext_end;
	bool second_pass;
	char err[400];
};

static int get_fail(struct get *g, int rc, const char *msg)
{
	if (!g->err[0])
		snprintf(g->err, sizeof(g->err), "%s", msg);
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

/* Reads the extent gathered and writes its chunks out, in order. A chunk
 * that does not open came from a holder that kept or sent bad bytes: that
 * holder is read around and the extent read again. */
static int extent_flush(struct get *g)
{
	const struct snap_pack *p;
	uint64_t start;
	size_t len;
	int rc;

	if (!g->n_ext)
		return 0;
	p = &g->packs[g->ext[0].pack];
	start = g->ext[0].offset;
	len = (size_t)(g->ext_end - start);
	for (unsigned attempt = 0; attempt <= (unsigned)p->m + 1u; attempt++) {
		size_t shard_len = (p->len + p->k - 1) / p->k, bad = SIZE_MAX;

		rc = fetch_range(g->fetch, p, start, len, g->extent);
		if (rc)
			return get_fail(g, rc, fetch_error(g->fetch));
		for (size_t i = 0; i < g->n_ext && bad == SIZE_MAX; i++) {
			const struct snap_chunk *c = &g->ext[i];
			size_t plain_len;
			rc = seal_open(g->seal, g->b->keys, c->id, g->extent + (c->offset - start),
			               c->sealed_len, g->plain, PACK_CHUNK_MAX, &plain_len);
			if (rc || plain_len != c->plain_len) {
				bad = c->offset / shard_len;
				break;
			}
		}
		if (bad == SIZE_MAX)
			break;
		if (fetch_peer_failed(g->fetch, p->holder[bad]))
			return get_fail(g, KITH_EBADSIG,
			                "a chunk does not check even read around its holder");
		{
			char who[PROTO_PEERID_SHORT_LEN + 1];
			proto_peerid_short(who, p->holder[bad]);
			fprintf(stderr,
			        "kith: %s sent bytes that do not check; reading around it\n", who);
		}
		fetch_mark_failed(g->fetch, p->holder[bad]);
	}
	if (rc)
		return get_fail(g, rc, "damaged chunks");
	for (size_t i = 0; i < g->n_ext; i++) {
		const struct snap_chunk *c = &g->ext[i];
		size_t plain_len;
		rc = seal_open(g->seal, g->b->keys, c->id, g->extent + (c->offset - start),
		               c->sealed_len, g->plain, PACK_CHUNK_MAX, &plain_len);
		if (!rc)
			rc = write_all(g->out, g->plain, plain_len);
		if (rc)
			return get_fail(g, rc, "cannot write the output");
		g->written += plain_len;
		g->chunks++;
	}
	g->n_ext = 0;
	return 0;
}

static int on_entry(void *arg, const struct snap_entry *e)
{
	struct get *g = arg;
	const struct snap_chunk *c = &e->chunk;
	int rc;

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
	if (g->n_ext &&
	    (c->pack != g->ext[0].pack || c->offset != g->ext_end ||
	     c->offset + c->sealed_len - g->ext[0].offset > EXTENT_MAX ||
	     g->n_ext == sizeof(g->ext) / sizeof(g->ext[0])) &&
	    (rc = extent_flush(g)) != 0)
		return rc;
	g->ext[g->n_ext++] = *c;
	g->ext_end = (uint64_t)c->offset + c->sealed_len;
	return 0;
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
	g->plain = malloc(PACK_CHUNK_MAX);
	g->extent = malloc(EXTENT_MAX);
	if (!g->plain || !g->extent || fetch_new(&g->fetch, b) != 0 ||
	    seal_new(&g->seal, PACK_CHUNK_MAX) != 0) {
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
	if (bk_walk(b, g->fetch, g->root, on_entry, g, g->err, sizeof(g->err)) == 0) {
		g->second_pass = true;
		if (bk_walk(b, g->fetch, g->root, on_entry, g, g->err, sizeof(g->err)) == 0)
			extent_flush(g);
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
	fetch_free(&g->fetch);
	seal_free(&g->seal);
	free(g->plain);
	free(g->extent);
	free(g->packs);
	free(g->seen);
	free(g);
	bk_roots_free(&r);
	return rc;
}
