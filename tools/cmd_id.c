/* kith id: print the agent's peer ID, the text admins exchange. */
#include <stdio.h>

#include "proto/identity.h"
#include "proto/peerid.h"
#include "cli.h"

int cmd_id_main(int argc, char **argv)
{
	struct proto_identity *id = NULL;
	char data_dir[4096], text[PROTO_PEERID_TEXT_LEN + 1];
	struct cli_args args;
	int rc;

	rc = cli_parse(argc, argv, "kith id [--data DIR]", NULL, 0, &args, data_dir,
	               sizeof(data_dir));
	if (rc != CLI_CONTINUE)
		return rc;
	rc = cli_open_identity(&id, data_dir);
	if (rc != CLI_OK)
		return rc;
	proto_peerid_format(text, id->pk);
	printf("%s\n", text);
	proto_identity_free(&id);
	return CLI_OK;
}
