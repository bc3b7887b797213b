#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <ini.h>

#include "proto/error.h"
#include "proto/units.h"
#include "conf.h"

enum conf_type {
	TYPE_DURATION,
	TYPE_COUNT,
	TYPE_SIZE,
	TYPE_ENDPOINT,
	TYPE_PROFILE,
	TYPE_LOG_LEVEL,
	TYPE_COUNT_AUTO, /* a count, or "auto" (CONF_AUTO) */
	TYPE_TEXT,       /* up to CONF_TEXT_MAX bytes, no control characters; default "" */
	TYPE_TLS,
	TYPE_HTTP_LISTEN, /* "" (off), IPV4:PORT or [IPV6]:PORT */
};

/* One key of the schema: where it goes, what it accepts, its defaults. */
struct key {
	const char *section;
	const char *name;
	enum conf_type type;
	size_t offset;
	uint64_t min, max;
	uint64_t wan, lan; /* numeric defaults per profile */
};

#define FIELD(f) offsetof(struct conf, f)
#define MS(x) ((uint64_t)(x))
#define S(x) ((uint64_t)(x)*1000)
#define KIB(x) ((uint64_t)(x) << 10)
#define MIB(x) ((uint64_t)(x) << 20)
#define GIB(x) ((uint64_t)(x) << 30)

static const struct key schema[] = {
    {"agent", "listen", TYPE_ENDPOINT, FIELD(listen), 0, 0, 0, 0},
    {"agent", "advertise", TYPE_ENDPOINT, FIELD(advertise), 0, 0, 0, 0},
    {"agent", "profile", TYPE_PROFILE, FIELD(profile), 0, 0, CONF_PROFILE_WAN, CONF_PROFILE_LAN},
    {"agent", "log_level", TYPE_LOG_LEVEL, FIELD(log_level), 0, 0, LOG_LEVEL_INFO, LOG_LEVEL_INFO},
    {"agent", "metrics_listen", TYPE_HTTP_LISTEN, FIELD(metrics_listen), 0, 0, 0, 0},
    {"membership", "probe_interval", TYPE_DURATION, FIELD(probe_interval_ms), MS(100), S(600), S(5),
     S(1)},
    {"membership", "probe_timeout", TYPE_DURATION, FIELD(probe_timeout_ms), MS(10), S(300), S(3),
     MS(500)},
    {"membership", "indirect_checks", TYPE_COUNT, FIELD(indirect_checks), 0, 16, 3, 3},
    {"membership", "suspicion_mult", TYPE_COUNT, FIELD(suspicion_mult), 1, 100, 6, 4},
    {"membership", "suspicion_max_mult", TYPE_COUNT, FIELD(suspicion_max_mult), 1, 100, 6, 6},
    {"membership", "gossip_interval", TYPE_DURATION, FIELD(gossip_interval_ms), MS(10), S(60),
     MS(500), MS(200)},
    {"membership", "gossip_nodes", TYPE_COUNT, FIELD(gossip_nodes), 1, 64, 4, 3},
    {"membership", "retransmit_mult", TYPE_COUNT, FIELD(retransmit_mult), 1, 100, 4, 4},
    {"membership", "dead_forget", TYPE_DURATION, FIELD(dead_forget_ms), S(1), S(30 * 86400),
     S(3600), S(60)},
    {"gossip", "sync_interval", TYPE_DURATION, FIELD(sync_interval_ms), MS(50), S(3600), S(10),
     S(1)},
    {"gossip", "sync_budget", TYPE_SIZE, FIELD(sync_budget), KIB(4), MIB(64), KIB(256), KIB(256)},
    {"gossip", "push_fanout", TYPE_COUNT_AUTO, FIELD(push_fanout), 0, 64, CONF_AUTO, CONF_AUTO},
    {"limits", "max_message", TYPE_SIZE, FIELD(max_message), KIB(64), MIB(16), MIB(1), MIB(1)},
    {"limits", "bad_messages", TYPE_COUNT, FIELD(bad_messages), 1, 100000, 20, 20},
    {"limits", "ban_time", TYPE_DURATION, FIELD(ban_ms), S(1), S(86400), S(300), S(60)},
    {"limits", "guest_rate", TYPE_COUNT, FIELD(guest_rate), 1, 10000, 10, 60},
    {"limits", "author_records", TYPE_COUNT, FIELD(author_records), 100, 10000000, 20000, 20000},
    {"limits", "author_bytes", TYPE_SIZE, FIELD(author_bytes), KIB(256), GIB(64), MIB(32), MIB(32)},
    {"store", "map_size", TYPE_SIZE, FIELD(map_size), MIB(1), GIB(1024), MIB(256), MIB(256)},
    {"store", "map_max", TYPE_SIZE, FIELD(map_max), MIB(16), GIB(1024), GIB(8), GIB(8)},
    {"monitoring", "quorum", TYPE_COUNT, FIELD(quorum), 1, 64, 2, 2},
    {"monitoring", "down_after", TYPE_COUNT, FIELD(down_after), 1, 100, 2, 2},
    {"monitoring", "recovery", TYPE_DURATION, FIELD(recovery_ms), S(1), S(86400), S(300), S(10)},
    {"monitoring", "heartbeat", TYPE_DURATION, FIELD(heartbeat_ms), S(1), S(86400), S(300), S(30)},
    {"monitoring", "member_dead_alert", TYPE_DURATION, FIELD(dead_alert_ms), S(1), S(30 * 86400),
     S(600), S(30)},
    {"monitoring", "max_checks", TYPE_COUNT, FIELD(max_checks), 1, 100000, 256, 256},
    {"monitoring", "refuse_private", TYPE_COUNT, FIELD(refuse_private), 0, 1, 1, 0},
    {"backup", "grace", TYPE_DURATION, FIELD(backup_grace_ms), S(1), S(365 * 86400), S(30 * 86400),
     S(30 * 86400)},
    {"backup", "audit", TYPE_DURATION, FIELD(backup_audit_ms), 0, S(365 * 86400), S(86400),
     S(86400)},
    {"backup", "audit_read", TYPE_COUNT, FIELD(backup_audit_read), 0, 100, 2, 2},
    {"backup", "dead_for", TYPE_DURATION, FIELD(backup_dead_for_ms), S(60), S(365 * 86400),
     S(86400), S(86400)},
    {"backup", "kith", TYPE_TEXT, FIELD(backup_kith), 0, 0, 0, 0},
    {"dns", "min_interval", TYPE_DURATION, FIELD(dns_min_interval_ms), S(1), S(86400), S(60), S(2)},
    {"dns", "flap_max", TYPE_COUNT, FIELD(dns_flap_max), 1, DNS_FLAP_MAX_MAX, 4, 4},
    {"dns", "flap_window", TYPE_DURATION, FIELD(dns_flap_window_ms), S(1), S(7 * 86400), S(3600),
     S(3600)},
    {"alerts", "smtp_url", TYPE_TEXT, FIELD(smtp_url), 0, 0, 0, 0},
    {"alerts", "smtp_user", TYPE_TEXT, FIELD(smtp_user), 0, 0, 0, 0},
    {"alerts", "smtp_password", TYPE_TEXT, FIELD(smtp_password), 0, 0, 0, 0},
    {"alerts", "smtp_from", TYPE_TEXT, FIELD(smtp_from), 0, 0, 0, 0},
    {"alerts", "smtp_tls", TYPE_TLS, FIELD(smtp_tls), 0, 0, CONF_TLS_TRY, CONF_TLS_TRY},
    {"alerts", "matrix_homeserver", TYPE_TEXT, FIELD(matrix_homeserver), 0, 0, 0, 0},
    {"alerts", "matrix_token", TYPE_TEXT, FIELD(matrix_token), 0, 0, 0, 0},
    {"alerts", "retries", TYPE_COUNT, FIELD(alert_retries), 0, 100, 5, 5},
    {"alerts", "retry_interval", TYPE_DURATION, FIELD(alert_retry_ms), MS(100), S(3600), S(30),
     S(1)},
};

#define N_KEYS (sizeof(schema) / sizeof(schema[0]))
#define DEFAULT_LISTEN "tcp://0.0.0.0:7707"

static void set_number(struct conf *c, const struct key *k, uint64_t v)
{
	void *field = (char *)c + k->offset;

	switch (k->type) {
	case TYPE_DURATION:
	case TYPE_SIZE:
		*(uint64_t *)field = v;
		break;
	case TYPE_COUNT:
	case TYPE_COUNT_AUTO:
		*(uint32_t *)field = (uint32_t)v;
		break;
	case TYPE_PROFILE:
		*(enum conf_profile *)field = (enum conf_profile)v;
		break;
	case TYPE_TLS:
		*(enum conf_tls *)field = (enum conf_tls)v;
		break;
	case TYPE_LOG_LEVEL:
		*(enum log_level *)field = (enum log_level)v;
		break;
	case TYPE_ENDPOINT:
	case TYPE_TEXT:
	case TYPE_HTTP_LISTEN:
		break;
	}
}

static void apply_default(struct conf *c, const struct key *k, enum conf_profile profile)
{
	if (k->type == TYPE_TEXT || k->type == TYPE_HTTP_LISTEN) {
		((char *)c + k->offset)[0] = '\0';
		return;
	}
	if (k->type == TYPE_ENDPOINT) {
		char *field = (char *)c + k->offset;
		snprintf(field, CONF_ENDPOINT_MAX + 1, "%s",
		         !strcmp(k->name, "listen") ? DEFAULT_LISTEN : "");
		return;
	}
	set_number(c, k, profile == CONF_PROFILE_LAN ? k->lan : k->wan);
}

void conf_defaults(struct conf *c, enum conf_profile profile)
{
	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < N_KEYS; i++)
		apply_default(c, &schema[i], profile);
	c->profile = profile;
}

int conf_profile_parse(const char *text, enum conf_profile *out)
{
	if (!strcmp(text, "wan"))
		*out = CONF_PROFILE_WAN;
	else if (!strcmp(text, "lan"))
		*out = CONF_PROFILE_LAN;
	else
		return KITH_EVALUE;
	return 0;
}

int conf_endpoint_check(const char *endpoint, const char **why)
{
	const char *host = endpoint + 6, *colon;
	uint64_t port = 0;
	size_t len = strlen(endpoint);

	if (len > CONF_ENDPOINT_MAX)
		return *why = "too long", KITH_EVALUE;
	if (strncmp(endpoint, "tcp://", 6) != 0)
		return *why = "must look like tcp://HOST:PORT", KITH_EVALUE;
	colon = strrchr(host, ':');
	if (!colon || colon == host)
		return *why = "must look like tcp://HOST:PORT", KITH_EVALUE;
	for (const char *p = host; p < colon; p++)
		if (*p <= ' ' || *p == '/' || *p == 0x7f)
			return *why = "host has a space, slash or control character", KITH_EVALUE;
	if (!colon[1])
		return *why = "port missing", KITH_EVALUE;
	for (const char *p = colon + 1; *p; p++) {
		if (*p < '0' || *p > '9')
			return *why = "port must be a number", KITH_EVALUE;
		port = port * 10 + (uint64_t)(*p - '0');
		if (port > 65535)
			return *why = "port must be 1 to 65535", KITH_EVALUE;
	}
	if (port == 0)
		return *why = "port must be 1 to 65535", KITH_EVALUE;
	return 0;
}

int conf_listen_parse(const char *text, struct sockaddr_storage *ss, socklen_t *len,
                      const char **why)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *colon = strrchr(text, ':'), *start = text;
	size_t host_len;
	uint64_t port = 0;

	memset(ss, 0, sizeof(*ss));
	if (!colon || strlen(text) > CONF_ENDPOINT_MAX)
		return *why = "must look like 127.0.0.1:9707 or [::1]:9707", KITH_EVALUE;
	host_len = (size_t)(colon - text);
	if (text[0] == '[') {
		if (host_len < 2 || colon[-1] != ']')
			return *why = "an IPv6 address goes in brackets: [::1]:9707", KITH_EVALUE;
		start = text + 1;
		host_len -= 2;
	}
	if (host_len == 0 || host_len >= sizeof(host))
		return *why = "must look like 127.0.0.1:9707 or [::1]:9707", KITH_EVALUE;
	memcpy(host, start, host_len);
	host[host_len] = '\0';
	if (!colon[1])
		return *why = "port missing", KITH_EVALUE;
	for (const char *p = colon + 1; *p; p++) {
		if (*p < '0' || *p > '9' || (port = port * 10 + (uint64_t)(*p - '0')) > 65535)
			return *why = "port must be 1 to 65535", KITH_EVALUE;
	}
	if (port == 0)
		return *why = "port must be 1 to 65535", KITH_EVALUE;
	if (start == text) {
		struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
		if (inet_pton(AF_INET, host, &v4->sin_addr) != 1)
			return *why =
			           "the host must be an IPv4 address, or an IPv6 one in brackets",
			       KITH_EVALUE;
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)port);
		*len = sizeof(*v4);
	} else {
		struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
		if (inet_pton(AF_INET6, host, &v6->sin6_addr) != 1)
			return *why = "not an IPv6 address between the brackets", KITH_EVALUE;
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*v6);
	}
	return 0;
}

struct parse_state {
	struct conf conf;
	bool set[N_KEYS];
	char err[256]; /* first error, without the line number */
};

/* Keeps the first error of the file as "key: why"; returns 0 for inih. */
__attribute__((format(printf, 3, 4))) static int bad(struct parse_state *st, const char *name,
                                                     const char *fmt, ...)
{
	va_list ap;
	int len;

	if (st->err[0])
		return 0;
	len = snprintf(st->err, sizeof(st->err), "%s: ", name);
	if (len > 0 && (size_t)len < sizeof(st->err)) {
		va_start(ap, fmt);
		vsnprintf(st->err + len, sizeof(st->err) - (size_t)len, fmt, ap);
		va_end(ap);
	}
	return 0;
}

/* "out of range (100ms to 10m)" for a key. */
static int out_of_range(struct parse_state *st, const struct key *k)
{
	char lo[32], hi[32];

	if (k->type == TYPE_DURATION) {
		proto_duration_format(k->min, lo, sizeof(lo));
		proto_duration_format(k->max, hi, sizeof(hi));
	} else if (k->type == TYPE_SIZE) {
		proto_size_format(k->min, lo, sizeof(lo));
		proto_size_format(k->max, hi, sizeof(hi));
	} else {
		snprintf(lo, sizeof(lo), "%" PRIu64, k->min);
		snprintf(hi, sizeof(hi), "%" PRIu64, k->max);
	}
	return bad(st, k->name, "out of range (%s to %s)", lo, hi);
}

static int parse_count(const char *value, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (value[0] < '0' || value[0] > '9')
		return KITH_EVALUE;
	errno = 0;
	v = strtoull(value, &end, 10);
	if (errno || *end)
		return KITH_EVALUE;
	*out = v;
	return 0;
}

static int set_value(struct parse_state *st, const struct key *k, const char *value)
{
	const char *why = NULL;
	uint64_t v = 0;
	int err = 0;

	switch (k->type) {
	case TYPE_ENDPOINT:
		if (!strcmp(k->name, "advertise") && !value[0]) {
			st->conf.advertise[0] = '\0';
			return 1;
		}
		if (conf_endpoint_check(value, &why) != 0)
			return bad(st, k->name, "%s", why);
		snprintf((char *)&st->conf + k->offset, CONF_ENDPOINT_MAX + 1, "%s", value);
		return 1;
	case TYPE_HTTP_LISTEN: {
		struct sockaddr_storage ss;
		socklen_t len;
		if (value[0] && conf_listen_parse(value, &ss, &len, &why) != 0)
			return bad(st, k->name, "%s", why);
		snprintf((char *)&st->conf + k->offset, CONF_ENDPOINT_MAX + 1, "%s", value);
		return 1;
	}
	case TYPE_TEXT:
		if (strlen(value) > CONF_TEXT_MAX)
			return bad(st, k->name, "longer than %d bytes", CONF_TEXT_MAX);
		for (const char *p = value; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				return bad(st, k->name, "has a control character");
		snprintf((char *)&st->conf + k->offset, CONF_TEXT_MAX + 1, "%s", value);
		return 1;
	case TYPE_TLS:
		if (!strcmp(value, "try"))
			st->conf.smtp_tls = CONF_TLS_TRY;
		else if (!strcmp(value, "always"))
			st->conf.smtp_tls = CONF_TLS_ALWAYS;
		else if (!strcmp(value, "never"))
			st->conf.smtp_tls = CONF_TLS_NEVER;
		else
			return bad(st, k->name, "must be try, always or never, not '%s'", value);
		return 1;
	case TYPE_PROFILE:
		if (conf_profile_parse(value, &st->conf.profile) != 0)
			return bad(st, k->name, "must be wan or lan, not '%s'", value);
		return 1;
	case TYPE_LOG_LEVEL:
		if (log_level_parse(value, &st->conf.log_level) != 0)
			return bad(st, k->name, "must be error, warn, info or debug, not '%s'",
			           value);
		return 1;
	case TYPE_DURATION:
		err = proto_duration_parse(value, strlen(value), &v, &why);
		break;
	case TYPE_SIZE:
		err = proto_size_parse(value, strlen(value), &v, &why);
		break;
	case TYPE_COUNT_AUTO:
		if (!strcmp(value, "auto")) {
			set_number(&st->conf, k, CONF_AUTO);
			return 1;
		}
		/* fall through */
	case TYPE_COUNT:
		err = parse_count(value, &v);
		why = k->type == TYPE_COUNT ? "must be a whole number"
		                            : "must be auto or a whole number";
		break;
	}
	if (err)
		return bad(st, k->name, "%s", why);
	if (v < k->min || v > k->max)
		return out_of_range(st, k);
	set_number(&st->conf, k, v);
	return 1;
}

static int on_key(void *user, const char *section, const char *name, const char *value)
{
	struct parse_state *st = user;

	for (size_t i = 0; i < N_KEYS; i++) {
		if (strcmp(schema[i].section, section) || strcmp(schema[i].name, name))
			continue;
		if (st->set[i])
			return bad(st, name, "set twice");
		st->set[i] = true;
		return set_value(st, &schema[i], value);
	}
	if (!section[0])
		return bad(st, name, "outside of any [section]");
	return bad(st, name, "unknown key in [%s]", section);
}

/* After ini_parse*(): the error line, or the profile defaults applied to
 * the keys the text left out (wherever its profile line was) and the
 * result copied to *c. */
static int finish(struct parse_state *st, int line, struct conf *c, const char *name, char *err,
                  size_t n)
{
	if (line == -2) {
		snprintf(err, n, "%s: out of memory", name);
		return -ENOMEM;
	}
	if (line != 0) {
		snprintf(err, n, "%s:%d: %s", name, line,
		         st->err[0] ? st->err
		                    : "not a key = value line (or longer than 200 bytes)");
		return KITH_EVALUE;
	}
	for (size_t i = 0; i < N_KEYS; i++)
		if (!st->set[i])
			apply_default(&st->conf, &schema[i], st->conf.profile);
	if (st->conf.probe_timeout_ms >= st->conf.probe_interval_ms) {
		snprintf(err, n, "%s: probe_timeout must be shorter than probe_interval", name);
		return KITH_EVALUE;
	}
	if (st->conf.map_max < st->conf.map_size) {
		snprintf(err, n, "%s: map_max must be at least map_size", name);
		return KITH_EVALUE;
	}
	*c = st->conf;
	return 0;
}

int conf_load(struct conf *c, const char *path, char *err, size_t n)
{
	struct parse_state st = {0};
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	FILE *f = fopen(path, "r");
	int line, saved;

	if (!f) {
		saved = errno;
		snprintf(err, n, "%s: %s", path, strerror(saved));
		return -saved;
	}
	line = ini_parse_file(f, on_key, &st);
	fclose(f);
	return finish(&st, line, c, base, err, n);
}

int conf_parse_text(struct conf *c, const char *text, const char *name, char *err, size_t n)
{
	struct parse_state st = {0};

	return finish(&st, ini_parse_string(text, on_key, &st), c, name, err, n);
}

int conf_write_new(const char *path, const char *listen, const char *advertise,
                   enum conf_profile profile)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	FILE *f;
	int err = 0;

	if (fd < 0)
		return -errno;
	f = fdopen(fd, "w");
	if (!f) {
		err = -errno;
		close(fd);
		unlink(path);
		return err;
	}
	fprintf(f,
	        "; kithd configuration. Every key is documented in kithd.conf(5);\n"
	        "; a key left out takes the default of the profile.\n"
	        "\n"
	        "[agent]\n"
	        "; where kithd listens, and the address partners dial\n"
	        "listen = %s\n"
	        "advertise = %s\n"
	        "; wan: partners over the internet (probe 5s); lan: tests and demos (probe 1s)\n"
	        "profile = %s\n"
	        "log_level = info\n"
	        "; an HTTP listener for Prometheus (/metrics) and the status pages (/)\n"
	        ";metrics_listen = 127.0.0.1:9707\n",
	        listen, advertise, profile == CONF_PROFILE_LAN ? "lan" : "wan");
	if (fflush(f) != 0 || fsync(fd) != 0)
		err = -errno;
	if (fclose(f) != 0 && !err)
		err = -errno;
	if (err)
		unlink(path);
	return err;
}

int conf_data_dir(char *out, size_t n, const char *given)
{
	const char *env = getenv("KITH_DATA");
	const char *xdg = getenv("XDG_DATA_HOME");
	const char *home = getenv("HOME");
	int len;

	if (given && *given)
		len = snprintf(out, n, "%s", given);
	else if (env && *env)
		len = snprintf(out, n, "%s", env);
	else if (geteuid() == 0)
		len = snprintf(out, n, "/var/lib/kith");
	else if (xdg && *xdg)
		len = snprintf(out, n, "%s/kith", xdg);
	else if (home && *home)
		len = snprintf(out, n, "%s/.local/share/kith", home);
	else
		return -ENOENT;
	return len < 0 || (size_t)len >= n ? -ENAMETOOLONG : 0;
}
