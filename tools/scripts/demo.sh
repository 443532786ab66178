#!/bin/bash
# The main job: build xvio, start the simulated Xen host, create a domain
# from an xl config, and show xenstore, grants and event channels working
# between a guest process and a dom0 process, then a virtio disk from an xl
# disk= line served by xvio-blkback and used through the guest's blkfront.
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

say "a virtio disk from an ordinary xl disk line: xvio-blkback serves it from dom0"
"$SIM" exec 0 -- "$top/build/back/xvio-blkback" >"$XVIO_SIM_DIR/blkback.out" 2>&1 &
blkback=$!
for _ in $(seq 100); do grep -q ready "$XVIO_SIM_DIR/blkback.out" && break; sleep 0.05; done
img=$XVIO_SIM_DIR/disk.img
truncate -s 64M "$img"
echo "hello from dom0's image" | dd of="$img" conv=notrunc status=none
cat >"$XVIO_SIM_DIR/disk-guest.cfg" <<CFG
name = "disk-guest"
memory = 128
disk = [ 'vdev=xvdb, backendtype=standalone, specification=virtio, target=$img' ]
CFG
cat "$XVIO_SIM_DIR/disk-guest.cfg"
"$SIM" create "$XVIO_SIM_DIR/disk-guest.cfg"
did=$("$SIM" domid disk-guest)
sock=$XVIO_SIM_DIR/dom$did/nbd.sock
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
uri="nbd+unix:///xvdb?socket=$sock"
say "inside the guest, the disk is an NBD export of its blkfront: nbdinfo, qemu-io, fio"
"$SIM" exec disk-guest -- nbdinfo "$uri" | grep -E 'export-size|is_read_only|can_trim|can_flush' || true
"$SIM" exec disk-guest -- qemu-io -f raw -r -c 'read -v 0 24' "$uri" | head -n 2
"$SIM" exec disk-guest -- fio --name=demo --ioengine=nbd --uri="$uri" --rw=randrw --bs=4k \
	--iodepth=16 --size=16M --verify=crc32c --verify_state_save=0 --output-format=terse --terse-version=3 | tail -n 1 |
	awk -F';' '{printf "fio randrw 4k depth 16 with crc32c verify: read %s KiB/s, write %s KiB/s, errors %s\n", $7, $48, $5}'
"$SIM" destroy disk-guest
kill "$blkback"; wait "$blkback" || true
grep -v '^ready' "$XVIO_SIM_DIR/blkback.out" | sed 's/^/  blkback log: /'

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
