/* kith backup get and ls: find a snapshot's root among our backup
 * records, walk its index and read the chunks back from the holders.
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

#define INDEX_SEQ_LEN 8
#define EXTENT_MAX FETCH_MAX
#define ROOTS_MAX 4096

/* ---- finding roots ---- */

struct roots {
	struct bk *b;
	const char *name;       /* NULL: every name */
	struct snap_root *list; /* n of them, heap */
	size_t n, cap;
	size_t unreadable;
};

static int one_root(void *arg, const uint8_t *buf, size_t len)
{
	struct roots *r = arg;
	struct proto_record rec;
	struct snap_root *root;

	if (proto_record_decode(&rec, buf, len) != 0 || rec.body_len == 0)
		return 0; /* forgotten */
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 8;
		struct snap_root *p;
		if (cap > ROOTS_MAX)
			return 0;
		p = realloc(r->list, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		r->list = p;
		r->cap = cap;
	}
	root = &r->list[r->n];
	if (snap_root_open(root, rec.body, rec.body_len, r->b->keys, rec.author, rec.name) != 0) {
		r->unreadable++;
		return 0;
	}
	if (!r->name || !strcmp(root->name, r->name))
		r->n++;
	return 0;
}

static int by_name_time(const void *a, const void *b)
{
	const struct snap_root *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c)
		return c;
	return x->time < y->time ? -1 : x->time > y->time;
}

/* Our snapshots (of name, or all), sorted by name then time. */
static int load_roots(struct bk *b, const char *name, struct roots *r)
{
	struct store *s;
	int rc;

	*r = (struct roots){.b = b, .name = name};
	if (cli_open_store(&s, b->data_dir) != CLI_OK)
		return CLI_FAIL;
	rc = store_records_of_kind(s, b->id->pk, PROTO_KIND_BACKUP, one_root, r);
	store_close(&s);
	if (rc)
		return cli_fail("cannot read the backup records: %s", proto_strerror(rc));
	if (r->unreadable)
		fprintf(stderr, "kith: %zu backup records do not open with this identity's keys\n",
		        r->unreadable);
	qsort(r->list, r->n, sizeof(*r->list), by_name_time);
	return CLI_OK;
}

/* ---- kith backup ls ---- */

int backup_ls(struct bk *b, const char *name, bool json)
{
	struct roots r;
	char id[2 * SNAP_ID_LEN + 1], when[32], size[32], fresh[32];

	if (load_roots(b, name, &r) != CLI_OK)
		return CLI_FAIL;
	if (json)
		fputs("[", stdout);
	else if (r.n)
		printf("%-20s %-16s %-20s %12s %12s\n", "NAME", "SNAPSHOT", "TIME (UTC)", "SIZE",
		       "NEW");
	for (size_t i = 0; i < r.n; i++) {
		const struct snap_root *s = &r.list[i];
		time_t t = (time_t)s->time;
		struct tm tm;

		sodium_bin2hex(id, sizeof(id), s->id, SNAP_ID_LEN);
		gmtime_r(&t, &tm);
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
		if (json)
			printf("%s\n {\"name\": \"%s\", \"snapshot\": \"%s\", \"time\": %" PRIu64
			       ", \"size\": %" PRIu64 ", \"chunks\": %" PRIu64
			       ", \"bytes_new\": %" PRIu64 "}",
			       i ? "," : "", s->name, id, s->time, s->size, s->chunks,
			       s->bytes_new);
		else
			printf("%-20s %-16.16s %-20s %12s %12s\n", s->name, id, when,
			       bk_bytes(size, sizeof(size), s->size),
			       bk_bytes(fresh, sizeof(fresh), s->bytes_new));
	}
	if (json)
		puts(r.n ? "\n]" : "]");
	else if (!r.n)
		printf(name ? "no snapshot of %s\n" : "no backups%s\n", name ? name : "");
	free(r.list);
	return CLI_OK;
}

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

static int on_entry(struct get *g, const struct snap_entry *e)
{
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

/* Reads index pack p whole and walks its entries. */
static int walk_pack(struct get *g, const struct snap_pack *p, uint64_t *seq)
{
	uint8_t *buf = malloc(p->len);
	struct pack_table *t = NULL;
	int rc;

	if (!buf)
		return get_fail(g, -ENOMEM, "out of memory");
	rc = fetch_range(g->fetch, p, 0, p->len, buf);
	if (rc) {
		free(buf);
		return get_fail(g, rc, fetch_error(g->fetch));
	}
	rc = pack_open_table(buf, p->len, g->b->keys, &t);
	if (rc || pack_table_kind(t) != PACK_KIND_INDEX) {
		free(buf);
		pack_table_free(&t);
		return get_fail(g, rc ? rc : KITH_EVALUE, "an index pack does not open");
	}
	for (size_t i = 0; !rc && i < pack_table_count(t); i++) {
		const struct pack_entry *pe = pack_table_entry(t, i);
		const uint8_t *sealed;
		size_t sealed_len, plain_len, used;
		uint64_t got = 0;

		rc = pack_table_chunk(t, i, &sealed, &sealed_len);
		if (!rc)
			rc = seal_open(g->seal, g->b->keys, pe->id, sealed, sealed_len, g->iplain,
			               PACK_CHUNK_MAX, &plain_len);
		if (rc) {
			get_fail(g, rc, "an index chunk does not open");
			break;
		}
		for (unsigned j = 0; j < INDEX_SEQ_LEN && j < plain_len; j++)
			got |= (uint64_t)g->iplain[j] << (8 * j);
		if (plain_len < INDEX_SEQ_LEN || got != *seq) {
			rc = get_fail(g, KITH_EVALUE, "the index chunks are out of order");
			break;
		}
		(*seq)++;
		for (size_t at = INDEX_SEQ_LEN; !rc && at < plain_len; at += used) {
			struct snap_entry e;
			rc = snap_entry_decode(&e, g->iplain + at, plain_len - at, &used);
			if (rc)
				get_fail(g, rc, "an index entry does not decode");
			else
				rc = on_entry(g, &e);
		}
	}
	pack_table_free(&t);
	free(buf);
	return rc;
}

static int walk(struct get *g)
{
	uint64_t seq = 0;
	int rc = 0;

	for (uint32_t i = 0; !rc && i < g->root->n_index; i++)
		rc = walk_pack(g, &g->root->index[i], &seq);
	return rc;
}

/* Members kithd sees dead or gone: read around them from the start rather
 * than wait for each to time out. */
static void skip_dead(struct get *g)
{
	struct agentctl_request req;
	struct agentctl_reply reply;
	char text[128], state[32], why[160];
	uint8_t peer[PROTO_KEY_LEN];

	agentctl_begin(&req, CTL_CMD_MEMBERS);
	if (agentctl_call(g->b->data_dir, &req, &reply) != CLI_OK)
		return;
	for (uint32_t i = 0; reply.data && reply.data->type == MSGPACK_OBJECT_ARRAY &&
	                     i < reply.data->via.array.size;
	     i++) {
		const msgpack_object *o = &reply.data->via.array.ptr[i];
		agentctl_text(o, CTL_REPLY_STATE, state, sizeof(state));
		if (!strcmp(state, "alive") ||
		    proto_peerid_parse(peer, agentctl_text(o, CTL_REPLY_ID, text, sizeof(text)),
		                       why, sizeof(why)) != 0)
			continue;
		fetch_mark_failed(g->fetch, peer);
	}
	agentctl_reply_free(&reply);
}

static const struct snap_root *pick(const struct roots *r, const char *snapshot)
{
	char id[2 * SNAP_ID_LEN + 1];

	for (size_t i = r->n; i-- > 0;) {
		sodium_bin2hex(id, sizeof(id), r->list[i].id, SNAP_ID_LEN);
		if (!snapshot || !strncmp(id, snapshot, strlen(snapshot)))
			return &r->list[i];
	}
	return NULL;
}

int backup_get(struct bk *b, const char *name, const char *snapshot, const char *out, bool json)
{
	struct roots r;
	struct get *g = calloc(1, sizeof(*g));
	char tmp[4200], size[32];
	int rc = CLI_FAIL;

	if (!g)
		return cli_fail("out of memory");
	if (load_roots(b, name, &r) != CLI_OK)
		goto out;
	g->b = b;
	g->root = pick(&r, snapshot);
	if (!g->root) {
		cli_fail(snapshot ? "no snapshot %s of %s"
		                  : "no snapshot%s of %s (see kith backup ls)",
		         snapshot ? snapshot : "", name);
		goto out;
	}
	g->plain = malloc(PACK_CHUNK_MAX);
	g->iplain = malloc(PACK_CHUNK_MAX);
	g->extent = malloc(EXTENT_MAX);
	if (!g->plain || !g->iplain || !g->extent || fetch_new(&g->fetch, b) != 0 ||
	    seal_new(&g->seal, PACK_CHUNK_MAX) != 0) {
		cli_fail("out of memory");
		goto out;
	}
	skip_dead(g);
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
	if (walk(g) == 0) {
		g->second_pass = true;
		if (walk(g) == 0)
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
	free(g->iplain);
	free(g->extent);
	free(g->packs);
	free(g->seen);
	free(g);
	free(r.list);
	return rc;
}
