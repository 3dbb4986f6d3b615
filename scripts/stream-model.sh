#!/usr/bin/env bash
# Regenerates the stream firmware example's model files
# (firmware-examples/cortex-m4f-stream/model/ucr135-{int8,f16,f32}.safetensors)
# from its committed series (firmware-examples/cortex-m4f-stream/data/ucr135.csv):
#
#   train     rows [0, 1000) of the series (anomaly-free), windows of 32 samples, stride 1
#   calibrate rows [1000, 1200) (anomaly-free; export --calibrate windows them the same way)
#   export    the same checkpoint in int8 (the example's default), f16 and f32
#
# The split is the anomaly benchmark's (bench/anomaly/prepare.py: SERIES_*), and
# so are the model settings (width 64, depth 2, 2,000 iterations), seed 0.
# About 4 minutes on the 2-core machine.
#
#   scripts/stream-model.sh            train + export into the committed model folder
#   scripts/stream-model.sh --data     first rewrite data/ucr135.csv from the aeon wheel
#                                      (UCR anomaly archive #135 InternalBleeding16; needs
#                                      the benchmark's Python environment, bench/anomaly/setup.sh)
#
# Environment: OUT (run folder, default runs/stream-model), SEED (default 0).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
ex=firmware-examples/cortex-m4f-stream
out=${OUT:-runs/stream-model}
seed=${SEED:-0}

if [ "${1:-}" = "--data" ]; then
  py=$(./bench/anomaly/setup.sh)
  src=$("$py" -c 'import aeon, os; print(os.path.join(os.path.dirname(aeon.__file__),
    "datasets/data/KDD-TSAD_135/135_UCR_Anomaly_InternalBleeding16_TEST.csv"))')
  # The aeon file's columns are timestamp,value,is_anomaly; the example keeps the last two.
  { echo "value,is_anomaly"; tail -n +2 "$src" | cut -d, -f2,3; } >"$ex/data/ucr135.csv"
  echo "wrote $ex/data/ucr135.csv from $src" >&2
elif [ -n "${1:-}" ]; then
  echo "usage: scripts/stream-model.sh [--data]" >&2
  exit 2
fi

./scripts/setup-libtorch.sh >&2
cargo build --release --quiet -p ddaebm-trainer -p ddaebm-export --bins
mkdir -p "$out"
# Header + data rows [0, 1000) and [1000, 1200): file lines 2..1001 and 1002..1201.
sed -n '1,1001p' "$ex/data/ucr135.csv" >"$out/train.csv"
# --calibrate takes normal rows without labels: the value column only.
sed -n '1p;1002,1201p' "$ex/data/ucr135.csv" | cut -d, -f1 >"$out/calib.csv"

./target/release/trainer fit --data "$out/train.csv" --columns value --label-column is_anomaly \
  --window 32 --width 64 --depth 2 --iters 2000 --eval-every 0 --seed "$seed" --out "$out/run" --overwrite
rm -f "$ex"/model/ucr135-*.safetensors
for p in int8 f16 f32; do
  flag=--$p; [ "$p" = f16 ] && flag=--fp16
  ./target/release/export "$out/run/checkpoint.safetensors" "$flag" --calibrate "$out/calib.csv" \
    --out "$ex/model/ucr135-$p.safetensors"
done
ls -l "$ex/model/"
