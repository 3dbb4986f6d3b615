#!/usr/bin/env bash
# The C firmware example (firmware-examples/c-stream): C code calling the C API
# (runtime-c/include/ddaebm.h), linked with libddaebm_runtime_c.a, built with
# arm-none-eabi-gcc for the Cortex-M4F and run under QEMU mps2-an386
# (output and exit status through semihosting).
#
#   scripts/c-firmware.sh            build + run; exits with the firmware's status
#   scripts/c-firmware.sh --check    also builds the same C code for the host against
#                                    the host staticlib and compares every "cmp" line
#                                    (window scores, alarms, learned threshold) bit for
#                                    bit; ends with "c firmware parity: N passed, M failed"
#
# Environment: DDAEBM_MODEL (the model file to embed; default the committed
# firmware-examples/cortex-m4f-anomaly/model/default-f16.safetensors), QEMU_TIMEOUT
# (seconds, default 60; semihosting output arrives on QEMU's stderr), CARGO_TARGET_DIR (default target/), OUT (build folder,
# default $CARGO_TARGET_DIR/c-stream). Installs gcc-arm-none-eabi (apt) when missing.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=lib.sh
source "$root/scripts/lib.sh"
src=$root/firmware-examples/c-stream
target=${CARGO_TARGET_DIR:-$root/target}
out=${OUT:-$target/c-stream}
model=$(realpath "${DDAEBM_MODEL:-$root/firmware-examples/cortex-m4f-anomaly/model/default-f16.safetensors}")
check=0
case "${1:-}" in
  "") ;;
  --check) check=1 ;;
  *) echo "usage: scripts/c-firmware.sh [--check]" >&2; exit 2 ;;
esac
mkdir -p "$out"

if ! command -v arm-none-eabi-gcc >/dev/null; then
  echo "== installing gcc-arm-none-eabi" >&2
  apt_install gcc-arm-none-eabi libnewlib-arm-none-eabi
fi
ensure_target thumbv7em-none-eabihf

echo "== runtime-c staticlib for thumbv7em-none-eabihf" >&2
# Like the Rust firmware's profile: size-optimised, fat LTO, one codegen unit.
(cd "$root" && CARGO_TARGET_DIR=$target cargo build --release -p ddaebm-runtime-c --target thumbv7em-none-eabihf \
  --config 'profile.release.opt-level="s"' --config 'profile.release.lto="fat"' \
  --config 'profile.release.codegen-units=1')
lib=$target/thumbv7em-none-eabihf/release/libddaebm_runtime_c.a

echo "== arm-none-eabi-gcc: firmware with $model" >&2
elf=$out/c-stream.elf
cflags=(-std=c11 -O2 -g -Wall -Wextra -Werror -ffunction-sections -fdata-sections -I "$root/runtime-c/include")
arm=(-mcpu=cortex-m4 -mthumb -mfpu=fpv4-sp-d16 -mfloat-abi=hard)
arm-none-eabi-gcc "${arm[@]}" "${cflags[@]}" -ffreestanding -nostdlib -T "$src/link.ld" -Wl,--gc-sections -Wl,-z,noexecstack \
  -DMODEL_FILE="\"$model\"" \
  "$src/main.c" "$src/platform_semihosting.c" "$src/model.S" "$lib" -lgcc -o "$elf"
arm-none-eabi-size -A "$elf" | awk '$1 == ".isr_vector" || $1 == ".text" || $1 == ".rodata" || $1 == ".data" { f += $2 }
  $1 == ".data" || $1 == ".bss" { r += $2 } END { printf "flash %d bytes (with the model file), RAM %d bytes (.data + .bss)\n", f, r }' >&2

echo "== qemu-system-arm -machine mps2-an386 (timeout ${QEMU_TIMEOUT:-60} s)" >&2
set +e
qemu_m4f "$elf" 2>&1 | tee "$out/arm.txt"
status=${PIPESTATUS[0]}
set -e
if [ "$status" -ne 0 ]; then
  echo "c firmware FAILED: exit status $status" >&2
  exit "$status"
fi
echo "== firmware exited with status 0" >&2
[ "$check" -eq 1 ] || exit 0

echo "== parity: the same C code on the host" >&2
(cd "$root" && CARGO_TARGET_DIR=$target cargo build --release -p ddaebm-runtime-c)
cc "${cflags[@]}" -DMODEL_FILE="\"$model\"" "$src/main.c" "$src/platform_host.c" "$src/model.S" \
  "$target/release/libddaebm_runtime_c.a" -lpthread -ldl -lm -o "$out/c-stream-host"
"$out/c-stream-host" > "$out/host.txt"
read -r passed failed < <(compare_cmp "$out/arm.txt" "$out/host.txt")
echo "c firmware parity: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
