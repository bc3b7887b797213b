/* kith backup put|get|ls|verify|forget|prune: the command line of backups
 * (tools/backup.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backup/erasure.h"
#include "backup/snapshot.h"
#include "proto/units.h"
#include "backup.h"
#include "cli.h"

static const char usage[] =
    "kith backup put NAME [FILE|-] [--shards K+M] [--json] [--data DIR]\n"
    "       kith backup get NAME [--snapshot ID] [--out FILE|-] [--json] [--data DIR]\n"
    "       kith backup ls [NAME] [--json] [--data DIR]\n"
    "       kith backup verify NAME [--read-data[=PERCENT]] [--json] [--data DIR]\n"
    "       kith backup forget NAME [--keep-last N] [--keep-daily N] [--keep-weekly N]\n"
    "                               [--keep-monthly N] [--json] [--data DIR]\n"
    "       kith backup prune [--json] [--data DIR]\n"
    "       kith backup repair [--read-data[=PERCENT]] [--dead-for DURATION] [--json]\n"
    "                          [--data DIR]";

/* A count option: 1..100000, or the line to say it is not. */
static int parse_count(const char *opt, const char *text, unsigned *out)
{
	char *end;
	unsigned long v;

	if (!text)
		return 0;
	v = strtoul(text, &end, 10);
	if (end == text || *end || v < 1 || v > 100000)
		return cli_usage("backup", "%s takes a count from 1 to 100000", opt);
	*out = (unsigned)v;
	return 0;
}

/* "4+2" -> k, m within erasure.h's bounds. */
static int parse_shards(const char *text, unsigned *k, unsigned *m)
{
	char *end;
	unsigned long a = strtoul(text, &end, 10), b;

	if (end == text || *end != '+')
		return -1;
	text = end + 1;
	b = strtoul(text, &end, 10);
	if (end == text || *end || a < 1 || a > ERASURE_K_MAX || b > ERASURE_M_MAX)
		return -1;
	*k = (unsigned)a;
	*m = (unsigned)b;
	return 0;
}

int cmd_backup_main(int argc, char **argv)
{
	const char *out = NULL, *snapshot = NULL, *shards = NULL, *read_data = NULL;
	const char *last = NULL, *daily = NULL, *weekly = NULL, *monthly = NULL, *dead_for = NULL;
	bool json = false;
	const struct cli_opt opts[] = {{"out", &out, NULL},
	                               {"snapshot", &snapshot, NULL},
	                               {"shards", &shards, NULL},
	                               {"read-data", &read_data, NULL},
	                               {"keep-last", &last, NULL},
	                               {"keep-daily", &daily, NULL},
	                               {"keep-weekly", &weekly, NULL},
	                               {"keep-monthly", &monthly, NULL},
	                               {"dead-for", &dead_for, NULL},
	                               {"json", NULL, &json},
	                               {NULL, NULL, NULL}};
	struct bk_keep keep = {0};
	unsigned percent = 0;
	uint64_t dead_ms = 0;
	struct cli_args args;
	char data_dir[4096];
	const char *verb, *name, *why = NULL;
	unsigned k = 0, m = 0;
	struct bk b;
	int rc;

	/* --read-data alone reads everything: give cli_parse its value. */
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--read-data"))
			argv[i] = (char *)"--read-data=100";
	rc = cli_parse(argc, argv, usage, opts, 3, &args, data_dir, sizeof(data_dir));
	if (rc != CLI_CONTINUE)
		return rc;
	if (args.n < 1)
		return cli_usage("backup", "say put, get, ls, verify, forget, prune or repair");
	verb = args.pos[0];
	name = args.n > 1 ? args.pos[1] : NULL;
	if (name && !snap_name_ok(name, strlen(name)))
		return cli_usage(
		    "backup", "a backup name is 1 to %d of a-z A-Z 0-9 . _ - (not starting with .)",
		    SNAP_NAME_MAX);
	if (shards && parse_shards(shards, &k, &m) != 0)
		return cli_usage("backup", "--shards takes K+M, K 1..%d, M 0..%d", ERASURE_K_MAX,
		                 ERASURE_M_MAX);
	if (read_data) {
		char *end;
		unsigned long v = strtoul(read_data, &end, 10);
		if (end == read_data || (*end && strcmp(end, "%")) || v > 100)
			return cli_usage("backup", "--read-data takes a percentage, 0 to 100");
		percent = (unsigned)v;
	}
	if (dead_for && proto_duration_parse(dead_for, strlen(dead_for), &dead_ms, &why) != 0)
		return cli_usage("backup", "--dead-for: %s", why);
	if (parse_count("--keep-last", last, &keep.last) ||
	    parse_count("--keep-daily", daily, &keep.daily) ||
	    parse_count("--keep-weekly", weekly, &keep.weekly) ||
	    parse_count("--keep-monthly", monthly, &keep.monthly))
		return CLI_USAGE;
	if (!strcmp(verb, "put")) {
		if (!name || args.n > 3)
			return cli_usage("backup",
			                 "put takes NAME and FILE, or - for standard input");
		if ((rc = bk_open(&b, data_dir, true)) == CLI_OK)
			rc = backup_put(&b, name, args.n == 3 ? args.pos[2] : "-", k, m, json);
	} else if (!strcmp(verb, "get")) {
		if (!name || args.n != 2)
			return cli_usage("backup", "get takes NAME");
		if ((rc = bk_open(&b, data_dir, false)) == CLI_OK)
			rc = backup_get(&b, name, snapshot, out, json);
	} else if (!strcmp(verb, "ls")) {
		if (args.n > 2)
			return cli_usage("backup", "ls takes at most NAME");
		if ((rc = bk_open(&b, data_dir, false)) == CLI_OK)
			rc = backup_ls(&b, name, json);
	} else if (!strcmp(verb, "verify")) {
		if (!name || args.n != 2)
			return cli_usage("backup", "verify takes NAME");
		if ((rc = bk_open(&b, data_dir, false)) == CLI_OK)
			rc = backup_verify(&b, name, percent, json);
	} else if (!strcmp(verb, "forget")) {
		if (!name || args.n != 2)
			return cli_usage("backup", "forget takes NAME");
		if (!keep.last && !keep.daily && !keep.weekly && !keep.monthly)
			return cli_usage("backup", "forget needs at least one --keep-* rule");
		if ((rc = bk_open(&b, data_dir, false)) == CLI_OK)
			rc = backup_forget(&b, name, &keep, json);
	} else if (!strcmp(verb, "prune")) {
		if (args.n != 1)
			return cli_usage("backup", "prune takes no name: it looks at every backup");
		if ((rc = bk_open(&b, data_dir, true)) == CLI_OK)
			rc = backup_prune(&b, json);
	} else if (!strcmp(verb, "repair")) {
		if (args.n != 1)
			return cli_usage("backup",
			                 "repair takes no name: it looks at every backup");
		if ((rc = bk_open(&b, data_dir, true)) == CLI_OK)
			rc = backup_repair(&b, percent, dead_ms / 1000, json);
	} else {
		return cli_usage(
		    "backup", "unknown action '%s' (put, get, ls, verify, forget, prune, repair)",
		    verb);
	}
	bk_close(&b);
	return rc;
}
