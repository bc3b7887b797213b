#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/error.h"
#include "proto/identity.h"
#include "proto/peerid.h"
#include "proto/record.h"
#include "store/store.h"
#include "log.h"
#include "keymap.h"
#include "trust.h"

/* One admission record: author lets subject in. Kept whether or not the
 * author is a member yet, since membership is the closure over them. */
struct edge {
	uint8_t author[PROTO_KEY_LEN];
	uint8_t subject[PROTO_KEY_LEN];
	char endpoint[PROTO_ENDPOINT_MAX + 1];
};

struct trust {
	uint8_t self[PROTO_KEY_LEN];
	struct keymap members;  /* peer -> struct trust_member */
	struct keymap by_curve; /* CURVE key -> the same struct trust_member */
	struct edge *edges;
	size_t n_edges, cap_edges;
	const struct trust_ops *ops;
	void *arg;
};

static void notify_endpoint(struct trust *t, const struct trust_member *m)
{
	if (t->ops && t->ops->endpoint && m->endpoint[0])
		t->ops->endpoint(t->arg, m->peer, m->endpoint);
}

/* Makes peer a member, then everyone it admitted, and so on. */
static int add_member(struct trust *t, const uint8_t peer[PROTO_KEY_LEN],
                      const uint8_t by[PROTO_KEY_LEN], const char *endpoint)
{
	struct trust_member *m;
	int err;

	if (keymap_get(&t->members, peer))
		return 0;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	memcpy(m->peer, peer, PROTO_KEY_LEN);
	if (by)
		memcpy(m->admitted_by, by, PROTO_KEY_LEN);
	snprintf(m->endpoint, sizeof(m->endpoint), "%s", endpoint ? endpoint : "");
	/* A key that is no curve point cannot talk CURVE: not a member. */
	if (proto_curve_pk(m->curve, peer) != 0) {
		free(m);
		return 0;
	}
	err = keymap_put(&t->members, peer, m);
	if (!err && (err = keymap_put(&t->by_curve, m->curve, m)) != 0)
		keymap_del(&t->members, peer);
	if (err) {
		free(m);
		return err;
	}
	if (t->ops && t->ops->added)
		t->ops->added(t->arg, peer);
	notify_endpoint(t, m);
	/* The member's own admissions now count. The recursion is bounded by
	 * the number of members: each peer is added once. */
	for (size_t i = 0; i < t->n_edges; i++) {
		struct edge e = t->edges[i];
		if (!memcmp(e.author, peer, PROTO_KEY_LEN)) {
			err = add_member(t, e.subject, e.author, e.endpoint);
			if (err)
				return err;
		}
	}
	return 0;
}

int trust_new(struct trust **out, const uint8_t self[PROTO_KEY_LEN], const struct trust_ops *ops,
              void *arg)
{
	struct trust *t = calloc(1, sizeof(*t));
	int err;

	if (!t)
		return -ENOMEM;
	memcpy(t->self, self, PROTO_KEY_LEN);
	keymap_init(&t->members);
	keymap_init(&t->by_curve);
	t->ops = ops;
	t->arg = arg;
	err = add_member(t, self, NULL, NULL);
	if (err) {
		trust_free(&t);
		return err;
	}
	*out = t;
	return 0;
}

void trust_free(struct trust **t)
{
	const uint8_t *key;
	void *value;

	if (!t || !*t)
		return;
	for (size_t pos = 0; keymap_next(&(*t)->members, &pos, &key, &value);)
		free(value);
	keymap_free(&(*t)->members);
	keymap_free(&(*t)->by_curve);
	free((*t)->edges);
	free(*t);
	*t = NULL;
}

/* Records (or updates) the edge; returns it. */
static struct edge *remember_edge(struct trust *t, const uint8_t author[PROTO_KEY_LEN],
                                  const struct proto_admission *a)
{
	struct edge *e;

	for (size_t i = 0; i < t->n_edges; i++) {
		e = &t->edges[i];
		if (!memcmp(e->author, author, PROTO_KEY_LEN) &&
		    !memcmp(e->subject, a->subject, PROTO_KEY_LEN))
			goto fill;
	}
	if (t->n_edges == t->cap_edges) {
		size_t cap = t->cap_edges ? t->cap_edges * 2 : 16;
		struct edge *edges = realloc(t->edges, cap * sizeof(*edges));
		if (!edges)
			return NULL;
		t->edges = edges;
		t->cap_edges = cap;
	}
	e = &t->edges[t->n_edges++];
	memcpy(e->author, author, PROTO_KEY_LEN);
	memcpy(e->subject, a->subject, PROTO_KEY_LEN);
fill:
	snprintf(e->endpoint, sizeof(e->endpoint), "%s", a->endpoint);
	return e;
}

static int on_admission(struct trust *t, const struct proto_record *rec)
{
	struct proto_admission a;
	struct trust_member *m;
	struct edge *e;
	int err = proto_admission_decode(&a, rec->body, rec->body_len);

	if (err)
		return err;
	e = remember_edge(t, rec->author, &a);
	if (!e)
		return -ENOMEM;
	if (!keymap_get(&t->members, rec->author))
		return 0;
	m = keymap_get(&t->members, a.subject);
	if (!m)
		return add_member(t, a.subject, rec->author, a.endpoint);
	/* A newer admission may carry a newer address, until the member
	 * publishes its own. */
	if (!m->endpoint_from_member && a.endpoint[0] && strcmp(m->endpoint, a.endpoint)) {
		snprintf(m->endpoint, sizeof(m->endpoint), "%s", a.endpoint);
		notify_endpoint(t, m);
	}
	return 0;
}

static int on_member(struct trust *t, const struct proto_record *rec)
{
	struct trust_member *m = keymap_get(&t->members, rec->author);
	struct proto_member body;
	int err;

	if (!m)
		return 0;
	err = proto_member_decode(&body, rec->body, rec->body_len);
	if (err)
		return err;
	snprintf(m->name, sizeof(m->name), "%s", body.name);
	if (body.n_endpoints > 0 && strcmp(m->endpoint, body.endpoints[0])) {
		snprintf(m->endpoint, sizeof(m->endpoint), "%s", body.endpoints[0]);
		m->endpoint_from_member = true;
		notify_endpoint(t, m);
	}
	return 0;
}

int trust_on_record(struct trust *t, const struct proto_record *rec)
{
	/* Tombstones change nothing here: members leave by revocation. */
	if (rec->body_len == 0)
		return 0;
	switch (rec->kind) {
	case PROTO_KIND_ADMISSION:
		return on_admission(t, rec);
	case PROTO_KIND_MEMBER:
		return on_member(t, rec);
	}
	return 0;
}

struct load_ctx {
	struct trust *t;
	uint8_t kind;
};

static int load_one(void *arg, const uint8_t *buf, size_t len)
{
	struct load_ctx *ctx = arg;
	struct proto_record rec;
	char who[PROTO_PEERID_SHORT_LEN + 1];
	int err;

	if (proto_record_decode(&rec, buf, len) != 0 || rec.kind != ctx->kind)
		return 0;
	err = trust_on_record(ctx->t, &rec);
	if (err == -ENOMEM)
		return err;
	if (err) {
		proto_peerid_short(who, rec.author);
		log_warnx("trust: unreadable %s record of %s: %s", proto_kind_name(rec.kind), who,
		          proto_strerror(err));
	}
	return 0;
}

int trust_load(struct trust *t, struct store *s)
{
	/* Admissions first, so that every member is known before the member
	 * records that name and locate them are read. */
	struct load_ctx ctx = {t, PROTO_KIND_ADMISSION};
	int err = store_records_each(s, load_one, &ctx);

	if (err)
		return err;
	ctx.kind = PROTO_KIND_MEMBER;
	return store_records_each(s, load_one, &ctx);
}

bool trust_is_member(const struct trust *t, const uint8_t peer[PROTO_KEY_LEN])
{
	return keymap_get(&t->members, peer) != NULL;
}

const struct trust_member *trust_by_curve(const struct trust *t, const uint8_t curve[PROTO_KEY_LEN])
{
	return keymap_get(&t->by_curve, curve);
}

const struct trust_member *trust_get(const struct trust *t, const uint8_t peer[PROTO_KEY_LEN])
{
	return keymap_get(&t->members, peer);
}

size_t trust_count(const struct trust *t)
{
	return t->members.count;
}

void trust_each(const struct trust *t, void (*fn)(void *arg, const struct trust_member *m),
                void *arg)
{
	const uint8_t *key;
	void *value;

	for (size_t pos = 0; keymap_next(&t->members, &pos, &key, &value);)
		fn(arg, value);
}
