/* kith backup ls and verify: our snapshots, and the health of their
 * shards at the holders (backup_audit.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "proto/ctl.h"
#include "proto/error.h"
#include "proto/identity.h"
#include "proto/peerid.h"
#include "agentctl.h"
#include "backup.h"
#include "backup_audit.h"
#include "backup_cache.h"
#include "cli.h"
#include "relay.h"

/* ---- kith backup ls ---- */

int backup_ls(struct bk *b, const char *name, bool json)
{
	struct bk_roots r = {0};
	struct audit a;
	struct snap_packs *sps = NULL;
	char id[2 * SNAP_ID_LEN + 1], when[32], size[32], line[128];
	int rc = CLI_FAIL;

	if (audit_open(&a, b) != 0 || bk_roots_load(b, name, &r) != CLI_OK ||
	    audit_roots(&a, &r, &sps) != CLI_OK)
		goto out;
	if (json)
		fputs("[", stdout);
	else if (r.n)
		printf("%-16s %-16s %-20s %10s  %s\n", "NAME", "SNAPSHOT", "TIME (UTC)", "SIZE",
		       "HEALTH");
	for (size_t i = 0; i < r.n; i++) {
		const struct snap_root *s = &r.list[i];
		struct health h = audit_health(&a, &sps[i]);
		time_t t = (time_t)s->time;
		struct tm tm;

		sodium_bin2hex(id, sizeof(id), s->id, SNAP_ID_LEN);
		gmtime_r(&t, &tm);
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
		if (json) {
			printf("%s\n {\"name\": \"%s\", \"snapshot\": \"%s\", \"time\": %" PRIu64
			       ", \"size\": %" PRIu64 ", \"chunks\": %" PRIu64
			       ", \"bytes_new\": %" PRIu64 ", \"shards_held\": %" PRIu64
			       ", \"shards_total\": %" PRIu64 ", \"losses_tolerated\": %ld}",
			       i ? "," : "", s->name, id, s->time, s->size, s->chunks, s->bytes_new,
			       h.held, h.total, h.losses);
		} else {
			audit_health_line(line, sizeof(line), &h);
			printf("%-16s %-16.16s %-20s %10s  %s\n", s->name, id, when,
			       bk_bytes(size, sizeof(size), s->size), line);
		}
	}
	if (json)
		puts(r.n ? "\n]" : "]");
	else if (!r.n)
		printf(name ? "no snapshot of %s\n" : "no backups%s\n", name ? name : "");
	rc = CLI_OK;
out:
	audit_sps_free(sps, r.n);
	bk_roots_free(&r);
	audit_free(&a);
	return rc;
}

/* ---- kith backup verify ---- */

int backup_verify(struct bk *b, const char *name, unsigned read_percent, bool json)
{
	struct bk_roots r = {0};
	struct audit a;
	struct snap_packs *sps = NULL;
	char id[2 * SNAP_ID_LEN + 1], who[PROTO_PEERID_SHORT_LEN + 1], line[128];
	uint64_t problems = 0, read = 0, unrestorable = 0;
	FILE *report = json ? stderr : stdout; /* the problems, one line each */
	int rc = CLI_FAIL;

	if (audit_open(&a, b) != 0 || bk_roots_load(b, name, &r) != CLI_OK ||
	    audit_roots(&a, &r, &sps) != CLI_OK)
		goto out;
	if (!r.n) {
		rc = cli_fail("no snapshot of %s (see kith backup ls)", name);
		goto out;
	}
	for (size_t j = 0; j < a.packs.n; j++) {
		const struct snap_pack *p = &a.place[j];
		sodium_bin2hex(id, sizeof(id), p->id, 8);
		for (unsigned i = 0; i < (unsigned)p->k + p->m; i++) {
			enum shard_health h = audit_shard_health(&a, p, i);
			int got;
			proto_peerid_short(who, p->holder[i]);
			if (h > SHARD_GRACE) {
				fprintf(report, "pack %.16s shard %u at %s: %s\n", id, i, who,
				        audit_health_text[h]);
				problems++;
				continue;
			}
			/* A fraction of the shards, drawn afresh on each run, so
			 * that runs spread a full read over days. */
			if (!read_percent || randombytes_uniform(100) >= read_percent)
				continue;
			got = audit_read_shard(&a, p, i);
			read++;
			if (got) {
				fprintf(report, "pack %.16s shard %u at %s: %s\n", id, i, who,
				        got == KITH_ECHECKSUM ? "its bytes do not match their hash"
				                              : proto_strerror(got));
				problems++;
			}
		}
	}
	for (size_t i = 0; i < r.n; i++) {
		struct health h = audit_health(&a, &sps[i]);
		sodium_bin2hex(id, sizeof(id), r.list[i].id, SNAP_ID_LEN);
		audit_health_line(line, sizeof(line), &h);
		unrestorable += h.losses < 0;
		if (json)
			printf("{\"name\": \"%s\", \"snapshot\": \"%s\", \"shards_held\": %" PRIu64
			       ", \"shards_total\": %" PRIu64 ", \"losses_tolerated\": %ld}\n",
			       r.list[i].name, id, h.held, h.total, h.losses);
		else
			printf("%s %.16s: %s\n", r.list[i].name, id, line);
	}
	if (!json)
		printf("%zu packs checked at their holders, %" PRIu64 " shards read back: %" PRIu64
		       " problem%s\n",
		       a.packs.n, read, problems, problems == 1 ? "" : "s");
	rc = problems || unrestorable ? CLI_FAIL : CLI_OK;
	if (rc)
		fprintf(stderr, "kith: %s has %" PRIu64 " shard problem%s%s (kith backup repair)\n",
		        name, problems, problems == 1 ? "" : "s",
		        unrestorable ? " and snapshots that cannot be restored" : "");
out:
	audit_sps_free(sps, r.n);
	bk_roots_free(&r);
	audit_free(&a);
	return rc;
}
