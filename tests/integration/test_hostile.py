"""Hostile peers against three real agents: a stranger with a valid CURVE
key gets nothing; a member sending garbage, truncated and oversize
messages and forged records is counted, refused and cut off; every agent
keeps running with correct state. Hostile HTTP clients of a2's metrics
listener (held connections, oversize headers, other methods) cost it
little memory, stop nothing else, and leave it answering once gone."""
import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request

from harness import ROGUE, Agent, Failed, Federation, free_ports, run, wait_until
from webtools import get


def rogue(identity, target, mode, count=10, extra=()):
    cmd = [ROGUE, "--data", identity.data, "--endpoint", target.endpoint, "--peer", target.id,
           "--mode", mode, "--count", str(count), "--wait-ms", "1500"] + list(extra)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise Failed("kith_rogue %s: %s" % (mode, p.stderr.strip()))
    return json.loads(p.stdout)


def rss_kib(agent):
    with open("/proc/%d/status" % agent.proc.pid) as f:
        return int([l.split()[1] for l in f if l.startswith("VmRSS:")][0])


def http_attacks(tap, fed, a2, url):
    """Held connections, a header past the per-connection memory, a POST
    with a body: bounded memory, refusals, the agent and its network
    unharmed, and the listener answering again after."""
    before = rss_kib(a2)
    held = []
    for _ in range(200):
        s = socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])), timeout=5)
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ")  # never ends
        held.append(s)
    time.sleep(1)
    grown = rss_kib(a2) - before
    tap.ok(a2.alive() and grown < 8 * 1024,
           "200 held HTTP connections cost a2 %d KiB" % grown, grown)
    states = a2.states()
    tap.ok(all(states[a.id] == "alive" for a in fed.agents), "and its network runs on", states)
    for s in held:
        s.close()
    big = socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])), timeout=5)
    big.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 65536 + b"\r\n\r\n")
    answer = b""
    try:
        while len(answer) < 100:
            chunk = big.recv(4096)
            if not chunk:
                break
            answer += chunk
    except OSError:
        pass
    big.close()
    tap.ok(not answer.startswith(b"HTTP/1.1 200"), "an oversize header is refused",
           answer[:60])
    try:
        code = get_code(url + "/metrics", b"x" * 100000)
    except OSError as e:
        code = str(e)
    tap.ok(code == 405, "a POST is refused with 405", code)
    status = wait_until(lambda: get(url + "/metrics", 5)[0], 20,
                        "the listener to answer again")
    tap.ok(status == 200 and a2.alive(), "after the attack the listener answers")


def get_code(url, data):
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def test(tap, fed):
    fed.init_all()
    port = free_ports(1)[0]
    with open(os.path.join(fed.agents[2].data, "kithd.conf"), "a") as f:
        f.write("[agent]\nmetrics_listen = 127.0.0.1:%d\n" % port)
    fed.start_all()
    fed.admit_star()
    a0, a1, a2 = fed.agents
    ids = {a.id for a in fed.agents}
    wait_until(lambda: all(set(a.states()) == ids and
                           all(s == "alive" for s in a.states().values())
                           for a in fed.agents), 60, "three agents alive")
    tap.ok(True, "three agents see each other alive")

    stranger = Agent(fed.root, "stranger", 1)
    stranger.init()
    insider = Agent(fed.root, "insider", 1)
    insider.init()

    # A stranger with a valid CURVE key: admitted as a guest, answered by
    # nothing, and its records are not kept.
    for mode in ("ping", "sync", "stranger"):
        got = rogue(stranger, a0, mode)
        tap.ok(got["sent"] > 0 and got["received"] == 0,
               "stranger's %s gets no answer" % mode, got)
    st = a0.status()
    tap.ok(st["rejected"]["guest_messages"] + st["rejected"]["handshakes_refused"] > 0,
           "a0 counted the stranger's messages", st["rejected"])
    tap.ok(stranger.id not in a0.states(), "the stranger is no member")
    tap.ok(not a0.json("records", "--author", stranger.id),
           "no record of the stranger stored")

    # An insider: admitted by a0 (keys only, no agent running).
    a0.kith("admit", insider.id, "--endpoint", "tcp://127.0.0.1:1")
    wait_until(lambda: all(insider.id in a.states() for a in fed.agents), 30,
               "the insider to be a member everywhere")

    # kith record import beside a running agent goes through it: checked as
    # from gossip, heard by trust at once, passed on to the others.
    rec = os.path.join(fed.root, "insider.rec")
    insider.kith("record", "export", "--out", rec)
    out = a0.kith("record", "import", rec).stdout
    tap.ok("stored" in out and "member record" in out, "a0 imports the insider's record", out)
    wait_until(lambda: all(a.members()[insider.id]["name"] == "insider" for a in fed.agents), 30,
               "the imported record to name the insider everywhere")
    tap.ok(True, "trust heard of it at once, and the others got it")
    out = a0.kith("record", "import", rec).stdout
    tap.ok("nothing to do" in out, "importing it again changes nothing", out)
    srec = os.path.join(fed.root, "stranger.rec")
    stranger.kith("record", "export", "--out", srec)
    p = a0.kith("record", "import", srec, check=False)
    tap.ok(p.returncode == 1 and "not a member" in p.stderr,
           "a stranger's record is refused by the running agent", p.stderr)
    tap.ok(not a0.json("records", "--author", stranger.id),
           "and never written into its store behind its back")

    before = a0.status()["rejected"]
    got = rogue(insider, a0, "forged", 3, ["--victim", a1.id])
    got = rogue(insider, a0, "stranger", 3, ["--author-data", stranger.data])
    wait_until(lambda: a0.status()["rejected"]["records_bad_signature"] >
               before["records_bad_signature"], 10, "forged records counted")
    tap.ok(True, "forged records (bad signature) refused and counted")
    wait_until(lambda: a0.status()["rejected"]["records_nonmember"] >
               before["records_nonmember"], 10, "relayed non-member records counted")
    tap.ok(True, "records of a non-member relayed by a member refused and counted")
    tap.ok(a1.members()[a1.id]["name"] == "agent1", "a1's own record untouched")
    tap.ok(not a0.json("records", "--author", stranger.id),
           "still no record of the stranger stored")

    # Valid messages that make a0 answer: a SUMMARY that never matches
    # (a0 answers with its digest) and stale claims about a1 (a0 answers
    # with a1's signed word). The answers go to the insider's endpoint,
    # where nothing listens: a0's queue to it is bounded, its memory too,
    # and the claims change nothing of its view.
    before_rss = rss_kib(a0)
    rogue(insider, a0, "summary", 300)
    rogue(insider, a0, "stale", 300, ["--victim", a1.id])
    st = a0.status()
    tap.ok(a0.alive() and st["rejected"]["malformed_messages"] == before["malformed_messages"],
           "a0 answers 300 summaries and 300 stale claims, and counts none malformed")
    tap.ok(a0.states()[a1.id] == "alive", "stale claims do not make a0 suspect a1")
    grew = rss_kib(a0) - before_rss
    tap.ok(grew < 8 * 1024, "a0's memory stays bounded answering them (%d KiB more)" % grew)

    for mode, count in (("truncated", 8), ("oversize", 1), ("garbage", 40)):
        rogue(insider, a0, mode, count)
        tap.ok(a0.alive(), "a0 survives %d %s messages" % (count, mode))
    st = wait_until(lambda: (lambda s: s if s["rejected"]["peers_banned"] >= 1 else None)(
        a0.status()), 10, "the insider to be banned")
    tap.ok(st["rejected"]["malformed_messages"] >= 20, "malformed messages counted",
           st["rejected"])
    tap.ok(True, "the insider is cut off after too many bad messages")
    got = rogue(insider, a0, "ping", 3)
    tap.ok(got["received"] == 0, "a banned insider gets nothing", got)

    # Everyone still runs and the network still works.
    tap.ok(all(a.alive() for a in fed.agents), "every agent still running")
    tap.ok(all(a.states()[b.id] == "alive" for a in fed.agents for b in fed.agents),
           "every agent still sees the others alive")
    # Several peers admitted by one command, in one control request. A
    # bad entry (a0's own ID: only kithd can tell) admits none of them;
    # then the list, partly from a file, admits all three everywhere.
    late = [Agent(fed.root, "late%d" % i, 1) for i in range(3)]
    for x in late:
        x.init()
    admissions = len(a0.json("records", "--kind", "admission"))
    p = a0.kith("admit", late[0].id + "@tcp://127.0.0.1:1", late[1].id, a0.id, check=False)
    tap.ok(p.returncode == 1 and "peer 3 of 3" in p.stderr and "own peer ID" in p.stderr,
           "an admit list with a bad entry is refused, naming the entry", p.stderr)
    tap.ok(len(a0.json("records", "--kind", "admission")) == admissions and
           not any(x.id in a0.states() for x in late), "and none of the list is admitted")
    listed = os.path.join(fed.root, "late.txt")
    with open(listed, "w") as f:
        f.write("# the late ones\n%s tcp://127.0.0.1:1\n\n%s\n" % (late[1].id, late[2].id))
    got = json.loads(a0.kith("admit", late[0].id + "@tcp://127.0.0.1:1", "--file", listed,
                             "--json").stdout)
    tap.ok([g["id"] for g in got] == [x.id for x in late] and
           [g["endpoint"] for g in got] == ["tcp://127.0.0.1:1"] * 2 + [""],
           "one kith admit admits three peers, from arguments and a file", got)
    log = open(a0.log_path).read()
    tap.ok(all("admitted %s" % x.id[:7] in log for x in late), "each is logged as admitted")
    wait_until(lambda: all(x.id in a.states() for a in fed.agents for x in late), 30,
               "the new admissions to spread after the attacks")
    tap.ok(True, "records still replicate after the attacks")
    http_attacks(tap, fed, a2, "http://127.0.0.1:%d" % port)
    codes = [a.stop() for a in fed.agents]
    tap.ok(codes == [0, 0, 0], "every agent stops cleanly on SIGTERM", codes)


if __name__ == "__main__":
    run(test, Federation(3))
