//! The energy's Gaussian base measure (files that carry `base.*` tensors,
//! format version 2; docs/model-format.md).
//!
//! For such files
//!
//! ```text
//! f(x, t) = r / (1 + |r| / B) + base_t(x),   r = the energy network's output
//! base_t(x) = −½ Σ_k (v_k · x)² · inv_var[t][k]
//! ```
//!
//! with x the normalised reading, v_k the rows of `base.basis` `[D, D]`,
//! `base.inv_var` `[T, D]` (all ≥ 0) and B = `base.bound` (> 0). The
//! network's part stays within (−B, B), so exp f is integrable and f falls
//! quadratically along every ray far from the data: no reading far outside
//! the training range scores as normal.
//!
//! Arithmetic order (part of the bit-identity contract host ↔ MCU): for
//! each k in order, `p = Σ_i v_k[i] · x[i]` summed over i in order from
//! 0.0, then `q += (p · p) · inv_var[t][k]` from 0.0; `base = −0.5 · q`;
//! then `f = r / (1 + |r| / B) + base`, each an f32 operation (no fused
//! multiply-add).

use crate::kernels::f32_le;

/// A validated base measure borrowed from the file.
#[derive(Clone, Copy)]
pub(crate) struct Base<'a> {
    /// F32 `[D, D]`, row k = v_k.
    pub(crate) basis: &'a [u8],
    /// F32 `[T, D]`, finite and ≥ 0.
    pub(crate) inv_var: &'a [u8],
    /// B, finite and > 0.
    pub(crate) bound: f32,
    /// D.
    pub(crate) dim: usize,
}

impl Base<'_> {
    /// base_t(x) for the normalised `x` (its first D values). A `t` out of
    /// range gives 0 (callers check `t` first).
    pub(crate) fn log_density(&self, x: &[f32], t: usize) -> f32 {
        let row_bytes = self.dim.saturating_mul(4).max(1);
        let Some(inv_var) = self.inv_var.chunks_exact(row_bytes).nth(t) else { return 0.0 };
        let mut q = 0.0f32;
        for (v, w) in self.basis.chunks_exact(row_bytes).zip(inv_var.chunks_exact(4)) {
            let mut p = 0.0f32;
            for (vi, &xi) in v.chunks_exact(4).zip(x) {
                p += f32_le(vi) * xi;
            }
            q += (p * p) * f32_le(w);
        }
        -0.5 * q
    }

    /// f = r / (1 + |r| / B) + base.
    pub(crate) fn combine(&self, r: f32, base: f32) -> f32 {
        r / (1.0 + r.abs() / self.bound) + base
    }
}
