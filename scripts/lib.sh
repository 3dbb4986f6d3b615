# Shell helpers shared by the scripts (source it; defines functions only).

# qemu_m4f ELF [QEMU ARGS...]: boots ELF on QEMU's mps2-an386 (Cortex-M4F)
# with semihosting, no input, for at most QEMU_TIMEOUT seconds (default 60);
# extra arguments go to QEMU (e.g. -d exec,nochain -singlestep -D FILE).
# Stdout is the firmware's output; the status is QEMU's (the firmware's exit
# status through semihosting; 124 on timeout).
qemu_m4f() {
  qemu_arm mps2-an386 "$@"
}

# qemu_arm MACHINE ELF [QEMU ARGS...]: as qemu_m4f on another QEMU Arm board
# (mps2-an385: Cortex-M3, mps2-an500: M7, mps2-an505: M33, mps3-an547: M55,
# microbit: M0).
qemu_arm() {
  local machine=$1 elf=$2
  shift 2
  timeout "${QEMU_TIMEOUT:-60}" qemu-system-arm -machine "$machine" -nographic \
    -semihosting-config enable=on,target=native -kernel "$elf" "$@" </dev/null
}

# mcu_target NAME: sets RUST_TARGET, TARGET_CPU, MACHINE and MEMORY (a file in
# firmware-examples/common) for one of the MCU families the firmware
# examples are built for: m0 m3 m4f m7 m33 m55. Returns 1 for another name.
# (rustc has no thumbv8.1m target: the M55 is thumbv8m.main-none-eabihf with
# -C target-cpu=cortex-m55, which enables Helium.)
mcu_target() {
  MEMORY=memory.x
  case "$1" in
    m0) RUST_TARGET=thumbv6m-none-eabi; TARGET_CPU=cortex-m0; MACHINE=microbit; MEMORY=memory-microbit.x ;;
    m3) RUST_TARGET=thumbv7m-none-eabi; TARGET_CPU=cortex-m3; MACHINE=mps2-an385 ;;
    m4f) RUST_TARGET=thumbv7em-none-eabihf; TARGET_CPU=cortex-m4; MACHINE=mps2-an386 ;;
    m7) RUST_TARGET=thumbv7em-none-eabihf; TARGET_CPU=cortex-m7; MACHINE=mps2-an500 ;;
    m33) RUST_TARGET=thumbv8m.main-none-eabihf; TARGET_CPU=cortex-m33; MACHINE=mps2-an505; MEMORY=memory-an505.x ;;
    m55) RUST_TARGET=thumbv8m.main-none-eabihf; TARGET_CPU=cortex-m55; MACHINE=mps3-an547; MEMORY=memory-an547.x ;;
    *) return 1 ;;
  esac
}

# ensure_target TRIPLE: adds the Rust target TRIPLE with rustup unless it
# is installed already (every script that cross-compiles calls this).
ensure_target() {
  rustup target list --installed | grep -qx "$1" || rustup target add "$1"
}
