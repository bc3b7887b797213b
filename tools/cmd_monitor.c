/* Peer monitoring from the command line: kith service add|set|rm|ls, kith
 * services, kith contact add|rm, kith health. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proto/body.h"
#include "proto/peerid.h"
#include "agentctl.h"
#include "cli.h"
#include "show.h"

static void print_services(const msgpack_object *d)
{
	if (!d || d->type != MSGPACK_OBJECT_ARRAY)
		return;
	printf("%-24s %-9s %-8s %s\n", "SERVICE", "INTERVAL", "MONITORS", "URL");
	for (uint32_t i = 0; i < d->via.array.size; i++) {
		const msgpack_object *s = &d->via.array.ptr[i];
		char name[80], url[2100], dns[PROTO_ZONE_MAX + 1];
		printf("%-24s %-8" PRIu64 "s %-8" PRIu64 " %s",
		       agentctl_text(s, CTL_REPLY_NAME, name, sizeof(name)),
		       agentctl_uint(s, CTL_REPLY_INTERVAL_S), agentctl_uint(s, CTL_REPLY_MONITORS),
		       agentctl_text(s, CTL_REPLY_URL, url, sizeof(url)));
		if (agentctl_text(s, CTL_REPLY_DNS_NAME, dns, sizeof(dns))[0])
			printf("  (DNS name %s)", dns);
		printf("\n");
	}
}

/* kith services [--json] lists ours; --of PEER_ID asks a partner. */
static int list_own(const char *data_dir, bool json)
{
	struct agentctl_request r;

	agentctl_begin(&r, CTL_CMD_SERVICE_LS);
	return agentctl_run(data_dir, &r, json, print_services);
}

enum { URL, STATUS, BODY, INTERVAL, TIMEOUT, WARN, DNS_NAME, PRIMARY, STANDBY, TTL, N_ARGS };

/* Checks what can be checked here of the arguments of kith service
 * add|set (v, by the enum above): *code and *ttl get the numbers. */
static int service_args_check(const char *const *v, bool no_dns, unsigned long *code,
                              unsigned long *ttl)
{
	char *end;
	int rc;

	if ((v[INTERVAL] &&
	     (rc = cli_check_duration("service", "interval", v[INTERVAL], 1000)) != CLI_CONTINUE) ||
	    (v[TIMEOUT] &&
	     (rc = cli_check_duration("service", "timeout", v[TIMEOUT], 1000)) != CLI_CONTINUE) ||
	    (v[WARN] &&
	     (rc = cli_check_duration("service", "tls-expiry-warn", v[WARN], 0)) != CLI_CONTINUE))
		return rc;
	if (v[STATUS]) {
		*code = strtoul(v[STATUS], &end, 10);
		if (*end || *code < 100 || *code > 599)
			return cli_usage("service", "--expect-status must be 100 to 599");
	}
	if (v[TTL]) {
		*ttl = strtoul(v[TTL], &end, 10);
		if (*end || *ttl < 1 || *ttl > 86400)
			return cli_usage("service", "--ttl is 1 to 86400 seconds");
	}
	if (no_dns && (v[DNS_NAME] || v[PRIMARY] || v[STANDBY] || v[TTL]))
		return cli_usage("service",
		                 "--no-dns drops the DNS plan: give no other DNS option");
	return CLI_CONTINUE;
}

/* The arguments given, into r. */
static void service_args_put(struct agentctl_request *r, const char *const *v, bool no_dns,
                             unsigned long code, unsigned long ttl)
{
	static const char *const keys[N_ARGS] = {
	    [URL] = CTL_KEY_URL,           [BODY] = CTL_KEY_EXPECT_BODY,
	    [INTERVAL] = CTL_KEY_INTERVAL, [TIMEOUT] = CTL_KEY_TIMEOUT,
	    [WARN] = CTL_KEY_TLS_WARN,     [DNS_NAME] = CTL_KEY_DNS_NAME,
	    [PRIMARY] = CTL_KEY_PRIMARY,   [STANDBY] = CTL_KEY_STANDBY,
	};

	for (unsigned i = 0; i < N_ARGS; i++)
		if (v[i] && keys[i])
			agentctl_arg_text(r, keys[i], v[i]);
	if (v[STATUS])
		agentctl_arg_uint(r, CTL_KEY_EXPECT_STATUS, code);
	if (v[TTL])
		agentctl_arg_uint(r, CTL_KEY_TTL, ttl);
	if (no_dns)
		agentctl_arg_flag(r, CTL_KEY_NO_DNS, true);
}

static void print_registered(const char *name, const msgpack_object *d)
{
	char dns[PROTO_ZONE_MAX + 1], zone[PROTO_ZONE_MAX + 1];

	printf("registered %s, sealed to %" PRIu64 " monitoring partner(s)", name,
	       agentctl_uint(d, CTL_REPLY_MONITORS));
	if (agentctl_text(d, CTL_REPLY_DNS_NAME, dns, sizeof(dns))[0])
		printf("; DNS name %s, sealed to %" PRIu64 " holder(s) of dns:%s", dns,
		       agentctl_uint(d, CTL_REPLY_DNS_HOLDERS),
		       agentctl_text(d, CTL_REPLY_DNS_ZONE, zone, sizeof(zone)));
	printf("\n");
}

int cmd_service_main(int argc, char **argv)
{
	const char *v[N_ARGS] = {NULL};
	bool json = false, no_dns = false;
	const struct cli_opt opts[] = {{"url", &v[URL], NULL},
	                               {"expect-status", &v[STATUS], NULL},
	                               {"expect-body", &v[BODY], NULL},
	                               {"interval", &v[INTERVAL], NULL},
	                               {"timeout", &v[TIMEOUT], NULL},
	                               {"tls-expiry-warn", &v[WARN], NULL},
	                               {"dns-name", &v[DNS_NAME], NULL},
	                               {"primary", &v[PRIMARY], NULL},
	                               {"standby", &v[STANDBY], NULL},
	                               {"ttl", &v[TTL], NULL},
	                               {"no-dns", NULL, &no_dns},
	                               {"json", NULL, &json},
	                               {NULL, NULL, NULL}};
	struct agentctl_request r;
	struct agentctl_reply reply;
	struct cli_args args;
	char data_dir[4096];
	const char *verb;
	unsigned long code = 0, ttl = 0;
	int rc;

	rc = cli_parse(argc, argv,
	               "kith service add NAME --url URL [--expect-status CODE] "
	               "[--expect-body TEXT] [--interval 30s] [--timeout 10s] "
	               "[--tls-expiry-warn 14d] [--dns-name NAME.ZONE --primary ADDR[,ADDR...] "
	               "--standby ADDR[,ADDR...] [--ttl 60]] [--data DIR]\n"
	               "       kith service set NAME [any option of add] [--no-dns] [--data DIR]\n"
	               "       kith service rm NAME [--data DIR]\n"
	               "       kith service ls [--json] [--data DIR]",
	               opts, 2, &args, data_dir, sizeof(data_dir));
	if (rc != CLI_CONTINUE)
		return rc;
	if (args.n == 1 && !strcmp(args.pos[0], "ls"))
		return list_own(data_dir, json);
	verb = args.n == 2 ? args.pos[0] : "";
	if (strcmp(verb, "add") && strcmp(verb, "set") && strcmp(verb, "rm"))
		return cli_usage("service", "say add NAME, set NAME, rm NAME or ls");
	if (!proto_service_name_ok(args.pos[1], strlen(args.pos[1])))
		return cli_usage("service",
		                 "a service name is 1 to 63 characters of a-z, 0-9, '-', '_', '.'");
	if (!strcmp(verb, "rm")) {
		agentctl_begin(&r, CTL_CMD_SERVICE_RM);
		agentctl_arg_text(&r, CTL_KEY_NAME, args.pos[1]);
	} else {
		if (!strcmp(verb, "add") && !v[0])
			return cli_usage("service", "add needs --url URL");
		if (!strcmp(verb, "add") && no_dns)
			return cli_usage("service", "--no-dns goes with set");
		rc = service_args_check(v, no_dns, &code, &ttl);
		if (rc != CLI_CONTINUE)
			return rc;
		agentctl_begin(&r, strcmp(verb, "add") ? CTL_CMD_SERVICE_SET : CTL_CMD_SERVICE_ADD);
		agentctl_arg_text(&r, CTL_KEY_NAME, args.pos[1]);
		service_args_put(&r, v, no_dns, code, ttl);
	}
	rc = agentctl_call(data_dir, &r, &reply);
	if (rc != CLI_OK)
		return rc;
	if (json)
		agentctl_print_json(&reply);
	else if (!strcmp(verb, "rm"))
		printf("removed %s: partners stop checking it\n", args.pos[1]);
	else
		print_registered(args.pos[1], reply.data);
	agentctl_reply_free(&reply);
	return CLI_OK;
}

int cmd_services_own_main(const char *data_dir, bool json)
{
	return list_own(data_dir, json);
}

int cmd_contact_main(int argc, char **argv)
{
	bool json = false;
	const struct cli_opt opts[] = {{"json", NULL, &json}, {NULL, NULL, NULL}};
	struct agentctl_request r;
	struct agentctl_reply reply;
	struct cli_args args;
	char data_dir[4096];
	int rc;

	rc = cli_parse(argc, argv,
	               "kith contact add|rm mailto:ADDR|https://WEBHOOK|matrix:!ROOM:SERVER|"
	               "ntfy:https://HOST/TOPIC [--data DIR]",
	               opts, 2, &args, data_dir, sizeof(data_dir));
	if (rc != CLI_CONTINUE)
		return rc;
	if (args.n != 2 ||
	    (strcmp(args.pos[0], CTL_CONTACT_ADD) && strcmp(args.pos[0], CTL_CONTACT_RM)))
		return cli_usage("contact", "say add URI or rm URI");
	agentctl_begin(&r, CTL_CMD_CONTACT);
	agentctl_arg_text(&r, CTL_KEY_ACTION, args.pos[0]);
	agentctl_arg_text(&r, CTL_KEY_URI, args.pos[1]);
	rc = agentctl_call(data_dir, &r, &reply);
	if (rc != CLI_OK)
		return rc;
	if (json) {
		agentctl_print_json(&reply);
	} else if (reply.data && reply.data->type == MSGPACK_OBJECT_ARRAY) {
		printf("contacts:");
		for (uint32_t i = 0; i < reply.data->via.array.size; i++) {
			const msgpack_object *c = &reply.data->via.array.ptr[i];
			if (c->type == MSGPACK_OBJECT_STR)
				printf(" %.*s", (int)c->via.str.size, c->via.str.ptr);
		}
		printf("%s\n", reply.data->via.array.size ? "" : " none");
	}
	agentctl_reply_free(&reply);
	return CLI_OK;
}

static void print_health(const msgpack_object *d)
{
	if (!d || d->type != MSGPACK_OBJECT_ARRAY)
		return;
	printf("%-20s %-20s %-9s %-20s %s\n", "OWNER", "SERVICE", "VERDICT", "SINCE", "OBSERVERS");
	for (uint32_t i = 0; i < d->via.array.size; i++) {
		const msgpack_object *s = &d->via.array.ptr[i],
		                     *obs = agentctl_get(s, CTL_REPLY_OBSERVERS);
		char owner[80], name[80], verdict[16], since[32] = "-", id[80], status[16];
		uint64_t t = agentctl_uint(s, CTL_REPLY_SINCE);

		if (t)
			show_time(since, sizeof(since), t);
		agentctl_text(s, CTL_REPLY_OWNER_NAME, owner, sizeof(owner));
		if (!owner[0]) {
			agentctl_text(s, CTL_REPLY_OWNER, owner, sizeof(owner));
			owner[PROTO_PEERID_SHORT_LEN] = '\0';
		}
		printf("%-20s %-20s %-9s %-20s", owner,
		       agentctl_text(s, CTL_REPLY_SERVICE, name, sizeof(name)),
		       agentctl_text(s, CTL_REPLY_VERDICT, verdict, sizeof(verdict)), since);
		if (agentctl_text(s, CTL_REPLY_STANDBY, status, sizeof(status))[0])
			printf(" (standby %s)", status);
		for (uint32_t k = 0;
		     obs && obs->type == MSGPACK_OBJECT_ARRAY && k < obs->via.array.size; k++) {
			const msgpack_object *o = &obs->via.array.ptr[k];
			agentctl_text(o, CTL_REPLY_ID, id, sizeof(id));
			id[PROTO_PEERID_SHORT_LEN] = '\0';
			printf(" %s:%s/%" PRIu64 "ms/%" PRIu64 "s", id,
			       agentctl_text(o, CTL_REPLY_STATUS, status, sizeof(status)),
			       agentctl_uint(o, CTL_REPLY_LATENCY_MS),
			       agentctl_uint(o, CTL_REPLY_AGE));
		}
		fputc('\n', stdout);
	}
}

int cmd_health_main(int argc, char **argv)
{
	return agentctl_query_main(argc, argv, CTL_CMD_HEALTH, "kith health [--json] [--data DIR]",
	                           print_health);
}
