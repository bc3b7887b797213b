"""The trust network with real agents: invitations (used, expired, forged,
unknown, truncated), scoped grants with expiry and quota, revocation of
grants and ejection of members, each checked on every scope; and the
holder's side of backups (hold.*) spoken by kith_rogue as a member."""
import base64
import hashlib
import json
import os
import shutil
import subprocess
import time

from harness import ROGUE, Agent, Failed, Federation, run, wait_until


def refused(agent, args, needle, tap, what):
    """kith ARGS must fail with one stderr line containing needle."""
    p = agent.kith(*args, check=False)
    err = p.stderr.strip()
    tap.ok(p.returncode != 0 and needle in err and len(err.splitlines()) == 1, what,
           "exit %d, stderr: %s" % (p.returncode, err))


def forge_unknown(token):
    """The same token with another secret and a valid checksum: an
    invitation the issuer never made."""
    body = token[len("kith-invite-"):]
    raw = base64.b32decode(body + "=" * (-len(body) % 8))
    payload = bytearray(raw[:-4])
    at = -1
    for _ in range(3):  # founder, issuer, secret: the third bin of 32 bytes
        at = payload.index(b"\xc4\x20", at + 1)
    payload[at + 2:at + 34] = os.urandom(32)
    check = hashlib.blake2b(b"kith-invite-v1\0" + bytes(payload), digest_size=32).digest()[:4]
    return "kith-invite-" + base64.b32encode(bytes(payload) + check).decode().rstrip("=")


def invite(agent, *args):
    return agent.kith("invite", *args).stdout.strip()


def test(tap, fed):
    f, b, c = fed.agents
    fed.init_all()
    fed.start_all()

    # Joining with a token.
    token = invite(f, "--scopes", "monitor,backup:1M", "--expires", "1h")
    tap.ok(token.startswith("kith-invite-") and "\n" not in token, "invite prints one token line")
    out = b.kith("join", token).stdout
    tap.ok("joined the network founded by %s" % f.id in out, "b joins with the token", out)
    wait_until(lambda: f.states().get(b.id) == "alive" and b.states().get(f.id) == "alive",
               30, "f and b to see each other alive")
    tap.ok(True, "f and b see each other alive")
    received = [g for g in b.json("grants") if g["direction"] == "received"]
    tap.ok(sorted(received[0]["scopes"]) == ["backup:1M", "monitor"] if received else False,
           "b received the offered scopes", received)
    tap.ok(all(set(g) >= {"id", "issuer", "subject", "scopes", "expires", "state"}
               for g in received), "grants --json has the documented fields", received)
    log = open(f.log_path).read()
    tap.ok(token[20:60] not in log, "the issuer's log holds nothing of the token")

    # Refused tokens, with a clear message on both sides.
    refused(c, ["join", token], "already been used", tap, "a used token is refused")
    refused(c, ["join", token[:len(token) // 2]], "damaged or incomplete", tap,
            "a truncated token is refused")
    refused(c, ["join", forge_unknown(token)], "unknown invitation", tap,
            "an unknown token is refused")
    short = invite(f, "--expires", "1s")
    time.sleep(2.5)
    refused(c, ["join", short], "expired", tap, "an expired token is refused")
    multi = invite(f, "--uses", "3")
    p = subprocess.run([ROGUE, "--data", c.data, "--endpoint", f.endpoint, "--peer", f.id,
                        "--mode", "forgejoin", "--token", multi, "--count", "1"],
                       capture_output=True, text=True, timeout=60)
    got = json.loads(p.stdout)
    tap.ok("forged invitation" in got["reason"], "a forged proof is refused", got)
    log = open(f.log_path).read()
    tap.ok(all(w in log for w in ("already been used", "unknown invitation", "has expired",
                                  "forged invitation")),
           "the issuer logged each refusal")
    tap.ok(c.states() == {c.id: "alive"}, "c is still alone")

    out = c.kith("join", multi).stdout
    tap.ok("joined" in out, "c joins with a fresh token", out)
    wait_until(lambda: all(set(a.states()) == {f.id, b.id, c.id} for a in fed.agents), 30,
               "all three to know all three")

    # admit: only the founder or a holder of admit may invite.
    refused(b, ["invite"], "only the founder or a member holding admit may invite", tap,
            "b, without admit, cannot invite")
    gid = json.loads(f.kith("grant", b.id, "admit", "--expires", "2s", "--json").stdout)["id"]
    wait_until(lambda: b.kith("invite", check=False).returncode == 0, 15,
               "b to receive admit and invite")
    tap.ok(True, "b with admit can invite")
    time.sleep(4)
    refused(b, ["invite"], "only the founder", tap, "b's expired admit is refused")
    gid = json.loads(f.kith("grant", b.id, "admit", "--json").stdout)["id"]
    wait_until(lambda: b.kith("invite", check=False).returncode == 0, 15, "b's new admit grant")
    f.kith("revoke", gid)
    wait_until(lambda: b.kith("invite", check=False).returncode != 0, 15,
               "the revocation of b's admit to reach b")
    refused(b, ["invite"], "only the founder", tap, "b's revoked admit is refused")

    # monitor: services --of needs the partner's monitor grant.
    tap.ok(b.kith("services", "--of", f.id).returncode == 0, "b with monitor sees f's services")
    refused(c, ["services", "--of", f.id], "no monitor grant", tap, "c without monitor is refused")
    gid = json.loads(f.kith("grant", c.id, "monitor", "--expires", "2s", "--json").stdout)["id"]
    tap.ok(c.kith("services", "--of", f.id).returncode == 0, "c with monitor sees them")
    time.sleep(4)
    refused(c, ["services", "--of", f.id], "expired", tap, "c's expired monitor is refused")
    f.kith("grant", c.id, "monitor")
    tap.ok(c.kith("services", "--of", f.id).returncode == 0, "c with a new monitor grant")
    f.kith("revoke", c.id)
    refused(c, ["services", "--of", f.id], "revoked", tap, "c's revoked monitor is refused")

    # backup: shards within the quota of the grant.
    blob = os.path.join(fed.root, "blob")
    with open(blob, "wb") as fh:
        fh.write(os.urandom(300 * 1024))
    out = b.kith("shard", "put", f.id, "s1", blob).stdout
    # A shard costs its bytes, its name and 64 bytes of overhead.
    tap.ok("307266 of 1M used" in out, "b keeps a 300K shard with f (300K + 2 + 64)", out)
    b.kith("shard", "put", f.id, "s2", blob)
    b.kith("shard", "put", f.id, "s3", blob)
    refused(b, ["shard", "put", f.id, "s4", blob], "over your backup quota of 1M", tap,
            "a shard over the quota is refused")
    back = os.path.join(fed.root, "back")
    b.kith("shard", "get", f.id, "s1", "--out", back)
    tap.ok(open(back, "rb").read() == open(blob, "rb").read(), "the shard comes back intact")
    refused(c, ["shard", "put", f.id, "x", blob], "no backup grant", tap,
            "c without backup is refused")
    f.kith("grant", c.id, "backup:1M", "--expires", "2s")
    tap.ok(c.kith("shard", "put", f.id, "x", blob).returncode == 0, "c with backup keeps a shard")
    time.sleep(4)
    refused(c, ["shard", "put", f.id, "y", blob], "expired", tap, "c's expired backup is refused")
    f.kith("revoke", b.id)
    refused(b, ["shard", "get", f.id, "s1", "--out", back + "2"], "revoked", tap,
            "b's revoked backup is refused")
    out = f.kith("shard", "drop", b.id).stdout
    tap.ok("dropped 921798 bytes" in out, "the admin frees the revoked partner's shards", out)

    # dns: the credential is sealed to the grantee; the grant must be valid.
    secret = os.path.join(fed.root, "tsig")
    with open(secret, "w") as fh:
        fh.write("provider = rfc2136\nserver = 192.0.2.53:53\nkey = failover\n"
                 "secret = c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA==\n")
    refused(b, ["dns", "check", f.id, "example.org"], "no dns grant", tap,
            "b without dns is refused")
    refused(f, ["grant", b.id, "dns:example.org"], "needs the zone's update credential", tap,
            "a dns grant needs its credential")
    f.kith("grant", b.id, "dns:Example.ORG.", "--secret-file", secret, "--expires", "2s")
    wait_until(lambda: b.kith("dns", "check", f.id, "example.org", check=False).returncode == 0,
               15, "b's dns grant to arrive")
    tap.ok(True, "b with dns may update the zone and opens its credential")
    tap.ok(c.kith("dns", "check", f.id, "example.org", check=False).returncode != 0,
           "c cannot use b's dns grant")
    time.sleep(4)
    refused(b, ["dns", "check", f.id, "example.org"], "expired", tap, "b's expired dns is refused")
    f.kith("grant", b.id, "dns:example.org", "--secret-file", secret)
    wait_until(lambda: b.kith("dns", "check", f.id, "example.org", check=False).returncode == 0,
               15, "b's new dns grant")
    dns_plan(tap, f)
    f.kith("revoke", b.id)
    wait_until(lambda: b.kith("dns", "check", f.id, "example.org", check=False).returncode != 0,
               15, "the revocation to reach b")
    refused(b, ["dns", "check", f.id, "example.org"], "revoked", tap, "b's revoked dns is refused")
    f.kith("grant", b.id, "monitor")
    wait_until(lambda: any(g["state"] == "active" for g in b.json("grants")), 15,
               "b's new monitor grant")
    states = {g["state"] for g in b.json("grants")}
    tap.ok({"active", "expired", "revoked"} <= states, "grants show all three states", states)

    # Ejecting c: every agent drops it and refuses it from then on.
    f.kith("revoke", c.id, "--member")
    wait_until(lambda: all(a.states().get(c.id) == "revoked" for a in (f, b)), 15,
               "c to be revoked everywhere")
    tap.ok(True, "an ejected member shows as revoked on every agent")
    before = f.status()["rejected"]
    got = json.loads(subprocess.run(
        [ROGUE, "--data", c.data, "--endpoint", f.endpoint, "--peer", f.id, "--mode", "ping",
         "--count", "3"], capture_output=True, text=True, timeout=60).stdout)
    tap.ok(got["received"] == 0, "the ejected member's connection gets nothing", got)
    subprocess.run([ROGUE, "--data", c.data, "--endpoint", b.endpoint, "--peer", b.id,
                    "--mode", "stranger", "--count", "2"], capture_output=True, timeout=60)
    tap.ok(c.id not in [r["author"] for r in b.json("records", "--kind", "member")
                        if r["seq"] == 1 << 62], "its new records are not stored")
    # Rejoin with the old multi-use token from a fresh copy of its keys.
    c.stop()
    again = Agent(fed.root, "c-again", c.port)
    fed.agents.append(again)
    os.makedirs(again.data, mode=0o700)
    shutil.copy(os.path.join(c.data, "identity.key"), again.data)
    shutil.copy(os.path.join(c.data, "kithd.conf"), again.data)
    again.id = c.id
    again.start()
    refused(again, ["join", multi], "", tap, "the ejected member cannot rejoin with its old token")
    tap.ok(c.id not in [i for i, s in f.states().items() if s != "revoked"],
           "and is still out")
    again.stop()
    tap.ok(all(a.alive() for a in (f, b)), "f and b still running")
    back = restore(tap, fed, f, b)
    holds(tap, fed, f, back)


def dns_plan(tap, f):
    """A service's DNS plan: checked, given the zone of a dns grant in
    force, sealed to its holders, changed and dropped by service set."""
    web = ["service", "add", "web", "--url", "http://127.0.0.1:9/"]
    refused(f, web + ["--dns-name", "www.example.net", "--primary", "192.0.2.1", "--standby",
                      "192.0.2.2"], "no partner holds a dns grant", tap,
            "a DNS name outside every granted zone is refused")
    refused(f, web + ["--dns-name", "www.example.org", "--primary", "192.0.2.1,2001:db8::1",
                      "--standby", "192.0.2.2"], "same address families", tap,
            "a standby without the primary's IPv6 is refused")
    refused(f, web + ["--dns-name", "www.example.org", "--primary", "192.0.2.1"],
            "needs --primary and --standby", tap, "a plan without a standby is refused")
    out = f.kith(*web, "--dns-name", "WWW.Example.org.", "--primary", "192.0.2.1,2001:db8::1",
                 "--standby", "192.0.2.2,2001:db8::2").stdout
    tap.ok("DNS name www.example.org, sealed to 1 holder(s) of dns:example.org" in out,
           "the plan is sealed to the holder of dns:example.org", out)
    refused(f, ["service", "set", "web", "--primary", "192.0.2.300"],
            "not an IPv4 or IPv6 address", tap, "a bad address is named")
    refused(f, ["service", "set", "nope", "--ttl", "30"], "no service 'nope' registered", tap,
            "set of an unknown service is refused")
    f.kith("service", "set", "web", "--ttl", "30", "--interval", "40s")
    listed = {s["name"]: s for s in f.json("service", "ls")}.get("web", {})
    tap.ok(listed.get("dns_name") == "www.example.org" and listed.get("dns_zone") ==
           "example.org" and listed.get("interval_s") == 40 and listed.get("url") ==
           "http://127.0.0.1:9/", "service set changes what it is given, keeps the rest", listed)
    f.kith("service", "set", "web", "--no-dns")
    listed = {s["name"]: s for s in f.json("service", "ls")}.get("web", {})
    tap.ok(listed and "dns_name" not in listed, "service set --no-dns drops the plan", listed)
    f.kith("service", "rm", "web")


def restore(tap, fed, f, b):
    """b loses everything but its recovery kit, and comes back."""
    kit = b.kith("recovery-kit").stdout
    tap.ok("\nsecret " in kit and "\nfounder %s" % f.id in kit and "\npartner %s" % f.id in kit,
           "the recovery kit holds the secret, the founder and a partner to rejoin through")
    old = max(r["seq"] for r in f.json("records", "--author", b.id))
    path = os.path.join(fed.root, "b.kit")
    with open(path, "w") as fh:
        fh.write(kit)
    at = kit.index("\nsecret ") + len("\nsecret ")
    typo = kit[:at] + ("B" if kit[at] == "A" else "A") + kit[at + 1:]
    with open(path + ".typo", "w") as fh:
        fh.write(typo)
    b.kill9()
    shutil.rmtree(b.data)
    back = Agent(fed.root, "b-restored", b.port)
    fed.agents.append(back)  # stopped by fed.close() whatever happens
    refused(back, ["init", "--restore", path + ".typo"], "secret", tap,
            "a typo in the secret is caught, and named")
    out = back.kith("init", "--restore", path, "--listen", back.listen, "--advertise",
                    back.endpoint, "--profile", "lan").stdout
    back.id = back.kith("id").stdout.strip()
    tap.ok(back.id == b.id and "kith join %s --endpoint %s" % (f.id, f.endpoint) in out,
           "init --restore recreates the same peer ID and says how to rejoin", out)
    back.start()
    back.kith("join", f.id, "--endpoint", f.endpoint)
    wait_until(lambda: back.states().get(f.id) == "alive" and f.states().get(b.id) == "alive",
               30, "the restored b and f to see each other alive")
    tap.ok(True, "the restored agent is back in its network")
    wait_until(lambda: max(r["seq"] for r in f.json("records", "--author", b.id)) > old, 30,
               "a record of the restored b above its old seqs at f")
    tap.ok(True, "its new records come above the seqs it used before the loss")
    back.stop()
    return back


def hold(f, owner, mode, *args):
    """kith_rogue speaking hold.* to f as owner (its identity; its kithd
    need not run); returns the JSON line it prints."""
    p = subprocess.run([ROGUE, "--data", owner.data, "--endpoint", f.endpoint, "--peer", f.id,
                        "--mode", mode, "--wait-ms", "10000"] + list(args),
                       capture_output=True, text=True, timeout=120)
    return json.loads(p.stdout)


def shard_files(f):
    top = os.path.join(f.data, "shards")
    return sorted(name for _, _, names in os.walk(top) for name in names)


def holds(tap, fed, f, b):
    """The holder's side of backups over the wire: a shard put in pieces,
    read back, refused over quota, cut short by kill -9 of the holder, and
    kept read-only for the grace period once the grant ends."""
    f.kith("grant", b.id, "backup:4M")
    blob = os.path.join(fed.root, "hold-3m")
    with open(blob, "wb") as fh:
        fh.write(os.urandom(3 << 20))
    got = hold(f, b, "hold", "--file", blob, "--name", "a", "--pieces", "12")
    # A hold costs its bytes, its name and 64 bytes of overhead.
    used = (3 << 20) + 1 + 64
    tap.ok(got["status"] == 0 and got["used"] == used and got["quota"] == 4 << 20
           and got["written"] == 3 << 20, "a 3 MiB shard goes to f in 12 pieces", got)
    tap.ok(got["receipt_ok"] and got["identical"],
           "it reads back byte-identical, with a receipt signed by f", got)
    tap.ok(shard_files(f) == ["a"], "f keeps it as one file under shards/", shard_files(f))

    big = os.path.join(fed.root, "hold-1m")
    with open(big, "wb") as fh:
        fh.write(os.urandom(1 << 20))
    got = hold(f, b, "hold", "--file", big, "--name", "big", "--pieces", "4")
    tap.ok(got["status"] == 2 and "over your backup quota of 4M" in got["reason"]
           and got["sent"] == 1, "over quota is refused at open, before any byte", got)
    tap.ok(shard_files(f) == ["a"], "and nothing of it is kept", shard_files(f))

    half = os.path.join(fed.root, "hold-512k")
    with open(half, "wb") as fh:
        fh.write(os.urandom(512 << 10))
    got = hold(f, b, "hold", "--file", half, "--name", "c", "--pieces", "4", "--cut-after", "2")
    tap.ok(got["status"] == 0 and got["written"] == 256 << 10
           and got["used"] == used + (512 << 10) + 1 + 64,
           "a put cut after half its pieces had its quota reserved", got)
    f.kill9()
    f.start("\n[backup]\ngrace = 3s\n")
    tiny = os.path.join(fed.root, "hold-1k")
    with open(tiny, "wb") as fh:
        fh.write(os.urandom(1024))
    got = hold(f, b, "hold", "--file", tiny, "--name", "d")
    tap.ok(got["status"] == 0 and got["used"] == used + 1024 + 1 + 64 and got["identical"],
           "after kill -9 of the holder mid-put, usage is exactly as before it", got)
    tap.ok(shard_files(f) == ["a", "d"], "and no file of the cut put is left", shard_files(f))
    got = hold(f, b, "holdlist")
    tap.ok(got["names"] == ["a", "d"], "hold.list names what is held", got)
    log = open(f.log_path).read()
    tap.ok("released 1 reservations of unfinished shards" in log and
           "removed 1 unfinished shard files" in log, "f logged what it cleaned at start")

    f.kith("revoke", b.id)
    wait_until(lambda: "stay readable" in open(f.log_path).read(), 15,
               "f to put b's shards in their grace period")
    got = hold(f, b, "holdlist")
    tap.ok(got.get("names") == ["a", "d"], "the grant revoked: b still lists its shards", got)
    got = hold(f, b, "hold", "--file", tiny, "--name", "e")
    tap.ok(got["status"] != 0 and shard_files(f) == ["a", "d"],
           "but cannot add any", got)
    wait_until(lambda: shard_files(f) == [], 15, "the grace period to end")
    tap.ok("deleted 2 shards whose grace period was over" in open(f.log_path).read(),
           "after the grace period f deletes them, and says so")
    got = hold(f, b, "holdlist")
    tap.ok(got.get("status", 0) != 0 or got.get("names") == [], "and b has nothing left", got)


if __name__ == "__main__":
    run(test, Federation(3))
