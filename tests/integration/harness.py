"""Real kithd agents on 127.0.0.1 for the integration tests.

Each agent is a separate kithd process with its own data directory and
port, driven through the kith command (--json). Every wait is bounded in
time and raises with what it was waiting for. Paths of the binaries come
from the environment: KITH, KITHD, KITH_ROGUE (set by ctest).
"""
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

KITH = os.environ.get("KITH", "kith")
KITHD = os.environ.get("KITHD", "kithd")
ROGUE = os.environ.get("KITH_ROGUE", "kith_rogue")


class Failed(Exception):
    pass


def ephemeral_range():
    """The ports the kernel hands out for outgoing connections."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo, hi = (int(x) for x in f.read().split())
            return lo, hi
    except (OSError, ValueError):
        return 32768, 60999


def free_ports(n):
    """n distinct TCP ports free on 127.0.0.1 (and UDP, for DNS servers)
    right now, taken below the kernel's ephemeral range: a port the kernel
    may give any outgoing connection (tests run side by side, apt
    downloading, Prometheus scraping) could be taken between this choice
    and the bind of the server it is for."""
    lo, _ = ephemeral_range()
    first, last = (20000, lo - 1) if lo > 21000 else (lo // 2, lo - 1)
    rng = random.SystemRandom()
    ports = []
    for _ in range(200 * n):
        if len(ports) == n:
            break
        port = rng.randint(first, last)
        if port in ports:
            continue
        try:
            for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
                with socket.socket(socket.AF_INET, kind) as s:
                    s.bind(("127.0.0.1", port))
        except OSError:
            continue
        ports.append(port)
    if len(ports) < n:
        raise Failed("no %d free ports between %d and %d" % (n, first, last))
    return ports


def wait_until(predicate, timeout, what, step=0.25):
    """Polls predicate until it returns a true value or timeout seconds pass."""
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Failed as e:  # the agent may be starting or stopping
            last_error = e
        time.sleep(step)
    raise Failed("timed out after %ss waiting for %s%s" % (
        timeout, what, " (last error: %s)" % last_error if last_error else ""))


class Agent:
    def __init__(self, root, name, port, host="127.0.0.1", listen=None, netns=None):
        self.name = name
        self.port = port
        self.data = os.path.join(root, name)
        self.endpoint = "tcp://%s:%d" % (host, port)
        self.listen = listen or self.endpoint
        self.netns = netns  # kithd runs in this network namespace
        self.proc = None
        self.log_path = os.path.join(root, name + ".log")
        self.id = None

    def kith(self, *args, check=True):
        """Runs kith with --data; returns stdout. Raises Failed on error."""
        cmd = [KITH] + list(args) + ["--data", self.data]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        if check and p.returncode != 0:
            raise Failed("%s: exit %d: %s" % (" ".join(cmd[1:3]), p.returncode,
                                               p.stderr.strip()))
        return p

    def json(self, *args):
        return json.loads(self.kith(*args, "--json").stdout)

    def init(self, profile="lan"):
        self.kith("init", "--name", self.name, "--listen", self.listen,
                  "--advertise", self.endpoint, "--profile", profile)
        self.id = self.kith("id").stdout.strip()

    def start(self, extra_conf=None):
        self.spawn(extra_conf)
        self.wait_ready()

    def spawn(self, extra_conf=None):
        """Starts kithd without waiting for it (see wait_ready)."""
        if extra_conf:
            with open(os.path.join(self.data, "kithd.conf"), "a") as f:
                f.write(extra_conf)
        log = open(self.log_path, "a")
        prefix = ["ip", "netns", "exec", self.netns] if self.netns else []
        self.proc = subprocess.Popen(prefix + [KITHD, "--data", self.data, "--log-level",
                                               "debug"], stdout=log, stderr=log)
        log.close()

    def wait_ready(self, timeout=15):
        wait_until(lambda: self.alive() and self.kith("status", check=False).returncode == 0,
                   timeout, "%s to answer on its control socket" % self.name)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self):
        """SIGTERM; returns the exit status."""
        if not self.alive():
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
            raise Failed("%s did not stop within 15 s of SIGTERM" % self.name)

    def members(self):
        """id -> member object from kith members --json."""
        return {m["id"]: m for m in self.json("members")}

    def states(self):
        return {i: m["state"] for i, m in self.members().items()}

    def status(self):
        return self.json("status")

    def tail_log(self, lines=30):
        try:
            with open(self.log_path) as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""


class Federation:
    """n agents; the first founds the network, admits every other, and each
    other joins it by ID, so all learn about all through gossip."""

    def __init__(self, n, prefix="agent"):
        self.root = tempfile.mkdtemp(prefix="kith-it-")
        ports = free_ports(n)
        self.agents = [Agent(self.root, "%s%d" % (prefix, i), ports[i]) for i in range(n)]

    def init_all(self):
        for a in self.agents:
            a.init()

    def start_all(self):
        """Starts every agent, then waits for each: many agents start in
        the time of one."""
        for a in self.agents:
            a.spawn()
        for a in self.agents:
            a.wait_ready()

    def admit_star(self, chunk=None):
        """The hub admits the other agents, chunk peers per kith admit (one
        control request each; default: all in one), each chunk then joining
        it."""
        hub = self.agents[0]
        others = self.agents[1:]
        if chunk is None:
            chunk = len(others)
        for i in range(0, len(others), max(1, chunk)):
            batch = others[i:i + max(1, chunk)]
            hub.kith("admit", *["%s@%s" % (a.id, a.endpoint) for a in batch])
            for a in batch:
                a.kith("join", hub.id, "--endpoint", hub.endpoint)

    def running(self):
        return [a for a in self.agents if a.alive()]

    def all_see(self, target_id, state, among=None):
        for a in among or self.running():
            if a.id == target_id:
                continue
            if a.states().get(target_id) != state:
                return False
        return True

    def stop_all(self, timeout=15):
        """SIGTERM to every running agent at once, then waits for all (each
        takes its probe timeout to leave); SIGKILL for any still running
        after timeout seconds."""
        running = self.running()
        for a in running:
            a.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for a in running:
            try:
                a.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                a.proc.kill()
                a.proc.wait(timeout=10)

    def close(self):
        self.stop_all()
        if os.environ.get("KITH_KEEP") is None:
            shutil.rmtree(self.root, ignore_errors=True)


class Tap:
    """TAP output; every check is numbered and a failure shows context."""

    def __init__(self):
        self.n = 0
        self.failed = 0

    def ok(self, cond, what, context=""):
        self.n += 1
        print("%s %d - %s" % ("ok" if cond else "not ok", self.n, what), flush=True)
        if not cond:
            self.failed += 1
            for line in str(context).splitlines():
                print("#   " + line)
        return cond

    def done(self):
        print("1..%d" % self.n)
        return 1 if self.failed else 0


def run(test, fed):
    """Runs test(tap, fed), turning a Failed into a failed check, and always
    stops the agents."""
    tap = Tap()
    try:
        test(tap, fed)
    except Failed as e:
        tap.ok(False, "no timeout or error", str(e) + "\n" + "".join(
            "--- %s\n%s" % (a.name, a.tail_log(15)) for a in fed.agents))
    finally:
        fed.close()
    sys.exit(tap.done())
