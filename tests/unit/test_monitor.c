/* The monitor alone, its agent played by callbacks: a quorum of granted
 * observers saying down makes one verdict event; an observer without a
 * grant does not count; a dead member makes one event when it has been
 * dead long enough and one when it is back, none when it returned before;
 * what we may check is asked for its details and shown as checked here. */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "proto/body.h"
#include "proto/mp.h"
#include "proto/record.h"
#include "agent/core/conf.h"
#include "agent/core/loop.h"
#include "agent/core/web.h"
#include "agent/monitor/monitor.h"
#include "tap.h"

static uint8_t self[PROTO_KEY_LEN], owner[PROTO_KEY_LEN], obs_a[PROTO_KEY_LEN],
    obs_b[PROTO_KEY_LEN], stranger[PROTO_KEY_LEN];
static struct monitor_event events[16];
static uint8_t event_peers[16][PROTO_KEY_LEN];
static size_t n_events;
static size_t details_asked;

static int publish(void *arg, const char *name, const uint8_t *body, size_t len, uint64_t ttl)
{
	(void)arg, (void)name, (void)body, (void)len, (void)ttl;
	return 0;
}

/* owner grants monitor to self, obs_a and obs_b; nobody grants stranger. */
static bool granted(void *arg, const uint8_t o[PROTO_KEY_LEN],
                    const uint8_t observer[PROTO_KEY_LEN], uint64_t now)
{
	(void)arg, (void)now;
	return !memcmp(o, owner, PROTO_KEY_LEN) && memcmp(observer, stranger, PROTO_KEY_LEN);
}

static int details(void *arg, const uint8_t o[PROTO_KEY_LEN], const char *name,
                   struct proto_service *spec)
{
	(void)arg, (void)o, (void)name;
	details_asked++;
	memset(spec, 0, sizeof(*spec));
	/* a port nothing listens on: checked, never reached within the test */
	snprintf(spec->url, sizeof(spec->url), "tcp://127.0.0.1:9");
	spec->interval_s = 3600;
	spec->timeout_s = 10;
	return 0;
}

static void on_event(void *arg, const struct monitor_event *ev)
{
	(void)arg;
	if (n_events < 16) {
		memcpy(event_peers[n_events], ev->peer, PROTO_KEY_LEN);
		events[n_events] = *ev;
		events[n_events].peer = event_peers[n_events];
		events[n_events].observers = NULL; /* borrowed for the call only */
		n_events++;
	}
}

static void feed_service(struct monitor *m, const char *name, uint32_t interval_s)
{
	static const uint8_t sealed[48] = {1}; /* opened by details(), not here */
	struct proto_service_record body = {.interval_s = interval_s, .n_boxes = 1};
	struct proto_record rec = {.kind = PROTO_KIND_SERVICE, .seq = 1};
	struct mp_buf buf = {0};

	memcpy(body.boxes[0].reader, self, PROTO_KEY_LEN);
	body.boxes[0].box = sealed;
	body.boxes[0].len = sizeof(sealed);
	memcpy(rec.author, owner, PROTO_KEY_LEN);
	snprintf(rec.name, sizeof(rec.name), "%s", name);
	is(proto_service_record_encode(&buf, &body), 0, "a service record");
	rec.body = buf.data;
	rec.body_len = buf.len;
	monitor_on_record(m, &rec);
	mp_buf_free(&buf);
}

static void feed_observation(struct monitor *m, const uint8_t observer[PROTO_KEY_LEN],
                             const char *service, enum proto_status status)
{
	struct proto_observation o = {.status = status, .checked_at = (uint64_t)time(NULL)};
	struct proto_record rec = {.kind = PROTO_KIND_OBSERVATION, .seq = 1};
	struct mp_buf buf = {0};

	memcpy(o.owner, owner, PROTO_KEY_LEN);
	snprintf(o.service, sizeof(o.service), "%s", service);
	memcpy(rec.author, observer, PROTO_KEY_LEN);
	snprintf(rec.name, sizeof(rec.name), "x/%s", service);
	is(proto_observation_encode(&buf, &o), 0, "an observation record");
	rec.body = buf.data;
	rec.body_len = buf.len;
	monitor_on_record(m, &rec);
	mp_buf_free(&buf);
}

/* Runs the loop for one sweep and a little more. */
static void sweep(struct loop *l)
{
	uint64_t end = loop_clock_ms() + MONITOR_TICK_MS + 200;

	while (loop_clock_ms() < end)
		loop_once(l, 50);
}

struct seen {
	size_t n;
	bool checked_here;
	size_t n_obs;
};

static void count(void *arg, const struct monitor_view *v)
{
	struct seen *s = arg;

	s->n++;
	if (!strcmp(v->name, "web")) {
		s->checked_here = v->checked_here;
		s->n_obs = v->n_obs;
	}
}

int main(void)
{
	struct loop *l = NULL;
	struct web *w = NULL;
	struct monitor *m = NULL;
	struct conf c;
	struct monitor_env env = {
	    .self = self, .conf = &c, .publish = publish, .granted = granted, .details = details};
	struct seen seen = {0};

	memset(self, 1, sizeof(self));
	memset(owner, 2, sizeof(owner));
	memset(obs_a, 3, sizeof(obs_a));
	memset(obs_b, 4, sizeof(obs_b));
	memset(stranger, 5, sizeof(stranger));
	conf_defaults(&c, CONF_PROFILE_LAN);
	c.quorum = 2;
	c.down_after = 1;
	c.dead_alert_ms = 0;
	ok(loop_new(&l) == 0 && web_new(&w, l) == 0, "a loop and an HTTP client");
	ok(monitor_new(&m, l, w, &env) == 0, "a monitor");
	for (int i = 0; i < MONITOR_SUBSCRIBERS_MAX; i++)
		monitor_subscribe(m, on_event, NULL);
	is(monitor_subscribe(m, on_event, NULL), -ENOSPC, "subscribers are bounded");

	/* Down by a granted observer and by one without a grant: no quorum. */
	feed_service(m, "web", 1);
	feed_observation(m, obs_a, "web", PROTO_STATUS_DOWN);
	feed_observation(m, stranger, "web", PROTO_STATUS_DOWN);
	sweep(l);
	is(n_events, 0, "one granted observer and a stranger: no verdict");
	ok(details_asked > 0, "a service we may check is asked for its details");
	monitor_each(m, count, &seen);
	is(seen.n, 1, "kith health lists the service");
	ok(seen.checked_here, "and shows it is checked here");
	is(seen.n_obs, 2, "with both observers' words");

	/* A second granted observer: a quorum says down. */
	feed_observation(m, obs_b, "web", PROTO_STATUS_DOWN);
	sweep(l);
	sweep(l);
	is(n_events, MONITOR_SUBSCRIBERS_MAX, "a quorum saying down: one event to each subscriber");
	ok(n_events > 0 && events[0].type == MONITOR_VERDICT && events[0].current == VERDICT_DOWN &&
	       events[0].previous == VERDICT_UNKNOWN &&
	       !memcmp(events[0].peer, owner, PROTO_KEY_LEN) && events[0].n_observers == 3,
	   "the event names the owner, unknown to down, and every observer");
	n_events = 0;
	sweep(l);
	is(n_events, 0, "no change: no event");

	/* Members: dead long enough (dead_alert_ms 0), then back. */
	monitor_member_changed(m, obs_a, PROTO_STATE_DEAD);
	sweep(l);
	ok(n_events == MONITOR_SUBSCRIBERS_MAX && events[0].type == MONITOR_MEMBER_DEAD &&
	       !memcmp(events[0].peer, obs_a, PROTO_KEY_LEN),
	   "a member dead: one event each");
	n_events = 0;
	sweep(l);
	is(n_events, 0, "told once");
	monitor_member_changed(m, obs_a, PROTO_STATE_ALIVE);
	sweep(l);
	ok(n_events == MONITOR_SUBSCRIBERS_MAX && events[0].type == MONITOR_MEMBER_BACK,
	   "back: one event each");
	n_events = 0;

	/* Dead and back before the announcement: nothing to tell. */
	c.dead_alert_ms = 3600 * 1000;
	monitor_member_changed(m, obs_b, PROTO_STATE_DEAD);
	sweep(l);
	monitor_member_changed(m, obs_b, PROTO_STATE_ALIVE);
	sweep(l);
	is(n_events, 0, "dead for less than dead_alert_ms: no event");

	/* The owner removes its service: gone from the list. */
	{
		struct proto_record rec = {.kind = PROTO_KIND_SERVICE, .seq = 2};
		memcpy(rec.author, owner, PROTO_KEY_LEN);
		snprintf(rec.name, sizeof(rec.name), "web");
		monitor_on_record(m, &rec);
	}
	seen = (struct seen){0};
	monitor_each(m, count, &seen);
	is(seen.n, 0, "a removed service is not listed");

	monitor_free(&m);
	ok(m == NULL, "freed");
	web_free(&w);
	loop_free(&l);
	return tap_done();
}
