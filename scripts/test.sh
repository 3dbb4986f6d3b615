#!/usr/bin/env bash
# Runs every test: installs libtorch (cached outside the clone), the
# Cortex-M4F target, QEMU, defmt-print and cargo-fuzz, checks that the runtime builds for
# thumbv7em-none-eabihf with no allocator, runs the firmware under QEMU
# against the host runtime, fuzzes the runtime for
# FUZZ_SECONDS (default 60), and runs the workspace's tests.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/setup-libtorch.sh
rustup target list --installed | grep -qx thumbv7em-none-eabihf || rustup target add thumbv7em-none-eabihf

echo "== runtime: no_std build for thumbv7em-none-eabihf (Cortex-M4F)" >&2
cargo build --release -p ddaebm-runtime --target thumbv7em-none-eabihf
cargo build --release -p ddaebm-runtime --target thumbv7em-none-eabihf --features defmt
if grep -rnE '^\s*(extern crate alloc|use alloc::)' runtime/src; then
  echo "runtime must not use alloc" >&2
  exit 1
fi

echo "== firmware: Cortex-M4F under QEMU, bit-for-bit parity with the host runtime" >&2
./scripts/firmware.sh --check

echo "== fuzz: the runtime's loader and entry points on hostile bytes (${FUZZ_SECONDS:-60} s)" >&2
./scripts/fuzz.sh "${FUZZ_SECONDS:-60}"

echo "== tests" >&2
cargo test --release --workspace
