#!/usr/bin/env bash
# Fuzzes the runtime (runtime/fuzz) with cargo-fuzz/libFuzzer for SECONDS in
# total (default 60), half on each target:
#   load_and_run  arbitrary bytes as a model file (the checksum fixed up for
#                 inputs whose crc32 does not match), every entry point on
#                 what loads;
#   structured    the bytes drive a generator of valid-looking model files
#                 (runtime/fuzz/src/gen.rs), so loading reaches validation
#                 and the kernels; every entry point, then every x86-64
#                 kernel path against the portable reference, bit for bit.
#
#   ./scripts/fuzz.sh [SECONDS]
#
# Installs the nightly toolchain and cargo-fuzz if missing. The repo's seed
# corpora (runtime/fuzz/corpus/TARGET) are read only: libFuzzer writes new
# inputs into a temporary copy. A crash leaves its input under
# runtime/fuzz/artifacts/TARGET/ (a kernel mismatch also its model file, see
# runtime/fuzz/src/differential.rs) and makes this script exit non-zero.
# Last line: `fuzz: N passed, M failed` (one per target).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION="${1:-60}"
case "$DURATION" in
  '' | *[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 2 ;;
esac

rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/ddaebm-fuzz.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
export DDAEBM_FUZZ_REPRODUCERS="$PWD/runtime/fuzz/artifacts"
mkdir -p "$DDAEBM_FUZZ_REPRODUCERS"

passed=0
failed=0
for target in load_and_run structured; do
  seconds=$(( (DURATION + 1) / 2 ))
  SEEDS="$PWD/runtime/fuzz/corpus/$target"
  mkdir -p "$SEEDS" "$WORK/$target"
  cp -R "$SEEDS/." "$WORK/$target/"
  LOG="$WORK/$target.log"
  echo "== cargo fuzz: $target for ${seconds}s (working corpus $WORK/$target)" >&2
  status=0
  (
    cd runtime
    cargo +nightly fuzz run "$target" "$WORK/$target" "$SEEDS" -- \
      -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
      $([ "$target" = structured ] && echo "-max_len=8192 -len_control=0")
  ) >"$LOG" 2>&1 || status=$?
  grep -E '^(#[0-9]+ +(INITED|DONE))|panicked|ERROR|SUMMARY' "$LOG" >&2 || true
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$LOG" | tail -n 1)"
  secs="$(sed -n 's/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\2/p' "$LOG" | tail -n 1)"
  echo "$target: executions ${execs:-unknown} in ${secs:-?} s; corpus grew from $(ls "$SEEDS" | wc -l) to $(ls "$WORK/$target" | wc -l) inputs"
  if [ "$status" -eq 0 ] && [ -n "$execs" ]; then
    passed=$((passed + 1))
  else
    tail -n 40 "$LOG" >&2
    grep -E 'artifact_prefix|Test unit written to|model file:' "$LOG" >&2 || true
    failed=$((failed + 1))
  fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
