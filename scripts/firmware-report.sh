#!/usr/bin/env bash
# Footprint and cost report of the Cortex-M4F firmware example
# (firmware-examples/cortex-m4f-anomaly): prints ONE markdown table, a row per
# model: the committed default f32 and f16 models, plus MODEL if given.
#
#   scripts/firmware-report.sh                      the two committed models
#   scripts/firmware-report.sh runs/quickstart/model-f16.safetensors   + that one
#   scripts/firmware-report.sh A.safetensors B.safetensors ...        + each of them
#
# Per model it builds the firmware twice with DDAEBM_MODEL=the model:
#   * the normal release build: flash and RAM from `llvm-size -A` (or binutils
#     `size -A`), and the stack high-water mark the firmware logs when run
#     under QEMU (it paints the stack at start-up);
#   * the `measure` feature build (load the model, one `anomaly_score`, one
#     `sample`, each between calls to `ddaebm_marker_begin` / `_end`): run
#     under QEMU with `-d exec,nochain -singlestep` (one translation block =
#     one guest instruction, one "Trace" line each), streamed through a FIFO
#     (no trace file on disk); the instructions between the first executed
#     instruction of `ddaebm_marker_begin` and that of the following
#     `ddaebm_marker_end` are counted, minus those of an empty marker pair
#     (the markers' own overhead), so a count is: the call, its argument
#     checks, the network(s), and for a sample the RNG draws and the updates.
# MACs come from `export inspect --json`: energy = sum of out*in of the
# energy.*.weight tensors (the network; macs.energy_network); sample = T *
# sum of out*in of generator.*.weight (macs.sample).
#
# Columns: flash total = .vector_table + .text + .rodata + .data (load image);
# "flash without model" = flash total - the model file's size (the file is
# embedded verbatim in .rodata with include_bytes!); RAM = .data + .bss +
# .uninit (peak stack listed separately).
#
# Environment: CARGO_TARGET_DIR (default firmware-examples/target; the
# firmware is rebuilt per model, the dependencies stay cached), QEMU_TIMEOUT
# (seconds per QEMU run, default 600). Progress goes to stderr, the table to
# stdout. Needs what scripts/firmware.sh installs (qemu-system-arm, the
# thumbv7em-none-eabihf target, defmt-print) plus python3 and nm.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=lib.sh
source "$root/scripts/lib.sh"
fw=$root/firmware-examples/cortex-m4f-anomaly
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/firmware-examples/target}
QEMU_TIMEOUT=${QEMU_TIMEOUT:-600}
# TARGET (default m4f): the MCU family (scripts/lib.sh mcu_target: m0 m3 m4f
# m7 m33 m55 rv32), built with its rustc target and -C target-cpu, run on its
# QEMU board (rv32: qemu-system-riscv32 -machine virt); other targets than
# m4f build into CARGO_TARGET_DIR/xt/NAME.
TARGET=${TARGET:-m4f}
mcu_target "$TARGET" || { echo "firmware-report: unknown TARGET $TARGET (one of: $MCU_FAMILIES)" >&2; exit 2; }
if [ "$TARGET" = m4f ]; then
  elf=$CARGO_TARGET_DIR/thumbv7em-none-eabihf/release/cortex-m4f-anomaly
  build_env=()
else
  elf=$CARGO_TARGET_DIR/xt/$TARGET/$RUST_TARGET/release/cortex-m4f-anomaly
  build_env=(CARGO_TARGET_DIR="$CARGO_TARGET_DIR/xt/$TARGET" DDAEBM_MEMORY="$MEMORY"
    RUSTFLAGS="$MCU_RUSTFLAGS -C link-arg=-Tdefmt.x")
fi

case "${1:-}" in
  -h|--help) sed -n '2,36p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
esac
# DEFAULTS=0 leaves the two committed models out (only the ones given).
models=()
[ "${DEFAULTS:-1}" = 0 ] || models=("$fw/model/default-f32.safetensors" "$fw/model/default-f16.safetensors")
for m in "$@"; do
  [ -f "$m" ] || { echo "firmware-report: no such model file: $m (usage: scripts/firmware-report.sh [MODEL.safetensors ...])" >&2; exit 2; }
  models+=("$(realpath "$m")")
done

# --- tools -------------------------------------------------------------------
if command -v llvm-size >/dev/null; then sizecmd=llvm-size
elif command -v size >/dev/null; then sizecmd=size
else echo "firmware-report: needs llvm-size or binutils size" >&2; exit 1; fi
if command -v llvm-nm >/dev/null; then nmcmd=llvm-nm; else nmcmd=nm; fi
ensure_qemu
for t in "${QEMU_CMD[0]}" defmt-print python3 "$nmcmd"; do
  command -v "$t" >/dev/null || { echo "firmware-report: $t not found (scripts/firmware.sh installs qemu-system-arm and defmt-print)" >&2; exit 1; }
done
ensure_target "$RUST_TARGET"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

build() { # build MODEL [FEATURES] -> copies the ELF to $tmp/fw.elf
  echo "== building firmware${2:+ (--features $2)} with $(basename "$1")" >&2
  if ! (cd "$fw" && env "${build_env[@]}" DDAEBM_MODEL="$1" cargo build --release --locked -q --target "$RUST_TARGET" \
        ${2:+--features "$2"}) \
      >"$tmp/build.log" 2>&1; then
    cat "$tmp/build.log" >&2
    echo "firmware-report: build failed" >&2
    exit 1
  fi
  cp "$elf" "$tmp/fw.elf"
}

# The model facts (dtype, MACs) come from `export inspect --json`, built once
# into the host target folder (HOST_TARGET_DIR, default target/).
echo "== building export (for export inspect --json)" >&2
build_export "$root"
export_bin=$EXPORT_BIN

# Size of the ELF's section $2 ($1 = `size -A` output file), 0 if absent.
sect() { awk -v s="$2" '$1 == s { print $2; f = 1 } END { if (!f) print 0 }' "$1"; }

rows=()
start=$SECONDS
for m in "${models[@]}"; do
  # Model facts from the safetensors header: dtype, MACs.
  read -r dtype macs_e macs_s < <("$export_bin" inspect --json "$m" | python3 -c '
import json, sys
j = json.load(sys.stdin)
print(j["metadata"].get("weight_dtype", "?"), j["macs"]["energy_network"], j["macs"]["sample"])')
  file_bytes=$(stat -c %s "$m")

  # 1.+2. Normal build: sections, and the stack high-water mark of a full run.
  build "$m"
  "$sizecmd" -A "$tmp/fw.elf" >"$tmp/size.txt"
  vt=$(sect "$tmp/size.txt" .vector_table); text=$(sect "$tmp/size.txt" .text)
  ro=$(sect "$tmp/size.txt" .rodata); data=$(sect "$tmp/size.txt" .data)
  bss=$(sect "$tmp/size.txt" .bss); uninit=$(sect "$tmp/size.txt" .uninit)
  flash=$((vt + text + ro + data))
  ram=$((data + bss + uninit))
  echo "== running the firmware under QEMU (stack high-water mark)" >&2
  set +e
  qemu_mcu "$tmp/fw.elf" | defmt-print -e "$tmp/fw.elf" >"$tmp/run.log" 2>&1
  st=("${PIPESTATUS[@]}")
  set -e
  if [ "${st[0]}" -ne 0 ]; then
    cat "$tmp/run.log" >&2
    echo "firmware-report: the firmware failed with $(basename "$m") (status ${st[0]})" >&2
    exit 1
  fi
  stack=$(sed -n 's/.*stack high-water mark: \([0-9]*\) bytes.*/\1/p' "$tmp/run.log" | tail -1)
  [ -n "$stack" ] || { cat "$tmp/run.log" >&2; echo "firmware-report: no stack line" >&2; exit 1; }

  # 3. Measure build: instruction counts between the markers.
  build "$m" measure
  echo "== tracing the measure build under QEMU (-d exec,nochain -singlestep)" >&2
  if ! marker_counts "$tmp/fw.elf" "$tmp/measure.log" qemu_mcu >"$tmp/counts"; then
    cat "$tmp/measure.log" >&2
    echo "firmware-report: the measure build failed with $(basename "$m")" >&2
    exit 1
  fi
  read -r c0 c1 c2 rest <"$tmp/counts" || true
  [ -n "${c2:-}" ] || { echo "firmware-report: expected 3 marked regions, got: $(cat "$tmp/counts")" >&2; exit 1; }
  ins_e=$((c1 - c0)); ins_s=$((c2 - c0))

  ipm_e=$(awk -v a="$ins_e" -v b="$macs_e" 'BEGIN { printf "%.2f", a / b }')
  ipm_s=$(awk -v a="$ins_s" -v b="$macs_s" 'BEGIN { printf "%.2f", a / b }')
  name=${m#"$root/"}
  rows+=("| \`$name\` | $dtype | $file_bytes | $flash | $((flash - file_bytes)) | $ram | $stack | $ins_e | $macs_e | $ipm_e | $ins_s | $ipm_s |")
  echo "== $(basename "$m"): done ($((SECONDS - start)) s so far; marker overhead $c0 instructions)" >&2
done

echo "| model | weights dtype | file bytes | flash total | flash without model | RAM (.data+.bss) | peak stack | instr/energy | MACs/energy | instr/MAC (energy) | instr/sample | instr/MAC (sample) |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
printf '%s\n' "${rows[@]}"
