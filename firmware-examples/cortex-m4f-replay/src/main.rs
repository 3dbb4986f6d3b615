//! Replays the model files embedded by build.rs (fuzzer-generated, from the
//! structure-aware target's corpus) through the runtime on a Cortex-M4F and
//! prints the `cmp` lines of `../common/replay.rs` over semihosting; the
//! host prints the same lines (`../host-check`, `replay` binary) and
//! `scripts/fuzz-replay.sh` compares them. Exits QEMU with status 0 (1 on a
//! panic or HardFault).

#![no_std]
#![no_main]

use core::fmt::Write as _;

use cortex_m_rt::{entry, exception, ExceptionFrame};
use cortex_m_semihosting::{debug, hio};

#[path = "../../common/replay.rs"]
mod replay;

/// The files: `[len: u32 LE][4 zero bytes][file][padding to 8]` each, the
/// blob 8-byte aligned.
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
    let mut at = 0usize;
    let mut index = 0usize;
    while let Some(len) = BLOB.get(at..at + 4).and_then(|b| b.try_into().ok()).map(u32::from_le_bytes) {
        let start = at + 8;
        let Some(bytes) = BLOB.get(start..start + len as usize) else { exit(false) };
        if replay::replay(index, bytes, scratch, &mut out).is_err() {
            exit(false);
        }
        index += 1;
        at = (start + len as usize + 7) & !7;
    }
    let _ = writeln!(out, "replayed {index} model files");
    exit(true)
}

fn exit(ok: bool) -> ! {
    debug::exit(if ok { debug::EXIT_SUCCESS } else { debug::EXIT_FAILURE });
    loop {
        cortex_m::asm::bkpt();
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    cortex_m::interrupt::disable();
    if let Ok(mut err) = hio::hstderr() {
        let _ = writeln!(err, "firmware panic: {info}");
    }
    exit(false)
}

#[exception]
unsafe fn HardFault(frame: &ExceptionFrame) -> ! {
    if let Ok(mut err) = hio::hstderr() {
        let _ = writeln!(err, "firmware HardFault: {frame:?}");
    }
    exit(false)
}
