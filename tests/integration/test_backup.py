"""kith backup with real agents: an owner and seven partners on 127.0.0.1
that granted it backup quota (4+2 leaves one free for each pack, where
repair moves what is lost). A put is read back byte-identical; with m
holders killed it still is; with m + 1 killed, one line names what is
missing; a flipped byte in a shard file is read around; the owner
restored from its recovery kit alone reads its backups again."""
import hashlib
import json
import os
import random
import shutil
import subprocess
import time

from harness import KITH, Agent, Federation, run, wait_until

K, M = 4, 2


def sha(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def text_like(path, size, seed):
    """A generated SQL-dump-like file: compressible, with repeats."""
    rng = random.Random(seed)
    words = [b"INSERT", b"INTO", b"users", b"VALUES", b"alice", b"bob", b"NULL", b"42"]
    with open(path, "wb") as f:
        left = size
        while left > 0:
            line = b" ".join(rng.choice(words) for _ in range(12)) + b" %d;\n" % rng.randrange(1 << 30)
            f.write(line[:left])
            left -= len(line)


def shard_files(agent):
    out = []
    top = os.path.join(agent.data, "shards")
    for d, _, files in os.walk(top):
        out += [os.path.join(d, f) for f in files if not f.startswith(".")]
    return out


def slow(agent, *args):
    """kith ARGS for a command that moves 200 MiB: a loaded machine may
    take longer than the harness's 30 s."""
    return subprocess.run([KITH] + list(args) + ["--data", agent.data], capture_output=True,
                          text=True, timeout=600)


def shard_files_sizes(holders):
    return [(f, os.path.getsize(f)) for h in holders for f in shard_files(h)]


def test(tap, fed):
    owner, holders = fed.agents[0], fed.agents[1:]
    fed.init_all()
    fed.start_all()
    fed.admit_star()
    for h in holders:
        h.kith("grant", owner.id, "backup:96M")
    wait_until(lambda: all(owner.states().get(h.id) == "alive" for h in holders), 30,
               "every holder alive at the owner")

    src = os.path.join(fed.root, "dump.sql")
    text_like(src, 24 << 20, 1)
    rnd = os.path.join(fed.root, "random.bin")
    with open(rnd, "wb") as f:
        f.write(os.urandom(200 << 20))

    # Grants reach the owner by gossip: the first put succeeds once it
    # sees all six.
    wait_until(lambda: slow(owner, "backup", "put", "probe", rnd).returncode == 0, 120,
               "a first put to succeed once the grants arrived")
    probe_packs = {os.path.basename(f).split(".")[0] for h in holders for f in shard_files(h)}
    before = {f for h in holders for f in shard_files(h)}
    got = owner.json("backup", "put", "db", src)
    of_db = [f for h in holders for f in shard_files(h) if f not in before]
    tap.ok(got["size"] == 24 << 20 and got["code"].startswith("4+2"),
           "a 24 MiB dump is put as 4+2", got)
    tap.ok(got["bytes_new"] < got["size"], "compressible data is stored smaller", got)

    out = os.path.join(fed.root, "out.sql")
    owner.kith("backup", "get", "db", "--out", out)
    tap.ok(sha(out) == sha(src), "get gives it back byte-identical")

    ls = owner.json("backup", "ls")
    names = sorted(s["name"] for s in ls)
    tap.ok(names == ["db", "probe"] and all(s["size"] > 0 for s in ls),
           "ls lists both snapshots with their sizes", ls)

    again = owner.json("backup", "put", "db", src)
    tap.ok(again["bytes_new"] == 0 and again["bytes_sent"] < got["bytes_sent"] / 20,
           "a second put of the same dump stores no chunk and sends little more than its "
           "index", again)

    # A daily dump with 1% of its bytes changed in 100 places.
    daily = os.path.join(fed.root, "daily.bin")
    with open(daily, "wb") as f:
        f.write(os.urandom(64 << 20))
    first = owner.json("backup", "put", "daily", daily)
    rng = random.Random(2)
    with open(daily, "r+b") as f:
        for _ in range(100):
            f.seek(rng.randrange((64 << 20) - 8192))
            f.write(os.urandom((64 << 20) // 100 // 100))
    second = owner.json("backup", "put", "daily", daily)
    tap.ok(second["bytes_new"] <= 0.05 * second["size"],
           "1%% changed in 100 places: %.1f%% of the bytes are new (at most 5%%)"
           % (100.0 * second["bytes_new"] / second["size"]), (first, second))
    got = owner.json("backup", "get", "daily", "--out", out)
    tap.ok(sha(out) == sha(daily), "and the second snapshot reads back byte-identical")

    # An index too long for its root gets an index of its own (snapshot.h,
    # level 1): KITH_BACKUP_SMALL_INDEX=1 makes index packs of 1 MiB and
    # lets a root list one, so 320 MiB of one 1 MiB block repeated (~30 000
    # chunk entries, two index packs, little new data) needs it.
    deep = os.path.join(fed.root, "deep.bin")
    block = os.urandom(1 << 20)
    with open(deep, "wb") as f:
        for _ in range(320):
            f.write(block)
    p = subprocess.run([KITH, "backup", "put", "deep", deep, "--json", "--data", owner.data],
                       capture_output=True, text=True, timeout=600,
                       env=dict(os.environ, KITH_BACKUP_SMALL_INDEX="1"))
    put = json.loads(p.stdout) if p.returncode == 0 else {}
    tap.ok(put.get("bytes_new", 1 << 30) < 8 << 20 and put.get("index_level") == 1 and
           put.get("index_packs") == 1, "a put whose index needs an index of its own",
           p.stdout + p.stderr)
    p = slow(owner, "backup", "get", "deep", "--out", out)
    tap.ok(p.returncode == 0 and sha(out) == sha(deep),
           "and get reads it back byte-identical through both levels", p.stderr)

    ls = owner.json("backup", "ls")
    tap.ok(len(ls) == 6 and all(s["shards_held"] == s["shards_total"] and
                                s["losses_tolerated"] == M for s in ls),
           "ls: every snapshot has all its shards held and survives %d losses" % M, ls)

    # Over quota: 1+6 stores every pack whole at 7 holders, which the
    # 96M each granted (half used by now) cannot take.
    held_before = sorted(shard_files_sizes(holders))
    big = os.path.join(fed.root, "big.bin")
    with open(big, "wb") as f:
        f.write(os.urandom(64 << 20))
    p = subprocess.run([KITH, "backup", "put", "big", big, "--shards", "1+6", "--data",
                        owner.data], capture_output=True, text=True, timeout=600)
    err = p.stderr.strip().splitlines()
    tap.ok(p.returncode != 0 and err and "room" in err[-1] and "big" in err[-1],
           "a put over the quotas fails with one line saying so", p.stderr)
    tap.ok(sorted(shard_files_sizes(holders)) == held_before and
           not owner.json("backup", "ls", "big"),
           "and nothing of it is kept at the holders, nor listed")
    os.unlink(big)

    # kill -9 of a holder mid-write and of the put: no snapshot, and the
    # put run again sends only what is missing.
    mid = os.path.join(fed.root, "mid.bin")
    with open(mid, "wb") as f:
        f.write(os.urandom(40 << 20))
    before = {f for h in holders for f in shard_files(h)}
    # From a pipe kept open: the put stores what it got and waits for more.
    put_err = open(os.path.join(fed.root, "mid.err"), "w")
    put = subprocess.Popen([KITH, "backup", "put", "mid", "-", "--data", owner.data],
                           stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=put_err)
    try:
        with open(mid, "rb") as f:
            put.stdin.write(f.read())
        put.stdin.flush()
        # One shard of the second pack: the first is stored, and known
        # to the chunk cache (written before the next pack is shipped).
        wait_until(lambda: len({f for h in holders for f in shard_files(h)} - before) > K + M,
                   60, "a first pack of the put to be stored (%s)" % put_err.name)
    finally:
        put.kill()
        put.wait(timeout=10)
        put.stdin.close()
        put_err.close()
    holders[0].kill9()
    holders[0].start()
    tap.ok(not owner.json("backup", "ls", "mid"), "a put killed half way leaves no snapshot")
    wait_until(lambda: owner.states().get(holders[0].id) == "alive", 30,
               "the owner to see the restarted holder alive")
    again = owner.json("backup", "put", "mid", mid)
    tap.ok(again["bytes_new"] <= again["size"] - (15 << 20),
           "run again, it sends only what the killed put had not stored", again)
    pruned = owner.json("backup", "prune")
    tap.ok(pruned["shards"] > 0 and owner.json("backup", "prune")["shards"] == 0,
           "prune deletes what the killed put left, and then finds nothing more", pruned)

    # forget keeps the newest db; prune deletes what only the old one named.
    files_before = sum(len(shard_files(h)) for h in holders)
    p = owner.kith("backup", "forget", "db", "--keep-last", "1", "--json")
    tap.ok(json.loads(p.stdout) == {"name": "db", "kept": 1, "forgot": 1},
           "forget --keep-last 1 forgets the older db snapshot", p.stdout)
    pruned = owner.json("backup", "prune")
    files_after = sum(len(shard_files(h)) for h in holders)
    tap.ok(pruned["shards"] > 0 and files_after == files_before - pruned["shards"],
           "prune deletes the shards only the forgotten snapshot named, at the holders",
           (pruned, files_before, files_after))
    owner.kith("backup", "get", "db", "--out", out)
    tap.ok(sha(out) == sha(src) and len(owner.json("backup", "ls", "db")) == 1,
           "the kept snapshot still reads back byte-identical")
    again = owner.json("backup", "prune")
    tap.ok(again["shards"] == 0, "a second prune finds nothing to delete", again)

    # A flipped byte in one shard file: detected and read around.
    # The largest first data shard of db's packs: a get of db reads it.
    victim = max((f for f in of_db if f.endswith(".0") and os.path.exists(f)),
                 key=os.path.getsize)
    with open(victim, "r+b") as f:
        f.seek(100)
        b = f.read(1)
        f.seek(100)
        f.write(bytes([b[0] ^ 0x01]))
    p = owner.kith("backup", "get", "db", "--out", out, check=False)
    tap.ok(p.returncode == 0 and sha(out) == sha(src) and "do not check" in p.stderr,
           "a flipped byte in a shard is detected and read around", p.stderr)
    p = owner.kith("backup", "verify", "db", check=False)
    tap.ok(p.returncode == 0, "verify without reading data trusts the holders' lists",
           p.stdout + p.stderr)
    p = owner.kith("backup", "verify", "db", "--read-data", check=False)
    name = os.path.basename(victim)
    tap.ok(p.returncode != 0 and "do not match" in p.stdout and name[:16] in p.stdout,
           "verify --read-data names the damaged shard", p.stdout + p.stderr)

    # repair rebuilds it on the holder that kept no shard of its pack.
    fixed = json.loads(slow(owner, "backup", "repair", "--read-data", "--json").stdout)
    tap.ok(fixed["shards_moved"] >= 1 and fixed["snapshots_rewritten"] >= 1 and
           fixed["failed"] == 0, "repair --read-data moves the damaged shard", fixed)
    p = owner.kith("backup", "verify", "db", "--read-data", check=False)
    tap.ok(p.returncode == 0, "then verify --read-data finds every shard good",
           p.stdout + p.stderr)
    owner.json("backup", "prune")
    tap.ok(not os.path.exists(victim), "and prune deletes the damaged copy")
    p = owner.kith("backup", "get", "db", "--out", out, check=False)
    tap.ok(p.returncode == 0 and sha(out) == sha(src) and "do not check" not in p.stderr,
           "get reads the repaired snapshot without going around anything", p.stderr)

    # A holder revokes our grant: what it keeps stays readable for the
    # grace period, and repair moves it elsewhere.
    gone = holders[-1]
    gone.kith("revoke", owner.id)
    wait_until(lambda: any(g["issuer"] == gone.id and g["state"] == "revoked"
                           for g in owner.json("grants")), 30,
               "the revocation to reach the owner")
    p = owner.kith("backup", "get", "db", "--out", out, check=False)
    tap.ok(p.returncode == 0 and sha(out) == sha(src),
           "after a holder revoked our grant, get still works (grace period)", p.stderr)
    # The owner's kithd audits on a schedule ([backup] audit): its run of
    # kith backup repair moves them.
    owner.stop()
    owner.start("\n[backup]\naudit = 2s\naudit_read = 0\nkith = %s\n" % KITH)
    audit_log = os.path.join(owner.data, "backup-audit.log")

    def audited():
        try:
            with open(audit_log) as f:
                runs = [json.loads(line) for line in f if line.startswith("{")]
        except OSError:
            return None
        return next((r for r in runs if r["shards_moved"] > 0), None)
    wait_until(audited, 60, "kithd's audit to move the revoked holder's shards")
    fixed = audited()
    ls = owner.json("backup", "ls")
    tap.ok(fixed["failed"] == 0 and all(s["shards_held"] == s["shards_total"] for s in ls),
           "kithd's scheduled audit moved them to the holders we still have", (fixed, ls))

    # The owner loses everything but its recovery kit.
    snapshots = len(owner.json("backup", "ls"))
    kit = os.path.join(fed.root, "owner.kit")
    with open(kit, "w") as f:
        f.write(owner.kith("recovery-kit").stdout)
    owner.kill9()
    shutil.rmtree(owner.data)
    # Seqs are drawn above the wall clock in whole seconds
    # (proto_seq_floor()): a restore in the very second the lost agent
    # last signed could draw its seqs again, which no real restore does.
    time.sleep(1.5)
    back = Agent(fed.root, "owner-restored", owner.port)
    fed.agents.append(back)  # stopped by fed.close() whatever happens
    back.kith("init", "--restore", kit, "--listen", back.listen, "--advertise", back.endpoint,
              "--profile", "lan")
    back.start()
    back.kith("join", holders[0].id, "--endpoint", holders[0].endpoint)
    wait_until(lambda: len(back.json("backup", "ls")) == snapshots, 60,
               "the restored owner to get its backup records back from its partners")
    p = back.kith("backup", "get", "db", "--out", out, check=False)
    tap.ok(p.returncode == 0 and sha(out) == sha(src),
           "after init --restore from the kit, get is byte-identical", p.stderr)
    p = slow(back, "backup", "get", "deep", "--out", out)
    tap.ok(p.returncode == 0 and sha(out) == sha(deep),
           "so is the snapshot with an index of its index, after prune, repair and audits",
           p.stderr)
    os.unlink(deep)
    owner = back

    # Kill M of the probe's holders: still byte-identical.
    keep = [h for h in holders[:-1]
            if any(os.path.basename(f).split(".")[0] in probe_packs for f in shard_files(h))]
    for h in keep[:M]:
        h.kill9()
    wait_until(lambda: all(owner.states().get(h.id) != "alive" for h in keep[:M]), 30,
               "the owner to see the killed holders gone")
    p = slow(owner, "backup", "get", "probe", "--out", out)
    tap.ok(p.returncode == 0 and sha(out) == sha(rnd),
           "with %d holders killed, get is byte-identical" % M, p.stderr)
    ls = owner.json("backup", "ls", "probe")
    tap.ok(ls[0]["losses_tolerated"] == 0 and ls[0]["shards_held"] < ls[0]["shards_total"],
           "and ls shows the probe survives no more loss", ls)

    # Kill one more: one line saying what is missing.
    keep[M].kill9()
    wait_until(lambda: owner.states().get(keep[M].id) != "alive", 30,
               "the owner to see the third holder gone")
    p = slow(owner, "backup", "get", "probe", "--out", out)
    err = p.stderr.strip().splitlines()
    tap.ok(p.returncode != 0 and err and "shards can be read" in err[-1],
           "with %d killed, get fails naming what is missing" % (M + 1), p.stderr)
    tap.ok(not os.path.exists(out + ".kith-partial"), "and leaves no partial file")


if __name__ == "__main__":
    run(test, Federation(8))
