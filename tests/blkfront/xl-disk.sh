#!/bin/bash
# The user's path end to end, one behaviour per case: tests/blkfront/xl-disk.sh CASE
# xvio-blkback runs in dom0, `xvio-sim create` gets an xl config with a
# `disk=` line and starts the guest's blkfront (nbdkit + plugin) itself;
# standard NBD clients inside the guest see the disk.
#
#   initwait   the backend reaches InitWait well within libxl's 10 s
#   io         qemu-img/nbdcopy read a known image byte for byte; a write
#              through the guest lands in the image
#   two-disks  a read-only cdrom and a writable disk side by side, by vdev
set -euo pipefail

SIM_TMP_PREFIX=xvio-xldisk
# shellcheck source=SCRIPTDIR/../lib/sim.sh
source "$(dirname "$0")/../lib/sim.sh"

BLKBACK=${XVIO_TEST_BUILDDIR:?}/../back/xvio-blkback
[ -x "$BLKBACK" ] || fail "no $BLKBACK"
for p in nbdkit nbdinfo nbdcopy qemu-img cmp; do
	command -v "$p" >/dev/null || fail "$p is not installed"
done

"$SIM" start >/dev/null || fail "start failed"
"$SIM" exec 0 -- "$BLKBACK" >"$DIR/blkback.out" 2>"$DIR/blkback.log" &
back=$!
# dom0's processes are the host's: stopping the simulator does not kill
# them, and blkback does not notice a lost xenstore while idle.
trap 'kill "$back" 2>/dev/null || true; cleanup' EXIT
for _ in $(seq 200); do grep -q ready "$DIR/blkback.out" && break; sleep 0.05; done
grep -q ready "$DIR/blkback.out" || fail "blkback not ready: $(cat "$DIR/blkback.log")"

uri() { echo "nbd+unix:///$2?socket=$DIR/dom$1/nbd.sock"; }
guest() { "$SIM" exec "$1" -- "${@:2}"; }
wait_sock() {
	for _ in $(seq 200); do [ -S "$DIR/dom$1/nbd.sock" ] && return 0; sleep 0.05; done
	fail "no NBD socket for domain $1: $(cat "$DIR/dom$1/nbdkit.log" 2>/dev/null)"
}
alive() { kill -0 "$back" 2>/dev/null || fail "blkback died: $(cat "$DIR/blkback.log")"; }
# Under ASan the plugin is instrumented and nbdkit is not: the sanitizer
# runtimes must be preloaded into nbdkit, which inherits create's
# environment (meson.build sets BF_NBDKIT_PRELOAD in that build only).
create() {
	if [ -n "${BF_NBDKIT_PRELOAD:-}" ]; then
		LD_PRELOAD=$BF_NBDKIT_PRELOAD "$SIM" create "$@"
	else
		"$SIM" create "$@"
	fi
}

head -c $((8 << 20)) /dev/urandom >"$DIR/disk.img"

case "$case_name" in
initwait)
	cfg=$DIR/g.cfg
	printf '%s\n' 'name = "g"' 'memory = 64' \
		"disk = [ 'vdev=xvdb, backendtype=standalone, specification=virtio, target=$DIR/disk.img' ]" >"$cfg"
	t0=$(date +%s%N)
	create "$cfg" >/dev/null 2>&1 || fail "create failed"
	id=$("$SIM" domid g)
	be=/local/domain/0/backend/virtio_disk/$id/51728
	# dom0's xenstore socket directly: no process per poll.  The guest's
	# blkfront connects at once, so 2 may already be 4.
	st=
	for _ in $(seq 1000); do
		st=$(XENSTORED_PATH=$DIR/dom0/xenstored.sock xenstore-read "$be/state" 2>/dev/null || true)
		[ "$st" = 2 ] || [ "$st" = 4 ] && break
		sleep 0.01
	done
	ms=$((($(date +%s%N) - t0) / 1000000))
	[ "$st" = 2 ] || [ "$st" = 4 ] || fail "backend state '$st' after $ms ms"
	[ "$ms" -lt 5000 ] || fail "InitWait took $ms ms (libxl gives up at 10 s)"
	alive
	;;
io)
	cfg=$DIR/g.cfg
	printf '%s\n' 'name = "g"' 'memory = 64' \
		"disk = [ 'vdev=xvdb, backendtype=standalone, specification=virtio, target=$DIR/disk.img' ]" >"$cfg"
	create "$cfg" >/dev/null 2>&1 || fail "create failed"
	id=$("$SIM" domid g)
	wait_sock "$id"
	size=$(guest "$id" nbdinfo --size "$(uri "$id" xvdb)")
	expect_eq "$size" $((8 << 20)) "size seen by nbdinfo"
	guest "$id" qemu-img convert -f raw -O raw "$(uri "$id" xvdb)" "$DIR/out.img" ||
		fail "qemu-img convert failed"
	cmp "$DIR/disk.img" "$DIR/out.img" || fail "image read through the guest differs"
	head -c $((1 << 20)) /dev/urandom >"$DIR/new.img"
	guest "$id" nbdcopy "$DIR/new.img" "$(uri "$id" xvdb)" || fail "nbdcopy in failed"
	cmp -n $((1 << 20)) "$DIR/new.img" "$DIR/disk.img" || fail "write did not reach the image"
	"$SIM" destroy g || fail "destroy failed"
	alive
	;;
two-disks)
	cp "$DIR/disk.img" "$DIR/cd.iso"
	cfg=$DIR/g.cfg
	printf '%s\n' 'name = "g"' 'memory = 64' \
		"disk = [ 'vdev=xvdb, backendtype=standalone, specification=virtio, target=$DIR/disk.img'," \
		"         'vdev=xvdc, backendtype=standalone, specification=virtio, access=r, devtype=cdrom, target=$DIR/cd.iso' ]" >"$cfg"
	create "$cfg" >/dev/null 2>&1 || fail "create failed"
	id=$("$SIM" domid g)
	wait_sock "$id"
	ro=$(guest "$id" nbdinfo --can write "$(uri "$id" xvdc)" && echo yes || echo no)
	expect_eq "$ro" no "cdrom writable"
	rw=$(guest "$id" nbdinfo --can write "$(uri "$id" xvdb)" && echo yes || echo no)
	expect_eq "$rw" yes "disk writable"
	if guest "$id" nbdcopy "$DIR/disk.img" "$(uri "$id" xvdc)" 2>/dev/null; then
		fail "write to the cdrom succeeded"
	fi
	cmp "$DIR/disk.img" "$DIR/cd.iso" || fail "cdrom image changed"
	guest "$id" qemu-img convert -f raw -O raw "$(uri "$id" xvdc)" "$DIR/out.iso" ||
		fail "reading the cdrom failed"
	cmp "$DIR/cd.iso" "$DIR/out.iso" || fail "cdrom read differs"
	alive
	;;
*)
	fail "unknown case"
	;;
esac
kill "$back"
wait "$back" || true
echo "ok [$case_name]"
