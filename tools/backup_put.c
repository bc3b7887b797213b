/* kith backup put: a stream in, a snapshot out.
 *
 *   bytes -> chunker -> chunk ID -> known? (the pack being built, or the
 *         chunk cache: backup_cache.h) -> a reference to it; else
 *         -> sealed chunk -> data pack -> k + m shards at partners
 *   each chunk -> an index entry -> index chunks -> index packs
 *   index packs' placements -> the root, sealed, published by kithd
 *
 * One pack is shipped while the next is filled, so the memory is one pack
 * being built, one being shipped (with its parity) and the index pack:
 * about 12 + 18 + 8 MiB at 4+2 (BK_DATA_PACK_TARGET), whatever the
 * stream's size. The snapshot
 * exists once its root is published, after every shard of it was
 * committed: a put that stops half way leaves no snapshot. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "backup/chunker.h"
#include "backup/seal.h"
#include "proto/ctl.h"
#include "proto/error.h"
#include "proto/identity.h"
#include "proto/peerid.h"
#include "agentctl.h"
#include "backup.h"
#include "backup_cache.h"
#include "cli.h"
#include "relay.h"

#define READ_BLOCK ((size_t)1 << 20)

/* Data packs stored whose entries wait for the next index_add(): the
 * last two packs end one after the other at the end of a put. */
#define PLACED_MAX 4

/* Compression that does not pay: after ZSTD_MISSES chunks in a row that
 * zstd could not shrink (encrypted, already compressed data), the next
 * ZSTD_REST go raw without trying, then zstd tries again. On random data
 * this saves the ~10% of a put zstd spent failing; compressible data
 * never rests. */
#define ZSTD_MISSES 16
#define ZSTD_REST 64

/* The ordinal of a cached pack that may not be named (a holder of it is
 * gone). */
#define REF_NONE UINT32_MAX

struct put {
	struct bk *b;
	struct cache *cache; /* NULL: none could be opened, every chunk is new */
	struct bk_set refs;  /* the packs this snapshot names, or may not */
	uint32_t *ordinals;  /* by index in refs: the pack's ordinal, or REF_NONE */
	size_t cap_ordinals;
	uint32_t next_ordinal;
	uint32_t building;               /* ordinal of the data pack being filled */
	uint32_t shipped;                /* and of the data pack being shipped */
	struct pack_entry *ship_entries; /* the chunks of the data pack being shipped */
	size_t n_ship_entries, cap_ship_entries;
	struct chunker *chunker;
	struct seal *seal;
	struct pack_writer *data;
	struct ship *ship; /* data packs, and the index's (ixw_ships()) */
	struct ixw *index;
	uint8_t *chunk; /* the chunk being cut, CHUNKER_MAX_DEFAULT */
	size_t chunk_len;
	uint8_t *sealed; /* a data chunk sealed, seal_max_len(CHUNKER_MAX_DEFAULT) */
	struct snap_root *root;
	/* A data pack shipped whose entry is not in the index yet: filed by
	 * the next index_add(), never from inside the index writer (which
	 * ships index packs, and so may see a data pack end). */
	struct snap_entry placed[PLACED_MAX];
	unsigned n_placed;
	struct snap_pack cached;        /* scratch for a cache lookup */
	unsigned zstd_misses, zstd_off; /* adapt_zstd() */
	/* The packs this put stored, to take back if it fails for want of
	 * room: IDs, and for each the index in b->holders of its k + m
	 * shards' holders (44 bytes a pack at 4+2). */
	uint8_t (*stored)[PACK_ID_LEN];
	uint16_t *stored_at;
	size_t n_stored, cap_stored;
	unsigned shards;
	int rc;
	char err[400];
	uint64_t last_progress_ms, started_ms;
};

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void progress(struct put *p, bool last)
{
	char r[32], s[32];
	uint64_t now = mono_ms(), ms = now - p->started_ms;

	if (!p->b->progress || (!last && now - p->last_progress_ms < 500))
		return;
	p->last_progress_ms = now;
	fprintf(stderr, "\r%s read, %s sent, %.0f MB/s   %s", bk_bytes(r, sizeof(r), p->root->size),
	        bk_bytes(s, sizeof(s), p->b->sent),
	        ms ? (double)p->root->size / 1000.0 / (double)ms : 0.0, last ? "\n" : "");
}

static int ref_put(struct put *p, const uint8_t id[PACK_ID_LEN], uint32_t ordinal)
{
	size_t i;
	bool found;

	if (bk_set_add(&p->refs, id, &i, &found) != 0)
		return BK_FAIL(p, -ENOMEM, "%s", "out of memory");
	if (i >= p->cap_ordinals) {
		size_t cap = p->refs.cap;
		uint32_t *o = realloc(p->ordinals, cap * sizeof(*o));
		if (!o)
			return BK_FAIL(p, -ENOMEM, "%s", "out of memory");
		p->ordinals = o;
		p->cap_ordinals = cap;
	}
	p->ordinals[i] = ordinal;
	return 0;
}

static int remember(struct put *p, const struct snap_pack *pl)
{
	if (p->n_stored == p->cap_stored) {
		size_t cap = p->cap_stored ? 2 * p->cap_stored : 64;
		uint8_t(*ids)[PACK_ID_LEN] = realloc(p->stored, cap * sizeof(*ids));
		uint16_t *at = ids ? realloc(p->stored_at, cap * p->shards * sizeof(*at)) : NULL;
		if (ids)
			p->stored = ids;
		if (!at)
			return BK_FAIL(p, -ENOMEM, "%s", "out of memory");
		p->stored_at = at;
		p->cap_stored = cap;
	}
	memcpy(p->stored[p->n_stored], pl->id, PACK_ID_LEN);
	for (unsigned i = 0; i < p->shards; i++)
		p->stored_at[p->n_stored * p->shards + i] =
		    (uint16_t)bk_holder(p->b, pl->holder[i]);
	p->n_stored++;
	return 0;
}

static void on_undone(void *arg, int code, const char *err, const uint8_t *result, size_t len)
{
	size_t *n = arg;

	(void)err, (void)result, (void)len;
	*n += code == 0;
}

/* Deletes shard i of pack id at peer; counts it in *n. */
static void undo_one(struct put *p, const uint8_t id[PACK_ID_LEN], unsigned i,
                     const uint8_t peer[PROTO_KEY_LEN], size_t *n)
{
	struct proto_hold_name name = {0};
	struct mp_buf buf = {0};

	bk_shard_name(name.name, id, i);
	if (proto_hold_name_encode(&buf, &name) == 0)
		bk_call(p->b, peer, PROTO_OP_HOLD_DEL, &buf, on_undone, n);
	mp_buf_free(&buf);
}

/* A put that failed for want of room takes back what it stored: no
 * snapshot names it, and it would only fill the holders further. */
static void undo(struct put *p)
{
	static const uint8_t none[PROTO_KEY_LEN];
	const struct snap_pack *now = ship_placed(p->ship);
	size_t n = 0;

	for (size_t j = 0; j < p->n_stored; j++) {
		for (unsigned i = 0; i < p->shards; i++) {
			uint16_t at = p->stored_at[j * p->shards + i];
			if (at < p->b->n_holders)
				undo_one(p, p->stored[j], i, p->b->holders[at].peer, &n);
		}
		if (p->cache)
			cache_pack_del(p->cache, p->stored[j]);
	}
	for (unsigned i = 0; i < (unsigned)now->k + now->m; i++)
		if (memcmp(now->holder[i], none, PROTO_KEY_LEN))
			undo_one(p, now->id, i, now->holder[i], &n);
	if (n)
		fprintf(stderr, "kith: took back the %zu shards this put had stored\n", n);
}

/* Waits for the pack being shipped and files its placement: a data
 * pack's for the index (p->placed), an index pack's with the index
 * writer. */
static int ship_finish(struct put *p)
{
	struct snap_entry e = {.type = SNAP_ENTRY_PACK};

	if (!ship_busy(p->ship))
		return 0;
	int rc = ship_wait(p->ship, &e.pack);

	if (rc)
		return BK_FAIL(p, rc, "%s", ship_error(p->ship));
	if ((rc = remember(p, &e.pack)) != 0)
		return rc;
	if (ixw_ships(p->index)) {
		if (ixw_shipped(p->index, &e.pack) != 0)
			return BK_FAIL(p, KITH_ETOOBIG, "%s", ixw_error(p->index));
		return 0;
	}
	e.ordinal = p->shipped;
	if (p->n_placed == PLACED_MAX)
		return BK_FAIL(p, KITH_ETOOMANY, "%s", "packs stored faster than indexed");
	p->placed[p->n_placed++] = e;
	/* Stored: later chunks may name it, in this put and the next. */
	if (p->cache && cache_pack_put(p->cache, &e.pack, p->ship_entries, p->n_ship_entries) != 0)
		fprintf(stderr, "kith: cannot write the chunk cache; the next put sends more\n");
	if (p->cache)
		cache_trim(p->cache);
	return ref_put(p, e.pack.id, p->shipped);
}

/* The index writer's drain: leaves the ship idle. */
static int ship_idle(void *arg)
{
	struct put *p = arg;

	while (ship_busy(p->ship) && !p->rc)
		ship_finish(p);
	return p->rc;
}

/* Copies the chunks of the data pack about to be shipped, for the cache. */
static int keep_entries(struct put *p, const struct pack_writer *w)
{
	size_t n = pack_writer_count(w);

	if (n > p->cap_ship_entries) {
		struct pack_entry *e = realloc(p->ship_entries, n * sizeof(*e));
		if (!e)
			return BK_FAIL(p, -ENOMEM, "%s", "out of memory");
		p->ship_entries = e;
		p->cap_ship_entries = n;
	}
	for (size_t i = 0; i < n; i++)
		pack_writer_entry(w, i, &p->ship_entries[i]);
	p->n_ship_entries = n;
	return 0;
}

/* Ships the finished data pack and resets the writer. */
static int ship_data(struct put *p)
{
	struct pack_writer *w = p->data;
	const uint8_t *pack;
	size_t len;
	int rc;

	if (!pack_writer_count(w))
		return 0;
	if (ship_idle(p) != 0)
		return p->rc;
	if ((rc = pack_writer_finish(w, p->b->keys, &pack, &len, NULL)) != 0)
		return BK_FAIL(p, rc, "cannot finish a pack: %s", proto_strerror(rc));
	if ((rc = keep_entries(p, w)) != 0)
		return rc;
	if ((rc = ship_start(p->ship, pack, len)) != 0)
		return BK_FAIL(p, rc, "%s", ship_error(p->ship));
	pack_writer_reset(w);
	p->shipped = p->building;
	return 0;
}

static int index_append(struct put *p, const struct snap_entry *e)
{
	if (ixw_add(p->index, e) != 0)
		return BK_FAIL(p, KITH_EVALUE, "%s", ixw_error(p->index));
	return 0;
}

/* Files the shipped data pack's placement, then e (NULL: none). Appending
 * may ship an index pack and so end a data pack's shipping: loop. */
static int index_add(struct put *p, const struct snap_entry *e)
{
	while (p->n_placed && !p->rc) {
		struct snap_entry placed = p->placed[0];
		memmove(p->placed, p->placed + 1, --p->n_placed * sizeof(p->placed[0]));
		index_append(p, &placed);
	}
	return p->rc || !e ? p->rc : index_append(p, e);
}

/* The ordinal of cached pack c in this snapshot, REF_NONE when it may not
 * be named: every shard's holder must still be one of ours, else a new
 * snapshot would lean on a shard that is going away. */
static uint32_t cached_ordinal(struct put *p, const struct snap_pack *c)
{
	struct snap_entry e = {.type = SNAP_ENTRY_PACK, .pack = *c};
	long known = bk_set_find(&p->refs, c->id);
	uint32_t ordinal = p->next_ordinal;

	if (known >= 0)
		return p->ordinals[known];
	for (unsigned i = 0; i < (unsigned)c->k + c->m; i++) {
		long h = bk_holder(p->b, c->holder[i]);
		if (h < 0 || p->b->failed[h])
			ordinal = REF_NONE;
	}
	if (ref_put(p, c->id, ordinal) != 0)
		return REF_NONE;
	if (ordinal != REF_NONE) {
		p->next_ordinal++;
		e.ordinal = ordinal;
		if (index_add(p, &e) != 0)
			return REF_NONE;
	}
	return ordinal;
}

/* After sealing a chunk into p->sealed: was zstd worth trying? */
static void adapt_zstd(struct put *p)
{
	if (p->zstd_off) {
		p->zstd_off--;
		return;
	}
	if (p->sealed[1] & SEAL_FLAG_ZSTD) {
		p->zstd_misses = 0;
	} else if (++p->zstd_misses == ZSTD_MISSES) {
		p->zstd_misses = 0;
		p->zstd_off = ZSTD_REST;
	}
}

static int add_chunk(struct put *p, const uint8_t *plain, size_t len)
{
	struct snap_entry e = {.type = SNAP_ENTRY_CHUNK};
	struct snap_pack *cached = &p->cached;
	struct pack_entry pe;
	size_t sealed_len;
	int rc;

	seal_chunk_id(e.chunk.id, p->b->keys, plain, len);
	if (pack_writer_find(p->data, e.chunk.id, &pe) == 0) {
		e.chunk.pack = p->building;
	} else if (p->cache && cache_chunk_get(p->cache, e.chunk.id, cached, &pe) == 0 &&
	           (e.chunk.pack = cached_ordinal(p, cached)) != REF_NONE) {
		/* kept by partners already */
	} else {
		rc = seal_chunk(p->seal, p->b->keys, p->zstd_off ? SEAL_LEVEL_OFF : 0, e.chunk.id,
		                plain, len, p->sealed, seal_max_len(CHUNKER_MAX_DEFAULT),
		                &sealed_len);
		if (rc)
			return BK_FAIL(p, rc, "cannot seal a chunk: %s", proto_strerror(rc));
		adapt_zstd(p);
		if (!pack_writer_fits(p->data, sealed_len) && (rc = ship_data(p)) != 0)
			return rc;
		if (!pack_writer_count(p->data))
			p->building = p->next_ordinal++;
		rc = pack_writer_add(p->data, e.chunk.id, p->sealed, sealed_len, len);
		if (!rc)
			rc = pack_writer_find(p->data, e.chunk.id, &pe);
		if (rc)
			return BK_FAIL(p, rc, "cannot add a chunk: %s", proto_strerror(rc));
		p->root->bytes_new += sealed_len;
		e.chunk.pack = p->building;
	}
	e.chunk.offset = pe.offset;
	e.chunk.sealed_len = pe.sealed_len;
	e.chunk.plain_len = pe.plain_len;
	return index_add(p, &e);
}

/* Feeds buf[0..len) to the chunker, adding each chunk as it is cut. */
static int feed(struct put *p, const uint8_t *buf, size_t len)
{
	while (len && !p->rc) {
		bool cut;
		size_t n = chunker_next(p->chunker, buf, len, &cut);

		memcpy(p->chunk + p->chunk_len, buf, n);
		p->chunk_len += n;
		buf += n, len -= n;
		if (cut) {
			add_chunk(p, p->chunk, p->chunk_len);
			p->chunk_len = 0;
		}
	}
	if (ship_busy(p->ship) && !p->rc) {
		/* Keep the pack being shipped moving while this one fills. */
		if (relay_wait(p->b->relay, 0) < 0 || ship_pump(p->ship) != 0)
			ship_finish(p);
	}
	return p->rc;
}

static int put_new(struct put *p, struct bk *b, unsigned k, unsigned m)
{
	int rc;

	memset(p, 0, sizeof(*p));
	p->b = b;
	p->shards = k + m;
	p->root = calloc(1, sizeof(*p->root));
	p->chunk = malloc(CHUNKER_MAX_DEFAULT);
	p->sealed = malloc(seal_max_len(CHUNKER_MAX_DEFAULT));
	if (!p->root || !p->chunk || !p->sealed)
		return -ENOMEM;
	rc = chunker_new(&p->chunker, b->keys->chunker, NULL);
	if (!rc)
		rc = seal_new(&p->seal, CHUNKER_MAX_DEFAULT);
	if (!rc)
		rc = pack_writer_new(&p->data, PACK_KIND_DATA, BK_DATA_PACK_TARGET);
	if (!rc)
		rc = ship_new(&p->ship, b, k, m);
	if (!rc)
		rc = ixw_new(&p->index, b, p->ship, p->root, ship_idle, p);
	if (!rc && cache_open(&p->cache, b->data_dir) != 0)
		fprintf(stderr, "kith: no chunk cache in %s/backup-cache: every chunk is sent\n",
		        b->data_dir);
	return rc;
}

static void put_free(struct put *p)
{
	cache_close(&p->cache);
	free(p->stored);
	free(p->stored_at);
	bk_set_free(&p->refs);
	free(p->ordinals);
	free(p->ship_entries);
	ship_free(&p->ship);
	ixw_free(&p->index);
	pack_writer_free(&p->data);
	seal_free(&p->seal);
	chunker_free(&p->chunker);
	free(p->root);
	free(p->chunk);
	free(p->sealed);
}

/* The default code for n holders alive: 4+2 from 6 up, then as much
 * parity as the holders allow while keeping k >= m. */
static void default_code(size_t n, unsigned *k, unsigned *m)
{
	if (n >= 6)
		*k = 4, *m = 2;
	else if (n >= 2)
		*m = (unsigned)n / 2 < 2 ? (unsigned)n / 2 : 2, *k = (unsigned)n - *m;
	else
		*k = 1, *m = 0;
}

static int publish_root(struct put *p, char *record)
{
	struct agentctl_request req;
	struct agentctl_reply reply;
	size_t len;
	uint8_t *body = malloc(SNAP_ROOT_SEALED_MAX);
	int rc;

	if (!body)
		return BK_FAIL(p, -ENOMEM, "%s", "out of memory");
	rc = snap_record_name(record, p->b->keys, p->root->name, p->root->id);
	if (!rc)
		rc = snap_root_seal(body, SNAP_ROOT_SEALED_MAX, &len, p->root, p->b->keys,
		                    p->b->id->pk, record);
	if (rc) {
		free(body);
		return BK_FAIL(p, rc, "cannot seal the snapshot's root: %s", proto_strerror(rc));
	}
	agentctl_begin(&req, CTL_CMD_BACKUP_PUBLISH);
	agentctl_arg_text(&req, CTL_KEY_NAME, record);
	agentctl_arg_bin(&req, CTL_KEY_BODY, body, len);
	free(body);
	if (agentctl_call(p->b->data_dir, &req, &reply) != CLI_OK)
		return BK_FAIL(p, KITH_EVALUE, "%s", "kithd did not publish the snapshot");
	agentctl_reply_free(&reply);
	return 0;
}

static void report(const struct put *p, const char *k_m, bool json)
{
	char id[2 * SNAP_ID_LEN + 1], a[32], b[32], c[32];

	sodium_bin2hex(id, sizeof(id), p->root->id, SNAP_ID_LEN);
	if (json) {
		printf("{\"name\": \"%s\", \"snapshot\": \"%s\", \"time\": %" PRIu64
		       ", \"size\": %" PRIu64 ", \"bytes_new\": %" PRIu64
		       ", \"bytes_sent\": %" PRIu64 ", \"chunks\": %" PRIu64
		       ", \"index_packs\": %" PRIu32 ", \"index_level\": %u, \"code\": \"%s\"}\n",
		       p->root->name, id, p->root->time, p->root->size, p->root->bytes_new,
		       p->b->sent, p->root->chunks, p->root->n_index, p->root->level, k_m);
		return;
	}
	printf("snapshot %.16s of %s: %s, %s new, %s sent, %s\n", id, p->root->name,
	       bk_bytes(a, sizeof(a), p->root->size), bk_bytes(b, sizeof(b), p->root->bytes_new),
	       bk_bytes(c, sizeof(c), p->b->sent), k_m);
}

int backup_put(struct bk *b, const char *name, const char *path, unsigned k, unsigned m, bool json)
{
	struct put p;
	char record[SNAP_RECORD_NAME_LEN + 1], k_m[64];
	uint8_t *buf = NULL;
	size_t alive = 0;
	int fd = 0, rc, lock;

	if (bk_lock(b, false, &lock) != CLI_OK)
		return CLI_FAIL;
	for (size_t i = 0; i < b->n_holders; i++)
		alive += b->holders[i].alive;
	if (!k)
		default_code(alive, &k, &m);
	if (alive < k + m) {
		close(lock);
		return cli_fail("%u+%u needs %u partners keeping our backups, alive; %zu are "
		                "(see kith grants: they grant us backup:SIZE)",
		                k, m, k + m, alive);
	}
	snprintf(k_m, sizeof(k_m), "%u+%u on %zu holders", k, m, alive);
	if (strcmp(path, "-") && (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		close(lock);
		return cli_fail("cannot read %s: %s", path, strerror(errno));
	}
	rc = put_new(&p, b, k, m);
	buf = malloc(READ_BLOCK);
	if (rc || !buf) {
		rc = cli_fail("cannot start the backup: %s", proto_strerror(rc ? rc : -ENOMEM));
		goto out;
	}
	snprintf(p.root->name, sizeof(p.root->name), "%s", name);
	randombytes_buf(p.root->id, SNAP_ID_LEN);
	p.root->time = (uint64_t)time(NULL);
	p.started_ms = mono_ms();
	for (;;) {
		ssize_t n = read(fd, buf, READ_BLOCK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			BK_FAIL(&p, -errno, "cannot read the input: %s", strerror(errno));
			break;
		}
		if (n == 0)
			break;
		p.root->size += (uint64_t)n;
		if (feed(&p, buf, (size_t)n) != 0)
			break;
		progress(&p, false);
	}
	if (!p.rc) {
		size_t last = chunker_finish(p.chunker);
		if (last || p.root->size == 0)
			add_chunk(&p, p.chunk, p.chunk_len);
	}
	if (!p.rc)
		ship_data(&p);
	if (!p.rc)
		ship_idle(&p);
	if (!p.rc)
		index_add(&p, NULL);
	if (!p.rc && ixw_finish(p.index) != 0)
		BK_FAIL(&p, KITH_EVALUE, "%s", ixw_error(p.index));
	if (!p.rc)
		publish_root(&p, record);
	progress(&p, true);
	if (p.rc == KITH_EQUOTA)
		undo(&p);
	if (p.rc) {
		rc = cli_fail("backup %s not made: %s", name, p.err);
	} else {
		report(&p, k_m, json);
		rc = CLI_OK;
	}
out:
	free(buf);
	put_free(&p);
	if (fd > 0)
		close(fd);
	close(lock);
	return rc;
}
