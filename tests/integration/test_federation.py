"""Ten real agents on 127.0.0.1: they find each other, replicate a record,
see a kill -9 as dead, and a restart alive again with nothing lost."""
import os
import signal
import subprocess
import time

from harness import KITHD, Failed, Federation, run, wait_until

N = 10


def test(tap, fed):
    fed.init_all()
    fed.start_all()
    tap.ok(all(a.alive() for a in fed.agents), "%d agents started" % N)
    fed.admit_star()
    ids = {a.id for a in fed.agents}

    def everyone_alive():
        for a in fed.agents:
            states = a.states()
            if set(states) != ids or any(s != "alive" for s in states.values()):
                return False
        return True

    wait_until(everyone_alive, 60, "all %d agents to see all %d alive" % (N, N))
    tap.ok(True, "every agent sees all %d members alive" % N)

    # A record published by one agent reaches all: the founder lets agent 3
    # admit others, and agent 3 admits an outsider; the admission record
    # must arrive everywhere.
    outsider = fed.agents[0].__class__(fed.root, "outsider", 1)
    outsider.init()
    author = fed.agents[3]
    fed.agents[0].kith("grant", author.id, "admit")
    wait_until(lambda: author.kith("admit", outsider.id, "--endpoint", "tcp://127.0.0.1:1",
                                   check=False).returncode == 0, 30,
               "agent3 to receive its admit grant and admit the outsider")

    def admission_everywhere():
        for a in fed.agents:
            recs = a.json("records", "--kind", "admission", "--author", author.id)
            if not any(r["body"] and r["body"].get("subject") == outsider.id for r in recs):
                return False
        return True

    wait_until(admission_everywhere, 30, "the admission by agent3 to reach all agents")
    tap.ok(True, "a record published by one agent reached all %d" % N)
    tap.ok(all(outsider.id in a.states() for a in fed.agents),
           "and made the outsider a member everywhere")
    wait_until(lambda: fed.all_see(outsider.id, "dead"), 60,
               "the never-started outsider to be seen dead")
    tap.ok(True, "a member that never ran is seen dead")

    # kill -9 of one agent is seen as dead by all others.
    victim = fed.agents[5]
    before = victim.status()["incarnation"]
    victim.kill9()
    t0 = time.monotonic()
    wait_until(lambda: fed.all_see(victim.id, "dead"), 60,
               "every survivor to mark the killed agent dead")
    tap.ok(True, "kill -9 of agent5 seen as dead by all %d others in %.1f s"
           % (N - 1, time.monotonic() - t0))

    # Restart with the same data directory: alive again everywhere, with a
    # higher incarnation, and nothing lost.
    records_before = len(fed.agents[0].json("records"))
    victim.start()
    wait_until(lambda: fed.all_see(victim.id, "alive"), 60,
               "the restarted agent to be alive everywhere")
    tap.ok(True, "restarted agent5 is alive again for all")
    after = victim.status()["incarnation"]
    tap.ok(after > before, "incarnation rose from %d to %d" % (before, after))
    wait_until(lambda: len(victim.json("records")) >= records_before, 30,
               "the restarted agent to hold every record")
    tap.ok(True, "the restarted agent holds all %d records" % records_before)

    # One kithd per data directory.
    p = subprocess.run([KITHD, "--data", fed.agents[0].data], capture_output=True, text=True,
                       timeout=30)
    tap.ok(p.returncode == 1 and "another kithd is running" in p.stderr,
           "a second kithd on the same directory refuses to start", p.stderr)

    # SIGHUP reloads the configuration; a broken file is refused and the
    # running configuration kept.
    target = fed.agents[1]
    conf = os.path.join(target.data, "kithd.conf")
    good = open(conf).read()
    with open(conf, "a") as f:
        f.write("\n[membership]\nprobe_interval = 1 hour\n")
    target.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: "keeping the running configuration" in open(target.log_path).read(), 10,
               "the broken configuration to be refused")
    tap.ok(target.alive() and "probe_interval" in open(target.log_path).read(),
           "a broken configuration is refused on SIGHUP, naming the key")
    with open(conf, "w") as f:
        f.write(good + "\n[limits]\nban_time = 2m\n")
    target.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: "configuration reloaded" in open(target.log_path).read(), 10,
               "the configuration to be reloaded")
    tap.ok(target.alive(), "a good configuration is reloaded on SIGHUP")

    # A graceful stop is seen as left, not dead.
    leaver = fed.agents[7]
    code = leaver.stop()
    tap.ok(code == 0, "agent7 exits 0 on SIGTERM", code)
    wait_until(lambda: fed.all_see(leaver.id, "left"), 30,
               "every agent to see agent7 left")
    tap.ok(True, "a stopped agent is seen as left by all others")

    st = fed.agents[0].status()
    tap.ok(st["rejected"]["malformed_messages"] == 0 and
           st["rejected"]["records_bad_signature"] == 0,
           "no malformed message or bad signature in normal operation", st)
    for a in fed.running():
        code = a.stop()
        if code != 0:
            raise Failed("%s exited with %s on SIGTERM" % (a.name, code))
    tap.ok(True, "all agents stop cleanly on SIGTERM")


if __name__ == "__main__":
    run(test, Federation(N))
