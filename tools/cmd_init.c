/* kith init: create the data directory, the identity and the store, and
 * sign the agent's first member record. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proto/body.h"
#include "proto/error.h"
#include "proto/identity.h"
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
	err = store_seq_reserve(s, 1, &rec.seq);
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

/* What kith init writes into kithd.conf. */
struct init_net {
	const char *listen;
	const char *advertise;
	enum conf_profile profile;
};

static int init(const char *data_dir, const char *name, const struct init_net *net)
{
	struct proto_identity *id = NULL;
	struct store *s = NULL;
	char key_path[4096], conf_path[4096], peer_id[PROTO_PEERID_TEXT_LEN + 1];
	int err, rc = CLI_FAIL;

	if (cli_path(key_path, sizeof(key_path), data_dir, PROTO_IDENTITY_FILE) != 0 ||
	    cli_path(conf_path, sizeof(conf_path), data_dir, CONF_FILE) != 0)
		return cli_fail("data directory path too long");
	if (access(key_path, F_OK) == 0)
		return cli_fail("%s already holds an identity; refusing to overwrite it", data_dir);
	err = make_dirs(data_dir);
	if (err)
		return cli_fail("cannot create %s: %s", data_dir, proto_strerror(err));
	err = proto_identity_generate(&id);
	if (!err)
		err = proto_identity_save(id, key_path);
	if (err) {
		cli_fail("cannot create the identity %s: %s", key_path, proto_strerror(err));
		goto cleanup;
	}
	err = store_open(&s, data_dir, NULL);
	if (!err)
		err = publish_member(s, id, name);
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
	proto_peerid_format(peer_id, id->pk);
	printf("initialised %s in %s\npeer ID: %s\n", name, data_dir, peer_id);
	rc = CLI_OK;
cleanup:
	store_close(&s);
	proto_identity_free(&id);
	return rc;
}

int cmd_init_main(int argc, char **argv)
{
	const char *name = NULL, *listen = NULL, *advertise = NULL, *profile = NULL, *problem;
	const struct cli_opt opts[] = {
	    {"name", &name, NULL},       {"listen", &listen, NULL}, {"advertise", &advertise, NULL},
	    {"profile", &profile, NULL}, {NULL, NULL, NULL},
	};
	struct init_net net = {"tcp://0.0.0.0:7707", "", CONF_PROFILE_WAN};
	struct cli_args args;
	char data_dir[4096];
	int rc;

	rc = cli_parse(argc, argv,
	               "kith init --name NAME [--listen tcp://ADDR:PORT] "
	               "[--advertise tcp://HOST:PORT] [--profile wan|lan] [--data DIR]",
	               opts, 0, &args, data_dir, sizeof(data_dir));
	if (rc != CLI_CONTINUE)
		return rc;
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
	return init(data_dir, name, &net);
}
