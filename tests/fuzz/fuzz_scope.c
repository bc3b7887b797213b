/* Fuzz target: scope text. An accepted scope must format, and its
 * canonical form must parse back to the same scope and format the same;
 * a backup scope's quota and count stay within their limits. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/scope.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proto_scope s, back;
	char text[PROTO_SCOPE_MAX + 1], again[PROTO_SCOPE_MAX + 1];
	const char *why = NULL;
	if (proto_scope_parse(&s, (const char *)data, size, &why)) {
		if (!why || strlen(why) == 0)
			abort(); /* every refusal says why */
		return 0;
	}
	if (proto_scope_format(&s, text, sizeof(text)) ||
	    proto_scope_parse(&back, text, strlen(text), NULL) ||
	    proto_scope_format(&back, again, sizeof(again)) || strcmp(text, again) != 0)
		abort();
	if (back.type != s.type || back.quota != s.quota || back.count != s.count ||
	    strcmp(back.zone, s.zone) != 0)
		abort();
	/* The parser's bounds: a quota of 1 to 1024T, a count within its
	 * limit and never the default written out. */
	if (s.type == PROTO_SCOPE_BACKUP &&
	    (s.quota == 0 || s.quota > PROTO_SIZE_MAX || s.count > PROTO_BACKUP_COUNT_MAX ||
	     (s.count && s.count == proto_scope_backup_default_count(s.quota)) ||
	     proto_scope_backup_count(&s) == 0))
		abort();
	return 0;
}
