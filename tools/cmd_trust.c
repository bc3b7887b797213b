/* The trust network from the command line: invite, join, grant, grants,
 * revoke; and the requests a member makes of a partner under a grant:
 * shard put|get|rm, services --of, dns check. All are answered by the
 * running kithd. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "proto/ops.h"
#include "proto/peerid.h"
#include "proto/scope.h"
#include "proto/token.h"
#include "agentctl.h"
#include "cli.h"
#include "show.h"

/* The credential of a dns grant: sealed, it must fit PROTO_SEALED_MAX
 * (4096) with crypto_box_seal's 48 bytes. */
#define GRANT_SECRET_MAX 4000

/* ---- kith invite ---- */

int cmd_invite_main(int argc, char **argv)
{
	const char *scopes = NULL, *expires = NULL, *uses = NULL;
	bool json = false;
	const struct cli_opt opts[] = {{"scopes", &scopes, NULL},
	                               {"expires", &expires, NULL},
	                               {"uses", &uses, NULL},
	                               {"json", NULL, &json},
	                               {NULL, NULL, NULL}};
	struct agentctl_request r;
	struct agentctl_reply reply;
	struct cli_args args;
	char data_dir[4096], token[PROTO_TOKEN_TEXT_MAX + 1];
	unsigned long n_uses = 1;
	char *end;
	int rc;

	rc = cli_parse(argc, argv,
	               "kith invite [--scopes LIST] [--expires DURATION] [--uses N] [--json] "
	               "[--data DIR]",
	               opts, 0, &args, data_dir, sizeof(data_dir));
	if (rc != CLI_CONTINUE)
		return rc;
	if (expires &&
	    (rc = cli_check_duration("invite", "expires", expires, 1000)) != CLI_CONTINUE)
		return rc;
	if (uses) {
		n_uses = strtoul(uses, &end, 10);
		if (*end || !*uses || n_uses < 1 || n_uses > 1000)
			return cli_usage("invite", "--uses must be a number from 1 to 1000");
	}
	agentctl_begin(&r, CTL_CMD_INVITE);
	agentctl_arg_uint(&r, CTL_KEY_USES, n_uses);
	if (scopes)
		agentctl_arg_text(&r, CTL_KEY_SCOPES, scopes);
	if (expires)
		agentctl_arg_text(&r, CTL_KEY_EXPIRES, expires);
	rc = agentctl_call(data_dir, &r, &reply);
	if (rc != CLI_OK)
		return rc;
	if (json)
		agentctl_print_json(&reply);
	else
		printf("%s\n", agentctl_text(reply.data, CTL_REPLY_TOKEN, token, sizeof(token)));
	agentctl_reply_free(&reply);
	return CLI_OK;
}

/* ---- kith join ---- */

int cmd_join_main(int argc, char **argv)
{
	const char *endpoint = NULL;
	bool json = false;
	const struct cli_opt opts[] = {
	    {"endpoint", &endpoint, NULL}, {"json", NULL, &json}, {NULL, NULL, NULL}};
	struct agentctl_request r;
	struct agentctl_reply reply;
	struct cli_args args;
	char data_dir[4096], founder[128];
	bool token;
	int rc;

	rc = cli_parse(argc, argv,
	               "kith join TOKEN [--data DIR]\n"
	               "       kith join PEER_ID --endpoint tcp://HOST:PORT [--data DIR]",
	               opts, 1, &args, data_dir, sizeof(data_dir));
	if (rc != CLI_CONTINUE)
		return rc;
	if (args.n != 1)
		return cli_usage("join", "give the invitation (or a peer ID and --endpoint)");
	token = !strncmp(args.pos[0], PROTO_TOKEN_PREFIX, strlen(PROTO_TOKEN_PREFIX));
	if (token) {
		struct proto_token *t = calloc(1, sizeof(*t));
		char why[200];
		rc = t ? proto_token_parse(t, args.pos[0], why, sizeof(why)) : -ENOMEM;
		free(t);
		if (rc)
			return cli_usage("join", "%s", rc == -ENOMEM ? "out of memory" : why);
		if (endpoint)
			return cli_usage("join", "an invitation carries its endpoint");
	} else {
		rc = cli_check_peer("join", args.pos[0]);
		if (rc != CLI_CONTINUE)
			return rc;
		if (!endpoint)
			return cli_usage("join", "joining by peer ID needs --endpoint");
	}
	agentctl_begin(&r, CTL_CMD_JOIN);
	if (token) {
		agentctl_arg_text(&r, CTL_KEY_TOKEN, args.pos[0]);
	} else {
		agentctl_arg_text(&r, CTL_KEY_PEER, args.pos[0]);
		agentctl_arg_text(&r, CTL_KEY_ENDPOINT, endpoint);
	}
	rc = agentctl_call(data_dir, &r, &reply);
	if (rc != CLI_OK)
		return rc;
	if (json)
		agentctl_print_json(&reply);
	else
		printf("joined the network founded by %s: %" PRIu64 " members\n",
		       agentctl_text(reply.data, CTL_REPLY_FOUNDER, founder, sizeof(founder)),
		       agentctl_uint(reply.data, CTL_REPLY_MEMBERS));
	agentctl_reply_free(&reply);
	return CLI_OK;
}

/* ---- kith grant ---- */

int cmd_grant_main(int argc, char **argv)
{
	const char *expires = NULL, *secret_file = NULL;
	bool json = false;
	const struct cli_opt opts[] = {{"expires", &expires, NULL},
	                               {"secret-file", &secret_file, NULL},
	                               {"json", NULL, &json},
	                               {NULL, NULL, NULL}};
	struct agentctl_request r;
	struct agentctl_reply reply;
	struct cli_args args;
	char data_dir[4096], scopes[PROTO_SCOPES_MAX * (PROTO_SCOPE_MAX + 1)] = "", id[64];
	uint8_t *secret = NULL;
	size_t secret_len = 0, used = 0;
	int rc;

	rc = cli_parse(argc, argv,
	               "kith grant PEER_ID SCOPE... [--expires DURATION] [--secret-file FILE] "
	               "[--data DIR]",
	               opts, CLI_POS_MAX, &args, data_dir, sizeof(data_dir));
	if (rc != CLI_CONTINUE)
		return rc;
	if (args.n < 2)
		return cli_usage("grant", "give a peer ID and at least one scope");
	rc = cli_check_peer("grant", args.pos[0]);
	if (rc != CLI_CONTINUE)
		return rc;
	/* Checked first: 16 scopes of at most 300 bytes (the parser's limit)
	 * and their commas are what scopes[] holds; more would run past it. */
	if (args.n - 1 > PROTO_SCOPES_MAX)
		return cli_usage("grant", "at most %d scopes in one grant", PROTO_SCOPES_MAX);
	for (int i = 1; i < args.n; i++) {
		struct proto_scope s;
		const char *why = NULL;
		if (proto_scope_parse(&s, args.pos[i], strlen(args.pos[i]), &why) != 0)
			return cli_usage("grant", "%s", why);
		used += (size_t)snprintf(scopes + used, sizeof(scopes) - used, "%s%s",
		                         i > 1 ? "," : "", args.pos[i]);
	}
	if (expires && (rc = cli_check_duration("grant", "expires", expires, 1000)) != CLI_CONTINUE)
		return rc;
	if (secret_file) {
		rc = cli_read_file(secret_file, GRANT_SECRET_MAX, &secret, &secret_len);
		if (rc != CLI_OK)
			return rc;
		if (secret_len == 0) {
			free(secret);
			return cli_fail("%s is empty: no credential to seal",
			                strcmp(secret_file, "-") ? secret_file : "standard input");
		}
	}
	agentctl_begin(&r, CTL_CMD_GRANT);
	agentctl_arg_text(&r, CTL_KEY_PEER, args.pos[0]);
	agentctl_arg_text(&r, CTL_KEY_SCOPES, scopes);
	if (expires)
		agentctl_arg_text(&r, CTL_KEY_EXPIRES, expires);
	if (secret) {
		agentctl_arg_bin(&r, CTL_KEY_SECRET, secret, secret_len);
		free(secret);
	}
	rc = agentctl_call(data_dir, &r, &reply);
	if (rc != CLI_OK)
		return rc;
	if (json)
		agentctl_print_json(&reply);
	else
		printf("granted %s as %s\n", scopes,
		       agentctl_text(reply.data, CTL_REPLY_ID, id, sizeof(id)));
	agentctl_reply_free(&reply);
	return CLI_OK;
}

/* ---- kith grants ---- */

static void print_grants(const msgpack_object *d)
{
	if (!d || d->type != MSGPACK_OBJECT_ARRAY)
		return;
	printf("%-20s %-9s %-8s %-8s %-20s %-8s %s\n", "ID", "DIRECTION", "ISSUER", "SUBJECT",
	       "EXPIRES", "STATE", "SCOPES");
	for (uint32_t i = 0; i < d->via.array.size; i++) {
		const msgpack_object *g = &d->via.array.ptr[i], *scopes;
		char id[80], dir[16], issuer[80], subject[80], state[16], expires[32];

		agentctl_text(g, CTL_REPLY_ISSUER, issuer, sizeof(issuer));
		agentctl_text(g, CTL_REPLY_SUBJECT, subject, sizeof(subject));
		issuer[PROTO_PEERID_SHORT_LEN] = subject[PROTO_PEERID_SHORT_LEN] = '\0';
		show_time(expires, sizeof(expires), agentctl_uint(g, CTL_REPLY_EXPIRES));
		printf("%-20s %-9s %-8s %-8s %-20s %-8s",
		       agentctl_text(g, CTL_REPLY_ID, id, sizeof(id)),
		       agentctl_text(g, CTL_REPLY_DIRECTION, dir, sizeof(dir)), issuer, subject,
		       expires, agentctl_text(g, CTL_REPLY_STATE, state, sizeof(state)));
		scopes = agentctl_get(g, CTL_REPLY_SCOPES);
		for (uint32_t k = 0;
		     scopes && scopes->type == MSGPACK_OBJECT_ARRAY && k < scopes->via.array.size;
		     k++) {
			const msgpack_object *s = &scopes->via.array.ptr[k];
			if (s->type == MSGPACK_OBJECT_STR)
				printf(" %.*s", (int)s->via.str.size, s->via.str.ptr);
		}
		fputc('\n', stdout);
	}
}

int cmd_grants_main(int argc, char **argv)
{
	bool json = false, all = false;
	const struct cli_opt opts[] = {
	    {"json", NULL, &json}, {"all", NULL, &all}, {NULL, NULL, NULL}};
	struct agentctl_request r;
	struct cli_args args;
	char data_dir[4096];
	int rc;

	rc = cli_parse(argc, argv, "kith grants [--json] [--all] [--data DIR]", opts, 0, &args,
	               data_dir, sizeof(data_dir));
	if (rc != CLI_CONTINUE)
		return rc;
	agentctl_begin(&r, CTL_CMD_GRANTS);
	agentctl_arg_flag(&r, CTL_KEY_ALL, all);
	return agentctl_run(data_dir, &r, json, print_grants);
}

/* ---- kith revoke ---- */

int cmd_revoke_main(int argc, char **argv)
{
	const char *reason = NULL;
	bool member = false, json = false;
	const struct cli_opt opts[] = {{"member", NULL, &member},
	                               {"reason", &reason, NULL},
	                               {"json", NULL, &json},
	                               {NULL, NULL, NULL}};
	struct agentctl_request r;
	struct agentctl_reply reply;
	struct cli_args args;
	char data_dir[4096];
	int rc;

	rc = cli_parse(argc, argv,
	               "kith revoke PEER_ID|GRANT_ID [--member] [--reason TEXT] [--data DIR]", opts,
	               1, &args, data_dir, sizeof(data_dir));
	if (rc != CLI_CONTINUE)
		return rc;
	if (args.n != 1)
		return cli_usage("revoke", "give a peer ID or a grant ID");
	if (member && (rc = cli_check_peer("revoke", args.pos[0])) != CLI_CONTINUE)
		return rc;
	agentctl_begin(&r, CTL_CMD_REVOKE);
	agentctl_arg_text(&r, CTL_KEY_TARGET, args.pos[0]);
	agentctl_arg_flag(&r, CTL_KEY_MEMBER, member);
	if (reason)
		agentctl_arg_text(&r, CTL_KEY_REASON, reason);
	rc = agentctl_call(data_dir, &r, &reply);
	if (rc != CLI_OK)
		return rc;
	if (json) {
		agentctl_print_json(&reply);
	} else if (member) {
		printf("ejected %s from the network\n", args.pos[0]);
	} else {
		const msgpack_object *ids = agentctl_get(reply.data, CTL_REPLY_REVOKED);
		for (uint32_t i = 0;
		     ids && ids->type == MSGPACK_OBJECT_ARRAY && i < ids->via.array.size; i++)
			if (ids->via.array.ptr[i].type == MSGPACK_OBJECT_STR)
				printf("revoked %.*s\n", (int)ids->via.array.ptr[i].via.str.size,
				       ids->via.array.ptr[i].via.str.ptr);
	}
	agentctl_reply_free(&reply);
	return CLI_OK;
}
