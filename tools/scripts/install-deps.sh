#!/bin/sh
# Install every build and test dependency of xvio on Debian 12 (bookworm).
# Idempotent: does nothing when everything is already there.
#   install-deps.sh          what the build and the test suite need
#   install-deps.sh fuzz     also clang and libFuzzer (tools/scripts/fuzz.sh)
set -eu

PKGS="
  build-essential gcc pkg-config meson ninja-build
  libxen-dev xenstore-utils
  liburing-dev
  nbdkit nbdkit-plugin-dev libnbd-dev libnbd-bin nbd-client fio qemu-utils
  systemd
  valgrind
  procps iproute2 util-linux
"
if [ "${1:-}" = fuzz ]; then
	PKGS="$PKGS clang libclang-rt-14-dev"
fi

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
	SUDO=""
elif command -v sudo >/dev/null 2>&1; then
	SUDO="sudo"
else
	echo "install-deps: need root (or sudo) to install:$missing" >&2
	exit 1
fi
echo "install-deps: installing:$missing"
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q
# shellcheck disable=SC2086
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing
