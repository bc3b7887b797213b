#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "proto/error.h"
#include "proto/identity.h"
#include "proto/peerid.h"
#include "agent/conf.h"
#include "store/store.h"
#include "cli.h"

int cli_fail(const char *fmt, ...)
{
	va_list ap;

	fputs("kith: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return CLI_FAIL;
}

int cli_usage(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "kith %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see kith help)\n");
	return CLI_USAGE;
}

int cli_path(char *out, size_t n, const char *dir, const char *name)
{
	int len = snprintf(out, n, "%s/%s", dir, name);

	return len < 0 || (size_t)len >= n ? -ENAMETOOLONG : 0;
}

int cli_open_identity(struct proto_identity **id, const char *data_dir)
{
	char path[4096];
	int err;

	if (cli_path(path, sizeof(path), data_dir, PROTO_IDENTITY_FILE) != 0)
		return cli_fail("data directory path too long");
	err = proto_identity_load(id, path);
	if (err == -ENOENT)
		return cli_fail("no identity in %s: run kith init --name NAME first", data_dir);
	if (err)
		return cli_fail("%s: %s", path, proto_strerror(err));
	return CLI_OK;
}

int cli_open_store(struct store **s, const char *data_dir)
{
	int err = store_open(s, data_dir, NULL);

	if (err)
		return cli_fail("cannot open the store in %s: %s", data_dir, proto_strerror(err));
	return CLI_OK;
}

uint64_t cli_now(void)
{
	return (uint64_t)time(NULL);
}

/* Finds "--name" or "--name=value" in opts; *inline_value points after '='. */
static const struct cli_opt *find_opt(const struct cli_opt *opts, const char *arg,
                                      const char **inline_value)
{
	const char *eq = strchr(arg, '=');
	size_t len = eq ? (size_t)(eq - arg) : strlen(arg);

	*inline_value = eq ? eq + 1 : NULL;
	for (; opts && opts->name; opts++)
		if (strlen(opts->name) == len && !strncmp(opts->name, arg, len))
			return opts;
	return NULL;
}

int cli_parse(int argc, char **argv, const char *usage, const struct cli_opt *opts, int max_pos,
              struct cli_args *args, char *data_dir, size_t n)
{
	const struct cli_opt builtin[] = {
	    {"data", NULL, NULL},
	    {"help", NULL, NULL},
	    {NULL, NULL, NULL},
	};
	const char *cmd = argv[0], *dir = NULL;
	bool options_done = false;

	args->n = 0;
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i], *value;
		const struct cli_opt *opt;

		if (!options_done && !strcmp(arg, "-h")) {
			printf("usage: %s\n", usage);
			return CLI_OK;
		}
		if (!options_done && arg[0] == '-' && arg[1] && arg[1] != '-')
			return cli_usage(cmd, "unknown option '%s'", arg);
		if (options_done || strncmp(arg, "--", 2) != 0 || arg[2] == '\0') {
			if (!options_done && !strcmp(arg, "--")) {
				options_done = true;
				continue;
			}
			if (args->n >= max_pos || args->n >= CLI_POS_MAX)
				return cli_usage(cmd, "unexpected argument '%s'", arg);
			args->pos[args->n++] = arg;
			continue;
		}
		opt = find_opt(opts, arg + 2, &value);
		if (!opt && find_opt(builtin, arg + 2, &value)) {
			if (!strncmp(arg + 2, "help", 4)) {
				printf("usage: %s\n", usage);
				return CLI_OK;
			}
			if (!value && i + 1 >= argc)
				return cli_usage(cmd, "--data needs a value");
			dir = value ? value : argv[++i];
			continue;
		}
		if (!opt)
			return cli_usage(cmd, "unknown option '%s'", arg);
		if (!opt->value) {
			if (value)
				return cli_usage(cmd, "--%s takes no value", opt->name);
			*opt->flag = true;
			continue;
		}
		if (!value && i + 1 >= argc)
			return cli_usage(cmd, "--%s needs a value", opt->name);
		*opt->value = value ? value : argv[++i];
	}
	if (conf_data_dir(data_dir, n, dir) != 0)
		return cli_usage(cmd, "no data directory: give --data DIR or set KITH_DATA");
	return CLI_CONTINUE;
}

int cli_check_peer(const char *cmd, const char *text)
{
	uint8_t key[PROTO_KEY_LEN];
	char why[160];

	if (proto_peerid_parse(key, text, why, sizeof(why)) != 0)
		return cli_usage(cmd, "%s", why);
	return CLI_CONTINUE;
}
