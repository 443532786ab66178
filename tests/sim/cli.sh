#!/bin/bash
# Command-line tests of xvio-sim, one behaviour per case: tests/sim/cli.sh CASE
# Each case starts its own simulator in a fresh state directory and checks
# what a user would see, with the real xenstore-* tools as the observer.
set -euo pipefail

SIM_TMP_PREFIX=xvio-cli
# shellcheck source=SCRIPTDIR/../lib/sim.sh
source "$(dirname "$0")/../lib/sim.sh"

start() { "$SIM" start >/dev/null || fail "start failed"; }

write_cfg() { # name memory [extra lines...]
	local f=$DIR/$1.cfg; shift
	printf '%s\n' "$@" > "$f"
	echo "$f"
}

create() { # cfg [overrides] -> prints domid
	local out
	out=$("$SIM" create "$@" 2>/dev/null) || return 1
	sed -n 's/.*(id \([0-9]*\)).*/\1/p' <<<"$out"
}

case "$case_name" in
help)
	"$SIM" --help | grep -q "^usage: xvio-sim" || fail "main --help"
	for c in start stop create destroy shutdown list domid exec; do
		"$SIM" "$c" --help | grep -q "^usage: xvio-sim $c" || fail "$c --help"
	done
	if "$SIM" frobnicate 2>/dev/null; then fail "unknown command accepted"; fi
	;;

start-stop)
	start
	[ -S "$DIR/control.sock" ] || fail "no control socket"
	[ -S "$DIR/dom0/xenstored.sock" ] || fail "no dom0 xenstore socket"
	[ -S "$DIR/dom0/hyp.sock" ] || fail "no dom0 hypervisor socket"
	pid=$(cat "$DIR/pid")
	kill -0 "$pid" || fail "daemon not running"
	if "$SIM" start 2>/dev/null; then fail "second start in the same directory succeeded"; fi
	"$SIM" stop || fail "stop failed"
	for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
	if kill -0 "$pid" 2>/dev/null; then fail "daemon still running after stop"; fi
	[ ! -e "$DIR/control.sock" ] || fail "control socket left behind"
	[ ! -e "$DIR/dom0" ] || fail "dom0 directory left behind"
	if "$SIM" stop 2>/dev/null; then fail "stop without a simulator succeeded"; fi
	;;

dom0-nodes)
	start
	expect_eq "$(dom0 xenstore-read /local/domain/0/name)" "Domain-0" "dom0 name"
	expect_eq "$(dom0 xenstore-read /local/domain/0/domid)" "0" "dom0 domid"
	;;

create-nodes)
	start
	cfg=$(write_cfg g1 'name = "guest1"' 'memory = 48' 'maxmem = 64' 'vcpus = 2' \
	      'uuid = "6a9b2c3d-1111-2222-3333-444455556666"')
	id=$(create "$cfg") || fail "create failed"
	[ "$id" -ge 1 ] || fail "bad domid '$id'"
	d=/local/domain/$id
	expect_eq "$(dom0 xenstore-read $d/name)" guest1 "name"
	expect_eq "$(dom0 xenstore-read $d/domid)" "$id" "domid"
	expect_eq "$(dom0 xenstore-read $d/memory/target)" 49152 "memory/target (KiB)"
	expect_eq "$(dom0 xenstore-read $d/memory/static-max)" 65536 "memory/static-max (KiB)"
	expect_eq "$(dom0 xenstore-read $d/vm)" /vm/6a9b2c3d-1111-2222-3333-444455556666 "vm"
	expect_eq "$(dom0 xenstore-read /vm/6a9b2c3d-1111-2222-3333-444455556666/name)" guest1 "vm name"
	expect_eq "$(dom0 xenstore-read $d/cpu/1/availability)" online "vcpu 1"
	expect_eq "$(dom0 xenstore-read $d/control/platform-feature-xs_reset_watches)" 1 "xs_reset_watches"
	expect_eq "$(dom0 xenstore-read $d/memory/videoram)" 0 "memory/videoram"
	expect_eq "$(dom0 xenstore-read /libxl/$id/type)" pv "libxl type"
	# Permissions as libxl 4.17 sets them (seen with xl create on Xen): the
	# domain path and device/ are dom0's, readable by the guest;
	# control/shutdown and data/ belong to the guest.
	perm_of() { dom0 xenstore-ls -p "$(dirname "$1")" | sed -n "s/^$(basename "$1") = \"[^\"]*\"[^(]*(\(.*\))\$/\1/p"; }
	expect_eq "$(perm_of $d/device)" "n0,r$id" "device perms"
	expect_eq "$(perm_of $d/control/shutdown)" "n$id" "control/shutdown perms"
	expect_eq "$(perm_of $d/data)" "n$id" "data perms"
	expect_eq "$(perm_of $d/memory)" "n0,r$id" "memory perms"
	perms=$(dom0 xenstore-ls -p /local/domain | sed -n "s/^$id = \"\"[^(]*(\(.*\))\$/\1/p")
	expect_eq "$perms" "n0,r$id" "domain path perms"
	dom0 xenstore-exists /libxl/$id || fail "/libxl/$id missing"
	"$SIM" list | grep -Eq "^guest1 +$id " || fail "list does not show guest1"
	expect_eq "$("$SIM" domid guest1)" "$id" "domid command"
	;;

create-overrides)
	start
	cfg=$(write_cfg g2 'name = "guest2"' 'memory = 32')
	id=$(create "$cfg" 'memory=40' 'maxmem=80') || fail "create failed"
	expect_eq "$(dom0 xenstore-read /local/domain/$id/memory/target)" 40960 "override memory"
	expect_eq "$(dom0 xenstore-read /local/domain/$id/memory/static-max)" 81920 "override maxmem"
	;;

create-errors)
	start
	check_refused() { # cfg message-pattern
		local err
		if err=$("$SIM" create "$1" 2>&1 >/dev/null); then fail "accepted: $(cat "$1")"; fi
		grep -q "$2" <<<"$err" || fail "message '$err' does not mention '$2'"
	}
	check_refused "$(write_cfg e1 'memory = 32')" "name"
	check_refused "$(write_cfg e2 'name = "x"' 'memory = 64' 'maxmem = 32')" "maxmem"
	check_refused "$(write_cfg e3 'name = "x"' 'memory = "lots"')" "memory"
	check_refused "$(write_cfg e3b 'name = "x"' 'memory = 70000')" "memory"
	check_refused "$(write_cfg e3c 'name = "x"' 'vcpus = 0')" "vcpus"
	check_refused "$(write_cfg e4 'name = "x"' 'uuid = "nope"')" "uuid"
	check_refused "$(write_cfg e5 'name = "a/b"')" "name"
	check_refused "$(write_cfg e6 'name = "x" memory = ')" "parse"
	check_refused "$DIR/does-not-exist.cfg" "cannot read config"
	id=$(create "$(write_cfg ok 'name = "dup"')") || fail "create failed"
	check_refused "$(write_cfg ok2 'name = "dup"')" "already exists"
	# nothing half-made is left behind by the refusals
	n=$("$SIM" list | tail -n +2 | wc -l)
	expect_eq "$n" 2 "domains after refusals (Domain-0 and dup)"
	;;

exec-env)
	start
	id=$(create "$(write_cfg g3 'name = "guest3"')") || fail "create failed"
	# a relative path is relative to the domain's home
	expect_eq "$("$SIM" exec guest3 -- xenstore-read name)" guest3 "relative read"
	expect_eq "$("$SIM" exec guest3 -- sh -c 'echo $XVIO_DOMID $XVIO_PLATFORM')" "$id sim" "environment"
	# dom0's nodes are not the guest's to read
	if "$SIM" exec guest3 -- xenstore-read /local/domain/0/name 2>/dev/null; then
		fail "guest read dom0's name"
	fi
	"$SIM" exec guest3 -- xenstore-write data/x 1 || fail "guest cannot write its own data/"
	if "$SIM" exec guest3 -- xenstore-write device/x 1 2>/dev/null; then
		fail "guest wrote under device/, which libxl keeps for dom0"
	fi
	if "$SIM" exec guest3 -- xenstore-write /local/domain/$id/name evil 2>/dev/null; then
		fail "guest rewrote its own name"
	fi
	if "$SIM" exec nosuch -- true 2>/dev/null; then fail "exec in unknown domain"; fi
	"$SIM" exec guest3 -- sh -c 'exit 7' && fail "exit status lost" || rc=$?
	expect_eq "$rc" 7 "exit status passes through"
	;;

destroy)
	start
	id=$(create "$(write_cfg g4 'name = "guest4"' 'uuid = "00000000-0000-0000-0000-00000000abcd"')") ||
		fail "create failed"
	"$SIM" exec guest4 -- sleep 1000 &
	sleeper=$!
	dom0 xenstore-watch -n 2 @releaseDomain > "$DIR/watch.out" &
	watcher=$!
	sleep 0.5
	"$SIM" destroy guest4 || fail "destroy failed"
	wait "$watcher" || fail "no @releaseDomain event"
	grep -q "@releaseDomain" "$DIR/watch.out" || fail "watch output: $(cat "$DIR/watch.out")"
	for _ in $(seq 100); do kill -0 "$sleeper" 2>/dev/null || break; sleep 0.05; done
	if kill -0 "$sleeper" 2>/dev/null; then fail "the domain's process survived destroy"; fi
	if dom0 xenstore-exists /local/domain/$id; then fail "/local/domain/$id left behind"; fi
	if dom0 xenstore-exists /vm/00000000-0000-0000-0000-00000000abcd; then fail "/vm left behind"; fi
	if dom0 xenstore-exists /libxl/$id; then fail "/libxl/$id left behind"; fi
	if "$SIM" list | grep -q guest4; then fail "still listed"; fi
	if "$SIM" destroy guest4 2>/dev/null; then fail "destroyed twice"; fi
	if "$SIM" destroy 0 2>/dev/null; then fail "destroyed dom0"; fi
	[ ! -e "$DIR/dom$id" ] || fail "domain's socket directory left behind"
	;;

destroy-escapees)
	# Children that outlive their parent, or leave its process group, still
	# ran in the domain: destroy must stop them too (Xen stops all vCPUs).
	start
	create "$(write_cfg g6 'name = "guest6"')" >/dev/null || fail "create failed"
	"$SIM" exec guest6 -- sh -c "sleep 300 & echo \$! > $DIR/orphan; exit 0" ||
		fail "exec failed"
	"$SIM" exec guest6 -- sh -c "setsid sleep 300 & echo \$! > $DIR/session; exit 0" ||
		fail "exec failed"
	orphan=$(cat "$DIR/orphan"); session=$(cat "$DIR/session")
	kill -0 "$orphan" && kill -0 "$session" || fail "test setup: sleepers not running"
	"$SIM" destroy guest6 || fail "destroy failed"
	# dead means gone or a zombie (whoever adopted it may reap it late)
	alive() { [ -e /proc/$1/stat ] && [ "$(cut -d' ' -f3 /proc/$1/stat)" != Z ]; }
	if alive "$orphan"; then fail "an orphaned child survived destroy"; fi
	if alive "$session"; then fail "a child in its own session survived destroy"; fi
	;;

list-many)
	# More domains than one control reply carries (128).
	start
	for i in $(seq 1 140); do
		printf 'name = "m%d"\nmemory = 1\n' "$i" > "$DIR/m.cfg"
		"$SIM" create "$DIR/m.cfg" >/dev/null 2>&1 || fail "create m$i failed"
	done
	n=$("$SIM" list | tail -n +2 | wc -l)
	expect_eq "$n" 141 "domains listed (Domain-0 and 140)"
	last=$("$SIM" domid m140)
	"$SIM" destroy "$last" || fail "destroy by id $last failed"
	if "$SIM" list | grep -q "^m140 "; then fail "m140 still listed"; fi
	;;

shutdown)
	start
	id=$(create "$(write_cfg g5 'name = "guest5"')") || fail "create failed"
	dom0 xenstore-watch -n 2 @releaseDomain > "$DIR/watch.out" &
	watcher=$!
	sleep 0.5
	"$SIM" shutdown guest5 || fail "shutdown failed"
	wait "$watcher" || fail "no @releaseDomain event"
	"$SIM" list | grep -Eq "^guest5 +$id +[0-9]+ +-s" || fail "not shown as shut down: $("$SIM" list)"
	;;

demo)
	# the README's main job, in miniature: grant + event channel between domains
	DEMO=${XVIO_DEMO:?}
	start
	id=$(create "$(write_cfg d 'name = "demo"')") || fail "create failed"
	"$SIM" exec demo -- "$DEMO" guest 0 > "$DIR/guest.out" &
	g=$!
	"$SIM" exec 0 -- "$DEMO" dom0 "$id" > "$DIR/dom0.out" || fail "dom0 side failed"
	wait "$g" || fail "guest side failed"
	grep -q "it says: \"hello from domain $id" "$DIR/dom0.out" || fail "dom0 did not read the page: $(cat "$DIR/dom0.out")"
	grep -q "dom0 wrote: \"hello domain $id, dom0 read your page\"" "$DIR/guest.out" ||
		fail "guest did not see the answer: $(cat "$DIR/guest.out")"
	grep -q "grant ended" "$DIR/guest.out" || fail "grant not ended"
	;;

*)
	fail "unknown case"
	;;
esac
echo "ok [$case_name]"
