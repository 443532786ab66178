#!/bin/bash
# The whole test suite, as CI runs it: install dependencies, build with
# warnings as errors, run every test, then build again with ASan+UBSan and
# run every test again.  Ends with one line "N passed, N failed" summing both
# runs, and exits non-zero if anything failed.
#
# Usage: tools/scripts/run-tests.sh [--quick]   (--quick: skip the sanitizer run)
set -uo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
quick=0
[ "${1:-}" = "--quick" ] && quick=1

tools/scripts/install-deps.sh || { echo "0 passed, 1 failed"; exit 1; }

passed=0
failed=0

# meson test prints "Ok: N", "Fail: N", ... ; count skips as failures: a test
# that cannot run is not a pass.
tally() {
	local log=$1 ok bad
	ok=$(awk '/^Ok:/ {print $2}' "$log" | tail -n1)
	bad=$(awk '/^(Fail|Unexpected Pass|Timeout|Skipped):/ {s += $NF} END {print s + 0}' "$log")
	if [ -z "$ok" ]; then
		echo "run-tests: no meson summary in $log" >&2
		bad=$((bad + 1))
		ok=0
	fi
	passed=$((passed + ok))
	failed=$((failed + bad))
}

run_suite() {
	local dir=$1; shift
	local log="$dir/run-tests.log"
	if [ ! -f "$dir/build.ninja" ]; then
		meson setup "$dir" -Dwerror=true "$@" || { failed=$((failed + 1)); return; }
	fi
	if ! ninja -C "$dir"; then
		echo "run-tests: build in $dir failed" >&2
		failed=$((failed + 1))
		return
	fi
	meson test -C "$dir" --print-errorlogs --timeout-multiplier "${TIMEOUT_MULT:-1}" 2>&1 | tee "$log"
	tally "$log"
}

run_suite build
if [ $quick -eq 0 ]; then
	TIMEOUT_MULT=3 run_suite build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
