/* The agent's HTTP listener ([agent] metrics_listen, off by default):
 * /metrics for Prometheus (agent_metrics.c) and the status pages. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/error.h"
#include "agent_int.h"
#include "agent/core/httpd.h"
#include "agent/core/log.h"

static void text_reply(struct httpd_reply *r, unsigned status, const char *text)
{
	r->status = status;
	r->content_type = "text/plain; charset=utf-8";
	r->body = strdup(text);
	r->len = r->body ? strlen(r->body) : 0;
}

static void on_request(void *arg, const char *path, struct httpd_reply *r)
{
	struct agent *a = arg;
	int rc;

	if (!strcmp(path, "/metrics")) {
		rc = agent_metrics(a, &r->body, &r->len);
		if (rc) {
			log_warnx("metrics: %s", proto_strerror(rc));
			text_reply(r, 500, "the metrics could not be made: see the agent's log\n");
			return;
		}
		r->status = 200;
		r->content_type = "text/plain; version=0.0.4; charset=utf-8";
		return;
	}
	agent_pages(a, path, r);
}

int agent_http_start(struct agent *a, char *err, size_t n)
{
	char why[300];
	int rc;

	if (!a->conf.metrics_listen[0])
		return 0;
	rc = httpd_new(&a->httpd, a->loop, a->conf.metrics_listen, on_request, a, why, sizeof(why));
	if (rc) {
		snprintf(err, n, "metrics_listen: %s", why);
		return rc;
	}
	log_info("metrics and status pages on http://%s/", a->conf.metrics_listen);
	return 0;
}

void agent_http_stop(struct agent *a)
{
	httpd_free(&a->httpd);
}
