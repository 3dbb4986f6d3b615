//! How the firmware examples end under QEMU: [`exit`] through semihosting,
//! and the panic and fault handlers (Cortex-M HardFault, RISC-V exceptions),
//! which report on semihosting *stderr* (stdout may carry a binary defmt
//! stream) and exit with a non-zero status. Shared by the examples
//! (`#[path]`-included as `mod exit`), on Cortex-M (cortex-m-rt,
//! cortex-m-semihosting) and RISC-V (riscv-rt, riscv-semihosting).

use core::fmt::Write as _;

#[cfg(target_arch = "arm")]
use cortex_m_semihosting::{debug, hio};
#[cfg(target_arch = "riscv32")]
use riscv_semihosting::{debug, hio};

/// Ends the QEMU run: `EXIT_SUCCESS` → status 0, `EXIT_FAILURE` → status 1.
/// On a real board without a debugger this would instead park the core.
pub fn exit(ok: bool) -> ! {
    debug::exit(if ok { debug::EXIT_SUCCESS } else { debug::EXIT_FAILURE });
    loop {
        #[cfg(target_arch = "arm")]
        cortex_m::asm::bkpt();
        #[cfg(target_arch = "riscv32")]
        riscv::asm::wfi();
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    #[cfg(target_arch = "arm")]
    cortex_m::interrupt::disable();
    #[cfg(target_arch = "riscv32")]
    riscv::interrupt::disable();
    if let Ok(mut err) = hio::hstderr() {
        let _ = writeln!(err, "firmware panic: {info}");
    }
    exit(false)
}

#[cfg(target_arch = "arm")]
#[cortex_m_rt::exception]
unsafe fn HardFault(frame: &cortex_m_rt::ExceptionFrame) -> ! {
    if let Ok(mut err) = hio::hstderr() {
        let _ = writeln!(err, "firmware HardFault: {frame:?}");
    }
    exit(false)
}

/// Handlers for the exceptions a faulty firmware raises (riscv-rt calls the
/// function of that name; its default, `ExceptionHandler`, spins until
/// QEMU's timeout and cannot be replaced in a fat-LTO build, where its weak
/// assembly definition and ours would meet in one module): each reports its
/// name, the faulting PC (`mepc`) and `mtval`, and exits.
#[cfg(target_arch = "riscv32")]
macro_rules! riscv_fault_handlers {
    ($($name:ident),*) => {$(
        #[no_mangle]
        extern "C" fn $name(frame: &riscv_rt::TrapFrame) {
            if let Ok(mut err) = hio::hstderr() {
                let _ = writeln!(
                    err,
                    "firmware exception {}: mepc {:#010x}, mtval {:#x}; {frame:?}",
                    stringify!($name),
                    riscv::register::mepc::read(),
                    riscv::register::mtval::read()
                );
            }
            exit(false)
        }
    )*};
}
#[cfg(target_arch = "riscv32")]
riscv_fault_handlers!(
    InstructionMisaligned,
    InstructionFault,
    IllegalInstruction,
    LoadMisaligned,
    LoadFault,
    StoreMisaligned,
    StoreFault
);
