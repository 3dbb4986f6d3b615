#!/usr/bin/env bash
# Trainer speed against PyTorch, measured in the same run (issue 6, goal 4).
#
# Alternates `trainer fit` (default 25gaussians model, batch 200) with the
# same training step written in PyTorch (bench/trainer/reference_step.py),
# ROUNDS times, each side for ITERS iterations with THREADS libtorch threads,
# and prints one table: it/s of both sides and their ratio per round, and the
# median ratio. Alternating keeps the two sides under the same machine load.
#
#   scripts/trainer-speed.sh                      # 3 rounds of 400 iterations, 1 thread
#   ROUNDS=5 ITERS=600 THREADS=2 scripts/trainer-speed.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
ITERS=${ITERS:-400}
THREADS=${THREADS:-1}

./scripts/setup-libtorch.sh
PY="${DDAEBM_CACHE:-$HOME/.cache/ddaebm}/torch-2.13.0/bin/python"
cargo build --release -q -p ddaebm-trainer --bin trainer
TRAINER=target/release/trainer
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

printf '| round | trainer it/s | PyTorch it/s | ratio |\n|---:|---:|---:|---:|\n'
ratios=()
for r in $(seq 1 "$ROUNDS"); do
    rm -rf "$work/run"
    # --log-every is the default 50; the last log row's it/s covers the whole run.
    "$TRAINER" fit --iters "$ITERS" --eval-every 0 --checkpoint-every 0 --threads "$THREADS" \
        --quiet --out "$work/run" >/dev/null 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
    ours=$(tail -n 1 "$work/run/log.csv" | awk -F, '{print $NF}')
    ref=$("$PY" -W ignore bench/trainer/reference_step.py --iters "$ITERS" --threads "$THREADS" 2>/dev/null | awk '{print $NF}')
    ratio=$(awk -v a="$ours" -v b="$ref" 'BEGIN{printf "%.2f", a/b}')
    ratios+=("$ratio")
    printf '| %d | %s | %s | %s× |\n' "$r" "$ours" "$ref" "$ratio"
done
median=$(printf '%s\n' "${ratios[@]}" | sort -n | awk '{a[NR]=$1} END{print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}')
echo
echo "median ratio trainer / PyTorch: ${median}× (goal: ≥ 2× the reference's 26 it/s, i.e. ≥ 52 it/s)"
