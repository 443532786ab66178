#!/bin/bash
# Checks against a real Xen 4.17, in the dom0 of ../shared/xenvm (Xen under
# QEMU; TCG on machines without usable KVM).  Not part of `meson test`:
# booting takes about a minute and the tool lives outside this repository.
#
#   tests/xen/run-on-xenvm.sh [BUILDDIR]     (default: build)
#
# 1. plat-xen-check: the `xen` platform layer from dom0 (grants to itself,
#    mappings, read-only faults, event channels, domain info).
# 2. toolstack parity: `xl create -p` of a PV guest on Xen and `xvio-sim
#    create` of the same config must leave the same xenstore nodes with the
#    same permissions, apart from what the simulator documents it leaves out
#    (console device, /vm/<uuid>/image, values that differ per run).
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$top/build}" && pwd)
XENVM=${XENVM:-$top/../shared/xenvm/xenvm}
export XENVM_ACCEL=${XENVM_ACCEL:-tcg}
export XENVM_SHARE=$top
[ -x "$XENVM" ] || { echo "run-on-xenvm: no xenvm at $XENVM" >&2; exit 1; }
XENVM_DIR=${XENVM_DIR:-/var/tmp/xenvm}

"$XENVM" status >/dev/null 2>&1 || { "$XENVM" build >/dev/null; "$XENVM" up; }

echo "== plat-xen-check in dom0"
"$XENVM" dom0 -t 120 "$build/tests/xen/plat-xen-check"

echo "== toolstack parity: xl create vs xvio-sim create"
work=$XENVM_DIR/parity
mkdir -p "$work"
cat > "$work/guest.cfg" <<EOF
name = "parity"
kernel = "$XENVM_DIR/cache/vmlinuz"
ramdisk = "$XENVM_DIR/cache/domU-initrd.cpio.gz"
extra = "console=hvc0 quiet xenvm.shell"
memory = 128
maxmem = 160
vcpus = 2
EOF

# Normalise a `xenstore-ls -f -p` dump: the domid becomes N, uuids become
# UUID, per-run values are blanked, and what the simulator leaves out goes.
normalise() {
	sed -E -e "s#^/local/domain/$1([/ ])#/local/domain/N\\1#" -e "s#^/libxl/$1([/ ])#/libxl/N\\1#" \
	    -e "s/([nrwb])$1([,)])/\\1N\\2/g" \
	    -e 's/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/UUID/g' \
	    -e 's/ = "[^"]*"/ = V/' -e 's/ +\. [. ]*\(/ (/' |
	grep -v -E '/console( |/)|/image( |/)|/device/console( |/)' | sort
}

"$XENVM" dom0 -t 300 "xl destroy parity >/dev/null 2>&1 || true
	xl create -p $work/guest.cfg >/dev/null 2>&1
	d=\$(xl domid parity)
	{ xenstore-ls -f -p /local/domain/\$d; xenstore-ls -f -p /libxl/\$d;
	  xenstore-ls -f -p \$(xenstore-read /local/domain/\$d/vm); } > $work/xl.txt
	echo \$d > $work/xl.domid
	xl destroy parity"
xl_id=$(cat "$work/xl.domid")

sim=$build/tools/sim/xvio-sim
export XVIO_SIM_DIR=$(mktemp -d /tmp/xvio-parity-XXXXXX)
"$sim" start
trap '"$sim" stop >/dev/null 2>&1; rm -rf "$XVIO_SIM_DIR"' EXIT
"$sim" create "$work/guest.cfg" >/dev/null 2>&1
sim_id=$("$sim" domid parity)
"$sim" exec 0 -- sh -c "xenstore-ls -f -p /local/domain/$sim_id; xenstore-ls -f -p /libxl/$sim_id;
	xenstore-ls -f -p \$(xenstore-read /local/domain/$sim_id/vm)" > "$work/sim.txt"

normalise "$xl_id" < "$work/xl.txt" > "$work/xl.norm"
normalise "$sim_id" < "$work/sim.txt" > "$work/sim.norm"
if diff -u "$work/xl.norm" "$work/sim.norm"; then
	echo "ok: $(wc -l < "$work/sim.norm") nodes, same paths and permissions"
else
	echo "FAIL: xvio-sim create differs from xl create (- xl, + xvio-sim)" >&2
	exit 1
fi
