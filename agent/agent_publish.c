/* Our own records: the member record that tells partners who and where we
 * are, and admissions of new members. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "proto/body.h"
#include "proto/error.h"
#include "proto/identity.h"
#include "proto/record.h"
#include "store/store.h"
#include "agent_int.h"
#include "agent/core/log.h"

/* The issue time of a trust record (admission, grant, revocation): not
 * before the latest trust event we hold (trust_clock()). That settles the
 * trust network, a replay of all its events after any change: a batch
 * asks once for all its records. */
static uint64_t trust_issued(struct agent *a)
{
	return trust_clock(a->trust, loop_wall_s());
}

/* Signs our record, issued at issued, and hands it to gossip, urgently
 * or not. */
static int publish_at(struct agent *a, uint8_t kind, const char *name, const uint8_t *body,
                      size_t body_len, uint64_t issued, uint64_t ttl, bool urgent)
{
	struct proto_record rec = {0};
	struct mp_buf out = {0};
	uint64_t head = 0, floor;
	int err;

	/* Above our own head too: a store rebuilt from partners' copies must
	 * not hand out seqs it already used; and above the clock, for a store
	 * restored empty (proto_seq_floor()). */
	err = store_head_get(a->store, a->id->pk, &head);
	floor = proto_seq_floor(loop_wall_s());
	if (!err)
		err = store_counter_next(a->store, "seq", 1, head > floor ? head : floor, &rec.seq);
	if (err)
		return err;
	rec.kind = kind;
	snprintf(rec.name, sizeof(rec.name), "%s", name);
	rec.issued = issued;
	rec.expires = rec.issued + ttl;
	rec.body = body;
	rec.body_len = body_len;
	err = proto_record_sign(&out, a->id, &rec);
	if (!err)
		err = urgent ? gossip_publish_urgent(a->gossip, out.data, out.len)
		             : gossip_publish(a->gossip, out.data, out.len);
	mp_buf_free(&out);
	return err;
}

static int publish(struct agent *a, uint8_t kind, const char *name, const uint8_t *body,
                   size_t body_len, uint64_t ttl, bool urgent)
{
	uint64_t issued = kind == PROTO_KIND_ADMISSION || kind == PROTO_KIND_GRANT ||
	                          kind == PROTO_KIND_REVOCATION
	                      ? trust_issued(a)
	                      : loop_wall_s();

	return publish_at(a, kind, name, body, body_len, issued, ttl, urgent);
}

int agent_publish(struct agent *a, uint8_t kind, const char *name, const uint8_t *body,
                  size_t body_len, uint64_t ttl)
{
	return publish(a, kind, name, body, body_len, ttl, false);
}

int agent_publish_urgent(struct agent *a, uint8_t kind, const char *name, const uint8_t *body,
                         size_t body_len, uint64_t ttl)
{
	return publish(a, kind, name, body, body_len, ttl, true);
}

const char *agent_advertised(const struct agent *a)
{
	static const char *const wildcards[] = {"tcp://0.0.0.0:", "tcp://*:", "tcp://[::]:"};

	if (a->conf.advertise[0])
		return a->conf.advertise;
	for (size_t i = 0; i < sizeof(wildcards) / sizeof(wildcards[0]); i++)
		if (!strncmp(a->conf.listen, wildcards[i], strlen(wildcards[i])))
			return "";
	return a->conf.listen;
}

/* Our current member record's body and expiry; -ENOENT when there is none. */
int agent_member_current(struct agent *a, struct proto_member *m, uint64_t *expires)
{
	struct proto_record rec;
	uint8_t *buf = NULL;
	size_t len = 0;
	int err = store_record_get(a->store, a->id->pk, PROTO_KIND_MEMBER, "", &buf, &len);

	if (!err)
		err = proto_record_decode(&rec, buf, len);
	if (!err) {
		*expires = rec.expires;
		err = proto_member_decode(m, rec.body, rec.body_len);
	}
	free(buf);
	return err;
}

int agent_refresh_member(struct agent *a)
{
	struct proto_member m = {0};
	const char *endpoint = agent_advertised(a);
	uint64_t expires = 0, now = loop_wall_s();
	bool same;
	int err = agent_member_current(a, &m, &expires);

	if (err == -ENOENT)
		log_warnx("no member record of ours in the store: run kith init");
	if (err)
		return err;
	same = (endpoint[0] ? m.n_endpoints == 1 && !strcmp(m.endpoints[0], endpoint)
	                    : m.n_endpoints == 0) &&
	       !strcmp(m.version, "kith " KITH_VERSION) && expires > now + AGENT_MEMBER_TTL / 2;
	if (same)
		return 0;
	err = agent_member_publish(a, &m);
	if (!err)
		log_info("published our member record (endpoint %s)",
		         endpoint[0] ? endpoint : "none");
	return err;
}

int agent_member_publish(struct agent *a, struct proto_member *m)
{
	const char *endpoint = agent_advertised(a);
	struct mp_buf body = {0};
	int err;

	m->n_endpoints = endpoint[0] ? 1 : 0;
	snprintf(m->endpoints[0], sizeof(m->endpoints[0]), "%s", endpoint);
	snprintf(m->version, sizeof(m->version), "kith %s", KITH_VERSION);
	err = proto_member_encode(&body, m);
	if (!err)
		err =
		    agent_publish(a, PROTO_KIND_MEMBER, "", body.data, body.len, AGENT_MEMBER_TTL);
	mp_buf_free(&body);
	return err;
}

bool agent_may_admit(struct agent *a)
{
	return trust_is_admitter(a->trust, a->id->pk, trust_clock(a->trust, loop_wall_s()));
}

/* One admission record, issued at issued. */
static int admit_at(struct agent *a, const uint8_t peer[PROTO_KEY_LEN], const char *endpoint,
                    uint64_t issued)
{
	struct proto_admission adm = {0};
	struct mp_buf body = {0};
	char name[2 * PROTO_KEY_LEN + 1];
	int err;

	memcpy(adm.subject, peer, PROTO_KEY_LEN);
	snprintf(adm.endpoint, sizeof(adm.endpoint), "%s", endpoint);
	err = proto_admission_encode(&body, &adm);
	if (!err) {
		sodium_bin2hex(name, sizeof(name), peer, PROTO_KEY_LEN);
		err = publish_at(a, PROTO_KIND_ADMISSION, name, body.data, body.len, issued,
		                 AGENT_ADMISSION_TTL, false);
	}
	mp_buf_free(&body);
	return err;
}

int agent_admit(struct agent *a, const uint8_t peer[PROTO_KEY_LEN], const char *endpoint)
{
	return admit_at(a, peer, endpoint, trust_issued(a));
}

int agent_admit_many(struct agent *a, const struct ctl_admit_entry *e, size_t n, size_t *done)
{
	/* One clock for the batch: asking per record would replay the trust
	 * network once per admission, each made dirty by the one before. All
	 * are issued in the same second, as admissions made by hand within a
	 * second are; the replay orders events of one second among
	 * themselves. */
	uint64_t issued = trust_issued(a);
	int err = 0;

	*done = 0;
	for (size_t i = 0; i < n && !err; i++) {
		err = admit_at(a, e[i].peer, e[i].endpoint, issued);
		if (!err)
			(*done)++;
	}
	return err;
}
