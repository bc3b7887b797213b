/* Our own services and contacts: kith service add|rm|ls and kith contact
 * add|rm. A service's check details are sealed to us and to each partner
 * holding our monitor grant, and sealed again whenever that set changes,
 * so a partner whose grant ends stops receiving them. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/body.h"
#include "proto/error.h"
#include "proto/identity.h"
#include "proto/ops.h"
#include "proto/peerid.h"
#include "proto/record.h"
#include "proto/units.h"
#include "store/store.h"
#include "agent_int.h"
#include "agent/monitor/alert.h"
#include "agent/core/log.h"

/* Service records are re-signed when half of this has passed. */
#define SERVICE_TTL (30 * 24 * 3600)

int agent_service_open(struct agent *a, const uint8_t *body, size_t len, struct proto_service *spec)
{
	struct proto_service_record *r = malloc(sizeof(*r));
	uint8_t plain[PROTO_SEALED_MAX];
	int rc = r ? proto_service_record_decode(r, body, len) : -ENOMEM;

	for (uint32_t i = 0; !rc && i < r->n_boxes; i++) {
		const struct proto_sealed_box *b = &r->boxes[i];
		if (memcmp(b->reader, a->id->pk, PROTO_KEY_LEN))
			continue;
		if (b->len <= PROTO_SEAL_OVERHEAD ||
		    proto_unseal(plain, b->box, b->len, a->id) != 0)
			rc = KITH_EBADSIG;
		else
			rc = proto_service_decode(spec, plain, b->len - PROTO_SEAL_OVERHEAD);
		free(r);
		return rc;
	}
	free(r);
	return rc ? rc : -ENOENT;
}

/* ---- readers ---- */

struct readers {
	struct agent *a;
	const char *zone; /* the service's DNS zone, NULL: none */
	uint8_t keys[PROTO_READERS_MAX][PROTO_KEY_LEN];
	uint8_t roles[PROTO_READERS_MAX]; /* of keys[i] until the sort: ROLE_* */
	uint32_t n, n_monitor, n_dns;     /* readers (us too); holders of each grant */
	bool overflow;
};

#define ROLE_MONITOR 1
#define ROLE_DNS 2

static int key_order(const void *x, const void *y)
{
	return memcmp(x, y, PROTO_KEY_LEN);
}

static void add_reader(struct readers *r, const uint8_t key[PROTO_KEY_LEN], uint8_t role)
{
	uint32_t i = 0;

	while (i < r->n && memcmp(r->keys[i], key, PROTO_KEY_LEN))
		i++;
	if (i == r->n) {
		if (r->n == PROTO_READERS_MAX) {
			r->overflow = true;
			return;
		}
		memcpy(r->keys[r->n++], key, PROTO_KEY_LEN);
	}
	r->n_monitor += (role & ROLE_MONITOR) && !(r->roles[i] & ROLE_MONITOR);
	r->n_dns += (role & ROLE_DNS) && !(r->roles[i] & ROLE_DNS);
	r->roles[i] |= role;
}

static void add_monitor(void *arg, const struct trust_grant *g)
{
	struct readers *r = arg;
	struct proto_scope want = {.type = PROTO_SCOPE_MONITOR};
	const struct trust_grant *valid;
	const struct proto_scope *scope;

	if (memcmp(g->issuer, r->a->id->pk, PROTO_KEY_LEN))
		return;
	if (trust_grant_check(r->a->trust, g->issuer, g->subject, &want, loop_wall_s(), &valid,
	                      &scope) == 0)
		add_reader(r, g->subject, ROLE_MONITOR);
	if (!r->zone)
		return;
	want = (struct proto_scope){.type = PROTO_SCOPE_DNS};
	snprintf(want.zone, sizeof(want.zone), "%s", r->zone);
	if (trust_grant_check(r->a->trust, g->issuer, g->subject, &want, loop_wall_s(), &valid,
	                      &scope) == 0)
		add_reader(r, g->subject, ROLE_DNS);
}

/* Us and every member holding our monitor grant now, and our dns grant of
 * spec's zone if it has a plan: sorted. */
static void current_readers(struct agent *a, const struct proto_service *spec, struct readers *r)
{
	memset(r, 0, sizeof(*r));
	r->a = a;
	r->zone = spec->dns.name[0] ? spec->dns.zone : NULL;
	add_reader(r, a->id->pk, 0);
	trust_grants_each(a->trust, add_monitor, r);
	qsort(r->keys, r->n, PROTO_KEY_LEN, key_order);
}

/* Seals spec to readers and publishes it as service name. */
static int publish_service(struct agent *a, const char *name, const struct proto_service *spec,
                           const struct readers *r)
{
	struct proto_service_record *rec = calloc(1, sizeof(*rec));
	uint8_t(*boxes)[PROTO_SEALED_MAX] = calloc(PROTO_READERS_MAX, sizeof(*boxes));
	struct mp_buf plain = {0}, body = {0};
	int rc = rec && boxes ? proto_service_encode(&plain, spec) : -ENOMEM;

	if (!rc && plain.len + PROTO_SEAL_OVERHEAD > PROTO_SEALED_MAX)
		rc = KITH_ETOOBIG;
	for (uint32_t i = 0; !rc && i < r->n; i++) {
		memcpy(rec->boxes[i].reader, r->keys[i], PROTO_KEY_LEN);
		rc = proto_seal(boxes[i], plain.data, plain.len, r->keys[i]);
		rec->boxes[i].box = boxes[i];
		rec->boxes[i].len = plain.len + PROTO_SEAL_OVERHEAD;
	}
	if (!rc) {
		rec->n_boxes = r->n;
		rec->interval_s = spec->interval_s;
		rc = proto_service_record_encode(&body, rec);
	}
	if (!rc)
		rc = agent_publish(a, PROTO_KIND_SERVICE, name, body.data, body.len, SERVICE_TTL);
	mp_buf_free(&plain);
	mp_buf_free(&body);
	free(boxes);
	free(rec);
	return rc;
}

/* ---- re-sealing ---- */

struct reseal {
	struct agent *a;
	struct readers want; /* scratch, for one service at a time */
	char (*names)[PROTO_SERVICE_NAME_MAX + 1];
	size_t n;
	bool overflow;
};

/* Collects the names of our services that need a new record: their
 * readers (which depend on each one's DNS zone) changed, whether we hold
 * the zone's credential ourselves changed, or the record is half way to
 * its expiry. */
static int check_service(void *arg, const uint8_t *buf, size_t len)
{
	struct reseal *rs = arg;
	struct proto_service_record *r;
	struct proto_service spec;
	struct proto_record rec;
	bool same;

	if (rs->n == PROTO_SERVICES_MAX || proto_record_decode(&rec, buf, len) != 0 ||
	    rec.kind != PROTO_KIND_SERVICE || rec.body_len == 0 ||
	    agent_service_open(rs->a, rec.body, rec.body_len, &spec) != 0)
		return 0;
	r = malloc(sizeof(*r));
	if (!r || proto_service_record_decode(r, rec.body, rec.body_len) != 0) {
		free(r);
		return 0;
	}
	current_readers(rs->a, &spec, &rs->want);
	rs->overflow |= rs->want.overflow;
	same = r->n_boxes == rs->want.n && rec.expires > loop_wall_s() + SERVICE_TTL / 2 &&
	       (!spec.dns.name[0] ||
	        spec.dns.owner_acts == agent_dns_owner_can_act(rs->a, spec.dns.zone));
	for (uint32_t i = 0; same && i < r->n_boxes; i++)
		same = !memcmp(r->boxes[i].reader, rs->want.keys[i], PROTO_KEY_LEN);
	free(r);
	/* Our own service names passed proto_service_name_ok() on the way in. */
	if (!same && proto_service_name_ok(rec.name, strlen(rec.name)))
		memcpy(rs->names[rs->n++], rec.name, strlen(rec.name) + 1);
	return 0;
}

int agent_service_read(struct agent *a, const uint8_t owner[PROTO_KEY_LEN], const char *name,
                       struct proto_service *spec)
{
	struct proto_record rec;
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc = store_record_get(a->store, owner, PROTO_KIND_SERVICE, name, &buf, &len);

	if (!rc)
		rc = proto_record_decode(&rec, buf, len);
	if (!rc)
		rc = rec.body_len ? agent_service_open(a, rec.body, rec.body_len, spec) : -ENOENT;
	free(buf);
	return rc;
}

void agent_services_reseal(struct agent *a)
{
	struct reseal rs = {.a = a};

	rs.names = calloc(PROTO_SERVICES_MAX, sizeof(*rs.names));
	if (!rs.names)
		return;
	/* The walk's buffers are the store's: collect first, publish after. */
	store_records_since(a->store, a->id->pk, 0, check_service, &rs);
	if (rs.overflow)
		log_warnx("more than %d partners may read a service: the others are left out",
		          PROTO_READERS_MAX - 1);
	for (size_t i = 0; i < rs.n; i++) {
		struct proto_service spec;
		int rc = agent_service_read(a, a->id->pk, rs.names[i], &spec);
		if (!rc) {
			if (spec.dns.name[0])
				spec.dns.owner_acts = agent_dns_owner_can_act(a, spec.dns.zone);
			current_readers(a, &spec, &rs.want);
			rc = publish_service(a, rs.names[i], &spec, &rs.want);
		}
		if (rc)
			log_warnx("cannot re-seal service %s: %s", rs.names[i], proto_strerror(rc));
		else
			log_info("service %s sealed to %u reader(s)", rs.names[i], rs.want.n);
	}
	free(rs.names);
}

/* ---- kith service add|rm|ls ---- */

/* An optional duration argument in whole seconds within [lo, hi]. */
/* The duration argument key, given on the command line as --option. */
static int arg_seconds(const struct ctl_request *req, const char *key, const char *option,
                       uint32_t lo, uint32_t hi, uint32_t *out, char *err, size_t n)
{
	char text[32];
	const char *why = NULL;
	uint64_t ms;
	int rc = ctl_arg_text(req, key, text, sizeof(text));

	if (rc == -ENOENT)
		return 0;
	if (rc || proto_duration_parse(text, strlen(text), &ms, &why) != 0)
		return ctl_fail(err, n, KITH_EVALUE, "--%s: %s", option, why ? why : "bad value");
	if (ms / 1000 < lo || ms / 1000 > hi || ms % 1000)
		return ctl_fail(err, n, KITH_EVALUE, "--%s must be whole seconds from %us to %us",
		                option, lo, hi);
	*out = (uint32_t)(ms / 1000);
	return 0;
}

/* Reads the arguments of service.add|set that req gives over spec. */
static int service_args(struct agent *a, const struct ctl_request *req, struct proto_service *spec,
                        char *err, size_t n)
{
	uint64_t status = 0;
	int rc = ctl_arg_text(req, CTL_KEY_URL, spec->url, sizeof(spec->url));

	if (rc == KITH_ETOOBIG || rc == KITH_ETYPE)
		return ctl_fail(err, n, KITH_EVALUE, "--url is at most %d bytes", PROTO_URL_MAX);
	if (ctl_arg_uint(req, CTL_KEY_EXPECT_STATUS, &status) == 0) {
		if (status < 100 || status > 599)
			return ctl_fail(err, n, KITH_EVALUE, "--expect-status must be 100 to 599");
		spec->expect_status = (uint32_t)status;
	}
	if (ctl_arg_text(req, CTL_KEY_EXPECT_BODY, spec->expect_body, sizeof(spec->expect_body)) ==
	    KITH_ETOOBIG)
		return ctl_fail(err, n, KITH_ETOOBIG, "--expect-body is at most %d bytes",
		                PROTO_EXPECT_BODY_MAX);
	if ((rc = arg_seconds(req, CTL_KEY_INTERVAL, "interval", 1, 86400, &spec->interval_s, err,
	                      n)) ||
	    (rc = arg_seconds(req, CTL_KEY_TIMEOUT, "timeout", 1, 300, &spec->timeout_s, err, n)) ||
	    (rc = arg_seconds(req, CTL_KEY_TLS_WARN, "tls-expiry-warn", 0, 365 * 86400,
	                      &spec->tls_warn_s, err, n)))
		return rc;
	if (spec->timeout_s > spec->interval_s)
		return ctl_fail(err, n, KITH_EVALUE, "--timeout must not exceed --interval");
	return agent_dns_plan_args(a, req, &spec->dns, err, n);
}

/* Seals spec to its readers, publishes it and answers {name, monitors,
 * dns_zone?, dns_holders?}. */
static int register_service(struct agent *a, const char *name, const struct proto_service *spec,
                            msgpack_packer *pk, char *err, size_t n)
{
	struct readers r;
	struct mp_map m;
	int rc;

	current_readers(a, spec, &r);
	rc = publish_service(a, name, spec, &r);
	if (rc == KITH_EVALUE)
		return ctl_fail(err, n, rc, "the URL or a value is not acceptable");
	if (rc)
		return ctl_fail(err, n, rc, "cannot publish the service: %s", proto_strerror(rc));
	log_info("service %s registered (%s, every %us%s%s), sealed to %u reader(s)", name,
	         spec->url, spec->interval_s, spec->dns.name[0] ? ", DNS name " : "",
	         spec->dns.name, r.n);
	mp_map_begin(&m);
	mp_map_str(&m, CTL_REPLY_NAME, name);
	mp_map_uint(&m, CTL_REPLY_MONITORS, r.n_monitor);
	if (spec->dns.name[0]) {
		mp_map_str(&m, CTL_REPLY_DNS_NAME, spec->dns.name);
		mp_map_str(&m, CTL_REPLY_DNS_ZONE, spec->dns.zone);
		mp_map_uint(&m, CTL_REPLY_DNS_HOLDERS, r.n_dns);
	}
	mp_map_end(&m, pk);
	return 0;
}

static int service_name_arg(const struct ctl_request *req, char name[PROTO_SERVICE_NAME_MAX + 1],
                            char *err, size_t n)
{
	if (ctl_arg_text(req, CTL_KEY_NAME, name, PROTO_SERVICE_NAME_MAX + 1) != 0 ||
	    !proto_service_name_ok(name, strlen(name)))
		return ctl_fail(err, n, KITH_EVALUE,
		                "a service name is 1 to 63 characters of a-z, 0-9, '-', '_', '.'");
	return 0;
}

int agent_ctl_service_add(void *arg, const struct ctl_request *req, msgpack_packer *pk, char *err,
                          size_t n)
{
	struct agent *a = arg;
	struct proto_service spec = {0};
	char name[PROTO_SERVICE_NAME_MAX + 1];
	int rc = service_name_arg(req, name, err, n);

	if (rc)
		return rc;
	proto_service_defaults(&spec);
	if ((rc = service_args(a, req, &spec, err, n)))
		return rc;
	if (!spec.url[0])
		return ctl_fail(err, n, KITH_EVALUE, "--url is needed (up to %d bytes)",
		                PROTO_URL_MAX);
	return register_service(a, name, &spec, pk, err, n);
}

int agent_ctl_service_set(void *arg, const struct ctl_request *req, msgpack_packer *pk, char *err,
                          size_t n)
{
	struct agent *a = arg;
	struct proto_service spec;
	char name[PROTO_SERVICE_NAME_MAX + 1];
	int rc = service_name_arg(req, name, err, n);

	if (rc)
		return rc;
	rc = agent_service_read(a, a->id->pk, name, &spec);
	if (rc == -ENOENT)
		return ctl_fail(err, n, -ENOENT, "no service '%s' registered here", name);
	if (rc)
		return ctl_fail(err, n, rc, "cannot read service %s: %s", name, proto_strerror(rc));
	if ((rc = service_args(a, req, &spec, err, n)))
		return rc;
	return register_service(a, name, &spec, pk, err, n);
}

int agent_ctl_service_rm(void *arg, const struct ctl_request *req, msgpack_packer *pk, char *err,
                         size_t n)
{
	struct agent *a = arg;
	char name[PROTO_SERVICE_NAME_MAX + 1];
	struct proto_record rec;
	uint8_t *buf = NULL;
	struct mp_map m;
	size_t len = 0;
	int rc;

	if (ctl_arg_text(req, CTL_KEY_NAME, name, sizeof(name)) != 0)
		return ctl_fail(err, n, KITH_EVALUE, "give the service's name");
	rc = store_record_get(a->store, a->id->pk, PROTO_KIND_SERVICE, name, &buf, &len);
	if (!rc)
		rc = proto_record_decode(&rec, buf, len);
	free(buf);
	if (rc || rec.body_len == 0)
		return ctl_fail(err, n, -ENOENT, "no service '%s' registered here", name);
	/* A tombstone: partners stop checking, and it expires in time. */
	rc = agent_publish(a, PROTO_KIND_SERVICE, name, NULL, 0, SERVICE_TTL);
	if (rc)
		return ctl_fail(err, n, rc, "cannot remove it: %s", proto_strerror(rc));
	log_info("service %s removed", name);
	mp_map_begin(&m);
	mp_map_str(&m, CTL_REPLY_REMOVED, name);
	mp_map_end(&m, pk);
	return 0;
}

/* ---- kith dns pin|unpin ---- */

struct find_plan {
	struct agent *a;
	const char *dns_name;
	char service[PROTO_SERVICE_NAME_MAX + 1]; /* "" until found */
};

static int find_one(void *arg, const uint8_t *buf, size_t len)
{
	struct find_plan *f = arg;
	struct proto_service spec;
	struct proto_record rec;

	if (!f->service[0] && proto_record_decode(&rec, buf, len) == 0 &&
	    rec.kind == PROTO_KIND_SERVICE && rec.body_len &&
	    proto_service_name_ok(rec.name, strlen(rec.name)) &&
	    agent_service_open(f->a, rec.body, rec.body_len, &spec) == 0 &&
	    !strcmp(spec.dns.name, f->dns_name))
		memcpy(f->service, rec.name, strlen(rec.name) + 1);
	return 0;
}

int agent_ctl_dns_pin(void *arg, const struct ctl_request *req, msgpack_packer *pk, char *err,
                      size_t n)
{
	struct agent *a = arg;
	struct find_plan f = {.a = a};
	struct proto_service spec;
	char text[PROTO_ZONE_MAX + 8], name[PROTO_ZONE_MAX + 1], to[16];
	const char *why;
	int rc;

	if (ctl_arg_text(req, CTL_KEY_DNS_NAME, text, sizeof(text)) != 0 ||
	    proto_dns_name_parse(name, text, strlen(text), &why) != 0)
		return ctl_fail(err, n, KITH_EVALUE, "give the DNS name of one of our services");
	if (ctl_arg_text(req, CTL_KEY_TO, to, sizeof(to)) != 0 ||
	    (strcmp(to, "primary") && strcmp(to, "standby") && strcmp(to, "none")))
		return ctl_fail(err, n, KITH_EVALUE, "pin to primary or standby");
	f.dns_name = name;
	store_records_since(a->store, a->id->pk, 0, find_one, &f);
	if (!f.service[0])
		return ctl_fail(err, n, -ENOENT, "no service of ours has the DNS name %s", name);
	rc = agent_service_read(a, a->id->pk, f.service, &spec);
	if (rc)
		return ctl_fail(err, n, rc, "cannot read service %s: %s", f.service,
		                proto_strerror(rc));
	spec.dns.pin = !strcmp(to, "primary")   ? PROTO_DNS_PIN_PRIMARY
	               : !strcmp(to, "standby") ? PROTO_DNS_PIN_STANDBY
	                                        : PROTO_DNS_PIN_NONE;
	return register_service(a, f.service, &spec, pk, err, n);
}

struct service_list {
	struct agent *a;
	msgpack_packer *pk;
	uint32_t count;
	bool packing;
};

static int list_one(void *arg, const uint8_t *buf, size_t len)
{
	struct service_list *l = arg;
	struct proto_service spec;
	struct proto_record rec;
	struct proto_service_record *r;
	struct mp_map m;

	if (proto_record_decode(&rec, buf, len) != 0 || rec.kind != PROTO_KIND_SERVICE ||
	    rec.body_len == 0 || agent_service_open(l->a, rec.body, rec.body_len, &spec) != 0)
		return 0;
	if (!l->packing) {
		l->count++;
		return 0;
	}
	r = malloc(sizeof(*r));
	if (!r || proto_service_record_decode(r, rec.body, rec.body_len) != 0) {
		free(r);
		return 0;
	}
	mp_map_begin(&m);
	mp_map_str(&m, CTL_REPLY_NAME, rec.name);
	mp_map_str(&m, CTL_REPLY_URL, spec.url);
	mp_map_uint(&m, CTL_REPLY_INTERVAL_S, spec.interval_s);
	mp_map_uint(&m, CTL_REPLY_TIMEOUT_S, spec.timeout_s);
	mp_map_uint(&m, CTL_REPLY_EXPECT_STATUS, spec.expect_status);
	mp_map_uint(&m, CTL_REPLY_MONITORS, r->n_boxes ? r->n_boxes - 1 : 0);
	if (spec.dns.name[0]) {
		mp_map_str(&m, CTL_REPLY_DNS_NAME, spec.dns.name);
		mp_map_str(&m, CTL_REPLY_DNS_ZONE, spec.dns.zone);
	}
	mp_map_end(&m, l->pk);
	free(r);
	return 0;
}

int agent_ctl_service_ls(void *arg, const struct ctl_request *req, msgpack_packer *pk, char *err,
                         size_t n)
{
	struct service_list l = {.a = arg, .pk = pk};

	(void)req;
	(void)err;
	(void)n;
	store_records_since(l.a->store, l.a->id->pk, 0, list_one, &l);
	msgpack_pack_array(pk, l.count);
	l.packing = true;
	store_records_since(l.a->store, l.a->id->pk, 0, list_one, &l);
	return 0;
}

/* ---- kith contact add|rm ---- */

int agent_ctl_contact(void *arg, const struct ctl_request *req, msgpack_packer *pk, char *err,
                      size_t n)
{
	struct agent *a = arg;
	struct proto_member *m = calloc(1, sizeof(*m));
	char action[8], uri[PROTO_CONTACT_MAX + 1];
	const char *why = NULL;
	uint64_t expires;
	uint32_t at = 0;
	int rc;

	if (!m)
		return -ENOMEM;
	rc = ctl_arg_text(req, CTL_KEY_ACTION, action, sizeof(action));
	if (!rc && ctl_arg_text(req, CTL_KEY_URI, uri, sizeof(uri)) != 0)
		rc = ctl_fail(err, n, KITH_EVALUE, "give the contact (at most %d bytes)",
		              PROTO_CONTACT_MAX);
	if (!rc && !strcmp(action, CTL_CONTACT_ADD) && alert_contact_check(uri, &why) != 0)
		rc = ctl_fail(err, n, KITH_EVALUE, "%s", why);
	if (!rc)
		rc = agent_member_current(a, m, &expires);
	while (!rc && at < m->n_contacts && strcmp(m->contacts[at], uri))
		at++;
	if (!rc && !strcmp(action, CTL_CONTACT_ADD)) {
		if (at < m->n_contacts)
			rc = ctl_fail(err, n, -EEXIST, "%s is a contact already", uri);
		else if (m->n_contacts == PROTO_CONTACTS_MAX)
			rc = ctl_fail(err, n, KITH_ETOOBIG, "at most %d contacts",
			              PROTO_CONTACTS_MAX);
		else
			snprintf(m->contacts[m->n_contacts++], sizeof(m->contacts[0]), "%s", uri);
	} else if (!rc && !strcmp(action, CTL_CONTACT_RM)) {
		if (at == m->n_contacts)
			rc = ctl_fail(err, n, -ENOENT, "%s is no contact", uri);
		else
			memmove(m->contacts[at], m->contacts[at + 1],
			        (m->n_contacts-- - at - 1) * sizeof(m->contacts[0]));
	} else if (!rc) {
		rc = ctl_fail(err, n, KITH_EVALUE, "say add or rm");
	}
	if (!rc && (rc = agent_member_publish(a, m)) != 0)
		ctl_fail(err, n, rc, "cannot publish the member record: %s", proto_strerror(rc));
	if (!rc) {
		msgpack_pack_array(pk, m->n_contacts);
		for (uint32_t i = 0; i < m->n_contacts; i++)
			mp_pack_cstr(pk, m->contacts[i]);
	}
	free(m);
	return rc;
}
