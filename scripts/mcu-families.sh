#!/usr/bin/env bash
# The per-family kernel table of docs/performance.md: for each MCU family
# (TARGETS, default m0,m3,m4f,m7,m33,m55,rv32; scripts/lib.sh mcu_target), runs
# scripts/firmware-report.sh (the anomaly firmware's measure build, counted
# under QEMU on the family's board) on the f32, f16 and int8 exports of one
# checkpoint (default runs/quickstart/checkpoint.safetensors, the 300-wide
# quickstart model: 100,444 MACs per energy call), and prints one markdown
# table: instructions per MAC of the energy call and of a sample, flash
# without the model, RAM + peak stack, per family and precision.
#
#   scripts/mcu-families.sh [CHECKPOINT]
#
# The int8 export is written with --allow-inaccurate (this table measures the
# kernels, not the model's accuracy). About 10 minutes on the 2-core machine.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=lib.sh
source "$root/scripts/lib.sh"
ckpt=${1:-$root/runs/quickstart/checkpoint.safetensors}
[ -f "$ckpt" ] || { echo "mcu-families: no checkpoint $ckpt (run the quickstart first, or pass one)" >&2; exit 2; }
IFS=, read -r -a targets <<<"${TARGETS:-m0,m3,m4f,m7,m33,m55,rv32}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
build_export "$root"
for p in f32 fp16 int8; do
  "$EXPORT_BIN" "$ckpt" "--$p" --allow-inaccurate -o "$tmp/model-$p.safetensors" >/dev/null 2>&1 ||
    "$EXPORT_BIN" "$ckpt" "--$p" -o "$tmp/model-$p.safetensors" >/dev/null
done
echo "| family (board) | weights | instr / MAC, energy | instr / MAC, sample | flash without model (bytes) | RAM + peak stack (bytes) |"
echo "|---|---|---:|---:|---:|---:|"
for t in "${targets[@]}"; do
  for p in f32 fp16 int8; do
    echo "== $t $p" >&2
    if ! DEFAULTS=0 TARGET=$t "$root/scripts/firmware-report.sh" "$tmp/model-$p.safetensors" >"$tmp/$t-$p.md" 2>"$tmp/$t-$p.err"; then
      if grep -q "will not fit in region 'FLASH'" "$tmp/$t-$p.err"; then
        size=$(stat -c %s "$tmp/model-$p.safetensors")
        mcu_target "$t"
        echo "| $t | $p | – | – | does not fit the FLASH region of common/$MEMORY (the model file alone is $size bytes) | – |"
        continue
      fi
      cat "$tmp/$t-$p.err" >&2
      exit 1
    fi
    # firmware-report's columns: model | dtype | file | flash | flash w/o model | RAM | stack |
    # instr/energy | MACs/energy | instr/MAC energy | instr/sample | instr/MAC sample
    grep "$tmp/model-" "$tmp/$t-$p.md" | awk -F'|' -v t="$t" '{
      gsub(/ /, "", $3); gsub(/ /, "", $6); gsub(/ /, "", $7); gsub(/ /, "", $8); gsub(/ /, "", $11); gsub(/ /, "", $13)
      printf "| %s | %s | %s | %s | %s | %d + %d |\n", t, $3, $11, $13, $6, $7, $8 }'
  done
done
