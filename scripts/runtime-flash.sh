#!/usr/bin/env bash
# The runtime's flash footprint on a Cortex-M4F, measured (not estimated):
# builds firmware-examples/flash-size three times (release: opt-level "s",
# fat LTO, panic = abort, like the firmware example) and prints the load
# image (.vector_table + .text + .rodata + .data) of each and the difference
# to the baseline build without the runtime:
#   baseline  vector table, cortex-m-rt start-up, spin-loop panic handler
#   score     + Model::from_bytes + anomaly_score (what an anomaly-scoring app links),
#             runtime without its default `reconstruction` feature (energy-scored
#             files only, the default since format version 2)
#   score,mixture          the same with Gaussian-mixture energy bases (runtime feature `mixture`)
#   score,reconstruction   the same with the reconstruction score too
#   full,reconstruction    + is_anomaly, verdict, tail_probability, sample
#   stream    from_bytes + WindowScorer::push_score + FieldCalibration (observe,
#             is_anomaly): a streaming app (scores through the window scorer),
#             without `reconstruction`
# No model bytes are in any image (the file comes through black_box); the
# difference is runtime code + its constants + the compiler builtins it pulls
# in (memcpy / memset, soft helpers). RAM is not measured here (see
# scripts/firmware-report.sh).
#
# TARGETS (comma-separated, default m4f): other MCU families (scripts/lib.sh
# mcu_target: m0 m3 m4f m7 m33 m55 rv32) are built with `--target` and their
# `-C target-cpu` (rv32: riscv32imac-unknown-none-elf with riscv-rt, whose
# start-up and trap entry replace the vector table in the baseline); with
# more than one, one table with a runtime column per target (bytes the
# runtime adds).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=lib.sh
source "$root/scripts/lib.sh"
cd "$root/firmware-examples/flash-size"
target_root=${CARGO_TARGET_DIR:-$root/firmware-examples/target}
if command -v llvm-size >/dev/null; then sizecmd=llvm-size; else sizecmd=size; fi
builds=("" score score,mixture score,reconstruction full,reconstruction stream)
IFS=, read -r -a targets <<<"${TARGETS:-m4f}"
declare -A SIZE
for t in "${targets[@]}"; do
  mcu_target "$t" || { echo "runtime-flash: unknown target $t (one of: $MCU_FAMILIES)" >&2; exit 2; }
  ensure_target "$RUST_TARGET"
  for f in "${builds[@]}"; do
    if [ "$t" = m4f ]; then
      # The firmware examples' build: the package's own config (target, link args).
      CARGO_TARGET_DIR=$target_root cargo build --release --locked -q ${f:+--features "$f"}
      elf=$target_root/thumbv7em-none-eabihf/release/flash-size
    else
      CARGO_TARGET_DIR=$target_root/xt/flash-$t \
        RUSTFLAGS="$MCU_RUSTFLAGS" \
        cargo build --release --locked -q --target "$RUST_TARGET" ${f:+--features "$f"}
      elf=$target_root/xt/flash-$t/$RUST_TARGET/release/flash-size
    fi
    SIZE[$t,$f]=$("$sizecmd" -A "$elf" | awk '$1 == ".vector_table" || $1 == ".text" || $1 == ".rodata" || $1 == ".data" { s += $2 } END { print s }')
  done
done
if [ "${#targets[@]}" -eq 1 ]; then
  t=${targets[0]}
  echo "| build | flash image (bytes) | runtime (bytes) |"
  echo "|---|---:|---:|"
  for f in "${builds[@]}"; do
    echo "| ${f:-baseline (no runtime)} | ${SIZE[$t,$f]} | $((SIZE[$t,$f] - SIZE[$t,])) |"
  done
else
  head="| build (runtime bytes) |"; rule="|---|"
  for t in "${targets[@]}"; do head+=" $t |"; rule+="---:|"; done
  echo "$head"; echo "$rule"
  for f in "${builds[@]}"; do
    row="| ${f:-baseline (image bytes without the runtime)} |"
    for t in "${targets[@]}"; do
      if [ -z "$f" ]; then row+=" ${SIZE[$t,]} |"; else row+=" $((SIZE[$t,$f] - SIZE[$t,])) |"; fi
    done
    echo "$row"
  done
fi
