# Shell helpers shared by the scripts (source it; defines functions only).

# qemu_m4f ELF [QEMU ARGS...]: boots ELF on QEMU's mps2-an386 (Cortex-M4F)
# with semihosting, no input, for at most QEMU_TIMEOUT seconds (default 60);
# extra arguments go to QEMU (e.g. -d exec,nochain -singlestep -D FILE).
# Stdout is the firmware's output; the status is QEMU's (the firmware's exit
# status through semihosting; 124 on timeout).
qemu_m4f() {
  local elf=$1
  shift
  timeout "${QEMU_TIMEOUT:-60}" qemu-system-arm -machine mps2-an386 -nographic \
    -semihosting-config enable=on,target=native -kernel "$elf" "$@" </dev/null
}

# ensure_target TRIPLE: adds the Rust target TRIPLE with rustup unless it
# is installed already (every script that cross-compiles calls this).
ensure_target() {
  rustup target list --installed | grep -qx "$1" || rustup target add "$1"
}
