#!/bin/bash
# xvio-bench ring --breakdown, a short run: it exits 0 and prints a row of
# figures for every segment and the round trip, and says that the two
# sides' stamps were in order (it refuses to print otherwise).
#   tests/bench/ring_breakdown.sh XVIO_BENCH
set -uo pipefail

bench=$1
fail() { printf '%s\n' "$out"; echo "FAIL: $*" >&2; exit 1; }

out=$("$bench" -s 0.2 ring --breakdown 2>&1) || fail "exit status $?"
for name in "1 front: issue -> avail published" "2 transfer+detect -> back" \
            "3 back: seen -> device callback" "4 back: device work (transform)" \
            "5 back: work done -> used published" "6 transfer+detect -> front" \
            "7 front: seen -> completion callback" "8 front: callback -> next issue" \
            "round trip (issue -> next issue)"; do
	line=$(grep -F -- "$name" <<<"$out") || fail "no row \"$name\""
	# median, p10, p90 of each, then xvio minus the ring
	[[ ${line#"$name"} =~ ^\ +([0-9]+\ +){6}[+-][0-9]+$ ]] || fail "row \"$line\""
done
grep -Eq '^stamps in order across the two sides: shm ring [0-9.]+%, xvio [0-9.]+% .*: ok$' \
	<<<"$out" || fail "no ordered-stamps check"
