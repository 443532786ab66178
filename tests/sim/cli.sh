#!/bin/bash
# Command-line tests of xvio-sim, one behaviour per case: tests/sim/cli.sh CASE
# Each case starts its own simulator in a fresh state directory and checks
# what a user would see, with the real xenstore-* tools as the observer.
set -euo pipefail

SIM_TMP_PREFIX=xvio-cli
# shellcheck source=SCRIPTDIR/../lib/sim.sh
source "$(dirname "$0")/../lib/sim.sh"

start() { "$SIM" start >/dev/null || fail "start failed"; }

write_cfg() { # name memory [extra lines...]
	local f=$DIR/$1.cfg; shift
	printf '%s\n' "$@" > "$f"
	echo "$f"
}

create() { # cfg [overrides] -> prints domid
	local out
	out=$("$SIM" create "$@" 2>/dev/null) || return 1
	sed -n 's/.*(id \([0-9]*\)).*/\1/p' <<<"$out"
}

case "$case_name" in
help)
	"$SIM" --help | grep -q "^usage: xvio-sim" || fail "main --help"
	"$SIM" create --help | grep -q -- "--no-blkfront" || fail "create --help: no --no-blkfront"
	"$SIM" create --help | grep -q -- "--blkfront PLUGIN" || fail "create --help: no --blkfront"
	for c in start stop create destroy shutdown list domid exec; do
		"$SIM" "$c" --help | grep -q "^usage: xvio-sim $c" || fail "$c --help"
	done
	if "$SIM" frobnicate 2>/dev/null; then fail "unknown command accepted"; fi
	;;

start-stop)
	start
	[ -S "$DIR/control.sock" ] || fail "no control socket"
	[ -S "$DIR/dom0/xenstored.sock" ] || fail "no dom0 xenstore socket"
	[ -S "$DIR/dom0/hyp.sock" ] || fail "no dom0 hypervisor socket"
	pid=$(cat "$DIR/pid")
	kill -0 "$pid" || fail "daemon not running"
	if "$SIM" start 2>/dev/null; then fail "second start in the same directory succeeded"; fi
	"$SIM" stop || fail "stop failed"
	for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
	if kill -0 "$pid" 2>/dev/null; then fail "daemon still running after stop"; fi
	[ ! -e "$DIR/control.sock" ] || fail "control socket left behind"
	[ ! -e "$DIR/dom0" ] || fail "dom0 directory left behind"
	if "$SIM" stop 2>/dev/null; then fail "stop without a simulator succeeded"; fi
	;;

dom0-nodes)
	start
	expect_eq "$(dom0 xenstore-read /local/domain/0/name)" "Domain-0" "dom0 name"
	expect_eq "$(dom0 xenstore-read /local/domain/0/domid)" "0" "dom0 domid"
	;;

create-nodes)
	start
	cfg=$(write_cfg g1 'name = "guest1"' 'memory = 48' 'maxmem = 64' 'vcpus = 2' \
	      'uuid = "6a9b2c3d-1111-2222-3333-444455556666"')
	id=$(create "$cfg") || fail "create failed"
	[ "$id" -ge 1 ] || fail "bad domid '$id'"
	d=/local/domain/$id
	expect_eq "$(dom0 xenstore-read $d/name)" guest1 "name"
	expect_eq "$(dom0 xenstore-read $d/domid)" "$id" "domid"
	expect_eq "$(dom0 xenstore-read $d/memory/target)" 49152 "memory/target (KiB)"
	expect_eq "$(dom0 xenstore-read $d/memory/static-max)" 65536 "memory/static-max (KiB)"
	expect_eq "$(dom0 xenstore-read $d/vm)" /vm/6a9b2c3d-1111-2222-3333-444455556666 "vm"
	expect_eq "$(dom0 xenstore-read /vm/6a9b2c3d-1111-2222-3333-444455556666/name)" guest1 "vm name"
	expect_eq "$(dom0 xenstore-read $d/cpu/1/availability)" online "vcpu 1"
	expect_eq "$(dom0 xenstore-read $d/control/platform-feature-xs_reset_watches)" 1 "xs_reset_watches"
	expect_eq "$(dom0 xenstore-read $d/memory/videoram)" 0 "memory/videoram"
	expect_eq "$(dom0 xenstore-read /libxl/$id/type)" pv "libxl type"
	# Permissions as libxl 4.17 sets them (seen with xl create on Xen): the
	# domain path and device/ are dom0's, readable by the guest;
	# control/shutdown and data/ belong to the guest.
	perm_of() { dom0 xenstore-ls -p "$(dirname "$1")" | sed -n "s/^$(basename "$1") = \"[^\"]*\"[^(]*(\(.*\))\$/\1/p"; }
	expect_eq "$(perm_of $d/device)" "n0,r$id" "device perms"
	expect_eq "$(perm_of $d/control/shutdown)" "n$id" "control/shutdown perms"
	expect_eq "$(perm_of $d/data)" "n$id" "data perms"
	expect_eq "$(perm_of $d/memory)" "n0,r$id" "memory perms"
	perms=$(dom0 xenstore-ls -p /local/domain | sed -n "s/^$id = \"\"[^(]*(\(.*\))\$/\1/p")
	expect_eq "$perms" "n0,r$id" "domain path perms"
	dom0 xenstore-exists /libxl/$id || fail "/libxl/$id missing"
	"$SIM" list | grep -Eq "^guest1 +$id " || fail "list does not show guest1"
	expect_eq "$("$SIM" domid guest1)" "$id" "domid command"
	;;

create-overrides)
	start
	cfg=$(write_cfg g2 'name = "guest2"' 'memory = 32')
	id=$(create "$cfg" 'memory=40' 'maxmem=80') || fail "create failed"
	expect_eq "$(dom0 xenstore-read /local/domain/$id/memory/target)" 40960 "override memory"
	expect_eq "$(dom0 xenstore-read /local/domain/$id/memory/static-max)" 81920 "override maxmem"
	;;

create-errors)
	start
	check_refused() { # cfg message-pattern
		local err
		if err=$("$SIM" create "$1" 2>&1 >/dev/null); then fail "accepted: $(cat "$1")"; fi
		grep -q "$2" <<<"$err" || fail "message '$err' does not mention '$2'"
	}
	check_refused "$(write_cfg e1 'memory = 32')" "name"
	check_refused "$(write_cfg e2 'name = "x"' 'memory = 64' 'maxmem = 32')" "maxmem"
	check_refused "$(write_cfg e3 'name = "x"' 'memory = "lots"')" "memory"
	check_refused "$(write_cfg e3b 'name = "x"' 'memory = 70000')" "memory"
	check_refused "$(write_cfg e3c 'name = "x"' 'vcpus = 0')" "vcpus"
	check_refused "$(write_cfg e4 'name = "x"' 'uuid = "nope"')" "uuid"
	check_refused "$(write_cfg e5 'name = "a/b"')" "name"
	check_refused "$(write_cfg e6 'name = "x" memory = ')" "parse"
	check_refused "$DIR/does-not-exist.cfg" "cannot read config"
	id=$(create "$(write_cfg ok 'name = "dup"')") || fail "create failed"
	check_refused "$(write_cfg ok2 'name = "dup"')" "already exists"
	# nothing half-made is left behind by the refusals
	n=$("$SIM" list | tail -n +2 | wc -l)
	expect_eq "$n" 2 "domains after refusals (Domain-0 and dup)"
	;;

exec-env)
	start
	id=$(create "$(write_cfg g3 'name = "guest3"')") || fail "create failed"
	# a relative path is relative to the domain's home
	expect_eq "$("$SIM" exec guest3 -- xenstore-read name)" guest3 "relative read"
	expect_eq "$("$SIM" exec guest3 -- sh -c 'echo $XVIO_DOMID $XVIO_PLATFORM')" "$id sim" "environment"
	# dom0's nodes are not the guest's to read
	if "$SIM" exec guest3 -- xenstore-read /local/domain/0/name 2>/dev/null; then
		fail "guest read dom0's name"
	fi
	"$SIM" exec guest3 -- xenstore-write data/x 1 || fail "guest cannot write its own data/"
	if "$SIM" exec guest3 -- xenstore-write device/x 1 2>/dev/null; then
		fail "guest wrote under device/, which libxl keeps for dom0"
	fi
	if "$SIM" exec guest3 -- xenstore-write /local/domain/$id/name evil 2>/dev/null; then
		fail "guest rewrote its own name"
	fi
	if "$SIM" exec nosuch -- true 2>/dev/null; then fail "exec in unknown domain"; fi
	"$SIM" exec guest3 -- sh -c 'exit 7' && fail "exit status lost" || rc=$?
	expect_eq "$rc" 7 "exit status passes through"
	;;

destroy)
	start
	id=$(create "$(write_cfg g4 'name = "guest4"' 'uuid = "00000000-0000-0000-0000-00000000abcd"')") ||
		fail "create failed"
	"$SIM" exec guest4 -- sleep 1000 &
	sleeper=$!
	dom0 xenstore-watch -n 2 @releaseDomain > "$DIR/watch.out" &
	watcher=$!
	sleep 0.5
	"$SIM" destroy guest4 || fail "destroy failed"
	wait "$watcher" || fail "no @releaseDomain event"
	grep -q "@releaseDomain" "$DIR/watch.out" || fail "watch output: $(cat "$DIR/watch.out")"
	for _ in $(seq 100); do kill -0 "$sleeper" 2>/dev/null || break; sleep 0.05; done
	if kill -0 "$sleeper" 2>/dev/null; then fail "the domain's process survived destroy"; fi
	if dom0 xenstore-exists /local/domain/$id; then fail "/local/domain/$id left behind"; fi
	if dom0 xenstore-exists /vm/00000000-0000-0000-0000-00000000abcd; then fail "/vm left behind"; fi
	if dom0 xenstore-exists /libxl/$id; then fail "/libxl/$id left behind"; fi
	if "$SIM" list | grep -q guest4; then fail "still listed"; fi
	if "$SIM" destroy guest4 2>/dev/null; then fail "destroyed twice"; fi
	if "$SIM" destroy 0 2>/dev/null; then fail "destroyed dom0"; fi
	[ ! -e "$DIR/dom$id" ] || fail "domain's socket directory left behind"
	;;

destroy-escapees)
	# Children that outlive their parent, or leave its process group, still
	# ran in the domain: destroy must stop them too (Xen stops all vCPUs).
	start
	create "$(write_cfg g6 'name = "guest6"')" >/dev/null || fail "create failed"
	"$SIM" exec guest6 -- sh -c "sleep 300 & echo \$! > $DIR/orphan; exit 0" ||
		fail "exec failed"
	"$SIM" exec guest6 -- sh -c "setsid sleep 300 & echo \$! > $DIR/session; exit 0" ||
		fail "exec failed"
	orphan=$(cat "$DIR/orphan"); session=$(cat "$DIR/session")
	kill -0 "$orphan" && kill -0 "$session" || fail "test setup: sleepers not running"
	"$SIM" destroy guest6 || fail "destroy failed"
	# dead means gone or a zombie (whoever adopted it may reap it late)
	alive() { [ -e /proc/$1/stat ] && [ "$(cut -d' ' -f3 /proc/$1/stat)" != Z ]; }
	if alive "$orphan"; then fail "an orphaned child survived destroy"; fi
	if alive "$session"; then fail "a child in its own session survived destroy"; fi
	;;

list-many)
	# More domains than one control reply carries (128).
	start
	for i in $(seq 1 140); do
		printf 'name = "m%d"\nmemory = 1\n' "$i" > "$DIR/m.cfg"
		"$SIM" create "$DIR/m.cfg" >/dev/null 2>&1 || fail "create m$i failed"
	done
	n=$("$SIM" list | tail -n +2 | wc -l)
	expect_eq "$n" 141 "domains listed (Domain-0 and 140)"
	last=$("$SIM" domid m140)
	"$SIM" destroy "$last" || fail "destroy by id $last failed"
	if "$SIM" list | grep -q "^m140 "; then fail "m140 still listed"; fi
	;;

shutdown)
	start
	id=$(create "$(write_cfg g5 'name = "guest5"')") || fail "create failed"
	dom0 xenstore-watch -n 2 @releaseDomain > "$DIR/watch.out" &
	watcher=$!
	sleep 0.5
	"$SIM" shutdown guest5 || fail "shutdown failed"
	wait "$watcher" || fail "no @releaseDomain event"
	"$SIM" list | grep -Eq "^guest5 +$id +[0-9]+ +-s" || fail "not shown as shut down: $("$SIM" list)"
	;;

demo)
	# the README's main job, in miniature: grant + event channel between domains
	DEMO=${XVIO_DEMO:?}
	start
	id=$(create "$(write_cfg d 'name = "demo"')") || fail "create failed"
	"$SIM" exec demo -- "$DEMO" guest 0 > "$DIR/guest.out" &
	g=$!
	"$SIM" exec 0 -- "$DEMO" dom0 "$id" > "$DIR/dom0.out" || fail "dom0 side failed"
	wait "$g" || fail "guest side failed"
	grep -q "it says: \"hello from domain $id" "$DIR/dom0.out" || fail "dom0 did not read the page: $(cat "$DIR/dom0.out")"
	grep -q "dom0 wrote: \"hello domain $id, dom0 read your page\"" "$DIR/guest.out" ||
		fail "guest did not see the answer: $(cat "$DIR/guest.out")"
	grep -q "grant ended" "$DIR/guest.out" || fail "grant not ended"
	;;

disk-nodes)
	# The nodes libxl 4.17's device_disk_add writes, key by key, with
	# libxl__device_generic_add's permissions (--no-blkfront: no nbdkit).
	start
	img=$DIR/a.img; iso=$DIR/b.iso
	truncate -s 1M "$img" "$iso"
	cfg=$(write_cfg dn 'name = "dn"' "disk = [ 'vdev=xvdb, backendtype=standalone, specification=virtio, target=$img'," \
	      "'vdev=hdc, specification=virtio, devtype=cdrom, target=$iso'," \
	      "'vdev=xvdaa, backendtype=standalone, specification=virtio, access=r, direct-io-safe, target=$img'," \
	      "'vdev=d20p3, backendtype=standalone, specification=virtio, no-discard, target=$img' ]")
	id=$(create --no-blkfront "$cfg") || fail "create failed: $("$SIM" create --no-blkfront "$cfg" 2>&1)"
	flat() { dom0 xenstore-ls -p "$1" | sed -E 's/^ *([^ ]+) = "(.*)"[ .]*\((.*)\)$/\1=\2 (\3)/' | sort; }
	be_expect() { # devid vdev mode device-type removable discard [direct-io-safe]
		local p="(n0,r$id)"
		{
			echo "frontend=/local/domain/$id/device/virtio_disk/$1 $p"
			echo "params=$7 $p"; echo "frontend-id=$id $p"; echo "online=1 $p"
			echo "removable=$5 $p"; echo "bootable=1 $p"; echo "state=1 $p"; echo "dev=$2 $p"
			echo "type=standalone $p"; echo "mode=$3 $p"; echo "device-type=$4 $p"
			[ -z "${8:-}" ] || echo "direct-io-safe=1 $p"
			echo "discard-enable=$6 $p"; echo "specification=virtio $p"
			echo "transport=mmio $p"; echo "base=0 $p"; echo "irq=0 $p"
		} | sort
	}
	fe_expect() { # devid device-type
		local p="(n$id,r0)"
		{
			echo "backend=/local/domain/0/backend/virtio_disk/$id/$1 $p"; echo "backend-id=0 $p"
			echo "state=1 $p"; echo "virtual-device=$1 $p"; echo "device-type=$2 $p"
			echo "trusted=1 $p"; echo "protocol=x86_64-abi $p"
		} | sort
	}
	check_disk() { # devid vdev mode device-type removable discard params [dio]
		local be=/local/domain/0/backend/virtio_disk/$id/$1 fe=/local/domain/$id/device/virtio_disk/$1
		diff <(be_expect "$@") <(flat "$be") >&2 || fail "backend nodes of $2 differ (< expected)"
		diff <(fe_expect "$1" "$4") <(flat "$fe") >&2 || fail "frontend nodes of $2 differ (< expected)"
		# libxl's own copy: the cross links and the backend keys, dom0's only
		diff <({ be_expect "$@" | grep -v '^frontend='; echo "frontend=$fe (n0)"; echo "backend=$be (n0)"; } |
		       sed "s/ (n0,r$id)\$/ (n0)/" | sort) <(flat /libxl/$id/device/virtio_disk/$1) >&2 ||
			fail "libxl copy of $2 differs (< expected)"
		perms=$(dom0 xenstore-ls -p /local/domain/$id/device/virtio_disk | sed -n "s/^$1 = \"\"[^(]*(\(.*\))\$/\1/p")
		expect_eq "$perms" "n$id,r0" "frontend directory perms of $2"
		perms=$(dom0 xenstore-ls -p /local/domain/0/backend/virtio_disk/$id | sed -n "s/^$1 = \"\"[^(]*(\(.*\))\$/\1/p")
		expect_eq "$perms" "n0,r$id" "backend directory perms of $2"
	}
	check_disk 51728 xvdb w disk 0 1 "$img"
	check_disk 5632 hdc r cdrom 1 0 "$iso"
	check_disk 268442112 xvdaa r disk 0 0 "$img" dio
	check_disk 268440579 d20p3 w disk 0 0 "$img"
	n=$(dom0 xenstore-list /local/domain/$id/device/virtio_disk | wc -l)
	expect_eq "$n" 4 "frontend devices"
	[ ! -e "$DIR/dom$id/nbd.sock" ] && [ ! -e "$DIR/dom$id/nbdkit.log" ] ||
		fail "--no-blkfront started nbdkit"
	;;

disk-devids)
	# libxl__device_disk_dev_number, seen through create -n
	devid_of() {
		printf 'name = "v"\ndisk = [ "vdev=%s, specification=virtio, target=%s" ]\n' "$1" "$DIR/v.img" > "$DIR/v.cfg"
		"$SIM" create -n "$DIR/v.cfg" 2>&1 | sed -n 's/^disk=.* devid=\([0-9]*\) .*/\1/p;s/.*\(is not a virtual disk identifier\).*/refused/p'
	}
	truncate -s 1M "$DIR/v.img"
	while read -r vdev want; do
		expect_eq "$(devid_of "$vdev")" "$want" "devid of $vdev"
	done <<-EOF
	xvda 51712
	xvdb 51728
	xvdp15 51967
	xvdq 268439552
	xvda16 268435472
	xvdaa 268442112
	d0p0 51712
	d1p2 51730
	d20p3 268440579
	hda 768
	hdb1 833
	hdc 5632
	hdd63 5759
	sda 2048
	sdb2 2066
	sdp15 2303
	51728 51728
	0x10 16
	xvd refused
	xvda0 refused
	xvda256 refused
	xvdA refused
	hde refused
	hda64 refused
	sdq refused
	sda16 refused
	vda refused
	d-1p0 refused
	d1p256 refused
	EOF
	;;

disk-refused)
	# Anything but a raw standalone virtio disk is refused before a domain
	# exists, with the entry and the reason in the message.
	start
	truncate -s 1M "$DIR/ok.img"; mkdir "$DIR/adir"
	check_refused() { # disk-entry message-pattern
		local err
		write_cfg r 'name = "r"' "disk = [ '$1' ]" >/dev/null
		if err=$("$SIM" create --no-blkfront "$DIR/r.cfg" 2>&1 >/dev/null); then fail "accepted: $1"; fi
		grep -q -- "$2" <<<"$err" || fail "message '$err' does not mention '$2'"
	}
	v="backendtype=standalone, specification=virtio"
	check_refused "vdev=xvdb, backendtype=phy, target=$DIR/ok.img" "backendtype=phy"
	check_refused "vdev=xvdb, backendtype=qdisk, target=$DIR/ok.img" "backendtype=qdisk"
	check_refused "vdev=xvdb, backendtype=tap, target=$DIR/ok.img" "backendtype=tap"
	check_refused "$DIR/ok.img,raw,xvdb,rw" "specification=xen"
	check_refused "vdev=xvdb, specification=xen, target=$DIR/ok.img" "specification=xen"
	check_refused "vdev=xvdb, $v, format=qcow2, target=$DIR/ok.img" "format=qcow2"
	check_refused "vdev=xvdb, $v, devtype=cdrom" "empty cdrom"
	check_refused "vdev=xvdb, $v, target=$DIR/missing.img" "missing.img: No such file"
	check_refused "vdev=xvdb, $v, target=$DIR/adir" "neither a regular file nor a block device"
	check_refused "vdev=xvd, $v, target=$DIR/ok.img" "vdev=xvd is not"
	check_refused "vdev=xvdb, $v, bogus=1, target=$DIR/ok.img" "does not parse"
	check_refused "vdev=xvdb, $v, backend=nosuch, target=$DIR/ok.img" "no backend domain nosuch"
	write_cfg r2 'name = "r2"' "disk = [ 'vdev=xvdb, $v, target=$DIR/ok.img', 'vdev=d1p0, $v, target=$DIR/ok.img' ]" >/dev/null
	err=$("$SIM" create --no-blkfront "$DIR/r2.cfg" 2>&1 >/dev/null) && fail "duplicate device accepted"
	grep -q "already used by entry 0" <<<"$err" || fail "duplicate: '$err'"
	check_refused "vdev=xvdb, backendtype=phy, target=$DIR/ok.img" "disk entry 0 (.*): .*only serves raw virtio disks"
	n=$("$SIM" list | tail -n +2 | wc -l)
	expect_eq "$n" 1 "domains after refusals (Domain-0 only)"
	if dom0 xenstore-exists /local/domain/0/backend; then fail "backend nodes left behind"; fi
	;;

disk-guest-access)
	start
	truncate -s 1M "$DIR/g.img"
	id=$(create --no-blkfront "$(write_cfg ga 'name = "ga"' \
	     "disk = [ 'vdev=xvdb, backendtype=standalone, specification=virtio, target=$DIR/g.img' ]")") ||
		fail "create failed"
	"$SIM" exec ga -- xenstore-write device/virtio_disk/51728/state 3 ||
		fail "the guest cannot write its frontend state"
	"$SIM" exec ga -- xenstore-write device/virtio_disk/51728/ring-ref 8 ||
		fail "the guest cannot add keys to its frontend"
	expect_eq "$("$SIM" exec ga -- xenstore-read /local/domain/0/backend/virtio_disk/$id/51728/mode)" w \
		"the guest reads its backend"
	if "$SIM" exec ga -- xenstore-write /local/domain/0/backend/virtio_disk/$id/51728/state 4 2>/dev/null; then
		fail "the guest wrote its backend's state"
	fi
	if "$SIM" exec ga -- xenstore-write /libxl/$id/device/virtio_disk/51728/mode r 2>/dev/null; then
		fail "the guest wrote libxl's copy"
	fi
	;;

disk-destroy)
	# libxl's forced removal: frontend gone, online=0 and state=5 in one
	# transaction, up to 10 s for the backend's Closed, then every directory.
	start
	truncate -s 1M "$DIR/d.img"
	id=$(create --no-blkfront "$(write_cfg dd 'name = "dd"' \
	     "disk = [ 'vdev=xvdb, backendtype=standalone, specification=virtio, target=$DIR/d.img'," \
	     "'vdev=xvdc, backendtype=standalone, specification=virtio, target=$DIR/d.img' ]")") ||
		fail "create failed"
	be=/local/domain/0/backend/virtio_disk/$id
	dom0 xenstore-write $be/51728/state 4 $be/51744/state 4   # as a connected backend would
	start_ms=$(date +%s%3N)
	"$SIM" destroy dd &
	destroyer=$!
	for _ in $(seq 200); do
		[ "$(dom0 xenstore-read $be/51728/state 2>/dev/null)" = 5 ] && break
		sleep 0.02
	done
	expect_eq "$(dom0 xenstore-read $be/51728/state)" 5 "backend asked to close"
	expect_eq "$(dom0 xenstore-read $be/51728/online)" 0 "online with state 5"
	if dom0 xenstore-exists /local/domain/$id/device/virtio_disk/51728; then
		fail "frontend kept while closing"
	fi
	kill -0 "$destroyer" || fail "destroy did not wait for the backend"
	dom0 xenstore-write $be/51728/state 6 $be/51744/state 6   # the backend closes
	wait "$destroyer" || fail "destroy failed"
	took=$(( $(date +%s%3N) - start_ms ))
	[ "$took" -lt 8000 ] || fail "destroy took ${took} ms after the backend closed"
	for p in /local/domain/0/backend /libxl/$id /local/domain/$id; do
		if dom0 xenstore-exists $p; then fail "$p left behind"; fi
	done
	;;

disk-blkfront)
	# The guest's blkfront is nbdkit run inside the domain; a stand-in
	# plugin (nbdkit's null) proves where it runs and that destroy stops it.
	command -v nbdinfo >/dev/null || fail "nbdinfo (libnbd-bin) is not installed"
	plugin=$(nbdkit --dump-config | sed -n 's/^plugindir=//p')/nbdkit-null-plugin.so
	[ -f "$plugin" ] || fail "no $plugin"
	start
	truncate -s 1M "$DIR/f.img"
	cfg=$(write_cfg bf 'name = "bf"' "disk = [ 'vdev=xvdb, backendtype=standalone, specification=virtio, target=$DIR/f.img' ]")
	out=$("$SIM" create --blkfront "$plugin" "$cfg" 2>&1) || fail "create failed: $out"
	id=$("$SIM" domid bf)
	grep -q "$DIR/dom$id/nbd.sock" <<<"$out" || fail "create does not say where the socket is: $out"
	# nbdkit binds its socket before it writes its pidfile: wait for both
	# (reading the pidfile as soon as the socket appeared was a flake).
	for _ in $(seq 200); do
		[ -S "$DIR/dom$id/nbd.sock" ] && [ -s "$DIR/dom$id/nbdkit.pid" ] && break
		sleep 0.05
	done
	[ -S "$DIR/dom$id/nbd.sock" ] || fail "no NBD socket; log: $(cat "$DIR/dom$id/nbdkit.log")"
	pid=$(cat "$DIR/dom$id/nbdkit.pid")
	[[ "$pid" =~ ^[0-9]+$ ]] || fail "nbdkit.pid holds '$pid'; log: $(cat "$DIR/dom$id/nbdkit.log")"
	tr '\0' '\n' < /proc/"$pid"/environ | grep -qx "XVIO_DOMID=$id" ||
		fail "nbdkit is not in domain $id (pid '$pid': $(cat /proc/"$pid"/stat 2>&1);" \
		     "log: $(cat "$DIR/dom$id/nbdkit.log" 2>&1))"
	tr '\0' '\n' < /proc/"$pid"/environ | grep -qx "XENSTORED_PATH=$DIR/dom$id/xenstored.sock" ||
		fail "nbdkit does not talk to its domain's xenstore"
	expect_eq "$(nbdinfo --size "nbd+unix:///?socket=$DIR/dom$id/nbd.sock")" 0 "nbdinfo through the socket"
	"$SIM" destroy bf || fail "destroy failed"
	alive() { [ -e /proc/$1/stat ] && [ "$(cut -d' ' -f3 /proc/$1/stat)" != Z ]; }
	if alive "$pid"; then fail "nbdkit survived destroy"; fi
	[ ! -e "$DIR/dom$id" ] || fail "domain directory left behind: $(ls "$DIR/dom$id")"
	# a plugin that is not there, or no nbdkit: refused, nothing made
	err=$(XVIO_BLKFRONT_PLUGIN=$DIR/nope.so "$SIM" create "$cfg" 2>&1 >/dev/null) && fail "missing plugin accepted"
	grep -q "nope.so" <<<"$err" || fail "missing plugin: '$err'"
	err=$(PATH=/nonexistent "$SIM" create --blkfront "$plugin" "$cfg" 2>&1 >/dev/null) && fail "create without nbdkit"
	grep -q "nbdkit is not installed" <<<"$err" || fail "no nbdkit: '$err'"
	if "$SIM" create --blkfront "$plugin" --no-blkfront "$cfg" 2>/dev/null; then fail "both options accepted"; fi
	n=$("$SIM" list | tail -n +2 | wc -l)
	expect_eq "$n" 1 "domains after refusals (Domain-0 only)"
	# stop destroys the remaining domains: their blkfront files go too
	"$SIM" create --blkfront "$plugin" "$cfg" >/dev/null 2>&1 || fail "second create failed"
	id=$("$SIM" domid bf)
	for _ in $(seq 200); do [ -S "$DIR/dom$id/nbd.sock" ] && break; sleep 0.05; done
	[ -S "$DIR/dom$id/nbd.sock" ] || fail "no NBD socket the second time"
	"$SIM" stop || fail "stop failed"
	[ ! -e "$DIR/dom$id" ] || fail "stop left the domain directory: $(ls "$DIR/dom$id")"
	;;

*)
	fail "unknown case"
	;;
esac
echo "ok [$case_name]"
