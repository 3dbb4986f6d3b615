#!/usr/bin/env bash
# The main job on the built-in default data: train DDAEBM on 25gaussians,
# export the checkpoint (f32 and fp16, calibrated on fresh data, with the
# accuracy report on a labelled probe), score the probe through the runtime,
# and run the fp16 model file on the no_std runtime, on the host and in
# firmware on an emulated Cortex-M4F (samples and anomaly verdicts).
#
#   ITERS=5000 WIDTH=300 OUT=runs/quickstart ./scripts/quickstart.sh
set -euo pipefail
cd "$(dirname "$0")/.."
# 12,000 iterations of a 128-wide trunk, three quarters of each batch at the
# last denoising step (~2 min on one core): 78-81 % high-quality samples, 25
# clusters (docs/training.md, departure 12). 3,000 iterations of the
# 300-wide trunk (28-41 %) end the cosine learning-rate decay before the
# generator's last step has learned to snap its samples onto the modes.
ITERS=${ITERS:-12000}
WIDTH=${WIDTH:-128}
T0_SHARE=${T0_SHARE:-0.75}
OUT=${OUT:-runs/quickstart}

./scripts/setup-libtorch.sh
echo "== building (release; the first build compiles libtorch bindings, ~5 min)" >&2
cargo build --release --quiet -p ddaebm-trainer -p ddaebm-export --bins
cargo build --release --quiet -p ddaebm-runtime --example host_demo

echo "== trainer fit: 25gaussians, $ITERS iterations, width $WIDTH -> $OUT" >&2
# --overwrite: a second quickstart replaces the first one's run in $OUT.
./target/release/trainer fit --dataset 25gaussians --iters "$ITERS" --width "$WIDTH" --t0-share "$T0_SHARE" --out "$OUT" --overwrite

echo "== export: calibrated on fresh data, accuracy report on a labelled probe (data vs uniform points)" >&2
./target/release/trainer data --dataset 25gaussians -n 2000 --seed 7 --out "$OUT/calib.csv"
./target/release/trainer data --dataset 25gaussians -n 2000 --anomalies 2000 --seed 8 --out "$OUT/probe.csv"
./target/release/export "$OUT/checkpoint.safetensors" --f32 --calibrate "$OUT/calib.csv" --probe "$OUT/probe.csv"
./target/release/export "$OUT/checkpoint.safetensors" --fp16 --calibrate "$OUT/calib.csv" --probe "$OUT/probe.csv"

echo "== scoring the probe through the runtime (export score)" >&2
./target/release/export score "$OUT/model-f16.safetensors" "$OUT/probe.csv" --label-column label -o "$OUT/scores.csv"

echo "== runtime (no_std crate, on the host)" >&2
./target/release/examples/host_demo "$OUT/model-f16.safetensors"

echo "== the same model file on an emulated Cortex-M4F (QEMU mps2-an386)" >&2
DDAEBM_MODEL="$PWD/$OUT/model-f16.safetensors" ./scripts/firmware.sh

echo
echo "checkpoint: $OUT/checkpoint.safetensors"
echo "model file: $OUT/model-f16.safetensors (and model-f32.safetensors)"
