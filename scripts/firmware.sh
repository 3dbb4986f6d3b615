#!/usr/bin/env bash
# Builds the Cortex-M4F firmware example (firmware-examples/cortex-m4f-anomaly)
# and runs it under QEMU (mps2-an386), decoding its defmt log with defmt-print.
#
#   scripts/firmware.sh            build + run; exits with the firmware's status
#                                  (non-zero on an error, panic, HardFault or timeout)
#   scripts/firmware.sh --check    also the parity test: runs the host runtime
#                                  (firmware-examples/host-check) on the same model
#                                  file and seeds, and compares every score and sample
#                                  bit for bit; ends with "N passed, M failed"
#
# Environment: DDAEBM_MODEL (model file to embed, default the committed
# firmware-examples/cortex-m4f-anomaly/model/default-f16.safetensors),
# QEMU_TIMEOUT (seconds, default 60), CARGO_TARGET_DIR (default
# firmware-examples/target), FIRMWARE_FEATURES (cargo features of the
# firmware, e.g. fail-panic or fail-hardfault to test the failure exits). Installs what is missing: qemu-system-arm (apt),
# the thumbv7em-none-eabihf target (rustup), defmt-print (cargo install).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=lib.sh
source "$root/scripts/lib.sh"
fw=$root/firmware-examples/cortex-m4f-anomaly
host=$root/firmware-examples/host-check
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/firmware-examples/target}
export QEMU_TIMEOUT=${QEMU_TIMEOUT:-60}

check=0
case "${1:-}" in
  "") ;;
  --check) check=1 ;;
  *) echo "usage: scripts/firmware.sh [--check]" >&2; exit 2 ;;
esac

# The model file, as an absolute path (relative paths are taken from the
# caller's directory), so the firmware's build script and host-check read
# the same file.
if [ -n "${DDAEBM_MODEL:-}" ]; then
  DDAEBM_MODEL=$(realpath "$DDAEBM_MODEL")
else
  DDAEBM_MODEL=$fw/model/default-f16.safetensors
fi
export DDAEBM_MODEL

# --- tools -------------------------------------------------------------------
if ! command -v qemu-system-arm >/dev/null; then
  echo "== installing qemu-system-arm" >&2
  apt_install qemu-system-arm
fi
ensure_target thumbv7em-none-eabihf
if ! command -v defmt-print >/dev/null; then
  # defmt-print 1.x decodes defmt 1.x and defmt 0.3 (the 0.3.100+ releases
  # are defmt 1 underneath, same wire format).
  echo "== installing defmt-print (cargo install, a few minutes once)" >&2
  cargo install defmt-print --locked --version '^1'
fi

# --- build -------------------------------------------------------------------
echo "== building firmware (release, thumbv7em-none-eabihf) with $DDAEBM_MODEL" >&2
(cd "$fw" && cargo build --release --locked ${FIRMWARE_FEATURES:+--features "$FIRMWARE_FEATURES"})
elf=$CARGO_TARGET_DIR/thumbv7em-none-eabihf/release/cortex-m4f-anomaly

# --- run ---------------------------------------------------------------------
echo "== running on qemu-system-arm -machine mps2-an386 (timeout ${QEMU_TIMEOUT} s)" >&2
log=$(mktemp)
trap 'rm -f "$log" "$log.fw" "$log.host"' EXIT
set +e
"$fw/run-qemu.sh" "$elf" | tee "$log"
status=${PIPESTATUS[0]}
set -e
if [ "$status" -ne 0 ]; then
  echo "firmware FAILED: exit status $status" >&2
  exit "$status"
fi
echo "== firmware exited with status 0" >&2
[ "$check" -eq 1 ] || exit 0

# --- parity ------------------------------------------------------------------
echo "== parity: host runtime on the same model file and seeds" >&2
(cd "$host" && cargo build --release --locked)
"$CARGO_TARGET_DIR/release/ddaebm-firmware-host-check" "$DDAEBM_MODEL" > "$log.host"
# The firmware's `cmp ...` lines, without defmt-print's level / location.
grep -o 'cmp .*' "$log" | sed 's/[[:space:]]*$//' > "$log.fw" || true
read -r passed failed < <(awk '
  NR == FNR { host[FNR] = $0; nh = FNR; next }
  { fw[FNR] = $0; nf = FNR }
  END {
    n = nh > nf ? nh : nf; p = 0; f = 0
    for (i = 1; i <= n; i++) {
      if (i in host && i in fw && host[i] == fw[i]) p++
      else { f++; printf "MISMATCH line %d\n  host:     %s\n  firmware: %s\n", i, host[i], fw[i] > "/dev/stderr" }
    }
    if (nh == 0) f++
    print p, f
  }' "$log.host" "$log.fw")
echo "firmware parity: ${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ]
