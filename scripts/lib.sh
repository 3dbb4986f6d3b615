# Shell helpers shared by the scripts (source it; defines functions and MCU_FAMILIES only).

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
  qemu_boot "$elf" qemu-system-arm -machine "$machine" -- "$@"
}

# qemu_mcu ELF [QEMU ARGS...]: as qemu_m4f on the board of the family the
# last mcu_target call selected (its QEMU_CMD: qemu-system-arm on an MPS2 /
# MPS3 / micro:bit board, or qemu-system-riscv32 -machine virt).
qemu_mcu() {
  local elf=$1
  shift
  qemu_boot "$elf" "${QEMU_CMD[@]}" -- "$@"
}

# qemu_boot ELF QEMU-COMMAND... -- [QEMU ARGS...]: what the three above run:
# the QEMU command (binary and board options) with no display, semihosting
# on, ELF as the kernel, the extra arguments, no input, for at most
# QEMU_TIMEOUT seconds.
qemu_boot() {
  local elf=$1 cmd=()
  shift
  while [ "$#" -gt 0 ] && [ "$1" != -- ]; do cmd+=("$1"); shift; done
  [ "$#" -eq 0 ] || shift
  timeout "${QEMU_TIMEOUT:-60}" "${cmd[@]}" -nographic \
    -semihosting-config enable=on,target=native -kernel "$elf" "$@" </dev/null
}

# mcu_target NAME: sets RUST_TARGET, TARGET_CPU, MACHINE, MEMORY (a file in
# firmware-examples/common), MCU_RUSTFLAGS (the start-up crate's link script
# and, on Arm, the target CPU; firmware that logs with defmt adds
# -C link-arg=-Tdefmt.x) and QEMU_CMD (an array: the QEMU binary and board
# options, for qemu_mcu) for one of the MCU families the firmware examples
# are built for: m0 m3 m4f m7 m33 m55 (Cortex-M, cortex-m-rt) and rv32
# (RISC-V rv32imac, soft float, riscv-rt, QEMU virt with no firmware: the
# ELF is booted at 0x8000_0000). Returns 1 for another name.
# (rustc has no thumbv8.1m target: the M55 is thumbv8m.main-none-eabihf with
# -C target-cpu=cortex-m55, which enables Helium.)
MCU_FAMILIES="m0 m3 m4f m7 m33 m55 rv32"
mcu_target() {
  MEMORY=memory.x
  case "$1" in
    m0) RUST_TARGET=thumbv6m-none-eabi; TARGET_CPU=cortex-m0; MACHINE=microbit; MEMORY=memory-microbit.x ;;
    m3) RUST_TARGET=thumbv7m-none-eabi; TARGET_CPU=cortex-m3; MACHINE=mps2-an385 ;;
    m4f) RUST_TARGET=thumbv7em-none-eabihf; TARGET_CPU=cortex-m4; MACHINE=mps2-an386 ;;
    m7) RUST_TARGET=thumbv7em-none-eabihf; TARGET_CPU=cortex-m7; MACHINE=mps2-an500 ;;
    m33) RUST_TARGET=thumbv8m.main-none-eabihf; TARGET_CPU=cortex-m33; MACHINE=mps2-an505; MEMORY=memory-an505.x ;;
    m55) RUST_TARGET=thumbv8m.main-none-eabihf; TARGET_CPU=cortex-m55; MACHINE=mps3-an547; MEMORY=memory-an547.x ;;
    rv32)
      RUST_TARGET=riscv32imac-unknown-none-elf; TARGET_CPU=generic-rv32; MACHINE=virt; MEMORY=memory-riscv-virt.x
      # riscv-rt's link.x does not include memory.x itself.
      MCU_RUSTFLAGS="-C link-arg=-Tmemory.x -C link-arg=-Tlink.x"
      QEMU_CMD=(qemu-system-riscv32 -machine virt -bios none)
      return 0 ;;
    *) return 1 ;;
  esac
  MCU_RUSTFLAGS="-C link-arg=-Tlink.x -C link-arg=--nmagic -C target-cpu=$TARGET_CPU"
  QEMU_CMD=(qemu-system-arm -machine "$MACHINE")
}

# ensure_target TRIPLE: adds the Rust target TRIPLE with rustup unless it
# is installed already (every script that cross-compiles calls this).
ensure_target() {
  rustup target list --installed | grep -qx "$1" || rustup target add "$1"
}

# ensure_qemu: installs the QEMU of the last mcu_target (QEMU_CMD's binary)
# with apt unless it is on PATH: qemu-system-arm, or qemu-system-riscv32
# (Debian's qemu-system-misc).
ensure_qemu() {
  local bin=${QEMU_CMD[0]} pkg
  command -v "$bin" >/dev/null && return 0
  case "$bin" in
    qemu-system-riscv32) pkg=qemu-system-misc ;;
    *) pkg=$bin ;;
  esac
  echo "== installing $pkg ($bin)" >&2
  apt_install "$pkg"
}

# apt_install PKG...: installs Debian packages (sudo unless root), then
# makes sure /dev/null is still the null device.
apt_install() {
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo=sudo
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
  ensure_dev_null
}

# ensure_dev_null: restores /dev/null when it is not a character device.
# On this project's container machines a package install has left a regular
# file there; every later `2>/dev/null` then writes into it, and cargo's
# rustc probe (which reads /dev/null as its input) fails on what it reads.
ensure_dev_null() {
  [ -c /dev/null ] && return 0
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo=sudo
  echo "note: /dev/null is not the null device; restoring it" >&2
  $sudo rm -f /dev/null && $sudo mknod -m 666 /dev/null c 1 3
}

# build_export ROOT: builds the host `export` binary (release) into
# HOST_TARGET_DIR (default ROOT/target; not CARGO_TARGET_DIR, which the
# scripts use for firmware) and sets EXPORT_BIN to it.
build_export() {
  local dir=${HOST_TARGET_DIR:-$1/target}
  (cd "$1" && CARGO_TARGET_DIR=$dir cargo build --release --locked --quiet -p ddaebm-export --bin export)
  EXPORT_BIN=$dir/release/export
}

# marker_counts ELF LOG QEMU-RUN...: runs a `measure` build ELF with
# QEMU-RUN (a command that boots its first argument and passes the rest to
# QEMU: `qemu_mcu` after mcu_target, or `qemu_arm MACHINE`) and
# `-d exec,nochain -singlestep` (one translation block = one guest
# instruction, one "Trace" line each, streamed through a FIFO: no trace file
# on disk), and prints, space-separated, the instructions executed in each
# region from the first instruction of `ddaebm_marker_begin` to that of the
# following `ddaebm_marker_end` (firmware-examples/common/markers.rs).
# The defmt log, decoded, goes to LOG. Returns QEMU's status (1 when the
# markers are missing).
marker_counts() {
  local elf=$1 log=$2 nmcmd b e dir awk_pid st
  shift 2
  if command -v llvm-nm >/dev/null; then nmcmd=llvm-nm; else nmcmd=nm; fi
  b=$("$nmcmd" "$elf" | awk '$3 == "ddaebm_marker_begin" { print $1 }')
  e=$("$nmcmd" "$elf" | awk '$3 == "ddaebm_marker_end" { print $1 }')
  [ -n "$b" ] && [ -n "$e" ] || { echo "marker symbols not found in $elf" >&2; return 1; }
  # Thumb symbols have bit 0 set; the traced PC does not (RISC-V functions
  # are 2-byte aligned: no change).
  b=$(printf '%08x' $((0x$b & ~1))); e=$(printf '%08x' $((0x$e & ~1)))
  dir=$(mktemp -d)
  mkfifo "$dir/trace"
  # "Trace 0: HOSTPTR [CS_BASE/PC/FLAGS/CFLAGS] SYMBOL": the guest PC is the
  # second field in brackets (8 hex digits on both 32-bit guests).
  awk -v b="$b" -v e="$e" '
    /^Trace/ {
      split($4, f, "/"); pc = f[2]
      if (inside) {
        if (pc == e) { counts[nr++] = n; inside = 0 } else n++
      } else if (pc == b) { inside = 1; n = 1 }
    }
    END { for (i = 0; i < nr; i++) printf "%d ", counts[i]; print "" }' <"$dir/trace" >"$dir/counts" &
  awk_pid=$!
  "$@" "$elf" -d exec,nochain -singlestep -D "$dir/trace" | defmt-print -e "$elf" >"$log" 2>&1
  st=${PIPESTATUS[0]}
  wait "$awk_pid"
  cat "$dir/counts"
  rm -rf "$dir"
  return "$st"
}

# compare_cmp FIRMWARE HOST: compares the `cmp ` lines of two outputs line by
# line; prints a MISMATCH line per difference on stderr and "PASSED FAILED"
# on stdout (different line counts, or none, count as one more failure).
compare_cmp() {
  local a b passed=0 failed=0 x y na nh
  a=$(mktemp); b=$(mktemp)
  grep '^cmp ' "$1" >"$a" || true
  grep '^cmp ' "$2" >"$b" || true
  while IFS= read -r x && IFS= read -r y <&3; do
    if [ "$x" = "$y" ]; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "MISMATCH: firmware '$x' host '$y'" >&2; fi
  done <"$a" 3<"$b"
  na=$(wc -l <"$a"); nh=$(wc -l <"$b")
  if [ "$na" -ne "$nh" ] || [ "$na" -eq 0 ]; then
    echo "line counts differ or empty: firmware $na, host $nh" >&2
    failed=$((failed + 1))
  fi
  rm -f "$a" "$b"
  echo "$passed $failed"
}
