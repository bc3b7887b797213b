/* kithd: the kith agent. Runs in the foreground and logs to stderr
 * (journald keeps it); see kithd(8). */
#include <getopt.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "agent/core/conf.h"
#include "agent/core/log.h"

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: kithd [--data DIR] [--config FILE] [--log-level error|warn|info|debug]\n");
}

/* Each member costs a few descriptors (a DEALER, its inbound connection,
 * ZeroMQ's own): lift the soft limit to the hard one. */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			log_warn("cannot raise the open file limit");
	}
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
	    {"data", required_argument, NULL, 'd'},      {"config", required_argument, NULL, 'c'},
	    {"log-level", required_argument, NULL, 'l'}, {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},         {NULL, 0, NULL, 0},
	};
	const char *dir = NULL, *config = NULL, *level_text = NULL;
	enum log_level level = LOG_LEVEL_INFO;
	struct agent *a = NULL;
	char buf[4096], err[512];
	int c, rc;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (c) {
		case 'd':
			dir = optarg;
			break;
		case 'c':
			config = optarg;
			break;
		case 'l':
			level_text = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("kithd %s\n", KITH_VERSION);
			return 0;
		default:
			fprintf(stderr, "kithd: unknown option or missing value: %s\n",
			        argv[optind - 1]);
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "kithd: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (level_text && log_level_parse(level_text, &level) != 0) {
		fprintf(stderr, "kithd: --log-level must be error, warn, info or debug\n");
		return 2;
	}
	if (conf_data_dir(buf, sizeof(buf), dir) != 0) {
		fprintf(stderr, "kithd: no data directory: give --data DIR or set KITH_DATA\n");
		return 2;
	}
	/* Everything kithd creates (socket, lock) is for its owner alone. */
	umask(077);
	log_init("kithd", level, false);
	raise_fd_limit();
	rc = agent_new(&a, buf, config, err, sizeof(err));
	if (rc) {
		log_warnx("%s", err);
		return 1;
	}
	/* --log-level wins over the configuration file. */
	if (level_text)
		log_set_level(level);
	rc = agent_run(a);
	agent_free(&a);
	return rc ? 1 : 0;
}
