/* kith: the command line of a kith agent. Each subcommand lives in its own
 * cmd_*.c file; this one only dispatches. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

struct command {
	const char *name;
	int (*main)(int argc, char **argv);
	const char *summary;
};

static const struct command commands[] = {
    {"init", cmd_init_main, "create the data directory, identity and store"},
    {"id", cmd_id_main, "print this agent's peer ID"},
    {"records", cmd_records_main, "list the records in the store"},
    {"record", cmd_record_main, "export or import one signed record"},
    {"status", cmd_status_main, "show the running agent's state and counters"},
    {"members", cmd_members_main, "list the members of the trust network"},
    {"admit", cmd_admit_main, "admit a peer into the trust network"},
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
	fprintf(f, "usage: kith COMMAND [OPTIONS]\n\ncommands:\n");
	for (size_t i = 0; i < N_COMMANDS; i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\nEvery command takes --data DIR (default: $KITH_DATA).\n"
	           "kith COMMAND --help shows the command's options.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return CLI_USAGE;
	}
	if (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return CLI_OK;
	}
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].main(argc - 1, argv + 1);
	fprintf(stderr, "kith: unknown command '%s' (see kith help)\n", argv[1]);
	return CLI_USAGE;
}
