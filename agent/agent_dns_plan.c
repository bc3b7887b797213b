/* A service's DNS plan as kith service add|set give it: the name, its
 * primary and standby addresses and the TTL, checked here, and the zone
 * chosen among the dns:ZONE grants we issued, whose holders may then act
 * on it (they are sealed the plan with the service's check details). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "proto/body.h"
#include "proto/error.h"
#include "proto/identity.h"
#include "agent_int.h"
#include "agent/core/loop.h"

struct zone_pick {
	struct agent *a;
	const char *name;
	const char *zone;       /* the longest zone of a valid grant holding name */
	const uint8_t *subject; /* only this grantee's zones, NULL: any */
};

static void pick_zone(void *arg, const struct trust_grant *g)
{
	struct zone_pick *z = arg;
	const struct trust_grant *valid;
	const struct proto_scope *scope;

	if (memcmp(g->issuer, z->a->id->pk, PROTO_KEY_LEN) ||
	    (z->subject && memcmp(g->subject, z->subject, PROTO_KEY_LEN)))
		return;
	for (uint32_t i = 0; i < g->n_scopes; i++) {
		const struct proto_scope *s = &g->scopes[i];
		if (s->type != PROTO_SCOPE_DNS || !proto_dns_name_in_zone(z->name, s->zone) ||
		    (z->zone && strlen(z->zone) >= strlen(s->zone)))
			continue;
		/* Only a grant in force now: an expired or revoked one seals the
		 * plan to nobody. */
		if (trust_grant_check(z->a->trust, g->issuer, g->subject, s, loop_wall_s(), &valid,
		                      &scope) == 0)
			z->zone = s->zone;
	}
}

/* Parses "ADDR[,ADDR...]" into list. */
static int parse_addrs(const char *option, const char *text, struct proto_ip *list, uint32_t *n,
                       char *err, size_t errlen)
{
	char copy[PROTO_DNS_ADDRS_MAX * 48], *save = NULL;

	*n = 0;
	if (strlen(text) >= sizeof(copy))
		return ctl_fail(err, errlen, KITH_ETOOBIG, "--%s: at most %d addresses", option,
		                PROTO_DNS_ADDRS_MAX);
	strcpy(copy, text);
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		struct proto_ip ip = {0};
		if (*n == PROTO_DNS_ADDRS_MAX)
			return ctl_fail(err, errlen, KITH_ETOOBIG, "--%s: at most %d addresses",
			                option, PROTO_DNS_ADDRS_MAX);
		if (inet_pton(AF_INET, t, ip.addr) == 1)
			ip.len = 4;
		else if (inet_pton(AF_INET6, t, ip.addr) == 1)
			ip.len = 16;
		else
			return ctl_fail(err, errlen, KITH_EVALUE,
			                "--%s: \"%s\" is not an IPv4 or IPv6 address", option, t);
		for (uint32_t i = 0; i < *n; i++)
			if (list[i].len == ip.len && !memcmp(list[i].addr, ip.addr, ip.len))
				return ctl_fail(err, errlen, KITH_EVALUE, "--%s: %s is given twice",
				                option, t);
		list[(*n)++] = ip;
	}
	if (*n == 0)
		return ctl_fail(err, errlen, KITH_EVALUE, "--%s needs at least one address",
		                option);
	return 0;
}

const char *agent_dns_zone_of(struct agent *a, const char *name, const uint8_t *subject)
{
	struct zone_pick z = {.a = a, .name = name, .subject = subject};

	trust_grants_each(a->trust, pick_zone, &z);
	return z.zone;
}

int agent_dns_plan_args(struct agent *a, const struct ctl_request *req, struct proto_dns_plan *plan,
                        char *err, size_t n)
{
	char text[PROTO_DNS_ADDRS_MAX * 48], name[PROTO_ZONE_MAX + 1];
	struct proto_dns_plan d = *plan;
	const char *why, *zone;
	uint64_t ttl;
	int rc;

	if (ctl_arg_flag(req, CTL_KEY_NO_DNS)) {
		memset(plan, 0, sizeof(*plan));
		return 0;
	}
	rc = ctl_arg_text(req, CTL_KEY_DNS_NAME, text, sizeof(text));
	if (rc == 0) {
		if (proto_dns_name_parse(name, text, strlen(text), &why) != 0)
			return ctl_fail(err, n, KITH_EVALUE, "--dns-name: %s", why);
		strcpy(d.name, name);
	} else if (rc != -ENOENT)
		return ctl_fail(err, n, KITH_EVALUE, "--dns-name is at most %d characters",
		                PROTO_ZONE_MAX);
	rc = ctl_arg_text(req, CTL_KEY_PRIMARY, text, sizeof(text));
	if (rc == 0)
		rc = parse_addrs("primary", text, d.primary, &d.n_primary, err, n);
	else if (rc == -ENOENT)
		rc = 0;
	else
		rc = ctl_fail(err, n, KITH_ETOOBIG, "--primary: at most %d addresses",
		              PROTO_DNS_ADDRS_MAX);
	if (rc)
		return rc;
	rc = ctl_arg_text(req, CTL_KEY_STANDBY, text, sizeof(text));
	if (rc == 0)
		rc = parse_addrs("standby", text, d.standby, &d.n_standby, err, n);
	else if (rc == -ENOENT)
		rc = 0;
	else
		rc = ctl_fail(err, n, KITH_ETOOBIG, "--standby: at most %d addresses",
		              PROTO_DNS_ADDRS_MAX);
	if (rc)
		return rc;
	if (ctl_arg_uint(req, CTL_KEY_TTL, &ttl) == 0) {
		if (ttl < 1 || ttl > 86400)
			return ctl_fail(err, n, KITH_EVALUE, "--ttl must be 1 to 86400 seconds");
		d.ttl_s = (uint32_t)ttl;
	}
	if (!d.name[0]) {
		if (d.n_primary || d.n_standby || d.ttl_s)
			return ctl_fail(err, n, KITH_EMISSING,
			                "--primary, --standby and --ttl go with --dns-name");
		return 0;
	}
	if (!d.n_primary || !d.n_standby)
		return ctl_fail(err, n, KITH_EMISSING,
		                "a DNS plan needs --primary and --standby addresses");
	if (!d.ttl_s)
		d.ttl_s = PROTO_DNS_TTL_DEFAULT;
	zone = agent_dns_zone_of(a, d.name, NULL);
	if (!zone)
		return ctl_fail(err, n, KITH_ENOGRANT,
		                "no partner holds a dns grant for a zone of %s: give one first "
		                "(kith grant PEER dns:ZONE --secret-file FILE)",
		                d.name);
	strcpy(d.zone, zone);
	d.owner_acts = agent_dns_owner_can_act(a, d.zone);
	/* proto_service_encode() would refuse it, without saying why. */
	if (proto_ip_families(d.primary, d.n_primary) != proto_ip_families(d.standby, d.n_standby))
		return ctl_fail(err, n, KITH_EVALUE,
		                "--primary and --standby must have the same address families "
		                "(IPv4, IPv6): otherwise a failover moves only part of the name");
	*plan = d;
	return 0;
}
