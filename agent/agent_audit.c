/* The owner's audits: every [backup] audit, when we have backups, kithd
 * runs `kith backup repair --read-data=P --dead-for D` as a child process:
 * it reads a share of our shards back at their holders and moves what is
 * lost (a holder dead for [backup] dead_for, without a grant to us any
 * more, missing a shard or keeping it wrong) to other holders. The work
 * (reading, decoding, coding, shipping) is kith's, never this loop's; the
 * child talks to us through the control socket like any kith. One run at a
 * time; its output goes to DATA/backup-audit.log, its end to our log. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proto/record.h"
#include "proto/identity.h"
#include "store/store.h"
#include "agent_int.h"
#include "agent/core/log.h"

extern char **environ;

/* How often a running audit is looked in on. */
#define AUDIT_POLL_MS 1000
#define AUDIT_LOG "backup-audit.log"

static int has_root(void *arg, const uint8_t *buf, size_t len)
{
	struct proto_record rec;

	(void)arg;
	/* A tombstone (forgotten snapshot) has an empty body. */
	return proto_record_decode(&rec, buf, len) == 0 && rec.body_len ? 1 : 0;
}

static void spawn_audit(struct agent *a)
{
	char read_data[32], dead_for[32], log_path[4200];
	const char *kith = a->conf.backup_kith[0] ? a->conf.backup_kith : "kith";
	char *argv[] = {(char *)kith, "backup", "repair", read_data,   "--dead-for",
	                dead_for,     "--json", "--data", a->data_dir, NULL};
	posix_spawn_file_actions_t fa;
	int fd, rc;

	if (store_records_of_kind(a->store, a->id->pk, PROTO_KIND_BACKUP, has_root, NULL) != 1)
		return; /* no backup of ours to audit */
	snprintf(read_data, sizeof(read_data), "--read-data=%u", a->conf.backup_audit_read);
	snprintf(dead_for, sizeof(dead_for), "%llus",
	         (unsigned long long)(a->conf.backup_dead_for_ms / 1000));
	snprintf(log_path, sizeof(log_path), "%s/%s", a->data_dir, AUDIT_LOG);
	fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0) {
		log_warn("cannot open %s", log_path);
		return;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, fd, STDOUT_FILENO);
	posix_spawn_file_actions_adddup2(&fa, fd, STDERR_FILENO);
	rc = posix_spawnp(&a->audit_pid, kith, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(fd);
	if (rc) {
		a->audit_pid = 0;
		errno = rc;
		log_warn("cannot run %s for the backup audit ([backup] kith)", kith);
		return;
	}
	log_info("backup audit started (%s backup repair, pid %d)", kith, (int)a->audit_pid);
}

static void audit_tick(struct loop *l, void *arg)
{
	struct agent *a = arg;
	uint64_t now = loop_now_ms(l);
	int status;

	if (a->audit_pid) {
		pid_t got = waitpid(a->audit_pid, &status, WNOHANG);
		if (got == 0) {
			loop_timer_start(l, &a->audit_timer, AUDIT_POLL_MS);
			return;
		}
		if (got == a->audit_pid) {
			if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
				log_info("backup audit done: every snapshot is whole (%s)",
				         AUDIT_LOG);
			else
				log_warnx(
				    "backup audit found what it could not repair: see %s in the "
				    "data directory",
				    AUDIT_LOG);
		}
		a->audit_pid = 0;
	}
	if (now >= a->audit_due_ms) {
		a->audit_due_ms = now + a->conf.backup_audit_ms;
		spawn_audit(a);
	}
	loop_timer_start(l, &a->audit_timer, a->audit_pid ? AUDIT_POLL_MS : a->audit_due_ms - now);
}

void agent_audit_start(struct agent *a)
{
	if (!a->conf.backup_audit_ms)
		return;
	loop_timer_init(&a->audit_timer, audit_tick, a);
	/* The first after one period: a kithd just started has not yet heard
	 * which members are alive. */
	a->audit_due_ms = loop_now_ms(a->loop) + a->conf.backup_audit_ms;
	loop_timer_start(a->loop, &a->audit_timer, a->conf.backup_audit_ms);
}

void agent_audit_stop(struct agent *a)
{
	int status;

	if (!a->audit_pid)
		return;
	/* kith stops at once on SIGTERM: what it had not finished is redone
	 * at the next audit. */
	kill(a->audit_pid, SIGTERM);
	waitpid(a->audit_pid, &status, 0);
	a->audit_pid = 0;
}
