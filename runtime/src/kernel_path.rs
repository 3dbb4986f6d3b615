//! Choosing the host's kernels (x86-64 only), for differential tests and
//! benchmarks.
//!
//! Every kernel computes the same bits (the fixed summation order of the
//! `kernels` module, docs/model-format.md "Arithmetic"); the runtime picks
//! the widest the CPU supports, detected once at run time. Forcing a
//! narrower one lets a test check that promise on the same inputs: the
//! portable kernels are the reference (for int8, the plain integer dot
//! product; for floats, `fma` through `libm::fmaf`), SSE2 is the x86-64
//! baseline (int8 only: the float kernels need a fused multiply–add), AVX
//! with F16C and FMA3 the float kernels, AVX2 the int8 ones, AVX-512 (with
//! VNNI) the batched float and int8 ones.
//!
//! The choice is global (one relaxed atomic) and applies to every model
//! from the next call on. Results do not depend on it, so concurrent calls
//! never see a wrong answer, only a different speed.
//!
//! ```
//! use ddaebm_runtime::kernel_path::{force_kernel_path, kernel_path, KernelPath};
//!
//! assert!(force_kernel_path(Some(KernelPath::Portable)));
//! assert_eq!(kernel_path(), KernelPath::Portable);
//! force_kernel_path(None); // back to the widest the CPU supports
//! assert!(kernel_path() >= KernelPath::Sse2);
//! ```

use crate::kernels::x86;

/// A set of host kernels, narrowest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KernelPath {
    /// The portable Rust kernels: the reference.
    Portable,
    /// SSE2 (every x86-64 CPU) for int8; the portable float kernels.
    Sse2,
    /// AVX, F16C and FMA3 for the float kernels, SSE2 for int8.
    Avx,
    /// AVX2 for the int8 kernels too.
    Avx2,
    /// AVX-512 (F, BW, VL) with VNNI for the batched float and int8
    /// kernels (x86-64 runtimes built with Rust 1.89 or later).
    Avx512,
}

impl KernelPath {
    /// Every path, narrowest first.
    pub const ALL: [KernelPath; 5] =
        [KernelPath::Portable, KernelPath::Sse2, KernelPath::Avx, KernelPath::Avx2, KernelPath::Avx512];

    fn level(self) -> u8 {
        match self {
            KernelPath::Portable => 0,
            KernelPath::Sse2 => 1,
            KernelPath::Avx => 2,
            KernelPath::Avx2 => 3,
            KernelPath::Avx512 => 4,
        }
    }

    fn of_level(level: u8) -> KernelPath {
        match level {
            0 => KernelPath::Portable,
            1 => KernelPath::Sse2,
            2 => KernelPath::Avx,
            3 => KernelPath::Avx2,
            _ => KernelPath::Avx512,
        }
    }
}

/// Uses at most `path`'s kernels from now on (`None`: the widest the CPU
/// supports, the default). Returns `false`, changing nothing, when the CPU
/// does not support `path`.
pub fn force_kernel_path(path: Option<KernelPath>) -> bool {
    match path {
        None => {
            x86::set_cap(u8::MAX);
            true
        }
        Some(p) if p.level() <= x86::detected_level() => {
            x86::set_cap(p.level());
            true
        }
        Some(_) => false,
    }
}

/// The kernels in use now.
pub fn kernel_path() -> KernelPath {
    KernelPath::of_level(x86::level())
}

/// The widest kernels the CPU supports.
pub fn widest_kernel_path() -> KernelPath {
    KernelPath::of_level(x86::detected_level())
}
