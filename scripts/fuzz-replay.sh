#!/usr/bin/env bash
# Replays fuzzer-generated model files with one firmware crate
# (firmware-examples/cortex-m4f-replay) on the Cortex-M4F under QEMU
# (mps2-an386) and on RISC-V rv32imac (`virt`, soft float), and on the host
# (firmware-examples/host-check, `replay` binary): all three run
# firmware-examples/common/replay.rs on every file of runtime/fuzz/replay
# (load; energy at every step and the anomaly score of two fixed inputs; one
# sample) and print `cmp` lines, compared here line by line with the host's:
# every value's bits and every error's text must agree. Installs
# qemu-system-misc (apt, for qemu-system-riscv32) and the rustup targets when
# missing.
#
#   scripts/fuzz-replay.sh                build, run, compare; ends with
#                                         "fuzz replay: N passed, M failed" (both targets)
#   scripts/fuzz-replay.sh --regenerate   first rewrite runtime/fuzz/replay from the
#                                         structure-aware target's corpus
#                                         (runtime/fuzz/corpus/structured; 24 files of
#                                         at most 16 KiB, one per kind of model, and a
#                                         few that fail to load)
#
# Environment: CARGO_TARGET_DIR (firmware; default firmware-examples/target),
# QEMU_TIMEOUT (seconds, default 120).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=lib.sh
source "$root/scripts/lib.sh"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/firmware-examples/target}
export QEMU_TIMEOUT=${QEMU_TIMEOUT:-120}
replay=$root/runtime/fuzz/replay
case "${1:-}" in
  "") ;;
  --regenerate)
    echo "== corpus-to-models: runtime/fuzz/corpus/structured -> runtime/fuzz/replay" >&2
    (cd "$root/runtime/fuzz" && cargo build --release --quiet --bin corpus-to-models)
    rm -rf "$replay" && mkdir -p "$replay"
    "$root/runtime/fuzz/target/release/corpus-to-models" "$root/runtime/fuzz/corpus/structured" "$replay" 24 16384
    ;;
  *) echo "usage: scripts/fuzz-replay.sh [--regenerate]" >&2; exit 2 ;;
esac
command -v qemu-system-arm >/dev/null || "$root/scripts/firmware.sh" >/dev/null # installs QEMU and defmt-print

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "== host" >&2
(cd "$root/firmware-examples/host-check" && cargo build --release --locked -q --bin replay)
"$CARGO_TARGET_DIR/release/replay" "$replay" >"$tmp/host.txt"
# The same firmware crate on each family (scripts/lib.sh mcu_target).
families=(m4f rv32)
for t in "${families[@]}"; do
  mcu_target "$t"
  ensure_qemu
  ensure_target "$RUST_TARGET"
  echo "== $t: building the replay firmware ($(ls "$replay" | wc -l) model files), ${QEMU_CMD[*]}" >&2
  (cd "$root/firmware-examples/cortex-m4f-replay" && CARGO_TARGET_DIR=$CARGO_TARGET_DIR/xt/$t DDAEBM_REPLAY_DIR=$replay \
    DDAEBM_MEMORY=$MEMORY RUSTFLAGS="$MCU_RUSTFLAGS" cargo build --release --locked -q --target "$RUST_TARGET")
  set +e
  qemu_mcu "$CARGO_TARGET_DIR/xt/$t/$RUST_TARGET/release/cortex-m4f-replay" >"$tmp/$t.txt" 2>"$tmp/$t.err"
  status=$?
  set -e
  if [ "$status" -ne 0 ]; then
    tail -5 "$tmp/$t.txt" >&2; cat "$tmp/$t.err" >&2
    echo "$t replay firmware FAILED: exit status $status" >&2
    exit "$status"
  fi
done

passed=0; failed=0
for fw in "${families[@]}"; do
  read -r p f < <(compare_cmp "$tmp/$fw.txt" "$tmp/host.txt")
  passed=$((passed + p)); failed=$((failed + f))
  echo "$fw: $(tail -1 "$tmp/$fw.txt"), $(grep -c '^cmp ' "$tmp/$fw.txt") lines"
done
grep -c '^cmp .* load error: ' "$tmp/host.txt" | sed 's/^/files refused at load: /'
echo "fuzz replay: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
