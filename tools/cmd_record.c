/* kith records: list what the store holds.
 * kith record export|import: move one signed record by hand, as a file.
 * Import verifies before storing, exactly as records from peers are. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto/error.h"
#include "proto/identity.h"
#include "proto/peerid.h"
#include "proto/record.h"
#include "store/store.h"
#include "agent/core/conf.h"
#include "agentctl.h"
#include "cli.h"
#include "show.h"

struct list_ctx {
	int json;
	int count;
	int filter_author;
	uint8_t author[PROTO_KEY_LEN];
	int filter_kind;
	uint8_t kind;
};

static int list_one(void *arg, const uint8_t *buf, size_t len)
{
	struct list_ctx *ctx = arg;
	struct proto_record rec;

	/* Stored records were verified on the way in; a failure here means
	 * the file was damaged, and the walk goes on past it. */
	if (proto_record_decode(&rec, buf, len) != 0) {
		fprintf(stderr, "kith: skipping an unreadable stored record\n");
		return 0;
	}
	if (ctx->filter_author && memcmp(rec.author, ctx->author, PROTO_KEY_LEN))
		return 0;
	if (ctx->filter_kind && rec.kind != ctx->kind)
		return 0;
	if (ctx->json) {
		fputs(ctx->count ? ",\n" : "\n", stdout);
		show_record_json(stdout, &rec);
	} else {
		if (ctx->count == 0)
			show_record_header(stdout);
		show_record_line(stdout, &rec);
	}
	ctx->count++;
	return 0;
}

/* Parses --author and --kind filters shared by records and record export. */
static int parse_filters(const char *cmd, const char *author, const char *kind,
                         struct list_ctx *ctx)
{
	char why[160];

	if (author) {
		if (proto_peerid_parse(ctx->author, author, why, sizeof(why)) != 0)
			return cli_usage(cmd, "--author: %s", why);
		ctx->filter_author = 1;
	}
	if (kind) {
		if (proto_kind_parse(kind, &ctx->kind) != 0)
			return cli_usage(cmd,
			                 "--kind: unknown kind '%s' (member, service, observation, "
			                 "grant, revocation, backup, dns-change)",
			                 kind);
		ctx->filter_kind = 1;
	}
	return CLI_CONTINUE;
}

int cmd_records_main(int argc, char **argv)
{
	const char *author = NULL, *kind = NULL;
	bool json = false;
	const struct cli_opt opts[] = {
	    {"json", NULL, &json},
	    {"author", &author, NULL},
	    {"kind", &kind, NULL},
	    {NULL, NULL, NULL},
	};
	struct list_ctx ctx = {0};
	struct store *s = NULL;
	struct cli_args args;
	char data_dir[4096];
	int rc, err;

	rc = cli_parse(argc, argv,
	               "kith records [--json] [--author PEER_ID] [--kind KIND] [--data DIR]", opts,
	               0, &args, data_dir, sizeof(data_dir));
	if (rc != CLI_CONTINUE)
		return rc;
	rc = parse_filters("records", author, kind, &ctx);
	if (rc != CLI_CONTINUE)
		return rc;
	ctx.json = json;
	rc = cli_open_store(&s, data_dir);
	if (rc != CLI_OK)
		return rc;
	if (ctx.json)
		fputc('[', stdout);
	err = store_records_each(s, list_one, &ctx);
	if (ctx.json)
		fputs(ctx.count ? "\n]\n" : "]\n", stdout);
	store_close(&s);
	if (err)
		return cli_fail("reading the store: %s", proto_strerror(err));
	return CLI_OK;
}

static int write_out(const char *path, const uint8_t *buf, size_t len)
{
	FILE *f = stdout;

	if (path && strcmp(path, "-") != 0) {
		f = fopen(path, "wbx");
		if (!f)
			return cli_fail("cannot create %s: %s", path, strerror(errno));
	} else if (isatty(STDOUT_FILENO)) {
		return cli_fail("refusing to write a binary record to a terminal: "
		                "use --out FILE or a redirection");
	}
	if (fwrite(buf, 1, len, f) != len || fflush(f) != 0) {
		int err = errno;
		if (f != stdout) {
			fclose(f);
			unlink(path); /* ours (created with "x"): leave no partial record */
		}
		return cli_fail("cannot write the record: %s", strerror(err));
	}
	if (f != stdout && fclose(f) != 0) {
		int err = errno;
		unlink(path);
		return cli_fail("cannot write %s: %s", path, strerror(err));
	}
	return CLI_OK;
}

static int record_export(const char *data_dir, struct list_ctx *ctx, const char *name,
                         const char *out)
{
	struct proto_identity *id = NULL;
	struct store *s = NULL;
	uint8_t *buf = NULL;
	size_t len;
	int rc, err;

	if (!ctx->filter_author) {
		rc = cli_open_identity(&id, data_dir);
		if (rc != CLI_OK)
			return rc;
		memcpy(ctx->author, id->pk, PROTO_KEY_LEN);
		proto_identity_free(&id);
	}
	if (!ctx->filter_kind)
		ctx->kind = PROTO_KIND_MEMBER;
	rc = cli_open_store(&s, data_dir);
	if (rc != CLI_OK)
		return rc;
	err = store_record_get(s, ctx->author, ctx->kind, name ? name : "", &buf, &len);
	store_close(&s);
	if (err == -ENOENT)
		return cli_fail("no such record in the store");
	if (err)
		return cli_fail("reading the store: %s", proto_strerror(err));
	rc = write_out(out, buf, len);
	free(buf);
	return rc;
}

static void say_imported(const char *author, uint8_t kind, uint64_t seq, bool stale)
{
	const char *name = proto_kind_name(kind) ? proto_kind_name(kind) : "unknown";

	if (stale)
		printf("already have %s's %s record at seq %llu or newer: nothing to do\n", author,
		       name, (unsigned long long)seq);
	else
		printf("stored %s's %s record, seq %llu\n", author, name, (unsigned long long)seq);
}

/* kithd runs: it checks and applies the record as one from gossip. */
static int import_through_agent(const char *data_dir, const struct proto_record *rec,
                                const uint8_t *buf, size_t len)
{
	struct agentctl_request r;
	struct agentctl_reply reply;
	char author[PROTO_PEERID_SHORT_LEN + 1], result[32];
	int rc;

	agentctl_begin(&r, CTL_CMD_RECORD_IMPORT);
	agentctl_arg_bin(&r, CTL_KEY_RECORD, buf, len);
	rc = agentctl_call(data_dir, &r, &reply);
	if (rc != CLI_OK)
		return rc;
	proto_peerid_short(author, rec->author);
	agentctl_text(reply.data, CTL_REPLY_RESULT, result, sizeof(result));
	say_imported(author, rec->kind, rec->seq, strcmp(result, CTL_IMPORT_STORED) != 0);
	agentctl_reply_free(&reply);
	return CLI_OK;
}

/* No kithd runs, and none starts while we hold its lock: the store is
 * ours to write, with the map limits of kithd.conf. */
static int import_offline(const char *data_dir, const char *path, const uint8_t *buf, size_t len)
{
	enum store_put_result result;
	struct store_options opt = {0};
	struct proto_record rec;
	struct store *s = NULL;
	struct conf conf;
	char author[PROTO_PEERID_SHORT_LEN + 1], conf_path[4200], why[300];
	int err;

	if (cli_path(conf_path, sizeof(conf_path), data_dir, CONF_FILE) == 0 &&
	    conf_load(&conf, conf_path, why, sizeof(why)) == 0)
		opt = (struct store_options){.map_size = conf.map_size, .map_max = conf.map_max};
	err = store_open(&s, data_dir, &opt);
	if (err)
		return cli_fail("cannot open the store in %s: %s", data_dir, proto_strerror(err));
	err = store_record_put(s, buf, len, cli_now(), &result);
	store_close(&s);
	if (err)
		return cli_fail("%s refused: %s", path, proto_strerror(err));
	proto_record_decode(&rec, buf, len); /* verified by the put */
	proto_peerid_short(author, rec.author);
	say_imported(author, rec.kind, rec.seq, result == STORE_PUT_STALE);
	return CLI_OK;
}

static int record_import(const char *data_dir, const char *path)
{
	struct proto_record rec;
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc, lock = -1, err;

	rc = cli_read_file(path, PROTO_RECORD_MAX, &buf, &len);
	if (rc != CLI_OK)
		return rc;
	err = proto_record_open(&rec, buf, len, cli_now());
	if (err) {
		free(buf);
		return cli_fail("%s refused: %s", path, proto_strerror(err));
	}
	rc = cli_lock_agent(data_dir, &lock);
	if (rc == CLI_BUSY)
		rc = import_through_agent(data_dir, &rec, buf, len);
	else if (rc == CLI_OK)
		rc = import_offline(data_dir, path, buf, len);
	if (lock >= 0)
		close(lock);
	free(buf);
	return rc;
}

int cmd_record_main(int argc, char **argv)
{
	const char *author = NULL, *kind = NULL, *name = NULL, *out = NULL;
	const struct cli_opt opts[] = {
	    {"author", &author, NULL}, {"kind", &kind, NULL}, {"name", &name, NULL},
	    {"out", &out, NULL},       {NULL, NULL, NULL},
	};
	struct list_ctx ctx = {0};
	struct cli_args args;
	char data_dir[4096];
	int rc;

	rc = cli_parse(argc, argv,
	               "kith record export [--author PEER_ID] [--kind KIND] [--name NAME] "
	               "[--out FILE] [--data DIR]\n"
	               "       kith record import FILE|- [--data DIR]",
	               opts, 2, &args, data_dir, sizeof(data_dir));
	if (rc != CLI_CONTINUE)
		return rc;
	if (args.n == 0)
		return cli_usage("record", "say export or import");
	if (!strcmp(args.pos[0], "export")) {
		if (args.n > 1)
			return cli_usage("record", "export takes no argument");
		rc = parse_filters("record", author, kind, &ctx);
		if (rc != CLI_CONTINUE)
			return rc;
		return record_export(data_dir, &ctx, name, out);
	}
	if (!strcmp(args.pos[0], "import")) {
		if (args.n != 2)
			return cli_usage("record", "import needs one FILE (or - for stdin)");
		if (author || kind || name || out)
			return cli_usage("record", "import takes no option but --data");
		return record_import(data_dir, args.pos[1]);
	}
	return cli_usage("record", "unknown action '%s' (export or import)", args.pos[0]);
}
