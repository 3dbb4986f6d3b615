//! Replays the model files embedded by build.rs (fuzzer-generated, from the
//! structure-aware target's corpus) through the runtime on RISC-V rv32imac
//! (QEMU `virt`, soft float) and prints the `cmp` lines of
//! `../common/replay.rs` over semihosting; `scripts/fuzz-replay.sh`
//! compares them with the host's. Exits QEMU with status 0 (1 on a panic or
//! a fault).

#![no_std]
#![no_main]

use riscv_rt::entry;
use riscv_semihosting::hio;

#[path = "../../common/replay.rs"]
mod replay;

/// The model files, as `../common/replay_files.rs` lays them out, 8-byte aligned.
static BLOB: &[u8] = {
    #[repr(C, align(8))]
    struct Aligned<T: ?Sized>(T);
    static ALIGNED: &Aligned<[u8]> = &Aligned(*include_bytes!(concat!(env!("OUT_DIR"), "/replay.bin")));
    &ALIGNED.0
};

/// The scratch buffer, in .bss.
static mut SCRATCH: [f32; replay::SCRATCH] = [0.0; replay::SCRATCH];

#[entry]
fn main() -> ! {
    // SAFETY: the only reference to SCRATCH, taken once, before any other code could; one hart.
    #[allow(static_mut_refs)]
    let scratch = unsafe { &mut SCRATCH };
    let Ok(mut out) = hio::hstdout() else { exit(false) };
    let ok = replay::replay_blob(BLOB, scratch, &mut out).is_ok();
    exit(ok)
}

/// `exit`, the panic and fault handlers (shared with the other examples).
#[path = "../../common/exit.rs"]
mod exit;
use exit::exit;
