#!/usr/bin/python3
"""Gossip benchmark: kith agents against serf agents on 127.0.0.1.

For each cluster size N and each system, one cluster is formed and then:
  - idle: RSS of every agent (VmRSS, /proc/PID/status) and its CPU time
    (utime + stime, /proc/PID/stat) over an idle window, in % of one core;
  - propagation: one agent publishes (kith: a grant record; serf: a user
    event, -coalesce=false) and we time until the last of the N has it;
  - failure detection: one agent is killed with SIGKILL and we time until
    the last survivor marks it dead; it is then restarted and the cluster
    waits until everyone sees it alive again before the next trial.

Times are taken where each agent says it has the news: kith agents log
"gossip: stored ..." (debug) and "member X (...) is dead" (info) with a
millisecond UTC timestamp; serf agents log "Received event: user-event:
NAME" and "serf: EventMemberFailed: NAME", which we read as they happen
through one `serf monitor` per agent and timestamp on arrival. serf's event
handler is timed too (a shell script appending `date +%s.%N`), for user
events only: the serf agent coalesces member events for a second before it
runs handlers, which is not detection time.

docs/benchmarks.md ("Gossip: kith vs serf") has the method, the command and
the figures. stdlib only; kith agents come from tests/integration/harness.py.
Exit status 0 when every measurement was taken; timings are never judged.
"""
import argparse
import calendar
import json
import os
import re
import selectors
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import harness  # noqa: E402
from harness import Failed, Federation, free_ports, wait_until  # noqa: E402

SERF = os.environ.get("SERF", "serf")
T_START = time.monotonic()


def progress(msg):
    print("[%6.1fs] %s" % (time.monotonic() - T_START, msg), flush=True)


class Interrupted(Exception):
    pass


def on_signal(sig, frame):
    raise Interrupted("signal %d" % sig)


# ---- /proc ----

CLK_TCK = os.sysconf("SC_CLK_TCK")


def rss_kib(pid):
    """(VmRSS, RssAnon) in KiB."""
    vals = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "RssAnon"):
                vals[key] = int(rest.split()[0])
    return vals["VmRSS"], vals.get("RssAnon", 0)


def cpu_seconds(pid):
    """utime + stime of pid (threads included), in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # After the ")" of comm: state is field 3, utime 14, stime 15.
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def measure_idle(pids, window):
    before = [cpu_seconds(p) for p in pids]
    t0 = time.monotonic()
    time.sleep(window)
    elapsed = time.monotonic() - t0
    after = [cpu_seconds(p) for p in pids]
    rss = [rss_kib(p) for p in pids]
    cpu = [100.0 * (b - a) / elapsed for a, b in zip(before, after)]
    return {
        "rss_mib": statistics.median(r[0] for r in rss) / 1024,
        "rss_anon_mib": statistics.median(r[1] for r in rss) / 1024,
        "rss_max_mib": max(r[0] for r in rss) / 1024,
        "cpu_pct": statistics.median(cpu),
        "cpu_max_pct": max(cpu),
    }


# ---- log lines as they arrive ----

class LogTail:
    """New lines of a growing file, from where it was when mark() was called."""

    def __init__(self, path):
        self.path = path
        self.offset = 0
        self.partial = ""

    def mark(self):
        try:
            self.offset = os.path.getsize(self.path)
        except OSError:
            self.offset = 0
        self.partial = ""

    def lines(self):
        try:
            with open(self.path, errors="replace") as f:
                f.seek(self.offset)
                data = f.read()
                self.offset = f.tell()
        except OSError:
            return []
        data = self.partial + data
        lines = data.split("\n")
        self.partial = lines.pop()
        return lines


KITH_STAMP = re.compile(r"^(\d\d):(\d\d):(\d\d)\.(\d\d\d) ")


def kith_log_time(line, near):
    """Unix time of a kithd log line (HH:MM:SS.mmm, UTC), taking the day
    that puts it closest to near."""
    m = KITH_STAMP.match(line)
    if not m:
        return None
    h, mi, s, ms = (int(x) for x in m.groups())
    day = calendar.timegm(time.gmtime(near)[:3] + (0, 0, 0))
    t = day + h * 3600 + mi * 60 + s + ms / 1000.0
    return min((t - 86400, t, t + 86400), key=lambda x: abs(x - near))


class Monitors:
    """One `serf monitor` per serf agent; lines are stamped on arrival."""

    def __init__(self):
        self.sel = selectors.DefaultSelector()
        self.procs = {}
        self.buf = {}

    def start(self, index, rpc):
        p = subprocess.Popen([SERF, "monitor", "-log-level=info", "-rpc-addr=" + rpc],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             start_new_session=True)
        os.set_blocking(p.stdout.fileno(), False)
        self.sel.register(p.stdout, selectors.EVENT_READ, index)
        self.procs[index] = p
        self.buf[index] = b""

    def stop(self, index):
        p = self.procs.pop(index, None)
        if not p:
            return
        self.sel.unregister(p.stdout)
        kill_group(p)
        p.stdout.close()

    def poll(self, timeout):
        """[(index, arrival time, line)] read within timeout seconds."""
        out = []
        if not self.procs:
            time.sleep(timeout)
            return out
        for key, _ in self.sel.select(timeout):
            now = time.time()
            index = key.data
            try:
                data = os.read(key.fileobj.fileno(), 65536)
            except BlockingIOError:
                continue
            if not data:  # the agent went away
                self.stop(index)
                continue
            lines = (self.buf[index] + data).split(b"\n")
            self.buf[index] = lines.pop()
            out.extend((index, now, ln.decode(errors="replace")) for ln in lines)
        return out

    def close(self):
        for index in list(self.procs):
            self.stop(index)
        self.sel.close()


def kill_group(p, sig=signal.SIGKILL):
    """Signals p's process group (p leads one: start_new_session) and reaps p."""
    if p.poll() is None:
        try:
            os.killpg(p.pid, sig)
        except ProcessLookupError:
            pass
    try:
        p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait(timeout=10)


def collect(poll, want, timeout, what):
    """Calls poll() (-> [(index, time)]) until every index in want has a
    time; returns index -> first time. Raises Failed after timeout."""
    got = {}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for index, t in poll():
            if index in want and index not in got:
                got[index] = t
        if want <= set(got):
            return got
    missing = sorted(want - set(got))
    raise Failed("timed out after %ss waiting for %s (missing: %s)" % (timeout, what, missing))


def spread(got, t0):
    """Times after t0 (index -> arrival) summed up: the last, the first,
    and all of them sorted."""
    times = sorted(t - t0 for t in got.values())
    return {"all": times[-1], "first": times[0], "times": times}


def log_offsets(paths):
    """Where each log ends now: false deaths are counted from here."""
    out = []
    for p in paths:
        try:
            out.append(os.path.getsize(p))
        except OSError:
            out.append(0)
    return out


def count_deaths(paths, offsets, pattern, victims):
    """Lines matching pattern (a regex whose group 1 names the member
    declared dead) written since offsets, about members not in victims."""
    n = 0
    for p, off in zip(paths, offsets):
        try:
            with open(p, errors="replace") as f:
                f.seek(off)
                for line in f:
                    m = re.search(pattern, line)
                    if m and m.group(1) not in victims:
                        n += 1
        except OSError:
            pass
    return n


class FalseDeaths:
    """Counts, in the agents' logs, the members declared dead since
    mark_deaths() that fail() did not kill (death_pattern's group 1 names
    the member as fail() records it in victims)."""
    death_pattern = None

    def mark_deaths(self):
        self.victims = set()
        self.death_offsets = log_offsets([a.log_path for a in self.agents])

    def false_deaths(self):
        return count_deaths([a.log_path for a in self.agents], self.death_offsets,
                            self.death_pattern, self.victims)


# ---- kith ----

class KithCluster(FalseDeaths):
    system = "kith"
    death_pattern = r"member (\S+) \(.*\) is dead$"
    extra_conf = ""  # appended to every kithd.conf (--kith-conf)

    def __init__(self, n):
        self.n = n
        self.fed = Federation(n, prefix="k")
        self.agents = self.fed.agents
        self.tails = [LogTail(a.log_path) for a in self.agents]

    def form(self, timeout):
        self.fed.init_all()  # the lan profile
        if self.extra_conf:
            for a in self.agents:
                with open(os.path.join(a.data, "kithd.conf"), "a") as f:
                    f.write(self.extra_conf)
        self.fed.start_all()
        self.fed.admit_star()
        ids = {a.id for a in self.agents}

        def converged():
            for a in self.agents:
                states = a.states()
                if set(states) != ids or any(s != "alive" for s in states.values()):
                    return False
            return True

        wait_until(converged, timeout, "all %d kith agents to see all alive" % self.n, step=0.5)

    def pids(self):
        return [a.proc.pid for a in self.agents]

    def _watch(self, indexes, pattern, name, near):
        """poll function for collect(): (index, log time) of new lines
        holding pattern and name in the logs of indexes."""
        def poll():
            out = []
            for i in indexes:
                for line in self.tails[i].lines():
                    if pattern in line and name in line:
                        t = kith_log_time(line, near)
                        if t is not None:
                            out.append((i, t))
            time.sleep(0.02)
            return out
        return poll

    def propagate(self, trial, timeout):
        origin = self.agents[trial % self.n]
        subject = self.agents[(trial + 1) % self.n]
        others = [i for i in range(self.n) if self.agents[i] is not origin]
        for i in others:
            self.tails[i].mark()
        # A monitor grant to another member: a new record (named by a
        # fresh grant ID) that any member may publish and that changes no
        # membership.
        t0 = time.time()
        grant = json.loads(origin.kith("grant", subject.id, "monitor", "--json").stdout)["id"]
        pattern = "gossip: stored grant record %s/" % origin.id[:7]
        got = collect(self._watch(others, pattern, "'%s'" % grant, t0), set(others), timeout,
                      "kith grant %s by %s to reach all" % (grant, origin.name))
        return spread(got, t0)

    def fail(self, trial, timeout, restart):
        victim_i = 1 + trial % (self.n - 1)
        victim = self.agents[victim_i]
        self.victims.add(victim.id[:7])
        survivors = [i for i in range(self.n) if i != victim_i]
        for i in survivors:
            self.tails[i].mark()
        victim.proc.send_signal(signal.SIGKILL)
        t0 = time.time()
        victim.proc.wait(timeout=10)
        short = victim.id[:7]
        got = self._collect_state(survivors, short, "is dead", t0, timeout)
        result = spread(got, t0)
        if restart:
            for i in survivors:
                self.tails[i].mark()
            t1 = time.time()
            victim.start()
            self._collect_state(survivors, short, "is alive", t1, timeout)
        return result

    def _collect_state(self, indexes, short, state, near, timeout):
        head = "member %s (" % short

        def poll():
            out = []
            for i in indexes:
                for line in self.tails[i].lines():
                    if head in line and line.endswith(") " + state):
                        t = kith_log_time(line, near)
                        if t is not None:
                            out.append((i, t))
            time.sleep(0.02)
            return out

        return collect(poll, set(indexes), timeout,
                       "kith survivors to log %s %s" % (short, state))

    def close(self):
        self.fed.stop_all()
        if os.environ.get("KITH_KEEP") is None:
            shutil.rmtree(self.fed.root, ignore_errors=True)


# ---- serf ----

HANDLER = """#!/bin/sh
# Appends the arrival time of every event to $BENCH_EVENTS.
t=$(date +%s.%N)
echo "$t $SERF_EVENT $SERF_USER_EVENT" >> "$BENCH_EVENTS"
cat >/dev/null
"""


class SerfAgent:
    def __init__(self, root, i, port, rpc_port):
        self.i = i
        self.name = "s%d" % i
        self.bind = "127.0.0.1:%d" % port
        self.rpc = "127.0.0.1:%d" % rpc_port
        self.log_path = os.path.join(root, self.name + ".log")
        self.events_path = os.path.join(root, self.name + ".events")
        self.proc = None

    def spawn(self, handler):
        env = dict(os.environ, BENCH_EVENTS=self.events_path)
        log = open(self.log_path, "a")
        self.proc = subprocess.Popen(
            [SERF, "agent", "-node=" + self.name, "-bind=" + self.bind, "-rpc-addr=" + self.rpc,
             "-profile=lan", "-log-level=info", "-event-handler=" + handler],
            stdout=log, stderr=log, stdin=subprocess.DEVNULL, env=env, start_new_session=True)
        log.close()

    def serf(self, *args, check=True):
        # Go's flag package stops at the first argument: options first.
        try:
            p = subprocess.run([SERF, args[0], "-rpc-addr=" + self.rpc] + list(args[1:]),
                               capture_output=True, text=True, timeout=30)
        except subprocess.TimeoutExpired:
            # A loaded machine: a failure the waits can retry, not a crash.
            raise Failed("serf %s (%s): no answer within 30 s" % (args[0], self.name))
        if check and p.returncode != 0:
            raise Failed("serf %s (%s): exit %d: %s" % (args[0], self.name, p.returncode,
                                                        (p.stderr or p.stdout).strip()))
        return p

    def wait_ready(self, timeout=15):
        wait_until(lambda: self.proc.poll() is None and
                   self.serf("members", check=False).returncode == 0,
                   timeout, "serf agent %s to answer on RPC" % self.name)

    def alive_count(self):
        return len(self.serf("members", "-status=alive").stdout.split("\n")) - 1

    def handler_times(self, event_name):
        try:
            with open(self.events_path) as f:
                for line in f:
                    parts = line.split()
                    if len(parts) >= 3 and parts[1] == "user" and parts[2] == event_name:
                        return float(parts[0])
        except OSError:
            pass
        return None


class SerfCluster(FalseDeaths):
    system = "serf"
    death_pattern = r"serf: EventMemberFailed: (\S+) "

    def __init__(self, n):
        self.n = n
        self.root = tempfile.mkdtemp(prefix="kith-bench-serf-")
        ports = free_ports(2 * n)
        self.agents = [SerfAgent(self.root, i, ports[2 * i], ports[2 * i + 1]) for i in range(n)]
        self.handler = os.path.join(self.root, "handler.sh")
        with open(self.handler, "w") as f:
            f.write(HANDLER)
        os.chmod(self.handler, 0o755)
        self.monitors = Monitors()

    def form(self, timeout):
        for a in self.agents:
            a.spawn(self.handler)
        for a in self.agents:
            a.wait_ready()
        hub = self.agents[0]
        for a in self.agents[1:]:
            a.serf("join", hub.bind)
        wait_until(lambda: all(a.alive_count() == self.n for a in self.agents), timeout,
                   "all %d serf agents to see all alive" % self.n, step=0.5)

    def pids(self):
        return [a.proc.pid for a in self.agents]

    def start_monitors(self):
        for a in self.agents:
            self.monitors.start(a.i, a.rpc)
        time.sleep(1)  # connected and streaming
        self.monitors.poll(0)

    def _watch(self, pattern):
        def poll():
            return [(i, t) for i, t, line in self.monitors.poll(0.05) if pattern in line]
        return poll

    def propagate(self, trial, timeout):
        origin = self.agents[trial % self.n]
        name = "bench%d" % trial
        others = {a.i for a in self.agents if a is not origin}
        self.monitors.poll(0)
        t0 = time.time()
        origin.serf("event", "-coalesce=false", name, "payload")
        got = collect(self._watch("Received event: user-event: %s" % name), others, timeout,
                      "serf user event %s from %s to reach all" % (name, origin.name))
        result = spread(got, t0)
        # The handlers run after the agent has the event: give them a moment.
        handler = {}
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and len(handler) < len(others):
            for i in others - set(handler):
                t = self.agents[i].handler_times(name)
                if t is not None:
                    handler[i] = t
            time.sleep(0.05)
        if len(handler) == len(others):
            result["handler"] = max(handler.values()) - t0
        return result

    def fail(self, trial, timeout, restart):
        victim = self.agents[1 + trial % (self.n - 1)]
        self.victims.add(victim.name)
        survivors = {a.i for a in self.agents if a is not victim}
        self.monitors.poll(0)
        self.monitors.stop(victim.i)
        os.killpg(victim.proc.pid, signal.SIGKILL)
        t0 = time.time()
        victim.proc.wait(timeout=10)
        got = collect(self._watch("serf: EventMemberFailed: %s " % victim.name), survivors,
                      timeout, "serf survivors to mark %s failed" % victim.name)
        result = spread(got, t0)
        if restart:
            victim.spawn(self.handler)
            victim.wait_ready()
            victim.serf("join", self.agents[0].bind)
            collect(self._watch("serf: EventMemberJoin: %s " % victim.name), survivors, timeout,
                    "serf survivors to see %s join again" % victim.name)
            wait_until(lambda: victim.alive_count() == self.n, timeout,
                       "restarted %s to see all alive" % victim.name, step=0.25)
            self.monitors.start(victim.i, victim.rpc)
        return result

    def close(self):
        self.monitors.close()
        for a in self.agents:
            if a.proc and a.proc.poll() is None:
                try:
                    os.killpg(a.proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for a in self.agents:
            if a.proc:
                try:
                    a.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    pass
                kill_group(a.proc)  # the group too: handlers still running
        if os.environ.get("KITH_KEEP") is None:
            shutil.rmtree(self.root, ignore_errors=True)


# ---- one cluster ----

def run_cluster(cls, n, args):
    res = {"system": cls.system, "n": n}
    progress("%s N=%d: forming" % (cls.system, n))
    c = cls(n)
    try:
        t = time.monotonic()
        c.form(args.form_timeout)
        res["form_s"] = time.monotonic() - t
        progress("%s N=%d: converged in %.1f s; settling %g s, idle window %g s" %
                 (cls.system, n, res["form_s"], args.settle, args.idle))
        c.mark_deaths()
        time.sleep(args.settle)
        res.update(measure_idle(c.pids(), args.idle))
        progress("%s N=%d: RSS median %.1f MiB (anon %.1f), idle CPU median %.2f%%" %
                 (cls.system, n, res["rss_mib"], res["rss_anon_mib"], res["cpu_pct"]))
        if cls is SerfCluster:
            c.start_monitors()
        prop, handler = [], []
        res["prop_trials"], res["fail_trials"] = [], []
        for k in range(args.prop_trials):
            r = c.propagate(k, args.timeout)
            res["prop_trials"].append(r)
            prop.append(r["all"])
            if "handler" in r:
                handler.append(r["handler"])
            progress("%s N=%d: propagation %d/%d: %.0f ms" %
                     (cls.system, n, k + 1, args.prop_trials, 1000 * r["all"]))
            time.sleep(args.gap)
        fail = []
        for k in range(args.fail_trials):
            r = c.fail(k, args.timeout, restart=k + 1 < args.fail_trials)
            res["fail_trials"].append(r)
            fail.append(r["all"])
            progress("%s N=%d: failure detection %d/%d: %.2f s (first survivor %.2f s)" %
                     (cls.system, n, k + 1, args.fail_trials, r["all"], r["first"]))
            time.sleep(args.gap)
        res["prop_ms"] = [1000 * x for x in prop]
        res["prop_ms_median"] = statistics.median(res["prop_ms"]) if prop else None
        if handler:
            res["prop_handler_ms_median"] = 1000 * statistics.median(handler)
        res["fail_s"] = fail
        res["fail_s_median"] = statistics.median(fail) if fail else None
        res["false_deaths"] = c.false_deaths()
        return res
    finally:
        c.close()


def ratio(a, b):
    return a / b if a is not None and b else None


def report(results):
    by = {(r["system"], r["n"]): r for r in results}
    sizes = sorted({r["n"] for r in results})
    print("\n| N | measure | kith | serf | kith/serf |\n| ---: | --- | ---: | ---: | ---: |")
    rows = [("propagation to all N, ms", "prop_ms_median", "%.0f"),
            ("kill -9 seen dead by all, s", "fail_s_median", "%.2f"),
            ("RSS per agent, MiB", "rss_mib", "%.1f"),
            ("anonymous RSS per agent, MiB", "rss_anon_mib", "%.1f"),
            ("idle CPU per agent, % of a core", "cpu_pct", "%.2f"),
            ("false deaths (others declared dead, after forming)", "false_deaths", "%d")]
    for n in sizes:
        k, s = by.get(("kith", n), {}), by.get(("serf", n), {})
        for label, key, fmt in rows:
            kv, sv = k.get(key), s.get(key)
            r = ratio(kv, sv)
            print("| %d | %s | %s | %s | %s |" % (
                n, label, fmt % kv if kv is not None else "-", fmt % sv if sv is not None else "-",
                "%.2f" % r if r is not None else "-"))
    for r in results:
        extra = ""
        if "prop_handler_ms_median" in r:
            extra = ", handler %.0f ms" % r["prop_handler_ms_median"]
        print("%s N=%d: propagation ms %s%s; detection s %s" % (
            r["system"], r["n"], " ".join("%.0f" % x for x in r["prop_ms"]), extra,
            " ".join("%.2f" % x for x in r["fail_s"])))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="16,48", help="cluster sizes, comma-separated")
    ap.add_argument("--systems", default="kith,serf")
    ap.add_argument("--prop-trials", type=int, default=7)
    ap.add_argument("--fail-trials", type=int, default=7)
    ap.add_argument("--idle", type=float, default=20, help="idle window, seconds")
    ap.add_argument("--settle", type=float, default=5, help="wait after convergence, seconds")
    ap.add_argument("--gap", type=float, default=1, help="pause between trials, seconds")
    ap.add_argument("--timeout", type=float, default=60, help="bound of one trial, seconds")
    ap.add_argument("--form-timeout", type=float, default=120)
    ap.add_argument("--build", help="build directory holding tools/kith and agent/kithd")
    ap.add_argument("--json", help="write the results to this file")
    ap.add_argument("--kith-conf", default="",
                    help="lines appended to every kithd.conf, e.g. '[gossip]\\npush_fanout = 6'")
    ap.add_argument("--smoke", action="store_true",
                    help="N=4, one trial of each, short idle window: checks that it works")
    args = ap.parse_args()
    if args.smoke:
        args.sizes, args.prop_trials, args.fail_trials = "4", 1, 1
        args.idle, args.settle, args.gap, args.timeout = 2, 1, 0, 30
        args.form_timeout = 30
    KithCluster.extra_conf = args.kith_conf.replace("\\n", "\n")
    if KithCluster.extra_conf and not KithCluster.extra_conf.endswith("\n"):
        KithCluster.extra_conf += "\n"
    if args.build:
        harness.KITH = os.path.join(args.build, "tools", "kith")
        harness.KITHD = os.path.join(args.build, "agent", "kithd")
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)

    systems = {"kith": KithCluster, "serf": SerfCluster}
    results = []
    try:
        for n in (int(x) for x in args.sizes.split(",")):
            for name in args.systems.split(","):
                results.append(run_cluster(systems[name], n, args))
    except (Failed, Interrupted, subprocess.SubprocessError, OSError) as e:
        print("gossip benchmark failed: %s" % e, file=sys.stderr)
        return 1
    report(results)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    progress("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
