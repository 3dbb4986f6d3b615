#!/usr/bin/env bash
# Fuzzes the runtime's loader and every entry point (target `load_and_run`,
# runtime/fuzz) for DURATION seconds (default 60) with cargo-fuzz/libFuzzer.
#
#   ./scripts/fuzz.sh [SECONDS]
#
# Installs the nightly toolchain and cargo-fuzz if missing. The repo's seed
# corpus (runtime/fuzz/corpus/load_and_run) is read only: libFuzzer writes
# new inputs into a temporary copy. A crash leaves its input under
# runtime/fuzz/artifacts/load_and_run/ and makes this script exit non-zero.
# Last line: `fuzz: 1 passed, 0 failed` or `fuzz: 0 passed, 1 failed`.
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

SEEDS="$PWD/runtime/fuzz/corpus/load_and_run"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/ddaebm-fuzz.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
mkdir "$WORK/corpus"
cp -R "$SEEDS/." "$WORK/corpus/"
LOG="$WORK/fuzz.log"

echo "== cargo fuzz: load_and_run for ${DURATION}s (working corpus $WORK/corpus)" >&2
status=0
(
  cd runtime
  cargo +nightly fuzz run load_and_run "$WORK/corpus" "$SEEDS" -- \
    -max_total_time="$DURATION" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1
) 2>&1 | tee "$LOG" || status=$?

execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$LOG" | tail -n 1)"
secs="$(sed -n 's/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\2/p' "$LOG" | tail -n 1)"
echo "executions: ${execs:-unknown} in ${secs:-?} s; corpus grew from $(ls "$SEEDS" | wc -l) to $(ls "$WORK/corpus" | wc -l) inputs"
if [ "$status" -eq 0 ] && [ -n "$execs" ]; then
  echo "fuzz: 1 passed, 0 failed"
else
  grep -E 'artifact_prefix|Test unit written to' "$LOG" >&2 || true
  echo "fuzz: 0 passed, 1 failed"
  exit 1
fi
