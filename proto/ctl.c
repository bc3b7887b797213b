#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "ctl.h"
#include "mp.h"
#include "peerid.h"

static int read_arg(struct mp_reader *r, struct ctl_arg *a)
{
	switch (mp_peek_kind(r)) {
	case MP_KIND_STR:
		a->type = CTL_ARG_TEXT;
		return mp_read_str(r, &a->text, &a->len, CTL_REQUEST_MAX);
	case MP_KIND_UINT:
		a->type = CTL_ARG_UINT;
		return mp_read_uint(r, &a->uint);
	case MP_KIND_BOOL:
		a->type = CTL_ARG_BOOL;
		return mp_read_bool(r, &a->boolean);
	case MP_KIND_BIN:
		a->type = CTL_ARG_BIN;
		return mp_read_bin(r, &a->bin, &a->len, CTL_REQUEST_MAX);
	case MP_KIND_NONE:
		return r->err;
	case MP_KIND_OTHER:
		break;
	}
	/* mp_peek_kind() saw a byte, so r->p is inside the buffer; 0xc1 is
	 * never msgpack, anything else is a type no argument has. */
	return mp_fail(r, *r->p == 0xc1 ? KITH_EMALFORMED : KITH_ETYPE);
}

static const struct ctl_arg *find_arg(const struct ctl_request *r, const char *key)
{
	for (size_t i = 0; i < r->n_args; i++)
		if (!strcmp(r->args[i].key, key))
			return &r->args[i];
	return NULL;
}

/* Reads one key and its value into out. The key goes to a local buffer
 * first: only once it is known to be a new argument, and out->args to have
 * room for it, is a slot of out->args touched. */
static int read_entry(struct mp_reader *r, struct ctl_request *out, bool *have_cmd)
{
	char key[CTL_KEY_MAX + 1];
	struct ctl_arg *a;

	if (mp_read_text(r, key, CTL_KEY_MAX))
		return r->err;
	if (!strcmp(key, CTL_KEY_CMD)) {
		if (*have_cmd)
			return mp_fail(r, KITH_EDUPKEY);
		*have_cmd = true;
		if (mp_read_text(r, out->cmd, CTL_CMD_MAX))
			return r->err;
		return out->cmd[0] ? 0 : mp_fail(r, KITH_EVALUE);
	}
	if (find_arg(out, key))
		return mp_fail(r, KITH_EDUPKEY);
	if (out->n_args >= CTL_ARGS_MAX)
		return mp_fail(r, KITH_ETOOBIG);
	a = &out->args[out->n_args];
	memcpy(a->key, key, sizeof(a->key));
	if (read_arg(r, a))
		return r->err;
	out->n_args++;
	return 0;
}

int ctl_request_decode(struct ctl_request *out, const uint8_t *buf, size_t len)
{
	struct mp_reader r;
	uint32_t n = 0;
	bool have_cmd = false;

	memset(out, 0, sizeof(*out));
	if (len > CTL_REQUEST_MAX)
		return KITH_ETOOBIG;
	mp_reader_init(&r, buf, len);
	/* The command and up to CTL_ARGS_MAX arguments; a bigger map is
	 * refused here, and read_entry() refuses a 17th argument when the
	 * command is missing. */
	mp_read_map(&r, &n, CTL_ARGS_MAX + 1);
	for (uint32_t i = 0; i < n && !r.err; i++)
		read_entry(&r, out, &have_cmd);
	if (mp_finish(&r))
		return r.err;
	return have_cmd ? 0 : KITH_EMISSING;
}

int ctl_arg_text(const struct ctl_request *r, const char *key, char *out, size_t n)
{
	const struct ctl_arg *a = find_arg(r, key);

	if (!a)
		return -ENOENT;
	if (a->type != CTL_ARG_TEXT)
		return KITH_ETYPE;
	if (a->len >= n)
		return KITH_ETOOBIG;
	if (memchr(a->text, '\0', a->len))
		return KITH_EVALUE;
	memcpy(out, a->text, a->len);
	out[a->len] = '\0';
	return 0;
}

int ctl_arg_uint(const struct ctl_request *r, const char *key, uint64_t *out)
{
	const struct ctl_arg *a = find_arg(r, key);

	if (!a)
		return -ENOENT;
	if (a->type != CTL_ARG_UINT)
		return KITH_ETYPE;
	*out = a->uint;
	return 0;
}

bool ctl_arg_flag(const struct ctl_request *r, const char *key)
{
	const struct ctl_arg *a = find_arg(r, key);

	return a && a->type == CTL_ARG_BOOL && a->boolean;
}

bool ctl_arg_has(const struct ctl_request *r, const char *key)
{
	return find_arg(r, key) != NULL;
}

const struct ctl_arg *ctl_arg_bin(const struct ctl_request *r, const char *key)
{
	const struct ctl_arg *a = find_arg(r, key);

	return a && a->type == CTL_ARG_BIN ? a : NULL;
}

int ctl_arg_peer(const struct ctl_request *r, const char *key, uint8_t peer[PROTO_KEY_LEN],
                 char *err, size_t n)
{
	char text[128], why[160];

	if (ctl_arg_text(r, key, text, sizeof(text)) != 0)
		return ctl_fail(err, n, KITH_EMISSING, "a peer ID is needed");
	if (proto_peerid_parse(peer, text, why, sizeof(why)) != 0)
		return ctl_fail(err, n, KITH_EVALUE, "%s", why);
	return 0;
}

int ctl_fail(char *err, size_t n, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, n, fmt, ap);
	va_end(ap);
	return code;
}

int ctl_admit_list_encode(struct mp_buf *out, const struct ctl_admit_entry *e, size_t n)
{
	char text[PROTO_PEERID_TEXT_LEN + 1];
	msgpack_packer pk;

	if (n > CTL_ADMIT_MAX)
		return KITH_ETOOBIG;
	if (n == 0)
		return KITH_EVALUE;
	/* Checked before anything is written: a refusal leaves out as it was. */
	for (size_t i = 0; i < n; i++)
		if (!memchr(e[i].endpoint, '\0', sizeof(e[i].endpoint)) ||
		    !mp_text_ok(e[i].endpoint, strlen(e[i].endpoint)))
			return KITH_EVALUE;
	mp_buf_packer(out, &pk);
	msgpack_pack_array(&pk, (uint32_t)n);
	for (size_t i = 0; i < n; i++) {
		proto_peerid_format(text, e[i].peer);
		msgpack_pack_array(&pk, 2);
		mp_pack_cstr(&pk, text);
		mp_pack_cstr(&pk, e[i].endpoint);
	}
	return out->err;
}

/* One entry, [peer ID, endpoint], into e; why says what is wrong. */
static int read_admit_entry(struct mp_reader *r, struct ctl_admit_entry *e, char *why, size_t n)
{
	char text[PROTO_PEERID_TEXT_LEN + 16];
	uint32_t items = 0;

	why[0] = '\0';
	if (mp_read_array(r, &items, 2) || items != 2) {
		if (r->err && r->err != KITH_ETOOBIG && r->err != KITH_ETYPE)
			snprintf(why, n, "%s", proto_strerror(r->err));
		else
			snprintf(why, n, "not a pair [peer ID, endpoint]");
		return mp_fail(r, KITH_EVALUE);
	}
	/* A peer ID is 56 characters, 63 with its dashes; a little more is
	 * read so that the parser, not the length, explains a typo. */
	if (mp_read_text(r, text, sizeof(text) - 1)) {
		snprintf(why, n, "peer ID: %s",
		         r->err == KITH_ETOOBIG ? "too long" : proto_strerror(r->err));
		return r->err;
	}
	if (proto_peerid_parse(e->peer, text, why, n) != 0)
		return mp_fail(r, KITH_EVALUE);
	if (mp_read_text(r, e->endpoint, PROTO_ENDPOINT_MAX)) {
		if (r->err == KITH_ETOOBIG)
			snprintf(why, n, "endpoint longer than %d bytes", PROTO_ENDPOINT_MAX);
		else
			snprintf(why, n, "endpoint: %s", proto_strerror(r->err));
		return r->err;
	}
	return 0;
}

int ctl_admit_list_decode(struct ctl_admit_entry *out, size_t max, size_t *n_out,
                          const uint8_t *buf, size_t len, char *err, size_t n)
{
	struct mp_reader r;
	uint32_t count = 0;
	char why[160] = "";

	*n_out = 0;
	if (max > CTL_ADMIT_MAX)
		max = CTL_ADMIT_MAX;
	mp_reader_init(&r, buf, len);
	if (mp_read_array(&r, &count, (uint32_t)max))
		return ctl_fail(err, n, r.err, "the list of peers is %s",
		                r.err == KITH_ETOOBIG ? "too long" : "malformed");
	if (count == 0)
		return ctl_fail(err, n, KITH_EVALUE, "the list of peers is empty");
	for (uint32_t i = 0; i < count; i++) {
		if (read_admit_entry(&r, &out[i], why, sizeof(why)))
			return ctl_fail(err, n, r.err, "peer %" PRIu32 " of %" PRIu32 ": %s", i + 1,
			                count, why);
		/* Quadratic, but at most half a million comparisons of 32
		 * bytes: less than a millisecond, and no allocation. */
		for (uint32_t j = 0; j < i; j++)
			if (!memcmp(out[j].peer, out[i].peer, PROTO_KEY_LEN))
				return ctl_fail(err, n, KITH_EVALUE,
				                "peer %" PRIu32 " of %" PRIu32 " is peer %" PRIu32
				                " again",
				                i + 1, count, j + 1);
	}
	/* Every read above succeeded: only trailing bytes are left to find. */
	if (mp_finish(&r))
		return ctl_fail(err, n, r.err, "trailing bytes after the list of peers");
	*n_out = count;
	return 0;
}

static void pack_error(msgpack_packer *pk, uint64_t tag, int rc, const char *text)
{
	struct mp_map m;

	mp_map_begin(&m);
	mp_map_bool(&m, CTL_REPLY_OK, false);
	mp_map_str(&m, CTL_REPLY_ERROR, text);
	mp_map_uint(&m, CTL_REPLY_CODE, rc < 0 ? (uint64_t) - (int64_t)rc : (uint64_t)rc);
	if (tag)
		mp_map_uint(&m, CTL_REPLY_TAG, tag);
	mp_map_end(&m, pk);
}

void ctl_reply_pack(struct mp_buf *out, uint64_t tag, int rc, const char *err,
                    const struct mp_buf *data)
{
	msgpack_packer pk;

	mp_buf_packer(out, &pk);
	if (!rc && data->err)
		rc = data->err;
	if (rc) {
		pack_error(&pk, tag, rc, err && err[0] ? err : proto_strerror(rc));
		return;
	}
	/* A few entries, one of them raw bytes: counted here rather than
	 * copying data (up to a 4 MiB shard) once more through a mp_map. */
	msgpack_pack_map(&pk, tag ? 3 : 2);
	if (tag) {
		mp_pack_cstr(&pk, CTL_REPLY_TAG);
		msgpack_pack_uint64(&pk, tag);
	}
	mp_pack_cstr(&pk, CTL_REPLY_OK);
	msgpack_pack_true(&pk);
	mp_pack_cstr(&pk, CTL_REPLY_DATA);
	/* data holds exactly one packed value: copy its bytes */
	pk.callback(pk.data, (const char *)data->data, data->len);
}
