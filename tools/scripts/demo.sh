#!/bin/bash
# The main job: build xvio, start the simulated Xen host, create a domain
# from an xl config, and show xenstore, grants and event channels working
# between a guest process and a dom0 process.
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
tools/scripts/install-deps.sh
[ -f build/build.ninja ] || meson setup build >/dev/null
ninja -C build >/dev/null

SIM=$top/build/tools/sim/xvio-sim
DEMO=$top/build/tools/xvio-demo
export XVIO_SIM_DIR=$(mktemp -d /tmp/xvio-demo-XXXXXX)
trap '"$SIM" stop >/dev/null 2>&1 || true; rm -rf "$XVIO_SIM_DIR"' EXIT
say() { printf '\n== %s\n' "$*"; }

say "start the simulated host (state in $XVIO_SIM_DIR)"
"$SIM" start
"$SIM" create tools/demo/guest.cfg
"$SIM" list

id=$("$SIM" domid demo-guest)
say "xenstore as libxl left it, read by dom0 with xenstore-ls"
"$SIM" exec 0 -- xenstore-ls -f "/local/domain/$id" | grep -v '^$' | head -n 30
say "the guest reads its own node by a relative path; dom0's nodes are refused"
"$SIM" exec demo-guest -- xenstore-read name
"$SIM" exec demo-guest -- xenstore-read /local/domain/0/name 2>&1 || true

say "grant a page and an event channel from the guest; dom0 maps, answers, notifies"
"$SIM" exec demo-guest -- "$DEMO" guest 0 &
guest=$!
"$SIM" exec 0 -- "$DEMO" dom0 "$id"
wait "$guest"

say "destroy the guest: @releaseDomain fires, its nodes go"
"$SIM" exec 0 -- xenstore-watch -n 2 @releaseDomain &
watcher=$!
sleep 0.3
"$SIM" destroy demo-guest
wait "$watcher"
"$SIM" list
"$SIM" exec 0 -- xenstore-exists "/local/domain/$id" || echo "/local/domain/$id is gone"
"$SIM" stop
trap 'rm -rf "$XVIO_SIM_DIR"' EXIT
say "done"
