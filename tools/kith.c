/* kith: the command line of a kith agent. Each subcommand lives in its own
 * cmd_*.c file; this one only dispatches. */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "cli.h"

struct command {
	const char *name;
	int (*main)(int argc, char **argv);
	const char *summary;
};

static const struct command commands[] = {
    {"init", cmd_init_main, "create the data directory, identity and store"},
    {"id", cmd_id_main, "print this agent's peer ID"},
    {"recovery-kit", cmd_recovery_kit_main, "print the page that brings this collective back"},
    {"records", cmd_records_main, "list the records in the store"},
    {"record", cmd_record_main, "export or import one signed record"},
    {"status", cmd_status_main, "show the running agent's state and counters"},
    {"members", cmd_members_main, "list the members of the trust network"},
    {"admit", cmd_admit_main, "admit peers into the trust network"},
    {"invite", cmd_invite_main, "make an invitation token for a new collective"},
    {"join", cmd_join_main, "join a trust network with an invitation or by ID"},
    {"grant", cmd_grant_main, "grant a member scopes: monitor, backup:SIZE, dns:ZONE, admit"},
    {"grants", cmd_grants_main, "list the grants issued and received"},
    {"revoke", cmd_revoke_main, "revoke a grant, every grant to a peer, or a member"},
    {"backup", cmd_backup_main, "back up a stream to partners, restore it, list snapshots"},
    {"shard", cmd_shard_main, "keep, fetch or remove a shard with a partner"},
    {"service", cmd_service_main, "register (add), remove (rm) or list (ls) a service"},
    {"services", cmd_services_main, "list our services, or a partner's (--of, needs monitor)"},
    {"contact", cmd_contact_main, "add or remove an alert contact (mail, webhook, Matrix, ntfy)"},
    {"health", cmd_health_main, "every service's verdict and each observer's view"},
    {"dns", cmd_dns_main, "check or test the credential of a partner's dns grant"},
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
	fprintf(f, "usage: kith COMMAND [OPTIONS]\n\ncommands:\n");
	for (size_t i = 0; i < N_COMMANDS; i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\nEvery command takes --data DIR (default: $KITH_DATA).\n"
	           "kith COMMAND --help shows the command's options; kith --version "
	           "the version.\n");
}

int main(int argc, char **argv)
{
	/* Before anything: commands keep secrets in sodium_malloc() memory. */
	if (sodium_init() < 0) {
		fprintf(stderr, "kith: cannot initialise libsodium\n");
		return CLI_FAIL;
	}
	if (argc < 2) {
		usage(stderr);
		return CLI_USAGE;
	}
	if (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return CLI_OK;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
		printf("kith %s\n", KITH_VERSION);
		return CLI_OK;
	}
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].main(argc - 1, argv + 1);
	fprintf(stderr, "kith: unknown command '%s' (see kith help)\n", argv[1]);
	return CLI_USAGE;
}
