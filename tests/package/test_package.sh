#!/usr/bin/env bash
# The Debian package on a new user's machine: builds it (tools/package),
# installs it into a minimal Debian 12 made with debootstrap, with apt
# resolving its dependencies from the mirror this machine's apt uses; then,
# inside the chroot, as the kith user (no systemd there), runs kith init and
# kithd from the shipped unit's command line, checks that kith status
# answers and that SIGHUP reloads the configuration, and stops kithd. When
# this machine can boot the chroot with systemd-nspawn, it also runs the
# unit under systemd, with its sandbox: start at boot, reload, stop. Then
# it purges the package twice: once keeping /var/lib/kith (the default),
# once with /var/lib/kith/delete-on-purge, which deletes it.
#
# usage: test_package.sh SOURCE_DIR      (ctest -L package runs it)
# Needs root, debootstrap and the mirror; skips (77) without them.
# KITH_DEBIAN_MIRROR overrides the mirror. The base tree is cached as a
# tarball in build/package/cache/, one per suite, mirror and week, and the
# .debs apt fetched beside it: the second run downloads nothing new.
set -uo pipefail
src=$(cd "${1:?usage: test_package.sh SOURCE_DIR}" && pwd)
suite=bookworm
t0=$SECONDS
n=0 failed=0
work='' root='' kithd_pid='' nspawn_pid=''

skip() {
	echo "1..0 # SKIP $*"
	exit 77
}
bail() {
	echo "Bail out! $*"
	exit 1
}
ok() { # ok "what" status
	n=$((n + 1))
	if [ "$2" -eq 0 ]; then echo "ok $n - $1"; else
		echo "not ok $n - $1"
		failed=$((failed + 1))
	fi
}
check() { # check "what" command...
	local what=$1
	shift
	"$@"
	ok "$what" $?
}
note() { echo "# $* ($((SECONDS - t0))s)"; }

[ "$(id -u)" -eq 0 ] || skip "needs root (debootstrap, chroot): run as root, e.g. in CI"
for tool in debootstrap unshare setpriv wget dpkg-buildpackage; do
	command -v "$tool" >/dev/null || skip "$tool not found (tools/setup test installs it)"
done

# The mirror: the first one this machine's apt uses for the suite, from
# one-line sources.list files or deb822 .sources files.
mirror_from_apt() {
	local f
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -r "$f" ] || continue
		awk -v s="$suite" '$1 == "deb" {
			i = 2
			if ($i ~ /^\[/) { while (i < NF && $i !~ /\]$/) i++; i++ }
			if ($(i + 1) == s) { print $i; exit }
		}' "$f"
	done
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -r "$f" ] || continue
		awk -v s="$suite" 'BEGIN { RS = ""; FS = "\n" } {
			types = suites = uris = ""; on = 1
			for (i = 1; i <= NF; i++) {
				if ($i ~ /^Types:/) types = $i " "
				else if ($i ~ /^Suites:/) suites = $i " "
				else if ($i ~ /^URIs:/) uris = $i
				else if ($i ~ /^Enabled:[ \t]*no/) on = 0
			}
			if (on && types ~ /[ \t]deb[ \t]/ && suites ~ ("[ \t]" s "[ \t]")) {
				sub(/^URIs:[ \t]*/, "", uris); split(uris, u, /[ \t]+/); print u[1]; exit
			}
		}' "$f"
	done
}
mirror=${KITH_DEBIAN_MIRROR:-}
if [ -z "$mirror" ]; then
	mirror=$(mirror_from_apt | grep -E -m1 '^(https?|ftp|file)://')
	mirror=${mirror:-http://deb.debian.org/debian}
fi
mirror=${mirror%/}
timeout 30 wget -q -O /dev/null "$mirror/dists/$suite/InRelease" ||
	skip "cannot reach the mirror $mirror (set KITH_DEBIAN_MIRROR to another)"
note "mirror $mirror"

# One run at a time: each rebuilds build/package/.
build=$src/build/package
mkdir -p "$build"
exec 9>"$build/test.lock"
flock -w 1200 9 || bail "another run holds $build/test.lock"
# A run killed by ctest's timeout could not clean up: do it now.
for stale in "$build"/test.*/; do
	[ -d "$stale" ] || continue
	umount "$stale/root/proc" 2>/dev/null || umount -l "$stale/root/proc" 2>/dev/null
	findmnt -rn -o TARGET | grep -q "^${stale%/}" || rm -rf --one-file-system "$stale"
done

# 1. The package, built from this tree.
out=$(KITH_LINTIAN=${KITH_LINTIAN:-1} "$src/tools/package") || bail "tools/package failed"
printf '%s\n' "$out" | sed 's/^/# /'
deb=$(printf '%s\n' "$out" | tail -n 1)
case $deb in /*) ;; *) deb=$src/$deb ;; esac
[ -f "$deb" ] || bail "no package at $deb"
if [ -s "$build/lintian.txt" ]; then
	check "lintian finds no error and no warning" \
		sh -c "! grep -E '^[EW]: ' '$build/lintian.txt'"
fi
note "package built"

# 2. The base tree: debootstrap once per suite, mirror and week, kept as a
# tarball; each run unpacks a fresh copy.
arch=$(dpkg --print-architecture)
cache=$build/cache
key=$suite-minbase-$arch-$(date -u +%G-w%V)-$(printf '%s' "$mirror" | md5sum | cut -c1-8)
tarball=$cache/$key.tar
mkdir -p "$cache/debs"
work=$(mktemp -d "$build/test.XXXXXX")
root=$work/root

stop_pid() { # stop_pid PID: TERM, then KILL after 10 s
	local i
	kill -TERM "$1" 2>/dev/null
	for ((i = 0; i < 50; i++)); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.2
	done
	kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}
cleanup() {
	[ -n "$kithd_pid" ] && stop_pid "$kithd_pid"
	[ -n "$nspawn_pid" ] && stop_pid "$nspawn_pid"
	if [ -n "$root" ] && mountpoint -q "$root/proc"; then
		umount "$root/proc" 2>/dev/null || umount -l "$root/proc"
	fi
	if [ -n "$work" ]; then
		if [ -n "$root" ] && findmnt -rn -o TARGET | grep -q "^$root"; then
			echo "# left $work: something is still mounted under it" >&2
		else
			rm -rf --one-file-system "$work"
		fi
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

if [ ! -f "$tarball" ]; then
	note "making the base tree ($suite, minbase)"
	mkdir "$work/base"
	if ! timeout 600 debootstrap --variant=minbase "$suite" "$work/base" "$mirror" \
		>"$work/debootstrap.log" 2>&1; then
		tail -n 5 "$work/debootstrap.log" | sed 's/^/# /'
		if grep -qiE "couldn't download|failed getting release|unable to (fetch|connect)" \
			"$work/debootstrap.log"; then
			skip "debootstrap cannot reach the mirror $mirror"
		fi
		bail "debootstrap failed"
	fi
	chroot "$work/base" apt-get clean
	rm -f "$cache/$suite"-minbase-*.tar
	if ! tar -C "$work/base" -cf "$tarball.tmp" . || ! mv "$tarball.tmp" "$tarball"; then
		bail "cannot write $tarball"
	fi
	rm -rf --one-file-system "$work/base"
	note "base tree made and cached as $(basename "$tarball")"
fi
mkdir "$root"
tar -C "$root" -xf "$tarball" || bail "cannot unpack $tarball"
note "base tree unpacked"

# 3. Install, as a new user would: apt-get install of the file, with apt
# fetching the dependencies (or taking them from the previous run's).
in_root() { # in_root SECONDS command...: as root in the chroot
	local limit=$1
	shift
	timeout "$limit" chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
		DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 "$@"
}
as_kith() { # as_kith command...: as the kith user in the chroot, 30 s at most
	timeout 30 chroot "$root" setpriv --reuid=kith --regid=kith --init-groups \
		env -i PATH=/usr/bin:/bin HOME=/var/lib/kith "$@"
}
cat /etc/resolv.conf >"$root/etc/resolv.conf" 2>/dev/null
# /proc as on a real machine, when this machine lets us mount it.
mount -t proc proc "$root/proc" 2>/dev/null || note "no /proc in the chroot: mount refused"
cp "$deb" "$root/tmp/"
cp "$cache/debs/"*.deb "$root/var/cache/apt/archives/" 2>/dev/null
pkg=/tmp/$(basename "$deb")
in_root 300 apt-get update -qq >"$work/apt.log" 2>&1 || {
	tail -n 5 "$work/apt.log" | sed 's/^/# /'
	bail "apt-get update failed in the chroot"
}
in_root 600 apt-get install -y -q --no-install-recommends "$pkg" >>"$work/apt.log" 2>&1
ok "apt-get install resolves the dependencies and installs the package" $?
if [ $failed -ne 0 ]; then
	tail -n 20 "$work/apt.log" | sed 's/^/# /'
	bail "cannot install the package"
fi
save_debs() { # what apt fetched, for the next run
	rm -f "$cache/debs/"*.deb
	cp "$root/var/cache/apt/archives/"*.deb "$cache/debs/" 2>/dev/null
}
save_debs
note "installed"

check "kith and kithd find every library" \
	sh -c "! chroot '$root' ldd /usr/bin/kith /usr/bin/kithd | grep 'not found'"
check "kithd runs" in_root 10 kithd --version >/dev/null
check "the kith user exists, with no login shell" \
	sh -c "chroot '$root' getent passwd kith | grep -q ':/var/lib/kith:/usr/sbin/nologin$'"
mode() { in_root 10 stat -c '%U:%G %a' "$1"; } # owner, group and mode, named in the chroot
check "/var/lib/kith is kith's, mode 0700" test "$(mode /var/lib/kith)" = "kith:kith 700"
check "/etc/kith/kithd.conf is a conffile, root:kith 0640" \
	test "$(grep -x /etc/kith/kithd.conf "$root/var/lib/dpkg/info/kith.conffiles") $(
		mode /etc/kith/kithd.conf)" = "/etc/kith/kithd.conf root:kith 640"

# Every key of the schema (agent/core/conf.c) is in the default file,
# commented out, in its section.
conf_keys() {
	sed -n 's/^[[:space:]]*{"\([a-z_]*\)", "\([a-z_]*\)", TYPE_.*/\1.\2/p' \
		"$src/agent/core/conf.c" | sort
}
file_keys() {
	awk '/^\[/ { gsub(/[][]/, ""); s = $0 } /^;[a-z_]+ =/ { sub(/^;/, ""); print s "." $1 }' \
		"$root/etc/kith/kithd.conf" | sort
}
missing=$(comm -23 <(conf_keys) <(file_keys) | tr '\n' ' ')
[ -n "$(conf_keys)" ] && [ -z "$missing" ]
ok "the default kithd.conf names every key of the schema${missing:+ (missing: $missing)}" $?
uncommented=$(comm -13 <(conf_keys) <(file_keys) | tr '\n' ' ')
[ -z "$uncommented" ]
ok "the default kithd.conf names no unknown key${uncommented:+ ($uncommented)}" $?

unit=$root/lib/systemd/system/kithd.service
check "the unit is installed and enabled" \
	test -f "$unit" -a -L "$root/etc/systemd/system/multi-user.target.wants/kithd.service"
if command -v systemd-analyze >/dev/null && [ -f /lib/systemd/system/sysinit.target ]; then
	# verify needs the targets the unit refers to: the chroot has no
	# systemd, so this machine's are lent to a scratch root.
	vroot=$work/verify
	mkdir -p "$vroot/lib/systemd/system" "$vroot/usr/bin" "$vroot/bin"
	cp /lib/systemd/system/*.target "$vroot/lib/systemd/system/"
	cp "$unit" "$vroot/lib/systemd/system/"
	cp "$root/usr/bin/kithd" "$vroot/usr/bin/"
	cp "$root/bin/kill" "$vroot/bin/"
	verify=$(systemd-analyze verify --man=no --root="$vroot" kithd.service 2>&1) &&
		[ -z "$verify" ]
	ok "systemd-analyze verify finds nothing to say about the unit${verify:+: $verify}" $?
	score=$(systemd-analyze security --offline=true --no-pager "$unit" 2>&1 | tail -n 1)
	note "systemd-analyze security: ${score#→ }"
	check "the unit's exposure is 2.0 at most" \
		systemd-analyze security --offline=true --threshold=20 --no-pager "$unit" >/dev/null
else
	echo "# systemd-analyze or the systemd targets not found: the unit is not verified"
fi

# 4. Run it as the unit does, as kith, with no systemd: in a network
# namespace of its own when possible, so that the default listen address
# (0.0.0.0:7707) collides with nothing on this machine.
netns=()
unshare --net true 2>/dev/null && netns=(unshare --net)
check "kith init, as kith" as_kith kith init --name "Package test" --data /var/lib/kith --config /etc/kith/kithd.conf >/dev/null
peer=$(as_kith kith id --data /var/lib/kith)
check "kith init --config kept /etc/kith/kithd.conf and wrote no other" \
	test ! -e "$root/var/lib/kith/kithd.conf"
check "the identity is kith's, mode 0600" \
	test "$(mode /var/lib/kith/identity.key)" = "kith:kith 600"
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
read -r -a cmd <<<"$exec_start"
"${netns[@]}" chroot "$root" setpriv --reuid=kith --regid=kith --init-groups \
	env -i PATH=/usr/bin:/bin HOME=/var/lib/kith KITH_DATA=/var/lib/kith "${cmd[@]}" \
	>"$work/kithd.log" 2>&1 &
kithd_pid=$!

wait_for() { # wait_for TRIES PID command...: every 0.2 s while PID lives
	local i
	for ((i = 0; i < $1; i++)); do
		"${@:3}" >/dev/null 2>&1 && return 0
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.2
	done
	return 1
}
wait_for 75 "$kithd_pid" as_kith kith status --data /var/lib/kith
ok "kith status answers (kithd started as ExecStart says)" $?
status=$(as_kith kith status --data /var/lib/kith 2>&1)
check "kith status shows the identity made by kith init" \
	grep -q "peer ID: *$peer" <<<"$status"

# Reload: every key uncommented at its default parses; SIGHUP applies it.
sed -i 's/^;\([a-z_]* =\)/\1/' "$root/etc/kith/kithd.conf"
kill -HUP "$kithd_pid"
wait_for 50 "$kithd_pid" grep -q "configuration reloaded from /etc/kith/kithd.conf" "$work/kithd.log"
ok "SIGHUP reloads /etc/kith/kithd.conf with every key set to its default" $?
check "kith status still answers after the reload" as_kith kith status --data /var/lib/kith >/dev/null

kill -TERM "$kithd_pid"
for ((i = 0; i < 50; i++)); do
	kill -0 "$kithd_pid" 2>/dev/null || break
	sleep 0.2
done
if kill -0 "$kithd_pid" 2>/dev/null; then
	ok "kithd stops on SIGTERM within 10 s" 1
else
	wait "$kithd_pid"
	ok "kithd stops on SIGTERM, status 0" $?
fi
kithd_pid=
if [ $failed -ne 0 ]; then
	sed 's/^/# kithd: /' "$work/kithd.log" | tail -n 20
fi
note "ran kithd"

# 5. The unit under systemd, with its whole sandbox (a system call or
# address family it refuses makes libzmq abort kithd): the chroot booted
# with systemd-nspawn, when this machine can, on a private network.
if command -v systemd-nspawn >/dev/null && command -v nsenter >/dev/null; then
	in_root 600 apt-get install -y -q --no-install-recommends systemd systemd-sysv dbus \
		>>"$work/apt.log" 2>&1
	ok "apt-get install systemd in the chroot" $?
	save_debs
	mountpoint -q "$root/proc" && umount "$root/proc"
	timeout 300 systemd-nspawn -q -D "$root" -b --private-network --register=no \
		--keep-unit -M "kith-package-$$" >"$work/boot.log" 2>&1 </dev/null &
	nspawn_pid=$!
	init=
	for ((i = 0; i < 100; i++)); do # its init: systemd, child of systemd-nspawn
		init=$(pgrep -P "$(pgrep -P "$nspawn_pid" -x systemd-nspawn)" -x systemd)
		[ -n "$init" ] || ! kill -0 "$nspawn_pid" 2>/dev/null && break
		sleep 0.2
	done
	in_ct() { # in_ct command...: as root in the booted container, 30 s at most
		timeout 30 nsenter -t "$init" -a env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"
	}
	booted() { in_ct systemctl is-system-running 2>/dev/null | grep -qE '^(running|degraded)$'; }
	if [ -n "$init" ] && wait_for 300 "$nspawn_pid" booted; then
		note "booted the chroot with systemd-nspawn"
		check "systemd started kithd.service at boot" in_ct systemctl is-active -q kithd
		check "kith status answers the service" in_ct setpriv --reuid=kith --regid=kith \
			--init-groups kith status --data /var/lib/kith >/dev/null
		in_ct systemctl reload kithd
		ok "systemctl reload kithd" $?
		journal() { in_ct journalctl -q -u kithd --no-pager -o cat; }
		reloaded() { journal | grep -q "configuration reloaded from /etc/kith/kithd.conf"; }
		wait_for 50 "$nspawn_pid" reloaded
		ok "the reload reached kithd" $?
		in_ct systemctl stop kithd
		check "systemctl stop kithd: a clean stop, never restarted" test "$(in_ct systemctl show \
			kithd -p Result -p NRestarts | sort | tr '\n' ' ')" = "NRestarts=0 Result=success "
		[ $failed -eq 0 ] || journal | tail -n 20 | sed 's/^/# journal: /'
		in_ct systemctl poweroff
		wait_for 150 "$nspawn_pid" false
	else
		sed 's/^/# nspawn: /' "$work/boot.log" | tail -n 5
		note "systemd-nspawn could not boot the chroot here: the unit was not run by systemd"
	fi
	stop_pid "$nspawn_pid"
	nspawn_pid=
	mount -t proc proc "$root/proc" 2>/dev/null
	note "systemd stage"
else
	note "systemd-nspawn not found: the unit was not run by systemd (tools/setup test installs it)"
fi

# 6. Purge: the data stays unless asked.
key_sum=$(sha256sum <"$root/var/lib/kith/identity.key")
purged() { # the package and its files are gone
	local st
	# shellcheck disable=SC2016 # dpkg-query's own ${} syntax
	st=$(in_root 10 dpkg-query -W -f '${Status}' kith 2>/dev/null)
	{ [ -z "$st" ] || [ "${st##* }" = not-installed ]; } &&
		[ ! -e "$root/usr/bin/kithd" ] && [ ! -e "$root/etc/kith" ] && [ ! -e "$unit" ] &&
		[ ! -e "$root/etc/systemd/system/multi-user.target.wants/kithd.service" ]
}
in_root 120 apt-get purge -y -q kith >"$work/purge.log" 2>&1
ok "apt-get purge kith" $?
check "the package, its configuration and its unit are gone" purged
check "purge keeps /var/lib/kith and the identity" \
	test "$(sha256sum <"$root/var/lib/kith/identity.key" 2>/dev/null)" = "$key_sum"
check "purge says it kept /var/lib/kith and how to delete it" \
	grep -q "kept /var/lib/kith.*delete-on-purge" "$work/purge.log"

in_root 120 apt-get install -y -q --no-install-recommends "$pkg" >>"$work/apt.log" 2>&1
ok "the package installs again over the kept data" $?
check "the agent has the same peer ID" test "$(as_kith kith id --data /var/lib/kith)" = "$peer"
touch "$root/var/lib/kith/delete-on-purge"
in_root 120 apt-get purge -y -q kith >"$work/purge.log" 2>&1
ok "apt-get purge kith, with /var/lib/kith/delete-on-purge" $?
check "the package is gone" purged
check "purge deleted /var/lib/kith as asked" test ! -e "$root/var/lib/kith"
note "purged"

echo "1..$n"
note "done: $failed of $n failed"
[ $failed -eq 0 ]
