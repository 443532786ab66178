#!/bin/bash
# Run the libFuzzer targets of tests/fuzz.
#
#   tools/scripts/fuzz.sh [SECONDS] [TARGET...]   fuzz each target SECONDS
#                                                 (default 60) on its corpus
#   tools/scripts/fuzz.sh --merge [TARGET...]     add to tests/fuzz/corpus/<target>
#                                                 the fewest inputs found by the runs
#                                                 that cover new edges (edges only,
#                                                 not hit counts: the committed
#                                                 corpus stays a few dozen files)
#
# Builds with clang and -Dfuzz=true in build-fuzz.  New inputs go to
# build-fuzz/corpus/<target> (the committed corpus is only read), crashes
# to build-fuzz/artifacts/.  Exits non-zero if any target crashed; the
# crashing input is then replayable with
#   build-fuzz/tests/fuzz/fuzz-<target> build-fuzz/artifacts/<target>-crash-...
# and belongs in tests/fuzz/corpus/<target> once fixed.
# Installs what it needs (clang, libclang-rt-14-dev) through install-deps.sh.
set -uo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
tools/scripts/install-deps.sh fuzz || exit 1
build=build-fuzz
all_targets="vq-device vq-driver xs-parse"

merge=0
secs=60
if [ "${1:-}" = "--merge" ]; then
	merge=1
	shift
elif [[ "${1:-}" =~ ^[0-9]+$ ]]; then
	secs=$1
	shift
fi
targets=${*:-$all_targets}

if [ ! -f "$build/build.ninja" ]; then
	CC=clang meson setup "$build" -Dfuzz=true -Dbuildtype=debugoptimized || exit 1
fi
ninja -C "$build" $(for t in $targets; do echo "tests/fuzz/fuzz-$t"; done) || exit 1
mkdir -p "$build/artifacts"

status=0
for t in $targets; do
	bin="$build/tests/fuzz/fuzz-$t"
	seed="tests/fuzz/corpus/$t"
	work="$build/corpus/$t"
	mkdir -p "$work"
	if [ "$merge" = 1 ]; then
		before=$(ls "$seed" | wc -l)
		"$bin" -merge=1 -use_counters=0 "$seed" "$work" 2>&1 | grep -E "MERGE-OUTER: [0-9]+ new files" || true
		echo "fuzz: $t: corpus $before -> $(ls "$seed" | wc -l) files"
		continue
	fi
	log="$build/fuzz-$t.log"
	echo "fuzz: $t for ${secs}s (log $log)"
	"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$build/artifacts/$t-" "$work" "$seed" >"$log" 2>&1
	rc=$?
	grep -E "^(stat::number_of_executed_units|stat::peak_rss_mb)" "$log" | sed "s/^/fuzz: $t: /"
	grep -E "^#[0-9]+.*(DONE|pulse)" "$log" | tail -n1 | sed "s/^/fuzz: $t: /"
	if [ "$rc" -ne 0 ]; then
		echo "fuzz: $t FOUND A PROBLEM (exit $rc):" >&2
		grep -E "ERROR|invariant failed|SUMMARY|Test unit written" "$log" | head -n5 >&2
		status=1
	fi
done
exit $status
