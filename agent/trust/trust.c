/* The trust network from records (see trust.h): records are kept as
 * events, and the membership is recomputed by replaying them in issue-time
 * order whenever they changed and somebody asks. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proto/error.h"
#include "proto/identity.h"
#include "proto/peerid.h"
#include "proto/record.h"
#include "store/store.h"
#include "agent/core/keymap.h"
#include "agent/core/log.h"
#include "trust.h"

/* Admitters are found through chains of admit grants; a chain longer than
 * this is refused rather than followed (it also stops cycles). */
#define ADMIT_CHAIN_MAX 32

enum event_type {
	EV_ADMISSION,
	EV_EJECTION,
	EV_GRANT_REVOCATION,
};

/* An admission or a revocation record, reduced to what the replay needs. */
struct event {
	enum event_type type;
	uint8_t author[PROTO_KEY_LEN];
	uint8_t kind;
	char name[PROTO_NAME_MAX + 1];
	uint64_t seq, issued;
	uint8_t subject[PROTO_KEY_LEN];        /* admitted or ejected peer */
	char endpoint[PROTO_ENDPOINT_MAX + 1]; /* admission */
	char grant_id[PROTO_GRANT_ID_MAX + 1]; /* grant revocation */
	bool applied;                          /* during a replay */
};

/* A grant with the record identity it came from. */
struct grant_entry {
	struct trust_grant g;
	uint64_t seq;
};

struct trust {
	uint8_t self[PROTO_KEY_LEN];
	uint8_t founder[PROTO_KEY_LEN];
	struct keymap peers;    /* key -> struct trust_member, any peer ever named */
	struct keymap by_curve; /* CURVE key -> struct trust_member, members only */
	struct event *events;
	size_t n_events, cap_events;
	struct grant_entry *grants;
	size_t n_grants, cap_grants;
	/* The grants carrying the admit scope, gathered for each replay:
	 * admitter_at() runs for every event and must not scan them all. */
	const struct trust_grant **admit_grants;
	size_t n_admit_grants;
	size_t n_members;
	uint64_t latest; /* issue time of the newest trust record that counted */
	bool dirty;
	bool settling;
	const struct trust_ops *ops;
	void *arg;
};

/* ---- peers ---- */

static struct trust_member *peer_get(struct trust *t, const uint8_t key[PROTO_KEY_LEN], bool create)
{
	struct trust_member *m = keymap_get(&t->peers, key);

	if (m || !create)
		return m;
	m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	memcpy(m->peer, key, PROTO_KEY_LEN);
	/* A key that is no curve point can never talk CURVE: such a peer is
	 * kept (it may be named) but never becomes a member. */
	if (proto_curve_pk(m->curve, key) != 0)
		memset(m->curve, 0, PROTO_KEY_LEN);
	if (keymap_put(&t->peers, key, m) != 0) {
		free(m);
		return NULL;
	}
	return m;
}

static bool usable_key(const struct trust_member *m)
{
	static const uint8_t zero[PROTO_KEY_LEN];

	return memcmp(m->curve, zero, PROTO_KEY_LEN) != 0;
}

/* ---- keeping records ---- */

/* Index of the event for (author, kind, name), or n_events. */
static size_t event_find(const struct trust *t, const struct proto_record *rec)
{
	for (size_t i = 0; i < t->n_events; i++) {
		const struct event *e = &t->events[i];
		if (e->kind == rec->kind && !memcmp(e->author, rec->author, PROTO_KEY_LEN) &&
		    !strcmp(e->name, rec->name))
			return i;
	}
	return t->n_events;
}

static void event_remove(struct trust *t, size_t i)
{
	t->events[i] = t->events[--t->n_events];
}

/* Replaces the event of rec's identity with ev (or removes it when ev is
 * NULL, for a tombstone), unless what is held is newer. */
static int event_put(struct trust *t, const struct proto_record *rec, const struct event *ev)
{
	size_t i = event_find(t, rec);

	if (i < t->n_events && t->events[i].seq >= rec->seq)
		return 0;
	if (!ev) {
		if (i < t->n_events)
			event_remove(t, i);
		return 0;
	}
	if (i == t->n_events) {
		if (t->n_events == t->cap_events) {
			size_t cap = t->cap_events ? t->cap_events * 2 : 32;
			struct event *events = realloc(t->events, cap * sizeof(*events));
			if (!events)
				return -ENOMEM;
			t->events = events;
			t->cap_events = cap;
		}
		t->n_events++;
	}
	t->events[i] = *ev;
	return 0;
}

static void event_init(struct event *ev, enum event_type type, const struct proto_record *rec)
{
	memset(ev, 0, sizeof(*ev));
	ev->type = type;
	memcpy(ev->author, rec->author, PROTO_KEY_LEN);
	ev->kind = rec->kind;
	snprintf(ev->name, sizeof(ev->name), "%s", rec->name);
	ev->seq = rec->seq;
	ev->issued = rec->issued;
}

static int on_admission(struct trust *t, const struct proto_record *rec)
{
	struct proto_admission a;
	struct event ev;
	int err = proto_admission_decode(&a, rec->body, rec->body_len);

	if (err)
		return err;
	event_init(&ev, EV_ADMISSION, rec);
	memcpy(ev.subject, a.subject, PROTO_KEY_LEN);
	snprintf(ev.endpoint, sizeof(ev.endpoint), "%s", a.endpoint);
	if (!peer_get(t, a.subject, true))
		return -ENOMEM;
	return event_put(t, rec, &ev);
}

static int on_revocation(struct trust *t, const struct proto_record *rec)
{
	struct proto_revocation r;
	struct event ev;
	int err = proto_revocation_decode(&r, rec->body, rec->body_len);

	if (err)
		return err;
	if (r.target == PROTO_REVOKE_MEMBER) {
		event_init(&ev, EV_EJECTION, rec);
		memcpy(ev.subject, r.member, PROTO_KEY_LEN);
	} else {
		event_init(&ev, EV_GRANT_REVOCATION, rec);
		snprintf(ev.grant_id, sizeof(ev.grant_id), "%s", r.grant_id);
	}
	return event_put(t, rec, &ev);
}

static size_t grant_find(const struct trust *t, const uint8_t issuer[PROTO_KEY_LEN], const char *id)
{
	for (size_t i = 0; i < t->n_grants; i++)
		if (!memcmp(t->grants[i].g.issuer, issuer, PROTO_KEY_LEN) &&
		    !strcmp(t->grants[i].g.id, id))
			return i;
	return t->n_grants;
}

static int grant_slot(struct trust *t, size_t *i)
{
	if (*i < t->n_grants)
		return 0;
	if (t->n_grants == t->cap_grants) {
		size_t cap = t->cap_grants ? t->cap_grants * 2 : 16;
		struct grant_entry *grants = realloc(t->grants, cap * sizeof(*grants));
		if (!grants)
			return -ENOMEM;
		t->grants = grants;
		t->cap_grants = cap;
	}
	*i = t->n_grants++;
	memset(&t->grants[*i], 0, sizeof(t->grants[*i]));
	return 0;
}

static int on_grant(struct trust *t, const struct proto_record *rec)
{
	struct proto_grant *body;
	struct grant_entry *e;
	size_t i = grant_find(t, rec->author, rec->name);
	int err;

	if (strlen(rec->name) > PROTO_GRANT_ID_MAX)
		return KITH_EVALUE; /* a grant's name is its ID */
	if (i < t->n_grants && t->grants[i].seq >= rec->seq)
		return 0;
	if (rec->body_len == 0) { /* tombstone: the grant is gone */
		if (i < t->n_grants) {
			free(t->grants[i].g.scopes);
			t->grants[i] = t->grants[--t->n_grants];
		}
		return 0;
	}
	/* The body holds a sealed credential of up to 4 KiB: decode it off
	 * the stack. */
	body = malloc(sizeof(*body));
	if (!body)
		return -ENOMEM;
	err = proto_grant_decode(body, rec->body, rec->body_len);
	if (!err)
		err = grant_slot(t, &i);
	if (err) {
		free(body);
		return err;
	}
	e = &t->grants[i];
	free(e->g.scopes);
	e->g.scopes = malloc(body->n_scopes * sizeof(*e->g.scopes));
	if (!e->g.scopes) {
		t->grants[i] = t->grants[--t->n_grants];
		free(body);
		return -ENOMEM;
	}
	memcpy(e->g.scopes, body->scopes, body->n_scopes * sizeof(*e->g.scopes));
	e->g.n_scopes = body->n_scopes;
	memcpy(e->g.issuer, rec->author, PROTO_KEY_LEN);
	memcpy(e->g.subject, body->subject, PROTO_KEY_LEN);
	memcpy(e->g.id, rec->name, strlen(rec->name) + 1);
	e->g.issued = rec->issued;
	e->g.not_before = body->not_before;
	e->g.expires = rec->expires;
	e->g.revoked_at = 0;
	e->seq = rec->seq;
	free(body);
	return 0;
}

static int on_member(struct trust *t, const struct proto_record *rec)
{
	struct trust_member *m = peer_get(t, rec->author, true);
	struct proto_member body;
	int err;

	if (!m)
		return -ENOMEM;
	if (rec->body_len == 0)
		return 0;
	err = proto_member_decode(&body, rec->body, rec->body_len);
	if (err)
		return err;
	snprintf(m->name, sizeof(m->name), "%s", body.name);
	if (body.n_endpoints > 0 &&
	    (!m->endpoint_from_member || strcmp(m->endpoint, body.endpoints[0]))) {
		snprintf(m->endpoint, sizeof(m->endpoint), "%s", body.endpoints[0]);
		m->endpoint_from_member = true;
		if (m->member && t->ops && t->ops->endpoint)
			t->ops->endpoint(t->arg, m->peer, m->endpoint);
	}
	return 0;
}

int trust_on_record(struct trust *t, const struct proto_record *rec)
{
	int err;

	switch (rec->kind) {
	case PROTO_KIND_MEMBER:
		return on_member(t, rec);
	case PROTO_KIND_ADMISSION:
		err = rec->body_len ? on_admission(t, rec) : event_put(t, rec, NULL);
		break;
	case PROTO_KIND_REVOCATION:
		err = rec->body_len ? on_revocation(t, rec) : event_put(t, rec, NULL);
		break;
	case PROTO_KIND_GRANT:
		err = on_grant(t, rec);
		break;
	default:
		return 0;
	}
	if (!err)
		t->dirty = true;
	return err;
}

/* ---- the replay ---- */

static bool scope_has(const struct trust_grant *g, enum proto_scope_type type)
{
	for (uint32_t i = 0; i < g->n_scopes; i++)
		if (g->scopes[i].type == type)
			return true;
	return false;
}

static bool in_now(struct trust *t, const uint8_t peer[PROTO_KEY_LEN])
{
	const struct trust_member *m = keymap_get(&t->peers, peer);

	return m && m->member && !m->ejected;
}

/* Was peer an admitter at time when, as the replay stands? */
static bool admitter_at(struct trust *t, const uint8_t peer[PROTO_KEY_LEN], uint64_t when,
                        unsigned depth)
{
	if (!memcmp(peer, t->founder, PROTO_KEY_LEN))
		return true;
	if (depth >= ADMIT_CHAIN_MAX)
		return false;
	for (size_t i = 0; i < t->n_admit_grants; i++) {
		const struct trust_grant *g = t->admit_grants[i];
		if (memcmp(g->subject, peer, PROTO_KEY_LEN))
			continue;
		if (when < g->issued || when < g->not_before || when > g->expires ||
		    (g->revoked_at && when >= g->revoked_at))
			continue;
		/* The grant counts if its issuer could grant admit when it
		 * signed it: a grant is no promise about later powers. */
		if (in_now(t, g->issuer) && admitter_at(t, g->issuer, g->issued, depth + 1))
			return true;
	}
	return false;
}

static int event_order(const void *pa, const void *pb)
{
	const struct event *a = pa, *b = pb;
	int c;

	if (a->issued != b->issued)
		return a->issued < b->issued ? -1 : 1;
	c = memcmp(a->author, b->author, PROTO_KEY_LEN);
	if (c)
		return c;
	if (a->type != b->type)
		return a->type < b->type ? -1 : 1;
	return strcmp(a->name, b->name);
}

/* Sets every grant's revoked_at from the revocations its issuer made. */
static void apply_grant_revocations(struct trust *t)
{
	for (size_t i = 0; i < t->n_grants; i++)
		t->grants[i].g.revoked_at = 0;
	for (size_t i = 0; i < t->n_events; i++) {
		const struct event *e = &t->events[i];
		size_t gi;
		if (e->type != EV_GRANT_REVOCATION)
			continue;
		gi = grant_find(t, e->author, e->grant_id);
		if (gi < t->n_grants) {
			struct trust_grant *g = &t->grants[gi].g;
			/* Revocations are not backdated into a grant's past:
			 * the earliest moment is the grant's own issue. */
			uint64_t at = e->issued > g->issued ? e->issued : g->issued;
			if (!g->revoked_at || at < g->revoked_at)
				g->revoked_at = at;
		}
	}
}

/* Makes subject a member through admission e. */
static void admit_through(struct trust *t, const struct event *e)
{
	struct trust_member *s = keymap_get(&t->peers, e->subject);

	if (!s || s->member || s->ejected || !usable_key(s))
		return;
	s->member = true;
	memcpy(s->admitted_by, e->author, PROTO_KEY_LEN);
	if (!s->endpoint_from_member && e->endpoint[0])
		snprintf(s->endpoint, sizeof(s->endpoint), "%s", e->endpoint);
}

/* After an ejection: membership again from the founder, through the
 * admissions accepted so far that involve no ejected peer. */
static void rebuild(struct trust *t, const struct event **accepted, size_t n)
{
	const uint8_t *key;
	void *value;

	for (size_t pos = 0; keymap_next(&t->peers, &pos, &key, &value);)
		((struct trust_member *)value)->member = false;
	((struct trust_member *)keymap_get(&t->peers, t->founder))->member = true;
	for (size_t i = 0; i < n; i++)
		if (in_now(t, accepted[i]->author))
			admit_through(t, accepted[i]);
}

/* Applies e if its author may act at its issue time; returns whether it
 * did. accepted gathers the admissions applied so far (*n of them). */
static bool apply_event(struct trust *t, const struct event *e, const struct event **accepted,
                        size_t *n)
{
	struct trust_member *m;

	if (e->type == EV_GRANT_REVOCATION || !in_now(t, e->author) ||
	    !admitter_at(t, e->author, e->issued, 0))
		return false;
	if (e->issued > t->latest)
		t->latest = e->issued;
	if (e->type == EV_ADMISSION) {
		admit_through(t, e);
		accepted[(*n)++] = e;
		return true;
	}
	m = keymap_get(&t->peers, e->subject);
	if (m && !m->ejected && memcmp(e->subject, t->founder, PROTO_KEY_LEN) != 0) {
		m->ejected = true;
		rebuild(t, accepted, *n);
	}
	return true;
}

/* Applies events [from, to), all issued in the same second. Their order
 * within it is not known (a newcomer may be admitted and admit another
 * in that second), so each pass applies what has become possible, until a
 * pass applies nothing. */
static void replay_second(struct trust *t, size_t from, size_t to, const struct event **accepted,
                          size_t *n)
{
	bool progress = true;

	for (size_t i = from; i < to; i++)
		t->events[i].applied = false;
	while (progress) {
		progress = false;
		for (size_t i = from; i < to; i++) {
			struct event *e = &t->events[i];
			if (!e->applied && apply_event(t, e, accepted, n))
				e->applied = progress = true;
		}
	}
}

/* Replays the events into the member flags. */
static int replay(struct trust *t)
{
	const struct event **accepted = malloc((t->n_events + 1) * sizeof(*accepted));
	struct trust_member *founder = peer_get(t, t->founder, true);
	const uint8_t *key;
	void *value;
	size_t n = 0;

	if (!accepted || !founder) {
		free(accepted);
		return -ENOMEM;
	}
	for (size_t pos = 0; keymap_next(&t->peers, &pos, &key, &value);) {
		struct trust_member *m = value;
		m->member = m->ejected = false;
		memset(m->admitted_by, 0, PROTO_KEY_LEN);
		if (!m->endpoint_from_member)
			m->endpoint[0] = '\0';
	}
	founder->member = usable_key(founder);
	if (t->n_events)
		qsort(t->events, t->n_events, sizeof(*t->events), event_order);
	apply_grant_revocations(t);
	free(t->admit_grants);
	t->n_admit_grants = 0;
	t->admit_grants = malloc((t->n_grants + 1) * sizeof(*t->admit_grants));
	if (!t->admit_grants) {
		free(accepted);
		return -ENOMEM;
	}
	for (size_t i = 0; i < t->n_grants; i++)
		if (scope_has(&t->grants[i].g, PROTO_SCOPE_ADMIT))
			t->admit_grants[t->n_admit_grants++] = &t->grants[i].g;
	t->latest = 0;
	for (size_t i = 0, end; i < t->n_events; i = end) {
		for (end = i + 1;
		     end < t->n_events && t->events[end].issued == t->events[i].issued;)
			end++;
		replay_second(t, i, end, accepted, &n);
	}
	for (size_t i = 0; i < t->n_grants; i++)
		if (t->grants[i].g.issued > t->latest && in_now(t, t->grants[i].g.issuer))
			t->latest = t->grants[i].g.issued;
	free(accepted);
	return 0;
}

/* A member as it was before a recomputation. */
struct was {
	struct trust_member *m;
	char endpoint[PROTO_ENDPOINT_MAX + 1];
};

static const struct was *find_was(const struct was *before, size_t n, const struct trust_member *m)
{
	for (size_t i = 0; i < n; i++)
		if (before[i].m == m)
			return &before[i];
	return NULL;
}

/* Recomputes the membership and tells the ops what changed, once the new
 * state is complete (the ops may query it). */
static void settle(struct trust *t)
{
	struct was *before;
	size_t n_before = 0;
	const uint8_t *key;
	void *value;

	if (!t->dirty || t->settling)
		return;
	t->settling = true;
	before = malloc((t->peers.count + 1) * sizeof(*before));
	for (size_t pos = 0; before && keymap_next(&t->peers, &pos, &key, &value);) {
		struct trust_member *m = value;
		if (!m->member)
			continue;
		before[n_before].m = m;
		memcpy(before[n_before++].endpoint, m->endpoint, sizeof(m->endpoint));
	}
	if (!before || replay(t) != 0) {
		log_warnx("trust: out of memory recomputing the members");
		free(before);
		t->settling = false;
		return;
	}
	t->dirty = false;
	keymap_free(&t->by_curve);
	t->n_members = 0;
	for (size_t pos = 0; keymap_next(&t->peers, &pos, &key, &value);) {
		struct trust_member *m = value;
		if (!m->member)
			continue;
		t->n_members++;
		if (keymap_put(&t->by_curve, m->curve, m) != 0)
			log_warnx("trust: out of memory indexing CURVE keys");
	}
	for (size_t i = 0; i < n_before && t->ops; i++)
		if (!before[i].m->member && t->ops->removed)
			t->ops->removed(t->arg, before[i].m->peer);
	for (size_t pos = 0; t->ops && keymap_next(&t->peers, &pos, &key, &value);) {
		struct trust_member *m = value;
		const struct was *w = m->member ? find_was(before, n_before, m) : NULL;
		if (!m->member)
			continue;
		if (!w && t->ops->added)
			t->ops->added(t->arg, m->peer);
		if (m->endpoint[0] && (!w || strcmp(w->endpoint, m->endpoint)) && t->ops->endpoint)
			t->ops->endpoint(t->arg, m->peer, m->endpoint);
	}
	free(before);
	t->settling = false;
}

/* ---- life cycle and queries ---- */

int trust_new(struct trust **out, const uint8_t self[PROTO_KEY_LEN],
              const uint8_t founder[PROTO_KEY_LEN], const struct trust_ops *ops, void *arg)
{
	struct trust *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	memcpy(t->self, self, PROTO_KEY_LEN);
	memcpy(t->founder, founder, PROTO_KEY_LEN);
	keymap_init(&t->peers);
	keymap_init(&t->by_curve);
	t->ops = ops;
	t->arg = arg;
	if (!peer_get(t, self, true) || !peer_get(t, founder, true)) {
		trust_free(&t);
		return -ENOMEM;
	}
	t->dirty = true;
	*out = t;
	return 0;
}

void trust_free(struct trust **t)
{
	const uint8_t *key;
	void *value;

	if (!t || !*t)
		return;
	for (size_t pos = 0; keymap_next(&(*t)->peers, &pos, &key, &value);)
		free(value);
	for (size_t i = 0; i < (*t)->n_grants; i++)
		free((*t)->grants[i].g.scopes);
	keymap_free(&(*t)->peers);
	keymap_free(&(*t)->by_curve);
	free((*t)->events);
	free((*t)->grants);
	free((*t)->admit_grants);
	free(*t);
	*t = NULL;
}

void trust_set_founder(struct trust *t, const uint8_t founder[PROTO_KEY_LEN])
{
	memcpy(t->founder, founder, PROTO_KEY_LEN);
	if (!peer_get(t, founder, true))
		log_warnx("trust: out of memory");
	t->dirty = true;
}

const uint8_t *trust_founder(const struct trust *t)
{
	return t->founder;
}

static int load_one(void *arg, const uint8_t *buf, size_t len)
{
	struct trust *t = arg;
	struct proto_record rec;
	char who[PROTO_PEERID_SHORT_LEN + 1];
	int err;

	if (proto_record_decode(&rec, buf, len) != 0)
		return 0;
	err = trust_on_record(t, &rec);
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
	int err = store_records_each(s, load_one, t);

	if (!err)
		settle(t);
	return err;
}

bool trust_is_member(struct trust *t, const uint8_t peer[PROTO_KEY_LEN])
{
	settle(t);
	return in_now(t, peer);
}

bool trust_is_admitter(struct trust *t, const uint8_t peer[PROTO_KEY_LEN], uint64_t now)
{
	settle(t);
	return in_now(t, peer) && admitter_at(t, peer, now, 0);
}

uint64_t trust_clock(struct trust *t, uint64_t now)
{
	settle(t);
	if (t->latest <= now)
		return now;
	return t->latest - now > TRUST_CLOCK_LEAD ? now + TRUST_CLOCK_LEAD : t->latest;
}

const struct trust_member *trust_by_curve(struct trust *t, const uint8_t curve[PROTO_KEY_LEN])
{
	settle(t);
	return keymap_get(&t->by_curve, curve);
}

const struct trust_member *trust_get(struct trust *t, const uint8_t peer[PROTO_KEY_LEN])
{
	settle(t);
	return keymap_get(&t->peers, peer);
}

size_t trust_count(struct trust *t)
{
	settle(t);
	return t->n_members;
}

void trust_each(struct trust *t, bool all, void (*fn)(void *arg, const struct trust_member *m),
                void *arg)
{
	const uint8_t *key;
	void *value;

	settle(t);
	for (size_t pos = 0; keymap_next(&t->peers, &pos, &key, &value);) {
		const struct trust_member *m = value;
		if (all ? (m->member || m->ejected) : m->member)
			fn(arg, m);
	}
}

/* Does scope s satisfy what want asks? */
static bool scope_matches(const struct proto_scope *s, const struct proto_scope *want)
{
	if (s->type != want->type)
		return false;
	if (s->type == PROTO_SCOPE_DNS)
		return !strcmp(s->zone, want->zone);
	return true;
}

int trust_grant_check(struct trust *t, const uint8_t issuer[PROTO_KEY_LEN],
                      const uint8_t subject[PROTO_KEY_LEN], const struct proto_scope *want,
                      uint64_t now, const struct trust_grant **out,
                      const struct proto_scope **scope)
{
	int best = KITH_ENOGRANT;

	settle(t);
	*out = NULL;
	*scope = NULL;
	if (!in_now(t, issuer) || !in_now(t, subject))
		return KITH_ENOGRANT;
	for (size_t i = 0; i < t->n_grants; i++) {
		const struct trust_grant *g = &t->grants[i].g;
		if (memcmp(g->issuer, issuer, PROTO_KEY_LEN) ||
		    memcmp(g->subject, subject, PROTO_KEY_LEN))
			continue;
		for (uint32_t k = 0; k < g->n_scopes; k++) {
			const struct proto_scope *s = &g->scopes[k];
			if (!scope_matches(s, want))
				continue;
			if (g->revoked_at) {
				best = KITH_EREVOKED;
				continue;
			}
			if (now < g->not_before || now > g->expires) {
				if (best == KITH_ENOGRANT)
					best = KITH_EEXPIRED;
				continue;
			}
			/* backup: the largest quota, and of equal ones the
			 * largest count of shards */
			if (!*scope ||
			    (s->type == PROTO_SCOPE_BACKUP &&
			     (s->quota > (*scope)->quota ||
			      (s->quota == (*scope)->quota &&
			       proto_scope_backup_count(s) > proto_scope_backup_count(*scope))))) {
				*out = g;
				*scope = s;
			}
		}
	}
	return *out ? 0 : best;
}

void trust_grants_each(struct trust *t, void (*fn)(void *arg, const struct trust_grant *g),
                       void *arg)
{
	settle(t);
	for (size_t i = 0; i < t->n_grants; i++)
		fn(arg, &t->grants[i].g);
}

const struct trust_grant *trust_grant_get(struct trust *t, const uint8_t issuer[PROTO_KEY_LEN],
                                          const char *id)
{
	size_t i;

	settle(t);
	i = grant_find(t, issuer, id);
	return i < t->n_grants ? &t->grants[i].g : NULL;
}

const char *trust_refusal(int code, const char *scope_name)
{
	static char text[128];

	switch (code) {
	case KITH_EREVOKED:
		snprintf(text, sizeof(text), "your %s grant from this agent was revoked",
		         scope_name);
		break;
	case KITH_EEXPIRED:
		snprintf(text, sizeof(text), "your %s grant from this agent has expired",
		         scope_name);
		break;
	default:
		snprintf(text, sizeof(text), "no %s grant from this agent", scope_name);
	}
	return text;
}
