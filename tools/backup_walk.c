/* Finding our snapshots (the backup records in the store, opened with our
 * keys) and walking a snapshot's index. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

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

/* Snapshots one listing opens: years of dailies of tens of names. */
#define ROOTS_MAX 65536

struct roots_walk {
	struct bk *b;
	const char *name;
	struct bk_roots *r;
};

static int one_root(void *arg, const uint8_t *buf, size_t len)
{
	struct roots_walk *w = arg;
	struct bk_roots *r = w->r;
	struct proto_record rec;
	struct snap_root *root;

	if (proto_record_decode(&rec, buf, len) != 0 || rec.body_len == 0)
		return 0; /* forgotten */
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 8;
		struct snap_root *p;
		uint64_t *q;
		if (cap > ROOTS_MAX)
			return 0;
		p = realloc(r->list, cap * sizeof(*p));
		if (p)
			r->list = p;
		q = p ? realloc(r->seq, cap * sizeof(*q)) : NULL;
		if (!q)
			return -ENOMEM;
		r->seq = q;
		r->cap = cap;
	}
	root = &r->list[r->n];
	if (snap_root_open(root, rec.body, rec.body_len, w->b->keys, rec.author, rec.name) != 0) {
		r->unreadable++;
		return 0;
	}
	if (!w->name || !strcmp(root->name, w->name))
		r->seq[r->n++] = rec.seq;
	return 0;
}

struct order {
	const struct snap_root *root;
	uint64_t seq;
};

static int by_name_time(const void *a, const void *b)
{
	const struct order *x = a, *y = b;
	int c = strcmp(x->root->name, y->root->name);

	if (c)
		return c;
	if (x->root->time != y->root->time)
		return x->root->time < y->root->time ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Sorts r's roots as bk_roots says: the order is found on small
 * (root, seq) pairs, then the roots (~58 KiB each) are moved in place,
 * cycle by cycle, through one spare. */
static int roots_sort(struct bk_roots *r)
{
	struct order *o = malloc((r->n ? r->n : 1) * sizeof(*o));
	size_t *from = malloc((r->n ? r->n : 1) * sizeof(*from));
	struct snap_root *spare = malloc(sizeof(*spare));

	if (!o || !from || !spare) {
		free(o), free(from), free(spare);
		return -ENOMEM;
	}
	for (size_t i = 0; i < r->n; i++)
		o[i] = (struct order){&r->list[i], r->seq[i]};
	qsort(o, r->n, sizeof(*o), by_name_time);
	for (size_t i = 0; i < r->n; i++)
		from[i] = (size_t)(o[i].root - r->list); /* position i takes root from[i] */
	for (size_t i = 0; i < r->n; i++) {
		size_t j = i;
		uint64_t seq = r->seq[i];
		if (from[i] == i)
			continue;
		*spare = r->list[i];
		while (from[j] != i) {
			size_t k = from[j];
			r->list[j] = r->list[k];
			r->seq[j] = r->seq[k];
			from[j] = j;
			j = k;
		}
		r->list[j] = *spare;
		r->seq[j] = seq;
		from[j] = j;
	}
	free(o), free(from), free(spare);
	return 0;
}

int bk_roots_load(struct bk *b, const char *name, struct bk_roots *r)
{
	struct roots_walk w = {b, name, r};
	struct store *s;
	int rc;

	memset(r, 0, sizeof(*r));
	if (cli_open_store(&s, b->data_dir) != CLI_OK)
		return CLI_FAIL;
	rc = store_records_of_kind(s, b->id->pk, PROTO_KIND_BACKUP, one_root, &w);
	store_close(&s);
	if (rc)
		return cli_fail("cannot read the backup records: %s", proto_strerror(rc));
	if (r->unreadable)
		fprintf(stderr, "kith: %zu backup records do not open with this identity's keys\n",
		        r->unreadable);
	if (roots_sort(r) != 0)
		return cli_fail("out of memory");
	return CLI_OK;
}

void bk_roots_free(struct bk_roots *r)
{
	free(r->list);
	free(r->seq);
	memset(r, 0, sizeof(*r));
}

const struct snap_root *bk_roots_pick(const struct bk_roots *r, const char *id)
{
	char hex[2 * SNAP_ID_LEN + 1];

	for (size_t i = r->n; i-- > 0;) {
		sodium_bin2hex(hex, sizeof(hex), r->list[i].id, SNAP_ID_LEN);
		if (!id || !strncmp(hex, id, strlen(id)))
			return &r->list[i];
	}
	return NULL;
}

/* ---- walking an index ---- */

struct walk {
	struct bk *b;
	struct fetch *f;
	struct seal *seal;
	uint8_t *plain; /* BK_INDEX_CHUNK_MAX */
	uint64_t seq;
	bk_entry_fn fn;
	bk_index_fn index_fn;
	void *arg;
	char *err;
	size_t n;
	struct walk *index; /* of the index's index: the index's walk */
	uint32_t packs;     /* index packs named so far by the index's index */
};

static int walk_fail(struct walk *w, int rc, const char *msg)
{
	if (!w->err[0])
		snprintf(w->err, w->n, "%s", msg);
	return rc;
}

/* The entries of one index chunk, plain[0..len). */
static int walk_chunk(struct walk *w, size_t len)
{
	uint64_t got = 0;
	size_t used;
	int rc = 0;

	for (unsigned j = 0; j < BK_INDEX_SEQ_LEN && j < len; j++)
		got |= (uint64_t)w->plain[j] << (8 * j);
	if (len < BK_INDEX_SEQ_LEN || got != w->seq)
		return walk_fail(w, KITH_EVALUE, "the index chunks are out of order");
	w->seq++;
	for (size_t at = BK_INDEX_SEQ_LEN; !rc && at < len; at += used) {
		struct snap_entry e;
		rc = snap_entry_decode(&e, w->plain + at, len - at, &used);
		if (rc)
			return walk_fail(w, rc, "an index entry does not decode");
		rc = w->fn(w->arg, &e);
	}
	return rc;
}

/* Reads index pack p whole and walks its chunks. */
static int walk_pack(struct walk *w, const struct snap_pack *p)
{
	uint8_t *buf = malloc(p->len);
	struct pack_table *t = NULL;
	int rc;

	if (!buf)
		return walk_fail(w, -ENOMEM, "out of memory");
	rc = fetch_range(w->f, p, 0, p->len, buf);
	if (rc) {
		free(buf);
		return walk_fail(w, rc, fetch_error(w->f));
	}
	rc = pack_open_table(buf, p->len, w->b->keys, &t);
	if (rc || pack_table_kind(t) != PACK_KIND_INDEX) {
		free(buf);
		pack_table_free(&t);
		return walk_fail(w, rc ? rc : KITH_EVALUE, "an index pack does not open");
	}
	for (size_t i = 0; !rc && i < pack_table_count(t); i++) {
		const struct pack_entry *pe = pack_table_entry(t, i);
		const uint8_t *sealed;
		size_t sealed_len, len;

		rc = pack_table_chunk(t, i, &sealed, &sealed_len);
		if (!rc)
			rc = seal_open(w->seal, w->b->keys, pe->id, sealed, sealed_len, w->plain,
			               BK_INDEX_CHUNK_MAX, &len);
		if (rc)
			walk_fail(w, rc, "an index chunk does not open");
		else
			rc = walk_chunk(w, len);
	}
	pack_table_free(&t);
	free(buf);
	return rc;
}

static int walk_open(struct walk *w)
{
	w->plain = malloc(BK_INDEX_CHUNK_MAX);
	if (!w->plain || seal_new(&w->seal, BK_INDEX_CHUNK_MAX) != 0)
		return walk_fail(w, -ENOMEM, "out of memory");
	return 0;
}

static void walk_close(struct walk *w)
{
	seal_free(&w->seal);
	free(w->plain);
}

/* An entry of the index's index: the next index pack, walked now. */
static int walk_indirect(void *arg, const struct snap_entry *e)
{
	struct walk *m = arg, *w = m->index;
	int rc;

	if (e->type != SNAP_ENTRY_PACK || e->ordinal != m->packs++)
		return walk_fail(w, KITH_EVALUE, "the index's index is out of order");
	if (w->index_fn && (rc = w->index_fn(w->arg, &e->pack)) != 0)
		return rc;
	return walk_pack(w, &e->pack);
}

int bk_walk(struct bk *b, struct fetch *f, const struct snap_root *root, bk_entry_fn fn,
            bk_index_fn index_fn, void *arg, char *err, size_t n)
{
	struct walk w = {
	    .b = b, .f = f, .fn = fn, .index_fn = index_fn, .arg = arg, .err = err, .n = n};
	struct walk m = {
	    .b = b, .f = f, .fn = walk_indirect, .arg = &m, .err = err, .n = n, .index = &w};
	struct walk *top = root->level ? &m : &w;
	int rc;

	err[0] = '\0';
	rc = walk_open(&w);
	if (!rc && root->level)
		rc = walk_open(&m);
	for (uint32_t i = 0; !rc && i < root->n_index; i++) {
		if (index_fn && (rc = index_fn(arg, &root->index[i])) != 0)
			break;
		rc = walk_pack(top, &root->index[i]);
	}
	walk_close(&m);
	walk_close(&w);
	return rc;
}

int bk_members_each(struct bk *b, bk_member_fn fn, void *arg)
{
	struct agentctl_request req;
	struct agentctl_reply reply;
	char text[128], state[32], why[160];
	uint8_t peer[PROTO_KEY_LEN];

	agentctl_begin(&req, CTL_CMD_MEMBERS);
	if (agentctl_call(b->data_dir, &req, &reply) != CLI_OK)
		return CLI_FAIL;
	for (uint32_t i = 0; reply.data && reply.data->type == MSGPACK_OBJECT_ARRAY &&
	                     i < reply.data->via.array.size;
	     i++) {
		const msgpack_object *o = &reply.data->via.array.ptr[i];
		if (proto_peerid_parse(peer, agentctl_text(o, CTL_REPLY_ID, text, sizeof(text)),
		                       why, sizeof(why)) != 0)
			continue;
		fn(arg, peer, agentctl_text(o, CTL_REPLY_STATE, state, sizeof(state)),
		   agentctl_uint(o, CTL_REPLY_SINCE));
	}
	agentctl_reply_free(&reply);
	return CLI_OK;
}

static void mark_dead(void *arg, const uint8_t peer[PROTO_KEY_LEN], const char *state,
                      uint64_t since)
{
	(void)since;
	if (strcmp(state, "alive"))
		fetch_mark_failed(arg, peer);
}

void bk_skip_dead(struct bk *b, struct fetch *f)
{
	bk_members_each(b, mark_dead, f);
}
