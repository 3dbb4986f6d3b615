//! What the defmt examples (anomaly, stream) take from each architecture's
//! start-up crates, one copy for both (`#[path]`-included as `mod rt`):
//! `#[entry]`, `singleton!` and the global defmt logger (semihosting
//! `SYS_WRITE` to stdout on Cortex-M, `defmt_riscv.rs` on RISC-V).

#[cfg(target_arch = "arm")]
pub use cortex_m::singleton;
#[cfg(target_arch = "arm")]
pub use cortex_m_rt::entry;
#[cfg(target_arch = "riscv32")]
pub use riscv::singleton;
#[cfg(target_arch = "riscv32")]
pub use riscv_rt::entry;

// The global defmt logger: semihosting SYS_WRITE to stdout.
#[cfg(target_arch = "arm")]
use defmt_semihosting as _;

/// The same logger on RISC-V.
#[cfg(target_arch = "riscv32")]
#[path = "defmt_riscv.rs"]
mod defmt_riscv;
