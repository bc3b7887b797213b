/* The trust network from records: the founder, admissions by admitters,
 * admit grants and their revocation, ejection with its cascade, grant
 * checks, and the same answer whatever order the records come in. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "agent/trust/trust.h"
#include "proto/body.h"
#include "proto/error.h"
#include "proto/identity.h"
#include "proto/record.h"
#include "store/store.h"
#include "tap.h"

#define N_IDS 7
static struct proto_identity *id[N_IDS]; /* 0 = founder A, then B, C, D, E, F, X */
#define A id[0]
#define B id[1]
#define C id[2]
#define D id[3]
#define E id[4]
#define F id[5]
#define X id[6]

static uint64_t base;
static int added, removed;
static char last_endpoint[300];

static void on_added(void *arg, const uint8_t peer[PROTO_KEY_LEN])
{
	(void)arg;
	(void)peer;
	added++;
}

static void on_removed(void *arg, const uint8_t peer[PROTO_KEY_LEN])
{
	(void)arg;
	(void)peer;
	removed++;
}

static void on_endpoint(void *arg, const uint8_t peer[PROTO_KEY_LEN], const char *endpoint)
{
	(void)arg;
	(void)peer;
	snprintf(last_endpoint, sizeof(last_endpoint), "%s", endpoint);
}

static const struct trust_ops ops = {on_added, on_removed, on_endpoint};

/* Every record made, to be replayed in other orders. */
static struct mp_buf made[64];
static size_t n_made;
static uint64_t next_seq = 1;

static void sign(const struct proto_identity *author, uint8_t kind, const char *name,
                 const struct mp_buf *body, uint64_t at, uint64_t ttl)
{
	struct proto_record rec = {0};

	rec.kind = kind;
	snprintf(rec.name, sizeof(rec.name), "%s", name);
	rec.seq = next_seq++;
	rec.issued = base + at;
	rec.expires = rec.issued + ttl;
	rec.body = body ? body->data : NULL;
	rec.body_len = body ? body->len : 0;
	if (n_made == 64 || proto_record_sign(&made[n_made++], author, &rec) != 0)
		abort();
}

static void admission(const struct proto_identity *author, const struct proto_identity *subject,
                      uint64_t at)
{
	struct proto_admission adm = {0};
	struct mp_buf body = {0};
	char name[80];

	memcpy(adm.subject, subject->pk, PROTO_KEY_LEN);
	snprintf(adm.endpoint, sizeof(adm.endpoint), "tcp://host-%02x:1", subject->pk[0]);
	proto_admission_encode(&body, &adm);
	snprintf(name, sizeof(name), "adm-%02x%02x", subject->pk[0], subject->pk[1]);
	sign(author, PROTO_KIND_ADMISSION, name, &body, at, 86400 * 365);
	mp_buf_free(&body);
}

static void grant(const struct proto_identity *issuer, const struct proto_identity *subject,
                  const char *gid, const char *scope, uint64_t at, uint64_t ttl)
{
	struct proto_grant *g = calloc(1, sizeof(*g));
	struct mp_buf body = {0};

	memcpy(g->subject, subject->pk, PROTO_KEY_LEN);
	g->n_scopes = 1;
	if (!g || proto_scope_parse(&g->scopes[0], scope, strlen(scope), NULL) != 0 ||
	    proto_grant_encode(&body, g) != 0)
		abort();
	sign(issuer, PROTO_KIND_GRANT, gid, &body, at, ttl);
	mp_buf_free(&body);
	free(g);
}

static void revoke(const struct proto_identity *author, const char *gid,
                   const struct proto_identity *member, uint64_t at)
{
	struct proto_revocation r = {0};
	struct mp_buf body = {0};
	char name[80];

	if (gid) {
		r.target = PROTO_REVOKE_GRANT;
		snprintf(r.grant_id, sizeof(r.grant_id), "%s", gid);
		snprintf(name, sizeof(name), "grant:%s", gid);
	} else {
		r.target = PROTO_REVOKE_MEMBER;
		memcpy(r.member, member->pk, PROTO_KEY_LEN);
		snprintf(name, sizeof(name), "member:%02x%02x", member->pk[0], member->pk[1]);
	}
	proto_revocation_encode(&body, &r);
	sign(author, PROTO_KIND_REVOCATION, name, &body, at, 86400 * 365);
	mp_buf_free(&body);
}

/* Feeds made[from..] to t. */
static void feed_from(struct trust *t, size_t from)
{
	for (size_t i = from; i < n_made; i++) {
		struct proto_record rec;
		if (proto_record_decode(&rec, made[i].data, made[i].len) != 0 ||
		    trust_on_record(t, &rec) != 0)
			abort();
	}
}

static int members_mask(struct trust *t)
{
	int mask = 0;

	for (int i = 0; i < N_IDS; i++)
		if (trust_is_member(t, id[i]->pk))
			mask |= 1 << i;
	return mask;
}

#define M(x) (1 << (x))

static void test_replay(void)
{
	struct trust *t = NULL, *t2 = NULL;
	size_t fed = 0;

	is(trust_new(&t, A->pk, A->pk, &ops, NULL), 0, "new, founder is us");
	is(members_mask(t), M(0), "the founder is the first member");
	is(added, 1, "added reported for the founder");

	admission(A, B, 10);
	feed_from(t, fed), fed = n_made;
	is(members_mask(t), M(0) | M(1), "founder admits B");
	ok(!strncmp(last_endpoint, "tcp://host-", 11), "B's endpoint from its admission");
	ok(trust_is_admitter(t, A->pk, base + 11) && !trust_is_admitter(t, B->pk, base + 11),
	   "the founder admits, B may not");

	admission(B, C, 20);
	feed_from(t, fed), fed = n_made;
	is(members_mask(t), M(0) | M(1), "B, not an admitter, cannot admit C");

	grant(A, B, "g-admit-b", "admit", 30, 1000);
	admission(B, D, 40);
	feed_from(t, fed), fed = n_made;
	is(members_mask(t), M(0) | M(1) | M(3),
	   "with an admit grant B admits D; C, admitted before the grant, stays out");

	revoke(A, "g-admit-b", NULL, 50);
	admission(B, E, 60);
	feed_from(t, fed), fed = n_made;
	is(members_mask(t), M(0) | M(1) | M(3),
	   "after the admit grant is revoked B's admission of E does not count; D stays");

	grant(A, D, "g-admit-d", "admit", 70, 1000);
	admission(D, F, 80);
	feed_from(t, fed), fed = n_made;
	ok(members_mask(t) & M(5), "D, admitter by grant, admits F");

	removed = 0;
	revoke(D, NULL, A, 85); /* an admitter tries to eject the founder */
	revoke(A, NULL, D, 90); /* the founder ejects D */
	feed_from(t, fed), fed = n_made;
	is(members_mask(t), M(0) | M(1), "ejecting D removes D and F whom D admitted");
	is(removed, 2, "removed reported for D and F");
	ok(trust_get(t, D->pk)->ejected && !trust_get(t, F->pk)->ejected,
	   "D is ejected, F only left out");
	ok(trust_is_member(t, A->pk), "the founder cannot be ejected");

	/* Same records, reverse order, another agent: same members. */
	is(trust_new(&t2, B->pk, A->pk, &ops, NULL), 0, "a second agent's view");
	for (size_t i = n_made; i-- > 0;) {
		struct proto_record rec;
		proto_record_decode(&rec, made[i].data, made[i].len);
		trust_on_record(t2, &rec);
	}
	is(members_mask(t2), members_mask(t), "same members whatever the arrival order");
	trust_free(&t2);
	trust_free(&t);
}

/* An admit grant is only as good as its issuer's powers when it signed it. */
static void test_grant_chain(void)
{
	struct trust *t = NULL;
	size_t from = n_made;

	admission(A, B, 1010);
	grant(B, C, "early", "admit", 1020, 100000); /* B is no admitter yet */
	admission(A, C, 1030);
	grant(A, B, "late", "admit", 1040, 100000);
	admission(C, D, 1050);
	admission(B, E, 1060); /* B is one now */
	trust_new(&t, A->pk, A->pk, &ops, NULL);
	feed_from(t, from);
	ok(!trust_is_member(t, D->pk),
	   "a grant signed before its issuer could admit does not count");
	ok(trust_is_member(t, E->pk), "the issuer itself admits once granted");
	trust_free(&t);
}

static int by_key_descending(const void *a, const void *b)
{
	return memcmp((*(struct proto_identity *const *)b)->pk,
	              (*(struct proto_identity *const *)a)->pk, PROTO_KEY_LEN);
}

/* A chain of admissions all signed in one second, each admitter's key
 * sorting before the key of the one that admitted it: the replay order
 * within the second must not lose the chain. Then trust_clock(). */
static void test_same_second(void)
{
	struct proto_identity *s[N_IDS];
	struct trust *t = NULL;
	size_t from = n_made;

	memcpy(s, id, sizeof(s));
	qsort(s, N_IDS, sizeof(s[0]), by_key_descending);
	admission(s[0], s[1], 950);
	grant(s[0], s[1], "same-1", "admit", 950, 1000);
	admission(s[1], s[2], 950);
	grant(s[1], s[2], "same-2", "admit", 950, 1000);
	admission(s[2], s[3], 950);
	admission(s[3], s[4], 950); /* s[3] holds no admit grant */
	trust_new(&t, s[0]->pk, s[0]->pk, &ops, NULL);
	feed_from(t, from);
	ok(trust_is_member(t, s[1]->pk) && trust_is_member(t, s[2]->pk) &&
	       trust_is_member(t, s[3]->pk),
	   "a chain of admissions within one second is followed");
	ok(!trust_is_member(t, s[4]->pk), "and still needs an admit grant at every link");

	is(trust_clock(t, base + 3000), base + 3000, "trust clock: our own clock when ahead");
	is(trust_clock(t, base + 940), base + 950,
	   "trust clock: never before the newest trust record");
	is(trust_clock(t, base + 850), base + 850 + TRUST_CLOCK_LEAD,
	   "trust clock: at most TRUST_CLOCK_LEAD ahead of ours");
	trust_free(&t);
	/* The founder here is not A: keep these out of the later tests. */
	while (n_made > from)
		mp_buf_free(&made[--n_made]);
}

static void test_grants(void)
{
	struct trust *t = NULL;
	const struct trust_grant *g;
	const struct proto_scope *s;
	struct proto_scope want = {0};
	uint64_t now = base + 500;
	size_t from = n_made;

	admission(A, C, 100);
	grant(C, A, "mon", "monitor", 110, 10000);
	grant(C, A, "old", "backup:1G", 110, 10);    /* expires at +120 */
	grant(C, A, "big", "backup:5G", 115, 10000); /* the largest valid */
	grant(C, A, "small", "backup:2G", 115, 10000);
	grant(C, A, "dns1", "dns:example.org", 120, 10000);
	grant(C, A, "dns2", "dns:other.org", 120, 10000);
	revoke(C, "dns2", NULL, 130);
	trust_new(&t, A->pk, A->pk, &ops, NULL);
	feed_from(t, from);
	(void)from;

	want.type = PROTO_SCOPE_MONITOR;
	is(trust_grant_check(t, C->pk, A->pk, &want, now, &g, &s), 0, "monitor granted");
	ok(g && !strcmp(g->id, "mon"), "by grant mon");
	is(trust_grant_check(t, A->pk, C->pk, &want, now, &g, &s), KITH_ENOGRANT,
	   "not the other way round");
	want.type = PROTO_SCOPE_BACKUP;
	is(trust_grant_check(t, C->pk, A->pk, &want, now, &g, &s), 0, "backup granted");
	ok(s && s->quota == 5ull << 30, "the largest valid quota counts");
	want.type = PROTO_SCOPE_DNS;
	snprintf(want.zone, sizeof(want.zone), "example.org");
	is(trust_grant_check(t, C->pk, A->pk, &want, now, &g, &s), 0, "dns for its zone");
	snprintf(want.zone, sizeof(want.zone), "other.org");
	is(trust_grant_check(t, C->pk, A->pk, &want, now, &g, &s), KITH_EREVOKED,
	   "revoked dns grant: KITH_EREVOKED");
	snprintf(want.zone, sizeof(want.zone), "third.org");
	is(trust_grant_check(t, C->pk, A->pk, &want, now, &g, &s), KITH_ENOGRANT,
	   "no grant for that zone");
	want.type = PROTO_SCOPE_MONITOR;
	is(trust_grant_check(t, C->pk, A->pk, &want, base + 20000, &g, &s), KITH_EEXPIRED,
	   "expired monitor grant: KITH_EEXPIRED");
	want.type = PROTO_SCOPE_ADMIT;
	is(trust_grant_check(t, C->pk, A->pk, &want, now, &g, &s), KITH_ENOGRANT, "no admit");
	ok(trust_grant_get(t, C->pk, "big") != NULL, "grant found by id");
	trust_free(&t);
}

static void test_store_and_join(void)
{
	char dir[] = "/tmp/kith-test-trust-XXXXXX", cmd[100];
	struct trust *t = NULL, *joiner = NULL, *live = NULL;
	struct store *s = NULL;

	if (!mkdtemp(dir) || store_open(&s, dir, NULL) != 0)
		abort();
	trust_new(&live, A->pk, A->pk, &ops, NULL);
	for (size_t i = 0; i < n_made; i++)
		store_record_put(s, made[i].data, made[i].len, (uint64_t)time(NULL), NULL);
	feed_from(live, 0);
	is(trust_new(&t, A->pk, A->pk, &ops, NULL), 0, "a view from the store");
	is(trust_load(t, s), 0, "loaded");
	is(members_mask(t), members_mask(live), "the store gives the same members");

	/* X joins: its own founder at first, then the network's. */
	is(trust_new(&joiner, X->pk, X->pk, &ops, NULL), 0, "a fresh agent");
	is(trust_load(joiner, s), 0, "it holds the network's records");
	ok(trust_is_member(joiner, X->pk) && !trust_is_member(joiner, A->pk),
	   "alone in its own network");
	trust_set_founder(joiner, A->pk);
	ok(!trust_is_member(joiner, X->pk), "in A's network it is not admitted yet");
	admission(A, X, 700);
	feed_from(joiner, n_made - 1);
	ok(trust_is_member(joiner, X->pk) && trust_is_member(joiner, A->pk),
	   "once admitted it is a member of A's network");
	trust_free(&joiner);
	trust_free(&t);
	trust_free(&live);
	store_close(&s);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		abort();
}

int main(void)
{
	base = (uint64_t)time(NULL) - 1000;
	for (int i = 0; i < N_IDS; i++)
		if (proto_identity_generate(&id[i]) != 0)
			return 1;
	test_replay();
	test_grant_chain();
	test_same_second();
	test_grants();
	test_store_and_join();
	for (size_t i = 0; i < n_made; i++)
		mp_buf_free(&made[i]);
	for (int i = 0; i < N_IDS; i++)
		proto_identity_free(&id[i]);
	return tap_done();
}
