#!/bin/sh
# SPDX-License-Identifier: MIT
# Systemd units (xvio-blkback's; the guest's socket and service, given
# together) pass `systemd-analyze verify` without a single complaint
# (verify exits 0 on unknown directives and bad values, so any output is a
# failure too).
[ $# -gt 0 ] || { echo "usage: verify-unit.sh UNIT..." >&2; exit 2; }
command -v systemd-analyze >/dev/null || { echo "systemd-analyze is not installed" >&2; exit 1; }
out=$(systemd-analyze verify "$@" 2>&1)
rc=$?
[ -n "$out" ] && printf '%s\n' "$out" >&2
[ "$rc" -eq 0 ] && [ -z "$out" ]
