//! Replays the model files embedded by build.rs (fuzzer-generated, from the
//! structure-aware target's corpus) through the runtime on a Cortex-M4F and
//! prints the `cmp` lines of `../common/replay.rs` over semihosting; the
//! host prints the same lines (`../host-check`, `replay` binary) and
//! `scripts/fuzz-replay.sh` compares them. Exits QEMU with status 0 (1 on a
//! panic or HardFault).

#![no_std]
#![no_main]


use cortex_m_rt::entry;
use cortex_m_semihosting::hio;

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
        cortex_m::singleton!(: [f32; replay::SCRATCH] = [0.0; replay::SCRATCH]).unwrap();
    let Ok(mut out) = hio::hstdout() else { exit(false) };
    let ok = replay::replay_blob(BLOB, scratch, &mut out).is_ok();
    exit(ok)
}

/// `exit`, the panic and HardFault handlers (shared with the other examples).
#[path = "../../common/exit.rs"]
mod exit;
use exit::exit;
