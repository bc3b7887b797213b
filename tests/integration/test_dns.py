"""Failover DNS with real agents and a real knotd (a zone, a TSIG key, an
update ACL): kith dns test proves a credential or names what is wrong;
an outage of the primary's HTTP server makes the name answer the standby
(read with kdig), its recovery points it back; two partners holding the
grant make one change each way; a name edited by hand is left alone; a
standby down too changes nothing; the owner's webhook hears of each change
and each refusal, a wrong secret included."""
import base64
import json
import os
import sqlite3
import urllib.request
import pwd
import grp
import shutil
import subprocess
import time

from harness import Failed, Federation, free_ports, run, wait_until

from test_monitor import HERE, Service, lines

ZONE = "example.test"
NAME = "www." + ZONE
PRIMARY, STANDBY, HAND = "127.0.0.2", "127.0.0.3", "127.0.0.9"
PZONE = "example.pdns"
PNAME = "www." + PZONE
P_PRIMARY, P_STANDBY = "127.0.0.4", "127.0.0.5"


def which(prog):
    for d in os.environ.get("PATH", "").split(":") + ["/usr/sbin", "/usr/bin"]:
        p = os.path.join(d, prog)
        if os.access(p, os.X_OK):
            return p
    raise Failed("%s not found: tools/setup test installs knot and knot-dnsutils" % prog)


class Knot:
    """knotd on 127.0.0.1, serving ZONE with www A www; kith-update may
    change A, AAAA and TXT at www and _kith-test, with TSIG."""

    def __init__(self, root, port, www=PRIMARY):
        self.dir = os.path.join(root, "knot")
        os.makedirs(self.dir)
        self.port = port
        self.secret = base64.b64encode(os.urandom(32)).decode()
        user = pwd.getpwuid(os.getuid()).pw_name
        group = grp.getgrgid(os.getgid()).gr_name
        with open(os.path.join(self.dir, "knot.conf"), "w") as f:
            f.write("server:\n  rundir: \"%s\"\n  listen: 127.0.0.1@%d\n  user: %s:%s\n"
                    "  pidfile: \"%s/knot.pid\"\nlog:\n  - target: stderr\n    any: info\n"
                    "database:\n  storage: \"%s\"\n"
                    "key:\n  - id: kith-update\n    algorithm: hmac-sha256\n    secret: %s\n"
                    # The ACL of docs/dns.md: only what kith may change.
                    "acl:\n  - id: kith\n    key: kith-update\n    action: update\n"
                    "    update-type: [A, AAAA, TXT]\n    update-owner: name\n"
                    "    update-owner-match: equal\n    update-owner-name: [www, _kith-test]\n"
                    "template:\n  - id: default\n    storage: \"%s\"\n    zonefile-sync: -1\n"
                    "zone:\n  - domain: %s\n    file: \"%s/%s.zone\"\n    acl: kith\n" % (
                        self.dir, port, user, group, self.dir, self.dir, self.secret,
                        self.dir, ZONE, self.dir, ZONE))
        with open(os.path.join(self.dir, ZONE + ".zone"), "w") as f:
            f.write("$ORIGIN %s.\n$TTL 60\n@ SOA ns hostmaster 1 3600 600 86400 60\n"
                    "@ NS ns\nns A 192.0.2.1\nwww A %s\n" % (ZONE, www))
        self.log = open(os.path.join(self.dir, "knotd.log"), "w")
        self.proc = subprocess.Popen([which("knotd"), "-c",
                                      os.path.join(self.dir, "knot.conf")],
                                     stdout=self.log, stderr=self.log)
        wait_until(lambda: self.query("SOA"), 20, "knotd to answer for " + ZONE)

    def query(self, rtype, name=None):
        p = subprocess.run([which("kdig"), "@127.0.0.1", "-p", str(self.port), "+short",
                            "+tcp", "+time=2", "+retry=0", name or ZONE, rtype],
                           capture_output=True, text=True, timeout=10)
        return p.stdout.split() if p.returncode == 0 else []

    def www(self):
        return sorted(self.query("A", NAME))

    def serial(self):
        soa = self.query("SOA")
        return int(soa[2]) if len(soa) > 2 else -1

    def set_by_hand(self, addr):
        """An admin's own update, as knsupdate sends it."""
        script = ("server 127.0.0.1 %d\nkey hmac-sha256:kith-update %s\nzone %s.\n"
                  "update delete %s. A\nupdate add %s. 60 A %s\nsend\n" % (
                      self.port, self.secret, ZONE, NAME, NAME, addr))
        subprocess.run([which("knsupdate")], input=script, text=True, check=True, timeout=10)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.log.close()


class PowerDNS:
    """pdns_server on 127.0.0.1 with the sqlite3 backend and its HTTP API,
    serving PZONE with www A P_PRIMARY, made through the API itself."""

    def __init__(self, root):
        self.dir = os.path.join(root, "pdns")
        os.makedirs(self.dir)
        self.key = base64.b64encode(os.urandom(24)).decode()
        db = os.path.join(self.dir, "pdns.sqlite3")
        with open("/usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql") as f:
            con = sqlite3.connect(db)
            con.executescript(f.read())
            con.close()
        # A port free_ports() found free may be taken before pdns_server
        # binds it (other tests run beside this one): pdns_server then
        # runs on without its web server. Three tries, each on new ports.
        self.proc = None
        for attempt in range(3):
            self.port, self.api_port = free_ports(2)
            if self.start(db):
                break
            self.stop()
        else:
            raise Failed("the PowerDNS API did not come up on three pairs of ports")
        self.api("POST", "/zones", {
            "name": PZONE + ".", "kind": "Native", "nameservers": ["ns." + PZONE + "."],
            "rrsets": [{"name": PNAME + ".", "type": "A", "ttl": 60, "changetype": "REPLACE",
                        "records": [{"content": P_PRIMARY, "disabled": False}]}]})

    def start(self, db):
        dns_port, api_port = self.port, self.api_port
        with open(os.path.join(self.dir, "pdns.conf"), "w") as f:
            f.write("launch=gsqlite3\ngsqlite3-database=%s\nlocal-address=127.0.0.1\n"
                    "local-port=%d\napi=yes\napi-key=%s\nwebserver=yes\n"
                    "webserver-address=127.0.0.1\nwebserver-port=%d\n"
                    "webserver-allow-from=127.0.0.0/8\nsocket-dir=%s\nguardian=no\n"
                    "daemon=no\ndisable-syslog=yes\n" % (db, dns_port, self.key, api_port,
                                                          self.dir))
        self.log = open(os.path.join(self.dir, "pdns.log"), "a")
        self.proc = subprocess.Popen([which("pdns_server"), "--config-dir=" + self.dir],
                                     stdout=self.log, stderr=self.log)
        try:
            wait_until(lambda: self.api("GET", "") is not None, 20, "the PowerDNS API")
            return True
        except Failed:
            return False

    def api(self, method, path, body=None):
        req = urllib.request.Request(
            "http://127.0.0.1:%d/api/v1/servers/localhost%s" % (self.api_port, path),
            data=json.dumps(body).encode() if body is not None else None, method=method,
            headers={"X-API-Key": self.key, "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                return r.read()
        except OSError:
            return None

    def www(self):
        p = subprocess.run([which("kdig"), "@127.0.0.1", "-p", str(self.port), "+short",
                            "+tcp", "+time=2", "+retry=0", PNAME, "A"],
                           capture_output=True, text=True, timeout=10)
        return sorted(p.stdout.split()) if p.returncode == 0 else []

    def cred(self, root, name, key=None):
        path = os.path.join(root, name)
        with open(path, "w") as f:
            f.write("provider = pdns\nurl = http://127.0.0.1:%d\ntoken = %s\n" % (
                self.api_port, key or self.key))
        return path

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self.proc:
            self.log.close()
        self.proc = None


def cred_file(root, name, port, secret):
    path = os.path.join(root, name)
    with open(path, "w") as f:
        f.write("# the update key of %s\nprovider = rfc2136\nserver = 127.0.0.1:%d\n"
                "key = kith-update\nsecret = %s\n" % (ZONE, port, secret))
    return path


def test(tap, fed):
    owner, m1, m2, m3 = fed.agents
    knot_port, http_port, smtp_port, hook_port = free_ports(4)
    knot = Knot(fed.root, knot_port)
    try:
        pdns = PowerDNS(fed.root)
    except Failed:
        knot.stop()
        raise
    primary = Service(fed.root, http_port, PRIMARY)
    standby = Service(fed.root, http_port, STANDBY)
    p_primary = Service(fed.root, http_port, P_PRIMARY)
    p_standby = Service(fed.root, http_port, P_STANDBY)
    sink = os.path.join(fed.root, "sink")
    os.makedirs(sink)
    sinks = subprocess.Popen(["/usr/bin/python3", os.path.join(HERE, "sinks.py"), "--smtp",
                              str(smtp_port), "--http", str(hook_port), "--out", sink],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: os.path.exists(os.path.join(sink, "ready")), 20, "the sinks")
        hook = "http://127.0.0.1:%d/owner" % hook_port
        run_test(tap, fed, owner, m1, m2, m3, knot, primary, standby,
                 lambda: [json.loads(h["body"]) for h in lines(os.path.join(sink, "http.jsonl"))
                          if json.loads(h["body"]).get("kind") == "dns"], hook)
        powerdns(tap, fed, owner, m1, pdns, p_primary, p_standby)
    finally:
        for s in (primary, standby, p_primary, p_standby):
            s.stop()
        knot.stop()
        pdns.stop()
        sinks.terminate()
        sinks.wait(timeout=10)


def logged(agent, text):
    with open(agent.log_path) as f:
        return text in f.read()


def run_test(tap, fed, owner, m1, m2, m3, knot, primary, standby, dns_alerts, hook):
    # Two changes of a name within 20 s pause its failover (flap cap).
    quick = "\n[monitoring]\nrecovery = 3s\n[dns]\nflap_max = 2\nflap_window = 20s\n"
    fed.init_all()
    for a in fed.agents:
        a.start(extra_conf=quick)
    for m in (m1, m2, m3):
        m.kith("join", owner.kith("invite").stdout.strip())
    wait_until(lambda: all(len(a.states()) == 4 for a in fed.agents), 30, "four members")
    owner.kith("contact", "add", hook)
    good = cred_file(fed.root, "good.cred", knot.port, knot.secret)
    bad = cred_file(fed.root, "bad.cred", knot.port, base64.b64encode(os.urandom(32)).decode())
    broken = os.path.join(fed.root, "broken.cred")
    with open(broken, "w") as f:
        f.write("provider = rfc2136\nsever = 127.0.0.1:53\n")

    p = owner.kith("grant", m3.id, "dns:" + ZONE, "--secret-file", broken, check=False)
    tap.ok(p.returncode != 0 and "line 2" in p.stderr and "sever" in p.stderr,
           "grant names the bad line of a credential", p.stderr)
    for m in (m1, m2, m3):
        owner.kith("grant", m.id, "monitor")
    owner.kith("grant", m1.id, "dns:" + ZONE, "--secret-file", good)
    owner.kith("grant", m2.id, "dns:" + ZONE, "--secret-file", good)
    owner.kith("grant", m3.id, "dns:" + ZONE, "--secret-file", bad)
    wait_until(lambda: m3.kith("dns", "check", owner.id, ZONE, check=False).returncode == 0, 30,
               "the dns grants to arrive")
    p = m1.kith("dns", "test", owner.id, ZONE, check=False)
    tap.ok(p.returncode == 0 and "works" in p.stdout, "dns test proves a good credential",
           p.stdout + p.stderr)
    tap.ok(not knot.query("TXT", "_kith-test." + ZONE), "and leaves no TXT record behind")
    p = m3.kith("dns", "test", owner.id, ZONE, check=False)
    err = p.stderr.strip()
    tap.ok(p.returncode != 0 and len(err.splitlines()) == 1 and "secret" in err,
           "a wrong secret gives one line saying the secret differs", err)
    # m3's grant goes: only m1 and m2 may act.
    owner.kith("revoke", [g["id"] for g in owner.json("grants")
                          if g["subject"] == m3.id and g["scopes"] == ["dns:" + ZONE]][0])

    primary.start()
    standby.start()
    wait_until(lambda: owner.kith(
        "service", "add", "site", "--url", "http://%s:%d/" % (NAME, primary.port),
        "--expect-body", "ok", "--interval", "1s", "--timeout", "1s", "--dns-name", NAME,
        "--primary", PRIMARY, "--standby", STANDBY, check=False).returncode == 0, 30,
        "the plan to be accepted")
    wait_until(lambda: all(h.get("standby") == "up" and h["verdict"] == "up"
                           for a in fed.agents for h in a.json("health")
                           if h["service"] == "site"), 60, "site and its standby up everywhere")
    serial = knot.serial()
    tap.ok(knot.www() == [PRIMARY], "the name answers the primary", knot.www())

    # The outage: the name answers the standby, in one change.
    primary.stop()
    t0 = time.monotonic()
    wait_until(lambda: knot.www() == [STANDBY], 60, "the name to answer the standby")
    tap.ok(True, "an outage of the primary points the name at the standby (%.1f s)"
           % (time.monotonic() - t0))
    time.sleep(1.5)
    tap.ok(knot.serial() == serial + 1, "one change, though two partners hold the grant",
           (serial, knot.serial()))
    told = wait_until(lambda: [m for m in dns_alerts() if m["state"] == "standby"], 30,
                      "the owner's webhook to hear of the change")
    tap.ok(len(told) == 1 and told[0]["service"] == "site" and NAME in told[0]["subject"],
           "the owner is told of the change, once", told)
    hist = wait_until(lambda: owner.json("dns", "history"), 30,
                      "the dns-change record to reach the owner")
    tap.ok(len(hist) == 1 and hist[0]["from"] == [PRIMARY] and hist[0]["to"] == [STANDBY] and
           hist[0]["result"] == "changed" and hist[0]["by"] in (m1.id, m2.id) and
           hist[0]["verdict"] == "down", "the change is a signed dns-change record, at the owner",
           hist)

    # The recovery: back at the primary.
    primary.start()
    wait_until(lambda: knot.www() == [PRIMARY], 60, "the name to answer the primary again")
    tap.ok(True, "the primary's recovery points it back")
    time.sleep(1.5)
    tap.ok(knot.serial() == serial + 2, "one change back", (serial, knot.serial()))
    back = wait_until(lambda: [h for h in owner.json("dns", "history") if h["to"] == [PRIMARY]],
                      30, "the change back's record")
    tap.ok(len(back) == 1 and back[0]["by"] == owner.id,
           "the owner's own agent, alive, pointed it back", back)

    # A name edited by hand is not overwritten. Its two changes just now
    # pause its failover first (flap_max 2 in 20 s): the owner is told.
    knot.set_by_hand(HAND)
    serial = knot.serial()
    primary.stop()
    wait_until(lambda: [m for m in dns_alerts() if m["state"] == "paused"], 30,
               "the flap cap to pause the failover")
    tap.ok(knot.www() == [HAND] and knot.serial() == serial,
           "a name that changed twice within flap_window: failover paused, owner told")
    wait_until(lambda: logged(m1, "leaves it alone") or logged(m2, "leaves it alone"), 60,
               "the elected partner to find the name changed by hand")
    tap.ok(knot.www() == [HAND] and knot.serial() == serial,
           "a name edited by hand is left alone", knot.www())
    wait_until(lambda: [m for m in dns_alerts() if "leaves it alone" in m["text"]], 30,
               "the owner to be told its name was left alone")
    tap.ok(True, "and the owner is told so")
    primary.start()
    wait_until(lambda: all(h["verdict"] == "up" for a in fed.agents for h in a.json("health")
                           if h["service"] == "site"), 60, "site up again")
    knot.set_by_hand(PRIMARY)

    # The standby down too: no change.
    serial = knot.serial()
    standby.stop()
    wait_until(lambda: all(h.get("standby") == "down" for a in fed.agents
                           for h in a.json("health") if h["service"] == "site"), 60,
               "the standby down everywhere")
    primary.stop()
    wait_until(lambda: logged(m1, "stays on its primary") or logged(m2, "stays on its primary"),
               60, "the elected partner to refuse a failover to a dead standby")
    tap.ok(knot.www() == [PRIMARY] and knot.serial() == serial,
           "with the standby down too, nothing changes", knot.www())
    told = wait_until(lambda: [m for m in dns_alerts() if m["state"] == "no failover"], 30,
                      "the owner to be told there is no failover")
    tap.ok("standby" in told[0]["subject"], "and the owner is told why", told)

    # Only m3 holds the grant now, with a wrong secret: the owner hears why.
    standby.start()
    primary.start()
    wait_until(lambda: all(h["verdict"] == "up" and h.get("standby") == "up"
                           for a in fed.agents for h in a.json("health")
                           if h["service"] == "site"), 60, "site and its standby up again")
    for g in owner.json("grants"):
        if g["scopes"] == ["dns:" + ZONE] and g["state"] == "active":
            owner.kith("revoke", g["id"])
    bad = cred_file(fed.root, "bad2.cred", knot.port, base64.b64encode(os.urandom(32)).decode())
    owner.kith("grant", m3.id, "dns:" + ZONE, "--secret-file", bad)
    wait_until(lambda: m3.kith("dns", "check", owner.id, ZONE, check=False).returncode == 0 and
               m1.kith("dns", "check", owner.id, ZONE, check=False).returncode != 0, 30,
               "m3 alone to hold the grant")
    primary.stop()
    told = wait_until(lambda: [m for m in dns_alerts()
                               if m["state"] == "failed" and "secret" in m["text"]], 60,
                      "the owner to be told the update failed for its secret")
    tap.ok(knot.www() == [PRIMARY],
           "a wrong secret: no change, and the owner is told the secret differs", told)
    hist = wait_until(lambda: [h for h in owner.json("dns", "history")
                               if h["result"] == "failed" and h["by"] == m3.id], 30,
                      "the failed attempt's record")
    tap.ok("secret" in hist[0]["why"], "and the failed attempt is recorded with its reason",
           hist)
    out = owner.kith("dns", "history").stdout
    tap.ok(out.count("changed") >= 2 and "failed" in out, "dns history lists them", out)
    tap.ok(all(a.alive() for a in fed.agents), "every agent runs on")


def powerdns(tap, fed, owner, m1, pdns, primary, standby):
    """The same failover through the PowerDNS HTTP API."""
    owner.kith("grant", m1.id, "dns:" + PZONE, "--secret-file",
               pdns.cred(fed.root, "pdns-bad.cred", "not-the-key"))
    wait_until(lambda: m1.kith("dns", "check", owner.id, PZONE, check=False).returncode == 0, 30,
               "m1's pdns grant")
    p = m1.kith("dns", "test", owner.id, PZONE, check=False)
    tap.ok(p.returncode != 0 and "token" in p.stderr and len(p.stderr.strip().splitlines()) == 1,
           "dns test through the PowerDNS API: a wrong token in one line", p.stderr)
    for g in owner.json("grants"):
        if g["scopes"] == ["dns:" + PZONE] and g["state"] == "active":
            owner.kith("revoke", g["id"])
    owner.kith("grant", m1.id, "dns:" + PZONE, "--secret-file", pdns.cred(fed.root, "pdns.cred"))
    wait_until(lambda: m1.kith("dns", "test", owner.id, PZONE, check=False).returncode == 0, 30,
               "m1's new pdns grant to work")
    tap.ok(True, "dns test proves a PowerDNS credential")
    primary.start()
    standby.start()
    owner.kith("service", "add", "cloud", "--url", "http://%s:%d/" % (PNAME, primary.port),
               "--expect-body", "ok", "--interval", "1s", "--timeout", "1s", "--dns-name",
               PNAME, "--primary", P_PRIMARY, "--standby", P_STANDBY)
    wait_until(lambda: all(h.get("standby") == "up" and h["verdict"] == "up"
                           for a in fed.agents for h in a.json("health")
                           if h["service"] == "cloud"), 60, "cloud and its standby up")
    tap.ok(pdns.www() == [P_PRIMARY], "PowerDNS answers the primary", pdns.www())
    primary.stop()
    wait_until(lambda: pdns.www() == [P_STANDBY], 60, "PowerDNS to answer the standby")
    tap.ok(True, "an outage points the name at the standby through the PowerDNS API")
    primary.start()
    wait_until(lambda: pdns.www() == [P_PRIMARY], 60, "PowerDNS to answer the primary again")
    tap.ok(True, "and its recovery points it back")

    # The owner's override: pinned to the standby while all is well (every
    # agent ends its recovery period on its own evaluations: wait for all).
    wait_until(lambda: all(h["verdict"] == "up" for a in fed.agents for h in a.json("health")
                           if h["service"] == "cloud"), 60, "cloud up everywhere")
    out = owner.kith("dns", "pin", PNAME, "standby").stdout
    wait_until(lambda: pdns.www() == [P_STANDBY], 30, "the pin to point the name at the standby")
    # The change's record reaches the owner by gossip.
    st = wait_until(lambda: [x for x in owner.json("dns", "status") if x["service"] == "cloud" and
                             x.get("last_change", {}).get("to") == [P_STANDBY]], 30,
                    "the owner to hold the pinned change's record")
    tap.ok(st[0]["pin"] == "standby" and st[0]["verdict"] == "up" and
           st[0]["acting"] == m1.id and st[0]["primary"] == [P_PRIMARY],
           "dns pin points the name at the standby whatever the checks; dns status says so",
           (out, st))
    owner.kith("dns", "unpin", PNAME)
    wait_until(lambda: pdns.www() == [P_PRIMARY], 30, "unpin to let the checks decide again")
    tap.ok(True, "dns unpin: back at the primary, the service being up")

    # The owner's agent dies, its service stays up: nothing changes.
    changes = len(m1.json("dns", "history"))
    owner.kill9()
    time.sleep(8)  # four check intervals, two verdict evaluations
    tap.ok(pdns.www() == [P_PRIMARY] and len(m1.json("dns", "history")) == changes,
           "the owner's agent killed, its service up: no change", pdns.www())

    # Its service fails and recovers while it is dead: its partner points
    # the name back.
    primary.stop()
    wait_until(lambda: pdns.www() == [P_STANDBY], 60, "PowerDNS to answer the standby")
    primary.start()
    wait_until(lambda: pdns.www() == [P_PRIMARY], 60, "PowerDNS to answer the primary again")
    back = wait_until(lambda: [h for h in m1.json("dns", "history")
                               if h["service"] == "cloud" and h["to"] == [P_PRIMARY] and
                               h["by"] == m1.id and h["verdict"] == "up"], 30,
                      "m1's record of the change back")
    tap.ok(back, "the owner's agent dead: its partner points the name back")


if __name__ == "__main__":
    run(test, Federation(4))
