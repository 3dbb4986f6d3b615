#!/usr/bin/env bash
# Small data (docs/anomaly-benchmark.md, "Small data"): our model trained on
# fewer rows than columns (handwritten digits, 64 pixel columns, 20 / 40 /
# 100 rows of the normal digit) against the anomaly benchmark's classical
# detectors on the same splits.
#
#   ./bench/small-data/run.sh        # writes $OUT/small-data.md (the section) and prints it
#
# Environment: OUT (work folder, default runs/small-data), SEEDS (default
# 0,1,2), DIGITS (normal digits, default 0..9), TRAIN_ROWS (default
# 20,40,100), ITERS (default 1000), DOC (default $OUT/small-data.md).
# A task whose model summary exists is not trained again (delete $OUT to
# start afresh). Nothing is downloaded except, on the first run, the pinned
# Python packages (bench/anomaly/setup.sh) and libtorch.
set -euo pipefail
cd "$(dirname "$0")/../.."
t_start=$(date +%s)
OUT=${OUT:-runs/small-data}
SEEDS=${SEEDS:-0,1,2}
DIGITS=${DIGITS:-0,1,2,3,4,5,6,7,8,9}
TRAIN_ROWS=${TRAIN_ROWS:-20,40,100}
ITERS=${ITERS:-1000}
DOC=${DOC:-$OUT/small-data.md}
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1

PY=$(./bench/anomaly/setup.sh)
./scripts/setup-libtorch.sh >&2
cargo build --release --quiet -p ddaebm-trainer -p ddaebm-export --bins
bin=${CARGO_TARGET_DIR:-target}/release

echo "== data -> $OUT" >&2
"$PY" bench/small-data/prepare.py --out "$OUT" --seeds "$SEEDS" --digits "$DIGITS" --train-rows "$TRAIN_ROWS"
echo "== classical detectors" >&2
"$PY" bench/small-data/report.py --out "$OUT" --baselines

mapfile -t tasks < <("$PY" -c 'import json, sys
for t in json.load(open(sys.argv[1]))["tasks"]: print(t["dir"], t["seed"])' "$OUT/manifest.json")
n=0
for line in "${tasks[@]}"; do
  read -r dir seed <<<"$line"
  n=$((n + 1))
  D=$OUT/$dir
  [ -f "$D/summary.json" ] && continue
  t0=$(date +%s%N)
  rm -rf "$D/run"
  "$bin/trainer" fit --data "$D/train.csv" --width 64 --depth 2 --iters "$ITERS" --seed "$seed" \
    --out "$D/run" --quiet --eval-every 0 --threads 1 >"$D/fit.log" 2>&1 || { cat "$D/fit.log" >&2; exit 1; }
  ms=$((($(date +%s%N) - t0) / 1000000))
  printf '{"fit_s": %d.%03d}\n' $((ms / 1000)) $((ms % 1000)) >"$D/fit-time.json"
  "$bin/export" "$D/run/checkpoint.safetensors" --f32 --score energy --calibrate "$D/calib.csv" \
    -o "$D/model.safetensors" >"$D/export.log" 2>&1 || { cat "$D/export.log" >&2; exit 1; }
  "$bin/export" score "$D/model.safetensors" "$D/test.csv" --label-column label \
    --json "$D/summary.json" >"$D/score.log" 2>&1 || { cat "$D/score.log" >&2; exit 1; }
  echo "[$n/${#tasks[@]}] $dir: AUROC $("$PY" -c 'import json, sys; print(round(json.load(open(sys.argv[1]))["auroc"], 4))' "$D/summary.json") ($((ms / 1000)) s)" >&2
done

cmd="./bench/small-data/run.sh"
[ "$SEEDS" != 0,1,2 ] && cmd="SEEDS=$SEEDS $cmd"
[ "$DIGITS" != 0,1,2,3,4,5,6,7,8,9 ] && cmd="DIGITS=$DIGITS $cmd"
[ "$TRAIN_ROWS" != 20,40,100 ] && cmd="TRAIN_ROWS=$TRAIN_ROWS $cmd"
[ "$ITERS" != 1000 ] && cmd="ITERS=$ITERS $cmd"
"$PY" bench/small-data/report.py --out "$OUT" --doc "$DOC" --command "$cmd"
echo "small-data: done in $(($(date +%s) - t_start)) s; $DOC" >&2
