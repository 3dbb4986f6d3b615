#!/usr/bin/env bash
# Replays fuzzer-generated model files on the Cortex-M4F under QEMU
# (firmware-examples/cortex-m4f-replay, mps2-an386), on RISC-V rv32imac under
# QEMU (firmware-examples/riscv-replay, `virt`, soft float) and on the host
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
command -v qemu-system-arm >/dev/null || "$root/scripts/firmware.sh" >/dev/null # installs QEMU and the target
ensure_target thumbv7em-none-eabihf
mcu_target rv32 # RUST_TARGET, QEMU_CMD (qemu-system-riscv32 -machine virt) for qemu_mcu below
ensure_qemu
ensure_target "$RUST_TARGET"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "== building the replay firmware ($(ls "$replay" | wc -l) model files)" >&2
(cd "$root/firmware-examples/cortex-m4f-replay" && DDAEBM_REPLAY_DIR=$replay cargo build --release --locked -q)
elf=$CARGO_TARGET_DIR/thumbv7em-none-eabihf/release/cortex-m4f-replay
echo "== qemu-system-arm -machine mps2-an386" >&2
set +e
qemu_m4f "$elf" >"$tmp/arm.txt" 2>"$tmp/arm.err"
status=$?
set -e
if [ "$status" -ne 0 ]; then
  tail -5 "$tmp/arm.txt" >&2; cat "$tmp/arm.err" >&2
  echo "replay firmware FAILED: exit status $status" >&2
  exit "$status"
fi
echo "== host" >&2
(cd "$root/firmware-examples/host-check" && cargo build --release --locked -q --bin replay)
"$CARGO_TARGET_DIR/release/replay" "$replay" >"$tmp/host.txt"
echo "== RISC-V rv32imac: building the replay firmware, qemu-system-riscv32 -machine virt" >&2
(cd "$root/firmware-examples/riscv-replay" && CARGO_TARGET_DIR=$CARGO_TARGET_DIR/xt/riscv DDAEBM_REPLAY_DIR=$replay \
  cargo build --release --locked -q)
rv=$CARGO_TARGET_DIR/xt/riscv/$RUST_TARGET/release/riscv-replay
set +e
qemu_mcu "$rv" >"$tmp/riscv.txt" 2>"$tmp/riscv.err"
status=$?
set -e
if [ "$status" -ne 0 ]; then
  tail -5 "$tmp/riscv.txt" >&2; cat "$tmp/riscv.err" >&2
  echo "RISC-V replay firmware FAILED: exit status $status" >&2
  exit "$status"
fi

passed=0; failed=0
for fw in arm riscv; do
  read -r p f < <(compare_cmp "$tmp/$fw.txt" "$tmp/host.txt")
  passed=$((passed + p)); failed=$((failed + f))
  echo "$fw: $(tail -1 "$tmp/$fw.txt"), $(grep -c '^cmp ' "$tmp/$fw.txt") lines"
done
grep -c '^cmp .* load error: ' "$tmp/host.txt" | sed 's/^/files refused at load: /'
echo "fuzz replay: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
