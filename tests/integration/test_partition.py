"""One observer whose own network is broken never flips a verdict, nor a
DNS name.

Three monitors check a service. One of them runs in its own network
namespace, joined to the others by a veth pair; the service listens on a
second address of the host's end of the veth. Cutting that address off in the
namespace (a blackhole route) breaks the observer's checks while its
gossip still flows: it publishes "down", the others keep seeing "up",
and the verdict is never down anywhere, with no alert. The service has a
DNS plan on a real knotd (its standby on 127.0.0.3, which the cut
observer cannot reach either): the name never changes.

Needs root and iproute2; skipped (exit 77) otherwise."""
import json
import os
import subprocess
import sys
import time

from harness import Agent, Failed, Federation, Tap, free_ports, wait_until
from test_dns import NAME, ZONE, Knot, cred_file
from test_monitor import Service, lines

HERE = os.path.dirname(os.path.abspath(__file__))
TAG = "k%d" % (os.getpid() % 100000)
NS = "kith-" + TAG
HOST_IP, NS_IP, SVC_IP = "10.231.0.1", "10.231.0.2", "10.231.1.1"


def sh(*args, ns=False, check=True):
    cmd = (["ip", "netns", "exec", NS] if ns else []) + list(args)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    if check and p.returncode != 0:
        raise Failed("%s: %s" % (" ".join(cmd), p.stderr.strip()))
    return p


def setup_network():
    sh("ip", "netns", "add", NS)
    sh("ip", "link", "add", "v" + TAG, "type", "veth", "peer", "name", "w" + TAG)
    sh("ip", "link", "set", "w" + TAG, "netns", NS)
    sh("ip", "addr", "add", HOST_IP + "/24", "dev", "v" + TAG)
    sh("ip", "link", "set", "v" + TAG, "up")
    # The service's own address, on the host's end of the veth: the host
    # reaches it locally, the namespace through the veth.
    sh("ip", "addr", "add", SVC_IP + "/32", "dev", "v" + TAG)
    sh("ip", "link", "set", "lo", "up", ns=True)
    sh("ip", "addr", "add", NS_IP + "/24", "dev", "w" + TAG, ns=True)
    sh("ip", "link", "set", "w" + TAG, "up", ns=True)
    sh("ip", "route", "add", SVC_IP + "/32", "via", HOST_IP, ns=True)


def teardown_network():
    sh("ip", "netns", "del", NS, check=False)  # takes its end of the veth along
    sh("ip", "link", "del", "v" + TAG, check=False)


def test(tap, fed, service, standby, knot, sink_dir, hook_port):
    owner, m1, m2, cut = fed.agents
    fed.init_all()
    for a in fed.agents:
        a.start(extra_conf="\n[monitoring]\nrefuse_private = 0\n")
    for m in (m1, m2, cut):
        m.kith("join", owner.kith("invite").stdout.strip())
    wait_until(lambda: all(len(a.states()) == 4 for a in fed.agents), 30, "four members")
    owner.kith("contact", "add", "http://127.0.0.1:%d/owner-hook" % hook_port)
    for m in (m1, m2, cut):
        owner.kith("grant", m.id, "monitor")
    owner.kith("grant", m1.id, "dns:" + ZONE, "--secret-file",
               cred_file(fed.root, "dns.cred", knot.port, knot.secret))
    service.start()
    standby.start()
    serial = knot.serial()
    wait_until(lambda: owner.kith(
        "service", "add", "web", "--url", "http://%s:%d/" % (NAME, service.port), "--interval",
        "1s", "--timeout", "1s", "--dns-name", NAME, "--primary", SVC_IP, "--standby",
        standby.host, check=False).returncode == 0, 30, "the dns grant for the plan")
    key = (owner.id, "web")

    def verdict(a):
        return {(h["owner"], h["service"]): h for h in a.json("health")}.get(key)

    wait_until(lambda: all((verdict(a) or {}).get("verdict") == "up" for a in fed.agents), 60,
               "the service to be up everywhere")
    tap.ok(True, "the service is up everywhere, the namespaced observer included")

    sh("ip", "route", "replace", "blackhole", SVC_IP + "/32", ns=True)

    def cut_says_down():
        h = verdict(owner)
        return h and any(o["id"] == cut.id and o["status"] == "down" for o in h["observers"])

    wait_until(cut_says_down, 30, "the cut observer's down observations to reach the owner")
    tap.ok(True, "the cut observer says down, and its word reaches the others")
    # Many evaluations, far more than down_after. What matters is that no
    # agent ever calls it down: under load a slow check may make it
    # degraded for a moment, which is no outage.
    seen, end = [], time.monotonic() + 10
    while time.monotonic() < end:
        seen += [verdict(a)["verdict"] for a in fed.agents]
        time.sleep(0.5)
    tap.ok(seen and "down" not in seen, "the verdict is never down on any agent "
           "(%d samples)" % len(seen), seen)
    tap.ok(not [h for h in lines(os.path.join(sink_dir, "http.jsonl"))
                if h["path"] == "/owner-hook"], "no alert went out")
    tap.ok(knot.www() == [SVC_IP] and knot.serial() == serial and
           not owner.json("dns", "history"), "and the DNS name never changed", knot.www())

    sh("ip", "route", "replace", SVC_IP + "/32", "via", HOST_IP, ns=True)
    wait_until(lambda: not cut_says_down(), 30, "the observer to see the service again")
    tap.ok(True, "healed, the observer sees the service up again")


def netns_problem():
    """Why network namespaces cannot be used here, or None. Being root is
    not enough: in a container or a chroot "ip netns exec" may fail."""
    if os.geteuid() != 0:
        return "needs root"
    probe = NS + "-probe"
    try:
        for cmd in (["ip", "netns", "add", probe], ["ip", "netns", "exec", probe, "true"]):
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
            if p.returncode != 0:
                return "%s: %s" % (" ".join(cmd), p.stderr.strip())
    except OSError as e:
        return str(e)
    finally:
        subprocess.run(["ip", "netns", "del", probe], capture_output=True, timeout=10)
    return None


def main():
    problem = netns_problem()
    if problem:
        print("1..0 # SKIP network namespaces unusable: " + problem)
        sys.exit(77)
    tap = Tap()
    fed = None
    sinks = service = standby = knot = None
    try:
        setup_network()
        ports = free_ports(8)
        fed = Federation(0)
        fed.agents = [Agent(fed.root, "agent%d" % i, ports[i], host=HOST_IP,
                            listen="tcp://0.0.0.0:%d" % ports[i]) for i in range(3)]
        fed.agents.append(Agent(fed.root, "cut", ports[3], host=NS_IP, netns=NS))
        service = Service(fed.root, ports[4])
        service.host = SVC_IP
        standby = Service(fed.root, ports[4], "127.0.0.3")
        knot = Knot(fed.root, ports[7], www=SVC_IP)
        sink_dir = os.path.join(fed.root, "sink")
        os.makedirs(sink_dir)
        sinks = subprocess.Popen(["/usr/bin/python3", os.path.join(HERE, "sinks.py"), "--smtp",
                                  str(ports[5]), "--http", str(ports[6]), "--out", sink_dir],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: os.path.exists(os.path.join(sink_dir, "ready")), 20, "the sinks")
        test(tap, fed, service, standby, knot, sink_dir, ports[6])
    except Failed as e:
        tap.ok(False, "no timeout or error", str(e) + "\n" + "".join(
            "--- %s\n%s" % (a.name, a.tail_log(15)) for a in (fed.agents if fed else [])))
    finally:
        for s in (service, standby):
            if s:
                s.stop()
        if knot:
            knot.stop()
        if sinks:
            sinks.terminate()
            sinks.wait(timeout=10)
        if fed:
            fed.close()
        teardown_network()
    sys.exit(tap.done())


if __name__ == "__main__":
    main()
