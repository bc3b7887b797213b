"""Real clients of an agent's HTTP listener for the tests: a Prometheus
server (Debian's prometheus) that scrapes it, promtool, and headless
Chromium that loads its pages and hands back the DOM it rendered."""
import html.parser
import json
import os
import shutil
import subprocess
import tempfile
import urllib.parse
import urllib.request

from harness import Failed, wait_until


def get(url, timeout=10):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.headers, r.read()


def promtool_check(text):
    """promtool check metrics on text: (ok, what it said)."""
    p = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                       timeout=60)
    return p.returncode == 0, (p.stdout + p.stderr).decode(errors="replace")


class Prometheus:
    """A real Prometheus scraping targets every second, its data in root."""

    def __init__(self, root, port, targets):
        self.dir = os.path.join(root, "prometheus")
        os.makedirs(self.dir, exist_ok=True)
        self.port = port
        conf = os.path.join(self.dir, "prometheus.yml")
        with open(conf, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                    "scrape_configs:\n  - job_name: kith\n    static_configs:\n"
                    "      - targets: [%s]\n" % ", ".join('"%s"' % t for t in targets))
        self.log = open(os.path.join(self.dir, "log"), "w")
        self.proc = subprocess.Popen(
            ["prometheus", "--config.file=" + conf, "--storage.tsdb.path=" +
             os.path.join(self.dir, "data"), "--web.listen-address=127.0.0.1:%d" % port],
            stdout=self.log, stderr=subprocess.STDOUT)

    def ready(self):
        try:
            return get("http://127.0.0.1:%d/-/ready" % self.port, 2)[0] == 200
        except OSError:
            return False

    def query(self, expr):
        """The instant vector of expr: a list of (labels, value)."""
        url = "http://127.0.0.1:%d/api/v1/query?%s" % (
            self.port, urllib.parse.urlencode({"query": expr}))
        try:
            body = json.loads(get(url, 5)[2])
        except (OSError, ValueError):
            return []
        if body.get("status") != "success":
            return []
        return [(r["metric"], r["value"][1]) for r in body["data"]["result"]]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.log.close()


def chromium_dom(url, timeout=60):
    """The DOM headless Chromium rendered for url, as HTML text."""
    chromium = shutil.which("chromium")
    if not chromium:
        raise Failed("chromium is not installed (tools/setup test installs it)")
    profile = tempfile.mkdtemp(prefix="kith-chromium-")
    try:
        p = subprocess.run(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--user-data-dir=" + profile,
             "--dump-dom", url], capture_output=True, timeout=timeout)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    if p.returncode != 0 or not p.stdout:
        raise Failed("chromium could not load %s: %s" % (url, p.stderr[-500:]))
    return p.stdout.decode()


class Elements(html.parser.HTMLParser):
    """Every element of a document with its attributes and its text."""

    def __init__(self, text):
        super().__init__()
        self.found = []
        self.open = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        e = {"tag": tag, "attrs": dict(attrs), "text": ""}
        self.found.append(e)
        if tag not in ("br", "img", "meta", "link", "input", "hr", "rect", "path"):
            self.open.append(e)

    def handle_endtag(self, tag):
        for i in range(len(self.open) - 1, -1, -1):
            if self.open[i]["tag"] == tag:
                del self.open[i:]
                break

    def handle_data(self, data):
        for e in self.open:
            e["text"] += data

    def having(self, attr, value=None):
        return [e for e in self.found
                if attr in e["attrs"] and (value is None or e["attrs"][attr] == value)]
