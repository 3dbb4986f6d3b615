#!/usr/bin/env bash
# Cargo runner (and what scripts/firmware.sh uses): boots ELF on QEMU's
# mps2-an386 (Cortex-M4F), decodes the defmt stream on stdout with
# defmt-print, and exits with the firmware's status: 0 when it ran to the
# end, non-zero on an error, panic or HardFault, 124 on timeout
# (QEMU_TIMEOUT seconds, default 60).
set -uo pipefail
elf=${1:?usage: run-qemu.sh ELF}
# shellcheck source=../../scripts/lib.sh
source "$(dirname "$0")/../../scripts/lib.sh"
qemu_m4f "$elf" | defmt-print -e "$elf"
status=("${PIPESTATUS[@]}")
[ "${status[0]}" -eq 124 ] && echo "run-qemu.sh: QEMU timed out after ${QEMU_TIMEOUT:-60} s" >&2
[ "${status[0]}" -ne 0 ] && exit "${status[0]}"
exit "${status[1]}"
