/* The trust network from records: members are us and, transitively,
 * everyone a member admitted; endpoints come from member records first. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "agent/trust.h"
#include "proto/body.h"
#include "proto/identity.h"
#include "proto/record.h"
#include "store/store.h"
#include "tap.h"

static struct proto_identity *a, *b, *c, *d, *e;
static int added_count;
static char last_endpoint[300];

static void on_added(void *arg, const uint8_t peer[PROTO_KEY_LEN])
{
	(void)arg;
	(void)peer;
	added_count++;
}

static void on_endpoint(void *arg, const uint8_t peer[PROTO_KEY_LEN], const char *endpoint)
{
	(void)arg;
	(void)peer;
	snprintf(last_endpoint, sizeof(last_endpoint), "%s", endpoint);
}

static const struct trust_ops ops = {on_added, on_endpoint};
static uint64_t next_seq = 1;

/* Signs a record of kind with body by author into out. */
static void sign(struct mp_buf *out, const struct proto_identity *author, uint8_t kind,
                 const char *name, const struct mp_buf *body)
{
	struct proto_record rec = {0};

	rec.kind = kind;
	snprintf(rec.name, sizeof(rec.name), "%s", name);
	rec.seq = next_seq++;
	rec.issued = (uint64_t)time(NULL);
	rec.expires = rec.issued + 3600;
	rec.body = body->data;
	rec.body_len = body->len;
	if (proto_record_sign(out, author, &rec) != 0)
		abort();
}

static void admission(struct mp_buf *out, const struct proto_identity *author,
                      const struct proto_identity *subject, const char *endpoint)
{
	struct proto_admission adm = {0};
	struct mp_buf body = {0};

	memcpy(adm.subject, subject->pk, PROTO_KEY_LEN);
	snprintf(adm.endpoint, sizeof(adm.endpoint), "%s", endpoint);
	if (proto_admission_encode(&body, &adm) != 0)
		abort();
	sign(out, author, PROTO_KIND_ADMISSION, "adm", &body);
	mp_buf_free(&body);
}

static void member_record(struct mp_buf *out, const struct proto_identity *author, const char *name,
                          const char *endpoint)
{
	struct proto_member m = {0};
	struct mp_buf body = {0};

	snprintf(m.name, sizeof(m.name), "%s", name);
	snprintf(m.endpoints[0], sizeof(m.endpoints[0]), "%s", endpoint);
	m.n_endpoints = 1;
	if (proto_member_encode(&body, &m) != 0)
		abort();
	sign(out, author, PROTO_KIND_MEMBER, "", &body);
	mp_buf_free(&body);
}

/* Feeds an encoded record to t (and stores it in s when given). */
static int feed(struct trust *t, struct store *s, struct mp_buf *buf)
{
	struct proto_record rec;
	int err = proto_record_decode(&rec, buf->data, buf->len);

	if (!err && s)
		err = store_record_put(s, buf->data, buf->len, (uint64_t)time(NULL), NULL);
	if (!err)
		err = trust_on_record(t, &rec);
	mp_buf_free(buf);
	return err;
}

int main(void)
{
	char dir[] = "/tmp/kith-test-trust-XXXXXX", cmd[100];
	struct trust *t = NULL, *again = NULL;
	struct store *s = NULL;
	struct mp_buf buf = {0};
	const struct trust_member *m;

	if (!mkdtemp(dir) || proto_identity_generate(&a) || proto_identity_generate(&b) ||
	    proto_identity_generate(&c) || proto_identity_generate(&d) ||
	    proto_identity_generate(&e) || store_open(&s, dir, NULL))
		return 1;
	is(trust_new(&t, a->pk, &ops, NULL), 0, "new");
	ok(trust_is_member(t, a->pk) && trust_count(t) == 1, "we are the first member");
	is(added_count, 1, "added reported for us");

	admission(&buf, a, b, "tcp://b.example:7707");
	is(feed(t, s, &buf), 0, "a admits b");
	ok(trust_is_member(t, b->pk), "b is a member");
	ok(!strcmp(last_endpoint, "tcp://b.example:7707"), "b's endpoint from the admission");
	m = trust_by_curve(t, b->curve_pk);
	ok(m && !memcmp(m->peer, b->pk, PROTO_KEY_LEN), "b found by its CURVE key");
	ok(!memcmp(m->admitted_by, a->pk, PROTO_KEY_LEN), "admitted by a");

	admission(&buf, e, d, "tcp://d.example:7707");
	is(feed(t, s, &buf), 0, "e (a stranger) admits d");
	ok(!trust_is_member(t, d->pk), "d is not a member: e is not one");
	admission(&buf, b, c, "");
	is(feed(t, s, &buf), 0, "b admits c");
	ok(trust_is_member(t, c->pk), "c is a member, transitively");
	admission(&buf, c, e, "tcp://e.example:1");
	is(feed(t, s, &buf), 0, "c admits e");
	ok(trust_is_member(t, e->pk) && trust_is_member(t, d->pk),
	   "e is a member, and so is d whom e admitted earlier");
	is(trust_count(t), 5, "five members");
	is(added_count, 5, "added reported once each");

	member_record(&buf, b, "Collective B", "tcp://b2.example:7707");
	is(feed(t, s, &buf), 0, "b's member record");
	m = trust_get(t, b->pk);
	ok(m && !strcmp(m->name, "Collective B"), "b's name");
	ok(m && !strcmp(m->endpoint, "tcp://b2.example:7707") && m->endpoint_from_member,
	   "b's own endpoint wins over the admission's");
	admission(&buf, a, b, "tcp://b3.example:7707");
	is(feed(t, s, &buf), 0, "a newer admission of b");
	ok(!strcmp(trust_get(t, b->pk)->endpoint, "tcp://b2.example:7707"),
	   "an admission does not override b's own endpoint");

	is(trust_new(&again, a->pk, &ops, NULL), 0, "a second view");
	is(trust_load(again, s), 0, "loaded from the store");
	is(trust_count(again), 5, "same five members after a reload");
	m = trust_get(again, b->pk);
	ok(m && !strcmp(m->name, "Collective B") && !strcmp(m->endpoint, "tcp://b2.example:7707"),
	   "name and endpoint restored");
	trust_free(&again);
	trust_free(&t);
	ok(t == NULL, "free clears the pointer");
	store_close(&s);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		return 1;
	proto_identity_free(&a);
	proto_identity_free(&b);
	proto_identity_free(&c);
	proto_identity_free(&d);
	proto_identity_free(&e);
	return tap_done();
}
