//! The defmt global logger of the RISC-V builds: every defmt frame goes to
//! the host's stdout through semihosting (`SYS_WRITE`), as
//! `defmt-semihosting` (Cortex-M only) does on the Arm builds, so
//! `defmt-print -e ELF` decodes the output of both. Shared by the defmt
//! examples (`#[path]`-included as `mod defmt_riscv` on `riscv32`).

use core::sync::atomic::{AtomicBool, Ordering};

use riscv_semihosting::hio::{self, HostStream};

#[defmt::global_logger]
struct Logger;

/// Whether a frame is being written (defmt frames must not nest).
static TAKEN: AtomicBool = AtomicBool::new(false);
/// Whether machine interrupts were enabled before `acquire` masked them.
static INTERRUPTS_WERE_ON: AtomicBool = AtomicBool::new(false);
/// The frame encoder and the stdout handle (opened on the first write).
/// Only touched between `acquire` and `release`, with interrupts masked.
static mut ENCODER: defmt::Encoder = defmt::Encoder::new();
static mut STDOUT: Option<HostStream> = None;

// SAFETY: `acquire` masks interrupts and refuses to nest, so one frame is
// written at a time and the `static mut`s have one user (one hart).
unsafe impl defmt::Logger for Logger {
    fn acquire() {
        let was_on = riscv::register::mstatus::read().mie();
        riscv::interrupt::disable();
        if TAKEN.load(Ordering::Relaxed) {
            panic!("defmt logger taken reentrantly")
        }
        TAKEN.store(true, Ordering::Relaxed);
        INTERRUPTS_WERE_ON.store(was_on, Ordering::Relaxed);
        // SAFETY: interrupts are masked and the logger was free: the only user.
        #[allow(static_mut_refs)]
        unsafe {
            ENCODER.start_frame(write_stdout)
        }
    }

    unsafe fn flush() {
        // Semihosting writes block until the host has the bytes: nothing is buffered.
    }

    unsafe fn release() {
        // SAFETY: between acquire and release (the caller's contract): the only user.
        #[allow(static_mut_refs)]
        unsafe {
            ENCODER.end_frame(write_stdout)
        };
        TAKEN.store(false, Ordering::Relaxed);
        if INTERRUPTS_WERE_ON.load(Ordering::Relaxed) {
            // SAFETY: restores the state `acquire` found; the frame is done.
            unsafe { riscv::interrupt::enable() }
        }
    }

    unsafe fn write(bytes: &[u8]) {
        // SAFETY: between acquire and release (the caller's contract): the only user.
        #[allow(static_mut_refs)]
        unsafe {
            ENCODER.write(bytes, write_stdout)
        }
    }
}

fn write_stdout(bytes: &[u8]) {
    // SAFETY: called only by the encoder, between acquire and release.
    #[allow(static_mut_refs)]
    let stdout = unsafe { &mut STDOUT };
    if stdout.is_none() {
        *stdout = hio::hstdout().ok();
    }
    if let Some(out) = stdout {
        let _ = out.write_all(bytes);
    }
}
