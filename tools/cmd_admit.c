/* kith admit: one peer, or a list of peers in one control request.
 *
 * Every entry (arguments PEER_ID[@tcp://HOST:PORT], lines of --file) is
 * checked here before kithd is asked, and kithd checks the list whole
 * again before it admits anyone: a typo on line 90 must not leave 89 peers
 * admitted and the admin wondering which. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/core/conf.h"
#include "proto/error.h"
#include "proto/peerid.h"
#include "agentctl.h"
#include "cli.h"

#define USAGE                                                                                      \
	"kith admit PEER_ID [--endpoint tcp://HOST:PORT] [--json] [--data DIR]\n"                  \
	"       kith admit PEER_ID[@tcp://HOST:PORT]... [--file FILE|-] [--json] [--data DIR]\n"   \
	"FILE holds one PEER_ID [tcp://HOST:PORT] per line; # starts a comment. At most 1024\n"    \
	"peers in one command (FILE at most 1 MiB); a bad entry admits none."

/* 1024 lines of a peer ID and a 255-byte endpoint take about 330 KB:
 * room for comments too, and a bound on what is read. */
#define ADMIT_FILE_MAX (1 << 20)
/* A peer ID is 63 characters with its dashes; longer text is cut to this
 * for the parser, which then says what is wrong with it. */
#define PEER_TEXT_MAX 100

_Static_assert(CLI_POS_MAX >= CTL_ADMIT_MAX, "kith admit takes a full list as arguments");

struct admit_list {
	struct ctl_admit_entry e[CTL_ADMIT_MAX];
	char where[CTL_ADMIT_MAX][48]; /* "argument 3", "line 12": for errors */
	size_t n;
};

/* Checks one entry (peer, and endpoint or NULL: both borrowed) and
 * appends it to l; why (n bytes) says what is wrong. Returns 0 or -1. */
static int add_entry(struct admit_list *l, const char *peer, size_t peer_len, const char *endpoint,
                     const char *where, char *why, size_t n)
{
	char text[PEER_TEXT_MAX + 1], reason[160];
	struct ctl_admit_entry *e;
	const char *problem;

	if (l->n >= CTL_ADMIT_MAX) {
		snprintf(why, n, "%s: more than %d peers: admit them in several commands", where,
		         CTL_ADMIT_MAX);
		return -1;
	}
	e = &l->e[l->n];
	snprintf(text, sizeof(text), "%.*s",
	         (int)(peer_len < PEER_TEXT_MAX ? peer_len : PEER_TEXT_MAX), peer);
	if (proto_peerid_parse(e->peer, text, reason, sizeof(reason)) != 0) {
		snprintf(why, n, "%s: %s", where, reason);
		return -1;
	}
	if (endpoint && conf_endpoint_check(endpoint, &problem) != 0) {
		snprintf(why, n, "%s: endpoint %s", where, problem);
		return -1;
	}
	snprintf(e->endpoint, sizeof(e->endpoint), "%s", endpoint ? endpoint : "");
	for (size_t i = 0; i < l->n; i++)
		if (!memcmp(l->e[i].peer, e->peer, PROTO_KEY_LEN)) {
			snprintf(why, n, "%s: the same peer as %s", where, l->where[i]);
			return -1;
		}
	snprintf(l->where[l->n], sizeof(l->where[0]), "%s", where);
	l->n++;
	return 0;
}

/* PEER_ID or PEER_ID@ENDPOINT (peer IDs have no '@'). */
static int add_token(struct admit_list *l, const char *token, const char *where, char *why,
                     size_t n)
{
	const char *at = strchr(token, '@');

	return add_entry(l, token, at ? (size_t)(at - token) : strlen(token), at ? at + 1 : NULL,
	                 where, why, n);
}

/* One line of FILE, NUL-terminated and writable: PEER_ID [ENDPOINT] or
 * PEER_ID@ENDPOINT, blank or a comment. */
static int add_line(struct admit_list *l, char *line, const char *where, char *why, size_t n)
{
	char *words[3], *save = NULL, *hash = strchr(line, '#');
	int count = 0;

	if (hash)
		*hash = '\0';
	for (char *w = strtok_r(line, " \t\r", &save); w; w = strtok_r(NULL, " \t\r", &save)) {
		if (count == 2) {
			snprintf(why, n, "%s: expected PEER_ID [tcp://HOST:PORT], found more",
			         where);
			return -1;
		}
		words[count++] = w;
	}
	if (count == 0)
		return 0;
	if (count == 1)
		return add_token(l, words[0], where, why, n);
	if (strchr(words[0], '@')) {
		snprintf(why, n, "%s: two endpoints for one peer", where);
		return -1;
	}
	return add_entry(l, words[0], strlen(words[0]), words[1], where, why, n);
}

/* Reads FILE ("-": standard input) into l. CLI_CONTINUE, or CLI_FAIL after
 * a line naming the file and the line. */
static int read_list(struct admit_list *l, const char *path)
{
	const char *name = strcmp(path, "-") ? path : "standard input";
	char where[48], why[400], *text = NULL, *line, *next;
	uint8_t *data = NULL;
	size_t len = 0, lineno = 0;
	int rc = cli_read_file(path, ADMIT_FILE_MAX, &data, &len);

	if (rc != CLI_OK)
		return rc;
	rc = CLI_CONTINUE;
	text = malloc(len + 1);
	if (!text) {
		rc = cli_fail("out of memory");
		goto cleanup;
	}
	memcpy(text, data, len);
	text[len] = '\0';
	if (strlen(text) != len) {
		rc = cli_fail("%s holds a NUL byte: not a list of peers", name);
		goto cleanup;
	}
	for (line = text; line && rc == CLI_CONTINUE; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		lineno++;
		snprintf(where, sizeof(where), "line %zu", lineno);
		if (add_line(l, line, where, why, sizeof(why)) != 0)
			rc = cli_fail("%s:%zu: %s", name, lineno, why + strlen(where) + 2);
	}
cleanup:
	free(text);
	free(data);
	return rc;
}

static void print_admitted(const msgpack_object *m, size_t count)
{
	char id[128], endpoint[300];

	agentctl_text(m, CTL_REPLY_ID, id, sizeof(id));
	agentctl_text(m, CTL_REPLY_ENDPOINT, endpoint, sizeof(endpoint));
	if (count == 1)
		printf(
		    "admitted %s: on its side, run kith join with this agent's peer ID (kith id) "
		    "and --endpoint\n",
		    id);
	else
		printf("admitted %s%s%s\n", id, endpoint[0] ? " at " : "", endpoint);
}

/* One line per admitted peer, or with --json an array of {id, endpoint},
 * whether one peer was admitted (its reply is one map) or a list. */
static void print_reply(const msgpack_object *d, bool json)
{
	bool one = d && d->type == MSGPACK_OBJECT_MAP;
	uint32_t count = one ? 1 : (d && d->type == MSGPACK_OBJECT_ARRAY ? d->via.array.size : 0);

	if (json) {
		if (one)
			putchar('[');
		agentctl_json(stdout, d);
		printf("%s\n", one ? "]" : "");
		return;
	}
	for (uint32_t i = 0; i < count; i++)
		print_admitted(one ? d : &d->via.array.ptr[i], count);
	if (count > 1)
		printf("on their side, each runs kith join with this agent's peer ID (kith id) "
		       "and --endpoint\n");
}

/* The request: the one-peer form for one peer, which every kithd
 * understands, else the list. */
static int send_list(const char *data_dir, const struct admit_list *l, bool json)
{
	struct agentctl_request r;
	struct agentctl_reply reply;
	struct mp_buf list = {0};
	int rc;

	agentctl_begin(&r, CTL_CMD_ADMIT);
	if (l->n == 1) {
		char id[PROTO_PEERID_TEXT_LEN + 1];

		proto_peerid_format(id, l->e[0].peer);
		agentctl_arg_text(&r, CTL_KEY_PEER, id);
		if (l->e[0].endpoint[0])
			agentctl_arg_text(&r, CTL_KEY_ENDPOINT, l->e[0].endpoint);
	} else {
		rc = ctl_admit_list_encode(&list, l->e, l->n);
		if (rc) {
			mp_buf_free(&list);
			mp_map_free(&r.map);
			return cli_fail("cannot encode the list of peers: %s", proto_strerror(rc));
		}
		agentctl_arg_bin(&r, CTL_KEY_PEERS, list.data, list.len);
		mp_buf_free(&list);
	}
	rc = agentctl_call(data_dir, &r, &reply);
	if (rc != CLI_OK)
		return rc;
	print_reply(reply.data, json);
	agentctl_reply_free(&reply);
	return CLI_OK;
}

int cmd_admit_main(int argc, char **argv)
{
	const char *endpoint = NULL, *file = NULL;
	bool json = false;
	const struct cli_opt opts[] = {{"endpoint", &endpoint, NULL},
	                               {"file", &file, NULL},
	                               {"json", NULL, &json},
	                               {NULL, NULL, NULL}};
	struct admit_list *l = NULL;
	struct cli_args args;
	char data_dir[4096], where[48], why[400];
	int rc;

	rc = cli_parse(argc, argv, USAGE, opts, CLI_POS_MAX, &args, data_dir, sizeof(data_dir));
	if (rc != CLI_CONTINUE)
		return rc;
	if (args.n == 0 && !file)
		return cli_usage("admit", "give the peer IDs to admit, or --file FILE");
	/* --endpoint belongs to one peer: with a list it would be unclear
	 * which entries it is for. */
	if (endpoint && (args.n != 1 || file || strchr(args.pos[0], '@')))
		return cli_usage("admit", "--endpoint goes with one PEER_ID alone: write each "
		                          "peer of a list as PEER_ID@tcp://HOST:PORT");
	l = calloc(1, sizeof(*l));
	if (!l)
		return cli_fail("out of memory");
	/* Checked here too, so that a typo is caught even with no agent. */
	for (int i = 0; i < args.n && rc == CLI_CONTINUE; i++) {
		int bad;

		snprintf(where, sizeof(where), "argument %d", i + 1);
		if (endpoint)
			bad = add_entry(l, args.pos[i], strlen(args.pos[i]), endpoint, where, why,
			                sizeof(why));
		else
			bad = add_token(l, args.pos[i], where, why, sizeof(why));
		/* With one peer the argument is plain: "argument 1: " says
		 * nothing the admin does not know. */
		if (bad)
			rc = cli_usage("admit", "%s",
			               args.n == 1 && !file ? why + strlen(where) + 2 : why);
	}
	if (rc == CLI_CONTINUE && file)
		rc = read_list(l, file);
	if (rc == CLI_CONTINUE && l->n == 0)
		rc = cli_fail("%s lists no peer", strcmp(file, "-") ? file : "standard input");
	if (rc == CLI_CONTINUE)
		rc = send_list(data_dir, l, json);
	free(l);
	return rc;
}
