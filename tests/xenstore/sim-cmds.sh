#!/bin/bash
# The real xenstore-* commands (Debian's xenstore-utils, over libxenstore)
# against xvio-sim's xenstore server, one behaviour per case:
#   tests/xenstore/sim-cmds.sh CASE
# Each case starts its own simulator in a fresh state directory.
set -euo pipefail

SIM_TMP_PREFIX=xvio-xscmd
# shellcheck source=SCRIPTDIR/../lib/sim.sh
source "$(dirname "$0")/../lib/sim.sh"

for t in xenstore-read xenstore-write xenstore-ls xenstore-list xenstore-rm \
         xenstore-exists xenstore-chmod xenstore-watch; do
	command -v "$t" >/dev/null || fail "$t is not installed (xenstore-utils)"
done

as_dom() { local d=$1; shift; "$SIM" exec "$d" -- "$@"; }
fails() { if "$@" >/dev/null 2>&1; then fail "succeeded: $*"; fi; }

"$SIM" start >/dev/null || fail "start failed"

new_guest() {
	local cfg=$DIR/$1.cfg out
	printf 'name = "%s"\nmemory = 32\n' "$1" > "$cfg"
	out=$("$SIM" create "$cfg" 2>/dev/null) || fail "create $1 failed"
	sed -n 's/.*(id \([0-9]*\)).*/\1/p' <<<"$out"
}

case "$case_name" in
read-write)
	dom0 xenstore-write /t/a 1 /t/b "two words" /t/deep/er/node x
	expect_eq "$(dom0 xenstore-read /t/a /t/b)" $'1\ntwo words' "read two keys"
	expect_eq "$(dom0 xenstore-read -p /t/a)" "/t/a: 1" "read -p"
	expect_eq "$(dom0 xenstore-read /t/deep/er)" "" "implicit parent"
	fails dom0 xenstore-read /t/missing
	fails dom0 xenstore-write /bad//path x
	# Escapes: interpreted on write unless -R, produced on read unless -R.
	dom0 xenstore-write /t/esc 'a\x41'
	expect_eq "$(dom0 xenstore-read /t/esc)" "aA" "escape decoded"
	dom0 xenstore-write -R /t/raw 'a\x41'
	expect_eq "$(dom0 xenstore-read -R /t/raw)" 'a\x41' "raw"
	;;

ls)
	dom0 xenstore-write /l/a 1 /l/b/c 2
	expect_eq "$(dom0 xenstore-ls /l)" $'a = "1"\nb = ""\n c = "2"' "ls"
	expect_eq "$(dom0 xenstore-ls -f /l)" \
		$'/l/a = "1"\n/l/b = ""\n/l/b/c = "2"' "ls -f"
	dom0 xenstore-ls -fp /l | grep -q '^/l/a = "1" .*(n0)$' || fail "ls -p"
	fails dom0 xenstore-ls /nothing
	;;

list)
	dom0 xenstore-write /d/zz 1 /d/aa 2 /d/mm 3
	expect_eq "$(dom0 xenstore-list /d)" $'zz\naa\nmm' "creation order"
	expect_eq "$(dom0 xenstore-list -p /d | head -1)" "/d/zz" "list -p"
	expect_eq "$(dom0 xenstore-list /d/zz)" "" "no children"
	fails dom0 xenstore-list /nothing
	;;

exists)
	dom0 xenstore-write /e 1
	dom0 xenstore-exists /e || fail "exists"
	fails dom0 xenstore-exists /e/not
	;;

rm)
	dom0 xenstore-write /r/a/b 1 /r/c 2
	dom0 xenstore-rm /r/a
	fails dom0 xenstore-exists /r/a/b
	dom0 xenstore-exists /r/c || fail "sibling removed"
	dom0 xenstore-rm /r/never-there
	fails dom0 xenstore-rm /no/such/parent
	# -t: also removes parents left empty
	dom0 xenstore-write /tidy/x/y/z 1
	dom0 xenstore-rm -t /tidy/x/y/z
	fails dom0 xenstore-exists /tidy
	;;

chmod)
	dom0 xenstore-write /c/child 1
	dom0 xenstore-chmod /c b0 r3
	dom0 xenstore-ls -p / | grep -q '^c = "" .*(b0,r3)$' || fail "chmod"
	dom0 xenstore-ls -p /c | grep -q '(n0)$' || fail "child changed"
	dom0 xenstore-chmod -r /c n0 w4
	dom0 xenstore-ls -p /c | grep -q '(n0,w4)$' || fail "chmod -r"
	# The owner must be a domain that exists.
	fails dom0 xenstore-chmod /c n77
	;;

watch)
	out=$DIR/watch.out
	dom0 xenstore-watch -n 3 /w > "$out" &
	wpid=$!
	for _ in $(seq 100); do [ -s "$out" ] && break; sleep 0.05; done
	[ -s "$out" ] || fail "no first event"
	dom0 xenstore-write /w/a 1
	dom0 xenstore-write /other 1
	dom0 xenstore-rm /w
	wait "$wpid" || fail "xenstore-watch failed"
	expect_eq "$(cat "$out")" $'/w\n/w/a\n/w' "events"
	;;

guest)
	id=$(new_guest g1)
	as_dom "$id" xenstore-write data/x 1
	expect_eq "$(as_dom "$id" xenstore-read data/x)" 1 "relative read"
	expect_eq "$(dom0 xenstore-read /local/domain/$id/data/x)" 1 "dom0 read"
	expect_eq "$(as_dom "$id" xenstore-read name)" g1 "own name"
	fails as_dom "$id" xenstore-read /local/domain/0/name
	fails as_dom "$id" xenstore-ls /local/domain/0
	fails as_dom "$id" xenstore-write /forbidden 1
	fails as_dom "$id" xenstore-write name renamed
	fails as_dom "$id" xenstore-chmod data/x n0
	id2=$(new_guest g2)
	fails as_dom "$id2" xenstore-read /local/domain/$id/data/x
	;;

destroy)
	id=$(new_guest g1)
	as_dom "$id" xenstore-write data/x 1
	"$SIM" destroy "$id" >/dev/null || fail "destroy"
	fails dom0 xenstore-exists /local/domain/$id
	;;

*) fail "unknown case" ;;
esac
