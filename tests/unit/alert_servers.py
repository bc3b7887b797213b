#!/usr/bin/python3
"""Local servers for tests/unit/test_alert.c.

    alert_servers.py smtp DIR [USER PASSWORD]
    alert_servers.py http DIR

Each listens on a free port of 127.0.0.1, prints "PORT n" on stdout, and
writes one file per message or request into DIR (written whole, then
renamed, so the test never reads half a file). A file holds "key=value"
lines, each value JSON-encoded with ensure_ascii, so the C test compares
whole lines.

The HTTP server answers 500 to a path containing "broken", 500 to the first
request of a path containing "flaky" and 200 to everything else. Both exit
after two minutes whatever happens.
"""
import asyncio
import email
import email.header
import email.policy
import email.utils
import json
import logging
import os
import re
import signal
import sys
import warnings
from http.server import BaseHTTPRequestHandler, HTTPServer

LIFETIME_S = 120


class Recorder:
    def __init__(self, outdir):
        self.outdir = outdir
        self.n = 0

    def write(self, prefix, fields):
        self.n += 1
        name = os.path.join(self.outdir, "%s-%03d" % (prefix, self.n))
        with open(name + ".tmp", "w") as f:
            for key, value in fields:
                f.write("%s=%s\n" % (key, json.dumps(value, ensure_ascii=True)))
        os.rename(name + ".tmp", name)


def mail_fields(envelope, session):
    raw = envelope.original_content
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    date = email.utils.parsedate_to_datetime(msg["date"]) if msg["date"] else None
    subject = re.search(rb"\r\nSubject: (.*?)\r\n(?![ \t])", raw, re.S)
    auth = getattr(session, "auth_data", None)
    bare_lf = any(i == 0 or raw[i - 1] != 13 for i in range(len(raw)) if raw[i] == 10)
    return [
        ("mail_from", envelope.mail_from),
        ("rcpt", ",".join(envelope.rcpt_tos)),
        ("from", str(msg["from"])),
        ("to", str(msg["to"])),
        ("subject", str(msg["subject"])),
        ("subject_raw", subject.group(1).decode("ascii", "replace") if subject else ""),
        ("date_utc", date is not None and date.utcoffset() is not None
         and date.utcoffset().total_seconds() == 0),
        ("message_id", str(msg["message-id"])),
        ("mime_version", str(msg["mime-version"])),
        ("content_type", msg.get_content_type() + ";" + str(msg.get_content_charset())),
        ("cte", str(msg["content-transfer-encoding"])),
        ("body", msg.get_content()),
        ("bare_lf", bare_lf),
        ("defects", len(msg.defects)),
        ("auth", auth.decode("utf-8", "replace") if isinstance(auth, bytes) else ""),
    ]


def run_smtp(outdir, user, password):
    from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

    rec = Recorder(outdir)

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            rec.write("mail", mail_fields(envelope, session))
            return "250 OK"

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword) and auth_data.login == user.encode()
              and auth_data.password == password.encode())
        # handled=False: aiosmtpd answers 535 itself (True would leave the client waiting).
        return AuthResult(success=ok, handled=False,
                          auth_data=auth_data.login if ok else None)

    def factory():
        if user is None:
            return SMTP(Handler(), hostname="kith-test")
        return SMTP(Handler(), hostname="kith-test", authenticator=authenticator,
                    auth_required=True, auth_require_tls=False)

    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(loop.create_server(factory, "127.0.0.1", 0))
    print("PORT %d" % server.sockets[0].getsockname()[1], flush=True)
    loop.run_forever()


def run_http(outdir):
    rec = Recorder(outdir)
    seen = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            self.answer()

        def do_PUT(self):
            self.answer()

        def answer(self):
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            seen[self.path] = seen.get(self.path, 0) + 1
            status = 200
            if "broken" in self.path or ("flaky" in self.path and seen[self.path] == 1):
                status = 500
            fields = [("method", self.command), ("path", self.path), ("status", status)]
            for key in ("content-type", "authorization", "title", "tags", "expect"):
                fields.append(("header-" + key, self.headers.get(key, "")))
            title = self.headers.get("title", "")
            decoded = str(email.header.make_header(email.header.decode_header(title)))
            fields.append(("title_decoded", decoded))
            fields.append(("body", body.decode("utf-8", "replace")))
            fields.append(("body_utf8", body == body.decode("utf-8", "replace").encode()))
            try:
                doc = json.loads(body)
                fields.append(("json_ok", isinstance(doc, dict)))
                for key, value in sorted(doc.items()):
                    fields.append(("json." + key, value))
            except ValueError:
                fields.append(("json_ok", False))
            rec.write("req", fields)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, fmt, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    print("PORT %d" % server.server_address[1], flush=True)
    server.serve_forever()


def main():
    signal.alarm(LIFETIME_S)
    # aiosmtpd warns of AUTH without TLS, which is what the test wants.
    warnings.simplefilter("ignore")
    logging.disable(logging.WARNING)
    mode, outdir = sys.argv[1], sys.argv[2]
    if mode == "smtp":
        user = sys.argv[3] if len(sys.argv) > 4 else None
        password = sys.argv[4] if len(sys.argv) > 4 else None
        run_smtp(outdir, user, password)
    elif mode == "http":
        run_http(outdir)
    else:
        sys.exit("unknown mode " + mode)


if __name__ == "__main__":
    main()
