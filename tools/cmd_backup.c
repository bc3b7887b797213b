/* kith backup put|get|ls: the command line of backups (tools/backup.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backup/erasure.h"
#include "backup/snapshot.h"
#include "backup.h"
#include "cli.h"

static const char usage[] =
    "kith backup put NAME [FILE|-] [--shards K+M] [--json] [--data DIR]\n"
    "       kith backup get NAME [--snapshot ID] [--out FILE|-] [--json] [--data DIR]\n"
    "       kith backup ls [NAME] [--json] [--data DIR]";

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
	const char *out = NULL, *snapshot = NULL, *shards = NULL;
	bool json = false;
	const struct cli_opt opts[] = {{"out", &out, NULL},
	                               {"snapshot", &snapshot, NULL},
	                               {"shards", &shards, NULL},
	                               {"json", NULL, &json},
	                               {NULL, NULL, NULL}};
	struct cli_args args;
	char data_dir[4096];
	const char *verb, *name;
	unsigned k = 0, m = 0;
	struct bk b;
	int rc;

	rc = cli_parse(argc, argv, usage, opts, 3, &args, data_dir, sizeof(data_dir));
	if (rc != CLI_CONTINUE)
		return rc;
	if (args.n < 1)
		return cli_usage("backup", "say put, get or ls");
	verb = args.pos[0];
	name = args.n > 1 ? args.pos[1] : NULL;
	if (name && !snap_name_ok(name, strlen(name)))
		return cli_usage(
		    "backup", "a backup name is 1 to %d of a-z A-Z 0-9 . _ - (not starting with .)",
		    SNAP_NAME_MAX);
	if (shards && parse_shards(shards, &k, &m) != 0)
		return cli_usage("backup", "--shards takes K+M, K 1..%d, M 0..%d", ERASURE_K_MAX,
		                 ERASURE_M_MAX);
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
	} else {
		return cli_usage("backup", "unknown action '%s' (put, get or ls)", verb);
	}
	bk_close(&b);
	return rc;
}
