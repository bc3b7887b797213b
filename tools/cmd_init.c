/* kith init: create the data directory, the identity and the store, and
 * sign the agent's first member record; with --restore, the identity and
 * the network's founder come from a recovery kit (cmd_kit.c). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>
#include <unistd.h>

#include "proto/body.h"
#include "proto/error.h"
#include "proto/identity.h"
#include "proto/kit.h"
#include "proto/peerid.h"
#include "proto/record.h"
#include "agent/core/conf.h"
#include "store/store.h"
#include "cli.h"

/* The agent re-signs its member record long before this runs out. */
#define MEMBER_TTL (30 * 24 * 3600)

/* mkdir -p, the last component with mode 0700. */
static int make_dirs(const char *dir)
{
	char path[4096];
	size_t len = strlen(dir);

	if (len == 0 || len >= sizeof(path))
		return -ENAMETOOLONG;
	memcpy(path, dir, len + 1);
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) != 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(path, 0700) != 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* Signs and stores the first member record of id. */
static int publish_member(struct store *s, const struct proto_identity *id, const char *name)
{
	struct proto_member member = {0};
	struct proto_record rec = {0};
	struct mp_buf body = {0}, out = {0};
	int err;

	snprintf(member.name, sizeof(member.name), "%s", name);
	snprintf(member.version, sizeof(member.version), "kith %s", KITH_VERSION);
	err = proto_member_encode(&body, &member);
	if (err)
		goto cleanup;
	rec.kind = PROTO_KIND_MEMBER;
	rec.issued = cli_now();
	rec.expires = rec.issued + MEMBER_TTL;
	rec.body = body.data;
	rec.body_len = body.len;
	err = store_counter_next(s, "seq", 1, proto_seq_floor(rec.issued), &rec.seq);
	if (err)
		goto cleanup;
	err = proto_record_sign(&out, id, &rec);
	if (err)
		goto cleanup;
	err = store_record_put(s, out.data, out.len, rec.issued, NULL);
cleanup:
	mp_buf_free(&body);
	mp_buf_free(&out);
	return err;
}

/* A display name: 1 to PROTO_MEMBER_NAME_MAX bytes, no control characters. */
static const char *name_problem(const char *name)
{
	size_t len = strlen(name);

	if (len == 0)
		return "is empty";
	if (len > PROTO_MEMBER_NAME_MAX)
		return "is longer than 64 bytes";
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
			return "contains a control character";
	return NULL;
}

/* What kith init writes into kithd.conf, and where (config: NULL for
 * DATA/kithd.conf; given, kithd is to run with --config config). */
struct init_net {
	const char *listen;
	const char *advertise;
	enum conf_profile profile;
	const char *config;
	bool given; /* --listen, --advertise or --profile was */
};

/* The identity of kit, checked against the peer ID it names. */
static int kit_identity(const struct proto_kit *kit, struct proto_identity **id)
{
	char peer[PROTO_PEERID_TEXT_LEN + 1];
	int err = proto_identity_from_seed(id, kit->seed);

	if (err)
		return cli_fail("cannot make the identity of the kit: %s", proto_strerror(err));
	if (memcmp((*id)->pk, kit->peer, PROTO_KEY_LEN) != 0) {
		proto_peerid_format(peer, kit->peer);
		proto_identity_free(id);
		return cli_fail("the kit's secret is not that of its peer ID %s: is the secret "
		                "line from another kit?",
		                peer);
	}
	return CLI_OK;
}

/* Tells kithd to ask its partners for the records it made before the
 * loss (proto/kit.h). */
static int mark_restored(const char *data_dir)
{
	char path[4200];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", data_dir, PROTO_KIT_RESYNC_FILE);
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

/* What to run next, after a restore: rejoin through a partner. */
static void print_rejoin(const struct proto_kit *kit, const char *data_dir)
{
	char peer[PROTO_PEERID_TEXT_LEN + 1];

	printf("start kithd, then rejoin the network through one of your partners:\n");
	for (size_t i = 0; i < kit->n_partners; i++) {
		proto_peerid_format(peer, kit->partners[i].peer);
		printf("  kith join %s --endpoint %s --data %s%s%s\n", peer,
		       kit->partners[i].endpoint, data_dir, kit->partners[i].name[0] ? "  # " : "",
		       kit->partners[i].name);
	}
	if (kit->n_partners == 0)
		printf("  kith join PEER_ID --endpoint tcp://HOST:PORT --data %s\n", data_dir);
}

/* kit: NULL for a new identity, else the recovery kit to restore. */
static int init(const char *data_dir, const char *name, const struct init_net *net,
                const struct proto_kit *kit)
{
	struct proto_identity *id = NULL;
	struct store *s = NULL;
	char key_path[4096], conf_path[4096], peer_id[PROTO_PEERID_TEXT_LEN + 1];
	int err, rc = CLI_FAIL;

	if (cli_path(key_path, sizeof(key_path), data_dir, PROTO_IDENTITY_FILE) != 0 ||
	    cli_path(conf_path, sizeof(conf_path), data_dir, CONF_FILE) != 0)
		return cli_fail("data directory path too long");
	if (net->config &&
	    snprintf(conf_path, sizeof(conf_path), "%s", net->config) >= (int)sizeof(conf_path))
		return cli_fail("--config path too long");
	if (access(key_path, F_OK) == 0)
		return cli_fail("%s already holds an identity; refusing to overwrite it", data_dir);
	if (kit && kit_identity(kit, &id) != CLI_OK)
		return CLI_FAIL;
	err = make_dirs(data_dir);
	if (err) {
		cli_fail("cannot create %s: %s", data_dir, proto_strerror(err));
		goto cleanup;
	}
	err = kit ? 0 : proto_identity_generate(&id);
	if (!err)
		err = proto_identity_save(id, key_path);
	if (err) {
		cli_fail("cannot create the identity %s: %s", key_path, proto_strerror(err));
		goto cleanup;
	}
	err = store_open(&s, data_dir, NULL);
	/* A restored agent belongs to its old network: without its founder
	 * kithd would take itself for the founder of a new one. */
	if (!err && kit)
		err = store_founder_set(s, kit->founder);
	if (!err)
		err = publish_member(s, id, name);
	if (!err && kit)
		err = mark_restored(data_dir);
	if (err) {
		cli_fail("cannot create the store in %s: %s", data_dir, proto_strerror(err));
		unlink(key_path); /* so that init can simply be run again */
		goto cleanup;
	}
	/* An existing configuration (the admin's own) is kept as it is. */
	err = conf_write_new(conf_path, net->listen, net->advertise, net->profile);
	if (err && err != -EEXIST) {
		cli_fail("cannot write %s: %s", conf_path, proto_strerror(err));
		goto cleanup;
	}
	if (err == -EEXIST && net->given)
		fprintf(stderr,
		        "kith: %s exists and is kept as it is: set listen, advertise and profile "
		        "there\n",
		        conf_path);
	proto_peerid_format(peer_id, id->pk);
	printf("%s %s in %s\npeer ID: %s\n", kit ? "restored" : "initialised", name, data_dir,
	       peer_id);
	if (kit)
		print_rejoin(kit, data_dir);
	rc = CLI_OK;
cleanup:
	store_close(&s);
	proto_identity_free(&id);
	return rc;
}

/* Checks the options, then runs init. */
static int init_checked(const char *data_dir, const char *name, const char *listen,
                        const char *advertise, const char *profile, const char *config,
                        const struct proto_kit *kit)
{
	struct init_net net = {"tcp://0.0.0.0:7707", "", CONF_PROFILE_WAN, config,
	                       listen || advertise || profile};
	const char *problem;

	if (!name)
		return cli_usage("init", "--name NAME is required");
	problem = name_problem(name);
	if (problem)
		return cli_usage("init", "the name %s", problem);
	if (listen && conf_endpoint_check(listen, &problem) != 0)
		return cli_usage("init", "--listen %s", problem);
	if (advertise && conf_endpoint_check(advertise, &problem) != 0)
		return cli_usage("init", "--advertise %s", problem);
	if (profile && conf_profile_parse(profile, &net.profile) != 0)
		return cli_usage("init", "--profile must be wan or lan");
	net.listen = listen ? listen : net.listen;
	net.advertise = advertise ? advertise : "";
	return init(data_dir, name, &net, kit);
}

int cmd_init_main(int argc, char **argv)
{
	const char *name = NULL, *listen = NULL, *advertise = NULL, *profile = NULL,
	           *restore = NULL, *config = NULL;
	const struct cli_opt opts[] = {
	    {"name", &name, NULL},
	    {"listen", &listen, NULL},
	    {"advertise", &advertise, NULL},
	    {"profile", &profile, NULL},
	    {"restore", &restore, NULL},
	    {"config", &config, NULL},
	    {NULL, NULL, NULL},
	};
	struct proto_kit *kit = NULL;
	struct cli_args args;
	char data_dir[4096];
	int rc;

	rc = cli_parse(argc, argv,
	               "kith init --name NAME [--listen tcp://ADDR:PORT] "
	               "[--advertise tcp://HOST:PORT] [--profile wan|lan] [--config FILE] "
	               "[--data DIR]\n"
	               "       kith init --restore KIT|- [--name NAME] [--listen ...] [--data DIR]",
	               opts, 0, &args, data_dir, sizeof(data_dir));
	if (rc != CLI_CONTINUE)
		return rc;
	if (restore) {
		kit = sodium_malloc(sizeof(*kit));
		if (!kit)
			return cli_fail("out of memory");
		rc = cli_read_kit(restore, kit);
		if (rc == CLI_OK && !name && kit->name[0])
			name = kit->name;
	}
	if (rc == CLI_CONTINUE || rc == CLI_OK)
		rc = init_checked(data_dir, name, listen, advertise, profile, config, kit);
	if (kit)
		sodium_free(kit);
	return rc;
}
