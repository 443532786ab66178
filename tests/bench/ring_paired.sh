#!/bin/bash
# xvio-bench ring --paired, a short run: it exits 0, prints the three round
# trips and the three ratios with median <= quartiles in order, counts the
# triples within the aim, and says how much time the hypervisor took.
#   tests/bench/ring_paired.sh XVIO_BENCH
set -uo pipefail

bench=$1
fail() { printf '%s\n' "$out"; echo "FAIL: $*" >&2; exit 1; }

out=$("$bench" -s 0.3 ring --paired 2>&1) || fail "exit status $?"
grep -Eq '^paired slices: 10 triples ' <<<"$out" || fail "no header with 10 triples"
grep -Eq '^time the hypervisor took from the CPUs \(steal\) during the run: [0-9.]+%$' \
	<<<"$out" || fail "no steal line"
for name in "baseline: shm ping-pong" "baseline: shm ring, same requests" "xvio spin" \
            "xvio spin / shm ping-pong" "xvio spin / shm ring" "shm ring / shm ping-pong"; do
	line=$(grep -F -m1 -- "$name " <<<"$out") || fail "no row \"$name\""
	read -r med p25 p75 _ <<<"${line#"$name"}"
	for v in "$med" "$p25" "$p75"; do
		[[ $v =~ ^[0-9]+\.[0-9]+$ ]] || fail "row \"$line\": \"$v\" is not a figure"
	done
	# positive, and the quartiles around the median
	awk -v a="$p25" -v m="$med" -v b="$p75" 'BEGIN { exit !(a > 0 && a <= m && m <= b) }' ||
		fail "row \"$line\": not p25 <= median <= p75"
done
grep -Eq '^triples with xvio spin within 2x of the ping-pong: [0-9]+ of 10$' <<<"$out" ||
	fail "no count of triples within the aim"
