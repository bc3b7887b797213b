/* Requests to a partner under a grant it gave this agent: keep a shard
 * (backup scope), show its services (monitor scope), and whether this agent
 * may update a partner's zone (dns scope). The partner checks the grant
 * when the request arrives and refuses with a reason. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto/ops.h"
#include "proto/peerid.h"
#include "proto/units.h"
#include "agentctl.h"
#include "cli.h"
#include "show.h"

static void print_usage_line(const msgpack_object *d)
{
	char used[32], quota[32];
	uint64_t u = agentctl_uint(d, CTL_REPLY_USED), q = agentctl_uint(d, CTL_REPLY_QUOTA);

	if (u)
		proto_size_format(u, used, sizeof(used));
	else
		snprintf(used, sizeof(used), "0");
	proto_size_format(q ? q : 1, quota, sizeof(quota));
	printf("%s of %s used\n", used, quota);
}

static int write_shard(const msgpack_object *d, const char *out)
{
	const msgpack_object *data = agentctl_get(d, CTL_REPLY_SHARD_DATA);
	FILE *f = stdout;

	if (!data || data->type != MSGPACK_OBJECT_BIN)
		return cli_fail("kithd sent no data");
	if (out && strcmp(out, "-")) {
		f = fopen(out, "wbx");
		if (!f)
			return cli_fail("cannot create %s: %s", out, strerror(errno));
	} else if (isatty(STDOUT_FILENO)) {
		return cli_fail("refusing to write a shard to a terminal: use --out FILE");
	}
	if (fwrite(data->via.bin.ptr, 1, data->via.bin.size, f) != data->via.bin.size ||
	    fflush(f) != 0) {
		int err = errno;
		if (f != stdout) {
			fclose(f);
			unlink(out); /* ours (created with "x"): leave no partial shard */
		}
		return cli_fail("cannot write the shard: %s", strerror(err));
	}
	if (f != stdout && fclose(f) != 0) {
		int err = errno;
		unlink(out);
		return cli_fail("cannot write %s: %s", out, strerror(err));
	}
	return CLI_OK;
}

/* kith shard drop PEER_ID: frees the shards PEER keeps with this agent. */
static int shard_drop(const char *data_dir, const struct cli_args *args)
{
	struct agentctl_request r;
	struct agentctl_reply reply;
	char freed[32];
	uint64_t bytes;
	int rc;

	if (args->n != 2)
		return cli_usage("shard", "drop takes PEER_ID");
	if ((rc = cli_check_peer("shard", args->pos[1])) != CLI_CONTINUE)
		return rc;
	agentctl_begin(&r, CTL_CMD_SHARD_DROP);
	agentctl_arg_text(&r, CTL_KEY_PEER, args->pos[1]);
	rc = agentctl_call(data_dir, &r, &reply);
	if (rc != CLI_OK)
		return rc;
	bytes = agentctl_uint(reply.data, CTL_REPLY_FREED);
	if (bytes)
		proto_size_format(bytes, freed, sizeof(freed));
	printf("dropped %s bytes of shards kept for %s\n", bytes ? freed : "0", args->pos[1]);
	agentctl_reply_free(&reply);
	return CLI_OK;
}

int cmd_shard_main(int argc, char **argv)
{
	const char *out = NULL;
	bool json = false;
	const struct cli_opt opts[] = {
	    {"out", &out, NULL}, {"json", NULL, &json}, {NULL, NULL, NULL}};
	struct agentctl_request r;
	struct agentctl_reply reply;
	struct cli_args args;
	char data_dir[4096];
	uint8_t *data = NULL;
	size_t len = 0;
	int rc, want;

	rc = cli_parse(argc, argv,
	               "kith shard put PEER_ID NAME FILE|- [--data DIR]\n"
	               "       kith shard get PEER_ID NAME [--out FILE] [--data DIR]\n"
	               "       kith shard rm PEER_ID NAME [--data DIR]\n"
	               "       kith shard drop PEER_ID [--data DIR]",
	               opts, 4, &args, data_dir, sizeof(data_dir));
	if (rc != CLI_CONTINUE)
		return rc;
	if (args.n >= 1 && !strcmp(args.pos[0], "drop"))
		return shard_drop(data_dir, &args);
	if (args.n < 1 || (strcmp(args.pos[0], CTL_SHARD_PUT) &&
	                   strcmp(args.pos[0], CTL_SHARD_GET) && strcmp(args.pos[0], CTL_SHARD_RM)))
		return cli_usage("shard", "say put, get, rm or drop");
	want = !strcmp(args.pos[0], CTL_SHARD_PUT) ? 4 : 3;
	if (args.n != want)
		return cli_usage("shard", "%s takes PEER_ID NAME%s", args.pos[0],
		                 want == 4 ? " FILE" : "");
	if ((rc = cli_check_peer("shard", args.pos[1])) != CLI_CONTINUE)
		return rc;
	/* Read whole before anything is sent: a shard cut short by a read
	 * error would replace a good one at the partner. */
	if (want == 4 && (rc = cli_read_file(args.pos[3], PROTO_SHARD_MAX, &data, &len)) != CLI_OK)
		return rc;
	agentctl_begin(&r, CTL_CMD_SHARD);
	agentctl_arg_text(&r, CTL_KEY_ACTION, args.pos[0]);
	agentctl_arg_text(&r, CTL_KEY_PEER, args.pos[1]);
	agentctl_arg_text(&r, CTL_KEY_NAME, args.pos[2]);
	if (data) {
		agentctl_arg_bin(&r, CTL_KEY_DATA, data, len);
		free(data);
	}
	rc = agentctl_call(data_dir, &r, &reply);
	if (rc != CLI_OK)
		return rc;
	if (!strcmp(args.pos[0], CTL_SHARD_GET))
		rc = write_shard(reply.data, out);
	else if (json) {
		agentctl_print_json(&reply);
	} else
		print_usage_line(reply.data);
	agentctl_reply_free(&reply);
	return rc;
}

int cmd_services_main(int argc, char **argv)
{
	const char *of = NULL;
	bool json = false;
	const struct cli_opt opts[] = {
	    {"of", &of, NULL}, {"json", NULL, &json}, {NULL, NULL, NULL}};
	struct agentctl_request r;
	struct agentctl_reply reply;
	struct cli_args args;
	char data_dir[4096];
	int rc;

	rc = cli_parse(argc, argv, "kith services [--of PEER_ID] [--json] [--data DIR]", opts, 0,
	               &args, data_dir, sizeof(data_dir));
	if (rc != CLI_CONTINUE)
		return rc;
	if (!of)
		return cmd_services_own_main(data_dir, json);
	if ((rc = cli_check_peer("services", of)) != CLI_CONTINUE)
		return rc;
	agentctl_begin(&r, CTL_CMD_SERVICES);
	agentctl_arg_text(&r, CTL_KEY_PEER, of);
	rc = agentctl_call(data_dir, &r, &reply);
	if (rc != CLI_OK)
		return rc;
	if (json) {
		agentctl_print_json(&reply);
	} else if (reply.data && reply.data->type == MSGPACK_OBJECT_ARRAY) {
		printf("%-24s %-10s %s\n", "SERVICE", "INTERVAL", "URL");
		for (uint32_t i = 0; i < reply.data->via.array.size; i++) {
			const msgpack_object *s = &reply.data->via.array.ptr[i];
			char name[80], url[2100];
			printf("%-24s %-9" PRIu64 "s %s\n",
			       agentctl_text(s, CTL_REPLY_NAME, name, sizeof(name)),
			       agentctl_uint(s, CTL_REPLY_INTERVAL_S),
			       agentctl_text(s, CTL_REPLY_URL, url, sizeof(url)));
		}
	}
	agentctl_reply_free(&reply);
	return CLI_OK;
}

static uint64_t change_time(const msgpack_object *o)
{
	return agentctl_uint(o, CTL_REPLY_TIME);
}

static int by_time(const void *x, const void *y)
{
	uint64_t a = change_time(*(const msgpack_object *const *)x),
	         b = change_time(*(const msgpack_object *const *)y);

	return a < b ? -1 : a > b;
}

/* The addresses of a change, "a,b". */
static const char *ips_text(const msgpack_object *o, const char *key, char *out, size_t n)
{
	const msgpack_object *list = agentctl_get(o, key);
	size_t at = 0;

	out[0] = '\0';
	for (uint32_t i = 0; list && list->type == MSGPACK_OBJECT_ARRAY && i < list->via.array.size;
	     i++) {
		const msgpack_object *e = &list->via.array.ptr[i];
		if (e->type == MSGPACK_OBJECT_STR && at + e->via.str.size + 2 < n)
			at += (size_t)snprintf(out + at, n - at, "%s%.*s", i ? "," : "",
			                       (int)e->via.str.size, e->via.str.ptr);
	}
	return out[0] ? out : "-";
}

/* kith dns history: every dns-change record, oldest first. */
static void print_history(const msgpack_object *d)
{
	const msgpack_object **list;
	uint32_t n;

	if (!d || d->type != MSGPACK_OBJECT_ARRAY)
		return;
	n = d->via.array.size;
	list = calloc(n ? n : 1, sizeof(*list));
	if (!list)
		return;
	for (uint32_t i = 0; i < n; i++)
		list[i] = &d->via.array.ptr[i];
	qsort(list, n, sizeof(*list), by_time);
	printf("%-20s %-8s %-24s %-4s %-18s %-18s %-7s %s\n", "TIME", "BY", "NAME", "TYPE", "FROM",
	       "TO", "RESULT", "WHY");
	for (uint32_t i = 0; i < n; i++) {
		char when[32], by[80], name[260], type[8], from[300], to[300], result[16], why[300];
		show_time(when, sizeof(when), change_time(list[i]));
		agentctl_text(list[i], CTL_REPLY_BY, by, sizeof(by));
		by[PROTO_PEERID_SHORT_LEN] = '\0';
		printf("%-20s %-8s %-24s %-4s %-18s %-18s %-7s %s\n", when, by,
		       agentctl_text(list[i], CTL_REPLY_DNS_NAME, name, sizeof(name)),
		       agentctl_text(list[i], CTL_REPLY_TYPE, type, sizeof(type)),
		       ips_text(list[i], CTL_REPLY_FROM, from, sizeof(from)),
		       ips_text(list[i], CTL_REPLY_TO, to, sizeof(to)),
		       agentctl_text(list[i], CTL_REPLY_RESULT, result, sizeof(result)),
		       agentctl_text(list[i], CTL_REPLY_WHY, why, sizeof(why)));
	}
	free(list);
}

/* kith dns status: one line per plan. */
static void print_status(const msgpack_object *d)
{
	if (!d || d->type != MSGPACK_OBJECT_ARRAY)
		return;
	printf("%-24s %-14s %-18s %-18s %-8s %-8s %-8s %-8s %s\n", "NAME", "SERVICE", "PRIMARY",
	       "STANDBY", "VERDICT", "STANDBY", "PIN", "ACTING", "LAST CHANGE");
	for (uint32_t i = 0; i < d->via.array.size; i++) {
		const msgpack_object *o = &d->via.array.ptr[i],
		                     *last = agentctl_get(o, CTL_REPLY_LAST_CHANGE);
		char name[260], service[80], primary[300], standby[300], verdict[16], sv[16],
		    pin[16], who[80], when[32] = "-", to[300], result[16];
		agentctl_text(o, CTL_REPLY_ACTING, who, sizeof(who));
		who[PROTO_PEERID_SHORT_LEN] = '\0';
		if (last)
			show_time(when, sizeof(when), agentctl_uint(last, CTL_REPLY_TIME));
		printf("%-24s %-14s %-18s %-18s %-8s %-8s %-8s %-8s %s",
		       agentctl_text(o, CTL_REPLY_DNS_NAME, name, sizeof(name)),
		       agentctl_text(o, CTL_REPLY_SERVICE, service, sizeof(service)),
		       ips_text(o, CTL_REPLY_PRIMARY, primary, sizeof(primary)),
		       ips_text(o, CTL_REPLY_STANDBY, standby, sizeof(standby)),
		       agentctl_text(o, CTL_REPLY_VERDICT, verdict, sizeof(verdict)),
		       agentctl_text(o, CTL_REPLY_STANDBY_VERDICT, sv, sizeof(sv)),
		       agentctl_text(o, CTL_REPLY_PIN, pin, sizeof(pin))[0] ? pin : "-",
		       who[0] ? who : "none", when);
		if (last)
			printf(" %s to %s",
			       agentctl_text(last, CTL_REPLY_RESULT, result, sizeof(result)),
			       ips_text(last, CTL_REPLY_TO, to, sizeof(to)));
		printf("\n");
	}
}

int cmd_dns_main(int argc, char **argv)
{
	bool json = false;
	const struct cli_opt opts[] = {{"json", NULL, &json}, {NULL, NULL, NULL}};
	struct agentctl_request r;
	struct agentctl_reply reply;
	struct cli_args args;
	char data_dir[4096], zone[300], grant[80], expires[32], provider[32], server[600];
	bool test;
	int rc;

	rc = cli_parse(argc, argv,
	               "kith dns check PEER_ID ZONE [--json] [--data DIR]\n"
	               "       kith dns test PEER_ID ZONE [--json] [--data DIR]\n"
	               "       kith dns history [--json] [--data DIR]\n"
	               "       kith dns status [--json] [--data DIR]\n"
	               "       kith dns pin NAME primary|standby [--data DIR]\n"
	               "       kith dns unpin NAME [--data DIR]",
	               opts, 3, &args, data_dir, sizeof(data_dir));
	if (rc != CLI_CONTINUE)
		return rc;
	if (args.n == 1 && !strcmp(args.pos[0], "history")) {
		agentctl_begin(&r, CTL_CMD_DNS_HISTORY);
		return agentctl_run(data_dir, &r, json, print_history);
	}
	if (args.n == 1 && !strcmp(args.pos[0], "status")) {
		agentctl_begin(&r, CTL_CMD_DNS_STATUS);
		return agentctl_run(data_dir, &r, json, print_status);
	}
	if ((args.n == 3 && !strcmp(args.pos[0], "pin")) ||
	    (args.n == 2 && !strcmp(args.pos[0], "unpin"))) {
		const char *to = args.n == 3 ? args.pos[2] : "none";
		if (args.n == 3 && strcmp(to, "primary") && strcmp(to, "standby"))
			return cli_usage("dns", "pin NAME to primary or standby");
		agentctl_begin(&r, CTL_CMD_DNS_PIN);
		agentctl_arg_text(&r, CTL_KEY_DNS_NAME, args.pos[1]);
		agentctl_arg_text(&r, CTL_KEY_TO, to);
		rc = agentctl_call(data_dir, &r, &reply);
		if (rc != CLI_OK)
			return rc;
		if (json)
			agentctl_print_json(&reply);
		else if (args.n == 3)
			printf(
			    "%s pinned to its %s: partners point it there and make no other change "
			    "until kith dns unpin\n",
			    args.pos[1], to);
		else
			printf("%s unpinned: partners follow the checks again\n", args.pos[1]);
		agentctl_reply_free(&reply);
		return CLI_OK;
	}
	if (args.n != 3 || (strcmp(args.pos[0], "check") && strcmp(args.pos[0], "test")))
		return cli_usage("dns", "say check, test, history, status, pin or unpin");
	if ((rc = cli_check_peer("dns", args.pos[1])) != CLI_CONTINUE)
		return rc;
	test = !strcmp(args.pos[0], "test");
	agentctl_begin(&r, test ? CTL_CMD_DNS_TEST : CTL_CMD_DNS_CHECK);
	agentctl_arg_text(&r, CTL_KEY_PEER, args.pos[1]);
	agentctl_arg_text(&r, CTL_KEY_ZONE, args.pos[2]);
	rc = agentctl_call(data_dir, &r, &reply);
	if (rc != CLI_OK)
		return rc;
	agentctl_text(reply.data, CTL_REPLY_ZONE, zone, sizeof(zone));
	if (json) {
		agentctl_print_json(&reply);
	} else if (test) {
		printf("the credential for %s works: a TXT record at _kith-test.%s was added and "
		       "deleted\n",
		       zone, zone);
	} else {
		show_time(expires, sizeof(expires), agentctl_uint(reply.data, CTL_REPLY_EXPIRES));
		printf("may update %s under grant %s until %s (%s at %s)\n", zone,
		       agentctl_text(reply.data, CTL_REPLY_GRANT, grant, sizeof(grant)), expires,
		       agentctl_text(reply.data, CTL_REPLY_PROVIDER, provider, sizeof(provider)),
		       agentctl_text(reply.data, CTL_REPLY_SERVER, server, sizeof(server)));
	}
	agentctl_reply_free(&reply);
	return CLI_OK;
}
