#!/usr/bin/env bash
# The real-data anomaly benchmark (docs/anomaly-benchmark.md): breast cancer,
# a physiological time series in windows, and handwritten digits; our model
# (model files scored through the runtime: the reconstruction score and the
# energy score, each in f32 and int8 by default) against Isolation Forest,
# LOF, one-class SVM, a Gaussian mixture, the distance from the training mean
# and the Mahalanobis distance on the same splits.
#
#   ./scripts/anomaly-benchmark.sh                         # full run; rewrites docs/anomaly-benchmark.md + docs/img/anomaly-roc.png
#   DDAEBM_BENCH_QUICK=1 ./scripts/anomaly-benchmark.sh    # smoke run: 1 seed, 2 digits, few iterations; report in $OUT only
#
# Environment: OUT (work folder, default runs/anomaly-bench, or
# runs/anomaly-bench-quick in quick mode), SEEDS (default 0,1,2),
# DIGIT_SEEDS (default 0,1), DIGITS (normal digits, default 0..9), DATASETS
# (prepare.py --datasets: names, `dev` = the seven UCI sets of
# bench/anomaly/data/, `all`; default breast_cancer,ucr_internal_bleeding,digits),
# BENCH_MCU (1: measure MCU instructions per reading under QEMU with
# scripts/firmware-report.sh, the default when qemu-system-arm is installed;
# 0: skip), BENCH_LONG (1: also train breast_cancer/s0 with 4x the
# iterations, to see what a longer budget changes; the default outside quick
# mode), BENCH_ITERS_SCALE (an integer: multiplies every training run's
# iterations, default 1; the run time grows about as much), BENCH_VARIANTS
# (our model's files, comma-separated, default f32,int8,f32-energy,int8-energy:
# PRECISION = f32|fp16|bf16|int8 with the reconstruction score, 8 draws;
# PRECISION-energy with the energy score), DOC / PNG (where the report goes).
# Nothing is downloaded at run time except, on the first run, the pinned
# Python packages (bench/anomaly/setup.sh, PyPI) and libtorch
# (scripts/setup-libtorch.sh); the data come inside scikit-learn and aeon.
set -euo pipefail
cd "$(dirname "$0")/.."
t_start=$(date +%s)

QUICK=${DDAEBM_BENCH_QUICK:-0}
if [ "$QUICK" = 1 ]; then
  OUT=${OUT:-runs/anomaly-bench-quick}
  SEEDS=${SEEDS:-0}
  DIGIT_SEEDS=${DIGIT_SEEDS:-0}
  DIGITS=${DIGITS:-0,1}
  DOC=${DOC:-$OUT/anomaly-benchmark.md}
  PNG=${PNG:-$OUT/anomaly-roc.png}
  BENCH_MCU=${BENCH_MCU:-0}
  BENCH_LONG=${BENCH_LONG:-0}
else
  BENCH_LONG=${BENCH_LONG:-1}
  OUT=${OUT:-runs/anomaly-bench}
  SEEDS=${SEEDS:-0,1,2}
  DIGIT_SEEDS=${DIGIT_SEEDS:-0,1}
  DIGITS=${DIGITS:-0,1,2,3,4,5,6,7,8,9}
  DOC=${DOC:-docs/anomaly-benchmark.md}
  PNG=${PNG:-docs/img/anomaly-roc.png}
  if command -v qemu-system-arm >/dev/null && command -v defmt-print >/dev/null; then
    BENCH_MCU=${BENCH_MCU:-1}
  else
    BENCH_MCU=${BENCH_MCU:-0}
  fi
fi

# Our model per data set: trunk width, depth, training iterations (quick mode: 150).
# Chosen so that the full run takes about half an hour on the 2-core machine.
model_args() { # DATASET -> "WIDTH DEPTH ITERS"
  local w d i
  case "$1" in
    breast_cancer) w=64; d=2; i=2000 ;;
    ucr_internal_bleeding) w=64; d=2; i=2000 ;;
    digits) w=64; d=2; i=1000 ;;
    ionosphere|pima|breastw|glass|vehicle|vowel|letter) w=64; d=2; i=2000 ;;
    *) echo "anomaly-benchmark: no model settings for data set $1" >&2; exit 1 ;;
  esac
  [ "$QUICK" = 1 ] && i=150
  echo "$w $d $((i * BENCH_ITERS_SCALE))"
}
BENCH_ITERS_SCALE=${BENCH_ITERS_SCALE:-1}
# Extra `trainer fit` flags for every training run (e.g. to measure a setting
# against the defaults): BENCH_FIT_ARGS="--r1-gamma 0.2".
read -r -a FIT_EXTRA <<<"${BENCH_FIT_ARGS:-}"
# Our model's files: PRECISION = the reconstruction score (8 draws) with
# weights in that precision; PRECISION-energy = the energy score -f(x, 0) of
# docs/algorithm.md. Each variant V is exported to TASK/model-V.safetensors and
# scored into TASK/scores-V.csv, TASK/summary-V.json (report.py reads them).
VARIANTS=(f32 int8 f32-energy int8-energy)
if [ -n "${BENCH_VARIANTS:-}" ]; then
  IFS=, read -r -a VARIANTS <<<"$BENCH_VARIANTS"
fi
variant_args() { # VARIANT -> export flags
  case "$1" in
    f32-energy|fp16-energy|bf16-energy|int8-energy) echo "--${1%-energy} --score energy" ;;
    f32|fp16|bf16|int8) echo "--$1 --score reconstruction --draws 8" ;;
    *) echo "anomaly-benchmark: unknown variant $1 (PRECISION or PRECISION-energy, PRECISION = f32|fp16|bf16|int8)" >&2
       return 1 ;;
  esac
}
for p in "${VARIANTS[@]}"; do variant_args "$p" >/dev/null || exit 1; done

# Single-threaded BLAS for the Python side: the machine has 2 shared cores.
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1

echo "== python environment" >&2
PY=$(./bench/anomaly/setup.sh)
echo "== libtorch + release binaries" >&2
./scripts/setup-libtorch.sh >&2
cargo build --release --quiet -p ddaebm-trainer -p ddaebm-export --bins
TRAINER=target/release/trainer
EXPORT=target/release/export

echo "== data -> $OUT" >&2
"$PY" bench/anomaly/prepare.py --out "$OUT" --seeds "$SEEDS" --digit-seeds "$DIGIT_SEEDS" --digits "$DIGITS" \
  ${DATASETS:+--datasets "$DATASETS"} >/dev/null

echo "== classical baselines (scikit-learn)" >&2
t0=$(date +%s)
"$PY" bench/anomaly/baselines.py --out "$OUT" >"$OUT/baselines.log"
echo "baselines: $(($(date +%s) - t0)) s" >&2

echo "== our model: trainer fit -> export (${VARIANTS[*]}, calibrated) -> export score" >&2
mapfile -t tasks < <("$PY" -c '
import json, sys
for t in json.load(open(sys.argv[1]))["tasks"]:
    print(t["dir"], t["dataset"], t["seed"])' "$OUT/manifest.json")
n=0
for line in "${tasks[@]}"; do
  read -r dir dataset seed <<<"$line"
  n=$((n + 1))
  D=$OUT/$dir
  read -r W L ITERS <<<"$(model_args "$dataset")"
  # The trainer's defaults (what a new user gets), plus BENCH_FIT_ARGS.
  fit=(--data "$D/train.csv" --width "$W" --depth "$L" --iters "$ITERS" --seed "$seed"
       "${FIT_EXTRA[@]}" --out "$D/run" --quiet --eval-every 0 --threads 1)
  t0=$(date +%s%N)
  # A finished run with the same arguments is kept (delete $OUT to start afresh).
  if [ -f "$D/run/checkpoint.safetensors" ] && [ "$(cat "$D/run/fit-args" 2>/dev/null)" = "${fit[*]}" ]; then
    :
  else
    rm -rf "$D/run"
    "$TRAINER" fit "${fit[@]}" >"$D/fit.log" 2>&1 || { cat "$D/fit.log" >&2; exit 1; }
    ms=$((($(date +%s%N) - t0) / 1000000))
    printf '{"fit_s": %d.%03d, "width": %d, "depth": %d, "iters": %d}\n' \
      $((ms / 1000)) $((ms % 1000)) "$W" "$L" "$ITERS" >"$D/run/fit-time.json"
    # Generator samples, for the report's spread diagnostic (samples vs training rows).
    "$TRAINER" sample "$D/run/checkpoint.safetensors" -n 2000 --out "$D/run/samples.csv" >>"$D/fit.log" 2>&1 \
      || { cat "$D/fit.log" >&2; exit 1; }
    printf '%s' "${fit[*]}" >"$D/run/fit-args"
  fi
  for p in "${VARIANTS[@]}"; do
    # --allow-inaccurate: the benchmark measures what the reduced precisions
    # cost, so a file over export's default error bound is still written
    # (export's own accuracy report goes to report-P.json).
    # shellcheck disable=SC2046
    "$EXPORT" "$D/run/checkpoint.safetensors" $(variant_args "$p") --calibrate "$D/calib.csv" --allow-inaccurate \
      --report "$D/report-$p.json" -o "$D/model-$p.safetensors" >"$D/export-$p.log" 2>&1 \
      || { cat "$D/export-$p.log" >&2; exit 1; }
    "$EXPORT" score "$D/model-$p.safetensors" "$D/test.csv" --label-column label \
      -o "$D/scores-$p.csv" --json "$D/summary-$p.json" >"$D/score-$p.log" 2>&1 \
      || { cat "$D/score-$p.log" >&2; exit 1; }
  done
  echo "[$n/${#tasks[@]}] $dir: $("$PY" -c '
import json, sys
print(" ".join("%s %.4f" % (p, json.load(open(f"{sys.argv[1]}/summary-{p}.json"))["auroc"]) for p in sys.argv[2:]))' \
    "$D" "${VARIANTS[@]}") ($((($(date +%s%N) - t0) / 1000000000)) s)" >&2
done

long_args=()
if [ "$BENCH_LONG" = 1 ] && [ -d "$OUT/breast_cancer/s0" ]; then
  # Does a longer training budget change the picture? breast_cancer/s0 again,
  # with 4x the iterations (f32, both scores: the f32 variants of VARIANTS).
  D=$OUT/breast_cancer/s0
  read -r W L ITERS <<<"$(model_args breast_cancer)"
  ITERS=$((4 * ITERS))
  echo "== longer training: breast_cancer/s0, $ITERS iterations" >&2
  fit=(--data "$D/train.csv" --width "$W" --depth "$L" --iters "$ITERS" --seed 0
       "${FIT_EXTRA[@]}" --out "$D/long/run" --quiet --eval-every 0 --threads 1)
  if ! { [ -f "$D/long/run/checkpoint.safetensors" ] && [ "$(cat "$D/long/run/fit-args" 2>/dev/null)" = "${fit[*]}" ]; }; then
    rm -rf "$D/long"
    mkdir -p "$D/long"
    "$TRAINER" fit "${fit[@]}" >"$D/long/fit.log" 2>&1 || { cat "$D/long/fit.log" >&2; exit 1; }
    printf '%s' "${fit[*]}" >"$D/long/run/fit-args"
  fi
  long_variants=()
  for p in "${VARIANTS[@]}"; do
    case "$p" in f32|f32-energy) long_variants+=("$p") ;; esac
  done
  for p in "${long_variants[@]}"; do
    # shellcheck disable=SC2046
    "$EXPORT" "$D/long/run/checkpoint.safetensors" $(variant_args "$p") --calibrate "$D/calib.csv" \
      -o "$D/long/model-$p.safetensors" >"$D/long/export-$p.log" 2>&1 || { cat "$D/long/export-$p.log" >&2; exit 1; }
    "$EXPORT" score "$D/long/model-$p.safetensors" "$D/test.csv" --label-column label \
      -o "$D/long/scores-$p.csv" --json "$D/long/summary-$p.json" >"$D/long/score-$p.log" 2>&1 \
      || { cat "$D/long/score-$p.log" >&2; exit 1; }
  done
  long_args=(--long "breast_cancer/s0:$ITERS")
fi

mcu_args=()
if [ "$BENCH_MCU" = 1 ]; then
  # The firmware example (firmware-examples/cortex-m4f-anomaly) scores 2-D
  # readings only, so the benchmark's own models cannot run in it. It runs a
  # 2-D probe model of the same width and depth in each variant instead:
  # scripts/firmware-report.sh counts the instructions of one anomaly_score
  # call under QEMU, and report.py scales them to each data set's MACs.
  echo "== MCU instructions per reading (2-D probe models, scripts/firmware-report.sh, QEMU Cortex-M4F)" >&2
  read -r W L _ <<<"$(model_args digits)"
  probe=$OUT/mcu-probe
  rm -rf "$probe"
  "$TRAINER" fit --dataset 25gaussians --width "$W" --depth "$L" --iters 100 --seed 0 --out "$probe/run" \
    --quiet --eval-every 0 --threads 1 >"$OUT/mcu-probe.log" 2>&1 || { cat "$OUT/mcu-probe.log" >&2; exit 1; }
  models=()
  for p in "${VARIANTS[@]}"; do
    # shellcheck disable=SC2046
    "$EXPORT" "$probe/run/checkpoint.safetensors" $(variant_args "$p") --allow-inaccurate -o "$probe/model-$p.safetensors" \
      >>"$OUT/mcu-probe.log" 2>&1 || { cat "$OUT/mcu-probe.log" >&2; exit 1; }
    models+=("$probe/model-$p.safetensors")
  done
  if ./scripts/firmware-report.sh "${models[@]}" >"$OUT/firmware-report.md" 2>"$OUT/firmware-report.log"; then
    mcu_args=(--mcu "$OUT/firmware-report.md")
  else
    echo "anomaly-benchmark: firmware-report failed (see $OUT/firmware-report.log); the report goes without MCU counts" >&2
  fi
fi

echo "== report -> $DOC, $PNG" >&2
cmd="./scripts/anomaly-benchmark.sh"
[ "$QUICK" = 1 ] && cmd="DDAEBM_BENCH_QUICK=1 $cmd"
[ -n "${BENCH_VARIANTS:-}" ] && cmd="BENCH_VARIANTS=$BENCH_VARIANTS $cmd"
[ -n "${DATASETS:-}" ] && cmd="DATASETS=$DATASETS $cmd"
# Where the page and picture go, and the parts left out, when not the defaults.
[ "$QUICK" != 1 ] && [ "$DOC" != docs/anomaly-benchmark.md ] && cmd="DOC=$DOC PNG=$PNG $cmd"
[ "$QUICK" != 1 ] && [ "$BENCH_MCU" = 0 ] && cmd="BENCH_MCU=0 $cmd"
[ "$QUICK" != 1 ] && [ "$BENCH_LONG" = 0 ] && cmd="BENCH_LONG=0 $cmd"
[ "$QUICK" != 1 ] && [ "$DIGIT_SEEDS" != 0,1 ] && cmd="DIGIT_SEEDS=$DIGIT_SEEDS $cmd"
[ -n "${BENCH_FIT_ARGS:-}" ] && cmd="BENCH_FIT_ARGS=\"$BENCH_FIT_ARGS\" $cmd"
"$PY" bench/anomaly/report.py --out "$OUT" --doc "$DOC" --png "$PNG" --command "$cmd" \
  --elapsed "$(($(date +%s) - t_start))" --variants "$(IFS=,; echo "${VARIANTS[*]}")" \
  "${mcu_args[@]}" "${long_args[@]}"
echo "anomaly-benchmark: done in $(($(date +%s) - t_start)) s; $DOC" >&2
