//! Replays the model files embedded by build.rs (fuzzer-generated, from the
//! structure-aware target's corpus) through the runtime on a Cortex-M4F or
//! on RISC-V rv32imac (soft float) and prints the `cmp` lines of
//! `../common/replay.rs` over semihosting; the host prints the same lines
//! (`../host-check`, `replay` binary) and `scripts/fuzz-replay.sh` compares
//! them. Exits QEMU with status 0 (1 on a panic or a fault).

#![no_std]
#![no_main]

#[cfg(target_arch = "arm")]
use cortex_m::singleton;
#[cfg(target_arch = "arm")]
use cortex_m_rt::entry;
#[cfg(target_arch = "arm")]
use cortex_m_semihosting::hio;
#[cfg(target_arch = "riscv32")]
use riscv::singleton;
#[cfg(target_arch = "riscv32")]
use riscv_rt::entry;
#[cfg(target_arch = "riscv32")]
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

#[entry]
fn main() -> ! {
    let scratch: &'static mut [f32; replay::SCRATCH] =
        singleton!(: [f32; replay::SCRATCH] = [0.0; replay::SCRATCH]).unwrap();
    let Ok(mut out) = hio::hstdout() else { exit(false) };
    let ok = replay::replay_blob(BLOB, scratch, &mut out).is_ok();
    exit(ok)
}

/// `exit`, the panic and fault handlers (shared with the other examples).
#[path = "../../common/exit.rs"]
mod exit;
use exit::exit;
