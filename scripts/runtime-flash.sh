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
#   score,reconstruction   the same with the runtime's default features (both scores)
#   full,reconstruction    + is_anomaly, verdict, tail_probability, sample
#   stream    from_bytes + WindowScorer::push_score + FieldCalibration (observe,
#             is_anomaly): a streaming app (scores through the window scorer),
#             without `reconstruction`
# No model bytes are in any image (the file comes through black_box); the
# difference is runtime code + its constants + the compiler builtins it pulls
# in (memcpy / memset, soft helpers). RAM is not measured here (see
# scripts/firmware-report.sh).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root/firmware-examples/flash-size"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/firmware-examples/target}
if command -v llvm-size >/dev/null; then sizecmd=llvm-size; else sizecmd=size; fi
elf=$CARGO_TARGET_DIR/thumbv7em-none-eabihf/release/flash-size
image() {
  "$sizecmd" -A "$elf" | awk '$1 == ".vector_table" || $1 == ".text" || $1 == ".rodata" || $1 == ".data" { s += $2 } END { print s }'
}
echo "| build | flash image (bytes) | runtime (bytes) |"
echo "|---|---:|---:|"
base=
for f in "" score score,reconstruction full,reconstruction stream; do
  cargo build --release --locked -q ${f:+--features "$f"}
  n=$(image)
  [ -n "$base" ] || base=$n
  echo "| ${f:-baseline (no runtime)} | $n | $((n - base)) |"
done
