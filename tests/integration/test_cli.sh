#!/usr/bin/env bash
# The offline commands of kith, as an admin uses them: init, id, records,
# record export/import, and one clear stderr line for every mistake; and
# what every command checks before it asks kithd: files read whole or not
# sent at all, durations, scopes.
# usage: test_cli.sh PATH_TO_KITH
set -uo pipefail
kith=$1
work=$(mktemp -d "${TMPDIR:-/tmp}/kith-cli.XXXXXX")
trap 'rm -rf "$work"' EXIT
n=0 failed=0

check() { # check "what" command...: passes when the command succeeds
	local what=$1; shift
	n=$((n + 1))
	if "$@"; then echo "ok $n - $what"; else echo "not ok $n - $what"; failed=$((failed + 1)); fi
}
# fails_with STATUS "stderr pattern" what -- command...: exit status and one stderr line
fails_with() {
	local status=$1 pattern=$2 what=$3; shift 4
	local err rc
	err=$("$@" 2>&1 >/dev/null); rc=$?
	n=$((n + 1))
	if [ "$rc" -eq "$status" ] && [ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ] &&
		printf '%s' "$err" | grep -q -- "$pattern"; then
		echo "ok $n - $what"
	else
		echo "not ok $n - $what (status $rc, stderr: $err)"
		failed=$((failed + 1))
	fi
}

a=$work/a b=$work/b
check "kith --version names kith and its version" sh -c "'$kith' --version | grep -qx 'kith [0-9][0-9.]*'"
check "init a" "$kith" init --name "Collective A" --data "$a"
check "init b through KITH_DATA" env KITH_DATA="$b" "$kith" init --name "Collective B"
check "identity is 0600" test "$(stat -c %a "$a/identity.key")" = 600
check "data directory is 0700" test "$(stat -c %a "$a")" = 700
id_a=$("$kith" id --data "$a")
check "id prints a peer ID" test "${#id_a}" -eq 63
check "KITH_DATA selects the directory" test "$(KITH_DATA="$a" "$kith" id)" = "$id_a"
key_before=$(sha256sum <"$a/identity.key")
fails_with 1 "already holds an identity" "init refuses to overwrite" -- "$kith" init --name X --data "$a"
check "identity unchanged after refused init" test "$(sha256sum <"$a/identity.key")" = "$key_before"
fails_with 2 "--name NAME is required" "init without --name" -- "$kith" init --data "$work/c"
fails_with 2 "longer than 64" "init with a long name" -- "$kith" init --name "$(printf 'x%.0s' {1..65})" --data "$work/c"
fails_with 2 "unknown option '--nmae'" "misspelt option" -- "$kith" init --nmae X --data "$work/c"
fails_with 2 "needs a value" "option without value" -- "$kith" init --data "$work/c" --name
fails_with 2 "unknown command 'inti'" "unknown command" -- "$kith" inti
fails_with 1 "no identity in" "id without init" -- "$kith" id --data "$work/none"
chmod 644 "$a/identity.key"
fails_with 1 "readable by group or others" "id with an open key file" -- "$kith" id --data "$a"
chmod 600 "$a/identity.key"

check "export own member record" sh -c "'$kith' record export --data '$a' > '$work/a.rec'"
fails_with 1 "cannot write the record: No space left on device" "export to a full device" -- sh -c "exec '$kith' record export --data '$a' >/dev/full"
out=$("$kith" record import "$work/a.rec" --data "$b")
check "import stores it" grep -Eq "stored .* member record, seq [0-9]+" <<<"$out"
out=$("$kith" record import - --data "$b" <"$work/a.rec")
check "second import is a no-op" grep -q "nothing to do" <<<"$out"
check "records lists both members" test "$("$kith" records --data "$b" | grep -c member)" -eq 2
json=$("$kith" records --json --data "$b" --author "$id_a")
check "records --json names the author and the body" grep -q "\"author\":\"$id_a\".*\"name\":\"Collective A\"" <<<"$json"
check "records --json is valid JSON" python3 -c 'import json,sys; assert len(json.load(sys.stdin)) == 1' <<<"$json"

cp "$work/a.rec" "$work/bad.rec"
# A byte of the signature (the record's last 64 bytes) changed.
printf '\x55' | dd of="$work/bad.rec" bs=1 seek=$(($(stat -c %s "$work/bad.rec") - 10)) conv=notrunc status=none
fails_with 1 "bad signature" "tampered record refused" -- "$kith" record import "$work/bad.rec" --data "$b"
head -c 40 "$work/a.rec" >"$work/short.rec"
fails_with 1 "truncated input" "truncated record refused" -- "$kith" record import "$work/short.rec" --data "$b"
head -c 70000 /dev/zero >"$work/big.rec"
fails_with 1 "big.rec is larger than 65536 bytes" "oversize record refused" -- "$kith" record import "$work/big.rec" --data "$b"
fails_with 1 "cannot read $work: Is a directory" "record import of a directory" -- "$kith" record import "$work" --data "$b"
fails_with 1 "cannot open $work/none.rec: No such file" "record import of a missing file" -- "$kith" record import "$work/none.rec" --data "$b"
{ cat "$work/a.rec"; printf '\x00'; } >"$work/trail.rec"
fails_with 1 "trailing bytes" "record with trailing bytes refused" -- "$kith" record import "$work/trail.rec" --data "$b"
typo=Z; [ "${id_a:20:1}" = Z ] && typo=Y
fails_with 2 "--author: .*check character" "mistyped author ID" -- "$kith" records --data "$b" --author "${id_a:0:20}$typo${id_a:21}"

fails_with 1 "kithd is not running on .* (no control socket)" "status without an agent" -- "$kith" status --data "$a"
: >"$a/kithd.sock"
fails_with 1 "kithd is not running on" "status with a stale socket file" -- "$kith" members --data "$a"
rm -f "$a/kithd.sock"
fails_with 2 "check character" "admit with a mistyped ID, agent or not" -- "$kith" admit "${id_a:0:20}$typo${id_a:21}" --data "$a"
# kith admit with a list: every entry is checked before kithd is asked,
# and the error names the argument or line, so that none is admitted.
id_b=$("$kith" id --data "$b")
bad_a="${id_a:0:20}$typo${id_a:21}"
fails_with 2 "argument 2: check character" "admit list with a mistyped ID names the argument" -- "$kith" admit "$id_b" "$bad_a@tcp://h:1" --data "$a"
fails_with 2 "argument 2: endpoint must look like tcp://HOST:PORT" "admit list with a bad endpoint" -- "$kith" admit "$id_b" "$id_a@h:1" --data "$a"
fails_with 2 "argument 2: the same peer as argument 1" "admit list naming a peer twice" -- "$kith" admit "$id_b" "$(tr A-Z a-z <<<"$id_b")@tcp://h:1" --data "$a"
fails_with 2 "--endpoint goes with one PEER_ID alone" "admit --endpoint with two peers" -- "$kith" admit "$id_b" "$id_a" --endpoint tcp://h:1 --data "$a"
printf '# partners\n\n%s tcp://h:1  # B\n  %s\n%s@tcp://h:2\n' "$id_b" "$id_a" "$bad_a" >"$work/peers.txt"
fails_with 1 "peers.txt:5: check character" "admit --file with a mistyped ID names the line" -- "$kith" admit --file "$work/peers.txt" --data "$a"
printf '%s tcp://h:1 extra\n' "$id_b" >"$work/peers.txt"
fails_with 1 "peers.txt:1: expected PEER_ID \[tcp://HOST:PORT\]" "admit --file with three words on a line" -- "$kith" admit --file "$work/peers.txt" --data "$a"
printf '%s tcp://h:1\n' "$id_b" >"$work/peers.txt"
fails_with 1 "peers.txt:1: the same peer as argument 1" "admit naming a peer in the arguments and the file" -- "$kith" admit "$id_b" --file "$work/peers.txt" --data "$a"
printf '# nobody yet\n\n' >"$work/peers.txt"
fails_with 1 "peers.txt lists no peer" "admit --file of comments only" -- "$kith" admit --file "$work/peers.txt" --data "$a"
printf '%s tcp://h:1\r\n%s\n' "$id_b" "$id_a" >"$work/peers.txt"
fails_with 1 "kithd is not running" "a good list passes the local checks" -- "$kith" admit --file - --data "$a" <"$work/peers.txt"
check "init wrote a lan configuration" sh -c "'$kith' init --name C --data '$work/c' --listen tcp://127.0.0.1:7001 --profile lan >/dev/null && grep -q '^profile = lan' '$work/c/kithd.conf' && grep -q '^listen = tcp://127.0.0.1:7001' '$work/c/kithd.conf'"
fails_with 2 "--listen must look like tcp://HOST:PORT" "init with a bad listen" -- "$kith" init --name D --data "$work/d" --listen 127.0.0.1:7001

# Files that cannot be read whole are never sent: the command fails on the
# read, naming the file and why, before it talks to kithd. A listener on
# the control socket path counts connections to prove nothing was tried.
# /proc/self/mem, opened by kith itself, fails to read at offset 0 (EIO),
# even for root.
sock_log=$work/sock.log
python3 - "$a/kithd.sock" "$sock_log" <<'PY' &
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1]); s.listen(8)
open(sys.argv[2], "w").close()
while True:
    c, _ = s.accept()
    with open(sys.argv[2], "a") as f: f.write("connection\n")
    c.close()
PY
listener=$!
for _ in $(seq 50); do [ -e "$sock_log" ] && break; sleep 0.1; done
mkdir -p "$work/shard-dir"
printf 'shard' >"$work/shard.bin"
head -c $((4 * 1024 * 1024 + 1)) /dev/zero >"$work/big.shard"
: >"$work/empty.key"
fails_with 1 "cannot read $work/shard-dir: Is a directory" "shard put of a directory" -- "$kith" shard put "$id_a" s1 "$work/shard-dir" --data "$a"
fails_with 1 "cannot read /proc/self/mem: Input/output error" "shard put of a file that fails to read" -- "$kith" shard put "$id_a" s1 /proc/self/mem --data "$a"
fails_with 1 "cannot read standard input: Is a directory" "shard put of stdin that cannot be read" -- sh -c "exec '$kith' shard put '$id_a' s1 - --data '$a' <'$work/shard-dir'"
fails_with 1 "cannot open $work/none.shard: No such file" "shard put of a missing file" -- "$kith" shard put "$id_a" s1 "$work/none.shard" --data "$a"
fails_with 1 "big.shard is larger than 4194304 bytes" "shard put of more than 4 MiB" -- "$kith" shard put "$id_a" s1 "$work/big.shard" --data "$a"
fails_with 1 "cannot read $work/shard-dir: Is a directory" "grant --secret-file of a directory" -- "$kith" grant "$id_a" dns:example.org --secret-file "$work/shard-dir" --data "$a"
fails_with 1 "cannot read /proc/self/mem: Input/output error" "grant --secret-file that fails to read" -- "$kith" grant "$id_a" dns:example.org --secret-file /proc/self/mem --data "$a"
fails_with 1 "empty.key is empty" "grant --secret-file of an empty file" -- "$kith" grant "$id_a" dns:example.org --secret-file "$work/empty.key" --data "$a"
check "nothing reached the control socket" test ! -s "$sock_log"
timeout 2 "$kith" status --data "$a" >/dev/null 2>&1
check "the listener sees a command that does connect" test -s "$sock_log"
kill "$listener" 2>/dev/null; wait "$listener" 2>/dev/null
rm -f "$a/kithd.sock"

# Durations and scopes are checked before kithd is asked, with the same
# bounds: at most 3650d, sizes at most 1024T, counts at most 2^28.
fails_with 2 "--expires: too long: at most 3650d" "grant --expires 99999999999d" -- "$kith" grant "$id_a" monitor --expires 99999999999d --data "$a"
fails_with 2 "--expires: too long: at most 3650d" "grant --expires 3651d" -- "$kith" grant "$id_a" monitor --expires 3651d --data "$a"
fails_with 2 "--expires: too long: at most 3650d" "invite --expires 87601h" -- "$kith" invite --expires 87601h --data "$a"
fails_with 1 "kithd is not running" "grant --expires 3650d passes the local check" -- "$kith" grant "$id_a" monitor --expires 3650d --data "$a"
fails_with 2 "--expires must be at least 1s" "grant --expires 500ms" -- "$kith" grant "$id_a" monitor --expires 500ms --data "$a"
fails_with 2 "--interval: needs a unit" "service add --interval 5x" -- "$kith" service add web --url https://cloud.example.org/ --interval 5x --data "$a"
fails_with 2 "at most 1024T" "backup over 1024T" -- "$kith" grant "$id_a" backup:1025T --data "$a"
fails_with 2 "must be from 1 to 268435456" "backup count 0" -- "$kith" grant "$id_a" backup:50G:0 --data "$a"
fails_with 1 "kithd is not running" "backup:50G:2000 passes the local check" -- "$kith" grant "$id_a" backup:50G:2000 --data "$a"
scopes=(); for i in $(seq 17); do scopes+=("dns:z$i.example.org"); done
fails_with 2 "at most 16 scopes" "grant of 17 scopes" -- "$kith" grant "$id_a" "${scopes[@]}" --data "$a"

echo "1..$n"
[ "$failed" -eq 0 ]
