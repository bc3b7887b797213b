"""Peer monitoring with real agents, a real HTTP service, a real SMTP server
and a real webhook receiver: an outage becomes down on every agent, one
mail and one webhook call; recovery becomes up and one more of each; a
member dead too long gets its contacts told once. A real Prometheus
scrapes a partner's /metrics (promtool checks the text) and answers the
service's verdict; headless Chromium shows the owner's status page, served
by a partner while the owner's agent is dead."""
import json
import os
import subprocess
import time

from harness import Failed, Federation, free_ports, run, wait_until
from webtools import Elements, Prometheus, chromium_dom, get, promtool_check

HERE = os.path.dirname(os.path.abspath(__file__))


class Service:
    """python3 -m http.server on host (127.0.0.1), stopped and started at
    will."""

    def __init__(self, root, port, host="127.0.0.1"):
        self.dir = os.path.join(root, "www")
        os.makedirs(self.dir, exist_ok=True)
        with open(os.path.join(self.dir, "index.html"), "w") as f:
            f.write("kith test service: ok\n")
        self.port = port
        self.host = host
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            ["/usr/bin/python3", "-m", "http.server", str(self.port), "--bind", self.host,
             "--directory", self.dir], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


def lines(path):
    try:
        with open(path) as f:
            return [json.loads(l) for l in f if l.strip()]
    except OSError:
        return []


def verdicts(agent):
    return {(h["owner"], h["service"]): h["verdict"] for h in agent.json("health")}


def test(tap, fed):
    owner, m1, m2, m3 = fed.agents
    http_port, smtp_port, hook_port, metrics_port, prom_port = free_ports(5)
    sink_dir = os.path.join(fed.root, "sink")
    os.makedirs(sink_dir)
    sinks = subprocess.Popen(["/usr/bin/python3", os.path.join(HERE, "sinks.py"), "--smtp",
                              str(smtp_port), "--http", str(hook_port), "--out", sink_dir],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    service = Service(fed.root, http_port)
    try:
        m1.metrics = "127.0.0.1:%d" % metrics_port
        run_test(tap, fed, owner, m1, m2, m3, service, sink_dir, smtp_port, hook_port,
                 lambda: Prometheus(fed.root, prom_port, [m1.metrics]))
        member_dead(tap, owner, m1, m2, m3, sink_dir, hook_port)
        status_page(tap, owner, m1)
    finally:
        service.stop()
        if getattr(fed, "prometheus", None):
            fed.prometheus.stop()
        sinks.terminate()
        sinks.wait(timeout=10)


def scraped(prom, owner):
    """kith_service_up of owner's web as Prometheus has it: "1", "0" or None."""
    r = prom.query('kith_service_up{owner="%s",service="web"}' % owner.id)
    return r[0][1] if len(r) == 1 else None


def run_test(tap, fed, owner, m1, m2, m3, service, sink_dir, smtp_port, hook_port, prometheus):
    wait_until(lambda: os.path.exists(os.path.join(sink_dir, "ready")), 20, "the sinks")
    alerts = ("\n[alerts]\nsmtp_url = smtp://127.0.0.1:%d\nsmtp_from = kith@example.org\n"
              "smtp_tls = never\n[monitoring]\nmember_dead_alert = 5s\n" % smtp_port)
    fed.init_all()
    for a in fed.agents:
        a.start(extra_conf=alerts + ("[agent]\nmetrics_listen = %s\n" % a.metrics
                                     if getattr(a, "metrics", None) else ""))
    fed.prometheus = prometheus()
    for a in (m1, m2, m3):
        a.kith("join", invite(owner))
    wait_until(lambda: all(len(a.states()) == 4 for a in fed.agents), 30, "four members")
    hook = "http://127.0.0.1:%d/owner-hook" % hook_port
    owner.kith("contact", "add", "mailto:admin@owner.example")
    owner.kith("contact", "add", hook)
    m3.kith("contact", "add", "http://127.0.0.1:%d/m3-hook" % hook_port)
    for m in (m1, m2, m3):
        owner.kith("grant", m.id, "monitor")
    service.start()
    out = owner.kith("service", "add", "web", "--url", "http://127.0.0.1:%d/" % service.port,
                     "--expect-body", "ok", "--interval", "1s", "--timeout", "1s").stdout
    tap.ok("registered web" in out, "the owner registers its service", out)
    key = (owner.id, "web")

    wait_until(lambda: all(verdicts(a).get(key) == "up" for a in fed.agents), 60,
               "every agent to judge the service up")
    tap.ok(True, "every agent judges the service up")
    # A quorum (2) makes the verdict: the third observer's word may still
    # be on its way.
    h = wait_until(lambda: [x for x in owner.json("health")
                            if x["service"] == "web" and len(x["observers"]) == 3], 30,
                   "the owner to hear from all three observers")[0]
    tap.ok(set(h) >= {"owner", "service", "verdict", "since", "observers"},
           "health --json has the documented fields and 3 observers", h)
    tap.ok(not lines(os.path.join(sink_dir, "mail.jsonl")), "no alert while all is well")
    status, headers, text = get("http://%s/metrics" % m1.metrics)
    good, said = promtool_check(text)
    tap.ok(status == 200 and good and b'service="web"' in text,
           "a partner's /metrics passes promtool check metrics", said)
    wait_until(lambda: scraped(fed.prometheus, owner) == "1", 60,
               "Prometheus to scrape the service up")
    tap.ok(True, "a real Prometheus scrapes it: kith_service_up of the service is 1")

    # The outage.
    service.stop()
    t0 = time.monotonic()
    wait_until(lambda: all(verdicts(a).get(key) == "down" for a in fed.agents), 60,
               "every agent to judge the service down")
    tap.ok(True, "every agent judges the service down (%.1f s)" % (time.monotonic() - t0))
    wait_until(lambda: scraped(fed.prometheus, owner) == "0", 30,
               "Prometheus to scrape the service down")
    tap.ok(True, "and 0 during the outage")
    wait_until(lambda: len(lines(os.path.join(sink_dir, "mail.jsonl"))) >= 1, 30, "a mail")
    time.sleep(5)  # time for any duplicate to arrive
    mails = lines(os.path.join(sink_dir, "mail.jsonl"))
    hooks = [h for h in lines(os.path.join(sink_dir, "http.jsonl")) if h["path"] == "/owner-hook"]
    tap.ok(len(mails) == 1, "exactly one mail for the outage", mails)
    tap.ok(len(hooks) == 1, "exactly one webhook call for the outage", hooks)
    tap.ok(mails and mails[0]["to"] == ["admin@owner.example"] and "is down" in mails[0]["data"],
           "the mail says the service is down", mails[:1])
    body = json.loads(hooks[0]["body"]) if hooks else {}
    tap.ok(body.get("service") == "web" and body.get("state") == "down" and
           body.get("owner") == owner.id, "the webhook's JSON names service, state, owner", body)

    # The recovery.
    service.start()
    wait_until(lambda: all(verdicts(a).get(key) == "up" for a in fed.agents), 90,
               "every agent to judge the service up again")
    tap.ok(True, "every agent judges the service up again")
    wait_until(lambda: len(lines(os.path.join(sink_dir, "mail.jsonl"))) >= 2, 30, "a 2nd mail")
    time.sleep(5)
    mails = lines(os.path.join(sink_dir, "mail.jsonl"))
    hooks = [h for h in lines(os.path.join(sink_dir, "http.jsonl")) if h["path"] == "/owner-hook"]
    tap.ok(len(mails) == 2 and "is up" in mails[1]["data"], "one more mail: up", mails)
    tap.ok(len(hooks) == 2, "one more webhook call", hooks)


def member_dead(tap, owner, m1, m2, m3, sink_dir, hook_port):
    # A member dead too long: its contacts are told, once, by one partner.
    m3.kill9()
    wait_until(lambda: len([h for h in lines(os.path.join(sink_dir, "http.jsonl"))
                            if h["path"] == "/m3-hook"]) >= 1, 60, "m3's contact told")
    time.sleep(5)
    told = [h for h in lines(os.path.join(sink_dir, "http.jsonl")) if h["path"] == "/m3-hook"]
    tap.ok(len(told) == 1 and json.loads(told[0]["body"]).get("state") == "dead",
           "a member dead too long gets exactly one alert", told)
    tap.ok(all(a.alive() for a in (owner, m1, m2)), "the other agents run on")


def status_page(tap, owner, m1):
    """The owner's agent dies, its service stays up: a real browser loads
    the owner's page from m1 and shows the service up, its outage of
    today in the bar, the observers' views, and the owner not alive."""
    owner.kill9()
    wait_until(lambda: m1.states().get(owner.id) in ("suspect", "dead"), 60,
               "m1 to see the owner's agent gone")
    base = "http://%s" % m1.metrics
    dom = Elements(chromium_dom("%s/member/%s" % (base, owner.id)))
    page = dom.having("data-page", "member")
    web = [e for e in dom.having("data-service", "web") if e["tag"] == "section"]
    days = [e for e in dom.having("data-day") if e["tag"] == "rect"]
    today = time.strftime("%Y-%m-%d", time.gmtime())
    observers = dom.having("data-status")
    tap.ok(page and web and web[0]["attrs"].get("data-verdict") == "up",
           "Chromium renders the dead owner's page, served by a partner: its service up",
           [e["attrs"] for e in web])
    # (The outage may have been yesterday if the test ran over midnight.)
    tap.ok(len(days) == 90 and days[-1]["attrs"].get("data-day") == today and
           "down" in [d["attrs"].get("data-state") for d in days[-2:]],
           "the 90-day bar has today marked by the outage",
           [d["attrs"] for d in days[-2:]])
    tap.ok(len(observers) >= 2 and {"up"} <= {o["attrs"]["data-status"] for o in observers},
           "each observer's view is shown", [o["attrs"] for o in observers])
    dom = Elements(chromium_dom(base + "/"))
    row = [e for e in dom.having("data-peer", owner.id) if e["tag"] == "tr"]
    tap.ok(row and row[0]["attrs"].get("data-state") in ("suspect", "dead"),
           "the network page shows the owner's agent not alive", [e["attrs"] for e in row])


def invite(owner):
    return owner.kith("invite").stdout.strip()


if __name__ == "__main__":
    run(test, Federation(4))
