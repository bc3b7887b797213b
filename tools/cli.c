#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "proto/error.h"
#include "proto/identity.h"
#include "proto/peerid.h"
#include "proto/units.h"
#include "agent/core/conf.h"
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
	int err = store_open(s, data_dir, &(struct store_options){.read_only = true});

	if (err == KITH_ESCHEMA)
		return cli_fail("cannot read the store in %s: not of this kith's version (kithd "
		                "upgrades an older store when it starts)",
		                data_dir);
	if (err)
		return cli_fail("cannot open the store in %s: %s", data_dir, proto_strerror(err));
	return CLI_OK;
}

int cli_lock_agent(const char *data_dir, int *fd)
{
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	char path[4200];

	if (cli_path(path, sizeof(path), data_dir, "kithd.lock") != 0)
		return cli_fail("%s: path too long", data_dir);
	*fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (*fd < 0)
		return cli_fail("%s: %s", path, strerror(errno));
	if (fcntl(*fd, F_SETLK, &fl) == 0)
		return CLI_OK;
	close(*fd);
	*fd = -1;
	if (errno == EAGAIN || errno == EACCES)
		return CLI_BUSY;
	return cli_fail("%s: %s", path, strerror(errno));
}

/* The name to show for path: standard input is not a file called "-". */
static const char *shown(const char *path)
{
	return strcmp(path, "-") ? path : "standard input";
}

int cli_read_file(const char *path, size_t max, uint8_t **data, size_t *len)
{
	bool is_stdin = !strcmp(path, "-");
	FILE *f = is_stdin ? stdin : fopen(path, "rb");
	uint8_t *buf = NULL;
	struct stat st;
	size_t n = 0;
	int rc = CLI_FAIL, err = 0;

	if (!f)
		return cli_fail("cannot open %s: %s", path, strerror(errno));
	/* A directory opens, then fails to read with EISDIR on Linux; say so
	 * before reading rather than rely on it. */
	if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
		cli_fail("cannot read %s: %s", shown(path), strerror(EISDIR));
		goto cleanup;
	}
	buf = malloc(max + 1);
	if (!buf) {
		cli_fail("cannot read %s: %s", shown(path), strerror(ENOMEM));
		goto cleanup;
	}
	/* fread() stops at the end of the file, at an error or after max + 1
	 * bytes (too many); an error is told apart from the end by ferror(),
	 * and a short read never passes for a whole file. */
	errno = 0;
	n = fread(buf, 1, max + 1, f);
	err = errno;
	if (ferror(f)) {
		cli_fail("cannot read %s: %s", shown(path), strerror(err ? err : EIO));
		goto cleanup;
	}
	if (n > max) {
		cli_fail("%s is larger than %zu bytes", shown(path), max);
		goto cleanup;
	}
	*data = buf;
	*len = n;
	buf = NULL;
	rc = CLI_OK;
cleanup:
	free(buf);
	if (!is_stdin)
		fclose(f);
	return rc;
}

int cli_check_duration(const char *cmd, const char *opt, const char *text, uint64_t min_ms)
{
	const char *why = NULL;
	char min[32];
	uint64_t ms;

	if (proto_duration_parse(text, strlen(text), &ms, &why) != 0)
		return cli_usage(cmd, "--%s: %s", opt, why);
	if (ms < min_ms) {
		proto_duration_format(min_ms, min, sizeof(min));
		return cli_usage(cmd, "--%s must be at least %s", opt, min);
	}
	return CLI_CONTINUE;
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
