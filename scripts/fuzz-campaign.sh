#!/usr/bin/env bash
# A recorded fuzzing campaign of both runtime fuzz targets (run it after every
# model-format change): fuzzes each for its time, keeps the grown corpus
# minimised in the repo (runtime/fuzz/corpus/TARGET: a set-cover merge on
# edges, the smallest files first, at most MAX_FILES files and MAX_KB KiB per
# target), measures the
# runtime's source coverage under each target's corpus (`cargo fuzz coverage`
# + `llvm-cov report`), and rewrites docs/reliability.md with executions,
# crashes, edges, corpus sizes and the coverage table.
#
#   scripts/fuzz-campaign.sh LOAD_AND_RUN_SECONDS STRUCTURED_SECONDS
#
# The campaign builds without a sanitizer (`-s none`: several times the
# executions per second; CI's scripts/fuzz.sh keeps AddressSanitizer), the
# targets one after the other, JOBS libFuzzer processes each (default 1;
# they share the working corpus). Environment: JOBS, MAX_FILES (default
# 200), MAX_KB (default 512). Needs what scripts/fuzz.sh
# installs, plus the nightly llvm-tools (installed here when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
usage() { echo "usage: scripts/fuzz-campaign.sh LOAD_AND_RUN_SECONDS STRUCTURED_SECONDS" >&2; exit 2; }
[ $# -eq 2 ] || usage
case "$1$2" in '' | *[!0-9]*) usage ;; esac
declare -A SECONDS_OF=([load_and_run]=$1 [structured]=$2)
# The structured target reads its bytes as a stream of choices: long inputs
# from the start (no length ramp) reach the larger models and rarer branches.
declare -A LEN_FLAGS=([load_and_run]="" [structured]="-max_len=8192 -len_control=0")
JOBS=${JOBS:-1}
MAX_FILES=${MAX_FILES:-200}
MAX_KB=${MAX_KB:-512}

rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
cargo fuzz --version >/dev/null 2>&1 || cargo install cargo-fuzz --locked
rustup component list --toolchain nightly --installed | grep -q '^llvm-tools' ||
  rustup component add llvm-tools-preview --toolchain nightly
sysroot=$(rustc +nightly --print sysroot)
llvm_cov=$(find "$sysroot" -name llvm-cov -type f | head -1)
[ -x "$llvm_cov" ] || { echo "fuzz-campaign: llvm-cov not found under $sysroot" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/ddaebm-campaign.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
export DDAEBM_FUZZ_REPRODUCERS="$root/runtime/fuzz/artifacts"
mkdir -p "$DDAEBM_FUZZ_REPRODUCERS"
started=$(date -u +%Y-%m-%dT%H:%MZ)
declare -A EXECS RATE EDGES BEFORE AFTER STATUS COMMIT
for target in load_and_run structured; do
  seeds=$root/runtime/fuzz/corpus/$target
  mkdir -p "$seeds" "$WORK/$target"
  cp -R "$seeds/." "$WORK/$target/"
  BEFORE[$target]=$(ls "$seeds" | wc -l)
  echo "== $target: ${SECONDS_OF[$target]} s (no sanitizer)" >&2
  # JOBS processes share the working corpus (libFuzzer reloads it).
  (cd runtime && cargo +nightly fuzz build -s none "$target") >"$WORK/$target.build.log" 2>&1
  COMMIT[$target]=$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- runtime || echo "+changes")
  pids=()
  for j in $(seq 1 "$JOBS"); do
    (cd runtime && exec cargo +nightly fuzz run -s none "$target" "$WORK/$target" -- \
        -max_total_time="${SECONDS_OF[$target]}" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
        -seed="$j" ${LEN_FLAGS[$target]}) >"$WORK/$target.$j.log" 2>&1 &
    pids+=($!)
  done
  status=0
  for p in "${pids[@]}"; do wait "$p" || status=$?; done
  cat "$WORK/$target".[0-9]*.log >"$WORK/$target.log"
  STATUS[$target]=$status
  EXECS[$target]=$(sed -n 's/^stat::number_of_executed_units: *//p' "$WORK/$target.log" | awk '{ s += $1 } END { print s }')
  RATE[$target]=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$WORK/$target.log" | awk '{ s += $1 } END { print s }')
  EDGES[$target]=$(grep -o 'cov: [0-9]*' "$WORK/$target.log" | cut -d' ' -f2 | sort -n | tail -1)
  if [ "$status" -ne 0 ]; then
    tail -40 "$WORK/$target.log" >&2
    echo "fuzz-campaign: $target FAILED (status $status); inputs under runtime/fuzz/artifacts/" >&2
  fi
  echo "$target: ${EXECS[$target]:-?} executions, ${RATE[$target]:-?}/s, ${EDGES[$target]:-?} edges" >&2

  # Minimise into the repo's corpus: set-cover merge on edges (not counters).
  rm -rf "$WORK/$target.min" && mkdir "$WORK/$target.min"
  (cd runtime && cargo +nightly fuzz run -s none "$target" "$WORK/$target.min" "$WORK/$target" -- \
      -set_cover_merge=1 -use_counters=0) >"$WORK/$target.merge.log" 2>&1
  # Bound it: the curated seeds (names that are not libFuzzer's SHA-1s:
  # runtime/fuzz/make_seeds.py's real exports and hand-made files) always
  # stay; then the smallest merged files, at most MAX_FILES and MAX_KB.
  mkdir -p "$WORK/$target.curated"
  find "$seeds" -maxdepth 1 -type f ! -regex '.*/[0-9a-f]\{40\}' -exec cp {} "$WORK/$target.curated/" \;
  rm -rf "$seeds" && mkdir -p "$seeds"
  cp -R "$WORK/$target.curated/." "$seeds/"
  total=0; n=0
  while read -r size file; do
    [ "$n" -lt "$MAX_FILES" ] && [ $((total + size)) -le $((MAX_KB * 1024)) ] || break
    cp "$WORK/$target.min/$file" "$seeds/"
    total=$((total + size)); n=$((n + 1))
  done < <(cd "$WORK/$target.min" && find . -type f -printf '%s %f\n' | sort -n)
  AFTER[$target]="$n files, $((total / 1024)) KiB"
  echo "$target: corpus ${BEFORE[$target]} -> $n files ($((total / 1024)) KiB) in runtime/fuzz/corpus/$target" >&2
done

# Coverage of the runtime's sources under each target's (new) corpus.
declare -A COV
for target in load_and_run structured; do
  echo "== coverage: $target" >&2
  (cd runtime && cargo +nightly fuzz coverage "$target" "fuzz/corpus/$target") >"$WORK/$target.cov.log" 2>&1
  bin=$(find runtime/target/x86_64-unknown-linux-gnu/coverage -type f -name "$target" -perm -u+x | head -1)
  "$llvm_cov" report "$bin" -instr-profile="runtime/fuzz/coverage/$target/coverage.profdata" \
    --ignore-filename-regex='(\.cargo|rustc|fuzz/|library/)' >"$WORK/$target.report" 2>/dev/null
  COV[$target]=$WORK/$target.report
done

# "file: regions% lines%" of the runtime's files, from llvm-cov's table
# (Filename Regions Missed Cover Functions Missed Executed Lines Missed Cover ...).
cov_of() { # cov_of TARGET FILE -> "regions / lines"
  awk -v f="$2" '$1 == f { print $4 " / " $10 }' "${COV[$1]}"
}
total_of() { awk '$1 == "TOTAL" { print $4 " / " $10 }' "${COV[$1]}"; }

doc=docs/reliability.md
{
  echo "# Reliability: fuzzing the runtime"
  echo
  echo "The runtime loads model files from flash and must never panic, read out of"
  echo "bounds, loop without bound or return a non-finite result without an error,"
  echo "whatever the bytes. Two libFuzzer targets check it (runtime/fuzz):"
  echo
  echo "* **load_and_run**: arbitrary bytes as a model file. Inputs whose \`crc32\`"
  echo "  does not match are tried as they are (the checksum check) and once more"
  echo "  with the CRC fixed up, so mutated weights reach the later stages."
  echo "* **structured**: the bytes drive a generator of valid-looking model files"
  echo "  (\`runtime/fuzz/src/gen.rs\`: D, nz, T, layer counts and widths up to and"
  echo "  past the limits, every weight dtype, int8 scales, base measure,"
  echo "  calibration tables, reconstruction score, input contract, metadata"
  echo "  values, extreme numbers — subnormals, ±inf, NaN, huge and tiny — and a"
  echo "  correct checksum), so loading reaches validation and then the kernels."
  echo "  Then the differential check: every x86-64 kernel path the CPU has (SSE2,"
  echo "  AVX, AVX2, forced in turn with \`ddaebm_runtime::kernel_path\`) gives the"
  echo "  portable reference kernel's bits (int8: the plain integer dot product) on"
  echo "  energy at every step, the anomaly score, a batch, a generator pass and a"
  echo "  sample; a mismatch saves the model file as a reproducer."
  echo
  echo "Both run every public entry point on what loads (\`ddaebm_runtime_fuzz::check\`:"
  echo "energy, scores, calibration, sampler, batch, window scorer, field calibration,"
  echo "misuse), asserting that every \`Ok\` value is finite. CI runs both briefly with"
  echo "AddressSanitizer (\`scripts/fuzz.sh\`), and replays model files generated"
  echo "from the structured corpus on the Cortex-M4F under QEMU against the host,"
  echo "bit for bit (\`scripts/fuzz-replay.sh\`)."
  echo
  echo "## Latest campaign"
  echo
  echo "\`JOBS=$JOBS scripts/fuzz-campaign.sh ${SECONDS_OF[load_and_run]} ${SECONDS_OF[structured]}\`, started $started, the"
  echo "targets built at commits \`${COMMIT[load_and_run]}\` (load_and_run) and \`${COMMIT[structured]}\` (structured),"
  echo "$JOBS libFuzzer process(es) per target on the 2-core development machine, no"
  echo "sanitizer (executions/s: the sum over the processes):"
  echo
  echo "| target | seconds | executions | executions/s | edges (libFuzzer \`cov\`) | crashes | kernel mismatches | corpus before → kept (minimised) |"
  echo "|---|---:|---:|---:|---:|---:|---:|---|"
  for t in load_and_run structured; do
    crashes=$([ "${STATUS[$t]}" -eq 0 ] && echo 0 || echo "**1 (status ${STATUS[$t]})**")
    mism=$(grep -c 'differs from the portable kernels' "$WORK/$t.log" || true)
    echo "| $t | ${SECONDS_OF[$t]} | ${EXECS[$t]:-?} | ${RATE[$t]:-?} | ${EDGES[$t]:-?} | $crashes | $mism | ${BEFORE[$t]} → ${AFTER[$t]} |"
  done
  echo
  echo "Total executions: $(( ${EXECS[load_and_run]:-0} + ${EXECS[structured]:-0} ))."
  echo
  echo "## Coverage of the runtime (regions / lines covered)"
  echo
  echo "\`cargo fuzz coverage TARGET runtime/fuzz/corpus/TARGET\` on the kept corpus, then"
  echo "\`llvm-cov report\` (the nightly toolchain's llvm-tools), the runtime's files only:"
  echo
  echo "| file | load_and_run | structured |"
  echo "|---|---:|---:|"
  for f in kernels/mod.rs kernels/portable.rs kernels/x86.rs kernel_path.rs model.rs format.rs error.rs energy.rs base.rs batch.rs sampler.rs schedule.rs calibration.rs stream.rs field_calibration.rs rng.rs crc.rs; do
    echo "| \`runtime/src/$f\` | $(cov_of load_and_run "$f") | $(cov_of structured "$f") |"
  done
  echo "| **all runtime files** | $(total_of load_and_run) | $(total_of structured) |"
  echo
  echo "The MCU kernels (\`kernels/fpu.rs\`, \`dsp.rs\`, \`mve.rs\`) are not built on the host, so they"
  echo "do not count here; the firmware replay (M4F) and the stream parity (six families) run them."
} >"$doc"
echo "wrote $doc" >&2
for t in load_and_run structured; do [ "${STATUS[$t]}" -eq 0 ] || exit 1; done
