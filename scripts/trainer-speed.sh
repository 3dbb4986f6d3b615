#!/usr/bin/env bash
# Trainer speed against PyTorch, measured in the same run (issue 6, goal 4).
#
# Alternates three runs, ROUNDS times, each for ITERS iterations with THREADS
# libtorch threads, and prints one table with their it/s and ratios:
#   - `trainer fit` with its defaults (25gaussians, batch 200, the R1 penalty
#     every 4th iteration: --lazy-reg 4);
#   - `trainer fit --lazy-reg 1`: the same work per iteration as the
#     reference (R1 every iteration);
#   - the same training step written in PyTorch, R1 every iteration
#     (bench/trainer/reference_step.py).
# Alternating keeps the sides under the same machine load.
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

# it/s of one `trainer fit` run: the last log row covers the whole run.
trainer_its() {
    rm -rf "$work/run"
    "$TRAINER" fit --iters "$ITERS" --eval-every 0 --checkpoint-every 0 --threads "$THREADS" \
        --quiet --out "$work/run" "$@" >/dev/null 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
    tail -n 1 "$work/run/log.csv" | awk -F, '{print $NF}'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", a/b}'; }
median() { sort -n | awk '{a[NR]=$1} END{print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

printf '| round | trainer (default) it/s | trainer --lazy-reg 1 it/s | PyTorch it/s | default / PyTorch | lazy-reg 1 / PyTorch |\n'
printf '|---:|---:|---:|---:|---:|---:|\n'
r_def=()
r_same=()
for r in $(seq 1 "$ROUNDS"); do
    ours=$(trainer_its)
    same=$(trainer_its --lazy-reg 1)
    ref=$("$PY" -W ignore bench/trainer/reference_step.py --iters "$ITERS" --threads "$THREADS" 2>/dev/null | awk '{print $NF}')
    r_def+=("$(ratio "$ours" "$ref")")
    r_same+=("$(ratio "$same" "$ref")")
    printf '| %d | %s | %s | %s | %s× | %s× |\n' "$r" "$ours" "$same" "$ref" "${r_def[-1]}" "${r_same[-1]}"
done
echo
echo "median ratio, trainer default / PyTorch:     $(printf '%s\n' "${r_def[@]}" | median)×"
echo "median ratio, trainer --lazy-reg 1 / PyTorch: $(printf '%s\n' "${r_same[@]}" | median)×"
echo "(issue 6 goal: >= 2x the reference's 26 it/s, i.e. >= 52 it/s)"
