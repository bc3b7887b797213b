/* kithd.conf: profiles and their defaults, a key overriding its profile
 * wherever it appears, and one precise line for every kind of mistake. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/core/conf.h"
#include "proto/error.h"
#include "tap.h"

static struct conf c;
static char err[256];

static int parse(const char *text)
{
	err[0] = '\0';
	return conf_parse_text(&c, text, "kithd.conf", err, sizeof(err));
}

/* The text fails with an error line containing want. */
static void refused(const char *text, const char *want, const char *what)
{
	struct conf before = c;
	int rc = parse(text);

	ok(rc == KITH_EVALUE && strstr(err, want) != NULL, what);
	if (!strstr(err, want))
		printf("#   got '%s', expected '%s'\n", err, want);
	ok(memcmp(&before, &c, sizeof(c)) == 0, "a refused file changes nothing");
}

static void test_profiles(void)
{
	is(parse(""), 0, "empty file");
	is(c.profile, CONF_PROFILE_WAN, "wan by default");
	is(c.probe_interval_ms, 5000, "wan probe interval 5s");
	is(c.probe_timeout_ms, 3000, "wan probe timeout 3s");
	ok(!strcmp(c.listen, "tcp://0.0.0.0:7707") && c.advertise[0] == '\0', "default listen");

	is(parse("[membership]\nprobe_interval = 2s\n[agent]\nprofile = lan\n"), 0,
	   "profile after a key");
	is(c.profile, CONF_PROFILE_LAN, "lan profile");
	is(c.probe_interval_ms, 2000, "the file's key wins over the profile");
	is(c.probe_timeout_ms, 500, "other keys take the lan default");
	is(c.gossip_interval_ms, 200, "lan gossip interval");

	is(parse("[agent]\nlisten = tcp://127.0.0.1:9000\nadvertise = tcp://example.org:9000\n"
	         "log_level = debug\n[gossip]\nsync_budget = 1M\n[limits]\nban_time = 2m\n"),
	   0, "every type of value");
	ok(!strcmp(c.listen, "tcp://127.0.0.1:9000"), "listen");
	ok(!strcmp(c.advertise, "tcp://example.org:9000"), "advertise");
	is(c.log_level, LOG_LEVEL_DEBUG, "log level");
	is(c.sync_budget, 1 << 20, "size");
	is(c.ban_ms, 120000, "duration");

	is(parse(""), 0, "defaults again");
	ok(c.push_fanout == CONF_AUTO, "push_fanout is auto by default");
	is(parse("[gossip]\npush_fanout = 0\n"), 0, "push_fanout 0");
	is(c.push_fanout, 0, "0: no push");
	is(parse("[gossip]\npush_fanout = auto\n"), 0, "push_fanout auto");
	ok(c.push_fanout == CONF_AUTO, "auto read back");
	is(parse("[alerts]\nsmtp_url = smtp://mail.example.org:587\nsmtp_tls = always\n"
	         "[monitoring]\nquorum = 3\nrefuse_private = 0\n"),
	   0, "alerts and monitoring keys");
	ok(!strcmp(c.smtp_url, "smtp://mail.example.org:587") && c.smtp_tls == CONF_TLS_ALWAYS &&
	       c.quorum == 3 && c.refuse_private == 0,
	   "text, choice and counts read");
	ok(c.smtp_password[0] == '\0' && c.matrix_token[0] == '\0', "unset text is empty");
}

static void test_errors(void)
{
	char longline[400];

	parse("");
	refused("[membership]\nprobe_interval = 1ms\n",
	        "kithd.conf:2: probe_interval: out of range (100ms to 10m)",
	        "out of range, with line and limits");
	refused("[membership]\n\nprobe_interval = 5\n",
	        "kithd.conf:3: probe_interval: needs a unit", "missing unit");
	refused("[membership]\nindirect_checks = three\n", "whole number", "not a number");
	refused("[membership]\nindirect_checks = -1\n", "whole number", "negative");
	refused("[agent]\nprofile = moon\n", "must be wan or lan, not 'moon'", "bad profile");
	refused("[gossip]\npush_fanout = many\n", "must be auto or a whole number",
	        "bad auto count");
	refused("[gossip]\npush_fanout = 65\n", "out of range (0 to 64)", "count over its range");
	refused("[alerts]\nsmtp_tls = maybe\n", "must be try, always or never", "bad tls choice");
	refused("[agent]\nlisten = 127.0.0.1:80\n", "listen: must look like tcp://HOST:PORT",
	        "endpoint without scheme");
	refused("[agent]\nlisten = tcp://host:99999\n", "port must be 1 to 65535", "bad port");
	refused("[agent]\nlisten = tcp://host:\n", "port missing", "no port");
	refused("[agent]\nlistn = tcp://host:1\n", "listn: unknown key in [agent]", "unknown key");
	refused("[nowhere]\nx = 1\n", "unknown key in [nowhere]", "unknown section");
	refused("probe_interval = 1s\n", "outside of any [section]", "key before a section");
	refused("[agent]\nprofile = lan\nprofile = wan\n", "kithd.conf:3: profile: set twice",
	        "key set twice");
	refused("[agent]\nthis is not ini\n", "kithd.conf:2: not a key = value line", "garbage");
	refused("[membership]\nprobe_interval = 1s\nprobe_timeout = 1s\n",
	        "probe_timeout must be shorter", "timeout not below interval");
	refused("[agent]\nmetrics_listen = localhost:9707\n", "must be an IPv4 address",
	        "a metrics listener named, not numbered");
	refused("[agent]\nmetrics_listen = ::1:9707\n", "in brackets", "IPv6 without brackets");
	refused("[agent]\nmetrics_listen = [::1]:0\n", "port must be 1 to 65535", "port 0");
	refused("[agent]\nmetrics_listen = [127.0.0.1]:80\n", "not an IPv6 address",
	        "IPv4 in brackets");
	refused("[agent]\nmetrics_listen = 127.0.0.1\n", "must look like", "no port at all");
	is(parse("[agent]\nmetrics_listen = [::1]:9707\n"), 0, "an IPv6 metrics listener");
	ok(!strcmp(c.metrics_listen, "[::1]:9707"), "kept as written");
	is(parse(""), 0, "no metrics listener by default");
	ok(c.metrics_listen[0] == '\0', "none");
	memset(longline, 'x', sizeof(longline));
	memcpy(longline, "[agent]\nlisten = tcp://", 23);
	memcpy(longline + sizeof(longline) - 8, ":1\n", 4);
	refused(longline, "kithd.conf:", "over-long line refused");
}

static void test_files(void)
{
	char dir[] = "/tmp/kith-test-conf-XXXXXX", path[300];
	struct conf loaded;

	ok(mkdtemp(dir) != NULL, "temp dir");
	snprintf(path, sizeof(path), "%s/%s", dir, CONF_FILE);
	is(conf_load(&loaded, path, err, sizeof(err)), -ENOENT, "missing file");
	is(conf_write_new(path, "tcp://127.0.0.1:7000", "tcp://127.0.0.1:7000", CONF_PROFILE_LAN),
	   0, "write a new file");
	is(conf_write_new(path, "tcp://127.0.0.1:7001", "", CONF_PROFILE_WAN), -EEXIST,
	   "never overwrite");
	is(conf_load(&loaded, path, err, sizeof(err)), 0, "load what was written");
	ok(!strcmp(loaded.listen, "tcp://127.0.0.1:7000") && loaded.profile == CONF_PROFILE_LAN,
	   "values survive the round trip");
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	test_profiles();
	test_errors();
	test_files();
	return tap_done();
}
