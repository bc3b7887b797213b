/* Alerts (see alert.h): one job per contact, each with its own easy
 * handle run by agent/core/web.h, retried on a doubling timer until it succeeds
 * or [alerts] retries are spent.
 *
 * Everything in a message may come from a peer (member and service names),
 * so each field is cleaned once when queued: valid UTF-8 (bad bytes become
 * U+FFFD), no control characters in one-line fields, bounded length. The
 * payload is then built once, so a retry sends the same bytes: the same
 * Message-ID for mail, the same transaction ID for Matrix (which makes
 * Matrix drop a duplicate), the same JSON for a webhook.
 *
 * Mail: libcurl's SMTP does the dot-stuffing of the DATA phase itself
 * (lib/smtp.c escapes every CRLF "." to CRLF ".."), so the payload here is
 * the plain RFC 5322 message with CRLF line endings and nothing doubled. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <sodium.h>

#include "proto/error.h"
#include "alert.h"
#include "alert_int.h"
#include "agent/core/conf.h"
#include "agent/core/log.h"
#include "agent/core/loop.h"
#include "agent/core/web.h"

#ifndef KITH_VERSION
#define KITH_VERSION "0"
#endif

#define ALERT_PENDING_MAX 1000
#define ALERT_TIMEOUT_MS 30000
/* web_submit() said it runs enough transfers: try again after this. */
#define ALERT_BUSY_WAIT_MS 500
/* A retry never waits longer than this, however many doublings. */
#define ALERT_RETRY_CAP_MS (6ULL * 3600 * 1000)
/* Each kind of line (failures, unreachable contacts, overflow): at most
 * 10, then one a minute. */
#define LOG_BURST 10
#define LOG_INTERVAL_MS 60000

struct job {
	struct alert *alert;
	struct job *prev, *next; /* queue order, oldest first */
	enum alert_channel channel;
	char label[128]; /* for logs: no secret, no webhook path */
	char *payload;   /* sent as is on every attempt */
	size_t payload_len;
	size_t read_pos;         /* mail: how much libcurl has read */
	struct curl_slist *list; /* HTTP headers, or mail recipients */
	bool list_secret;        /* wipe the list before freeing it */
	CURL *easy;
	bool running;
	struct web_guard guard; /* for another member's webhook or ntfy */
	bool guarded;
	uint32_t retries; /* retries already scheduled */
	struct loop_timer timer;
	char error[CURL_ERROR_SIZE];
};

struct alert {
	struct loop *loop;
	struct web *web;
	const struct conf *conf;
	struct job *head, *tail;
	uint32_t max_pending;
	struct alert_stats stats;
	struct log_limit fail_log;   /* failed attempts and give-ups */
	struct log_limit config_log; /* contacts we cannot reach */
	struct log_limit drop_log;   /* queue overflow */
};

/* The message with every field cleaned (see the top of the file). */
struct clean_msg {
	char *subject, *text, *kind, *owner, *owner_name, *service, *state, *previous;
	uint64_t since;
};

static void clean_msg_free(struct clean_msg *m)
{
	free(m->subject);
	free(m->text);
	free(m->kind);
	free(m->owner);
	free(m->owner_name);
	free(m->service);
	free(m->state);
	free(m->previous);
}

static int clean_msg_init(struct clean_msg *out, const struct alert_message *m)
{
	*out = (struct clean_msg){
	    .subject = alert_clean(m->subject, ALERT_SUBJECT_MAX, false),
	    .text = alert_clean(m->text, ALERT_TEXT_MAX, true),
	    .kind = alert_clean(m->kind, ALERT_FIELD_MAX, false),
	    .owner = alert_clean(m->owner, ALERT_FIELD_MAX, false),
	    .owner_name = alert_clean(m->owner_name, ALERT_FIELD_MAX, false),
	    .service = alert_clean(m->service, ALERT_FIELD_MAX, false),
	    .state = alert_clean(m->state, ALERT_FIELD_MAX, false),
	    .previous = alert_clean(m->previous, ALERT_FIELD_MAX, false),
	    .since = m->since,
	};
	if (!out->subject || !out->text || !out->kind || !out->owner || !out->owner_name ||
	    !out->service || !out->state || !out->previous) {
		clean_msg_free(out);
		return -ENOMEM;
	}
	if (!out->subject[0]) {
		free(out->subject);
		out->subject = strdup("kith alert");
		if (!out->subject) {
			clean_msg_free(out);
			return -ENOMEM;
		}
	}
	return 0;
}

/* Nothing of the response is kept but its status. */
static size_t discard(char *data, size_t size, size_t nmemb, void *arg)
{
	(void)data, (void)arg;
	return size * nmemb;
}

static size_t read_payload(char *dst, size_t size, size_t nmemb, void *arg)
{
	struct job *j = arg;
	size_t room = size * nmemb, left = j->payload_len - j->read_pos;
	size_t n = left < room ? left : room;

	memcpy(dst, j->payload + j->read_pos, n);
	j->read_pos += n;
	return n;
}

static const char *tls_name(enum conf_tls tls)
{
	return tls == CONF_TLS_ALWAYS ? "always" : tls == CONF_TLS_NEVER ? "never" : "try";
}

static long curl_use_ssl(enum conf_tls tls)
{
	switch (tls) {
	case CONF_TLS_ALWAYS:
		return CURLUSESSL_ALL;
	case CONF_TLS_NEVER:
		return CURLUSESSL_NONE;
	case CONF_TLS_TRY:
		break;
	}
	return CURLUSESSL_TRY;
}

/* Why mail cannot be sent with these settings, or NULL. */
static const char *mail_unconfigured(const struct conf *c)
{
	const char *why;

	if (!c->smtp_url[0] || !c->smtp_from[0])
		return "mail needs smtp_url and smtp_from in [alerts] of kithd.conf";
	if (strncasecmp(c->smtp_url, "smtp://", 7) && strncasecmp(c->smtp_url, "smtps://", 8))
		return "[alerts] smtp_url must start with smtp:// or smtps://";
	if (alert_mail_addr_check(c->smtp_from, &why))
		return "[alerts] smtp_from must be a plain address (user@example.org)";
	return NULL;
}

static const char *matrix_unconfigured(const struct conf *c)
{
	const char *why;

	if (!c->matrix_homeserver[0] || !c->matrix_token[0])
		return "matrix needs matrix_homeserver and matrix_token in [alerts] of kithd.conf";
	if (alert_http_url_parse(c->matrix_homeserver, NULL, NULL, NULL, &why))
		return "[alerts] matrix_homeserver must be an https:// (or http://) URL";
	if (!alert_printable_ascii(c->matrix_token))
		return "[alerts] matrix_token has a space or a control character";
	return NULL;
}

/* Appends to j->list; on failure the list stays as it was (libcurl's
 * curl_slist_append() returns NULL then, which must not replace it). */
static int list_add(struct job *j, const char *line)
{
	struct curl_slist *l = curl_slist_append(j->list, line);

	if (!l)
		return -ENOMEM;
	j->list = l;
	return 0;
}

static void random_hex(char *out, size_t bytes)
{
	unsigned char r[16];

	bytes = bytes > sizeof(r) ? sizeof(r) : bytes;
	randombytes_buf(r, bytes);
	sodium_bin2hex(out, bytes * 2 + 1, r, bytes);
}

static int job_mail(struct job *j, const struct conf *c, const char *addr,
                    const struct clean_msg *m)
{
	struct alert_buf b = {0};
	char id[33], from[CONF_TEXT_MAX + 3], to[ALERT_MAIL_ADDR_MAX + 3];
	bool bad = false;

	snprintf(from, sizeof(from), "<%s>", c->smtp_from);
	snprintf(to, sizeof(to), "<%s>", addr);
	random_hex(id, 16);
	alert_mail_date(&b, time(NULL));
	alert_buf_printf(&b, "From: kith %s\r\nTo: %s\r\nSubject: ", from, to);
	alert_header_text(&b, m->subject, "\r\n ");
	alert_buf_printf(&b, "\r\nMessage-ID: <%s@kith>\r\n", id);
	alert_buf_str(&b, "MIME-Version: 1.0\r\n"
	                  "Content-Type: text/plain; charset=utf-8\r\n"
	                  "Content-Transfer-Encoding: 8bit\r\n"
	                  "Auto-Submitted: auto-generated\r\n\r\n");
	alert_mail_body(&b, m->text);
	j->payload = alert_buf_take(&b, &j->payload_len);
	if (!j->payload || list_add(j, to))
		return -ENOMEM;
	snprintf(j->label, sizeof(j->label), "mail to %s", addr);
	bad |= curl_easy_setopt(j->easy, CURLOPT_URL, c->smtp_url) != CURLE_OK;
	bad |= curl_easy_setopt(j->easy, CURLOPT_PROTOCOLS_STR, "smtp,smtps") != CURLE_OK;
	bad |= curl_easy_setopt(j->easy, CURLOPT_MAIL_FROM, from) != CURLE_OK;
	bad |= curl_easy_setopt(j->easy, CURLOPT_MAIL_RCPT, j->list) != CURLE_OK;
	bad |= curl_easy_setopt(j->easy, CURLOPT_USE_SSL, curl_use_ssl(c->smtp_tls)) != CURLE_OK;
	bad |= curl_easy_setopt(j->easy, CURLOPT_UPLOAD, 1L) != CURLE_OK;
	bad |= curl_easy_setopt(j->easy, CURLOPT_READFUNCTION, read_payload) != CURLE_OK;
	bad |= curl_easy_setopt(j->easy, CURLOPT_READDATA, j) != CURLE_OK;
	bad |= curl_easy_setopt(j->easy, CURLOPT_INFILESIZE_LARGE, (curl_off_t)j->payload_len) !=
	       CURLE_OK;
	if (c->smtp_user[0]) {
		bad |= curl_easy_setopt(j->easy, CURLOPT_USERNAME, c->smtp_user) != CURLE_OK;
		bad |= curl_easy_setopt(j->easy, CURLOPT_PASSWORD, c->smtp_password) != CURLE_OK;
	}
	return bad ? -ENOMEM : 0;
}

/* Common to the HTTP channels: url (borrowed, copied by libcurl), the
 * payload as the request body, j->list as headers. */
static int job_http(struct job *j, const char *url, bool https, const char *method)
{
	bool bad = false;

	if (list_add(j, "Expect:")) /* no waiting for a 100 Continue */
		return -ENOMEM;
	bad |= curl_easy_setopt(j->easy, CURLOPT_URL, url) != CURLE_OK;
	bad |=
	    curl_easy_setopt(j->easy, CURLOPT_PROTOCOLS_STR, https ? "https" : "http") != CURLE_OK;
	bad |= curl_easy_setopt(j->easy, CURLOPT_HTTPHEADER, j->list) != CURLE_OK;
	bad |= curl_easy_setopt(j->easy, CURLOPT_POSTFIELDS, j->payload) != CURLE_OK;
	bad |= curl_easy_setopt(j->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)j->payload_len) !=
	       CURLE_OK;
	bad |= curl_easy_setopt(j->easy, CURLOPT_WRITEFUNCTION, discard) != CURLE_OK;
	bad |= curl_easy_setopt(j->easy, CURLOPT_USERAGENT, "kith/" KITH_VERSION) != CURLE_OK;
	if (method)
		bad |= curl_easy_setopt(j->easy, CURLOPT_CUSTOMREQUEST, method) != CURLE_OK;
	return bad ? -ENOMEM : 0;
}

static void label_url(struct job *j, const char *what, const char *url)
{
	char *host = NULL;
	bool https = false;
	const char *why;

	if (alert_http_url_parse(url, &https, &host, NULL, &why) == 0)
		snprintf(j->label, sizeof(j->label), "%s %s://%s", what, https ? "https" : "http",
		         host);
	else
		snprintf(j->label, sizeof(j->label), "%s", what);
	curl_free(host);
}

static int job_webhook(struct job *j, const char *url, const struct clean_msg *m)
{
	struct alert_buf b = {0};
	bool https = !strncasecmp(url, "https:", 6);

	alert_buf_str(&b, "{\"kind\":");
	alert_json_str(&b, m->kind);
	alert_buf_str(&b, ",\"owner\":");
	alert_json_str(&b, m->owner);
	alert_buf_str(&b, ",\"owner_name\":");
	alert_json_str(&b, m->owner_name);
	alert_buf_str(&b, ",\"service\":");
	alert_json_str(&b, m->service);
	alert_buf_str(&b, ",\"state\":");
	alert_json_str(&b, m->state);
	alert_buf_str(&b, ",\"previous\":");
	alert_json_str(&b, m->previous);
	alert_buf_printf(&b, ",\"since\":%" PRIu64 ",\"subject\":", m->since);
	alert_json_str(&b, m->subject);
	alert_buf_str(&b, ",\"text\":");
	alert_json_str(&b, m->text);
	alert_buf_str(&b, "}");
	j->payload = alert_buf_take(&b, &j->payload_len);
	if (!j->payload || list_add(j, "Content-Type: application/json"))
		return -ENOMEM;
	label_url(j, "webhook", url);
	return job_http(j, url, https, NULL);
}

/* The bearer header is built on the stack and wiped; the list holding its
 * copy is wiped when freed. */
static int matrix_headers(struct job *j, const char *token)
{
	char auth[CONF_TEXT_MAX + 32];
	int rc;

	j->list_secret = true;
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
	rc = list_add(j, auth);
	sodium_memzero(auth, sizeof(auth));
	return rc ? rc : list_add(j, "Content-Type: application/json");
}

static int job_matrix(struct job *j, const struct conf *c, const char *room,
                      const struct clean_msg *m)
{
	struct alert_buf url = {0}, body = {0};
	const char *hs = c->matrix_homeserver;
	size_t hs_len = strlen(hs);
	char txn[33], *u;
	int rc;

	while (hs_len && hs[hs_len - 1] == '/')
		hs_len--;
	random_hex(txn, 16); /* kept for every retry: Matrix drops a repeated txn */
	alert_buf_add(&url, hs, hs_len);
	alert_buf_str(&url, "/_matrix/client/v3/rooms/");
	alert_url_escape(&url, room);
	alert_buf_printf(&url, "/send/m.room.message/kith%s", txn);
	alert_buf_str(&body, "{\"msgtype\":\"m.text\",\"body\":\"");
	alert_json_chars(&body, m->subject);
	alert_buf_str(&body, "\\n");
	alert_json_chars(&body, m->text);
	alert_buf_str(&body, "\"}");
	u = alert_buf_take(&url, NULL);
	j->payload = alert_buf_take(&body, &j->payload_len);
	if (!u || !j->payload) {
		free(u);
		return -ENOMEM;
	}
	rc = matrix_headers(j, c->matrix_token);
	snprintf(j->label, sizeof(j->label), "matrix room %s", room);
	if (rc == 0)
		rc = job_http(j, u, !strncasecmp(hs, "https:", 6), "PUT");
	free(u);
	return rc;
}

static int job_ntfy(struct job *j, const char *url, const struct clean_msg *m)
{
	struct alert_buf body = {0}, title = {0};
	char *t, tags[ALERT_FIELD_MAX + 8];
	size_t state_len = strlen(m->state);
	int rc;

	alert_buf_str(&body, m->subject);
	alert_buf_str(&body, "\n");
	alert_buf_str(&body, m->text);
	j->payload = alert_buf_take(&body, &j->payload_len);
	alert_buf_str(&title, "Title: ");
	alert_header_text(&title, m->subject, " ");
	t = alert_buf_take(&title, NULL);
	if (!j->payload || !t) {
		free(t);
		return -ENOMEM;
	}
	rc = list_add(j, t);
	free(t);
	if (rc || list_add(j, "Content-Type: text/plain; charset=utf-8"))
		return -ENOMEM;
	/* A tag is a word: a state that is not one is left out. */
	snprintf(tags, sizeof(tags), "Tags: %s", m->state);
	if (state_len &&
	    strspn(m->state, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") ==
	        state_len &&
	    list_add(j, tags))
		return -ENOMEM;
	label_url(j, "ntfy", url);
	return job_http(j, url, !strncasecmp(url, "https:", 6), "POST");
}

static void list_free(struct curl_slist *list, bool secret)
{
	if (secret)
		for (struct curl_slist *s = list; s; s = s->next)
			sodium_memzero(s->data, strlen(s->data));
	curl_slist_free_all(list);
}

static void job_unlink(struct alert *a, struct job *j)
{
	if (j->prev)
		j->prev->next = j->next;
	else
		a->head = j->next;
	if (j->next)
		j->next->prev = j->prev;
	else
		a->tail = j->prev;
	a->stats.pending--;
}

/* Unlinks j if linked, stops what runs, frees. */
static void job_free(struct job *j, bool linked)
{
	struct alert *a = j->alert;

	if (linked)
		job_unlink(a, j);
	if (j->running)
		web_cancel(a->web, j->easy);
	loop_timer_stop(a->loop, &j->timer);
	if (j->easy)
		curl_easy_cleanup(j->easy);
	list_free(j->list, j->list_secret);
	free(j->payload);
	free(j);
}

static void job_start(struct job *j);

static void on_timer(struct loop *l, void *arg)
{
	(void)l;
	job_start(arg);
}

static void log_suppressed(struct log_limit *limit)
{
	if (limit->suppressed) {
		log_warnx("alert: %" PRIu64 " similar lines not logged", limit->suppressed);
		limit->suppressed = 0;
	}
}

static uint64_t retry_delay(uint64_t first_ms, uint32_t retries)
{
	uint64_t d = first_ms ? first_ms : 1;

	for (uint32_t i = 0; i < retries && d < ALERT_RETRY_CAP_MS; i++)
		d *= 2;
	return d < ALERT_RETRY_CAP_MS ? d : ALERT_RETRY_CAP_MS;
}

static void job_give_up(struct job *j, const char *why)
{
	struct alert *a = j->alert;

	a->stats.failed++;
	if (log_allow(&a->fail_log, loop_now_ms(a->loop))) {
		log_suppressed(&a->fail_log);
		log_warnx("alert: %s given up after %" PRIu32 " retries: %s", j->label, j->retries,
		          why);
	}
	job_free(j, true);
}

/* One attempt failed: retry after a doubled wait, or give up. */
static void job_failed(struct job *j, const char *why)
{
	struct alert *a = j->alert;
	uint64_t delay;

	if (j->retries >= a->conf->alert_retries) {
		job_give_up(j, why);
		return;
	}
	delay = retry_delay(a->conf->alert_retry_ms, j->retries);
	if (loop_timer_start(a->loop, &j->timer, delay) != 0) {
		job_give_up(j, "out of memory");
		return;
	}
	j->retries++;
	a->stats.retried++;
	if (log_allow(&a->fail_log, loop_now_ms(a->loop))) {
		log_suppressed(&a->fail_log);
		log_warnx("alert: %s failed: %s; retry %" PRIu32 " of %" PRIu32 " in %" PRIu64
		          " ms",
		          j->label, why, j->retries, a->conf->alert_retries, delay);
	}
}

static void job_done(void *arg, CURL *easy, CURLcode result)
{
	struct job *j = arg;
	char why[CURL_ERROR_SIZE + 64];
	long status = 0;

	j->running = false;
	if (result != CURLE_OK && j->guarded && j->guard.refused[0]) {
		/* It would be refused again: no retry. */
		snprintf(why, sizeof(why),
		         "%s is a private address, not reached for another member "
		         "([monitoring] refuse_private)",
		         j->guard.refused);
		job_give_up(j, why);
		return;
	}
	if (result != CURLE_OK) {
		snprintf(why, sizeof(why), "%s",
		         j->error[0] ? j->error : curl_easy_strerror(result));
		job_failed(j, why);
		return;
	}
	if (j->channel != ALERT_MAIL) {
		curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
		if (status < 200 || status > 299) {
			snprintf(why, sizeof(why), "HTTP status %ld", status);
			job_failed(j, why);
			return;
		}
	}
	j->alert->stats.sent++;
	log_debug("alert: %s sent", j->label);
	job_free(j, true);
}

static void job_start(struct job *j)
{
	struct alert *a = j->alert;
	int rc;

	j->read_pos = 0;
	j->error[0] = '\0';
	rc = web_submit(a->web, j->easy, job_done, j);
	if (rc == 0) {
		j->running = true;
	} else if (rc == -EBUSY) {
		/* Not an attempt: no retry is counted. */
		if (loop_timer_start(a->loop, &j->timer, ALERT_BUSY_WAIT_MS) != 0)
			job_give_up(j, "out of memory");
	} else {
		job_failed(j, proto_strerror(rc));
	}
}

/* Options every channel shares: bounded time, no signals, TLS checked. */
static int job_easy(struct job *j)
{
	bool bad = false;

	if (web_ready(j->alert->web) != 0)
		return -ENOMEM;
	j->easy = curl_easy_init();
	if (!j->easy)
		return -ENOMEM;
	bad |= curl_easy_setopt(j->easy, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
	bad |= curl_easy_setopt(j->easy, CURLOPT_TIMEOUT_MS, (long)ALERT_TIMEOUT_MS) != CURLE_OK;
	bad |= curl_easy_setopt(j->easy, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK;
	bad |= curl_easy_setopt(j->easy, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK;
	bad |= curl_easy_setopt(j->easy, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK;
	bad |= curl_easy_setopt(j->easy, CURLOPT_ERRORBUFFER, j->error) != CURLE_OK;
	return bad ? -ENOMEM : 0;
}

static int job_new(struct job **out, struct alert *a, enum alert_channel ch, const char *target,
                   const struct clean_msg *m, bool guarded)
{
	struct job *j = calloc(1, sizeof(*j));
	int rc;

	if (!j)
		return -ENOMEM;
	j->alert = a;
	j->channel = ch;
	loop_timer_init(&j->timer, on_timer, j);
	rc = job_easy(j);
	if (rc == 0) {
		switch (ch) {
		case ALERT_MAIL:
			rc = job_mail(j, a->conf, target, m);
			break;
		case ALERT_WEBHOOK:
			rc = job_webhook(j, target, m);
			break;
		case ALERT_MATRIX:
			rc = job_matrix(j, a->conf, target, m);
			break;
		case ALERT_NTFY:
			rc = job_ntfy(j, target, m);
			break;
		}
	}
	/* Mail and Matrix go to the servers of our own [alerts]; a webhook
	 * or ntfy URL is the member's choice. */
	j->guarded = guarded && (ch == ALERT_WEBHOOK || ch == ALERT_NTFY);
	if (rc == 0 && j->guarded)
		rc = web_guard_public(j->easy, &j->guard);
	if (rc) {
		job_free(j, false);
		return rc;
	}
	*out = j;
	return 0;
}

/* Beyond max_pending the oldest job goes, so memory stays bounded however
 * many alerts an outage causes. */
static void drop_oldest(struct alert *a)
{
	struct job *old = a->head;

	a->stats.dropped++;
	if (log_allow(&a->drop_log, loop_now_ms(a->loop)))
		log_warnx("alert: %" PRIu32 " alerts pending: dropping the oldest (%s)",
		          a->stats.pending, old->label);
	job_free(old, true);
}

static bool reachable(struct alert *a, enum alert_channel ch, const char *contact)
{
	const char *why = NULL;

	if (ch == ALERT_MAIL)
		why = mail_unconfigured(a->conf);
	else if (ch == ALERT_MATRIX)
		why = matrix_unconfigured(a->conf);
	if (why && log_allow(&a->config_log, loop_now_ms(a->loop)))
		log_warnx("alert: cannot alert %s: %s",
		          ch == ALERT_MAIL ? contact : "a matrix room", why);
	return why == NULL;
}

int alert_send(struct alert *a, const char *contact, const struct alert_message *m, bool for_other)
{
	struct clean_msg cm;
	struct job *j = NULL;
	enum alert_channel ch;
	const char *target, *why;
	int rc;

	if (alert_contact_parse(contact, &ch, &target, &why)) {
		if (log_allow(&a->config_log, loop_now_ms(a->loop)))
			log_warnx("alert: a contact cannot be reached: %s", why);
		return KITH_EVALUE;
	}
	if (!reachable(a, ch, target))
		return KITH_EVALUE;
	rc = clean_msg_init(&cm, m);
	if (rc)
		return rc;
	rc = job_new(&j, a, ch, target, &cm, for_other && a->conf->refuse_private);
	clean_msg_free(&cm);
	if (rc)
		return rc;
	while (a->head && a->stats.pending >= a->max_pending)
		drop_oldest(a);
	j->prev = a->tail;
	if (a->tail)
		a->tail->next = j;
	else
		a->head = j;
	a->tail = j;
	a->stats.pending++;
	a->stats.queued++;
	job_start(j);
	return 0;
}

/* Secrets that would cross the network unencrypted: said once at start. */
static void warn_cleartext(const struct conf *c)
{
	if (c->smtp_user[0] && c->smtp_tls != CONF_TLS_ALWAYS &&
	    strncasecmp(c->smtp_url, "smtps://", 8))
		log_warnx("alert: smtp_tls = %s: the SMTP password may cross the network in clear; "
		          "set smtp_tls = always",
		          tls_name(c->smtp_tls));
	if (c->matrix_token[0] && !strncasecmp(c->matrix_homeserver, "http://", 7))
		log_warnx(
		    "alert: matrix_homeserver is http://: the Matrix token crosses the network "
		    "in clear");
}

int alert_new(struct alert **out, struct loop *l, struct web *w, const struct conf *c)
{
	struct alert *a;

	if (sodium_init() < 0)
		return -ENOMEM;
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->loop = l;
	a->web = w;
	a->conf = c;
	a->max_pending = ALERT_PENDING_MAX;
	a->fail_log = (struct log_limit){.burst = LOG_BURST, .interval_ms = LOG_INTERVAL_MS};
	a->config_log = (struct log_limit){.burst = LOG_BURST, .interval_ms = LOG_INTERVAL_MS};
	a->drop_log = (struct log_limit){.burst = LOG_BURST, .interval_ms = LOG_INTERVAL_MS};
	warn_cleartext(c);
	*out = a;
	return 0;
}

void alert_set_max_pending(struct alert *a, uint32_t max)
{
	a->max_pending = max ? max : 1;
	while (a->head && a->stats.pending > a->max_pending)
		drop_oldest(a);
}

void alert_free(struct alert **pa)
{
	struct alert *a = pa ? *pa : NULL;

	if (!a)
		return;
	if (a->stats.pending)
		log_warnx("alert: %" PRIu32 " pending alerts abandoned", a->stats.pending);
	while (a->head)
		job_free(a->head, true);
	free(a);
	*pa = NULL;
}

void alert_get_stats(const struct alert *a, struct alert_stats *out)
{
	*out = a->stats;
}
