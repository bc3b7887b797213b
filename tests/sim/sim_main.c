/* kith_sim: the real member/ and gossip/ modules of N members over a
 * simulated network, in virtual time (see sim.h).
 *
 * Phases: start and warm up; node 0 publishes one record with
 * gossip_publish() and we time its spread (99.9 % and 100 % of the
 * members hold it); an idle window measures what SWIM and gossip send
 * when nothing happens; node N/2 is killed (its traffic dropped) and we
 * time its death as the others declare it through member's changed
 * callback. ops->changed calls about members that are up are false
 * positives, counted over the whole run and over the idle window.
 *
 * With -c the program checks (for ctest): the record reached everyone,
 * nobody up was declared dead, the victim was declared dead by everyone,
 * and every message passed the codec; the exit status says. */
#include <errno.h>
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <dirent.h>
#include <sys/resource.h>

#include <sodium.h>

#include "agent/core/log.h"
#include "agent/member/member.h"
#include "proto/error.h"
#include "sim.h"

struct run {
	struct sim_opts o;
	uint64_t warmup_ms, spread_max_ms, idle_ms, death_max_ms;
	bool check;
};

struct figures {
	/* After publishing, when the first other member, 50 %, 90 %, 99 %,
	 * 99.9 % and 100 % of the members held it; 0: never. */
	uint64_t rec_ms[6];
	uint32_t holders;
	uint32_t wave_holders; /* members holding it after the push wave */
	uint64_t wave_records; /* RECORDS messages in the first 10 x the longest latency */
	uint32_t wave_pushers; /* members that sent them */
	uint64_t susp_first_ms, dead_first_ms, dead_999_ms, dead_all_ms; /* after the kill */
	uint32_t deciders;
	struct sim_count idle[2];
	uint64_t idle_false_suspect, idle_false_dead;
	uint64_t idle_refutations; /* distinct false suspicions: each was refuted */
	double setup_s;
	double wall_per_sim_s, idle_wall_per_sim_s; /* real s per simulated s: run, idle */
	uint64_t rss_kib, peak_kib;
	uint64_t lapses_warm; /* link order lapses during start-up and warm-up */
};

static void usage(void)
{
	fprintf(stderr,
	        "usage: kith_sim [-n members] [-p lan|wan] [-l LO-HI ms] [-L loss %%] [-s seed]\n"
	        "                [-S (no SWIM: gossip picks from the network's list)]\n"
	        "                [-w warm-up s] [-i idle s] [-I incarnation] [-W wall limit s]\n"
	        "                [-d dir] [-c (check, for ctest)]\n"
	        "                [-F (stores with 1 descriptor, as when 3 do not fit)]\n");
}

/* ---- options ---- */

static int parse_latency(const char *text, struct sim_opts *o)
{
	unsigned lo, hi;

	if (sscanf(text, "%u-%u", &lo, &hi) != 2 || lo < 1 || hi < lo)
		return KITH_EVALUE;
	o->lat_lo_ms = lo;
	o->lat_hi_ms = hi;
	return 0;
}

static void profile_defaults(struct run *r)
{
	bool lan = r->o.profile == CONF_PROFILE_LAN;

	r->o.lat_lo_ms = lan ? 1 : 20;
	r->o.lat_hi_ms = lan ? 3 : 150;
	r->warmup_ms = lan ? 10000 : 40000;
	r->spread_max_ms = lan ? 30000 : 120000;
	r->idle_ms = lan ? 20000 : 100000;
	r->death_max_ms = lan ? 60000 : 300000;
}

static int parse_opts(struct run *r, int argc, char **argv)
{
	const char *lat = NULL;
	double loss = 0, warm = -1, idle = -1;
	int c;

	*r = (struct run){.o = {.n = 1000,
	                        .profile = CONF_PROFILE_LAN,
	                        .seed = 1,
	                        .swim = true,
	                        .wall_limit_s = 3600}};
	snprintf(r->o.dir, sizeof(r->o.dir), "%s/kith-sim-%ld",
	         access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp", (long)getpid());
	while ((c = getopt(argc, argv, "n:p:l:L:s:Sw:i:I:W:d:cF")) != -1) {
		switch (c) {
		case 'n':
			r->o.n = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'p':
			if (conf_profile_parse(optarg, &r->o.profile))
				return KITH_EVALUE;
			break;
		case 'l':
			lat = optarg;
			break;
		case 'L':
			loss = strtod(optarg, NULL);
			break;
		case 's':
			r->o.seed = strtoull(optarg, NULL, 10);
			break;
		case 'S':
			r->o.swim = false;
			break;
		case 'w':
			warm = strtod(optarg, NULL);
			break;
		case 'i':
			idle = strtod(optarg, NULL);
			break;
		case 'I':
			r->o.incarnation = strtoull(optarg, NULL, 10);
			break;
		case 'W':
			r->o.wall_limit_s = strtoull(optarg, NULL, 10);
			break;
		case 'd':
			snprintf(r->o.dir, sizeof(r->o.dir), "%s", optarg);
			break;
		case 'c':
			r->check = true;
			break;
		case 'F':
			sim_lmdb_lean = true;
			break;
		default:
			return KITH_EVALUE;
		}
	}
	profile_defaults(r);
	if (lat && parse_latency(lat, &r->o))
		return KITH_EVALUE;
	if (warm >= 0)
		r->warmup_ms = (uint64_t)(warm * 1000);
	if (idle >= 0)
		r->idle_ms = (uint64_t)(idle * 1000);
	if (r->o.n < 3 || loss < 0 || loss > 100 || optind != argc)
		return KITH_EVALUE;
	r->o.loss_ppm = (uint32_t)(loss * 10000);
	return 0;
}

/* ---- the process's limits ---- */

static uint64_t count_dir(const char *path)
{
	DIR *d = opendir(path);
	uint64_t n = 0;

	if (!d)
		return 0;
	while (readdir(d))
		n++;
	closedir(d);
	return n > 2 ? n - 2 : 0;
}

static uint64_t count_lines(const char *path)
{
	FILE *f = fopen(path, "r");
	uint64_t n = 0;
	int ch;

	if (!f)
		return 0;
	while ((ch = fgetc(f)) != EOF)
		n += ch == '\n';
	fclose(f);
	return n;
}

/* Each LMDB store holds 3 descriptors (data file, its O_DSYNC twin for
 * the meta pages, lock file): raise the soft limit to the hard one, and
 * when 3 per store do not fit, open the stores lean (1 each, sim_lmdb.c).
 * Raising the hard limit needs CAP_SYS_RESOURCE, often missing in
 * containers, so it is not tried. */
static int raise_fd_limit(uint32_t n)
{
	struct rlimit rl;
	rlim_t spare = 64;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -errno;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -errno;
	if ((rlim_t)n * 3 + spare <= rl.rlim_max || sim_lmdb_lean)
		return 0;
	if ((rlim_t)n + spare > rl.rlim_max) {
		fprintf(stderr, "kith_sim: %u stores need %u descriptors, hard limit %llu\n", n,
		        n + 64, (unsigned long long)rl.rlim_max);
		return -EMFILE;
	}
	sim_lmdb_lean = true;
	printf("# %u stores x 3 descriptors > hard limit %llu: stores opened with "
	       "MDB_WRITEMAP|MDB_NOLOCK, 1 descriptor each\n",
	       n, (unsigned long long)rl.rlim_max);
	return 0;
}

/* ---- measures ---- */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The time after t0 at which the k-th fastest of the values (0: never)
 * came; 0 when fewer than k came. times is sorted in place. */
static uint64_t kth(uint64_t *times, size_t n, size_t k, uint64_t t0)
{
	size_t have = 0;

	qsort(times, n, sizeof(*times), cmp_u64);
	for (size_t i = 0; i < n; i++) {
		if (!times[i])
			continue;
		if (++have == k)
			return times[i] - t0;
	}
	return 0;
}

static const unsigned permille[6] = {0, 500, 900, 990, 999, 1000};

/* ceil(n * pm / 1000), at least 1 */
static size_t quorum(size_t n, unsigned pm)
{
	size_t k = (n * pm + 999) / 1000;

	return k ? k : 1;
}

static bool all_hold(const struct sim *s, const void *arg)
{
	(void)arg;
	return s->holders == s->o.n;
}

static bool all_decided(const struct sim *s, const void *arg)
{
	(void)arg;
	return s->deciders == s->o.n - 1;
}

static int phase_spread(struct sim *s, const struct run *r, struct figures *f, uint64_t *times)
{
	uint64_t t0 = sim_now_ms(s);
	int rc = sim_publish(s, 0);

	if (rc < 0) {
		fprintf(stderr, "kith_sim: publish: %s\n", proto_strerror(rc));
		return rc;
	}
	/* The push wave is over within a few hops of the longest latency;
	 * RECORDS sent by then are pushes (a few may answer a sync). */
	rc = sim_run(s, 10 * (uint64_t)s->o.lat_hi_ms, NULL, NULL);
	f->wave_records = s->records_sent;
	f->wave_holders = s->holders;
	for (uint32_t i = 0; i < s->o.n; i++)
		f->wave_pushers += s->nodes[i].records_sent > 0;
	if (rc >= 0)
		rc = sim_run(s, r->spread_max_ms, all_hold, NULL);
	for (uint32_t i = 0; i < s->o.n; i++)
		times[i] = i == 0 ? 0 : s->nodes[i].got_ms;
	f->holders = s->holders;
	/* Node 0 holds it at t0; the k-th other makes k + 1 members. */
	f->rec_ms[0] = kth(times, s->o.n, 1, t0);
	for (int q = 1; q < 6; q++)
		f->rec_ms[q] = kth(times, s->o.n, quorum(s->o.n, permille[q]) - 1, t0);
	return rc < 0 ? rc : 0;
}

/* Refutations by the members up: how many times one had to answer a
 * suspicion of itself. */
static uint64_t refutations(const struct sim *s)
{
	uint64_t sum = 0;

	for (uint32_t i = 0; i < s->o.n; i++) {
		struct member_stats st;
		if (!s->nodes[i].member)
			continue;
		member_get_stats(s->nodes[i].member, &st);
		sum += st.refutations;
	}
	return sum;
}

static int phase_idle(struct sim *s, const struct run *r, struct figures *f)
{
	struct sim_count before[2];
	uint64_t fs, fd, t_real;
	int rc;

	/* Let the last pushes and replies of the spread settle first. */
	rc = sim_run(s, 3 * s->conf.sync_interval_ms, NULL, NULL);
	if (rc < 0)
		return rc;
	before[0] = s->sent[0];
	before[1] = s->sent[1];
	fs = s->false_suspect;
	fd = s->false_dead;
	f->idle_refutations = refutations(s);
	t_real = sim_real_ms();
	rc = sim_run(s, r->idle_ms, NULL, NULL);
	f->idle_wall_per_sim_s = (double)(sim_real_ms() - t_real) / (double)r->idle_ms;
	for (int k = 0; k < 2; k++) {
		f->idle[k].msgs = s->sent[k].msgs - before[k].msgs;
		f->idle[k].bytes = s->sent[k].bytes - before[k].bytes;
	}
	f->idle_false_suspect = s->false_suspect - fs;
	f->idle_false_dead = s->false_dead - fd;
	f->idle_refutations = refutations(s) - f->idle_refutations;
	return rc < 0 ? rc : 0;
}

static int phase_death(struct sim *s, const struct run *r, struct figures *f, uint64_t *times)
{
	uint32_t victim = s->o.n / 2;
	uint64_t t0 = sim_now_ms(s);
	size_t k = 0;
	int rc;

	sim_kill(s, victim);
	rc = sim_run(s, r->death_max_ms, all_decided, NULL);
	f->deciders = s->deciders;
	for (uint32_t i = 0; i < s->o.n; i++)
		if (i != victim)
			times[k++] = s->nodes[i].suspect_ms;
	f->susp_first_ms = kth(times, k, 1, t0);
	k = 0;
	for (uint32_t i = 0; i < s->o.n; i++)
		if (i != victim)
			times[k++] = s->nodes[i].dead_ms;
	f->dead_first_ms = kth(times, k, 1, t0);
	f->dead_999_ms = kth(times, k, quorum(k, 999), t0);
	f->dead_all_ms = kth(times, k, k, t0);
	return rc < 0 ? rc : 0;
}

/* ---- output ---- */

static void print_ms(const char *what, uint64_t ms, bool reached)
{
	if (reached)
		printf("%-34s %8.3f s\n", what, (double)ms / 1000);
	else
		printf("%-34s    never\n", what);
}

static void print_idle(const struct sim *s, const struct run *r, const struct figures *f)
{
	static const char *names[2] = {"SWIM", "gossip"};
	double secs = (double)r->idle_ms / 1000, n = s->o.n;

	for (int k = 0; k < 2; k++)
		printf("idle %-6s per member per second  %8.3f msgs %10.1f bytes\n", names[k],
		       (double)f->idle[k].msgs / n / secs, (double)f->idle[k].bytes / n / secs);
}

static void print_figures(const struct sim *s, const struct run *r, const struct figures *f)
{
	uint32_t n = s->o.n;

	printf("members %u, profile %s, latency %u-%u ms, loss %.2f %%, seed %llu, SWIM %s\n", n,
	       s->o.profile == CONF_PROFILE_LAN ? "lan" : "wan", s->o.lat_lo_ms, s->o.lat_hi_ms,
	       s->o.loss_ppm / 10000.0, (unsigned long long)s->o.seed, s->o.swim ? "on" : "off");
	printf("sync interval %llu ms, probe interval %llu ms, push_fanout auto\n",
	       (unsigned long long)s->conf.sync_interval_ms,
	       (unsigned long long)s->conf.probe_interval_ms);
	printf("record held by %u of %u\n", f->holders, n);
	printf("push wave (10 x max latency): %llu RECORDS messages from %u members; "
	       "held by %u\n",
	       (unsigned long long)f->wave_records, f->wave_pushers, f->wave_holders);
	print_ms("record: first other member", f->rec_ms[0], f->rec_ms[0]);
	for (int q = 1; q < 6; q++) {
		char what[40];
		snprintf(what, sizeof(what), "record: %g %% of members", permille[q] / 10.0);
		print_ms(what, f->rec_ms[q], f->rec_ms[q]);
	}
	print_idle(s, r, f);
	printf("false positives in the idle window  %llu suspect, %llu dead (member x subject); "
	       "%llu refutations\n",
	       (unsigned long long)f->idle_false_suspect, (unsigned long long)f->idle_false_dead,
	       (unsigned long long)f->idle_refutations);
	if (s->o.swim) {
		printf("victim declared dead by %u of %u others\n", f->deciders, n - 1);
		print_ms("death: first suspicion", f->susp_first_ms, f->susp_first_ms);
		print_ms("death: first declaration", f->dead_first_ms, f->dead_first_ms);
		print_ms("death: 99.9 % of the others", f->dead_999_ms, f->dead_999_ms);
		print_ms("death: 100 % of the others", f->dead_all_ms, f->deciders == n - 1);
	}
	printf("false positives over the run        %llu suspect, %llu dead (member x subject); "
	       "%llu refutations\n",
	       (unsigned long long)s->false_suspect, (unsigned long long)s->false_dead,
	       (unsigned long long)refutations(s));
	printf("messages lost: SWIM %llu of %llu, gossip %llu of %llu; codec errors %llu, "
	       "malformed %llu, link order lapses %llu (after warm-up %llu)\n",
	       (unsigned long long)s->lost[0].msgs, (unsigned long long)s->sent[0].msgs,
	       (unsigned long long)s->lost[1].msgs, (unsigned long long)s->sent[1].msgs,
	       (unsigned long long)s->wire_errors, (unsigned long long)s->bad_messages,
	       (unsigned long long)s->fifo_misses,
	       (unsigned long long)(s->fifo_misses - f->lapses_warm));
	printf("set-up %.1f s; real s per simulated s: %.3f over the run, %.3f idle\n", f->setup_s,
	       f->wall_per_sim_s, f->idle_wall_per_sim_s);
	printf("RSS at the end %.1f MiB (peak %.1f MiB)\n", f->rss_kib / 1024.0,
	       f->peak_kib / 1024.0);
}

/* Says which check failed; returns 1, to be counted. */
static int failed(const char *what, unsigned long long have, unsigned long long want)
{
	fprintf(stderr, "check: %s: %llu, expected %llu\n", what, have, want);
	return 1;
}

static int check(const struct sim *s, const struct figures *f)
{
	int bad = 0;

	if (f->holders != s->o.n)
		bad += failed("members holding the record", f->holders, s->o.n);
	if (s->false_dead)
		bad += failed("members up declared dead (member x subject)", s->false_dead, 0);
	if (s->o.swim && f->deciders != s->o.n - 1)
		bad += failed("members holding the victim dead", f->deciders, s->o.n - 1);
	if (s->start_errors)
		bad += failed("modules that failed to start", s->start_errors, 0);
	if (s->wire_errors || s->bad_messages)
		bad += failed("codec errors and malformed messages",
		              s->wire_errors + s->bad_messages, 0);
	return bad ? 1 : 0;
}

/* ---- main ---- */

static int simulate(struct sim *s, const struct run *r, struct figures *f)
{
	uint64_t *times = calloc(r->o.n, sizeof(*times));
	uint64_t t_real, t_sim;
	int rc = times ? 0 : -ENOMEM;

	t_real = sim_real_ms();
	if (!rc)
		rc = sim_new(s, &r->o);
	f->setup_s = (double)(sim_real_ms() - t_real) / 1000;
	sim_rss_kib(&f->rss_kib, &f->peak_kib);
	printf("# set up %u members in %.1f s: %llu descriptors, %llu mappings, RSS %.1f MiB\n",
	       r->o.n, f->setup_s, (unsigned long long)count_dir("/proc/self/fd"),
	       (unsigned long long)count_lines("/proc/self/maps"), f->rss_kib / 1024.0);
	t_real = sim_real_ms();
	t_sim = rc ? 0 : sim_now_ms(s);
	if (!rc)
		rc = sim_start(s);
	if (!rc)
		rc = sim_run(s, r->warmup_ms, NULL, NULL);
	f->lapses_warm = s->fifo_misses;
	if (rc >= 0)
		rc = phase_spread(s, r, f, times);
	if (rc >= 0)
		rc = phase_idle(s, r, f);
	if (rc >= 0 && r->o.swim)
		rc = phase_death(s, r, f, times);
	if (s->loop)
		f->wall_per_sim_s = (double)(sim_real_ms() - t_real) /
		                    (double)(sim_now_ms(s) - t_sim + !(sim_now_ms(s) - t_sim));
	sim_rss_kib(&f->rss_kib, &f->peak_kib);
	free(times);
	return rc;
}

int main(int argc, char **argv)
{
	struct run r;
	struct sim s = {0};
	struct figures f = {0};
	int rc;

	if (parse_opts(&r, argc, argv)) {
		usage();
		return 2;
	}
	/* Each gossip module callocs about 1.4 MB that it mostly never
	 * touches. Served by mmap() (glibc's default above 128 KiB), they
	 * would cost 8 mappings per member, and a process has at most
	 * vm.max_map_count (65530) mappings; from the heap, with no top pad,
	 * calloc() takes them from fresh sbrk() memory that it need not
	 * clear, so they cost neither a mapping nor resident memory. */
	mallopt(M_MMAP_THRESHOLD, 32 << 20);
	mallopt(M_TOP_PAD, 0);
	sim_random_seed(r.o.seed);
	if (sodium_init() < 0 || raise_fd_limit(r.o.n))
		return 1;
	log_init("kith_sim", LOG_LEVEL_ERROR, false);
	rc = simulate(&s, &r, &f);
	if (rc < 0)
		fprintf(stderr, "kith_sim: %s%s\n", proto_strerror(rc),
		        s.over_limit ? " (wall-clock limit)" : "");
	else
		print_figures(&s, &r, &f);
	if (rc >= 0 && r.check)
		rc = check(&s, &f);
	sim_free(&s);
	return rc < 0 ? 1 : rc;
}
