/* Writing a snapshot's index: entries gathered into index chunks
 * (BK_INDEX_CHUNK_MAX, a sequence number first), sealed, packed into
 * index packs (BK_INDEX_PACK_TARGET) and shipped like data packs; their
 * placements make the root's index list. Used by put, and by repair,
 * which rewrites an index with new placements. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/error.h"
#include "backup.h"

struct ixw {
	struct bk *b;
	struct ship *ship; /* shared with the caller */
	int (*drain)(void *arg);
	void *arg;
	struct snap_root *root;
	/* The index's index, once the root cannot list every index pack: a
	 * writer like this one, of pack entries, into a root of its own. It
	 * ships its one pack at our end only, the ship being ours until then. */
	struct ixw *meta;
	struct snap_root *meta_root;
	bool is_meta;
	uint32_t n_packs; /* index packs given to meta */
	struct seal *seal;
	struct pack_writer *pack;
	uint8_t *buf; /* the index chunk being filled */
	size_t len;
	uint64_t seq;
	uint8_t *sealed;
	bool shipping; /* the ship carries our pack */
	int rc;
	char err[400];
};

static void start_chunk(struct ixw *w)
{
	for (unsigned i = 0; i < BK_INDEX_SEQ_LEN; i++)
		w->buf[i] = (uint8_t)(w->seq >> (8 * i));
	w->len = BK_INDEX_SEQ_LEN;
}

int ixw_new(struct ixw **out, struct bk *b, struct ship *ship, struct snap_root *root,
            int (*drain)(void *arg), void *arg)
{
	struct ixw *w = calloc(1, sizeof(*w));
	int rc;

	*out = NULL;
	if (!w)
		return -ENOMEM;
	*w = (struct ixw){.b = b, .ship = ship, .drain = drain, .arg = arg, .root = root};
	root->n_index = 0;
	root->level = 0;
	w->buf = malloc(BK_INDEX_CHUNK_MAX);
	w->sealed = malloc(seal_max_len(BK_INDEX_CHUNK_MAX));
	rc = w->buf && w->sealed ? seal_new(&w->seal, BK_INDEX_CHUNK_MAX) : -ENOMEM;
	if (!rc)
		rc = pack_writer_new(&w->pack, PACK_KIND_INDEX, b->index_pack_target);
	if (rc) {
		ixw_free(&w);
		return rc;
	}
	start_chunk(w);
	*out = w;
	return 0;
}

void ixw_free(struct ixw **w)
{
	if (!w || !*w)
		return;
	ixw_free(&(*w)->meta);
	free((*w)->meta_root);
	seal_free(&(*w)->seal);
	pack_writer_free(&(*w)->pack);
	free((*w)->buf);
	free((*w)->sealed);
	free(*w);
	*w = NULL;
}

const char *ixw_error(const struct ixw *w)
{
	return w->err;
}

bool ixw_ships(const struct ixw *w)
{
	return w->shipping;
}

/* Hands index pack placement p to the index's index. */
static int to_meta(struct ixw *w, const struct snap_pack *p)
{
	struct snap_entry e = {.type = SNAP_ENTRY_PACK, .ordinal = w->n_packs++, .pack = *p};

	if (ixw_add(w->meta, &e) != 0)
		return BK_FAIL(w, w->meta->rc, "%s", w->meta->err);
	return 0;
}

/* The root cannot list one more index pack: the ones it lists, and the
 * next ones, go to an index of the index. */
static int start_meta(struct ixw *w)
{
	int rc;

	w->meta_root = calloc(1, sizeof(*w->meta_root));
	rc = w->meta_root ? ixw_new(&w->meta, w->b, w->ship, w->meta_root, NULL, NULL) : -ENOMEM;
	if (rc)
		return BK_FAIL(w, rc, "%s", "out of memory");
	w->meta->is_meta = true;
	for (uint32_t i = 0; !rc && i < w->root->n_index; i++)
		rc = to_meta(w, &w->root->index[i]);
	w->root->n_index = 0;
	return rc;
}

int ixw_shipped(struct ixw *w, const struct snap_pack *placement)
{
	int rc;

	w->shipping = false;
	if (w->meta)
		return to_meta(w, placement);
	if (w->root->n_index < (w->is_meta ? SNAP_INDEX_PACKS_MAX : w->b->index_direct_max)) {
		w->root->index[w->root->n_index++] = *placement;
		return 0;
	}
	if (w->is_meta)
		return BK_FAIL(w, KITH_ETOOBIG, "%s",
		               "the snapshot's index outgrew its root record");
	if ((rc = start_meta(w)) != 0)
		return rc;
	return to_meta(w, placement);
}

/* Leaves the ship idle: the caller's drain, or our own pack's end. */
static int drain(struct ixw *w)
{
	struct snap_pack placement;

	if (w->drain) {
		int rc = w->drain(w->arg);
		if (rc)
			return BK_FAIL(w, rc, "%s", "a pack could not be stored");
	}
	if (ship_busy(w->ship)) {
		if (ship_wait(w->ship, &placement) != 0)
			return BK_FAIL(w, KITH_EQUOTA, "%s", ship_error(w->ship));
		return ixw_shipped(w, &placement);
	}
	return w->rc;
}

static int ship_pack(struct ixw *w)
{
	const uint8_t *pack;
	size_t len;
	int rc;

	if (!pack_writer_count(w->pack))
		return 0;
	if ((rc = drain(w)) != 0)
		return rc;
	if ((rc = pack_writer_finish(w->pack, w->b->keys, &pack, &len, NULL)) != 0)
		return BK_FAIL(w, rc, "cannot finish an index pack: %s", proto_strerror(rc));
	if ((rc = ship_start(w->ship, pack, len)) != 0)
		return BK_FAIL(w, rc, "%s", ship_error(w->ship));
	w->shipping = true;
	pack_writer_reset(w->pack);
	return 0;
}

static int flush_chunk(struct ixw *w)
{
	uint8_t id[SEAL_ID_LEN];
	size_t sealed_len;
	int rc;

	seal_chunk_id(id, w->b->keys, w->buf, w->len);
	rc = seal_chunk(w->seal, w->b->keys, w->b->index_level, id, w->buf, w->len, w->sealed,
	                seal_max_len(BK_INDEX_CHUNK_MAX), &sealed_len);
	if (rc)
		return BK_FAIL(w, rc, "cannot seal the index: %s", proto_strerror(rc));
	/* The index's index ships only once the index is shipped: one pack. */
	if (!pack_writer_fits(w->pack, sealed_len) && w->is_meta)
		return BK_FAIL(w, KITH_ETOOBIG, "%s",
		               "the snapshot's index outgrew its own index (split the backup)");
	if (!pack_writer_fits(w->pack, sealed_len) && (rc = ship_pack(w)) != 0)
		return rc;
	if ((rc = pack_writer_add(w->pack, id, w->sealed, sealed_len, w->len)) != 0)
		return BK_FAIL(w, rc, "cannot add to the index: %s", proto_strerror(rc));
	w->seq++;
	start_chunk(w);
	return 0;
}

int ixw_add(struct ixw *w, const struct snap_entry *e)
{
	uint8_t buf[SNAP_ENTRY_MAX];
	size_t len;
	int rc = w->rc ? w->rc : snap_entry_encode(buf, sizeof(buf), e, &len);

	if (rc)
		return BK_FAIL(w, rc, "cannot write the index: %s", proto_strerror(rc));
	if (w->len + len > BK_INDEX_CHUNK_MAX && (rc = flush_chunk(w)) != 0)
		return rc;
	memcpy(w->buf + w->len, buf, len);
	w->len += len;
	if (e->type == SNAP_ENTRY_CHUNK)
		w->root->chunks++;
	return 0;
}

int ixw_finish(struct ixw *w)
{
	/* The last chunk goes even when it holds no entry: an index has at
	 * least one chunk, and its sequence number ends the walk's check. */
	if (!w->rc)
		flush_chunk(w);
	if (!w->rc)
		ship_pack(w);
	if (!w->rc)
		drain(w);
	if (!w->rc && w->meta) {
		if (ixw_finish(w->meta) != 0)
			return BK_FAIL(w, w->meta->rc, "%s", w->meta->err);
		w->root->n_index = w->meta_root->n_index;
		memcpy(w->root->index, w->meta_root->index,
		       w->root->n_index * sizeof(w->root->index[0]));
		w->root->level = 1;
	}
	return w->rc;
}
