/* RFC 2136 updates against a real knotd started here, through the agent's
 * loop and the non-blocking client (agent/dns/dns_tcp.c) with messages of
 * dns/update.c and replies read by dns/reply.c: the compare-and-swap that
 * succeeds and the one that finds another value (NXRRSET), every error an
 * admin can make with a key (BADSIG, BADKEY, an unauthorised key), a name
 * outside the zone (NOTZONE), a TXT round trip; then the client alone: a
 * closed port, a server that never answers, a cancelled exchange.
 *
 * knotd is looked up on PATH and in /usr/sbin; without it the test fails
 * (tools/setup test installs knot). It runs as the current user from a
 * temporary directory holding its configuration, zone and databases,
 * listening on 127.0.0.1 and a free port, and is killed at the end. Every
 * wait is bounded. */
#define _XOPEN_SOURCE 700 /* nftw() */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <ldns/ldns.h>
#include <sodium.h>
#include <zmq.h>

#include "agent/core/loop.h"
#include "agent/dns/dns_job.h"
#include "agent/dns/dns_tcp.h"
#include "dns/cred.h"
#include "dns/reply.h"
#include "dns/update.h"
#include "proto/error.h"
#include "tap.h"
#include "rm_tree.h"

#define ZONE "example.test"
#define NAME "www.example.test"
#define TIMEOUT_MS 3000
#define READY_TRIES 100 /* of 100 ms: knotd loads one small zone */

struct knot {
	pid_t pid;
	int port;
	char dir[64];
	char secret[DNS_CRED_SECRET_B64_MAX + 1];       /* kith-update's */
	char other_secret[DNS_CRED_SECRET_B64_MAX + 1]; /* kith-other's */
};

struct result {
	bool done;
	int calls;
	int err;
	size_t len;
	uint8_t reply[DNS_TCP_REPLY_MAX];
};

static struct loop *loop;
static struct knot knot;
static struct sockaddr_storage server;
static struct dns_cred cred;

static void sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};

	nanosleep(&ts, NULL);
}

static const char *find_knotd(void)
{
	static char path[512];
	const char *env = getenv("PATH");
	char dirs[2048];

	snprintf(dirs, sizeof(dirs), "%s:/usr/sbin:/usr/local/sbin", env ? env : "");
	for (char *save = NULL, *d = strtok_r(dirs, ":", &save); d;
	     d = strtok_r(NULL, ":", &save)) {
		snprintf(path, sizeof(path), "%s/knotd", d);
		if (access(path, X_OK) == 0)
			return path;
	}
	return NULL;
}

static void random_secret(char *out, size_t cap)
{
	uint8_t key[32];

	randombytes_buf(key, sizeof(key));
	sodium_bin2base64(out, cap, key, sizeof(key), sodium_base64_VARIANT_ORIGINAL);
}

/* A port of 127.0.0.1 nothing listens on now. */
static int free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	if (fd >= 0 && !bind(fd, (struct sockaddr *)&a, sizeof(a)) &&
	    !getsockname(fd, (struct sockaddr *)&a, &len))
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

static int write_file(const char *dir, const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f);
}

static int write_config(const struct knot *k)
{
	struct passwd *pw = getpwuid(getuid());
	struct group *gr = getgrgid(getgid());
	char conf[4096];

	if (!pw || !gr)
		return -1;
	snprintf(conf, sizeof(conf),
	         "server:\n  rundir: \"%s\"\n  listen: 127.0.0.1@%d\n  user: %s:%s\n"
	         "  pidfile: \"%s/knot.pid\"\n"
	         "log:\n  - target: stderr\n    any: info\n"
	         "database:\n  storage: \"%s\"\n"
	         "key:\n  - id: kith-update\n    algorithm: hmac-sha256\n    secret: %s\n"
	         "  - id: kith-other\n    algorithm: hmac-sha256\n    secret: %s\n"
	         "acl:\n  - id: kith\n    key: kith-update\n    action: update\n"
	         "template:\n  - id: default\n    storage: \"%s\"\n    zonefile-sync: -1\n"
	         "zone:\n  - domain: " ZONE "\n    file: \"%s/" ZONE ".zone\"\n    acl: kith\n",
	         k->dir, k->port, pw->pw_name, gr->gr_name, k->dir, k->dir, k->secret,
	         k->other_secret, k->dir, k->dir);
	return write_file(k->dir, "knot.conf", conf);
}

static const char zone_text[] = "$ORIGIN " ZONE ".\n$TTL 60\n"
                                "@ SOA ns hostmaster 1 3600 600 86400 60\n"
                                "@ NS ns\nns A 192.0.2.1\nwww A 192.0.2.10\n"
                                "old DNAME elsewhere.test.\n";

static int knot_start(struct knot *k, const char *knotd)
{
	char conf[128], log[128];

	snprintf(k->dir, sizeof(k->dir), "/tmp/kith-dns-XXXXXX");
	if (!mkdtemp(k->dir))
		return -1;
	random_secret(k->secret, sizeof(k->secret));
	random_secret(k->other_secret, sizeof(k->other_secret));
	k->port = free_port();
	if (k->port < 0 || write_config(k) || write_file(k->dir, ZONE ".zone", zone_text))
		return -1;
	snprintf(conf, sizeof(conf), "%s/knot.conf", k->dir);
	snprintf(log, sizeof(log), "%s/knotd.log", k->dir);
	fflush(stdout);
	k->pid = fork();
	if (k->pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the test */
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execl(knotd, "knotd", "-c", conf, (char *)NULL);
		_exit(127);
	}
	return k->pid > 0 ? 0 : -1;
}

/* Prints knotd's log as TAP comments, for a failure. */
static void knot_log(const struct knot *k)
{
	char path[128], line[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/knotd.log", k->dir);
	if (!(f = fopen(path, "r")))
		return;
	while (fgets(line, sizeof(line), f))
		printf("# knotd: %s", line);
	fclose(f);
}

/* SIGTERM, up to 5 s for it to end, then SIGKILL. */
static void knot_stop(struct knot *k)
{
	int status;

	if (k->pid > 0) {
		kill(k->pid, SIGTERM);
		for (int i = 0; i < 100 && waitpid(k->pid, &status, WNOHANG) == 0; i++)
			sleep_ms(50);
		if (kill(k->pid, 0) == 0) {
			kill(k->pid, SIGKILL);
			waitpid(k->pid, &status, 0);
		}
	}
	if (k->dir[0])
		rm_tree(k->dir);
}

static void on_done(struct dns_tcp *x, void *arg, int err, const uint8_t *reply, size_t len)
{
	struct result *r = arg;

	(void)x;
	r->calls++;
	r->done = true;
	r->err = err;
	r->len = len;
	if (!err)
		memcpy(r->reply, reply, len);
}

/* Runs the loop until r is done or limit_ms has passed. */
static void run_until(struct result *r, uint64_t limit_ms)
{
	uint64_t end = loop_clock_ms() + limit_ms;

	while (!r->done && loop_clock_ms() < end)
		loop_once(loop, 50);
}

/* One exchange with to; returns the client's error (or -ETIME when no
 * callback came within the timeout and a margin). */
static int exchange(const struct sockaddr_storage *to, const uint8_t *msg, size_t len,
                    uint64_t timeout_ms, struct result *r)
{
	struct dns_tcp x = {0};
	int rc;

	memset(r, 0, sizeof(*r));
	if ((rc = dns_tcp_start(&x, loop, to, msg, len, timeout_ms, on_done, r)))
		return rc;
	run_until(r, timeout_ms + 2000);
	if (!r->done) {
		dns_tcp_cancel(&x);
		return -ETIME;
	}
	return r->err;
}

/* Sends req to knotd, reads the reply into *out; returns the client's
 * error or dns_reply_parse()'s. */
static int ask(struct dns_request *req, const struct dns_cred *c, struct dns_reply *out)
{
	static struct result r;
	int rc = exchange(&server, req->wire, req->wire_len, TIMEOUT_MS, &r);

	memset(out, 0, sizeof(*out));
	if (!rc)
		rc = dns_reply_parse(out, req, c, r.reply, r.len);
	dns_request_clear(req);
	return rc;
}

/* The A (AF_INET) or AAAA records of NAME now, read with a signed query. */
static int current(int family, struct dns_reply *out)
{
	struct dns_request req;
	int rc = dns_query_addrs(&req, &cred, NAME, family);

	return rc ? rc : ask(&req, &cred, out);
}

static struct dns_addrs v4(uint8_t a, uint8_t b)
{
	struct dns_addrs s = {.family = AF_INET, .n = b ? 2 : 1};
	uint8_t x[4] = {192, 0, 2, a}, y[4] = {192, 0, 2, b};

	memcpy(s.addr[0], x, 4);
	memcpy(s.addr[1], y, 4);
	return s;
}

static bool holds(const struct dns_reply *r, uint8_t a, uint8_t b)
{
	size_t n = b ? 2 : 1;
	bool has_a = false, has_b = !b;

	if (r->result != DNS_RESULT_OK || r->addrs.n != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		has_a |= r->addrs.addr[i][3] == a;
		has_b |= b && r->addrs.addr[i][3] == b;
	}
	return has_a && has_b;
}

static void show(int rc, const struct dns_reply *r)
{
	printf("#   rc %d (%s), result %s, why \"%s\"\n", rc, proto_strerror(rc),
	       dns_result_name(r->result), r->why);
}

static bool wait_ready(void)
{
	struct dns_reply r;

	for (int i = 0; i < READY_TRIES; i++) {
		if (current(AF_INET, &r) == 0 && r.result == DNS_RESULT_OK)
			return true;
		sleep_ms(100);
	}
	return false;
}

static void test_read_and_swap(void)
{
	struct dns_request req;
	struct dns_reply r;
	struct dns_addrs old = v4(10, 0), next = v4(20, 21);
	int rc;

	rc = current(AF_INET, &r);
	ok(rc == 0 && holds(&r, 10, 0) && r.ttl == 60, "query: www holds 192.0.2.10, TTL 60");
	dns_update_replace(&req, &cred, ZONE, NAME, &old, &next, 30);
	rc = ask(&req, &cred, &r);
	if (!ok(rc == 0 && r.result == DNS_RESULT_OK, "CAS from the right value: NOERROR"))
		show(rc, &r);
	rc = current(AF_INET, &r);
	ok(rc == 0 && holds(&r, 20, 21) && r.ttl == 30, "a fresh query shows the new set and TTL");

	dns_update_replace(&req, &cred, ZONE, NAME, &old, &old, 30);
	rc = ask(&req, &cred, &r);
	if (!ok(rc == 0 && r.result == DNS_RESULT_NXRRSET &&
	            strstr(r.why, "no longer holds the expected value: someone changed it"),
	        "CAS from a wrong value: NXRRSET, said plainly"))
		show(rc, &r);
	rc = current(AF_INET, &r);
	ok(rc == 0 && holds(&r, 20, 21), "and nothing changed");

	old = v4(20, 0);
	dns_update_replace(&req, &cred, ZONE, NAME, &old, &old, 30);
	rc = ask(&req, &cred, &r);
	ok(rc == 0 && r.result == DNS_RESULT_NXRRSET, "a subset of the RRset is not a match");
}

static void test_aaaa_from_nothing(void)
{
	struct dns_request req;
	struct dns_reply r;
	struct dns_addrs none = {.family = AF_INET6}, next = {.family = AF_INET6, .n = 1};
	int rc;

	inet_pton(AF_INET6, "2001:db8::20", next.addr[0]);
	rc = current(AF_INET6, &r);
	ok(rc == 0 && r.result == DNS_RESULT_OK && r.addrs.n == 0, "no AAAA at first (NODATA)");
	dns_update_replace(&req, &cred, ZONE, NAME, &none, &next, 30);
	rc = ask(&req, &cred, &r);
	if (!ok(rc == 0 && r.result == DNS_RESULT_OK, "CAS from no AAAA RRset: NOERROR"))
		show(rc, &r);
	rc = current(AF_INET6, &r);
	ok(rc == 0 && r.addrs.n == 1 && r.addrs.family == AF_INET6 &&
	       !memcmp(r.addrs.addr[0], next.addr[0], 16),
	   "the AAAA is there");
	dns_update_replace(&req, &cred, ZONE, NAME, &none, &next, 30);
	rc = ask(&req, &cred, &r);
	if (!ok(rc == 0 && r.result == DNS_RESULT_YXRRSET && strstr(r.why, "someone created it"),
	        "again from none: YXRRSET"))
		show(rc, &r);
}

/* An update of www with credential c, expecting want and a sentence. */
static void refused_update(const struct dns_cred *c, const char *name, enum dns_result want,
                           const char *sentence, const char *what)
{
	struct dns_request req;
	struct dns_reply r;
	struct dns_addrs a = v4(20, 21);
	int rc;

	dns_update_replace(&req, c, ZONE, name, &a, &a, 30);
	rc = ask(&req, c, &r);
	if (!ok(rc == 0 && r.result == want && strstr(r.why, sentence), what))
		show(rc, &r);
}

static void test_key_errors(void)
{
	struct dns_cred c = cred;
	struct dns_request req;
	struct dns_reply r;
	int rc;

	snprintf(c.secret, sizeof(c.secret), "%s", knot.other_secret);
	refused_update(&c, NAME, DNS_RESULT_BADSIG,
	               "the server rejects the key's signature: the secret of key kith-update "
	               "differs from the server's",
	               "wrong secret: BADSIG");
	c = cred;
	snprintf(c.key, sizeof(c.key), "kith-unknown");
	refused_update(&c, NAME, DNS_RESULT_BADKEY,
	               "the server does not know the key named kith-unknown",
	               "unknown key: BADKEY");
	/* Knot 3.2 answers a known key its ACL does not allow as it answers an
	 * unknown one (NOTAUTH, BADKEY); BIND would say REFUSED. */
	c = cred;
	snprintf(c.key, sizeof(c.key), "kith-other");
	snprintf(c.secret, sizeof(c.secret), "%s", knot.other_secret);
	refused_update(&c, NAME, DNS_RESULT_BADKEY,
	               "or its ACL does not let that key update www.example.test A",
	               "a key the ACL does not allow: BADKEY, naming the ACL");
	refused_update(&cred, "www.other.test", DNS_RESULT_NOTZONE,
	               "www.other.test is not in zone example.test served there",
	               "a name outside the zone: NOTZONE");
	ok(current(AF_INET, &r) == 0 && holds(&r, 20, 21), "none of them changed www");
	/* Knot's own REFUSED: a record under a DNAME breaks its policy. */
	dns_update_txt_add(&req, &cred, ZONE, "x.old." ZONE, "kith", 5);
	rc = ask(&req, &cred, &r);
	if (!ok(rc == 0 && r.result == DNS_RESULT_REFUSED &&
	            strstr(r.why, "refuses this key for x.old.example.test TXT"),
	        "a change the server's policy refuses: REFUSED"))
		show(rc, &r);
}

/* How many TXT records text at name holds now: a query built with ldns
 * here, since kith reads only addresses. */
static int count_txt(const char *name, const char *text)
{
	ldns_pkt *q = NULL, *a = NULL;
	uint8_t *wire = NULL, msg[512];
	size_t len = 0;
	int n = -1;
	static struct result r;

	q = ldns_pkt_query_new(ldns_dname_new_frm_str(name), LDNS_RR_TYPE_TXT, LDNS_RR_CLASS_IN, 0);
	if (!q || ldns_pkt2wire(&wire, q, &len) != LDNS_STATUS_OK || len > sizeof(msg) - 2)
		goto cleanup;
	msg[0] = (uint8_t)(len >> 8);
	msg[1] = (uint8_t)len;
	memcpy(msg + 2, wire, len);
	if (exchange(&server, msg, len + 2, TIMEOUT_MS, &r) ||
	    ldns_wire2pkt(&a, r.reply, r.len) != LDNS_STATUS_OK)
		goto cleanup;
	n = 0;
	for (size_t i = 0; i < ldns_rr_list_rr_count(ldns_pkt_answer(a)); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(ldns_pkt_answer(a), i);
		const ldns_rdf *rd = ldns_rr_rdf(rr, 0);
		n += ldns_rr_get_type(rr) == LDNS_RR_TYPE_TXT && rd &&
		     (!text || (ldns_rdf_size(rd) == strlen(text) + 1 &&
		                !memcmp(ldns_rdf_data(rd) + 1, text, strlen(text))));
	}
cleanup:
	free(wire);
	ldns_pkt_free(q);
	ldns_pkt_free(a);
	return n;
}

static void test_txt(void)
{
	const char *name = "_kith-test." ZONE, *text = "kith dns test 1";
	struct dns_request req;
	struct dns_reply r;
	int rc;

	is(count_txt(name, text), 0, "no test TXT at first");
	dns_update_txt_add(&req, &cred, ZONE, name, text, 5);
	rc = ask(&req, &cred, &r);
	ok(rc == 0 && r.result == DNS_RESULT_OK, "TXT add: NOERROR");
	is(count_txt(name, text), 1, "the TXT is there");
	dns_update_txt_delete(&req, &cred, ZONE, name, text);
	rc = ask(&req, &cred, &r);
	ok(rc == 0 && r.result == DNS_RESULT_OK, "TXT delete: NOERROR");
	is(count_txt(name, text), 0, "the TXT is gone");
}

static void test_unsigned_query(void)
{
	struct dns_request req;
	struct dns_reply r;
	int rc;

	dns_query_addrs(&req, NULL, NAME, AF_INET);
	rc = ask(&req, NULL, &r);
	ok(rc == 0 && holds(&r, 20, 21), "an unsigned query works too");
}

/* fds[0] listens; the connections it accepts are kept open, never
 * answered, in fds[1..ACCEPTED] (more are closed). */
#define ACCEPTED 4

static void on_accept(struct loop *l, void *arg, short revents)
{
	int *fds = arg, fd;

	(void)l;
	(void)revents;
	fd = accept(fds[0], NULL, NULL);
	for (int i = 1; fd >= 0 && i <= ACCEPTED; i++) {
		if (fds[i] < 0) {
			fds[i] = fd;
			return;
		}
	}
	if (fd >= 0)
		close(fd);
}

/* A TCP socket on 127.0.0.1; listening when listen_too. */
static int local_socket(struct sockaddr_storage *to, bool listen_too)
{
	struct sockaddr_in *a = (struct sockaddr_in *)to;
	socklen_t len = sizeof(*a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	memset(to, 0, sizeof(*to));
	a->sin_family = AF_INET;
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)a, sizeof(*a)) ||
	    getsockname(fd, (struct sockaddr *)a, &len) || (listen_too && listen(fd, 4))) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static void test_client(void)
{
	struct sockaddr_storage to;
	struct dns_request req;
	static struct result r;
	struct dns_tcp x = {0};
	int fds[1 + ACCEPTED] = {-1, -1, -1, -1, -1};
	uint64_t t0, took;
	int rc;

	dns_query_addrs(&req, &cred, NAME, AF_INET);
	fds[0] = local_socket(&to, false); /* bound, not listening: RST */
	rc = exchange(&to, req.wire, req.wire_len, TIMEOUT_MS, &r);
	ok(rc == -ECONNREFUSED && r.calls == 1, "a closed port: -ECONNREFUSED, one callback");
	close(fds[0]);

	fds[0] = local_socket(&to, true);
	loop_watch(loop, NULL, fds[0], ZMQ_POLLIN, on_accept, fds);
	t0 = loop_clock_ms();
	rc = exchange(&to, req.wire, req.wire_len, 700, &r);
	took = loop_clock_ms() - t0;
	ok(rc == -ETIMEDOUT && r.calls == 1, "a server that never answers: -ETIMEDOUT");
	if (!ok(took >= 690 && took < 1500, "within the timeout"))
		printf("#   took %llu ms\n", (unsigned long long)took);
	ok(fds[1] >= 0, "the server had accepted the connection");

	memset(&r, 0, sizeof(r));
	is(dns_tcp_start(&x, loop, &to, req.wire, req.wire_len, 300, on_done, &r), 0, "started");
	ok(dns_tcp_active(&x), "active");
	is(dns_tcp_start(&x, loop, &to, req.wire, req.wire_len, 300, on_done, &r), -EBUSY,
	   "busy while active");
	for (int i = 0; i < 50 && fds[2] < 0; i++) /* until connected and sent */
		loop_once(loop, 10);
	loop_once(loop, 10);
	dns_tcp_cancel(&x);
	ok(!dns_tcp_active(&x), "cancelled mid-exchange");
	run_until(&r, 600);
	is(r.calls, 0, "no callback after cancel");
	dns_tcp_cancel(&x);
	is(dns_tcp_start(&x, loop, &to, req.wire, req.wire_len, 300, on_done, &r), 0,
	   "started again");
	dns_tcp_cancel(&x);
	run_until(&r, 600);
	is(r.calls, 0, "cancelled at once: no callback either");

	is(dns_tcp_start(&x, loop, &to, req.wire, 2, 300, on_done, &r), -EINVAL, "short message");
	is(dns_tcp_start(&x, loop, &to, req.wire, req.wire_len - 1, 300, on_done, &r), -EINVAL,
	   "length prefix that does not match");
	is(dns_tcp_start(&x, loop, &to, req.wire, req.wire_len, 0, on_done, &r), -EINVAL,
	   "no timeout");
	to.ss_family = AF_UNIX;
	is(dns_tcp_start(&x, loop, &to, req.wire, req.wire_len, 300, on_done, &r), -EAFNOSUPPORT,
	   "another address family");
	loop_unwatch(loop, NULL, fds[0]);
	for (int i = 0; i <= ACCEPTED; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	dns_request_clear(&req);
}

static int setup_cred(void)
{
	char text[512], why[256];
	int n = snprintf(text, sizeof(text),
	                 "provider = rfc2136\nserver = 127.0.0.1:%d\nkey = kith-update\n"
	                 "secret = %s\n",
	                 knot.port, knot.secret);
	int rc = dns_cred_parse(&cred, text, (size_t)n, why, sizeof(why));

	if (rc)
		printf("# credential: %s\n", why);
	server = cred.server;
	return rc;
}

/* ---- jobs: a change as exchanges (agent/dns/dns_job.h) ---- */

struct job_out {
	bool done;
	struct dns_job_result r;
};

static void job_done(void *arg, struct dns_job *job, const struct dns_job_result *r)
{
	struct job_out *o = arg;

	(void)job;
	o->done = true;
	o->r = *r;
}

/* Runs a job made by start to its end (20 s at most); its result in *o. */
static void run_job(struct job_out *o, int start_rc, struct dns_job **j)
{
	uint64_t end = loop_clock_ms() + 20000;

	*o = (struct job_out){0};
	if (start_rc)
		return;
	while (!o->done && loop_clock_ms() < end)
		loop_once(loop, 20);
	dns_job_free(j);
}

static void test_jobs(void)
{
	const char *name = "job." ZONE;
	struct dns_job_env env = {loop, NULL, false};
	struct dns_addrs none = {.family = AF_INET}, to = v4(77, 0), other = v4(1, 0),
	                 next = v4(78, 0);
	struct dns_job *j = NULL;
	struct job_out o;

	run_job(&o, dns_job_swap(&j, &env, &cred, ZONE, name, &none, &to, 60, job_done, &o), &j);
	ok(o.done && o.r.rc == 0 && o.r.changed, "a swap job sets a set that was not there");
	run_job(&o, dns_job_swap(&j, &env, &cred, ZONE, name, &none, &to, 60, job_done, &o), &j);
	ok(o.done && o.r.rc == 0 && !o.r.changed,
	   "the same swap again: NXRRSET, then found in place: nothing to do");
	run_job(&o, dns_job_swap(&j, &env, &cred, ZONE, name, &other, &next, 60, job_done, &o), &j);
	ok(o.done && o.r.rc != 0 && !o.r.changed && strstr(o.r.why, "leaves it alone"),
	   "a swap from addresses the name no longer holds is left alone");
	run_job(&o, dns_job_test(&j, &env, &cred, ZONE, job_done, &o), &j);
	ok(o.done && o.r.rc == 0 && count_txt("_kith-test." ZONE, NULL) == 0,
	   "a test job adds and deletes its TXT record");
	env.refuse_private = true;
	run_job(&o, dns_job_swap(&j, &env, &cred, ZONE, name, &to, &other, 60, job_done, &o), &j);
	ok(o.done && o.r.rc == -EACCES && strstr(o.r.why, "private"),
	   "with refuse_private, a server at a private address is not spoken to");
	env.refuse_private = false;
	j = NULL;
	ok(dns_job_swap(&j, &env, &cred, ZONE, name, &none, &none, 60, job_done, &o) ==
	           KITH_EVALUE &&
	       !j,
	   "a swap to nothing is refused before it starts");
}

int main(void)
{
	const char *knotd = find_knotd();

	signal(SIGPIPE, SIG_IGN);
	if (!ok(knotd != NULL, "knotd found (tools/setup test installs knot)"))
		return tap_done();
	if (sodium_init() < 0 || loop_new(&loop))
		return 1;
	if (!ok(knot_start(&knot, knotd) == 0 && setup_cred() == 0, "knotd started") ||
	    !ok(wait_ready(), "knotd answers for " ZONE)) {
		knot_log(&knot);
		knot_stop(&knot);
		return tap_done();
	}
	test_read_and_swap();
	test_aaaa_from_nothing();
	test_key_errors();
	test_txt();
	test_unsigned_query();
	test_client();
	test_jobs();
	if (tap_failed)
		knot_log(&knot);
	knot_stop(&knot);
	dns_cred_wipe(&cred);
	loop_free(&loop);
	return tap_done();
}
