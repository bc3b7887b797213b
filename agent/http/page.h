/* The status pages, as HTML and as JSON: the network's (every member, its
 * state and its services' verdicts) and one member's (each service's
 * verdict and since when, its uptime over 90 days as a bar, and every
 * observer's view). Pure: no I/O, no clock, no agent internals. The
 * caller fills the model below, renders into a struct page_buf and
 * serves the bytes; the module owns nothing between calls.
 *
 * Every text of the model is untrusted: member names and error texts
 * come from peers. Each is read up to its array's size, so a missing NUL
 * is not read past; invalid UTF-8 becomes U+FFFD, one per bad byte, as do
 * control characters (tab, CR and LF become spaces) and the bidirectional
 * embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069),
 * which could make a name read as another; the rest is escaped for HTML
 * (& < > " ') or JSON (" \ < > & U+2028 U+2029 as \uXXXX). Times past
 * 9999-12-31 read as unknown (HTML) or null (JSON).
 *
 * The HTML pages are whole documents, in English: no script, no external
 * asset (the CSS is in the page, the bars are inline SVG), a
 * Content-Security-Policy meta tag that would refuse both anyway, readable
 * on a phone. Elements a browser test reads carry stable hooks:
 *   network page  tr.member[data-peer][data-state], its link
 *                 a[href="/member/PEERID"], li.service[data-service]
 *                 [data-verdict]
 *   member page   section.service#service-NAME[data-service][data-verdict]
 *                 [data-since], p.uptime[data-uptime] (ratio, "" when
 *                 unknown), svg.bar > rect.day[data-day="YYYY-MM-DD"]
 *                 [data-state] (90 of them, oldest first, each with a
 *                 <title>), tr.observer[data-peer][data-status]
 *   both          body[data-page="network"|"member"], data-generated
 *                 (Unix seconds)
 * NAME in an id keeps A-Z a-z 0-9 - _ . and turns any other byte into
 * '_' (a service's name is always kept whole).
 *
 * JSON (Unix seconds for every time, null when unknown):
 *   network  {"generated_at", "self": {"peer_id", "name"},
 *             "members": [{"peer_id", "name", "state",
 *                          "services": [{"name", "verdict", "since"}]}]}
 *   member   {"generated_at", "self", "member": {"peer_id", "name", "state",
 *             "services": [{"name", "verdict", "since",
 *               "uptime": null | {"ratio" (null when no known time),
 *                 "up_s", "degraded_s", "down_s", "unknown_s",
 *                 "days": [{"date", "start", "state", "up", "degraded",
 *                           "down", "unknown"}]},
 *               "observers": [{"peer_id", "name", "status", "latency_ms",
 *                              "checked_at", "error"}]}]}}
 *   verdicts and states are words: "up" "degraded" "down" "unknown",
 *   "alive" "suspect" "dead" "left" "unknown". */
#ifndef KITH_AGENT_HTTP_PAGE_H
#define KITH_AGENT_HTTP_PAGE_H

#include <stddef.h>
#include <stdint.h>

#include "agent/monitor/uptime.h"
#include "agent/monitor/verdict.h"
#include "proto/body.h"
#include "proto/limits.h"
#include "proto/peerid.h"
#include "proto/wire.h"

/* The largest page: one that would be larger is refused, not cut. */
#define PAGE_SIZE_MAX ((size_t)4 << 20)

/* A growing output buffer with a cap. Zero it before the first use; a
 * render empties it first, so one buffer serves many pages. */
struct page_buf {
	char *data; /* owned; after a render that returned 0, len bytes and a NUL */
	size_t len;
	size_t cap; /* bytes allocated */
	size_t max; /* the cap on len; 0: PAGE_SIZE_MAX */
	int err;    /* sticky within a render: -ENOMEM or KITH_ETOOBIG */
};

/* Frees b->data and zeroes all but max; harmless on a zeroed buffer. */
void page_buf_free(struct page_buf *b);

/* One observer's latest word on a service. */
struct page_observer {
	char peer_id[PROTO_PEERID_TEXT_LEN + 1];
	char name[PROTO_MEMBER_NAME_MAX + 1]; /* from its member record; "" when unknown */
	enum proto_status status;             /* 0: no word */
	uint32_t latency_ms;
	uint64_t checked_at; /* Unix seconds; 0: never */
	char error[PROTO_ERRTEXT_MAX + 1];
};

struct page_service {
	char name[PROTO_SERVICE_NAME_MAX + 1];
	enum verdict verdict;
	uint64_t since; /* the verdict's last change, Unix seconds; 0: unknown */
	/* The last 90 days (uptime_compute() at the site's now); borrowed,
	 * NULL when there is no history. The network page does not use it. */
	const struct uptime *uptime;
	size_t n_observers;
	const struct page_observer *observers; /* borrowed, n_observers of them */
};

struct page_member {
	char peer_id[PROTO_PEERID_TEXT_LEN + 1];
	char name[PROTO_MEMBER_NAME_MAX + 1]; /* "" when unknown */
	enum proto_member_state state;        /* 0: unknown */
	size_t n_services;
	const struct page_service *services; /* borrowed, n_services of them */
};

/* The agent that serves the page, and when it renders it. */
struct page_site {
	uint64_t now; /* Unix seconds */
	char peer_id[PROTO_PEERID_TEXT_LEN + 1];
	char name[PROTO_MEMBER_NAME_MAX + 1];
};

/* Each renders into out (emptied first); site and the model are borrowed.
 * Returns 0 with out->data holding the page, or -ENOMEM or KITH_ETOOBIG
 * (over out->max) with out freed: never part of a page. */

/* The network page: members[0..n) in the order given. */
int page_network_html(struct page_buf *out, const struct page_site *site,
                      const struct page_member *members, size_t n);
int page_network_json(struct page_buf *out, const struct page_site *site,
                      const struct page_member *members, size_t n);
/* One member's page. */
int page_member_html(struct page_buf *out, const struct page_site *site,
                     const struct page_member *m);
int page_member_json(struct page_buf *out, const struct page_site *site,
                     const struct page_member *m);

#endif
