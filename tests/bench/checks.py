#!/usr/bin/python3
"""Checks benchmark: one kith agent checking many local HTTP services.

One observer agent and OWNERS owner agents form a network (lan profile);
each owner grants the observer monitor and registers SERVICES services
(`kith service add sNN --url http://127.0.0.1:PORT/ownerX/sNN --interval 1s
--timeout 1s`), all served by one bench_httpd, one URL path each, on one
port or spread over --ports ports (one per service: no connection shared
between services, as with services on distinct hosts). Once the
observer checks them all and a warm-up has passed, a window of WINDOW
seconds measures, for the observer's kithd only:
  - checks per second: the "checks" counters of `kith status --json`
    (completed checks, and how many were up, degraded, down), cross-checked
    against the requests bench_httpd served in the same window;
  - CPU: utime + stime from /proc/PID/stat over the window, in % of one
    core; the same for bench_httpd, to show the load generator was not the
    bottleneck, and for the owners together;
  - memory: VmRSS (and VmHWM, the peak) from /proc/PID/status at the end.

Each trial sets up a fresh network; the summary gives the medians of the
trials. Goal (issue 5): 1000 checks/s with under 50% of one core.
docs/benchmarks.md ("Checks: one agent, 1000 services") has the method,
the command and the figures. stdlib only; agents come from
tests/integration/harness.py. Exit status 0 when every trial was measured
(and every service checked); timings are never judged.
"""
import argparse
import concurrent.futures
import json
import os
import signal
import statistics
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import harness  # noqa: E402
from harness import Agent, Failed, Federation, wait_until  # noqa: E402

HTTPD = os.environ.get("BENCH_HTTPD", "bench_httpd")
CLK_TCK = os.sysconf("SC_CLK_TCK")
GOAL_CHECKS_PER_S = 1000
GOAL_CPU_PCT = 50
T_START = time.monotonic()


def progress(msg):
    print("[%6.1fs] %s" % (time.monotonic() - T_START, msg), flush=True)


class Interrupted(Exception):
    pass


def on_signal(sig, frame):
    raise Interrupted("signal %d" % sig)


# ---- /proc ----

def cpu_seconds(pid):
    """utime + stime of pid (all its threads), in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def machine_ticks():
    """(busy, total) clock ticks of every CPU since boot, from /proc/stat;
    waiting for I/O counts as idle."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]  # idle, iowait
    return sum(v) - idle, sum(v)


def memory_kib(pid):
    """(VmRSS, VmHWM) in KiB."""
    vals = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                vals[key] = int(rest.split()[0])
    return vals["VmRSS"], vals["VmHWM"]


# ---- the services ----

class Httpd:
    """bench_httpd on 127.0.0.1, on n ports of the kernel's choice."""

    def __init__(self, n):
        self.proc = subprocess.Popen([HTTPD, "-p", "0", "-n", str(n), "-c", "15000"],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline().split()
        if len(line) != n + 1 or line[0] != "port":
            self.stop()
            raise Failed("bench_httpd did not start (%s)" % " ".join(line[:5]))
        self.ports = [int(p) for p in line[1:]]

    def stats(self):
        """(requests served, connections accepted) so far, this request and
        its connection included."""
        url = "http://127.0.0.1:%d/_stats" % self.ports[0]
        with urllib.request.urlopen(url, timeout=5) as r:
            words = r.read().split()
        return int(words[1]), int(words[3])

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc.stdout.close()


# ---- the agents ----

class BenchAgent(Agent):
    """An agent logging at info, as an admin would run it (the harness's
    debug level writes a line per record received)."""

    def spawn(self, extra_conf=None):
        if extra_conf:
            with open(os.path.join(self.data, "kithd.conf"), "a") as f:
                f.write(extra_conf)
        with open(self.log_path, "a") as log:
            self.proc = subprocess.Popen([harness.KITHD, "--data", self.data, "--log-level",
                                          "info"], stdout=log, stderr=log)


def parallel(jobs, calls):
    """Runs every (function, args) of calls on jobs threads; raises the
    first failure."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        for f in [pool.submit(fn, *a) for fn, a in calls]:
            f.result()


def checks_of(agent):
    return agent.status()["checks"]


def setup(fed, httpd, args):
    """Forms the network and registers the services; returns the observer."""
    observer, owners = fed.agents[0], fed.agents[1:]
    conf = ("\n[monitoring]\nquorum = 1\nmax_checks = %d\nrefuse_private = 0\n" %
            max(256, 2 * args.owners * args.services))
    fed.init_all()  # the lan profile
    for a in fed.agents:
        a.spawn(conf)
    for a in fed.agents:  # 11 agents starting at once take their time
        a.wait_ready(timeout=60)
    fed.admit_star()
    ids = {a.id for a in fed.agents}
    wait_until(lambda: all(set(a.states()) == ids and
                           all(s == "alive" for s in a.states().values()) for a in fed.agents),
               args.form_timeout, "every agent to see every other alive")
    progress("%d agents formed a network" % len(fed.agents))
    parallel(args.jobs, [(o.kith, ("grant", observer.id, "monitor")) for o in owners])
    t0 = time.monotonic()
    calls = []
    for i, o in enumerate(owners):
        for j in range(args.services):
            name = "s%02d" % j
            port = httpd.ports[(i * args.services + j) % len(httpd.ports)]
            url = "http://127.0.0.1:%d/owner%d/%s" % (port, i, name)
            calls.append((o.kith, ("service", "add", name, "--url", url, "--interval", "1s",
                                   "--timeout", "1s")))
    parallel(args.jobs, calls)
    progress("%d services registered in %.1f s (%d kith processes at a time)" %
             (len(calls), time.monotonic() - t0, args.jobs))
    want = len(calls)
    wait_until(lambda: checks_of(observer)["services"] == want, args.form_timeout,
               "the observer to check all %d services" % want, step=1)
    progress("the observer checks %d services" % want)
    return observer


def sample(observer, httpd, owners):
    requests, connections = httpd.stats()
    return {
        "t": time.monotonic(),
        "checks": checks_of(observer),
        "cpu": cpu_seconds(observer.proc.pid),
        "httpd_cpu": cpu_seconds(httpd.proc.pid),
        "owners_cpu": sum(cpu_seconds(o.proc.pid) for o in owners),
        "httpd_requests": requests,
        "httpd_connections": connections,
        "machine": machine_ticks(),
    }


def measure(observer, httpd, owners, window):
    a = sample(observer, httpd, owners)
    time.sleep(window)
    b = sample(observer, httpd, owners)
    dt = b["t"] - a["t"]
    rss, hwm = memory_kib(observer.proc.pid)
    ca, cb = a["checks"], b["checks"]
    run = cb["run"] - ca["run"]
    return {
        "window_s": dt,
        "checks_per_s": run / dt,
        "cpu_pct": 100 * (b["cpu"] - a["cpu"]) / dt,
        "rss_mib": rss / 1024,
        "rss_peak_mib": hwm / 1024,
        "up": cb["up"] - ca["up"],
        "degraded": cb["degraded"] - ca["degraded"],
        "down": cb["down"] - ca["down"],
        "deferred": cb["deferred"] - ca["deferred"],
        "last_minute": cb["last_minute"],
        # The /_stats request of the first sample falls in the window.
        "httpd_requests_per_s": (b["httpd_requests"] - a["httpd_requests"] - 1) / dt,
        # New connections per second: how often checks could not reuse one.
        "httpd_connections_per_s": (b["httpd_connections"] - a["httpd_connections"] - 1) / dt,
        "httpd_cpu_pct": 100 * (b["httpd_cpu"] - a["httpd_cpu"]) / dt,
        "owners_cpu_pct": 100 * (b["owners_cpu"] - a["owners_cpu"]) / dt,
        # The whole machine, every process and core: how busy it was with
        # other work too (other benchmarks may share it).
        "machine_busy_pct": 100 * (b["machine"][0] - a["machine"][0]) /
        max(1, b["machine"][1] - a["machine"][1]),
        "cores": os.cpu_count(),
    }


def trial(k, args):
    # bench_httpd first: the agents' ports are then chosen among those it
    # left free.
    httpd = Httpd(args.ports)
    try:
        fed = Federation(args.owners + 1, prefix="c")
    except OSError:
        httpd.stop()
        raise
    fed.agents = [BenchAgent(fed.root, a.name, a.port) for a in fed.agents]
    try:
        observer = setup(fed, httpd, args)  # c0
        if args.pid_file:
            with open(args.pid_file, "w") as f:
                f.write("%d\n" % observer.proc.pid)
        progress("warm-up: %g s" % args.warmup)
        time.sleep(args.warmup)
        r = measure(observer, httpd, fed.agents[1:], args.window)
        if not observer.alive():
            raise Failed("the observer's kithd exited:\n" + observer.tail_log(20))
        progress("trial %d: %.0f checks/s (%d up, %d degraded, %d down, %d deferred), "
                 "CPU %.1f%%, RSS %.1f MiB (peak %.1f); bench_httpd %.0f requests/s, "
                 "%.0f new connections/s, CPU %.1f%%; owners CPU %.1f%%; machine %.0f%% busy" %
                 (k + 1, r["checks_per_s"], r["up"], r["degraded"], r["down"], r["deferred"],
                  r["cpu_pct"], r["rss_mib"], r["rss_peak_mib"], r["httpd_requests_per_s"],
                  r["httpd_connections_per_s"], r["httpd_cpu_pct"], r["owners_cpu_pct"], r["machine_busy_pct"]))
        return r
    finally:
        fed.close()
        httpd.stop()


def report(trials, args):
    med = {key: statistics.median(t[key] for t in trials) for key in trials[0]}
    n = args.owners * args.services
    print("\n%d services (%d owners x %d) on %d port(s), interval 1 s, %d trial(s) of %g s, "
          "medians:\n" % (n, args.owners, args.services, args.ports, len(trials), args.window))
    print("| measure | median | trials | goal | ratio |\n| --- | ---: | --- | ---: | ---: |")
    rows = [("checks/s", "checks_per_s", "%.0f", "%d" % GOAL_CHECKS_PER_S,
             med["checks_per_s"] / GOAL_CHECKS_PER_S),
            ("observer CPU, % of one core", "cpu_pct", "%.1f", "< %d" % GOAL_CPU_PCT,
             med["cpu_pct"] / GOAL_CPU_PCT),
            ("observer RSS, MiB", "rss_mib", "%.1f", "", None),
            ("observer peak RSS, MiB", "rss_peak_mib", "%.1f", "", None),
            ("bench_httpd requests/s", "httpd_requests_per_s", "%.0f", "", None),
            ("bench_httpd new connections/s", "httpd_connections_per_s", "%.0f", "", None),
            ("bench_httpd CPU, % of one core", "httpd_cpu_pct", "%.1f", "", None),
            ("owners' CPU together, % of one core", "owners_cpu_pct", "%.1f", "", None),
            ("machine busy, %% of all %d cores" % os.cpu_count(), "machine_busy_pct", "%.0f", "",
             None)]
    for label, key, fmt, goal, ratio in rows:
        print("| %s | %s | %s | %s | %s |" % (
            label, fmt % med[key], " ".join(fmt % t[key] for t in trials), goal,
            "%.2f" % ratio if ratio is not None else ""))
    print("\nCPU per 1000 checks/s: %.1f%% of one core" %
          (1000 * med["cpu_pct"] / med["checks_per_s"] if med["checks_per_s"] else 0))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--owners", type=int, default=10)
    ap.add_argument("--services", type=int, default=100, help="per owner (at most 100)")
    ap.add_argument("--ports", type=int, default=1,
                    help="bench_httpd ports the services are spread over (1: one port, a path "
                    "per service; OWNERS*SERVICES: a port per service)")
    ap.add_argument("--trials", type=int, default=3)
    ap.add_argument("--warmup", type=float, default=20, help="seconds after all are watched")
    ap.add_argument("--window", type=float, default=30, help="measurement window, seconds")
    ap.add_argument("--jobs", type=int, default=8, help="kith processes run at once")
    ap.add_argument("--form-timeout", type=float, default=180)
    ap.add_argument("--build", help="build directory holding tools/kith, agent/kithd, "
                    "tests/bench_httpd")
    ap.add_argument("--json", help="write the results to this file")
    ap.add_argument("--pid-file", help="write the observer's PID here once it checks every "
                    "service (to attach perf)")
    ap.add_argument("--smoke", action="store_true",
                    help="2 owners x 20 services, one short trial: checks that it works")
    args = ap.parse_args()
    if args.smoke:
        args.owners, args.services, args.trials, args.ports = 2, 20, 1, 2
        args.warmup, args.window, args.form_timeout = 3, 5, 40
    if args.build:
        global HTTPD
        harness.KITH = os.path.join(args.build, "tools", "kith")
        harness.KITHD = os.path.join(args.build, "agent", "kithd")
        HTTPD = os.path.join(args.build, "tests", "bench_httpd")
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)
    trials = []
    try:
        for k in range(args.trials):
            trials.append(trial(k, args))
    except (Failed, Interrupted, subprocess.SubprocessError, OSError, KeyError) as e:
        print("checks benchmark failed: %s" % e, file=sys.stderr)
        return 1
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"trials": trials, "owners": args.owners, "services": args.services,
                       "ports": args.ports, "window_s": args.window}, f, indent=1)
    report(trials, args)
    if any(t["up"] + t["degraded"] + t["down"] == 0 for t in trials):
        print("checks benchmark failed: a window saw no check complete", file=sys.stderr)
        return 1
    progress("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
