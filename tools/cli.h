/* Shared pieces of the kith command line: where the data directory is, how
 * a command fails, and opening what init created.
 *
 * Every command is a cmd_*_main(argc, argv) returning the process exit
 * status: 0 on success, 1 on failure after one line on stderr, 2 on a usage
 * error. */
#ifndef KITH_TOOLS_CLI_H
#define KITH_TOOLS_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct proto_identity;
struct store;

/* Exit statuses. */
#define CLI_OK 0
#define CLI_FAIL 1
#define CLI_USAGE 2

/* Parsing stops here with this status when the command should go on. */
#define CLI_CONTINUE (-1)
/* As many as kith admit takes peers (CTL_ADMIT_MAX): 8 KiB of pointers on
 * the stack of a command. */
#define CLI_POS_MAX 1024

/* One long option. value receives the argument of "--name VALUE" or
 * "--name=VALUE"; flag (when value is NULL) is set by "--name". */
struct cli_opt {
	const char *name;
	const char **value; /* borrowed from argv */
	bool *flag;
};

/* Positional arguments, in order, borrowed from argv. */
struct cli_args {
	const char *pos[CLI_POS_MAX];
	int n;
};

/* Parses argv[1..argc) of a command against opts (terminated by a NULL
 * name); "--data DIR" and "--help" are always understood, "--" ends the
 * options. Returns CLI_CONTINUE, CLI_OK after printing usage for --help,
 * or CLI_USAGE after one line saying what is wrong (unknown option,
 * missing value, more than max_pos positional arguments). *data_dir is the
 * data directory (see conf_data_dir()), n bytes. */
int cli_parse(int argc, char **argv, const char *usage, const struct cli_opt *opts, int max_pos,
              struct cli_args *args, char *data_dir, size_t n);

/* Checks a peer ID argument of cmd locally, so that a typo is caught even
 * with no agent running. Returns CLI_CONTINUE or CLI_USAGE after a line. */
int cli_check_peer(const char *cmd, const char *text);

/* Prints "kith: <message>" on stderr and returns CLI_FAIL. */
__attribute__((format(printf, 1, 2))) int cli_fail(const char *fmt, ...);
/* Prints "kith <cmd>: <message>" and a usage hint; returns CLI_USAGE. */
__attribute__((format(printf, 2, 3))) int cli_usage(const char *cmd, const char *fmt, ...);

/* Joins dir and name into out. Returns 0 or -ENAMETOOLONG. */
int cli_path(char *out, size_t n, const char *dir, const char *name);

/* Loads the identity of data_dir. On failure prints why (naming kith init
 * when there is none) and returns CLI_FAIL; on success *id is owned by the
 * caller. */
int cli_open_identity(struct proto_identity **id, const char *data_dir);
/* Opens the store of data_dir to read only (it never creates, upgrades
 * or writes it: kithd may be running), printing why on failure
 * (CLI_FAIL). */
int cli_open_store(struct store **s, const char *data_dir);
/* Takes kithd's lock of data_dir (kithd.lock), so that no kithd starts
 * while kith writes into its store. Returns CLI_OK with *fd (close it to
 * let go), CLI_BUSY when a kithd holds it (then talk to it instead), or
 * CLI_FAIL after one line. */
#define CLI_BUSY 3
int cli_lock_agent(const char *data_dir, int *fd);

/* Reads all of path ("-": standard input) when it holds at most max
 * bytes. On success returns CLI_OK with *data (owned by the caller: free()
 * it; never NULL, even for an empty file) and *len. Otherwise prints one
 * line naming the file and why ("kith: cannot read x: Is a directory",
 * "kith: x is larger than N bytes") and returns CLI_FAIL with nothing
 * allocated: a command never sends part of a file it could not read. */
int cli_read_file(const char *path, size_t max, uint8_t **data, size_t *len);

/* Checks a duration option of cmd (e.g. --expires) locally, as kithd will
 * (proto_duration_parse(), at least min_ms), so that a mistake is caught
 * with no agent running. Returns CLI_CONTINUE, or CLI_USAGE after a line. */
int cli_check_duration(const char *cmd, const char *opt, const char *text, uint64_t min_ms);

/* Current time in Unix seconds. */
uint64_t cli_now(void);

int cmd_init_main(int argc, char **argv);
int cmd_recovery_kit_main(int argc, char **argv);
struct proto_kit;
/* Reads and parses the recovery kit at path ("-": standard input) into
 * kit (which should be in sodium_malloc() memory: it holds the secret).
 * Returns CLI_OK, or CLI_FAIL after one line saying what is wrong. */
int cli_read_kit(const char *path, struct proto_kit *kit);
int cmd_id_main(int argc, char **argv);
int cmd_records_main(int argc, char **argv);
int cmd_record_main(int argc, char **argv);
int cmd_status_main(int argc, char **argv);
int cmd_members_main(int argc, char **argv);
int cmd_admit_main(int argc, char **argv);
int cmd_invite_main(int argc, char **argv);
int cmd_join_main(int argc, char **argv);
int cmd_grant_main(int argc, char **argv);
int cmd_grants_main(int argc, char **argv);
int cmd_revoke_main(int argc, char **argv);
int cmd_shard_main(int argc, char **argv);
int cmd_backup_main(int argc, char **argv);
int cmd_services_main(int argc, char **argv);
int cmd_dns_main(int argc, char **argv);
int cmd_service_main(int argc, char **argv);
int cmd_contact_main(int argc, char **argv);
int cmd_health_main(int argc, char **argv);
/* kith services without --of: our own services. */
int cmd_services_own_main(const char *data_dir, bool json);

#endif
