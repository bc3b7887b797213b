/* kithd's modules wired together: trust decides who is a member, net
 * carries bytes, member watches liveness, gossip replicates records, ctl
 * answers the kith command. Each module only knows the callbacks below. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "proto/error.h"
#include "proto/identity.h"
#include "proto/kit.h"
#include "proto/peerid.h"
#include "proto/wire.h"
#include "store/store.h"
#include "agent_int.h"
#include "agent/core/log.h"
#include "agent/monitor/health.h"

static int signal_write_fd = -1;

static void on_signal(int sig)
{
	int saved = errno;
	unsigned char c = (unsigned char)sig;

	if (write(signal_write_fd, &c, 1) < 0) {
		/* the pipe is full: a signal is already pending */
	}
	errno = saved;
}

/* ---- trust ---- */

static void trust_added(void *arg, const uint8_t peer[PROTO_KEY_LEN])
{
	struct agent *a = arg;
	char who[PROTO_PEERID_SHORT_LEN + 1];

	if (a->gossip)
		gossip_authors_changed(a->gossip);
	/* During start-up the members are handed to the membership module
	 * once it exists (see agent_new). */
	if (!a->member || !memcmp(peer, a->id->pk, PROTO_KEY_LEN))
		return;
	proto_peerid_short(who, peer);
	log_info("%s is now a member", who);
	if (member_add(a->member, peer) != 0)
		log_warnx("cannot track member %s: out of memory", who);
}

static void trust_removed(void *arg, const uint8_t peer[PROTO_KEY_LEN])
{
	struct agent *a = arg;
	const struct trust_member *m = trust_get(a->trust, peer);
	char who[PROTO_PEERID_SHORT_LEN + 1];

	if (a->gossip)
		gossip_authors_changed(a->gossip);
	if (!a->member || !memcmp(peer, a->id->pk, PROTO_KEY_LEN))
		return;
	proto_peerid_short(who, peer);
	member_remove(a->member, peer);
	backlog_forget(a->backlog, peer);
	/* ZAP only runs at the handshake: the live connections go now. An
	 * ejected peer is refused from then on, joins included. */
	if (m && m->ejected) {
		log_info("%s was ejected from the network: dropping its connections", who);
		net_ban(a->net, peer, UINT64_MAX);
		if (a->upkeep) /* else upkeep_new() finds it ejected */
			upkeep_drop(a->upkeep, peer);
	} else {
		log_info("%s is no longer a member", who);
		net_disconnect(a->net, peer);
	}
}

static const struct trust_ops trust_ops = {.added = trust_added, .removed = trust_removed};

/* ---- transport ---- */

int agent_send(struct agent *a, const uint8_t peer[PROTO_KEY_LEN], const uint8_t *buf, size_t len)
{
	const struct trust_member *m = trust_get(a->trust, peer);

	if (!m || !m->endpoint[0])
		return -EHOSTUNREACH;
	return net_send(a->net, peer, m->endpoint, buf, len);
}

static bool net_lookup(void *arg, const uint8_t curve[PROTO_KEY_LEN], uint8_t peer[PROTO_KEY_LEN])
{
	struct agent *a = arg;
	const struct trust_member *m = trust_by_curve(a->trust, curve);

	if (!m)
		return false;
	memcpy(peer, m->peer, PROTO_KEY_LEN);
	return true;
}

static void on_probe(struct agent *a, const struct net_from *from, const uint8_t *buf, size_t len)
{
	struct proto_probe msg;
	uint8_t type;
	int err = proto_probe_decode(&msg, &type, buf, len);

	if (err) {
		net_penalize(a->net, from, proto_strerror(err));
		return;
	}
	member_on_message(a->member, from->peer, type, &msg);
}

/* A message whose work the backlog bounds (see backlog.h), now or in a
 * later turn: its sender is checked again, it may have waited. */
static void on_heavy(void *arg, const struct net_from *from, uint8_t type, const uint8_t *buf,
                     size_t len)
{
	struct agent *a = arg;
	int err;

	if (!trust_is_member(a->trust, from->peer) || net_banned(a->net, from->peer))
		return;
	switch (type) {
	case PROTO_MSG_REQUEST:
		agent_on_request(a, from, buf, len);
		return;
	case PROTO_MSG_JOIN:
		agent_on_join(a, from, buf, len);
		return;
	default: /* SUMMARY, SYNC, RECORDS */
		err = gossip_on_message(a->gossip, from->peer, type, buf, len);
		if (err)
			net_penalize(a->net, from, proto_strerror(err));
	}
}

/* The backlog had no room for it: records come again by anti-entropy, a
 * requester is told to try again. */
static void refuse_heavy(struct agent *a, const struct net_from *from, uint8_t type,
                         const uint8_t *buf, size_t len)
{
	char who[PROTO_PEERID_SHORT_LEN + 8] = "from ";

	if (type == PROTO_MSG_REQUEST)
		agent_request_busy(a, from, buf, len);
	proto_peerid_short(who + 5, from->peer);
	log_tally(LOG_LEVEL_INFO, "dropped", 1, "message", who,
	          "busy: its last message still waits for the work it asks");
}

static void net_recv(void *arg, const struct net_from *from, const uint8_t *buf, size_t len)
{
	struct agent *a = arg;
	uint8_t type;
	int err;

	err = proto_msg_type(buf, len, &type);
	if (err) {
		net_penalize(a->net, from, proto_strerror(err));
		return;
	}
	if (type == PROTO_MSG_JOIN && from->guest) {
		/* A guest's one JOIN: whatever it sends next is dropped, and
		 * its connection closed once the answer has left. */
		net_guest_done(a->net, from);
		agent_on_join(a, from, buf, len);
		return;
	}
	if (from->guest) {
		/* A stranger may ask to join, and say nothing else. Most such
		 * messages come from a new member whose admission has not
		 * reached us yet: dropped and counted, not punished (which
		 * would ban its address for everyone behind it). The guest's
		 * budget (net_conn.c) bounds what a real stranger can send. */
		a->guest_dropped++;
		log_debug("dropping a message of type %u from a guest", type);
		return;
	}
	/* Answers on a connection we opened come from whoever we dialled:
	 * before we join, the issuer is no member of ours yet. */
	if (!trust_is_member(a->trust, from->peer)) {
		if (type == PROTO_MSG_JOIN_REPLY && agent_join_waits_for(a, from->peer))
			agent_on_join_reply(a, from, buf, len);
		else
			log_debug("ignoring a message of type %u from a non-member", type);
		return;
	}
	switch (type) {
	case PROTO_MSG_REQUEST:
	case PROTO_MSG_JOIN:
	case PROTO_MSG_SUMMARY:
	case PROTO_MSG_SYNC:
	case PROTO_MSG_RECORDS:
		err = backlog_submit(a->backlog, from, type, buf, len);
		if (err)
			refuse_heavy(a, from, type, buf, len);
		return;
	case PROTO_MSG_RESPONSE:
		agent_on_response(a, from, buf, len);
		return;
	case PROTO_MSG_JOIN_REPLY:
		if (agent_join_waits_for(a, from->peer))
			agent_on_join_reply(a, from, buf, len);
		return;
	case PROTO_MSG_PING:
	case PROTO_MSG_ACK:
	case PROTO_MSG_PING_REQ:
	case PROTO_MSG_NACK:
	case PROTO_MSG_GOSSIP:
		on_probe(a, from, buf, len);
		return;
	}
	/* A newer agent may speak types we do not know: not an offence. */
	log_debug("ignoring a message of unknown type %u", type);
}

static const struct net_ops net_ops = {.lookup = net_lookup, .recv = net_recv};

/* ---- membership ---- */

static void member_send(void *arg, const uint8_t peer[PROTO_KEY_LEN], uint8_t type,
                        const struct proto_probe *msg)
{
	struct agent *a = arg;
	struct mp_buf buf = {0};
	int err = proto_probe_encode(&buf, type, msg);

	/* The membership module built msg: a refusal is our own bug. */
	if (err)
		log_warnx("cannot encode a membership message of type %u: %s", type,
		          proto_strerror(err));
	else
		agent_send(a, peer, buf.data, buf.len);
	mp_buf_free(&buf);
}

static void member_changed(void *arg, const uint8_t peer[PROTO_KEY_LEN],
                           enum proto_member_state state)
{
	struct agent *a = arg;
	const struct trust_member *m = trust_get(a->trust, peer);
	char who[PROTO_PEERID_SHORT_LEN + 1];

	proto_peerid_short(who, peer);
	log_info("member %s (%s) is %s", who, m && m->name[0] ? m->name : "unnamed",
	         proto_member_state_name(state));
	agent_monitor_member_changed(a, peer, state);
	if (state == PROTO_STATE_ALIVE && !a->stopping)
		gossip_sync_with(a->gossip, peer);
	else if (state == PROTO_STATE_DEAD || state == PROTO_STATE_LEFT)
		net_disconnect(a->net, peer);
}

static const struct member_ops member_ops = {.send = member_send, .changed = member_changed};

/* ---- gossip ---- */

static int gossip_send(void *arg, const uint8_t peer[PROTO_KEY_LEN], const uint8_t *buf, size_t len)
{
	return agent_send(arg, peer, buf, len);
}

static size_t gossip_pick(void *arg, uint8_t (*out)[PROTO_KEY_LEN], size_t n)
{
	struct agent *a = arg;

	return member_pick_alive(a->member, out, n);
}

static size_t gossip_live(void *arg)
{
	struct agent *a = arg;

	return member_alive_count(a->member);
}

static bool gossip_accept(void *arg, const uint8_t author[PROTO_KEY_LEN])
{
	struct agent *a = arg;

	return trust_is_member(a->trust, author);
}

static void gossip_stored(void *arg, const struct proto_record *rec)
{
	struct agent *a = arg;
	char who[PROTO_PEERID_SHORT_LEN + 4];
	int err = trust_on_record(a->trust, rec);

	agent_monitor_on_record(a, rec);
	if (err) {
		memcpy(who, "of ", 3);
		proto_peerid_short(who + 3, rec->author);
		log_tally(LOG_LEVEL_WARN, "did not understand", 1, "trust record", who,
		          proto_strerror(err));
	}
}

static const struct store_budget *gossip_budget(void *arg, const uint8_t author[PROTO_KEY_LEN],
                                                uint8_t kind, const char **why)
{
	struct agent *a = arg;

	return upkeep_budget(a->upkeep, author, kind, why);
}

static void resync_path(const struct agent *a, char *path, size_t n)
{
	snprintf(path, n, "%s/%s", a->data_dir, PROTO_KIT_RESYNC_FILE);
}

/* Restored from the kit (kith init --restore left the file): our records
 * from before the loss come back from partners, above which we sign. */
static void resync_if_restored(struct agent *a)
{
	char path[4200];
	uint64_t head = 0;

	resync_path(a, path, sizeof(path));
	if (access(path, F_OK) != 0 || store_head_get(a->store, a->id->pk, &head) != 0)
		return;
	log_info("restored from a recovery kit: asking partners for our earlier records");
	gossip_resync_own(a->gossip, head);
}

static void gossip_resynced(void *arg)
{
	struct agent *a = arg;
	char path[4200];

	resync_path(a, path, sizeof(path));
	if (unlink(path) != 0 && errno != ENOENT)
		log_warn("cannot remove %s", path);
}

static const struct gossip_ops gossip_ops = {
    .send = gossip_send,
    .pick = gossip_pick,
    .live = gossip_live,
    .accept = gossip_accept,
    .stored = gossip_stored,
    .budget = gossip_budget,
    .resynced = gossip_resynced,
};

/* ---- life cycle ---- */

static void refresh_tick(struct loop *l, void *arg)
{
	struct agent *a = arg;
	uint64_t pruned = 0;
	int err = agent_refresh_member(a);

	if (err)
		log_warnx("cannot refresh our member record: %s", proto_strerror(err));
	/* Expired invitations, and their secrets, go. */
	err = store_invites_prune(a->store, loop_wall_s(), &pruned);
	if (err)
		log_warnx("cannot prune expired invitations: %s", proto_strerror(err));
	else if (pruned)
		log_info("forgot %llu expired invitation(s)", (unsigned long long)pruned);
	agent_pages_upkeep(a);
	loop_timer_start(l, &a->refresh, AGENT_REFRESH_MS);
}

static void stop_tick(struct loop *l, void *arg)
{
	(void)arg;
	loop_stop(l);
}

static void reload(struct agent *a)
{
	struct conf next;
	char err[300];

	if (conf_load(&next, a->config_path, err, sizeof(err)) != 0) {
		log_warnx("reload: %s; keeping the running configuration", err);
		return;
	}
	if (strcmp(next.listen, a->conf.listen) || strcmp(next.advertise, a->conf.advertise) ||
	    strcmp(next.metrics_listen, a->conf.metrics_listen))
		log_warnx(
		    "reload: listen, advertise and metrics_listen change only with a restart");
	snprintf(next.listen, sizeof(next.listen), "%s", a->conf.listen);
	snprintf(next.advertise, sizeof(next.advertise), "%s", a->conf.advertise);
	snprintf(next.metrics_listen, sizeof(next.metrics_listen), "%s", a->conf.metrics_listen);
	/* The modules read the configuration through a pointer to a->conf:
	 * new timings and limits apply from their next use. */
	a->conf = next;
	log_set_level(next.log_level);
	/* The one setting a module copies rather than reads through a->conf. */
	if (a->health)
		health_set_refuse_private(a->health, a->conf.refuse_private != 0);
	log_info("configuration reloaded from %s", a->config_path);
}

/* Refutations raise our incarnation while we run; the next start must
 * begin above the highest one we used. */
static void save_incarnation(struct agent *a)
{
	struct member_info self;
	uint64_t next;

	if (member_get(a->member, a->id->pk, &self) == 0 && self.incarnation > a->incarnation &&
	    store_counter_next(a->store, "incarnation", 1, self.incarnation, &next) != 0)
		log_warnx("cannot save our incarnation %llu", (unsigned long long)self.incarnation);
}

static void begin_stop(struct agent *a)
{
	if (a->stopping) {
		loop_stop(a->loop);
		return;
	}
	a->stopping = true;
	log_info("leaving the network");
	save_incarnation(a);
	member_leave(a->member);
	/* Time for the left update to go out before the sockets close. */
	loop_timer_start(a->loop, &a->stop, a->conf.probe_timeout_ms + 200);
}

static void on_signal_pipe(struct loop *l, void *arg, short revents)
{
	struct agent *a = arg;
	unsigned char sig;

	(void)l;
	(void)revents;
	while (read(a->signal_pipe[0], &sig, 1) == 1) {
		if (sig == SIGHUP)
			reload(a);
		else
			begin_stop(a);
	}
}

static int setup_signals(struct agent *a)
{
	struct sigaction sa = {0};

	if (pipe(a->signal_pipe) != 0)
		return -errno;
	for (int i = 0; i < 2; i++) {
		fcntl(a->signal_pipe[i], F_SETFL, fcntl(a->signal_pipe[i], F_GETFL) | O_NONBLOCK);
		fcntl(a->signal_pipe[i], F_SETFD, FD_CLOEXEC);
	}
	signal_write_fd = a->signal_pipe[1];
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	return loop_watch(a->loop, NULL, a->signal_pipe[0], ZMQ_POLLIN, on_signal_pipe, a);
}

/* One kithd per data directory: a second one would fight over the port and
 * the control socket. The lock goes with the process, even on kill -9. */
static int take_lock(struct agent *a, char *err, size_t n)
{
	char path[4200], pid[32];
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	int len;

	snprintf(path, sizeof(path), "%s/kithd.lock", a->data_dir);
	a->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (a->lock_fd < 0) {
		snprintf(err, n, "%s: %s", path, strerror(errno));
		return -errno;
	}
	if (fcntl(a->lock_fd, F_SETLK, &fl) != 0) {
		snprintf(err, n, "another kithd is running on %s", a->data_dir);
		return -EBUSY;
	}
	len = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(a->lock_fd, 0) != 0 || write(a->lock_fd, pid, (size_t)len) != len)
		log_warn("%s", path);
	return 0;
}

static void add_known_member(void *arg, const struct trust_member *m)
{
	struct agent *a = arg;

	if (memcmp(m->peer, a->id->pk, PROTO_KEY_LEN) != 0)
		member_add(a->member, m->peer);
}

/* Everything that needs the identity, the configuration and the store. */
static int start_modules(struct agent *a, char *err, size_t n)
{
	uint8_t founder[PROTO_KEY_LEN];
	int rc;

	rc = store_founder_get(a->store, founder);
	/* A store made before founders were recorded: its agent founded
	 * its own network. */
	if (rc == -ENOENT) {
		memcpy(founder, a->id->pk, PROTO_KEY_LEN);
		rc = store_founder_set(a->store, founder);
	}
	if (!rc)
		rc = store_counter_next(a->store, "incarnation", 1, 0, &a->incarnation);
	if (!rc)
		rc = trust_new(&a->trust, a->id->pk, founder, &trust_ops, a);
	if (!rc)
		rc = trust_load(a->trust, a->store);
	if (rc) {
		snprintf(err, n, "cannot read the store: %s", proto_strerror(rc));
		return rc;
	}
	rc = net_new(&a->net, a->loop, a->id, &a->conf, &net_ops, a);
	if (rc) {
		snprintf(err, n, "cannot listen on %s: %s", a->conf.listen, proto_strerror(rc));
		return rc;
	}
	rc = member_new(&a->member, a->loop, a->id, &a->conf, a->incarnation, &member_ops, a);
	if (!rc)
		rc = backlog_new(&a->backlog, a->loop, on_heavy, a);
	if (!rc)
		rc = gossip_new(&a->gossip, a->loop, a->store, &a->conf, a->id->pk, &gossip_ops, a);
	if (rc) {
		snprintf(err, n, "cannot start: %s", proto_strerror(rc));
		return rc;
	}
	trust_each(a->trust, false, add_known_member, a);
	rc = agent_monitor_new(a);
	if (!rc)
		rc = agent_dns_new(a);
	if (!rc)
		rc = agent_pages_start(a);
	if (rc) {
		snprintf(err, n, "cannot start the monitoring: %s", proto_strerror(rc));
		return rc;
	}
	rc = agent_upkeep_new(a);
	if (rc) {
		snprintf(err, n, "cannot start: %s", proto_strerror(rc));
		return rc;
	}
	rc = agent_hold_start(a, err, n);
	if (rc) {
		if (rc == -ENOMEM)
			snprintf(err, n, "out of memory");
		return rc;
	}
	rc = control_new(&a->ctl, a->loop, a->zmq, a->data_dir, agent_ctl_commands,
	                 agent_ctl_n_commands, a);
	if (rc) {
		snprintf(err, n, "cannot open the control socket in %s: %s", a->data_dir,
		         proto_strerror(rc));
		return rc;
	}
	return agent_http_start(a, err, n);
}

int agent_new(struct agent **out, const char *data_dir, const char *config_path, char *err,
              size_t n)
{
	struct agent *a = calloc(1, sizeof(*a));
	char path[4200];
	int rc;

	if (!a)
		return -ENOMEM;
	a->lock_fd = a->signal_pipe[0] = a->signal_pipe[1] = -1;
	snprintf(a->data_dir, sizeof(a->data_dir), "%s", data_dir);
	if (config_path)
		snprintf(a->config_path, sizeof(a->config_path), "%s", config_path);
	else
		snprintf(a->config_path, sizeof(a->config_path), "%s/%s", data_dir, CONF_FILE);
	loop_timer_init(&a->refresh, refresh_tick, a);
	loop_timer_init(&a->stop, stop_tick, a);
	agent_init_calls(a);
	agent_join_init(a);

	rc = take_lock(a, err, n);
	if (rc)
		goto fail;
	rc = conf_load(&a->conf, a->config_path, err, n);
	if (rc)
		goto fail;
	log_set_level(a->conf.log_level);
	snprintf(path, sizeof(path), "%s/%s", data_dir, PROTO_IDENTITY_FILE);
	rc = proto_identity_load(&a->id, path);
	if (rc) {
		snprintf(err, n, "%s: %s", path, proto_strerror(rc));
		goto fail;
	}
	rc = store_open(
	    &a->store, data_dir,
	    &(struct store_options){.map_size = a->conf.map_size, .map_max = a->conf.map_max});
	if (rc) {
		snprintf(err, n, "cannot open the store in %s: %s", data_dir, proto_strerror(rc));
		goto fail;
	}
	rc = loop_new(&a->loop);
	a->zmq = zmq_ctx_new();
	if (rc || !a->zmq) {
		snprintf(err, n, "out of memory");
		rc = -ENOMEM;
		goto fail;
	}
	rc = start_modules(a, err, n);
	if (rc)
		goto fail;
	rc = setup_signals(a);
	if (rc) {
		snprintf(err, n, "cannot set up signals: %s", proto_strerror(rc));
		goto fail;
	}
	*out = a;
	return 0;
fail:
	agent_free(&a);
	return rc;
}

int agent_run(struct agent *a)
{
	char id[PROTO_PEERID_TEXT_LEN + 1];
	int rc;

	proto_peerid_format(id, a->id->pk);
	a->started_ms = loop_now_ms(a->loop);
	log_info("kithd %s starting: %s, incarnation %llu, %zu members, listening on %s",
	         KITH_VERSION, id, (unsigned long long)a->incarnation, trust_count(a->trust),
	         a->conf.listen);
	refresh_tick(a->loop, a);
	resync_if_restored(a);
	rc = member_start(a->member);
	if (!rc)
		rc = gossip_start(a->gossip);
	if (!rc)
		agent_audit_start(a);
	if (!rc)
		rc = loop_run(a->loop);
	log_info("kithd stopped");
	return rc;
}

void agent_free(struct agent **ap)
{
	struct agent *a = ap ? *ap : NULL;

	if (!a)
		return;
	if (a->ctl) {
		agent_join_cancel(a);
		agent_calls_cancel(a);
	}
	agent_audit_stop(a);
	/* Before net and the store: the commits in flight are answered. */
	agent_hold_stop(a);
	upkeep_free(&a->upkeep);
	agent_http_stop(a);
	control_free(&a->ctl);
	agent_dns_free(a);
	agent_monitor_free(a);
	gossip_free(&a->gossip);
	backlog_free(&a->backlog);
	member_free(&a->member);
	net_free(&a->net);
	trust_free(&a->trust);
	if (a->zmq)
		zmq_ctx_term(a->zmq);
	loop_free(&a->loop);
	store_close(&a->store);
	proto_identity_free(&a->id);
	for (int i = 0; i < 2; i++)
		if (a->signal_pipe[i] >= 0)
			close(a->signal_pipe[i]);
	if (a->lock_fd >= 0)
		close(a->lock_fd);
	free(a);
	*ap = NULL;
}
