//! How the Cortex-M firmware examples end under QEMU: [`exit`] through
//! semihosting, and the panic and HardFault handlers, which report on
//! semihosting *stderr* (stdout may carry a binary defmt stream) and exit
//! with a non-zero status. Shared by the examples (`#[path]`-included as
//! `mod exit`).

use core::fmt::Write as _;

use cortex_m_rt::{exception, ExceptionFrame};
use cortex_m_semihosting::{debug, hio};

/// Ends the QEMU run: `EXIT_SUCCESS` → status 0, `EXIT_FAILURE` → status 1.
/// On a real board without a debugger this would instead park the core.
pub fn exit(ok: bool) -> ! {
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
