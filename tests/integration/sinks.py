"""Receivers of kith's alerts for the tests: an SMTP server (aiosmtpd) and
an HTTP server that accepts POST and PUT, each appending one JSON line per
message received to a file. Run as a child process:

    /usr/bin/python3 sinks.py --smtp PORT --http PORT --out DIR

DIR/mail.jsonl gets {"from", "to", "data"}; DIR/http.jsonl gets
{"method", "path", "headers", "body"}. Answers 200 to HTTP unless the
file DIR/http_fail holds a number N > 0: then it answers 500 and counts
N down (to test retries). Stops on SIGTERM.
"""
import argparse
import asyncio
import json
import os
import signal
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller


def append(path, obj, lock=threading.Lock()):
    with lock, open(path, "a") as f:
        f.write(json.dumps(obj) + "\n")


class Mail:
    def __init__(self, out):
        self.out = out

    async def handle_DATA(self, server, session, envelope):
        append(os.path.join(self.out, "mail.jsonl"), {
            "from": envelope.mail_from, "to": envelope.rcpt_tos,
            "data": envelope.content.decode("utf-8", "replace")})
        return "250 OK"


def make_handler(out):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def fail_once(self):
            path = os.path.join(out, "http_fail")
            try:
                n = int(open(path).read() or 0)
            except (OSError, ValueError):
                return False
            if n <= 0:
                return False
            with open(path, "w") as f:
                f.write(str(n - 1))
            return True

        def handle_body(self):
            length = min(int(self.headers.get("Content-Length", 0)), 1 << 20)
            body = self.rfile.read(length).decode("utf-8", "replace")
            failing = self.fail_once()
            append(os.path.join(out, "http.jsonl"), {
                "method": self.command, "path": self.path, "headers": dict(self.headers),
                "body": body, "answered": 500 if failing else 200})
            self.send_response(500 if failing else 200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        do_POST = handle_body
        do_PUT = handle_body

    return Handler


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--smtp", type=int, required=True)
    ap.add_argument("--http", type=int, required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    smtp = Controller(Mail(args.out), hostname="127.0.0.1", port=args.smtp)
    smtp.start()
    http = ThreadingHTTPServer(("127.0.0.1", args.http), make_handler(args.out))
    threading.Thread(target=http.serve_forever, daemon=True).start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    open(os.path.join(args.out, "ready"), "w").close()
    stop.wait()
    http.shutdown()
    smtp.stop()


if __name__ == "__main__":
    main()
