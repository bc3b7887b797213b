/* Alerts against real local servers started here (alert_servers.py, run
 * by /usr/bin/python3): an aiosmtpd SMTP server, with and without AUTH,
 * and an http.server standing for webhooks, a Matrix homeserver and ntfy.
 * The servers write what they received, parsed by Python's email and json
 * modules, as "key=JSON value" lines that the checks below compare whole.
 * Also: contact checks (header injection), unconfigured channels, retries
 * then give-up, and the bound on pending alerts. */
#include <errno.h>
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/monitor/alert.h"
#include "agent/core/conf.h"
#include "agent/core/log.h"
#include "agent/core/loop.h"
#include "agent/core/web.h"
#include "proto/error.h"
#include "tap.h"

#define WAIT_MS 15000
#define PYTHON "/usr/bin/python3"

struct server {
	pid_t pid;
	int port;
	char dir[64];
};

static struct loop *loop;
static struct web *web;

/* alert_servers.py sits beside this file; CMake compiles it by its
 * absolute path. KITH_ALERT_SERVERS overrides. */
static void script_path(char *out, size_t n)
{
	const char *env = getenv("KITH_ALERT_SERVERS");
	const char *slash = strrchr(__FILE__, '/');

	if (env)
		snprintf(out, n, "%s", env);
	else if (slash)
		snprintf(out, n, "%.*s/alert_servers.py", (int)(slash - __FILE__), __FILE__);
	else
		snprintf(out, n, "alert_servers.py");
}

/* Reads "PORT n" from the child within a few seconds. */
static int read_port(int fd)
{
	char line[64] = "";
	size_t len = 0;
	uint64_t end = loop_clock_ms() + 10000;
	int port = -1;

	while (len < sizeof(line) - 1 && !strchr(line, '\n') && loop_clock_ms() < end) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t r;

		if (poll(&p, 1, 200) <= 0)
			continue;
		r = read(fd, line + len, sizeof(line) - 1 - len);
		if (r <= 0)
			break;
		len += (size_t)r;
		line[len] = '\0';
	}
	if (sscanf(line, "PORT %d", &port) != 1)
		return -1;
	return port;
}

static int server_start(struct server *s, const char *mode, const char *user, const char *pass)
{
	char script[512];
	int fds[2];

	memset(s, 0, sizeof(*s));
	snprintf(s->dir, sizeof(s->dir), "/tmp/kith-alert-XXXXXX");
	if (!mkdtemp(s->dir) || pipe(fds) != 0)
		return -1;
	script_path(script, sizeof(script));
	fflush(stdout);
	s->pid = fork();
	if (s->pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		if (user)
			execl(PYTHON, "python3", script, mode, s->dir, user, pass, (char *)NULL);
		else
			execl(PYTHON, "python3", script, mode, s->dir, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	s->port = s->pid > 0 ? read_port(fds[0]) : -1;
	close(fds[0]);
	return s->port > 0 ? 0 : -1;
}

static void server_stop(struct server *s)
{
	DIR *d;
	struct dirent *e;
	char path[384];

	if (s->pid > 0) {
		kill(s->pid, SIGTERM);
		waitpid(s->pid, NULL, 0);
	}
	d = opendir(s->dir);
	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", s->dir, e->d_name);
		unlink(path);
	}
	if (d)
		closedir(d);
	rmdir(s->dir);
}

static int count_files(const struct server *s, const char *prefix)
{
	DIR *d = opendir(s->dir);
	struct dirent *e;
	int n = 0;

	while (d && (e = readdir(d)))
		if (!strncmp(e->d_name, prefix, strlen(prefix)) && !strstr(e->d_name, ".tmp"))
			n++;
	if (d)
		closedir(d);
	return n;
}

/* The n-th file (from 1) the server wrote: malloc'd text or NULL. */
static char *record(const struct server *s, const char *prefix, int n)
{
	char path[128], *buf = NULL;
	FILE *f;
	long len;

	snprintf(path, sizeof(path), "%s/%s-%03d", s->dir, prefix, n);
	f = fopen(path, "r");
	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
		buf = calloc(1, (size_t)len + 1);
		if (buf && fread(buf, 1, (size_t)len, f) != (size_t)len) {
			free(buf);
			buf = NULL;
		}
	}
	fclose(f);
	return buf;
}

/* True when rec holds line as a whole line. */
static int has_line(const char *rec, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = rec; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, line, n) && (p[n] == '\n' || p[n] == '\0'))
			return 1;
	return 0;
}

/* The value of key in rec (up to the end of its line), copied into out. */
static const char *value(const char *rec, const char *key, char *out, size_t n)
{
	char want[64];
	const char *p;

	snprintf(want, sizeof(want), "\n%s=", key);
	out[0] = '\0';
	p = rec ? strstr(rec, want) : NULL;
	if (p) {
		p += strlen(want);
		snprintf(out, n, "%.*s", (int)strcspn(p, "\n"), p);
	}
	return out;
}

/* Runs the loop until sent + failed + dropped reaches want, or too long. */
static void wait_settled(struct alert *a, uint64_t want)
{
	uint64_t end = loop_clock_ms() + WAIT_MS;
	struct alert_stats st;

	for (int i = 0; i < 100000 && loop_clock_ms() < end; i++) {
		alert_get_stats(a, &st);
		if (st.sent + st.failed + st.dropped >= want)
			return;
		loop_once(loop, 50);
	}
}

/* Runs the loop for ms more, for what should not happen. */
static void run_for(uint64_t ms)
{
	uint64_t end = loop_clock_ms() + ms;

	for (int i = 0; i < 1000 && loop_clock_ms() < end; i++)
		loop_once(loop, 20);
}

/* stderr into a file, to look at what was logged. */
static int saved_stderr = -1;
static char capture_path[64];

static void capture_begin(void)
{
	int fd;

	snprintf(capture_path, sizeof(capture_path), "/tmp/kith-alert-log-XXXXXX");
	fd = mkstemp(capture_path);
	fflush(stderr);
	saved_stderr = dup(2);
	if (fd >= 0) {
		dup2(fd, 2);
		close(fd);
	}
}

static char *capture_end(void)
{
	FILE *f;
	char *buf = calloc(1, 65536);

	fflush(stderr);
	dup2(saved_stderr, 2);
	close(saved_stderr);
	f = fopen(capture_path, "r");
	if (f && buf)
		buf[fread(buf, 1, 65535, f)] = '\0';
	if (f)
		fclose(f);
	unlink(capture_path);
	fputs(buf ? buf : "", stderr); /* still shown in the test's output */
	return buf;
}

static void alerts_conf(struct conf *c)
{
	conf_defaults(c, CONF_PROFILE_LAN);
	c->alert_retries = 2;
	c->alert_retry_ms = 50;
}

static const struct alert_message down = {
    .subject = "[kith] web is down",
    .text = "Service web of Example Co is down.\r\nSeen by 3 observers.\n.\n.hidden line\n"
            "\x01tab\there\nend",
    .kind = "verdict",
    .owner = "ABCD-EFGH",
    .owner_name = "Example Co",
    .service = "web",
    .state = "down",
    .previous = "up",
    .since = 1700000000,
};

static void test_contacts(void)
{
	static const char *const good[] = {
	    "mailto:ops@example.org",
	    "mailto:first.last+kith@mail.example.co.uk",
	    "MAILTO:root@localhost",
	    "https://hooks.example.org/services/T0/B0/xyz?a=1&b=2",
	    "http://127.0.0.1:8080/hook",
	    "matrix:!AbCdEf:example.org",
	    "matrix:!room:matrix.example.org:8448",
	    "ntfy:https://ntfy.sh/kith_alerts-1",
	    "ntfy:http://127.0.0.1:8080/topic",
	};
	static const char *const bad[] = {
	    "",
	    "ops@example.org",
	    "mailto:",
	    "mailto:ops@example.org\r\nBcc: victim@example.net",
	    "mailto:ops@example.org\nSubject: spam",
	    "mailto:ops@example.org\r",
	    "mailto:<ops@example.org>",
	    "mailto:ops@example.org>\r\nRCPT TO:<x@y>",
	    "mailto:Ops <ops@example.org>",
	    "mailto:ops @example.org",
	    "mailto:ops@exa mple.org",
	    "mailto:ops@@example.org",
	    "mailto:a@b@example.org",
	    "mailto:@example.org",
	    "mailto:ops@",
	    "mailto:ops@example..org",
	    "mailto:.ops@example.org",
	    "mailto:o..ps@example.org",
	    "mailto:ops@-example.org",
	    "mailto:ops@example.org,evil@example.net",
	    "mailto:ops@example.org;evil@example.net",
	    "mailto:ops@example.org?cc=evil@example.net",
	    "mailto:ops%40example.org",
	    "mailto:\"ops\"@example.org",
	    "mailto:op\x7fs@example.org",
	    "mailto:opé@example.org",
	    "mailto:ops@exämple.org",
	    "https://example.org/hook\r\nX-Evil: 1",
	    "https://example.org/ho ok",
	    "https://",
	    "https://:443/x",
	    "ftp://example.org/x",
	    "javascript:alert(1)",
	    "matrix:#alias:example.org",
	    "matrix:!room",
	    "matrix:!:example.org",
	    "matrix:!room:",
	    "matrix:!ro om:example.org",
	    "matrix:!room:exa/mple.org",
	    "ntfy:https://ntfy.sh/",
	    "ntfy:https://ntfy.sh/bad.topic",
	    "ntfy:ftp://ntfy.sh/topic",
	    "ntfy:ntfy.sh/topic",
	};
	char longer[600];
	const char *why = NULL;
	int all = 1;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (alert_contact_check(good[i], &why) != 0) {
			printf("# refused %s: %s\n", good[i], why);
			all = 0;
		}
	ok(all, "good contacts are accepted");
	all = 1;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		if (alert_contact_check(bad[i], &why) != KITH_EVALUE || !why || !why[0]) {
			printf("# accepted or no reason: %s\n", bad[i]);
			all = 0;
		}
	}
	ok(all,
	   "bad contacts (header injection, bad schemes, bad rooms) are refused with a reason");
	memset(longer, 'a', sizeof(longer));
	memcpy(longer, "https://example.org/", 20);
	longer[sizeof(longer) - 1] = '\0';
	is(alert_contact_check(longer, &why), KITH_EVALUE, "a contact over 511 bytes is refused");
	is(alert_contact_check(NULL, NULL), KITH_EVALUE, "NULL contact, NULL why");
}

static void test_unconfigured(void)
{
	struct conf c;
	struct alert *a = NULL;
	struct alert_stats st;

	alerts_conf(&c);
	is(alert_new(&a, loop, web, &c), 0, "alert_new");
	is(alert_send(a, "mailto:ops@example.org", &down, false), KITH_EVALUE,
	   "mail without smtp_url and smtp_from is refused");
	snprintf(c.smtp_url, sizeof(c.smtp_url), "http://127.0.0.1:1");
	snprintf(c.smtp_from, sizeof(c.smtp_from), "kith@example.org");
	is(alert_send(a, "mailto:ops@example.org", &down, false), KITH_EVALUE,
	   "smtp_url of another scheme is refused");
	snprintf(c.smtp_url, sizeof(c.smtp_url), "smtp://127.0.0.1:1");
	snprintf(c.smtp_from, sizeof(c.smtp_from), "kith@example.org\nBcc: x@y");
	is(alert_send(a, "mailto:ops@example.org", &down, false), KITH_EVALUE,
	   "a smtp_from that is not a plain address is refused");
	is(alert_send(a, "matrix:!room:example.org", &down, false), KITH_EVALUE,
	   "matrix without homeserver and token is refused");
	snprintf(c.matrix_homeserver, sizeof(c.matrix_homeserver), "https://m.example.org");
	is(alert_send(a, "matrix:!room:example.org", &down, false), KITH_EVALUE,
	   "matrix without a token is refused");
	is(alert_send(a, "gopher://example.org", &down, false), KITH_EVALUE,
	   "unknown scheme is refused");
	alert_get_stats(a, &st);
	ok(st.queued == 0 && st.pending == 0, "nothing was queued");
	alert_free(&a);
	ok(a == NULL, "alert_free clears the pointer");
	alert_free(&a);
}

static void check_mail_common(const char *rec, const char *to)
{
	char line[128], v[256];

	ok(has_line(rec, "mail_from=\"kith@example.org\""), "MAIL FROM is smtp_from");
	snprintf(line, sizeof(line), "rcpt=\"%s\"", to);
	ok(has_line(rec, line), "RCPT TO is the contact, only");
	ok(has_line(rec, "from=\"kith <kith@example.org>\""), "From: header");
	snprintf(line, sizeof(line), "to=\"%s\"", to);
	ok(has_line(rec, line), "To: header");
	ok(has_line(rec, "date_utc=true"), "Date: parses, in UTC");
	value(rec, "message_id", v, sizeof(v));
	ok(strlen(v) == 2 + 1 + 32 + 6 && !strncmp(v, "\"<", 2) && strstr(v, "@kith>\""),
	   "Message-ID is <32 hex digits@kith>");
	ok(has_line(rec, "mime_version=\"1.0\"") &&
	       has_line(rec, "content_type=\"text/plain;utf-8\"") && has_line(rec, "cte=\"8bit\""),
	   "MIME-Version, Content-Type text/plain utf-8, 8bit");
	ok(has_line(rec, "bare_lf=false") && has_line(rec, "defects=0"),
	   "CRLF line endings only, no defects");
}

static void test_mail(void)
{
	struct server smtp;
	struct conf c;
	struct alert *a = NULL;
	struct alert_stats st;
	struct alert_message intl = down;
	char *r1 = NULL, *r2 = NULL, *tmp;

	intl.text = ".first line starts with a dot\n..and this one with two";
	intl.subject =
	    "[kith] Dienst «web» ist ausgefallen — 🚨 ça ne marche plus, vraiment pas du tout";
	if (!ok(server_start(&smtp, "smtp", NULL, NULL) == 0, "SMTP server started")) {
		server_stop(&smtp);
		return;
	}
	alerts_conf(&c);
	snprintf(c.smtp_url, sizeof(c.smtp_url), "smtp://127.0.0.1:%d", smtp.port);
	snprintf(c.smtp_from, sizeof(c.smtp_from), "kith@example.org");
	c.smtp_tls = CONF_TLS_TRY; /* the server offers no STARTTLS: plain */
	alert_new(&a, loop, web, &c);
	is(alert_send(a, "mailto:ops@example.org", &down, false), 0, "mail alert queued");
	is(alert_send(a, "mailto:admin@example.net", &intl, false), 0, "second mail alert queued");
	wait_settled(a, 2);
	alert_get_stats(a, &st);
	ok(st.sent == 2 && st.failed == 0 && st.retried == 0 && st.pending == 0,
	   "both mails sent at the first attempt");
	run_for(100);
	is(count_files(&smtp, "mail"), 2, "the server received exactly two messages");
	/* They may arrive in either order. */
	r1 = record(&smtp, "mail", 1);
	r2 = record(&smtp, "mail", 2);
	if (r1 && r2 && strstr(r1, "admin@example.net")) {
		tmp = r1, r1 = r2, r2 = tmp;
	}
	if (r1 && r2) {
		check_mail_common(r1, "ops@example.org");
		ok(has_line(r1, "subject=\"[kith] web is down\"") &&
		       has_line(r1, "subject_raw=\"[kith] web is down\""),
		   "an ASCII subject is written as is");
		ok(has_line(
		       r1,
		       "body=\"Service web of Example Co is down.\\r\\nSeen by 3 observers.\\r\\n"
		       ".\\r\\n.hidden line\\r\\n tab\\there\\r\\nend\\r\\n\""),
		   "body arrives whole: lines of one dot and leading dots survive (libcurl "
		   "stuffs, the server unstuffs, nothing doubled), control character blanked");
		check_mail_common(r2, "admin@example.net");
		ok(has_line(r2, "subject=\"[kith] Dienst \\u00abweb\\u00bb ist ausgefallen \\u2014 "
		                "\\ud83d\\udea8 \\u00e7a ne marche plus, vraiment pas du tout\""),
		   "a UTF-8 subject decodes back to itself");
		ok(strstr(r2, "subject_raw=\"=?UTF-8?B?") && strstr(r2, "?=\\r\\n =?UTF-8?B?"),
		   "it is sent as folded RFC 2047 encoded words");
		ok(has_line(r2, "body=\".first line starts with a dot\\r\\n..and this one with "
		                "two\\r\\n\""),
		   "a body starting with a dot, a line starting with two: unchanged");
	} else {
		ok(0, "messages readable");
	}
	free(r1);
	free(r2);
	alert_free(&a);
	server_stop(&smtp);
}

static void test_mail_auth(void)
{
	struct server smtp;
	struct conf c;
	struct alert *a = NULL;
	struct alert_stats st;
	char *r, *log;

	if (!ok(server_start(&smtp, "smtp", "kith", "s3cret-pw") == 0, "SMTP server with AUTH")) {
		server_stop(&smtp);
		return;
	}
	alerts_conf(&c);
	snprintf(c.smtp_url, sizeof(c.smtp_url), "smtp://127.0.0.1:%d", smtp.port);
	snprintf(c.smtp_from, sizeof(c.smtp_from), "kith@example.org");
	snprintf(c.smtp_user, sizeof(c.smtp_user), "kith");
	snprintf(c.smtp_password, sizeof(c.smtp_password), "s3cret-pw");
	c.smtp_tls = CONF_TLS_NEVER;
	alert_new(&a, loop, web, &c);
	alert_send(a, "mailto:ops@example.org", &down, false);
	wait_settled(a, 1);
	alert_get_stats(a, &st);
	is(st.sent, 1, "mail sent with user and password");
	r = record(&smtp, "mail", 1);
	ok(r && has_line(r, "auth=\"kith\""), "the server saw the login");
	free(r);
	alert_free(&a);

	snprintf(c.smtp_password, sizeof(c.smtp_password), "wrong-pw-zz");
	capture_begin();
	alert_new(&a, loop, web, &c);
	alert_send(a, "mailto:ops@example.org", &down, false);
	wait_settled(a, 1);
	alert_get_stats(a, &st);
	alert_free(&a);
	log = capture_end();
	ok(st.sent == 0 && st.failed == 1 && st.retried == 2,
	   "a refused login: retried, then failed");
	ok(log && strstr(log, "retry 1 of 2") && strstr(log, "given up"),
	   "failures and the give-up are logged");
	ok(log && strstr(log, "in clear"), "a password without TLS is warned about");
	ok(log && !strstr(log, "wrong-pw-zz") && !strstr(log, "s3cret"), "no password in the log");
	free(log);
	is(count_files(&smtp, "mail"), 1, "nothing more arrived");
	server_stop(&smtp);
}

static void test_starttls_required(void)
{
	struct server smtp;
	struct conf c;
	struct alert *a = NULL;
	struct alert_stats st;
	uint64_t t0;

	if (!ok(server_start(&smtp, "smtp", NULL, NULL) == 0, "SMTP server without TLS")) {
		server_stop(&smtp);
		return;
	}
	alerts_conf(&c);
	snprintf(c.smtp_url, sizeof(c.smtp_url), "smtp://127.0.0.1:%d", smtp.port);
	snprintf(c.smtp_from, sizeof(c.smtp_from), "kith@example.org");
	c.smtp_tls = CONF_TLS_ALWAYS;
	c.alert_retry_ms = 100;
	alert_new(&a, loop, web, &c);
	t0 = loop_clock_ms();
	alert_send(a, "mailto:ops@example.org", &down, false);
	wait_settled(a, 1);
	alert_get_stats(a, &st);
	ok(st.failed == 1 && st.retried == 2 && st.sent == 0 && st.pending == 0,
	   "smtp_tls = always against a server without STARTTLS: 2 retries, then failed");
	ok(loop_clock_ms() - t0 >= 300, "retries waited 100 then 200 ms (doubling)");
	is(count_files(&smtp, "mail"), 0, "no mail went out in clear");
	alert_free(&a);
	server_stop(&smtp);
}

static const struct alert_message hostile = {
    .subject = "web \"quoted\" \\ back",
    .text = "line1\nline2\ttab\x01"
            "ctl \xc3\xa9 \xff end",
    .kind = "verdict",
    .owner = "ABCD-EFGH",
    .owner_name = "Caf\xc3 Coop",
    .service = "web",
    .state = "down",
    .previous = "degraded",
    .since = 1700000000,
};

static void test_webhook(const struct server *http)
{
	struct conf c;
	struct alert *a = NULL;
	struct alert_stats st;
	char url[128], *r, *r2;
	int before = count_files(http, "req");

	alerts_conf(&c);
	alert_new(&a, loop, web, &c);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/hook", http->port);
	is(alert_send(a, url, &hostile, false), 0, "webhook queued");
	wait_settled(a, 1);
	alert_get_stats(a, &st);
	ok(st.sent == 1 && st.retried == 0, "webhook sent");
	r = record(http, "req", before + 1);
	ok(r && has_line(r, "method=\"POST\"") && has_line(r, "path=\"/hook\""),
	   "POST to the path");
	ok(r && has_line(r, "header-content-type=\"application/json\""), "Content-Type JSON");
	ok(r && has_line(r, "header-expect=\"\""), "no Expect: 100-continue");
	ok(r && has_line(r, "json_ok=true") && has_line(r, "body_utf8=true"),
	   "the body parses as a JSON object, in valid UTF-8");
	ok(r && has_line(r, "json.kind=\"verdict\"") && has_line(r, "json.owner=\"ABCD-EFGH\"") &&
	       has_line(r, "json.service=\"web\"") && has_line(r, "json.state=\"down\"") &&
	       has_line(r, "json.previous=\"degraded\"") && has_line(r, "json.since=1700000000"),
	   "fields kind, owner, service, state, previous, since");
	ok(r && has_line(r, "json.subject=\"web \\\"quoted\\\" \\\\ back\""),
	   "quotes and backslashes escaped");
	ok(r && has_line(r, "json.text=\"line1\\nline2\\ttab ctl \\u00e9 \\ufffd end\""),
	   "newline and tab kept, control character blanked, bad byte U+FFFD");
	ok(r && has_line(r, "json.owner_name=\"Caf\\ufffd Coop\""),
	   "a cut UTF-8 sequence is replaced");
	free(r);

	/* 500 first, then 200: one retry, one success, the same body twice. */
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/hook/flaky", http->port);
	alert_send(a, url, &down, false);
	wait_settled(a, 2);
	run_for(100);
	alert_get_stats(a, &st);
	ok(st.sent == 2 && st.retried == 1 && st.failed == 0, "500 then 200: one retry, sent once");
	is(count_files(http, "req"), before + 3, "the server saw exactly two more requests");
	r = record(http, "req", before + 2);
	r2 = record(http, "req", before + 3);
	ok(r && r2 && has_line(r, "status=500") && has_line(r2, "status=200") &&
	       !strcmp(strstr(r, "\nheader-"), strstr(r2, "\nheader-")),
	   "the retry is the same request");
	free(r);
	free(r2);

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/broken", http->port);
	alert_send(a, url, &down, false);
	wait_settled(a, 3);
	run_for(100);
	alert_get_stats(a, &st);
	ok(st.failed == 1 && st.retried == 3 && st.pending == 0, "always 500: 2 retries, failed");
	is(count_files(http, "req"), before + 6, "three attempts reached the server");
	alert_free(&a);
}

/* Another member's webhook, with refuse_private: never a private address,
 * never through a proxy; our own contacts may be private. */
static void test_guard(const struct server *http)
{
	struct conf c;
	struct alert *a = NULL;
	struct alert_stats st;
	char url[128];
	int before = count_files(http, "req");

	alerts_conf(&c);
	c.refuse_private = 1;
	alert_new(&a, loop, web, &c);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/hook", http->port);
	/* Followed, this proxy (a documentation address) would swallow the
	 * request and hold it until the timeout. */
	setenv("http_proxy", "http://192.0.2.1:9", 1);
	is(alert_send(a, url, &down, true), 0, "another member's webhook queued");
	wait_settled(a, 1);
	alert_get_stats(a, &st);
	ok(st.failed == 1 && st.retried == 0 && st.sent == 0,
	   "to 127.0.0.1 for another member: given up at once, no retry");
	is(count_files(http, "req"), before, "the local server saw nothing");
	unsetenv("http_proxy");
	snprintf(url, sizeof(url), "ntfy:http://127.0.0.1:%d/topic", http->port);
	alert_send(a, url, &down, true);
	wait_settled(a, 2);
	alert_get_stats(a, &st);
	ok(st.failed == 2 && st.sent == 0, "another member's ntfy to 127.0.0.1: given up");
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/hook", http->port);
	alert_send(a, url, &down, false);
	wait_settled(a, 3);
	alert_get_stats(a, &st);
	ok(st.sent == 1 && count_files(http, "req") == before + 1,
	   "our own contact on 127.0.0.1 is reached");
	alert_free(&a);
}

static void test_matrix(const struct server *http)
{
	struct conf c;
	struct alert *a = NULL;
	struct alert_stats st;
	char *r, *r2, *log, p1[256], p2[256];
	int before = count_files(http, "req");
	static const char prefix[] =
	    "path=\"/_matrix/client/v3/rooms/%21flaky%3Aexample.org/send/m.room.message/kith";

	alerts_conf(&c);
	snprintf(c.matrix_homeserver, sizeof(c.matrix_homeserver), "http://127.0.0.1:%d/",
	         http->port);
	snprintf(c.matrix_token, sizeof(c.matrix_token), "syt_secret_token_123");
	capture_begin();
	alert_new(&a, loop, web, &c);
	is(alert_send(a, "matrix:!flaky:example.org", &down, false), 0, "matrix alert queued");
	wait_settled(a, 1);
	run_for(100);
	alert_get_stats(a, &st);
	alert_free(&a);
	log = capture_end();
	ok(st.sent == 1 && st.retried == 1, "matrix: 500, then sent on the retry");
	is(count_files(http, "req"), before + 2, "two PUTs");
	r = record(http, "req", before + 1);
	r2 = record(http, "req", before + 2);
	ok(r && has_line(r, "method=\"PUT\"") && strstr(r, prefix),
	   "PUT to /_matrix/client/v3/rooms/{escaped room}/send/m.room.message/{txn}");
	value(r, "path", p1, sizeof(p1));
	value(r2, "path", p2, sizeof(p2));
	ok(strlen(p1) == strlen(prefix) - strlen("path=") + 32 + 1 && !strcmp(p1, p2),
	   "the retry keeps its transaction ID (Matrix drops a duplicate)");
	ok(r && has_line(r, "header-authorization=\"Bearer syt_secret_token_123\""),
	   "Authorization: Bearer token");
	ok(r && has_line(r, "json_ok=true") && has_line(r, "json.msgtype=\"m.text\""), "m.text");
	ok(r &&
	       has_line(r, "json.body=\"[kith] web is down\\nService web of Example Co is "
	                   "down.\\nSeen by 3 observers.\\n.\\n.hidden line\\n tab\\there\\nend\""),
	   "body is the subject, a newline, the text");
	ok(log && strstr(log, "matrix room !flaky:example.org") && !strstr(log, "syt_secret"),
	   "the failure is logged, the token never");
	free(log);
	free(r);
	free(r2);
}

static void test_ntfy(const struct server *http)
{
	struct conf c;
	struct alert *a = NULL;
	struct alert_stats st;
	struct alert_message m = down;
	char contact[128], *r;
	int before = count_files(http, "req");

	m.subject = "Dienst «web» ist ausgefallen";
	alerts_conf(&c);
	alert_new(&a, loop, web, &c);
	snprintf(contact, sizeof(contact), "ntfy:http://127.0.0.1:%d/kith_alerts", http->port);
	is(alert_send(a, contact, &m, false), 0, "ntfy alert queued");
	wait_settled(a, 1);
	alert_get_stats(a, &st);
	is(st.sent, 1, "ntfy sent");
	r = record(http, "req", before + 1);
	ok(r && has_line(r, "method=\"POST\"") && has_line(r, "path=\"/kith_alerts\""),
	   "POST to the topic");
	ok(r && strstr(r, "header-title=\"=?UTF-8?B?") &&
	       has_line(r, "title_decoded=\"Dienst \\u00abweb\\u00bb ist ausgefallen\""),
	   "Title: the subject, RFC 2047-encoded");
	ok(r && has_line(r, "header-tags=\"down\""), "Tags: the state");
	ok(r && has_line(r, "body=\"Dienst \\u00abweb\\u00bb ist ausgefallen\\nService web of "
	                    "Example Co is down.\\nSeen by 3 observers.\\n.\\n.hidden line\\n "
	                    "tab\\there\\nend\""),
	   "body: subject line, then the text");
	free(r);
	alert_free(&a);
}

/* web_submit() saying -EBUSY is no failure: the alert waits its turn. */
static void test_busy(const struct server *http)
{
	struct conf c;
	struct alert *a = NULL;
	struct alert_stats st;
	char url[128];
	int before = count_files(http, "req");

	alerts_conf(&c);
	alert_new(&a, loop, web, &c);
	web_set_max_in_flight(web, 1);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/busy", http->port);
	for (int i = 0; i < 3; i++)
		alert_send(a, url, &down, false);
	wait_settled(a, 3);
	alert_get_stats(a, &st);
	ok(st.sent == 3 && st.retried == 0 && st.failed == 0,
	   "one transfer at a time: all three sent, no retry counted");
	is(count_files(http, "req"), before + 3, "three requests");
	web_set_max_in_flight(web, 256);
	alert_free(&a);
}

/* A port nothing listens on. */
static int closed_port(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = 1;

	if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
		port = ntohs(sa.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

static void test_bound(void)
{
	struct conf c;
	struct alert *a = NULL;
	struct alert_stats st;
	char url[64];
	int queued = 0;

	alerts_conf(&c);
	c.alert_retry_ms = 60000; /* failed attempts then wait: they stay pending */
	alert_new(&a, loop, web, &c);
	alert_set_max_pending(a, 3);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/x", closed_port());
	for (int i = 0; i < 5; i++)
		queued += alert_send(a, url, &down, false) == 0;
	alert_get_stats(a, &st);
	ok(queued == 5 && st.pending == 3 && st.dropped == 2 && st.queued == 5,
	   "beyond the limit the oldest pending alerts are dropped");
	run_for(300);
	alert_get_stats(a, &st);
	ok(st.pending == 3 && st.retried == 3 && st.sent == 0,
	   "the refused connections wait for their retry");
	alert_free(&a); /* cancels and frees what waits; ASan checks the rest */
	ok(a == NULL, "pending alerts abandoned on free");
}

int main(void)
{
	struct server http;

	signal(SIGPIPE, SIG_IGN);
	log_init("test_alert", LOG_LEVEL_DEBUG, false);
	test_contacts();
	if (loop_new(&loop) != 0 || web_new(&web, loop) != 0) {
		ok(0, "loop and web");
		return tap_done();
	}
	test_unconfigured();
	test_mail();
	test_mail_auth();
	test_starttls_required();
	if (ok(server_start(&http, "http", NULL, NULL) == 0, "HTTP server started")) {
		test_webhook(&http);
		test_guard(&http);
		test_matrix(&http);
		test_ntfy(&http);
		test_busy(&http);
	}
	server_stop(&http);
	test_bound();
	web_free(&web);
	loop_free(&loop);
	return tap_done();
}
