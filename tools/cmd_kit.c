/* kith recovery-kit: the page a collective keeps on paper to come back
 * after losing everything else (proto/kit.h), and kith init --restore's
 * reading of it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "proto/body.h"
#include "proto/error.h"
#include "proto/identity.h"
#include "proto/kit.h"
#include "proto/record.h"
#include "store/store.h"
#include "cli.h"

/* The member record of peer, decoded into *m. */
static int member_of(struct store *s, const uint8_t peer[PROTO_KEY_LEN], struct proto_member *m)
{
	struct proto_record rec;
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc = store_record_get(s, peer, PROTO_KIND_MEMBER, "", &buf, &len);

	if (!rc)
		rc = proto_record_decode(&rec, buf, len);
	if (!rc)
		rc = proto_member_decode(m, rec.body, rec.body_len);
	free(buf);
	return rc;
}

struct gather {
	struct store *store;
	struct proto_kit *kit;
	struct proto_member *m; /* scratch */
	bool founder_pass;      /* the founder first, then the others */
};

/* Adds author as a partner when it has an endpoint to rejoin through. */
static int add_partner(void *arg, const uint8_t author[PROTO_KEY_LEN], uint64_t records,
                       uint64_t bytes)
{
	struct gather *g = arg;
	struct proto_kit *kit = g->kit;
	struct proto_kit_partner *p;
	bool is_founder = !memcmp(author, kit->founder, PROTO_KEY_LEN);

	(void)records;
	(void)bytes;
	if (kit->n_partners == PROTO_KIT_PARTNERS_MAX || is_founder != g->founder_pass ||
	    !memcmp(author, kit->peer, PROTO_KEY_LEN) || member_of(g->store, author, g->m) != 0 ||
	    g->m->n_endpoints == 0)
		return 0;
	p = &kit->partners[kit->n_partners++];
	memcpy(p->peer, author, PROTO_KEY_LEN);
	snprintf(p->endpoint, sizeof(p->endpoint), "%s", g->m->endpoints[0]);
	snprintf(p->name, sizeof(p->name), "%s", g->m->name);
	return 0;
}

static int make_kit(const char *data_dir, struct proto_kit *kit)
{
	struct proto_identity *id = NULL;
	struct store *s = NULL;
	struct gather g = {.kit = kit};
	int rc = cli_open_identity(&id, data_dir);

	if (rc != CLI_OK)
		return rc;
	rc = cli_open_store(&s, data_dir);
	g.m = malloc(sizeof(*g.m));
	if (rc == CLI_OK && !g.m)
		rc = cli_fail("out of memory");
	if (rc == CLI_OK && store_founder_get(s, kit->founder) != 0)
		rc = cli_fail("the store in %s names no network founder: run kithd once", data_dir);
	if (rc == CLI_OK) {
		memcpy(kit->peer, id->pk, PROTO_KEY_LEN);
		proto_identity_seed(id, kit->seed);
		g.store = s;
		if (member_of(s, id->pk, g.m) == 0)
			snprintf(kit->name, sizeof(kit->name), "%s", g.m->name);
		g.founder_pass = true;
		store_authors_each(s, add_partner, &g);
		g.founder_pass = false;
		store_authors_each(s, add_partner, &g);
	}
	free(g.m);
	store_close(&s);
	proto_identity_free(&id);
	return rc;
}

int cmd_recovery_kit_main(int argc, char **argv)
{
	struct proto_kit *kit = sodium_malloc(sizeof(*kit));
	char *text = sodium_malloc(PROTO_KIT_TEXT_MAX);
	char data_dir[4096];
	struct cli_args args;
	int rc, len;

	rc = cli_parse(argc, argv, "kith recovery-kit [--data DIR]", NULL, 0, &args, data_dir,
	               sizeof(data_dir));
	if (rc == CLI_CONTINUE && (!kit || !text))
		rc = cli_fail("out of memory");
	if (rc == CLI_CONTINUE) {
		memset(kit, 0, sizeof(*kit));
		rc = make_kit(data_dir, kit);
	}
	if (rc == CLI_OK) {
		len = proto_kit_format(kit, text, PROTO_KIT_TEXT_MAX);
		if (len < 0)
			rc = cli_fail("cannot write the kit: %s", proto_strerror(len));
		else if (fwrite(text, 1, (size_t)len, stdout) != (size_t)len || fflush(stdout) != 0)
			rc = cli_fail("cannot write the kit to standard output");
		if (rc == CLI_OK && kit->n_partners == 0)
			fprintf(stderr, "kith: warning: the kit names no partner to rejoin through "
			                "(no member record with an endpoint yet)\n");
	}
	sodium_free(kit);
	sodium_free(text);
	return rc;
}

int cli_read_kit(const char *path, struct proto_kit *kit)
{
	uint8_t *data = NULL;
	size_t len = 0;
	char why[200];
	int rc = cli_read_file(path, PROTO_KIT_TEXT_MAX, &data, &len);

	if (rc != CLI_OK)
		return rc;
	rc = proto_kit_parse(kit, (const char *)data, len, why, sizeof(why));
	sodium_memzero(data, len);
	free(data);
	if (rc)
		return cli_fail("%s is not a usable recovery kit: %s",
		                strcmp(path, "-") ? path : "standard input", why);
	return CLI_OK;
}
