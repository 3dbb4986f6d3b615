#!/usr/bin/env bash
# Runs every test: installs libtorch (cached outside the clone), the
# Cortex-M4F target, QEMU (Arm and RISC-V), defmt-print, gcc-arm-none-eabi and cargo-fuzz, checks that the
# runtime (and its C API) builds for thumbv7em-none-eabihf with no allocator, runs the Rust
# firmware examples (anomaly, stream) and the C firmware under QEMU against the host, fuzzes the runtime for
# FUZZ_SECONDS (default 60), and runs the workspace's tests.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=lib.sh
source scripts/lib.sh
ensure_dev_null
./scripts/setup-libtorch.sh
ensure_target thumbv7em-none-eabihf

echo "== runtime: no_std build for thumbv7em-none-eabihf (Cortex-M4F)" >&2
cargo build --release -p ddaebm-runtime --target thumbv7em-none-eabihf
cargo build --release -p ddaebm-runtime --target thumbv7em-none-eabihf --features defmt
# The C API's staticlib for the MCU (its object sizes are checked at compile time per target).
cargo build --release -p ddaebm-runtime-c --target thumbv7em-none-eabihf
if grep -rnE '^\s*(extern crate alloc|use alloc::)' runtime/src; then
  echo "runtime must not use alloc" >&2
  exit 1
fi

echo "== firmware: Cortex-M4F under QEMU, bit-for-bit parity with the host runtime" >&2
./scripts/firmware.sh --check
echo "== stream firmware: a real labelled series through the window scorer on six Cortex-M families and RISC-V rv32imac under QEMU, every window bit for bit against export score" >&2
# Every MCU family: M0 (no FPU), M3 (soft float), M4F, M7, M33, M55, and RISC-V rv32imac (soft float).
TARGETS=m0,m3,m4f,m7,m33,m55,rv32 ./scripts/stream-firmware.sh --check
echo "== C firmware: the C API under QEMU, bit-for-bit parity with the same C code on the host" >&2
./scripts/c-firmware.sh --check

echo "== fuzz: the runtime's loader and entry points on hostile bytes (${FUZZ_SECONDS:-60} s)" >&2
./scripts/fuzz.sh "${FUZZ_SECONDS:-60}"
echo "== fuzz replay: fuzzer-generated model files on the Cortex-M4F and RISC-V rv32imac under QEMU against the host" >&2
./scripts/fuzz-replay.sh

echo "== tests" >&2
cargo test --release --workspace
# The runtime without its default `reconstruction` feature (energy-only builds).
cargo test --release -p ddaebm-runtime --no-default-features
