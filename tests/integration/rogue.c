/* kith_rogue: a misbehaving peer for the integration tests. It connects to
 * an agent with the CURVE keys of the identity in --data (a member's or a
 * stranger's), sends what --mode says, waits for anything coming back, and
 * prints {"sent": N, "received": M} as JSON.
 *
 *   ping       valid PINGs (a stranger must get nothing back)
 *   sync       a valid SYNC asking for a reply (a stranger must get nothing)
 *   summary    a SUMMARY with a random hash (a member's digest answers it)
 *   stale      a GOSSIP claiming --victim suspect at incarnation 0, older
 *              than what the agent holds (its word answers it)
 *   garbage    random bytes
 *   truncated  valid messages cut short
 *   oversize   one message over the agent's max_message
 *   forged     RECORDS with a record claiming --victim as author, signed by us
 *   stranger   RECORDS with a record properly signed by the identity in
 *              --author-data (default: ours), to relay a non-member's record
 *   forgejoin  JOIN naming the invitation of --token with a wrong proof;
 *              prints the issuer's reason
 *   hold       a member's backup put through the hold.* requests, one at a
 *              time: hold.open of --file as --name, its bytes in --pieces
 *              hold.write pieces, hold.commit, then hold.read back; prints
 *              {"status", "reason", "used", "quota", "written",
 *              "receipt_ok", "identical"}; --cut-after N stops after N
 *              pieces (a put cut short: no commit)
 *   holdlist   hold.list; prints {"status", "reason", "names"} */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>
#include <zmq.h>

#include "proto/body.h"
#include "proto/error.h"
#include "proto/identity.h"
#include "proto/ops.h"
#include "proto/peerid.h"
#include "proto/record.h"
#include "proto/token.h"
#include "proto/wire.h"

struct rogue {
	const char *token;
	char reason[PROTO_REASON_TEXT_MAX + 1];
	struct proto_identity *id;
	struct proto_identity *author; /* signs in "stranger" mode */
	uint8_t victim[PROTO_KEY_LEN];
	void *socket;
	int sent;
};

static int send_bytes(struct rogue *r, const void *buf, size_t len)
{
	if (zmq_send(r->socket, buf, len, ZMQ_DONTWAIT) < 0)
		return -errno;
	r->sent++;
	return 0;
}

static void send_probe(struct rogue *r, uint8_t type, size_t cut)
{
	struct proto_probe p = {0};
	struct mp_buf buf = {0};

	p.seq = (uint32_t)r->sent + 1;
	if (proto_probe_encode(&buf, type, &p) == 0)
		send_bytes(r, buf.data, cut && cut < buf.len ? cut : buf.len);
	mp_buf_free(&buf);
}

static void send_sync(struct rogue *r)
{
	struct mp_buf buf = {0};

	if (proto_sync_encode(&buf, true, NULL, 0) == 0)
		send_bytes(r, buf.data, buf.len);
	mp_buf_free(&buf);
}

static void send_summary(struct rogue *r)
{
	uint8_t sum[PROTO_SUMMARY_LEN];
	struct mp_buf buf = {0};

	randombytes_buf(sum, sizeof(sum));
	if (proto_summary_encode(&buf, sum) == 0)
		send_bytes(r, buf.data, buf.len);
	mp_buf_free(&buf);
}

static void send_stale_claim(struct rogue *r)
{
	struct proto_probe p = {.n_updates = 1};
	struct mp_buf buf = {0};

	p.updates[0].state = PROTO_STATE_SUSPECT;
	memcpy(p.updates[0].peer, r->victim, PROTO_KEY_LEN);
	memcpy(p.updates[0].accuser, r->id->pk, PROTO_KEY_LEN);
	if (proto_probe_encode(&buf, PROTO_MSG_GOSSIP, &p) == 0)
		send_bytes(r, buf.data, buf.len);
	mp_buf_free(&buf);
}

/* A member record signed by signer, with author set to who: when who is
 * not signer, the key is overwritten inside the signed bytes, so the
 * signature cannot match. */
#define ROGUE_SEQ ((uint64_t)1 << 62)

static void send_record_as(struct rogue *r, const struct proto_identity *signer,
                           const uint8_t who[PROTO_KEY_LEN])
{
	struct proto_member m = {0};
	struct proto_record rec = {0}, decoded;
	struct mp_buf body = {0}, out = {0}, msg = {0};
	struct proto_block block = {0};
	struct proto_recref ref;

	snprintf(m.name, sizeof(m.name), "rogue");
	if (proto_member_encode(&body, &m) != 0)
		goto out;
	rec.kind = PROTO_KIND_MEMBER;
	/* Above any seq a real author draws (the clock in ms): never stale,
	 * so the receiver must check it. */
	rec.seq = ROGUE_SEQ;
	rec.issued = (uint64_t)time(NULL);
	rec.expires = rec.issued + 3600;
	rec.body = body.data;
	rec.body_len = body.len;
	if (proto_record_sign(&out, signer, &rec) != 0 ||
	    proto_record_decode(&decoded, out.data, out.len) != 0)
		goto out;
	/* The author key sits inside the signed bytes: overwrite it there. */
	if (memcmp(who, signer->pk, PROTO_KEY_LEN) != 0) {
		for (size_t i = 0; i + PROTO_KEY_LEN <= out.len; i++)
			if (!memcmp(out.data + i, signer->pk, PROTO_KEY_LEN)) {
				memcpy(out.data + i, who, PROTO_KEY_LEN);
				break;
			}
	}
	memcpy(block.author, who, PROTO_KEY_LEN);
	block.n_records = 1;
	ref.buf = out.data;
	ref.len = out.len;
	if (proto_records_encode(&msg, &block, 1, &ref) == 0)
		send_bytes(r, msg.data, msg.len);
out:
	mp_buf_free(&body);
	mp_buf_free(&out);
	mp_buf_free(&msg);
}

/* JOIN with the right invitation ID and a proof made with another secret. */
static void send_forged_join(struct rogue *r)
{
	struct proto_token t;
	struct proto_join j = {.has_invite = true};
	struct proto_member m = {0};
	struct proto_record rec = {0};
	struct mp_buf body = {0}, member = {0}, out = {0};
	uint8_t wrong[PROTO_TOKEN_SECRET_LEN];
	char why[200];

	if (!r->token || proto_token_parse(&t, r->token, why, sizeof(why)) != 0) {
		fprintf(stderr, "kith_rogue: forgejoin needs a valid --token\n");
		return;
	}
	snprintf(m.name, sizeof(m.name), "forger");
	rec.kind = PROTO_KIND_MEMBER;
	rec.seq = 1;
	rec.issued = (uint64_t)time(NULL);
	rec.expires = rec.issued + 3600;
	if (proto_member_encode(&body, &m) != 0)
		return;
	rec.body = body.data;
	rec.body_len = body.len;
	if (proto_record_sign(&member, r->id, &rec) != 0)
		goto out;
	proto_token_id(j.invite_id, t.secret);
	randombytes_buf(wrong, sizeof(wrong));
	proto_join_proof(j.proof, wrong, r->id->pk, t.issuer);
	j.member_record = member.data;
	j.member_record_len = member.len;
	if (proto_join_encode(&out, &j) == 0)
		send_bytes(r, out.data, out.len);
out:
	mp_buf_free(&body);
	mp_buf_free(&member);
	mp_buf_free(&out);
}

static int run_mode(struct rogue *r, const char *mode, int count)
{
	for (int i = 0; i < count; i++) {
		if (!strcmp(mode, "ping")) {
			send_probe(r, PROTO_MSG_PING, 0);
		} else if (!strcmp(mode, "sync")) {
			send_sync(r);
		} else if (!strcmp(mode, "summary")) {
			send_summary(r);
		} else if (!strcmp(mode, "stale")) {
			send_stale_claim(r);
		} else if (!strcmp(mode, "garbage")) {
			uint8_t junk[512];
			randombytes_buf(junk, sizeof(junk));
			send_bytes(r, junk, 1 + randombytes_uniform(sizeof(junk)));
		} else if (!strcmp(mode, "truncated")) {
			send_probe(r, PROTO_MSG_PING_REQ, 1 + (size_t)i % 4);
		} else if (!strcmp(mode, "oversize")) {
			size_t len = 3 << 20;
			uint8_t *big = calloc(1, len);
			if (big)
				send_bytes(r, big, len);
			free(big);
		} else if (!strcmp(mode, "forged")) {
			send_record_as(r, r->id, r->victim);
		} else if (!strcmp(mode, "forgejoin")) {
			send_forged_join(r);
		} else if (!strcmp(mode, "stranger")) {
			send_record_as(r, r->author, r->author->pk);
		} else {
			fprintf(stderr, "kith_rogue: unknown mode %s\n", mode);
			return 2;
		}
	}
	return 0;
}

/* ---- hold: requests, one at a time ---- */

struct hold_call {
	int status; /* the response's, or -1: no answer */
	char reason[PROTO_REASON_TEXT_MAX + 1];
	uint8_t *result; /* malloc()ed copy */
	size_t result_len;
};

static void hold_call_free(struct hold_call *c)
{
	free(c->result);
	memset(c, 0, sizeof(*c));
	c->status = -1;
}

/* Sends op with args (may be NULL) and waits up to wait_ms for its
 * response into *c (freed first). */
static int hold_request(struct rogue *r, const char *op, const struct mp_buf *args, int wait_ms,
                        struct hold_call *c)
{
	static uint32_t next_id;
	static uint8_t buf[1 << 20];
	struct proto_request req = {.id = ++next_id};
	struct mp_buf out = {0};
	int rc;

	hold_call_free(c);
	snprintf(req.op, sizeof(req.op), "%s", op);
	req.args = args ? args->data : NULL;
	req.args_len = args ? args->len : 0;
	rc = proto_request_encode(&out, &req);
	if (!rc)
		rc = send_bytes(r, out.data, out.len);
	mp_buf_free(&out);
	if (rc)
		return rc;
	for (int waited = 0; waited < wait_ms; waited += 100) {
		zmq_pollitem_t item = {r->socket, 0, ZMQ_POLLIN, 0};
		struct proto_response resp;
		uint8_t type;
		int got;

		if (zmq_poll(&item, 1, 100) <= 0 ||
		    (got = zmq_recv(r->socket, buf, sizeof(buf), 0)) < 0 ||
		    (size_t)got > sizeof(buf))
			continue;
		if (proto_msg_type(buf, (size_t)got, &type) != 0 || type != PROTO_MSG_RESPONSE ||
		    proto_response_decode(&resp, buf, (size_t)got) != 0 || resp.id != req.id)
			continue;
		c->status = (int)resp.status;
		snprintf(c->reason, sizeof(c->reason), "%s", resp.reason);
		if (resp.result_len) {
			c->result = malloc(resp.result_len);
			if (!c->result)
				return -ENOMEM;
			memcpy(c->result, resp.result, resp.result_len);
			c->result_len = resp.result_len;
		}
		return 0;
	}
	return -ETIMEDOUT;
}

static void print_text(const char *s)
{
	for (const char *ch = s; *ch; ch++)
		printf(*ch == '"' || *ch == '\\' ? "\\%c" : "%c", *ch);
}

struct hold_opts {
	const char *file, *name;
	int pieces, cut_after, wait_ms;
};

static int read_file(const char *path, uint8_t **data, size_t *len)
{
	FILE *f = fopen(path, "rb");
	long size;

	if (!f)
		return -errno;
	if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
		fclose(f);
		return -EIO;
	}
	*len = (size_t)size;
	*data = malloc(*len ? *len : 1);
	if (!*data || fread(*data, 1, *len, f) != *len) {
		fclose(f);
		return -EIO;
	}
	fclose(f);
	return 0;
}

/* open, pieces, commit, read back: stops at the first answer that is not
 * OK, whose status and reason are printed. */
static int run_hold(struct rogue *r, const uint8_t holder[PROTO_KEY_LEN], const struct hold_opts *o)
{
	struct hold_call c = {.status = -1};
	struct proto_hold_open op = {0};
	struct proto_usage u = {0};
	struct proto_hold_written wr = {0};
	struct proto_hold_receipt rec;
	struct mp_buf args = {0};
	uint8_t *data = NULL, *back = NULL;
	size_t len = 0, piece, got = 0;
	bool receipt_ok = false, identical = false;
	int rc = read_file(o->file, &data, &len);

	if (rc) {
		fprintf(stderr, "kith_rogue: %s: %s\n", o->file, strerror(-rc));
		return 1;
	}
	snprintf(op.name, sizeof(op.name), "%s", o->name);
	op.size = len;
	crypto_generichash(op.hash, sizeof(op.hash), data, len, NULL, 0);
	rc = proto_hold_open_encode(&args, &op);
	if (!rc)
		rc = hold_request(r, PROTO_OP_HOLD_OPEN, &args, o->wait_ms, &c);
	mp_buf_free(&args);
	if (rc || c.status != 0 || proto_usage_decode(&u, c.result, c.result_len) != 0)
		goto out;
	piece = o->pieces > 0 ? (len + (size_t)o->pieces - 1) / (size_t)o->pieces : len;
	if (piece > PROTO_HOLD_PIECE_MAX)
		piece = PROTO_HOLD_PIECE_MAX;
	for (size_t at = 0, i = 0; at < len; at += piece, i++) {
		struct proto_hold_write w = {.offset = at, .data = data + at};
		if (o->cut_after >= 0 && i == (size_t)o->cut_after)
			goto out;
		snprintf(w.name, sizeof(w.name), "%s", o->name);
		w.len = len - at < piece ? len - at : piece;
		rc = proto_hold_write_encode(&args, &w);
		if (!rc)
			rc = hold_request(r, PROTO_OP_HOLD_WRITE, &args, o->wait_ms, &c);
		mp_buf_free(&args);
		if (rc || c.status != 0 || proto_hold_written_decode(&wr, c.result, c.result_len))
			goto out;
	}
	{
		struct proto_hold_name nm = {0};
		snprintf(nm.name, sizeof(nm.name), "%s", o->name);
		rc = proto_hold_name_encode(&args, &nm);
	}
	if (!rc)
		rc = hold_request(r, PROTO_OP_HOLD_COMMIT, &args, o->wait_ms, &c);
	mp_buf_free(&args);
	if (rc || c.status != 0 || proto_hold_receipt_decode(&rec, c.result, c.result_len))
		goto out;
	receipt_ok = proto_hold_receipt_verify(&rec, holder, r->id->pk, o->name, len, op.hash) == 0;
	back = malloc(len ? len : 1);
	while (back && got < len) {
		struct proto_hold_read rd = {.offset = got, .len = PROTO_HOLD_PIECE_MAX};
		struct proto_hold_data d;
		snprintf(rd.name, sizeof(rd.name), "%s", o->name);
		rc = proto_hold_read_encode(&args, &rd);
		if (!rc)
			rc = hold_request(r, PROTO_OP_HOLD_READ, &args, o->wait_ms, &c);
		mp_buf_free(&args);
		if (rc || c.status != 0 || proto_hold_data_decode(&d, c.result, c.result_len) ||
		    d.len == 0 || d.len > len - got || d.size != len)
			goto out;
		memcpy(back + got, d.data, d.len);
		got += d.len;
	}
	identical = back && got == len && !memcmp(back, data, len);
out:
	printf("{\"sent\": %d, \"status\": %d, \"error\": \"%s\", \"reason\": \"", r->sent,
	       c.status, rc ? proto_strerror(rc) : "");
	print_text(c.reason);
	printf("\", \"used\": %llu, \"quota\": %llu, \"written\": %llu, \"receipt_ok\": %s, "
	       "\"identical\": %s}\n",
	       (unsigned long long)u.used, (unsigned long long)u.quota,
	       (unsigned long long)wr.written, receipt_ok ? "true" : "false",
	       identical ? "true" : "false");
	hold_call_free(&c);
	free(data);
	free(back);
	return 0;
}

static int run_holdlist(struct rogue *r, int wait_ms)
{
	struct hold_call c = {.status = -1};
	struct proto_hold_list_args la = {0};
	struct proto_hold_list *list = calloc(1, sizeof(*list));
	struct mp_buf args = {0};
	int rc = list ? proto_hold_list_args_encode(&args, &la) : -ENOMEM;

	if (!rc)
		rc = hold_request(r, PROTO_OP_HOLD_LIST, &args, wait_ms, &c);
	mp_buf_free(&args);
	if (!rc && c.status == 0)
		rc = proto_hold_list_decode(list, c.result, c.result_len);
	printf("{\"sent\": %d, \"status\": %d, \"error\": \"%s\", \"reason\": \"", r->sent,
	       c.status, rc ? proto_strerror(rc) : "");
	print_text(c.reason);
	printf("\", \"names\": [");
	for (size_t i = 0; !rc && c.status == 0 && i < list->n; i++)
		printf("%s\"%s\"", i ? ", " : "", list->entries[i].name);
	printf("]}\n");
	hold_call_free(&c);
	free(list);
	return 0;
}

__attribute__((format(printf, 2, 3))) static int die(int status, const char *fmt, ...)
{
	va_list ap;

	fputs("kith_rogue: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return status;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
	    {"data", required_argument, NULL, 'd'},
	    {"endpoint", required_argument, NULL, 'e'},
	    {"peer", required_argument, NULL, 'p'},
	    {"mode", required_argument, NULL, 'm'},
	    {"victim", required_argument, NULL, 'v'},
	    {"count", required_argument, NULL, 'c'},
	    {"wait-ms", required_argument, NULL, 'w'},
	    {"author-data", required_argument, NULL, 'a'},
	    {"token", required_argument, NULL, 't'},
	    {"file", required_argument, NULL, 'f'},
	    {"name", required_argument, NULL, 'n'},
	    {"pieces", required_argument, NULL, 'P'},
	    {"cut-after", required_argument, NULL, 'x'},
	    {NULL, 0, NULL, 0},
	};
	const char *data = NULL, *endpoint = NULL, *peer = NULL, *mode = "ping", *author = NULL;
	struct rogue r = {0};
	struct hold_opts ho = {.name = "shard", .pieces = 1, .cut_after = -1};
	uint8_t server[PROTO_KEY_LEN], server_curve[PROTO_KEY_LEN];
	char path[4200], why[160];
	int c, count = 10, wait_ms = 2000, received = 0, linger = 0, rc;
	void *ctx;

	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (c) {
		case 'd':
			data = optarg;
			break;
		case 'e':
			endpoint = optarg;
			break;
		case 'p':
			peer = optarg;
			break;
		case 'm':
			mode = optarg;
			break;
		case 'v':
			if (proto_peerid_parse(r.victim, optarg, why, sizeof(why)) != 0)
				return die(2, "--victim: %s", why);
			break;
		case 'c':
			count = atoi(optarg);
			break;
		case 'w':
			wait_ms = atoi(optarg);
			break;
		case 'a':
			author = optarg;
			break;
		case 't':
			r.token = optarg;
			break;
		case 'f':
			ho.file = optarg;
			break;
		case 'n':
			ho.name = optarg;
			break;
		case 'P':
			ho.pieces = atoi(optarg);
			break;
		case 'x':
			ho.cut_after = atoi(optarg);
			break;
		default:
			return 2;
		}
	}
	if (!data || !endpoint || !peer) {
		fprintf(stderr, "usage: kith_rogue --data DIR --endpoint E --peer ID [--mode M]\n");
		return 2;
	}
	snprintf(path, sizeof(path), "%s/%s", data, PROTO_IDENTITY_FILE);
	if ((rc = proto_identity_load(&r.id, path)) != 0)
		return die(1, "%s: %s", path, proto_strerror(rc));
	r.author = r.id;
	if (author) {
		snprintf(path, sizeof(path), "%s/%s", author, PROTO_IDENTITY_FILE);
		if ((rc = proto_identity_load(&r.author, path)) != 0)
			return die(1, "%s: %s", path, proto_strerror(rc));
	}
	if (proto_peerid_parse(server, peer, why, sizeof(why)) != 0 ||
	    proto_curve_pk(server_curve, server) != 0)
		return die(2, "--peer: %s", why);
	ctx = zmq_ctx_new();
	r.socket = zmq_socket(ctx, ZMQ_DEALER);
	zmq_setsockopt(r.socket, ZMQ_LINGER, &linger, sizeof(linger));
	zmq_setsockopt(r.socket, ZMQ_CURVE_SERVERKEY, server_curve, PROTO_KEY_LEN);
	zmq_setsockopt(r.socket, ZMQ_CURVE_PUBLICKEY, r.id->curve_pk, PROTO_KEY_LEN);
	zmq_setsockopt(r.socket, ZMQ_CURVE_SECRETKEY, r.id->curve_sk, PROTO_KEY_LEN);
	if (zmq_connect(r.socket, endpoint) != 0)
		return die(1, "connect: %s", zmq_strerror(errno));
	if (!strcmp(mode, "hold") || !strcmp(mode, "holdlist")) {
		ho.wait_ms = wait_ms;
		if (!strcmp(mode, "holdlist"))
			rc = run_holdlist(&r, wait_ms);
		else if (!ho.file)
			rc = die(2, "hold needs --file");
		else
			rc = run_hold(&r, server, &ho);
		goto done;
	}
	rc = run_mode(&r, mode, count);
	/* Anything the agent answers on this connection counts. */
	for (int waited = 0; waited < wait_ms && rc == 0; waited += 100) {
		zmq_pollitem_t item = {r.socket, 0, ZMQ_POLLIN, 0};
		static uint8_t buf[1 << 20];
		struct proto_join_reply jr;
		struct proto_recref refs[16];
		size_t nrefs;
		int got;

		if (zmq_poll(&item, 1, 100) <= 0 ||
		    (got = zmq_recv(r.socket, buf, sizeof(buf), 0)) < 0)
			continue;
		received++;
		if ((size_t)got <= sizeof(buf) &&
		    proto_join_reply_decode(&jr, refs, 16, &nrefs, buf, (size_t)got) == 0)
			snprintf(r.reason, sizeof(r.reason), "%s", jr.reason);
	}
	/* The reason is printable text: the decoder refuses control bytes. */
	printf("{\"sent\": %d, \"received\": %d, \"reason\": \"", r.sent, received);
	for (const char *ch = r.reason; *ch; ch++)
		printf(*ch == '"' || *ch == '\\' ? "\\%c" : "%c", *ch);
	printf("\"}\n");
done:
	zmq_close(r.socket);
	zmq_ctx_term(ctx);
	if (r.author != r.id)
		proto_identity_free(&r.author);
	proto_identity_free(&r.id);
	return rc;
}
