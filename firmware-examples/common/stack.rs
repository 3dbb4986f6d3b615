//! Stack high-water mark: paint the free stack with a pattern at start-up,
//! then find the deepest word that was overwritten. Shared by the firmware
//! examples (`#[path]`-included as `mod stack`), on Cortex-M (cortex-m-rt)
//! and RISC-V (riscv-rt).

const PAINT: u32 = 0x5AFE_C0DE;
/// Bytes below the stack top that are painted: far more than this example
/// uses, far less than the 4 MiB of RAM.
const WINDOW: usize = 32 * 1024;

extern "C" {
    /// cortex-m-rt / riscv-rt: the initial stack pointer (top of the stack).
    static _stack_start: u32;
    /// The end of the statics (`.bss`, and `.uninit` on cortex-m-rt): the
    /// start of the free RAM the stack grows down into. cortex-m-rt calls it
    /// `__sheap`, riscv-rt `_sheap`.
    #[cfg_attr(target_arch = "riscv32", link_name = "_sheap")]
    static __sheap: u32;
}

/// The current stack pointer.
fn sp() -> usize {
    #[cfg(target_arch = "arm")]
    let sp = cortex_m::register::msp::read() as usize;
    #[cfg(target_arch = "riscv32")]
    let sp = {
        let sp: usize;
        // SAFETY: copies the stack pointer to a register; reads no memory, writes nothing else.
        unsafe { core::arch::asm!("mv {}, sp", out(reg) sp, options(nomem, nostack, preserves_flags)) };
        sp
    };
    sp
}

fn top() -> usize {
    core::ptr::addr_of!(_stack_start) as usize // taking the address is safe
}

/// Lowest painted address: `WINDOW` below the top, but not below the end
/// of the statics (a 16 KiB part has less free RAM than `WINDOW`).
fn bottom() -> usize {
    let end_of_statics = core::ptr::addr_of!(__sheap) as usize; // taking the address is safe
    (top().saturating_sub(WINDOW).max(end_of_statics) + 3) & !3
}

pub fn paint() {
    let sp = sp();
    let end = (sp - 64) & !3; // leave this function's frame alone
    let mut a = bottom();
    while a < end {
        // SAFETY: unused stack below the current frame; no interrupts run.
        unsafe { (a as *mut u32).write_volatile(PAINT) };
        a += 4;
    }
}

/// Bytes of stack used so far (deepest overwritten word to the top).
pub fn used() -> usize {
    let mut a = bottom();
    while a < top() {
        // SAFETY: reads the stack region painted by `paint`.
        if unsafe { (a as *const u32).read_volatile() } != PAINT {
            break;
        }
        a += 4;
    }
    top() - a
}
