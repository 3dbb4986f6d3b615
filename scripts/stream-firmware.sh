#!/usr/bin/env bash
# The streaming firmware example (firmware-examples/cortex-m4f-stream): a real,
# labelled physiological series (UCR anomaly archive #135) fed sample by sample
# through the runtime's window scorer on a Cortex-M4F under QEMU (mps2-an386),
# or another MCU family (TARGETS, below), with the int8 model trained on its
# normal part (scripts/stream-model.sh).
#
#   scripts/stream-firmware.sh            build + run; exits with the firmware's status
#   scripts/stream-firmware.sh --check    also scores the same rows on the host with
#                                         `export score` and compares every window's score
#                                         and alarm bit for bit; ends with
#                                         "stream firmware parity: N passed, M failed"
#   scripts/stream-firmware.sh --report   the footprint and cost table of the committed
#                                         int8, f16 and f32 models (markdown, on stdout):
#                                         flash, RAM, peak stack, instructions per window
#                                         (counted under QEMU between marker calls, as
#                                         scripts/firmware-report.sh does), detection
#
# TARGETS (comma-separated, default m4f): the MCU families to build and run
# it for, each on its QEMU board (scripts/lib.sh mcu_target): m0 (microbit,
# thumbv6m, no FPU), m3 (mps2-an385, thumbv7m, soft float), m4f (mps2-an386),
# m7 (mps2-an500), m33 (mps2-an505), m55 (mps3-an547, Helium), rv32
# (RISC-V riscv32imac-unknown-none-elf on qemu-system-riscv32 -machine virt,
# soft float; the same firmware, riscv-rt and defmt over RISC-V semihosting).
# --check compares every target's windows with the host; --report gives a
# row per target and precision.
#
# Environment: TARGETS, DDAEBM_MODEL (model file, default the committed
# model/ucr135-int8.safetensors), QEMU_TIMEOUT (seconds, default 300),
# CARGO_TARGET_DIR (firmware builds go to its xt/NAME; default
# firmware-examples/target). Installs what scripts/firmware.sh
# installs and the rustup targets when missing; needs python3.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=lib.sh
source "$root/scripts/lib.sh"
fw=$root/firmware-examples/cortex-m4f-stream
target_root=${CARGO_TARGET_DIR:-$root/firmware-examples/target}
export QEMU_TIMEOUT=${QEMU_TIMEOUT:-300}
IFS=, read -r -a targets <<<"${TARGETS:-m4f}"
for t in "${targets[@]}"; do
  mcu_target "$t" || { echo "stream-firmware: unknown target $t (one of: $MCU_FAMILIES)" >&2; exit 2; }
done
mode=${1:-run}
case "$mode" in
  run|--check|--report) ;;
  *) echo "usage: scripts/stream-firmware.sh [--check|--report]" >&2; exit 2 ;;
esac
model=$(realpath "${DDAEBM_MODEL:-$fw/model/ucr135-int8.safetensors}")
series=$fw/data/ucr135.csv

# Tools: the same as the anomaly example's (QEMU, target, defmt-print).
if ! command -v qemu-system-arm >/dev/null || ! command -v defmt-print >/dev/null; then
  echo "== installing the firmware tools (scripts/firmware.sh does it)" >&2
  "$root/scripts/firmware.sh" >/dev/null
fi
command -v python3 >/dev/null || { echo "stream-firmware: python3 is needed (apt install python3)" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

select_target() { # select_target NAME: sets the build variables and $elf for an MCU family
  mcu_target "$1"
  ensure_target "$RUST_TARGET"
  ensure_qemu
  dir=$target_root/xt/$1
  elf=$dir/$RUST_TARGET/release/cortex-m4f-stream
  tname=$1
}

build() { # build MODEL [FEATURES], for the selected target
  echo "== building the stream firmware for $tname ($RUST_TARGET, $TARGET_CPU)${2:+ (--features $2)} with $(basename "$1")" >&2
  (cd "$fw" && CARGO_TARGET_DIR=$dir DDAEBM_MODEL=$1 DDAEBM_MEMORY=$MEMORY \
    RUSTFLAGS="$MCU_RUSTFLAGS -C link-arg=-Tdefmt.x" \
    cargo build --release --locked -q --target "$RUST_TARGET" ${2:+--features "$2"})
}

run() { # run LOG: runs $elf on its board, the decoded defmt log in LOG; fails with the firmware's status
  set +e
  qemu_mcu "$elf" 2>"$1.err" | defmt-print -e "$elf" >"$1" 2>&1
  local status=("${PIPESTATUS[@]}")
  set -e
  if [ "${status[0]}" -ne 0 ] || [ "${status[1]}" -ne 0 ]; then
    grep -v ' cmp w ' "$1" | tail -20 >&2
    cat "$1.err" >&2
    echo "stream firmware FAILED on $tname: exit status ${status[0]} (defmt-print ${status[1]})" >&2
    exit 1
  fi
}

# The host's scores of the rows the firmware streams (it logs "streaming rows A..B").
host_scores() { # host_scores MODEL FWLOG OUTCSV
  local first
  first=$(sed -n 's/.*streaming rows \([0-9]*\)\.\..*/\1/p' "$2" | head -1)
  [ -n "$first" ] || { echo "stream-firmware: no 'streaming rows' line in the firmware log" >&2; exit 1; }
  # Header + data rows first.. (file line first + 2 on).
  { head -1 "$series"; tail -n +"$((first + 2))" "$series"; } >"$tmp/host.csv"
  build_export "$root"
  "$EXPORT_BIN" score "$1" "$tmp/host.csv" --label-column is_anomaly -o "$3" >&2
}

if [ "$mode" != --report ]; then
  failed=0
  for t in "${targets[@]}"; do
    select_target "$t"
    build "$model"
    echo "== $tname: ${QEMU_CMD[*]} (timeout ${QEMU_TIMEOUT} s)" >&2
    run "$tmp/fw-$t.log"
    grep -v ' cmp w ' "$tmp/fw-$t.log" | grep -v 'ALARM window' || true
    echo "($(grep -c 'ALARM window' "$tmp/fw-$t.log") ALARM lines and $(grep -c ' cmp w ' "$tmp/fw-$t.log") cmp lines not shown)"
    echo "== firmware exited with status 0" >&2
    [ "$mode" = --check ] || continue

    echo "== parity: export score on the host, the same rows" >&2
    [ -f "$tmp/host-scores.csv" ] || host_scores "$model" "$tmp/fw-$t.log" "$tmp/host-scores.csv"
    python3 - "$tmp/fw-$t.log" "$tmp/host-scores.csv" "$t" <<'PY' || failed=$((failed + 1))
import struct, sys
fw = [l.split(" cmp w ", 1)[1].split() for l in open(sys.argv[1]) if " cmp w " in l]
rows = open(sys.argv[2]).read().splitlines()[1:]  # score,tail_probability,anomaly,label
host = []
for k, r in enumerate(rows):
    c = r.split(",")
    # export prints the f32 score widened to f64, exactly: one rounding back is the f32.
    host.append([str(k), "%08x" % struct.unpack("<I", struct.pack("<f", float(c[0])))[0], c[2]])
passed = sum(a == b for a, b in zip(fw, host))
failed = max(len(fw), len(host)) - passed
for a, b in zip(fw, host):
    if a != b:
        print("MISMATCH window %s: firmware %s host %s" % (a[0], " ".join(a[1:]), " ".join(b[1:])), file=sys.stderr)
        break
if len(fw) != len(host) or not fw:
    print("window counts differ or empty: firmware %d, host %d" % (len(fw), len(host)), file=sys.stderr)
print("stream firmware parity (%s): %d passed, %d failed (windows: score bits and alarm)" % (sys.argv[3], passed, failed))
sys.exit(1 if failed else 0)
PY
  done
  exit $((failed > 0))
fi

# --- report ---------------------------------------------------------------------
if command -v llvm-size >/dev/null; then sizecmd=llvm-size; else sizecmd=size; fi
sect() { awk -v s="$2" '$1 == s { print $2; f = 1 } END { if (!f) print 0 }' "$1"; }
build_export "$root"
series_bytes=$(( $(tail -n +2 "$series" | wc -l) - 1200 ))
series_bytes=$((series_bytes * 4))
rows=()
for t in "${targets[@]}"; do
select_target "$t"
for p in int8 f16 f32; do
  m=$fw/model/ucr135-$p.safetensors
  file_bytes=$(stat -c %s "$m")
  macs=$("$EXPORT_BIN" inspect "$m" | sed -n 's/.*energy: \([0-9]*\) multiply-accumulates.*/\1/p')
  build "$m"
  "$sizecmd" -A "$elf" >"$tmp/size.txt"
  flash=$(( $(sect "$tmp/size.txt" .vector_table) + $(sect "$tmp/size.txt" .text) + $(sect "$tmp/size.txt" .rodata) + $(sect "$tmp/size.txt" .data) ))
  ram=$(( $(sect "$tmp/size.txt" .data) + $(sect "$tmp/size.txt" .bss) + $(sect "$tmp/size.txt" .uninit) ))
  run "$tmp/run.log"
  stack=$(sed -n 's/.*stack high-water mark: \([0-9]*\) bytes.*/\1/p' "$tmp/run.log" | tail -1)
  detect=$(sed -n 's/.*calibrated threshold [^:]*: \([0-9]*\) of \([0-9]*\) labelled event(s) found, [0-9]* alarm windows, \([0-9]*\) false alarm windows in \([0-9]*\) episode.*/\1 of \2, \3 (\4)/p' "$tmp/run.log")
  field=$(sed -n 's/.*field threshold [^:]*: \([0-9]*\) of \([0-9]*\) labelled event(s) found, [0-9]* alarm windows, \([0-9]*\) false alarm windows in \([0-9]*\) episode.*/\1 of \2, \3 (\4)/p' "$tmp/run.log")
  windows=$(sed -n 's/.* \([0-9]*\) windows scored.*/\1/p' "$tmp/run.log")

  build "$m" measure
  echo "== tracing the measure build under QEMU (-d exec,nochain -singlestep)" >&2
  if ! marker_counts "$elf" "$tmp/measure.log" qemu_mcu >"$tmp/counts"; then
    cat "$tmp/measure.log" >&2
    echo "stream-firmware: the measure build failed" >&2
    exit 1
  fi
  read -r c0 c1 c2 c3 _ <"$tmp/counts" || true
  [ -n "${c3:-}" ] || { echo "stream-firmware: expected 4 marked regions, got: $(cat "$tmp/counts")" >&2; exit 1; }
  win=$((c1 - c0)); push=$((c2 - c0)); fieldstep=$((c3 - c0))
  ipm=$(awk -v a="$win" -v b="$macs" 'BEGIN { printf "%.2f", a / b }')
  rows+=("| $t | $p | $file_bytes | $flash | $((flash - file_bytes - series_bytes)) | $ram | $stack | $win | $macs | $ipm | $push | $fieldstep | $windows | $detect | $field |")
done
done
echo "| target | weights | model file (bytes) | flash total | flash without model and series | RAM (.data+.bss) | peak stack | instructions / window | MACs / window | instructions / MAC | instructions / sample pushed | field calibration step | windows | calibrated threshold: events found, false-alarm windows (episodes) | field threshold (after 1,000 windows): events found, false-alarm windows (episodes) |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|"
printf '%s\n' "${rows[@]}"
