# shellcheck shell=bash
# The common start of the shell tests that drive xvio-sim, sourced by a
# script run as `SCRIPT CASE` under meson test (tests/sim/cli.sh,
# tests/xenstore/sim-cmds.sh) after its `set -euo pipefail`.  Set
# SIM_TMP_PREFIX first to tell the state directories of each script apart.
# Defines SIM, case_name, DIR (exported as XVIO_SIM_DIR), fail, dom0 and
# expect_eq; the EXIT trap stops the simulator and removes DIR.

SIM=${XVIO_SIM:?run through meson test}
case_name=${1:?which case}
DIR=$(mktemp -d "/tmp/${SIM_TMP_PREFIX:-xvio-sim}-XXXXXX")
export XVIO_SIM_DIR=$DIR

fail() { echo "FAIL [$case_name]: $*" >&2; exit 1; }
cleanup() {
	"$SIM" stop >/dev/null 2>&1 || true
	# the daemon must have exited cleanly; give it a moment
	for _ in $(seq 50); do [ -e "$DIR/pid" ] || break; sleep 0.1; done
	rm -rf "$DIR"
}
trap cleanup EXIT

# Run a command as dom0 (privileged xenstore).
dom0() { "$SIM" exec 0 -- "$@"; }

expect_eq() { [ "$1" = "$2" ] || fail "expected '$2', got '$1' ($3)"; }
